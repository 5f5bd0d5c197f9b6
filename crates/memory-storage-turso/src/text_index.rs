//! The in-memory inverted index that ranks full-text searches with BM25.
//!
//! Why in memory: a search of ordinary words ("the deploy failed after the config change")
//! matches a large share of a big store, and BM25 has to score every matching document.
//! Scoring a posting here is a few arithmetic operations on arrays that fit in the CPU
//! cache, where a SQL full-text engine pays a lookup per matched row; at 100,000 episodes
//! that is the difference between a few milliseconds and tens of them.
//!
//! What it holds: for every term, the documents holding it (their slots) and its weighted frequency
//! in each; for every document, its episode rowid, namespace and length. An episode is one document
//! or, when its steps are long, several in adjacent slots: the whole episode, then the passages of
//! its steps (see [`crate::text_terms`]). It is built from the store's text log (`episode_text`,
//! see [`crate::text_log`]) and kept in step with it by applying the log's new entries, in order,
//! before each search (see [`crate::text_search`]). An entry replaces whatever the index held for
//! its episode; an entry without terms removes the episode. Removed documents leave dead postings
//! behind, skipped when scoring and dropped (the rest renumbered) once they are a quarter of all
//! postings or outnumber the live documents.
//!
//! A fresh process need not build it all: the index can start from a stored snapshot (a
//! [`Segment`], see [`crate::text_segment`]) whose posting lists are read only for the terms
//! searched, with the log entries after it applied here on top — each masks the segment's
//! document of its episode and, if it has terms, indexes the episode here. Statistics (the
//! number of documents, their average length, each term's document frequency) are always
//! those of the live documents of both together, so the ranking is the one a full build
//! gives; [`TextIndex::snapshot`] writes both together back as one new snapshot.
//!
//! Ranking is Okapi BM25 with the parameters and inverse document frequency SQLite's FTS5
//! uses (k1 = 1.2, b = 0.75, `ln((N - df + 0.5) / (df + 0.5))`, at least 1e-6), computed over
//! all indexed episodes of every namespace, as a full-text index would. An episode scores
//! the BM25 of its whole document plus that of its best passage, a short episode (without
//! passages) being its own best passage — twice its whole's, which ranks short episodes among
//! themselves exactly as FTS5 ranks them. N and df count episodes (an episode holding a term
//! in its whole and three passages counts once), and each document's length is set against
//! the average of its kind (wholes against wholes, passages against passages). Terms held
//! by at least half of the
//! episodes have the floor weight (they add under 2.2e-6 to a score), so they are scored only
//! when no other query term is indexed: leaving them out changes no score by more than that,
//! but episodes that match *only* such terms are then not returned at all, where an FTS5 `OR`
//! query would list them last with near-zero scores.

use crate::text_segment::{PostingList, Segment, SegmentDocs, Totals};
use crate::text_terms::{EpisodeDocs, WEIGHT_SCALE};
use foldhash::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;
/// FTS5's floor for the inverse document frequency of very common terms.
const MIN_IDF: f64 = 1e-6;

/// A document's place in the index.
#[derive(Debug, Clone)]
struct Doc {
    rowid: i64,
    namespace: u32,
    length: u32,
    postings: u32,
    live: bool,
    /// Its place among its episode's documents: 0 for the whole, then the passages.
    part: u32,
}

/// The documents holding one term.
#[derive(Debug, Default, Clone)]
struct Postings {
    slots: Vec<u32>,
    /// Weighted frequencies (see [`crate::text_terms::FIELD_WEIGHTS`]), saturated.
    freqs: Vec<u16>,
}

/// The in-memory inverted index (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct TextIndex {
    /// The last log entry applied.
    applied: i64,
    docs: Vec<Doc>,
    /// Each episode's first slot and number of documents.
    slot_of: HashMap<i64, (u32, u32)>,
    namespaces: HashMap<String, u32>,
    terms: HashMap<Box<[u8]>, u32>,
    postings: Vec<Postings>,
    /// Of the live documents.
    totals: Totals,
    total_postings: u64,
    dead_postings: u64,
    dead_docs: u64,
    /// The stored snapshot this index starts from, if any.
    segment: Option<Segment>,
    /// Log entries applied since the snapshot (all of them without one).
    entries_since_snapshot: u64,
}

/// A snapshot of an index, encoded for storage (see [`crate::text_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotData {
    /// The last log entry it covers.
    pub(crate) seq: i64,
    /// The documents ([`SegmentDocs::encode`]).
    pub(crate) docs: Vec<u8>,
    /// Every term with its encoded [`PostingList`], in term order.
    pub(crate) terms: Vec<(Vec<u8>, Vec<u8>)>,
    /// Posting entries in all.
    pub(crate) postings: u64,
}

/// Sizes of the index, for statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextIndexSize {
    /// Documents searchable.
    pub(crate) documents: u64,
    /// Distinct terms ever indexed.
    pub(crate) terms: u64,
    /// Term–document entries, removed documents' included until compaction.
    pub(crate) postings: u64,
    /// Estimated bytes held.
    pub(crate) bytes: u64,
}

impl TextIndex {
    /// An index that starts from `segment`, caught up to the log position it covers.
    pub(crate) fn from_segment(segment: Segment) -> Self {
        TextIndex {
            applied: segment.seq(),
            segment: Some(segment),
            ..TextIndex::default()
        }
    }

    /// The segment the index starts from, if any.
    pub(crate) fn segment(&self) -> Option<&Segment> {
        self.segment.as_ref()
    }

    /// The segment the index starts from, to keep posting lists read for it.
    pub(crate) fn segment_mut(&mut self) -> Option<&mut Segment> {
        self.segment.as_mut()
    }

