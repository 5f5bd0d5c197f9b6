//! `memory bench …`: the measurements behind BENCHMARKS.md, runnable by anyone.

use crate::cli::{
    CompletionArgs, FirstSearchArgs, LearningArgs, PerfArgs, RemoteArgs, RetrievalEvalArgs,
    SoakArgs,
};
use crate::output::Printer;
use anyhow::Context as _;
use memory_bench::completion::{self, CompletionConfig};
use memory_bench::learning::{SuiteConfig, Variant, run_suite, world};

pub async fn learning(args: &LearningArgs, out: Printer) -> anyhow::Result<()> {
    let defaults = SuiteConfig::default();
    let worlds = if args.world.is_empty() {
        defaults.worlds
    } else {
        for w in &args.world {
            if world(w).is_none() {
                crate::exit::usage!("--world {w}: unknown world (software, office)");
            }
        }
        args.world.clone()
    };
    let mut variants = Vec::new();
    for v in &args.variant {
        match Variant::parse(v) {
            Some(v) => variants.push(v),
            None => crate::exit::usage!(
                "--variant {v}: unknown variant (shared, drift, misreport, many, no-context)"
            ),
        }
    }
    if variants.is_empty() {
        variants = defaults.variants;
    }
    if args.seeds == 0 || args.tasks == 0 {
        crate::exit::usage!("--seeds and --tasks must be at least 1");
    }
    if args.jobs == Some(0) {
        crate::exit::usage!("--jobs 0: must be at least 1");
    }
    let config = SuiteConfig {
        worlds,
        variants,
        seeds: (args.seed..args.seed.saturating_add(args.seeds)).collect(),
        tasks: args.tasks,
        window: args.window,
        max_steps: args.max_steps,
        warmup: args.warmup,
        drift_at: args.drift_at,
        jobs: args.jobs.unwrap_or(defaults.jobs),
        in_memory: args.in_memory,
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let report = run_suite(&config, dir.path(), |r| {
        tracing::info!(
            world = %r.world,
            variant = r.variant.name(),
            seed = r.seed,
            ratio = format!("{:.2}", r.after_warmup.ratio()),
            seconds = format!("{:.1}", r.elapsed_ms / 1000.0),
            "learning run done"
        );
    })
    .await?;
    out.either(&report, || report.to_markdown())
}

pub async fn completion(args: &CompletionArgs, out: Printer) -> anyhow::Result<()> {
    let config = CompletionConfig {
        episodes: args.episodes,
        samples: args.samples,
        seed: args.seed,
        ..CompletionConfig::default()
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let report = completion::run(&config, &dir.path().join("completion.db")).await?;
    out.either(&report, || report.to_markdown())
}

pub async fn perf(args: &PerfArgs, out: Printer) -> anyhow::Result<()> {
    let config = memory_bench::perf::PerfConfig {
        episodes: args.episodes,
        zipf_s: args.zipf,
        cache_fraction: args.cache_fraction,
        reads: args.reads,
        warmup_reads: args.warmup,
        import_episodes: args.import_episodes,
        agents: args.agents,
        episodes_per_agent: args.episodes_per_agent,
        latency_samples: args.latency_samples,
        retrieval_queries: args.retrieval_queries,
        // This very binary: the resident-memory row runs its `import` as a child process.
        memory_exe: Some(
            std::env::current_exe().context("cannot tell where the `memory` binary is")?,
        ),
        seed: args.seed,
        ..memory_bench::perf::PerfConfig::default()
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let path = dir.path().to_path_buf();
    // The benchmark runs its own multi-threaded runtime, off this one.
    let report = tokio::task::spawn_blocking(move || memory_bench::perf::run(&config, &path))
        .await
        .context("the benchmark task stopped")??;
    out.either(&report, || report.to_markdown())
}

pub async fn retrieval(
    args: &RetrievalEvalArgs,
    embedder: Option<std::sync::Arc<dyn memory_core::Embedder>>,
    out: Printer,
) -> anyhow::Result<()> {
    let Some(embedder) = embedder else {
        crate::exit::usage!(
            "the retrieval evaluation compares vector search too; --embedder none has none"
        );
    };
    let config = memory_bench::retrieval_eval::EvalConfig {
        episodes: args.episodes,
        queries: args.queries,
        seed: args.seed,
        latency_sizes: args.latency_at.iter().copied().filter(|&n| n > 0).collect(),
        keep_stores: args.store.is_some(),
        logs_episodes: args.logs_episodes,
        logs_queries: args.logs_queries,
    };
    let report = match &args.store {
        Some(store) => {
            std::fs::create_dir_all(store)
                .with_context(|| format!("cannot create {}", store.display()))?;
            memory_bench::retrieval_eval::run_with_embedder(&config, store, embedder).await?
        }
        None => {
            let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
            memory_bench::retrieval_eval::run_with_embedder(&config, dir.path(), embedder).await?
        }
    };
    out.either(&report, || report.to_markdown())
}

pub async fn soak(args: &SoakArgs, out: Printer) -> anyhow::Result<()> {
    if args.episodes == 0 || args.report_every == 0 || args.days.is_nan() || args.days <= 0.0 {
        crate::exit::usage!("--episodes, --report-every and --days must be more than 0");
    }
    let config = memory_bench::soak::SoakConfig {
        episodes: args.episodes,
        report_every: args.report_every,
        days: args.days,
        collect: !args.no_gc,
        seed: args.seed,
        ..memory_bench::soak::SoakConfig::default()
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    // Each row as it is taken, on stderr: a full run takes the better part of an hour.
    eprint!("{}", memory_bench::soak::SoakRow::HEADER);
    let mut progress = |row: &memory_bench::soak::SoakRow| eprint!("{}", row.to_markdown());
    let report = memory_bench::soak::run(&config, dir.path(), &mut progress).await?;
    out.either(&report, || report.to_markdown())
}

pub async fn first_search(
    args: &FirstSearchArgs,
    embedder: Option<std::sync::Arc<dyn memory_core::Embedder>>,
    embedder_flag: Option<String>,
    out: Printer,
) -> anyhow::Result<()> {
    let Some(embedder) = embedder else {
        crate::exit::usage!(
            "the first-search benchmark compares vector search too; --embedder none has none"
        );
    };
    if args.runs == 0 {
        crate::exit::usage!("--runs must be at least 1");
    }
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let store_dir = match &args.store {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let config = memory_bench::first_search::FirstSearchConfig {
        episodes: args.episodes,
        seed: args.seed,
        runs: args.runs,
        // This very binary: every figure is one of its own `retrieve` processes.
        memory_exe: std::env::current_exe().context("cannot tell where the `memory` binary is")?,
        store_dir,
        embedder_flag,
    };
    let report = memory_bench::first_search::run(&config, embedder).await?;
    out.either(&report, || report.to_markdown())
}

pub async fn remote(
    args: &RemoteArgs,
    auth_token: Option<&str>,
    embedder: Option<std::sync::Arc<dyn memory_core::Embedder>>,
    out: Printer,
) -> anyhow::Result<()> {
    use memory_bench::remote::{RemoteConfig, RemoteServer, Via};
    let server = match (&args.server, &args.sqld) {
        (Some(url), _) => RemoteServer::Url {
            url: url.clone(),
            token: auth_token.unwrap_or_default().to_string(),
        },
        (None, Some(bin)) => RemoteServer::Sqld(bin.clone()),
        (None, None) => crate::exit::usage!(
            "give the server: --sqld PATH (a sqld binary to start) or --server http://HOST:PORT"
        ),
    };
    if args.rtt.is_empty() || args.episodes == 0 || args.steps == 0 {
        crate::exit::usage!("--rtt, --episodes and --steps need at least one each");
    }
    let via = args
        .via
        .iter()
        .map(|v| match v.as_str() {
            "replica" => Via::Replica,
            _ => Via::Direct,
        })
        .collect();
    let config = RemoteConfig {
        via,
        rtts_ms: args.rtt.clone(),
        episodes: args.episodes,
        steps: args.steps,
        cached_reads: args.cached_reads,
        retrievals: args.retrievals,
        agents: args.agents.clone(),
        episodes_per_agent: args.episodes_per_agent,
        import_episodes: args.import_episodes,
        seed: args.seed,
        ..RemoteConfig::new(server)
    };
    // The benchmark runs its own multi-threaded runtime, off this one.
    let report = tokio::task::spawn_blocking(move || memory_bench::remote::run(&config, embedder))
        .await
        .context("the benchmark task stopped")??;
    out.either(&report, || report.to_markdown())
}
