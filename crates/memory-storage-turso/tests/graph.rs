//! The episode graph through the facade on a real database: walking it, ordering it,
//! exporting it, the retrieval boost for episodes related to strong hits, and checkpoints,
//! hand-off and resume.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeZone, Utc};
use memory_core::graph::to_dot;
use memory_core::handoff::HandoffPack;
use memory_core::{
    Direction, ManualClock, MemoryConfig, MemoryError, NewEpisode, RelationshipKind,
    RelationshipMetadata, RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskContext,
    TaskOutcome,
};
use std::sync::Arc;
use uuid::Uuid;

async fn memory_with(config: MemoryConfig) -> (common::Fixture, SelfLearningMemory) {
    let (dir, storage) = common::fresh().await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory =
        SelfLearningMemory::with_config(Arc::new(storage), config, clock).with_embedder(None);
    (dir, memory)
}

async fn memory() -> (common::Fixture, SelfLearningMemory) {
    memory_with(MemoryConfig::default()).await
}

fn ok(output: &str) -> StepResult {
    StepResult::Success {
        output: output.into(),
    }
}

async fn done(m: &SelfLearningMemory, task: &str, tools: &[&str]) -> Uuid {
    let new = NewEpisode {
        context: TaskContext {
            domain: Some("web".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new(task)
    };
    let id = m.start_episode("ns", new).await.unwrap();
    for t in tools {
        m.log_step("ns", id, StepInput::new(*t, "work", ok("fine")))
            .await
            .unwrap();
    }
    m.complete_episode(
        "ns",
        id,
        TaskOutcome::Success {
            verdict: "done".into(),
            artifacts: vec![],
        },
    )
    .await
    .unwrap();
    id
}

fn meta() -> RelationshipMetadata {
    RelationshipMetadata::default()
}

#[tokio::test]
async fn ancestors_descendants_and_order_follow_the_edges() {
    let (_d, m) = memory().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(done(&m, &format!("task {i}"), &["a"]).await);
    }
    use RelationshipKind::*;
    // 0 is the parent of 1 and 2; 1 is the parent of 3; 3 depends on 4; 2 depends on 3.
    for (a, b, k) in [
        (0, 1, ParentChild),
        (0, 2, ParentChild),
        (1, 3, ParentChild),
        (3, 4, DependsOn),
        (2, 3, DependsOn),
    ] {
        m.relate("ns", ids[a], ids[b], k, meta()).await.unwrap();
    }
    let desc = m
        .descendants("ns", ids[0], &[ParentChild], 5)
        .await
        .unwrap();
    let got: Vec<(Uuid, u32)> = desc.iter().map(|n| (n.episode, n.depth)).collect();
    assert_eq!(got, vec![(ids[1], 1), (ids[2], 1), (ids[3], 2)]);
    let one = m
        .descendants("ns", ids[0], &[ParentChild], 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 2);
    let anc = m.ancestors("ns", ids[4], &[], 3).await.unwrap();
    let got: Vec<Uuid> = anc.iter().map(|n| n.episode).collect();
    assert_eq!(got, vec![ids[3], ids[1], ids[2], ids[0]]);

    let near = m.related("ns", ids[3], Direction::Both, &[]).await.unwrap();
    assert_eq!(near.len(), 3);
    assert!(
        near.iter()
            .any(|n| n.episode == ids[4] && n.direction == Direction::Outgoing)
    );
    assert!(
        near.iter()
            .any(|n| n.episode == ids[1] && n.direction == Direction::Incoming)
    );

    let order = m.topological_order("ns", &ids).await.unwrap();
    let pos = |id| order.iter().position(|x| *x == id).unwrap();
    assert!(pos(ids[0]) < pos(ids[1]) && pos(ids[1]) < pos(ids[3]));
    assert!(pos(ids[4]) < pos(ids[3]), "a dependency comes first");
    assert!(pos(ids[3]) < pos(ids[2]), "2 depends on 3");

    let graph = m.graph("ns", Some(ids[1]), 1, &[]).await.unwrap();
    assert_eq!(graph.nodes.len(), 3, "1, its parent 0 and its child 3");
    assert_eq!(graph.edges.len(), 2);
    let dot = to_dot(&graph);
    assert!(dot.contains(&format!(
        "\"{}\" -> \"{}\" [label=\"parent_child\"];",
        ids[0], ids[1]
    )));
    let whole = m.graph("ns", None, 0, &[]).await.unwrap();
    assert_eq!(whole.nodes.len(), 5);
    assert_eq!(whole.edges.len(), 5);
    assert_eq!(whole.order.len(), 5);

    let err = m
        .related("ns", Uuid::now_v7(), Direction::Both, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }));
    let err = m
        .relate("ns", ids[4], ids[2], DependsOn, meta())
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Cycle { .. }), "{err:?}");
    assert_eq!(m.unrelate("ns", ids[2], ids[3], None).await.unwrap(), 1);
    let err = m.unrelate("ns", ids[2], ids[3], None).await.unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }));
}

