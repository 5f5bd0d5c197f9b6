//! The crash suite: the real `memory` binary killed with SIGKILL at random moments — a
//! `memory serve` under eight concurrent agents, a `memory import`, a `memory reembed` —
//! and after each kill every acknowledged write is found, nothing half-written is, and the
//! database passes `PRAGMA integrity_check`.
//!
//! Kill moments and the agents' choices come from a seeded PRNG; the seed is printed and
//! `MEMORY_CRASH_SEED` repeats it. `MEMORY_CRASH_SERVER_KILLS`, `MEMORY_CRASH_IMPORT_KILLS`
//! and `MEMORY_CRASH_REEMBED_KILLS` set how many kills of each kind a run makes. Each test
//! prints its figures on stderr (`cargo test -p memory-cli --test crash -- --nocapture`);
//! RELIABILITY.md quotes them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    CallFailure, KillableServer, Rng, Sandbox, add_generated_episodes, assert_intact, env_count,
    http_agent, panics, stderr, suite_seed, tool_call,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long a restarted server may take to report its address before the restart counts
/// as hung.
const RESTART_WITHIN: Duration = Duration::from_secs(30);
/// How long one HTTP request may take before the agent gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// The server under eight agents.

const AGENTS: usize = 8;
/// Retrievals per agent namespace at most: a namespace keeps its newest 1,000 sessions,
/// and every acknowledged one must still be there at the end.
const MAX_SESSIONS_PER_AGENT: usize = 900;

/// Words the agents' tasks are made of, so that retrievals find earlier episodes and
/// completions share patterns.
const SUBJECTS: [&str; 6] = [
    "flaky checkout test",
    "slow signup endpoint",
    "broken release build",
    "memory leak in the cache",
    "timeout calling the billing API",
    "migration that locks the users table",
];
const TOOLS: [&str; 5] = ["cargo test", "grep", "edit_file", "git diff", "curl"];

/// Where a write stands for the agent that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Not sent yet.
    No,
    /// Sent, and no answer came back (the server died): it may or may not be stored.
    Unanswered,
    /// Answered with success: it must be stored.
    Acknowledged,
    /// Sent again after the crash and refused as already done: stored, though never
    /// acknowledged.
    FoundLater,
}

impl Sent {
    fn done(self) -> bool {
        matches!(self, Sent::Acknowledged | Sent::FoundLater)
    }
}

/// One episode an agent started (its start acknowledged), and what it knows of its writes.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    /// The retrieval session the agent reports feedback on, if it retrieved first.
    session: Option<String>,
    /// The episode was started from the session: its completion records the feedback.
    auto_feedback: bool,
    /// A pattern of the retrieval to report as applied.
    applied: Vec<String>,
    planned_steps: usize,
    /// `log_step` calls sent, answered or not.
    steps_sent: usize,
    /// Acknowledged steps: `(seq, action)`.
    steps: Vec<(u64, String)>,
    /// Actions of steps sent without an answer.
    unanswered: Vec<String>,
    outcome: &'static str,
    completion: Sent,
    feedback: Sent,
    /// The last cycle in which the agent sent anything for it.
    touched: usize,
}

/// Acknowledged writes, by kind.
#[derive(Debug, Clone, Copy, Default)]
struct Acks {
    retrievals: u64,
    starts: u64,
    steps: u64,
    completions: u64,
    feedback: u64,
}

impl Acks {
    fn total(&self) -> u64 {
        self.retrievals + self.starts + self.steps + self.completions + self.feedback
    }

    fn add(&mut self, other: &Acks) {
        self.retrievals += other.retrievals;
        self.starts += other.starts;
        self.steps += other.steps;
        self.completions += other.completions;
        self.feedback += other.feedback;
    }
}

/// One agent: its namespace, choices and ledger, carried from one server life to the next.
struct Agent {
    index: usize,
    ns: String,
    rng: Rng,
    episodes: Vec<Tracked>,
    /// Sessions of acknowledged retrievals.
    sessions: Vec<String>,
    /// The episode in progress (an index into `episodes`).
    open: Option<usize>,
    acks: Acks,
}

