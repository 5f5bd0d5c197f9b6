//! The episode lifecycle against a real database file: start, log steps, complete, read,
//! list, search, delete — and the errors each step must give when misused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use memory_core::storage::prelude::*;
use memory_core::{
    Changed, ChangedKey, EpisodeCost, EpisodeFilter, EpisodeStatus, MemoryError, OutcomeKind,
    TaskOutcome, TaskType, ValidationError,
};
use memory_storage_turso::{RowCounts, SCHEMA_VERSION, TursoConfig, TursoError, TursoStorage};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const NS: &str = "team-a";

fn ids(summaries: &[memory_core::EpisodeSummary]) -> Vec<Uuid> {
    summaries.iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn append_step_assigns_consecutive_numbers() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "fix the flaky test", 0);
    storage.store_episode(&episode).await.unwrap();

    let mut appended = Vec::new();
    for (i, tool) in ["read_file", "edit", "cargo test"].iter().enumerate() {
        let s = storage
            .append_step(
                NS,
                episode.id,
                step(tool, "do it", 10),
                at(i as i64 + 1),
                100,
            )
            .await
            .unwrap();
        assert_eq!(s.seq, i as u32 + 1);
        assert_eq!(s.at, at(i as i64 + 1));
        appended.push(s);
    }

    let back = storage.get_episode(NS, episode.id).await.unwrap().unwrap();
    assert_eq!(back.steps, appended);
    let mut expected = episode.clone();
    expected.steps = appended;
    assert_eq!(*back, expected);

    let listed = storage
        .list_episodes(&EpisodeFilter::new(NS))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].step_count, 3);
    assert_eq!(listed[0], expected.summary());
}

#[tokio::test]
async fn append_to_unknown_episode_is_not_found() {
    let (_dir, storage) = fresh().await;
    let err = storage
        .append_step(NS, Uuid::now_v7(), step("t", "a", 1), at(1), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::NotFound { kind: "episode", namespace, .. } if namespace == NS),
        "{err:?}"
    );
}

