//! What `memory_stats` reports and `/metrics` exposes.
//!
//! The memory's own figures come from its metrics registry ([`SelfLearningMemory::stats`]:
//! operation latency percentiles, store sizes, cache and prepared-statement hit rates,
//! connection use, the write queue), rendered for Prometheus by
//! [`memory_core::metrics::render_prometheus`]. This module adds what only the server
//! knows — latency and errors per MCP tool — and, for `memory_stats`, the counts of the
//! namespace asked about.

use crate::tool_names::TOOL_NAMES;
use memory_core::metrics::{LatencyHistogram, LatencySummary, MemoryStats, render_prometheus};
use memory_core::{EpisodeCounts, EpisodeFilter, MemoryError, PatternFilter, SelfLearningMemory};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency and failures per tool since the server started.
#[derive(Debug, Default)]
pub struct ToolCalls {
    latency: [LatencyHistogram; TOOL_NAMES.len()],
    errors: [AtomicU64; TOOL_NAMES.len()],
}

impl ToolCalls {
    /// Records one call of `tool` (unknown names are not counted).
    pub fn record(&self, tool: &str, elapsed: Duration, failed: bool) {
        if let Some(i) = TOOL_NAMES.iter().position(|t| *t == tool) {
            self.latency[i].record(elapsed);
            if failed {
                self.errors[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A snapshot, one entry per tool in [`TOOL_NAMES`] order.
    pub fn snapshot(&self) -> Vec<ToolCallStats> {
        TOOL_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| ToolCallStats {
                tool: name,
                errors: self.errors[i].load(Ordering::Relaxed),
                latency: self.latency[i].summary(),
            })
            .collect()
    }
}

/// One tool's calls since the server started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallStats {
    /// The tool.
    pub tool: &'static str,
    /// Calls that ended in a tool error.
    pub errors: u64,
    /// Latency of all its calls (`count` is the number of calls).
    #[serde(flatten)]
    pub latency: LatencySummary,
}

/// Episodes and patterns of one namespace: the library's [`EpisodeCounts`] and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceCounts {
    /// All episodes.
    pub episodes: u64,
    /// By state and outcome, and the patterns.
    #[serde(flatten)]
    pub by_state: EpisodeCounts,
}

impl From<EpisodeCounts> for NamespaceCounts {
    fn from(by_state: EpisodeCounts) -> Self {
        NamespaceCounts {
            episodes: by_state.episodes(),
            by_state,
        }
    }
}

/// Everything `memory_stats` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    /// The namespace counted.
    pub namespace: String,
    /// Its episodes and patterns.
    pub counts: NamespaceCounts,
    /// The memory's registry: operation latencies and the store's figures (all namespaces),
    /// for callers that may read every namespace; never the database's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// This server's tool calls since it started (all namespaces), for the same callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolCallStats>>,
}

/// Counts the episodes (by state and outcome) and patterns of namespace `ns`.
///
/// Through the backend's grouped count when it has one
/// ([`memory_core::StatsStore::count_episodes`]); otherwise by paging through the
/// namespace's episodes and patterns, 1,000 per query. Either way the cost grows with the
/// namespace, which is why `/metrics` (scraped every few seconds) does not include it.
pub async fn namespace_counts(
    memory: &SelfLearningMemory,
    ns: &str,
) -> Result<NamespaceCounts, MemoryError> {
    memory.config().limits.check_namespace(ns)?;
    if let Some(counts) = memory.storage().count_episodes(ns).await? {
        return Ok(counts.into());
    }
    let page = memory.config().limits.list_limit;
    let mut counts = EpisodeCounts::default();
    let mut filter = EpisodeFilter::new(ns);
    filter.limit = page;
    loop {
        let batch = memory.list_episodes(&filter).await?;
        for e in &batch {
            counts.add(e.outcome_kind, 1);
        }
        if batch.len() < page {
            break;
        }
        filter.offset += page;
    }
    let mut patterns = PatternFilter::new(ns);
    patterns.limit = page;
    loop {
        let batch = memory.list_patterns(&patterns).await?;
        counts.patterns += batch.len() as u64;
        if batch.len() < page {
            break;
        }
        patterns.offset += page;
    }
    Ok(counts.into())
}

/// Gathers what `memory_stats` reports for namespace `ns`: with `whole_store`, also the
/// figures that span every namespace (sizes, latencies, tool calls).
///
/// Where the store lives (a file path, a server's URL, a replica's file) is left out: a
/// client needs none of it, and `memory stats` shows it to whoever runs the CLI.
pub async fn collect(
    memory: &SelfLearningMemory,
    ns: &str,
    calls: &ToolCalls,
    whole_store: bool,
) -> Result<StatsReport, MemoryError> {
    let counts = namespace_counts(memory, ns).await?;
    let (memory, tools) = if whole_store {
        let mut stats = memory.stats().await?;
        stats.storage.location = None;
        if let Some(replica) = &mut stats.storage.replica {
            replica.path.clear();
        }
        (Some(stats), Some(calls.snapshot()))
    } else {
        (None, None)
    };
    Ok(StatsReport {
        namespace: ns.to_string(),
        counts,
        memory,
        tools,
    })
}

