//! The memory's use of an embedder against a store: making sure the store's vectors come from
//! that embedder, embedding episodes and queries (through the content-hash cache when the
//! embedder is remote), and re-embedding.
//!
//! Episodes are never embedded on the write path. Adding a vector to libSQL's ANN index costs
//! milliseconds (the graph is updated around it), which would multiply the cost of
//! completing an episode; instead a long-running process embeds them in the background
//! (`SelfLearningMemory::embed_in_background`), a retrieval in a process without one first
//! indexes a few pending episodes of its namespace (see `MemoryConfig::index_on_read`), and
//! `embed_pending`/`reembed` do the rest in batches.

use super::{Embedder, content_hash, episode_chunks};
use crate::error::{MemoryError, Result};
use crate::storage::{EpisodeVectors, StorageBackend};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, OnceCell};

/// An embedder bound to the store it writes vectors to.
#[derive(Debug)]
pub struct Vectors {
    embedder: Arc<dyn Embedder>,
    /// Set once the store's vector space is known to be this embedder's.
    checked: OnceCell<()>,
    /// Signalled when an episode is completed, to wake background embedding.
    pub(crate) completed: Notify,
    /// How many background embedding loops run in this process (see
    /// [`crate::SelfLearningMemory::embed_in_background`]); while one does, retrievals leave
    /// the backlog to it.
    background: AtomicUsize,
}

/// Counts a background embedding loop as running for as long as it lives.
pub(crate) struct BackgroundRun<'a>(&'a AtomicUsize);

