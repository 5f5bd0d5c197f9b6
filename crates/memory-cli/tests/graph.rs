//! End-to-end tests of relationships, checkpoints, hand-off, export and import through the
//! real `memory` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr};
use serde_json::Value;

#[test]
fn relate_related_graph_and_unrelate() {
    let sb = Sandbox::new();
    let parent = sb.start("Ship the billing export", &[]);
    let child = sb.start("Write the CSV encoder", &[]);
    let dep = sb.start("Add the billing read model", &[]);

    let r = sb.json(&[
        "relate",
        &parent,
        &child,
        "--kind",
        "parent_child",
        "--reason",
        "sub-task",
    ]);
    assert_eq!(r["kind"], "parent_child");
    assert_eq!(r["metadata"]["reason"], "sub-task");
    sb.json(&[
        "relate",
        &child,
        &dep,
        "--kind",
        "depends-on",
        "--weight",
        "0.5",
    ]);

    // Closing a cycle: exit 4, the path in the message, nothing written.
    let out = sb.run(&["relate", &dep, &child, "--kind", "depends_on"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(msg.contains(&format!("{dep} → {child} → {dep}")), "{msg}");
    // Self-link: invalid input.
    let out = sb.run(&["relate", &dep, &dep, "--kind", "related_to"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = sb.run(&["relate", &dep, &child, "--kind", "sideways"]);
    assert_eq!(code(&out), 2);

    let near = sb.json(&["related", &child]);
    assert_eq!(near.as_array().unwrap().len(), 2);
    let down = sb.json(&["related", &parent, "--direction", "out", "--depth", "3"]);
    let ids: Vec<&str> = down
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["neighbour"]["episode"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![child.as_str(), dep.as_str()]);
    let order = sb.json(&[
        "related",
        &parent,
        "--direction",
        "out",
        "--depth",
        "3",
        "--order",
    ]);
    assert_eq!(order["order"], serde_json::json!([parent, dep, child]));

    let graph = sb.json(&["graph"]);
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2);
    let dot = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["graph", "--format", "dot", "--root", &child, "--depth", "1"])
        .output()
        .unwrap();
    assert!(dot.status.success(), "{}", stderr(&dot));
    let dot = String::from_utf8(dot.stdout).unwrap();
    assert!(dot.starts_with("digraph memory {"), "{dot}");
    assert!(
        dot.contains(&format!("\"{child}\" -> \"{dep}\" [label=\"depends_on\"];")),
        "{dot}"
    );
    let out = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["--format", "dot", "episode", "list"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);

    let removed = sb.json(&["unrelate", &child, &dep]);
    assert_eq!(removed["removed"], 1);
    assert_eq!(code(&sb.run(&["unrelate", &child, &dep])), 3);

    // Deleting an episode removes its links.
    sb.json(&["episode", "delete", &child]);
    assert!(sb.json(&["graph"])["edges"].as_array().unwrap().is_empty());
}

#[test]
fn checkpoint_handoff_and_resume_from_a_file() {
    let sb = Sandbox::new();
    let id = sb.start(
        "Add rate limiting to login",
        &["--domain", "web-api", "--tag", "t-7"],
    );
    sb.json(&[
        "episode",
        "step",
        &id,
        "--tool",
        "edit_file",
        "--action",
        "add limiter",
    ]);
    sb.json(&[
        "episode",
        "step",
        &id,
        "--tool",
        "cargo test",
        "--status",
        "error",
        "--output",
        "login_limit failed",
    ]);
    let cp = sb.json(&["checkpoint", &id, "--note", "limiter wired; test red"]);
    assert_eq!(cp["step_count"], 2);

    let pack_file = sb.dir.path().join("pack.json");
    let pack = sb.json(&["handoff", &id, "--out", pack_file.to_str().unwrap()]);
    assert_eq!(pack["status"], "running");
    assert!(
        pack["markdown"]
            .as_str()
            .unwrap()
            .contains("limiter wired; test red")
    );
    assert!(
        pack["open_items"]
            .to_string()
            .contains("login_limit failed")
    );
    let human = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["handoff", &id])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).starts_with("# Hand-off: Add rate limiting"));

    let resumed = sb.json(&["resume", pack_file.to_str().unwrap()]);
    let new_id = resumed["id"].as_str().unwrap();
    assert_eq!(resumed["follows"], id.as_str());
    let shown = sb.json(&["episode", "show", new_id]);
    assert_eq!(shown["task_description"], "Add rate limiting to login");
    assert_eq!(shown["metadata"]["resumed_from"], id.as_str());
    let links = sb.json(&["related", new_id, "--direction", "out"]);
    assert_eq!(links[0]["neighbour"]["via"]["kind"], "follows");

    std::fs::write(&pack_file, "{\"not\": \"a pack\"}").unwrap();
    assert_eq!(code(&sb.run(&["resume", pack_file.to_str().unwrap()])), 2);
}

