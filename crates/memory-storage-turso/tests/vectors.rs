//! Episode vectors on a real libSQL database: the vector space and its conflicts, storing
//! (alone and with a completion), approximate search against an exact reference, namespace
//! and completion filtering, deletion, the re-embed work list, the embedding cache, and the
//! facade's vector and hybrid retrieval on top of them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use memory_core::embedding::EmbedError;
use memory_core::embedding::cosine;
use memory_core::retrieval::RetrievalMode;
use memory_core::storage::prelude::*;
use memory_core::{
    Embedder, Episode, HashingEmbedder, ManualClock, MemoryConfig, MemoryError, NewEpisode,
    RetrievalQuery, SelfLearningMemory, StepInput, StepResult, StorageBackend, TaskContext,
    TaskType,
};
use memory_storage_turso::TursoStorage;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// Episodes with one vector each (chunk 0 only), as `store_vectors` takes them.
fn single(list: &[(Uuid, Vec<f32>)]) -> Vec<memory_core::EpisodeVectors> {
    list.iter().map(|(id, v)| (*id, vec![v.clone()])).collect()
}

/// A tiny seeded generator (64-bit LCG), so the tests need no `rand` and never vary.
struct Lcg(u64);

impl Lcg {
    fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    /// Uniform in `[-1, 1)`.
    fn signed(&mut self) -> f32 {
        self.next_u32() as f32 / (1u64 << 30) as f32 - 1.0
    }

    /// A random unit vector (sum of uniforms per component: roughly Gaussian, so the
    /// directions are roughly uniform).
    fn unit(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|_| (0..4).map(|_| self.signed()).sum())
            .collect();
        memory_core::embedding::normalize(&mut v);
        v
    }

    fn below(&mut self, n: usize) -> usize {
        self.next_u32() as usize % n
    }
}

/// A completed episode in `namespace` (no steps), started `secs` after `t0()`.
fn done(namespace: &str, task: &str, secs: i64) -> Episode {
    let mut e = running(namespace, task, secs);
    e.ended_at = Some(at(secs + 60));
    e.outcome = Some(success("ok"));
    e
}

/// A vector pointing mostly along axis `axis`.
fn axis(dim: usize, axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![tilt; dim];
    v[axis] = 1.0;
    memory_core::embedding::normalize(&mut v);
    v
}

/// The exact top `k` of `stored` by cosine to `query`, best first.
fn exact_top(stored: &[(Uuid, Vec<f32>)], query: &[f32], k: usize) -> Vec<(Uuid, f32)> {
    let mut all: Vec<(Uuid, f32)> = stored
        .iter()
        .map(|(id, v)| (*id, cosine(v, query)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    all.truncate(k);
    all
}

/// Stores `n` completed episodes in `ns` with random unit vectors of `dim`, made by
/// `embedder`.
async fn random_store(
    storage: &TursoStorage,
    embedder: &str,
    ns: &str,
    n: usize,
    dim: usize,
    rng: &mut Lcg,
) -> Vec<(Uuid, Vec<f32>)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let e = done(ns, &format!("task {i}"), i as i64);
        storage.store_episode(&e).await.unwrap();
        out.push((e.id, rng.unit(dim)));
    }
    storage
        .store_vectors(embedder, ns, &single(&out))
        .await
        .unwrap();
    out
}

#[tokio::test]
async fn approximate_search_agrees_with_brute_force() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("random", 32).await.unwrap();
    let mut rng = Lcg(42);
    let stored = random_store(&storage, "random", "ns", 300, 32, &mut rng).await;
    let mut overlap_total = 0;
    for _ in 0..20 {
        let q = rng.unit(32);
        let got = storage.vector_search("ns", &q, 10).await.unwrap();
        assert_eq!(got.len(), 10);
        let exact = exact_top(&stored, &q, 10);
        let overlap = got
            .iter()
            .filter(|m| exact.iter().any(|(id, _)| *id == m.summary.id))
            .count();
        assert!(overlap >= 9, "only {overlap} of the exact top 10 found");
        overlap_total += overlap;
        for pair in got.windows(2) {
            assert!(pair[0].similarity >= pair[1].similarity, "best first");
        }
        for m in &got {
            let v = &stored.iter().find(|(id, _)| *id == m.summary.id).unwrap().1;
            let want = f64::from(cosine(v, &q));
            assert!(
                (m.similarity - want).abs() < 1e-4,
                "similarity {} vs {want}",
                m.similarity
            );
        }
    }
    eprintln!("approximate top-10 recall over 20 queries: {overlap_total}/200");
}

#[tokio::test]
async fn an_episode_is_found_by_its_best_chunk() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 12).await.unwrap();
    // Episode i has chunks along axes 3i, 3i + 1 and 3i + 2.
    let mut ids = Vec::new();
    for i in 0..4 {
        let e = done("ns", &format!("task {i}"), i as i64);
        storage.store_episode(&e).await.unwrap();
        let chunks = (0..3).map(|c| axis(12, 3 * i + c, 0.05)).collect();
        storage
            .store_vectors("axes", "ns", &[(e.id, chunks)])
            .await
            .unwrap();
        ids.push(e.id);
    }
    assert_eq!(storage.row_counts().await.unwrap().vectors, 12);
    // A query along episode 2's last chunk finds episode 2 by that chunk.
    let got = storage
        .vector_search("ns", &axis(12, 8, 0.0), 4)
        .await
        .unwrap();
    assert_eq!(got.len(), 4, "one hit per episode, not per chunk");
    assert_eq!((got[0].summary.id, got[0].chunk), (ids[2], 2));
    assert!(got[0].similarity > 0.95, "{:?}", got[0].similarity);
    assert!(got[1].similarity < 0.5);
    // Comparing episodes with one another uses chunk 0.
    let first = storage.vectors_of("ns", &[ids[2]]).await.unwrap();
    assert_eq!(first, vec![(ids[2], axis(12, 6, 0.05))]);
    // Replacing an episode's vectors drops every old chunk.
    storage
        .store_vectors("axes", "ns", &[(ids[2], vec![axis(12, 0, 0.05)])])
        .await
        .unwrap();
    assert_eq!(storage.row_counts().await.unwrap().vectors, 10);
    let got = storage
        .vector_search("ns", &axis(12, 8, 0.0), 1)
        .await
        .unwrap();
    assert_ne!(got[0].summary.id, ids[2]);
    // Deleting an episode deletes all its chunks.
    assert!(storage.delete_episode("ns", ids[1], 30.0).await.unwrap());
    assert_eq!(storage.row_counts().await.unwrap().vectors, 7);
}

