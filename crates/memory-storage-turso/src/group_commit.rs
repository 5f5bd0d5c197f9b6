//! Group commit: concurrent writes share one transaction on the writer connection.
//!
//! A write is queued as a job. Whoever takes the writer connection next (the *leader*)
//! takes every queued job and runs them in one `BEGIN IMMEDIATE … COMMIT`, each inside its
//! own savepoint so that a failing job is rolled back alone. Each caller is answered only
//! after the commit that holds its data, with its own result. While one batch commits, the
//! next batch gathers in the queue, so the more writers there are, the more each
//! transaction carries and the fewer commits the database pays for.
//!
//! Jobs of every result type share the queue as [`QueuedWrite`] trait objects: each keeps
//! its operation, its result and its caller's reply channel with their own types, so no
//! value is ever type-erased and recovered.
//!
//! The batch runs in a task of its own, so a leader whose request is cancelled (a client
//! that hangs up) does not abandon the writes of the callers it carries; on a local file,
//! where it may block ([`crate::off_runtime`]), since it may wait seconds for the file's lock.

use crate::conn::Conn;
use crate::error::{SqlContext, TursoError};
use crate::off_runtime::off_runtime_holding;
use crate::planned::{self, Outcomes, PlannedStatement};
use crate::replica::Replica;
use memory_core::metrics::WriteQueueStats;
use memory_core::{MemoryError, Result};
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// The future of one queued write, borrowing the writer connection.
pub(crate) type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// One write of the queue, whatever its result type, as a batch runs and answers it.
trait QueuedWrite: Send {
    /// Whether its caller stopped waiting (its request was cancelled).
    fn abandoned(&self) -> bool;

    /// Runs the write on `conn` and keeps its result for the answer; whether it succeeded.
    fn run<'a>(&'a mut self, conn: &'a Conn) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

    /// Leaves the write unrun, failed with `err`.
    fn skip(&mut self, err: MemoryError);

    /// Answers the caller with the write's result, counted in `queue` first (a caller may
    /// read the counters as soon as it has its answer). With `uncommitted`, the reason its
    /// transaction did not commit, a success (or a write that never ran) is answered with
    /// that failure instead; a failure keeps its own error.
    fn answer(self: Box<Self>, uncommitted: Option<&str>, queue: &WriteQueue);

    /// Answers the caller with the failure `message`, whatever the write's result, counted
    /// in `queue` first.
    fn fail(self: Box<Self>, message: &str, queue: &WriteQueue);

    /// The statements that carry the write out, when it is a planned write (see
    /// [`crate::planned`]): then a server's batch may send it with others as one request.
    fn planned(&self) -> Option<&[PlannedStatement]> {
        None
    }

    /// Keeps the result of a planned write whose statements ran (in a transaction that
    /// committed) and gave `outcomes`; whether it succeeded.
    fn settle<'a>(
        &'a mut self,
        conn: &'a Conn,
        outcomes: Outcomes,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let _ = (conn, outcomes);
        Box::pin(async { false })
    }
}

/// A queued write returning `T`: its operation until it runs, then its result, and the
/// channel its caller waits on.
struct TypedWrite<T, F> {
    op: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> QueuedWrite for TypedWrite<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c Conn) -> WriteFuture<'c, T> + Send + 'static,
{
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run<'a>(&'a mut self, conn: &'a Conn) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let result = match self.op.take() {
                Some(op) => op(conn).await,
                None => Err(storage_error("a queued write was run twice")),
            };
            let succeeded = result.is_ok();
            self.result = Some(result);
            succeeded
        })
    }

    fn skip(&mut self, err: MemoryError) {
        self.op = None;
        self.result = Some(Err(err));
    }

    fn answer(self: Box<Self>, uncommitted: Option<&str>, queue: &WriteQueue) {
        answer(self.result, self.reply, uncommitted, queue);
    }

    fn fail(self: Box<Self>, message: &str, queue: &WriteQueue) {
        queue.count(false);
        let _ = self.reply.send(Err(storage_error(message)));
    }
}

