//! A stored snapshot of the text index as a search reads it: the *segment*.
//!
//! A snapshot (see [`crate::text_snapshot`]) holds the index as of one log position: every
//! document (its episode's rowid, namespace and length, in rowid order, an episode's whole
//! first and then its passages in order; a document's *slot* is its place in that order) and,
//! per term, its posting list (slots and weighted frequencies). A
//! [`Segment`] is a snapshot loaded for searching: the documents are read whole (a few bytes
//! each), the posting lists only for the terms a search asks for, and kept once read. The log
//! entries written after the snapshot are applied on top, by [`crate::text_index`]: each
//! entry *masks* the segment's document of its episode (replaced or removed), so that what a
//! search sees is exactly the index a full build from the log would give.
//!
//! Encodings (all integers LEB128 varints, see [`crate::text_terms::put_varint`]):
//! - documents: [`SEGMENT_FORMAT`], namespace count, each namespace's byte length and bytes,
//!   document count, then per document the gap from the previous rowid (0 for the next
//!   document of the same episode; the first is stored whole, as two's complement),
//!   namespace number and length;
//! - posting list: entry count, then per entry the gap from the previous slot (the first
//!   slot whole) and the weighted frequency.

use crate::text_terms::{Reader, put_varint};
use foldhash::HashMap;

/// The first byte of a snapshot's encoded documents; a change of either encoding changes it.
pub(crate) const SEGMENT_FORMAT: u8 = 2;

/// The documents holding one term in a segment, slots strictly increasing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PostingList {
    /// Slots of the documents.
    pub(crate) slots: Vec<u32>,
    /// Weighted frequencies (saturated as in [`crate::text_index`]).
    pub(crate) freqs: Vec<u16>,
}

impl PostingList {
    /// The stored form (see the module docs).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.slots.len() * 3);
        put_varint(&mut out, self.slots.len() as u64);
        let mut previous = 0u32;
        for (i, (&slot, &freq)) in self.slots.iter().zip(&self.freqs).enumerate() {
            let gap = if i == 0 { slot } else { slot - previous };
            put_varint(&mut out, u64::from(gap));
            put_varint(&mut out, u64::from(freq));
            previous = slot;
        }
        out
    }

    /// Reads what [`PostingList::encode`] wrote for a segment of `documents` documents; the
    /// error says what is wrong with it.
    pub(crate) fn decode(bytes: &[u8], documents: usize) -> Result<Self, &'static str> {
        const TRUNCATED: &str = "a posting list is truncated";
        let mut input = Reader::new(bytes);
        let count = input.varint().ok_or(TRUNCATED)?;
        // Each entry takes at least two bytes, which bounds a damaged count.
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > bytes.len() / 2 {
            return Err(TRUNCATED);
        }
        let mut list = PostingList {
            slots: Vec::with_capacity(count),
            freqs: Vec::with_capacity(count),
        };
        let mut slot: u64 = 0;
        for i in 0..count {
            let gap = input.varint().ok_or(TRUNCATED)?;
            if i > 0 && gap == 0 {
                return Err("a posting list repeats a document");
            }
            slot = slot.checked_add(gap).ok_or("a posting list overflows")?;
            if slot >= documents as u64 {
                return Err("a posting list names a document the snapshot does not have");
            }
            let freq = input.varint().ok_or(TRUNCATED)?;
            list.slots.push(slot as u32);
            list.freqs.push(u16::try_from(freq).unwrap_or(u16::MAX));
        }
        if !input.at_end() {
            return Err("a posting list has trailing bytes");
        }
        Ok(list)
    }
}

/// Counts and lengths of documents by kind — what BM25's statistics are made of.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Episodes (each is one whole document).
    pub(crate) episodes: u64,
    /// Total length of their whole documents, in words.
    pub(crate) whole_length: u64,
    /// Passages of steps.
    pub(crate) passages: u64,
    /// Total length of the passages, in words.
    pub(crate) passage_length: u64,
}

impl Totals {
    /// Counts a document of `length` words in: a whole episode or a passage.
    pub(crate) fn add(&mut self, whole: bool, length: u32) {
        if whole {
            self.episodes += 1;
            self.whole_length += u64::from(length);
        } else {
            self.passages += 1;
            self.passage_length += u64::from(length);
        }
    }

    /// Counts a document counted in by [`Totals::add`] out again.
    pub(crate) fn remove(&mut self, whole: bool, length: u32) {
        if whole {
            self.episodes -= 1;
            self.whole_length -= u64::from(length);
        } else {
            self.passages -= 1;
            self.passage_length -= u64::from(length);
        }
    }

