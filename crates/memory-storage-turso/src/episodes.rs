//! The episode queries and writes: storing an episode, appending a step, completing (with
//! the merge of what it taught into the namespace's patterns, [`crate::patterns::merge_learned`],
//! in the same transaction), loading and deleting one, and the listing and cost queries.
//! Each write body runs inside the transaction [`crate::backend`] opened for it.
//!
//! `get_episode` reads the episode and its steps in one statement, so they come from one
//! snapshot.

use crate::codec::{
    self, EpisodeColumns, clamp_i64, decode_episode, decode_step, micros, outcome_kind,
    step_record, tag_set,
};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::patterns::Forget;
use crate::planned::{Outcomes, PlannedStatement};
use crate::steps::load_steps;
use crate::text_log::{self, TextDocument};
use crate::{patterns, sessions, text_snapshot, vectors};
use chrono::{DateTime, Utc};
use libsql::Value;
use memory_core::learning::mine;
use memory_core::{
    Completion, Episode, EpisodeFilter, EpisodeStatus, ExecutionStep, MemoryError, Result,
    StepInput, TaskType,
};
use uuid::Uuid;

/// The body of `store_episode`.
pub(crate) async fn insert_episode(
    conn: &Conn,
    episode: &Episode,
    cols: &EpisodeColumns,
    steps: &[(&ExecutionStep, String)],
    doc: &TextDocument,
) -> Result<()> {
    conn.execute(INSERT_EPISODE, episode_params(cols))
        .await
        .map_err(|err| episode_taken(cols, err))?;
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

    if let Some(tags) = tags_json(episode)? {
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

/// Stores an episode's row; its parameters are [`episode_params`].
const INSERT_EPISODE: &str = "INSERT INTO episodes (id, namespace, task_type, domain, language, \
     framework, outcome_kind, reward, started_at, ended_at, step_count, total_latency_ms, \
     record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// The parameters of [`INSERT_EPISODE`].
fn episode_params(cols: &EpisodeColumns) -> Vec<Value> {
    vec![
        Value::from(cols.id.as_str()),
        Value::from(cols.namespace.as_str()),
        Value::from(cols.task_type),
        Value::from(cols.domain.clone()),
        Value::from(cols.language.clone()),
        Value::from(cols.framework.clone()),
        Value::from(cols.outcome_kind),
        Value::from(cols.reward),
        Value::from(cols.started_at),
        Value::from(cols.ended_at),
        Value::from(cols.step_count),
        Value::from(cols.total_latency_ms),
        Value::from(cols.record.as_str()),
    ]
}

/// The error of an episode's insert: a conflict when its id is taken (ids are unique
/// across namespaces).
fn episode_taken(cols: &EpisodeColumns, err: libsql::Error) -> MemoryError {
    let taken = || format!("episode {} already exists", cols.id);
    crate::error::taken_or(err, "episodes.id", taken, "insert episode")
}

/// The statements of `store_episode` for an episode still running (a planned write, see
/// [`crate::planned`]): its row, its steps' rows and its tags, each finding the episode's
/// rowid by its id. A completed episode is also indexed for search, which is not planned
/// ([`insert_episode`]).
pub(crate) fn store_running_statements(
    episode: &Episode,
    cols: &EpisodeColumns,
    steps: &[(&ExecutionStep, String)],
) -> Result<Vec<PlannedStatement>> {
    let mut statements = vec![PlannedStatement::execute(
        INSERT_EPISODE,
        episode_params(cols),
    )];
    for (step, record) in steps {
        let mut params = step_params(0, step, record);
        params[0] = Value::from(cols.id.as_str());
        statements.push(PlannedStatement::execute(
            "INSERT INTO steps (episode_rowid, seq, at, tool, status, latency_ms, record) \
             SELECT rowid, ?2, ?3, ?4, ?5, ?6, ?7 FROM episodes WHERE id = ?1",
            params,
        ));
    }
    if let Some(tags) = tags_json(episode)? {
        statements.push(PlannedStatement::execute(
            "INSERT INTO episode_tags (episode_rowid, tag) \
             SELECT e.rowid, t.value FROM episodes e, json_each(?2) t WHERE e.id = ?1",
            vec![Value::from(cols.id.as_str()), Value::from(tags)],
        ));
    }
    Ok(statements)
}

/// The episode's tags (its own and its context's, distinct) as a JSON array, for
/// `json_each`; `None` when it has none.
fn tags_json(episode: &Episode) -> Result<Option<String>, TursoError> {
    let tags = tag_set(episode);
    if tags.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&tags)
        .map(Some)
        .map_err(|source| TursoError::Encode {
            what: "the tags".into(),
            source,
        })
}

/// What the statements of [`store_running_statements`] gave back, as `store_episode`'s
/// result.
pub(crate) fn stored_running(
    cols: &EpisodeColumns,
    steps: usize,
    outcomes: Outcomes,
) -> Result<()> {
    outcomes.map_err(|err| episode_taken(cols, err))?;
    tracing::debug!(id = %cols.id, namespace = %cols.namespace, steps, "stored episode");
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

/// The statements of `append_step` (a planned write, see [`crate::planned`]). The first
/// claims the next seq and adds the latency; its guard is what enforces "running" and the
/// step limit, and the sum saturates instead of overflowing into a float. The second adds
/// the step's row only when the claim changed one, numbered in SQL from the claim: its
/// record is the step's JSON with the seq spliced in after `{"seq":`.
pub(crate) fn append_step_statements(
    namespace: &str,
    episode_id: Uuid,
    step: &StepInput,
    at: DateTime<Utc>,
    max_steps: u32,
) -> Result<Vec<PlannedStatement>> {
    let id = episode_id.to_string();
    let unnumbered = step.clone().into_step(0, at);
    let record = step_record(&id, &unnumbered)?;
    let rest = record
        .strip_prefix(r#"{"seq":0"#)
        .ok_or_else(|| TursoError::Encode {
            what: format!("a step of episode {id}"),
            source: serde::ser::Error::custom("its record does not start with its seq"),
        })?;
    let episode = [Value::from(namespace), Value::from(id.as_str())];
    let mut claim = vec![Value::from(clamp_i64(step.latency_ms))];
    claim.extend(episode.iter().cloned());
    claim.push(Value::from(i64::from(max_steps)));
    let mut insert = vec![
        Value::from(micros(at)),
        Value::from(unnumbered.tool.as_str()),
        Value::from(unnumbered.result.status().as_str()),
        Value::from(clamp_i64(unnumbered.latency_ms)),
        Value::from(r#"{"seq":"#),
        Value::from(rest),
    ];
    insert.extend(episode);
    Ok(vec![
        PlannedStatement::query(
            "UPDATE episodes SET step_count = step_count + 1, \
             total_latency_ms = CASE WHEN total_latency_ms > 9223372036854775807 - ?1 \
                 THEN 9223372036854775807 ELSE total_latency_ms + ?1 END \
             WHERE namespace = ?2 AND id = ?3 AND ended_at IS NULL AND step_count < ?4 \
             RETURNING step_count",
            claim,
        ),
        PlannedStatement::execute(
            "INSERT INTO steps (episode_rowid, seq, at, tool, status, latency_ms, record) \
             SELECT rowid, step_count, ?1, ?2, ?3, ?4, ?5 || step_count || ?6 FROM episodes \
             WHERE namespace = ?7 AND id = ?8 AND changes() = 1",
            insert,
        ),
    ])
}

/// What the statements of [`append_step_statements`] gave back, as `append_step`'s
/// result: the step as stored, or why it could not be added (read on `conn`).
pub(crate) async fn appended(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    step: StepInput,
    at: DateTime<Utc>,
    max_steps: u32,
    outcomes: Outcomes,
) -> Result<ExecutionStep> {
    let id = episode_id.to_string();
    let outcomes = outcomes.ctx("append step")?;
    let claimed = outcomes
        .first()
        .and_then(|claim| claim.rows.first())
        .and_then(|row| row.first());
    let seq = match claimed {
        Some(Value::Integer(seq)) => *seq,
        Some(_) => {
            return Err(
                TursoError::corrupt(format!("episode {id}"), "step_count is not a number").into(),
            );
        }
        None => return Err(why_no_step(conn, namespace, &id, max_steps).await),
    };
    let inserted = outcomes.get(1).map_or(0, |insert| insert.changed);
    if inserted != 1 {
        return Err(TursoError::corrupt(
            format!("episode {id}"),
            format!("its step {seq} was claimed but {inserted} rows were added"),
        )
        .into());
    }
    let seq = codec::to_u32(seq, &format!("episode {id}"), "step_count")?;
    Ok(step.into_step(seq, at))
}

/// Explains why a step could not be claimed for an episode.
async fn why_no_step(conn: &Conn, namespace: &str, id: &str, max_steps: u32) -> MemoryError {
    let state = async {
        let rows = conn
            .query(
                "SELECT ended_at, step_count FROM episodes WHERE namespace = ?1 AND id = ?2",
                [namespace, id],
            )
            .await
            .ctx("load episode state")?;
        let Some(row) = rows.one().await.ctx("load episode state")? else {
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

/// Completes an episode's row: record, outcome, reward and end (`?1`–`?4`), when the row
/// (`?5`) is still running with the steps (`?6`) the completion was computed from.
pub(crate) const COMPLETE_ROW: &str = "UPDATE episodes SET record = ?1, outcome_kind = ?2, \
     reward = ?3, ended_at = ?4 WHERE rowid = ?5 AND ended_at IS NULL AND step_count = ?6";

/// `episode` (as stored while running) completed by `completion`, having fed the patterns
/// `pattern_ids`; and its record as stored (the steps are rows of their own).
pub(crate) fn completed(
    mut episode: Episode,
    completion: &Completion,
    pattern_ids: &[Uuid],
) -> Result<(Episode, String)> {
    episode.steps = Vec::new();
    episode.pattern_ids = pattern_ids.to_vec();
    episode.ended_at = Some(completion.ended_at);
    episode.outcome = Some(completion.outcome.clone());
    episode.reward = Some(completion.reward.clone());
    episode.reflection = Some(completion.reflection.clone());
    let record = codec::episode_record(&episode)?;
    Ok((episode, record))
}

/// The body of `complete_episode`: checks, merges the lessons into the patterns, then
/// completes the row and re-indexes the episode; returns the patterns' ids.
pub(crate) async fn complete_tx(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    completion: &Completion,
) -> Result<Vec<Uuid>> {
    let id = episode_id.to_string();
    let what = format!("episode {id}");
    let rows = conn
        .query(
            "SELECT rowid, ended_at, step_count, record FROM episodes \
             WHERE namespace = ?1 AND id = ?2",
            [namespace, id.as_str()],
        )
        .await
        .ctx("load episode")?;
    let Some(row) = rows.one().await.ctx("load episode")? else {
        return Err(MemoryError::episode_not_found(namespace, &id));
    };
    let rowid = codec::int(&row, 0, &what)?;
    let ended_at = codec::opt_int(&row, 1, &what)?;
    let step_count = codec::int(&row, 2, &what)?;
    let record = codec::text(&row, 3, &what)?;
    drop(row);

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

    let episode = decode_episode(&id, &record)?;
    let pattern_ids = patterns::merge_learned(conn, namespace, completion).await?;
    let (episode, record) = completed(episode, completion, &pattern_ids)?;

    let changed = conn
        .execute(
            COMPLETE_ROW,
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
    if let Some(session) = completion.feedback_session {
        sessions::feedback_from_completion(
            conn,
            namespace,
            session,
            completion.outcome.kind(),
            completion.ended_at,
        )
        .await?;
    }
    tracing::debug!(%id, namespace, outcome = outcome_kind(&completion.outcome), patterns = pattern_ids.len(), "completed episode");
    Ok(pattern_ids)
}

/// The body of `get_episode`: the episode and its steps in one statement, so they come from
/// one snapshot in one round trip (the episode's row first, marked by a `seq` of -1).
pub(crate) async fn load_episode(
    conn: &Conn,
    namespace: &str,
    id: &str,
) -> Result<Option<Episode>> {
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

/// The body of `delete_episode`: the episode and everything recorded about it, and what it
/// taught (see [`memory_core::EpisodeStore::delete_episode`]); runs on a write
/// transaction, so what it taught is read from the episode as it stands.
pub(crate) async fn delete_tx(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    half_life_days: f64,
) -> Result<bool> {
    let id = episode_id.to_string();
    let rows = conn
        .query(
            "SELECT rowid, ended_at, record FROM episodes WHERE namespace = ?1 AND id = ?2",
            [namespace, id.as_str()],
        )
        .await
        .ctx("find episode")?;
    let Some(row) = rows.one().await.ctx("find episode")? else {
        return Ok(false);
    };
    let what = format!("episode {id}");
    let rowid = codec::int(&row, 0, &what)?;
    let ended_at = codec::opt_int(&row, 1, &what)?;
    let record = codec::text(&row, 2, &what)?;
    drop(row);
    let mut episode = codec::decode_episode(&id, &record)?;
    if let (Some(_), Some(ended_at)) = (ended_at, episode.ended_at) {
        episode.steps = load_steps(conn, rowid, &id).await?;
        let forget = Forget {
            ended_at,
            learned: mine(&episode),
            half_life_days,
        };
        patterns::forget_learned(conn, namespace, episode_id, &episode.pattern_ids, &forget)
            .await?;
    }
    if let Some(session) = episode.retrieval_session {
        sessions::forget(conn, namespace, session).await?;
    }

    // Explicit deletes rather than relying on ON DELETE CASCADE alone: the text log has no
    // foreign key (its entry outlives the episode, to tell indexes it is gone), and this does
    // not depend on how the connection was configured.
    text_snapshot::forget_document(conn, rowid).await?;
    text_log::remove(conn, rowid).await?;
    vectors::delete(conn, rowid).await?;
    for (sql, what) in [
        ("DELETE FROM steps WHERE episode_rowid = ?1", "delete steps"),
        (
            "DELETE FROM episode_tags WHERE episode_rowid = ?1",
            "delete tags",
        ),
        (
            "DELETE FROM episode_checkpoints WHERE episode_rowid = ?1",
            "delete checkpoints",
        ),
        (
            "DELETE FROM episode_relationships WHERE from_rowid = ?1 OR to_rowid = ?1",
            "delete relationships",
        ),
        ("DELETE FROM episodes WHERE rowid = ?1", "delete episode"),
    ] {
        conn.execute(sql, [rowid]).await.ctx(what)?;
    }
    tracing::debug!(%id, namespace, "deleted episode");
    Ok(true)
}

/// The SQL and parameters of `comparable_costs`: the latest completed episodes of a task type
/// (and domain, when given) in a namespace.
pub(crate) fn costs_query(
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
pub(crate) fn list_query(filter: &EpisodeFilter) -> (String, Vec<Value>) {
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
    if let Some(cursor) = filter.after {
        // After the cursor in the listing's order. The bound on `started_at` alone lets the
        // start-time index begin the scan there, however deep the page.
        sql.push_str(" AND started_at <= ? AND (started_at < ? OR id < ?)");
        params.push(Value::from(cursor.started_at_micros));
        params.push(Value::from(cursor.started_at_micros));
        params.push(Value::from(cursor.id.to_string()));
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
    use crate::TursoStorage;
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
        // The index holds the whole order (its tie-break included) and the filtered columns:
        // nothing is sorted, an offset skips index entries only, and a cursor starts the
        // scan where it points.
        for set in [
            |_: &mut EpisodeFilter| {},
            |f: &mut EpisodeFilter| f.outcome = Some(OutcomeKind::Failure),
            |f: &mut EpisodeFilter| f.status = Some(EpisodeStatus::Running),
        ] {
            let mut filter = EpisodeFilter::new("ns");
            set(&mut filter);
            let (sql, params) = list_query(&filter);
            let steps = plan(&storage, &sql, params).await;
            assert!(!steps.contains("TEMP B-TREE"), "{filter:?}: {steps}");
        }
        let mut resumed = EpisodeFilter::new("ns");
        resumed.after = Some(memory_core::EpisodeCursor {
            started_at_micros: 1_000,
            id: uuid::Uuid::nil(),
        });
        let (sql, params) = list_query(&resumed);
        let steps = plan(&storage, &sql, params).await;
        assert!(
            steps.contains("episodes_ns_started (namespace=? AND started_at<?)"),
            "{steps}"
        );
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
