//! `memory bench remote`: the memory on a libSQL server as agents on other machines see it.
//!
//! The store talks to the server through a [`Relay`] that adds a network's round-trip time
//! and counts round trips. For each round-trip time asked for, a fresh handle (the default
//! cache tier in front of the store, as `memory serve` runs it) records episodes one
//! operation at a time — each operation's round trips and latency —, reads them back
//! through the cache, retrieves context with a cold and a warm cache, records episodes from
//! several concurrent agents, and imports a batch. Each round-trip time is run with the
//! store talking to the server directly, and read through an embedded replica (whose syncs
//! go through the relay too); a replica run also times how soon a write shows through
//! another machine's replica. The server is one given by URL, or a `sqld` binary the
//! benchmark starts on a free loopback port and stops afterwards.

use crate::perf::{Percentiles, completed_episodes, distinct_queries, micros_f};
use crate::relay::Relay;
use crate::workload::WorkloadGen;
use chrono::{Duration as Days, Utc};
use memory_core::cache::CachedStorage;
use memory_core::storage::prelude::*;
use memory_core::{Embedder, MemoryError, SelfLearningMemory, StorageBackend};
use memory_storage_turso::{Location, TursoConfig, TursoStorage};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The memory failed an operation.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The server, the relay or the runtime could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// The server the benchmark measures against.
#[derive(Debug, Clone, Serialize)]
pub enum RemoteServer {
    /// A running server (`http://HOST:PORT`) and its token (empty: none).
    Url {
        /// The server's URL.
        url: String,
        /// Its token; never serialized.
        #[serde(skip)]
        token: String,
    },
    /// A `sqld` binary, started on a free loopback port in a temporary directory.
    Sqld(PathBuf),
}

/// How the measured store reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Every request goes to the server.
    Direct,
    /// Reads come from an embedded replica; writes go to the server.
    Replica,
}

impl Via {
    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Replica => "replica",
        }
    }
}

/// What `memory bench remote` runs.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteConfig {
    /// Where the server is.
    pub server: RemoteServer,
    /// How the store reaches it; every round-trip time is run once each way.
    pub via: Vec<Via>,
    /// Added round-trip times, in milliseconds; one run each.
    pub rtts_ms: Vec<u64>,
    /// Episodes one agent records operation by operation.
    pub episodes: usize,
    /// Steps per episode.
    pub steps: usize,
    /// Timed `get_episode` calls on cached episodes.
    pub cached_reads: usize,
    /// Distinct `retrieve_context` queries (each run cold, then warm).
    pub retrievals: usize,
    /// Concurrent agents of each online figure.
    pub agents: Vec<usize>,
    /// Episodes each concurrent agent records.
    pub episodes_per_agent: usize,
    /// Episodes of the bulk-import figure.
    pub import_episodes: usize,
    /// Workload seed.
    pub seed: u64,
}

impl RemoteConfig {
    /// The default workload against `server`, at 0 and 20 ms of added round-trip time.
    pub fn new(server: RemoteServer) -> Self {
        RemoteConfig {
            server,
            via: vec![Via::Direct, Via::Replica],
            rtts_ms: vec![0, 20],
            episodes: 10,
            steps: 5,
            cached_reads: 2_000,
            retrievals: 10,
            agents: vec![8, 64],
            episodes_per_agent: 2,
            import_episodes: 500,
            seed: 5,
        }
    }
}

/// One operation's figures at one round-trip time.
#[derive(Debug, Clone, Serialize)]
pub struct OpFigures {
    /// Round trips of one call: the median over the calls.
    pub round_trips_median: f64,
    /// Round trips of the call that made the most.
    pub round_trips_max: u64,
    /// Latency of one call.
    pub latency: Percentiles,
}

