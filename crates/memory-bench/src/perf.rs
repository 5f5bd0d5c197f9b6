//! `memory bench perf`: the performance layer measured against the targets of the project,
//! each figure next to a *baseline*: the same measurement with the layer switched off (no
//! cache tier, no prepared-statement reuse, one transaction per write, one insert per
//! episode), which is how the store ran before the layer existed.
//!
//! Everything runs on fresh temporary databases from the seeded workload generator, on a
//! multi-threaded runtime of its own (two workers by default, one per core here). Latencies
//! are reported as p50 / p95 / p99, and every row says how many times better than its
//! baseline the layer is.
//!
//! Two rows look at the whole system as a user runs it: `retrieve_context` on the read
//! store through the default cache tier and the default (hashing) embedder, after every
//! episode has its vector, each query with a cold query-result cache; and the resident
//! memory of the real `memory import` process (a child; see [`crate::resident`]) importing
//! an export of that store.

use crate::resident::{self, ResidentMemory};
use crate::rng::Rng;
use crate::workload::{BENCH_NAMESPACE, WorkloadGen};
use chrono::{DateTime, Duration as Days, Utc};
use memory_core::cache::{CacheConfig, CachedStorage, CachedStorageConfig, episode_bytes};
use memory_core::export::ExportFilter;
use memory_core::storage::prelude::*;
use memory_core::{Episode, MemoryError, RetrievalQuery, SelfLearningMemory, StorageBackend};
use memory_storage_turso::{TursoConfig, TursoStorage};
use serde::Serialize;
use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What `memory bench perf` runs.
#[derive(Debug, Clone, Serialize)]
pub struct PerfConfig {
    /// Episodes in the store the cache and read figures are measured on.
    pub episodes: usize,
    /// Steps per episode.
    pub steps: usize,
    /// Zipf exponent of the read popularity.
    pub zipf_s: f64,
    /// Cache budget as a share of the store's episodes (by estimated bytes).
    pub cache_fraction: f64,
    /// Reads before the hit rate is counted (to fill the cache).
    pub warmup_reads: usize,
    /// Reads whose hit rate is reported.
    pub reads: usize,
    /// Timed `get_episode` calls per latency figure.
    pub latency_samples: usize,
    /// Episodes written by the bulk-import figure.
    pub import_episodes: usize,
    /// Concurrent simulated agents in the online figure.
    pub agents: usize,
    /// Episodes each agent records in the online figure.
    pub episodes_per_agent: usize,
    /// Timed `retrieve_context` calls (distinct queries) on the read store.
    pub retrieval_queries: usize,
    /// The `memory` binary whose `import` the resident-memory row runs as a child process
    /// (`memory bench perf` passes itself); without it that row is not measured.
    pub memory_exe: Option<PathBuf>,
    /// Runtime worker threads.
    pub workers: usize,
    /// Workload seed.
    pub seed: u64,
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            episodes: 100_000,
            steps: 10,
            zipf_s: 1.0,
            cache_fraction: 0.10,
            warmup_reads: 200_000,
            reads: 500_000,
            latency_samples: 20_000,
            import_episodes: 20_000,
            agents: 8,
            episodes_per_agent: 100,
            retrieval_queries: 300,
            memory_exe: None,
            workers: 2,
            seed: 5,
        }
    }
}

/// One line of the table: a metric, its baseline, its value now and the target.
#[derive(Debug, Clone, Serialize)]
pub struct PerfRow {
    /// What is measured.
    pub metric: String,
    /// The same measurement with the performance layer off.
    pub baseline: String,
    /// The measurement now.
    pub now: String,
    /// The target.
    pub target: String,
    /// Whether "now" meets the target.
    pub met: bool,
    /// How many times better than the baseline "now" is (baseline ÷ now for a latency, now
    /// ÷ baseline for a throughput); `None` where there is no baseline to divide by.
    pub ratio: Option<f64>,
}

/// Latency percentiles of one measured operation, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Samples behind them.
    pub samples: usize,
}

