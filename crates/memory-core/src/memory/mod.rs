//! [`SelfLearningMemory`]: the one entry point applications use.
//!
//! It validates every input against [`Limits`], delegates durable state to a
//! [`StorageBackend`], and runs the learning and ranking logic. It keeps no episode state of
//! its own, so an episode started by one process can get steps from a second and be completed
//! by a third.
//!
//! This file holds the type, its configuration and what every operation shares (the
//! storage, the clock, the embedder, the latency registry); each group of operations is a
//! submodule of its own: `episodes` (start, steps, completion, reads, deletion), `retrieve`
//! (context packs), `patterns` and `feedback`, `relations` (the episode graph and the
//! retrieval boost), `handoff` (checkpoints, hand-off, resume), `transfer` (export and
//! import), `vectors` and `background` (embedding on demand and in the background), and
//! `retention` (garbage collection).

mod background;
mod episodes;
mod feedback;
mod handoff;
mod patterns;
mod relations;
mod retention;
mod retrieve;
mod transfer;
mod vectors;

pub use background::BackgroundEmbedding;

use crate::clock::{Clock, SystemClock};
use crate::embedding::{Embedder, HashingEmbedder, Vectors};
use crate::error::Result;
use crate::learning::LearningConfig;
use crate::limits::Limits;
use crate::metrics::{LatencyRegistry, MemoryStats};
use crate::model::SessionRetention;
use crate::retention::Retention;
use crate::retrieval::{Fusion, NeighbourhoodConfig, RankingConfig};
use crate::storage::StorageBackend;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// Tunables of a memory instance.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Input limits.
    pub limits: Limits,
    /// Ranking weights.
    pub ranking: RankingConfig,
    /// Decay, support and success thresholds of pattern learning.
    pub learning: LearningConfig,
    /// How the task's neighbourhood (the similar episodes advice comes from) is drawn.
    pub neighbourhood: NeighbourhoodConfig,
    /// How many patterns a retrieval considers (most confident first).
    pub pattern_candidates: usize,
    /// How many comparable past episodes the efficiency baseline looks at.
    pub baseline_window: usize,
    /// How many full-text candidates a retrieval scores.
    pub text_candidates: usize,
    /// How many same-domain recent episodes are added as context-only candidates.
    pub context_candidates: usize,
    /// How many vector-search candidates a retrieval scores.
    pub vector_candidates: usize,
    /// Weight of relevance against novelty when diversifying the top hits (1 = no
    /// diversification).
    pub mmr_lambda: f64,
    /// How many completed episodes without a vector a retrieval embeds and indexes before
    /// searching (episodes are not indexed on the write path; the rest wait for later
    /// retrievals or `embed_pending`). Each costs a few milliseconds of index maintenance.
    /// Not used while [`SelfLearningMemory::embed_in_background`] runs in the process.
    pub index_on_read: u64,
    /// Lowest cosine similarity at which a vector-search result becomes a candidate: below
    /// it, "nearest" only means "least far" (in a small store every episode is someone's
    /// nearest neighbour).
    pub min_similarity: f64,
    /// A vector-search result must also reach this share of the best result's similarity.
    pub relative_similarity: f64,
    /// Largest score boost an episode gets for being related to a strong hit (see
    /// `memory/relations.rs`); 0 turns the boost off.
    pub relation_boost: f64,
    /// A hit is strong when it is among the first `limit` and scores at least this share of
    /// the best hit.
    pub strong_hit_share: f64,
    /// How many related episodes that no search found are added as candidates.
    pub related_candidates: usize,
    /// Which retrieval sessions each namespace keeps.
    pub session_retention: SessionRetention,
    /// What else the memory keeps: when running episodes count as abandoned, and when
    /// patterns and cached embeddings are dropped (see [`crate::retention`]).
    pub retention: Retention,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            limits: Limits::default(),
            ranking: RankingConfig::default(),
            learning: LearningConfig::default(),
            neighbourhood: NeighbourhoodConfig::default(),
            pattern_candidates: 300,
            baseline_window: 200,
            text_candidates: 100,
            context_candidates: 20,
            vector_candidates: 100,
            mmr_lambda: 0.7,
            index_on_read: 8,
            min_similarity: 0.1,
            relative_similarity: 0.5,
            relation_boost: 0.1,
            strong_hit_share: 0.75,
            related_candidates: 10,
            session_retention: SessionRetention::default(),
            retention: Retention::default(),
        }
    }
}

