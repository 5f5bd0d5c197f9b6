//! Completing an episode through a libSQL server in one write request.
//!
//! A completion reads the episode, the context baselines and patterns its lessons touch and
//! the retrieval session it started from, merges, and writes them back
//! ([`crate::episodes::complete_tx`]): a dozen round trips when each statement is a request.
//! Through a server it is done in two stages instead:
//!
//! 1. **What it is computed from is read first**, outside the write lock: from the embedded
//!    replica when there is one (no round trip), otherwise in one request ([`read_basis`]).
//! 2. **The completion is one planned write** ([`crate::planned`], [`statements`]): its first
//!    statements check that every row it was computed from is still as it was read — a row
//!    that changed (or appeared) meanwhile inserts into `write_guards`, which refuses the
//!    insert and so fails the write — then it writes what `complete_tx` writes, in the same
//!    order. A write that fails (another writer completed the episode, or fed one of the
//!    same patterns, meanwhile) keeps nothing and is tried again from a fresh read of the
//!    server ([`ATTEMPTS`] in all), then done the long way (`complete_tx` under the write
//!    lock), which also gives the precise error of an episode that cannot be completed.
//!
//! The rows written are the same as `complete_tx`'s: the storage suites, run on a server
//! and through a replica in CI, check it.

use crate::codec::{
    decode_episode, decode_pattern, decode_session, decode_stats, decode_step, micros, outcome_kind,
};
use crate::connection::Connections;
use crate::episodes::{COMPLETE_ROW, completed};
use crate::error::TursoError;
use crate::patterns::{
    self, SELECT_BY_SIGNATURES, SELECT_STATS_BY_KEYS, SIGNATURES_PER_LOOKUP, UPDATE_RECORD,
    UPSERT_PATTERNS, UPSERT_STATS, lookup_params,
};
use crate::planned::{Outcome, Outcomes, PlannedStatement};
use crate::sessions::SAVE_FEEDBACK;
use crate::text_log::{self, TextDocument};
use libsql::Value;
use memory_core::{
    Completion, Episode, ExecutionStep, Feedback, OutcomeStats, Pattern, Result, RetrievalSession,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// What a completion is computed from, as read before its write: each row with its record
/// as read, which the write checks is still there.
pub(crate) struct Basis {
    rowid: i64,
    step_count: i64,
    /// The episode's record.
    record: String,
    episode: Episode,
    /// The stored steps, when the completion does not carry them.
    steps: Option<Vec<ExecutionStep>>,
    /// The stored baselines of the contexts the lessons touch, by scope key.
    baselines: HashMap<String, (OutcomeStats, String)>,
    /// The stored patterns with the lessons' signatures, by signature.
    patterns: HashMap<String, (Pattern, String)>,
    /// The retrieval session the episode started from, when the completion gives feedback
    /// on it and it is still stored.
    session: Option<(RetrievalSession, String)>,
    /// The stored patterns that session recommended, by id.
    recommended: HashMap<Uuid, (Pattern, String)>,
}

/// What [`read_basis`] reads.
const SELECT_EPISODE: &str = "SELECT rowid, ended_at, step_count, record FROM episodes \
                              WHERE namespace = ?1 AND id = ?2";
const SELECT_STEPS: &str = "SELECT seq, record FROM steps WHERE episode_rowid = \
                            (SELECT rowid FROM episodes WHERE namespace = ?1 AND id = ?2) \
                            ORDER BY seq";
const SELECT_SESSION: &str =
    "SELECT record FROM retrieval_sessions WHERE namespace = ?1 AND id = ?2";
/// (A session whose record is not JSON recommends nothing here; decoding it reports it.)
const SELECT_RECOMMENDED: &str = "SELECT id, record FROM patterns WHERE namespace = ?1 AND id IN \
     (SELECT value FROM json_each((SELECT CASE WHEN json_valid(record) \
      THEN json_extract(record, '$.recommended') END \
      FROM retrieval_sessions WHERE namespace = ?1 AND id = ?2)))";

/// The checks a completion's write starts with: each inserts into `write_guards` (and so
/// fails the write) when a row is not as it was read (`?3`: its record then, or NULL when
/// there was none).
const EPISODE_UNCHANGED: &str = "INSERT INTO write_guards (reason) SELECT 'episode' WHERE \
     (SELECT record FROM episodes WHERE rowid = ?1 AND ended_at IS NULL AND step_count = ?2) \
     IS NOT ?3";
const BASELINE_UNCHANGED: &str = "INSERT INTO write_guards (reason) SELECT 'baseline' WHERE \
     (SELECT record FROM context_stats WHERE namespace = ?1 AND scope_key = ?2) IS NOT ?3";
const PATTERN_UNCHANGED: &str = "INSERT INTO write_guards (reason) SELECT 'pattern' WHERE \
     (SELECT record FROM patterns WHERE namespace = ?1 AND signature = ?2) IS NOT ?3";
const SESSION_UNCHANGED: &str = "INSERT INTO write_guards (reason) SELECT 'session' WHERE \
     (SELECT record FROM retrieval_sessions WHERE namespace = ?1 AND id = ?2) IS NOT ?3";
const CREDITED_UNCHANGED: &str = "INSERT INTO write_guards (reason) SELECT 'pattern' WHERE \
     (SELECT record FROM patterns WHERE namespace = ?1 AND id = ?2) IS NOT ?3";

/// Reads what completing `episode_id` of `namespace` with `completion` is computed from
/// (from the server itself with `from_server`, even through a replica); `None` when the
/// episode is not there to be completed as `completion` expects (missing, completed, or
/// with other steps), which the long way reports precisely.
pub(crate) async fn read_basis(
    conns: &Connections,
    namespace: &str,
    episode_id: Uuid,
    completion: &Completion,
    from_server: bool,
) -> Result<Option<Basis>> {
    let id = episode_id.to_string();
    let episode_key = || vec![Value::from(namespace), Value::from(id.as_str())];
    let keys = patterns::baseline_keys(&completion.learned);
    let signatures = patterns::signatures_of(&completion.learned);
    let learns = !completion.learned.is_empty();

    let mut reads = vec![PlannedStatement::query(SELECT_EPISODE, episode_key())];
    if completion.steps.is_none() {
        reads.push(PlannedStatement::query(SELECT_STEPS, episode_key()));
    }
    let keyed = |sql: &'static str, keys: &[&str]| {
        keys.chunks(SIGNATURES_PER_LOOKUP)
            .map(|chunk| PlannedStatement::query(sql, lookup_params(namespace, chunk)))
            .collect::<Vec<_>>()
    };
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (stats_at, patterns_at) = if learns {
        let stats = keyed(SELECT_STATS_BY_KEYS.as_str(), &key_refs);
        let found = keyed(SELECT_BY_SIGNATURES.as_str(), &signatures);
        let at = reads.len();
        let (n_stats, n_found) = (stats.len(), found.len());
        reads.extend(stats);
        reads.extend(found);
        (at..at + n_stats, at + n_stats..at + n_stats + n_found)
    } else {
        (0..0, 0..0)
    };
    let session_at = completion.feedback_session.map(|session| {
        let key = vec![Value::from(namespace), Value::from(session.to_string())];
        reads.push(PlannedStatement::query(SELECT_SESSION, key.clone()));
        reads.push(PlannedStatement::query(SELECT_RECOMMENDED, key));
        reads.len() - 2
    });

    let outcomes = conns.read_planned(reads, from_server).await?;
    let what = format!("episode {id}");
    let Some(row) = outcomes.first().and_then(|o| o.rows.first()) else {
        return Ok(None);
    };
    let (rowid, ended_at, step_count, record) = match row.as_slice() {
        [
            Value::Integer(rowid),
            ended_at,
            Value::Integer(count),
            Value::Text(record),
        ] => (
            rowid.to_owned(),
            ended_at,
            count.to_owned(),
            record.to_owned(),
        ),
        _ => return Err(TursoError::corrupt(what, "its row has unexpected types").into()),
    };
    let carried = completion.steps.as_ref().map(|steps| steps.len());
    if !matches!(ended_at, Value::Null)
        || step_count != i64::from(completion.expected_steps)
        || carried.is_some_and(|n| n as i64 != step_count)
    {
        return Ok(None);
    }
    let episode = decode_episode(&id, &record)?;
    let steps = match completion.steps {
        Some(_) => None,
        None => {
            let rows = outcomes
                .get(1)
                .map(|o| o.rows.as_slice())
                .unwrap_or_default();
            let mut steps = Vec::with_capacity(rows.len());
            for row in rows {
                let (seq, record) = int_and_text(row, 0, &format!("a step of {what}"))?;
                steps.push(decode_step(&id, seq, record)?);
            }
            Some(steps)
        }
    };
    let mut baselines = HashMap::new();
    for row in rows_of(&outcomes, stats_at) {
        let (key, record) = two_texts(row, "context statistics")?;
        baselines.insert(
            key.to_string(),
            (decode_stats(key, record)?, record.to_string()),
        );
    }
    let mut stored = HashMap::new();
    for row in rows_of(&outcomes, patterns_at) {
        let (pattern_id, record) = two_texts(row, "pattern")?;
        let signature = match row.get(2) {
            Some(Value::Text(signature)) => signature.clone(),
            _ => return Err(TursoError::corrupt("pattern", "its signature is not text").into()),
        };
        let pattern = decode_pattern(pattern_id, record)?;
        stored.insert(signature, (pattern, record.to_string()));
    }
    let (mut session, mut recommended) = (None, HashMap::new());
    if let (Some(at), Some(session_id)) = (session_at, completion.feedback_session) {
        let session_id = session_id.to_string();
        if let Some(Value::Text(record)) = outcomes
            .get(at)
            .and_then(|o| o.rows.first())
            .and_then(|row| row.first())
        {
            session = Some((decode_session(&session_id, record)?, record.to_owned()));
        }
        for row in rows_of(&outcomes, at + 1..at + 2) {
            let (pattern_id, record) = two_texts(row, "pattern")?;
            let pattern = decode_pattern(pattern_id, record)?;
            recommended.insert(pattern.id, (pattern, record.to_string()));
        }
    }
    Ok(Some(Basis {
        rowid,
        step_count,
        record,
        episode,
        steps,
        baselines,
        patterns: stored,
        session,
        recommended,
    }))
}

