//! Learned patterns and the context baselines they are measured against: merging what a
//! completing episode taught, taking back what a deleted one did, crediting feedback, and
//! the pattern listing — each as the libSQL store's `patterns` module does it.

use super::state::{NamespaceData, State, micros};
use crate::Mined;
use crate::learning::merge;
use crate::{
    Completion, Feedback, OutcomeKind, OutcomeStats, Pattern, PatternFilter, PatternOrder,
};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// What deleting a completed episode takes back from the statistics it fed.
pub(super) struct Forget {
    /// When it completed: what it taught was counted then.
    pub(super) ended_at: DateTime<Utc>,
    /// What it taught, mined again from it.
    pub(super) learned: Mined,
    /// Half-life of pattern and baseline statistics, in days.
    pub(super) half_life_days: f64,
}

/// The confidence a listing sorts and filters by: the Wilson lower bound as of the
/// pattern's last update, 0 when it is not a number.
fn confidence(pattern: &Pattern) -> f64 {
    let c = pattern.stats.confidence();
    if c.is_finite() { c } else { 0.0 }
}

/// The lift a listing sorts by, 1 when it is not a number.
fn lift(pattern: &Pattern) -> f64 {
    if pattern.lift.is_finite() {
        pattern.lift
    } else {
        1.0
    }
}

/// Whether a scope value (unset: holds everywhere) holds for the wanted one, ignoring case.
fn holds(scope: Option<&str>, wanted: Option<&str>) -> bool {
    match (scope, wanted) {
        (_, None) | (None, Some(_)) => true,
        (Some(have), Some(want)) => have.to_lowercase() == want.to_lowercase(),
    }
}

/// Whether `pattern` matches every set field of `filter` but the namespace.
fn matches(pattern: &Pattern, filter: &PatternFilter) -> bool {
    let scope = &pattern.scope;
    filter.kind.is_none_or(|k| pattern.kind.name() == k)
        && holds(scope.domain.as_deref(), filter.domain.as_deref())
        && holds(scope.language.as_deref(), filter.language.as_deref())
        && holds(scope.framework.as_deref(), filter.framework.as_deref())
        && holds(
            scope.task_type.map(|t| t.as_str()),
            filter.task_type.map(|t| t.as_str()),
        )
        && (filter.tags.is_empty()
            || scope.tag.as_deref().is_none_or(|tag| {
                let tag = tag.to_lowercase();
                filter.tags.iter().any(|t| t.to_lowercase() == tag)
            }))
        && (filter.min_episodes == 0 || pattern.stats.episodes >= filter.min_episodes)
        // NaN or a bound of 0 or less restricts nothing.
        && (filter.min_confidence.is_nan()
            || filter.min_confidence <= 0.0
            || confidence(pattern) >= filter.min_confidence)
}

