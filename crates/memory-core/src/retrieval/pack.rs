//! The context pack: the retrieved episodes, rendered as Markdown an agent can read, within a
//! token budget.

use super::{
    Exploration, KnownRecovery, PlanOption, Playbook, Recommendations, RecommendedPattern,
    ScoreBreakdown,
};
use crate::learning::shorten;
use crate::model::{
    Direction, Episode, Heuristic, RelationshipKind, TaskContext, TaskOutcome, TaskType,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use uuid::Uuid;

/// What a retrieval returns: ranked episodes and the Markdown pack built from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPack {
    /// Identifies this retrieval; report feedback on the recommendations against it. Absent
    /// for a read-only lookup (`RetrievalQuery::record_session` off), which records nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// The namespace searched.
    pub namespace: String,
    /// The query text.
    pub query: String,
    /// The ranked hits, best first.
    pub hits: Vec<RetrievedEpisode>,
    /// The learned patterns that apply, best first.
    pub patterns: Vec<RecommendedPattern>,
    /// Rules in words that apply, most relevant first.
    pub heuristics: Vec<Heuristic>,
    /// The plan that similar successful episodes agree on, when one is reliable.
    pub playbook: Option<Playbook>,
    /// When no plan is reliable: options to try and what failed for similar tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploration: Option<Exploration>,
    /// What cleared each (tool, error class) in similar episodes; transient errors are
    /// cleared by a plain retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recoveries: Vec<KnownRecovery>,
    /// Similar past episodes the advice was drawn from (its neighbourhood).
    #[serde(default)]
    pub neighbours: usize,
    /// The pack, ready to paste into an agent's context.
    pub markdown: String,
    /// Estimated tokens of `markdown` (never above `token_budget`).
    pub token_estimate: usize,
    /// The budget the pack was rendered for.
    pub token_budget: usize,
    /// How many candidate episodes were scored.
    pub candidates_considered: usize,
    /// What went wrong without failing the retrieval (an embedder that failed, so the
    /// vectors were left out); also at the top of `markdown`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One retrieved episode, with the score and the reason it was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedEpisode {
    /// Episode id.
    pub id: Uuid,
    /// What the task was.
    pub task_description: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happened.
    pub context: TaskContext,
    /// How it ended.
    pub outcome: Option<TaskOutcome>,
    /// Its reward.
    pub reward: Option<f64>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Steps taken.
    pub step_count: usize,
    /// The tools used, in order, consecutive repeats collapsed.
    pub tools: Vec<String>,
    /// The lessons worth passing on, from its reflection.
    pub lessons: Vec<String>,
    /// Its score and the parts of it.
    pub score: ScoreBreakdown,
    /// Why it was chosen, in one line.
    pub reason: String,
    /// The strong hits of this retrieval it is related to (it got a boost for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedLink>,
    /// Whether it made it into the Markdown pack (the budget may leave some out).
    pub in_pack: bool,
}

/// An edge between a retrieved episode and a strong hit of the same retrieval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedLink {
    /// The strong hit.
    pub episode: Uuid,
    /// The edge's kind.
    pub kind: RelationshipKind,
    /// `outgoing` when the edge runs from this episode to the hit, `incoming` otherwise.
    pub direction: Direction,
}

impl RetrievedEpisode {
    /// Builds a hit from a full episode and its ranking.
    pub fn from_episode(episode: &Episode, score: ScoreBreakdown, reason: String) -> Self {
        let reflection = episode.reflection.clone().unwrap_or_default();
        let failed = matches!(episode.outcome, Some(TaskOutcome::Failure { .. }));
        // For a failure the improvements are the lesson; for the rest, the insights.
        let (first, second) = if failed {
            (&reflection.improvements, &reflection.insights)
        } else {
            (&reflection.insights, &reflection.improvements)
        };
        let lessons = first
            .iter()
            .take(3)
            .chain(second.iter().take(2))
            .cloned()
            .collect();
        RetrievedEpisode {
            id: episode.id,
            task_description: episode.task_description.clone(),
            task_type: episode.task_type,
            context: episode.context.clone(),
            outcome: episode.outcome.clone(),
            reward: episode.reward.as_ref().map(|r| r.total),
            ended_at: episode.ended_at,
            step_count: episode.steps.len(),
            tools: crate::learning::tool_sequence(&episode.steps)
                .into_iter()
                .map(str::to_string)
                .collect(),
            lessons,
            score,
            reason,
            related: Vec::new(),
            in_pack: false,
        }
    }
}

