//! What the memory learns across episodes: patterns with outcome statistics, and the
//! heuristics (rules in words) derived from them.

use super::{OutcomeKind, TaskType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The content of a pattern; two observations with the same kind and scope are one pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatternKind {
    /// Tools used one after the other (consecutive repeats collapsed), 2 to 5 long.
    ToolSequence {
        /// The tools, in order.
        tools: Vec<String>,
    },
    /// A tool failed with an error of this class, and these steps led to its next success.
    ErrorRecovery {
        /// The tool that failed.
        tool: String,
        /// The error message with numbers, ids, paths and literals stripped (or `timeout`).
        error_class: String,
        /// The tools from the failure to the success, in order.
        recovery: Vec<String>,
    },
    /// A decision the agent marked (a step with tool `decision`), and what it chose.
    DecisionPoint {
        /// The situation, normalised.
        condition: String,
        /// What was chosen.
        choice: String,
    },
    /// An approach (the episode's tool sequence) taken in a context with a given feature.
    ContextPattern {
        /// The context features, e.g. `language=rust`.
        features: Vec<String>,
        /// The tools of the approach, in order.
        approach: Vec<String>,
    },
}

impl PatternKind {
    /// The kind's name, as used in storage, JSON and the CLI.
    pub fn name(&self) -> PatternKindName {
        match self {
            PatternKind::ToolSequence { .. } => PatternKindName::ToolSequence,
            PatternKind::ErrorRecovery { .. } => PatternKindName::ErrorRecovery,
            PatternKind::DecisionPoint { .. } => PatternKindName::DecisionPoint,
            PatternKind::ContextPattern { .. } => PatternKindName::ContextPattern,
        }
    }

    /// The pattern in a few words, e.g. ``cargo test → edit_file``.
    pub fn describe(&self) -> String {
        let arrows = |tools: &[String]| {
            tools
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        match self {
            PatternKind::ToolSequence { tools } => arrows(tools),
            PatternKind::ErrorRecovery {
                tool,
                error_class,
                recovery,
            } => format!(
                "`{tool}` fails with \"{error_class}\" → {}",
                arrows(recovery)
            ),
            PatternKind::DecisionPoint { condition, choice } => {
                format!("when {condition}, choose {choice}")
            }
            PatternKind::ContextPattern { features, approach } => {
                format!("with {}: {}", features.join(", "), arrows(approach))
            }
        }
    }
}

/// The name of a pattern kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKindName {
    /// See [`PatternKind::ToolSequence`].
    ToolSequence,
    /// See [`PatternKind::ErrorRecovery`].
    ErrorRecovery,
    /// See [`PatternKind::DecisionPoint`].
    DecisionPoint,
    /// See [`PatternKind::ContextPattern`].
    ContextPattern,
}

impl PatternKindName {
    /// Every kind name.
    pub const ALL: [PatternKindName; 4] = [
        PatternKindName::ToolSequence,
        PatternKindName::ErrorRecovery,
        PatternKindName::DecisionPoint,
        PatternKindName::ContextPattern,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKindName::ToolSequence => "tool_sequence",
            PatternKindName::ErrorRecovery => "error_recovery",
            PatternKindName::DecisionPoint => "decision_point",
            PatternKindName::ContextPattern => "context_pattern",
        }
    }
}

impl fmt::Display for PatternKindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PatternKindName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        PatternKindName::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown pattern kind `{s}`; expected tool_sequence, error_recovery, \
                     decision_point or context_pattern"
                )
            })
    }
}

/// The context a pattern holds in; an unset field holds for any value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PatternScope {
    /// Domain, if the pattern is specific to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Language, if specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Framework, if specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Task type, if specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// Tag, if specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl PatternScope {
    /// A canonical text key, stable across versions: `domain=…;language=…;…`.
    pub fn key(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", v.to_lowercase()));
            }
        };
        push("domain", self.domain.as_deref());
        push("language", self.language.as_deref());
        push("framework", self.framework.as_deref());
        push("task_type", self.task_type.map(|t| t.as_str()));
        push("tag", self.tag.as_deref());
        if parts.is_empty() {
            "*".to_string()
        } else {
            parts.join(";")
        }
    }

    /// The scope in words, e.g. `rust/web-api debugging`; `any context` when unset.
    pub fn describe(&self) -> String {
        let mut s = [&self.language, &self.domain, &self.framework]
            .into_iter()
            .filter_map(|f| f.as_deref())
            .collect::<Vec<_>>()
            .join("/");
        if let Some(t) = self.task_type {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(t.as_str());
        }
        if let Some(tag) = &self.tag {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("#{tag}"));
        }
        if s.is_empty() {
            "any context".into()
        } else {
            s
        }
    }
}

