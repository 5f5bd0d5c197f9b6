//! The store's data: every episode by id (ids are unique across namespaces, as in the
//! libSQL store), and per namespace its listing order, patterns, context baselines,
//! sessions, checkpoints and edges; the vector space, the embedding cache and the
//! full-text index. Storing and removing an episode — with everything kept about it —
//! lives here, since batches, deletes and the single writes all need it.

use super::text::TextIndex;
use crate::{
    Checkpoint, Episode, MemoryError, OutcomeStats, Pattern, Relationship, Result, RetrievalSession,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// Everything the store holds.
#[derive(Default)]
pub(super) struct State {
    /// The next episode's row number: episodes are numbered in the order they were
    /// stored, which orders the work list of embedding and breaks ties as the libSQL
    /// store's rowids do.
    pub(super) next_rowid: u64,
    /// Every episode, by id.
    pub(super) episodes: HashMap<Uuid, StoredEpisode>,
    /// What each namespace holds besides its episodes' bodies, by name.
    pub(super) namespaces: BTreeMap<String, NamespaceData>,
    /// The declared vector space, if any.
    pub(super) vector_space: Option<VectorSpace>,
    /// Cached embeddings by (embedder id, content hash).
    pub(super) embedding_cache: BTreeMap<(String, String), Vec<f32>>,
    /// The full-text index of the completed episodes.
    pub(super) text: TextIndex,
}

/// One stored episode and what the store keeps beside it.
pub(super) struct StoredEpisode {
    /// Its place in storing order (see [`State::next_rowid`]).
    pub(super) rowid: u64,
    /// The episode with its steps, shared with the callers that read it; a write replaces
    /// it (copy on write) rather than changing what a reader holds.
    pub(super) episode: Arc<Episode>,
    /// The sum of its steps' latencies, saturating at `i64::MAX` as the libSQL store's
    /// column does.
    pub(super) total_latency_ms: i64,
    /// Its chunk vectors in chunk order; empty when it has none.
    pub(super) vectors: Vec<Vec<f32>>,
}

impl StoredEpisode {
    /// Whether it has completed.
    pub(super) fn is_complete(&self) -> bool {
        self.episode.ended_at.is_some()
    }
}

/// What one namespace holds besides its episodes' bodies.
#[derive(Default)]
pub(super) struct NamespaceData {
    /// Its episodes as `(started_at µs, id)`: the listing's order, newest last.
    pub(super) listing: BTreeSet<(i64, Uuid)>,
    /// Its patterns, by id.
    pub(super) patterns: HashMap<Uuid, Pattern>,
    /// Its patterns' ids by signature (unique within the namespace).
    pub(super) signatures: HashMap<String, Uuid>,
    /// Baseline statistics of its contexts, by scope key.
    pub(super) context_stats: BTreeMap<String, OutcomeStats>,
    /// Its retrieval sessions, by id.
    pub(super) sessions: BTreeMap<Uuid, RetrievalSession>,
    /// Checkpoints of its episodes, in storing order.
    pub(super) checkpoints: Vec<Checkpoint>,
    /// Edges between its episodes, in storing order.
    pub(super) relationships: Vec<Relationship>,
}

/// The store's vector space: which embedder wrote the vectors, and their dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VectorSpace {
    /// The embedder's id.
    pub(super) embedder: String,
    /// The vectors' dimension.
    pub(super) dimension: usize,
}

/// A timestamp at the precision the libSQL store orders and compares by: whole
/// microseconds since the Unix epoch.
pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Every tag an episode can be filtered by: its own tags and its context's, without
/// repeats, in order.
pub(super) fn tag_set(episode: &Episode) -> BTreeSet<&str> {
    episode
        .tags
        .iter()
        .chain(&episode.context.tags)
        .map(String::as_str)
        .collect()
}

/// A latency as the libSQL store sums it: clamped to `i64::MAX`.
pub(super) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl State {
    /// The episode `id` when it is in `namespace`.
    pub(super) fn episode_in(&self, namespace: &str, id: Uuid) -> Option<&StoredEpisode> {
        self.episodes
            .get(&id)
            .filter(|e| e.episode.namespace == namespace)
    }

    /// The episode `id` when it is in `namespace`, to change.
    pub(super) fn episode_in_mut(
        &mut self,
        namespace: &str,
        id: Uuid,
    ) -> Option<&mut StoredEpisode> {
        self.episodes
            .get_mut(&id)
            .filter(|e| e.episode.namespace == namespace)
    }

    /// What `namespace` holds, if it ever held anything.
    pub(super) fn namespace(&self, namespace: &str) -> Option<&NamespaceData> {
        self.namespaces.get(namespace)
    }

    /// What `namespace` holds, created empty when it held nothing yet.
    pub(super) fn namespace_mut(&mut self, namespace: &str) -> &mut NamespaceData {
        self.namespaces.entry(namespace.to_string()).or_default()
    }

    /// Stores `episode` exactly as given (steps, outcome and all) and returns how many
    /// steps it has: `Invalid` when its steps are misnumbered, `Conflict` when its id is
    /// taken (in any namespace). A completed episode is indexed for full-text search; a
    /// running one is when it completes.
    pub(super) fn insert_episode(&mut self, episode: Episode) -> Result<u64> {
        crate::limits::check_step_seqs(&episode)?;
        if self.episodes.contains_key(&episode.id) {
            return Err(MemoryError::Conflict(format!(
                "episode {} already exists",
                episode.id
            )));
        }
        let total_latency_ms = episode
            .steps
            .iter()
            .fold(0i64, |sum, s| sum.saturating_add(clamp_i64(s.latency_ms)));
        let rowid = self.next_rowid;
        self.next_rowid += 1;
        if episode.ended_at.is_some() {
            self.text.index(rowid, &episode);
        }
        self.namespace_mut(&episode.namespace)
            .listing
            .insert((micros(episode.started_at), episode.id));
        let steps = episode.steps.len() as u64;
        self.episodes.insert(
            episode.id,
            StoredEpisode {
                rowid,
                episode: Arc::new(episode),
                total_latency_ms,
                vectors: Vec::new(),
            },
        );
        Ok(steps)
    }

    /// Removes episode `id` with its listing entry, text index entry, vectors, checkpoints
    /// and edges, and returns what was stored (nothing when there was no such episode).
    /// What it taught and its retrieval session are the caller's to take back.
    pub(super) fn remove_episode(&mut self, id: Uuid) -> Option<StoredEpisode> {
        let stored = self.episodes.remove(&id)?;
        self.text.remove(stored.rowid);
        let episode = &stored.episode;
        if let Some(data) = self.namespaces.get_mut(&episode.namespace) {
            data.listing.remove(&(micros(episode.started_at), id));
            data.checkpoints.retain(|c| c.episode_id != id);
            data.relationships.retain(|r| r.from != id && r.to != id);
        }
        Some(stored)
    }
}
