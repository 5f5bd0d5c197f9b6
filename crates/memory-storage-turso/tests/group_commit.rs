//! Group commit and the prepared-statement cache, seen through the public API: concurrent
//! writers all land, a failing write does not take its batch down, and the statistics
//! show statements being reused and transactions being shared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use memory_core::storage::prelude::*;
use memory_core::{Episode, MemoryError, StepInput, StepResult};
use memory_storage_turso::TursoStorage;
use std::sync::Arc;
use uuid::Uuid;

fn episode(namespace: &str, task: &str) -> Episode {
    common::running(namespace, task, 0)
}

fn step(tool: &str) -> StepInput {
    StepInput::new(
        tool,
        "act",
        StepResult::Success {
            output: "ok".into(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_land_and_share_transactions() {
    let (_dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let mut agents = Vec::new();
    for agent in 0..8 {
        let storage = Arc::clone(&storage);
        agents.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for task in 0..10 {
                let ep = episode("ns", &format!("agent {agent} task {task}"));
                storage.store_episode(&ep).await.unwrap();
                for s in 0..5 {
                    let stored = storage
                        .append_step("ns", ep.id, step(&format!("tool{s}")), Utc::now(), 100)
                        .await
                        .unwrap();
                    assert_eq!(stored.seq, s + 1, "each caller gets its own step back");
                }
                ids.push(ep.id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for agent in agents {
        ids.extend(agent.await.unwrap());
    }
    for id in &ids {
        let ep = storage.get_episode("ns", *id).await.unwrap().unwrap();
        assert_eq!(ep.steps.len(), 5);
    }
    let stats = storage.storage_stats().await.unwrap();
    assert_eq!(stats.episodes, 80);
    assert_eq!(stats.steps, 400);
    let queue = stats.write_queue.unwrap();
    assert_eq!(queue.operations, 480, "every write was committed");
    assert_eq!(queue.failed, 0);
    assert!(queue.commits <= queue.operations);
    let statements = stats.statements.unwrap();
    assert!(
        statements.hits > statements.misses * 10,
        "statements are reused: {statements:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_does_not_undo_its_neighbours() {
    let (_dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                // A step for an episode that does not exist: NotFound, nothing written.
                let err = storage
                    .append_step("ns", Uuid::now_v7(), step("x"), Utc::now(), 100)
                    .await
                    .unwrap_err();
                assert!(matches!(err, MemoryError::NotFound { .. }), "{err}");
                None
            } else {
                let ep = episode("ns", &format!("task {i}"));
                storage.store_episode(&ep).await.unwrap();
                Some(ep.id)
            }
        }));
    }
    let mut stored = Vec::new();
    for t in tasks {
        stored.extend(t.await.unwrap());
    }
    assert_eq!(stored.len(), 30);
    for id in stored {
        assert!(storage.get_episode("ns", id).await.unwrap().is_some());
    }
    let stats = storage.storage_stats().await.unwrap();
    assert_eq!(stats.episodes, 30);
    assert_eq!(stats.steps, 0);
    let queue = stats.write_queue.unwrap();
    assert_eq!((queue.operations, queue.failed), (30, 10));
}

/// A write the database itself refuses (a constraint) is undone alone, whether the batch
/// runs statement by statement (a file) or as one request (a server), and its caller gets
/// the conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_database_refuses_is_undone_alone() {
    let (_dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let taken = episode("ns", "stored first");
    storage.store_episode(&taken).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let storage = Arc::clone(&storage);
        let taken = taken.id;
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let mut again = episode("ns", &format!("again {i}"));
                again.id = taken;
                let err = storage.store_episode(&again).await.unwrap_err();
                assert!(matches!(err, MemoryError::Conflict(_)), "{err}");
                None
            } else {
                let ep = episode("ns", &format!("task {i}"));
                storage.store_episode(&ep).await.unwrap();
                let stored = storage
                    .append_step("ns", ep.id, step("x"), Utc::now(), 100)
                    .await
                    .unwrap();
                assert_eq!(stored.seq, 1);
                Some(ep.id)
            }
        }));
    }
    let mut stored = Vec::new();
    for t in tasks {
        stored.extend(t.await.unwrap());
    }
    assert_eq!(stored.len(), 16);
    for id in stored {
        let back = storage.get_episode("ns", id).await.unwrap().unwrap();
        assert_eq!(back.steps.len(), 1);
    }
    let first = storage.get_episode("ns", taken.id).await.unwrap().unwrap();
    assert_eq!(
        *first, taken,
        "the refused writes left the first episode as it was"
    );
    let stats = storage.storage_stats().await.unwrap();
    assert_eq!((stats.episodes, stats.steps), (17, 16));
    let queue = stats.write_queue.unwrap();
    assert_eq!((queue.operations, queue.failed), (33, 8));
}

