//! Lossless export and import as JSON Lines.
//!
//! `memory export` writes one JSON document per line, each `{"type": …, "record": …}`:
//! a `header`, then the namespace's `context_stats` (the baselines lift is measured
//! against), `pattern`s, `heuristic`s, `episode`s with their steps, `checkpoint`s,
//! `relationship`s and retrieval `session`s with their feedback. Every record is the model
//! type's own serde form, so the file is exactly what the store holds.
//!
//! **Lossless**: the order is a function of the data alone (ids and timestamps, never the
//! wall clock or row ids), floats round-trip exactly and timestamps keep their
//! microseconds, so export → import into an empty database → export gives the same bytes.
//!
//! **Heuristics are for readers only.** They are never stored (they are recomputed from the
//! patterns whenever they are read — see ARCHITECTURE.md), so an export carries the
//! heuristic each pattern justifies *as of the newest pattern's `last_seen`* (so that the
//! file does not depend on when it was written), and an import checks that those lines are
//! heuristics and then ignores them: the imported patterns give them back.
//!
//! Vectors are not exported either: they are derived from the text by the embedder, and
//! imported episodes are embedded later (by retrievals, or `memory reembed --missing`).
//!
//! **Import is all or nothing.** [`Importer`] validates every line as it is read (JSON
//! shape, limits, step numbering, duplicate ids, self-links, cycles among the file's
//! edges) and the storage writes every batch in one transaction
//! ([`StorageBackend::store_batches`]); the first bad line — named by its number — or a
//! record that conflicts with what is stored rolls everything back.
//!
//! [`StorageBackend::store_batches`]: crate::StorageBackend::store_batches

use crate::error::{MemoryError, Result, ValidationError};
use crate::graph::{AcyclicGuard, format_path};
use crate::learning::heuristic_for;
use crate::limits::Limits;
use crate::memory::SelfLearningMemory;
use crate::model::{
    Checkpoint, Episode, Heuristic, OutcomeStats, Pattern, Relationship, RelationshipKind,
    RetrievalSession,
};
use crate::storage::{BatchCounts, EpisodePage, ImportBatch, PatternFilter, RelationshipFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// The `format` every export header carries.
pub const EXPORT_FORMAT: &str = "self-learning-memory/jsonl";
/// The version of the line format this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// Episodes read per page while exporting.
const EXPORT_PAGE: usize = 500;
/// Records per batch handed to storage while importing.
const IMPORT_BATCH: usize = 1_000;

/// The baseline statistics of one context of a namespace (the `context_stats` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextStatsRecord {
    /// The namespace.
    pub namespace: String,
    /// The context, as `PatternScope::key()`.
    pub scope_key: String,
    /// Its outcome statistics.
    pub stats: OutcomeStats,
}

/// The first line of an export: what the file is and what it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The line format version, [`EXPORT_VERSION`].
    pub version: u32,
    /// The namespace exported.
    pub namespace: String,
    /// Only episodes started at or after this time were exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_after: Option<DateTime<Utc>>,
    /// Only episodes started before this time were exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_before: Option<DateTime<Utc>>,
    /// The time the exported heuristics were computed at (the newest pattern's `last_seen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heuristics_as_of: Option<DateTime<Utc>>,
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum ExportRecord {
    /// The first line.
    Header(ExportHeader),
    /// A context's baseline statistics.
    ContextStats(ContextStatsRecord),
    /// A learned pattern.
    Pattern(Pattern),
    /// A heuristic, for readers; ignored on import (recomputed from patterns).
    Heuristic(Heuristic),
    /// An episode with its steps.
    Episode(Episode),
    /// A checkpoint of an episode.
    Checkpoint(Checkpoint),
    /// An edge between episodes.
    Relationship(Relationship),
    /// A retrieval session with its feedback.
    Session(RetrievalSession),
}

/// What to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFilter {
    /// The namespace.
    pub namespace: String,
    /// Only episodes (and sessions) started at or after this time.
    pub started_after: Option<DateTime<Utc>>,
    /// Only episodes (and sessions) started before this time.
    pub started_before: Option<DateTime<Utc>>,
}

