//! Conversion between the model types and table rows.
//!
//! An episode is stored twice over, on purpose: its `record` column holds the complete value
//! as JSON (minus its steps, which have their own rows), and a handful of plain columns copy
//! the fields that SQL filters, sorts and sums on. Reads always rebuild the model from the
//! JSON, so what is read back is exactly what was written (serde_json round-trips floats and
//! timestamps keep their microseconds); the columns are only ever an index.
//!
//! Every read of a column checks its type instead of trusting it, so a damaged row becomes a
//! [`TursoError::Corrupt`] naming the record rather than a panic.

use crate::error::TursoError;
use chrono::{DateTime, Utc};
use libsql::{Row, Value};
use memory_core::{Episode, EpisodeSummary, ExecutionStep, TaskOutcome};
use std::collections::BTreeSet;

/// The indexed columns of an `episodes` row, derived from an [`Episode`].
pub(crate) struct EpisodeColumns {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) task_type: &'static str,
    pub(crate) domain: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) framework: Option<String>,
    pub(crate) outcome_kind: Option<&'static str>,
    pub(crate) reward: Option<f64>,
    pub(crate) started_at: i64,
    pub(crate) ended_at: Option<i64>,
    pub(crate) step_count: i64,
    pub(crate) total_latency_ms: i64,
    pub(crate) record: String,
}

impl EpisodeColumns {
    /// The row that stores `episode` (its steps go to their own rows).
    pub(crate) fn of(episode: &Episode) -> Result<Self, TursoError> {
        let total_latency_ms = episode
            .steps
            .iter()
            .fold(0i64, |sum, s| sum.saturating_add(clamp_i64(s.latency_ms)));
        Ok(EpisodeColumns {
            id: episode.id.to_string(),
            namespace: episode.namespace.clone(),
            task_type: episode.task_type.as_str(),
            domain: episode.context.domain.clone(),
            language: episode.context.language.clone(),
            framework: episode.context.framework.clone(),
            outcome_kind: episode.outcome.as_ref().map(|o| o.kind().as_str()),
            reward: episode.reward.as_ref().map(|r| r.total),
            started_at: micros(episode.started_at),
            ended_at: episode.ended_at.map(micros),
            step_count: i64::try_from(episode.steps.len()).unwrap_or(i64::MAX),
            total_latency_ms,
            record: episode_record(episode)?,
        })
    }
}

/// A timestamp as stored: whole microseconds since the Unix epoch.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// An unsigned count as an SQL integer, saturating at `i64::MAX` (columns that sum or count
/// are an index; the exact value is kept in the JSON record).
pub(crate) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The episode as JSON for its `record` column, with `steps` emptied.
pub(crate) fn episode_record(episode: &Episode) -> Result<String, TursoError> {
    let mut record = episode.clone();
    record.steps = Vec::new();
    serde_json::to_string(&record).map_err(|source| TursoError::Encode {
        what: format!("episode {}", episode.id),
        source,
    })
}

/// The step as JSON for its `record` column.
pub(crate) fn step_record(episode_id: &str, step: &ExecutionStep) -> Result<String, TursoError> {
    serde_json::to_string(step).map_err(|source| TursoError::Encode {
        what: format!("step {} of episode {episode_id}", step.seq),
        source,
    })
}

/// Decodes an episode's `record` column; `id` is the row's id column, used to name the
/// record in errors and checked against the decoded value.
pub(crate) fn decode_episode(id: &str, record: &str) -> Result<Episode, TursoError> {
    let what = || format!("episode {id}");
    let episode: Episode =
        serde_json::from_str(record).map_err(|e| TursoError::corrupt(what(), e.to_string()))?;
    if episode.id.to_string() != id {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries the id {}", episode.id),
        ));
    }
    Ok(episode)
}

/// Decodes a step's `record` column, checking that it is the step the row says it is.
pub(crate) fn decode_step(
    episode_id: &str,
    seq: i64,
    record: &str,
) -> Result<ExecutionStep, TursoError> {
    let what = || format!("step {seq} of episode {episode_id}");
    let step: ExecutionStep =
        serde_json::from_str(record).map_err(|e| TursoError::corrupt(what(), e.to_string()))?;
    if i64::from(step.seq) != seq {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries seq {}", step.seq),
        ));
    }
    Ok(step)
}

/// The summary of an episode from its `record` and `step_count` columns.
pub(crate) fn decode_summary(
    id: &str,
    record: &str,
    step_count: i64,
) -> Result<EpisodeSummary, TursoError> {
    let mut summary = decode_episode(id, record)?.summary();
    summary.step_count = u32::try_from(step_count).map_err(|_| {
        TursoError::corrupt(
            format!("episode {id}"),
            format!("step_count is {step_count}"),
        )
    })?;
    Ok(summary)
}

/// Every tag an episode can be filtered by: its own tags and its context's, without repeats.
pub(crate) fn tag_set(episode: &Episode) -> BTreeSet<&str> {
    episode
        .tags
        .iter()
        .chain(&episode.context.tags)
        .map(String::as_str)
        .collect()
}

/// The outcome's kind name, as stored in `outcome_kind`.
pub(crate) fn outcome_kind(outcome: &TaskOutcome) -> &'static str {
    outcome.kind().as_str()
}

/// Reads column `idx` of `row` as a raw value.
fn value(row: &Row, idx: i32, what: &str) -> Result<Value, TursoError> {
    row.get_value(idx)
        .map_err(|e| TursoError::corrupt(what.to_string(), format!("column {idx}: {e}")))
}

/// Reads a TEXT column.
pub(crate) fn text(row: &Row, idx: i32, what: &str) -> Result<String, TursoError> {
    match value(row, idx, what)? {
        Value::Text(s) => Ok(s),
        other => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx} should be text but is {other:?}"),
        )),
    }
}

/// Reads an INTEGER column.
pub(crate) fn int(row: &Row, idx: i32, what: &str) -> Result<i64, TursoError> {
    match value(row, idx, what)? {
        Value::Integer(i) => Ok(i),
        other => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx} should be an integer but is {other:?}"),
        )),
    }
}

/// Reads a nullable INTEGER column.
pub(crate) fn opt_int(row: &Row, idx: i32, what: &str) -> Result<Option<i64>, TursoError> {
    match value(row, idx, what)? {
        Value::Null => Ok(None),
        Value::Integer(i) => Ok(Some(i)),
        other => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx} should be an integer or NULL but is {other:?}"),
        )),
    }
}

/// Reads a REAL column (SQLite may hand back an integer for a whole number).
pub(crate) fn real(row: &Row, idx: i32, what: &str) -> Result<f64, TursoError> {
    match value(row, idx, what)? {
        Value::Real(f) => Ok(f),
        Value::Integer(i) => Ok(i as f64),
        other => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx} should be a number but is {other:?}"),
        )),
    }
}

/// A stored count as `u32`, or a corrupt-row error naming `what`.
pub(crate) fn to_u32(value: i64, what: &str, column: &str) -> Result<u32, TursoError> {
    u32::try_from(value)
        .map_err(|_| TursoError::corrupt(what.to_string(), format!("{column} is {value}")))
}

/// A stored sum as `u64`, or a corrupt-row error naming `what`.
pub(crate) fn to_u64(value: i64, what: &str, column: &str) -> Result<u64, TursoError> {
    u64::try_from(value)
        .map_err(|_| TursoError::corrupt(what.to_string(), format!("{column} is {value}")))
}
