//! Full-text search over completed episodes: the same terms, documents and BM25 ranking
//! as the libSQL store's in-memory index (`memory-storage-turso`'s `text_terms` and
//! `text_index`), so both backends find the same episodes in the same order.
//!
//! **Terms.** Text is split into words at every character that is not alphanumeric (the
//! rule [`crate::retrieval::query_terms`] applies to queries), lower-cased, and each word
//! of at most 40 bytes reduced to its English stem (Snowball's Porter2). Each occurrence
//! counts by its field's weight: task 4, steps 1, outcome 2, reflection 1.5, tags 2.
//!
//! **Documents.** An episode is one document for the whole of it and, when its steps hold
//! more than 256 words, one more per passage of about 64 words of steps (whole steps where
//! they fit, a longer step cut). It scores the BM25 of its whole document plus that of its
//! best passage; a short episode is its own best passage.
//!
//! **Ranking.** Okapi BM25 with FTS5's parameters (k1 = 1.2, b = 0.75, inverse document
//! frequency `ln((N - df + 0.5) / (df + 0.5))`), N and df counted in episodes of every
//! namespace; each document's length is set against the average of its kind. Terms held
//! by half of the episodes or more are scored (at the floor weight 1e-6) only when no other
//! query term is indexed. Coverage is the share of the query's weight an episode holds.

use super::state::tag_set;
use crate::Episode;
use crate::metrics::TextIndexStats;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use uuid::Uuid;

/// The weight of an occurrence in each field, in [`Field`] order, doubled so that they are
/// whole numbers.
const FIELD_WEIGHTS: [u32; 5] = [8, 2, 4, 3, 4];
/// What weighted frequencies are divided by to give BM25 its term frequency.
const WEIGHT_SCALE: f64 = 2.0;
/// About how many words of steps one passage holds.
const PASSAGE_WORDS: u32 = 64;
/// Steps of more words than this are indexed in passages as well.
const LONG_STEPS_WORDS: u32 = 4 * PASSAGE_WORDS;
/// Words longer than this (in bytes) are kept as they are instead of stemmed.
const MAX_STEMMED_LEN: usize = 40;
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// FTS5's floor for the inverse document frequency of very common terms.
const MIN_IDF: f64 = 1e-6;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// The fields of a document, in [`FIELD_WEIGHTS`] order.
#[derive(Debug, Clone, Copy)]
enum Field {
    Task = 0,
    Steps = 1,
    Outcome = 2,
    Reflection = 3,
    Tags = 4,
}

/// The words of `text`: its runs of alphanumeric characters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The index term of one word: lower-cased and, unless it is long, stemmed.
fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if lower.len() > MAX_STEMMED_LEN {
        return lower;
    }
    STEMMER.stem(&lower).into_owned()
}

/// The distinct index terms of a query's terms, in order.
fn query_stems(terms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms {
        for word in words(term) {
            let stem = stem(word);
            if !out.contains(&stem) {
                out.push(stem);
            }
        }
    }
    out
}

/// One document: its length in words and each distinct term's weighted frequency.
#[derive(Debug, Default)]
struct Document {
    length: u32,
    terms: HashMap<String, u32>,
}

impl Document {
    /// Counts one word with `weight`.
    fn add_word(&mut self, weight: u32, word: &str) {
        self.length = self.length.saturating_add(1);
        let count = self.terms.entry(stem(word)).or_insert(0);
        *count = count.saturating_add(weight);
    }

    /// Counts the words of `text` as part of `field`.
    fn add(&mut self, field: Field, text: &str) {
        let weight = FIELD_WEIGHTS[field as usize];
        for word in words(text) {
            self.add_word(weight, word);
        }
    }
}

/// An episode's documents being built: the whole, and the passages of its steps.
#[derive(Default)]
struct EpisodeCounter {
    whole: Document,
    passages: Vec<Document>,
    current: Document,
    step_words: u32,
}

impl EpisodeCounter {
    /// Counts one step given as its parts: it joins the current passage if it fits in
    /// [`PASSAGE_WORDS`], else starts the next one; a longer step is cut.
    fn add_step(&mut self, parts: &[&str]) {
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
            self.passages.push(passage);
        }
    }

    /// The documents, the whole first.
    fn finish(mut self) -> Vec<Document> {
        self.close_passage();
        if self.step_words <= LONG_STEPS_WORDS {
            self.passages.clear();
        }
        let mut docs = vec![self.whole];
        docs.append(&mut self.passages);
        docs
    }
}

