//! The command-line grammar of `memory`: every command, flag and environment variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
use memory_core::retention::Retention;
use std::path::PathBuf;

/// Self-learning memory for AI agents: record what an agent did, learn from it, and hand the
/// most relevant experience back for the next task.
#[derive(Debug, Parser)]
#[command(name = "memory", version, propagate_version = true)]
pub struct Cli {
    /// Where the memory is kept.
    #[command(flatten)]
    pub db: DbArgs,

    /// Namespace (agent, project or tenant) every command works in.
    #[arg(
        long,
        global = true,
        env = "MEMORY_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,

    /// Output format.
    #[arg(long, global = true, env = "MEMORY_FORMAT", value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Which embedder vector search uses.
    #[command(flatten)]
    pub embedder: EmbedderArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A positive number of seconds (fractions allowed) as a duration.
fn seconds(raw: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("`{raw}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{raw}` must be more than 0 and at most 86400 seconds"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Where the memory is kept, from flags or the environment.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database: a file path, or the URL of a libSQL server (`libsql://…` for Turso Cloud,
    /// `https://…` or `http://…` for a self-hosted `sqld`) [default: memory.db in the OS data
    /// directory].
    #[arg(long, global = true, env = "MEMORY_DB", value_name = "PATH|URL")]
    pub db: Option<String>,

    /// Token for the libSQL server named by --db (a Turso database token, or a JWT signed
    /// with the key `sqld` was started with). Not the token of `memory serve`.
    #[arg(
        long,
        global = true,
        env = "MEMORY_DB_AUTH_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub db_auth_token: Option<String>,

    /// Seconds a libSQL server named by --db has to answer one request before the command
    /// fails (a server that accepts connections but stopped answering is reported, not
    /// waited on). Not used for a file.
    #[arg(
        long,
        global = true,
        env = "MEMORY_DB_TIMEOUT",
        value_name = "SECONDS",
        default_value = "15",
        value_parser = seconds
    )]
    pub db_timeout: std::time::Duration,

    /// Read the libSQL server named by --db through an embedded replica kept in this local
    /// file (created and filled from the server if missing): reads are local, writes go to
    /// the server, and the file catches up after each write and every --sync-interval.
    /// While the server is down the replica still answers reads.
    #[arg(long, global = true, env = "MEMORY_REPLICA", value_name = "FILE")]
    pub replica: Option<PathBuf>,

    /// Seconds between an embedded replica's syncs with its server (it also syncs after
    /// each of its own writes): how soon other machines' writes are read here.
    #[arg(
        long,
        global = true,
        env = "MEMORY_SYNC_INTERVAL",
        value_name = "SECONDS",
        default_value = "1",
        value_parser = seconds
    )]
    pub sync_interval: std::time::Duration,

    /// When a commit to a local file counts as done: `normal` (survives the process
    /// crashing; a power loss may take the last commits, never the file's consistency) or
    /// `full` (flushed to disk before it is acknowledged: survives a power loss, each write
    /// waits for the disk). A server decides for itself.
    #[arg(
        long,
        global = true,
        env = "MEMORY_DURABILITY",
        value_name = "LEVEL",
        default_value = "normal",
        value_parser = ["normal", "full"]
    )]
    pub durability: String,
}

impl Default for DbArgs {
    /// What the flags are when none is given and no variable is set.
    fn default() -> Self {
        DbArgs {
            db: None,
            db_auth_token: None,
            db_timeout: memory_storage_turso::DEFAULT_REQUEST_TIMEOUT,
            replica: None,
            sync_interval: memory_storage_turso::DEFAULT_SYNC_INTERVAL,
            durability: "normal".to_string(),
        }
    }
}