#[tokio::test]
async fn a_write_whose_caller_is_cancelled_leaves_the_store_usable() {
    let (_dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    // Cancel many writes at arbitrary points; every later write must still work.
    for i in 0..50u64 {
        let ep = episode("ns", &format!("cancelled {i}"));
        let write = storage.store_episode(&ep);
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i * 7), write).await;
    }
    let ep = episode("ns", "after");
    storage.store_episode(&ep).await.unwrap();
    storage
        .append_step("ns", ep.id, step("t"), Utc::now(), 100)
        .await
        .unwrap();
    assert_eq!(
        storage
            .get_episode("ns", ep.id)
            .await
            .unwrap()
            .unwrap()
            .steps
            .len(),
        1
    );
}

#[tokio::test]
async fn statistics_report_sizes_and_connections() {
    let (_dir, storage) = common::fresh().await;
    storage.store_episode(&episode("ns", "one")).await.unwrap();
    let stats = storage.storage_stats().await.unwrap();
    assert_eq!(stats.episodes, 1);
    assert!(stats.database_bytes.unwrap() > 0);
    let conns = stats.connections.unwrap();
    assert_eq!(conns.writer.connections, 1);
    assert!(conns.readers.connections >= 1);
    assert!(conns.writer.acquisitions >= 1);
    assert_eq!(
        conns.writer.in_use, 0,
        "nothing holds a connection between operations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_limit_of_one_still_serves_every_writer() {
    // With one write per transaction a leader must carry its own write, not the oldest
    // queued one, or its caller would wait for a batch nobody leads.
    let dir = tempfile::TempDir::new().unwrap();
    let config = memory_storage_turso::TursoConfig {
        max_write_batch: 1,
        ..memory_storage_turso::TursoConfig::default()
    };
    let storage = Arc::new(
        TursoStorage::open_with(dir.path().join("m.db"), config)
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for agent in 0..8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            for task in 0..20 {
                let ep = episode("ns", &format!("agent {agent} task {task}"));
                storage.store_episode(&ep).await.unwrap();
            }
        }));
    }
    let all = async {
        for t in tasks {
            t.await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .expect("every writer is answered");
    let queue = storage.storage_stats().await.unwrap().write_queue.unwrap();
    assert_eq!(queue.operations, 160);
    assert_eq!(queue.commits, 160, "one write per transaction");
}

/// A write waiting for the file's lock (another process is writing) waits off the runtime:
/// on a runtime with a single worker, other tasks — here a 5 ms ticker, and the test itself,
/// which releases the lock — keep running meanwhile, and the write lands once it is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_write_waiting_for_the_lock_leaves_the_runtime_to_other_tasks() {
    if common::on_server() || common::through_replica() {
        return; // Writes to a server are network requests: they never blocked the runtime.
    }
    let (_dir, storage) = common::fresh().await;
    let storage = Arc::new(storage);
    let (_db, other) = common::raw(&storage).await;
    other.execute("BEGIN IMMEDIATE", ()).await.unwrap();

    let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ticker = tokio::spawn({
        let ticking = Arc::clone(&ticking);
        async move {
            let mut longest = std::time::Duration::ZERO;
            let mut last = std::time::Instant::now();
            while ticking.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                longest = longest.max(last.elapsed());
                last = std::time::Instant::now();
            }
            longest
        }
    });
    let ep = episode("ns", "written while another process holds the lock");
    let write = tokio::spawn({
        let storage = Arc::clone(&storage);
        let ep = ep.clone();
        async move { storage.store_episode(&ep).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!write.is_finished(), "the write waits for the lock");
    other.execute("COMMIT", ()).await.unwrap();
    write.await.unwrap().unwrap();
    ticking.store(false, std::sync::atomic::Ordering::Relaxed);
    let longest = ticker.await.unwrap();
    assert!(
        longest < std::time::Duration::from_millis(200),
        "the ticker stalled for {longest:?} while the write waited"
    );
    assert!(storage.get_episode("ns", ep.id).await.unwrap().is_some());
}