/// A planned write returning `T` (see [`crate::planned`]): its statements, the function
/// that reads their outcomes into its result, and the channel its caller waits on.
struct PlannedWrite<T, D> {
    statements: Vec<PlannedStatement>,
    decode: Option<D>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, D> PlannedWrite<T, D>
where
    T: Send + 'static,
    D: for<'c> FnOnce(&'c Conn, Outcomes) -> WriteFuture<'c, T> + Send + 'static,
{
    async fn decode(&mut self, conn: &Conn, outcomes: Outcomes) -> bool {
        let result = match self.decode.take() {
            Some(decode) => decode(conn, outcomes).await,
            None => Err(storage_error("a queued write was run twice")),
        };
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }
}

impl<T, D> QueuedWrite for PlannedWrite<T, D>
where
    T: Send + 'static,
    D: for<'c> FnOnce(&'c Conn, Outcomes) -> WriteFuture<'c, T> + Send + 'static,
{
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run<'a>(&'a mut self, conn: &'a Conn) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let outcomes = planned::run_each(conn, &self.statements).await;
            // A write whose statements did not all run is undone, whatever its result says
            // (as one sent to a server is, by the request's conditions).
            let ran = outcomes.is_ok();
            self.decode(conn, outcomes).await && ran
        })
    }

    fn skip(&mut self, err: MemoryError) {
        self.decode = None;
        self.result = Some(Err(err));
    }

    fn answer(self: Box<Self>, uncommitted: Option<&str>, queue: &WriteQueue) {
        answer(self.result, self.reply, uncommitted, queue);
    }

    fn fail(self: Box<Self>, message: &str, queue: &WriteQueue) {
        queue.count(false);
        let _ = self.reply.send(Err(storage_error(message)));
    }

    fn planned(&self) -> Option<&[PlannedStatement]> {
        Some(&self.statements)
    }

    fn settle<'a>(
        &'a mut self,
        conn: &'a Conn,
        outcomes: Outcomes,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(self.decode(conn, outcomes))
    }
}

/// Answers `reply` with a write's `result`, counted in `queue` first; with `uncommitted`,
/// the reason its transaction did not commit, a success (or a write that never ran) is
/// answered with that failure instead, and a failure keeps its own error.
fn answer<T>(
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
    uncommitted: Option<&str>,
    queue: &WriteQueue,
) {
    let result = match (result, uncommitted) {
        (Some(Err(err)), _) => Err(err),
        (Some(Ok(value)), None) => Ok(value),
        (_, Some(message)) => Err(storage_error(message)),
        (None, None) => Err(storage_error("a queued write was answered before it ran")),
    };
    queue.count(result.is_ok());
    // A caller that stopped waiting (cancelled) simply gets no answer.
    let _ = reply.send(result);
}

/// A write in the queue.
struct Job {
    /// Identifies the job in the queue, so its caller can make sure to carry it.
    ticket: u64,
    write: Box<dyn QueuedWrite>,
}

/// The queue of writes waiting for the writer, how it batches them, and its counters.
#[derive(Default)]
pub(crate) struct WriteQueue {
    jobs: std::sync::Mutex<Vec<Job>>,
    /// Most writes waiting at once; one more is refused as busy (0: no bound).
    limit: usize,
    /// Most writes committed together.
    max_batch: usize,
    /// Whether the writer is a file on this machine, where a batch blocks in SQLite (see
    /// [`crate::off_runtime`]).
    local_writer: bool,
    refused: AtomicU64,
    next_ticket: AtomicU64,
    max_depth: AtomicU64,
    commits: AtomicU64,
    operations: AtomicU64,
    failed: AtomicU64,
}

