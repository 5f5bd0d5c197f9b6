//! Episode vectors and the embedding cache: the store's side of semantic retrieval.
//!
//! **The vector space.** Vectors are only comparable when one embedder wrote them all, so the
//! store records which one did (`vector_space`: a single row, embedder id and dimension) and
//! refuses vectors from another. The table that holds the vectors depends on the dimension
//! (`embedding F32_BLOB(<dimension>)`), so it is not created by a migration but by the first
//! [`ensure`] (and dropped and recreated by [`reset`], for a re-embed): `episode_vectors`,
//! one row per chunk of an episode (chunk 0 its task and outcome, the others its steps; see
//! `memory_core::embedding::episode_chunks`), keyed by the episode's rowid and the chunk
//! (deleted with the episode, explicitly and by `ON DELETE CASCADE`), with the episode's
//! namespace copied in so searches can filter without reading the episode. Its libSQL
//! vector index `episode_vectors_idx` (DiskANN, cosine; see [`INDEX_OPTIONS`]) serves
//! nearest-neighbour queries through `vector_top_k`. The `vector_space` row and the table
//! always change together, in one transaction, so the row exists exactly when the table
//! does. (Migration 10 dropped the one-vector-per-episode table of earlier versions with its
//! space; the episodes were then embedded again.)
//!
//! **The work list.** `episodes.has_vector` says whether an episode has rows in
//! `episode_vectors`; every write of its vectors sets it in the same transaction and a reset
//! clears it. It exists for the partial index `episodes_without_vector` (completed episodes
//! without a vector): the memory looks for pending episodes on every retrieval (it indexes
//! a few before searching), and with the index that costs what the pending episodes cost.
//! An anti-join against `episode_vectors` instead scanned every episode: 24 ms per
//! retrieval at 10,000 episodes, four times the search itself.
//!
//! **Writes.** Vectors are written as little-endian `f32` blobs through `vector32(?)`, which
//! checks them, by [`store`] (a retrieval in a process without background embedding
//! indexing a few pending episodes of its namespace, a long-running process's background
//! embedding, `memory reembed`) — never by a completion or an import, which write no vectors:
//! each insert updates the index's graph, milliseconds per vector.
//! An episode's vectors are replaced as a whole. Non-finite and all-zero vectors are
//! refused up front: cosine similarity is undefined for them and one would poison the
//! index's graph.
//!
//! **Search** ([`search`]) returns completed episodes of one namespace by the cosine similarity
//! (`1 - vector_distance_cos`) of their best matching chunk, and which chunk it was. A
//! namespace of at most [`EXACT_UP_TO`] episodes with vectors is searched exactly (below). In a
//! larger one, the index is global — one graph across namespaces, one node per chunk — so the
//! approximate query asks `vector_top_k` for more neighbours than episodes wanted, groups them
//! by episode and filters by namespace and completion: first three per episode wanted, which is
//! enough when the namespace has most of the store and its episodes a few chunks, then twelve
//! (see [`neighbours_to_ask`]); the index's search slows down faster than linearly with the
//! neighbours asked for. An approximate answer with at least half the episodes asked for is
//! taken as it is (see [`is_enough`]); it is approximate: the index can miss a nearer episode,
//! most often after deletes (which is why small namespaces are searched exactly). **Brute-force
//! fallback:** when both asks leave fewer than half, the namespace has few completed episodes
//! with vectors (then scanning them all is cheap) or its episodes are outnumbered among the
//! global neighbours (then the approximate answer would be incomplete), so the search is redone
//! exactly, `ORDER BY` the best chunk's `vector_distance_cos` over the namespace's vectors
//! (through the `namespace` index; its cost is linear in the namespace's vectors, about 20 ms
//! for 10,000 of dimension 384). Either way the answer holds at most `limit` episodes, and all
//! of the namespace's when it has fewer than half that many.
//!
//! **The embedding cache** (`embedding_cache`, created by migration 3) maps
//! `(embedder id, content hash)` to a vector, so a remote embedder is never asked twice for
//! the same text. It outlives vector-space resets: its keys already name the embedder.

use crate::change_log;
use crate::codec::{self, clamp_i64, decode_episode, decode_summary};
use crate::connection::Conn;
use crate::error::{SqlContext, TursoError};
use crate::steps::load_steps_of;
use libsql::Value;
use memory_core::embedding::{check_against_space, no_space, wrong_dimension};
use memory_core::{Episode, EpisodeVectors, MemoryError, Result, ValidationError, VectorMatch};
use std::collections::HashMap;
use uuid::Uuid;

