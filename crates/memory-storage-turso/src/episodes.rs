//! The [`StorageBackend`] implementation: every episode query and write, and the transaction
//! handling of the pattern and session methods, whose bodies live in [`crate::patterns`] and
//! [`crate::sessions`].
//!
//! Writes run on the single writer connection through the group commit
//! ([`crate::group_commit`]): concurrent writes share one `BEGIN IMMEDIATE` transaction, each
//! in its own savepoint. The write lock is taken up front, so the checks a write makes (does
//! the episode exist, is it still running, how many steps does it have) cannot be
//! invalidated by another process before it commits. A write that fails is rolled back whole;
//! a transaction abandoned half-way (its task cancelled) is rolled back before the
//! connection is used again.
//!
//! Completing an episode also merges what it taught into the namespace's patterns
//! ([`crate::patterns::merge_learned`]) inside the same transaction, and writes the ids of
//! those patterns into the episode's record.
//!
//!
//! Reads run on a reader connection. `get_episode` reads its two tables inside one read
//! transaction so that the episode and its steps come from the same snapshot; so do the
//! vector reads, whose table a concurrent re-embed may drop and recreate.

use crate::codec::{
    self, EpisodeColumns, clamp_i64, decode_episode, decode_step, decode_summary, micros,
    outcome_kind, step_record, tag_set,
};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::storage::TursoStorage;
use crate::text_log::{self, TextDocument};
use crate::{batch, patterns, relationships, sessions, transfer, vectors};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use libsql::{Rows, Value};
use memory_core::export::ContextStatsRecord;
use memory_core::metrics::StorageStats;
use memory_core::{
    BatchCounts, Checkpoint, Completion, Episode, EpisodeCost, EpisodeFilter, EpisodePage,
    EpisodeStatus, EpisodeSummary, EpisodeVectors, ExecutionStep, Feedback, ImportBatch,
    MemoryError, Pattern, PatternFilter, Relationship, RelationshipFilter, RelationshipKind,
    Result, RetrievalSession, SessionRetention, StepInput, StorageBackend, TaskType, TextMatch,
    ValidationError, VectorMatch,
};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

