//! The facade's checkpoints and hand-off: recording how far a running episode got, the
//! [`HandoffPack`] of an episode, and resuming from one (see [`crate::handoff`]).

use super::SelfLearningMemory;
use crate::error::Result;
use crate::handoff::{HandoffPack, build_pack, resume_batch};
use crate::model::{Checkpoint, to_micros};
use crate::storage::PatternFilter;
use uuid::Uuid;

/// How many patterns and heuristics a pack carries.
const PACK_ADVICE: usize = 5;

impl SelfLearningMemory {
    /// Records a checkpoint in a running episode: how many steps it has and `note`.
    /// `NotFound` for an unknown episode, `Conflict` for a completed one.
    pub async fn checkpoint_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        note: &str,
    ) -> Result<Checkpoint> {
        self.config.limits.check_namespace(namespace)?;
        self.config.limits.check_note(note)?;
        let checkpoint = Checkpoint {
            id: Uuid::now_v7(),
            namespace: namespace.to_string(),
            episode_id,
            at: to_micros(self.clock.now()),
            step_count: 0,
            note: note.to_string(),
        };
        self.storage.store_checkpoint(&checkpoint).await
    }

    /// The hand-off pack of an episode (running or completed).
    pub async fn handoff(&self, namespace: &str, episode_id: Uuid) -> Result<HandoffPack> {
        let episode = self.get_episode(namespace, episode_id).await?;
        let checkpoints = self
            .storage
            .checkpoints(namespace, Some(episode_id))
            .await?;
        let mut filter = PatternFilter::new(namespace);
        filter.domain = episode.context.domain.clone();
        filter.language = episode.context.language.clone();
        filter.framework = episode.context.framework.clone();
        filter.task_type = Some(episode.task_type);
        filter.tags = episode.context.tags.clone();
        filter.min_episodes = self.config.learning.min_support;
        filter.limit = PACK_ADVICE;
        let patterns = self.storage.list_patterns(&filter).await?;
        let heuristics = self.heuristics(&filter).await?;
        Ok(build_pack(
            &episode,
            checkpoints,
            &patterns,
            heuristics,
            to_micros(self.clock.now()),
        ))
    }

    /// Starts a new episode from a hand-off pack — same goal, type, context and tags, with
    /// `resumed_from` in its metadata — linked to the old one by `new follows old`, in one
    /// transaction. Returns the new episode's id.
    ///
    /// The pack must be of `namespace`, and its episode must still exist there.
    pub async fn resume(&self, namespace: &str, pack: &HandoffPack) -> Result<Uuid> {
        let (id, batch) = resume_batch(
            &self.config.limits,
            namespace,
            pack,
            to_micros(self.clock.now()),
        )?;
        self.storage.store_batch(batch).await?;
        tracing::debug!(namespace, %id, from = %pack.episode_id, "resumed episode");
        Ok(id)
    }
}
