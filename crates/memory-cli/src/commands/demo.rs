//! `memory demo`: the whole loop in seconds with no set-up — record a dozen realistic
//! episodes, then retrieve the experience that matters for a new task.

use super::retrieve::explain;
use crate::config::{DbLocation, open_memory};
use crate::demo_data::{DemoOutcome, EPISODES, NEW_TASK};
use crate::output::Printer;
use crate::parse;
use anyhow::Context as _;
use memory_core::{
    NewEpisode, RetrievalQuery, SelfLearningMemory, StepInput, TaskContext, TaskOutcome,
};
use memory_storage_turso::Location;
use serde_json::json;
use std::collections::BTreeSet;

pub async fn run(
    db: Option<DbLocation>,
    ns: &str,
    embedder: Option<std::sync::Arc<dyn memory_core::Embedder>>,
    out: Printer,
) -> anyhow::Result<()> {
    // Without --db the demo works in a temporary directory removed on exit.
    let (location, temp) = match db {
        Some(db) => (db, None),
        None => {
            let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
            (
                DbLocation::file(dir.path().join("demo.db"), "temporary"),
                Some(dir),
            )
        }
    };
    let memory = open_memory(&location, embedder).await?;
    let started = std::time::Instant::now();
    let recorded = record_all(&memory, ns).await?;
    let record_ms = started.elapsed().as_secs_f64() * 1000.0;

    let (task, task_type, (domain, language, framework)) = NEW_TASK;
    let query = RetrievalQuery {
        context: TaskContext {
            domain: Some(domain.into()),
            language: Some(language.into()),
            framework: Some(framework.into()),
            ..TaskContext::default()
        },
        task_type: parse::task_type(Some(task_type))?,
        ..RetrievalQuery::new(ns, task)
    };
    let started = std::time::Instant::now();
    let pack = memory.retrieve_context(&query).await?;
    let retrieve_ms = started.elapsed().as_secs_f64() * 1000.0;

    let domains: BTreeSet<&str> = EPISODES.iter().map(|e| e.context.0).collect();
    let value = json!({
        "db": location.location.to_string(),
        "temporary": temp.is_some(),
        "episodes_recorded": recorded,
        "domains": domains,
        "record_ms": record_ms,
        "retrieve_ms": retrieve_ms,
        "new_task": task,
        "pack": pack,
    });
    out.either(&value, || {
        let mut s = format!(
            "Recorded {recorded} episodes across {} domains ({}) in {record_ms:.0} ms: each \
             started, stepped, completed, scored and reflected on.\n",
            domains.len(),
            domains.iter().copied().collect::<Vec<_>>().join(", ")
        );
        s.push_str(&format!(
            "New task: \"{task}\" ({domain}/{language}/{framework}, {task_type})\n\
             Retrieved in {retrieve_ms:.1} ms:\n\n"
        ));
        s.push_str(&pack.markdown);
        s.push_str(&explain(&pack));
        match &temp {
            Some(_) => s.push_str(
                "\nThe demo used a temporary database. Keep one with `memory demo --db demo.db`, \
                 then try `memory --db demo.db episode list`.\n",
            ),
            None => {
                let place = &location.location;
                let flags = match place {
                    Location::File(path) => format!("--db {}", path.display()),
                    Location::Server { url, .. } => format!("--db {url}"),
                    Location::Replica { url, path, .. } => {
                        format!("--db {url} --replica {}", path.display())
                    }
                };
                s.push_str(&format!(
                    "\nDatabase kept at {place}. Try `memory {flags} episode list`.\n"
                ))
            }
        }
        s
    })
}

async fn record_all(memory: &SelfLearningMemory, ns: &str) -> anyhow::Result<usize> {
    for ep in EPISODES {
        let (domain, language, framework) = ep.context;
        let new = NewEpisode {
            task_description: ep.task.into(),
            task_type: parse::task_type(Some(ep.task_type))?.unwrap_or_default(),
            context: TaskContext {
                domain: Some(domain.into()),
                language: Some(language.into()),
                framework: Some(framework.into()),
                ..TaskContext::default()
            },
            tags: vec!["demo".into()],
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        };
        let id = memory.start_episode(ns, new).await?;
        for &(tool, action, status, output, latency_ms) in ep.steps {
            let result = parse::step_result(status, output)?;
            memory
                .log_step(
                    ns,
                    id,
                    StepInput::new(tool, action, result).with_latency_ms(latency_ms),
                )
                .await?;
        }
        let outcome = match &ep.outcome {
            DemoOutcome::Success(v) => TaskOutcome::Success {
                verdict: (*v).into(),
                artifacts: vec![],
            },
            DemoOutcome::Partial(v, done, not_done) => TaskOutcome::PartialSuccess {
                verdict: (*v).into(),
                completed: done.iter().map(|s| (*s).into()).collect(),
                failed: not_done.iter().map(|s| (*s).into()).collect(),
            },
            DemoOutcome::Failure(r) => TaskOutcome::Failure {
                reason: (*r).into(),
                details: None,
            },
            DemoOutcome::Abstained(r) => TaskOutcome::Abstained {
                reason: (*r).into(),
            },
        };
        memory.complete_episode(ns, id, outcome).await?;
    }
    Ok(EPISODES.len())
}
