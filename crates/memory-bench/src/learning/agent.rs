//! The two simulated agents.
//!
//! The agent **without memory** picks at random among the task's shortlisted tools. The
//! agent **with memory** asks `retrieve_context` before each task and follows its playbook
//! when the pack gives one (options to explore are not a plan: it explores at random, as
//! the other agent does). When a tool fails it applies what the memory knows for that tool
//! and error class — the pack's recoveries, then the learned recovery patterns it can list —
//! retrying a step it meant to take when the memory says the error is transient. It logs every step through the
//! public API, completes the episode (misreporting the outcome at the variant's rate) and
//! reports feedback. It never sees the hidden procedure.

use super::world::{Env, Family, Procedure, Task, WorldSpec};
use crate::rng::Rng;
use memory_core::learning::error_class;
use memory_core::retrieval::PlanOrigin;
use memory_core::{
    MemoryError, NewEpisode, OutcomeKind, PatternFilter, PatternKind, PatternKindName,
    RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
};
use serde::Serialize;
use std::collections::VecDeque;
use uuid::Uuid;

/// Where the plan an agent got for a task came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// A playbook from similar past episodes.
    Neighbourhood,
    /// No playbook; options from other tasks of the context (not followed).
    Fallback,
    /// Nothing to go on.
    None,
}

/// How one task went for the agent with memory.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub success: bool,
    pub reported_success: bool,
    pub steps: usize,
    pub source: PlanSource,
    /// Whether the playbook held the family's current procedure, in order.
    pub plan_right: Option<bool>,
}

