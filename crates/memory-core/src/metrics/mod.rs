//! Observability: latency histograms per operation and the statistics snapshot shown by
//! `memory stats`, the MCP `memory_stats` tool and the Prometheus `/metrics` endpoint.
//!
//! Latencies are also reported through the [`metrics`] facade
//! (`memory_operation_duration_seconds{operation}`), so an application that installs a
//! `metrics` exporter publishes them without going through [`MemoryStats`].

mod latency;
mod prometheus;
mod snapshot;

pub use latency::{LatencyHistogram, LatencyRegistry, LatencySummary, OperationStats};
pub use prometheus::render_prometheus;
pub use snapshot::{
    CacheStats, ConnectionStats, MemoryStats, OtherWriterStats, PoolStats, ReplicaStats,
    StatementCacheStats, StorageStats, TextIndexStats, WriteQueueStats,
};