/// Options of the vector index (`libsql_vector_idx`): cosine distance; neighbour lists
/// stored as 8-bit vectors instead of full `f32` copies; at most 40 neighbours per node
/// instead of libSQL's `3·√dimension`. Measured on 10,000 vectors of dimension 384 from the
/// default embedder (the `vector_index_options` test): libSQL's defaults make 840 MB and
/// 19 ms per insert at recall@10 0.998; 8-bit neighbours 287 MB, 9 ms, 0.999; these options
/// 205 MB, 5.5 ms, 0.994 (and 24 neighbours 144 MB, 4.3 ms, 0.963; 1-bit neighbours 75 MB
/// but recall 0.32). A retrieval that indexes pending episodes before searching waits for
/// their inserts, as do the background embedding and a re-embed (completions write no
/// vectors), so the insert cost counts as much as the size; the fixed neighbour count also
/// keeps larger dimensions (1,536) from growing the graph with `√dimension`.
pub(crate) const INDEX_OPTIONS: &str =
    "'metric=cosine', 'compress_neighbors=float8', 'max_neighbors=40'";

/// The largest dimension libSQL vectors can have.
pub(crate) use memory_core::embedding::MAX_DIMENSION;

/// How many rows a `WHERE … IN (…)` lookup binds at once.
const CHUNK: usize = 200;

/// How many neighbours an approximate search asks the index for, at most.
const MAX_TOP_K: usize = 10_000;

/// Up to this many episodes with vectors, a namespace is searched exactly, never through
/// the index: scanning a few hundred episodes' chunks costs about what the index's search
/// does, and the index's answers can miss near episodes after deletes or with duplicate
/// vectors (the conformance suite's `tests/agreement.rs` shows it).
const EXACT_UP_TO: u64 = 256;

/// The store's vector space: which embedder wrote the vectors, and their dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Space {
    pub(crate) embedder: String,
    pub(crate) dimension: usize,
}

/// The vector space declared in the store, if any.
pub(crate) async fn space(conn: &Conn) -> Result<Option<Space>, TursoError> {
    let what = "vector space";
    let rows = conn
        .query(
            "SELECT embedder, dimension FROM vector_space WHERE id = 1",
            (),
        )
        .await
        .ctx("read vector space")?;
    let Some(row) = rows.one().await.ctx("read vector space")? else {
        return Ok(None);
    };
    let embedder = codec::text(&row, 0, what)?;
    let dimension = codec::int(&row, 1, what)?;
    let dimension = usize::try_from(dimension)
        .ok()
        .filter(|d| (1..=MAX_DIMENSION).contains(d))
        .ok_or_else(|| TursoError::corrupt(what, format!("dimension is {dimension}")))?;
    Ok(Some(Space {
        embedder,
        dimension,
    }))
}

/// The statements that create the vector table and its indexes for `dimension`.
fn create_sql(dimension: usize) -> String {
    // `dimension` is a checked number, not user text.
    format!(
        "CREATE TABLE episode_vectors (
             episode_rowid INTEGER NOT NULL REFERENCES episodes (rowid) ON DELETE CASCADE,
             chunk         INTEGER NOT NULL,
             namespace     TEXT NOT NULL,
             embedding     F32_BLOB({dimension}) NOT NULL,
             PRIMARY KEY (episode_rowid, chunk)
         );
         CREATE INDEX episode_vectors_ns ON episode_vectors (namespace);
         CREATE INDEX episode_vectors_idx ON episode_vectors
             (libsql_vector_idx(embedding, {INDEX_OPTIONS}));"
    )
}

/// The body of `ensure_vector_space`; runs on a write transaction.
pub(crate) async fn ensure(conn: &Conn, embedder: &str, dimension: usize) -> Result<()> {
    match space(conn).await? {
        Some(s) if s.embedder == embedder && s.dimension == dimension => Ok(()),
        Some(s) => Err(MemoryError::Conflict(format!(
            "the store's vectors come from `{}` (dimension {}), not `{embedder}` (dimension {dimension})",
            s.embedder, s.dimension
        ))),
        None => {
            declare(conn, embedder, dimension).await?;
            tracing::info!(embedder, dimension, "declared the vector space");
            Ok(())
        }
    }
}

