//! The ranking core: how relevant each candidate episode is to a query, and why.
//!
//! Score = `w_text·text + w_context·context + w_reward·reward + w_recency·recency`, each signal
//! in `[0, 1]`:
//! - `text`: BM25 relevance, divided by the best candidate's (0 for context-only candidates);
//! - `context`: weighted share of the query's context fields the episode matches (domain,
//!   language, framework, task type, tags) — a boost, never a filter; 0 when the query gives
//!   no context;
//! - `reward`: the episode's reward;
//! - `recency`: `0.5^(age / half-life)`, age measured from when the episode ended.

use super::RetrievalQuery;
use crate::model::EpisodeSummary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Weights and constants of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingConfig {
    /// Weight of full-text relevance.
    pub w_text: f64,
    /// Weight of context match.
    pub w_context: f64,
    /// Weight of the episode's reward.
    pub w_reward: f64,
    /// Weight of recency.
    pub w_recency: f64,
    /// Age at which recency counts half, in days.
    pub recency_half_life_days: f64,
}

impl Default for RankingConfig {
    fn default() -> Self {
        RankingConfig {
            w_text: 0.5,
            w_context: 0.2,
            w_reward: 0.15,
            w_recency: 0.15,
            recency_half_life_days: 30.0,
        }
    }
}

/// An episode that might be relevant, as found by the storage backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The episode.
    pub summary: EpisodeSummary,
    /// Its BM25 relevance (bigger is better), or `None` if it was found by context alone.
    pub bm25: Option<f64>,
}

/// The parts of a hit's score, each in `[0, 1]` before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// Full-text relevance relative to the best candidate.
    pub text: f64,
    /// Context match.
    pub context: f64,
    /// The episode's reward.
    pub reward: f64,
    /// Recency.
    pub recency: f64,
    /// The weighted sum.
    pub total: f64,
}

/// A ranked candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The episode.
    pub summary: EpisodeSummary,
    /// Its score and the parts of it.
    pub breakdown: ScoreBreakdown,
    /// One line saying why it was chosen.
    pub reason: String,
}

