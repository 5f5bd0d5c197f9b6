//! The storage contract: what the memory needs from a backend, and nothing more.
//!
//! `memory-core` never touches SQL or files; concrete backends (libSQL in
//! `memory-storage-turso`) implement [`StorageBackend`] and are chosen by the application.
//! Every method is scoped by namespace, and every write is atomic: it either takes effect
//! whole or returns an error.

use crate::error::Result;
use crate::model::{
    Episode, EpisodeSummary, ExecutionStep, OutcomeKind, Reflection, RewardScore, StepInput,
    TaskOutcome, TaskType,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A durable home for episodes.
#[async_trait]
pub trait StorageBackend: Send + Sync {
    /// Stores a new episode exactly as given (steps, outcome and all) in one transaction.
    ///
    /// Used both to start an episode (no steps, no outcome) and to import a finished one.
    /// An episode with the same id already present is a [`crate::MemoryError::Conflict`].
    async fn store_episode(&self, episode: &Episode) -> Result<()>;

    /// Appends a step to a running episode, assigning the next `seq`, and returns the stored step.
    ///
    /// Fails with `NotFound` for an unknown episode, `Conflict` for a completed one or one that
    /// already has `max_steps` steps. Must not rewrite the episode's record.
    async fn append_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
        at: DateTime<Utc>,
        max_steps: u32,
    ) -> Result<ExecutionStep>;

    /// Marks a running episode complete with its outcome, reward and reflection.
    ///
    /// Fails with `NotFound` for an unknown episode and `Conflict` when it is already complete
    /// or when its step count is no longer `completion.expected_steps` (a step arrived while
    /// the reward was being computed; the caller reloads and retries).
    async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<()>;

    /// Loads an episode with all its steps, or `None` when it does not exist in `namespace`.
    async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Option<Episode>>;

    /// Lists episode summaries matching `filter`, newest first.
    async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>>;

    /// Removes an episode, its steps and its index entries. Returns false when it did not exist.
    async fn delete_episode(&self, namespace: &str, episode_id: Uuid) -> Result<bool>;

    /// The costs of the most recently completed episodes comparable to a task (same task
    /// type, and same domain when one is given), newest first, at most `limit`.
    async fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EpisodeCost>>;

    /// Completed episodes whose indexed text matches any of `terms`, best BM25 match first.
    async fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<TextMatch>>;
}

/// Everything recorded when an episode completes.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// When it completed.
    pub ended_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// Its score.
    pub reward: RewardScore,
    /// Its lessons.
    pub reflection: Reflection,
    /// The step count the reward and reflection were computed from.
    pub expected_steps: u32,
}

/// The cost of a completed episode, for judging the efficiency of a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeCost {
    /// Steps taken.
    pub steps: u32,
    /// Sum of the steps' latencies.
    pub latency_ms: u64,
}

/// A full-text match and its BM25 relevance.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// The matching episode.
    pub summary: EpisodeSummary,
    /// BM25 relevance; larger is better (the backend flips SQLite's sign).
    pub bm25: f64,
}

/// Whether an episode is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStatus {
    /// Started, not yet completed.
    Running,
    /// Completed with an outcome.
    Completed,
}

/// Which episodes a listing returns. Every set field must match.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeFilter {
    /// The namespace to list.
    pub namespace: String,
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this language.
    pub language: Option<String>,
    /// Only this task type.
    pub task_type: Option<TaskType>,
    /// Only this outcome (implies completed).
    pub outcome: Option<OutcomeKind>,
    /// Only running or only completed episodes.
    pub status: Option<EpisodeStatus>,
    /// Only episodes carrying every one of these tags (episode or context tags).
    pub tags: Vec<String>,
    /// Only episodes started at or after this time.
    pub started_after: Option<DateTime<Utc>>,
    /// Only episodes started before this time.
    pub started_before: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: usize,
    /// How many matching episodes to skip.
    pub offset: usize,
}

impl EpisodeFilter {
    /// Everything in `namespace`, first page of 50.
    pub fn new(namespace: impl Into<String>) -> Self {
        EpisodeFilter {
            namespace: namespace.into(),
            domain: None,
            language: None,
            task_type: None,
            outcome: None,
            status: None,
            tags: Vec::new(),
            started_after: None,
            started_before: None,
            limit: 50,
            offset: 0,
        }
    }
}