/// The embedder for vector search, from flags or the environment.
#[derive(Debug, Args, Clone)]
pub struct EmbedderArgs {
    /// Embedder for vector search: `hash` (local, no model), `hash:DIM`, `none` (full-text
    /// search only), `local:DIR` (a sentence-embedding model such as all-MiniLM-L6-v2 run
    /// in-process from a directory with config.json, tokenizer.json and model.safetensors)
    /// or `openai:MODEL` (any OpenAI-compatible /v1/embeddings server: OpenAI, Ollama, vLLM,
    /// LM Studio). Switching the embedder of a store takes `memory reembed`.
    /// [default: the model `memory model pull` installed, else `hash`]
    #[arg(long, global = true, env = "MEMORY_EMBEDDER")]
    pub embedder: Option<String>,
    /// Base URL of the OpenAI-compatible server (for `openai:MODEL`).
    #[arg(
        long,
        global = true,
        env = "MEMORY_EMBEDDER_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub embedder_url: String,
    /// Dimension of the model's vectors (required for `openai:MODEL`).
    #[arg(long, global = true, env = "MEMORY_EMBEDDER_DIM")]
    pub embedder_dim: Option<usize>,
    /// API key of the server, if it needs one.
    #[arg(
        long,
        global = true,
        env = "MEMORY_EMBEDDER_API_KEY",
        hide_env_values = true
    )]
    pub embedder_api_key: Option<String>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text.
    Human,
    /// One JSON document on stdout.
    Json,
    /// Graphviz DOT (`memory graph` only).
    Dot,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record and inspect episodes (one attempt at one task).
    #[command(subcommand)]
    Episode(EpisodeCommand),
    /// Print the past experience most relevant to a new task, as a Markdown context pack.
    Retrieve(RetrieveArgs),
    /// Inspect the patterns learned across episodes.
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// Inspect the rules in words derived from well-supported patterns.
    #[command(subcommand)]
    Heuristic(HeuristicCommand),
    /// Report which recommendations of a retrieval were applied and how the task ended.
    Feedback(FeedbackArgs),
    /// Record a dozen realistic episodes and retrieve experience for a new task: the whole loop.
    Demo(DemoArgs),
    /// Show the configuration in force.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Install (`pull`) or inspect (`show`) the local sentence-embedding model,
    /// all-MiniLM-L6-v2, which the memory then uses by default.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Rebuild every episode's vector with the current embedder (the way to switch
    /// embedder or dimension), or with --missing only embed episodes that have none.
    Reembed(ReembedArgs),
    /// Drop what has outlived its use — running episodes left idle (completed as abandoned),
    /// old retrieval sessions, patterns too weak to be recommended again, surplus cached
    /// embeddings — or with --dry-run say what would go. `memory serve` and `memory mcp` do
    /// this hourly.
    Gc(GcArgs),
    /// Show what the memory holds and how it performs: sizes, caches, prepared statements,
    /// connections, the write queue and operation latencies (--prometheus for the
    /// Prometheus text format).
    Stats(StatsArgs),
    /// Measure the memory: simulations and benchmarks that produce the published figures.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Link two episodes: FROM --kind KIND TO (e.g. a sub-task, a dependency).
    Relate(RelateArgs),
    /// Remove the links from FROM to TO (of one kind with --kind).
    Unrelate(UnrelateArgs),
    /// List the episodes linked to one, or everything within --depth edges.
    Related(RelatedArgs),
    /// Print the episode graph (around --root, or the whole namespace) as text, JSON
    /// (--format json) or Graphviz DOT (--format dot).
    Graph(GraphArgs),
    /// Record a checkpoint in a running episode: how far it got, and a note.
    Checkpoint(CheckpointArgs),
    /// Print a hand-off pack for another agent: goal, what was done, what worked and
    /// failed, open items, and what memory knows for the context.
    Handoff(HandoffArgs),
    /// Start a new episode from a hand-off pack (JSON), linked to the old one by `follows`.
    Resume(ResumeArgs),
    /// Write the namespace as JSON Lines (episodes with steps, patterns, heuristics,
    /// relationships, checkpoints, sessions with feedback), from one snapshot, ending with a
    /// trailer that proves the file whole; lossless.
    Export(ExportArgs),
    /// Read a `memory export` file back; all or nothing (a bad line, or a file cut short or
    /// changed so that it does not match its trailer, imports nothing).
    Import(ImportArgs),
    /// Serve the memory to an MCP client over stdin/stdout (the client starts this command).
    Mcp,
    /// Serve the memory over HTTP: MCP (streamable HTTP) at /mcp, plus /health, /metrics and
    /// the web dashboard at /.
    Serve(ServeArgs),
    /// Open the web dashboard: serve it on loopback (no token needed) and print its URL.
    Ui(UiArgs),
}