#[async_trait]
impl StorageBackend for TursoStorage {
    async fn store_episode(&self, episode: &Episode) -> Result<()> {
        check_step_seqs(episode)?;
        // Encode everything before taking the write lock, so the lock is held only for I/O.
        let columns = EpisodeColumns::of(episode)?;
        let records = episode
            .steps
            .iter()
            .map(|s| step_record(&columns.id, s))
            .collect::<Result<Vec<_>, TursoError>>()?;
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
        let namespace = namespace.to_string();
        self.conns
            .write(move |conn| {
                Box::pin(async move {
                    append_step_tx(conn, &namespace, episode_id, step, at, max_steps).await
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
        patterns::check_learned(completion)?;
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
    }

    async fn delete_episode(&self, namespace: &str, episode_id: Uuid) -> Result<bool> {
        let namespace = namespace.to_string();
        self.conns
            .write(move |conn| {
                Box::pin(async move { delete_tx(conn, &namespace, &episode_id.to_string()).await })
            })
            .await
    }

    async fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EpisodeCost>> {
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
            let latency_ms = codec::to_u64(codec::int(&row, 2, &what)?, &what, "total_latency_ms")?;
            out.push(EpisodeCost { steps, latency_ms });
        }
        Ok(out)
    }

    async fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<TextMatch>> {
        crate::text_search::search(self, namespace, terms, limit).await
    }

    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        let conn = self.conns.reader().await;
        patterns::list(&conn, filter).await
    }

    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>> {
        let conn = self.conns.reader().await;
        patterns::get(&conn, namespace, pattern_id).await
    }

    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()> {
        let session = session.clone();
        let retention = *retention;
        self.conns
            .write(move |conn| {
                Box::pin(async move { sessions::store(conn, &session, &retention).await })
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

    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        vectors::check_space(embedder, dimension)?;
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
    }

    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        vectors::check_space(embedder, dimension)?;
        let conn = self.conns.writer().await;
        let tx = begin_write(&conn).await?;
        let result = vectors::reset(tx, embedder, dimension).await;
        finish(tx, result).await
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
            vectors::check_chunks(|| format!("vectors[{i}]"), chunks)?;
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
        let conn = self.conns.reader().await;
        // The space and the vectors come from one snapshot (a reembed may replace both).
        let tx = begin_read(&conn).await?;
        let result = vectors::search(tx, namespace, vector, limit).await;
        finish_read(tx, result).await
    }

    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>> {
        let conn = self.conns.reader().await;
        // The space and the vectors come from one snapshot (a reembed may replace both).
        let tx = begin_read(&conn).await?;
        let result = vectors::of(tx, namespace, ids).await;
        finish_read(tx, result).await
    }

    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        let conn = self.conns.reader().await;
        vectors::episodes_without(&conn, namespace, limit).await
    }

    async fn count_without_vectors(&self) -> Result<u64> {
        let conn = self.conns.reader().await;
        vectors::count_without(&conn).await
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

    async fn external_change_marker(&self) -> Result<Option<u64>> {
        if self.conns.is_replica() {
            // The write version the replica holds: read locally, it moves when a sync brings
            // another process's writes (this handle's own are counted as they commit).
            let reader = self.conns.reader().await;
            return reader
                .server_change_marker()
                .await
                .ctx("read the store's write version")
                .map_err(MemoryError::from);
        }
        if self.conns.is_server() {
            // The store's write version, which every write through a server raises; this
            // handle's own raises do not count (see `WriteVersions`).
            return match self.conns.try_writer().await {
                Some(writer) => writer
                    .server_change_marker()
                    .await
                    .ctx("read the store's write version")
                    .map_err(MemoryError::from),
                None => Ok(Some(self.conns.last_server_marker())),
            };
        }
        // `data_version` changes when a connection other than the one asking commits. Asked
        // on the writer, which makes all of this handle's commits, it changes only for
        // other writers. A busy writer is not waited for: the version it noted after its
        // latest batch is as good.
        match self.conns.try_writer().await {
            Some(writer) => Ok(Some(
                writer.data_version().await.ctx("read the data version")?,
            )),
            None => Ok(self.conns.last_data_version()),
        }
    }

    async fn storage_stats(&self) -> Result<StorageStats> {
        self.stats().await.map_err(MemoryError::from)
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

    async fn store_relationship(&self, relationship: &Relationship) -> Result<()> {
        let conn = self.conns.writer().await;
        let tx = begin_write(&conn).await?;
        let result = relationships::insert(tx, std::slice::from_ref(relationship)).await;
        finish(tx, result).await.map(|_| ())
    }

    async fn delete_relationships(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64> {
        let conn = self.conns.writer().await;
        let tx = begin_write(&conn).await?;
        let result = relationships::delete(tx, namespace, from, to, kind).await;
        finish(tx, result).await
    }

    async fn relationships(&self, filter: &RelationshipFilter) -> Result<Vec<Relationship>> {
        let conn = self.conns.reader().await;
        relationships::list(&conn, filter).await
    }

    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint> {
        let conn = self.conns.writer().await;
        let tx = begin_write(&conn).await?;
        let result = relationships::checkpoint(tx, checkpoint).await;
        finish(tx, result).await
    }

    async fn checkpoints(
        &self,
        namespace: &str,
        episode_id: Option<Uuid>,
    ) -> Result<Vec<Checkpoint>> {
        let conn = self.conns.reader().await;
        relationships::checkpoints(&conn, namespace, episode_id).await
    }

    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts> {
        if batch.is_empty() {
            return Ok(BatchCounts::default());
        }
        let conn = self.conns.writer().await;
        let tx = begin_write(&conn).await?;
        let result = batch::write(tx, batch).await;
        finish(tx, result).await
    }

    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts> {
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
    }

    async fn export_episodes(&self, page: &EpisodePage) -> Result<Vec<Episode>> {
        let conn = self.conns.reader().await;
        let tx = begin_read(&conn).await?;
        let result = transfer::episodes(tx, page).await;
        finish_read(tx, result).await
    }

    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>> {
        let conn = self.conns.reader().await;
        transfer::sessions(&conn, namespace).await
    }

    async fn list_context_stats(&self, namespace: &str) -> Result<Vec<ContextStatsRecord>> {
        let conn = self.conns.reader().await;
        transfer::context_stats(&conn, namespace).await
    }
}

/// Starts a write transaction on `conn`, taking the database's write lock at once.
async fn begin_write(conn: &Conn) -> Result<&Conn, TursoError> {
    conn.begin_write().await.ctx("begin write transaction")?;
    Ok(conn)
}

/// Starts a read transaction on `conn`: everything read in it comes from one snapshot.
pub(crate) async fn begin_read(conn: &Conn) -> Result<&Conn, TursoError> {
    conn.begin_read().await.ctx("begin read")?;
    Ok(conn)
}

/// Ends the read transaction on `tx` and passes `result` on.
pub(crate) async fn finish_read<T>(tx: &Conn, result: Result<T>) -> Result<T> {
    tx.reset_statements();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    if let Err(err) = tx.end_read(end).await {
        if result.is_ok() {
            return Err(TursoError::Sql {
                context: "end read",
                source: err,
            }
            .into());
        }
        tracing::warn!(error = %err, "ending a failed read failed");
    }
    result
}

/// Commits the write transaction on `tx` if `result` is a success, rolls it back
/// otherwise, and passes `result` on.
pub(crate) async fn finish<T>(tx: &Conn, result: Result<T>) -> Result<T> {
    // A statement not yet reset still counts as running, which would block the commit.
    tx.reset_statements();
    match result {
        Ok(value) => {
            tx.commit_write().await.ctx("commit")?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = tx.execute("ROLLBACK", ()).await {
                tracing::warn!(error = %rollback, "rollback after a failed operation failed");
            }
            Err(err)
        }
    }
}

/// Reads the rest of `rows`, so that the statement behind it is finished before the
/// transaction commits (a write with `RETURNING` is only complete once fully stepped).
async fn drain(rows: &mut Rows, context: &'static str) -> Result<(), TursoError> {
    while rows.next().await.ctx(context)?.is_some() {}
    Ok(())
}

/// Checks that an episode's steps are numbered 1, 2, 3, … in order, as stored steps must be
/// (the next appended step takes `step_count + 1`).
pub(crate) fn check_step_seqs(episode: &Episode) -> Result<(), ValidationError> {
    for (i, step) in episode.steps.iter().enumerate() {
        let expected = i as u64 + 1;
        if u64::from(step.seq) != expected {
            return Err(ValidationError::new(
                format!("steps[{i}].seq"),
                format!(
                    "is {}; steps must be numbered 1, 2, 3, … in order, so it should be {expected}",
                    step.seq
                ),
            ));
        }
    }
    Ok(())
}

/// The body of `store_episode`.
async fn insert_episode(
    conn: &Conn,
    episode: &Episode,
    cols: &EpisodeColumns,
    steps: &[(&ExecutionStep, String)],
    doc: &TextDocument,
) -> Result<()> {
    conn.execute(
        "INSERT INTO episodes (id, namespace, task_type, domain, language, framework, \
         outcome_kind, reward, started_at, ended_at, step_count, total_latency_ms, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        libsql::params![
            cols.id.as_str(),
            cols.namespace.as_str(),
            cols.task_type,
            cols.domain.clone(),
            cols.language.clone(),
            cols.framework.clone(),
            cols.outcome_kind,
            cols.reward,
            cols.started_at,
            cols.ended_at,
            cols.step_count,
            cols.total_latency_ms,
            cols.record.as_str()
        ],
    )
    .await
    .map_err(|err| {
        // Ids are unique across namespaces.
        let taken = || format!("episode {} already exists", cols.id);
        crate::error::taken_or(err, "episodes.id", taken, "insert episode")
    })?;
    let rowid = conn.last_insert_rowid();

    if !steps.is_empty() {
        let insert = conn.prepare(INSERT_STEP).await.ctx("prepare step insert")?;
        for (step, record) in steps {
            insert
                .execute(step_params(rowid, step, record))
                .await
                .ctx("insert step")?;
            insert.reset();
        }
    }

    let tags = tag_set(episode);
    if !tags.is_empty() {
        let tags = serde_json::to_string(&tags).map_err(|source| TursoError::Encode {
            what: "the tags".into(),
            source,
        })?;
        conn.execute(
            "INSERT INTO episode_tags (episode_rowid, tag) SELECT ?1, value FROM json_each(?2)",
            libsql::params![rowid, tags],
        )
        .await
        .ctx("insert tags")?;
    }

    // A running episode is indexed when it completes: search only returns completed
    // episodes, and indexing twice would double the index writes of every episode.
    if episode.ended_at.is_some() {
        doc.record(conn, rowid).await?;
    }
    tracing::debug!(id = %cols.id, namespace = %cols.namespace, steps = steps.len(), "stored episode");
    Ok(())
}

const INSERT_STEP: &str = "INSERT INTO steps (episode_rowid, seq, at, tool, status, latency_ms, \
                           record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// The parameters of [`INSERT_STEP`].
fn step_params(rowid: i64, step: &ExecutionStep, record: &str) -> Vec<Value> {
    vec![
        Value::from(rowid),
        Value::from(i64::from(step.seq)),
        Value::from(micros(step.at)),
        Value::from(step.tool.as_str()),
        Value::from(step.result.status().as_str()),
        Value::from(clamp_i64(step.latency_ms)),
        Value::from(record),
    ]
}

/// The body of `append_step`.
async fn append_step_tx(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    step: StepInput,
    at: DateTime<Utc>,
    max_steps: u32,
) -> Result<ExecutionStep> {
    let id = episode_id.to_string();
    let latency = clamp_i64(step.latency_ms);
    // Claim the next seq and add the latency in one statement; the guard in the WHERE clause
    // is what enforces "running" and the step limit. The sum saturates instead of
    // overflowing into a float.
    let mut claimed = conn
        .query(
            "UPDATE episodes SET step_count = step_count + 1, \
             total_latency_ms = CASE WHEN total_latency_ms > 9223372036854775807 - ?1 \
                 THEN 9223372036854775807 ELSE total_latency_ms + ?1 END \
             WHERE namespace = ?2 AND id = ?3 AND ended_at IS NULL AND step_count < ?4 \
             RETURNING step_count, rowid",
            libsql::params![latency, namespace, id.as_str(), i64::from(max_steps)],
        )
        .await
        .ctx("claim step number")?;
    let claim = match claimed.next().await.ctx("claim step number")? {
        Some(row) => {
            let what = format!("episode {id}");
            Some((codec::int(&row, 0, &what)?, codec::int(&row, 1, &what)?))
        }
        None => None,
    };
    drain(&mut claimed, "claim step number").await?;
    drop(claimed);

    let Some((seq, rowid)) = claim else {
        return Err(why_no_step(conn, namespace, &id, max_steps).await);
    };
    let seq = codec::to_u32(seq, &format!("episode {id}"), "step_count")?;
    let step = step.into_step(seq, at);
    let record = step_record(&id, &step)?;
    conn.execute(INSERT_STEP, step_params(rowid, &step, &record))
        .await
        .ctx("insert step")?;
    Ok(step)
}

/// Explains why a step could not be claimed for an episode.
async fn why_no_step(conn: &Conn, namespace: &str, id: &str, max_steps: u32) -> MemoryError {
    let state = async {
        let mut rows = conn
            .query(
                "SELECT ended_at, step_count FROM episodes WHERE namespace = ?1 AND id = ?2",
                [namespace, id],
            )
            .await
            .ctx("load episode state")?;
        let Some(row) = rows.next().await.ctx("load episode state")? else {
            return Ok::<_, TursoError>(None);
        };
        let what = format!("episode {id}");
        Ok(Some((
            codec::opt_int(&row, 0, &what)?,
            codec::int(&row, 1, &what)?,
        )))
    };
    match state.await {
        Err(e) => e.into(),
        Ok(None) => MemoryError::episode_not_found(namespace, id),
        Ok(Some((Some(_), _))) => MemoryError::Conflict(format!(
            "episode {id} is already completed; steps cannot be added"
        )),
        Ok(Some((None, count))) => MemoryError::Conflict(format!(
            "episode {id} already has {count} steps; the limit is {max_steps}"
        )),
    }
}

/// The body of `complete_episode`: checks, merges the lessons into the patterns, then
/// completes the row and re-indexes the episode; returns the patterns' ids.
async fn complete_tx(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    completion: &Completion,
) -> Result<Vec<Uuid>> {
    let id = episode_id.to_string();
    let what = format!("episode {id}");
    let mut rows = conn
        .query(
            "SELECT rowid, ended_at, step_count, record FROM episodes \
             WHERE namespace = ?1 AND id = ?2",
            [namespace, id.as_str()],
        )
        .await
        .ctx("load episode")?;
    let Some(row) = rows.next().await.ctx("load episode")? else {
        return Err(MemoryError::episode_not_found(namespace, &id));
    };
    let rowid = codec::int(&row, 0, &what)?;
    let ended_at = codec::opt_int(&row, 1, &what)?;
    let step_count = codec::int(&row, 2, &what)?;
    let record = codec::text(&row, 3, &what)?;
    drop(row);
    drop(rows);

    if ended_at.is_some() {
        return Err(MemoryError::Conflict(format!(
            "episode {id} is already completed"
        )));
    }
    if step_count != i64::from(completion.expected_steps) {
        return Err(MemoryError::Stale(format!(
            "episode {id} has {step_count} steps but the completion was computed from {}; \
             reload it and try again",
            completion.expected_steps
        )));
    }

    let mut episode = decode_episode(&id, &record)?;
    let pattern_ids = patterns::merge_learned(conn, namespace, completion).await?;
    episode.steps = Vec::new();
    episode.pattern_ids = pattern_ids.clone();
    episode.ended_at = Some(completion.ended_at);
    episode.outcome = Some(completion.outcome.clone());
    episode.reward = Some(completion.reward.clone());
    episode.reflection = Some(completion.reflection.clone());
    let record = codec::episode_record(&episode)?;

    let changed = conn
        .execute(
            "UPDATE episodes SET record = ?1, outcome_kind = ?2, reward = ?3, ended_at = ?4 \
             WHERE rowid = ?5 AND ended_at IS NULL AND step_count = ?6",
            libsql::params![
                record,
                outcome_kind(&completion.outcome),
                completion.reward.total,
                micros(completion.ended_at),
                rowid,
                step_count
            ],
        )
        .await
        .ctx("complete episode")?;
    if changed != 1 {
        // Unreachable while we hold the write lock; kept so the guard is never silently moot.
        return Err(MemoryError::Conflict(format!(
            "episode {id} changed while it was being completed; reload it and try again"
        )));
    }

    // The steps the completion was computed from are the stored ones (the count matched
    // under the write lock, and steps are append-only), so they need not be read back.
    let document = match &completion.steps {
        Some(steps) if steps.len() as i64 == step_count => TextDocument::new(&episode, steps),
        _ => TextDocument::new(&episode, &load_steps(conn, rowid, &id).await?),
    };
    document.record(conn, rowid).await?;
    tracing::debug!(%id, namespace, outcome = outcome_kind(&completion.outcome), patterns = pattern_ids.len(), "completed episode");
    Ok(pattern_ids)
}

/// Loads an episode's steps in order.
pub(crate) async fn load_steps(
    conn: &Conn,
    rowid: i64,
    id: &str,
) -> Result<Vec<ExecutionStep>, TursoError> {
    let mut rows = conn
        .query(
            "SELECT seq, record FROM steps WHERE episode_rowid = ?1 ORDER BY seq",
            [rowid],
        )
        .await
        .ctx("load steps")?;
    let mut steps = Vec::new();
    while let Some(row) = rows.next().await.ctx("load steps")? {
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 0, &what)?;
        let record = codec::text(&row, 1, &what)?;
        steps.push(decode_step(id, seq, &record)?);
    }
    Ok(steps)
}

/// The steps of the episodes `episodes` (rowid, id), by rowid, in one statement.
pub(crate) async fn load_steps_of(
    conn: &Conn,
    episodes: &[(i64, &str)],
) -> Result<HashMap<i64, Vec<ExecutionStep>>, TursoError> {
    let mut out: HashMap<i64, Vec<ExecutionStep>> = HashMap::with_capacity(episodes.len());
    if episodes.is_empty() {
        return Ok(out);
    }
    let ids: HashMap<i64, &str> = episodes.iter().copied().collect();
    let rowids = serde_json::to_string(&ids.keys().collect::<Vec<_>>()).map_err(|source| {
        TursoError::Encode {
            what: "episode rowids".into(),
            source,
        }
    })?;
    let mut rows = conn
        .query(
            "SELECT episode_rowid, seq, record FROM steps \
             WHERE episode_rowid IN (SELECT value FROM json_each(?1)) \
             ORDER BY episode_rowid, seq",
            [rowids],
        )
        .await
        .ctx("load steps")?;
    while let Some(row) = rows.next().await.ctx("load steps")? {
        let rowid = codec::int(&row, 0, "a step")?;
        let id = ids.get(&rowid).copied().unwrap_or("?");
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 1, &what)?;
        let record = codec::text(&row, 2, &what)?;
        out.entry(rowid)
            .or_default()
            .push(decode_step(id, seq, &record)?);
    }
    Ok(out)
}

/// The body of `get_episode`: the episode and its steps in one statement, so they come from
/// one snapshot in one round trip (the episode's row first, marked by a `seq` of -1).
async fn load_episode(conn: &Conn, namespace: &str, id: &str) -> Result<Option<Episode>> {
    const LOAD: &str = "SELECT -1, record FROM episodes WHERE namespace = ?1 AND id = ?2 \
                        UNION ALL \
                        SELECT seq, record FROM steps WHERE episode_rowid = \
                        (SELECT rowid FROM episodes WHERE namespace = ?1 AND id = ?2) \
                        ORDER BY 1";
    let what = format!("episode {id}");
    let mut rows = conn
        .query(LOAD, [namespace, id])
        .await
        .ctx("load episode")?;
    let Some(row) = rows.next().await.ctx("load episode")? else {
        return Ok(None);
    };
    if codec::int(&row, 0, &what)? != -1 {
        return Err(TursoError::corrupt(what, "steps without their episode row").into());
    }
    let mut episode = decode_episode(id, &codec::text(&row, 1, &what)?)?;
    while let Some(row) = rows.next().await.ctx("load episode")? {
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 0, &what)?;
        let record = codec::text(&row, 1, &what)?;
        episode.steps.push(decode_step(id, seq, &record)?);
    }
    Ok(Some(episode))
}

/// The body of `delete_episode`.
async fn delete_tx(conn: &Conn, namespace: &str, id: &str) -> Result<bool> {
    let mut rows = conn
        .query(
            "SELECT rowid FROM episodes WHERE namespace = ?1 AND id = ?2",
            [namespace, id],
        )
        .await
        .ctx("find episode")?;
    let Some(row) = rows.next().await.ctx("find episode")? else {
        return Ok(false);
    };
    let rowid = codec::int(&row, 0, &format!("episode {id}"))?;
    drop(row);
    drop(rows);

    // Explicit deletes rather than relying on ON DELETE CASCADE alone: the text log has no
    // foreign key (its entry outlives the episode, to tell indexes it is gone), and this does
    // not depend on how the connection was configured.
    text_log::remove(conn, rowid).await?;
    vectors::delete(conn, rowid).await?;
    conn.execute("DELETE FROM steps WHERE episode_rowid = ?1", [rowid])
        .await
        .ctx("delete steps")?;
    conn.execute("DELETE FROM episode_tags WHERE episode_rowid = ?1", [rowid])
        .await
        .ctx("delete tags")?;
    conn.execute("DELETE FROM episodes WHERE rowid = ?1", [rowid])
        .await
        .ctx("delete episode")?;
    tracing::debug!(%id, namespace, "deleted episode");
    Ok(true)
}

/// The SQL and parameters of `comparable_costs`: the latest completed episodes of a task type
/// (and domain, when given) in a namespace.
fn costs_query(
    namespace: &str,
    task_type: TaskType,
    domain: Option<&str>,
    limit: usize,
) -> (String, Vec<Value>) {
    let mut sql = String::from(
        "SELECT rowid, step_count, total_latency_ms FROM episodes \
         WHERE namespace = ? AND task_type = ? AND ended_at IS NOT NULL",
    );
    let mut params = vec![Value::from(namespace), Value::from(task_type.as_str())];
    if let Some(domain) = domain {
        sql.push_str(" AND domain = ?");
        params.push(Value::from(domain));
    }
    sql.push_str(" ORDER BY ended_at DESC LIMIT ?");
    params.push(Value::from(clamp_i64(limit as u64)));
    (sql, params)
}

/// The SQL and parameters of a listing: every set filter becomes a `?` condition.
fn list_query(filter: &EpisodeFilter) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT id, record, step_count FROM episodes WHERE namespace = ?");
    let mut params = vec![Value::from(filter.namespace.as_str())];
    let mut push = |cond: &str, value: Value| {
        sql.push_str(" AND ");
        sql.push_str(cond);
        params.push(value);
    };
    if let Some(domain) = &filter.domain {
        push("domain = ?", Value::from(domain.as_str()));
    }
    if let Some(language) = &filter.language {
        push("language = ?", Value::from(language.as_str()));
    }
    if let Some(task_type) = filter.task_type {
        push("task_type = ?", Value::from(task_type.as_str()));
    }
    if let Some(outcome) = filter.outcome {
        push("outcome_kind = ?", Value::from(outcome.as_str()));
    }
    for tag in &filter.tags {
        push(
            "rowid IN (SELECT episode_rowid FROM episode_tags WHERE tag = ?)",
            Value::from(tag.as_str()),
        );
    }
    if let Some(after) = filter.started_after {
        push("started_at >= ?", Value::from(micros(after)));
    }
    if let Some(before) = filter.started_before {
        push("started_at < ?", Value::from(micros(before)));
    }
    match filter.status {
        Some(EpisodeStatus::Running) => sql.push_str(" AND ended_at IS NULL"),
        Some(EpisodeStatus::Completed) => sql.push_str(" AND ended_at IS NOT NULL"),
        None => {}
    }
    sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?");
    params.push(Value::from(clamp_i64(filter.limit as u64)));
    params.push(Value::from(clamp_i64(filter.offset as u64)));
    (sql, params)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use memory_core::OutcomeKind;

