//! Full-text search: BM25 over the in-memory index, kept in step with the text log.
//!
//! Each store handle owns one [`TextIndex`]. Before a search it applies the text log's
//! entries written since it last looked (by this handle or any other process sharing the
//! file), then ranks in memory and reads only the best episodes' records. A search therefore
//! always sees every episode committed before it started.
//!
//! A handle's first search starts from the stored snapshot of the index when there is a
//! usable one (see [`crate::text_snapshot`]): it reads the snapshot's documents, then only
//! the posting lists of the terms searched (kept for later searches), and applies the log
//! entries written after the snapshot on top. Without one — none stored, another format, or
//! unreadable (a warning) — it reads the whole log, as a full build. Whenever the stored
//! snapshot changes (another handle or process wrote a newer one), the next search moves to
//! it: the new index is built aside and swapped in whole, so no search sees a half-built
//! one. After answering, a search that finds the index far enough past its snapshot starts
//! writing a new one in the background ([`text_snapshot::due`]).

use crate::codec::{self, decode_summary};
use crate::connection::{Conn, Connections};
use crate::error::{SqlContext, TursoError};
use crate::planned::{Outcome, PlannedStatement};
use crate::text_index::{TextIndex, TextIndexSize};
use crate::text_log::{self, RawEntry};
use crate::text_segment::{PostingList, Segment};
use crate::text_snapshot::{self, Stored};
use crate::text_terms::{EpisodeDocs, query_stems};
use memory_core::{MemoryError, Result, TextMatch};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many log entries are read before they are applied to the index.
const LOAD_CHUNK: usize = 4096;

/// Searches that find their index replaced under them (another process rewrote the
/// snapshot between their reads) before one gives up on the snapshot and builds from the log.
const ATTEMPTS: usize = 3;

/// No snapshot is refused (see [`TextSearch::refuse`]).
const NONE_REFUSED: i64 = i64::MIN;