/// Scores `candidates` for `query` at time `now`, best first.
pub fn rank(
    query: &RetrievalQuery,
    candidates: Vec<Candidate>,
    now: DateTime<Utc>,
    cfg: &RankingConfig,
) -> Vec<Scored> {
    let best_bm25 = candidates
        .iter()
        .filter_map(|c| c.bm25)
        .fold(0.0_f64, f64::max);
    let terms = super::query_terms(&query.text);
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .map(|c| {
            let text = match c.bm25 {
                Some(b) if best_bm25 > 0.0 => (b / best_bm25).clamp(0.0, 1.0),
                _ => 0.0,
            };
            let (context, matched) = context_match(query, &c.summary);
            let reward = c.summary.reward.unwrap_or(0.0).clamp(0.0, 1.0);
            let when = c.summary.ended_at.unwrap_or(c.summary.started_at);
            let age_days = (now - when).num_seconds().max(0) as f64 / 86_400.0;
            let recency = 0.5_f64.powf(age_days / cfg.recency_half_life_days.max(1e-9));
            let total = cfg.w_text * text
                + cfg.w_context * context
                + cfg.w_reward * reward
                + cfg.w_recency * recency;
            let reason = reason(&terms, &c, &matched, age_days);
            Scored {
                summary: c.summary,
                breakdown: ScoreBreakdown {
                    text,
                    context,
                    reward,
                    recency,
                    total,
                },
                reason,
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.breakdown
            .total
            .total_cmp(&a.breakdown.total)
            .then_with(|| b.summary.ended_at.cmp(&a.summary.ended_at))
            .then_with(|| b.summary.id.cmp(&a.summary.id))
    });
    scored
}

/// The context-match signal and the names of the fields that matched.
fn context_match(query: &RetrievalQuery, ep: &EpisodeSummary) -> (f64, Vec<String>) {
    let q = &query.context;
    let mut weight = 0.0;
    let mut got = 0.0;
    let mut matched = Vec::new();
    let mut field = |name: &str, w: f64, wanted: Option<&str>, have: Option<&str>| {
        if let Some(wanted) = wanted {
            weight += w;
            if have.is_some_and(|h| h.eq_ignore_ascii_case(wanted)) {
                got += w;
                matched.push(format!("{name} `{wanted}`"));
            }
        }
    };
    field(
        "domain",
        0.35,
        q.domain.as_deref(),
        ep.context.domain.as_deref(),
    );
    field(
        "language",
        0.2,
        q.language.as_deref(),
        ep.context.language.as_deref(),
    );
    field(
        "framework",
        0.15,
        q.framework.as_deref(),
        ep.context.framework.as_deref(),
    );
    field(
        "task type",
        0.15,
        query.task_type.map(|t| t.as_str()),
        Some(ep.task_type.as_str()),
    );
    if !q.tags.is_empty() {
        weight += 0.15;
        let shared: Vec<&String> = q
            .tags
            .iter()
            .filter(|t| {
                ep.context
                    .tags
                    .iter()
                    .chain(&ep.tags)
                    .any(|e| e.eq_ignore_ascii_case(t))
            })
            .collect();
        got += 0.15 * shared.len() as f64 / q.tags.len() as f64;
        if !shared.is_empty() {
            let names: Vec<String> = shared.iter().map(|t| format!("`{t}`")).collect();
            matched.push(format!("tags {}", names.join(", ")));
        }
    }
    let score = if weight > 0.0 { got / weight } else { 0.0 };
    (score, matched)
}

fn reason(terms: &[String], c: &Candidate, matched: &[String], age_days: f64) -> String {
    let mut parts = Vec::new();
    let task = c.summary.task_description.to_lowercase();
    let shared: Vec<String> = terms
        .iter()
        .filter(|t| task.contains(t.as_str()))
        .take(5)
        .map(|t| format!("'{t}'"))
        .collect();
    match (c.bm25.is_some(), shared.is_empty()) {
        (true, false) => parts.push(format!("task shares {}", shared.join(", "))),
        (true, true) => parts.push("matches the query in its steps or outcome".to_string()),
        (false, _) => parts.push("no shared words; chosen for its context".to_string()),
    }
    if !matched.is_empty() {
        parts.push(format!("same {}", matched.join(", ")));
    }
    match (c.summary.outcome_kind, c.summary.reward) {
        (Some(kind), Some(r)) => parts.push(format!("{kind}, reward {r:.2}")),
        (Some(kind), None) => parts.push(kind.to_string()),
        _ => {}
    }
    parts.push(age_phrase(age_days));
    parts.join("; ")
}

fn age_phrase(days: f64) -> String {
    if days < 1.0 / 24.0 {
        "within the hour".to_string()
    } else if days < 1.0 {
        format!("{:.0} h ago", days * 24.0)
    } else {
        format!("{days:.0} d ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OutcomeKind, TaskContext, TaskType};
    use chrono::Duration;
    use uuid::Uuid;

    fn summary(
        task: &str,
        domain: &str,
        reward: f64,
        age_days: i64,
        now: DateTime<Utc>,
    ) -> EpisodeSummary {
        EpisodeSummary {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: task.into(),
            task_type: TaskType::Debugging,
            context: TaskContext {
                domain: Some(domain.into()),
                ..TaskContext::default()
            },
            started_at: now - Duration::days(age_days),
            ended_at: Some(now - Duration::days(age_days)),
            step_count: 3,
            outcome_kind: Some(OutcomeKind::Success),
            reward: Some(reward),
            tags: vec![],
        }
    }

    #[test]
    fn text_relevance_dominates_then_soft_signals_break_ties() {
        let now = Utc::now();
        let q = RetrievalQuery::new("ns", "fix flaky timeout");
        let strong = Candidate {
            summary: summary("fix flaky timeout in ci", "ci", 0.5, 60, now),
            bm25: Some(9.0),
        };
        let weak = Candidate {
            summary: summary("update readme", "docs", 1.0, 0, now),
            bm25: Some(1.0),
        };
        let ranked = rank(&q, vec![weak, strong], now, &RankingConfig::default());
        assert_eq!(
            ranked[0].summary.task_description,
            "fix flaky timeout in ci"
        );
        assert!(
            ranked[0]
                .reason
                .contains("task shares 'fix', 'flaky', 'timeout'"),
            "{}",
            ranked[0].reason
        );
        assert!((ranked[0].breakdown.text - 1.0).abs() < 1e-12);

        let a = Candidate {
            summary: summary("same text", "ci", 0.2, 90, now),
            bm25: Some(5.0),
        };
        let b = Candidate {
            summary: summary("same text", "ci", 0.9, 1, now),
            bm25: Some(5.0),
        };
        let ranked = rank(&q, vec![a, b], now, &RankingConfig::default());
        assert_eq!(ranked[0].summary.reward, Some(0.9));
    }

    #[test]
    fn context_is_a_boost_not_a_filter() {
        let now = Utc::now();
        let mut q = RetrievalQuery::new("ns", "deploy service");
        q.context.domain = Some("infra".into());
        let same = Candidate {
            summary: summary("deploy service", "infra", 0.5, 5, now),
            bm25: Some(3.0),
        };
        let other = Candidate {
            summary: summary("deploy service", "web", 0.5, 5, now),
            bm25: Some(3.0),
        };
        let ranked = rank(&q, vec![other, same], now, &RankingConfig::default());
        assert_eq!(ranked.len(), 2);
        assert_eq!(ranked[0].summary.context.domain.as_deref(), Some("infra"));
        assert_eq!(ranked[0].breakdown.context, 1.0);
        assert_eq!(ranked[1].breakdown.context, 0.0);
        assert!(ranked[0].reason.contains("same domain `infra`"));
    }

    #[test]
    fn recency_halves_at_half_life() {
        let now = Utc::now();
        let q = RetrievalQuery::new("ns", "x");
        let c = Candidate {
            summary: summary("x", "d", 0.0, 30, now),
            bm25: None,
        };
        let ranked = rank(&q, vec![c], now, &RankingConfig::default());
        assert!((ranked[0].breakdown.recency - 0.5).abs() < 1e-9);
        assert!(ranked[0].reason.contains("chosen for its context"));
    }
}
