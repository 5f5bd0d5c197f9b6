//! Recommendations: which learned patterns and heuristics apply to a new task, and the
//! playbook (or the options to explore) built from the task's neighbourhood.
//!
//! The playbook comes only from similar past episodes (`advice`): a plan that similar
//! successes agree on, with the recoveries similar tasks used. When no plan is reliable the
//! pack offers options instead — with their evidence, and, when nothing similar was ever
//! done, the best sequences learned on other tasks of the same context, labelled as such.
//!
//! A pattern's score is `confidence × (0.5 + relevance) × (0.5 + feedback) × √lift`, where
//! confidence is the decayed Wilson lower bound of its success rate, relevance mixes how well
//! its scope fits the query's context with how many query words it mentions, feedback is the
//! smoothed share of applications that helped (0.5 without feedback), and lift is bounded to
//! `[0.5, 2]`. Only patterns with enough support and a good success rate (or a success rate
//! clearly above their context's) are recommended; those that usually fail become pitfalls.

use super::RetrievalQuery;
use super::advice::{Advice, KnownRecovery, PlanEvidence, PlanOption, PlanOrigin, PlanStatus};
use crate::learning::heuristics::arrows;
use crate::learning::{LearningConfig, heuristics, shorten};
use crate::model::{Heuristic, HeuristicKind, Pattern, PatternKind, PatternScope};
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

/// An ordered plan for the task: the steps that similar successful episodes share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playbook {
    /// The pattern the steps come from, when they come from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Uuid>,
    /// The similar episodes that used the plan, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub episodes: Vec<Uuid>,
    /// The steps, in order.
    pub steps: Vec<PlaybookStep>,
    /// What to watch out for in similar tasks: errors never cleared, plans that stopped
    /// working.
    pub pitfalls: Vec<String>,
    /// One line on where the plan comes from and how sure it is.
    pub basis: String,
    /// Where the plan comes from.
    pub origin: PlanOrigin,
    /// How far it can be trusted (established or tentative).
    pub status: PlanStatus,
    /// The similar episodes behind it and their outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<PlanEvidence>,
}

/// One step of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookStep {
    /// The tool to use.
    pub tool: String,
    /// What to do if it fails in a known way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_it_fails: Option<String>,
    /// The recovery pattern behind `if_it_fails`, when a learned pattern is its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_pattern: Option<Uuid>,
    /// The error class that recovery is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// The tools of that recovery, in order (then the step's tool again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<String>,
}

/// What the pack offers instead of a playbook when no plan is reliable: options to try,
/// and what was tried and failed for similar tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exploration {
    /// Why there is no playbook, in one line.
    pub reason: String,
    /// Plans worth trying, each with its evidence and where it comes from.
    pub options: Vec<PlanOption>,
    /// Plans that stopped working or fail as often as they work.
    pub tried_and_failed: Vec<PlanOption>,
    /// Recent tool paths of similar episodes that failed, newest first.
    pub failed_paths: Vec<Vec<String>>,
}

