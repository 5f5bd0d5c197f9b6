//! The reads of an export: one read transaction on a reader connection, held for the whole
//! export, and keyset-paged queries over it ([`Snapshot`]), so that the file comes from one
//! snapshot of the store and no page is read twice or skipped whatever is written meanwhile.
//! (The writes of an import are in [`crate::batch`].)

use crate::codec::{
    self, clamp_i64, decode_checkpoint, decode_episode, decode_pattern, decode_relationship,
    decode_session, decode_stats, micros,
};
use crate::connection::{Conn, Lease};
use crate::error::SqlContext;
use crate::steps::load_steps;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use libsql::{Row, Value};
use memory_core::export::ContextStatsRecord;
use memory_core::{
    Checkpoint, Episode, ExportFilter, ExportSnapshot, Pattern, Relationship, Result,
    RetrievalSession,
};
use uuid::Uuid;

/// An export's read transaction and what it reads: the namespace, and the range of start
/// times as stored (microseconds).
pub(crate) struct Snapshot {
    conn: Lease,
    namespace: String,
    started_after: Option<i64>,
    started_before: Option<i64>,
}

impl Snapshot {
    /// Starts the read transaction on `conn`.
    pub(crate) async fn begin(conn: Lease, filter: &ExportFilter) -> Result<Snapshot> {
        crate::tx::begin_read(&conn).await?;
        Ok(Snapshot {
            conn,
            namespace: filter.namespace.clone(),
            started_after: filter.started_after.map(micros),
            started_before: filter.started_before.map(micros),
        })
    }

    /// `column` within the filter's range of start times, as SQL conditions (each starting
    /// with ` AND`) and their parameters.
    fn in_range(&self, column: &str, sql: &mut String, params: &mut Vec<Value>) {
        if let Some(after) = self.started_after {
            sql.push_str(&format!(" AND {column} >= ?"));
            params.push(Value::from(after));
        }
        if let Some(before) = self.started_before {
            sql.push_str(&format!(" AND {column} < ?"));
            params.push(Value::from(before));
        }
    }

    /// Runs a page query (its text ends with `LIMIT ?`; `limit` is bound to it) and decodes
    /// each `(id, record)` row with `decode`.
    async fn page<T>(
        &self,
        what: &'static str,
        sql: &str,
        mut params: Vec<Value>,
        limit: usize,
        decode: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        params.push(Value::from(clamp_i64(limit as u64)));
        let mut rows = self
            .conn
            .query(sql, libsql::params_from_iter(params))
            .await
            .ctx(what)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.ctx(what)? {
            out.push(decode(&row)?);
        }
        Ok(out)
    }
}

/// `(key, id) > (?, ?)` for a page that starts after the record with that key and id,
/// written so that an index on `key` seeks to the page's start (`key >= ?` first) instead
/// of reading every earlier row again.
fn after_key(
    key: &str,
    id: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    sql: &mut String,
    params: &mut Vec<Value>,
) {
    if let Some((at, last)) = after {
        sql.push_str(&format!(" AND {key} >= ? AND ({key} > ? OR {id} > ?)"));
        params.push(Value::from(micros(at)));
        params.push(Value::from(micros(at)));
        params.push(Value::from(last.to_string()));
    }
}

/// Decodes an `(id, record)` row with `decode`, naming the record `kind` in errors.
fn id_record<T>(
    row: &Row,
    kind: &str,
    decode: impl Fn(&str, &str) -> std::result::Result<T, crate::error::TursoError>,
) -> Result<T> {
    let id = codec::text(row, 0, kind)?;
    let record = codec::text(row, 1, &format!("{kind} {id}"))?;
    Ok(decode(&id, &record)?)
}