/// `memory ui`
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Port on 127.0.0.1 to serve the dashboard on (0 picks a free one).
    #[arg(long, default_value_t = 8766)]
    pub port: u16,
}

/// `memory relate`
#[derive(Debug, Args)]
pub struct RelateArgs {
    /// The episode the link starts from.
    pub from: String,
    /// The episode it points to.
    pub to: String,
    /// parent_child (FROM is the parent), depends_on (FROM needs TO first), follows (FROM
    /// continues TO), related_to, blocks (FROM blocks TO), duplicates or references.
    #[arg(long)]
    pub kind: String,
    /// Why they are related.
    #[arg(long)]
    pub reason: Option<String>,
    /// Who records the link.
    #[arg(long)]
    pub created_by: Option<String>,
    /// Strength of the link, 0 to 1 (scales the retrieval boost; default 1).
    #[arg(long)]
    pub weight: Option<f64>,
    /// JSON object of free key/values.
    #[arg(long)]
    pub metadata: Option<String>,
}

/// `memory unrelate`
#[derive(Debug, Args)]
pub struct UnrelateArgs {
    /// The episode the link starts from.
    pub from: String,
    /// The episode it points to.
    pub to: String,
    /// Only links of this kind.
    #[arg(long)]
    pub kind: Option<String>,
}

/// `memory related`
#[derive(Debug, Args)]
pub struct RelatedArgs {
    /// Episode id.
    pub id: String,
    /// out (links from it), in (links to it) or both.
    #[arg(long, default_value = "both")]
    pub direction: String,
    /// Only links of this kind (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// How many links away to go (out: descendants, in: ancestors).
    #[arg(long, default_value_t = 1)]
    pub depth: u32,
    /// Print the episode and those found in an order that respects parent_child,
    /// depends_on and blocks (what is needed first).
    #[arg(long)]
    pub order: bool,
}

/// `memory graph`
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Only the graph around this episode.
    #[arg(long)]
    pub root: Option<String>,
    /// How many links from --root.
    #[arg(long, default_value_t = 2)]
    pub depth: u32,
    /// Only links of this kind (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
}

/// `memory checkpoint`
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Episode id (a running episode).
    pub id: String,
    /// What to remember at this point.
    #[arg(long)]
    pub note: String,
}

/// `memory handoff`
#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// Episode id.
    pub id: String,
    /// Also write the pack as JSON to this file (for `memory resume`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `memory resume`
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The hand-off pack as JSON (`memory --format json handoff ID`), or `-` for stdin.
    pub pack: PathBuf,
}

/// `memory export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only episodes started at or after: RFC 3339, YYYY-MM-DD, or an age like 7d.
    #[arg(long)]
    pub since: Option<String>,
    /// Only episodes started before: same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
}

/// `memory import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A `memory export` file, or `-` for stdin.
    pub file: PathBuf,
}

/// `memory serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but loopback requires --auth-token or
    /// --token-file.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Require `Authorization: Bearer <token>` on every request (at least 16 visible ASCII
    /// characters, e.g. from `openssl rand -hex 32`). This token may use every namespace.
    #[arg(long, env = "MEMORY_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Tokens bound to namespaces: a file with one line per grant, `TOKEN read|read-write
    /// NAMESPACE…` (`*` for every namespace; a token written `sha256:<hex>` is its SHA-256).
    /// A request with one of them may use only its namespaces: others are not found, a
    /// read-only one refuses writes, and store-wide figures (/metrics) need `*`.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = memory_mcp::http::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// MCP messages answered at once; one more is answered 503 with `Retry-After: 1`.
    #[arg(long, default_value_t = memory_mcp::http::DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
}

