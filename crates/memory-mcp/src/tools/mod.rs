//! The tools: their names, the descriptions a model reads to decide when to call them, their
//! input schemas, and the dispatch from a `tools/call` to its handler.

mod error;
mod handlers;
pub mod input;
mod schema;

pub use crate::tool_names::TOOL_NAMES;
pub use error::ToolError;
pub(crate) use handlers::Ctx;
pub use handlers::ToolOutput;

use handlers::{PATTERNS_DEFAULT_LIMIT, SEARCH_DEFAULT_LIMIT};
use memory_core::{
    EpisodeFilter, Limits, NewEpisode, OutcomeKind, PatternFilter, RetrievalQuery, StepInput,
    TaskOutcome,
};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schema::{PageLimit, input_schema};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use uuid::Uuid;

const RETRIEVE: &str = "Find what this memory learned from past tasks similar to a new one. \
Call it at the START of a task, before planning. Returns a Markdown context pack within a token \
budget: a playbook when similar past tasks agree on a procedure (its status — established or \
tentative — and evidence: how many similar episodes used it and how they ended), otherwise \
\"No reliable procedure yet\" with options and what failed (explore, do not follow blindly); \
what cleared each tool's errors in similar tasks (transient ones: just retry); rules in words \
(do this / avoid that, with their evidence); and the most similar past episodes with their \
outcomes and lessons. structuredContent carries the same as JSON (playbook, exploration, \
recoveries, hits, patterns with ids, session_id). Keep the session_id: pass it to start_episode (feedback is then automatic) or \
to record_feedback. Describe the task specifically (error messages, component names) and give \
the context (domain, language, framework) when known: matches boost results.";

const START: &str = "Begin recording an episode: one attempt at one task. Call it when you \
start working on a task, after retrieve_context. Returns the episode_id that log_step and \
complete_episode need. Pass the session_id of the retrieval you are working from, if any.";

const LOG_STEP: &str = "Record one step of a running episode: a tool you used and what \
happened (status success with its output, error with its message, or timeout). Call it after \
each meaningful tool call, in order. Use stable tool names (the same name for the same tool): \
the memory mines tool sequences and error→recovery paths from them. Keep outputs short; \
record decisions as tool `decision` with parameters {\"condition\": …, \"choice\": …}.";

const COMPLETE: &str = "Finish a running episode with its outcome: success (verdict), \
partial_success (verdict, completed, failed), failure (reason, details) or abstained (reason). \
Call it once, when the task ends, whether it went well or not: failures teach the memory what \
to avoid. Returns the reward (0–1, with its breakdown), the lessons drawn, and how many \
learned patterns were updated. An episode cannot be completed twice or get steps afterwards.";

const FEEDBACK: &str = "Report which recommendations of a retrieve_context call you applied \
and how the task ended, so patterns that help rise and those that mislead sink. Call it once \
per session_id, after the task, unless you passed that session_id to start_episode (then the \
outcome is reported when the episode completes). `applied` lists pattern ids from that \
retrieval's patterns.";

const SEARCH: &str = "Find past episodes by words (best full-text match first, completed \
episodes only) or by filters (domain, language, task type, outcome, tags, time), newest first. \
Use it to look up specific past work; use retrieve_context instead to prepare for a new task. \
Returns one line per episode with its id; get_episode shows one in full.";

const GET: &str = "Show one episode in full: the task and its context, every step (tool, \
action, parameters, result, latency), the outcome, the reward breakdown and the lessons.";

const PATTERNS: &str = "List what the memory has learned across episodes: tool sequences, \
error→recovery paths, decisions and context-specific approaches, each with how many episodes \
showed it, its success rate, confidence (Wilson lower bound), lift over the context's baseline \
and agent feedback; plus the rules in words derived from the well-supported ones.";

const DELETE: &str = "Delete an episode, its steps and its search-index entries for good (for \
example one recorded by mistake or holding data that must not be kept). Patterns it already \
contributed to keep their counts. Cannot be undone.";

const STATS: &str = "Report the state of the memory: the namespace's episodes (running, and \
completed by outcome) and patterns; the whole store's sizes; latency percentiles (p50/p95/p99) \
of the memory's operations, cache and prepared-statement hit rates; and this server's per-tool \
call counts, errors and latencies. For diagnosing slowness or checking what was recorded.";

