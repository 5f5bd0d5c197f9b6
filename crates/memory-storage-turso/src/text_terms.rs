//! What the full-text index knows of an episode: its documents, their terms and how often
//! each occurs.
//!
//! An episode is indexed as one document for the whole of it — task, steps, outcome,
//! reflection and tags — and, when its steps are long (more than [`LONG_STEPS_WORDS`]
//! words), one more per *passage* of its steps: about [`PASSAGE_WORDS`] words each, whole
//! steps where they fit, a longer step cut (see [`EpisodeTerms`]). The ranking scores an
//! episode by its whole document plus its best passage, a short episode being its own best
//! passage (see [`crate::text_index`]): the words of a question about one step of a long log
//! then count for more when they meet in that step than when routine lines naming the same
//! services hold them here and there. On the step-level evaluation set this lifts full-text
//! nDCG@10 from 0.360 to 0.431 and leaves the topic set, whose episodes are short, as it was
//! (scoring by the best passage alone, without the whole document, loses 0.04 there).
//!
//! Text is split into words at every character that is not alphanumeric (the same rule
//! `memory_core::query_terms` applies to queries), lower-cased, and each word is reduced to
//! its English stem (Snowball's Porter2, so "failed", "failing" and "fails" are one term).
//! A document's [`TermVector`] is its length in words and, for each distinct stem, its
//! weighted frequency: each occurrence counts by its field's weight ([`FIELD_WEIGHTS`]), so a
//! word in the task description weighs four times one in a step's output.
//!
//! The documents are what is stored per episode (see [`crate::text_log`]) and what the
//! ranking reads (see [`crate::text_index`]); their encoding is versioned by [`FORMAT`] so
//! that a change here can never be mixed up with entries written by another build.

use foldhash::HashMap;
use rust_stemmers::{Algorithm, Stemmer};
use std::cell::RefCell;
use std::sync::LazyLock;

/// The weight of an occurrence in each field, in field order (task, steps, outcome,
/// reflection, tags), doubled so that they are whole numbers: 4, 1, 2, 1.5 and 2.
pub(crate) const FIELD_WEIGHTS: [u32; 5] = [8, 2, 4, 3, 4];

/// What the stored weighted frequencies are divided by to give BM25 its term frequency.
pub(crate) const WEIGHT_SCALE: f64 = 2.0;

/// The first byte of every encoded entry: the tokenizer, stemmer, weights and passages it was
/// made with. A build that changes any of them must change this and re-index (a schema
/// migration that rewrites the text log, as version 11's does).
pub(crate) const FORMAT: u8 = 2;

/// About how many words of steps one passage holds: small enough that a question's words
/// must meet near each other (on the step-level set, 20–40 words score best and 150 gives
/// back half the gain; 64 keeps most of it with a third as many documents as 20).
pub(crate) const PASSAGE_WORDS: u32 = 64;

/// Steps of more words than this are indexed in passages as well; an episode with fewer is
/// its own best passage (the topic set's episodes, with 100–250 words of steps, are).
pub(crate) const LONG_STEPS_WORDS: u32 = 4 * PASSAGE_WORDS;

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
            self.add_word(weight, word);
        }
    }

    /// Counts one word with `weight`.
    fn add_word(&mut self, weight: u32, word: &str) {
        self.length = self.length.saturating_add(1);
        with_stem(word, |stem| match self.counts.get_mut(stem) {
            Some(count) => *count = count.saturating_add(weight),
            None => {
                self.counts.insert(stem.to_string(), weight);
            }
        });
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

/// An episode's documents as the index holds them: the whole episode first, then the
/// passages of its steps in order (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct EpisodeTerms {
    /// The whole episode, every field; always present, maybe empty.
    pub(crate) whole: TermVector,
    /// The passages of its steps, in step order; none unless the steps are long.
    pub(crate) passages: Vec<TermVector>,
}

/// Builds an episode's [`EpisodeTerms`]: fields and steps fed piece by piece.
#[derive(Debug, Default)]
pub(crate) struct EpisodeCounter {
    whole: TermCounter,
    passages: Vec<TermVector>,
    current: TermCounter,
    step_words: u32,
}

impl EpisodeCounter {
    /// Counts `text` as part of `field` (any but [`Field::Steps`]: steps come by
    /// [`EpisodeCounter::add_step`]).
    pub(crate) fn add_field(&mut self, field: Field, text: &str) {
        self.whole.add(field, text);
    }