impl Agent {
    fn new(index: usize, seed: u64) -> Agent {
        Agent {
            index,
            ns: format!("agent-{index}"),
            rng: Rng(seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9)),
            episodes: Vec::new(),
            sessions: Vec::new(),
            open: None,
            acks: Acks::default(),
        }
    }

    /// Works against the server at `base` until a call gets no answer. A tool error is a
    /// failure of the test, and so is a call without an answer before the kill.
    fn work(&mut self, base: &str, cycle: usize, killed: &AtomicBool) -> Result<(), String> {
        let http = http_agent(REQUEST_TIMEOUT);
        loop {
            match self.next_call(&http, base, cycle) {
                Ok(()) => {}
                Err(CallFailure::Transport(why)) => {
                    return if killed.load(Ordering::SeqCst) {
                        Ok(())
                    } else {
                        Err(format!(
                            "agent {} got no answer from a live server: {why}",
                            self.index
                        ))
                    };
                }
                Err(CallFailure::Tool(said)) => {
                    return Err(format!("agent {}: tool error: {said}", self.index));
                }
            }
        }
    }

    /// The agent's next call: a retrieval and a start, a step, the completion, feedback.
    fn next_call(
        &mut self,
        http: &ureq::Agent,
        base: &str,
        cycle: usize,
    ) -> Result<(), CallFailure> {
        let ns = self.ns.clone();
        let Some(open) = self.open else {
            let n = self.episodes.len();
            let subject = SUBJECTS[self.rng.below(SUBJECTS.len() as u64) as usize];
            let task = format!("fix the {subject} (agent {} task {n})", self.index);
            let (mut session, mut applied) = (None, Vec::new());
            if self.sessions.len() < MAX_SESSIONS_PER_AGENT {
                let pack = tool_call(
                    http,
                    base,
                    "retrieve_context",
                    json!({ "query": task, "namespace": ns, "context": { "domain": "web-api" } }),
                )?;
                let id = pack["session_id"].as_str().unwrap().to_string();
                self.sessions.push(id.clone());
                self.acks.retrievals += 1;
                if let Some(p) = pack["patterns"][0]["id"].as_str() {
                    applied.push(p.to_string());
                }
                session = Some(id);
            }
            let auto_feedback = session.is_some() && self.rng.chance(0.5);
            let mut args = json!({ "task": task, "namespace": ns,
                                   "context": { "domain": "web-api", "language": "rust" },
                                   "tags": [format!("agent-{}", self.index)] });
            if auto_feedback {
                args["session_id"] = json!(session);
            }
            let started = tool_call(http, base, "start_episode", args)?;
            self.acks.starts += 1;
            self.episodes.push(Tracked {
                id: started["episode_id"].as_str().unwrap().to_string(),
                session,
                auto_feedback,
                applied,
                planned_steps: self.rng.between(1, 6) as usize,
                steps_sent: 0,
                steps: Vec::new(),
                unanswered: Vec::new(),
                outcome: if self.rng.chance(0.7) {
                    "success"
                } else {
                    "failure"
                },
                completion: Sent::No,
                feedback: Sent::No,
                touched: cycle,
            });
            self.open = Some(n);
            return Ok(());
        };
        let failing = self.rng.chance(0.2);
        let tool = TOOLS[self.rng.below(TOOLS.len() as u64) as usize];
        let ep = &mut self.episodes[open];
        ep.touched = cycle;
        if ep.completion == Sent::No && ep.steps_sent < ep.planned_steps {
            ep.steps_sent += 1;
            let action = format!("attempt {}", ep.steps_sent);
            let mut args = json!({ "episode_id": ep.id, "namespace": ns, "tool": tool,
                                   "action": action, "latency_ms": 40 });
            if failing {
                args["status"] = json!("error");
                args["error"] = json!("exit status 101: 3 tests failed");
            } else {
                args["status"] = json!("success");
                args["output"] = json!("ok");
            }
            let logged = match tool_call(http, base, "log_step", args) {
                Ok(logged) => logged,
                Err(e) => {
                    ep.unanswered.push(action);
                    return Err(e);
                }
            };
            ep.steps.push((logged["seq"].as_u64().unwrap(), action));
            self.acks.steps += 1;
            return Ok(());
        }
        if !ep.completion.done() {
            let again = ep.completion == Sent::Unanswered;
            ep.completion = Sent::Unanswered;
            let mut args = json!({ "episode_id": ep.id, "namespace": ns, "outcome": ep.outcome });
            if ep.outcome == "success" {
                args["verdict"] = json!("the tests pass again");
            } else {
                args["reason"] = json!("could not reproduce it");
            }
            match tool_call(http, base, "complete_episode", args) {
                Ok(_) => {
                    ep.completion = Sent::Acknowledged;
                    self.acks.completions += 1;
                }
                // Sent before the crash, stored, never answered: now refused as done.
                Err(CallFailure::Tool(said)) if again && said.contains("conflict") => {
                    ep.completion = Sent::FoundLater;
                }
                Err(e) => return Err(e),
            }
            if ep.auto_feedback {
                ep.feedback = ep.completion;
            }
            return Ok(());
        }
        if let (Some(session), false) = (&ep.session, ep.feedback.done()) {
            let again = ep.feedback == Sent::Unanswered;
            ep.feedback = Sent::Unanswered;
            let args = json!({ "session_id": session, "namespace": ns, "outcome": ep.outcome,
                               "applied": ep.applied });
            match tool_call(http, base, "record_feedback", args) {
                Ok(_) => {
                    ep.feedback = Sent::Acknowledged;
                    self.acks.feedback += 1;
                }
                Err(CallFailure::Tool(said)) if again && said.contains("already recorded") => {
                    ep.feedback = Sent::FoundLater;
                }
                Err(e) => return Err(e),
            }
            return Ok(());
        }
        self.open = None;
        Ok(())
    }
}

