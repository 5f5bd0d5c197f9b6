//! Transfer and retention: batch writes (all or nothing, a repeat refused without
//! effect), the export snapshot (one moment, export order, the filter's range), and
//! garbage collection.

use super::builders::*;
use memory_core::{
    BatchCounts, ContextStatsRecord, EpisodeCounts, EpisodeFilter, ExportFilter, GarbageCounts,
    GarbagePlan, ImportBatch, MemoryError, OutcomeStats, PatternFilter, RelationshipFilter,
    RelationshipKind, SessionRetention, StorageBackend, ValidationError,
};
use std::sync::Arc;
use uuid::Uuid;

/// A batch of every kind of record in `ns`, its relationship and checkpoint on its own
/// episodes.
fn full_batch(ns: &str) -> ImportBatch {
    let mut done = finished(ns, "imported", 0, success("ok"));
    done.steps = vec![
        step("t", "a", 1).into_step(1, at(1)),
        step("u", "b", 2).into_step(2, at(2)),
    ];
    let open = running(ns, "still open", 10);
    let p = pattern(
        ns,
        tools(&["t", "u"]),
        Default::default(),
        1,
        1,
        1.0,
        at(60),
    );
    ImportBatch {
        context_stats: vec![ContextStatsRecord {
            namespace: ns.to_string(),
            scope_key: format!("tag=t{}", Uuid::now_v7().simple()),
            stats: OutcomeStats::empty(at(60)),
        }],
        patterns: vec![p.clone()],
        relationships: vec![edge(
            ns,
            open.id,
            done.id,
            RelationshipKind::Follows,
            at(11),
        )],
        checkpoints: vec![checkpoint(ns, open.id, at(12), "saved")],
        sessions: vec![session(ns, at(13), vec![p.id])],
        episodes: vec![done, open],
    }
}

/// What a namespace holds, for comparing before and after a refused write.
async fn contents(
    store: &dyn StorageBackend,
    ns: &str,
) -> (Option<EpisodeCounts>, usize, usize, usize) {
    (
        store.count_episodes(ns).await.unwrap(),
        store.list_sessions(ns).await.unwrap().len(),
        store.checkpoints(ns, None).await.unwrap().len(),
        store
            .relationships(&RelationshipFilter::new(ns))
            .await
            .unwrap()
            .len(),
    )
}

/// A batch stores every record as given and counts them; the same batch again is refused
/// and changes nothing; a batch (or a run of batches) failing anywhere leaves nothing.
pub async fn batches_are_all_or_nothing(store: Arc<dyn StorageBackend>) {
    let batch = full_batch("ns");
    let counts = store.store_batch(batch.clone()).await.unwrap();
    assert_eq!(
        counts,
        BatchCounts {
            episodes: 2,
            steps: 2,
            patterns: 1,
            context_stats: 1,
            sessions: 1,
            checkpoints: 1,
            relationships: 1,
        }
    );
    for e in &batch.episodes {
        assert_eq!(*store.get_episode("ns", e.id).await.unwrap().unwrap(), *e);
    }
    assert_eq!(
        store
            .list_patterns(&PatternFilter::new("ns"))
            .await
            .unwrap(),
        batch.patterns
    );
    assert_eq!(store.list_sessions("ns").await.unwrap(), batch.sessions);
    assert_eq!(
        store.checkpoints("ns", None).await.unwrap(),
        batch.checkpoints
    );
    let before = contents(store.as_ref(), "ns").await;
    assert_eq!(
        store.store_batch(ImportBatch::default()).await.unwrap(),
        BatchCounts::default()
    );

    assert_error(
        store.store_batch(batch.clone()).await,
        "conflict",
        "the same batch again",
    );
    let new_one = finished("ns", "new", 100, success("ok"));
    let episodes_again = ImportBatch {
        episodes: vec![new_one.clone(), batch.episodes[0].clone()],
        ..ImportBatch::default()
    };
    assert_error(
        store.store_batch(episodes_again).await,
        "conflict",
        "a stored episode",
    );
    assert!(
        store.get_episode("ns", new_one.id).await.unwrap().is_none(),
        "rolled back"
    );
    let mut bad_edge = full_batch("ns");
    bad_edge.relationships.push(edge(
        "ns",
        bad_edge.episodes[0].id,
        Uuid::now_v7(),
        RelationshipKind::Follows,
        at(20),
    ));
    assert_error(
        store.store_batch(bad_edge).await,
        "not found",
        "an edge to an unknown episode",
    );
    assert_eq!(contents(store.as_ref(), "ns").await, before);

    let fine = full_batch("ns");
    let first = fine.episodes[0].id;
    let mut run = vec![
        Ok(fine),
        Err(MemoryError::Invalid(ValidationError::new(
            "line 7",
            "is not JSON",
        ))),
    ]
    .into_iter();
    assert_error(
        store.store_batches(&mut run).await,
        "invalid",
        "a run with a bad line",
    );
    assert!(store.get_episode("ns", first).await.unwrap().is_none());
    assert_eq!(contents(store.as_ref(), "ns").await, before);

    let mut two = vec![Ok(full_batch("ns")), Ok(full_batch("ns"))].into_iter();
    let total = store.store_batches(&mut two).await.unwrap();
    assert_eq!((total.episodes, total.relationships), (4, 2));
    let mut all = EpisodeFilter::new("ns");
    all.limit = 100;
    assert_eq!(store.list_episodes(&all).await.unwrap().len(), 6);
}

