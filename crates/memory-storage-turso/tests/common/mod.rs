//! Helpers shared by the integration tests: a fresh database in a temporary directory and
//! builders for episodes, steps and completions.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use memory_core::learning::{Mined, mine};
use memory_core::{
    Completion, Episode, ExecutionStep, Reflection, RewardScore, StepInput, StepResult,
    TaskContext, TaskOutcome, TaskType, to_micros,
};
use memory_storage_turso::{Location, TursoConfig, TursoStorage};
use memory_test_server::Sqld;
use std::path::Path;
use tempfile::TempDir;
use uuid::Uuid;

/// Where a test's store lives, kept alive as long as the test holds it: a temporary
/// directory and, when the tests run against a libSQL server, that server.
pub struct Fixture {
    dir: TempDir,
    server: Option<Sqld>,
}

impl Fixture {
    /// The test's temporary directory (the database file's, when it has one).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The server the store is on, when it is on one.
    pub fn server(&self) -> Option<&Sqld> {
        self.server.as_ref()
    }
}

/// Whether the integration tests keep their stores on a libSQL server (`sqld`, one per
/// test, started with a JWT key): `MEMORY_TEST_STORE=sqld`, as `.ci/run` runs them a second
/// time, or `MEMORY_TEST_STORE=replica` (the third time), where each store reads through an
/// embedded replica of its own. Otherwise each store is a file in a temporary directory.
pub fn on_server() -> bool {
    std::env::var("MEMORY_TEST_STORE").is_ok_and(|v| v == "sqld" || v == "replica")
}

/// Whether the integration tests read their stores through embedded replicas
/// (`MEMORY_TEST_STORE=replica`).
pub fn through_replica() -> bool {
    std::env::var("MEMORY_TEST_STORE").is_ok_and(|v| v == "replica")
}

/// A new, empty store of its own: a file in a temporary directory, or a database on a
/// `sqld` of its own (see [`on_server`]).
pub async fn fresh() -> (Fixture, TursoStorage) {
    let dir = TempDir::new().unwrap();
    if !on_server() {
        let storage = TursoStorage::open(dir.path().join("memory.db"))
            .await
            .unwrap();
        return (Fixture { dir, server: None }, storage);
    }
    let server = Sqld::start(dir.path(), "MEMORY_TEST_STORE")
        .expect("MEMORY_TEST_STORE=sqld|replica needs a sqld binary (MEMORY_TEST_SQLD)");
    let mut location = Location::parse(&server.url, Some(server.token.clone()));
    if through_replica() {
        location = location
            .with_replica(dir.path().join("replica.db"))
            .unwrap();
    }
    let storage = TursoStorage::open_at(location, TursoConfig::default())
        .await
        .unwrap();
    (
        Fixture {
            dir,
            server: Some(server),
        },
        storage,
    )
}

/// Another handle on the same store, as another process would open it (through a replica
/// of its own, when the store is read through one).
pub async fn reopen(storage: &TursoStorage) -> TursoStorage {
    let mut location = storage.location().clone();
    if let Location::Replica { path, .. } = &location {
        let own = path.with_file_name(format!("replica-{}.db", Uuid::now_v7()));
        location = location.with_replica(own).unwrap();
    }
    TursoStorage::open_at(location, TursoConfig::default())
        .await
        .unwrap()
}

/// Waits until `storage` sees every write made so far through other handles: syncs its
/// embedded replica now (on a file or a server read directly, it already does).
pub async fn caught_up(storage: &TursoStorage) {
    storage.sync().await.unwrap();
}

/// A plain libSQL connection to the store, outside the storage layer (to damage a row on
/// purpose, or read what the layer does not show). Keep the database while using it.
pub async fn raw(storage: &TursoStorage) -> (libsql::Database, libsql::Connection) {
    let db = match storage.location() {
        Location::File(path) => libsql::Builder::new_local(path).build().await.unwrap(),
        Location::Server { url, auth_token }
        | Location::Replica {
            url, auth_token, ..
        } => libsql::Builder::new_remote(url.clone(), auth_token.clone())
            .build()
            .await
            .unwrap(),
    };
    let conn = db.connect().unwrap();
    if !storage.location().is_server() {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
    }
    (db, conn)
}

/// A fixed point in time, so tests do not depend on the clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap()
}

/// `t0()` plus `secs` seconds and a few microseconds (to check they survive).
pub fn at(secs: i64) -> DateTime<Utc> {
    to_micros(t0() + Duration::seconds(secs) + Duration::microseconds(123_456))
}

/// A running episode in `namespace` with no steps, started `secs` after `t0()`.
pub fn running(namespace: &str, task: &str, secs: i64) -> Episode {
    Episode {
        id: Uuid::now_v7(),
        namespace: namespace.to_string(),
        task_description: task.to_string(),
        task_type: TaskType::Debugging,
        context: TaskContext::default(),
        started_at: at(secs),
        ended_at: None,
        steps: Vec::new(),
        outcome: None,
        reward: None,
        reflection: None,
        pattern_ids: Vec::new(),
        tags: Vec::new(),
        metadata: serde_json::Map::new(),
        retrieval_session: None,
    }
}

/// A successful step input with the given tool, action and latency.
pub fn step(tool: &str, action: &str, latency_ms: u64) -> StepInput {
    StepInput::new(
        tool,
        action,
        StepResult::Success {
            output: format!("{tool} ok"),
        },
    )
    .with_latency_ms(latency_ms)
}

/// A recorded step at position `seq`.
pub fn recorded(seq: u32, tool: &str, action: &str, latency_ms: u64) -> ExecutionStep {
    step(tool, action, latency_ms).into_step(seq, at(i64::from(seq)))
}

/// A successful outcome.
pub fn success(verdict: &str) -> TaskOutcome {
    TaskOutcome::Success {
        verdict: verdict.to_string(),
        artifacts: vec![],
    }
}

/// A completion computed from `expected_steps` steps, teaching nothing (see
/// [`completion_of`] for one that carries the mined lessons).
pub fn completion(expected_steps: u32, outcome: TaskOutcome, total: f64) -> Completion {
    Completion {
        ended_at: at(3_600),
        outcome,
        reward: RewardScore {
            total,
            base: total,
            efficiency: 0.5,
            quality: 1.0,
            breakdown: format!("total {total}"),
        },
        reflection: Reflection {
            successes: vec!["ran the tests first".into()],
            improvements: vec![],
            insights: vec!["small steps help".into()],
        },
        expected_steps,
        steps: None,
        learned: Mined::default(),
        feedback_session: None,
        half_life_days: 30.0,
    }
}

/// The completion of `episode` (with the steps it has) with `outcome` at `ended_at`,
/// carrying what mining the completed episode teaches.
pub fn completion_of(
    episode: &Episode,
    outcome: TaskOutcome,
    ended_at: DateTime<Utc>,
) -> Completion {
    let total = match outcome {
        TaskOutcome::Success { .. } => 1.0,
        TaskOutcome::PartialSuccess { .. } => 0.5,
        _ => 0.0,
    };
    let mut c = completion(episode.steps.len() as u32, outcome, total);
    c.ended_at = ended_at;
    let done = completed_with(episode.clone(), &c);
    c.learned = mine(&done);
    c
}

/// `episode` completed with `completion`, as the store should hold it (steps unchanged).
pub fn completed_with(mut episode: Episode, completion: &Completion) -> Episode {
    episode.ended_at = Some(completion.ended_at);
    episode.outcome = Some(completion.outcome.clone());
    episode.reward = Some(completion.reward.clone());
    episode.reflection = Some(completion.reflection.clone());
    episode
}
