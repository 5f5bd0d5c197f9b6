//! The in-memory cache tier: [`AdaptiveTtlCache`] and [`CachedStorage`], which puts it in
//! front of any [`crate::StorageBackend`].

mod adaptive;
mod cached_storage;
mod weight;

pub use adaptive::{AdaptiveTtlCache, CacheConfig};
pub use cached_storage::{CachedStorage, CachedStorageConfig};
