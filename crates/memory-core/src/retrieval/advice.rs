//! Advice from the task's neighbourhood: what past episodes *similar to this task* say about
//! how to do it, how sure that is, and what to do when a tool fails.
//!
//! Many different tasks share one context (domain, language, task type), so advice keyed by
//! context is often advice for another task. Here the evidence is the neighbourhood that
//! retrieval found: completed episodes whose text covers enough of the query's (see
//! [`SimilarEpisode`]), newest first. Each counts by its similarity and by its place in
//! episode order (`0.5^(newer neighbours / half-life)`), so recent outcomes dominate and a
//! burst of work can unlearn within minutes, whatever the wall clock says.
//!
//! **Plans.** The candidates are the tool paths of the recent successes (successful steps
//! only, repeats collapsed) and the ordered steps each pair of them shares (their longest
//! common subsequence: detours pruned). A neighbour *used* a plan when its successful steps
//! contain the plan's in order. A plan's precision is the weighted share of its uses that
//! succeeded; its recall the weighted share of all successes that used it — so a lucky or
//! misreported success whose path is unlike the others' counts little. The best plan is a
//! playbook only when the evidence holds: two or more agreeing successes (established) or
//! one close success and nothing against it (tentative). A plan whose last two uses failed
//! is demoted at once; a plan that fails as often as it works is conflicting. Then the pack
//! offers options and says what was tried and failed, instead of a playbook.
//!
//! **Recoveries** are keyed by (tool, error class): the action that, in similar episodes,
//! stood between a tool's failure and its next success, independent of the rest of the
//! detour; an error that a plain retry cleared (at least as often as any one action did)
//! is transient and never becomes a pitfall.

use crate::learning::{error_class, shorten};
use crate::model::{Episode, ExecutionStep, StepResult, TaskOutcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

/// How the neighbourhood is drawn and weighed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourhoodConfig {
    /// Most neighbours loaded (the newest of those similar enough).
    pub size: usize,
    /// Lowest similarity of a neighbour, in `[0, 1]`.
    pub min_similarity: f64,
    /// Cosine similarity below which a vector match says nothing of the task (vector
    /// similarities are rescaled from this floor to 1).
    pub vector_floor: f64,
    /// Newer neighbours after which an episode's evidence counts half.
    pub recency_half_life: f64,
    /// Lowest similarity of the single success behind a tentative playbook.
    pub tentative_min_similarity: f64,
    /// Lowest weighted precision of a playbook's plan.
    pub min_precision: f64,
}

impl Default for NeighbourhoodConfig {
    fn default() -> Self {
        NeighbourhoodConfig {
            size: 24,
            min_similarity: 0.45,
            vector_floor: 0.5,
            recency_half_life: 5.0,
            tentative_min_similarity: 0.5,
            min_precision: 0.7,
        }
    }
}

/// A past episode in the task's neighbourhood and how similar it is to the task.
#[derive(Debug, Clone)]
pub struct SimilarEpisode {
    /// The episode, completed.
    pub episode: Arc<Episode>,
    /// Similarity to the task, in `[0, 1]`.
    pub similarity: f64,
}

/// Where a plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanOrigin {
    /// Past episodes similar to this task.
    Neighbourhood,
    /// Statistics of every task in the same context (the neighbourhood had nothing).
    ContextFallback,
}

/// How far a plan can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Two or more similar successes agree on it, and its last two uses did not both fail.
    Established,
    /// One close similar success and nothing against it.
    Tentative,
    /// It worked before but failed in its last uses.
    Demoted,
    /// It fails about as often as it works, or the evidence is too thin.
    Conflicting,
    /// Learned on other tasks of the same context; never seen on a task like this one.
    FromContext,
}

impl PlanStatus {
    /// The status in a word or two, for the pack.
    pub fn label(self) -> &'static str {
        match self {
            PlanStatus::Established => "established",
            PlanStatus::Tentative => "tentative",
            PlanStatus::Demoted => "demoted",
            PlanStatus::Conflicting => "unreliable",
            PlanStatus::FromContext => "from other tasks",
        }
    }

    /// Whether a plan with this status is offered as a playbook.
    pub fn is_playbook(self) -> bool {
        matches!(self, PlanStatus::Established | PlanStatus::Tentative)
    }
}

