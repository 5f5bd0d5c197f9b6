//! `memory gc`: drop what has outlived its use (see `memory_core::retention`), or say what
//! would go.

use crate::cli::GcArgs;
use crate::output::Printer;
use memory_core::SelfLearningMemory;
use memory_core::retention::{GarbageReport, Retention};

pub async fn run(memory: SelfLearningMemory, args: &GcArgs, out: Printer) -> anyhow::Result<()> {
    for (flag, value) in [
        ("--abandon-after-hours", args.abandon_after_hours),
        ("--min-pattern-support", args.min_pattern_support),
    ] {
        if !value.is_finite() || value < 0.0 {
            crate::exit::usage!("{flag}: {value} is not a number of 0 or more");
        }
    }
    let retention = Retention {
        abandon_after_hours: args.abandon_after_hours,
        min_pattern_support: args.min_pattern_support,
        max_cached_embeddings: args.max_cached_embeddings,
        ..memory.config().retention
    };
    let memory = memory.with_retention(retention);
    let report = memory.collect_garbage(args.dry_run).await?;
    out.either(&report, || describe(&report))
}

fn describe(r: &GarbageReport) -> String {
    let verb = if r.dry_run { "would drop" } else { "dropped" };
    let done = if r.dry_run {
        "would complete"
    } else {
        "completed"
    };
    format!(
        "{done} {} idle running episodes as abandoned; {verb} {} retrieval sessions, {} \
         patterns, {} cached embeddings",
        r.abandoned_episodes, r.dropped.sessions, r.dropped.patterns, r.dropped.cached_embeddings
    )
}
