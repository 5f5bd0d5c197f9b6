//! Relationships, checkpoints and the batch write API on a real libSQL file: the cycle
//! check and its path, the link rules, cascade on delete, and that a batch stores exactly
//! what single calls would — all of it, or nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{at, completed_with, completion_of, fresh, recorded, running, success};
use memory_core::storage::prelude::*;
use memory_core::{
    Checkpoint, Direction, Episode, EpisodeFilter, ImportBatch, MemoryError, Relationship,
    RelationshipFilter, RelationshipKind, RelationshipMetadata,
};
use memory_storage_turso::TursoStorage;
use uuid::Uuid;

fn edge(from: Uuid, to: Uuid, kind: RelationshipKind) -> Relationship {
    Relationship {
        id: Uuid::now_v7(),
        namespace: "ns".into(),
        from,
        to,
        kind,
        metadata: RelationshipMetadata::default(),
        created_at: at(10),
    }
}

async fn episodes(storage: &TursoStorage, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let e = running("ns", &format!("task {i}"), i as i64);
        storage.store_episode(&e).await.unwrap();
        ids.push(e.id);
    }
    ids
}

async fn all_edges(storage: &TursoStorage) -> Vec<Relationship> {
    storage
        .relationships(&RelationshipFilter::new("ns"))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_edge_closing_a_cycle_is_refused_with_the_path() {
    let (_dir, storage) = fresh().await;
    let ids = episodes(&storage, 4).await;
    for (a, b) in [(0, 1), (1, 2), (2, 3)] {
        storage
            .store_relationship(&edge(ids[a], ids[b], RelationshipKind::DependsOn))
            .await
            .unwrap();
    }
    let err = storage
        .store_relationship(&edge(ids[3], ids[1], RelationshipKind::DependsOn))
        .await
        .unwrap_err();
    match &err {
        MemoryError::Cycle { kind, path } => {
            assert_eq!(*kind, RelationshipKind::DependsOn);
            assert_eq!(path, &vec![ids[3], ids[1], ids[2], ids[3]]);
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "{} → {} → {} → {}",
            ids[3], ids[1], ids[2], ids[3]
        )),
        "{message}"
    );
    assert_eq!(all_edges(&storage).await.len(), 3, "nothing was written");

    // The same edge is fine for a kind that may cycle, and each acyclic kind is its own graph.
    storage
        .store_relationship(&edge(ids[3], ids[1], RelationshipKind::Follows))
        .await
        .unwrap();
    storage
        .store_relationship(&edge(ids[3], ids[1], RelationshipKind::Blocks))
        .await
        .unwrap();
    // Parent/child: a task cannot be its own grandparent.
    storage
        .store_relationship(&edge(ids[0], ids[1], RelationshipKind::ParentChild))
        .await
        .unwrap();
    storage
        .store_relationship(&edge(ids[1], ids[2], RelationshipKind::ParentChild))
        .await
        .unwrap();
    let err = storage
        .store_relationship(&edge(ids[2], ids[0], RelationshipKind::ParentChild))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MemoryError::Cycle { ref path, .. } if path.len() == 4),
        "{err:?}"
    );
}

#[tokio::test]
async fn self_links_duplicates_and_unknown_ends_are_refused() {
    let (_dir, storage) = fresh().await;
    let ids = episodes(&storage, 2).await;
    let err = storage
        .store_relationship(&edge(ids[0], ids[0], RelationshipKind::RelatedTo))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Invalid(_)), "{err:?}");

    storage
        .store_relationship(&edge(ids[0], ids[1], RelationshipKind::RelatedTo))
        .await
        .unwrap();
    for dup in [
        edge(ids[0], ids[1], RelationshipKind::RelatedTo),
        // Symmetric: the reverse is the same link.
        edge(ids[1], ids[0], RelationshipKind::RelatedTo),
    ] {
        let err = storage.store_relationship(&dup).await.unwrap_err();
        assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    }
    // Directed kinds may have both directions (follows is not acyclic).
    storage
        .store_relationship(&edge(ids[0], ids[1], RelationshipKind::Follows))
        .await
        .unwrap();
    storage
        .store_relationship(&edge(ids[1], ids[0], RelationshipKind::Follows))
        .await
        .unwrap();

    let err = storage
        .store_relationship(&edge(ids[0], Uuid::now_v7(), RelationshipKind::References))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
    // Both ends must be in the edge's namespace.
    let other = running("other", "elsewhere", 0);
    storage.store_episode(&other).await.unwrap();
    let err = storage
        .store_relationship(&edge(ids[0], other.id, RelationshipKind::References))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
    assert_eq!(all_edges(&storage).await.len(), 3);

    // Removing a symmetric link works from either end.
    let removed = storage
        .delete_relationships("ns", ids[1], ids[0], Some(RelationshipKind::RelatedTo))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let removed = storage
        .delete_relationships("ns", ids[0], ids[1], None)
        .await
        .unwrap();
    assert_eq!(removed, 1, "only 0 → 1 follows is left in that direction");
    assert_eq!(all_edges(&storage).await.len(), 1);
}

