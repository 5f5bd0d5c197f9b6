//! The episode writes and reads: appending a step, completing (with the merge of what the
//! episode taught and the feedback it gives its retrieval session), deleting (taking all
//! that back), the listing with its filters and keyset cursor, the cost baseline, the
//! full-text search and the search for idle running episodes.

use super::patterns::Forget;
use super::state::{State, clamp_i64, micros, tag_set};
use crate::learning::mine;
use crate::{
    Completion, EpisodeCost, EpisodeFilter, EpisodeStatus, EpisodeSummary, ExecutionStep,
    MemoryError, Result, StepInput, TaskType, TextMatch,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

impl State {
    /// The body of `append_step`.
    pub(super) fn append_step(
        &mut self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
        at: DateTime<Utc>,
        max_steps: u32,
    ) -> Result<ExecutionStep> {
        let Some(stored) = self.episode_in_mut(namespace, episode_id) else {
            return Err(MemoryError::episode_not_found(namespace, episode_id));
        };
        if stored.is_complete() {
            return Err(MemoryError::Conflict(format!(
                "episode {episode_id} is already completed; steps cannot be added"
            )));
        }
        let count = stored.episode.steps.len() as u64;
        if count >= u64::from(max_steps) {
            return Err(MemoryError::Conflict(format!(
                "episode {episode_id} already has {count} steps; the limit is {max_steps}"
            )));
        }
        // `count < max_steps`, so it fits a u32.
        let seq = u32::try_from(count + 1).unwrap_or(u32::MAX);
        let step = step.into_step(seq, at);
        stored.total_latency_ms = stored
            .total_latency_ms
            .saturating_add(clamp_i64(step.latency_ms));
        Arc::make_mut(&mut stored.episode).steps.push(step.clone());
        Ok(step)
    }

    /// The body of `complete_episode`: checks, merges the lessons into the patterns,
    /// completes the episode, indexes its text and records the feedback its session gets.
    pub(super) fn complete_episode(
        &mut self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<Vec<Uuid>> {
        crate::learning::merge::check_learned(&completion.learned, completion.half_life_days)?;
        let Some(stored) = self.episode_in(namespace, episode_id) else {
            return Err(MemoryError::episode_not_found(namespace, episode_id));
        };
        if stored.is_complete() {
            return Err(MemoryError::Conflict(format!(
                "episode {episode_id} is already completed"
            )));
        }
        let steps = stored.episode.steps.len();
        if steps as u64 != u64::from(completion.expected_steps) {
            return Err(MemoryError::Stale(format!(
                "episode {episode_id} has {steps} steps but the completion was computed from {}; \
                 reload it and try again",
                completion.expected_steps
            )));
        }

        let pattern_ids = self.merge_learned(namespace, completion);
        let Some(stored) = self.episode_in_mut(namespace, episode_id) else {
            return Err(MemoryError::episode_not_found(namespace, episode_id));
        };
        let episode = Arc::make_mut(&mut stored.episode);
        episode.pattern_ids = pattern_ids.clone();
        episode.ended_at = Some(completion.ended_at);
        episode.outcome = Some(completion.outcome.clone());
        episode.reward = Some(completion.reward.clone());
        episode.reflection = Some(completion.reflection.clone());
        let (rowid, episode) = (stored.rowid, Arc::clone(&stored.episode));
        self.text.index(rowid, &episode);
        if let Some(session) = completion.feedback_session {
            self.feedback_from_completion(
                namespace,
                session,
                completion.outcome.kind(),
                completion.ended_at,
            );
        }
        Ok(pattern_ids)
    }

    /// The body of `delete_episode`: the episode and everything kept about it, what it
    /// taught (when it completed) and its retrieval session with that session's feedback.
    pub(super) fn delete_episode(
        &mut self,
        namespace: &str,
        episode_id: Uuid,
        half_life_days: f64,
    ) -> bool {
        let Some(stored) = self.episode_in(namespace, episode_id) else {
            return false;
        };
        let episode = Arc::clone(&stored.episode);
        if let Some(ended_at) = episode.ended_at {
            let forget = Forget {
                ended_at,
                learned: mine(&episode),
                half_life_days,
            };
            self.forget_learned(namespace, episode_id, &episode.pattern_ids, &forget);
        }
        if let Some(session) = episode.retrieval_session {
            self.forget_session(namespace, session);
        }
        self.remove_episode(episode_id).is_some()
    }

    /// The body of `list_episodes`: matching summaries, newest first (by start time to
    /// the microsecond, then by id), after the cursor, then past the offset.
    pub(super) fn list_episodes(&self, filter: &EpisodeFilter) -> Vec<EpisodeSummary> {
        let Some(data) = self.namespace(&filter.namespace) else {
            return Vec::new();
        };
        let keys: Box<dyn Iterator<Item = &(i64, Uuid)>> = match filter.after {
            Some(cursor) => Box::new(
                data.listing
                    .range(..(cursor.started_at_micros, cursor.id))
                    .rev(),
            ),
            None => Box::new(data.listing.iter().rev()),
        };
        let (after, before) = (
            filter.started_after.map(micros),
            filter.started_before.map(micros),
        );
        keys.filter_map(|(started, id)| {
            let e = &self.episodes.get(id)?.episode;
            let ok = filter
                .domain
                .as_ref()
                .is_none_or(|d| e.context.domain.as_ref() == Some(d))
                && filter
                    .language
                    .as_ref()
                    .is_none_or(|l| e.context.language.as_ref() == Some(l))
                && filter.task_type.is_none_or(|t| e.task_type == t)
                && filter
                    .outcome
                    .is_none_or(|o| e.outcome.as_ref().map(|x| x.kind()) == Some(o))
                && match filter.status {
                    Some(EpisodeStatus::Running) => e.ended_at.is_none(),
                    Some(EpisodeStatus::Completed) => e.ended_at.is_some(),
                    None => true,
                }
                && (filter.tags.is_empty() || {
                    let tags = tag_set(e);
                    filter.tags.iter().all(|t| tags.contains(t.as_str()))
                })
                && after.is_none_or(|a| *started >= a)
                && before.is_none_or(|b| *started < b);
            ok.then(|| e.summary())
        })
        .skip(filter.offset)
        .take(filter.limit)
        .collect()
    }

    /// The body of `comparable_costs`: the latest completed episodes of a task type (and
    /// domain, when given), newest completion first.
    pub(super) fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Vec<EpisodeCost> {
        let Some(data) = self.namespace(namespace) else {
            return Vec::new();
        };
        let mut found: Vec<(i64, u64, EpisodeCost)> = data
            .listing
            .iter()
            .filter_map(|(_, id)| self.episodes.get(id))
            .filter(|s| s.episode.task_type == task_type)
            .filter(|s| domain.is_none_or(|d| s.episode.context.domain.as_deref() == Some(d)))
            .filter_map(|s| {
                let ended = micros(s.episode.ended_at?);
                let cost = EpisodeCost {
                    steps: s.episode.steps.len() as u32,
                    latency_ms: u64::try_from(s.total_latency_ms).unwrap_or(0),
                };
                Some((ended, s.rowid, cost))
            })
            .collect();
        found.sort_unstable_by_key(|(ended, rowid, _)| std::cmp::Reverse((*ended, *rowid)));
        found.into_iter().take(limit).map(|(_, _, c)| c).collect()
    }

    /// The body of `search_text`.
    pub(super) fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Vec<TextMatch> {
        self.text
            .search(namespace, terms, limit)
            .into_iter()
            .filter_map(|hit| {
                let stored = self.episode_in(namespace, hit.id)?;
                Some(TextMatch {
                    summary: stored.episode.summary(),
                    bm25: hit.score,
                    coverage: hit.coverage,
                })
            })
            .collect()
    }

    /// The body of `idle_running`: running episodes of every namespace started, and last
    /// given a step, before `idle_since`, oldest first.
    pub(super) fn idle_running(&self, idle_since: DateTime<Utc>) -> Vec<(String, Uuid)> {
        let since = micros(idle_since);
        let mut idle: Vec<(i64, u64, String, Uuid)> = self
            .episodes
            .values()
            .filter(|s| !s.is_complete())
            .filter_map(|s| {
                let e = &s.episode;
                let started = micros(e.started_at);
                let last = e
                    .steps
                    .iter()
                    .map(|st| micros(st.at))
                    .max()
                    .unwrap_or(started);
                (started < since && last < since)
                    .then(|| (started, s.rowid, e.namespace.clone(), e.id))
            })
            .collect();
        idle.sort_unstable_by_key(|(started, rowid, _, _)| (*started, *rowid));
        idle.into_iter().map(|(_, _, ns, id)| (ns, id)).collect()
    }
}