/// The evidence behind a plan, from the similar episodes that used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEvidence {
    /// Similar episodes whose successful steps contain the plan's, in order.
    pub uses: usize,
    /// Of those, how many succeeded.
    pub successes: usize,
    /// Of those, how many failed.
    pub failures: usize,
    /// Their mean similarity to the task.
    pub similarity: f64,
    /// Similarity- and recency-weighted share of its uses that succeeded (smoothed).
    pub precision: f64,
    /// Weighted share of the neighbourhood's successes that used it.
    pub recall: f64,
    /// The outcomes of its most recent uses, newest first (true = succeeded, fully or in
    /// part).
    pub recent: Vec<bool>,
    /// When it last worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<DateTime<Utc>>,
    /// When it first failed after its last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The episodes that used it, newest first (at most 5).
    pub episodes: Vec<Uuid>,
}

impl PlanEvidence {
    /// The evidence in a few words: "worked 5 of 6 times in similar tasks", "worked 5 times,
    /// failed the last 3".
    pub fn describe(&self, status: PlanStatus) -> String {
        let sim = format!("similarity {:.2}", self.similarity);
        match status {
            PlanStatus::Demoted => {
                let failed_last = self.recent.iter().take_while(|ok| !**ok).count();
                format!(
                    "worked {} time{}, failed the last {failed_last} in similar tasks ({sim})",
                    self.successes,
                    plural(self.successes)
                )
            }
            _ => format!(
                "worked {} of {} time{} in similar tasks ({sim})",
                self.successes,
                self.uses,
                plural(self.uses)
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A plan the neighbourhood knows of, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOption {
    /// The tools, in order.
    pub tools: Vec<String>,
    /// How far it can be trusted.
    pub status: PlanStatus,
    /// Where it comes from.
    pub origin: PlanOrigin,
    /// Its evidence (absent for a context fallback, whose evidence is a pattern's counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<PlanEvidence>,
    /// One line on what it is and how sure.
    pub basis: String,
}

/// What to do when a tool fails with an error class, as similar episodes did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownRecovery {
    /// The tool that failed.
    pub tool: String,
    /// The error class (see `learning::error_class`).
    pub error_class: String,
    /// The tool to run before retrying; `None` when a plain retry is what cleared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Cleared by a plain retry: not a reason to avoid anything.
    pub transient: bool,
    /// Times the error was cleared this way in similar episodes.
    pub times: usize,
    /// Times it was seen in similar episodes.
    pub seen: usize,
    /// An example of the error, as it was reported.
    pub example: String,
}

impl KnownRecovery {
    /// The recovery in a sentence.
    pub fn describe(&self) -> String {
        let how = match &self.action {
            Some(a) => format!("run `{a}`, then `{}` again", self.tool),
            None => "retry it (transient)".to_string(),
        };
        format!(
            "if `{}` fails with \"{}\": {how} — cleared {} of {} time{} in similar tasks",
            self.tool,
            shorten(&self.error_class, 80),
            self.times,
            self.seen,
            plural(self.seen)
        )
    }
}

/// What the neighbourhood says about a task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Advice {
    /// Similar episodes considered.
    pub neighbours: usize,
    /// Their mean similarity.
    pub similarity: f64,
    /// The plans, best first (the first is the playbook when its status allows).
    pub plans: Vec<PlanOption>,
    /// Recent paths of similar episodes that failed, newest first.
    pub failed_paths: Vec<Vec<String>>,
    /// Recoveries by (tool, error class), most often cleared first.
    pub recoveries: Vec<KnownRecovery>,
    /// Errors of similar episodes that were never cleared, as (tool, error class, times).
    pub unrecovered: Vec<(String, String, usize)>,
}

impl Advice {
    /// The plan to follow, when the evidence holds.
    pub fn playbook_plan(&self) -> Option<&PlanOption> {
        self.plans.first().filter(|p| p.status.is_playbook())
    }

    /// The recovery known for `tool` failing with `message`'s error class, if any.
    pub fn recovery_for(&self, tool: &str, message: &str) -> Option<&KnownRecovery> {
        let class = error_class(message);
        self.recoveries
            .iter()
            .find(|r| r.tool == tool && r.error_class == class)
    }
}

/// Most success paths plans are drawn from.
const PLAN_SOURCES: usize = 8;
/// Most plans kept.
const MAX_PLANS: usize = 4;
/// Most tools of an episode's path that plans are drawn from (the last ones).
const MAX_PATH: usize = 64;
/// Most failed paths kept.
const MAX_FAILED_PATHS: usize = 3;
/// Most recent uses kept per plan.
const RECENT_USES: usize = 5;
/// The prior of a plan's precision, in successes and in failures.
const PRIOR: f64 = 0.25;
/// Share of the neighbourhood's (weighted) successes a plan must be part of to count as what
/// they agree on.
const CONSENSUS: f64 = 0.6;

/// One neighbour, reduced to what the advice needs.
struct Use<'a> {
    episode: &'a Episode,
    weight: f64,
    similarity: f64,
    /// 1 success, 0.5 partial, 0 failure.
    outcome: f64,
    path: Vec<&'a str>,
}

/// What the neighbourhood `similar` (any order) says about a new task.
pub fn advise(similar: &[SimilarEpisode], cfg: &NeighbourhoodConfig) -> Advice {
    let mut uses: Vec<Use<'_>> = similar
        .iter()
        .filter_map(|s| {
            let outcome = match s.episode.outcome.as_ref()? {
                TaskOutcome::Success { .. } => 1.0,
                TaskOutcome::PartialSuccess { .. } => 0.5,
                TaskOutcome::Failure { .. } => 0.0,
                TaskOutcome::Abstained { .. } => return None,
            };
            Some(Use {
                episode: &s.episode,
                weight: 0.0,
                similarity: s.similarity.clamp(0.0, 1.0),
                outcome,
                path: successful_path(&s.episode.steps),
            })
        })
        .collect();
    // Newest first: episode order, by end time then by id (time-ordered).
    uses.sort_by(|a, b| {
        b.episode
            .ended_at
            .cmp(&a.episode.ended_at)
            .then_with(|| b.episode.id.cmp(&a.episode.id))
    });
    let half_life = cfg.recency_half_life.max(1e-9);
    for (k, u) in uses.iter_mut().enumerate() {
        u.weight = u.similarity * 0.5_f64.powf(k as f64 / half_life);
    }
    if uses.is_empty() {
        return Advice::default();
    }

    let plans = plans(&uses, cfg);
    let failed_paths = uses
        .iter()
        .filter(|u| u.outcome == 0.0 && !u.path.is_empty())
        .take(MAX_FAILED_PATHS)
        .map(|u| u.path.iter().map(|t| (*t).to_string()).collect())
        .collect();
    let (recoveries, unrecovered) = recoveries(&uses);
    Advice {
        neighbours: uses.len(),
        similarity: uses.iter().map(|u| u.similarity).sum::<f64>() / uses.len() as f64,
        plans,
        failed_paths,
        recoveries,
        unrecovered,
    }
}

/// The tools of the steps that succeeded, consecutive repeats collapsed: what the episode
/// actually got done, without its failed attempts.
fn successful_path(steps: &[ExecutionStep]) -> Vec<&str> {
    let mut path: Vec<&str> = Vec::new();
    for s in steps.iter().filter(|s| s.result.is_success()) {
        let tool = s.tool.trim();
        if path.last() != Some(&tool) {
            path.push(tool);
        }
    }
    // The end of a long episode is what got it done; bounding the path bounds the common
    // subsequences' tables on the retrieval path.
    if path.len() > MAX_PATH {
        path.drain(..path.len() - MAX_PATH);
    }
    path
}

/// The candidate plans with their evidence, best first.
fn plans(uses: &[Use<'_>], cfg: &NeighbourhoodConfig) -> Vec<PlanOption> {
    let sources: Vec<&Use<'_>> = uses
        .iter()
        .filter(|u| u.outcome >= 1.0 && !u.path.is_empty())
        .take(PLAN_SOURCES)
        .collect();
    let mut candidates: Vec<Vec<&str>> = Vec::new();
    for (i, a) in sources.iter().enumerate() {
        if !candidates.contains(&a.path) {
            candidates.push(a.path.clone());
        }
        for b in &sources[i + 1..] {
            let common = common_subsequence(&a.path, &b.path);
            if common.len() >= 2 && !candidates.contains(&common) {
                candidates.push(common);
            }
        }
    }
    let all_successes: f64 = uses.iter().map(|u| u.weight * u.outcome).sum();
    let first: Vec<(Vec<&str>, PlanEvidence, PlanStatus)> = candidates
        .into_iter()
        .map(|plan| {
            let (evidence, status) = evaluate(&plan, uses, all_successes, cfg);
            (plan, evidence, status)
        })
        .collect();
    // The episodes that followed a demoted procedure are its history: they neither support
    // nor contradict another plan (else the part an old procedure shares with a new one
    // would inherit the old one's successes and pass for established).
    let demoted: Vec<Vec<&str>> = first
        .iter()
        .filter(|(_, _, st)| *st == PlanStatus::Demoted)
        .map(|(p, ..)| p.clone())
        .collect();
    let history = |u: &Use<'_>| demoted.iter().any(|d| is_subsequence(d, &u.path));
    let current: Vec<Use<'_>> = uses
        .iter()
        .filter(|u| !history(u))
        .map(|u| Use {
            path: u.path.clone(),
            ..*u
        })
        .collect();
    let current_successes: f64 = current.iter().map(|u| u.weight * u.outcome).sum();
    let evaluated: Vec<(Vec<&str>, PlanEvidence, PlanStatus)> = first
        .into_iter()
        .map(|(plan, evidence, status)| {
            if demoted.is_empty() || status == PlanStatus::Demoted {
                return (plan, evidence, status);
            }
            let (evidence, status) = evaluate(&plan, &current, current_successes, cfg);
            (plan, evidence, status)
        })
        .filter(|(_, evidence, _)| evidence.uses > 0)
        .collect();
    // One success is a plan only while no other similar success contradicts it: successes
    // that took unrelated paths mean at least one of them was luck or a wrong report.
    let mut scored: Vec<(u8, f64, PlanOption)> = evaluated
        .iter()
        .map(|(plan, evidence, status)| {
            let mut status = *status;
            let contradicting = if status == PlanStatus::Tentative {
                uses.iter()
                    .filter(|u| {
                        u.outcome >= 1.0
                            && !is_subsequence(plan, &u.path)
                            && !is_subsequence(&u.path, plan)
                            && !history(u)
                    })
                    .count()
            } else {
                0
            };
            if contradicting > 0 {
                status = PlanStatus::Conflicting;
            }
            let evidence = evidence.clone();
            // First the trusted plans that most of the success weight shares, longest first:
            // "what the successes agree on", detours pruned but no agreed step lost. Then the
            // other trusted plans, then the rest, each by precision × √recall.
            let tier = match (status.is_playbook(), evidence.recall >= CONSENSUS) {
                (true, true) => 0,
                (true, false) => 1,
                (false, _) => 2,
            };
            let strength = evidence.precision * evidence.recall.sqrt();
            let key = if tier == 0 {
                plan.len() as f64 + strength
            } else {
                strength
            };
            let mut basis = evidence.describe(status);
            if contradicting > 0 {
                basis.push_str(&format!(
                    "; {contradicting} other similar success{} took other paths",
                    if contradicting == 1 { "" } else { "es" }
                ));
            }
            (
                tier,
                key,
                PlanOption {
                    tools: plan.iter().map(|t| (*t).to_string()).collect(),
                    status,
                    origin: PlanOrigin::Neighbourhood,
                    evidence: Some(evidence),
                    basis,
                },
            )
        })
        .collect();
    scored.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| b.1.total_cmp(&a.1))
            .then_with(|| b.2.tools.len().cmp(&a.2.tools.len()))
            .then_with(|| a.2.tools.cmp(&b.2.tools))
    });
    // Drop plans that are only a part, or a padded copy, of a better one of the same status.
    let mut out: Vec<PlanOption> = Vec::new();
    for (_, _, p) in scored {
        let redundant = out.iter().any(|q| {
            let (q_tools, p_tools) = (as_strs(&q.tools), as_strs(&p.tools));
            q.status == p.status
                && (is_subsequence(&q_tools, &p_tools) || is_subsequence(&p_tools, &q_tools))
        });
        if !redundant {
            out.push(p);
        }
        if out.len() == MAX_PLANS {
            break;
        }
    }
    out
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A plan's evidence among `uses` (newest first) and the status it earns.
fn evaluate(
    plan: &[&str],
    uses: &[Use<'_>],
    all_successes: f64,
    cfg: &NeighbourhoodConfig,
) -> (PlanEvidence, PlanStatus) {
    let mut ev = PlanEvidence {
        uses: 0,
        successes: 0,
        failures: 0,
        similarity: 0.0,
        precision: 0.0,
        recall: 0.0,
        recent: Vec::new(),
        last_success: None,
        failing_since: None,
        episodes: Vec::new(),
    };
    let (mut good, mut bad) = (0.0, 0.0);
    let mut best_success_similarity: f64 = 0.0;
    let mut seen_success = false;
    // Weights relative to the plan's newest use: recency orders its uses against each other,
    // it does not make a plan whose uses are all old less precise.
    let mut top_weight = 0.0;
    for u in uses.iter().filter(|u| is_subsequence(plan, &u.path)) {
        ev.uses += 1;
        ev.similarity += u.similarity;
        if top_weight == 0.0 {
            top_weight = u.weight.max(f64::MIN_POSITIVE);
        }
        good += u.weight / top_weight * u.outcome;
        bad += u.weight / top_weight * (1.0 - u.outcome);
        if u.outcome >= 1.0 {
            ev.successes += 1;
            best_success_similarity = best_success_similarity.max(u.similarity);
            if !seen_success {
                ev.last_success = u.episode.ended_at;
                seen_success = true;
            }
        } else if u.outcome == 0.0 {
            ev.failures += 1;
            if !seen_success {
                // Walking back in time: the oldest failure since the last success.
                ev.failing_since = u.episode.ended_at;
            }
        }
        if ev.recent.len() < RECENT_USES {
            ev.recent.push(u.outcome >= 0.5);
        }
        if ev.episodes.len() < RECENT_USES {
            ev.episodes.push(u.episode.id);
        }
    }
    if ev.uses > 0 {
        ev.similarity /= ev.uses as f64;
    }
    // Smoothed (a quarter of a success and of a failure as prior) so one use is not
    // certainty.
    ev.precision = (good + PRIOR) / (good + bad + 2.0 * PRIOR);
    let good_absolute = good * top_weight;
    ev.recall = if all_successes > 0.0 {
        (good_absolute / all_successes).min(1.0)
    } else {
        0.0
    };
    if !seen_success {
        ev.failing_since = None;
    }
    let failed_last_two = ev.recent.len() >= 2 && !ev.recent[0] && !ev.recent[1];
    let status = if ev.successes > 0 && failed_last_two {
        PlanStatus::Demoted
    } else if ev.precision < cfg.min_precision {
        PlanStatus::Conflicting
    } else if ev.successes >= 2 {
        PlanStatus::Established
    } else if ev.successes == 1
        && ev.failures == 0
        && best_success_similarity >= cfg.tentative_min_similarity
    {
        PlanStatus::Tentative
    } else {
        PlanStatus::Conflicting
    };
    (ev, status)
}

/// Recoveries by (tool, error class), and the errors never cleared.
#[allow(clippy::type_complexity)]
fn recoveries(uses: &[Use<'_>]) -> (Vec<KnownRecovery>, Vec<(String, String, usize)>) {
    struct Tally {
        tool: String,
        class: String,
        example: String,
        seen: usize,
        retry_count: usize,
        actions: Vec<(String, f64, usize)>,
        never: usize,
    }
    let mut tallies: Vec<Tally> = Vec::new();
    for u in uses {
        let steps = &u.episode.steps;
        for (i, step) in steps.iter().enumerate() {
            let message = match &step.result {
                StepResult::Success { .. } => continue,
                StepResult::Error { message } => message.as_str(),
                StepResult::Timeout => "timeout",
            };
            let class = error_class(message);
            let tool = step.tool.trim();
            let t = match tallies
                .iter_mut()
                .position(|t| t.tool == tool && t.class == class)
            {
                Some(i) => &mut tallies[i],
                None => {
                    tallies.push(Tally {
                        tool: tool.to_string(),
                        class: class.clone(),
                        example: shorten(message, 160),
                        seen: 0,
                        retry_count: 0,
                        actions: Vec::new(),
                        never: 0,
                    });
                    let last = tallies.len() - 1;
                    &mut tallies[last]
                }
            };
            t.seen += 1;
            let rest = &steps[i + 1..];
            let Some(end) = rest
                .iter()
                .position(|s| s.tool.trim() == tool && s.result.is_success())
            else {
                t.never += 1;
                continue;
            };
            // What ran between the failure and the tool's next success, other than the tool
            // itself and other failures: the candidates for what cleared it.
            let mut between: Vec<&str> = rest[..end]
                .iter()
                .filter(|s| s.result.is_success() && s.tool.trim() != tool)
                .map(|s| s.tool.trim())
                .collect();
            between.dedup();
            if between.is_empty() {
                t.retry_count += 1;
                continue;
            }
            let mut counted: Vec<&str> = Vec::new();
            for a in between {
                if counted.contains(&a) {
                    continue;
                }
                counted.push(a);
                match t.actions.iter_mut().find(|(name, ..)| name == a) {
                    Some((_, w, n)) => {
                        *w += u.weight;
                        *n += 1;
                    }
                    None => t.actions.push((a.to_string(), u.weight, 1)),
                }
            }
        }
    }
    let mut known = Vec::new();
    let mut unrecovered = Vec::new();
    for t in tallies {
        let best = t
            .actions
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
        match best {
            // A retry cleared it at least as often as any one action did: transient. (Counts,
            // not weights: detours spread over many tools, retries do not.)
            _ if t.retry_count > 0 && best.is_none_or(|(_, _, n)| t.retry_count >= *n) => {
                known.push(KnownRecovery {
                    tool: t.tool,
                    error_class: t.class,
                    action: None,
                    transient: true,
                    times: t.retry_count,
                    seen: t.seen,
                    example: t.example,
                });
            }
            Some((action, _, n)) => known.push(KnownRecovery {
                tool: t.tool,
                error_class: t.class,
                action: Some(action.clone()),
                transient: false,
                times: *n,
                seen: t.seen,
                example: t.example,
            }),
            None => unrecovered.push((t.tool, t.class, t.never)),
        }
    }
    known.sort_by(|a, b| b.times.cmp(&a.times).then_with(|| a.tool.cmp(&b.tool)));
    unrecovered.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    (known, unrecovered)
}

/// Whether `needle`'s items appear in `hay` in the same order (not necessarily adjacent).
pub(crate) fn is_subsequence(needle: &[&str], hay: &[&str]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|n| it.any(|h| h == n))
}

/// The longest common subsequence of two tool paths (ties resolved towards `a`'s order).
pub(crate) fn common_subsequence<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
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
            out.push(a[i]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TaskContext, TaskType};
    use chrono::{Duration, TimeZone};

    fn episode(n: i64, path: &[(&str, bool)], success: bool) -> Episode {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let at = t0 + Duration::minutes(n);
        let steps = path
            .iter()
            .enumerate()
            .map(|(i, (tool, ok))| ExecutionStep {
                seq: i as u32 + 1,
                at,
                tool: (*tool).to_string(),
                action: "a".into(),
                parameters: serde_json::Value::Null,
                result: if *ok {
                    StepResult::Success {
                        output: "ok".into(),
                    }
                } else {
                    StepResult::Error {
                        message: format!("{tool}: quota exceeded for sheet {n}"),
                    }
                },
                latency_ms: 10,
                tokens_used: None,
                metadata: Default::default(),
            })
            .collect();
        Episode {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: "t".into(),
            task_type: TaskType::Other,
            context: TaskContext::default(),
            started_at: at,
            ended_at: Some(at),
            steps,
            outcome: Some(if success {
                TaskOutcome::Success {
                    verdict: "ok".into(),
                    artifacts: vec![],
                }
            } else {
                TaskOutcome::Failure {
                    reason: "no".into(),
                    details: None,
                }
            }),
            reward: None,
            reflection: None,
            pattern_ids: vec![],
            retrieval_session: None,
            tags: vec![],
            metadata: Default::default(),
        }
    }

    fn near(e: Episode) -> SimilarEpisode {
        SimilarEpisode {
            episode: Arc::new(e),
            similarity: 0.9,
        }
    }

    fn ok(tools: &[&'static str]) -> Vec<(&'static str, bool)> {
        tools.iter().map(|t| (*t, true)).collect()
    }

    fn first_plan(a: &Advice) -> (Vec<&str>, PlanStatus) {
        let p = &a.plans[0];
        (as_strs(&p.tools), p.status)
    }

    #[test]
    fn the_steps_successes_share_become_an_established_playbook() {
        let advice = advise(
            &[
                near(episode(1, &ok(&["open", "x", "filter", "export"]), true)),
                near(episode(2, &ok(&["open", "filter", "y", "export"]), true)),
                near(episode(3, &ok(&["open", "z"]), false)),
            ],
            &NeighbourhoodConfig::default(),
        );
        assert_eq!(
            first_plan(&advice),
            (vec!["open", "filter", "export"], PlanStatus::Established)
        );
        assert!(advice.playbook_plan().is_some());
        assert_eq!(advice.failed_paths, vec![vec!["open", "z"]]);
    }

    #[test]
    fn a_plan_that_failed_in_its_last_uses_is_demoted_at_once() {
        let mut eps: Vec<SimilarEpisode> = (0..5)
            .map(|i| near(episode(i, &ok(&["open", "filter", "export"]), true)))
            .collect();
        // The procedure changed: the same steps now fail, twice in a row.
        eps.push(near(episode(10, &ok(&["open", "filter", "export"]), false)));
        eps.push(near(episode(11, &ok(&["open", "filter", "export"]), false)));
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert!(advice.playbook_plan().is_none(), "{advice:?}");
        let p = &advice.plans[0];
        assert_eq!(p.status, PlanStatus::Demoted);
        assert!(
            p.basis.contains("worked 5 times, failed the last 2"),
            "{}",
            p.basis
        );
        let ev = p.evidence.as_ref().unwrap();
        assert!(ev.failing_since.is_some() && ev.last_success < ev.failing_since);

        // A success with the new procedure then becomes the plan.
        eps.push(near(episode(12, &ok(&["open", "pivot", "export"]), true)));
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert_eq!(
            first_plan(&advice),
            (vec!["open", "pivot", "export"], PlanStatus::Tentative)
        );
    }

    #[test]
    fn what_a_demoted_procedure_shares_with_a_new_one_does_not_inherit_its_successes() {
        // Seven successes of the old procedure, then two failures: demoted. A new success
        // takes another path; the steps both share must not pass for an established plan.
        let mut eps: Vec<SimilarEpisode> = (0..7)
            .map(|i| near(episode(i, &ok(&["open", "filter", "export"]), true)))
            .collect();
        eps.push(near(episode(10, &ok(&["open", "filter", "export"]), false)));
        eps.push(near(episode(11, &ok(&["open", "filter", "export"]), false)));
        eps.push(near(episode(12, &ok(&["open", "pivot", "export"]), true)));
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert_eq!(
            first_plan(&advice),
            (vec!["open", "pivot", "export"], PlanStatus::Tentative),
            "{:?}",
            advice.plans
        );
        assert!(advice.plans.iter().any(|p| p.status == PlanStatus::Demoted
            && as_strs(&p.tools) == ["open", "filter", "export"]));
    }

    #[test]
    fn a_success_unlike_the_others_does_not_become_the_plan() {
        let mut eps: Vec<SimilarEpisode> = (0..4)
            .map(|i| near(episode(i, &ok(&["open", "filter", "export"]), true)))
            .collect();
        // The newest success took a random walk (or was misreported).
        eps.push(near(episode(
            9,
            &ok(&["mail", "open", "mail", "chart", "print", "filter"]),
            true,
        )));
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert_eq!(
            first_plan(&advice),
            (vec!["open", "filter", "export"], PlanStatus::Established)
        );
    }

    #[test]
    fn one_success_contradicted_by_another_is_not_a_playbook() {
        // Two similar successes that share nothing: at least one was luck or a wrong report.
        let eps = [
            near(episode(1, &ok(&["open", "filter", "export"]), true)),
            near(episode(2, &ok(&["mail", "chart", "print"]), true)),
        ];
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert!(advice.playbook_plan().is_none(), "{advice:?}");
        assert!(
            advice.plans[0]
                .basis
                .contains("1 other similar success took other paths"),
            "{}",
            advice.plans[0].basis
        );
        // A success after a demoted procedure is not contradicted by that procedure's history.
        let mut eps: Vec<SimilarEpisode> = (0..3)
            .map(|i| near(episode(i, &ok(&["open", "filter", "export"]), true)))
            .collect();
        eps.push(near(episode(5, &ok(&["open", "filter", "export"]), false)));
        eps.push(near(episode(6, &ok(&["open", "filter", "export"]), false)));
        eps.push(near(episode(7, &ok(&["mail", "chart", "print"]), true)));
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        assert_eq!(
            first_plan(&advice),
            (vec!["mail", "chart", "print"], PlanStatus::Tentative)
        );
    }

    #[test]
    fn thin_or_distant_evidence_is_not_a_playbook() {
        let far = SimilarEpisode {
            episode: Arc::new(episode(1, &ok(&["open", "export"]), true)),
            similarity: 0.46,
        };
        let advice = advise(&[far], &NeighbourhoodConfig::default());
        assert!(advice.playbook_plan().is_none());
        assert_eq!(advice.plans[0].status, PlanStatus::Conflicting);
        assert_eq!(
            advise(&[], &NeighbourhoodConfig::default()),
            Advice::default()
        );
    }

    #[test]
    fn recoveries_are_keyed_by_tool_and_error_class_not_by_the_detour() {
        let eps = [
            near(episode(
                1,
                &[
                    ("upload", false),
                    ("mail", true),
                    ("refresh", true),
                    ("upload", true),
                ],
                true,
            )),
            near(episode(
                2,
                &[
                    ("upload", false),
                    ("refresh", true),
                    ("chart", true),
                    ("upload", true),
                ],
                false,
            )),
            near(episode(
                3,
                &[("export", false), ("export", true), ("upload", false)],
                false,
            )),
        ];
        let advice = advise(&eps, &NeighbourhoodConfig::default());
        let r = advice
            .recovery_for("upload", "upload: quota exceeded for sheet 77")
            .unwrap();
        assert_eq!(r.action.as_deref(), Some("refresh"));
        assert_eq!((r.times, r.seen), (2, 3));
        assert!(!r.transient);
        let retry = advice
            .recovery_for("export", "export: quota exceeded for sheet 5")
            .unwrap();
        assert!(retry.transient && retry.action.is_none());
        assert!(retry.describe().contains("retry it (transient)"));
    }

    #[test]
    fn subsequence_and_common_subsequence() {
        assert!(is_subsequence(&["a", "c"], &["a", "b", "c"]));
        assert!(!is_subsequence(&["c", "a"], &["a", "b", "c"]));
        assert_eq!(
            common_subsequence(&["a", "x", "b", "c"], &["a", "b", "y", "c"]),
            vec!["a", "b", "c"]
        );
        assert!(common_subsequence(&["a"], &["b"]).is_empty());
    }
}
