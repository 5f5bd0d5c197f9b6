//! `memory checkpoint|handoff|resume`: pausing a task and handing it to another agent.

use crate::cli::{CheckpointArgs, HandoffArgs, ResumeArgs};
use crate::exit::usage;
use crate::output::Printer;
use crate::parse;
use anyhow::Context as _;
use memory_core::SelfLearningMemory;
use memory_core::handoff::HandoffPack;
use serde_json::json;
use std::io::Read as _;

pub async fn checkpoint(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &CheckpointArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(&args.id)?;
    let cp = memory.checkpoint_episode(ns, id, &args.note).await?;
    out.either(&cp, || {
        format!("checkpoint {} recorded after step {}", cp.id, cp.step_count)
    })
}

pub async fn handoff(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &HandoffArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(&args.id)?;
    let pack = memory.handoff(ns, id).await?;
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&pack)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the pack to {}", path.display()))?;
    }
    out.either(&pack, || pack.markdown.clone())
}

pub async fn resume(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &ResumeArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let text = if args.pack.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the pack from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.pack)
            .with_context(|| format!("cannot read the pack {}", args.pack.display()))?
    };
    let pack: HandoffPack = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => usage!(
            "{} is not a hand-off pack (`memory --format json handoff ID` writes one): {e}",
            args.pack.display()
        ),
    };
    let id = memory.resume(ns, &pack).await?;
    out.either(
        &json!({ "id": id, "namespace": ns, "follows": pack.episode_id }),
        || id.to_string(),
    )
}