/// Outcome statistics of a pattern or a context, decayed over time.
///
/// `support` and `successes` are sums of per-episode weights that halve every half-life, so
/// old evidence counts less; `episodes` and `successful_episodes` are the raw counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeStats {
    /// Decayed number of episodes.
    pub support: f64,
    /// Decayed number of successes (success 1, partial success 0.5, failure 0).
    pub successes: f64,
    /// Decayed sum of episode rewards.
    pub reward_sum: f64,
    /// Raw number of episodes.
    pub episodes: u64,
    /// Raw number of successful episodes.
    pub successful_episodes: u64,
    /// When the decayed sums were last brought up to date.
    pub updated_at: DateTime<Utc>,
}

/// How often a recommended pattern was applied and what came of it, from agent feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Effectiveness {
    /// Times an agent reported applying it.
    pub applied: u32,
    /// Times the task then succeeded.
    pub helped: u32,
    /// Times the task then failed.
    pub hindered: u32,
}

impl Effectiveness {
    /// The feedback signal in `[0, 1]`: Laplace-smoothed share of applications that helped;
    /// 0.5 without feedback.
    pub fn score(&self) -> f64 {
        (f64::from(self.helped) + 1.0) / (f64::from(self.helped + self.hindered) + 2.0)
    }
}

/// A reusable piece of experience mined from many episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    /// Identifier.
    pub id: Uuid,
    /// Owning namespace.
    pub namespace: String,
    /// What the pattern is.
    pub kind: PatternKind,
    /// Stable hash of kind and scope; the same pattern seen again merges into this one.
    pub signature: String,
    /// Where it holds.
    pub scope: PatternScope,
    /// Outcome statistics of the episodes that showed it.
    pub stats: OutcomeStats,
    /// Success rate relative to the scope's baseline success rate (1.0 = no better).
    pub lift: f64,
    /// Feedback from agents that applied it.
    pub effectiveness: Effectiveness,
    /// The most recent episodes that showed it (newest last, at most 20).
    pub evidence: Vec<Uuid>,
    /// A concrete example from the latest episode (e.g. the recovery steps' actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// When it was first seen.
    pub created_at: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
}

/// Whether a heuristic recommends or warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeuristicKind {
    /// Do this.
    Recommend,
    /// Avoid this.
    Avoid,
}

/// A rule in words derived from a well-supported pattern, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heuristic {
    /// The pattern it comes from (a heuristic has no identity of its own).
    pub pattern_id: Uuid,
    /// Recommend or avoid.
    pub kind: HeuristicKind,
    /// When it applies, in words.
    pub condition: String,
    /// What to do (or not do), in words.
    pub action: String,
    /// The rule as one sentence with its evidence.
    pub text: String,
    /// Wilson lower bound of the success rate (recommend) or of the failure rate (avoid).
    pub confidence: f64,
    /// Episodes behind it (raw count).
    pub episodes: u64,
    /// Of which succeeded.
    pub successful_episodes: u64,
    /// The most recent of them.
    pub evidence: Vec<Uuid>,
}

/// A retrieval, remembered so that the agent's feedback can be tied to what it was offered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalSession {
    /// Identifier handed to the agent with the context pack.
    pub id: Uuid,
    /// Namespace of the retrieval.
    pub namespace: String,
    /// The query text.
    pub query: String,
    /// The patterns recommended.
    pub recommended: Vec<Uuid>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The feedback, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
}

/// Which retrieval sessions a namespace keeps: every retrieval writes one, so without a
/// bound they would grow with use. A session older than the age, or beyond the newest
/// `max_per_namespace`, is dropped when the next one is stored; feedback on it is then
/// refused as for an unknown session (its effect on the patterns stays).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionRetention {
    /// Most sessions kept per namespace (the newest).
    pub max_per_namespace: usize,
    /// Oldest session kept, in days.
    pub max_age_days: f64,
}

impl Default for SessionRetention {
    /// The newest 1,000 sessions of each namespace, none older than 30 days: feedback
    /// arrives when a task ends, minutes or hours after its retrieval.
    fn default() -> Self {
        SessionRetention {
            max_per_namespace: 1_000,
            max_age_days: 30.0,
        }
    }
}

/// What an agent reports after using a context pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The recommended patterns it applied.
    pub applied: Vec<Uuid>,
    /// How the task ended.
    pub outcome: OutcomeKind,
    /// When it was reported.
    pub recorded_at: DateTime<Utc>,
}
