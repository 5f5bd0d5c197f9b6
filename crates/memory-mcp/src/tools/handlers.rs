//! One function per tool: turn parsed arguments into library calls and the result into
//! what the model reads (`text`) and what a program reads (`structured`).
//!
//! Every check the library makes ([`memory_core::Limits`]) still happens inside the
//! library; what is checked here is only what the library cannot see: ids and enumerated
//! values arriving as strings, and which outcome fields go with which outcome.

use super::error::ToolError;
use super::input;
use crate::access::{Access, Grant};
use crate::stats;
use chrono::{DateTime, Utc};
use memory_core::learning::shorten;
use memory_core::retrieval::{RetrievalMode, query_terms};
use memory_core::{
    Complexity, EpisodeFilter, EpisodeStatus, EpisodeSummary, Limits, NewEpisode, OutcomeKind,
    PatternFilter, PatternKindName, PatternOrder, RetrievalQuery, SelfLearningMemory, StepInput,
    StepResult, TaskContext, TaskOutcome, TaskType,
};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::str::FromStr;
use uuid::Uuid;

/// What a successful tool call returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// For the model: a short report, or the Markdown pack.
    pub text: String,
    /// For programs: the same result as JSON (`structuredContent`).
    pub structured: Value,
}

type Out = Result<ToolOutput, ToolError>;

/// Default page sizes of the listing tools.
pub(crate) const SEARCH_DEFAULT_LIMIT: usize = 20;
pub(crate) const PATTERNS_DEFAULT_LIMIT: usize = 20;

/// What every handler needs: the memory, the namespace used when a call names none, and
/// what the caller may do.
pub(crate) struct Ctx<'a> {
    pub memory: &'a SelfLearningMemory,
    pub default_namespace: &'a str,
    pub calls: &'a stats::ToolCalls,
    pub grant: &'a Grant,
}

impl Ctx<'_> {
    /// The namespace a call works in (the one it names, or the default its caller gets),
    /// once the caller's grant allows `needed` there; and the access granted.
    fn ns<'n>(
        &'n self,
        given: &'n Option<String>,
        needed: Access,
    ) -> Result<(&'n str, Access), ToolError> {
        let ns = match given.as_deref() {
            Some(ns) => ns,
            None => self
                .grant
                .default_namespace(self.default_namespace)
                .unwrap_or(self.default_namespace),
        };
        let granted = self.grant.check(ns, needed)?;
        Ok((ns, granted))
    }

    /// [`Ctx::ns`] for a call that writes.
    fn writable<'n>(&'n self, given: &'n Option<String>) -> Result<&'n str, ToolError> {
        self.ns(given, Access::ReadWrite).map(|(ns, _)| ns)
    }

    /// [`Ctx::ns`] for a call that only reads.
    fn readable<'n>(&'n self, given: &'n Option<String>) -> Result<&'n str, ToolError> {
        self.ns(given, Access::Read).map(|(ns, _)| ns)
    }
}

/// An id argument.
pub(crate) fn uuid(field: &str, raw: &str) -> Result<Uuid, ToolError> {
    Uuid::parse_str(raw.trim()).map_err(|e| {
        ToolError::value(
            field,
            format!("`{raw}` is not an id ({e}); pass the id exactly as a tool returned it"),
        )
    })
}