#[tokio::test]
async fn approximate_search_over_chunks_agrees_with_brute_force() {
    let (_dir, storage) = fresh().await;
    let dim = 16;
    storage.ensure_vector_space("random", dim).await.unwrap();
    let mut rng = Lcg(11);
    let mut stored: Vec<(Uuid, Vec<Vec<f32>>)> = Vec::new();
    for i in 0..300 {
        let e = done("ns", &format!("task {i}"), i);
        storage.store_episode(&e).await.unwrap();
        let chunks = (0..1 + rng.below(4)).map(|_| rng.unit(dim)).collect();
        stored.push((e.id, chunks));
    }
    storage
        .store_vectors("random", "ns", &stored)
        .await
        .unwrap();
    for _ in 0..10 {
        let q = rng.unit(dim);
        let mut exact: Vec<(Uuid, f32)> = stored
            .iter()
            .map(|(id, chunks)| {
                let best = chunks
                    .iter()
                    .map(|c| cosine(c, &q))
                    .fold(f32::MIN, f32::max);
                (*id, best)
            })
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let got = storage.vector_search("ns", &q, 10).await.unwrap();
        assert_eq!(got.len(), 10);
        let found = got
            .iter()
            .filter(|m| exact[..10].iter().any(|(id, _)| *id == m.summary.id))
            .count();
        assert!(found >= 9, "recall@10 {found}/10");
        for m in &got {
            let (_, sim) = exact.iter().find(|(id, _)| *id == m.summary.id).unwrap();
            assert!((m.similarity - f64::from(*sim)).abs() < 1e-4);
        }
    }
}

#[tokio::test]
async fn an_episode_has_between_one_and_max_chunks_vectors() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let e = done("ns", "a", 0);
    storage.store_episode(&e).await.unwrap();
    let max = memory_core::embedding::MAX_CHUNKS;
    for n in [0, max + 1] {
        let r = storage
            .store_vectors("axes", "ns", &[(e.id, vec![axis(4, 0, 0.1); n])])
            .await;
        assert!(
            matches!(&r, Err(MemoryError::Invalid(v)) if v.field == "vectors[0]"),
            "{n}: {r:?}"
        );
    }
    storage
        .store_vectors("axes", "ns", &[(e.id, vec![axis(4, 0, 0.1); max])])
        .await
        .unwrap();
    assert_eq!(storage.row_counts().await.unwrap().vectors, max as u64);
}

#[tokio::test]
async fn search_never_crosses_namespaces() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 8).await.unwrap();
    // 100 episodes of another namespace crowd the query's neighbourhood; "mine" has 5
    // farther away, so the approximate answer holds none of them and the exact fallback
    // has to find them.
    let mut theirs = Vec::new();
    for i in 0..100 {
        let e = done("theirs", &format!("theirs {i}"), i);
        storage.store_episode(&e).await.unwrap();
        theirs.push((e.id, axis(8, 0, 0.01 * (i % 7) as f32)));
    }
    storage
        .store_vectors("axes", "theirs", &single(&theirs))
        .await
        .unwrap();
    let mut mine = Vec::new();
    for i in 0..5 {
        let e = done("mine", &format!("mine {i}"), 200 + i);
        storage.store_episode(&e).await.unwrap();
        mine.push((e.id, axis(8, 1 + i as usize, 0.1)));
    }
    storage
        .store_vectors("axes", "mine", &single(&mine))
        .await
        .unwrap();

    let q = axis(8, 0, 0.0);
    let got = storage.vector_search("mine", &q, 3).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.summary.namespace == "mine"));
    let exact = exact_top(&mine, &q, 3);
    for (m, (_, sim)) in got.iter().zip(&exact) {
        assert!((m.similarity - f64::from(*sim)).abs() < 1e-4);
    }
    let all = storage.vector_search("mine", &q, 50).await.unwrap();
    assert_eq!(all.len(), 5, "every vector of the namespace, no more");
    let theirs_hits = storage.vector_search("theirs", &q, 50).await.unwrap();
    assert_eq!(theirs_hits.len(), 50);
    assert!(theirs_hits.iter().all(|m| m.summary.namespace == "theirs"));
    assert!(
        storage
            .vector_search("nobody", &q, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // vectors_of is scoped too.
    let ids: Vec<Uuid> = theirs.iter().take(3).map(|(id, _)| *id).collect();
    assert!(storage.vectors_of("mine", &ids).await.unwrap().is_empty());
    assert_eq!(storage.vectors_of("theirs", &ids).await.unwrap().len(), 3);
}

#[tokio::test]
async fn search_returns_completed_episodes_only() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let open = running("ns", "still running", 0);
    let closed = done("ns", "finished", 1);
    storage.store_episode(&open).await.unwrap();
    storage.store_episode(&closed).await.unwrap();
    storage
        .store_vectors(
            "axes",
            "ns",
            &single(&[(open.id, axis(4, 0, 0.0)), (closed.id, axis(4, 1, 0.0))]),
        )
        .await
        .unwrap();
    let got = storage
        .vector_search("ns", &axis(4, 0, 0.0), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].summary.id, closed.id);
    assert!(
        got[0].similarity.abs() < 1e-6,
        "orthogonal: {}",
        got[0].similarity
    );

    // Once it completes (and gets a new vector, which replaces the old one) it is found.
    let c = completion(0, success("done"), 1.0);
    storage.complete_episode("ns", open.id, &c).await.unwrap();
    storage
        .store_vectors("axes", "ns", &single(&[(open.id, axis(4, 2, 0.0))]))
        .await
        .unwrap();
    let got = storage
        .vector_search("ns", &axis(4, 2, 0.0), 1)
        .await
        .unwrap();
    assert_eq!(got[0].summary.id, open.id);
    assert!((got[0].similarity - 1.0).abs() < 1e-6);
    assert_eq!(
        storage.vectors_of("ns", &[open.id]).await.unwrap(),
        vec![(open.id, axis(4, 2, 0.0))]
    );
}

