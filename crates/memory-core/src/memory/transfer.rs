//! The facade's export and import: a namespace written as JSON Lines from one snapshot of
//! the store, page by page, and read back all or nothing through the batch write API. The
//! format, its trailer and the line-by-line checks are in [`crate::export`].

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result, ValidationError};
use crate::export::{
    EXPORT_FORMAT, EXPORT_VERSION, ExportHeader, ExportRecord, Importer, Tally, TransferSummary,
};
use crate::learning::heuristic_for;
use crate::storage::{ExportFilter, ExportSnapshot, ImportBatch};

/// Episodes read per page while exporting (each with all its steps).
const EXPORT_PAGE: usize = 500;
/// Other records read per page while exporting.
const RECORD_PAGE: usize = 1_000;

impl SelfLearningMemory {
    /// Writes the namespace's records as JSON Lines, one `sink` call per line (without the
    /// newline), in the order described in the [format's docs](crate::export), from one snapshot of
    /// the store and ending with the trailer.
    ///
    /// Relationships and checkpoints are exported only when every episode they touch is;
    /// patterns, context statistics and heuristics are exported whole (they are not tied
    /// to one time range). A `sink` error stops the export and is returned as a storage
    /// error.
    pub async fn export(
        &self,
        filter: &ExportFilter,
        sink: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
    ) -> Result<TransferSummary> {
        self.config.limits.check_namespace(&filter.namespace)?;
        let mut snapshot = self.storage.export_snapshot(filter).await?;
        let mut out = ExportWriter {
            sink,
            tally: Tally::default(),
        };
        let written = self.export_from(&mut *snapshot, filter, &mut out).await;
        let closed = snapshot.close().await;
        written?;
        closed?;
        let trailer = out.tally.trailer();
        out.emit(&ExportRecord::Trailer(trailer.clone()))?;
        Ok(TransferSummary {
            counts: trailer.counts,
            heuristics: trailer.heuristics,
            lines: trailer.lines + 1,
            verified: true,
        })
    }

    /// Every line of the export but the trailer, read through `snapshot`.
    async fn export_from(
        &self,
        snapshot: &mut dyn ExportSnapshot,
        filter: &ExportFilter,
        out: &mut ExportWriter<'_>,
    ) -> Result<()> {
        let as_of = snapshot.newest_pattern().await?.map(|p| p.last_seen);
        out.record(ExportRecord::Header(ExportHeader {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            namespace: filter.namespace.clone(),
            started_after: filter.started_after,
            started_before: filter.started_before,
            heuristics_as_of: as_of,
        }))?;

        pages(
            snapshot,
            RECORD_PAGE,
            |s, after, n| s.context_stats(after, n),
            |c| c.scope_key.clone(),
            |c| out.record(ExportRecord::ContextStats(c)),
        )
        .await?;
        pages(
            snapshot,
            RECORD_PAGE,
            |s, after, n| s.patterns(after, n),
            |p| p.id,
            |p| out.record(ExportRecord::Pattern(p)),
        )
        .await?;
        if let Some(as_of) = as_of {
            // A second pass over the same snapshot: the heuristics the patterns justify.
            let learning = &self.config.learning;
            pages(
                snapshot,
                RECORD_PAGE,
                |s, after, n| s.patterns(after, n),
                |p| p.id,
                |p| match heuristic_for(&p, as_of, learning) {
                    Some(h) => out.record(ExportRecord::Heuristic(h)),
                    None => Ok(()),
                },
            )
            .await?;
        }
        pages(
            snapshot,
            EXPORT_PAGE,
            |s, after, n| s.episodes(after, n),
            |e| (e.started_at, e.id),
            |e| out.record(ExportRecord::Episode(e)),
        )
        .await?;
        pages(
            snapshot,
            RECORD_PAGE,
            |s, after, n| s.checkpoints(after, n),
            |c| (c.at, c.id),
            |c| out.record(ExportRecord::Checkpoint(c)),
        )
        .await?;
        pages(
            snapshot,
            RECORD_PAGE,
            |s, after, n| s.relationships(after, n),
            |r| (r.created_at, r.id),
            |r| out.record(ExportRecord::Relationship(r)),
        )
        .await?;
        pages(
            snapshot,
            RECORD_PAGE,
            |s, after, n| s.sessions(after, n),
            |s| s.id,
            |s| out.record(ExportRecord::Session(s)),
        )
        .await
    }

