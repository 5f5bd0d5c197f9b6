//! Evaluation stores kept between runs (`memory bench retrieval --store DIR`).
//!
//! Building a 100,000-episode store takes minutes (storing, then embedding every episode),
//! while timing the queries on it takes seconds; when working on retrieval speed, the store
//! is the same run after run. A kept store is a database named by seed and size, plus a
//! manifest written only once the store is fully built and embedded. A later run with the
//! same seed, size and embedder reopens it instead of building it again: the corpus is a
//! function of the seed and the generator's `now` (recorded in the manifest), so replaying
//! the generator without storing rebuilds the ground truth (labels and per-topic counts)
//! exactly. Anything else (another embedder, a missing or different manifest) rebuilds.
//!
//! Retrievals on a kept store record their sessions in it, as in any store; the episodes,
//! their text index and their vectors are what the manifest vouches for, and they are not
//! changed by retrieving.

use super::{Bench, EVAL_NAMESPACE, LabelledEpisode};
use chrono::{DateTime, Utc};
use memory_core::{Embedder, MemoryError, SelfLearningMemory};
use memory_storage_turso::TursoStorage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a kept store holds; written beside the database once it is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// Corpus seed.
    seed: u64,
    /// Episodes stored (the first `episodes` of the seeded stream).
    episodes: usize,
    /// The generator's `now`: episode times (and so ids) depend on it.
    now: DateTime<Utc>,
    /// `Embedder::id` of the embedder that wrote the vectors.
    embedder: String,
}

/// The database of the kept store of `episodes` episodes with `seed` in `dir`.
pub(super) fn store_path(dir: &Path, seed: u64, episodes: usize) -> PathBuf {
    dir.join(format!("retrieval-eval-seed{seed}-{episodes}.db"))
}

/// The database of the kept step-level store of `episodes` episodes with `seed` in `dir`.
pub(super) fn logs_store_path(dir: &Path, seed: u64, episodes: usize) -> PathBuf {
    dir.join(format!("retrieval-eval-logs-seed{seed}-{episodes}.db"))
}

fn manifest_path(db: &Path) -> PathBuf {
    db.with_extension("json")
}

/// The generator time of the kept store `db` if its manifest says it holds the first
/// `episodes` episodes of the `seed` stream, embedded by `embedder`, and the database is
/// there; `None` when it must be built again.
pub(super) fn reusable(
    db: &Path,
    seed: u64,
    episodes: usize,
    embedder: &str,
) -> Result<Option<DateTime<Utc>>, MemoryError> {
    Ok(read_manifest(&manifest_path(db))?
        .filter(|found| {
            found.seed == seed
                && found.episodes == episodes
                && found.embedder == embedder
                && db.exists()
        })
        .map(|found| found.now))
}

/// Forgets the kept store `db` before it is built again, so that an interrupted build is
/// never taken for a complete one.
pub(super) fn forget(db: &Path) -> Result<(), MemoryError> {
    let manifest = manifest_path(db);
    if manifest.exists() {
        std::fs::remove_file(&manifest).map_err(MemoryError::storage)?;
    }
    Ok(())
}

/// Vouches for the store `db`, now complete: the first `episodes` episodes of the `seed`
/// stream generated at `now`, embedded by `embedder`.
pub(super) fn record(
    db: &Path,
    seed: u64,
    episodes: usize,
    now: DateTime<Utc>,
    embedder: &str,
) -> Result<(), MemoryError> {
    let written = Manifest {
        seed,
        episodes,
        now,
        embedder: embedder.to_string(),
    };
    let text = serde_json::to_string_pretty(&written).map_err(MemoryError::storage)?;
    std::fs::write(manifest_path(db), text).map_err(MemoryError::storage)
}

/// How a kept store came to be: reused as it was, or built now (seconds storing, seconds
/// embedding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Provenance {
    /// Reopened; nothing was stored or embedded.
    Reused,
    /// Built by this run.
    Built {
        /// Seconds spent storing the episodes.
        seed_seconds: f64,
        /// Seconds spent embedding them.
        embed_seconds: f64,
    },
}

impl Provenance {
    /// (seconds storing, seconds embedding) spent by this run; zero for a reused store.
    pub(super) fn seconds(self) -> (f64, f64) {
        match self {
            Provenance::Reused => (0.0, 0.0),
            Provenance::Built {
                seed_seconds,
                embed_seconds,
            } => (seed_seconds, embed_seconds),
        }
    }
}

impl Bench {
    /// The kept store of the first `episodes` episodes of the `seed` stream in `dir`,
    /// embedded by `embedder`: reopened when its manifest matches, built otherwise (any
    /// database of that name is replaced; `now` is the new corpus's generator time).
    pub(super) async fn kept(
        dir: &Path,
        seed: u64,
        episodes: usize,
        now: DateTime<Utc>,
        embedder: &Arc<dyn Embedder>,
    ) -> Result<(Bench, Provenance), MemoryError> {
        let db = store_path(dir, seed, episodes);
        if let Some(kept_now) = reusable(&db, seed, episodes, embedder.id())? {
            let bench = Bench::reopen(&db, seed, episodes, kept_now, embedder).await?;
            eprintln!(
                "retrieval eval: reusing the kept store {} ({episodes} episodes)",
                db.display()
            );
            return Ok((bench, Provenance::Reused));
        }
        forget(&db)?;
        let mut bench = Bench::open(&db, seed, now, embedder).await?;
        let (seed_seconds, embed_seconds) = bench.grow_to(episodes).await?;
        record(&db, seed, episodes, now, embedder.id())?;
        Ok((
            bench,
            Provenance::Built {
                seed_seconds,
                embed_seconds,
            },
        ))
    }

    /// Opens the complete store `db` of the first `episodes` episodes of the `seed` stream
    /// generated at `now` and replays the generator to rebuild its ground truth; fails if the
    /// store does not hold the replayed episodes.
    async fn reopen(
        db: &Path,
        seed: u64,
        episodes: usize,
        now: DateTime<Utc>,
        embedder: &Arc<dyn Embedder>,
    ) -> Result<Bench, MemoryError> {
        let storage = TursoStorage::open(db).await.map_err(MemoryError::from)?;
        let mut bench = Bench {
            memory: SelfLearningMemory::new(Arc::new(storage))
                .with_embedder(Some(embedder.clone())),
            corpus: super::CorpusGen::new(seed, now),
            labels: Default::default(),
            counts: vec![[0, 0]; super::topic_count()],
        };
        let mut first_and_last = Vec::with_capacity(2);
        for i in 0..episodes {
            let LabelledEpisode { episode, label } = bench.corpus.next_episode(EVAL_NAMESPACE);
            if i == 0 || i + 1 == episodes {
                first_and_last.push(episode.id);
            }
            bench.labels.insert(episode.id, label);
            bench.counts[label.topic][usize::from(!label.succeeded)] += 1;
        }
        for id in first_and_last {
            if bench
                .memory
                .storage()
                .get_episode(EVAL_NAMESPACE, id)
                .await?
                .is_none()
            {
                return Err(MemoryError::Conflict(format!(
                    "the kept store {} does not hold episode {id} its manifest promises; \
                     delete it and its manifest to rebuild",
                    db.display()
                )));
            }
        }
        Ok(bench)
    }
}

fn read_manifest(path: &Path) -> Result<Option<Manifest>, MemoryError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MemoryError::storage(e)),
    }
}
