//! End-to-end tests of learning from the shell: patterns mined as episodes complete, the
//! heuristics and playbook `retrieve` offers, feedback, and (with the `bench` feature) the
//! learning-curve benchmark.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr};

/// Records one debugging episode in rust/web-api: `cargo test` times out, is rerun
/// single-threaded and passes; then the fix is applied. Returns its id.
fn record(sb: &Sandbox, task: &str, outcome: &str, extra: &[&str]) -> String {
    let mut start = vec![
        "--task-type",
        "debugging",
        "--domain",
        "web-api",
        "--language",
        "rust",
    ];
    start.extend_from_slice(extra);
    let id = sb.start(task, &start);
    for (tool, status, output) in [
        ("cargo test", "timeout", ""),
        ("cargo test", "success", "test result: ok"),
        ("read_file", "success", "src/lib.rs"),
        ("edit_file", "success", "1 file changed"),
    ] {
        sb.json(&[
            "episode", "step", &id, "--tool", tool, "--status", status, "--output", output,
            "--action", "work",
        ]);
    }
    let mut complete = vec!["episode", "complete", id.as_str(), "--outcome", outcome];
    if outcome == "success" {
        complete.extend(["--verdict", "fixed"]);
    } else {
        complete.extend(["--reason", "gave up"]);
    }
    sb.json(&complete);
    id
}

#[test]
fn patterns_heuristics_playbook_and_feedback() {
    let sb = Sandbox::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(record(
            &sb,
            &format!("flaky checkout test times out, run {i}"),
            "success",
            &[],
        ));
    }

    // One pattern per signature, with all four episodes behind it.
    let seqs = sb.json(&[
        "pattern",
        "list",
        "--kind",
        "tool_sequence",
        "--limit",
        "100",
    ]);
    let seq = seqs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"]["tools"] == serde_json::json!(["cargo test", "read_file", "edit_file"]))
        .expect("the three-tool sequence is a pattern");
    assert_eq!(seq["stats"]["episodes"], 4);
    assert_eq!(seq["evidence"].as_array().unwrap().len(), 4);
    let shown = sb.json(&["pattern", "show", seq["id"].as_str().unwrap()]);
    assert_eq!(shown["id"], seq["id"]);
    let episode = sb.json(&["episode", "show", &ids[0]]);
    assert!(
        episode["pattern_ids"]
            .as_array()
            .unwrap()
            .contains(&seq["id"])
    );

    // The timeout recovery is a pattern and a heuristic in words.
    let recoveries = sb.json(&[
        "pattern",
        "list",
        "--kind",
        "error_recovery",
        "--language",
        "rust",
    ]);
    assert_eq!(recoveries[0]["kind"]["error_class"], "timeout");
    let rules = sb.json(&["heuristic", "list", "--language", "rust"]);
    let texts: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("when `cargo test` fails with \"timeout\"")
                && t.contains("4/4 episodes")),
        "{texts:#?}"
    );

    // Retrieval offers patterns, heuristics and a playbook, under a session id.
    let pack = sb.json(&[
        "retrieve",
        "checkout test times out",
        "--domain",
        "web-api",
        "--language",
        "rust",
        "--task-type",
        "debugging",
    ]);
    let session = pack["session_id"].as_str().unwrap().to_string();
    let playbook = &pack["playbook"];
    let tools: Vec<&str> = playbook["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["cargo test", "read_file", "edit_file"]);
    assert_eq!(playbook["origin"], "neighbourhood");
    assert_eq!(playbook["status"], "established");
    assert_eq!(playbook["evidence"]["successes"], 4);
    // The timeout was cleared by running the tool again: a transient error, retried.
    let recovery = &pack["recoveries"][0];
    assert_eq!(recovery["tool"], "cargo test");
    assert_eq!(recovery["error_class"], "timeout");
    assert_eq!(recovery["transient"], true);
    let markdown = pack["markdown"].as_str().unwrap();
    assert!(markdown.contains("## Playbook"), "{markdown}");
    assert!(
        markdown.contains("worked 4 of 4 times in similar tasks"),
        "{markdown}"
    );
    assert!(markdown.contains("retry it (transient)"), "{markdown}");
    assert!(!pack["heuristics"].as_array().unwrap().is_empty());
    let offered: Vec<String> = pack["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!offered.is_empty());

    // Feedback: a pattern that was not offered is refused; a real report counts; twice is a conflict.
    // Any pattern id outside the session's offer, here one that does not exist.
    let not_offered = "01a20000-0000-7000-8000-000000000001".to_string();
    let out = sb.run(&[
        "feedback",
        &session,
        "--applied",
        &not_offered,
        "--outcome",
        "success",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("was not recommended"));
    let out = sb.run(&[
        "feedback",
        "01a20000-0000-7000-8000-000000000000",
        "--outcome",
        "success",
    ]);
    assert_eq!(code(&out), 3);
    sb.json(&[
        "feedback",
        &session,
        "--applied",
        &offered[0],
        "--outcome",
        "success",
    ]);
    let p = sb.json(&["pattern", "show", &offered[0]]);
    assert_eq!(p["effectiveness"]["applied"], 1);
    assert_eq!(p["effectiveness"]["helped"], 1);
    let out = sb.run(&["feedback", &session, "--outcome", "failure"]);
    assert_eq!(code(&out), 4);

    // An episode started from a pack reports feedback itself when it completes.
    let pack = sb.json(&["retrieve", "checkout test times out", "--language", "rust"]);
    let session = pack["session_id"].as_str().unwrap().to_string();
    let first = pack["patterns"][0]["id"].as_str().unwrap().to_string();
    let before = sb.json(&["pattern", "show", &first])["effectiveness"]["applied"]
        .as_u64()
        .unwrap();
    record(
        &sb,
        "flaky checkout test times out again",
        "failure",
        &["--session", &session],
    );
    let after = sb.json(&["pattern", "show", &first])["effectiveness"].clone();
    assert_eq!(after["applied"].as_u64().unwrap(), before + 1);
    assert!(after["hindered"].as_u64().unwrap() >= 1);
    let out = sb.run(&["feedback", &session, "--outcome", "success"]);
    assert_eq!(code(&out), 4, "already reported by the completed episode");
}

#[test]
fn failed_episodes_count_against_their_sequences() {
    let sb = Sandbox::new();
    for i in 0..3 {
        record(
            &sb,
            &format!("deploy the billing service, attempt {i}"),
            "failure",
            &[],
        );
    }
    let seqs = sb.json(&[
        "pattern",
        "list",
        "--kind",
        "tool_sequence",
        "--sort",
        "support",
    ]);
    let top = &seqs[0];
    assert_eq!(top["stats"]["episodes"], 3);
    assert_eq!(top["stats"]["successful_episodes"], 0);
    let rules = sb.json(&["heuristic", "list"]);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "avoid"),
        "{rules:#}"
    );
}

