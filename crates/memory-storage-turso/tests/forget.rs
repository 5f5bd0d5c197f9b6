//! Deleting an episode is for good: after `delete_episode`, none of its text is left in the
//! database file or its WAL — not in free space, free pages, the text index snapshot, the
//! patterns it taught, its retrieval session, links or checkpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use memory_core::storage::prelude::*;
use memory_core::{
    NewEpisode, RelationshipKind, RelationshipMetadata, RetrievalQuery, SelfLearningMemory,
    StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_storage_turso::{TursoConfig, TursoStorage};
use std::path::Path;
use std::sync::Arc;

const NS: &str = "ops";
/// A word no other record holds (and its own stem, so the index keeps it whole).
const SECRET: &str = "xylophonequartz";

/// How many times `needle` occurs in the files of `dir` (the database, its WAL and shared
/// memory file, anything else the store keeps there).
fn occurrences(dir: &Path, needle: &[u8]) -> usize {
    let mut found = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            found += bytes.windows(needle.len()).filter(|w| *w == needle).count();
        }
    }
    found
}

async fn run(
    memory: &SelfLearningMemory,
    task: &str,
    session: Option<uuid::Uuid>,
    failure: &str,
    fix: &str,
) -> uuid::Uuid {
    let id = memory
        .start_episode(
            NS,
            NewEpisode {
                task_type: TaskType::Debugging,
                context: TaskContext {
                    domain: Some("ops".into()),
                    language: Some("rust".into()),
                    ..TaskContext::default()
                },
                retrieval_session: session,
                ..NewEpisode::new(task)
            },
        )
        .await
        .unwrap();
    let steps = [
        ("deploy", "roll out", Err(failure.to_string())),
        ("vault", "rotate the key", Ok(fix.to_string())),
        ("deploy", "roll out again", Ok("rolled out".to_string())),
    ];
    for (tool, action, result) in steps {
        let result = match result {
            Ok(output) => StepResult::Success { output },
            Err(message) => StepResult::Error { message },
        };
        memory
            .log_step(NS, id, StepInput::new(tool, action, result))
            .await
            .unwrap();
    }
    id
}

#[tokio::test]
async fn a_deleted_episode_leaves_none_of_its_text_in_the_files() {
    if common::on_server() || common::through_replica() {
        // The server keeps its own files; this is about a local database file.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = TursoConfig {
        // A text index snapshot is written as soon as one search has applied a log entry.
        text_snapshot_after: 1,
        ..TursoConfig::default()
    };
    let storage = Arc::new(
        TursoStorage::open_with(dir.path().join("memory.db"), config)
            .await
            .unwrap(),
    );
    let memory = SelfLearningMemory::new(storage.clone());

    // An episode that stays, teaching the same recovery.
    let kept = run(
        &memory,
        "deploy fails with a stale key",
        None,
        "key expired",
        "rotated",
    )
    .await;
    memory
        .complete_episode(
            NS,
            kept,
            TaskOutcome::Success {
                verdict: "deployed".into(),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();

    // The episode to forget: its secret in the task, the retrieval it started from, an
    // error, a step's output, a checkpoint, a link's metadata and the verdict.
    let pack = memory
        .retrieve_context(&RetrievalQuery::new(NS, format!("deploy with {SECRET}")))
        .await
        .unwrap();
    let gone = run(
        &memory,
        &format!("deploy with the {SECRET} credentials"),
        pack.session_id,
        &format!("vault token {SECRET} rejected"),
        &format!("issued {SECRET} again"),
    )
    .await;
    memory
        .checkpoint_episode(NS, gone, &format!("half-way through {SECRET}"))
        .await
        .unwrap();
    memory
        .relate(
            NS,
            gone,
            kept,
            RelationshipKind::RelatedTo,
            RelationshipMetadata {
                reason: Some(format!("same {SECRET} trouble")),
                ..RelationshipMetadata::default()
            },
        )
        .await
        .unwrap();
    memory
        .complete_episode(
            NS,
            gone,
            TaskOutcome::Success {
                verdict: format!("deployed after {SECRET}"),
                artifacts: vec![],
            },
        )
        .await
        .unwrap();
    // A search indexes it and writes the text index snapshot, which holds its terms.
    let hits = storage
        .search_text(NS, &[SECRET.to_string()], 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    storage.finish_background_work().await;
    assert!(
        occurrences(dir.path(), SECRET.as_bytes()) > 0,
        "the files hold the secret before the delete (else this test proves nothing)"
    );

    memory.delete_episode(NS, gone).await.unwrap();

    assert_eq!(occurrences(dir.path(), SECRET.as_bytes()), 0);
    let wal = dir.path().join("memory.db-wal");
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        0,
        "the WAL was emptied"
    );
    // What stays is whole: the kept episode, its patterns, a working index.
    assert!(memory.get_episode(NS, kept).await.unwrap().steps.len() == 3);
    assert!(
        storage
            .search_text(NS, &[SECRET.to_string()], 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = storage
        .search_text(NS, &["stale".to_string()], 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    drop(memory);
    drop(storage);
    // Reopened, the store is consistent.
    let reopened = TursoStorage::open(dir.path().join("memory.db"))
        .await
        .unwrap();
    assert_eq!(reopened.row_counts().await.unwrap().episodes, 1);
}
