//! Retrieval quality: how good `retrieve_context` is at finding the past episodes that matter,
//! in each retrieval mode (BM25 only, vectors only, hybrid), and how fast it is as the store
//! grows. `memory bench retrieval` runs [`run`]; anyone can rerun it and get the same corpus,
//! the same queries and the same labels.
//!
//! **The corpus** ([`CorpusGen`]) is a seeded stream of complete agent episodes over the
//! hand-written topics of `data/retrieval_topics.json` (loaded and described by
//! `retrieval_eval/topics.rs`): 23 domains (web APIs in Go, Python, TypeScript, Rust and
//! Java, databases, Terraform, Kubernetes, CI, frontend, mobile, ML training, security,
//! observability, payments, search, auth, messaging, caching, CLI tools, embedded, game dev,
//! docs, serverless, data pipelines, networking, desktop), each with several topics — a
//! topic is one concrete problem with its own vocabulary, error messages, fixes and
//! verdicts. Each episode takes a topic, a subject and a file, and is written with one of
//! the topic's phrasings, a varied sequence of steps (probes, real-looking errors, fixes, a
//! check) and an outcome (about 70 % success, 15 % partial, 15 % failure). Topics recur
//! with uneven frequency, and some are near misses of others: same surface words,
//! different problem.
//!
//! **The queries** ([`queries`]) are held out: each is one of a topic's query-side phrasings,
//! written with synonyms and paraphrase, never copied from a stored template (their word
//! overlap with the topic's task descriptions is measured and reported). Half carry a context
//! (domain, sometimes language or task type), half are bare text.
//!
//! **The labels** ([`grade`]): 3 for an episode of the query's topic that succeeded, 2 for one
//! of that topic with another outcome, 1 for an episode of a related topic (same domain and
//! problem family), 0 otherwise. **The metrics** (in [`metrics`]): capped Recall@5 and
//! Recall@10 and MRR over grade ≥ 2, nDCG@10 with gain `2^grade − 1` against the ideal ranking
//! of every labelled episode.
//!
//! **The control** ([`control_queries`]): the same questions written with a stored task
//! description of their topic. It is not a test of retrieval (the words are given away) but
//! the calibration that tells a weak corpus from a weak method: every mode should do well on
//! it, so a low held-out figure next to a high control figure measures the vocabulary gap.
//!
//! The corpus is seeded straight into storage (one `store_episode` transaction per episode,
//! as the `completion` benchmark seeds) and embedded with `embed_pending`; the memory is then
//! queried only through its public `retrieve_context`. The labels never reach the memory.
//! [`run`] uses the default local `HashingEmbedder`; [`run_with_embedder`] measures another.

mod kept;
pub mod logs;
pub mod metrics;
mod topics;

use crate::rng::Rng;
use chrono::{DateTime, Duration, Utc};
use memory_core::learning::{compute_reward, reflect};
use memory_core::retrieval::{Fusion, RetrievalMode, query_terms};
use memory_core::{
    Complexity, Embedder, Episode, HashingEmbedder, MemoryConfig, MemoryError, RetrievalQuery,
    SelfLearningMemory, StepInput, StepResult, SystemClock, TaskContext, TaskOutcome, to_micros,
};
use memory_storage_turso::TursoStorage;
use metrics::{ndcg_at_k, quantile, recall_at_k, reciprocal_rank};
use serde::Serialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use topics::{StepT, Topic, domains, kits, topics};
use uuid::Uuid;

/// The namespace the evaluation corpus lives in.
pub const EVAL_NAMESPACE: &str = "retrieval-eval";

/// Hits asked for per query (the cut-off of every metric).
const HITS: usize = 10;

/// Token budget of each retrieval: large enough that the budget never hides a hit.
const TOKEN_BUDGET: usize = 8_000;

/// Untimed queries run before the timed ones of each mode, so that statement caches and page
/// caches are warm as they would be in a long-running process.
const WARMUP_QUERIES: usize = 5;

/// Episodes embedded per batch after seeding.
const EMBED_BATCH: usize = 512;

/// How far back the corpus's episodes are spread.
const HISTORY_DAYS: u64 = 90;

/// The vector weights hybrid mode is also measured at (the fusion sweep), the default's
/// among them.
const SWEEP: &[f64] = &[0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0];

/// Text-trust floors tried with each weight of [`SWEEP`] besides the embedder's default.
const TEXT_TRUST_SWEEP: &[f64] = &[0.1, 0.3, 1.0];

// ───────────────────────────── corpus ─────────────────────────────

/// The ground truth of one generated episode: which topic it is about and whether it
/// succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Index of the episode's topic (see [`topic_count`]).
    pub topic: usize,
    /// Whether the episode's outcome is a success.
    pub succeeded: bool,
}

/// A generated episode with its ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledEpisode {
    /// The complete episode (outcome, reward and reflection included), ready for
    /// `EpisodeStore::store_episode`.
    pub episode: Episode,
    /// What it is about.
    pub label: Label,
}

/// A seeded, endless stream of realistic, labelled agent episodes (see the module docs).
///
/// The stream does not depend on how long it will be: the first `n` episodes of a 100,000
/// episode corpus are the `n`-episode corpus, so a store can be grown step by step. Every
/// topic appears at least three times among the first `3 × topic_count()` episodes; after
/// that topics recur with fixed, uneven weights (the most common about four times as often as
/// the rarest). Ids are UUID v7 made from each episode's start time and the PRNG, so the whole
/// output, ids included, is a function of the seed and `now`.
///
/// ```
/// use memory_bench::retrieval_eval::CorpusGen;
///
/// let now = chrono::Utc::now();
/// let mut a = CorpusGen::new(7, now);
/// let mut b = CorpusGen::new(7, now);
/// let first = a.next_episode("ns");
/// assert_eq!(first, b.next_episode("ns"));
/// assert!(first.episode.is_complete());
/// ```
#[derive(Debug, Clone)]
pub struct CorpusGen {
    rng: Rng,
    now: DateTime<Utc>,
    /// Cumulative topic weights, for weighted choice.
    cumulative: Vec<f64>,
    produced: usize,
}

impl CorpusGen {
    /// A generator whose output is determined by `seed`; episodes end before `now`, spread
    /// over the previous 90 days.
    pub fn new(seed: u64, now: DateTime<Utc>) -> Self {
        let mut rng = Rng(seed ^ 0x5EED_0FC0_4B05);
        let mut total = 0.0;
        let cumulative = topics()
            .iter()
            .map(|_| {
                total += 0.4 + 1.2 * rng.unit();
                total
            })
            .collect();
        CorpusGen {
            rng,
            now,
            cumulative,
            produced: 0,
        }
    }

    /// How many episodes have been generated so far.
    pub fn produced(&self) -> usize {
        self.produced
    }

    /// The next episode, in `namespace`.
    pub fn next_episode(&mut self, namespace: &str) -> LabelledEpisode {
        let topic = if self.produced < 3 * topics().len() {
            self.produced % topics().len()
        } else {
            let total = self.cumulative.last().copied().unwrap_or(1.0);
            let x = self.rng.unit() * total;
            self.cumulative
                .iter()
                .position(|c| x < *c)
                .unwrap_or(topics().len() - 1)
        };
        self.produced += 1;
        let episode = self.episode(namespace, topic);
        let succeeded = matches!(episode.outcome, Some(TaskOutcome::Success { .. }));
        LabelledEpisode {
            episode,
            label: Label { topic, succeeded },
        }
    }

