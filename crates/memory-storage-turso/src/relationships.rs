//! Edges between episodes (`episode_relationships`) and checkpoints of running episodes
//! (`episode_checkpoints`).
//!
//! Both tables point at `episodes.rowid` through foreign keys with `ON DELETE CASCADE`, so
//! deleting an episode removes its edges and checkpoints in the same statement (every
//! connection runs with `foreign_keys = ON`). An edge's ends must be episodes of the edge's
//! namespace; the checks of an insert — ends exist, no self-link, no duplicate link, no
//! cycle for the acyclic kinds — run inside the caller's write transaction, so two
//! processes cannot each add half of a cycle. The cycle check loads the namespace's edges of
//! that kind once per call and searches them in memory ([`AcyclicGuard`]); a batch of edges
//! is checked in order against the stored ones and those before it.

use crate::codec::{self, micros, to_json};
use crate::connection::{Conn, Prepared};
use crate::error::{SqlContext, TursoError};
use libsql::Value;
use memory_core::graph::AcyclicGuard;
use memory_core::{
    Checkpoint, Direction, MemoryError, Relationship, RelationshipFilter, RelationshipKind, Result,
    ValidationError,
};
use std::collections::HashMap;
use uuid::Uuid;

const EPISODE_ROWID: &str = "SELECT rowid FROM episodes WHERE namespace = ?1 AND id = ?2";
const LINK_EXISTS: &str =
    "SELECT 1 FROM episode_relationships WHERE from_rowid = ?1 AND to_rowid = ?2 AND kind = ?3";
const ID_EXISTS: &str = "SELECT 1 FROM episode_relationships WHERE id = ?1";
const INSERT_EDGE: &str = "INSERT INTO episode_relationships \
     (id, namespace, from_rowid, to_rowid, kind, created_at, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const KIND_EDGES: &str = "SELECT f.id, t.id FROM episode_relationships r \
     JOIN episodes f ON f.rowid = r.from_rowid JOIN episodes t ON t.rowid = r.to_rowid \
     WHERE r.namespace = ?1 AND r.kind = ?2 ORDER BY r.rowid";

/// Stores `edges` in order on the caller's write transaction, with every check of
/// `GraphStore::store_relationship`.
pub(crate) async fn insert(conn: &Conn, edges: &[Relationship]) -> Result<u64> {
    if edges.is_empty() {
        return Ok(0);
    }
    let lookup = conn
        .prepare(EPISODE_ROWID)
        .await
        .ctx("prepare episode lookup")?;
    let link = conn.prepare(LINK_EXISTS).await.ctx("prepare link lookup")?;
    let id_exists = conn.prepare(ID_EXISTS).await.ctx("prepare id lookup")?;
    let insert = conn.prepare(INSERT_EDGE).await.ctx("prepare edge insert")?;
    let mut guards: HashMap<(String, RelationshipKind), AcyclicGuard> = HashMap::new();
    for e in edges {
        let id = e.id.to_string();
        if e.from == e.to {
            return Err(ValidationError::new(
                "to",
                format!("relationship {id} links episode {} to itself", e.to),
            )
            .into());
        }
        let from = rowid_of(&lookup, &e.namespace, e.from).await?;
        let to = rowid_of(&lookup, &e.namespace, e.to).await?;
        if exists(&id_exists, libsql::params![id.as_str()]).await? {
            return Err(MemoryError::Conflict(format!(
                "relationship {id} already exists"
            )));
        }
        let kind = e.kind.as_str();
        let duplicate = exists(&link, libsql::params![from, to, kind]).await?
            || (e.kind.is_symmetric() && exists(&link, libsql::params![to, from, kind]).await?);
        if duplicate {
            return Err(MemoryError::Conflict(format!(
                "episodes {} and {} are already linked by `{kind}`",
                e.from, e.to
            )));
        }
        if e.kind.is_acyclic() {
            let key = (e.namespace.clone(), e.kind);
            if !guards.contains_key(&key) {
                let guard = load_guard(conn, &e.namespace, e.kind).await?;
                guards.insert(key.clone(), guard);
            }
            if let Some(guard) = guards.get_mut(&key)
                && let Err(path) = guard.check_and_add(e)
            {
                return Err(MemoryError::Cycle { kind: e.kind, path });
            }
        }
        let record = to_json(e, || format!("relationship {id}"))?;
        insert.reset();
        insert
            .execute(libsql::params![
                id.as_str(),
                e.namespace.as_str(),
                from,
                to,
                kind,
                micros(e.created_at),
                record
            ])
            .await
            .ctx("insert relationship")?;
    }
    Ok(edges.len() as u64)
}

