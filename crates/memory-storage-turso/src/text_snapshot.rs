//! The stored snapshot of the text index: its tables, when it is rewritten, and how it is
//! read and written.
//!
//! `text_snapshot` has at most one row: the log position the snapshot covers (`seq`), its
//! [`FORMAT`], its term and posting counts and its documents (encoded, see
//! [`crate::text_segment`]). `text_snapshot_terms` holds each term's encoded posting list,
//! keyed by the term. A snapshot is replaced whole, header and terms, in one transaction,
//! and a reader reads the header and the terms it needs in one read transaction, checking
//! that the header is still the snapshot it loaded: it never mixes two snapshots, and never
//! sees half of one. A snapshot is a cache of the log: missing, in another format or
//! unreadable, the index is built from the log as before (see [`crate::text_search`]).
//!
//! When it is rewritten: after a search, when the index has applied at least
//! [`crate::TursoConfig::text_snapshot_after`] log entries beyond the snapshot, and at least a
//! fiftieth of the documents searchable ([`due`]). Catching up on that many entries costs a
//! fresh process about 7 µs each (1,000 → ~7 ms; 2,000 at 100,000 episodes → ~14 ms), and a
//! rewrite (all posting lists, about 20 MB at 100,000 episodes) is paid once per that many
//! changes. The search that finds it due answers first and leaves the rewrite to a
//! background task of its handle; a one-shot process waits for that task before it exits
//! ([`crate::TursoStorage::finish_background_work`]), after printing its answer.

use crate::connection::{Conn, Connections};
use crate::error::{SqlContext, TursoError};
use crate::text_index::SnapshotData;
use crate::text_segment::{SEGMENT_FORMAT, Segment, SegmentDocs};
use libsql::Value;

/// The format a snapshot is stored in: the segment encodings and the term vectors' format
/// (a change of the tokenizer or weights makes old snapshots unusable, as it does log
/// entries).
pub(crate) const FORMAT: i64 = ((SEGMENT_FORMAT as i64) << 8) | crate::text_terms::FORMAT as i64;

/// Whether an index that has applied `entries` log entries beyond its snapshot (all of its
/// entries, without one), with `documents` searchable, should write a new snapshot.
pub(crate) fn due(entries: u64, documents: u64, after: u64) -> bool {
    entries >= after.max(1).max(documents / 50)
}

/// What the stored snapshot is.
#[derive(Debug)]
pub(crate) enum Stored {
    /// There is none.
    Missing,
    /// It was written in another format (by another build).
    OtherFormat,
    /// Its documents cannot be read.
    Corrupt {
        /// The last log entry it covers.
        seq: i64,
        /// What is wrong.
        detail: &'static str,
    },
    /// It is usable.
    Usable(Box<Segment>),
}

/// The log position and format of the stored snapshot: no row when there is none.
pub(crate) const HEADER: &str = "SELECT seq, format FROM text_snapshot WHERE id = 1";

/// The log position and format of the stored snapshot, if there is one (a cheap read: the
/// documents are not read).
pub(crate) async fn header(conn: &Conn) -> Result<Option<(i64, i64)>, TursoError> {
    const WHAT: &str = "read the text index snapshot";
    let rows = conn.query(HEADER, ()).await.ctx(WHAT)?;
    let Some(row) = rows.one().await.ctx(WHAT)? else {
        return Ok(None);
    };
    let seq = crate::codec::int(&row, 0, "the text index snapshot")?;
    let format = crate::codec::int(&row, 1, "the text index snapshot")?;
    Ok(Some((seq, format)))
}