/// Everything learned that applies to a query.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Recommendations {
    /// The best patterns, best first.
    pub patterns: Vec<RecommendedPattern>,
    /// Rules in words, most confident first (recommendations and warnings).
    pub heuristics: Vec<Heuristic>,
    /// The plan, when similar successful episodes agree on one.
    pub playbook: Option<Playbook>,
    /// Options and failed attempts, when no plan is reliable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploration: Option<Exploration>,
    /// What cleared each (tool, error class) in similar episodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recoveries: Vec<KnownRecovery>,
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
/// heuristics, and turns the neighbourhood's `advice` into a playbook (when a plan is
/// reliable) or options to explore (when not), with the recoveries similar tasks used.
pub fn recommend(
    query: &RetrievalQuery,
    candidates: &[Pattern],
    advice: &Advice,
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

    let (playbook, exploration) = match advice.playbook_plan() {
        Some(plan) => (Some(build_playbook(plan, advice, &ranked)), None),
        None => (None, explore(query, advice, &ranked)),
    };

    // Heuristics: the well-supported rules among the candidates, ordered by how much they
    // matter here (confidence × relevance), not by confidence alone. A warning against a
    // plain retry is noise: retries clear transient errors.
    let mut rules: Vec<(f64, Heuristic)> = heuristics(candidates, now, cfg)
        .into_iter()
        .filter_map(|h| {
            let p = candidates.iter().find(|p| p.id == h.pattern_id)?;
            if h.kind == HeuristicKind::Avoid && is_retry(&p.kind) {
                return None;
            }
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
        exploration,
        recoveries: advice
            .recoveries
            .iter()
            .take(MAX_RECOVERIES)
            .cloned()
            .collect(),
    }
}

/// Most recoveries in one pack.
const MAX_RECOVERIES: usize = 6;
/// Most options offered when exploring.
const MAX_OPTIONS: usize = 3;

/// Whether a pattern is an error "recovered" by running the same tool again.
fn is_retry(kind: &PatternKind) -> bool {
    matches!(kind, PatternKind::ErrorRecovery { tool, recovery, .. }
        if recovery.iter().all(|r| r == tool))
}

/// The playbook for a reliable neighbourhood plan: its steps, each with the recovery
/// similar tasks used when that tool failed (else a learned recovery pattern), and the
/// neighbourhood's pitfalls.
fn build_playbook(
    plan: &PlanOption,
    advice: &Advice,
    ranked: &[(RecommendedPattern, &Pattern)],
) -> Playbook {
    let steps = plan
        .tools
        .iter()
        .map(|tool| {
            let near = advice
                .recoveries
                .iter()
                .find(|r| &r.tool == tool && !r.transient);
            if let Some(r) = near {
                let action = r.action.clone().unwrap_or_else(|| tool.clone());
                return PlaybookStep {
                    tool: tool.clone(),
                    if_it_fails: Some(format!(
                        "if it fails with \"{}\": run `{action}`, then `{tool}` again ({} of {} times in similar tasks)",
                        shorten(&r.error_class, 100),
                        r.times,
                        r.seen
                    )),
                    recovery_pattern: None,
                    error_class: Some(r.error_class.clone()),
                    recovery: vec![action],
                };
            }
            // Else the best-ranked learned recovery for this tool that is not a plain retry.
            let learned = ranked.iter().find_map(|(r, p)| match &p.kind {
                PatternKind::ErrorRecovery {
                    tool: failing,
                    error_class,
                    recovery,
                } if failing == tool && !is_retry(&p.kind) => {
                    Some((r.id, error_class, recovery, &p.example))
                }
                _ => None,
            });
            PlaybookStep {
                tool: tool.clone(),
                if_it_fails: learned.map(|(_, class, recovery, example)| {
                    let how = recovery
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    match example {
                        Some(e) => format!(
                            "if it fails with \"{class}\": {how} ({})",
                            shorten(e, 120)
                        ),
                        None => format!("if it fails with \"{class}\": {how}"),
                    }
                }),
                recovery_pattern: learned.map(|(id, ..)| id),
                error_class: learned.map(|(_, class, ..)| class.clone()),
                recovery: learned
                    .map(|(_, _, tools, _)| tools.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let evidence = plan.evidence.clone();
    let agreeing = evidence.as_ref().map_or(0, |e| e.successes);
    let what = if agreeing >= 2 {
        format!("the steps {agreeing} similar successful episodes share")
    } else {
        "the steps of the one similar successful episode".to_string()
    };
    Playbook {
        source: None,
        episodes: evidence
            .as_ref()
            .map(|e| e.episodes.clone())
            .unwrap_or_default(),
        steps,
        pitfalls: pitfalls(advice),
        basis: format!("{what} ({}; {})", plan.status.label(), plan.basis),
        origin: plan.origin,
        status: plan.status,
        evidence,
    }
}

/// What to watch out for in similar tasks: errors never cleared there, and plans that
/// stopped working.
fn pitfalls(advice: &Advice) -> Vec<String> {
    let mut out: Vec<String> = advice
        .unrecovered
        .iter()
        .filter(|(tool, class, n)| {
            // Errors some similar episode cleared by a plain retry are transient.
            *n >= 2
                && !advice
                    .recoveries
                    .iter()
                    .any(|r| &r.tool == tool && &r.error_class == class && r.transient)
        })
        .map(|(tool, class, n)| {
            format!(
                "`{tool}` failed with \"{}\" {n} times in similar tasks and was never cleared",
                shorten(class, 100)
            )
        })
        .collect();
    for p in advice
        .plans
        .iter()
        .filter(|p| p.status == PlanStatus::Demoted)
    {
        out.push(format!("{} {}", arrows(&p.tools), p.basis));
    }
    out.truncate(MAX_PITFALLS);
    out
}

/// When no plan is reliable: the neighbourhood's plans as options (or, when it is empty, the
/// best sequences learned in this context, labelled as such) and what failed.
fn explore(
    query: &RetrievalQuery,
    advice: &Advice,
    ranked: &[(RecommendedPattern, &Pattern)],
) -> Option<Exploration> {
    let (mut options, tried_and_failed): (Vec<PlanOption>, Vec<PlanOption>) =
        advice.plans.iter().cloned().partition(|p| {
            p.status == PlanStatus::Conflicting
                && p.evidence.as_ref().is_some_and(|e| e.failures == 0)
        });
    if advice.neighbours == 0 {
        options.extend(
            ranked
                .iter()
                .filter_map(|(r, p)| match &p.kind {
                    PatternKind::ToolSequence { tools } if scope_fit(query, &p.scope) >= 0.75 => {
                        Some(PlanOption {
                            tools: tools.clone(),
                            status: PlanStatus::FromContext,
                            origin: PlanOrigin::ContextFallback,
                            evidence: None,
                            basis: format!(
                                "learned on other tasks in {}: {}/{} episodes succeeded — untested on tasks like this one",
                                r.scope.describe(),
                                p.stats.successful_episodes,
                                p.stats.episodes
                            ),
                        })
                    }
                    _ => None,
                })
                .take(MAX_OPTIONS),
        );
    }
    options.truncate(MAX_OPTIONS);
    if options.is_empty() && tried_and_failed.is_empty() && advice.failed_paths.is_empty() {
        return None;
    }
    let reason = if advice.neighbours == 0 {
        "no similar past task yet: explore; options from other tasks in this context are listed, not a plan".to_string()
    } else {
        let what = if advice.neighbours == 1 {
            "is not enough to go on"
        } else {
            "do not agree on one"
        };
        format!(
            "no reliable procedure yet: {} similar episode{} (similarity {:.2}) {what}",
            advice.neighbours,
            if advice.neighbours == 1 { "" } else { "s" },
            advice.similarity
        )
    };
    Some(Exploration {
        reason,
        options,
        tried_and_failed,
        failed_paths: advice.failed_paths.clone(),
    })
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

    fn strings(tools: &[&str]) -> Vec<String> {
        tools.iter().map(|t| (*t).to_string()).collect()
    }

    fn query() -> RetrievalQuery {
        let mut q = RetrievalQuery::new("ns", "cargo test times out");
        q.context.language = Some("rust".into());
        q.task_type = Some(TaskType::Debugging);
        q
    }

    fn evidence(successes: usize, failures: usize) -> PlanEvidence {
        PlanEvidence {
            uses: successes + failures,
            successes,
            failures,
            similarity: 0.8,
            precision: 0.8,
            recall: 1.0,
            recent: vec![true],
            last_success: None,
            failing_since: None,
            episodes: vec![Uuid::nil()],
        }
    }

    #[test]
    fn context_sequences_are_labelled_options_when_nothing_similar_was_done() {
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
                recovery: vec!["cargo clean".into()],
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
            &Advice::default(),
            Utc::now(),
            &LearningConfig::default(),
        );
        assert!(
            recs.playbook.is_none(),
            "a context's statistics are not a plan"
        );
        let ex = recs.exploration.clone().unwrap();
        assert!(ex.reason.contains("no similar past task"), "{}", ex.reason);
        assert_eq!(
            ex.options[0].tools,
            strings(&["cargo test", "read_file", "edit_file", "cargo test"])
        );
        assert_eq!(ex.options[0].origin, PlanOrigin::ContextFallback);
        assert!(
            ex.options[0]
                .basis
                .contains("untested on tasks like this one")
        );
        let ids: Vec<Uuid> = recs.patterns.iter().map(|p| p.id).collect();
        assert!(ids.contains(&good.id) && ids.contains(&recovery.id));
        assert!(!ids.contains(&bad.id) && !ids.contains(&thin.id));
        assert!(
            recs.offered_ids().contains(&bad.id),
            "the warning is offered"
        );
    }

    #[test]
    fn a_reliable_neighbourhood_plan_is_the_playbook_with_its_recoveries() {
        let plan = PlanOption {
            tools: strings(&["open", "upload", "notify"]),
            status: PlanStatus::Established,
            origin: PlanOrigin::Neighbourhood,
            evidence: Some(evidence(4, 1)),
            basis: "worked 4 of 5 times in similar tasks (similarity 0.80)".into(),
        };
        let advice = Advice {
            neighbours: 6,
            similarity: 0.8,
            plans: vec![plan],
            failed_paths: vec![],
            recoveries: vec![
                KnownRecovery {
                    tool: "upload".into(),
                    error_class: "quota exceeded for sheet <n>".into(),
                    action: Some("refresh".into()),
                    transient: false,
                    times: 3,
                    seen: 3,
                    example: "quota exceeded for sheet 4".into(),
                },
                KnownRecovery {
                    tool: "open".into(),
                    error_class: "connection reset".into(),
                    action: None,
                    transient: true,
                    times: 2,
                    seen: 2,
                    example: "connection reset".into(),
                },
            ],
            unrecovered: vec![("notify".into(), "mailbox full".into(), 3)],
        };
        let retry_warning = pattern(
            PatternKind::ErrorRecovery {
                tool: "open".into(),
                error_class: "connection reset".into(),
                recovery: vec!["open".into()],
            },
            rust_debugging(),
            5,
            0,
        );
        let recs = recommend(
            &query(),
            &[retry_warning],
            &advice,
            Utc::now(),
            &LearningConfig::default(),
        );
        let pb = recs.playbook.unwrap();
        assert_eq!(pb.origin, PlanOrigin::Neighbourhood);
        assert_eq!(pb.status, PlanStatus::Established);
        assert!(
            pb.basis.contains("4 similar successful episodes share"),
            "{}",
            pb.basis
        );
        let tools: Vec<&str> = pb.steps.iter().map(|s| s.tool.as_str()).collect();
        assert_eq!(tools, ["open", "upload", "notify"]);
        assert_eq!(pb.steps[1].recovery, strings(&["refresh"]));
        assert!(
            pb.steps[0].recovery.is_empty(),
            "a transient error needs no recovery step"
        );
        assert!(pb.pitfalls[0].contains("`notify` failed with \"mailbox full\" 3 times"));
        assert!(recs.exploration.is_none());
        assert_eq!(recs.recoveries.len(), 2);
        assert!(
            recs.heuristics.is_empty(),
            "a warning against a plain retry is noise: {:?}",
            recs.heuristics
        );
    }

    #[test]
    fn a_demoted_plan_is_listed_as_tried_and_failed_not_followed() {
        let demoted = PlanOption {
            tools: strings(&["open", "upload"]),
            status: PlanStatus::Demoted,
            origin: PlanOrigin::Neighbourhood,
            evidence: Some(evidence(5, 2)),
            basis: "worked 5 times, failed the last 2 in similar tasks".into(),
        };
        let advice = Advice {
            neighbours: 7,
            similarity: 0.8,
            plans: vec![demoted.clone()],
            failed_paths: vec![strings(&["open", "upload"])],
            ..Advice::default()
        };
        let recs = recommend(
            &query(),
            &[],
            &advice,
            Utc::now(),
            &LearningConfig::default(),
        );
        assert!(recs.playbook.is_none());
        let ex = recs.exploration.unwrap();
        assert!(
            ex.reason.starts_with("no reliable procedure yet"),
            "{}",
            ex.reason
        );
        assert_eq!(ex.tried_and_failed, vec![demoted]);
        assert!(ex.options.is_empty());
    }

    #[test]
    fn feedback_moves_rank() {
        let mut a = pattern(seq(&["x", "y"]), rust_debugging(), 4, 4);
        let mut b = pattern(seq(&["y", "z"]), rust_debugging(), 4, 4);
        let rank_of = |a: &Pattern, b: &Pattern| {
            recommend(
                &query(),
                &[a.clone(), b.clone()],
                &Advice::default(),
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
