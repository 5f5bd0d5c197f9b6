//! The storage contract: what the memory needs from a backend, and nothing more.
//!
//! `memory-core` never touches SQL or files; concrete backends (libSQL in
//! `memory-storage-turso`) implement [`StorageBackend`] and are chosen by the application.
//! Every method is scoped by namespace, and every write is atomic: it either takes effect
//! whole or returns an error.

use crate::error::Result;
use crate::export::ContextStatsRecord;
use crate::learning::Mined;
use crate::metrics::StorageStats;
use crate::model::{
    Checkpoint, Direction, Episode, EpisodeSummary, ExecutionStep, Feedback, OutcomeKind, Pattern,
    PatternKindName, Reflection, Relationship, RelationshipKind, RetrievalSession, RewardScore,
    SessionRetention, StepInput, TaskOutcome, TaskType,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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

    /// Patterns matching `filter`, in its order.
    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>>;

    /// One pattern, or `None` when it does not exist in `namespace`.
    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>>;

    /// Remembers a retrieval so feedback can be tied to it, and in the same write drops the
    /// namespace's sessions that `retention` no longer keeps. A duplicate id is a `Conflict`.
    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()>;

    /// A remembered retrieval, or `None` when it does not exist in `namespace`.
    async fn get_session(
        &self,
        namespace: &str,
        session_id: Uuid,
    ) -> Result<Option<RetrievalSession>>;

    /// Declares the vector space — which embedder wrote the vectors, and their dimension — of
    /// the store. The first call creates it; a later call with the same space does nothing;
    /// a call with another space fails with `Conflict` naming both (switching takes
    /// [`StorageBackend::reset_vector_space`] and re-embedding, never a mix).
    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()>;

    /// Drops every stored vector and declares a new vector space, for a re-embed.
    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()>;

    /// The current vector space, if one was declared: embedder id and dimension.
    async fn vector_space(&self) -> Result<Option<(String, usize)>>;

    /// Stores the vectors of episodes made by `embedder`, in one transaction: for each
    /// episode its chunks' vectors in chunk order (chunk 0 the task and outcome, then its
    /// steps; see [`crate::embedding::episode_chunks`]), replacing whatever it had. The
    /// store's vector space must be `embedder`'s (else `Conflict`: another process may have
    /// re-embedded since); each vector must have its dimension and an episode between 1 and
    /// [`crate::embedding::MAX_CHUNKS`] of them (else `Invalid`); an unknown episode is
    /// `NotFound`.
    async fn store_vectors(
        &self,
        embedder: &str,
        namespace: &str,
        vectors: &[EpisodeVectors],
    ) -> Result<()>;

    /// The completed episodes of `namespace` nearest to `vector` by cosine of their best
    /// matching chunk, best first, at most `limit`.
    async fn vector_search(
        &self,
        namespace: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>>;

    /// The stored first vectors (chunk 0: task and outcome) of the given episodes of
    /// `namespace` (missing ones left out), for comparing episodes with one another.
    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>>;

    /// Completed episodes that have no vector yet, of `namespace` (or of every namespace),
    /// oldest first, at most `limit`: the work list of a re-embed, or of a retrieval that
    /// indexes a few of its own namespace's before searching.
    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>>;

    /// How many completed episodes (of any namespace) have no vector yet.
    async fn count_without_vectors(&self) -> Result<u64>;

    /// Cached embeddings of texts by content hash for `embedder`, in the order asked (`None`
    /// where there is none).
    async fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Result<Vec<Option<Vec<f32>>>>;

    /// Caches embeddings by content hash for `embedder`.
    async fn cache_embeddings(&self, embedder: &str, entries: &[(String, Vec<f32>)]) -> Result<()>;

    /// Records feedback on a retrieval, atomically: stores it on the session and updates the
    /// effectiveness of every applied pattern (`applied += 1`; `helped += 1` when the outcome
    /// is a success, `hindered += 1` when it is a failure).
    ///
    /// Fails with `NotFound` for an unknown session and `Conflict` when the session already
    /// has feedback. The caller has checked that every applied pattern was recommended; an
    /// applied pattern deleted since is skipped.
    async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        feedback: &Feedback,
    ) -> Result<()>;

    /// Stores an edge between two episodes of its namespace, in one transaction.
    ///
    /// Fails with `Invalid` for a self-link, `NotFound` when either episode is not in the
    /// namespace, `Conflict` when the same link exists (same ends and kind, or the reverse
    /// ends for a symmetric kind) or the id is taken, and [`crate::MemoryError::Cycle`] when
    /// an edge of an acyclic kind would close a cycle of that kind. The checks run under the
    /// write lock, so two processes cannot build a cycle between them.
    async fn store_relationship(&self, relationship: &Relationship) -> Result<()>;

    /// Removes the edges `from → to` of `kind` (any kind when `None`; for a symmetric kind
    /// the reverse edge too) and returns how many were removed.
    async fn delete_relationships(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64>;

    /// The edges matching `filter`, oldest first.
    async fn relationships(&self, filter: &RelationshipFilter) -> Result<Vec<Relationship>>;

    /// Records a checkpoint of a running episode and returns it as stored: `step_count` is
    /// set to the episode's step count at that moment. `NotFound` for an unknown episode,
    /// `Conflict` for a completed one.
    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint>;

    /// The checkpoints of one episode (or of the whole namespace when `None`), oldest first.
    async fn checkpoints(
        &self,
        namespace: &str,
        episode_id: Option<Uuid>,
    ) -> Result<Vec<Checkpoint>>;

    /// Stores complete episodes (steps, outcome and all, as an import restores them) in one
    /// transaction with multi-row statements: all of them or, on any error, none. An id
    /// already stored is a `Conflict`.
    async fn store_episodes(&self, episodes: Vec<Episode>) -> Result<()> {
        let batch = ImportBatch {
            episodes,
            ..ImportBatch::default()
        };
        self.store_batch(batch).await.map(|_| ())
    }

    /// Stores patterns exactly as given, in one transaction: all or none. An id or a
    /// `(namespace, signature)` already stored is a `Conflict`.
    async fn store_patterns(&self, patterns: Vec<Pattern>) -> Result<()> {
        let batch = ImportBatch {
            patterns,
            ..ImportBatch::default()
        };
        self.store_batch(batch).await.map(|_| ())
    }

    /// Stores a mixed batch in one transaction: all of it or, on any error, none. Within the
    /// batch, context statistics, patterns, episodes and sessions are written first, then
    /// checkpoints and relationships (which may refer to the batch's episodes). Every record
    /// is stored exactly as given; the checks of [`StorageBackend::store_relationship`] and
    /// [`StorageBackend::store_episode`] apply. The batch is taken by value so that a
    /// backend can encode it on another thread while it writes.
    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts>;

    /// Stores every batch `batches` yields in **one** transaction: if a batch fails to
    /// store, or the iterator yields an error (a bad record in an import file), everything
    /// is rolled back and that error returned. The iterator runs while the write lock is
    /// held.
    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts>;

    /// Every retrieval session of `namespace`, by id.
    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>>;

    /// The running episodes of every namespace whose last step (or start, without steps)
    /// was before `idle_since`, oldest first.
    async fn idle_running(&self, idle_since: DateTime<Utc>) -> Result<Vec<(String, Uuid)>>;

    /// Drops the sessions, patterns and cached embeddings `plan` says have outlived their
    /// use (see [`crate::retention`]), or on a dry run counts them. A pattern seen again
    /// while this runs is kept.
    async fn collect_garbage(&self, plan: &GarbagePlan) -> Result<GarbageCounts>;

    /// Opens one consistent read of what an export of `filter` holds: every page read
    /// through it comes from the same snapshot of the store, whatever is written meanwhile.
    /// It holds a connection until it is closed (or dropped).
    async fn export_snapshot(&self, filter: &ExportFilter) -> Result<Box<dyn ExportSnapshot>>;

    /// What writers other than this handle (other processes, other machines) changed
    /// since `since`, a position an earlier answer gave (`None`: from now on — everything
    /// cached so far counts as changed). `None` when the backend cannot tell, now or ever.
    /// Caches in front of the backend use it to drop exactly what others changed.
    async fn external_changes(&self, since: Option<u64>) -> Result<Option<ExternalChanges>> {
        let _ = since;
        Ok(None)
    }

    /// How many episodes `namespace` holds, by outcome (running ones apart), and how many
    /// patterns: one indexed count each, for the dashboard's overview. `None` when the
    /// backend cannot count without reading every episode (callers then page through them).
    async fn count_episodes(&self, _namespace: &str) -> Result<Option<EpisodeCounts>> {
        Ok(None)
    }

    /// Every namespace that holds episodes or patterns, by name, with its counts as
    /// [`StorageBackend::count_episodes`] gives them: what a caller allowed to see the whole
    /// store lists. `None` when the backend cannot list them without reading every episode.
    async fn namespaces(&self) -> Result<Option<Vec<(String, EpisodeCounts)>>> {
        Ok(None)
    }

    /// The backend's own figures: sizes and counts, and whatever it measures of its caches,
    /// statements, connections and write queue. Backends that measure nothing report only
    /// their name.
    async fn storage_stats(&self) -> Result<StorageStats> {
        Ok(StorageStats {
            backend: std::any::type_name::<Self>().to_string(),
            ..StorageStats::default()
        })
    }
}

/// A namespace's episodes by state and outcome, and its patterns, from
/// [`StorageBackend::count_episodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EpisodeCounts {
    /// Started, not completed.
    pub running: u64,
    /// Completed with outcome success.
    pub success: u64,
    /// Completed with outcome partial_success.
    pub partial_success: u64,
    /// Completed with outcome failure.
    pub failure: u64,
    /// Completed with outcome abstained.
    pub abstained: u64,
    /// Learned patterns.
    pub patterns: u64,
}

