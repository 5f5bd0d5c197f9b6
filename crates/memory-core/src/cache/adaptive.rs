//! [`AdaptiveTtlCache`]: a size-bounded cache whose entries live longer the more they are
//! used.
//!
//! Built on moka: capacity is a byte budget (each entry weighs its estimated size), and
//! admission is TinyLFU, so a burst of one-off reads cannot push out the entries that are
//! read all the time. On top of that, every entry has its own time to live: it starts at
//! `base_ttl`; an entry read again within half of its current TTL is hot and has it doubled
//! (up to `max_ttl`), an entry whose reads come further apart is cooling and has it halved
//! (down to `min_ttl`). Hot entries stay for long; entries that went cold leave soon, even
//! when nothing else competes for their room.

use crate::metrics::CacheStats;
use moka::Expiry;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Size and lifetime bounds of an [`AdaptiveTtlCache`].
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// Most bytes (estimated) the cache holds.
    pub capacity_bytes: u64,
    /// Time to live of a new entry.
    pub base_ttl: Duration,
    /// Shortest time to live an entry can shrink to.
    pub min_ttl: Duration,
    /// Longest time to live an entry can grow to.
    pub max_ttl: Duration,
}

impl CacheConfig {
    /// A cache of `capacity_bytes` with lifetimes from 30 s to 1 h, starting at 5 min.
    pub fn with_capacity(capacity_bytes: u64) -> Self {
        CacheConfig {
            capacity_bytes,
            base_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
        }
    }
}

/// A value with what its lifetime policy needs.
struct Slot<V> {
    value: V,
    weight: u32,
    /// Current time to live, in nanoseconds.
    ttl_ns: AtomicU64,
    /// When it was last read or written, in nanoseconds since the cache's epoch.
    touched_ns: AtomicU64,
}

/// The lifetime policy described in the module documentation.
struct AdaptiveExpiry {
    epoch: Instant,
    base: Duration,
    min: Duration,
    max: Duration,
}

