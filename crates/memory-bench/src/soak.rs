//! `memory bench soak`: does a store stay bounded under steady use?
//!
//! One process records episodes for a long simulated time (a manual clock advanced evenly,
//! `--days` over `--episodes`), with a retrieval every few episodes (each stores a session),
//! some episodes left running by their agent, and a tool set that changes every
//! [`SoakConfig::tool_epoch`] episodes (tools get a new version), so old patterns stop being
//! reinforced as they do when agents' tools change. Garbage is collected once per simulated
//! hour, as `memory serve` does. Every `--report-every` episodes a row gives the database's
//! size, the bytes per episode, the process's resident memory and what the store holds.
//!
//! Episodes are never dropped (they are what the user recorded), so the file grows with
//! them; what retention bounds is everything else — patterns, sessions, running episodes —
//! and the process's memory.

use crate::workload::WorkloadGen;
use memory_core::cache::CachedStorage;
use memory_core::retention::GarbageReport;
use memory_core::storage::prelude::*;
use memory_core::{
    Clock as _, EpisodeFilter, EpisodeStatus, ManualClock, MemoryConfig, MemoryError,
    SelfLearningMemory,
};
use memory_storage_turso::TursoStorage;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The namespace the soak writes to.
const NAMESPACE: &str = "soak";

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Episodes recorded.
    pub episodes: usize,
    /// A row every this many episodes.
    pub report_every: usize,
    /// Simulated days the episodes are spread over.
    pub days: f64,
    /// Steps per episode.
    pub steps: usize,
    /// A retrieval before every this many episodes.
    pub retrieve_every: usize,
    /// Every this many episodes one is left running (never completed by its agent).
    pub abandon_every: usize,
    /// Episodes between changes of the tool set.
    pub tool_epoch: usize,
    /// Collect garbage (off: the same run without retention, for comparison).
    pub collect: bool,
    /// Seed of the workload.
    pub seed: u64,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            episodes: 200_000,
            report_every: 20_000,
            days: 400.0,
            steps: 6,
            retrieve_every: 10,
            abandon_every: 100,
            tool_epoch: 5_000,
            collect: true,
            seed: 7,
        }
    }
}

/// One row: the store after `episodes` episodes.
#[derive(Debug, Clone, Serialize)]
pub struct SoakRow {
    /// Episodes recorded so far.
    pub episodes: usize,
    /// Simulated days elapsed.
    pub day: f64,
    /// Size of the database file and its WAL.
    pub db_bytes: u64,
    /// `db_bytes` per episode held.
    pub bytes_per_episode: f64,
    /// Resident memory of this process (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Patterns held.
    pub patterns: u64,
    /// Retrieval sessions held.
    pub sessions: u64,
    /// Episodes still running.
    pub running: u64,
    /// Wall time since the start, seconds.
    pub seconds: f64,
}

impl SoakRow {
    /// The head of the table [`SoakRow::to_markdown`] writes rows of.
    pub const HEADER: &str = "| episodes | day | database | bytes/episode | RSS | patterns | \
                              sessions | running | wall |\n|---|---|---|---|---|---|---|---|---|\n";

    /// The row as a line of a Markdown table.
    pub fn to_markdown(&self) -> String {
        format!(
            "| {} | {:.0} | {:.1} MB | {:.0} | {:.0} MiB | {} | {} | {} | {:.0} s |\n",
            self.episodes,
            self.day,
            self.db_bytes as f64 / 1e6,
            self.bytes_per_episode,
            self.rss_kib as f64 / 1024.0,
            self.patterns,
            self.sessions,
            self.running,
            self.seconds
        )
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// Episodes, days, steps and the other settings, in words.
    pub settings: String,
    /// One row per `report_every` episodes.
    pub rows: Vec<SoakRow>,
    /// What garbage collection did over the run.
    pub collected: GarbageReport,
}

impl SoakReport {
    /// The rows as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("{}\n\n{}", self.settings, SoakRow::HEADER);
        for r in &self.rows {
            s.push_str(&r.to_markdown());
        }
        let c = &self.collected;
        s.push_str(&format!(
            "\nCollected over the run: {} idle episodes completed as abandoned, {} sessions, {} \
             patterns, {} cached embeddings.\n",
            c.abandoned_episodes,
            c.dropped.sessions,
            c.dropped.patterns,
            c.dropped.cached_embeddings
        ));
        s
    }
}

