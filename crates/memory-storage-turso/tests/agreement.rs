//! `TursoStorage` and the reference `InMemoryStorage` agree: seeded random workloads —
//! episodes started (with start times that tie), steps, completions that teach patterns,
//! deletes, sessions and feedback, vectors — run against both, and after every operation
//! the same reads of both must match: listings under random filters and cursors, full-text
//! search (the same hits in the same order with the same scores), patterns, counts, cost
//! baselines, idle episodes and vector search. Pattern ids are each store's own, so
//! patterns are compared by signature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{at, completion_of, running, step};
use memory_core::{
    Episode, EpisodeCursor, EpisodeFilter, EpisodeStatus, Feedback, InMemoryStorage, MemoryError,
    OutcomeKind, Pattern, PatternFilter, PatternOrder, StepInput, StepResult, StorageBackend,
    TaskOutcome, TaskType,
};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const NAMESPACES: [&str; 2] = ["a", "b"];
const WORDS: [&str; 16] = [
    "deploy",
    "deployed",
    "failing",
    "fails",
    "login",
    "database",
    "migration",
    "timeout",
    "cache",
    "caching",
    "retry",
    "retried",
    "proxy",
    "certificate",
    "queue",
    "latency",
];
const TOOLS: [&str; 5] = ["cargo test", "edit_file", "read_logs", "deploy", "curl"];
const DOMAINS: [Option<&str>; 3] = [Some("web"), Some("db"), None];
const TAGS: [&str; 3] = ["urgent", "infra", "auth"];

fn sentence(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| *rng.pick(&WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Both stores and what the workload knows of them.
struct Pair {
    turso: Arc<dyn StorageBackend>,
    memory: Arc<dyn StorageBackend>,
    running: Vec<(String, Uuid)>,
    completed: Vec<(String, Uuid)>,
    sessions: Vec<(String, Uuid, Uuid)>,
    clock: i64,
}

/// The kind of an error, or success: what both stores must agree on.
fn outcome<T>(result: &memory_core::Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(MemoryError::Invalid(_)) => "invalid",
        Err(MemoryError::NotFound { .. }) => "not found",
        Err(MemoryError::Conflict(_)) => "conflict",
        Err(MemoryError::Stale(_)) => "stale",
        Err(MemoryError::Cycle { .. }) => "cycle",
        Err(_) => "other",
    }
}

/// A pattern as comparable across stores: everything but its id, evidence as given.
fn comparable(p: &Pattern) -> String {
    let mut p = p.clone();
    p.id = Uuid::nil();
    format!("{p:?}")
}

/// Each pattern id of a store's namespace by signature.
async fn signatures(store: &dyn StorageBackend, ns: &str) -> HashMap<Uuid, String> {
    let mut all = PatternFilter::new(ns);
    all.limit = 10_000;
    store
        .list_patterns(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id, p.signature))
        .collect()
}

/// An episode as comparable across stores: pattern ids replaced by signatures.
async fn comparable_episode(store: &dyn StorageBackend, episode: &Episode) -> String {
    let by_id = signatures(store, &episode.namespace).await;
    let mut e = episode.clone();
    let named: Vec<String> = e
        .pattern_ids
        .iter()
        .map(|id| by_id.get(id).cloned().unwrap_or_else(|| "gone".into()))
        .collect();
    e.pattern_ids = Vec::new();
    format!("{e:?} {named:?}")
}

impl Pair {
    fn tick(&mut self) -> DateTime<Utc> {
        self.clock += 1;
        at(1_000 + self.clock)
    }

    async fn start(&mut self, rng: &mut Rng) {
        let ns = *rng.pick(&NAMESPACES);
        let words = 2 + rng.below(5);
        let mut e = running(ns, &sentence(rng, words), rng.below(40) as i64);
        e.context.domain = rng.pick(&DOMAINS).map(str::to_string);
        e.task_type = if rng.chance(30) {
            TaskType::Testing
        } else {
            TaskType::Debugging
        };
        e.tags = TAGS
            .iter()
            .filter(|_| rng.chance(30))
            .map(|t| t.to_string())
            .collect();
        let (t, m) = (
            self.turso.store_episode(&e).await,
            self.memory.store_episode(&e).await,
        );
        assert_eq!(outcome(&t), outcome(&m), "store_episode: {t:?} / {m:?}");
        self.running.push((ns.to_string(), e.id));
    }

