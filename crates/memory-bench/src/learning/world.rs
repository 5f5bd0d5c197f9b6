//! The simulated world: task families with hidden procedures, the task stream, and the
//! environment a task runs in.
//!
//! A family has a hidden good tool sequence (3–5 tools), a failure mode (one of its tools
//! fails with the family's error until a specific recovery tool has run) and the tools an
//! agent would shortlist for it (the good ones, the recovery and two distractors, in no
//! telling order). Any tool can also fail transiently (a retry clears it). A task succeeds
//! when the good tools have run in order within the step budget; other tools do no harm but
//! cost steps. Under drift, half the families draw a new procedure part-way through.

use crate::rng::Rng;
use memory_core::{StepResult, TaskType};

/// What an environment is made of: its domains, tools, phrasing and errors.
#[derive(Debug)]
pub struct WorldSpec {
    /// Short name (`software`, `office`).
    pub name: &'static str,
    /// The domains; each family belongs to one.
    pub domains: &'static [DomainSpec],
    /// Tools families draw their procedures from when a domain has no pool of its own.
    pub shared_tools: &'static [&'static str],
    /// Tools that clear failure modes.
    pub recovery_tools: &'static [&'static str],
    /// Task phrasings: `{verb}`, `{verb_lower}`, `{topic}`, `{entity}` are filled in.
    pub templates: &'static [&'static str],
    /// Verbs for `{verb}`.
    pub verbs: &'static [&'static str],
    /// Transient errors (`{n}` varies); a retry clears them.
    pub transient_errors: &'static [&'static str],
    /// Chance that a tool fails transiently.
    pub noise: f64,
}

/// A domain of a world.
#[derive(Debug)]
pub struct DomainSpec {
    /// Its name (the context's domain).
    pub name: &'static str,
    /// The context's language, when the world has one.
    pub language: Option<&'static str>,
    /// Its own tool pool; empty to draw from the world's shared pool.
    pub tools: &'static [&'static str],
    /// Task topics: each family takes one (distinct within a domain).
    pub topics: &'static [&'static str],
    /// Things a task is about (`{entity}`), varying per task.
    pub entities: &'static [&'static str],
    /// Tags a task may carry, varying per task (they never name the family).
    pub tags: &'static [&'static str],
    /// Failure messages (`{n}` and `{entity}` vary per occurrence), one per family in turn.
    pub errors: &'static [&'static str],
}

/// How the families of a run are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Families in the run.
    pub families: usize,
    /// Task types per domain: families of a domain share these, so several share each
    /// (domain, task type).
    pub task_types_per_domain: usize,
}

/// A task family: hidden from the agents.
#[derive(Debug, Clone)]
pub struct Family {
    pub domain: usize,
    pub topic: usize,
    pub task_type: TaskType,
    pub procedure: Procedure,
    /// The procedure after a drift, for the families that drift.
    pub drifted: Option<Procedure>,
}

/// How a family's task is done.
#[derive(Debug, Clone, PartialEq)]
pub struct Procedure {
    pub good: Vec<&'static str>,
    pub fail_at: usize,
    pub recovery: &'static str,
    pub error: &'static str,
    /// What an agent would shortlist: good tools, the recovery, two distractors, sorted.
    pub plausible: Vec<&'static str>,
}

const TASK_TYPES: [TaskType; 6] = [
    TaskType::Debugging,
    TaskType::Analysis,
    TaskType::CodeGeneration,
    TaskType::Testing,
    TaskType::Refactoring,
    TaskType::Documentation,
];

/// Chance that a family's failure mode fires the first time its tool runs.
const FAILURE_CHANCE: f64 = 0.7;

