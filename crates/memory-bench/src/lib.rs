//! Workload generators and benchmarks for self-learning-memory.
//!
//! Every performance figure the project quotes (in `BENCHMARKS.md`, the README or a pull
//! request) is produced by code in this crate, so anyone can rerun it and get the same kind of
//! number. The generators in [`workload`] are seeded and deterministic: the same seed gives
//! the same episodes, steps, outcomes and queries, so two runs measure the same work.
//!
//! The benchmarks live in `benches/`; run them from the workspace root with
//! `cargo bench --bench storage_operations`.

pub mod completion;
pub mod first_search;
pub mod learning;
pub mod perf;
pub mod relay;
pub mod remote;
pub mod resident;
pub mod retrieval_eval;
mod rng;
pub mod soak;
mod template;
pub mod workload;

/// How many patterns `namespace` holds, counted page by page through the public API.
pub async fn count_patterns(
    memory: &memory_core::SelfLearningMemory,
    namespace: &str,
) -> Result<usize, memory_core::MemoryError> {
    let mut total = 0;
    let mut filter = memory_core::PatternFilter {
        limit: 1_000,
        ..memory_core::PatternFilter::new(namespace)
    };
    loop {
        let page = memory.list_patterns(&filter).await?.len();
        total += page;
        if page < filter.limit {
            return Ok(total);
        }
        filter.offset += page;
    }
}
