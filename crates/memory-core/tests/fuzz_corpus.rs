//! The fuzz corpus of the import line parser and of the hand-off pack parser
//! (`fuzz/corpus/import/`, `fuzz/corpus/handoff/`), every file through the fuzz targets' own
//! code (`fuzz/src/`) without AFL++: the seeds, what fuzzing kept, and every input that once
//! found a bug stay checked on each `cargo test`. None may panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/handoff.rs"]
mod handoff;
#[path = "../../../fuzz/src/import.rs"]
mod import;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn the_import_corpus_is_refused_or_accepted_without_a_panic() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "import", import::run);
}

#[test]
fn the_handoff_corpus_is_refused_or_accepted_without_a_panic() {
    replay::replay(env!("CARGO_MANIFEST_DIR"), "handoff", handoff::run);
}
