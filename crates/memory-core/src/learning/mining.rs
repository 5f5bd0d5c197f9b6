//! Pattern mining: what one completed episode contributes to the patterns of its namespace.
//!
//! [`mine`] turns an episode into observations; the storage backend merges each observation
//! into the pattern with the same signature (see [`Pattern::absorb`]), so counts accumulate
//! across episodes. Statistics are conditioned on the episode's outcome: a failed episode
//! whose steps all succeeded still counts as a failure for its sequences.
//!
//! Scopes: tool sequences and decisions hold in the episode's (domain, language, task type);
//! error recoveries in its language (errors belong to tools, not to problem areas); context
//! patterns in the single feature they are about.

use super::normalize::error_class;
use super::recovery::failed_steps;
use super::stats::lift;
use crate::model::{
    Episode, ExecutionStep, OutcomeStats, Pattern, PatternKind, PatternScope, StepResult,
    TaskOutcome,
};
use crate::stable_hash::fnv1a64;
use chrono::{DateTime, Utc};
use uuid::Uuid;

// What mining produces lives in the model, shared with the storage contract.
pub use crate::model::{Mined, Observation};

/// The tool name by which an agent marks a decision step; its parameters carry
/// `{"condition": "...", "choice": "..."}` (else the action is the condition and the output the
/// choice).
pub const DECISION_TOOL: &str = "decision";
/// Shortest and longest tool n-gram mined.
pub const NGRAM_LENGTHS: std::ops::RangeInclusive<usize> = 2..=5;
/// Longest approach kept for a context pattern.
const MAX_APPROACH: usize = 6;
/// Most evidence ids kept per pattern.
pub const MAX_EVIDENCE: usize = 20;

/// What a completed episode teaches; nothing for a running or abstained one (abstaining says
/// nothing about whether an approach works).
pub fn mine(episode: &Episode) -> Mined {
    let success = match &episode.outcome {
        Some(TaskOutcome::Success { .. }) => 1.0,
        Some(TaskOutcome::PartialSuccess { .. }) => 0.5,
        Some(TaskOutcome::Failure { .. }) => 0.0,
        Some(TaskOutcome::Abstained { .. }) | None => return Mined::default(),
    };
    let reward = episode.reward.as_ref().map_or(success, |r| r.total);
    let mut out: Vec<Observation> = Vec::new();
    let mut add = |kind: PatternKind, scope: PatternScope, example: Option<String>| {
        let signature = signature(&kind, &scope);
        if !out.iter().any(|o| o.signature == signature) {
            out.push(Observation {
                kind,
                scope,
                signature,
                success,
                reward,
                episode_id: episode.id,
                example,
            });
        }
    };

    let ctx = &episode.context;
    let task_scope = PatternScope {
        domain: ctx.domain.clone(),
        language: ctx.language.clone(),
        task_type: Some(episode.task_type),
        ..PatternScope::default()
    };
    let tools = tool_path(&episode.steps);

    for n in NGRAM_LENGTHS {
        for window in tools.windows(n) {
            let tools = window.iter().map(|t| (*t).to_string()).collect();
            add(
                PatternKind::ToolSequence { tools },
                task_scope.clone(),
                None,
            );
        }
    }

    let recovery_scope = PatternScope {
        language: ctx.language.clone(),
        ..PatternScope::default()
    };
    for failed in failed_steps(&episode.steps) {
        let Some(path) = failed.recovery else {
            continue;
        };
        let class = match &failed.step.result {
            StepResult::Error { message } => error_class(message),
            _ => "timeout".to_string(),
        };
        for action in recovery_actions(&failed.step.tool, path) {
            let kind = PatternKind::ErrorRecovery {
                tool: failed.step.tool.clone(),
                error_class: class.clone(),
                recovery: vec![action.to_string()],
            };
            add(kind, recovery_scope.clone(), Some(describe_steps(path)));
        }
    }

    for step in episode.steps.iter().filter(|s| is_decision(s)) {
        if let Some((condition, choice)) = decision(step) {
            add(
                PatternKind::DecisionPoint { condition, choice },
                task_scope.clone(),
                Some(step.action.clone()).filter(|a| !a.is_empty()),
            );
        }
    }

    let features = features(episode);
    if !tools.is_empty() {
        let approach: Vec<String> = tools
            .iter()
            .take(MAX_APPROACH)
            .map(|t| (*t).to_string())
            .collect();
        for (feature, scope) in &features {
            add(
                PatternKind::ContextPattern {
                    features: vec![feature.clone()],
                    approach: approach.clone(),
                },
                scope.clone(),
                None,
            );
        }
    }
    let mut contexts: Vec<PatternScope> = Vec::new();
    let all = [task_scope, recovery_scope]
        .into_iter()
        .chain(features.into_iter().map(|(_, scope)| scope));
    for scope in all {
        if !contexts.iter().any(|c| c.key() == scope.key()) {
            contexts.push(scope);
        }
    }
    Mined {
        observations: out,
        contexts,
        success,
        reward,
    }
}

