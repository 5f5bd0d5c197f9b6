//! Every tool handler through `MemoryServer::call`, on a real database: the happy path, and
//! for each tool the invalid inputs and unknown ids a model will eventually send. A failure
//! must come back as a tool error (`isError`) whose text names what to fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_core::SelfLearningMemory;
use memory_mcp::{MemoryServer, TOOL_NAMES};
use memory_storage_turso::TursoStorage;
use serde_json::{Value, json};
use std::sync::Arc;

struct Fixture {
    _dir: tempfile::TempDir,
    server: MemoryServer,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let storage = TursoStorage::open(&path).await.unwrap();
    let memory = SelfLearningMemory::new(Arc::new(storage));
    let server = MemoryServer::new(memory, "default").unwrap();
    Fixture { _dir: dir, server }
}

fn object(args: Value) -> serde_json::Map<String, Value> {
    match args {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

impl Fixture {
    /// Calls `tool`, asserts success, returns (text, structured).
    async fn ok(&self, tool: &str, args: Value) -> (String, Value) {
        let result = self.server.call(tool, object(args)).await;
        let text = result.content[0].as_text().unwrap().text.clone();
        assert_eq!(result.is_error, Some(false), "{tool} failed: {text}");
        (text, result.structured_content.unwrap())
    }

    /// Calls `tool`, asserts a tool error, returns its text.
    async fn err(&self, tool: &str, args: Value) -> String {
        let result = self.server.call(tool, object(args)).await;
        let text = result.content[0].as_text().unwrap().text.clone();
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool} should fail, got: {text}"
        );
        assert!(result.structured_content.is_none());
        text
    }

    async fn start(&self, task: &str) -> String {
        let (_, s) = self
            .ok(
                "start_episode",
                json!({ "task": task, "task_type": "debugging",
                        "context": { "domain": "web-api", "language": "rust" } }),
            )
            .await;
        s["episode_id"].as_str().unwrap().to_string()
    }

    async fn step(&self, id: &str, tool: &str, status: &str, text: &str) {
        let mut args = json!({ "episode_id": id, "tool": tool, "action": "run", "status": status });
        match status {
            "success" => args["output"] = json!(text),
            "error" => args["error"] = json!(text),
            _ => {}
        }
        self.ok("log_step", args).await;
    }

    async fn recorded(&self, task: &str) -> String {
        let id = self.start(task).await;
        self.step(
            &id,
            "cargo test",
            "error",
            "test checkout ... FAILED: timeout after 60s",
        )
        .await;
        self.step(&id, "edit_file", "success", "1 file changed")
            .await;
        self.step(&id, "cargo test", "success", "test result: ok")
            .await;
        self.ok(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success", "verdict": "the test passes" }),
        )
        .await;
        id
    }
}

const UNKNOWN: &str = "01900000-0000-7000-8000-000000000000";

#[tokio::test]
async fn catalogue_lists_ten_described_tools_with_closed_schemas() {
    let f = fixture().await;
    let tools = f.server.tools();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOL_NAMES);
    for t in tools {
        let description = t.description.as_deref().unwrap();
        assert!(description.len() > 100, "{} is under-described", t.name);
        assert_eq!(t.input_schema["type"], "object", "{}", t.name);
        assert_eq!(t.input_schema["additionalProperties"], false, "{}", t.name);
        assert!(t.annotations.is_some(), "{}", t.name);
    }
}

