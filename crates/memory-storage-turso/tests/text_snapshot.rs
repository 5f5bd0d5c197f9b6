//! The stored snapshot of the full-text index: a handle that starts from it (plus the log
//! entries after it) searches exactly as one that builds the index from the whole log; a
//! missing, old-format or damaged snapshot falls back to that full build; handles on one
//! file that write snapshots while others write episodes and search stay in step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{completed_with, completion, running, success};
use memory_core::Episode;
use memory_core::storage::prelude::*;
use memory_storage_turso::{TursoConfig, TursoStorage};
use std::path::Path;
use uuid::Uuid;

const NAMESPACES: [&str; 2] = ["snap-a", "snap-b"];

const WORDS: [&str; 12] = [
    "kafka",
    "lag",
    "deploy",
    "rollback",
    "disk",
    "full",
    "certificate",
    "renew",
    "postgres",
    "vacuum",
    "grafana",
    "alert",
];

const QUERIES: [&[&str]; 6] = [
    &["kafka", "lag"],
    &["deploy"],
    &["disk", "full", "alert"],
    &["certificate", "renewed"],
    &["postgres", "vacuum", "grafana", "rollback"],
    &["unheard", "kafka"],
];

/// A completed episode of `namespace` whose task mixes a few of [`WORDS`], chosen by `i`.
fn episode(namespace: &str, i: usize) -> Episode {
    let words: Vec<&str> = (0..1 + i % 5)
        .map(|k| WORDS[(i * 7 + k * 5) % WORDS.len()])
        .collect();
    completed_with(
        running(namespace, &format!("{} {i}", words.join(" ")), i as i64),
        &completion(1, success("done"), 1.0),
    )
}

/// A handle on `path` that writes a snapshot once `after` log entries are past it (0: never).
async fn open(path: &Path, after: u64) -> TursoStorage {
    let config = TursoConfig {
        text_snapshot_after: after,
        ..TursoConfig::default()
    };
    TursoStorage::open_with(path, config).await.unwrap()
}

/// Every query in every namespace: the hits' ids, scores and coverage.
async fn results(storage: &TursoStorage) -> Vec<Vec<(Uuid, f64, f64)>> {
    let mut out = Vec::new();
    for ns in NAMESPACES {
        for q in QUERIES {
            let terms: Vec<String> = q.iter().map(|s| s.to_string()).collect();
            let hits = storage.search_text(ns, &terms, 15).await.unwrap();
            out.push(
                hits.iter()
                    .map(|h| (h.summary.id, h.bm25, h.coverage))
                    .collect(),
            );
        }
    }
    out
}

fn assert_same(got: &[Vec<(Uuid, f64, f64)>], want: &[Vec<(Uuid, f64, f64)>]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let ids = |v: &[(Uuid, f64, f64)]| v.iter().map(|h| h.0).collect::<Vec<_>>();
        assert_eq!(ids(g), ids(w));
        for (a, b) in g.iter().zip(w) {
            assert!((a.1 - b.1).abs() < 1e-9, "bm25 {} vs {}", a.1, b.1);
            assert!((a.2 - b.2).abs() < 1e-9, "coverage {} vs {}", a.2, b.2);
        }
    }
}

/// A raw connection to the file, behind the store's back.
async fn raw(path: &Path) -> (libsql::Database, libsql::Connection) {
    let db = libsql::Builder::new_local(path).build().await.unwrap();
    let conn = db.connect().unwrap();
    conn.execute("PRAGMA busy_timeout = 5000", ()).await.ok();
    (db, conn)
}

/// The stored snapshot's log position, if there is one.
async fn snapshot_seq(path: &Path) -> Option<i64> {
    let (_db, conn) = raw(path).await;
    let mut rows = conn
        .query("SELECT seq FROM text_snapshot WHERE id = 1", ())
        .await
        .unwrap();
    rows.next().await.unwrap().map(|r| r.get::<i64>(0).unwrap())
}

