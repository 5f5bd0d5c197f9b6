//! Planned writes: a write given as a fixed list of statements, none of which needs the
//! answer of another to be written, and a function that reads their outcomes.
//!
//! The same statements run everywhere. On a local file the group-commit writer runs them
//! one after another inside the batch's transaction, as any write. On a libSQL server it
//! sends the whole batch of planned writes as **one** pipeline request ([`one_request`]):
//! `BEGIN IMMEDIATE`, each write inside its own savepoint (rolled back alone when one of its
//! statements fails), `COMMIT` — so a write costs one round trip however many statements it
//! has, and concurrent writers share it. A statement that needs a value another computes
//! takes it in SQL (`INSERT … SELECT`), not from the client.

use crate::conn::{Conn, WriteFrame};
use crate::pipeline;
use libsql_hrana::proto::{Batch, BatchCond, BatchCondList, BatchResult, BatchStep, Stmt};

/// One statement of a planned write, with its parameters.
pub(crate) struct PlannedStatement {
    /// The statement (a constant, so the statement cache keeps it on a local file).
    pub(crate) sql: &'static str,
    /// Its positional parameters.
    pub(crate) params: Vec<libsql::Value>,
    /// Whether its rows are read (a `RETURNING` clause or a query).
    pub(crate) want_rows: bool,
}

impl PlannedStatement {
    /// A statement whose rows are not read.
    pub(crate) fn execute(sql: &'static str, params: Vec<libsql::Value>) -> PlannedStatement {
        PlannedStatement {
            sql,
            params,
            want_rows: false,
        }
    }

    /// A statement whose rows are read.
    pub(crate) fn query(sql: &'static str, params: Vec<libsql::Value>) -> PlannedStatement {
        PlannedStatement {
            sql,
            params,
            want_rows: true,
        }
    }
}

/// What one statement of a planned write gave back.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Its rows, when they were asked for.
    pub(crate) rows: Vec<Vec<libsql::Value>>,
    /// How many rows it changed.
    pub(crate) changed: u64,
}

/// The outcomes of a planned write's statements, in order; or the error of the first that
/// failed (none after it ran, and the write's savepoint was rolled back).
pub(crate) type Outcomes = Result<Vec<Outcome>, libsql::Error>;

/// Runs `statements` one after another on `conn`, inside the caller's transaction.
pub(crate) async fn run_each(conn: &Conn, statements: &[PlannedStatement]) -> Outcomes {
    let mut outcomes = Vec::with_capacity(statements.len());
    for statement in statements {
        let params = statement.params.clone();
        let outcome = if statement.want_rows {
            let mut rows = conn.query(statement.sql, params).await?;
            let columns = usize::try_from(rows.column_count()).unwrap_or(0);
            let mut read = Vec::new();
            while let Some(row) = rows.next().await? {
                let mut values = Vec::with_capacity(columns);
                for column in 0..columns {
                    values.push(row.get_value(i32::try_from(column).unwrap_or(i32::MAX))?);
                }
                read.push(values);
            }
            Outcome {
                rows: read,
                changed: 0,
            }
        } else {
            Outcome {
                rows: Vec::new(),
                changed: conn.execute(statement.sql, params).await?,
            }
        };
        outcomes.push(outcome);
    }
    // A statement stays active until reset; the savepoint's release waits for it.
    conn.reset_statements();
    Ok(outcomes)
}

/// The pipeline batch that runs several planned writes in one transaction, and where each
/// write's statements sit in it.
pub(crate) struct OneRequest {
    /// The batch to send.
    pub(crate) batch: Batch,
    /// For each write, the steps of its statements.
    writes: Vec<std::ops::Range<u32>>,
    /// The step of `COMMIT`; `None` for reads, which need none.
    commit: Option<u32>,
}

