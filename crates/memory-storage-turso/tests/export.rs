//! Export and import through the facade on real libSQL files: export → import into an
//! empty database → export again gives the same bytes (a property over generated stores),
//! a bad line in the middle names its line and leaves nothing behind, and filters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use memory_core::export::ExportFilter;
use memory_core::storage::prelude::*;
use memory_core::{
    ManualClock, MemoryConfig, MemoryError, NewEpisode, OutcomeKind, RelationshipKind,
    RelationshipMetadata, RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskContext,
    TaskOutcome, TaskType,
};
use memory_storage_turso::TursoStorage;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::Arc;
use uuid::Uuid;

struct Store {
    _dir: common::Fixture,
    memory: SelfLearningMemory,
    clock: Arc<ManualClock>,
    storage: Arc<TursoStorage>,
}

async fn store() -> Store {
    let (dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory =
        SelfLearningMemory::with_config(storage.clone(), MemoryConfig::default(), clock.clone())
            .with_embedder(None);
    Store {
        _dir: dir,
        memory,
        clock,
        storage,
    }
}

async fn export(memory: &SelfLearningMemory, filter: &ExportFilter) -> Vec<String> {
    let mut lines = Vec::new();
    memory
        .export(filter, &mut |line: &str| {
            lines.push(line.to_string());
            Ok(())
        })
        .await
        .unwrap();
    lines
}

fn as_input(lines: Vec<String>) -> impl Iterator<Item = std::io::Result<String>> + Send {
    lines.into_iter().map(Ok)
}

fn is_trailer(line: &str) -> bool {
    line.starts_with(r#"{"type":"trailer""#)
}

/// `lines` (an export, edited) without its trailer, then the trailer that matches them:
/// what a program that edits an export writes.
fn sealed(mut lines: Vec<String>) -> Vec<String> {
    lines.retain(|l| !is_trailer(l));
    let trailer = memory_core::export::trailer_for(lines.iter().map(String::as_str)).unwrap();
    lines.push(serde_json::json!({ "type": "trailer", "record": trailer }).to_string());
    lines
}

/// One generated episode: its task, context, steps and how (or whether) it ends.
#[derive(Debug, Clone)]
struct PlanEpisode {
    task: String,
    domain: Option<String>,
    tags: Vec<String>,
    steps: Vec<(usize, bool, String)>,
    outcome: u8,
    checkpoint: Option<String>,
}

#[derive(Debug, Clone)]
struct Plan {
    episodes: Vec<PlanEpisode>,
    edges: Vec<(usize, usize, usize, Option<f64>)>,
    retrievals: Vec<(String, bool)>,
}

const TOOLS: [&str; 5] = ["cargo test", "edit_file", "grep", "cargo build", "decision"];

fn words() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-z]{3,8}( [a-z]{2,8}){1,5}",
        Just(r#"quote " and \ backslash"#.to_string()),
        Just("emoji 🦀 e\u{301} tab\tnew\nline".to_string()),
        Just("'; DROP TABLE episodes; --".to_string()),
    ]
    .boxed()
}

fn plan() -> impl Strategy<Value = Plan> {
    let episode = (
        words(),
        prop::option::of(prop_oneof![
            Just("web".to_string()),
            Just("data".to_string())
        ]),
        prop::collection::vec("[a-z]{1,6}", 0..3),
        prop::collection::vec((0..TOOLS.len(), any::<bool>(), words()), 0..6),
        0u8..5,
        prop::option::of(words()),
    )
        .prop_map(
            |(task, domain, tags, steps, outcome, checkpoint)| PlanEpisode {
                task,
                domain,
                tags,
                steps,
                outcome,
                checkpoint,
            },
        );
    (
        prop::collection::vec(episode, 1..8),
        prop::collection::vec(
            (
                0usize..8,
                0usize..8,
                0usize..RelationshipKind::ALL.len(),
                prop::option::of(0.0f64..=1.0),
            ),
            0..12,
        ),
        prop::collection::vec((words(), any::<bool>()), 0..3),
    )
        .prop_map(|(episodes, edges, retrievals)| Plan {
            episodes,
            edges,
            retrievals,
        })
}

