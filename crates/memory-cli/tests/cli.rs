//! End-to-end tests of the real `memory` binary: every command as a user would run it, each
//! in its own process, on a database in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr};
use serde_json::Value;
use std::path::Path;

#[test]
fn full_loop_start_steps_complete_retrieve() {
    let sb = Sandbox::new();
    let id = sb.start(
        "Fix the flaky checkout test that times out in CI",
        &[
            "--task-type",
            "debugging",
            "--domain",
            "web-api",
            "--language",
            "rust",
            "--tag",
            "ci",
        ],
    );
    let s1 = sb.json(&[
        "episode",
        "step",
        &id,
        "--tool",
        "cargo test",
        "--action",
        "reproduce",
        "--status",
        "timeout",
        "--latency-ms",
        "60000",
    ]);
    assert_eq!(s1["seq"], 1);
    let s2 = sb.json(&[
        "episode",
        "step",
        &id,
        "--tool",
        "cargo test",
        "--action",
        "run single-threaded",
        "--status",
        "success",
        "--output",
        "test result: ok",
        "--params",
        r#"{"args":["--test-threads=1"]}"#,
        "--latency-ms",
        "9000",
    ]);
    assert_eq!(s2["seq"], 2);
    assert_eq!(s2["parameters"]["args"][0], "--test-threads=1");

    let done = sb.succeed(&id, "checkout test passes when run single-threaded");
    assert_eq!(done["outcome"]["kind"], "success");
    let reward = done["reward"]["total"].as_f64().unwrap();
    assert!(reward > 0.8 && reward <= 1.0, "reward {reward}");
    assert!(
        done["reflection"]["insights"]
            .to_string()
            .contains("retrying `cargo test` worked")
    );

    let shown = sb.json(&["episode", "show", &id]);
    assert_eq!(shown["steps"].as_array().unwrap().len(), 2);
    assert_eq!(shown["steps"][0]["result"]["status"], "timeout");
    assert_eq!(shown["tags"][0], "ci");

    let pack = sb.json(&["retrieve", "checkout test timeout", "--domain", "web-api"]);
    assert_eq!(pack["hits"][0]["id"], Value::String(id.clone()));
    assert!(
        pack["hits"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("'checkout'")
    );
    let md = pack["markdown"].as_str().unwrap();
    assert!(md.contains("Fix the flaky checkout test"), "{md}");
    assert!(pack["token_estimate"].as_u64().unwrap() <= 1_500);

    // Human output of the same commands works too.
    let out = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["retrieve", "checkout test timeout", "--explain"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("# Past experience for")
            && text.contains("RECENCY")
            && text.contains("COVER")
            && text.contains("w = 0.05 (vectors of hashed words)"),
        "{text}"
    );

    // A read-only lookup: the same hits, no session recorded, none to report against.
    let sessions = |sb: &Sandbox| sb.json(&["stats"])["storage"]["sessions"].as_u64().unwrap();
    let before = sessions(&sb);
    let lookup = sb.json(&["retrieve", "checkout test timeout", "--no-session"]);
    assert!(lookup.get("session_id").is_none(), "{lookup}");
    assert_eq!(lookup["hits"][0]["id"], Value::String(id.clone()));
    assert_eq!(sessions(&sb), before);
    let recorded = sb.json(&["retrieve", "checkout test timeout"]);
    assert!(recorded["session_id"].is_string());
    assert_eq!(sessions(&sb), before + 1);
}

#[test]
fn episode_lives_across_processes_and_concurrent_writers() {
    let sb = Sandbox::new();
    // Process 1 starts, processes 2..=7 log steps at the same time, process 8 completes.
    let id = sb.start("Rotate the database credentials", &[]);
    let children: Vec<_> = (0..6)
        .map(|i| {
            sb.command()
                .arg("--db")
                .arg(sb.db())
                .args(["--format", "json", "episode", "step", &id, "--tool"])
                .arg(format!("tool-{i}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seqs: Vec<u64> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            v["seq"].as_u64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    sb.succeed(&id, "rotated");
    let shown = sb.json(&["episode", "show", &id]);
    assert_eq!(shown["steps"].as_array().unwrap().len(), 6);
    assert!(shown["ended_at"].is_string());
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let sb = Sandbox::new();
    let long = "x".repeat(4_097);
    let out = sb.run(&["episode", "start", "--task", &long]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("task_description") && stderr(&out).contains("4096"));

    let out = sb.run(&["episode", "start", "--task", "t", "--task-type", "cooking"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown task type `cooking`"));

    let tags: Vec<String> = (0..33)
        .flat_map(|i| ["--tag".to_string(), format!("t{i}")])
        .collect();
    let mut args = vec!["episode", "start", "--task", "t"];
    args.extend(tags.iter().map(String::as_str));
    let out = sb.run(&args);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("33 tags"));

    let listed = sb.json(&["episode", "list"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        0,
        "a rejected start wrote something"
    );

    let id = sb.start("valid task", &[]);
    let out = sb.run(&[
        "episode",
        "step",
        &id,
        "--tool",
        "t",
        "--params",
        "{not json",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--params"));
    // An error step without its message: refused, as MCP refuses it.
    let out = sb.run(&["episode", "step", &id, "--tool", "t", "--status", "error"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
    // A step that says it took longer than a week: refused, as MCP refuses it.
    let out = sb.run(&[
        "episode",
        "step",
        &id,
        "--tool",
        "t",
        "--latency-ms",
        "18446744073709551615",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("latency_ms"), "{}", stderr(&out));
    let deep = format!("{}1{}", "[".repeat(17), "]".repeat(17));
    let out = sb.run(&["episode", "step", &id, "--tool", "t", "--params", &deep]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("step.parameters") && stderr(&out).contains("limit is 16"));
    let out = sb.run(&["episode", "complete", &id, "--outcome", "failure"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--reason"));
    let shown = sb.json(&["episode", "show", &id]);
    assert_eq!(shown["steps"].as_array().unwrap().len(), 0);
    assert!(shown["ended_at"].is_null());
}

#[test]
fn unknown_ids_and_state_conflicts() {
    let sb = Sandbox::new();
    let missing = "01a20000-0000-7000-8000-000000000000";
    for args in [
        vec!["episode", "show", missing],
        vec!["episode", "delete", missing],
        vec!["episode", "step", missing, "--tool", "t"],
        vec![
            "episode",
            "complete",
            missing,
            "--outcome",
            "abstained",
            "--reason",
            "r",
        ],
    ] {
        let out = sb.run(&args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    }
    let out = sb.run(&["episode", "show", "not-a-uuid"]);
    assert_eq!(code(&out), 2);

    let id = sb.start("task", &[]);
    sb.json(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "abstained",
        "--reason",
        "out of scope",
    ]);
    let out = sb.run(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "success",
        "--verdict",
        "v",
    ]);
    assert_eq!(code(&out), 4);
    assert!(stderr(&out).contains("already completed"));
    let out = sb.run(&["episode", "step", &id, "--tool", "t"]);
    assert_eq!(code(&out), 4);

    sb.json(&["episode", "delete", &id]);
    assert_eq!(code(&sb.run(&["episode", "show", &id])), 3);
}

/// `memory episode delete` is for good: the patterns no longer count or name the episode,
/// those only it taught are gone, and its words are in neither the database file nor its
/// WAL.
#[test]
fn a_deleted_episode_leaves_no_trace() {
    const SECRET: &str = "xylophonequartz";
    let sb = Sandbox::new();
    let record = |task: &str, fix: &str| {
        let id = sb.start(task, &["--domain", "infra"]);
        for (tool, status, text) in [
            ("deploy", "error", format!("token {fix} rejected")),
            (fix, "success", format!("{fix} done")),
            ("deploy", "success", "rolled out".to_string()),
        ] {
            sb.json(&[
                "episode", "step", &id, "--tool", tool, "--status", status, "--output", &text,
            ]);
        }
        sb.succeed(&id, task);
        id
    };
    let kept = record("deploy the billing service", "rotate");
    let gone = record(&format!("deploy with {SECRET}"), SECRET);
    let evidence_of = |id: &str| -> usize {
        sb.json(&["pattern", "list", "--limit", "1000"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["evidence"].as_array().unwrap().iter().any(|e| e == id))
            .count()
    };
    assert!(evidence_of(&gone) > 0);
    let in_files = || -> usize {
        std::fs::read_dir(sb.db().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let bytes = std::fs::read(p).unwrap();
                bytes
                    .windows(SECRET.len())
                    .filter(|w| *w == SECRET.as_bytes())
                    .count()
            })
            .sum()
    };
    assert!(in_files() > 0);

    sb.json(&["episode", "delete", &gone]);
    assert_eq!(evidence_of(&gone), 0);
    assert!(evidence_of(&kept) > 0);
    let patterns = sb.json(&["pattern", "list", "--limit", "1000"]);
    for p in patterns.as_array().unwrap() {
        assert!(!p.to_string().contains(SECRET), "{p}");
        assert_eq!(p["stats"]["episodes"], 1, "{p}");
    }
    assert_eq!(in_files(), 0);
}

/// `memory gc` through the binary: a dry run says what would go and changes nothing; the
/// real run completes the idle running episode as abandoned and leaves the rest.
#[test]
fn gc_completes_idle_episodes_and_says_what_it_dropped() {
    let sb = Sandbox::new();
    let idle = sb.start("a task its agent forgot", &[]);
    let done = sb.start("a task that ended", &[]);
    sb.succeed(&done, "ok");
    let dry = sb.json(&["gc", "--dry-run", "--abandon-after-hours", "0"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["abandoned_episodes"], 1);
    for key in ["sessions", "patterns", "cached_embeddings"] {
        assert!(dry[key].is_u64(), "{key}: {dry}");
    }
    assert!(sb.json(&["episode", "show", &idle])["outcome"].is_null());

    let report = sb.json(&["gc", "--abandon-after-hours", "0"]);
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["abandoned_episodes"], 1);
    let shown = sb.json(&["episode", "show", &idle]);
    assert_eq!(shown["outcome"]["kind"], "abstained", "{shown}");
    assert_eq!(
        sb.json(&["episode", "show", &done])["outcome"]["kind"],
        "success"
    );
    // Nothing left to do; a bad bound is a usage error.
    assert_eq!(
        sb.json(&["gc", "--abandon-after-hours", "0"])["abandoned_episodes"],
        0
    );
    assert_eq!(code(&sb.run(&["gc", "--min-pattern-support", "-1"])), 2);
}

#[test]
fn namespaces_are_isolated() {
    let sb = Sandbox::new();
    let id = sb.start("deploy the billing service", &["--domain", "infra"]);
    sb.succeed(&id, "deployed");
    let other = |args: &[&str]| {
        let mut full = vec!["--namespace", "team-b"];
        full.extend_from_slice(args);
        sb.run(&full)
    };
    assert_eq!(code(&other(&["episode", "show", &id])), 3);
    assert_eq!(code(&other(&["episode", "delete", &id])), 3);
    let out = other(&["episode", "list"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.as_array().unwrap().is_empty());
    let out = other(&["retrieve", "deploy billing service", "--domain", "infra"]);
    let pack: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pack["hits"].as_array().unwrap().is_empty());
    // Still there in its own namespace.
    assert_eq!(sb.json(&["episode", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn list_filters_and_pages() {
    let sb = Sandbox::new();
    let a = sb.start("a", &["--domain", "web", "--task-type", "testing"]);
    let b = sb.start("b", &["--domain", "web", "--tag", "urgent"]);
    let _c = sb.start("c", &["--domain", "data"]);
    sb.succeed(&a, "ok");
    sb.json(&[
        "episode",
        "complete",
        &b,
        "--outcome",
        "failure",
        "--reason",
        "no",
    ]);

    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(sb.json(&["episode", "list", "--domain", "web"])).len(),
        2
    );
    assert_eq!(
        ids(sb.json(&["episode", "list", "--outcome", "failure"])),
        vec![b.clone()]
    );
    assert_eq!(
        ids(sb.json(&["episode", "list", "--task-type", "testing"])),
        vec![a.clone()]
    );
    assert_eq!(
        ids(sb.json(&["episode", "list", "--tag", "urgent"])),
        vec![b.clone()]
    );
    assert_eq!(
        ids(sb.json(&["episode", "list", "--status", "running"])).len(),
        1
    );
    assert_eq!(ids(sb.json(&["episode", "list", "--since", "1h"])).len(), 3);
    assert!(ids(sb.json(&["episode", "list", "--until", "1h"])).is_empty());
    let page1 = ids(sb.json(&["episode", "list", "--limit", "2"]));
    let page2 = ids(sb.json(&["episode", "list", "--limit", "2", "--offset", "2"]));
    assert_eq!(page1.len(), 2);
    assert_eq!(page2.len(), 1);
    assert!(!page1.contains(&page2[0]));
    assert_eq!(
        code(&sb.run(&["episode", "list", "--since", "last tuesday"])),
        2
    );
}

#[test]
fn demo_runs_the_whole_loop() {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args(["--format", "json", "demo"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["episodes_recorded"], 12);
    assert_eq!(v["domains"].as_array().unwrap().len(), 3);
    assert_eq!(v["temporary"], true);
    let hits = v["pack"]["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    // The best hit is the duplicate-email episode: same problem, different words.
    assert!(
        hits[0]["task_description"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    assert!(
        !Path::new(v["db"].as_str().unwrap()).exists(),
        "temporary db left behind"
    );

    // With --db the database is kept and usable afterwards.
    let kept = sb.run(&["demo"]);
    assert!(kept.status.success());
    assert_eq!(
        sb.json(&["episode", "list", "--limit", "100"])
            .as_array()
            .unwrap()
            .len(),
        12
    );
}

#[test]
fn default_database_lives_in_the_data_dir() {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args(["--format", "json", "config", "show"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = v["db"]["path"].as_str().unwrap();
    assert!(
        path.starts_with(sb.dir.path().join("data").to_str().unwrap()),
        "{path}"
    );
    assert_eq!(v["db"]["source"], "default");
    assert_eq!(v["limits"]["task_chars"], 4096);

    let out = sb
        .command()
        .args(["--format", "json", "episode", "start", "--task", "t"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(Path::new(path).exists());

    let out = sb
        .command()
        .env("MEMORY_DB", sb.db())
        .args(["--format", "json", "config", "show"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["db"]["path"], sb.db().to_str().unwrap());
}

#[test]
fn durability_is_chosen_and_shown() {
    let sb = Sandbox::new();
    sb.start("make the file", &[]);
    let shown = sb.json(&["config", "show"]);
    assert_eq!(shown["db"]["durability"], "normal");
    let out = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["--format", "json", "--durability", "full", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["db"]["durability"], "full");
    let out = sb
        .command()
        .env("MEMORY_DURABILITY", "fsync-maybe")
        .arg("--db")
        .arg(sb.db())
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn episode_list_pages_by_cursor_as_by_offset() {
    let sb = Sandbox::new();
    for i in 0..5 {
        sb.start(&format!("task {i}"), &[]);
    }
    let all: Vec<Value> = sb.json(&["episode", "list"]).as_array().unwrap().clone();
    assert_eq!(all.len(), 5);
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["episode", "list", "--limit", "2"];
        if let Some(cursor) = &after {
            args.extend(["--after", cursor.as_str()]);
        }
        // The human listing says where the next page starts; the JSON one lists the same.
        let out = sb
            .command()
            .arg("--db")
            .arg(sb.db())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let page: Vec<Value> = sb.json(&args).as_array().unwrap().clone();
        walked.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match text
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("next page: --after "))
        {
            Some(cursor) => {
                assert_eq!(page.len(), 2);
                after = Some(cursor.to_string());
            }
            None => break,
        }
    }
    let expected: Vec<String> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(walked, expected);

    let out = sb.run(&["episode", "list", "--after", "yesterday"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--after"), "{}", stderr(&out));
}
