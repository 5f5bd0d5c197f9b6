//! One database connection: its prepared statements, its requests bounded in time on a
//! server, and the statements that begin and end its transactions.
//!
//! [`Conn`] is what every query of the crate runs on; [`crate::connection`] opens the
//! database and hands out its connections, one operation at a time.

use crate::error::{RequestTimedOut, interrupted};
use crate::pipeline::Pipeline;
use crate::replica::Replica;
use crate::rows::Rows;
use crate::statements::{self, PreparedStatementCache, SQL_TRACE, StatementCounters};
use libsql::params::IntoParams;
use libsql::{Connection, Database, Statement};
use std::future::Future as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// How long a server connection may sit idle before it is replaced rather than used: a
/// libSQL server drops an idle Hrana stream after about ten seconds and then refuses the
/// next request on it ("stream has expired").
const SERVER_IDLE_REOPEN: Duration = Duration::from_secs(5);

impl Conn {
    /// `conn` with an empty cache of at most `statement_capacity` statements; `server` is
    /// the server's database, from which the connection is made anew after it has been idle
    /// (see [`SERVER_IDLE_REOPEN`]).
    pub(crate) fn new(
        conn: Connection,
        statement_capacity: usize,
        server: Option<ServerLink>,
    ) -> Conn {
        Conn {
            conn,
            statements: std::sync::Mutex::new(PreparedStatementCache::new(statement_capacity)),
            server,
            last_used: Instant::now(),
            names_writer: None,
            commits: AtomicU64::new(0),
            abandoned: AtomicBool::new(false),
            replica: None,
        }
    }

    /// Makes this the writer connection of the handle tagged `writer_tag`: each write
    /// transaction it begins names that tag the writer of the change log's rows it adds.
    pub(crate) fn name_writer(&mut self, writer_tag: i64) {
        self.names_writer = Some(change_log_writer_sql(writer_tag));
    }

    /// Syncs `replica` after each commit, so that this handle's reads (from the replica)
    /// see its writes.
    pub(crate) fn sync_after_commits(&mut self, replica: Option<Arc<Replica>>) {
        self.replica = replica;
    }

