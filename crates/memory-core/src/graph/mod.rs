//! The episode graph: pure algorithms over [`Relationship`] edges.
//!
//! Storage keeps the edges; this module answers the questions asked of them without I/O:
//! would a new edge close a cycle (and through which episodes), in which order can a set of
//! related tasks be done, and how the graph looks as DOT or JSON ([`render`]). Traversals
//! that need to read edges level by level (ancestors, descendants) live in the facade
//! (`memory/relations.rs`), use these helpers and return [`Neighbour`]s.

pub mod render;

use crate::model::{Direction, Relationship, RelationshipKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use uuid::Uuid;

pub use crate::model::format_path;
pub use render::{GraphExport, GraphNode, to_dot};

/// An episode reached from another through an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The episode at the other end.
    pub episode: Uuid,
    /// How many edges away it is (1 for a direct neighbour).
    pub depth: u32,
    /// Whether the edge that reached it runs from the nearer episode to it (`outgoing`) or
    /// from it to the nearer episode (`incoming`).
    pub direction: Direction,
    /// The edge that reached it.
    pub via: Relationship,
}

/// The edges of one kind, as forward adjacency lists, for path queries.
#[derive(Debug, Clone, Default)]
pub struct KindGraph {
    out: HashMap<Uuid, Vec<Uuid>>,
}

impl KindGraph {
    /// An empty graph.
    pub fn new() -> Self {
        KindGraph::default()
    }

    /// Adds the edge `from → to`.
    pub fn add(&mut self, from: Uuid, to: Uuid) {
        self.out.entry(from).or_default().push(to);
    }