impl Percentiles {
    /// The percentiles of `samples` (nearest rank).
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            if samples.is_empty() {
                return 0.0;
            }
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1].as_secs_f64() * 1e6
        };
        Percentiles {
            p50_us: at(0.50),
            p95_us: at(0.95),
            p99_us: at(0.99),
            samples: samples.len(),
        }
    }

    pub(crate) fn show(&self) -> String {
        format!(
            "p50 {} · p95 {} · p99 {}",
            micros_f(self.p50_us),
            micros_f(self.p95_us),
            micros_f(self.p99_us)
        )
    }
}

/// `baseline ÷ now` (how many times faster), when both are positive.
fn speedup(baseline: f64, now: f64) -> Option<f64> {
    (baseline > 0.0 && now > 0.0).then(|| baseline / now)
}

/// What the retrieval row measured.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RetrievalFigures {
    /// With the layer (default cache tier, statement cache).
    pub now: Percentiles,
    /// With it off (the store alone, no statement reuse).
    pub baseline: Percentiles,
    /// Seconds `embed_pending` took to give every episode of the read store its vector.
    pub embed_seconds: f64,
    /// Episodes embedded.
    pub embedded: u64,
    /// Mean episodes per context pack (so an empty result would show).
    pub mean_hits: f64,
}

/// What the resident-memory row measured.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ResidentFigures {
    /// The child `memory import` process.
    pub import: ResidentMemory,
    /// Episodes it imported.
    pub episodes: u64,
    /// Bytes of the JSON Lines file it read.
    pub file_bytes: u64,
}

/// The figures of one `memory bench perf` run.
#[derive(Debug, Clone, Serialize)]
pub struct PerfReport {
    /// The configuration it ran with.
    pub config: PerfConfig,
    /// The table.
    pub rows: Vec<PerfRow>,
    /// Hit rate an ideal cache holding exactly the most popular episodes would reach with
    /// the same budget (the ceiling for the hit-rate row).
    pub ideal_hit_rate: f64,
    /// Episodes the cache budget holds (estimated).
    pub cache_entries_budget: u64,
    /// Mean operations per group-commit transaction in the online run.
    pub online_mean_batch: f64,
    /// Share of the time since the online run's store was opened (almost all of it the
    /// run) that the writer connection was held (0..=1).
    pub online_writer_busy: f64,
    /// Seconds spent building the read store.
    pub seed_seconds: f64,
    /// The retrieval row's details.
    pub retrieval: RetrievalFigures,
    /// The resident-memory row's details, when it was measured.
    pub resident: Option<ResidentFigures>,
}

impl PerfReport {
    /// The table as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| metric | baseline | now | target | met | now vs baseline |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.metric,
                r.baseline,
                r.now,
                r.target,
                if r.met { "yes" } else { "**no**" },
                r.ratio
                    .map_or_else(|| "—".to_string(), |x| format!("{x:.1}× better"))
            ));
        }
        s.push_str(&format!(
            "\nCache budget: {:.0}% of the store's estimated bytes, about {} of {} episodes. \
             An ideal cache holding exactly the most popular episodes would hit {:.1}% of \
             Zipf(s={}) reads with that budget. Online run: {:.1} writes per group commit, \
             writer connection held {:.0}% of the time. Building the {}-episode store took {:.0} s.\n",
            self.config.cache_fraction * 100.0,
            self.cache_entries_budget,
            self.config.episodes,
            self.ideal_hit_rate * 100.0,
            self.config.zipf_s,
            self.online_mean_batch,
            self.online_writer_busy * 100.0,
            self.config.episodes,
            self.seed_seconds
        ));
        let r = &self.retrieval;
        s.push_str(&format!(
            "Retrieval: embedding the {} episodes with the default embedder took {:.0} s; \
             {} distinct queries, {:.1} episodes per pack on average.\n",
            r.embedded, r.embed_seconds, r.now.samples, r.mean_hits
        ));
        if let Some(m) = &self.resident {
            s.push_str(&format!(
                "Resident memory: `memory import` of {} episodes ({:.0} MB of JSON Lines) ran \
                 {:.1} s; peak VmHWM {:.0} MiB, VmRSS {:.0} MiB at the last of {} reads of \
                 /proc/<pid>/status.\n",
                m.episodes,
                m.file_bytes as f64 / 1e6,
                m.import.wall_ms as f64 / 1e3,
                m.import.peak_kib as f64 / 1024.0,
                m.import.last_rss_kib as f64 / 1024.0,
                m.import.samples
            ));
        }
        s
    }
}

