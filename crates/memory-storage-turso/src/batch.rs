//! Batch writes: many episodes, patterns and the rest stored in one transaction with
//! multi-row `INSERT` statements — the path `memory import` takes.
//!
//! One statement inserts up to [`MAX_ROWS`] rows (and never more than [`MAX_PARAMS`] bound
//! values, well under SQLite's limit of 32,766); the statement for a full chunk comes from
//! the connection's statement cache, so it is prepared once and reused. Episodes get
//! explicit rowids (one past the largest, read under the write lock, so no other writer can
//! take them), which lets their steps, tags and text-log rows be inserted in bulk without
//! reading each rowid back, and lets a second thread encode the next chunks of episodes
//! while the writer inserts earlier ones (see [`insert_pipelined`]). Every record is stored
//! exactly as given — the same rows `store_episode`, `complete_episode` and `store_session`
//! would have written, so reads cannot tell the two paths apart.
//!
//! Nothing here checks limits: the caller (the importer, the facade) validated the records;
//! what only the database can know — an id already stored, an edge's ends, a cycle with
//! stored edges — is checked here, and any failure rolls the caller's transaction back.

use crate::codec::{
    EpisodeColumns, PatternColumns, clamp_i64, micros, step_record, tag_set, to_json,
};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::relationships;
use crate::text_log::{self, TextDocument};
use libsql::Value;
use memory_core::{BatchCounts, Episode, ImportBatch, MemoryError, Result};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most bound values in one statement.
const MAX_PARAMS: usize = 16_000;
/// Most rows in one statement.
const MAX_ROWS: usize = 500;

/// Writes `batch` on the caller's write transaction.
pub(crate) async fn write(conn: &Conn, mut batch: ImportBatch) -> Result<BatchCounts> {
    let mut counts = BatchCounts::default();

    if !batch.context_stats.is_empty() {
        let mut rows = Rows::new(3);
        for s in &batch.context_stats {
            let record = to_json(&s.stats, || {
                format!("statistics of context `{}`", s.scope_key)
            })?;
            rows.push([
                Value::from(s.namespace.as_str()),
                Value::from(s.scope_key.as_str()),
                Value::from(record),
            ]);
        }
        rows.insert(
            conn,
            "INSERT INTO context_stats (namespace, scope_key, record)",
            "insert context statistics",
            "the statistics of a context in this batch are already stored",
        )
        .await?;
        counts.context_stats = batch.context_stats.len() as u64;
    }

    if !batch.patterns.is_empty() {
        let mut rows = Rows::new(14);
        for p in &batch.patterns {
            let c = PatternColumns::of(p)?;
            rows.push([
                Value::from(c.id),
                Value::from(p.namespace.as_str()),
                Value::from(p.signature.as_str()),
                Value::from(c.kind),
                Value::from(c.scope_domain),
                Value::from(c.scope_language),
                Value::from(c.scope_framework),
                Value::from(c.scope_task_type),
                Value::from(c.scope_tag),
                Value::from(c.episodes),
                Value::from(c.confidence),
                Value::from(c.lift),
                Value::from(c.last_seen),
                Value::from(c.record),
            ]);
        }
        rows.insert(
            conn,
            "INSERT INTO patterns (id, namespace, signature, kind, scope_domain, scope_language, \
             scope_framework, scope_task_type, scope_tag, episodes, confidence, lift, last_seen, \
             record)",
            "insert patterns",
            "a pattern in this batch (its id, or its namespace and signature) is already stored",
        )
        .await?;
        counts.patterns = batch.patterns.len() as u64;
    }

    if !batch.episodes.is_empty() {
        let episodes = std::mem::take(&mut batch.episodes);
        counts.episodes = episodes.len() as u64;
        let first_rowid = max_rowid(conn).await? + 1;
        counts.steps = insert_episodes(conn, episodes, first_rowid).await?;
    }

    if !batch.sessions.is_empty() {
        let mut rows = Rows::new(4);
        for s in &batch.sessions {
            let id = s.id.to_string();
            let record = to_json(s, || format!("retrieval session {id}"))?;
            rows.push([
                Value::from(id),
                Value::from(s.namespace.as_str()),
                Value::from(micros(s.created_at)),
                Value::from(record),
            ]);
        }
        rows.insert(
            conn,
            "INSERT INTO retrieval_sessions (id, namespace, created_at, record)",
            "insert retrieval sessions",
            "a retrieval session in this batch is already stored",
        )
        .await?;
        counts.sessions = batch.sessions.len() as u64;
    }

    counts.checkpoints = relationships::insert_checkpoints(conn, &batch.checkpoints).await?;
    counts.relationships = relationships::insert(conn, &batch.relationships).await?;
    tracing::debug!(?counts, "stored batch");
    Ok(counts)
}