/// What a full build from the log finds: a fresh handle that cannot use the snapshot (its
/// format is made unknown for the time of the search, then restored).
async fn from_the_log(path: &Path) -> Vec<Vec<(Uuid, f64, f64)>> {
    let (_db, conn) = raw(path).await;
    conn.execute("UPDATE text_snapshot SET format = format + 100000", ())
        .await
        .unwrap();
    let reference = open(path, 0).await;
    let out = results(&reference).await;
    drop(reference);
    conn.execute("UPDATE text_snapshot SET format = format - 100000", ())
        .await
        .unwrap();
    out
}

/// A store of 60 episodes over two namespaces, searched once by a handle that then wrote
/// its snapshot; returns the directory, that handle and the episodes.
async fn snapshotted() -> (tempfile::TempDir, TursoStorage, Vec<Episode>) {
    let dir = tempfile::TempDir::new().unwrap();
    let storage = open(&dir.path().join("memory.db"), 10).await;
    let episodes: Vec<Episode> = (0..60).map(|i| episode(NAMESPACES[i % 2], i)).collect();
    storage.store_episodes(episodes.clone()).await.unwrap();
    assert_eq!(snapshot_seq(storage.path().unwrap()).await, None);
    results(&storage).await;
    storage.finish_background_work().await;
    assert!(
        snapshot_seq(storage.path().unwrap()).await.is_some(),
        "the first search wrote a snapshot"
    );
    (dir, storage, episodes)
}

#[tokio::test]
async fn the_snapshot_and_the_entries_after_it_search_as_a_full_build() {
    let (_dir, storage, episodes) = snapshotted().await;
    let path = storage.path().unwrap().to_path_buf();
    let covered = snapshot_seq(&path).await;
    // Changes after the snapshot, by another handle: new episodes in both namespaces, a
    // running one completed.
    let writer = open(&path, 0).await;
    let later: Vec<Episode> = (60..68).map(|i| episode(NAMESPACES[i % 2], i)).collect();
    writer.store_episodes(later).await.unwrap();
    let late = running(NAMESPACES[0], "kafka lag rollback after the deploy", 99);
    writer.store_episode(&late).await.unwrap();
    writer
        .complete_episode(NAMESPACES[0], late.id, &completion(0, success("ok"), 1.0))
        .await
        .unwrap();

    let want = from_the_log(&path).await;
    let fresh = open(&path, 0).await;
    let got = results(&fresh).await;
    assert_same(&got, &want);
    // The handle that wrote the snapshot, and the writer, agree too.
    assert_same(&results(&storage).await, &want);
    assert_same(&results(&writer).await, &want);
    assert_eq!(snapshot_seq(&path).await, covered, "no handle rewrote it");
    let stats = fresh.storage_stats().await.unwrap().text_index.unwrap();
    assert_eq!(stats.documents, 60 + 8 + 1);

    // Deletions (one of the newest, so its rowid is reused) drop the snapshot, which holds
    // the deleted episodes' terms; every handle — those that loaded it, and a new one that
    // builds from the log — still searches as a full build.
    for e in [&episodes[59], &episodes[3], &episodes[10], &episodes[11]] {
        assert!(
            writer
                .delete_episode(&e.namespace, e.id, 30.0)
                .await
                .unwrap()
        );
    }
    assert_eq!(snapshot_seq(&path).await, None);
    let want = from_the_log(&path).await;
    assert_same(&results(&open(&path, 0).await).await, &want);
    assert_same(&results(&fresh).await, &want);
    assert_same(&results(&storage).await, &want);
    assert_same(&results(&writer).await, &want);
    let stats = fresh.storage_stats().await.unwrap().text_index.unwrap();
    assert_eq!(stats.documents, 60 - 4 + 8 + 1);
}

