//! Full-text search: BM25 ranking in FTS5, made affordable in large stores.
//!
//! FTS5's `bm25()` scores every row an `OR` query matches, and scoring a row (its phrase
//! instances and its length from the index's size table) costs far more than finding it; a
//! query of ordinary words can match most of a 100,000-document store. So the terms FTS5's
//! BM25 gives no weight anyway (found in at least half of the documents, where FTS5 clamps
//! the inverse document frequency to 1e-6) are left out before anything is ranked (see
//! [`crate::term_stats`]); every other term is scored, so the order is what the whole query
//! would give.
//!
//! The ranking happens inside the index first and only the best rows' records are read: the
//! index knows no namespaces, so it is asked for more than `limit`; when the namespace's share
//! falls short, the exact query (every match, filtered, then sorted) runs instead.

use crate::codec::{self, clamp_i64, decode_summary};
use crate::connection::Conn;
use crate::error::SqlContext;
use crate::fts::{BM25_WEIGHTS, match_expression};
use crate::storage::TursoStorage;
use memory_core::{Result, TextMatch};

/// The `limit` best full-text matches for `terms` among `namespace`'s completed episodes,
/// best first.
pub(crate) async fn search(
    storage: &TursoStorage,
    namespace: &str,
    terms: &[String],
    limit: usize,
) -> Result<Vec<TextMatch>> {
    if limit == 0 || match_expression(terms).is_none() {
        return Ok(Vec::new());
    }
    let conn = storage.conns.reader().await;
    let chosen = storage.term_stats.select(&conn, terms).await?;
    let Some(expr) = match_expression(&chosen) else {
        return Ok(Vec::new());
    };
    let oversample = (limit * 4).max(200);
    let fast = format!(
        "SELECT e.id, e.record, e.step_count, f.score FROM \
         (SELECT rowid, -bm25(episode_fts, {BM25_WEIGHTS}) AS score FROM episode_fts \
          WHERE episode_fts MATCH ?1 ORDER BY score DESC LIMIT ?4) AS f \
         JOIN episodes e ON e.rowid = f.rowid \
         WHERE e.namespace = ?2 AND e.ended_at IS NOT NULL \
         ORDER BY f.score DESC LIMIT ?3"
    );
    let params = libsql::params![
        expr.as_str(),
        namespace,
        clamp_i64(limit as u64),
        clamp_i64(oversample as u64)
    ];
    let mut out = text_matches(&conn, &fast, params).await?;
    if out.len() < limit {
        let exact = format!(
            "SELECT e.id, e.record, e.step_count, \
             -bm25(episode_fts, {BM25_WEIGHTS}) AS score \
             FROM episode_fts JOIN episodes e ON e.rowid = episode_fts.rowid \
             WHERE episode_fts MATCH ?1 AND e.namespace = ?2 AND e.ended_at IS NOT NULL \
             ORDER BY score DESC LIMIT ?3"
        );
        let params = libsql::params![expr.as_str(), namespace, clamp_i64(limit as u64)];
        out = text_matches(&conn, &exact, params).await?;
    }
    Ok(out)
}

/// Runs a full-text search query whose rows are (id, record, step_count, score).
async fn text_matches(
    conn: &Conn,
    sql: &str,
    params: impl libsql::params::IntoParams,
) -> Result<Vec<TextMatch>> {
    let mut rows = conn.query(sql, params).await.ctx("search episode text")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("search episode text")? {
        let id = codec::text(&row, 0, "matched episode")?;
        let what = format!("episode {id}");
        let record = codec::text(&row, 1, &what)?;
        let step_count = codec::int(&row, 2, &what)?;
        let bm25 = codec::real(&row, 3, &what)?;
        out.push(TextMatch {
            summary: decode_summary(&id, &record, step_count)?,
            bm25,
        });
    }
    Ok(out)
}
