//! CachedStorage in front of TursoStorage: reads through the cache always agree with the
//! store after any sequence of writes, repeated reads are hits, and writes by another handle
//! on the same file are noticed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use memory_core::cache::{CachedStorage, CachedStorageConfig};
use memory_core::storage::prelude::*;
use memory_core::{
    EpisodeFilter, NewEpisode, OutcomeKind, PatternFilter, RetrievalQuery, SelfLearningMemory,
    StepInput, StepResult, TaskOutcome,
};
use memory_storage_turso::TursoStorage;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Start(u8),
    /// A whole successful episode (start, two steps, complete), so patterns get support.
    Finished(u8),
    Step(usize, u8, bool),
    Complete(usize, bool),
    Delete(usize),
    Retrieve(u8),
    Feedback(bool),
}

const TOOLS: [&str; 4] = ["cargo build", "cargo test", "git diff", "grep"];
const TASKS: [&str; 4] = [
    "fix the flaky login test",
    "add pagination to the users endpoint",
    "speed up the slow report query",
    "migrate the config loader to toml",
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Start),
        3 => any::<u8>().prop_map(Op::Finished),
        5 => (any::<usize>(), any::<u8>(), any::<bool>()).prop_map(|(e, t, ok)| Op::Step(e, t, ok)),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(e, ok)| Op::Complete(e, ok)),
        1 => any::<usize>().prop_map(Op::Delete),
        2 => any::<u8>().prop_map(Op::Retrieve),
        1 => any::<bool>().prop_map(Op::Feedback),
    ]
}

/// Applies `ops` through a cached memory, checking after each one that every read through
/// the cache equals the same read on the store itself.
async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (_dir, store) = common::fresh().await;
    let store = Arc::new(store);
    let cached = Arc::new(CachedStorage::new(Arc::clone(&store)));
    let memory = SelfLearningMemory::new(cached.clone()).with_embedder(None);
    let ns = "ns";
    let mut ids: Vec<Uuid> = Vec::new();
    let mut sessions: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    for op in ops {
        match op {
            Op::Start(t) => {
                let task = TASKS[t as usize % TASKS.len()];
                ids.push(
                    memory
                        .start_episode(ns, NewEpisode::new(task))
                        .await
                        .unwrap(),
                );
            }
            Op::Finished(t) => {
                let task = TASKS[t as usize % TASKS.len()];
                let id = memory
                    .start_episode(ns, NewEpisode::new(task))
                    .await
                    .unwrap();
                for tool in &TOOLS[..2] {
                    let ok = StepResult::Success {
                        output: "ok".into(),
                    };
                    memory
                        .log_step(ns, id, StepInput::new(*tool, "run", ok))
                        .await
                        .unwrap();
                }
                let done = TaskOutcome::Success {
                    verdict: "done".into(),
                    artifacts: vec![],
                };
                memory.complete_episode(ns, id, done).await.unwrap();
                ids.push(id);
            }
            Op::Step(e, t, ok) if !ids.is_empty() => {
                let result = if ok {
                    StepResult::Success {
                        output: "ok".into(),
                    }
                } else {
                    StepResult::Error {
                        message: "timeout after 30s".into(),
                    }
                };
                let step = StepInput::new(TOOLS[t as usize % TOOLS.len()], "run", result);
                let _ = memory.log_step(ns, ids[e % ids.len()], step).await;
            }
            Op::Complete(e, ok) if !ids.is_empty() => {
                let outcome = if ok {
                    TaskOutcome::Success {
                        verdict: "done".into(),
                        artifacts: vec![],
                    }
                } else {
                    TaskOutcome::Failure {
                        reason: "gave up".into(),
                        details: None,
                    }
                };
                let _ = memory
                    .complete_episode(ns, ids[e % ids.len()], outcome)
                    .await;
            }
            Op::Delete(e) if !ids.is_empty() => {
                let id = ids.remove(e % ids.len());
                memory.delete_episode(ns, id).await.unwrap();
            }
            Op::Retrieve(t) => {
                let query = RetrievalQuery::new(ns, TASKS[t as usize % TASKS.len()]);
                let pack = memory.retrieve_context(&query).await.unwrap();
                let offered = pack.patterns.iter().map(|p| p.id).collect();
                sessions.push((pack.session_id.unwrap(), offered));
            }
            Op::Feedback(ok) => {
                if let Some((session, offered)) = sessions.pop() {
                    let outcome = if ok {
                        OutcomeKind::Success
                    } else {
                        OutcomeKind::Failure
                    };
                    memory
                        .record_feedback(ns, session, offered, outcome)
                        .await
                        .unwrap();
                }
            }
            _ => {}
        }
        // Every read through the cache agrees with the store.
        for id in &ids {
            let a = cached.get_episode(ns, *id).await.unwrap();
            let b = store.get_episode(ns, *id).await.unwrap();
            prop_assert_eq!(a, b);
        }
        let filter = EpisodeFilter::new(ns);
        prop_assert_eq!(
            cached.list_episodes(&filter).await.unwrap(),
            store.list_episodes(&filter).await.unwrap()
        );
        let terms = vec!["test".to_string(), "query".to_string()];
        prop_assert_eq!(
            cached.search_text(ns, &terms, 10).await.unwrap(),
            store.search_text(ns, &terms, 10).await.unwrap()
        );
        let patterns = PatternFilter::new(ns);
        let a = cached.list_patterns(&patterns).await.unwrap();
        let b = store.list_patterns(&patterns).await.unwrap();
        prop_assert_eq!(&a, &b);
        for p in a.iter().take(5) {
            prop_assert_eq!(
                cached.get_pattern(ns, p.id).await.unwrap(),
                store.get_pattern(ns, p.id).await.unwrap()
            );
        }
    }
    Ok(())
}

