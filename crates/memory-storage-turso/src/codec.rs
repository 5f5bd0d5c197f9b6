//! Conversion between the model types and table rows.
//!
//! An episode is stored twice over, on purpose: its `record` column holds the complete value
//! as JSON (minus its steps, which have their own rows), and a handful of plain columns copy
//! the fields that SQL filters, sorts and sums on. Reads always rebuild the model from the
//! JSON, so what is read back is exactly what was written (serde_json round-trips floats and
//! timestamps keep their microseconds); the columns are only ever an index.
//!
//! Patterns, context statistics and retrieval sessions follow the same rule: a JSON `record`
//! that is the truth, plus index columns derived from it ([`PatternColumns`]).
//!
//! Every read of a column checks its type instead of trusting it, so a damaged row becomes a
//! [`TursoError::Corrupt`] naming the record rather than a panic.

use crate::error::TursoError;
use chrono::{DateTime, Utc};
use libsql::{Row, Value};
use memory_core::{
    Checkpoint, Episode, EpisodeSummary, ExecutionStep, OutcomeStats, Pattern, Relationship,
    RetrievalSession, TaskOutcome,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
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

/// The indexed columns of a `patterns` row, derived from a [`Pattern`].
pub(crate) struct PatternColumns {
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) scope_domain: Option<String>,
    pub(crate) scope_language: Option<String>,
    pub(crate) scope_framework: Option<String>,
    pub(crate) scope_task_type: Option<&'static str>,
    pub(crate) scope_tag: Option<String>,
    pub(crate) episodes: i64,
    pub(crate) confidence: f64,
    pub(crate) lift: f64,
    pub(crate) last_seen: i64,
    pub(crate) record: String,
}

impl PatternColumns {
    /// The row that stores `pattern`. Scope values are lower-cased so that context filters
    /// match regardless of case; `confidence` is the Wilson lower bound as of the pattern's
    /// last update (a non-finite figure is indexed as 0, a non-finite lift as 1).
    pub(crate) fn of(pattern: &Pattern) -> Result<Self, TursoError> {
        let lower = |v: &Option<String>| v.as_deref().map(str::to_lowercase);
        let scope = &pattern.scope;
        let confidence = pattern.stats.confidence();
        Ok(PatternColumns {
            id: pattern.id.to_string(),
            kind: pattern.kind.name().as_str(),
            scope_domain: lower(&scope.domain),
            scope_language: lower(&scope.language),
            scope_framework: lower(&scope.framework),
            scope_task_type: scope.task_type.map(|t| t.as_str()),
            scope_tag: lower(&scope.tag),
            episodes: clamp_i64(pattern.stats.episodes),
            confidence: if confidence.is_finite() {
                confidence
            } else {
                0.0
            },
            lift: if pattern.lift.is_finite() {
                pattern.lift
            } else {
                1.0
            },
            last_seen: micros(pattern.last_seen),
            record: to_json(pattern, || format!("pattern {}", pattern.id))?,
        })
    }
}

/// Encodes `value` as JSON for a `record` column; `what` names it in the error.
pub(crate) fn to_json<T: Serialize>(
    value: &T,
    what: impl FnOnce() -> String,
) -> Result<String, TursoError> {
    serde_json::to_string(value).map_err(|source| TursoError::Encode {
        what: what(),
        source,
    })
}

/// Decodes a JSON `record` column; `what` names the record in the error.
fn from_json<T: DeserializeOwned>(
    record: &str,
    what: impl FnOnce() -> String,
) -> Result<T, TursoError> {
    serde_json::from_str(record).map_err(|e| TursoError::corrupt(what(), e.to_string()))
}

/// Decodes a pattern's `record` column; `id` is the row's id column, used to name the record
/// in errors and checked against the decoded value.
pub(crate) fn decode_pattern(id: &str, record: &str) -> Result<Pattern, TursoError> {
    let what = || format!("pattern {id}");
    let pattern: Pattern = from_json(record, what)?;
    if pattern.id.to_string() != id {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries the id {}", pattern.id),
        ));
    }
    Ok(pattern)
}

/// Decodes a `context_stats` record for the context `scope_key`.
pub(crate) fn decode_stats(scope_key: &str, record: &str) -> Result<OutcomeStats, TursoError> {
    from_json(record, || format!("statistics of context `{scope_key}`"))
}

/// Decodes a retrieval session's `record` column, checking it is the session the row says.
pub(crate) fn decode_session(id: &str, record: &str) -> Result<RetrievalSession, TursoError> {
    let what = || format!("retrieval session {id}");
    let session: RetrievalSession = from_json(record, what)?;
    if session.id.to_string() != id {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries the id {}", session.id),
        ));
    }
    Ok(session)
}

/// Decodes a relationship's `record` column, checking it is the edge the row says.
pub(crate) fn decode_relationship(id: &str, record: &str) -> Result<Relationship, TursoError> {
    let what = || format!("relationship {id}");
    let edge: Relationship = from_json(record, what)?;
    if edge.id.to_string() != id {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries the id {}", edge.id),
        ));
    }
    Ok(edge)
}

/// Decodes a checkpoint's `record` column, checking it is the checkpoint the row says.
pub(crate) fn decode_checkpoint(id: &str, record: &str) -> Result<Checkpoint, TursoError> {
    let what = || format!("checkpoint {id}");
    let checkpoint: Checkpoint = from_json(record, what)?;
    if checkpoint.id.to_string() != id {
        return Err(TursoError::corrupt(
            what(),
            format!("its record carries the id {}", checkpoint.id),
        ));
    }
    Ok(checkpoint)
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
    // Every field but the steps, listed in full (a new field is a compile error here, not a
    // silent omission), so that the steps are not cloned only to be dropped.
    let record = Episode {
        id: episode.id,
        namespace: episode.namespace.clone(),
        task_description: episode.task_description.clone(),
        task_type: episode.task_type,
        context: episode.context.clone(),
        started_at: episode.started_at,
        ended_at: episode.ended_at,
        steps: Vec::new(),
        outcome: episode.outcome.clone(),
        reward: episode.reward.clone(),
        reflection: episode.reflection.clone(),
        pattern_ids: episode.pattern_ids.clone(),
        tags: episode.tags.clone(),
        metadata: episode.metadata.clone(),
        retrieval_session: episode.retrieval_session,
    };
    to_json(&record, || format!("episode {}", episode.id))
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
