//! [`TursoStorage`]: opening a database file and the few operations that are not part of the
//! [`memory_core::StorageBackend`] contract (its path, schema version and row counts).
//!
//! The contract itself is implemented in [`crate::episodes`], with the pattern, session and
//! vector queries in [`crate::patterns`], [`crate::sessions`] and [`crate::vectors`].

use crate::codec;
use crate::connection::{Connections, TursoConfig};
use crate::error::{RequestTimedOut, SqlContext, TursoError};
use crate::location::Location;
use crate::replica;
use crate::schema;
use crate::text_search::{SearchedStore, TextSearch};
use crate::vectors;
use memory_core::metrics::{StorageStats, TextIndexStats};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// How many requests' worth of time bringing a server's schema up to date may take.
const MIGRATION_REQUESTS: u32 = 20;

/// Episodes stored in a libSQL database: a local file or a libSQL server.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Several processes may open the
/// same file at once: writes serialize through SQLite's write lock (waiting up to
/// [`TursoConfig::busy_timeout`]) and each sees the others' committed data.
pub struct TursoStorage {
    location: Location,
    pub(crate) conns: Arc<Connections>,
    /// The full-text index, caught up with the text log before each search (shared with
    /// the background task that writes its snapshot).
    pub(crate) text: Arc<TextSearch>,
}

impl<'a> From<&'a TursoStorage> for SearchedStore<'a> {
    fn from(storage: &'a TursoStorage) -> Self {
        SearchedStore {
            text: &storage.text,
            conns: &storage.conns,
        }
    }
}

/// How many rows each table holds; for statistics and integrity checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCounts {
    /// Rows in `episodes`.
    pub episodes: u64,
    /// Rows in `steps`.
    pub steps: u64,
    /// Rows in `episode_tags`.
    pub tags: u64,
    /// Episodes in the full-text index (the text log's entries that have terms).
    pub text: u64,
    /// Rows in `episode_vectors`: chunk vectors, several per episode (0 before a vector
    /// space is declared).
    pub vectors: u64,
}

