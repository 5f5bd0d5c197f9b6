//! The full-text index: what text goes into `episode_fts`, when, and how queries are built.
//!
//! `episode_fts` is an FTS5 table (porter stemming over unicode61 tokens) whose rowid is the
//! episode's rowid. It has five columns, weighted when ranking (see [`BM25_WEIGHTS`]): the task
//! description, the steps (one line per step: tool, action and result text), the outcome, the
//! reflection and the tags.
//!
//! Indexing policy:
//! - `store_episode` indexes a completed episode with everything it has; a running one is
//!   not indexed yet (search only returns completed episodes).
//! - `append_step` does **not** touch the index: logging a step stays one cheap insert, and
//!   search only returns completed episodes anyway.
//! - `complete_episode` indexes the full text of the task, every stored step, the outcome and
//!   the reflection (replacing any row a database written by an earlier version may hold).
//! - `delete_episode` removes the row in the same transaction as the episode.
//!
//! Queries never pass user text to FTS5 as syntax: each term becomes a quoted string (see
//! [`match_expression`]), so operators, column filters and stray quotes in a query are
//! searched for literally instead of failing or changing the query's meaning.

use crate::codec::tag_set;
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use memory_core::{Episode, ExecutionStep};

/// BM25 column weights, in column order: task, steps, outcome, reflection, tags.
pub(crate) const BM25_WEIGHTS: &str = "4.0, 1.0, 2.0, 1.5, 2.0";

/// The text of one episode's row in `episode_fts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FtsDocument {
    task: String,
    steps: String,
    outcome: String,
    reflection: String,
    tags: String,
}

impl FtsDocument {
    /// The indexed text of `episode` with `steps` (passed separately because a completing
    /// episode's steps are loaded from their own rows).
    pub(crate) fn new(episode: &Episode, steps: &[ExecutionStep]) -> Self {
        let steps = steps
            .iter()
            .map(|s| {
                let line = format!("{} {} {}", s.tool, s.action, s.result.text());
                line.trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n");
        FtsDocument {
            task: episode.task_description.clone(),
            steps,
            outcome: episode
                .outcome
                .as_ref()
                .map(|o| o.full_text())
                .unwrap_or_default(),
            reflection: episode
                .reflection
                .as_ref()
                .map(|r| r.full_text())
                .unwrap_or_default(),
            tags: tag_set(episode).into_iter().collect::<Vec<_>>().join(" "),
        }
    }

    /// Adds the row for the episode at `rowid` (which must not be indexed yet).
    pub(crate) async fn insert(&self, conn: &Conn, rowid: i64) -> Result<(), TursoError> {
        conn.execute(
            "INSERT INTO episode_fts (rowid, task, steps, outcome, reflection, tags) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            libsql::params![
                rowid,
                self.task.as_str(),
                self.steps.as_str(),
                self.outcome.as_str(),
                self.reflection.as_str(),
                self.tags.as_str()
            ],
        )
        .await
        .ctx("index episode text")?;
        Ok(())
    }

    /// The row's values in the column order of `insert`, for multi-row inserts.
    pub(crate) fn into_values(self, rowid: i64) -> [libsql::Value; 6] {
        [
            libsql::Value::from(rowid),
            libsql::Value::from(self.task),
            libsql::Value::from(self.steps),
            libsql::Value::from(self.outcome),
            libsql::Value::from(self.reflection),
            libsql::Value::from(self.tags),
        ]
    }

    /// Replaces whatever is indexed for the episode at `rowid` with this document.
    pub(crate) async fn replace(&self, conn: &Conn, rowid: i64) -> Result<(), TursoError> {
        delete(conn, rowid).await?;
        self.insert(conn, rowid).await
    }
}

/// Removes the row of the episode at `rowid`, if any.
pub(crate) async fn delete(conn: &Conn, rowid: i64) -> Result<(), TursoError> {
    conn.execute("DELETE FROM episode_fts WHERE rowid = ?1", [rowid])
        .await
        .ctx("remove episode text from the index")?;
    Ok(())
}

/// The FTS5 `MATCH` expression for "any of `terms`": each term as a quoted string (embedded
/// `"` doubled), joined with `OR`. Blank terms are skipped; `None` when nothing is left.
pub(crate) fn match_expression(terms: &[String]) -> Option<String> {
    let quoted: Vec<String> = terms
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    if quoted.is_empty() {
        None
    } else {
        Some(quoted.join(" OR "))
    }
}

#[cfg(test)]
mod tests {
    use super::match_expression;

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn terms_are_quoted_and_joined_with_or() {
        assert_eq!(
            match_expression(&terms(&["borrow", "checker"])).as_deref(),
            Some(r#""borrow" OR "checker""#)
        );
    }

    #[test]
    fn embedded_quotes_are_doubled() {
        assert_eq!(
            match_expression(&terms(&[r#"say "hi""#])).as_deref(),
            Some(r#""say ""hi""""#)
        );
        assert_eq!(
            match_expression(&terms(&["\""])).as_deref(),
            Some(r#""""""#)
        );
    }

    #[test]
    fn fts_syntax_is_taken_literally() {
        assert_eq!(
            match_expression(&terms(&["task:NEAR(a b)", "x AND y*"])).as_deref(),
            Some(r#""task:NEAR(a b)" OR "x AND y*""#)
        );
    }

    #[test]
    fn blank_terms_are_skipped() {
        assert_eq!(match_expression(&[]), None);
        assert_eq!(match_expression(&terms(&["", "  "])), None);
        assert_eq!(
            match_expression(&terms(&["", "rust"])).as_deref(),
            Some(r#""rust""#)
        );
    }
}
