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
