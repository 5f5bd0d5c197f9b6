//! End-to-end tests of `--embedder local:DIR`: the model stays off the write path, finds
//! episodes by meaning, refuses a store of another embedder until `memory reembed`, and a
//! bad model directory is a usage error naming the file at fault.

#![cfg(feature = "local-model")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr, test_model_dir};
use serde_json::Value;
use std::process::Output;

/// What the model logs (at info) when it loads its weights.
const LOADED: &str = "loaded the local embedding model";

/// Runs `memory --embedder <embedder> <args>` with info logs, asserting success.
fn run(sb: &Sandbox, embedder: &str, args: &[&str]) -> Output {
    let mut all = vec!["--embedder", embedder];
    all.extend_from_slice(args);
    let out = sb
        .command()
        .env("MEMORY_LOG", "info")
        .arg("--db")
        .arg(sb.db())
        .args(["--format", "json"])
        .args(&all)
        .output()
        .unwrap();
    assert!(out.status.success(), "memory {all:?}: {}", stderr(&out));
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Records a completed episode with `embedder`, asserting the model never loads.
fn record(sb: &Sandbox, embedder: &str, task: &str) -> String {
    let started = run(sb, embedder, &["episode", "start", "--task", task]);
    let id = json(&started)["id"].as_str().unwrap().to_owned();
    let step = run(
        sb,
        embedder,
        &[
            "episode", "step", &id, "--tool", "shell", "--action", "look", "--status", "success",
        ],
    );
    let done = run(
        sb,
        embedder,
        &[
            "episode",
            "complete",
            &id,
            "--outcome",
            "success",
            "--verdict",
            "fixed",
        ],
    );
    for out in [&started, &step, &done] {
        assert!(
            !stderr(out).contains(LOADED),
            "the write path loaded the model"
        );
    }
    id
}

#[test]
fn the_local_model_finds_by_meaning_off_the_write_path() {
    let Some(dir) = test_model_dir("the_local_model_finds_by_meaning_off_the_write_path") else {
        return;
    };
    let local = format!("local:{}", dir.display());
    let sb = Sandbox::new();
    let login = record(
        &sb,
        &local,
        "the login page crashes when the password field is empty",
    );
    record(
        &sb,
        &local,
        "write up the notes on the kitchen table for the slow cooker",
    );
    record(&sb, &local, "translate the user interface into Spanish");

    // No word in common with the stored task: only meaning can find it.
    let query = "authentication form throws an exception on blank credentials";
    let out = run(&sb, &local, &["retrieve", query, "--mode", "vector"]);
    assert!(stderr(&out).contains(LOADED), "{}", stderr(&out));
    let pack = json(&out);
    assert_eq!(
        pack["hits"][0]["id"],
        Value::String(login.clone()),
        "{pack:#}"
    );
    let cfg = json(&run(&sb, &local, &["config", "show"]));
    let id = cfg["embedder"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("local:") && id.ends_with(":384"), "{id}");
    assert_eq!(cfg["embedder"]["dimension"], 384);
    assert_eq!(cfg["vector_space"]["embedder"], Value::String(id.clone()));

    // The same directory through MEMORY_EMBEDDER.
    let out = sb
        .command()
        .env("MEMORY_EMBEDDER", &local)
        .args(["--db"])
        .arg(sb.db())
        .args(["--format", "json", "retrieve", query, "--mode", "vector"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["hits"][0]["id"], Value::String(login));

    // reembed rebuilds every vector with the model, in batches.
    let done = json(&run(&sb, &local, &["reembed", "--batch", "2"]));
    assert_eq!(done["episodes"], 3);
    assert_eq!(done["embedder"], Value::String(id));
}

#[test]
fn a_store_of_another_dimension_is_refused_until_reembedded() {
    let Some(dir) = test_model_dir("a_store_of_another_dimension_is_refused_until_reembedded")
    else {
        return;
    };
    let local = format!("local:{}", dir.display());
    let sb = Sandbox::new();
    let id = record(&sb, "hash:256", "rotate the database credentials");
    run(&sb, "hash:256", &["reembed", "--missing"]);

    let args = [
        "--embedder",
        local.as_str(),
        "retrieve",
        "change the DB password",
        "--mode",
        "vector",
    ];
    let out = sb.run(&args);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("256") && message.contains("384"),
        "{message}"
    );
    assert!(message.contains("memory reembed"), "{message}");

    let done = json(&run(&sb, &local, &["reembed"]));
    assert_eq!(done["episodes"], 1);
    let pack = sb.json(&args);
    assert_eq!(pack["hits"][0]["id"], Value::String(id));
}

#[test]
fn a_bad_model_directory_is_a_usage_error_naming_the_file() {
    let sb = Sandbox::new();
    let missing = sb.dir.path().join("no-model");
    let out = sb.run(&[
        "--embedder",
        &format!("local:{}", missing.display()),
        "config",
        "show",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-model"), "{}", stderr(&out));

    let partial = sb.dir.path().join("partial");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("config.json"), "{}").unwrap();
    std::fs::write(partial.join("tokenizer.json"), "{}").unwrap();
    let out = sb.run(&[
        "--embedder",
        &format!("local:{}", partial.display()),
        "config",
        "show",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("model.safetensors"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["--embedder", "local:", "config", "show"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}
