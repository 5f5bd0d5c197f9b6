//! Full-text search: BM25 ranking in FTS5, made affordable in large stores.
//!
//! FTS5's `bm25()` scores every row an `OR` query matches, and scoring a row (its phrase
//! instances and its length from the index's size table) costs far more than finding it; a
//! query of ordinary words can match most of a 100,000-document store. Two things keep that
//! in check, neither of which changes which score a document gets:
//!
//! 1. [`crate::term_stats`] leaves out the terms FTS5's BM25 gives no weight anyway (found in
//!    more than half of the documents, where FTS5 clamps the inverse document frequency to
//!    1e-6), or that the configured share marks as too common, before anything is ranked.
//! 2. When the remaining terms still match many rows and a second reader connection is idle,
//!    the ranking is split by rowid into two halves run at the same time on two threads,
//!    each on its own connection, and the two best-first lists are merged. BM25's inverse
//!    document frequencies and average length come from the whole index in both halves, so
//!    every row gets exactly the score the single query would give it.
//!
//! Each half (or the single query) ranks inside the index first and reads only the best
//! rows' records: the index knows no namespaces, so it is asked for more than `limit`; when
//! the namespace's share falls short, the exact query (every match, filtered, then sorted)
//! runs instead.

use crate::codec::{self, clamp_i64, decode_summary};
use crate::connection::Conn;
use crate::error::SqlContext;
use crate::fts::{BM25_WEIGHTS, match_expression};
use crate::storage::TursoStorage;
use memory_core::{Result, TextMatch};

/// Below this many matching rows (the sum of the scored terms' document frequencies) the
/// ranking runs as one query: splitting it would cost more in set-up than it saves.
const SPLIT_ROWS: u64 = 8_000;

/// The `limit` best full-text matches for `terms` among `namespace`'s completed episodes,
/// best first.
pub(crate) async fn search(
    storage: &TursoStorage,
    namespace: &str,
    terms: &[String],
    limit: usize,
) -> Result<Vec<TextMatch>> {
    search_with(storage, namespace, terms, limit, SPLIT_ROWS).await
}

