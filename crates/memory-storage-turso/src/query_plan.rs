//! Query plans for tests that pin which index a query uses.

use crate::TursoStorage;
use libsql::Value;

/// SQLite's plan for `sql` with `params` on a reader of `storage`, one line per step.
pub(crate) async fn query_plan(storage: &TursoStorage, sql: &str, params: Vec<Value>) -> String {
    let conn = storage.conns.reader().await;
    let mut rows = conn
        .raw()
        .query(
            &format!("EXPLAIN QUERY PLAN {sql}"),
            libsql::params_from_iter(params),
        )
        .await
        .expect("EXPLAIN QUERY PLAN runs");
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.expect("plan rows are readable") {
        out.push(
            row.get::<String>(3)
                .expect("the plan's detail column is text"),
        );
    }
    out.join("\n")
}
