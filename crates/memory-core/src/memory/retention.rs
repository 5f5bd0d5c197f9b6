//! The facade's garbage collection: running episodes left behind completed as abandoned,
//! then the backend's collection of what the configured
//! [`Retention`](crate::retention::Retention) no longer keeps (see [`crate::retention`]
//! for the policy).

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result};
use crate::model::TaskOutcome;
use crate::retention::GarbageReport;
use crate::storage::GarbagePlan;

impl SelfLearningMemory {
    /// Drops what has outlived its use, as the configured
    /// [`Retention`](crate::retention::Retention) says (see [`crate::retention`]); with
    /// `dry_run`, only counts it. Safe beside other writers: each part is its
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

    /// Collects garbage every
    /// [`Retention::every_hours`](crate::retention::Retention::every_hours) (the first time
    /// at once) until the future is dropped; a failure is logged and tried again next time.
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