/// The stored edges of `kind` in `namespace`, as a cycle guard.
async fn load_guard(
    conn: &Conn,
    namespace: &str,
    kind: RelationshipKind,
) -> Result<AcyclicGuard, TursoError> {
    let mut rows = conn
        .query(KIND_EDGES, libsql::params![namespace, kind.as_str()])
        .await
        .ctx("load edges for the cycle check")?;
    let mut guard = AcyclicGuard::default();
    let mut graph = Vec::new();
    while let Some(row) = rows.next().await.ctx("load edges for the cycle check")? {
        let from = parse_id(&codec::text(&row, 0, "an edge's episode")?)?;
        let to = parse_id(&codec::text(&row, 1, "an edge's episode")?)?;
        graph.push((from, to));
    }
    for (from, to) in graph {
        guard.add_unchecked(&Relationship {
            id: Uuid::nil(),
            namespace: namespace.to_string(),
            from,
            to,
            kind,
            metadata: Default::default(),
            created_at: chrono::DateTime::UNIX_EPOCH,
        });
    }
    Ok(guard)
}

fn parse_id(text: &str) -> Result<Uuid, TursoError> {
    Uuid::parse_str(text)
        .map_err(|e| TursoError::corrupt(format!("episode id `{text}`"), e.to_string()))
}

/// The rowid of episode `id` in `namespace`, or `NotFound`.
async fn rowid_of(lookup: &Prepared<'_>, namespace: &str, id: Uuid) -> Result<i64> {
    lookup.reset();
    let key = id.to_string();
    let rows = lookup
        .query(libsql::params![namespace, key.as_str()])
        .await
        .ctx("find episode")?;
    let found = match rows.one().await.ctx("find episode")? {
        Some(row) => Some(codec::int(&row, 0, &format!("episode {key}"))?),
        None => None,
    };
    lookup.reset();
    found.ok_or_else(|| MemoryError::episode_not_found(namespace, id))
}

/// Whether a prepared `SELECT 1 …` finds a row.
async fn exists(
    stmt: &Prepared<'_>,
    params: impl libsql::params::IntoParams,
) -> Result<bool, TursoError> {
    stmt.reset();
    let rows = stmt.query(params).await.ctx("look up a row")?;
    let found = rows.one().await.ctx("look up a row")?.is_some();
    stmt.reset();
    Ok(found)
}

/// The body of `delete_relationships`; runs on a write transaction.
pub(crate) async fn delete(
    conn: &Conn,
    namespace: &str,
    from: Uuid,
    to: Uuid,
    kind: Option<RelationshipKind>,
) -> Result<u64> {
    let lookup = conn
        .prepare(EPISODE_ROWID)
        .await
        .ctx("prepare episode lookup")?;
    let (Ok(f), Ok(t)) = (
        rowid_of(&lookup, namespace, from).await,
        rowid_of(&lookup, namespace, to).await,
    ) else {
        return Ok(0);
    };
    let symmetric: Vec<&str> = RelationshipKind::ALL
        .into_iter()
        .filter(|k| k.is_symmetric() && kind.is_none_or(|want| want == *k))
        .map(RelationshipKind::as_str)
        .collect();
    let mut removed = match kind {
        Some(k) => conn
            .execute(
                "DELETE FROM episode_relationships \
                 WHERE from_rowid = ?1 AND to_rowid = ?2 AND kind = ?3",
                libsql::params![f, t, k.as_str()],
            )
            .await
            .ctx("delete relationship")?,
        None => conn
            .execute(
                "DELETE FROM episode_relationships WHERE from_rowid = ?1 AND to_rowid = ?2",
                libsql::params![f, t],
            )
            .await
            .ctx("delete relationships")?,
    };
    // A symmetric link may have been recorded the other way round.
    for k in symmetric {
        removed += conn
            .execute(
                "DELETE FROM episode_relationships \
                 WHERE from_rowid = ?1 AND to_rowid = ?2 AND kind = ?3",
                libsql::params![t, f, k],
            )
            .await
            .ctx("delete relationship")?;
    }
    Ok(removed)
}

/// Episodes per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// The body of `relationships`: matching edges, oldest first (the newest `limit` of them
/// when the filter has one).
pub(crate) async fn list(conn: &Conn, filter: &RelationshipFilter) -> Result<Vec<Relationship>> {
    let mut out: Vec<Relationship> = Vec::new();
    if filter.episodes.is_empty() {
        out = query(conn, filter, &[]).await?;
    } else {
        let mut seen = std::collections::HashSet::new();
        for chunk in filter.episodes.chunks(IN_CHUNK) {
            for r in query(conn, filter, chunk).await? {
                if seen.insert(r.id) {
                    out.push(r);
                }
            }
        }
        out.sort_by_key(|r| (r.created_at, r.id));
        if let Some(limit) = filter.limit {
            out.drain(..out.len().saturating_sub(limit));
        }
    }
    Ok(out)
}