#[async_trait]
impl ExportSnapshot for Snapshot {
    async fn context_stats(
        &mut self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<ContextStatsRecord>> {
        let mut sql =
            String::from("SELECT scope_key, record FROM context_stats WHERE namespace = ?");
        let mut params = vec![Value::from(self.namespace.as_str())];
        if let Some(after) = after {
            sql.push_str(" AND scope_key > ?");
            params.push(Value::from(after));
        }
        sql.push_str(" ORDER BY scope_key LIMIT ?");
        let namespace = &self.namespace;
        self.page("export context statistics", &sql, params, limit, |row| {
            let key = codec::text(row, 0, "context statistics")?;
            let record = codec::text(row, 1, &format!("statistics of context `{key}`"))?;
            Ok(ContextStatsRecord {
                namespace: namespace.clone(),
                stats: decode_stats(&key, &record)?,
                scope_key: key,
            })
        })
        .await
    }

    async fn newest_pattern(&mut self) -> Result<Option<Pattern>> {
        const SQL: &str = "SELECT id, record FROM patterns WHERE namespace = ? \
                           ORDER BY last_seen DESC, id LIMIT ?";
        let params = vec![Value::from(self.namespace.as_str())];
        let mut found = self
            .page("export newest pattern", SQL, params, 1, |row| {
                id_record(row, "pattern", decode_pattern)
            })
            .await?;
        Ok(found.pop())
    }

    async fn patterns(&mut self, after: Option<Uuid>, limit: usize) -> Result<Vec<Pattern>> {
        // `+namespace`: the pages walk the primary key (a range from `after`), rather than
        // the namespace's index, which would sort the whole namespace for every page.
        let mut sql = String::from("SELECT id, record FROM patterns WHERE +namespace = ?");
        let mut params = vec![Value::from(self.namespace.as_str())];
        if let Some(after) = after {
            sql.push_str(" AND id > ?");
            params.push(Value::from(after.to_string()));
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        self.page("export patterns", &sql, params, limit, |row| {
            id_record(row, "pattern", decode_pattern)
        })
        .await
    }

    async fn episodes(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        let mut sql = String::from("SELECT rowid, id, record FROM episodes WHERE namespace = ?");
        let mut params = vec![Value::from(self.namespace.as_str())];
        self.in_range("started_at", &mut sql, &mut params);
        after_key("started_at", "id", after, &mut sql, &mut params);
        sql.push_str(" ORDER BY started_at, id LIMIT ?");
        let found = self
            .page("export episodes", &sql, params, limit, |row| {
                let rowid = codec::int(row, 0, "exported episode")?;
                let id = codec::text(row, 1, "exported episode")?;
                let record = codec::text(row, 2, &format!("episode {id}"))?;
                Ok((rowid, id, record))
            })
            .await?;
        let mut out = Vec::with_capacity(found.len());
        for (rowid, id, record) in found {
            let mut episode = decode_episode(&id, &record)?;
            episode.steps = load_steps(&self.conn, rowid, &id).await?;
            out.push(episode);
        }
        Ok(out)
    }

    async fn checkpoints(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Checkpoint>> {
        let mut sql = String::from(
            "SELECT c.id, c.record FROM episode_checkpoints c \
             JOIN episodes e ON e.rowid = c.episode_rowid WHERE e.namespace = ?",
        );
        let mut params = vec![Value::from(self.namespace.as_str())];
        self.in_range("e.started_at", &mut sql, &mut params);
        after_key("c.at", "c.id", after, &mut sql, &mut params);
        sql.push_str(" ORDER BY c.at, c.id LIMIT ?");
        self.page("export checkpoints", &sql, params, limit, |row| {
            id_record(row, "checkpoint", decode_checkpoint)
        })
        .await
    }

    async fn relationships(
        &mut self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Relationship>> {
        let mut sql = String::from(
            "SELECT r.id, r.record FROM episode_relationships r \
             JOIN episodes f ON f.rowid = r.from_rowid \
             JOIN episodes t ON t.rowid = r.to_rowid WHERE r.namespace = ?",
        );
        let mut params = vec![Value::from(self.namespace.as_str())];
        self.in_range("f.started_at", &mut sql, &mut params);
        self.in_range("t.started_at", &mut sql, &mut params);
        after_key("r.created_at", "r.id", after, &mut sql, &mut params);
        sql.push_str(" ORDER BY r.created_at, r.id LIMIT ?");
        self.page("export relationships", &sql, params, limit, |row| {
            id_record(row, "relationship", decode_relationship)
        })
        .await
    }

    async fn sessions(
        &mut self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<RetrievalSession>> {
        let mut sql = String::from("SELECT id, record FROM retrieval_sessions WHERE namespace = ?");
        let mut params = vec![Value::from(self.namespace.as_str())];
        self.in_range("created_at", &mut sql, &mut params);
        if let Some(after) = after {
            sql.push_str(" AND id > ?");
            params.push(Value::from(after.to_string()));
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        self.page("export retrieval sessions", &sql, params, limit, |row| {
            id_record(row, "retrieval session", decode_session)
        })
        .await
    }

    async fn close(self: Box<Self>) -> Result<()> {
        crate::tx::finish_read(&self.conn, Ok(())).await
    }
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
        out.push(id_record(&row, "retrieval session", decode_session)?);
    }
    Ok(out)
}
