//! Checkpoints and hand-off: letting another agent (or a later session) pick up a task.
//!
//! `checkpoint_episode` records how far a running episode got, with a note. `handoff`
//! turns an episode into a [`HandoffPack`] — the goal, what was done, what worked, what
//! failed, what is still open, its checkpoints, and the patterns and heuristics the memory
//! knows for that context — as data and as Markdown. `resume` starts a new episode from a
//! pack, linked to the old one by a `follows` edge, in one transaction.
//!
//! This module builds and renders packs and prepares a resume's batch, without storage;
//! the facade's `checkpoint_episode`, `handoff` and `resume` (`memory/handoff.rs`) read and
//! write through the backend.

use crate::error::{Result, ValidationError};
use crate::learning::{failed_steps, shorten};
use crate::limits::Limits;
use crate::model::{
    Checkpoint, Episode, Heuristic, Pattern, PatternScope, Relationship, RelationshipKind,
    RelationshipMetadata, TaskContext, TaskOutcome, TaskType,
};
use crate::storage::ImportBatch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use uuid::Uuid;

/// How many done steps a pack lists (the most recent).
const PACK_DONE: usize = 15;

/// Everything another agent needs to continue a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffPack {
    /// The episode handed off.
    pub episode_id: Uuid,
    /// Its namespace.
    pub namespace: String,
    /// The task, in the original words.
    pub goal: String,
    /// The kind of work.
    pub task_type: TaskType,
    /// Where it happens.
    pub context: TaskContext,
    /// The episode's own tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `running`, or the outcome kind.
    pub status: String,
    /// The outcome, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TaskOutcome>,
    /// When the episode started.
    pub started_at: DateTime<Utc>,
    /// When the pack was made.
    pub created_at: DateTime<Utc>,
    /// Steps logged so far.
    pub steps_taken: usize,
    /// What was done: the most recent successful steps.
    pub done: Vec<String>,
    /// What worked.
    pub worked: Vec<String>,
    /// What failed, and whether it was recovered.
    pub failed: Vec<String>,
    /// What is still open.
    pub open_items: Vec<String>,
    /// The episode's checkpoints, oldest first.
    pub checkpoints: Vec<Checkpoint>,
    /// The best-supported patterns for this context.
    pub patterns: Vec<HandoffPattern>,
    /// The heuristics for this context.
    pub heuristics: Vec<Heuristic>,
    /// The pack as Markdown, ready for an agent's context.
    pub markdown: String,
}

/// A pattern as a hand-off pack carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffPattern {
    /// Pattern id.
    pub id: Uuid,
    /// The pattern in words.
    pub description: String,
    /// Where it holds.
    pub scope: PatternScope,
    /// Wilson lower bound of its success rate.
    pub confidence: f64,
    /// Episodes behind it.
    pub episodes: u64,
}

/// What [`SelfLearningMemory::resume`](crate::SelfLearningMemory::resume) stores for `pack` in `namespace` at `now`, once
/// checked against `limits`: the new episode and its `follows` edge, and the new episode's
/// id. Everything `resume` does before it writes, without storage (the hand-off fuzz target
/// runs it on every pack it parses).
pub fn resume_batch(
    limits: &Limits,
    namespace: &str,
    pack: &HandoffPack,
    now: DateTime<Utc>,
) -> Result<(Uuid, ImportBatch)> {
    limits.check_namespace(namespace)?;
    if pack.namespace != namespace {
        return Err(ValidationError::new(
            "namespace",
            format!(
                "the pack is of namespace `{}`, not `{namespace}`; resume it there",
                pack.namespace
            ),
        )
        .into());
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "resumed_from".into(),
        serde_json::Value::String(pack.episode_id.to_string()),
    );
    let episode = Episode {
        id: Uuid::now_v7(),
        namespace: namespace.to_string(),
        task_description: pack.goal.clone(),
        task_type: pack.task_type,
        context: pack.context.clone(),
        started_at: now,
        ended_at: None,
        steps: Vec::new(),
        outcome: None,
        reward: None,
        reflection: None,
        pattern_ids: Vec::new(),
        tags: pack.tags.clone(),
        metadata,
        retrieval_session: None,
    };
    limits.check_episode(&episode)?;
    let link = Relationship {
        id: Uuid::now_v7(),
        namespace: namespace.to_string(),
        from: episode.id,
        to: pack.episode_id,
        kind: RelationshipKind::Follows,
        metadata: RelationshipMetadata {
            reason: Some("resumed from a hand-off pack".into()),
            created_by: Some("resume".into()),
            ..RelationshipMetadata::default()
        },
        created_at: now,
    };
    let id = episode.id;
    let batch = ImportBatch {
        episodes: vec![episode],
        relationships: vec![link],
        ..ImportBatch::default()
    };
    Ok((id, batch))
}

