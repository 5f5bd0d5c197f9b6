//! The `SelfLearningMemory` facade on a real libSQL database: every method, its error cases,
//! and retrieval behaviour, with an injected clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use memory_core::{
    Clock, EpisodeFilter, ManualClock, MemoryConfig, MemoryError, NewEpisode, OutcomeKind,
    RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
};
use std::sync::Arc;

struct Fixture {
    _dir: common::Fixture,
    memory: SelfLearningMemory,
    clock: Arc<ManualClock>,
}

async fn fixture() -> Fixture {
    let (dir, storage) = common::fresh().await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory =
        SelfLearningMemory::with_config(Arc::new(storage), MemoryConfig::default(), clock.clone());
    Fixture {
        _dir: dir,
        memory,
        clock,
    }
}

fn ok(output: &str) -> StepResult {
    StepResult::Success {
        output: output.into(),
    }
}

fn success(verdict: &str) -> TaskOutcome {
    TaskOutcome::Success {
        verdict: verdict.into(),
        artifacts: vec![],
    }
}

fn task(text: &str, domain: &str) -> NewEpisode {
    NewEpisode {
        task_type: TaskType::Debugging,
        context: TaskContext {
            domain: Some(domain.into()),
            language: Some("rust".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new(text)
    }
}

/// Records a finished episode with `steps` successful steps of 100 ms each.
async fn finished(f: &Fixture, ns: &str, text: &str, domain: &str, steps: usize) -> uuid::Uuid {
    let id = f
        .memory
        .start_episode(ns, task(text, domain))
        .await
        .unwrap();
    for i in 0..steps {
        f.memory
            .log_step(
                ns,
                id,
                StepInput::new(format!("tool{i}"), "act", ok("fine")).with_latency_ms(100),
            )
            .await
            .unwrap();
    }
    f.memory
        .complete_episode(ns, id, success("done"))
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn start_log_complete_get_round_trip() {
    let f = fixture().await;
    let start = f.clock.now();
    let id = f
        .memory
        .start_episode("ns", task("Fix the login bug", "web"))
        .await
        .unwrap();
    let running = f.memory.get_episode("ns", id).await.unwrap();
    assert_eq!(running.started_at, start);
    assert!(running.ended_at.is_none() && running.steps.is_empty());

    f.clock.advance(Duration::milliseconds(1_500));
    let s1 = f
        .memory
        .log_step(
            "ns",
            id,
            StepInput::new(
                "cargo test",
                "reproduce",
                StepResult::Error {
                    message: "assertion failed at src/auth.rs:10".into(),
                },
            ),
        )
        .await
        .unwrap();
    let s2 = f
        .memory
        .log_step("ns", id, StepInput::new("edit_file", "fix", ok("1 file")))
        .await
        .unwrap();
    let s3 = f
        .memory
        .log_step("ns", id, StepInput::new("cargo test", "verify", ok("ok")))
        .await
        .unwrap();
    assert_eq!((s1.seq, s2.seq, s3.seq), (1, 2, 3));
    assert_eq!(s1.at, start + Duration::milliseconds(1_500));

    f.clock.advance(Duration::seconds(10));
    let done = f
        .memory
        .complete_episode("ns", id, success("login works"))
        .await
        .unwrap();
    let loaded = f.memory.get_episode("ns", id).await.unwrap();
    assert_eq!(done, *loaded, "what complete returns is what is stored");
    assert_eq!(
        loaded.ended_at,
        Some(start + Duration::milliseconds(11_500))
    );
    let reward = loaded.reward.clone().unwrap();
    // Success, no baseline yet (efficiency 0.5), 2 of 3 steps succeeded.
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
            .any(|i| i.contains("`edit_file` → `cargo test` fixed it"))
    );
}

#[tokio::test]
async fn reward_uses_comparable_episodes() {
    let f = fixture().await;
    for _ in 0..4 {
        finished(&f, "ns", "routine fix", "web", 10).await;
    }
    let id = f
        .memory
        .start_episode("ns", task("quick fix", "web"))
        .await
        .unwrap();
    for _ in 0..3 {
        f.memory
            .log_step(
                "ns",
                id,
                StepInput::new("t", "a", ok("o")).with_latency_ms(100),
            )
            .await
            .unwrap();
    }
    let lean = f
        .memory
        .complete_episode("ns", id, success("done"))
        .await
        .unwrap()
        .reward
        .unwrap();
    assert!(lean.efficiency > 0.8, "{}", lean.breakdown);
    assert!(
        lean.breakdown.contains("over 4 comparable episodes"),
        "{}",
        lean.breakdown
    );
    // Another domain has no comparable episodes yet.
    let other = finished(&f, "ns", "first of its kind", "infra", 3).await;
    let r = f
        .memory
        .get_episode("ns", other)
        .await
        .unwrap()
        .reward
        .clone()
        .unwrap();
    assert_eq!(r.efficiency, 0.5);
}

#[tokio::test]
async fn errors_name_the_problem_and_change_nothing() {
    let f = fixture().await;
    let missing = uuid::Uuid::now_v7();
    for err in [
        f.memory.get_episode("ns", missing).await.unwrap_err(),
        f.memory.delete_episode("ns", missing).await.unwrap_err(),
        f.memory
            .log_step("ns", missing, StepInput::new("t", "a", ok("o")))
            .await
            .unwrap_err(),
        f.memory
            .complete_episode("ns", missing, success("v"))
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                MemoryError::NotFound {
                    kind: "episode",
                    ..
                }
            ),
            "{err}"
        );
    }

    let err = f
        .memory
        .start_episode("bad namespace!", NewEpisode::new("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "namespace"),
        "{err}"
    );
    let err = f
        .memory
        .start_episode("ns", NewEpisode::new(""))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "task_description"),
        "{err}"
    );

    let id = f
        .memory
        .start_episode("ns", NewEpisode::new("t"))
        .await
        .unwrap();
    let err = f
        .memory
        .log_step("ns", id, StepInput::new("", "a", ok("o")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "step.tool"),
        "{err}"
    );
    let big = StepInput::new("t", "a", ok(&"x".repeat(65_537)));
    let err = f.memory.log_step("ns", id, big).await.unwrap_err();
    assert!(
        err.to_string().contains("step.result.output") && err.to_string().contains("65536"),
        "{err}"
    );
    let err = f
        .memory
        .complete_episode(
            "ns",
            id,
            TaskOutcome::Failure {
                reason: " ".into(),
                details: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "outcome.reason"),
        "{err}"
    );
    let ep = f.memory.get_episode("ns", id).await.unwrap();
    assert!(
        ep.steps.is_empty() && ep.ended_at.is_none(),
        "rejected inputs wrote something"
    );

    f.memory
        .complete_episode("ns", id, success("v"))
        .await
        .unwrap();
    let err = f
        .memory
        .complete_episode("ns", id, success("again"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Conflict(m) if m.contains("already completed")),
        "{err}"
    );
    let err = f
        .memory
        .log_step("ns", id, StepInput::new("t", "a", ok("o")))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err}");

    let mut filter = EpisodeFilter::new("ns");
    filter.limit = 0;
    let err = f.memory.list_episodes(&filter).await.unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "limit"),
        "{err}"
    );
    let err = f
        .memory
        .retrieve_context(&RetrievalQuery::new("ns", "  "))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "query"),
        "{err}"
    );
}

