//! The text log: what the full-text index holds, stored, and when it is written.
//!
//! `episode_text` has one row per episode that was ever indexed: the episode's rowid and
//! namespace, and its documents ([`EpisodeTerms`], encoded), or NULL once the episode was
//! deleted. Every write gives the row a new `seq` (`AUTOINCREMENT`, so numbers are never
//! reused), which makes the table a log the in-memory index catches up on by reading the
//! rows after the last `seq` it applied (see [`crate::text_search`]) — in this process or any
//! other sharing the file.
//!
//! Indexing policy:
//! - `store_episode` indexes a completed episode with everything it has; a running one is
//!   not indexed yet (search only returns completed episodes).
//! - `append_step` does **not** touch the log: logging a step stays one cheap insert.
//! - `complete_episode` indexes the task, every stored step (tool, action and result text),
//!   the outcome, the reflection and the tags.
//! - `delete_episode` writes the episode's row without terms, in the same transaction.
//!
//! Only the terms are stored, not the text a second time: the text is in the episode's
//! record and steps.

use crate::codec::{self, decode_episode, decode_step, tag_set};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::text_terms::{EpisodeCounter, EpisodeTerms, Field};
use libsql::{Connection, Value};
use memory_core::{Episode, ExecutionStep};

/// The text of one episode as the index reads it: the whole and its step passages (see
/// [`crate::text_terms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextDocument {
    namespace: String,
    terms: EpisodeTerms,
}

impl TextDocument {
    /// The document of `episode` with `steps` (passed separately because a completing
    /// episode's steps are loaded from their own rows).
    pub(crate) fn new(episode: &Episode, steps: &[ExecutionStep]) -> Self {
        let mut terms = EpisodeCounter::default();
        terms.add_field(Field::Task, &episode.task_description);
        if let Some(outcome) = &episode.outcome {
            terms.add_field(Field::Outcome, &outcome.full_text());
        }
        if let Some(reflection) = &episode.reflection {
            terms.add_field(Field::Reflection, &reflection.full_text());
        }
        for tag in tag_set(episode) {
            terms.add_field(Field::Tags, tag);
        }
        for step in steps {
            terms.add_step(&[&step.tool, &step.action, step.result.text()]);
        }
        TextDocument {
            namespace: episode.namespace.clone(),
            terms: terms.finish(),
        }
    }

    /// Writes this document as the episode at `rowid`'s entry, replacing any earlier one.
    pub(crate) async fn record(&self, conn: &Conn, rowid: i64) -> Result<(), TursoError> {
        conn.execute(UPSERT, self.values(rowid))
            .await
            .ctx("index episode text")?;
        Ok(())
    }

    /// The row's values in the column order of [`INSERT_COLUMNS`], for multi-row inserts.
    pub(crate) fn values(&self, rowid: i64) -> [Value; 3] {
        [
            Value::from(rowid),
            Value::from(self.namespace.as_str()),
            Value::Blob(self.terms.encode()),
        ]
    }
}

/// The start of an insert of entries (each row: rowid, namespace, terms); an entry replaces
/// the episode's earlier one.
pub(crate) const INSERT_COLUMNS: &str =
    "INSERT OR REPLACE INTO episode_text (episode_rowid, namespace, terms)";

/// Stores an episode's entry (rowid, namespace, terms), replacing its earlier one.
pub(crate) const UPSERT: &str = "INSERT OR REPLACE INTO episode_text (episode_rowid, namespace, terms) \
                      VALUES (?1, ?2, ?3)";

/// Records that the episode at `rowid` is gone, if it was ever indexed: its entry is
/// replaced by one without terms (a new `seq`, so every index sees the removal).
pub(crate) async fn remove(conn: &Conn, rowid: i64) -> Result<(), TursoError> {
    conn.execute(
        "INSERT OR REPLACE INTO episode_text (episode_rowid, namespace, terms) \
         SELECT episode_rowid, namespace, NULL FROM episode_text \
         WHERE episode_rowid = ?1 AND terms IS NOT NULL",
        [rowid],
    )
    .await
    .ctx("remove episode text from the index")?;
    Ok(())
}

/// The log entries after position `?1`, in order.
pub(crate) const AFTER: &str = "SELECT seq, episode_rowid, namespace, terms FROM episode_text \
     WHERE seq > ?1 ORDER BY seq";

/// One entry of the text log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawEntry {
    /// Position in the log.
    pub(crate) seq: i64,
    /// The episode's rowid.
    pub(crate) rowid: i64,
    /// The episode's namespace.
    pub(crate) namespace: String,
    /// The encoded [`EpisodeTerms`]; `None` once the episode is gone.
    pub(crate) terms: Option<Vec<u8>>,
}