/// Inserts `episodes` (with their steps, tags and text-log entries) at rowids from
/// `first_rowid` on, and returns how many steps were stored.
///
/// A batch of more than one chunk is encoded on another thread while the writer inserts
/// (see [`insert_pipelined`]); a single chunk, or a caller without a tokio runtime to lend
/// a blocking thread, is encoded here.
async fn insert_episodes(conn: &Conn, episodes: Vec<Episode>, first_rowid: i64) -> Result<u64> {
    if episodes.len() > CHUNK_EPISODES && tokio::runtime::Handle::try_current().is_ok() {
        return insert_pipelined(conn, Arc::new(episodes), first_rowid).await;
    }
    let mut steps = 0;
    for (i, chunk) in episodes.chunks(CHUNK_EPISODES).enumerate() {
        let encoded = EncodedChunk::of(chunk, first_rowid + (i * CHUNK_EPISODES) as i64)?;
        steps += encoded.steps.len() as u64;
        encoded.insert(conn, chunk).await?;
    }
    Ok(steps)
}

/// [`insert_episodes`] with the encoding — JSON records, counted terms, bound values — on a
/// blocking thread, up to [`CHUNKS_AHEAD`] chunks ahead of the inserts, so that on a
/// machine with two cores the two overlap. Chunks arrive in order; the first error (of
/// either side) ends the write, and dropping the receiver stops the encoder.
async fn insert_pipelined(
    conn: &Conn,
    episodes: Arc<Vec<Episode>>,
    first_rowid: i64,
) -> Result<u64> {
    let (sender, mut chunks) = mpsc::channel::<Result<EncodedChunk>>(CHUNKS_AHEAD);
    let source = Arc::clone(&episodes);
    let encoder = tokio::task::spawn_blocking(move || {
        for (i, chunk) in source.chunks(CHUNK_EPISODES).enumerate() {
            let rowid = first_rowid + (i * CHUNK_EPISODES) as i64;
            let encoded = EncodedChunk::of(chunk, rowid);
            let failed = encoded.is_err();
            if sender.blocking_send(encoded).is_err() || failed {
                break;
            }
        }
    });
    let mut steps = 0;
    let mut at = 0;
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        // Only used to name an episode in a conflict; the count is checked below.
        let written = episodes.get(at..at + chunk.episodes).unwrap_or_default();
        at += chunk.episodes;
        steps += chunk.steps.len() as u64;
        chunk.insert(conn, written).await?;
    }
    // The channel closes when the encoder returns; a panic there is an error here.
    encoder
        .await
        .map_err(|e| MemoryError::Storage(Box::new(e)))?;
    if at != episodes.len() {
        return Err(TursoError::corrupt(
            "batch of episodes",
            format!("encoded {at} of {} episodes", episodes.len()),
        )
        .into());
    }
    Ok(steps)
}

/// Episodes per encoded chunk. Small, so that the writer starts soon and a batch of an
/// import (1,000 records) still spans many chunks: the first chunk of every batch is encoded
/// while the writer waits (docs/benchmarks-history.md, "bulk encoding on a second thread",
/// has the `memory import` timings that chose 100 over 500).
const CHUNK_EPISODES: usize = 100;
/// Encoded chunks that may wait for the writer (the encoder works on one more).
const CHUNKS_AHEAD: usize = 2;

/// The rows of a run of consecutive episodes, ready to insert.
struct EncodedChunk {
    episodes: usize,
    rows: Rows,
    steps: Rows,
    tags: Rows,
    text: Rows,
}

impl EncodedChunk {
    /// Encodes `episodes`, the first stored at `first_rowid` and the rest after it.
    fn of(episodes: &[Episode], first_rowid: i64) -> Result<Self> {
        let mut chunk = EncodedChunk {
            episodes: episodes.len(),
            rows: Rows::new(14),
            steps: Rows::new(7),
            tags: Rows::new(2),
            text: Rows::new(3),
        };
        for (rowid, e) in (first_rowid..).zip(episodes) {
            memory_core::limits::check_step_seqs(e)?;
            let c = EpisodeColumns::of(e)?;
            for s in &e.steps {
                let record = step_record(&c.id, s)?;
                chunk.steps.push([
                    Value::from(rowid),
                    Value::from(i64::from(s.seq)),
                    Value::from(micros(s.at)),
                    Value::from(s.tool.as_str()),
                    Value::from(s.result.status().as_str()),
                    Value::from(clamp_i64(s.latency_ms)),
                    Value::from(record),
                ]);
            }
            for tag in tag_set(e) {
                chunk.tags.push([Value::from(rowid), Value::from(tag)]);
            }
            if e.ended_at.is_some() {
                chunk
                    .text
                    .push(TextDocument::new(e, &e.steps).values(rowid));
            }
            chunk.rows.push([
                Value::from(rowid),
                Value::from(c.id),
                Value::from(c.namespace),
                Value::from(c.task_type),
                Value::from(c.domain),
                Value::from(c.language),
                Value::from(c.framework),
                Value::from(c.outcome_kind),
                Value::from(c.reward),
                Value::from(c.started_at),
                Value::from(c.ended_at),
                Value::from(c.step_count),
                Value::from(c.total_latency_ms),
                Value::from(c.record),
            ]);
        }
        Ok(chunk)
    }