#[tokio::test]
async fn step_limit_is_enforced() {
    let (_dir, storage) = common::fresh().await;
    let mut config = MemoryConfig::default();
    config.limits.steps_per_episode = 3;
    let memory = SelfLearningMemory::with_config(
        Arc::new(storage),
        config,
        Arc::new(memory_core::SystemClock),
    );
    let id = memory
        .start_episode("ns", NewEpisode::new("t"))
        .await
        .unwrap();
    for _ in 0..3 {
        memory
            .log_step("ns", id, StepInput::new("t", "a", ok("o")))
            .await
            .unwrap();
    }
    let err = memory
        .log_step("ns", id, StepInput::new("t", "a", ok("o")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit is 3"), "{err}");
}

#[tokio::test]
async fn concurrent_steps_get_distinct_sequence_numbers() {
    let f = fixture().await;
    let id = f
        .memory
        .start_episode("ns", NewEpisode::new("parallel tools"))
        .await
        .unwrap();
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let memory = f.memory.clone();
            tokio::spawn(async move {
                memory
                    .log_step("ns", id, StepInput::new(format!("t{i}"), "a", ok("o")))
                    .await
                    .unwrap()
                    .seq
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for h in handles {
        seqs.push(h.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=32).collect::<Vec<u32>>());
    let ep = f
        .memory
        .complete_episode("ns", id, success("v"))
        .await
        .unwrap();
    assert_eq!(ep.steps.len(), 32);
}

#[tokio::test]
async fn list_filters_and_delete() {
    let f = fixture().await;
    let a = finished(&f, "ns", "alpha", "web", 1).await;
    f.clock.advance(Duration::hours(1));
    let b = f
        .memory
        .start_episode("ns", task("beta", "infra"))
        .await
        .unwrap();
    f.memory
        .complete_episode(
            "ns",
            b,
            TaskOutcome::Failure {
                reason: "no".into(),
                details: None,
            },
        )
        .await
        .unwrap();
    f.clock.advance(Duration::hours(1));
    let c = f
        .memory
        .start_episode("ns", task("gamma", "web"))
        .await
        .unwrap();

    let ids = |v: Vec<memory_core::EpisodeSummary>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let mut filter = EpisodeFilter::new("ns");
    assert_eq!(
        ids(f.memory.list_episodes(&filter).await.unwrap()),
        vec![c, b, a]
    );
    filter.domain = Some("web".into());
    assert_eq!(
        ids(f.memory.list_episodes(&filter).await.unwrap()),
        vec![c, a]
    );
    filter.domain = None;
    filter.outcome = Some(OutcomeKind::Failure);
    assert_eq!(ids(f.memory.list_episodes(&filter).await.unwrap()), vec![b]);

    f.memory.delete_episode("ns", a).await.unwrap();
    assert!(matches!(
        f.memory.get_episode("ns", a).await,
        Err(MemoryError::NotFound { .. })
    ));
    let pack = f
        .memory
        .retrieve_context(&RetrievalQuery::new("ns", "alpha"))
        .await
        .unwrap();
    assert!(pack.hits.iter().all(|h| h.id != a));
}

#[tokio::test]
async fn retrieval_ranks_by_text_then_context_reward_and_recency() {
    let f = fixture().await;
    let old = finished(
        &f,
        "ns",
        "cargo build fails with linker error on musl target",
        "infra",
        2,
    )
    .await;
    f.clock.advance(Duration::days(90));
    let recent = finished(
        &f,
        "ns",
        "cargo build fails with linker error on musl target",
        "infra",
        2,
    )
    .await;
    let unrelated = finished(&f, "ns", "write the onboarding guide", "docs", 2).await;
    let web = finished(&f, "ns", "add pagination to the orders endpoint", "web", 2).await;

    let pack = f
        .memory
        .retrieve_context(&RetrievalQuery::new(
            "ns",
            "linker error when building for musl",
        ))
        .await
        .unwrap();
    let ids: Vec<_> = pack.hits.iter().map(|h| h.id).collect();
    assert_eq!(&ids[..2], &[recent, old], "same text: the recent one first");
    assert!(!ids.contains(&unrelated));
    assert!(pack.hits[0].score.recency > pack.hits[1].score.recency);
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

    // Context is a boost, never a filter: a web query still finds the infra episodes by text,
    // and a context-only candidate (no shared words) comes from the same domain.
    let mut q = RetrievalQuery::new("ns", "linker error musl");
    q.context.domain = Some("web".into());
    let pack = f.memory.retrieve_context(&q).await.unwrap();
    let ids: Vec<_> = pack.hits.iter().map(|h| h.id).collect();
    assert!(ids.contains(&recent) && ids.contains(&web), "{ids:?}");
    let web_hit = pack.hits.iter().find(|h| h.id == web).unwrap();
    assert_eq!(web_hit.score.text, 0.0);
    assert!(web_hit.reason.contains("chosen for its context"));

    // A tight budget keeps the pack within it and says which hits made it. (The playbook
    // comes first and may leave no room for any episode.)
    let mut q = RetrievalQuery::new("ns", "linker error musl");
    q.token_budget = 64;
    let pack = f.memory.retrieve_context(&q).await.unwrap();
    assert!(pack.token_estimate <= 64, "{}", pack.token_estimate);
    for (i, hit) in pack.hits.iter().enumerate() {
        let shown = pack
            .markdown
            .contains(&format!("{}. {}", i + 1, hit.task_description));
        assert_eq!(
            hit.in_pack, shown,
            "{}\n{}",
            hit.task_description, pack.markdown
        );
    }
    assert!(
        !pack.markdown.contains("- Why:"),
        "only one-line forms fit in 64 tokens"
    );
}

#[tokio::test]
async fn namespaces_never_mix() {
    let f = fixture().await;
    let a = finished(&f, "team-a", "rotate the signing keys", "infra", 1).await;
    assert!(matches!(
        f.memory.get_episode("team-b", a).await,
        Err(MemoryError::NotFound { .. })
    ));
    assert!(matches!(
        f.memory.delete_episode("team-b", a).await,
        Err(MemoryError::NotFound { .. })
    ));
    assert!(matches!(
        f.memory
            .log_step("team-b", a, StepInput::new("t", "a", ok("o")))
            .await,
        Err(MemoryError::NotFound { .. })
    ));
    assert!(
        f.memory
            .list_episodes(&EpisodeFilter::new("team-b"))
            .await
            .unwrap()
            .is_empty()
    );
    let mut q = RetrievalQuery::new("team-b", "rotate signing keys");
    q.context.domain = Some("infra".into());
    assert!(f.memory.retrieve_context(&q).await.unwrap().hits.is_empty());
    assert_eq!(
        f.memory
            .list_episodes(&EpisodeFilter::new("team-a"))
            .await
            .unwrap()
            .len(),
        1
    );
}