/// Builds a pack from an episode and what the memory knows for its context.
pub fn build_pack(
    episode: &Episode,
    checkpoints: Vec<Checkpoint>,
    patterns: &[Pattern],
    heuristics: Vec<Heuristic>,
    now: DateTime<Utc>,
) -> HandoffPack {
    let steps = &episode.steps;
    let succeeded: Vec<String> = steps
        .iter()
        .filter(|s| s.result.is_success())
        .map(|s| {
            let action = shorten(&s.action, 120);
            if action.is_empty() {
                format!("step {}: `{}`", s.seq, s.tool)
            } else {
                format!("step {}: `{}` — {action}", s.seq, s.tool)
            }
        })
        .collect();
    let mut done = Vec::new();
    if succeeded.len() > PACK_DONE {
        done.push(format!(
            "({} earlier successful steps)",
            succeeded.len() - PACK_DONE
        ));
    }
    done.extend(
        succeeded
            .iter()
            .skip(succeeded.len().saturating_sub(PACK_DONE))
            .cloned(),
    );

    let failures = failed_steps(steps);
    let mut worked: Vec<String> = match &episode.reflection {
        Some(r) if !r.successes.is_empty() => r.successes.clone(),
        _ => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for s in steps.iter().filter(|s| s.result.is_success()) {
                *counts.entry(s.tool.as_str()).or_default() += 1;
            }
            let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            by_count
                .into_iter()
                .take(5)
                .map(|(tool, n)| format!("`{tool}` succeeded {n}×"))
                .collect()
        }
    };
    let mut failed = Vec::new();
    let mut open_items = Vec::new();
    for f in &failures {
        let what = match f.step.result.text() {
            "" => f.step.result.status().as_str().to_string(),
            text => shorten(text, 160),
        };
        match f.recovery {
            Some(path) => {
                let tools: Vec<String> = path.iter().map(|s| format!("`{}`", s.tool)).collect();
                failed.push(format!(
                    "step {}: `{}` failed ({what}); recovered by {}",
                    f.step.seq,
                    f.step.tool,
                    tools.join(" → ")
                ));
                worked.push(format!(
                    "after `{}` failed, {} fixed it",
                    f.step.tool,
                    tools.join(" → ")
                ));
            }
            None => {
                failed.push(format!(
                    "step {}: `{}` failed ({what}); not recovered",
                    f.step.seq, f.step.tool
                ));
                if episode.outcome.is_none() {
                    open_items.push(format!("`{}` still fails: {what}", f.step.tool));
                }
            }
        }
    }
    match &episode.outcome {
        None => {
            if let Some(last) = checkpoints.last() {
                open_items.push(format!(
                    "continue from the last checkpoint (after step {}): {}",
                    last.step_count, last.note
                ));
            }
            open_items.push("the task is not finished: no outcome is recorded yet".into());
        }
        Some(TaskOutcome::PartialSuccess { failed: left, .. }) => {
            open_items.extend(left.iter().map(|l| format!("not done: {l}")));
        }
        Some(TaskOutcome::Failure { reason, details }) => {
            open_items.push(format!("it failed: {reason}"));
            if let Some(d) = details {
                open_items.push(d.clone());
            }
        }
        Some(TaskOutcome::Abstained { reason }) => {
            open_items.push(format!("it was abandoned: {reason}"));
        }
        Some(TaskOutcome::Success { .. }) => {}
    }
    if let Some(r) = &episode.reflection {
        open_items.extend(r.improvements.iter().cloned());
    }
    let patterns: Vec<HandoffPattern> = patterns
        .iter()
        .map(|p| HandoffPattern {
            id: p.id,
            description: p.kind.describe(),
            scope: p.scope.clone(),
            confidence: p.stats.confidence(),
            episodes: p.stats.episodes,
        })
        .collect();
    let mut pack = HandoffPack {
        episode_id: episode.id,
        namespace: episode.namespace.clone(),
        goal: episode.task_description.clone(),
        task_type: episode.task_type,
        context: episode.context.clone(),
        tags: episode.tags.clone(),
        status: episode
            .outcome
            .as_ref()
            .map_or("running", |o| o.kind().as_str())
            .to_string(),
        outcome: episode.outcome.clone(),
        started_at: episode.started_at,
        created_at: now,
        steps_taken: steps.len(),
        done,
        worked,
        failed,
        open_items,
        checkpoints,
        patterns,
        heuristics,
        markdown: String::new(),
    };
    pack.markdown = render(&pack);
    pack
}

