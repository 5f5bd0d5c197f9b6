//! The MCP argument parsing: a `tools/call` up to the memory.
//!
//! The input is the tool's name on the first line and its arguments, a JSON object, on the
//! rest (nothing there: no arguments, as a client that sends none). They go through
//! [`check_call`], the parsers and checks every tool call passes before its handler asks
//! the memory anything, with the server's error texts; a call that passes then gets the
//! checks the library's methods make of what they are given ([`Limits`]), its refusal
//! worded as the tool error a model would read.

use memory_core::{Limits, MemoryError, ValidationError};
use memory_mcp::ToolError;
use memory_mcp::tools::{CheckedCall, check_call};
use serde_json::{Map, Value};

/// Parses and checks `data` as a tool call.
pub fn run(data: &[u8]) {
    // A JSON-RPC message is UTF-8 JSON; rmcp refuses anything else before a tool sees it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, rest) = text.split_once('\n').unwrap_or((text, ""));
    let arguments = if rest.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(rest) {
            Ok(Value::Object(arguments)) => arguments,
            // Arguments that are not an object are refused by rmcp as invalid params.
            _ => return,
        }
    };
    let limits = Limits::default();
    match check_call(name, arguments, "default", &limits) {
        Ok(call) => {
            if let Err(e) = library_checks(&limits, &call) {
                drop(ToolError::from(MemoryError::from(e)).to_string());
            }
        }
        Err(e) => drop(e.to_string()),
    }
}

/// What the memory's methods check of `call`'s inputs before they touch the store.
fn library_checks(limits: &Limits, call: &CheckedCall) -> Result<(), ValidationError> {
    match call {
        CheckedCall::StartEpisode(ns, new) => {
            limits.check_namespace(ns)?;
            limits.check_new_episode(new)
        }
        CheckedCall::LogStep(ns, _, step) => {
            limits.check_namespace(ns)?;
            limits.check_step(step)
        }
        CheckedCall::CompleteEpisode(ns, _, outcome) => {
            limits.check_namespace(ns)?;
            limits.check_outcome(outcome)
        }
        CheckedCall::RetrieveContext(query) => {
            limits.check_namespace(&query.namespace)?;
            limits.check_query(&query.text, query.limit, query.token_budget)?;
            limits.check_context(&query.context)
        }
        CheckedCall::SearchEpisodes(filter, _) => {
            limits.check_namespace(&filter.namespace)?;
            limits.check_list_limit(filter.limit)
        }
        CheckedCall::ListPatterns(filter) => {
            limits.check_namespace(&filter.namespace)?;
            limits.check_list_limit(filter.limit)
        }
        CheckedCall::GetEpisode(ns, _)
        | CheckedCall::DeleteEpisode(ns, _)
        | CheckedCall::RecordFeedback(ns, ..)
        | CheckedCall::MemoryStats(ns) => limits.check_namespace(ns),
    }
}
