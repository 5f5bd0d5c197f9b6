//! The default embedder: feature hashing of words, word pairs and character trigrams.
//!
//! Each feature is hashed (FNV-1a) to a position in a fixed-size vector with a hashed sign,
//! weighted (words 1.0, word pairs 0.6, character trigrams 0.35, so shared spelling —
//! "timeout"/"timeouts", "deploy"/"deployment" — counts without dominating), and the vector
//! is L2-normalised. No model, no download, no network: the same text always gives the same
//! vector, on any machine, in microseconds.

use super::{EmbedError, Embedder, normalize};
use crate::stable_hash::Fnv1a64;
use async_trait::async_trait;

const WORD: f32 = 1.0;
const PAIR: f32 = 0.6;
const TRIGRAM: f32 = 0.35;

/// Local, deterministic embedder by feature hashing.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dimension: usize,
    id: String,
}

impl HashingEmbedder {
    /// The default dimension.
    pub const DEFAULT_DIMENSION: usize = 384;

    /// An embedder producing vectors of `dimension` (at least 16).
    pub fn new(dimension: usize) -> Self {
        let dimension = dimension.max(16);
        HashingEmbedder {
            dimension,
            id: format!("hash-v1-{dimension}"),
        }
    }

    /// Embeds one text, synchronously.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dimension];
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        for (i, w) in words.iter().enumerate() {
            self.add(&mut v, "w", w, WORD);
            if let Some(next) = words.get(i + 1) {
                self.add(&mut v, "p", &format!("{w} {next}"), PAIR);
            }
            let chars: Vec<char> = format!("^{w}$").chars().collect();
            if chars.len() > 4 {
                for tri in chars.windows(3) {
                    let t: String = tri.iter().collect();
                    self.add(&mut v, "c", &t, TRIGRAM);
                }
            }
        }
        normalize(&mut v);
        v
    }

    fn add(&self, v: &mut [f32], kind: &str, feature: &str, weight: f32) {
        let mut hash = Fnv1a64::new();
        hash.write(kind.as_bytes());
        hash.write(&[0]);
        hash.write(feature.as_bytes());
        let h = hash.finish();
        let index = (h % self.dimension as u64) as usize;
        let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
        v[index] += sign * weight;
    }
}

impl Default for HashingEmbedder {
    fn default() -> Self {
        HashingEmbedder::new(Self::DEFAULT_DIMENSION)
    }
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn is_local(&self) -> bool {
        true
    }

    fn is_semantic(&self) -> bool {
        false
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::cosine;

    #[test]
    fn deterministic_normalised_and_sized() {
        let e = HashingEmbedder::default();
        let a = e.embed_one("Fix the flaky checkout test");
        assert_eq!(a, e.embed_one("Fix the flaky checkout test"));
        assert_eq!(a.len(), 384);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(e.id(), "hash-v1-384");
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn feature_positions_and_signs_are_pinned() {
        // Taken from the hand-written FNV-1a loop this embedder first used: stored vectors
        // of `hash-v1-*` depend on every position and sign staying put.
        let e = HashingEmbedder::new(64);
        let signed = |text: &str| -> Vec<(usize, bool)> {
            e.embed_one(text)
                .iter()
                .enumerate()
                .filter(|(_, x)| **x != 0.0)
                .map(|(i, x)| (i, *x > 0.0))
                .collect()
        };
        assert_eq!(signed("ab"), vec![(1, true)]);
        assert_eq!(
            signed("build fails"),
            vec![
                (0, false),
                (6, false),
                (8, false),
                (21, false),
                (26, false),
                (30, false),
                (33, true),
                (35, false),
                (46, false),
                (52, false),
                (57, false),
                (62, true)
            ]
        );
        let v = e.embed_one("build fails");
        assert!((v[26] + 0.510_976_1).abs() < 1e-6 && (v[33] - 0.357_683_3).abs() < 1e-6);
    }

    #[test]
    fn similar_texts_score_higher_than_unrelated_ones() {
        let e = HashingEmbedder::default();
        let q = e.embed_one("checkout test times out in CI");
        let similar = e.embed_one("the checkout tests keep timing out on the CI runner");
        let unrelated = e.embed_one("write onboarding documentation for new hires");
        assert!(cosine(&q, &similar) > cosine(&q, &unrelated) + 0.2);
    }

    #[test]
    fn thousands_of_texts_per_second() {
        // Not a timing assertion: a smoke check that embedding is cheap enough to run inline.
        let e = HashingEmbedder::default();
        let text = "Duplicate signup with an existing email crashes the users handler".repeat(3);
        let v: Vec<Vec<f32>> = (0..1_000).map(|_| e.embed_one(&text)).collect();
        assert_eq!(v.len(), 1_000);
    }
}
