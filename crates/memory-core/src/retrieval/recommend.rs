//! Recommendations: which learned patterns and heuristics apply to a new task, and the
//! playbook built from them.
//!
//! A pattern's score is `confidence × (0.5 + relevance) × (0.5 + feedback) × √lift`, where
//! confidence is the decayed Wilson lower bound of its success rate, relevance mixes how well
//! its scope fits the query's context with how many query words it mentions, feedback is the
//! smoothed share of applications that helped (0.5 without feedback), and lift is bounded to
//! `[0.5, 2]`. Only patterns with enough support and a good success rate (or a success rate
//! clearly above their context's) are recommended; those that usually fail become pitfalls.

use super::{RetrievalQuery, RetrievedEpisode};
use crate::learning::{LearningConfig, heuristic_for, heuristics};
use crate::model::{Heuristic, HeuristicKind, Pattern, PatternKind, PatternScope, TaskOutcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most patterns recommended in one pack.
const MAX_PATTERNS: usize = 5;
/// Most heuristics in one pack.
const MAX_HEURISTICS: usize = 5;
/// Most pitfalls in one playbook.
const MAX_PITFALLS: usize = 4;

/// A pattern offered for a new task, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendedPattern {
    /// The pattern's id (report it back in feedback when applied).
    pub id: Uuid,
    /// What the pattern is, structured (tools, error class, recovery …).
    pub pattern: PatternKind,
    /// The pattern in a few words.
    pub description: String,
    /// Where it holds.
    pub scope: PatternScope,
    /// Decayed Wilson lower bound of its success rate.
    pub confidence: f64,
    /// Decayed success rate.
    pub success_rate: f64,
    /// Success rate relative to its context's baseline.
    pub lift: f64,
    /// Episodes behind it.
    pub episodes: u64,
    /// How well it fits the query, in `[0, 1]`.
    pub relevance: f64,
    /// Feedback signal in `[0, 1]` (0.5 without feedback).
    pub feedback: f64,
    /// The ranking score.
    pub score: f64,
    /// A concrete example, when the pattern has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

/// An ordered plan built from the best approach learned for this kind of task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// The pattern the steps come from, when they come from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Uuid>,
    /// The similar successful episodes the steps were distilled from, when they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub episodes: Vec<Uuid>,
    /// The steps, in order.
    pub steps: Vec<PlaybookStep>,
    /// What to watch out for: anti-patterns and failures without a known fix.
    pub pitfalls: Vec<String>,
    /// One line on where the plan comes from.
    pub basis: String,
}

/// One step of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookStep {
    /// The tool to use.
    pub tool: String,
    /// What to do if it fails in a known way (from error-recovery patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_it_fails: Option<String>,
    /// The recovery pattern behind `if_it_fails`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_pattern: Option<Uuid>,
    /// The error class that recovery is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// The tools of that recovery, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<String>,
}

/// Everything learned that applies to a query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Recommendations {
    /// The best patterns, best first.
    pub patterns: Vec<RecommendedPattern>,
    /// Rules in words, most confident first (recommendations and warnings).
    pub heuristics: Vec<Heuristic>,
    /// The plan, when a good enough approach is known.
    pub playbook: Option<Playbook>,
}

impl Recommendations {
    /// The ids of every pattern offered (patterns, heuristics, playbook and its recoveries),
    /// without repeats: what feedback may refer to.
    pub fn offered_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = Vec::new();
        let mut push = |id: Uuid| {
            if !ids.contains(&id) {
                ids.push(id);
            }
        };
        self.patterns.iter().for_each(|p| push(p.id));
        self.heuristics.iter().for_each(|h| push(h.pattern_id));
        if let Some(pb) = &self.playbook {
            pb.source.into_iter().for_each(&mut push);
            pb.steps
                .iter()
                .filter_map(|s| s.recovery_pattern)
                .for_each(&mut push);
        }
        ids
    }
}