    /// Log entries applied since the snapshot the index starts from (all entries applied
    /// when it starts from none).
    pub(crate) fn entries_since_snapshot(&self) -> u64 {
        self.entries_since_snapshot
    }

    /// Episodes searchable.
    pub(crate) fn live_docs(&self) -> u64 {
        self.live_totals().episodes
    }

    /// Counts and lengths of the live documents, the segment's and this index's own.
    fn live_totals(&self) -> Totals {
        self.totals.plus(
            self.segment
                .as_ref()
                .map_or(Totals::default(), Segment::live_totals),
        )
    }

    /// The search's terms whose posting lists the segment has not read yet.
    pub(crate) fn unread_terms(&self, stems: &[String]) -> Vec<String> {
        let Some(segment) = &self.segment else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for stem in stems {
            if segment.cached(stem.as_bytes()).is_none() && !out.contains(stem) {
                out.push(stem.clone());
            }
        }
        out
    }

    /// The log position the index has caught up to.
    pub(crate) fn applied(&self) -> i64 {
        self.applied
    }

    /// Sizes of the index.
    pub(crate) fn size(&self) -> TextIndexSize {
        let term_bytes: usize = self.terms.keys().map(|t| t.len()).sum();
        let per_term = size_of::<(Box<[u8]>, u32)>() + size_of::<Postings>() + 8;
        let per_doc = size_of::<Doc>() + size_of::<(i64, (u32, u32))>() / 2 + 4;
        let posting_capacity: usize = self.postings.iter().map(|p| p.slots.capacity()).sum();
        let segment = self.segment.as_ref();
        TextIndexSize {
            documents: self.live_docs(),
            terms: self.terms.len() as u64 + segment.map_or(0, Segment::stored_terms),
            postings: self.total_postings + segment.map_or(0, Segment::stored_postings),
            bytes: (term_bytes
                + self.terms.len() * per_term
                + self.docs.len() * per_doc
                + posting_capacity * (size_of::<u32>() + size_of::<u16>()))
                as u64
                + segment.map_or(0, Segment::bytes),
        }
    }

    /// Applies one log entry: the episode at `rowid` in `namespace` now has the documents
    /// `terms`, or is gone when `None`. Entries must come in log order; one at or before
    /// [`TextIndex::applied`] is skipped, so applying the same read twice is harmless.
    pub(crate) fn apply(
        &mut self,
        seq: i64,
        rowid: i64,
        namespace: &str,
        terms: Option<&EpisodeDocs<'_>>,
    ) {
        if seq <= self.applied {
            return;
        }
        self.applied = seq;
        self.entries_since_snapshot += 1;
        if let Some(segment) = &mut self.segment {
            segment.mask(rowid);
        }
        self.remove(rowid);
        if let Some(terms) = terms {
            self.insert(rowid, namespace, terms);
        }
        if self.dead_postings * 4 > self.total_postings.max(1024)
            || self.dead_docs > self.totals.documents().max(1024)
        {
            self.compact();
        }
    }

    /// Gives back the spare capacity of the posting lists (after a large load).
    pub(crate) fn shrink(&mut self) {
        for list in &mut self.postings {
            list.slots.shrink_to_fit();
            list.freqs.shrink_to_fit();
        }
    }

    fn remove(&mut self, rowid: i64) {
        let Some((first, count)) = self.slot_of.remove(&rowid) else {
            return;
        };
        for slot in first..first + count {
            let Some(doc) = self.docs.get_mut(slot as usize) else {
                return;
            };
            if doc.live {
                doc.live = false;
                self.totals.remove(doc.part == 0, doc.length);
                self.dead_postings += u64::from(doc.postings);
                self.dead_docs += 1;
            }
        }
    }

    fn insert(&mut self, rowid: i64, namespace: &str, episode: &EpisodeDocs<'_>) {
        let Some(first) = u32::try_from(self.docs.len())
            .ok()
            .filter(|first| first.checked_add(episode.docs.len() as u32).is_some())
        else {
            tracing::warn!(rowid, "text index is full; episode not searchable by text");
            return;
        };
        let namespace = match self.namespaces.get(namespace) {
            Some(&id) => id,
            None => {
                let id = self.namespaces.len() as u32;
                self.namespaces.insert(namespace.to_string(), id);
                id
            }
        };
        for (part, doc) in episode.docs.iter().enumerate() {
            let slot = first + part as u32;
            for &(term, freq) in &doc.terms {
                let id = match self.terms.get(term) {
                    Some(&id) => id,
                    None => {
                        let id = self.postings.len() as u32;
                        self.terms.insert(term.into(), id);
                        self.postings.push(Postings::default());
                        id
                    }
                };
                let list = &mut self.postings[id as usize];
                list.slots.push(slot);
                list.freqs.push(u16::try_from(freq).unwrap_or(u16::MAX));
            }
            self.docs.push(Doc {
                rowid,
                namespace,
                length: doc.length,
                postings: doc.terms.len() as u32,
                live: true,
                part: part as u32,
            });
            self.totals.add(part == 0, doc.length);
            self.total_postings += doc.terms.len() as u64;
        }
        self.slot_of
            .insert(rowid, (first, episode.docs.len() as u32));
    }