#[tokio::test]
async fn the_vector_space_is_declared_once() {
    let (_dir, storage) = fresh().await;
    assert_eq!(storage.vector_space().await.unwrap(), None);
    storage.ensure_vector_space("hash-v1-8", 8).await.unwrap();
    storage.ensure_vector_space("hash-v1-8", 8).await.unwrap();
    assert_eq!(
        storage.vector_space().await.unwrap(),
        Some(("hash-v1-8".to_string(), 8))
    );
    for (embedder, dim) in [("openai:small", 8), ("hash-v1-8", 16)] {
        match storage.ensure_vector_space(embedder, dim).await {
            Err(MemoryError::Conflict(msg)) => assert_eq!(
                msg,
                format!(
                    "the store's vectors come from `hash-v1-8` (dimension 8), not `{embedder}` \
                     (dimension {dim})"
                )
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert!(matches!(
        storage.ensure_vector_space("x", 0).await,
        Err(MemoryError::Invalid(e)) if e.field == "dimension"
    ));
    assert!(matches!(
        storage.ensure_vector_space(" ", 8).await,
        Err(MemoryError::Invalid(e)) if e.field == "embedder"
    ));

    // The space survives reopening.
    let reopened = common::reopen(&storage).await;
    drop(storage);
    let storage = reopened;
    assert_eq!(
        storage.vector_space().await.unwrap(),
        Some(("hash-v1-8".to_string(), 8))
    );
}

#[tokio::test]
async fn without_a_space_nothing_is_stored_and_nothing_found() {
    let (_dir, storage) = fresh().await;
    let e = running("ns", "task", 0);
    storage.store_episode(&e).await.unwrap();
    let conflict = |r: memory_core::Result<_>| match r {
        Err(MemoryError::Conflict(msg)) => assert!(msg.contains("no vector space declared")),
        other => panic!("expected a conflict, got {other:?}"),
    };
    conflict(
        storage
            .store_vectors(" ", "ns", &single(&[(e.id, axis(4, 0, 0.0))]))
            .await,
    );
    let c = completion(0, success("done"), 1.0);
    storage.complete_episode("ns", e.id, &c).await.unwrap();
    let q = axis(4, 0, 0.0);
    assert!(storage.vector_search("ns", &q, 5).await.unwrap().is_empty());
    assert!(storage.vectors_of("ns", &[e.id]).await.unwrap().is_empty());
    assert_eq!(storage.count_without_vectors().await.unwrap(), 1);
    assert_eq!(storage.row_counts().await.unwrap().vectors, 0);
}

#[tokio::test]
async fn vectors_are_checked_before_anything_is_written() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let a = done("ns", "a", 0);
    storage.store_episode(&a).await.unwrap();
    let invalid_field = |r: memory_core::Result<()>| match r {
        Err(MemoryError::Invalid(e)) => e.field,
        other => panic!("expected invalid input, got {other:?}"),
    };
    let good = axis(4, 0, 0.0);
    assert_eq!(
        invalid_field(
            storage
                .store_vectors(
                    "axes",
                    "ns",
                    &single(&[(a.id, good.clone()), (a.id, vec![1.0, 0.0])])
                )
                .await
        ),
        "vectors[1][0]"
    );
    assert_eq!(
        invalid_field(
            storage
                .store_vectors("axes", "ns", &single(&[(a.id, vec![0.0; 4])]))
                .await
        ),
        "vectors[0][0]"
    );
    assert_eq!(
        invalid_field(
            storage
                .store_vectors(
                    "axes",
                    "ns",
                    &single(&[(a.id, vec![f32::NAN, 1.0, 0.0, 0.0])])
                )
                .await
        ),
        "vectors[0][0]"
    );
    // An unknown episode: NotFound, and the valid vector before it is not kept either.
    let r = storage
        .store_vectors(
            "axes",
            "ns",
            &single(&[(a.id, good.clone()), (Uuid::now_v7(), good.clone())]),
        )
        .await;
    assert!(matches!(r, Err(MemoryError::NotFound { .. })), "{r:?}");
    // Another namespace's episode is unknown here.
    let r = storage
        .store_vectors("axes", "other", &single(&[(a.id, good.clone())]))
        .await;
    assert!(matches!(r, Err(MemoryError::NotFound { .. })), "{r:?}");
    assert!(storage.vectors_of("ns", &[a.id]).await.unwrap().is_empty());
    assert!(matches!(
        storage.vector_search("ns", &[1.0, 0.0], 5).await,
        Err(MemoryError::Invalid(e)) if e.field == "vector"
    ));
    // A zero query has no nearest neighbours.
    assert!(
        storage
            .vector_search("ns", &[0.0; 4], 5)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn reset_drops_every_vector_and_takes_a_new_dimension() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("old", 8).await.unwrap();
    let mut rng = Lcg(7);
    let stored = random_store(&storage, "old", "ns", 10, 8, &mut rng).await;
    assert_eq!(storage.row_counts().await.unwrap().vectors, 10);
    assert_eq!(storage.count_without_vectors().await.unwrap(), 0);

    storage.reset_vector_space("new", 4).await.unwrap();
    assert_eq!(
        storage.vector_space().await.unwrap(),
        Some(("new".to_string(), 4))
    );
    assert_eq!(storage.row_counts().await.unwrap().vectors, 0);
    assert_eq!(storage.count_without_vectors().await.unwrap(), 10);
    let ids: Vec<Uuid> = stored.iter().map(|(id, _)| *id).collect();
    assert!(storage.vectors_of("ns", &ids).await.unwrap().is_empty());
    assert!(
        storage
            .vector_search("ns", &axis(4, 0, 0.0), 5)
            .await
            .unwrap()
            .is_empty()
    );
    // Old-dimension vectors are refused, new ones stored and found.
    assert!(matches!(
        storage
            .store_vectors("new", "ns", &single(&stored[..1]))
            .await,
        Err(MemoryError::Invalid(_))
    ));
    storage
        .store_vectors("new", "ns", &single(&[(ids[3], axis(4, 3, 0.0))]))
        .await
        .unwrap();
    let got = storage
        .vector_search("ns", &axis(4, 3, 0.0), 5)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].summary.id, ids[3]);
    assert!(storage.ensure_vector_space("old", 8).await.is_err());
    storage.ensure_vector_space("new", 4).await.unwrap();
}

#[tokio::test]
async fn vectors_from_another_embedder_are_refused() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let e = running("ns", "task", 0);
    storage.store_episode(&e).await.unwrap();
    let err = storage
        .store_vectors("other-model", "ns", &single(&[(e.id, axis(4, 1, 0.0))]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MemoryError::Conflict(m) if m.contains("`axes`") && m.contains("`other-model`")),
        "{err}"
    );
    assert!(storage.vectors_of("ns", &[e.id]).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_an_episode_deletes_its_vector() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let a = done("ns", "a", 0);
    let b = done("ns", "b", 1);
    storage.store_episode(&a).await.unwrap();
    storage.store_episode(&b).await.unwrap();
    storage
        .store_vectors(
            "axes",
            "ns",
            &single(&[(a.id, axis(4, 0, 0.1)), (b.id, axis(4, 1, 0.1))]),
        )
        .await
        .unwrap();
    assert_eq!(storage.row_counts().await.unwrap().vectors, 2);
    assert!(storage.delete_episode("ns", a.id, 30.0).await.unwrap());
    assert_eq!(storage.row_counts().await.unwrap().vectors, 1);
    assert!(storage.vectors_of("ns", &[a.id]).await.unwrap().is_empty());
    let got = storage
        .vector_search("ns", &axis(4, 0, 0.1), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].summary.id, b.id);
}