    /// Both together.
    pub(crate) fn plus(self, other: Totals) -> Totals {
        Totals {
            episodes: self.episodes + other.episodes,
            whole_length: self.whole_length + other.whole_length,
            passages: self.passages + other.passages,
            passage_length: self.passage_length + other.passage_length,
        }
    }

    /// These minus `other` (a part of them).
    pub(crate) fn minus(self, other: Totals) -> Totals {
        Totals {
            episodes: self.episodes - other.episodes,
            whole_length: self.whole_length - other.whole_length,
            passages: self.passages - other.passages,
            passage_length: self.passage_length - other.passage_length,
        }
    }

    /// Documents of both kinds.
    pub(crate) fn documents(&self) -> u64 {
        self.episodes + self.passages
    }
}

/// A snapshot's documents, in rowid order (an episode whole, then its passages).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SegmentDocs {
    /// Namespace names, by number.
    pub(crate) namespaces: Vec<String>,
    /// Episode rowids, never decreasing (one per document of the episode).
    pub(crate) rowids: Vec<i64>,
    /// Each document's namespace number.
    pub(crate) namespace_of: Vec<u32>,
    /// Each document's length in words.
    pub(crate) lengths: Vec<u32>,
}

impl SegmentDocs {
    /// The stored form (see the module docs).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.rowids.len() * 4);
        out.push(SEGMENT_FORMAT);
        put_varint(&mut out, self.namespaces.len() as u64);
        for name in &self.namespaces {
            put_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
        }
        put_varint(&mut out, self.rowids.len() as u64);
        let mut previous = 0i64;
        for i in 0..self.rowids.len() {
            let rowid = self.rowids[i];
            put_varint(&mut out, rowid.wrapping_sub(previous) as u64);
            put_varint(&mut out, u64::from(self.namespace_of[i]));
            put_varint(&mut out, u64::from(self.lengths[i]));
            previous = rowid;
        }
        out
    }

    /// Reads what [`SegmentDocs::encode`] wrote; the error says what is wrong with it.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        const TRUNCATED: &str = "the documents are truncated";
        let mut input = Reader::new(bytes);
        match input.byte() {
            Some(SEGMENT_FORMAT) => {}
            Some(_) => {
                return Err("the documents were written in a format this build does not read");
            }
            None => return Err("the documents are empty"),
        }
        let names = input.varint().ok_or(TRUNCATED)?;
        let mut namespaces = Vec::new();
        for _ in 0..names {
            let len = input.varint().ok_or(TRUNCATED)?;
            let name = input
                .take(usize::try_from(len).unwrap_or(usize::MAX))
                .ok_or(TRUNCATED)?;
            let name = std::str::from_utf8(name).map_err(|_| "a namespace is not UTF-8")?;
            namespaces.push(name.to_string());
        }
        let count = usize::try_from(input.varint().ok_or(TRUNCATED)?).unwrap_or(usize::MAX);
        // Each document takes at least three bytes, which bounds a damaged count.
        if count > bytes.len() / 3 {
            return Err(TRUNCATED);
        }
        let mut docs = SegmentDocs {
            namespaces,
            rowids: Vec::with_capacity(count),
            namespace_of: Vec::with_capacity(count),
            lengths: Vec::with_capacity(count),
        };
        let mut previous = 0i64;
        for i in 0..count {
            let gap = input.varint().ok_or(TRUNCATED)?;
            let rowid = if i == 0 {
                gap as i64
            } else {
                match i64::try_from(gap) {
                    Ok(gap) if gap >= 0 => previous.checked_add(gap).ok_or("a rowid overflows")?,
                    _ => return Err("the rowids are not in order"),
                }
            };
            let namespace = input.varint().ok_or(TRUNCATED)?;
            if namespace >= docs.namespaces.len() as u64 {
                return Err("a document names a namespace the snapshot does not have");
            }
            if i > 0 && rowid == previous && docs.namespace_of.last() != Some(&(namespace as u32)) {
                return Err("an episode's documents name two namespaces");
            }
            let length = input.varint().ok_or(TRUNCATED)?;
            docs.rowids.push(rowid);
            docs.namespace_of.push(namespace as u32);
            docs.lengths.push(u32::try_from(length).unwrap_or(u32::MAX));
            previous = rowid;
        }
        if !input.at_end() {
            return Err("the documents have trailing bytes");
        }
        if u32::try_from(docs.rowids.len()).is_err() {
            return Err("the snapshot has more documents than an index holds");
        }
        Ok(docs)
    }
}

