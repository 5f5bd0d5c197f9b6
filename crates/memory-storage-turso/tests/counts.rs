//! Counting without scanning: `count_episodes`, `namespaces` and the store's totals, read
//! from the trigger-kept `episode_counts`, agree with the episodes themselves after any
//! sequence of starts, completions, imports, vector writes and deletes; and keyset paging
//! (`EpisodeFilter::after`) walks a listing exactly as offsets do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use memory_core::storage::prelude::*;
use memory_core::{EpisodeCounts, EpisodeCursor, EpisodeFilter, EpisodeStatus, TaskOutcome};
use memory_storage_turso::TursoStorage;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use uuid::Uuid;

const NAMESPACES: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
enum Op {
    /// Start an episode in a namespace.
    Start(usize),
    /// Complete the `n`th running episode (modulo how many run) with an outcome.
    Complete(usize, usize),
    /// Import a completed episode into a namespace with an outcome.
    Import(usize, usize),
    /// Give the `n`th completed episode vectors.
    Embed(usize),
    /// Delete the `n`th episode held.
    Delete(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize).prop_map(Op::Start),
        (0..8usize, 0..4usize).prop_map(|(n, o)| Op::Complete(n, o)),
        (0..2usize, 0..4usize).prop_map(|(ns, o)| Op::Import(ns, o)),
        (0..8usize).prop_map(Op::Embed),
        (0..8usize).prop_map(Op::Delete),
    ]
}

fn outcome(i: usize) -> TaskOutcome {
    match i % 4 {
        0 => success("done"),
        1 => TaskOutcome::PartialSuccess {
            verdict: "half".into(),
            completed: vec!["a".into()],
            failed: vec!["b".into()],
        },
        2 => TaskOutcome::Failure {
            reason: "broke".into(),
            details: None,
        },
        _ => TaskOutcome::Abstained {
            reason: "out of scope".into(),
        },
    }
}

/// What the store holds, counted the long way: every episode listed.
async fn counted(storage: &TursoStorage) -> Vec<(String, EpisodeCounts)> {
    let mut out = Vec::new();
    for ns in NAMESPACES {
        let mut filter = EpisodeFilter::new(ns);
        filter.limit = 10_000;
        let mut counts = EpisodeCounts::default();
        let listed = storage.list_episodes(&filter).await.unwrap();
        for e in &listed {
            counts.add(e.outcome_kind, 1);
        }
        if !listed.is_empty() {
            out.push((ns.to_string(), counts));
        }
    }
    out
}

