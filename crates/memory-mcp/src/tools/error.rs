//! Why a tool call failed, worded for the model that made it.
//!
//! Every failure becomes an MCP tool error (`isError: true`) whose text says what to change:
//! a model can read it and retry, where a JSON-RPC protocol error would reach it, if at all,
//! as an opaque "internal error".

use memory_core::MemoryError;

/// A failed tool call.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema (missing or unknown field, wrong type).
    #[error("invalid arguments for `{tool}`: {detail}")]
    Arguments {
        /// The tool called.
        tool: String,
        /// What was wrong, from the parser.
        detail: String,
    },
    /// An argument is well-formed JSON but not an acceptable value.
    #[error("invalid `{field}`: {problem}")]
    Value {
        /// The argument, e.g. `episode_id`.
        field: String,
        /// What is wrong with it and what is expected.
        problem: String,
    },
    /// No tool of that name.
    #[error("unknown tool `{0}`; call tools/list for the available tools")]
    UnknownTool(String),
    /// The memory refused or failed the operation.
    #[error("{}", describe(.0))]
    Memory(#[from] MemoryError),
    /// The handler stopped unexpectedly (a bug); the server keeps running.
    #[error("internal error: the tool stopped unexpectedly ({0}); the call may be retried")]
    Internal(String),
}

impl ToolError {
    /// An unacceptable argument value.
    pub fn value(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ToolError::Value {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

fn describe(err: &MemoryError) -> String {
    match err {
        MemoryError::Invalid(v) => format!("{v}; nothing was written"),
        MemoryError::NotFound { kind, .. } => format!(
            "{err}; check the {} and the namespace (ids are only visible in the namespace \
             they were created in)",
            match *kind {
                "episode" => "episode_id",
                "retrieval session" => "session_id",
                _ => "id",
            }
        ),
        MemoryError::Conflict(_) | MemoryError::Stale(_) | MemoryError::Cycle { .. } => {
            format!("conflict: {err}")
        }
        MemoryError::Storage(_) | MemoryError::Corrupt { .. } | MemoryError::Embedding(_) => {
            format!("the memory could not complete the operation: {err}")
        }
    }
}
