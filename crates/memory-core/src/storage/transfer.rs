//! [`TransferStore`]: writing many records in one transaction (imports, resumes, bulk
//! loads) and reading a namespace page by page from one snapshot (exports), with the batch,
//! counts, filter and snapshot types those calls use.

use crate::error::Result;
use crate::model::{
    Checkpoint, ContextStatsRecord, Episode, Pattern, Relationship, RetrievalSession,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Moving a namespace in and out of a store whole: batch writes that are all or nothing,
/// and the consistent paged read an export is made from.
#[async_trait]
pub trait TransferStore: Send + Sync {
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
    /// is stored exactly as given; the checks of
    /// [`GraphStore::store_relationship`](crate::storage::GraphStore::store_relationship) and
    /// [`EpisodeStore::store_episode`](crate::storage::EpisodeStore::store_episode) apply.
    /// The batch is taken by value so that a backend can encode it on another thread while
    /// it writes.
    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts>;

    /// Stores every batch `batches` yields in **one** transaction: if a batch fails to
    /// store, or the iterator yields an error (a bad record in an import file), everything
    /// is rolled back and that error returned. The iterator runs while the write lock is
    /// held.
    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts>;

    /// Opens one consistent read of what an export of `filter` holds: every page read
    /// through it comes from the same snapshot of the store, whatever is written meanwhile.
    /// It holds a connection until it is closed (or dropped).
    async fn export_snapshot(&self, filter: &ExportFilter) -> Result<Box<dyn ExportSnapshot>>;
}

/// Records written together by [`TransferStore::store_batch`]: what an import restores.
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
/// [`TransferStore::export_snapshot`]).
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