impl EpisodeCounts {
    /// All episodes.
    pub fn episodes(&self) -> u64 {
        self.running + self.success + self.partial_success + self.failure + self.abstained
    }

    /// Counts `n` more episodes that ended with `outcome` (running when `None`).
    pub fn add(&mut self, outcome: Option<crate::OutcomeKind>, n: u64) {
        use crate::OutcomeKind::*;
        let count = match outcome {
            None => &mut self.running,
            Some(Success) => &mut self.success,
            Some(PartialSuccess) => &mut self.partial_success,
            Some(Failure) => &mut self.failure,
            Some(Abstained) => &mut self.abstained,
        };
        *count += n;
    }
}

/// What other writers changed in the store, from [`StorageBackend::external_changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalChanges {
    /// The position to ask from next time.
    pub position: u64,
    /// What changed between the position asked from and `position`.
    pub changed: Changed,
}

/// What another writer changed: a list of keys, or more than can be told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Anything may have changed (too much to list, or the list since the position asked
    /// from is no longer kept).
    Everything,
    /// Exactly these (possibly repeated); empty when nothing changed.
    Keys(Vec<ChangedKey>),
}

/// One thing another writer changed, with the namespace it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangedKey {
    /// An episode: its row, its steps or its outcome (also its creation or deletion).
    Episode {
        /// Its namespace.
        namespace: String,
        /// Its id.
        id: Uuid,
    },
    /// The namespace's patterns: some were created, merged into, ranked by feedback or
    /// deleted (a completion changes dozens at once, so they are not listed one by one).
    Patterns {
        /// The namespace.
        namespace: String,
    },
    /// What the namespace's searches find, with no record changed (vectors stored).
    Searches {
        /// The namespace.
        namespace: String,
    },
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
    /// Share of the query's weight (its terms' inverse document frequencies, a word no
    /// episode holds counting as the rarest, a number no episode holds as nothing) that the
    /// episode holds, in `[0, 1]`: an absolute similarity, where `bm25` only orders the hits.
    pub coverage: f64,
}

