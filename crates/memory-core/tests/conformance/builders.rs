//! Small builders for the checks: fixed times, episodes, steps, completions, patterns,
//! sessions and edges.

use chrono::{DateTime, Duration, TimeZone, Utc};
use memory_core::learning::mine;
use memory_core::{
    Checkpoint, Completion, Episode, MemoryError, Mined, OutcomeStats, Pattern, PatternKind,
    PatternScope, Reflection, Relationship, RelationshipKind, RetrievalSession, RewardScore,
    SessionRetention, StepInput, StepResult, StorageBackend, TaskContext, TaskOutcome, TaskType,
    to_micros,
};
use uuid::Uuid;

/// A fixed point in time, so checks do not depend on the clock.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap()
}

/// `t0()` plus `secs` seconds and some microseconds (to check they survive).
pub fn at(secs: i64) -> DateTime<Utc> {
    to_micros(t0() + Duration::seconds(secs) + Duration::microseconds(123_456))
}

/// A running debugging episode in `ns`, started `secs` after `t0()`, with no steps.
pub fn running(ns: &str, task: &str, secs: i64) -> Episode {
    Episode {
        id: Uuid::now_v7(),
        namespace: ns.to_string(),
        task_description: task.to_string(),
        task_type: TaskType::Debugging,
        context: TaskContext::default(),
        started_at: at(secs),
        ended_at: None,
        steps: Vec::new(),
        outcome: None,
        reward: None,
        reflection: None,
        pattern_ids: Vec::new(),
        tags: Vec::new(),
        metadata: serde_json::Map::new(),
        retrieval_session: None,
    }
}

/// A successful step with the given tool, action and latency.
pub fn step(tool: &str, action: &str, latency_ms: u64) -> StepInput {
    StepInput::new(
        tool,
        action,
        StepResult::Success {
            output: format!("{tool} ok"),
        },
    )
    .with_latency_ms(latency_ms)
}

/// A successful outcome.
pub fn success(verdict: &str) -> TaskOutcome {
    TaskOutcome::Success {
        verdict: verdict.to_string(),
        artifacts: vec![],
    }
}

/// A failed outcome.
pub fn failure(reason: &str) -> TaskOutcome {
    TaskOutcome::Failure {
        reason: reason.to_string(),
        details: None,
    }
}

/// The reward a check gives an outcome.
fn reward_of(outcome: &TaskOutcome) -> f64 {
    match outcome {
        TaskOutcome::Success { .. } => 1.0,
        TaskOutcome::PartialSuccess { .. } => 0.5,
        _ => 0.0,
    }
}

/// A completion of an episode with `steps` steps, teaching nothing.
pub fn plain_completion(steps: u32, outcome: TaskOutcome, ended_at: DateTime<Utc>) -> Completion {
    let total = reward_of(&outcome);
    Completion {
        ended_at,
        outcome,
        reward: RewardScore {
            total,
            base: total,
            efficiency: 0.5,
            quality: 1.0,
            breakdown: format!("total {total}"),
        },
        reflection: Reflection {
            successes: vec!["kept going".into()],
            improvements: vec![],
            insights: vec!["patience pays".into()],
        },
        expected_steps: steps,
        steps: None,
        learned: Mined::default(),
        feedback_session: None,
        half_life_days: 30.0,
    }
}

/// `episode` as `completion` leaves it (steps unchanged).
pub fn completed_with(mut episode: Episode, completion: &Completion) -> Episode {
    episode.ended_at = Some(completion.ended_at);
    episode.outcome = Some(completion.outcome.clone());
    episode.reward = Some(completion.reward.clone());
    episode.reflection = Some(completion.reflection.clone());
    episode
}

/// The completion of `episode` (with the steps it has) carrying what mining it teaches.
pub fn completion_of(
    episode: &Episode,
    outcome: TaskOutcome,
    ended_at: DateTime<Utc>,
) -> Completion {
    let mut c = plain_completion(episode.steps.len() as u32, outcome, ended_at);
    c.learned = mine(&completed_with(episode.clone(), &c));
    c
}

/// A completed episode, steps and all, to store as it is (as an import does).
pub fn finished(ns: &str, task: &str, secs: i64, outcome: TaskOutcome) -> Episode {
    let completion = plain_completion(0, outcome, at(secs + 60));
    completed_with(running(ns, task, secs), &completion)
}

