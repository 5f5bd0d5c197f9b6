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
//!   episode's rowid (replaced by `episode_text` in version 6).
//!
//! Added in version 2 (learning; see [`crate::patterns`] and [`crate::sessions`]):
//! - `patterns`: one row per learned pattern, unique by `(namespace, signature)`. `record`
//!   holds the whole pattern as JSON; the other columns copy what listings filter and sort on.
//!   Scope columns are lower-cased (the record keeps the original spelling), so context
//!   filters match case-insensitively.
//! - `context_stats`: the decayed outcome statistics of every context (`PatternScope::key()`)
//!   an episode belonged to, the baselines that patterns' lift is measured against.
//! - `retrieval_sessions`: one row per retrieval, so that feedback can be tied to what was
//!   offered.
//!
//! Version 2 only adds tables, so a version 1 file upgrades in place with its data untouched.
//!
//! Added in version 3 (vectors; see [`crate::vectors`]):
//! - `vector_space`: at most one row, the embedder id and dimension of the store's vectors.
//! - `embedding_cache`: vectors by `(embedder, content_hash)`, little-endian `f32` blobs.
//! - `episodes.has_vector` (0 or 1) and the partial index `episodes_without_vector` over
//!   completed episodes without a vector: the re-embed work list.
//!
//! The vector table itself (`episode_vectors`, with its libSQL vector index) depends on the
//! dimension, so it is created when a vector space is first declared, not here. Version 3
//! adds tables and a defaulted column: a version 2 file upgrades in place, and its completed
//! episodes are listed by `episodes_without_vectors` until they are embedded.
//!
//! Added in version 4 (relationships and checkpoints; see [`crate::relationships`]):
//! - `episode_relationships`: one row per edge, its ends as foreign keys to `episodes.rowid`
//!   with `ON DELETE CASCADE` (deleting an episode deletes its edges), unique by
//!   `(from_rowid, to_rowid, kind)`, `record` holding the whole edge as JSON.
//! - `episode_checkpoints`: one row per checkpoint, its episode a foreign key with
//!   `ON DELETE CASCADE`.
//!
//! Version 4 only adds tables: a version 3 file upgrades in place.
//!
//! Changed in version 5 (cheaper completions): `patterns_ns_confidence` covers only patterns
//! seen in at least two episodes — the ones retrieval may recommend.
//! Most patterns are seen once and never recommended, and keeping them out of the index
//! spares every completion a random index write per new pattern. A version 4 file upgrades
//! in place (the index is rebuilt; no data changes).
//!
//! Changed in version 6 (full-text search in memory; see [`crate::text_log`]):
//! `episode_text` replaces the FTS5 table `episode_fts`: one row per indexed episode with
//! its terms and their weighted frequencies, each write numbered by an `AUTOINCREMENT`
//! `seq` so that in-memory indexes can catch up on what changed. Upgrading a version 5 file
//! indexes its completed episodes from their records and steps and drops `episode_fts`
//! (derived from those same records; no user data is lost).
//!
//! Changed in version 7 (cheaper writes): indexes no query plan uses are dropped —
//! `steps_tool` (steps are read by episode, through the primary key) and
//! `episodes_ns_domain`, `_language`, `_task_type`, `_outcome` and `_reward` (listings sort by
//! start time and are served by `episodes_ns_started` whatever they filter on; nothing sorts
//! or filters on reward). Each cost every episode insert, step append or completion index
//! writes for nothing. A test in [`crate::episodes`] pins the plans that make them unused.
//! `episodes_ns_costs` becomes partial, over completed episodes only — the cost baseline
//! reads nothing else — so appending a step to a running episode (which changes its step
//! count and latency) no longer rewrites its entry. No data changes.
//!
//! Changed in version 8: `episodes_without_vector_ns`, the pending-vector work list by
//! namespace.
//!
//! Added in version 9 (fast first searches; see [`crate::text_snapshot`]): `text_snapshot`
//! (at most one row: the log position a stored snapshot of the full-text index covers, its
//! format, counts and documents) and `text_snapshot_terms` (each term's posting list). Both
//! start empty: the first search that finds the log long enough writes a snapshot. Derived
//! from `episode_text` alone; no data changes.
//!
//! Changed in version 10 (vectors over the whole episode; see [`crate::vectors`]): the
//! vector table of one row per episode is dropped with its vector space and every episode
//! marked pending, so the next embedder declares the space again and writes a row per chunk
//! (task and outcome, then the steps). Vectors are derived from the episodes; no data the
//! user gave is lost, and a remote embedder's vectors of unchanged texts stay in the
//! embedding cache.
//!
//! Changed in version 11 (full-text scoring by passage; see [`crate::text_terms`]): every
//! completed episode's text log entry is written again as the whole episode and passages of
//! long steps (a new `seq` each, so running indexes replace them), and the stored snapshot of
//! the text index, in the old format, is dropped; the first search that finds the log long
//! enough writes a new one. Derived from the episodes; no data changes.
//!
//! Changed in version 13 (other writers' changes by key; see [`crate::change_log`]):
//! `change_log` replaces `store_version` (a single number every write through a server
//! raised, in version 12). Triggers on `episodes` and `patterns` append a row per changed
//! episode, and per namespace whose patterns changed or whose episodes got vectors (once per
//! transaction), naming the writer that `change_writer` holds — each write transaction sets
//! it as it begins — so that a process can tell its own changes from others'. Starts empty;
//! no data changes.
//!
//! Added in version 14 (bounded growth; see [`crate::garbage`]): `episodes_running`, a
//! partial index of the episodes still running by start time, so that the hourly search for
//! abandoned ones reads the few running episodes instead of every episode. No data changes.
//!
//! Added in version 15 (counts without scans): `episode_counts`, the episodes of each
//! namespace by outcome and how many have vectors, kept by triggers on `episodes`; counting a
//! namespace, listing the store's namespaces and the store's totals read it instead of every
//! episode. Filled from the episodes on upgrade. `episodes_ns_started` gains the id (the
//! listing order's tie-break) and the columns listings filter on, so a page deep in a
//! listing, or of a filter few episodes match, is found in the index without reading the
//! rows it passes over (one index entry more is rewritten when an episode completes). No
//! data changes.
//!
//! Added in version 16 (one request per write on a server; see [`crate::completion`]):
//! `write_guards`, a table that stays empty — inserting into it fails with the row's reason
//! (`RAISE` is only allowed in triggers). A write computed from rows read earlier inserts
//! into it when one of them has changed since, which fails the write and rolls it back. No
//! data changes.

