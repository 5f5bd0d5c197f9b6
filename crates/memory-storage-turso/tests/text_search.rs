//! Full-text search with common terms left out (`term_stats`) and the ranking split across
//! two connections (`text_search`): the results a caller sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{completed_with, completion, fresh, running, success};
use memory_core::{Episode, StorageBackend};
use uuid::Uuid;

const NS: &str = "search";

/// A completed episode whose task is `task`.
fn done(task: &str, secs: i64) -> Episode {
    completed_with(
        running(NS, task, secs),
        &completion(1, success("done"), 1.0),
    )
}

fn terms(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

fn ids(matches: &[memory_core::TextMatch]) -> Vec<Uuid> {
    matches.iter().map(|m| m.summary.id).collect()
}

/// 40 episodes that all say "deploying the service failed"; the first three also mention
/// kafka (the third twice, so it ranks first among them).
async fn store_with_a_common_word() -> (
    tempfile::TempDir,
    memory_storage_turso::TursoStorage,
    Vec<Uuid>,
) {
    let (dir, storage) = fresh().await;
    let mut episodes = Vec::new();
    for i in 0..40 {
        let task = match i {
            0 | 1 => format!("deploying the service failed, kafka lag {i}"),
            2 => "deploying the service failed, kafka kafka consumer lag".to_string(),
            _ => format!("deploying the service failed on host {i}"),
        };
        episodes.push(done(&task, i));
    }
    storage.store_episodes(&episodes).await.unwrap();
    let kafka = episodes[..3].iter().map(|e| e.id).collect();
    (dir, storage, kafka)
}

#[tokio::test]
async fn a_term_in_most_documents_is_left_out_and_the_rare_ones_rank() {
    let (_dir, storage, kafka) = store_with_a_common_word().await;
    // "deployed" stems to "deploy" like the stored "deploying": the lookup goes through the
    // index's own stemmer, finds it in every document and leaves it out, so only the
    // episodes that mention kafka match.
    let found = storage
        .search_text(NS, &terms(&["deployed", "kafka"]), 10)
        .await
        .unwrap();
    let mut got = ids(&found);
    assert_eq!(
        got[0], kafka[2],
        "the episode saying kafka twice ranks first"
    );
    got.sort();
    let mut want = kafka.clone();
    want.sort();
    assert_eq!(got, want);
    // Same ranking and scores as asking for the rare term alone.
    let alone = storage
        .search_text(NS, &terms(&["kafka"]), 10)
        .await
        .unwrap();
    assert_eq!(ids(&found), ids(&alone));
    for (a, b) in found.iter().zip(&alone) {
        assert!((a.bm25 - b.bm25).abs() < 1e-9, "{} vs {}", a.bm25, b.bm25);
    }
}

#[tokio::test]
async fn a_query_of_only_common_terms_still_finds_episodes() {
    let (_dir, storage, _) = store_with_a_common_word().await;
    // Every document matches every term.
    let found = storage
        .search_text(NS, &terms(&["deploying", "service", "failed"]), 5)
        .await
        .unwrap();
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|m| m.bm25.is_finite()));
    // And a term that matches nothing does not hide the one that does.
    let found = storage
        .search_text(NS, &terms(&["zzyzx", "service"]), 50)
        .await
        .unwrap();
    assert_eq!(found.len(), 40);
}

#[tokio::test]
async fn terms_the_tokenizer_splits_are_still_searched() {
    let (_dir, storage) = fresh().await;
    let episodes: Vec<Episode> = (0..6)
        .map(|i| done(&format!("build for x86_64 target number {i}"), i))
        .collect();
    storage.store_episodes(&episodes).await.unwrap();
    // `x86_64` is two tokens for unicode61 ("x86", "64"): a phrase, always scored.
    let found = storage
        .search_text(NS, &terms(&["x86_64"]), 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 6);
}

#[tokio::test]
async fn search_works_on_an_empty_store_and_with_blank_terms() {
    let (_dir, storage) = fresh().await;
    assert!(
        storage
            .search_text(NS, &terms(&["anything"]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .search_text(NS, &terms(&["", " "]), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
