//! Learned patterns and the context baselines they are measured against: merging what a
//! completed episode taught, listing and loading patterns, and crediting them with feedback.
//!
//! The merge ([`merge_learned`]) runs inside `complete_episode`'s `IMMEDIATE` transaction
//! (see [`crate::episodes`]), so an episode is complete if and only if its lessons are
//! counted, and two processes completing episodes at once never lose each other's counts.
//! It first records the episode in the statistics of every context it belongs to
//! (`context_stats`, keyed by `(namespace, PatternScope::key())`), then merges each
//! observation into the pattern with the same `(namespace, signature)` or creates it. The
//! completion path must stay fast, so every lookup goes through a unique index and each
//! distinct statement is prepared once per completion and reused for every row.
//!
//! Deleting a completed episode takes back what it taught ([`forget_learned`], in the
//! delete's transaction): its share of each context baseline and pattern it fed, its evidence
//! id and example; a pattern or baseline left with no episode is deleted. A pattern's
//! `evidence` may still name episodes deleted before this was done, so readers must expect
//! `get_episode` to return `None` for some evidence ids.

use crate::codec::{self, PatternColumns, clamp_i64, decode_pattern, decode_stats};
use crate::connection::{Conn, Prepared};
use crate::error::{SqlContext, TursoError};
use chrono::{DateTime, Utc};
use libsql::Value;
use memory_core::learning::{Mined, merge};
use memory_core::{
    Completion, Feedback, OutcomeKind, OutcomeStats, Pattern, PatternFilter, PatternOrder, Result,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub(crate) const SELECT_BY_ID: &str =
    "SELECT id, record FROM patterns WHERE namespace = ?1 AND id = ?2";
pub(crate) const UPDATE_RECORD: &str = "UPDATE patterns SET record = ?1 WHERE id = ?2";

/// Merges what a completing episode taught into the namespace's context statistics and
/// patterns, and returns the ids of the patterns it contributed to, in observation order.
///
/// Runs on the caller's write transaction. A context listed twice counts the episode once,
/// and a second observation with an already merged signature is skipped.
pub(crate) async fn merge_learned(
    conn: &Conn,
    namespace: &str,
    completion: &Completion,
) -> Result<Vec<Uuid>> {
    let learned = &completion.learned;
    if learned.is_empty() {
        return Ok(Vec::new());
    }
    let baselines = baselines_of(conn, namespace, learned).await?;
    let existing = by_signatures(conn, namespace, &signatures_of(learned)).await?;
    let (counted, patterns) = merged(namespace, completion, baselines, existing);
    save_context_stats(conn, namespace, &counted).await?;
    save_patterns(conn, &patterns).await?;
    let ids: Vec<Uuid> = patterns.iter().map(|p| p.id).collect();
    tracing::trace!(
        namespace,
        contexts = counted.len(),
        patterns = ids.len(),
        "merged episode into patterns"
    );
    Ok(ids)
}

/// What merging `completion`'s lessons into the stored `baselines` (by scope key) and
/// `existing` patterns (by signature) of `namespace` makes of them: the baselines the
/// episode counts in, and the merged patterns in observation order.
pub(crate) fn merged(
    namespace: &str,
    completion: &Completion,
    mut baselines: HashMap<String, OutcomeStats>,
    mut existing: HashMap<String, Pattern>,
) -> (Vec<(String, OutcomeStats)>, Vec<Pattern>) {
    let learned = &completion.learned;
    let (now, half_life) = (completion.ended_at, completion.half_life_days);
    let counted = merge::count_in_contexts(learned, &mut baselines, now, half_life);
    let mut patterns = Vec::with_capacity(learned.observations.len());
    for (obs, baseline) in merge::observations_to_merge(learned, &baselines, now) {
        let pattern = match existing.remove(obs.signature.as_str()) {
            Some(mut p) => {
                p.absorb(obs, &baseline, now, half_life);
                p
            }
            None => Pattern::from_observation(namespace, obs, &baseline, now, half_life),
        };
        patterns.push(pattern);
    }
    (counted, patterns)
}

/// The stored baselines of every context what `learned` touches, by scope key, loaded at
/// once: those the episode counts in, and the scopes of its observations.
async fn baselines_of(
    conn: &Conn,
    namespace: &str,
    learned: &Mined,
) -> Result<HashMap<String, OutcomeStats>, TursoError> {
    load_context_stats(conn, namespace, &baseline_keys(learned)).await
}

/// The scope keys of every context `learned` touches, sorted and distinct: those the
/// episode counts in, and the scopes of its observations.
pub(crate) fn baseline_keys(learned: &Mined) -> Vec<String> {
    let mut keys: Vec<String> = learned
        .contexts
        .iter()
        .chain(learned.observations.iter().map(|o| &o.scope))
        .map(|scope| scope.key())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The distinct signatures of `learned`'s observations, sorted.
pub(crate) fn signatures_of(learned: &Mined) -> Vec<&str> {
    let mut signatures: Vec<&str> = learned
        .observations
        .iter()
        .map(|o| o.signature.as_str())
        .collect();
    signatures.sort_unstable();
    signatures.dedup();
    signatures
}

/// What deleting a completed episode takes back from the statistics it fed.
pub(crate) struct Forget {
    /// When it completed: what it taught was counted then.
    pub(crate) ended_at: DateTime<Utc>,
    /// What it taught, mined again from it.
    pub(crate) learned: Mined,
    /// Half-life of pattern and baseline statistics, in days.
    pub(crate) half_life_days: f64,
}

/// Takes back what a deleted episode taught (see the module docs): runs on the delete's
/// write transaction. The patterns are those its observations' signatures name and those
/// its record lists (`pattern_ids`, written when it completed — so that a pattern is found
/// even if mining has changed since); a listed pattern with no matching observation loses
/// the episode's share as a plain observation with no example.
pub(crate) async fn forget_learned(
    conn: &Conn,
    namespace: &str,
    episode_id: Uuid,
    pattern_ids: &[Uuid],
    forget: &Forget,
) -> Result<()> {
    let learned = &forget.learned;
    let (at, half_life) = (forget.ended_at, forget.half_life_days);

    let mut baselines = baselines_of(conn, namespace, learned).await?;
    let mut kept = Vec::new();
    for (key, stats) in merge::uncount_in_contexts(learned, &mut baselines, at, half_life) {
        match stats {
            Some(stats) => kept.push((key, stats)),
            None => {
                conn.execute(
                    "DELETE FROM context_stats WHERE namespace = ?1 AND scope_key = ?2",
                    libsql::params![namespace, key.as_str()],
                )
                .await
                .ctx("delete an empty context baseline")?;
            }
        }
    }
    save_context_stats(conn, namespace, &kept).await?;

    let signatures = signatures_of(learned);
    let mut fed: Vec<Pattern> = by_signatures(conn, namespace, &signatures)
        .await?
        .into_values()
        .collect();
    let select = conn
        .prepare(SELECT_BY_ID)
        .await
        .ctx("prepare pattern lookup")?;
    for id in pattern_ids {
        if fed.iter().any(|p| p.id == *id) {
            continue;
        }
        if let Some(p) = load_one(&select, namespace, &id.to_string()).await? {
            fed.push(p);
        }
    }
    drop(select);
    fed.sort_by_key(|p| p.id);
    fed.dedup_by_key(|p| p.id);

    let mut changed = Vec::with_capacity(fed.len());
    for mut pattern in fed {
        merge::forget_in_pattern(&mut pattern, learned, episode_id, &baselines, at, half_life);
        if pattern.stats.episodes == 0 {
            conn.execute(
                "DELETE FROM patterns WHERE id = ?1",
                [pattern.id.to_string()],
            )
            .await
            .ctx("delete a pattern left with no episode")?;
        } else {
            changed.push(pattern);
        }
    }
    save_patterns(conn, &changed).await?;
    tracing::trace!(namespace, %episode_id, patterns = changed.len(), "took back what a deleted episode taught");
    Ok(())
}

/// Credits every applied pattern in `namespace` with one application of `feedback`
/// (`helped` on success, `hindered` on failure) — or, with `take_back`, removes that
/// credit again (the feedback's session is being deleted with its episode); patterns
/// deleted since are skipped, and an id listed twice counts once. Runs on the caller's
/// write transaction.
pub(crate) async fn apply_feedback(
    conn: &Conn,
    namespace: &str,
    feedback: &Feedback,
    take_back: bool,
) -> Result<()> {
    if feedback.applied.is_empty() {
        return Ok(());
    }
    let select = conn
        .prepare(SELECT_BY_ID)
        .await
        .ctx("prepare pattern lookup")?;
    let update = conn
        .prepare(UPDATE_RECORD)
        .await
        .ctx("prepare pattern update")?;
    let mut seen = HashSet::with_capacity(feedback.applied.len());
    for id in feedback.applied.iter().filter(|id| seen.insert(**id)) {
        let Some(mut pattern) = load_one(&select, namespace, &id.to_string()).await? else {
            tracing::debug!(%id, namespace, "feedback names a pattern that no longer exists");
            continue;
        };
        credit(&mut pattern, feedback.outcome, take_back);
        let record = codec::to_json(&pattern, || format!("pattern {id}"))?;
        update.reset();
        update
            .execute(libsql::params![record, id.to_string()])
            .await
            .ctx("update pattern effectiveness")?;
    }
    Ok(())
}

/// Credits `pattern` with one application that ended in `outcome`, or takes that credit
/// back (`take_back`, when the feedback's episode is deleted).
pub(crate) fn credit(pattern: &mut Pattern, outcome: OutcomeKind, take_back: bool) {
    let e = &mut pattern.effectiveness;
    let count = |n: u32| {
        if take_back {
            n.saturating_sub(1)
        } else {
            n.saturating_add(1)
        }
    };
    e.applied = count(e.applied);
    match outcome {
        OutcomeKind::Success => e.helped = count(e.helped),
        OutcomeKind::Failure => e.hindered = count(e.hindered),
        OutcomeKind::PartialSuccess | OutcomeKind::Abstained => {}
    }
}

/// The body of `get_pattern`.
pub(crate) async fn get(conn: &Conn, namespace: &str, id: Uuid) -> Result<Option<Pattern>> {
    let select = conn
        .prepare(SELECT_BY_ID)
        .await
        .ctx("prepare pattern lookup")?;
    Ok(load_one(&select, namespace, &id.to_string()).await?)
}

/// The body of `list_patterns`.
pub(crate) async fn list(conn: &Conn, filter: &PatternFilter) -> Result<Vec<Pattern>> {
    let (sql, params) = list_query(filter);
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params))
        .await
        .ctx("list patterns")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("list patterns")? {
        let id = codec::text(&row, 0, "listed pattern")?;
        let record = codec::text(&row, 1, &format!("pattern {id}"))?;
        out.push(decode_pattern(&id, &record)?);
    }
    Ok(out)
}