#[test]
fn reads_through_the_cache_always_match_the_store() {
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(run(ops))
        })
        .unwrap();
}

#[tokio::test]
async fn repeated_reads_are_hits() {
    let (_dir, store) = common::fresh().await;
    let store = Arc::new(store);
    let cached = Arc::new(CachedStorage::new(store));
    let memory = SelfLearningMemory::new(cached.clone());
    let id = memory
        .start_episode("ns", NewEpisode::new("a task"))
        .await
        .unwrap();
    for _ in 0..10 {
        memory.get_episode("ns", id).await.unwrap();
    }
    let stats = memory.stats().await.unwrap();
    let episodes = &stats.storage.caches[0];
    assert_eq!(episodes.tier, "episodes");
    assert_eq!((episodes.hits, episodes.misses), (9, 1));
    assert_eq!(episodes.entries, 1);
    assert!(
        stats.storage.statements.is_some(),
        "the store's own figures are kept"
    );
}

#[tokio::test]
async fn another_writer_on_the_same_file_is_noticed() {
    let (_dir, ours) = common::fresh().await;
    let theirs = common::reopen(&ours).await;
    let ours = Arc::new(ours);
    let config = CachedStorageConfig {
        revalidate_every: Duration::ZERO,
        ..CachedStorageConfig::default()
    };
    let cached = Arc::new(CachedStorage::with_config(ours, &config));
    let memory = SelfLearningMemory::new(cached.clone());
    // Another process, as far as the cache can tell.
    let other = SelfLearningMemory::new(Arc::new(theirs));

    let id = memory
        .start_episode("ns", NewEpisode::new("shared task"))
        .await
        .unwrap();
    assert_eq!(memory.get_episode("ns", id).await.unwrap().steps.len(), 0);
    other
        .log_step(
            "ns",
            id,
            StepInput::new("grep", "look", StepResult::Success { output: "x".into() }),
        )
        .await
        .unwrap();
    // Through a replica, the other handle's write arrives with the next sync (each second).
    let patience = if common::through_replica() {
        Duration::from_secs(5)
    } else {
        Duration::ZERO
    };
    let asked = std::time::Instant::now();
    while memory.get_episode("ns", id).await.unwrap().steps.is_empty() && asked.elapsed() < patience
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        memory.get_episode("ns", id).await.unwrap().steps.len(),
        1,
        "the step written by the other handle is seen"
    );
    // And completing through the cached handle works on the fresh state.
    let done = memory
        .complete_episode(
            "ns",
            id,
            TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(done.steps.len(), 1);
}