impl WriteQueue {
    /// A queue that holds at most `limit` waiting writes (0: no bound) and commits at most
    /// `max_batch` together, for a writer that is a local file when `local_writer`.
    pub(crate) fn new(limit: usize, max_batch: usize, local_writer: bool) -> WriteQueue {
        WriteQueue {
            limit,
            max_batch,
            local_writer,
            ..WriteQueue::default()
        }
    }

    /// Queues `job`, or refuses it as busy when `limit` writes are already waiting.
    fn push(&self, job: Job) -> Result<()> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if self.limit > 0 && jobs.len() >= self.limit {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(MemoryError::Busy(format!(
                "{} writes are already waiting for the database",
                jobs.len()
            )));
        }
        jobs.push(job);
        self.max_depth
            .fetch_max(jobs.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The job with `ticket` and up to `max_batch - 1` others, oldest first; `None` when
    /// the ticket's job is no longer queued.
    fn take(&self, ticket: u64) -> Option<Vec<Job>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let own = jobs.iter().position(|j| j.ticket == ticket)?;
        let mut batch = vec![jobs.remove(own)];
        let others = jobs.len().min(self.max_batch.max(1) - 1);
        batch.extend(jobs.drain(..others));
        Some(batch)
    }

    /// Counts one write answered: committed when `succeeded`, failed otherwise.
    fn count(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.operations
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The queue's counters.
    pub(crate) fn stats(&self) -> WriteQueueStats {
        let depth = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).len() as u64;
        WriteQueueStats {
            depth,
            max_depth: self.max_depth.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Queues `op` and returns its result once the transaction carrying it has committed.
    /// `writer` leases the writer connection, should this caller lead the next batch.
    /// `op` must not begin or end transactions.
    pub(crate) async fn write<T, F, W>(
        self: &Arc<Self>,
        writer: impl Future<Output = W>,
        op: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Conn) -> WriteFuture<'c, T> + Send + 'static,
        W: Deref<Target = Conn> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let write = TypedWrite {
            op: Some(op),
            result: None,
            reply,
        };
        self.carry(writer, Box::new(write), answer).await
    }

    /// Queues the planned write of `statements` (see [`crate::planned`]) and returns what
    /// `decode` reads from their outcomes once the transaction carrying it has committed.
    /// On a libSQL server, the planned writes of a batch are sent as one request; `decode`
    /// then runs after the commit, on the writer (to explain a refusal, say).
    pub(crate) async fn write_planned<T, D, W>(
        self: &Arc<Self>,
        writer: impl Future<Output = W>,
        statements: Vec<PlannedStatement>,
        decode: D,
    ) -> Result<T>
    where
        T: Send + 'static,
        D: for<'c> FnOnce(&'c Conn, Outcomes) -> WriteFuture<'c, T> + Send + 'static,
        W: Deref<Target = Conn> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let write = PlannedWrite {
            statements,
            decode: Some(decode),
            result: None,
            reply,
        };
        self.carry(writer, Box::new(write), answer).await
    }

    /// Queues `write` and waits for `answer`, leading the next batch should the writer
    /// come first.
    async fn carry<T, W>(
        self: &Arc<Self>,
        writer: impl Future<Output = W>,
        write: Box<dyn QueuedWrite>,
        mut answer: oneshot::Receiver<Result<T>>,
    ) -> Result<T>
    where
        W: Deref<Target = Conn> + Send + 'static,
    {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.push(Job { ticket, write })?;

        // A caller waits for whichever comes first: its answer, from a batch another leader
        // carried it in, or the writer, to lead the next batch itself. Waiting for the writer
        // alone would hold an answered caller behind every batch queued for the writer
        // before it (the writer's lock is first come, first served).
        let lease = tokio::select! {
            biased;
            result = &mut answer => return result.unwrap_or_else(|_| Err(abandoned())),
            lease = writer => lease,
        };
        // Either an earlier leader already committed this job…
        match answer.try_recv() {
            Ok(result) => {
                drop(lease);
                result
            }
            // …or it is still queued, and this caller leads the next batch, which always
            // carries the leader's own job.
            Err(oneshot::error::TryRecvError::Empty) => {
                let Some(jobs) = self.take(ticket) else {
                    // Another leader took it and committed it, and has given the writer
                    // back before answering (it waits for an embedded replica's sync
                    // first): the answer is on its way.
                    drop(lease);
                    return answer.await.unwrap_or_else(|_| Err(abandoned()));
                };
                let batch = off_runtime_holding(
                    self.local_writer,
                    run_batch(lease, jobs, Arc::clone(self)),
                );
                match tokio::runtime::Handle::try_current() {
                    Ok(handle) => drop(handle.spawn(batch)),
                    Err(_) => batch.await,
                }
                answer.await.unwrap_or_else(|_| Err(abandoned()))
            }
            Err(oneshot::error::TryRecvError::Closed) => Err(abandoned()),
        }
    }
}

