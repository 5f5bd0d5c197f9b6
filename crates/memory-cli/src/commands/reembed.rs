//! `memory reembed`: rebuild the vectors of every completed episode with the current
//! embedder (the explicit way to switch embedder or dimension), or embed only those without
//! one, with a progress bar on stderr.

use crate::cli::ReembedArgs;
use crate::output::Printer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::SelfLearningMemory;
use serde_json::json;
use std::time::Instant;

pub async fn run(
    memory: &SelfLearningMemory,
    args: &ReembedArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let Some(embedder) = memory.embedder() else {
        crate::exit::usage!("there is no embedder to re-embed with (--embedder none)");
    };
    let embedder_id = embedder.id().to_string();
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} episodes ({per_sec}, eta {eta})",
        )
        .map_err(anyhow::Error::new)?
        .progress_chars("=> "),
    );
    bar.set_message(format!("embedding with {embedder_id}"));
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let started = Instant::now();
    let count = if args.missing {
        memory.embed_pending(args.batch, progress).await?
    } else {
        memory.reembed(args.batch, progress).await?
    };
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    out.either(
        &json!({ "embedder": embedder_id, "episodes": count, "seconds": seconds }),
        || format!("embedded {count} episodes with {embedder_id} in {seconds:.1} s"),
    )
}
