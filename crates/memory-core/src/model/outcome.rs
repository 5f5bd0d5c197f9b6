//! How an episode ended, and what the system derived from it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a task ended, as the agent reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskOutcome {
    /// The task was done.
    Success {
        /// What was achieved, in words.
        verdict: String,
        /// What was produced (files, PRs, ids).
        #[serde(default)]
        artifacts: Vec<String>,
    },
    /// Part of the task was done.
    PartialSuccess {
        /// What was achieved, in words.
        verdict: String,
        /// The parts that were done.
        #[serde(default)]
        completed: Vec<String>,
        /// The parts that were not.
        #[serde(default)]
        failed: Vec<String>,
    },
    /// The task was not done.
    Failure {
        /// Why, in words.
        reason: String,
        /// More detail, e.g. the last error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    },
    /// The agent chose not to do the task (out of scope, unsafe, needs a human).
    Abstained {
        /// Why.
        reason: String,
    },
}

impl TaskOutcome {
    /// The outcome without its payload.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            TaskOutcome::Success { .. } => OutcomeKind::Success,
            TaskOutcome::PartialSuccess { .. } => OutcomeKind::PartialSuccess,
            TaskOutcome::Failure { .. } => OutcomeKind::Failure,
            TaskOutcome::Abstained { .. } => OutcomeKind::Abstained,
        }
    }

    /// The main sentence of the outcome (verdict or reason).
    pub fn summary(&self) -> &str {
        match self {
            TaskOutcome::Success { verdict, .. } | TaskOutcome::PartialSuccess { verdict, .. } => {
                verdict
            }
            TaskOutcome::Failure { reason, .. } | TaskOutcome::Abstained { reason } => reason,
        }
    }

    /// All of the outcome's text, for the full-text index.
    pub fn full_text(&self) -> String {
        match self {
            TaskOutcome::Success { verdict, artifacts } => {
                let mut s = verdict.clone();
                for a in artifacts {
                    s.push(' ');
                    s.push_str(a);
                }
                s
            }
            TaskOutcome::PartialSuccess {
                verdict,
                completed,
                failed,
            } => {
                let mut s = verdict.clone();
                for a in completed.iter().chain(failed) {
                    s.push(' ');
                    s.push_str(a);
                }
                s
            }
            TaskOutcome::Failure { reason, details } => match details {
                Some(d) => format!("{reason} {d}"),
                None => reason.clone(),
            },
            TaskOutcome::Abstained { reason } => reason.clone(),
        }
    }
}

/// The kind of an outcome; a real, indexed column in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// See [`TaskOutcome::Success`].
    Success,
    /// See [`TaskOutcome::PartialSuccess`].
    PartialSuccess,
    /// See [`TaskOutcome::Failure`].
    Failure,
    /// See [`TaskOutcome::Abstained`].
    Abstained,
}

impl OutcomeKind {
    /// Every outcome kind.
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::Success,
        OutcomeKind::PartialSuccess,
        OutcomeKind::Failure,
        OutcomeKind::Abstained,
    ];

    /// The snake_case name used in storage, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::PartialSuccess => "partial_success",
            OutcomeKind::Failure => "failure",
            OutcomeKind::Abstained => "abstained",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutcomeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "success" => Ok(OutcomeKind::Success),
            "partial_success" | "partial" => Ok(OutcomeKind::PartialSuccess),
            "failure" | "failed" => Ok(OutcomeKind::Failure),
            "abstained" | "abstain" => Ok(OutcomeKind::Abstained),
            _ => Err(format!(
                "unknown outcome `{s}`; expected success, partial, failure or abstained"
            )),
        }
    }
}

/// The score of a completed episode, with the parts it was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardScore {
    /// The final score in `[0, 1]`.
    pub total: f64,
    /// The score of the outcome alone (success 1.0, partial 0.5, abstained 0.25, failure 0).
    pub base: f64,
    /// How lean the episode was against comparable past episodes, in `[0, 1]`; 0.5 is usual.
    pub efficiency: f64,
    /// The share of steps that succeeded, in `[0, 1]`.
    pub quality: f64,
    /// How the total was computed, in words and numbers.
    pub breakdown: String,
}

/// What went well, what could be better and what was learned in an episode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reflection {
    /// What worked.
    pub successes: Vec<String>,
    /// What to do differently.
    pub improvements: Vec<String>,
    /// What is worth remembering.
    pub insights: Vec<String>,
}

impl Reflection {
    /// Every line of the reflection, for the full-text index.
    pub fn full_text(&self) -> String {
        self.successes
            .iter()
            .chain(&self.improvements)
            .chain(&self.insights)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
