//! [`CachedStorage`]: any [`StorageBackend`] behind three in-memory cache tiers.
//!
//! - **episodes** by id and **patterns** by id: the records themselves;
//! - **queries**: the results of listing and search calls (full-text and vector search,
//!   episode and pattern listings, the efficiency baseline), keyed by the call's arguments
//!   and by the namespace's *generation*.
//!
//! Every write through this wrapper invalidates exactly what it can change: the episode it
//! touched, the patterns a completion or feedback updated, and the namespace's generation
//! for episode queries (any episode write) or pattern queries (completion, feedback,
//! deletion). A query cached under an older generation is simply never looked up again.
//! Caching a value read from the backend is skipped when a write to its namespace happened
//! while it was being read, so a read after a write never returns the older data.
//!
//! Writes by *other* processes on the same store do not pass through this wrapper. When
//! the backend can list them ([`StatsStore::external_changes`]: the libSQL store keeps
//! a log of what each write changed), the wrapper asks at most every
//! [`CachedStorageConfig::revalidate_every`] and drops exactly the episodes and patterns
//! named there, with their namespaces' cached queries — so a second process writing other
//! episodes leaves this one's cached episodes alone. That interval bounds how stale a read
//! can be with respect to another process's writes.

use super::adaptive::{AdaptiveTtlCache, CacheConfig};
use super::weight;
use crate::error::Result;
use crate::metrics::{OtherWriterStats, StorageStats};
use crate::model::{
    Checkpoint, Episode, EpisodeSummary, ExecutionStep, Feedback, Pattern, Relationship,
    RelationshipKind, RetrievalSession, SessionRetention, StepInput, TaskType,
};
use crate::stable_hash::{FNV1A64_PRIME, Fnv1a64};
use crate::storage::{
    BatchCounts, Changed, ChangedKey, Completion, EpisodeCost, EpisodeCounts, EpisodeFilter,
    EpisodeStore, ExportFilter, ExportSnapshot, ExternalChanges, GarbageCounts, GarbagePlan,
    GraphStore, ImportBatch, PatternFilter, PatternStore, RelationshipFilter, RetentionStore,
    SessionStore, StatsStore, StorageBackend, TextMatch, TransferStore, VectorMatch, VectorStore,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Sizes of the cache tiers and how often other writers are checked for.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedStorageConfig {
    /// The episode tier.
    pub episodes: CacheConfig,
    /// The pattern tier.
    pub patterns: CacheConfig,
    /// The query-result tier.
    pub queries: CacheConfig,
    /// Longest time between two checks for writes by other processes.
    pub revalidate_every: Duration,
}

impl Default for CachedStorageConfig {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        CachedStorageConfig {
            episodes: CacheConfig::with_capacity(64 * MIB),
            patterns: CacheConfig::with_capacity(16 * MIB),
            queries: CacheConfig::with_capacity(16 * MIB),
            revalidate_every: Duration::from_millis(100),
        }
    }
}

/// A cached query result. `Arc`s keep a cache hit from copying the list twice.
#[derive(Clone)]
enum QueryResult {
    Text(Arc<Vec<TextMatch>>),
    Vector(Arc<Vec<VectorMatch>>),
    Summaries(Arc<Vec<EpisodeSummary>>),
    Patterns(Arc<Vec<Pattern>>),
    Costs(Arc<Vec<EpisodeCost>>),
}

/// What a namespace's cached data was read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Generation {
    /// Bumped when everything is dropped (another process wrote).
    epoch: u64,
    /// Bumped by every episode write in the namespace.
    episodes: u64,
    /// Bumped by every write that changes the namespace's patterns.
    patterns: u64,
}

#[derive(Default)]
struct Generations {
    epoch: u64,
    namespaces: HashMap<String, Generation>,
}

impl Generations {
    fn of(&self, namespace: &str) -> Generation {
        let mut g = self.namespaces.get(namespace).copied().unwrap_or_default();
        g.epoch = self.epoch;
        g
    }