/// Picks and ranks the patterns among `candidates` that apply to `query`, derives the
/// heuristics and builds the playbook (from the `similar` episodes already retrieved when
/// enough of them succeeded, else from the best approach pattern).
pub fn recommend(
    query: &RetrievalQuery,
    candidates: &[Pattern],
    similar: &[RetrievedEpisode],
    now: DateTime<Utc>,
    cfg: &LearningConfig,
) -> Recommendations {
    let terms = super::query_terms(&query.text);
    let mut ranked: Vec<(RecommendedPattern, &Pattern)> = candidates
        .iter()
        .filter(|p| p.stats.episodes >= cfg.min_support)
        .filter_map(|p| {
            let st = p.stats.at(now, cfg.half_life_days);
            let rate = st.success_rate();
            // Good in absolute terms, or clearly better than usual in its context (an error
            // recovery in a context where most episodes fail is still the thing to do).
            let clearly_better = p.lift >= cfg.recommend_min_lift && rate > cfg.avoid_max_rate;
            if rate < cfg.recommend_min_rate && !clearly_better {
                return None;
            }
            let confidence = st.confidence();
            let relevance = 0.6 * scope_fit(query, &p.scope) + 0.4 * text_fit(&terms, &p.kind);
            let feedback = p.effectiveness.score();
            let score =
                confidence * (0.5 + relevance) * (0.5 + feedback) * p.lift.clamp(0.5, 2.0).sqrt();
            Some((
                RecommendedPattern {
                    id: p.id,
                    pattern: p.kind.clone(),
                    description: p.kind.describe(),
                    scope: p.scope.clone(),
                    confidence,
                    success_rate: rate,
                    lift: p.lift,
                    episodes: p.stats.episodes,
                    relevance,
                    feedback,
                    score,
                    example: p.example.clone(),
                },
                p,
            ))
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then_with(|| b.0.episodes.cmp(&a.0.episodes))
            .then_with(|| a.0.id.cmp(&b.0.id))
    });

    let playbook = build_playbook(query, &ranked, candidates, similar, now, cfg);

    // Heuristics: the well-supported rules among the candidates, ordered by how much they
    // matter here (confidence × relevance), not by confidence alone.
    let mut rules: Vec<(f64, Heuristic)> = heuristics(candidates, now, cfg)
        .into_iter()
        .filter_map(|h| {
            let p = candidates.iter().find(|p| p.id == h.pattern_id)?;
            let relevance = 0.6 * scope_fit(query, &p.scope) + 0.4 * text_fit(&terms, &p.kind);
            Some((
                h.confidence * (0.5 + relevance) * (0.5 + p.effectiveness.score()),
                h,
            ))
        })
        .collect();
    rules.sort_by(|a, b| b.0.total_cmp(&a.0));

    Recommendations {
        patterns: ranked
            .into_iter()
            .take(MAX_PATTERNS)
            .map(|(r, _)| r)
            .collect(),
        heuristics: rules
            .into_iter()
            .take(MAX_HEURISTICS)
            .map(|(_, h)| h)
            .collect(),
        playbook,
    }
}

/// Most similar successful episodes a playbook is distilled from.
const DISTIL_FROM: usize = 3;

