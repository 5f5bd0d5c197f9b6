//! The cost of learning on the write path: how long `complete_episode` takes — scoring,
//! reflecting, mining patterns and merging them in one transaction — when the store already
//! holds thousands of episodes and their patterns.
//!
//! Every episode is recorded through the public API (stored with its steps, then completed),
//! so the patterns in the store are the ones real completions produce. The last `samples`
//! completions are timed one by one, and the report gives their percentiles.

use crate::workload::{BENCH_NAMESPACE, WorkloadGen};
use chrono::{Duration, Utc};
use memory_core::{Episode, MemoryError, SelfLearningMemory};
use memory_storage_turso::TursoStorage;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// How the completion benchmark runs.
#[derive(Debug, Clone, Serialize)]
pub struct CompletionConfig {
    /// Episodes completed in all (the store's size when the last is timed).
    pub episodes: usize,
    /// How many of the last completions are timed.
    pub samples: usize,
    /// Steps per episode.
    pub steps: usize,
    /// Workload seed.
    pub seed: u64,
}

impl Default for CompletionConfig {
    fn default() -> Self {
        CompletionConfig {
            episodes: 10_000,
            samples: 1_000,
            steps: 10,
            seed: 11,
        }
    }
}

/// Percentiles of `complete_episode` with learning.
#[derive(Debug, Clone, Serialize)]
pub struct CompletionReport {
    /// The configuration it ran with.
    pub config: CompletionConfig,
    /// Patterns in the store at the end.
    pub patterns_in_store: usize,
    /// Time to record the untimed episodes, in seconds.
    pub seed_seconds: f64,
    /// Median completion time, microseconds.
    pub p50_us: f64,
    /// 95th percentile, microseconds.
    pub p95_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// Slowest, microseconds.
    pub max_us: f64,
}

impl CompletionReport {
    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        format!(
            "| metric | value |\n|---|---|\n\
             | episodes in store (with steps) | {} |\n\
             | patterns in store | {} |\n\
             | timed completions | {} |\n\
             | complete_episode p50 | {:.0} µs |\n\
             | complete_episode p95 | {:.0} µs |\n\
             | complete_episode p99 | {:.0} µs |\n\
             | slowest | {:.0} µs |\n\
             \nSeeding the first {} episodes through the same path took {:.1} s.\n",
            self.config.episodes,
            self.patterns_in_store,
            self.config.samples.min(self.config.episodes),
            self.p50_us,
            self.p95_us,
            self.p99_us,
            self.max_us,
            self.config.episodes - self.config.samples.min(self.config.episodes),
            self.seed_seconds
        )
    }
}

/// The `q`-quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Stores `episode` as running (with its steps) so it can be completed through the API.
fn as_running(mut episode: Episode) -> (Episode, memory_core::TaskOutcome) {
    let outcome = episode
        .outcome
        .take()
        .unwrap_or(memory_core::TaskOutcome::Abstained {
            reason: "generated without outcome".into(),
        });
    episode.ended_at = None;
    episode.reward = None;
    episode.reflection = None;
    (episode, outcome)
}

/// Records `config.episodes` episodes on a fresh database at `db_path`, timing the last
/// `config.samples` completions.
pub async fn run(
    config: &CompletionConfig,
    db_path: &Path,
) -> Result<CompletionReport, MemoryError> {
    let storage = TursoStorage::open(db_path)
        .await
        .map_err(MemoryError::from)?;
    let memory = SelfLearningMemory::new(Arc::new(storage));
    let mut generator = WorkloadGen::new(config.seed);
    let untimed = config.episodes.saturating_sub(config.samples);
    let start = Utc::now() - Duration::days(90);
    let mut times_us = Vec::with_capacity(config.samples);
    let seeding = Instant::now();
    let mut seed_seconds = 0.0;
    for i in 0..config.episodes {
        if i == untimed {
            seed_seconds = seeding.elapsed().as_secs_f64();
        }
        let at = start + Duration::seconds(i as i64 * 600);
        let (episode, outcome) =
            as_running(generator.completed_episode(BENCH_NAMESPACE, config.steps, at));
        memory.storage().store_episode(&episode).await?;
        let t = Instant::now();
        memory
            .complete_episode(BENCH_NAMESPACE, episode.id, outcome)
            .await?;
        if i >= untimed {
            times_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    if untimed == config.episodes {
        seed_seconds = seeding.elapsed().as_secs_f64();
    }
    times_us.sort_by(f64::total_cmp);
    let patterns_in_store = crate::count_patterns(&memory, BENCH_NAMESPACE).await?;
    Ok(CompletionReport {
        config: config.clone(),
        patterns_in_store,
        seed_seconds,
        p50_us: quantile(&times_us, 0.50),
        p95_us: quantile(&times_us, 0.95),
        p99_us: quantile(&times_us, 0.99),
        max_us: times_us.last().copied().unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.95), 95.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