#[test]
fn counts_agree_with_the_episodes_after_any_sequence_of_writes() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cases = if on_server() { 6 } else { 24 };
    TestRunner::new(Config::with_cases(cases))
        .run(&proptest::collection::vec(op(), 1..30), |ops| {
            rt.block_on(async {
                let (_dir, storage) = fresh().await;
                storage.ensure_vector_space("axes", 4).await.unwrap();
                // Every episode held: (namespace, id, completed, has vectors).
                let mut held: Vec<(&str, Uuid, bool, bool)> = Vec::new();
                for (i, op) in ops.iter().enumerate() {
                    let secs = i as i64;
                    match *op {
                        Op::Start(ns) => {
                            let e = running(NAMESPACES[ns], "a task", secs);
                            storage.store_episode(&e).await.unwrap();
                            held.push((NAMESPACES[ns], e.id, false, false));
                        }
                        Op::Complete(n, o) => {
                            let open: Vec<usize> =
                                (0..held.len()).filter(|&k| !held[k].2).collect();
                            if let Some(&k) = open.get(n % open.len().max(1)) {
                                let (ns, id, ..) = held[k];
                                let e = storage.get_episode(ns, id).await.unwrap().unwrap();
                                let c = completion_of(&e, outcome(o), at(secs + 100));
                                storage.complete_episode(ns, id, &c).await.unwrap();
                                held[k].2 = true;
                            }
                        }
                        Op::Import(ns, o) => {
                            let e = running(NAMESPACES[ns], "an imported task", secs);
                            let c = completion_of(&e, outcome(o), at(secs + 100));
                            let e = completed_with(e, &c);
                            storage.store_episodes(vec![e.clone()]).await.unwrap();
                            held.push((NAMESPACES[ns], e.id, true, false));
                        }
                        Op::Embed(n) => {
                            let done: Vec<usize> = (0..held.len()).filter(|&k| held[k].2).collect();
                            if let Some(&k) = done.get(n % done.len().max(1)) {
                                let (ns, id, ..) = held[k];
                                let v = vec![vec![1.0, 0.5, 0.25, n as f32 + 1.0]];
                                storage.store_vectors("axes", ns, &[(id, v)]).await.unwrap();
                                held[k].3 = true;
                            }
                        }
                        Op::Delete(n) => {
                            if !held.is_empty() {
                                let (ns, id, ..) = held.remove(n % held.len());
                                assert!(storage.delete_episode(ns, id, 30.0).await.unwrap());
                            }
                        }
                    }
                }

                let expected = counted(&storage).await;
                let listed = storage.namespaces().await.unwrap().unwrap();
                let episodes_of =
                    |l: &[(String, EpisodeCounts)]| -> BTreeMap<String, EpisodeCounts> {
                        l.iter()
                            .filter(|(_, c)| c.episodes() > 0)
                            .map(|(n, c)| {
                                let mut c = *c;
                                c.patterns = 0;
                                (n.clone(), c)
                            })
                            .collect()
                    };
                prop_assert_eq!(episodes_of(&listed), episodes_of(&expected));
                for ns in NAMESPACES {
                    let one = storage.count_episodes(ns).await.unwrap().unwrap();
                    let in_list = listed
                        .iter()
                        .find(|(n, _)| n == ns)
                        .map(|(_, c)| *c)
                        .unwrap_or_default();
                    prop_assert_eq!(one, in_list);
                }
                let stats = storage.storage_stats().await.unwrap();
                prop_assert_eq!(stats.episodes, held.len() as u64);
                let with_vectors = held.iter().filter(|h| h.3).count() as u64;
                prop_assert_eq!(stats.vectors, with_vectors);
                let pending = held.iter().filter(|h| h.2 && !h.3).count() as u64;
                prop_assert_eq!(stats.episodes_without_vectors, pending);
                prop_assert_eq!(storage.count_without_vectors().await.unwrap(), pending);
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

#[tokio::test]
async fn namespaces_lists_those_holding_episodes_with_their_patterns() {
    let (_dir, storage) = fresh().await;
    let e = running("learned", "deploy the service", 0);
    storage.store_episode(&e).await.unwrap();
    storage
        .append_step("learned", e.id, step("kubectl", "apply", 10), at(1), 100)
        .await
        .unwrap();
    storage
        .store_episode(&running("learned", "another", 2))
        .await
        .unwrap();
    let started = storage.get_episode("learned", e.id).await.unwrap().unwrap();
    let c = completion_of(&started, success("up"), at(100));
    storage.complete_episode("learned", e.id, &c).await.unwrap();
    // A namespace whose only episode is deleted holds nothing any more.
    let gone = running("emptied", "a task", 1);
    storage.store_episode(&gone).await.unwrap();
    assert!(
        storage
            .delete_episode("emptied", gone.id, 30.0)
            .await
            .unwrap()
    );

    let listed = storage.namespaces().await.unwrap().unwrap();
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["learned"]);
    let counts = listed[0].1;
    assert_eq!((counts.success, counts.running), (1, 1));
    assert!(counts.patterns > 0);
    assert_eq!(
        storage.count_episodes("emptied").await.unwrap(),
        Some(EpisodeCounts::default())
    );
}

#[tokio::test]
async fn paging_by_cursor_walks_the_listing_as_offsets_do() {
    let (_dir, storage) = fresh().await;
    // Several episodes share each start time, so the id orders them.
    for i in 0..47 {
        let mut e = running("ns", &format!("task {i}"), i / 4);
        if i % 3 == 0 {
            let c = completion_of(&e, success("ok"), at(500 + i));
            e = completed_with(e, &c);
        }
        storage.store_episode(&e).await.unwrap();
    }
    for status in [None, Some(EpisodeStatus::Completed)] {
        let mut all = EpisodeFilter::new("ns");
        all.status = status;
        all.limit = 1_000;
        let expected: Vec<Uuid> = storage
            .list_episodes(&all)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        let mut walked = Vec::new();
        let mut page = EpisodeFilter::new("ns");
        page.status = status;
        page.limit = 5;
        loop {
            let got = storage.list_episodes(&page).await.unwrap();
            let mut by_offset = page.clone();
            by_offset.after = None;
            by_offset.offset = walked.len();
            let offset_ids: Vec<Uuid> = storage
                .list_episodes(&by_offset)
                .await
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), offset_ids);
            let Some(last) = got.last() else { break };
            let cursor = EpisodeCursor::after(last);
            assert_eq!(cursor.to_string().parse::<EpisodeCursor>().unwrap(), cursor);
            page.after = Some(cursor);
            walked.extend(got.iter().map(|e| e.id));
        }
        assert_eq!(walked, expected);
    }
    assert!("12.not-a-uuid".parse::<EpisodeCursor>().is_err());
    assert!("no-dot".parse::<EpisodeCursor>().is_err());
}
