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
use memory_core::{
    HashingEmbedder, InMemoryStorage, ManualClock, MemoryConfig, MemoryError, SelfLearningMemory,
    StorageBackend,
};
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
    /// Runs carried out at once (each on its own thread and database).
    pub jobs: usize,
    /// Keep each run's memory in [`InMemoryStorage`] (the reference backend) instead of a
    /// libSQL file: the same simulation without the database, to tell learning from storage.
    pub in_memory: bool,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        SuiteConfig {
            worlds: vec!["software".into(), "office".into()],
            variants: Variant::ALL.to_vec(),
            seeds: (1..=10).collect(),
            tasks: 300,
            window: 50,
            max_steps: 12,
            warmup: 100,
            drift_at: 150,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            in_memory: false,
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

/// A with / without ratio over the tasks of several runs taken together, with its 95%
/// interval: per-seed ratios over a few dozen tasks at a 5% base rate are mostly noise.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pooled {
    /// With / without over all the tasks.
    pub ratio: f64,
    /// Lower end of the 95% interval of `ratio`.
    pub low: f64,
    /// Upper end of the 95% interval of `ratio`.
    pub high: f64,
    /// Tasks pooled.
    pub tasks: usize,
}

impl Pooled {
    /// `parts` taken together. The agent with memory makes one attempt per task (a binomial
    /// draw, given a Wilson interval); the agent without is an expectation over many attempts,
    /// whose own error is small beside it.
    pub fn of(parts: &[Rates]) -> Pooled {
        let n: usize = parts.iter().map(|p| p.tasks).sum();
        if n == 0 {
            return Pooled::default();
        }
        let nf = n as f64;
        let with: f64 = parts
            .iter()
            .map(|p| p.with_memory * p.tasks as f64)
            .sum::<f64>()
            / nf;
        let without: f64 = parts
            .iter()
            .map(|p| p.without_memory * p.tasks as f64)
            .sum::<f64>()
            / nf;
        let (lo, hi) = wilson(with, nf);
        let over = |x: f64| if without > 0.0 { x / without } else { 0.0 };
        Pooled {
            ratio: Rates {
                tasks: n,
                with_memory: with,
                without_memory: without,
            }
            .ratio(),
            low: over(lo),
            high: over(hi),
            tasks: n,
        }
    }

    fn show(&self) -> String {
        format!(
            "{:.2}× ({:.2}–{:.2}; {} tasks)",
            self.ratio, self.low, self.high, self.tasks
        )
    }
}

