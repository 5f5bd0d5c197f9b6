//! Whatever arguments a model sends, every tool answers with a result or a tool error, and
//! the server keeps serving: random JSON objects, built from the real field names (so they
//! get past the parser often) and random values, thrown at every tool.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_core::SelfLearningMemory;
use memory_mcp::{MemoryServer, TOOL_NAMES};
use memory_storage_turso::TursoStorage;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const FIELDS: &[&str] = &[
    "task",
    "task_type",
    "context",
    "domain",
    "language",
    "tags",
    "metadata",
    "session_id",
    "namespace",
    "episode_id",
    "tool",
    "action",
    "status",
    "output",
    "error",
    "parameters",
    "latency_ms",
    "outcome",
    "verdict",
    "reason",
    "details",
    "artifacts",
    "query",
    "limit",
    "token_budget",
    "mode",
    "completed",
    "since",
    "kind",
    "order",
    "min_confidence",
    "applied",
    "offset",
    "bogus",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![
            Just("success".to_string()),
            Just("debugging".to_string()),
            Just("01900000-0000-7000-8000-000000000000".to_string()),
            Just(String::new()),
            "\\PC{0,40}",
        ]
        .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..4).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn arguments() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(FIELDS), value()), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_tool_answers_any_arguments(
        calls in prop::collection::vec((prop::sample::select(&TOOL_NAMES[..]), arguments()), 1..12)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
            let server =
                MemoryServer::new(SelfLearningMemory::new(Arc::new(storage)), "default").unwrap();
            for (tool, args) in calls {
                let result = server.call(tool, args.clone()).await;
                let text = result.content[0].as_text().map(|t| t.text.clone()).unwrap_or_default();
                prop_assert!(!text.is_empty(), "{tool} {args:?}: empty answer");
                if result.is_error == Some(true) {
                    prop_assert!(
                        !text.contains("stopped unexpectedly"),
                        "{tool} {args:?} panicked: {text}"
                    );
                }
            }
            // Still serving, and consistent.
            let after = server.call("memory_stats", Map::new()).await;
            prop_assert_eq!(after.is_error, Some(false));
            let started = server.call("start_episode", json!({"task": "still here"}).as_object().unwrap().clone()).await;
            prop_assert_eq!(started.is_error, Some(false));
            Ok(())
        })?;
    }
}
