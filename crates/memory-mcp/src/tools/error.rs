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
    /// The caller's token does not grant the namespace, or grants it for reading only.
    #[error(transparent)]
    Denied(#[from] crate::access::Denied),
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
        MemoryError::Invalid(v) => format!(
            "invalid `{}`: {}; nothing was written",
            argument_name(&v.field),
            v.problem
        ),
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
        MemoryError::Busy(_) => format!("{err}; nothing was written: call again in a moment"),
        MemoryError::Storage(_) | MemoryError::Corrupt { .. } | MemoryError::Embedding(_) => {
            format!("the memory could not complete the operation: {err}")
        }
    }
}

/// The tool argument a field of the library's input stands for: the library names what it
/// checks by its own model (`task_description`, `step.result.message`, `outcome.verdict`),
/// while a model calling a tool knows only the tool's arguments (`task`, `error`, `verdict`).
pub(crate) fn argument_name(field: &str) -> String {
    const RENAMED: [(&str, &str); 5] = [
        ("task_description", "task"),
        ("step.result.output", "output"),
        ("step.result.message", "error"),
        ("step.", ""),
        ("outcome.", ""),
    ];
    for (inner, argument) in RENAMED {
        if let Some(rest) = field.strip_prefix(inner) {
            return format!("{argument}{rest}");
        }
    }
    field.to_string()
}

/// A parser's complaint about the arguments' JSON, in JSON's words rather than Rust's
/// (`expected struct ContextInput` → `expected an object`, `sequence` → `array`).
pub(crate) fn json_wording(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        // `struct Name`: drop the Rust type's name.
        let after = &rest[at + "struct ".len()..];
        let name_end = after
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        out.push_str("an object");
        rest = &after[name_end..];
    }
    out.push_str(rest);
    for (rust, json) in [
        ("a sequence", "an array"),
        ("sequence", "array"),
        ("a map", "an object"),
        ("invalid type: map", "invalid type: object"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected f64", "expected a number"),
        ("unit value", "null"),
    ] {
        out = out.replace(rust, json);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full write queue reaches the model as a tool error that says to call again.
    #[test]
    fn a_busy_memory_says_to_call_again() {
        let text = describe(&MemoryError::Busy(
            "4096 writes are already waiting for the database".into(),
        ));
        assert_eq!(
            text,
            "the memory is busy: 4096 writes are already waiting for the database; nothing \
             was written: call again in a moment"
        );
    }

    #[test]
    fn library_fields_are_named_as_the_tools_arguments() {
        for (field, argument) in [
            ("task_description", "task"),
            ("step.result.message", "error"),
            ("step.result.output", "output"),
            ("step.tool", "tool"),
            ("step.latency_ms", "latency_ms"),
            ("outcome.verdict", "verdict"),
            ("outcome.artifacts[2]", "artifacts[2]"),
            ("context.tags[3]", "context.tags[3]"),
            ("namespace", "namespace"),
        ] {
            assert_eq!(argument_name(field), argument);
        }
    }

    #[test]
    fn parser_complaints_speak_json() {
        assert_eq!(
            json_wording(
                "invalid type: string \"x\", expected struct ContextInput at line 1 column 3"
            ),
            "invalid type: string \"x\", expected an object at line 1 column 3"
        );
        assert_eq!(
            json_wording("invalid type: map, expected a sequence"),
            "invalid type: object, expected an array"
        );
        assert_eq!(
            json_wording("invalid type: string \"5\", expected u64"),
            "invalid type: string \"5\", expected a whole number ≥ 0"
        );
    }
}