/// The SQL and parameters of a pattern listing.
///
/// A scope field the filter sets matches patterns whose scope leaves it open (NULL) or has
/// the same value, case-insensitively; tags match an open tag scope or any of the tags.
/// Values are lower-cased here rather than with SQL's `lower()`, which only folds ASCII and
/// so would disagree with how the columns were written.
fn list_query(filter: &PatternFilter) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT id, record FROM patterns WHERE namespace = ?");
    let mut params = vec![Value::from(filter.namespace.as_str())];
    if let Some(kind) = filter.kind {
        sql.push_str(" AND kind = ?");
        params.push(Value::from(kind.as_str()));
    }
    let scoped = [
        ("scope_domain", filter.domain.as_deref()),
        ("scope_language", filter.language.as_deref()),
        ("scope_framework", filter.framework.as_deref()),
        ("scope_task_type", filter.task_type.map(|t| t.as_str())),
    ];
    for (column, wanted) in scoped {
        if let Some(wanted) = wanted {
            sql.push_str(&format!(" AND ({column} IS NULL OR {column} = ?)"));
            params.push(Value::from(wanted.to_lowercase()));
        }
    }
    if !filter.tags.is_empty() {
        let marks = vec!["?"; filter.tags.len()].join(", ");
        sql.push_str(&format!(
            " AND (scope_tag IS NULL OR scope_tag IN ({marks}))"
        ));
        params.extend(filter.tags.iter().map(|t| Value::from(t.to_lowercase())));
    }
    if filter.min_episodes > 0 {
        sql.push_str(" AND episodes >= ?");
        params.push(Value::from(clamp_i64(filter.min_episodes)));
    }
    // NaN or a bound of 0 or less restricts nothing.
    if filter.min_confidence > 0.0 {
        sql.push_str(" AND confidence >= ?");
        params.push(Value::from(filter.min_confidence));
    }
    sql.push_str(match filter.order {
        PatternOrder::Confidence => " ORDER BY confidence DESC, id",
        PatternOrder::Support => " ORDER BY episodes DESC, id",
        PatternOrder::Lift => " ORDER BY lift DESC, id",
        PatternOrder::Recent => " ORDER BY last_seen DESC, id",
    });
    sql.push_str(" LIMIT ? OFFSET ?");
    params.push(Value::from(clamp_i64(filter.limit as u64)));
    params.push(Value::from(clamp_i64(filter.offset as u64)));
    (sql, params)
}