impl AdaptiveExpiry {
    fn since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl<K, V> Expiry<K, Arc<Slot<V>>> for AdaptiveExpiry {
    fn expire_after_create(&self, _: &K, slot: &Arc<Slot<V>>, at: Instant) -> Option<Duration> {
        slot.touched_ns
            .store(self.since_epoch(at), Ordering::Relaxed);
        slot.ttl_ns.store(nanos(self.base), Ordering::Relaxed);
        Some(self.base)
    }

    fn expire_after_read(
        &self,
        _: &K,
        slot: &Arc<Slot<V>>,
        read_at: Instant,
        _remaining: Option<Duration>,
        _last_modified: Instant,
    ) -> Option<Duration> {
        let now = self.since_epoch(read_at);
        let gap = now.saturating_sub(slot.touched_ns.swap(now, Ordering::Relaxed));
        let ttl = slot.ttl_ns.load(Ordering::Relaxed);
        let next = if gap <= ttl / 2 {
            ttl.saturating_mul(2).min(nanos(self.max))
        } else {
            (ttl / 2).max(nanos(self.min))
        };
        slot.ttl_ns.store(next, Ordering::Relaxed);
        Some(Duration::from_nanos(next))
    }

    fn expire_after_update(
        &self,
        key: &K,
        slot: &Arc<Slot<V>>,
        at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, slot, at)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A byte-bounded TinyLFU cache with per-entry adaptive time to live, and hit/miss/eviction
/// counters.
pub struct AdaptiveTtlCache<K, V> {
    inner: Cache<K, Arc<Slot<V>>>,
    capacity_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl<K, V> std::fmt::Debug for AdaptiveTtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdaptiveTtlCache")
            .field("capacity_bytes", &self.capacity_bytes)
            .field("entries", &self.inner.entry_count())
            .finish_non_exhaustive()
    }
}

impl<K, V> AdaptiveTtlCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty cache bounded by `config`.
    pub fn new(config: &CacheConfig) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&evictions);
        let inner = Cache::builder()
            .max_capacity(config.capacity_bytes)
            .weigher(|_: &K, slot: &Arc<Slot<V>>| slot.weight)
            .expire_after(AdaptiveExpiry {
                epoch: Instant::now(),
                base: config.base_ttl,
                min: config.min_ttl.min(config.base_ttl),
                max: config.max_ttl.max(config.base_ttl),
            })
            .eviction_listener(move |_, _, cause| {
                if cause == RemovalCause::Size {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        AdaptiveTtlCache {
            inner,
            capacity_bytes: config.capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions,
        }
    }

    /// The cached value of `key`, counted as a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        match self.inner.get(key) {
            Some(slot) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(slot.value.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Caches `value` under `key`; `bytes` is its estimated size. The cache's admission
    /// policy may decline to keep it when room is short.
    pub fn insert(&self, key: K, value: V, bytes: u64) {
        let slot = Slot {
            value,
            weight: u32::try_from(bytes.max(1)).unwrap_or(u32::MAX),
            ttl_ns: AtomicU64::new(0),
            touched_ns: AtomicU64::new(0),
        };
        self.inner.insert(key, Arc::new(slot));
    }

    /// Drops `key`'s entry, if any.
    pub fn invalidate(&self, key: &K) {
        self.inner.invalidate(key);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.inner.invalidate_all();
    }

    /// The time to live `key`'s entry has now, if it is cached (for tests and diagnostics).
    pub fn ttl_of(&self, key: &K) -> Option<Duration> {
        // Scanning does not count as a read, so it neither counts a hit nor moves the TTL.
        self.inner
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, slot)| Duration::from_nanos(slot.ttl_ns.load(Ordering::Relaxed)))
    }

    /// Counters for `memory stats`, under the tier name `tier`.
    pub fn stats(&self, tier: &str) -> CacheStats {
        self.inner.run_pending_tasks();
        CacheStats {
            tier: tier.to_string(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: self.inner.entry_count(),
            bytes: self.inner.weighted_size(),
            capacity_bytes: self.capacity_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: u64) -> AdaptiveTtlCache<u64, String> {
        AdaptiveTtlCache::new(&CacheConfig {
            capacity_bytes: capacity,
            base_ttl: Duration::from_secs(100),
            min_ttl: Duration::from_secs(10),
            max_ttl: Duration::from_secs(1000),
        })
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let c = cache(10_000);
        assert_eq!(c.get(&1), None);
        c.insert(1, "one".into(), 10);
        assert_eq!(c.get(&1).as_deref(), Some("one"));
        assert_eq!(c.get(&1).as_deref(), Some("one"));
        let s = c.stats("t");
        assert_eq!((s.hits, s.misses, s.entries), (2, 1, 1));
        assert!((s.hit_rate() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn an_entry_read_often_lives_longer_up_to_the_cap() {
        let c = cache(10_000);
        c.insert(1, "hot".into(), 10);
        assert_eq!(c.ttl_of(&1), Some(Duration::from_secs(100)));
        c.get(&1);
        c.get(&1);
        assert_eq!(
            c.ttl_of(&1),
            Some(Duration::from_secs(400)),
            "doubled per quick re-read"
        );
        for _ in 0..10 {
            c.get(&1);
        }
        assert_eq!(
            c.ttl_of(&1),
            Some(Duration::from_secs(1000)),
            "capped at max_ttl"
        );
    }

    #[test]
    fn reads_far_apart_shrink_the_lifetime_down_to_the_floor() {
        let t0 = Instant::now();
        let policy = AdaptiveExpiry {
            epoch: t0,
            base: Duration::from_secs(100),
            min: Duration::from_secs(10),
            max: Duration::from_secs(1000),
        };
        let slot = Arc::new(Slot {
            value: (),
            weight: 1,
            ttl_ns: AtomicU64::new(0),
            touched_ns: AtomicU64::new(0),
        });
        let at = |secs| t0 + Duration::from_secs(secs);
        let read =
            |secs| Expiry::<u8, _>::expire_after_read(&policy, &0, &slot, at(secs), None, t0);
        assert_eq!(
            Expiry::<u8, _>::expire_after_create(&policy, &0, &slot, at(0)),
            Some(Duration::from_secs(100))
        );
        // 10 s later: well within half the lifetime, so it doubles.
        assert_eq!(read(10), Some(Duration::from_secs(200)));
        // 150 s after that: more than half of 200 s, so it halves.
        assert_eq!(read(160), Some(Duration::from_secs(100)));
        assert_eq!(read(260), Some(Duration::from_secs(50)));
        assert_eq!(read(360), Some(Duration::from_secs(25)));
        assert_eq!(
            read(460),
            Some(Duration::from_secs(12) + Duration::from_millis(500))
        );
        assert_eq!(
            read(560),
            Some(Duration::from_secs(10)),
            "never below min_ttl"
        );
    }

    #[test]
    fn the_byte_budget_bounds_the_cache() {
        let c = cache(1_000);
        for k in 0..200u64 {
            c.insert(k, "x".repeat(50), 50);
        }
        let s = c.stats("t");
        assert!(s.bytes <= 1_000, "{} bytes held", s.bytes);
        assert!(s.entries <= 20);
        assert!(s.evictions > 0 || s.entries < 200);
    }

    #[test]
    fn invalidated_entries_are_gone() {
        let c = cache(10_000);
        c.insert(1, "a".into(), 10);
        c.insert(2, "b".into(), 10);
        c.invalidate(&1);
        assert_eq!(c.get(&1), None);
        c.clear();
        assert_eq!(c.get(&2), None);
    }
}
