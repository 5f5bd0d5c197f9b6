//! A store read through an embedded replica of a libSQL server: reads come from the local
//! file, a process reads its own writes at once and other processes' within the sync
//! interval, and while the server is away the replica keeps answering reads — even when
//! opened during the outage — while writes fail cleanly and nothing is half-written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::running;
use memory_core::storage::prelude::*;
use memory_core::{EpisodeFilter, MemoryError};
use memory_storage_turso::{Location, TursoConfig, TursoError, TursoStorage};
use memory_test_server::Sqld;
use std::path::Path;
use std::time::{Duration, Instant};

const NS: &str = "ns";

/// How long the tests below give the server to answer one request.
const SHORT: Duration = Duration::from_millis(800);

fn config() -> TursoConfig {
    TursoConfig {
        request_timeout: SHORT,
        sync_interval: Duration::from_millis(200),
        ..TursoConfig::default()
    }
}

/// The server's location read through the replica file `name` in `dir`.
fn replica_of(server: &Sqld, dir: &Path, name: &str) -> Location {
    Location::parse(&server.url, Some(server.token.clone()))
        .with_replica(dir.join(name))
        .unwrap()
}

async fn open(location: Location) -> TursoStorage {
    TursoStorage::open_at(location, config()).await.unwrap()
}

/// Waits until `storage`'s replica has synced with its server again (writes are refused
/// while its last sync failed).
async fn answering(storage: &TursoStorage) {
    until_answering(storage, true).await;
}

