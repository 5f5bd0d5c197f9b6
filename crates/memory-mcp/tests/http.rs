//! The HTTP server in-process on a loopback port: MCP over streamable HTTP, `/health`,
//! `/metrics`, the bearer token (401 without it or with a wrong one), the bind policy, the
//! `Host` check and the body size limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, Running, memory_server, request, start_with, start_with_tokens};
use memory_mcp::{BindPolicyError, HttpConfig, HttpServer, ServeError};
use serde_json::{Value, json};
use std::net::SocketAddr;

const TOKEN: &str = "test-token-0123456789abcdef";

async fn start(token: Option<&str>, max_body_bytes: usize) -> Running {
    let config = HttpConfig {
        auth_token: token.map(str::to_string),
        max_body_bytes,
        ..HttpConfig::new("127.0.0.1:0".parse().unwrap())
    };
    start_with(config).await
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A JSON-RPC POST to /mcp.
async fn rpc(addr: SocketAddr, token: Option<&str>, message: Value) -> Reply {
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("accept", "application/json, text/event-stream".to_string()),
    ];
    if let Some(t) = token {
        headers.push(bearer(t));
    }
    request(
        "POST",
        format!("http://{addr}/mcp"),
        headers,
        Some(message.to_string()),
    )
    .await
}

fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": { "name": "test", "version": "1" } } })
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_health_and_metrics_over_loopback() {
    let s = start(None, 1 << 20).await;
    let init = rpc(s.addr, None, initialize()).await;
    assert_eq!(init.status, 200, "{}", init.body);
    assert_eq!(
        init.json()["result"]["serverInfo"]["name"],
        "self-learning-memory"
    );

    let list = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
    )
    .await;
    assert_eq!(list.json()["result"]["tools"].as_array().unwrap().len(), 10);

    let started = rpc(
        s.addr,
        None,
        call(3, "start_episode", json!({ "task": "over http" })),
    )
    .await;
    let result = &started.json()["result"];
    assert_eq!(result["isError"], false);
    let id = result["structuredContent"]["episode_id"]
        .as_str()
        .unwrap()
        .to_string();

    let uri = format!("memory://default/episodes/{id}");
    let listed = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 10, "method": "resources/list" }),
    )
    .await;
    assert_eq!(listed.json()["result"]["resources"][0]["uri"], json!(uri));
    let templates = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 11, "method": "resources/templates/list" }),
    )
    .await;
    assert_eq!(
        templates.json()["result"]["resourceTemplates"][0]["uriTemplate"],
        "memory://{namespace}/episodes/{episode_id}"
    );
    let read = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 12, "method": "resources/read", "params": { "uri": uri } }),
    )
    .await;
    let contents = &read.json()["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "application/json");
    let episode: Value = serde_json::from_str(contents["text"].as_str().unwrap()).unwrap();
    assert_eq!(episode["task_description"], "over http");
    let unknown = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 13, "method": "resources/read",
                "params": { "uri": "memory://default/episodes/01900000-0000-7000-8000-000000000000" } }),
    )
    .await;
    assert_eq!(unknown.json()["error"]["code"], -32002, "{}", unknown.body);
    let malformed = rpc(
        s.addr,
        None,
        json!({ "jsonrpc": "2.0", "id": 14, "method": "resources/read",
                "params": { "uri": "file:///etc/passwd" } }),
    )
    .await;
    assert_eq!(
        malformed.json()["error"]["code"],
        -32602,
        "{}",
        malformed.body
    );

    let failed = rpc(
        s.addr,
        None,
        call(
            4,
            "log_step",
            json!({ "episode_id": id, "tool": "t", "status": "bogus" }),
        ),
    )
    .await;
    assert_eq!(
        failed.status, 200,
        "a tool error is a result, not an HTTP failure"
    );
    assert_eq!(failed.json()["result"]["isError"], true);

    let health = request("GET", format!("http://{}/health", s.addr), vec![], None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    let metrics = request("GET", format!("http://{}/metrics", s.addr), vec![], None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        metrics.body.contains("memory_episodes 1\n"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("memory_mcp_tool_duration_seconds_count{tool=\"log_step\"} 1")
    );
    assert!(
        metrics
            .body
            .contains("memory_mcp_tool_errors_total{tool=\"log_step\"} 1")
    );

    let missing = request("GET", format!("http://{}/nope", s.addr), vec![], None).await;
    assert_eq!(missing.status, 404);
    let wrong_method = request("POST", format!("http://{}/metrics", s.addr), vec![], None).await;
    assert_eq!(wrong_method.status, 405);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_the_bearer_token_when_one_is_set() {
    let s = start(Some(TOKEN), 1 << 20).await;
    for path in ["/mcp", "/health", "/metrics", "/nope"] {
        let url = format!("http://{}{path}", s.addr);
        let none = request("GET", url.clone(), vec![], None).await;
        assert_eq!(none.status, 401, "{path} without a token");
        assert_eq!(
            none.header("www-authenticate"),
            Some("Bearer realm=\"memory\"")
        );
        let wrong = request(
            "GET",
            url.clone(),
            vec![bearer("wrong-token-0123456789")],
            None,
        )
        .await;
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let basic = request(
            "GET",
            url,
            vec![("authorization", format!("Basic {TOKEN}"))],
            None,
        )
        .await;
        assert_eq!(basic.status, 401, "{path} with another scheme");
    }
    let refused = rpc(s.addr, None, initialize()).await;
    assert_eq!(refused.status, 401);
    let refused = rpc(s.addr, Some("wrong-token-0123456789"), initialize()).await;
    assert_eq!(refused.status, 401);

    let init = rpc(s.addr, Some(TOKEN), initialize()).await;
    assert_eq!(init.status, 200, "{}", init.body);
    let health = request(
        "GET",
        format!("http://{}/health", s.addr),
        vec![bearer(TOKEN)],
        None,
    )
    .await;
    assert_eq!(health.status, 200);
    s.stop().await;
}

/// The structured result of a tool call, or its error text.
async fn tool(
    addr: SocketAddr,
    token: &str,
    name: &str,
    arguments: Value,
) -> Result<Value, String> {
    let reply = rpc(addr, Some(token), call(1, name, arguments)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = reply.json()["result"].clone();
    if result["isError"] == true {
        Err(result["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string())
    } else {
        Ok(result["structuredContent"].clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_binds_each_token_to_its_namespaces() {
    const TEAM: &str = "team-token-0123456789abcdef";
    const ADMIN: &str = "admin-token-0123456789abcdef";
    let s = start_with_tokens(
        &format!("{TEAM} read-write team-a\n{TEAM} read shared\n{ADMIN} read-write *\n"),
        None,
    )
    .await;
    let a = s.addr;

    // The administrator's token writes anywhere: an episode in `shared`, one in `other`.
    let mut ids = Vec::new();
    for ns in ["shared", "other"] {
        let started = tool(
            a,
            ADMIN,
            "start_episode",
            json!({ "task": format!("fix the flaky login test in {ns}"), "namespace": ns }),
        )
        .await
        .unwrap();
        let id = started["episode_id"].as_str().unwrap().to_string();
        tool(
            a,
            ADMIN,
            "complete_episode",
            json!({ "episode_id": id, "namespace": ns, "outcome": "success", "verdict": "fixed" }),
        )
        .await
        .unwrap();
        ids.push(id);
    }

    // The team's token: its own namespace by default, read-only `shared`, nothing else.
    let own = tool(a, TEAM, "start_episode", json!({ "task": "team work" }))
        .await
        .unwrap();
    assert_eq!(own["namespace"], "team-a");
    let refused = tool(
        a,
        TEAM,
        "start_episode",
        json!({ "task": "x", "namespace": "shared" }),
    )
    .await
    .unwrap_err();
    assert!(
        refused.contains("namespace `shared` is read-only for this token"),
        "{refused}"
    );
    let refused = tool(
        a,
        TEAM,
        "delete_episode",
        json!({ "episode_id": ids[0], "namespace": "shared" }),
    )
    .await
    .unwrap_err();
    assert!(refused.contains("read-only"), "{refused}");
    let found = tool(a, TEAM, "search_episodes", json!({ "namespace": "shared" }))
        .await
        .unwrap();
    assert_eq!(found["episodes"].as_array().unwrap().len(), 1);
    let got = tool(
        a,
        TEAM,
        "get_episode",
        json!({ "episode_id": ids[0], "namespace": "shared" }),
    )
    .await
    .unwrap();
    assert_eq!(got["namespace"], "shared");
    for (name, args) in [
        (
            "get_episode",
            json!({ "episode_id": ids[1], "namespace": "other" }),
        ),
        ("search_episodes", json!({ "namespace": "other" })),
        ("list_patterns", json!({ "namespace": "other" })),
        (
            "retrieve_context",
            json!({ "query": "flaky login test", "namespace": "other" }),
        ),
        ("memory_stats", json!({ "namespace": "other" })),
        (
            "start_episode",
            json!({ "task": "x", "namespace": "other" }),
        ),
    ] {
        let err = tool(a, TEAM, name, args).await.unwrap_err();
        assert!(
            err.starts_with(
                "namespace `other` not found; this token may use `team-a` \
                             (read-write), `shared` (read)"
            ),
            "{name}: {err}"
        );
    }

    // A retrieval in a read-only namespace answers without keeping a session.
    let pack = tool(
        a,
        TEAM,
        "retrieve_context",
        json!({ "query": "flaky login test", "namespace": "shared" }),
    )
    .await
    .unwrap();
    assert!(!pack["hits"].as_array().unwrap().is_empty(), "{pack}");
    assert_eq!(pack["session_id"], Value::Null);
    let with_session = tool(
        a,
        ADMIN,
        "retrieve_context",
        json!({ "query": "flaky login test", "namespace": "shared" }),
    )
    .await
    .unwrap();
    assert!(with_session["session_id"].is_string());

    // Resources: the token's namespaces only.
    let listed = rpc(
        a,
        Some(TEAM),
        json!({ "jsonrpc": "2.0", "id": 2, "method": "resources/list" }),
    )
    .await;
    let uris: Vec<String> = listed.json()["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uris.len(), 1);
    assert!(uris[0].starts_with("memory://team-a/episodes/"), "{uris:?}");
    let read = |ns: &str, id: &str| {
        json!({ "jsonrpc": "2.0", "id": 3, "method": "resources/read",
        "params": { "uri": format!("memory://{ns}/episodes/{id}") } })
    };
    let other = rpc(a, Some(TEAM), read("other", &ids[1])).await;
    assert_eq!(other.json()["error"]["code"], -32002, "{}", other.body);
    let shared = rpc(a, Some(TEAM), read("shared", &ids[0])).await;
    assert!(
        shared.json()["result"]["contents"][0]["text"].is_string(),
        "{}",
        shared.body
    );

    // Statistics: the token's namespace only; store-wide figures for `*` tokens, and the
    // store's location for nobody.
    let stats = tool(a, TEAM, "memory_stats", json!({})).await.unwrap();
    assert_eq!(stats["namespace"], "team-a");
    assert_eq!(stats["counts"]["episodes"], 1);
    assert!(
        stats.get("memory").is_none() && stats.get("tools").is_none(),
        "{stats}"
    );
    let stats = tool(a, ADMIN, "memory_stats", json!({})).await.unwrap();
    assert_eq!(stats["memory"]["storage"]["episodes"], 3);
    assert_eq!(stats["memory"]["storage"]["location"], Value::Null);
    assert!(!stats.to_string().contains("memory.db"), "{stats}");
    let metrics = |token: &str| {
        request(
            "GET",
            format!("http://{a}/metrics"),
            vec![bearer(token)],
            None,
        )
    };
    assert_eq!(metrics(TEAM).await.status, 403);
    assert_eq!(metrics(ADMIN).await.status, 200);
    let health = request(
        "GET",
        format!("http://{a}/health"),
        vec![bearer(TEAM)],
        None,
    )
    .await;
    assert_eq!(health.json()["namespace"], "team-a");

    // Tokens the file does not hold, and no token, are refused.
    let none = rpc(a, None, initialize()).await;
    assert_eq!(none.status, 401);
    let wrong = rpc(a, Some("team-token-0123456789abcdeX"), initialize()).await;
    assert_eq!(wrong.status, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_foreign_hosts_are_refused() {
    let s = start(None, 4_096).await;
    let big = call(1, "start_episode", json!({ "task": "x".repeat(8_000) }));
    let reply = rpc(s.addr, None, big).await;
    assert_eq!(reply.status, 413, "{}", reply.body);

    let rebinding = request(
        "GET",
        format!("http://{}/metrics", s.addr),
        vec![("host", "evil.example:80".to_string())],
        None,
    )
    .await;
    assert_eq!(rebinding.status, 403);
    let localhost = request(
        "GET",
        format!("http://{}/health", s.addr),
        vec![("host", format!("localhost:{}", s.addr.port()))],
        None,
    )
    .await;
    assert_eq!(localhost.status, 200);
    s.stop().await;
}

#[tokio::test]
async fn non_loopback_without_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = HttpConfig::new("0.0.0.0:0".parse().unwrap());
    let err = HttpServer::bind(memory_server(&dir).await, config)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServeError::Policy(BindPolicyError::TokenRequired(_))
    ));
    assert!(err.to_string().contains("--auth-token"), "{err}");

    let mut weak = HttpConfig::new("127.0.0.1:0".parse().unwrap());
    weak.auth_token = Some("123".into());
    let err = HttpServer::bind(memory_server(&dir).await, weak)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServeError::Policy(BindPolicyError::WeakToken)
    ));
}

/// Reads from `stream` until the server closes it (or `limit` passes); whether it closed.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read).await.is_ok()
}

/// Connections that never send a request are closed after the header timeout, and past
/// the connection limit a new one is closed at once, while requests keep being answered.
#[tokio::test(flavor = "multi_thread")]
async fn idle_and_excess_connections_are_closed() {
    use std::time::Duration;
    let server = start_with(HttpConfig {
        header_timeout: Duration::from_millis(300),
        max_connections: 3,
        ..HttpConfig::new("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    // The limit is reached: one more is closed without waiting for the header timeout.
    let mut excess = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut excess, Duration::from_millis(250)).await);
    // The idle ones are closed once they have said nothing for the header timeout…
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(5)).await);
    }
    // …after which requests are served again.
    let health = request(
        "GET",
        format!("http://{}/health", server.addr),
        vec![],
        None,
    )
    .await;
    assert_eq!(health.status, 200, "{}", health.body);
}

/// Messages beyond `max_in_flight` are answered 503 with `Retry-After` at once, with a
/// JSON-RPC error, and nothing is done for them; the one in flight completes, and the
/// server then answers again. (The message in flight is held by another connection's write
/// lock on the database file, which its write waits for.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_beyond_the_in_flight_limit_get_503_with_retry_after() {
    let server = start_with(HttpConfig {
        max_in_flight: 1,
        ..HttpConfig::new("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let addr = server.addr;
    let db = libsql::Builder::new_local(server._dir.path().join("memory.db"))
        .build()
        .await
        .unwrap();
    let blocker = db.connect().unwrap();
    blocker.execute("BEGIN IMMEDIATE", ()).await.unwrap();

    let held = tokio::spawn(rpc(
        addr,
        None,
        call(2, "start_episode", json!({ "task": "waits for the lock" })),
    ));
    // Until the held message is in flight, a second one may still be served.
    let mut refused = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let reply = rpc(addr, None, call(3, "memory_stats", json!({}))).await;
        if reply.status == 503 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("a message beyond the limit was answered 503");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let body = refused.json();
    assert_eq!(body["error"]["code"], -32000, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("busy"),
        "{body}"
    );

    blocker.execute("COMMIT", ()).await.unwrap();
    let done = held.await.unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["result"]["isError"], false, "{}", done.body);
    let after = rpc(addr, None, call(4, "memory_stats", json!({}))).await;
    assert_eq!(after.status, 200, "{}", after.body);
    server.stop().await;
}