/// Runs every measurement in `dir` on a runtime of its own (call it off any async runtime,
/// e.g. from `spawn_blocking`).
pub fn run(config: &PerfConfig, dir: &Path) -> Result<PerfReport, MemoryError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| MemoryError::Storage(Box::new(e)))?;
    runtime.block_on(run_async(config, dir))
}

async fn run_async(config: &PerfConfig, dir: &Path) -> Result<PerfReport, MemoryError> {
    let mut rows = Vec::new();

    // The read store: `episodes` completed episodes with their steps.
    let start = Utc::now() - Days::days(120);
    let episodes = completed_episodes(config.seed, config.episodes, config.steps, start);
    let total_bytes: u64 = episodes.iter().map(episode_bytes).sum();
    let ids: Vec<Uuid> = episodes.iter().map(|e| e.id).collect();
    let read_path = dir.join("read.db");
    let store = Arc::new(open(&read_path, TursoConfig::default()).await?);
    let seeding = Instant::now();
    let mut episodes = episodes.into_iter().peekable();
    while episodes.peek().is_some() {
        store
            .store_episodes(episodes.by_ref().take(5_000).collect())
            .await?;
    }
    let seed_seconds = seeding.elapsed().as_secs_f64();

    // Hit rate under Zipf reads with a cache budget of `cache_fraction` of the bytes.
    let budget = (total_bytes as f64 * config.cache_fraction) as u64;
    let cache = CachedStorageConfig {
        episodes: CacheConfig::with_capacity(budget),
        ..CachedStorageConfig::default()
    };
    let cached = CachedStorage::with_config(Arc::clone(&store), &cache);
    let zipf = Zipf::new(ids.len(), config.zipf_s);
    let mut rng = Rng(config.seed ^ 0x5eed);
    let by_rank = by_popularity(&ids, &mut rng);
    for _ in 0..config.warmup_reads {
        cached
            .get_episode(BENCH_NAMESPACE, by_rank[zipf.sample(&mut rng)])
            .await?;
    }
    let before = episode_cache_counts(&cached).await?;
    for _ in 0..config.reads {
        cached
            .get_episode(BENCH_NAMESPACE, by_rank[zipf.sample(&mut rng)])
            .await?;
    }
    let after = episode_cache_counts(&cached).await?;
    let hits = after.0 - before.0;
    let lookups = hits + (after.1 - before.1);
    let hit_rate = ratio(hits, lookups);
    let avg_bytes = total_bytes as f64 / ids.len().max(1) as f64;
    let budget_entries = (budget as f64 / avg_bytes) as u64;
    let ideal = zipf.mass_of_top(budget_entries as usize);
    rows.push(PerfRow {
        metric: format!(
            "cache hit rate, Zipf(s={}) reads over {} episodes, cache {:.0}% of them",
            config.zipf_s,
            config.episodes,
            config.cache_fraction * 100.0
        ),
        baseline: "0% (no cache)".into(),
        now: format!("{:.1}% (ideal {:.1}%)", hit_rate * 100.0, ideal * 100.0),
        target: "≥ 90%".into(),
        met: hit_rate >= 0.90,
        ratio: None,
    });

    // get_episode on a hit: the most popular episodes, already cached.
    let hot: Vec<Uuid> = by_rank.iter().take(64).copied().collect();
    for id in &hot {
        cached.get_episode(BENCH_NAMESPACE, *id).await?;
    }
    let hit = time_reads(&cached, &hot, config.latency_samples).await?;
    drop(cached);
    drop(store);

    // Every episode gets its vector, as `memory` would after `embed_pending` with the
    // default embedder. Closing the handle afterwards checkpoints the write-ahead log, so
    // the two sides below start from the same file state, each on a handle of its own.
    let memory = SelfLearningMemory::new(Arc::new(CachedStorage::new(Arc::new(
        open(&read_path, TursoConfig::default()).await?,
    ))));
    let embedding = Instant::now();
    let embedded = memory.embed_pending(512, |_, _| {}).await?;
    let embed_seconds = embedding.elapsed().as_secs_f64();
    drop(memory);

    // get_episode on a miss (random episodes, on the store itself) and retrieve_context as
    // `memory` runs it by default (the default cache tier and embedder), each query with a
    // cold query-result cache; each also with the layer off (the baseline: no cache tier,
    // no statement reuse).
    let mut sample_ids: Vec<Uuid> = (0..config.latency_samples.min(ids.len()))
        .map(|_| ids[rng.below(ids.len())])
        .collect();
    sample_ids.dedup();
    let queries = distinct_queries(
        config.seed ^ 0x7e7,
        RETRIEVAL_WARMUP + config.retrieval_queries,
    );
    let store = Arc::new(open(&read_path, TursoConfig::default()).await?);
    let miss = time_reads(store.as_ref(), &sample_ids, config.latency_samples).await?;
    drop(store);
    let store = open(&read_path, unprepared()).await?;
    let baseline = time_reads(&store, &sample_ids, config.latency_samples).await?;
    drop(store);
    // The two sides of the retrieval row alternate in ABBA order over the two halves of the
    // queries (layer on, off, off, on), each on a handle of its own, so that drift in the
    // machine or the file (kernel writeback, sessions written) weighs on both alike.
    let (warmup, timed) = queries.split_at(RETRIEVAL_WARMUP.min(queries.len()));
    let (first, second) = timed.split_at(timed.len() / 2);
    let mut now_times = Vec::new();
    let mut base_times = Vec::new();
    let mut hits = 0;
    for (layer, half) in [
        (true, first),
        (false, first),
        (false, second),
        (true, second),
    ] {
        let (times, found) = retrieval_side(&read_path, layer, warmup, half).await?;
        if layer {
            now_times.extend(times);
            hits += found;
        } else {
            base_times.extend(times);
        }
    }
    let mean_hits = hits as f64 / now_times.len().max(1) as f64;
    let retrieval_now = Percentiles::of(now_times);
    let retrieval_base = Percentiles::of(base_times);
    rows.push(PerfRow {
        metric: "get_episode, cache hit (target on p50)".into(),
        baseline: format!("{} (no cache)", baseline.show()),
        now: hit.show(),
        target: "p50 ≤ 5 µs".into(),
        met: hit.p50_us <= 5.0,
        ratio: speedup(baseline.p50_us, hit.p50_us),
    });
    rows.push(PerfRow {
        metric: "get_episode, cache miss, local file (target on p50)".into(),
        baseline: baseline.show(),
        now: miss.show(),
        target: "p50 ≤ 100 µs".into(),
        met: miss.p50_us <= 100.0,
        ratio: speedup(baseline.p50_us, miss.p50_us),
    });
    rows.push(PerfRow {
        metric: format!(
            "retrieve_context at {} episodes, cold query cache, default embedder (target on p99)",
            config.episodes
        ),
        baseline: retrieval_base.show(),
        now: retrieval_now.show(),
        target: "p99 ≤ 50 ms".into(),
        met: retrieval_now.samples > 0 && retrieval_now.p99_us <= 50_000.0,
        ratio: speedup(retrieval_base.p99_us, retrieval_now.p99_us),
    });
    let retrieval = RetrievalFigures {
        now: retrieval_now,
        baseline: retrieval_base,
        embed_seconds,
        embedded,
        mean_hits,
    };

    // Resident memory of the real `memory import` of an export of the read store.
    let resident = match &config.memory_exe {
        Some(exe) => Some(import_resident(exe, &read_path, dir, config.episodes as u64).await?),
        None => None,
    };
    let _ = std::fs::remove_file(&read_path);
    rows.push(match &resident {
        Some(m) => {
            let peak_mib = m.import.peak_kib as f64 / 1024.0;
            PerfRow {
                metric: format!(
                    "resident memory of `memory import` of {} episodes, default caches (peak VmHWM)",
                    m.episodes
                ),
                baseline: "—".into(),
                now: format!(
                    "{peak_mib:.0} MiB peak, {:.0} MiB at the end",
                    m.import.last_rss_kib as f64 / 1024.0
                ),
                target: "≤ 200 MB".into(),
                met: m.import.peak_kib * 1024 <= 200_000_000,
                ratio: None,
            }
        }
        None => PerfRow {
            metric: "resident memory after importing, default caches".into(),
            baseline: "—".into(),
            now: "not measured (no `memory` binary given)".into(),
            target: "≤ 200 MB".into(),
            met: false,
            ratio: None,
        },
    });

    // Bulk import: the batch API (one transaction, multi-row inserts) into an empty file,
    // against one `store_episode` transaction per episode (the baseline, on a tenth of them).
    let batch = completed_episodes(
        config.seed ^ 0x1_0000,
        config.import_episodes,
        config.steps,
        start,
    );
    let one_by_one = open(&dir.join("import-base.db"), TursoConfig::default()).await?;
    let sample = &batch[..(batch.len() / 10).max(1).min(batch.len())];
    let t = Instant::now();
    for e in sample {
        one_by_one.store_episode(e).await?;
    }
    let baseline_rate = sample.len() as f64 / t.elapsed().as_secs_f64();
    drop(one_by_one);
    let bulk = open(&dir.join("import.db"), TursoConfig::default()).await?;
    let imported = batch.len();
    let t = Instant::now();
    bulk.store_episodes(batch).await?;
    let import_rate = imported as f64 / t.elapsed().as_secs_f64();
    drop(bulk);
    rows.push(PerfRow {
        metric: format!(
            "bulk import throughput, {imported} episodes with {} steps, batch API",
            config.steps
        ),
        baseline: format!("{baseline_rate:.0} episodes/s (one transaction each)"),
        now: format!("{import_rate:.0} episodes/s"),
        target: "≥ 10,000 episodes/s".into(),
        met: import_rate >= 10_000.0,
        ratio: speedup(import_rate, baseline_rate),
    });

    // Online: concurrent agents doing start + steps + complete.
    let baseline_online = online(config, &dir.join("online-base.db"), false).await?;
    let now_online = online(config, &dir.join("online.db"), true).await?;
    rows.push(PerfRow {
        metric: format!(
            "online throughput, {} concurrent agents, start + {} steps + complete",
            config.agents, config.steps
        ),
        baseline: format!("{:.0} episodes/s", baseline_online.episodes_per_second),
        now: format!("{:.0} episodes/s", now_online.episodes_per_second),
        target: "≥ 2,000 episodes/s".into(),
        met: now_online.episodes_per_second >= 2_000.0,
        ratio: speedup(
            now_online.episodes_per_second,
            baseline_online.episodes_per_second,
        ),
    });
    let st = &now_online.statements;
    rows.push(PerfRow {
        metric: "prepared statements: hit rate in steady state / cached acquisition".into(),
        baseline: format!(
            "0% / {} per prepare",
            micros_f(baseline_online.prepare_mean_us)
        ),
        now: format!("{:.2}% / {:.2} µs", st.0 * 100.0, st.1 / 1000.0),
        target: "≥ 99% / ≤ 1 µs".into(),
        met: st.0 >= 0.99 && st.1 <= 1000.0,
        // Acquiring a cached statement against preparing it.
        ratio: speedup(baseline_online.prepare_mean_us, st.1 / 1000.0),
    });

    Ok(PerfReport {
        config: config.clone(),
        rows,
        ideal_hit_rate: ideal,
        cache_entries_budget: budget_entries,
        online_mean_batch: now_online.mean_batch,
        online_writer_busy: now_online.writer_busy,
        seed_seconds,
        retrieval,
        resident,
    })
}