/// `memory bench …`
#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The learning suite: a simulated agent with memory against the same agent without, in
    /// two worlds and five variants (shared contexts, drift, misreported outcomes, many
    /// families, no context), medians over seeds (uses temporary databases).
    Learning(LearningArgs),
    /// Cost of learning on the write path: `complete_episode` percentiles on a store of
    /// thousands of episodes and their patterns (uses a temporary database).
    Completion(CompletionArgs),
    /// Retrieval quality (Recall@5/10, MRR, nDCG@10) of full-text, vector and hybrid
    /// retrieval on a generated corpus with paraphrased held-out queries, and latency at
    /// larger stores (uses a temporary database; the embedder is --embedder's).
    Retrieval(RetrievalEvalArgs),
    /// The performance layer against its targets: cache hit rate, get_episode and
    /// retrieve_context latency, bulk import and online throughput, prepared-statement
    /// reuse, each beside the same measurement with the layer off, and the resident memory
    /// of `memory import` (uses temporary databases; takes about 20 minutes).
    Perf(PerfArgs),
    /// The first search of a fresh `memory retrieve` process, full-text against vector-only
    /// (and hybrid): wall time and peak resident memory of real child processes on the
    /// retrieval evaluation's store (built under --store, or in a temporary directory).
    FirstSearch(FirstSearchArgs),
    /// The memory on a libSQL server with a network between them: a relay adds round-trip
    /// time (--rtt) and counts round trips; reports each operation's round trips and
    /// latency, cached reads, retrieval, concurrent agents and bulk import, one column per
    /// round-trip time (starts --sqld on a free loopback port, or uses --server).
    Remote(RemoteArgs),
    /// Whether a store stays bounded under steady use: episodes recorded over a long
    /// simulated time with retrievals between them, garbage collected hourly as `memory
    /// serve` does; database size, bytes per episode, resident memory and what the store
    /// holds every --report-every episodes (uses a temporary database).
    Soak(SoakArgs),
}

/// `memory bench soak`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Episodes recorded.
    #[arg(long, default_value_t = 200_000)]
    pub episodes: usize,
    /// A row every this many episodes.
    #[arg(long, default_value_t = 20_000)]
    pub report_every: usize,
    /// Simulated days the episodes are spread over.
    #[arg(long, default_value_t = 400.0)]
    pub days: f64,
    /// Run without collecting garbage, for comparison.
    #[arg(long)]
    pub no_gc: bool,
    /// Seed of the workload.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// `memory bench first-search`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct FirstSearchArgs {
    /// Episodes in the store.
    #[arg(long, default_value_t = 100_000)]
    pub episodes: usize,
    /// Processes per mode (each run twice: timed, then watched for its resident memory).
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Seed of the corpus and queries (the retrieval evaluation's).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the store in this directory and reuse it, as `memory bench retrieval --store`
    /// does (the same file); building 100,000 embedded episodes takes about ten minutes.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
}

/// `memory bench remote`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Round-trip times the relay adds, in milliseconds (comma-separated; one run each).
    #[arg(long, value_delimiter = ',', default_value = "0,20")]
    pub rtt: Vec<u64>,
    /// How the store reaches the server: `direct` (every request to the server),
    /// `replica` (reads from an embedded replica); comma-separated, each run at every RTT.
    #[arg(long, value_delimiter = ',', default_value = "direct,replica", value_parser = ["direct", "replica"])]
    pub via: Vec<String>,
    /// A `sqld` binary to start on a free loopback port for the run (no authentication;
    /// its data in a temporary directory).
    #[arg(long, env = "MEMORY_BENCH_SQLD", conflicts_with = "server")]
    pub sqld: Option<PathBuf>,
    /// A running libSQL server to measure instead (`http://HOST:PORT`; its token is
    /// --db-auth-token). The benchmark writes into namespaces of its own there.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Episodes one agent records, one operation at a time.
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    /// Steps per episode.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Timed get_episode calls on cached episodes.
    #[arg(long, default_value_t = 2_000)]
    pub cached_reads: usize,
    /// Distinct retrieve_context queries (each run cold, then warm).
    #[arg(long, default_value_t = 10)]
    pub retrievals: usize,
    /// Concurrent agents of the online figures (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    pub agents: Vec<usize>,
    /// Episodes each concurrent agent records.
    #[arg(long, default_value_t = 2)]
    pub episodes_per_agent: usize,
    /// Episodes of the bulk-import figure (one batch).
    #[arg(long, default_value_t = 500)]
    pub import_episodes: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 5)]
    pub seed: u64,
}

