//! The database schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema up one version. Opening a database runs the
//! missing ones in a single `IMMEDIATE` transaction, so two processes opening a fresh file at
//! the same time cannot both migrate it: the second waits on the write lock, re-reads the
//! version and finds nothing left to do. A migration never drops user data; a file whose
//! version is newer than [`SCHEMA_VERSION`] is refused untouched rather than guessed at.
//!
//! Layout (version 1):
//! - `episodes`: one row per episode. `record` holds the whole episode as JSON *without its
//!   steps*; the other columns are copies of the fields that queries filter, sort or sum on.
//!   `rowid` is an explicit alias so that it is stable and can key the full-text index.
//! - `steps`: one row per step, keyed by `(episode_rowid, seq)`, with the whole step as JSON
//!   in `record`. Appending a step is one insert here plus a counter update on `episodes`.
//! - `episode_tags`: the union of an episode's own tags and its context tags, for tag filters.
//! - `episode_fts`: an FTS5 index over task, steps, outcome, reflection and tags, keyed by the
//!   episode's rowid (see [`crate::fts`] for when it is written).

use crate::error::{SqlContext, TursoError};
use libsql::{Connection, TransactionBehavior};
use std::path::Path;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [MIGRATION_1];

const MIGRATION_1: &str = r#"
CREATE TABLE episodes (
    rowid            INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    namespace        TEXT    NOT NULL,
    task_type        TEXT    NOT NULL,
    domain           TEXT,
    language         TEXT,
    framework        TEXT,
    outcome_kind     TEXT,
    reward           REAL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER,
    step_count       INTEGER NOT NULL DEFAULT 0,
    total_latency_ms INTEGER NOT NULL DEFAULT 0,
    record           TEXT    NOT NULL
);
CREATE INDEX episodes_ns_started ON episodes (namespace, started_at DESC);
CREATE INDEX episodes_ns_domain ON episodes (namespace, domain);
CREATE INDEX episodes_ns_language ON episodes (namespace, language);
CREATE INDEX episodes_ns_task_type ON episodes (namespace, task_type);
CREATE INDEX episodes_ns_outcome ON episodes (namespace, outcome_kind);
CREATE INDEX episodes_ns_reward ON episodes (namespace, reward);
CREATE INDEX episodes_ns_ended ON episodes (namespace, ended_at);

CREATE TABLE steps (
    episode_rowid INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    tool          TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    latency_ms    INTEGER NOT NULL,
    record        TEXT    NOT NULL,
    PRIMARY KEY (episode_rowid, seq)
);
CREATE INDEX steps_tool ON steps (tool);

CREATE TABLE episode_tags (
    episode_rowid INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
    tag           TEXT    NOT NULL,
    PRIMARY KEY (episode_rowid, tag)
);
CREATE INDEX episode_tags_tag ON episode_tags (tag);

CREATE VIRTUAL TABLE episode_fts USING fts5 (
    task, steps, outcome, reflection, tags,
    tokenize = 'porter unicode61'
);
"#;

/// Reads the schema version stored in the file.
pub(crate) async fn user_version(conn: &Connection) -> Result<i64, TursoError> {
    let mut rows = conn
        .query("PRAGMA user_version", ())
        .await
        .ctx("read schema version")?;
    let row = rows.next().await.ctx("read schema version")?;
    match row.map(|r| r.get_value(0)) {
        Some(Ok(libsql::Value::Integer(v))) => Ok(v),
        Some(Ok(other)) => Err(TursoError::corrupt(
            "schema version",
            format!("PRAGMA user_version returned {other:?}"),
        )),
        Some(Err(e)) => Err(TursoError::Sql {
            context: "read schema version",
            source: e,
        }),
        None => Err(TursoError::corrupt(
            "schema version",
            "PRAGMA user_version returned no row",
        )),
    }
}

/// Brings the schema of the database behind `conn` up to [`SCHEMA_VERSION`].
///
/// Returns the version the file is at afterwards. Refuses a file from a newer build.
pub(crate) async fn migrate(conn: &Connection, path: &Path) -> Result<i64, TursoError> {
    let too_new = |found: i64| TursoError::SchemaTooNew {
        path: path.to_path_buf(),
        found,
        supported: SCHEMA_VERSION,
    };

    // Cheap check first, so an up-to-date file does not take the write lock on every open.
    let found = user_version(conn).await?;
    if found > SCHEMA_VERSION {
        return Err(too_new(found));
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .await
        .ctx("begin schema migration")?;
    // Another process may have migrated between the check above and taking the lock.
    let found = user_version(&tx).await?;
    if found > SCHEMA_VERSION {
        return Err(too_new(found));
    }
    let Ok(first) = usize::try_from(found) else {
        return Err(TursoError::corrupt(
            format!("database `{}`", path.display()),
            format!("its schema version is {found}, which no build ever writes"),
        ));
    };
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(first) {
        let version = index as i64 + 1;
        tracing::info!(version, path = %path.display(), "migrating database schema");
        tx.execute_batch(sql)
            .await
            .map_err(|source| TursoError::Migration { version, source })?;
        // PRAGMA takes no bound parameters; `version` is a number we computed, not input.
        tx.execute(&format!("PRAGMA user_version = {version}"), ())
            .await
            .map_err(|source| TursoError::Migration { version, source })?;
    }
    tx.commit().await.map_err(|source| TursoError::Migration {
        version: SCHEMA_VERSION,
        source,
    })?;
    Ok(SCHEMA_VERSION)
}