    /// Drops removed documents and their postings, and renumbers the slots of the rest so
    /// that a long-running process with many replaced or deleted episodes does not grow.
    fn compact(&mut self) {
        let mut renumbered = vec![u32::MAX; self.docs.len()];
        let mut docs = Vec::with_capacity(self.totals.documents() as usize);
        for (old, doc) in self.docs.drain(..).enumerate() {
            if doc.live {
                renumbered[old] = docs.len() as u32;
                docs.push(doc);
            }
        }
        for list in &mut self.postings {
            let mut keep = 0;
            for i in 0..list.slots.len() {
                let slot = renumbered[list.slots[i] as usize];
                if slot != u32::MAX {
                    list.slots[keep] = slot;
                    list.freqs[keep] = list.freqs[i];
                    keep += 1;
                }
            }
            list.slots.truncate(keep);
            list.freqs.truncate(keep);
            list.slots.shrink_to_fit();
            list.freqs.shrink_to_fit();
        }
        self.slot_of = HashMap::default();
        for (slot, doc) in docs.iter().enumerate() {
            self.slot_of
                .entry(doc.rowid)
                .and_modify(|(_, count)| *count += 1)
                .or_insert((slot as u32, 1));
        }
        self.docs = docs;
        self.total_postings -= self.dead_postings;
        self.dead_postings = 0;
        self.dead_docs = 0;
    }

    /// Episodes currently holding the term `list` is for (an episode's documents are
    /// adjacent slots, so adjacent in the list; removed documents' entries stay in the lists
    /// until compaction and are counted out).
    fn document_frequency(&self, list: &Postings) -> u64 {
        let mut count = 0;
        let mut previous = u32::MAX;
        for &slot in &list.slots {
            let doc = &self.docs[slot as usize];
            let first = slot - doc.part;
            if doc.live && first != previous {
                count += 1;
                previous = first;
            }
        }
        count
    }