/// The statements that complete the episode of `basis` with `completion` (a planned write,
/// see the module docs), and the ids of the patterns it feeds.
pub(crate) fn statements(
    namespace: &str,
    completion: &Completion,
    basis: Basis,
) -> Result<(Vec<PlannedStatement>, Vec<Uuid>)> {
    let in_ns = |key: &str, was: Option<&String>| {
        vec![
            Value::from(namespace),
            Value::from(key),
            was.map_or(Value::Null, |record| Value::from(record.as_str())),
        ]
    };
    let mut statements = vec![PlannedStatement::execute(
        EPISODE_UNCHANGED,
        vec![
            Value::from(basis.rowid),
            Value::from(basis.step_count),
            Value::from(basis.record.as_str()),
        ],
    )];

    // The merge, as `patterns::merge_learned` makes it.
    let mut merged = Vec::new();
    let mut writes = Vec::new();
    if !completion.learned.is_empty() {
        for key in patterns::baseline_keys(&completion.learned) {
            let was = basis.baselines.get(&key).map(|(_, record)| record);
            statements.push(PlannedStatement::execute(
                BASELINE_UNCHANGED,
                in_ns(&key, was),
            ));
        }
        for signature in patterns::signatures_of(&completion.learned) {
            let was = basis.patterns.get(signature).map(|(_, record)| record);
            statements.push(PlannedStatement::execute(
                PATTERN_UNCHANGED,
                in_ns(signature, was),
            ));
        }
        let baselines = basis
            .baselines
            .into_iter()
            .map(|(k, (s, _))| (k, s))
            .collect();
        let existing = basis
            .patterns
            .into_iter()
            .map(|(k, (p, _))| (k, p))
            .collect();
        let (counted, patterns) = patterns::merged(namespace, completion, baselines, existing);
        for (key, stats) in &counted {
            writes.push(PlannedStatement::execute(
                UPSERT_STATS.one.as_str(),
                patterns::stats_row(namespace, key, stats)?,
            ));
        }
        for pattern in &patterns {
            writes.push(PlannedStatement::execute(
                UPSERT_PATTERNS.one.as_str(),
                patterns::pattern_row(pattern)?,
            ));
        }
        merged = patterns;
    }
    let pattern_ids: Vec<Uuid> = merged.iter().map(|p| p.id).collect();

    // The episode's row and its text, as `complete_tx` writes them.
    let (episode, record) = completed(basis.episode, completion, &pattern_ids)?;
    writes.push(PlannedStatement::execute(
        COMPLETE_ROW,
        vec![
            Value::from(record),
            Value::from(outcome_kind(&completion.outcome)),
            Value::from(completion.reward.total),
            Value::from(micros(completion.ended_at)),
            Value::from(basis.rowid),
            Value::from(basis.step_count),
        ],
    ));
    let steps: &[ExecutionStep] = match (&completion.steps, &basis.steps) {
        (Some(steps), _) => steps,
        (None, Some(steps)) => steps,
        (None, None) => &[],
    };
    let document = TextDocument::new(&episode, steps);
    writes.push(PlannedStatement::execute(
        text_log::UPSERT,
        document.values(basis.rowid).to_vec(),
    ));

    // The feedback on the session it started from, as `sessions::feedback_from_completion`
    // records it.
    if let Some(session_id) = completion.feedback_session {
        let was = basis.session.as_ref().map(|(_, record)| record);
        statements.push(PlannedStatement::execute(
            SESSION_UNCHANGED,
            in_ns(&session_id.to_string(), was),
        ));
        if let Some((mut session, _)) = basis.session
            && session.feedback.is_none()
        {
            let feedback = Feedback {
                applied: session.recommended.clone(),
                outcome: completion.outcome.kind(),
                recorded_at: completion.ended_at,
            };
            session.feedback = Some(feedback.clone());
            let id = session.id.to_string();
            let record = crate::codec::to_json(&session, || format!("retrieval session {id}"))?;
            writes.push(PlannedStatement::execute(
                SAVE_FEEDBACK,
                vec![Value::from(record), Value::from(id)],
            ));
            let mut recommended = basis.recommended;
            let mut seen = HashSet::with_capacity(feedback.applied.len());
            for pattern_id in feedback.applied.iter().filter(|id| seen.insert(**id)) {
                let was = recommended.get(pattern_id).map(|(_, record)| record);
                statements.push(PlannedStatement::execute(
                    CREDITED_UNCHANGED,
                    in_ns(&pattern_id.to_string(), was),
                ));
                let read = recommended.remove(pattern_id).map(|(pattern, _)| pattern);
                let pattern = merged
                    .iter()
                    .find(|p| p.id == *pattern_id)
                    .cloned()
                    .or(read);
                let Some(mut pattern) = pattern else {
                    continue;
                };
                patterns::credit(&mut pattern, feedback.outcome, false);
                let record = crate::codec::to_json(&pattern, || format!("pattern {pattern_id}"))?;
                writes.push(PlannedStatement::execute(
                    UPDATE_RECORD,
                    vec![Value::from(record), Value::from(pattern_id.to_string())],
                ));
            }
        }
    }
    statements.extend(writes);
    Ok((statements, pattern_ids))
}