impl Drop for BackgroundRun<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Vectors {
    /// Vectors from `embedder`.
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Vectors {
            embedder,
            checked: OnceCell::new(),
            completed: Notify::new(),
            background: AtomicUsize::new(0),
        }
    }

    /// Marks a background embedding loop as running until the returned guard is dropped.
    pub(crate) fn run_in_background(&self) -> BackgroundRun<'_> {
        self.background.fetch_add(1, Ordering::Relaxed);
        BackgroundRun(&self.background)
    }

    /// Whether a background loop embeds this process's completed episodes as they come.
    pub(crate) fn embedded_in_background(&self) -> bool {
        self.background.load(Ordering::Relaxed) > 0
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Makes sure the store's vectors come from this embedder (declaring the space if the
    /// store has none yet); a store written by another embedder is a `Conflict` that tells
    /// how to switch.
    pub async fn ensure_space(&self, storage: &dyn StorageBackend) -> Result<()> {
        self.checked
            .get_or_try_init(|| async {
                let (id, dim) = (self.embedder.id(), self.embedder.dimension());
                storage
                    .ensure_vector_space(id, dim)
                    .await
                    .map_err(|e| match e {
                        MemoryError::Conflict(msg) => MemoryError::Conflict(format!(
                            "{msg}; run `memory reembed` to rebuild every vector with `{id}`"
                        )),
                        other => other,
                    })
            })
            .await
            .map(|_| ())
    }

    /// Embeds `texts`, using the store's cache for a remote embedder.
    pub async fn embed(
        &self,
        storage: &dyn StorageBackend,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>> {
        if self.embedder.is_local() {
            return Ok(self.embedder.embed(texts).await?);
        }
        let id = self.embedder.id();
        let hashes: Vec<String> = texts.iter().map(|t| content_hash(t)).collect();
        let mut found = storage.cached_embeddings(id, &hashes).await?;
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| found[i].is_none()).collect();
        if !missing.is_empty() {
            let todo: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let fresh = self.embedder.embed(&todo).await?;
            let entries: Vec<(String, Vec<f32>)> = missing
                .iter()
                .zip(&fresh)
                .map(|(&i, v)| (hashes[i].clone(), v.clone()))
                .collect();
            // The cache only saves a later call; a store that cannot take the write (a
            // replica whose server is away) still gets its vectors.
            if let Err(err) = storage.cache_embeddings(id, &entries).await {
                tracing::warn!(error = %err, "could not cache embeddings");
            }
            for (&i, v) in missing.iter().zip(fresh) {
                found[i] = Some(v);
            }
        }
        Ok(found.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Embeds every completed episode that has no vector, `batch` at a time, calling
    /// `progress(done, total)` after each batch; returns how many were embedded.
    pub async fn embed_pending(
        &self,
        storage: &dyn StorageBackend,
        batch: usize,
        progress: impl FnMut(u64, u64),
    ) -> Result<u64> {
        self.embed_some(storage, None, batch, u64::MAX, progress)
            .await
    }

    /// Embeds at most `max` of `namespace`'s completed episodes that have no vector (oldest
    /// first); other namespaces' backlogs are left to their own retrievals and to
    /// `embed_pending`.
    pub async fn embed_up_to(
        &self,
        storage: &dyn StorageBackend,
        namespace: &str,
        max: u64,
    ) -> Result<u64> {
        self.embed_some(
            storage,
            Some(namespace),
            max.clamp(1, 512) as usize,
            max,
            |_, _| {},
        )
        .await
    }

    pub(crate) async fn embed_some(
        &self,
        storage: &dyn StorageBackend,
        namespace: Option<&str>,
        batch: usize,
        max: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64> {
        self.ensure_space(storage).await?;
        let total = match namespace {
            // A retrieval's few: the count of every namespace's backlog would say nothing.
            Some(_) => max,
            None => storage.count_without_vectors().await?.min(max),
        };
        let mut done = 0u64;
        progress(done, total);
        while done < max {
            let take = (batch.max(1) as u64).min(max - done) as usize;
            let episodes = storage.episodes_without_vectors(namespace, take).await?;
            if episodes.is_empty() {
                break;
            }
            // Every chunk of the batch in one call, so a model fills its batches.
            let window = self.embedder.window_chars();
            let chunks: Vec<Vec<String>> =
                episodes.iter().map(|e| episode_chunks(e, window)).collect();
            let texts: Vec<String> = chunks.iter().flatten().cloned().collect();
            let mut vectors = self.embed(storage, &texts).await?.into_iter();
            // One transaction per namespace present in the batch.
            let mut by_ns: Vec<(&str, Vec<EpisodeVectors>)> = Vec::new();
            for (ep, texts) in episodes.iter().zip(&chunks) {
                let all: Vec<Vec<f32>> = vectors.by_ref().take(texts.len()).collect();
                // A chunk without a direction (no word the embedder knows) cannot be
                // matched: left out. With none usable the first goes to the store anyway,
                // which refuses it and says why.
                let usable =
                    |v: &Vec<f32>| v.iter().any(|x| *x != 0.0) && v.iter().all(|x| x.is_finite());
                let mut chunks: Vec<Vec<f32>> = all.iter().filter(|v| usable(v)).cloned().collect();
                if chunks.is_empty() {
                    chunks.extend(all.into_iter().take(1));
                }
                let item = (ep.id, chunks);
                match by_ns.iter_mut().find(|(ns, _)| *ns == ep.namespace) {
                    Some((_, list)) => list.push(item),
                    None => by_ns.push((ep.namespace.as_str(), vec![item])),
                }
            }
            for (ns, list) in &by_ns {
                storage.store_vectors(self.embedder.id(), ns, list).await?;
            }
            done += episodes.len() as u64;
            progress(done, total.max(done));
        }
        Ok(done)
    }

    /// Drops every vector, declares this embedder's space and embeds every completed episode.
    pub async fn reembed(
        &self,
        storage: &dyn StorageBackend,
        batch: usize,
        progress: impl FnMut(u64, u64),
    ) -> Result<u64> {
        storage
            .reset_vector_space(self.embedder.id(), self.embedder.dimension())
            .await?;
        let _ = self.checked.set(());
        self.embed_pending(storage, batch, progress).await
    }
}