    /// One episode about `topics()[t]`.
    fn episode(&mut self, namespace: &str, t: usize) -> Episode {
        let rng = &mut self.rng;
        let topic = &topics()[t];
        let domain = domain_of(topic);
        let kit = kit_of(topic);
        let subject = pick_str(rng, &domain.subjects);
        let mut vars = Vars {
            subject,
            file: pick_file(kit, subject, rng),
        };

        let task_description = format!(
            "{}{}{}",
            rng.pick(TASK_PREFIXES),
            vars.fill(pick_str(rng, &topic.tasks), rng),
            vars.fill(rng.pick(TASK_SUFFIXES), rng)
        );

        let roll = rng.unit();
        let kind = if roll < 0.70 {
            Outcome::Success
        } else if roll < 0.85 {
            Outcome::Partial
        } else {
            Outcome::Failure
        };

        // The steps: look, hit the error, look further, fix, check.
        let mut plan: Vec<(StepT, bool)> = Vec::with_capacity(9);
        let first_probe = rng.below(topic.probes.len());
        let first_error = rng.below(topic.errors.len());
        if rng.chance(0.7) {
            plan.push((topic.probes[first_probe].parts(), true));
            plan.push((topic.errors[first_error].parts(), false));
        } else {
            plan.push((topic.errors[first_error].parts(), false));
            plan.push((topic.probes[first_probe].parts(), true));
        }
        if topic.probes.len() > 1 && rng.chance(0.5) {
            let other = (first_probe + 1 + rng.below(topic.probes.len() - 1)) % topic.probes.len();
            plan.push((topic.probes[other].parts(), true));
        }
        if rng.chance(0.5) {
            plan.push((rng.pick(GENERIC_STEPS), true));
        }
        if topic.errors.len() > 1 && rng.chance(0.35) {
            let other = (first_error + 1 + rng.below(topic.errors.len() - 1)) % topic.errors.len();
            plan.push((topic.errors[other].parts(), false));
        }
        let first_fix = rng.below(topic.fixes.len());
        plan.push((
            topic.fixes[first_fix].parts(),
            kind != Outcome::Failure || rng.chance(0.5),
        ));
        if topic.fixes.len() > 1 && rng.chance(0.4) {
            plan.push((
                topic.fixes[(first_fix + 1) % topic.fixes.len()].parts(),
                true,
            ));
        }
        let check = pick(rng, &kit.verify).parts();
        match kind {
            Outcome::Failure => {
                let (_, _, message) = topic.errors[rng.below(topic.errors.len())].parts();
                plan.push(((check.0, check.1, message), false));
            }
            _ => plan.push((check, true)),
        }

        let started_at =
            to_micros(self.now - Duration::seconds(rng.range(3_600, HISTORY_DAYS * 86_400) as i64));
        let mut at = started_at;
        let mut steps = Vec::with_capacity(plan.len());
        let mut last_error = String::new();
        for (i, ((tool, action, text), ok)) in plan.into_iter().enumerate() {
            if rng.chance(0.2) {
                vars.file = pick_file(kit, subject, rng);
            }
            let text = vars.fill(text, rng);
            let result = if ok {
                StepResult::Success { output: text }
            } else {
                last_error = text.clone();
                StepResult::Error { message: text }
            };
            let latency_ms = if tool.contains("test") || tool.contains("build") {
                rng.range(2_000, 90_000)
            } else {
                rng.range(15, 2_500)
            };
            let parameters = match tool {
                "read_file" | "edit_file" => json!({ "path": vars.file }),
                _ => json!({ "cmd": tool, "cwd": "." }),
            };
            let mut step = StepInput::new(tool, vars.fill(action, rng), result)
                .with_latency_ms(latency_ms)
                .with_parameters(parameters);
            step.tokens_used = Some(rng.range(120, 2_400) as u32);
            at =
                to_micros(at + Duration::milliseconds((latency_ms + rng.range(300, 5_000)) as i64));
            steps.push(step.into_step(i as u32 + 1, at));
        }
        let ended_at = to_micros(at + Duration::milliseconds(rng.range(200, 3_000) as i64));

        let outcome = match kind {
            Outcome::Success => {
                let mut artifacts = vec![vars.file.clone()];
                if rng.chance(0.5) {
                    artifacts.push(format!("PR #{}", rng.range(100, 9_000)));
                }
                TaskOutcome::Success {
                    verdict: vars.fill(pick_str(rng, &topic.verdicts), rng),
                    artifacts,
                }
            }
            Outcome::Partial => TaskOutcome::PartialSuccess {
                verdict: vars.fill(rng.pick(PARTIAL_VERDICTS), rng),
                completed: vec!["diagnosis".into(), "workaround".into()],
                failed: vec!["permanent fix".into(), "regression test".into()],
            },
            Outcome::Failure => TaskOutcome::Failure {
                reason: vars.fill(rng.pick(FAILURE_REASONS), rng),
                details: Some(last_error),
            },
        };

        let mut tags = Vec::new();
        for tag in &domain.tags {
            if rng.chance(0.5) {
                tags.push(tag.clone());
            }
        }
        let context = TaskContext {
            domain: Some(domain.name.clone()),
            language: Some(topic.language.clone()),
            framework: Some(topic.framework.clone()),
            complexity: Some(rng.pick(&[
                Complexity::Simple,
                Complexity::Moderate,
                Complexity::Moderate,
                Complexity::Complex,
            ])),
            tags,
        };
        let mut episode_tags = Vec::new();
        if rng.chance(0.5) {
            episode_tags.push(format!("ticket-{}", rng.range(100, 9_999)));
        }
        let mut metadata = serde_json::Map::new();
        metadata.insert("agent".into(), json!("eval-agent"));
        metadata.insert("model".into(), json!(rng.pick(MODELS)));

        let id = episode_id(rng, started_at);

        let reward = compute_reward(&outcome, &steps, None);
        let reflection = reflect(&outcome, &steps, None);
        Episode {
            id,
            namespace: namespace.to_string(),
            task_description,
            task_type: topic.kind,
            context,
            started_at,
            ended_at: Some(ended_at),
            steps,
            outcome: Some(outcome),
            reward: Some(reward),
            reflection: Some(reflection),
            pattern_ids: Vec::new(),
            tags: episode_tags,
            metadata,
            retrieval_session: None,
        }
    }
}

/// A UUID v7 for an episode started at `started_at`, its random bits from `rng`: the id is
/// a function of the seed like the rest of the episode.
fn episode_id(rng: &mut Rng, started_at: DateTime<Utc>) -> Uuid {
    let mut random = [0u8; 10];
    for b in &mut random {
        *b = rng.next_u64() as u8;
    }
    let millis = u64::try_from(started_at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Deletes the database at `path` and its `-wal` and `-shm` files, if there.
fn remove_database(path: &Path) -> Result<(), MemoryError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).map_err(MemoryError::storage)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Partial,
    Failure,
}

const TASK_PREFIXES: &[&str] = &[
    "",
    "",
    "",
    "",
    "Investigate: ",
    "Urgent: ",
    "Follow-up: ",
    "[prod] ",
];

const TASK_SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    "",
    " (reported by support)",
    " — see the incident channel",
    " (ticket {n}{line})",
    " before Friday's release",
];

/// Steps any investigation may contain.
const GENERIC_STEPS: &[StepT] = &[
    (
        "read_file",
        "open {file} around line {line}",
        "{n} lines read from {file}",
    ),
    (
        "grep",
        "search the repository for related call sites",
        "{n} matches, first in {file}",
    ),
    (
        "git",
        "git log -p --since=2.weeks -- {file}",
        "{n} commits touched {file}",
    ),
    (
        "read_file",
        "read the runbook for {subject}",
        "runbook last updated {n} days ago",
    ),
];

const PARTIAL_VERDICTS: &[&str] = &[
    "Mitigated for {subject}, but the root cause is still open",
    "Workaround deployed for {subject}; the permanent fix needs another change",
    "Fixed in staging only; production rollout of {file} blocked",
];

const FAILURE_REASONS: &[&str] = &[
    "Could not get {subject} working within the step budget",
    "The root cause is outside this repository",
    "Gave up after repeated failures in {file}",
    "Change reverted: it broke {subject} in staging",
];

const MODELS: &[&str] = &["gpt-4o", "claude-sonnet", "llama-3-70b", "qwen-2.5-coder"];

