//! End-to-end tests of embedders from the shell: the default local embedder, a remote
//! OpenAI-compatible one (a loopback server in this test), re-embedding, and the refusal to
//! mix vectors from different embedders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback server speaking the OpenAI embeddings API: each input becomes an 8-dimension
/// vector counting a few letters, so similar texts get similar vectors. Returns its base URL
/// and the number of requests served.
fn embeddings_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let inputs = request["input"].as_array().cloned().unwrap_or_default();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, text)| {
                    let text = text.as_str().unwrap_or("").to_lowercase();
                    let v: Vec<f32> = "aeiostrn"
                        .chars()
                        .map(|c| 1.0 + text.matches(c).count() as f32)
                        .collect();
                    serde_json::json!({ "index": i, "embedding": v })
                })
                .collect();
            let answer = serde_json::json!({ "data": data, "model": request["model"] }).to_string();
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, served)
}

fn record(sb: &Sandbox, extra: &[&str], task: &str) -> String {
    let mut args = extra.to_vec();
    args.extend(["episode", "start", "--task", task, "--domain", "infra"]);
    let out = sb.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut args = extra.to_vec();
    args.extend([
        "episode",
        "complete",
        &id,
        "--outcome",
        "success",
        "--verdict",
        "done",
    ]);
    assert!(sb.run(&args).status.success());
    id
}

#[test]
fn local_embedder_finds_by_meaning_and_modes_differ() {
    let sb = Sandbox::new();
    let id = record(&sb, &[], "deploy timeouts on the staging cluster");
    record(&sb, &[], "write the onboarding guide for new hires");
    // No shared word stem with the stored task ("undeployed" is not "deploy" to the
    // stemmer), only shared letters: only the vector side can find it.
    let pack = sb.json(&["retrieve", "undeployed and timedout", "--mode", "vector"]);
    assert_eq!(pack["hits"][0]["id"], Value::String(id.clone()));
    assert!(pack["hits"][0]["score"]["similarity"].as_f64().unwrap() > 0.0);
    let text = sb.json(&["retrieve", "undeployed and timedout", "--mode", "text"]);
    assert!(text["hits"].as_array().unwrap().is_empty(), "{text:#}");
    let hybrid = sb.json(&["retrieve", "staging deploy timing out", "--explain"]);
    let top = &hybrid["hits"][0];
    assert_eq!(top["id"], Value::String(id));
    assert!(top["score"]["lexical_rank"].is_number() && top["score"]["semantic_rank"].is_number());
    assert_eq!(code(&sb.run(&["retrieve", "x", "--mode", "telepathy"])), 2);
}

#[test]
fn remote_embedder_stays_off_the_write_path_and_embedders_never_mix() {
    let sb = Sandbox::new();
    let (url, served) = embeddings_server();
    let remote = [
        "--embedder",
        "openai:letters",
        "--embedder-url",
        url.as_str(),
        "--embedder-dim",
        "8",
    ];
    let id = record(&sb, &remote, "rotate the database credentials");
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "completion must not call the network"
    );

    // The first remote use declares the store's vector space; reembed --missing fills it.
    let mut args = remote.to_vec();
    args.extend(["reembed", "--missing"]);
    let done = sb.json(&args);
    assert_eq!(done["episodes"], 1);
    assert_eq!(done["embedder"], "openai:letters:8");
    assert!(served.load(Ordering::SeqCst) >= 1);

    let mut args = remote.to_vec();
    args.extend([
        "retrieve",
        "rotate database credentials",
        "--mode",
        "vector",
    ]);
    let pack = sb.json(&args);
    assert_eq!(pack["hits"][0]["id"], Value::String(id));
    // The same query again is answered from the embedding cache.
    let before = served.load(Ordering::SeqCst);
    sb.json(&args);
    assert_eq!(
        served.load(Ordering::SeqCst),
        before,
        "query embedding was not cached"
    );

    // The default embedder may not read vectors written by another one.
    let out = sb.run(&[
        "retrieve",
        "rotate database credentials",
        "--mode",
        "vector",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("memory reembed"), "{}", stderr(&out));
    // Until the store is re-embedded with it.
    let done = sb.json(&["reembed"]);
    assert_eq!(done["embedder"], "hash-v1-384");
    let pack = sb.json(&[
        "retrieve",
        "rotate database credentials",
        "--mode",
        "vector",
    ]);
    assert_eq!(pack["hits"].as_array().unwrap().len(), 1);
    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["vector_space"]["embedder"], "hash-v1-384");

    // Misconfigured embedders are usage errors.
    assert_eq!(
        code(&sb.run(&["--embedder", "openai:m", "config", "show"])),
        2
    );
    assert_eq!(code(&sb.run(&["--embedder", "magic", "config", "show"])), 2);
}

