//! Keeping an embedded replica in step with its server.
//!
//! A [`crate::Location::Replica`] store reads from a local file that libSQL's replication
//! fills from the server's log; its writes go to the server. The replica is brought up to
//! date when the store opens, after each of the handle's own writes (so a process reads its
//! own writes, even when the server goes away right after) and on an interval (so it sees
//! other processes' writes within that interval). While the server cannot be reached the
//! replica keeps answering reads with what it has, and it catches up on the first sync
//! after the server returns.

use crate::error::TursoError;
use libsql::Database;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The lock a process holds on its embedded replica's file for as long as it uses it: two
/// processes syncing one file would each write the server's log into it.
pub(crate) struct ReplicaLock {
    _file: std::fs::File,
}

/// Takes the lock on the replica file `path` (a `.lock` file beside it); `None` when
/// another process holds it.
pub(crate) fn claim(path: &Path) -> Result<Option<ReplicaLock>, TursoError> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let failed = |source| TursoError::ReplicaLock {
        path: lock_path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ReplicaLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(err)) => Err(failed(err)),
    }
}

/// How often an embedded replica asks its server for new writes unless configured
/// otherwise.
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// An embedded replica and what is known of its last syncs.
pub(crate) struct Replica {
    /// The replica as libSQL's replication knows it: what syncs.
    db: Database,
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
}

impl Replica {
    /// The replica `db` of the server at `url`, read through `file` (the same file opened
    /// as a local database); each sync may take up to `timeout`.
    pub(crate) fn new(db: Database, file: Arc<Database>, url: &str, timeout: Duration) -> Replica {
        Replica {
            db,
            file,
            url: Arc::from(url),
            timeout,
            failing: AtomicBool::new(false),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The replica's file, to connect readers to.
    pub(crate) fn file(&self) -> &Arc<Database> {
        &self.file
    }

    /// Brings the replica up to the server's latest write.
    pub(crate) async fn sync(&self) -> Result<(), libsql::Error> {
        let _one_at_a_time = self.running.lock().await;
        let result = match tokio::time::timeout(self.timeout, self.db.sync()).await {
            Ok(synced) => synced.map(|_| ()),
            Err(_) => Err(crate::connection::RequestTimedOut::error(
                &self.url,
                self.timeout,
            )),
        };
        match &result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(server = %self.url, "the replica is syncing with its server again");
                }
            }
            Err(err) => {
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

    /// Syncs after this process's write, so that its own reads see it. A failure is logged
    /// (the write itself is committed on the server; the next sync brings it).
    pub(crate) async fn after_write(&self) {
        if let Err(err) = self.sync().await {
            tracing::debug!(error = %err, "sync after a write failed");
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

/// The background task of [`Replica::sync_every`]; dropping it stops the task.
pub(crate) struct PeriodicSync {
    task: JoinHandle<()>,
}

impl Drop for PeriodicSync {
    fn drop(&mut self) {
        self.task.abort();
    }
}
