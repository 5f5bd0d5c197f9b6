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
//! Deleting an episode does not touch patterns or context statistics: they keep the deleted
//! episode's contribution (statistics are aggregates, and they decay anyway), and a pattern's
//! `evidence` may name episodes that no longer exist, so readers must expect
//! `get_episode` to return `None` for some evidence ids.

use crate::codec::{self, PatternColumns, clamp_i64, decode_pattern, decode_stats};
use crate::connection::{Conn, Prepared};
use crate::error::{SqlContext, TursoError};
use libsql::Value;
use memory_core::{
    Completion, Feedback, OutcomeKind, OutcomeStats, Pattern, PatternFilter, PatternOrder, Result,
    ValidationError,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

const SELECT_STATS: &str =
    "SELECT record FROM context_stats WHERE namespace = ?1 AND scope_key = ?2";
const UPSERT_STATS: &str = "INSERT INTO context_stats (namespace, scope_key, record) \
                            VALUES (?1, ?2, ?3) \
                            ON CONFLICT (namespace, scope_key) DO UPDATE SET record = excluded.record";
const SELECT_BY_ID: &str = "SELECT id, record FROM patterns WHERE namespace = ?1 AND id = ?2";
/// Inserts a pattern, or updates the statistics of the one with its namespace and signature.
/// Kind and scope are not rewritten on update: the signature is a hash of them, so they
/// cannot differ, and leaving them out of `SET` spares the `(namespace, kind)` index a write.
const UPSERT_PATTERN: &str = "INSERT INTO patterns (id, namespace, signature, kind, \
     scope_domain, scope_language, scope_framework, scope_task_type, scope_tag, \
     episodes, confidence, lift, last_seen, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     ON CONFLICT (namespace, signature) DO UPDATE SET \
     episodes = excluded.episodes, confidence = excluded.confidence, lift = excluded.lift, \
     last_seen = excluded.last_seen, record = excluded.record";
const UPDATE_RECORD: &str = "UPDATE patterns SET record = ?1 WHERE id = ?2";

/// Checks the numbers a completion feeds into the statistics: a NaN or infinity would be
/// stored as JSON `null` and make the pattern unreadable, so it is refused up front.
pub(crate) fn check_learned(completion: &Completion) -> Result<(), ValidationError> {
    let finite = |field: String, value: f64| {
        if value.is_finite() {
            Ok(())
        } else {
            Err(ValidationError::new(
                field,
                format!("is {value}; it must be a finite number"),
            ))
        }
    };
    if completion.half_life_days.is_nan() {
        return Err(ValidationError::new(
            "half_life_days",
            "is NaN; it must be a number of days",
        ));
    }
    let learned = &completion.learned;
    finite("learned.success".into(), learned.success)?;
    finite("learned.reward".into(), learned.reward)?;
    for (i, obs) in learned.observations.iter().enumerate() {
        finite(format!("learned.observations[{i}].success"), obs.success)?;
        finite(format!("learned.observations[{i}].reward"), obs.reward)?;
    }
    Ok(())
}

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
    let (now, half_life) = (completion.ended_at, completion.half_life_days);

    let contexts = ContextStats::prepare(conn).await?;
    let mut baselines: HashMap<String, OutcomeStats> = HashMap::new();
    for scope in &learned.contexts {
        let key = scope.key();
        if baselines.contains_key(&key) {
            continue;
        }
        let mut stats = contexts
            .load(namespace, &key)
            .await?
            .unwrap_or_else(|| OutcomeStats::empty(now));
        stats.record(learned.success, learned.reward, now, half_life);
        contexts.save(namespace, &key, &stats).await?;
        baselines.insert(key, stats);
    }

    let patterns = PatternRows::prepare(conn).await?;
    let mut signatures: Vec<&str> = learned
        .observations
        .iter()
        .map(|o| o.signature.as_str())
        .collect();
    signatures.sort_unstable();
    signatures.dedup();
    let mut existing = by_signatures(conn, namespace, &signatures).await?;
    let mut merged: HashSet<&str> = HashSet::with_capacity(learned.observations.len());
    let mut ids = Vec::with_capacity(learned.observations.len());
    for obs in &learned.observations {
        if !merged.insert(obs.signature.as_str()) {
            continue;
        }
        let key = obs.scope.key();
        let baseline = match baselines.get(&key) {
            Some(stats) => stats.clone(),
            // A scope the episode was not counted in: its stored baseline, unchanged.
            None => {
                let stats = contexts
                    .load(namespace, &key)
                    .await?
                    .unwrap_or_else(|| OutcomeStats::empty(now));
                baselines.insert(key, stats.clone());
                stats
            }
        };
        let pattern = match existing.remove(obs.signature.as_str()) {
            Some(mut p) => {
                p.absorb(obs, &baseline, now, half_life);
                p
            }
            None => Pattern::from_observation(namespace, obs, &baseline, now, half_life),
        };
        patterns.save(&pattern).await?;
        ids.push(pattern.id);
    }
    tracing::trace!(
        namespace,
        contexts = baselines.len(),
        patterns = ids.len(),
        "merged episode into patterns"
    );
    Ok(ids)
}