/// Everything measured at one round-trip time, one way of reaching the server.
#[derive(Debug, Clone, Serialize)]
pub struct RttRun {
    /// How the store reached the server.
    pub via: Via,
    /// The added round-trip time, in milliseconds.
    pub rtt_ms: u64,
    /// Per operation, by name.
    pub ops: BTreeMap<String, OpFigures>,
    /// Episodes per second (start + steps + complete) by number of concurrent agents.
    pub online_episodes_per_s: BTreeMap<usize, f64>,
    /// Episodes per second of one `store_episodes` batch.
    pub import_episodes_per_s: f64,
    /// The episode cache's hit rate under Zipf reads: alone, then while another process
    /// (another machine, through a replica) records other episodes in the namespace.
    pub hit_rate: HitRates,
}

/// The episode cache's hit rate under the same Zipf reads, with and without another writer.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HitRates {
    /// No other writer.
    pub alone: f64,
    /// Another process recording other episodes meanwhile.
    pub beside_a_writer: f64,
    /// Episodes the other process recorded during the reads.
    pub episodes_written_beside: u64,
}

/// The result of `memory bench remote`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteReport {
    /// What ran.
    pub config: RemoteConfig,
    /// One run per round-trip time, in the order asked.
    pub runs: Vec<RttRun>,
}

/// The operations measured one call at a time, in the order the table shows them, with
/// the target the project holds them to at 20 ms of round-trip time.
const OPS: [(&str, &str); 8] = [
    ("start_episode", "1 round trip, p50 ≤ 1.3 × RTT"),
    ("log_step", "1 round trip, p50 ≤ 1.3 × RTT"),
    ("complete_episode", "1 round trip, p50 ≤ 1.3 × RTT"),
    ("get_episode, cached", "0 round trips, p50 ≤ 10 µs"),
    (
        READ_AFTER_WRITE,
        "(no target: a replica's sync after the write)",
    ),
    ("retrieve_context, cold", "p99 < 100 ms"),
    (
        "retrieve_context, warm cache",
        "0 reads (its session write: 1)",
    ),
    (VISIBLE, "≤ sync interval (1 s) + 1 RTT"),
];

/// The figure of a write made through one replica until another machine's replica shows
/// it (replica runs only; its round trips are the other replica's syncs meanwhile).
const VISIBLE: &str = "a write, until another machine's replica shows it";

/// The name of the figure of a read of the store (no cache) made at once after a write.
const READ_AFTER_WRITE: &str = "get_episode, uncached, at once after a write";

impl RemoteReport {
    /// The report as Markdown tables: round trips and latency per operation, then
    /// throughput, one column per round-trip time.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| operation |");
        for run in &self.runs {
            s.push_str(&format!(" {}, {} ms RTT |", run.via.name(), run.rtt_ms));
        }
        s.push_str(" target (20 ms) |\n|---|");
        for _ in &self.runs {
            s.push_str("---|");
        }
        s.push_str("---|\n");
        for (op, target) in OPS {
            s.push_str(&format!("| {op} |"));
            for run in &self.runs {
                match run.ops.get(op) {
                    Some(f) => s.push_str(&format!(
                        " {} round trips (max {}); p50 {} · p99 {} |",
                        trips(f.round_trips_median),
                        f.round_trips_max,
                        micros_f(f.latency.p50_us),
                        micros_f(f.latency.p99_us)
                    )),
                    None => s.push_str(" — |"),
                }
            }
            s.push_str(&format!(" {target} |\n"));
        }
        for agents in &self.config.agents {
            s.push_str(&format!(
                "| online, {agents} concurrent agents, start + {} steps + complete |",
                self.config.steps
            ));
            for run in &self.runs {
                match run.online_episodes_per_s.get(agents) {
                    Some(rate) => s.push_str(&format!(" {rate:.1} episodes/s |")),
                    None => s.push_str(" — |"),
                }
            }
            let target = match agents {
                8 => "≥ 30 episodes/s",
                64 => "≥ 200 episodes/s",
                _ => "—",
            };
            s.push_str(&format!(" {target} |\n"));
        }
        s.push_str(&format!(
            "| bulk import, {} episodes in one batch |",
            self.config.import_episodes
        ));
        for run in &self.runs {
            s.push_str(&format!(" {:.0} episodes/s |", run.import_episodes_per_s));
        }
        s.push_str(" ≥ 5,000 episodes/s |\n");
        s.push_str(&format!(
            "| cache hit rate, Zipf reads over {} episodes for {} s, another process recording other episodes (alone) |",
            self.config.episodes + self.config.import_episodes,
            HIT_RATE_WINDOW.as_secs_f64()
        ));
        for run in &self.runs {
            let h = run.hit_rate;
            s.push_str(&format!(
                " {:.1}% ({:.1}%; {} written beside) |",
                h.beside_a_writer * 100.0,
                h.alone * 100.0,
                h.episodes_written_beside
            ));
        }
        s.push_str(" ≥ 90% of alone |\n");
        s
    }
}