/// A store handle's full-text index, the lock that lets one search at a time catch it up,
/// and the background writing of its snapshot.
#[derive(Debug)]
pub(crate) struct TextSearch {
    index: RwLock<TextIndex>,
    catching_up: tokio::sync::Mutex<()>,
    unreadable: AtomicU64,
    /// [`crate::TursoConfig::text_snapshot_after`].
    snapshot_after: u64,
    /// The log position of a stored snapshot found unreadable, not to be loaded again.
    refused: AtomicI64,
    /// The snapshot being written in the background, if any.
    writing: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TextSearch {
    /// An empty index that writes a snapshot once `snapshot_after` log entries are past the
    /// stored one (0: never).
    pub(crate) fn new(snapshot_after: u64) -> Self {
        TextSearch {
            index: RwLock::default(),
            catching_up: tokio::sync::Mutex::default(),
            unreadable: AtomicU64::new(0),
            snapshot_after,
            refused: AtomicI64::new(NONE_REFUSED),
            writing: std::sync::Mutex::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, TextIndex> {
        // The index is only changed by `TextIndex::apply`, which does not panic midway, or
        // replaced whole; a poisoned lock still guards a usable index.
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, TextIndex> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves to the stored snapshot if it changed, then applies the log entries the index
    /// has not seen yet. The lock is taken before a reader connection, so searches waiting
    /// for another's catch-up (a full build takes most of a second at 100,000 episodes)
    /// hold no connection other reads need.
    async fn catch_up(&self, conns: &Connections) -> Result<(), TursoError> {
        let _only_one = self.catching_up.lock().await;
        if conns.on_server()
            && conns.replica().is_none()
            && self.caught_up_in_one_request(conns).await?
        {
            return Ok(());
        }
        let conn = conns.reader().await;
        self.follow_snapshot(&conn).await?;
        let after = self.read().applied();
        let applied = text_log::read_after(&conn, after, LOAD_CHUNK, |entries| {
            self.apply(&mut self.write(), entries);
        })
        .await?;
        if applied >= LOAD_CHUNK {
            self.write().shrink();
            tracing::debug!(entries = applied, "loaded the text index from the text log");
        }
        Ok(())
    }

    /// Applies log entries to `index`; an unreadable one removes its episode.
    fn apply(&self, index: &mut TextIndex, entries: &[RawEntry]) {
        for entry in entries {
            let terms = match entry.terms.as_deref().map(EpisodeDocs::decode) {
                None => None,
                Some(Ok(terms)) => Some(terms),
                Some(Err(detail)) => {
                    // One damaged entry must not stop every search: the episode is left out
                    // (as if removed) until it is indexed again.
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
    }

    /// On a server read directly, the usual catch-up of a built index — the stored
    /// snapshot unchanged, a few new log entries — in one request: the snapshot's header and
    /// the log after the index, applied when the header is the index's. `false` when the
    /// index is not built yet or the snapshot changed: the caller catches up the long way.
    async fn caught_up_in_one_request(&self, conns: &Connections) -> Result<bool, TursoError> {
        let (current, after) = {
            let index = self.read();
            (index.segment().map(Segment::seq), index.applied())
        };
        if current.is_none() && after == 0 {
            return Ok(false);
        }
        let read = conns
            .read_planned(
                vec![
                    PlannedStatement::query(text_snapshot::HEADER, Vec::new()),
                    PlannedStatement::query(text_log::AFTER, vec![after.into()]),
                ],
                false,
            )
            .await?;
        let [header, log] = <[Outcome; 2]>::try_from(read)
            .map_err(|_| TursoError::corrupt("the text log", "a read lost a statement's rows"))?;
        let stored = match header.rows.first().map(Vec::as_slice) {
            None => None,
            Some([libsql::Value::Integer(seq), libsql::Value::Integer(format)]) => {
                Some((*seq, *format))
            }
            Some(other) => {
                return Err(TursoError::corrupt(
                    "the text index snapshot",
                    format!("its header is {other:?}"),
                ));
            }
        };
        if self.usable_snapshot(stored) != current {
            return Ok(false);
        }
        let entries = log
            .rows
            .into_iter()
            .map(RawEntry::from_values)
            .collect::<Result<Vec<_>, _>>()?;
        self.apply(&mut self.write(), &entries);
        Ok(true)
    }

    /// The log position of the stored snapshot whose header is `stored`, if this build can
    /// read it and has not found it unreadable.
    fn usable_snapshot(&self, stored: Option<(i64, i64)>) -> Option<i64> {
        let refused = self.refused.load(Ordering::Relaxed);
        stored
            .filter(|&(seq, format)| format == text_snapshot::FORMAT && seq != refused)
            .map(|(seq, _)| seq)
    }

    /// Replaces the index by one built from the stored snapshot (or from the whole log, when
    /// the snapshot the index was built from is no longer usable) if the stored snapshot is
    /// not the one the index starts from. The new index is built and caught up aside, then
    /// swapped in.
    async fn follow_snapshot(&self, conn: &Conn) -> Result<(), TursoError> {
        let refused = self.refused.load(Ordering::Relaxed);
        let stored = self.usable_snapshot(text_snapshot::header(conn).await?);
        let current = self.read().segment().map(Segment::seq);
        if stored == current {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut fresh = TextIndex::default();
        if stored.is_some() {
            match text_snapshot::load(conn).await? {
                Stored::Usable(segment) if segment.seq() != refused => {
                    fresh = TextIndex::from_segment(*segment);
                }
                Stored::Corrupt { seq, detail } => {
                    tracing::warn!(
                        seq,
                        detail,
                        "the stored text index snapshot is unreadable; building the index from the text log"
                    );
                    self.refuse(seq);
                }
                // Replaced or removed since the header was read: the log is the truth.
                _ => {}
            }
        }
        if fresh.segment().is_none() && current.is_none() {
            // Already built from the log; nothing better to move to.
            return Ok(());
        }
        let applied = text_log::read_after(conn, fresh.applied(), LOAD_CHUNK, |entries| {
            self.apply(&mut fresh, entries);
        })
        .await?;
        if applied >= LOAD_CHUNK {
            fresh.shrink();
        }
        tracing::debug!(
            snapshot = ?fresh.segment().map(Segment::seq),
            entries = applied,
            elapsed = ?started.elapsed(),
            "loaded the text index"
        );
        *self.write() = fresh;
        Ok(())
    }

    /// Stops using the stored snapshot covering `seq` (found unreadable): the next catch-up
    /// builds the index from the log, and the next snapshot written replaces it.
    fn refuse(&self, seq: i64) {
        self.refused.store(seq, Ordering::Relaxed);
    }

    /// Reads the posting lists of `stems` the index's segment has not read yet.
    async fn read_terms(&self, conns: &Connections, stems: &[String]) -> Result<(), TursoError> {
        let (seq, slots, unread) = {
            let index = self.read();
            let Some(segment) = index.segment() else {
                return Ok(());
            };
            (segment.seq(), segment.slots(), index.unread_terms(stems))
        };
        if unread.is_empty() {
            return Ok(());
        }
        let read = {
            let conn = conns.reader().await;
            text_snapshot::read_terms(&conn, seq, &unread).await?
        };
        // Replaced since: the next catch-up moves to the new snapshot.
        let Some(read) = read else {
            return Ok(());
        };
        let decoded: Result<Vec<Option<PostingList>>, &'static str> = read
            .iter()
            .map(|bytes| {
                bytes
                    .as_deref()
                    .map(|b| PostingList::decode(b, slots))
                    .transpose()
            })
            .collect();
        match decoded {
            Ok(lists) => {
                let mut index = self.write();
                if let Some(segment) = index.segment_mut().filter(|s| s.seq() == seq) {
                    for (term, list) in unread.iter().zip(lists) {
                        segment.keep(term.as_bytes(), list);
                    }
                }
            }
            Err(detail) => {
                tracing::warn!(
                    seq,
                    detail,
                    "the stored text index snapshot is unreadable; building the index from the text log"
                );
                self.refuse(seq);
            }
        }
        Ok(())
    }

    /// Starts writing a new snapshot in the background if one is due and none is being
    /// written (and there is a runtime to write it on).
    fn start_snapshot(self: &Arc<Self>, conns: &Arc<Connections>) {
        if self.snapshot_after == 0 {
            return;
        }
        let due = {
            let index = self.read();
            text_snapshot::due(
                index.entries_since_snapshot(),
                index.live_docs(),
                self.snapshot_after,
            )
        };
        if !due {
            return;
        }
        let mut writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        if writing.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (text, conns) = (Arc::clone(self), Arc::clone(conns));
        *writing = Some(runtime.spawn(async move {
            if let Err(err) = text.write_snapshot(&conns).await {
                tracing::warn!(error = %err, "could not write the text index snapshot; searches read the text log instead");
            }
        }));
    }

    /// Writes the index as the new stored snapshot: the segment's stored posting lists
    /// merged with what was applied since, encoded off the async threads, then stored in one
    /// transaction.
    async fn write_snapshot(self: &Arc<Self>, conns: &Connections) -> Result<()> {
        let started = std::time::Instant::now();
        let seq = self.read().segment().map(Segment::seq);
        let stored = match seq {
            Some(seq) => {
                let conn = conns.reader().await;
                match text_snapshot::read_all(&conn, seq).await? {
                    Some(rows) => rows,
                    // Replaced since: the next catch-up moves to the new one.
                    None => return Ok(()),
                }
            }
            None => Vec::new(),
        };
        let text = Arc::clone(self);
        let made = tokio::task::spawn_blocking(move || {
            let index = text.read();
            (index.segment().map(Segment::seq) == seq).then(|| index.snapshot(stored))
        })
        .await
        .map_err(MemoryError::storage)?;
        let snapshot = match made {
            None => return Ok(()),
            Some(Ok(snapshot)) => snapshot,
            Some(Err(detail)) => {
                tracing::warn!(
                    seq,
                    detail,
                    "the stored text index snapshot is unreadable; building the index from the text log"
                );
                if let Some(seq) = seq {
                    self.refuse(seq);
                }
                return Ok(());
            }
        };
        let (covers, terms, bytes) = (
            snapshot.seq,
            snapshot.terms.len(),
            snapshot.docs.len()
                + snapshot
                    .terms
                    .iter()
                    .map(|(t, p)| t.len() + p.len())
                    .sum::<usize>(),
        );
        let written = text_snapshot::write(conns, snapshot).await?;
        tracing::debug!(
            seq = covers,
            terms,
            bytes,
            written,
            elapsed = ?started.elapsed(),
            "wrote the text index snapshot"
        );
        Ok(())
    }

    /// Waits for the snapshot being written in the background, if any.
    pub(crate) async fn finish_snapshot(&self) {
        let task = self
            .writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(err) = task.await
        {
            tracing::warn!(error = %err, "the text index snapshot task stopped");
        }
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

/// A store as a full-text search sees it: the handle's index and the store's connections
/// (a [`crate::TursoStorage`] converts into one).
pub(crate) struct SearchedStore<'a> {
    /// The handle's full-text index.
    pub(crate) text: &'a Arc<TextSearch>,
    /// The store's connections.
    pub(crate) conns: &'a Arc<Connections>,
}

/// The `limit` best full-text matches for `terms` among `namespace`'s completed episodes,
/// best first.
pub(crate) async fn search<'a>(
    store: impl Into<SearchedStore<'a>>,
    namespace: &str,
    terms: &[String],
    limit: usize,
) -> Result<Vec<TextMatch>> {
    let stems = query_stems(terms);
    if limit == 0 || stems.is_empty() {
        return Ok(Vec::new());
    }
    let store = store.into();
    let text = store.text;
    let mut attempts = 0;
    let (hits, applied) = loop {
        text.catch_up(store.conns).await?;
        text.read_terms(store.conns, &stems).await?;
        {
            let index = text.read();
            if let Some(hits) = index.search(namespace, &stems, limit) {
                break (hits, index.applied());
            }
            attempts += 1;
            if attempts >= ATTEMPTS
                && let Some(segment) = index.segment()
            {
                // The snapshot keeps being replaced under this search: build from the log.
                text.refuse(segment.seq());
            }
        }
    };
    text.start_snapshot(store.conns);
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let conn = store.conns.reader().await;
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