/// `n` completed episodes of `steps` steps from the generator seeded with `seed`, started a
/// minute apart from `start`.
pub(crate) fn completed_episodes(
    seed: u64,
    n: usize,
    steps: usize,
    start: DateTime<Utc>,
) -> Vec<Episode> {
    let mut generator = WorkloadGen::new(seed);
    (0..n)
        .map(|i| {
            generator.completed_episode(
                BENCH_NAMESPACE,
                steps,
                start + Days::seconds(i as i64 * 60),
            )
        })
        .collect()
}

async fn open(path: &Path, config: TursoConfig) -> Result<TursoStorage, MemoryError> {
    TursoStorage::open_with(path, config)
        .await
        .map_err(MemoryError::from)
}

/// The episode cache tier's hits and misses so far (zero when the store has no such tier).
pub(crate) async fn episode_cache_counts(
    cached: &dyn StorageBackend,
) -> Result<(u64, u64), MemoryError> {
    let stats = cached.storage_stats().await?;
    let tier = stats
        .caches
        .iter()
        .find(|c| c.tier == "episodes")
        .cloned()
        .unwrap_or_default();
    Ok((tier.hits, tier.misses))
}

/// Latency of `samples` `get_episode` calls cycling over `ids`.
async fn time_reads(
    storage: &dyn StorageBackend,
    ids: &[Uuid],
    samples: usize,
) -> Result<Percentiles, MemoryError> {
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = ids[i % ids.len().max(1)];
        let t = Instant::now();
        storage.get_episode(BENCH_NAMESPACE, id).await?;
        times.push(t.elapsed());
    }
    Ok(Percentiles::of(times))
}