#[test]
fn bad_pattern_arguments_exit_2() {
    let sb = Sandbox::new();
    assert_eq!(code(&sb.run(&["pattern", "list", "--kind", "vibes"])), 2);
    assert_eq!(code(&sb.run(&["pattern", "show", "nope"])), 2);
    assert_eq!(
        code(&sb.run(&["pattern", "show", "01a20000-0000-7000-8000-000000000000"])),
        3
    );
    assert_eq!(
        code(&sb.run(&["feedback", "nope", "--outcome", "success"])),
        2
    );
    let out = sb.run(&[
        "episode",
        "start",
        "--task",
        "t",
        "--session",
        "01a20000-0000-7000-8000-000000000000",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
}

#[cfg(feature = "bench")]
#[test]
fn learning_suite_runs_each_world_and_variant_and_refuses_unknown_ones() {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args([
            "--format",
            "json",
            "bench",
            "learning",
            "--tasks",
            "60",
            "--window",
            "20",
            "--warmup",
            "20",
            "--drift-at",
            "30",
            "--seeds",
            "2",
            "--variant",
            "shared,drift",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2 * 2 * 2, "two worlds, two variants, two seeds");
    for run in runs {
        assert_eq!(run["windows"].as_array().unwrap().len(), 3);
        assert_eq!(run["families"], 24);
        assert!(run["patterns_learned"].as_u64().unwrap() > 0);
        let sources: u64 = run["plan_sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(
            sources, 40,
            "every task after the warm-up has a plan source"
        );
        assert_eq!(run["late"].is_null(), run["variant"] != "drift");
    }
    let summaries = report["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 4);
    assert!(
        summaries
            .iter()
            .all(|s| s["ratio"]["median"].as_f64().is_some())
    );
    // The runs come back in (world, variant, seed) order whatever order they ended in.
    let order: Vec<(String, String, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["world"].as_str().unwrap().to_string(),
                r["variant"].as_str().unwrap().to_string(),
                r["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(order[0], ("software".into(), "shared".into(), 1));
    assert_eq!(order[1], ("software".into(), "shared".into(), 2));
    assert_eq!(order[7], ("office".into(), "drift".into(), 2));
    // Cold start pooled per world, every cold task of the world counted once, with an
    // interval around its ratio.
    let by_world = report["cold_start_by_world"].as_array().unwrap();
    assert_eq!(by_world.len(), 2);
    for entry in by_world {
        let world = entry[0].as_str().unwrap();
        let pooled = &entry[1];
        let cold_tasks: u64 = runs
            .iter()
            .filter(|r| r["world"] == world)
            .map(|r| r["cold_start"]["tasks"].as_u64().unwrap())
            .sum();
        assert_eq!(pooled["tasks"].as_u64().unwrap(), cold_tasks, "{world}");
        let (low, ratio, high) = (
            pooled["low"].as_f64().unwrap(),
            pooled["ratio"].as_f64().unwrap(),
            pooled["high"].as_f64().unwrap(),
        );
        assert!(low <= ratio && ratio <= high && low < high, "{pooled}");
    }

    for bad in [
        ["--world", "moon"],
        ["--variant", "sideways"],
        ["--jobs", "0"],
    ] {
        let out = sb
            .command()
            .args(["bench", "learning"])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(bad[1]), "{}", stderr(&out));
    }
}

/// The learning suite on the in-memory reference backend learns exactly what it learns on
/// a libSQL file: every figure of the report but the timings and the flag itself is equal.
#[cfg(feature = "bench")]
#[test]
fn learning_suite_reports_the_same_on_the_in_memory_backend() {
    let sb = Sandbox::new();
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "--format",
            "json",
            "bench",
            "learning",
            "--tasks",
            "60",
            "--window",
            "20",
            "--warmup",
            "20",
            "--seeds",
            "1",
            "--world",
            "software",
            "--variant",
            "misreport",
        ];
        args.extend_from_slice(extra);
        let out = sb.command().args(&args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    /// The report without what may differ: timings and the backend switch.
    fn figures(mut v: serde_json::Value) -> serde_json::Value {
        fn strip(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    map.retain(|k, _| !k.ends_with("_ms") && k != "in_memory");
                    map.values_mut().for_each(strip);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut v);
        v
    }
    let file = run(&[]);
    let memory = run(&["--in-memory"]);
    assert_eq!(memory["config"]["in_memory"], true);
    assert!(file["runs"][0]["patterns_learned"].as_u64().unwrap() > 0);
    assert_eq!(figures(file), figures(memory));
}