    use crate::query_plan::query_plan as plan;

    /// Why migration 7 could drop the per-column episode indexes: whatever a listing filters
    /// on, it is served by the start-time index it sorts by, and the cost baseline by the
    /// end-time and cost indexes. If a plan changes, the dropped indexes may be needed again.
    /// (The store never runs `ANALYZE`; with statistics SQLite could prefer a per-column
    /// index for a selective filter — whoever adds statistics adds those indexes back.)
    #[tokio::test]
    async fn listings_and_cost_baselines_use_the_kept_indexes() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        let filters: Vec<fn(&mut EpisodeFilter)> = vec![
            |_| {},
            |f| f.domain = Some("web".into()),
            |f| f.language = Some("rust".into()),
            |f| f.task_type = Some(TaskType::Debugging),
            |f| f.outcome = Some(OutcomeKind::Failure),
            |f| f.status = Some(EpisodeStatus::Completed),
            |f| {
                f.domain = Some("web".into());
                f.outcome = Some(OutcomeKind::Success);
            },
        ];
        for set in filters {
            let mut filter = EpisodeFilter::new("ns");
            set(&mut filter);
            let (sql, params) = list_query(&filter);
            let steps = plan(&storage, &sql, params).await;
            assert!(steps.contains("episodes_ns_started"), "{filter:?}: {steps}");
        }
        let (sql, params) = costs_query("ns", TaskType::Debugging, None, 50);
        let steps = plan(&storage, &sql, params).await;
        assert!(steps.contains("episodes_ns_ended"), "{steps}");
        let (sql, params) = costs_query("ns", TaskType::Debugging, Some("web"), 50);
        let steps = plan(&storage, &sql, params).await;
        assert!(
            steps.contains("COVERING INDEX episodes_ns_costs"),
            "{steps}"
        );
    }
}