/// Records an episode through the store's lifecycle — stored running, `tools` appended as
/// steps, completed with what it teaches — and returns it as stored.
pub async fn record(
    store: &dyn StorageBackend,
    ns: &str,
    task: &str,
    secs: i64,
    tools: &[&str],
    outcome: TaskOutcome,
) -> Episode {
    let episode = running(ns, task, secs);
    store.store_episode(&episode).await.unwrap();
    for (i, tool) in tools.iter().enumerate() {
        store
            .append_step(
                ns,
                episode.id,
                step(tool, "run it", 10),
                at(secs + i as i64 + 1),
                100,
            )
            .await
            .unwrap();
    }
    let stored = store.get_episode(ns, episode.id).await.unwrap().unwrap();
    let completion = completion_of(&stored, outcome, at(secs + 50));
    store
        .complete_episode(ns, episode.id, &completion)
        .await
        .unwrap();
    (*store.get_episode(ns, episode.id).await.unwrap().unwrap()).clone()
}

/// A pattern to store as it is, with `episodes` episodes of which `successes` succeeded,
/// all seen at `last_seen`.
pub fn pattern(
    ns: &str,
    kind: PatternKind,
    scope: PatternScope,
    episodes: u64,
    successes: u64,
    lift: f64,
    last_seen: DateTime<Utc>,
) -> Pattern {
    Pattern {
        id: Uuid::now_v7(),
        namespace: ns.to_string(),
        signature: format!("sig-{}", Uuid::now_v7()),
        kind,
        scope,
        stats: OutcomeStats {
            support: episodes as f64,
            successes: successes as f64,
            reward_sum: successes as f64,
            episodes,
            successful_episodes: successes,
            updated_at: last_seen,
        },
        lift,
        effectiveness: Default::default(),
        evidence: Vec::new(),
        example: None,
        created_at: last_seen,
        last_seen,
    }
}

/// A tool-sequence pattern kind.
pub fn tools(names: &[&str]) -> PatternKind {
    PatternKind::ToolSequence {
        tools: names.iter().map(|t| t.to_string()).collect(),
    }
}

/// A retrieval session of `ns` created at `created_at`, recommending `recommended`.
pub fn session(ns: &str, created_at: DateTime<Utc>, recommended: Vec<Uuid>) -> RetrievalSession {
    RetrievalSession {
        id: Uuid::now_v7(),
        namespace: ns.to_string(),
        query: "how to fix it".into(),
        recommended,
        created_at,
        feedback: None,
    }
}

/// A retention that keeps every session the checks store.
pub fn keep_all() -> SessionRetention {
    SessionRetention {
        max_per_namespace: 10_000,
        max_age_days: 100_000.0,
    }
}

/// An edge `from → to` of `kind` in `ns`, created at `created_at`.
pub fn edge(
    ns: &str,
    from: Uuid,
    to: Uuid,
    kind: RelationshipKind,
    created_at: DateTime<Utc>,
) -> Relationship {
    Relationship {
        id: Uuid::now_v7(),
        namespace: ns.to_string(),
        from,
        to,
        kind,
        metadata: Default::default(),
        created_at,
    }
}

/// A checkpoint of episode `episode` in `ns` at `at`.
pub fn checkpoint(ns: &str, episode: Uuid, at: DateTime<Utc>, note: &str) -> Checkpoint {
    Checkpoint {
        id: Uuid::now_v7(),
        namespace: ns.to_string(),
        episode_id: episode,
        at,
        step_count: 0,
        note: note.to_string(),
    }
}

/// Stores `episodes` one by one.
pub async fn store_all(store: &dyn StorageBackend, episodes: &[&Episode]) {
    for e in episodes {
        store.store_episode(e).await.unwrap();
    }
}

/// Asserts `result` failed with the error `expected` names (`invalid`, `not found`,
/// `conflict`, `stale` or `cycle`), naming `what` otherwise.
pub fn assert_error<T: std::fmt::Debug>(
    result: memory_core::Result<T>,
    expected: &str,
    what: &str,
) {
    let kind = match &result {
        Err(MemoryError::Invalid(_)) => "invalid",
        Err(MemoryError::NotFound { .. }) => "not found",
        Err(MemoryError::Conflict(_)) => "conflict",
        Err(MemoryError::Stale(_)) => "stale",
        Err(MemoryError::Cycle { .. }) => "cycle",
        Err(_) => "another error",
        Ok(_) => "success",
    };
    assert_eq!(kind, expected, "{what}: {result:?}");
}
