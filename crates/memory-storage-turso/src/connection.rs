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
//! keeps the file consistent across power loss), `foreign_keys=ON` and `secure_delete=ON`
//! (what a write frees is overwritten with zeros, so deleted text does not linger in free
//! space or free pages). Together with `BEGIN
//! IMMEDIATE` for every write, this is what lets several processes (the CLI and an MCP
//! server) share one file safely.

use crate::error::{RequestTimedOut, TursoError};
use crate::group_commit::WriteQueue;
use crate::location::Location;
use crate::replica::{DEFAULT_SYNC_INTERVAL, PeriodicSync, Replica, ReplicaLock};
use crate::statements::{
    self, DEFAULT_STATEMENT_CAPACITY, PreparedStatementCache, StatementCounters,
};
use libsql::params::IntoParams;
use libsql::{Connection, Database, Rows, Statement};
use memory_core::metrics::{ConnectionStats, LatencyHistogram, PoolStats, StatementCacheStats};
use std::future::Future as _;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// One database connection with its prepared-statement cache.
///
/// `query` and `execute` mirror [`Connection`]'s but go through the cache, so every query
/// path of the crate reuses its prepared statements.
pub(crate) struct Conn {
    conn: Connection,
    statements: std::sync::Mutex<PreparedStatementCache>,
    /// On a server: the server, to replace the connection once it has been idle long enough
    /// for the server to expire its stream, and to bound its requests.
    server: Option<ServerLink>,
    /// When its last lease ended.
    last_used: Instant,
    /// On the writer: the statement that names this handle the writer of the change log's
    /// rows a transaction adds (see [`crate::change_log`]), made once.
    names_writer: Option<String>,
    /// Write transactions this connection committed (for the change log's pruning).
    commits: AtomicU64,
    /// Set when a request went unanswered: the stream's state is unknown, so nothing more is
    /// sent on this connection and it is replaced before its next use.
    abandoned: AtomicBool,
    /// On the writer of a replicated store: the replica, synced after each commit so that
    /// this handle's reads see its writes.
    replica: Option<Arc<Replica>>,
}

/// How many rows the change log keeps (see [`crate::change_log`]): a process that has not
/// looked for longer than it takes others to write this many changes drops its whole cache
/// instead.
#[cfg(test)]
pub(crate) const CHANGE_LOG_KEEP: u64 = 20_000;

/// A writer prunes the change log at one commit in this many (each pruning deletes what
/// the commits since added, in one range delete).
pub(crate) const CHANGE_LOG_PRUNE_EVERY: u64 = 64;

/// What a writer runs as a write transaction begins: names it the writer of the change
/// log's rows the transaction adds, and notes where they start (so that the namespaces'
/// rows are added once per transaction). Only numbers are formatted in.
fn change_log_writer_sql(writer: i64) -> String {
    format!(
        "UPDATE change_writer SET writer = {writer}, \
         since = (SELECT coalesce(max(seq), 0) FROM change_log) WHERE id = 1"
    )
}

/// Keeps the change log's newest `CHANGE_LOG_KEEP` rows (a unit test ties the two).
const CHANGE_LOG_PRUNE: &str =
    "DELETE FROM change_log WHERE seq <= (SELECT max(seq) FROM change_log) - 20000";

/// The tracing target of every statement a connection is given, before it runs
/// (`MEMORY_LOG=memory_storage_turso::sql=trace` lists them; on a server each run is one
/// round trip, and preparing a statement not yet cached is another).
pub(crate) const SQL_TRACE: &str = "memory_storage_turso::sql";

/// How long a server connection may sit idle before it is replaced rather than used: a
/// libSQL server drops an idle Hrana stream after about ten seconds and then refuses the
/// next request on it ("stream has expired").
const SERVER_IDLE_REOPEN: Duration = Duration::from_secs(5);

impl Conn {
    /// `conn` with an empty statement cache; `server` is the server's database, from which
    /// the connection is made anew after it has been idle (see [`SERVER_IDLE_REOPEN`]).
    fn new(conn: Connection, config: &TursoConfig, server: Option<ServerLink>) -> Conn {
        Conn {
            conn,
            statements: std::sync::Mutex::new(PreparedStatementCache::new(
                config.statement_cache_capacity,
            )),
            server,
            last_used: Instant::now(),
            names_writer: None,
            commits: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            replica: None,
        }
    }

