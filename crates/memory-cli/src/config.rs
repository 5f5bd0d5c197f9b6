//! Where the database lives and how the memory is opened, from flags, environment and defaults.

use crate::cli::EmbedderArgs;
use crate::exit::usage;
use anyhow::Context as _;
use memory_core::cache::CachedStorage;
use memory_core::{Embedder, HashingEmbedder, SelfLearningMemory};
use memory_embed_http::{OpenAiConfig, OpenAiEmbedder};
use memory_storage_turso::TursoStorage;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name of the default database inside the data directory.
const DEFAULT_DIR: &str = "self-learning-memory";
const DEFAULT_FILE: &str = "memory.db";

/// The database path to use and where it came from.
#[derive(Debug, Clone)]
pub struct DbLocation {
    /// The file.
    pub path: PathBuf,
    /// `--db/MEMORY_DB` or `default`.
    pub source: &'static str,
}

/// Resolves the database path: `--db` / `MEMORY_DB`, else `memory.db` in the OS data
/// directory (e.g. `~/.local/share/self-learning-memory/` on Linux).
pub fn db_location(flag: Option<&Path>) -> anyhow::Result<DbLocation> {
    if let Some(path) = flag {
        return Ok(DbLocation {
            path: path.to_path_buf(),
            source: "--db/MEMORY_DB",
        });
    }
    let dir = dirs::data_dir()
        .context("no OS data directory is known for this user; pass --db PATH or set MEMORY_DB")?;
    Ok(DbLocation {
        path: dir.join(DEFAULT_DIR).join(DEFAULT_FILE),
        source: "default",
    })
}

/// The embedder named by `--embedder` / `MEMORY_EMBEDDER`: `hash`, `hash:DIM`, `none` or
/// `openai:MODEL` (with `--embedder-url`, `--embedder-dim` and an optional API key).
pub fn embedder(args: &EmbedderArgs) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    let spec = args.embedder.trim();
    match spec.split_once(':') {
        None if spec == "hash" => Ok(Some(Arc::new(HashingEmbedder::default()))),
        None if spec == "none" => Ok(None),
        Some(("hash", dim)) => match dim.parse::<usize>() {
            Ok(d) if (16..=4096).contains(&d) => Ok(Some(Arc::new(HashingEmbedder::new(d)))),
            _ => usage!("--embedder: `{spec}`: the dimension must be a number from 16 to 4096"),
        },
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
            "--embedder: unknown embedder `{spec}`; expected hash, hash:DIM, none or openai:MODEL"
        ),
    }
}

/// Opens the memory on the libSQL file at `path` (creating it if needed) with `embedder`.
pub async fn open_memory(
    path: &Path,
    embedder: Option<Arc<dyn Embedder>>,
) -> anyhow::Result<SelfLearningMemory> {
    let storage = TursoStorage::open(path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    // The cache tier matters for long-running processes (`memory serve`, `memory mcp`); for
    // one-shot commands it costs nothing and keeps one code path.
    let storage = CachedStorage::new(Arc::new(storage));
    Ok(SelfLearningMemory::new(Arc::new(storage)).with_embedder(embedder))
}