async fn query(
    conn: &Conn,
    filter: &RelationshipFilter,
    episodes: &[Uuid],
) -> Result<Vec<Relationship>> {
    let mut sql =
        String::from("SELECT r.id, r.record FROM episode_relationships r WHERE r.namespace = ?");
    let mut params = vec![Value::from(filter.namespace.as_str())];
    if !filter.kinds.is_empty() {
        sql.push_str(&format!(
            " AND r.kind IN ({})",
            vec!["?"; filter.kinds.len()].join(", ")
        ));
        params.extend(filter.kinds.iter().map(|k| Value::from(k.as_str())));
    }
    if !episodes.is_empty() {
        let set = format!(
            "(SELECT rowid FROM episodes WHERE namespace = ? AND id IN ({}))",
            vec!["?"; episodes.len()].join(", ")
        );
        let push_set = |params: &mut Vec<Value>| {
            params.push(Value::from(filter.namespace.as_str()));
            params.extend(episodes.iter().map(|id| Value::from(id.to_string())));
        };
        match filter.direction {
            Direction::Outgoing => {
                sql.push_str(&format!(" AND r.from_rowid IN {set}"));
                push_set(&mut params);
            }
            Direction::Incoming => {
                sql.push_str(&format!(" AND r.to_rowid IN {set}"));
                push_set(&mut params);
            }
            Direction::Both => {
                sql.push_str(&format!(
                    " AND (r.from_rowid IN {set} OR r.to_rowid IN {set})"
                ));
                push_set(&mut params);
                push_set(&mut params);
            }
        }
    }
    // Newest first when limited (the newest `limit` are kept), put back in order below.
    match filter.limit {
        Some(limit) => {
            sql.push_str(" ORDER BY r.created_at DESC, r.id DESC LIMIT ?");
            params.push(Value::from(crate::codec::clamp_i64(limit as u64)));
        }
        None => sql.push_str(" ORDER BY r.created_at, r.id"),
    }
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params))
        .await
        .ctx("list relationships")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("list relationships")? {
        let id = codec::text(&row, 0, "relationship")?;
        let record = codec::text(&row, 1, &format!("relationship {id}"))?;
        out.push(codec::decode_relationship(&id, &record)?);
    }
    if filter.limit.is_some() {
        out.reverse();
    }
    Ok(out)
}

/// Stores checkpoints exactly as given (an import) on the caller's write transaction.
pub(crate) async fn insert_checkpoints(conn: &Conn, checkpoints: &[Checkpoint]) -> Result<u64> {
    if checkpoints.is_empty() {
        return Ok(0);
    }
    let lookup = conn
        .prepare(EPISODE_ROWID)
        .await
        .ctx("prepare episode lookup")?;
    for c in checkpoints {
        let rowid = rowid_of(&lookup, &c.namespace, c.episode_id).await?;
        insert_checkpoint_row(conn, rowid, c).await?;
    }
    Ok(checkpoints.len() as u64)
}

async fn insert_checkpoint_row(conn: &Conn, rowid: i64, c: &Checkpoint) -> Result<()> {
    let id = c.id.to_string();
    let record = to_json(c, || format!("checkpoint {id}"))?;
    conn.execute(
        "INSERT INTO episode_checkpoints (id, episode_rowid, at, record) VALUES (?1, ?2, ?3, ?4)",
        libsql::params![id.as_str(), rowid, micros(c.at), record],
    )
    .await
    .map_err(|e| {
        crate::error::conflict_or(e, "insert checkpoint", || {
            format!("checkpoint {id} already exists")
        })
    })?;
    Ok(())
}

/// The body of `store_checkpoint`: checks the episode is running, records its step count.
pub(crate) async fn checkpoint(conn: &Conn, c: &Checkpoint) -> Result<Checkpoint> {
    let key = c.episode_id.to_string();
    let rows = conn
        .query(
            "SELECT rowid, ended_at, step_count FROM episodes WHERE namespace = ?1 AND id = ?2",
            libsql::params![c.namespace.as_str(), key.as_str()],
        )
        .await
        .ctx("load episode")?;
    let Some(row) = rows.one().await.ctx("load episode")? else {
        return Err(MemoryError::episode_not_found(&c.namespace, c.episode_id));
    };
    let what = format!("episode {key}");
    let rowid = codec::int(&row, 0, &what)?;
    let ended = codec::opt_int(&row, 1, &what)?;
    let steps = codec::to_u32(codec::int(&row, 2, &what)?, &what, "step_count")?;
    drop(row);
    if ended.is_some() {
        return Err(MemoryError::Conflict(format!(
            "episode {key} is already completed; checkpoints are for running episodes"
        )));
    }
    let stored = Checkpoint {
        step_count: steps,
        ..c.clone()
    };
    insert_checkpoint_row(conn, rowid, &stored).await?;
    Ok(stored)
}

/// The body of `checkpoints`: one episode's, or the namespace's, oldest first.
pub(crate) async fn checkpoints(
    conn: &Conn,
    namespace: &str,
    episode: Option<Uuid>,
) -> Result<Vec<Checkpoint>> {
    let mut sql = String::from(
        "SELECT c.id, c.record FROM episode_checkpoints c \
         JOIN episodes e ON e.rowid = c.episode_rowid WHERE e.namespace = ?1",
    );
    let mut params = vec![Value::from(namespace)];
    if let Some(id) = episode {
        sql.push_str(" AND e.id = ?2");
        params.push(Value::from(id.to_string()));
    }
    sql.push_str(" ORDER BY c.at, c.id");
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params))
        .await
        .ctx("list checkpoints")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("list checkpoints")? {
        let id = codec::text(&row, 0, "checkpoint")?;
        let record = codec::text(&row, 1, &format!("checkpoint {id}"))?;
        out.push(codec::decode_checkpoint(&id, &record)?);
    }
    Ok(out)
}