/// Untimed retrievals before the timed ones (the first calls load lazily built state).
const RETRIEVAL_WARMUP: usize = 10;

/// `n` generated retrieval queries, no two with the same text.
pub(crate) fn distinct_queries(seed: u64, n: usize) -> Vec<RetrievalQuery> {
    let mut generator = WorkloadGen::new(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    // The generator has a finite vocabulary; give up rather than loop forever.
    for _ in 0..n.saturating_mul(50) {
        if out.len() == n {
            break;
        }
        let query = generator.query();
        if seen.insert(query.text.clone()) {
            out.push(query);
        }
    }
    out
}

/// The store's configuration with the statement cache off (the baseline).
fn unprepared() -> TursoConfig {
    TursoConfig {
        statement_cache_capacity: 0,
        ..TursoConfig::default()
    }
}

/// Opens the read store (with the layer: the default cache tier and statement cache, as
/// `memory` opens it; without: the store alone, no statement reuse), runs `warmup`
/// untimed, then times `retrieve_context` for each of `timed`, the query-result tier
/// dropped before each call. Returns the latencies and the episodes found in all.
async fn retrieval_side(
    read_path: &Path,
    layer: bool,
    warmup: &[RetrievalQuery],
    timed: &[RetrievalQuery],
) -> Result<(Vec<Duration>, usize), MemoryError> {
    let (memory, cache) = if layer {
        let store = Arc::new(open(read_path, TursoConfig::default()).await?);
        let cache = Arc::new(CachedStorage::new(store));
        (SelfLearningMemory::new(cache.clone()), Some(cache))
    } else {
        let store = Arc::new(open(read_path, unprepared()).await?);
        (SelfLearningMemory::new(store), None)
    };
    for q in warmup {
        memory.retrieve_context(q).await?;
    }
    let mut times = Vec::with_capacity(timed.len());
    let mut hits = 0usize;
    for q in timed {
        if let Some(cache) = &cache {
            cache.clear_queries();
        }
        let t = Instant::now();
        let pack = memory.retrieve_context(q).await?;
        times.push(t.elapsed());
        hits += pack.hits.len();
    }
    Ok((times, hits))
}

/// Exports the read store at `read_path` to JSON Lines, then runs the real `memory import`
/// of that file into a new database as a child process and watches its resident memory.
async fn import_resident(
    exe: &Path,
    read_path: &Path,
    dir: &Path,
    episodes: u64,
) -> Result<ResidentFigures, MemoryError> {
    let file_path = dir.join("export.jsonl");
    let source = SelfLearningMemory::new(Arc::new(open(read_path, TursoConfig::default()).await?))
        .with_embedder(None);
    let file = std::fs::File::create(&file_path).map_err(MemoryError::storage)?;
    let mut w = std::io::BufWriter::new(file);
    let mut sink = |line: &str| -> std::io::Result<()> {
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")
    };
    source
        .export(&ExportFilter::new(BENCH_NAMESPACE), &mut sink)
        .await?;
    w.flush().map_err(MemoryError::storage)?;
    drop(w);
    drop(source);
    let file_bytes = std::fs::metadata(&file_path)
        .map_err(MemoryError::storage)?
        .len();
    let target = dir.join("imported.db");
    let args: Vec<std::ffi::OsString> = vec![
        "--db".into(),
        target.clone().into(),
        "--format".into(),
        "json".into(),
        "import".into(),
        file_path.clone().into(),
    ];
    let exe = exe.to_path_buf();
    let out = dir.join("import.json");
    let out_for_child = out.clone();
    let import = tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        resident::watch(&exe, &args, &out_for_child)
    })
    .await
    .map_err(MemoryError::storage)?
    .map_err(MemoryError::storage)?;
    // The import must really have stored the episodes it was timed on.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).map_err(MemoryError::storage)?)
            .map_err(MemoryError::storage)?;
    let imported = summary["episodes"].as_u64().unwrap_or(0);
    if imported != episodes {
        return Err(MemoryError::storage(std::io::Error::other(format!(
            "`memory import` reported {imported} episodes, expected {episodes}: {summary}"
        ))));
    }
    for path in [&file_path, &target] {
        let _ = std::fs::remove_file(path);
    }
    for suffix in ["-wal", "-shm"] {
        let mut p = target.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    Ok(ResidentFigures {
        import,
        episodes: imported,
        file_bytes,
    })
}

