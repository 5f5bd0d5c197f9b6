//! Replaying a target's corpus without AFL++, for the `cargo test` suites that include this
//! file (`crates/memory-core/tests/fuzz_corpus.rs`, `crates/memory-mcp/tests/fuzz_corpus.rs`).

use std::path::{Path, PathBuf};

/// The files of `fuzz/corpus/<target>/`, sorted; `crate_dir` is the including crate's
/// `CARGO_MANIFEST_DIR`.
pub fn corpus(crate_dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(crate_dir).join("../../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus file of `target` through `run`: fails when the corpus has fewer than ten
/// files, naming each file that panics; returns the files.
pub fn replay(crate_dir: &str, target: &str, run: fn(&[u8])) -> Vec<PathBuf> {
    let files = corpus(crate_dir, target);
    assert!(
        files.len() >= 10,
        "only {} files in the {target} corpus",
        files.len()
    );
    let panicked: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap_or_default();
            std::panic::catch_unwind(|| run(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        panicked.is_empty(),
        "these {target} inputs panic: {panicked:#?}"
    );
    files
}