    /// Imports JSON Lines written by [`SelfLearningMemory::export`], all or nothing: every
    /// line is validated as it is read and everything is stored in one transaction, so a
    /// bad line (the error names it) or a conflict with stored data leaves the store as it
    /// was. Records keep their namespaces, ids and timestamps. Heuristic lines are checked
    /// and ignored (the imported patterns give them back).
    pub async fn import<I>(&self, lines: I) -> Result<TransferSummary>
    where
        I: Iterator<Item = std::io::Result<String>> + Send,
    {
        let mut source = ImportSource {
            lines: lines.enumerate(),
            importer: Importer::new(self.config.limits.clone()),
            done: false,
        };
        let counts = self.storage.store_batches(&mut source).await?;
        if let Some(vectors) = &self.vectors {
            vectors.completed.notify_one();
        }
        Ok(TransferSummary {
            counts,
            heuristics: source.importer.tally.heuristics,
            lines: source.importer.tally.lines + u64::from(source.importer.verified),
            verified: source.importer.verified,
        })
    }
}

/// Where an export's lines go: the caller's sink, with what they hold counted.
struct ExportWriter<'s> {
    sink: &'s mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
    tally: Tally,
}

impl ExportWriter<'_> {
    /// Writes `record`'s line and counts it.
    fn record(&mut self, record: ExportRecord) -> Result<()> {
        let line = self.emit(&record)?;
        self.tally.add(&line, &record);
        Ok(())
    }

    /// Writes `record`'s line.
    fn emit(&mut self, record: &ExportRecord) -> Result<String> {
        let line = serde_json::to_string(record).map_err(MemoryError::storage)?;
        (self.sink)(&line).map_err(MemoryError::storage)?;
        Ok(line)
    }
}

/// One page of an export section, as [`ExportSnapshot`]'s methods return it.
type Page<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<T>>> + Send + 'a>>;

/// Reads one section of an export page by page through `snapshot` — `fetch` asks for the
/// page after a key, `key` gives a record's key — and hands each record to `each`.
async fn pages<T, K>(
    snapshot: &mut dyn ExportSnapshot,
    limit: usize,
    fetch: impl for<'a> Fn(&'a mut dyn ExportSnapshot, Option<K>, usize) -> Page<'a, T>,
    key: impl Fn(&T) -> K,
    mut each: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let mut after = None;
    loop {
        let page = fetch(&mut *snapshot, after, limit).await?;
        let last = page.len() < limit;
        after = page.last().map(&key);
        for record in page {
            each(record)?;
        }
        if last {
            return Ok(());
        }
    }
}

/// Turns lines into validated batches for
/// [`TransferStore::store_batches`](crate::storage::TransferStore::store_batches).
struct ImportSource<I> {
    lines: std::iter::Enumerate<I>,
    importer: Importer,
    done: bool,
}

impl<I: Iterator<Item = std::io::Result<String>>> Iterator for ImportSource<I> {
    type Item = Result<ImportBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.lines.next() {
                Some((i, Ok(text))) => match self.importer.push(i + 1, &text) {
                    Ok(Some(batch)) => return Some(Ok(batch)),
                    Ok(None) => {}
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e.into()));
                    }
                },
                // Bytes that are not UTF-8 are the file's fault, not the store's.
                Some((i, Err(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.done = true;
                    return Some(Err(ValidationError::new(
                        format!("line {}", i + 1),
                        format!("is not valid UTF-8 ({e}); an export is UTF-8 JSON Lines"),
                    )
                    .into()));
                }
                Some((i, Err(e))) => {
                    self.done = true;
                    return Some(Err(MemoryError::storage(std::io::Error::new(
                        e.kind(),
                        format!("reading line {}: {e}", i + 1),
                    ))));
                }
                None => {
                    self.done = true;
                    return Some(self.importer.finish().map_err(Into::into));
                }
            }
        }
    }
}