#[tokio::test]
async fn an_episode_given_twice_in_one_call_keeps_its_last_vectors() {
    let (_dir, storage) = fresh().await;
    storage.ensure_vector_space("axes", 4).await.unwrap();
    let a = done("ns", "a", 0);
    storage.store_episode(&a).await.unwrap();
    storage
        .store_vectors(
            "axes",
            "ns",
            &[
                (a.id, vec![axis(4, 0, 0.0), axis(4, 1, 0.0)]),
                (a.id, vec![axis(4, 2, 0.0)]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(storage.row_counts().await.unwrap().vectors, 1);
    let got = storage
        .vector_search("ns", &axis(4, 2, 0.0), 10)
        .await
        .unwrap();
    assert_eq!(got[0].summary.id, a.id);
    assert!((got[0].similarity - 1.0).abs() < 1e-5, "{got:?}");
}

#[tokio::test]
async fn the_work_list_shrinks_as_vectors_are_stored() {
    let (_dir, storage) = fresh().await;
    // Two namespaces, one running episode (never listed), and steps on the first.
    let mut first = done("a", "first", 0);
    first.steps = vec![
        recorded(1, "grep", "look", 5),
        recorded(2, "edit", "fix", 7),
    ];
    storage.store_episode(&first).await.unwrap();
    let mut all = vec![first.clone()];
    for i in 1..5 {
        let e = done(if i % 2 == 0 { "a" } else { "b" }, &format!("t{i}"), i);
        storage.store_episode(&e).await.unwrap();
        all.push(e);
    }
    storage
        .store_episode(&running("a", "open", 9))
        .await
        .unwrap();

    // Before any space is declared every completed episode is on the list.
    assert_eq!(storage.count_without_vectors().await.unwrap(), 5);
    let batch = storage.episodes_without_vectors(None, 2).await.unwrap();
    assert_eq!(batch, all[..2].to_vec(), "oldest first, whole, with steps");

    storage.ensure_vector_space("axes", 4).await.unwrap();
    assert_eq!(storage.count_without_vectors().await.unwrap(), 5);
    let mut remaining = 5;
    loop {
        let batch = storage.episodes_without_vectors(None, 2).await.unwrap();
        if batch.is_empty() {
            break;
        }
        let expected: Vec<Uuid> = all[5 - remaining..][..batch.len()]
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(batch.iter().map(|e| e.id).collect::<Vec<_>>(), expected);
        for e in &batch {
            storage
                .store_vectors("axes", &e.namespace, &single(&[(e.id, axis(4, 0, 0.5))]))
                .await
                .unwrap();
        }
        remaining -= batch.len();
        assert_eq!(
            storage.count_without_vectors().await.unwrap(),
            remaining as u64
        );
    }
    assert_eq!(remaining, 0);
    assert!(
        storage
            .episodes_without_vectors(None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // An episode given its vector while running is not pending once it completes; a
    // deleted one is not pending at all.
    let early = running("a", "embedded early", 20);
    storage.store_episode(&early).await.unwrap();
    storage
        .store_vectors("axes", "a", &single(&[(early.id, axis(4, 1, 0.5))]))
        .await
        .unwrap();
    storage
        .complete_episode("a", early.id, &completion(0, success("ok"), 1.0))
        .await
        .unwrap();
    let late = done("b", "imported late", 21);
    storage.store_episode(&late).await.unwrap();
    assert_eq!(storage.count_without_vectors().await.unwrap(), 1);
    assert!(storage.delete_episode("b", late.id, 30.0).await.unwrap());
    assert_eq!(storage.count_without_vectors().await.unwrap(), 0);
    assert!(
        storage
            .episodes_without_vectors(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_embedding_cache_round_trips() {
    let (_dir, storage) = fresh().await;
    let v1 = vec![0.5f32, -0.25, 1.0e-6];
    let v2 = vec![1.0f32, 2.0, 3.0];
    storage
        .cache_embeddings(
            "remote:a",
            &[
                ("h1".to_string(), v1.clone()),
                ("h2".to_string(), v2.clone()),
            ],
        )
        .await
        .unwrap();
    let asked: Vec<String> = ["h2", "missing", "h1", "h2"].map(String::from).to_vec();
    assert_eq!(
        storage.cached_embeddings("remote:a", &asked).await.unwrap(),
        vec![Some(v2.clone()), None, Some(v1.clone()), Some(v2.clone())]
    );
    assert_eq!(
        storage.cached_embeddings("remote:b", &asked).await.unwrap(),
        vec![None, None, None, None],
        "another embedder's entries are misses"
    );
    // Caching again replaces; many hashes at once work across lookup chunks.
    storage
        .cache_embeddings("remote:a", &[("h1".to_string(), v2.clone())])
        .await
        .unwrap();
    let many: Vec<(String, Vec<f32>)> = (0..450)
        .map(|i| (format!("k{i}"), vec![i as f32, 1.0]))
        .collect();
    storage.cache_embeddings("remote:a", &many).await.unwrap();
    let mut asked: Vec<String> = many.iter().map(|(h, _)| h.clone()).collect();
    asked.push("h1".into());
    let got = storage.cached_embeddings("remote:a", &asked).await.unwrap();
    assert_eq!(got.len(), 451);
    assert_eq!(got[449], Some(vec![449.0, 1.0]));
    assert_eq!(got[450], Some(v2));
    assert!(
        storage
            .cached_embeddings("remote:a", &[])
            .await
            .unwrap()
            .is_empty()
    );
    // The cache does not depend on the vector space.
    storage.reset_vector_space("remote:a", 3).await.unwrap();
    assert_eq!(
        storage
            .cached_embeddings("remote:a", &["h2".to_string()])
            .await
            .unwrap(),
        vec![Some(vec![1.0, 2.0, 3.0])]
    );
}

// ----- The facade on top -----------------------------------------------------------------

struct Fixture {
    _dir: common::Fixture,
    storage: Arc<TursoStorage>,
    memory: SelfLearningMemory,
}

async fn fixture() -> Fixture {
    let (dir, storage) = fresh().await;
    let storage = Arc::new(storage);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    ));
    let memory = SelfLearningMemory::with_config(
        storage.clone() as Arc<dyn StorageBackend>,
        MemoryConfig::default(),
        clock,
    );
    Fixture {
        _dir: dir,
        storage,
        memory,
    }
}

/// Records and completes an episode through the facade.
async fn finished(f: &Fixture, ns: &str, task: &str) -> Uuid {
    let new = NewEpisode {
        task_type: TaskType::Debugging,
        context: TaskContext {
            language: Some("rust".into()),
            ..TaskContext::default()
        },
        ..NewEpisode::new(task)
    };
    let id = f.memory.start_episode(ns, new).await.unwrap();
    f.memory
        .log_step(
            ns,
            id,
            StepInput::new(
                "shell",
                "run",
                StepResult::Success {
                    output: "fine".into(),
                },
            ),
        )
        .await
        .unwrap();
    f.memory
        .complete_episode(ns, id, success("done"))
        .await
        .unwrap();
    id
}

fn query(ns: &str, text: &str, mode: RetrievalMode) -> RetrievalQuery {
    RetrievalQuery {
        mode,
        limit: 10,
        ..RetrievalQuery::new(ns, text)
    }
}

#[tokio::test]
async fn vector_retrieval_finds_a_paraphrase() {
    let f = fixture().await;
    let deploy = finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    let parser = finished(&f, "ns", "write unit tests for the date parser").await;
    let billing = finished(&f, "ns", "rename the billing module").await;
    // Completing does not embed (the write path stays cheap); the first retrieval does.
    assert_eq!(f.storage.vector_space().await.unwrap(), None);
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 3);

    // No word in common with the stored task, only pieces of words.
    let pack = f
        .memory
        .retrieve_context(&query(
            "ns",
            "deployment keeps timing out",
            RetrievalMode::Vector,
        ))
        .await
        .unwrap();
    let embedder = HashingEmbedder::default();
    assert_eq!(
        f.storage.vector_space().await.unwrap(),
        Some((
            memory_core::Embedder::id(&embedder).to_string(),
            HashingEmbedder::DEFAULT_DIMENSION
        ))
    );
    // Each episode's task and outcome, and its one step.
    assert_eq!(f.storage.row_counts().await.unwrap().vectors, 6);
    let sim = |id: Uuid| {
        pack.hits
            .iter()
            .find(|h| h.id == id)
            .and_then(|h| h.score.similarity)
    };
    assert_eq!(pack.hits[0].id, deploy, "{:#?}", pack.hits);
    let best = sim(deploy).unwrap();
    for other in [parser, billing] {
        assert!(sim(other).is_none_or(|s| s < best), "{:#?}", pack.hits);
    }
    assert!(pack.hits.iter().all(|h| h.score.lexical_rank.is_none()));
    assert_eq!(pack.hits[0].score.semantic_rank, Some(1));
}

#[tokio::test]
async fn vector_retrieval_finds_an_episode_by_one_of_its_steps() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for (task, output) in [
        (
            "investigate the nightly job",
            "segmentation fault in the png decoder while reading thumbnails",
        ),
        (
            "investigate the weekly job",
            "all rows exported, nothing to do",
        ),
        ("investigate the hourly job", "the queue was empty again"),
    ] {
        let id = f
            .memory
            .start_episode("ns", NewEpisode::new(task))
            .await
            .unwrap();
        for (action, out) in [("open the logs", "3 files"), ("read the last run", output)] {
            let result = StepResult::Success { output: out.into() };
            f.memory
                .log_step("ns", id, StepInput::new("shell", action, result))
                .await
                .unwrap();
        }
        f.memory
            .complete_episode("ns", id, success("done"))
            .await
            .unwrap();
        ids.push(id);
    }
    // Task and outcome alike; only the nightly job's step says what the query asks.
    let pack = f
        .memory
        .retrieve_context(&query(
            "ns",
            "png decoder segfault on thumbnails",
            RetrievalMode::Vector,
        ))
        .await
        .unwrap();
    assert_eq!(pack.hits[0].id, ids[0], "{:#?}", pack.hits);
    assert_eq!(pack.hits[0].score.semantic_rank, Some(1));
    let matches = f
        .storage
        .vector_search(
            "ns",
            &HashingEmbedder::default()
                .embed(&["png decoder segfault on thumbnails".to_string()])
                .await
                .unwrap()[0],
            3,
        )
        .await
        .unwrap();
    assert_eq!((matches[0].summary.id, matches[0].chunk), (ids[0], 1));
}

#[tokio::test]
async fn hybrid_hits_carry_both_ranks() {
    let f = fixture().await;
    let deploy = finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    let parser = finished(&f, "ns", "write unit tests for the date parser").await;
    let pack = f
        .memory
        .retrieve_context(&query(
            "ns",
            "staging deploy timeouts",
            RetrievalMode::Hybrid,
        ))
        .await
        .unwrap();
    let hit = |id: Uuid| pack.hits.iter().find(|h| h.id == id).unwrap();
    assert_eq!(pack.hits[0].id, deploy);
    // Found by both searches: both ranks.
    assert_eq!(hit(deploy).score.lexical_rank, Some(1));
    assert_eq!(hit(deploy).score.semantic_rank, Some(1));
    // Unrelated in words and in meaning: below the similarity floor, so not a vector
    // candidate (in a tiny store every episode is somebody's nearest neighbour); it can only
    // come in through its context.
    assert!(
        pack.hits
            .iter()
            .filter(|h| h.id == parser)
            .all(|h| h.score.semantic_rank.is_none() && h.score.lexical_rank.is_none()),
        "{:#?}",
        pack.hits
    );
}

#[tokio::test]
async fn embed_pending_and_reembed_fill_the_vectors() {
    let f = fixture().await;
    finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    // Neither completed nor imported episodes have vectors yet.
    let imported = done("ns", "flaky login test in the auth service", 10);
    let elsewhere = done("other", "slow queries in the reporting database", 11);
    f.storage.store_episode(&imported).await.unwrap();
    f.storage.store_episode(&elsewhere).await.unwrap();
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 3);

    let mut calls = Vec::new();
    let n = f
        .memory
        .embed_pending(2, |done, total| calls.push((done, total)))
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(calls, vec![(0, 3), (2, 3), (3, 3)]);
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 0);
    // Two chunks for the episode with a step (task and outcome; the step), one each for
    // the two without.
    assert_eq!(f.storage.row_counts().await.unwrap().vectors, 4);
    let pack = f
        .memory
        .retrieve_context(&query("ns", "login flakiness", RetrievalMode::Vector))
        .await
        .unwrap();
    // Nearest by vector (the final order also weighs reward and recency, which the
    // imported episode, finished long ago and never scored, lacks).
    let hit = pack.hits.iter().find(|h| h.id == imported.id).unwrap();
    assert_eq!(hit.score.semantic_rank, Some(1), "{:#?}", pack.hits);

    // Re-embedding with another embedder switches the space and rebuilds every vector.
    let small = f
        .memory
        .clone()
        .with_embedder(Some(Arc::new(HashingEmbedder::new(64))));
    let before = f.storage.vectors_of("ns", &[imported.id]).await.unwrap();
    assert_eq!(before[0].1.len(), 384);
    assert_eq!(small.reembed(2, |_, _| {}).await.unwrap(), 3);
    assert_eq!(
        f.storage.vector_space().await.unwrap(),
        Some(("hash-v1-64".to_string(), 64))
    );
    assert_eq!(f.storage.row_counts().await.unwrap().vectors, 4);
    let after = f.storage.vectors_of("ns", &[imported.id]).await.unwrap();
    assert_eq!(after[0].1.len(), 64);
    let pack = small
        .retrieve_context(&query(
            "other",
            "reporting queries slow",
            RetrievalMode::Vector,
        ))
        .await
        .unwrap();
    assert_eq!(pack.hits[0].id, elsewhere.id);
}

#[tokio::test]
async fn a_retrieval_embeds_only_its_own_namespace_backlog() {
    let f = fixture().await;
    for i in 0..3 {
        f.storage
            .store_episode(&done("ns", &format!("flaky login test {i}"), i))
            .await
            .unwrap();
        f.storage
            .store_episode(&done("other", &format!("slow reporting query {i}"), 10 + i))
            .await
            .unwrap();
    }
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 6);
    f.memory
        .retrieve_context(&query("ns", "login flakiness", RetrievalMode::Hybrid))
        .await
        .unwrap();
    // The three of `ns` were indexed before the search; `other`'s wait for its own.
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 3);
    let pending = f
        .storage
        .episodes_without_vectors(Some("other"), 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 3);
    assert!(
        f.storage
            .episodes_without_vectors(Some("ns"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The store's embedder (same id and dimension as the default one), its service down.
#[derive(Debug)]
struct Down;

#[async_trait::async_trait]
impl Embedder for Down {
    fn id(&self) -> &str {
        "hash-v1-384"
    }
    fn dimension(&self) -> usize {
        384
    }
    fn is_local(&self) -> bool {
        false
    }
    async fn embed(&self, _: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::Request {
            url: "http://127.0.0.1:9/v1/embeddings".into(),
            detail: "connection refused".into(),
        })
    }
}

#[tokio::test]
async fn a_failing_embedder_degrades_hybrid_retrieval_to_full_text() {
    let f = fixture().await;
    let id = finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    // A working embedder gives no warning (and declares the store's vector space).
    let pack = f
        .memory
        .retrieve_context(&query(
            "ns",
            "staging deploy timeouts",
            RetrievalMode::Hybrid,
        ))
        .await
        .unwrap();
    assert!(pack.warnings.is_empty());
    finished(&f, "ns", "deploy timeouts again on staging").await;
    let down = f.memory.clone().with_embedder(Some(Arc::new(Down)));
    let pack = down
        .retrieve_context(&query(
            "ns",
            "staging deploy timeouts",
            RetrievalMode::Hybrid,
        ))
        .await
        .unwrap();
    assert!(pack.hits.iter().any(|h| h.id == id));
    assert!(pack.hits.iter().all(|h| h.score.semantic_rank.is_none()));
    assert_eq!(pack.warnings.len(), 1, "{:?}", pack.warnings);
    assert!(
        pack.warnings[0].contains("full-text search only")
            && pack.warnings[0].contains("connection refused"),
        "{:?}",
        pack.warnings
    );
    assert!(
        pack.markdown.contains("> warning: vector search skipped"),
        "{}",
        pack.markdown
    );
    // Asked for vectors alone, there is nothing to fall back on: the error is the answer.
    let err = down
        .retrieve_context(&query(
            "ns",
            "staging deploy timeouts",
            RetrievalMode::Vector,
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, MemoryError::Embedding(_)), "{err}");
}

// ----- Measurements ----------------------------------------------------------------------

/// Percentile `p` (0..=100) of sorted durations, in milliseconds.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i]
}

/// A vocabulary of 400 made-up words for synthetic task descriptions.
fn vocabulary() -> Vec<String> {
    (0..400)
        .map(|i| format!("w{}x{}", i * 7919 % 1000, i % 13))
        .collect()
}

/// A synthetic task description: 6 to 13 words of `words`.
fn synthetic_task(words: &[String], rng: &mut Lcg) -> String {
    let n = 6 + rng.below(8);
    (0..n)
        .map(|_| words[rng.below(words.len())].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Vector search latency on 10,000 episodes with 384-dimension vectors from the default
/// embedder. Run with
/// `cargo test --release -p memory-storage-turso --test vectors -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement; run in release"]
async fn vector_search_latency() {
    const N: usize = 10_000;
    let (dir, storage) = fresh().await;
    let embedder = HashingEmbedder::default();
    storage
        .ensure_vector_space(memory_core::Embedder::id(&embedder), 384)
        .await
        .unwrap();
    let words = vocabulary();
    let mut rng = Lcg(2026);
    let text = |rng: &mut Lcg| synthetic_task(&words, rng);

    let started = Instant::now();
    let mut episodes = Vec::with_capacity(N);
    for i in 0..N {
        let e = done("bench", &text(&mut rng), i as i64);
        episodes.push(e);
    }
    for e in &episodes {
        storage.store_episode(e).await.unwrap();
    }
    let stored_in = started.elapsed();
    let vectors: Vec<(Uuid, Vec<f32>)> = episodes
        .iter()
        .map(|e| (e.id, embedder.embed_one(&e.task_description)))
        .collect();
    let started = Instant::now();
    for chunk in vectors.chunks(500) {
        storage
            .store_vectors("remote:a", "bench", &single(chunk))
            .await
            .unwrap();
    }
    let indexed_in = started.elapsed();

    let queries: Vec<Vec<f32>> = (0..200)
        .map(|_| embedder.embed_one(&text(&mut rng)))
        .collect();
    for limit in [10usize, 100] {
        let mut times = Vec::new();
        let mut overlap = 0;
        for q in &queries {
            let t = Instant::now();
            let got = storage.vector_search("bench", q, limit).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let exact = exact_top(&vectors, q, limit);
            // Ties at the boundary make ids ambiguous; count by similarity instead.
            let cut = exact.last().map_or(0.0, |(_, s)| *s) - 1e-5;
            overlap += got.iter().filter(|m| m.similarity as f32 >= cut).count();
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "vector_search limit {limit}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; \
             recall@{limit} {:.3}",
            pct(&times, 50.0),
            pct(&times, 95.0),
            pct(&times, 100.0),
            overlap as f64 / (limit * queries.len()) as f64
        );
    }
    // What a retrieval pays to find pending episodes (core indexes some on read) when
    // none are pending.
    let mut work = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        assert_eq!(storage.count_without_vectors().await.unwrap(), 0);
        assert!(
            storage
                .episodes_without_vectors(None, 32)
                .await
                .unwrap()
                .is_empty()
        );
        work.push(t.elapsed().as_secs_f64() * 1e3);
    }
    work.sort_by(f64::total_cmp);
    eprintln!(
        "count_without_vectors + episodes_without_vectors(None, 32), none pending: p50 {:.2} ms, \
         p95 {:.2} ms",
        pct(&work, 50.0),
        pct(&work, 95.0)
    );

    // The file's size once the log is checkpointed into it.
    drop(storage);
    let path = dir.path().join("memory.db");
    let db = libsql::Builder::new_local(&path).build().await.unwrap();
    let conn = db.connect().unwrap();
    let mut rows = conn
        .query("PRAGMA wal_checkpoint(TRUNCATE)", ())
        .await
        .unwrap();
    while rows.next().await.unwrap().is_some() {}
    drop(rows);
    let mut rows = conn
        .query(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6",
            (),
        )
        .await
        .unwrap();
    while let Some(row) = rows.next().await.unwrap() {
        eprintln!(
            "  {}: {:.1} MB",
            row.get::<String>(0).unwrap(),
            row.get::<i64>(1).unwrap() as f64 / 1e6
        );
    }
    drop(rows);
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "{N} episodes stored in {:.1} s; their vectors indexed in {:.1} s ({:.2} ms each); \
         database {:.0} MB",
        stored_in.as_secs_f64(),
        indexed_in.as_secs_f64(),
        indexed_in.as_secs_f64() * 1e3 / N as f64,
        size as f64 / 1e6
    );
}

/// How the vector index's options trade size for recall and speed, on the same data as
/// [`vector_search_latency`] but straight through libSQL (so options can be compared
/// without changing the crate). Run like it.
#[tokio::test]
#[ignore = "a measurement; run in release"]
async fn vector_index_options() {
    const N: usize = 10_000;
    let embedder = HashingEmbedder::default();
    let words = vocabulary();
    let mut rng = Lcg(2026);
    let text = |rng: &mut Lcg| synthetic_task(&words, rng);
    let vectors: Vec<Vec<f32>> = (0..N)
        .map(|_| embedder.embed_one(&text(&mut rng)))
        .collect();
    let queries: Vec<Vec<f32>> = (0..200)
        .map(|_| embedder.embed_one(&text(&mut rng)))
        .collect();
    let ids: Vec<(Uuid, Vec<f32>)> = vectors.iter().map(|v| (Uuid::nil(), v.clone())).collect();
    let blob = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };

    // `VECTOR_INDEX_OPTIONS="'metric=cosine', 'max_neighbors=16';…"` tries others.
    let tried = std::env::var("VECTOR_INDEX_OPTIONS").unwrap_or_else(|_| {
        "'metric=cosine';'metric=cosine', 'compress_neighbors=float8';\
         'metric=cosine', 'compress_neighbors=float1bit'"
            .to_string()
    });
    for options in tried.split(';').map(str::trim) {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("v.db");
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             CREATE TABLE v (id INTEGER PRIMARY KEY, e F32_BLOB(384) NOT NULL);
             CREATE INDEX v_idx ON v (libsql_vector_idx(e, {options}));"
        ))
        .await
        .unwrap();
        let started = Instant::now();
        for chunk in vectors.chunks(500).enumerate() {
            let tx = conn.transaction().await.unwrap();
            for (i, v) in chunk.1.iter().enumerate() {
                tx.execute(
                    "INSERT INTO v (id, e) VALUES (?1, vector32(?2))",
                    libsql::params![(chunk.0 * 500 + i) as i64, libsql::Value::Blob(blob(v))],
                )
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
        let insert = started.elapsed().as_secs_f64();
        let mut times = Vec::new();
        let mut found = 0;
        for q in &queries {
            let t = Instant::now();
            let mut rows = conn
                .query(
                    "SELECT 1.0 - vector_distance_cos(v.e, vector32(?1)) AS s \
                     FROM vector_top_k('v_idx', vector32(?1), 10) AS t JOIN v ON v.id = t.id \
                     ORDER BY s DESC",
                    libsql::params![libsql::Value::Blob(blob(q))],
                )
                .await
                .unwrap();
            let mut sims = Vec::new();
            while let Some(row) = rows.next().await.unwrap() {
                sims.push(row.get::<f64>(0).unwrap());
            }
            times.push(t.elapsed().as_secs_f64() * 1e3);
            let cut = exact_top(&ids, q, 10).last().map_or(0.0, |(_, s)| *s) - 1e-5;
            found += sims.iter().filter(|s| **s as f32 >= cut).count();
        }
        times.sort_by(f64::total_cmp);
        // The exact answer by a full scan, for comparison.
        let mut scan = Vec::new();
        for q in queries.iter().take(50) {
            let t = Instant::now();
            let mut rows = conn
                .query(
                    "SELECT id FROM v ORDER BY vector_distance_cos(e, vector32(?1)) LIMIT 10",
                    libsql::params![libsql::Value::Blob(blob(q))],
                )
                .await
                .unwrap();
            while rows.next().await.unwrap().is_some() {}
            scan.push(t.elapsed().as_secs_f64() * 1e3);
        }
        scan.sort_by(f64::total_cmp);
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .await
            .ok();
        let size = std::fs::metadata(&path).unwrap().len();
        eprintln!(
            "{options}: insert {:.2} ms/vector, top-10 p50 {:.2} ms p95 {:.2} ms, \
             recall@10 {:.3}, file {:.0} MB; full scan p50 {:.2} ms",
            insert * 1e3 / N as f64,
            pct(&times, 50.0),
            pct(&times, 95.0),
            found as f64 / (10 * queries.len()) as f64,
            size as f64 / 1e6,
            pct(&scan, 50.0)
        );
    }
}

#[tokio::test]
async fn background_embedding_is_woken_by_a_completion_and_finds_other_writers() {
    let f = fixture().await;
    let settings = memory_core::BackgroundEmbedding {
        batch: 2,
        // Long enough that only a completion in this process can wake it in time.
        poll: std::time::Duration::from_secs(3600),
        max_backoff: std::time::Duration::from_secs(3600),
    };
    // Episodes stored by another writer before it starts: found by its first look.
    for i in 0..5 {
        let e = done("elsewhere", &format!("imported {i}"), i);
        f.storage.store_episode(&e).await.unwrap();
    }
    let memory = f.memory.clone();
    let task = tokio::spawn(async move { memory.embed_in_background(settings).await });
    let wait_until_embedded = || async {
        for _ in 0..500 {
            if f.storage.count_without_vectors().await.unwrap() == 0 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    };
    assert!(
        wait_until_embedded().await,
        "the first look embeds every backlog"
    );
    // A completion through this memory wakes it at once.
    let id = finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    assert!(wait_until_embedded().await, "woken by the completion");
    assert_eq!(
        f.storage.vectors_of("ns", &[id]).await.unwrap().len(),
        1,
        "chunk 0 of the new episode"
    );
    task.abort();
}

/// The default embedder, except that embedding anything but `query` waits until `open`.
#[derive(Debug)]
struct Gated {
    inner: HashingEmbedder,
    query: String,
    open: std::sync::atomic::AtomicBool,
    opened: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Embedder for Gated {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn is_local(&self) -> bool {
        true
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        while texts.iter().any(|t| *t != self.query)
            && !self.open.load(std::sync::atomic::Ordering::SeqCst)
        {
            let opened = self.opened.notified();
            if self.open.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            opened.await;
        }
        self.inner.embed(texts).await
    }
}

#[tokio::test]
async fn a_retrieval_leaves_the_backlog_to_a_background_loop_while_one_runs() {
    let f = fixture().await;
    finished(&f, "ns", "deploy timeouts on the staging cluster").await;
    let text = "staging deploy timeouts";
    let gated = Arc::new(Gated {
        inner: HashingEmbedder::default(),
        query: text.to_string(),
        open: false.into(),
        opened: tokio::sync::Notify::new(),
    });
    let memory = f
        .memory
        .clone()
        .with_embedder(Some(gated.clone() as Arc<dyn Embedder>));
    // The background loop takes the pending episode and waits inside the embedder.
    let looping = memory.clone();
    let background = tokio::spawn(async move {
        looping
            .embed_in_background(memory_core::BackgroundEmbedding::default())
            .await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // A retrieval meanwhile embeds only its query: it answers (by full text) at once.
    let pack = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        memory.retrieve_context(&query("ns", text, RetrievalMode::Hybrid)),
    )
    .await
    .expect("the retrieval waited for the backlog")
    .unwrap();
    assert_eq!(pack.hits.len(), 1);
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 1);

    // With no loop running, a retrieval embeds the namespace's pending episode itself.
    background.abort();
    let _ = background.await;
    gated.open.store(true, std::sync::atomic::Ordering::SeqCst);
    gated.opened.notify_waiters();
    memory
        .retrieve_context(&query("ns", text, RetrievalMode::Hybrid))
        .await
        .unwrap();
    assert_eq!(f.storage.count_without_vectors().await.unwrap(), 0);
}
