//! One step of an episode: a tool call and what came of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened when a step ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepResult {
    /// The step did what was asked.
    Success {
        /// What the tool returned (possibly shortened by the agent).
        output: String,
    },
    /// The step failed.
    Error {
        /// The error as the tool reported it.
        message: String,
    },
    /// The step did not finish in time.
    Timeout,
}

impl StepResult {
    /// The status without its payload.
    pub fn status(&self) -> StepStatus {
        match self {
            StepResult::Success { .. } => StepStatus::Success,
            StepResult::Error { .. } => StepStatus::Error,
            StepResult::Timeout => StepStatus::Timeout,
        }
    }

    /// True for [`StepResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, StepResult::Success { .. })
    }

    /// The text carried by the result (output or error message), empty for a timeout.
    pub fn text(&self) -> &str {
        match self {
            StepResult::Success { output } => output,
            StepResult::Error { message } => message,
            StepResult::Timeout => "",
        }
    }
}

/// The status of a step without its payload; a real column in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// See [`StepResult::Success`].
    Success,
    /// See [`StepResult::Error`].
    Error,
    /// See [`StepResult::Timeout`].
    Timeout,
}

impl StepStatus {
    /// The snake_case name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Success => "success",
            StepStatus::Error => "error",
            StepStatus::Timeout => "timeout",
        }
    }
}

/// A recorded step of an episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionStep {
    /// Position in the episode, starting at 1, assigned by the store.
    pub seq: u32,
    /// When the step was recorded (microsecond precision).
    pub at: DateTime<Utc>,
    /// The tool that was used, e.g. `cargo test`, `read_file`, `http_get`.
    pub tool: String,
    /// What the agent meant to do with it, in words.
    pub action: String,
    /// The tool's arguments.
    #[serde(default)]
    pub parameters: serde_json::Value,
    /// What happened.
    pub result: StepResult,
    /// How long the step took.
    #[serde(default)]
    pub latency_ms: u64,
    /// Model tokens spent on the step, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_used: Option<u32>,
    /// Free key/values.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// What an agent supplies to log a step; the store assigns `seq` and `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepInput {
    /// The tool that was used.
    pub tool: String,
    /// What the agent meant to do with it.
    pub action: String,
    /// The tool's arguments.
    #[serde(default)]
    pub parameters: serde_json::Value,
    /// What happened.
    pub result: StepResult,
    /// How long the step took.
    #[serde(default)]
    pub latency_ms: u64,
    /// Model tokens spent on the step, if known.
    #[serde(default)]
    pub tokens_used: Option<u32>,
    /// Free key/values.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl StepInput {
    /// A step with the given tool, action and result, and nothing else.
    pub fn new(tool: impl Into<String>, action: impl Into<String>, result: StepResult) -> Self {
        StepInput {
            tool: tool.into(),
            action: action.into(),
            parameters: serde_json::Value::Null,
            result,
            latency_ms: 0,
            tokens_used: None,
            metadata: serde_json::Map::new(),
        }
    }

    /// Sets the step's latency.
    pub fn with_latency_ms(mut self, latency_ms: u64) -> Self {
        self.latency_ms = latency_ms;
        self
    }

    /// Sets the step's parameters.
    pub fn with_parameters(mut self, parameters: serde_json::Value) -> Self {
        self.parameters = parameters;
        self
    }

    /// Turns the input into a recorded step at position `seq`, time `at`.
    pub fn into_step(self, seq: u32, at: DateTime<Utc>) -> ExecutionStep {
        ExecutionStep {
            seq,
            at,
            tool: self.tool,
            action: self.action,
            parameters: self.parameters,
            result: self.result,
            latency_ms: self.latency_ms,
            tokens_used: self.tokens_used,
            metadata: self.metadata,
        }
    }
}
