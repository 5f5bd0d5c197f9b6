//! The graph: edges (their checks, listing and deletion), cycles of the acyclic kinds, and
//! checkpoints.

use super::builders::*;
use memory_core::{
    Direction, ImportBatch, MemoryError, Relationship, RelationshipFilter, RelationshipKind,
    StorageBackend,
};
use std::sync::Arc;
use uuid::Uuid;

/// The ids of the edges a filter returns.
async fn edge_ids(store: &dyn StorageBackend, filter: &RelationshipFilter) -> Vec<Uuid> {
    store
        .relationships(filter)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Edges join episodes of their namespace, once (either way round for a symmetric kind);
/// they are listed oldest first by direction, kind and limit (the newest), and deleted by
/// ends and kind (a symmetric one either way round).
pub async fn relationships_store_list_and_delete(store: Arc<dyn StorageBackend>) {
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|t| running("ns", t, 0));
    let x = running("other", "x", 0);
    store_all(store.as_ref(), &[&a, &b, &c, &d, &x]).await;
    use RelationshipKind::*;
    let ab = edge("ns", a.id, b.id, ParentChild, at(1));
    let bc = edge("ns", b.id, c.id, DependsOn, at(2));
    let ac = edge("ns", a.id, c.id, RelatedTo, at(3));
    let da = edge("ns", d.id, a.id, References, at(4));
    for e in [&ab, &bc, &ac, &da] {
        store.store_relationship(e).await.unwrap();
    }
    let refused: Vec<(&str, Relationship, &str)> = vec![
        (
            "the same link again",
            edge("ns", a.id, b.id, ParentChild, at(5)),
            "conflict",
        ),
        (
            "a symmetric link reversed",
            edge("ns", c.id, a.id, RelatedTo, at(5)),
            "conflict",
        ),
        (
            "an id taken",
            Relationship {
                to: d.id,
                kind: Follows,
                ..ab.clone()
            },
            "conflict",
        ),
        (
            "a self-link",
            edge("ns", a.id, a.id, Follows, at(5)),
            "invalid",
        ),
        (
            "an end in another namespace",
            edge("ns", a.id, x.id, Follows, at(5)),
            "not found",
        ),
        (
            "an unknown end",
            edge("ns", Uuid::now_v7(), a.id, Follows, at(5)),
            "not found",
        ),
    ];
    for (what, e, expected) in refused {
        assert_error(store.store_relationship(&e).await, expected, what);
    }
    let stored = store
        .relationships(&RelationshipFilter::new("ns"))
        .await
        .unwrap();
    assert_eq!(stored, [ab.clone(), bc.clone(), ac.clone(), da.clone()]);
    assert!(
        store
            .relationships(&RelationshipFilter::new("other"))
            .await
            .unwrap()
            .is_empty()
    );

    let around = |direction, kinds: Vec<RelationshipKind>, limit| RelationshipFilter {
        episodes: vec![a.id],
        direction,
        kinds,
        limit,
        ..RelationshipFilter::new("ns")
    };
    let cases = [
        (
            around(Direction::Outgoing, vec![], None),
            vec![ab.id, ac.id],
        ),
        (around(Direction::Incoming, vec![], None), vec![da.id]),
        (
            around(Direction::Both, vec![], None),
            vec![ab.id, ac.id, da.id],
        ),
        (
            around(Direction::Both, vec![RelatedTo, References], None),
            vec![ac.id, da.id],
        ),
        (around(Direction::Both, vec![], Some(2)), vec![ac.id, da.id]),
        (
            RelationshipFilter {
                limit: Some(3),
                ..RelationshipFilter::new("ns")
            },
            vec![bc.id, ac.id, da.id],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            edge_ids(store.as_ref(), &filter).await,
            expected,
            "{filter:?}"
        );
    }

    assert_eq!(
        store
            .delete_relationships("ns", c.id, a.id, Some(RelatedTo))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_relationships("ns", b.id, c.id, Some(ParentChild))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_relationships("ns", a.id, b.id, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_relationships("ns", a.id, Uuid::now_v7(), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_relationships("other", d.id, a.id, None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        edge_ids(store.as_ref(), &RelationshipFilter::new("ns")).await,
        [bc.id, da.id]
    );
}

/// An edge of an acyclic kind that would close a cycle of its kind is refused with the
/// cycle (single or in a batch), and nothing is written; other kinds may cycle.
pub async fn acyclic_kinds_refuse_cycles(store: Arc<dyn StorageBackend>) {
    let [a, b, c] = ["a", "b", "c"].map(|t| running("ns", t, 0));
    store_all(store.as_ref(), &[&a, &b, &c]).await;
    use RelationshipKind::*;
    store
        .store_relationship(&edge("ns", a.id, b.id, ParentChild, at(1)))
        .await
        .unwrap();
    store
        .store_relationship(&edge("ns", b.id, c.id, ParentChild, at(2)))
        .await
        .unwrap();
    match store
        .store_relationship(&edge("ns", c.id, a.id, ParentChild, at(3)))
        .await
    {
        Err(MemoryError::Cycle { kind, path }) => {
            assert_eq!(kind, ParentChild);
            assert_eq!(path, [c.id, a.id, b.id, c.id]);
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
    let batch = ImportBatch {
        relationships: vec![
            edge("ns", c.id, a.id, Follows, at(4)),
            edge("ns", c.id, a.id, ParentChild, at(5)),
        ],
        ..ImportBatch::default()
    };
    assert_error(
        store.store_batch(batch).await,
        "cycle",
        "a cycle in a batch",
    );
    assert_eq!(
        store
            .relationships(&RelationshipFilter::new("ns"))
            .await
            .unwrap()
            .len(),
        2
    );
    store
        .store_relationship(&edge("ns", c.id, a.id, DependsOn, at(6)))
        .await
        .unwrap();
    store
        .store_relationship(&edge("ns", b.id, a.id, Follows, at(7)))
        .await
        .unwrap();
    assert_eq!(
        store
            .relationships(&RelationshipFilter::new("ns"))
            .await
            .unwrap()
            .len(),
        4
    );
}

/// A checkpoint of a running episode is stored with the episode's step count at that
/// moment; checkpoints list oldest first, per episode or namespace; completed and unknown
/// episodes and taken ids are refused.
pub async fn checkpoints_record_the_step_count(store: Arc<dyn StorageBackend>) {
    let e = running("ns", "long task", 0);
    let f = running("ns", "other task", 0);
    let done = finished("ns", "done", 0, success("ok"));
    store_all(store.as_ref(), &[&e, &f, &done]).await;
    for i in 0..2 {
        store
            .append_step("ns", e.id, step("t", "a", 1), at(i + 1), 10)
            .await
            .unwrap();
    }
    let mut late = checkpoint("ns", e.id, at(50), "later");
    late.step_count = 99;
    let late = store.store_checkpoint(&late).await.unwrap();
    assert_eq!(late.step_count, 2);
    store
        .append_step("ns", e.id, step("t", "a", 1), at(3), 10)
        .await
        .unwrap();
    let early = store
        .store_checkpoint(&checkpoint("ns", e.id, at(40), "earlier"))
        .await
        .unwrap();
    assert_eq!(early.step_count, 3);
    let of_f = store
        .store_checkpoint(&checkpoint("ns", f.id, at(45), "f"))
        .await
        .unwrap();

    assert_eq!(
        store.checkpoints("ns", Some(e.id)).await.unwrap(),
        [early.clone(), late.clone()]
    );
    assert_eq!(
        store.checkpoints("ns", None).await.unwrap(),
        [early.clone(), of_f, late.clone()]
    );
    assert!(store.checkpoints("other", None).await.unwrap().is_empty());
    assert_error(
        store
            .store_checkpoint(&checkpoint("ns", done.id, at(60), "x"))
            .await,
        "conflict",
        "a checkpoint of a completed episode",
    );
    assert_error(
        store
            .store_checkpoint(&checkpoint("ns", Uuid::now_v7(), at(60), "x"))
            .await,
        "not found",
        "a checkpoint of an unknown episode",
    );
    assert_error(
        store
            .store_checkpoint(&checkpoint("other", e.id, at(60), "x"))
            .await,
        "not found",
        "a checkpoint from another namespace",
    );
    assert_error(
        store.store_checkpoint(&late).await,
        "conflict",
        "a checkpoint id taken",
    );
}