/// A snapshot loaded for searching, with the documents later log entries replaced or
/// removed masked out (see the module docs).
#[derive(Debug)]
pub(crate) struct Segment {
    /// The last log entry the snapshot covers.
    seq: i64,
    docs: SegmentDocs,
    /// Terms and posting entries stored, for statistics.
    stored_terms: u64,
    stored_postings: u64,
    /// Each document's episode's first slot (its whole document's).
    first: Vec<u32>,
    masked: Vec<bool>,
    /// Of every document, and of the masked ones.
    totals: Totals,
    masked_totals: Totals,
    /// Posting lists read so far; `None` for a term the snapshot does not hold.
    terms: HashMap<Box<[u8]>, Option<PostingList>>,
    cached_postings: u64,
}

impl Segment {
    /// The segment of a snapshot covering the log up to `seq`, with `docs`, holding
    /// `terms` terms and `postings` posting entries.
    pub(crate) fn new(seq: i64, docs: SegmentDocs, terms: u64, postings: u64) -> Self {
        let mut first = Vec::with_capacity(docs.rowids.len());
        let mut totals = Totals::default();
        for (slot, &rowid) in docs.rowids.iter().enumerate() {
            let whole = slot == 0 || docs.rowids[slot - 1] != rowid;
            first.push(if whole { slot as u32 } else { first[slot - 1] });
            totals.add(whole, docs.lengths[slot]);
        }
        Segment {
            seq,
            masked: vec![false; docs.rowids.len()],
            first,
            docs,
            stored_terms: terms,
            stored_postings: postings,
            totals,
            masked_totals: Totals::default(),
            terms: HashMap::default(),
            cached_postings: 0,
        }
    }

    /// The last log entry the snapshot covers.
    pub(crate) fn seq(&self) -> i64 {
        self.seq
    }

    /// Documents stored, masked or not (slots run from 0 to this).
    pub(crate) fn slots(&self) -> usize {
        self.docs.rowids.len()
    }

    /// Counts and lengths of the documents not masked.
    pub(crate) fn live_totals(&self) -> Totals {
        self.totals.minus(self.masked_totals)
    }

    /// Masks the documents of the episode at `rowid`, if the segment has them: a later log
    /// entry replaced or removed it.
    pub(crate) fn mask(&mut self, rowid: i64) {
        let from = self.docs.rowids.partition_point(|&r| r < rowid);
        let to = self.docs.rowids.partition_point(|&r| r <= rowid);
        for slot in from..to {
            if !self.masked[slot] {
                self.masked[slot] = true;
                self.masked_totals
                    .add(self.first[slot] as usize == slot, self.docs.lengths[slot]);
            }
        }
    }

    /// The slot of the whole document of the episode the document at `slot` belongs to.
    pub(crate) fn first(&self, slot: u32) -> u32 {
        self.first[slot as usize]
    }

    /// Whether the document at `slot` is masked.
    pub(crate) fn is_masked(&self, slot: u32) -> bool {
        self.masked[slot as usize]
    }

    /// The episode rowid of the document at `slot`.
    pub(crate) fn rowid(&self, slot: u32) -> i64 {
        self.docs.rowids[slot as usize]
    }

    /// The namespace number of the document at `slot`.
    pub(crate) fn namespace_of(&self, slot: u32) -> u32 {
        self.docs.namespace_of[slot as usize]
    }

    /// The length of the document at `slot`.
    pub(crate) fn length(&self, slot: u32) -> u32 {
        self.docs.lengths[slot as usize]
    }

    /// The number of `namespace` in this segment, if it has documents there.
    pub(crate) fn namespace_id(&self, namespace: &str) -> Option<u32> {
        self.docs
            .namespaces
            .iter()
            .position(|n| n == namespace)
            .map(|i| i as u32)
    }

    /// The name of namespace number `id`.
    pub(crate) fn namespace_name(&self, id: u32) -> &str {
        &self.docs.namespaces[id as usize]
    }

    /// The posting list of `term` if it has been read: `Some(None)` when the snapshot does
    /// not hold the term, `None` when it has not been read yet.
    pub(crate) fn cached(&self, term: &[u8]) -> Option<Option<&PostingList>> {
        self.terms.get(term).map(Option::as_ref)
    }

    /// Keeps the posting list read for `term` (`None`: the snapshot does not hold it).
    pub(crate) fn keep(&mut self, term: &[u8], list: Option<PostingList>) {
        if let Some(list) = &list {
            self.cached_postings += list.slots.len() as u64;
        }
        self.terms.insert(term.into(), list);
    }