impl OneRequest {
    /// What each write's statements gave back, in the order the writes were given; `None`
    /// when the transaction did not commit (nothing of any write was kept).
    pub(crate) fn outcomes(&self, result: BatchResult) -> Option<Vec<Outcomes>> {
        let committed = self
            .commit
            .is_none_or(|commit| step_of(&result, commit).is_some());
        if !committed {
            return None;
        }
        let BatchResult {
            mut step_results,
            mut step_errors,
            ..
        } = result;
        let mut all = Vec::with_capacity(self.writes.len());
        for steps in &self.writes {
            let mut outcomes = Vec::with_capacity(steps.len());
            let mut failed = None;
            for step in steps.clone() {
                let at = step as usize;
                if let Some(error) = step_errors.get_mut(at).and_then(Option::take) {
                    failed = Some(pipeline::refused(error));
                    break;
                }
                match step_results.get_mut(at).and_then(Option::take) {
                    Some(result) => outcomes.push(Outcome {
                        rows: result
                            .rows
                            .into_iter()
                            .map(|row| row.values.into_iter().map(pipeline::from_wire).collect())
                            .collect(),
                        changed: result.affected_row_count,
                    }),
                    // Not run: an earlier statement of the write failed, which is reported.
                    None => break,
                }
            }
            all.push(match failed {
                Some(err) => Err(err),
                None if outcomes.len() == steps.len() => Ok(outcomes),
                None => Err(libsql::Error::Misuse(
                    "the server did not run every statement of a write".into(),
                )),
            });
        }
        Some(all)
    }
}

/// The result of `step`, when it ran and succeeded.
fn step_of(result: &BatchResult, step: u32) -> Option<&libsql_hrana::proto::StmtResult> {
    let at = step as usize;
    let failed = result.step_errors.get(at).is_some_and(Option::is_some);
    if failed {
        return None;
    }
    result.step_results.get(at).and_then(Option::as_ref)
}

/// The batch that runs `writes` in one write transaction framed by `frame`: each write in a
/// savepoint of its own, its statements each run only when the one before succeeded, rolled
/// back to its savepoint when one failed; `COMMIT` only when every savepoint was released,
/// `ROLLBACK` otherwise.
pub(crate) fn one_request(frame: &WriteFrame, writes: &[&[PlannedStatement]]) -> OneRequest {
    let mut steps: Vec<BatchStep> = Vec::new();
    let push = |steps: &mut Vec<BatchStep>, stmt: Stmt, condition: Option<BatchCond>| {
        steps.push(BatchStep { condition, stmt });
        (steps.len() - 1) as u32
    };
    let ok = |step: u32| BatchCond::Ok { step };
    let not = |cond: BatchCond| BatchCond::Not {
        cond: Box::new(cond),
    };
    let all = |conds: Vec<BatchCond>| BatchCond::And(BatchCondList { conds });

    let mut opened = push(&mut steps, Stmt::new("BEGIN IMMEDIATE", false), None);
    for sql in &frame.begin {
        opened = push(&mut steps, Stmt::new(sql.as_str(), false), Some(ok(opened)));
    }
    let mut spans = Vec::with_capacity(writes.len());
    let mut released = Vec::with_capacity(writes.len());
    for statements in writes {
        let savepoint = push(
            &mut steps,
            Stmt::new("SAVEPOINT queued_write", false),
            Some(ok(opened)),
        );
        let mut last = savepoint;
        for statement in statements.iter() {
            let stmt = pipeline::statement(statement.sql, &statement.params, statement.want_rows);
            last = push(&mut steps, stmt, Some(ok(last)));
        }
        spans.push(savepoint + 1..last + 1);
        let kept = push(
            &mut steps,
            Stmt::new("RELEASE queued_write", false),
            Some(ok(last)),
        );
        let undone = push(
            &mut steps,
            Stmt::new("ROLLBACK TO queued_write", false),
            Some(all(vec![ok(savepoint), not(ok(last))])),
        );
        let dropped = push(
            &mut steps,
            Stmt::new("RELEASE queued_write", false),
            Some(ok(undone)),
        );
        released.push(BatchCond::Or(BatchCondList {
            conds: vec![ok(kept), ok(dropped)],
        }));
    }
    let mut ready = opened;
    for sql in &frame.before_commit {
        ready = push(&mut steps, Stmt::new(sql.as_str(), false), Some(ok(ready)));
    }
    let mut commit_when = vec![ok(ready)];
    commit_when.extend(released);
    let commit = push(
        &mut steps,
        Stmt::new("COMMIT", false),
        Some(all(commit_when)),
    );
    push(
        &mut steps,
        Stmt::new("ROLLBACK", false),
        Some(all(vec![ok(0), not(ok(commit))])),
    );
    OneRequest {
        batch: Batch {
            steps,
            replication_index: None,
        },
        writes: spans,
        commit: Some(commit),
    }
}