    /// The `limit` best documents of `namespace` for the index terms `stems`, best first, as
    /// (episode rowid, BM25 score, coverage). Ties keep the older episode first. `None` when
    /// the segment has not read the posting list of one of `stems` yet (see
    /// [`TextIndex::unread_terms`]).
    ///
    /// Coverage is the share of the query's weight the document holds, in `[0, 1]`: each
    /// distinct query term weighs its IDF, a word no document holds weighs as much as the
    /// rarest possible one (a number no document holds, nothing), and terms in half or more
    /// of the documents weigh nothing (unless the query has nothing else). Unlike the BM25
    /// score it does not depend on the other hits, so it says how similar a document is, not
    /// only which is most similar.
    pub(crate) fn search(
        &self,
        namespace: &str,
        stems: &[String],
        limit: usize,
    ) -> Option<Vec<(i64, f64, f64)>> {
        let segment = self.segment.as_ref();
        let ns = self.namespaces.get(namespace).copied();
        let segment_ns = segment.and_then(|s| s.namespace_id(namespace));
        let live_docs = self.live_docs();
        if (ns.is_none() && segment_ns.is_none()) || limit == 0 || live_docs == 0 {
            return Some(Vec::new());
        }
        let totals = self.live_totals();
        let n = totals.episodes as f64;
        let avg_whole = (totals.whole_length as f64 / n).max(f64::MIN_POSITIVE);
        let avg_passage =
            (totals.passage_length as f64 / totals.passages.max(1) as f64).max(f64::MIN_POSITIVE);
        let mut weighted: Vec<(Lists<'_>, f64)> = Vec::new();
        let mut common: Vec<Lists<'_>> = Vec::new();
        // The query's total weight for coverage: unknown terms count as the rarest.
        let rarest = ((n + 0.5) / 0.5).ln();
        let mut query_weight = 0.0;
        let mut seen: Vec<&str> = Vec::with_capacity(stems.len());
        for stem in stems {
            if seen.contains(&stem.as_str()) {
                continue;
            }
            seen.push(stem);
            // An identifier (digits only) nobody mentioned says nothing of the task's kind.
            let unseen = if stem.bytes().any(|b| b.is_ascii_alphabetic()) || !stem.is_ascii() {
                rarest
            } else {
                0.0
            };
            let lists = Lists {
                segment: match segment {
                    Some(s) => s.cached(stem.as_bytes())?,
                    None => None,
                },
                own: self
                    .terms
                    .get(stem.as_bytes())
                    .map(|&id| &self.postings[id as usize]),
            };
            let df = (lists
                .segment
                .zip(segment)
                .map_or(0, |(l, s)| s.document_frequency(l))
                + lists.own.map_or(0, |l| self.document_frequency(l))) as f64;
            if df == 0.0 {
                query_weight += unseen;
                continue;
            }
            let idf = ((n - df + 0.5) / (df + 0.5)).ln();
            if idf > 0.0 {
                weighted.push((lists, idf));
                query_weight += idf;
            } else {
                common.push(lists);
            }
        }
        if weighted.is_empty() {
            weighted = common.into_iter().map(|l| (l, MIN_IDF)).collect();
            query_weight += MIN_IDF * weighted.len() as f64;
        }
        if weighted.is_empty() {
            return Some(Vec::new());
        }

        // Slots of the segment first, then this index's own documents.
        let base = segment.map_or(0, Segment::slots);
        let slots = base + self.docs.len();
        // Per document its score; per episode (at its whole's slot) the query weight it holds.
        let mut scores = vec![0.0f64; slots];
        let mut covered = vec![0.0f64; slots];
        // Passages scored with their episode's slot, when there are any: most stores hold
        // short episodes only.
        let any_passages = totals.passages > 0;
        let mut scored: Vec<(usize, usize)> = Vec::new();
        let mut matched: Vec<usize> = Vec::new();
        let mut add =
            |at: usize, first: usize, new_episode: bool, length: u32, freq: u16, idf: f64| {
                let avg = if at == first { avg_whole } else { avg_passage };
                let f = f64::from(freq) / WEIGHT_SCALE;
                let norm = K1 * (1.0 - B + B * f64::from(length) / avg);
                let score = &mut scores[at];
                if any_passages && at != first && *score == 0.0 {
                    scored.push((at, first));
                }
                *score += idf * f * (K1 + 1.0) / (f + norm);
                if new_episode {
                    if covered[first] == 0.0 {
                        matched.push(first);
                    }
                    covered[first] += idf;
                }
            };
        for (lists, idf) in weighted {
            if let (Some(list), Some(segment), Some(ns)) = (lists.segment, segment, segment_ns) {
                let mut previous = usize::MAX;
                for (&slot, &freq) in list.slots.iter().zip(&list.freqs) {
                    if segment.is_masked(slot) || segment.namespace_of(slot) != ns {
                        continue;
                    }
                    let first = segment.first(slot) as usize;
                    add(
                        slot as usize,
                        first,
                        first != previous,
                        segment.length(slot),
                        freq,
                        idf,
                    );
                    previous = first;
                }
            }
            if let (Some(list), Some(ns)) = (lists.own, ns) {
                let mut previous = usize::MAX;
                for (&slot, &freq) in list.slots.iter().zip(&list.freqs) {
                    let doc = &self.docs[slot as usize];
                    if !doc.live || doc.namespace != ns {
                        continue;
                    }
                    let at = base + slot as usize;
                    let first = at - doc.part as usize;
                    add(at, first, first != previous, doc.length, freq, idf);
                    previous = first;
                }
            }
        }
        // An episode scores its whole document plus its best passage.
        let has_passages = |first: usize| match first.checked_sub(base) {
            Some(own) => self.docs.get(own + 1).is_some_and(|d| d.part == 1),
            None => segment
                .is_some_and(|s| first + 1 < base && s.first(first as u32 + 1) as usize == first),
        };
        let mut best_passage = vec![0.0f64; if any_passages { slots } else { 0 }];
        for (at, first) in scored {
            if scores[at] > best_passage[first] {
                best_passage[first] = scores[at];
            }
        }
        let mut hits: Vec<(i64, f64, f64)> = matched
            .into_iter()
            .map(|first| {
                let coverage =
                    (covered[first] / query_weight.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
                let rowid = match first.checked_sub(base) {
                    Some(own) => self.docs[own].rowid,
                    None => segment.map_or(0, |s| s.rowid(first as u32)),
                };
                // A short episode (no passages) is its own best passage.
                let whole = scores[first];
                let best = if any_passages && has_passages(first) {
                    best_passage[first]
                } else {
                    whole
                };
                (rowid, whole + best, coverage)
            })
            .collect();
        let order =
            |a: &(i64, f64, f64), b: &(i64, f64, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit - 1, order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(order);
        Some(hits)
    }

    /// The index as one new snapshot: the live documents of the segment and of this index,
    /// in rowid order, and every term's postings among them. `stored` must be the segment's
    /// every term and encoded posting list, in term order (nothing without a segment); the
    /// error says what was wrong with them.
    pub(crate) fn snapshot(
        &self,
        stored: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Result<SnapshotData, &'static str> {
        let segment = self.segment.as_ref();
        // Every live episode with where its documents are (first slot and count), in rowid
        // order.
        let mut live: Vec<(i64, Source, u32)> = Vec::with_capacity(self.live_docs() as usize);
        if let Some(segment) = segment {
            let slots = segment.slots() as u32;
            let mut slot = 0;
            while slot < slots {
                let mut count = 1;
                while slot + count < slots && segment.first(slot + count) == slot {
                    count += 1;
                }
                if !segment.is_masked(slot) {
                    live.push((segment.rowid(slot), Source::Segment(slot), count));
                }
                slot += count;
            }
        }
        for (&rowid, &(first, count)) in &self.slot_of {
            live.push((rowid, Source::Own(first), count));
        }
        live.sort_unstable_by_key(|d| d.0);
        if live.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err("an episode is live twice");
        }
        let own_names: Vec<&str> = {
            let mut names = vec![""; self.namespaces.len()];
            for (name, &id) in &self.namespaces {
                names[id as usize] = name;
            }
            names
        };
        let mut docs = SegmentDocs::default();
        let mut segment_slot = vec![u32::MAX; segment.map_or(0, Segment::slots)];
        let mut own_slot = vec![u32::MAX; self.docs.len()];
        for &(rowid, source, count) in &live {
            for part in 0..count {
                let new = docs.rowids.len() as u32;
                let (name, length) = match source {
                    Source::Segment(first) => {
                        let slot = first + part;
                        segment_slot[slot as usize] = new;
                        let segment = segment.ok_or("no segment")?;
                        (
                            segment.namespace_name(segment.namespace_of(slot)),
                            segment.length(slot),
                        )
                    }
                    Source::Own(first) => {
                        let slot = first + part;
                        own_slot[slot as usize] = new;
                        let doc = self.docs.get(slot as usize).ok_or("no document")?;
                        (own_names[doc.namespace as usize], doc.length)
                    }
                };
                let id = match docs.namespaces.iter().position(|n| n == name) {
                    Some(id) => id,
                    None => {
                        docs.namespaces.push(name.to_string());
                        docs.namespaces.len() - 1
                    }
                };
                docs.rowids.push(rowid);
                docs.namespace_of.push(id as u32);
                docs.lengths.push(length);
            }
        }

        let mut own_terms: Vec<(&[u8], u32)> =
            self.terms.iter().map(|(t, &id)| (&t[..], id)).collect();
        own_terms.sort_unstable();
        let mut own_terms = own_terms.into_iter().peekable();
        let mut stored = stored.into_iter().peekable();
        let mut out = SnapshotData {
            seq: self.applied,
            docs: docs.encode(),
            terms: Vec::new(),
            postings: 0,
        };
        let mut previous: Option<Vec<u8>> = None;
        let slots = segment.map_or(0, Segment::slots);
        loop {
            let from_stored = match (stored.peek(), own_terms.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((s, _)), Some((o, _))) => s.as_slice() <= *o,
            };
            let mut entries: Vec<(u32, u16)> = Vec::new();
            let term: Vec<u8> = if from_stored {
                let Some((term, bytes)) = stored.next() else {
                    break;
                };
                if previous.as_deref().is_some_and(|p| p >= term.as_slice()) {
                    return Err("the stored terms are not in order");
                }
                let list = PostingList::decode(&bytes, slots)?;
                for (&slot, &freq) in list.slots.iter().zip(&list.freqs) {
                    let new = segment_slot[slot as usize];
                    if new != u32::MAX {
                        entries.push((new, freq));
                    }
                }
                if own_terms.peek().is_some_and(|(o, _)| *o == term.as_slice()) {
                    let (_, id) = own_terms.next().ok_or("no term")?;
                    self.own_entries(id, &own_slot, &mut entries);
                }
                term
            } else {
                let (term, id) = own_terms.next().ok_or("no term")?;
                self.own_entries(id, &own_slot, &mut entries);
                term.to_vec()
            };
            previous = Some(term.clone());
            if entries.is_empty() {
                continue;
            }
            entries.sort_unstable_by_key(|e| e.0);
            out.postings += entries.len() as u64;
            let list = PostingList {
                slots: entries.iter().map(|e| e.0).collect(),
                freqs: entries.iter().map(|e| e.1).collect(),
            };
            out.terms.push((term, list.encode()));
        }
        Ok(out)
    }

    /// Adds the live postings of this index's own term `id`, renumbered by `own_slot`.
    fn own_entries(&self, id: u32, own_slot: &[u32], entries: &mut Vec<(u32, u16)>) {
        let list = &self.postings[id as usize];
        for (&slot, &freq) in list.slots.iter().zip(&list.freqs) {
            let new = own_slot[slot as usize];
            if new != u32::MAX {
                entries.push((new, freq));
            }
        }
    }
}

/// Where a live episode's documents are held when a snapshot is made (its first slot).
#[derive(Debug, Clone, Copy)]
enum Source {
    Segment(u32),
    Own(u32),
}

/// One search term's posting lists: in the segment and in this index.
#[derive(Debug, Clone, Copy)]
struct Lists<'a> {
    segment: Option<&'a PostingList>,
    own: Option<&'a Postings>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    use crate::text_terms::{EpisodeTerms, TermVector};

