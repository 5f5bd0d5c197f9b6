//! The fuzz corpus of the MCP argument parsing (`fuzz/corpus/mcp/`), every file through the
//! fuzz target's own code (`fuzz/src/mcp.rs`) without AFL++: the seeds, what fuzzing kept,
//! and every input that once found a bug stay checked on each `cargo test`. None may panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/mcp.rs"]
mod mcp;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

use memory_core::Limits;
use memory_mcp::TOOL_NAMES;
use memory_mcp::tools::{CheckedCall, check_call};
use serde_json::{Map, Value, json};

#[test]
fn the_mcp_corpus_is_refused_or_accepted_without_a_panic() {
    let files = replay::replay(env!("CARGO_MANIFEST_DIR"), "mcp", mcp::run);
    // Every tool has seeds, so fuzzing starts inside each one's parser.
    for tool in TOOL_NAMES {
        let seeded = files.iter().any(|path| {
            std::fs::read_to_string(path).is_ok_and(|text| text.split('\n').next() == Some(tool))
        });
        assert!(seeded, "no seed calls `{tool}`");
    }
}

/// `check_call` is what a `tools/call` runs before its handler touches the memory: the same
/// errors, and the inputs the handler passes on.
#[test]
fn check_call_parses_and_checks_like_a_tool_call() {
    let limits = Limits::default();
    let object = |v: Value| -> Map<String, Value> { v.as_object().unwrap().clone() };
    let call = check_call(
        "log_step",
        object(json!({
            "episode_id": "01a2507c-95f3-7233-8f60-89fa3ced9c7d",
            "tool": "cargo test",
            "status": "error",
            "error": "2 tests failed",
            "namespace": "team-a",
        })),
        "default",
        &limits,
    )
    .unwrap();
    let CheckedCall::LogStep(ns, _, step) = call else {
        panic!("not a log_step: {call:?}");
    };
    assert_eq!(ns, "team-a");
    assert_eq!(step.tool, "cargo test");

    let call = check_call("memory_stats", Map::new(), "default", &limits).unwrap();
    assert_eq!(call, CheckedCall::MemoryStats("default".into()));

    for (name, arguments, expected) in [
        (
            "log_step",
            json!({"episode_id": "x", "tool": "t", "status": "success"}),
            "invalid `episode_id`: `x` is not an id",
        ),
        (
            "complete_episode",
            json!({"episode_id": "01a2507c-95f3-7233-8f60-89fa3ced9c7d", "outcome": "partial",
                   "verdict": "v"}),
            "unknown outcome `partial`",
        ),
        (
            "start_episode",
            json!({"task": "t", "descripton": "typo"}),
            "invalid arguments for `start_episode`: unknown field `descripton`",
        ),
        ("forget", json!({}), "unknown tool `forget`"),
    ] {
        let err = check_call(name, object(arguments), "default", &limits).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}
