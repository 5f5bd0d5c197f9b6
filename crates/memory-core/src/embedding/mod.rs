//! Embeddings: turning text into vectors so that retrieval can match meaning, not only words.
//!
//! [`Embedder`] is the one interface; [`HashingEmbedder`] is the default — local,
//! deterministic, dependency-free and fast — and other crates provide remote or neural ones.
//! Vectors from different embedders are never mixed: a store remembers which embedder (by
//! [`Embedder::id`]) wrote its vectors, and switching needs an explicit re-embed.
//!
//! [`EmbedError`], what an embedder fails with, is defined in [`crate::error`] beside the
//! [`MemoryError`](crate::MemoryError) that carries it.

mod checks;
mod chunks;
mod hashing;
mod vectors;

pub use checks::{
    MAX_DIMENSION, MAX_EMBEDDER_ID, check_against_space, check_chunks, check_space, check_vector,
    no_space, wrong_dimension,
};
pub use chunks::{DEFAULT_WINDOW_CHARS, MAX_CHUNKS, episode_chunks};

pub use crate::error::EmbedError;
pub use hashing::HashingEmbedder;
pub use vectors::Vectors;

use async_trait::async_trait;
use std::fmt::Debug;

/// Turns texts into vectors of a fixed dimension.
#[async_trait]
pub trait Embedder: Send + Sync + Debug {
    /// A stable name of the model and its settings (e.g. `hash-v1-384`,
    /// `openai:text-embedding-3-small:1536`); vectors with different ids are never compared.
    fn id(&self) -> &str;

    /// The length of every vector.
    fn dimension(&self) -> usize;

    /// Whether embedding is cheap enough that caching its vectors is not worth a lookup:
    /// in-process, no I/O, microseconds per text (the hashing embedder). A remote embedder,
    /// and an in-process neural model at milliseconds per text, report `false`, and their
    /// vectors go through the content-hash cache.
    fn is_local(&self) -> bool;

    /// Whether its vectors carry meaning beyond the words of the text (a trained model), as
    /// opposed to a hash of the words themselves: decides how far hybrid retrieval trusts
    /// them beside full-text search (see `RankingConfig::vector_weight_semantic`).
    fn is_semantic(&self) -> bool {
        true
    }

    /// How much text one vector can stand for, in characters: an episode's steps are
    /// embedded in chunks of this length (see [`episode_chunks`]). A model that reads a
    /// bounded number of tokens reports what fits in them.
    fn window_chars(&self) -> usize {
        DEFAULT_WINDOW_CHARS
    }

    /// One L2-normalised vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine similarity of two vectors (their dot product when both are L2-normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A 128-bit FNV-1a hash of `text`, as 32 hex digits: the key of an embedding cache entry
/// (together with the embedder id).
pub fn content_hash(text: &str) -> String {
    format!("{:032x}", crate::stable_hash::fnv1a128(text.as_bytes()))
}

/// The text of an episode's first vector (chunk 0, see [`episode_chunks`]): what the task
/// was and how it ended.
///
/// Context (domain, language, task type) and tool names are left out on purpose: they are
/// shared by many unrelated episodes, would make those look alike, and are matched by the
/// context signal and by full-text search already.
pub fn episode_text(episode: &crate::model::Episode) -> String {
    match &episode.outcome {
        Some(o) => format!("{}\n{}", episode.task_description, o.full_text()),
        None => episode.task_description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_and_normalize() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &v), 0.0);
    }

    #[test]
    fn content_hash_is_stable() {
        assert_eq!(content_hash("abc"), content_hash("abc"));
        assert_ne!(content_hash("abc"), content_hash("abd"));
        assert_eq!(content_hash("").len(), 32);
        // Pinned: stored embedding-cache entries are keyed by these.
        assert_eq!(content_hash(""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(content_hash("abc"), "a68d622cec8b5822836dbc7977af7f3b");
        assert_eq!(
            content_hash("Fix the flaky checkout test"),
            "69ea0537957707d076353f974095895e"
        );
    }
}