use crate::error::{SqlContext, TursoError};
use crate::text_log;
use libsql::Connection;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 16;

/// Support (episodes) from which a pattern is in the confidence index (migration 5); a
/// pattern listing that asks for at least this much support — retrieval asks for the
/// learning engine's `min_support`, 2 by default — is served by it. Tests tie the two.
#[cfg(test)]
pub(crate) const RANKED_MIN_EPISODES: u64 = 2;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    MIGRATION_8,
    MIGRATION_9,
    MIGRATION_10,
    MIGRATION_11,
    MIGRATION_12,
    MIGRATION_13,
    MIGRATION_14,
    MIGRATION_15,
    MIGRATION_16,
];

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

const MIGRATION_2: &str = r#"
CREATE TABLE patterns (
    id              TEXT    PRIMARY KEY,
    namespace       TEXT    NOT NULL,
    signature       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    scope_domain    TEXT,
    scope_language  TEXT,
    scope_framework TEXT,
    scope_task_type TEXT,
    scope_tag       TEXT,
    episodes        INTEGER NOT NULL,
    confidence      REAL    NOT NULL,
    lift            REAL    NOT NULL,
    last_seen       INTEGER NOT NULL,
    record          TEXT    NOT NULL,
    UNIQUE (namespace, signature)
);
CREATE INDEX patterns_ns_confidence ON patterns (namespace, confidence DESC);
CREATE INDEX patterns_ns_kind ON patterns (namespace, kind);

CREATE TABLE context_stats (
    namespace TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (namespace, scope_key)
);

CREATE TABLE retrieval_sessions (
    id         TEXT    PRIMARY KEY,
    namespace  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    record     TEXT    NOT NULL
);
CREATE INDEX retrieval_sessions_ns_created ON retrieval_sessions (namespace, created_at);

-- Covers `comparable_costs` (the efficiency baseline read on every completion), so it reads
-- only this index instead of one episode row per candidate.
CREATE INDEX episodes_ns_costs ON episodes
    (namespace, task_type, domain, ended_at DESC, step_count, total_latency_ms);
"#;

const MIGRATION_3: &str = r#"
CREATE TABLE vector_space (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    embedder  TEXT    NOT NULL,
    dimension INTEGER NOT NULL
);

CREATE TABLE embedding_cache (
    embedder     TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vector       BLOB NOT NULL,
    PRIMARY KEY (embedder, content_hash)
) WITHOUT ROWID;

-- Whether the episode has a row in `episode_vectors` (kept by crate::vectors). No episode
-- has one yet, so every existing row starts at 0.
ALTER TABLE episodes ADD COLUMN has_vector INTEGER NOT NULL DEFAULT 0;
-- The re-embed work list, in the order it is worked through.
CREATE INDEX episodes_without_vector ON episodes (rowid)
    WHERE ended_at IS NOT NULL AND has_vector = 0;
"#;

const MIGRATION_4: &str = r#"
CREATE TABLE episode_relationships (
    rowid      INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    namespace  TEXT    NOT NULL,
    from_rowid INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
    to_rowid   INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    record     TEXT    NOT NULL,
    UNIQUE (from_rowid, to_rowid, kind),
    CHECK (from_rowid <> to_rowid)
);
-- Incoming edges of an episode (outgoing ones use the unique index).
CREATE INDEX episode_relationships_to ON episode_relationships (to_rowid, kind);
-- Every edge of a kind in a namespace: the cycle check and the graph export.
CREATE INDEX episode_relationships_ns_kind ON episode_relationships (namespace, kind);

CREATE TABLE episode_checkpoints (
    rowid         INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    episode_rowid INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    record        TEXT    NOT NULL
);
CREATE INDEX episode_checkpoints_episode ON episode_checkpoints (episode_rowid, at);
"#;

