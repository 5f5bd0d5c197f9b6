//! What `memory_stats` reports and `/metrics` exposes: the contents of the memory (episodes
//! by state and outcome, patterns, database size, vectors) and this server's own tool-call
//! counters.
//!
//! [`collect`] is the one place that gathers the figures, so both views always agree.

use memory_core::{EpisodeFilter, MemoryError, OutcomeKind, PatternFilter, SelfLearningMemory};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::tools::TOOL_NAMES;

/// Calls, failures and time spent per tool since the server started.
#[derive(Debug, Default)]
pub struct ToolCalls {
    counters: [ToolCounter; TOOL_NAMES.len()],
}

#[derive(Debug, Default)]
struct ToolCounter {
    calls: AtomicU64,
    errors: AtomicU64,
    micros: AtomicU64,
}

impl ToolCalls {
    /// Records one call of `tool` (unknown names are not counted).
    pub fn record(&self, tool: &str, elapsed: Duration, failed: bool) {
        if let Some(i) = TOOL_NAMES.iter().position(|t| *t == tool) {
            let c = &self.counters[i];
            c.calls.fetch_add(1, Ordering::Relaxed);
            if failed {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            c.micros.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// A snapshot, one entry per tool in [`TOOL_NAMES`] order.
    pub fn snapshot(&self) -> Vec<ToolCallStats> {
        TOOL_NAMES
            .iter()
            .zip(&self.counters)
            .map(|(name, c)| ToolCallStats {
                tool: name,
                calls: c.calls.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
                seconds: c.micros.load(Ordering::Relaxed) as f64 / 1e6,
            })
            .collect()
    }
}

/// One tool's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallStats {
    /// The tool.
    pub tool: &'static str,
    /// Calls since the server started.
    pub calls: u64,
    /// Of which ended in a tool error.
    pub errors: u64,
    /// Total time spent in them, in seconds.
    pub seconds: f64,
}

/// Episodes of a namespace by state and outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EpisodeCounts {
    /// All episodes.
    pub total: u64,
    /// Started, not completed.
    pub running: u64,
    /// Completed with outcome success.
    pub success: u64,
    /// Completed with outcome partial_success.
    pub partial_success: u64,
    /// Completed with outcome failure.
    pub failure: u64,
    /// Completed with outcome abstained.
    pub abstained: u64,
}

/// The database file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseSize {
    /// Its path.
    pub path: String,
    /// Bytes of the main file.
    pub bytes: u64,
    /// Bytes of its write-ahead log (not yet checkpointed writes).
    pub wal_bytes: u64,
}

/// Everything `memory_stats` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    /// The namespace counted.
    pub namespace: String,
    /// Its episodes.
    pub episodes: EpisodeCounts,
    /// Its learned patterns.
    pub patterns: u64,
    /// Embedder id and dimension of the stored vectors, if any.
    pub vector_space: Option<(String, usize)>,
    /// Completed episodes (all namespaces) still waiting for a vector.
    pub episodes_without_vectors: u64,
    /// The database file, when the memory is on a local file.
    pub database: Option<DatabaseSize>,
    /// This server's tool calls since it started.
    pub tool_calls: Vec<ToolCallStats>,
}

/// Gathers the statistics of namespace `ns`.
///
/// The counts come from paging through the namespace's episodes and patterns (1,000 per
/// query), so the cost grows with the store: a few milliseconds per thousand episodes.
pub async fn collect(
    memory: &SelfLearningMemory,
    ns: &str,
    db_path: Option<&Path>,
    calls: &ToolCalls,
) -> Result<StatsReport, MemoryError> {
    let page = memory.config().limits.list_limit;
    let mut episodes = EpisodeCounts::default();
    let mut filter = EpisodeFilter::new(ns);
    filter.limit = page;
    loop {
        let batch = memory.list_episodes(&filter).await?;
        for e in &batch {
            episodes.total += 1;
            match e.outcome_kind {
                None => episodes.running += 1,
                Some(OutcomeKind::Success) => episodes.success += 1,
                Some(OutcomeKind::PartialSuccess) => episodes.partial_success += 1,
                Some(OutcomeKind::Failure) => episodes.failure += 1,
                Some(OutcomeKind::Abstained) => episodes.abstained += 1,
            }
        }
        if batch.len() < page {
            break;
        }
        filter.offset += page;
    }
    let mut patterns = 0u64;
    let mut pfilter = PatternFilter::new(ns);
    pfilter.limit = page;
    loop {
        let batch = memory.list_patterns(&pfilter).await?;
        patterns += batch.len() as u64;
        if batch.len() < page {
            break;
        }
        pfilter.offset += page;
    }
    let storage = memory.storage();
    Ok(StatsReport {
        namespace: ns.to_string(),
        episodes,
        patterns,
        vector_space: storage.vector_space().await?,
        episodes_without_vectors: storage.count_without_vectors().await?,
        database: db_path.map(database_size),
        tool_calls: calls.snapshot(),
    })
}

fn database_size(path: &Path) -> DatabaseSize {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    DatabaseSize {
        path: path.display().to_string(),
        bytes: len(path),
        wal_bytes: len(Path::new(&wal)),
    }
}

