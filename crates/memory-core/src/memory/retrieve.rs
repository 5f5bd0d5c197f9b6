//! The facade's retrieval: from a task to a context pack — candidates by full text, by
//! vector and by context, ranking with the relationship boost, diversification, advice from
//! the neighbourhood, recommendations, the session, and the rendered pack (see
//! [`crate::retrieval`] for each step).

use super::SelfLearningMemory;
use crate::embedding::{Vectors, cosine};
use crate::error::{MemoryError, Result};
use crate::model::{Episode, RetrievalSession};
use crate::retrieval::{
    Candidate, ContextPack, RetrievalMode, RetrievalQuery, RetrievedEpisode, Scored,
    SimilarEpisode, advise, estimate_tokens, mmr, query_terms, recommend, render_pack,
    select_neighbourhood,
};
use crate::storage::{EpisodeFilter, EpisodeStatus, PatternFilter, VectorMatch};
use std::sync::Arc;
use uuid::Uuid;

impl SelfLearningMemory {
    /// Finds the past episodes most relevant to a new task and renders them as a context pack.
    pub async fn retrieve_context(&self, query: &RetrievalQuery) -> Result<ContextPack> {
        self.timed("retrieve_context", async {
            let limits = &self.config.limits;
            limits.check_namespace(&query.namespace)?;
            limits.check_query(&query.text, query.limit, query.token_budget)?;
            limits.check_context(&query.context)?;
            let ns = query.namespace.as_str();

            let (candidates, mut warnings) = self.candidates(query).await?;
            let near = select_neighbourhood(&candidates, &self.config.neighbourhood);
            let (ranked, considered, mut related) =
                self.rank_with_relations(query, candidates).await?;
            let ranked = self.diversify(ns, ranked, query.limit).await?;

            let mut hits = Vec::with_capacity(query.limit);
            let mut loaded: Vec<Arc<Episode>> = Vec::with_capacity(query.limit);
            for scored in ranked {
                // An episode deleted since the search is simply skipped.
                if let Some(ep) = self.storage.get_episode(ns, scored.summary.id).await? {
                    let mut hit =
                        RetrievedEpisode::from_episode(&ep, scored.breakdown, scored.reason);
                    hit.related = related.remove(&hit.id).unwrap_or_default();
                    hits.push(hit);
                    loaded.push(ep);
                }
            }
            let mut pattern_filter = PatternFilter::new(ns);
            pattern_filter.domain = query.context.domain.clone();
            pattern_filter.language = query.context.language.clone();
            pattern_filter.framework = query.context.framework.clone();
            pattern_filter.task_type = query.task_type;
            pattern_filter.tags = query.context.tags.clone();
            pattern_filter.min_episodes = self.config.learning.min_support;
            pattern_filter.limit = self.config.pattern_candidates;
            let patterns = self.storage.list_patterns(&pattern_filter).await?;
            let mut similar = Vec::with_capacity(near.len());
            for (id, similarity) in near {
                let known = loaded.iter().find(|e| e.id == id).cloned();
                let episode = match known {
                    Some(e) => Some(e),
                    None => self.storage.get_episode(ns, id).await?,
                };
                // An episode deleted since the search is simply skipped.
                if let Some(episode) = episode {
                    similar.push(SimilarEpisode {
                        episode,
                        similarity,
                    });
                }
            }
            let advice = advise(&similar, &self.config.neighbourhood);
            let now = self.clock.now();
            let recs = recommend(query, &patterns, &advice, now, &self.config.learning);

            let session_id = if query.record_session {
                let session = RetrievalSession {
                    id: Uuid::now_v7(),
                    namespace: ns.to_string(),
                    query: query.text.clone(),
                    recommended: recs.offered_ids(),
                    created_at: now,
                    feedback: None,
                };
                // The pack is worth having without its session: a store that cannot take
                // writes (a replica whose server is away) still answers.
                match self
                    .storage
                    .store_session(&session, &self.config.session_retention)
                    .await
                {
                    Ok(()) => Some(session.id),
                    Err(MemoryError::Storage(err)) => {
                        tracing::warn!(error = %err, "could not store the retrieval session");
                        warnings.push(format!(
                            "this pack has no session, so feedback on it cannot be recorded: \
                             the session could not be stored ({err})"
                        ));
                        None
                    }
                    Err(err) => return Err(err),
                }
            } else {
                None
            };

            let markdown = render_pack(
                session_id,
                &warnings,
                ns,
                &query.text,
                &recs,
                &mut hits,
                query.token_budget,
            );
            Ok(ContextPack {
                session_id,
                namespace: ns.to_string(),
                query: query.text.clone(),
                token_estimate: estimate_tokens(&markdown),
                token_budget: query.token_budget,
                markdown,
                hits,
                patterns: recs.patterns,
                heuristics: recs.heuristics,
                playbook: recs.playbook,
                exploration: recs.exploration,
                recoveries: recs.recoveries,
                neighbours: advice.neighbours,
                candidates_considered: considered,
                warnings,
            })
        })
        .await
    }

