//! Lossless export and import as JSON Lines.
//!
//! `memory export` writes one JSON document per line, each `{"type": …, "record": …}`:
//! a `header`, then the namespace's `context_stats` (the baselines lift is measured
//! against), `pattern`s, `heuristic`s, `episode`s with their steps, `checkpoint`s,
//! `relationship`s and retrieval `session`s with their feedback, and last a `trailer`.
//! Every record is the model type's own serde form, so the file is exactly what the store
//! holds. Everything is read from one snapshot of the store, page by page: the file is
//! consistent whatever is written meanwhile, and the memory an export needs does not grow
//! with the store.
//!
//! **The trailer proves the file whole.** It counts the records of each type and the lines
//! before it, and carries the SHA-256 of those lines (each followed by a newline — for a
//! file as written, the SHA-256 of its bytes before the trailer line). An import refuses a
//! file whose trailer is missing (a copy cut short, a disk that filled up), does not match,
//! or is followed by more lines, and keeps nothing of it. Files of format version 1 were
//! written before trailers existed: they import as before, and the summary says that their
//! completeness could not be checked.
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
//! ([`TransferStore::store_batches`]); the first bad line — named by its number — or a
//! record that conflicts with what is stored rolls everything back.
//!
//! This module is the format and its checks; `SelfLearningMemory::export` and
//! `SelfLearningMemory::import` (in `memory/transfer.rs`) run them against the store.
//!
//! [`TransferStore::store_batches`]: crate::storage::TransferStore::store_batches

use crate::error::{Result, ValidationError};
use crate::graph::{AcyclicGuard, format_path};
use crate::limits::Limits;
use crate::model::{
    Checkpoint, Episode, Heuristic, OutcomeStats, Pattern, Relationship, RelationshipKind,
    RetrievalSession,
};
use crate::storage::{BatchCounts, ImportBatch};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use uuid::Uuid;

pub use crate::model::ContextStatsRecord;
pub use crate::storage::ExportFilter;

/// The `format` every export header carries.
pub const EXPORT_FORMAT: &str = "self-learning-memory/jsonl";
/// The version of the line format this build writes (it reads every version up to it).
/// Version 3 is version 2 whose trailer counts the heuristic lines (version 2's always said
/// 0): a build that reads only up to 2 then says the file is newer, rather than that it
/// does not match its trailer.
pub const EXPORT_VERSION: u32 = 3;
/// The first version whose files end with a trailer.
const TRAILER_VERSION: u32 = 2;
/// The first version whose trailer counts heuristics.
const COUNTED_HEURISTICS_VERSION: u32 = 3;

/// Records per batch handed to storage while importing.
const IMPORT_BATCH: usize = 1_000;

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
    /// The last line: what the lines before it hold.
    Trailer(ExportTrailer),
}

/// The last line of an export: what the lines before it hold, so that an import can tell
/// a whole file from one cut short or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportTrailer {
    /// Records by type.
    #[serde(flatten)]
    pub counts: BatchCounts,
    /// Heuristic lines.
    pub heuristics: u64,
    /// Lines before this one, the header included.
    pub lines: u64,
    /// The SHA-256, in hex, of the lines before this one, each followed by a newline.
    pub sha256: String,
}

/// What the lines of an export hold so far, as its trailer states it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    counts: BatchCounts,
    /// Heuristic lines.
    pub(crate) heuristics: u64,
    /// Lines, the header included.
    pub(crate) lines: u64,
    digest: Sha256,
}

impl Tally {
    /// Counts `record`, read or written as `line`.
    pub(crate) fn add(&mut self, line: &str, record: &ExportRecord) {
        let counts = &mut self.counts;
        match record {
            ExportRecord::ContextStats(_) => counts.context_stats += 1,
            ExportRecord::Pattern(_) => counts.patterns += 1,
            ExportRecord::Heuristic(_) => self.heuristics += 1,
            ExportRecord::Episode(e) => {
                counts.episodes += 1;
                counts.steps += e.steps.len() as u64;
            }
            ExportRecord::Checkpoint(_) => counts.checkpoints += 1,
            ExportRecord::Relationship(_) => counts.relationships += 1,
            ExportRecord::Session(_) => counts.sessions += 1,
            ExportRecord::Header(_) | ExportRecord::Trailer(_) => {}
        }
        self.lines += 1;
        self.digest.update(line.as_bytes());
        self.digest.update(b"\n");
    }

