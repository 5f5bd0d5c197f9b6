//! Pattern learning on a real libSQL database: merging completed episodes into patterns,
//! outcome conditioning, lift and decay, pattern listings, retrieval sessions and feedback,
//! and concurrent completions from two handles on one file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, TimeZone, Utc};
use memory_core::OutcomeStats;
use memory_core::export::ContextStatsRecord;
use memory_core::storage::prelude::*;
use memory_core::{
    Clock, Completion, Feedback, ManualClock, MemoryConfig, MemoryError, NewEpisode, OutcomeKind,
    Pattern, PatternFilter, PatternKind, PatternKindName, PatternOrder, RetrievalQuery,
    RetrievalSession, SelfLearningMemory, SessionRetention, StepInput, StepResult, TaskContext,
    TaskOutcome, TaskType,
};
use memory_storage_turso::{TursoConfig, TursoStorage};
use std::sync::Arc;
use tempfile::TempDir;
use uuid::Uuid;

const NS: &str = "team-a";

struct Fixture {
    _dir: TempDir,
    memory: SelfLearningMemory,
    clock: Arc<ManualClock>,
}

async fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let storage = Arc::new(
        TursoStorage::open(dir.path().join("memory.db"))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory = SelfLearningMemory::with_config(storage, MemoryConfig::default(), clock.clone());
    Fixture {
        _dir: dir,
        memory,
        clock,
    }
}

fn ok() -> StepResult {
    StepResult::Success {
        output: "fine".into(),
    }
}

fn success() -> TaskOutcome {
    TaskOutcome::Success {
        verdict: "done".into(),
        artifacts: vec![],
    }
}

fn failure() -> TaskOutcome {
    TaskOutcome::Failure {
        reason: "the fix did not hold".into(),
        details: None,
    }
}

/// A debugging task in `domain` and `language`.
fn task(domain: &str, language: &str) -> NewEpisode {
    NewEpisode {
        task_type: TaskType::Debugging,
        context: TaskContext {
            domain: Some(domain.into()),
            language: Some(language.into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new("fix the failing endpoint test")
    }
}

/// Runs an episode through the facade: starts it, logs one successful step per tool,
/// advances the clock a second and completes it with `outcome`.
async fn run(
    f: &Fixture,
    ns: &str,
    new: NewEpisode,
    tools: &[&str],
    outcome: TaskOutcome,
) -> memory_core::Episode {
    let id = f.memory.start_episode(ns, new).await.unwrap();
    for tool in tools {
        f.memory
            .log_step(ns, id, StepInput::new(*tool, "work", ok()))
            .await
            .unwrap();
    }
    f.clock.advance(Duration::seconds(1));
    f.memory.complete_episode(ns, id, outcome).await.unwrap()
}

fn kind_filter(ns: &str, kind: PatternKindName) -> PatternFilter {
    let mut filter = PatternFilter::new(ns);
    filter.kind = Some(kind);
    filter
}

/// The tool-sequence pattern with exactly `tools` among `patterns`.
fn sequence<'a>(patterns: &'a [Pattern], tools: &[&str]) -> Option<&'a Pattern> {
    patterns.iter().find(|p| match &p.kind {
        PatternKind::ToolSequence { tools: t } => {
            t.iter().map(String::as_str).eq(tools.iter().copied())
        }
        _ => false,
    })
}

async fn sequences(f: &Fixture, ns: &str) -> Vec<Pattern> {
    f.memory
        .list_patterns(&kind_filter(ns, PatternKindName::ToolSequence))
        .await
        .unwrap()
}

fn ids(patterns: &[Pattern]) -> Vec<Uuid> {
    patterns.iter().map(|p| p.id).collect()
}