/// The body of `reset_vector_space`; runs on a write transaction.
pub(crate) async fn reset(conn: &Conn, embedder: &str, dimension: usize) -> Result<()> {
    conn.execute_script(
        "DROP INDEX IF EXISTS episode_vectors_idx;
         DROP TABLE IF EXISTS episode_vectors;
         UPDATE episodes SET has_vector = 0 WHERE has_vector = 1;",
    )
    .await
    .ctx("drop the vector table")?;
    // No trigger sees every search change at once: other processes drop everything.
    conn.execute(change_log::EVERYTHING, ())
        .await
        .ctx("note the reset in the change log")?;
    declare(conn, embedder, dimension).await?;
    tracing::info!(
        embedder,
        dimension,
        "reset the vector space; every vector was dropped"
    );
    Ok(())
}

/// Records the space and creates its (empty) vector table.
async fn declare(conn: &Conn, embedder: &str, dimension: usize) -> Result<(), TursoError> {
    conn.execute(
        "INSERT INTO vector_space (id, embedder, dimension) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET embedder = excluded.embedder, \
         dimension = excluded.dimension",
        libsql::params![embedder, clamp_i64(dimension as u64)],
    )
    .await
    .ctx("record the vector space")?;
    conn.execute_script(&create_sql(dimension))
        .await
        .ctx("create the vector table")?;
    Ok(())
}

/// A vector as stored: its components as little-endian `f32` bytes.
pub(crate) fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector read back. libSQL writes `f32` vectors as bare little-endian components;
/// an odd length means a trailing type byte, which must say `f32` (1).
pub(crate) fn from_blob(
    bytes: &[u8],
    what: impl FnOnce() -> String,
) -> Result<Vec<f32>, TursoError> {
    let data = match bytes.len() % 4 {
        0 => bytes,
        1 if bytes.last() == Some(&1) => &bytes[..bytes.len() - 1],
        _ => {
            return Err(TursoError::corrupt(
                what(),
                format!(
                    "a vector blob of {} bytes is not f32 components",
                    bytes.len()
                ),
            ));
        }
    };
    Ok(data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Reads a BLOB column as a vector.
fn blob_vector(row: &libsql::Row, idx: i32, what: &str) -> Result<Vec<f32>, TursoError> {
    match row.get_value(idx) {
        Ok(Value::Blob(b)) => from_blob(&b, || what.to_string()),
        Ok(other) => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx} should be a vector blob but is {other:?}"),
        )),
        Err(e) => Err(TursoError::corrupt(
            what.to_string(),
            format!("column {idx}: {e}"),
        )),
    }
}

/// Writes (or replaces) the chunk vectors of the episode at `rowid`. The caller has checked
/// their dimension against the space.
/// Chunk vectors inserted by one statement.
const VECTORS_PER_INSERT: usize = 64;

/// Replaces the vectors of the episodes at the given rowids with theirs, and marks them as
/// embedded.
async fn put(
    conn: &Conn,
    namespace: &str,
    episodes: &[(i64, &[Vec<f32>])],
) -> Result<(), TursoError> {
    let rowids =
        serde_json::Value::from(episodes.iter().map(|(rowid, _)| *rowid).collect::<Vec<_>>())
            .to_string();
    // Delete and insert rather than upsert: the vector index sees plain removals and plain
    // insertions, and an episode that now has fewer chunks keeps none of its old ones.
    conn.execute(
        "DELETE FROM episode_vectors WHERE episode_rowid IN (SELECT value FROM json_each(?1))",
        [rowids.as_str()],
    )
    .await
    .ctx("replace episode vectors")?;
    let rows: Vec<(i64, i64, &Vec<f32>)> = episodes
        .iter()
        .flat_map(|(rowid, vectors)| {
            vectors
                .iter()
                .enumerate()
                .map(move |(chunk, v)| (*rowid, clamp_i64(chunk as u64), v))
        })
        .collect();
    for batch in rows.chunks(VECTORS_PER_INSERT) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| {
                let at = 3 * i + 2;
                format!("(?{at}, ?{}, ?1, vector32(?{}))", at + 1, at + 2)
            })
            .collect();
        let sql = format!(
            "INSERT INTO episode_vectors (episode_rowid, chunk, namespace, embedding) VALUES {}",
            values.join(", ")
        );
        let mut params: Vec<Value> = Vec::with_capacity(1 + 3 * batch.len());
        params.push(Value::from(namespace));
        for (rowid, chunk, vector) in batch {
            params.extend([
                Value::Integer(*rowid),
                Value::Integer(*chunk),
                Value::Blob(to_blob(vector)),
            ]);
        }
        // A full batch has one shape, kept prepared; the last, shorter one is run once.
        let inserted = if batch.len() == VECTORS_PER_INSERT {
            conn.execute(&sql, libsql::params_from_iter(params)).await
        } else {
            conn.execute_once(&sql, libsql::params_from_iter(params))
                .await
        };
        inserted.ctx("store episode vectors")?;
    }
    conn.execute(
        "UPDATE episodes SET has_vector = 1 \
         WHERE rowid IN (SELECT value FROM json_each(?1)) AND has_vector = 0",
        [rowids.as_str()],
    )
    .await
    .ctx("mark episodes as embedded")?;
    Ok(())
}

