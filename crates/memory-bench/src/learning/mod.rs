//! The learning suite (`memory bench learning`): does an agent that uses the memory do
//! better than the same agent without it — on two differently built worlds, under the
//! conditions that break naive learning, over several seeds?
//!
//! Variants (each world, each seed, 300 tasks by default):
//! - `shared`: four or more task families share each (domain, task type) and tags vary per
//!   task, so the context does not say which family a task is;
//! - `drift`: as `shared`, and half the families switch to a new procedure at task 150;
//! - `misreport`: as `shared`, and the agent reports the wrong outcome 20% of the time;
//! - `many`: 60 families, about five tasks each;
//! - `no-context`: as `shared`, but the agent gives the memory the task text only.
//!
//! Every run also splits out the **cold-start** tasks: those of families with no reported
//! success in the memory yet. The agent without memory is scored by the mean of many
//! independent attempts at each task, so its rate is an expectation rather than one draw.
//! Figures are medians over seeds with their min–max; see `BENCHMARKS.md`.

mod agent;
mod world;
mod worlds;

pub use agent::PlanSource;
use agent::{MemoryAgent, without_memory};
use world::{Family, Layout, Task, WorldSpec, families, task_stream};
pub use worlds::{OFFICE, SOFTWARE};

use crate::rng::Rng;
use chrono::{Duration, TimeZone, Utc};
use memory_core::cache::CachedStorage;
use memory_core::{HashingEmbedder, ManualClock, MemoryConfig, MemoryError, SelfLearningMemory};
use memory_storage_turso::TursoStorage;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// The namespace the simulated agent writes to.
const NAMESPACE: &str = "simulation";
/// Independent attempts averaged for the agent without memory, per task.
const REPLICATES: usize = 24;
/// Chance of a misreported outcome in the `misreport` variant.
const MISREPORT: f64 = 0.2;

/// A condition the suite runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Several families per (domain, task type), varying tags.
    Shared,
    /// `Shared`, and half the families change procedure at the drift task.
    Drift,
    /// `Shared`, and 20% of outcomes misreported.
    Misreport,
    /// Many families, few repetitions each.
    Many,
    /// `Shared`, with the task text only (no context).
    NoContext,
}

impl Variant {
    /// Every variant, in report order.
    pub const ALL: [Variant; 5] = [
        Variant::Shared,
        Variant::Drift,
        Variant::Misreport,
        Variant::Many,
        Variant::NoContext,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Shared => "shared",
            Variant::Drift => "drift",
            Variant::Misreport => "misreport",
            Variant::Many => "many",
            Variant::NoContext => "no-context",
        }
    }

    /// The variant named `name`.
    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    fn layout(self) -> Layout {
        match self {
            Variant::Many => Layout {
                families: 60,
                task_types_per_domain: 2,
            },
            _ => Layout {
                families: 24,
                task_types_per_domain: 1,
            },
        }
    }

    /// The target of its main ratio (with / without memory after the warm-up).
    fn target(self) -> f64 {
        match self {
            Variant::Shared => 2.0,
            Variant::Drift | Variant::Misreport | Variant::NoContext => 1.5,
            Variant::Many => 1.2,
        }
    }
}

/// The worlds the suite can run in.
pub fn world(name: &str) -> Option<&'static WorldSpec> {
    [&SOFTWARE, &OFFICE].into_iter().find(|w| w.name == name)
}

/// How the suite runs.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteConfig {
    /// Worlds to run in (`software`, `office`).
    pub worlds: Vec<String>,
    /// Variants to run.
    pub variants: Vec<Variant>,
    /// Seeds: each (world, variant) runs once per seed.
    pub seeds: Vec<u64>,
    /// Tasks per run.
    pub tasks: usize,
    /// Tasks per row of the learning curve.
    pub window: usize,
    /// Most steps per task.
    pub max_steps: usize,
    /// Ratios are measured on the tasks after this one.
    pub warmup: usize,
    /// The task at which drifting families change procedure.
    pub drift_at: usize,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        SuiteConfig {
            worlds: vec!["software".into(), "office".into()],
            variants: Variant::ALL.to_vec(),
            seeds: (1..=5).collect(),
            tasks: 300,
            window: 50,
            max_steps: 12,
            warmup: 100,
            drift_at: 150,
        }
    }
}