/// A vector-search match and its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatch {
    /// The matching episode.
    pub summary: EpisodeSummary,
    /// Cosine similarity of its best chunk to the query vector, in `[-1, 1]`; larger is
    /// better.
    pub similarity: f64,
    /// Which of the episode's vectors matched best: 0 for the task and outcome, `n` for
    /// its `n`th chunk of steps.
    pub chunk: u32,
}

/// An episode and the vectors of its chunks, in chunk order (see
/// [`StorageBackend::store_vectors`]).
pub type EpisodeVectors = (Uuid, Vec<Vec<f32>>);

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
    type Err = crate::ValidationError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let bad = || {
            crate::ValidationError::new(
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

/// The order of a pattern listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PatternOrder {
    /// Highest confidence (Wilson lower bound, as of the pattern's last update) first.
    #[default]
    Confidence,
    /// Most episodes first.
    Support,
    /// Highest lift first.
    Lift,
    /// Most recently seen first.
    Recent,
}

/// Which patterns a listing returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatternFilter {
    /// The namespace to list.
    pub namespace: String,
    /// Only this kind.
    pub kind: Option<PatternKindName>,
    /// Only patterns that hold in this domain (their scope's domain is unset or equal).
    pub domain: Option<String>,
    /// Only patterns that hold for this language (unset or equal).
    pub language: Option<String>,
    /// Only patterns that hold for this framework (unset or equal).
    pub framework: Option<String>,
    /// Only patterns that hold for this task type (unset or equal).
    pub task_type: Option<TaskType>,
    /// Only patterns whose tag scope is unset or one of these (no restriction when empty).
    pub tags: Vec<String>,
    /// Only patterns seen in at least this many episodes.
    pub min_episodes: u64,
    /// Only patterns with at least this confidence (as of their last update).
    pub min_confidence: f64,
    /// Sort order.
    pub order: PatternOrder,
    /// Page size.
    pub limit: usize,
    /// How many matching patterns to skip.
    pub offset: usize,
}