    /// Runs `request` (one or more requests to the database) within the server's request
    /// timeout. A request that goes unanswered fails with [`RequestTimedOut`] and leaves the
    /// connection abandoned: what follows on it fails at once, and it is replaced when next
    /// leased (the server rolls back whatever transaction its stream held when it expires
    /// the stream). On a local file it simply runs `request`.
    pub(crate) async fn bounded<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, libsql::Error>>,
    ) -> Result<T, libsql::Error> {
        let Some(server) = &self.server else {
            return request.await;
        };
        if self.abandoned.load(Ordering::Relaxed) {
            return Err(server.timed_out());
        }
        match tokio::time::timeout(server.timeout, request).await {
            Ok(Err(err)) if is_transport_failure(&err) => {
                Err(ServerFailed::error(&server.url, err))
            }
            Ok(answer) => answer,
            Err(_) => {
                self.abandoned.store(true, Ordering::Relaxed);
                Err(server.timed_out())
            }
        }
    }

    /// Starts a write transaction, taking the database's write lock at once, and names this
    /// handle as the writer of the change log's rows the transaction adds (see
    /// [`crate::change_log`]; one request on a server). Through a replica whose server has
    /// stopped answering its syncs, fails at once rather than waiting for the server (reads
    /// still come from the replica).
    pub(crate) async fn begin_write(&self) -> Result<(), libsql::Error> {
        if let Some(replica) = &self.replica {
            replica.refuse_writes_while_away()?;
        }
        let Some(name) = &self.names_writer else {
            return self.execute("BEGIN IMMEDIATE", ()).await.map(|_| ());
        };
        if self.server.is_some() {
            self.execute_script(&format!("BEGIN IMMEDIATE; {name}"))
                .await
        } else {
            self.execute("BEGIN IMMEDIATE", ()).await?;
            self.execute(name, ()).await.map(|_| ())
        }
    }

    /// Commits the write transaction, pruning the change log now and then (see
    /// [`crate::change_log`]; in the same request on a server). An embedded replica is then
    /// synced, so that this handle reads what it wrote.
    pub(crate) async fn commit_write(&self) -> Result<(), libsql::Error> {
        if let Some(replica) = self.commit_write_unsynced().await? {
            replica.after_write().await;
        }
        Ok(())
    }

    /// [`Conn::commit_write`] without the sync: returns the embedded replica (if the store
    /// has one) that must be synced before the write's callers read — which the caller does
    /// after giving the writer back, so that the next writes need not wait for the sync.
    pub(crate) async fn commit_write_unsynced(
        &self,
    ) -> Result<Option<Arc<Replica>>, libsql::Error> {
        if self.names_writer.is_none() {
            self.execute("COMMIT", ()).await?;
            return Ok(self.replica.clone());
        }
        let prune = self
            .commits
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(CHANGE_LOG_PRUNE_EVERY);
        match (prune, self.server.is_some()) {
            (false, _) => {
                self.execute("COMMIT", ()).await?;
            }
            (true, true) => {
                self.execute_script(&format!("{CHANGE_LOG_PRUNE}; COMMIT"))
                    .await?;
            }
            (true, false) => {
                self.execute(CHANGE_LOG_PRUNE, ()).await?;
                self.execute("COMMIT", ()).await?;
            }
        }
        Ok(self.replica.clone())
    }

    /// Starts a read transaction: everything read until [`Conn::end_read`] comes from one
    /// snapshot.
    pub(crate) async fn begin_read(&self) -> Result<(), libsql::Error> {
        self.execute("BEGIN", ()).await.map(|_| ())
    }

    /// Ends the read transaction [`Conn::begin_read`] started: `COMMIT` or `ROLLBACK`.
    pub(crate) async fn end_read(&self, end: &'static str) -> Result<(), libsql::Error> {
        self.execute(end, ()).await.map(|_| ())
    }

    /// Runs a query through the statement cache.
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: impl IntoParams,
    ) -> Result<Rows, libsql::Error> {
        let statement = self.prepare(sql).await?;
        statement.query(params).await
    }

    /// Runs `sql` once, without keeping it in the statement cache (for a statement whose
    /// text is built for this one use); returns how many rows it changed.
    pub(crate) async fn execute_once(
        &self,
        sql: &str,
        params: impl IntoParams,
    ) -> Result<u64, libsql::Error> {
        tracing::trace!(target: SQL_TRACE, sql);
        self.bounded(self.conn.execute(sql, params)).await
    }

    /// Runs `sql`, several statements separated by semicolons, without parameters.
    pub(crate) async fn execute_script(&self, sql: &str) -> Result<(), libsql::Error> {
        tracing::trace!(target: SQL_TRACE, sql);
        self.bounded(self.conn.execute_batch(sql)).await.map(|_| ())
    }

    /// Runs a statement that returns no rows through the statement cache; returns how many
    /// rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: impl IntoParams,
    ) -> Result<u64, libsql::Error> {
        let statement = self.prepare(sql).await?;
        statement.execute(params).await.map(|n| n as u64)
    }

    /// The cached prepared statement for `sql` (prepared now if it is not cached), reset and
    /// ready to bind. It is reset again when the connection is given back.
    pub(crate) async fn prepare(&self, sql: &str) -> Result<Prepared<'_>, libsql::Error> {
        tracing::trace!(target: SQL_TRACE, sql);
        let statement = self
            .bounded(statements::acquire(&self.statements, &self.conn, sql))
            .await?;
        Ok(Prepared {
            conn: self,
            statement,
        })
    }

    /// Whether the connection is to a libSQL server (where each request is a round trip).
    pub(crate) fn on_server(&self) -> bool {
        self.server.is_some()
    }

    /// Rowid of the last row this connection inserted.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        self.conn.last_insert_rowid()
    }

    /// The underlying connection, for what does not go through prepared statements
    /// (schema scripts, pragmas at setup).
    pub(crate) fn raw(&self) -> &Connection {
        &self.conn
    }

    /// Resets every statement handed out since the connection was taken. A statement that
    /// has not been reset counts as still running, and SQLite will not release a savepoint
    /// or commit while a write statement is running.
    pub(crate) fn reset_statements(&self) {
        statements::lock(&self.statements).release();
    }

    /// Makes the connection ready for its next user: statements reset, a transaction left
    /// open by an operation that was cancelled half-way rolled back, and a server
    /// connection replaced when the server may have dropped its stream.
    async fn recycle(&mut self) {
        statements::lock(&self.statements).release();
        if self.abandoned.load(Ordering::Relaxed) {
            // A request went unanswered: nothing more is sent on this stream.
            self.replace();
            return;
        }
        if !self.conn.is_autocommit() {
            tracing::warn!("rolling back a transaction left open by a cancelled operation");
            if let Err(err) = self.bounded(self.conn.execute("ROLLBACK", ())).await {
                tracing::warn!(error = %err, "rollback of an abandoned transaction failed");
            }
        }
        // A server connection idle long enough for the server to drop its stream, or one
        // whose abandoned transaction could not be rolled back, is replaced: a new
        // connection opens a new stream on its first request (and the server rolls back
        // what the old stream left open when it expires it).
        if self.server.is_some()
            && (self.last_used.elapsed() >= SERVER_IDLE_REOPEN || !self.conn.is_autocommit())
        {
            self.replace();
        }
    }

    /// Replaces a server connection with a new one (a new stream on its first request); its
    /// prepared statements go with it. Nothing to do for a local file's connection.
    fn replace(&mut self) {
        let Some(server) = &self.server else {
            return;
        };
        match server.db.connect() {
            Ok(conn) => {
                self.conn = conn;
                self.abandoned.store(false, Ordering::Relaxed);
                statements::lock(&self.statements).clear();
            }
            Err(err) => tracing::warn!(error = %err, "could not reopen a server connection"),
        }
    }
}

