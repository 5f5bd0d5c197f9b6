//! The transactions every operation runs in: a write transaction on the writer (its write
//! lock taken up front, committed or rolled back whole), a read transaction on a reader
//! (one snapshot). A leaf module: it knows connections and errors, nothing of the tables.

use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use memory_core::Result;

/// Starts a write transaction on `conn`, taking the database's write lock at once.
pub(crate) async fn begin_write(conn: &Conn) -> Result<&Conn, TursoError> {
    conn.begin_write().await.ctx("begin write transaction")?;
    Ok(conn)
}

/// Starts a read transaction on `conn`: everything read in it comes from one snapshot.
pub(crate) async fn begin_read(conn: &Conn) -> Result<&Conn, TursoError> {
    conn.begin_read().await.ctx("begin read")?;
    Ok(conn)
}

/// Ends the read transaction on `tx` and passes `result` on.
pub(crate) async fn finish_read<T>(tx: &Conn, result: Result<T>) -> Result<T> {
    tx.reset_statements();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    if let Err(err) = tx.end_read(end).await {
        if result.is_ok() {
            return Err(TursoError::Sql {
                context: "end read",
                source: err,
            }
            .into());
        }
        tracing::warn!(error = %err, "ending a failed read failed");
    }
    result
}

/// Commits the write transaction on `tx` if `result` is a success, rolls it back
/// otherwise, and passes `result` on.
pub(crate) async fn finish<T>(tx: &Conn, result: Result<T>) -> Result<T> {
    // A statement not yet reset still counts as running, which would block the commit.
    tx.reset_statements();
    match result {
        Ok(value) => {
            tx.commit_write().await.ctx("commit")?;
            Ok(value)
        }
        Err(err) => {
            // Some errors (a full disk, I/O) make SQLite roll the transaction back itself;
            // there is then nothing left to roll back.
            let open = !tx.raw().is_autocommit();
            if open && let Err(rollback) = tx.execute("ROLLBACK", ()).await {
                tracing::warn!(error = %rollback, "rollback after a failed operation failed");
            }
            Err(err)
        }
    }
}
