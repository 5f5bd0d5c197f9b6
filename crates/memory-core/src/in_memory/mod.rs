//! [`InMemoryStorage`]: the storage contract kept in plain data structures, for tests and
//! simulations that need a real backend without a database.
//!
//! It is the reference implementation of [`crate::StorageBackend`]: everything observable
//! through the trait behaves as the libSQL backend (`memory-storage-turso`) does — the
//! same errors in the same order, the same listing orders and tie-breaks (at the
//! microsecond precision that store keeps timestamps at), the same pattern merging and
//! forgetting, feedback, vector-space rules, garbage collection and export order — and
//! the conformance suite (`memory-core/tests/conformance/`) runs against both to keep it
//! so. What it does not have is what a database is for: nothing survives the process,
//! there are no other writers (so [`crate::StatsStore::external_changes`] always
//! answers "nothing"), and vector search is exact (libSQL's index is approximate for
//! large namespaces).
//!
//! The whole store is one `State` behind a [`std::sync::RwLock`]: reads share
//! it, each write holds it for its whole body, so every write is atomic and the checks it
//! makes cannot be invalidated before it applies. No lock is held across an `.await` (the
//! bodies are synchronous), so the runtime is never blocked for longer than the body takes.
//! Writes that can fail half-way (batches) undo what they did through a journal
//! (`batch`). A lock poisoned by a panic is recovered: no body panics between two
//! changes that must go together.
//!
//! The modules follow the backend's concerns: `state` (the data and its indexes),
//! `episodes`, `patterns` (merging what completions teach, feedback), `sessions`, `text`
//! (full-text index and BM25), `vectors`, `graph` (relationships and checkpoints),
//! `batch`, `export`, `garbage`, `counts`, and `backend`, the trait implementation that
//! ties them together.

mod backend;
mod batch;
mod counts;
mod episodes;
mod export;
mod garbage;
mod graph;
mod patterns;
mod sessions;
mod state;
mod text;
mod vectors;

use state::State;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A storage backend that keeps everything in memory: cheap to create, gone with the
/// process. Use it where a test or a simulation needs a real [`crate::StorageBackend`]
/// without a database file (see the [module docs](self) for how closely it follows the
/// libSQL backend).
///
/// ```
/// use memory_core::{InMemoryStorage, SelfLearningMemory};
/// use std::sync::Arc;
///
/// let memory = SelfLearningMemory::new(Arc::new(InMemoryStorage::new()));
/// # let _ = memory;
/// ```
#[derive(Default)]
pub struct InMemoryStorage {
    state: RwLock<State>,
}

impl InMemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        InMemoryStorage::default()
    }

    /// The state, for a read.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // Bodies never panic between two changes that belong together, so a poisoned lock
        // still guards a consistent state.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for a write.
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for InMemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.read();
        f.debug_struct("InMemoryStorage")
            .field("episodes", &state.episodes.len())
            .field("namespaces", &state.namespaces.len())
            .finish_non_exhaustive()
    }
}
