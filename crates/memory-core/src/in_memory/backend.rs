//! The storage implementation, one impl block per capability trait of [`crate::storage`]
//! (together they make [`InMemoryStorage`] a [`crate::StorageBackend`]): each method takes
//! the state's lock (shared for a read, exclusive for a write) and runs the body that
//! lives with its concern. Arguments are checked before the lock is taken, where the
//! libSQL store checks them before its transaction.

use super::InMemoryStorage;
use crate::embedding::{check_chunks, check_space};
use crate::metrics::StorageStats;
use crate::{
    BatchCounts, Changed, Checkpoint, Completion, Episode, EpisodeCost, EpisodeCounts,
    EpisodeFilter, EpisodeStore, EpisodeSummary, EpisodeVectors, ExecutionStep, ExportFilter,
    ExportSnapshot, ExternalChanges, Feedback, GarbageCounts, GarbagePlan, GraphStore, ImportBatch,
    Pattern, PatternFilter, PatternStore, Relationship, RelationshipFilter, RelationshipKind,
    Result, RetentionStore, RetrievalSession, SessionRetention, SessionStore, StatsStore,
    StepInput, TaskType, TextMatch, TransferStore, VectorMatch, VectorStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

// ---- Episodes: lifecycle, reads, listing, costs, full-text search ----

#[async_trait]
impl EpisodeStore for InMemoryStorage {
    async fn store_episode(&self, episode: &Episode) -> Result<()> {
        self.write().insert_episode(episode.clone()).map(|_| ())
    }

    async fn append_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
        at: DateTime<Utc>,
        max_steps: u32,
    ) -> Result<ExecutionStep> {
        self.write()
            .append_step(namespace, episode_id, step, at, max_steps)
    }

    async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<Vec<Uuid>> {
        self.write()
            .complete_episode(namespace, episode_id, completion)
    }

    async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Option<Arc<Episode>>> {
        Ok(self
            .read()
            .episode_in(namespace, episode_id)
            .map(|s| Arc::clone(&s.episode)))
    }

    async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>> {
        Ok(self.read().list_episodes(filter))
    }

    async fn delete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        half_life_days: f64,
    ) -> Result<bool> {
        Ok(self
            .write()
            .delete_episode(namespace, episode_id, half_life_days))
    }

    async fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EpisodeCost>> {
        Ok(self
            .read()
            .comparable_costs(namespace, task_type, domain, limit))
    }

    async fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<TextMatch>> {
        Ok(self.read().search_text(namespace, terms, limit))
    }
}

// ---- Learning: patterns and feedback ----

#[async_trait]
impl PatternStore for InMemoryStorage {
    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        Ok(self.read().list_patterns(filter))
    }

    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>> {
        Ok(self.read().get_pattern(namespace, pattern_id))
    }

    async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        feedback: &Feedback,
    ) -> Result<()> {
        self.write()
            .record_feedback(namespace, session_id, feedback)
    }
}

// ---- Sessions ----

#[async_trait]
impl SessionStore for InMemoryStorage {
    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()> {
        self.write().store_session(session, retention)
    }

    async fn get_session(
        &self,
        namespace: &str,
        session_id: Uuid,
    ) -> Result<Option<RetrievalSession>> {
        Ok(self.read().get_session(namespace, session_id))
    }

    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>> {
        Ok(self.read().list_sessions(namespace))
    }
}

// ---- Vectors: the vector space, episode vectors, the embedding cache ----