#[tokio::test]
async fn full_loop_through_every_tool() {
    let f = fixture().await;
    let id = f
        .start("Fix the flaky checkout test that times out in CI")
        .await;
    for (tool, status, text) in [
        ("cargo test", "timeout", ""),
        (
            "cargo test",
            "error",
            "test checkout ... FAILED: timeout after 60s",
        ),
        ("edit_file", "success", "1 file changed"),
        ("cargo test", "success", "test result: ok. 12 passed"),
    ] {
        f.step(&id, tool, status, text).await;
    }
    let (text, done) = f
        .ok(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success",
                    "verdict": "passes single-threaded", "artifacts": ["PR #42"] }),
        )
        .await;
    assert!(text.contains("reward"), "{text}");
    assert_eq!(done["steps"], 4);
    assert_eq!(done["outcome"]["kind"], "success");
    assert!(done["reward"]["total"].as_f64().unwrap() > 0.0);
    assert!(!done["pattern_ids"].as_array().unwrap().is_empty());

    let (text, ep) = f.ok("get_episode", json!({ "episode_id": id })).await;
    assert_eq!(ep["steps"].as_array().unwrap().len(), 4);
    assert_eq!(ep["steps"][2]["result"]["status"], "success");
    assert!(text.contains("passes single-threaded"));

    let (markdown, pack) = f
        .ok(
            "retrieve_context",
            json!({ "query": "checkout test times out in CI",
                    "context": { "domain": "web-api" }, "limit": 3 }),
        )
        .await;
    assert_eq!(pack["hits"][0]["id"], json!(id));
    let session = pack["session_id"].as_str().unwrap().to_string();
    assert!(markdown.contains(&session), "the pack names its session");
    assert!(markdown.contains("checkout"));

    let (text, _) = f
        .ok(
            "record_feedback",
            json!({ "session_id": session, "applied": [], "outcome": "success" }),
        )
        .await;
    assert!(text.contains("Feedback recorded"));

    let (text, found) = f
        .ok(
            "search_episodes",
            json!({ "query": "checkout timeout", "domain": "web-api" }),
        )
        .await;
    assert_eq!(found["episodes"][0]["id"], json!(id));
    assert!(text.contains(&id));
    let (_, none) = f
        .ok(
            "search_episodes",
            json!({ "query": "checkout", "domain": "data-pipeline" }),
        )
        .await;
    assert_eq!(none["episodes"], json!([]));
    let (_, listed) = f
        .ok(
            "search_episodes",
            json!({ "completed": true, "outcome": "success" }),
        )
        .await;
    assert_eq!(listed["episodes"].as_array().unwrap().len(), 1);

    let (_, patterns) = f.ok("list_patterns", json!({ "order": "support" })).await;
    let first = &patterns["patterns"][0];
    assert!(first["episodes"].as_u64().unwrap() >= 1);
    assert!(first["description"].as_str().is_some());

    let (text, stats) = f.ok("memory_stats", json!({})).await;
    assert_eq!(stats["counts"]["episodes"], 1);
    assert_eq!(stats["counts"]["success"], 1);
    assert!(stats["counts"]["patterns"].as_u64().unwrap() >= 1);
    assert_eq!(stats["memory"]["storage"]["episodes"], 1);
    // The searches above loaded the server's full-text index.
    assert_eq!(stats["memory"]["storage"]["text_index"]["documents"], 1);
    assert!(
        stats["memory"]["storage"]["database_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    let completions = stats["memory"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == "complete_episode")
        .unwrap();
    assert_eq!(completions["count"], 1);
    let log_calls = stats["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == "log_step")
        .unwrap();
    assert_eq!(log_calls["count"], 4);
    assert_eq!(log_calls["errors"], 0);
    assert!(text.contains("1 episodes"), "{text}");
    assert!(text.contains("log_step: 4 calls"), "{text}");

    let (text, _) = f.ok("delete_episode", json!({ "episode_id": id })).await;
    assert!(text.contains("Deleted"));
    let gone = f.err("get_episode", json!({ "episode_id": id })).await;
    assert!(gone.contains("not found"), "{gone}");
}

#[tokio::test]
async fn start_episode_rejects_bad_input_with_the_field_named() {
    let f = fixture().await;
    let missing = f.err("start_episode", json!({})).await;
    assert!(missing.contains("missing field `task`"), "{missing}");
    let unknown = f
        .err(
            "start_episode",
            json!({ "task": "t", "taks_type": "debugging" }),
        )
        .await;
    assert!(unknown.contains("unknown field `taks_type`"), "{unknown}");
    let wrong_type = f.err("start_episode", json!({ "task": 42 })).await;
    assert!(wrong_type.contains("invalid type"), "{wrong_type}");
    let empty = f.err("start_episode", json!({ "task": "  " })).await;
    // Named as the tool's argument, not as the library's field (`task_description`).
    assert!(
        empty.contains("invalid `task`") && empty.contains("empty"),
        "{empty}"
    );
    assert!(!empty.contains("task_description"), "{empty}");
    // Type errors in JSON's words, not Rust's.
    let context = f
        .err("start_episode", json!({ "task": "t", "context": "rust" }))
        .await;
    assert!(context.contains("expected an object"), "{context}");
    assert!(!context.contains("struct"), "{context}");
    let long = f
        .err("start_episode", json!({ "task": "x".repeat(4_097) }))
        .await;
    assert!(long.contains("4097") && long.contains("4096"), "{long}");
    let task_type = f
        .err(
            "start_episode",
            json!({ "task": "t", "task_type": "dancing" }),
        )
        .await;
    assert!(
        task_type.contains("task_type") && task_type.contains("debugging"),
        "{task_type}"
    );
    let complexity = f
        .err(
            "start_episode",
            json!({ "task": "t", "context": { "complexity": "huge" } }),
        )
        .await;
    assert!(complexity.contains("context.complexity"), "{complexity}");
    let session = f
        .err("start_episode", json!({ "task": "t", "session_id": "abc" }))
        .await;
    assert!(
        session.contains("session_id") && session.contains("not an id"),
        "{session}"
    );
    let unknown_session = f
        .err(
            "start_episode",
            json!({ "task": "t", "session_id": UNKNOWN }),
        )
        .await;
    assert!(unknown_session.contains("not found"), "{unknown_session}");
    let namespace = f
        .err("start_episode", json!({ "task": "t", "namespace": "a b" }))
        .await;
    assert!(namespace.contains("namespace"), "{namespace}");
    let tags = f
        .err(
            "start_episode",
            json!({ "task": "t", "tags": (0..33).map(|i| format!("t{i}")).collect::<Vec<_>>() }),
        )
        .await;
    assert!(tags.contains("33 tags"), "{tags}");
    // Nothing was written by any of them.
    let (_, stats) = f.ok("memory_stats", json!({})).await;
    assert_eq!(stats["counts"]["episodes"], 0);
    assert_eq!(stats["memory"]["storage"]["episodes"], 0);
}

#[tokio::test]
async fn log_step_checks_status_fields_ids_and_state() {
    let f = fixture().await;
    let id = f.start("t").await;
    let base = |extra: Value| {
        let mut a = json!({ "episode_id": id, "tool": "cargo test" });
        a.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        a
    };
    let no_message = f.err("log_step", base(json!({ "status": "error" }))).await;
    assert!(
        no_message.contains("`error`") && no_message.contains("required"),
        "{no_message}"
    );
    let bad_status = f.err("log_step", base(json!({ "status": "ok-ish" }))).await;
    assert!(bad_status.contains("unknown status"), "{bad_status}");
    let mixed = f
        .err(
            "log_step",
            base(json!({ "status": "success", "error": "x" })),
        )
        .await;
    assert!(mixed.contains("only for status `error`"), "{mixed}");
    let timeout = f
        .err(
            "log_step",
            base(json!({ "status": "timeout", "output": "x" })),
        )
        .await;
    assert!(timeout.contains("timeout"), "{timeout}");
    let big = f
        .err(
            "log_step",
            base(json!({ "status": "success", "output": "x".repeat(65_537) })),
        )
        .await;
    assert!(
        big.contains("invalid `output`") && big.contains("65536"),
        "{big}"
    );
    let empty_tool = f
        .err(
            "log_step",
            json!({ "episode_id": id, "tool": "", "status": "success" }),
        )
        .await;
    assert!(empty_tool.contains("invalid `tool`"), "{empty_tool}");
    let unknown = f
        .err(
            "log_step",
            json!({ "episode_id": UNKNOWN, "tool": "t", "status": "timeout" }),
        )
        .await;
    assert!(
        unknown.contains("not found") && unknown.contains("episode_id"),
        "{unknown}"
    );
    let malformed = f
        .err(
            "log_step",
            json!({ "episode_id": "42", "tool": "t", "status": "timeout" }),
        )
        .await;
    assert!(malformed.contains("episode_id"), "{malformed}");
    let other_ns = f
        .err(
            "log_step",
            json!({ "episode_id": id, "tool": "t", "status": "timeout", "namespace": "other" }),
        )
        .await;
    assert!(
        other_ns.contains("not found in namespace `other`"),
        "{other_ns}"
    );

    f.ok(
        "complete_episode",
        json!({ "episode_id": id, "outcome": "abstained", "reason": "out of scope" }),
    )
    .await;
    let after = f
        .err(
            "log_step",
            base(json!({ "status": "success", "output": "late" })),
        )
        .await;
    assert!(after.starts_with("conflict"), "{after}");
}

#[tokio::test]
async fn complete_episode_requires_the_fields_of_its_outcome() {
    let f = fixture().await;
    let id = f.start("t").await;
    let no_verdict = f
        .err(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success" }),
        )
        .await;
    assert!(
        no_verdict.contains("`verdict`") && no_verdict.contains("required"),
        "{no_verdict}"
    );
    let no_reason = f
        .err(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "failure" }),
        )
        .await;
    assert!(no_reason.contains("`reason`"), "{no_reason}");
    let stray = f
        .err(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "failure", "reason": "r", "verdict": "v" }),
        )
        .await;
    assert!(stray.contains("does not apply"), "{stray}");
    let bad = f
        .err(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "meh" }),
        )
        .await;
    assert!(bad.contains("unknown outcome"), "{bad}");
    // One spelling per outcome, the schema's: aliases and stray spaces are refused, naming
    // the accepted values.
    for spelling in ["partial", "Success ", "FAILURE"] {
        let refused = f
            .err(
                "complete_episode",
                json!({ "episode_id": id, "outcome": spelling, "verdict": "v" }),
            )
            .await;
        assert!(
            refused.contains("success, partial_success, failure, abstained"),
            "{refused}"
        );
    }
    let unknown = f
        .err(
            "complete_episode",
            json!({ "episode_id": UNKNOWN, "outcome": "success", "verdict": "v" }),
        )
        .await;
    assert!(unknown.contains("not found"), "{unknown}");
    f.ok(
        "complete_episode",
        json!({ "episode_id": id, "outcome": "partial_success", "verdict": "half",
                "completed": ["a"], "failed": ["b"] }),
    )
    .await;
    let twice = f
        .err(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success", "verdict": "v" }),
        )
        .await;
    assert!(twice.contains("already completed"), "{twice}");
}