/// Builds a store from `plan` through the public API, as agents would.
async fn build(plan: &Plan) -> Store {
    let s = store().await;
    let m = &s.memory;
    let mut ids = Vec::new();
    for (i, e) in plan.episodes.iter().enumerate() {
        s.clock.advance(Duration::seconds(37 + i as i64));
        let new = NewEpisode {
            task_type: TaskType::Debugging,
            context: TaskContext {
                domain: e.domain.clone(),
                language: Some("rust".into()),
                tags: e.tags.clone(),
                ..TaskContext::default()
            },
            tags: e.tags.clone(),
            ..NewEpisode::new(e.task.clone())
        };
        let id = m.start_episode("ns", new).await.unwrap();
        for (tool, ok, text) in &e.steps {
            s.clock.advance(Duration::microseconds(1_234_567));
            let result = if *ok {
                StepResult::Success {
                    output: text.clone(),
                }
            } else {
                StepResult::Error {
                    message: format!("error 42 at /src/{text}.rs"),
                }
            };
            let mut step = StepInput::new(TOOLS[*tool], text.clone(), result).with_latency_ms(17);
            if TOOLS[*tool] == "decision" {
                step.parameters = serde_json::json!({"condition": text, "choice": "retry"});
            }
            m.log_step("ns", id, step).await.unwrap();
        }
        if let Some(note) = &e.checkpoint {
            m.checkpoint_episode("ns", id, note).await.unwrap();
        }
        let outcome = match e.outcome {
            0 => None,
            1 => Some(TaskOutcome::Success {
                verdict: e.task.clone(),
                artifacts: vec!["a.rs".into()],
            }),
            2 => Some(TaskOutcome::PartialSuccess {
                verdict: "half".into(),
                completed: vec!["x".into()],
                failed: vec!["y".into()],
            }),
            3 => Some(TaskOutcome::Failure {
                reason: "broke".into(),
                details: Some("stack".into()),
            }),
            _ => Some(TaskOutcome::Abstained {
                reason: "out of scope".into(),
            }),
        };
        if let Some(outcome) = outcome {
            s.clock.advance(Duration::seconds(3));
            m.complete_episode("ns", id, outcome).await.unwrap();
        }
        ids.push(id);
    }
    for (a, b, kind, weight) in &plan.edges {
        let (Some(&from), Some(&to)) = (ids.get(*a), ids.get(*b)) else {
            continue;
        };
        let metadata = RelationshipMetadata {
            reason: Some("generated".into()),
            weight: *weight,
            ..RelationshipMetadata::default()
        };
        // Self-links, duplicates and cycles are refused; the rest is stored.
        let _ = m
            .relate("ns", from, to, RelationshipKind::ALL[*kind], metadata)
            .await;
    }
    for (query, feedback) in &plan.retrievals {
        let pack = m
            .retrieve_context(&RetrievalQuery::new("ns", query.clone()))
            .await
            .unwrap();
        if *feedback {
            let applied = pack.patterns.iter().take(1).map(|p| p.id).collect();
            m.record_feedback(
                "ns",
                pack.session_id.unwrap(),
                applied,
                OutcomeKind::Success,
            )
            .await
            .unwrap();
        }
    }
    s
}