// The literal 2 is `RANKED_MIN_EPISODES` (a test checks they agree).
const MIGRATION_5: &str = r#"
DROP INDEX patterns_ns_confidence;
CREATE INDEX patterns_ns_confidence ON patterns (namespace, confidence DESC)
    WHERE episodes >= 2;
"#;

const MIGRATION_6: &str = r#"
DROP TABLE episode_fts;
CREATE TABLE episode_text (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_rowid INTEGER NOT NULL UNIQUE,
    namespace     TEXT    NOT NULL,
    terms         BLOB
);
"#;

const MIGRATION_7: &str = r#"
DROP INDEX steps_tool;
DROP INDEX episodes_ns_domain;
DROP INDEX episodes_ns_language;
DROP INDEX episodes_ns_task_type;
DROP INDEX episodes_ns_outcome;
DROP INDEX episodes_ns_reward;
DROP INDEX episodes_ns_costs;
CREATE INDEX episodes_ns_costs ON episodes
    (namespace, task_type, domain, ended_at DESC, step_count, total_latency_ms)
    WHERE ended_at IS NOT NULL;
"#;

/// A retrieval embeds only its own namespace's pending episodes: the work list by namespace,
/// so a backlog elsewhere costs it nothing.
const MIGRATION_8: &str = r#"
CREATE INDEX episodes_without_vector_ns ON episodes (namespace, rowid)
    WHERE ended_at IS NOT NULL AND has_vector = 0;
"#;

/// A stored snapshot of the full-text index (see `crate::text_snapshot`): the header row,
/// and each term's posting list keyed by the term.
const MIGRATION_9: &str = r#"
CREATE TABLE text_snapshot (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    format   INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    terms    INTEGER NOT NULL,
    postings INTEGER NOT NULL,
    docs     BLOB    NOT NULL
);
CREATE TABLE text_snapshot_terms (
    term     BLOB PRIMARY KEY,
    postings BLOB NOT NULL
) WITHOUT ROWID;
"#;

/// Episodes get a vector per chunk (task and outcome, then their steps) in place of one: the
/// vector table is dropped with its space and every episode is pending again, so the next
/// embedder to run declares the space and creates the new table (see `crate::vectors`); the
/// embedding cache keeps a remote embedder's vectors of unchanged texts.
const MIGRATION_10: &str = r#"
DROP INDEX IF EXISTS episode_vectors_idx;
DROP TABLE IF EXISTS episode_vectors;
DELETE FROM vector_space;
UPDATE episodes SET has_vector = 0 WHERE has_vector = 1;
"#;

/// Version 11: the text log's entries are written again by the migration (see
/// [`TEXT_INDEX_VERSIONS`]); the old snapshot cannot be read by this build.
const MIGRATION_11: &str = r#"
DELETE FROM text_snapshot_terms;
DELETE FROM text_snapshot;
"#;

const MIGRATION_12: &str = r#"
CREATE TABLE store_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO store_version (id, version) VALUES (1, 0);
"#;

/// Version 13: the change log (see [`crate::change_log`]) replaces the single write version:
/// triggers note every episode a write changes, and every namespace whose patterns it
/// changes or whose searches an episode's new vectors change (those once per transaction),
/// each row with the writer `change_writer` names (set as every write transaction begins).
const MIGRATION_13: &str = r#"
DROP TABLE store_version;
CREATE TABLE change_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    writer    INTEGER NOT NULL
);
CREATE INDEX change_log_namespaces ON change_log (namespace, kind, seq)
    WHERE kind <> 'episode';
CREATE TABLE change_writer (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    writer INTEGER NOT NULL,
    since  INTEGER NOT NULL
);
INSERT INTO change_writer (id, writer, since) VALUES (1, 0, 0);

CREATE TRIGGER change_log_episode_insert AFTER INSERT ON episodes BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT NEW.namespace, 'episode', NEW.id, writer FROM change_writer WHERE id = 1;
END;
CREATE TRIGGER change_log_episode_update
AFTER UPDATE OF id, namespace, task_type, domain, language, framework, outcome_kind, reward,
    started_at, ended_at, step_count, total_latency_ms, record ON episodes BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT NEW.namespace, 'episode', NEW.id, writer FROM change_writer WHERE id = 1;
END;
CREATE TRIGGER change_log_episode_delete AFTER DELETE ON episodes BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT OLD.namespace, 'episode', OLD.id, writer FROM change_writer WHERE id = 1;
END;
CREATE TRIGGER change_log_episode_vectors AFTER UPDATE OF has_vector ON episodes
WHEN NEW.has_vector = 1 AND OLD.has_vector = 0 BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT NEW.namespace, 'searches', '', w.writer FROM change_writer AS w
        WHERE w.id = 1 AND NOT EXISTS (SELECT 1 FROM change_log AS c
            WHERE c.kind <> 'episode' AND c.namespace = NEW.namespace AND c.kind = 'searches'
                AND c.seq > w.since);
END;
CREATE TRIGGER change_log_pattern_insert AFTER INSERT ON patterns BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT NEW.namespace, 'patterns', '', w.writer FROM change_writer AS w
        WHERE w.id = 1 AND NOT EXISTS (SELECT 1 FROM change_log AS c
            WHERE c.kind <> 'episode' AND c.namespace = NEW.namespace AND c.kind = 'patterns'
                AND c.seq > w.since);