#[tokio::test]
async fn retrieve_context_checks_query_bounds() {
    let f = fixture().await;
    let empty = f
        .ok("retrieve_context", json!({ "query": "anything at all" }))
        .await;
    assert_eq!(
        empty.1["hits"],
        json!([]),
        "an empty memory returns an empty pack"
    );
    for (args, field) in [
        (json!({ "query": "" }), "query"),
        (json!({ "query": "q", "limit": 0 }), "limit"),
        (json!({ "query": "q", "limit": 51 }), "limit"),
        (json!({ "query": "q", "token_budget": 10 }), "token_budget"),
        (json!({ "query": "q", "mode": "psychic" }), "mode"),
        (json!({ "query": "q", "task_type": "x" }), "task_type"),
        (json!({ "query": "q", "limit": -1 }), "invalid value"),
    ] {
        let text = f.err("retrieve_context", args.clone()).await;
        assert!(text.contains(field), "{args}: {text}");
    }
}

#[tokio::test]
async fn get_and_delete_name_unknown_and_malformed_ids() {
    let f = fixture().await;
    for tool in ["get_episode", "delete_episode"] {
        let unknown = f.err(tool, json!({ "episode_id": UNKNOWN })).await;
        assert!(
            unknown.contains(UNKNOWN) && unknown.contains("not found"),
            "{unknown}"
        );
        let malformed = f.err(tool, json!({ "episode_id": "yesterday's" })).await;
        assert!(malformed.contains("not an id"), "{malformed}");
        let missing = f.err(tool, json!({})).await;
        assert!(missing.contains("missing field `episode_id`"), "{missing}");
    }
}

