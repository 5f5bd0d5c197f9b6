//! [`VectorStore`]: the store's vector space, the episodes' chunk vectors and their nearest
//! neighbour search, and the content-hash cache of embeddings, with the records those calls
//! take and return.

use crate::error::Result;
use crate::model::{Episode, EpisodeSummary};
use async_trait::async_trait;
use uuid::Uuid;

/// The vectors of a store: which embedder's space it holds, the episodes' chunk vectors and
/// the search over them, the work list of episodes not embedded yet, and the cache of
/// embeddings by content hash (for embedders that are not local).
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Declares the vector space — which embedder wrote the vectors, and their dimension — of
    /// the store. The first call creates it; a later call with the same space does nothing;
    /// a call with another space fails with `Conflict` naming both (switching takes
    /// [`VectorStore::reset_vector_space`] and re-embedding, never a mix).
    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()>;

    /// Drops every stored vector and declares a new vector space, for a re-embed.
    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()>;

    /// The current vector space, if one was declared: embedder id and dimension.
    async fn vector_space(&self) -> Result<Option<(String, usize)>>;

    /// Stores the vectors of episodes made by `embedder`, in one transaction: for each
    /// episode its chunks' vectors in chunk order (chunk 0 the task and outcome, then its
    /// steps; see [`crate::embedding::episode_chunks`]), replacing whatever it had. The
    /// store's vector space must be `embedder`'s (else `Conflict`: another process may have
    /// re-embedded since); each vector must have its dimension and an episode between 1 and
    /// [`crate::embedding::MAX_CHUNKS`] of them (else `Invalid`); an unknown episode is
    /// `NotFound`.
    async fn store_vectors(
        &self,
        embedder: &str,
        namespace: &str,
        vectors: &[EpisodeVectors],
    ) -> Result<()>;

    /// The completed episodes of `namespace` nearest to `vector` by cosine of their best
    /// matching chunk, best first, at most `limit`.
    async fn vector_search(
        &self,
        namespace: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>>;

    /// The stored first vectors (chunk 0: task and outcome) of the given episodes of
    /// `namespace` (missing ones left out), for comparing episodes with one another.
    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>>;

    /// Completed episodes that have no vector yet, of `namespace` (or of every namespace),
    /// oldest first, at most `limit`: the work list of a re-embed, or of a retrieval that
    /// indexes a few of its own namespace's before searching.
    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>>;

    /// How many completed episodes (of any namespace) have no vector yet.
    async fn count_without_vectors(&self) -> Result<u64>;

    /// Cached embeddings of texts by content hash for `embedder`, in the order asked (`None`
    /// where there is none).
    async fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Result<Vec<Option<Vec<f32>>>>;

    /// Caches embeddings by content hash for `embedder`.
    async fn cache_embeddings(&self, embedder: &str, entries: &[(String, Vec<f32>)]) -> Result<()>;
}

/// A vector-search match and its similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatch {
    /// The matching episode.
    pub summary: EpisodeSummary,
    /// Cosine similarity of its best chunk to the query vector, in `[-1, 1]`; larger is
    /// better.
    pub similarity: f64,
    /// Which of the episode's vectors matched best: 0 for the task and outcome, `n` for
    /// its `n`th chunk of steps.
    pub chunk: u32,
}

/// An episode and the vectors of its chunks, in chunk order (see
/// [`VectorStore::store_vectors`]).
pub type EpisodeVectors = (Uuid, Vec<Vec<f32>>);
