//! [`PatternStore`]: reading what the memory learned, and the feedback that ranks it, with
//! the filter of a pattern listing.

use crate::error::Result;
use crate::model::{Feedback, Pattern, PatternKindName, TaskType};
use async_trait::async_trait;
use uuid::Uuid;

/// The learned patterns of a store: listing and loading them, and recording the feedback
/// on a retrieval that moves their rank. (Patterns are written by completions —
/// [`EpisodeStore::complete_episode`](crate::storage::EpisodeStore::complete_episode) —
/// and by imports.)
#[async_trait]
pub trait PatternStore: Send + Sync {
    /// Patterns matching `filter`, in its order.
    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>>;

    /// One pattern, or `None` when it does not exist in `namespace`.
    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>>;

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