/// [`search`], splitting the ranking when the terms match at least `split_rows` rows.
async fn search_with(
    storage: &TursoStorage,
    namespace: &str,
    terms: &[String],
    limit: usize,
    split_rows: u64,
) -> Result<Vec<TextMatch>> {
    if limit == 0 || match_expression(terms).is_none() {
        return Ok(Vec::new());
    }
    let conn = storage.conns.reader().await;
    let chosen = storage.term_stats.select(&conn, terms).await?;
    let Some(expr) = match_expression(&chosen.terms) else {
        return Ok(Vec::new());
    };
    let oversample = (limit * 4).max(200);

    let halves = if chosen.rows >= split_rows && parallel() {
        match (storage.conns.try_reader().await, rowid_range(&conn).await?) {
            (Some(second), Some((lo, hi))) if hi > lo => Some((second, lo + (hi - lo) / 2)),
            _ => None,
        }
    } else {
        None
    };
    let mut out = match halves {
        Some((second, mid)) => {
            let (ns, ex) = (namespace.to_string(), expr.clone());
            let handle = tokio::runtime::Handle::current();
            // The upper half on a blocking thread with the second connection, the lower
            // half here; both are CPU-bound SQLite work.
            let upper = tokio::task::spawn_blocking(move || {
                handle.block_on(ranked(
                    &second,
                    &ex,
                    &ns,
                    limit,
                    oversample,
                    (mid + 1, i64::MAX),
                ))
            });
            let lower = ranked(&conn, &expr, namespace, limit, oversample, (i64::MIN, mid)).await;
            let upper = upper.await.map_err(memory_core::MemoryError::storage)?;
            merge(lower?, upper?, limit)
        }
        None => {
            ranked(
                &conn,
                &expr,
                namespace,
                limit,
                oversample,
                (i64::MIN, i64::MAX),
            )
            .await?
        }
    };
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

/// Whether this machine can run two rankings at once.
fn parallel() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// The smallest and largest rowid in the full-text index (`None` when it is empty), from
/// the ends of its per-document size table.
async fn rowid_range(conn: &Conn) -> Result<Option<(i64, i64)>> {
    let mut rows = conn
        .query("SELECT min(id), max(id) FROM episode_fts_docsize", ())
        .await
        .ctx("read the indexed rowid range")?;
    let Some(row) = rows.next().await.ctx("read the indexed rowid range")? else {
        return Ok(None);
    };
    match (row.get::<Option<i64>>(0), row.get::<Option<i64>>(1)) {
        (Ok(Some(lo)), Ok(Some(hi))) => Ok(Some((lo, hi))),
        _ => Ok(None),
    }
}

/// The `limit` best matches of `expr` in `namespace` among the indexed rows with rowids in
/// `range` (inclusive), ranked inside the index (the `oversample` best rows of the range)
/// before any record is read.
async fn ranked(
    conn: &Conn,
    expr: &str,
    namespace: &str,
    limit: usize,
    oversample: usize,
    range: (i64, i64),
) -> Result<Vec<TextMatch>> {
    let sql = format!(
        "SELECT e.id, e.record, e.step_count, f.score FROM \
         (SELECT rowid, -bm25(episode_fts, {BM25_WEIGHTS}) AS score FROM episode_fts \
          WHERE episode_fts MATCH ?1 AND rowid BETWEEN ?5 AND ?6 \
          ORDER BY score DESC LIMIT ?4) AS f \
         JOIN episodes e ON e.rowid = f.rowid \
         WHERE e.namespace = ?2 AND e.ended_at IS NOT NULL \
         ORDER BY f.score DESC LIMIT ?3"
    );
    let params = libsql::params![
        expr,
        namespace,
        clamp_i64(limit as u64),
        clamp_i64(oversample as u64),
        range.0,
        range.1
    ];
    text_matches(conn, &sql, params).await
}

/// The `limit` best of two best-first lists, best first (the earlier list first on ties).
fn merge(a: Vec<TextMatch>, b: Vec<TextMatch>, limit: usize) -> Vec<TextMatch> {
    let mut all: Vec<TextMatch> = a.into_iter().chain(b).collect();
    // A stable sort keeps each list's own order among equal scores.
    all.sort_by(|x, y| y.bm25.total_cmp(&x.bm25));
    all.truncate(limit);
    all
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use memory_core::{Episode, StorageBackend, TaskContext, TaskOutcome, TaskType};
    use uuid::Uuid;

    fn episode(i: usize) -> Episode {
        let start =
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(i as i64);
        // Term frequency and length vary, so that scores mostly differ.
        let word = ["needle", "thread", "button"][i % 3];
        let task = format!(
            "{word} {}{}",
            format!("{word} ").repeat(i % 4),
            "pad ".repeat(i % 11)
        );
        Episode {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: task,
            task_type: TaskType::Debugging,
            context: TaskContext::default(),
            started_at: start,
            ended_at: Some(start + Duration::seconds(5)),
            steps: Vec::new(),
            outcome: Some(TaskOutcome::Success {
                verdict: "ok".into(),
                artifacts: vec![],
            }),
            reward: None,
            reflection: None,
            pattern_ids: Vec::new(),
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        }
    }

    #[test]
    fn merge_keeps_the_best_of_both_lists() {
        let m = |bm25: f64| TextMatch {
            summary: episode(0).summary(),
            bm25,
        };
        let merged = merge(vec![m(5.0), m(2.0)], vec![m(4.0), m(3.0), m(1.0)], 3);
        let scores: Vec<f64> = merged.iter().map(|x| x.bm25).collect();
        assert_eq!(scores, [5.0, 4.0, 3.0]);
    }

    #[tokio::test]
    async fn a_split_ranking_returns_what_one_query_returns() {
        let dir = tempfile::tempdir().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        let episodes: Vec<Episode> = (0..300).map(episode).collect();
        storage.store_episodes(&episodes).await.unwrap();
        let terms = vec!["needle".to_string(), "thread".to_string()];
        for limit in [1, 20, 150] {
            let whole = search_with(&storage, "ns", &terms, limit, u64::MAX)
                .await
                .unwrap();
            let split = search_with(&storage, "ns", &terms, limit, 0).await.unwrap();
            assert_eq!(whole.len(), limit);
            let scores = |v: &[TextMatch]| v.iter().map(|m| m.bm25).collect::<Vec<f64>>();
            assert_eq!(scores(&whole), scores(&split), "limit {limit}");
            // Apart from ties at the cut, the same episodes.
            let last = whole.last().unwrap().bm25;
            let above = |v: &[TextMatch]| {
                let mut ids: Vec<Uuid> = v
                    .iter()
                    .filter(|m| m.bm25 > last)
                    .map(|m| m.summary.id)
                    .collect();
                ids.sort();
                ids
            };
            assert_eq!(above(&whole), above(&split));
        }
    }
}
