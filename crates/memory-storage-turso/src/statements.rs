//! [`PreparedStatementCache`]: each connection's prepared statements, reused by SQL text.
//!
//! Preparing a statement parses and plans its SQL, which costs tens of microseconds for the
//! queries this crate runs — often more than running them. Each connection keeps the
//! statements it prepared in a small LRU keyed by SQL text (the `lru` crate); a statement is
//! reset before every reuse, and every statement handed out during one use of the
//! connection is reset again when the connection is given back, so no statement keeps a
//! read snapshot open between operations. That reset, and the counters, are this module's:
//! the LRU only keeps and evicts.

use libsql::{Connection, Statement};
use lru::LruCache;
use memory_core::metrics::StatementCacheStats;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The tracing target of every statement the store sends, before it runs
/// (`MEMORY_LOG=memory_storage_turso::sql=trace` lists them; on a server each run is one
/// round trip, and preparing a statement not yet cached is another — except statements
/// traced "in one request", which [`crate::pipeline`] sends together).
pub(crate) const SQL_TRACE: &str = "memory_storage_turso::sql";

/// Statements kept per connection unless configured otherwise.
pub const DEFAULT_STATEMENT_CAPACITY: usize = 128;

/// An LRU of one connection's prepared statements, keyed by SQL text.
pub(crate) struct PreparedStatementCache {
    /// The statements kept; `None` when caching is off (a capacity of 0).
    kept: Option<LruCache<String, Arc<Statement>>>,
    /// Statements handed out since the connection was last given back.
    leased: Vec<Arc<Statement>>,
    counters: Arc<StatementCounters>,
}

/// A cache's counters, readable while its connection is in use (statistics never wait for
/// a connection, and counters never appear to go backwards).
#[derive(Debug, Default)]
pub(crate) struct StatementCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    cached: AtomicU64,
    capacity: AtomicU64,
    prepare_ns: AtomicU64,
    /// Time spent serving hits (lookup and reset), to show what a cached acquisition costs.
    hit_ns: AtomicU64,
}