impl ExportFilter {
    /// Everything in `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        ExportFilter {
            namespace: namespace.into(),
            started_after: None,
            started_before: None,
        }
    }

    fn covers(&self, at: DateTime<Utc>) -> bool {
        self.started_after.is_none_or(|a| at >= a) && self.started_before.is_none_or(|b| at < b)
    }
}

/// What an export wrote or an import stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransferSummary {
    /// Records by kind.
    #[serde(flatten)]
    pub counts: BatchCounts,
    /// Heuristic lines written (export) or read and ignored (import).
    pub heuristics: u64,
    /// Lines written or read.
    pub lines: u64,
}

impl SelfLearningMemory {
    /// Writes the namespace's records as JSON Lines, one `sink` call per line (without the
    /// newline), in the order described in the [module docs](self).
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
        let ns = filter.namespace.as_str();
        let mut summary = TransferSummary::default();
        let mut emit = |record: &ExportRecord, summary: &mut TransferSummary| -> Result<()> {
            let line = serde_json::to_string(record).map_err(MemoryError::storage)?;
            sink(&line).map_err(MemoryError::storage)?;
            summary.lines += 1;
            Ok(())
        };

        let stats = self.storage.list_context_stats(ns).await?;
        let mut patterns = self
            .storage
            .list_patterns(&PatternFilter {
                limit: usize::MAX >> 1,
                ..PatternFilter::new(ns)
            })
            .await?;
        patterns.sort_by_key(|p| p.id);
        let as_of = patterns.iter().map(|p| p.last_seen).max();

        let header = ExportHeader {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            namespace: ns.into(),
            started_after: filter.started_after,
            started_before: filter.started_before,
            heuristics_as_of: as_of,
        };
        emit(&ExportRecord::Header(header), &mut summary)?;
        for s in stats {
            emit(&ExportRecord::ContextStats(s), &mut summary)?;
            summary.counts.context_stats += 1;
        }
        for p in &patterns {
            emit(&ExportRecord::Pattern(p.clone()), &mut summary)?;
            summary.counts.patterns += 1;
        }
        if let Some(as_of) = as_of {
            for h in patterns
                .iter()
                .filter_map(|p| heuristic_for(p, as_of, &self.config.learning))
            {
                emit(&ExportRecord::Heuristic(h), &mut summary)?;
                summary.heuristics += 1;
            }
        }
        drop(patterns);

        let mut exported: HashSet<Uuid> = HashSet::new();
        let mut page = EpisodePage {
            namespace: ns.into(),
            started_after: filter.started_after,
            started_before: filter.started_before,
            after: None,
            limit: EXPORT_PAGE,
        };
        loop {
            let episodes = self.storage.export_episodes(&page).await?;
            let Some(last) = episodes.last() else { break };
            page.after = Some((last.started_at, last.id));
            let full = episodes.len() == EXPORT_PAGE;
            for e in episodes {
                exported.insert(e.id);
                summary.counts.steps += e.steps.len() as u64;
                summary.counts.episodes += 1;
                emit(&ExportRecord::Episode(e), &mut summary)?;
            }
            if !full {
                break;
            }
        }
        for c in self.storage.checkpoints(ns, None).await? {
            if exported.contains(&c.episode_id) {
                emit(&ExportRecord::Checkpoint(c), &mut summary)?;
                summary.counts.checkpoints += 1;
            }
        }
        for r in self
            .storage
            .relationships(&RelationshipFilter::new(ns))
            .await?
        {
            if exported.contains(&r.from) && exported.contains(&r.to) {
                emit(&ExportRecord::Relationship(r), &mut summary)?;
                summary.counts.relationships += 1;
            }
        }
        for s in self.storage.list_sessions(ns).await? {
            if filter.covers(s.created_at) {
                emit(&ExportRecord::Session(s), &mut summary)?;
                summary.counts.sessions += 1;
            }
        }
        Ok(summary)
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
            heuristics: source.importer.heuristics,
            lines: source.importer.lines,
        })
    }
}

