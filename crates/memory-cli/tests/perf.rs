//! `memory bench perf` from the shell: every row of the table is filled, and the resident
//! memory row really ran `memory import` as a child process on the store's export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, stderr};
use serde_json::Value;

#[test]
fn performance_benchmark_fills_every_row() {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args([
            "--format",
            "json",
            "bench",
            "perf",
            "--episodes",
            "200",
            "--warmup",
            "300",
            "--reads",
            "600",
            "--latency-samples",
            "100",
            "--retrieval-queries",
            "15",
            "--import-episodes",
            "50",
            "--agents",
            "2",
            "--episodes-per-agent",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "{report}");
    for row in rows {
        let now = row["now"].as_str().unwrap();
        assert!(!now.is_empty() && !now.starts_with("not measured"), "{row}");
    }
    // The child import stored every episode of the export, and its memory was sampled.
    let resident = &report["resident"];
    assert_eq!(resident["episodes"], 200, "{report}");
    assert!(resident["import"]["samples"].as_u64().unwrap() > 0);
    let peak = resident["import"]["peak_kib"].as_u64().unwrap();
    assert!(
        peak > 1_000,
        "a `memory` process holds more than 1 MiB: {peak} KiB"
    );
    assert_eq!(report["retrieval"]["now"]["samples"], 15);
}

/// `memory bench soak` from the shell, small: a row per report, the simulated time long
/// enough that retention applies (patterns dropped, idle episodes completed, sessions
/// bounded), and the same run without collection keeping more patterns.
#[test]
fn soak_benchmark_reports_each_stage_and_collects() {
    let sb = Sandbox::new();
    let soak = |extra: &[&str]| -> Value {
        let mut args = vec![
            "--format",
            "json",
            "bench",
            "soak",
            "--episodes",
            "300",
            "--report-every",
            "100",
            "--days",
            "300",
        ];
        args.extend_from_slice(extra);
        let out = sb.command().args(&args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let report = soak(&[]);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert!(r["db_bytes"].as_u64().unwrap() > 0, "{r}");
        assert!(r["rss_kib"].as_u64().unwrap() > 0, "{r}");
    }
    let collected = &report["collected"];
    assert!(collected["patterns"].as_u64().unwrap() > 0, "{collected}");
    assert!(
        collected["abandoned_episodes"].as_u64().unwrap() > 0,
        "{collected}"
    );
    // Three were left running, a simulated day apart; those idle for a week were completed.
    assert!(rows[2]["running"].as_u64().unwrap() <= 1, "{}", rows[2]);

    let kept = soak(&["--no-gc"]);
    let last = |r: &Value| r["rows"][2]["patterns"].as_u64().unwrap();
    assert!(
        last(&kept) > last(&report),
        "{} vs {}",
        last(&kept),
        last(&report)
    );
}