impl StatementCounters {
    /// The counters as statistics.
    pub(crate) fn stats(&self) -> StatementCacheStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatementCacheStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            evictions: get(&self.evictions),
            cached: get(&self.cached),
            capacity_per_connection: get(&self.capacity),
            prepare_us: get(&self.prepare_ns) / 1_000,
            hit_ns: get(&self.hit_ns),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl PreparedStatementCache {
    /// An empty cache holding at most `capacity` statements (0 disables caching: every
    /// statement is prepared for one use).
    pub(crate) fn new(capacity: usize) -> Self {
        let counters = StatementCounters::default();
        counters.capacity.store(capacity as u64, Ordering::Relaxed);
        PreparedStatementCache {
            kept: NonZeroUsize::new(capacity).map(LruCache::new),
            leased: Vec::new(),
            counters: Arc::new(counters),
        }
    }

    /// The cached statement for `sql`, reset and ready to bind, if there is one.
    pub(crate) fn lookup(&mut self, sql: &str) -> Option<Arc<Statement>> {
        let started = Instant::now();
        let statement = Arc::clone(self.kept.as_mut()?.get(sql)?);
        statement.reset();
        self.leased.push(Arc::clone(&statement));
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
        self.counters
            .hit_ns
            .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
        Some(statement)
    }

    /// Keeps `statement`, just prepared for `sql` in `took`, evicting the least recently
    /// used statement if the cache is full.
    pub(crate) fn insert(
        &mut self,
        sql: &str,
        statement: Statement,
        took: Duration,
    ) -> Arc<Statement> {
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.counters
            .prepare_ns
            .fetch_add(nanos(took), Ordering::Relaxed);
        let statement = Arc::new(statement);
        self.leased.push(Arc::clone(&statement));
        let Some(kept) = &mut self.kept else {
            return statement;
        };
        // `push` hands back the entry it replaced: the same SQL's older statement (two
        // uses prepared it at once), or the least recently used one, evicted.
        if let Some((dropped, _)) = kept.push(sql.to_string(), Arc::clone(&statement))
            && dropped != sql
        {
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        self.counters
            .cached
            .store(kept.len() as u64, Ordering::Relaxed);
        statement
    }

    /// Resets every statement handed out since the last release, ending any read they hold.
    pub(crate) fn release(&mut self) {
        for statement in self.leased.drain(..) {
            statement.reset();
        }
    }

    /// Drops every cached statement (they belong to a connection being replaced); the
    /// counters go on.
    pub(crate) fn clear(&mut self) {
        self.release();
        if let Some(kept) = &mut self.kept {
            kept.clear();
        }
        self.counters.cached.store(0, Ordering::Relaxed);
    }

    /// The cache's counters, shared so they can be read while the connection is busy.
    pub(crate) fn counters(&self) -> Arc<StatementCounters> {
        Arc::clone(&self.counters)
    }

    /// The cache's counters as statistics.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> StatementCacheStats {
        self.counters.stats()
    }
}

/// Prepares `sql` on `conn` through `cache`: the cached statement when there is one,
/// otherwise a newly prepared one that the cache keeps.
pub(crate) async fn acquire(
    cache: &std::sync::Mutex<PreparedStatementCache>,
    conn: &Connection,
    sql: &str,
) -> Result<Arc<Statement>, libsql::Error> {
    if let Some(statement) = lock(cache).lookup(sql) {
        return Ok(statement);
    }
    let started = Instant::now();
    let statement = conn.prepare(sql).await?;
    Ok(lock(cache).insert(sql, statement, started.elapsed()))
}

/// Locks the cache; it is only ever held for a lookup or an insert, never across an await.
pub(crate) fn lock(
    cache: &std::sync::Mutex<PreparedStatementCache>,
) -> std::sync::MutexGuard<'_, PreparedStatementCache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory_db() -> Connection {
        let db = libsql::Builder::new_local(":memory:")
            .build()
            .await
            .unwrap();
        let conn = db.connect().unwrap();
        conn.execute("CREATE TABLE t (x INTEGER)", ())
            .await
            .unwrap();
        conn
    }

    #[tokio::test]
    async fn a_statement_is_prepared_once_and_reused() {
        let conn = memory_db().await;
        let cache = std::sync::Mutex::new(PreparedStatementCache::new(4));
        for x in 0..5 {
            let insert = acquire(&cache, &conn, "INSERT INTO t (x) VALUES (?1)")
                .await
                .unwrap();
            insert.execute([x]).await.unwrap();
            lock(&cache).release();
        }
        let stats = lock(&cache).stats();
        assert_eq!((stats.hits, stats.misses, stats.cached), (4, 1, 1));
        let count = acquire(&cache, &conn, "SELECT count(*), sum(x) FROM t")
            .await
            .unwrap();
        let row = count
            .query(())
            .await
            .unwrap()
            .next()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.get::<i64>(0).unwrap(),
            5,
            "every reuse inserted its own row"
        );
        assert_eq!(row.get::<i64>(1).unwrap(), 10, "with its own parameter");
    }

    #[tokio::test]
    async fn the_least_recently_used_statement_is_evicted() {
        let conn = memory_db().await;
        let cache = std::sync::Mutex::new(PreparedStatementCache::new(2));
        for sql in ["SELECT 1", "SELECT 2", "SELECT 1", "SELECT 3"] {
            acquire(&cache, &conn, sql).await.unwrap();
        }
        // "SELECT 2" was least recently used when "SELECT 3" arrived.
        acquire(&cache, &conn, "SELECT 1").await.unwrap();
        let stats = lock(&cache).stats();
        assert_eq!(stats.evictions, 1);
        assert_eq!((stats.hits, stats.misses), (2, 3));
        acquire(&cache, &conn, "SELECT 2").await.unwrap();
        assert_eq!(
            lock(&cache).stats().misses,
            4,
            "the evicted statement is prepared again"
        );
    }

    #[tokio::test]
    async fn a_zero_capacity_cache_prepares_every_time() {
        let conn = memory_db().await;
        let cache = std::sync::Mutex::new(PreparedStatementCache::new(0));
        for _ in 0..3 {
            acquire(&cache, &conn, "SELECT 1").await.unwrap();
        }
        let stats = lock(&cache).stats();
        assert_eq!((stats.hits, stats.misses, stats.cached), (0, 3, 0));
    }

    #[tokio::test]
    async fn a_half_read_statement_is_reset_on_release_and_reuse() {
        let conn = memory_db().await;
        conn.execute("INSERT INTO t (x) VALUES (1), (2), (3)", ())
            .await
            .unwrap();
        let cache = std::sync::Mutex::new(PreparedStatementCache::new(4));
        let select = acquire(&cache, &conn, "SELECT x FROM t ORDER BY x")
            .await
            .unwrap();
        let mut rows = select.query(()).await.unwrap();
        assert_eq!(
            rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(),
            1
        );
        drop(rows);
        lock(&cache).release();
        let select = acquire(&cache, &conn, "SELECT x FROM t ORDER BY x")
            .await
            .unwrap();
        let mut rows = select.query(()).await.unwrap();
        assert_eq!(
            rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap(),
            1,
            "the reused statement starts from the first row"
        );
    }
}
