//! `memory stats`: what the memory holds and how it is performing.

use crate::cli::StatsArgs;
use crate::output::Printer;
use memory_core::SelfLearningMemory;
use memory_core::metrics::{LatencySummary, MemoryStats, PoolStats, render_prometheus};
use std::fmt::Write as _;

pub async fn run(
    memory: &SelfLearningMemory,
    args: &StatsArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let stats = memory.stats().await?;
    if args.prometheus {
        return out.raw(render_prometheus(&stats).trim_end());
    }
    out.either(&stats, || render_table(&stats))
}

/// The human form: one section per subsystem.
pub fn render_table(stats: &MemoryStats) -> String {
    let s = &stats.storage;
    let mut t = String::new();
    let _ = writeln!(t, "storage      {}", s.backend);
    if let Some(location) = &s.location {
        let _ = writeln!(t, "location     {location}");
    }
    if let Some(bytes) = s.database_bytes {
        let _ = writeln!(t, "size         {}", human_bytes(bytes));
    }
    let _ = writeln!(
        t,
        "holds        {} episodes · {} steps · {} patterns · {} sessions · {} embedded",
        s.episodes, s.steps, s.patterns, s.sessions, s.vectors
    );
    if s.episodes_without_vectors > 0 {
        let _ = writeln!(
            t,
            "pending      {} completed episodes without vectors (embedded by `memory serve`/`memory mcp` in the background, or `memory reembed --missing`)",
            s.episodes_without_vectors
        );
    }
    match &s.text_index {
        Some(ti) if ti.terms == 0 && ti.unreadable == 0 => {
            let _ = writeln!(
                t,
                "text index   empty or not loaded (a process loads it on its first search)"
            );
        }
        Some(ti) => {
            let _ = write!(
                t,
                "text index   {} episodes · {} terms · {} postings · {} in memory",
                ti.documents,
                ti.terms,
                ti.postings,
                human_bytes(ti.bytes)
            );
            if ti.unreadable > 0 {
                let _ = write!(t, " · {} unreadable entries skipped", ti.unreadable);
            }
            t.push('\n');
        }
        None => {}
    }
    if let Some(r) = &s.replica {
        let _ = writeln!(
            t,
            "replica      {} · {} syncs ({} failed) · last synced {} · server {}",
            r.path,
            r.syncs,
            r.failed_syncs,
            match r.since_last_sync_s {
                Some(age) => format!("{age:.1} s ago"),
                None => "never".to_string(),
            },
            if r.server_answering {
                "answering"
            } else {
                "not answering: reads come from the replica, writes fail"
            }
        );
    }
    if let Some(o) = &s.other_writers
        && (o.keys_dropped > 0 || o.full_clears > 0)
    {
        let _ = writeln!(
            t,
            "other writers {} cached entries dropped as their changes came in · {} full clears",
            o.keys_dropped, o.full_clears
        );
    }
    if !s.caches.is_empty() {
        let _ = writeln!(
            t,
            "\ncache tier   hit rate     hits   misses  evictions  entries       size"
        );
        for c in &s.caches {
            let _ = writeln!(
                t,
                "{:<12} {:>7.1}% {:>8} {:>8} {:>10} {:>8} {:>10}",
                c.tier,
                c.hit_rate() * 100.0,
                c.hits,
                c.misses,
                c.evictions,
                c.entries,
                human_bytes(c.bytes)
            );
        }
    }
    if let Some(st) = &s.statements {
        let _ = writeln!(
            t,
            "\nstatements   {:.1}% reused ({} hits at {:.0} ns each, {} prepared, {} evicted; {} cached, {} per connection; {:.1} ms preparing)",
            st.hit_rate() * 100.0,
            st.hits,
            st.mean_hit_ns(),
            st.misses,
            st.evictions,
            st.cached,
            st.capacity_per_connection,
            st.prepare_us as f64 / 1000.0
        );
    }
    if let Some(c) = &s.connections {
        let _ = writeln!(
            t,
            "\nconnections  count  in use  acquired  utilisation  wait p50  wait p95"
        );
        for (role, p) in [("readers", &c.readers), ("writer", &c.writer)] {
            let _ = writeln!(t, "{}", pool_row(role, p));
        }
    }
    if let Some(q) = &s.write_queue {
        let _ = writeln!(
            t,
            "\nwrite queue  depth {} (max {}) · {} writes in {} commits ({:.1} per commit) · {} failed · {} refused (queue full)",
            q.depth,
            q.max_depth,
            q.operations,
            q.commits,
            q.mean_batch(),
            q.failed,
            q.refused
        );
    }
    if !stats.operations.is_empty() {
        let _ = writeln!(
            t,
            "\noperation            count        p50        p95        p99        max"
        );
        for op in &stats.operations {
            let _ = writeln!(t, "{}", latency_row(&op.operation, &op.latency));
        }
    }
    t
}

fn pool_row(role: &str, p: &PoolStats) -> String {
    format!(
        "{:<12} {:>5} {:>7} {:>9} {:>11.1}% {:>9} {:>9}",
        role,
        p.connections,
        p.in_use,
        p.acquisitions,
        p.utilisation * 100.0,
        human_micros(p.wait.p50_us),
        human_micros(p.wait.p95_us)
    )
}

fn latency_row(name: &str, l: &LatencySummary) -> String {
    format!(
        "{:<18} {:>7} {:>10} {:>10} {:>10} {:>10}",
        name,
        l.count,
        human_micros(l.p50_us),
        human_micros(l.p95_us),
        human_micros(l.p99_us),
        human_micros(l.max_us)
    )
}

/// `850 µs`, `12.3 ms`, `1.20 s`.
pub fn human_micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// `512 B`, `3.4 KiB`, `12.0 MiB`, `1.50 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}
