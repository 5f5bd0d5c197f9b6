//! The reflection on a completed episode: specific, deterministic lessons drawn from its steps.
//!
//! A reflection names tools, errors and step numbers, so that an agent reading it later in a
//! context pack can act on it ("after `cargo build` failed with E0382, `edit_file` then
//! `cargo build` fixed it"), rather than generic advice.

use super::recovery::failed_steps;
use super::{Baseline, shorten, tool_sequence};
use crate::model::{ExecutionStep, Reflection, StepResult, TaskOutcome};

/// A run of the same tool this long (or longer) is called out as repetition.
const REPEAT_RUN: usize = 3;
/// A step taking at least this share of all tool time is called out as slow…
const SLOW_SHARE: f64 = 0.6;
/// …provided it took at least this long itself.
const SLOW_MIN_STEP_MS: u64 = 10_000;
/// Most lines per section, so reflections stay short.
const MAX_LINES: usize = 6;

/// Draws the lessons of an episode that ended with `outcome` after `steps`.
pub fn reflect(
    outcome: &TaskOutcome,
    steps: &[ExecutionStep],
    baseline: Option<&Baseline>,
) -> Reflection {
    let mut r = Reflection::default();
    tools_that_worked(steps, &mut r);
    errors_and_recoveries(steps, &mut r);
    repetitions(steps, &mut r);
    slow_steps(steps, &mut r);
    outcome_lessons(outcome, steps, baseline, &mut r);
    r.successes.truncate(MAX_LINES);
    r.improvements.truncate(MAX_LINES);
    r.insights.truncate(MAX_LINES);
    r
}

fn tools_that_worked(steps: &[ExecutionStep], r: &mut Reflection) {
    // (tool, successes, attempts) in order of first use.
    let mut tally: Vec<(&str, usize, usize)> = Vec::new();
    for s in steps {
        let i = match tally.iter().position(|(t, _, _)| *t == s.tool) {
            Some(i) => i,
            None => {
                tally.push((s.tool.as_str(), 0, 0));
                tally.len() - 1
            }
        };
        tally[i].2 += 1;
        if s.result.is_success() {
            tally[i].1 += 1;
        }
    }
    let mut worked: Vec<_> = tally.into_iter().filter(|(_, ok, _)| *ok > 0).collect();
    // Most-used first; ties keep first-use order (stable sort).
    worked.sort_by_key(|w| std::cmp::Reverse(w.1));
    for (tool, ok, attempts) in worked.into_iter().take(3) {
        if ok == attempts {
            r.successes
                .push(format!("`{tool}` worked every time ({ok}×)"));
        } else {
            r.successes
                .push(format!("`{tool}` worked {ok} of {attempts} times"));
        }
    }
}

fn errors_and_recoveries(steps: &[ExecutionStep], r: &mut Reflection) {
    for failed in failed_steps(steps) {
        let step = failed.step;
        let problem = match &step.result {
            StepResult::Error { message } => format!("failed ({})", shorten(message, 80)),
            _ => "timed out".to_string(),
        };
        match failed.recovery {
            Some(path) => {
                let tools = tool_sequence(path);
                let how = if tools.len() == 1 {
                    format!("retrying `{}` worked", tools[0])
                } else {
                    format!(
                        "{} fixed it",
                        tools
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    )
                };
                r.insights.push(format!(
                    "After `{}` {} at step {}, {how}",
                    step.tool, problem, step.seq
                ));
            }
            None => r.improvements.push(format!(
                "`{}` {} at step {} and never succeeded afterwards",
                step.tool, problem, step.seq
            )),
        }
    }
}

fn repetitions(steps: &[ExecutionStep], r: &mut Reflection) {
    let mut start = 0;
    for end in 1..=steps.len() {
        if end == steps.len() || steps[end].tool != steps[start].tool {
            let run = end - start;
            if run >= REPEAT_RUN {
                r.improvements.push(format!(
                    "`{}` ran {run} times in a row (steps {}–{}); narrow or batch those calls",
                    steps[start].tool,
                    steps[start].seq,
                    steps[end - 1].seq
                ));
            }
            start = end;
        }
    }
}

fn slow_steps(steps: &[ExecutionStep], r: &mut Reflection) {
    let total: u64 = steps.iter().map(|s| s.latency_ms).sum();
    for s in steps.iter().filter(|s| s.latency_ms >= SLOW_MIN_STEP_MS) {
        let share = s.latency_ms as f64 / total as f64;
        if share >= SLOW_SHARE {
            r.improvements.push(format!(
                "Step {} `{}` took {:.1} s, {:.0}% of all tool time",
                s.seq,
                s.tool,
                s.latency_ms as f64 / 1000.0,
                share * 100.0
            ));
        }
    }
}