/// Runs the soak in a database under `dir`, handing each row to `progress` as it is taken
/// (a long run shows how it goes).
pub async fn run(
    config: &SoakConfig,
    dir: &Path,
    progress: &mut (dyn FnMut(&SoakRow) + Send),
) -> Result<SoakReport, MemoryError> {
    let path = dir.join("soak.db");
    let store = Arc::new(TursoStorage::open(&path).await.map_err(MemoryError::from)?);
    let start =
        chrono::DateTime::<chrono::Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let clock = Arc::new(ManualClock::new(start));
    let memory = SelfLearningMemory::with_config(
        Arc::new(CachedStorage::new(store.clone())),
        MemoryConfig::default(),
        clock.clone(),
    );
    let mut workload = WorkloadGen::new(config.seed);
    let step_every = chrono::Duration::milliseconds(
        (config.days * 86_400_000.0 / config.episodes.max(1) as f64) as i64,
    );
    let mut collected = GarbageReport::default();
    let mut last_collect = start;
    let mut rows = Vec::new();
    let began = Instant::now();
    for i in 1..=config.episodes {
        if config.retrieve_every > 0 && i % config.retrieve_every == 0 {
            let mut query = workload.query();
            query.namespace = NAMESPACE.into();
            memory.retrieve_context(&query).await?;
        }
        let epoch = i / config.tool_epoch.max(1);
        let id = memory
            .start_episode(NAMESPACE, workload.new_episode())
            .await?;
        for mut step in workload.steps(config.steps) {
            step.tool = format!("{}@v{epoch}", step.tool);
            memory.log_step(NAMESPACE, id, step).await?;
        }
        if config.abandon_every == 0 || i % config.abandon_every != 0 {
            memory
                .complete_episode(NAMESPACE, id, workload.outcome())
                .await?;
        }
        clock.advance(step_every);
        if config.collect && clock.now() - last_collect >= chrono::Duration::hours(1) {
            last_collect = clock.now();
            let report = memory.collect_garbage(false).await?;
            collected.abandoned_episodes += report.abandoned_episodes;
            collected.dropped.sessions += report.dropped.sessions;
            collected.dropped.patterns += report.dropped.patterns;
            collected.dropped.cached_embeddings += report.dropped.cached_embeddings;
        }
        if i % config.report_every.max(1) == 0 || i == config.episodes {
            let elapsed = clock.now() - start;
            let taken = row(&memory, store.as_ref(), &path, i, elapsed, began).await?;
            progress(&taken);
            rows.push(taken);
        }
    }
    Ok(SoakReport {
        settings: format!(
            "{} episodes of {} steps over {} simulated days, a retrieval every {}, one in {} left \
             running, tools renamed every {} episodes; garbage {}",
            config.episodes,
            config.steps,
            config.days,
            config.retrieve_every,
            config.abandon_every,
            config.tool_epoch,
            if config.collect {
                "collected every simulated hour"
            } else {
                "never collected"
            }
        ),
        rows,
        collected,
    })
}

async fn row(
    memory: &SelfLearningMemory,
    store: &TursoStorage,
    path: &Path,
    episodes: usize,
    elapsed: chrono::Duration,
    began: Instant,
) -> Result<SoakRow, MemoryError> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    let db_bytes = size(path) + size(Path::new(&wal));
    let stats = store.storage_stats().await?;
    let running = memory
        .list_episodes(&EpisodeFilter {
            status: Some(EpisodeStatus::Running),
            limit: 1_000,
            ..EpisodeFilter::new(NAMESPACE)
        })
        .await?
        .len() as u64;
    let held = stats.episodes.max(1);
    Ok(SoakRow {
        episodes,
        day: elapsed.num_seconds() as f64 / 86_400.0,
        db_bytes,
        bytes_per_episode: db_bytes as f64 / held as f64,
        rss_kib: resident_kib(),
        patterns: stats.patterns,
        sessions: stats.sessions,
        running,
        seconds: began.elapsed().as_secs_f64(),
    })
}

/// This process's `VmRSS` in KiB (0 where `/proc` does not tell).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
