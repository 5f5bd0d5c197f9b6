//! Learning and sessions: patterns merged by completions and taken back by deletes, the
//! pattern listing, feedback (reported or given by a completion), and session retention.

use super::builders::*;
use memory_core::{
    ExportFilter, Feedback, OutcomeKind, Pattern, PatternFilter, PatternKind, PatternKindName,
    PatternOrder, PatternScope, SessionRetention, StorageBackend, TaskType,
};
use std::sync::Arc;
use uuid::Uuid;

/// The tools every recorded episode of these checks runs.
const FIX: [&str; 3] = ["cargo test", "edit_file", "cargo test"];

/// The ids of a pattern listing.
async fn pattern_ids(store: &dyn StorageBackend, filter: &PatternFilter) -> Vec<Uuid> {
    store
        .list_patterns(filter)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

/// Completions merge what they teach into the namespace's patterns: a second episode
/// with the same tools adds to the same patterns, whose ids the episode records.
pub async fn completions_merge_into_patterns(store: Arc<dyn StorageBackend>) {
    let first = record(
        store.as_ref(),
        "ns",
        "Fix the flaky test",
        0,
        &FIX,
        success("green"),
    )
    .await;
    let second = record(
        store.as_ref(),
        "ns",
        "Fix the parser test",
        100,
        &FIX,
        success("green"),
    )
    .await;
    assert!(!first.pattern_ids.is_empty());
    assert_eq!(
        first.pattern_ids, second.pattern_ids,
        "the same observations, the same patterns"
    );
    let listed = store
        .list_patterns(&PatternFilter::new("ns"))
        .await
        .unwrap();
    assert_eq!(listed.len(), first.pattern_ids.len());
    for id in &second.pattern_ids {
        let p = store.get_pattern("ns", *id).await.unwrap().unwrap();
        assert_eq!(p.stats.episodes, 2, "{p:?}");
        assert!(p.evidence.contains(&first.id) && p.evidence.contains(&second.id));
        assert_eq!(p.last_seen, second.ended_at.unwrap());
    }
    let sequence = listed
        .iter()
        .find(|p| matches!(&p.kind, PatternKind::ToolSequence { tools } if tools == &["cargo test", "edit_file"]))
        .expect("the tool pair is a pattern");
    assert_eq!(sequence.stats.successful_episodes, 2);
}

/// Deleting a completed episode takes its share back from every pattern and baseline it
/// fed; a pattern or baseline left with no episode goes.
pub async fn delete_takes_back_what_an_episode_taught(store: Arc<dyn StorageBackend>) {
    let first = record(
        store.as_ref(),
        "ns",
        "Fix the flaky test",
        0,
        &FIX,
        success("green"),
    )
    .await;
    let second = record(
        store.as_ref(),
        "ns",
        "Fix the parser test",
        100,
        &FIX,
        failure("red"),
    )
    .await;
    assert!(store.delete_episode("ns", first.id, 30.0).await.unwrap());
    for id in &second.pattern_ids {
        let p = store.get_pattern("ns", *id).await.unwrap().unwrap();
        assert_eq!(
            (p.stats.episodes, p.stats.successful_episodes),
            (1, 0),
            "{p:?}"
        );
        assert!(!p.evidence.contains(&first.id));
    }
    assert!(store.delete_episode("ns", second.id, 30.0).await.unwrap());
    assert!(
        store
            .list_patterns(&PatternFilter::new("ns"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .count_episodes("ns")
            .await
            .unwrap()
            .map(|c| c.patterns),
        Some(0)
    );
    let mut snapshot = store
        .export_snapshot(&ExportFilter::new("ns"))
        .await
        .unwrap();
    assert!(
        snapshot.context_stats(None, 100).await.unwrap().is_empty(),
        "baselines are gone"
    );
    snapshot.close().await.unwrap();
}

/// The patterns of the listing's checks: (`a`, `b`, `c`, `d`).
fn listed_patterns() -> [Pattern; 4] {
    let a = pattern(
        "ns",
        tools(&["a", "b"]),
        PatternScope {
            domain: Some("Web".into()),
            ..PatternScope::default()
        },
        5,
        5,
        1.5,
        at(10),
    );
    let b = pattern(
        "ns",
        PatternKind::ErrorRecovery {
            tool: "cargo".into(),
            error_class: "E0308".into(),
            recovery: vec!["edit".into()],
        },
        PatternScope::default(),
        2,
        1,
        0.8,
        at(30),
    );
    let c = pattern(
        "ns",
        tools(&["c", "d"]),
        PatternScope {
            domain: Some("db".into()),
            tag: Some("rust".into()),
            task_type: Some(TaskType::Testing),
            ..PatternScope::default()
        },
        10,
        9,
        1.1,
        at(20),
    );
    let d = pattern(
        "ns",
        PatternKind::DecisionPoint {
            condition: "tests are slow".into(),
            choice: "run one".into(),
        },
        PatternScope {
            tag: Some("python".into()),
            ..PatternScope::default()
        },
        1,
        0,
        1.0,
        at(5),
    );
    [a, b, c, d]
}

/// The listing filters by kind, by scope (unset holds everywhere; values match ignoring
/// case), tags, support and confidence, orders by each order (ties by id) and pages.
pub async fn pattern_listing_filters_and_orders(store: Arc<dyn StorageBackend>) {
    let [a, b, c, d] = listed_patterns();
    store
        .store_patterns(vec![a.clone(), b.clone(), c.clone(), d.clone()])
        .await
        .unwrap();
    let with = |set: &dyn Fn(&mut PatternFilter)| {
        let mut f = PatternFilter::new("ns");
        set(&mut f);
        f
    };
    // Confidence order, as the store computes it.
    let mut by_confidence = [&a, &b, &c, &d];
    by_confidence.sort_by(|x, y| {
        y.stats
            .confidence()
            .partial_cmp(&x.stats.confidence())
            .unwrap()
            .then(x.id.cmp(&y.id))
    });
    let confident: Vec<Uuid> = by_confidence.iter().map(|p| p.id).collect();
    let keep = |ids: &[Uuid]| -> Vec<Uuid> {
        confident
            .iter()
            .copied()
            .filter(|i| ids.contains(i))
            .collect()
    };
    let cases: Vec<(PatternFilter, Vec<Uuid>)> = vec![
        (PatternFilter::new("ns"), confident.clone()),
        (
            with(&|f| f.kind = Some(PatternKindName::ToolSequence)),
            keep(&[a.id, c.id]),
        ),
        (
            with(&|f| f.domain = Some("WEB".into())),
            keep(&[a.id, b.id, d.id]),
        ),
        (
            with(&|f| f.task_type = Some(TaskType::Debugging)),
            keep(&[a.id, b.id, d.id]),
        ),
        (
            with(&|f| f.tags = vec!["Rust".into()]),
            keep(&[a.id, b.id, c.id]),
        ),
        (with(&|f| f.min_episodes = 5), keep(&[a.id, c.id])),
        (
            with(&|f| f.min_confidence = 0.5),
            confident
                .iter()
                .copied()
                .filter(|id| {
                    [&a, &b, &c, &d]
                        .iter()
                        .any(|p| p.id == *id && p.stats.confidence() >= 0.5)
                })
                .collect(),
        ),
        (
            with(&|f| f.order = PatternOrder::Support),
            vec![c.id, a.id, b.id, d.id],
        ),
        (
            with(&|f| f.order = PatternOrder::Lift),
            vec![a.id, c.id, d.id, b.id],
        ),
        (
            with(&|f| f.order = PatternOrder::Recent),
            vec![b.id, c.id, a.id, d.id],
        ),
        (
            with(&|f| {
                f.order = PatternOrder::Support;
                f.offset = 1;
                f.limit = 2;
            }),
            vec![a.id, b.id],
        ),
        (PatternFilter::new("other"), vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            pattern_ids(store.as_ref(), &filter).await,
            expected,
            "{filter:?}"
        );
    }
    assert_eq!(store.get_pattern("ns", a.id).await.unwrap(), Some(a));
}

/// Feedback credits each applied pattern once (a repeated id once, an unknown one
/// skipped): helped on success, hindered on failure; a session takes feedback once.
pub async fn feedback_credits_applied_patterns_once(store: Arc<dyn StorageBackend>) {
    let [a, b, ..] = listed_patterns();
    store
        .store_patterns(vec![a.clone(), b.clone()])
        .await
        .unwrap();
    let good = session("ns", at(0), vec![a.id, b.id]);
    let bad = session("ns", at(1), vec![a.id]);
    store.store_session(&good, &keep_all()).await.unwrap();
    store.store_session(&bad, &keep_all()).await.unwrap();
    let feedback = Feedback {
        applied: vec![a.id, a.id, b.id, Uuid::now_v7()],
        outcome: OutcomeKind::Success,
        recorded_at: at(5),
    };
    store
        .record_feedback("ns", good.id, &feedback)
        .await
        .unwrap();
    assert_error(
        store.record_feedback("ns", good.id, &feedback).await,
        "conflict",
        "feedback twice",
    );
    assert_error(
        store.record_feedback("ns", Uuid::now_v7(), &feedback).await,
        "not found",
        "an unknown session",
    );
    store
        .record_feedback(
            "ns",
            bad.id,
            &Feedback {
                applied: vec![a.id],
                outcome: OutcomeKind::Failure,
                recorded_at: at(6),
            },
        )
        .await
        .unwrap();
    let a = store.get_pattern("ns", a.id).await.unwrap().unwrap();
    let b = store.get_pattern("ns", b.id).await.unwrap().unwrap();
    let e = |p: &Pattern| {
        (
            p.effectiveness.applied,
            p.effectiveness.helped,
            p.effectiveness.hindered,
        )
    };
    assert_eq!((e(&a), e(&b)), ((2, 1, 1), (1, 1, 0)));
    let stored = store.get_session("ns", good.id).await.unwrap().unwrap();
    assert_eq!(stored.feedback, Some(feedback));
}

/// Completing an episode started from a session gives that session the episode's
/// outcome on every pattern it recommended (unless it has feedback already); deleting the
/// episode takes session and feedback back.
pub async fn completion_gives_its_session_feedback(store: Arc<dyn StorageBackend>) {
    let [a, ..] = listed_patterns();
    store.store_patterns(vec![a.clone()]).await.unwrap();
    let s = session("ns", at(0), vec![a.id]);
    store.store_session(&s, &keep_all()).await.unwrap();
    let mut e = running("ns", "Follow the advice", 1);
    e.retrieval_session = Some(s.id);
    store.store_episode(&e).await.unwrap();
    let mut completion = plain_completion(0, success("it worked"), at(10));
    completion.feedback_session = Some(s.id);
    store
        .complete_episode("ns", e.id, &completion)
        .await
        .unwrap();

    let given = store
        .get_session("ns", s.id)
        .await
        .unwrap()
        .unwrap()
        .feedback
        .unwrap();
    assert_eq!(
        (given.applied, given.outcome, given.recorded_at),
        (vec![a.id], OutcomeKind::Success, at(10))
    );
    let credited = store.get_pattern("ns", a.id).await.unwrap().unwrap();
    assert_eq!(
        (
            credited.effectiveness.applied,
            credited.effectiveness.helped
        ),
        (1, 1)
    );

    // A session that has feedback already keeps it.
    let reported = session("ns", at(2), vec![a.id]);
    store.store_session(&reported, &keep_all()).await.unwrap();
    let own = Feedback {
        applied: vec![],
        outcome: OutcomeKind::Failure,
        recorded_at: at(3),
    };
    store
        .record_feedback("ns", reported.id, &own)
        .await
        .unwrap();
    let other = running("ns", "Another", 4);
    store.store_episode(&other).await.unwrap();
    let mut completion = plain_completion(0, success("fine"), at(11));
    completion.feedback_session = Some(reported.id);
    store
        .complete_episode("ns", other.id, &completion)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_session("ns", reported.id)
            .await
            .unwrap()
            .unwrap()
            .feedback,
        Some(own)
    );

    assert!(store.delete_episode("ns", e.id, 30.0).await.unwrap());
    assert!(store.get_session("ns", s.id).await.unwrap().is_none());
    let back = store.get_pattern("ns", a.id).await.unwrap().unwrap();
    assert_eq!(
        (back.effectiveness.applied, back.effectiveness.helped),
        (0, 0)
    );
}

/// Sessions are read back by namespace and listed by id; an id is stored once; storing
/// one drops its namespace's sessions past the retention's count and age.
pub async fn sessions_are_kept_by_retention(store: Arc<dyn StorageBackend>) {
    let olds: Vec<_> = (0..3).map(|i| session("ns", at(i * 10), vec![])).collect();
    for s in &olds {
        store.store_session(s, &keep_all()).await.unwrap();
    }
    let elsewhere = session("other", at(0), vec![]);
    store.store_session(&elsewhere, &keep_all()).await.unwrap();
    assert_eq!(
        store.get_session("ns", olds[1].id).await.unwrap(),
        Some(olds[1].clone())
    );
    assert!(
        store
            .get_session("other", olds[1].id)
            .await
            .unwrap()
            .is_none()
    );
    let mut by_id: Vec<Uuid> = olds.iter().map(|s| s.id).collect();
    by_id.sort();
    let listed: Vec<Uuid> = store
        .list_sessions("ns")
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, by_id);
    assert_error(
        store.store_session(&olds[0], &keep_all()).await,
        "conflict",
        "the same session twice",
    );

    let newest = session("ns", at(30), vec![]);
    let two = SessionRetention {
        max_per_namespace: 2,
        max_age_days: 1_000.0,
    };
    store.store_session(&newest, &two).await.unwrap();
    let mut kept: Vec<Uuid> = vec![olds[2].id, newest.id];
    kept.sort();
    let listed: Vec<Uuid> = store
        .list_sessions("ns")
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, kept);

    let month_later = session("ns", at(30 + 40 * 86_400), vec![]);
    let thirty_days = SessionRetention {
        max_per_namespace: 100,
        max_age_days: 30.0,
    };
    store
        .store_session(&month_later, &thirty_days)
        .await
        .unwrap();
    let listed: Vec<Uuid> = store
        .list_sessions("ns")
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [month_later.id]);
    assert_eq!(store.list_sessions("other").await.unwrap(), [elsewhere]);
}
