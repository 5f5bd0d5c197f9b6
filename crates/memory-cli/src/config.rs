//! Where the database lives and how the memory is opened, from flags, environment and defaults.

use crate::cli::{DbArgs, EmbedderArgs};
use crate::exit::usage;
use crate::pulled_model::{self, Presence};
use anyhow::Context as _;
use memory_core::cache::CachedStorage;
use memory_core::{Embedder, HashingEmbedder, SelfLearningMemory};
use memory_embed_http::{OpenAiConfig, OpenAiEmbedder};
use memory_storage_turso::{Durability, Location, TursoConfig, TursoError, TursoStorage};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The CLI's folder in the OS data directory.
const DEFAULT_DIR: &str = "self-learning-memory";
/// The file name of the default database inside it.
const DEFAULT_FILE: &str = "memory.db";

/// The database to use and where it came from.
#[derive(Debug, Clone)]
pub struct DbLocation {
    /// A file, a libSQL server with its token, or a server read through a replica.
    pub location: Location,
    /// `--db/MEMORY_DB` or `default`.
    pub source: &'static str,
    /// How long a server has to answer one request (`--db-timeout`).
    pub request_timeout: Duration,
    /// How often a replica syncs (`--sync-interval`).
    pub sync_interval: Duration,
    /// When a local commit counts as done (`--durability`).
    pub durability: Durability,
}

impl DbLocation {
    /// A file chosen by the program itself (the demo's temporary database).
    pub fn file(path: PathBuf, source: &'static str) -> DbLocation {
        DbLocation {
            location: Location::File(path),
            source,
            request_timeout: memory_storage_turso::DEFAULT_REQUEST_TIMEOUT,
            sync_interval: memory_storage_turso::DEFAULT_SYNC_INTERVAL,
            durability: Durability::Normal,
        }
    }

    /// How the store is opened on it.
    pub fn config(&self) -> TursoConfig {
        TursoConfig {
            request_timeout: self.request_timeout,
            sync_interval: self.sync_interval,
            durability: self.durability,
            ..TursoConfig::default()
        }
    }

    /// Whether the database is there already: the file exists, or it is on a server (which
    /// answers for it).
    pub fn exists(&self) -> bool {
        match &self.location {
            Location::File(path) => path.exists(),
            Location::Server { .. } | Location::Replica { .. } => true,
        }
    }
}

/// Resolves the database from `args`: `--db` / `MEMORY_DB` (a path, or a libSQL server's URL
/// used with its token, read through `--replica` when given), else `memory.db` in the OS
/// data directory (e.g. `~/.local/share/self-learning-memory/` on Linux).
pub fn db_location(args: &DbArgs) -> anyhow::Result<DbLocation> {
    let located = |location, source| DbLocation {
        location,
        source,
        request_timeout: args.db_timeout,
        sync_interval: args.sync_interval,
        durability: match args.durability.as_str() {
            "full" => Durability::Full,
            _ => Durability::Normal,
        },
    };
    let Some(db) = &args.db else {
        if args.replica.is_some() {
            usage!(
                "--replica/MEMORY_REPLICA keeps a copy of a libSQL server: give the server's URL \
                 with --db/MEMORY_DB"
            );
        }
        let dir = data_dir().context(
            "no OS data directory is known for this user; pass --db PATH or set MEMORY_DB",
        )?;
        return Ok(located(Location::File(dir.join(DEFAULT_FILE)), "default"));
    };
    if db.trim().is_empty() {
        usage!("--db/MEMORY_DB is empty: give a file path or a libSQL server URL");
    }
    let mut location = Location::parse(db, args.db_auth_token.clone());
    if let Some(replica) = &args.replica {
        if replica.as_os_str().is_empty() {
            usage!("--replica/MEMORY_REPLICA is empty: give the replica's file path");
        }
        location = match location.with_replica(replica) {
            Some(location) => location,
            None => usage!(
                "--replica/MEMORY_REPLICA keeps a copy of a libSQL server, but --db/MEMORY_DB \
                 is the file {db}: give the server's URL (libsql://, https:// or http://)"
            ),
        };
    }
    Ok(located(location, "--db/MEMORY_DB"))
}

