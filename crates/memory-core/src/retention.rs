//! Keeping a store bounded under steady use: what has outlived its use is dropped by
//! [`SelfLearningMemory::collect_garbage`] — `memory gc` on demand, and `memory serve` and
//! `memory mcp` every [`Retention::every_hours`] while they run.
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

use crate::error::{MemoryError, Result};
use crate::memory::SelfLearningMemory;
use crate::model::TaskOutcome;
use crate::storage::{GarbageCounts, GarbagePlan};
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

impl SelfLearningMemory {
    /// Drops what has outlived its use, as the configured [`Retention`] says (see the module
    /// docs); with `dry_run`, only counts it. Safe beside other writers: each part is its
    /// own transaction, and what was used again meanwhile is kept.
    pub async fn collect_garbage(&self, dry_run: bool) -> Result<GarbageReport> {
        self.timed("collect_garbage", async {
            let retention = self.config.retention;
            let now = self.clock.now();
            let idle = chrono::Duration::milliseconds(
                (retention.abandon_after_hours.max(0.0) * 3_600_000.0).min(i64::MAX as f64 / 2.0)
                    as i64,
            );
            let idle_since = now.checked_sub_signed(idle).unwrap_or(now);
            let mut abandoned_episodes = 0;
            for (namespace, id) in self.storage.idle_running(idle_since).await? {
                if dry_run {
                    abandoned_episodes += 1;
                    continue;
                }
                let outcome = TaskOutcome::Abstained {
                    reason: format!(
                        "abandoned: no step for {} hours",
                        retention.abandon_after_hours
                    ),
                };
                match self.complete_episode(&namespace, id, outcome).await {
                    Ok(_) => abandoned_episodes += 1,
                    // Completed or deleted meanwhile by its agent.
                    Err(MemoryError::Conflict(_) | MemoryError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let plan = GarbagePlan {
                now,
                dry_run,
                sessions: self.config.session_retention,
                min_pattern_support: retention.min_pattern_support,
                half_life_days: self.config.learning.half_life_days,
                max_cached_embeddings: retention.max_cached_embeddings,
            };
            let dropped = self.storage.collect_garbage(&plan).await?;
            let report = GarbageReport {
                dry_run,
                abandoned_episodes,
                dropped,
            };
            tracing::debug!(?report, "collected garbage");
            Ok(report)
        })
        .await
    }

    /// Collects garbage every [`Retention::every_hours`] (the first time at once) until the
    /// future is dropped; a failure is logged and tried again next time.
    pub async fn collect_garbage_in_background(&self) {
        let hours = self.config.retention.every_hours.max(1.0 / 60.0);
        let every = std::time::Duration::from_secs_f64(hours * 3600.0);
        loop {
            if let Err(err) = self.collect_garbage(false).await {
                tracing::warn!(error = %err, "collecting garbage failed; trying again later");
            }
            tokio::time::sleep(every).await;
        }
    }
}