/// A memory for AI agents: records episodes, learns from them, and returns relevant
/// experience for new tasks.
///
/// ```
/// # async fn demo(storage: std::sync::Arc<dyn memory_core::StorageBackend>) -> memory_core::Result<()> {
/// use memory_core::{NewEpisode, RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskOutcome};
///
/// let memory = SelfLearningMemory::new(storage);
/// let id = memory.start_episode("default", NewEpisode::new("Fix the flaky login test")).await?;
/// memory
///     .log_step("default", id, StepInput::new("cargo test", "run the suite",
///         StepResult::Success { output: "1 failed".into() }))
///     .await?;
/// memory
///     .complete_episode("default", id, TaskOutcome::Success { verdict: "fixed".into(), artifacts: vec![] })
///     .await?;
/// let pack = memory.retrieve_context(&RetrievalQuery::new("default", "login test is flaky")).await?;
/// println!("{}", pack.markdown);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SelfLearningMemory {
    storage: Arc<dyn StorageBackend>,
    config: Arc<MemoryConfig>,
    clock: Arc<dyn Clock>,
    vectors: Option<Arc<Vectors>>,
    latencies: Arc<LatencyRegistry>,
    started: Instant,
}

impl std::fmt::Debug for SelfLearningMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfLearningMemory")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl SelfLearningMemory {
    /// A memory on `storage` with the default configuration and the system clock.
    pub fn new(storage: Arc<dyn StorageBackend>) -> Self {
        Self::with_config(storage, MemoryConfig::default(), Arc::new(SystemClock))
    }

    /// A memory with explicit configuration and clock.
    pub fn with_config(
        storage: Arc<dyn StorageBackend>,
        config: MemoryConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        SelfLearningMemory {
            storage,
            config: Arc::new(config),
            clock,
            vectors: Some(Arc::new(Vectors::new(Arc::new(HashingEmbedder::default())))),
            latencies: Arc::new(LatencyRegistry::new()),
            started: Instant::now(),
        }
    }

    /// Uses `embedder` for vector search (`None`: full-text search only). The default is
    /// the local [`HashingEmbedder`].
    pub fn with_embedder(mut self, embedder: Option<Arc<dyn Embedder>>) -> Self {
        self.vectors = embedder.map(|e| Arc::new(Vectors::new(e)));
        self
    }

    /// Keeps what `retention` says (see [`crate::retention`]).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        Arc::make_mut(&mut self.config).retention = retention;
        self
    }

    /// The embedder in use, if any.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.vectors.as_ref().map(|v| v.embedder())
    }

    /// How hybrid retrieval weighs this memory's vectors beside full-text search (none when
    /// there is no embedder).
    pub fn fusion(&self) -> Fusion {
        match &self.vectors {
            Some(v) => self.config.ranking.fusion(v.embedder().is_semantic()),
            None => Fusion::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &MemoryConfig {
        &self.config
    }

    /// The storage backend.
    pub fn storage(&self) -> &Arc<dyn StorageBackend> {
        &self.storage
    }

    /// What this memory has been doing: the latency of each operation called on this
    /// instance (clones share it) and the storage's figures — sizes, caches, prepared
    /// statements, connections, write queue.
    pub async fn stats(&self) -> Result<MemoryStats> {
        Ok(MemoryStats {
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            operations: self.latencies.snapshot(),
            storage: self.storage.storage_stats().await?,
        })
    }

    /// Runs `work`, recording its latency under `operation`. Latency is measured on the
    /// monotonic clock, not through [`Clock`]: it is an observation, not domain time.
    async fn timed<T>(&self, operation: &'static str, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = work.await;
        self.latencies.record(operation, started.elapsed());
        out
    }
}