END;
CREATE TRIGGER change_log_pattern_update AFTER UPDATE ON patterns BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT NEW.namespace, 'patterns', '', w.writer FROM change_writer AS w
        WHERE w.id = 1 AND NOT EXISTS (SELECT 1 FROM change_log AS c
            WHERE c.kind <> 'episode' AND c.namespace = NEW.namespace AND c.kind = 'patterns'
                AND c.seq > w.since);
END;
CREATE TRIGGER change_log_pattern_delete AFTER DELETE ON patterns BEGIN
    INSERT INTO change_log (namespace, kind, key, writer)
        SELECT OLD.namespace, 'patterns', '', w.writer FROM change_writer AS w
        WHERE w.id = 1 AND NOT EXISTS (SELECT 1 FROM change_log AS c
            WHERE c.kind <> 'episode' AND c.namespace = OLD.namespace AND c.kind = 'patterns'
                AND c.seq > w.since);
END;
"#;

/// The schema versions whose migrations also index existing episodes' text (in Rust, after
/// their SQL): 6 made the text log, 11 changed what an entry holds (passages as well).
const TEXT_INDEX_VERSIONS: [i64; 2] = [6, 11];

/// Version 14: the running episodes by start time (a handful at any time, so the index
/// stays small however many episodes the store keeps).
const MIGRATION_14: &str = r#"
CREATE INDEX episodes_running ON episodes (started_at) WHERE ended_at IS NULL;
"#;

/// Version 15: the episodes of each namespace by outcome (`''` for running) and how many
/// of them have vectors, kept by triggers in the transaction of every insert, completion,
/// vector write and delete, so that counting a namespace or the store reads a few rows
/// instead of every episode. Filled from the episodes held. The start-time index also holds
/// the id that breaks ties in a listing's order, so that skipping rows (`offset`) or
/// resuming after a cursor reads the index alone, and the columns a listing filters on
/// (outcome, domain, language, task type, end), so that a filter matching few episodes is
/// checked in the index instead of reading every row it passes over. No data changes.
const MIGRATION_15: &str = r#"
DROP INDEX episodes_ns_started;
CREATE INDEX episodes_ns_started ON episodes
    (namespace, started_at DESC, id DESC, outcome_kind, domain, language, task_type, ended_at);

CREATE TABLE episode_counts (
    namespace    TEXT    NOT NULL,
    outcome_kind TEXT    NOT NULL,
    episodes     INTEGER NOT NULL,
    with_vector  INTEGER NOT NULL,
    PRIMARY KEY (namespace, outcome_kind)
) WITHOUT ROWID;
INSERT INTO episode_counts (namespace, outcome_kind, episodes, with_vector)
    SELECT namespace, COALESCE(outcome_kind, ''), count(*), sum(has_vector)
    FROM episodes GROUP BY namespace, COALESCE(outcome_kind, '');

CREATE TRIGGER episode_counts_insert AFTER INSERT ON episodes BEGIN
    INSERT INTO episode_counts (namespace, outcome_kind, episodes, with_vector)
        VALUES (NEW.namespace, COALESCE(NEW.outcome_kind, ''), 1, NEW.has_vector)
        ON CONFLICT (namespace, outcome_kind) DO UPDATE
        SET episodes = episodes + 1, with_vector = with_vector + excluded.with_vector;
END;
CREATE TRIGGER episode_counts_delete AFTER DELETE ON episodes BEGIN
    UPDATE episode_counts
        SET episodes = episodes - 1, with_vector = with_vector - OLD.has_vector
        WHERE namespace = OLD.namespace AND outcome_kind = COALESCE(OLD.outcome_kind, '');
END;
CREATE TRIGGER episode_counts_update AFTER UPDATE OF namespace, outcome_kind, has_vector
ON episodes
WHEN OLD.namespace IS NOT NEW.namespace OR OLD.outcome_kind IS NOT NEW.outcome_kind
    OR OLD.has_vector IS NOT NEW.has_vector BEGIN
    UPDATE episode_counts
        SET episodes = episodes - 1, with_vector = with_vector - OLD.has_vector
        WHERE namespace = OLD.namespace AND outcome_kind = COALESCE(OLD.outcome_kind, '');
    INSERT INTO episode_counts (namespace, outcome_kind, episodes, with_vector)
        VALUES (NEW.namespace, COALESCE(NEW.outcome_kind, ''), 1, NEW.has_vector)
        ON CONFLICT (namespace, outcome_kind) DO UPDATE
        SET episodes = episodes + 1, with_vector = with_vector + excluded.with_vector;
END;
"#;

const MIGRATION_16: &str = r#"
CREATE TABLE write_guards (reason TEXT NOT NULL);
CREATE TRIGGER write_guards_refuse BEFORE INSERT ON write_guards BEGIN
    SELECT RAISE(ABORT, 'stale write: a row it was computed from has changed');
END;
"#;