/// Checks, through the server at `base`, that `ep` holds every acknowledged write and
/// nothing that was never sent: the acknowledged steps at their `seq`, no more steps than
/// were sent, `seq` dense, the outcome once the completion was acknowledged. Returns how
/// many acknowledged writes it found (start, steps, completion).
fn verify_episode(http: &ureq::Agent, base: &str, ns: &str, ep: &Tracked) -> Result<u64, String> {
    let stored = tool_call(
        http,
        base,
        "get_episode",
        json!({ "episode_id": ep.id, "namespace": ns }),
    )
    .map_err(|e| format!("episode {} of {ns} (acknowledged) is missing: {e:?}", ep.id))?;
    let steps = stored["steps"].as_array().unwrap();
    let seqs: Vec<u64> = steps.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
    if seqs != (1..=steps.len() as u64).collect::<Vec<_>>() {
        return Err(format!("episode {}: seq not dense: {seqs:?}", ep.id));
    }
    if steps.len() < ep.steps.len() || steps.len() > ep.steps_sent {
        return Err(format!(
            "episode {}: {} steps stored, {} acknowledged, {} sent",
            ep.id,
            steps.len(),
            ep.steps.len(),
            ep.steps_sent
        ));
    }
    for (seq, action) in &ep.steps {
        let got = &steps[*seq as usize - 1]["action"];
        if got != action {
            return Err(format!(
                "episode {}: step {seq} is {got}, acknowledged as {action:?}",
                ep.id
            ));
        }
    }
    // A step stored without its acknowledgement is one sent just before a kill.
    for step in steps {
        let action = step["action"].as_str().unwrap();
        let acknowledged = ep
            .steps
            .iter()
            .any(|(seq, a)| step["seq"] == *seq && a == action);
        if !acknowledged && !ep.unanswered.iter().any(|a| a == action) {
            return Err(format!("episode {}: step {step} was never sent", ep.id));
        }
    }
    let kind = stored["outcome"]["kind"].as_str();
    match ep.completion {
        Sent::Acknowledged | Sent::FoundLater if kind != Some(ep.outcome) => {
            return Err(format!(
                "episode {}: completed as {} (acknowledged), stored outcome {kind:?}",
                ep.id, ep.outcome
            ));
        }
        Sent::Unanswered if kind.is_some_and(|k| k != ep.outcome) => {
            return Err(format!(
                "episode {}: outcome {kind:?}, sent {}",
                ep.id, ep.outcome
            ));
        }
        Sent::No if kind.is_some() => {
            return Err(format!("episode {}: completed, never sent", ep.id));
        }
        _ => {}
    }
    Ok(1 + ep.steps.len() as u64 + u64::from(ep.completion == Sent::Acknowledged))
}