/// `memory bench perf`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct PerfArgs {
    /// Episodes in the store the cache and read figures use.
    #[arg(long, default_value_t = 100_000)]
    pub episodes: usize,
    /// Zipf exponent of read popularity.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Cache budget as a share of the store (0..1).
    #[arg(long, default_value_t = 0.10)]
    pub cache_fraction: f64,
    /// Counted reads for the hit rate (after as many warm-up reads as --warmup).
    #[arg(long, default_value_t = 500_000)]
    pub reads: usize,
    /// Warm-up reads before the hit rate is counted.
    #[arg(long, default_value_t = 200_000)]
    pub warmup: usize,
    /// Episodes written by the bulk-import figure.
    #[arg(long, default_value_t = 20_000)]
    pub import_episodes: usize,
    /// Concurrent agents in the online figure.
    #[arg(long, default_value_t = 8)]
    pub agents: usize,
    /// Episodes each agent records in the online figure.
    #[arg(long, default_value_t = 100)]
    pub episodes_per_agent: usize,
    /// Timed get_episode calls per latency figure.
    #[arg(long, default_value_t = 20_000)]
    pub latency_samples: usize,
    /// Timed retrieve_context calls (distinct queries, cold query cache).
    #[arg(long, default_value_t = 300)]
    pub retrieval_queries: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 5)]
    pub seed: u64,
}

/// `memory bench retrieval`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct RetrievalEvalArgs {
    /// Episodes in the evaluated store.
    #[arg(long, default_value_t = 5_000)]
    pub episodes: usize,
    /// Held-out queries.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Seed of the corpus and queries.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Store sizes at which latency is measured again (comma-separated; 0 for none).
    #[arg(long, default_value = "10000,100000", value_delimiter = ',')]
    pub latency_at: Vec<usize>,
    /// Keep the benchmark's stores in this directory (one per size) and reuse the ones a
    /// previous run left there with the same seed, size and embedder, instead of building
    /// them again in a temporary directory. A 100,000-episode store takes 1–2 GB.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Episodes of the step-level set (long on-call logs, the answer in one step); 0 leaves
    /// it out.
    #[arg(long, default_value_t = 2_000)]
    pub logs_episodes: usize,
    /// Queries of the step-level set.
    #[arg(long, default_value_t = 200)]
    pub logs_queries: usize,
}

/// `memory bench completion`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Episodes recorded in all.
    #[arg(long, default_value_t = 10_000)]
    pub episodes: usize,
    /// How many of the last completions are timed.
    #[arg(long, default_value_t = 1_000)]
    pub samples: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
}

/// `memory bench learning`
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct LearningArgs {
    /// Tasks per run.
    #[arg(long, default_value_t = 300)]
    pub tasks: usize,
    /// Seeds per (world, variant): runs seeds `seed`, `seed + 1`, ….
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worlds to run in: `software`, `office` (repeat or comma-separate; default both).
    #[arg(long, value_delimiter = ',')]
    pub world: Vec<String>,
    /// Variants: `shared`, `drift`, `misreport`, `many`, `no-context` (repeat or
    /// comma-separate; default all).
    #[arg(long, value_delimiter = ',')]
    pub variant: Vec<String>,
    /// Tasks per row of the curve.
    #[arg(long, default_value_t = 50)]
    pub window: usize,
    /// Step budget per task.
    #[arg(long, default_value_t = 12)]
    pub max_steps: usize,
    /// Ratios are measured on the tasks after this one.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// The task at which half the families change procedure (drift variant).
    #[arg(long, default_value_t = 150)]
    pub drift_at: usize,
    /// Runs carried out at once [default: the machine's cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Keep each run's memory in the in-memory reference backend instead of a libSQL file
    /// (the same simulation without the database).
    #[arg(long)]
    pub in_memory: bool,
}

/// `memory episode …`
#[derive(Debug, Subcommand)]
pub enum EpisodeCommand {
    /// Start an episode for a new task; prints its id.
    Start(StartArgs),
    /// Log one step (a tool call and its result) of a running episode.
    Step(StepArgs),
    /// Complete an episode with its outcome; prints its reward and reflection.
    Complete(CompleteArgs),
    /// Show an episode with all its steps.
    Show(IdArg),
    /// List episodes, newest first.
    List(ListArgs),
    /// Delete an episode, its steps and its index entries for good.
    Delete(IdArg),
}

/// An episode id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// Episode id (as printed by `episode start`).
    pub id: String,
}

