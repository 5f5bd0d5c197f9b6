//! Failed steps and what fixed them: shared by reflection (lessons in words) and mining
//! (error-recovery patterns).

use crate::model::ExecutionStep;

/// A failed step (error or timeout) and, if the same tool later succeeded, the steps from just
/// after the failure up to and including that success.
#[derive(Debug, Clone, Copy)]
pub struct FailedStep<'a> {
    /// The step that failed.
    pub step: &'a ExecutionStep,
    /// The recovery path, ending with the tool's next success; `None` if it never succeeded.
    pub recovery: Option<&'a [ExecutionStep]>,
}

/// Every failure in `steps`, in order. Failures inside a recovery path are part of that
/// recovery, not failures of their own.
pub fn failed_steps(steps: &[ExecutionStep]) -> Vec<FailedStep<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        let step = &steps[i];
        if step.result.is_success() {
            i += 1;
            continue;
        }
        let rest = &steps[i + 1..];
        let recovery = rest
            .iter()
            .position(|s| s.tool == step.tool && s.result.is_success())
            .map(|end| &rest[..=end]);
        out.push(FailedStep { step, recovery });
        i += 1 + recovery.map_or(0, <[ExecutionStep]>::len);
    }
    out
}