/// The tool definitions `tools/list` returns, with schemas bounded by `limits`.
pub fn catalogue(limits: &Limits) -> Vec<Tool> {
    let retrieve = Some(PageLimit {
        max: limits.retrieve_limit,
        default: 5,
    });
    let search = Some(PageLimit {
        max: limits.list_limit,
        default: SEARCH_DEFAULT_LIMIT,
    });
    let patterns = Some(PageLimit {
        max: limits.list_limit,
        default: PATTERNS_DEFAULT_LIMIT,
    });
    let read_only = || ToolAnnotations::new().read_only(true).destructive(false);
    let additive = || ToolAnnotations::new().read_only(false).destructive(false);
    vec![
        tool::<input::RetrieveContext>("retrieve_context", RETRIEVE, limits, retrieve)
            // Stores a session for feedback, so not strictly read-only.
            .annotate(additive()),
        tool::<input::StartEpisode>("start_episode", START, limits, None).annotate(additive()),
        tool::<input::LogStep>("log_step", LOG_STEP, limits, None).annotate(additive()),
        tool::<input::CompleteEpisode>("complete_episode", COMPLETE, limits, None)
            .annotate(additive()),
        tool::<input::RecordFeedback>("record_feedback", FEEDBACK, limits, None)
            .annotate(additive()),
        tool::<input::SearchEpisodes>("search_episodes", SEARCH, limits, search)
            .annotate(read_only()),
        tool::<input::EpisodeRef>("get_episode", GET, limits, None).annotate(read_only()),
        tool::<input::ListPatterns>("list_patterns", PATTERNS, limits, patterns)
            .annotate(read_only()),
        tool::<input::EpisodeRef>("delete_episode", DELETE, limits, None)
            .annotate(ToolAnnotations::new().read_only(false).destructive(true)),
        tool::<input::MemoryStats>("memory_stats", STATS, limits, None).annotate(read_only()),
    ]
}

fn tool<T: schemars::JsonSchema>(
    name: &'static str,
    description: &'static str,
    limits: &Limits,
    page: Option<PageLimit>,
) -> Tool {
    Tool::new(name, description, Arc::new(input_schema::<T>(limits, page)))
}

/// Parses `args` for `tool`, or says exactly what is wrong with them.
fn args<T: DeserializeOwned>(tool: &str, args: JsonObject) -> Result<T, ToolError> {
    serde_json::from_value(serde_json::Value::Object(args)).map_err(|e| ToolError::Arguments {
        tool: tool.to_string(),
        detail: error::json_wording(&e.to_string()),
    })
}

/// A tool call's arguments once [`check_call`] has parsed and checked them: the namespace
/// and the library inputs the tool's handler passes to the memory.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedCall {
    /// `start_episode`: namespace, new episode.
    StartEpisode(String, NewEpisode),
    /// `log_step`: namespace, episode id, step.
    LogStep(String, Uuid, StepInput),
    /// `complete_episode`: namespace, episode id, outcome.
    CompleteEpisode(String, Uuid, TaskOutcome),
    /// `retrieve_context`: the query (with its namespace).
    RetrieveContext(RetrievalQuery),
    /// `search_episodes`: the listing filter (with its namespace) and the words, if any.
    SearchEpisodes(EpisodeFilter, Option<String>),
    /// `get_episode`: namespace, episode id.
    GetEpisode(String, Uuid),
    /// `list_patterns`: the pattern filter (with its namespace).
    ListPatterns(PatternFilter),
    /// `record_feedback`: namespace, session id, applied pattern ids, outcome.
    RecordFeedback(String, Uuid, Vec<Uuid>, OutcomeKind),
    /// `delete_episode`: namespace, episode id.
    DeleteEpisode(String, Uuid),
    /// `memory_stats`: namespace.
    MemoryStats(String),
}