/// Reads the schema version stored in the file.
pub(crate) async fn user_version(conn: &Connection) -> Result<i64, TursoError> {
    let mut rows = conn
        .query("PRAGMA user_version", ())
        .await
        .ctx("read schema version")?;
    let row = rows.next().await.ctx("read schema version")?;
    version_in(row)
}

/// The schema version in the row `PRAGMA user_version` answered.
pub(crate) fn version_in(row: Option<libsql::Row>) -> Result<i64, TursoError> {
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
pub(crate) async fn migrate(conn: &Connection, place: &str) -> Result<i64, TursoError> {
    migrate_to(conn, place, SCHEMA_VERSION).await
}

/// Brings the schema up to `target` (at most [`SCHEMA_VERSION`]); [`migrate`] with an
/// explicit goal, so tests can build a file as an older build left it.
async fn migrate_to(conn: &Connection, place: &str, target: i64) -> Result<i64, TursoError> {
    let target = target.min(SCHEMA_VERSION);
    let too_new = |found: i64| TursoError::SchemaTooNew {
        location: place.to_string(),
        found,
        supported: SCHEMA_VERSION,
    };

    // Cheap check first, so an up-to-date file does not take the write lock on every open.
    let found = user_version(conn).await?;
    if found > SCHEMA_VERSION {
        return Err(too_new(found));
    }
    if found >= target {
        return Ok(found);
    }

    // Plain statements rather than libsql's transaction object: the same on a file and on
    // a server, where the object's stream outlived its commit and broke the connection's
    // later reads.
    conn.execute("BEGIN IMMEDIATE", ())
        .await
        .ctx("begin schema migration")?;
    let result = run_migrations(conn, place, target).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.execute(end, ()).await;
    let version = result?;
    ended.map_err(|source| TursoError::Migration { version, source })?;
    Ok(version)
}

/// The migrations from the file's version up to `target`, inside the open transaction on
/// `tx`; returns the version reached.
async fn run_migrations(tx: &Connection, place: &str, target: i64) -> Result<i64, TursoError> {
    // Another process may have migrated between the check above and taking the lock.
    let found = user_version(tx).await?;
    if found > SCHEMA_VERSION {
        return Err(TursoError::SchemaTooNew {
            location: place.to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let Ok(first) = usize::try_from(found) else {
        return Err(TursoError::corrupt(
            format!("database `{place}`"),
            format!("its schema version is {found}, which no build ever writes"),
        ));
    };
    let last = usize::try_from(target).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().take(last).skip(first) {
        let version = index as i64 + 1;
        tracing::info!(version, database = place, "migrating database schema");
        tx.execute_batch(sql)
            .await
            .map_err(|source| TursoError::Migration { version, source })?;
        if TEXT_INDEX_VERSIONS.contains(&version) {
            let (indexed, left_out) = text_log::backfill(tx).await?;
            tracing::info!(indexed, left_out, "indexed the text of existing episodes");
        }
        // PRAGMA takes no bound parameters; `version` is a number we computed, not input.
        tx.execute(&format!("PRAGMA user_version = {version}"), ())
            .await
            .map_err(|source| TursoError::Migration { version, source })?;
    }
    Ok(found.max(target))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::TursoStorage;
    use crate::codec::{EpisodeColumns, step_record};
    use chrono::{TimeZone, Utc};
    use memory_core::storage::prelude::*;
    use memory_core::{
        EpisodeFilter, PatternFilter, StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
    };
    use uuid::Uuid;

    #[test]
    fn the_partial_confidence_index_matches_the_listing_threshold() {
        assert!(
            MIGRATION_5.contains(&format!("WHERE episodes >= {RANKED_MIN_EPISODES}")),
            "{MIGRATION_5}"
        );
    }

    /// A completed episode with two steps, as a version 1 build would have stored it.
    fn old_episode() -> memory_core::Episode {
        let t = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
        let step = |seq, tool: &str| {
            StepInput::new(
                tool,
                "work",
                StepResult::Success {
                    output: "ok".into(),
                },
            )
            .with_latency_ms(25)
            .into_step(seq, t)
        };
        memory_core::Episode {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: "migrate the billing tables".into(),
            task_type: TaskType::Refactoring,
            context: TaskContext {
                domain: Some("billing".into()),
                tags: vec!["db".into()],
                ..TaskContext::default()
            },
            started_at: t,
            ended_at: Some(t + chrono::Duration::minutes(5)),
            steps: vec![step(1, "psql"), step(2, "cargo test")],
            outcome: Some(TaskOutcome::Success {
                verdict: "migrated".into(),
                artifacts: vec![],
            }),
            reward: None,
            reflection: None,
            pattern_ids: Vec::new(),
            tags: vec!["q2".into()],
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        }
    }

    /// Writes `episode` into the version 1 tables the way version 1 did.
    async fn insert_v1(conn: &Connection, episode: &memory_core::Episode) {
        let c = EpisodeColumns::of(episode).unwrap();
        conn.execute(
            "INSERT INTO episodes (id, namespace, task_type, domain, language, framework, \
             outcome_kind, reward, started_at, ended_at, step_count, total_latency_ms, record) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            libsql::params![
                c.id.as_str(),
                c.namespace.as_str(),
                c.task_type,
                c.domain.clone(),
                c.language.clone(),
                c.framework.clone(),
                c.outcome_kind,
                c.reward,
                c.started_at,
                c.ended_at,
                c.step_count,
                c.total_latency_ms,
                c.record.as_str()
            ],
        )
        .await
        .unwrap();
        let rowid = conn.last_insert_rowid();
        for s in &episode.steps {
            conn.execute(
                "INSERT INTO steps (episode_rowid, seq, at, tool, status, latency_ms, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                libsql::params![
                    rowid,
                    i64::from(s.seq),
                    s.at.timestamp_micros(),
                    s.tool.as_str(),
                    s.result.status().as_str(),
                    25i64,
                    step_record(&c.id, s).unwrap()
                ],
            )
            .await
            .unwrap();
        }
        for tag in ["db", "q2"] {
            conn.execute(
                "INSERT INTO episode_tags (episode_rowid, tag) VALUES (?1, ?2)",
                libsql::params![rowid, tag],
            )
            .await
            .unwrap();
        }
        conn.execute(
            "INSERT INTO episode_fts (rowid, task, steps, outcome, reflection, tags) \
             VALUES (?1, ?2, 'psql work ok\ncargo test work ok', 'migrated', '', 'db q2')",
            libsql::params![rowid, episode.task_description.as_str()],
        )
        .await
        .unwrap();
    }

    /// Whether the schema of the file behind `conn` has an object named `name`.
    async fn has_schema_object(conn: &Connection, name: &str) -> bool {
        let mut rows = conn
            .query("SELECT count(*) FROM sqlite_master WHERE name = ?1", [name])
            .await
            .unwrap();
        rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap() > 0
    }

    /// A new database file `name` in `dir` at schema version 1, as a version 1 build left it,
    /// with `episode` stored; returns its path and an open connection.
    async fn version_1_file(
        dir: &tempfile::TempDir,
        name: &str,
        episode: &memory_core::Episode,
    ) -> (std::path::PathBuf, libsql::Database, Connection) {
        let path = dir.path().join(name);
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 1)
                .await
                .unwrap(),
            1
        );
        assert_eq!(user_version(&conn).await.unwrap(), 1);
        // Only the version 1 tables exist.
        assert!(!has_schema_object(&conn, "patterns").await);
        insert_v1(&conn, episode).await;
        (path, db, conn)
    }

    #[tokio::test]
    async fn a_version_1_file_upgrades_in_place() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v1.db", &episode).await;
        drop((conn, db));

        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(
            storage
                .get_episode("ns", episode.id)
                .await
                .unwrap()
                .as_deref(),
            Some(&episode)
        );
        let mut filter = EpisodeFilter::new("ns");
        filter.tags = vec!["db".into(), "q2".into()];
        assert_eq!(storage.list_episodes(&filter).await.unwrap().len(), 1);
        // The back-fill indexed every field: task, a step's tool, the outcome, a tag.
        for word in ["billing", "psql", "migrated", "q2"] {
            let hits = storage
                .search_text("ns", &[word.to_string()], 10)
                .await
                .unwrap();
            assert_eq!(hits.len(), 1, "{word}");
        }
        assert!(
            storage
                .list_patterns(&PatternFilter::new("ns"))
                .await
                .unwrap()
                .is_empty()
        );

        // The new tables work, and reopening an upgraded file changes nothing.
        let mut fresh = old_episode();
        fresh.ended_at = None;
        fresh.outcome = None;
        storage.store_episode(&fresh).await.unwrap();
        let mut done = fresh.clone();
        done.ended_at = Some(fresh.started_at);
        done.outcome = episode.outcome.clone();
        let completion = memory_core::Completion {
            ended_at: fresh.started_at,
            outcome: episode.outcome.clone().unwrap(),
            reward: memory_core::RewardScore {
                total: 1.0,
                base: 1.0,
                efficiency: 0.5,
                quality: 1.0,
                breakdown: String::new(),
            },
            reflection: memory_core::Reflection {
                successes: vec![],
                improvements: vec![],
                insights: vec![],
            },
            expected_steps: 2,
            steps: None,
            learned: memory_core::learning::mine(&done),
            feedback_session: None,
            half_life_days: 30.0,
        };
        let ids = storage
            .complete_episode("ns", fresh.id, &completion)
            .await
            .unwrap();
        assert!(!ids.is_empty());
        drop(storage);
        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(
            storage
                .list_patterns(&PatternFilter::new("ns"))
                .await
                .unwrap()
                .len(),
            ids.len()
        );
        assert_eq!(storage.row_counts().await.unwrap().episodes, 2);
    }

    #[tokio::test]
    async fn a_version_2_file_upgrades_in_place() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("v2.db");
        let episode = old_episode();
        {
            let db = libsql::Builder::new_local(&path).build().await.unwrap();
            let conn = db.connect().unwrap();
            assert_eq!(
                migrate_to(&conn, &path.display().to_string(), 2)
                    .await
                    .unwrap(),
                2
            );
            for table in ["vector_space", "embedding_cache"] {
                assert!(
                    !has_schema_object(&conn, table).await,
                    "no version 3 tables yet"
                );
            }
            // Version 2 left the episode tables as version 1 made them.
            insert_v1(&conn, &episode).await;
        }

        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(
            storage
                .get_episode("ns", episode.id)
                .await
                .unwrap()
                .as_deref(),
            Some(&episode)
        );
        // The old episode has no vector: it is on the re-embed work list.
        assert_eq!(storage.vector_space().await.unwrap(), None);
        assert_eq!(storage.count_without_vectors().await.unwrap(), 1);
        assert_eq!(
            storage.episodes_without_vectors(None, 10).await.unwrap(),
            vec![episode.clone()]
        );
        storage.ensure_vector_space("axes", 3).await.unwrap();
        storage
            .store_vectors("axes", "ns", &[(episode.id, vec![vec![0.0, 1.0, 0.0]])])
            .await
            .unwrap();
        assert_eq!(storage.count_without_vectors().await.unwrap(), 0);
        let hits = storage
            .vector_search("ns", &[0.0, 1.0, 0.1], 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].summary.id, episode.id);
        storage
            .cache_embeddings("e", &[("h".to_string(), vec![1.0])])
            .await
            .unwrap();
        assert_eq!(
            storage
                .cached_embeddings("e", &["h".to_string()])
                .await
                .unwrap(),
            vec![Some(vec![1.0])]
        );

        // Reopening an upgraded file changes nothing.
        drop(storage);
        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        assert_eq!(
            storage.vector_space().await.unwrap(),
            Some(("axes".to_string(), 3))
        );
        assert_eq!(storage.row_counts().await.unwrap().vectors, 1);
    }

    #[tokio::test]
    async fn a_version_9_file_drops_its_one_vector_per_episode_table() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v9.db", &episode).await;
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 9)
                .await
                .unwrap(),
            9
        );
        // The vector table as versions 3 to 9 made it, with the episode's vector.
        conn.execute_batch(
            "INSERT INTO vector_space (id, embedder, dimension) VALUES (1, 'axes', 3);
             CREATE TABLE episode_vectors (
                 episode_rowid INTEGER PRIMARY KEY REFERENCES episodes (rowid) ON DELETE CASCADE,
                 namespace     TEXT NOT NULL,
                 embedding     F32_BLOB(3) NOT NULL
             );
             CREATE INDEX episode_vectors_idx ON episode_vectors
                 (libsql_vector_idx(embedding, 'metric=cosine'));
             INSERT INTO episode_vectors SELECT rowid, namespace, vector32('[0, 1, 0]') FROM episodes;
             UPDATE episodes SET has_vector = 1;",
        )
        .await
        .unwrap();
        drop((conn, db));

        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        // The old vectors and their space are gone; the episode waits to be embedded again.
        assert_eq!(storage.vector_space().await.unwrap(), None);
        assert_eq!(storage.row_counts().await.unwrap().vectors, 0);
        assert_eq!(storage.count_without_vectors().await.unwrap(), 1);
        // The next embedder declares its space and writes chunk vectors.
        storage.ensure_vector_space("model", 3).await.unwrap();
        storage
            .store_vectors(
                "model",
                "ns",
                &[(episode.id, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0]])],
            )
            .await
            .unwrap();
        let hits = storage
            .vector_search("ns", &[0.0, 0.1, 1.0], 5)
            .await
            .unwrap();
        assert_eq!((hits[0].summary.id, hits[0].chunk), (episode.id, 1));
        assert_eq!(
            storage
                .get_episode("ns", episode.id)
                .await
                .unwrap()
                .as_deref(),
            Some(&episode)
        );
    }

    #[tokio::test]
    async fn a_version_6_file_loses_only_its_unused_indexes() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v6.db", &episode).await;
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 6)
                .await
                .unwrap(),
            6
        );
        assert!(has_schema_object(&conn, "steps_tool").await);
        drop((conn, db));
        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        {
            let conn = storage.conns.reader().await;
            for dropped in [
                "steps_tool",
                "episodes_ns_domain",
                "episodes_ns_language",
                "episodes_ns_task_type",
                "episodes_ns_outcome",
                "episodes_ns_reward",
            ] {
                assert!(!has_schema_object(conn.raw(), dropped).await, "{dropped}");
            }
            for kept in [
                "steps",
                "episodes_ns_started",
                "episodes_ns_ended",
                "episodes_ns_costs",
                "episode_tags_tag",
                // Version 8: the pending-vector work list by namespace.
                "episodes_without_vector_ns",
            ] {
                assert!(has_schema_object(conn.raw(), kept).await, "{kept}");
            }
            let mut rows = conn
                .raw()
                .query(
                    "SELECT sql FROM sqlite_master WHERE name = 'episodes_ns_costs'",
                    (),
                )
                .await
                .unwrap();
            let sql: String = rows.next().await.unwrap().unwrap().get(0).unwrap();
            assert!(sql.ends_with("WHERE ended_at IS NOT NULL"), "{sql}");
        }
        assert_eq!(
            storage
                .get_episode("ns", episode.id)
                .await
                .unwrap()
                .as_deref(),
            Some(&episode)
        );
    }

    #[tokio::test]
    async fn a_version_8_file_gains_an_empty_snapshot_that_its_first_search_fills() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v8.db", &episode).await;
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 8)
                .await
                .unwrap(),
            8
        );
        assert!(!has_schema_object(&conn, "text_snapshot").await);
        drop((conn, db));
        let config = crate::TursoConfig {
            text_snapshot_after: 1,
            ..crate::TursoConfig::default()
        };
        let storage = TursoStorage::open_with(&path, config).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        let count = |table: &'static str| {
            let storage = &storage;
            async move {
                let conn = storage.conns.reader().await;
                let mut rows = conn
                    .raw()
                    .query(&format!("SELECT count(*) FROM {table}"), ())
                    .await
                    .unwrap();
                rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
            }
        };
        assert_eq!(count("text_snapshot").await, 0);
        assert_eq!(count("text_snapshot_terms").await, 0);
        // The first search builds the index from the log (the migrated episode is in it)
        // and writes the snapshot; a fresh handle searches from it.
        let hits = storage
            .search_text("ns", &["billing".to_string()], 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        storage.finish_background_work().await;
        assert_eq!(count("text_snapshot").await, 1);
        assert!(count("text_snapshot_terms").await > 0);
        let reopened = TursoStorage::open(&path).await.unwrap();
        let again = reopened
            .search_text("ns", &["billing".to_string()], 5)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].bm25, hits[0].bm25);
    }

    #[tokio::test]
    async fn a_version_10_file_indexes_its_text_again_by_passage() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v10.db", &episode).await;
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 10)
                .await
                .unwrap(),
            10
        );
        // As a version 10 build left it: a log entry in the one-document format (1, length
        // 1, one term "billing" weighing 8) and a snapshot in the old format.
        let old_entry: Vec<u8> = [&[1u8, 1, 1, 7][..], b"billing", &[8]].concat();
        conn.execute(
            "UPDATE episode_text SET terms = ?1",
            [libsql::Value::Blob(old_entry)],
        )
        .await
        .unwrap();
        conn.execute(
            "INSERT INTO text_snapshot (id, format, seq, terms, postings, docs) \
             VALUES (1, 257, 1, 1, 1, x'01')",
            (),
        )
        .await
        .unwrap();
        conn.execute(
            "INSERT INTO text_snapshot_terms (term, postings) VALUES (x'00', x'00')",
            (),
        )
        .await
        .unwrap();
        let seq_before = {
            let mut rows = conn
                .query("SELECT max(seq) FROM episode_text", ())
                .await
                .unwrap();
            rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap()
        };
        drop((conn, db));

        let storage = TursoStorage::open(&path).await.unwrap();
        assert_eq!(storage.schema_version().await.unwrap(), SCHEMA_VERSION);
        let conn = storage.conns.reader().await;
        let mut rows = conn
            .raw()
            .query(
                "SELECT seq, terms, (SELECT count(*) FROM text_snapshot) \
                 + (SELECT count(*) FROM text_snapshot_terms) FROM episode_text",
                (),
            )
            .await
            .unwrap();
        let row = rows.next().await.unwrap().unwrap();
        // Written again, in this build's format, as a new log entry; the snapshot is gone.
        assert!(row.get::<i64>(0).unwrap() > seq_before);
        let terms = row.get::<Vec<u8>>(1).unwrap();
        assert_eq!(terms[0], crate::text_terms::FORMAT);
        assert_eq!(row.get::<i64>(2).unwrap(), 0);
        drop((rows, conn));
        // Steps' words are searchable again (the old entry held only "billing").
        let hits = storage
            .search_text("ns", &["psql".to_string()], 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
    }

    #[tokio::test]
    async fn a_version_14_file_counts_the_episodes_it_holds() {
        let dir = tempfile::TempDir::new().unwrap();
        let episode = old_episode();
        let (path, db, conn) = version_1_file(&dir, "v14.db", &episode).await;
        // A running episode beside the completed one.
        let mut running = old_episode();
        running.id = Uuid::now_v7();
        running.ended_at = None;
        running.outcome = None;
        insert_v1(&conn, &running).await;
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 14)
                .await
                .unwrap(),
            14
        );
        drop((conn, db));

        let storage = TursoStorage::open(&path).await.unwrap();
        let counts = storage.count_episodes("ns").await.unwrap().unwrap();
        assert_eq!((counts.success, counts.running), (1, 1));
        assert_eq!(
            storage.namespaces().await.unwrap().unwrap(),
            vec![("ns".to_string(), counts)]
        );
        let stats = storage.storage_stats().await.unwrap();
        assert_eq!((stats.episodes, stats.episodes_without_vectors), (2, 1));
    }

    #[tokio::test]
    async fn migrating_to_an_older_target_does_nothing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("m.db");
        let db = libsql::Builder::new_local(&path).build().await.unwrap();
        let conn = db.connect().unwrap();
        assert_eq!(
            migrate(&conn, &path.display().to_string()).await.unwrap(),
            SCHEMA_VERSION
        );
        assert_eq!(
            migrate_to(&conn, &path.display().to_string(), 1)
                .await
                .unwrap(),
            SCHEMA_VERSION
        );
        assert_eq!(
            migrate(&conn, &path.display().to_string()).await.unwrap(),
            SCHEMA_VERSION
        );
    }
}