/// An episode's fixed choices that templates are filled from.
struct Vars {
    subject: &'static str,
    file: String,
}

impl Vars {
    /// Fills `template` with this episode's subject and file (see [`crate::template::fill`]).
    fn fill(&self, template: &str, rng: &mut Rng) -> String {
        crate::template::fill(template, self.subject, &self.file, rng)
    }
}

/// One of `items`, drawn as `Rng::pick` draws (one `below(len)`) but borrowed: the data
/// file's lists own what they hold.
fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

/// One of `items` as [`pick`] draws it, as a `&str`.
fn pick_str<'a>(rng: &mut Rng, items: &'a [String]) -> &'a str {
    pick::<String>(rng, items)
}

/// A file of `kit` about `subject`.
fn pick_file(kit: &topics::Kit, subject: &str, rng: &mut Rng) -> String {
    pick_str(rng, &kit.files)
        .replace("{subject}", subject)
        .replace("{n}", &format!("{:04}", rng.range(1, 120)))
}

/// The domain of `topic` (the data file is checked to have it).
fn domain_of(topic: &Topic) -> &'static topics::Domain {
    domains()
        .iter()
        .find(|d| d.name == topic.domain)
        .unwrap_or(&domains()[0])
}

/// The kit of `topic` (the data file is checked to have it).
fn kit_of(topic: &Topic) -> &'static topics::Kit {
    kits()
        .iter()
        .find(|k| k.name == topic.kit)
        .unwrap_or(&kits()[0])
}

/// How many topics the corpus draws from.
pub fn topic_count() -> usize {
    topics().len()
}

/// How many domains the topics span.
pub fn domain_count() -> usize {
    domains().len()
}

/// The stable key of topic `t` (e.g. `go-pg-pool-exhausted`), if it exists.
pub fn topic_key(t: usize) -> Option<&'static str> {
    topics().get(t).map(|topic| topic.key.as_str())
}

/// Whether topics `a` and `b` are different but related: same domain and problem family.
pub fn related(a: usize, b: usize) -> bool {
    match (topics().get(a), topics().get(b)) {
        (Some(x), Some(y)) => a != b && x.domain == y.domain && x.family == y.family,
        _ => false,
    }
}

/// The relevance of an episode with `label` to a query about topic `query_topic`: 3 when it
/// is about that topic and succeeded, 2 when it is about that topic with another outcome, 1
/// when its topic is [`related`], 0 otherwise.
pub fn grade(query_topic: usize, label: Label) -> u8 {
    if label.topic == query_topic {
        if label.succeeded { 3 } else { 2 }
    } else if related(query_topic, label.topic) {
        1
    } else {
        0
    }
}

// ───────────────────────────── queries ─────────────────────────────

/// A held-out query and the topic it asks about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalQuery {
    /// The topic the query is about (the key to its labels).
    pub topic: usize,
    /// The query: text from the topic's query-side phrasings, limit 10, an 8,000-token
    /// budget, hybrid mode (the runner sets each mode in turn).
    pub query: RetrievalQuery,
}

/// `n` held-out queries, determined by `seed`.
///
/// Topics are visited in a seeded order, one phrasing each, then again with their next
/// phrasing, so 200 queries cover every topic at least twice. About half of the queries give
/// no context; the others give the domain, and some of those the language or the task type
/// as well.
pub fn queries(seed: u64, n: usize) -> Vec<EvalQuery> {
    let mut rng = Rng(seed ^ 0x009E_21E5);
    let mut order: Vec<usize> = (0..topics().len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    (0..n)
        .map(|q| {
            let t = order[q % order.len()];
            let topic = &topics()[t];
            let text = &topic.queries[(q / order.len()) % topic.queries.len()];
            let mut query = RetrievalQuery::new(EVAL_NAMESPACE, text);
            query.limit = HITS;
            query.token_budget = TOKEN_BUDGET;
            if rng.chance(0.5) {
                query.context.domain = Some(topic.domain.clone());
                if rng.chance(0.4) {
                    query.context.language = Some(topic.language.clone());
                }
                if rng.chance(0.3) {
                    query.task_type = Some(topic.kind);
                }
            }
            EvalQuery { topic: t, query }
        })
        .collect()
}

/// The distinct meaningful words of `text` (lower-cased, stopwords and one-letter words
/// dropped), as the full-text search sees them.
fn word_set(text: &str) -> HashSet<String> {
    query_terms(text).into_iter().collect()
}

/// Jaccard overlap `|A ∩ B| / |A ∪ B|` of two word sets.
fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        0.0
    } else {
        a.intersection(b).count() as f64 / union as f64
    }
}

/// How much a query's wording overlaps its topic's stored task descriptions: the largest
/// Jaccard overlap of its word set with the word set of any of the topic's task templates
/// (placeholders removed). 0 means no shared word; 1 means the same words.
pub fn query_overlap(query: &EvalQuery) -> f64 {
    let q = word_set(&query.query.text);
    topics().get(query.topic).map_or(0.0, |topic| {
        topic
            .tasks
            .iter()
            .map(|t| jaccard(&q, &word_set(&strip_placeholders(t))))
            .fold(0.0, f64::max)
    })
}

fn strip_placeholders(template: &str) -> String {
    let text = ["{subject}", "{file}", "{line}", "{n}"]
        .into_iter()
        .fold(template.to_string(), |s, p| s.replace(p, " "));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The control set: each of `queries` rewritten in its topic's **stored** wording (one of
/// the topic's task descriptions, placeholders removed), with the same context. Not held
/// out, so it shows what each mode does when the query's vocabulary matches the store's —
/// the calibration against which the held-out figures are read.
pub fn control_queries(queries: &[EvalQuery]) -> Vec<EvalQuery> {
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut control = q.clone();
            if let Some(topic) = topics().get(q.topic) {
                control.query.text = strip_placeholders(&topic.tasks[i % topic.tasks.len()]);
            }
            control
        })
        .collect()
}

// ───────────────────────────── report ─────────────────────────────

/// How the evaluation runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalConfig {
    /// Episodes in the store the quality metrics are measured on.
    pub episodes: usize,
    /// Held-out queries, each run once per mode.
    pub queries: usize,
    /// Seed of the corpus and the queries.
    pub seed: u64,
    /// Store sizes (in episodes) at which hybrid retrieval latency is measured again; the
    /// store is grown to each in turn with more episodes of the same stream. Empty: none.
    pub latency_sizes: Vec<usize>,
    /// Keep every store in the run's directory, one per size, and reuse a store a previous
    /// run left there with the same seed, size and embedder instead of building it again
    /// (see `kept`). Off: one store in the directory, grown from size to size and replaced
    /// by the next run.
    pub keep_stores: bool,
    /// Episodes of the step-level set ([`logs`]); 0 leaves it out.
    pub logs_episodes: usize,
    /// Queries of the step-level set.
    pub logs_queries: usize,
}

impl Default for EvalConfig {
    /// 5,000 episodes, 200 queries, seed 42, latency at 10,000 and 100,000 episodes.
    fn default() -> Self {
        EvalConfig {
            episodes: 5_000,
            queries: 200,
            seed: 42,
            latency_sizes: vec![10_000, 100_000],
            keep_stores: false,
            logs_episodes: 2_000,
            logs_queries: 200,
        }
    }
}

/// Quality and latency of one retrieval mode, averaged over the queries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeScores {
    /// The mode.
    pub mode: RetrievalMode,
    /// Mean capped Recall@5 (see [`metrics::recall_at_k`]).
    pub recall_at_5: f64,
    /// Mean capped Recall@10.
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the first grade ≥ 2 hit within the top 10.
    pub mrr: f64,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean nDCG@10 over the queries that gave a context.
    pub ndcg_at_10_with_context: f64,
    /// Mean nDCG@10 over the queries that gave none.
    pub ndcg_at_10_without_context: f64,
    /// Median `retrieve_context` latency, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, milliseconds.
    pub p95_ms: f64,
}