#[tokio::test]
async fn deleting_an_episode_cascades_to_its_edges_and_checkpoints() {
    let (_dir, storage) = fresh().await;
    let ids = episodes(&storage, 3).await;
    storage
        .store_relationship(&edge(ids[0], ids[1], RelationshipKind::ParentChild))
        .await
        .unwrap();
    storage
        .store_relationship(&edge(ids[1], ids[2], RelationshipKind::DependsOn))
        .await
        .unwrap();
    storage
        .store_relationship(&edge(ids[0], ids[2], RelationshipKind::RelatedTo))
        .await
        .unwrap();
    let cp = Checkpoint {
        id: Uuid::now_v7(),
        namespace: "ns".into(),
        episode_id: ids[1],
        at: at(20),
        step_count: 0,
        note: "halfway".into(),
    };
    storage.store_checkpoint(&cp).await.unwrap();

    assert!(storage.delete_episode("ns", ids[1], 30.0).await.unwrap());
    let left = all_edges(&storage).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, RelationshipKind::RelatedTo);
    assert!(storage.checkpoints("ns", None).await.unwrap().is_empty());
    let touching = storage
        .relationships(&RelationshipFilter {
            episodes: vec![ids[1]],
            ..RelationshipFilter::new("ns")
        })
        .await
        .unwrap();
    assert!(touching.is_empty());
}

#[tokio::test]
async fn relationship_queries_follow_direction_and_kind() {
    let (_dir, storage) = fresh().await;
    let ids = episodes(&storage, 3).await;
    let a = edge(ids[0], ids[1], RelationshipKind::DependsOn);
    let b = edge(ids[2], ids[0], RelationshipKind::References);
    storage.store_relationship(&a).await.unwrap();
    storage.store_relationship(&b).await.unwrap();
    let q = |direction, kinds: Vec<RelationshipKind>| RelationshipFilter {
        namespace: "ns".into(),
        episodes: vec![ids[0]],
        direction,
        kinds,
        limit: None,
    };
    assert_eq!(
        storage
            .relationships(&q(Direction::Outgoing, vec![]))
            .await
            .unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        storage
            .relationships(&q(Direction::Incoming, vec![]))
            .await
            .unwrap(),
        vec![b.clone()]
    );
    assert_eq!(
        storage
            .relationships(&q(Direction::Both, vec![]))
            .await
            .unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        storage
            .relationships(&q(Direction::Both, vec![RelationshipKind::References]))
            .await
            .unwrap(),
        vec![b]
    );
}