impl TursoStorage {
    /// Opens (creating if needed) the database at `path` with the default [`TursoConfig`],
    /// and brings its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<TursoStorage, TursoError> {
        TursoStorage::open_with(path, TursoConfig::default()).await
    }

    /// Opens (creating if needed) the database at `path` with `config`, creating its parent
    /// directory if missing and bringing its schema up to date.
    ///
    /// Fails with [`TursoError::SchemaTooNew`] for a file written by a newer build.
    pub async fn open_with(
        path: impl AsRef<Path>,
        config: TursoConfig,
    ) -> Result<TursoStorage, TursoError> {
        let path = path.as_ref().to_path_buf();
        TursoStorage::open_at(Location::File(path), config).await
    }

    /// Opens the database at `location` — a local file (created with its parent directory
    /// if missing) or a libSQL server — with `config`, and brings its schema up to date.
    ///
    /// Fails with [`TursoError::Server`] when a server cannot be reached or refuses the
    /// token, and with [`TursoError::SchemaTooNew`] for a database written by a newer build.
    pub async fn open_at(
        location: Location,
        config: TursoConfig,
    ) -> Result<TursoStorage, TursoError> {
        if let Some(path) = location.local_file()
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|source| TursoError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        // One process per replica file: another process's replica is left to it, and this
        // one reads the server directly.
        let mut replica_lock = None;
        let location = match location {
            Location::Replica {
                url,
                auth_token,
                path,
            } => match replica::claim(&path, &url)? {
                Some(lock) => {
                    replica_lock = Some(lock);
                    Location::Replica {
                        url,
                        auth_token,
                        path,
                    }
                }
                None => {
                    tracing::warn!(
                        replica = %path.display(),
                        "another process is using this replica; reading the server directly"
                    );
                    Location::Server { url, auth_token }
                }
            },
            other => other,
        };
        let conns = Connections::open(&location, &config, replica_lock).await?;
        let place = location.to_string();
        let version = match location.url() {
            None => {
                let writer = conns.writer().await;
                schema::migrate(writer.raw(), &place).await?
            }
            Some(url) => match conns.take_unreachable() {
                None => {
                    // Bringing a server's schema up to date takes a few requests per
                    // migration; together they get the time of MIGRATION_REQUESTS requests.
                    let limit = config.request_timeout * MIGRATION_REQUESTS;
                    let migrated = {
                        let writer = conns.writer().await;
                        tokio::time::timeout(limit, schema::migrate(writer.raw(), &place)).await
                    };
                    let version = match migrated {
                        Ok(migrated) => migrated?,
                        Err(_) => {
                            return Err(TursoError::Server {
                                url: url.to_string(),
                                source: RequestTimedOut::error(url, limit),
                            });
                        }
                    };
                    if let Some(replica) = conns.replica() {
                        // A new replica downloads the whole database here.
                        replica
                            .sync_within(limit)
                            .await
                            .map_err(|source| TursoError::Server {
                                url: url.to_string(),
                                source,
                            })?;
                    }
                    version
                }
                // A replica whose server does not answer serves what it holds, if it holds
                // this build's schema; otherwise the server's silence is the error.
                Some(cause) => {
                    let held = {
                        let reader = conns.reader().await;
                        schema::user_version(reader.raw()).await.unwrap_or(0)
                    };
                    if held != schema::SCHEMA_VERSION {
                        return Err(TursoError::Server {
                            url: url.to_string(),
                            source: cause,
                        });
                    }
                    if let Some(replica) = conns.replica() {
                        replica.opened_unreachable();
                    }
                    tracing::warn!(
                        server = url,
                        error = %cause,
                        "the libSQL server does not answer; reads are served from the replica \
                         and writes fail until it does"
                    );
                    held
                }
            },
        };
        tracing::debug!(database = %place, version, readers = config.readers, "opened database");
        Ok(TursoStorage {
            location,
            conns: Arc::new(conns),
            text: Arc::new(TextSearch::new(config.text_snapshot_after)),
        })
    }

    /// Waits for the work left running in the background to finish: writing a new snapshot
    /// of the full-text index a search started (see `TursoConfig::text_snapshot_after`),
    /// and an embedded replica's syncs after this handle's writes. A one-shot process calls
    /// it before exiting, after it has answered, so that neither is lost; a failure is
    /// logged, never returned.
    pub async fn finish_background_work(&self) {
        self.text.finish_snapshot().await;
        if let Some(replica) = self.conns.replica() {
            replica.caught_up().await;
        }
    }

    /// Drops the stored snapshot of the full-text index, so that the next search of every
    /// handle on the file builds its index from the text log, as after an upgrade (and
    /// writes a new snapshot). Only speed depends on the snapshot; this is for benchmarks
    /// measuring that first build, and for repair.
    pub async fn clear_text_snapshot(&self) -> memory_core::Result<()> {
        crate::text_snapshot::clear(&self.conns).await
    }

    /// Brings an embedded replica up to the server's latest write now, for a read that must
    /// see what other processes wrote since the last sync (which runs every
    /// [`TursoConfig::sync_interval`] by itself). Nothing to do on a file or a server read
    /// directly, which always answer with the latest write.
    ///
    /// Fails with [`TursoError::Server`] when the server does not answer; the replica then
    /// keeps what it holds.
    pub async fn sync(&self) -> Result<(), TursoError> {
        let (Some(replica), Some(url)) = (self.conns.replica(), self.location.url()) else {
            return Ok(());
        };
        replica.sync().await.map_err(|source| TursoError::Server {
            url: url.to_string(),
            source,
        })
    }

    /// Where this storage keeps its data (a server read directly when the replica asked for
    /// was in use by another process).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The database file this storage was opened on; `None` for a server (and for a
    /// server's replica, whose file is only a copy: see [`Location::local_file`]).
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Server { .. } | Location::Replica { .. } => None,
        }
    }

    /// The schema version recorded in the database (`user_version`; through a replica, the
    /// version the replica holds).
    pub async fn schema_version(&self) -> Result<i64, TursoError> {
        // Through the connection's own query, so a server's request timeout bounds it.
        let conn = self.conns.reader().await;
        let rows = conn
            .query("PRAGMA user_version", ())
            .await
            .ctx("read schema version")?;
        schema::version_in(rows.one().await.ctx("read schema version")?)
    }

    /// Counts the rows of every table, across all namespaces.
    pub async fn row_counts(&self) -> Result<RowCounts, TursoError> {
        const SQL: &str = "SELECT (SELECT count(*) FROM episodes), (SELECT count(*) FROM steps), \
                           (SELECT count(*) FROM episode_tags), (SELECT count(*) FROM episode_text WHERE terms IS NOT NULL)";
        let what = "row counts";
        let conn = self.conns.reader().await;
        let tx = crate::tx::begin_read(&conn).await?;
        let rows = tx.query(SQL, ()).await.ctx("count rows")?;
        let Some(row) = rows.one().await.ctx("count rows")? else {
            return Err(TursoError::corrupt(what, "the count query returned no row"));
        };
        let count =
            |idx| codec::int(&row, idx, what).and_then(|n| codec::to_u64(n, what, "a count"));
        let mut counts = RowCounts {
            episodes: count(0)?,
            steps: count(1)?,
            tags: count(2)?,
            text: count(3)?,
            vectors: 0,
        };
        drop(row);
        counts.vectors = vectors::count(tx).await?;
        tx.end_read("COMMIT").await.ctx("end read")?;
        Ok(counts)
    }
}

