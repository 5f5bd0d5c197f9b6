//! Which query terms a full-text search scores, chosen by how many documents each matches.
//!
//! FTS5's `bm25()` scores every row an `OR` query matches, so a search costs time in
//! proportion to the rows its terms match together, not to the rows it returns. In a large
//! store a few ordinary words ("failed", "step", "run") match most documents. FTS5 weighs a
//! term by its inverse document frequency `ln((N - df + 0.5) / (df + 0.5))` and clamps it to
//! 1e-6 when that is not positive, that is when the term is in at least half of the `N`
//! documents: such a term adds at most 2.2e-6 to any score (BM25's term factor is below
//! `k1 + 1 = 2.2`), yet every row it matches is scored. So a search leaves those terms out
//! before ranking — the order of everything else is unchanged — and a query made only of
//! such terms keeps its rarest one, so that it still finds something.
//!
//! Document frequencies are read from the index itself: an `fts5vocab` table over
//! `episode_fts` (`row` type: one row per indexed term with the number of documents holding
//! it) answers `term = ?` with one b-tree seek, so the frequencies are always current and
//! nothing is cached that could go stale. The index holds **stems** (the table's tokenizer is
//! `porter unicode61`), so each query term is first put through that same tokenizer, by
//! inserting it into a small FTS5 table in the connection's `temp` schema with the
//! same tokenizer and reading its stem back through another `fts5vocab` table; no stemmer of
//! our own can then disagree with the index. Stems never change for a given term, so they are
//! cached in-process. A term that the tokenizer splits into several tokens is a phrase
//! query; its frequency is not looked up and it is always scored.

use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use moka::sync::Cache;

/// The tokenizer of `episode_fts` (see `schema`); the stemming probe must use the same.
const TOKENIZER: &str = "porter unicode61";

/// How many terms' stems are cached.
const CACHE_TERMS: u64 = 50_000;

/// A query term as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stem {
    /// One token: its stem.
    Token(String),
    /// No token or several (a phrase): the frequency is not looked up.
    NotOne,
}

/// Per-store cache of query-term stems, and the choice of terms (see the module docs).
pub(crate) struct TermStats {
    stems: Cache<String, Stem>,
}

impl std::fmt::Debug for TermStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermStats")
            .field("cached_stems", &self.stems.entry_count())
            .finish()
    }
}

impl Default for TermStats {
    fn default() -> Self {
        TermStats {
            stems: Cache::new(CACHE_TERMS),
        }
    }
}

impl TermStats {
    /// The terms of `terms` worth scoring in the store `conn` reads (see the module docs), in
    /// their original order.
    pub(crate) async fn select(
        &self,
        conn: &Conn,
        terms: &[String],
    ) -> Result<Vec<String>, TursoError> {
        let terms: Vec<String> = terms
            .iter()
            .filter(|t| !t.trim().is_empty())
            .cloned()
            .collect();
        let docs = document_count(conn).await?;
        if terms.is_empty() || docs == 0 {
            return Ok(terms);
        }
        let stems = self.stems_of(conn, &terms).await?;
        let mut counted = Vec::with_capacity(terms.len());
        for (term, stem) in terms.into_iter().zip(stems) {
            let df = match stem {
                Stem::Token(stem) => Some(document_frequency(conn, &stem).await?),
                Stem::NotOne => None,
            };
            counted.push((term, df));
        }
        Ok(choose(counted, docs))
    }

    /// The stem of each of `terms`, from the cache or else from the tokenizer.
    async fn stems_of(&self, conn: &Conn, terms: &[String]) -> Result<Vec<Stem>, TursoError> {
        let mut out: Vec<Option<Stem>> = terms.iter().map(|t| self.stems.get(t)).collect();
        let missing: Vec<&String> = terms
            .iter()
            .zip(&out)
            .filter(|(_, s)| s.is_none())
            .map(|(t, _)| t)
            .collect();
        if !missing.is_empty() {
            let found = tokenize(conn, &missing).await?;
            for (term, stem) in missing.into_iter().zip(found) {
                self.stems.insert(term.clone(), stem);
            }
            for (slot, term) in out.iter_mut().zip(terms) {
                if slot.is_none() {
                    *slot = self.stems.get(term);
                }
            }
        }
        Ok(out.into_iter().map(|s| s.unwrap_or(Stem::NotOne)).collect())
    }
}

/// The terms to score, given each term's document frequency (`None`: unknown) and the
/// document count: every term in fewer than half of the documents or of unknown frequency;
/// when that leaves none, the rarest term that matches anything. Terms that match nothing are
/// dropped (they add nothing to any score). Keeps the input order.
fn choose(counted: Vec<(String, Option<u64>)>, docs: u64) -> Vec<String> {
    let weighted = |df: u64| df.saturating_mul(2) < docs;
    let mut kept: Vec<(String, Option<u64>)> = counted
        .iter()
        .filter(|(_, df)| df.is_none_or(|df| df > 0 && weighted(df)))
        .cloned()
        .collect();
    if kept.is_empty() {
        kept = counted
            .into_iter()
            .filter(|(_, df)| df.is_some_and(|df| df > 0))
            .min_by_key(|(_, df)| *df)
            .into_iter()
            .collect();
    }
    kept.into_iter().map(|(t, _)| t).collect()
}