/// The `/metrics` page: the memory's registry, then this server's tool calls.
pub async fn prometheus(
    memory: &SelfLearningMemory,
    calls: &ToolCalls,
) -> Result<String, MemoryError> {
    let mut text = render_prometheus(&memory.stats().await?);
    render_tools(&mut text, &calls.snapshot());
    Ok(text)
}

fn render_tools(text: &mut String, tools: &[ToolCallStats]) {
    let name = "memory_mcp_tool_duration_seconds";
    let _ = writeln!(
        text,
        "# HELP {name} Latency of MCP tool calls, by tool.\n# TYPE {name} summary"
    );
    for t in tools {
        let l = &t.latency;
        for (q, us) in [("0.5", l.p50_us), ("0.95", l.p95_us), ("0.99", l.p99_us)] {
            let _ = writeln!(
                text,
                "{name}{{tool=\"{}\",quantile=\"{q}\"}} {}",
                t.tool,
                us as f64 / 1e6
            );
        }
        let _ = writeln!(
            text,
            "{name}_sum{{tool=\"{}\"}} {}",
            t.tool,
            l.total_us as f64 / 1e6
        );
        let _ = writeln!(text, "{name}_count{{tool=\"{}\"}} {}", t.tool, l.count);
    }
    let errors = "memory_mcp_tool_errors_total";
    let _ = writeln!(
        text,
        "# HELP {errors} MCP tool calls that ended in a tool error, by tool.\n\
         # TYPE {errors} counter"
    );
    for t in tools {
        let _ = writeln!(text, "{errors}{{tool=\"{}\"}} {}", t.tool, t.errors);
    }
}

impl StatsReport {
    /// The report in a few lines, for a model or a person.
    pub fn describe(&self) -> String {
        let c = &self.counts;
        let mut t = format!(
            "Namespace `{}`: {} episodes ({} running; completed: {} success, {} partial, {} \
             failure, {} abstained), {} patterns.",
            self.namespace,
            c.episodes,
            c.by_state.running,
            c.by_state.success,
            c.by_state.partial_success,
            c.by_state.failure,
            c.by_state.abstained,
            c.by_state.patterns,
        );
        let (Some(memory), Some(tools)) = (&self.memory, &self.tools) else {
            return t;
        };
        let s = &memory.storage;
        let _ = write!(
            t,
            "\nWhole store ({}): {} episodes, {} steps, {} patterns, {} retrieval sessions, {} \
             vectors",
            s.backend, s.episodes, s.steps, s.patterns, s.sessions, s.vectors,
        );
        if let Some(bytes) = s.database_bytes {
            let _ = write!(t, "; {bytes} bytes on disk");
        }
        t.push('.');
        for cache in &s.caches {
            let _ = write!(
                t,
                "\nCache `{}`: {:.0}% hits ({} of {}).",
                cache.tier,
                cache.hit_rate() * 100.0,
                cache.hits,
                cache.hits + cache.misses
            );
        }
        if let Some(st) = &s.statements {
            let _ = write!(
                t,
                "\nPrepared statements: {:.0}% reused.",
                st.hit_rate() * 100.0
            );
        }
        let ops: Vec<_> = memory
            .operations
            .iter()
            .filter(|o| o.latency.count > 0)
            .collect();
        if !ops.is_empty() {
            t.push_str("\nOperation latency (p50 / p95 / p99):");
            for o in ops {
                let l = &o.latency;
                let _ = write!(
                    t,
                    "\n- {}: {} calls, {} / {} / {}",
                    o.operation,
                    l.count,
                    ms(l.p50_us),
                    ms(l.p95_us),
                    ms(l.p99_us)
                );
            }
        }
        let used: Vec<_> = tools.iter().filter(|x| x.latency.count > 0).collect();
        if !used.is_empty() {
            t.push_str("\nTool calls since the server started (errors, p50 / p99):");
            for x in used {
                let _ = write!(
                    t,
                    "\n- {}: {} calls, {} errors, {} / {}",
                    x.tool,
                    x.latency.count,
                    x.errors,
                    ms(x.latency.p50_us),
                    ms(x.latency.p99_us)
                );
            }
        }
        t
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1e3)
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
        assert_eq!(log.map(|t| (t.latency.count, t.errors)), Some((2, 1)));
        assert_eq!(log.map(|t| t.latency.total_us), Some(6_000));
        assert_eq!(snap.iter().map(|t| t.latency.count).sum::<u64>(), 2);
    }

    #[test]
    fn tool_families_are_typed_summaries_and_counters() {
        let calls = ToolCalls::default();
        calls.record("retrieve_context", Duration::from_micros(1_500), false);
        let mut text = String::new();
        render_tools(&mut text, &calls.snapshot());
        assert!(text.contains("# TYPE memory_mcp_tool_duration_seconds summary"));
        assert!(
            text.contains("memory_mcp_tool_duration_seconds_count{tool=\"retrieve_context\"} 1")
        );
        assert!(
            text.contains("memory_mcp_tool_duration_seconds_sum{tool=\"retrieve_context\"} 0.0015")
        );
        assert!(text.contains("# TYPE memory_mcp_tool_errors_total counter"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap_or("");
            assert!(value.parse::<f64>().is_ok(), "bad sample line: {line}");
        }
    }
}