/// Another process writing *other* episodes drops none of ours: the store's change log
/// names what it changed, so our cached episode stays a hit while our listing shows theirs.
#[tokio::test]
async fn another_writer_on_other_episodes_leaves_ours_cached() {
    let (_dir, ours) = common::fresh().await;
    let theirs = common::reopen(&ours).await;
    let config = CachedStorageConfig {
        revalidate_every: Duration::ZERO,
        ..CachedStorageConfig::default()
    };
    let cached = Arc::new(CachedStorage::with_config(Arc::new(ours), &config));
    let memory = SelfLearningMemory::new(cached.clone());
    let other = SelfLearningMemory::new(Arc::new(theirs));

    let mine = memory
        .start_episode("ns", NewEpisode::new("our task"))
        .await
        .unwrap();
    memory.get_episode("ns", mine).await.unwrap();
    let filter = EpisodeFilter::new("ns");
    assert_eq!(memory.list_episodes(&filter).await.unwrap().len(), 1);
    let episodes_tier = |stats: &memory_core::metrics::StorageStats| {
        let tier = &stats.caches[0];
        assert_eq!(tier.tier, "episodes");
        (tier.hits, tier.misses)
    };
    let before = cached.storage_stats().await.unwrap();

    // Theirs: a whole episode, with the patterns its completion teaches.
    let theirs = other
        .start_episode("ns", NewEpisode::new("their task"))
        .await
        .unwrap();
    for tool in ["cargo build", "cargo test"] {
        other
            .log_step(
                "ns",
                theirs,
                StepInput::new(
                    tool,
                    "run",
                    StepResult::Success {
                        output: "ok".into(),
                    },
                ),
            )
            .await
            .unwrap();
    }
    other
        .complete_episode(
            "ns",
            theirs,
            TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();
    common::caught_up(cached.inner()).await;

    assert_eq!(
        memory.list_episodes(&filter).await.unwrap().len(),
        2,
        "their episode is listed"
    );
    memory.get_episode("ns", mine).await.unwrap();
    let after = cached.storage_stats().await.unwrap();
    let ((hits, misses), (hits_before, misses_before)) =
        (episodes_tier(&after), episodes_tier(&before));
    assert_eq!(misses, misses_before, "our cached episode was dropped");
    assert_eq!(hits, hits_before + 1);
    let others = after.other_writers.unwrap();
    assert!(others.keys_dropped >= 1, "{others:?}");
    assert_eq!(others.full_clears, 0, "the caches were dropped whole");
    // And their episode, read through our cache, is theirs as written.
    assert_eq!(
        memory.get_episode("ns", theirs).await.unwrap().steps.len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_write_still_invalidates_what_it_may_have_changed() {
    let (_dir, store) = common::fresh().await;
    let store = Arc::new(store);
    let cached = Arc::new(CachedStorage::new(Arc::clone(&store)));
    let memory = SelfLearningMemory::new(cached.clone());
    let id = memory
        .start_episode("ns", NewEpisode::new("a task"))
        .await
        .unwrap();
    for attempt in 0..40u64 {
        // Cache the episode, then start a step and give up on it at some point.
        memory.get_episode("ns", id).await.unwrap();
        let step = StepInput::new("grep", "look", StepResult::Success { output: "x".into() });
        let write = cached.append_step("ns", id, step, chrono::Utc::now(), 1_000);
        let _ = tokio::time::timeout(Duration::from_micros(attempt * 5), write).await;
        // Whatever the store ends up with, the cache must not hide it. On a server the
        // abandoned write may land after the cache dropped the episode; the cache then
        // answers from its copy until its next revalidation (as for another process's
        // write), so the check waits that long there.
        let settle = if common::on_server() { 150 } else { 5 };
        tokio::time::sleep(Duration::from_millis(settle)).await;
        assert_eq!(
            cached.get_episode("ns", id).await.unwrap(),
            store.get_episode("ns", id).await.unwrap()
        );
    }
}

/// A memory over a cached store in a temporary directory, with one running episode.
async fn cached_memory_with_an_episode() -> (
    common::Fixture,
    Arc<TursoStorage>,
    Arc<CachedStorage<TursoStorage>>,
    SelfLearningMemory,
    uuid::Uuid,
) {
    let (fixture, store) = common::fresh().await;
    let store = Arc::new(store);
    let cached = Arc::new(CachedStorage::new(Arc::clone(&store)));
    let memory = SelfLearningMemory::new(cached.clone()).with_embedder(None);
    let id = memory
        .start_episode("ns", NewEpisode::new("a task"))
        .await
        .unwrap();
    (fixture, store, cached, memory, id)
}

#[tokio::test]
async fn a_hit_hands_out_the_cached_episode_itself_and_a_write_replaces_it() {
    let (_dir, store, cached, memory, id) = cached_memory_with_an_episode().await;

    // The first read fills the cache; the next ones share its episode, copying nothing.
    let first = memory.get_episode("ns", id).await.unwrap();
    let second = memory.get_episode("ns", id).await.unwrap();
    let third = cached.get_episode("ns", id).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &second), "a hit is the cached episode");
    assert!(Arc::ptr_eq(&first, &third));
    // The store itself builds a new episode on every read.
    let direct = store.get_episode("ns", id).await.unwrap().unwrap();
    assert!(!Arc::ptr_eq(&first, &direct));
    assert_eq!(first, direct);

    // A step: the next read is a new episode with it; what a caller still holds is
    // unchanged (the shared episode is never written to).
    let step = StepInput::new("grep", "look", StepResult::Success { output: "x".into() });
    memory.log_step("ns", id, step).await.unwrap();
    let after_step = memory.get_episode("ns", id).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &after_step));
    assert_eq!(after_step.steps.len(), 1);
    assert_eq!(
        first.steps.len(),
        0,
        "the held episode is not changed in place"
    );

    // Completing works on a copy of its own: neither the held nor the cached episode is
    // modified, and the next read is the completed one.
    let held = memory.get_episode("ns", id).await.unwrap();
    assert!(Arc::ptr_eq(&held, &after_step));
    let done = memory
        .complete_episode(
            "ns",
            id,
            TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();
    assert!(
        !held.is_complete(),
        "completion did not write into the shared episode"
    );
    let reread = memory.get_episode("ns", id).await.unwrap();
    assert!(reread.is_complete());
    assert_eq!(*reread, done);
    assert_eq!(reread, store.get_episode("ns", id).await.unwrap().unwrap());

    // Deleting: no read hands out the old episode any more.
    memory.delete_episode("ns", id).await.unwrap();
    assert!(cached.get_episode("ns", id).await.unwrap().is_none());
    assert!(memory.get_episode("ns", id).await.is_err());
}

#[tokio::test]
async fn clearing_the_query_tier_keeps_the_episodes() {
    let (_dir, _store, cached, memory, id) = cached_memory_with_an_episode().await;
    let held = memory.get_episode("ns", id).await.unwrap();
    let filter = EpisodeFilter::new("ns");
    cached.list_episodes(&filter).await.unwrap();
    cached.list_episodes(&filter).await.unwrap();
    let tiers = |stats: memory_core::metrics::StorageStats| {
        let c = &stats.caches;
        ((c[0].hits, c[0].misses), (c[2].hits, c[2].misses))
    };
    assert_eq!(
        tiers(cached.storage_stats().await.unwrap()),
        ((0, 1), (1, 1))
    );

    cached.clear_queries();
    cached.list_episodes(&filter).await.unwrap();
    let again = memory.get_episode("ns", id).await.unwrap();
    assert!(Arc::ptr_eq(&held, &again), "the episode tier is kept");
    assert_eq!(
        tiers(cached.storage_stats().await.unwrap()),
        ((1, 1), (1, 2)),
        "the listing was read from the store again"
    );
}