    fn bump(&mut self, namespace: &str, episodes: bool, patterns: bool) {
        let g = self.namespaces.entry(namespace.to_string()).or_default();
        g.episodes += u64::from(episodes);
        g.patterns += u64::from(patterns);
    }
}

struct Revalidation {
    last_check: Option<Instant>,
    /// Where the next question about other writers' changes starts (`None`: not asked yet).
    position: Option<u64>,
}

/// Counts of other writers' changes applied to the caches.
#[derive(Default)]
struct ExternalCounts {
    keys: AtomicU64,
    clears: AtomicU64,
}

/// A [`StorageBackend`] that answers repeated reads from memory. See the module
/// documentation for what is cached and how writes invalidate it.
pub struct CachedStorage<S: ?Sized> {
    inner: Arc<S>,
    /// Shared with the callers a hit is handed to: a hit costs a reference count, not a
    /// copy of the episode.
    episodes: AdaptiveTtlCache<Uuid, Arc<Episode>>,
    patterns: AdaptiveTtlCache<Uuid, Pattern>,
    queries: AdaptiveTtlCache<String, QueryResult>,
    generations: Mutex<Generations>,
    revalidation: Mutex<Revalidation>,
    revalidate_every: Duration,
    external: ExternalCounts,
}

impl<S: ?Sized> std::fmt::Debug for CachedStorage<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStorage")
            .field("episodes", &self.episodes)
            .field("patterns", &self.patterns)
            .field("queries", &self.queries)
            .finish_non_exhaustive()
    }
}

impl<S: StorageBackend + ?Sized> CachedStorage<S> {
    /// `inner` behind caches of the default sizes.
    pub fn new(inner: Arc<S>) -> Self {
        Self::with_config(inner, &CachedStorageConfig::default())
    }

