//! How episodes relate to each other: sub-tasks, dependencies, continuations, duplicates.
//!
//! Real agent work is not a flat list: a task splits into sub-tasks (`parent_child`), waits
//! for another (`depends_on`, `blocks`), is picked up again by another agent (`follows`), or
//! repeats or cites an earlier one. A [`Relationship`] is one directed edge `from → to`
//! between two episodes of the same namespace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// What an edge `from → to` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipKind {
    /// `from` is the parent task of `to` (a sub-task). Acyclic.
    ParentChild,
    /// `from` depends on `to`: `to` must be done first. Acyclic.
    DependsOn,
    /// `from` continues `to` (a resumed or follow-up task).
    Follows,
    /// The two episodes are about related work. Symmetric.
    RelatedTo,
    /// `from` blocks `to`: `to` cannot finish before `from`. Acyclic.
    Blocks,
    /// The two episodes are the same task. Symmetric.
    Duplicates,
    /// `from` cites `to` (e.g. reused its approach).
    References,
}

impl RelationshipKind {
    /// Every kind.
    pub const ALL: [RelationshipKind; 7] = [
        RelationshipKind::ParentChild,
        RelationshipKind::DependsOn,
        RelationshipKind::Follows,
        RelationshipKind::RelatedTo,
        RelationshipKind::Blocks,
        RelationshipKind::Duplicates,
        RelationshipKind::References,
    ];

    /// The snake_case name used in storage, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationshipKind::ParentChild => "parent_child",
            RelationshipKind::DependsOn => "depends_on",
            RelationshipKind::Follows => "follows",
            RelationshipKind::RelatedTo => "related_to",
            RelationshipKind::Blocks => "blocks",
            RelationshipKind::Duplicates => "duplicates",
            RelationshipKind::References => "references",
        }
    }

    /// Whether edges of this kind must never form a cycle (a task cannot be its own
    /// ancestor, dependency or blocker). Checked on every insert.
    pub fn is_acyclic(self) -> bool {
        matches!(
            self,
            RelationshipKind::ParentChild | RelationshipKind::DependsOn | RelationshipKind::Blocks
        )
    }

    /// Whether `a → b` and `b → a` mean the same thing, so that only one of them may exist.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            RelationshipKind::RelatedTo | RelationshipKind::Duplicates
        )
    }
}

impl fmt::Display for RelationshipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RelationshipKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        RelationshipKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown relationship kind `{s}`; expected parent_child, depends_on, \
                     follows, related_to, blocks, duplicates or references"
                )
            })
    }
}

/// What is said about an edge besides its kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RelationshipMetadata {
    /// Why the episodes are related, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who recorded the edge (an agent, a user, `resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// How strong the link is, from 0 to 1 (unset counts as 1); scales the retrieval boost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Free key/values.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A directed edge between two episodes of one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    /// Identifier (UUID v7).
    pub id: Uuid,
    /// The namespace of both episodes.
    pub namespace: String,
    /// The episode the edge starts from.
    pub from: Uuid,
    /// The episode the edge points to.
    pub to: Uuid,
    /// What the edge means.
    pub kind: RelationshipKind,
    /// Reason, author, weight and free key/values.
    #[serde(default)]
    pub metadata: RelationshipMetadata,
    /// When it was recorded (microsecond precision).
    pub created_at: DateTime<Utc>,
}

impl Relationship {
    /// The weight used for ranking: the metadata's weight clamped to `[0, 1]`, 1 when unset.
    pub fn effective_weight(&self) -> f64 {
        match self.metadata.weight {
            Some(w) if w.is_finite() => w.clamp(0.0, 1.0),
            Some(_) => 0.0,
            None => 1.0,
        }
    }

    /// The episode at the other end from `id` (`None` if `id` is neither end).
    pub fn other_end(&self, id: Uuid) -> Option<Uuid> {
        if self.from == id {
            Some(self.to)
        } else if self.to == id {
            Some(self.from)
        } else {
            None
        }
    }

    /// Whether this edge and `other` are the same link: same ends and kind, or the reverse
    /// ends for a symmetric kind.
    pub fn same_link(&self, from: Uuid, to: Uuid, kind: RelationshipKind) -> bool {
        self.kind == kind
            && ((self.from == from && self.to == to)
                || (kind.is_symmetric() && self.from == to && self.to == from))
    }
}

/// Formats a path of episodes as `a → b → c` (a cycle an edge would close, as
/// [`crate::MemoryError::Cycle`] and the importer report it).
pub fn format_path(path: &[Uuid]) -> String {
    path.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Which edges of an episode to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Edges that start at the episode (`episode → other`).
    Outgoing,
    /// Edges that end at the episode (`other → episode`).
    Incoming,
    /// Both.
    #[default]
    Both,
}

impl std::str::FromStr for Direction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "out" | "outgoing" => Ok(Direction::Outgoing),
            "in" | "incoming" => Ok(Direction::Incoming),
            "both" => Ok(Direction::Both),
            _ => Err(format!("unknown direction `{s}`; expected out, in or both")),
        }
    }
}

/// A point recorded in a running episode: how far it got and a note for whoever continues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Identifier (UUID v7).
    pub id: Uuid,
    /// The episode's namespace.
    pub namespace: String,
    /// The episode.
    pub episode_id: Uuid,
    /// When it was recorded (microsecond precision).
    pub at: DateTime<Utc>,
    /// How many steps the episode had at that point.
    pub step_count: u32,
    /// What the agent wants remembered at this point.
    pub note: String,
}
