//! The reward of a completed episode: the outcome's value, scaled by how efficiently it was
//! reached compared with similar past episodes and by how many steps went right.

use crate::model::{EpisodeCost, ExecutionStep, RewardScore, TaskOutcome};

/// Fewest comparable episodes before efficiency is judged at all.
const MIN_COMPARABLE: usize = 3;

/// What is usual for comparable past episodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// How many episodes the medians come from.
    pub count: usize,
    /// Median number of steps.
    pub median_steps: f64,
    /// Median total step latency.
    pub median_latency_ms: f64,
}

impl Baseline {
    /// The medians of `costs`, or `None` with fewer than three episodes to compare with.
    pub fn from_costs(costs: &[EpisodeCost]) -> Option<Baseline> {
        if costs.len() < MIN_COMPARABLE {
            return None;
        }
        let steps: Vec<f64> = costs.iter().map(|c| f64::from(c.steps)).collect();
        let latency: Vec<f64> = costs.iter().map(|c| c.latency_ms as f64).collect();
        Some(Baseline {
            count: costs.len(),
            median_steps: median(steps),
            median_latency_ms: median(latency),
        })
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Scores an episode that ended with `outcome` after `steps`.
///
/// `total = base × (0.8 + 0.1·efficiency + 0.1·quality)`, where
/// - `base` is 1.0 for success, 0.25 for abstaining, 0 for failure, and for a partial success
///   0.5 — or `0.25 + 0.5 × done/(done + not done)` when the agent listed the parts;
/// - `efficiency` is 0.5 for a usual episode, towards 1 for fewer steps and less tool time
///   than the median of comparable episodes, towards 0 for more (0.5 without a baseline);
/// - `quality` is the share of steps that succeeded (1.0 with no steps).
///
/// So a failure always scores 0 and a success between 0.8 and 1.0.
pub fn compute_reward(
    outcome: &TaskOutcome,
    steps: &[ExecutionStep],
    baseline: Option<&Baseline>,
) -> RewardScore {
    let (base, base_text) = outcome_base(outcome);
    let step_count = steps.len();
    let latency_ms: u64 = steps.iter().map(|s| s.latency_ms).sum();

    let (efficiency, efficiency_text) = match baseline {
        Some(b) => {
            let mut log_ratios = vec![ratio_ln(b.median_steps, step_count as f64)];
            if b.median_latency_ms > 0.0 {
                log_ratios.push(ratio_ln(b.median_latency_ms, latency_ms as f64));
            }
            let mean = log_ratios.iter().sum::<f64>() / log_ratios.len() as f64;
            let e = 0.5 + 0.5 * mean.tanh();
            (
                e,
                format!(
                    "efficiency {e:.2} ({step_count} steps, {latency_ms} ms vs median {:.0} steps, {:.0} ms over {} comparable episodes)",
                    b.median_steps, b.median_latency_ms, b.count
                ),
            )
        }
        None => (
            0.5,
            format!(
                "efficiency 0.50 (fewer than {MIN_COMPARABLE} comparable episodes to judge against)"
            ),
        ),
    };

    let ok = steps.iter().filter(|s| s.result.is_success()).count();
    let (quality, quality_text) = if step_count == 0 {
        (1.0, "quality 1.00 (no steps logged)".to_string())
    } else {
        let q = ok as f64 / step_count as f64;
        (
            q,
            format!("quality {q:.2} ({ok}/{step_count} steps succeeded)"),
        )
    };

    let total = (base * (0.8 + 0.1 * efficiency + 0.1 * quality)).clamp(0.0, 1.0);
    let breakdown =
        format!("{base_text} × (0.8 + 0.1·{efficiency_text} + 0.1·{quality_text}) = {total:.3}");
    RewardScore {
        total,
        base,
        efficiency,
        quality,
        breakdown,
    }
}

/// `ln(usual / actual)`, bounded, treating zero as one to avoid infinities.
fn ratio_ln(usual: f64, actual: f64) -> f64 {
    (usual.max(1.0) / actual.max(1.0)).ln().clamp(-3.0, 3.0)
}

fn outcome_base(outcome: &TaskOutcome) -> (f64, String) {
    match outcome {
        TaskOutcome::Success { .. } => (1.0, "success (base 1.00)".into()),
        TaskOutcome::PartialSuccess {
            completed, failed, ..
        } => {
            let parts = completed.len() + failed.len();
            if parts == 0 {
                (0.5, "partial success (base 0.50)".into())
            } else {
                let b = 0.25 + 0.5 * completed.len() as f64 / parts as f64;
                (
                    b,
                    format!(
                        "partial success, {}/{parts} parts done (base {b:.2})",
                        completed.len()
                    ),
                )
            }
        }
        TaskOutcome::Abstained { .. } => (0.25, "abstained (base 0.25)".into()),
        TaskOutcome::Failure { .. } => (0.0, "failure (base 0.00)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StepInput, StepResult};
    use chrono::Utc;

    fn steps(n: usize, errors: usize, latency: u64) -> Vec<ExecutionStep> {
        (0..n)
            .map(|i| {
                let result = if i < errors {
                    StepResult::Error {
                        message: "boom".into(),
                    }
                } else {
                    StepResult::Success {
                        output: "ok".into(),
                    }
                };
                StepInput::new("tool", "act", result)
                    .with_latency_ms(latency)
                    .into_step(i as u32 + 1, Utc::now())
            })
            .collect()
    }

    fn success() -> TaskOutcome {
        TaskOutcome::Success {
            verdict: "done".into(),
            artifacts: vec![],
        }
    }

    #[test]
    fn failure_scores_zero_and_success_in_band() {
        let fail = TaskOutcome::Failure {
            reason: "no".into(),
            details: None,
        };
        assert_eq!(compute_reward(&fail, &steps(3, 0, 10), None).total, 0.0);
        let r = compute_reward(&success(), &steps(3, 0, 10), None);
        assert!((r.total - 0.95).abs() < 1e-9, "{}", r.breakdown);
        assert!(r.breakdown.contains("fewer than 3 comparable"));
    }

    #[test]
    fn efficient_episode_beats_wasteful_one() {
        let costs: Vec<EpisodeCost> = [10, 12, 8, 10, 11]
            .iter()
            .map(|&s| EpisodeCost {
                steps: s,
                latency_ms: u64::from(s) * 100,
            })
            .collect();
        let base = Baseline::from_costs(&costs).unwrap();
        assert_eq!(base.median_steps, 10.0);
        let lean = compute_reward(&success(), &steps(5, 0, 100), Some(&base));
        let usual = compute_reward(&success(), &steps(10, 0, 100), Some(&base));
        let slow = compute_reward(&success(), &steps(30, 0, 100), Some(&base));
        assert!(lean.total > usual.total && usual.total > slow.total);
        assert!((usual.efficiency - 0.5).abs() < 1e-9);
        assert!(
            lean.breakdown.contains("median 10 steps"),
            "{}",
            lean.breakdown
        );
    }

    #[test]
    fn partial_success_uses_listed_parts() {
        let partial = TaskOutcome::PartialSuccess {
            verdict: "some".into(),
            completed: vec!["a".into(), "b".into(), "c".into()],
            failed: vec!["d".into()],
        };
        let r = compute_reward(&partial, &[], None);
        assert!((r.base - 0.625).abs() < 1e-9);
        let abstained = TaskOutcome::Abstained { reason: "x".into() };
        assert_eq!(compute_reward(&abstained, &[], None).base, 0.25);
    }

    #[test]
    fn errors_lower_quality() {
        let r = compute_reward(&success(), &steps(4, 1, 10), None);
        assert_eq!(r.quality, 0.75);
        assert!(r.breakdown.contains("3/4 steps succeeded"));
    }
}
