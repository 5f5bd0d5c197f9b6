//! Collecting garbage through the facade on every kind of store: idle running episodes
//! completed as abandoned, sessions past their retention in namespaces that no longer
//! retrieve, patterns too weak to be recommended again (and only those), the embedding
//! cache bounded; a dry run counts the same and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use memory_core::storage::prelude::*;
use memory_core::{
    GarbagePlan, ManualClock, MemoryConfig, NewEpisode, Pattern, PatternFilter, RetrievalQuery,
    SelfLearningMemory, SessionRetention, StepInput, StepResult, TaskContext, TaskOutcome,
    TaskType,
};
use memory_storage_turso::TursoStorage;
use std::sync::Arc;

const NS: &str = "team-a";

struct Fixture {
    _dir: common::Fixture,
    storage: Arc<TursoStorage>,
    memory: SelfLearningMemory,
    clock: Arc<ManualClock>,
}

async fn fixture() -> Fixture {
    let (dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory =
        SelfLearningMemory::with_config(storage.clone(), MemoryConfig::default(), clock.clone());
    Fixture {
        _dir: dir,
        storage,
        memory,
        clock,
    }
}

fn task(text: &str) -> NewEpisode {
    NewEpisode {
        task_type: TaskType::Debugging,
        context: TaskContext {
            domain: Some("db".into()),
            language: Some("rust".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new(text)
    }
}

async fn step(f: &Fixture, id: uuid::Uuid, tool: &str) {
    f.memory
        .log_step(
            NS,
            id,
            StepInput::new(
                tool,
                "work",
                StepResult::Success {
                    output: "fine".into(),
                },
            ),
        )
        .await
        .unwrap();
}

async fn run(f: &Fixture, text: &str, tools: &[&str]) {
    let id = f.memory.start_episode(NS, task(text)).await.unwrap();
    for tool in tools {
        step(f, id, tool).await;
    }
    f.memory
        .complete_episode(
            NS,
            id,
            TaskOutcome::Success {
                verdict: "done".into(),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();
    common::caught_up(&f.storage).await;
}

async fn patterns(f: &Fixture) -> Vec<Pattern> {
    f.memory
        .list_patterns(&PatternFilter {
            limit: 1_000,
            ..PatternFilter::new(NS)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_running_episode_left_idle_is_completed_as_abandoned() {
    let f = fixture().await;
    let id = f
        .memory
        .start_episode(NS, task("tune the planner"))
        .await
        .unwrap();
    f.clock.advance(Duration::hours(30));
    step(&f, id, "explain").await;
    common::caught_up(&f.storage).await;
    // Idle for a week less an hour since its last step: kept running.
    f.clock.advance(Duration::hours(24 * 7 - 1));
    let report = f.memory.collect_garbage(false).await.unwrap();
    assert_eq!(report.abandoned_episodes, 0);
    f.clock.advance(Duration::hours(2));
    let dry = f.memory.collect_garbage(true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.abandoned_episodes, 1);
    assert!(
        f.memory
            .get_episode(NS, id)
            .await
            .unwrap()
            .outcome
            .is_none()
    );

    let report = f.memory.collect_garbage(false).await.unwrap();
    assert_eq!(report.abandoned_episodes, 1);
    common::caught_up(&f.storage).await;
    let episode = f.memory.get_episode(NS, id).await.unwrap();
    match &episode.outcome {
        Some(TaskOutcome::Abstained { reason }) => {
            assert!(reason.contains("abandoned"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(episode.steps.len(), 1, "kept, with its steps");
    assert_eq!(
        f.memory
            .collect_garbage(false)
            .await
            .unwrap()
            .abandoned_episodes,
        0
    );
}

#[tokio::test]
async fn patterns_too_weak_to_matter_are_dropped_and_the_rest_kept() {
    let f = fixture().await;
    run(&f, "fix the slow query", &["explain", "index", "bench"]).await;
    // 200 days later (6.7 half-lives: one episode's weight is 0.01), part of it again.
    f.clock.advance(Duration::days(200));
    run(
        &f,
        "fix the slow query again",
        &["explain", "index", "vacuum"],
    )
    .await;
    let before = patterns(&f).await;
    let now = f.clock_now();
    let weak: Vec<&Pattern> = before
        .iter()
        .filter(|p| p.stats.at(now, 30.0).support < 0.05)
        .collect();
    assert!(!weak.is_empty() && weak.len() < before.len());

    let dry = f.memory.collect_garbage(true).await.unwrap();
    assert_eq!(dry.dropped.patterns, weak.len() as u64);
    assert_eq!(
        patterns(&f).await.len(),
        before.len(),
        "a dry run drops nothing"
    );

    let report = f.memory.collect_garbage(false).await.unwrap();
    assert_eq!(report.dropped.patterns, weak.len() as u64);
    common::caught_up(&f.storage).await;
    let after = patterns(&f).await;
    assert_eq!(after.len(), before.len() - weak.len());
    for p in &after {
        assert!(p.stats.at(now, 30.0).support >= 0.05, "{p:?}");
        assert!(weak.iter().all(|w| w.id != p.id));
    }
    // What the second episode taught, shared with the first or not, is all kept.
    assert!(after.iter().all(|p| p.last_seen > now - Duration::days(1)));
}

#[tokio::test]
async fn sessions_past_retention_go_in_namespaces_that_no_longer_retrieve() {
    let f = fixture().await;
    for _ in 0..3 {
        f.memory
            .retrieve_context(&RetrievalQuery::new("quiet", "anything about queries"))
            .await
            .unwrap();
    }
    f.clock.advance(Duration::days(31));
    f.memory
        .retrieve_context(&RetrievalQuery::new(NS, "anything about queries"))
        .await
        .unwrap();
    common::caught_up(&f.storage).await;
    assert_eq!(f.storage.list_sessions("quiet").await.unwrap().len(), 3);
    let report = f.memory.collect_garbage(false).await.unwrap();
    assert_eq!(report.dropped.sessions, 3);
    common::caught_up(&f.storage).await;
    assert!(f.storage.list_sessions("quiet").await.unwrap().is_empty());
    assert_eq!(f.storage.list_sessions(NS).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_embedding_cache_keeps_the_stores_embedder_and_its_bound() {
    let f = fixture().await;
    f.storage.ensure_vector_space("current", 2).await.unwrap();
    let entries = |prefix: &str, n: usize| -> Vec<(String, Vec<f32>)> {
        (0..n)
            .map(|i| (format!("{prefix}{i:04}"), vec![1.0, 0.0]))
            .collect()
    };
    f.storage
        .cache_embeddings("current", &entries("a", 5))
        .await
        .unwrap();
    f.storage
        .cache_embeddings("retired", &entries("b", 4))
        .await
        .unwrap();
    let plan = GarbagePlan {
        now: f.clock_now(),
        dry_run: true,
        sessions: SessionRetention::default(),
        min_pattern_support: 0.05,
        half_life_days: 30.0,
        max_cached_embeddings: 2,
    };
    let dry = f.storage.collect_garbage(&plan).await.unwrap();
    assert_eq!(dry.cached_embeddings, 4 + 3);
    let done = f
        .storage
        .collect_garbage(&GarbagePlan {
            dry_run: false,
            ..plan
        })
        .await
        .unwrap();
    assert_eq!(done.cached_embeddings, 4 + 3);
    common::caught_up(&f.storage).await;
    let hashes: Vec<String> = entries("a", 5).into_iter().map(|(h, _)| h).collect();
    let kept = f
        .storage
        .cached_embeddings("current", &hashes)
        .await
        .unwrap();
    assert_eq!(kept.iter().filter(|v| v.is_some()).count(), 2);
    let retired: Vec<String> = entries("b", 4).into_iter().map(|(h, _)| h).collect();
    let gone = f
        .storage
        .cached_embeddings("retired", &retired)
        .await
        .unwrap();
    assert!(gone.iter().all(Option::is_none));
}

impl Fixture {
    fn clock_now(&self) -> chrono::DateTime<Utc> {
        use memory_core::Clock as _;
        self.clock.now()
    }
}