    /// The trailer that ends the lines counted so far.
    pub(crate) fn trailer(&self) -> ExportTrailer {
        ExportTrailer {
            counts: self.counts,
            heuristics: self.heuristics,
            lines: self.lines,
            sha256: self
                .digest
                .clone()
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }
}

/// The trailer that `lines` — the header and records of an export, without a trailer —
/// should end with. For programs that write an import file themselves (converting another
/// tool's logs, or editing an export): `memory import` refuses a file without it.
pub fn trailer_for<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<ExportTrailer, ValidationError> {
    let mut tally = Tally::default();
    for (i, line) in lines.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: ExportRecord = serde_json::from_str(line).map_err(|e| {
            ValidationError::new(
                format!("line {}", i + 1),
                format!("is not a valid export record: {e}"),
            )
        })?;
        tally.add(line, &record);
    }
    Ok(tally.trailer())
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
    /// Whether the file's trailer was checked: always on export; on import, false only for
    /// a file of format version 1, which has none.
    pub verified: bool,
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
    /// The header's format version (0 before the header is read).
    version: u32,
    /// The line the trailer was read on, once it has been.
    trailer_line: Option<usize>,
    /// The number of the last non-blank line read.
    last_line: usize,
    /// What the lines read so far hold, as the trailer counts it.
    pub(crate) tally: Tally,
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
    /// Whether the file's trailer was read and matched (false for a version 1 file).
    pub verified: bool,
}

impl Importer {
    /// An importer checking records against `limits`.
    pub fn new(limits: Limits) -> Self {
        Importer {
            limits,
            header_seen: false,
            version: 0,
            trailer_line: None,
            last_line: 0,
            tally: Tally::default(),
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
            verified: false,
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
        self.last_line = line_no;
        let at = |problem: String| ValidationError::new(format!("line {line_no}"), problem);
        if let Some(trailer) = self.trailer_line {
            return Err(at(format!(
                "follows the trailer on line {trailer}, which ends an export; was something \
                 appended to the file?"
            )));
        }
        let record: ExportRecord = serde_json::from_str(text)
            .map_err(|e| at(format!("is not a valid export record: {e}")))?;
        if let ExportRecord::Trailer(trailer) = &record
            && self.header_seen
        {
            self.check_trailer(trailer).map_err(at)?;
            self.trailer_line = Some(line_no);
            self.verified = true;
            return Ok(None);
        }
        self.tally.add(text, &record);
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
            self.version = h.version;
            return Ok(None);
        }
        let in_field = |e: ValidationError| at(format!("`{}` {}", e.field, e.problem));
        match record {
            ExportRecord::Header(_) => return Err(at("is a second header".into())),
            // Checked and returned above.
            ExportRecord::Trailer(_) => {}
            ExportRecord::Heuristic(_) => {}
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
        if self.version >= TRAILER_VERSION && self.trailer_line.is_none() {
            return Err(ValidationError::new(
                "trailer",
                format!(
                    "missing after line {}: the file was cut short (an interrupted copy, a \
                     full disk?); nothing was imported",
                    self.last_line
                ),
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

impl Importer {
    /// Checks `trailer` against the lines read before it.
    fn check_trailer(&self, trailer: &ExportTrailer) -> Result<(), String> {
        if self.version < TRAILER_VERSION {
            return Err(format!(
                "is a trailer, which a version {} file cannot have",
                self.version
            ));
        }
        let found = self.tally.trailer();
        let (read, said) = (&found.counts, &trailer.counts);
        let mismatches: Vec<String> = [
            ("lines", found.lines, trailer.lines),
            ("episodes", read.episodes, said.episodes),
            ("steps", read.steps, said.steps),
            ("patterns", read.patterns, said.patterns),
            ("heuristics", found.heuristics, trailer.heuristics),
            ("context baselines", read.context_stats, said.context_stats),
            ("checkpoints", read.checkpoints, said.checkpoints),
            ("relationships", read.relationships, said.relationships),
            ("sessions", read.sessions, said.sessions),
        ]
        .into_iter()
        // Version 2 trailers say 0 heuristics whatever the file holds; their lines are still
        // covered by the checksum below.
        .filter(|(what, found, said)| {
            found != said && !(*what == "heuristics" && self.version < COUNTED_HEURISTICS_VERSION)
        })
        .map(|(what, found, said)| format!("{found} {what} where the trailer says {said}"))
        .collect();
        if !mismatches.is_empty() {
            return Err(format!(
                "is the trailer, and the file does not match it: {}; lines were lost or added \
                 after export",
                mismatches.join(", ")
            ));
        }
        if found.sha256 != trailer.sha256 {
            return Err(format!(
                "is the trailer, and the file's checksum is {} where the trailer says {}; \
                 the file was changed after export",
                found.sha256, trailer.sha256
            ));
        }
        Ok(())
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