/// Turns lines into validated batches for [`crate::StorageBackend::store_batches`].
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
                    return Some(Err(crate::ValidationError::new(
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

/// Validates export lines one at a time and groups them into batches.
///
/// Every error is a [`ValidationError`] whose field is `line N`, so the message names the
/// line. Checkpoints and relationships are held back to the last batch, so that they may
/// refer to episodes anywhere in the file; cycles among the file's own edges are found
/// there, in line order, and reported on the line of the edge that closes them.
#[derive(Debug)]
pub struct Importer {
    limits: Limits,
    header_seen: bool,
    episodes: HashSet<Uuid>,
    patterns: HashSet<Uuid>,
    signatures: HashSet<(String, String)>,
    contexts: HashSet<(String, String)>,
    sessions: HashSet<Uuid>,
    checkpoints: HashSet<Uuid>,
    relationships: HashSet<Uuid>,
    links: HashSet<(String, Uuid, Uuid, RelationshipKind)>,
    held_checkpoints: Vec<(usize, Checkpoint)>,
    held_relationships: Vec<(usize, Relationship)>,
    batch: ImportBatch,
    /// Heuristic lines seen (and ignored).
    pub heuristics: u64,
    /// Non-blank lines read.
    pub lines: u64,
}

impl Importer {
    /// An importer checking records against `limits`.
    pub fn new(limits: Limits) -> Self {
        Importer {
            limits,
            header_seen: false,
            episodes: HashSet::new(),
            patterns: HashSet::new(),
            signatures: HashSet::new(),
            contexts: HashSet::new(),
            sessions: HashSet::new(),
            checkpoints: HashSet::new(),
            relationships: HashSet::new(),
            links: HashSet::new(),
            held_checkpoints: Vec::new(),
            held_relationships: Vec::new(),
            batch: ImportBatch::default(),
            heuristics: 0,
            lines: 0,
        }
    }

    /// Validates line `line_no` (1-based); returns a batch when enough records are ready.
    pub fn push(
        &mut self,
        line_no: usize,
        text: &str,
    ) -> Result<Option<ImportBatch>, ValidationError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        self.lines += 1;
        let at = |problem: String| ValidationError::new(format!("line {line_no}"), problem);
        let record: ExportRecord = serde_json::from_str(text)
            .map_err(|e| at(format!("is not a valid export record: {e}")))?;
        if !self.header_seen {
            let ExportRecord::Header(h) = &record else {
                return Err(at(
                    "must be the export header ({\"type\":\"header\",…}); is this a \
                     `memory export` file?"
                        .into(),
                ));
            };
            if h.format != EXPORT_FORMAT || h.version > EXPORT_VERSION {
                return Err(at(format!(
                    "is a `{}` version {} file; this build reads `{EXPORT_FORMAT}` up to \
                     version {EXPORT_VERSION}",
                    h.format, h.version
                )));
            }
            self.header_seen = true;
            return Ok(None);
        }
        let in_field = |e: ValidationError| at(format!("`{}` {}", e.field, e.problem));
        match record {
            ExportRecord::Header(_) => return Err(at("is a second header".into())),
            ExportRecord::Heuristic(_) => self.heuristics += 1,
            ExportRecord::ContextStats(s) => {
                self.limits
                    .check_namespace(&s.namespace)
                    .map_err(in_field)?;
                check_stats(&s.stats).map_err(in_field)?;
                if s.scope_key.is_empty() {
                    return Err(at("`scope_key` must not be empty".into()));
                }
                if !self
                    .contexts
                    .insert((s.namespace.clone(), s.scope_key.clone()))
                {
                    return Err(at(format!(
                        "repeats the statistics of context `{}`",
                        s.scope_key
                    )));
                }
                self.batch.context_stats.push(s);
            }
            ExportRecord::Pattern(p) => {
                self.limits
                    .check_namespace(&p.namespace)
                    .map_err(in_field)?;
                check_stats(&p.stats).map_err(in_field)?;
                if !p.lift.is_finite() {
                    return Err(at("`lift` must be a finite number".into()));
                }
                if p.signature.is_empty() {
                    return Err(at("`signature` must not be empty".into()));
                }
                if !self.patterns.insert(p.id) {
                    return Err(at(format!("repeats pattern {}", p.id)));
                }
                if !self
                    .signatures
                    .insert((p.namespace.clone(), p.signature.clone()))
                {
                    return Err(at(format!(
                        "repeats the signature {} of another pattern",
                        p.signature
                    )));
                }
                self.batch.patterns.push(p);
            }
            ExportRecord::Episode(e) => {
                self.limits.check_episode(&e).map_err(in_field)?;
                for (i, s) in e.steps.iter().enumerate() {
                    if s.seq as usize != i + 1 {
                        return Err(at(format!(
                            "`steps[{i}].seq` is {}; steps must be numbered 1, 2, 3, … in order",
                            s.seq
                        )));
                    }
                }
                if e.ended_at.is_some() != e.outcome.is_some() {
                    return Err(at(
                        "an episode has both `ended_at` and `outcome`, or neither".into(),
                    ));
                }
                if !self.episodes.insert(e.id) {
                    return Err(at(format!("repeats episode {}", e.id)));
                }
                self.batch.episodes.push(e);
            }
            ExportRecord::Session(s) => {
                self.limits
                    .check_namespace(&s.namespace)
                    .map_err(in_field)?;
                if !self.sessions.insert(s.id) {
                    return Err(at(format!("repeats retrieval session {}", s.id)));
                }
                self.batch.sessions.push(s);
            }
            ExportRecord::Checkpoint(c) => {
                self.limits
                    .check_namespace(&c.namespace)
                    .map_err(in_field)?;
                self.limits.check_note(&c.note).map_err(in_field)?;
                if !self.checkpoints.insert(c.id) {
                    return Err(at(format!("repeats checkpoint {}", c.id)));
                }
                self.held_checkpoints.push((line_no, c));
            }
            ExportRecord::Relationship(r) => {
                self.limits.check_relationship(&r).map_err(in_field)?;
                if !self.relationships.insert(r.id) {
                    return Err(at(format!("repeats relationship {}", r.id)));
                }
                let (a, b) = if r.kind.is_symmetric() && r.to < r.from {
                    (r.to, r.from)
                } else {
                    (r.from, r.to)
                };
                if !self.links.insert((r.namespace.clone(), a, b, r.kind)) {
                    return Err(at(format!(
                        "repeats the `{}` link {} → {}",
                        r.kind, r.from, r.to
                    )));
                }
                self.held_relationships.push((line_no, r));
            }
        }
        if self.batch.len() >= IMPORT_BATCH {
            Ok(Some(std::mem::take(&mut self.batch)))
        } else {
            Ok(None)
        }
    }

    /// The last batch: what is left, plus every checkpoint and relationship, once the file's
    /// edges are checked for cycles.
    pub fn finish(&mut self) -> Result<ImportBatch, ValidationError> {
        if !self.header_seen {
            return Err(ValidationError::new(
                "line 1",
                "the file is empty; an export starts with a header line",
            ));
        }
        let mut guard = AcyclicGuard::default();
        for (line, r) in &self.held_relationships {
            if let Err(cycle) = guard.check_and_add(r) {
                return Err(ValidationError::new(
                    format!("line {line}"),
                    format!(
                        "the `{}` edge {} → {} closes the cycle {}",
                        r.kind,
                        r.from,
                        r.to,
                        format_path(&cycle)
                    ),
                ));
            }
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.checkpoints = self.held_checkpoints.drain(..).map(|(_, c)| c).collect();
        batch.relationships = self.held_relationships.drain(..).map(|(_, r)| r).collect();
        Ok(batch)
    }
}

/// Statistics must be finite to be stored (a NaN would come back as JSON `null`).
fn check_stats(stats: &OutcomeStats) -> Result<(), ValidationError> {
    for (field, v) in [
        ("stats.support", stats.support),
        ("stats.successes", stats.successes),
        ("stats.reward_sum", stats.reward_sum),
    ] {
        if !v.is_finite() {
            return Err(ValidationError::new(field, "must be a finite number"));
        }
    }
    Ok(())
}