/// Signatures looked up per statement when loading a completion's patterns. Short lists are
/// padded by repeating a signature, so every lookup runs the same (cached) statement.
pub(crate) const SIGNATURES_PER_LOOKUP: usize = 32;

pub(crate) static SELECT_BY_SIGNATURES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        keyed_lookup(
            "SELECT id, record, signature FROM patterns WHERE namespace = ?1 AND signature",
        )
    });

/// `head IN (?2, …)` with [`SIGNATURES_PER_LOOKUP`] parameters after the namespace's `?1`.
fn keyed_lookup(head: &str) -> String {
    let marks: Vec<String> = (2..SIGNATURES_PER_LOOKUP + 2)
        .map(|i| format!("?{i}"))
        .collect();
    format!("{head} IN ({})", marks.join(", "))
}

/// The parameters of a [`keyed_lookup`] of `keys` (at most [`SIGNATURES_PER_LOOKUP`]) in
/// `namespace`, padded by repeating the last key.
pub(crate) fn lookup_params(namespace: &str, keys: &[&str]) -> Vec<Value> {
    let mut params: Vec<Value> = Vec::with_capacity(SIGNATURES_PER_LOOKUP + 1);
    params.push(Value::from(namespace));
    params.extend(keys.iter().map(|k| Value::from(*k)));
    if let Some(last) = keys.last() {
        params.resize(SIGNATURES_PER_LOOKUP + 1, Value::from(*last));
    }
    params
}