fn storage_error(message: &str) -> MemoryError {
    MemoryError::Storage(message.to_string().into())
}

fn abandoned() -> MemoryError {
    storage_error(
        "the transaction carrying this write stopped before committing; nothing was written",
    )
}

/// Runs `jobs` on the leased writer and answers each caller once what carries its write
/// has committed. On a libSQL server the planned writes go first, all in one request (see
/// [`crate::planned`]); the others (and planned ones the server did not commit) run in one
/// transaction statement by statement, as every write does on a local file.
async fn run_batch<W: Deref<Target = Conn>>(lease: W, jobs: Vec<Job>, queue: Arc<WriteQueue>) {
    let conn: &Conn = &lease;
    // A caller that stopped waiting (its request was cancelled) before its write started
    // does not get it carried out behind its back.
    let mut jobs: Vec<Box<dyn QueuedWrite>> = jobs
        .into_iter()
        .map(|j| j.write)
        .filter(|w| !w.abandoned())
        .collect();
    let mut finished: Vec<(Box<dyn QueuedWrite>, Option<String>)> = Vec::new();
    let mut replica = None;
    if conn.pipeline().is_some() && jobs.iter().any(|job| job.planned().is_some()) {
        let (planned, others): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|job| job.planned().is_some());
        jobs = others;
        match run_in_one_request(conn, planned, &queue).await {
            OneRequestEnd::Committed(done) => {
                replica = conn.replica();
                finished.extend(done.into_iter().map(|job| (job, None)));
            }
            OneRequestEnd::NotCommitted(planned) => jobs.extend(planned),
            OneRequestEnd::Answered => {}
        }
    }
    if !jobs.is_empty()
        && let Some((done, synced)) = run_in_transaction(conn, jobs, &queue).await
    {
        replica = replica.or(synced);
        finished.extend(done);
    }
    // An embedded replica fetches this batch in the background; the callers are answered
    // now, and their next reads from the replica wait for it.
    drop(lease);
    if let Some(replica) = replica {
        replica.after_write();
    }
    for (job, uncommitted) in finished {
        job.answer(uncommitted.as_deref(), &queue);
    }
}

/// How a batch of planned writes sent as one request ended.
enum OneRequestEnd {
    /// The transaction committed; each write has its result.
    Committed(Vec<Box<dyn QueuedWrite>>),
    /// The server ran the request but did not commit it (its write lock was busy, a
    /// savepoint failed): nothing was kept, and the writes are still to run.
    NotCommitted(Vec<Box<dyn QueuedWrite>>),
    /// The request failed as a whole (not sent, not answered); every caller was answered
    /// with that failure.
    Answered,
}

