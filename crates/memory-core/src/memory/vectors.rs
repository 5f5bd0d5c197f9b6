//! The facade's vector upkeep on demand: embedding the completed episodes that have no
//! vector yet, and re-embedding everything with the current embedder (see
//! [`crate::embedding::Vectors`]; the background loop is in `background.rs`).

use super::SelfLearningMemory;
use crate::embedding::Vectors;
use crate::error::{MemoryError, Result};
use std::sync::Arc;

impl SelfLearningMemory {
    /// Embeds every completed episode without a vector (after a bulk import, or when the
    /// embedder is remote), `batch` at a time; `progress(done, total)` is called after each
    /// batch. Returns how many were embedded.
    pub async fn embed_pending(&self, batch: usize, progress: impl FnMut(u64, u64)) -> Result<u64> {
        self.timed("embed_pending", async {
            let vectors = self.require_vectors()?;
            vectors
                .embed_pending(self.storage.as_ref(), batch, progress)
                .await
        })
        .await
    }

    /// Rebuilds every vector with the current embedder: the explicit way to switch
    /// embedder or dimension. Returns how many episodes were embedded.
    pub async fn reembed(&self, batch: usize, progress: impl FnMut(u64, u64)) -> Result<u64> {
        self.timed("reembed", async {
            let vectors = self.require_vectors()?;
            vectors
                .reembed(self.storage.as_ref(), batch, progress)
                .await
        })
        .await
    }

    fn require_vectors(&self) -> Result<&Arc<Vectors>> {
        self.vectors.as_ref().ok_or_else(|| {
            MemoryError::Conflict("no embedder is configured, so there are no vectors".into())
        })
    }
}