    /// An episode written as `task | step | step …`: each step is repeated to more than
    /// [`crate::text_terms::LONG_STEPS_WORDS`] words, so that the steps are passages.
    fn episode(text: &str) -> EpisodeTerms {
        let mut parts = text.split('|').map(str::trim);
        let task = parts.next().unwrap_or("");
        let steps: Vec<String> = parts
            .map(|step| {
                let words = step.split_whitespace().count().max(1);
                let times = crate::text_terms::LONG_STEPS_WORDS as usize / words + 1;
                vec![step; times].join(" ")
            })
            .collect();
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        EpisodeTerms::of([task, "", "", ""], &steps)
    }

    /// Applies each (seq, rowid, namespace, episode text or removal) in turn.
    fn apply(index: &mut TextIndex, entries: &[(i64, i64, &str, Option<&str>)]) {
        for (seq, rowid, ns, text) in entries {
            let terms = text.map(episode);
            index.apply(*seq, *rowid, ns, terms.as_ref().map(|t| t.view()).as_ref());
        }
    }

    /// A search of an index whose segment has read every term searched (or has none).
    fn loaded(index: &TextIndex, ns: &str, stems: &[String], limit: usize) -> Vec<(i64, f64, f64)> {
        index.search(ns, stems, limit).unwrap()
    }

    fn stems(q: &str) -> Vec<String> {
        crate::text_terms::query_stems(&[q.to_string()])
    }