/// Hybrid retrieval at one store size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyAt {
    /// Episodes in the store.
    pub episodes: usize,
    /// Queries timed.
    pub queries: usize,
    /// Median `retrieve_context` latency (hybrid), milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Mean nDCG@10 of the hybrid results at this size.
    pub ndcg_at_10: f64,
    /// Seconds spent storing the episodes added to reach this size.
    pub seed_seconds: f64,
    /// Seconds spent embedding them.
    pub embed_seconds: f64,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// The configuration it ran with.
    pub config: EvalConfig,
    /// Topics in the corpus.
    pub topics: usize,
    /// Domains in the corpus.
    pub domains: usize,
    /// Mean word overlap (Jaccard, see [`query_overlap`]) of the queries with their topic's
    /// stored task descriptions.
    pub mean_query_overlap: f64,
    /// Queries that gave a context (domain and maybe language or task type).
    pub queries_with_context: usize,
    /// Mean number of grade ≥ 2 episodes per query in the store.
    pub mean_relevant_per_query: f64,
    /// Seconds spent storing the evaluation corpus.
    pub seed_seconds: f64,
    /// Seconds spent embedding it.
    pub embed_seconds: f64,
    /// The embedder that wrote the vectors (its `Embedder::id`).
    pub embedder: String,
    /// One row per mode (text, vector, hybrid) on the held-out queries.
    pub modes: Vec<ModeScores>,
    /// One row per mode on the [`control_queries`]: the same questions in the store's own
    /// wording.
    pub control: Vec<ModeScores>,
    /// Hybrid mode on the held-out queries at each vector weight of the sweep.
    pub fusion_sweep: Vec<SweepRow>,
    /// Hybrid latency at each of `config.latency_sizes`.
    pub latency_at: Vec<LatencyAt>,
    /// The step-level set, when it ran.
    pub logs: Option<LogsReport>,
}

/// Hybrid mode at one vector weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// Weight of the vector relevance beside the text relevance.
    pub vector_weight: f64,
    /// The least trust text relevance keeps (`Fusion::text_trust_floor`).
    pub text_trust_floor: f64,
    /// Whether it is the fusion this embedder gets by default.
    pub default: bool,
    /// Mean capped Recall@5.
    pub recall_at_5: f64,
    /// Mean reciprocal rank.
    pub mrr: f64,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
}

/// The step-level set's results (see [`logs`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogsReport {
    /// Episodes in its store.
    pub episodes: usize,
    /// Queries, one relevant episode each.
    pub queries: usize,
    /// Mean steps per episode.
    pub mean_steps: f64,
    /// One row per mode.
    pub modes: Vec<ModeScores>,
    /// Hybrid mode at each vector weight.
    pub fusion_sweep: Vec<SweepRow>,
}

impl EvalReport {
    /// The report as Markdown: the corpus, the quality table, the latency table and how to
    /// read them.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "Corpus: {} episodes over {} topics in {} domains (seed {}); {} held-out queries \
             ({} with a context), mean word overlap with their topic's task descriptions {:.2} \
             (Jaccard), {:.1} relevant episodes per query on average. Embedder `{}`. Seeding \
             took {:.1} s, embedding {:.1} s.\n\n**Held-out queries** (paraphrased, different \
             vocabulary from the stored text):\n\n",
            self.config.episodes,
            self.topics,
            self.domains,
            self.config.seed,
            self.config.queries,
            self.queries_with_context,
            self.mean_query_overlap,
            self.mean_relevant_per_query,
            self.embedder,
            self.seed_seconds,
            self.embed_seconds,
        );
        md.push_str(&mode_table(&self.modes));
        if !self.control.is_empty() {
            md.push_str(
                "\n**Control**: the same queries written with a stored task description of \
                 their topic (not held out):\n\n",
            );
            md.push_str(&mode_table(&self.control));
        }
        if !self.fusion_sweep.is_empty() {
            md.push_str("\n**Hybrid at other vector weights** (held-out queries):\n\n");
            md.push_str(&sweep_table(&self.fusion_sweep));
        }
        if let Some(logs) = &self.logs {
            md.push_str(&format!(
                "\n**Step-level set**: {} on-call log episodes of {:.0} steps on average; {} \
                 queries, each about an event in one step of one episode, in other words than \
                 the log line (see `retrieval_eval/logs.rs`):\n\n",
                logs.episodes, logs.mean_steps, logs.queries
            ));
            md.push_str(&mode_table(&logs.modes));
            md.push_str("\nHybrid at other vector weights (step-level set):\n\n");
            md.push_str(&sweep_table(&logs.fusion_sweep));
        }
        if !self.latency_at.is_empty() {
            md.push_str(
                "\n| episodes in store | hybrid p50 (ms) | p95 (ms) | p99 (ms) | nDCG@10 | \
                 queries | seeding (s) | embedding (s) |\n|---|---|---|---|---|---|---|---|\n",
            );
            for l in &self.latency_at {
                md.push_str(&format!(
                    "| {} | {:.1} | {:.1} | {:.1} | {:.3} | {} | {:.1} | {:.1} |\n",
                    l.episodes,
                    l.p50_ms,
                    l.p95_ms,
                    l.p99_ms,
                    l.ndcg_at_10,
                    l.queries,
                    l.seed_seconds,
                    l.embed_seconds
                ));
            }
        }
        md.push_str(
            "\nGrades: 3 = same topic, succeeded; 2 = same topic, other outcome; 1 = related \
             topic (same domain and problem family); 0 = other. Recall@k is capped: relevant \
             (grade ≥ 2) hits in the top k divided by min(k, relevant episodes in the store). \
             MRR: 1/rank of the first grade ≥ 2 hit in the top 10. nDCG@10: gain 2^grade − 1, \
             ideal from every labelled episode. Latency is the wall time of `retrieve_context` \
             (limit 10, budget 8,000 tokens), after a few untimed warm-up queries.\n",
        );
        md
    }
}

/// A Markdown table with one row per mode.
fn mode_table(rows: &[ModeScores]) -> String {
    let mut md = String::from(
        "| mode | Recall@5 | Recall@10 | MRR | nDCG@10 | nDCG@10 with context | \
         nDCG@10 without | p50 (ms) | p95 (ms) |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in rows {
        md.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} | {:.1} |\n",
            mode_name(m.mode),
            m.recall_at_5,
            m.recall_at_10,
            m.mrr,
            m.ndcg_at_10,
            m.ndcg_at_10_with_context,
            m.ndcg_at_10_without_context,
            m.p50_ms,
            m.p95_ms
        ));
    }
    md
}

/// A Markdown table with one row per vector weight.
fn sweep_table(rows: &[SweepRow]) -> String {
    let mut md = String::from(
        "| vector weight | text trust floor | Recall@5 | MRR | nDCG@10 |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        md.push_str(&format!(
            "| {:.2}{} | {:.2} | {:.3} | {:.3} | {:.3} |\n",
            r.vector_weight,
            if r.default { " (default)" } else { "" },
            r.text_trust_floor,
            r.recall_at_5,
            r.mrr,
            r.ndcg_at_10
        ));
    }
    md
}

fn mode_name(mode: RetrievalMode) -> &'static str {
    match mode {
        RetrievalMode::Text => "text (BM25)",
        RetrievalMode::Vector => "vector",
        RetrievalMode::Hybrid => "hybrid",
    }
}

// ───────────────────────────── runner ─────────────────────────────

/// A store under evaluation: the memory, the generator that fills it, and the ground truth
/// of what it holds (kept here, never in the memory).
struct Bench {
    memory: SelfLearningMemory,
    corpus: CorpusGen,
    labels: HashMap<Uuid, Label>,
    /// Per topic: episodes that succeeded, episodes that did not.
    counts: Vec<[usize; 2]>,
}