/// Waits until whether `storage`'s server answers its replica's syncs is `answering`.
async fn until_answering(storage: &TursoStorage, answering: bool) {
    let asked = Instant::now();
    loop {
        let stats = storage.storage_stats().await.unwrap().replica.unwrap();
        if stats.server_answering == answering {
            return;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "server_answering never became {answering}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `location`, a replica a handle of this process just dropped: its file is free
/// once that handle's background work has stopped, a moment later.
async fn open_again(location: Location) -> Result<TursoStorage, TursoError> {
    let asked = Instant::now();
    loop {
        let patient = asked.elapsed() < Duration::from_secs(10);
        match TursoStorage::open_at(location.clone(), config()).await {
            Ok(storage) if matches!(storage.location(), Location::Replica { .. }) || !patient => {
                return Ok(storage);
            }
            // Opened on the server instead, or failed there while it is down.
            Ok(_) | Err(TursoError::Server { .. }) if patient => {}
            Ok(storage) => return Ok(storage),
            Err(err) => return Err(err),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_process_reads_its_own_writes_at_once_and_others_within_the_sync_interval() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(server) = Sqld::start(dir.path(), "replica reads") else {
        return;
    };
    let ours = open(replica_of(&server, dir.path(), "ours.db")).await;
    let theirs = open(replica_of(&server, dir.path(), "theirs.db")).await;
    let direct = open(Location::parse(&server.url, Some(server.token.clone()))).await;

    let mine = running(NS, "written here", 0);
    ours.store_episode(&mine).await.unwrap();
    assert_eq!(*ours.get_episode(NS, mine.id).await.unwrap().unwrap(), mine);
    assert_eq!(
        *direct.get_episode(NS, mine.id).await.unwrap().unwrap(),
        mine,
        "the write went to the server"
    );

    // Another machine's write reaches this replica by the periodic sync alone.
    let other = running(NS, "written on another machine", 1);
    theirs.store_episode(&other).await.unwrap();
    let written = Instant::now();
    while ours.get_episode(NS, other.id).await.unwrap().is_none() {
        assert!(
            written.elapsed() < Duration::from_secs(10),
            "the other replica's write never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = ours.list_episodes(&EpisodeFilter::new(NS)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(ours.row_counts().await.unwrap().episodes, 2);
}

#[tokio::test]
async fn while_the_server_is_down_the_replica_answers_reads_and_writes_fail_cleanly() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(mut server) = Sqld::start(dir.path(), "replica outage") else {
        return;
    };
    let at = replica_of(&server, dir.path(), "replica.db");
    let storage = open(at.clone()).await;
    let before = running(NS, "stored before the outage", 0);
    storage.store_episode(&before).await.unwrap();
    // The replica fetches a write once it is answered; here it has.
    storage.finish_background_work().await;

    server.stop();
    // Reads: answered from the replica.
    assert_eq!(
        *storage.get_episode(NS, before.id).await.unwrap().unwrap(),
        before
    );
    // Writes: a clean failure naming the server, and nothing of it anywhere.
    let during = running(NS, "sent during the outage", 1);
    let err = storage.store_episode(&during).await.unwrap_err();
    assert!(matches!(err, MemoryError::Storage(_)), "{err:?}");
    assert!(storage.sync().await.is_err());
    assert_eq!(storage.get_episode(NS, during.id).await.unwrap(), None);
    // The statistics say the replica cannot reach its server.
    let synced = storage.storage_stats().await.unwrap().replica.unwrap();
    assert!(!synced.server_answering);
    assert!(synced.failed_syncs >= 1, "{synced:?}");
    assert!(synced.since_last_sync_s.is_some());

    // A process started during the outage opens on what its replica holds.
    drop(storage);
    let reopened = open_again(at.clone()).await.unwrap();
    assert_eq!(
        *reopened.get_episode(NS, before.id).await.unwrap().unwrap(),
        before
    );
    assert!(reopened.store_episode(&during).await.is_err());

    // The server returns: writes work again on the same handle, and the replica catches up
    // with a write made elsewhere meanwhile.
    server.start_again();
    answering(&reopened).await;
    reopened.store_episode(&during).await.unwrap();
    let elsewhere = open(Location::parse(&server.url, Some(server.token.clone()))).await;
    let later = running(NS, "written elsewhere after the outage", 2);
    elsewhere.store_episode(&later).await.unwrap();
    reopened.sync().await.unwrap();
    assert_eq!(reopened.row_counts().await.unwrap().episodes, 3);
    assert_eq!(
        *reopened.get_episode(NS, later.id).await.unwrap().unwrap(),
        later
    );
}

#[tokio::test]
async fn a_replica_that_holds_nothing_yet_needs_its_server() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(mut server) = Sqld::start(dir.path(), "replica first open") else {
        return;
    };
    server.stop();
    let at = replica_of(&server, dir.path(), "new.db");
    let err = TursoStorage::open_at(at, config()).await.unwrap_err();
    match &err {
        TursoError::Server { url, .. } => assert_eq!(url, &server.url),
        other => panic!("expected a server error, got {other:?}"),
    }
    assert!(err.to_string().contains(&server.url), "{err}");
}

#[tokio::test]
async fn a_wrong_token_is_refused_even_with_a_replica() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(server) = Sqld::start(dir.path(), "replica wrong token") else {
        return;
    };
    // The replica holds the store, so only the refusal can stop the open.
    drop(open(replica_of(&server, dir.path(), "replica.db")).await);
    let at = Location::parse(&server.url, Some(server.wrong_token.clone()))
        .with_replica(dir.path().join("replica.db"))
        .unwrap();
    let err = open_again(at).await.unwrap_err();
    assert!(matches!(err, TursoError::Server { .. }), "{err:?}");
    let text = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthorized"),
        "{text}"
    );
}

#[tokio::test]
async fn reads_never_wait_for_a_server_that_stopped_answering() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(server) = Sqld::start(dir.path(), "replica hung server") else {
        return;
    };
    let storage = open(replica_of(&server, dir.path(), "replica.db")).await;
    let stored = running(NS, "stored before the server hung", 0);
    storage.store_episode(&stored).await.unwrap();
    storage.finish_background_work().await;
    storage
        .store_episode(&running(NS, "answered as the server hung", 4))
        .await
        .unwrap();

    server.pause();
    // The sync after that write hangs too: the next read waits for it, at most one request
    // timeout, and is served from the replica.
    let asked = Instant::now();
    assert!(storage.get_episode(NS, stored.id).await.unwrap().is_some());
    let first = asked.elapsed();
    assert!(first < SHORT * 2, "the first read took {first:?}");
    // Later reads do not wait at all.
    let asked = Instant::now();
    for _ in 0..20 {
        assert!(storage.get_episode(NS, stored.id).await.unwrap().is_some());
        storage
            .list_episodes(&EpisodeFilter::new(NS))
            .await
            .unwrap();
    }
    let reads = asked.elapsed();
    let write = storage
        .store_episode(&running(NS, "sent to a hung server", 1))
        .await;
    assert!(
        reads < SHORT,
        "40 reads took {reads:?}: they waited for the server"
    );
    assert!(write.is_err(), "a write to a hung server must time out");

    // Once a sync has failed, writes are refused without waiting for the server…
    until_answering(&storage, false).await;
    let asked = Instant::now();
    let refused = storage
        .store_episode(&running(NS, "refused at once", 2))
        .await
        .unwrap_err();
    assert!(asked.elapsed() < SHORT / 2, "{:?}", asked.elapsed());
    assert!(refused.to_string().contains(&server.url), "{refused}");
    // …and taken again once the server answers a sync.
    server.resume();
    answering(&storage).await;
    storage
        .store_episode(&running(NS, "after the hang", 3))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_replica_in_use_by_another_process_is_left_to_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let Some(server) = Sqld::start(dir.path(), "replica in use") else {
        return;
    };
    let at = replica_of(&server, dir.path(), "shared.db");
    let first = open(at.clone()).await;
    assert!(matches!(first.location(), Location::Replica { .. }));
    // A second opener of the same file reads the server directly instead, and both work.
    let second = open(at.clone()).await;
    assert!(
        matches!(second.location(), Location::Server { url, .. } if url == &server.url),
        "{:?}",
        second.location()
    );
    let written = running(NS, "written by the second", 0);
    second.store_episode(&written).await.unwrap();
    first.sync().await.unwrap();
    assert!(first.get_episode(NS, written.id).await.unwrap().is_some());
    // Once the first lets go, the file is free again.
    drop(first);
    drop(second);
    let third = open_again(at).await.unwrap();
    assert!(matches!(third.location(), Location::Replica { .. }));
}

#[tokio::test]
async fn a_replica_of_one_server_is_never_served_as_another() {
    let dir = tempfile::TempDir::new().unwrap();
    for name in ["first", "second"] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
    }
    let (Some(first), Some(second)) = (
        Sqld::start(&dir.path().join("first"), "replica of another server"),
        Sqld::start(&dir.path().join("second"), "replica of another server"),
    ) else {
        return;
    };
    let file = dir.path().join("replica.db");
    let of = |server: &Sqld| {
        Location::parse(&server.url, Some(server.token.clone()))
            .with_replica(&file)
            .unwrap()
    };
    drop(open(of(&first)).await);
    let err = open_again(of(&second)).await.unwrap_err();
    assert!(
        matches!(err, TursoError::ReplicaOfAnotherServer { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&first.url), "{err}");
    // Its own server still opens it.
    let again = open_again(of(&first)).await.unwrap();
    assert!(matches!(again.location(), Location::Replica { .. }));
}