/// Descending order of two finite figures.
fn descending(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

impl State {
    /// The body of `list_patterns`.
    pub(super) fn list_patterns(&self, filter: &PatternFilter) -> Vec<Pattern> {
        let Some(data) = self.namespace(&filter.namespace) else {
            return Vec::new();
        };
        let mut found: Vec<&Pattern> = data
            .patterns
            .values()
            .filter(|p| matches(p, filter))
            .collect();
        found.sort_by(|a, b| {
            let first = match filter.order {
                PatternOrder::Confidence => descending(confidence(a), confidence(b)),
                PatternOrder::Support => b.stats.episodes.cmp(&a.stats.episodes),
                PatternOrder::Lift => descending(lift(a), lift(b)),
                PatternOrder::Recent => micros(b.last_seen).cmp(&micros(a.last_seen)),
            };
            first.then(a.id.cmp(&b.id))
        });
        found
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit)
            .cloned()
            .collect()
    }

    /// The body of `get_pattern`.
    pub(super) fn get_pattern(&self, namespace: &str, id: Uuid) -> Option<Pattern> {
        self.namespace(namespace)?.patterns.get(&id).cloned()
    }

    /// Merges what a completing episode taught into `namespace`'s context baselines and
    /// patterns, and returns the ids of the patterns it contributed to, in observation
    /// order. A context listed twice counts the episode once; a second observation with an
    /// already merged signature is skipped.
    pub(super) fn merge_learned(&mut self, namespace: &str, completion: &Completion) -> Vec<Uuid> {
        let learned = &completion.learned;
        if learned.is_empty() {
            return Vec::new();
        }
        let (now, half_life) = (completion.ended_at, completion.half_life_days);
        let data = self.namespace_mut(namespace);
        let mut baselines = baselines_of(data, learned);
        let counted = merge::count_in_contexts(learned, &mut baselines, now, half_life);
        data.context_stats.extend(counted);

        let mut ids = Vec::with_capacity(learned.observations.len());
        for (obs, baseline) in merge::observations_to_merge(learned, &baselines, now) {
            let stored = data
                .signatures
                .get(&obs.signature)
                .and_then(|id| data.patterns.get_mut(id));
            let id = match stored {
                Some(pattern) => {
                    pattern.absorb(obs, &baseline, now, half_life);
                    pattern.id
                }
                None => {
                    let pattern =
                        Pattern::from_observation(namespace, obs, &baseline, now, half_life);
                    let id = pattern.id;
                    data.signatures.insert(pattern.signature.clone(), id);
                    data.patterns.insert(id, pattern);
                    id
                }
            };
            ids.push(id);
        }
        ids
    }

    /// Takes back what a deleted completed episode taught: its share of each context
    /// baseline and pattern it fed (those its observations' signatures name and those its
    /// record lists), its evidence id and example; a baseline or pattern left with no
    /// episode is deleted.
    pub(super) fn forget_learned(
        &mut self,
        namespace: &str,
        episode_id: Uuid,
        pattern_ids: &[Uuid],
        forget: &Forget,
    ) {
        let learned = &forget.learned;
        let (at, half_life) = (forget.ended_at, forget.half_life_days);
        let data = self.namespace_mut(namespace);
        let mut baselines = baselines_of(data, learned);
        for (key, stats) in merge::uncount_in_contexts(learned, &mut baselines, at, half_life) {
            match stats {
                Some(stats) => data.context_stats.insert(key, stats),
                None => data.context_stats.remove(&key),
            };
        }

        let mut fed: Vec<Uuid> = learned
            .observations
            .iter()
            .filter_map(|o| data.signatures.get(&o.signature).copied())
            .chain(
                pattern_ids
                    .iter()
                    .copied()
                    .filter(|id| data.patterns.contains_key(id)),
            )
            .collect();
        fed.sort_unstable();
        fed.dedup();
        for id in fed {
            let Some(pattern) = data.patterns.get_mut(&id) else {
                continue;
            };
            merge::forget_in_pattern(pattern, learned, episode_id, &baselines, at, half_life);
            if pattern.stats.episodes == 0 {
                let signature = pattern.signature.clone();
                data.patterns.remove(&id);
                data.signatures.remove(&signature);
            }
        }
    }

    /// Credits every applied pattern of `namespace` with one application of `feedback`
    /// (`helped` on success, `hindered` on failure) — or, with `take_back`, removes that
    /// credit again; patterns deleted since are skipped, an id listed twice counts once.
    pub(super) fn apply_feedback(&mut self, namespace: &str, feedback: &Feedback, take_back: bool) {
        let Some(data) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let mut seen = HashSet::with_capacity(feedback.applied.len());
        for id in feedback.applied.iter().filter(|id| seen.insert(**id)) {
            let Some(pattern) = data.patterns.get_mut(id) else {
                continue;
            };
            let count = |n: u32| {
                if take_back {
                    n.saturating_sub(1)
                } else {
                    n.saturating_add(1)
                }
            };
            let e = &mut pattern.effectiveness;
            e.applied = count(e.applied);
            match feedback.outcome {
                OutcomeKind::Success => e.helped = count(e.helped),
                OutcomeKind::Failure => e.hindered = count(e.hindered),
                OutcomeKind::PartialSuccess | OutcomeKind::Abstained => {}
            }
        }
    }
}

/// The stored baselines of every context `learned` touches (those the episode counts in,
/// and its observations' scopes), by scope key.
fn baselines_of(data: &NamespaceData, learned: &Mined) -> HashMap<String, OutcomeStats> {
    learned
        .contexts
        .iter()
        .chain(learned.observations.iter().map(|o| &o.scope))
        .filter_map(|scope| {
            let key = scope.key();
            let stats = data.context_stats.get(&key)?.clone();
            Some((key, stats))
        })
        .collect()
}
