//! Opening the database file and handing out its connections (each a [`Conn`], see
//! [`crate::conn`]), and the group-commit queue their writes go through.
//!
//! There is one writer connection and a small pool of readers, each behind its own async
//! mutex. A libSQL connection must never be used by two tasks at once (their transactions
//! would interleave on the same SQLite handle), so a caller holds the mutex for the whole of
//! its operation: the guard *is* the permission to use the connection.
//!
//! Every connection is set up the same way: `busy_timeout` (so a write lock held by another
//! process is waited for rather than failed on), WAL journaling (readers never block the
//! writer and vice versa), `synchronous=NORMAL` (committed data survives a process crash; WAL
//! keeps the file consistent across power loss), `foreign_keys=ON` and `secure_delete=ON`
//! (what a write frees is overwritten with zeros, so deleted text does not linger in free
//! space or free pages). Together with `BEGIN
//! IMMEDIATE` for every write, this is what lets several processes (the CLI and an MCP
//! server) share one file safely.

use crate::conn::ServerLink;
#[cfg(test)]
pub(crate) use crate::conn::{CHANGE_LOG_KEEP, CHANGE_LOG_PRUNE_EVERY};
pub(crate) use crate::conn::{Conn, Prepared};
use crate::error::SqlContext;
use crate::error::TursoError;
use crate::group_commit::{WriteFuture, WriteQueue};
use crate::location::Location;
use crate::pipeline::Pipeline;
use crate::planned::{self, Outcome, Outcomes, PlannedStatement};
use crate::replica::{DEFAULT_SYNC_INTERVAL, PeriodicSync, Replica, ReplicaLock};
use crate::statements::{DEFAULT_STATEMENT_CAPACITY, StatementCounters};
use libsql::Database;
use memory_core::metrics::{ConnectionStats, LatencyHistogram, PoolStats, StatementCacheStats};
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

/// How long a libSQL server has to answer one request unless configured otherwise: long
/// enough for a large import's statement on a busy server, and for a write queued behind
/// the lock of a transaction whose client went away (`sqld` takes the lock back after about
/// five seconds); short enough that a server that stopped answering is reported rather than
/// waited on.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// When a local file's commit counts as done (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a commit survives the process crashing; the
    /// last commits before a power loss or an operating-system crash may be lost (the file
    /// stays consistent). Commits cost no disk flush each.
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is flushed to disk before it is acknowledged, so
    /// it survives a power loss too; each commit waits for the disk.
    Full,
}

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
    /// Prepared statements each connection keeps for reuse (0: prepare every time).
    pub statement_cache_capacity: usize,
    /// Most queued writes committed together in one group-commit transaction.
    pub max_write_batch: usize,
    /// Most writes waiting for the writer at once; one more fails at once as
    /// [`memory_core::MemoryError::Busy`] instead of waiting behind them (0: no bound). A
    /// server's connection limit keeps its own share well below this.
    pub max_queued_writes: usize,
    /// Text log entries past the stored snapshot of the full-text index from which a search
    /// writes a new snapshot, in the background, after answering (at least this many, and
    /// at least a fiftieth of the documents; 0: this handle never writes one, it only reads
    /// them). The fewer, the less a fresh process's first search catches up on (about 7 µs
    /// an entry), the more often the whole snapshot is rewritten.
    pub text_snapshot_after: u64,
    /// How long a libSQL server has to answer one request before the operation fails
    /// (the connection is then replaced). Not used for a local file, where
    /// [`TursoConfig::busy_timeout`] bounds the wait for a lock.
    pub request_timeout: Duration,
    /// How often an embedded replica asks its server for other processes' writes (it also
    /// syncs after each of this handle's writes). Only used for a replica.
    pub sync_interval: Duration,
    /// When a local file's commit counts as done. A server decides for itself.
    pub durability: Durability,
}

impl Default for TursoConfig {
    fn default() -> Self {
        TursoConfig {
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            wal_autocheckpoint_pages: 10_000,
            wal_size_limit_bytes: 64 * 1024 * 1024,
            statement_cache_capacity: DEFAULT_STATEMENT_CAPACITY,
            max_write_batch: 256,
            max_queued_writes: 4_096,
            text_snapshot_after: 1_000,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            sync_interval: DEFAULT_SYNC_INTERVAL,
            durability: Durability::Normal,
        }
    }
}

/// Counters of one group of connections.
#[derive(Default)]
struct PoolMeter {
    acquisitions: AtomicU64,
    in_use: AtomicU64,
    busy_ns: AtomicU64,
    wait: LatencyHistogram,
}