/// Removes the vector of the episode at `rowid`, if any; runs on the deletion's
/// transaction. (The foreign key's `ON DELETE CASCADE` would too; like the other tables'
/// deletes, this one does not depend on the connection's `foreign_keys` setting.)
pub(crate) async fn delete(conn: &Conn, rowid: i64) -> Result<(), TursoError> {
    if space(conn).await?.is_some() {
        conn.execute(
            "DELETE FROM episode_vectors WHERE episode_rowid = ?1",
            [rowid],
        )
        .await
        .ctx("delete episode vectors")?;
    }
    Ok(())
}

/// The body of `store_vectors`; runs on a write transaction. The vectors' values were
/// checked by the caller ([`memory_core::embedding::check_vector`]).
pub(crate) async fn store(
    conn: &Conn,
    embedder: &str,
    namespace: &str,
    vectors: &[EpisodeVectors],
) -> Result<()> {
    let space = space(conn).await?.ok_or_else(no_space)?;
    check_against_space(embedder, &space.embedder, space.dimension, vectors)?;
    // The episodes' rowids in one lookup, then their old vectors out, the new ones in and
    // the episodes marked in a few statements for the whole batch (through a server each
    // statement is a round trip, so the count must not grow with the batch).
    let ids: Vec<String> = vectors.iter().map(|(id, _)| id.to_string()).collect();
    let ids_json = serde_json::Value::from(ids.clone()).to_string();
    let mut rows = conn
        .query(
            "SELECT e.id, e.rowid FROM json_each(?2) AS wanted \
             JOIN episodes e ON e.namespace = ?1 AND e.id = wanted.value",
            libsql::params![namespace, ids_json],
        )
        .await
        .ctx("find episodes")?;
    let mut rowids: HashMap<String, i64> = HashMap::with_capacity(ids.len());
    while let Some(row) = rows.next().await.ctx("find episodes")? {
        let id = codec::text(&row, 0, "episode id")?;
        let rowid = codec::int(&row, 1, &format!("episode {id}"))?;
        rowids.insert(id, rowid);
    }
    drop(rows);
    let mut rows_of: Vec<(i64, &[Vec<f32>])> = Vec::with_capacity(vectors.len());
    for (id, (_, chunks)) in ids.iter().zip(vectors) {
        let Some(&rowid) = rowids.get(id) else {
            return Err(MemoryError::episode_not_found(namespace, id));
        };
        // An episode given twice keeps its last vectors, as if stored one after the other.
        rows_of.retain(|(seen, _)| *seen != rowid);
        rows_of.push((rowid, chunks.as_slice()));
    }
    put(conn, namespace, &rows_of).await?;
    tracing::debug!(namespace, count = vectors.len(), "stored episode vectors");
    Ok(())
}

