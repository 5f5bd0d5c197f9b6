//! Relationships between episodes through the facade: recording and removing edges, walking
//! the graph, and how retrieval uses it.
//!
//! **The retrieval boost.** After ranking, the *strong hits* are the first `limit` ranked
//! episodes that score at least `strong_hit_share` (0.75) of the best score. Every episode
//! linked to a strong hit by an edge of any kind, in either direction, gets
//!
//! ```text
//! boost = relation_boost × (hit score / best score) × edge weight        (relation_boost = 0.1)
//! ```
//!
//! added to its score (`ScoreBreakdown::relation`), taking the largest boost when it is
//! linked to several hits, so the boost never exceeds `relation_boost` — a tenth of the
//! largest possible score. A linked episode that no search found is added as a candidate
//! (at most `related_candidates`, completed episodes only) and ranked like the others
//! first. A boosted hit lists the strong hits it is related to (`RetrievedEpisode::related`)
//! and the pack shows them on a `Related:` line.

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result};
use crate::graph::{GraphExport, GraphNode, Neighbour, topological_order};
use crate::model::{Direction, Relationship, RelationshipKind, RelationshipMetadata, to_micros};
use crate::retrieval::{Candidate, RelatedLink, RetrievalQuery, Scored, rank};
use crate::storage::RelationshipFilter;
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

impl SelfLearningMemory {
    /// Records the edge `from → to` of `kind` between two episodes of `namespace`.
    ///
    /// Fails with `Invalid` for a self-link or bad metadata, `NotFound` for an unknown
    /// episode, `Conflict` when the link already exists, and [`MemoryError::Cycle`] (with
    /// the cycle's path) when an edge of an acyclic kind would close a cycle.
    pub async fn relate(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: RelationshipKind,
        metadata: RelationshipMetadata,
    ) -> Result<Relationship> {
        let relationship = Relationship {
            id: Uuid::now_v7(),
            namespace: namespace.to_string(),
            from,
            to,
            kind,
            metadata,
            created_at: to_micros(self.clock.now()),
        };
        self.config.limits.check_relationship(&relationship)?;
        self.storage.store_relationship(&relationship).await?;
        tracing::debug!(namespace, %from, %to, %kind, "related episodes");
        Ok(relationship)
    }

