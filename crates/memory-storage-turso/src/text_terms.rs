//! What the full-text index knows of a document: its terms and how often each occurs.
//!
//! A document is an episode's text in five fields (task, steps, outcome, reflection, tags).
//! Text is split into words at every character that is not alphanumeric (the same rule
//! `memory_core::query_terms` applies to queries), lower-cased, and each word is reduced to
//! its English stem (Snowball's Porter2, so "failed", "failing" and "fails" are one term).
//! A document's [`TermVector`] is its length in words and, for each distinct stem, its
//! weighted frequency: each occurrence counts by its field's weight ([`FIELD_WEIGHTS`]), so a
//! word in the task description weighs four times one in a step's output.
//!
//! The vector is what is stored per episode (see [`crate::text_log`]) and what the ranking
//! reads (see [`crate::text_index`]); its encoding is versioned by [`FORMAT`] so that a
//! change here can never be mixed up with vectors written by another build.

use foldhash::HashMap;
use rust_stemmers::{Algorithm, Stemmer};
use std::cell::RefCell;
use std::sync::LazyLock;

/// The weight of an occurrence in each field, in field order (task, steps, outcome,
/// reflection, tags), doubled so that they are whole numbers: 4, 1, 2, 1.5 and 2.
pub(crate) const FIELD_WEIGHTS: [u32; 5] = [8, 2, 4, 3, 4];

/// What the stored weighted frequencies are divided by to give BM25 its term frequency.
pub(crate) const WEIGHT_SCALE: f64 = 2.0;

/// The first byte of every encoded vector: the tokenizer, stemmer and weights it was made
/// with. A build that changes any of them must change this and re-index.
pub(crate) const FORMAT: u8 = 1;

/// Words longer than this (in bytes) are kept as they are instead of stemmed: they are
/// identifiers, hashes or paths, not English.
const MAX_STEMMED_LEN: usize = 40;

/// How many stems a thread remembers before it starts over (stemming is the costly part of
/// indexing, and agents' text repeats the same words).
const STEM_CACHE_WORDS: usize = 50_000;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

thread_local! {
    static STEMS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::default());
}

/// A document as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TermVector {
    /// Words in the document, all fields together (BM25's document length).
    pub(crate) length: u32,
    /// Each distinct term with its weighted frequency ([`FIELD_WEIGHTS`]), sorted by term.
    pub(crate) terms: Vec<(String, u32)>,
}

/// The fields of a document, in [`FIELD_WEIGHTS`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// The task description.
    Task = 0,
    /// The steps: tool, action and result text of each.
    Steps = 1,
    /// The outcome.
    Outcome = 2,
    /// The reflection.
    Reflection = 3,
    /// The tags.
    Tags = 4,
}

/// Builds a [`TermVector`] from a document's text, fed piece by piece (so that callers need
/// not concatenate a field's parts first).
#[derive(Debug, Default)]
pub(crate) struct TermCounter {
    counts: HashMap<String, u32>,
    length: u32,
}

impl TermCounter {
    /// Counts the words of `text` as part of `field`.
    pub(crate) fn add(&mut self, field: Field, text: &str) {
        let weight = FIELD_WEIGHTS[field as usize];
        for word in words(text) {
            self.length = self.length.saturating_add(1);
            with_stem(word, |stem| match self.counts.get_mut(stem) {
                Some(count) => *count = count.saturating_add(weight),
                None => {
                    self.counts.insert(stem.to_string(), weight);
                }
            });
        }
    }

    /// The vector of everything added.
    pub(crate) fn finish(self) -> TermVector {
        let mut terms: Vec<(String, u32)> = self.counts.into_iter().collect();
        terms.sort_unstable();
        TermVector {
            length: self.length,
            terms,
        }
    }
}

impl TermVector {
    /// The vector of a document given as its fields, in [`FIELD_WEIGHTS`] order.
    #[cfg(test)]
    pub(crate) fn of_fields(fields: [&str; 5]) -> Self {
        let mut counter = TermCounter::default();
        let order = [
            Field::Task,
            Field::Steps,
            Field::Outcome,
            Field::Reflection,
            Field::Tags,
        ];
        for (field, text) in order.into_iter().zip(fields) {
            counter.add(field, text);
        }
        counter.finish()
    }

    /// The stored form: [`FORMAT`], then varints: length, term count, and per term its byte
    /// length, its bytes and its weighted frequency.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.terms.len() * 10);
        out.push(FORMAT);
        put_varint(&mut out, u64::from(self.length));
        put_varint(&mut out, self.terms.len() as u64);
        for (term, freq) in &self.terms {
            put_varint(&mut out, term.len() as u64);
            out.extend_from_slice(term.as_bytes());
            put_varint(&mut out, u64::from(*freq));
        }
        out
    }

    /// Reads what [`TermVector::encode`] wrote.
    #[cfg(test)]
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let view = DocTerms::decode(bytes)?;
        let mut terms = Vec::with_capacity(view.terms.len());
        for (t, f) in view.terms {
            let t = std::str::from_utf8(t).map_err(|_| "a term is not UTF-8")?;
            terms.push((t.to_string(), f));
        }
        Ok(TermVector {
            length: view.length,
            terms,
        })
    }

    /// The vector as the index reads it.
    #[cfg(test)]
    pub(crate) fn view(&self) -> DocTerms<'_> {
        DocTerms {
            length: self.length,
            terms: self.terms.iter().map(|(t, f)| (t.as_bytes(), *f)).collect(),
        }
    }
}