/// Success rates over one span of tasks.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rates {
    /// Tasks in the span.
    pub tasks: usize,
    /// Success rate of the agent with memory.
    pub with_memory: f64,
    /// Expected success rate of the agent without memory.
    pub without_memory: f64,
}

impl Rates {
    /// With over without (0 when neither succeeded).
    pub fn ratio(&self) -> f64 {
        if self.without_memory <= 0.0 {
            if self.with_memory > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            self.with_memory / self.without_memory
        }
    }
}

/// One run: one world, one variant, one seed.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The world it ran in.
    pub world: String,
    /// The variant.
    pub variant: Variant,
    /// The seed of the world, the task stream and the agents.
    pub seed: u64,
    /// Task families in the run.
    pub families: usize,
    /// The learning curve, one row per window.
    pub windows: Vec<Rates>,
    /// After the warm-up.
    pub after_warmup: Rates,
    /// Tasks of families with no reported success in memory yet.
    pub cold_start: Rates,
    /// Drift only: the last 50 tasks.
    pub late: Option<Rates>,
    /// Drift only: the changed families' tasks from 30 after the change to 100 after it.
    pub changed_recovered: Option<Rates>,
    /// Mean steps of a success after the warm-up, with memory over without.
    pub steps_ratio: f64,
    /// Plan sources after the warm-up: neighbourhood playbook, fallback options, nothing.
    pub plan_sources: [usize; 3],
    /// Share of the playbooks followed after the warm-up that held the right procedure.
    pub playbooks_right: f64,
    /// Tasks after the warm-up whose family had a reported success in memory, yet the pack
    /// gave no playbook.
    pub solved_without_playbook: usize,
    /// Patterns the memory holds at the end.
    pub patterns_learned: usize,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: f64,
}

struct TaskRecord {
    family: usize,
    success: bool,
    without: f64,
    steps: usize,
    without_steps: f64,
    source: PlanSource,
    plan_right: Option<bool>,
    cold: bool,
}

fn rates(records: &[&TaskRecord]) -> Rates {
    let n = records.len();
    if n == 0 {
        return Rates::default();
    }
    Rates {
        tasks: n,
        with_memory: records.iter().filter(|r| r.success).count() as f64 / n as f64,
        without_memory: records.iter().map(|r| r.without).sum::<f64>() / n as f64,
    }
}