/// Estimated tokens of `text`: one per four characters, rounded up.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// Renders the recommendations and `hits` as Markdown within `token_budget`, and marks which
/// hits made it in.
///
/// Order: the playbook, the heuristics, then the episodes — the most compact advice first.
/// Each block is written whole if it fits; an episode that does not fit in full gets a
/// one-line form if that fits; the result never exceeds the budget.
pub fn render_pack(
    session_id: Option<Uuid>,
    warnings: &[String],
    namespace: &str,
    query: &str,
    recs: &Recommendations,
    hits: &mut [RetrievedEpisode],
    token_budget: usize,
) -> String {
    let max_chars = token_budget.saturating_mul(4);
    let mut out = Budgeted {
        text: String::new(),
        chars: 0,
        max_chars,
    };
    let session = match session_id {
        Some(id) => format!("session `{id}`"),
        None => "read-only lookup (no session: feedback cannot be recorded)".to_string(),
    };
    out.push(&format!(
        "# Past experience for: {}\n{session}\n\n",
        shorten(query, 120)
    ));
    for w in warnings {
        out.push(&format!("> warning: {}\n\n", shorten(w, 300)));
    }
    if let Some(pb) = &recs.playbook {
        out.push(&render_playbook(pb));
    }
    if let Some(ex) = &recs.exploration {
        out.push(&render_exploration(ex));
    }
    let mut heading = Some("## When a tool fails (similar tasks)\n");
    for r in &recs.recoveries {
        out.push_under(&mut heading, &format!("- {}\n", r.describe()));
    }
    if heading.is_none() {
        out.push("\n");
    }
    // A section heading is written only together with the first item that fits under it.
    let mut heading = Some("## Heuristics\n");
    for h in &recs.heuristics {
        out.push_under(&mut heading, &format!("- {}\n", shorten(&h.text, 300)));
    }
    if heading.is_none() {
        out.push("\n");
    }
    if hits.is_empty() {
        out.push(&format!(
            "No relevant past episodes in namespace `{namespace}` yet.\n"
        ));
    }
    let numbers: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let mut heading = Some("## Similar past episodes\n\n");
    for (i, hit) in hits.iter_mut().enumerate() {
        hit.in_pack = out.push_under(&mut heading, &render_full(i + 1, hit, &numbers))
            || out.push_under(&mut heading, &render_compact(i + 1, hit));
    }
    if out.text.chars().count() > max_chars {
        out.text = out.text.chars().take(max_chars).collect();
    }
    out.text
}

/// Text that only grows by whole blocks that fit the budget.
struct Budgeted {
    text: String,
    chars: usize,
    max_chars: usize,
}

impl Budgeted {
    /// Appends `block`, preceded by `heading` if one is still pending, if both fit; says
    /// whether it did (and the heading is then no longer pending).
    fn push_under(&mut self, heading: &mut Option<&str>, block: &str) -> bool {
        match heading {
            Some(h) if self.push(&format!("{h}{block}")) => {
                *heading = None;
                true
            }
            Some(_) => false,
            None => self.push(block),
        }
    }

    /// Appends `block` if it fits; says whether it did.
    fn push(&mut self, block: &str) -> bool {
        let n = block.chars().count();
        if self.chars + n > self.max_chars {
            return false;
        }
        self.text.push_str(block);
        self.chars += n;
        true
    }
}

fn render_playbook(pb: &Playbook) -> String {
    let mut s = format!("## Playbook\n_{}_\n", pb.basis);
    for (i, step) in pb.steps.iter().enumerate() {
        let _ = write!(s, "{}. `{}`", i + 1, step.tool);
        if let Some(f) = &step.if_it_fails {
            let _ = write!(s, " — {f}");
        }
        s.push('\n');
    }
    if !pb.pitfalls.is_empty() {
        s.push_str("Pitfalls:\n");
        for p in &pb.pitfalls {
            let _ = writeln!(s, "- {}", shorten(p, 240));
        }
    }
    s.push('\n');
    s
}