#[tokio::test]
async fn a_damaged_or_old_snapshot_falls_back_to_the_log() {
    let (_dir, storage, _episodes) = snapshotted().await;
    let path = storage.path().unwrap().to_path_buf();
    let want = from_the_log(&path).await;
    let (_db, conn) = raw(&path).await;
    let damage: [(&str, &str); 4] = [
        (
            "UPDATE text_snapshot SET docs = x'01ff'",
            "UPDATE text_snapshot SET docs = (SELECT docs FROM saved)",
        ),
        (
            "UPDATE text_snapshot_terms SET postings = x'05ff' WHERE term = CAST('kafka' AS BLOB)",
            "UPDATE text_snapshot_terms SET postings = (SELECT postings FROM saved_terms) \
             WHERE term = CAST('kafka' AS BLOB)",
        ),
        (
            "UPDATE text_snapshot SET format = 1",
            "UPDATE text_snapshot SET format = (SELECT format FROM saved)",
        ),
        (
            "DELETE FROM text_snapshot",
            "INSERT INTO text_snapshot SELECT * FROM saved",
        ),
    ];
    conn.execute("CREATE TEMP TABLE saved AS SELECT * FROM text_snapshot", ())
        .await
        .unwrap();
    conn.execute(
        "CREATE TEMP TABLE saved_terms AS SELECT postings FROM text_snapshot_terms \
         WHERE term = CAST('kafka' AS BLOB)",
        (),
    )
    .await
    .unwrap();
    for (harm, repair) in damage {
        conn.execute(harm, ()).await.unwrap();
        let fresh = open(&path, 0).await;
        assert_same(&results(&fresh).await, &want);
        // Searched twice: the second search runs on whatever the first settled on.
        assert_same(&results(&fresh).await, &want);
        drop(fresh);
        conn.execute(repair, ()).await.unwrap();
    }
    // Repaired, it is used again and still agrees.
    let fresh = open(&path, 0).await;
    assert_same(&results(&fresh).await, &want);
}

#[tokio::test]
async fn a_damaged_snapshot_is_replaced_by_the_next_one_written() {
    let (_dir, storage, _episodes) = snapshotted().await;
    let path = storage.path().unwrap().to_path_buf();
    let want = from_the_log(&path).await;
    let (_db, conn) = raw(&path).await;
    conn.execute("UPDATE text_snapshot SET docs = x'01ff'", ())
        .await
        .unwrap();
    let covered = snapshot_seq(&path).await;
    // A handle that may write snapshots finds it unreadable, builds from the log, and
    // writes a good one (the log is past the damaged one by all its entries).
    let fixer = open(&path, 10).await;
    assert_same(&results(&fixer).await, &want);
    fixer.finish_background_work().await;
    let writer = open(&path, 0).await;
    writer
        .store_episodes((60..75).map(|i| episode(NAMESPACES[i % 2], i)).collect())
        .await
        .unwrap();
    let want = from_the_log(&path).await;
    assert_same(&results(&fixer).await, &want);
    fixer.finish_background_work().await;
    let rewritten = snapshot_seq(&path).await;
    assert!(rewritten > covered, "{rewritten:?} after {covered:?}");
    assert_same(&results(&open(&path, 0).await).await, &want);
}

#[tokio::test]
async fn handles_writing_snapshots_while_others_write_stay_in_step() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("memory.db");
    let (a, b, writer) = (
        open(&path, 5).await,
        open(&path, 5).await,
        open(&path, 0).await,
    );
    let mut stored: Vec<Episode> = Vec::new();
    let mut next = 0;
    for round in 0..6 {
        let batch: Vec<Episode> = (next..next + 12)
            .map(|i| episode(NAMESPACES[i % 2], i))
            .collect();
        next += 12;
        writer.store_episodes(batch.clone()).await.unwrap();
        stored.extend(batch);
        if round % 2 == 1 {
            let gone = stored.remove(round);
            writer
                .delete_episode(&gone.namespace, gone.id, 30.0)
                .await
                .unwrap();
        }
        // Both search (and may start snapshots) at the same time.
        let (ra, rb) = tokio::join!(results(&a), results(&b));
        assert_same(&ra, &rb);
        if round % 3 == 2 {
            a.finish_background_work().await;
            b.finish_background_work().await;
        }
    }
    a.finish_background_work().await;
    b.finish_background_work().await;
    assert!(snapshot_seq(&path).await.is_some());
    let want = from_the_log(&path).await;
    assert_same(&results(&a).await, &want);
    assert_same(&results(&b).await, &want);
    assert_same(&results(&open(&path, 0).await).await, &want);
}