impl TursoStorage {
    /// Sizes, counts, and how the connections, statement caches and write queue are used.
    pub(crate) async fn stats(&self) -> Result<StorageStats, TursoError> {
        // Episodes and vectors from the trigger-kept counts (no scan of the episodes);
        // steps, patterns and sessions through their smallest index.
        let [episodes, vectors, without] = crate::counts::STORE_TOTALS_SQL;
        let sql = format!(
            "SELECT {episodes}, (SELECT count(*) FROM steps), (SELECT count(*) FROM patterns), \
             (SELECT count(*) FROM retrieval_sessions), {vectors}, {without}"
        );
        let what = "storage statistics";
        let counts = {
            let conn = self.conns.reader().await;
            let rows = conn.query(&sql, ()).await.ctx("count rows")?;
            let Some(row) = rows.one().await.ctx("count rows")? else {
                return Err(TursoError::corrupt(what, "the count query returned no row"));
            };
            let count =
                |idx| codec::int(&row, idx, what).and_then(|n| codec::to_u64(n, what, "a count"));
            [
                count(0)?,
                count(1)?,
                count(2)?,
                count(3)?,
                count(4)?,
                count(5)?,
            ]
        };
        let (connections, statements) = self.conns.stats().await;
        let file_size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        let database_bytes = match self.location.local_file() {
            Some(path) => {
                let mut wal = path.as_os_str().to_os_string();
                wal.push("-wal");
                file_size(path).map(|db| db + file_size(Path::new(&wal)).unwrap_or(0))
            }
            // A server's database, as the server counts it: pages times page size.
            None => {
                const SIZE: &str = "SELECT p.page_count * s.page_size \
                                    FROM pragma_page_count() AS p, pragma_page_size() AS s";
                let conn = self.conns.reader().await;
                let rows = conn.query(SIZE, ()).await.ctx("database size")?;
                match rows.one().await.ctx("database size")? {
                    Some(row) => codec::to_u64(codec::int(&row, 0, what)?, what, "a size").ok(),
                    None => None,
                }
            }
        };
        Ok(StorageStats {
            backend: match self.location {
                Location::File(_) => "libsql (local file)".into(),
                Location::Server { .. } => "libsql (server)".into(),
                Location::Replica { .. } => {
                    "libsql (server, read through an embedded replica)".into()
                }
            },
            location: Some(self.location.to_string()),
            database_bytes,
            episodes: counts[0],
            steps: counts[1],
            patterns: counts[2],
            sessions: counts[3],
            vectors: counts[4],
            episodes_without_vectors: counts[5],
            caches: Vec::new(),
            statements: Some(statements),
            connections: Some(connections),
            write_queue: Some(self.conns.queue().stats()),
            other_writers: None,
            replica: match (self.conns.replica(), &self.location) {
                (Some(replica), Location::Replica { path, .. }) => Some(replica.stats(path)),
                _ => None,
            },
            text_index: Some({
                let size = self.text.size();
                TextIndexStats {
                    documents: size.documents,
                    terms: size.terms,
                    postings: size.postings,
                    bytes: size.bytes,
                    unreadable: self.text.unreadable(),
                }
            }),
        })
    }
}

impl fmt::Debug for TursoStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TursoStorage")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}
