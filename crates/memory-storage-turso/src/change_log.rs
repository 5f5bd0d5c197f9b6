//! The change log: what each write changed, by key, so that every process in front of the
//! store — on the same file, on a server, through an embedded replica — drops exactly the
//! cache entries another writer changed (see `memory_core::StatsStore::external_changes`).
//!
//! Triggers (schema version 13) append a row to `change_log` for every episode inserted,
//! updated or deleted, and for every namespace whose patterns change or whose episodes get
//! vectors (which changes its searches), those once per transaction. Each row names its
//! writer, which every write transaction records in `change_writer` as it begins
//! (`Conn::begin_write`), so that a reader can leave its own writes out.
//! Rows are numbered by an `AUTOINCREMENT` key: committed numbers follow one another with no
//! gap (a rolled-back transaction takes its numbers back with it), so a gap before a
//! reader's position means the rows it needed were pruned, and the reader is told that
//! anything may have changed. Writers keep the newest
//! 20,000 rows (`CHANGE_LOG_KEEP`), pruning as they commit.

#[cfg(test)]
use crate::connection::CHANGE_LOG_KEEP as KEEP;
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use memory_core::{Changed, ChangedKey, ExternalChanges};
use std::collections::HashSet;
use uuid::Uuid;

/// The most rows one read lists; past that, dropping everything is cheaper.
const READ_AT_MOST: u64 = 4_096;

/// A row that tells every reader that anything may have changed: for writes no trigger
/// sees (the vector space reset).
pub(crate) const EVERYTHING: &str = "INSERT INTO change_log (namespace, kind, key, writer) \
     SELECT '', 'all', '', writer FROM change_writer WHERE id = 1";

/// What writers other than `own` (`None`: every writer) changed after position `since`
/// (`None`: the log's current end, with everything counted as changed).
pub(crate) async fn since(
    conn: &Conn,
    since: Option<u64>,
    own: Option<i64>,
) -> Result<ExternalChanges, TursoError> {
    let Some(since) = since else {
        return Ok(ExternalChanges {
            position: end(conn).await?,
            changed: Changed::Everything,
        });
    };
    // The row at `since` itself is read too: if it is gone, so may be rows after it that
    // were never seen.
    let mut rows = conn
        .query(
            "SELECT seq, namespace, kind, key, writer FROM change_log \
             WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            libsql::params![to_i64(since), to_i64(READ_AT_MOST + 1)],
        )
        .await
        .ctx("read the change log")?;
    let mut read = Vec::new();
    while let Some(row) = rows.next().await.ctx("read the change log")? {
        read.push(Row {
            seq: u64::try_from(row.get::<i64>(0).ctx("read the change log")?).unwrap_or(0),
            namespace: row.get(1).ctx("read the change log")?,
            kind: row.get(2).ctx("read the change log")?,
            key: row.get(3).ctx("read the change log")?,
            writer: row.get(4).ctx("read the change log")?,
        });
    }
    drop(rows);
    match interpret(since, &read, own) {
        Some(answer) => Ok(answer),
        None => Ok(ExternalChanges {
            position: end(conn).await?.max(since),
            changed: Changed::Everything,
        }),
    }
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    seq: u64,
    namespace: String,
    kind: String,
    key: String,
    writer: Option<i64>,
}