/// Context flags shared by `episode start` and `retrieve`.
#[derive(Debug, Args, Default)]
pub struct ContextArgs {
    /// Problem area, e.g. web-api.
    #[arg(long)]
    pub domain: Option<String>,
    /// Main programming language.
    #[arg(long)]
    pub language: Option<String>,
    /// Main framework or library.
    #[arg(long)]
    pub framework: Option<String>,
    /// Context tag (repeatable).
    #[arg(long = "context-tag", value_name = "TAG")]
    pub context_tags: Vec<String>,
}

/// `memory episode start`
#[derive(Debug, Args)]
pub struct StartArgs {
    /// What the agent is asked to do.
    #[arg(long)]
    pub task: String,
    /// code_generation, debugging, refactoring, testing, analysis, documentation or other.
    #[arg(long, default_value = "other")]
    pub task_type: String,
    /// simple, moderate or complex.
    #[arg(long)]
    pub complexity: Option<String>,
    #[command(flatten)]
    pub context: ContextArgs,
    /// Episode tag (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// JSON object of free key/values.
    #[arg(long)]
    pub metadata: Option<String>,
    /// The `session_id` of the retrieval this task works from; completing the episode then
    /// reports feedback on that retrieval's recommendations.
    #[arg(long)]
    pub session: Option<String>,
}

/// `memory episode step`
#[derive(Debug, Args)]
pub struct StepArgs {
    /// Episode id.
    pub id: String,
    /// The tool used, e.g. `cargo test`.
    #[arg(long)]
    pub tool: String,
    /// What the step was meant to do.
    #[arg(long, default_value = "")]
    pub action: String,
    /// success, error or timeout.
    #[arg(long, default_value = "success")]
    pub status: String,
    /// The tool's output (success) or error message (error).
    #[arg(long, default_value = "")]
    pub output: String,
    /// The tool's arguments as JSON.
    #[arg(long)]
    pub params: Option<String>,
    /// How long the step took, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Model tokens spent on the step.
    #[arg(long)]
    pub tokens: Option<u32>,
    /// JSON object of free key/values.
    #[arg(long)]
    pub metadata: Option<String>,
}

/// `memory episode complete`
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// Episode id.
    pub id: String,
    /// success, partial, failure or abstained.
    #[arg(long)]
    pub outcome: String,
    /// What was achieved (success, partial).
    #[arg(long)]
    pub verdict: Option<String>,
    /// What was produced (success; repeatable).
    #[arg(long = "artifact")]
    pub artifacts: Vec<String>,
    /// A part that was done (partial; repeatable).
    #[arg(long = "done")]
    pub completed: Vec<String>,
    /// A part that was not done (partial; repeatable).
    #[arg(long = "not-done")]
    pub failed: Vec<String>,
    /// Why it failed or was abandoned (failure, abstained).
    #[arg(long)]
    pub reason: Option<String>,
    /// More detail on a failure.
    #[arg(long)]
    pub details: Option<String>,
}

/// `memory episode list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only this language.
    #[arg(long)]
    pub language: Option<String>,
    /// Only this task type.
    #[arg(long)]
    pub task_type: Option<String>,
    /// Only this outcome: success, partial, failure or abstained.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Only running or only completed episodes.
    #[arg(long, value_parser = ["running", "completed"])]
    pub status: Option<String>,
    /// Only episodes with this tag (repeatable; all must match).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only episodes started at or after: RFC 3339, YYYY-MM-DD, or an age like 7d, 12h, 30m.
    #[arg(long)]
    pub since: Option<String>,
    /// Only episodes started before: same forms as --since.
    #[arg(long)]
    pub until: Option<String>,
    /// Page size.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Episodes to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Start after this place in the listing: the cursor a full page ends with (`next page:
    /// --after …`; for JSON output, the last episode's start time in microseconds since the
    /// epoch, a dot, and its id). Costs the same at any depth, where --offset reads every
    /// episode it skips.
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

/// `memory retrieve`
#[derive(Debug, Args)]
pub struct RetrieveArgs {
    /// The new task, in words.
    pub query: String,
    #[command(flatten)]
    pub context: ContextArgs,
    /// The new task's type.
    #[arg(long)]
    pub task_type: Option<String>,
    /// Most episodes to return.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Token budget of the Markdown pack.
    #[arg(long, default_value_t = 1_500)]
    pub budget: usize,
    /// Also print each hit's score breakdown.
    #[arg(long)]
    pub explain: bool,
    /// Candidate sources: hybrid (full text and vectors, fused), text or vector.
    #[arg(long, default_value = "hybrid")]
    pub mode: String,
    /// A read-only lookup: record no retrieval session (the pack has no session id, and
    /// no feedback can be reported against it).
    #[arg(long)]
    pub no_session: bool,
}