fn render_exploration(ex: &Exploration) -> String {
    let mut s = format!("## No reliable procedure yet\n_{}_\n", ex.reason);
    let option = |s: &mut String, o: &PlanOption| {
        let _ = writeln!(
            s,
            "- {} ({}: {})",
            shorten(&crate::learning::heuristics::arrows(&o.tools), 200),
            o.status.label(),
            shorten(&o.basis, 160)
        );
    };
    if !ex.options.is_empty() {
        s.push_str("Options to try:\n");
        ex.options.iter().for_each(|o| option(&mut s, o));
    }
    if !ex.tried_and_failed.is_empty() {
        s.push_str("Tried and failed for similar tasks:\n");
        ex.tried_and_failed.iter().for_each(|o| option(&mut s, o));
    }
    if !ex.failed_paths.is_empty() {
        s.push_str("Recent failed attempts:\n");
        for p in &ex.failed_paths {
            let _ = writeln!(s, "- {}", shorten(&p.join(" → "), 200));
        }
    }
    s.push('\n');
    s
}

fn outcome_line(hit: &RetrievedEpisode) -> String {
    let mut parts = Vec::new();
    match &hit.outcome {
        Some(o) => parts.push(format!("{} — {}", o.kind(), shorten(o.summary(), 100))),
        None => parts.push("running".to_string()),
    }
    if let Some(r) = hit.reward {
        parts.push(format!("reward {r:.2}"));
    }
    parts.push(hit.task_type.to_string());
    let ctx: Vec<&str> = [
        &hit.context.domain,
        &hit.context.language,
        &hit.context.framework,
    ]
    .into_iter()
    .filter_map(|f| f.as_deref())
    .collect();
    if !ctx.is_empty() {
        parts.push(ctx.join("/"));
    }
    parts.push(format!("{} steps", hit.step_count));
    parts.join(" · ")
}

fn render_full(n: usize, hit: &RetrievedEpisode, numbers: &[Uuid]) -> String {
    let mut s = format!("### {n}. {}\n", shorten(&hit.task_description, 160));
    let _ = writeln!(s, "- Outcome: {}", outcome_line(hit));
    let _ = writeln!(s, "- Why: {}", hit.reason);
    if !hit.related.is_empty() {
        let links: Vec<String> = hit
            .related
            .iter()
            .map(|l| {
                let other = match numbers.iter().position(|id| *id == l.episode) {
                    Some(i) => format!("#{}", i + 1),
                    None => format!("episode {}", l.episode),
                };
                match l.direction {
                    Direction::Incoming => format!("{other} `{}` this", l.kind),
                    _ => format!("this `{}` {other}", l.kind),
                }
            })
            .collect();
        let _ = writeln!(s, "- Related: {}", links.join("; "));
    }
    if !hit.tools.is_empty() {
        let _ = writeln!(s, "- Tools: {}", shorten(&hit.tools.join(" → "), 200));
    }
    if !hit.lessons.is_empty() {
        let _ = writeln!(s, "- Lessons:");
        for lesson in &hit.lessons {
            let _ = writeln!(s, "  - {}", shorten(lesson, 200));
        }
    }
    s.push('\n');
    s
}