    /// The candidates of a retrieval: full-text matches and nearest vectors (as the mode
    /// asks), merged by episode with their ranks, plus recent same-domain episodes; and
    /// what went wrong on the way without failing it.
    async fn candidates(&self, query: &RetrievalQuery) -> Result<(Vec<Candidate>, Vec<String>)> {
        let ns = query.namespace.as_str();
        let mut candidates: Vec<Candidate> = Vec::new();
        if query.mode != RetrievalMode::Vector {
            let matches = self
                .storage
                .search_text(ns, &query_terms(&query.text), self.config.text_candidates)
                .await?;
            for (i, m) in matches.into_iter().enumerate() {
                candidates.push(Candidate {
                    bm25: Some(m.bm25),
                    coverage: Some(m.coverage),
                    lexical_rank: Some(i + 1),
                    ..Candidate::by_context(m.summary)
                });
            }
        }
        let mut warnings = Vec::new();
        if query.mode != RetrievalMode::Text {
            match &self.vectors {
                Some(vectors) => {
                    let matches = match self.vector_matches(vectors, query).await {
                        Ok(matches) => matches,
                        // Full text still answers: a failing embedder costs the vectors,
                        // not the retrieval.
                        Err(MemoryError::Embedding(e)) if query.mode == RetrievalMode::Hybrid => {
                            tracing::warn!(error = %e, "embedder failed; retrieving by full text only");
                            warnings.push(format!(
                                "vector search skipped, results are from full-text search only: {e}"
                            ));
                            Vec::new()
                        }
                        Err(e) => return Err(e),
                    };
                    let best = matches.first().map_or(0.0, |m| m.similarity);
                    let floor = self
                        .config
                        .min_similarity
                        .max(best * self.config.relative_similarity);
                    let kept = matches.into_iter().filter(|m| m.similarity >= floor);
                    for (i, m) in kept.enumerate() {
                        let rank = Some(i + 1);
                        match candidates.iter_mut().find(|c| c.summary.id == m.summary.id) {
                            Some(c) => {
                                c.similarity = Some(m.similarity);
                                c.semantic_rank = rank;
                                c.chunk = Some(m.chunk);
                            }
                            None => candidates.push(Candidate {
                                similarity: Some(m.similarity),
                                semantic_rank: rank,
                                chunk: Some(m.chunk),
                                ..Candidate::by_context(m.summary)
                            }),
                        }
                    }
                }
                None if query.mode == RetrievalMode::Vector => {
                    return Err(MemoryError::Conflict(
                        "vector retrieval needs an embedder, and none is configured".into(),
                    ));
                }
                None => {}
            }
        }
        if let Some(domain) = &query.context.domain {
            let mut filter = EpisodeFilter::new(ns);
            filter.domain = Some(domain.clone());
            filter.status = Some(EpisodeStatus::Completed);
            filter.limit = self.config.context_candidates;
            for summary in self.storage.list_episodes(&filter).await? {
                if !candidates.iter().any(|c| c.summary.id == summary.id) {
                    candidates.push(Candidate::by_context(summary));
                }
            }
        }
        Ok((candidates, warnings))
    }

    /// The query's nearest episodes by vector, after indexing a few of the namespace's
    /// pending episodes (unless a background loop embeds them in this process).
    async fn vector_matches(
        &self,
        vectors: &Vectors,
        query: &RetrievalQuery,
    ) -> Result<Vec<VectorMatch>> {
        let ns = query.namespace.as_str();
        let embed_here = if vectors.embedded_in_background() {
            // The background loop has the backlog; this retrieval only reads.
            0
        } else {
            self.config.index_on_read
        };
        let embedded = match embed_here {
            0 => Ok(0),
            n => vectors.embed_up_to(self.storage.as_ref(), ns, n).await,
        };
        match embedded {
            Ok(_) => {}
            // Episodes not embedded yet wait for a later retrieval; the vectors stored
            // answer now (a store that cannot take writes — a replica whose server is
            // away — still answers).
            Err(MemoryError::Storage(err)) => {
                tracing::warn!(error = %err, "could not store new episodes' vectors");
            }
            Err(err) => return Err(err),
        }
        let qv = vectors
            .embed(self.storage.as_ref(), std::slice::from_ref(&query.text))
            .await?
            .pop()
            .unwrap_or_default();
        self.storage
            .vector_search(ns, &qv, self.config.vector_candidates)
            .await
    }

    /// The `limit` hits to return: the best of `ranked`, diversified by maximal marginal
    /// relevance over their vectors so that near-duplicates do not crowd out other lessons.
    async fn diversify(
        &self,
        ns: &str,
        mut ranked: Vec<Scored>,
        limit: usize,
    ) -> Result<Vec<Scored>> {
        let pool = (limit * 3).min(ranked.len());
        ranked.truncate(pool);
        if self.vectors.is_none() || self.config.mmr_lambda >= 1.0 || pool <= 1 {
            ranked.truncate(limit);
            return Ok(ranked);
        }
        let ids: Vec<Uuid> = ranked.iter().map(|s| s.summary.id).collect();
        let stored = self.storage.vectors_of(ns, &ids).await?;
        let vectors: Vec<Option<&Vec<f32>>> = ids
            .iter()
            .map(|id| stored.iter().find(|(i, _)| i == id).map(|(_, v)| v))
            .collect();
        let best = ranked.first().map_or(1.0, |s| s.breakdown.total).max(1e-9);
        let scores: Vec<f64> = ranked.iter().map(|s| s.breakdown.total / best).collect();
        let order = mmr(&scores, limit, self.config.mmr_lambda, |a, b| {
            match (vectors[a], vectors[b]) {
                (Some(x), Some(y)) => Some(f64::from(cosine(x, y))),
                _ => None,
            }
        });
        let mut slots: Vec<Option<Scored>> = ranked.into_iter().map(Some).collect();
        Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
    }
}
