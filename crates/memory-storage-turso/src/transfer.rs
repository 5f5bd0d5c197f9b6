//! The reads of an export: pages of whole episodes in `(started_at, id)` order, and every
//! retrieval session and context baseline of a namespace. (The writes of an import are in
//! [`crate::batch`].)

use crate::codec::{self, clamp_i64, decode_episode, decode_session, decode_stats, micros};
use crate::connection::Conn;
use crate::error::SqlContext;
use crate::steps::load_steps;
use libsql::Value;
use memory_core::export::ContextStatsRecord;
use memory_core::{Episode, EpisodePage, Result, RetrievalSession};

/// The body of `export_episodes`; runs on a read transaction so that a page and its steps
/// come from one snapshot.
pub(crate) async fn episodes(conn: &Conn, page: &EpisodePage) -> Result<Vec<Episode>> {
    let mut sql = String::from("SELECT rowid, id, record FROM episodes WHERE namespace = ?");
    let mut params = vec![Value::from(page.namespace.as_str())];
    if let Some(after) = page.started_after {
        sql.push_str(" AND started_at >= ?");
        params.push(Value::from(micros(after)));
    }
    if let Some(before) = page.started_before {
        sql.push_str(" AND started_at < ?");
        params.push(Value::from(micros(before)));
    }
    if let Some((at, id)) = page.after {
        sql.push_str(" AND (started_at > ? OR (started_at = ? AND id > ?))");
        params.push(Value::from(micros(at)));
        params.push(Value::from(micros(at)));
        params.push(Value::from(id.to_string()));
    }
    sql.push_str(" ORDER BY started_at, id LIMIT ?");
    params.push(Value::from(clamp_i64(page.limit as u64)));
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params))
        .await
        .ctx("export episodes")?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().await.ctx("export episodes")? {
        let rowid = codec::int(&row, 0, "exported episode")?;
        let id = codec::text(&row, 1, "exported episode")?;
        let record = codec::text(&row, 2, &format!("episode {id}"))?;
        found.push((rowid, id, record));
    }
    drop(rows);
    let mut out = Vec::with_capacity(found.len());
    for (rowid, id, record) in found {
        let mut episode = decode_episode(&id, &record)?;
        episode.steps = load_steps(conn, rowid, &id).await?;
        out.push(episode);
    }
    Ok(out)
}

/// The body of `list_sessions`: every session of `namespace`, by id.
pub(crate) async fn sessions(conn: &Conn, namespace: &str) -> Result<Vec<RetrievalSession>> {
    let mut rows = conn
        .query(
            "SELECT id, record FROM retrieval_sessions WHERE namespace = ?1 ORDER BY id",
            [namespace],
        )
        .await
        .ctx("list retrieval sessions")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("list retrieval sessions")? {
        let id = codec::text(&row, 0, "retrieval session")?;
        let record = codec::text(&row, 1, &format!("retrieval session {id}"))?;
        out.push(decode_session(&id, &record)?);
    }
    Ok(out)
}

/// The body of `list_context_stats`: every context baseline of `namespace`, by scope key.
pub(crate) async fn context_stats(conn: &Conn, namespace: &str) -> Result<Vec<ContextStatsRecord>> {
    let mut rows = conn
        .query(
            "SELECT scope_key, record FROM context_stats WHERE namespace = ?1 ORDER BY scope_key",
            [namespace],
        )
        .await
        .ctx("list context statistics")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("list context statistics")? {
        let key = codec::text(&row, 0, "context statistics")?;
        let record = codec::text(&row, 1, &format!("statistics of context `{key}`"))?;
        out.push(ContextStatsRecord {
            namespace: namespace.to_string(),
            stats: decode_stats(&key, &record)?,
            scope_key: key,
        });
    }
    Ok(out)
}