    /// `inner` behind caches sized by `config`.
    pub fn with_config(inner: Arc<S>, config: &CachedStorageConfig) -> Self {
        CachedStorage {
            inner,
            episodes: AdaptiveTtlCache::new(&config.episodes),
            patterns: AdaptiveTtlCache::new(&config.patterns),
            queries: AdaptiveTtlCache::new(&config.queries),
            generations: Mutex::new(Generations::default()),
            revalidation: Mutex::new(Revalidation {
                last_check: None,
                position: None,
            }),
            external: ExternalCounts::default(),
            revalidate_every: config.revalidate_every,
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Drops every cached entry.
    pub fn clear(&self) {
        let mut g = self.lock_generations();
        g.epoch += 1;
        self.episodes.clear();
        self.patterns.clear();
        self.queries.clear();
    }

    /// Drops the query-result tier only (searches and listings), keeping the cached episodes
    /// and patterns: what a retrieval that no earlier one shares anything with would see
    /// (`memory bench perf` measures retrieval so).
    pub fn clear_queries(&self) {
        self.queries.clear();
    }

    fn lock_generations(&self) -> MutexGuard<'_, Generations> {
        self.generations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn generation(&self, namespace: &str) -> Generation {
        self.lock_generations().of(namespace)
    }

    /// A guard that records a write when dropped — also when the write's future is dropped
    /// half-way (a cancelled request), since the backend may commit it all the same.
    fn writing<'a>(&'a self, namespace: &'a str) -> WriteMark<'a, S> {
        WriteMark {
            storage: self,
            namespace,
            episodes: true,
            patterns: false,
            episode: None,
            touched: Vec::new(),
            every_pattern: false,
        }
    }

    /// Records a write: bumps the namespace's generations and drops the given entries, under
    /// the lock that readers take to cache what they read.
    fn wrote(
        &self,
        namespace: &str,
        episodes: bool,
        patterns: bool,
        drop_episode: Option<Uuid>,
        drop_patterns: &[Uuid],
    ) {
        let mut g = self.lock_generations();
        g.bump(namespace, episodes, patterns);
        if let Some(id) = drop_episode {
            self.episodes.invalidate(&id);
        }
        for id in drop_patterns {
            self.patterns.invalidate(id);
        }
    }

    /// Asks the backend, at most every `revalidate_every`, what other writers changed since
    /// the last answer, and drops exactly that: the episodes and patterns named, and the
    /// cached queries of their namespaces. When the backend cannot list the changes (too
    /// many, or its list no longer reaches back far enough) everything is dropped.
    async fn revalidate(&self) {
        let since = {
            let r = self.revalidation.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if r.last_check
                .is_some_and(|t| now.duration_since(t) < self.revalidate_every)
            {
                return;
            }
            r.position
        };
        let answer = match self.inner.external_changes(since).await {
            Ok(Some(answer)) => answer,
            // Cannot tell now (or ever): keep what we have, and ask again next time.
            Ok(None) => return,
            Err(err) => {
                tracing::debug!(error = %err, "could not check for writes by other processes");
                return;
            }
        };
        {
            let mut r = self.revalidation.lock().unwrap_or_else(|e| e.into_inner());
            r.last_check = Some(Instant::now());
            // Two checks may overlap: the later position wins, and the changes between them
            // are simply applied twice.
            r.position = Some(
                r.position
                    .map_or(answer.position, |p| p.max(answer.position)),
            );
        }
        self.apply_external(&answer.changed, since.is_none());
    }

    /// Drops what another writer changed; `first`: the first answer, which covers whatever
    /// was cached before anyone asked (not counted as another writer's doing).
    fn apply_external(&self, changed: &Changed, first: bool) {
        let keys = match changed {
            Changed::Everything => {
                if !first {
                    tracing::debug!(
                        "the store changed outside this process more than can be listed; \
                         dropping the caches"
                    );
                    self.external.clears.fetch_add(1, Ordering::Relaxed);
                }
                self.clear();
                return;
            }
            Changed::Keys(keys) if keys.is_empty() => return,
            Changed::Keys(keys) => keys,
        };
        self.external
            .keys
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
        for key in keys {
            match key {
                ChangedKey::Episode { namespace, id } => {
                    self.wrote(namespace, true, false, Some(*id), &[]);
                }
                ChangedKey::Patterns { namespace } => {
                    self.wrote(namespace, false, true, None, &[]);
                    // The tier is keyed by id alone; it is small and refilled on demand.
                    self.patterns.clear();
                }
                ChangedKey::Searches { namespace } => self.wrote(namespace, true, false, None, &[]),
            }
        }
    }

    /// How many times other writers' changes were applied: keys dropped one by one, and
    /// caches dropped whole.
    pub fn external_invalidations(&self) -> (u64, u64) {
        (
            self.external.keys.load(Ordering::Relaxed),
            self.external.clears.load(Ordering::Relaxed),
        )
    }

    /// Runs a cacheable query: from the query tier when its key is cached under the
    /// current generation, otherwise from the backend (caching the answer).
    async fn query<T>(
        &self,
        namespace: &str,
        key: impl FnOnce(Generation) -> String,
        unwrap: impl Fn(QueryResult) -> Option<Arc<Vec<T>>>,
        wrap: impl FnOnce(Arc<Vec<T>>) -> (QueryResult, u64),
        fetch: impl std::future::Future<Output = Result<Vec<T>>>,
    ) -> Result<Vec<T>>
    where
        T: Clone,
    {
        self.revalidate().await;
        let key = key(self.generation(namespace));
        if let Some(found) = self.queries.get(&key).and_then(unwrap) {
            return Ok(found.as_ref().clone());
        }
        let fresh = fetch.await?;
        let (value, bytes) = wrap(Arc::new(fresh.clone()));
        // The key carries the generation it was computed under: if a write happened
        // meanwhile, later reads use a newer key and never see this entry.
        self.queries.insert(key, value, bytes);
        Ok(fresh)
    }
}

/// Records a write through [`CachedStorage`] when dropped; see [`CachedStorage::writing`].
struct WriteMark<'a, S: StorageBackend + ?Sized> {
    storage: &'a CachedStorage<S>,
    namespace: &'a str,
    episodes: bool,
    patterns: bool,
    episode: Option<Uuid>,
    touched: Vec<Uuid>,
    /// The patterns the write changed are not known (a completion that did not finish
    /// here): drop every cached pattern.
    every_pattern: bool,
}

impl<S: StorageBackend + ?Sized> Drop for WriteMark<'_, S> {
    fn drop(&mut self) {
        let s = self.storage;
        s.wrote(
            self.namespace,
            self.episodes,
            self.patterns,
            self.episode,
            &self.touched,
        );
        if self.every_pattern {
            s.patterns.clear();
        }
    }
}