/// A [`TermVector`] read in place from its stored bytes (the terms borrow them, as bytes:
/// the index compares terms, it never reads them as text), so that loading an index does
/// not allocate or check a string per term of every document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocTerms<'a> {
    /// Words in the document.
    pub(crate) length: u32,
    /// Each distinct term (its UTF-8 bytes) with its weighted frequency.
    pub(crate) terms: Vec<(&'a [u8], u32)>,
}

impl<'a> DocTerms<'a> {
    /// Reads what [`TermVector::encode`] wrote; the error says what is wrong with it.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let mut input = Reader { bytes, at: 0 };
        match input.byte() {
            Some(FORMAT) => {}
            Some(_) => return Err("it was written in a format this build does not read"),
            None => return Err("it is empty"),
        }
        const TRUNCATED: &str = "it is truncated";
        let length = input.varint().ok_or(TRUNCATED)?;
        let count = input.varint().ok_or(TRUNCATED)?;
        // Each term takes at least two bytes, which bounds a damaged count.
        let mut terms =
            Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(bytes.len() / 2));
        for _ in 0..count {
            let len = input.varint().ok_or(TRUNCATED)?;
            let term = input
                .take(usize::try_from(len).unwrap_or(usize::MAX))
                .ok_or(TRUNCATED)?;
            let freq = input.varint().ok_or(TRUNCATED)?;
            terms.push((term, u32::try_from(freq).unwrap_or(u32::MAX)));
        }
        if input.at != bytes.len() {
            return Err("it has trailing bytes");
        }
        Ok(DocTerms {
            length: u32::try_from(length).unwrap_or(u32::MAX),
            terms,
        })
    }
}

/// The index terms of a search's terms, distinct, in first-seen order. A search term the
/// tokenizer splits (say `x86-64`) contributes each of its parts.
pub(crate) fn query_stems(terms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms {
        for word in words(term) {
            with_stem(word, |stem| {
                if !out.iter().any(|s| s == stem) {
                    out.push(stem.to_string());
                }
            });
        }
    }
    out
}

/// The words of `text`: its runs of alphanumeric characters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Calls `f` with the index term of one word: lower-cased and stemmed (see the module docs).
/// Stems come from a per-thread cache, so a word seen before costs a lookup and no
/// allocation.
fn with_stem<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    let lowered;
    let lower: &str = if word.chars().any(char::is_uppercase) {
        lowered = word.to_lowercase();
        &lowered
    } else {
        word
    };
    if lower.len() > MAX_STEMMED_LEN {
        return f(lower);
    }
    STEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(stem) = cache.get(lower) {
            return f(stem);
        }
        let stem = STEMMER.stem(lower).into_owned();
        let out = f(&stem);
        if cache.len() >= STEM_CACHE_WORDS {
            cache.clear();
        }
        cache.insert(lower.to_string(), stem);
        out
    })
}

/// Appends `value` as a LEB128 varint (seven bits a byte, low bits first); shared by the
/// snapshot's encodings (see [`crate::text_segment`]).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor over bytes written with [`put_varint`] (an encoded vector, or a snapshot's
/// documents and posting lists).
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// The next byte.
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    /// The next varint; `None` when truncated or longer than 64 bits.
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_are_split_lowercased_and_stemmed() {
        let v = TermVector::of_fields(["Failed to connect", "", "", "", ""]);
        assert_eq!(v.length, 3);
        let terms: Vec<&str> = v.terms.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(terms, ["connect", "fail", "to"]);
        assert_eq!(
            query_stems(&["failing".into(), "connects".into()]),
            ["fail", "connect"]
        );
        assert_eq!(query_stems(&["x86-64".into(), "X86".into()]), ["x86", "64"]);
    }

    #[test]
    fn each_occurrence_counts_by_its_fields_weight() {
        let v = TermVector::of_fields(["deploy", "deploy\ndeploy", "", "deployed", "deploy"]);
        assert_eq!(v.length, 5);
        assert_eq!(v.terms, [("deploy".to_string(), 8 + 2 + 2 + 3 + 4)]);
    }

    #[test]
    fn decoding_rejects_other_formats_and_damage() {
        let bytes = TermVector::of_fields(["a b c", "", "", "", ""]).encode();
        assert!(TermVector::decode(&bytes).is_ok());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(TermVector::decode(&other).is_err());
        assert!(TermVector::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(TermVector::decode(&longer).is_err());
        assert!(TermVector::decode(&[]).is_err());
        let mut not_utf8 = TermVector::of_fields(["ab", "", "", "", ""]).encode();
        let at = not_utf8.len() - 2;
        not_utf8[at] = 0xff;
        assert!(TermVector::decode(&not_utf8).is_err());
    }

    proptest! {
        #[test]
        fn vectors_round_trip(fields in proptest::array::uniform5(".{0,80}")) {
            let v = TermVector::of_fields([&fields[0], &fields[1], &fields[2], &fields[3], &fields[4]]);
            let back = TermVector::decode(&v.encode()).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}