/// An export snapshot reads the store as it was when opened, in export order and pages,
/// within the filter's range (edges and checkpoints only with all their episodes).
pub async fn export_snapshot_pages_one_moment(store: Arc<dyn StorageBackend>) {
    let [e10, e20, e30] = [10, 20, 30].map(|s| running("ns", "t", s));
    store_all(store.as_ref(), &[&e30, &e10, &e20]).await;
    let old_edge = edge("ns", e10.id, e20.id, RelationshipKind::Follows, at(40));
    let new_edge = edge("ns", e20.id, e30.id, RelationshipKind::Follows, at(41));
    store.store_relationship(&old_edge).await.unwrap();
    store.store_relationship(&new_edge).await.unwrap();
    let c10 = store
        .store_checkpoint(&checkpoint("ns", e10.id, at(42), "a"))
        .await
        .unwrap();
    let c30 = store
        .store_checkpoint(&checkpoint("ns", e30.id, at(43), "b"))
        .await
        .unwrap();
    let s_early = session("ns", at(5), vec![]);
    let s_late = session("ns", at(28), vec![]);
    store.store_session(&s_early, &keep_all()).await.unwrap();
    store.store_session(&s_late, &keep_all()).await.unwrap();
    let older = pattern(
        "ns",
        tools(&["a", "b"]),
        Default::default(),
        1,
        1,
        1.0,
        at(50),
    );
    let newer = pattern(
        "ns",
        tools(&["c", "d"]),
        Default::default(),
        1,
        1,
        1.0,
        at(70),
    );
    store
        .store_patterns(vec![older.clone(), newer.clone()])
        .await
        .unwrap();

    let mut snapshot = store
        .export_snapshot(&ExportFilter::new("ns"))
        .await
        .unwrap();
    let first = snapshot.episodes(None, 2).await.unwrap();
    assert_eq!(first, [e10.clone(), e20.clone()]);
    // Written after the snapshot's first read: in none of its pages. (The contract is one
    // snapshot for every page; libSQL fixes it at the first read, not at opening.)
    store
        .store_episode(&running("ns", "later", 25))
        .await
        .unwrap();
    let rest = snapshot
        .episodes(Some((e20.started_at, e20.id)), 2)
        .await
        .unwrap();
    assert_eq!(rest, std::slice::from_ref(&e30));
    assert_eq!(
        snapshot.newest_pattern().await.unwrap(),
        Some(newer.clone())
    );
    let mut by_id = vec![older.clone(), newer.clone()];
    by_id.sort_by_key(|p| p.id);
    assert_eq!(snapshot.patterns(None, 10).await.unwrap(), by_id);
    assert_eq!(
        snapshot.patterns(Some(by_id[0].id), 10).await.unwrap(),
        by_id[1..]
    );
    assert_eq!(
        snapshot.checkpoints(None, 10).await.unwrap(),
        [c10.clone(), c30.clone()]
    );
    assert_eq!(
        snapshot
            .checkpoints(Some((c10.at, c10.id)), 10)
            .await
            .unwrap(),
        std::slice::from_ref(&c30)
    );
    assert_eq!(
        snapshot.relationships(None, 1).await.unwrap(),
        std::slice::from_ref(&old_edge)
    );
    let mut sessions = vec![s_early.clone(), s_late.clone()];
    sessions.sort_by_key(|s| s.id);
    assert_eq!(snapshot.sessions(None, 10).await.unwrap(), sessions);
    assert!(snapshot.context_stats(None, 10).await.unwrap().is_empty());
    snapshot.close().await.unwrap();

    let range = ExportFilter {
        started_after: Some(at(15)),
        started_before: Some(at(31)),
        ..ExportFilter::new("ns")
    };
    let mut snapshot = store.export_snapshot(&range).await.unwrap();
    let ids: Vec<Uuid> = snapshot
        .episodes(None, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 3, "e20, the later one and e30");
    assert_eq!((ids[0], ids[2]), (e20.id, e30.id));
    assert_eq!(snapshot.relationships(None, 10).await.unwrap(), [new_edge]);
    assert_eq!(snapshot.checkpoints(None, 10).await.unwrap(), [c30]);
    assert_eq!(snapshot.sessions(None, 10).await.unwrap(), [s_late]);
    snapshot.close().await.unwrap();
    let mut empty = store
        .export_snapshot(&ExportFilter::new("none"))
        .await
        .unwrap();
    assert!(empty.episodes(None, 10).await.unwrap().is_empty());
    assert_eq!(empty.newest_pattern().await.unwrap(), None);
    empty.close().await.unwrap();
}

