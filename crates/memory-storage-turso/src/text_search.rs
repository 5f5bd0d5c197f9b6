//! Full-text search: BM25 over the in-memory index, kept in step with the text log.
//!
//! Each store handle owns one [`TextIndex`]. Before a search it applies the text log's
//! entries written since it last looked (by this handle or any other process sharing the
//! file; the first search of a handle reads the whole log), then ranks in memory and reads
//! only the best episodes' records. A search therefore always sees every episode committed
//! before it started.

use crate::codec::{self, decode_summary};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::storage::TursoStorage;
use crate::text_index::{TextIndex, TextIndexSize};
use crate::text_log;
use crate::text_terms::{DocTerms, query_stems};
use memory_core::{Result, TextMatch};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

/// How many log entries are read before they are applied to the index.
const LOAD_CHUNK: usize = 4096;

/// A store handle's full-text index and the lock that lets one search at a time catch it up.
#[derive(Debug, Default)]
pub(crate) struct TextSearch {
    index: RwLock<TextIndex>,
    catching_up: tokio::sync::Mutex<()>,
    unreadable: AtomicU64,
}

impl TextSearch {
    fn read(&self) -> RwLockReadGuard<'_, TextIndex> {
        // The index is only changed by `TextIndex::apply`, which does not panic midway;
        // a poisoned lock still guards a usable index.
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies the log entries the index has not seen yet. The lock is taken before a
    /// reader connection, so searches waiting for another's catch-up (a first load takes
    /// most of a second at 100,000 episodes) hold no connection other reads need.
    async fn catch_up(&self, storage: &TursoStorage) -> Result<(), TursoError> {
        let _only_one = self.catching_up.lock().await;
        let conn = storage.conns.reader().await;
        let after = self.read().applied();
        let started = std::time::Instant::now();
        let mut applied = 0usize;
        text_log::read_after(&conn, after, LOAD_CHUNK, |entries| {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            for entry in entries {
                let terms = match entry.terms.as_deref().map(DocTerms::decode) {
                    None => None,
                    Some(Ok(terms)) => Some(terms),
                    Some(Err(detail)) => {
                        // One damaged entry must not stop every search: the episode is
                        // left out (as if removed) until it is indexed again.
                        tracing::warn!(
                            episode_rowid = entry.rowid,
                            seq = entry.seq,
                            detail,
                            "unreadable full-text index entry; that episode is not searchable by text"
                        );
                        self.unreadable.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                };
                index.apply(entry.seq, entry.rowid, &entry.namespace, terms.as_ref());
            }
            applied += entries.len();
        })
        .await?;
        if applied >= LOAD_CHUNK {
            self.index
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .shrink();
            tracing::debug!(entries = applied, elapsed = ?started.elapsed(), "loaded the text index");
        }
        Ok(())
    }

    /// Sizes of the index as of its last search.
    pub(crate) fn size(&self) -> TextIndexSize {
        self.read().size()
    }

    /// Log entries skipped because they could not be read.
    pub(crate) fn unreadable(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }
}

/// The `limit` best full-text matches for `terms` among `namespace`'s completed episodes,
/// best first.
pub(crate) async fn search(
    storage: &TursoStorage,
    namespace: &str,
    terms: &[String],
    limit: usize,
) -> Result<Vec<TextMatch>> {
    let stems = query_stems(terms);
    if limit == 0 || stems.is_empty() {
        return Ok(Vec::new());
    }
    storage.text.catch_up(storage).await?;
    let (hits, applied) = {
        let index = storage.text.read();
        (index.search(namespace, &stems, limit), index.applied())
    };
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let conn = storage.conns.reader().await;
    let mut found = summaries(&conn, namespace, &hits, applied).await?;
    // In score order; an episode deleted since the index was read is left out.
    Ok(hits
        .iter()
        .filter_map(|(rowid, score, coverage)| {
            found.remove(rowid).map(|summary| TextMatch {
                summary,
                bm25: *score,
                coverage: *coverage,
            })
        })
        .collect())
}

/// The summaries of the completed episodes among `hits` in `namespace`, by rowid — only
/// those whose text is still what the index ranked (their log entry at or before `applied`):
/// a rowid freed by a deletion and taken by a new episode since is not that hit.
async fn summaries(
    conn: &Conn,
    namespace: &str,
    hits: &[(i64, f64, f64)],
    applied: i64,
) -> Result<HashMap<i64, memory_core::EpisodeSummary>> {
    const WHAT: &str = "read matched episodes";
    let rowids = serde_json::Value::from(hits.iter().map(|h| h.0).collect::<Vec<i64>>());
    let mut rows = conn
        .query(
            // CROSS JOIN keeps this order: one rowid lookup per hit. Left to itself the
            // planner walks the namespace's index instead, every episode of it.
            "SELECT e.rowid, e.id, e.record, e.step_count \
             FROM json_each(?1) AS hit CROSS JOIN episodes e ON e.rowid = hit.value \
             CROSS JOIN episode_text t ON t.episode_rowid = e.rowid \
             WHERE e.namespace = ?2 AND e.ended_at IS NOT NULL \
             AND t.seq <= ?3 AND t.terms IS NOT NULL",
            libsql::params![rowids.to_string(), namespace, applied],
        )
        .await
        .ctx(WHAT)?;
    let mut out = HashMap::with_capacity(hits.len());
    while let Some(row) = rows.next().await.ctx(WHAT)? {
        let rowid = codec::int(&row, 0, "a matched episode")?;
        let id = codec::text(&row, 1, "a matched episode")?;
        let what = format!("episode {id}");
        let record = codec::text(&row, 2, &what)?;
        let step_count = codec::int(&row, 3, &what)?;
        out.insert(rowid, decode_summary(&id, &record, step_count)?);
    }
    Ok(out)
}