/// Parses and checks `arguments` for the tool `name` as a `tools/call` does before it asks
/// the memory anything — the same parsers, checks and error texts — for a caller that may
/// use every namespace, a call naming none working in `default_namespace`. Touches no
/// storage: the library's own checks of what it is given ([`Limits`]) and everything that
/// needs the store (unknown ids, namespaces a token does not grant) come after, in
/// [`MemoryServer::call`](crate::MemoryServer::call). Public for the fuzz target over the
/// MCP argument parsing (`fuzz/` in the repository).
#[doc(hidden)]
pub fn check_call(
    name: &str,
    arguments: JsonObject,
    default_namespace: &str,
    limits: &Limits,
) -> Result<CheckedCall, ToolError> {
    let ns = |given: &Option<String>| given.as_deref().unwrap_or(default_namespace).to_string();
    let a = arguments;
    Ok(match name {
        "start_episode" => {
            let a: input::StartEpisode = args(name, a)?;
            CheckedCall::StartEpisode(ns(&a.namespace), handlers::new_episode(&a)?)
        }
        "log_step" => {
            let a: input::LogStep = args(name, a)?;
            let (id, step) = handlers::step_input(&a)?;
            CheckedCall::LogStep(ns(&a.namespace), id, step)
        }
        "complete_episode" => {
            let a: input::CompleteEpisode = args(name, a)?;
            let (id, outcome) = handlers::task_outcome(&a)?;
            CheckedCall::CompleteEpisode(ns(&a.namespace), id, outcome)
        }
        "retrieve_context" => {
            let a: input::RetrieveContext = args(name, a)?;
            let mut query = handlers::retrieval_query(&a, &ns(&a.namespace))?;
            query.record_session = !a.no_session.unwrap_or(false);
            CheckedCall::RetrieveContext(query)
        }
        "get_episode" => {
            let a: input::EpisodeRef = args(name, a)?;
            CheckedCall::GetEpisode(
                ns(&a.namespace),
                handlers::uuid("episode_id", &a.episode_id)?,
            )
        }
        "search_episodes" => {
            let a: input::SearchEpisodes = args(name, a)?;
            let filter = handlers::episode_filter(&a, &ns(&a.namespace), limits)?;
            CheckedCall::SearchEpisodes(filter, a.query)
        }
        "list_patterns" => {
            let a: input::ListPatterns = args(name, a)?;
            CheckedCall::ListPatterns(handlers::pattern_filter(&a, &ns(&a.namespace))?)
        }
        "record_feedback" => {
            let a: input::RecordFeedback = args(name, a)?;
            let (session, applied, outcome) = handlers::feedback(&a, limits)?;
            CheckedCall::RecordFeedback(ns(&a.namespace), session, applied, outcome)
        }
        "delete_episode" => {
            let a: input::EpisodeRef = args(name, a)?;
            let id = handlers::uuid("episode_id", &a.episode_id)?;
            CheckedCall::DeleteEpisode(ns(&a.namespace), id)
        }
        "memory_stats" => {
            let a: input::MemoryStats = args(name, a)?;
            CheckedCall::MemoryStats(ns(&a.namespace))
        }
        other => return Err(ToolError::UnknownTool(other.to_string())),
    })
}

/// Runs the tool `name` with `arguments` (absent arguments are an empty object).
pub(crate) async fn dispatch(
    cx: &Ctx<'_>,
    name: &str,
    arguments: JsonObject,
) -> Result<ToolOutput, ToolError> {
    let a = arguments;
    match name {
        "start_episode" => handlers::start_episode(cx, args(name, a)?).await,
        "log_step" => handlers::log_step(cx, args(name, a)?).await,
        "complete_episode" => handlers::complete_episode(cx, args(name, a)?).await,
        "retrieve_context" => handlers::retrieve_context(cx, args(name, a)?).await,
        "get_episode" => handlers::get_episode(cx, args(name, a)?).await,
        "search_episodes" => handlers::search_episodes(cx, args(name, a)?).await,
        "list_patterns" => handlers::list_patterns(cx, args(name, a)?).await,
        "record_feedback" => handlers::record_feedback(cx, args(name, a)?).await,
        "delete_episode" => handlers::delete_episode(cx, args(name, a)?).await,
        "memory_stats" => handlers::memory_stats(cx, args(name, a)?).await,
        other => Err(ToolError::UnknownTool(other.to_string())),
    }
}
