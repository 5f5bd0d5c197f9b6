//! The in-memory cache tier: [`AdaptiveTtlCache`] and [`CachedStorage`], which puts it in
//! front of any [`crate::StorageBackend`].

mod adaptive;
mod cached_storage;
mod weight;

pub use adaptive::{AdaptiveTtlCache, CacheConfig};
pub use cached_storage::{CachedStorage, CachedStorageConfig};

/// The estimated in-memory size of `episode`, as the episode tier weighs it (for sizing the
/// cache against a store).
pub fn episode_bytes(episode: &crate::model::Episode) -> u64 {
    weight::episode(episode)
}
