//! The [`StorageBackend`](memory_core::StorageBackend) implementation, one impl block per
//! capability trait of [`memory_core::storage`]: each method takes a connection, opens its
//! transaction ([`crate::tx`]) and runs the body that lives with its tables — episodes
//! ([`crate::episodes`]), patterns, sessions, relationships, vectors, batches, transfers
//! and the full-text search.
//!
//! Writes run on the single writer connection through the group commit
//! ([`crate::group_commit`]): concurrent writes share one `BEGIN IMMEDIATE` transaction, each
//! in its own savepoint. The write lock is taken up front, so the checks a write makes (does
//! the episode exist, is it still running, how many steps does it have) cannot be
//! invalidated by another process before it commits. A write that fails is rolled back whole;
//! a transaction abandoned half-way (its task cancelled) is rolled back before the
//! connection is used again. Reads run on a reader connection (through an embedded replica,
//! on its local file).
//!
//! On a local file, what may hold SQLite for long runs where its blocking cannot stall the
//! runtime's other tasks ([`crate::off_runtime`]): every write (waiting for another
//! process's lock, inserting vectors), and the reads that scan — episode and pattern
//! listings, full-text and vector search, counts, sessions. Lookups by key (an episode, a pattern, a session) take
//! microseconds and stay in place: moving each of them off the worker costs more than it
//! saves.