    /// Inserts the chunk; `episodes` are the episodes it was encoded from (to name one in
    /// a conflict).
    async fn insert(self, conn: &Conn, episodes: &[Episode]) -> Result<()> {
        let inserted = self
            .rows
            .insert(
                conn,
                "INSERT INTO episodes (rowid, id, namespace, task_type, domain, language, \
                 framework, outcome_kind, reward, started_at, ended_at, step_count, \
                 total_latency_ms, record)",
                "insert episodes",
                "an episode in this batch is already stored",
            )
            .await;
        if let Err(MemoryError::Conflict(message)) = inserted {
            // Name the episode: the constraint message only names the column.
            let ids = episodes.iter().map(|e| e.id.to_string());
            return Err(match first_stored(conn, "episodes", ids).await? {
                Some(id) => MemoryError::Conflict(format!(
                    "episode {id} is already stored; nothing was written"
                )),
                None => MemoryError::Conflict(message),
            });
        }
        inserted?;
        self.steps
            .insert(
                conn,
                "INSERT INTO steps (episode_rowid, seq, at, tool, status, latency_ms, record)",
                "insert steps",
                "a step in this batch is already stored",
            )
            .await?;
        self.tags
            .insert(
                conn,
                "INSERT INTO episode_tags (episode_rowid, tag)",
                "insert tags",
                "a tag in this batch is already stored",
            )
            .await?;
        self.text
            .insert(
                conn,
                text_log::INSERT_COLUMNS,
                "index episode text",
                "an episode in this batch is already indexed",
            )
            .await
    }
}

/// The first of `ids` that `table` (with a unique `id` column) already holds.
async fn first_stored(
    conn: &Conn,
    table: &'static str,
    ids: impl Iterator<Item = String>,
) -> Result<Option<String>, TursoError> {
    let ids: Vec<String> = ids.collect();
    for chunk in ids.chunks(MAX_ROWS) {
        let sql = format!(
            "SELECT id FROM {table} WHERE id IN ({}) LIMIT 1",
            vec!["?"; chunk.len()].join(", ")
        );
        let rows = conn
            .query(&sql, libsql::params_from_iter(chunk.to_vec()))
            .await
            .ctx("find a stored id")?;
        if let Some(row) = rows.one().await.ctx("find a stored id")? {
            return crate::codec::text(&row, 0, "stored id").map(Some);
        }
    }
    Ok(None)
}

/// The largest episode rowid (0 in an empty table).
async fn max_rowid(conn: &Conn) -> Result<i64, TursoError> {
    let rows = conn
        .query("SELECT coalesce(max(rowid), 0) FROM episodes", ())
        .await
        .ctx("read the largest episode rowid")?;
    match rows.one().await.ctx("read the largest episode rowid")? {
        Some(row) => crate::codec::int(&row, 0, "largest episode rowid"),
        None => Ok(0),
    }
}

/// Rows for one table, flattened, inserted in chunks by multi-row statements.
struct Rows {
    cols: usize,
    values: Vec<Value>,
}

impl Rows {
    fn new(cols: usize) -> Self {
        Rows {
            cols,
            values: Vec::new(),
        }
    }

    /// Rows pushed so far.
    fn len(&self) -> usize {
        self.values.len() / self.cols
    }

    fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert_eq!(N, self.cols);
        self.values.extend(row);
    }

    /// Inserts every row with `head VALUES (…), (…), …`.
    async fn insert(
        self,
        conn: &Conn,
        head: &str,
        context: &'static str,
        conflict: &str,
    ) -> Result<()> {
        let rows = self.values.len() / self.cols;
        if rows == 0 {
            return Ok(());
        }
        let per = (MAX_PARAMS / self.cols).clamp(1, MAX_ROWS);
        let mut full: Option<crate::connection::Prepared<'_>> = None;
        let mut values = self.values.into_iter();
        let mut left = rows;
        while left > 0 {
            let n = left.min(per);
            let chunk: Vec<Value> = values.by_ref().take(n * self.cols).collect();
            let result = if n == per {
                if full.is_none() {
                    full = Some(
                        conn.prepare(&sql(head, self.cols, per))
                            .await
                            .ctx(context)?,
                    );
                }
                match &full {
                    Some(stmt) => {
                        stmt.reset();
                        stmt.execute(libsql::params_from_iter(chunk))
                            .await
                            .map(|_| ())
                    }
                    None => Ok(()),
                }
            } else {
                // The odd-sized rest: prepared for this one use, not through the statement
                // cache, which would keep it (and the values last bound to it) for as long
                // as the connection is leased — a whole import.
                conn.execute_once(&sql(head, self.cols, n), libsql::params_from_iter(chunk))
                    .await
                    .map(|_| ())
            };
            result.map_err(|e| crate::error::conflict_or(e, context, || conflict.to_string()))?;
            left -= n;
        }
        Ok(())
    }
}

/// `head VALUES (?, ?), (?, ?)` for `rows` rows of `cols` values.
fn sql(head: &str, cols: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    let mut s = String::with_capacity(head.len() + 8 + rows * (row.len() + 2));
    s.push_str(head);
    s.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&row);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_lists_every_row() {
        assert_eq!(
            super::sql("INSERT INTO t (a, b)", 2, 3),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"
        );
    }
}
