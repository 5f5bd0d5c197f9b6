//! A store on a libSQL server that goes away: writes fail cleanly while it is down, nothing
//! is half-written, and the same handle works again once the server is back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::running;
use memory_core::{MemoryError, StorageBackend};
use memory_storage_turso::{Location, TursoConfig, TursoStorage};
use memory_test_server::Sqld;
use std::time::{Duration, Instant};

const NS: &str = "ns";

#[tokio::test]
async fn an_outage_fails_writes_cleanly_and_the_same_handle_recovers() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(mut server) = Sqld::start(
        dir.path(),
        "an_outage_fails_writes_cleanly_and_the_same_handle_recovers",
    ) else {
        return;
    };
    let at = Location::parse(&server.url, Some(server.token.clone()));
    let storage = TursoStorage::open_at(at, TursoConfig::default())
        .await
        .unwrap();
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