use crate::codec::{self, EpisodeColumns, decode_summary, step_record};
use crate::completion;
use crate::episodes::{
    append_step_statements, appended, complete_tx, costs_query, delete_tx, insert_episode,
    list_query, load_episode, store_running_statements, stored_running,
};
use crate::error::{SqlContext, TursoError};
use crate::off_runtime::off_runtime;
use crate::storage::TursoStorage;
use crate::text_log::TextDocument;
use crate::tx::{begin_read, begin_write, finish, finish_read};
use crate::{
    batch, change_log, counts, garbage, patterns, relationships, sessions, transfer, vectors,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use memory_core::embedding::{check_chunks, check_space};
use memory_core::learning::merge;
use memory_core::limits::check_step_seqs;
use memory_core::metrics::StorageStats;
use memory_core::{
    BatchCounts, Checkpoint, Completion, Episode, EpisodeCost, EpisodeCounts, EpisodeFilter,
    EpisodeStore, EpisodeSummary, EpisodeVectors, ExecutionStep, ExportFilter, ExportSnapshot,
    ExternalChanges, Feedback, GarbageCounts, GarbagePlan, GraphStore, ImportBatch, MemoryError,
    Pattern, PatternFilter, PatternStore, Relationship, RelationshipFilter, RelationshipKind,
    Result, RetentionStore, RetrievalSession, SessionRetention, SessionStore, StatsStore,
    StepInput, TaskType, TextMatch, TransferStore, VectorMatch, VectorStore,
};
use std::sync::Arc;
use uuid::Uuid;

#[async_trait]
impl EpisodeStore for TursoStorage {
    async fn store_episode(&self, episode: &Episode) -> Result<()> {
        check_step_seqs(episode)?;
        // Encode everything before taking the write lock, so the lock is held only for I/O.
        let columns = EpisodeColumns::of(episode)?;
        let records = episode
            .steps
            .iter()
            .map(|s| step_record(&columns.id, s))
            .collect::<Result<Vec<_>, TursoError>>()?;
        if episode.ended_at.is_none() {
            let steps: Vec<(&ExecutionStep, String)> = episode.steps.iter().zip(records).collect();
            let statements = store_running_statements(episode, &columns, &steps)?;
            let count = steps.len();
            return self
                .conns
                .write_planned(statements, move |_, outcomes| {
                    Box::pin(async move { stored_running(&columns, count, outcomes) })
                })
                .await;
        }
        let doc = TextDocument::new(episode, &episode.steps);
        let episode = episode.clone();
        self.conns
            .write(move |conn| {
                Box::pin(async move {
                    let steps: Vec<(&ExecutionStep, String)> =
                        episode.steps.iter().zip(records).collect();
                    insert_episode(conn, &episode, &columns, &steps, &doc).await
                })
            })
            .await
    }

    async fn append_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
        at: DateTime<Utc>,
        max_steps: u32,
    ) -> Result<ExecutionStep> {
        let statements = append_step_statements(namespace, episode_id, &step, at, max_steps)?;
        let namespace = namespace.to_string();
        self.conns
            .write_planned(statements, move |conn, outcomes| {
                Box::pin(async move {
                    appended(conn, &namespace, episode_id, step, at, max_steps, outcomes).await
                })
            })
            .await
    }

    async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<Vec<Uuid>> {
        merge::check_learned(&completion.learned, completion.half_life_days)?;
        // Through a server: read first, then one request (see `crate::completion`); again
        // from the server itself when what was read changed meanwhile; the long way below
        // when it keeps changing.
        if self.conns.on_server() {
            for attempt in 0..completion::ATTEMPTS {
                let from_server = attempt > 0;
                let Some(basis) = completion::read_basis(
                    &self.conns,
                    namespace,
                    episode_id,
                    completion,
                    from_server,
                )
                .await?
                else {
                    break;
                };
                let (statements, pattern_ids) =
                    completion::statements(namespace, completion, basis)?;
                let written = self
                    .conns
                    .write_planned(statements, move |_, outcomes| {
                        Box::pin(async move { Ok(completion::written(outcomes, pattern_ids)) })
                    })
                    .await?;
                if let Some(pattern_ids) = written {
                    return Ok(pattern_ids);
                }
            }
        }
        let namespace = namespace.to_string();
        let completion = completion.clone();
        self.conns
            .write(move |conn| {
                Box::pin(
                    async move { complete_tx(conn, &namespace, episode_id, &completion).await },
                )
            })
            .await
    }

    async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Option<Arc<Episode>>> {
        let conn = self.conns.reader().await;
        Ok(load_episode(&conn, namespace, &episode_id.to_string())
            .await?
            .map(Arc::new))
    }

    async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>> {
        off_runtime(self.conns.local_reads(), async {
            let (sql, params) = list_query(filter);
            let conn = self.conns.reader().await;
            let mut rows = conn
                .query(&sql, libsql::params_from_iter(params))
                .await
                .ctx("list episodes")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.ctx("list episodes")? {
                let id = codec::text(&row, 0, "listed episode")?;
                let what = format!("episode {id}");
                let record = codec::text(&row, 1, &what)?;
                let step_count = codec::int(&row, 2, &what)?;
                out.push(decode_summary(&id, &record, step_count)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        half_life_days: f64,
    ) -> Result<bool> {
        let namespace = namespace.to_string();
        let deleted = self
            .conns
            .write(move |conn| {
                Box::pin(
                    async move { delete_tx(conn, &namespace, episode_id, half_life_days).await },
                )
            })
            .await?;
        if deleted {
            // The freed pages were zeroed (`secure_delete`); copying them into the database
            // file and emptying the WAL leaves no earlier copy of the episode in either.
            off_runtime(self.conns.local_writer(), self.conns.checkpoint()).await;
        }
        Ok(deleted)
    }

    async fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EpisodeCost>> {
        off_runtime(self.conns.local_reads(), async {
            let (sql, params) = costs_query(namespace, task_type, domain, limit);
            let conn = self.conns.reader().await;
            let mut rows = conn
                .query(&sql, libsql::params_from_iter(params))
                .await
                .ctx("load comparable episode costs")?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.ctx("load comparable episode costs")? {
                let rowid = codec::int(&row, 0, "episode cost")?;
                let what = format!("episode at rowid {rowid}");
                let steps = codec::to_u32(codec::int(&row, 1, &what)?, &what, "step_count")?;
                let latency_ms =
                    codec::to_u64(codec::int(&row, 2, &what)?, &what, "total_latency_ms")?;
                out.push(EpisodeCost { steps, latency_ms });
            }
            Ok(out)
        })
        .await
    }

    async fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<TextMatch>> {
        off_runtime(self.conns.local_reads(), async {
            crate::text_search::search(self, namespace, terms, limit).await
        })
        .await
    }
}

#[async_trait]
impl PatternStore for TursoStorage {
    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            patterns::list(&conn, filter).await
        })
        .await
    }

    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>> {
        let conn = self.conns.reader().await;
        patterns::get(&conn, namespace, pattern_id).await
    }

    async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        feedback: &Feedback,
    ) -> Result<()> {
        let namespace = namespace.to_string();
        let feedback = feedback.clone();
        self.conns
            .write(move |conn| {
                Box::pin(async move {
                    sessions::record_feedback(conn, &namespace, session_id, &feedback).await
                })
            })
            .await
    }
}