/// The playbook. When similar episodes of the same kind (found by text, same context)
/// succeeded, its steps are the tools common to up to three of them with distinct paths, in
/// order (their longest common subsequence): what every known success did, without the
/// detours each took — or the one success's path when there is only one. Otherwise it is the best-ranked
/// tool sequence learned in the query's own context (longer ones preferred). Each step
/// gets its best known recovery; anti-patterns become pitfalls.
fn build_playbook(
    query: &RetrievalQuery,
    ranked: &[(RecommendedPattern, &Pattern)],
    candidates: &[Pattern],
    similar: &[RetrievedEpisode],
    now: DateTime<Utc>,
    cfg: &LearningConfig,
) -> Option<Playbook> {
    // Distinct paths only: the same path repeated is one piece of evidence about which
    // steps matter, not several.
    // And only episodes from the query's own context, when it gives one: a plan distilled
    // across different kinds of task would mix their steps.
    let has_context = !query.context.is_empty() || query.task_type.is_some();
    let mut successes: Vec<&RetrievedEpisode> = Vec::new();
    for h in similar.iter().filter(|h| {
        h.score.text > 0.0
            && (!has_context || h.score.context >= 0.999)
            && matches!(h.outcome, Some(TaskOutcome::Success { .. }))
    }) {
        if successes.len() < DISTIL_FROM && !successes.iter().any(|s| s.tools == h.tools) {
            successes.push(h);
        }
    }
    let distilled = match successes.as_slice() {
        [] => None,
        [only] => Some((
            only.tools.clone(),
            "the steps of the most similar successful episode".to_string(),
        )),
        [first, rest @ ..] => Some((
            rest.iter().fold(first.tools.clone(), |acc, h| {
                common_subsequence(&acc, &h.tools)
            }),
            format!(
                "the steps common to the {} most similar successful episodes",
                successes.len()
            ),
        )),
    }
    .filter(|(tools, _)| tools.len() >= 2);
    let (tools, source, episodes, basis) = match distilled {
        Some((tools, basis)) => (tools, None, successes.iter().map(|h| h.id).collect(), basis),
        None => {
            let (best, pattern) = ranked
                .iter()
                .filter_map(|(r, p)| match &p.kind {
                    // Only sequences learned in this very kind of task: a context approach
                    // (one feature) or a sequence from elsewhere is advice, not a plan.
                    PatternKind::ToolSequence { tools } if scope_fit(query, &p.scope) >= 0.75 => {
                        Some((r, p, tools.len()))
                    }
                    _ => None,
                })
                .max_by(|a, b| {
                    let weigh = |r: &RecommendedPattern, len: usize| {
                        r.score * (1.0 + 0.15 * (len as f64 - 2.0))
                    };
                    weigh(a.0, a.2)
                        .total_cmp(&weigh(b.0, b.2))
                        .then_with(|| b.0.id.cmp(&a.0.id))
                })
                .map(|(r, p, _)| (r, *p))?;
            let PatternKind::ToolSequence { tools } = &pattern.kind else {
                return None;
            };
            let tools = tools.clone();
            let basis = format!(
                "{} in {}: {}/{} episodes succeeded (confidence {:.2})",
                best.pattern.name(),
                best.scope.describe(),
                pattern.stats.successful_episodes,
                pattern.stats.episodes,
                best.confidence
            );
            (tools, Some(best.id), Vec::new(), basis)
        }
    };
    let steps = tools
        .iter()
        .map(|tool| {
            // The best-ranked recovery for this tool, if any.
            let recovery = ranked.iter().find_map(|(r, p)| match &p.kind {
                PatternKind::ErrorRecovery {
                    tool: failing,
                    error_class,
                    recovery,
                } if failing == tool => Some((r.id, error_class, recovery, &p.example)),
                _ => None,
            });
            PlaybookStep {
                tool: tool.clone(),
                if_it_fails: recovery.map(|(_, class, recovery, example)| {
                    let how = recovery
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    match example {
                        Some(e) => format!(
                            "if it fails with \"{class}\": {how} ({})",
                            crate::learning::shorten(e, 120)
                        ),
                        None => format!("if it fails with \"{class}\": {how}"),
                    }
                }),
                recovery_pattern: recovery.map(|(id, ..)| id),
                error_class: recovery.map(|(_, class, ..)| class.clone()),
                recovery: recovery
                    .map(|(_, _, tools, _)| tools.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut pitfalls: Vec<(f64, String)> = candidates
        .iter()
        .filter_map(|p| heuristic_for(p, now, cfg))
        .filter(|h| h.kind == HeuristicKind::Avoid)
        .map(|h| (h.confidence, h.text))
        .collect();
    pitfalls.sort_by(|a, b| b.0.total_cmp(&a.0));
    Some(Playbook {
        source,
        episodes,
        steps,
        pitfalls: pitfalls
            .into_iter()
            .take(MAX_PITFALLS)
            .map(|(_, t)| t)
            .collect(),
        basis,
    })
}

/// The longest common subsequence of two tool paths (ties resolved towards `a`'s order).
fn common_subsequence(a: &[String], b: &[String]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    let mut len = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i][j] = if a[i] == b[j] {
                len[i + 1][j + 1] + 1
            } else {
                len[i + 1][j].max(len[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(len[0][0]));
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(a[i].clone());
            i += 1;
            j += 1;
        } else if len[i + 1][j] >= len[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// How well a pattern's scope fits the query's context, in `[0, 1]`: an equal field counts
/// fully, a field the pattern leaves open counts half, and with no query context every
/// pattern fits half.
fn scope_fit(query: &RetrievalQuery, scope: &PatternScope) -> f64 {
    let ctx = &query.context;
    let mut fields = 0.0;
    let mut fit = 0.0;
    let mut field = |wanted: Option<&str>, have: Option<&str>| {
        if let Some(w) = wanted {
            fields += 1.0;
            fit += match have {
                Some(h) if h.eq_ignore_ascii_case(w) => 1.0,
                Some(_) => 0.0,
                None => 0.5,
            };
        }
    };
    field(ctx.domain.as_deref(), scope.domain.as_deref());
    field(ctx.language.as_deref(), scope.language.as_deref());
    field(ctx.framework.as_deref(), scope.framework.as_deref());
    field(
        query.task_type.map(|t| t.as_str()),
        scope.task_type.map(|t| t.as_str()),
    );
    if !ctx.tags.is_empty() {
        fields += 1.0;
        fit += match &scope.tag {
            Some(t) if ctx.tags.iter().any(|q| q.eq_ignore_ascii_case(t)) => 1.0,
            Some(_) => 0.0,
            None => 0.5,
        };
    }
    if fields == 0.0 { 0.5 } else { fit / fields }
}

/// How many query words a pattern mentions, in `[0, 1]` (three or more is a full match).
fn text_fit(terms: &[String], kind: &PatternKind) -> f64 {
    let words = super::query_terms(&kind.describe());
    let shared = terms.iter().filter(|t| words.contains(t)).count();
    (shared as f64 / 3.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Effectiveness, OutcomeStats, TaskType};

    fn pattern(kind: PatternKind, scope: PatternScope, episodes: u64, successes: u64) -> Pattern {
        let now = Utc::now();
        let mut stats = OutcomeStats::empty(now);
        for i in 0..episodes {
            let s = if i < successes { 1.0 } else { 0.0 };
            stats.record(s, s, now, 30.0);
        }
        Pattern {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            signature: format!("{kind:?}"),
            kind,
            scope,
            stats,
            lift: 1.0,
            effectiveness: Effectiveness::default(),
            evidence: vec![],
            example: None,
            created_at: now,
            last_seen: now,
        }
    }

    fn rust_debugging() -> PatternScope {
        PatternScope {
            language: Some("rust".into()),
            task_type: Some(TaskType::Debugging),
            ..PatternScope::default()
        }
    }

    fn seq(tools: &[&str]) -> PatternKind {
        PatternKind::ToolSequence {
            tools: tools.iter().map(|t| (*t).to_string()).collect(),
        }
    }

    fn query() -> RetrievalQuery {
        let mut q = RetrievalQuery::new("ns", "cargo test times out");
        q.context.language = Some("rust".into());
        q.task_type = Some(TaskType::Debugging);
        q
    }

    #[test]
    fn playbook_follows_the_best_sequence_with_recoveries_and_pitfalls() {
        let good = pattern(
            seq(&["cargo test", "read_file", "edit_file", "cargo test"]),
            rust_debugging(),
            6,
            6,
        );
        let recovery = pattern(
            PatternKind::ErrorRecovery {
                tool: "cargo test".into(),
                error_class: "timeout".into(),
                recovery: vec!["cargo test".into()],
            },
            PatternScope {
                language: Some("rust".into()),
                ..PatternScope::default()
            },
            5,
            5,
        );
        let bad = pattern(seq(&["grep", "deploy"]), rust_debugging(), 5, 0);
        let thin = pattern(seq(&["a", "b"]), rust_debugging(), 1, 1);
        let recs = recommend(
            &query(),
            &[good.clone(), recovery.clone(), bad.clone(), thin.clone()],
            &[],
            Utc::now(),
            &LearningConfig::default(),
        );
        let pb = recs.playbook.clone().unwrap();
        assert_eq!(pb.source, Some(good.id));
        let tools: Vec<&str> = pb.steps.iter().map(|s| s.tool.as_str()).collect();
        assert_eq!(
            tools,
            ["cargo test", "read_file", "edit_file", "cargo test"]
        );
        assert_eq!(pb.steps[0].recovery_pattern, Some(recovery.id));
        assert!(
            pb.steps[0]
                .if_it_fails
                .as_deref()
                .unwrap()
                .contains("\"timeout\": `cargo test`")
        );
        assert!(
            pb.pitfalls[0].contains("avoid the sequence `grep` → `deploy`"),
            "{:?}",
            pb.pitfalls
        );
        let ids: Vec<Uuid> = recs.patterns.iter().map(|p| p.id).collect();
        assert!(ids.contains(&good.id) && ids.contains(&recovery.id));
        assert!(!ids.contains(&bad.id) && !ids.contains(&thin.id));
        let offered = recs.offered_ids();
        assert!(
            offered.contains(&good.id)
                && offered.contains(&recovery.id)
                && offered.contains(&bad.id)
        );
    }

    fn hit(tools: &[&str], outcome: Option<TaskOutcome>, text: f64) -> RetrievedEpisode {
        RetrievedEpisode {
            id: Uuid::now_v7(),
            task_description: "t".into(),
            task_type: TaskType::Debugging,
            context: Default::default(),
            outcome,
            reward: Some(1.0),
            ended_at: None,
            step_count: tools.len(),
            tools: tools.iter().map(|t| (*t).to_string()).collect(),
            lessons: vec![],
            score: crate::retrieval::ScoreBreakdown {
                text,
                lexical_rank: None,
                semantic_rank: None,
                similarity: None,
                context: 1.0,
                reward: 1.0,
                recency: 1.0,
                relation: 0.0,
                total: 1.0,
            },
            reason: String::new(),
            related: vec![],
            in_pack: true,
        }
    }

    #[test]
    fn playbook_distils_what_similar_successes_share() {
        let ok = || {
            Some(TaskOutcome::Success {
                verdict: "v".into(),
                artifacts: vec![],
            })
        };
        let failed = Some(TaskOutcome::Failure {
            reason: "r".into(),
            details: None,
        });
        let similar = [
            hit(
                &["grep", "cargo test", "ls", "edit_file", "cargo test"],
                ok(),
                1.0,
            ),
            hit(&["cargo test", "edit_file"], failed, 0.9),
            hit(
                &["cargo test", "cat", "edit_file", "git diff", "cargo test"],
                ok(),
                0.8,
            ),
            hit(&["cargo test", "edit_file", "cargo test"], ok(), 0.0),
        ];
        let recs = recommend(
            &query(),
            &[],
            &similar,
            Utc::now(),
            &LearningConfig::default(),
        );
        let pb = recs.playbook.unwrap();
        let tools: Vec<&str> = pb.steps.iter().map(|s| s.tool.as_str()).collect();
        assert_eq!(tools, ["cargo test", "edit_file", "cargo test"]);
        assert_eq!(pb.source, None);
        assert_eq!(pb.episodes, vec![similar[0].id, similar[2].id]);
        assert!(pb.basis.contains("2 most similar successful episodes"));

        // With one success, its path is the plan.
        let recs = recommend(
            &query(),
            &[],
            &similar[..2],
            Utc::now(),
            &LearningConfig::default(),
        );
        assert_eq!(recs.playbook.unwrap().steps.len(), 5);

        // Successes from another kind of task are not distilled into this one's plan.
        let mut elsewhere = similar[0].clone();
        elsewhere.score.context = 0.5;
        let recs = recommend(
            &query(),
            &[],
            &[elsewhere],
            Utc::now(),
            &LearningConfig::default(),
        );
        assert!(recs.playbook.is_none());
    }

    #[test]
    fn common_subsequence_keeps_order() {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert_eq!(
            common_subsequence(&v(&["a", "x", "b", "c"]), &v(&["a", "b", "y", "c"])),
            v(&["a", "b", "c"])
        );
        assert!(common_subsequence(&v(&["a"]), &v(&["b"])).is_empty());
    }

    #[test]
    fn feedback_moves_rank() {
        let mut a = pattern(seq(&["x", "y"]), rust_debugging(), 4, 4);
        let mut b = pattern(seq(&["y", "z"]), rust_debugging(), 4, 4);
        let rank_of = |a: &Pattern, b: &Pattern| {
            recommend(
                &query(),
                &[a.clone(), b.clone()],
                &[],
                Utc::now(),
                &LearningConfig::default(),
            )
            .patterns
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
        };
        a.effectiveness = Effectiveness {
            applied: 3,
            helped: 3,
            hindered: 0,
        };
        assert_eq!(
            rank_of(&a, &b)[0],
            a.id,
            "helpful feedback raises a pattern"
        );
        a.effectiveness = Effectiveness {
            applied: 3,
            helped: 0,
            hindered: 3,
        };
        assert_eq!(rank_of(&a, &b)[0], b.id, "harmful feedback lowers it");
        b.effectiveness = Effectiveness::default();
    }

    #[test]
    fn scope_fit_prefers_exact_over_open_over_other() {
        let q = query();
        let exact = scope_fit(&q, &rust_debugging());
        let open = scope_fit(&q, &PatternScope::default());
        let other = scope_fit(
            &q,
            &PatternScope {
                language: Some("go".into()),
                task_type: Some(TaskType::Testing),
                ..PatternScope::default()
            },
        );
        assert!(exact > open && open > other, "{exact} {open} {other}");
    }
}