/// Reads the stored snapshot's documents, to search it as a [`Segment`].
pub(crate) async fn load(conn: &Conn) -> Result<Stored, TursoError> {
    const WHAT: &str = "read the text index snapshot";
    let rows = conn
        .query(
            "SELECT seq, format, terms, postings, docs FROM text_snapshot WHERE id = 1",
            (),
        )
        .await
        .ctx(WHAT)?;
    let Some(row) = rows.one().await.ctx(WHAT)? else {
        return Ok(Stored::Missing);
    };
    let what = "the text index snapshot";
    let seq = crate::codec::int(&row, 0, what)?;
    if crate::codec::int(&row, 1, what)? != FORMAT {
        return Ok(Stored::OtherFormat);
    }
    let count = |idx| crate::codec::int(&row, idx, what).map(|n| u64::try_from(n).ok());
    let (Some(terms), Some(postings)) = (count(2)?, count(3)?) else {
        return Ok(Stored::Corrupt {
            seq,
            detail: "a count is negative",
        });
    };
    let docs = match row.get_value(4).ctx(WHAT)? {
        Value::Blob(bytes) => SegmentDocs::decode(&bytes),
        _ => Err("the documents are not a blob"),
    };
    Ok(match docs {
        Ok(docs) => Stored::Usable(Box::new(Segment::new(seq, docs, terms, postings))),
        Err(detail) => Stored::Corrupt { seq, detail },
    })
}

/// The encoded posting lists of `terms` (`None` for a term the snapshot does not hold), read
/// in one transaction that checks the stored snapshot still covers `seq`; `None` when it
/// does not (another snapshot replaced it).
pub(crate) async fn read_terms(
    conn: &Conn,
    seq: i64,
    terms: &[String],
) -> Result<Option<Vec<Option<Vec<u8>>>>, TursoError> {
    const WHAT: &str = "read the text index snapshot's terms";
    in_read(conn, seq, async {
        let mut out = Vec::with_capacity(terms.len());
        for term in terms {
            let mut rows = conn
                .query(
                    "SELECT postings FROM text_snapshot_terms WHERE term = ?1",
                    [Value::Blob(term.as_bytes().to_vec())],
                )
                .await
                .ctx(WHAT)?;
            out.push(match rows.next().await.ctx(WHAT)? {
                Some(row) => match row.get_value(0).ctx(WHAT)? {
                    Value::Blob(bytes) => Some(bytes),
                    // Not a posting list: reading it fails, as a damaged one does.
                    _ => Some(Vec::new()),
                },
                None => None,
            });
        }
        Ok(out)
    })
    .await
}

/// Every term of the stored snapshot with its encoded posting list, in term order, read in
/// one transaction that checks the stored snapshot still covers `seq`; `None` when it does
/// not.
pub(crate) async fn read_all(
    conn: &Conn,
    seq: i64,
) -> Result<Option<Vec<(Vec<u8>, Vec<u8>)>>, TursoError> {
    const WHAT: &str = "read the text index snapshot's terms";
    in_read(conn, seq, async {
        let mut rows = conn
            .query(
                "SELECT term, postings FROM text_snapshot_terms ORDER BY term",
                (),
            )
            .await
            .ctx(WHAT)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.ctx(WHAT)? {
            let bytes = |idx| match row.get_value(idx) {
                Ok(Value::Blob(bytes)) => bytes,
                Ok(Value::Text(text)) => text.into_bytes(),
                _ => Vec::new(),
            };
            out.push((bytes(0), bytes(1)));
        }
        Ok(out)
    })
    .await
}

/// Runs `read` in a read transaction on `conn` if the stored snapshot covers `seq`.
async fn in_read<T>(
    conn: &Conn,
    seq: i64,
    read: impl Future<Output = Result<T, TursoError>>,
) -> Result<Option<T>, TursoError> {
    conn.begin_read().await.ctx("begin read")?;
    let result = async {
        match header(conn).await? {
            Some((stored, FORMAT)) if stored == seq => read.await.map(Some),
            _ => Ok(None),
        }
    }
    .await;
    // A statement not yet reset still counts as running, which would block the commit.
    conn.reset_statements();
    conn.end_read("COMMIT").await.ctx("end read")?;
    result
}

/// Rows inserted by one statement when a snapshot is written.
const ROWS_PER_INSERT: usize = 128;

/// Stores `snapshot` in place of the stored one, in one transaction — unless the stored
/// one already covers as much of the log in this format (another handle or process wrote
/// it first). Returns whether it was written.
pub(crate) async fn write(
    conns: &Connections,
    snapshot: SnapshotData,
) -> memory_core::Result<bool> {
    conns
        .write(move |conn| {
            Box::pin(async move {
                replace(conn, snapshot)
                    .await
                    .map_err(memory_core::MemoryError::from)
            })
        })
        .await
}

