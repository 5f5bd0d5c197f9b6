//! A store on a libSQL server that goes away: writes fail cleanly while it is down, nothing
//! is half-written, and the same handle works again once the server is back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::running;
use memory_core::MemoryError;
use memory_core::storage::prelude::*;
use memory_storage_turso::{Location, TursoConfig, TursoStorage};
use memory_test_server::Sqld;
use std::time::{Duration, Instant};

const NS: &str = "ns";

#[tokio::test]
async fn an_outage_fails_writes_cleanly_and_the_same_handle_recovers() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some((mut server, storage)) = on_sqld(
        &dir,
        "an_outage_fails_writes_cleanly_and_the_same_handle_recovers",
        TursoConfig::default(),
    )
    .await
    else {
        return;
    };
    let before = running(NS, "stored before the outage", 0);
    storage.store_episode(&before).await.unwrap();

    server.stop();
    let during = running(NS, "sent during the outage", 1);
    let started = Instant::now();
    let err = storage.store_episode(&during).await.unwrap_err();
    assert!(matches!(err, MemoryError::Storage(_)), "{err:?}");
    assert!(storage.get_episode(NS, before.id).await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a refused connection took {:?}",
        started.elapsed()
    );

    server.start_again();
    let back = storage.get_episode(NS, before.id).await.unwrap().unwrap();
    assert_eq!(*back, before);
    assert_eq!(storage.get_episode(NS, during.id).await.unwrap(), None);
    storage.store_episode(&during).await.unwrap();
    assert_eq!(storage.row_counts().await.unwrap().episodes, 2);
}

/// How long the tests below give the server to answer one request.
const SHORT: Duration = Duration::from_millis(500);

/// A store on a `sqld` of its own (kept under `dir`), opened with `config`; `None` when no
/// server binary is available.
async fn on_sqld(
    dir: &tempfile::TempDir,
    test: &str,
    config: TursoConfig,
) -> Option<(Sqld, TursoStorage)> {
    let server = Sqld::start(dir.path(), test)?;
    let at = Location::parse(&server.url, Some(server.token.clone()));
    let storage = TursoStorage::open_at(at, config).await.unwrap();
    Some((server, storage))
}

fn short_timeout() -> TursoConfig {
    TursoConfig {
        request_timeout: SHORT,
        ..TursoConfig::default()
    }
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_requests_in_time_and_is_used_again_after() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some((server, storage)) = on_sqld(
        &dir,
        "a_server_that_stops_answering_fails_requests_in_time_and_is_used_again_after",
        short_timeout(),
    )
    .await
    else {
        return;
    };
    let before = running(NS, "stored before the server hung", 0);
    storage.store_episode(&before).await.unwrap();

    server.pause();
    let during = running(NS, "sent while the server hung", 1);
    let started = Instant::now();
    let err = storage.store_episode(&during).await.unwrap_err();
    let waited = started.elapsed();
    let said = err.to_string();
    assert!(matches!(err, MemoryError::Storage(_)), "{err:?}");
    assert!(said.contains("did not answer within 500 ms"), "{said}");
    assert!(said.contains(&server.url), "{said}");
    assert!(
        waited < SHORT * 4,
        "a hung server held a write for {waited:?}"
    );
    let started = Instant::now();
    assert!(storage.get_episode(NS, before.id).await.is_err());
    assert!(started.elapsed() < SHORT * 4, "{:?}", started.elapsed());
    let started = Instant::now();
    assert!(storage.schema_version().await.is_err());
    assert!(started.elapsed() < SHORT * 4, "{:?}", started.elapsed());

    server.resume();
    let back = storage.get_episode(NS, before.id).await.unwrap().unwrap();
    assert_eq!(*back, before);
    assert_eq!(storage.get_episode(NS, during.id).await.unwrap(), None);
    // The abandoned request may still begin its transaction once the server wakes up; the
    // server takes the write lock back from it after about five seconds, and until then a
    // write through the short timeout can fail again (with the default timeout it waits).
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(err) = storage.store_episode(&during).await {
        assert!(Instant::now() < deadline, "never written again: {err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(storage.row_counts().await.unwrap().episodes, 2);
    assert_eq!(
        *storage.get_episode(NS, during.id).await.unwrap().unwrap(),
        during
    );
}

#[tokio::test]
async fn opening_a_hung_server_fails_in_time_naming_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(server) = Sqld::start(dir.path(), "opening_a_hung_server_fails_in_time_naming_it")
    else {
        return;
    };
    server.pause();
    let at = Location::parse(&server.url, Some(server.token.clone()));
    let started = Instant::now();
    let err = TursoStorage::open_at(at, short_timeout())
        .await
        .unwrap_err();
    let said = err.to_string();
    assert!(said.contains(&server.url), "{said}");
    assert!(said.contains("stopped answering"), "{said}");
    assert!(!said.contains("authentication"), "{said}");
    assert!(started.elapsed() < SHORT * 4, "{:?}", started.elapsed());
    server.resume();
}

/// The newest position of the store's change log, as the server holds it.
async fn log_end(storage: &TursoStorage) -> i64 {
    let (_db, conn) = common::raw(storage).await;
    let mut rows = conn
        .query("SELECT coalesce(max(seq), 0) FROM change_log", ())
        .await
        .unwrap();
    rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
}

#[tokio::test]
async fn each_write_logs_its_change_once_and_reads_never_do() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some((_server, storage)) = on_sqld(
        &dir,
        "each_write_logs_its_change_once_and_reads_never_do",
        TursoConfig::default(),
    )
    .await
    else {
        return;
    };
    let before = log_end(&storage).await;
    let episode = running(NS, "versioned", 0);
    storage.store_episode(&episode).await.unwrap();
    assert_eq!(log_end(&storage).await, before + 1);

    // Reads, including those in a read transaction of several statements.
    storage.get_episode(NS, episode.id).await.unwrap().unwrap();
    storage
        .episodes_without_vectors(Some(NS), 10)
        .await
        .unwrap();
    storage.row_counts().await.unwrap();
    storage.list_sessions(NS).await.unwrap();
    assert_eq!(log_end(&storage).await, before + 1);
}
