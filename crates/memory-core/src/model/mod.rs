//! The domain model: what an agent records about a task and what the system derives from it.
//!
//! Every type here is plain data with serde derives, so the same shapes travel through the
//! library, the storage layer, the CLI's JSON output and (later) MCP unchanged.

mod context;
mod episode;
mod learned;
mod outcome;
mod pattern;
mod relationship;
mod step;

pub use context::{Complexity, TaskContext, TaskType};
pub use episode::{Episode, EpisodeCost, EpisodeSummary, NewEpisode};
pub use learned::{ContextStatsRecord, Mined, Observation};
pub use outcome::{OutcomeKind, Reflection, RewardScore, TaskOutcome};
pub use pattern::{
    Effectiveness, Feedback, Heuristic, HeuristicKind, OutcomeStats, Pattern, PatternKind,
    PatternKindName, PatternScope, RetrievalSession, SessionRetention,
};
pub use relationship::{
    Checkpoint, Direction, Relationship, RelationshipKind, RelationshipMetadata, format_path,
};
pub use step::{ExecutionStep, StepInput, StepResult, StepStatus};

use chrono::{DateTime, SubsecRound, Utc};

/// Truncates a timestamp to whole microseconds, the precision every store keeps.
///
/// Timestamps are truncated once, where they enter the system, so that what is stored is
/// exactly what is read back.
pub fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}
