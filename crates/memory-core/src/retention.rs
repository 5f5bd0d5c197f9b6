//! Keeping a store bounded under steady use: what has outlived its use is dropped by
//! [`SelfLearningMemory::collect_garbage`](crate::SelfLearningMemory::collect_garbage) —
//! `memory gc` on demand, and `memory serve` and `memory mcp` every
//! [`Retention::every_hours`] while they run.
//!
//! - **Running episodes left behind** (an agent that crashed or never called
//!   `complete_episode`): with no step for [`Retention::abandon_after_hours`], completed as
//!   abstained ("abandoned"), which teaches nothing; they are kept, searchable, as history.
//! - **Retrieval sessions**: the namespace's [`SessionRetention`](crate::SessionRetention),
//!   applied to every namespace (storing a session applies it only to its own).
//! - **Patterns** whose support, decayed to now, fell below
//!   [`Retention::min_pattern_support`]: too old and too rarely seen to be recommended again.
//!   A pattern seen again is kept, however old it is.
//! - **The embedding cache**: vectors of embedders other than the store's, and beyond
//!   [`Retention::max_cached_embeddings`].
//!
//! Episodes themselves are never dropped: they are what the user recorded.
//!
//! This module holds the policy ([`Retention`]) and the report ([`GarbageReport`]); the
//! collection itself is the facade's (`memory/retention.rs`), through the backend's
//! [`RetentionStore`](crate::storage::RetentionStore).

use crate::storage::GarbageCounts;
use serde::{Deserialize, Serialize};

/// What the memory keeps (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    /// A running episode with no step for this many hours is completed as abandoned.
    pub abandon_after_hours: f64,
    /// A pattern whose decayed support is below this is dropped. One episode's weight falls
    /// below 0.05 after 4.3 half-lives (130 days at the default 30-day half-life).
    pub min_pattern_support: f64,
    /// Most vectors kept in the embedding cache.
    pub max_cached_embeddings: u64,
    /// How often a long-running server collects, in hours.
    pub every_hours: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            abandon_after_hours: 24.0 * 7.0,
            min_pattern_support: 0.05,
            max_cached_embeddings: 100_000,
            every_hours: 1.0,
        }
    }
}

/// What a collection dropped — or, on a dry run, would drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GarbageReport {
    /// True when nothing was changed: the counts say what would go.
    pub dry_run: bool,
    /// Running episodes completed as abandoned.
    pub abandoned_episodes: u64,
    /// Retrieval sessions dropped.
    #[serde(flatten)]
    pub dropped: GarbageCounts,
}