#[async_trait]
impl SessionStore for TursoStorage {
    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()> {
        let statements = sessions::store_statements(session, retention)?;
        let session = session.clone();
        self.conns
            .write_planned(statements, move |_, outcomes| {
                Box::pin(async move { sessions::stored(&session, outcomes) })
            })
            .await
    }

    async fn get_session(
        &self,
        namespace: &str,
        session_id: Uuid,
    ) -> Result<Option<RetrievalSession>> {
        let conn = self.conns.reader().await;
        sessions::get(&conn, namespace, session_id).await
    }

    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            transfer::sessions(&conn, namespace).await
        })
        .await
    }
}

#[async_trait]
impl VectorStore for TursoStorage {
    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        off_runtime(self.conns.local_writer(), async {
            check_space(embedder, dimension)?;
            // The usual case (the space is already this one) needs no write lock.
            {
                let conn = self.conns.reader().await;
                if let Some(space) = vectors::space(&conn).await?
                    && space.embedder == embedder
                    && space.dimension == dimension
                {
                    return Ok(());
                }
            }
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = vectors::ensure(tx, embedder, dimension).await;
            finish(tx, result).await
        })
        .await
    }

    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        off_runtime(self.conns.local_writer(), async {
            check_space(embedder, dimension)?;
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = vectors::reset(tx, embedder, dimension).await;
            finish(tx, result).await
        })
        .await
    }

    async fn vector_space(&self) -> Result<Option<(String, usize)>> {
        let conn = self.conns.reader().await;
        Ok(vectors::space(&conn)
            .await?
            .map(|s| (s.embedder, s.dimension)))
    }

    async fn store_vectors(
        &self,
        embedder: &str,
        namespace: &str,
        list: &[EpisodeVectors],
    ) -> Result<()> {
        for (i, (_, chunks)) in list.iter().enumerate() {
            check_chunks(|| format!("vectors[{i}]"), chunks)?;
        }
        if list.is_empty() {
            return Ok(());
        }
        let (embedder, namespace, list) =
            (embedder.to_string(), namespace.to_string(), list.to_vec());
        self.conns
            .write(move |conn| {
                Box::pin(async move { vectors::store(conn, &embedder, &namespace, &list).await })
            })
            .await
    }

    async fn vector_search(
        &self,
        namespace: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            // The space and the vectors come from one snapshot (a reembed may replace both).
            let tx = begin_read(&conn).await?;
            let result = vectors::search(tx, namespace, vector, limit).await;
            finish_read(tx, result).await
        })
        .await
    }

    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            vectors::of(&conn, namespace, ids).await
        })
        .await
    }

    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            vectors::episodes_without(&conn, namespace, limit).await
        })
        .await
    }

    async fn count_without_vectors(&self) -> Result<u64> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            vectors::count_without(&conn).await
        })
        .await
    }

    async fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Result<Vec<Option<Vec<f32>>>> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.conns.reader().await;
        vectors::cached(&conn, embedder, hashes).await
    }

    async fn cache_embeddings(&self, embedder: &str, entries: &[(String, Vec<f32>)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (embedder, entries) = (embedder.to_string(), entries.to_vec());
        self.conns
            .write(move |conn| {
                Box::pin(async move { vectors::cache(conn, &embedder, &entries).await })
            })
            .await
    }
}

#[async_trait]
impl GraphStore for TursoStorage {
    async fn store_relationship(&self, relationship: &Relationship) -> Result<()> {
        off_runtime(self.conns.local_writer(), async {
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = relationships::insert(tx, std::slice::from_ref(relationship)).await;
            finish(tx, result).await.map(|_| ())
        })
        .await
    }