fn parsed<T: FromStr<Err = String>>(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<T>, ToolError> {
    raw.map(|r| required(field, r)).transpose()
}

/// An `outcome` argument: exactly one of the names the tool's schema lists (the library's
/// parser also takes aliases such as `partial`, which the CLI accepts; a tool call gets one
/// spelling per outcome, as its schema says).
fn outcome_kind(raw: &str) -> Result<OutcomeKind, ToolError> {
    OutcomeKind::ALL
        .iter()
        .copied()
        .find(|kind| kind.as_str() == raw)
        .ok_or_else(|| {
            let names: Vec<&str> = OutcomeKind::ALL.iter().map(|k| k.as_str()).collect();
            ToolError::value(
                "outcome",
                format!(
                    "unknown outcome `{raw}`; expected one of: {}",
                    names.join(", ")
                ),
            )
        })
}

fn required<T: FromStr<Err = String>>(field: &str, raw: &str) -> Result<T, ToolError> {
    raw.parse::<T>().map_err(|e| ToolError::value(field, e))
}

fn time(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ToolError> {
    raw.map(|r| {
        DateTime::parse_from_rfc3339(r.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ToolError::value(
                    field,
                    format!("`{r}` is not an RFC 3339 time ({e}), e.g. 2026-01-31T00:00:00Z"),
                )
            })
    })
    .transpose()
}

fn context(field: &str, given: Option<input::ContextInput>) -> Result<TaskContext, ToolError> {
    let c = given.unwrap_or_default();
    Ok(TaskContext {
        domain: c.domain,
        language: c.language,
        framework: c.framework,
        complexity: parsed::<Complexity>(&format!("{field}.complexity"), c.complexity.as_deref())?,
        tags: c.tags,
    })
}

/// `start_episode`'s arguments as the library's input.
pub(crate) fn new_episode(a: &input::StartEpisode) -> Result<NewEpisode, ToolError> {
    Ok(NewEpisode {
        task_description: a.task.clone(),
        task_type: parsed::<TaskType>("task_type", a.task_type.as_deref())?.unwrap_or_default(),
        context: context("context", a.context.clone())?,
        tags: a.tags.clone(),
        metadata: a.metadata.clone().unwrap_or_default(),
        retrieval_session: a
            .session_id
            .as_deref()
            .map(|s| uuid("session_id", s))
            .transpose()?,
    })
}

/// `start_episode`.
pub(crate) async fn start_episode(cx: &Ctx<'_>, a: input::StartEpisode) -> Out {
    let ns = cx.writable(&a.namespace)?;
    let new = new_episode(&a)?;
    let id = cx.memory.start_episode(ns, new).await?;
    Ok(ToolOutput {
        text: format!(
            "Started episode {id} in namespace `{ns}`. Call log_step with this episode_id after \
             each tool call, then complete_episode when the task ends."
        ),
        structured: json!({ "episode_id": id, "namespace": ns }),
    })
}

/// `log_step`'s arguments as the episode id and the library's input: `status` with the one
/// of `output` and `error` that goes with it.
pub(crate) fn step_input(a: &input::LogStep) -> Result<(Uuid, StepInput), ToolError> {
    let id = uuid("episode_id", &a.episode_id)?;
    let result = match a.status.trim().to_ascii_lowercase().as_str() {
        "success" => {
            if a.error.is_some() {
                return Err(ToolError::value(
                    "error",
                    "is only for status `error`; put a successful step's result in `output`",
                ));
            }
            StepResult::Success {
                output: a.output.clone().unwrap_or_default(),
            }
        }
        "error" => match a.error.clone() {
            Some(message) => {
                if a.output.is_some() {
                    return Err(ToolError::value(
                        "output",
                        "is only for status `success`; put the error message in `error`",
                    ));
                }
                StepResult::Error { message }
            }
            None => {
                return Err(ToolError::value(
                    "error",
                    "is required with status `error`: the error message as the tool reported it",
                ));
            }
        },
        "timeout" => {
            if a.output.is_some() || a.error.is_some() {
                return Err(ToolError::value(
                    "status",
                    "`timeout` takes neither `output` nor `error`",
                ));
            }
            StepResult::Timeout
        }
        other => {
            return Err(ToolError::value(
                "status",
                format!("unknown status `{other}`; expected success, error or timeout"),
            ));
        }
    };
    let step = StepInput {
        tool: a.tool.clone(),
        action: a.action.clone(),
        parameters: a.parameters.clone().unwrap_or(Value::Null),
        result,
        latency_ms: a.latency_ms.unwrap_or(0),
        tokens_used: a.tokens_used,
        metadata: a.metadata.clone().unwrap_or_default(),
    };
    Ok((id, step))
}

/// `log_step`.
pub(crate) async fn log_step(cx: &Ctx<'_>, a: input::LogStep) -> Out {
    let ns = cx.writable(&a.namespace)?;
    let (id, step) = step_input(&a)?;
    let stored = cx.memory.log_step(ns, id, step).await?;
    Ok(ToolOutput {
        text: format!(
            "Logged step {} of episode {id}: `{}` {}.",
            stored.seq,
            stored.tool,
            stored.result.status().as_str()
        ),
        structured: json!({
            "episode_id": id,
            "seq": stored.seq,
            "at": stored.at,
            "tool": stored.tool,
            "status": stored.result.status(),
        }),
    })
}

/// `complete_episode`'s arguments as the episode id and the library's outcome: `outcome`
/// with the fields that go with it, and none of the others.
pub(crate) fn task_outcome(a: &input::CompleteEpisode) -> Result<(Uuid, TaskOutcome), ToolError> {
    let id = uuid("episode_id", &a.episode_id)?;
    let kind = outcome_kind(&a.outcome)?;
    let need = |field: &str, v: Option<String>| {
        v.ok_or_else(|| ToolError::value(field, format!("is required with outcome `{kind}`")))
    };
    let unused = |field: &str, present: bool| {
        if present {
            Err(ToolError::value(
                field,
                format!("does not apply to outcome `{kind}`"),
            ))
        } else {
            Ok(())
        }
    };
    let outcome = match kind {
        OutcomeKind::Success => {
            unused("completed", !a.completed.is_empty())?;
            unused("failed", !a.failed.is_empty())?;
            unused("reason", a.reason.is_some())?;
            unused("details", a.details.is_some())?;
            TaskOutcome::Success {
                verdict: need("verdict", a.verdict.clone())?,
                artifacts: a.artifacts.clone(),
            }
        }
        OutcomeKind::PartialSuccess => {
            unused("artifacts", !a.artifacts.is_empty())?;
            unused("reason", a.reason.is_some())?;
            unused("details", a.details.is_some())?;
            TaskOutcome::PartialSuccess {
                verdict: need("verdict", a.verdict.clone())?,
                completed: a.completed.clone(),
                failed: a.failed.clone(),
            }
        }
        OutcomeKind::Failure => {
            unused("verdict", a.verdict.is_some())?;
            unused("artifacts", !a.artifacts.is_empty())?;
            unused("completed", !a.completed.is_empty())?;
            unused("failed", !a.failed.is_empty())?;
            TaskOutcome::Failure {
                reason: need("reason", a.reason.clone())?,
                details: a.details.clone(),
            }
        }
        OutcomeKind::Abstained => {
            unused("verdict", a.verdict.is_some())?;
            unused("artifacts", !a.artifacts.is_empty())?;
            unused("completed", !a.completed.is_empty())?;
            unused("failed", !a.failed.is_empty())?;
            unused("details", a.details.is_some())?;
            TaskOutcome::Abstained {
                reason: need("reason", a.reason.clone())?,
            }
        }
    };
    Ok((id, outcome))
}

/// `complete_episode`.
pub(crate) async fn complete_episode(cx: &Ctx<'_>, a: input::CompleteEpisode) -> Out {
    let ns = cx.writable(&a.namespace)?;
    let (id, outcome) = task_outcome(&a)?;
    let episode = cx.memory.complete_episode(ns, id, outcome).await?;
    let mut text = format!("Completed episode {id}");
    if let Some(r) = &episode.reward {
        let _ = write!(text, ": reward {:.2} ({})", r.total, r.breakdown);
    }
    text.push('.');
    if let Some(reflection) = &episode.reflection {
        for (title, lines) in [
            ("Worked", &reflection.successes),
            ("Improve", &reflection.improvements),
            ("Insights", &reflection.insights),
        ] {
            if !lines.is_empty() {
                let _ = write!(text, "\n{title}:");
                for line in lines {
                    let _ = write!(text, "\n- {line}");
                }
            }
        }
    }
    let _ = write!(text, "\nPatterns updated: {}.", episode.pattern_ids.len());
    Ok(ToolOutput {
        text,
        structured: json!({
            "episode_id": id,
            "namespace": ns,
            "outcome": episode.outcome,
            "reward": episode.reward,
            "reflection": episode.reflection,
            "pattern_ids": episode.pattern_ids,
            "steps": episode.steps.len(),
        }),
    })
}

/// `retrieve_context`'s arguments as the library's query in namespace `ns` (which records a
/// session unless the handler says otherwise).
pub(crate) fn retrieval_query(
    a: &input::RetrieveContext,
    ns: &str,
) -> Result<RetrievalQuery, ToolError> {
    let mut query = RetrievalQuery::new(ns, a.query.clone());
    query.context = context("context", a.context.clone())?;
    query.task_type = parsed::<TaskType>("task_type", a.task_type.as_deref())?;
    if let Some(limit) = a.limit {
        query.limit = limit;
    }
    if let Some(budget) = a.token_budget {
        query.token_budget = budget;
    }
    if let Some(mode) = parsed::<RetrievalMode>("mode", a.mode.as_deref())? {
        query.mode = mode;
    }
    Ok(query)
}

/// `retrieve_context`.
pub(crate) async fn retrieve_context(cx: &Ctx<'_>, a: input::RetrieveContext) -> Out {
    let (ns, granted) = cx.ns(&a.namespace, Access::Read)?;
    let mut query = retrieval_query(&a, ns)?;
    // A namespace granted for reading only is looked up without keeping a session (the
    // one write a retrieval makes).
    query.record_session = !a.no_session.unwrap_or(false) && granted == Access::ReadWrite;
    let pack = cx.memory.retrieve_context(&query).await?;
    let structured = serde_json::to_value(&pack)
        .map_err(|e| ToolError::Internal(format!("cannot encode the context pack: {e}")))?;
    Ok(ToolOutput {
        text: pack.markdown,
        structured,
    })
}

/// `get_episode`.
pub(crate) async fn get_episode(cx: &Ctx<'_>, a: input::EpisodeRef) -> Out {
    let ns = cx.readable(&a.namespace)?;
    let id = uuid("episode_id", &a.episode_id)?;
    let episode = cx.memory.get_episode(ns, id).await?;
    let structured = serde_json::to_value(&episode)
        .map_err(|e| ToolError::Internal(format!("cannot encode the episode: {e}")))?;
    let text = serde_json::to_string_pretty(&structured)
        .map_err(|e| ToolError::Internal(format!("cannot encode the episode: {e}")))?;
    Ok(ToolOutput { text, structured })
}

/// `search_episodes`'s filters as the library's listing filter in namespace `ns`; with a
/// `query`, also the checks the library would make of a listing (the words then go to the
/// text index, which makes none).
pub(crate) fn episode_filter(
    a: &input::SearchEpisodes,
    ns: &str,
    limits: &Limits,
) -> Result<EpisodeFilter, ToolError> {
    let mut filter = EpisodeFilter::new(ns);
    filter.domain = a.domain.clone();
    filter.language = a.language.clone();
    filter.task_type = parsed::<TaskType>("task_type", a.task_type.as_deref())?;
    filter.outcome = a.outcome.as_deref().map(outcome_kind).transpose()?;
    filter.status = a.completed.map(|done| match done {
        true => EpisodeStatus::Completed,
        false => EpisodeStatus::Running,
    });
    filter.tags = a.tags.clone();
    filter.started_after = time("since", a.since.as_deref())?;
    filter.started_before = time("until", a.until.as_deref())?;
    filter.limit = a.limit.unwrap_or(SEARCH_DEFAULT_LIMIT);
    filter.offset = a.offset.unwrap_or(0);
    if let Some(q) = &a.query {
        limits
            .check_namespace(ns)
            .map_err(memory_core::MemoryError::from)?;
        limits
            .check_list_limit(filter.limit)
            .map_err(memory_core::MemoryError::from)?;
        let n = q.chars().count();
        if q.trim().is_empty() || n > limits.query_chars {
            return Err(ToolError::value(
                "query",
                format!("is {n} characters; it must be 1 to {}", limits.query_chars),
            ));
        }
    }
    Ok(filter)
}

/// `search_episodes`.
pub(crate) async fn search_episodes(cx: &Ctx<'_>, a: input::SearchEpisodes) -> Out {
    let ns = cx.readable(&a.namespace)?;
    let limits = &cx.memory.config().limits;
    let filter = episode_filter(&a, ns, limits)?;

    let episodes = match &a.query {
        None => cx.memory.list_episodes(&filter).await?,
        Some(q) => {
            // Best text matches first, then the filter applied to them.
            let matches = cx
                .memory
                .storage()
                .search_text(ns, &query_terms(q), limits.list_limit)
                .await?;
            matches
                .into_iter()
                .map(|m| m.summary)
                .filter(|s| matches_filter(s, &filter))
                .skip(filter.offset)
                .take(filter.limit)
                .collect()
        }
    };
    let mut text = String::new();
    if episodes.is_empty() {
        text.push_str("No episodes match.");
    }
    for e in &episodes {
        let _ = writeln!(
            text,
            "{} · {} · reward {} · {} steps · {}",
            e.id,
            e.outcome_kind.map_or("running", OutcomeKind::as_str),
            e.reward
                .map_or_else(|| "-".to_string(), |r| format!("{r:.2}")),
            e.step_count,
            shorten(&e.task_description, 120),
        );
    }
    Ok(ToolOutput {
        text: text.trim_end().to_string(),
        structured: json!({ "namespace": ns, "episodes": episodes }),
    })
}

/// Whether a text match also passes the listing filter (the index knows only the text).
fn matches_filter(s: &EpisodeSummary, f: &EpisodeFilter) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| match want {
        Some(w) => have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)),
        None => true,
    };
    eq(&f.domain, &s.context.domain)
        && eq(&f.language, &s.context.language)
        && f.task_type.is_none_or(|t| t == s.task_type)
        && f.outcome.is_none_or(|o| Some(o) == s.outcome_kind)
        && match f.status {
            Some(EpisodeStatus::Running) => s.ended_at.is_none(),
            Some(EpisodeStatus::Completed) => s.ended_at.is_some(),
            None => true,
        }
        && f.tags.iter().all(|t| {
            s.tags
                .iter()
                .chain(&s.context.tags)
                .any(|have| have.eq_ignore_ascii_case(t))
        })
        && f.started_after.is_none_or(|t| s.started_at >= t)
        && f.started_before.is_none_or(|t| s.started_at < t)
}