/// What `rows` (the log from position `since` on, the row at `since` included when
/// `since` > 0) say writers other than `own` (`None`: every writer) changed; `None` when they cannot tell (rows missing, too many,
/// a kind this build does not know).
fn interpret(since: u64, rows: &[Row], own: Option<i64>) -> Option<ExternalChanges> {
    let mut rows = rows.iter().peekable();
    if since > 0 {
        // The row at the position last read must still be there.
        rows.next_if(|r| r.seq == since)?;
    }
    let mut position = since;
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for row in rows {
        if row.seq != position + 1 || row.seq - since > READ_AT_MOST {
            return None;
        }
        position = row.seq;
        if own.is_some() && row.writer == own {
            continue;
        }
        let key = key(row)?;
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    Some(ExternalChanges {
        position,
        changed: Changed::Keys(keys),
    })
}

/// The key a row names; `None` for a row that means "anything" (or that this build cannot
/// read).
fn key(row: &Row) -> Option<ChangedKey> {
    let namespace = row.namespace.clone();
    match row.kind.as_str() {
        "episode" => Some(ChangedKey::Episode {
            namespace,
            id: Uuid::parse_str(&row.key).ok()?,
        }),
        "patterns" => Some(ChangedKey::Patterns { namespace }),
        "searches" => Some(ChangedKey::Searches { namespace }),
        _ => None,
    }
}

/// The newest position in the log (0 when it is empty).
async fn end(conn: &Conn) -> Result<u64, TursoError> {
    let rows = conn
        .query("SELECT coalesce(max(seq), 0) FROM change_log", ())
        .await
        .ctx("read the end of the change log")?;
    let seq = match rows.one().await.ctx("read the end of the change log")? {
        Some(row) => row.get::<i64>(0).ctx("read the end of the change log")?,
        None => 0,
    };
    Ok(u64::try_from(seq).unwrap_or(0))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const OWN: i64 = 7;

    fn row(seq: u64, kind: &str, key: &str, writer: Option<i64>) -> Row {
        Row {
            seq,
            namespace: "ns".to_string(),
            kind: kind.to_string(),
            key: key.to_string(),
            writer,
        }
    }

    fn episode(id: Uuid) -> ChangedKey {
        ChangedKey::Episode {
            namespace: "ns".to_string(),
            id,
        }
    }

    #[test]
    fn others_rows_are_listed_once_and_ours_left_out() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let rows = [
            row(4, "episode", &a.to_string(), Some(1)),
            row(5, "episode", &b.to_string(), Some(1)),
            row(6, "episode", &a.to_string(), Some(OWN)),
            row(7, "episode", &b.to_string(), Some(2)),
            row(8, "searches", "", None),
        ];
        let answer = interpret(4, &rows, Some(OWN)).unwrap();
        assert_eq!(answer.position, 8);
        assert_eq!(
            answer.changed,
            Changed::Keys(vec![
                episode(b),
                ChangedKey::Searches {
                    namespace: "ns".to_string()
                }
            ])
        );
    }

    #[test]
    fn nothing_new_is_an_empty_list_at_the_same_position() {
        let rows = [row(4, "episode", &Uuid::new_v4().to_string(), Some(1))];
        let answer = interpret(4, &rows, Some(OWN)).unwrap();
        assert_eq!(answer.position, 4);
        assert_eq!(answer.changed, Changed::Keys(Vec::new()));
        // An empty log, never read from.
        let answer = interpret(0, &[], Some(OWN)).unwrap();
        assert_eq!(answer.position, 0);
    }

    #[test]
    fn pruned_or_missing_rows_mean_anything_may_have_changed() {
        let id = Uuid::new_v4().to_string();
        // The row at the position read last is gone.
        assert!(interpret(4, &[row(6, "episode", &id, Some(1))], Some(OWN)).is_none());
        // A gap after it.
        let rows = [
            row(4, "episode", &id, Some(1)),
            row(6, "episode", &id, Some(1)),
        ];
        assert!(interpret(4, &rows, Some(OWN)).is_none());
        // From an empty log, the first rows were pruned.
        assert!(interpret(0, &[row(3, "episode", &id, Some(1))], Some(OWN)).is_none());
        // A row that means "anything", or one this build cannot read.
        assert!(interpret(0, &[row(1, "all", "", Some(1))], Some(OWN)).is_none());
        assert!(interpret(0, &[row(1, "episode", "not an id", Some(1))], Some(OWN)).is_none());
    }

    /// A commit prunes the log to its newest [`KEEP`] rows, and a reader whose position was
    /// pruned away is told that anything may have changed.
    #[tokio::test]
    async fn commits_keep_the_newest_rows_and_a_pruned_reader_drops_everything() {
        let dir = tempfile::TempDir::new().unwrap();
        let conns = crate::connection::tests::migrated(&dir, "log.db").await;
        let writer = conns.writer().await;
        let count = || async {
            let mut rows = writer
                .query("SELECT count(*), min(seq) FROM change_log", ())
                .await
                .unwrap();
            let row = rows.next().await.unwrap().unwrap();
            (
                row.get::<u64>(0).unwrap(),
                row.get::<Option<u64>>(1).unwrap(),
            )
        };
        let fill = |rows: u64| {
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
                 INSERT INTO change_log (namespace, kind, key, writer) SELECT 'ns', 'test', i, 1 FROM n"
            )
        };
        writer.begin_write().await.unwrap();
        writer.execute(&fill(10), ()).await.unwrap();
        writer.commit_write().await.unwrap();
        let start = since(&writer, None, Some(1)).await.unwrap().position;
        assert_eq!(start, 10);
        assert_eq!(count().await, (10, Some(1)));

        // The commits between two prunings leave the log as it is.
        for _ in 1..crate::connection::CHANGE_LOG_PRUNE_EVERY {
            writer.begin_write().await.unwrap();
            writer.commit_write().await.unwrap();
        }
        assert_eq!(count().await, (10, Some(1)));
        writer.begin_write().await.unwrap();
        writer.execute(&fill(KEEP + 5), ()).await.unwrap();
        writer.commit_write().await.unwrap();
        assert_eq!(count().await, (KEEP, Some(16)));
        let answer = since(&writer, Some(start), Some(1)).await.unwrap();
        assert_eq!(answer.changed, Changed::Everything);
        assert_eq!(answer.position, KEEP + 15);
        // From there on, the log lists changes again.
        let answer = since(&writer, Some(answer.position), Some(1))
            .await
            .unwrap();
        assert_eq!(answer.changed, Changed::Keys(Vec::new()));
    }

    #[test]
    fn more_rows_than_one_read_lists_mean_anything_may_have_changed() {
        let id = Uuid::new_v4().to_string();
        let rows: Vec<Row> = (1..=READ_AT_MOST + 1)
            .map(|seq| row(seq, "episode", &id, Some(1)))
            .collect();
        assert!(interpret(0, &rows, Some(OWN)).is_none());
        assert!(interpret(0, &rows[..READ_AT_MOST as usize], Some(OWN)).is_some());
    }
}