/// Fills a database with the demo's episodes, patterns and sessions, plus links.
fn populated() -> Sandbox {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args(["demo", "--db"])
        .arg(sb.db())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let list = sb.json(&["episode", "list", "--limit", "100"]);
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    sb.json(&["relate", &ids[0], &ids[1], "--kind", "depends_on"]);
    sb.json(&[
        "relate",
        &ids[2],
        &ids[1],
        "--kind",
        "related_to",
        "--metadata",
        r#"{"why":"same bug"}"#,
    ]);
    sb
}

fn export_to(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let path = sb.dir.path().join(name);
    let out = sb.json(&["export", "--out", path.to_str().unwrap()]);
    assert!(out["episodes"].as_u64().unwrap() > 0);
    path
}

#[test]
fn export_then_import_into_an_empty_database_then_export_is_identical() {
    let sb = populated();
    let first = export_to(&sb, "first.jsonl");
    let text = std::fs::read_to_string(&first).unwrap();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("trailer"),
        "an export ends with its trailer"
    );
    for kind in [
        "header",
        "context_stats",
        "pattern",
        "heuristic",
        "episode",
        "relationship",
        "session",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} line");
    }

    let copy = Sandbox::new();
    let imported = copy.json(&["import", first.to_str().unwrap()]);
    assert_eq!(imported["relationships"], 2);
    let second = export_to(&copy, "second.jsonl");
    assert_eq!(text, std::fs::read_to_string(&second).unwrap());

    // Export to stdout gives the same bytes.
    let out = copy
        .command()
        .arg("--db")
        .arg(copy.db())
        .arg("export")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[test]
fn a_malformed_line_in_the_middle_imports_nothing_and_names_the_line() {
    let sb = populated();
    let file = export_to(&sb, "all.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let middle = lines.len() / 2;
    // Cut short at a line boundary (a copy interrupted, a disk filled): refused, nothing kept.
    let cut = sb.dir.path().join("cut.jsonl");
    std::fs::write(&cut, lines[..middle].join("\n") + "\n").unwrap();
    let copy = Sandbox::new();
    let out = copy.run(&["import", cut.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("cut short"), "{}", stderr(&out));
    assert!(
        copy.json(&["episode", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    lines[middle] = r#"{"type":"episode","record":{"id":"#.to_string();
    let broken = sb.dir.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();

    let copy = Sandbox::new();
    let out = copy.run(&["import", broken.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(msg.contains(&format!("line {}", middle + 1)), "{msg}");
    // Nothing from before the bad line was kept.
    assert!(
        copy.json(&["episode", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        copy.json(&["pattern", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Bytes that are not UTF-8 in the middle: the file's fault too (exit 2), nothing kept.
    let mut bytes: Vec<u8> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == middle {
            bytes.extend_from_slice(b"\xff\xfe{}");
        } else {
            bytes.extend_from_slice(line.as_bytes());
        }
        bytes.push(b'\n');
    }
    std::fs::write(&broken, bytes).unwrap();
    let out = copy.run(&["import", broken.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("UTF-8"), "{}", stderr(&out));
    assert!(
        copy.json(&["episode", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The intact file still imports into the same database.
    copy.json(&["import", file.to_str().unwrap()]);
    assert!(
        !copy
            .json(&["episode", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
