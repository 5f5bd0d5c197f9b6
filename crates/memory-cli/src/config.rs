//! Where the database lives and how the memory is opened, from flags, environment and defaults.

use anyhow::Context as _;
use memory_core::SelfLearningMemory;
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

/// Opens the memory on the libSQL file at `path`, creating it if needed.
pub async fn open_memory(path: &Path) -> anyhow::Result<SelfLearningMemory> {
    let storage = TursoStorage::open(path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(SelfLearningMemory::new(Arc::new(storage)))
}
