//! [`SelfLearningMemory`]: the one entry point applications use.
//!
//! It validates every input against [`Limits`], delegates durable state to a
//! [`StorageBackend`], and runs the learning and ranking logic. It keeps no episode state of
//! its own, so an episode started by one process can get steps from a second and be completed
//! by a third.

use crate::clock::{Clock, SystemClock};
use crate::embedding::{Embedder, HashingEmbedder, Vectors, cosine};
use crate::error::{MemoryError, Result};
use crate::learning::{Baseline, LearningConfig, compute_reward, heuristics, mine, reflect};
use crate::limits::Limits;
use crate::metrics::{LatencyRegistry, MemoryStats};
use crate::model::{
    Episode, EpisodeSummary, ExecutionStep, Feedback, Heuristic, NewEpisode, OutcomeKind, Pattern,
    RetrievalSession, SessionRetention, StepInput, TaskOutcome, to_micros,
};
use crate::retrieval::{
    Candidate, ContextPack, Fusion, NeighbourhoodConfig, RankingConfig, RetrievalMode,
    RetrievalQuery, RetrievedEpisode, Scored, SimilarEpisode, advise, estimate_tokens, mmr,
    query_terms, recommend, render_pack, select_neighbourhood,
};
use crate::storage::{Completion, EpisodeFilter, EpisodeStatus, PatternFilter, StorageBackend};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

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
    /// `crate::relations`); 0 turns the boost off.
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
    pub retention: crate::retention::Retention,
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
            retention: crate::retention::Retention::default(),
        }
    }
}