fn vector_key(vector: &[f32]) -> String {
    // FNV-1a and a second pass with another offset and prime: a 128-bit fingerprint of the
    // exact bits.
    let mut a = Fnv1a64::new();
    let mut b = Fnv1a64::with_parameters(0x8422_2325_cbf2_9ce4, FNV1A64_PRIME ^ 0x10);
    for x in vector {
        let bytes = x.to_bits().to_le_bytes();
        a.write(&bytes);
        b.write(&bytes);
    }
    format!("{:016x}{:016x}:{}", a.finish(), b.finish(), vector.len())
}

const SEP: char = '\u{1f}';

#[async_trait]
impl<S: StorageBackend + ?Sized> EpisodeStore for CachedStorage<S> {
    async fn store_episode(&self, episode: &Episode) -> Result<()> {
        let mut mark = self.writing(&episode.namespace);
        mark.episode = Some(episode.id);
        self.inner.store_episode(episode).await
    }

    async fn append_step(
        &self,
        namespace: &str,
        episode_id: Uuid,
        step: StepInput,
        at: DateTime<Utc>,
        max_steps: u32,
    ) -> Result<ExecutionStep> {
        let mut mark = self.writing(namespace);
        mark.episode = Some(episode_id);
        self.inner
            .append_step(namespace, episode_id, step, at, max_steps)
            .await
    }