impl Bench {
    /// A fresh store at `path` (any database already there is replaced).
    async fn open(
        path: &Path,
        seed: u64,
        now: DateTime<Utc>,
        embedder: &Arc<dyn Embedder>,
    ) -> Result<Bench, MemoryError> {
        remove_database(path)?;
        let storage = TursoStorage::open(path).await.map_err(MemoryError::from)?;
        Ok(Bench {
            memory: SelfLearningMemory::new(Arc::new(storage))
                .with_embedder(Some(embedder.clone())),
            corpus: CorpusGen::new(seed, now),
            labels: HashMap::new(),
            counts: vec![[0, 0]; topics().len()],
        })
    }

    /// Stores episodes until the store holds `n`, then embeds them; returns the seconds spent
    /// on each.
    async fn grow_to(&mut self, n: usize) -> Result<(f64, f64), MemoryError> {
        let from = self.corpus.produced();
        if n <= from {
            return Ok((0.0, 0.0));
        }
        let every = ((n - from) / 20).max(1_000);
        let t = Instant::now();
        for i in from..n {
            let LabelledEpisode { episode, label } = self.corpus.next_episode(EVAL_NAMESPACE);
            self.memory.storage().store_episode(&episode).await?;
            self.labels.insert(episode.id, label);
            self.counts[label.topic][usize::from(!label.succeeded)] += 1;
            let done = i + 1 - from;
            if done.is_multiple_of(every) {
                let secs = t.elapsed().as_secs_f64();
                eprintln!(
                    "retrieval eval: stored {}/{n} episodes ({:.0}/s)",
                    i + 1,
                    done as f64 / secs.max(1e-9)
                );
            }
        }
        let seed_seconds = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut next_report = 0;
        let embedded = self
            .memory
            .embed_pending(EMBED_BATCH, |done, total| {
                if done >= next_report && done > 0 {
                    eprintln!("retrieval eval: embedded {done}/{total} episodes");
                    next_report = done + (total / 10).max(EMBED_BATCH as u64);
                }
            })
            .await?;
        let embed_seconds = t.elapsed().as_secs_f64();
        eprintln!(
            "retrieval eval: {n} episodes in store; stored {} in {seed_seconds:.1} s, embedded \
             {embedded} in {embed_seconds:.1} s",
            n - from
        );
        Ok((seed_seconds, embed_seconds))
    }

    /// The grades of every positively labelled episode for a query about `topic`, best first,
    /// at most `k` of them (all the ideal DCG at `k` needs), and how many are relevant.
    fn ideal(&self, topic: usize, k: usize) -> (Vec<u8>, usize) {
        let [ok, other] = self.counts[topic];
        let related: usize = (0..topics().len())
            .filter(|&t| related(topic, t))
            .map(|t| self.counts[t][0] + self.counts[t][1])
            .sum();
        let mut ideal = Vec::with_capacity(k);
        for (grade, count) in [(3u8, ok), (2, other), (1, related)] {
            ideal.extend(std::iter::repeat_n(grade, count.min(k - ideal.len())));
        }
        (ideal, ok + other)
    }

    /// Runs every query in `mode` and scores the hits.
    async fn evaluate(
        &self,
        queries: &[EvalQuery],
        mode: RetrievalMode,
    ) -> Result<Evaluation, MemoryError> {
        self.evaluate_with(&self.memory, queries, mode).await
    }

    /// [`Bench::evaluate`] through `memory` (the same store, another configuration).
    async fn evaluate_with(
        &self,
        memory: &SelfLearningMemory,
        queries: &[EvalQuery],
        mode: RetrievalMode,
    ) -> Result<Evaluation, MemoryError> {
        for q in queries.iter().take(WARMUP_QUERIES) {
            let mut query = q.query.clone();
            query.mode = mode;
            memory.retrieve_context(&query).await?;
        }
        let mut eval = Evaluation::default();
        for q in queries {
            let mut query = q.query.clone();
            query.mode = mode;
            let t = Instant::now();
            let pack = memory.retrieve_context(&query).await?;
            eval.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let ranked: Vec<u8> = pack
                .hits
                .iter()
                .map(|h| self.labels.get(&h.id).map_or(0, |l| grade(q.topic, *l)))
                .collect();
            let (ideal, relevant) = self.ideal(q.topic, HITS);
            eval.record(&ranked, &ideal, relevant, !query.context.is_empty());
        }
        eval.latencies_ms.sort_by(f64::total_cmp);
        Ok(eval)
    }
}

/// Per-query results of one mode.
#[derive(Debug, Default)]
struct Evaluation {
    recall_5: Vec<f64>,
    recall_10: Vec<f64>,
    rr: Vec<f64>,
    ndcg: Vec<f64>,
    with_context: Vec<bool>,
    relevant: Vec<usize>,
    /// Sorted.
    latencies_ms: Vec<f64>,
}

impl Evaluation {
    /// Scores one query's hits (`ranked`: their grades, in order) against the `ideal`
    /// grades, `relevant` of them grade ≥ 2 in the store.
    fn record(&mut self, ranked: &[u8], ideal: &[u8], relevant: usize, with_context: bool) {
        self.recall_5.push(recall_at_k(ranked, relevant, 5));
        self.recall_10.push(recall_at_k(ranked, relevant, HITS));
        self.rr.push(reciprocal_rank(ranked));
        self.ndcg.push(ndcg_at_k(ranked, ideal, HITS));
        self.with_context.push(with_context);
        self.relevant.push(relevant);
    }

