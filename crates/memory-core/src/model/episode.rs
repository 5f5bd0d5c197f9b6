//! An episode: one attempt by an agent at one task, from start to outcome.

use super::{
    ExecutionStep, OutcomeKind, Reflection, RewardScore, TaskContext, TaskOutcome, TaskType,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One attempt at one task: what was asked, every step taken, how it ended and what the
/// system derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Time-ordered identifier (UUID v7).
    pub id: Uuid,
    /// The agent, project or tenant that owns this episode; nothing crosses namespaces.
    pub namespace: String,
    /// What the agent was asked to do, in its own words.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where the task happened.
    pub context: TaskContext,
    /// When the episode started (microsecond precision).
    pub started_at: DateTime<Utc>,
    /// When the episode was completed; `None` while it is running.
    pub ended_at: Option<DateTime<Utc>>,
    /// Every step, in order of `seq`.
    pub steps: Vec<ExecutionStep>,
    /// How the task ended; `None` while it is running.
    pub outcome: Option<TaskOutcome>,
    /// The score computed at completion.
    pub reward: Option<RewardScore>,
    /// The lessons computed at completion.
    pub reflection: Option<Reflection>,
    /// Patterns this episode contributed to.
    #[serde(default)]
    pub pattern_ids: Vec<Uuid>,
    /// Labels of the episode itself (a ticket, a run); context labels live in `context.tags`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free key/values the agent wants kept with the episode.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The retrieval whose context pack the agent worked from, if it said so; completing
    /// the episode then reports feedback on that retrieval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval_session: Option<Uuid>,
}

impl Episode {
    /// True once the episode has an outcome.
    pub fn is_complete(&self) -> bool {
        self.ended_at.is_some()
    }

    /// The summary that listings and ranking work on.
    pub fn summary(&self) -> EpisodeSummary {
        EpisodeSummary {
            id: self.id,
            namespace: self.namespace.clone(),
            task_description: self.task_description.clone(),
            task_type: self.task_type,
            context: self.context.clone(),
            started_at: self.started_at,
            ended_at: self.ended_at,
            step_count: self.steps.len() as u32,
            outcome_kind: self.outcome.as_ref().map(TaskOutcome::kind),
            reward: self.reward.as_ref().map(|r| r.total),
            tags: self.tags.clone(),
        }
    }
}

/// What an agent supplies to start an episode.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewEpisode {
    /// What the agent was asked to do.
    pub task_description: String,
    /// The kind of work.
    #[serde(default)]
    pub task_type: TaskType,
    /// Where the task happens.
    #[serde(default)]
    pub context: TaskContext,
    /// Labels of the episode itself.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free key/values to keep with the episode.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The retrieval (its `session_id`) whose context pack the agent is working from.
    #[serde(default)]
    pub retrieval_session: Option<Uuid>,
}

impl NewEpisode {
    /// A new episode for `task` with every other field at its default.
    pub fn new(task: impl Into<String>) -> Self {
        NewEpisode {
            task_description: task.into(),
            ..NewEpisode::default()
        }
    }
}

/// The light form of an episode (no steps), used for listings and ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Episode id.
    pub id: Uuid,
    /// Owning namespace.
    pub namespace: String,
    /// What the agent was asked to do.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where the task happened.
    pub context: TaskContext,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it was completed, if it was.
    pub ended_at: Option<DateTime<Utc>>,
    /// How many steps were logged.
    pub step_count: u32,
    /// How it ended, if it has.
    pub outcome_kind: Option<OutcomeKind>,
    /// The total reward, if completed.
    pub reward: Option<f64>,
    /// Labels of the episode itself.
    pub tags: Vec<String>,
}

/// The cost of a completed episode, for judging the efficiency of a new one (what
/// `comparable_costs` reads and the reward's efficiency baseline is drawn from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeCost {
    /// Steps taken.
    pub steps: u32,
    /// Sum of the steps' latencies.
    pub latency_ms: u64,
}