/// The directory the CLI keeps its files in when not told otherwise: the default database
/// and the model `memory model pull` installs (`self-learning-memory` in the OS data
/// directory, e.g. `~/.local/share/self-learning-memory/` on Linux, which `XDG_DATA_HOME`
/// moves). `None` when the OS knows no data directory for this user.
pub fn data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join(DEFAULT_DIR))
}

/// The embedder in force, and why it is that one.
pub struct EmbedderChoice {
    /// The embedder (`None`: `--embedder none`, full-text search only).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Where it comes from.
    pub source: EmbedderSource,
}

/// Where the embedder in force comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedderSource {
    /// `--embedder` / `MEMORY_EMBEDDER`.
    Flag,
    /// Neither was given and `memory model pull` has installed the local model in this
    /// directory.
    PulledModel(PathBuf),
    /// Neither was given and no usable pulled model is installed: the hashing embedder. The
    /// text says why no model is used.
    HashDefault(String),
}

impl EmbedderSource {
    /// A short key for JSON output: `flag`, `pulled-model` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            EmbedderSource::Flag => "flag",
            EmbedderSource::PulledModel(_) => "pulled-model",
            EmbedderSource::HashDefault(_) => "default",
        }
    }

    /// Why this embedder, in words (`memory config show`).
    pub fn reason(&self) -> String {
        match self {
            EmbedderSource::Flag => "from --embedder / MEMORY_EMBEDDER".to_owned(),
            EmbedderSource::PulledModel(dir) => format!(
                "local model (pulled into {}; default because it is installed)",
                dir.display()
            ),
            EmbedderSource::HashDefault(why) => format!("hash (default: {why})"),
        }
    }
}

/// The embedder in force: the one `--embedder` / `MEMORY_EMBEDDER` names (an empty value
/// counts as not given), else the local model if `memory model pull` has installed it (and
/// this build can run it), else `hash`.
pub fn embedder(args: &EmbedderArgs) -> anyhow::Result<EmbedderChoice> {
    match args.embedder.as_deref().map(str::trim) {
        Some(spec) if !spec.is_empty() => Ok(EmbedderChoice {
            embedder: named_embedder(spec, args)?,
            source: EmbedderSource::Flag,
        }),
        _ => Ok(default_embedder()),
    }
}

/// The embedder when none is named: the pulled local model if it is installed, else `hash`.
fn default_embedder() -> EmbedderChoice {
    let hash = |why: String| EmbedderChoice {
        embedder: Some(Arc::new(HashingEmbedder::default())),
        source: EmbedderSource::HashDefault(why),
    };
    let Some(data) = data_dir() else {
        return hash("no OS data directory is known, so there is no pulled model".to_owned());
    };
    let dir = pulled_model::install_dir(&data);
    match pulled_model::presence(&dir) {
        Presence::Absent => hash("no model pulled; run `memory model pull`".to_owned()),
        Presence::Damaged(what) => {
            tracing::warn!(
                "the model pulled into {} is incomplete ({what}); using `hash` until \
                 `memory model pull --force` reinstalls it",
                dir.display()
            );
            hash(format!(
                "the model pulled into {} is incomplete ({what}); run `memory model pull --force`",
                dir.display()
            ))
        }
        Presence::Present => match pulled_embedder(&dir) {
            Ok(embedder) => EmbedderChoice {
                embedder: Some(embedder),
                source: EmbedderSource::PulledModel(dir),
            },
            Err(why) => {
                tracing::warn!("{why}; using `hash`");
                hash(why)
            }
        },
    }
}

/// The pulled model in `dir`, or why it cannot be used.
#[cfg(feature = "local-model")]
fn pulled_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, String> {
    match memory_embed_local::LocalModelEmbedder::open(dir) {
        Ok(e) => Ok(Arc::new(e)),
        Err(e) => Err(format!(
            "the model pulled into {} cannot be used ({e}); run `memory model pull --force`",
            dir.display()
        )),
    }
}

/// Without the `local-model` feature a pulled model cannot run.
#[cfg(not(feature = "local-model"))]
fn pulled_embedder(dir: &Path) -> Result<Arc<dyn Embedder>, String> {
    Err(format!(
        "this `memory` was built without the `local-model` feature, so the model pulled into \
         {} is not used",
        dir.display()
    ))
}