struct Online {
    episodes_per_second: f64,
    mean_batch: f64,
    /// Share of the time since the store was opened that the writer connection was held.
    writer_busy: f64,
    /// Statement hit rate and mean cached acquisition (ns).
    statements: (f64, f64),
    prepare_mean_us: f64,
}

/// `agents` concurrent agents each recording `episodes_per_agent` episodes through the
/// public API; `layer` switches the performance layer on or off.
async fn online(config: &PerfConfig, path: &Path, layer: bool) -> Result<Online, MemoryError> {
    let turso = TursoConfig {
        statement_cache_capacity: if layer {
            memory_storage_turso::DEFAULT_STATEMENT_CAPACITY
        } else {
            0
        },
        max_write_batch: if layer {
            TursoConfig::default().max_write_batch
        } else {
            1
        },
        ..TursoConfig::default()
    };
    let store = Arc::new(open(path, turso).await?);
    let backend: Arc<dyn StorageBackend> = if layer {
        Arc::new(CachedStorage::new(Arc::clone(&store)))
    } else {
        store.clone()
    };
    let memory = SelfLearningMemory::new(backend).with_embedder(None);
    // Inputs are generated before the clock starts.
    let mut generator = WorkloadGen::new(config.seed ^ 0xa9e7);
    let mut plans = Vec::new();
    for _ in 0..config.agents {
        let mut plan = Vec::new();
        for _ in 0..config.episodes_per_agent {
            plan.push((
                generator.new_episode(),
                generator.steps(config.steps),
                generator.outcome(),
            ));
        }
        plans.push(plan);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for plan in plans {
        let memory = memory.clone();
        tasks.push(tokio::spawn(async move {
            for (new, steps, outcome) in plan {
                let id = memory.start_episode(BENCH_NAMESPACE, new).await?;
                for step in steps {
                    memory.log_step(BENCH_NAMESPACE, id, step).await?;
                }
                memory
                    .complete_episode(BENCH_NAMESPACE, id, outcome)
                    .await?;
            }
            Ok::<(), MemoryError>(())
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| MemoryError::Storage(Box::new(e)))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = store.storage_stats().await?;
    let queue = stats.write_queue.unwrap_or_default();
    let st = stats.statements.unwrap_or_default();
    let total = (config.agents * config.episodes_per_agent) as f64;
    Ok(Online {
        episodes_per_second: total / elapsed.max(1e-9),
        mean_batch: queue.mean_batch(),
        writer_busy: stats
            .connections
            .as_ref()
            .map_or(0.0, |c| c.writer.utilisation),
        statements: (st.hit_rate(), st.mean_hit_ns()),
        prepare_mean_us: if st.misses == 0 {
            0.0
        } else {
            st.prepare_us as f64 / st.misses as f64
        },
    })
}

/// `ids` in order of popularity (index 0 the most popular): a fixed shuffle, so that
/// popularity is unrelated to the order the episodes were stored in.
pub(crate) fn by_popularity(ids: &[Uuid], rng: &mut Rng) -> Vec<Uuid> {
    let mut by_rank = ids.to_vec();
    for i in (1..by_rank.len()).rev() {
        by_rank.swap(i, rng.below(i + 1));
    }
    by_rank
}

/// Zipf-distributed ranks `0..n` (rank 0 most popular), sampled by inverse CDF.
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 1..=n {
            total += 1.0 / (k as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.cdf.len().saturating_sub(1))
    }

    /// Probability mass of the `k` most popular ranks.
    fn mass_of_top(&self, k: usize) -> f64 {
        match k {
            0 => 0.0,
            k => self.cdf[k.min(self.cdf.len()) - 1],
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A duration in microseconds, shown in µs below a millisecond and in ms above.
pub(crate) fn micros_f(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.1} ms", us / 1_000.0)
    } else if us < 10.0 {
        format!("{us:.2} µs")
    } else {
        format!("{us:.0} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=200).map(Duration::from_micros).collect();
        let p = Percentiles::of(samples);
        assert_eq!((p.p50_us, p.p95_us, p.p99_us), (100.0, 190.0, 198.0));
        assert_eq!(p.samples, 200);
        assert_eq!(Percentiles::of(Vec::new()).p99_us, 0.0);
        assert_eq!(micros_f(6.5), "6.50 µs");
        assert_eq!(micros_f(55.2), "55 µs");
        assert_eq!(micros_f(48_250.0), "48.2 ms");
    }

    #[test]
    fn distinct_queries_never_repeat_a_text() {
        let queries = distinct_queries(3, 300);
        assert_eq!(queries.len(), 300);
        let texts: HashSet<&str> = queries.iter().map(|q| q.text.as_str()).collect();
        assert_eq!(texts.len(), 300);
    }

    #[test]
    fn zipf_mass_matches_the_harmonic_numbers() {
        let z = Zipf::new(100_000, 1.0);
        // H(10,000) / H(100,000) = 9.7876 / 12.0901.
        assert!((z.mass_of_top(10_000) - 0.8096).abs() < 0.001);
        assert_eq!(z.mass_of_top(0), 0.0);
        assert!((z.mass_of_top(100_000) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn zipf_samples_favour_low_ranks() {
        let z = Zipf::new(1_000, 1.0);
        let mut rng = Rng(3);
        let draws: Vec<usize> = (0..20_000).map(|_| z.sample(&mut rng)).collect();
        let top = draws.iter().filter(|&&r| r < 100).count() as f64 / draws.len() as f64;
        assert!(
            (top - z.mass_of_top(100)).abs() < 0.02,
            "top-100 share {top}"
        );
        assert!(draws.iter().all(|&r| r < 1_000));
    }

    #[test]
    fn a_small_run_fills_every_row() {
        let dir = tempfile::TempDir::new().unwrap();
        let config = PerfConfig {
            episodes: 300,
            warmup_reads: 500,
            reads: 1_000,
            latency_samples: 200,
            import_episodes: 100,
            agents: 2,
            episodes_per_agent: 3,
            retrieval_queries: 20,
            ..PerfConfig::default()
        };
        let report = run(&config, dir.path()).unwrap();
        assert_eq!(report.rows.len(), 8);
        assert!(
            report
                .rows
                .iter()
                .any(|r| r.metric.starts_with("bulk import throughput"))
        );
        assert!(report.rows.iter().all(|r| !r.now.is_empty()));
        // Retrieval ran on vectors for every episode and found something every time.
        let r = &report.retrieval;
        assert_eq!(r.embedded, 300);
        assert_eq!((r.now.samples, r.baseline.samples), (20, 20));
        assert!(r.mean_hits > 0.0);
        assert!(
            report.rows.iter().any(
                |row| row.metric.starts_with("retrieve_context") && row.now.starts_with("p50 ")
            )
        );
        // Without a `memory` binary the resident-memory row says it was not measured (the
        // CLI's tests run it with the binary).
        assert!(report.resident.is_none());
        assert!(
            report
                .rows
                .iter()
                .any(|row| row.now.starts_with("not measured"))
        );
        let md = report.to_markdown();
        assert!(md.contains("| metric | baseline | now | target | met | now vs baseline |"));
    }
}