#[tokio::test]
async fn checkpoints_record_the_step_count_of_running_episodes_only() {
    let (_dir, storage) = fresh().await;
    let mut e = running("ns", "long task", 0);
    e.steps = vec![recorded(1, "a", "x", 1), recorded(2, "b", "y", 1)];
    storage.store_episode(&e).await.unwrap();
    let cp = Checkpoint {
        id: Uuid::now_v7(),
        namespace: "ns".into(),
        episode_id: e.id,
        at: at(5),
        step_count: 99,
        note: "after b".into(),
    };
    let stored = storage.store_checkpoint(&cp).await.unwrap();
    assert_eq!(stored.step_count, 2);
    assert_eq!(
        storage.checkpoints("ns", Some(e.id)).await.unwrap(),
        vec![stored]
    );

    let done = completion_of(&e, success("ok"), at(60));
    storage.complete_episode("ns", e.id, &done).await.unwrap();
    let err = storage
        .store_checkpoint(&Checkpoint {
            id: Uuid::now_v7(),
            ..cp.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    let err = storage
        .store_checkpoint(&Checkpoint {
            id: Uuid::now_v7(),
            episode_id: Uuid::now_v7(),
            ..cp
        })
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
}

/// Episodes of every shape: running and completed, with and without steps and tags.
fn assorted(n: usize) -> Vec<Episode> {
    (0..n)
        .map(|i| {
            let mut e = running("ns", &format!("fix the flaky test number {i}"), i as i64);
            e.tags = vec![format!("t{}", i % 3)];
            e.context.tags = vec!["ci".into(), format!("t{}", i % 3)];
            e.context.domain = Some(["web", "data"][i % 2].into());
            e.steps = (0..(i % 4) as u32)
                .map(|s| recorded(s + 1, &format!("tool{s}"), "act", 10 * u64::from(s)))
                .collect();
            if i % 3 != 0 {
                let c = completion_of(&e, success("green"), at(i as i64 + 100));
                e = completed_with(e, &c);
            }
            e
        })
        .collect()
}

/// `episodes` under new ids, so they can be stored next to the originals.
fn with_new_ids(episodes: Vec<Episode>) -> Vec<Episode> {
    episodes
        .into_iter()
        .map(|mut e| {
            e.id = Uuid::now_v7();
            e
        })
        .collect()
}

#[tokio::test]
async fn a_batch_stores_exactly_what_single_calls_would() {
    let (_d1, single) = fresh().await;
    let (_d2, batched) = fresh().await;
    // More rows than one multi-row statement holds, so the chunking is exercised.
    let all = assorted(1_234);
    for e in &all {
        single.store_episode(e).await.unwrap();
    }
    batched.store_episodes(all.clone()).await.unwrap();

    assert_eq!(
        single.row_counts().await.unwrap(),
        batched.row_counts().await.unwrap()
    );
    for e in all.iter().step_by(97) {
        assert_eq!(
            batched.get_episode("ns", e.id).await.unwrap().as_deref(),
            Some(e)
        );
    }
    let mut filter = EpisodeFilter::new("ns");
    filter.tags = vec!["t1".into(), "ci".into()];
    filter.limit = 1_000;
    assert_eq!(
        single.list_episodes(&filter).await.unwrap(),
        batched.list_episodes(&filter).await.unwrap()
    );
    let terms = vec!["flaky".to_string(), "tool1".to_string()];
    assert_eq!(
        single.search_text("ns", &terms, 20).await.unwrap(),
        batched.search_text("ns", &terms, 20).await.unwrap()
    );
    // Rowids continue after a batch: a single store still works and is found.
    let later = running("ns", "after the batch", 5_000);
    batched.store_episode(&later).await.unwrap();
    assert!(batched.get_episode("ns", later.id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_batch_that_conflicts_stores_nothing() {
    let (_dir, storage) = fresh().await;
    let all = assorted(10);
    storage.store_episode(&all[7]).await.unwrap();
    let before = storage.row_counts().await.unwrap();
    let err = storage.store_episodes(all.clone()).await.unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains(&all[7].id.to_string()), "{err}");
    assert_eq!(storage.row_counts().await.unwrap(), before);

    // An edge to an unknown episode at the end of a mixed batch rolls back its episodes.
    let fresh_eps = with_new_ids(assorted(3));
    let batch = ImportBatch {
        relationships: vec![edge(
            fresh_eps[0].id,
            Uuid::now_v7(),
            RelationshipKind::Follows,
        )],
        episodes: fresh_eps,
        ..ImportBatch::default()
    };
    let err = storage.store_batch(batch.clone()).await.unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err:?}");
    assert_eq!(storage.row_counts().await.unwrap(), before);
}

/// A large batch is encoded and inserted chunk by chunk; a failure in a late chunk — a
/// stored id, a step numbered out of order — still leaves nothing of the earlier ones.
#[tokio::test]
async fn a_late_chunk_that_fails_rolls_back_the_whole_batch() {
    let (_dir, storage) = fresh().await;
    let all = assorted(1_200);
    storage.store_episode(&all[1_150]).await.unwrap();
    let before = storage.row_counts().await.unwrap();
    let err = storage.store_episodes(all.clone()).await.unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    assert!(
        err.to_string().contains(&all[1_150].id.to_string()),
        "{err}"
    );
    assert_eq!(storage.row_counts().await.unwrap(), before);

    let mut misnumbered = with_new_ids(assorted(1_200));
    let last = misnumbered.len() - 1;
    misnumbered[last].steps = vec![recorded(2, "cargo", "test", 10)];
    let err = storage.store_episodes(misnumbered).await.unwrap_err();
    assert!(matches!(err, MemoryError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("steps[0].seq"), "{err}");
    assert_eq!(storage.row_counts().await.unwrap(), before);

    // The store is still writable after both failures.
    let later = running("ns", "after the failed batches", 9_000);
    storage.store_episode(&later).await.unwrap();
    assert!(storage.get_episode("ns", later.id).await.unwrap().is_some());
}

/// A batch write abandoned half-way (its future dropped, as a timeout or a cancelled
/// request does) leaves nothing behind and the store writable.
#[tokio::test]
async fn a_batch_dropped_half_way_leaves_nothing() {
    let (_dir, storage) = fresh().await;
    let before = storage.row_counts().await.unwrap();
    let many = with_new_ids((0..8).flat_map(|_| assorted(1_000)).collect());
    let write = storage.store_episodes(many);
    let outcome = tokio::time::timeout(std::time::Duration::from_millis(30), write).await;
    assert!(outcome.is_err(), "8,000 episodes were stored within 30 ms");
    assert_eq!(storage.row_counts().await.unwrap(), before);
    let later = running("ns", "after the abandoned batch", 9_000);
    storage.store_episode(&later).await.unwrap();
    assert!(storage.get_episode("ns", later.id).await.unwrap().is_some());
}

#[tokio::test]
async fn store_batches_is_one_transaction_even_across_batches() {
    let (_dir, storage) = fresh().await;
    let all = assorted(30);
    let mut batches: Vec<memory_core::Result<ImportBatch>> = all
        .chunks(10)
        .map(|c| {
            Ok(ImportBatch {
                episodes: c.to_vec(),
                ..ImportBatch::default()
            })
        })
        .collect();
    // The source fails after two good batches: nothing of them may remain.
    batches.insert(
        2,
        Err(MemoryError::Invalid(memory_core::ValidationError::new(
            "line 3",
            "is broken",
        ))),
    );
    let mut source = batches.into_iter();
    let err = storage.store_batches(&mut source).await.unwrap_err();
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(storage.row_counts().await.unwrap().episodes, 0);

    let mut good = all.chunks(10).map(|c| {
        Ok(ImportBatch {
            episodes: c.to_vec(),
            ..ImportBatch::default()
        })
    });
    let counts = storage.store_batches(&mut good).await.unwrap();
    assert_eq!(counts.episodes, 30);
    assert_eq!(storage.row_counts().await.unwrap().episodes, 30);
}

#[tokio::test]
async fn store_patterns_stores_exactly_what_completion_learned() {
    let (_d1, learned) = fresh().await;
    for i in 0..6 {
        let mut e = running("ns", &format!("deploy {i}"), i);
        e.steps = vec![
            recorded(1, "terraform plan", "plan", 5),
            recorded(2, "terraform apply", "apply", 9),
        ];
        learned.store_episode(&e).await.unwrap();
        let c = completion_of(&e, success("deployed"), at(100 + i));
        learned.complete_episode("ns", e.id, &c).await.unwrap();
    }
    let mut all = memory_core::PatternFilter::new("ns");
    all.limit = 1_000;
    let patterns = learned.list_patterns(&all).await.unwrap();
    assert!(!patterns.is_empty());

    let (_d2, copy) = fresh().await;
    copy.store_patterns(patterns.clone()).await.unwrap();
    assert_eq!(copy.list_patterns(&all).await.unwrap(), patterns);
    for p in &patterns {
        assert_eq!(
            copy.get_pattern("ns", p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
    // The same signature under another id is a conflict, and nothing of the batch is kept.
    let mut again = patterns[0].clone();
    again.id = Uuid::now_v7();
    let mut fresh_one = patterns[0].clone();
    fresh_one.id = Uuid::now_v7();
    fresh_one.signature = "another".into();
    let err = copy
        .store_patterns(vec![fresh_one.clone(), again])
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err:?}");
    assert!(
        copy.get_pattern("ns", fresh_one.id)
            .await
            .unwrap()
            .is_none()
    );
}