/// The body of `vector_search`; runs on a read transaction, so the space and the vectors
/// come from one snapshot.
pub(crate) async fn search(
    conn: &Conn,
    namespace: &str,
    query: &[f32],
    limit: usize,
) -> Result<Vec<VectorMatch>> {
    if let Some(i) = query.iter().position(|x| !x.is_finite()) {
        return Err(ValidationError::new(
            "vector",
            format!("component {i} is {}; vectors must be finite", query[i]),
        )
        .into());
    }
    if limit == 0 || query.iter().all(|x| *x == 0.0) {
        // No direction, no nearest neighbours.
        return Ok(Vec::new());
    }
    let Some(space) = space(conn).await? else {
        return Ok(Vec::new());
    };
    if query.len() != space.dimension {
        return Err(wrong_dimension(
            "vector".into(),
            query.len(),
            &space.embedder,
            space.dimension,
        ));
    }
    let blob = Value::Blob(to_blob(query));
    if with_vectors(conn, namespace).await? > EXACT_UP_TO
        && let Some(found) = search_approximately(conn, namespace, &blob, limit).await?
    {
        return Ok(found);
    }

    const EXACT: &str = "SELECT e.id, e.record, e.step_count, top.similarity, top.chunk FROM ( \
         SELECT v.episode_rowid AS rid, v.chunk AS chunk, \
                max(1.0 - vector_distance_cos(v.embedding, vector32(?1))) AS similarity \
         FROM episode_vectors v \
         JOIN episodes x ON x.rowid = v.episode_rowid \
         WHERE v.namespace = ?2 AND x.ended_at IS NOT NULL \
         GROUP BY v.episode_rowid \
         ORDER BY similarity DESC, rid LIMIT ?3) AS top \
         JOIN episodes e ON e.rowid = top.rid \
         ORDER BY top.similarity DESC, top.rid";
    run_search(
        conn,
        EXACT,
        vec![
            blob,
            Value::from(namespace),
            Value::from(clamp_i64(limit as u64)),
        ],
    )
    .await
}

/// How many of a namespace's episodes have vectors, from the trigger-kept counts.
async fn with_vectors(conn: &Conn, namespace: &str) -> Result<u64> {
    let rows = conn
        .query(
            "SELECT COALESCE(sum(with_vector), 0) FROM episode_counts WHERE namespace = ?1",
            [namespace],
        )
        .await
        .ctx("count episode vectors")?;
    match rows.one().await.ctx("count episode vectors")? {
        Some(row) => Ok(u64::try_from(codec::int(&row, 0, "vector count")?).unwrap_or(0)),
        None => Ok(0),
    }
}

/// The search through the vector index, widened once; `None` when neither ask found enough
/// (see [`is_enough`]), so that the caller searches exactly.
async fn search_approximately(
    conn: &Conn,
    namespace: &str,
    blob: &Value,
    limit: usize,
) -> Result<Option<Vec<VectorMatch>>> {
    // The inner query picks the episodes; only those have their record read.
    // An episode's best chunk stands for it: `chunk` is read from the row that holds the
    // maximum (SQLite's rule for a bare column beside a single `max`).
    const APPROXIMATE: &str = "SELECT e.id, e.record, e.step_count, top.similarity, top.chunk FROM ( \
         SELECT v.episode_rowid AS rid, v.chunk AS chunk, \
                max(1.0 - vector_distance_cos(v.embedding, vector32(?1))) AS similarity \
         FROM vector_top_k('episode_vectors_idx', vector32(?1), ?2) AS t \
         JOIN episode_vectors v ON v.rowid = t.id \
         JOIN episodes x ON x.rowid = v.episode_rowid \
         WHERE v.namespace = ?3 AND x.ended_at IS NOT NULL \
         GROUP BY v.episode_rowid \
         ORDER BY similarity DESC, rid LIMIT ?4) AS top \
         JOIN episodes e ON e.rowid = top.rid \
         ORDER BY top.similarity DESC, top.rid";
    for k in neighbours_to_ask(limit) {
        let found = run_search(
            conn,
            APPROXIMATE,
            vec![
                blob.clone(),
                Value::from(clamp_i64(k as u64)),
                Value::from(namespace),
                Value::from(clamp_i64(limit as u64)),
            ],
        )
        .await?;
        if is_enough(found.len(), limit) {
            return Ok(Some(found));
        }
        tracing::debug!(
            namespace,
            asked = k,
            found = found.len(),
            limit,
            "approximate vector search found too few; widening"
        );
    }
    Ok(None)
}

/// Whether an approximate answer of `found` episodes stands for the `limit` asked. A short
/// answer holds the nearest neighbours the index found (which, the index being approximate,
/// can leave out a nearer episode); asking again costs more than the tail is worth to a
/// ranking that weighs the far end least. Below half the limit
/// the namespace is small or outnumbered in the global index, and the answer may be
/// missing near episodes: then the search is widened, and finally done exactly.
fn is_enough(found: usize, limit: usize) -> bool {
    found > 0 && found.saturating_mul(2) >= limit
}

