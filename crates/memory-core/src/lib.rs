//! The heart of self-learning-memory: the domain model, the learning and ranking logic, and
//! the [`SelfLearningMemory`] facade that ties them to a storage backend.
//!
//! This crate does no I/O of its own. It knows storage only through the [`StorageBackend`]
//! trait (the union of the capability traits of [`storage`]), whose one implementation is
//! the libSQL backend in `memory-storage-turso`: a database file on this machine, a libSQL
//! server (Turso Cloud or a self-hosted `sqld`), or such a server read through an embedded
//! replica. [`cache::CachedStorage`] puts in-memory caches in front of any backend.

pub mod cache;
pub mod clock;
pub mod embedding;
pub mod error;
pub mod export;
pub mod graph;
pub mod handoff;
pub mod in_memory;
pub mod learning;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod retention;
pub mod retrieval;
pub mod stable_hash;
pub mod storage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use embedding::{EmbedError, Embedder, HashingEmbedder};
pub use error::{MemoryError, Result, ValidationError};
pub use graph::Neighbour;
pub use in_memory::InMemoryStorage;
pub use limits::Limits;
pub use memory::{BackgroundEmbedding, MemoryConfig, SelfLearningMemory};
pub use model::*;
pub use retrieval::{ContextPack, RetrievalQuery, RetrievedEpisode, ScoreBreakdown};
pub use storage::{
    BatchCounts, Changed, ChangedKey, Completion, EpisodeCounts, EpisodeCursor, EpisodeFilter,
    EpisodeStatus, EpisodeStore, EpisodeVectors, ExportFilter, ExportSnapshot, ExternalChanges,
    GarbageCounts, GarbagePlan, GraphStore, ImportBatch, PatternFilter, PatternOrder, PatternStore,
    RelationshipFilter, RetentionStore, SessionStore, StatsStore, StorageBackend, TextMatch,
    TransferStore, VectorMatch, VectorStore,
};
