//! Dropping what has outlived its use, as the libSQL store's `garbage` module judges it:
//! sessions past their namespace's retention, patterns whose decayed support fell below
//! the plan's minimum, and cached embeddings of other embedders than the vector space's
//! and past the cache's bound. A dry run counts the same and changes nothing.

use super::sessions::{beyond_newest, max_age};
use super::state::{State, micros};
use crate::{GarbageCounts, GarbagePlan};
use chrono::TimeDelta;
use uuid::Uuid;

impl State {
    /// The body of `collect_garbage`.
    pub(super) fn collect_garbage(&mut self, plan: &GarbagePlan) -> GarbageCounts {
        GarbageCounts {
            sessions: self.expired_sessions(plan),
            patterns: self.weak_patterns(plan),
            cached_embeddings: self.surplus_embeddings(plan),
        }
    }

    /// Sessions older than the retention's age, or past the newest `max_per_namespace` of
    /// their namespace.
    fn expired_sessions(&mut self, plan: &GarbagePlan) -> u64 {
        let cutoff = micros(
            plan.now
                .checked_sub_signed(max_age(&plan.sessions))
                .unwrap_or(plan.now),
        );
        let mut dropped = 0;
        for data in self.namespaces.values_mut() {
            let mut expired: Vec<Uuid> =
                beyond_newest(data.sessions.values(), plan.sessions.max_per_namespace);
            expired.extend(
                data.sessions
                    .values()
                    .filter(|s| micros(s.created_at) < cutoff)
                    .map(|s| s.id),
            );
            expired.sort_unstable();
            expired.dedup();
            dropped += expired.len() as u64;
            if !plan.dry_run {
                for id in expired {
                    data.sessions.remove(&id);
                }
            }
        }
        dropped
    }

    /// Patterns whose support, decayed to `plan.now`, is below `plan.min_pattern_support`
    /// (only one last seen long enough ago can be that weak).
    fn weak_patterns(&mut self, plan: &GarbagePlan) -> u64 {
        // NaN or 0 or less keeps every pattern.
        if plan.min_pattern_support.is_nan() || plan.min_pattern_support <= 0.0 {
            return 0;
        }
        let half_life = plan.half_life_days.max(0.0);
        let days = half_life * (1.0 / plan.min_pattern_support).log2().max(0.0);
        let ms = (days * 86_400_000.0).min(i64::MAX as f64 / 2.0) as i64;
        let age = TimeDelta::try_milliseconds(ms).unwrap_or(TimeDelta::MAX);
        let seen_before = micros(plan.now.checked_sub_signed(age).unwrap_or(plan.now));
        let mut dropped = 0;
        for data in self.namespaces.values_mut() {
            let weak: Vec<(Uuid, String)> = data
                .patterns
                .values()
                .filter(|p| micros(p.last_seen) <= seen_before)
                .filter(|p| p.stats.at(plan.now, half_life).support < plan.min_pattern_support)
                .map(|p| (p.id, p.signature.clone()))
                .collect();
            dropped += weak.len() as u64;
            if !plan.dry_run {
                for (id, signature) in weak {
                    data.patterns.remove(&id);
                    data.signatures.remove(&signature);
                }
            }
        }
        dropped
    }

    /// Cached vectors of embedders other than the vector space's (none without a space),
    /// then the surplus over `plan.max_cached_embeddings`: those with the greatest content
    /// hashes.
    fn surplus_embeddings(&mut self, plan: &GarbagePlan) -> u64 {
        let space = self.vector_space.as_ref().map(|s| s.embedder.clone());
        let others: Vec<(String, String)> = self
            .embedding_cache
            .keys()
            .filter(|(embedder, _)| space.as_ref().is_some_and(|s| s != embedder))
            .cloned()
            .collect();
        let kept = self.embedding_cache.len() - others.len();
        let limit = usize::try_from(plan.max_cached_embeddings).unwrap_or(usize::MAX);
        let surplus = kept.saturating_sub(limit);
        if plan.dry_run {
            return (others.len() + surplus) as u64;
        }
        for key in &others {
            self.embedding_cache.remove(key);
        }
        let mut by_hash: Vec<(String, String)> = self.embedding_cache.keys().cloned().collect();
        by_hash.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        for key in by_hash.into_iter().skip(limit) {
            self.embedding_cache.remove(&key);
        }
        (others.len() + surplus) as u64
    }
}
