//! Episode vectors, the vector space and the embedding cache, with the libSQL store's
//! rules: one space (embedder and dimension) per store, declared before any vector is
//! stored and changed only by a reset, which drops every vector; vectors finite, not all
//! zero and of the space's dimension; an episode's vectors replaced as a whole. Search is
//! exact: every completed episode of the namespace with vectors, by the cosine of its best
//! chunk (the libSQL store's index is approximate for large namespaces).

use super::state::{State, VectorSpace};
use crate::embedding::{check_against_space, no_space, wrong_dimension};
use crate::{Episode, EpisodeVectors, MemoryError, Result, ValidationError, VectorMatch};
use uuid::Uuid;

/// The cosine similarity of two vectors of one dimension (0 when either has no length).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    dot / (aa.sqrt() * bb.sqrt())
}

impl State {
    /// The body of `ensure_vector_space` (the caller checked the space).
    pub(super) fn ensure_vector_space(&mut self, embedder: &str, dimension: usize) -> Result<()> {
        match &self.vector_space {
            Some(s) if s.embedder == embedder && s.dimension == dimension => Ok(()),
            Some(s) => Err(MemoryError::Conflict(format!(
                "the store's vectors come from `{}` (dimension {}), not `{embedder}` (dimension {dimension})",
                s.embedder, s.dimension
            ))),
            None => {
                self.vector_space = Some(VectorSpace {
                    embedder: embedder.to_string(),
                    dimension,
                });
                Ok(())
            }
        }
    }

    /// The body of `reset_vector_space` (the caller checked the space): every vector
    /// dropped, the new space declared. The embedding cache stays: its keys name their
    /// embedder.
    pub(super) fn reset_vector_space(&mut self, embedder: &str, dimension: usize) {
        for stored in self.episodes.values_mut() {
            stored.vectors = Vec::new();
        }
        self.vector_space = Some(VectorSpace {
            embedder: embedder.to_string(),
            dimension,
        });
    }

    /// The body of `store_vectors` (the caller checked the vectors' values).
    pub(super) fn store_vectors(
        &mut self,
        embedder: &str,
        namespace: &str,
        list: &[EpisodeVectors],
    ) -> Result<()> {
        let Some(space) = &self.vector_space else {
            return Err(no_space());
        };
        check_against_space(embedder, &space.embedder, space.dimension, list)?;
        if let Some((id, _)) = list
            .iter()
            .find(|(id, _)| self.episode_in(namespace, *id).is_none())
        {
            return Err(MemoryError::episode_not_found(namespace, id));
        }
        // An episode given twice keeps its last vectors.
        for (id, chunks) in list {
            if let Some(stored) = self.episode_in_mut(namespace, *id) {
                stored.vectors.clone_from(chunks);
            }
        }
        Ok(())
    }

    /// The body of `vector_search`.
    pub(super) fn vector_search(
        &self,
        namespace: &str,
        query: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>> {
        if let Some((i, x)) = query.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(ValidationError::new(
                "vector",
                format!("component {i} is {x}; vectors must be finite"),
            )
            .into());
        }
        if limit == 0 || query.iter().all(|x| *x == 0.0) {
            // No direction, no nearest neighbours.
            return Ok(Vec::new());
        }
        let Some(space) = &self.vector_space else {
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
        let Some(data) = self.namespace(namespace) else {
            return Ok(Vec::new());
        };
        let mut found: Vec<(f64, u64, u32, &Episode)> = Vec::new();
        for (_, id) in &data.listing {
            let Some(stored) = self.episodes.get(id) else {
                continue;
            };
            if !stored.is_complete() || stored.vectors.is_empty() {
                continue;
            }
            // The best chunk stands for the episode (the first of equals).
            let mut best: Option<(f64, u32)> = None;
            for (chunk, v) in stored.vectors.iter().enumerate() {
                let similarity = cosine(query, v);
                if best.is_none_or(|(b, _)| similarity > b) {
                    best = Some((similarity, chunk as u32));
                }
            }
            if let Some((similarity, chunk)) = best {
                found.push((similarity, stored.rowid, chunk, &stored.episode));
            }
        }
        found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(found
            .into_iter()
            .take(limit)
            .map(|(similarity, _, chunk, episode)| VectorMatch {
                summary: episode.summary(),
                similarity,
                chunk,
            })
            .collect())
    }

    /// The body of `vectors_of`: the first vector of each of `ids` in `namespace` that
    /// has one, in the order asked (an id asked twice once).
    pub(super) fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Vec<(Uuid, Vec<f32>)> {
        if self.vector_space.is_none() {
            return Vec::new();
        }
        let mut out: Vec<(Uuid, Vec<f32>)> = Vec::new();
        for id in ids {
            if out.iter().any(|(seen, _)| seen == id) {
                continue;
            }
            if let Some(first) = self
                .episode_in(namespace, *id)
                .and_then(|stored| stored.vectors.first())
            {
                out.push((*id, first.clone()));
            }
        }
        out
    }

    /// The body of `episodes_without_vectors`: completed episodes without vectors, in
    /// storing order.
    pub(super) fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Vec<Episode> {
        let mut pending: Vec<(u64, &Episode)> = self
            .episodes
            .values()
            .filter(|s| s.is_complete() && s.vectors.is_empty())
            .filter(|s| namespace.is_none_or(|ns| s.episode.namespace == ns))
            .map(|s| (s.rowid, s.episode.as_ref()))
            .collect();
        pending.sort_unstable_by_key(|(rowid, _)| *rowid);
        pending
            .into_iter()
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The body of `count_without_vectors`.
    pub(super) fn count_without_vectors(&self) -> u64 {
        self.episodes
            .values()
            .filter(|s| s.is_complete() && s.vectors.is_empty())
            .count() as u64
    }

    /// The body of `cached_embeddings`: every position that asks for a cached hash gets
    /// its vector.
    pub(super) fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Vec<Option<Vec<f32>>> {
        hashes
            .iter()
            .map(|h| {
                self.embedding_cache
                    .get(&(embedder.to_string(), h.clone()))
                    .cloned()
            })
            .collect()
    }

    /// The body of `cache_embeddings`: an entry already cached is replaced.
    pub(super) fn cache_embeddings(&mut self, embedder: &str, entries: &[(String, Vec<f32>)]) {
        for (hash, vector) in entries {
            self.embedding_cache
                .insert((embedder.to_string(), hash.clone()), vector.clone());
        }
    }
}
