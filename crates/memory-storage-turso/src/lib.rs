//! A libSQL (SQLite) storage backend for self-learning-memory.
//!
//! [`TursoStorage`] implements [`memory_core::StorageBackend`] on a local database file: zero
//! set-up, no credentials, and safe to share between processes (the CLI and an MCP server can
//! have the same file open). Episodes are stored as JSON records with their queried fields
//! copied into columns, steps in their own rows so that logging one is a single
//! insert, a log of each episode's terms behind an in-memory BM25 index for text search, and
//! libSQL's native vector index (DiskANN over an `F32_BLOB` column, queried with
//! `vector_top_k`) for semantic search.
//!
//! ```no_run
//! use memory_core::{EpisodeFilter, EpisodeStore};
//! use memory_storage_turso::TursoStorage;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = TursoStorage::open("/tmp/memory/memory.db").await?;
//! let recent = storage.list_episodes(&EpisodeFilter::new("default")).await?;
//! # let _ = recent;
//! # Ok(())
//! # }
//! ```
//!
//! Completing an episode merges what it taught into the namespace's learned patterns in the
//! same transaction; patterns, per-context baseline statistics and retrieval sessions (with
//! the agents' feedback) have their own tables. A completion writes no vectors: they are
//! stored later, by the memory's background embedding, a retrieval indexing pending episodes
//! or `memory reembed` (see `vectors`). Vectors live in a table created when the store's
//! vector space (embedder and dimension) is first declared, and a re-embed replaces them all.
//!
//! The same store can live on a libSQL server (Turso Cloud, `sqld`) instead of a file, and be
//! read through an embedded replica there ([`Location`]).
//!
//! Module map: `connection` opens the file and hands out the writer and reader connections;
//! `replica` keeps an embedded replica in step with its server;
//! `schema` holds the versioned migrations; `codec` converts rows to and from the model;
//! `backend` implements the trait, each method opening its transaction (`tx`) and running
//! the body that lives with its tables; `episodes` holds the episode queries and writes,
//! `steps` the step rows; `patterns` merges completed episodes into patterns and context statistics,
//! lists patterns and credits them with feedback; `sessions` stores retrieval sessions and
//! records feedback on them; `text_terms` turns text into index terms, `text_log` stores
//! them per episode, `text_index` ranks with BM25 in memory and `text_search` keeps it in step
//! with the log and answers searches, starting from the stored snapshot of the index
//! (`text_snapshot` stores it and decides when to rewrite it, `text_segment` is its encoding
//! and the part of it a search has read); `vectors`
//! declares the vector space, stores and searches episode vectors (approximate, with an
//! exact fallback) and keeps the embedding cache; `error` defines [`TursoError`]; `storage`
//! defines [`TursoStorage`] itself; `relationships` stores edges between episodes (with the
//! cycle check) and checkpoints; `batch` writes many records in one transaction with
//! multi-row statements (import, `store_episodes`, `store_patterns`); `transfer` reads what
//! an export writes; `group_commit` queues writes and commits them together; `statements`
//! caches prepared statements per connection.

mod backend;
mod batch;
mod change_log;
mod codec;
mod completion;
mod conn;
mod connection;
mod counts;
mod episodes;
mod error;
mod garbage;
mod group_commit;
mod location;
mod off_runtime;
mod patterns;
mod pipeline;
mod planned;
#[cfg(test)]
mod query_plan;
mod relationships;
mod replica;
mod rows;
mod schema;
mod sessions;
mod statements;
mod steps;
mod storage;
mod text_index;
mod text_log;
mod text_search;
mod text_segment;
mod text_snapshot;
mod text_terms;
mod transfer;
mod tx;
mod vectors;

pub use connection::{DEFAULT_REQUEST_TIMEOUT, Durability, TursoConfig};
pub use error::TursoError;
pub use location::{Location, is_server_url};
pub use off_runtime::wait_for_database_work;
pub use replica::DEFAULT_SYNC_INTERVAL;
pub use schema::SCHEMA_VERSION;
pub use statements::DEFAULT_STATEMENT_CAPACITY;
pub use storage::{RowCounts, TursoStorage};
