//! The fuzz corpus of the import line parser and of the hand-off pack parser
//! (`fuzz/corpus/import/`, `fuzz/corpus/handoff/`), every file through the fuzz targets' own
//! code (`fuzz/src/`) without AFL++: the seeds, what fuzzing kept, and every input that once
//! found a bug stay checked on each `cargo test`. None may panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../fuzz/src/handoff.rs"]
mod handoff;
#[path = "../../../fuzz/src/import.rs"]
mod import;

use std::path::PathBuf;

/// The files of `fuzz/corpus/<target>/`, sorted.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus file of `target` through `run`; fails naming each file that panics.
fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= 10,
        "only {} files in the {target} corpus",
        files.len()
    );
    let panicked: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| run(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        panicked.is_empty(),
        "these {target} inputs panic: {panicked:#?}"
    );
}

#[test]
fn the_import_corpus_is_refused_or_accepted_without_a_panic() {
    replay("import", import::run);
}

#[test]
fn the_handoff_corpus_is_refused_or_accepted_without_a_panic() {
    replay("handoff", handoff::run);
}
