//! The ranking core: how relevant each candidate episode is to a query, and why.
//!
//! Score = `w_text·text + w_context·context + w_reward·reward + w_recency·recency`, each signal
//! in `[0, 1]`:
//! - `text`: relevance to the query text, in `[0, 1]` (0 for context-only candidates). In
//!   text mode its BM25 score over the best candidate's; in vector mode its cosine
//!   similarity over the best one's; in hybrid mode the weighted mean
//!   `(a·t + w·v) / (a + w)` of `t = bm25/best` and `v`, the cosine rescaled between the
//!   weakest vector candidate (0) and the best (1). The vector weight `w` is how far this
//!   embedder's vectors are trusted beside full-text search ([`Fusion`]) times how far this
//!   query's vector list stands out ([`vector_trust`]): when the best cosine is barely above
//!   the tenth best, the vectors cannot tell the candidates apart (their text is not where
//!   the answer is), and they are let count for little. The text weight `a` is 1 when some
//!   candidate holds most of the query's weight, and falls to the embedder's floor
//!   ([`Fusion::text_trust_floor`]) as the best match holds less ([`text_trust`]): a query
//!   worded unlike every episode is then ranked mostly by a trained model's sense of
//!   meaning. Scores, not ranks, are fused: a near-random vector list moves a strong text
//!   match by little, where rank fusion gave both lists an equal vote. Measured on the two
//!   sets of `memory bench retrieval` (weights chosen on the topic set, checked on the
//!   step-level set; figures in BENCHMARKS.md);
//! - `context`: weighted share of the query's context fields the episode matches (domain,
//!   language, framework, task type, tags) — a boost, never a filter; 0 when the query gives
//!   no context;
//! - `reward`: the episode's reward;
//! - `recency`: `0.5^(age / half-life)`, age measured from when the episode ended.

use super::{RetrievalMode, RetrievalQuery};
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
    /// Hybrid mode: weight of a trained model's vector relevance beside the text relevance
    /// (which weighs 1).
    pub vector_weight_semantic: f64,
    /// Hybrid mode: the same for vectors that hash the words (the default embedder), which
    /// add little that full-text search does not already see.
    pub vector_weight_lexical: f64,
    /// Hybrid mode with a trained model: the least trust full-text relevance keeps when its
    /// best match holds little of the query's weight (see [`text_trust`]); 1 trusts it
    /// always. A query worded unlike the stored episodes is then ranked mostly by meaning.
    pub text_trust_floor_semantic: f64,
    /// The same beside vectors that hash the words: they see nothing text does not, so a
    /// weak text match is no reason to trust them more.
    pub text_trust_floor_lexical: f64,
}

impl RankingConfig {
    /// The fusion of a retrieval whose vectors come from an embedder that is (or is not)
    /// semantic.
    pub fn fusion(&self, semantic: bool) -> Fusion {
        let (weight, floor) = if semantic {
            (self.vector_weight_semantic, self.text_trust_floor_semantic)
        } else {
            (self.vector_weight_lexical, self.text_trust_floor_lexical)
        };
        Fusion {
            vector_weight: weight.max(0.0),
            text_trust_floor: floor.clamp(0.0, 1.0),
        }
    }
}

/// How hybrid mode combines the two lists for one retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    /// Weight of the vector relevance beside the text relevance (which weighs 1).
    pub vector_weight: f64,
    /// The least weight text relevance keeps, in `[0, 1]`, when no candidate holds much of
    /// the query's weight (see [`text_trust`]); 1 keeps it at 1 always.
    pub text_trust_floor: f64,
}

impl Default for Fusion {
    /// Text alone.
    fn default() -> Self {
        Fusion {
            vector_weight: 0.0,
            text_trust_floor: 1.0,
        }
    }
}

impl Default for RankingConfig {
    fn default() -> Self {
        RankingConfig {
            w_text: 0.5,
            w_context: 0.2,
            w_reward: 0.15,
            w_recency: 0.15,
            recency_half_life_days: 30.0,
            vector_weight_semantic: 0.2,
            vector_weight_lexical: 0.05,
            text_trust_floor_semantic: 0.1,
            text_trust_floor_lexical: 1.0,
        }
    }
}

