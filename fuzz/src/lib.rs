//! The fuzz targets: one function per parser, each taking the fuzzer's bytes and returning
//! normally whatever they hold. Errors are the expected answer to bad input; a panic (or an
//! abort, or a hang) is a bug.
//!
//! The modules are shared with the corpus replay tests
//! (`crates/memory-core/tests/fuzz_corpus.rs`, `crates/memory-mcp/tests/fuzz_corpus.rs`),
//! which run every file of `fuzz/corpus/<target>/` through them on each `cargo test`.

pub mod handoff;
pub mod import;
pub mod mcp;
