//! [`GraphStore`]: the edges between episodes and the checkpoints of running ones, with the
//! filter of an edge query.

use crate::error::Result;
use crate::model::{Checkpoint, Direction, Relationship, RelationshipKind};
use async_trait::async_trait;
use uuid::Uuid;

/// The episode graph of a store and the checkpoints of its episodes: what relating episodes,
/// walking their links and handing a task off to another agent need.
#[async_trait]
pub trait GraphStore: Send + Sync {
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