/// An episode that might be relevant, as found by the storage backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The episode.
    pub summary: EpisodeSummary,
    /// Its BM25 relevance (bigger is better), if full-text search found it.
    pub bm25: Option<f64>,
    /// Share of the query's weight it holds (see `TextMatch::coverage`), if full-text search
    /// found it.
    pub coverage: Option<f64>,
    /// Its rank (1-based) in the full-text results.
    pub lexical_rank: Option<usize>,
    /// Its cosine similarity to the query vector, if vector search found it.
    pub similarity: Option<f64>,
    /// Its rank (1-based) in the vector results.
    pub semantic_rank: Option<usize>,
    /// Which of its vectors matched best, if vector search found it (see
    /// `VectorMatch::chunk`).
    pub chunk: Option<u32>,
}

impl Candidate {
    /// A candidate found by context alone.
    pub fn by_context(summary: EpisodeSummary) -> Self {
        Candidate {
            summary,
            bm25: None,
            coverage: None,
            lexical_rank: None,
            similarity: None,
            semantic_rank: None,
            chunk: None,
        }
    }

    /// Whether the query text found it (by either search).
    pub fn matched_text(&self) -> bool {
        self.lexical_rank.is_some() || self.semantic_rank.is_some()
    }

    /// Its relevance to the query text in `mode`, in `[0, 1]`, given the best scores among
    /// the candidates.
    fn relevance(&self, mode: RetrievalMode, best: &Best, fusion: Fusion) -> f64 {
        let text = ratio(self.bm25.unwrap_or(0.0), best.bm25);
        match mode {
            RetrievalMode::Text => text,
            RetrievalMode::Vector => ratio(self.similarity.unwrap_or(0.0), best.similarity),
            RetrievalMode::Hybrid => {
                let vector = match self.similarity {
                    Some(s) if best.similarity > best.floor => {
                        ((s - best.floor) / (best.similarity - best.floor)).clamp(0.0, 1.0)
                    }
                    Some(_) => 1.0,
                    None => 0.0,
                };
                let w = fusion.vector_weight * best.trust;
                let tt =
                    fusion.text_trust_floor + (1.0 - fusion.text_trust_floor) * best.text_trust;
                (tt * text + w * vector) / (tt + w).max(f64::MIN_POSITIVE)
            }
        }
    }
}

/// The best text and vector scores among a retrieval's candidates, and how far the vector
/// list can be trusted for this query.
struct Best {
    bm25: f64,
    similarity: f64,
    /// The weakest vector candidate's cosine (0 with fewer than two).
    floor: f64,
    /// See [`vector_trust`].
    trust: f64,
    /// See [`text_trust`].
    text_trust: f64,
}

impl Best {
    fn of(candidates: &[Candidate]) -> Best {
        let max = |f: fn(&Candidate) -> Option<f64>| {
            candidates.iter().filter_map(f).fold(0.0_f64, f64::max)
        };
        let sims: Vec<f64> = candidates.iter().filter_map(|c| c.similarity).collect();
        let floor = if sims.len() >= 2 {
            sims.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            0.0
        };
        Best {
            bm25: max(|c| c.bm25),
            similarity: max(|c| c.similarity),
            floor,
            trust: vector_trust(candidates),
            text_trust: text_trust(candidates),
        }
    }
}

/// Shares of the query's weight held by the best full-text match at which text relevance
/// starts to count fully and below which it counts least (see [`text_trust`]).
const WEAK_COVERAGE: f64 = 0.25;
const STRONG_COVERAGE: f64 = 0.75;

/// How far full-text relevance can be trusted for this query, in `[0, 1]`: the largest share
/// of the query's weight that a candidate holds (`TextMatch::coverage`), placed between
/// [`WEAK_COVERAGE`] (0) and [`STRONG_COVERAGE`] (1). A query worded unlike every stored
/// episode has only weak text matches, and its BM25 order says little.
pub fn text_trust(candidates: &[Candidate]) -> f64 {
    let best = candidates
        .iter()
        .filter_map(|c| c.coverage)
        .fold(0.0_f64, f64::max);
    ((best - WEAK_COVERAGE) / (STRONG_COVERAGE - WEAK_COVERAGE)).clamp(0.0, 1.0)
}