    /// Episodes with a document in `list` not masked (an episode's documents are adjacent
    /// slots, so adjacent in the list).
    pub(crate) fn document_frequency(&self, list: &PostingList) -> u64 {
        let mut count = 0;
        let mut previous = u32::MAX;
        for &slot in &list.slots {
            let first = self.first[slot as usize];
            if !self.masked[slot as usize] && first != previous {
                count += 1;
                previous = first;
            }
        }
        count
    }

    /// Terms the snapshot holds.
    pub(crate) fn stored_terms(&self) -> u64 {
        self.stored_terms
    }

    /// Posting entries the snapshot holds.
    pub(crate) fn stored_postings(&self) -> u64 {
        self.stored_postings
    }

    /// Estimated bytes held in memory: the documents and the posting lists read.
    pub(crate) fn bytes(&self) -> u64 {
        let per_doc = size_of::<i64>() + 3 * size_of::<u32>() + size_of::<bool>();
        let term_bytes: usize = self.terms.keys().map(|t| t.len() + 48).sum();
        (self.docs.rowids.len() * per_doc
            + term_bytes
            + self.cached_postings as usize * (size_of::<u32>() + size_of::<u16>())) as u64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn docs() -> SegmentDocs {
        SegmentDocs {
            namespaces: vec!["a".into(), "b".into()],
            rowids: vec![1, 2, 300, 300, 300, 70_000],
            namespace_of: vec![0, 1, 0, 0, 0, 1],
            lengths: vec![3, 0, 50, 100, 100, 9],
        }
    }

    #[test]
    fn documents_and_posting_lists_round_trip() {
        let d = docs();
        assert_eq!(SegmentDocs::decode(&d.encode()).unwrap(), d);
        let list = PostingList {
            slots: vec![0, 2, 3],
            freqs: vec![8, 2, u16::MAX],
        };
        assert_eq!(PostingList::decode(&list.encode(), 4).unwrap(), list);
        assert_eq!(
            PostingList::decode(&PostingList::default().encode(), 0).unwrap(),
            PostingList::default()
        );
    }

    #[test]
    fn damaged_encodings_are_refused() {
        let bytes = docs().encode();
        assert!(SegmentDocs::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SegmentDocs::decode(&longer).is_err());
        let mut other = bytes.clone();
        other[0] = SEGMENT_FORMAT + 1;
        assert!(SegmentDocs::decode(&other).is_err());
        // One episode's documents in two namespaces.
        let mut split = docs();
        split.namespace_of[3] = 1;
        assert!(SegmentDocs::decode(&split.encode()).is_err());
        assert!(SegmentDocs::decode(&[]).is_err());
        let list = PostingList {
            slots: vec![0, 3],
            freqs: vec![1, 1],
        }
        .encode();
        // A slot past the documents, a truncation, trailing bytes.
        assert!(PostingList::decode(&list, 3).is_err());
        assert!(PostingList::decode(&list[..list.len() - 1], 4).is_err());
        let mut longer = list.clone();
        longer.push(1);
        assert!(PostingList::decode(&longer, 4).is_err());
    }

    #[test]
    fn masking_counts_each_document_once() {
        let mut segment = Segment::new(7, docs(), 0, 0);
        assert_eq!(segment.live_totals().episodes, 4);
        assert_eq!(
            segment.live_totals(),
            Totals {
                episodes: 4,
                whole_length: 62,
                passages: 2,
                passage_length: 200
            }
        );
        assert_eq!(segment.first(4), 2);
        assert_eq!(segment.first(5), 5);
        segment.mask(300);
        segment.mask(300);
        segment.mask(5);
        assert_eq!(segment.live_totals().episodes, 3);
        assert_eq!(
            segment.live_totals(),
            Totals {
                episodes: 3,
                whole_length: 12,
                passages: 0,
                passage_length: 0
            }
        );
        assert!((2..5).all(|slot| segment.is_masked(slot)));
        // An episode counts once however many of its documents hold a term.
        let list = PostingList {
            slots: vec![0, 2, 3, 4, 5],
            freqs: vec![1; 5],
        };
        assert_eq!(Segment::new(7, docs(), 0, 0).document_frequency(&list), 3);
        assert_eq!(segment.document_frequency(&list), 2);
        assert_eq!(segment.namespace_id("b"), Some(1));
        assert_eq!(segment.namespace_id("c"), None);
    }
}