fn procedure(rng: &mut Rng, world: &WorldSpec, domain: &DomainSpec, topic: usize) -> Procedure {
    let mut pool: Vec<&'static str> = if domain.tools.is_empty() {
        world.shared_tools.to_vec()
    } else {
        domain.tools.to_vec()
    };
    let len = 3 + rng.below(3.min(pool.len().saturating_sub(3)).max(1));
    let mut good = Vec::new();
    for _ in 0..len {
        good.push(pool.remove(rng.below(pool.len())));
    }
    let recovery = rng.pick(world.recovery_tools);
    let mut plausible = good.clone();
    plausible.push(recovery);
    for _ in 0..2 {
        if !pool.is_empty() {
            plausible.push(pool.remove(rng.below(pool.len())));
        }
    }
    plausible.sort_unstable();
    plausible.dedup();
    Procedure {
        fail_at: rng.below(len),
        recovery,
        error: domain.errors[topic % domain.errors.len()],
        good,
        plausible,
    }
}

/// The families of a run, laid out over the world's domains; with `drift`, every other
/// family also gets the procedure it switches to.
pub fn families(rng: &mut Rng, world: &WorldSpec, layout: Layout, drift: bool) -> Vec<Family> {
    let mut out = Vec::with_capacity(layout.families);
    let mut next_topic = vec![0usize; world.domains.len()];
    let mut d = 0;
    while out.len() < layout.families {
        let domain = &world.domains[d % world.domains.len()];
        let slot = d % world.domains.len();
        d += 1;
        let topic = next_topic[slot];
        if topic >= domain.topics.len() {
            if next_topic
                .iter()
                .zip(world.domains)
                .all(|(t, s)| *t >= s.topics.len())
            {
                break;
            }
            continue;
        }
        next_topic[slot] += 1;
        let types = layout.task_types_per_domain.clamp(1, TASK_TYPES.len());
        let proc = procedure(rng, world, domain, topic);
        let drifted = (drift && out.len() % 2 == 0).then(|| {
            // A new procedure that really differs from the old one.
            loop {
                let p = procedure(rng, world, domain, topic);
                if p.good != proc.good {
                    break p;
                }
            }
        });
        out.push(Family {
            domain: slot,
            topic,
            task_type: TASK_TYPES[topic % types],
            procedure: proc,
            drifted,
        });
    }
    out
}

/// One task of the stream.
#[derive(Debug, Clone)]
pub struct Task {
    pub family: usize,
    pub text: String,
    pub tags: Vec<String>,
    pub env_seed: u64,
}

/// `n` tasks drawn uniformly over the families, each phrased from a template with a random
/// verb and entity, and one or two random tags of its domain.
pub fn task_stream(rng: &mut Rng, world: &WorldSpec, fams: &[Family], n: usize) -> Vec<Task> {
    (0..n)
        .map(|_| {
            let family = rng.below(fams.len());
            let f = &fams[family];
            let domain = &world.domains[f.domain];
            let verb = rng.pick(world.verbs);
            let text = rng
                .pick(world.templates)
                .replace("{verb}", verb)
                .replace("{verb_lower}", &verb.to_lowercase())
                .replace("{topic}", domain.topics[f.topic])
                .replace("{entity}", rng.pick(domain.entities));
            let mut tags = Vec::new();
            if !domain.tags.is_empty() {
                for _ in 0..1 + rng.below(2) {
                    let t = rng.pick(domain.tags).to_string();
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
            }
            Task {
                family,
                text,
                tags,
                env_seed: rng.next_u64(),
            }
        })
        .collect()
}

/// The environment's state during one task.
pub struct Env<'a> {
    world: &'a WorldSpec,
    domain: &'a DomainSpec,
    procedure: &'a Procedure,
    rng: Rng,
    progress: usize,
    failure_fired: bool,
    blocked: bool,
    recovered: bool,
}

impl<'a> Env<'a> {
    pub fn new(
        world: &'a WorldSpec,
        family: &'a Family,
        procedure: &'a Procedure,
        seed: u64,
    ) -> Self {
        Env {
            world,
            domain: &world.domains[family.domain],
            procedure,
            rng: Rng(seed),
            progress: 0,
            failure_fired: false,
            blocked: false,
            recovered: false,
        }
    }

