//! [`RetentionStore`]: what garbage collection needs from a backend (see
//! [`crate::retention`]), with its plan and counts.

use crate::error::Result;
use crate::model::SessionRetention;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Keeping a store bounded: finding the running episodes their agents left behind, and
/// dropping the sessions, patterns and cached embeddings that outlived their use.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// The running episodes of every namespace whose last step (or start, without steps)
    /// was before `idle_since`, oldest first.
    async fn idle_running(&self, idle_since: DateTime<Utc>) -> Result<Vec<(String, Uuid)>>;

    /// Drops the sessions, patterns and cached embeddings `plan` says have outlived their
    /// use (see [`crate::retention`]), or on a dry run counts them. A pattern seen again
    /// while this runs is kept.
    async fn collect_garbage(&self, plan: &GarbagePlan) -> Result<GarbageCounts>;
}

/// What [`RetentionStore::collect_garbage`] drops.
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

/// What [`RetentionStore::collect_garbage`] dropped (or would drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GarbageCounts {
    /// Retrieval sessions.
    pub sessions: u64,
    /// Patterns.
    pub patterns: u64,
    /// Cached embeddings.
    pub cached_embeddings: u64,
}