/// The stored patterns of `namespace` with any of `signatures`, by signature: one indexed
/// lookup per 32 signatures instead of one per signature.
async fn by_signatures(
    conn: &Conn,
    namespace: &str,
    signatures: &[&str],
) -> Result<HashMap<String, Pattern>, TursoError> {
    let mut found = HashMap::with_capacity(signatures.len());
    for chunk in signatures.chunks(SIGNATURES_PER_LOOKUP) {
        let params = lookup_params(namespace, chunk);
        let mut rows = conn
            .query(&SELECT_BY_SIGNATURES, libsql::params_from_iter(params))
            .await
            .ctx("load patterns")?;
        while let Some(row) = rows.next().await.ctx("load patterns")? {
            let id = codec::text(&row, 0, "pattern")?;
            let record = codec::text(&row, 1, &format!("pattern {id}"))?;
            let signature = codec::text(&row, 2, &format!("pattern {id}"))?;
            found.insert(signature, decode_pattern(&id, &record)?);
        }
    }
    Ok(found)
}

/// Runs a prepared `SELECT id, record FROM patterns …` with `(namespace, key)` and decodes
/// the one row it finds, if any.
async fn load_one(
    stmt: &Prepared<'_>,
    namespace: &str,
    key: &str,
) -> Result<Option<Pattern>, TursoError> {
    // A row reads its values from the statement, so they are copied out before the next reset.
    stmt.reset();
    let rows = stmt
        .query(libsql::params![namespace, key])
        .await
        .ctx("load pattern")?;
    let found = match rows.one().await.ctx("load pattern")? {
        Some(row) => {
            let id = codec::text(&row, 0, "pattern")?;
            let record = codec::text(&row, 1, &format!("pattern {id}"))?;
            Some((id, record))
        }
        None => None,
    };
    stmt.reset();
    found
        .map(|(id, record)| decode_pattern(&id, &record))
        .transpose()
}

/// Rows per multi-row upsert of a merge through a server. A shorter list is padded by
/// repeating its last row (an upsert of the same row twice leaves it as once), so every
/// upsert runs the same cached statement. On a local file each row is its own statement,
/// which `bench completion` measures as faster there (p95 2.35-2.49 ms against 3.2 ms).
const ROWS_PER_UPSERT: usize = 16;