#[tokio::test]
async fn append_after_completion_is_a_conflict() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "task", 0);
    storage.store_episode(&episode).await.unwrap();
    storage
        .append_step(NS, episode.id, step("t", "a", 1), at(1), 10)
        .await
        .unwrap();
    storage
        .complete_episode(NS, episode.id, &completion(1, success("done"), 0.9))
        .await
        .unwrap();

    let err = storage
        .append_step(NS, episode.id, step("t", "late", 1), at(2), 10)
        .await
        .unwrap_err();
    match err {
        MemoryError::Conflict(msg) => assert!(msg.contains("already completed"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The rejected step left no trace.
    let back = storage.get_episode(NS, episode.id).await.unwrap().unwrap();
    assert_eq!(back.steps.len(), 1);
}

#[tokio::test]
async fn max_steps_is_enforced() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "task", 0);
    storage.store_episode(&episode).await.unwrap();
    for i in 1..=2 {
        storage
            .append_step(NS, episode.id, step("t", "a", 5), at(i), 2)
            .await
            .unwrap();
    }
    let err = storage
        .append_step(NS, episode.id, step("t", "a", 5), at(3), 2)
        .await
        .unwrap_err();
    match err {
        MemoryError::Conflict(msg) => {
            assert!(msg.contains("already has 2 steps"), "{msg}");
            assert!(msg.contains("the limit is 2"), "{msg}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A larger limit lets it continue, numbering on from where it stopped.
    let s = storage
        .append_step(NS, episode.id, step("t", "a", 5), at(3), 3)
        .await
        .unwrap();
    assert_eq!(s.seq, 3);
    let costs = storage
        .comparable_costs(NS, TaskType::Debugging, None, 10)
        .await
        .unwrap();
    assert!(costs.is_empty(), "running episodes have no comparable cost");
}

#[tokio::test]
async fn complete_records_outcome_and_refuses_a_second_time() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "task", 0);
    storage.store_episode(&episode).await.unwrap();
    let s = storage
        .append_step(NS, episode.id, step("t", "a", 7), at(1), 10)
        .await
        .unwrap();
    let done = completion(1, success("fixed"), 0.8);
    storage
        .complete_episode(NS, episode.id, &done)
        .await
        .unwrap();

    let mut expected = completed_with(episode.clone(), &done);
    expected.steps = vec![s];
    let back = storage.get_episode(NS, episode.id).await.unwrap().unwrap();
    assert_eq!(*back, expected);

    let err = storage
        .complete_episode(NS, episode.id, &done)
        .await
        .unwrap_err();
    match err {
        MemoryError::Conflict(msg) => assert!(msg.contains("already completed"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    let err = storage
        .complete_episode(NS, Uuid::now_v7(), &done)
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn complete_with_stale_step_count_is_a_conflict() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "task", 0);
    storage.store_episode(&episode).await.unwrap();
    for i in 1..=2 {
        storage
            .append_step(NS, episode.id, step("t", "a", 1), at(i), 10)
            .await
            .unwrap();
    }
    let err = storage
        .complete_episode(NS, episode.id, &completion(1, success("x"), 1.0))
        .await
        .unwrap_err();
    match err {
        MemoryError::Stale(msg) => assert!(msg.contains("2 steps"), "{msg}"),
        other => panic!("expected a stale completion, got {other:?}"),
    }
    // Still running, so the caller can retry with the right count.
    let back = storage.get_episode(NS, episode.id).await.unwrap().unwrap();
    assert!(!back.is_complete());
    storage
        .complete_episode(NS, episode.id, &completion(2, success("x"), 1.0))
        .await
        .unwrap();
}

#[tokio::test]
async fn storing_an_existing_id_is_a_conflict() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "task", 0);
    storage.store_episode(&episode).await.unwrap();
    let err = storage.store_episode(&episode).await.unwrap_err();
    match err {
        MemoryError::Conflict(msg) => {
            assert_eq!(msg, format!("episode {} already exists", episode.id))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(storage.row_counts().await.unwrap().episodes, 1);
}

#[tokio::test]
async fn stored_steps_must_be_numbered_in_order() {
    let (_dir, storage) = fresh().await;
    let mut episode = running(NS, "task", 0);
    episode.steps = vec![recorded(1, "a", "x", 1), recorded(3, "b", "y", 1)];
    let err = storage.store_episode(&episode).await.unwrap_err();
    match err {
        MemoryError::Invalid(ValidationError { field, problem }) => {
            assert_eq!(field, "steps[1].seq");
            assert!(problem.contains("should be 2"), "{problem}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(storage.row_counts().await.unwrap(), RowCounts::default());
}

#[tokio::test]
async fn imported_episode_keeps_steps_and_continues_numbering() {
    let (_dir, storage) = fresh().await;
    let mut episode = running(NS, "imported task", 0);
    episode.steps = vec![recorded(1, "a", "x", 3), recorded(2, "b", "y", 4)];
    storage.store_episode(&episode).await.unwrap();
    let s = storage
        .append_step(NS, episode.id, step("c", "z", 5), at(9), 10)
        .await
        .unwrap();
    assert_eq!(s.seq, 3);
    storage
        .complete_episode(NS, episode.id, &completion(3, success("ok"), 1.0))
        .await
        .unwrap();
    let costs = storage
        .comparable_costs(NS, TaskType::Debugging, None, 10)
        .await
        .unwrap();
    assert_eq!(
        costs,
        vec![EpisodeCost {
            steps: 3,
            latency_ms: 12
        }]
    );
}

#[tokio::test]
async fn delete_removes_steps_tags_and_index_entries() {
    let (_dir, storage) = fresh().await;
    let mut episode = running(NS, "profile the allocator", 0);
    episode.tags = vec!["perf".into()];
    episode.context.tags = vec!["memory".into(), "perf".into()];
    storage.store_episode(&episode).await.unwrap();
    storage
        .append_step(NS, episode.id, step("heaptrack", "profile", 3), at(1), 10)
        .await
        .unwrap();
    storage
        .complete_episode(NS, episode.id, &completion(1, success("found it"), 1.0))
        .await
        .unwrap();
    let keep = running(NS, "unrelated", 5);
    storage.store_episode(&keep).await.unwrap();

    // The running episode is not indexed until it completes.
    assert_eq!(
        storage.row_counts().await.unwrap(),
        RowCounts {
            episodes: 2,
            steps: 1,
            tags: 2,
            text: 1,
            vectors: 0
        }
    );
    let terms = vec!["allocator".to_string()];
    assert_eq!(storage.search_text(NS, &terms, 10).await.unwrap().len(), 1);

    assert!(storage.delete_episode(NS, episode.id, 30.0).await.unwrap());
    assert_eq!(storage.get_episode(NS, episode.id).await.unwrap(), None);
    assert!(
        storage
            .search_text(NS, &terms, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        storage.row_counts().await.unwrap(),
        RowCounts {
            episodes: 1,
            steps: 0,
            tags: 0,
            text: 0,
            vectors: 0
        }
    );
    assert!(!storage.delete_episode(NS, episode.id, 30.0).await.unwrap());
    assert!(storage.get_episode(NS, keep.id).await.unwrap().is_some());
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let (_dir, storage) = fresh().await;
    let episode = running("alpha", "rotate the signing keys", 0);
    storage.store_episode(&episode).await.unwrap();
    storage
        .append_step("alpha", episode.id, step("vault", "rotate", 1), at(1), 10)
        .await
        .unwrap();
    storage
        .complete_episode("alpha", episode.id, &completion(1, success("rotated"), 1.0))
        .await
        .unwrap();
    let terms = vec!["signing".to_string()];

    assert_eq!(storage.get_episode("beta", episode.id).await.unwrap(), None);
    assert!(
        storage
            .list_episodes(&EpisodeFilter::new("beta"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .search_text("beta", &terms, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .comparable_costs("beta", TaskType::Debugging, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let err = storage
        .append_step("beta", episode.id, step("t", "a", 1), at(2), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
    let err = storage
        .complete_episode("beta", episode.id, &completion(1, success("x"), 1.0))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
    assert!(
        !storage
            .delete_episode("beta", episode.id, 30.0)
            .await
            .unwrap()
    );

    // Still all there for its owner.
    assert!(
        storage
            .get_episode("alpha", episode.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        storage
            .search_text("alpha", &terms, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Five episodes with distinct fields, stored in order of start time.
async fn filter_fixture(storage: &TursoStorage) -> Vec<memory_core::Episode> {
    let mut eps = Vec::new();
    for (i, (domain, language, task_type, tags)) in [
        (
            Some("web"),
            Some("rust"),
            TaskType::Debugging,
            vec!["urgent"],
        ),
        (
            Some("web"),
            Some("go"),
            TaskType::Testing,
            vec!["urgent", "ci"],
        ),
        (Some("infra"), Some("rust"), TaskType::Debugging, vec!["ci"]),
        (None, None, TaskType::Analysis, vec![]),
        (Some("web"), Some("rust"), TaskType::Refactoring, vec!["ci"]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = running(NS, &format!("task {i}"), i as i64 * 60);
        e.task_type = task_type;
        e.context.domain = domain.map(String::from);
        e.context.language = language.map(String::from);
        // Episode 1 carries "ci" as a context tag; the others as episode tags.
        if i == 1 {
            e.tags = vec!["urgent".into()];
            e.context.tags = vec!["ci".into()];
        } else {
            e.tags = tags.into_iter().map(String::from).collect();
        }
        storage.store_episode(&e).await.unwrap();
        eps.push(e);
    }
    // 0: success, 1: failure, 2: partial, 3 and 4 running.
    let outcomes = [
        success("ok"),
        TaskOutcome::Failure {
            reason: "tests kept failing".into(),
            details: None,
        },
        TaskOutcome::PartialSuccess {
            verdict: "half".into(),
            completed: vec![],
            failed: vec![],
        },
    ];
    for (e, outcome) in eps.iter_mut().zip(outcomes) {
        let c = completion(0, outcome, 0.5);
        storage.complete_episode(NS, e.id, &c).await.unwrap();
        *e = completed_with(e.clone(), &c);
    }
    // Something in another namespace that no filter should ever return.
    storage
        .store_episode(&running("elsewhere", "task x", 30))
        .await
        .unwrap();
    eps
}

#[tokio::test]
async fn list_filters_each_narrow_the_result() {
    let (_dir, storage) = fresh().await;
    let eps = filter_fixture(&storage).await;
    let id = |i: usize| eps[i].id;
    let list = |f: EpisodeFilter| {
        let storage = &storage;
        async move { ids(&storage.list_episodes(&f).await.unwrap()) }
    };

    // No filter: everything in the namespace, newest first, summaries exact.
    let all = storage
        .list_episodes(&EpisodeFilter::new(NS))
        .await
        .unwrap();
    assert_eq!(ids(&all), vec![id(4), id(3), id(2), id(1), id(0)]);
    assert_eq!(all[4], eps[0].summary());
    assert_eq!(all[4].outcome_kind, Some(OutcomeKind::Success));
    assert_eq!(all[4].reward, Some(0.5));

    let mut f = EpisodeFilter::new(NS);
    f.domain = Some("web".into());
    assert_eq!(list(f).await, vec![id(4), id(1), id(0)]);

    let mut f = EpisodeFilter::new(NS);
    f.language = Some("rust".into());
    assert_eq!(list(f).await, vec![id(4), id(2), id(0)]);

    let mut f = EpisodeFilter::new(NS);
    f.task_type = Some(TaskType::Debugging);
    assert_eq!(list(f).await, vec![id(2), id(0)]);

    let mut f = EpisodeFilter::new(NS);
    f.outcome = Some(OutcomeKind::Failure);
    assert_eq!(list(f).await, vec![id(1)]);

    let mut f = EpisodeFilter::new(NS);
    f.status = Some(EpisodeStatus::Running);
    assert_eq!(list(f).await, vec![id(4), id(3)]);

    let mut f = EpisodeFilter::new(NS);
    f.status = Some(EpisodeStatus::Completed);
    assert_eq!(list(f).await, vec![id(2), id(1), id(0)]);

    let mut f = EpisodeFilter::new(NS);
    f.tags = vec!["ci".into()];
    assert_eq!(list(f).await, vec![id(4), id(2), id(1)]);

    let mut f = EpisodeFilter::new(NS);
    f.tags = vec!["ci".into(), "urgent".into()];
    assert_eq!(list(f).await, vec![id(1)]);

    let mut f = EpisodeFilter::new(NS);
    f.tags = vec!["nope".into()];
    assert!(list(f).await.is_empty());

    // Time range: [start of 1, start of 3) — inclusive start, exclusive end.
    let mut f = EpisodeFilter::new(NS);
    f.started_after = Some(eps[1].started_at);
    f.started_before = Some(eps[3].started_at);
    assert_eq!(list(f).await, vec![id(2), id(1)]);

    // Filters combine.
    let mut f = EpisodeFilter::new(NS);
    f.domain = Some("web".into());
    f.language = Some("rust".into());
    f.status = Some(EpisodeStatus::Completed);
    assert_eq!(list(f).await, vec![id(0)]);
}

#[tokio::test]
async fn list_pages_with_limit_and_offset() {
    let (_dir, storage) = fresh().await;
    let eps = filter_fixture(&storage).await;
    let mut pages = Vec::new();
    for offset in [0, 2, 4, 6] {
        let mut f = EpisodeFilter::new(NS);
        f.limit = 2;
        f.offset = offset;
        pages.push(ids(&storage.list_episodes(&f).await.unwrap()));
    }
    assert_eq!(pages[0], vec![eps[4].id, eps[3].id]);
    assert_eq!(pages[1], vec![eps[2].id, eps[1].id]);
    assert_eq!(pages[2], vec![eps[0].id]);
    assert!(pages[3].is_empty());
}

#[tokio::test]
async fn list_breaks_start_time_ties_by_id() {
    let (_dir, storage) = fresh().await;
    let a = running(NS, "a", 0);
    let b = running(NS, "b", 0);
    storage.store_episode(&a).await.unwrap();
    storage.store_episode(&b).await.unwrap();
    let mut expected = vec![a.id, b.id];
    expected.sort_by_key(|id| std::cmp::Reverse(id.to_string()));
    let listed = storage
        .list_episodes(&EpisodeFilter::new(NS))
        .await
        .unwrap();
    assert_eq!(ids(&listed), expected);
}

/// Stores and completes an episode with the given task and steps.
async fn completed_episode(
    storage: &TursoStorage,
    namespace: &str,
    task: &str,
    steps: &[(&str, &str)],
) -> memory_core::Episode {
    let episode = running(namespace, task, 0);
    storage.store_episode(&episode).await.unwrap();
    for (i, (tool, action)) in steps.iter().enumerate() {
        storage
            .append_step(
                namespace,
                episode.id,
                step(tool, action, 1),
                at(i as i64),
                100,
            )
            .await
            .unwrap();
    }
    let c = completion(steps.len() as u32, success("done"), 1.0);
    storage
        .complete_episode(namespace, episode.id, &c)
        .await
        .unwrap();
    episode
}

#[tokio::test]
async fn search_ranks_relevant_completed_episodes_first() {
    let (_dir, storage) = fresh().await;
    let strong = completed_episode(
        &storage,
        NS,
        "fix the borrow checker error in the parser",
        &[("cargo check", "reproduce the borrow error")],
    )
    .await;
    let weak = completed_episode(
        &storage,
        NS,
        "write the release notes",
        &[("edit", "mention the borrow fix in passing")],
    )
    .await;
    for task in ["deploy the service", "tune the database", "rename a module"] {
        completed_episode(&storage, NS, task, &[("shell", "run it")]).await;
    }
    // Matches, but is still running: not returned.
    let running_one = running(NS, "borrow checker trouble again", 0);
    storage.store_episode(&running_one).await.unwrap();
    // Matches, but in another namespace.
    completed_episode(&storage, "other", "borrow borrow borrow", &[]).await;

    let hits = storage
        .search_text(NS, &["borrow".to_string()], 10)
        .await
        .unwrap();
    let hit_ids: Vec<Uuid> = hits.iter().map(|h| h.summary.id).collect();
    assert_eq!(hit_ids, vec![strong.id, weak.id]);
    assert!(hits[0].bm25 > hits[1].bm25, "{hits:?}");
    assert!(hits[1].bm25 > 0.0, "{hits:?}");
    assert_eq!(hits[0].summary.step_count, 1);
    assert_eq!(hits[0].summary.outcome_kind, Some(OutcomeKind::Success));

    // Porter stemming: "borrowing" finds "borrow".
    let hits = storage
        .search_text(NS, &["borrowing".to_string()], 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);

    // Any term may match; limit applies.
    let terms = vec!["database".to_string(), "parser".to_string()];
    assert_eq!(storage.search_text(NS, &terms, 10).await.unwrap().len(), 2);
    assert_eq!(storage.search_text(NS, &terms, 1).await.unwrap().len(), 1);

    assert!(storage.search_text(NS, &[], 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn search_treats_query_syntax_as_text() {
    let (_dir, storage) = fresh().await;
    completed_episode(&storage, NS, r#"handle "quoted" input"#, &[]).await;
    for term in [
        r#"""#,
        r#""quoted"#,
        "task:quoted",
        "NEAR(a b)",
        "x AND",
        "*",
        "(",
        "'; DROP TABLE episodes; --",
        "  ",
        "🦀",
    ] {
        let result = storage.search_text(NS, &[term.to_string()], 10).await;
        assert!(result.is_ok(), "term {term:?}: {result:?}");
    }
    let hits = storage
        .search_text(NS, &[r#""quoted""#.to_string()], 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(storage.row_counts().await.unwrap().episodes, 1);
}

#[tokio::test]
async fn steps_are_searchable_once_the_episode_completes() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "speed up the build", 0);
    storage.store_episode(&episode).await.unwrap();
    storage
        .append_step(
            NS,
            episode.id,
            step("flamegraph", "profile linking", 1),
            at(1),
            10,
        )
        .await
        .unwrap();
    let terms = vec!["flamegraph".to_string()];
    assert!(
        storage
            .search_text(NS, &terms, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut c = completion(1, success("switched to mold"), 1.0);
    c.reflection.insights = vec!["incremental linking dominates".into()];
    storage.complete_episode(NS, episode.id, &c).await.unwrap();
    for term in ["flamegraph", "mold", "dominates"] {
        let hits = storage
            .search_text(NS, &[term.to_string()], 10)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "{term}");
        assert_eq!(hits[0].summary.id, episode.id);
    }
}

#[tokio::test]
async fn comparable_costs_are_newest_first_and_filtered() {
    let (_dir, storage) = fresh().await;
    let cases = [
        // (task type, domain, steps, latency per step, ended after secs)
        (TaskType::Debugging, Some("web"), 2, 10, 100),
        (TaskType::Debugging, Some("web"), 3, 20, 300),
        (TaskType::Debugging, Some("infra"), 4, 5, 200),
        (TaskType::Testing, Some("web"), 1, 1, 400),
    ];
    for (task_type, domain, n, lat, ended) in cases {
        let mut e = running(NS, "t", 0);
        e.task_type = task_type;
        e.context.domain = domain.map(String::from);
        storage.store_episode(&e).await.unwrap();
        for i in 0..n {
            storage
                .append_step(NS, e.id, step("t", "a", lat), at(i), 100)
                .await
                .unwrap();
        }
        let mut c = completion(n as u32, success("ok"), 1.0);
        c.ended_at = at(ended);
        storage.complete_episode(NS, e.id, &c).await.unwrap();
    }
    let cost = |steps, latency_ms| EpisodeCost { steps, latency_ms };

    let all = storage
        .comparable_costs(NS, TaskType::Debugging, None, 10)
        .await
        .unwrap();
    assert_eq!(all, vec![cost(3, 60), cost(4, 20), cost(2, 20)]);
    let web = storage
        .comparable_costs(NS, TaskType::Debugging, Some("web"), 10)
        .await
        .unwrap();
    assert_eq!(web, vec![cost(3, 60), cost(2, 20)]);
    let one = storage
        .comparable_costs(NS, TaskType::Debugging, None, 1)
        .await
        .unwrap();
    assert_eq!(one, vec![cost(3, 60)]);
    assert!(
        storage
            .comparable_costs(NS, TaskType::Analysis, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_share_writes() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("shared.db");
    let config = TursoConfig {
        readers: 1,
        busy_timeout: Duration::from_secs(10),
        ..TursoConfig::default()
    };
    let a = Arc::new(
        TursoStorage::open_with(&path, config.clone())
            .await
            .unwrap(),
    );
    let b = Arc::new(TursoStorage::open_with(&path, config).await.unwrap());

    let episode = running(NS, "shared work", 0);
    a.store_episode(&episode).await.unwrap();
    assert_eq!(
        b.get_episode(NS, episode.id).await.unwrap().as_deref(),
        Some(&episode)
    );

    // Both handles append concurrently; every step gets its own number.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let handle = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = episode.id;
        tasks.push(tokio::spawn(async move {
            handle
                .append_step(NS, id, step("t", &format!("step {i}"), 1), at(i), 1_000)
                .await
                .unwrap()
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u32>>());

    b.complete_episode(NS, episode.id, &completion(40, success("ok"), 1.0))
        .await
        .unwrap();
    let seen_by_a = a.get_episode(NS, episode.id).await.unwrap().unwrap();
    assert!(seen_by_a.is_complete());
    assert_eq!(seen_by_a.steps.len(), 40);
    let seen_seqs: Vec<u32> = seen_by_a.steps.iter().map(|s| s.seq).collect();
    assert_eq!(seen_seqs, (1..=40).collect::<Vec<u32>>());

    let other = running(NS, "from b", 1);
    b.store_episode(&other).await.unwrap();
    assert_eq!(
        a.list_episodes(&EpisodeFilter::new(NS))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_schema_version() {
    let dir = tempfile::TempDir::new().unwrap();
    // A parent directory that does not exist yet is created.
    let path = dir.path().join("nested").join("dir").join("memory.db");
    let episode = {
        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.path(), Some(path.as_path()));
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        let mut e = running(NS, "persist me", 0);
        e.steps = vec![recorded(1, "a", "b", 2)];
        storage.store_episode(&e).await.unwrap();
        e
    };
    let storage = TursoStorage::open(&path).await.unwrap();
    assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(
        storage
            .get_episode(NS, episode.id)
            .await
            .unwrap()
            .as_deref(),
        Some(&episode)
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("future.db");
    {
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        conn.execute("PRAGMA user_version = 99", ()).await.unwrap();
    }
    let err = TursoStorage::open(&path).await.unwrap_err();
    match &err {
        TursoError::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, 99);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("upgrade"), "{err}");

    // Nothing was created in it.
    let db = libsql::Builder::new_local(&path).build().await.unwrap();
    let conn = db.connect().unwrap();
    let mut rows = conn
        .query("SELECT count(*) FROM sqlite_master", ())
        .await
        .unwrap();
    let row = rows.next().await.unwrap().unwrap();
    assert_eq!(row.get::<i64>(0).unwrap(), 0);
}

#[tokio::test]
async fn an_unreadable_record_is_reported_as_corrupt() {
    let (_dir, storage) = fresh().await;
    let episode = running(NS, "will be damaged", 0);
    storage.store_episode(&episode).await.unwrap();
    {
        let (_db, conn) = common::raw(&storage).await;
        conn.execute(
            "UPDATE episodes SET record = '{not json' WHERE id = ?1",
            [episode.id.to_string()],
        )
        .await
        .unwrap();
    }
    common::caught_up(&storage).await;
    let err = storage.get_episode(NS, episode.id).await.unwrap_err();
    match err {
        MemoryError::Corrupt { what, .. } => {
            assert_eq!(what, format!("episode {}", episode.id))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let err = storage
        .list_episodes(&EpisodeFilter::new(NS))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Corrupt { .. }), "{err:?}");
}

/// Steps handed over with the completion are what gets indexed (the store skips reading
/// them back), and a
/// list that does not match the stored steps is ignored in favour of the stored ones.
#[tokio::test]
async fn steps_passed_with_a_completion_are_indexed_only_when_they_match_the_store() {
    let (_dir, storage) = fresh().await;
    let search = |word: &str| {
        let storage = &storage;
        let terms = vec![word.to_string()];
        async move {
            storage
                .search_text(NS, &terms, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.summary.id)
                .collect::<Vec<Uuid>>()
        }
    };

    let ep = running(NS, "tidy the workspace", 0);
    storage.store_episode(&ep).await.unwrap();
    let stored = storage
        .append_step(NS, ep.id, step("cargo", "vendor zeppelin", 5), at(10), 100)
        .await
        .unwrap();
    let mut c = completion(1, success("done"), 1.0);
    c.steps = Some(Arc::from(vec![stored]));
    storage.complete_episode(NS, ep.id, &c).await.unwrap();
    assert_eq!(search("zeppelin").await, vec![ep.id]);

    // Two steps passed for an episode that stored one: the stored step is indexed.
    let other = running(NS, "tidy the garage", 0);
    storage.store_episode(&other).await.unwrap();
    storage
        .append_step(NS, other.id, step("shell", "sweep quokka", 5), at(10), 100)
        .await
        .unwrap();
    let mut c = completion(1, success("done"), 1.0);
    c.steps = Some(Arc::from(vec![
        recorded(1, "shell", "sweep walrus", 5),
        recorded(2, "shell", "sweep walrus", 5),
    ]));
    storage.complete_episode(NS, other.id, &c).await.unwrap();
    assert_eq!(search("quokka").await, vec![other.id]);
    assert!(search("walrus").await.is_empty());
}

/// What other writers changed after `since`, by key; panics if the store cannot list them.
async fn changes_after(storage: &TursoStorage, since: u64) -> (u64, Vec<ChangedKey>) {
    let answer = storage
        .external_changes(Some(since))
        .await
        .unwrap()
        .unwrap();
    match answer.changed {
        Changed::Keys(keys) => (answer.position, keys),
        Changed::Everything => panic!("the change log could not list the changes"),
    }
}

/// Caches in front of the store ask what other writers changed and drop just that: every
/// episode and pattern another writer changed is named — also when its write lands between
/// two of ours — and ours never are, on a file, on a server and through a replica.
#[tokio::test]
async fn the_change_log_names_what_other_writers_changed_and_never_ours() {
    let (_dir, ours) = fresh().await;
    let theirs = common::reopen(&ours).await;
    let first = ours.external_changes(None).await.unwrap().unwrap();
    assert_eq!(
        first.changed,
        Changed::Everything,
        "a first answer covers the past"
    );
    let mine = running(NS, "mine", 0);
    ours.store_episode(&mine).await.unwrap();
    ours.append_step(NS, mine.id, step("shell", "ls", 1), at(1), 10)
        .await
        .unwrap();
    let (pos, keys) = changes_after(&ours, first.position).await;
    assert!(keys.is_empty(), "our own writes were listed: {keys:?}");

    let mut other = running(NS, "theirs", 1);
    other.steps = vec![
        recorded(1, "cargo", "build", 3),
        recorded(2, "cargo", "test", 3),
    ];
    theirs.store_episode(&other).await.unwrap();
    common::caught_up(&ours).await;
    let (pos, keys) = changes_after(&ours, pos).await;
    let episode = |id| ChangedKey::Episode {
        namespace: NS.to_string(),
        id,
    };
    assert_eq!(keys, vec![episode(other.id)]);

    // Their completion, between two writes of ours: the episode and the patterns it made.
    ours.store_episode(&running(NS, "mine again", 2))
        .await
        .unwrap();
    let completion = completion_of(&other, success("built"), at(60));
    let patterns = theirs
        .complete_episode(NS, other.id, &completion)
        .await
        .unwrap();
    assert!(!patterns.is_empty());
    ours.store_episode(&running(NS, "mine, later", 3))
        .await
        .unwrap();
    common::caught_up(&ours).await;
    let (pos, keys) = changes_after(&ours, pos).await;
    assert!(keys.contains(&episode(other.id)), "{keys:?}");
    // The namespace's patterns, named once however many the completion changed.
    let patterns_key = ChangedKey::Patterns {
        namespace: NS.to_string(),
    };
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.contains(&patterns_key), "{keys:?}");

    // Their delete; then nothing more.
    theirs.delete_episode(NS, other.id, 30.0).await.unwrap();
    common::caught_up(&ours).await;
    let (pos, keys) = changes_after(&ours, pos).await;
    assert!(keys.contains(&episode(other.id)), "{keys:?}");
    let (last, keys) = changes_after(&ours, pos).await;
    assert!(keys.is_empty());
    assert_eq!(last, pos);
}
