//! The storage contract: what the memory needs from a backend, and nothing more.
//!
//! `memory-core` never touches SQL or files; concrete backends (libSQL in
//! `memory-storage-turso`) implement it and are chosen by the application. Every method is
//! scoped by namespace, and every write is atomic: it either takes effect whole or returns
//! an error.
//!
//! The contract is split by capability, one trait per file, each with the filters and
//! records its methods take and return:
//!
//! - [`EpisodeStore`] — episodes: start, steps, completion, deletion, reads and full-text
//!   search;
//! - [`PatternStore`] — learned patterns and the feedback that ranks them;
//! - [`SessionStore`] — retrieval sessions;
//! - [`VectorStore`] — the vector space, episode vectors, nearest-neighbour search and the
//!   embedding cache;
//! - [`GraphStore`] — relationships between episodes and checkpoints;
//! - [`TransferStore`] — batch writes and the snapshot an export reads;
//! - [`StatsStore`] — counts, namespaces, the backend's figures and other writers' changes
//!   (all with defaults);
//! - [`RetentionStore`] — idle running episodes and garbage collection.
//!
//! [`StorageBackend`] is all of them together, implemented for every type that implements
//! each one: the memory holds an `Arc<dyn StorageBackend>`, and a backend implements the
//! capability traits. Methods of `dyn StorageBackend` (and of a type parameter bounded by
//! it) are callable without importing the capability traits; calling them on a concrete
//! backend type needs its trait in scope, which `use memory_core::storage::prelude::*;`
//! brings.

mod episodes;
mod graph;
mod patterns;
mod retention;
mod sessions;
mod stats;
mod transfer;
mod vectors;

pub use episodes::{
    Completion, EpisodeCursor, EpisodeFilter, EpisodeStatus, EpisodeStore, TextMatch,
};
pub use graph::{GraphStore, RelationshipFilter};
pub use patterns::{PatternFilter, PatternOrder, PatternStore};
pub use retention::{GarbageCounts, GarbagePlan, RetentionStore};
pub use sessions::SessionStore;
pub use stats::{Changed, ChangedKey, EpisodeCounts, ExternalChanges, StatsStore};
pub use transfer::{BatchCounts, ExportFilter, ExportSnapshot, ImportBatch, TransferStore};
pub use vectors::{EpisodeVectors, VectorMatch, VectorStore};

// What `EpisodeStore::comparable_costs` returns lives in the model, shared with the
// reward's efficiency baseline; it stays reachable here too.
pub use crate::model::EpisodeCost;

/// A durable home for episodes: every storage capability together.
///
/// Implemented automatically for every type that implements all the capability traits, so
/// a backend implements those and is a `StorageBackend`; the memory holds it as
/// `Arc<dyn StorageBackend>`.
pub trait StorageBackend:
    EpisodeStore
    + PatternStore
    + SessionStore
    + VectorStore
    + GraphStore
    + TransferStore
    + StatsStore
    + RetentionStore
    + Send
    + Sync
{
}

impl<T> StorageBackend for T where
    T: EpisodeStore
        + PatternStore
        + SessionStore
        + VectorStore
        + GraphStore
        + TransferStore
        + StatsStore
        + RetentionStore
        + ?Sized
{
}

/// Every storage trait, for `use memory_core::storage::prelude::*;`: what calling storage
/// methods on a concrete backend type (or implementing one) needs in scope.
pub mod prelude {
    pub use super::{
        EpisodeStore, GraphStore, PatternStore, RetentionStore, SessionStore, StatsStore,
        StorageBackend, TransferStore, VectorStore,
    };
}
