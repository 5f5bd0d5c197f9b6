//! Edges between episodes and checkpoints of running episodes, with the checks the libSQL
//! store makes: ends in the edge's namespace, no self-link, no duplicate link (either way
//! round for a symmetric kind), ids unique across namespaces, and no cycle of an acyclic
//! kind (checked in order against the stored edges and those before it in the same call).

use super::batch::{Journal, Undo};
use super::state::{State, micros};
use crate::graph::AcyclicGuard;
use crate::{
    Checkpoint, Direction, MemoryError, Relationship, RelationshipFilter, RelationshipKind, Result,
    ValidationError,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

impl State {
    /// Whether an edge with this id is stored, in any namespace.
    fn relationship_taken(&self, id: Uuid) -> bool {
        self.namespaces
            .values()
            .any(|data| data.relationships.iter().any(|r| r.id == id))
    }

    /// Whether a checkpoint with this id is stored, in any namespace.
    fn checkpoint_taken(&self, id: Uuid) -> bool {
        self.namespaces
            .values()
            .any(|data| data.checkpoints.iter().any(|c| c.id == id))
    }

    /// Stores `edges` in order with every check of `store_relationship`, noting each in
    /// `journal`; on an error the edges stored before it stay for the caller to undo.
    pub(super) fn insert_relationships(
        &mut self,
        edges: &[Relationship],
        journal: &mut Journal,
    ) -> Result<u64> {
        let mut guards: HashMap<String, AcyclicGuard> = HashMap::new();
        for e in edges {
            if e.from == e.to {
                return Err(ValidationError::new(
                    "to",
                    format!("relationship {} links episode {} to itself", e.id, e.to),
                )
                .into());
            }
            for end in [e.from, e.to] {
                if self.episode_in(&e.namespace, end).is_none() {
                    return Err(MemoryError::episode_not_found(&e.namespace, end));
                }
            }
            if self.relationship_taken(e.id) {
                return Err(MemoryError::Conflict(format!(
                    "relationship {} already exists",
                    e.id
                )));
            }
            let data = self.namespace_mut(&e.namespace);
            let duplicate = data.relationships.iter().any(|r| {
                r.kind == e.kind
                    && ((r.from == e.from && r.to == e.to)
                        || (e.kind.is_symmetric() && r.from == e.to && r.to == e.from))
            });
            if duplicate {
                return Err(MemoryError::Conflict(format!(
                    "episodes {} and {} are already linked by `{}`",
                    e.from, e.to, e.kind
                )));
            }
            if e.kind.is_acyclic() {
                let guard = guards
                    .entry(e.namespace.clone())
                    .or_insert_with(|| AcyclicGuard::new(&data.relationships));
                if let Err(path) = guard.check_and_add(e) {
                    return Err(MemoryError::Cycle { kind: e.kind, path });
                }
            }
            data.relationships.push(e.clone());
            journal.push(Undo::Relationship(e.namespace.clone(), e.id));
        }
        Ok(edges.len() as u64)
    }

    /// The body of `delete_relationships`.
    pub(super) fn delete_relationships(
        &mut self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> u64 {
        if self.episode_in(namespace, from).is_none() || self.episode_in(namespace, to).is_none() {
            return 0;
        }
        let Some(data) = self.namespaces.get_mut(namespace) else {
            return 0;
        };
        let before = data.relationships.len();
        data.relationships.retain(|r| {
            let forward = r.from == from && r.to == to && kind.is_none_or(|k| r.kind == k);
            // A symmetric link may have been recorded the other way round.
            let reverse = r.from == to
                && r.to == from
                && r.kind.is_symmetric()
                && kind.is_none_or(|k| r.kind == k);
            !(forward || reverse)
        });
        (before - data.relationships.len()) as u64
    }

    /// The body of `relationships`: matching edges, oldest first (the newest `limit` of
    /// them when the filter has one).
    pub(super) fn relationships(&self, filter: &RelationshipFilter) -> Vec<Relationship> {
        let Some(data) = self.namespace(&filter.namespace) else {
            return Vec::new();
        };
        let episodes: HashSet<Uuid> = filter.episodes.iter().copied().collect();
        let touches = |r: &Relationship| {
            episodes.is_empty()
                || match filter.direction {
                    Direction::Outgoing => episodes.contains(&r.from),
                    Direction::Incoming => episodes.contains(&r.to),
                    Direction::Both => episodes.contains(&r.from) || episodes.contains(&r.to),
                }
        };
        let mut out: Vec<Relationship> = data
            .relationships
            .iter()
            .filter(|r| filter.kinds.is_empty() || filter.kinds.contains(&r.kind))
            .filter(|r| touches(r))
            .cloned()
            .collect();
        if let Some(limit) = filter.limit {
            out.sort_by_key(|r| std::cmp::Reverse((micros(r.created_at), r.id)));
            out.truncate(limit);
        }
        if episodes.is_empty() {
            out.sort_by_key(|r| (micros(r.created_at), r.id));
        } else {
            out.sort_by_key(|r| (r.created_at, r.id));
        }
        out
    }

    /// The body of `store_checkpoint`: the episode must be running; the checkpoint is
    /// stored with the episode's step count at this moment.
    pub(super) fn store_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<Checkpoint> {
        let Some(stored) = self.episode_in(&checkpoint.namespace, checkpoint.episode_id) else {
            return Err(MemoryError::episode_not_found(
                &checkpoint.namespace,
                checkpoint.episode_id,
            ));
        };
        if stored.is_complete() {
            return Err(MemoryError::Conflict(format!(
                "episode {} is already completed; checkpoints are for running episodes",
                checkpoint.episode_id
            )));
        }
        let stored = Checkpoint {
            step_count: stored.episode.steps.len() as u32,
            ..checkpoint.clone()
        };
        self.insert_checkpoints(std::slice::from_ref(&stored), &mut Journal::default())?;
        Ok(stored)
    }

    /// Stores checkpoints exactly as given (an import), noting each in `journal`: each
    /// episode must be in the checkpoint's namespace, each id free.
    pub(super) fn insert_checkpoints(
        &mut self,
        checkpoints: &[Checkpoint],
        journal: &mut Journal,
    ) -> Result<u64> {
        for c in checkpoints {
            if self.episode_in(&c.namespace, c.episode_id).is_none() {
                return Err(MemoryError::episode_not_found(&c.namespace, c.episode_id));
            }
            if self.checkpoint_taken(c.id) {
                return Err(MemoryError::Conflict(format!(
                    "checkpoint {} already exists",
                    c.id
                )));
            }
            self.namespace_mut(&c.namespace).checkpoints.push(c.clone());
            journal.push(Undo::Checkpoint(c.namespace.clone(), c.id));
        }
        Ok(checkpoints.len() as u64)
    }

    /// The body of `checkpoints`: one episode's, or the namespace's, oldest first.
    pub(super) fn checkpoints(&self, namespace: &str, episode: Option<Uuid>) -> Vec<Checkpoint> {
        let Some(data) = self.namespace(namespace) else {
            return Vec::new();
        };
        let mut out: Vec<Checkpoint> = data
            .checkpoints
            .iter()
            .filter(|c| episode.is_none_or(|id| c.episode_id == id))
            .cloned()
            .collect();
        out.sort_by_key(|c| (micros(c.at), c.id));
        out
    }
}