    pub fn done(&self) -> bool {
        self.progress == self.procedure.good.len()
    }

    fn failure_message(&mut self, tool: &str) -> String {
        let msg = self
            .procedure
            .error
            .replace("{n}", &(1 + self.rng.below(500)).to_string())
            .replace("{entity}", self.rng.pick(self.domain.entities));
        format!("{tool}: {msg}")
    }

    /// Runs `tool` and says what happened.
    pub fn step(&mut self, tool: &str) -> StepResult {
        if self.rng.chance(self.world.noise) {
            let msg = self
                .rng
                .pick(self.world.transient_errors)
                .replace("{n}", &(1 + self.rng.below(30)).to_string());
            return StepResult::Error { message: msg };
        }
        let p = self.procedure;
        let wanted = p.good.get(self.progress).copied();
        if self.blocked {
            if tool == p.recovery {
                self.recovered = true;
                return StepResult::Success {
                    output: "done".into(),
                };
            }
            if Some(tool) == wanted {
                if self.recovered {
                    self.blocked = false;
                    self.progress += 1;
                    return StepResult::Success {
                        output: "done".into(),
                    };
                }
                return StepResult::Error {
                    message: self.failure_message(tool),
                };
            }
            return StepResult::Success {
                output: "done".into(),
            };
        }
        if Some(tool) == wanted {
            if self.progress == p.fail_at && !self.failure_fired && self.rng.chance(FAILURE_CHANCE)
            {
                self.failure_fired = true;
                self.blocked = true;
                return StepResult::Error {
                    message: self.failure_message(tool),
                };
            }
            self.progress += 1;
            return StepResult::Success {
                output: "done".into(),
            };
        }
        StepResult::Success {
            output: "done".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learning::worlds::{OFFICE, SOFTWARE};

    #[test]
    fn recovery_then_retry_completes_a_family_whose_failure_fired() {
        for world in [&SOFTWARE, &OFFICE] {
            let mut rng = Rng(1);
            let layout = Layout {
                families: 24,
                task_types_per_domain: 2,
            };
            let fams = families(&mut rng, world, layout, false);
            assert_eq!(fams.len(), 24, "{}", world.name);
            let f = &fams[0];
            let p = &f.procedure;
            let mut fired = false;
            for seed in 0..300 {
                let mut env = Env::new(world, f, p, seed);
                for &tool in &p.good {
                    let mut r = env.step(tool);
                    let mut tries = 0;
                    while let StepResult::Error { message } = &r {
                        tries += 1;
                        assert!(tries < 20, "{message}");
                        if message.starts_with(tool) {
                            fired = true;
                            env.step(p.recovery);
                        }
                        r = env.step(tool);
                    }
                }
                assert!(env.done(), "{}: seed {seed}", world.name);
            }
            assert!(fired, "{}: the failure mode never fired", world.name);
        }
    }

    #[test]
    fn several_families_share_each_domain_and_task_type_and_drift_changes_half() {
        for world in [&SOFTWARE, &OFFICE] {
            let mut rng = Rng(3);
            let layout = Layout {
                families: 24,
                task_types_per_domain: 1,
            };
            let fams = families(&mut rng, world, layout, true);
            let mut counts = std::collections::HashMap::new();
            for f in &fams {
                *counts.entry((f.domain, f.task_type)).or_insert(0) += 1;
            }
            assert!(
                counts.values().all(|&n| n >= 4),
                "{}: {counts:?}",
                world.name
            );
            assert_eq!(fams.iter().filter(|f| f.drifted.is_some()).count(), 12);
            let stream = task_stream(&mut rng, world, &fams, 50);
            let again = {
                let mut rng = Rng(3);
                let fams = families(&mut rng, world, layout, true);
                task_stream(&mut rng, world, &fams, 50)
            };
            assert_eq!(
                stream.iter().map(|t| &t.text).collect::<Vec<_>>(),
                again.iter().map(|t| &t.text).collect::<Vec<_>>()
            );
        }
    }
}
