//! Full-text search: which episodes match (completed ones, by stemmed words of their task,
//! steps, outcome, reflection and tags) and their order in clear cases.

use super::builders::*;
use memory_core::StorageBackend;
use std::sync::Arc;
use uuid::Uuid;

/// The ids `search_text` returns, best first.
async fn found(store: &dyn StorageBackend, ns: &str, terms: &[&str], limit: usize) -> Vec<Uuid> {
    let terms: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
    store
        .search_text(ns, &terms, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.summary.id)
        .collect()
}

/// Fillers: completed episodes sharing no word with the checks' queries, so that the
/// query words are rare enough to count.
async fn fillers(store: &dyn StorageBackend, ns: &str) {
    for (i, task) in [
        "write the changelog",
        "bump dependency versions",
        "tidy the README",
        "rename module paths",
        "profile memory usage",
        "review open pull requests",
    ]
    .iter()
    .enumerate()
    {
        store
            .store_episode(&finished(ns, task, 100 + i as i64, success("done")))
            .await
            .unwrap();
    }
}

/// Completed episodes are found by stemmed words of their task and steps; running ones,
/// other namespaces' and deleted ones are not.
pub async fn text_search_finds_completed_episodes_by_stem(store: Arc<dyn StorageBackend>) {
    fillers(store.as_ref(), "ns").await;
    let failing = finished("ns", "The login test keeps failing", 0, success("done"));
    let open = running("ns", "The login test failed again", 1);
    let elsewhere = finished("other", "A failing login test", 2, success("done"));
    store_all(store.as_ref(), &[&failing, &open, &elsewhere]).await;
    let proxy = record(
        store.as_ref(),
        "ns",
        "Investigate slow responses",
        3,
        &["nginx", "curl"],
        success("done"),
    )
    .await;

    assert_eq!(
        found(store.as_ref(), "ns", &["failed"], 10).await,
        [failing.id]
    );
    assert_eq!(
        found(store.as_ref(), "ns", &["Fails", "LOGIN"], 10).await,
        [failing.id]
    );
    // Words of the steps of an episode completed through the lifecycle.
    assert_eq!(
        found(store.as_ref(), "ns", &["nginx"], 10).await,
        [proxy.id]
    );
    assert!(
        found(store.as_ref(), "ns", &["kubernetes"], 10)
            .await
            .is_empty()
    );
    assert!(found(store.as_ref(), "ns", &["login"], 0).await.is_empty());
    assert!(found(store.as_ref(), "ns", &[], 10).await.is_empty());
    assert_eq!(
        found(store.as_ref(), "other", &["login"], 10).await,
        [elsewhere.id]
    );

    assert!(store.delete_episode("ns", failing.id, 30.0).await.unwrap());
    assert!(found(store.as_ref(), "ns", &["login"], 10).await.is_empty());
}

/// An episode holding more of the query ranks first and covers all of it; one holding
/// part of it covers less; the limit keeps the best.
pub async fn text_search_ranks_and_covers(store: Arc<dyn StorageBackend>) {
    fillers(store.as_ref(), "ns").await;
    let both = finished(
        "ns",
        "Postgres replication lag after failover",
        0,
        success("done"),
    );
    let one = finished("ns", "Postgres vacuum settings", 1, success("done"));
    let other = finished("ns", "Failover drill for the cache", 2, success("done"));
    store_all(store.as_ref(), &[&both, &one, &other]).await;

    let terms: Vec<String> = ["postgres", "replication", "lag"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let hits = store.search_text("ns", &terms, 10).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.summary.id).collect::<Vec<_>>(),
        [both.id, one.id]
    );
    assert!(hits[0].bm25 > hits[1].bm25, "{hits:?}");
    assert!((hits[0].coverage - 1.0).abs() < 1e-9, "{hits:?}");
    assert!(hits[1].coverage > 0.0 && hits[1].coverage < 1.0, "{hits:?}");
    assert_eq!(
        hits[0].summary,
        store
            .get_episode("ns", both.id)
            .await
            .unwrap()
            .unwrap()
            .summary()
    );
    assert_eq!(
        found(store.as_ref(), "ns", &["postgres", "replication", "lag"], 1).await,
        [both.id]
    );
}