#[tokio::test]
async fn the_same_sequence_in_five_episodes_is_one_pattern() {
    let f = fixture().await;
    let mut episodes = Vec::new();
    for _ in 0..5 {
        episodes.push(
            run(
                &f,
                NS,
                task("web-api", "rust"),
                &["read_file", "edit_file"],
                success(),
            )
            .await,
        );
    }
    let seqs = sequences(&f, NS).await;
    assert_eq!(seqs.len(), 1, "{seqs:#?}");
    let p = &seqs[0];
    assert_eq!(
        p.kind,
        PatternKind::ToolSequence {
            tools: vec!["read_file".into(), "edit_file".into()]
        }
    );
    assert_eq!(p.stats.episodes, 5);
    assert_eq!(p.stats.successful_episodes, 5);
    // The clock moves a second per episode, so the older ones weigh a hair less than 1.
    assert!((p.stats.support - 5.0).abs() < 1e-3, "{:?}", p.stats);
    let episode_ids: Vec<Uuid> = episodes.iter().map(|e| e.id).collect();
    assert_eq!(p.evidence, episode_ids, "evidence is newest last");
    assert_eq!(p.scope.domain.as_deref(), Some("web-api"));
    assert_eq!(p.scope.language.as_deref(), Some("rust"));
    assert_eq!(p.scope.task_type, Some(TaskType::Debugging));
    assert_eq!(p.namespace, NS);
    assert_eq!(p.created_at, episodes[0].ended_at.unwrap());
    assert_eq!(p.last_seen, episodes[4].ended_at.unwrap());

    // Every episode names the pattern, both as returned and as stored.
    for e in &episodes {
        assert!(e.pattern_ids.contains(&p.id), "{:?}", e.pattern_ids);
        let stored = f.memory.get_episode(NS, e.id).await.unwrap();
        assert_eq!(&*stored, e);
    }
    assert_eq!(f.memory.get_pattern(NS, p.id).await.unwrap(), *p);

    // One context pattern per feature (domain, language, task type), each seen five times.
    let ctx = f
        .memory
        .list_patterns(&kind_filter(NS, PatternKindName::ContextPattern))
        .await
        .unwrap();
    assert_eq!(ctx.len(), 3, "{ctx:#?}");
    assert!(ctx.iter().all(|c| c.stats.episodes == 5));
    assert_eq!(
        f.memory
            .list_patterns(&PatternFilter::new(NS))
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn a_failed_episode_adds_support_but_no_success() {
    let f = fixture().await;
    let tools = ["cargo test", "edit_file", "cargo test"];
    for _ in 0..2 {
        run(&f, NS, task("web-api", "rust"), &tools, success()).await;
    }
    // Every step succeeded, but the task failed: the sequence did not work this time.
    let failed = run(&f, NS, task("web-api", "rust"), &tools, failure()).await;
    let seqs = sequences(&f, NS).await;
    let p = sequence(&seqs, &["cargo test", "edit_file", "cargo test"]).unwrap();
    assert_eq!(p.stats.episodes, 3);
    assert_eq!(p.stats.successful_episodes, 2);
    assert!((p.stats.support - 3.0).abs() < 1e-3);
    assert!((p.stats.successes - 2.0).abs() < 1e-3);
    assert_eq!(p.evidence.last(), Some(&failed.id));
    assert!(failed.pattern_ids.contains(&p.id));
}

#[tokio::test]
async fn a_sequence_seen_only_in_successes_has_lift_two_where_half_fail() {
    let f = fixture().await;
    for _ in 0..2 {
        run(
            &f,
            NS,
            task("web-api", "rust"),
            &["guess", "retry"],
            failure(),
        )
        .await;
    }
    for _ in 0..2 {
        run(
            &f,
            NS,
            task("web-api", "rust"),
            &["read_logs", "fix"],
            success(),
        )
        .await;
    }
    let seqs = sequences(&f, NS).await;
    let good = sequence(&seqs, &["read_logs", "fix"]).unwrap();
    assert!((good.lift - 2.0).abs() < 1e-3, "lift {}", good.lift);
    assert_eq!(good.stats.success_rate(), 1.0);
    let bad = sequence(&seqs, &["guess", "retry"]).unwrap();
    assert_eq!(bad.stats.success_rate(), 0.0);

    // Lift order puts the good one first; Confidence order too.
    let mut filter = kind_filter(NS, PatternKindName::ToolSequence);
    filter.order = PatternOrder::Lift;
    let by_lift = f.memory.list_patterns(&filter).await.unwrap();
    assert_eq!(by_lift[0].id, good.id);
    filter.order = PatternOrder::Confidence;
    assert_eq!(
        f.memory.list_patterns(&filter).await.unwrap()[0].id,
        good.id
    );
}

#[tokio::test]
async fn old_support_halves_after_the_half_life() {
    let f = fixture().await;
    for _ in 0..4 {
        run(&f, NS, task("web-api", "rust"), &["a", "b"], success()).await;
    }
    let before = sequence(&sequences(&f, NS).await, &["a", "b"])
        .unwrap()
        .clone();
    assert!((before.stats.support - 4.0).abs() < 1e-3);

    // The default half-life is 30 days.
    assert_eq!(f.memory.config().learning.half_life_days, 30.0);
    f.clock.advance(Duration::days(30));
    let last = run(&f, NS, task("web-api", "rust"), &["a", "b"], success()).await;
    let after = sequence(&sequences(&f, NS).await, &["a", "b"])
        .unwrap()
        .clone();
    assert_eq!(after.id, before.id);
    assert_eq!(after.stats.episodes, 5);
    // Four episodes ~30 days old count about half; the new one counts fully.
    let expected = 1.0 + before.stats.support / 2.0;
    assert!(
        (after.stats.support - expected).abs() < 1e-3,
        "{} vs {expected}",
        after.stats.support
    );
    assert_eq!(after.stats.updated_at, last.ended_at.unwrap());
    assert_eq!(after.last_seen, last.ended_at.unwrap());
    // Everything succeeded, before and after: lift against the equally decayed baseline is 1.
    assert!((after.lift - 1.0).abs() < 1e-3, "{}", after.lift);
}

/// Two rust episodes and one go episode in `web`, a python one with tag `ci`, and a rust one
/// in another namespace.
async fn listing_fixture(f: &Fixture) {
    for _ in 0..2 {
        run(f, NS, task("web", "rust"), &["cargo", "edit"], success()).await;
    }
    run(f, NS, task("web", "go"), &["go", "edit"], success()).await;
    let mut tagged = task("data", "python");
    tagged.context.tags = vec!["CI".into()];
    run(f, NS, tagged, &["pytest", "edit"], failure()).await;
    run(
        f,
        "team-b",
        task("web", "rust"),
        &["cargo", "edit"],
        success(),
    )
    .await;
}

#[tokio::test]
async fn listings_filter_by_kind_context_support_and_confidence() {
    let f = fixture().await;
    listing_fixture(&f).await;
    let all = f
        .memory
        .list_patterns(&PatternFilter::new(NS))
        .await
        .unwrap();
    assert!(all.iter().all(|p| p.namespace == NS));

    // Kind.
    for kind in PatternKindName::ALL {
        let listed = f
            .memory
            .list_patterns(&kind_filter(NS, kind))
            .await
            .unwrap();
        assert!(listed.iter().all(|p| p.kind.name() == kind));
        assert_eq!(
            listed.len(),
            all.iter().filter(|p| p.kind.name() == kind).count()
        );
    }

    // Context compatibility: a rust-scoped pattern holds for rust and for "any language",
    // not for go; the filter's case does not matter.
    let rust = sequence(&all, &["cargo", "edit"]).unwrap();
    let go = sequence(&all, &["go", "edit"]).unwrap();
    let lang = |l: Option<&str>| {
        let mut filter = kind_filter(NS, PatternKindName::ToolSequence);
        filter.language = l.map(String::from);
        filter
    };
    let listed = ids(&f.memory.list_patterns(&lang(Some("rust"))).await.unwrap());
    assert!(listed.contains(&rust.id) && !listed.contains(&go.id));
    let listed = ids(&f.memory.list_patterns(&lang(Some("RUST"))).await.unwrap());
    assert!(listed.contains(&rust.id) && !listed.contains(&go.id));
    let listed = ids(&f.memory.list_patterns(&lang(Some("go"))).await.unwrap());
    assert!(!listed.contains(&rust.id) && listed.contains(&go.id));
    let listed = ids(&f.memory.list_patterns(&lang(None)).await.unwrap());
    assert!(listed.contains(&rust.id) && listed.contains(&go.id));

    // Patterns that leave the language open (context patterns about the domain or task type)
    // hold for any language.
    let mut filter = kind_filter(NS, PatternKindName::ContextPattern);
    filter.language = Some("go".into());
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|p| p.scope.language.is_none() || p.scope.language.as_deref() == Some("go"))
    );
    assert!(
        listed
            .iter()
            .any(|p| p.scope.language.is_none() && p.scope.domain.as_deref() == Some("web"))
    );

    // Domain, task type and several fields at once.
    let mut filter = PatternFilter::new(NS);
    filter.domain = Some("data".into());
    filter.task_type = Some(TaskType::Debugging);
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert!(
        listed
            .iter()
            .all(|p| p.scope.domain.is_none() || p.scope.domain.as_deref() == Some("data"))
    );
    assert!(!ids(&listed).contains(&rust.id));
    filter.task_type = Some(TaskType::Testing);
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert!(listed.iter().all(|p| p.scope.task_type.is_none()));

    // Tags: an open tag scope or one of the tags, case-insensitively (the record keeps "CI").
    let tag_scoped: Vec<&Pattern> = all.iter().filter(|p| p.scope.tag.is_some()).collect();
    assert_eq!(tag_scoped.len(), 1, "{tag_scoped:#?}");
    assert_eq!(tag_scoped[0].scope.tag.as_deref(), Some("CI"));
    let mut filter = PatternFilter::new(NS);
    filter.tags = vec!["nightly".into()];
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert_eq!(listed.len(), all.len() - 1);
    assert!(!ids(&listed).contains(&tag_scoped[0].id));
    filter.tags = vec!["nightly".into(), "ci".into()];
    assert_eq!(
        f.memory.list_patterns(&filter).await.unwrap().len(),
        all.len()
    );

    // Support and confidence thresholds.
    let mut filter = PatternFilter::new(NS);
    filter.min_episodes = 2;
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|p| p.stats.episodes >= 2));
    assert_eq!(
        listed.len(),
        all.iter().filter(|p| p.stats.episodes >= 2).count()
    );
    let mut filter = PatternFilter::new(NS);
    filter.min_confidence = 0.3;
    let listed = f.memory.list_patterns(&filter).await.unwrap();
    assert!(!listed.is_empty() && listed.len() < all.len());
    assert!(listed.iter().all(|p| p.stats.confidence() >= 0.3));

    // Namespaces never mix.
    let other = f
        .memory
        .list_patterns(&PatternFilter::new("team-b"))
        .await
        .unwrap();
    assert!(!other.is_empty());
    assert!(other.iter().all(|p| p.namespace == "team-b"));
    let theirs = sequence(&other, &["cargo", "edit"]).unwrap();
    assert_ne!(theirs.id, rust.id);
    assert_eq!(theirs.stats.episodes, 1);
    assert_eq!(rust.stats.episodes, 2);
    assert!(matches!(
        f.memory.get_pattern("team-b", rust.id).await,
        Err(MemoryError::NotFound {
            kind: "pattern",
            ..
        })
    ));
    assert!(
        f.memory
            .list_patterns(&PatternFilter::new("nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn listings_are_ordered_and_paged() {
    let f = fixture().await;
    listing_fixture(&f).await;
    for order in [
        PatternOrder::Confidence,
        PatternOrder::Support,
        PatternOrder::Lift,
        PatternOrder::Recent,
    ] {
        let mut filter = PatternFilter::new(NS);
        filter.order = order;
        let all = f.memory.list_patterns(&filter).await.unwrap();
        assert!(all.len() > 6, "{}", all.len());
        for pair in all.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let key = |p: &Pattern| match order {
                PatternOrder::Confidence => p.stats.confidence(),
                PatternOrder::Support => p.stats.episodes as f64,
                PatternOrder::Lift => p.lift,
                PatternOrder::Recent => p.last_seen.timestamp_micros() as f64,
            };
            assert!(key(a) >= key(b), "{order:?}: {} before {}", key(a), key(b));
            if key(a) == key(b) {
                assert!(a.id.to_string() < b.id.to_string(), "ties go by id");
            }
        }
        // Pages of three, concatenated, are the whole listing.
        let mut paged = Vec::new();
        for page in 0.. {
            let mut filter = filter.clone();
            filter.limit = 3;
            filter.offset = page * 3;
            let got = f.memory.list_patterns(&filter).await.unwrap();
            if got.is_empty() {
                break;
            }
            assert!(got.len() <= 3);
            paged.extend(got);
        }
        assert_eq!(ids(&paged), ids(&all), "{order:?}");
    }
    let mut filter = PatternFilter::new(NS);
    filter.order = PatternOrder::Support;
    filter.limit = 1;
    let top = f.memory.list_patterns(&filter).await.unwrap();
    assert_eq!(top[0].stats.episodes, 2);
}

#[tokio::test]
async fn retrieval_offers_supported_patterns_and_takes_feedback() {
    let f = fixture().await;
    let tools = ["cargo test", "edit_file", "cargo test"];
    run(&f, NS, task("web-api", "rust"), &tools, success()).await;
    let mut query = RetrievalQuery::new(NS, "endpoint test fails");
    query.context.language = Some("rust".into());
    query.task_type = Some(TaskType::Debugging);

    // One episode is not enough support to recommend any pattern.
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    assert!(pack.patterns.is_empty(), "{}", pack.markdown);
    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    assert!(session.recommended.is_empty());

    run(&f, NS, task("web-api", "rust"), &tools, success()).await;
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    assert!(!pack.patterns.is_empty(), "{}", pack.markdown);
    assert!(pack.patterns.iter().all(|p| p.episodes >= 2));
    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    assert_eq!(session.namespace, NS);
    assert_eq!(session.query, "endpoint test fails");
    assert!(session.feedback.is_none());
    for p in &pack.patterns {
        assert!(session.recommended.contains(&p.id));
    }
    assert!(
        pack.markdown
            .contains(&pack.session_id.unwrap().to_string())
    );

    // A pattern that was not offered is refused, and nothing is recorded.
    let err = f
        .memory
        .record_feedback(
            NS,
            pack.session_id.unwrap(),
            vec![Uuid::now_v7()],
            OutcomeKind::Success,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Invalid(_)), "{err}");
    assert!(
        f.memory
            .get_session(NS, pack.session_id.unwrap())
            .await
            .unwrap()
            .feedback
            .is_none()
    );
    // An unknown session, or one in another namespace, is not found.
    for (ns, id) in [(NS, Uuid::now_v7()), ("team-b", pack.session_id.unwrap())] {
        let err = f
            .memory
            .record_feedback(ns, id, vec![], OutcomeKind::Success)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                MemoryError::NotFound {
                    kind: "retrieval session",
                    ..
                }
            ),
            "{err}"
        );
    }

    let applied = pack.patterns[0].id;
    let untouched: Vec<Uuid> = session
        .recommended
        .iter()
        .copied()
        .filter(|id| *id != applied)
        .collect();
    f.memory
        .record_feedback(
            NS,
            pack.session_id.unwrap(),
            vec![applied, applied],
            OutcomeKind::Success,
        )
        .await
        .unwrap();
    let p = f.memory.get_pattern(NS, applied).await.unwrap();
    assert_eq!(
        (
            p.effectiveness.applied,
            p.effectiveness.helped,
            p.effectiveness.hindered
        ),
        (1, 1, 0)
    );
    for id in &untouched {
        let other = f.memory.get_pattern(NS, *id).await.unwrap();
        assert_eq!(other.effectiveness.applied, 0);
    }
    let stored = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    let feedback = stored.feedback.unwrap();
    assert_eq!(feedback.applied, vec![applied]);
    assert_eq!(feedback.outcome, OutcomeKind::Success);
    assert_eq!(feedback.recorded_at, f.clock.now());

    // Twice is a conflict, and counts nothing.
    let err = f
        .memory
        .record_feedback(
            NS,
            pack.session_id.unwrap(),
            vec![applied],
            OutcomeKind::Failure,
        )
        .await
        .unwrap_err();
    match err {
        MemoryError::Conflict(msg) => assert!(msg.contains("already recorded"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        f.memory
            .get_pattern(NS, applied)
            .await
            .unwrap()
            .effectiveness
            .applied,
        1
    );

    // A failure counts as hindered; a partial success only as applied.
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    f.memory
        .record_feedback(
            NS,
            pack.session_id.unwrap(),
            vec![applied],
            OutcomeKind::Failure,
        )
        .await
        .unwrap();
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    f.memory
        .record_feedback(
            NS,
            pack.session_id.unwrap(),
            vec![applied],
            OutcomeKind::PartialSuccess,
        )
        .await
        .unwrap();
    let e = f
        .memory
        .get_pattern(NS, applied)
        .await
        .unwrap()
        .effectiveness;
    assert_eq!((e.applied, e.helped, e.hindered), (3, 1, 1));
}

#[tokio::test]
async fn an_episode_started_from_a_pack_reports_feedback_when_it_completes() {
    let f = fixture().await;
    let tools = ["read_logs", "edit_file", "cargo test"];
    for _ in 0..3 {
        run(&f, NS, task("web-api", "rust"), &tools, success()).await;
    }
    let mut query = RetrievalQuery::new(NS, "endpoint returns 500");
    query.context.language = Some("rust".into());
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    assert!(!session.recommended.is_empty(), "{}", pack.markdown);

    let mut new = task("web-api", "rust");
    new.retrieval_session = Some(pack.session_id.unwrap());
    let done = run(&f, NS, new, &tools, success()).await;
    assert_eq!(done.retrieval_session, Some(pack.session_id.unwrap()));
    assert_eq!(
        f.memory
            .get_episode(NS, done.id)
            .await
            .unwrap()
            .retrieval_session,
        Some(pack.session_id.unwrap())
    );

    let session = f
        .memory
        .get_session(NS, pack.session_id.unwrap())
        .await
        .unwrap();
    let feedback = session.feedback.clone().unwrap();
    assert_eq!(feedback.applied, session.recommended);
    assert_eq!(feedback.outcome, OutcomeKind::Success);
    for id in &session.recommended {
        let e = f.memory.get_pattern(NS, *id).await.unwrap().effectiveness;
        assert_eq!((e.applied, e.helped, e.hindered), (1, 1, 0), "{id}");
    }

    // The agent's own report now conflicts: the completion already answered for it.
    let err = f
        .memory
        .record_feedback(NS, pack.session_id.unwrap(), vec![], OutcomeKind::Failure)
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err}");

    // Starting from an unknown session is refused before anything is stored.
    let mut new = task("web-api", "rust");
    new.retrieval_session = Some(Uuid::now_v7());
    let err = f.memory.start_episode(NS, new).await.unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn sessions_are_kept_by_count_and_age_per_namespace() {
    let (_dir, storage) = common::fresh().await;
    let retention = SessionRetention {
        max_per_namespace: 3,
        max_age_days: 10.0,
    };
    let day = 86_400;
    let other = RetrievalSession {
        created_at: common::at(0),
        ..session("team-b", vec![])
    };
    storage.store_session(&other, &retention).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let s = RetrievalSession {
            created_at: common::at(i * 60),
            ..session(NS, vec![])
        };
        storage.store_session(&s, &retention).await.unwrap();
        ids.push(s.id);
    }
    let kept = |list: Vec<RetrievalSession>| {
        let mut ids: Vec<Uuid> = list.into_iter().map(|s| s.id).collect();
        ids.sort();
        ids
    };
    // The newest three of the namespace; the other namespace is untouched.
    assert_eq!(kept(storage.list_sessions(NS).await.unwrap()), ids[2..]);
    assert_eq!(
        kept(storage.list_sessions("team-b").await.unwrap()),
        [other.id]
    );
    // Eleven days on, everything older than ten days goes with the next store.
    let late = RetrievalSession {
        created_at: common::at(11 * day),
        ..session(NS, vec![])
    };
    storage.store_session(&late, &retention).await.unwrap();
    assert_eq!(kept(storage.list_sessions(NS).await.unwrap()), [late.id]);
    // A pruned session is unknown to feedback.
    let err = storage
        .record_feedback(
            NS,
            ids[4],
            &Feedback {
                applied: vec![],
                outcome: OutcomeKind::Success,
                recorded_at: common::at(11 * day),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_read_only_retrieval_records_no_session() {
    let f = fixture().await;
    let mut query = RetrievalQuery::new(NS, "fix the flaky login test");
    query.record_session = false;
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    assert_eq!(pack.session_id, None);
    assert!(
        pack.markdown.contains("read-only lookup"),
        "{}",
        pack.markdown
    );
    assert!(
        f.memory
            .storage()
            .list_sessions(NS)
            .await
            .unwrap()
            .is_empty()
    );
    let json = serde_json::to_value(&pack).unwrap();
    assert!(json.get("session_id").is_none(), "{json}");
    query.record_session = true;
    let pack = f.memory.retrieve_context(&query).await.unwrap();
    let stored = f.memory.storage().list_sessions(NS).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(Some(stored[0].id), pack.session_id);
}

/// A session as the facade would store it.
fn session(ns: &str, recommended: Vec<Uuid>) -> RetrievalSession {
    RetrievalSession {
        id: Uuid::now_v7(),
        namespace: ns.into(),
        query: "q".into(),
        recommended,
        created_at: common::at(5),
        feedback: None,
    }
}

#[tokio::test]
async fn sessions_through_the_trait() {
    let (_dir, storage) = common::fresh().await;
    let s = session(NS, vec![]);
    storage
        .store_session(&s, &SessionRetention::default())
        .await
        .unwrap();
    assert_eq!(
        storage.get_session(NS, s.id).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(storage.get_session("team-b", s.id).await.unwrap(), None);
    let err = storage
        .store_session(&s, &SessionRetention::default())
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err}");
    // The same id in another namespace is still the same session id.
    let mut elsewhere = s.clone();
    elsewhere.namespace = "team-b".into();
    let err = storage
        .store_session(&elsewhere, &SessionRetention::default())
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err}");

    // Feedback on a pattern that was deleted (or never existed) skips it.
    let feedback = Feedback {
        applied: vec![Uuid::now_v7()],
        outcome: OutcomeKind::Failure,
        recorded_at: common::at(9),
    };
    storage.record_feedback(NS, s.id, &feedback).await.unwrap();
    let back = storage.get_session(NS, s.id).await.unwrap().unwrap();
    assert_eq!(back.feedback, Some(feedback.clone()));
    let err = storage
        .record_feedback(NS, s.id, &feedback)
        .await
        .unwrap_err();
    match err {
        MemoryError::Conflict(msg) => assert_eq!(
            msg,
            format!("feedback for session {} was already recorded", s.id)
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let err = storage
        .record_feedback("team-b", s.id, &feedback)
        .await
        .unwrap_err();
    match err {
        MemoryError::NotFound {
            kind,
            id,
            namespace,
        } => {
            assert_eq!(
                (kind, id, namespace.as_str()),
                ("retrieval session", s.id.to_string(), "team-b")
            );
        }
        other => panic!("expected not found, got {other:?}"),
    }
}

/// Stores a running episode with `tools` as steps (the last one failing first when
/// `recover` is set) and returns it with its completion.
async fn episode_with(
    storage: &TursoStorage,
    ns: &str,
    tools: &[&str],
    outcome: TaskOutcome,
    secs: i64,
) -> (memory_core::Episode, Completion) {
    let (e, c) = planned_in(ns, tools, outcome, secs);
    storage.store_episode(&e).await.unwrap();
    (e, c)
}

#[tokio::test]
async fn completion_returns_pattern_ids_in_observation_order() {
    let (_dir, storage) = common::fresh().await;
    let (e, c) = episode_with(&storage, NS, &["explain", "index", "bench"], success(), 0).await;
    assert!(c.learned.observations.len() >= 5);
    let ids = storage.complete_episode(NS, e.id, &c).await.unwrap();
    assert_eq!(ids.len(), c.learned.observations.len());
    for (id, obs) in ids.iter().zip(&c.learned.observations) {
        let p = storage.get_pattern(NS, *id).await.unwrap().unwrap();
        assert_eq!(p.signature, obs.signature);
        assert_eq!(p.kind, obs.kind);
        assert_eq!(p.scope, obs.scope, "the record keeps the scope's spelling");
        assert_eq!(p.evidence, vec![e.id]);
    }
    let back = storage.get_episode(NS, e.id).await.unwrap().unwrap();
    assert_eq!(back.pattern_ids, ids);

    // Scope columns are lower-cased for matching; the record says "Rust".
    let mut filter = PatternFilter::new(NS);
    filter.language = Some("rust".into());
    filter.domain = Some("DB".into());
    assert_eq!(
        storage.list_patterns(&filter).await.unwrap().len(),
        ids.len()
    );

    // A second episode merges into the same rows.
    let (e2, c2) = episode_with(&storage, NS, &["explain", "index", "bench"], success(), 10).await;
    let ids2 = storage.complete_episode(NS, e2.id, &c2).await.unwrap();
    assert_eq!(ids2, ids);
    let p = storage.get_pattern(NS, ids[0]).await.unwrap().unwrap();
    assert_eq!(p.evidence, vec![e.id, e2.id]);
    assert_eq!(p.stats.episodes, 2);

    // An abstained episode teaches nothing and names no pattern.
    let (e3, c3) = episode_with(
        &storage,
        NS,
        &["explain", "index"],
        TaskOutcome::Abstained {
            reason: "not mine".into(),
        },
        20,
    )
    .await;
    assert!(c3.learned.is_empty());
    assert!(
        storage
            .complete_episode(NS, e3.id, &c3)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_failed_completion_merges_nothing() {
    let (_dir, storage) = common::fresh().await;
    let (e, c) = episode_with(&storage, NS, &["a", "b"], success(), 0).await;
    // A stale step count: the completion is refused whole.
    let mut stale = c.clone();
    stale.expected_steps = 1;
    let err = storage
        .complete_episode(NS, e.id, &stale)
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Stale(_)), "{err}");
    // A statistic that could not be stored is refused up front.
    let mut nan = c.clone();
    nan.learned.reward = f64::NAN;
    let err = storage.complete_episode(NS, e.id, &nan).await.unwrap_err();
    assert!(
        matches!(&err, MemoryError::Invalid(v) if v.field == "learned.reward"),
        "{err}"
    );
    assert!(
        storage
            .list_patterns(&PatternFilter::new(NS))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !storage
            .get_episode(NS, e.id)
            .await
            .unwrap()
            .unwrap()
            .is_complete()
    );

    // Completing it properly then works, and a second completion merges nothing more.
    let ids = storage.complete_episode(NS, e.id, &c).await.unwrap();
    let err = storage.complete_episode(NS, e.id, &c).await.unwrap_err();
    assert!(matches!(err, MemoryError::Conflict(_)), "{err}");
    let p = storage.get_pattern(NS, ids[0]).await.unwrap().unwrap();
    assert_eq!(p.stats.episodes, 1);
}

/// The feedback an episode's completion gives its retrieval session commits with the
/// completion or not at all: a session that cannot be read fails the completion whole (the
/// episode stays running, no pattern merged), and once it can, the same completion records
/// both.
#[tokio::test]
async fn a_completion_and_its_feedback_commit_together() {
    let (_dir, storage) = common::fresh().await;
    let retention = SessionRetention {
        max_per_namespace: 100,
        max_age_days: 1_000_000.0,
    };
    let (earlier, c) = episode_with(&storage, NS, &["a", "b"], success(), 0).await;
    let recommended = storage.complete_episode(NS, earlier.id, &c).await.unwrap();
    let s = RetrievalSession {
        created_at: common::at(100),
        ..session(NS, recommended.clone())
    };
    storage.store_session(&s, &retention).await.unwrap();

    let (e, mut c) = episode_with(&storage, NS, &["a", "b"], success(), 200).await;
    c.feedback_session = Some(s.id);
    let (_db, raw) = common::raw(&storage).await;
    raw.execute(
        "UPDATE retrieval_sessions SET record = 'not json' WHERE id = ?1",
        [s.id.to_string()],
    )
    .await
    .unwrap();
    common::caught_up(&storage).await;
    let err = storage.complete_episode(NS, e.id, &c).await.unwrap_err();
    assert!(matches!(err, MemoryError::Corrupt { .. }), "{err}");
    let episode = storage.get_episode(NS, e.id).await.unwrap().unwrap();
    assert!(
        !episode.is_complete(),
        "the completion committed without its feedback"
    );
    let p = storage
        .get_pattern(NS, recommended[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        p.stats.episodes, 1,
        "patterns were merged without the feedback"
    );

    // The session restored: the same completion records both.
    raw.execute(
        "DELETE FROM retrieval_sessions WHERE id = ?1",
        [s.id.to_string()],
    )
    .await
    .unwrap();
    storage.store_session(&s, &retention).await.unwrap();
    storage.complete_episode(NS, e.id, &c).await.unwrap();
    let feedback = storage
        .get_session(NS, s.id)
        .await
        .unwrap()
        .unwrap()
        .feedback
        .unwrap();
    assert_eq!(feedback.applied, recommended);
    assert_eq!(feedback.outcome, OutcomeKind::Success);
    let p = storage
        .get_pattern(NS, recommended[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.stats.episodes, 2);
    assert_eq!(p.effectiveness.applied, 1);
}

/// An episode of `ns` with `tools` as its steps, started `secs` after t0, and its
/// completion with `outcome` a minute later.
fn planned_in(
    ns: &str,
    tools: &[&str],
    outcome: TaskOutcome,
    secs: i64,
) -> (memory_core::Episode, Completion) {
    let mut e = common::running(ns, "tune the query planner", secs);
    e.context.language = Some("Rust".into());
    e.context.domain = Some("db".into());
    e.steps = tools
        .iter()
        .enumerate()
        .map(|(i, t)| common::recorded(i as u32 + 1, t, "work", 3))
        .collect();
    let c = common::completion_of(&e, outcome, common::at(secs + 60));
    (e, c)
}

/// Every pattern and context baseline of the namespace, by signature and scope key.
async fn learned(storage: &TursoStorage) -> (Vec<Pattern>, Vec<ContextStatsRecord>) {
    let mut patterns = storage
        .list_patterns(&PatternFilter {
            limit: 10_000,
            ..PatternFilter::new(NS)
        })
        .await
        .unwrap();
    patterns.sort_by(|a, b| a.signature.cmp(&b.signature));
    let mut snapshot = storage
        .export_snapshot(&memory_core::ExportFilter::new(NS))
        .await
        .unwrap();
    let baselines = snapshot.context_stats(None, 10_000).await.unwrap();
    snapshot.close().await.unwrap();
    (patterns, baselines)
}

/// Statistics as they stand at one time, so that two stores updated at different times
/// compare.
fn at_day_10(stats: &OutcomeStats) -> (f64, f64, f64, u64, u64) {
    let s = stats.at(common::at(10 * 86_400), 30.0);
    (
        s.support,
        s.successes,
        s.reward_sum,
        s.episodes,
        s.successful_episodes,
    )
}

fn close(a: (f64, f64, f64, u64, u64), b: (f64, f64, f64, u64, u64)) -> bool {
    (a.0 - b.0).abs() < 1e-9
        && (a.1 - b.1).abs() < 1e-9
        && (a.2 - b.2).abs() < 1e-9
        && a.3 == b.3
        && a.4 == b.4
}

/// Deleting a completed episode takes back what it taught: the namespace's patterns and
/// context baselines are those of a store where it never completed (statistics compared at
/// one time; lift, evidence and counts equal), the patterns only it fed are gone, and the
/// feedback of the session it started from is taken back with the session.
#[tokio::test]
async fn deleting_an_episode_takes_back_what_it_taught() {
    let (_d1, both) = common::fresh().await;
    let (_d2, never) = common::fresh().await;
    let (first, c1) = planned_in(NS, &["explain", "index", "bench"], success(), 0);
    let (gone, c2) = planned_in(NS, &["explain", "index", "vacuum"], failure(), 86_400);
    let (last, c3) = planned_in(NS, &["explain", "index"], failure(), 2 * 86_400);

    for storage in [&both, &never] {
        storage.store_episode(&first).await.unwrap();
        storage.complete_episode(NS, first.id, &c1).await.unwrap();
    }
    both.store_episode(&gone).await.unwrap();
    both.complete_episode(NS, gone.id, &c2).await.unwrap();
    for storage in [&both, &never] {
        storage.store_episode(&last).await.unwrap();
        storage.complete_episode(NS, last.id, &c3).await.unwrap();
    }
    let before = learned(&both).await;
    assert!(
        before.0.len() > learned(&never).await.0.len(),
        "the deleted episode fed patterns of its own"
    );

    assert!(both.delete_episode(NS, gone.id, 30.0).await.unwrap());
    let (patterns, baselines) = learned(&both).await;
    let (want_patterns, want_baselines) = learned(&never).await;
    let signatures = |ps: &[Pattern]| ps.iter().map(|p| p.signature.clone()).collect::<Vec<_>>();
    assert_eq!(signatures(&patterns), signatures(&want_patterns));
    for (p, want) in patterns.iter().zip(&want_patterns) {
        assert!(
            close(at_day_10(&p.stats), at_day_10(&want.stats)),
            "{}: {:?} against {:?}",
            p.signature,
            p.stats,
            want.stats
        );
        assert!((p.lift - want.lift).abs() < 1e-9, "{}", p.signature);
        assert_eq!(p.evidence, want.evidence, "{}", p.signature);
        assert!(!p.evidence.contains(&gone.id));
    }
    assert_eq!(baselines.len(), want_baselines.len());
    for (b, want) in baselines.iter().zip(&want_baselines) {
        assert_eq!(b.scope_key, want.scope_key);
        assert!(
            close(at_day_10(&b.stats), at_day_10(&want.stats)),
            "{}",
            b.scope_key
        );
    }
    assert_eq!(both.get_episode(NS, gone.id).await.unwrap(), None);
}

/// The retrieval session an episode started from goes with it, and so does the credit
/// its feedback gave the patterns it recommended.
#[tokio::test]
async fn deleting_an_episode_takes_back_its_sessions_feedback() {
    let (_dir, storage) = common::fresh().await;
    let (first, c1) = planned_in(NS, &["explain", "index", "bench"], success(), 0);
    storage.store_episode(&first).await.unwrap();
    let ids = storage.complete_episode(NS, first.id, &c1).await.unwrap();
    let session = RetrievalSession {
        id: Uuid::now_v7(),
        namespace: NS.into(),
        query: "tune the planner again".into(),
        recommended: ids.clone(),
        created_at: common::at(100),
        feedback: None,
    };
    let retention = SessionRetention {
        max_per_namespace: 100,
        max_age_days: 1_000_000.0,
    };
    storage.store_session(&session, &retention).await.unwrap();
    let (mut second, _) = planned_in(NS, &["explain", "index", "bench"], success(), 200);
    second.retrieval_session = Some(session.id);
    storage.store_episode(&second).await.unwrap();
    let mut c2 = common::completion_of(&second, success(), common::at(300));
    c2.feedback_session = Some(session.id);
    storage.complete_episode(NS, second.id, &c2).await.unwrap();
    let credited = storage.get_pattern(NS, ids[0]).await.unwrap().unwrap();
    assert_eq!(credited.effectiveness.applied, 1);
    assert_eq!(credited.effectiveness.helped, 1);

    assert!(storage.delete_episode(NS, second.id, 30.0).await.unwrap());
    assert_eq!(storage.get_session(NS, session.id).await.unwrap(), None);
    let p = storage.get_pattern(NS, ids[0]).await.unwrap().unwrap();
    assert_eq!(p.effectiveness, memory_core::Effectiveness::default());
    assert_eq!(p.stats.episodes, 1);
    assert_eq!(p.evidence, vec![first.id]);
}

#[tokio::test]
async fn an_unreadable_pattern_is_reported_as_corrupt() {
    let (_dir, storage) = common::fresh().await;
    let (e, c) = episode_with(&storage, NS, &["a", "b"], success(), 0).await;
    let ids = storage.complete_episode(NS, e.id, &c).await.unwrap();
    {
        let (_db, conn) = common::raw(&storage).await;
        conn.execute(
            "UPDATE patterns SET record = '{broken' WHERE id = ?1",
            [ids[0].to_string()],
        )
        .await
        .unwrap();
    }
    common::caught_up(&storage).await;
    for err in [
        storage.get_pattern(NS, ids[0]).await.unwrap_err(),
        storage
            .list_patterns(&PatternFilter::new(NS))
            .await
            .unwrap_err(),
    ] {
        match err {
            MemoryError::Corrupt { what, .. } => assert_eq!(what, format!("pattern {}", ids[0])),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_completions_from_two_handles_lose_no_counts() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("shared.db");
    let config = TursoConfig {
        readers: 1,
        busy_timeout: std::time::Duration::from_secs(30),
        ..TursoConfig::default()
    };
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    // On a server each completion is computed from what it read before its one write
    // request; two handles feeding the same patterns make those reads go stale, which the
    // write must notice (see `completion.rs`).
    let mut handles = Vec::new();
    let mut _fixture = None;
    if common::on_server() {
        let (fixture, first) = common::fresh().await;
        let second = common::reopen(&first).await;
        handles.extend([first, second]);
        _fixture = Some(fixture);
    } else {
        for _ in 0..2 {
            handles.push(
                TursoStorage::open_with(&path, config.clone())
                    .await
                    .unwrap(),
            );
        }
    }
    let storages: Vec<Arc<TursoStorage>> = handles.into_iter().map(Arc::new).collect();
    let mut memories = Vec::new();
    for storage in &storages {
        memories.push(SelfLearningMemory::with_config(
            storage.clone(),
            MemoryConfig::default(),
            clock.clone(),
        ));
    }
    let mut tasks = Vec::new();
    for i in 0..20 {
        let memory = memories[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let id = memory
                .start_episode(NS, task("web-api", "rust"))
                .await
                .unwrap();
            for tool in ["read_file", "edit_file", "cargo test"] {
                memory
                    .log_step(NS, id, StepInput::new(tool, "work", ok()))
                    .await
                    .unwrap();
            }
            let outcome = if i % 4 == 0 { failure() } else { success() };
            memory.complete_episode(NS, id, outcome).await.unwrap().id
        }));
    }
    let mut episode_ids = Vec::new();
    for t in tasks {
        episode_ids.push(t.await.unwrap());
    }
    for storage in &storages {
        common::caught_up(storage).await;
    }
    for memory in &memories {
        let all = memory.list_patterns(&PatternFilter::new(NS)).await.unwrap();
        let seq = sequence(&all, &["read_file", "edit_file", "cargo test"]).unwrap();
        assert_eq!(seq.stats.episodes, 20);
        assert_eq!(seq.stats.successful_episodes, 15);
        assert!((seq.stats.support - 20.0).abs() < 1e-9);
        let mut evidence = seq.evidence.clone();
        evidence.sort();
        let mut expected = episode_ids.clone();
        expected.sort();
        assert_eq!(evidence, expected);
        // The baseline counted every episode too: the sequence is exactly as good as it.
        assert!((seq.lift - 1.0).abs() < 1e-9, "lift {}", seq.lift);
        assert!(all.iter().all(|p| p.stats.episodes == 20), "{all:#?}");
    }
}

/// Completion latency on a store with 10 000 episodes and thousands of patterns; run with
/// `cargo test --release -p memory-storage-turso --test patterns -- --ignored --nocapture`.
///
/// Episodes follow one of a few habitual tool paths with one step done differently, so most
/// observations merge into existing patterns (set `PERF_RANDOM=1` for random paths, where
/// almost every observation creates a pattern). Completions without learning are timed too,
/// for comparison. SQLite's WAL auto-checkpoint (every 1000 pages) runs inside whichever
/// commit crosses the threshold; with learning, a completion writes ~65 pages, so about one
/// completion in 15 pays for a checkpoint.
#[tokio::test]
#[ignore = "timing; run in release"]
async fn completion_stays_fast_on_a_large_store() {
    const TOOLS: [&str; 12] = [
        "read_file",
        "grep",
        "edit_file",
        "cargo test",
        "cargo build",
        "git diff",
        "run_sql",
        "curl",
        "ls",
        "write_file",
        "cargo clippy",
        "git commit",
    ];
    let random = std::env::var_os("PERF_RANDOM").is_some();
    let (_dir, storage) = common::fresh().await;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let domains = ["web", "infra", "data", "cli"];
    let languages = ["rust", "go", "python"];
    let make = |i: usize, next: &mut dyn FnMut(usize) -> usize| {
        let mut e = common::running(NS, &format!("task {i} about {}", TOOLS[next(12)]), i as i64);
        e.context.domain = Some(domains[next(4)].into());
        e.context.language = Some(languages[next(3)].into());
        e.task_type = TaskType::ALL[next(7)];
        let (habit, odd) = (next(6), next(8));
        let mut steps: Vec<_> = (0..8usize)
            .map(|s| {
                let tool = if random || s == odd {
                    TOOLS[next(12)]
                } else {
                    TOOLS[(habit * 5 + s * 7) % 12]
                };
                common::recorded(s as u32 + 1, tool, "work", 10)
            })
            .collect();
        steps[2].result = StepResult::Error {
            message: format!("error E{} at src/lib.rs:{}", next(5), next(500)),
        };
        e.steps = steps;
        e
    };

    // 10 000 episodes: one in ten completed through the merge, the rest left running.
    let mut running = Vec::new();
    for i in 0..10_000 {
        let e = make(i, &mut next);
        storage.store_episode(&e).await.unwrap();
        if i % 10 == 0 {
            let outcome = if next(3) == 0 { failure() } else { success() };
            let c = common::completion_of(&e, outcome, common::at(i as i64 + 30));
            storage.complete_episode(NS, e.id, &c).await.unwrap();
        } else {
            running.push(e);
        }
    }
    let mut all = PatternFilter::new(NS);
    all.limit = 1_000_000;
    let patterns = storage.list_patterns(&all).await.unwrap().len();

    let percentiles = |mut times: Vec<std::time::Duration>| {
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        format!(
            "p50 {:?}, p90 {:?}, p95 {:?}, p99 {:?}, max {:?}",
            p(0.5),
            p(0.9),
            p(0.95),
            p(0.99),
            times[times.len() - 1]
        )
    };
    let mut times = Vec::new();
    let mut observations = 0;
    for (k, e) in running.iter().take(500).enumerate() {
        let c = common::completion_of(e, success(), common::at(20_000 + k as i64));
        observations += c.learned.observations.len();
        let started = std::time::Instant::now();
        storage.complete_episode(NS, e.id, &c).await.unwrap();
        times.push(started.elapsed());
    }
    eprintln!(
        "{patterns} patterns before; {} observations per completion; with learning: {}",
        observations / times.len(),
        percentiles(times)
    );
    let mut times = Vec::new();
    for (k, e) in running.iter().skip(500).take(500).enumerate() {
        let mut c = common::completion_of(e, success(), common::at(30_000 + k as i64));
        c.learned = Default::default();
        let started = std::time::Instant::now();
        storage.complete_episode(NS, e.id, &c).await.unwrap();
        times.push(started.elapsed());
    }
    eprintln!("without learning: {}", percentiles(times));
}
