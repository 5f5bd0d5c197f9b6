//! The library in one screen: an agent records an episode on a local libSQL file, and the
//! next task gets that experience back as a context pack.
//!
//! Run with `cargo run -p memory-storage-turso --example agent_loop`.

#![allow(clippy::print_stdout)] // printing the pack is the point of the example

use memory_core::{
    NewEpisode, RetrievalQuery, SelfLearningMemory, StepInput, StepResult, TaskContext,
    TaskOutcome, TaskType,
};
use memory_storage_turso::TursoStorage;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let storage = TursoStorage::open(dir.path().join("memory.db")).await?;
    let memory = SelfLearningMemory::new(Arc::new(storage));
    let ns = "my-agent";

    // 1. Start: describe the task and where it happens.
    let mut task = NewEpisode::new("Fix the 500 error when a user signs up with a taken email");
    task.task_type = TaskType::Debugging;
    task.context = TaskContext {
        domain: Some("web-api".into()),
        language: Some("rust".into()),
        ..TaskContext::default()
    };
    let id = memory.start_episode(ns, task).await?;

    // 2. Log every step as it happens.
    let steps = [
        (
            "cargo test",
            StepResult::Error {
                message: "users::duplicate_email panicked: UniqueViolation".into(),
            },
        ),
        (
            "edit_file",
            StepResult::Success {
                output: "map UniqueViolation to 409".into(),
            },
        ),
        (
            "cargo test",
            StepResult::Success {
                output: "test result: ok. 23 passed".into(),
            },
        ),
    ];
    for (tool, result) in steps {
        memory
            .log_step(
                ns,
                id,
                StepInput::new(tool, "", result).with_latency_ms(500),
            )
            .await?;
    }

    // 3. Complete: the memory scores the episode and reflects on it.
    let done = memory
        .complete_episode(
            ns,
            id,
            TaskOutcome::Success {
                verdict: "duplicate emails return 409".into(),
                artifacts: vec!["src/routes/users.rs".into()],
            },
        )
        .await?;
    let reward = done.reward.as_ref().map_or(0.0, |r| r.total);
    eprintln!(
        "reward {reward:.2}; lessons: {:?}",
        done.reflection.map(|r| r.insights)
    );

    // 4. Next task: retrieve the relevant experience as a token-budgeted Markdown pack.
    let mut query =
        RetrievalQuery::new(ns, "signup fails with a server error for an existing email");
    query.context.domain = Some("web-api".into());
    let pack = memory.retrieve_context(&query).await?;
    assert_eq!(pack.hits.first().map(|h| h.id), Some(id));
    print!("{}", pack.markdown);
    Ok(())
}