/// How many neighbours the approximate search asks the index for, in turn, to find `limit`
/// completed episodes of one namespace. The neighbours are chunks, several per episode (an
/// episode of a few short steps has two), so the first ask is three per episode wanted
/// (enough when the store is mostly that namespace's completed episodes — the common case,
/// and the index's search time grows faster than linearly with the neighbours asked for),
/// then twelve (at least 192) for long episodes or a namespace that shares the store.
fn neighbours_to_ask(limit: usize) -> Vec<usize> {
    let cap = MAX_TOP_K.max(limit);
    let first = limit
        .saturating_mul(3)
        .saturating_add((limit / 8).max(8))
        .min(cap);
    let second = limit.saturating_mul(12).clamp(192, cap);
    if second > first {
        vec![first, second]
    } else {
        vec![first]
    }
}

/// Runs one of the search queries and decodes its rows.
async fn run_search(conn: &Conn, sql: &str, params: Vec<Value>) -> Result<Vec<VectorMatch>> {
    let mut rows = conn
        .query(sql, libsql::params_from_iter(params))
        .await
        .ctx("search episode vectors")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.ctx("search episode vectors")? {
        let id = codec::text(&row, 0, "matched episode")?;
        let what = format!("episode {id}");
        let record = codec::text(&row, 1, &what)?;
        let step_count = codec::int(&row, 2, &what)?;
        let similarity = codec::real(&row, 3, &what)?;
        let chunk = codec::int(&row, 4, &what)?;
        let chunk = u32::try_from(chunk)
            .map_err(|_| TursoError::corrupt(what.clone(), format!("chunk {chunk}")))?;
        out.push(VectorMatch {
            summary: decode_summary(&id, &record, step_count)?,
            similarity,
            chunk,
        });
    }
    Ok(out)
}

/// The stored vectors of `ids` in `namespace`, while the vector space is still the one
/// named by `?3` and `?4` (embedder and dimension): a reembed replaces the space and its
/// vectors together, and this reads them without a read transaction (which would cost two
/// more requests on a server).
const VECTORS_OF: &str = "SELECT e.id, v.embedding FROM json_each(?2) AS asked \
     CROSS JOIN episodes e ON e.namespace = ?1 AND e.id = asked.value \
     JOIN episode_vectors v ON v.episode_rowid = e.rowid AND v.chunk = 0 \
     WHERE EXISTS (SELECT 1 FROM vector_space WHERE id = 1 AND embedder = ?3 AND dimension = ?4) \
     ORDER BY asked.key";

/// The body of `vectors_of`: the stored vectors of `ids` in `namespace`, in the order
/// asked (an id asked twice is answered once).
pub(crate) async fn of(
    conn: &Conn,
    namespace: &str,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Vec<f32>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let Some(space) = space(conn).await? else {
        return Ok(Vec::new());
    };
    let asked = serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>());
    let params = libsql::params![
        namespace,
        asked.to_string(),
        space.embedder,
        i64::try_from(space.dimension).unwrap_or(i64::MAX)
    ];
    let mut rows = match conn.query(VECTORS_OF, params).await {
        Ok(rows) => rows,
        // The space was removed since it was read: no vectors.
        Err(err) if err.to_string().contains("no such table: episode_vectors") => {
            return Ok(Vec::new());
        }
        Err(source) => {
            return Err(TursoError::Sql {
                context: "load episode vectors",
                source,
            }
            .into());
        }
    };
    let mut found: Vec<(Uuid, Vec<f32>)> = Vec::with_capacity(ids.len());
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    while let Some(row) = rows.next().await.ctx("load episode vectors")? {
        let id = codec::text(&row, 0, "episode vector")?;
        let what = format!("the vector of episode {id}");
        let uuid = Uuid::parse_str(&id)
            .map_err(|e| TursoError::corrupt(what.clone(), format!("its id: {e}")))?;
        if !seen.insert(uuid) {
            continue;
        }
        let vector = blob_vector(&row, 1, &what)?;
        found.push((uuid, vector));
    }
    Ok(found)
}

