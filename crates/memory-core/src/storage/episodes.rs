//! [`EpisodeStore`]: recording episodes, step by step to their completion, and reading
//! them back — by id, by listing, by full text — together with the filters and records those
//! calls take and return.

use crate::error::Result;
use crate::model::{
    Episode, EpisodeCost, EpisodeSummary, ExecutionStep, Mined, OutcomeKind, Reflection,
    RewardScore, StepInput, TaskOutcome, TaskType,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// The episodes of a store: the write path of an agent's work (start, steps, completion with
/// what it taught, deletion) and the reads of episodes (by id, listings, comparable costs,
/// full-text search).
#[async_trait]
pub trait EpisodeStore: Send + Sync {
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

    /// Marks a running episode complete with its outcome, reward and reflection, and — in the
    /// same transaction — merges what it taught into the namespace's patterns.
    ///
    /// For each scope in `completion.learned.contexts`, the scope's baseline statistics
    /// record the episode (`OutcomeStats::record` with `learned.success`/`learned.reward`,
    /// decayed with `half_life_days`, at `ended_at`). Then each observation is merged into the
    /// pattern with the same signature (`Pattern::absorb`, with its scope's updated baseline),
    /// or creates one (`Pattern::from_observation`). The ids of those patterns, in observation
    /// order, become the episode's `pattern_ids` and are returned.
    ///
    /// Fails with `NotFound` for an unknown episode, `Conflict` when it is already complete,
    /// and `Stale` when its step count is no longer `completion.expected_steps` (a step
    /// arrived while the reward was being computed; the caller reloads and retries).
    async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<Vec<Uuid>>;

    /// Loads an episode with all its steps, or `None` when it does not exist in `namespace`.
    ///
    /// The episode is shared (`Arc`) so that a caching backend can hand out the copy it
    /// holds without cloning it; a caller that needs to change it takes its own copy
    /// (`Arc::unwrap_or_clone`).
    async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Option<Arc<Episode>>>;

    /// Lists episode summaries matching `filter`, newest first.
    async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>>;

    /// Removes an episode for good, in one transaction: its row, steps, tags, links,
    /// checkpoints, text index entries and vectors; the retrieval session it started from,
    /// with that session's feedback taken back from the patterns; and, for a completed
    /// episode, what it taught (mined from it again, as [`crate::learning::mine`] does): its
    /// share of every pattern and context baseline it fed — decayed with `half_life_days`
    /// since it completed —, its evidence id and example, and the patterns and baselines
    /// left with no episode. Freed space is zeroed where the backend can, so the episode's
    /// text does not linger in the store's files. Returns false when it did not exist.
    async fn delete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        half_life_days: f64,
    ) -> Result<bool>;

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
    /// Those steps, when the caller has them at hand, so the backend can index the episode's
    /// text without reading them back (it must still check that the stored count is
    /// `expected_steps`); `None`: the backend loads them.
    pub steps: Option<std::sync::Arc<[ExecutionStep]>>,
    /// What the episode teaches, merged into the patterns in the same transaction.
    pub learned: Mined,
    /// The retrieval session the episode started from, if any. Unless that session already
    /// has feedback (or is gone), the completion records it in the same transaction: every
    /// pattern the session recommended, this outcome, at `ended_at`.
    pub feedback_session: Option<Uuid>,
    /// Half-life of pattern and baseline statistics, in days.
    pub half_life_days: f64,
}

/// A full-text match and its BM25 relevance.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// The matching episode.
    pub summary: EpisodeSummary,
    /// BM25 relevance; larger is better (the backend flips SQLite's sign).
    pub bm25: f64,
    /// Share of the query's weight (its terms' inverse document frequencies, a word no
    /// episode holds counting as the rarest, a number no episode holds as nothing) that the
    /// episode holds, in `[0, 1]`: an absolute similarity, where `bm25` only orders the hits.
    pub coverage: f64,
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
    /// Only episodes listed after this one: the next page, found through the index however
    /// deep it is (an `offset` costs every row it skips). Applied before `offset`.
    pub after: Option<EpisodeCursor>,
}

/// A place in an episode listing (newest first): the last episode of a page, from which
/// the next page goes on. Written as text (`<started_at µs>.<id>`) for URLs and clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeCursor {
    /// When that episode started, to the microsecond (as stored).
    pub started_at_micros: i64,
    /// That episode's id, which orders episodes that started in the same microsecond.
    pub id: Uuid,
}

impl EpisodeCursor {
    /// The place just after `summary` in a listing.
    pub fn after(summary: &EpisodeSummary) -> Self {
        EpisodeCursor {
            started_at_micros: summary.started_at.timestamp_micros(),
            id: summary.id,
        }
    }
}

impl std::fmt::Display for EpisodeCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.started_at_micros, self.id)
    }
}

impl std::str::FromStr for EpisodeCursor {
    type Err = crate::error::ValidationError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = || {
            crate::error::ValidationError::new(
                "cursor",
                "not a listing cursor (`<started_at µs>.<episode id>`, as a listing gave it)",
            )
        };
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(EpisodeCursor {
            started_at_micros: micros.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
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
            after: None,
        }
    }
}