/// The stable signature of a pattern: FNV-1a (64-bit) of a canonical text of kind and scope,
/// as 16 hex digits. Stable across versions and platforms; never change it without a migration.
pub fn signature(kind: &PatternKind, scope: &PatternScope) -> String {
    const SEP: char = '\u{1f}';
    let join = |items: &[String]| items.join(&SEP.to_string());
    let canonical = match kind {
        PatternKind::ToolSequence { tools } => format!("seq{SEP}{}", join(tools)),
        PatternKind::ErrorRecovery {
            tool,
            error_class,
            recovery,
        } => format!("rec{SEP}{tool}{SEP}{error_class}{SEP}{}", join(recovery)),
        PatternKind::DecisionPoint { condition, choice } => {
            format!("dec{SEP}{condition}{SEP}{choice}")
        }
        PatternKind::ContextPattern { features, approach } => {
            format!("ctx{SEP}{}{SEP}{SEP}{}", join(features), join(approach))
        }
    };
    let hash = fnv1a64(format!("{canonical}|{}", scope.key()).as_bytes());
    format!("{hash:016x}")
}

impl Pattern {
    /// A new pattern from its first observation.
    pub fn from_observation(
        namespace: &str,
        obs: &Observation,
        baseline: &OutcomeStats,
        now: DateTime<Utc>,
        half_life_days: f64,
    ) -> Pattern {
        let mut p = Pattern {
            id: Uuid::now_v7(),
            namespace: namespace.to_string(),
            kind: obs.kind.clone(),
            signature: obs.signature.clone(),
            scope: obs.scope.clone(),
            stats: OutcomeStats::empty(now),
            lift: 1.0,
            effectiveness: Default::default(),
            evidence: Vec::new(),
            example: None,
            created_at: now,
            last_seen: now,
        };
        p.absorb(obs, baseline, now, half_life_days);
        p
    }

    /// Merges another episode's observation of this pattern; `baseline` is the scope's
    /// statistics (already including this episode), from which `lift` is recomputed.
    pub fn absorb(
        &mut self,
        obs: &Observation,
        baseline: &OutcomeStats,
        now: DateTime<Utc>,
        half_life_days: f64,
    ) {
        self.stats
            .record(obs.success, obs.reward, now, half_life_days);
        self.lift = lift(
            self.stats.success_rate(),
            baseline.at(now, half_life_days).success_rate(),
        );
        self.evidence.retain(|id| *id != obs.episode_id);
        self.evidence.push(obs.episode_id);
        if self.evidence.len() > MAX_EVIDENCE {
            let extra = self.evidence.len() - MAX_EVIDENCE;
            self.evidence.drain(..extra);
        }
        if obs.example.is_some() {
            self.example.clone_from(&obs.example);
        }
        self.last_seen = now.max(self.last_seen);
    }

    /// Takes back what a deleted episode's observation `obs`, counted at `at` (its
    /// completion), added: its share of the statistics, its evidence id, and the example
    /// when it is the observation's. `baseline` is the scope's statistics without the
    /// episode, from which `lift` is recomputed. A pattern left with no episode should be
    /// deleted rather than kept.
    pub fn forget(
        &mut self,
        obs: &Observation,
        baseline: &OutcomeStats,
        at: DateTime<Utc>,
        half_life_days: f64,
    ) {
        self.stats
            .forget(obs.success, obs.reward, at, half_life_days);
        let now = self.stats.updated_at;
        self.lift = lift(
            self.stats.success_rate(),
            baseline.at(now, half_life_days).success_rate(),
        );
        self.evidence.retain(|id| *id != obs.episode_id);
        if obs.example.is_some() && self.example == obs.example {
            self.example = None;
        }
    }
}