    async fn log(&mut self, rng: &mut Rng) {
        let Some((ns, id)) = self
            .running
            .get(rng.below(self.running.len().max(1)))
            .cloned()
        else {
            return;
        };
        let result = if rng.chance(25) {
            StepResult::Error {
                message: sentence(rng, 3),
            }
        } else {
            StepResult::Success {
                output: sentence(rng, 2),
            }
        };
        let input = StepInput::new(*rng.pick(&TOOLS), sentence(rng, 2), result)
            .with_latency_ms(rng.below(500) as u64);
        let when = self.tick();
        let t = self
            .turso
            .append_step(&ns, id, input.clone(), when, 8)
            .await;
        let m = self.memory.append_step(&ns, id, input, when, 8).await;
        assert_eq!(outcome(&t), outcome(&m), "append_step: {t:?} / {m:?}");
        if let (Ok(t), Ok(m)) = (&t, &m) {
            assert_eq!(t, m);
        }
    }

    async fn complete(&mut self, rng: &mut Rng) {
        if self.running.is_empty() {
            return;
        }
        let (ns, id) = self.running.remove(rng.below(self.running.len()));
        let episode = self.memory.get_episode(&ns, id).await.unwrap().unwrap();
        let outcome_given = match rng.below(4) {
            0 | 1 => common::success("fixed"),
            2 => TaskOutcome::Failure {
                reason: sentence(rng, 2),
                details: None,
            },
            _ => TaskOutcome::PartialSuccess {
                verdict: "half".into(),
                completed: vec![],
                failed: vec![],
            },
        };
        let when = self.tick();
        let mut completion = completion_of(&episode, outcome_given, when);
        if let Some((_, session, _)) = self.sessions.iter().find(|(s_ns, _, _)| *s_ns == ns)
            && rng.chance(30)
        {
            completion.feedback_session = Some(*session);
        }
        let t = self.turso.complete_episode(&ns, id, &completion).await;
        let m = self.memory.complete_episode(&ns, id, &completion).await;
        assert_eq!(outcome(&t), outcome(&m), "complete: {t:?} / {m:?}");
        if let (Ok(t), Ok(m)) = (&t, &m) {
            assert_eq!(t.len(), m.len());
        }
        self.completed.push((ns, id));
    }

    async fn delete(&mut self, rng: &mut Rng) {
        let pool = if rng.chance(50) {
            &mut self.completed
        } else {
            &mut self.running
        };
        if pool.is_empty() {
            return;
        }
        let (ns, id) = pool.remove(rng.below(pool.len()));
        let t = self.turso.delete_episode(&ns, id, 30.0).await.unwrap();
        let m = self.memory.delete_episode(&ns, id, 30.0).await.unwrap();
        assert_eq!((t, m), (true, true));
    }

    /// A session in each store recommending the same patterns (by signature), and maybe
    /// feedback on one.
    async fn session(&mut self, rng: &mut Rng) {
        let ns = *rng.pick(&NAMESPACES);
        let (t_sigs, m_sigs) = (
            signatures(self.turso.as_ref(), ns).await,
            signatures(self.memory.as_ref(), ns).await,
        );
        let mut chosen: Vec<&String> = m_sigs.values().filter(|_| rng.chance(40)).collect();
        chosen.sort();
        let ids_in = |sigs: &HashMap<Uuid, String>| -> Vec<Uuid> {
            let by_sig: HashMap<&String, Uuid> = sigs.iter().map(|(id, s)| (s, *id)).collect();
            chosen
                .iter()
                .filter_map(|s| by_sig.get(*s).copied())
                .collect()
        };
        let (t_ids, m_ids) = (ids_in(&t_sigs), ids_in(&m_sigs));
        assert_eq!(t_ids.len(), m_ids.len(), "the same signatures in both");
        let id = Uuid::now_v7();
        let when = self.tick();
        let session = |recommended| memory_core::RetrievalSession {
            id,
            namespace: ns.to_string(),
            query: "q".into(),
            recommended,
            created_at: when,
            feedback: None,
        };
        let retention = memory_core::SessionRetention {
            max_per_namespace: 6,
            max_age_days: 30.0,
        };
        self.turso
            .store_session(&session(t_ids.clone()), &retention)
            .await
            .unwrap();
        self.memory
            .store_session(&session(m_ids.clone()), &retention)
            .await
            .unwrap();
        self.sessions.push((ns.to_string(), id, Uuid::nil()));
        if rng.chance(50) {
            let kind = *rng.pick(&[OutcomeKind::Success, OutcomeKind::Failure]);
            let feedback = |applied| Feedback {
                applied,
                outcome: kind,
                recorded_at: when,
            };
            let t = self.turso.record_feedback(ns, id, &feedback(t_ids)).await;
            let m = self.memory.record_feedback(ns, id, &feedback(m_ids)).await;
            assert_eq!(outcome(&t), outcome(&m), "feedback: {t:?} / {m:?}");
        }
    }

