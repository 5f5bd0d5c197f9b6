//! The statistics snapshot: what the memory, its caches and its storage are doing.

use super::latency::{LatencySummary, OperationStats};
use serde::{Deserialize, Serialize};

/// Everything `memory stats` shows: operation latencies and the storage's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Seconds since this memory instance was created.
    pub uptime_seconds: f64,
    /// Latency of each public operation called on this instance.
    pub operations: Vec<OperationStats>,
    /// The storage backend's figures (sizes, caches, statements, connections, write queue).
    pub storage: StorageStats,
}

/// What a storage backend (and any cache wrapped around it) reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageStats {
    /// Backend name, e.g. `libsql (local file)`.
    pub backend: String,
    /// Where the data lives (a file path or a URL), when there is one.
    pub location: Option<String>,
    /// Bytes on disk (database file plus its write-ahead log), when known.
    pub database_bytes: Option<u64>,
    /// Episodes stored, all namespaces.
    pub episodes: u64,
    /// Steps stored, all namespaces.
    pub steps: u64,
    /// Patterns learned, all namespaces.
    pub patterns: u64,
    /// Retrieval sessions remembered.
    pub sessions: u64,
    /// Episodes with vectors in the index.
    pub vectors: u64,
    /// Completed episodes waiting for their vectors (embedded by a retrieval of their
    /// namespace, a server's background embedding or `memory reembed --missing`).
    #[serde(default)]
    pub episodes_without_vectors: u64,
    /// In-memory cache tiers, outermost first.
    pub caches: Vec<CacheStats>,
    /// The prepared-statement caches of the backend's connections, summed.
    pub statements: Option<StatementCacheStats>,
    /// Connection pool use.
    pub connections: Option<ConnectionStats>,
    /// The group-commit write queue.
    pub write_queue: Option<WriteQueueStats>,
    /// The in-memory full-text index, when the backend keeps one.
    #[serde(default)]
    pub text_index: Option<TextIndexStats>,
    /// The embedded replica reads come from, when the store has one.
    #[serde(default)]
    pub replica: Option<ReplicaStats>,
    /// Other writers' changes (other processes, other machines) the caches dropped, when
    /// the store is cached.
    #[serde(default)]
    pub other_writers: Option<OtherWriterStats>,
}

/// What the caches dropped because another writer changed the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherWriterStats {
    /// Episodes, patterns and namespaces' searches dropped one by one, as the store's
    /// change log named them.
    pub keys_dropped: u64,
    /// Times every cache was dropped at once (the changes were too many to list, or the
    /// log no longer reached back to the last check).
    pub full_clears: u64,
}

/// An embedded replica's syncs with its server: how current its reads are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStats {
    /// The replica's file.
    pub path: String,
    /// Syncs attempted (at open, after each write, on the interval, on demand).
    pub syncs: u64,
    /// Syncs that failed (the server did not answer).
    pub failed_syncs: u64,
    /// Seconds since the last sync that succeeded (`None`: none has yet).
    pub since_last_sync_s: Option<f64>,
    /// Whether the last sync succeeded: `false` while the server is away, when reads are
    /// served from what the replica holds.
    pub server_answering: bool,
}

/// The in-memory full-text index of a backend, as of its last search (empty until the
/// first search of the process loads it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextIndexStats {
    /// Episodes searchable by text.
    pub documents: u64,
    /// Distinct terms indexed.
    pub terms: u64,
    /// Term–episode entries.
    pub postings: u64,
    /// Estimated bytes of memory the index holds.
    pub bytes: u64,
    /// Stored entries that could not be read (damaged); their episodes are not searchable
    /// by text until indexed again.
    #[serde(default)]
    pub unreadable: u64,
}

/// One cache tier's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Tier name, e.g. `episodes`, `patterns`, `queries`.
    pub tier: String,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the backend.
    pub misses: u64,
    /// Entries dropped for room (not for expiry or invalidation).
    pub evictions: u64,
    /// Entries now held.
    pub entries: u64,
    /// Estimated bytes now held.
    pub bytes: u64,
    /// The tier's size bound in bytes.
    pub capacity_bytes: u64,
}

impl CacheStats {
    /// Share of lookups answered from the cache (0 when there were none).
    pub fn hit_rate(&self) -> f64 {
        ratio(self.hits, self.hits + self.misses)
    }
}

/// Prepared-statement cache counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatementCacheStats {
    /// Statements reused from the cache.
    pub hits: u64,
    /// Statements that had to be prepared.
    pub misses: u64,
    /// Statements dropped to stay within capacity.
    pub evictions: u64,
    /// Statements now cached (all connections).
    pub cached: u64,
    /// Capacity per connection.
    pub capacity_per_connection: u64,
    /// Total time spent preparing statements, in microseconds.
    pub prepare_us: u64,
    /// Total time spent serving statements from the cache, in nanoseconds.
    pub hit_ns: u64,
}

impl StatementCacheStats {
    /// Share of statement acquisitions served from the cache.
    pub fn hit_rate(&self) -> f64 {
        ratio(self.hits, self.hits + self.misses)
    }

    /// Mean time to hand out a cached statement, in nanoseconds.
    pub fn mean_hit_ns(&self) -> f64 {
        if self.hits == 0 {
            0.0
        } else {
            self.hit_ns as f64 / self.hits as f64
        }
    }

    /// Adds another connection's counters to these.
    pub fn add(&mut self, other: &StatementCacheStats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
        self.cached += other.cached;
        self.capacity_per_connection = self
            .capacity_per_connection
            .max(other.capacity_per_connection);
        self.prepare_us += other.prepare_us;
        self.hit_ns += other.hit_ns;
    }
}

/// Use of the reader pool and the writer connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// The reader connections.
    pub readers: PoolStats,
    /// The writer connection.
    pub writer: PoolStats,
}

/// Use of one group of connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolStats {
    /// Connections in the group.
    pub connections: u64,
    /// Connections in use right now.
    pub in_use: u64,
    /// Times a connection was taken.
    pub acquisitions: u64,
    /// Time callers waited for a free connection.
    pub wait: LatencySummary,
    /// Share of the connections' time spent in use since start (0..=1).
    pub utilisation: f64,
}

/// The group-commit queue in front of the writer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteQueueStats {
    /// Operations waiting now.
    pub depth: u64,
    /// Most operations ever waiting at once.
    pub max_depth: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Operations committed.
    pub operations: u64,
    /// Operations that failed (and were rolled back alone).
    pub failed: u64,
    /// Operations refused at once because the queue was full (`MemoryError::Busy`).
    #[serde(default)]
    pub refused: u64,
}

impl WriteQueueStats {
    /// Mean operations per committed transaction.
    pub fn mean_batch(&self) -> f64 {
        if self.commits == 0 {
            0.0
        } else {
            self.operations as f64 / self.commits as f64
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