impl StatsReport {
    /// The report in a few lines, for a model or a person.
    pub fn describe(&self) -> String {
        let e = &self.episodes;
        let mut s = format!(
            "Namespace `{}`: {} episodes ({} running; completed: {} success, {} partial, {} \
             failure, {} abstained), {} patterns.",
            self.namespace,
            e.total,
            e.running,
            e.success,
            e.partial_success,
            e.failure,
            e.abstained,
            self.patterns
        );
        if let Some(db) = &self.database {
            let _ = write!(
                s,
                "\nDatabase {}: {} bytes (+{} in the write-ahead log).",
                db.path, db.bytes, db.wal_bytes
            );
        }
        match &self.vector_space {
            Some((embedder, dim)) => {
                let _ = write!(
                    s,
                    "\nVectors: {embedder} ({dim} dimensions); {} completed episodes not yet \
                     embedded.",
                    self.episodes_without_vectors
                );
            }
            None => s.push_str("\nVectors: none stored yet."),
        }
        let used: Vec<_> = self.tool_calls.iter().filter(|t| t.calls > 0).collect();
        if !used.is_empty() {
            s.push_str("\nTool calls since the server started:");
            for t in used {
                let _ = write!(
                    s,
                    "\n- {}: {} calls, {} errors, mean {:.1} ms",
                    t.tool,
                    t.calls,
                    t.errors,
                    t.seconds * 1e3 / t.calls as f64
                );
            }
        }
        s
    }

    /// The report in the Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        let ns = escape(&self.namespace);
        let e = &self.episodes;
        let _ = writeln!(
            s,
            "# HELP memory_episodes Episodes in the namespace, by state and outcome.\n\
             # TYPE memory_episodes gauge"
        );
        for (state, n) in [
            ("running", e.running),
            ("success", e.success),
            ("partial_success", e.partial_success),
            ("failure", e.failure),
            ("abstained", e.abstained),
        ] {
            let _ = writeln!(
                s,
                "memory_episodes{{namespace=\"{ns}\",state=\"{state}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP memory_patterns Learned patterns in the namespace.\n\
             # TYPE memory_patterns gauge\nmemory_patterns{{namespace=\"{ns}\"}} {}",
            self.patterns
        );
        let _ = writeln!(
            s,
            "# HELP memory_episodes_without_vectors Completed episodes not yet embedded.\n\
             # TYPE memory_episodes_without_vectors gauge\nmemory_episodes_without_vectors {}",
            self.episodes_without_vectors
        );
        if let Some(db) = &self.database {
            let _ = writeln!(
                s,
                "# HELP memory_database_bytes Size of the database file and its write-ahead log.\n\
                 # TYPE memory_database_bytes gauge\n\
                 memory_database_bytes{{file=\"main\"}} {}\nmemory_database_bytes{{file=\"wal\"}} {}",
                db.bytes, db.wal_bytes
            );
        }
        for (metric, help, kind, value) in [
            (
                "memory_mcp_tool_calls_total",
                "MCP tool calls since the server started.",
                "counter",
                (|t: &ToolCallStats| t.calls.to_string()) as fn(&ToolCallStats) -> String,
            ),
            (
                "memory_mcp_tool_errors_total",
                "MCP tool calls that ended in a tool error.",
                "counter",
                |t| t.errors.to_string(),
            ),
            (
                "memory_mcp_tool_seconds_total",
                "Time spent in MCP tool calls.",
                "counter",
                |t| format!("{:.6}", t.seconds),
            ),
        ] {
            let _ = writeln!(s, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for t in &self.tool_calls {
                let _ = writeln!(s, "{metric}{{tool=\"{}\"}} {}", t.tool, value(t));
            }
        }
        s
    }
}

/// Escapes a Prometheus label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_counted_per_tool() {
        let calls = ToolCalls::default();
        calls.record("log_step", Duration::from_millis(2), false);
        calls.record("log_step", Duration::from_millis(4), true);
        calls.record("no_such_tool", Duration::from_millis(1), true);
        let snap = calls.snapshot();
        let log = snap.iter().find(|t| t.tool == "log_step");
        assert_eq!(log.map(|t| (t.calls, t.errors)), Some((2, 1)));
        assert!(log.is_some_and(|t| (t.seconds - 0.006).abs() < 1e-9));
        assert_eq!(snap.iter().map(|t| t.calls).sum::<u64>(), 2);
    }

    #[test]
    fn prometheus_text_has_types_and_escaped_labels() {
        let report = StatsReport {
            namespace: "a\"b".into(),
            episodes: EpisodeCounts {
                total: 3,
                running: 1,
                success: 2,
                ..EpisodeCounts::default()
            },
            patterns: 4,
            vector_space: None,
            episodes_without_vectors: 0,
            database: None,
            tool_calls: ToolCalls::default().snapshot(),
        };
        let text = report.prometheus();
        assert!(text.contains("# TYPE memory_episodes gauge"));
        assert!(text.contains("memory_episodes{namespace=\"a\\\"b\",state=\"success\"} 2"));
        assert!(text.contains("memory_patterns{namespace=\"a\\\"b\"} 4"));
        assert!(text.contains("memory_mcp_tool_calls_total{tool=\"log_step\"} 0"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap_or("");
            assert!(value.parse::<f64>().is_ok(), "bad sample line: {line}");
        }
    }
}