    async fn complete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        completion: &Completion,
    ) -> Result<Vec<Uuid>> {
        let mut mark = self.writing(namespace);
        mark.episode = Some(episode_id);
        mark.patterns = true;
        // Until the result says which patterns changed (a cancelled call never says), any
        // may have.
        mark.every_pattern = true;
        let result = self
            .inner
            .complete_episode(namespace, episode_id, completion)
            .await;
        // On success the listed patterns changed — and, with feedback from the episode's
        // retrieval session, the ones that session recommended, which are not listed; on
        // failure (e.g. `Stale`: steps arrived from elsewhere) none did, but the cached
        // episode may be what was out of date.
        mark.every_pattern = result.is_ok() && completion.feedback_session.is_some();
        if let Ok(ids) = &result {
            mark.touched.clone_from(ids);
        }
        result
    }

    async fn get_episode(&self, namespace: &str, episode_id: Uuid) -> Result<Option<Arc<Episode>>> {
        self.revalidate().await;
        if let Some(episode) = self.episodes.get(&episode_id)
            && episode.namespace == namespace
        {
            return Ok(Some(episode));
        }
        let before = self.generation(namespace);
        let found = self.inner.get_episode(namespace, episode_id).await?;
        if let Some(episode) = &found {
            let g = self.lock_generations();
            if g.of(namespace) == before {
                self.episodes
                    .insert(episode_id, Arc::clone(episode), weight::episode(episode));
            }
        }
        Ok(found)
    }

    async fn list_episodes(&self, filter: &EpisodeFilter) -> Result<Vec<EpisodeSummary>> {
        self.query(
            &filter.namespace,
            |g| format!("list{SEP}{}.{}{SEP}{filter:?}", g.epoch, g.episodes),
            |r| match r {
                QueryResult::Summaries(v) => Some(v),
                _ => None,
            },
            |v| {
                let bytes = weight::summaries(&v);
                (QueryResult::Summaries(v), bytes)
            },
            self.inner.list_episodes(filter),
        )
        .await
    }

    async fn delete_episode(
        &self,
        namespace: &str,
        episode_id: Uuid,
        half_life_days: f64,
    ) -> Result<bool> {
        let mut mark = self.writing(namespace);
        mark.episode = Some(episode_id);
        mark.patterns = true;
        // What it taught comes off patterns that are not listed, and its session's feedback
        // off others.
        mark.every_pattern = true;
        self.inner
            .delete_episode(namespace, episode_id, half_life_days)
            .await
    }

    async fn comparable_costs(
        &self,
        namespace: &str,
        task_type: TaskType,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EpisodeCost>> {
        self.query(
            namespace,
            |g| {
                format!(
                    "costs{SEP}{}.{}{SEP}{namespace}{SEP}{}{SEP}{domain:?}{SEP}{limit}",
                    g.epoch,
                    g.episodes,
                    task_type.as_str()
                )
            },
            |r| match r {
                QueryResult::Costs(v) => Some(v),
                _ => None,
            },
            |v| {
                let bytes = 64 + v.len() as u64 * 16;
                (QueryResult::Costs(v), bytes)
            },
            self.inner
                .comparable_costs(namespace, task_type, domain, limit),
        )
        .await
    }

    async fn search_text(
        &self,
        namespace: &str,
        terms: &[String],
        limit: usize,
    ) -> Result<Vec<TextMatch>> {
        self.query(
            namespace,
            |g| {
                format!(
                    "text{SEP}{}.{}{SEP}{namespace}{SEP}{limit}{SEP}{}",
                    g.epoch,
                    g.episodes,
                    terms.join("\u{1e}")
                )
            },
            |r| match r {
                QueryResult::Text(v) => Some(v),
                _ => None,
            },
            |v| {
                let bytes = weight::text_matches(&v);
                (QueryResult::Text(v), bytes)
            },
            self.inner.search_text(namespace, terms, limit),
        )
        .await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> PatternStore for CachedStorage<S> {
    async fn list_patterns(&self, filter: &PatternFilter) -> Result<Vec<Pattern>> {
        self.query(
            &filter.namespace,
            |g| format!("patterns{SEP}{}.{}{SEP}{filter:?}", g.epoch, g.patterns),
            |r| match r {
                QueryResult::Patterns(v) => Some(v),
                _ => None,
            },
            |v| {
                let bytes = weight::patterns(&v);
                (QueryResult::Patterns(v), bytes)
            },
            self.inner.list_patterns(filter),
        )
        .await
    }

    async fn get_pattern(&self, namespace: &str, pattern_id: Uuid) -> Result<Option<Pattern>> {
        self.revalidate().await;
        if let Some(pattern) = self.patterns.get(&pattern_id)
            && pattern.namespace == namespace
        {
            return Ok(Some(pattern));
        }
        let before = self.generation(namespace);
        let found = self.inner.get_pattern(namespace, pattern_id).await?;
        if let Some(pattern) = &found {
            let g = self.lock_generations();
            if g.of(namespace) == before {
                self.patterns
                    .insert(pattern_id, pattern.clone(), weight::pattern(pattern));
            }
        }
        Ok(found)
    }

    async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        feedback: &Feedback,
    ) -> Result<()> {
        let mut mark = self.writing(namespace);
        mark.episodes = false;
        mark.patterns = true;
        mark.touched.clone_from(&feedback.applied);
        self.inner
            .record_feedback(namespace, session_id, feedback)
            .await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> SessionStore for CachedStorage<S> {
    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()> {
        // Sessions are not cached, and no cached query depends on them.
        self.inner.store_session(session, retention).await
    }

    async fn get_session(
        &self,
        namespace: &str,
        session_id: Uuid,
    ) -> Result<Option<RetrievalSession>> {
        self.inner.get_session(namespace, session_id).await
    }

    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>> {
        self.inner.list_sessions(namespace).await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> VectorStore for CachedStorage<S> {
    async fn ensure_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        self.inner.ensure_vector_space(embedder, dimension).await
    }

    async fn reset_vector_space(&self, embedder: &str, dimension: usize) -> Result<()> {
        let result = self.inner.reset_vector_space(embedder, dimension).await;
        // Every namespace's vector searches change.
        self.clear();
        result
    }

    async fn vector_space(&self) -> Result<Option<(String, usize)>> {
        self.inner.vector_space().await
    }

    async fn store_vectors(
        &self,
        embedder: &str,
        namespace: &str,
        vectors: &[crate::storage::EpisodeVectors],
    ) -> Result<()> {
        let _mark = self.writing(namespace);
        self.inner.store_vectors(embedder, namespace, vectors).await
    }

    async fn vector_search(
        &self,
        namespace: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<VectorMatch>> {
        self.query(
            namespace,
            |g| {
                format!(
                    "vector{SEP}{}.{}{SEP}{namespace}{SEP}{limit}{SEP}{}",
                    g.epoch,
                    g.episodes,
                    vector_key(vector)
                )
            },
            |r| match r {
                QueryResult::Vector(v) => Some(v),
                _ => None,
            },
            |v| {
                let bytes = weight::vector_matches(&v);
                (QueryResult::Vector(v), bytes)
            },
            self.inner.vector_search(namespace, vector, limit),
        )
        .await
    }

    async fn vectors_of(&self, namespace: &str, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<f32>)>> {
        self.inner.vectors_of(namespace, ids).await
    }

    async fn episodes_without_vectors(
        &self,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Episode>> {
        self.inner.episodes_without_vectors(namespace, limit).await
    }

    async fn count_without_vectors(&self) -> Result<u64> {
        self.inner.count_without_vectors().await
    }

    async fn cached_embeddings(
        &self,
        embedder: &str,
        hashes: &[String],
    ) -> Result<Vec<Option<Vec<f32>>>> {
        self.inner.cached_embeddings(embedder, hashes).await
    }

    async fn cache_embeddings(&self, embedder: &str, entries: &[(String, Vec<f32>)]) -> Result<()> {
        self.inner.cache_embeddings(embedder, entries).await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> GraphStore for CachedStorage<S> {
    // Relationships and checkpoints are not cached, and no cached query depends on them
    // (retrieval reads the edges it boosts by directly), so they pass straight through.

    async fn store_relationship(&self, relationship: &Relationship) -> Result<()> {
        self.inner.store_relationship(relationship).await
    }

    async fn delete_relationships(
        &self,
        namespace: &str,
        from: Uuid,
        to: Uuid,
        kind: Option<RelationshipKind>,
    ) -> Result<u64> {
        self.inner
            .delete_relationships(namespace, from, to, kind)
            .await
    }

    async fn relationships(&self, filter: &RelationshipFilter) -> Result<Vec<Relationship>> {
        self.inner.relationships(filter).await
    }

    async fn store_checkpoint(&self, checkpoint: &Checkpoint) -> Result<Checkpoint> {
        self.inner.store_checkpoint(checkpoint).await
    }

    async fn checkpoints(
        &self,
        namespace: &str,
        episode_id: Option<Uuid>,
    ) -> Result<Vec<Checkpoint>> {
        self.inner.checkpoints(namespace, episode_id).await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> TransferStore for CachedStorage<S> {
    async fn store_batch(&self, batch: ImportBatch) -> Result<BatchCounts> {
        let written = BatchKeys::of(&batch);
        let result = self.inner.store_batch(batch).await;
        self.wrote_batch(&written);
        result
    }

    async fn store_batches(
        &self,
        batches: &mut (dyn Iterator<Item = Result<ImportBatch>> + Send),
    ) -> Result<BatchCounts> {
        let result = self.inner.store_batches(batches).await;
        // A bulk import may touch any namespace; start over rather than track it.
        self.clear();
        result
    }

    async fn export_snapshot(&self, filter: &ExportFilter) -> Result<Box<dyn ExportSnapshot>> {
        self.inner.export_snapshot(filter).await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> StatsStore for CachedStorage<S> {
    async fn count_episodes(&self, namespace: &str) -> Result<Option<EpisodeCounts>> {
        // Counted by the backend every time: a count is never cached, so never stale.
        self.inner.count_episodes(namespace).await
    }

    async fn namespaces(&self) -> Result<Option<Vec<(String, EpisodeCounts)>>> {
        self.inner.namespaces().await
    }

    async fn storage_stats(&self) -> Result<StorageStats> {
        let mut stats = self.inner.storage_stats().await?;
        let ours = [
            self.episodes.stats("episodes"),
            self.patterns.stats("patterns"),
            self.queries.stats("queries"),
        ];
        stats.caches.splice(0..0, ours);
        let (keys_dropped, full_clears) = self.external_invalidations();
        stats.other_writers = Some(OtherWriterStats {
            keys_dropped,
            full_clears,
        });
        Ok(stats)
    }

    async fn external_changes(&self, since: Option<u64>) -> Result<Option<ExternalChanges>> {
        self.inner.external_changes(since).await
    }
}

#[async_trait]
impl<S: StorageBackend + ?Sized> RetentionStore for CachedStorage<S> {
    async fn idle_running(&self, idle_since: DateTime<Utc>) -> Result<Vec<(String, Uuid)>> {
        self.inner.idle_running(idle_since).await
    }

    async fn collect_garbage(&self, plan: &GarbagePlan) -> Result<GarbageCounts> {
        let result = self.inner.collect_garbage(plan).await;
        // Sessions and patterns of any namespace may be gone (unknown after a failure). A
        // collection that dropped none, as most hourly ones do, keeps the caches.
        let dropped = match &result {
            Ok(c) => c.sessions > 0 || c.patterns > 0,
            Err(_) => true,
        };
        if !plan.dry_run && dropped {
            self.clear();
        }
        result
    }
}

impl<S: StorageBackend + ?Sized> CachedStorage<S> {
    /// Invalidates what a batch write can change: episode and pattern queries of every
    /// namespace it wrote to, and its episodes and patterns by id.
    fn wrote_batch(&self, written: &BatchKeys) {
        for ns in &written.namespaces {
            self.wrote(ns, true, true, None, &[]);
        }
        for id in &written.episodes {
            self.episodes.invalidate(id);
        }
        for id in &written.patterns {
            self.patterns.invalidate(id);
        }
    }
}

/// What a batch write changes in the caches, noted before the batch is handed to the
/// backend (which takes it by value).
struct BatchKeys {
    namespaces: Vec<String>,
    episodes: Vec<Uuid>,
    patterns: Vec<Uuid>,
}

impl BatchKeys {
    fn of(batch: &ImportBatch) -> Self {
        let mut namespaces: Vec<&str> = batch
            .episodes
            .iter()
            .map(|e| e.namespace.as_str())
            .chain(batch.patterns.iter().map(|p| p.namespace.as_str()))
            .chain(batch.context_stats.iter().map(|c| c.namespace.as_str()))
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        BatchKeys {
            namespaces: namespaces.into_iter().map(str::to_string).collect(),
            episodes: batch.episodes.iter().map(|e| e.id).collect(),
            patterns: batch.patterns.iter().map(|p| p.id).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::vector_key;

    #[test]
    fn vector_keys_are_pinned() {
        // Taken from the hand-written FNV loops this key was first computed with.
        assert_eq!(vector_key(&[]), "cbf29ce48422232584222325cbf29ce4:0");
        assert_eq!(vector_key(&[0.0]), "4d25767f9dce13f5462067b7a4695224:1");
        assert_eq!(
            vector_key(&[1.0, -0.5, 0.25]),
            "ec48947884f9bcfb98e8243cb002f166:3"
        );
    }
}