impl PatternFilter {
    /// Every pattern in `namespace`, most confident first, first page of 50.
    pub fn new(namespace: impl Into<String>) -> Self {
        PatternFilter {
            namespace: namespace.into(),
            limit: 50,
            ..PatternFilter::default()
        }
    }
}

/// Which relationships a query returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelationshipFilter {
    /// The namespace.
    pub namespace: String,
    /// Only edges touching these episodes (in `direction`); every edge when empty.
    pub episodes: Vec<Uuid>,
    /// Which ends of `episodes` to follow.
    pub direction: Direction,
    /// Only these kinds; every kind when empty.
    pub kinds: Vec<RelationshipKind>,
    /// At most this many edges, the newest first; every edge when `None`.
    pub limit: Option<usize>,
}

impl RelationshipFilter {
    /// Every edge of `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        RelationshipFilter {
            namespace: namespace.into(),
            ..RelationshipFilter::default()
        }
    }
}

/// Records written together by [`StorageBackend::store_batch`]: what an import restores.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportBatch {
    /// Baseline statistics of contexts.
    pub context_stats: Vec<ContextStatsRecord>,
    /// Learned patterns.
    pub patterns: Vec<Pattern>,
    /// Complete episodes with their steps.
    pub episodes: Vec<Episode>,
    /// Retrieval sessions with their feedback.
    pub sessions: Vec<RetrievalSession>,
    /// Checkpoints of (this batch's or stored) episodes.
    pub checkpoints: Vec<Checkpoint>,
    /// Edges between (this batch's or stored) episodes.
    pub relationships: Vec<Relationship>,
}

