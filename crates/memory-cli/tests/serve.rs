//! End-to-end tests of `memory serve` and `memory mcp`: the real binary, real sockets on
//! loopback, real processes sharing one database file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, Served, code, stderr};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::thread;

const TOKEN: &str = "e2e-token-0123456789abcdef";

/// `memory serve` on the sandbox's database file, with `extra` arguments.
fn serve(sb: &Sandbox, extra: &[&str]) -> Served {
    let mut cmd = sb.command();
    cmd.arg("--db")
        .arg(sb.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra);
    Served::spawn(cmd)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

/// Calls an MCP tool over HTTP and returns its structured result (asserting success).
fn call(agent: &ureq::Agent, base: &str, token: Option<&str>, tool: &str, args: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": { "name": tool, "arguments": args } });
    let mut req = agent
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.send(body.to_string()).unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let reply: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let result = &reply["result"];
    assert_eq!(result["isError"], false, "{tool}: {reply}");
    result["structuredContent"].clone()
}

const EPISODES_PER_CLIENT: usize = 6;
const CLI_EPISODES: usize = 3;
const STEPS: usize = 4;
/// Divisible by both episode counts.
const SHARED_STEPS_PER_WRITER: usize = 12;

#[test]
fn two_http_clients_and_the_cli_share_one_database_without_lost_writes() {
    let sb = Sandbox::new();
    let served = serve(&sb, &[]);
    let shared = call(
        &agent(),
        &served.base,
        None,
        "start_episode",
        json!({ "task": "one episode many writers" }),
    )["episode_id"]
        .as_str()
        .unwrap()
        .to_string();

    let http_client = |c: usize| {
        let base = served.base.clone();
        let shared = shared.clone();
        thread::spawn(move || {
            let agent = agent();
            for i in 0..EPISODES_PER_CLIENT {
                let id = call(
                    &agent,
                    &base,
                    None,
                    "start_episode",
                    json!({ "task": format!("client {c} task {i}: fix the build") }),
                )["episode_id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                for s in 0..STEPS {
                    call(
                        &agent,
                        &base,
                        None,
                        "log_step",
                        json!({ "episode_id": id, "tool": format!("tool{s}"),
                                "status": "success", "output": "ok" }),
                    );
                }
                call(
                    &agent,
                    &base,
                    None,
                    "complete_episode",
                    json!({ "episode_id": id, "outcome": "success", "verdict": "done" }),
                );
                // Between episodes, steps into the episode every writer shares.
                let per = SHARED_STEPS_PER_WRITER / EPISODES_PER_CLIENT;
                for k in i * per..(i + 1) * per {
                    call(
                        &agent,
                        &base,
                        None,
                        "log_step",
                        json!({ "episode_id": shared, "tool": format!("http{c}"),
                                "action": format!("write {k}"), "status": "success" }),
                    );
                }
            }
        })
    };
    let clients = [http_client(0), http_client(1)];

    // Meanwhile, the CLI: whole episodes, and steps into the shared episode.
    for i in 0..CLI_EPISODES {
        let id = sb.start(&format!("cli task {i}: fix the build"), &[]);
        for s in 0..STEPS {
            sb.json(&[
                "episode",
                "step",
                &id,
                "--tool",
                &format!("tool{s}"),
                "--status",
                "success",
            ]);
        }
        sb.succeed(&id, "done");
        let per = SHARED_STEPS_PER_WRITER / CLI_EPISODES;
        for k in i * per..(i + 1) * per {
            sb.json(&[
                "episode",
                "step",
                &shared,
                "--tool",
                "cli",
                "--action",
                &format!("write {k}"),
                "--status",
                "success",
            ]);
        }
    }
    for c in clients {
        c.join().unwrap();
    }

    let listed = sb.json(&["episode", "list", "--limit", "1000"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2 * EPISODES_PER_CLIENT + CLI_EPISODES + 1);
    for e in listed.iter().filter(|e| e["id"] != json!(shared)) {
        assert_eq!(e["step_count"], STEPS, "{e}");
        assert_eq!(e["outcome_kind"], "success", "{e}");
    }
    let episode = sb.json(&["episode", "show", &shared]);
    let steps = episode["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3 * SHARED_STEPS_PER_WRITER, "no step lost");
    let seqs: Vec<u64> = steps.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=steps.len() as u64).collect::<Vec<_>>(),
        "seq is dense and unique"
    );
    for writer in ["http0", "http1", "cli"] {
        let actions: Vec<&str> = steps
            .iter()
            .filter(|s| s["tool"] == writer)
            .map(|s| s["action"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..SHARED_STEPS_PER_WRITER)
            .map(|k| format!("write {k}"))
            .collect();
        assert_eq!(actions, expected, "{writer}'s steps, in its order");
    }

    let stats = call(&agent(), &served.base, None, "memory_stats", json!({}));
    let completed = 2 * EPISODES_PER_CLIENT + CLI_EPISODES;
    assert_eq!(stats["counts"]["success"], completed);
    assert_eq!(stats["counts"]["running"], 1);
    let steps = completed * STEPS + 3 * SHARED_STEPS_PER_WRITER;
    assert_eq!(stats["memory"]["storage"]["steps"], steps);
    served.terminate();
}

#[test]
fn non_loopback_listen_without_a_token_refuses_to_start() {
    let sb = Sandbox::new();
    let out = sb.run(&["serve", "--listen", "0.0.0.0:8765"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--auth-token"), "{}", stderr(&out));
    assert!(!sb.db().exists(), "nothing was created");

    let weak = sb.run(&["serve", "--listen", "127.0.0.1:0", "--auth-token", "short"]);
    assert_eq!(code(&weak), 2, "{}", stderr(&weak));
}

#[test]
fn token_from_the_environment_guards_every_request() {
    let sb = Sandbox::new();
    let mut cmd = sb.command();
    cmd.env("MEMORY_AUTH_TOKEN", TOKEN)
        .arg("--db")
        .arg(sb.db())
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::spawn(cmd);
    let line = &served.first_line;
    assert!(line.contains("bearer token required"), "{line}");

    let agent = agent();
    let anonymous = agent.get(format!("{}/health", served.base)).call().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = agent
        .get(format!("{}/health", served.base))
        .header("authorization", "Bearer not-the-token-at-all")
        .call()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let stats = call(&agent, &served.base, Some(TOKEN), "memory_stats", json!({}));
    assert_eq!(stats["counts"]["episodes"], 0);
    served.terminate();
}

/// `--token-file`: a token (here written as its SHA-256) may use its namespaces only; a
/// file that breaks the format stops the server before anything is created.
#[test]
fn a_token_file_limits_each_token_to_its_namespaces() {
    const TEAM: &str = "e2e-team-token-0123456789";
    let sb = Sandbox::new();
    let digest = {
        use sha2::Digest as _;
        sha2::Sha256::digest(TEAM.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let tokens = sb.dir.path().join("tokens");
    std::fs::write(
        &tokens,
        format!("# team a\nsha256:{digest} read-write team-a\n{TOKEN} read-write *\n"),
    )
    .unwrap();
    // Holding a token in the clear, the file is a secret itself (the server warns otherwise).
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let broken = sb.dir.path().join("broken");
    std::fs::write(&broken, format!("{TOKEN} write team-a\n")).unwrap();
    let out = sb.run(
        &["serve", "--listen", "127.0.0.1:0", "--token-file"]
            .into_iter()
            .chain([broken.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1: unknown access `write`"),
        "{}",
        stderr(&out)
    );
    assert!(!sb.db().exists(), "nothing was created");

    let served = serve(&sb, &["--token-file", tokens.to_str().unwrap()]);
    assert!(
        served
            .first_line
            .contains("2 bound to namespaces by the token file"),
        "{}",
        served.first_line
    );
    let agent = agent();
    let started = call(
        &agent,
        &served.base,
        Some(TEAM),
        "start_episode",
        json!({ "task": "rotate the signing keys" }),
    );
    assert_eq!(started["namespace"], "team-a");
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "search_episodes", "arguments": { "namespace": "default" } } });
    let mut resp = agent
        .post(format!("{}/mcp", served.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {TEAM}"))
        .send(body.to_string())
        .unwrap();
    let reply: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    let text = reply["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("namespace `default` not found"), "{text}");
    let metrics = |token: &str| {
        agent
            .get(format!("{}/metrics", served.base))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(metrics(TEAM), 403);
    assert_eq!(metrics(TOKEN), 200);
    served.terminate();

    // What the team wrote is in its namespace.
    let listed = sb.json(&["--namespace", "team-a", "episode", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
}

/// Over HTTP too, a body that is not one JSON-RPC message gets its JSON-RPC error (400, as
/// MCP's HTTP transport asks) and a tool call with arguments that are not an object an
/// invalid-params error (200); the server goes on serving.
#[test]
fn http_answers_every_malformed_message_with_its_json_rpc_error() {
    let sb = Sandbox::new();
    let served = serve(&sb, &[]);
    let agent = agent();
    let post = |body: &[u8]| -> (u16, Value) {
        let mut resp = agent
            .post(format!("{}/mcp", served.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .send(body)
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let cases: Vec<(Vec<u8>, u16, i64, Value)> = vec![
        (b"{not json".to_vec(), 400, -32700, Value::Null),
        (b"".to_vec(), 400, -32700, Value::Null),
        (b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\xff\"}".to_vec(), 400, -32700, Value::Null),
        (deep.into_bytes(), 400, -32700, Value::Null),
        (b"[1, 2]".to_vec(), 400, -32600, Value::Null),
        (br#"{"id":7,"method":"ping"}"#.to_vec(), 400, -32600, json!(7)),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"start_episode","arguments":["a task"]}}"#
                .to_vec(),
            200,
            -32602,
            json!(8),
        ),
    ];
    for (body, status, code, id) in cases {
        let (got, reply) = post(&body);
        let shown = String::from_utf8_lossy(&body)
            .chars()
            .take(60)
            .collect::<String>();
        assert_eq!(got, status, "{shown}: {reply}");
        assert_eq!(reply["jsonrpc"], "2.0", "{shown}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{shown}: {reply}");
        assert_eq!(reply["id"], id, "{shown}: {reply}");
    }
    // Still serving.
    let started = call(
        &agent,
        &served.base,
        None,
        "start_episode",
        json!({ "task": "after" }),
    );
    assert!(started["episode_id"].is_string(), "{started}");
    served.terminate();
}

#[test]
fn stdio_carries_only_protocol_messages() {
    let sb = Sandbox::new();
    let mut child = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .args(["--namespace", "agent-7", "mcp"])
        .env("MEMORY_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |v: Value| writeln!(stdin, "{v}").unwrap();
    send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": { "name": "e2e", "version": "1" } } }));
    let init: Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
    assert_eq!(init["id"], 1);
    send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": { "name": "start_episode", "arguments": { "task": "via stdio" } } }));
    let started: Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
    assert_eq!(started["id"], 2);
    assert_eq!(
        started["result"]["structuredContent"]["namespace"],
        "agent-7"
    );
    send(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": { "name": "get_episode", "arguments": { "episode_id": "nope" } } }));
    let failed: Value = serde_json::from_str(&out.next().unwrap().unwrap()).unwrap();
    assert_eq!(failed["result"]["isError"], true);
    drop(stdin);
    // Closing stdin ends the session; whatever else reached stdout must be protocol too.
    for line in out {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let id = started["result"]["structuredContent"]["episode_id"]
        .as_str()
        .unwrap();
    let shown = sb.json(&["--namespace", "agent-7", "episode", "show", id]);
    assert_eq!(shown["task_description"], "via stdio");
}

/// Every malformed line a client sends over stdio gets a JSON-RPC error at once (parse
/// error, invalid request or invalid params, with the request's id when it has one), and the
/// session goes on serving the well-formed ones.
#[test]
fn stdio_answers_every_malformed_line_and_keeps_serving() {
    let sb = Sandbox::new();
    let mut child = sb
        .command()
        .arg("--db")
        .arg(sb.db())
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Read on a thread of its own, so that a line left unanswered fails the test in time
    // rather than hanging it.
    let (lines, answers) = std::sync::mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    thread::spawn(move || {
        for line in out.lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || -> Value {
        let line = answers
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a line went unanswered");
        serde_json::from_str(&line).unwrap()
    };
    writeln!(
        stdin,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": { "name": "e2e", "version": "1" } } })
    )
    .unwrap();
    assert_eq!(next()["id"], 1);
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();

    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let oversized = format!(
        r#"{{"jsonrpc":"2.0","id":99,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(memory_mcp::MAX_LINE_BYTES)
    );
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        (b"{not json".to_vec(), -32700, Value::Null),
        (
            br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(),
            -32700,
            Value::Null,
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\xff\"}".to_vec(),
            -32700,
            Value::Null,
        ),
        (deep.into_bytes(), -32700, Value::Null),
        (oversized.into_bytes(), -32700, Value::Null),
        (b"[1, 2]".to_vec(), -32600, Value::Null),
        (br#"{"id":7,"method":"ping"}"#.to_vec(), -32600, json!(7)),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"start_episode","arguments":["a task"]}}"#
                .to_vec(),
            -32602,
            json!(8),
        ),
    ];
    for (line, code, id) in cases {
        stdin.write_all(&line).unwrap();
        stdin.write_all(b"\n").unwrap();
        let answer = next();
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
    }
    // Still serving.
    writeln!(
        stdin,
        "{}",
        json!({ "jsonrpc": "2.0", "id": 10, "method": "tools/call",
                "params": { "name": "start_episode", "arguments": { "task": "after the noise" } } })
    )
    .unwrap();
    let started = next();
    assert_eq!(started["id"], 10);
    assert!(
        started["result"]["structuredContent"]["episode_id"].is_string(),
        "{started}"
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn an_episode_handed_between_server_and_cli_completes_with_every_step() {
    let sb = Sandbox::new();
    let served = serve(&sb, &[]);
    let agent = agent();
    for round in 0..5 {
        // Started over HTTP (so the server has it cached), steps from the CLI, completed
        // over HTTP at once: the completion must see the other process's steps.
        let id = call(
            &agent,
            &served.base,
            None,
            "start_episode",
            json!({ "task": format!("hand-off {round}") }),
        )["episode_id"]
            .as_str()
            .unwrap()
            .to_string();
        call(
            &agent,
            &served.base,
            None,
            "get_episode",
            json!({ "episode_id": id }),
        );
        for s in 0..3 {
            sb.json(&[
                "episode",
                "step",
                &id,
                "--tool",
                &format!("cli{s}"),
                "--status",
                "success",
            ]);
        }
        let done = call(
            &agent,
            &served.base,
            None,
            "complete_episode",
            json!({ "episode_id": id, "outcome": "success", "verdict": "done" }),
        );
        assert_eq!(done["steps"], 3, "round {round}: {done}");
        let shown = call(
            &agent,
            &served.base,
            None,
            "get_episode",
            json!({ "episode_id": id }),
        );
        assert_eq!(shown["steps"].as_array().unwrap().len(), 3, "round {round}");
    }
    served.terminate();
}

#[test]
fn a_running_server_embeds_episodes_other_processes_complete() {
    let sb = Sandbox::new();
    let served = serve(&sb, &[]);
    for i in 0..3 {
        let id = sb.json(&["episode", "start", "--task", &format!("rotate key {i}")])["id"]
            .as_str()
            .unwrap()
            .to_string();
        sb.json(&[
            "episode", "step", &id, "--tool", "vault", "--status", "success", "--output", "rotated",
        ]);
        sb.succeed(&id, "done");
    }
    // Nothing here retrieves, so only the server's background embedding can give these
    // episodes their vectors; it looks for other processes' completions every second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let stats = sb.json(&["stats"]);
        let storage = &stats["storage"];
        if storage["vectors"] == 3 {
            assert_eq!(storage["episodes_without_vectors"], 0, "{stats}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not embed the episodes: {stats}"
        );
        thread::sleep(std::time::Duration::from_millis(200));
    }
    served.terminate();
}

/// `memory ui`: a loopback server whose URL is printed on stderr, serving the dashboard (and
/// its API, with no token) and `memory serve` serving it at `/` too.
#[test]
fn memory_ui_prints_its_url_and_serves_the_dashboard() {
    let sb = Sandbox::new();
    let mut cmd = sb.command();
    cmd.arg("--db")
        .arg(sb.db())
        .args(["ui", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    thread::spawn(move || lines.for_each(drop));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:") && w.ends_with('/'))
        .unwrap_or_else(|| panic!("no URL in: {first}"))
        .to_string();
    let agent = agent();
    let mut page = agent.get(&url).call().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.body_mut()
            .read_to_string()
            .unwrap()
            .contains("/ui/app.js")
    );
    let mut session = agent.get(format!("{url}api/session")).call().unwrap();
    assert_eq!(session.status().as_u16(), 200);
    let session: Value =
        serde_json::from_str(&session.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(session["auth_required"], false);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());

    let served = serve(&sb, &["--auth-token", TOKEN]);
    assert!(
        served.first_line.contains("dashboard at http://"),
        "{}",
        served.first_line
    );
    let login = agent
        .get(format!("{}/", served.base))
        .config()
        .max_redirects(0)
        .build()
        .call()
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    served.terminate();
}
