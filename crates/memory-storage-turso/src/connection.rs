//! Opening the database file and handing out its connections.
//!
//! There is one writer connection and a small pool of readers, each behind its own async
//! mutex. A libSQL connection must never be used by two tasks at once (their transactions
//! would interleave on the same SQLite handle), so a caller holds the mutex for the whole of
//! its operation: the guard *is* the permission to use the connection.
//!
//! Every connection is set up the same way: `busy_timeout` (so a write lock held by another
//! process is waited for rather than failed on), WAL journaling (readers never block the
//! writer and vice versa), `synchronous=NORMAL` (committed data survives a process crash; WAL
//! keeps the file consistent across power loss) and `foreign_keys=ON`. Together with `BEGIN
//! IMMEDIATE` for every write, this is what lets several processes (the CLI and an MCP
//! server) share one file safely.

use crate::error::TursoError;
use libsql::{Connection, Database};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// How a [`crate::TursoStorage`] uses its database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TursoConfig {
    /// Reader connections kept open besides the single writer; at least one is always opened.
    pub readers: usize,
    /// How long a statement waits for a lock held by another connection or process before
    /// failing with a "database is locked" error.
    pub busy_timeout: Duration,
    /// WAL size, in pages, at which a committing writer copies the log back into the
    /// database (`wal_autocheckpoint`). That copy runs inside the commit that crosses the
    /// threshold, so a small value puts a pause into a steady share of writes; the default
    /// (10,000 pages, about 40 MiB) makes the pauses rare and amortises them over more writes.
    pub wal_autocheckpoint_pages: u32,
    /// Size, in bytes, to which the WAL file is truncated after a checkpoint if it grew
    /// beyond it (`journal_size_limit`).
    pub wal_size_limit_bytes: u64,
}

impl Default for TursoConfig {
    fn default() -> Self {
        TursoConfig {
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            wal_autocheckpoint_pages: 10_000,
            wal_size_limit_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The open database: one writer connection and a pool of reader connections.
pub(crate) struct Connections {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    /// Round-robin cursor used when every reader is busy.
    next_reader: AtomicUsize,
    /// Kept so the database outlives every connection made from it.
    _db: Database,
}

impl Connections {
    /// Opens `path` (creating the file if needed) and sets up every connection.
    pub(crate) async fn open(path: &Path, config: &TursoConfig) -> Result<Self, TursoError> {
        let open_err = |source| TursoError::Open {
            path: path.to_path_buf(),
            source,
        };
        let db = libsql::Builder::new_local(path)
            .build()
            .await
            .map_err(open_err)?;
        let writer = connect(&db, config).await.map_err(open_err)?;
        let mut readers = Vec::with_capacity(config.readers.max(1));
        for _ in 0..config.readers.max(1) {
            readers.push(Mutex::new(connect(&db, config).await.map_err(open_err)?));
        }
        Ok(Connections {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            _db: db,
        })
    }

    /// The writer connection, for the duration of one write.
    pub(crate) async fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().await
    }

    /// A reader connection: the first idle one, or else the next in turn once it is free.
    pub(crate) async fn reader(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[turn].lock().await
    }
}

/// Opens one connection and applies the per-connection settings.
async fn connect(db: &Database, config: &TursoConfig) -> Result<Connection, libsql::Error> {
    let conn = db.connect()?;
    conn.busy_timeout(config.busy_timeout)?;

    // `journal_mode` answers with the mode now in force, so it is a query.
    let mut rows = conn.query("PRAGMA journal_mode = WAL", ()).await?;
    let mode = match rows.next().await? {
        Some(row) => match row.get_value(0) {
            Ok(libsql::Value::Text(mode)) => mode,
            _ => String::new(),
        },
        None => String::new(),
    };
    drop(rows);
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) cannot do WAL; SQLite then keeps a rollback
        // journal, which is still safe across processes, only less concurrent.
        tracing::warn!(%mode, "could not switch the database to WAL; continuing in this mode");
    }

    conn.execute("PRAGMA synchronous = NORMAL", ()).await?;
    conn.execute("PRAGMA foreign_keys = ON", ()).await?;
    // Both pragmas answer with their new value, so they are queries.
    for pragma in [
        format!(
            "PRAGMA wal_autocheckpoint = {}",
            config.wal_autocheckpoint_pages
        ),
        format!(
            "PRAGMA journal_size_limit = {}",
            config.wal_size_limit_bytes
        ),
    ] {
        let mut rows = conn.query(&pragma, ()).await?;
        while rows.next().await?.is_some() {}
    }
    Ok(conn)
}
