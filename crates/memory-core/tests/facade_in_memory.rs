//! The `SelfLearningMemory` facade on `InMemoryStorage`: the agent's loop — record an
//! episode, retrieve context for a similar task, patterns learned over several episodes,
//! the playbook, feedback (reported and automatic), deletes and garbage collection — with
//! an injected clock and no database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, TimeZone, Utc};
use memory_core::{
    Clock, Episode, EpisodeFilter, InMemoryStorage, ManualClock, MemoryConfig, MemoryError,
    NewEpisode, OutcomeKind, PatternFilter, PatternKind, RetrievalQuery, SelfLearningMemory,
    StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
};
use std::sync::Arc;
use uuid::Uuid;

const NS: &str = "team";

struct Fixture {
    memory: SelfLearningMemory,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory = SelfLearningMemory::with_config(
        Arc::new(InMemoryStorage::new()),
        MemoryConfig::default(),
        clock.clone(),
    );
    Fixture { memory, clock }
}

fn ok(output: &str) -> StepResult {
    StepResult::Success {
        output: output.into(),
    }
}

fn success() -> TaskOutcome {
    TaskOutcome::Success {
        verdict: "done".into(),
        artifacts: vec![],
    }
}

/// A debugging task in the web-api domain, in Rust.
fn task(text: &str) -> NewEpisode {
    NewEpisode {
        task_type: TaskType::Debugging,
        context: TaskContext {
            domain: Some("web-api".into()),
            language: Some("rust".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new(text)
    }
}

/// Runs an episode through the facade: one successful step per tool, a second later
/// completed with `outcome`.
async fn run(f: &Fixture, new: NewEpisode, tools: &[&str], outcome: TaskOutcome) -> Episode {
    let id = f.memory.start_episode(NS, new).await.unwrap();
    for tool in tools {
        f.memory
            .log_step(
                NS,
                id,
                StepInput::new(*tool, "work", ok("fine")).with_latency_ms(40),
            )
            .await
            .unwrap();
    }
    f.clock.advance(Duration::seconds(1));
    f.memory.complete_episode(NS, id, outcome).await.unwrap()
}

const FIX: [&str; 3] = ["read_logs", "edit_file", "cargo test"];

#[tokio::test]
async fn an_episode_is_recorded_scored_and_reflected_on() {
    let f = fixture();
    let start = f.clock.now();
    let id = f
        .memory
        .start_episode(NS, task("Fix the login bug"))
        .await
        .unwrap();
    f.clock.advance(Duration::milliseconds(1_500));
    let failed = StepResult::Error {
        message: "assertion failed at src/auth.rs:10".into(),
    };
    let s1 = f
        .memory
        .log_step(NS, id, StepInput::new("cargo test", "reproduce", failed))
        .await
        .unwrap();
    let s2 = f
        .memory
        .log_step(NS, id, StepInput::new("edit_file", "fix", ok("1 file")))
        .await
        .unwrap();
    let s3 = f
        .memory
        .log_step(NS, id, StepInput::new("cargo test", "verify", ok("ok")))
        .await
        .unwrap();
    assert_eq!((s1.seq, s2.seq, s3.seq), (1, 2, 3));
    assert_eq!(s1.at, start + Duration::milliseconds(1_500));

    f.clock.advance(Duration::seconds(10));
    let done = f.memory.complete_episode(NS, id, success()).await.unwrap();
    let loaded = f.memory.get_episode(NS, id).await.unwrap();
    assert_eq!(done, *loaded, "what complete returns is what is stored");
    assert_eq!(
        loaded.ended_at,
        Some(start + Duration::milliseconds(11_500))
    );
    let reward = loaded.reward.clone().unwrap();
    assert!(
        (reward.total - (0.8 + 0.05 + 0.1 * 2.0 / 3.0)).abs() < 1e-9,
        "{}",
        reward.breakdown
    );
    let reflection = loaded.reflection.clone().unwrap();
    assert!(
        reflection
            .insights
            .iter()
            .any(|i| i.contains("`edit_file` → `cargo test` fixed it")),
        "{reflection:?}"
    );
    assert!(!loaded.pattern_ids.is_empty());

    // Misuse is refused and changes nothing.
    let again = f.memory.complete_episode(NS, id, success()).await;
    assert!(matches!(again, Err(MemoryError::Conflict(_))), "{again:?}");
    let late = f
        .memory
        .log_step(NS, id, StepInput::new("t", "a", ok("o")))
        .await;
    assert!(matches!(late, Err(MemoryError::Conflict(_))), "{late:?}");
    let elsewhere = f.memory.get_episode("other", id).await;
    assert!(matches!(elsewhere, Err(MemoryError::NotFound { .. })));
}

#[tokio::test]
async fn retrieval_finds_the_similar_task_first() {
    let f = fixture();
    let musl = run(
        &f,
        task("cargo build fails with linker error on musl target"),
        &["cargo build", "edit_file", "cargo build"],
        success(),
    )
    .await;
    let docs = run(
        &f,
        NewEpisode::new("write the onboarding guide"),
        &["editor"],
        success(),
    )
    .await;
    let pack = f
        .memory
        .retrieve_context(&RetrievalQuery::new(
            NS,
            "linker error when building for musl",
        ))
        .await
        .unwrap();
    let ids: Vec<Uuid> = pack.hits.iter().map(|h| h.id).collect();
    assert_eq!(ids.first(), Some(&musl.id), "{}", pack.markdown);
    assert!(!ids.contains(&docs.id));
    assert!(
        pack.hits[0].reason.contains("'linker'"),
        "{}",
        pack.hits[0].reason
    );
    assert!(
        pack.markdown
            .contains("cargo build fails with linker error")
    );
    assert!(pack.token_estimate <= pack.token_budget);
    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    assert_eq!(session.query, "linker error when building for musl");

    // Nothing leaks into another namespace.
    let other = f
        .memory
        .retrieve_context(&RetrievalQuery::new("other", "linker error musl"))
        .await
        .unwrap();
    assert!(other.hits.is_empty());
}

#[tokio::test]
async fn patterns_are_learned_over_episodes_and_recommended() {
    let f = fixture();
    let mut query = RetrievalQuery::new(NS, "the endpoint test fails");
    query.context.language = Some("rust".into());
    query.task_type = Some(TaskType::Debugging);

    run(&f, task("fix the failing endpoint test"), &FIX, success()).await;
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    assert!(
        pack.patterns.is_empty(),
        "one episode is not enough support"
    );

    for _ in 0..3 {
        run(&f, task("fix the failing endpoint test"), &FIX, success()).await;
    }
    let mut filter = PatternFilter::new(NS);
    filter.kind = Some(memory_core::PatternKindName::ToolSequence);
    let sequences = f.memory.list_patterns(&filter).await.unwrap();
    let whole = sequences
        .iter()
        .find(|p| matches!(&p.kind, PatternKind::ToolSequence { tools } if tools == &FIX))
        .expect("the three tools are one pattern");
    assert_eq!(
        (whole.stats.episodes, whole.stats.successful_episodes),
        (4, 4)
    );
    assert_eq!(whole.evidence.len(), 4);

    let pack = f.memory.retrieve_context(&query).await.unwrap();
    assert!(!pack.patterns.is_empty(), "{}", pack.markdown);
    assert!(pack.patterns.iter().all(|p| p.episodes >= 2));
    let playbook = pack
        .playbook
        .as_ref()
        .expect("four agreeing successes make a plan");
    assert!(pack.markdown.contains("edit_file"), "{}", pack.markdown);
    assert!(!playbook.steps.is_empty());
    let heuristics = f.memory.heuristics(&PatternFilter::new(NS)).await.unwrap();
    assert!(!heuristics.is_empty());
}

#[tokio::test]
async fn feedback_moves_the_recommended_patterns() {
    let f = fixture();
    for _ in 0..3 {
        run(&f, task("fix the failing endpoint test"), &FIX, success()).await;
    }
    let mut query = RetrievalQuery::new(NS, "endpoint returns 500");
    query.context.language = Some("rust".into());
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    let session_id = pack.session_id.unwrap();
    let applied = pack.patterns[0].id;

    let unknown = f
        .memory
        .record_feedback(NS, session_id, vec![Uuid::now_v7()], OutcomeKind::Success)
        .await;
    assert!(
        matches!(unknown, Err(MemoryError::Invalid(_))),
        "{unknown:?}"
    );
    f.memory
        .record_feedback(NS, session_id, vec![applied], OutcomeKind::Success)
        .await
        .unwrap();
    let p = f.memory.get_pattern(NS, applied).await.unwrap();
    let e = p.effectiveness;
    assert_eq!((e.applied, e.helped, e.hindered), (1, 1, 0));
    let twice = f
        .memory
        .record_feedback(NS, session_id, vec![applied], OutcomeKind::Failure)
        .await;
    assert!(matches!(twice, Err(MemoryError::Conflict(_))), "{twice:?}");

    // An episode started from a pack gives its feedback when it completes.
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    let mut new = task("fix the failing endpoint test");
    new.retrieval_session = pack.session_id;
    run(&f, new, &FIX, success()).await;
    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    let given = session.feedback.expect("the completion reported for it");
    assert_eq!(given.applied, session.recommended);
    assert_eq!(given.outcome, OutcomeKind::Success);
    for id in &session.recommended {
        let e = f.memory.get_pattern(NS, *id).await.unwrap().effectiveness;
        assert!(e.applied >= 1 && e.helped >= 1, "{id}: {e:?}");
    }
}

#[tokio::test]
async fn deletes_and_garbage_collection_keep_the_store_tidy() {
    let f = fixture();
    let first = run(&f, task("fix the failing endpoint test"), &FIX, success()).await;
    let second = run(&f, task("fix the failing endpoint test"), &FIX, success()).await;
    f.memory.delete_episode(NS, first.id).await.unwrap();
    for id in &second.pattern_ids {
        let p = f.memory.get_pattern(NS, *id).await.unwrap();
        assert_eq!(p.stats.episodes, 1);
    }
    let listed = f
        .memory
        .list_episodes(&EpisodeFilter::new(NS))
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [second.id]);

    // An episode left running for weeks is completed as abandoned by the collection.
    let idle = f
        .memory
        .start_episode(NS, task("an abandoned task"))
        .await
        .unwrap();
    f.clock.advance(Duration::days(30));
    let report = f.memory.collect_garbage(false).await.unwrap();
    assert_eq!(report.abandoned_episodes, 1, "{report:?}");
    let abandoned = f.memory.get_episode(NS, idle).await.unwrap();
    assert_eq!(
        abandoned.outcome.as_ref().map(|o| o.kind()),
        Some(OutcomeKind::Abstained)
    );
    let stats = f.memory.stats().await.unwrap();
    assert_eq!(stats.storage.episodes, 2);
    assert_eq!(stats.storage.backend, "in-memory");
}