fn render_compact(n: usize, hit: &RetrievedEpisode) -> String {
    format!(
        "{n}. {} ({})\n",
        shorten(&hit.task_description, 80),
        hit.outcome
            .as_ref()
            .map(|o| o.kind().to_string())
            .unwrap_or_else(|| "running".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(i: usize) -> RetrievedEpisode {
        RetrievedEpisode {
            id: Uuid::now_v7(),
            task_description: format!("task number {i} with a reasonably long description"),
            task_type: TaskType::Debugging,
            context: TaskContext::default(),
            outcome: Some(TaskOutcome::Success {
                verdict: "done".into(),
                artifacts: vec![],
            }),
            reward: Some(0.9),
            ended_at: None,
            step_count: 4,
            tools: vec!["a".into(), "b".into()],
            lessons: vec!["After `a` failed, `b` fixed it".repeat(3)],
            score: ScoreBreakdown {
                text: 1.0,
                lexical_rank: None,
                semantic_rank: None,
                similarity: None,
                chunk: None,
                coverage: None,
                context: 0.0,
                reward: 0.9,
                recency: 1.0,
                relation: 0.0,
                total: 0.8,
            },
            reason: "task shares 'task'".into(),
            related: vec![],
            in_pack: false,
        }
    }

    #[test]
    fn pack_never_exceeds_budget_and_marks_what_fits() {
        for budget in [64, 100, 150, 300, 1_000, 5_000] {
            let mut hits: Vec<_> = (0..10).map(hit).collect();
            let md = render_pack(
                Some(Uuid::nil()),
                &[],
                "ns",
                "find the task",
                &Recommendations::default(),
                &mut hits,
                budget,
            );
            assert!(
                estimate_tokens(&md) <= budget,
                "budget {budget}: {}",
                estimate_tokens(&md)
            );
            for h in &hits {
                assert_eq!(
                    md.contains(&h.task_description),
                    h.in_pack,
                    "budget {budget}"
                );
            }
        }
        let mut hits: Vec<_> = (0..3).map(hit).collect();
        let md = render_pack(
            Some(Uuid::nil()),
            &[],
            "ns",
            "q",
            &Recommendations::default(),
            &mut hits,
            5_000,
        );
        assert!(hits.iter().all(|h| h.in_pack));
        assert!(md.contains("### 1. task number 0") && md.contains("- Lessons:"));
    }

    #[test]
    fn headings_only_come_with_content() {
        let rule = Heuristic {
            pattern_id: Uuid::nil(),
            kind: crate::model::HeuristicKind::Recommend,
            condition: "In rust".into(),
            action: "run the tests single-threaded".into(),
            text: "In rust, run the tests single-threaded — 7/8 episodes succeeded".repeat(3),
            confidence: 0.5,
            episodes: 8,
            successful_episodes: 7,
            evidence: vec![],
        };
        let recs = Recommendations {
            heuristics: vec![rule],
            ..Recommendations::default()
        };
        for budget in (64..600).step_by(3) {
            let mut hits: Vec<_> = (0..3).map(hit).collect();
            let md = render_pack(Some(Uuid::nil()), &[], "ns", "q", &recs, &mut hits, budget);
            assert!(estimate_tokens(&md) <= budget);
            if md.contains("## Heuristics") {
                assert!(md.contains("- In rust"), "budget {budget}: {md}");
            }
            if md.contains("## Similar past episodes") {
                assert!(hits.iter().any(|h| h.in_pack), "budget {budget}: {md}");
            }
        }
    }

    #[test]
    fn no_reliable_procedure_and_recoveries_are_rendered_with_their_evidence() {
        use crate::retrieval::{KnownRecovery, PlanOrigin, PlanStatus};
        let option = |tools: &[&str], status, origin, basis: &str| PlanOption {
            tools: tools.iter().map(|t| (*t).to_string()).collect(),
            status,
            origin,
            evidence: None,
            basis: basis.into(),
        };
        let recs = Recommendations {
            exploration: Some(Exploration {
                reason: "no reliable procedure yet: 4 similar episodes do not agree".into(),
                options: vec![option(
                    &["sheet_open", "pivot_table"],
                    PlanStatus::FromContext,
                    PlanOrigin::ContextFallback,
                    "learned on other tasks in spreadsheets — untested on tasks like this one",
                )],
                tried_and_failed: vec![option(
                    &["sheet_open", "export_csv"],
                    PlanStatus::Demoted,
                    PlanOrigin::Neighbourhood,
                    "worked 3 times, failed the last 2 in similar tasks",
                )],
                failed_paths: vec![vec!["crm_lookup".into(), "send_email".into()]],
            }),
            recoveries: vec![KnownRecovery {
                tool: "sheet_open".into(),
                error_class: "file lock held by another editor (<n>)".into(),
                action: Some("unlock_record".into()),
                transient: false,
                times: 3,
                seen: 4,
                example: "file lock held by another editor (12)".into(),
            }],
            ..Recommendations::default()
        };
        let md = render_pack(Some(Uuid::nil()), &[], "ns", "q", &recs, &mut [], 2_000);
        for part in [
            "## No reliable procedure yet",
            "Options to try:\n- `sheet_open` → `pivot_table` (from other tasks: learned on other tasks",
            "Tried and failed for similar tasks:\n- `sheet_open` → `export_csv` (demoted: worked 3 times, failed the last 2",
            "Recent failed attempts:\n- crm_lookup → send_email",
            "## When a tool fails (similar tasks)\n- if `sheet_open` fails with \"file lock held by another editor (<n>)\": run `unlock_record`, then `sheet_open` again — cleared 3 of 4 times",
        ] {
            assert!(md.contains(part), "missing {part:?} in:\n{md}");
        }
        assert!(!md.contains("## Playbook"));
    }

    #[test]
    fn empty_pack_says_so() {
        let md = render_pack(
            Some(Uuid::nil()),
            &[],
            "team",
            "q",
            &Recommendations::default(),
            &mut [],
            100,
        );
        assert!(md.contains("No relevant past episodes in namespace `team`"));
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
    }
}