impl RawEntry {
    /// The entry in a row of [`AFTER`] read as values (terms stored as anything but a blob
    /// become empty bytes, which do not decode).
    pub(crate) fn from_values(row: Vec<Value>) -> Result<RawEntry, TursoError> {
        let corrupt = |column: usize, expected: &str, found: Option<Value>| {
            TursoError::corrupt(
                "a text log entry",
                format!("column {column} should be {expected} but is {found:?}"),
            )
        };
        let mut row = row.into_iter();
        let mut int = |column: usize| match row.next() {
            Some(Value::Integer(n)) => Ok(n),
            other => Err(corrupt(column, "an integer", other)),
        };
        let (seq, rowid) = (int(0)?, int(1)?);
        let namespace = match row.next() {
            Some(Value::Text(text)) => text,
            other => return Err(corrupt(2, "text", other)),
        };
        let terms = match row.next() {
            Some(Value::Null) | None => None,
            Some(Value::Blob(bytes)) => Some(bytes),
            Some(_) => Some(Vec::new()),
        };
        Ok(RawEntry {
            seq,
            rowid,
            namespace,
            terms,
        })
    }
}

/// The log entries after `after`, in order, handed to `apply` in chunks of at most
/// `chunk` (so that loading a large store never holds all of it in memory at once); returns
/// how many there were. Terms stored as anything but a blob are handed on as empty bytes,
/// which do not decode.
pub(crate) async fn read_after(
    conn: &Conn,
    after: i64,
    chunk: usize,
    mut apply: impl FnMut(&[RawEntry]),
) -> Result<usize, TursoError> {
    const WHAT: &str = "read the text log";
    let mut rows = conn.query(AFTER, [after]).await.ctx(WHAT)?;
    let mut batch = Vec::with_capacity(chunk.min(1024));
    let mut read = 0;
    while let Some(row) = rows.next().await.ctx(WHAT)? {
        read += 1;
        let values = (0..4)
            .map(|column| row.get_value(column))
            .collect::<Result<Vec<_>, _>>()
            .ctx(WHAT)?;
        batch.push(RawEntry::from_values(values)?);
        if batch.len() >= chunk {
            apply(&batch);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        apply(&batch);
    }
    Ok(read)
}

/// Indexes every completed episode of a store written before the text log existed (schema
/// migration 6), inside the migration's transaction, a page of episodes at a time. An
/// episode whose record or steps cannot be decoded is left out of the index with a warning
/// rather than failing the upgrade (reading it fails the same way with or without one).
/// Returns (indexed, left out).
pub(crate) async fn backfill(conn: &Connection) -> Result<(u64, u64), TursoError> {
    const WHAT: &str = "index the text of existing episodes";
    const PAGE: i64 = 1_000;
    let (mut indexed, mut skipped) = (0, 0);
    let mut after = i64::MIN;
    loop {
        let mut rows = conn
            .query(
                "SELECT rowid, id, record FROM episodes \
                 WHERE ended_at IS NOT NULL AND rowid > ?1 ORDER BY rowid LIMIT ?2",
                libsql::params![after, PAGE],
            )
            .await
            .ctx(WHAT)?;
        let mut page = Vec::new();
        while let Some(row) = rows.next().await.ctx(WHAT)? {
            let rowid = codec::int(&row, 0, "an episode")?;
            let id = codec::text(&row, 1, "an episode")?;
            let record = codec::text(&row, 2, &format!("episode {id}"))?;
            page.push((rowid, id, record));
        }
        drop(rows);
        let Some(&(last, _, _)) = page.last() else {
            return Ok((indexed, skipped));
        };
        after = last;
        for (rowid, id, record) in page {
            match document_of(conn, rowid, &id, &record).await {
                Ok(doc) => {
                    conn.execute(UPSERT, doc.values(rowid)).await.ctx(WHAT)?;
                    indexed += 1;
                }
                Err(TursoError::Corrupt { what, detail }) => {
                    tracing::warn!(%what, %detail, "episode left out of the full-text index");
                    skipped += 1;
                }
                Err(other) => return Err(other),
            }
        }
    }
}

/// The document of the stored episode at `rowid` (its record and its step rows).
async fn document_of(
    conn: &Connection,
    rowid: i64,
    id: &str,
    record: &str,
) -> Result<TextDocument, TursoError> {
    let episode = decode_episode(id, record)?;
    let mut steps = Vec::new();
    let mut rows = conn
        .query(
            "SELECT seq, record FROM steps WHERE episode_rowid = ?1 ORDER BY seq",
            [rowid],
        )
        .await
        .ctx("index the text of existing episodes")?;
    while let Some(row) = rows
        .next()
        .await
        .ctx("index the text of existing episodes")?
    {
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 0, &what)?;
        steps.push(decode_step(id, seq, &codec::text(&row, 1, &what)?)?);
    }
    Ok(TextDocument::new(&episode, &steps))
}