/// A prepared statement of a [`Conn`], run within the connection's request timeout.
pub(crate) struct Prepared<'c> {
    conn: &'c Conn,
    statement: Arc<Statement>,
}

impl Prepared<'_> {
    /// Runs the statement with `params`; returns how many rows it changed.
    pub(crate) async fn execute(&self, params: impl IntoParams) -> Result<usize, libsql::Error> {
        self.conn.bounded(self.statement.execute(params)).await
    }

    /// Runs the statement with `params` and returns its rows.
    pub(crate) async fn query(&self, params: impl IntoParams) -> Result<Rows, libsql::Error> {
        self.conn.bounded(self.statement.query(params)).await
    }

    /// Resets the statement for its next run with new parameters.
    pub(crate) fn reset(&self) {
        self.statement.reset();
    }
}

/// The libSQL server a connection is made to.
#[derive(Clone)]
pub(crate) struct ServerLink {
    db: Arc<Database>,
    url: Arc<str>,
    /// How long one request may go unanswered.
    timeout: Duration,
}

impl ServerLink {
    /// The error of a request it did not answer in time.
    fn timed_out(&self) -> libsql::Error {
        RequestTimedOut::error(&self.url, self.timeout)
    }
}

/// A request that never got the server's answer (refused, unreachable, cut off): the
/// libSQL error, with the URL of the server it was for, so that whoever reads the failure
/// knows which server to look at.
#[derive(Debug, thiserror::Error)]
#[error("the libSQL server at {url} failed: {source}")]
pub(crate) struct ServerFailed {
    url: String,
    source: libsql::Error,
}

