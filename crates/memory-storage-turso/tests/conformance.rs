//! The storage conformance suite (`memory-core/tests/conformance/`) on [`TursoStorage`]: a
//! file, or — with `MEMORY_TEST_STORE=sqld` or `replica` — a `sqld` server read directly or
//! through an embedded replica (see `common::fresh`).

mod common;
#[path = "../../memory-core/tests/conformance/mod.rs"]
mod conformance;

use memory_core::StorageBackend;
use std::sync::Arc;

/// A fresh store and what keeps it alive (its directory, its server).
async fn store() -> (common::Fixture, Arc<dyn StorageBackend>) {
    let (fixture, storage) = common::fresh().await;
    (fixture, Arc::new(storage))
}

conformance::conformance_tests!(store());
