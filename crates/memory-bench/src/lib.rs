//! Workload generators and benchmarks for self-learning-memory.
//!
//! Every performance figure the project quotes (in `BENCHMARKS.md`, the README or a pull
//! request) is produced by code in this crate, so anyone can rerun it and get the same kind of
//! number. The generators in [`workload`] are seeded and deterministic: the same seed gives
//! the same episodes, steps, outcomes and queries, so two runs measure the same work.
//!
//! The benchmarks live in `benches/`; run them from the workspace root with
//! `cargo bench --bench storage_operations`.

pub mod workload;
