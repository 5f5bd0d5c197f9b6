//! The storage conformance suite (`tests/conformance/`) on [`InMemoryStorage`].

mod conformance;

use memory_core::{InMemoryStorage, StorageBackend};
use std::sync::Arc;

/// A fresh in-memory store (nothing to keep alive beside it).
async fn store() -> ((), Arc<dyn StorageBackend>) {
    ((), Arc::new(InMemoryStorage::new()))
}

conformance::conformance_tests!(store());
