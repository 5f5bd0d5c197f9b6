//! Full-text search as a caller sees it: BM25 ranking with very common terms weighing
//! nothing, stemming, and an in-memory index that stays in step with every write — this
//! handle's, another handle's on the same file, deletions, and reopening.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{completed_with, completion, fresh, running, success};
use memory_core::Episode;
use memory_core::storage::prelude::*;
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
    common::Fixture,
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
    storage.store_episodes(episodes.to_vec()).await.unwrap();
    let kafka = episodes[..3].iter().map(|e| e.id).collect();
    (dir, storage, kafka)
}

#[tokio::test]
async fn a_term_in_most_documents_is_left_out_and_the_rare_ones_rank() {
    let (_dir, storage, kafka) = store_with_a_common_word().await;
    // "deployed" stems to "deploy" like the stored "deploying": it is in every document, so
    // it weighs nothing and only the episodes that mention kafka match.
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
    storage.store_episodes(episodes.to_vec()).await.unwrap();
    // `x86_64` is two index terms ("x86", "64"); both are searched.
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

#[tokio::test]
async fn another_handles_writes_and_deletions_are_seen_by_the_next_search() {
    let (_dir, reader) = fresh().await;
    let first = done("rotate the tls certificates", 1);
    reader.store_episode(&first).await.unwrap();
    let q = terms(&["certificate"]);
    assert_eq!(
        ids(&reader.search_text(NS, &q, 10).await.unwrap()),
        [first.id]
    );

    // A second handle on the same file (another process, as far as the index knows).
    let writer = common::reopen(&reader).await;
    let second = done("renew expiring certificates", 2);
    writer.store_episode(&second).await.unwrap();
    common::caught_up(&reader).await;
    let mut got = ids(&reader.search_text(NS, &q, 10).await.unwrap());
    got.sort();
    let mut want = vec![first.id, second.id];
    want.sort();
    assert_eq!(got, want);

    assert!(writer.delete_episode(NS, first.id, 30.0).await.unwrap());
    common::caught_up(&reader).await;
    assert_eq!(
        ids(&reader.search_text(NS, &q, 10).await.unwrap()),
        [second.id]
    );
    assert_eq!(reader.row_counts().await.unwrap().text, 1);

    // A running episode is not searchable until it completes, then it is.
    let (running_one, completion) = (
        running(NS, "certificate pinning", 3),
        completion(0, success("pinned"), 1.0),
    );
    writer.store_episode(&running_one).await.unwrap();
    common::caught_up(&reader).await;
    assert_eq!(
        reader
            .search_text(NS, &terms(&["pinning"]), 10)
            .await
            .unwrap()
            .len(),
        0
    );
    writer
        .complete_episode(NS, running_one.id, &completion)
        .await
        .unwrap();
    common::caught_up(&reader).await;
    assert_eq!(
        ids(&reader
            .search_text(NS, &terms(&["pinning"]), 10)
            .await
            .unwrap()),
        [running_one.id]
    );
}

#[tokio::test]
async fn a_reopened_store_searches_what_was_indexed_before() {
    let (_dir, storage) = fresh().await;
    // Every third episode is about billing; episode 3 (one of them) is deleted.
    let episodes: Vec<Episode> = (0..20)
        .map(|i| {
            let topic = if i % 3 == 0 { "billing" } else { "search" };
            done(
                &format!("migrate schema version {i} of the {topic} database"),
                i,
            )
        })
        .collect();
    storage.store_episodes(episodes.to_vec()).await.unwrap();
    storage
        .delete_episode(NS, episodes[3].id, 30.0)
        .await
        .unwrap();
    let q = terms(&["billing", "7"]);
    let before = storage.search_text(NS, &q, 20).await.unwrap();
    assert_eq!(before.len(), 7, "six billing episodes and episode 7");
    assert!(!ids(&before).contains(&episodes[3].id));
    let reopened = common::reopen(&storage).await;
    drop(storage);
    // The index is loaded by the first search, and the statistics say so.
    let empty = reopened.storage_stats().await.unwrap().text_index.unwrap();
    assert_eq!(empty.documents, 0);
    let after = reopened.search_text(NS, &q, 20).await.unwrap();
    let loaded = reopened.storage_stats().await.unwrap().text_index.unwrap();
    assert_eq!(loaded.documents, 19);
    assert!(loaded.terms > 0 && loaded.postings >= 19 && loaded.bytes > 0);
    assert_eq!(ids(&after), ids(&before));
    for (a, b) in after.iter().zip(&before) {
        assert!((a.bm25 - b.bm25).abs() < 1e-12);
    }
}

#[tokio::test]
async fn a_damaged_entry_leaves_out_only_its_episode() {
    let (_dir, storage) = fresh().await;
    let episodes: Vec<Episode> = (0..3)
        .map(|i| done(&format!("tune the postgres vacuum settings, try {i}"), i))
        .collect();
    storage.store_episodes(episodes.to_vec()).await.unwrap();
    {
        // Damage one episode's stored terms behind the store's back.
        let (_db, conn) = common::raw(&storage).await;
        conn.execute(
            "UPDATE episode_text SET terms = x'07' WHERE episode_rowid = \
             (SELECT rowid FROM episodes WHERE id = ?1)",
            [episodes[1].id.to_string()],
        )
        .await
        .unwrap();
    }
    // A handle that loads the log afterwards still searches; only that episode is missing.
    let reader = common::reopen(&storage).await;
    let mut got = ids(&reader
        .search_text(NS, &terms(&["vacuum"]), 10)
        .await
        .unwrap());
    got.sort();
    let mut want = vec![episodes[0].id, episodes[2].id];
    want.sort();
    assert_eq!(got, want);
    let stats = reader.storage_stats().await.unwrap().text_index.unwrap();
    assert_eq!((stats.documents, stats.unreadable), (2, 1));
}

#[tokio::test]
async fn a_reused_rowid_is_searched_as_the_new_episode() {
    let (_dir, storage) = fresh().await;
    let other = common::reopen(&storage).await;
    let old = done("compile the wasm bundle", 1);
    storage.store_episode(&old).await.unwrap();
    assert_eq!(found(&storage, "wasm").await, [old.id]);
    // Deleting the newest episode frees its rowid; the next episode stored takes it.
    let old_rowid = rowid_of(&storage, old.id).await;
    assert!(other.delete_episode(NS, old.id, 30.0).await.unwrap());
    let single = done("rotate the grafana api keys", 2);
    other.store_episode(&single).await.unwrap();
    common::caught_up(&storage).await;
    assert_eq!(rowid_of(&storage, single.id).await, old_rowid, "reused");
    assert!(found(&storage, "wasm").await.is_empty());
    assert_eq!(found(&storage, "grafana").await, [single.id]);
    // The same through the batch path.
    let single_rowid = rowid_of(&storage, single.id).await;
    assert!(other.delete_episode(NS, single.id, 30.0).await.unwrap());
    let batched = done("shard the redis cluster", 3);
    let batch = std::slice::from_ref(&batched);
    other.store_episodes(batch.to_vec()).await.unwrap();
    common::caught_up(&storage).await;
    assert_eq!(rowid_of(&storage, batched.id).await, single_rowid, "reused");
    assert!(found(&storage, "grafana").await.is_empty());
    assert_eq!(found(&storage, "redis").await, [batched.id]);
    assert_eq!(storage.row_counts().await.unwrap().text, 1);
}

/// The ids `storage` finds for the one search term `word`, best first.
async fn found(storage: &memory_storage_turso::TursoStorage, word: &str) -> Vec<Uuid> {
    ids(&storage.search_text(NS, &terms(&[word]), 5).await.unwrap())
}

/// The rowid of the episode `id` (`None` once it is gone), read on a connection of its own.
async fn rowid_of(storage: &memory_storage_turso::TursoStorage, id: Uuid) -> Option<i64> {
    let (_db, conn) = common::raw(storage).await;
    let mut rows = conn
        .query("SELECT rowid FROM episodes WHERE id = ?1", [id.to_string()])
        .await
        .unwrap();
    rows.next().await.unwrap().map(|r| r.get::<i64>(0).unwrap())
}