#[async_trait]
impl VectorStore for InMemoryStorage {
    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        check_space(embedder, dimension)?;
        self.write().ensure_vector_space(embedder, dimension)
    }

    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        check_space(embedder, dimension)?;
        self.write().reset_vector_space(embedder, dimension);
        Ok(())
    }

    async fn vector_space(&self) -> Result<Option<(String, usize)>> {
        Ok(self
            .read()
            .vector_space
            .as_ref()
            .map(|s| (s.embedder.clone(), s.dimension)))
    }

    async fn store_vectors(
        &self,
        embedder: &str,
        namespace: &str,
        vectors: &[EpisodeVectors],
    ) -> Result<()> {
        for (i, (_, chunks)) in vectors.iter().enumerate() {
            check_chunks(|| format!("vectors[{i}]"), chunks)?;
        }
        if vectors.is_empty() {
            return Ok(());
        }
        self.write().store_vectors(embedder, namespace, vectors)
    }

    async fn vector_search(
        &self,
        namespace: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>> {
        self.read().vector_search(namespace, vector, limit)
    }

    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>> {
        Ok(self.read().vectors_of(namespace, ids))
    }

    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        Ok(self.read().episodes_without_vectors(namespace, limit))
    }

    async fn count_without_vectors(&self) -> Result<u64> {
        Ok(self.read().count_without_vectors())
    }

    async fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Result<Vec<Option<Vec<f32>>>> {
        Ok(self.read().cached_embeddings(embedder, hashes))
    }

    async fn cache_embeddings(&self, embedder: &str, entries: &[(String, Vec<f32>)]) -> Result<()> {
        self.write().cache_embeddings(embedder, entries);
        Ok(())
    }
}

// ---- Graph: relationships and checkpoints ----

#[async_trait]
impl GraphStore for InMemoryStorage {
    async fn store_relationship(&self, relationship: &Relationship) -> Result<()> {
        self.write()
            .all_or_nothing(|state, journal| {
                state.insert_relationships(std::slice::from_ref(relationship), journal)
            })
            .map(|_| ())
    }

    async fn delete_relationships(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64> {
        Ok(self.write().delete_relationships(namespace, from, to, kind))
    }

    async fn relationships(&self, filter: &RelationshipFilter) -> Result<Vec<Relationship>> {
        Ok(self.read().relationships(filter))
    }

    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint> {
        self.write().store_checkpoint(checkpoint)
    }

    async fn checkpoints(
        &self,
        namespace: &str,
        episode_id: Option<Uuid>,
    ) -> Result<Vec<Checkpoint>> {
        Ok(self.read().checkpoints(namespace, episode_id))
    }
}

// ---- Transfer: batches and export snapshots ----

#[async_trait]
impl TransferStore for InMemoryStorage {
    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts> {
        if batch.is_empty() {
            return Ok(BatchCounts::default());
        }
        self.write()
            .all_or_nothing(|state, journal| state.write_batch(batch, journal))
    }

    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts> {
        self.write().all_or_nothing(|state, journal| {
            let mut total = BatchCounts::default();
            for batch in batches {
                total.add(&state.write_batch(batch?, journal)?);
            }
            Ok(total)
        })
    }

    async fn export_snapshot(&self, filter: &ExportFilter) -> Result<Box<dyn ExportSnapshot>> {
        Ok(Box::new(self.read().export_snapshot(filter)))
    }
}

// ---- Retention: idle episodes and garbage ----

#[async_trait]
impl RetentionStore for InMemoryStorage {
    async fn idle_running(&self, idle_since: DateTime<Utc>) -> Result<Vec<(String, Uuid)>> {
        Ok(self.read().idle_running(idle_since))
    }

    async fn collect_garbage(&self, plan: &GarbagePlan) -> Result<GarbageCounts> {
        Ok(self.write().collect_garbage(plan))
    }
}

// ---- Statistics: counts, namespaces, figures, other writers ----

#[async_trait]
impl StatsStore for InMemoryStorage {
    /// Nothing, always: the store lives in this process and every write goes through this
    /// handle, so there are no other writers' changes to report (position 0, no keys).
    async fn external_changes(&self, _since: Option<u64>) -> Result<Option<ExternalChanges>> {
        Ok(Some(ExternalChanges {
            position: 0,
            changed: Changed::Keys(Vec::new()),
        }))
    }

    async fn count_episodes(&self, namespace: &str) -> Result<Option<EpisodeCounts>> {
        Ok(Some(self.read().count_episodes(namespace)))
    }

    async fn namespaces(&self) -> Result<Option<Vec<(String, EpisodeCounts)>>> {
        Ok(Some(self.read().namespace_counts()))
    }

    /// Counts of everything stored and the full-text index's size; no file, no
    /// connections, no write queue.
    async fn storage_stats(&self) -> Result<StorageStats> {
        Ok(self.read().storage_stats())
    }
}