/// The batch that runs the queries `statements` in one request, each on its own (a read
/// needs no transaction when what is read is checked again before anything is written
/// from it, as [`crate::completion`] does); its outcomes are those of one write.
pub(crate) fn reads(statements: &[PlannedStatement]) -> OneRequest {
    let steps = statements
        .iter()
        .map(|statement| BatchStep {
            condition: None,
            stmt: pipeline::statement(statement.sql, &statement.params, statement.want_rows),
        })
        .collect::<Vec<_>>();
    let all = 0..steps.len() as u32;
    OneRequest {
        writes: std::iter::once(all).collect(),
        batch: Batch {
            steps,
            replication_index: None,
        },
        commit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> WriteFrame {
        WriteFrame {
            begin: vec!["UPDATE change_writer SET writer = 1".into()],
            before_commit: Vec::new(),
        }
    }

    fn sqls(request: &OneRequest) -> Vec<String> {
        request
            .batch
            .steps
            .iter()
            .map(|s| s.stmt.sql.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn each_write_runs_in_its_own_savepoint_between_begin_and_commit() {
        let one = [PlannedStatement::execute(
            "INSERT INTO a VALUES (?1)",
            vec![1.into()],
        )];
        let two = [
            PlannedStatement::query("UPDATE b SET x = 1 RETURNING x", Vec::new()),
            PlannedStatement::execute("INSERT INTO c VALUES (2)", Vec::new()),
        ];
        let request = one_request(&frame(), &[&one, &two]);
        assert_eq!(
            sqls(&request),
            [
                "BEGIN IMMEDIATE",
                "UPDATE change_writer SET writer = 1",
                "SAVEPOINT queued_write",
                "INSERT INTO a VALUES (?1)",
                "RELEASE queued_write",
                "ROLLBACK TO queued_write",
                "RELEASE queued_write",
                "SAVEPOINT queued_write",
                "UPDATE b SET x = 1 RETURNING x",
                "INSERT INTO c VALUES (2)",
                "RELEASE queued_write",
                "ROLLBACK TO queued_write",
                "RELEASE queued_write",
                "COMMIT",
                "ROLLBACK",
            ]
        );
        assert_eq!(request.writes, [3..4, 8..10]);
        assert_eq!(request.commit, Some(13));
        assert_eq!(request.batch.steps[3].stmt.args.len(), 1);
        assert_eq!(request.batch.steps[8].stmt.want_rows, Some(true));
    }

    #[test]
    fn a_failed_statement_fails_its_write_alone() {
        let one = [PlannedStatement::execute(
            "INSERT INTO a VALUES (1)",
            Vec::new(),
        )];
        let two = [PlannedStatement::execute(
            "INSERT INTO b VALUES (1)",
            Vec::new(),
        )];
        let request = one_request(&frame(), &[&one, &two]);
        let steps = request.batch.steps.len();
        let mut result = BatchResult {
            step_results: vec![None; steps],
            step_errors: vec![None; steps],
            replication_index: None,
        };
        let ran = libsql_hrana::proto::StmtResult::default();
        for step in [0, 1, 2, 3, 4, 7, 10, 11, 12] {
            result.step_results[step] = Some(ran.clone());
        }
        result.step_errors[8] = Some(libsql_hrana::proto::Error {
            message: "UNIQUE constraint failed: b.x".into(),
            code: "SQLITE_CONSTRAINT_UNIQUE".into(),
        });
        let outcomes = request.outcomes(result).unwrap_or_default();
        assert!(outcomes[0].is_ok());
        let err = outcomes[1].as_ref().err().map(|e| format!("{e:?}"));
        assert!(
            err.is_some_and(|e| e.contains("code: \"SQLITE_CONSTRAINT")),
            "{:?}",
            outcomes[1]
        );
    }

    #[test]
    fn nothing_is_kept_when_the_commit_did_not_run() {
        let one = [PlannedStatement::execute(
            "INSERT INTO a VALUES (1)",
            Vec::new(),
        )];
        let request = one_request(&frame(), &[&one]);
        let steps = request.batch.steps.len();
        let result = BatchResult {
            step_results: vec![None; steps],
            step_errors: vec![None; steps],
            replication_index: None,
        };
        assert!(request.outcomes(result).is_none());
    }
}
