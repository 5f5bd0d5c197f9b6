//! The heart of self-learning-memory: the domain model, the learning and ranking logic, and
//! the [`SelfLearningMemory`] facade that ties them to a storage backend.
//!
//! This crate does no I/O of its own. It knows storage only through the [`StorageBackend`]
//! trait, whose one implementation is the libSQL backend in `memory-storage-turso`: a
//! database file on this machine, a libSQL server (Turso Cloud or a self-hosted `sqld`), or
//! such a server read through an embedded replica. [`cache::CachedStorage`] puts in-memory
//! caches in front of any backend.

pub mod background;
pub mod cache;
pub mod clock;
pub mod embedding;
pub mod error;
pub mod export;
pub mod graph;
pub mod handoff;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod retention;
pub mod stable_hash;
pub mod storage;

pub use background::BackgroundEmbedding;
pub use clock::{Clock, ManualClock, SystemClock};
pub use embedding::{EmbedError, Embedder, HashingEmbedder};
pub use error::{MemoryError, Result, ValidationError};
pub use limits::Limits;
pub use model::*;
pub use storage::{
    BatchCounts, Changed, ChangedKey, Completion, EpisodeCost, EpisodeCounts, EpisodeCursor,
    EpisodeFilter, EpisodeStatus, EpisodeVectors, ExportFilter, ExportSnapshot, ExternalChanges,
    GarbageCounts, GarbagePlan, ImportBatch, PatternFilter, PatternOrder, RelationshipFilter,
    StorageBackend, TextMatch, VectorMatch,
};
pub mod learning;
pub mod memory;
mod relations;
pub mod retrieval;

pub use memory::{MemoryConfig, SelfLearningMemory};
pub use relations::Neighbour;
pub use retrieval::{ContextPack, RetrievalQuery, RetrievedEpisode, ScoreBreakdown};
