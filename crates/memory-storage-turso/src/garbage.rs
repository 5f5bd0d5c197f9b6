//! Dropping what has outlived its use (see [`memory_core::retention`]): the running episodes
//! left idle, and the sessions, patterns and cached embeddings past their retention. Each
//! part is its own write transaction, so the write lock is held briefly; the patterns are
//! judged on a reader (their decayed support is computed from the record) and each is
//! deleted only if it was not seen again meanwhile (`last_seen` unchanged). What there is to
//! drop is counted on a reader first, so a collection with nothing to drop writes nothing.

use crate::codec::{self, decode_pattern, micros};
use crate::connection::Connections;
use crate::error::SqlContext;
use libsql::Value;
use memory_core::{GarbageCounts, GarbagePlan, Result};
use uuid::Uuid;

/// Patterns judged per page.
const PAGE: i64 = 1_000;

/// Running episodes started, and last given a step, before `?1`; through the partial index
/// `episodes_running`, which holds only running episodes.
const IDLE_RUNNING: &str = "SELECT e.namespace, e.id FROM episodes e \
                            WHERE e.ended_at IS NULL AND e.started_at < ?1 \
                            AND COALESCE((SELECT max(s.at) FROM steps s \
                                          WHERE s.episode_rowid = e.rowid), \
                                         e.started_at) < ?1 \
                            ORDER BY e.started_at, e.rowid";

/// The body of `idle_running`.
pub(crate) async fn idle_running(
    conns: &Connections,
    idle_since: i64,
) -> Result<Vec<(String, Uuid)>> {
    let conn = conns.reader().await;
    let mut rows = conn
        .query(IDLE_RUNNING, [idle_since])
        .await
        .ctx("find idle episodes")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("find idle episodes")? {
        let namespace = codec::text(&row, 0, "idle episode")?;
        let id = codec::text(&row, 1, "idle episode")?;
        let id = Uuid::parse_str(&id).map_err(|e| {
            crate::error::TursoError::corrupt("idle episode", format!("id `{id}`: {e}"))
        })?;
        out.push((namespace, id));
    }
    Ok(out)
}

/// The body of `collect_garbage`.
pub(crate) async fn collect(conns: &Connections, plan: &GarbagePlan) -> Result<GarbageCounts> {
    Ok(GarbageCounts {
        sessions: sessions(conns, plan).await?,
        patterns: patterns(conns, plan).await?,
        cached_embeddings: cached_embeddings(conns, plan).await?,
    })
}

/// Sessions older than the retention's age, or beyond the newest `max_per_namespace` of
/// their namespace.
async fn sessions(conns: &Connections, plan: &GarbagePlan) -> Result<u64> {
    const EXPIRED: &str = "created_at < ?1 OR rowid IN (SELECT rowid FROM ( \
                             SELECT rowid, row_number() OVER ( \
                               PARTITION BY namespace ORDER BY created_at DESC, id DESC) AS n \
                             FROM retrieval_sessions) WHERE n > ?2)";
    let retention = plan.sessions;
    let max_age = chrono::Duration::milliseconds(
        (retention.max_age_days.max(0.0) * 86_400_000.0).min(i64::MAX as f64 / 2.0) as i64,
    );
    let cutoff = micros(plan.now.checked_sub_signed(max_age).unwrap_or(plan.now));
    let keep = i64::try_from(retention.max_per_namespace).unwrap_or(i64::MAX);
    let expired = {
        let conn = conns.reader().await;
        let sql = format!("SELECT count(*) FROM retrieval_sessions WHERE {EXPIRED}");
        count(&conn, &sql, vec![Value::from(cutoff), Value::from(keep)]).await?
    };
    // Nothing to drop takes no write (and no write lock).
    if plan.dry_run || expired == 0 {
        return Ok(expired);
    }
    conns
        .write(move |conn| {
            Box::pin(async move {
                let sql = format!("DELETE FROM retrieval_sessions WHERE {EXPIRED}");
                conn.execute_once(&sql, libsql::params![cutoff, keep])
                    .await
                    .ctx("drop expired retrieval sessions")
                    .map_err(Into::into)
            })
        })
        .await
}

