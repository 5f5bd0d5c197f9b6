//! End-to-end: `memory serve` on several "machines", each reading one libSQL server (`sqld`,
//! started with a JWT key on a free loopback port) through an embedded replica of its own
//! (`--replica FILE`), as a team whose agents run on several machines deploys it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, Served, stderr};
use memory_test_server::Sqld;
use serde_json::{Value, json};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// A `memory serve` reading `url` through the replica file `replica`.
struct Machine {
    served: Served,
}

impl Machine {
    fn start(sb: &Sandbox, server: &Sqld, replica: &Path) -> Machine {
        let mut cmd = sb.command();
        cmd.args(["--db", &server.url, "--db-auth-token", &server.token])
            .arg("--replica")
            .arg(replica)
            .args(["--sync-interval", "0.2", "--db-timeout", "3"])
            .args(["serve", "--listen", "127.0.0.1:0"]);
        Machine {
            served: Served::spawn(cmd),
        }
    }

    /// Calls an MCP tool; `Ok` with its structured result, `Err` with the tool's error text.
    fn try_call(&self, tool: &str, args: Value) -> Result<Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .into();
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": { "name": tool, "arguments": args } });
        let mut resp = agent
            .post(format!("{}/mcp", self.served.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .send(body.to_string())
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        assert_eq!(status, 200, "{tool}: {text}");
        let reply: Value = serde_json::from_str(&text).unwrap();
        let result = &reply["result"];
        if result["isError"] == true {
            return Err(result["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string());
        }
        Ok(result["structuredContent"].clone())
    }

    fn call(&self, tool: &str, args: Value) -> Value {
        self.try_call(tool, args.clone())
            .unwrap_or_else(|err| panic!("{tool} {args}: {err}"))
    }

    /// Records one whole episode (start, three steps, success); returns its id.
    fn record(&self, task: &str) -> String {
        let id = self.call("start_episode", json!({ "task": task }))["episode_id"]
            .as_str()
            .unwrap()
            .to_string();
        for tool in ["checkout", "build", "test"] {
            self.call(
                "log_step",
                json!({ "episode_id": id, "tool": tool, "status": "success", "output": "ok" }),
            );
        }
        self.call(
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success", "verdict": "shipped" }),
        );
        id
    }

    /// Waits until this machine's replica holds `completed` completed episodes.
    fn wait_for(&self, completed: usize) {
        let asked = Instant::now();
        loop {
            let stats = self.call("memory_stats", json!({}));
            if stats["counts"]["success"] == completed {
                return;
            }
            assert!(
                asked.elapsed() < Duration::from_secs(20),
                "{} never saw {completed} completed episodes: {stats}",
                self.served.base
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn terminate(self) {
        self.served.terminate();
    }
}

const AGENTS_PER_MACHINE: usize = 4;
const EPISODES_PER_AGENT: usize = 3;

#[test]
fn two_machines_with_replicas_share_every_episode_and_pattern() {
    let sb = Sandbox::new();
    let Some(server) = Sqld::start(sb.dir.path(), "two machines with replicas") else {
        return;
    };
    let machines = [
        Machine::start(&sb, &server, &sb.dir.path().join("machine-a.db")),
        Machine::start(&sb, &server, &sb.dir.path().join("machine-b.db")),
    ];
    let ids: Vec<String> = thread::scope(|scope| {
        let agents: Vec<_> = machines
            .iter()
            .enumerate()
            .flat_map(|(m, machine)| {
                (0..AGENTS_PER_MACHINE).map(move |a| {
                    scope.spawn(move || {
                        (0..EPISODES_PER_AGENT)
                            .map(|i| {
                                machine.record(&format!(
                                    "machine {m} agent {a} task {i}: ship the release build"
                                ))
                            })
                            .collect::<Vec<_>>()
                    })
                })
            })
            .collect();
        agents
            .into_iter()
            .flat_map(|agent| agent.join().unwrap())
            .collect()
    });
    let total = 2 * AGENTS_PER_MACHINE * EPISODES_PER_AGENT;
    assert_eq!(ids.len(), total);

    for machine in &machines {
        machine.wait_for(total);
        for id in &ids {
            let episode = machine.call("get_episode", json!({ "episode_id": id }));
            assert_eq!(episode["steps"].as_array().unwrap().len(), 3, "{episode}");
            assert_eq!(episode["outcome"]["kind"], "success", "{episode}");
        }
        // The one tool sequence every episode followed was merged from both machines.
        let listed = machine.call(
            "list_patterns",
            json!({ "kind": "tool_sequence", "min_episodes": 1, "limit": 50 }),
        );
        let full = listed["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pattern"]["tools"] == json!(["checkout", "build", "test"]))
            .unwrap_or_else(|| panic!("no checkout→build→test pattern: {listed}"));
        assert_eq!(full["episodes"], total, "{full}");
    }
    for machine in machines {
        machine.terminate();
    }
}

#[test]
fn a_machine_keeps_reading_through_a_server_outage_and_loses_nothing_acknowledged() {
    let sb = Sandbox::new();
    let Some(mut server) = Sqld::start(sb.dir.path(), "replica outage") else {
        return;
    };
    let machine = Machine::start(&sb, &server, &sb.dir.path().join("machine.db"));
    let before: Vec<String> = (0..3)
        .map(|i| machine.record(&format!("before the outage {i}: rotate the keys")))
        .collect();

    server.stop();
    // Reads are answered from the replica; writes fail cleanly, naming the server.
    for id in &before {
        let episode = machine.call("get_episode", json!({ "episode_id": id }));
        assert_eq!(episode["steps"].as_array().unwrap().len(), 3);
    }
    let pack = machine.call("retrieve_context", json!({ "query": "rotate the keys" }));
    assert!(!pack.is_null());
    let refused = machine
        .try_call("start_episode", json!({ "task": "during the outage" }))
        .unwrap_err();
    assert!(refused.contains(&server.url), "{refused}");

    server.start_again();
    // Writes are taken again once the replica has synced with the server.
    let asked = Instant::now();
    while machine.call("memory_stats", json!({}))["memory"]["storage"]["replica"]["server_answering"]
        != true
    {
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "no sync succeeded"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let after = machine.record("after the outage: rotate the keys again");
    machine.wait_for(4);
    for id in before.iter().chain([&after]) {
        let episode = machine.call("get_episode", json!({ "episode_id": id }));
        assert_eq!(episode["outcome"]["kind"], "success", "{episode}");
    }
    let listed = machine.call("search_episodes", json!({ "limit": 50 }));
    let running = listed["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome_kind"].is_null())
        .count();
    assert_eq!(running, 0, "a half-written episode is left: {listed}");
    machine.terminate();
}

#[test]
fn the_cli_reads_through_a_replica_and_says_so() {
    let sb = Sandbox::new();
    let Some(mut server) = Sqld::start(sb.dir.path(), "cli replica") else {
        return;
    };
    let replica = sb.dir.path().join("cli-replica.db");
    let (url, token) = (server.url.clone(), server.token.clone());
    let run = |args: &[&str]| {
        sb.command()
            .args(["--db", &url, "--db-auth-token", &token])
            .arg("--replica")
            .arg(&replica)
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap()
    };
    let shown = run(&["config", "show"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let config: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(config["db"]["kind"], "replica");
    assert_eq!(config["db"]["url"], server.url.as_str());
    assert_eq!(config["db"]["sync_interval_s"], 1.0);
    assert!(!replica.exists(), "config show made the replica");

    let started = run(&["episode", "start", "--task", "Renew the TLS certificate"]);
    assert!(started.status.success(), "{}", stderr(&started));
    let id = serde_json::from_slice::<Value>(&started.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(replica.exists());
    let stats: Value = serde_json::from_slice(&run(&["stats"]).stdout).unwrap();
    assert_eq!(
        stats["storage"]["backend"],
        "libsql (server, read through an embedded replica)"
    );
    let synced = &stats["storage"]["replica"];
    assert!(synced["syncs"].as_u64().unwrap() >= 1, "{synced}");
    assert_eq!(synced["server_answering"], true);
    assert_eq!(synced["path"], replica.display().to_string().as_str());

    // The demo suggests a command line that reads the same replica.
    let demo = sb
        .command()
        .args(["--db", &url, "--db-auth-token", &token])
        .arg("--replica")
        .arg(&replica)
        .arg("demo")
        .output()
        .unwrap();
    assert!(demo.status.success(), "{}", stderr(&demo));
    let said = String::from_utf8_lossy(&demo.stdout);
    let suggested = format!(
        "memory --db {url} --replica {} episode list",
        replica.display()
    );
    assert!(said.contains(&suggested), "{said}");

    server.stop();
    let shown = run(&["episode", "show", &id]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let refused = run(&["episode", "start", "--task", "during the outage"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(&server.url),
        "{}",
        stderr(&refused)
    );

    let misused = sb
        .command()
        .args(["--db", "memory.db", "--replica", "r.db", "episode", "list"])
        .output()
        .unwrap();
    assert_eq!(misused.status.code(), Some(2));
    assert!(
        stderr(&misused).contains("--replica"),
        "{}",
        stderr(&misused)
    );
}
