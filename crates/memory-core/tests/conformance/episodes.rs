//! Episodes: storing, steps, completion, the listing and its cursor, deletion, costs,
//! idle episodes, counts, statistics and namespace isolation.

use super::builders::*;
use memory_core::{
    EpisodeCost, EpisodeCounts, EpisodeCursor, EpisodeFilter, EpisodeStatus, OutcomeKind,
    PatternFilter, RelationshipFilter, RelationshipKind, StorageBackend, TaskOutcome, TaskType,
};
use std::sync::Arc;
use uuid::Uuid;

/// The ids of a listing.
async fn ids(store: &dyn StorageBackend, filter: &EpisodeFilter) -> Vec<Uuid> {
    store
        .list_episodes(filter)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

/// An episode is read back exactly as stored, only from its namespace; ids are unique
/// across namespaces.
pub async fn episode_round_trips_and_ids_are_unique(store: Arc<dyn StorageBackend>) {
    let mut e = running("ns", "Fix the login bug", 0);
    e.tags = vec!["urgent".into()];
    e.context.domain = Some("web".into());
    e.metadata.insert("ticket".into(), serde_json::json!(42));
    store.store_episode(&e).await.unwrap();
    assert_eq!(*store.get_episode("ns", e.id).await.unwrap().unwrap(), e);
    assert!(store.get_episode("other", e.id).await.unwrap().is_none());
    assert!(
        store
            .get_episode("ns", Uuid::now_v7())
            .await
            .unwrap()
            .is_none()
    );

    let mut done = finished("ns", "Ship the release", 10, success("shipped"));
    done.steps = vec![step("make", "build", 5).into_step(1, at(11))];
    store.store_episode(&done).await.unwrap();
    assert_eq!(
        *store.get_episode("ns", done.id).await.unwrap().unwrap(),
        done
    );

    assert_error(
        store.store_episode(&e).await,
        "conflict",
        "the same episode again",
    );
    let mut elsewhere = e.clone();
    elsewhere.namespace = "other".into();
    assert_error(
        store.store_episode(&elsewhere).await,
        "conflict",
        "the same id in another namespace",
    );
    assert!(store.get_episode("other", e.id).await.unwrap().is_none());
}

/// Stored steps must be numbered 1, 2, 3, …; a misnumbered episode is refused whole.
pub async fn misnumbered_steps_are_refused(store: Arc<dyn StorageBackend>) {
    let mut e = running("ns", "task", 0);
    e.steps = vec![
        step("a", "x", 1).into_step(1, at(1)),
        step("b", "y", 1).into_step(3, at(2)),
    ];
    assert_error(store.store_episode(&e).await, "invalid", "steps 1, 3");
    assert!(store.get_episode("ns", e.id).await.unwrap().is_none());
    assert!(
        ids(store.as_ref(), &EpisodeFilter::new("ns"))
            .await
            .is_empty()
    );
}

/// Appended steps are numbered from 1, returned as stored, and refused past the limit,
/// for an unknown episode (or one of another namespace) and after completion.
pub async fn steps_are_numbered_and_bounded(store: Arc<dyn StorageBackend>) {
    let e = running("ns", "task", 0);
    store.store_episode(&e).await.unwrap();
    let mut returned = Vec::new();
    for i in 0..3 {
        let s = store
            .append_step(
                "ns",
                e.id,
                step(&format!("tool{i}"), "act", 7),
                at(i + 1),
                3,
            )
            .await
            .unwrap();
        returned.push(s);
    }
    assert_eq!(
        returned.iter().map(|s| s.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(returned[1].at, at(2));
    assert_eq!(returned[1].tool, "tool1");
    let stored = store.get_episode("ns", e.id).await.unwrap().unwrap();
    assert_eq!(stored.steps, returned);
    assert_error(
        store
            .append_step("ns", e.id, step("t", "a", 1), at(9), 3)
            .await,
        "conflict",
        "a fourth step with a limit of 3",
    );
    assert_error(
        store
            .append_step("ns", Uuid::now_v7(), step("t", "a", 1), at(9), 10)
            .await,
        "not found",
        "an unknown episode",
    );
    assert_error(
        store
            .append_step("other", e.id, step("t", "a", 1), at(9), 10)
            .await,
        "not found",
        "an episode of another namespace",
    );
    store
        .complete_episode("ns", e.id, &plain_completion(3, success("ok"), at(20)))
        .await
        .unwrap();
    assert_error(
        store
            .append_step("ns", e.id, step("t", "a", 1), at(21), 10)
            .await,
        "conflict",
        "a step after completion",
    );
    assert_eq!(
        store
            .get_episode("ns", e.id)
            .await
            .unwrap()
            .unwrap()
            .steps
            .len(),
        3
    );
}

/// Completion stores outcome, reward, reflection and pattern ids, keeps the steps, and is
/// refused for an unknown, a completed or a changed episode and for non-finite lessons.
pub async fn completion_records_outcome_and_refuses_misuse(store: Arc<dyn StorageBackend>) {
    let e = running("ns", "Fix the flaky test", 0);
    store.store_episode(&e).await.unwrap();
    for (i, tool) in ["cargo test", "edit_file", "cargo test"].iter().enumerate() {
        store
            .append_step("ns", e.id, step(tool, "go", 10), at(i as i64 + 1), 10)
            .await
            .unwrap();
    }
    let before = store.get_episode("ns", e.id).await.unwrap().unwrap();
    let completion = completion_of(&before, success("green"), at(30));

    let mut stale = completion.clone();
    stale.expected_steps = 2;
    assert_error(
        store.complete_episode("ns", e.id, &stale).await,
        "stale",
        "a completion computed from 2 of 3 steps",
    );
    assert!(
        store
            .get_episode("ns", e.id)
            .await
            .unwrap()
            .unwrap()
            .ended_at
            .is_none()
    );
    let mut nan = completion.clone();
    nan.half_life_days = f64::NAN;
    assert_error(
        store.complete_episode("ns", e.id, &nan).await,
        "invalid",
        "a NaN half-life",
    );
    assert_error(
        store.complete_episode("other", e.id, &completion).await,
        "not found",
        "completing from another namespace",
    );

    let pattern_ids = store
        .complete_episode("ns", e.id, &completion)
        .await
        .unwrap();
    assert!(
        !pattern_ids.is_empty(),
        "a three-step episode teaches a tool sequence"
    );
    let done = store.get_episode("ns", e.id).await.unwrap().unwrap();
    let mut expected = completed_with((*before).clone(), &completion);
    expected.pattern_ids = pattern_ids;
    assert_eq!(*done, expected);

    assert_error(
        store.complete_episode("ns", e.id, &completion).await,
        "conflict",
        "completing twice",
    );
    assert_error(
        store
            .complete_episode("ns", Uuid::now_v7(), &completion)
            .await,
        "not found",
        "an unknown episode",
    );
}

/// The listing is newest first by start time, episodes that started in the same
/// microsecond by descending id.
pub async fn listing_is_newest_first_with_ties_by_id(store: Arc<dyn StorageBackend>) {
    let mut all = Vec::new();
    for secs in [5, 20, 20, 20, 1, 30] {
        let e = running("ns", "task", secs);
        store.store_episode(&e).await.unwrap();
        all.push((e.started_at, e.id));
    }
    all.sort_by(|a, b| b.cmp(a));
    let expected: Vec<Uuid> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ids(store.as_ref(), &EpisodeFilter::new("ns")).await,
        expected
    );
    let mut page = EpisodeFilter::new("ns");
    page.limit = 2;
    page.offset = 2;
    assert_eq!(ids(store.as_ref(), &page).await, expected[2..4]);
}

/// Every set field of a filter must match: domain, language, task type, outcome, status,
/// every tag (episode or context tags), and the start-time range.
pub async fn listing_filters_match_every_set_field(store: Arc<dyn StorageBackend>) {
    let mut a = running("ns", "a", 10);
    a.context.domain = Some("web".into());
    a.context.language = Some("rust".into());
    a.tags = vec!["urgent".into()];
    a.context.tags = vec!["auth".into()];
    let mut b = finished("ns", "b", 20, success("ok"));
    b.context.domain = Some("web".into());
    b.context.language = Some("go".into());
    b.task_type = TaskType::Testing;
    b.tags = vec!["auth".into()];
    let mut c = finished("ns", "c", 30, failure("broke"));
    c.context.domain = Some("db".into());
    c.tags = vec!["urgent".into(), "auth".into()];
    store_all(store.as_ref(), &[&a, &b, &c]).await;

    let with = |set: &dyn Fn(&mut EpisodeFilter)| {
        let mut f = EpisodeFilter::new("ns");
        set(&mut f);
        f
    };
    let cases: Vec<(EpisodeFilter, Vec<Uuid>)> = vec![
        (with(&|f| f.domain = Some("web".into())), vec![b.id, a.id]),
        (with(&|f| f.language = Some("rust".into())), vec![a.id]),
        (with(&|f| f.task_type = Some(TaskType::Testing)), vec![b.id]),
        (
            with(&|f| f.outcome = Some(OutcomeKind::Failure)),
            vec![c.id],
        ),
        (
            with(&|f| f.status = Some(EpisodeStatus::Running)),
            vec![a.id],
        ),
        (
            with(&|f| f.status = Some(EpisodeStatus::Completed)),
            vec![c.id, b.id],
        ),
        (
            with(&|f| f.tags = vec!["auth".into()]),
            vec![c.id, b.id, a.id],
        ),
        (
            with(&|f| f.tags = vec!["auth".into(), "urgent".into()]),
            vec![c.id, a.id],
        ),
        (with(&|f| f.tags = vec!["AUTH".into()]), vec![]),
        (
            with(&|f| f.started_after = Some(b.started_at)),
            vec![c.id, b.id],
        ),
        (with(&|f| f.started_before = Some(b.started_at)), vec![a.id]),
        (
            with(&|f| {
                f.domain = Some("web".into());
                f.status = Some(EpisodeStatus::Completed);
            }),
            vec![b.id],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(ids(store.as_ref(), &filter).await, expected, "{filter:?}");
    }
}

/// Paging by cursor gives the same episodes as paging by offset, ties across a page's
/// edge included; an offset applies after the cursor.
pub async fn cursor_pages_equal_offset_pages(store: Arc<dyn StorageBackend>) {
    for secs in [1, 2, 2, 2, 2, 3, 4, 4, 5] {
        store
            .store_episode(&running("ns", "t", secs))
            .await
            .unwrap();
    }
    let mut everything = EpisodeFilter::new("ns");
    everything.limit = 100;
    let all = ids(store.as_ref(), &everything).await;
    assert_eq!(all.len(), 9);

    let mut by_cursor = Vec::new();
    let mut filter = EpisodeFilter::new("ns");
    filter.limit = 2;
    loop {
        let page = store.list_episodes(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.after = Some(EpisodeCursor::after(last));
        by_cursor.extend(page.iter().map(|s| s.id));
    }
    assert_eq!(by_cursor, all);

    let mut skip = EpisodeFilter::new("ns");
    let third = store.get_episode("ns", all[2]).await.unwrap().unwrap();
    skip.after = Some(EpisodeCursor::after(&third.summary()));
    skip.offset = 1;
    skip.limit = 3;
    assert_eq!(ids(store.as_ref(), &skip).await, all[4..7]);
}

/// A delete removes the episode, its steps, edges, checkpoints and vectors, and says
/// whether there was one.
pub async fn delete_removes_the_episode_and_what_hangs_off_it(store: Arc<dyn StorageBackend>) {
    let kept = finished("ns", "kept", 0, success("ok"));
    let gone = running("ns", "gone", 10);
    store_all(store.as_ref(), &[&kept, &gone]).await;
    store
        .append_step("ns", gone.id, step("t", "a", 1), at(11), 10)
        .await
        .unwrap();
    store
        .store_relationship(&edge(
            "ns",
            kept.id,
            gone.id,
            RelationshipKind::Follows,
            at(12),
        ))
        .await
        .unwrap();
    store
        .store_checkpoint(&checkpoint("ns", gone.id, at(13), "half way"))
        .await
        .unwrap();
    store.ensure_vector_space("axes", 2).await.unwrap();
    store
        .store_vectors("axes", "ns", &[(gone.id, vec![vec![1.0, 0.0]])])
        .await
        .unwrap();

    assert!(!store.delete_episode("other", gone.id, 30.0).await.unwrap());
    assert!(store.delete_episode("ns", gone.id, 30.0).await.unwrap());
    assert!(store.get_episode("ns", gone.id).await.unwrap().is_none());
    assert_eq!(
        ids(store.as_ref(), &EpisodeFilter::new("ns")).await,
        [kept.id]
    );
    assert!(
        store
            .relationships(&RelationshipFilter::new("ns"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.checkpoints("ns", None).await.unwrap().is_empty());
    assert!(store.vectors_of("ns", &[gone.id]).await.unwrap().is_empty());
    assert!(!store.delete_episode("ns", gone.id, 30.0).await.unwrap());
    assert!(store.get_episode("ns", kept.id).await.unwrap().is_some());
}

/// The cost baseline: completed episodes of the task type (and domain), newest
/// completion first, with their step counts and summed latencies.
pub async fn comparable_costs_are_newest_first(store: Arc<dyn StorageBackend>) {
    let costed = |secs: i64, domain: &str, steps: &[u64]| {
        let mut e = finished("ns", "t", secs, success("ok"));
        e.context.domain = Some(domain.into());
        e.steps = steps
            .iter()
            .enumerate()
            .map(|(i, ms)| step("t", "a", *ms).into_step(i as u32 + 1, at(secs + 1)))
            .collect();
        e
    };
    let old = costed(0, "web", &[100, 200]);
    let new = costed(100, "web", &[5]);
    let db = costed(50, "db", &[1, 1, 1]);
    let mut testing = costed(200, "web", &[9]);
    testing.task_type = TaskType::Testing;
    let open = running("ns", "t", 300);
    store_all(store.as_ref(), &[&old, &new, &db, &testing, &open]).await;

    let costs = |steps, latency_ms| EpisodeCost { steps, latency_ms };
    assert_eq!(
        store
            .comparable_costs("ns", TaskType::Debugging, Some("web"), 10)
            .await
            .unwrap(),
        [costs(1, 5), costs(2, 300)]
    );
    assert_eq!(
        store
            .comparable_costs("ns", TaskType::Debugging, None, 10)
            .await
            .unwrap(),
        [costs(1, 5), costs(3, 3), costs(2, 300)]
    );
    assert_eq!(
        store
            .comparable_costs("ns", TaskType::Debugging, None, 1)
            .await
            .unwrap(),
        [costs(1, 5)]
    );
    assert!(
        store
            .comparable_costs("other", TaskType::Debugging, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Running episodes of every namespace started and last given a step before the time,
/// oldest first.
pub async fn idle_running_lists_quiet_running_episodes(store: Arc<dyn StorageBackend>) {
    let quiet = running("a", "quiet", 0);
    let busy = running("a", "busy", 0);
    let done = finished("a", "done", 0, success("ok"));
    let later = running("b", "later", 50);
    let fresh = running("b", "fresh", 70);
    store_all(store.as_ref(), &[&quiet, &busy, &done, &later, &fresh]).await;
    store
        .append_step("a", busy.id, step("t", "a", 1), at(100), 10)
        .await
        .unwrap();
    assert_eq!(
        store.idle_running(at(60)).await.unwrap(),
        [("a".to_string(), quiet.id), ("b".to_string(), later.id)]
    );
    assert!(store.idle_running(at(0)).await.unwrap().is_empty());
}

/// Counts by outcome (running apart) and patterns, per namespace and for every namespace
/// holding episodes or patterns.
pub async fn counts_by_outcome_and_namespaces(store: Arc<dyn StorageBackend>) {
    let partial = TaskOutcome::PartialSuccess {
        verdict: "half".into(),
        completed: vec![],
        failed: vec![],
    };
    let abstained = TaskOutcome::Abstained {
        reason: "no".into(),
    };
    store_all(
        store.as_ref(),
        &[
            &running("a", "r", 0),
            &finished("a", "s1", 1, success("ok")),
            &finished("a", "s2", 2, success("ok")),
            &finished("a", "f", 3, failure("no")),
            &finished("a", "p", 4, partial),
            &finished("a", "x", 5, abstained),
            &finished("b", "s", 6, success("ok")),
        ],
    )
    .await;
    let p = pattern(
        "a",
        tools(&["x", "y"]),
        Default::default(),
        1,
        1,
        1.0,
        at(0),
    );
    store.store_patterns(vec![p]).await.unwrap();
    store
        .store_session(&session("quiet", at(0), vec![]), &keep_all())
        .await
        .unwrap();

    let a = EpisodeCounts {
        running: 1,
        success: 2,
        partial_success: 1,
        failure: 1,
        abstained: 1,
        patterns: 1,
    };
    let b = EpisodeCounts {
        success: 1,
        ..EpisodeCounts::default()
    };
    assert_eq!(store.count_episodes("a").await.unwrap(), Some(a));
    assert_eq!(store.count_episodes("b").await.unwrap(), Some(b));
    assert_eq!(
        store.count_episodes("none").await.unwrap(),
        Some(EpisodeCounts::default())
    );
    assert_eq!(
        store.namespaces().await.unwrap(),
        Some(vec![("a".to_string(), a), ("b".to_string(), b)])
    );
}

/// The storage statistics count episodes, steps, patterns, sessions and vectors of every
/// namespace.
pub async fn storage_stats_count_everything(store: Arc<dyn StorageBackend>) {
    let mut one = finished("a", "one", 0, success("ok"));
    one.steps = vec![
        step("t", "a", 1).into_step(1, at(1)),
        step("t", "b", 1).into_step(2, at(2)),
    ];
    let two = finished("b", "two", 0, success("ok"));
    let open = running("b", "open", 0);
    store_all(store.as_ref(), &[&one, &two, &open]).await;
    store
        .store_patterns(vec![pattern(
            "a",
            tools(&["t", "u"]),
            Default::default(),
            1,
            1,
            1.0,
            at(0),
        )])
        .await
        .unwrap();
    store
        .store_session(&session("b", at(0), vec![]), &keep_all())
        .await
        .unwrap();
    store.ensure_vector_space("axes", 2).await.unwrap();
    store
        .store_vectors("axes", "a", &[(one.id, vec![vec![1.0, 0.0]])])
        .await
        .unwrap();
    let stats = store.storage_stats().await.unwrap();
    assert_eq!(
        (
            stats.episodes,
            stats.steps,
            stats.patterns,
            stats.sessions,
            stats.vectors,
            stats.episodes_without_vectors
        ),
        (3, 2, 1, 1, 1, 1),
        "{stats:?}"
    );
    assert!(!stats.backend.is_empty());
}

/// Nothing of one namespace is seen or changed through another: episodes, listings,
/// search, patterns, sessions, counts and vectors.
pub async fn namespaces_isolate_everything(store: Arc<dyn StorageBackend>) {
    let a = record(
        store.as_ref(),
        "a",
        "Rotate the TLS certificates",
        0,
        &["openssl", "deploy", "verify"],
        success("rotated"),
    )
    .await;
    let b = record(
        store.as_ref(),
        "b",
        "Rotate the TLS certificates",
        0,
        &["openssl", "deploy", "verify"],
        success("rotated"),
    )
    .await;
    assert_eq!(ids(store.as_ref(), &EpisodeFilter::new("a")).await, [a.id]);
    assert!(store.get_episode("a", b.id).await.unwrap().is_none());
    let hits = store
        .search_text("a", &["certificates".into()], 10)
        .await
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.summary.id).collect::<Vec<_>>(),
        [a.id]
    );
    let patterns_a = store.list_patterns(&PatternFilter::new("a")).await.unwrap();
    assert!(!patterns_a.is_empty());
    assert!(
        patterns_a
            .iter()
            .all(|p| p.namespace == "a" && p.stats.episodes == 1)
    );
    for p in &patterns_a {
        assert!(store.get_pattern("b", p.id).await.unwrap().is_none());
    }
    let s = session("a", at(0), vec![]);
    store.store_session(&s, &keep_all()).await.unwrap();
    assert!(store.get_session("b", s.id).await.unwrap().is_none());
    assert!(store.list_sessions("b").await.unwrap().is_empty());
    assert_error(
        store
            .record_feedback(
                "b",
                s.id,
                &memory_core::Feedback {
                    applied: vec![],
                    outcome: OutcomeKind::Success,
                    recorded_at: at(1),
                },
            )
            .await,
        "not found",
        "feedback from another namespace",
    );
    store.ensure_vector_space("axes", 2).await.unwrap();
    store
        .store_vectors("axes", "a", &[(a.id, vec![vec![1.0, 0.0]])])
        .await
        .unwrap();
    store
        .store_vectors("axes", "b", &[(b.id, vec![vec![1.0, 0.0]])])
        .await
        .unwrap();
    let near = store.vector_search("a", &[1.0, 0.0], 10).await.unwrap();
    assert_eq!(
        near.iter().map(|m| m.summary.id).collect::<Vec<_>>(),
        [a.id]
    );
    assert!(!store.delete_episode("a", b.id, 30.0).await.unwrap());
    assert_eq!(
        store.count_episodes("a").await.unwrap().map(|c| c.success),
        Some(1)
    );
    assert!(store.get_episode("b", b.id).await.unwrap().is_some());
}