/// Documents in the full-text index: the rows of its per-document size table, which is
/// much smaller than the index or the text.
async fn document_count(conn: &Conn) -> Result<u64, TursoError> {
    let n = single_int(
        conn,
        "SELECT count(*) FROM episode_fts_docsize",
        (),
        "count indexed documents",
    )
    .await?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Documents holding the indexed term `stem`.
async fn document_frequency(conn: &Conn, stem: &str) -> Result<u64, TursoError> {
    ensure_vocabulary(conn).await?;
    let n = single_int(
        conn,
        "SELECT doc FROM temp.episode_fts_terms WHERE term = ?1",
        [stem],
        "read a term's document frequency",
    )
    .await?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Creates, on this connection, the `temp` tables the lookups use (if not there yet): the
/// vocabulary of `episode_fts`, and the stemming probe with its own vocabulary.
async fn ensure_vocabulary(conn: &Conn) -> Result<(), TursoError> {
    for sql in [
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.episode_fts_terms \
         USING fts5vocab(main, episode_fts, row)"
            .to_string(),
        format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.term_probe \
             USING fts5(t, tokenize = '{TOKENIZER}')"
        ),
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.term_probe_tokens \
         USING fts5vocab(temp, term_probe, instance)"
            .to_string(),
    ] {
        conn.execute(&sql, ())
            .await
            .ctx("create the term lookup tables")?;
    }
    Ok(())
}

/// The stem of each of `terms` as the index's tokenizer makes it: each is indexed in the
/// probe table (rowid = position + 1), its tokens read back, and the probe emptied.
async fn tokenize(conn: &Conn, terms: &[&String]) -> Result<Vec<Stem>, TursoError> {
    ensure_vocabulary(conn).await?;
    let marks = (1..=terms.len())
        .map(|i| format!("({i}, ?{i})"))
        .collect::<Vec<_>>()
        .join(", ");
    let params: Vec<libsql::Value> = terms
        .iter()
        .map(|t| libsql::Value::from(t.as_str()))
        .collect();
    conn.execute(
        &format!("INSERT INTO temp.term_probe (rowid, t) VALUES {marks}"),
        libsql::params_from_iter(params),
    )
    .await
    .ctx("stem search terms")?;
    let read = read_tokens(conn, terms.len()).await;
    // Empty the probe whatever happened, so the next call starts clean.
    conn.execute("DELETE FROM temp.term_probe", ())
        .await
        .ctx("stem search terms")?;
    read
}

async fn read_tokens(conn: &Conn, n: usize) -> Result<Vec<Stem>, TursoError> {
    let mut tokens: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut rows = conn
        .query("SELECT doc, term FROM temp.term_probe_tokens", ())
        .await
        .ctx("stem search terms")?;
    while let Some(row) = rows.next().await.ctx("stem search terms")? {
        let doc = row.get::<i64>(0).ctx("stem search terms")?;
        let term = row.get::<String>(1).ctx("stem search terms")?;
        if let Some(slot) = usize::try_from(doc - 1)
            .ok()
            .and_then(|i| tokens.get_mut(i))
        {
            slot.push(term);
        }
    }
    Ok(tokens
        .into_iter()
        .map(|mut t| match t.len() {
            1 => Stem::Token(t.remove(0)),
            _ => Stem::NotOne,
        })
        .collect())
}

/// The first column of the first row of `sql`, if any and not NULL.
async fn single_int(
    conn: &Conn,
    sql: &str,
    params: impl libsql::params::IntoParams,
    what: &'static str,
) -> Result<Option<i64>, TursoError> {
    let mut rows = conn.query(sql, params).await.ctx(what)?;
    match rows.next().await.ctx(what)? {
        Some(row) => Ok(row.get::<Option<i64>>(0).ctx(what)?),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(t: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
        t.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn terms_in_half_the_documents_are_dropped_and_the_rest_kept_in_order() {
        let c = counted(&[
            ("failed", Some(100_000)),
            ("kafka", Some(900)),
            ("test", Some(50_000)),
            ("lag", Some(49_999)),
        ]);
        assert_eq!(choose(c, 100_000), ["kafka", "lag"]);
    }

    #[test]
    fn a_query_of_common_terms_keeps_its_rarest() {
        let c = counted(&[
            ("error", Some(60_000)),
            ("fix", Some(55_000)),
            ("test", Some(70_000)),
        ]);
        assert_eq!(choose(c, 100_000), ["fix"]);
        // Even when every document matches every term.
        let c = counted(&[("a1", Some(5_000)), ("b2", Some(5_000))]);
        assert_eq!(choose(c, 5_000), ["a1"]);
    }

    #[test]
    fn terms_matching_nothing_are_dropped_and_unknown_ones_kept() {
        let c = counted(&[("zzz", Some(0)), ("kafka", Some(10)), ("x86_64", None)]);
        assert_eq!(choose(c, 10_000), ["kafka", "x86_64"]);
        assert!(choose(counted(&[("zzz", Some(0))]), 10_000).is_empty());
    }
}
