//! What the store holds, counted: a namespace's episodes by outcome and its patterns (the
//! dashboard's overview), every namespace's, and the storage statistics.

use super::state::{NamespaceData, State};
use crate::EpisodeCounts;
use crate::metrics::StorageStats;

impl State {
    /// The counts of one namespace's data.
    fn counts_of(&self, data: &NamespaceData) -> EpisodeCounts {
        let mut counts = EpisodeCounts::default();
        for (_, id) in &data.listing {
            if let Some(stored) = self.episodes.get(id) {
                counts.add(stored.episode.outcome.as_ref().map(|o| o.kind()), 1);
            }
        }
        counts.patterns = data.patterns.len() as u64;
        counts
    }

    /// The body of `count_episodes`: zeros for a namespace that holds nothing.
    pub(super) fn count_episodes(&self, namespace: &str) -> EpisodeCounts {
        self.namespace(namespace)
            .map(|data| self.counts_of(data))
            .unwrap_or_default()
    }

    /// The body of `namespaces`: every namespace holding episodes or patterns, by name.
    pub(super) fn namespace_counts(&self) -> Vec<(String, EpisodeCounts)> {
        self.namespaces
            .iter()
            .map(|(name, data)| (name.clone(), self.counts_of(data)))
            .filter(|(_, c)| c.episodes() > 0 || c.patterns > 0)
            .collect()
    }

    /// The body of `storage_stats`.
    pub(super) fn storage_stats(&self) -> StorageStats {
        let with_vectors = self
            .episodes
            .values()
            .filter(|s| !s.vectors.is_empty())
            .count() as u64;
        StorageStats {
            backend: "in-memory".into(),
            location: None,
            database_bytes: None,
            episodes: self.episodes.len() as u64,
            steps: self
                .episodes
                .values()
                .map(|s| s.episode.steps.len() as u64)
                .sum(),
            patterns: self
                .namespaces
                .values()
                .map(|d| d.patterns.len() as u64)
                .sum(),
            sessions: self
                .namespaces
                .values()
                .map(|d| d.sessions.len() as u64)
                .sum(),
            vectors: with_vectors,
            episodes_without_vectors: self.count_without_vectors(),
            text_index: Some(self.text.stats()),
            ..StorageStats::default()
        }
    }
}
