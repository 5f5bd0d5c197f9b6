//! [`StatsStore`]: what a backend can tell about the store as a whole — episode counts by
//! namespace, its own figures, and what other writers changed — with the records it answers
//! with.

use crate::error::Result;
use crate::metrics::StorageStats;
use crate::model::OutcomeKind;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a backend can report about the store as a whole: counts for the dashboard's
/// overview, its own figures for `memory stats` and `/metrics`, and the changes other
/// writers made (for caches in front of it). Every method has a default meaning "cannot
/// tell", so a backend implements only what it can answer cheaply.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// How many episodes `namespace` holds, by outcome (running ones apart), and how many
    /// patterns: one indexed count each, for the dashboard's overview. `None` when the
    /// backend cannot count without reading every episode (callers then page through them).
    async fn count_episodes(&self, _namespace: &str) -> Result<Option<EpisodeCounts>> {
        Ok(None)
    }

    /// Every namespace that holds episodes or patterns, by name, with its counts as
    /// [`StatsStore::count_episodes`] gives them: what a caller allowed to see the whole
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

    /// What writers other than this handle (other processes, other machines) changed
    /// since `since`, a position an earlier answer gave (`None`: from now on — everything
    /// cached so far counts as changed). `None` when the backend cannot tell, now or ever.
    /// Caches in front of the backend use it to drop exactly what others changed.
    async fn external_changes(&self, since: Option<u64>) -> Result<Option<ExternalChanges>> {
        let _ = since;
        Ok(None)
    }
}

/// A namespace's episodes by state and outcome, and its patterns, from
/// [`StatsStore::count_episodes`].
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
    pub fn add(&mut self, outcome: Option<OutcomeKind>, n: u64) {
        use OutcomeKind::*;
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

/// What other writers changed in the store, from [`StatsStore::external_changes`].
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
