//! What a completed episode teaches, as the storage layer receives it, and the per-context
//! baselines it counts towards.
//!
//! [`Mined`] is computed by `learning::mine` and handed to the backend with the completion
//! (`storage::Completion::learned`), which merges each [`Observation`] into the pattern with
//! the same signature. [`ContextStatsRecord`] is one row of the baselines those merges
//! measure lift against, as stored, exported and imported.

use super::{OutcomeStats, PatternKind, PatternScope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One episode's evidence for one pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The pattern seen.
    pub kind: PatternKind,
    /// Where it holds.
    pub scope: PatternScope,
    /// Stable hash of kind and scope.
    pub signature: String,
    /// The episode's success weight: 1 success, 0.5 partial success, 0 failure.
    pub success: f64,
    /// The episode's reward.
    pub reward: f64,
    /// The episode.
    pub episode_id: Uuid,
    /// A concrete example (e.g. the recovery steps' actions).
    pub example: Option<String>,
}

/// What one completed episode teaches: its pattern observations and the contexts whose
/// baseline success rate it counts towards.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mined {
    /// One observation per distinct pattern the episode shows.
    pub observations: Vec<Observation>,
    /// Every scope the episode belongs to (for baseline success rates and lift).
    pub contexts: Vec<PatternScope>,
    /// The episode's success weight: 1 success, 0.5 partial success, 0 failure.
    pub success: f64,
    /// The episode's reward.
    pub reward: f64,
}

impl Mined {
    /// True when the episode teaches nothing (running or abstained).
    pub fn is_empty(&self) -> bool {
        self.observations.is_empty() && self.contexts.is_empty()
    }
}

/// The baseline statistics of one context of a namespace (the `context_stats` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextStatsRecord {
    /// The namespace.
    pub namespace: String,
    /// The context, as `PatternScope::key()`.
    pub scope_key: String,
    /// Its outcome statistics.
    pub stats: OutcomeStats,
}
