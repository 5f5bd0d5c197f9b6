//! Keeping an embedded replica in step with its server.
//!
//! A [`crate::Location::Replica`] store reads from a local file that libSQL's replication
//! fills from the server's log; its writes go to the server. The replica is brought up to
//! date when the store opens, after each of the handle's own writes and on an interval (so
//! it sees other processes' writes within that interval). The sync after a write runs once
//! the write is answered, not before: a write costs its writer one request, and the next
//! read from the replica waits for the syncs of the writes answered before it, so a process
//! still reads its own writes (if that sync fails, they show from the next one that
//! succeeds). While the server
//! cannot be reached the replica keeps answering reads with what it has, and it catches up
//! on the first sync after the server returns. A sync is never cut off half-way: it runs in
//! a task of its own, and a timeout only stops waiting for it.

use crate::error::TursoError;
use libsql::Database;
use memory_core::metrics::ReplicaStats;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// The lock a process holds on its embedded replica's file for as long as it uses it: two
/// processes syncing one file would each write the server's log into it. The lock file
/// also records which server the replica copies.
pub(crate) struct ReplicaLock {
    _file: std::fs::File,
}

/// Takes the lock on the replica file `path` of the server at `url` (a `.lock` file beside
/// it); `None` when another process holds it. Fails when the file is a copy of another
/// server's database.
pub(crate) fn claim(path: &Path, url: &str) -> Result<Option<ReplicaLock>, TursoError> {
    use std::io::{Read, Seek, Write};
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let failed = |source| TursoError::ReplicaLock {
        path: lock_path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(err)) => return Err(failed(err)),
    }
    let mut recorded = String::new();
    file.read_to_string(&mut recorded).map_err(failed)?;
    let recorded = recorded.trim();
    if !recorded.is_empty() && recorded != url && path.exists() {
        return Err(TursoError::ReplicaOfAnotherServer {
            path: path.to_path_buf(),
            recorded: recorded.to_string(),
            url: url.to_string(),
        });
    }
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    file.write_all(url.as_bytes()).map_err(failed)?;
    Ok(Some(ReplicaLock { _file: file }))
}

/// How often an embedded replica asks its server for new writes unless configured
/// otherwise.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// An embedded replica and what is known of its last syncs.
pub(crate) struct Replica {
    /// The replica as libSQL's replication knows it: what syncs.
    db: Arc<Database>,
    /// The replica's file opened as a plain local database: what the readers read.
    file: Arc<Database>,
    url: Arc<str>,
    /// How long one sync may take before it counts as failed.
    timeout: Duration,
    /// Whether the last sync failed (so that an outage is logged once, and its end too).
    failing: AtomicBool,
    /// One sync at a time: a sync asked for while one runs waits for it and then runs,
    /// so it sees every write committed before it was asked for.
    running: tokio::sync::Mutex<()>,
    syncs: AtomicU64,
    failed_syncs: AtomicU64,
    /// When the last successful sync ended.
    last_synced: std::sync::Mutex<Option<Instant>>,
    /// How many of this handle's writes have been answered.
    written: AtomicU64,
    /// How many of them a sync has run after (successfully or not): what a read waits for.
    settled: tokio::sync::watch::Sender<u64>,
    /// How many of them a successful sync has brought into the replica.
    synced_through: AtomicU64,
    /// How many reads were served while the replica lacked some of them (their syncs
    /// failed), since the change log last reported this handle's own writes: what those
    /// reads put in the caches may miss them (see [`Replica::stale_reads`]).
    stale_reads: AtomicU64,
    /// This process's claim on the file, held as long as anything may sync it.
    _lock: ReplicaLock,
}

impl Replica {
    /// The replica `db` of the server at `url`, read through `file` (the same file opened
    /// as a local database) and claimed by `lock`; each sync may take up to `timeout`.
    pub(crate) fn new(
        db: Database,
        file: Arc<Database>,
        lock: ReplicaLock,
        url: &str,
        timeout: Duration,
    ) -> Replica {
        Replica {
            db: Arc::new(db),
            file,
            _lock: lock,
            url: Arc::from(url),
            timeout,
            failing: AtomicBool::new(false),
            running: tokio::sync::Mutex::new(()),
            syncs: AtomicU64::new(0),
            failed_syncs: AtomicU64::new(0),
            last_synced: std::sync::Mutex::new(None),
            written: AtomicU64::new(0),
            settled: tokio::sync::watch::Sender::new(0),
            synced_through: AtomicU64::new(0),
            stale_reads: AtomicU64::new(0),
        }
    }