    /// Removes the edges `from → to` (of `kind`, or of every kind) and returns how many went;
    /// `NotFound` when there was none.
    pub async fn unrelate(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64> {
        self.config.limits.check_namespace(namespace)?;
        let removed = self
            .storage
            .delete_relationships(namespace, from, to, kind)
            .await?;
        if removed == 0 {
            return Err(MemoryError::NotFound {
                kind: "relationship",
                id: format!(
                    "{from} → {to}{}",
                    kind.map(|k| format!(" ({k})")).unwrap_or_default()
                ),
                namespace: namespace.to_string(),
            });
        }
        Ok(removed)
    }

    /// The episodes directly linked to `episode` in `direction`, by edges of `kinds` (every
    /// kind when empty), oldest edge first.
    pub async fn related(
        &self,
        namespace: &str,
        episode: Uuid,
        direction: Direction,
        kinds: &[RelationshipKind],
    ) -> Result<Vec<Neighbour>> {
        self.reachable(namespace, episode, direction, kinds, 1)
            .await
    }

    /// Everything that leads to `episode` along edges of `kinds`, up to `depth` edges away,
    /// nearest first: for `parent_child` its parents and their parents, for `depends_on` the
    /// tasks that depend on it.
    pub async fn ancestors(
        &self,
        namespace: &str,
        episode: Uuid,
        kinds: &[RelationshipKind],
        depth: u32,
    ) -> Result<Vec<Neighbour>> {
        self.reachable(namespace, episode, Direction::Incoming, kinds, depth)
            .await
    }

    /// Everything `episode` leads to along edges of `kinds`, up to `depth` edges away,
    /// nearest first: for `parent_child` its sub-tasks, for `depends_on` its dependencies.
    pub async fn descendants(
        &self,
        namespace: &str,
        episode: Uuid,
        kinds: &[RelationshipKind],
        depth: u32,
    ) -> Result<Vec<Neighbour>> {
        self.reachable(namespace, episode, Direction::Outgoing, kinds, depth)
            .await
    }

    /// Orders `episodes` so that each comes after what it needs (parents before children,
    /// dependencies before dependants, blockers before what they block), using the stored
    /// edges among them.
    pub async fn topological_order(&self, namespace: &str, episodes: &[Uuid]) -> Result<Vec<Uuid>> {
        self.config.limits.check_namespace(namespace)?;
        let edges = self.edges_among(namespace, episodes, &[]).await?;
        topological_order(episodes, &edges).map_err(|left| MemoryError::Corrupt {
            what: format!("relationships of namespace `{namespace}`"),
            detail: format!("they form a cycle through {left:?}"),
        })
    }

    /// The graph around `root` (everything within `depth` edges, either direction), or the
    /// whole namespace's graph when `root` is `None`, restricted to `kinds` (every kind when
    /// empty).
    pub async fn graph(
        &self,
        namespace: &str,
        root: Option<Uuid>,
        depth: u32,
        kinds: &[RelationshipKind],
    ) -> Result<GraphExport> {
        self.config.limits.check_namespace(namespace)?;
        let (nodes, edges) = match root {
            Some(root) => {
                let mut nodes = vec![root];
                for n in self
                    .reachable(namespace, root, Direction::Both, kinds, depth)
                    .await?
                {
                    nodes.push(n.episode);
                }
                let edges = self.edges_among(namespace, &nodes, kinds).await?;
                (nodes, edges)
            }
            None => {
                let mut filter = RelationshipFilter::new(namespace);
                filter.kinds = kinds.to_vec();
                let edges = self.storage.relationships(&filter).await?;
                let nodes: BTreeSet<Uuid> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
                (nodes.into_iter().collect(), edges)
            }
        };
        let out = self.graph_nodes(namespace, &nodes).await?;
        let order = topological_order(&nodes, &edges).unwrap_or_default();
        Ok(GraphExport {
            namespace: namespace.to_string(),
            nodes: out,
            edges,
            order,
        })
    }

    /// The graph nodes of the episodes `ids` (each once), oldest first, each with its task
    /// and outcome: what a drawing of edges between them labels its nodes with. An episode
    /// no longer stored keeps its id, with no task.
    pub async fn graph_nodes(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<GraphNode>> {
        let ids: BTreeSet<Uuid> = ids.iter().copied().collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let episode = self.storage.get_episode(namespace, id).await?;
            out.push(GraphNode {
                id,
                task_description: episode
                    .as_ref()
                    .map(|e| e.task_description.clone())
                    .unwrap_or_default(),
                outcome: episode
                    .as_ref()
                    .and_then(|e| e.outcome.as_ref().map(|o| o.kind())),
                started_at: episode.as_ref().map(|e| e.started_at),
            });
        }
        out.sort_by_key(|n| (n.started_at, n.id));
        Ok(out)
    }

    /// Every episode within `depth` edges of `start` along edges of `kinds` (every kind when
    /// empty) in `direction`, breadth first: nearest first, each once, with the edge that
    /// reached it. `NotFound` when `start` is not in the namespace.
    pub async fn reachable(
        &self,
        namespace: &str,
        start: Uuid,
        direction: Direction,
        kinds: &[RelationshipKind],
        depth: u32,
    ) -> Result<Vec<Neighbour>> {
        self.config.limits.check_namespace(namespace)?;
        if self.storage.get_episode(namespace, start).await?.is_none() {
            return Err(MemoryError::episode_not_found(namespace, start));
        }
        let mut seen: HashSet<Uuid> = HashSet::from([start]);
        let mut frontier = vec![start];
        let mut out = Vec::new();
        for level in 1..=depth {
            if frontier.is_empty() {
                break;
            }
            let filter = RelationshipFilter {
                namespace: namespace.to_string(),
                episodes: frontier.clone(),
                direction,
                kinds: kinds.to_vec(),
                limit: None,
            };
            let edges = self.storage.relationships(&filter).await?;
            let from_frontier: HashSet<Uuid> = frontier.drain(..).collect();
            for e in edges {
                // An edge may touch the frontier at either end (direction `both`).
                let hops = [
                    (from_frontier.contains(&e.from), e.to, Direction::Outgoing),
                    (from_frontier.contains(&e.to), e.from, Direction::Incoming),
                ];
                for (touches, other, dir) in hops {
                    let wanted = direction == Direction::Both || direction == dir;
                    if touches && wanted && seen.insert(other) {
                        frontier.push(other);
                        out.push(Neighbour {
                            episode: other,
                            depth: level,
                            direction: dir,
                            via: e.clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The stored edges (of `kinds`) with both ends among `episodes`.
    async fn edges_among(
        &self,
        namespace: &str,
        episodes: &[Uuid],
        kinds: &[RelationshipKind],
    ) -> Result<Vec<Relationship>> {
        if episodes.is_empty() {
            return Ok(Vec::new());
        }
        let members: HashSet<Uuid> = episodes.iter().copied().collect();
        let filter = RelationshipFilter {
            namespace: namespace.to_string(),
            episodes: episodes.to_vec(),
            direction: Direction::Outgoing,
            kinds: kinds.to_vec(),
            limit: None,
        };
        let mut edges = self.storage.relationships(&filter).await?;
        edges.retain(|e| members.contains(&e.to));
        Ok(edges)
    }

    /// Ranks the candidates, then applies the relationship boost described in the module
    /// docs. Returns the ranking, how many candidates were scored, and for each boosted
    /// episode the strong hits it is related to.
    pub(super) async fn rank_with_relations(
        &self,
        query: &RetrievalQuery,
        mut candidates: Vec<Candidate>,
    ) -> Result<(Vec<Scored>, usize, HashMap<Uuid, Vec<RelatedLink>>)> {
        let now = self.clock.now();
        let cfg = &self.config;
        let ns = query.namespace.as_str();
        let mut ranked = rank(query, candidates.clone(), now, &cfg.ranking, self.fusion());
        let best = ranked.first().map_or(0.0, |s| s.breakdown.total);
        if cfg.relation_boost <= 0.0 || best <= 0.0 {
            return Ok((ranked, candidates.len(), HashMap::new()));
        }
        let strong: HashMap<Uuid, f64> = ranked
            .iter()
            .take(query.limit)
            .filter(|s| s.breakdown.total >= cfg.strong_hit_share * best)
            .map(|s| (s.summary.id, s.breakdown.total / best))
            .collect();
        let filter = RelationshipFilter {
            namespace: ns.to_string(),
            episodes: strong.keys().copied().collect(),
            direction: Direction::Both,
            kinds: Vec::new(),
            limit: None,
        };
        let edges = self.storage.relationships(&filter).await?;
        if edges.is_empty() {
            return Ok((ranked, candidates.len(), HashMap::new()));
        }

        // For each linked episode: its boost and the strong hits it is linked to.
        let mut boosts: HashMap<Uuid, f64> = HashMap::new();
        let mut links: HashMap<Uuid, Vec<RelatedLink>> = HashMap::new();
        for e in &edges {
            for (hit, other, direction) in [
                (e.from, e.to, Direction::Incoming),
                (e.to, e.from, Direction::Outgoing),
            ] {
                let Some(share) = strong.get(&hit) else {
                    continue;
                };
                let boost = cfg.relation_boost * share * e.effective_weight();
                let b = boosts.entry(other).or_insert(0.0);
                *b = b.max(boost);
                links.entry(other).or_default().push(RelatedLink {
                    episode: hit,
                    kind: e.kind,
                    direction,
                });
            }
        }

        // Linked episodes no search found become candidates, ranked like the rest.
        let known: HashSet<Uuid> = candidates.iter().map(|c| c.summary.id).collect();
        let mut missing: Vec<Uuid> = boosts
            .keys()
            .filter(|id| !known.contains(id))
            .copied()
            .collect();
        missing.sort_by(|a, b| boosts[b].total_cmp(&boosts[a]).then(a.cmp(b)));
        let mut added = 0;
        for id in missing {
            if added >= cfg.related_candidates {
                break;
            }
            if let Some(ep) = self.storage.get_episode(ns, id).await?
                && ep.is_complete()
            {
                candidates.push(Candidate::by_context(ep.summary()));
                added += 1;
            }
        }
        if added > 0 {
            ranked = rank(query, candidates.clone(), now, &cfg.ranking, self.fusion());
        }

        for s in &mut ranked {
            if let Some(&boost) = boosts.get(&s.summary.id)
                && boost > 0.0
            {
                s.breakdown.relation = boost;
                s.breakdown.total += boost;
                let kinds: BTreeSet<&str> = links
                    .get(&s.summary.id)
                    .into_iter()
                    .flatten()
                    .map(|l| l.kind.as_str())
                    .collect();
                s.reason.push_str(&format!(
                    "; related to a strong hit ({})",
                    kinds.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        ranked.sort_by(|a, b| {
            b.breakdown
                .total
                .total_cmp(&a.breakdown.total)
                .then_with(|| b.summary.ended_at.cmp(&a.summary.ended_at))
                .then_with(|| b.summary.id.cmp(&a.summary.id))
        });
        links.retain(|id, _| boosts.get(id).is_some_and(|b| *b > 0.0));
        Ok((ranked, candidates.len(), links))
    }
}