#[tokio::test]
async fn search_and_patterns_validate_filters() {
    let f = fixture().await;
    for (tool, args, needle) in [
        (
            "search_episodes",
            json!({ "since": "last tuesday" }),
            "RFC 3339",
        ),
        (
            "search_episodes",
            json!({ "outcome": "great" }),
            "unknown outcome",
        ),
        ("search_episodes", json!({ "limit": 0 }), "limit"),
        ("search_episodes", json!({ "limit": 1_001 }), "limit"),
        ("search_episodes", json!({ "query": "  " }), "query"),
        (
            "list_patterns",
            json!({ "kind": "vibes" }),
            "unknown pattern kind",
        ),
        (
            "list_patterns",
            json!({ "order": "random" }),
            "unknown order",
        ),
        (
            "list_patterns",
            json!({ "min_confidence": 2.0 }),
            "min_confidence",
        ),
        ("list_patterns", json!({ "limit": 0 }), "limit"),
    ] {
        let text = f.err(tool, args.clone()).await;
        assert!(text.contains(needle), "{tool} {args}: {text}");
    }
    let (text, _) = f.ok("list_patterns", json!({})).await;
    assert!(text.contains("No patterns yet"), "{text}");
    let (text, _) = f.ok("search_episodes", json!({})).await;
    assert_eq!(text, "No episodes match.");
}