impl PoolMeter {
    fn stats(&self, connections: usize, uptime: Duration) -> PoolStats {
        let capacity_ns = uptime.as_nanos() as f64 * connections as f64;
        let busy = self.busy_ns.load(Ordering::Relaxed) as f64;
        PoolStats {
            connections: connections as u64,
            in_use: self.in_use.load(Ordering::Relaxed),
            acquisitions: self.acquisitions.load(Ordering::Relaxed),
            wait: self.wait.summary(),
            utilisation: if capacity_ns > 0.0 {
                (busy / capacity_ns).min(1.0)
            } else {
                0.0
            },
        }
    }
}

/// Exclusive use of one connection, for the duration of one operation.
///
/// Dropping it gives the connection back: its statements are reset (ending any read
/// snapshot) and the time it was held is counted.
pub(crate) struct Lease {
    guard: OwnedMutexGuard<Conn>,
    meter: Arc<PoolMeter>,
    since: Instant,
}

impl Deref for Lease {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.guard
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.guard.given_back();
        let held = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.meter.busy_ns.fetch_add(held, Ordering::Relaxed);
        self.meter.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The open database: one writer connection and a pool of reader connections.
pub(crate) struct Connections {
    writer: Arc<Mutex<Conn>>,
    readers: Vec<Arc<Mutex<Conn>>>,
    /// Round-robin cursor used when every reader is busy.
    next_reader: AtomicUsize,
    writer_meter: Arc<PoolMeter>,
    reader_meter: Arc<PoolMeter>,
    opened: Instant,
    /// Writes waiting for the group commit.
    queue: Arc<WriteQueue>,
    /// The statement caches' counters, one per connection.
    statement_counters: Vec<Arc<StatementCounters>>,
    /// The number that tags this handle's rows of the change log.
    writer_tag: i64,
    /// The embedded replica the readers read, when the store has one.
    replica: Option<Arc<Replica>>,
    /// Syncs the replica on an interval while the store is open.
    _periodic_sync: Option<PeriodicSync>,
    /// Why the server of a replicated store could not be reached when it was opened (the
    /// store then serves reads from its replica).
    unreachable: std::sync::Mutex<Option<libsql::Error>>,
    /// Whether writes go to a file on this machine (not to a server).
    local_writer: bool,
    /// Whether reads come from a file on this machine (a local store or a replica).
    local_reads: bool,
    /// The server's pipeline, for reads sent as one request (see [`crate::planned`]).
    pipeline: Option<Arc<Pipeline>>,
    /// Kept so the database outlives every connection made from it.
    _db: Arc<Database>,
}

impl Connections {
    /// Opens the database at `location` (creating a file if needed) and sets up every
    /// connection. A server is asked once here, so that a wrong URL or token fails now;
    /// a replicated store whose server does not answer opens all the same, on its replica
    /// (see [`Connections::take_unreachable`]). A replica's file must be claimed (`lock`).
    pub(crate) async fn open(
        location: &Location,
        config: &TursoConfig,
        lock: Option<ReplicaLock>,
    ) -> Result<Self, TursoError> {
        let open_err = |source| match location {
            Location::File(path) => TursoError::Open {
                path: path.clone(),
                source,
            },
            Location::Server { url, .. } | Location::Replica { url, .. } => TursoError::Server {
                url: url.clone(),
                source,
            },
        };
        let db = match location {
            Location::File(path) => libsql::Builder::new_local(path).build().await,
            Location::Server { url, auth_token }
            | Location::Replica {
                url, auth_token, ..
            } => {
                libsql::Builder::new_remote(url.clone(), auth_token.clone())
                    .build()
                    .await
            }
        }
        .map_err(open_err)?;
        let db = Arc::new(db);
        let replica = match (location, lock) {
            (
                Location::Replica {
                    url,
                    auth_token,
                    path,
                },
                Some(lock),
            ) => {
                let file_err = |source| TursoError::Open {
                    path: path.clone(),
                    source,
                };
                // libSQL's replication syncs only when asked: after each write and on the
                // interval, both run here. The readers open the replica's file as a plain
                // local database, so that they work as a file's readers do (prepared
                // statements reset between uses, read transactions kept local).
                let replica =
                    libsql::Builder::new_remote_replica(path, url.clone(), auth_token.clone())
                        .read_your_writes(false)
                        .build()
                        .await
                        .map_err(file_err)?;
                let file = libsql::Builder::new_local(path)
                    .build()
                    .await
                    .map_err(file_err)?;
                Some(Arc::new(Replica::new(
                    replica,
                    Arc::new(file),
                    lock,
                    url,
                    config.request_timeout,
                )))
            }
            (Location::Replica { path, .. }, None) => {
                return Err(TursoError::ReplicaLock {
                    path: path.clone(),
                    source: std::io::Error::other("the replica's file was not claimed"),
                });
            }
            _ => None,
        };
        let server = location.is_server();
        let link = match location {
            Location::File(_) => None,
            Location::Server { url, auth_token }
            | Location::Replica {
                url, auth_token, ..
            } => Some(ServerLink::new(
                Arc::clone(&db),
                url,
                auth_token,
                config.request_timeout,
            )),
        };
        let mut writer = connect(&db, config, link.clone()).await.map_err(open_err)?;
        // Random, so that two handles on one store (two processes, two machines) tell their
        // changes apart.
        let writer_tag = Uuid::new_v4().as_u64_pair().0.cast_signed();
        writer.name_writer(writer_tag);
        let mut unreachable = None;
        if server {
            // The first request: fails here, with the URL, when the server is unreachable or
            // refuses the token. A replica can still serve reads: whether it holds a store
            // is for the caller to check.
            let answered = writer.bounded(writer.raw().execute("SELECT 1", ())).await;
            match answered {
                Ok(_) => {}
                Err(err) if replica.is_some() && !is_refusal(&err) => unreachable = Some(err),
                Err(err) => return Err(open_err(err)),
            }
            writer.sync_after_commits(replica.clone());
        }
        let mut statement_counters = vec![writer.statement_counters()];
        let mut readers = Vec::with_capacity(config.readers.max(1));
        for _ in 0..config.readers.max(1) {
            let reader = match &replica {
                Some(replica) => {
                    let reader = connect(replica.file(), config, None)
                        .await
                        .map_err(open_err)?;
                    // Only the server's replication log changes the replica: a write here
                    // would fork it from the server.
                    reader
                        .raw()
                        .execute("PRAGMA query_only = ON", ())
                        .await
                        .map_err(open_err)?;
                    reader
                }
                None => connect(&db, config, link.clone()).await.map_err(open_err)?,
            };
            statement_counters.push(reader.statement_counters());
            readers.push(Arc::new(Mutex::new(reader)));
        }
        let periodic_sync = replica
            .as_ref()
            .map(|replica| replica.sync_every(config.sync_interval));
        Ok(Connections {
            writer: Arc::new(Mutex::new(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
            writer_meter: Arc::default(),
            reader_meter: Arc::default(),
            opened: Instant::now(),
            queue: Arc::new(WriteQueue::new(
                config.max_queued_writes,
                config.max_write_batch,
                matches!(location, Location::File(_)),
            )),
            statement_counters,
            writer_tag,
            replica,
            _periodic_sync: periodic_sync,
            unreachable: std::sync::Mutex::new(unreachable),
            local_writer: matches!(location, Location::File(_)),
            local_reads: !matches!(location, Location::Server { .. }),
            pipeline: link.as_ref().map(ServerLink::pipeline),
            _db: db,
        })
    }

    /// Whether writes block in SQLite on this machine (see [`crate::off_runtime`]).
    pub(crate) fn local_writer(&self) -> bool {
        self.local_writer
    }

    /// Whether reads block in SQLite on this machine (see [`crate::off_runtime`]).
    pub(crate) fn local_reads(&self) -> bool {
        self.local_reads
    }

    /// The embedded replica the store reads, if it has one.
    pub(crate) fn replica(&self) -> Option<&Arc<Replica>> {
        self.replica.as_ref()
    }

    /// Why the server of a replicated store did not answer when the store was opened;
    /// `None` when it did (or the store has no replica). Asked once.
    pub(crate) fn take_unreachable(&self) -> Option<libsql::Error> {
        self.unreachable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The writer connection, for the duration of one write.
    pub(crate) async fn writer(&self) -> Lease {
        let started = Instant::now();
        let guard = Arc::clone(&self.writer).lock_owned().await;
        lease(guard, &self.writer_meter, started).await
    }

    /// Copies the WAL into a local database file and empties it (`wal_checkpoint(TRUNCATE)`),
    /// waiting for other processes' readers up to the busy timeout; after a delete, so that
    /// no earlier copy of what was deleted stays in the WAL. A checkpoint that cannot finish
    /// (a reader elsewhere holds an old snapshot) is logged and left to the next one.
    /// Nothing to do on a server or through a replica, whose files the server keeps.
    pub(crate) async fn checkpoint(&self) {
        if self.replica.is_some() {
            return;
        }
        let writer = self.writer().await;
        if writer.on_server() {
            return;
        }
        let done = async {
            let mut rows = writer
                .raw()
                .query("PRAGMA wal_checkpoint(TRUNCATE)", ())
                .await?;
            let busy = match rows.next().await? {
                Some(row) => row.get::<i64>(0)?,
                None => 0,
            };
            Ok::<bool, libsql::Error>(busy == 0)
        }
        .await;
        match done {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the WAL could not be emptied after a delete: another process is reading; \
                 the deleted data's old pages stay in it until the next checkpoint"
            ),
            Err(err) => tracing::warn!(error = %err, "checkpoint after a delete failed"),
        }
    }

    /// A reader connection: the first idle one, or else the next in turn once it is free.
    /// Through an embedded replica, once the replica holds this handle's writes answered
    /// so far (see [`Replica::after_write`]).
    pub(crate) async fn reader(&self) -> Lease {
        let started = Instant::now();
        if let Some(replica) = &self.replica {
            replica.caught_up().await;
        }
        for reader in &self.readers {
            if let Ok(guard) = Arc::clone(reader).try_lock_owned() {
                return lease(guard, &self.reader_meter, started).await;
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let guard = Arc::clone(&self.readers[turn]).lock_owned().await;
        lease(guard, &self.reader_meter, started).await
    }

    /// The number that tags this handle's rows of the change log.
    pub(crate) fn writer_tag(&self) -> i64 {
        self.writer_tag
    }

    /// The group-commit queue.
    pub(crate) fn queue(&self) -> &WriteQueue {
        &self.queue
    }

    /// Runs `op` on the writer connection inside a group-commit transaction and returns its
    /// result once that transaction has committed. `op` must not begin or end transactions.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, memory_core::MemoryError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Conn) -> WriteFuture<'c, T> + Send + 'static,
    {
        self.queue.write(self.writer(), op).await
    }

    /// Runs the planned write of `statements` (see [`crate::planned`]) inside a
    /// group-commit transaction and returns what `decode` reads from their outcomes once
    /// that transaction has committed; on a libSQL server, in one request with the batch's
    /// other planned writes.
    pub(crate) async fn write_planned<T, D>(
        &self,
        statements: Vec<PlannedStatement>,
        decode: D,
    ) -> Result<T, memory_core::MemoryError>
    where
        T: Send + 'static,
        D: for<'c> FnOnce(&'c Conn, Outcomes) -> WriteFuture<'c, T> + Send + 'static,
    {
        self.queue
            .write_planned(self.writer(), statements, decode)
            .await
    }

    /// Runs the queries `statements` and returns their rows: on a server in one request;
    /// from the embedded replica or the local file on a reader, statement by statement —
    /// unless `from_server` asks for the server's own rows, which a replica may lag behind.
    pub(crate) async fn read_planned(
        &self,
        statements: Vec<PlannedStatement>,
        from_server: bool,
    ) -> Result<Vec<Outcome>, TursoError> {
        let pipeline = match &self.pipeline {
            Some(pipeline) if from_server || self.replica.is_none() => pipeline,
            _ => {
                let reader = self.reader().await;
                return planned::run_each(&reader, &statements).await.ctx("read");
            }
        };
        let mut request = planned::reads(&statements);
        let result = pipeline
            .batch(std::mem::take(&mut request.batch))
            .await
            .ctx("read")?;
        let outcomes = request.outcomes(result).unwrap_or_default().pop();
        outcomes.unwrap_or_else(|| Ok(Vec::new())).ctx("read")
    }

    /// Whether the data is on a libSQL server (directly or through an embedded replica).
    pub(crate) fn on_server(&self) -> bool {
        !self.local_writer
    }

    /// How the connections have been used, and their statement caches summed.
    pub(crate) async fn stats(&self) -> (ConnectionStats, StatementCacheStats) {
        let uptime = self.opened.elapsed();
        let mut statements = StatementCacheStats::default();
        for counters in &self.statement_counters {
            statements.add(&counters.stats());
        }
        let conns = ConnectionStats {
            readers: self.reader_meter.stats(self.readers.len(), uptime),
            writer: self.writer_meter.stats(1, uptime),
        };
        (conns, statements)
    }
}

/// Whether a server's answer is a refusal (a wrong token, a wrong database) rather than
/// silence: the one failure an embedded replica must not open over. Only the HTTP status
/// counts, never digits of the URL or of a timeout the message may quote.
fn is_refusal(err: &libsql::Error) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    if text.contains("did not answer within") {
        return false;
    }
    [
        "status=401",
        "status=403",
        "status=404",
        "unauthorized",
        "forbidden",
    ]
    .iter()
    .any(|sign| text.contains(sign))
}

async fn lease(guard: OwnedMutexGuard<Conn>, meter: &Arc<PoolMeter>, asked: Instant) -> Lease {
    meter.wait.record(asked.elapsed());
    meter.acquisitions.fetch_add(1, Ordering::Relaxed);
    let mut guard = guard;
    guard.recycle().await;
    // Counted only once nothing can cancel the lease before it exists to uncount it.
    meter.in_use.fetch_add(1, Ordering::Relaxed);
    Lease {
        guard,
        meter: Arc::clone(meter),
        since: Instant::now(),
    }
}

/// Opens one connection and applies the per-connection settings: to a local file's; a
/// server's connections are set up by the server, so they only get their statement cache.
async fn connect(
    db: &Arc<Database>,
    config: &TursoConfig,
    server: Option<ServerLink>,
) -> Result<Conn, libsql::Error> {
    let conn = db.connect()?;
    if server.is_some() {
        return Ok(Conn::new(conn, config.statement_cache_capacity, server));
    }
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

    let synchronous = match config.durability {
        Durability::Normal => "PRAGMA synchronous = NORMAL",
        Durability::Full => "PRAGMA synchronous = FULL",
    };
    conn.execute(synchronous, ()).await?;
    conn.execute("PRAGMA foreign_keys = ON", ()).await?;
    // What a write frees — a deleted row, the old version of an updated one, a page let go —
    // is overwritten with zeros, so deleted text (an episode deleted for a secret it held)
    // is not left in free space, free pages or, after the delete's checkpoint, the WAL. It
    // answers with the new setting, so it is a query.
    let mut rows = conn.query("PRAGMA secure_delete = ON", ()).await?;
    while rows.next().await?.is_some() {}
    drop(rows);
    // Group commit runs each queued write in a savepoint, and SQLite journals the original
    // of every page a savepoint first changes; past 64 KiB that journal spills to a
    // temporary file, one `pwrite` per page. Kept in memory it costs a copy, and it is
    // emptied when the savepoint is released. Sorts stay in memory too: a query's are
    // bounded by its `LIMIT` or by a result it returns whole anyway, and a migration that
    // builds an index sorts its keys in memory (migration 7 on a 10,000-episode store
    // peaked 2 MB above a plain open; the sort grows with the episode count).
    conn.execute("PRAGMA temp_store = MEMORY", ()).await?;
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
    Ok(Conn::new(conn, config.statement_cache_capacity, None))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The connections of a new store in the file `name` under `dir`, its schema made (every
    /// write transaction names its writer in a table of the schema): for unit tests of what
    /// runs on the connections.
    pub(crate) async fn migrated(dir: &tempfile::TempDir, name: &str) -> Connections {
        let conns = Connections::open(
            &Location::File(dir.path().join(name)),
            &TursoConfig::default(),
            None,
        )
        .await
        .unwrap();
        crate::schema::migrate(conns.writer().await.raw(), name)
            .await
            .unwrap();
        conns
    }

    async fn pragma(conn: &Conn, name: &str) -> i64 {
        let mut rows = conn
            .raw()
            .query(&format!("PRAGMA {name}"), ())
            .await
            .unwrap();
        rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
    }

    /// Savepoint journals (one per queued write of a group commit) and temporary tables stay
    /// in memory on every connection: `temp_store` 2 is MEMORY.
    #[tokio::test]
    async fn every_connection_keeps_temporary_data_in_memory() {
        let dir = tempfile::TempDir::new().unwrap();
        let conns = Connections::open(
            &Location::File(dir.path().join("t.db")),
            &TursoConfig::default(),
            None,
        )
        .await
        .unwrap();
        let writer = conns.writer().await;
        assert_eq!(pragma(&writer, "temp_store").await, 2);
        for reader in &conns.readers {
            let reader = reader.lock().await;
            assert_eq!(pragma(&reader, "temp_store").await, 2);
        }
    }

    /// `synchronous` follows the durability asked for: 1 is NORMAL, 2 is FULL.
    #[tokio::test]
    async fn commits_are_flushed_when_full_durability_is_asked_for() {
        let dir = tempfile::TempDir::new().unwrap();
        for (durability, expected) in [(Durability::Normal, 1), (Durability::Full, 2)] {
            let config = TursoConfig {
                durability,
                ..TursoConfig::default()
            };
            let path = dir.path().join(format!("{durability:?}.db"));
            let conns = Connections::open(&Location::File(path), &config, None)
                .await
                .unwrap();
            let writer = conns.writer().await;
            assert_eq!(pragma(&writer, "synchronous").await, expected);
        }
    }
}