/// `list_patterns`'s filters as the library's pattern filter in namespace `ns`.
pub(crate) fn pattern_filter(
    a: &input::ListPatterns,
    ns: &str,
) -> Result<PatternFilter, ToolError> {
    let order = match a.order.as_deref().map(|o| o.trim().to_ascii_lowercase()) {
        None => PatternOrder::Confidence,
        Some(o) => match o.as_str() {
            "confidence" => PatternOrder::Confidence,
            "support" => PatternOrder::Support,
            "lift" => PatternOrder::Lift,
            "recent" => PatternOrder::Recent,
            _ => {
                return Err(ToolError::value(
                    "order",
                    format!("unknown order `{o}`; expected confidence, support, lift or recent"),
                ));
            }
        },
    };
    if let Some(c) = a.min_confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(ToolError::value(
            "min_confidence",
            format!("is {c}; it must be 0 to 1"),
        ));
    }
    Ok(PatternFilter {
        namespace: ns.to_string(),
        kind: parsed::<PatternKindName>("kind", a.kind.as_deref())?,
        domain: a.domain.clone(),
        language: a.language.clone(),
        framework: a.framework.clone(),
        task_type: parsed::<TaskType>("task_type", a.task_type.as_deref())?,
        tags: a.tags.clone(),
        min_episodes: a.min_episodes.unwrap_or(0),
        min_confidence: a.min_confidence.unwrap_or(0.0),
        order,
        limit: a.limit.unwrap_or(PATTERNS_DEFAULT_LIMIT),
        offset: a.offset.unwrap_or(0),
    })
}