    /// The shortest path `start → … → goal` along edges (breadth first), both ends included;
    /// `None` if `goal` cannot be reached.
    pub fn path(&self, start: Uuid, goal: Uuid) -> Option<Vec<Uuid>> {
        if start == goal {
            return Some(vec![start]);
        }
        let mut parent: HashMap<Uuid, Uuid> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for &next in self.out.get(&node).into_iter().flatten() {
                if next == start || parent.contains_key(&next) {
                    continue;
                }
                parent.insert(next, node);
                if next == goal {
                    let mut path = vec![goal];
                    let mut at = goal;
                    while let Some(&p) = parent.get(&at) {
                        path.push(p);
                        at = p;
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }

    /// The cycle that adding `from → to` would close, as the path `from → to → … → from`;
    /// `None` if the edge keeps the graph acyclic.
    pub fn cycle_if_added(&self, from: Uuid, to: Uuid) -> Option<Vec<Uuid>> {
        self.path(to, from).map(|back| {
            let mut cycle = Vec::with_capacity(back.len() + 1);
            cycle.push(from);
            cycle.extend(back);
            cycle
        })
    }
}

/// Keeps one [`KindGraph`] per acyclic kind and refuses edges that would close a cycle.
#[derive(Debug, Clone, Default)]
pub struct AcyclicGuard {
    graphs: HashMap<RelationshipKind, KindGraph>,
}

impl AcyclicGuard {
    /// A guard over `edges` (edges of kinds that may cycle are ignored).
    pub fn new<'a>(edges: impl IntoIterator<Item = &'a Relationship>) -> Self {
        let mut guard = AcyclicGuard::default();
        for e in edges {
            guard.add_unchecked(e);
        }
        guard
    }

    /// Records an edge that is known to be fine.
    pub fn add_unchecked(&mut self, edge: &Relationship) {
        if edge.kind.is_acyclic() {
            self.graphs
                .entry(edge.kind)
                .or_default()
                .add(edge.from, edge.to);
        }
    }

    /// Records `edge` unless it would close a cycle of its kind; then returns the cycle as
    /// `from → to → … → from`.
    pub fn check_and_add(&mut self, edge: &Relationship) -> Result<(), Vec<Uuid>> {
        if !edge.kind.is_acyclic() {
            return Ok(());
        }
        let graph = self.graphs.entry(edge.kind).or_default();
        if let Some(cycle) = graph.cycle_if_added(edge.from, edge.to) {
            return Err(cycle);
        }
        graph.add(edge.from, edge.to);
        Ok(())
    }
}

/// Orders `nodes` so that every task comes after what it needs: a parent before its
/// children (`parent_child`), a dependency before what depends on it (`depends_on`), a
/// blocker before what it blocks (`blocks`). Only edges of those kinds between members of
/// `nodes` count; ties are broken by id, so the order is deterministic.
///
/// Returns the members left on a cycle as the error (the store never holds one of these
/// kinds, so this only happens with hand-built edges).
pub fn topological_order(nodes: &[Uuid], edges: &[Relationship]) -> Result<Vec<Uuid>, Vec<Uuid>> {
    let members: BTreeSet<Uuid> = nodes.iter().copied().collect();
    let mut indegree: BTreeMap<Uuid, usize> = members.iter().map(|&n| (n, 0)).collect();
    let mut after: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
    for e in edges.iter().filter(|e| e.kind.is_acyclic()) {
        let (first, then) = match e.kind {
            RelationshipKind::DependsOn => (e.to, e.from),
            _ => (e.from, e.to),
        };
        if first == then || !members.contains(&first) || !members.contains(&then) {
            continue;
        }
        if after.entry(first).or_default().insert(then) {
            *indegree.entry(then).or_default() += 1;
        }
    }
    let mut ready: BTreeSet<Uuid> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(&n, _)| n)
        .collect();
    let mut order = Vec::with_capacity(members.len());
    while let Some(n) = ready.pop_first() {
        order.push(n);
        for &m in after.get(&n).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(&m) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(m);
                }
            }
        }
    }
    if order.len() == members.len() {
        Ok(order)
    } else {
        let done: BTreeSet<Uuid> = order.into_iter().collect();
        Err(members.difference(&done).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::RelationshipMetadata;
    use chrono::Utc;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|i| Uuid::from_u128(i as u128 + 1)).collect()
    }

    fn edge(from: Uuid, to: Uuid, kind: RelationshipKind) -> Relationship {
        Relationship {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            from,
            to,
            kind,
            metadata: RelationshipMetadata::default(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_closing_edge_reports_the_whole_cycle() {
        let n = ids(4);
        let mut guard = AcyclicGuard::default();
        for (a, b) in [(0, 1), (1, 2), (2, 3)] {
            guard
                .check_and_add(&edge(n[a], n[b], RelationshipKind::DependsOn))
                .unwrap();
        }
        let cycle = guard
            .check_and_add(&edge(n[3], n[0], RelationshipKind::DependsOn))
            .unwrap_err();
        assert_eq!(cycle, vec![n[3], n[0], n[1], n[2], n[3]]);
        // Another kind has its own graph; a kind that may cycle is never refused.
        guard
            .check_and_add(&edge(n[3], n[0], RelationshipKind::Blocks))
            .unwrap();
        guard
            .check_and_add(&edge(n[3], n[0], RelationshipKind::Follows))
            .unwrap();
    }

    #[test]
    fn the_shortest_cycle_is_reported() {
        let n = ids(5);
        let mut g = KindGraph::new();
        g.add(n[1], n[2]);
        g.add(n[2], n[3]);
        g.add(n[3], n[4]);
        g.add(n[1], n[4]);
        g.add(n[4], n[0]);
        assert_eq!(
            g.cycle_if_added(n[0], n[1]),
            Some(vec![n[0], n[1], n[4], n[0]])
        );
        assert_eq!(g.cycle_if_added(n[1], n[0]), None);
    }

    #[test]
    fn topological_order_puts_what_is_needed_first() {
        let n = ids(4);
        // 0 depends on 1, 1 depends on 2; 3 is the parent of 0.
        let edges = vec![
            edge(n[0], n[1], RelationshipKind::DependsOn),
            edge(n[1], n[2], RelationshipKind::DependsOn),
            edge(n[3], n[0], RelationshipKind::ParentChild),
            edge(n[2], n[3], RelationshipKind::Follows),
        ];
        assert_eq!(
            topological_order(&n, &edges).unwrap(),
            vec![n[2], n[1], n[3], n[0]]
        );
        let looped = vec![
            edge(n[0], n[1], RelationshipKind::Blocks),
            edge(n[1], n[0], RelationshipKind::Blocks),
        ];
        assert_eq!(
            topological_order(&n[..3], &looped).unwrap_err(),
            vec![n[0], n[1]]
        );
    }
}