/// `?, ?, …` with `n` placeholders.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The condition "completed, with no vector": exactly the partial index
/// `episodes_without_vector`'s, so the queries below read that index and cost what the
/// pending episodes cost, not what the whole store does.
const WITHOUT_VECTOR: &str = "ended_at IS NOT NULL AND has_vector = 0";

/// The body of `episodes_without_vectors`.
pub(crate) async fn episodes_without(
    conn: &Conn,
    namespace: Option<&str>,
    limit: usize,
) -> Result<Vec<Episode>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = Value::Integer(clamp_i64(limit as u64));
    let (sql, params) = match namespace {
        None => (
            format!(
                "SELECT rowid, id, record FROM episodes INDEXED BY episodes_without_vector \
                 WHERE {WITHOUT_VECTOR} ORDER BY rowid LIMIT ?1"
            ),
            vec![limit],
        ),
        Some(ns) => (
            format!(
                "SELECT rowid, id, record FROM episodes INDEXED BY episodes_without_vector_ns \
                 WHERE {WITHOUT_VECTOR} AND namespace = ?2 ORDER BY rowid LIMIT ?1"
            ),
            vec![limit, Value::Text(ns.to_string())],
        ),
    };
    let mut rows = conn
        .query(&sql, params)
        .await
        .ctx("list episodes without vectors")?;
    let mut heads = Vec::new();
    while let Some(row) = rows.next().await.ctx("list episodes without vectors")? {
        let rowid = codec::int(&row, 0, "episode without a vector")?;
        let id = codec::text(&row, 1, "episode without a vector")?;
        let record = codec::text(&row, 2, &format!("episode {id}"))?;
        heads.push((rowid, id, record));
    }
    drop(rows);
    // A completed episode's steps never change, so they need not come from the same
    // snapshot as its row.
    let rowids: Vec<(i64, &str)> = heads.iter().map(|(r, id, _)| (*r, id.as_str())).collect();
    let mut steps = load_steps_of(conn, &rowids).await?;
    let mut out = Vec::with_capacity(heads.len());
    for (rowid, id, record) in &heads {
        let mut episode = decode_episode(id, record)?;
        episode.steps = steps.remove(rowid).unwrap_or_default();
        out.push(episode);
    }
    Ok(out)
}

/// The body of `count_without_vectors`.
pub(crate) async fn count_without(conn: &Conn) -> Result<u64> {
    let sql = format!(
        "SELECT count(*) FROM episodes INDEXED BY episodes_without_vector WHERE {WITHOUT_VECTOR}"
    );
    let what = "count of episodes without vectors";
    let rows = conn
        .query(&sql, ())
        .await
        .ctx("count episodes without vectors")?;
    let Some(row) = rows.one().await.ctx("count episodes without vectors")? else {
        return Err(TursoError::corrupt(what, "the count query returned no row").into());
    };
    Ok(codec::to_u64(codec::int(&row, 0, what)?, what, "count")?)
}

/// How many vectors the store holds (0 before a space is declared).
pub(crate) async fn count(conn: &Conn) -> Result<u64, TursoError> {
    if space(conn).await?.is_none() {
        return Ok(0);
    }
    let what = "count of vectors";
    let rows = conn
        .query("SELECT count(*) FROM episode_vectors", ())
        .await
        .ctx("count vectors")?;
    let Some(row) = rows.one().await.ctx("count vectors")? else {
        return Err(TursoError::corrupt(what, "the count query returned no row"));
    };
    codec::to_u64(codec::int(&row, 0, what)?, what, "count")
}