/// Patterns whose support, decayed to `plan.now`, is below `plan.min_pattern_support`.
///
/// Only a pattern last seen long enough ago can be that weak — the last observation alone
/// weighs `0.5^(age / half-life)` — so the rest are never read.
async fn patterns(conns: &Connections, plan: &GarbagePlan) -> Result<u64> {
    // NaN or 0 or less keeps every pattern.
    if plan.min_pattern_support.is_nan() || plan.min_pattern_support <= 0.0 {
        return Ok(0);
    }
    let half_life = plan.half_life_days.max(0.0);
    let days = half_life * (1.0 / plan.min_pattern_support).log2().max(0.0);
    let age =
        chrono::Duration::milliseconds((days * 86_400_000.0).min(i64::MAX as f64 / 2.0) as i64);
    let seen_before = micros(plan.now.checked_sub_signed(age).unwrap_or(plan.now));
    let mut dropped = 0;
    let mut after = 0_i64;
    loop {
        let mut weak: Vec<(String, i64)> = Vec::new();
        let mut read = 0;
        {
            let conn = conns.reader().await;
            let mut rows = conn
                .query(
                    "SELECT rowid, id, last_seen, record FROM patterns \
                     WHERE last_seen <= ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
                    libsql::params![seen_before, after, PAGE],
                )
                .await
                .ctx("find weak patterns")?;
            while let Some(row) = rows.next().await.ctx("find weak patterns")? {
                read += 1;
                after = codec::int(&row, 0, "pattern")?;
                let id = codec::text(&row, 1, "pattern")?;
                let last_seen = codec::int(&row, 2, &format!("pattern {id}"))?;
                let record = codec::text(&row, 3, &format!("pattern {id}"))?;
                let pattern = decode_pattern(&id, &record)?;
                if pattern.stats.at(plan.now, half_life).support < plan.min_pattern_support {
                    weak.push((id, last_seen));
                }
            }
        }
        if plan.dry_run {
            dropped += weak.len() as u64;
        } else if !weak.is_empty() {
            dropped += conns
                .write(move |conn| {
                    Box::pin(async move {
                        let mut n = 0;
                        for (id, last_seen) in &weak {
                            n += conn
                                .execute(
                                    "DELETE FROM patterns WHERE id = ?1 AND last_seen = ?2",
                                    libsql::params![id.as_str(), *last_seen],
                                )
                                .await
                                .ctx("drop a weak pattern")?;
                        }
                        Ok(n)
                    })
                })
                .await?;
        }
        if read < PAGE {
            return Ok(dropped);
        }
    }
}

/// Cached vectors of embedders other than the store's vector space's, then the surplus
/// over `plan.max_cached_embeddings`. It is a cache, so which of the surplus goes does not
/// matter: those with the greatest content hashes, a sample as good as random.
async fn cached_embeddings(conns: &Connections, plan: &GarbagePlan) -> Result<u64> {
    const OTHERS: &str = "embedder <> (SELECT embedder FROM vector_space WHERE id = 1)";
    const SURPLUS: &str = "(embedder, content_hash) IN (SELECT embedder, content_hash \
                           FROM embedding_cache ORDER BY content_hash LIMIT -1 OFFSET ?1)";
    let keep = i64::try_from(plan.max_cached_embeddings).unwrap_or(i64::MAX);
    let surplus = {
        let conn = conns.reader().await;
        let others = count(
            &conn,
            &format!("SELECT count(*) FROM embedding_cache WHERE {OTHERS}"),
            Vec::new(),
        )
        .await?;
        let all = count(&conn, "SELECT count(*) FROM embedding_cache", Vec::new()).await?;
        others
            + all
                .saturating_sub(others)
                .saturating_sub(plan.max_cached_embeddings)
    };
    if plan.dry_run || surplus == 0 {
        return Ok(surplus);
    }
    conns
        .write(move |conn| {
            Box::pin(async move {
                let others = conn
                    .execute_once(&format!("DELETE FROM embedding_cache WHERE {OTHERS}"), ())
                    .await
                    .ctx("drop other embedders' cached vectors")?;
                let surplus = conn
                    .execute_once(
                        &format!("DELETE FROM embedding_cache WHERE {SURPLUS}"),
                        [keep],
                    )
                    .await
                    .ctx("drop surplus cached vectors")?;
                Ok(others + surplus)
            })
        })
        .await
}

/// The single count a `SELECT count(*) …` returns.
async fn count(conn: &crate::connection::Conn, sql: &str, params: Vec<Value>) -> Result<u64> {
    let rows = conn
        .query(sql, libsql::params_from_iter(params))
        .await
        .ctx("count garbage")?;
    let Some(row) = rows.one().await.ctx("count garbage")? else {
        return Ok(0);
    };
    Ok(codec::to_u64(
        codec::int(&row, 0, "count")?,
        "count",
        "count(*)",
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::TursoStorage;

    /// The hourly search for abandoned episodes reads the running ones only, in start order.
    #[tokio::test]
    async fn idle_episodes_are_found_through_the_running_index() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        let plan =
            crate::query_plan::query_plan(&storage, IDLE_RUNNING, vec![libsql::Value::Integer(0)])
                .await;
        assert!(plan.contains("USING INDEX episodes_running"), "{plan}");
        assert!(!plan.contains("SCAN e"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
