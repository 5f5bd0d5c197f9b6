//! Property tests: whatever valid episode is stored is read back identical, and an episode
//! built through the lifecycle (append steps, complete) reads back as the model predicts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use memory_core::learning::{Mined, mine};
use memory_core::storage::prelude::*;
use memory_core::{
    Completion, Complexity, Episode, EpisodeFilter, ExecutionStep, Reflection, RewardScore,
    StepInput, StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_storage_turso::TursoStorage;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Text with the characters most likely to break storage: quotes, SQL and FTS syntax,
/// emoji, combining marks, control characters.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9 _-]{0,24}",
        prop::collection::vec(any::<char>(), 0..24).prop_map(|c| c.into_iter().collect()),
        Just(r#"say "hi" and 'bye'"#.to_string()),
        Just("'; DROP TABLE episodes; --".to_string()),
        Just("task:NEAR(a b) OR x*".to_string()),
        Just("🦀 crab 🎉 e\u{301}\u{0} \\ \n\t".to_string()),
        Just(String::new()),
    ]
    .boxed()
}

fn label() -> BoxedStrategy<String> {
    prop_oneof!["[a-z][a-z0-9-]{0,15}", text()].boxed()
}

/// A finite float anywhere in f64's range, including subnormals and -0.0.
fn finite() -> BoxedStrategy<f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 3.0),
        Just(f64::MAX),
        Just(0.1 + 0.2),
    ]
    .boxed()
}

/// Any JSON value nested up to three levels.
fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn json_map() -> BoxedStrategy<Map<String, Value>> {
    prop::collection::btree_map(text(), json(), 0..4)
        .prop_map(|m| m.into_iter().collect())
        .boxed()
}

/// A timestamp in whole microseconds, roughly years 1019 to 8307.
fn timestamp() -> BoxedStrategy<DateTime<Utc>> {
    (-30_000_000_000_000_000i64..200_000_000_000_000_000i64)
        .prop_map(|us| DateTime::from_timestamp_micros(us).unwrap())
        .boxed()
}

fn step_result() -> BoxedStrategy<StepResult> {
    prop_oneof![
        text().prop_map(|output| StepResult::Success { output }),
        text().prop_map(|message| StepResult::Error { message }),
        Just(StepResult::Timeout),
    ]
    .boxed()
}

fn step_input() -> BoxedStrategy<StepInput> {
    (
        label(),
        text(),
        json(),
        step_result(),
        any::<u64>(),
        any::<Option<u32>>(),
        json_map(),
    )
        .prop_map(
            |(tool, action, parameters, result, latency_ms, tokens_used, metadata)| StepInput {
                tool,
                action,
                parameters,
                result,
                latency_ms,
                tokens_used,
                metadata,
            },
        )
        .boxed()
}

fn steps() -> BoxedStrategy<Vec<ExecutionStep>> {
    prop::collection::vec((step_input(), timestamp()), 0..20)
        .prop_map(|inputs| {
            inputs
                .into_iter()
                .enumerate()
                .map(|(i, (input, at))| input.into_step(i as u32 + 1, at))
                .collect()
        })
        .boxed()
}

fn strings() -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(text(), 0..4).boxed()
}

fn outcome() -> BoxedStrategy<TaskOutcome> {
    prop_oneof![
        (text(), strings())
            .prop_map(|(verdict, artifacts)| TaskOutcome::Success { verdict, artifacts }),
        (text(), strings(), strings()).prop_map(|(verdict, completed, failed)| {
            TaskOutcome::PartialSuccess {
                verdict,
                completed,
                failed,
            }
        }),
        (text(), proptest::option::of(text()))
            .prop_map(|(reason, details)| TaskOutcome::Failure { reason, details }),
        text().prop_map(|reason| TaskOutcome::Abstained { reason }),
    ]
    .boxed()
}

fn reward() -> BoxedStrategy<RewardScore> {
    (finite(), finite(), finite(), finite(), text())
        .prop_map(
            |(total, base, efficiency, quality, breakdown)| RewardScore {
                total,
                base,
                efficiency,
                quality,
                breakdown,
            },
        )
        .boxed()
}

fn reflection() -> BoxedStrategy<Reflection> {
    (strings(), strings(), strings())
        .prop_map(|(successes, improvements, insights)| Reflection {
            successes,
            improvements,
            insights,
        })
        .boxed()
}

fn context() -> BoxedStrategy<TaskContext> {
    (
        proptest::option::of(label()),
        proptest::option::of(label()),
        proptest::option::of(label()),
        proptest::option::of(prop_oneof![
            Just(Complexity::Simple),
            Just(Complexity::Moderate),
            Just(Complexity::Complex),
        ]),
        prop::collection::vec(label(), 0..4),
    )
        .prop_map(
            |(domain, language, framework, complexity, tags)| TaskContext {
                domain,
                language,
                framework,
                complexity,
                tags,
            },
        )
        .boxed()
}

/// How an episode ended, if it has: (ended_at, outcome, reward, reflection).
type Ending = Option<(
    DateTime<Utc>,
    TaskOutcome,
    Option<RewardScore>,
    Option<Reflection>,
)>;

fn ending() -> BoxedStrategy<Ending> {
    proptest::option::of((
        timestamp(),
        outcome(),
        proptest::option::of(reward()),
        proptest::option::of(reflection()),
    ))
    .boxed()
}