/// Checks an agent's retrieval sessions and feedback in an export of its namespace: every
/// acknowledged retrieval's session is there, with the feedback acknowledged for it.
/// Returns how many acknowledged writes it found (sessions, explicit feedback).
fn verify_sessions(sb: &Sandbox, agent: &Agent) -> Result<u64, String> {
    let out = sb.run(&["--namespace", &agent.ns, "export"]);
    if !out.status.success() {
        return Err(format!("export of {} failed: {}", agent.ns, stderr(&out)));
    }
    let mut sessions: HashMap<String, Value> = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "session" {
            let id = v["record"]["id"].as_str().unwrap().to_string();
            sessions.insert(id, v["record"]["feedback"].clone());
        }
    }
    let mut found = 0;
    for id in &agent.sessions {
        if !sessions.contains_key(id) {
            return Err(format!(
                "{}: session {id} (acknowledged) is missing",
                agent.ns
            ));
        }
        found += 1;
    }
    for ep in &agent.episodes {
        let Some(session) = &ep.session else { continue };
        let stored = sessions[session]["outcome"].as_str();
        // Feedback reported by the completion stands where the completion stands.
        let feedback = if ep.auto_feedback {
            ep.completion
        } else {
            ep.feedback
        };
        match feedback {
            Sent::Acknowledged | Sent::FoundLater if stored != Some(ep.outcome) => {
                return Err(format!(
                    "{}: feedback {} on session {session} (acknowledged), stored {stored:?}",
                    agent.ns, ep.outcome
                ));
            }
            Sent::No if stored.is_some() => {
                return Err(format!("{}: feedback on {session} never sent", agent.ns));
            }
            _ => {}
        }
        found += u64::from(ep.feedback == Sent::Acknowledged && !ep.auto_feedback);
    }
    Ok(found)
}

fn serve(sb: &Sandbox) -> KillableServer {
    let mut cmd = sb.command();
    cmd.arg("--db")
        .arg(sb.db())
        .args(["serve", "--listen", "127.0.0.1:0"]);
    KillableServer::spawn(cmd, RESTART_WITHIN)
}