/// Whether this build can run the local model (the `local-model` feature).
pub const LOCAL_MODEL_BUILT_IN: bool = cfg!(feature = "local-model");

/// The embedder named by `--embedder` / `MEMORY_EMBEDDER`: `hash`, `hash:DIM`, `none`,
/// `local:DIR` (a sentence-embedding model directory, loaded on first use) or `openai:MODEL`
/// (with `--embedder-url`, `--embedder-dim` and an optional API key).
fn named_embedder(spec: &str, args: &EmbedderArgs) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    match spec.split_once(':') {
        None if spec == "hash" => Ok(Some(Arc::new(HashingEmbedder::default()))),
        None if spec == "none" => Ok(None),
        Some(("hash", dim)) => match dim.parse::<usize>() {
            Ok(d) if (16..=4096).contains(&d) => Ok(Some(Arc::new(HashingEmbedder::new(d)))),
            _ => usage!("--embedder: `{spec}`: the dimension must be a number from 16 to 4096"),
        },
        Some(("local", dir)) => local_embedder(dir),
        Some(("openai", model)) => {
            let Some(dimension) = args.embedder_dim else {
                usage!("--embedder-dim (or MEMORY_EMBEDDER_DIM) is required with `{spec}`");
            };
            let mut config = OpenAiConfig::new(args.embedder_url.clone(), model, dimension);
            if let Some(key) = &args.embedder_api_key {
                config = config.with_api_key(key.clone());
            }
            match OpenAiEmbedder::new(config) {
                Ok(e) => Ok(Some(Arc::new(e))),
                Err(e) => usage!("--embedder: {e}"),
            }
        }
        _ => usage!(
            "--embedder: unknown embedder `{spec}`; expected hash, hash:DIM, none, local:DIR or \
             openai:MODEL"
        ),
    }
}

/// The local sentence-embedding model in `dir`: its files are checked now, its weights are
/// loaded only when something is embedded (so `episode step` never pays for them).
#[cfg(feature = "local-model")]
fn local_embedder(dir: &str) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    if dir.trim().is_empty() {
        usage!(
            "--embedder local:DIR needs the model directory (config.json, tokenizer.json, model.safetensors)"
        );
    }
    match memory_embed_local::LocalModelEmbedder::open(dir) {
        Ok(e) => Ok(Some(Arc::new(e))),
        Err(e) => usage!("--embedder local:{dir}: {e}"),
    }
}

/// Without the `local-model` feature there is no local model to run.
#[cfg(not(feature = "local-model"))]
fn local_embedder(dir: &str) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    usage!(
        "--embedder local:{dir}: this `memory` was built without the `local-model` feature; \
         rebuild it with default features"
    )
}

/// Opens the memory on `db` (a file, created if needed, or a libSQL server) with
/// `embedder`.
pub async fn open_memory(
    db: &DbLocation,
    embedder: Option<Arc<dyn Embedder>>,
) -> anyhow::Result<SelfLearningMemory> {
    Ok(open_memory_and_store(db, embedder).await?.0)
}

/// Like [`open_memory`], also handing back the store itself, for a command that must wait
/// for the store's background work before the process exits (a search may start writing
/// the full-text index's snapshot; see `TursoStorage::finish_background_work`).
pub async fn open_memory_and_store(
    db: &DbLocation,
    embedder: Option<Arc<dyn Embedder>>,
) -> anyhow::Result<(SelfLearningMemory, Arc<TursoStorage>)> {
    let location = &db.location;
    let storage = TursoStorage::open_at(location.clone(), db.config())
        .await
        .map_err(|err| match err {
            // Its message already names the server and the cause.
            err @ TursoError::Server { .. } => anyhow::Error::new(err),
            err => anyhow::Error::new(err).context(format!("cannot open the database {location}")),
        })?;
    let storage = Arc::new(storage);
    // The cache tier matters for long-running processes (`memory serve`, `memory mcp`); for
    // one-shot commands it costs nothing and keeps one code path.
    let cached = CachedStorage::new(Arc::clone(&storage));
    Ok((
        SelfLearningMemory::new(Arc::new(cached)).with_embedder(embedder),
        storage,
    ))
}
