//! Vectors: the vector space's rules, search by the best chunk's cosine, the work list of
//! episodes without vectors, and the embedding cache.

use super::builders::*;
use memory_core::{EpisodeVectors, StorageBackend};
use std::sync::Arc;
use uuid::Uuid;

/// One space per store, declared before vectors are stored, changed only by a reset
/// (which drops every vector); vectors of the space's embedder and dimension, finite and
/// not zero, for episodes of the namespace.
pub async fn vector_space_rules(store: Arc<dyn StorageBackend>) {
    let e = finished("ns", "t", 0, success("ok"));
    let other = finished("other", "t", 0, success("ok"));
    store_all(store.as_ref(), &[&e, &other]).await;
    let v = |x: f32, y: f32| vec![vec![x, y]];

    assert_eq!(store.vector_space().await.unwrap(), None);
    assert_error(
        store
            .store_vectors("axes", "ns", &[(e.id, v(1.0, 0.0))])
            .await,
        "conflict",
        "vectors before a space",
    );
    store.store_vectors("axes", "ns", &[]).await.unwrap();
    assert_error(
        store.ensure_vector_space("", 2).await,
        "invalid",
        "an empty embedder id",
    );
    assert_error(
        store.ensure_vector_space("axes", 0).await,
        "invalid",
        "dimension 0",
    );
    store.ensure_vector_space("axes", 2).await.unwrap();
    store.ensure_vector_space("axes", 2).await.unwrap();
    assert_eq!(
        store.vector_space().await.unwrap(),
        Some(("axes".to_string(), 2))
    );
    assert_error(
        store.ensure_vector_space("axes", 3).await,
        "conflict",
        "another dimension",
    );
    assert_error(
        store.ensure_vector_space("words", 2).await,
        "conflict",
        "another embedder",
    );

    let bad: Vec<(&str, Vec<EpisodeVectors>, &str)> = vec![
        (
            "a vector of dimension 3",
            vec![(e.id, vec![vec![1.0, 0.0, 0.0]])],
            "invalid",
        ),
        ("a zero vector", vec![(e.id, v(0.0, 0.0))], "invalid"),
        ("a NaN component", vec![(e.id, v(f32::NAN, 1.0))], "invalid"),
        ("no chunks", vec![(e.id, vec![])], "invalid"),
        (
            "an episode of another namespace",
            vec![(other.id, v(1.0, 0.0))],
            "not found",
        ),
        (
            "an unknown episode",
            vec![(Uuid::now_v7(), v(1.0, 0.0))],
            "not found",
        ),
    ];
    for (what, vectors, expected) in bad {
        assert_error(
            store.store_vectors("axes", "ns", &vectors).await,
            expected,
            what,
        );
    }
    assert_error(
        store
            .store_vectors("words", "ns", &[(e.id, v(1.0, 0.0))])
            .await,
        "conflict",
        "vectors of another embedder",
    );
    assert!(
        store.vectors_of("ns", &[e.id]).await.unwrap().is_empty(),
        "nothing was stored"
    );

    store
        .store_vectors("axes", "ns", &[(e.id, v(1.0, 0.0))])
        .await
        .unwrap();
    assert_eq!(
        store.vectors_of("ns", &[e.id]).await.unwrap(),
        [(e.id, vec![1.0, 0.0])]
    );
    assert_error(
        store.vector_search("ns", &[1.0, 0.0, 0.0], 5).await,
        "invalid",
        "a query of another dimension",
    );
    assert_error(
        store.vector_search("ns", &[f32::INFINITY, 0.0], 5).await,
        "invalid",
        "an infinite query",
    );

    store.reset_vector_space("words", 3).await.unwrap();
    assert_eq!(
        store.vector_space().await.unwrap(),
        Some(("words".to_string(), 3))
    );
    assert!(store.vectors_of("ns", &[e.id]).await.unwrap().is_empty());
    assert!(
        store
            .vector_search("ns", &[1.0, 0.0, 0.0], 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_without_vectors().await.unwrap(), 2);
}

/// Search ranks the namespace's completed episodes by the cosine of their best chunk,
/// says which chunk, and honours the limit; a zero query finds nothing.
pub async fn vector_search_by_best_chunk_cosine(store: Arc<dyn StorageBackend>) {
    let same = finished("ns", "same", 0, success("ok"));
    let near = finished("ns", "near", 1, success("ok"));
    let chunked = finished("ns", "chunked", 2, success("ok"));
    let open = running("ns", "open", 3);
    let elsewhere = finished("other", "elsewhere", 4, success("ok"));
    store_all(store.as_ref(), &[&same, &near, &chunked, &open, &elsewhere]).await;
    store.ensure_vector_space("axes", 2).await.unwrap();
    store
        .store_vectors(
            "axes",
            "ns",
            &[
                (same.id, vec![vec![2.0, 0.0]]),
                (near.id, vec![vec![0.6, 0.8]]),
                (chunked.id, vec![vec![0.0, 1.0], vec![0.8, 0.6]]),
                (open.id, vec![vec![1.0, 0.0]]),
            ],
        )
        .await
        .unwrap();
    store
        .store_vectors("axes", "other", &[(elsewhere.id, vec![vec![1.0, 0.0]])])
        .await
        .unwrap();

    let found = store.vector_search("ns", &[1.0, 0.0], 10).await.unwrap();
    let got: Vec<(Uuid, u32)> = found.iter().map(|m| (m.summary.id, m.chunk)).collect();
    assert_eq!(got, [(same.id, 0), (chunked.id, 1), (near.id, 0)]);
    for (m, expected) in found.iter().zip([1.0, 0.8, 0.6]) {
        assert!((m.similarity - expected).abs() < 1e-5, "{m:?}");
    }
    assert_eq!(found[0].summary, same.summary());
    let top = store.vector_search("ns", &[1.0, 0.0], 1).await.unwrap();
    assert_eq!(
        top.iter().map(|m| m.summary.id).collect::<Vec<_>>(),
        [same.id]
    );
    assert!(
        store
            .vector_search("ns", &[0.0, 0.0], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .vector_search("ns", &[1.0, 0.0], 0)
            .await
            .unwrap()
            .is_empty()
    );

    // First vectors, in the order asked, an id once; replaced as a whole.
    let firsts = store
        .vectors_of("ns", &[chunked.id, Uuid::now_v7(), same.id, chunked.id])
        .await
        .unwrap();
    assert_eq!(
        firsts,
        [(chunked.id, vec![0.0, 1.0]), (same.id, vec![2.0, 0.0])]
    );
    store
        .store_vectors("axes", "ns", &[(chunked.id, vec![vec![-1.0, 0.0]])])
        .await
        .unwrap();
    let found = store.vector_search("ns", &[1.0, 0.0], 10).await.unwrap();
    assert_eq!(
        found.last().map(|m| (m.summary.id, m.chunk)),
        Some((chunked.id, 0))
    );
    assert!((found[2].similarity + 1.0).abs() < 1e-5, "{found:?}");
}

/// Completed episodes without vectors, of one namespace or all, in storing order; the
/// count goes down as vectors are stored.
pub async fn pending_embeddings_work_list(store: Arc<dyn StorageBackend>) {
    let first = finished("ns", "first", 30, success("ok"));
    let open = running("ns", "open", 10);
    let second = finished("ns", "second", 0, success("ok"));
    let third = finished("other", "third", 20, success("ok"));
    store_all(store.as_ref(), &[&first, &open, &second, &third]).await;
    let ids = |list: Vec<memory_core::Episode>| list.into_iter().map(|e| e.id).collect::<Vec<_>>();

    assert_eq!(
        ids(store
            .episodes_without_vectors(Some("ns"), 10)
            .await
            .unwrap()),
        [first.id, second.id]
    );
    assert_eq!(
        ids(store.episodes_without_vectors(None, 10).await.unwrap()),
        [first.id, second.id, third.id]
    );
    assert_eq!(
        ids(store.episodes_without_vectors(None, 1).await.unwrap()),
        [first.id]
    );
    assert!(
        store
            .episodes_without_vectors(None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_without_vectors().await.unwrap(), 3);
    let listed = store
        .episodes_without_vectors(Some("other"), 10)
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&third), "whole episodes");

    store.ensure_vector_space("axes", 2).await.unwrap();
    store
        .store_vectors(
            "axes",
            "ns",
            &[
                (first.id, vec![vec![1.0, 1.0]]),
                (open.id, vec![vec![1.0, 1.0]]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        ids(store.episodes_without_vectors(None, 10).await.unwrap()),
        [second.id, third.id]
    );
    assert_eq!(store.count_without_vectors().await.unwrap(), 2);
}

/// Cached embeddings come back by embedder and content hash in the order asked (`None`
/// where there is none), are replaced by a later write, and survive a reset.
pub async fn embedding_cache_round_trips(store: Arc<dyn StorageBackend>) {
    store
        .cache_embeddings(
            "e1",
            &[("h1".into(), vec![1.0, 2.0]), ("h2".into(), vec![3.0, 4.0])],
        )
        .await
        .unwrap();
    store
        .cache_embeddings("e2", &[("h1".into(), vec![9.0])])
        .await
        .unwrap();
    let asked: Vec<String> = ["h2", "hx", "h1", "h2"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(
        store.cached_embeddings("e1", &asked).await.unwrap(),
        [
            Some(vec![3.0, 4.0]),
            None,
            Some(vec![1.0, 2.0]),
            Some(vec![3.0, 4.0])
        ]
    );
    assert_eq!(
        store.cached_embeddings("e2", &["h1".into()]).await.unwrap(),
        [Some(vec![9.0])]
    );
    assert!(store.cached_embeddings("e1", &[]).await.unwrap().is_empty());
    store
        .cache_embeddings("e1", &[("h1".into(), vec![5.0, 6.0])])
        .await
        .unwrap();
    store.reset_vector_space("e1", 2).await.unwrap();
    assert_eq!(
        store.cached_embeddings("e1", &["h1".into()]).await.unwrap(),
        [Some(vec![5.0, 6.0])]
    );
}