    /// The replica's file, to connect readers to.
    pub(crate) fn file(&self) -> &Arc<Database> {
        &self.file
    }

    /// The server did not answer when the store was opened: the replica serves what it
    /// holds until a sync succeeds.
    pub(crate) fn opened_unreachable(&self) {
        self.failing.store(true, Ordering::Relaxed);
    }

    /// Brings the replica up to the server's latest write, waiting up to the request
    /// timeout for it.
    pub(crate) async fn sync(&self) -> Result<(), libsql::Error> {
        self.sync_within(self.timeout).await
    }

    /// Like [`Replica::sync`], waiting up to `limit` (the first sync of a new replica
    /// downloads the whole database).
    pub(crate) async fn sync_within(&self, limit: Duration) -> Result<(), libsql::Error> {
        let one_at_a_time = self.running.lock().await;
        self.sync_holding(&one_at_a_time, limit).await
    }

    /// Syncs, waiting up to `limit`, while holding the one-at-a-time lock `_running`.
    async fn sync_holding(
        &self,
        _running: &tokio::sync::MutexGuard<'_, ()>,
        limit: Duration,
    ) -> Result<(), libsql::Error> {
        // Every write answered by now is on the server, so this sync brings it.
        let covers = self.written.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::now() + limit;
        let mut pause = Duration::from_millis(20);
        let result = loop {
            // In a task of its own: libSQL's replication must never be stopped half-way
            // through applying what it fetched, so a timeout stops only the waiting.
            let db = Arc::clone(&self.db);
            let syncing = tokio::spawn(async move { db.sync().await.map(|_| ()) });
            let result = match tokio::time::timeout_at(deadline, syncing).await {
                Ok(Ok(synced)) => synced,
                Ok(Err(stopped)) => Err(libsql::Error::Replication(Box::new(stopped))),
                Err(_) => Err(crate::error::RequestTimedOut::error(&self.url, limit)),
            };
            // A server that has just compacted its log answers "snapshot not found" until
            // the snapshot is written (seconds at most): it is there, so wait for it.
            match result {
                Err(err)
                    if snapshot_pending(&err) && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::debug!(server = %self.url, "the server is writing a snapshot; syncing again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                result => break result,
            }
        };
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.settled.send_if_modified(|settled| {
            let later = covers > *settled;
            *settled = (*settled).max(covers);
            later
        });
        match &result {
            Ok(()) => {
                self.synced_through.fetch_max(covers, Ordering::AcqRel);
                *self.last_synced.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(server = %self.url, "the replica is syncing with its server again");
                }
            }
            Err(err) => {
                self.failed_syncs.fetch_add(1, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        server = %self.url,
                        error = %err,
                        "the replica cannot sync with its server; reads are served from what it \
                         holds until the server answers again"
                    );
                }
            }
        }
        result
    }

    /// Notes a write of this handle committed on the server, about to be answered, and
    /// syncs in the background so that this handle's next read (see
    /// [`Replica::caught_up`]) sees it. A failed sync is logged (the write itself is
    /// committed on the server; the next sync brings it).
    pub(crate) fn after_write(self: &Arc<Self>) {
        let write = self.written.fetch_add(1, Ordering::AcqRel) + 1;
        let replica = Arc::clone(self);
        tokio::spawn(async move {
            // One sync brings every write answered before it started: a write whose sync
            // is already done is not synced again.
            let one_at_a_time = replica.running.lock().await;
            if *replica.settled.borrow() >= write {
                return;
            }
            if let Err(err) = replica.sync_holding(&one_at_a_time, replica.timeout).await {
                tracing::debug!(error = %err, "sync after a write failed");
            }
        });
    }

    /// Waits until a sync has run after each of this handle's writes answered so far, so
    /// that a read from the replica sees them; at once when none is pending. The wait is
    /// bounded by the request timeout, as each sync is: when that sync fails, the read is
    /// served from what the replica holds (the writes are safe on the server; a later sync
    /// brings them).
    pub(crate) async fn caught_up(&self) {
        let written = self.written.load(Ordering::Acquire);
        let mut settled = self.settled.subscribe();
        // Each write's own sync task settles it; the sender lives as long as `self`.
        let _ = settled.wait_for(|settled| *settled >= written).await;
        if self.synced_through.load(Ordering::Acquire) < written {
            self.stale_reads.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// For the change log's reader: `None` when every read was served with this handle's
    /// writes in the replica. Otherwise some read may have put in the caches what those
    /// writes changed, and the log's rows of this handle's own writes must be reported too
    /// (as other writers' are) until the replica holds them all; then, once a read of the
    /// log has reported them, [`Replica::stale_reads_reported`] with what this returned.
    pub(crate) fn stale_reads(&self) -> Option<StaleReads> {
        let reads = self.stale_reads.load(Ordering::Acquire);
        if reads == 0 {
            return None;
        }
        let holds_own_writes =
            self.synced_through.load(Ordering::Acquire) >= self.written.load(Ordering::Acquire);
        Some(StaleReads {
            reads,
            holds_own_writes,
        })
    }

    /// The change log has reported this handle's own writes after `stale` (from
    /// [`Replica::stale_reads`]): the stale reads counted then are dealt with, unless the
    /// replica did not yet hold every own write.
    pub(crate) fn stale_reads_reported(&self, stale: StaleReads) {
        if stale.holds_own_writes {
            // A stale read counted since is left for the next report.
            let _ = self.stale_reads.compare_exchange(
                stale.reads,
                0,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// Fails while the server is away (the last sync failed): a write would only wait for
    /// the request timeout. The periodic sync notices the server's return within its
    /// interval.
    pub(crate) fn refuse_writes_while_away(&self) -> Result<(), libsql::Error> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(libsql::Error::Hrana(Box::new(ServerAway {
                url: self.url.to_string(),
            })));
        }
        Ok(())
    }

    /// How the syncs went, for the store's statistics; `path` is the replica's file.
    pub(crate) fn stats(&self, path: &Path) -> ReplicaStats {
        let last = *self.last_synced.lock().unwrap_or_else(|e| e.into_inner());
        ReplicaStats {
            path: path.display().to_string(),
            syncs: self.syncs.load(Ordering::Relaxed),
            failed_syncs: self.failed_syncs.load(Ordering::Relaxed),
            since_last_sync_s: last.map(|at| at.elapsed().as_secs_f64()),
            server_answering: !self.failing.load(Ordering::Relaxed),
        }
    }

    /// Syncs every `interval` until the returned guard is dropped.
    pub(crate) fn sync_every(self: &Arc<Self>, interval: Duration) -> PeriodicSync {
        let replica = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(replica) = replica.upgrade() else {
                    return;
                };
                // Failures are counted and logged by `sync`.
                let _ = replica.sync().await;
            }
        });
        PeriodicSync { task }
    }
}

/// What [`Replica::stale_reads`] found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaleReads {
    reads: u64,
    holds_own_writes: bool,
}

/// A write refused because the replica's server stopped answering its syncs.
#[derive(Debug, thiserror::Error)]
#[error(
    "the libSQL server at {url} is not answering (the replica's last sync with it failed); \
     writes are refused until it answers again, reads are served from the replica"
)]
pub(crate) struct ServerAway {
    url: String,
}

/// The background task of [`Replica::sync_every`]; dropping it stops the task.
pub(crate) struct PeriodicSync {
    task: JoinHandle<()>,
}

impl Drop for PeriodicSync {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a sync failed because the server has just compacted its replication log and
/// has not yet written the snapshot that replaces it (it answers "snapshot not found"
/// meanwhile; tursodatabase/libsql#1310).
fn snapshot_pending(err: &libsql::Error) -> bool {
    err.to_string().contains("snapshot not found")
}