/// The 95% Wilson score interval of a proportion `p` observed over `n` trials.
fn wilson(p: f64, n: f64) -> (f64, f64) {
    const Z: f64 = 1.96;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
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
    /// The same over the tasks where the agent followed a playbook: its successes' steps
    /// over the agent without memory's on those same tasks (absent when none succeeded).
    pub playbook_steps_ratio: Option<f64>,
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

/// Mean steps of the agent with memory's successes among `records` over the mean steps of
/// the agent without memory's successes on the same tasks (absent when either has none).
fn steps_ratio(records: &[&TaskRecord]) -> Option<f64> {
    let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let with = mean(
        records
            .iter()
            .filter(|r| r.success)
            .map(|r| r.steps as f64)
            .collect(),
    )?;
    let without = mean(
        records
            .iter()
            .filter(|r| r.without_steps > 0.0)
            .map(|r| r.without_steps)
            .collect(),
    )?;
    (with > 0.0 && without > 0.0).then(|| with / without)
}

/// Runs one (world, variant, seed) on a fresh database at `db_path` (or, with
/// [`SuiteConfig::in_memory`], on a fresh [`InMemoryStorage`]).
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

    let storage: Arc<dyn StorageBackend> = if cfg.in_memory {
        Arc::new(InMemoryStorage::new())
    } else {
        Arc::new(
            TursoStorage::open(db_path)
                .await
                .map_err(MemoryError::from)?,
        )
    };
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
    ));
    let memory = SelfLearningMemory::with_config(
        Arc::new(CachedStorage::new(storage)),
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
    let followed: Vec<&TaskRecord> = after
        .iter()
        .copied()
        .filter(|r| r.source == PlanSource::Neighbourhood)
        .collect();
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
        steps_ratio: steps_ratio(&after).unwrap_or(0.0),
        playbook_steps_ratio: steps_ratio(&followed),
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
    /// Cold-start tasks of every seed together.
    pub cold_start_pooled: Pooled,
    /// Steps per success, with / without.
    pub steps_ratio: Spread,
    /// Steps per success on the tasks where a playbook was followed, with / without.
    pub playbook_steps_ratio: Spread,
    /// Drift: with / without over the last 50 tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<Spread>,
    /// Drift: with / without on the changed families, 30 to 100 tasks after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Spread>,
    /// Drift: the same over every seed's tasks together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_pooled: Option<Pooled>,
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
    /// Per world, the cold-start tasks of every variant and seed together: whether the
    /// memory makes a task it has not solved yet worse than no memory.
    pub cold_start_by_world: Vec<(String, Pooled)>,
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
    let mut jobs: Vec<(&'static WorldSpec, Variant, u64)> = Vec::new();
    for world_name in &cfg.worlds {
        let w = world(world_name).ok_or_else(|| {
            MemoryError::Invalid(memory_core::ValidationError::new(
                "world",
                format!("unknown world `{world_name}` (software, office)"),
            ))
        })?;
        for &variant in &cfg.variants {
            for &seed in &cfg.seeds {
                jobs.push((w, variant, seed));
            }
        }
    }
    let mut runs = run_parallel(&jobs, cfg, dir, &mut progress)?;
    runs.sort_by_key(|r| {
        let job = jobs
            .iter()
            .position(|(w, v, seed)| w.name == r.world && *v == r.variant && *seed == r.seed);
        job.unwrap_or(usize::MAX)
    });
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
                Pooled::of(&rs.iter().filter_map(|r| pick(r)).collect::<Vec<_>>())
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
                playbook_steps_ratio: spread(&|r| r.playbook_steps_ratio.unwrap_or(f64::NAN)),
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
    let cold_start_by_world = cfg
        .worlds
        .iter()
        .map(|w| {
            let parts: Vec<Rates> = runs
                .iter()
                .filter(|r| &r.world == w)
                .map(|r| r.cold_start)
                .collect();
            (w.clone(), Pooled::of(&parts))
        })
        .collect();
    Ok(SuiteReport {
        config: cfg.clone(),
        summaries,
        cold_start_by_world,
        runs,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Carries out `jobs`, `cfg.jobs` at a time, each on a thread of its own with its own
/// runtime and database; `progress` is told of each run as it ends (in the order they end).
fn run_parallel(
    jobs: &[(&'static WorldSpec, Variant, u64)],
    cfg: &SuiteConfig,
    dir: &Path,
    progress: &mut impl FnMut(&RunReport),
) -> Result<Vec<RunReport>, MemoryError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (done, results) = std::sync::mpsc::channel::<Result<RunReport, MemoryError>>();
    std::thread::scope(|scope| {
        for _ in 0..cfg.jobs.clamp(1, jobs.len().max(1)) {
            let done = done.clone();
            let next = &next;
            scope.spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = done.send(Err(MemoryError::Storage(Box::new(e))));
                        return;
                    }
                };
                while let Some(&(w, variant, seed)) =
                    jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let path = dir.join(format!("{}-{}-{seed}.db", w.name, variant.name()));
                    let result = runtime.block_on(run_one(w, variant, seed, cfg, &path));
                    let failed = result.is_err();
                    if done.send(result).is_err() || failed {
                        // Stop taking jobs: the suite has failed or been abandoned.
                        next.store(jobs.len(), std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut runs = Vec::with_capacity(jobs.len());
        for result in results {
            let run = result?;
            progress(&run);
            runs.push(run);
        }
        Ok(runs)
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
                 cold start with / without (pooled over seeds; 95% interval; tasks) | steps per success with / without | \
                 the same, playbook followed | plans: neighbourhood / fallback / none | playbooks right |\n\
                 |---|---|---|---|---|---|---|---|---|---|\n"
            );
            for v in self.summaries.iter().filter(|v| &v.world == world_name) {
                let met = if v.ratio.median >= v.target {
                    ""
                } else {
                    " **(not met)**"
                };
                let _ = writeln!(
                    s,
                    "| {} | {}{met} | ≥ {:.1}× | {:.0}% | {:.0}% | {} | {} | {} | {:.0}% / {:.0}% / {:.0}% | {:.0}% |",
                    v.variant.name(),
                    v.ratio.show("×"),
                    v.target,
                    v.with_memory.median * 100.0,
                    v.without_memory.median * 100.0,
                    v.cold_start_pooled.show(),
                    v.steps_ratio.show("×"),
                    v.playbook_steps_ratio.show("×"),
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
                        "| drift: tasks {}–{} | {} | ≥ 1.5× | | | | | | | |\n\
                         | drift: changed families, 30–100 tasks after the change | {}; pooled {} | ≥ 1.0× | | | | | | | |",
                        c.tasks.saturating_sub(49),
                        c.tasks,
                        late.show("×"),
                        rec.show("×"),
                        pooled.show(),
                    );
                }
            }
            if let Some((_, cold)) = self
                .cold_start_by_world
                .iter()
                .find(|(w, _)| w == world_name)
            {
                let _ = writeln!(
                    s,
                    "\nCold start, every variant and seed together (target ≥ 0.95×): {}.",
                    cold.show()
                );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_ratio_weights_runs_by_their_tasks_and_brackets_itself() {
        let parts = [
            Rates {
                tasks: 100,
                with_memory: 0.10,
                without_memory: 0.05,
            },
            Rates {
                tasks: 300,
                with_memory: 0.05,
                without_memory: 0.05,
            },
        ];
        let p = Pooled::of(&parts);
        assert_eq!(p.tasks, 400);
        // (10 + 15) successes over 20 expected.
        assert!((p.ratio - 1.25).abs() < 1e-9, "{p:?}");
        assert!(p.low < p.ratio && p.ratio < p.high, "{p:?}");
        // More tasks, the same rates: a narrower interval.
        let wider = Pooled::of(&parts[..1]);
        let narrower = Pooled::of(&[Rates {
            tasks: 10_000,
            ..parts[0]
        }]);
        assert!(narrower.high - narrower.low < wider.high - wider.low);
        assert_eq!(Pooled::of(&[]).tasks, 0);
    }

    #[test]
    fn wilson_interval_stays_within_zero_and_one() {
        for (p, n) in [(0.0, 10.0), (1.0, 10.0), (0.05, 1000.0), (0.5, 2.0)] {
            let (lo, hi) = wilson(p, n);
            assert!(
                (0.0..=p).contains(&lo) && (p..=1.0).contains(&hi),
                "{p} {n}"
            );
        }
        let (lo, hi) = wilson(0.05, 1000.0);
        assert!(
            (lo - 0.038).abs() < 0.002 && (hi - 0.065).abs() < 0.002,
            "{lo} {hi}"
        );
    }
}