/// `list_patterns`.
pub(crate) async fn list_patterns(cx: &Ctx<'_>, a: input::ListPatterns) -> Out {
    let ns = cx.readable(&a.namespace)?;
    let filter = pattern_filter(&a, ns)?;
    let patterns = cx.memory.list_patterns(&filter).await?;
    let heuristics = cx.memory.heuristics(&filter).await?;
    let now = Utc::now();
    let half_life = cx.memory.config().learning.half_life_days;
    let mut text = String::new();
    if patterns.is_empty() {
        text.push_str("No patterns yet (they are mined when episodes complete).");
    }
    let listed: Vec<Value> = patterns
        .iter()
        .map(|p| {
            let st = p.stats.at(now, half_life);
            let _ = writeln!(
                text,
                "{} · {} · {} episodes · success {:.2} · confidence {:.2} · lift {:.2} · {} — {}",
                p.id,
                p.kind.name(),
                p.stats.episodes,
                st.success_rate(),
                st.confidence(),
                p.lift,
                p.scope.describe(),
                p.kind.describe(),
            );
            json!({
                "id": p.id,
                "kind": p.kind.name(),
                "description": p.kind.describe(),
                "pattern": p.kind,
                "scope": p.scope,
                "episodes": p.stats.episodes,
                "successful_episodes": p.stats.successful_episodes,
                "success_rate": st.success_rate(),
                "confidence": st.confidence(),
                "lift": p.lift,
                "effectiveness": p.effectiveness,
                "example": p.example,
                "last_seen": p.last_seen,
            })
        })
        .collect();
    if !heuristics.is_empty() {
        text.push_str("\nRules:\n");
        for h in &heuristics {
            let _ = writeln!(text, "- {}", h.text);
        }
    }
    Ok(ToolOutput {
        text: text.trim_end().to_string(),
        structured: json!({ "namespace": ns, "patterns": listed, "heuristics": heuristics }),
    })
}