/// Sends the planned writes `jobs` to the server in one write transaction, in one request.
async fn run_in_one_request(
    conn: &Conn,
    mut jobs: Vec<Box<dyn QueuedWrite>>,
    queue: &WriteQueue,
) -> OneRequestEnd {
    let Some(pipeline) = conn.pipeline() else {
        return OneRequestEnd::NotCommitted(jobs);
    };
    let frame = match conn.write_frame().ctx("begin write transaction") {
        Ok(frame) => frame,
        Err(err) => {
            fail_all(queue, jobs, &err.to_string());
            return OneRequestEnd::Answered;
        }
    };
    let mut request = {
        let writes: Vec<&[PlannedStatement]> = jobs
            .iter()
            .map(|job| job.planned().unwrap_or_default())
            .collect();
        planned::one_request(&frame, &writes)
    };
    let result = match pipeline.batch(std::mem::take(&mut request.batch)).await {
        Ok(result) => result,
        Err(err) => {
            let err = TursoError::Sql {
                context: "write",
                source: err,
            };
            fail_all(queue, jobs, &err.to_string());
            return OneRequestEnd::Answered;
        }
    };
    let Some(outcomes) = request.outcomes(result) else {
        return OneRequestEnd::NotCommitted(jobs);
    };
    queue.commits.fetch_add(1, Ordering::Relaxed);
    for (job, outcomes) in jobs.iter_mut().zip(outcomes) {
        job.settle(conn, outcomes).await;
    }
    OneRequestEnd::Committed(jobs)
}

/// Runs `jobs` in one transaction on `conn`, each in a savepoint of its own when there are
/// several. Returns each job with the reason its transaction did not commit (if it did
/// not), and the embedded replica to sync before answering; `None` when every caller was
/// answered already (the transaction could not begin, or broke half-way).
async fn run_in_transaction(
    conn: &Conn,
    jobs: Vec<Box<dyn QueuedWrite>>,
    queue: &WriteQueue,
) -> Option<(
    Vec<(Box<dyn QueuedWrite>, Option<String>)>,
    Option<Arc<Replica>>,
)> {
    if let Err(err) = conn.begin_write().await.ctx("begin write transaction") {
        fail_all(queue, jobs, &err.to_string());
        return None;
    }
    let isolate = jobs.len() > 1;
    let mut done: Vec<(Box<dyn QueuedWrite>, bool)> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    while let Some(mut job) = jobs.next() {
        let succeeded = if isolate {
            match run_isolated(conn, job.as_mut()).await {
                Ok(succeeded) => succeeded,
                Err(broken) => {
                    // The job's savepoint could not be rolled back or released: what it
                    // wrote may still be part of the transaction, so none of it commits.
                    if let Err(err) = conn.execute("ROLLBACK", ()).await {
                        tracing::warn!(error = %err, "rollback of a broken batch failed");
                    }
                    let message = format!(
                        "{broken}; the whole batch carrying this write was rolled back, \
                         nothing in it was written"
                    );
                    let all = done
                        .into_iter()
                        .map(|(job, _)| job)
                        .chain(std::iter::once(job))
                        .chain(jobs);
                    fail_all(queue, all, &message);
                    return None;
                }
            }
        } else {
            job.run(conn).await
        };
        done.push((job, succeeded));
        // Some errors (disk full, I/O, out of memory) make SQLite roll back the whole
        // transaction: nothing done so far will be committed, and what follows must not run
        // outside a transaction. Each failed write keeps its own error.
        if conn.raw().is_autocommit() {
            let message = "the database rolled back the transaction after an error; nothing \
                           in it was written";
            for job in done.into_iter().map(|(job, _)| job).chain(jobs) {
                job.answer(Some(message), queue);
            }
            return None;
        }
    }
    // Statements stay active until reset; SQLite refuses to commit while a write is.
    conn.reset_statements();
    let roll_back = !isolate && done.iter().all(|(_, succeeded)| !succeeded);
    let end = if roll_back {
        conn.execute("ROLLBACK", ())
            .await
            .map(|_| None)
            .ctx("roll back")
    } else {
        conn.commit_write_unsynced().await.ctx("commit")
    };
    let commit_error = end.as_ref().err().map(|e| e.to_string());
    if end.is_ok() && !roll_back {
        queue.commits.fetch_add(1, Ordering::Relaxed);
    }
    if commit_error.is_some() && !conn.raw().is_autocommit() {
        let _ = conn.execute("ROLLBACK", ()).await;
    }
    let replica = end.ok().flatten();
    let done = done
        .into_iter()
        .map(|(job, _)| (job, commit_error.clone()))
        .collect();
    Some((done, replica))
}

