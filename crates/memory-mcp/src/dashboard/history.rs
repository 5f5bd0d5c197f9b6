//! The performance page's history: compact samples of the memory's figures, the last hour
//! of them, held in memory by the server (a restart starts it afresh). Samples are taken
//! only while the dashboard has been used within that hour: a sample asks the store for its
//! row counts, which a server nobody watches should not pay for every ten seconds.

use chrono::Utc;
use memory_core::SelfLearningMemory;
use memory_core::metrics::MemoryStats;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far back the history reaches.
pub const KEEP: Duration = Duration::from_secs(3600);

/// How often the server takes a sample while it runs.
pub const EVERY: Duration = Duration::from_secs(10);

/// The figures of one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Each operation's 95th percentile latency since start, in microseconds.
    pub p95_us: BTreeMap<String, u64>,
    /// Each operation's calls since start.
    pub calls: BTreeMap<String, u64>,
    /// Each cache tier's hits and misses since start.
    pub cache: BTreeMap<String, (u64, u64)>,
    /// Prepared-statement cache hits and misses since start.
    pub statements: Option<(u64, u64)>,
    /// Reader and writer connections in use now.
    pub in_use: Option<(u64, u64)>,
    /// Reader and writer utilisation since start (0..=1).
    pub utilisation: Option<(f64, f64)>,
    /// Operations waiting in the write queue now, and committed since start.
    pub write_queue: Option<(u64, u64)>,
}

impl Sample {
    /// The sample of `stats`, taken at `at_ms`.
    pub fn of(stats: &MemoryStats, at_ms: i64) -> Self {
        let s = &stats.storage;
        Sample {
            at_ms,
            p95_us: stats
                .operations
                .iter()
                .map(|o| (o.operation.clone(), o.latency.p95_us))
                .collect(),
            calls: stats
                .operations
                .iter()
                .map(|o| (o.operation.clone(), o.latency.count))
                .collect(),
            cache: s
                .caches
                .iter()
                .map(|c| (c.tier.clone(), (c.hits, c.misses)))
                .collect(),
            statements: s.statements.as_ref().map(|st| (st.hits, st.misses)),
            in_use: s
                .connections
                .as_ref()
                .map(|c| (c.readers.in_use, c.writer.in_use)),
            utilisation: s
                .connections
                .as_ref()
                .map(|c| (c.readers.utilisation, c.writer.utilisation)),
            write_queue: s.write_queue.as_ref().map(|q| (q.depth, q.operations)),
        }
    }
}

/// The samples of the last hour, oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
    /// When the dashboard's API was last called, in milliseconds since the Unix epoch.
    last_viewed_ms: AtomicI64,
}

impl History {
    /// Notes that the dashboard was used at `at_ms`: sampling goes on for an hour after.
    pub fn viewed(&self, at_ms: i64) {
        self.last_viewed_ms.fetch_max(at_ms, Ordering::Relaxed);
    }

    /// Whether the dashboard was used within [`KEEP`] before `at_ms`.
    pub fn watched(&self, at_ms: i64) -> bool {
        let last = self.last_viewed_ms.load(Ordering::Relaxed);
        last > 0 && at_ms - last <= KEEP.as_millis() as i64
    }

    /// Records `stats`, taken at `at_ms`, as a sample.
    pub fn record(&self, stats: &MemoryStats, at_ms: i64) {
        self.push(Sample::of(stats, at_ms));
    }

    /// Adds `sample` and drops those older than [`KEEP`] before it; a sample taken less than
    /// a second after the newest replaces nothing and is not kept.
    pub fn push(&self, sample: Sample) {
        let mut q = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if q.back()
            .is_some_and(|last| sample.at_ms - last.at_ms < 1_000)
        {
            return;
        }
        let horizon = sample.at_ms - KEEP.as_millis() as i64;
        while q.front().is_some_and(|first| first.at_ms < horizon) {
            q.pop_front();
        }
        q.push_back(sample);
    }

    /// Every sample held, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

/// Samples the memory's figures into `history` every [`EVERY`] while the dashboard is
/// [watched](History::watched), until `stop` is cancelled.
pub async fn sample_until(
    memory: SelfLearningMemory,
    history: Arc<History>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = Utc::now().timestamp_millis();
                if !history.watched(now) {
                    continue;
                }
                match memory.stats().await {
                    Ok(stats) => history.record(&stats, now),
                    Err(e) => tracing::debug!("dashboard history: cannot sample: {e}"),
                }
            }
            () = stop.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_hour() {
        let h = History::default();
        let stats = MemoryStats::default();
        for minute in 0..90 {
            h.push(Sample::of(&stats, minute * 60_000));
        }
        let kept = h.samples();
        assert_eq!(kept.first().map(|s| s.at_ms), Some(29 * 60_000));
        assert_eq!(kept.len(), 61);
        h.push(Sample::of(&stats, 89 * 60_000 + 10));
        assert_eq!(h.samples().len(), 61);
    }

    #[test]
    fn watched_for_an_hour_after_the_last_view() {
        let h = History::default();
        assert!(!h.watched(1_000));
        h.viewed(1_000);
        assert!(h.watched(1_000 + 3_600_000));
        assert!(!h.watched(1_001 + 3_600_000));
        h.viewed(500);
        assert!(
            !h.watched(1_001 + 3_600_000),
            "an older view does not extend it"
        );
    }
}
