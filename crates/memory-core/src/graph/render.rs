//! The episode graph as data (JSON through serde) and as Graphviz DOT.

use crate::model::{OutcomeKind, Relationship};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use uuid::Uuid;

/// A subgraph of episodes and the edges between them, as `memory graph` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphExport {
    /// The namespace.
    pub namespace: String,
    /// The episodes, oldest first.
    pub nodes: Vec<GraphNode>,
    /// The edges, oldest first.
    pub edges: Vec<Relationship>,
    /// The nodes in an order that respects `parent_child`, `depends_on` and `blocks`
    /// (see [`super::topological_order`]).
    pub order: Vec<Uuid>,
}

/// One episode of a [`GraphExport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// Episode id.
    pub id: Uuid,
    /// Its task.
    pub task_description: String,
    /// How it ended; `None` while running (or when the episode no longer exists).
    pub outcome: Option<OutcomeKind>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
}

/// Renders `graph` as a Graphviz `digraph`: one box per episode labelled with its task and
/// outcome, one arrow per edge labelled with its kind (symmetric kinds without arrowheads).
pub fn to_dot(graph: &GraphExport) -> String {
    let mut s = String::from("digraph memory {\n  rankdir=LR;\n  node [shape=box];\n");
    let _ = writeln!(s, "  label=\"namespace {}\";", escape(&graph.namespace));
    for n in &graph.nodes {
        let task = crate::learning::shorten(&n.task_description, 60);
        let status = n.outcome.map_or("running", |o| o.as_str());
        let _ = writeln!(
            s,
            "  \"{}\" [label=\"{}\\n({status})\"];",
            n.id,
            escape(&task)
        );
    }
    for e in &graph.edges {
        let dir = if e.kind.is_symmetric() {
            ", dir=none"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  \"{}\" -> \"{}\" [label=\"{}\"{dir}];",
            e.from, e.to, e.kind
        );
    }
    s.push_str("}\n");
    s
}

/// Escapes text for a double-quoted DOT string.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RelationshipKind, RelationshipMetadata};

    #[test]
    fn dot_escapes_labels_and_marks_symmetric_edges() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let node = |id, task: &str| GraphNode {
            id,
            task_description: task.into(),
            outcome: None,
            started_at: None,
        };
        let edge = |kind| Relationship {
            id: Uuid::from_u128(9),
            namespace: "ns".into(),
            from: a,
            to: b,
            kind,
            metadata: RelationshipMetadata::default(),
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let graph = GraphExport {
            namespace: "ns".into(),
            nodes: vec![node(a, "say \"hi\" \\ now"), node(b, "two")],
            edges: vec![
                edge(RelationshipKind::DependsOn),
                edge(RelationshipKind::RelatedTo),
            ],
            order: vec![],
        };
        let dot = to_dot(&graph);
        assert!(dot.starts_with("digraph memory {"));
        assert!(
            dot.contains(r#"[label="say \"hi\" \\ now\n(running)"]"#),
            "{dot}"
        );
        assert!(dot.contains(&format!("\"{a}\" -> \"{b}\" [label=\"depends_on\"];")));
        assert!(dot.contains(&format!(
            "\"{a}\" -> \"{b}\" [label=\"related_to\", dir=none];"
        )));
        assert!(dot.ends_with("}\n"));
    }
}