/// The documents of a completed episode: task, steps, outcome, reflection and tags.
fn documents(episode: &Episode) -> Vec<Document> {
    let mut counter = EpisodeCounter::default();
    counter.whole.add(Field::Task, &episode.task_description);
    if let Some(outcome) = &episode.outcome {
        counter.whole.add(Field::Outcome, &outcome.full_text());
    }
    if let Some(reflection) = &episode.reflection {
        counter
            .whole
            .add(Field::Reflection, &reflection.full_text());
    }
    for tag in tag_set(episode) {
        counter.whole.add(Field::Tags, tag);
    }
    for step in &episode.steps {
        counter.add_step(&[&step.tool, &step.action, step.result.text()]);
    }
    counter.finish()
}

/// An indexed episode.
struct Entry {
    id: Uuid,
    namespace: String,
    /// Its documents' lengths, the whole first.
    lengths: Vec<u32>,
    /// Its distinct terms, to find its postings when it goes.
    terms: Vec<String>,
}

/// Counts and lengths of the indexed documents.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    episodes: u64,
    whole_length: u64,
    passages: u64,
    passage_length: u64,
}

/// The episodes holding one term, by row: per document holding it, its place among the
/// episode's documents (0 the whole) and its weighted frequency.
type Postings = BTreeMap<u64, Vec<(u32, u16)>>;

/// One full-text hit: the episode (its row and id), its BM25 score and its coverage.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hit {
    pub(super) rowid: u64,
    pub(super) id: Uuid,
    pub(super) score: f64,
    pub(super) coverage: f64,
}

/// The inverted index of the completed episodes of every namespace.
#[derive(Default)]
pub(super) struct TextIndex {
    entries: HashMap<u64, Entry>,
    /// For each term, the episodes holding it.
    postings: HashMap<String, Postings>,
    totals: Totals,
}

impl TextIndex {
    /// Indexes `episode`, stored at `rowid`, replacing what was indexed for it.
    pub(super) fn index(&mut self, rowid: u64, episode: &Episode) {
        self.remove(rowid);
        let docs = documents(episode);
        let mut terms: Vec<String> = Vec::new();
        let mut lengths = Vec::with_capacity(docs.len());
        for (part, doc) in docs.into_iter().enumerate() {
            if part == 0 {
                self.totals.episodes += 1;
                self.totals.whole_length += u64::from(doc.length);
            } else {
                self.totals.passages += 1;
                self.totals.passage_length += u64::from(doc.length);
            }
            lengths.push(doc.length);
            for (term, freq) in doc.terms {
                let freq = u16::try_from(freq).unwrap_or(u16::MAX);
                let list = self.postings.entry(term.clone()).or_default();
                let at = list.entry(rowid).or_default();
                if at.is_empty() {
                    terms.push(term);
                }
                at.push((part as u32, freq));
            }
        }
        self.entries.insert(
            rowid,
            Entry {
                id: episode.id,
                namespace: episode.namespace.clone(),
                lengths,
                terms,
            },
        );
    }

