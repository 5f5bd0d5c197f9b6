//! Prometheus text exposition (format 0.0.4) of a [`MemoryStats`] snapshot.
//!
//! Written by hand on purpose: the snapshot holds finished figures (quantiles from
//! `hdrhistogram`, float counters), which neither Prometheus crate can encode as they are.
//! `prometheus-client` has no summary type (the latency summaries would become untyped
//! families, their `_sum` and `_count` split off) and needs more code of ours than
//! `Exposition` below; `metrics-exporter-prometheus` computes summaries from raw observations,
//! not from given quantiles, and its counters are whole numbers.

use super::latency::LatencySummary;
use super::snapshot::{MemoryStats, PoolStats};
use std::fmt::Write;

/// Renders `stats` in the Prometheus text format, ready to serve at `/metrics`.
pub fn render_prometheus(stats: &MemoryStats) -> String {
    let mut out = Exposition::default();
    let s = &stats.storage;

    out.family(
        "memory_uptime_seconds",
        "gauge",
        "Seconds since the memory started.",
    );
    out.sample("memory_uptime_seconds", &[], stats.uptime_seconds);

    out.family(
        "memory_operation_duration_seconds",
        "summary",
        "Latency of each memory operation.",
    );
    for op in &stats.operations {
        out.summary(
            "memory_operation_duration_seconds",
            &[("operation", &op.operation)],
            &op.latency,
        );
    }

    let mut gauges = vec![
        ("memory_episodes", "Episodes stored.", s.episodes),
        ("memory_steps", "Steps stored.", s.steps),
        ("memory_patterns", "Patterns learned.", s.patterns),
        (
            "memory_sessions",
            "Retrieval sessions remembered.",
            s.sessions,
        ),
        (
            "memory_vectors",
            "Episodes with vectors in the index.",
            s.vectors,
        ),
        (
            "memory_episodes_without_vectors",
            "Completed episodes waiting for their vectors.",
            s.episodes_without_vectors,
        ),
    ];
    if let Some(ti) = &s.text_index {
        gauges.extend([
            (
                "memory_text_index_documents",
                "Episodes in the in-memory full-text index.",
                ti.documents,
            ),
            (
                "memory_text_index_terms",
                "Distinct terms in the in-memory full-text index.",
                ti.terms,
            ),
            (
                "memory_text_index_postings",
                "Term-episode entries in the in-memory full-text index.",
                ti.postings,
            ),
            (
                "memory_text_index_bytes",
                "Estimated bytes held by the in-memory full-text index.",
                ti.bytes,
            ),
            (
                "memory_text_index_unreadable",
                "Stored full-text entries skipped because they could not be read.",
                ti.unreadable,
            ),
        ]);
    }
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &[], value as f64);
    }
    if let Some(bytes) = s.database_bytes {
        out.family(
            "memory_database_bytes",
            "gauge",
            "Bytes on disk: database file plus write-ahead log.",
        );
        out.sample("memory_database_bytes", &[], bytes as f64);
    }

    if !s.caches.is_empty() {
        type CacheField = fn(&super::CacheStats) -> f64;
        let families: [(&str, &str, &str, CacheField); 6] = [
            (
                "memory_cache_hits_total",
                "counter",
                "Cache lookups answered from the cache.",
                |c| c.hits as f64,
            ),
            (
                "memory_cache_misses_total",
                "counter",
                "Cache lookups that went to storage.",
                |c| c.misses as f64,
            ),
            (
                "memory_cache_evictions_total",
                "counter",
                "Cache entries dropped for room.",
                |c| c.evictions as f64,
            ),
            (
                "memory_cache_entries",
                "gauge",
                "Entries held by the cache.",
                |c| c.entries as f64,
            ),
            (
                "memory_cache_bytes",
                "gauge",
                "Estimated bytes held by the cache.",
                |c| c.bytes as f64,
            ),
            (
                "memory_cache_hit_ratio",
                "gauge",
                "Share of lookups answered from the cache.",
                |c| c.hit_rate(),
            ),
        ];
        for (name, kind, help, field) in families {
            out.family(name, kind, help);
            for c in &s.caches {
                out.sample(name, &[("tier", &c.tier)], field(c));
            }
        }
    }

    if let Some(st) = &s.statements {
        for (name, kind, help, value) in [
            (
                "memory_statement_cache_hits_total",
                "counter",
                "Prepared statements reused.",
                st.hits as f64,
            ),
            (
                "memory_statement_cache_misses_total",
                "counter",
                "Statements prepared anew.",
                st.misses as f64,
            ),
            (
                "memory_statement_cache_evictions_total",
                "counter",
                "Prepared statements evicted.",
                st.evictions as f64,
            ),
            (
                "memory_statement_cache_hit_ratio",
                "gauge",
                "Share of statements served from the cache.",
                st.hit_rate(),
            ),
            (
                "memory_statement_prepare_seconds_total",
                "counter",
                "Time spent preparing statements.",
                st.prepare_us as f64 / 1e6,
            ),
        ] {
            out.family(name, kind, help);
            out.sample(name, &[], value);
        }
    }

    if let Some(conns) = &s.connections {
        let roles: [(&str, &PoolStats); 2] =
            [("reader", &conns.readers), ("writer", &conns.writer)];
        type PoolField = fn(&PoolStats) -> f64;
        let families: [(&str, &str, &str, PoolField); 4] = [
            (
                "memory_connections",
                "gauge",
                "Database connections.",
                |p| p.connections as f64,
            ),
            (
                "memory_connections_in_use",
                "gauge",
                "Connections in use now.",
                |p| p.in_use as f64,
            ),
            (
                "memory_connection_acquisitions_total",
                "counter",
                "Times a connection was taken.",
                |p| p.acquisitions as f64,
            ),
            (
                "memory_connection_utilisation",
                "gauge",
                "Share of connection time spent in use.",
                |p| p.utilisation,
            ),
        ];
        for (name, kind, help, field) in families {
            out.family(name, kind, help);
            for (role, pool) in roles {
                out.sample(name, &[("role", role)], field(pool));
            }
        }
        out.family(
            "memory_connection_wait_seconds",
            "summary",
            "Time spent waiting for a free connection.",
        );
        for (role, pool) in roles {
            out.summary(
                "memory_connection_wait_seconds",
                &[("role", role)],
                &pool.wait,
            );
        }
    }

    if let Some(q) = &s.write_queue {
        for (name, kind, help, value) in [
            (
                "memory_write_queue_depth",
                "gauge",
                "Writes waiting for the group commit.",
                q.depth,
            ),
            (
                "memory_write_queue_max_depth",
                "gauge",
                "Most writes ever waiting at once.",
                q.max_depth,
            ),
            (
                "memory_write_commits_total",
                "counter",
                "Group-commit transactions.",
                q.commits,
            ),
            (
                "memory_write_operations_total",
                "counter",
                "Writes committed.",
                q.operations,
            ),
            (
                "memory_write_failures_total",
                "counter",
                "Writes that failed.",
                q.failed,
            ),
            (
                "memory_write_refused_total",
                "counter",
                "Writes refused at once because the queue was full.",
                q.refused,
            ),
        ] {
            out.family(name, kind, help);
            out.sample(name, &[], value as f64);
        }
    }

    if let Some(r) = &s.replica {
        for (name, kind, help, value) in [
            (
                "memory_replica_syncs_total",
                "counter",
                "Syncs of the embedded replica with its server.",
                r.syncs as f64,
            ),
            (
                "memory_replica_sync_failures_total",
                "counter",
                "Syncs of the embedded replica that failed.",
                r.failed_syncs as f64,
            ),
            (
                "memory_replica_server_answering",
                "gauge",
                "1 when the replica's last sync succeeded, 0 while its server is away.",
                f64::from(u8::from(r.server_answering)),
            ),
        ] {
            out.family(name, kind, help);
            out.sample(name, &[], value);
        }
        if let Some(age) = r.since_last_sync_s {
            let name = "memory_replica_seconds_since_sync";
            out.family(
                name,
                "gauge",
                "Seconds since the replica last synced with its server.",
            );
            out.sample(name, &[], age);
        }
    }
    if let Some(o) = &s.other_writers {
        for (name, help, value) in [
            (
                "memory_other_writer_keys_dropped_total",
                "Cached episodes, patterns and searches dropped because another writer changed them.",
                o.keys_dropped,
            ),
            (
                "memory_other_writer_full_clears_total",
                "Times every cache was dropped because other writers' changes could not be listed.",
                o.full_clears,
            ),
        ] {
            out.family(name, "counter", help);
            out.sample(name, &[], value as f64);
        }
    }
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(val));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    fn summary(&mut self, name: &str, labels: &[(&str, &str)], latency: &LatencySummary) {
        for (q, us) in [
            ("0.5", latency.p50_us),
            ("0.95", latency.p95_us),
            ("0.99", latency.p99_us),
        ] {
            let mut with_q = labels.to_vec();
            with_q.push(("quantile", q));
            self.sample(name, &with_q, us as f64 / 1e6);
        }
        self.sample(
            &format!("{name}_sum"),
            labels,
            latency.total_us as f64 / 1e6,
        );
        self.sample(&format!("{name}_count"), labels, latency.count as f64);
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{
        CacheStats, OperationStats, ReplicaStats, StorageStats, TextIndexStats, WriteQueueStats,
    };

    fn stats() -> MemoryStats {
        MemoryStats {
            uptime_seconds: 12.5,
            operations: vec![OperationStats {
                operation: "get_episode".into(),
                latency: LatencySummary {
                    count: 4,
                    mean_us: 25.0,
                    p50_us: 20,
                    p95_us: 40,
                    p99_us: 40,
                    max_us: 40,
                    total_us: 100,
                },
            }],
            storage: StorageStats {
                backend: "test".into(),
                episodes: 3,
                caches: vec![CacheStats {
                    tier: "epi\"sodes".into(),
                    hits: 9,
                    misses: 1,
                    ..CacheStats::default()
                }],
                write_queue: Some(WriteQueueStats {
                    commits: 2,
                    operations: 6,
                    ..WriteQueueStats::default()
                }),
                text_index: Some(TextIndexStats {
                    documents: 3,
                    terms: 40,
                    postings: 55,
                    bytes: 4096,
                    unreadable: 0,
                }),
                replica: Some(ReplicaStats {
                    path: "replica.db".into(),
                    syncs: 7,
                    failed_syncs: 2,
                    since_last_sync_s: Some(0.25),
                    server_answering: false,
                }),
                ..StorageStats::default()
            },
        }
    }

    #[test]
    fn every_sample_belongs_to_a_declared_family() {
        let text = render_prometheus(&stats());
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared.push(rest.split(' ').next().unwrap_or_default().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let base = name.trim_end_matches("_sum").trim_end_matches("_count");
                assert!(
                    declared.iter().any(|d| d == name || d == base),
                    "sample {name} has no TYPE line"
                );
                let value = line.rsplit(' ').next().unwrap_or_default();
                assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
            }
        }
    }

    #[test]
    fn summaries_are_in_seconds_with_sum_and_count() {
        let text = render_prometheus(&stats());
        assert!(text.contains(
            "memory_operation_duration_seconds{operation=\"get_episode\",quantile=\"0.5\"} 0.00002\n"
        ));
        assert!(
            text.contains(
                "memory_operation_duration_seconds_sum{operation=\"get_episode\"} 0.0001\n"
            )
        );
        assert!(
            text.contains("memory_operation_duration_seconds_count{operation=\"get_episode\"} 4\n")
        );
        assert!(text.contains("memory_episodes 3\n"));
        assert!(text.contains("memory_write_commits_total 2\n"));
        assert!(text.contains("memory_text_index_documents 3\n"));
        assert!(text.contains("memory_text_index_postings 55\n"));
        assert!(text.contains("memory_replica_syncs_total 7\n"));
        assert!(text.contains("memory_replica_sync_failures_total 2\n"));
        assert!(text.contains("memory_replica_server_answering 0\n"));
        assert!(text.contains("memory_replica_seconds_since_sync 0.25\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render_prometheus(&stats());
        assert!(text.contains("memory_cache_hit_ratio{tier=\"epi\\\"sodes\"} 0.9\n"));
    }
}