#[cfg(feature = "bench")]
#[test]
fn retrieval_quality_benchmark_runs() {
    let sb = Sandbox::new();
    let out = sb
        .command()
        .args([
            "--format",
            "json",
            "bench",
            "retrieval",
            "--episodes",
            "300",
            "--queries",
            "20",
        ])
        .args([
            "--latency-at",
            "0",
            "--logs-episodes",
            "60",
            "--logs-queries",
            "6",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The step-level set and the fusion sweep come with it.
    assert_eq!(report["logs"]["queries"], 6);
    assert_eq!(report["logs"]["modes"].as_array().unwrap().len(), 3);
    assert!(report["fusion_sweep"].as_array().unwrap().len() >= 2);
    let text = report.to_string();
    for mode in ["text", "vector", "hybrid"] {
        assert!(
            text.contains(&format!("\"{mode}\"")),
            "{mode} missing: {text}"
        );
    }
    assert_eq!(
        code(&sb.run(&[
            "--embedder",
            "none",
            "bench",
            "retrieval",
            "--episodes",
            "10"
        ])),
        2
    );
}

#[cfg(feature = "bench")]
#[test]
fn retrieval_benchmark_keeps_and_reuses_its_store() {
    let sb = Sandbox::new();
    let store = sb.dir.path().join("bench-stores");
    let run = || {
        let out = sb
            .command()
            .args(["--format", "json", "bench", "retrieval"])
            .args(["--episodes", "150", "--queries", "10", "--latency-at", "0"])
            .args(["--logs-episodes", "20", "--logs-queries", "4"])
            .arg("--store")
            .arg(&store)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (report, stderr(&out))
    };
    let (first, log) = run();
    assert!(!log.contains("reusing the kept store"), "{log}");
    assert!(first["seed_seconds"].as_f64().unwrap() > 0.0);
    assert!(store.join("retrieval-eval-seed42-150.db").exists());
    assert!(store.join("retrieval-eval-seed42-150.json").exists());
    // The step-level set is kept beside it, with its own manifest.
    assert!(log.contains("20 episodes stored and embedded"), "{log}");
    assert!(store.join("retrieval-eval-logs-seed42-20.db").exists());
    assert!(store.join("retrieval-eval-logs-seed42-20.json").exists());

    let (second, log) = run();
    assert!(log.contains("reusing the kept store"), "{log}");
    assert!(
        log.contains("20 episodes reused from the kept store"),
        "{log}"
    );
    assert_eq!(second["seed_seconds"].as_f64(), Some(0.0));
    assert_eq!(
        second["mean_relevant_per_query"],
        first["mean_relevant_per_query"]
    );
    // The same step-level queries against the same episodes: the same quality.
    let ndcg = |report: &Value| -> Vec<Value> {
        let modes = report["logs"]["modes"].as_array().unwrap();
        modes.iter().map(|m| m["ndcg_at_10"].clone()).collect()
    };
    assert_eq!(ndcg(&second), ndcg(&first));
    assert_eq!(ndcg(&first).len(), 3);
}