/// The pack as Markdown.
fn render(p: &HandoffPack) -> String {
    let mut s = format!("# Hand-off: {}\n", shorten(&p.goal, 200));
    let _ = writeln!(
        s,
        "episode `{}` · namespace `{}` · {} · {} · {} steps\n",
        p.episode_id, p.namespace, p.status, p.task_type, p.steps_taken
    );
    let ctx: Vec<String> = [
        p.context.domain.as_ref().map(|d| format!("domain {d}")),
        p.context.language.as_ref().map(|d| format!("language {d}")),
        p.context
            .framework
            .as_ref()
            .map(|d| format!("framework {d}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !ctx.is_empty() {
        let _ = writeln!(s, "Context: {}\n", ctx.join(", "));
    }
    let mut section = |title: &str, items: &[String]| {
        if !items.is_empty() {
            let _ = writeln!(s, "## {title}");
            for i in items {
                let _ = writeln!(s, "- {i}");
            }
            s.push('\n');
        }
    };
    section("Done", &p.done);
    section("What worked", &p.worked);
    section("What failed", &p.failed);
    section("Open items", &p.open_items);
    let notes: Vec<String> = p
        .checkpoints
        .iter()
        .map(|c| {
            format!(
                "{} (after step {}): {}",
                c.at.to_rfc3339(),
                c.step_count,
                c.note
            )
        })
        .collect();
    section("Checkpoints", &notes);
    let mut advice: Vec<String> = p.heuristics.iter().map(|h| h.text.clone()).collect();
    advice.extend(p.patterns.iter().map(|pat| {
        format!(
            "{} ({}; {} episodes, confidence {:.2})",
            pat.description,
            pat.scope.describe(),
            pat.episodes,
            pat.confidence
        )
    }));
    section("From memory", &advice);
    let _ = writeln!(
        s,
        "To continue as a new episode linked to this one: `memory resume PACK.json` \
         (the pack as JSON: `memory --format json handoff {}`).",
        p.episode_id
    );
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{StepInput, StepResult};

    #[test]
    fn a_running_episode_lists_done_failed_and_open_items() {
        let t = chrono::DateTime::UNIX_EPOCH;
        let step = |seq, tool: &str, result| StepInput::new(tool, "act", result).into_step(seq, t);
        let ok = || StepResult::Success {
            output: "ok".into(),
        };
        let err = |m: &str| StepResult::Error { message: m.into() };
        let episode = Episode {
            id: Uuid::from_u128(1),
            namespace: "ns".into(),
            task_description: "ship the feature".into(),
            task_type: TaskType::CodeGeneration,
            context: TaskContext::default(),
            started_at: t,
            ended_at: None,
            steps: vec![
                step(1, "cargo build", err("E0308 mismatched types")),
                step(2, "edit_file", ok()),
                step(3, "cargo build", ok()),
                step(4, "cargo test", err("2 tests failed")),
            ],
            outcome: None,
            reward: None,
            reflection: None,
            pattern_ids: vec![],
            tags: vec![],
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        };
        let cp = Checkpoint {
            id: Uuid::from_u128(2),
            namespace: "ns".into(),
            episode_id: episode.id,
            at: t,
            step_count: 3,
            note: "build is green; tests next".into(),
        };
        let pack = build_pack(&episode, vec![cp], &[], vec![], t);
        assert_eq!(pack.status, "running");
        assert_eq!(pack.done.len(), 2);
        assert!(pack.failed[0].contains("recovered by `edit_file` → `cargo build`"));
        assert!(pack.failed[1].contains("not recovered"));
        assert!(pack.open_items[0].contains("`cargo test` still fails: 2 tests failed"));
        assert!(pack.open_items[1].contains("build is green; tests next"));
        assert!(pack.markdown.contains("## Open items"));
        assert!(pack.markdown.contains("# Hand-off: ship the feature"));
    }

    #[test]
    fn a_pack_resumes_as_a_new_episode_that_follows_it_in_its_own_namespace_only() {
        let t = chrono::DateTime::UNIX_EPOCH;
        let episode = Episode {
            id: Uuid::from_u128(1),
            namespace: "ns".into(),
            task_description: "ship the feature".into(),
            task_type: TaskType::CodeGeneration,
            context: TaskContext::default(),
            started_at: t,
            ended_at: None,
            steps: vec![],
            outcome: None,
            reward: None,
            reflection: None,
            pattern_ids: vec![],
            tags: vec!["T-1".into()],
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        };
        let pack = build_pack(&episode, vec![], &[], vec![], t);
        let limits = Limits::default();
        let (id, batch) = resume_batch(&limits, "ns", &pack, t).unwrap();
        assert_eq!(batch.episodes.len(), 1);
        assert_eq!(batch.episodes[0].id, id);
        assert_eq!(batch.episodes[0].task_description, "ship the feature");
        assert_eq!(batch.episodes[0].tags, vec!["T-1".to_string()]);
        let link = &batch.relationships[0];
        assert_eq!((link.from, link.to), (id, episode.id));
        assert_eq!(link.kind, RelationshipKind::Follows);

        let err = resume_batch(&limits, "other", &pack, t).unwrap_err();
        assert!(
            err.to_string().contains("the pack is of namespace `ns`"),
            "{err}"
        );
        let mut empty = pack.clone();
        empty.goal = " ".into();
        assert!(resume_batch(&limits, "ns", &empty, t).is_err());
    }
}