/// `head VALUES (…), (…)` for `rows` rows of `cols` numbered parameters, then `tail`.
fn multi_row(head: &str, rows: usize, cols: usize, tail: &str) -> String {
    let rows: Vec<String> = (0..rows)
        .map(|r| {
            let marks: Vec<String> = (1..=cols).map(|c| format!("?{}", r * cols + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    format!("{head} VALUES {} {tail}", rows.join(", "))
}

/// An upsert statement in its two forms: of [`ROWS_PER_UPSERT`] rows, and of one row.
pub(crate) struct Upsert {
    many: String,
    /// The statement of one row.
    pub(crate) one: String,
}

impl Upsert {
    fn new(head: &str, cols: usize, tail: &str) -> Upsert {
        Upsert {
            many: multi_row(head, ROWS_PER_UPSERT, cols, tail),
            one: multi_row(head, 1, cols, tail),
        }
    }
}

pub(crate) static SELECT_STATS_BY_KEYS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        keyed_lookup(
            "SELECT scope_key, record FROM context_stats WHERE namespace = ?1 AND scope_key",
        )
    });

pub(crate) static UPSERT_STATS: std::sync::LazyLock<Upsert> = std::sync::LazyLock::new(|| {
    Upsert::new(
        "INSERT INTO context_stats (namespace, scope_key, record)",
        3,
        "ON CONFLICT (namespace, scope_key) DO UPDATE SET record = excluded.record",
    )
});

/// Inserts patterns, or updates the statistics of those with their namespace and
/// signature. Kind and scope are not rewritten on update: the signature is a hash of them,
/// so they cannot differ, and leaving them out of `SET` spares the `(namespace, kind)`
/// index a write.
pub(crate) static UPSERT_PATTERNS: std::sync::LazyLock<Upsert> = std::sync::LazyLock::new(|| {
    Upsert::new(
        "INSERT INTO patterns (id, namespace, signature, kind, scope_domain, scope_language, \
         scope_framework, scope_task_type, scope_tag, episodes, confidence, lift, last_seen, \
         record)",
        PATTERN_COLUMNS,
        "ON CONFLICT (namespace, signature) DO UPDATE SET episodes = excluded.episodes, \
         confidence = excluded.confidence, lift = excluded.lift, \
         last_seen = excluded.last_seen, record = excluded.record",
    )
});

/// Columns of one row of [`UPSERT_PATTERNS`].
const PATTERN_COLUMNS: usize = 14;

/// The stored statistics of the contexts `keys` of `namespace`, by key (one lookup per 32
/// keys).
async fn load_context_stats(
    conn: &Conn,
    namespace: &str,
    keys: &[String],
) -> Result<HashMap<String, OutcomeStats>, TursoError> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(SIGNATURES_PER_LOOKUP) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let params = lookup_params(namespace, &chunk);
        let mut rows = conn
            .query(&SELECT_STATS_BY_KEYS, libsql::params_from_iter(params))
            .await
            .ctx("load context statistics")?;
        while let Some(row) = rows.next().await.ctx("load context statistics")? {
            let key = codec::text(&row, 0, "context statistics")?;
            let record = codec::text(&row, 1, &format!("statistics of context `{key}`"))?;
            let stats = decode_stats(&key, &record)?;
            found.insert(key, stats);
        }
    }
    Ok(found)
}

/// Writes the statistics of the contexts in `stats`.
async fn save_context_stats(
    conn: &Conn,
    namespace: &str,
    stats: &[(String, OutcomeStats)],
) -> Result<(), TursoError> {
    let rows = stats
        .iter()
        .map(|(key, s)| stats_row(namespace, key, s))
        .collect::<Result<Vec<_>, _>>()?;
    upsert_rows(conn, &UPSERT_STATS, rows, "save context statistics").await
}

/// Inserts `patterns`, or updates the rows with their namespace and signature.
async fn save_patterns(conn: &Conn, patterns: &[Pattern]) -> Result<(), TursoError> {
    let rows = patterns
        .iter()
        .map(pattern_row)
        .collect::<Result<Vec<_>, _>>()?;
    upsert_rows(conn, &UPSERT_PATTERNS, rows, "save patterns").await
}