fn episode() -> BoxedStrategy<Episode> {
    (
        (
            any::<u128>(),
            "[A-Za-z0-9_.:-]{1,16}",
            text(),
            prop::sample::select(TaskType::ALL.to_vec()),
            context(),
            timestamp(),
        ),
        (
            steps(),
            ending(),
            prop::collection::vec(any::<u128>().prop_map(Uuid::from_u128), 0..3),
            prop::collection::vec(label(), 0..4),
            json_map(),
            proptest::option::of(any::<u128>().prop_map(Uuid::from_u128)),
        ),
    )
        .prop_map(
            |(
                (id, namespace, task_description, task_type, context, started_at),
                (steps, ending, pattern_ids, tags, metadata, retrieval_session),
            )| {
                let (ended_at, outcome, reward, reflection) = match ending {
                    Some((at, o, r, f)) => (Some(at), Some(o), r, f),
                    None => (None, None, None, None),
                };
                Episode {
                    id: Uuid::from_u128(id),
                    namespace,
                    task_description,
                    task_type,
                    context,
                    started_at,
                    ended_at,
                    steps,
                    outcome,
                    reward,
                    reflection,
                    pattern_ids,
                    tags,
                    metadata,
                    retrieval_session,
                }
            },
        )
        .boxed()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

#[test]
fn a_stored_episode_reads_back_identical() {
    let rt = runtime();
    let dir = tempfile::TempDir::new().unwrap();
    let storage = rt
        .block_on(TursoStorage::open(dir.path().join("memory.db")))
        .unwrap();
    let mut runner = TestRunner::new(config(64));
    runner
        .run(&episode(), |episode| {
            rt.block_on(async {
                let ns = episode.namespace.as_str();
                // Shrinking may replay an id; start each case from a clean slate.
                storage
                    .delete_episode(ns, episode.id, 30.0)
                    .await
                    .map_err(fail)?;

                storage.store_episode(&episode).await.map_err(fail)?;
                let back = storage.get_episode(ns, episode.id).await.map_err(fail)?;
                prop_assert_eq!(back.as_deref(), Some(&episode));

                let listed = storage
                    .list_episodes(&EpisodeFilter::new(ns))
                    .await
                    .map_err(fail)?;
                prop_assert_eq!(listed, vec![episode.summary()]);

                prop_assert!(
                    storage
                        .delete_episode(ns, episode.id, 30.0)
                        .await
                        .map_err(fail)?
                );
                Ok(())
            })
        })
        .unwrap();
    let counts = rt.block_on(storage.row_counts()).unwrap();
    assert_eq!(counts, memory_storage_turso::RowCounts::default());
}

#[test]
fn the_lifecycle_reads_back_as_the_model_predicts() {
    let rt = runtime();
    let dir = tempfile::TempDir::new().unwrap();
    let storage = rt
        .block_on(TursoStorage::open(dir.path().join("memory.db")))
        .unwrap();
    let inputs = prop::collection::vec((step_input(), timestamp()), 0..12);
    let finish = (timestamp(), outcome(), reward(), reflection());
    let mut runner = TestRunner::new(config(32));
    runner
        .run(
            &(episode(), inputs, finish),
            |(mut start, inputs, (ended_at, outcome, reward, reflection))| {
                start.steps.clear();
                start.ended_at = None;
                start.outcome = None;
                start.reward = None;
                start.reflection = None;
                rt.block_on(async {
                    let ns = start.namespace.clone();
                    storage
                        .delete_episode(&ns, start.id, 30.0)
                        .await
                        .map_err(fail)?;
                    storage.store_episode(&start).await.map_err(fail)?;

                    let mut expected = start.clone();
                    for (input, at) in inputs {
                        let seq = expected.steps.len() as u32 + 1;
                        let stored = storage
                            .append_step(&ns, start.id, input.clone(), at, 1_000)
                            .await
                            .map_err(fail)?;
                        prop_assert_eq!(&stored, &input.into_step(seq, at));
                        expected.steps.push(stored);
                    }
                    let mut completion = Completion {
                        ended_at,
                        outcome,
                        reward,
                        reflection,
                        expected_steps: expected.steps.len() as u32,
                        steps: None,
                        learned: Mined::default(),
                        feedback_session: None,
                        half_life_days: 30.0,
                    };
                    expected.ended_at = Some(completion.ended_at);
                    expected.outcome = Some(completion.outcome.clone());
                    expected.reflection = Some(completion.reflection.clone());
                    // Mined without the generated reward, which may be any finite float:
                    // the facade's rewards are in [0, 1], and sums of huge ones overflow.
                    completion.learned = mine(&expected);
                    expected.reward = Some(completion.reward.clone());

                    let pattern_ids = storage
                        .complete_episode(&ns, start.id, &completion)
                        .await
                        .map_err(fail)?;
                    prop_assert_eq!(pattern_ids.len(), completion.learned.observations.len());
                    for id in &pattern_ids {
                        let pattern = storage.get_pattern(&ns, *id).await.map_err(fail)?;
                        let pattern = pattern.ok_or_else(|| fail("pattern not stored"))?;
                        prop_assert_eq!(pattern.evidence.last(), Some(&start.id));
                    }
                    expected.pattern_ids = pattern_ids;

                    let back = storage.get_episode(&ns, start.id).await.map_err(fail)?;
                    prop_assert_eq!(back.as_deref(), Some(&expected));
                    Ok(())
                })
            },
        )
        .unwrap();
}