async fn replace(conn: &Conn, snapshot: SnapshotData) -> Result<bool, TursoError> {
    const WHAT: &str = "write the text index snapshot";
    if let Some((seq, FORMAT)) = header(conn).await?
        && seq >= snapshot.seq
    {
        return Ok(false);
    }
    conn.execute("DELETE FROM text_snapshot_terms", ())
        .await
        .ctx(WHAT)?;
    let full = insert_sql(ROWS_PER_INSERT);
    let mut chunks = snapshot.terms.chunks(ROWS_PER_INSERT);
    let terms = snapshot.terms.len() as i64;
    for chunk in chunks.by_ref() {
        let values: Vec<Value> = chunk
            .iter()
            .flat_map(|(term, postings)| [Value::Blob(term.clone()), Value::Blob(postings.clone())])
            .collect();
        if chunk.len() == ROWS_PER_INSERT {
            conn.execute(&full, values).await.ctx(WHAT)?;
        } else {
            // The odd-sized rest, prepared for this one use (not kept in the statement cache).
            conn.execute_once(&insert_sql(chunk.len()), values)
                .await
                .ctx(WHAT)?;
        }
    }
    conn.execute(
        "INSERT OR REPLACE INTO text_snapshot (id, format, seq, terms, postings, docs) \
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        libsql::params![
            FORMAT,
            snapshot.seq,
            terms,
            i64::try_from(snapshot.postings).unwrap_or(i64::MAX),
            Value::Blob(snapshot.docs)
        ],
    )
    .await
    .ctx(WHAT)?;
    Ok(true)
}

/// Drops the stored snapshot, in one transaction: every handle's next catch-up builds its
/// index from the log (and a snapshot is written again when one is due).
pub(crate) async fn clear(conns: &Connections) -> memory_core::Result<()> {
    conns
        .write(|conn| {
            Box::pin(async move {
                for sql in [
                    "DELETE FROM text_snapshot",
                    "DELETE FROM text_snapshot_terms",
                ] {
                    conn.execute(sql, ())
                        .await
                        .ctx("drop the text index snapshot")?;
                }
                Ok(())
            })
        })
        .await
}

/// Drops the stored snapshot when episode `rowid` has indexed text, on the caller's write
/// transaction (an episode being deleted): the snapshot's posting lists are keyed by the
/// terms of every document they hold — this one's too, in its current or an earlier
/// version — so that its words do not outlive it. A snapshot is written again when one is
/// next due.
pub(crate) async fn forget_document(conn: &Conn, rowid: i64) -> Result<(), TursoError> {
    const INDEXED: &str = "EXISTS (SELECT 1 FROM episode_text \
                           WHERE episode_rowid = ?1 AND terms IS NOT NULL)";
    for sql in [
        format!(
            "DELETE FROM text_snapshot_terms WHERE {INDEXED} \
             AND EXISTS (SELECT 1 FROM text_snapshot)"
        ),
        format!("DELETE FROM text_snapshot WHERE {INDEXED}"),
    ] {
        conn.execute_once(&sql, [rowid])
            .await
            .ctx("drop the text index snapshot")?;
    }
    Ok(())
}

/// `INSERT INTO text_snapshot_terms … VALUES (?, ?), …` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO text_snapshot_terms (term, postings) VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_due_after_enough_entries() {
        assert!(!due(999, 10, 1_000));
        assert!(due(1_000, 10, 1_000));
        // Large stores wait for a fiftieth of their documents.
        assert!(!due(1_999, 100_000, 1_000));
        assert!(due(2_000, 100_000, 1_000));
        assert!(due(1, 0, 0));
    }

    #[test]
    fn inserts_list_every_row() {
        assert_eq!(
            insert_sql(2),
            "INSERT INTO text_snapshot_terms (term, postings) VALUES (?, ?), (?, ?)"
        );
    }
}