fn random_tool(rng: &mut Rng, tools: &[&'static str], last: Option<&str>) -> &'static str {
    loop {
        let t = rng.pick(tools);
        if Some(t) != last || tools.len() == 1 {
            return t;
        }
    }
}

/// The agent without memory: the chance of success and the mean steps of a success, over
/// `replicates` independent attempts at the same task (the same environment draws).
pub fn without_memory(
    world: &WorldSpec,
    family: &Family,
    procedure: &Procedure,
    task: &Task,
    rng: &mut Rng,
    max_steps: usize,
    replicates: usize,
) -> (f64, f64) {
    let mut successes = 0usize;
    let mut steps_of_successes = 0usize;
    for _ in 0..replicates {
        let mut env = Env::new(world, family, procedure, task.env_seed);
        let mut last: Option<&str> = None;
        for step in 1..=max_steps {
            let tool = random_tool(rng, &procedure.plausible, last);
            let result = env.step(tool);
            last = result.is_success().then_some(tool);
            if env.done() {
                successes += 1;
                steps_of_successes += step;
                break;
            }
        }
    }
    let rate = successes as f64 / replicates.max(1) as f64;
    let steps = if successes == 0 {
        0.0
    } else {
        steps_of_successes as f64 / successes as f64
    };
    (rate, steps)
}

/// The agent with memory and how it behaves.
pub struct MemoryAgent<'a> {
    pub memory: &'a SelfLearningMemory,
    pub namespace: &'a str,
    /// Whether it tells the memory the task's context (domain, language, type, tags).
    pub use_context: bool,
    /// Chance that it reports the opposite of what happened.
    pub misreport: f64,
    pub max_steps: usize,
}

impl MemoryAgent<'_> {
    /// Does one task in `procedure`'s environment, through the memory.
    pub async fn attempt(
        &self,
        world: &WorldSpec,
        family: &Family,
        procedure: &Procedure,
        task: &Task,
        rng: &mut Rng,
    ) -> Result<Attempt, MemoryError> {
        let domain = &world.domains[family.domain];
        let (context, task_type) = if self.use_context {
            (
                TaskContext {
                    domain: Some(domain.name.into()),
                    language: domain.language.map(str::to_string),
                    tags: task.tags.clone(),
                    ..TaskContext::default()
                },
                family.task_type,
            )
        } else {
            (TaskContext::default(), TaskType::Other)
        };
        let query = RetrievalQuery {
            context: context.clone(),
            task_type: self.use_context.then_some(task_type),
            limit: 5,
            ..RetrievalQuery::new(self.namespace, task.text.clone())
        };
        let pack = self.memory.retrieve_context(&query).await?;

        let mut plan: VecDeque<String> = VecDeque::new();
        let mut applied: Vec<Uuid> = Vec::new();
        let source = match (&pack.playbook, &pack.exploration) {
            (Some(pb), _) => {
                plan.extend(pb.steps.iter().map(|s| s.tool.clone()));
                applied.extend(pb.source);
                PlanSource::Neighbourhood
            }
            (None, Some(ex))
                if ex
                    .options
                    .iter()
                    .any(|o| o.origin == PlanOrigin::ContextFallback) =>
            {
                PlanSource::Fallback
            }
            _ => PlanSource::None,
        };
        if tracing::enabled!(tracing::Level::DEBUG) {
            let plans: Vec<String> = pack
                .exploration
                .iter()
                .flat_map(|e| e.options.iter().chain(&e.tried_and_failed))
                .map(|o| format!("{:?} {:?}: {}", o.status, o.tools, o.basis))
                .collect();
            let hits: Vec<String> = pack
                .hits
                .iter()
                .map(|h| {
                    format!(
                        "{} (coverage {:.2}, cosine {:.2}, {})",
                        h.task_description,
                        h.score.coverage.unwrap_or(-1.0),
                        h.score.similarity.unwrap_or(-1.0),
                        h.outcome.as_ref().map_or("running", |o| o.kind().as_str())
                    )
                })
                .collect();
            tracing::debug!(
                family = task.family,
                neighbours = pack.neighbours,
                playbook = ?pack.playbook.as_ref().map(|p| p.steps.iter().map(|s| s.tool.as_str()).collect::<Vec<_>>()),
                good = ?procedure.good,
                ?plans,
                ?hits,
                task = %task.text,
                "simulated task"
            );
        }
        let plan_right = (!plan.is_empty()).then(|| {
            let mut it = plan.iter();
            procedure.good.iter().all(|g| it.any(|p| p == g))
        });

        let id = self
            .memory
            .start_episode(
                self.namespace,
                NewEpisode {
                    task_type,
                    context,
                    ..NewEpisode::new(task.text.clone())
                },
            )
            .await?;
        let mut env = Env::new(world, family, procedure, task.env_seed);
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut last_ok: Option<String> = None;
        let mut last_error = String::new();
        let mut steps = 0;
        while steps < self.max_steps && !env.done() {
            // Whether the agent meant to run this tool (a plan's or a recovery's step) rather
            // than trying one at random.
            let (tool, meant) = match queue.pop_front().or_else(|| plan.pop_front()) {
                Some(t) => (t, true),
                None => (
                    random_tool(rng, &procedure.plausible, last_ok.as_deref()).to_string(),
                    false,
                ),
            };
            let result = env.step(&tool);
            steps += 1;
            self.memory
                .log_step(
                    self.namespace,
                    id,
                    StepInput::new(tool.as_str(), "simulated step", result.clone())
                        .with_latency_ms(50 + rng.below(500) as u64),
                )
                .await?;
            let StepResult::Error { message } = &result else {
                last_ok = Some(tool);
                continue;
            };
            last_error.clone_from(message);
            last_ok = None;
            let class = error_class(message);
            // What the memory knows for this tool and error class: similar tasks first, then
            // the playbook's own recovery, then every learned recovery pattern.
            let known: Option<Option<String>> = if let Some(r) = pack
                .recoveries
                .iter()
                .find(|r| r.tool == tool && r.error_class == class)
            {
                Some(r.action.clone())
            } else if let Some(s) = pack.playbook.as_ref().and_then(|pb| {
                pb.steps.iter().find(|s| {
                    s.tool == tool
                        && s.error_class.as_deref() == Some(class.as_str())
                        && !s.recovery.is_empty()
                })
            }) {
                if let Some(p) = s.recovery_pattern
                    && !applied.contains(&p)
                {
                    applied.push(p);
                }
                Some(s.recovery.first().cloned())
            } else {
                self.lookup_recovery(&tool, &class)
                    .await?
                    .map(|r| (r != tool).then_some(r))
            };
            match known {
                Some(Some(action)) => {
                    queue.push_front(tool.clone());
                    queue.push_front(action);
                }
                // A transient error: worth retrying a step it meant to take, not a random try.
                Some(None) if meant => queue.push_front(tool.clone()),
                Some(None) | None => {}
            }
        }
        let success = env.done();
        let reported_success = success != rng.chance(self.misreport);
        let outcome = if reported_success {
            TaskOutcome::Success {
                verdict: "task done".into(),
                artifacts: vec![],
            }
        } else {
            TaskOutcome::Failure {
                reason: "ran out of steps".into(),
                details: (!last_error.is_empty()).then_some(last_error),
            }
        };
        self.memory
            .complete_episode(self.namespace, id, outcome)
            .await?;
        let kind = if reported_success {
            OutcomeKind::Success
        } else {
            OutcomeKind::Failure
        };
        // The agent asked with a session (the default), so the pack names one.
        if let Some(session) = pack.session_id {
            self.memory
                .record_feedback(self.namespace, session, applied, kind)
                .await?;
        }
        Ok(Attempt {
            success,
            reported_success,
            steps,
            source,
            plan_right,
        })
    }

    /// The best-supported learned recovery for `tool` failing with `class` (its one action;
    /// the tool itself means "retry"), as an agent would look it up with `list_patterns`.
    async fn lookup_recovery(
        &self,
        tool: &str,
        class: &str,
    ) -> Result<Option<String>, MemoryError> {
        let filter = PatternFilter {
            kind: Some(PatternKindName::ErrorRecovery),
            min_episodes: self.memory.config().learning.min_support,
            limit: 500,
            ..PatternFilter::new(self.namespace)
        };
        let found = self
            .memory
            .list_patterns(&filter)
            .await?
            .into_iter()
            .filter_map(|p| match p.kind {
                PatternKind::ErrorRecovery {
                    tool: t,
                    error_class,
                    recovery,
                } if t == tool && error_class == class => {
                    Some((p.stats.successful_episodes, p.stats.episodes, recovery))
                }
                _ => None,
            })
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)))
            .and_then(|(_, _, recovery)| recovery.into_iter().next());
        Ok(found)
    }
}