/// Credits every applied pattern in `namespace` with one application of `feedback`
/// (`helped` on success, `hindered` on failure); patterns deleted since are skipped, and an
/// id listed twice counts once. Runs on the caller's write transaction.
pub(crate) async fn apply_feedback(
    conn: &Conn,
    namespace: &str,
    feedback: &Feedback,
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
        let e = &mut pattern.effectiveness;
        e.applied = e.applied.saturating_add(1);
        match feedback.outcome {
            OutcomeKind::Success => e.helped = e.helped.saturating_add(1),
            OutcomeKind::Failure => e.hindered = e.hindered.saturating_add(1),
            OutcomeKind::PartialSuccess | OutcomeKind::Abstained => {}
        }
        let record = codec::to_json(&pattern, || format!("pattern {id}"))?;
        update.reset();
        update
            .execute(libsql::params![record, id.to_string()])
            .await
            .ctx("update pattern effectiveness")?;
    }
    Ok(())
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
const SIGNATURES_PER_LOOKUP: usize = 32;

static SELECT_BY_SIGNATURES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let marks: Vec<String> = (2..SIGNATURES_PER_LOOKUP + 2)
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "SELECT id, record, signature FROM patterns WHERE namespace = ?1 AND signature IN ({})",
        marks.join(", ")
    )
});

/// The stored patterns of `namespace` with any of `signatures`, by signature: one indexed
/// lookup per 32 signatures instead of one per signature.
async fn by_signatures(
    conn: &Conn,
    namespace: &str,
    signatures: &[&str],
) -> Result<HashMap<String, Pattern>, TursoError> {
    let mut found = HashMap::with_capacity(signatures.len());
    for chunk in signatures.chunks(SIGNATURES_PER_LOOKUP) {
        let Some(last) = chunk.last() else { continue };
        let mut params: Vec<Value> = Vec::with_capacity(SIGNATURES_PER_LOOKUP + 1);
        params.push(Value::from(namespace));
        params.extend(chunk.iter().map(|s| Value::from(*s)));
        params.resize(SIGNATURES_PER_LOOKUP + 1, Value::from(*last));
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
    let mut rows = stmt
        .query(libsql::params![namespace, key])
        .await
        .ctx("load pattern")?;
    let found = match rows.next().await.ctx("load pattern")? {
        Some(row) => {
            let id = codec::text(&row, 0, "pattern")?;
            let record = codec::text(&row, 1, &format!("pattern {id}"))?;
            Some((id, record))
        }
        None => None,
    };
    drop(rows);
    stmt.reset();
    found
        .map(|(id, record)| decode_pattern(&id, &record))
        .transpose()
}

/// The prepared statements that read and write `context_stats` during one merge.
struct ContextStats<'c> {
    select: Prepared<'c>,
    upsert: Prepared<'c>,
}

impl<'c> ContextStats<'c> {
    async fn prepare(conn: &'c Conn) -> Result<Self, TursoError> {
        Ok(ContextStats {
            select: conn
                .prepare(SELECT_STATS)
                .await
                .ctx("prepare context statistics lookup")?,
            upsert: conn
                .prepare(UPSERT_STATS)
                .await
                .ctx("prepare context statistics upsert")?,
        })
    }

    /// The stored statistics of the context `key`, if it has any.
    async fn load(&self, namespace: &str, key: &str) -> Result<Option<OutcomeStats>, TursoError> {
        self.select.reset();
        let mut rows = self
            .select
            .query(libsql::params![namespace, key])
            .await
            .ctx("load context statistics")?;
        let record = match rows.next().await.ctx("load context statistics")? {
            Some(row) => Some(codec::text(
                &row,
                0,
                &format!("statistics of context `{key}`"),
            )?),
            None => None,
        };
        drop(rows);
        self.select.reset();
        record.map(|r| decode_stats(key, &r)).transpose()
    }

    /// Writes the statistics of the context `key`.
    async fn save(
        &self,
        namespace: &str,
        key: &str,
        stats: &OutcomeStats,
    ) -> Result<(), TursoError> {
        let record = codec::to_json(stats, || format!("statistics of context `{key}`"))?;
        self.upsert.reset();
        self.upsert
            .execute(libsql::params![namespace, key, record])
            .await
            .ctx("save context statistics")?;
        Ok(())
    }
}

/// The prepared statement that writes `patterns` during one merge.
struct PatternRows<'c> {
    upsert: Prepared<'c>,
}

impl<'c> PatternRows<'c> {
    async fn prepare(conn: &'c Conn) -> Result<Self, TursoError> {
        Ok(PatternRows {
            upsert: conn
                .prepare(UPSERT_PATTERN)
                .await
                .ctx("prepare pattern upsert")?,
        })
    }

    /// Inserts `pattern`, or updates the row with its namespace and signature.
    async fn save(&self, pattern: &Pattern) -> Result<(), TursoError> {
        let cols = PatternColumns::of(pattern)?;
        self.upsert.reset();
        self.upsert
            .execute(libsql::params![
                cols.id,
                pattern.namespace.as_str(),
                pattern.signature.as_str(),
                cols.kind,
                cols.scope_domain,
                cols.scope_language,
                cols.scope_framework,
                cols.scope_task_type,
                cols.scope_tag,
                cols.episodes,
                cols.confidence,
                cols.lift,
                cols.last_seen,
                cols.record
            ])
            .await
            .ctx("save pattern")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::TursoStorage;
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