impl ImportBatch {
    /// How many records the batch holds.
    pub fn len(&self) -> usize {
        self.context_stats.len()
            + self.patterns.len()
            + self.episodes.len()
            + self.sessions.len()
            + self.checkpoints.len()
            + self.relationships.len()
    }

    /// True when the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many records of each kind a batch write stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BatchCounts {
    /// Episodes.
    pub episodes: u64,
    /// Their steps.
    pub steps: u64,
    /// Patterns.
    pub patterns: u64,
    /// Context statistics.
    pub context_stats: u64,
    /// Retrieval sessions.
    pub sessions: u64,
    /// Checkpoints.
    pub checkpoints: u64,
    /// Relationships.
    pub relationships: u64,
}

impl BatchCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &BatchCounts) {
        self.episodes += other.episodes;
        self.steps += other.steps;
        self.patterns += other.patterns;
        self.context_stats += other.context_stats;
        self.sessions += other.sessions;
        self.checkpoints += other.checkpoints;
        self.relationships += other.relationships;
    }
}

/// What [`StorageBackend::collect_garbage`] drops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GarbagePlan {
    /// The time to judge ages and decay at.
    pub now: DateTime<Utc>,
    /// Count, change nothing.
    pub dry_run: bool,
    /// The sessions each namespace keeps.
    pub sessions: SessionRetention,
    /// Patterns whose support decayed to `now` is below this are dropped.
    pub min_pattern_support: f64,
    /// Half-life of pattern statistics, in days.
    pub half_life_days: f64,
    /// Most cached embeddings kept (those of embedders other than the store's vector
    /// space's are dropped first).
    pub max_cached_embeddings: u64,
}

/// What [`StorageBackend::collect_garbage`] dropped (or would drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GarbageCounts {
    /// Retrieval sessions.
    pub sessions: u64,
    /// Patterns.
    pub patterns: u64,
    /// Cached embeddings.
    pub cached_embeddings: u64,
}

/// What to export: a namespace, and optionally the time range its episodes started in.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFilter {
    /// The namespace.
    pub namespace: String,
    /// Only episodes (and sessions) started at or after this time.
    pub started_after: Option<DateTime<Utc>>,
    /// Only episodes (and sessions) started before this time.
    pub started_before: Option<DateTime<Utc>>,
}

impl ExportFilter {
    /// Everything in `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        ExportFilter {
            namespace: namespace.into(),
            started_after: None,
            started_before: None,
        }
    }
}

/// One read of a namespace for an export, from a single snapshot of the store, page by
/// page so that an export's memory stays bounded at any store size (see
/// [`StorageBackend::export_snapshot`]).
///
/// Each page method returns up to `limit` records that follow `after` (the key of the last
/// record of the previous page; `None` for the first page) in the export's order; a page
/// shorter than `limit` is the last. Episodes, checkpoints, relationships and sessions are
/// those of the snapshot's [`ExportFilter`]: a relationship or checkpoint only when every
/// episode it touches is exported.
#[async_trait]
pub trait ExportSnapshot: Send {
    /// Context baselines, by scope key.
    async fn context_stats(
        &mut self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<ContextStatsRecord>>;

    /// The pattern seen most recently (the greatest `last_seen`; ties by id), if any.
    async fn newest_pattern(&mut self) -> Result<Option<Pattern>>;

    /// Patterns, by id.
    async fn patterns(&mut self, after: Option<Uuid>, limit: usize) -> Result<Vec<Pattern>>;

    /// Episodes with their steps, by `(started_at, id)`.
    async fn episodes(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Episode>>;

    /// Checkpoints, by `(at, id)`.
    async fn checkpoints(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Checkpoint>>;

    /// Relationships, by `(created_at, id)`.
    async fn relationships(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Relationship>>;

    /// Retrieval sessions created in the filter's range, by id.
    async fn sessions(
        &mut self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<RetrievalSession>>;

    /// Ends the read and gives its connection back.
    async fn close(self: Box<Self>) -> Result<()>;
}