    /// BM25 computed the long way, over the given live episodes: each scores its whole plus
    /// its best passage (its whole again when it has none), counting episodes for N and df.
    fn reference(docs: &[(i64, &str, &str)], ns: &str, q: &str) -> Vec<(i64, f64)> {
        let episodes: Vec<(i64, &str, EpisodeTerms)> =
            docs.iter().map(|(r, n, t)| (*r, *n, episode(t))).collect();
        let n = episodes.len() as f64;
        let avg_whole = episodes
            .iter()
            .map(|e| f64::from(e.2.whole.length))
            .sum::<f64>()
            / n;
        let passages: Vec<&TermVector> = episodes.iter().flat_map(|e| &e.2.passages).collect();
        let avg_passage = passages.iter().map(|p| f64::from(p.length)).sum::<f64>()
            / passages.len().max(1) as f64;
        let q = stems(q);
        let holds = |v: &TermVector, s: &str| v.terms.iter().any(|(t, _)| t == s);
        // Passages hold only words of the whole.
        let dfs: Vec<f64> = q
            .iter()
            .map(|s| episodes.iter().filter(|e| holds(&e.2.whole, s)).count() as f64)
            .collect();
        let idf = |df: f64| ((n - df + 0.5) / (df + 0.5)).ln();
        let any_weighted = dfs.iter().any(|&df| df > 0.0 && idf(df) > 0.0);
        let weight = |df: f64| {
            if idf(df) > 0.0 {
                Some(idf(df))
            } else if any_weighted {
                None
            } else {
                Some(MIN_IDF)
            }
        };
        // The score of one document, if it holds a scored term.
        let score = |v: &TermVector, avg: f64| {
            let mut score = None;
            for (s, &df) in q.iter().zip(&dfs) {
                let (Some((_, freq)), Some(w)) = (v.terms.iter().find(|(t, _)| t == s), weight(df))
                else {
                    continue;
                };
                let f = f64::from(*freq) / WEIGHT_SCALE;
                *score.get_or_insert(0.0) +=
                    w * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * f64::from(v.length) / avg));
            }
            score
        };
        let mut out = Vec::new();
        for (rowid, namespace, e) in &episodes {
            if *namespace != ns {
                continue;
            }
            let Some(whole) = score(&e.whole, avg_whole) else {
                continue;
            };
            let best = if e.passages.is_empty() {
                whole
            } else {
                e.passages
                    .iter()
                    .filter_map(|p| score(p, avg_passage))
                    .fold(0.0, f64::max)
            };
            out.push((*rowid, whole + best));
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    #[test]
    fn a_long_episode_scores_its_whole_and_its_best_passage() {
        // The question's words meet in one step of episode 1; episode 2 has them all, as
        // often, but in different steps; the rest are other work.
        let mut docs = vec![
            (
                1,
                "a",
                "nightly sweep | disk full on db1 | cache ok on web2",
            ),
            (
                2,
                "a",
                "nightly sweep | disk ok on web2 | cache full on db1",
            ),
            (3, "a", "nightly sweep | gc pause | queue drained"),
        ];
        let others = [
            "write the docs",
            "plan the sprint",
            "book a room",
            "review a pull request",
            "rotate the keys",
            "triage the inbox",
        ];
        docs.extend(
            others
                .iter()
                .enumerate()
                .map(|(i, t)| (10 + i as i64, "a", *t)),
        );
        let mut index = TextIndex::default();
        for (seq, &(rowid, ns, text)) in docs.iter().enumerate() {
            apply(&mut index, &[(seq as i64 + 1, rowid, ns, Some(text))]);
        }
        let hits = loaded(&index, "a", &stems("disk full db1"), 10);
        assert_eq!(
            hits.iter().map(|h| h.0).collect::<Vec<_>>(),
            [1, 2],
            "{hits:?}"
        );
        assert!(hits[0].1 > hits[1].1 * 1.1, "{hits:?}");
        // Both hold every word of the question.
        assert!(hits.iter().all(|h| (h.2 - 1.0).abs() < 1e-9), "{hits:?}");
        let want = reference(&docs, "a", "disk full db1");
        assert_eq!(hits.len(), want.len());
        for (g, w) in hits.iter().zip(&want) {
            assert_eq!(g.0, w.0);
            assert!((g.1 - w.1).abs() < 1e-9, "{} vs {}", g.1, w.1);
        }
        // Episodes, not documents, are counted.
        assert_eq!(index.size().documents, 9);
    }

    #[test]
    fn ranks_by_bm25_within_the_namespace() {
        let mut index = TextIndex::default();
        apply(
            &mut index,
            &[
                (1, 10, "a", Some("deploy the service to kubernetes")),
                (2, 11, "a", Some("deploy deploy deploy")),
                (3, 12, "b", Some("deploy to kubernetes")),
                (4, 13, "a", Some("write the docs")),
            ],
        );
        let hits = loaded(&index, "a", &stems("kubernetes deploy"), 10);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [10, 11]);
        assert!(loaded(&index, "c", &stems("deploy"), 10).is_empty());
        assert!(loaded(&index, "a", &stems("missing"), 10).is_empty());
    }

    #[test]
    fn later_entries_replace_and_remove_documents() {
        let mut index = TextIndex::default();
        apply(
            &mut index,
            &[(1, 10, "a", Some("alpha")), (2, 11, "a", Some("beta"))],
        );
        apply(
            &mut index,
            &[(3, 10, "a", Some("gamma")), (4, 11, "a", None)],
        );
        assert!(loaded(&index, "a", &stems("alpha"), 5).is_empty());
        assert!(loaded(&index, "a", &stems("beta"), 5).is_empty());
        assert_eq!(loaded(&index, "a", &stems("gamma"), 5).len(), 1);
        assert_eq!(index.size().documents, 1);
        // Entries already applied are skipped.
        apply(&mut index, &[(2, 11, "a", Some("beta"))]);
        assert!(loaded(&index, "a", &stems("beta"), 5).is_empty());
        assert_eq!(index.applied(), 4);
    }

    #[test]
    fn coverage_is_the_share_of_the_query_weight_a_document_holds() {
        let mut index = TextIndex::default();
        apply(
            &mut index,
            &[
                (1, 1, "a", Some("refund a duplicate charge")),
                (2, 2, "a", Some("refund request for a broken chair")),
                (3, 3, "a", Some("roster the night shift")),
                (4, 4, "a", Some("plan the night shift")),
                (5, 5, "a", Some("book a meeting room")),
                (6, 6, "a", Some("order office chairs")),
            ],
        );
        let hits = loaded(&index, "a", &stems("refund duplicate charge"), 5);
        let coverage = |rowid: i64| hits.iter().find(|h| h.0 == rowid).map(|h| h.2);
        assert!((coverage(1).unwrap() - 1.0).abs() < 1e-9, "{hits:?}");
        let partial = coverage(2).unwrap();
        assert!(partial > 0.0 && partial < 0.5, "{hits:?}");
        // A word no document holds still counts in the query's weight.
        let hits = loaded(&index, "a", &stems("refund unseenword"), 5);
        assert!(hits.iter().all(|h| h.2 < 0.5), "{hits:?}");
    }

    #[test]
    fn a_query_of_only_common_terms_still_finds_documents() {
        let mut index = TextIndex::default();
        apply(
            &mut index,
            &[(1, 1, "a", Some("run tests")), (2, 2, "a", Some("run it"))],
        );
        let hits = loaded(&index, "a", &stems("run"), 5);
        assert_eq!(hits.len(), 2);
        assert!(hits[0].1 > 0.0);
    }

    #[test]
    fn compaction_drops_removed_documents_and_keeps_the_ranking() {
        let mut index = TextIndex::default();
        let mut live = std::collections::BTreeMap::new();
        let words = ["alpha", "beta", "gamma", "delta", "kafka", "lag", "host"];
        for seq in 1..=3_000i64 {
            let rowid = seq % 13;
            let text = if seq % 5 == 0 {
                None
            } else {
                let n = (seq % 6 + 1) as usize;
                Some(
                    (0..n)
                        .map(|i| words[(seq as usize + i * 3) % words.len()])
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            };
            apply(&mut index, &[(seq, rowid, "a", text.as_deref())]);
            match text {
                Some(t) => live.insert(rowid, t),
                None => live.remove(&rowid),
            };
        }
        // Thousands of replacements, yet only about the live documents are kept.
        assert!(
            index.docs.len() <= live.len() + 1_100,
            "{} slots",
            index.docs.len()
        );
        assert_eq!(index.size().documents, live.len() as u64);
        let docs: Vec<(i64, &str, &str)> =
            live.iter().map(|(r, t)| (*r, "a", t.as_str())).collect();
        for q in ["kafka lag", "alpha", "host gamma delta"] {
            let got = loaded(&index, "a", &stems(q), 20);
            let want = reference(&docs, "a", q);
            assert_eq!(got.len(), want.len().min(20), "{q}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "{q}");
                assert!((g.1 - w.1).abs() < 1e-9, "{q}: {} vs {}", g.1, w.1);
            }
        }
    }

    /// Short episodes rank as SQLite FTS5's `bm25()` ranks them with the same column weights,
    /// and score twice its score (their whole is their best passage), on words both
    /// tokenizers leave as they are (FTS5 here without stemming: the stemmers differ).
    #[tokio::test]
    async fn scores_equal_fts5_bm25() {
        let db = libsql::Builder::new_local(":memory:")
            .build()
            .await
            .unwrap();
        let conn = db.connect().unwrap();
        conn.execute(
            "CREATE VIRTUAL TABLE f USING fts5(task, outcome, reflection, tags, \
             tokenize = 'unicode61')",
            (),
        )
        .await
        .unwrap();
        let docs: [[&str; 4]; 7] = [
            ["kafka lag on the consumer", "fixed", "restart pod", "queue"],
            ["disk full on host", "fixed", "check disk first", "ops"],
            ["red green blue", "", "", ""],
            ["kafka kafka kafka", "", "lag", "kafka"],
            ["host lag after deploy", "partial", "lag was the host", ""],
            ["write the docs", "done", "", "docs"],
            ["pod crash loop", "fixed", "", "kafka"],
        ];
        let mut index = TextIndex::default();
        for (i, fields) in docs.iter().enumerate() {
            let rowid = i as i64 + 1;
            conn.execute(
                "INSERT INTO f (rowid, task, outcome, reflection, tags) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                libsql::params![rowid, fields[0], fields[1], fields[2], fields[3]],
            )
            .await
            .unwrap();
            let terms = EpisodeTerms::of(*fields, &[]);
            index.apply(rowid, rowid, "a", Some(&terms.view()));
        }
        for q in ["kafka", "kafka lag", "disk host", "lag pod docs", "green"] {
            let expr = q.split(' ').collect::<Vec<_>>().join(" OR ");
            let mut rows = conn
                .query(
                    "SELECT rowid, -bm25(f, 4.0, 2.0, 1.5, 2.0) FROM f \
                     WHERE f MATCH ?1 ORDER BY 2 DESC, rowid",
                    [expr],
                )
                .await
                .unwrap();
            let mut want = Vec::new();
            while let Some(row) = rows.next().await.unwrap() {
                want.push((row.get::<i64>(0).unwrap(), row.get::<f64>(1).unwrap()));
            }
            let got = loaded(&index, "a", &stems(q), 10);
            assert_eq!(got.len(), want.len(), "{q}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "{q}");
                assert!(
                    (g.1 - 2.0 * w.1).abs() < 1e-9,
                    "{q}: {} vs 2 × {}",
                    g.1,
                    w.1
                );
            }
        }
    }

    /// A snapshot as `text_snapshot` stores it: its position, documents and term rows.
    struct Stored {
        seq: i64,
        docs: Vec<u8>,
        terms: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
        postings: u64,
    }

    impl Stored {
        fn of(data: SnapshotData) -> Self {
            Stored {
                seq: data.seq,
                docs: data.docs,
                terms: data.terms.into_iter().collect(),
                postings: data.postings,
            }
        }

        /// An index starting from this snapshot, as a fresh process's.
        fn open(&self) -> TextIndex {
            let docs = SegmentDocs::decode(&self.docs).unwrap();
            TextIndex::from_segment(Segment::new(
                self.seq,
                docs,
                self.terms.len() as u64,
                self.postings,
            ))
        }

        /// Reads into `index`'s segment the posting lists of `stems` it has not read.
        fn read(&self, index: &mut TextIndex, stems: &[String]) {
            let unread = index.unread_terms(stems);
            let Some(segment) = index.segment_mut() else {
                return;
            };
            let slots = segment.slots();
            for term in unread {
                let list = self
                    .terms
                    .get(term.as_bytes())
                    .map(|b| PostingList::decode(b, slots).unwrap());
                segment.keep(term.as_bytes(), list);
            }
        }

        /// Every term row, in term order.
        fn rows(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
            self.terms
                .iter()
                .map(|(t, p)| (t.clone(), p.clone()))
                .collect()
        }
    }

    #[test]
    fn a_search_without_the_segments_lists_asks_for_them() {
        let mut index = TextIndex::default();
        apply(
            &mut index,
            &[(1, 1, "a", Some("alpha beta")), (2, 2, "a", Some("beta"))],
        );
        let stored = Stored::of(index.snapshot(Vec::new()).unwrap());
        let mut reopened = stored.open();
        let q = stems("alpha beta");
        assert_eq!(reopened.search("a", &q, 5), None);
        assert_eq!(reopened.unread_terms(&q), q);
        stored.read(&mut reopened, &q);
        assert!(reopened.unread_terms(&q).is_empty());
        assert_eq!(loaded(&reopened, "a", &q, 5), loaded(&index, "a", &q, 5));
        assert_eq!(reopened.size().documents, 2);
    }

    proptest! {
        /// After any sequence of inserts, replacements and removals, the index ranks exactly
        /// as BM25 computed from scratch over the documents that remain.
        #[test]
        fn matches_bm25_from_scratch(
            ops in proptest::collection::vec((0i64..12, 0usize..3, proptest::option::weighted(0.7, "(alpha|beta|gamma|delta|eps|run|runs)( (alpha|beta|gamma|delta|eps|run|runs|[|])){0,6}")), 1..400),
            query in "(alpha|beta|gamma|delta|eps|run)( (alpha|beta|gamma|delta|eps|run)){0,3}",
            limit in 1usize..8,
        ) {
            let mut index = TextIndex::default();
            let mut live: std::collections::BTreeMap<i64, (&str, String)> = Default::default();
            let nss = ["a", "b", "c"];
            for (seq, (rowid, ns, text)) in ops.iter().enumerate() {
                apply(&mut index, &[(seq as i64 + 1, *rowid, nss[*ns], text.as_deref())]);
                match text {
                    Some(t) => { live.insert(*rowid, (nss[*ns], t.clone())); }
                    None => { live.remove(rowid); }
                }
            }
            let docs: Vec<(i64, &str, &str)> = live.iter().map(|(r, (n, t))| (*r, *n, t.as_str())).collect();
            for ns in nss {
                let got = loaded(&index, ns, &stems(&query), limit);
                let mut want = if docs.is_empty() { Vec::new() } else { reference(&docs, ns, &query) };
                want.truncate(limit);
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(g.0, w.0);
                    prop_assert!((g.1 - w.1).abs() < 1e-9, "{} vs {}", g.1, w.1);
                }
            }
        }

        /// A snapshot taken at any points of any sequence of inserts, replacements and
        /// removals across namespaces, reopened (its posting lists read only as searches
        /// need them) with the later entries applied on top, searches exactly as the index
        /// built from scratch from every entry — same hits, same scores and coverage — and
        /// writes back the very snapshot the scratch index writes.
        #[test]
        fn snapshot_plus_later_entries_equals_a_build_from_scratch(
            ops in proptest::collection::vec((0i64..16, 0usize..3, proptest::option::weighted(0.75, "(alpha|beta|gamma|delta|eps|run|runs|kafka)( (alpha|beta|gamma|delta|eps|run|runs|kafka|[|])){0,6}")), 1..300),
            points in proptest::collection::vec((0usize..300, any::<bool>()), 0..4),
            query in "(alpha|beta|gamma|delta|eps|run|kafka|zeta)( (alpha|beta|gamma|delta|eps|run|kafka|zeta)){0,3}",
            limit in 1usize..10,
        ) {
            let nss = ["a", "b", "c"];
            let q = stems(&query);
            let mut scratch = TextIndex::default();
            let mut index = TextIndex::default();
            let mut stored: Option<Stored> = None;
            for (at, (rowid, ns, text)) in ops.iter().enumerate() {
                for &(point, read_first) in &points {
                    if point != at {
                        continue;
                    }
                    let rows = stored.as_ref().map(Stored::rows).unwrap_or_default();
                    let snapshot = Stored::of(index.snapshot(rows).unwrap());
                    index = snapshot.open();
                    if read_first {
                        // Lists read before later entries mask some of their documents.
                        snapshot.read(&mut index, &q);
                    }
                    stored = Some(snapshot);
                }
                let entry = [(at as i64 + 1, *rowid, nss[*ns], text.as_deref())];
                apply(&mut scratch, &entry);
                apply(&mut index, &entry);
            }
            if let Some(stored) = &stored {
                stored.read(&mut index, &q);
            }
            prop_assert_eq!(index.live_docs(), scratch.live_docs());
            for ns in nss {
                let got = loaded(&index, ns, &q, limit);
                let want = loaded(&scratch, ns, &q, limit);
                prop_assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    prop_assert_eq!(g.0, w.0);
                    prop_assert!((g.1 - w.1).abs() <= 1e-12 * w.1.abs().max(1.0), "{} vs {}", g.1, w.1);
                    prop_assert!((g.2 - w.2).abs() <= 1e-12, "{} vs {}", g.2, w.2);
                }
            }
            let rows = stored.as_ref().map(Stored::rows).unwrap_or_default();
            prop_assert_eq!(index.snapshot(rows).unwrap(), scratch.snapshot(Vec::new()).unwrap());
        }
    }
}