/// One row of [`UPSERT_STATS`]: the statistics `stats` of the context `key` of `namespace`.
pub(crate) fn stats_row(
    namespace: &str,
    key: &str,
    stats: &OutcomeStats,
) -> Result<Vec<Value>, TursoError> {
    let record = codec::to_json(stats, || format!("statistics of context `{key}`"))?;
    Ok(vec![
        Value::from(namespace),
        Value::from(key),
        Value::from(record),
    ])
}

/// One row of [`UPSERT_PATTERNS`]: `pattern`.
pub(crate) fn pattern_row(pattern: &Pattern) -> Result<Vec<Value>, TursoError> {
    let cols = PatternColumns::of(pattern)?;
    Ok(vec![
        Value::from(cols.id),
        Value::from(pattern.namespace.as_str()),
        Value::from(pattern.signature.as_str()),
        Value::from(cols.kind),
        cols.scope_domain.map_or(Value::Null, Value::from),
        cols.scope_language.map_or(Value::Null, Value::from),
        cols.scope_framework.map_or(Value::Null, Value::from),
        cols.scope_task_type.map_or(Value::Null, Value::from),
        cols.scope_tag.map_or(Value::Null, Value::from),
        Value::from(cols.episodes),
        Value::from(cols.confidence),
        Value::from(cols.lift),
        Value::from(cols.last_seen),
        Value::from(cols.record),
    ])
}

/// Runs `upsert` over `rows`: through a server [`ROWS_PER_UPSERT`] rows per statement
/// (the last chunk padded by repeating its last row), on a file one row per statement.
async fn upsert_rows(
    conn: &Conn,
    upsert: &Upsert,
    rows: Vec<Vec<Value>>,
    context: &'static str,
) -> Result<(), TursoError> {
    if !conn.on_server() {
        for row in rows {
            conn.execute(&upsert.one, libsql::params_from_iter(row))
                .await
                .ctx(context)?;
        }
        return Ok(());
    }
    for chunk in rows.chunks(ROWS_PER_UPSERT) {
        conn.execute(&upsert.many, libsql::params_from_iter(padded(chunk)))
            .await
            .ctx(context)?;
    }
    Ok(())
}

/// The values of `chunk`'s rows, the last row repeated up to [`ROWS_PER_UPSERT`] rows.
fn padded(chunk: &[Vec<Value>]) -> Vec<Value> {
    let mut params: Vec<Value> = chunk.iter().flatten().cloned().collect();
    if let Some(last) = chunk.last() {
        for _ in chunk.len()..ROWS_PER_UPSERT {
            params.extend(last.iter().cloned());
        }
    }
    params
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::TursoStorage;

    #[test]
    fn a_short_chunk_is_padded_with_its_last_row() {
        let rows: Vec<Vec<Value>> = (0..3)
            .map(|i| vec![Value::Integer(i), Value::Text(format!("r{i}"))])
            .collect();
        let params = padded(&rows);
        assert_eq!(params.len(), ROWS_PER_UPSERT * 2);
        assert_eq!(params[..6], rows.concat()[..]);
        assert!(params[6..].chunks(2).all(|r| r == rows[2].as_slice()));
        assert!(padded(&[]).is_empty());
    }
    use crate::schema::RANKED_MIN_EPISODES;

    /// The query plan of the listing `filter` asks for, one line per step.
    async fn plan(storage: &TursoStorage, filter: &PatternFilter) -> String {
        let (sql, params) = list_query(filter);
        crate::query_plan::query_plan(storage, &sql, params).await
    }

    /// The confidence index only holds patterns with enough support; SQLite uses it when the
    /// bound minimum support implies that (it plans with the bound values).
    #[tokio::test]
    async fn recommendable_patterns_are_listed_through_the_confidence_index() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        // What retrieval asks for: supported patterns of a context, most confident first.
        let mut filter = PatternFilter::new("ns");
        filter.domain = Some("web".into());
        filter.tags = vec!["rust".into()];
        filter.min_episodes = RANKED_MIN_EPISODES;
        filter.limit = 40;
        let plan = plan(&storage, &filter).await;
        assert!(plan.contains("patterns_ns_confidence"), "{plan}");
        // Retrieval asks for the learning engine's minimum support, the index's threshold.
        assert_eq!(
            memory_core::learning::LearningConfig::default().min_support,
            RANKED_MIN_EPISODES
        );
        assert!(!plan.contains("TEMP B-TREE FOR ORDER BY"), "{plan}");
    }
}
