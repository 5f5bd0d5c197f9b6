//! Latency of the core memory operations on a local libSQL file, through the public
//! `SelfLearningMemory` API: recording an episode, loading one, listing, and retrieval on a
//! 10,000-episode database.
//!
//! Databases are seeded once per benchmark, outside the measured code, with episodes from the
//! seeded `WorkloadGen`, so every run measures the same work. Run from the workspace root:
//!
//! ```text
//! cargo bench --bench storage_operations
//! ```
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration as ChronoDuration, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use memory_bench::workload::{BENCH_NAMESPACE, WorkloadGen};
use memory_core::cache::CachedStorage;
use memory_core::{EpisodeFilter, EpisodeStatus, SelfLearningMemory, StorageBackend};
use memory_storage_turso::TursoStorage;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::runtime::Runtime;
use uuid::Uuid;

/// Episodes in the database of the write, read and list benchmarks.
const SMALL_DB_EPISODES: usize = 1_000;
/// Episodes in the database of the retrieval benchmark.
const LARGE_DB_EPISODES: usize = 10_000;
/// Steps per seeded and per recorded episode.
const STEPS: usize = 10;
/// Seeded episodes start within this many days before now.
const SPREAD_DAYS: i64 = 90;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A memory on a fresh database file, the storage under it (for row counts), and the directory
/// that holds the file (kept alive by the caller).
fn open(rt: &Runtime) -> (TempDir, Arc<TursoStorage>, SelfLearningMemory) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let storage = Arc::new(
        rt.block_on(TursoStorage::open(&path))
            .expect("open database"),
    );
    let backend: Arc<dyn StorageBackend> = storage.clone();
    (dir, storage, SelfLearningMemory::new(backend))
}

fn report_size(rt: &Runtime, storage: &TursoStorage, when: &str) {
    let counts = rt.block_on(storage.row_counts()).expect("row counts");
    eprintln!(
        "database {when}: {} episodes, {} steps",
        counts.episodes, counts.steps
    );
}

/// Stores `n` completed episodes of `STEPS` steps, started over the last `SPREAD_DAYS` days,
/// and returns their ids.
fn seed(
    rt: &Runtime,
    memory: &SelfLearningMemory,
    generator: &mut WorkloadGen,
    n: usize,
) -> Vec<Uuid> {
    let started = Instant::now();
    let now = Utc::now();
    let spread_s = SPREAD_DAYS * 86_400;
    let ids = rt.block_on(async {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            // A fixed scramble of start times over the spread, so ids and times do not correlate.
            let offset = (i as i64).wrapping_mul(2_654_435_761).rem_euclid(spread_s);
            let episode = generator.completed_episode(
                BENCH_NAMESPACE,
                STEPS,
                now - ChronoDuration::seconds(offset),
            );
            memory
                .storage()
                .store_episode(&episode)
                .await
                .expect("store seeded episode");
            ids.push(episode.id);
        }
        ids
    });
    let took = started.elapsed();
    eprintln!(
        "seeded {n} episodes of {STEPS} steps in {:.2} s ({:.0} episodes/s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    ids
}

fn configured() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2))
}