    async fn delete_relationships(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64> {
        off_runtime(self.conns.local_writer(), async {
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = relationships::delete(tx, namespace, from, to, kind).await;
            finish(tx, result).await
        })
        .await
    }

    async fn relationships(&self, filter: &RelationshipFilter) -> Result<Vec<Relationship>> {
        let conn = self.conns.reader().await;
        relationships::list(&conn, filter).await
    }

    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint> {
        off_runtime(self.conns.local_writer(), async {
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = relationships::checkpoint(tx, checkpoint).await;
            finish(tx, result).await
        })
        .await
    }

    async fn checkpoints(
        &self,
        namespace: &str,
        episode_id: Option<Uuid>,
    ) -> Result<Vec<Checkpoint>> {
        let conn = self.conns.reader().await;
        relationships::checkpoints(&conn, namespace, episode_id).await
    }
}

#[async_trait]
impl TransferStore for TursoStorage {
    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts> {
        off_runtime(self.conns.local_writer(), async {
            if batch.is_empty() {
                return Ok(BatchCounts::default());
            }
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = batch::write(tx, batch).await;
            finish(tx, result).await
        })
        .await
    }

    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts> {
        off_runtime(self.conns.local_writer(), async {
            let conn = self.conns.writer().await;
            let tx = begin_write(&conn).await?;
            let result = async {
                let mut total = BatchCounts::default();
                for batch in batches {
                    total.add(&batch::write(tx, batch?).await?);
                }
                Ok(total)
            }
            .await;
            finish(tx, result).await
        })
        .await
    }

    async fn export_snapshot(&self, filter: &ExportFilter) -> Result<Box<dyn ExportSnapshot>> {
        let conn = self.conns.reader().await;
        Ok(Box::new(transfer::Snapshot::begin(conn, filter).await?))
    }
}

#[async_trait]
impl StatsStore for TursoStorage {
    async fn count_episodes(&self, namespace: &str) -> Result<Option<EpisodeCounts>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            let counted = counts::of_namespaces(&conn, Some(namespace)).await?;
            Ok(Some(
                counted
                    .into_iter()
                    .next()
                    .map(|(_, c)| c)
                    .unwrap_or_default(),
            ))
        })
        .await
    }

    async fn namespaces(&self) -> Result<Option<Vec<(String, EpisodeCounts)>>> {
        off_runtime(self.conns.local_reads(), async {
            let conn = self.conns.reader().await;
            Ok(Some(counts::of_namespaces(&conn, None).await?))
        })
        .await
    }

    async fn storage_stats(&self) -> Result<StorageStats> {
        off_runtime(self.conns.local_reads(), async {
            self.stats().await.map_err(MemoryError::from)
        })
        .await
    }

    async fn external_changes(&self, since: Option<u64>) -> Result<Option<ExternalChanges>> {
        // Through a replica the log is read locally: it shows others' writes as syncs bring
        // them in.
        let conn = self.conns.reader().await;
        // Reads served while the replica lacked this handle's own writes (the sync after
        // them failed) may have filled the caches without them: those writes are reported
        // like others' until the replica holds them.
        let stale = self
            .conns
            .replica()
            .and_then(|replica| replica.stale_reads());
        let own = stale.is_none().then(|| self.conns.writer_tag());
        let changes = change_log::since(&conn, since, own)
            .await
            .map_err(MemoryError::from)?;
        if let (Some(replica), Some(stale)) = (self.conns.replica(), stale) {
            replica.stale_reads_reported(stale);
        }
        Ok(Some(changes))
    }
}

#[async_trait]
impl RetentionStore for TursoStorage {
    async fn idle_running(&self, idle_since: DateTime<Utc>) -> Result<Vec<(String, Uuid)>> {
        off_runtime(self.conns.local_reads(), async {
            garbage::idle_running(&self.conns, codec::micros(idle_since)).await
        })
        .await
    }

    async fn collect_garbage(&self, plan: &GarbagePlan) -> Result<GarbageCounts> {
        off_runtime(self.conns.local_writer(), async {
            garbage::collect(&self.conns, plan).await
        })
        .await
    }
}