/// Most actions of one recovery path counted as candidates for what cleared the error (the
/// last ones before the tool's success).
const MAX_RECOVERY_ACTIONS: usize = 6;

/// What may have cleared `tool`'s failure, given the steps from the failure to the tool's
/// next success (`path`, ending with it): the last few distinct tools that succeeded in
/// between, or the tool itself when nothing ran in between (a plain retry). Each is observed
/// on its own, so across episodes the action that is always there gathers the support,
/// whatever detour each episode took.
fn recovery_actions<'a>(tool: &'a str, path: &'a [ExecutionStep]) -> Vec<&'a str> {
    let mut actions: Vec<&str> = Vec::new();
    for s in path
        .iter()
        .rev()
        .filter(|s| s.result.is_success() && s.tool != tool)
    {
        let t = s.tool.trim();
        if !actions.contains(&t) && !is_decision(s) {
            actions.push(t);
        }
        if actions.len() == MAX_RECOVERY_ACTIONS {
            break;
        }
    }
    if actions.is_empty() {
        actions.push(tool);
    }
    actions
}

/// The episode's tools in order, decisions left out and consecutive repeats collapsed.
fn tool_path(steps: &[ExecutionStep]) -> Vec<&str> {
    let mut path: Vec<&str> = Vec::new();
    for s in steps.iter().filter(|s| !is_decision(s)) {
        let tool = s.tool.trim();
        if path.last() != Some(&tool) {
            path.push(tool);
        }
    }
    path
}

fn is_decision(step: &ExecutionStep) -> bool {
    step.tool.trim().eq_ignore_ascii_case(DECISION_TOOL)
}