#[test]
fn a_server_killed_under_eight_agents_loses_no_acknowledged_write() {
    let started = Instant::now();
    let seed = suite_seed("crash suite, server");
    let kills = env_count("MEMORY_CRASH_SERVER_KILLS", 40);
    let mut rng = Rng(seed);
    let sb = Sandbox::new();
    let mut agents: Vec<Agent> = (0..AGENTS).map(|i| Agent::new(i, seed)).collect();
    let mut logs = Vec::new();
    let mut integrity_checks = 0;
    let mut verified_per_cycle = 0u64;
    let mut slowest_restart = Duration::ZERO;
    let mut acks_at_kill = Vec::new();

    for cycle in 0..=kills {
        let restart = Instant::now();
        let server = serve(&sb);
        slowest_restart = slowest_restart.max(restart.elapsed());
        let http = http_agent(REQUEST_TIMEOUT);
        // What the last life acknowledged is all there, and the file is sound.
        for agent in &agents {
            for ep in agent.episodes.iter().filter(|e| e.touched == cycle) {
                verified_per_cycle += verify_episode(&http, &server.base, &agent.ns, ep)
                    .unwrap_or_else(|e| panic!("after kill {cycle} (seed {seed}): {e}"));
            }
        }
        assert_intact(&sb.db(), &format!("after kill {cycle} (seed {seed})"));
        integrity_checks += 1;
        if cycle == kills {
            // The last life: every write acknowledged in every life, then a clean stop.
            let mut found = 0;
            for agent in &agents {
                for ep in &agent.episodes {
                    found += verify_episode(&http, &server.base, &agent.ns, ep)
                        .unwrap_or_else(|e| panic!("at the end (seed {seed}): {e}"));
                }
            }
            logs.extend(server.terminate());
            for agent in &agents {
                found += verify_sessions(&sb, agent)
                    .unwrap_or_else(|e| panic!("at the end (seed {seed}): {e}"));
            }
            assert_intact(&sb.db(), "after the clean stop");
            integrity_checks += 1;
            let mut acks = Acks::default();
            for agent in &agents {
                acks.add(&agent.acks);
            }
            assert_eq!(
                found,
                acks.total(),
                "every acknowledged write was counted as found"
            );
            let panicked = panics(&logs);
            assert!(panicked.is_empty(), "the server panicked: {panicked:?}");
            let unanswered_found = agents
                .iter()
                .flat_map(|a| &a.episodes)
                .filter(|e| e.completion == Sent::FoundLater)
                .count();
            acks_at_kill.sort_unstable();
            eprintln!(
                "crash suite, server: {kills} kills -9 of `memory serve` under {AGENTS} agents \
                 (each after 30..1200 ms of their work), {} starts on the same file (slowest \
                 {:.2} s to serve); {} writes acknowledged ({} retrievals, {} starts, {} steps, \
                 {} completions, {} explicit feedback), {} found at the end; after each \
                 restart the episode writes of the life before checked at once ({} checks); \
                 {} completions whose answer the kill cut off found stored; acknowledged writes \
                 per life: median {}, max {}; {integrity_checks} integrity checks ok; seed \
                 {seed}; {:.1} s",
                kills + 1,
                slowest_restart.as_secs_f64(),
                acks.total(),
                acks.retrievals,
                acks.starts,
                acks.steps,
                acks.completions,
                acks.feedback,
                found,
                verified_per_cycle,
                unanswered_found,
                acks_at_kill[acks_at_kill.len() / 2],
                acks_at_kill.last().unwrap(),
                started.elapsed().as_secs_f64()
            );
            return;
        }

        // Eight agents at work; SIGKILL at a random moment.
        let before: u64 = agents.iter().map(|a| a.acks.total()).sum();
        let killed = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = agents
            .drain(..)
            .map(|mut agent| {
                let base = server.base.clone();
                let killed = Arc::clone(&killed);
                thread::spawn(move || {
                    let result = agent.work(&base, cycle + 1, &killed);
                    (agent, result)
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(rng.between(30, 1200)));
        killed.store(true, Ordering::SeqCst);
        logs.extend(server.kill9());
        for worker in workers {
            let (agent, result) = worker.join().unwrap();
            if let Err(e) = result {
                panic!("cycle {cycle} (seed {seed}): {e}");
            }
            agents.push(agent);
        }
        let after: u64 = agents.iter().map(|a| a.acks.total()).sum();
        acks_at_kill.push(after - before);
    }
}

// ---------------------------------------------------------------------------------------
// Killing one-shot commands.

/// `memory --db DB --format json ARGS`, as a command not yet started.
fn memory(sb: &Sandbox, db: &Path, args: &[&str]) -> Command {
    let mut cmd = sb.command();
    cmd.arg("--db")
        .arg(db)
        .args(["--format", "json"])
        .args(args);
    cmd
}

/// Runs `memory --db DB --format json ARGS` to its end.
fn run(sb: &Sandbox, db: &Path, args: &[&str]) -> Output {
    memory(sb, db, args).output().unwrap()
}

/// Runs it and parses stdout, asserting success.
fn json_of(sb: &Sandbox, db: &Path, args: &[&str]) -> Value {
    let out = run(sb, db, args);
    assert!(
        out.status.success(),
        "memory {args:?} failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The store's row counts that tell an import's states apart.
fn counts(sb: &Sandbox, db: &Path) -> [u64; 4] {
    let stats = json_of(sb, db, &["stats"]);
    let s = &stats["storage"];
    ["episodes", "steps", "patterns", "sessions"].map(|k| s[k].as_u64().unwrap())
}

/// Starts `cmd` with its output discarded, waits a random moment below `window` (one time
/// in four below its first eighth, where the process opens the store and starts its
/// first transaction), and kills it with SIGKILL if it is still running: `true` if it was
/// killed, `false` if it had finished (its exit status is then checked). A run that
/// finishes before its kill shrinks `window` to its own duration, so that a window
/// measured on a busy machine does not leave most runs unkilled once it is quieter.
fn kill_at_random(mut cmd: Command, window: &mut Duration, rng: &mut Rng) -> bool {
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let span = window.as_micros() as u64 / if rng.chance(0.25) { 8 } else { 1 };
    let started = Instant::now();
    let at = started + Duration::from_micros(rng.below(span + 1));
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut said = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
            assert!(
                status.success(),
                "finished before the kill, failing: {said}"
            );
            *window = (*window).min(started.elapsed());
            return false;
        }
        let now = Instant::now();
        if now >= at {
            break;
        }
        thread::sleep((at - now).min(Duration::from_millis(2)));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let dst = PathBuf::from(format!("{}{suffix}", to.display()));
        let _ = std::fs::remove_file(&dst);
        let src = PathBuf::from(format!("{}{suffix}", from.display()));
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Import.

/// Episodes in the file the import test imports (plus the demo's dozen).
const IMPORT_EPISODES: usize = 800;

/// `memory import` is all or nothing: acknowledged means exit 0, and then the namespace
/// exports to the very bytes imported. A killed import leaves either nothing of the file
/// (the store's counts those of before, and the import can be run again: exit 0, every
/// record) or — killed after its commit — all of it (the same bytes; running it again is a
/// conflict that changes nothing). Never a part. What was in the store before is untouched
/// either way.
#[test]
fn an_import_killed_at_random_moments_keeps_all_of_the_file_or_nothing() {
    let started = Instant::now();
    let seed = suite_seed("crash suite, import");
    let kills_wanted = env_count("MEMORY_CRASH_IMPORT_KILLS", 32);
    let mut rng = Rng(seed);
    let sb = Sandbox::new();
    let dir = sb.dir.path();

    // The file: the demo's episodes, patterns, baselines and session, plus generated
    // episodes with their steps, in namespace `imported`.
    let source = dir.join("source.db");
    json_of(&sb, &source, &["--namespace", "imported", "demo"]);
    add_generated_episodes(&source, "imported", IMPORT_EPISODES, 8, seed);
    let file = dir.join("imported.jsonl");
    let exported = json_of(
        &sb,
        &source,
        &[
            "--namespace",
            "imported",
            "export",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let file_bytes = std::fs::read(&file).unwrap();
    let records = exported["episodes"].as_u64().unwrap();
    // The store it goes into already holds another namespace.
    let base = dir.join("base.db");
    json_of(&sb, &base, &["--namespace", "resident", "demo"]);
    let resident = run(&sb, &base, &["--namespace", "resident", "export"]).stdout;
    let before = counts(&sb, &base);

    let target = dir.join("target.db");
    let import = || memory(&sb, &target, &["import", file.to_str().unwrap()]);
    let check_all = |when: &str| {
        let again = run(&sb, &target, &["--namespace", "imported", "export"]);
        assert!(again.status.success(), "{when}: {}", stderr(&again));
        assert!(
            again.stdout == file_bytes,
            "{when}: the import is not what was exported"
        );
        let kept = run(&sb, &target, &["--namespace", "resident", "export"]).stdout;
        assert!(kept == resident, "{when}: the resident namespace changed");
    };

    // Once uninterrupted: how long an import takes, and what all of it looks like.
    copy_db(&base, &target);
    let t = Instant::now();
    let out = import().output().unwrap();
    let mut window = t.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["episodes"].as_u64(), Some(records));
    let after = counts(&sb, &target);
    check_all("uninterrupted");

    let measured = window;
    let (mut kills, mut finished, mut none, mut all, mut reruns, mut checks) = (0, 0, 0, 0, 0, 0);
    let mut on_same_file = 0;
    let mut longest_run = 0;
    copy_db(&base, &target);
    while kills < kills_wanted {
        if !kill_at_random(import(), &mut window, &mut rng) {
            // It finished first: an acknowledged import, all of it there.
            finished += 1;
            assert_eq!(
                counts(&sb, &target),
                after,
                "a finished import (seed {seed})"
            );
            copy_db(&base, &target);
            on_same_file = 0;
            continue;
        }
        kills += 1;
        let when = format!("after import kill {kills} (seed {seed})");
        assert_intact(&target, &when);
        checks += 1;
        let now = counts(&sb, &target);
        if now == before {
            none += 1;
            on_same_file += 1;
            longest_run = longest_run.max(on_same_file);
            // Left as it is, the next kill hits a file that already survived some; now and
            // then, and at the end, the import runs to its end on it.
            if rng.chance(0.2) || kills == kills_wanted {
                let out = import().output().unwrap();
                assert!(out.status.success(), "{when}: rerun: {}", stderr(&out));
                let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(summary["episodes"].as_u64(), Some(records), "{when}");
                assert_eq!(counts(&sb, &target), after, "{when}");
                check_all(&format!("{when}: rerun"));
                assert_intact(&target, &format!("{when}: rerun"));
                checks += 1;
                reruns += 1;
                copy_db(&base, &target);
                on_same_file = 0;
            }
        } else if now == after {
            // Killed after its commit, before it could say so.
            all += 1;
            check_all(&format!("{when}: committed"));
            let out = import().output().unwrap();
            assert_eq!(
                common::code(&out),
                4,
                "{when}: a second import conflicts: {}",
                stderr(&out)
            );
            assert_eq!(
                counts(&sb, &target),
                after,
                "{when}: a refused import changes nothing"
            );
            copy_db(&base, &target);
            on_same_file = 0;
        } else {
            panic!(
                "{when}: a part of the import is stored: counts (episodes, steps, patterns, \
                 sessions) {now:?}, before {before:?}, all {after:?}"
            );
        }
    }
    eprintln!(
        "crash suite, import: {kills} kills -9 of `memory import` ({records} episodes, {} \
         bytes; an uninterrupted import took {:.2} s, kill moments uniform over {:.2} s), \
         {finished} more runs finished before their kill; after a kill the store held nothing \
         of the file {none} times and all of it (killed after the commit) {all} times, never \
         a part; up to {longest_run} kills in a row on one file; {reruns} reruns to the end \
         after a kill (exit 0, every record, the same bytes exported); {checks} integrity \
         checks ok; seed {seed}; {:.1} s",
        file_bytes.len(),
        measured.as_secs_f64(),
        window.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// Re-embed.

/// Completed episodes the re-embed test's store holds.
const REEMBED_EPISODES: usize = 300;
const EMBEDDERS: [(&str, &str); 2] = [("hash:64", "hash-v1-64"), ("hash:96", "hash-v1-96")];

/// `memory reembed` switches the store's embedder: it declares the new vector space (the
/// old vectors dropped in the same transaction) and embeds the episodes batch by batch. A
/// kill leaves the store in one space or the other — never a mix — with every episode,
/// retrieval working with that space's embedder, and a rerun finishing the job.
#[test]
fn a_reembed_killed_at_random_moments_leaves_a_store_that_retrieves_and_finishes() {
    let started = Instant::now();
    let seed = suite_seed("crash suite, reembed");
    let kills_wanted = env_count("MEMORY_CRASH_REEMBED_KILLS", 32);
    let mut rng = Rng(seed);
    let sb = Sandbox::new();
    let db = sb.db();
    add_generated_episodes(&db, "default", REEMBED_EPISODES, 6, seed);
    let n = REEMBED_EPISODES as u64;

    let reembed = |embedder: &str, extra: &[&str]| {
        let mut args = vec!["--embedder", embedder, "reembed", "--batch", "64"];
        args.extend_from_slice(extra);
        memory(&sb, &db, &args)
    };
    // Once uninterrupted: how long it takes.
    let t = Instant::now();
    let out = reembed(EMBEDDERS[0].0, &[]).output().unwrap();
    let mut window = t.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["episodes"].as_u64(), Some(n));
    // Chunk vectors of every episode: the same count whichever hashing embedder made them.
    let vectors_of = || {
        let stats = json_of(&sb, &db, &["stats"]);
        let s = &stats["storage"];
        [
            s["vectors"].as_u64().unwrap(),
            s["episodes_without_vectors"].as_u64().unwrap(),
            s["episodes"].as_u64().unwrap(),
        ]
    };
    let [all_vectors, without, episodes] = vectors_of();
    assert_eq!((without, episodes), (0, n));

    // Which embedder the store's vectors now come from, checked by retrieving with it:
    // `target` or, if the kill came before the switch committed, `previous`.
    let retrieve = |embedder: &str| {
        run(
            &sb,
            &db,
            &[
                "--embedder",
                embedder,
                "retrieve",
                "the checkout test times out",
                "--no-session",
            ],
        )
    };
    let space_of = |target: usize, previous: usize, when: &str| -> usize {
        for (i, which) in [target, previous].into_iter().enumerate() {
            let out = retrieve(EMBEDDERS[which].0);
            if out.status.success() {
                let pack: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert!(
                    !pack["hits"].as_array().unwrap().is_empty(),
                    "{when}: retrieval found nothing: {pack}"
                );
                return which;
            }
            let said = stderr(&out);
            assert!(
                i == 0 && common::code(&out) == 4 && said.contains(EMBEDDERS[previous].1),
                "{when}: retrieval failed: {said}"
            );
        }
        unreachable!()
    };

    let measured = window;
    let (mut kills, mut finished, mut switched, mut not_yet, mut reruns, mut checks) =
        (0, 0, 0, 0, 0, 0);
    let mut space = 0;
    while kills < kills_wanted {
        let target = 1 - space;
        if !kill_at_random(reembed(EMBEDDERS[target].0, &[]), &mut window, &mut rng) {
            // It finished first: every episode has its vectors from the new embedder.
            finished += 1;
            assert_eq!(
                vectors_of(),
                [all_vectors, 0, n],
                "a finished reembed (seed {seed})"
            );
            space = space_of(target, space, "a finished reembed");
            assert_eq!(space, target);
            continue;
        }
        kills += 1;
        let when = format!("after reembed kill {kills} (seed {seed})");
        assert_intact(&db, &when);
        checks += 1;
        let [vectors, without, episodes] = vectors_of();
        assert_eq!(episodes, n, "{when}");
        assert!(
            without <= n && (vectors == 0) == (without == n) && vectors <= all_vectors,
            "{when}: {vectors} vectors, {without} of {n} episodes without"
        );
        let now = space_of(target, space, &when);
        if now == target {
            switched += 1;
        } else {
            not_yet += 1;
        }
        space = now;
        // Now and then, and at the end, the job is finished on what the kill left.
        if rng.chance(0.2) || kills == kills_wanted {
            let out = reembed(EMBEDDERS[space].0, &["--missing"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{when}: rerun: {}", stderr(&out));
            assert_eq!(vectors_of(), [all_vectors, 0, n], "{when}: after the rerun");
            assert_intact(&db, &when);
            checks += 1;
            reruns += 1;
        }
    }
    // And a whole rerun of the last switch completes.
    let out = reembed(EMBEDDERS[space].0, &[]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["episodes"].as_u64(), Some(n));
    assert_eq!(
        vectors_of(),
        [all_vectors, 0, n],
        "after the last full reembed"
    );
    assert_eq!(space_of(space, 1 - space, "at the end"), space);
    assert_intact(&db, "at the end");
    checks += 1;
    eprintln!(
        "crash suite, reembed: {kills} kills -9 of `memory reembed` switching {n} episodes \
         between hash:64 and hash:96 (batches of 64; an uninterrupted run took {:.2} s, kill \
         moments uniform over {:.2} s), {finished} more runs finished before their kill; after \
         a kill the store was in the new embedder's space {switched} times and still in the \
         old one {not_yet} times, every episode there and retrieval answering with that \
         space's embedder; {reruns} reruns with --missing after a kill and a final full \
         reembed completed with every vector; {checks} integrity checks ok; seed {seed}; \
         {:.1} s",
        measured.as_secs_f64(),
        window.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