/// Relative gaps between the best and the tenth-best cosine at which a vector list starts
/// to count and counts fully (see [`vector_trust`]). Measured on the evaluation sets
/// (`memory bench retrieval`), with the hashing embedder and all-MiniLM-L6-v2 alike: where
/// the answer is in what the vectors see (task and outcome) the gap's quartiles are about
/// 0.10 / 0.14 / 0.19; where it is in one step of a long episode, 0.00 / 0.02 / 0.11.
const UNTRUSTED_GAP: f64 = 0.05;
const TRUSTED_GAP: f64 = 0.15;

/// How far this query's vector candidates stand out from each other, in `[0, 1]`: the gap
/// between the best cosine and the tenth best, relative to the best, placed between
/// [`UNTRUSTED_GAP`] (0) and [`TRUSTED_GAP`] (1). 0 without vector candidates; 1 with fewer
/// than ten (nothing to compare: the embedder's own weight decides).
pub fn vector_trust(candidates: &[Candidate]) -> f64 {
    let mut sims: Vec<f64> = candidates.iter().filter_map(|c| c.similarity).collect();
    if sims.is_empty() {
        return 0.0;
    }
    if sims.len() < 10 {
        return 1.0;
    }
    sims.sort_by(|a, b| b.total_cmp(a));
    let (best, tenth) = (sims[0], sims[9]);
    if best <= 0.0 {
        return 0.0;
    }
    (((best - tenth) / best - UNTRUSTED_GAP) / (TRUSTED_GAP - UNTRUSTED_GAP)).clamp(0.0, 1.0)
}

