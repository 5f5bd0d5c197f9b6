//! Steps as rows: their numbering rule, and loading the steps of one episode or of many in
//! one statement. A leaf module beside the episode queries, so that the modules that load
//! episodes (vectors, transfer, batch) need nothing else of them.

use crate::codec::{self, decode_step};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use memory_core::ExecutionStep;
use std::collections::HashMap;

/// Loads an episode's steps in order.
pub(crate) async fn load_steps(
    conn: &Conn,
    rowid: i64,
    id: &str,
) -> Result<Vec<ExecutionStep>, TursoError> {
    let mut rows = conn
        .query(
            "SELECT seq, record FROM steps WHERE episode_rowid = ?1 ORDER BY seq",
            [rowid],
        )
        .await
        .ctx("load steps")?;
    let mut steps = Vec::new();
    while let Some(row) = rows.next().await.ctx("load steps")? {
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 0, &what)?;
        let record = codec::text(&row, 1, &what)?;
        steps.push(decode_step(id, seq, &record)?);
    }
    Ok(steps)
}

/// The steps of the episodes `episodes` (rowid, id), by rowid, in one statement.
pub(crate) async fn load_steps_of(
    conn: &Conn,
    episodes: &[(i64, &str)],
) -> Result<HashMap<i64, Vec<ExecutionStep>>, TursoError> {
    let mut out: HashMap<i64, Vec<ExecutionStep>> = HashMap::with_capacity(episodes.len());
    if episodes.is_empty() {
        return Ok(out);
    }
    let ids: HashMap<i64, &str> = episodes.iter().copied().collect();
    let rowids = serde_json::to_string(&ids.keys().collect::<Vec<_>>()).map_err(|source| {
        TursoError::Encode {
            what: "episode rowids".into(),
            source,
        }
    })?;
    let mut rows = conn
        .query(
            "SELECT episode_rowid, seq, record FROM steps \
             WHERE episode_rowid IN (SELECT value FROM json_each(?1)) \
             ORDER BY episode_rowid, seq",
            [rowids],
        )
        .await
        .ctx("load steps")?;
    while let Some(row) = rows.next().await.ctx("load steps")? {
        let rowid = codec::int(&row, 0, "a step")?;
        let id = ids.get(&rowid).copied().unwrap_or("?");
        let what = format!("a step of episode {id}");
        let seq = codec::int(&row, 1, &what)?;
        let record = codec::text(&row, 2, &what)?;
        out.entry(rowid)
            .or_default()
            .push(decode_step(id, seq, &record)?);
    }
    Ok(out)
}