/// Runs one (world, variant, seed) on a fresh database at `db_path`.
pub async fn run_one(
    world: &WorldSpec,
    variant: Variant,
    seed: u64,
    cfg: &SuiteConfig,
    db_path: &Path,
) -> Result<RunReport, MemoryError> {
    let started = std::time::Instant::now();
    let mut env_rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ world.name.len() as u64);
    let drift = variant == Variant::Drift;
    let fams: Vec<Family> = families(&mut env_rng, world, variant.layout(), drift);
    let tasks: Vec<Task> = task_stream(&mut env_rng, world, &fams, cfg.tasks);

    let storage = TursoStorage::open(db_path)
        .await
        .map_err(MemoryError::from)?;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    ));
    let memory = SelfLearningMemory::with_config(
        Arc::new(CachedStorage::new(Arc::new(storage))),
        MemoryConfig::default(),
        clock.clone(),
    )
    .with_embedder(Some(Arc::new(HashingEmbedder::default())));
    let agent = MemoryAgent {
        memory: &memory,
        namespace: NAMESPACE,
        use_context: variant != Variant::NoContext,
        misreport: if variant == Variant::Misreport {
            MISREPORT
        } else {
            0.0
        },
        max_steps: cfg.max_steps,
    };
    let mut agent_rng = Rng(seed ^ 0x5eed);
    let mut baseline_rng = Rng(seed ^ 0xba5e);
    let mut solved = vec![false; fams.len()];
    let mut records = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        let family = &fams[task.family];
        let procedure = match &family.drifted {
            Some(p) if i >= cfg.drift_at => p,
            _ => &family.procedure,
        };
        let (without, without_steps) = without_memory(
            world,
            family,
            procedure,
            task,
            &mut baseline_rng,
            cfg.max_steps,
            REPLICATES,
        );
        let attempt = agent
            .attempt(world, family, procedure, task, &mut agent_rng)
            .await?;
        records.push(TaskRecord {
            family: task.family,
            success: attempt.success,
            without,
            steps: attempt.steps,
            without_steps,
            source: attempt.source,
            plan_right: attempt.plan_right,
            cold: !solved[task.family],
        });
        solved[task.family] |= attempt.reported_success;
        clock.advance(Duration::minutes(20));
    }

    let window = cfg.window.max(1);
    let windows = records
        .chunks(window)
        .map(|chunk| rates(&chunk.iter().collect::<Vec<_>>()))
        .collect();
    let after: Vec<&TaskRecord> = records.iter().skip(cfg.warmup).collect();
    let cold: Vec<&TaskRecord> = records.iter().filter(|r| r.cold).collect();
    let (late, changed_recovered) = if drift {
        let late: Vec<&TaskRecord> = records.iter().skip(cfg.tasks.saturating_sub(50)).collect();
        let changed: Vec<&TaskRecord> = records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                *i >= cfg.drift_at + 30
                    && *i < cfg.drift_at + 100
                    && fams[r.family].drifted.is_some()
            })
            .map(|(_, r)| r)
            .collect();
        (Some(rates(&late)), Some(rates(&changed)))
    } else {
        (None, None)
    };
    let mean = |xs: Vec<f64>| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().sum::<f64>() / xs.len() as f64
        }
    };
    let with_steps = mean(
        after
            .iter()
            .filter(|r| r.success)
            .map(|r| r.steps as f64)
            .collect(),
    );
    let without_steps = mean(
        after
            .iter()
            .filter(|r| r.without_steps > 0.0)
            .map(|r| r.without_steps)
            .collect(),
    );
    let mut plan_sources = [0usize; 3];
    for r in &after {
        plan_sources[match r.source {
            PlanSource::Neighbourhood => 0,
            PlanSource::Fallback => 1,
            PlanSource::None => 2,
        }] += 1;
    }
    let solved_without_playbook = after
        .iter()
        .filter(|r| !r.cold && r.source != PlanSource::Neighbourhood)
        .count();
    let judged: Vec<bool> = after.iter().filter_map(|r| r.plan_right).collect();
    let playbooks_right = if judged.is_empty() {
        0.0
    } else {
        judged.iter().filter(|r| **r).count() as f64 / judged.len() as f64
    };
    Ok(RunReport {
        world: world.name.to_string(),
        variant,
        seed,
        families: fams.len(),
        windows,
        after_warmup: rates(&after),
        cold_start: rates(&cold),
        late,
        changed_recovered,
        steps_ratio: if without_steps > 0.0 {
            with_steps / without_steps
        } else {
            0.0
        },
        plan_sources,
        playbooks_right,
        solved_without_playbook,
        patterns_learned: crate::count_patterns(&memory, NAMESPACE).await?,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A median with the spread it came from.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// The median over seeds.
    pub median: f64,
    /// The lowest value.
    pub min: f64,
    /// The highest value.
    pub max: f64,
}

impl Spread {
    fn of(mut xs: Vec<f64>) -> Spread {
        xs.retain(|x| !x.is_nan());
        if xs.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Spread {
            median,
            min: xs[0],
            max: xs[n - 1],
        }
    }

    fn show(&self, unit: &str) -> String {
        format!("{:.2}{unit} ({:.2}–{:.2})", self.median, self.min, self.max)
    }
}

/// One (world, variant) over all seeds.
#[derive(Debug, Clone, Serialize)]
pub struct VariantSummary {
    /// The world.
    pub world: String,
    /// The variant.
    pub variant: Variant,
    /// With / without after the warm-up.
    pub ratio: Spread,
    /// Success rate with memory after the warm-up.
    pub with_memory: Spread,
    /// Expected success rate without memory after the warm-up.
    pub without_memory: Spread,
    /// Cold-start tasks: with / without (per seed).
    pub cold_start: Spread,
    /// Cold-start tasks of every seed together: with / without, and how many tasks.
    pub cold_start_pooled: (f64, usize),
    /// Steps per success, with / without.
    pub steps_ratio: Spread,
    /// Drift: with / without over the last 50 tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<Spread>,
    /// Drift: with / without on the changed families, 30 to 100 tasks after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Spread>,
    /// Drift: the same over every seed's tasks together, and how many tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_pooled: Option<(f64, usize)>,
    /// Share of plans from the neighbourhood / fallback / none after the warm-up (medians).
    pub plan_sources: [f64; 3],
    /// Share of followed playbooks that held the right procedure (median).
    pub playbooks_right: f64,
    /// The target of `ratio`'s median.
    pub target: f64,
}

/// The whole suite.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    /// How it ran.
    pub config: SuiteConfig,
    /// One row per (world, variant), over the seeds.
    pub summaries: Vec<VariantSummary>,
    /// Every run.
    pub runs: Vec<RunReport>,
    /// Wall time of the whole suite, in milliseconds.
    pub elapsed_ms: f64,
}

