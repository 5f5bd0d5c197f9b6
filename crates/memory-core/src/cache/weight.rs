//! Estimated in-memory sizes of cached values, for the caches' byte budgets.
//!
//! Estimates, not measurements: the text a value carries plus a fixed allowance for its
//! fixed-size fields and allocations. They only need to rank values by size fairly.

use crate::model::{Episode, EpisodeSummary, ExecutionStep, Pattern};
use crate::storage::{TextMatch, VectorMatch};

const RECORD_OVERHEAD: u64 = 256;
const STEP_OVERHEAD: u64 = 160;

/// Estimated bytes of an episode with its steps.
pub(crate) fn episode(e: &Episode) -> u64 {
    let text = e.task_description.len()
        + e.tags.iter().map(String::len).sum::<usize>()
        + e.metadata.len() * 64;
    RECORD_OVERHEAD * 2 + text as u64 + e.steps.iter().map(step).sum::<u64>()
}

fn step(s: &ExecutionStep) -> u64 {
    STEP_OVERHEAD
        + (s.tool.len() + s.action.len() + s.result.text().len() + s.metadata.len() * 64) as u64
        + if s.parameters.is_null() { 0 } else { 128 }
}

/// Estimated bytes of an episode summary.
pub(crate) fn summary(s: &EpisodeSummary) -> u64 {
    RECORD_OVERHEAD
        + (s.task_description.len() + s.tags.iter().map(String::len).sum::<usize>()) as u64
}

/// Estimated bytes of a pattern.
pub(crate) fn pattern(p: &Pattern) -> u64 {
    RECORD_OVERHEAD * 2
        + (p.signature.len() + p.example.as_ref().map_or(0, String::len)) as u64
        + p.evidence.len() as u64 * 16
}

/// Estimated bytes of a list of full-text matches.
pub(crate) fn text_matches(m: &[TextMatch]) -> u64 {
    64 + m.iter().map(|m| summary(&m.summary) + 8).sum::<u64>()
}

/// Estimated bytes of a list of vector matches.
pub(crate) fn vector_matches(m: &[VectorMatch]) -> u64 {
    64 + m.iter().map(|m| summary(&m.summary) + 8).sum::<u64>()
}

/// Estimated bytes of a list of summaries.
pub(crate) fn summaries(s: &[EpisodeSummary]) -> u64 {
    64 + s.iter().map(summary).sum::<u64>()
}

/// Estimated bytes of a list of patterns.
pub(crate) fn patterns(p: &[Pattern]) -> u64 {
    64 + p.iter().map(pattern).sum::<u64>()
}
