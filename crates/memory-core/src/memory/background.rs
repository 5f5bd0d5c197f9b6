//! The facade's background embedding: [`SelfLearningMemory::embed_in_background`] and its
//! settings, [`BackgroundEmbedding`].

use super::SelfLearningMemory;
use std::time::Duration;

/// How a long-running process embeds episodes in the background (see
/// [`SelfLearningMemory::embed_in_background`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundEmbedding {
    /// Episodes embedded together: one embedder call for all their chunks, one write per
    /// namespace. Small enough that a write holds the store's write lock briefly (each
    /// vector insert updates the index's graph, milliseconds each).
    pub batch: usize,
    /// How often to look for episodes completed by other processes when idle.
    pub poll: Duration,
    /// The longest wait after failures (the wait doubles from `poll`).
    pub max_backoff: Duration,
}

impl Default for BackgroundEmbedding {
    fn default() -> Self {
        BackgroundEmbedding {
            batch: 8,
            poll: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl SelfLearningMemory {
    /// Embeds completed episodes that have no vectors as they appear, until the future is
    /// dropped: what processes that run for a while (`memory serve`, `memory mcp`) run so
    /// that vector search covers the store without a retrieval or a
    /// `memory reembed --missing` having to do it. Returns at once when there is no embedder.
    ///
    /// The loop takes the oldest completed episodes without vectors, of every namespace, a
    /// batch at a time, and stores their chunk vectors (see
    /// [`crate::embedding::episode_chunks`]). A completion in this process wakes it at once;
    /// episodes completed or imported by other processes are found by looking again every
    /// [`BackgroundEmbedding::poll`]. A failure (the embedder down, another process
    /// re-embedding with another model) is logged and retried after a wait that doubles up
    /// to [`BackgroundEmbedding::max_backoff`]; it never stops the process or a retrieval.
    /// While it runs, a retrieval embeds nothing itself (it would embed a few of its
    /// namespace's pending episodes first, `MemoryConfig::index_on_read`): after an import,
    /// that write made every retrieval wait ~0.3 s while the backlog lasted.
    pub async fn embed_in_background(&self, settings: BackgroundEmbedding) {
        let Some(vectors) = self.vectors.clone() else {
            return;
        };
        // While this runs, retrievals leave the backlog to it rather than embed on their
        // critical path.
        let _running = vectors.run_in_background();
        let batch = settings.batch.max(1);
        let mut wait = settings.poll;
        loop {
            let embedded = self
                .timed(
                    "embed_background",
                    vectors.embed_some(self.storage.as_ref(), None, batch, batch as u64, |_, _| {}),
                )
                .await;
            match embedded {
                // A full batch: more are probably waiting.
                Ok(n) if n >= batch as u64 => {
                    wait = settings.poll;
                    tracing::debug!(episodes = n, "embedded in the background");
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(episodes = n, "embedded in the background");
                    }
                    wait = settings.poll;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = wait.as_secs_f64(), "background embedding failed");
                    wait = (wait * 2).min(settings.max_backoff.max(settings.poll));
                }
            }
            tokio::select! {
                () = vectors.completed.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
