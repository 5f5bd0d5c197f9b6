//! The facade's episodes: starting one, logging its steps, completing it (scored, reflected
//! on and mined, in one write with what it taught), reading and deleting it.

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result};
use crate::learning::{Baseline, compute_reward, mine, reflect};
use crate::model::{
    Episode, EpisodeSummary, ExecutionStep, NewEpisode, StepInput, TaskOutcome, to_micros,
};
use crate::storage::{Completion, EpisodeFilter};
use std::sync::Arc;
use uuid::Uuid;

/// How many times completion is retried when steps arrive while it is being computed.
const COMPLETE_ATTEMPTS: usize = 3;

impl SelfLearningMemory {
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
    /// [`EpisodeStore::delete_episode`](crate::storage::EpisodeStore::delete_episode)).
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
}