/// The body of `cached_embeddings`: the cached vectors of `hashes`, in order.
pub(crate) async fn cached(
    conn: &Conn,
    embedder: &str,
    hashes: &[String],
) -> Result<Vec<Option<Vec<f32>>>> {
    let mut out: Vec<Option<Vec<f32>>> = vec![None; hashes.len()];
    for (c, chunk) in hashes.chunks(CHUNK).enumerate() {
        let sql = format!(
            "SELECT content_hash, vector FROM embedding_cache \
             WHERE embedder = ? AND content_hash IN ({})",
            placeholders(chunk.len())
        );
        let mut params = vec![Value::from(embedder)];
        params.extend(chunk.iter().map(|h| Value::from(h.as_str())));
        let mut rows = conn
            .query(&sql, libsql::params_from_iter(params))
            .await
            .ctx("read the embedding cache")?;
        while let Some(row) = rows.next().await.ctx("read the embedding cache")? {
            let hash = codec::text(&row, 0, "cached embedding")?;
            let vector = blob_vector(&row, 1, &format!("cached embedding {hash}"))?;
            // Every position that asked for this hash gets it.
            for (i, h) in chunk.iter().enumerate() {
                if *h == hash {
                    out[c * CHUNK + i] = Some(vector.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The body of `cache_embeddings`; runs on a write transaction.
pub(crate) async fn cache(
    conn: &Conn,
    embedder: &str,
    entries: &[(String, Vec<f32>)],
) -> Result<()> {
    let insert = conn
        .prepare(
            "INSERT INTO embedding_cache (embedder, content_hash, vector) VALUES (?1, ?2, ?3) \
             ON CONFLICT (embedder, content_hash) DO UPDATE SET vector = excluded.vector",
        )
        .await
        .ctx("prepare embedding cache insert")?;
    for (hash, vector) in entries {
        insert.reset();
        insert
            .execute(libsql::params![
                embedder,
                hash.as_str(),
                Value::Blob(to_blob(vector))
            ])
            .await
            .ctx("cache embedding")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::TursoStorage;
    use memory_core::storage::prelude::*;

    #[test]
    fn neighbours_asked_grow_and_never_repeat() {
        assert_eq!(neighbours_to_ask(100), [312, 1_200]);
        assert_eq!(neighbours_to_ask(5), [23, 192]);
        assert_eq!(neighbours_to_ask(60), [188, 720]);
        // At the cap the wider search would be the same query: asked once.
        assert_eq!(neighbours_to_ask(4_000), [MAX_TOP_K]);
        assert_eq!(neighbours_to_ask(20_000), [20_000]);
    }

    #[test]
    fn an_approximate_answer_counts_from_half_the_limit() {
        assert!(is_enough(50, 100));
        assert!(is_enough(100, 100));
        assert!(!is_enough(49, 100));
        assert!(is_enough(1, 1));
        assert!(is_enough(1, 2));
        assert!(!is_enough(0, 1));
    }

    #[test]
    fn blobs_round_trip() {
        let v = vec![0.25f32, -1.5, 3.0e-7, f32::MAX];
        let back = from_blob(&to_blob(&v), || "v".into()).ok();
        assert_eq!(back, Some(v.clone()));
        let mut typed = to_blob(&v);
        typed.push(1);
        assert_eq!(from_blob(&typed, || "v".into()).ok(), Some(v));
        assert!(from_blob(&[0, 0, 0], || "v".into()).is_err());
        assert!(from_blob(&[0, 0, 0, 0, 2], || "v".into()).is_err());
    }

    /// The foreign key alone removes a vector when its episode row goes, so a vector can
    /// never outlive its episode even if some future delete path forgets the explicit delete.
    #[tokio::test]
    async fn a_vector_cascades_with_its_episode_row() {
        let dir = tempfile::TempDir::new().unwrap();
        let storage = TursoStorage::open(dir.path().join("m.db")).await.unwrap();
        storage.ensure_vector_space("axes", 2).await.unwrap();
        let mut episode = memory_core::Episode {
            id: Uuid::now_v7(),
            namespace: "ns".into(),
            task_description: "t".into(),
            task_type: memory_core::TaskType::Other,
            context: memory_core::TaskContext::default(),
            started_at: chrono::Utc::now(),
            ended_at: None,
            steps: Vec::new(),
            outcome: None,
            reward: None,
            reflection: None,
            pattern_ids: Vec::new(),
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        };
        episode.ended_at = Some(episode.started_at);
        storage.store_episode(&episode).await.unwrap();
        storage
            .store_vectors("axes", "ns", &[(episode.id, vec![vec![1.0, 0.0]])])
            .await
            .unwrap();
        assert_eq!(storage.row_counts().await.unwrap().vectors, 1);
        {
            let conn = storage.conns.writer().await;
            let mut rows = conn.query("PRAGMA foreign_keys", ()).await.unwrap();
            let on = rows.next().await.unwrap().unwrap().get::<i64>(0).unwrap();
            assert_eq!(on, 1, "foreign keys are on for the writer");
            drop(rows);
            conn.execute(
                "DELETE FROM episodes WHERE id = ?1",
                [episode.id.to_string()],
            )
            .await
            .unwrap();
        }
        assert_eq!(storage.row_counts().await.unwrap().vectors, 0);
    }
}