fn decision(step: &ExecutionStep) -> Option<(String, String)> {
    let param = |k: &str| {
        step.parameters
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let condition = param("condition").unwrap_or_else(|| step.action.clone());
    let choice = param("choice").unwrap_or_else(|| step.result.text().to_string());
    let (condition, choice) = (error_class(&condition), choice.trim().to_lowercase());
    (!condition.is_empty() && !choice.is_empty()).then_some((condition, choice))
}

/// `tool: action (params)` for each step of a path, for a pattern's example.
fn describe_steps(path: &[ExecutionStep]) -> String {
    path.iter()
        .map(|s| {
            let mut d = format!("`{}`", s.tool);
            if !s.action.is_empty() {
                d.push_str(&format!(": {}", super::shorten(&s.action, 80)));
            }
            if !s.parameters.is_null() {
                d.push_str(&format!(
                    " {}",
                    super::shorten(&s.parameters.to_string(), 80)
                ));
            }
            d
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The single-feature scopes of an episode's context: `domain=…`, `language=…`, and so on.
fn features(episode: &Episode) -> Vec<(String, PatternScope)> {
    let ctx = &episode.context;
    let mut out = Vec::new();
    let mut one = |name: &str, value: &str, scope: PatternScope| {
        out.push((format!("{name}={}", value.to_lowercase()), scope));
    };
    if let Some(d) = &ctx.domain {
        one(
            "domain",
            d,
            PatternScope {
                domain: Some(d.clone()),
                ..PatternScope::default()
            },
        );
    }
    if let Some(l) = &ctx.language {
        one(
            "language",
            l,
            PatternScope {
                language: Some(l.clone()),
                ..PatternScope::default()
            },
        );
    }
    if let Some(f) = &ctx.framework {
        one(
            "framework",
            f,
            PatternScope {
                framework: Some(f.clone()),
                ..PatternScope::default()
            },
        );
    }
    let t = episode.task_type;
    one(
        "task_type",
        t.as_str(),
        PatternScope {
            task_type: Some(t),
            ..PatternScope::default()
        },
    );
    for tag in &ctx.tags {
        one(
            "tag",
            tag,
            PatternScope {
                tag: Some(tag.clone()),
                ..PatternScope::default()
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StepInput, TaskContext, TaskType};
    use serde_json::json;

    fn step(seq: u32, tool: &str, result: StepResult) -> ExecutionStep {
        StepInput::new(tool, format!("do {tool}"), result).into_step(seq, Utc::now())
    }

    fn ok() -> StepResult {
        StepResult::Success {
            output: "ok".into(),
        }
    }

    fn episode(tools: &[(&str, StepResult)], outcome: TaskOutcome) -> Episode {
        Episode {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: "t".into(),
            task_type: TaskType::Debugging,
            context: TaskContext {
                domain: Some("web-api".into()),
                language: Some("rust".into()),
                tags: vec!["ci".into()],
                ..TaskContext::default()
            },
            started_at: Utc::now(),
            ended_at: Some(Utc::now()),
            steps: tools
                .iter()
                .enumerate()
                .map(|(i, (t, r))| step(i as u32 + 1, t, r.clone()))
                .collect(),
            outcome: Some(outcome),
            reward: None,
            reflection: None,
            pattern_ids: vec![],
            tags: vec![],
            metadata: Default::default(),
            retrieval_session: None,
        }
    }

    fn success() -> TaskOutcome {
        TaskOutcome::Success {
            verdict: "ok".into(),
            artifacts: vec![],
        }
    }

    fn sequences(obs: &[Observation]) -> Vec<Vec<String>> {
        obs.iter()
            .filter_map(|o| match &o.kind {
                PatternKind::ToolSequence { tools } => Some(tools.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ngrams_collapse_repeats_and_span_two_to_five() {
        let ep = episode(
            &[
                ("a", ok()),
                ("a", ok()),
                ("b", ok()),
                ("c", ok()),
                ("d", ok()),
                ("e", ok()),
                ("f", ok()),
            ],
            success(),
        );
        let seqs = sequences(&mine(&ep).observations);
        // Path a b c d e f: 5 bigrams + 4 trigrams + 3 four-grams + 2 five-grams.
        assert_eq!(seqs.len(), 14);
        assert!(seqs.contains(&vec!["a".into(), "b".into()]));
        assert!(!seqs.iter().any(|s| s.len() > 5 || s.len() < 2));
        assert!(!seqs.contains(&vec!["a".into(), "a".into()]));
    }

    #[test]
    fn failed_episode_counts_as_failure_even_if_steps_succeeded() {
        let ep = episode(
            &[("a", ok()), ("b", ok())],
            TaskOutcome::Failure {
                reason: "wrong fix".into(),
                details: None,
            },
        );
        let mined = mine(&ep);
        assert_eq!(mined.success, 0.0);
        assert!(!mined.observations.is_empty());
        assert!(mined.observations.iter().all(|o| o.success == 0.0));
        let abstained = episode(
            &[("a", ok()), ("b", ok())],
            TaskOutcome::Abstained { reason: "r".into() },
        );
        assert!(mine(&abstained).is_empty());
        assert!(mine(&abstained).contexts.is_empty());
    }

    #[test]
    fn recoveries_through_different_detours_merge_on_the_action_and_retries_are_their_own() {
        let fail = || StepResult::Error {
            message: "quota exceeded for sheet 12".into(),
        };
        let recoveries = |steps: &[(&str, StepResult)]| -> Vec<Vec<String>> {
            mine(&episode(steps, success()))
                .observations
                .into_iter()
                .filter_map(|o| match o.kind {
                    PatternKind::ErrorRecovery { recovery, .. } => Some(recovery),
                    _ => None,
                })
                .collect()
        };
        let a = recoveries(&[
            ("upload", fail()),
            ("mail", ok()),
            ("refresh", ok()),
            ("upload", ok()),
        ]);
        let b = recoveries(&[
            ("upload", fail()),
            ("refresh", ok()),
            ("chart", fail()),
            ("print", ok()),
            ("upload", ok()),
        ]);
        let refresh = vec!["refresh".to_string()];
        assert!(a.contains(&refresh) && b.contains(&refresh), "{a:?} {b:?}");
        assert!(
            !b.contains(&vec!["chart".to_string()]),
            "a failed step cleared nothing"
        );
        let retry = recoveries(&[("upload", fail()), ("upload", ok())]);
        assert_eq!(retry, vec![vec!["upload".to_string()]]);
    }

    #[test]
    fn error_recovery_uses_the_error_class_and_the_action_that_cleared_it() {
        let run = |msg: &str| {
            episode(
                &[
                    (
                        "cargo test",
                        StepResult::Error {
                            message: msg.into(),
                        },
                    ),
                    ("edit_file", ok()),
                    ("cargo test", ok()),
                ],
                success(),
            )
        };
        let a = mine(&run("timeout after 30s at src/a.rs:12")).observations;
        let b = mine(&run("timeout after 45s at src/b.rs:99")).observations;
        let rec = |obs: &[Observation]| {
            obs.iter()
                .find(|o| matches!(o.kind, PatternKind::ErrorRecovery { .. }))
                .cloned()
                .unwrap()
        };
        let (ra, rb) = (rec(&a), rec(&b));
        assert_eq!(ra.signature, rb.signature);
        assert_eq!(
            ra.kind,
            PatternKind::ErrorRecovery {
                tool: "cargo test".into(),
                error_class: "timeout after <n>s at <path>".into(),
                recovery: vec!["edit_file".into()],
            }
        );
        assert_eq!(
            ra.scope,
            PatternScope {
                language: Some("rust".into()),
                ..PatternScope::default()
            }
        );
        assert!(ra.example.unwrap().contains("`edit_file`: do edit_file"));
    }

    #[test]
    fn decisions_and_context_features() {
        let mut ep = episode(
            &[("read_file", ok()), ("decision", ok()), ("edit_file", ok())],
            success(),
        );
        ep.steps[1].parameters =
            json!({"condition": "Test fails only on CI", "choice": "Pin the runner image"});
        let mined = mine(&ep);
        // Task scope, language (shared by recoveries and the language feature), domain, task
        // type and tag.
        assert_eq!(mined.contexts.len(), 5, "{:?}", mined.contexts);
        let obs = mined.observations;
        assert!(obs.iter().any(|o| o.kind
            == PatternKind::DecisionPoint {
                condition: "test fails only on ci".into(),
                choice: "pin the runner image".into()
            }));
        // Decisions are not tools: the path is read_file → edit_file.
        assert!(sequences(&obs).contains(&vec!["read_file".into(), "edit_file".into()]));
        let features: Vec<String> = obs
            .iter()
            .filter_map(|o| match &o.kind {
                PatternKind::ContextPattern { features, .. } => Some(features[0].clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            features,
            vec![
                "domain=web-api",
                "language=rust",
                "task_type=debugging",
                "tag=ci"
            ]
        );
    }

    #[test]
    fn signatures_are_stable_and_scope_sensitive() {
        let kind = PatternKind::ToolSequence {
            tools: vec!["a".into(), "b".into()],
        };
        let s1 = signature(&kind, &PatternScope::default());
        assert_eq!(s1, signature(&kind, &PatternScope::default()));
        assert_eq!(s1.len(), 16);
        let rust = PatternScope {
            language: Some("rust".into()),
            ..PatternScope::default()
        };
        assert_ne!(s1, signature(&kind, &rust));
        // Pinned: changing the signature scheme silently would split every stored pattern.
        assert_eq!(s1, "d3332840f1bd89d3");
        let scope = PatternScope {
            language: Some("Rust".into()),
            task_type: Some(TaskType::Debugging),
            ..PatternScope::default()
        };
        let recovery = PatternKind::ErrorRecovery {
            tool: "cargo".into(),
            error_class: "timeout".into(),
            recovery: vec!["retry".into(), "cargo".into()],
        };
        assert_eq!(signature(&recovery, &scope), "c8d083f6644ff72b");
        let decision = PatternKind::DecisionPoint {
            condition: "tests fail".into(),
            choice: "bisect".into(),
        };
        assert_eq!(
            signature(&decision, &PatternScope::default()),
            "7a3edc308d39e510"
        );
        let context = PatternKind::ContextPattern {
            features: vec!["language=rust".into()],
            approach: vec!["cargo".into(), "clippy".into()],
        };
        assert_eq!(signature(&context, &scope), "f5e0b52cecde27e7");
    }

    #[test]
    fn same_sequence_in_five_episodes_merges_to_support_five() {
        let now = Utc::now();
        let mut baseline = OutcomeStats::empty(now);
        let mut pattern: Option<Pattern> = None;
        for _ in 0..5 {
            let ep = episode(&[("a", ok()), ("b", ok())], success());
            let obs = mine(&ep)
                .observations
                .into_iter()
                .find(|o| matches!(o.kind, PatternKind::ToolSequence { .. }))
                .unwrap();
            baseline.record(1.0, 1.0, now, 30.0);
            match &mut pattern {
                Some(p) => p.absorb(&obs, &baseline, now, 30.0),
                None => pattern = Some(Pattern::from_observation("ns", &obs, &baseline, now, 30.0)),
            }
        }
        let p = pattern.unwrap();
        assert_eq!(p.stats.episodes, 5);
        assert!((p.stats.support - 5.0).abs() < 1e-9);
        assert_eq!(p.evidence.len(), 5);
        assert!((p.lift - 1.0).abs() < 1e-9);
    }
}