fn trips(median: f64) -> String {
    if median.fract() == 0.0 {
        format!("{median:.0}")
    } else {
        format!("{median:.1}")
    }
}

/// Runs the benchmark on a multi-threaded runtime of its own (two workers, one per core
/// here), with `embedder` for the memory's vectors.
pub fn run(
    config: &RemoteConfig,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<RemoteReport, RemoteError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(setup_error)?;
    runtime.block_on(run_async(config, embedder))
}

async fn run_async(
    config: &RemoteConfig,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<RemoteReport, RemoteError> {
    let (_sqld, url, token) = match &config.server {
        RemoteServer::Url { url, token } => (None, url.clone(), token.clone()),
        RemoteServer::Sqld(bin) => {
            let sqld = SqldProcess::start(bin)?;
            let url = format!("http://{}", sqld.addr);
            (Some(sqld), url, String::new())
        }
    };
    let upstream = upstream_addr(&url).await?;
    let replicas = tempfile::tempdir().map_err(setup_error)?;
    let mut runs = Vec::new();
    for &rtt_ms in &config.rtts_ms {
        for &via in &config.via {
            let relay = Relay::start(upstream, Duration::from_millis(rtt_ms))
                .await
                .map_err(setup_error)?;
            let mut location = Location::parse(&relay.url(), Some(token.clone()));
            if via == Via::Replica {
                let file = replicas.path().join(format!("replica-{rtt_ms}ms.db"));
                location = location.with_replica(file).ok_or_else(|| {
                    RemoteError::Setup("a replica needs a server URL".to_string())
                })?;
            }
            let mut run = measure(config, &relay, location, rtt_ms, embedder.clone()).await?;
            run.via = via;
            runs.push(run);
        }
    }
    Ok(RemoteReport {
        config: config.clone(),
        runs,
    })
}

/// Everything measured through `relay` at `rtt_ms`.
async fn measure(
    config: &RemoteConfig,
    relay: &Relay,
    location: Location,
    rtt_ms: u64,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<RttRun, RemoteError> {
    let other_machine = match &location {
        Location::Replica { path, .. } => {
            let other = location
                .clone()
                .with_replica(path.with_extension("other.db"));
            Some(other.ok_or_else(|| RemoteError::Setup("no replica".to_string()))?)
        }
        _ => None,
    };
    // The other process of the hit-rate figure: on a machine (a replica) of its own.
    let other_writer = match &location {
        Location::Replica { path, .. } => location
            .clone()
            .with_replica(path.with_extension("writer.db"))
            .ok_or_else(|| RemoteError::Setup("no replica".to_string()))?,
        _ => location.clone(),
    };
    let via = if other_machine.is_some() {
        Via::Replica
    } else {
        Via::Direct
    };
    let store = Arc::new(
        TursoStorage::open_at(location, TursoConfig::default())
            .await
            .map_err(MemoryError::from)?,
    );
    let cached: Arc<dyn StorageBackend> = Arc::new(CachedStorage::new(Arc::clone(&store)));
    let memory = SelfLearningMemory::new(Arc::clone(&cached)).with_embedder(embedder);
    // A namespace of its own, so that runs on a long-lived server never mix.
    let ns = format!(
        "bench-remote-{}-{rtt_ms}ms-{}",
        via.name(),
        Uuid::now_v7().simple()
    );
    let mut samples: BTreeMap<&'static str, Vec<(Duration, u64)>> = BTreeMap::new();
    let mut timed = |op: &'static str, took: Duration, trips: u64| {
        samples.entry(op).or_default().push((took, trips));
    };

    // One agent, one operation at a time. The first episode is not timed: it prepares the
    // statements, as a long-running process does once.
    let mut generator = WorkloadGen::new(config.seed ^ rtt_ms);
    let mut ids = Vec::with_capacity(config.episodes);
    for n in 0..=config.episodes {
        if n == 0 {
            let id = memory.start_episode(&ns, generator.new_episode()).await?;
            for step in generator.steps(config.steps) {
                memory.log_step(&ns, id, step).await?;
            }
            memory
                .complete_episode(&ns, id, generator.outcome())
                .await?;
            continue;
        }
        let (new, steps, outcome) = (
            generator.new_episode(),
            generator.steps(config.steps),
            generator.outcome(),
        );
        // Before each timed call, a replica's sync after the previous write (which runs
        // once the write is answered) has finished: its round trips are not the next
        // call's. What the sync costs a read that comes at once is timed below.
        store.finish_background_work().await;
        let (took, trips, id) = counted(relay, memory.start_episode(&ns, new)).await?;
        timed("start_episode", took, trips);
        for step in steps {
            store.finish_background_work().await;
            let (took, trips, _) = counted(relay, memory.log_step(&ns, id, step)).await?;
            timed("log_step", took, trips);
        }
        store.finish_background_work().await;
        let (took, trips, _) = counted(relay, memory.complete_episode(&ns, id, outcome)).await?;
        timed("complete_episode", took, trips);
        // The store read at once after a write: through a replica it waits for the sync
        // bringing that write.
        let (took, trips, read) = counted(relay, store.get_episode(&ns, id)).await?;
        if read.is_none_or(|episode| episode.outcome.is_none()) {
            return Err(RemoteError::Setup(format!(
                "a read of the store ({}) did not show the episode it had just completed",
                via.name()
            )));
        }
        timed(READ_AFTER_WRITE, took, trips);
        ids.push(id);
    }

    // Reads of episodes the cache holds (each read once to be sure it does).
    for id in &ids {
        memory.get_episode(&ns, *id).await?;
    }
    for i in 0..config.cached_reads {
        let id = ids[i % ids.len().max(1)];
        let (took, trips, _) = counted(relay, memory.get_episode(&ns, id)).await?;
        timed("get_episode, cached", took, trips);
    }

    // Retrieval: every query cold, then every query again with the caches warm.
    let queries = distinct_queries(config.seed ^ 0x7e7, config.retrievals);
    for (op, round) in [
        ("retrieve_context, cold", 0),
        ("retrieve_context, warm cache", 1),
    ] {
        for query in &queries {
            let mut query = query.clone();
            query.namespace.clone_from(&ns);
            store.finish_background_work().await;
            let (took, trips, _) = counted(relay, memory.retrieve_context(&query)).await?;
            let _ = round;
            timed(op, took, trips);
        }
    }

    // Another machine reading through a replica of its own: how long until it shows each
    // of a few writes made here (polled every millisecond, as a reader would ask).
    if let Some(other) = other_machine {
        let other = TursoStorage::open_at(other, TursoConfig::default())
            .await
            .map_err(MemoryError::from)?;
        for _ in 0..VISIBILITY_SAMPLES {
            let id = memory.start_episode(&ns, generator.new_episode()).await?;
            let (took, trips, ()) = counted(relay, async {
                while other.get_episode(&ns, id).await?.is_none() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Ok(())
            })
            .await?;
            timed(VISIBLE, took, trips);
        }
    }

    let mut online_episodes_per_s = BTreeMap::new();
    for &agents in &config.agents {
        let rate = online(&memory, &ns, config, agents, rtt_ms).await?;
        online_episodes_per_s.insert(agents, rate);
    }

    let batch: Vec<_> = completed_episodes(
        config.seed ^ 0x1_0000 ^ rtt_ms,
        config.import_episodes,
        config.steps,
        Utc::now() - Days::days(30),
    )
    .into_iter()
    .map(|mut e| {
        e.namespace.clone_from(&ns);
        e
    })
    .collect();
    ids.extend(batch.iter().map(|e| e.id));
    let imported = batch.len();
    let started = Instant::now();
    store.store_episodes(batch).await?;
    let import_episodes_per_s = imported as f64 / started.elapsed().as_secs_f64().max(1e-9);
    // A snapshot of the text index the searches started is written here, not during the
    // next run (where its transaction would hold the server's write lock).
    store.finish_background_work().await;

    let hit_rate = hit_rates(
        &memory,
        cached.as_ref(),
        other_writer,
        &ns,
        &ids,
        config,
        rtt_ms,
    )
    .await?;

    let ops = samples
        .into_iter()
        .map(|(op, calls)| (op.to_string(), figures(calls)))
        .collect();
    Ok(RttRun {
        via,
        rtt_ms,
        ops,
        online_episodes_per_s,
        import_episodes_per_s,
        hit_rate,
    })
}

/// How long each half of the hit-rate figure reads.
const HIT_RATE_WINDOW: Duration = Duration::from_secs(3);

/// The episode cache's hit rate under Zipf(s=1) reads of `ids` (popularity unrelated to
/// age), paced a millisecond apart for [`HIT_RATE_WINDOW`]: alone, then while a second
/// handle on the store (`other`: another process, or another machine's replica) records
/// other episodes in the same namespace.
async fn hit_rates(
    memory: &SelfLearningMemory,
    cached: &dyn StorageBackend,
    other: Location,
    ns: &str,
    ids: &[Uuid],
    config: &RemoteConfig,
    rtt_ms: u64,
) -> Result<HitRates, RemoteError> {
    let zipf = crate::perf::Zipf::new(ids.len(), 1.0);
    let mut rng = crate::rng::Rng(config.seed ^ 0x417 ^ rtt_ms);
    let by_rank = crate::perf::by_popularity(ids, &mut rng);
    let mut read_for = async |window: Duration| -> Result<f64, RemoteError> {
        let before = crate::perf::episode_cache_counts(cached).await?;
        let started = Instant::now();
        while started.elapsed() < window {
            memory
                .get_episode(ns, by_rank[zipf.sample(&mut rng)])
                .await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let after = crate::perf::episode_cache_counts(cached).await?;
        let (hits, misses) = (after.0 - before.0, after.1 - before.1);
        Ok(hits as f64 / (hits + misses).max(1) as f64)
    };
    // Warm: every episode read once, then a window of reads not counted.
    for id in ids {
        memory.get_episode(ns, *id).await?;
    }
    read_for(HIT_RATE_WINDOW / 3).await?;
    let alone = read_for(HIT_RATE_WINDOW).await?;

    let writer = SelfLearningMemory::new(Arc::new(
        TursoStorage::open_at(other, TursoConfig::default())
            .await
            .map_err(MemoryError::from)?,
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = tokio::spawn({
        let (stop, ns) = (Arc::clone(&stop), ns.to_string());
        let mut generator = WorkloadGen::new(config.seed ^ 0x3e17 ^ rtt_ms);
        let steps = config.steps;
        async move {
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = writer.start_episode(&ns, generator.new_episode()).await?;
                for step in generator.steps(steps) {
                    writer.log_step(&ns, id, step).await?;
                }
                writer
                    .complete_episode(&ns, id, generator.outcome())
                    .await?;
                written += 1;
            }
            Ok::<u64, MemoryError>(written)
        }
    });
    let beside = read_for(HIT_RATE_WINDOW).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writing.await.map_err(setup_error)??;
    Ok(HitRates {
        alone,
        beside_a_writer: beside?,
        episodes_written_beside: written,
    })
}

/// Writes timed until another machine's replica shows them.
const VISIBILITY_SAMPLES: usize = 5;

/// Runs `call`, returning how long it took and how many round trips went through `relay`
/// meanwhile.
async fn counted<T>(
    relay: &Relay,
    call: impl std::future::Future<Output = Result<T, MemoryError>>,
) -> Result<(Duration, u64, T), MemoryError> {
    let before = relay.round_trips();
    let started = Instant::now();
    let answer = call.await?;
    let took = started.elapsed();
    Ok((took, relay.round_trips() - before, answer))
}

fn figures(calls: Vec<(Duration, u64)>) -> OpFigures {
    let mut trips: Vec<u64> = calls.iter().map(|(_, t)| *t).collect();
    trips.sort_unstable();
    let round_trips_median = match trips.len() {
        0 => 0.0,
        n if n % 2 == 1 => trips[n / 2] as f64,
        n => (trips[n / 2 - 1] + trips[n / 2]) as f64 / 2.0,
    };
    OpFigures {
        round_trips_median,
        round_trips_max: trips.last().copied().unwrap_or(0),
        latency: Percentiles::of(calls.into_iter().map(|(d, _)| d).collect()),
    }
}

/// Episodes per second recorded by `agents` concurrent agents, each recording
/// `episodes_per_agent` episodes of `steps` steps.
async fn online(
    memory: &SelfLearningMemory,
    ns: &str,
    config: &RemoteConfig,
    agents: usize,
    rtt_ms: u64,
) -> Result<f64, RemoteError> {
    let mut generator = WorkloadGen::new(config.seed ^ 0xa9e7 ^ rtt_ms ^ agents as u64);
    let plans: Vec<Vec<_>> = (0..agents)
        .map(|_| {
            (0..config.episodes_per_agent)
                .map(|_| {
                    (
                        generator.new_episode(),
                        generator.steps(config.steps),
                        generator.outcome(),
                    )
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(agents);
    for plan in plans {
        let memory = memory.clone();
        let ns = ns.to_string();
        tasks.push(tokio::spawn(async move {
            for (new, steps, outcome) in plan {
                let id = memory.start_episode(&ns, new).await?;
                for step in steps {
                    memory.log_step(&ns, id, step).await?;
                }
                memory.complete_episode(&ns, id, outcome).await?;
            }
            Ok::<(), MemoryError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(setup_error)??;
    }
    let total = (agents * config.episodes_per_agent) as f64;
    Ok(total / started.elapsed().as_secs_f64().max(1e-9))
}

/// The socket address of the server `url` names (`http://HOST:PORT`; the relay speaks plain
/// TCP, so an `https://` or `libsql://` server cannot be put behind it).
async fn upstream_addr(url: &str) -> Result<SocketAddr, RemoteError> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(RemoteError::Setup(format!(
            "`{url}` is not an http:// URL; the relay can only sit in front of plain HTTP"
        )));
    };
    let host = rest.split('/').next().unwrap_or(rest);
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    tokio::net::lookup_host(&host)
        .await
        .map_err(setup_error)?
        .next()
        .ok_or_else(|| RemoteError::Setup(format!("`{host}` resolves to nothing")))
}

/// A `sqld` the benchmark started, stopped when dropped.
struct SqldProcess {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl SqldProcess {
    /// Starts `bin` on a free loopback port with its data in a temporary directory, and
    /// waits (up to 30 s) until it listens.
    fn start(bin: &std::path::Path) -> Result<SqldProcess, RemoteError> {
        let dir = tempfile::tempdir().map_err(setup_error)?;
        let port = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(setup_error)?
            .port();
        let addr = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        let child = Command::new(bin)
            .arg("--db-path")
            .arg(dir.path().join("data"))
            .arg("--http-listen-addr")
            .arg(addr.to_string())
            .arg("--no-welcome")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| RemoteError::Setup(format!("cannot start {}: {e}", bin.display())))?;
        let mut server = SqldProcess {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(RemoteError::Setup(format!(
                    "{} exited before listening ({status})",
                    bin.display()
                )));
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(RemoteError::Setup(format!(
                    "{} did not listen on {addr} within 30 s",
                    bin.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SqldProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn setup_error(err: impl std::fmt::Display) -> RemoteError {
    RemoteError::Setup(err.to_string())
}