#[test]
fn export_import_export_is_byte_identical() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 16,
        ..Config::default()
    });
    runner
        .run(&plan(), |plan| {
            rt.block_on(async {
                let original = build(&plan).await;
                let filter = ExportFilter::new("ns");
                let first = export(&original.memory, &filter).await;
                let copy = store().await;
                let summary = copy.memory.import(as_input(first.clone())).await.unwrap();
                let second = export(&copy.memory, &filter).await;
                prop_assert_eq!(&first, &second);
                prop_assert_eq!(summary.lines as usize, first.len());
                prop_assert_eq!(summary.counts.episodes as usize, plan.episodes.len());
                prop_assert_eq!(
                    original.storage.row_counts().await.unwrap(),
                    copy.storage.row_counts().await.unwrap()
                );
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

/// A store with a bit of everything, for the deterministic tests below.
async fn sample() -> Store {
    let plan = Plan {
        episodes: (0..6)
            .map(|i| PlanEpisode {
                task: format!("fix flaky checkout test {i}"),
                domain: Some("web".into()),
                tags: vec!["ci".into()],
                steps: vec![
                    (0, false, "timeout".into()),
                    (1, true, "bump the timeout".into()),
                    (0, true, "green".into()),
                ],
                outcome: if i == 5 { 3 } else { 1 },
                checkpoint: None,
            })
            .collect(),
        edges: vec![(0, 1, 1, None), (1, 2, 1, Some(0.5)), (3, 0, 0, None)],
        retrievals: vec![("checkout test flaky".into(), true)],
    };
    build(&plan).await
}

#[tokio::test]
async fn a_malformed_line_in_the_middle_is_named_and_nothing_is_imported() {
    let original = sample().await;
    let lines = export(&original.memory, &ExportFilter::new("ns")).await;
    let middle = lines
        .iter()
        .position(|l| l.starts_with(r#"{"type":"episode""#))
        .unwrap()
        + 2;
    assert!(middle < lines.len() - 2, "the bad line is in the middle");
    for (bad, expect) in [
        (
            "{\"type\":\"episode\",\"record\":{\"id\":",
            "is not a valid export record",
        ),
        ("not json at all", "is not a valid export record"),
        (
            r#"{"type":"planet","record":{}}"#,
            "is not a valid export record",
        ),
    ] {
        let mut broken = lines.clone();
        broken[middle] = bad.to_string();
        let copy = store().await;
        let err = copy
            .memory
            .import(as_input(broken.clone()))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, MemoryError::Invalid(_)), "{err:?}");
        assert!(
            message.contains(&format!("line {}", middle + 1)),
            "{message}"
        );
        assert!(message.contains(expect), "{message}");
        // All or nothing: not even the records before the bad line were kept.
        assert_eq!(
            copy.storage.row_counts().await.unwrap(),
            memory_storage_turso::RowCounts::default()
        );
        // An empty export: the header and the trailer.
        assert_eq!(
            export(&copy.memory, &ExportFilter::new("ns")).await.len(),
            2
        );
    }

    // A valid record that breaks a limit is refused the same way, naming the field.
    let mut broken = lines.clone();
    let mut record: serde_json::Value = serde_json::from_str(&broken[middle]).unwrap();
    record["record"]["task_description"] = serde_json::Value::String(String::new());
    broken[middle] = record.to_string();
    let copy = store().await;
    let message = copy
        .memory
        .import(as_input(broken.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&format!("line {}", middle + 1)),
        "{message}"
    );
    assert!(message.contains("task_description"), "{message}");
    assert_eq!(copy.storage.row_counts().await.unwrap().episodes, 0);

    // The intact file then imports whole.
    copy.memory.import(as_input(lines.clone())).await.unwrap();
    assert_eq!(export(&copy.memory, &ExportFilter::new("ns")).await, lines);
}

/// A read error part-way through the input ends the import with an error naming the line
/// and keeps nothing — not even the batches (1,000 records each) read before it — and the
/// store stays writable.
#[tokio::test]
async fn an_input_that_fails_part_way_imports_nothing() {
    let original = sample().await;
    let lines = export(&original.memory, &ExportFilter::new("ns")).await;
    // 2,500 more episodes: copies of an exported one under new ids, so that whole batches
    // are written before the failure.
    let episode = lines
        .iter()
        .find(|l| l.contains("\"type\":\"episode\""))
        .expect("the sample has episodes");
    let mut input = lines.clone();
    input.retain(|l| !is_trailer(l));
    for _ in 0..2_500 {
        let mut copy: serde_json::Value = serde_json::from_str(episode).unwrap();
        copy["record"]["id"] = serde_json::Value::String(Uuid::new_v4().to_string());
        input.push(copy.to_string());
    }
    let input = sealed(input);
    let broken_at = input.len() - 100;
    let copy = store().await;

    let failing = input.clone().into_iter().enumerate().map(move |(i, line)| {
        if i == broken_at {
            Err(std::io::Error::other("disk gone"))
        } else {
            Ok(line)
        }
    });
    let message = copy.memory.import(failing).await.unwrap_err().to_string();
    assert!(
        message.contains(&format!("reading line {}", broken_at + 1)),
        "{message}"
    );
    assert!(message.contains("disk gone"), "{message}");
    assert_eq!(
        copy.storage.row_counts().await.unwrap(),
        memory_storage_turso::RowCounts::default()
    );

    let summary = copy.memory.import(as_input(input.clone())).await.unwrap();
    assert_eq!(summary.counts.episodes, 6 + 2_500);
}

#[tokio::test]
async fn importing_twice_is_a_conflict_that_changes_nothing() {
    let original = sample().await;
    let lines = export(&original.memory, &ExportFilter::new("ns")).await;
    let copy = store().await;
    copy.memory.import(as_input(lines.clone())).await.unwrap();
    let before = copy.storage.row_counts().await.unwrap();
    let err = copy
        .memory
        .import(as_input(lines.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    assert_eq!(copy.storage.row_counts().await.unwrap(), before);
}

#[tokio::test]
async fn a_cycle_in_the_file_is_refused_on_the_line_that_closes_it() {
    let original = sample().await;
    let mut lines = export(&original.memory, &ExportFilter::new("ns")).await;
    let edges: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"relationship""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dep = edges
        .iter()
        .find(|e| e["record"]["kind"] == "depends_on")
        .unwrap();
    let mut back = dep.clone();
    back["record"]["id"] = serde_json::Value::String(Uuid::now_v7().to_string());
    back["record"]["from"] = dep["record"]["to"].clone();
    back["record"]["to"] = dep["record"]["from"].clone();
    lines.retain(|l| !is_trailer(l));
    lines.push(back.to_string());
    let edge_line = lines.len();
    let lines = sealed(lines);
    let copy = store().await;
    let message = copy
        .memory
        .import(as_input(lines.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains(&format!("line {edge_line}")), "{message}");
    assert!(message.contains("closes the cycle"), "{message}");
    assert_eq!(copy.storage.row_counts().await.unwrap().episodes, 0);
}

#[tokio::test]
async fn heuristics_are_exported_for_readers_and_recomputed_on_import() {
    let original = sample().await;
    let lines = export(&original.memory, &ExportFilter::new("ns")).await;
    let heuristic_lines = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"heuristic""#))
        .count();
    assert!(heuristic_lines > 0, "the sample teaches something");
    let trailer: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(trailer["record"]["heuristics"], heuristic_lines);
    // A trailer saying 0 heuristics: refused in a version 3 file, accepted in a version 2
    // one (whose trailers said 0 whatever the file held; the checksum covers those lines).
    let with_trailer_saying_0 = |mut lines: Vec<String>| {
        let mut last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        last["record"]["heuristics"] = 0.into();
        *lines.last_mut().unwrap() = last.to_string();
        lines
    };
    let refused = store()
        .await
        .memory
        .import(as_input(with_trailer_saying_0(lines.clone())))
        .await;
    assert!(
        refused.is_err(),
        "a version 3 trailer counts its heuristics"
    );
    let mut version_2 = lines.clone();
    version_2[0] = version_2[0].replace(r#""version":3"#, r#""version":2"#);
    let summary = store()
        .await
        .memory
        .import(as_input(with_trailer_saying_0(sealed(version_2))))
        .await
        .unwrap();
    assert_eq!(summary.heuristics as usize, heuristic_lines);
    // Dropping the heuristic lines changes nothing: they are derived from the patterns.
    let without: Vec<String> = sealed(
        lines
            .iter()
            .filter(|l| !l.starts_with(r#"{"type":"heuristic""#))
            .cloned()
            .collect(),
    );
    let copy = store().await;
    let summary = copy.memory.import(as_input(without.clone())).await.unwrap();
    assert_eq!(summary.heuristics, 0);
    assert_eq!(export(&copy.memory, &ExportFilter::new("ns")).await, lines);
}

#[tokio::test]
async fn a_time_filter_keeps_only_edges_between_exported_episodes() {
    let original = sample().await;
    let all = export(&original.memory, &ExportFilter::new("ns")).await;
    let episodes: Vec<serde_json::Value> = all
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"episode""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cut: chrono::DateTime<Utc> =
        serde_json::from_value(episodes[2]["record"]["started_at"].clone()).unwrap();
    let filter = ExportFilter {
        started_after: Some(cut),
        ..ExportFilter::new("ns")
    };
    let part = export(&original.memory, &filter).await;
    let count = |lines: &[String], kind: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!(r#"{{"type":"{kind}""#)))
            .count()
    };
    assert_eq!(count(&part, "episode"), episodes.len() - 2);
    // Edges 0→1 and 3→0 touch excluded episodes; 1→2 does too. None survive.
    assert_eq!(count(&all, "relationship"), 3);
    assert_eq!(count(&part, "relationship"), 0);
    let copy = store().await;
    copy.memory.import(as_input(part.clone())).await.unwrap();
    assert_eq!(export(&copy.memory, &filter).await, part);
}

/// A file cut short at a line boundary — the last lines, or the trailer alone — is refused
/// as cut short and nothing of it is kept; so is a file with a line added after export, a
/// line changed (same counts, other bytes), or anything after the trailer.
#[tokio::test]
async fn an_incomplete_or_changed_file_is_refused_and_nothing_is_kept() {
    let original = sample().await;
    let lines = export(&original.memory, &ExportFilter::new("ns")).await;
    assert!(is_trailer(lines.last().unwrap()));
    let episode = lines
        .iter()
        .position(|l| l.starts_with(r#"{"type":"episode""#))
        .unwrap();
    let mut changed = lines.clone();
    changed[episode] = changed[episode].replace("fix flaky", "fix flakey");
    let mut extra = lines.clone();
    let mut copied: serde_json::Value = serde_json::from_str(&lines[episode]).unwrap();
    copied["record"]["id"] = serde_json::Value::String(Uuid::now_v7().to_string());
    extra.insert(episode, copied.to_string());
    let mut after = lines.clone();
    after.push(lines[episode].clone());
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "cut before the trailer",
            lines[..lines.len() - 1].to_vec(),
            "cut short",
        ),
        (
            "cut in the episodes",
            lines[..episode + 2].to_vec(),
            "cut short",
        ),
        ("a line changed", changed, "checksum"),
        ("a line added", extra, "where the trailer says"),
        ("a line after the trailer", after, "follows the trailer"),
    ];
    for (case, input, expect) in cases {
        let copy = store().await;
        let err = copy.memory.import(as_input(input)).await.unwrap_err();
        assert!(matches!(err, MemoryError::Invalid(_)), "{case}: {err:?}");
        assert!(err.to_string().contains(expect), "{case}: {err}");
        assert_eq!(
            copy.storage.row_counts().await.unwrap(),
            memory_storage_turso::RowCounts::default(),
            "{case}: nothing kept"
        );
    }
}

/// A file written before trailers existed (format version 1) still imports, and says
/// that its completeness was not checked.
#[tokio::test]
async fn a_version_1_file_imports_unverified() {
    let original = sample().await;
    let mut lines = export(&original.memory, &ExportFilter::new("ns")).await;
    lines.retain(|l| !is_trailer(l));
    lines[0] = lines[0].replace(r#""version":3"#, r#""version":1"#);
    let copy = store().await;
    let summary = copy.memory.import(as_input(lines.clone())).await.unwrap();
    assert!(!summary.verified);
    assert_eq!(summary.counts.episodes, 6);
    // The same file with a trailer is not a version 1 file.
    let copy = store().await;
    let err = copy
        .memory
        .import(as_input(sealed(lines)))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("version 1 file cannot have"),
        "{err}"
    );
}

/// An export reads one snapshot: what is written while it runs (here, between its pattern
/// and episode sections) is in neither its lines nor its trailer, and the file imports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_reads_one_snapshot_while_others_write() {
    let original = sample().await;
    let before = export(&original.memory, &ExportFilter::new("ns")).await;
    let memory = &original.memory;
    let handle = tokio::runtime::Handle::current();
    let mut lines = Vec::new();
    let mut wrote = false;
    memory
        .export(&ExportFilter::new("ns"), &mut |line: &str| {
            if !wrote && line.starts_with(r#"{"type":"pattern""#) {
                wrote = true;
                tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        let id = memory
                            .start_episode("ns", NewEpisode::new("written during the export"))
                            .await
                            .unwrap();
                        memory
                            .complete_episode("ns", id, common::success("done"))
                            .await
                            .unwrap();
                    })
                });
            }
            lines.push(line.to_string());
            Ok(())
        })
        .await
        .unwrap();
    assert!(wrote);
    assert_eq!(
        lines, before,
        "the export is the store as it was when it began"
    );
    let after = export(&original.memory, &ExportFilter::new("ns")).await;
    assert!(
        after
            .iter()
            .any(|l| l.contains("written during the export"))
    );
    let copy = store().await;
    copy.memory.import(as_input(lines)).await.unwrap();
}

/// Exports larger than a page (500 episodes, 1,000 of the other records) come out whole,
/// in order, each record once.
#[tokio::test]
async fn an_export_pages_through_a_large_namespace() {
    let s = store().await;
    // Several episodes share each start time, so pages also break between equal times.
    let episodes: Vec<memory_core::Episode> = (0..1_234)
        .map(|i| common::running("ns", &format!("task {i}"), i % 700))
        .collect();
    let mut ids: Vec<(chrono::DateTime<Utc>, Uuid)> =
        episodes.iter().map(|e| (e.started_at, e.id)).collect();
    ids.sort();
    s.storage.store_episodes(episodes).await.unwrap();
    let lines = export(&s.memory, &ExportFilter::new("ns")).await;
    let exported: Vec<(chrono::DateTime<Utc>, Uuid)> = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"type":"episode""#))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                serde_json::from_value(v["record"]["started_at"].clone()).unwrap(),
                serde_json::from_value(v["record"]["id"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(exported, ids);
    let copy = store().await;
    let summary = copy.memory.import(as_input(lines)).await.unwrap();
    assert!(summary.verified);
    assert_eq!(summary.counts.episodes, 1_234);
}