    fn scores(&self, mode: RetrievalMode) -> ModeScores {
        let by_context = |wanted: bool| -> Vec<f64> {
            self.ndcg
                .iter()
                .zip(&self.with_context)
                .filter(|(_, c)| **c == wanted)
                .map(|(n, _)| *n)
                .collect()
        };
        ModeScores {
            mode,
            recall_at_5: mean(&self.recall_5),
            recall_at_10: mean(&self.recall_10),
            mrr: mean(&self.rr),
            ndcg_at_10: mean(&self.ndcg),
            ndcg_at_10_with_context: mean(&by_context(true)),
            ndcg_at_10_without_context: mean(&by_context(false)),
            p50_ms: quantile(&self.latencies_ms, 0.50),
            p95_ms: quantile(&self.latencies_ms, 0.95),
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Runs the evaluation in directory `dir` (which must exist; databases named
/// `retrieval-eval*.db` there are replaced) with the default local [`HashingEmbedder`]:
/// seeds `config.episodes` episodes, embeds them, runs `config.queries` held-out queries and
/// their [`control_queries`] in each mode (text, vector, hybrid) with limit 10 and scores the
/// hits against the labels; then grows the store to each of `config.latency_sizes` in turn
/// and times hybrid retrieval there. Progress goes to stderr.
pub async fn run(config: &EvalConfig, dir: &Path) -> Result<EvalReport, MemoryError> {
    run_with_embedder(config, dir, Arc::new(HashingEmbedder::default())).await
}

/// The kept evaluation store of the first `episodes` episodes of the `seed` corpus in `dir`,
/// embedded by `embedder` — the one `memory bench retrieval --store DIR` keeps, reused when
/// its manifest matches and built otherwise — closed; returns its database file.
pub async fn kept_store(
    dir: &Path,
    seed: u64,
    episodes: usize,
    embedder: Arc<dyn Embedder>,
) -> Result<std::path::PathBuf, MemoryError> {
    let (bench, _) = Bench::kept(dir, seed, episodes, Utc::now(), &embedder).await?;
    drop(bench);
    Ok(kept::store_path(dir, seed, episodes))
}

/// [`run`] with another embedder (for example the configured HTTP one), to measure what a
/// semantic model changes. Every episode is embedded by it, `embed_pending` batch by batch.
pub async fn run_with_embedder(
    config: &EvalConfig,
    dir: &Path,
    embedder: Arc<dyn Embedder>,
) -> Result<EvalReport, MemoryError> {
    let now = Utc::now();
    let queries = queries(config.seed, config.queries);
    let control = control_queries(&queries);
    let (mut bench, (seed_seconds, embed_seconds)) = if config.keep_stores {
        let (bench, provenance) =
            Bench::kept(dir, config.seed, config.episodes, now, &embedder).await?;
        (bench, provenance.seconds())
    } else {
        let mut bench =
            Bench::open(&dir.join("retrieval-eval.db"), config.seed, now, &embedder).await?;
        let times = bench.grow_to(config.episodes).await?;
        (bench, times)
    };

    let mut modes = Vec::with_capacity(3);
    let mut control_modes = Vec::with_capacity(3);
    let mut relevant = Vec::new();
    for mode in [
        RetrievalMode::Text,
        RetrievalMode::Vector,
        RetrievalMode::Hybrid,
    ] {
        let eval = bench.evaluate(&queries, mode).await?;
        let scores = eval.scores(mode);
        let calibration = bench.evaluate(&control, mode).await?.scores(mode);
        eprintln!(
            "retrieval eval: {} nDCG@10 {:.3} (control {:.3}), p95 {:.1} ms",
            mode_name(mode),
            scores.ndcg_at_10,
            calibration.ndcg_at_10,
            scores.p95_ms
        );
        modes.push(scores);
        control_modes.push(calibration);
        relevant = eval.relevant;
    }
    let mut fusion_sweep = Vec::with_capacity(SWEEP.len());
    for (weight, memory) in sweep_memories(&bench.memory, &embedder) {
        let scores = bench
            .evaluate_with(&memory, &queries, RetrievalMode::Hybrid)
            .await?
            .scores(RetrievalMode::Hybrid);
        fusion_sweep.push(sweep_row(weight, &embedder, &scores));
    }
    let logs = if config.logs_episodes > 0 {
        Some(run_logs(config, dir, now, &embedder).await?)
    } else {
        None
    };

    let mut sizes = config.latency_sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut latency_at = Vec::with_capacity(sizes.len());
    for n in sizes {
        // A kept store of every size other than the evaluation store's; without keeping, a
        // size below the evaluation store's gets a store of its own.
        let ((seed_s, embed_s), eval) = if config.keep_stores && n != config.episodes {
            let (sized, provenance) = Bench::kept(dir, config.seed, n, now, &embedder).await?;
            (
                provenance.seconds(),
                sized.evaluate(&queries, RetrievalMode::Hybrid).await?,
            )
        } else if n < config.episodes {
            let path = dir.join(format!("retrieval-eval-{n}.db"));
            let mut small = Bench::open(&path, config.seed, now, &embedder).await?;
            let times = small.grow_to(n).await?;
            (
                times,
                small.evaluate(&queries, RetrievalMode::Hybrid).await?,
            )
        } else {
            let times = bench.grow_to(n).await?;
            (
                times,
                bench.evaluate(&queries, RetrievalMode::Hybrid).await?,
            )
        };
        let row = LatencyAt {
            episodes: n,
            queries: queries.len(),
            p50_ms: quantile(&eval.latencies_ms, 0.50),
            p95_ms: quantile(&eval.latencies_ms, 0.95),
            p99_ms: quantile(&eval.latencies_ms, 0.99),
            ndcg_at_10: mean(&eval.ndcg),
            seed_seconds: seed_s,
            embed_seconds: embed_s,
        };
        eprintln!(
            "retrieval eval: {n} episodes: hybrid p50 {:.1} ms, p95 {:.1} ms",
            row.p50_ms, row.p95_ms
        );
        latency_at.push(row);
    }

    Ok(EvalReport {
        config: config.clone(),
        topics: topics().len(),
        domains: domains().len(),
        mean_query_overlap: mean(&queries.iter().map(query_overlap).collect::<Vec<_>>()),
        queries_with_context: queries
            .iter()
            .filter(|q| !q.query.context.is_empty() || q.query.task_type.is_some())
            .count(),
        mean_relevant_per_query: if relevant.is_empty() {
            0.0
        } else {
            relevant.iter().sum::<usize>() as f64 / relevant.len() as f64
        },
        seed_seconds,
        embed_seconds,
        embedder: embedder.id().to_string(),
        modes,
        control: control_modes,
        fusion_sweep,
        latency_at,
        logs,
    })
}

/// One memory over `base`'s store per weight of the sweep, hybrid fusion set to it.
fn sweep_memories(
    base: &SelfLearningMemory,
    embedder: &Arc<dyn Embedder>,
) -> Vec<(Fusion, SelfLearningMemory)> {
    let default_floor = MemoryConfig::default()
        .ranking
        .fusion(embedder.is_semantic())
        .text_trust_floor;
    let floors = std::iter::once(default_floor)
        .chain(
            TEXT_TRUST_SWEEP
                .iter()
                .copied()
                .filter(|f| *f != default_floor),
        )
        .collect::<Vec<_>>();
    SWEEP
        .iter()
        .flat_map(|&w| floors.iter().map(move |&floor| (w, floor)))
        .map(|(w, floor)| {
            let mut config = MemoryConfig::default();
            config.ranking.vector_weight_semantic = w;
            config.ranking.vector_weight_lexical = w;
            config.ranking.text_trust_floor_semantic = floor;
            config.ranking.text_trust_floor_lexical = floor;
            let fusion = config.ranking.fusion(embedder.is_semantic());
            let memory = SelfLearningMemory::with_config(
                base.storage().clone(),
                config,
                Arc::new(SystemClock),
            )
            .with_embedder(Some(embedder.clone()));
            (fusion, memory)
        })
        .collect()
}

fn sweep_row(fusion: Fusion, embedder: &Arc<dyn Embedder>, scores: &ModeScores) -> SweepRow {
    let default = MemoryConfig::default()
        .ranking
        .fusion(embedder.is_semantic());
    SweepRow {
        vector_weight: fusion.vector_weight,
        text_trust_floor: fusion.text_trust_floor,
        default: (fusion.vector_weight - default.vector_weight).abs() < 1e-9
            && (fusion.text_trust_floor - default.text_trust_floor).abs() < 1e-9,
        recall_at_5: scores.recall_at_5,
        mrr: scores.mrr,
        ndcg_at_10: scores.ndcg_at_10,
    }
}

/// Builds the step-level store in `dir` and runs its queries in every mode and through the
/// sweep.
async fn run_logs(
    config: &EvalConfig,
    dir: &Path,
    now: DateTime<Utc>,
    embedder: &Arc<dyn Embedder>,
) -> Result<LogsReport, MemoryError> {
    let n = config.logs_episodes;
    // A kept store is reused when its manifest says it holds this set, embedded by this
    // embedder; the generator replayed with the manifest's `now` gives back its queries.
    let (path, kept_now) = if config.keep_stores {
        let path = kept::logs_store_path(dir, config.seed, n);
        let kept_now = kept::reusable(&path, config.seed, n, embedder.id())?;
        (path, kept_now)
    } else {
        (dir.join("retrieval-eval-logs.db"), None)
    };
    let reuse = kept_now.is_some();
    let now = kept_now.unwrap_or(now);
    if !reuse {
        kept::forget(&path)?;
        remove_database(&path)?;
    }
    let storage = TursoStorage::open(&path).await.map_err(MemoryError::from)?;
    let memory = SelfLearningMemory::new(Arc::new(storage)).with_embedder(Some(embedder.clone()));
    let mut generator = logs::LogsGen::new(config.seed, now);
    // Every k-th episode gives a query, spread over the whole store.
    let every = (n / config.logs_queries.max(1)).max(1);
    let mut queries: Vec<(Uuid, String)> = Vec::new();
    let mut steps = 0usize;
    let t = Instant::now();
    for i in 0..n {
        let e = generator.next_episode(EVAL_NAMESPACE);
        steps += e.episode.steps.len();
        if !reuse {
            memory.storage().store_episode(&e.episode).await?;
        }
        if i % every == every / 2 && queries.len() < config.logs_queries {
            queries.push((e.episode.id, e.query));
        }
    }
    memory.embed_pending(EMBED_BATCH, |_, _| {}).await?;
    if config.keep_stores && !reuse {
        kept::record(&path, config.seed, n, now, embedder.id())?;
    }
    eprintln!(
        "retrieval eval: step-level set, {n} episodes {} in {:.1} s",
        if reuse {
            "reused from the kept store"
        } else {
            "stored and embedded"
        },
        t.elapsed().as_secs_f64()
    );
    let evaluate = async |memory: &SelfLearningMemory, mode: RetrievalMode| {
        let mut eval = Evaluation::default();
        for (answer, text) in &queries {
            let mut query = logs::query_of(EVAL_NAMESPACE, text, HITS, TOKEN_BUDGET);
            query.mode = mode;
            let t = Instant::now();
            let pack = memory.retrieve_context(&query).await?;
            eval.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let ranked: Vec<u8> = pack
                .hits
                .iter()
                .map(|h| if h.id == *answer { 3 } else { 0 })
                .collect();
            eval.record(&ranked, &[3], 1, false);
        }
        eval.latencies_ms.sort_by(f64::total_cmp);
        Ok::<_, MemoryError>(eval)
    };
    let mut modes = Vec::with_capacity(3);
    for mode in [
        RetrievalMode::Text,
        RetrievalMode::Vector,
        RetrievalMode::Hybrid,
    ] {
        let scores = evaluate(&memory, mode).await?.scores(mode);
        eprintln!(
            "retrieval eval: step-level set, {} nDCG@10 {:.3}, Recall@5 {:.3}",
            mode_name(mode),
            scores.ndcg_at_10,
            scores.recall_at_5
        );
        modes.push(scores);
    }
    let mut fusion_sweep = Vec::with_capacity(SWEEP.len());
    for (weight, m) in sweep_memories(&memory, embedder) {
        let scores = evaluate(&m, RetrievalMode::Hybrid)
            .await?
            .scores(RetrievalMode::Hybrid);
        fusion_sweep.push(sweep_row(weight, embedder, &scores));
    }
    Ok(LogsReport {
        episodes: n,
        queries: queries.len(),
        mean_steps: steps as f64 / n.max(1) as f64,
        modes,
        fusion_sweep,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use memory_core::Limits;

    #[test]
    fn the_corpus_is_wide_enough() {
        assert!(domains().len() >= 20, "{} domains", domains().len());
        assert!(topics().len() >= 80, "{} topics", topics().len());
        let keys: HashSet<&str> = topics().iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys.len(), topics().len(), "topic keys are unique");
        for t in topics() {
            assert!(domains().iter().any(|d| d.name == t.domain), "{}", t.key);
            assert!(kits().iter().any(|k| k.name == t.kit), "{}", t.key);
            assert!(!t.tasks.is_empty() && !t.probes.is_empty(), "{}", t.key);
            assert!(!t.errors.is_empty() && !t.fixes.is_empty(), "{}", t.key);
            assert!(!t.verdicts.is_empty(), "{}", t.key);
            assert!(t.queries.len() >= 2, "{}", t.key);
        }
        for d in domains() {
            assert!(topics().iter().any(|t| t.domain == d.name), "{}", d.name);
        }
        // Related topics exist, so grade 1 is used.
        let pairs = (0..topics().len())
            .flat_map(|a| (0..topics().len()).map(move |b| (a, b)))
            .filter(|&(a, b)| related(a, b))
            .count();
        assert!(pairs >= 40, "{pairs} related pairs");
        let phrasings: usize = topics().iter().map(|t| t.queries.len()).sum();
        assert!(phrasings >= 200, "{phrasings} query phrasings");
    }

    #[test]
    fn same_seed_same_corpus_and_queries() {
        let now = Utc::now();
        let mut a = CorpusGen::new(3, now);
        let mut b = CorpusGen::new(3, now);
        for _ in 0..300 {
            assert_eq!(a.next_episode("ns"), b.next_episode("ns"));
        }
        let mut c = CorpusGen::new(4, now);
        let tasks_a: Vec<String> = (0..20)
            .map(|_| a.next_episode("ns").episode.task_description)
            .collect();
        let tasks_c: Vec<String> = (0..20)
            .map(|_| c.next_episode("ns").episode.task_description)
            .collect();
        assert_ne!(tasks_a, tasks_c);
        assert_eq!(queries(9, 250), queries(9, 250));
        assert_ne!(queries(9, 50), queries(10, 50));
    }

    #[test]
    fn episodes_are_complete_valid_and_fully_filled() {
        let limits = Limits::default();
        let mut g = CorpusGen::new(5, Utc::now());
        let mut ids = HashSet::new();
        let mut topics_seen = HashSet::new();
        let mut success = 0;
        let mut domains = HashSet::new();
        let n = 3 * topics().len() + 1_000;
        for _ in 0..n {
            let LabelledEpisode { episode: ep, label } = g.next_episode("ns");
            assert!(ep.is_complete() && ep.reward.is_some() && ep.reflection.is_some());
            assert!(ids.insert(ep.id), "unique ids");
            assert!(ep.steps.len() >= 4, "{}", ep.steps.len());
            assert!(ep.steps.windows(2).all(|w| w[0].at < w[1].at));
            assert!(ep.ended_at.unwrap() > ep.started_at);
            assert!(ep.steps.iter().any(|s| !s.result.is_success()));
            limits.check_namespace(&ep.namespace).unwrap();
            limits.check_context(&ep.context).unwrap();
            limits.check_outcome(ep.outcome.as_ref().unwrap()).unwrap();
            let text = serde_json::to_string(&ep).unwrap();
            for p in ["{subject}", "{file}", "{line}", "{n}"] {
                assert!(!text.contains(p), "unfilled {p} in {text}");
            }
            assert_eq!(
                label.succeeded,
                matches!(ep.outcome, Some(TaskOutcome::Success { .. }))
            );
            assert_eq!(
                ep.context.domain.as_deref(),
                Some(topics()[label.topic].domain.as_str())
            );
            topics_seen.insert(label.topic);
            domains.insert(ep.context.domain.clone().unwrap());
            success += usize::from(label.succeeded);
        }
        assert_eq!(topics_seen.len(), topics().len());
        assert_eq!(domains.len(), super::domains().len());
        let share = success as f64 / n as f64;
        assert!((0.62..0.78).contains(&share), "success share {share}");
    }

    #[test]
    fn grades_follow_topic_outcome_and_family() {
        let pool = topics()
            .iter()
            .position(|t| t.key == "go-pg-pool-exhausted")
            .unwrap();
        let sqlalchemy = topics()
            .iter()
            .position(|t| t.key == "py-sqlalchemy-pool-timeout")
            .unwrap();
        let lambda = topics()
            .iter()
            .position(|t| t.key == "lambda-rds-connections")
            .unwrap();
        let ok = |topic| Label {
            topic,
            succeeded: true,
        };
        let failed = |topic| Label {
            topic,
            succeeded: false,
        };
        assert_eq!(grade(pool, ok(pool)), 3);
        assert_eq!(grade(pool, failed(pool)), 2);
        assert_eq!(grade(pool, ok(sqlalchemy)), 1, "same domain and family");
        assert_eq!(grade(pool, ok(lambda)), 0, "similar problem, other domain");
        assert!(related(pool, sqlalchemy) && related(sqlalchemy, pool));
        assert!(!related(pool, pool));
    }

    #[test]
    fn queries_are_held_out_and_varied() {
        let qs = queries(42, 240);
        assert_eq!(qs.len(), 240);
        let overlaps: Vec<f64> = qs.iter().map(query_overlap).collect();
        let mean_overlap = mean(&overlaps);
        assert!(mean_overlap < 0.3, "mean Jaccard overlap {mean_overlap}");
        assert!(
            overlaps.iter().filter(|o| **o < 0.15).count() * 2 > qs.len(),
            "most queries share almost no words with their topic's tasks"
        );
        // No query phrasing is copied from any stored template of its topic.
        for t in topics() {
            let stored: Vec<String> = t
                .tasks
                .iter()
                .chain(&t.verdicts)
                .map(|s| s.to_lowercase())
                .chain(
                    t.probes
                        .iter()
                        .chain(&t.errors)
                        .chain(&t.fixes)
                        .flat_map(|s| [s.action.to_lowercase(), s.result.to_lowercase()]),
                )
                .collect();
            for q in &t.queries {
                let q = q.to_lowercase();
                assert!(
                    stored
                        .iter()
                        .all(|s| !s.contains(&q) && (s.len() < 12 || !q.contains(s.as_str()))),
                    "{}: query `{q}` copies a stored template",
                    t.key
                );
            }
        }
        // Every topic is asked about, with and without context.
        let asked: HashSet<usize> = qs.iter().map(|q| q.topic).collect();
        assert_eq!(asked.len(), topics().len());
        let with = qs.iter().filter(|q| !q.query.context.is_empty()).count();
        assert!(with > 60 && with < 180, "{with} queries with context");
        let limits = Limits::default();
        for q in &qs {
            limits
                .check_query(&q.query.text, q.query.limit, q.query.token_budget)
                .unwrap();
            assert_eq!(q.query.namespace, EVAL_NAMESPACE);
        }
    }

    #[test]
    fn near_misses_share_words_with_other_topics_queries() {
        // Lexical overlap alone misleads: for a good share of queries, some *other* topic's
        // task description shares at least as many words as the query's own topic's does.
        let qs = queries(1, topics().len());
        let shared = |q: &HashSet<String>, t: &Topic| {
            t.tasks
                .iter()
                .map(|s| word_set(&strip_placeholders(s)).intersection(q).count())
                .max()
                .unwrap_or(0)
        };
        let misleading = qs
            .iter()
            .filter(|q| {
                let words = word_set(&q.query.text);
                let own = shared(&words, &topics()[q.topic]);
                topics()
                    .iter()
                    .enumerate()
                    .any(|(i, t)| i != q.topic && shared(&words, t) >= own.max(1))
            })
            .count();
        assert!(
            misleading * 5 >= qs.len(),
            "only {misleading} of {} queries have a lexical decoy",
            qs.len()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tiny_end_to_end_run() {
        let dir = tempfile::tempdir().unwrap();
        let config = EvalConfig {
            episodes: 300,
            queries: 20,
            seed: 1,
            latency_sizes: vec![],
            keep_stores: false,
            logs_episodes: 120,
            logs_queries: 12,
        };
        let report = run(&config, dir.path()).await.unwrap();
        assert_eq!(report.modes.len(), 3);
        assert_eq!(
            report.modes.iter().map(|m| m.mode).collect::<Vec<_>>(),
            [
                RetrievalMode::Text,
                RetrievalMode::Vector,
                RetrievalMode::Hybrid
            ]
        );
        for m in &report.modes {
            for v in [m.recall_at_5, m.recall_at_10, m.mrr, m.ndcg_at_10] {
                assert!((0.0..=1.0).contains(&v), "{m:?}");
            }
            assert!(m.p50_ms > 0.0 && m.p95_ms >= m.p50_ms, "{m:?}");
        }
        for m in &report.modes[1..] {
            assert!(
                m.ndcg_at_10 > 0.0 && m.mrr > 0.0 && m.recall_at_10 > 0.0,
                "{m:?}"
            );
        }
        assert_eq!(report.control.len(), 3);
        // In the store's own wording every mode finds the topic.
        for m in &report.control {
            assert!(m.ndcg_at_10 > 0.5, "{m:?}");
        }
        assert!(report.latency_at.is_empty());
        assert!(report.mean_relevant_per_query > 0.0);
        assert_eq!(report.embedder, "hash-v1-384");
        let md = report.to_markdown();
        assert!(
            md.contains("| hybrid |") && md.contains("| vector |"),
            "{md}"
        );
        assert!(md.contains("nDCG@10") && md.contains("**Control**"));
        // The sweep runs hybrid at every weight, the default's marked; weight 0 is text
        // alone, so it scores as text mode does.
        // The hashing embedder's default floor (1) is one of the floors swept.
        let rows = SWEEP.len() * TEXT_TRUST_SWEEP.len();
        assert_eq!(report.fusion_sweep.len(), rows);
        assert_eq!(report.fusion_sweep.iter().filter(|r| r.default).count(), 1);
        let logs = report.logs.as_ref().unwrap();
        assert_eq!((logs.episodes, logs.queries), (120, 12));
        assert!(logs.mean_steps >= 30.0);
        assert_eq!(logs.modes.len(), 3);
        assert!(logs.modes[0].recall_at_10 > 0.3, "{:?}", logs.modes[0]);
        assert_eq!(logs.fusion_sweep.len(), rows);
        assert!(md.contains("Step-level set"), "{md}");
        serde_json::to_string(&report).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn latency_sizes_grow_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let config = EvalConfig {
            episodes: 200,
            queries: 10,
            seed: 2,
            latency_sizes: vec![400, 100],
            keep_stores: false,
            logs_episodes: 0,
            logs_queries: 0,
        };
        let report = run(&config, dir.path()).await.unwrap();
        let sizes: Vec<usize> = report.latency_at.iter().map(|l| l.episodes).collect();
        assert_eq!(sizes, [100, 400]);
        assert!(report.latency_at.iter().all(|l| l.p95_ms > 0.0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_stores_are_reused_with_the_same_ground_truth() {
        let dir = tempfile::tempdir().unwrap();
        let config = EvalConfig {
            episodes: 150,
            queries: 10,
            seed: 3,
            latency_sizes: vec![250],
            keep_stores: true,
            logs_episodes: 0,
            logs_queries: 0,
        };
        let first = run(&config, dir.path()).await.unwrap();
        assert!(first.seed_seconds > 0.0 && first.latency_at[0].seed_seconds > 0.0);
        for n in [150, 250] {
            assert!(kept::store_path(dir.path(), 3, n).exists());
        }
        let second = run(&config, dir.path()).await.unwrap();
        // Nothing was stored or embedded again, and the labels replayed from the seed score
        // the same hits the same way.
        assert_eq!(second.seed_seconds, 0.0);
        assert_eq!(second.embed_seconds, 0.0);
        assert_eq!(second.latency_at[0].seed_seconds, 0.0);
        assert_eq!(
            second.mean_relevant_per_query,
            first.mean_relevant_per_query
        );
        for (a, b) in first.modes.iter().zip(&second.modes) {
            assert!((a.ndcg_at_10 - b.ndcg_at_10).abs() < 0.05, "{a:?} vs {b:?}");
        }

        // Another seed is another store.
        let other = EvalConfig {
            seed: 4,
            latency_sizes: vec![],
            ..config
        };
        let third = run(&other, dir.path()).await.unwrap();
        assert!(third.seed_seconds > 0.0);
    }

    /// The medium evaluation whose numbers are quoted: 5,000 episodes, 200 queries, latency
    /// at 10,000 and 100,000 episodes. Run it in release mode:
    /// `cargo test -p memory-bench --release --lib retrieval_eval -- --ignored --nocapture`
    /// (`RETRIEVAL_EVAL_SIZES=10000` limits the latency sizes).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "minutes of work; run in release mode"]
    async fn medium_evaluation() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EvalConfig::default();
        if let Ok(sizes) = std::env::var("RETRIEVAL_EVAL_SIZES") {
            config.latency_sizes = sizes
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().unwrap())
                .collect();
        }
        let report = run(&config, dir.path()).await.unwrap();
        println!("{}", report.to_markdown());
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    }
}