    /// Counts one step given as its parts (tool, action, result …), in the whole episode
    /// and in a passage: it joins the current passage if it fits in [`PASSAGE_WORDS`], else
    /// starts the next one; a step longer than a passage is cut into passages of its own.
    pub(crate) fn add_step(&mut self, parts: &[&str]) {
        let count: u32 = parts
            .iter()
            .map(|p| words(p).count() as u32)
            .fold(0, u32::saturating_add);
        self.step_words = self.step_words.saturating_add(count);
        if self.current.length > 0 && self.current.length.saturating_add(count) > PASSAGE_WORDS {
            self.close_passage();
        }
        let weight = FIELD_WEIGHTS[Field::Steps as usize];
        for part in parts {
            for word in words(part) {
                if self.current.length >= PASSAGE_WORDS {
                    self.close_passage();
                }
                self.whole.add_word(weight, word);
                self.current.add_word(weight, word);
            }
        }
    }

    fn close_passage(&mut self) {
        let passage = std::mem::take(&mut self.current);
        if passage.length > 0 {
            self.passages.push(passage.finish());
        }
    }

    /// The documents of everything added.
    pub(crate) fn finish(mut self) -> EpisodeTerms {
        self.close_passage();
        if self.step_words <= LONG_STEPS_WORDS {
            self.passages.clear();
        }
        EpisodeTerms {
            whole: self.whole.finish(),
            passages: self.passages,
        }
    }
}

impl EpisodeTerms {
    /// The documents of an episode with `fields` (task, outcome, reflection, tags) and
    /// `steps` (each one text).
    #[cfg(test)]
    pub(crate) fn of(fields: [&str; 4], steps: &[&str]) -> Self {
        let mut counter = EpisodeCounter::default();
        let order = [Field::Task, Field::Outcome, Field::Reflection, Field::Tags];
        for (field, text) in order.into_iter().zip(fields) {
            counter.add_field(field, text);
        }
        for step in steps {
            counter.add_step(&[step]);
        }
        counter.finish()
    }

    /// The stored form: [`FORMAT`], then varints: the number of documents (the whole and
    /// the passages), and per document its length, term count, and per term its byte length,
    /// its bytes and its weighted frequency.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let terms: usize = self.passages.iter().map(|p| p.terms.len()).sum();
        let mut out = Vec::with_capacity(8 + (self.whole.terms.len() + terms) * 10);
        out.push(FORMAT);
        put_varint(&mut out, 1 + self.passages.len() as u64);
        for doc in std::iter::once(&self.whole).chain(&self.passages) {
            put_varint(&mut out, u64::from(doc.length));
            put_varint(&mut out, doc.terms.len() as u64);
            for (term, freq) in &doc.terms {
                put_varint(&mut out, term.len() as u64);
                out.extend_from_slice(term.as_bytes());
                put_varint(&mut out, u64::from(*freq));
            }
        }
        out
    }

    /// Reads what [`EpisodeTerms::encode`] wrote.
    #[cfg(test)]
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let view = EpisodeDocs::decode(bytes)?;
        let mut docs = Vec::with_capacity(view.docs.len());
        for doc in view.docs {
            let mut terms = Vec::with_capacity(doc.terms.len());
            for (t, f) in doc.terms {
                let t = std::str::from_utf8(t).map_err(|_| "a term is not UTF-8")?;
                terms.push((t.to_string(), f));
            }
            docs.push(TermVector {
                length: doc.length,
                terms,
            });
        }
        let mut docs = docs.into_iter();
        let whole = docs.next().ok_or("it has no document")?;
        Ok(EpisodeTerms {
            whole,
            passages: docs.collect(),
        })
    }

    /// The documents as the index reads them.
    #[cfg(test)]
    pub(crate) fn view(&self) -> EpisodeDocs<'_> {
        EpisodeDocs {
            docs: std::iter::once(&self.whole)
                .chain(&self.passages)
                .map(TermVector::view)
                .collect(),
        }
    }
}

/// An episode's documents read in place from their stored bytes: the whole episode first,
/// then the passages (see [`EpisodeTerms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EpisodeDocs<'a> {
    /// Never empty once decoded: the whole episode is the first.
    pub(crate) docs: Vec<DocTerms<'a>>,
}

