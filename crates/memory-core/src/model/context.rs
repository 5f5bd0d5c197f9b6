//! Where a task happens: its domain, language, framework and kind.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kind of work an episode was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// Writing new code.
    CodeGeneration,
    /// Finding and fixing a fault.
    Debugging,
    /// Restructuring code without changing behaviour.
    Refactoring,
    /// Writing or running tests.
    Testing,
    /// Investigating, reviewing or explaining.
    Analysis,
    /// Writing documentation.
    Documentation,
    /// Anything else.
    #[default]
    Other,
}

impl TaskType {
    /// Every task type, in a stable order (for help texts and generators).
    pub const ALL: [TaskType; 7] = [
        TaskType::CodeGeneration,
        TaskType::Debugging,
        TaskType::Refactoring,
        TaskType::Testing,
        TaskType::Analysis,
        TaskType::Documentation,
        TaskType::Other,
    ];

    /// The snake_case name used in storage, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::CodeGeneration => "code_generation",
            TaskType::Debugging => "debugging",
            TaskType::Refactoring => "refactoring",
            TaskType::Testing => "testing",
            TaskType::Analysis => "analysis",
            TaskType::Documentation => "documentation",
            TaskType::Other => "other",
        }
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        TaskType::ALL
            .into_iter()
            .find(|t| t.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
                format!(
                    "unknown task type `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// How hard the task looked when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// A small, well-understood change.
    Simple,
    /// Several steps or files.
    Moderate,
    /// Many parts, unknowns or risk.
    Complex,
}

impl Complexity {
    /// The snake_case name used in storage, JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Moderate => "moderate",
            Complexity::Complex => "complex",
        }
    }
}

impl FromStr for Complexity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "simple" => Ok(Complexity::Simple),
            "moderate" => Ok(Complexity::Moderate),
            "complex" => Ok(Complexity::Complex),
            _ => Err(format!(
                "unknown complexity `{s}`; expected simple, moderate or complex"
            )),
        }
    }
}

/// The setting of a task, used to find comparable past episodes and to boost context matches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskContext {
    /// The problem area, e.g. `web-api`, `data-pipeline`, `infra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The main programming language, e.g. `rust`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The main framework or library, e.g. `axum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// How hard the task looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<Complexity>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl TaskContext {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.domain.is_none()
            && self.language.is_none()
            && self.framework.is_none()
            && self.complexity.is_none()
            && self.tags.is_empty()
    }
}