/// Garbage collection drops expired sessions, weak patterns and surplus cached
/// embeddings (other embedders' first), as a dry run counts them without changing
/// anything.
pub async fn garbage_collection_follows_the_plan(store: Arc<dyn StorageBackend>) {
    let now = at(400 * 86_400);
    let days_ago = |d: i64| at(400 * 86_400 - d * 86_400);
    let sessions = [days_ago(40), days_ago(2), days_ago(1)].map(|t| session("ns", t, vec![]));
    for s in &sessions {
        store.store_session(s, &keep_all()).await.unwrap();
    }
    let other_ns = session("other", days_ago(3), vec![]);
    store.store_session(&other_ns, &keep_all()).await.unwrap();
    let weak = pattern(
        "ns",
        tools(&["old", "one"]),
        Default::default(),
        1,
        1,
        1.0,
        days_ago(399),
    );
    let strong = pattern(
        "ns",
        tools(&["new", "one"]),
        Default::default(),
        1,
        1,
        1.0,
        days_ago(1),
    );
    store
        .store_patterns(vec![weak.clone(), strong.clone()])
        .await
        .unwrap();
    store.ensure_vector_space("axes", 2).await.unwrap();
    let cached = |h: &str| (h.to_string(), vec![1.0, 0.0]);
    store
        .cache_embeddings("axes", &[cached("a"), cached("b"), cached("c")])
        .await
        .unwrap();
    store
        .cache_embeddings("old-model", &[cached("0")])
        .await
        .unwrap();

    let plan = GarbagePlan {
        now,
        dry_run: true,
        sessions: SessionRetention {
            max_per_namespace: 1,
            max_age_days: 30.0,
        },
        min_pattern_support: 0.05,
        half_life_days: 30.0,
        max_cached_embeddings: 2,
    };
    let expected = GarbageCounts {
        sessions: 2,
        patterns: 1,
        cached_embeddings: 2,
    };
    assert_eq!(store.collect_garbage(&plan).await.unwrap(), expected);
    assert_eq!(
        store.list_sessions("ns").await.unwrap().len(),
        3,
        "a dry run changes nothing"
    );
    assert!(store.get_pattern("ns", weak.id).await.unwrap().is_some());

    let done = GarbagePlan {
        dry_run: false,
        ..plan
    };
    assert_eq!(store.collect_garbage(&done).await.unwrap(), expected);
    assert_eq!(
        store.list_sessions("ns").await.unwrap(),
        [sessions[2].clone()]
    );
    assert_eq!(store.list_sessions("other").await.unwrap(), [other_ns]);
    assert!(store.get_pattern("ns", weak.id).await.unwrap().is_none());
    assert!(store.get_pattern("ns", strong.id).await.unwrap().is_some());
    let hashes: Vec<String> = ["a", "b", "c"].iter().map(|h| h.to_string()).collect();
    assert_eq!(
        store.cached_embeddings("axes", &hashes).await.unwrap(),
        [Some(vec![1.0, 0.0]), Some(vec![1.0, 0.0]), None]
    );
    assert_eq!(
        store
            .cached_embeddings("old-model", &["0".into()])
            .await
            .unwrap(),
        [None]
    );
    assert_eq!(
        store.collect_garbage(&done).await.unwrap(),
        GarbageCounts::default()
    );
}