    async fn vectors(&mut self, rng: &mut Rng) {
        for store in [&self.turso, &self.memory] {
            store.ensure_vector_space("angles", 2).await.unwrap();
        }
        let Some((ns, id)) = self
            .completed
            .get(rng.below(self.completed.len().max(1)))
            .cloned()
        else {
            return;
        };
        let chunks: Vec<Vec<f32>> = (0..1 + rng.below(3))
            .map(|_| {
                let angle = rng.below(36) as f32 * 10f32.to_radians();
                vec![angle.cos(), angle.sin()]
            })
            .collect();
        for store in [&self.turso, &self.memory] {
            store
                .store_vectors("angles", &ns, &[(id, chunks.clone())])
                .await
                .unwrap();
        }
    }

    /// Every read the workload compares, with random filters.
    async fn compare(&self, rng: &mut Rng) {
        let ns = *rng.pick(&NAMESPACES);
        let (t, m) = (self.turso.as_ref(), self.memory.as_ref());

        let mut filter = EpisodeFilter::new(ns);
        filter.domain = rng
            .pick(&DOMAINS)
            .filter(|_| rng.chance(30))
            .map(str::to_string);
        filter.tags = TAGS
            .iter()
            .filter(|_| rng.chance(15))
            .map(|t| t.to_string())
            .collect();
        filter.status = *rng.pick(&[
            None,
            None,
            Some(EpisodeStatus::Running),
            Some(EpisodeStatus::Completed),
        ]);
        if rng.chance(20) {
            filter.started_after = Some(at(rng.below(40) as i64));
        }
        filter.limit = 1 + rng.below(8);
        filter.offset = rng.below(3);
        let listed = t.list_episodes(&filter).await.unwrap();
        assert_eq!(
            listed,
            m.list_episodes(&filter).await.unwrap(),
            "{filter:?}"
        );
        if let Some(last) = listed.last() {
            filter.after = Some(EpisodeCursor::after(last));
            assert_eq!(
                t.list_episodes(&filter).await.unwrap(),
                m.list_episodes(&filter).await.unwrap(),
                "{filter:?}"
            );
        }

        let words = 1 + rng.below(3);
        let terms: Vec<String> = (0..words).map(|_| rng.pick(&WORDS).to_string()).collect();
        let limit = 1 + rng.below(10);
        let (th, mh) = (
            t.search_text(ns, &terms, limit).await.unwrap(),
            m.search_text(ns, &terms, limit).await.unwrap(),
        );
        let ids = |h: &[memory_core::TextMatch]| h.iter().map(|x| x.summary.id).collect::<Vec<_>>();
        assert_eq!(ids(&th), ids(&mh), "search {terms:?}: {th:#?} / {mh:#?}");
        for (x, y) in th.iter().zip(&mh) {
            assert_eq!(x.summary, y.summary);
            assert!(
                (x.bm25 - y.bm25).abs() <= 1e-9 * x.bm25.abs().max(1.0),
                "{x:?} / {y:?}"
            );
            assert!((x.coverage - y.coverage).abs() <= 1e-9, "{x:?} / {y:?}");
        }

        let mut patterns = PatternFilter::new(ns);
        patterns.order = *rng.pick(&[
            PatternOrder::Confidence,
            PatternOrder::Support,
            PatternOrder::Lift,
            PatternOrder::Recent,
        ]);
        patterns.domain = rng
            .pick(&DOMAINS)
            .filter(|_| rng.chance(30))
            .map(str::to_string);
        patterns.min_episodes = rng.below(3) as u64;
        patterns.limit = 10_000;
        let (tp, mp) = (
            t.list_patterns(&patterns).await.unwrap(),
            m.list_patterns(&patterns).await.unwrap(),
        );
        // Ties are broken by id, which each store draws itself: compare the sets, and the
        // order of the sort keys.
        let mut ts: Vec<String> = tp.iter().map(comparable).collect();
        let mut ms: Vec<String> = mp.iter().map(comparable).collect();
        let key = |p: &Pattern| match patterns.order {
            PatternOrder::Confidence => format!("{:e}", p.stats.confidence()),
            PatternOrder::Support => p.stats.episodes.to_string(),
            PatternOrder::Lift => format!("{:e}", p.lift),
            PatternOrder::Recent => p.last_seen.timestamp_micros().to_string(),
        };
        assert_eq!(
            tp.iter().map(key).collect::<Vec<_>>(),
            mp.iter().map(key).collect::<Vec<_>>(),
            "{patterns:?}"
        );
        ts.sort();
        ms.sort();
        assert_eq!(ts, ms, "{patterns:?}");

        assert_eq!(
            t.count_episodes(ns).await.unwrap(),
            m.count_episodes(ns).await.unwrap()
        );
        assert_eq!(t.namespaces().await.unwrap(), m.namespaces().await.unwrap());
        let task_type = *rng.pick(&[TaskType::Debugging, TaskType::Testing]);
        let domain = *rng.pick(&DOMAINS);
        assert_eq!(
            t.comparable_costs(ns, task_type, domain, 5).await.unwrap(),
            m.comparable_costs(ns, task_type, domain, 5).await.unwrap()
        );
        let since = at(1_000 + self.clock - rng.below(20) as i64);
        assert_eq!(
            t.idle_running(since).await.unwrap(),
            m.idle_running(since).await.unwrap()
        );
        assert_eq!(
            t.count_without_vectors().await.unwrap(),
            m.count_without_vectors().await.unwrap()
        );
        let sessions = |list: Vec<memory_core::RetrievalSession>| {
            list.into_iter()
                .map(|s| {
                    (
                        s.id,
                        s.created_at,
                        s.feedback.map(|f| (f.outcome, f.applied.len())),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            sessions(t.list_sessions(ns).await.unwrap()),
            sessions(m.list_sessions(ns).await.unwrap())
        );

        // Vector search: libSQL's index is approximate (and loses entries after deletes,
        // see `approximate_vector_search_misses_near_episodes_after_deletes`), the reference
        // is exact; both answer within the limit, from the namespace's completed episodes.
        let angle = rng.below(36) as f32 * 10f32.to_radians();
        let query = [angle.cos(), angle.sin()];
        let (tv, mv) = (
            t.vector_search(ns, &query, 4).await.unwrap(),
            m.vector_search(ns, &query, 4).await.unwrap(),
        );
        assert!(tv.len() <= mv.len(), "{tv:#?} / {mv:#?}");
        for x in &tv {
            let e = m.get_episode(ns, x.summary.id).await.unwrap().unwrap();
            assert!(e.ended_at.is_some(), "{x:?}");
        }

        if let Some((e_ns, id)) = self.completed.last().or(self.running.last()) {
            let (te, me) = (
                t.get_episode(e_ns, *id).await.unwrap(),
                m.get_episode(e_ns, *id).await.unwrap(),
            );
            match (te, me) {
                (Some(te), Some(me)) => assert_eq!(
                    comparable_episode(t, &te).await,
                    comparable_episode(m, &me).await
                ),
                (te, me) => assert_eq!(te.is_some(), me.is_some()),
            }
        }
    }
}

/// Runs `operations` random operations on a fresh pair, comparing after each.
async fn workload(seed: u64, operations: usize) {
    let (_fixture, storage) = common::fresh().await;
    let mut pair = Pair {
        turso: Arc::new(storage),
        memory: Arc::new(InMemoryStorage::new()),
        running: Vec::new(),
        completed: Vec::new(),
        sessions: Vec::new(),
        clock: 0,
    };
    let mut rng = Rng(seed);
    for _ in 0..operations {
        match rng.below(100) {
            0..25 => pair.start(&mut rng).await,
            25..60 => pair.log(&mut rng).await,
            60..78 => pair.complete(&mut rng).await,
            78..84 => pair.delete(&mut rng).await,
            84..92 => pair.session(&mut rng).await,
            _ => pair.vectors(&mut rng).await,
        }
        pair.compare(&mut rng).await;
    }
    // Whatever the workload left, a step the long way: a later start time ties nothing.
    let e = running("a", "final", 10_000);
    pair.turso.store_episode(&e).await.unwrap();
    pair.memory.store_episode(&e).await.unwrap();
    let s = step("t", "a", 1);
    let when = at(20_000) + Duration::seconds(1);
    assert_eq!(
        pair.turso
            .append_step("a", e.id, s.clone(), when, 8)
            .await
            .unwrap(),
        pair.memory
            .append_step("a", e.id, s, when, 8)
            .await
            .unwrap()
    );
}

/// Four seeds by default (one on a server, where every read is a round trip);
/// `MEMORY_AGREEMENT_SEEDS=n` runs `n`.
#[tokio::test]
async fn random_workloads_read_the_same_from_both_stores() {
    let seeds: u64 = std::env::var("MEMORY_AGREEMENT_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if common::on_server() { 1 } else { 4 });
    for seed in 1..=seeds {
        workload(seed, 250).await;
    }
}

/// A disagreement this suite found: after episodes are deleted, libSQL's vector index
/// (DiskANN) loses entries of episodes still stored, and an approximate answer with at least
/// half the limit found was taken without noticing that a nearer episode — here an exact
/// match — was missing, or that an episode was reported with a chunk other than its best.
/// Vectors are all distinct (so this is not only libSQL issue #2197, deletes with duplicate
/// vectors). A namespace this small is now searched exactly, as the reference store does.
#[tokio::test]
async fn a_small_namespace_finds_its_nearest_episodes_after_deletes() {
    let (_fixture, storage) = common::fresh().await;
    let stores: [Arc<dyn StorageBackend>; 2] =
        [Arc::new(storage), Arc::new(InMemoryStorage::new())];
    let mut ids = Vec::new();
    for store in &stores {
        store.ensure_vector_space("angles", 2).await.unwrap();
    }
    // The probe that found it: a linear congruential generator, seed 0.
    let mut x: u64 = 1_442_695_040_888_963_407;
    let mut draw = |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % n
    };
    for i in 0..30 {
        let mut e = running("a", "t", i);
        e.ended_at = Some(e.started_at);
        // One to three chunks, in directions drawn to a hundredth of a degree (distinct).
        let chunks: Vec<Vec<f32>> = (0..1 + draw(3))
            .map(|_| {
                let angle = (draw(36_000) as f32 / 100.0).to_radians();
                vec![angle.cos(), angle.sin()]
            })
            .collect();
        for store in &stores {
            store.store_episode(&e).await.unwrap();
            store
                .store_vectors("angles", "a", &[(e.id, chunks.clone())])
                .await
                .unwrap();
        }
        ids.push(e.id);
    }
    for _ in 0..6 {
        let id = ids.remove(draw(ids.len() as u64) as usize);
        for store in &stores {
            store.delete_episode("a", id, 30.0).await.unwrap();
        }
    }
    let mut wrong = Vec::new();
    for degrees in (0..360).step_by(15) {
        let angle = (degrees as f32).to_radians();
        let query = [angle.cos(), angle.sin()];
        let found = |list: Vec<memory_core::VectorMatch>| -> Vec<(Uuid, u32, i64)> {
            list.into_iter()
                .map(|m| (m.summary.id, m.chunk, (m.similarity * 1e4).round() as i64))
                .collect()
        };
        let turso = found(stores[0].vector_search("a", &query, 10).await.unwrap());
        let exact = found(stores[1].vector_search("a", &query, 10).await.unwrap());
        // The same episodes with the same best chunks and similarities (to rounding: libSQL
        // computes in f32), in the same order up to ties.
        let mut same_set = turso.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        let mut exact_set = exact.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        same_set.sort();
        exact_set.sort();
        let close = turso.len() == exact.len()
            && turso
                .iter()
                .zip(&exact)
                .all(|(t, e)| (t.2 - e.2).abs() <= 1);
        if !close || same_set != exact_set {
            wrong.push(format!(
                "{degrees}°: libSQL {turso:?}\n      exact {exact:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "not the exact answer:\n{}",
        wrong.join("\n")
    );
}
