//! The reads of an export: [`Snapshot`] copies what an [`ExportFilter`] covers when it is
//! opened (episodes are shared, not copied), so every page comes from that moment whatever
//! is written meanwhile, and pages it in the libSQL store's export order.

use super::state::{State, micros};
use crate::ContextStatsRecord;
use crate::{
    Checkpoint, Episode, ExportFilter, ExportSnapshot, Pattern, Relationship, Result,
    RetrievalSession,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

/// One export's view of a namespace, each kind of record in export order.
pub(super) struct Snapshot {
    context_stats: Vec<ContextStatsRecord>,
    /// By id.
    patterns: Vec<Pattern>,
    /// By `(started_at µs, id)`.
    episodes: Vec<Arc<Episode>>,
    /// By `(at µs, id)`.
    checkpoints: Vec<Checkpoint>,
    /// By `(created_at µs, id)`.
    relationships: Vec<Relationship>,
    /// By id.
    sessions: Vec<RetrievalSession>,
}

impl State {
    /// The body of `export_snapshot`.
    pub(super) fn export_snapshot(&self, filter: &ExportFilter) -> Snapshot {
        let (after, before) = (
            filter.started_after.map(micros),
            filter.started_before.map(micros),
        );
        let in_range = |at: DateTime<Utc>| {
            let at = micros(at);
            after.is_none_or(|a| at >= a) && before.is_none_or(|b| at < b)
        };
        let Some(data) = self.namespace(&filter.namespace) else {
            return Snapshot {
                context_stats: Vec::new(),
                patterns: Vec::new(),
                episodes: Vec::new(),
                checkpoints: Vec::new(),
                relationships: Vec::new(),
                sessions: Vec::new(),
            };
        };
        let context_stats = data
            .context_stats
            .iter()
            .map(|(key, stats)| ContextStatsRecord {
                namespace: filter.namespace.clone(),
                scope_key: key.clone(),
                stats: stats.clone(),
            })
            .collect();
        let mut patterns: Vec<Pattern> = data.patterns.values().cloned().collect();
        patterns.sort_by_key(|p| p.id);
        let episodes: Vec<Arc<Episode>> = data
            .listing
            .iter()
            .filter_map(|(_, id)| self.episodes.get(id))
            .map(|s| Arc::clone(&s.episode))
            .filter(|e| in_range(e.started_at))
            .collect();
        let exported: HashSet<Uuid> = episodes.iter().map(|e| e.id).collect();
        let mut checkpoints: Vec<Checkpoint> = data
            .checkpoints
            .iter()
            .filter(|c| exported.contains(&c.episode_id))
            .cloned()
            .collect();
        checkpoints.sort_by_key(|c| (micros(c.at), c.id));
        let mut relationships: Vec<Relationship> = data
            .relationships
            .iter()
            .filter(|r| exported.contains(&r.from) && exported.contains(&r.to))
            .cloned()
            .collect();
        relationships.sort_by_key(|r| (micros(r.created_at), r.id));
        let sessions = data
            .sessions
            .values()
            .filter(|s| in_range(s.created_at))
            .cloned()
            .collect();
        Snapshot {
            context_stats,
            patterns,
            episodes,
            checkpoints,
            relationships,
            sessions,
        }
    }
}

/// Up to `limit` records of `sorted` after the one whose key is `after` (`key` gives
/// each record's place in the order).
fn page<T: Clone, K: Ord>(
    sorted: &[T],
    after: Option<K>,
    limit: usize,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let start = match after {
        Some(after) => sorted.partition_point(|r| key(r) <= after),
        None => 0,
    };
    sorted.iter().skip(start).take(limit).cloned().collect()
}

#[async_trait]
impl ExportSnapshot for Snapshot {
    async fn context_stats(
        &mut self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<ContextStatsRecord>> {
        Ok(page(&self.context_stats, after, limit, |s| {
            s.scope_key.clone()
        }))
    }

    async fn newest_pattern(&mut self) -> Result<Option<Pattern>> {
        Ok(self
            .patterns
            .iter()
            .min_by_key(|p| (std::cmp::Reverse(micros(p.last_seen)), p.id))
            .cloned())
    }

    async fn patterns(&mut self, after: Option<Uuid>, limit: usize) -> Result<Vec<Pattern>> {
        Ok(page(&self.patterns, after, limit, |p| p.id))
    }

    async fn episodes(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        let after = after.map(|(at, id)| (micros(at), id));
        Ok(page(&self.episodes, after, limit, |e| {
            (micros(e.started_at), e.id)
        })
        .into_iter()
        .map(Arc::unwrap_or_clone)
        .collect())
    }

    async fn checkpoints(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Checkpoint>> {
        let after = after.map(|(at, id)| (micros(at), id));
        Ok(page(&self.checkpoints, after, limit, |c| {
            (micros(c.at), c.id)
        }))
    }

    async fn relationships(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Relationship>> {
        let after = after.map(|(at, id)| (micros(at), id));
        Ok(page(&self.relationships, after, limit, |r| {
            (micros(r.created_at), r.id)
        }))
    }

    async fn sessions(
        &mut self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<RetrievalSession>> {
        Ok(page(&self.sessions, after, limit, |s| s.id))
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
