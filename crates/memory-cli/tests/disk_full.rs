//! The fault suite's full disk: the database on a small tmpfs that fills up under writes
//! through `memory serve` and the CLI. Every write that fails says the disk is full (no
//! panic, no bare "storage error"), nothing of it is kept, every write acknowledged before
//! is there, reads go on working, and once space is freed the same server and the CLI
//! write again, and the file passes `PRAGMA integrity_check`.
//!
//! The test mounts a tmpfs, which needs root (or CAP_SYS_ADMIN). Where mounting is not
//! allowed it says so in the test output and skips, unless `MEMORY_REQUIRE_DISK_FULL=1` is
//! set — as `.ci/run` does, so that in CI it fails rather than skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    CallFailure, KillableServer, Rng, Sandbox, add_generated_episodes, assert_intact, code,
    http_agent, panics, stderr, tool_call,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Size of the file system the database lives on.
const TMPFS_BYTES: u64 = 16 << 20;
/// A file written first and deleted to free space: the database gets the other 3 MiB.
///
/// A running store copies its WAL back into the database file only at 10,000 pages
/// (`TursoConfig::wal_autocheckpoint_pages`, ~40 MiB), so on a disk this small the WAL
/// holds nearly all of it, and the copy made when the server stops needs about as much
/// space again. The space freed here covers the writes made after it and that copy, so
/// that the store stops cleanly and has room for the import that follows.
const FILLER_BYTES: u64 = 13 << 20;
/// Bytes of output per step: about 200 steps fill the disk.
const OUTPUT_BYTES: usize = 16 << 10;
/// Steps logged at most before the disk must have filled.
const MAX_STEPS: usize = 2_000;
/// Episodes (of 8 steps) in the file imported last: more than the space left for it.
const IMPORT_EPISODES: usize = 600;

/// A tmpfs mounted on a directory for as long as this lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on `dir`; `None` (after saying why) when mounting is not
    /// permitted, unless `MEMORY_REQUIRE_DISK_FULL=1` is set (then it panics).
    fn mount(dir: &Path, bytes: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .args(["tmpfs".as_ref(), dir.as_os_str()])
            .output();
        let why = match out {
            Ok(out) if out.status.success() => return Some(Tmpfs(dir.to_path_buf())),
            Ok(out) => format!("mount exited with {}: {}", out.status, stderr(&out).trim()),
            Err(e) => format!("cannot run mount: {e}"),
        };
        if std::env::var("MEMORY_REQUIRE_DISK_FULL").is_ok_and(|v| v == "1") {
            panic!(
                "the disk-full test mounts a {bytes}-byte tmpfs on {} and could not: {why}. It \
                 needs root (or CAP_SYS_ADMIN), and MEMORY_REQUIRE_DISK_FULL=1 asks for it",
                dir.display()
            );
        }
        eprintln!(
            "SKIPPED: the disk-full test needs to mount a tmpfs (root or CAP_SYS_ADMIN) and \
             could not: {why}; set MEMORY_REQUIRE_DISK_FULL=1 to make this a failure"
        );
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds a file open there: detach it now, gone when released.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Text the database cannot shrink: pseudo-random hex.
fn noise(rng: &mut Rng, bytes: usize) -> String {
    (0..bytes / 16)
        .map(|_| format!("{:016x}", rng.next_u64()))
        .collect()
}

/// Whether `said` tells a user the disk is full and what to do, in words (not just
/// "storage error").
fn says_disk_full(said: &str) -> bool {
    said.contains("the disk holding the database is full: free space on it, then try again")
}

/// Bytes free on the file system holding `dir`, as `df` says.
fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    said.lines().last().unwrap().trim().parse().unwrap()
}