fn outcome_lessons(
    outcome: &TaskOutcome,
    steps: &[ExecutionStep],
    baseline: Option<&Baseline>,
    r: &mut Reflection,
) {
    match outcome {
        TaskOutcome::Success { verdict, .. } => {
            let tools = tool_sequence(steps).join(" → ");
            let via = if tools.is_empty() {
                String::new()
            } else {
                format!(" ({tools})")
            };
            r.successes.insert(
                0,
                format!(
                    "Succeeded in {} steps{via}: {}",
                    steps.len(),
                    shorten(verdict, 120)
                ),
            );
        }
        TaskOutcome::PartialSuccess {
            verdict, failed, ..
        } => {
            r.successes
                .insert(0, format!("Partly succeeded: {}", shorten(verdict, 120)));
            if !failed.is_empty() {
                r.improvements.insert(
                    0,
                    format!("Left undone: {}", shorten(&failed.join(", "), 160)),
                );
            }
        }
        TaskOutcome::Failure { reason, details } => {
            let detail = details
                .as_deref()
                .map(|d| format!(" ({})", shorten(d, 100)))
                .unwrap_or_default();
            r.improvements
                .insert(0, format!("Failed: {}{detail}", shorten(reason, 120)));
        }
        TaskOutcome::Abstained { reason } => {
            r.insights
                .insert(0, format!("Abstained: {}", shorten(reason, 120)));
        }
    }
    if let Some(b) = baseline {
        let n = steps.len() as f64;
        if n <= b.median_steps * 0.75 {
            r.insights.push(format!(
                "Took {} steps, well under the median of {:.0} for comparable episodes",
                steps.len(),
                b.median_steps
            ));
        } else if n >= b.median_steps * 1.5 {
            r.improvements.push(format!(
                "Took {} steps against a median of {:.0} for comparable episodes",
                steps.len(),
                b.median_steps
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StepInput;
    use chrono::Utc;

    fn step(seq: u32, tool: &str, result: StepResult, latency: u64) -> ExecutionStep {
        StepInput::new(tool, "act", result)
            .with_latency_ms(latency)
            .into_step(seq, Utc::now())
    }

    fn ok() -> StepResult {
        StepResult::Success {
            output: "ok".into(),
        }
    }

    fn err(m: &str) -> StepResult {
        StepResult::Error { message: m.into() }
    }

    #[test]
    fn recovery_is_named_with_its_path() {
        let steps = vec![
            step(
                1,
                "cargo build",
                err("error[E0382]: borrow of moved value"),
                10,
            ),
            step(2, "edit_file", ok(), 10),
            step(3, "cargo build", ok(), 10),
        ];
        let outcome = TaskOutcome::Success {
            verdict: "fixed".into(),
            artifacts: vec![],
        };
        let r = reflect(&outcome, &steps, None);
        assert!(
            r.insights
                .iter()
                .any(|i| i.contains("After `cargo build` failed (error[E0382]")
                    && i.contains("`edit_file` → `cargo build` fixed it")),
            "{r:?}"
        );
        assert_eq!(
            r.successes[0],
            "Succeeded in 3 steps (cargo build → edit_file → cargo build): fixed"
        );
    }

    #[test]
    fn unrecovered_error_repeats_and_slow_steps_are_improvements() {
        let steps = vec![
            step(1, "grep", ok(), 10),
            step(2, "grep", ok(), 10),
            step(3, "grep", ok(), 10),
            step(4, "deploy", StepResult::Timeout, 15_000),
        ];
        let outcome = TaskOutcome::Failure {
            reason: "deploy never finished".into(),
            details: None,
        };
        let r = reflect(&outcome, &steps, None);
        assert!(r.improvements[0].starts_with("Failed: deploy never finished"));
        assert!(
            r.improvements
                .iter()
                .any(|i| i.contains("`deploy` timed out at step 4 and never succeeded"))
        );
        assert!(
            r.improvements
                .iter()
                .any(|i| i.contains("`grep` ran 3 times in a row (steps 1–3)"))
        );
        assert!(
            r.improvements
                .iter()
                .any(|i| i.starts_with("Step 4 `deploy` took 15.0 s"))
        );
    }

    #[test]
    fn deterministic() {
        let steps = vec![step(1, "a", err("x 1"), 1), step(2, "a", ok(), 1)];
        let outcome = TaskOutcome::Abstained { reason: "r".into() };
        assert_eq!(
            reflect(&outcome, &steps, None),
            reflect(&outcome, &steps, None)
        );
    }
}
