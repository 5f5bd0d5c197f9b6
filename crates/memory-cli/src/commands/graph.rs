//! `memory relate|unrelate|related|graph`: the links between episodes from the shell.

use crate::cli::{Format, GraphArgs, RelateArgs, RelatedArgs, UnrelateArgs};
use crate::output::Printer;
use crate::parse;
use memory_core::graph::to_dot;
use memory_core::learning::shorten;
use memory_core::{Direction, RelationshipKind, RelationshipMetadata, SelfLearningMemory};
use serde_json::json;
use std::fmt::Write as _;

fn kinds(raw: &[String]) -> anyhow::Result<Vec<RelationshipKind>> {
    raw.iter().map(|k| parse::value("kind", k)).collect()
}

pub async fn relate(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &RelateArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let from = parse::episode_id(&args.from)?;
    let to = parse::episode_id(&args.to)?;
    let kind: RelationshipKind = parse::value("kind", &args.kind)?;
    let metadata = RelationshipMetadata {
        reason: args.reason.clone(),
        created_by: args.created_by.clone(),
        weight: args.weight,
        extra: parse::json_object("metadata", args.metadata.as_deref())?,
    };
    let r = memory.relate(ns, from, to, kind, metadata).await?;
    out.either(&r, || format!("{} --{}--> {}", r.from, r.kind, r.to))
}

pub async fn unrelate(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &UnrelateArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let from = parse::episode_id(&args.from)?;
    let to = parse::episode_id(&args.to)?;
    let kind = args
        .kind
        .as_deref()
        .map(|k| parse::value::<RelationshipKind>("kind", k))
        .transpose()?;
    let removed = memory.unrelate(ns, from, to, kind).await?;
    out.either(&json!({ "removed": removed }), || {
        format!("removed {removed} link(s) from {from} to {to}")
    })
}

pub async fn related(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &RelatedArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let id = parse::episode_id(&args.id)?;
    let direction: Direction = parse::value("direction", &args.direction)?;
    let kinds = kinds(&args.kinds)?;
    let found = memory
        .reachable(ns, id, direction, &kinds, args.depth)
        .await?;
    if args.order {
        let mut ids = vec![id];
        ids.extend(found.iter().map(|n| n.episode));
        let order = memory.topological_order(ns, &ids).await?;
        let mut lines = String::new();
        for (i, e) in order.iter().enumerate() {
            let task = memory
                .get_episode(ns, *e)
                .await
                .map(|ep| ep.task_description.clone())
                .unwrap_or_default();
            let _ = writeln!(lines, "{:>3}. {e}  {}", i + 1, shorten(&task, 70));
        }
        return out.either(&json!({ "order": order }), || lines);
    }
    let mut rows = Vec::with_capacity(found.len());
    for n in &found {
        let task = memory
            .get_episode(ns, n.episode)
            .await
            .map(|ep| ep.task_description.clone())
            .unwrap_or_default();
        rows.push((n, task));
    }
    let json_rows: Vec<_> = rows
        .iter()
        .map(|(n, task)| json!({ "neighbour": n, "task_description": task }))
        .collect();
    out.either(&json_rows, || {
        if rows.is_empty() {
            return format!("no episodes linked to {id}");
        }
        let mut s = format!(
            "{:<4} {:<13} {:>5}  {:<36}  {}\n",
            "DIR", "KIND", "DEPTH", "EPISODE", "TASK"
        );
        for (n, task) in &rows {
            let dir = match n.direction {
                Direction::Incoming => "<-",
                _ => "->",
            };
            let _ = writeln!(
                s,
                "{dir:<4} {:<13} {:>5}  {:<36}  {}",
                n.via.kind.as_str(),
                n.depth,
                n.episode,
                shorten(task, 60)
            );
        }
        s
    })
}

pub async fn graph(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &GraphArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let root = args.root.as_deref().map(parse::episode_id).transpose()?;
    let kinds = kinds(&args.kinds)?;
    let graph = memory.graph(ns, root, args.depth, &kinds).await?;
    match out.format {
        Format::Dot => out.raw(to_dot(&graph).trim_end()),
        Format::Json => out.json(&graph),
        Format::Human => {
            if graph.edges.is_empty() {
                return out.raw(&format!("no links in namespace `{ns}`"));
            }
            let task = |id| {
                graph
                    .nodes
                    .iter()
                    .find(|n| n.id == id)
                    .map(|n| shorten(&n.task_description, 40))
                    .unwrap_or_default()
            };
            let mut s = format!(
                "{} episodes, {} links\n",
                graph.nodes.len(),
                graph.edges.len()
            );
            for e in &graph.edges {
                let _ = writeln!(
                    s,
                    "{} ({}) --{}--> {} ({})",
                    e.from,
                    task(e.from),
                    e.kind,
                    e.to,
                    task(e.to)
                );
            }
            out.raw(s.trim_end())
        }
    }
}
