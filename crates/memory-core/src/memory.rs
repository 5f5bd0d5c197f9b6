//! [`SelfLearningMemory`]: the one entry point applications use.
//!
//! It validates every input against [`Limits`], delegates durable state to a
//! [`StorageBackend`], and runs the learning and ranking logic. It keeps no episode state of
//! its own, so an episode started by one process can get steps from a second and be completed
//! by a third.

use crate::clock::{Clock, SystemClock};
use crate::error::{MemoryError, Result};
use crate::learning::{Baseline, compute_reward, reflect};
use crate::limits::Limits;
use crate::model::{
    Episode, EpisodeSummary, ExecutionStep, NewEpisode, StepInput, TaskOutcome, to_micros,
};
use crate::retrieval::{
    Candidate, ContextPack, RankingConfig, RetrievalQuery, RetrievedEpisode, estimate_tokens,
    query_terms, rank, render_pack,
};
use crate::storage::{Completion, EpisodeFilter, EpisodeStatus, StorageBackend};
use std::sync::Arc;
use uuid::Uuid;

/// Tunables of a memory instance.
#[derive(Debug, Clone)]
pub struct MemoryConfig {
    /// Input limits.
    pub limits: Limits,
    /// Ranking weights.
    pub ranking: RankingConfig,
    /// How many comparable past episodes the efficiency baseline looks at.
    pub baseline_window: usize,
    /// How many full-text candidates a retrieval scores.
    pub text_candidates: usize,
    /// How many same-domain recent episodes are added as context-only candidates.
    pub context_candidates: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            limits: Limits::default(),
            ranking: RankingConfig::default(),
            baseline_window: 200,
            text_candidates: 100,
            context_candidates: 20,
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
    storage: Arc<dyn StorageBackend>,
    config: Arc<MemoryConfig>,
    clock: Arc<dyn Clock>,
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

    /// Starts an episode for a new task and returns its id.
    pub async fn start_episode(&self, namespace: &str, new: NewEpisode) -> Result<Uuid> {
        let limits = &self.config.limits;
        limits.check_namespace(namespace)?;
        limits.check_new_episode(&new)?;
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
        };
        self.storage.store_episode(&episode).await?;
        tracing::debug!(%namespace, id = %episode.id, "episode started");
        Ok(episode.id)
    }

    /// Records one step of a running episode and returns it as stored (with its `seq`).
    pub async fn log_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
    ) -> Result<ExecutionStep> {
        let limits = &self.config.limits;
        limits.check_namespace(namespace)?;
        limits.check_step(&step)?;
        let at = to_micros(self.clock.now());
        self.storage
            .append_step(namespace, episode_id, step, at, limits.steps_per_episode)
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
        let limits = &self.config.limits;
        limits.check_namespace(namespace)?;
        limits.check_outcome(&outcome)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut episode = self.get_episode(namespace, episode_id).await?;
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
            let completion = Completion {
                ended_at: self.clock.now().max(episode.started_at),
                outcome: outcome.clone(),
                reward,
                reflection,
                expected_steps: episode.steps.len() as u32,
            };
            match self
                .storage
                .complete_episode(namespace, episode_id, &completion)
                .await
            {
                Ok(()) => {
                    episode.ended_at = Some(completion.ended_at);
                    episode.outcome = Some(completion.outcome);
                    episode.reward = Some(completion.reward);
                    episode.reflection = Some(completion.reflection);
                    tracing::debug!(%namespace, id = %episode_id, "episode completed");
                    return Ok(episode);
                }
                // A step landed between our read and our write: recompute from fresh state.
                Err(MemoryError::Conflict(msg))
                    if msg.contains("steps") && attempt < COMPLETE_ATTEMPTS =>
                {
                    tracing::debug!(%episode_id, "steps changed during completion; retrying");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Loads an episode with all its steps.
    pub async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Episode> {
        self.config.limits.check_namespace(namespace)?;
        self.storage
            .get_episode(namespace, episode_id)
            .await?
            .ok_or_else(|| MemoryError::episode_not_found(namespace, episode_id))
    }

    /// Lists episodes matching `filter`, newest first.
    pub async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>> {
        self.config.limits.check_namespace(&filter.namespace)?;
        self.config.limits.check_list_limit(filter.limit)?;
        self.storage.list_episodes(filter).await
    }

    /// Deletes an episode, its steps and its index entries for good.
    pub async fn delete_episode(&self, namespace: &str, episode_id: Uuid) -> Result<()> {
        self.config.limits.check_namespace(namespace)?;
        if self.storage.delete_episode(namespace, episode_id).await? {
            tracing::debug!(%namespace, id = %episode_id, "episode deleted");
            Ok(())
        } else {
            Err(MemoryError::episode_not_found(namespace, episode_id))
        }
    }

    /// Finds the past episodes most relevant to a new task and renders them as a context pack.
    pub async fn retrieve_context(&self, query: &RetrievalQuery) -> Result<ContextPack> {
        let limits = &self.config.limits;
        limits.check_namespace(&query.namespace)?;
        limits.check_query(&query.text, query.limit, query.token_budget)?;
        limits.check_context(&query.context)?;
        let ns = query.namespace.as_str();

        let mut candidates: Vec<Candidate> = self
            .storage
            .search_text(ns, &query_terms(&query.text), self.config.text_candidates)
            .await?
            .into_iter()
            .map(|m| Candidate {
                summary: m.summary,
                bm25: Some(m.bm25),
            })
            .collect();
        if let Some(domain) = &query.context.domain {
            let mut filter = EpisodeFilter::new(ns);
            filter.domain = Some(domain.clone());
            filter.status = Some(EpisodeStatus::Completed);
            filter.limit = self.config.context_candidates;
            for summary in self.storage.list_episodes(&filter).await? {
                if !candidates.iter().any(|c| c.summary.id == summary.id) {
                    candidates.push(Candidate {
                        summary,
                        bm25: None,
                    });
                }
            }
        }
        let considered = candidates.len();
        let ranked = rank(query, candidates, self.clock.now(), &self.config.ranking);

        let mut hits = Vec::with_capacity(query.limit);
        for scored in ranked.into_iter().take(query.limit) {
            // An episode deleted since the search is simply skipped.
            if let Some(ep) = self.storage.get_episode(ns, scored.summary.id).await? {
                hits.push(RetrievedEpisode::from_episode(
                    &ep,
                    scored.breakdown,
                    scored.reason,
                ));
            }
        }
        let markdown = render_pack(ns, &query.text, &mut hits, query.token_budget);
        Ok(ContextPack {
            namespace: ns.to_string(),
            query: query.text.clone(),
            token_estimate: estimate_tokens(&markdown),
            token_budget: query.token_budget,
            markdown,
            hits,
            candidates_considered: considered,
        })
    }
}
