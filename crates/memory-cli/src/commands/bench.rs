//! `memory bench …`: the measurements behind BENCHMARKS.md, runnable by anyone.

use crate::cli::{CompletionArgs, LearningArgs, PerfArgs, RetrievalEvalArgs};
use crate::output::Printer;
use anyhow::Context as _;
use memory_bench::completion::{self, CompletionConfig};
use memory_bench::learning_sim::{SimConfig, run};

pub async fn learning(args: &LearningArgs, out: Printer) -> anyhow::Result<()> {
    let config = SimConfig {
        tasks: args.tasks,
        seed: args.seed,
        window: args.window,
        max_steps: args.max_steps,
    };
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let report = run(&config, &dir.path().join("simulation.db")).await?;
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
