//! The task's neighbourhood: which of a retrieval's candidates are similar enough to the new
//! task for their outcomes to be advice about it.
//!
//! Retrieval ranks candidates relative to each other (the best BM25 score, the best fused
//! rank), so its top hit is "most similar" even when nothing is similar at all. Advice needs an
//! absolute measure: a candidate's similarity is the larger of the share of the query's
//! weight its text holds (`TextMatch::coverage`) and its vector similarity rescaled from
//! `vector_floor` to 1. Episodes found only by context have no similarity and are never
//! neighbours: a shared context says little about the task.

use super::advice::NeighbourhoodConfig;
use super::rank::Candidate;
use uuid::Uuid;

/// How similar a candidate is to the task, in `[0, 1]`.
pub fn similarity(candidate: &Candidate, cfg: &NeighbourhoodConfig) -> f64 {
    let lexical = candidate.coverage.unwrap_or(0.0).clamp(0.0, 1.0);
    let floor = cfg.vector_floor.clamp(0.0, 0.99);
    let semantic = candidate
        .similarity
        .map_or(0.0, |s| ((s - floor) / (1.0 - floor)).clamp(0.0, 1.0));
    lexical.max(semantic)
}

/// The neighbourhood among `candidates`: the completed episodes at least
/// `cfg.min_similarity` similar to the task, newest first, at most `cfg.size`, as (id,
/// similarity).
pub fn select(candidates: &[Candidate], cfg: &NeighbourhoodConfig) -> Vec<(Uuid, f64)> {
    let mut near: Vec<(&Candidate, f64)> = candidates
        .iter()
        .filter(|c| c.summary.ended_at.is_some())
        .map(|c| (c, similarity(c, cfg)))
        .filter(|(_, s)| *s >= cfg.min_similarity && *s > 0.0)
        .collect();
    near.sort_by(|a, b| {
        b.0.summary
            .ended_at
            .cmp(&a.0.summary.ended_at)
            .then_with(|| b.0.summary.id.cmp(&a.0.summary.id))
    });
    near.into_iter()
        .take(cfg.size)
        .map(|(c, s)| (c.summary.id, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EpisodeSummary, TaskContext, TaskType};
    use chrono::{Duration, Utc};

    fn candidate(minutes: i64, coverage: Option<f64>, cosine: Option<f64>) -> Candidate {
        let at = Utc::now() + Duration::minutes(minutes);
        Candidate {
            coverage,
            bm25: coverage,
            similarity: cosine,
            ..Candidate::by_context(EpisodeSummary {
                id: Uuid::now_v7(),
                namespace: "ns".into(),
                task_description: "t".into(),
                task_type: TaskType::Other,
                context: TaskContext::default(),
                started_at: at,
                ended_at: Some(at),
                step_count: 1,
                outcome_kind: None,
                reward: None,
                tags: vec![],
            })
        }
    }

    #[test]
    fn only_similar_enough_completed_episodes_newest_first() {
        let cfg = NeighbourhoodConfig::default();
        let old = candidate(0, Some(0.9), None);
        let new = candidate(5, None, Some(0.9));
        let far = candidate(9, Some(0.3), Some(0.6));
        let context_only = candidate(10, None, None);
        let mut running = candidate(11, Some(1.0), None);
        running.summary.ended_at = None;
        let got = select(
            &[old.clone(), far, new.clone(), context_only, running],
            &cfg,
        );
        let ids: Vec<Uuid> = got.iter().map(|g| g.0).collect();
        assert_eq!(ids, vec![new.summary.id, old.summary.id]);
        assert!(
            (got[0].1 - 0.8).abs() < 1e-9,
            "cosine 0.9 rescaled from 0.5"
        );
        assert!((got[1].1 - 0.9).abs() < 1e-9);
    }
}
