//! What the system learns from a finished episode: its score and its lessons.
//!
//! Everything here is a pure, deterministic function of the episode and of figures about
//! comparable past episodes: no LLM, no network, no clock. It runs on the completion path,
//! so it must stay cheap (microseconds for a typical episode).

pub mod heuristics;
pub mod merge;
pub mod mining;
pub mod normalize;
mod recovery;
mod reflection;
mod reward;
pub mod stats;

pub use heuristics::{LearningConfig, heuristic_for, heuristics};
pub use mining::{Mined, Observation, mine};
pub use normalize::error_class;
pub use recovery::{FailedStep, failed_steps};
pub use reflection::reflect;
pub use reward::{Baseline, compute_reward};
pub use stats::wilson_lower_bound;

/// The distinct tools of `steps` in order, with consecutive repeats collapsed.
pub fn tool_sequence(steps: &[crate::model::ExecutionStep]) -> Vec<&str> {
    let mut seq: Vec<&str> = Vec::new();
    for step in steps {
        if seq.last() != Some(&step.tool.as_str()) {
            seq.push(step.tool.as_str());
        }
    }
    seq
}

/// Shortens `text` to at most `max` characters on a character boundary, adding `…` if cut.
pub fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    let first_line = text.lines().next().unwrap_or("");
    let cut_line = first_line.len() < text.len();
    if first_line.chars().count() <= max {
        return if cut_line {
            format!("{first_line}…")
        } else {
            first_line.to_string()
        };
    }
    let mut out: String = first_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