/// How many times a completion is tried in one request before it is done the long way:
/// each try after the first reads from the server itself, not from a replica that may lag.
/// A try costs two requests and holds no lock; the long way holds the write lock for about
/// eleven. With 64 agents completing on one task mix at 20 ms (`memory bench remote --rtt
/// 20 --via direct`, two alternated pairs), 8 tries gave 9.4 and 8.7 episodes/s against 5.6
/// and 7.5 with 3.
pub(crate) const ATTEMPTS: usize = 8;

/// The ids of the patterns fed, when the statements of [`statements`] all ran (the write
/// is kept); `None` when one failed — a row read had changed — and nothing was kept.
pub(crate) fn written(outcomes: Outcomes, pattern_ids: Vec<Uuid>) -> Option<Vec<Uuid>> {
    match outcomes {
        Ok(_) => Some(pattern_ids),
        Err(err) => {
            tracing::debug!(error = %err, "a completion's rows changed before its write; trying again");
            None
        }
    }
}

/// The rows of the statements at `at` of `outcomes`.
fn rows_of(outcomes: &[Outcome], at: std::ops::Range<usize>) -> impl Iterator<Item = &Vec<Value>> {
    outcomes
        .get(at)
        .unwrap_or_default()
        .iter()
        .flat_map(|o| o.rows.iter())
}

/// A row's first two columns as text.
fn two_texts<'r>(row: &'r [Value], what: &str) -> Result<(&'r str, &'r str), TursoError> {
    match row {
        [Value::Text(a), Value::Text(b), ..] => Ok((a, b)),
        _ => Err(TursoError::corrupt(what, "its row has unexpected types")),
    }
}

/// A row's columns `at` and `at + 1` as an integer and text.
fn int_and_text<'r>(row: &'r [Value], at: usize, what: &str) -> Result<(i64, &'r str), TursoError> {
    match row.get(at..at + 2) {
        Some([Value::Integer(n), Value::Text(text)]) => Ok((*n, text)),
        _ => Err(TursoError::corrupt(what, "its row has unexpected types")),
    }
}