/// Read by id and listing on a database of exactly `SMALL_DB_EPISODES` episodes, then the
/// write path on the same database (which grows by one episode per iteration).
fn small_db(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, storage, memory) = open(&rt);
    let mut generator = WorkloadGen::new(1);
    let ids = seed(&rt, &memory, &mut generator, SMALL_DB_EPISODES);

    let mut group = c.benchmark_group("get_episode");
    let mut turn = 0usize;
    group.bench_function("by_id", |b| {
        b.to_async(&rt).iter(|| {
            // A fixed walk over the seeded ids that visits them in scattered order.
            turn = turn.wrapping_add(7_919);
            let id = ids[turn % ids.len()];
            let memory = memory.clone();
            async move {
                let episode = memory
                    .get_episode(BENCH_NAMESPACE, id)
                    .await
                    .expect("get episode");
                assert_eq!(episode.steps.len(), STEPS);
                episode
            }
        });
    });
    // The same walk through the cache tier, after one pass has filled it.
    let cached = SelfLearningMemory::new(Arc::new(CachedStorage::new(Arc::clone(&storage))));
    rt.block_on(async {
        for id in &ids {
            cached
                .get_episode(BENCH_NAMESPACE, *id)
                .await
                .expect("warm the cache");
        }
    });
    group.bench_function("by_id_cached", |b| {
        b.to_async(&rt).iter(|| {
            turn = turn.wrapping_add(7_919);
            let id = ids[turn % ids.len()];
            let cached = cached.clone();
            async move {
                let episode = cached
                    .get_episode(BENCH_NAMESPACE, id)
                    .await
                    .expect("get episode");
                assert_eq!(episode.steps.len(), STEPS);
                episode
            }
        });
    });
    group.finish();

    let domains: Vec<&str> = WorkloadGen::domains().collect();
    let mut group = c.benchmark_group("list_episodes");
    let mut turn = 0usize;
    group.bench_function("filter_domain", |b| {
        b.to_async(&rt).iter(|| {
            turn += 1;
            let mut filter = EpisodeFilter::new(BENCH_NAMESPACE);
            filter.domain = Some(domains[turn % domains.len()].to_string());
            filter.status = Some(EpisodeStatus::Completed);
            filter.limit = 20;
            let memory = memory.clone();
            async move {
                let page = memory.list_episodes(&filter).await.expect("list");
                assert_eq!(page.len(), 20);
                page
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("store_episode");
    group.bench_function("start+10steps+complete", |b| {
        b.to_async(&rt).iter_batched(
            || {
                (
                    generator.new_episode(),
                    generator.steps(STEPS),
                    generator.outcome(),
                )
            },
            |(new, steps, outcome)| {
                let memory = memory.clone();
                async move {
                    let id = memory
                        .start_episode(BENCH_NAMESPACE, new)
                        .await
                        .expect("start");
                    for step in steps {
                        memory
                            .log_step(BENCH_NAMESPACE, id, step)
                            .await
                            .expect("log step");
                    }
                    memory
                        .complete_episode(BENCH_NAMESPACE, id, outcome)
                        .await
                        .expect("complete")
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
    report_size(&rt, &storage, "after store_episode");
}

/// Retrieval on a database of `LARGE_DB_EPISODES` completed episodes.
fn retrieval(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, _storage, memory) = open(&rt);
    let mut generator = WorkloadGen::new(2);
    seed(&rt, &memory, &mut generator, LARGE_DB_EPISODES);
    // Steady state: every episode has its vector. (Seeding stores completed episodes
    // directly; otherwise each measured retrieval would also index a few of the backlog.)
    let started = std::time::Instant::now();
    let embedded = rt
        .block_on(memory.embed_pending(512, |_, _| {}))
        .expect("embed the seeded episodes");
    eprintln!(
        "embedded {embedded} episodes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Show once that the queries find something, so the figure is not for empty results.
    let mut queries = WorkloadGen::new(3);
    let (mut hits, mut considered) = (0, 0);
    rt.block_on(async {
        for _ in 0..20 {
            let pack = memory
                .retrieve_context(&queries.query())
                .await
                .expect("retrieve");
            hits += pack.hits.len();
            considered += pack.candidates_considered;
        }
    });
    eprintln!(
        "retrieve_context sanity check: {:.1} hits and {:.1} candidates per query on average",
        hits as f64 / 20.0,
        considered as f64 / 20.0
    );

    let mut group = c.benchmark_group("retrieve_context");
    // One retrieval takes tens of milliseconds; give the 40 samples room.
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("10k", |b| {
        b.to_async(&rt).iter_batched(
            || queries.query(),
            |query| {
                let memory = memory.clone();
                async move { memory.retrieve_context(&query).await.expect("retrieve") }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// Episodes per iteration of the bulk-import benchmarks.
const IMPORT_EPISODES: usize = 10_000;

/// Bulk import into an empty database: `IMPORT_EPISODES` completed episodes of `STEPS` steps
/// per iteration, first through the batch API (`store_episodes`: one transaction, multi-row
/// inserts, text-log rows and tags included), then through `import` (the JSON Lines of an export
/// parsed and validated line by line, then the same batch path). Each iteration gets a new
/// database file; generating the episodes and opening the file are outside the timing.
fn bulk_import(c: &mut Criterion) {
    let rt = runtime();
    let mut generator = WorkloadGen::new(4);
    let now = Utc::now();
    let mut make = || -> Vec<memory_core::Episode> {
        (0..IMPORT_EPISODES)
            .map(|i| {
                generator.completed_episode(
                    BENCH_NAMESPACE,
                    STEPS,
                    now - ChronoDuration::seconds(i as i64 * 37),
                )
            })
            .collect()
    };

    let mut group = c.benchmark_group("bulk_import");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(criterion::Throughput::Elements(IMPORT_EPISODES as u64));
    group.bench_function("store_episodes/10k_x_10steps", |b| {
        b.iter_batched(
            || (open(&rt), make()),
            |((dir, storage, memory), episodes)| {
                rt.block_on(memory.storage().store_episodes(episodes))
                    .expect("store batch");
                (dir, storage, memory)
            },
            BatchSize::PerIteration,
        );
    });

    // The lines of an export of the same kind of store, made once.
    let lines: Vec<String> = {
        let (_dir, _storage, memory) = open(&rt);
        let episodes = make();
        rt.block_on(memory.storage().store_episodes(episodes))
            .expect("store batch");
        let mut lines = Vec::new();
        rt.block_on(memory.export(
            &memory_core::export::ExportFilter::new(BENCH_NAMESPACE),
            &mut |line: &str| {
                lines.push(line.to_string());
                Ok(())
            },
        ))
        .expect("export");
        lines
    };
    eprintln!(
        "bulk_import/jsonl: {} lines, {:.1} MiB",
        lines.len(),
        lines.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / (1 << 20) as f64
    );
    group.bench_function("import_jsonl/10k_x_10steps", |b| {
        b.iter_batched(
            || (open(&rt), lines.clone()),
            |((dir, storage, memory), lines)| {
                let summary = rt
                    .block_on(memory.import(lines.into_iter().map(Ok)))
                    .expect("import");
                assert_eq!(summary.counts.episodes, IMPORT_EPISODES as u64);
                (dir, storage, memory)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = configured();
    targets = small_db, retrieval, bulk_import
}
criterion_main!(benches);