    /// Removes the episode at `rowid`, if it was indexed.
    pub(super) fn remove(&mut self, rowid: u64) {
        let Some(entry) = self.entries.remove(&rowid) else {
            return;
        };
        for (part, length) in entry.lengths.iter().enumerate() {
            if part == 0 {
                self.totals.episodes -= 1;
                self.totals.whole_length -= u64::from(*length);
            } else {
                self.totals.passages -= 1;
                self.totals.passage_length -= u64::from(*length);
            }
        }
        for term in entry.terms {
            if let Some(list) = self.postings.get_mut(&term) {
                list.remove(&rowid);
                if list.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
    }

    /// The `limit` best episodes of `namespace` for the query `terms`, best first (ties:
    /// the older episode first).
    pub(super) fn search(&self, namespace: &str, terms: &[String], limit: usize) -> Vec<Hit> {
        let stems = query_stems(terms);
        let n = self.totals.episodes as f64;
        if limit == 0 || stems.is_empty() || self.totals.episodes == 0 {
            return Vec::new();
        }
        let avg_whole = (self.totals.whole_length as f64 / n).max(f64::MIN_POSITIVE);
        let avg_passage = (self.totals.passage_length as f64 / self.totals.passages.max(1) as f64)
            .max(f64::MIN_POSITIVE);
        // The query's weight for coverage: a word no episode holds counts as the rarest
        // possible one, a number no episode holds as nothing.
        let rarest = ((n + 0.5) / 0.5).ln();
        let mut query_weight = 0.0;
        let mut weighted: Vec<(&Postings, f64)> = Vec::new();
        let mut common = Vec::new();
        for stem in &stems {
            let Some(list) = self.postings.get(stem) else {
                if stem.bytes().any(|b| b.is_ascii_alphabetic()) || !stem.is_ascii() {
                    query_weight += rarest;
                }
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5)).ln();
            if idf > 0.0 {
                weighted.push((list, idf));
                query_weight += idf;
            } else {
                common.push(list);
            }
        }
        if weighted.is_empty() {
            weighted = common.into_iter().map(|l| (l, MIN_IDF)).collect();
            query_weight += MIN_IDF * weighted.len() as f64;
        }

        // Per matching episode of the namespace: each document's score, and the query
        // weight it holds.
        let mut scored: BTreeMap<u64, (Vec<f64>, f64)> = BTreeMap::new();
        for (list, idf) in weighted {
            for (rowid, docs) in list {
                let Some(entry) = self.entries.get(rowid) else {
                    continue;
                };
                if entry.namespace != namespace {
                    continue;
                }
                let (scores, covered) = scored
                    .entry(*rowid)
                    .or_insert_with(|| (vec![0.0; entry.lengths.len()], 0.0));
                *covered += idf;
                for &(part, freq) in docs {
                    let part = part as usize;
                    let avg = if part == 0 { avg_whole } else { avg_passage };
                    let length = entry.lengths.get(part).copied().unwrap_or(0);
                    let f = f64::from(freq) / WEIGHT_SCALE;
                    let norm = K1 * (1.0 - B + B * f64::from(length) / avg);
                    if let Some(score) = scores.get_mut(part) {
                        *score += idf * f * (K1 + 1.0) / (f + norm);
                    }
                }
            }
        }
        let mut hits: Vec<Hit> = scored
            .into_iter()
            .filter_map(|(rowid, (scores, covered))| {
                let entry = self.entries.get(&rowid)?;
                let whole = scores.first().copied().unwrap_or(0.0);
                // A short episode (no passages) is its own best passage.
                let best = if scores.len() > 1 {
                    scores[1..].iter().copied().fold(0.0, f64::max)
                } else {
                    whole
                };
                Some(Hit {
                    rowid,
                    id: entry.id,
                    score: whole + best,
                    coverage: (covered / query_weight.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0),
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.rowid.cmp(&b.rowid)));
        hits.truncate(limit);
        hits
    }

    /// Sizes of the index, for the storage statistics.
    pub(super) fn stats(&self) -> TextIndexStats {
        let postings: u64 = self.postings.values().map(|l| l.len() as u64).sum();
        let term_bytes: usize = self.postings.keys().map(String::len).sum();
        TextIndexStats {
            documents: self.totals.episodes,
            terms: self.postings.len() as u64,
            postings,
            bytes: (term_bytes as u64) + postings * 24 + self.entries.len() as u64 * 96,
            unreadable: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_lowercased_and_stemmed() {
        assert_eq!(
            query_stems(&["Failing".into(), "connects".into(), "failed".into()]),
            ["fail", "connect"]
        );
        assert_eq!(query_stems(&["x86-64".into(), "X86".into()]), ["x86", "64"]);
    }

    #[test]
    fn long_steps_are_cut_into_passages() {
        let mut counter = EpisodeCounter::default();
        for _ in 0..5 {
            counter.add_step(&[&vec!["alpha"; 60].join(" ")]);
        }
        let docs = counter.finish();
        // 300 words of steps: the whole and one passage per step.
        assert_eq!(docs.len(), 6);
        assert_eq!(docs[0].length, 300);
        let mut short = EpisodeCounter::default();
        short.add_step(&["a short step"]);
        assert_eq!(short.finish().len(), 1);
    }
}