/// `memory reembed`
#[derive(Debug, Args)]
pub struct ReembedArgs {
    /// Only embed completed episodes that have no vector yet.
    #[arg(long)]
    pub missing: bool,
    /// Episodes embedded per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
}

/// `memory gc`
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Say what would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A running episode with no step for this many hours is completed as abandoned.
    #[arg(long, default_value_t = Retention::default().abandon_after_hours)]
    pub abandon_after_hours: f64,
    /// A pattern whose support, decayed to now, is below this is dropped.
    #[arg(long, default_value_t = Retention::default().min_pattern_support)]
    pub min_pattern_support: f64,
    /// Most vectors kept in the embedding cache.
    #[arg(long, default_value_t = Retention::default().max_cached_embeddings)]
    pub max_cached_embeddings: u64,
}

/// `memory stats`
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print the Prometheus text exposition format instead of a table or JSON.
    #[arg(long)]
    pub prometheus: bool,
}

/// `memory pattern …`
#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// List learned patterns (statistics decayed to now).
    List(PatternListArgs),
    /// Show one pattern with its statistics, evidence and feedback.
    Show(IdArg),
}

/// `memory heuristic …`
#[derive(Debug, Subcommand)]
pub enum HeuristicCommand {
    /// List the heuristics (recommendations and anti-patterns), most confident first.
    List(PatternListArgs),
}

/// Which patterns to list.
#[derive(Debug, Args)]
pub struct PatternListArgs {
    /// tool_sequence, error_recovery, decision_point or context_pattern.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only patterns that hold in this domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only patterns that hold for this language.
    #[arg(long)]
    pub language: Option<String>,
    /// Only patterns that hold for this framework.
    #[arg(long)]
    pub framework: Option<String>,
    /// Only patterns that hold for this task type.
    #[arg(long)]
    pub task_type: Option<String>,
    /// Only patterns that hold with this context tag (repeatable).
    #[arg(long = "context-tag", value_name = "TAG")]
    pub context_tags: Vec<String>,
    /// Only patterns seen in at least this many episodes.
    #[arg(long, default_value_t = 1)]
    pub min_episodes: u64,
    /// Only patterns with at least this confidence (0–1, as of their last update).
    #[arg(long, default_value_t = 0.0)]
    pub min_confidence: f64,
    /// Sort by confidence, support, lift or recent.
    #[arg(long, default_value = "confidence", value_parser = ["confidence", "support", "lift", "recent"])]
    pub sort: String,
    /// Page size.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Patterns to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// `memory feedback`
#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The `session_id` printed with the context pack.
    pub session: String,
    /// A recommended pattern id that was applied (repeatable; none means nothing was applied).
    #[arg(long = "applied", value_name = "PATTERN_ID")]
    pub applied: Vec<String>,
    /// How the task ended: success, partial, failure or abstained.
    #[arg(long)]
    pub outcome: String,
}

/// `memory demo`
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// `memory config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration: database, namespace, limits, ranking.
    Show,
}

/// `memory model …`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download sentence-transformers/all-MiniLM-L6-v2 from the Hugging Face hub into the
    /// data directory, checking every file against its pinned SHA-256. Once installed, the
    /// memory uses it whenever no --embedder is given.
    Pull(ModelPullArgs),
    /// Where the pulled model is, whether it is installed and its files verified, and
    /// whether it is the embedder in force.
    #[command(visible_alias = "status")]
    Show,
}

/// `memory model pull`
#[derive(Debug, Args)]
pub struct ModelPullArgs {
    /// The Hugging Face hub (or a mirror with its layout) to download from.
    #[arg(
        long,
        env = "MEMORY_HF_ENDPOINT",
        default_value = crate::pulled_model::DEFAULT_ENDPOINT,
        value_name = "URL"
    )]
    pub endpoint: String,
    /// Download and install again even if the model is installed and verified.
    #[arg(long)]
    pub force: bool,
}