/// `x / best` in `[0, 1]` (0 when there is no best).
fn ratio(x: f64, best: f64) -> f64 {
    if best > 0.0 {
        (x / best).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// The parts of a hit's score, each in `[0, 1]` before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// Relevance to the query text relative to the best candidate (see the module docs).
    pub text: f64,
    /// Rank in the full-text (BM25) results, if found there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical_rank: Option<usize>,
    /// Rank in the vector results, if found there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_rank: Option<usize>,
    /// Cosine similarity to the query vector, if found by vector search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Which of its vectors matched best, if found by vector search: 0 for its task and
    /// outcome, `n` for its `n`th chunk of steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// Share of the query's weight its text holds, if found by full-text search (an absolute
    /// similarity; see `TextMatch::coverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// Context match.
    pub context: f64,
    /// The episode's reward.
    pub reward: f64,
    /// Recency.
    pub recency: f64,
    /// The bounded boost for being related to a strong hit (0 when not related; see
    /// `SelfLearningMemory::retrieve_context`). Already included in `total`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relation: f64,
    /// The weighted sum, plus `relation`.
    pub total: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
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

/// Scores `candidates` for `query` at time `now`, best first; `fusion` says how hybrid mode
/// weighs the vectors.
pub fn rank(
    query: &RetrievalQuery,
    candidates: Vec<Candidate>,
    now: DateTime<Utc>,
    cfg: &RankingConfig,
    fusion: Fusion,
) -> Vec<Scored> {
    let best = Best::of(&candidates);
    let terms = super::query_terms(&query.text);
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .map(|c| {
            let text = c.relevance(query.mode, &best, fusion);
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
                    lexical_rank: c.lexical_rank,
                    semantic_rank: c.semantic_rank,
                    similarity: c.similarity,
                    chunk: c.chunk,
                    coverage: c.coverage,
                    context,
                    reward,
                    recency,
                    relation: 0.0,
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
    match (c.lexical_rank.is_some(), shared.is_empty(), c.similarity) {
        (true, false, _) => parts.push(format!("task shares {}", shared.join(", "))),
        (true, true, _) => parts.push("matches the query in its steps or outcome".to_string()),
        (false, _, Some(sim)) => parts.push(match c.chunk {
            Some(n) if n > 0 => format!("a step is similar in meaning (cosine {sim:.2})"),
            _ => format!("similar in meaning (cosine {sim:.2})"),
        }),
        (false, _, None) => parts.push("no shared words; chosen for its context".to_string()),
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

    fn text_hit(summary: EpisodeSummary, bm25: f64, rank: usize) -> Candidate {
        Candidate {
            bm25: Some(bm25),
            lexical_rank: Some(rank),
            ..Candidate::by_context(summary)
        }
    }

    #[test]
    fn text_relevance_dominates_then_soft_signals_break_ties() {
        let now = Utc::now();
        let q = RetrievalQuery {
            mode: RetrievalMode::Text,
            ..RetrievalQuery::new("ns", "fix flaky timeout")
        };
        let strong = text_hit(
            summary("fix flaky timeout in ci", "ci", 0.5, 60, now),
            9.0,
            1,
        );
        let weak = text_hit(summary("update readme", "docs", 1.0, 0, now), 1.0, 1);
        let ranked = rank(
            &q,
            vec![weak, strong],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
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

        let a = text_hit(summary("same text", "ci", 0.2, 90, now), 5.0, 1);
        let b = text_hit(summary("same text", "ci", 0.9, 1, now), 5.0, 1);
        let ranked = rank(
            &q,
            vec![a, b],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert_eq!(ranked[0].summary.reward, Some(0.9));
    }

    #[test]
    fn context_is_a_boost_not_a_filter() {
        let now = Utc::now();
        let mut q = RetrievalQuery::new("ns", "deploy service");
        q.context.domain = Some("infra".into());
        let same = text_hit(summary("deploy service", "infra", 0.5, 5, now), 3.0, 1);
        let other = text_hit(summary("deploy service", "web", 0.5, 5, now), 3.0, 1);
        let ranked = rank(
            &q,
            vec![other, same],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
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
        let c = Candidate::by_context(summary("x", "d", 0.0, 30, now));
        let ranked = rank(
            &q,
            vec![c],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert!((ranked[0].breakdown.recency - 0.5).abs() < 1e-9);
        assert!(ranked[0].reason.contains("chosen for its context"));
    }

    #[test]
    fn hybrid_fuses_scores_and_vector_mode_uses_similarity() {
        let now = Utc::now();
        let mut q = RetrievalQuery::new("ns", "login token expired");
        // Found by both searches at rank 2 beats found by one at rank 1.
        let both = Candidate {
            bm25: Some(2.0),
            lexical_rank: Some(2),
            similarity: Some(0.7),
            semantic_rank: Some(2),
            ..Candidate::by_context(summary("session expiry bug", "web", 0.5, 1, now))
        };
        let text_only = text_hit(summary("login token expired", "web", 0.5, 1, now), 9.0, 1);
        let ranked = rank(
            &q,
            vec![text_only.clone(), both.clone()],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert_eq!(ranked[0].summary.task_description, "session expiry bug");
        assert_eq!(ranked[0].breakdown.semantic_rank, Some(2));

        q.mode = RetrievalMode::Text;
        let ranked = rank(
            &q,
            vec![text_only.clone(), both.clone()],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert_eq!(ranked[0].summary.task_description, "login token expired");

        q.mode = RetrievalMode::Vector;
        let semantic = Candidate {
            similarity: Some(0.8),
            semantic_rank: Some(1),
            ..Candidate::by_context(summary("auth cookie lifetime", "web", 0.5, 1, now))
        };
        let ranked = rank(
            &q,
            vec![semantic],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert!(
            ranked[0]
                .reason
                .contains("similar in meaning (cosine 0.80)"),
            "{}",
            ranked[0].reason
        );
        // Found by one of its steps: said so, and kept in the breakdown.
        let by_step = Candidate {
            chunk: Some(2),
            ..vector_hit(summary("nightly job", "web", 0.5, 1, now), 0.6, 1)
        };
        let ranked = rank(
            &q,
            vec![by_step],
            now,
            &RankingConfig::default(),
            Fusion {
                vector_weight: 1.0,
                ..Fusion::default()
            },
        );
        assert!(
            ranked[0]
                .reason
                .contains("a step is similar in meaning (cosine 0.60)"),
            "{}",
            ranked[0].reason
        );
        assert_eq!(ranked[0].breakdown.chunk, Some(2));
    }

    fn vector_hit(summary: EpisodeSummary, cosine: f64, rank: usize) -> Candidate {
        Candidate {
            similarity: Some(cosine),
            semantic_rank: Some(rank),
            ..Candidate::by_context(summary)
        }
    }

    #[test]
    fn a_weak_text_match_lets_a_trained_models_vectors_decide() {
        let now = Utc::now();
        let q = RetrievalQuery::new("ns", "login token expired");
        // The best text match holds little of the query; the vectors prefer another.
        let words = Candidate {
            coverage: Some(0.2),
            similarity: Some(0.7),
            semantic_rank: Some(2),
            ..text_hit(summary("token bucket sizing", "web", 0.5, 1, now), 9.0, 1)
        };
        let meaning = Candidate {
            coverage: Some(0.1),
            ..Candidate {
                bm25: Some(1.0),
                lexical_rank: Some(2),
                ..vector_hit(summary("session expiry bug", "web", 0.5, 1, now), 0.9, 1)
            }
        };
        let others: Vec<Candidate> = (0..10)
            .map(|i| vector_hit(summary("other", "web", 0.5, 1, now), 0.3, i + 2))
            .collect();
        let list = [vec![words.clone(), meaning.clone()], others.clone()].concat();
        assert_eq!(text_trust(&list), 0.0);
        let top = |fusion: Fusion| {
            rank(&q, list.clone(), now, &RankingConfig::default(), fusion)[0]
                .summary
                .task_description
                .clone()
        };
        let cfg = RankingConfig::default();
        let heavy = Fusion {
            vector_weight: 1.0,
            ..cfg.fusion(true)
        };
        assert_eq!(top(heavy), "session expiry bug");
        // Beside hashed words the floor is 1: the text match keeps its weight.
        assert_eq!(top(cfg.fusion(false)), "token bucket sizing");
        // A strong text match is trusted fully, whatever the floor.
        let strong = Candidate {
            coverage: Some(0.9),
            ..words
        };
        let list = [vec![strong, meaning], others].concat();
        assert_eq!(text_trust(&list), 1.0);
        let ranked = rank(&q, list, now, &cfg, heavy);
        assert_eq!(ranked[0].summary.task_description, "token bucket sizing");
    }

    #[test]
    fn vector_trust_follows_how_far_the_best_stands_out() {
        let now = Utc::now();
        let list = |cosines: &[f64]| -> Vec<Candidate> {
            cosines
                .iter()
                .enumerate()
                .map(|(i, c)| vector_hit(summary("t", "web", 0.5, 1, now), *c, i + 1))
                .collect()
        };
        assert_eq!(vector_trust(&[]), 0.0);
        assert_eq!(vector_trust(&list(&[0.9, 0.2])), 1.0, "too few to compare");
        let flat: Vec<f64> = (0..20).map(|i| 0.40 - 0.0005 * i as f64).collect();
        let peaked: Vec<f64> = (0..20)
            .map(|i| if i == 0 { 0.8 } else { 0.5 - 0.001 * i as f64 })
            .collect();
        assert!(vector_trust(&list(&flat)) < 0.1);
        assert_eq!(vector_trust(&list(&peaked)), 1.0);
    }

    #[test]
    fn a_flat_vector_list_cannot_outvote_a_strong_text_match() {
        let now = Utc::now();
        let q = RetrievalQuery::new("ns", "circuit breaker tripped");
        // The text match is not among the vector candidates; twenty vector candidates are
        // all about as close as each other (the vectors do not see where the answer is).
        let answer = text_hit(
            summary("sweep of the search team", "ops", 0.5, 1, now),
            9.0,
            1,
        );
        let mut candidates = vec![answer.clone()];
        for i in 0..20 {
            let mut c = vector_hit(
                summary("sweep of the billing team", "ops", 0.5, 1, now),
                0.40 - 0.0005 * i as f64,
                i + 1,
            );
            c.bm25 = Some(2.0);
            c.lexical_rank = Some(i + 2);
            candidates.push(c);
        }
        let cfg = RankingConfig::default();
        let heavy = Fusion {
            vector_weight: 50.0,
            ..Fusion::default()
        };
        for fusion in [cfg.fusion(true), heavy] {
            let ranked = rank(&q, candidates.clone(), now, &cfg, fusion);
            assert_eq!(ranked[0].summary.id, answer.summary.id, "{fusion:?}");
        }
        // The same list with one candidate standing out is trusted: then a heavy vector
        // weight does move it above the text match.
        candidates[1].similarity = Some(0.8);
        let ranked = rank(&q, candidates, now, &cfg, heavy);
        assert_ne!(ranked[0].summary.id, answer.summary.id);
    }
}