impl<'a> EpisodeDocs<'a> {
    /// Reads what [`EpisodeTerms::encode`] wrote; the error says what is wrong with it.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, &'static str> {
        const TRUNCATED: &str = "it is truncated";
        let mut input = Reader { bytes, at: 0 };
        match input.byte() {
            Some(FORMAT) => {}
            Some(_) => return Err("it was written in a format this build does not read"),
            None => return Err("it is empty"),
        }
        let count = input.varint().ok_or(TRUNCATED)?;
        // Each document takes at least two bytes, which bounds a damaged count.
        if count == 0 || count > bytes.len() as u64 / 2 {
            return Err(TRUNCATED);
        }
        let mut docs = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let length = input.varint().ok_or(TRUNCATED)?;
            let terms_count = input.varint().ok_or(TRUNCATED)?;
            // Each term takes at least two bytes, which bounds a damaged count.
            let mut terms = Vec::with_capacity(
                usize::try_from(terms_count)
                    .unwrap_or(0)
                    .min(bytes.len() / 2),
            );
            for _ in 0..terms_count {
                let len = input.varint().ok_or(TRUNCATED)?;
                let term = input
                    .take(usize::try_from(len).unwrap_or(usize::MAX))
                    .ok_or(TRUNCATED)?;
                let freq = input.varint().ok_or(TRUNCATED)?;
                terms.push((term, u32::try_from(freq).unwrap_or(u32::MAX)));
            }
            docs.push(DocTerms {
                length: u32::try_from(length).unwrap_or(u32::MAX),
                terms,
            });
        }
        if input.at != bytes.len() {
            return Err("it has trailing bytes");
        }
        Ok(EpisodeDocs { docs })
    }
}

impl TermVector {
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
        let v = EpisodeTerms::of(["Failed to connect", "", "", ""], &[]).whole;
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
        let e = EpisodeTerms::of(["deploy", "", "deployed", "deploy"], &["deploy\ndeploy"]);
        assert_eq!(e.whole.length, 5);
        assert_eq!(e.whole.terms, [("deploy".to_string(), 8 + 2 + 2 + 3 + 4)]);
        // Short steps: no passages.
        assert!(e.passages.is_empty());
    }

    /// `n` copies of `word`, as one text.
    fn repeated(n: usize, word: &str) -> String {
        vec![word; n].join(" ")
    }

    #[test]
    fn long_steps_fill_passages_whole_and_longer_steps_are_cut() {
        let (a, b, c) = (
            repeated(30, "alpha"),
            repeated(30, "beta"),
            repeated(10, "gamma"),
        );
        let long = repeated(180, "delta");
        // 30 + 30 fit in one passage, 10 more do not; a step of 180 words is cut.
        let e = EpisodeTerms::of(["task", "", "", ""], &[&a, &b, &c, &long, &c]);
        let lengths: Vec<u32> = e.passages.iter().map(|p| p.length).collect();
        assert_eq!(lengths, [60, 10, 64, 64, 62]);
        assert_eq!(e.whole.length, 1 + 260);
        assert_eq!(e.passages[0].terms.len(), 2);
        // Steps of at most LONG_STEPS_WORDS words are their own passage.
        let short = repeated(LONG_STEPS_WORDS as usize, "delta");
        assert!(
            EpisodeTerms::of(["t", "", "", ""], &[&short])
                .passages
                .is_empty()
        );
        let longer = repeated(LONG_STEPS_WORDS as usize + 1, "delta");
        assert_eq!(
            EpisodeTerms::of(["t", "", "", ""], &[&longer])
                .passages
                .len(),
            LONG_STEPS_WORDS as usize / PASSAGE_WORDS as usize + 1
        );
        assert!(
            EpisodeTerms::of(["", "", "", ""], &["  ", ""])
                .passages
                .is_empty()
        );
    }

    #[test]
    fn decoding_rejects_other_formats_and_damage() {
        let bytes = EpisodeTerms::of(["a b c", "", "", ""], &["d e"]).encode();
        assert!(EpisodeTerms::decode(&bytes).is_ok());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(EpisodeTerms::decode(&other).is_err());
        assert!(EpisodeTerms::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(EpisodeTerms::decode(&longer).is_err());
        assert!(EpisodeTerms::decode(&[]).is_err());
        // No documents at all.
        assert!(EpisodeTerms::decode(&[FORMAT, 0]).is_err());
        let mut not_utf8 = EpisodeTerms::of(["ab", "", "", ""], &[]).encode();
        let at = not_utf8.len() - 2;
        not_utf8[at] = 0xff;
        assert!(EpisodeTerms::decode(&not_utf8).is_err());
    }

    proptest! {
        #[test]
        fn episodes_round_trip(
            fields in proptest::array::uniform4(".{0,80}"),
            steps in proptest::collection::vec("[a-z ]{0,700}", 0..6),
        ) {
            let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
            let e = EpisodeTerms::of([&fields[0], &fields[1], &fields[2], &fields[3]], &steps);
            let back = EpisodeTerms::decode(&e.encode()).unwrap();
            prop_assert_eq!(&back, &e);
            // Long steps: every word of them is in exactly one passage.
            let words: usize = steps.iter().map(|s| words(s).count()).sum();
            let in_passages: usize = e.passages.iter().map(|p| p.length as usize).sum();
            prop_assert_eq!(in_passages, if words > LONG_STEPS_WORDS as usize { words } else { 0 });
            prop_assert!(e.passages.iter().all(|p| p.length > 0 && p.length <= PASSAGE_WORDS));
        }
    }
}
