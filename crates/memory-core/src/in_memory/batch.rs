//! Batch writes (what an import restores), all or nothing: every record is inserted in
//! the libSQL store's order — context statistics, patterns, episodes, sessions, then
//! checkpoints and relationships (which may refer to the batch's episodes) — with the same
//! checks, and each insert is noted in a [`Journal`]; on the first error the journal is
//! undone, newest first, leaving the store as it was.

use super::state::State;
use crate::{BatchCounts, ImportBatch, MemoryError, Result};
use uuid::Uuid;

/// One inserted record, by what finds it again.
pub(super) enum Undo {
    /// Context statistics: namespace and scope key.
    ContextStats(String, String),
    /// A pattern: namespace and id.
    Pattern(String, Uuid),
    /// An episode (with everything stored beside it).
    Episode(Uuid),
    /// A retrieval session: namespace and id.
    Session(String, Uuid),
    /// A checkpoint: namespace and id.
    Checkpoint(String, Uuid),
    /// An edge: namespace and id.
    Relationship(String, Uuid),
}

/// The inserts of a write so far, to take back if it fails.
#[derive(Default)]
pub(super) struct Journal {
    undo: Vec<Undo>,
}

impl Journal {
    /// Notes one insert.
    pub(super) fn push(&mut self, undo: Undo) {
        self.undo.push(undo);
    }
}

impl State {
    /// Runs `write` on the store; when it fails, takes back every insert it noted.
    pub(super) fn all_or_nothing<T>(
        &mut self,
        write: impl FnOnce(&mut State, &mut Journal) -> Result<T>,
    ) -> Result<T> {
        let mut journal = Journal::default();
        let result = write(self, &mut journal);
        if result.is_err() {
            self.undo(journal);
        }
        result
    }

    /// Takes back the inserts `journal` noted, newest first.
    fn undo(&mut self, journal: Journal) {
        for undo in journal.undo.into_iter().rev() {
            match undo {
                Undo::Episode(id) => {
                    self.remove_episode(id);
                }
                Undo::ContextStats(ns, key) => {
                    self.namespace_mut(&ns).context_stats.remove(&key);
                }
                Undo::Pattern(ns, id) => {
                    let data = self.namespace_mut(&ns);
                    if let Some(p) = data.patterns.remove(&id) {
                        data.signatures.remove(&p.signature);
                    }
                }
                Undo::Session(ns, id) => {
                    self.namespace_mut(&ns).sessions.remove(&id);
                }
                Undo::Checkpoint(ns, id) => {
                    self.namespace_mut(&ns).checkpoints.retain(|c| c.id != id);
                }
                Undo::Relationship(ns, id) => {
                    self.namespace_mut(&ns).relationships.retain(|r| r.id != id);
                }
            }
        }
    }

    /// Writes `batch`, noting every insert in `journal` (see the module docs).
    pub(super) fn write_batch(
        &mut self,
        batch: ImportBatch,
        journal: &mut Journal,
    ) -> Result<BatchCounts> {
        let mut counts = BatchCounts::default();

        for s in batch.context_stats {
            let data = self.namespace_mut(&s.namespace);
            if data.context_stats.contains_key(&s.scope_key) {
                return Err(MemoryError::Conflict(
                    "the statistics of a context in this batch are already stored".into(),
                ));
            }
            data.context_stats.insert(s.scope_key.clone(), s.stats);
            journal.push(Undo::ContextStats(s.namespace, s.scope_key));
            counts.context_stats += 1;
        }

        for p in batch.patterns {
            let taken = self
                .namespaces
                .values()
                .any(|data| data.patterns.contains_key(&p.id))
                || self
                    .namespace(&p.namespace)
                    .is_some_and(|data| data.signatures.contains_key(&p.signature));
            if taken {
                return Err(MemoryError::Conflict(
                    "a pattern in this batch (its id, or its namespace and signature) is \
                     already stored"
                        .into(),
                ));
            }
            let (ns, id) = (p.namespace.clone(), p.id);
            let data = self.namespace_mut(&ns);
            data.signatures.insert(p.signature.clone(), id);
            data.patterns.insert(id, p);
            journal.push(Undo::Pattern(ns, id));
            counts.patterns += 1;
        }

        for e in batch.episodes {
            let id = e.id;
            counts.steps += self.insert_episode(e).map_err(|err| match err {
                MemoryError::Conflict(_) => MemoryError::Conflict(format!(
                    "episode {id} is already stored; nothing was written"
                )),
                other => other,
            })?;
            journal.push(Undo::Episode(id));
            counts.episodes += 1;
        }

        for s in batch.sessions {
            if self.session_taken(s.id) {
                return Err(MemoryError::Conflict(
                    "a retrieval session in this batch is already stored".into(),
                ));
            }
            let (ns, id) = (s.namespace.clone(), s.id);
            self.namespace_mut(&ns).sessions.insert(id, s);
            journal.push(Undo::Session(ns, id));
            counts.sessions += 1;
        }

        counts.checkpoints = self.insert_checkpoints(&batch.checkpoints, journal)?;
        counts.relationships = self.insert_relationships(&batch.relationships, journal)?;
        Ok(counts)
    }
}