/// Runs every (world, variant, seed) of `cfg`, each on a fresh database in `dir`;
/// `progress` is told after each run.
pub async fn run_suite(
    cfg: &SuiteConfig,
    dir: &Path,
    mut progress: impl FnMut(&RunReport),
) -> Result<SuiteReport, MemoryError> {
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for world_name in &cfg.worlds {
        let w = world(world_name).ok_or_else(|| {
            MemoryError::Invalid(memory_core::ValidationError::new(
                "world",
                format!("unknown world `{world_name}` (software, office)"),
            ))
        })?;
        for &variant in &cfg.variants {
            for &seed in &cfg.seeds {
                let path = dir.join(format!("{world_name}-{}-{seed}.db", variant.name()));
                let report = run_one(w, variant, seed, cfg, &path).await?;
                progress(&report);
                runs.push(report);
            }
        }
    }
    let mut summaries = Vec::new();
    for world_name in &cfg.worlds {
        for &variant in &cfg.variants {
            let rs: Vec<&RunReport> = runs
                .iter()
                .filter(|r| &r.world == world_name && r.variant == variant)
                .collect();
            let spread =
                |f: &dyn Fn(&RunReport) -> f64| Spread::of(rs.iter().map(|r| f(r)).collect());
            let share = |k: usize| {
                spread(&|r: &RunReport| {
                    let total: usize = r.plan_sources.iter().sum();
                    r.plan_sources[k] as f64 / total.max(1) as f64
                })
                .median
            };
            let pooled = |pick: &dyn Fn(&RunReport) -> Option<Rates>| {
                let parts: Vec<Rates> = rs.iter().filter_map(|r| pick(r)).collect();
                let n: usize = parts.iter().map(|p| p.tasks).sum();
                let with: f64 = parts.iter().map(|p| p.with_memory * p.tasks as f64).sum();
                let without: f64 = parts
                    .iter()
                    .map(|p| p.without_memory * p.tasks as f64)
                    .sum();
                (
                    Rates {
                        tasks: n,
                        with_memory: with,
                        without_memory: without,
                    }
                    .ratio(),
                    n,
                )
            };
            summaries.push(VariantSummary {
                world: world_name.clone(),
                variant,
                ratio: spread(&|r| r.after_warmup.ratio()),
                with_memory: spread(&|r| r.after_warmup.with_memory),
                without_memory: spread(&|r| r.after_warmup.without_memory),
                cold_start: spread(&|r| r.cold_start.ratio()),
                cold_start_pooled: pooled(&|r| Some(r.cold_start)),
                steps_ratio: spread(&|r| r.steps_ratio),
                late: (variant == Variant::Drift)
                    .then(|| spread(&|r| r.late.map_or(f64::NAN, |l| l.ratio()))),
                recovered: (variant == Variant::Drift)
                    .then(|| spread(&|r| r.changed_recovered.map_or(f64::NAN, |l| l.ratio()))),
                recovered_pooled: (variant == Variant::Drift)
                    .then(|| pooled(&|r| r.changed_recovered)),
                plan_sources: [share(0), share(1), share(2)],
                playbooks_right: spread(&|r| r.playbooks_right).median,
                target: variant.target(),
            });
        }
    }
    Ok(SuiteReport {
        config: cfg.clone(),
        summaries,
        runs,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

impl SuiteReport {
    /// The learning curves of `world`: success per window, median over seeds, one column
    /// pair per variant.
    fn curves(&self, world: &str) -> String {
        let variants: Vec<Variant> = self
            .config
            .variants
            .iter()
            .copied()
            .filter(|v| {
                self.runs
                    .iter()
                    .any(|r| r.world == world && r.variant == *v)
            })
            .collect();
        let windows = self
            .runs
            .iter()
            .filter(|r| r.world == world)
            .map(|r| r.windows.len())
            .max()
            .unwrap_or(0);
        if variants.is_empty() || windows == 0 {
            return String::new();
        }
        let mut s = String::from(
            "\nSuccess per window of tasks, with / without memory (median over seeds):\n\n| tasks |",
        );
        for v in &variants {
            let _ = write!(s, " {} |", v.name());
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(variants.len()));
        s.push('\n');
        let w = self.config.window.max(1);
        for i in 0..windows {
            let _ = write!(
                s,
                "| {}–{} |",
                i * w + 1,
                ((i + 1) * w).min(self.config.tasks)
            );
            for v in &variants {
                let rows: Vec<Rates> = self
                    .runs
                    .iter()
                    .filter(|r| r.world == world && r.variant == *v)
                    .filter_map(|r| r.windows.get(i).copied())
                    .collect();
                let with = Spread::of(rows.iter().map(|r| r.with_memory).collect()).median;
                let without = Spread::of(rows.iter().map(|r| r.without_memory).collect()).median;
                let _ = write!(s, " {:.0}% / {:.0}% |", with * 100.0, without * 100.0);
            }
            s.push('\n');
        }
        s
    }

    /// The report as Markdown tables, one per world.
    pub fn to_markdown(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "{} tasks per run, seeds {:?}, step budget {}, ratios after task {}; \
             medians over seeds (min–max).\n",
            c.tasks, c.seeds, c.max_steps, c.warmup
        );
        for world_name in &c.worlds {
            let _ = write!(
                s,
                "\n### {world_name}\n\n| variant | with / without | target | with | without | \
                 cold start with / without (pooled over seeds; tasks) | steps per success with / without | plans: \
                 neighbourhood / fallback / none | playbooks right |\n\
                 |---|---|---|---|---|---|---|---|---|\n"
            );
            for v in self.summaries.iter().filter(|v| &v.world == world_name) {
                let met = if v.ratio.median >= v.target {
                    ""
                } else {
                    " **(not met)**"
                };
                let _ = writeln!(
                    s,
                    "| {} | {}{met} | ≥ {:.1}× | {:.0}% | {:.0}% | {:.2}× ({} tasks) | {} | {:.0}% / {:.0}% / {:.0}% | {:.0}% |",
                    v.variant.name(),
                    v.ratio.show("×"),
                    v.target,
                    v.with_memory.median * 100.0,
                    v.without_memory.median * 100.0,
                    v.cold_start_pooled.0,
                    v.cold_start_pooled.1,
                    v.steps_ratio.show("×"),
                    v.plan_sources[0] * 100.0,
                    v.plan_sources[1] * 100.0,
                    v.plan_sources[2] * 100.0,
                    v.playbooks_right * 100.0,
                );
                if let (Some(late), Some(rec), Some(pooled)) =
                    (v.late, v.recovered, v.recovered_pooled)
                {
                    let _ = writeln!(
                        s,
                        "| drift: tasks {}–{} | {} | ≥ 1.5× | | | | | | |\n\
                         | drift: changed families, 30–100 tasks after the change | {}; pooled {:.2}× ({} tasks) | ≥ 1.0× | | | | | | |",
                        c.tasks.saturating_sub(49),
                        c.tasks,
                        late.show("×"),
                        rec.show("×"),
                        pooled.0,
                        pooled.1,
                    );
                }
            }
            s.push_str(&self.curves(world_name));
        }
        let _ = write!(
            s,
            "\n{} runs in {:.1} s.\n",
            self.runs.len(),
            self.elapsed_ms / 1000.0
        );
        s
    }
}