/// Answers the caller of every job in `jobs` with the storage error `message`.
fn fail_all(
    queue: &WriteQueue,
    jobs: impl IntoIterator<Item = Box<dyn QueuedWrite>>,
    message: &str,
) {
    for job in jobs {
        job.fail(message, queue);
    }
}

/// Runs one job of a batch inside a savepoint, so its failure undoes only its own writes;
/// whether it succeeded, or the error that left the savepoint in doubt.
async fn run_isolated(conn: &Conn, job: &mut dyn QueuedWrite) -> Result<bool, TursoError> {
    if let Err(err) = conn
        .execute("SAVEPOINT queued_write", ())
        .await
        .ctx("open savepoint")
    {
        // Nothing of the job ran: it alone fails.
        job.skip(err.into());
        return Ok(false);
    }
    let succeeded = job.run(conn).await;
    if conn.raw().is_autocommit() {
        // The database rolled everything back; the caller sees it.
        return Ok(succeeded);
    }
    conn.reset_statements();
    if !succeeded {
        conn.execute("ROLLBACK TO queued_write", ())
            .await
            .ctx("roll back to savepoint")?;
    }
    conn.execute("RELEASE queued_write", ())
        .await
        .ctx("release savepoint")?;
    Ok(succeeded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::connection::Connections;
    use std::time::Duration;

    async fn open(dir: &tempfile::TempDir) -> Arc<Connections> {
        Arc::new(crate::connection::tests::migrated(dir, "q.db").await)
    }

    /// A write that only touches the connection.
    async fn noop(conns: &Connections) -> Result<()> {
        conns
            .write(|conn| {
                Box::pin(async move {
                    conn.execute("PRAGMA user_version = 0", ())
                        .await
                        .ctx("noop")?;
                    Ok(())
                })
            })
            .await
    }

    /// A write of one row into a table of the test's own.
    async fn insert(conns: &Connections, value: i64) -> Result<()> {
        conns
            .write(move |conn| {
                Box::pin(async move {
                    conn.execute("INSERT INTO probe (value) VALUES (?1)", [value])
                        .await
                        .ctx("insert probe")?;
                    Ok(())
                })
            })
            .await
    }

    /// A batch whose job broke its own savepoint and then failed commits nothing: the
    /// job's row would otherwise be released into the transaction and committed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_broken_savepoint_rolls_back_the_whole_batch() {
        let dir = tempfile::TempDir::new().unwrap();
        let conns = open(&dir).await;
        {
            let writer = conns.writer().await;
            writer
                .raw()
                .execute("CREATE TABLE probe (value INTEGER)", ())
                .await
                .unwrap();
        }
        let first = conns.writer().await;
        let fine = tokio::spawn({
            let conns = Arc::clone(&conns);
            async move { insert(&conns, 1).await }
        });
        settle().await;
        let broken = tokio::spawn({
            let conns = Arc::clone(&conns);
            async move {
                conns
                    .write(|conn| {
                        Box::pin(async move {
                            conn.execute("INSERT INTO probe (value) VALUES (2)", ())
                                .await
                                .ctx("insert probe")?;
                            conn.execute("RELEASE queued_write", ())
                                .await
                                .ctx("release")?;
                            Err::<(), _>(MemoryError::Invalid(memory_core::ValidationError::new(
                                "probe",
                                "fails on purpose",
                            )))
                        })
                    })
                    .await
            }
        });
        settle().await;
        assert_eq!(conns.queue().stats().depth, 2);
        drop(first);
        let (fine, broken) = (fine.await.unwrap(), broken.await.unwrap());
        assert!(
            fine.is_err(),
            "a write of a rolled-back batch reported success"
        );
        let err = broken.unwrap_err().to_string();
        assert!(err.contains("rolled back"), "{err}");
        let reader = conns.reader().await;
        let mut rows = reader
            .raw()
            .query("SELECT count(*) FROM probe", ())
            .await
            .unwrap();
        let count = rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap();
        assert_eq!(count, 0, "rows of a rolled-back batch were committed");
    }

    /// With `max_queued_writes` writes waiting (the writer held), one more is refused at
    /// once as busy, and counted; those waiting commit, and the queue takes writes again.
    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_refuses_writes_as_busy() {
        let dir = tempfile::TempDir::new().unwrap();
        let config = crate::TursoConfig {
            max_queued_writes: 2,
            ..crate::TursoConfig::default()
        };
        let conns = Arc::new(
            Connections::open(
                &crate::location::Location::File(dir.path().join("q.db")),
                &config,
                None,
            )
            .await
            .unwrap(),
        );
        crate::schema::migrate(conns.writer().await.raw(), "q.db")
            .await
            .unwrap();
        let held = conns.writer().await;
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let conns = Arc::clone(&conns);
                tokio::spawn(async move { noop(&conns).await })
            })
            .collect();
        settle().await;
        assert_eq!(conns.queue().stats().depth, 2);
        let err = noop(&conns).await.unwrap_err();
        assert!(matches!(err, MemoryError::Busy(_)), "{err:?}");
        assert!(
            err.to_string().contains("2 writes are already waiting"),
            "{err}"
        );
        assert_eq!(conns.queue().stats().refused, 1);
        drop(held);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        noop(&conns).await.unwrap();
        assert_eq!(conns.queue().stats().refused, 1);
    }

    /// Lets every other task of the (single-threaded) runtime run until it waits.
    async fn settle() {
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
    }

    /// A caller whose write another leader carried is answered at that commit, even when
    /// someone else took the writer after that leader and holds it.
    ///
    /// On a single-threaded runtime a spawned task runs only when the test yields, and
    /// runs until it waits, so the order in which the tasks queue for the writer is the
    /// order they are spawned in.
    #[tokio::test(flavor = "current_thread")]
    async fn a_carried_write_is_answered_without_waiting_for_the_writer() {
        let dir = tempfile::TempDir::new().unwrap();
        let conns = open(&dir).await;
        let first = conns.writer().await;

        // In the writer's queue: `leader`, then `holder`, then `carried`.
        let leader = tokio::spawn({
            let conns = Arc::clone(&conns);
            async move { noop(&conns).await }
        });
        settle().await;
        assert_eq!(conns.queue().stats().depth, 1);
        let (release, released) = oneshot::channel::<()>();
        let holder = tokio::spawn({
            let conns = Arc::clone(&conns);
            async move {
                let lease = conns.writer().await;
                let _ = released.await;
                drop(lease);
            }
        });
        settle().await;
        let carried = tokio::spawn({
            let conns = Arc::clone(&conns);
            async move { noop(&conns).await }
        });
        settle().await;
        assert_eq!(conns.queue().stats().depth, 2);

        // The leader takes both queued writes into one batch; `holder` then takes the
        // writer and keeps it until told.
        drop(first);
        let wait = Duration::from_secs(10);
        let led = tokio::time::timeout(wait, leader).await;
        let answered = tokio::time::timeout(wait, carried).await;
        let _ = release.send(());
        holder.await.unwrap();
        led.expect("the leader never committed").unwrap().unwrap();
        answered
            .expect("the carried write waited for the writer held by someone else")
            .unwrap()
            .unwrap();
        let stats = conns.queue().stats();
        assert_eq!((stats.operations, stats.commits), (2, 1));
    }
}