    /// The counters of this connection's statement cache, readable while it is in use.
    pub(crate) fn statement_counters(&self) -> Arc<StatementCounters> {
        statements::lock(&self.statements).counters()
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
    /// [`crate::change_log`]; in the same request on a server). An embedded replica then
    /// syncs in the background, and this handle's reads wait for it (see
    /// [`Replica::after_write`]).
    pub(crate) async fn commit_write(&self) -> Result<(), libsql::Error> {
        if let Some(replica) = self.commit_write_unsynced().await? {
            replica.after_write();
        }
        Ok(())
    }

    /// What a write transaction sent as one request (see [`crate::planned`]) runs around its
    /// writes: what [`Conn::begin_write`] and [`Conn::commit_write`] run around theirs.
    /// Through a replica whose server has stopped answering its syncs, fails at once.
    pub(crate) fn write_frame(&self) -> Result<WriteFrame, libsql::Error> {
        if let Some(replica) = &self.replica {
            replica.refuse_writes_while_away()?;
        }
        let Some(name) = &self.names_writer else {
            return Ok(WriteFrame::default());
        };
        let prune = self
            .commits
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(CHANGE_LOG_PRUNE_EVERY);
        Ok(WriteFrame {
            begin: vec![name.clone()],
            before_commit: if prune {
                vec![CHANGE_LOG_PRUNE.to_string()]
            } else {
                Vec::new()
            },
        })
    }

    /// The server's pipeline, to send a batch of statements as one request; `None` on a
    /// local file.
    pub(crate) fn pipeline(&self) -> Option<&Pipeline> {
        self.server.as_ref().map(|server| server.pipeline.as_ref())
    }

    /// The embedded replica this writer syncs after its commits, if any.
    pub(crate) fn replica(&self) -> Option<Arc<Replica>> {
        self.replica.clone()
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
    ///
    /// On a server, preparing asks the server to describe the statement. A cancel meant for
    /// another request (see [`Prepared::query`]) stays on the server's connection until it
    /// next runs a statement, and every description fails meanwhile: a trivial statement
    /// is run, then the description asked for again.
    pub(crate) async fn prepare(&self, sql: &str) -> Result<Prepared<'_>, libsql::Error> {
        tracing::trace!(target: SQL_TRACE, sql);
        let mut tries = 1;
        let statement = loop {
            match self
                .bounded(statements::acquire(&self.statements, &self.conn, sql))
                .await
            {
                Err(err) if self.paused_after_cancel(&err, &mut tries).await => {
                    if let Err(err) = self.bounded(self.conn.execute("SELECT 1", ())).await {
                        tracing::debug!(error = %err, "clearing a cancel on the server failed");
                    }
                }
                prepared => break prepared?,
            }
        };
        Ok(Prepared {
            conn: self,
            statement,
        })
    }

    /// Whether `err`, the answer to try number `tries`, is a server's cancel meant for
    /// another request (see [`Prepared::query`]) that the request may be sent again after:
    /// at most [`CANCELLED_TRIES`] tries, each after a pause longer than the last.
    async fn paused_after_cancel(&self, err: &libsql::Error, tries: &mut u32) -> bool {
        if !self.on_server() || *tries >= CANCELLED_TRIES || !interrupted(err) {
            return false;
        }
        tracing::debug!("the server cancelled a request meant for another; sending it again");
        tokio::time::sleep(CANCELLED_PAUSE * *tries).await;
        *tries += 1;
        true
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
    pub(crate) async fn recycle(&mut self) {
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

    /// What giving the connection back does to it: its statements are reset (ending any
    /// read snapshot), and on a local file a transaction an operation left open (it was
    /// cancelled, or panicked) is rolled back now, so that the database's write lock is not
    /// held until the connection's next use.
    pub(crate) fn given_back(&mut self) {
        self.last_used = Instant::now();
        statements::lock(&self.statements).release();
        // On a server a request cannot finish in one poll, and one dropped half-sent would
        // leave the stream in doubt: its rollback waits for `recycle`, and the server gives
        // the lock back by itself when it expires the stream.
        if self.conn.is_autocommit() || self.server.is_some() {
            return;
        }
        // A local libSQL statement runs to completion when first polled.
        let rollback = self.conn.execute("ROLLBACK", ());
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
}

/// The statements a write transaction runs besides its writes: after `BEGIN IMMEDIATE`, and
/// before `COMMIT`.
#[derive(Debug, Default)]
pub(crate) struct WriteFrame {
    /// Run first, in order.
    pub(crate) begin: Vec<String>,
    /// Run last, in order, just before the commit.
    pub(crate) before_commit: Vec<String>,
}

/// How many times a statement runs when the server keeps cancelling it (see
/// [`Prepared::query`]).
const CANCELLED_TRIES: u32 = 5;

/// How long a statement the server cancelled waits before it runs again, times the tries
/// so far: the cancelled request's own end on the server (its rows dropped) can cancel
/// a request sent at once after it.
const CANCELLED_PAUSE: Duration = Duration::from_millis(10);

/// A prepared statement of a [`Conn`], run within the connection's request timeout.
pub(crate) struct Prepared<'c> {
    conn: &'c Conn,
    statement: Arc<Statement>,
}

impl Prepared<'_> {
    /// Runs the statement with `params`; returns how many rows it changed.
    ///
    /// On a server, a statement outside a transaction that the server cancelled for another
    /// request (see [`crate::error::interrupted`]) runs again: cancelled, it changed
    /// nothing. Within a transaction the cancel rolled the transaction back, and the
    /// failure goes to the caller.
    pub(crate) async fn execute(&self, params: impl IntoParams) -> Result<usize, libsql::Error> {
        let params = params.into_params()?;
        let mut tries = 1;
        loop {
            let alone = self.conn.conn.is_autocommit();
            match self
                .conn
                .bounded(self.statement.execute(params.clone()))
                .await
            {
                Err(err) if alone && self.conn.paused_after_cancel(&err, &mut tries).await => {
                    self.statement.reset();
                }
                done => return done,
            }
        }
    }

    /// Runs the statement with `params` and returns its rows.
    ///
    /// On a server, a query the server cancelled for another request (see
    /// [`crate::error::interrupted`]) runs again: a cancelled query leaves a read
    /// transaction as it was.
    pub(crate) async fn query(&self, params: impl IntoParams) -> Result<Rows, libsql::Error> {
        let params = params.into_params()?;
        let mut tries = 1;
        loop {
            match self
                .conn
                .bounded(self.statement.query(params.clone()))
                .await
            {
                Ok(rows) => return Ok(Rows::new(rows, self.conn.on_server())),
                Err(err) if self.conn.paused_after_cancel(&err, &mut tries).await => {
                    self.statement.reset();
                }
                Err(err) => return Err(err),
            }
        }
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
    /// The server's pipeline endpoint, for writes sent as one request.
    pipeline: Arc<Pipeline>,
}

impl ServerLink {
    /// The server `url`, whose database `db` connections are made from, each request
    /// sending `auth_token` (when not empty) and answered within `timeout`.
    pub(crate) fn new(
        db: Arc<Database>,
        url: &str,
        auth_token: &str,
        timeout: Duration,
    ) -> ServerLink {
        ServerLink {
            db,
            url: Arc::from(url),
            timeout,
            pipeline: Arc::new(Pipeline::new(url, auth_token, timeout)),
        }
    }

    /// The server's pipeline endpoint.
    pub(crate) fn pipeline(&self) -> Arc<Pipeline> {
        Arc::clone(&self.pipeline)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_log_is_pruned_to_the_rows_it_keeps() {
        assert!(CHANGE_LOG_PRUNE.ends_with(&format!(" - {CHANGE_LOG_KEEP}")));
    }
}
