//! Turning flag values into model values, with errors that name the flag.

use crate::exit::{UsageError, usage};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use memory_core::{Complexity, OutcomeKind, StepResult, TaskOutcome, TaskType};
use std::str::FromStr;

fn usage_err(flag: &str, problem: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("--{flag}: {problem}")))
}

/// Parses an enum-like flag value with its `FromStr`.
pub fn value<T: FromStr<Err = String>>(flag: &str, raw: &str) -> anyhow::Result<T> {
    T::from_str(raw).map_err(|e| usage_err(flag, e))
}

/// Parses an optional task type.
pub fn task_type(raw: Option<&str>) -> anyhow::Result<Option<TaskType>> {
    raw.map(|r| value("task-type", r)).transpose()
}

/// Parses an optional listing cursor (`--after`).
pub fn cursor(raw: Option<&str>) -> anyhow::Result<Option<memory_core::EpisodeCursor>> {
    raw.map(|r| r.parse().map_err(|e| usage_err("after", e)))
        .transpose()
}

/// Parses an optional complexity.
pub fn complexity(raw: Option<&str>) -> anyhow::Result<Option<Complexity>> {
    raw.map(|r| value("complexity", r)).transpose()
}

/// Parses any JSON value.
pub fn json(flag: &str, raw: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(raw).map_err(|e| usage_err(flag, format!("not valid JSON: {e}")))
}

/// Parses an optional JSON object of key/values.
pub fn json_object(
    flag: &str,
    raw: Option<&str>,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    match raw {
        None => Ok(serde_json::Map::new()),
        Some(raw) => match json(flag, raw)? {
            serde_json::Value::Object(map) => Ok(map),
            _ => Err(usage_err(flag, "must be a JSON object")),
        },
    }
}

/// Parses an episode id.
pub fn episode_id(raw: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|e| anyhow::Error::new(UsageError(format!("`{raw}` is not an episode id: {e}"))))
}

/// Parses an id given with `--flag` (a session or pattern id).
pub fn uuid(flag: &str, raw: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|e| usage_err(flag, format!("`{raw}` is not an id: {e}")))
}

/// Builds a step result from `--status` and `--output`.
pub fn step_result(status: &str, output: &str) -> anyhow::Result<StepResult> {
    match status.trim().to_ascii_lowercase().as_str() {
        "success" | "ok" => Ok(StepResult::Success {
            output: output.to_string(),
        }),
        // As over MCP: an error step says what the error was.
        "error" | "err" if output.trim().is_empty() => {
            usage!("--status error needs the error message in --output, as the tool reported it")
        }
        "error" | "err" => Ok(StepResult::Error {
            message: output.to_string(),
        }),
        "timeout" => Ok(StepResult::Timeout),
        other => usage!("--status: unknown status `{other}`; expected success, error or timeout"),
    }
}

/// Builds an outcome from the `episode complete` flags, requiring what each kind needs.
pub fn outcome(args: &crate::cli::CompleteArgs) -> anyhow::Result<TaskOutcome> {
    let kind: OutcomeKind = value("outcome", &args.outcome)?;
    let need = |flag: &str, v: &Option<String>| -> anyhow::Result<String> {
        v.clone()
            .ok_or_else(|| usage_err(flag, format!("is required with --outcome {kind}")))
    };
    Ok(match kind {
        OutcomeKind::Success => TaskOutcome::Success {
            verdict: need("verdict", &args.verdict)?,
            artifacts: args.artifacts.clone(),
        },
        OutcomeKind::PartialSuccess => TaskOutcome::PartialSuccess {
            verdict: need("verdict", &args.verdict)?,
            completed: args.completed.clone(),
            failed: args.failed.clone(),
        },
        OutcomeKind::Failure => TaskOutcome::Failure {
            reason: need("reason", &args.reason)?,
            details: args.details.clone(),
        },
        OutcomeKind::Abstained => TaskOutcome::Abstained {
            reason: need("reason", &args.reason)?,
        },
    })
}

/// A time window: from (inclusive) and before, each open when unset.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The `--since` / `--until` pair of a listing or export, each parsed by [`time`].
pub fn time_range(
    since: Option<&str>,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<TimeRange> {
    Ok((
        since.map(|t| time("since", t, now)).transpose()?,
        until.map(|t| time("until", t, now)).transpose()?,
    ))
}

/// Parses a point in time: RFC 3339, `YYYY-MM-DD` (midnight UTC), or an age such as `7d`,
/// `12h` or `30m` counted back from `now`.
pub fn time(flag: &str, raw: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    let (num, unit) = raw.split_at(raw.len().saturating_sub(1));
    if let Ok(n) = num.parse::<i64>() {
        let span = match unit {
            "d" => Duration::try_days(n),
            "h" => Duration::try_hours(n),
            "m" => Duration::try_minutes(n),
            _ => None,
        };
        if let Some(span) = span
            && let Some(t) = now.checked_sub_signed(span)
        {
            return Ok(t);
        }
    }
    Err(usage_err(
        flag,
        format!("`{raw}` is not a time; use RFC 3339, YYYY-MM-DD or an age like 7d, 12h, 30m"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time("since", "7d", now).unwrap(), now - Duration::days(7));
        assert_eq!(
            time("since", "2026-11-01", now).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert!(time("since", "yesterday", now).is_err());
    }

    #[test]
    fn step_results() {
        assert_eq!(step_result("timeout", "x").unwrap(), StepResult::Timeout);
        assert!(step_result("maybe", "").is_err());
    }
}