#[test]
fn a_full_disk_gives_a_clear_error_and_the_store_works_again_once_space_is_freed() {
    let started = Instant::now();
    let sb = Sandbox::new();
    let dir = sb.dir.path().join("small-disk");
    let Some(_tmpfs) = Tmpfs::mount(&dir, TMPFS_BYTES) else {
        return;
    };
    let filler = dir.join("filler");
    std::fs::write(&filler, vec![0x5a; FILLER_BYTES as usize]).unwrap();
    let db = dir.join("memory.db");
    let cli = |args: &[&str]| {
        sb.command()
            .arg("--db")
            .arg(&db)
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    let mut rng = Rng(0x00d1_5c0f_f011);

    let mut cmd = sb.command();
    cmd.arg("--db")
        .arg(&db)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    // Declared after the tmpfs: dropped (killed) first if the test fails half-way.
    let server = KillableServer::spawn(cmd, Duration::from_secs(30));
    let base = server.base.clone();
    let http = http_agent(Duration::from_secs(60));
    let call = |tool: &str, args: Value| tool_call(&http, &base, tool, args);

    // An episode kept running throughout, then episodes with big steps through the
    // server until a write is refused.
    let mut episodes: Vec<(String, Vec<(u64, String)>)> = Vec::new();
    let keep = call(
        "start_episode",
        json!({ "task": "a task that outlives the full disk" }),
    )
    .unwrap()["episode_id"]
        .as_str()
        .unwrap()
        .to_string();
    episodes.push((keep.clone(), Vec::new()));
    let mut running = vec![keep.clone()];
    let mut steps_acked = 0;
    let first_refusal = loop {
        assert!(
            steps_acked < MAX_STEPS,
            "{MAX_STEPS} steps and the disk is not full"
        );
        let last = episodes.len() - 1;
        if last == 0 || episodes[last].1.len() == 25 {
            if last > 0 {
                let id = episodes[last].0.clone();
                match call(
                    "complete_episode",
                    json!({ "episode_id": id, "outcome": "success", "verdict": "filled" }),
                ) {
                    Ok(_) => running.retain(|r| *r != id),
                    Err(e) => break ("complete_episode", e),
                }
            }
            let task = format!("fill the disk, part {last}");
            match call("start_episode", json!({ "task": task })) {
                Ok(started) => {
                    let id = started["episode_id"].as_str().unwrap().to_string();
                    running.push(id.clone());
                    episodes.push((id, Vec::new()));
                }
                Err(e) => break ("start_episode", e),
            }
            continue;
        }
        let (id, steps) = &mut episodes[last];
        let action = format!("write block {}", steps.len() + 1);
        let args = json!({ "episode_id": id, "tool": "dd", "action": action,
                           "status": "success", "output": noise(&mut rng, OUTPUT_BYTES) });
        match call("log_step", args) {
            Ok(logged) => {
                steps.push((logged["seq"].as_u64().unwrap(), action));
                steps_acked += 1;
            }
            Err(e) => break ("log_step", e),
        }
    };
    let (refused_call, refusal) = first_refusal;
    let refusal = match refusal {
        CallFailure::Tool(said) => said,
        CallFailure::Transport(why) => panic!("{refused_call} on a full disk: no answer: {why}"),
    };
    eprintln!("disk full: the server refused {refused_call}: {refusal}");
    let started_before = episodes.len();
    let completed_before = started_before - running.len();
    let acked_before = started_before + steps_acked + completed_before;

    // While the disk is full: more writes through the server and the CLI, each refused
    // with the same clear error; reads go on working.
    let mut refusals = vec![(format!("server {refused_call}"), refusal)];
    for (tool, args) in [
        (
            "log_step",
            json!({ "episode_id": keep, "tool": "dd", "action": "one more",
                    "status": "success", "output": noise(&mut rng, OUTPUT_BYTES) }),
        ),
        (
            "start_episode",
            json!({ "task": format!("another task {}", noise(&mut rng, 2048)) }),
        ),
    ] {
        match call(tool, args) {
            Err(CallFailure::Tool(said)) => refusals.push((format!("server {tool}"), said)),
            other => panic!("{tool} on a full disk: {other:?}"),
        }
    }
    // Four writers at once: committed together, refused together, each told why.
    let seeds: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
    let burst: Vec<Result<Value, CallFailure>> = std::thread::scope(|scope| {
        let writers: Vec<_> = seeds
            .iter()
            .map(|&seed| {
                let (keep, base) = (&keep, &base);
                scope.spawn(move || {
                    let http = http_agent(Duration::from_secs(60));
                    let args = json!({ "episode_id": keep, "tool": "dd",
                                       "action": format!("writer {seed}"), "status": "success",
                                       "output": noise(&mut Rng(seed), OUTPUT_BYTES) });
                    tool_call(&http, base, "log_step", args)
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for result in burst {
        match result {
            Err(CallFailure::Tool(said)) => {
                refusals.push(("server log_step (4 at once)".into(), said))
            }
            other => panic!("log_step among four on a full disk: {other:?}"),
        }
    }
    let out = cli(&[
        "episode",
        "step",
        &keep,
        "--tool",
        "dd",
        "--action",
        "from the cli",
        "--status",
        "success",
        "--output",
        &noise(&mut rng, OUTPUT_BYTES),
    ]);
    assert_eq!(code(&out), 1, "cli step on a full disk: {}", stderr(&out));
    refusals.push(("cli episode step".into(), stderr(&out)));
    let out = cli(&["episode", "start", "--task", &noise(&mut rng, 4000)]);
    assert_eq!(code(&out), 1, "cli start on a full disk: {}", stderr(&out));
    refusals.push(("cli episode start".into(), stderr(&out)));
    for (what, said) in &refusals {
        assert!(
            says_disk_full(said),
            "{what} on a full disk must say so: {said}"
        );
        assert!(!said.contains("panicked"), "{what} panicked: {said}");
        eprintln!("disk full: {what}: {}", said.trim());
    }
    let check_all = |episodes: &[(String, Vec<(u64, String)>)], when: &str| {
        for (id, steps) in episodes {
            let stored = call("get_episode", json!({ "episode_id": id }))
                .unwrap_or_else(|e| panic!("{when}: episode {id}: {e:?}"));
            let stored: Vec<(u64, String)> = stored["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["seq"].as_u64().unwrap(),
                        s["action"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            // Exactly the acknowledged steps: a refused one left nothing.
            assert_eq!(
                &stored[..steps.len().min(stored.len())],
                &steps[..],
                "{when}: {id}"
            );
            assert_eq!(
                stored.len(),
                steps.len(),
                "{when}: {id}: a refused step was stored"
            );
        }
        let listed = cli(&["episode", "list", "--limit", "1000"]);
        assert!(listed.status.success(), "{when}: list: {}", stderr(&listed));
        let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), episodes.len(), "{when}");
    };
    check_all(&episodes, "while the disk is full");
    let full_at = free_bytes(&dir);
    let size = |suffix: &str| {
        std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len())
    };
    let (db_bytes, wal_bytes) = (size(""), size("-wal"));

    // Space freed: the same server and the CLI write again.
    std::fs::remove_file(&filler).unwrap();
    let logged = call(
        "log_step",
        json!({ "episode_id": keep, "tool": "rm", "action": "after freeing space",
                "status": "success", "output": "freed" }),
    )
    .unwrap_or_else(|e| panic!("a write after freeing space: {e:?}"));
    episodes[0].1.push((
        logged["seq"].as_u64().unwrap(),
        "after freeing space".into(),
    ));
    for id in &running {
        call(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success", "verdict": "space freed" }),
        )
        .unwrap_or_else(|e| panic!("completing {id} after freeing space: {e:?}"));
    }
    let id = sb_json(&cli(&[
        "episode",
        "start",
        "--task",
        "written by the cli after",
    ]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let step = sb_json(&cli(&[
        "episode", "step", &id, "--tool", "ls", "--action", "look", "--status", "success",
    ]));
    sb_json(&cli(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "success",
        "--verdict",
        "the cli writes again",
    ]));
    episodes.push((id, vec![(step["seq"].as_u64().unwrap(), "look".into())]));
    let pack = call("retrieve_context", json!({ "query": "fill the disk" })).unwrap();
    assert!(!pack["hits"].as_array().unwrap().is_empty(), "{pack}");
    check_all(&episodes, "after freeing space");
    for (id, _) in &episodes {
        let shown = call("get_episode", json!({ "episode_id": id })).unwrap();
        assert_eq!(
            shown["outcome"]["kind"], "success",
            "{id}: every episode completed"
        );
    }
    assert_intact(&db, "after freeing space");

    // A clean stop, and the file opens again as it was.
    let log = server.terminate();
    let panicked = panics(&log);
    assert!(panicked.is_empty(), "the server panicked: {panicked:?}");
    assert_intact(&db, "after the server stopped");
    let stats = sb_json(&cli(&["stats"]));
    assert_eq!(stats["storage"]["episodes"], episodes.len(), "{stats}");
    let steps: usize = episodes.iter().map(|(_, s)| s.len()).sum();
    assert_eq!(stats["storage"]["steps"], steps, "{stats}");

    // An import larger than what is left of the disk: one transaction, refused as a whole
    // with the same words, nothing of it kept; the store takes writes again once the
    // space is back.
    let source = sb.dir.path().join("source.db");
    add_generated_episodes(&source, "imported", IMPORT_EPISODES, 8, 7);
    let file = sb.dir.path().join("big.jsonl");
    let out = sb
        .command()
        .arg("--db")
        .arg(&source)
        .args(["--namespace", "imported", "export", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let file_bytes = std::fs::metadata(&file).unwrap().len();
    let leave = 512 << 10;
    let refill = free_bytes(&dir).saturating_sub(leave);
    std::fs::write(&filler, vec![0x5a; refill as usize]).unwrap();
    assert!(
        file_bytes > 4 * leave,
        "the file ({file_bytes} bytes) must not fit"
    );
    let before = sb_json(&cli(&["stats"]))["storage"].clone();
    let out = cli(&["import", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "an import on a full disk: {}", stderr(&out));
    let said = stderr(&out);
    assert!(
        says_disk_full(&said),
        "an import on a full disk must say so: {said}"
    );
    assert!(!said.contains("panicked"), "import panicked: {said}");
    eprintln!("disk full: cli import: {}", said.trim());
    refusals.push(("cli import".into(), said));
    let now = sb_json(&cli(&["stats"]))["storage"].clone();
    for count in ["episodes", "steps", "patterns", "sessions"] {
        assert_eq!(
            now[count], before[count],
            "{count}: nothing of the import is kept"
        );
    }
    assert_intact(&db, "after the refused import");
    std::fs::remove_file(&filler).unwrap();
    let id = sb_json(&cli(&[
        "episode",
        "start",
        "--task",
        "after the refused import",
    ]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    sb_json(&cli(&[
        "episode",
        "complete",
        &id,
        "--outcome",
        "success",
        "--verdict",
        "ok",
    ]));
    assert_intact(&db, "at the end");
    eprintln!(
        "disk full: a {} MiB tmpfs with a {} KiB filler; {acked_before} writes acknowledged \
         before the disk filled ({started_before} episodes started, {steps_acked} steps of {} \
         KiB); then {full_at} bytes free, the database file {db_bytes} bytes and its WAL \
         {wal_bytes}; {} refusals (server and CLI), each naming the \
         full disk; every acknowledged write there, none of the refused, reads answered while \
         full; after deleting the filler the same server and the CLI wrote again ({} \
         episodes, {steps} steps, all completed); with the disk filled again to {} KiB free, \
         an import of {file_bytes} bytes refused whole, nothing of it kept, the CLI writing \
         after it once the space was back; integrity ok; {:.1} s",
        TMPFS_BYTES >> 20,
        FILLER_BYTES >> 10,
        OUTPUT_BYTES >> 10,
        refusals.len(),
        episodes.len(),
        leave >> 10,
        started.elapsed().as_secs_f64()
    );
}

/// stdout of a successful `memory --format json …`, parsed.
fn sb_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}