#[tokio::test]
async fn record_feedback_checks_session_and_applied_patterns() {
    let f = fixture().await;
    for _ in 0..3 {
        f.recorded("checkout test times out in CI").await;
    }
    let (_, pack) = f
        .ok(
            "retrieve_context",
            json!({ "query": "checkout test times out", "context": { "domain": "web-api" } }),
        )
        .await;
    let session = pack["session_id"].as_str().unwrap().to_string();
    let recommended: Vec<String> = pack["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !recommended.is_empty(),
        "three alike episodes yield recommendations"
    );

    let unknown = f
        .err(
            "record_feedback",
            json!({ "session_id": UNKNOWN, "outcome": "success" }),
        )
        .await;
    assert!(
        unknown.contains("retrieval session") && unknown.contains("session_id"),
        "{unknown}"
    );
    let not_offered = f
        .err(
            "record_feedback",
            json!({ "session_id": session, "applied": [UNKNOWN], "outcome": "success" }),
        )
        .await;
    assert!(not_offered.contains("was not recommended"), "{not_offered}");
    let malformed = f
        .err(
            "record_feedback",
            json!({ "session_id": session, "applied": [recommended[0], "x"], "outcome": "success" }),
        )
        .await;
    assert!(malformed.contains("applied[1]"), "{malformed}");
    let (_, ok) = f
        .ok(
            "record_feedback",
            json!({ "session_id": session, "applied": [recommended[0]], "outcome": "success" }),
        )
        .await;
    assert_eq!(ok["applied"], json!([recommended[0]]));
    let (_, patterns) = f.ok("list_patterns", json!({ "limit": 1000 })).await;
    let applied = patterns["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == json!(recommended[0]))
        .unwrap();
    assert_eq!(applied["effectiveness"]["helped"], 1);
    let twice = f
        .err(
            "record_feedback",
            json!({ "session_id": session, "outcome": "failure" }),
        )
        .await;
    assert!(twice.starts_with("conflict"), "{twice}");
}

#[tokio::test]
async fn namespaces_are_per_call_and_isolated() {
    let f = fixture().await;
    let (_, started) = f
        .ok(
            "start_episode",
            json!({ "task": "team task", "namespace": "team-a" }),
        )
        .await;
    assert_eq!(started["namespace"], "team-a");
    let id = started["episode_id"].as_str().unwrap();
    f.err("get_episode", json!({ "episode_id": id })).await;
    f.ok(
        "get_episode",
        json!({ "episode_id": id, "namespace": "team-a" }),
    )
    .await;
    let (_, a) = f.ok("memory_stats", json!({ "namespace": "team-a" })).await;
    let (_, default) = f.ok("memory_stats", json!({})).await;
    assert_eq!(
        (
            a["counts"]["running"].clone(),
            default["counts"]["episodes"].clone()
        ),
        (json!(1), json!(0))
    );
    let bad = f.err("memory_stats", json!({ "namespace": "" })).await;
    assert!(bad.contains("namespace"), "{bad}");
}

#[tokio::test]
async fn unknown_tool_is_a_tool_error() {
    let f = fixture().await;
    let text = f.err("forget_everything", json!({})).await;
    assert!(
        text.contains("unknown tool") && text.contains("tools/list"),
        "{text}"
    );
}

#[test]
fn server_refuses_an_invalid_default_namespace() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        let memory = SelfLearningMemory::new(Arc::new(storage));
        let err = MemoryServer::new(memory, "no spaces allowed").unwrap_err();
        assert_eq!(err.field, "namespace");
    });
}