#[tokio::test]
async fn an_episode_related_to_a_strong_hit_is_boosted_within_the_bound_and_shown() {
    let (_d, m) = memory().await;
    let strong = done(
        &m,
        "migrate the billing tables to postgres",
        &["psql", "cargo test"],
    )
    .await;
    // Shares no words with the query: no search finds it by itself.
    let linked = done(&m, "write the rollback runbook", &["edit_file"]).await;
    let _noise = done(&m, "tune the nginx cache", &["vim"]).await;
    let query = RetrievalQuery::new("ns", "billing tables postgres migration");

    let before = m.retrieve_context(&query).await.unwrap();
    assert!(
        before
            .hits
            .iter()
            .all(|h| h.id != linked || h.score.relation == 0.0)
    );

    m.relate("ns", linked, strong, RelationshipKind::DependsOn, meta())
        .await
        .unwrap();
    let after = m.retrieve_context(&query).await.unwrap();
    assert_eq!(after.hits[0].id, strong);
    let hit = after
        .hits
        .iter()
        .find(|h| h.id == linked)
        .expect("the related episode is retrieved");
    let bound = MemoryConfig::default().relation_boost;
    assert!(
        hit.score.relation > 0.0 && hit.score.relation <= bound,
        "{:?}",
        hit.score
    );
    assert_eq!(hit.related.len(), 1);
    assert_eq!(hit.related[0].episode, strong);
    assert_eq!(hit.related[0].kind, RelationshipKind::DependsOn);
    assert_eq!(hit.related[0].direction, Direction::Outgoing);
    assert!(
        hit.reason.contains("related to a strong hit (depends_on)"),
        "{}",
        hit.reason
    );
    assert!(
        after.markdown.contains("- Related: this `depends_on` #1"),
        "{}",
        after.markdown
    );

    // A weight of 0 removes the boost; the boost can be switched off.
    m.unrelate("ns", linked, strong, None).await.unwrap();
    m.relate(
        "ns",
        linked,
        strong,
        RelationshipKind::References,
        RelationshipMetadata {
            weight: Some(0.0),
            ..meta()
        },
    )
    .await
    .unwrap();
    let weightless = m.retrieve_context(&query).await.unwrap();
    assert!(weightless.hits.iter().all(|h| h.score.relation == 0.0));

    let (_d2, off) = memory_with(MemoryConfig {
        relation_boost: 0.0,
        ..MemoryConfig::default()
    })
    .await;
    let s = done(&off, "migrate the billing tables to postgres", &["psql"]).await;
    let l = done(&off, "write the rollback runbook", &["edit_file"]).await;
    off.relate("ns", l, s, RelationshipKind::DependsOn, meta())
        .await
        .unwrap();
    let pack = off.retrieve_context(&query).await.unwrap();
    assert!(pack.hits.iter().all(|h| h.id != l));
}

#[tokio::test]
async fn a_handoff_pack_resumes_as_a_new_episode_that_follows_the_old_one() {
    let (_d, m) = memory().await;
    let new = NewEpisode {
        tags: vec!["ticket-7".into()],
        context: TaskContext {
            domain: Some("web".into()),
            language: Some("rust".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new("add rate limiting to the login endpoint")
    };
    let id = m.start_episode("ns", new).await.unwrap();
    m.log_step(
        "ns",
        id,
        StepInput::new("edit_file", "add tower-governor", ok("done")),
    )
    .await
    .unwrap();
    m.log_step(
        "ns",
        id,
        StepInput::new(
            "cargo test",
            "run the suite",
            StepResult::Error {
                message: "test login_limit failed".into(),
            },
        ),
    )
    .await
    .unwrap();
    let cp = m
        .checkpoint_episode("ns", id, "limiter wired; the limit test fails")
        .await
        .unwrap();
    assert_eq!(cp.step_count, 2);

    let pack = m.handoff("ns", id).await.unwrap();
    assert_eq!(pack.goal, "add rate limiting to the login endpoint");
    assert_eq!(pack.status, "running");
    assert_eq!(pack.checkpoints, vec![cp]);
    assert!(
        pack.open_items
            .iter()
            .any(|i| i.contains("test login_limit failed"))
    );
    assert!(pack.markdown.contains("limiter wired"));

    // The pack travels as JSON to another agent.
    let json = serde_json::to_string(&pack).unwrap();
    let received: HandoffPack = serde_json::from_str(&json).unwrap();
    let next = m.resume("ns", &received).await.unwrap();
    let episode = m.get_episode("ns", next).await.unwrap();
    assert_eq!(episode.task_description, pack.goal);
    assert_eq!(episode.tags, vec!["ticket-7".to_string()]);
    assert_eq!(episode.context.language.as_deref(), Some("rust"));
    assert_eq!(episode.metadata["resumed_from"], id.to_string());
    let links = m
        .related("ns", next, Direction::Outgoing, &[])
        .await
        .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].episode, id);
    assert_eq!(links[0].via.kind, RelationshipKind::Follows);

    assert!(matches!(
        m.resume("other", &received).await.unwrap_err(),
        MemoryError::Invalid(_)
    ));
    m.delete_episode("ns", id).await.unwrap();
    assert!(matches!(
        m.resume("ns", &received).await.unwrap_err(),
        MemoryError::NotFound { .. }
    ));
    // Checkpoints are for running episodes only.
    m.complete_episode(
        "ns",
        next,
        TaskOutcome::Abstained {
            reason: "dup".into(),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        m.checkpoint_episode("ns", next, "late").await.unwrap_err(),
        MemoryError::Conflict(_)
    ));
}