/// `record_feedback`'s arguments as the session id, the applied patterns' ids (at most a
/// listing page of them) and the outcome.
pub(crate) fn feedback(
    a: &input::RecordFeedback,
    limits: &Limits,
) -> Result<(Uuid, Vec<Uuid>, OutcomeKind), ToolError> {
    let session = uuid("session_id", &a.session_id)?;
    let limit = limits.list_limit;
    if a.applied.len() > limit {
        return Err(ToolError::value(
            "applied",
            format!("has {} ids; the limit is {limit}", a.applied.len()),
        ));
    }
    let applied = a
        .applied
        .iter()
        .enumerate()
        .map(|(i, p)| uuid(&format!("applied[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = outcome_kind(&a.outcome)?;
    Ok((session, applied, outcome))
}

/// `record_feedback`.
pub(crate) async fn record_feedback(cx: &Ctx<'_>, a: input::RecordFeedback) -> Out {
    let ns = cx.writable(&a.namespace)?;
    let (session, applied, outcome) = feedback(&a, &cx.memory.config().limits)?;
    cx.memory
        .record_feedback(ns, session, applied.clone(), outcome)
        .await?;
    Ok(ToolOutput {
        text: format!(
            "Feedback recorded for session {session}: {} pattern(s) applied, outcome {outcome}.",
            applied.len()
        ),
        structured: json!({ "session_id": session, "applied": applied, "outcome": outcome }),
    })
}

/// `delete_episode`.
pub(crate) async fn delete_episode(cx: &Ctx<'_>, a: input::EpisodeRef) -> Out {
    let ns = cx.writable(&a.namespace)?;
    let id = uuid("episode_id", &a.episode_id)?;
    cx.memory.delete_episode(ns, id).await?;
    Ok(ToolOutput {
        text: format!("Deleted episode {id} from namespace `{ns}`."),
        structured: json!({ "deleted": id, "namespace": ns }),
    })
}

/// `memory_stats`.
pub(crate) async fn memory_stats(cx: &Ctx<'_>, a: input::MemoryStats) -> Out {
    let ns = cx.readable(&a.namespace)?;
    let report = stats::collect(cx.memory, ns, cx.calls, cx.grant.sees_whole_store()).await?;
    let structured = serde_json::to_value(&report)
        .map_err(|e| ToolError::Internal(format!("cannot encode the statistics: {e}")))?;
    Ok(ToolOutput {
        text: report.describe(),
        structured,
    })
}