/// How many times completion is retried when steps arrive while it is being computed.
const COMPLETE_ATTEMPTS: usize = 3;

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
    pub(crate) storage: Arc<dyn StorageBackend>,
    pub(crate) config: Arc<MemoryConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) vectors: Option<Arc<Vectors>>,
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
    pub fn with_retention(mut self, retention: crate::retention::Retention) -> Self {
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
    pub(crate) async fn timed<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let out = work.await;
        self.latencies.record(operation, started.elapsed());
        out
    }

    /// Starts an episode for a new task and returns its id.
    pub async fn start_episode(&self, namespace: &str, new: NewEpisode) -> Result<Uuid> {
        self.timed("start_episode", async {
            let limits = &self.config.limits;
            limits.check_namespace(namespace)?;
            limits.check_new_episode(&new)?;
            if let Some(session) = new.retrieval_session {
                self.get_session(namespace, session).await?;
            }
            let now = self.clock.now();
            let episode = Episode {
                id: Uuid::now_v7(),
                namespace: namespace.to_string(),
                task_description: new.task_description,
                task_type: new.task_type,
                context: new.context,
                started_at: now,
                ended_at: None,
                steps: Vec::new(),
                outcome: None,
                reward: None,
                reflection: None,
                pattern_ids: Vec::new(),
                tags: new.tags,
                metadata: new.metadata,
                retrieval_session: new.retrieval_session,
            };
            self.storage.store_episode(&episode).await?;
            tracing::debug!(%namespace, id = %episode.id, "episode started");
            Ok(episode.id)
        })
        .await
    }

    /// Records one step of a running episode and returns it as stored (with its `seq`).
    pub async fn log_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
    ) -> Result<ExecutionStep> {
        self.timed("log_step", async {
            let limits = &self.config.limits;
            limits.check_namespace(namespace)?;
            limits.check_step(&step)?;
            let at = to_micros(self.clock.now());
            self.storage
                .append_step(namespace, episode_id, step, at, limits.steps_per_episode)
                .await
        })
        .await
    }

    /// Completes a running episode: scores it, reflects on it, stores the result and returns
    /// the completed episode.
    pub async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        outcome: TaskOutcome,
    ) -> Result<Episode> {
        self.timed("complete_episode", async {
            let limits = &self.config.limits;
            limits.check_namespace(namespace)?;
            limits.check_outcome(&outcome)?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let stored = self
                    .storage
                    .get_episode(namespace, episode_id)
                    .await?
                    .ok_or_else(|| MemoryError::episode_not_found(namespace, episode_id))?;
                let mut episode = Arc::unwrap_or_clone(stored);
                if episode.is_complete() {
                    return Err(MemoryError::Conflict(format!(
                        "episode {episode_id} is already completed"
                    )));
                }
                let costs = self
                    .storage
                    .comparable_costs(
                        namespace,
                        episode.task_type,
                        episode.context.domain.as_deref(),
                        self.config.baseline_window,
                    )
                    .await?;
                let baseline = Baseline::from_costs(&costs);
                let reward = compute_reward(&outcome, &episode.steps, baseline.as_ref());
                let reflection = reflect(&outcome, &episode.steps, baseline.as_ref());
                let ended_at = self.clock.now().max(episode.started_at);
                episode.ended_at = Some(ended_at);
                episode.outcome = Some(outcome.clone());
                episode.reward = Some(reward.clone());
                episode.reflection = Some(reflection.clone());
                let completion = Completion {
                    ended_at,
                    outcome: outcome.clone(),
                    reward,
                    reflection,
                    expected_steps: episode.steps.len() as u32,
                    steps: Some(Arc::from(episode.steps.as_slice())),
                    learned: mine(&episode),
                    feedback_session: episode.retrieval_session,
                    half_life_days: self.config.learning.half_life_days,
                };
                match self
                    .storage
                    .complete_episode(namespace, episode_id, &completion)
                    .await
                {
                    Ok(pattern_ids) => {
                        episode.pattern_ids = pattern_ids;
                        tracing::debug!(%namespace, id = %episode_id, patterns = episode.pattern_ids.len(), "episode completed");
                        if let Some(vectors) = &self.vectors {
                            vectors.completed.notify_one();
                        }
                        return Ok(episode);
                    }
                    // A step landed between our read and our write: recompute from fresh state.
                    Err(MemoryError::Stale(_)) if attempt < COMPLETE_ATTEMPTS => {
                        tracing::debug!(%episode_id, "steps changed during completion; retrying");
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .await
    }

    /// Loads an episode with all its steps.
    ///
    /// The episode is shared with the cache tier, so a cached read copies nothing; use
    /// `Arc::unwrap_or_clone` for an episode of your own to change.
    pub async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Arc<Episode>> {
        self.timed("get_episode", async {
            self.config.limits.check_namespace(namespace)?;
            self.storage
                .get_episode(namespace, episode_id)
                .await?
                .ok_or_else(|| MemoryError::episode_not_found(namespace, episode_id))
        })
        .await
    }

    /// Lists episodes matching `filter`, newest first.
    pub async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>> {
        self.timed("list_episodes", async {
            self.config.limits.check_namespace(&filter.namespace)?;
            self.config.limits.check_list_limit(filter.limit)?;
            self.storage.list_episodes(filter).await
        })
        .await
    }

    /// Deletes an episode for good: the episode with everything recorded about it, and
    /// what it taught — its share of the patterns' and baselines' statistics, its evidence
    /// and examples — as if it had never been recorded (see
    /// [`StorageBackend::delete_episode`]).
    pub async fn delete_episode(&self, namespace: &str, episode_id: Uuid) -> Result<()> {
        self.timed("delete_episode", async {
            self.config.limits.check_namespace(namespace)?;
            let half_life = self.config.learning.half_life_days;
            if self
                .storage
                .delete_episode(namespace, episode_id, half_life)
                .await?
            {
                tracing::debug!(%namespace, id = %episode_id, "episode deleted");
                Ok(())
            } else {
                Err(MemoryError::episode_not_found(namespace, episode_id))
            }
        })
        .await
    }

    /// Finds the past episodes most relevant to a new task and renders them as a context pack.
    pub async fn retrieve_context(&self, query: &RetrievalQuery) -> Result<ContextPack> {
        self.timed("retrieve_context", async {
            let limits = &self.config.limits;
            limits.check_namespace(&query.namespace)?;
            limits.check_query(&query.text, query.limit, query.token_budget)?;
            limits.check_context(&query.context)?;
            let ns = query.namespace.as_str();

            let (candidates, mut warnings) = self.candidates(query).await?;
            let near = select_neighbourhood(&candidates, &self.config.neighbourhood);
            let (ranked, considered, mut related) =
                self.rank_with_relations(query, candidates).await?;
            let ranked = self.diversify(ns, ranked, query.limit).await?;

            let mut hits = Vec::with_capacity(query.limit);
            let mut loaded: Vec<Arc<Episode>> = Vec::with_capacity(query.limit);
            for scored in ranked {
                // An episode deleted since the search is simply skipped.
                if let Some(ep) = self.storage.get_episode(ns, scored.summary.id).await? {
                    let mut hit =
                        RetrievedEpisode::from_episode(&ep, scored.breakdown, scored.reason);
                    hit.related = related.remove(&hit.id).unwrap_or_default();
                    hits.push(hit);
                    loaded.push(ep);
                }
            }
            let mut pattern_filter = PatternFilter::new(ns);
            pattern_filter.domain = query.context.domain.clone();
            pattern_filter.language = query.context.language.clone();
            pattern_filter.framework = query.context.framework.clone();
            pattern_filter.task_type = query.task_type;
            pattern_filter.tags = query.context.tags.clone();
            pattern_filter.min_episodes = self.config.learning.min_support;
            pattern_filter.limit = self.config.pattern_candidates;
            let patterns = self.storage.list_patterns(&pattern_filter).await?;
            let mut similar = Vec::with_capacity(near.len());
            for (id, similarity) in near {
                let known = loaded.iter().find(|e| e.id == id).cloned();
                let episode = match known {
                    Some(e) => Some(e),
                    None => self.storage.get_episode(ns, id).await?,
                };
                // An episode deleted since the search is simply skipped.
                if let Some(episode) = episode {
                    similar.push(SimilarEpisode {
                        episode,
                        similarity,
                    });
                }
            }
            let advice = advise(&similar, &self.config.neighbourhood);
            let now = self.clock.now();
            let recs = recommend(query, &patterns, &advice, now, &self.config.learning);

            let session_id = if query.record_session {
                let session = RetrievalSession {
                    id: Uuid::now_v7(),
                    namespace: ns.to_string(),
                    query: query.text.clone(),
                    recommended: recs.offered_ids(),
                    created_at: now,
                    feedback: None,
                };
                // The pack is worth having without its session: a store that cannot take
                // writes (a replica whose server is away) still answers.
                match self
                    .storage
                    .store_session(&session, &self.config.session_retention)
                    .await
                {
                    Ok(()) => Some(session.id),
                    Err(MemoryError::Storage(err)) => {
                        tracing::warn!(error = %err, "could not store the retrieval session");
                        warnings.push(format!(
                            "this pack has no session, so feedback on it cannot be recorded: \
                             the session could not be stored ({err})"
                        ));
                        None
                    }
                    Err(err) => return Err(err),
                }
            } else {
                None
            };

            let markdown = render_pack(
                session_id,
                &warnings,
                ns,
                &query.text,
                &recs,
                &mut hits,
                query.token_budget,
            );
            Ok(ContextPack {
                session_id,
                namespace: ns.to_string(),
                query: query.text.clone(),
                token_estimate: estimate_tokens(&markdown),
                token_budget: query.token_budget,
                markdown,
                hits,
                patterns: recs.patterns,
                heuristics: recs.heuristics,
                playbook: recs.playbook,
                exploration: recs.exploration,
                recoveries: recs.recoveries,
                neighbours: advice.neighbours,
                candidates_considered: considered,
                warnings,
            })
        })
        .await
    }

    /// The candidates of a retrieval: full-text matches and nearest vectors (as the mode
    /// asks), merged by episode with their ranks, plus recent same-domain episodes; and
    /// what went wrong on the way without failing it.
    async fn candidates(&self, query: &RetrievalQuery) -> Result<(Vec<Candidate>, Vec<String>)> {
        let ns = query.namespace.as_str();
        let mut candidates: Vec<Candidate> = Vec::new();
        if query.mode != RetrievalMode::Vector {
            let matches = self
                .storage
                .search_text(ns, &query_terms(&query.text), self.config.text_candidates)
                .await?;
            for (i, m) in matches.into_iter().enumerate() {
                candidates.push(Candidate {
                    bm25: Some(m.bm25),
                    coverage: Some(m.coverage),
                    lexical_rank: Some(i + 1),
                    ..Candidate::by_context(m.summary)
                });
            }
        }
        let mut warnings = Vec::new();
        if query.mode != RetrievalMode::Text {
            match &self.vectors {
                Some(vectors) => {
                    let matches = match self.vector_matches(vectors, query).await {
                        Ok(matches) => matches,
                        // Full text still answers: a failing embedder costs the vectors,
                        // not the retrieval.
                        Err(MemoryError::Embedding(e)) if query.mode == RetrievalMode::Hybrid => {
                            tracing::warn!(error = %e, "embedder failed; retrieving by full text only");
                            warnings.push(format!(
                                "vector search skipped, results are from full-text search only: {e}"
                            ));
                            Vec::new()
                        }
                        Err(e) => return Err(e),
                    };
                    let best = matches.first().map_or(0.0, |m| m.similarity);
                    let floor = self
                        .config
                        .min_similarity
                        .max(best * self.config.relative_similarity);
                    let kept = matches.into_iter().filter(|m| m.similarity >= floor);
                    for (i, m) in kept.enumerate() {
                        let rank = Some(i + 1);
                        match candidates.iter_mut().find(|c| c.summary.id == m.summary.id) {
                            Some(c) => {
                                c.similarity = Some(m.similarity);
                                c.semantic_rank = rank;
                                c.chunk = Some(m.chunk);
                            }
                            None => candidates.push(Candidate {
                                similarity: Some(m.similarity),
                                semantic_rank: rank,
                                chunk: Some(m.chunk),
                                ..Candidate::by_context(m.summary)
                            }),
                        }
                    }
                }
                None if query.mode == RetrievalMode::Vector => {
                    return Err(MemoryError::Conflict(
                        "vector retrieval needs an embedder, and none is configured".into(),
                    ));
                }
                None => {}
            }
        }
        if let Some(domain) = &query.context.domain {
            let mut filter = EpisodeFilter::new(ns);
            filter.domain = Some(domain.clone());
            filter.status = Some(EpisodeStatus::Completed);
            filter.limit = self.config.context_candidates;
            for summary in self.storage.list_episodes(&filter).await? {
                if !candidates.iter().any(|c| c.summary.id == summary.id) {
                    candidates.push(Candidate::by_context(summary));
                }
            }
        }
        Ok((candidates, warnings))
    }

    /// The query's nearest episodes by vector, after indexing a few of the namespace's
    /// pending episodes (unless a background loop embeds them in this process).
    async fn vector_matches(
        &self,
        vectors: &Vectors,
        query: &RetrievalQuery,
    ) -> Result<Vec<crate::VectorMatch>> {
        let ns = query.namespace.as_str();
        let embed_here = if vectors.embedded_in_background() {
            // The background loop has the backlog; this retrieval only reads.
            0
        } else {
            self.config.index_on_read
        };
        let embedded = match embed_here {
            0 => Ok(0),
            n => vectors.embed_up_to(self.storage.as_ref(), ns, n).await,
        };
        match embedded {
            Ok(_) => {}
            // Episodes not embedded yet wait for a later retrieval; the vectors stored
            // answer now (a store that cannot take writes — a replica whose server is
            // away — still answers).
            Err(MemoryError::Storage(err)) => {
                tracing::warn!(error = %err, "could not store new episodes' vectors");
            }
            Err(err) => return Err(err),
        }
        let qv = vectors
            .embed(self.storage.as_ref(), std::slice::from_ref(&query.text))
            .await?
            .pop()
            .unwrap_or_default();
        self.storage
            .vector_search(ns, &qv, self.config.vector_candidates)
            .await
    }

    /// The `limit` hits to return: the best of `ranked`, diversified by maximal marginal
    /// relevance over their vectors so that near-duplicates do not crowd out other lessons.
    async fn diversify(
        &self,
        ns: &str,
        mut ranked: Vec<Scored>,
        limit: usize,
    ) -> Result<Vec<Scored>> {
        let pool = (limit * 3).min(ranked.len());
        ranked.truncate(pool);
        if self.vectors.is_none() || self.config.mmr_lambda >= 1.0 || pool <= 1 {
            ranked.truncate(limit);
            return Ok(ranked);
        }
        let ids: Vec<Uuid> = ranked.iter().map(|s| s.summary.id).collect();
        let stored = self.storage.vectors_of(ns, &ids).await?;
        let vectors: Vec<Option<&Vec<f32>>> = ids
            .iter()
            .map(|id| stored.iter().find(|(i, _)| i == id).map(|(_, v)| v))
            .collect();
        let best = ranked.first().map_or(1.0, |s| s.breakdown.total).max(1e-9);
        let scores: Vec<f64> = ranked.iter().map(|s| s.breakdown.total / best).collect();
        let order = mmr(&scores, limit, self.config.mmr_lambda, |a, b| {
            match (vectors[a], vectors[b]) {
                (Some(x), Some(y)) => Some(f64::from(cosine(x, y))),
                _ => None,
            }
        });
        let mut slots: Vec<Option<Scored>> = ranked.into_iter().map(Some).collect();
        Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
    }

    /// Embeds every completed episode without a vector (after a bulk import, or when the
    /// embedder is remote), `batch` at a time; `progress(done, total)` is called after each
    /// batch. Returns how many were embedded.
    pub async fn embed_pending(&self, batch: usize, progress: impl FnMut(u64, u64)) -> Result<u64> {
        self.timed("embed_pending", async {
            let vectors = self.require_vectors()?;
            vectors
                .embed_pending(self.storage.as_ref(), batch, progress)
                .await
        })
        .await
    }

    /// Rebuilds every vector with the current embedder: the explicit way to switch
    /// embedder or dimension. Returns how many episodes were embedded.
    pub async fn reembed(&self, batch: usize, progress: impl FnMut(u64, u64)) -> Result<u64> {
        self.timed("reembed", async {
            let vectors = self.require_vectors()?;
            vectors
                .reembed(self.storage.as_ref(), batch, progress)
                .await
        })
        .await
    }

    fn require_vectors(&self) -> Result<&Arc<Vectors>> {
        self.vectors.as_ref().ok_or_else(|| {
            MemoryError::Conflict("no embedder is configured, so there are no vectors".into())
        })
    }

    /// Reports how a task went after using a context pack: which of the recommended patterns
    /// the agent applied, and the outcome. Updates each applied pattern's effectiveness, which
    /// moves its rank in later retrievals.
    ///
    /// Fails with `NotFound` for an unknown session, `Invalid` for a pattern that was not
    /// recommended in that session, and `Conflict` if the session already has feedback.
    pub async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        applied: Vec<Uuid>,
        outcome: OutcomeKind,
    ) -> Result<()> {
        self.timed("record_feedback", async {
            self.config.limits.check_namespace(namespace)?;
            let session = self.get_session(namespace, session_id).await?;
            if let Some((i, id)) = applied
                .iter()
                .enumerate()
                .find(|(_, id)| !session.recommended.contains(id))
            {
                return Err(crate::ValidationError::new(
                    format!("applied[{i}]"),
                    format!("pattern {id} was not recommended in session {session_id}"),
                )
                .into());
            }
            let mut unique: Vec<Uuid> = Vec::with_capacity(applied.len());
            for id in applied {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            let feedback = Feedback {
                applied: unique,
                outcome,
                recorded_at: self.clock.now(),
            };
            self.storage
                .record_feedback(namespace, session_id, &feedback)
                .await
        })
        .await
    }

    /// A remembered retrieval.
    pub async fn get_session(&self, namespace: &str, session_id: Uuid) -> Result<RetrievalSession> {
        self.timed("get_session", async {
            self.config.limits.check_namespace(namespace)?;
            self.storage
                .get_session(namespace, session_id)
                .await?
                .ok_or_else(|| MemoryError::NotFound {
                    kind: "retrieval session",
                    id: session_id.to_string(),
                    namespace: namespace.to_string(),
                })
        })
        .await
    }

    /// Lists learned patterns.
    pub async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        self.timed("list_patterns", async {
            self.config.limits.check_namespace(&filter.namespace)?;
            self.config.limits.check_list_limit(filter.limit)?;
            self.storage.list_patterns(filter).await
        })
        .await
    }

    /// Loads one pattern.
    pub async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Pattern> {
        self.timed("get_pattern", async {
            self.config.limits.check_namespace(namespace)?;
            self.storage
                .get_pattern(namespace, pattern_id)
                .await?
                .ok_or_else(|| MemoryError::NotFound {
                    kind: "pattern",
                    id: pattern_id.to_string(),
                    namespace: namespace.to_string(),
                })
        })
        .await
    }

    /// The heuristics the patterns matching `filter` justify now, most confident first.
    pub async fn heuristics(&self, filter: &PatternFilter) -> Result<Vec<Heuristic>> {
        self.timed("heuristics", async {
            let mut wide = filter.clone();
            wide.min_episodes = wide.min_episodes.max(self.config.learning.min_support);
            wide.limit = self.config.limits.list_limit;
            wide.offset = 0;
            let patterns = self.list_patterns(&wide).await?;
            let mut rules = heuristics(&patterns, self.clock.now(), &self.config.learning);
            rules.truncate(filter.limit);
            Ok(rules)
        })
        .await
    }
}
