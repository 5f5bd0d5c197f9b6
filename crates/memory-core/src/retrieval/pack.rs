//! The context pack: the retrieved episodes, rendered as Markdown an agent can read, within a
//! token budget.

use super::ScoreBreakdown;
use crate::learning::shorten;
use crate::model::{Episode, TaskContext, TaskOutcome, TaskType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use uuid::Uuid;

/// What a retrieval returns: ranked episodes and the Markdown pack built from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextPack {
    /// The namespace searched.
    pub namespace: String,
    /// The query text.
    pub query: String,
    /// The ranked hits, best first.
    pub hits: Vec<RetrievedEpisode>,
    /// The pack, ready to paste into an agent's context.
    pub markdown: String,
    /// Estimated tokens of `markdown` (never above `token_budget`).
    pub token_estimate: usize,
    /// The budget the pack was rendered for.
    pub token_budget: usize,
    /// How many candidate episodes were scored.
    pub candidates_considered: usize,
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
    /// Whether it made it into the Markdown pack (the budget may leave some out).
    pub in_pack: bool,
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
            in_pack: false,
        }
    }
}

/// Estimated tokens of `text`: one per four characters, rounded up.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// Renders `hits` as Markdown within `token_budget` and marks which hits made it in.
///
/// Each hit is written in full if it fits, else in a one-line form, else left out; the result
/// never exceeds the budget.
pub fn render_pack(
    namespace: &str,
    query: &str,
    hits: &mut [RetrievedEpisode],
    token_budget: usize,
) -> String {
    let max_chars = token_budget.saturating_mul(4);
    let mut out = format!("# Past experience for: {}\n\n", shorten(query, 120));
    if hits.is_empty() {
        let _ = writeln!(
            out,
            "No relevant past episodes in namespace `{namespace}` yet."
        );
    }
    for (i, hit) in hits.iter_mut().enumerate() {
        let used = out.chars().count();
        let full = render_full(i + 1, hit);
        let compact = render_compact(i + 1, hit);
        if used + full.chars().count() <= max_chars {
            out.push_str(&full);
            hit.in_pack = true;
        } else if used + compact.chars().count() <= max_chars {
            out.push_str(&compact);
            hit.in_pack = true;
        }
    }
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars).collect();
    }
    out
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

fn render_full(n: usize, hit: &RetrievedEpisode) -> String {
    let mut s = format!("## {n}. {}\n", shorten(&hit.task_description, 160));
    let _ = writeln!(s, "- Outcome: {}", outcome_line(hit));
    let _ = writeln!(s, "- Why: {}", hit.reason);
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
                context: 0.0,
                reward: 0.9,
                recency: 1.0,
                total: 0.8,
            },
            reason: "task shares 'task'".into(),
            in_pack: false,
        }
    }

    #[test]
    fn pack_never_exceeds_budget_and_marks_what_fits() {
        for budget in [64, 100, 150, 300, 1_000, 5_000] {
            let mut hits: Vec<_> = (0..10).map(hit).collect();
            let md = render_pack("ns", "find the task", &mut hits, budget);
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
        let md = render_pack("ns", "q", &mut hits, 5_000);
        assert!(hits.iter().all(|h| h.in_pack));
        assert!(md.contains("## 1. task number 0") && md.contains("- Lessons:"));
    }

    #[test]
    fn empty_pack_says_so() {
        let md = render_pack("team", "q", &mut [], 100);
        assert!(md.contains("No relevant past episodes in namespace `team`"));
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("éééé"), 1);
    }
}
