//! Counting episodes without reading them: the `episode_counts` table (schema version 15),
//! which triggers keep in step with every insert, completion, vector write and delete, holds
//! each namespace's episodes by outcome and how many have vectors. Patterns are counted
//! through their `(namespace, signature)` index.

use crate::codec;
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use memory_core::{EpisodeCounts, OutcomeKind};
use std::collections::BTreeMap;

/// Every namespace holding episodes or patterns (only `only`, when given) with its counts,
/// by name.
pub(crate) async fn of_namespaces(
    conn: &Conn,
    only: Option<&str>,
) -> Result<Vec<(String, EpisodeCounts)>, TursoError> {
    let (of_namespace, params) = match only {
        Some(ns) => (" WHERE namespace = ?1", vec![libsql::Value::from(ns)]),
        None => ("", Vec::new()),
    };
    let mut by_name: BTreeMap<String, EpisodeCounts> = BTreeMap::new();
    let sql = format!("SELECT namespace, outcome_kind, episodes FROM episode_counts{of_namespace}");
    let what = "episode counts";
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params.clone()))
        .await
        .ctx("count episodes")?;
    while let Some(row) = rows.next().await.ctx("count episodes")? {
        let ns = codec::text(&row, 0, what)?;
        let kind = codec::text(&row, 1, what)?;
        let n = codec::to_u64(codec::int(&row, 2, what)?, what, "episodes")?;
        if n == 0 {
            // Left by deletes: the namespace holds none of these any more.
            continue;
        }
        let outcome = match kind.as_str() {
            "" => None,
            other => Some(other.parse::<OutcomeKind>().map_err(|_| {
                TursoError::corrupt(what.to_string(), format!("unknown outcome kind `{other}`"))
            })?),
        };
        by_name.entry(ns).or_default().add(outcome, n);
    }
    let sql = format!("SELECT namespace, count(*) FROM patterns{of_namespace} GROUP BY namespace");
    let mut rows = conn
        .query(&sql, libsql::params_from_iter(params))
        .await
        .ctx("count patterns")?;
    while let Some(row) = rows.next().await.ctx("count patterns")? {
        let ns = codec::text(&row, 0, "pattern count")?;
        let n = codec::to_u64(codec::int(&row, 1, "pattern count")?, "pattern count", "n")?;
        by_name.entry(ns).or_default().patterns = n;
    }
    Ok(by_name.into_iter().collect())
}

/// The store's episodes, those with vectors, and the completed ones still without, as
/// `SELECT` expressions over `episode_counts` (for the statistics query).
pub(crate) const STORE_TOTALS_SQL: [&str; 3] = [
    "(SELECT COALESCE(sum(episodes), 0) FROM episode_counts)",
    "(SELECT COALESCE(sum(with_vector), 0) FROM episode_counts)",
    "(SELECT COALESCE(sum(episodes - with_vector), 0) FROM episode_counts \
      WHERE outcome_kind <> '')",
];