impl ServerFailed {
    /// The libSQL error carrying it.
    fn error(url: &str, source: libsql::Error) -> libsql::Error {
        libsql::Error::Hrana(Box::new(ServerFailed {
            url: url.to_string(),
            source,
        }))
    }
}

/// Whether `err` is the transport's failure rather than the server's answer (a statement
/// the server refused keeps libSQL's own error, which callers match on).
fn is_transport_failure(err: &libsql::Error) -> bool {
    let said = err.to_string().to_ascii_lowercase();
    [
        "http error",
        "error trying to connect",
        "connection",
        "broken pipe",
        "status=",
    ]
    .iter()
    .any(|sign| said.contains(sign))
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
        self.guard.last_used = Instant::now();
        statements::lock(&self.guard.statements).release();
        // On a server a request cannot finish in one poll, and one dropped half-sent would
        // leave the stream in doubt: its rollback waits for `recycle`, and the server gives
        // the lock back by itself when it expires the stream.
        if !self.guard.conn.is_autocommit() && self.guard.server.is_none() {
            // An operation stopped half-way (cancelled, or panicked): roll back now rather
            // than when the connection is next used, so the database's write lock is not
            // held meanwhile. A local libSQL statement runs to completion when first polled.
            let rollback = self.guard.conn.execute("ROLLBACK", ());
            let mut rollback = std::pin::pin!(rollback);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match rollback.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(Ok(_)) => {
                    tracing::warn!("rolled back a transaction left open by a stopped operation");
                }
                std::task::Poll::Ready(Err(err)) => {
                    tracing::warn!(error = %err, "rollback of an abandoned transaction failed");
                }
                // Left for `recycle` on the connection's next use.
                std::task::Poll::Pending => {}
            }
        }
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
    max_write_batch: usize,
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
        let link = location.url().map(|url| ServerLink {
            db: Arc::clone(&db),
            url: Arc::from(url),
            timeout: config.request_timeout,
        });
        let mut writer = connect(&db, config, link.clone()).await.map_err(open_err)?;
        // Random, so that two handles on one store (two processes, two machines) tell their
        // changes apart.
        let writer_tag = Uuid::new_v4().as_u64_pair().0.cast_signed();
        writer.names_writer = Some(change_log_writer_sql(writer_tag));
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
            writer.replica = replica.clone();
        }
        let mut statement_counters = vec![statements::lock(&writer.statements).counters()];
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
            statement_counters.push(statements::lock(&reader.statements).counters());
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
            queue: Arc::new(WriteQueue::bounded(config.max_queued_writes)),
            max_write_batch: config.max_write_batch,
            statement_counters,
            writer_tag,
            replica,
            _periodic_sync: periodic_sync,
            unreachable: std::sync::Mutex::new(unreachable),
            local_writer: matches!(location, Location::File(_)),
            local_reads: !matches!(location, Location::Server { .. }),
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
    pub(crate) async fn reader(&self) -> Lease {
        let started = Instant::now();
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

    /// The group-commit queue, for a batch that outlives its leader's call.
    pub(crate) fn queue_handle(&self) -> Arc<WriteQueue> {
        Arc::clone(&self.queue)
    }

    /// Most writes committed together.
    pub(crate) fn max_write_batch(&self) -> usize {
        self.max_write_batch
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
        return Ok(Conn::new(conn, config, server));
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
    Ok(Conn::new(conn, config, None))
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

    #[test]
    fn the_change_log_is_pruned_to_the_rows_it_keeps() {
        assert!(CHANGE_LOG_PRUNE.ends_with(&format!(" - {CHANGE_LOG_KEEP}")));
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
