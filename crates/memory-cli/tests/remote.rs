//! End-to-end: the memory kept on a libSQL server (`sqld`, started with a JWT key on a free
//! loopback port) through `--db URL` and `--db-auth-token`, as a team sharing one memory
//! across machines runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr};
use memory_test_server::{Sqld, free_port};
use serde_json::Value;
use std::process::Output;

/// Runs `memory --format json <args>` against `url`, the token passed as `token` says.
fn on_server(sb: &Sandbox, url: &str, token: Token<'_>, args: &[&str]) -> Output {
    let mut cmd = sb.command();
    cmd.args(["--db", url, "--format", "json"]);
    match token {
        Token::Flag(t) => {
            cmd.args(["--db-auth-token", t]);
        }
        Token::Env(t) => {
            cmd.env("MEMORY_DB_AUTH_TOKEN", t);
        }
    }
    cmd.args(args).output().unwrap()
}

#[derive(Clone, Copy)]
enum Token<'a> {
    Flag(&'a str),
    Env(&'a str),
}

fn json(out: &Output, what: &str) -> Value {
    assert!(out.status.success(), "{what} failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn two_machines_share_one_memory_on_a_libsql_server() {
    let sb = Sandbox::new();
    let Some(server) = Sqld::start(
        sb.dir.path(),
        "two_machines_share_one_memory_on_a_libsql_server",
    ) else {
        return;
    };
    let url = server.url.as_str();
    let flag = Token::Flag(&server.token);
    let env = Token::Env(&server.token);
    // One "machine" records an episode step by step, each command a fresh process.
    let started = json(
        &on_server(
            &sb,
            url,
            flag,
            &[
                "episode",
                "start",
                "--task",
                "Rotate the expired TLS certificate of the billing gateway",
                "--domain",
                "infra",
            ],
        ),
        "episode start",
    );
    let id = started["id"].as_str().unwrap().to_string();
    for (action, status) in [
        ("renew with certbot", "error"),
        ("renew with the DNS challenge", "success"),
    ] {
        json(
            &on_server(
                &sb,
                url,
                env,
                &[
                    "episode",
                    "step",
                    &id,
                    "--tool",
                    "certbot",
                    "--action",
                    action,
                    "--status",
                    status,
                    "--output",
                    "challenge answered",
                ],
            ),
            "episode step",
        );
    }
    let done = json(
        &on_server(
            &sb,
            url,
            flag,
            &[
                "episode",
                "complete",
                &id,
                "--outcome",
                "success",
                "--verdict",
                "renewed through the DNS challenge",
            ],
        ),
        "episode complete",
    );
    assert_eq!(done["outcome"]["kind"], "success");

    // Another machine: no file of its own, the same server.
    let other = Sandbox::new();
    let shown = json(
        &on_server(&other, url, env, &["episode", "show", &id]),
        "episode show",
    );
    assert_eq!(shown["steps"].as_array().unwrap().len(), 2);
    assert_eq!(shown["steps"][1]["action"], "renew with the DNS challenge");
    let pack = json(
        &on_server(
            &other,
            url,
            env,
            &[
                "retrieve",
                "billing gateway certificate expired",
                "--domain",
                "infra",
            ],
        ),
        "retrieve",
    );
    assert_eq!(pack["hits"][0]["id"], Value::String(id.clone()));
    let stats = json(&on_server(&other, url, env, &["stats"]), "stats");
    assert_eq!(stats["storage"]["backend"], "libsql (server)");
    assert_eq!(stats["storage"]["location"], url);
    assert_eq!(stats["storage"]["episodes"], 1);
    assert_eq!(stats["storage"]["steps"], 2);

    // `config show` says which store is in force, and never prints the token.
    let shown = on_server(&other, url, env, &["config", "show"]);
    let config = json(&shown, "config show");
    assert_eq!(config["db"]["kind"], "server");
    assert_eq!(config["db"]["url"], url);
    assert_eq!(config["db"]["auth_token"], "set");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&shown.stdout),
        stderr(&shown)
    );
    assert!(!printed.contains(&server.token), "the token was printed");

    // A deletion on one machine is seen on the other, steps and all.
    json(
        &on_server(&sb, url, flag, &["episode", "delete", &id]),
        "episode delete",
    );
    let gone = on_server(&other, url, env, &["episode", "show", &id]);
    assert_eq!(code(&gone), 3, "{}", stderr(&gone));
    let stats = json(&on_server(&other, url, env, &["stats"]), "stats");
    assert_eq!(stats["storage"]["steps"], 0);
    assert!(
        server.data.exists(),
        "the server keeps the data, not the sandbox"
    );
    assert!(!sb.db().exists() && !other.db().exists());
}

#[test]
fn a_wrong_or_missing_token_is_refused_with_an_error_that_says_so() {
    let sb = Sandbox::new();
    let Some(server) = Sqld::start(
        sb.dir.path(),
        "a_wrong_or_missing_token_is_refused_with_an_error_that_says_so",
    ) else {
        return;
    };
    for token in [Token::Flag(&server.wrong_token), Token::Env("")] {
        let out = on_server(&sb, &server.url, token, &["episode", "list"]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&server.url) && err.contains("authentication failed"),
            "{err}"
        );
        assert!(
            !err.contains(&server.wrong_token),
            "the token was printed: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    // The right one works on the same server.
    json(
        &on_server(
            &sb,
            &server.url,
            Token::Flag(&server.token),
            &["episode", "list"],
        ),
        "episode list",
    );
}

#[test]
fn an_unreachable_server_fails_at_once_naming_the_url() {
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let out = on_server(
        &sb,
        &url,
        Token::Flag("t"),
        &["episode", "start", "--task", "never stored"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&url) && err.contains("cannot be reached"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!sb.db().exists(), "no local file stands in for the server");
}

#[test]
fn a_server_that_stops_answering_fails_within_the_db_timeout() {
    let sb = Sandbox::new();
    let Some(server) = Sqld::start(
        sb.dir.path(),
        "a_server_that_stops_answering_fails_within_the_db_timeout",
    ) else {
        return;
    };
    let token = Token::Flag(&server.token);
    // The timeout in force is shown.
    let shown = json(
        &on_server(
            &sb,
            &server.url,
            token,
            &["--db-timeout", "0.5", "config", "show"],
        ),
        "config show",
    );
    assert_eq!(shown["db"]["request_timeout_s"], 0.5);
    let human = sb
        .command()
        .args(["--db", &server.url, "--db-auth-token", &server.token])
        .env("MEMORY_DB_TIMEOUT", "2.5")
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("requests time out after 2.5 s"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    let bad = on_server(
        &sb,
        &server.url,
        token,
        &["--db-timeout", "0", "episode", "list"],
    );
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));

    server.pause();
    let started = std::time::Instant::now();
    let out = on_server(
        &sb,
        &server.url,
        token,
        &[
            "--db-timeout",
            "0.5",
            "episode",
            "start",
            "--task",
            "never stored",
        ],
    );
    let waited = started.elapsed();
    server.resume();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&server.url) && err.contains("stopped answering"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert!(
        waited < std::time::Duration::from_secs(5),
        "a hung server held the command for {waited:?}"
    );
    // Nothing was half-written: the server, answering again, holds no episode.
    let listed = json(
        &on_server(&sb, &server.url, token, &["episode", "list"]),
        "episode list",
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}

/// Round trips of one call through the relay of `memory bench remote`, at most: what the
/// store sends a server per operation today. A write is one request; a completion also
/// reads what it is computed from (one request) and the facade's cost and change-log
/// reads, and may be tried again when another writer changed those rows meanwhile. A
/// change that adds round trips fails here.
#[cfg(feature = "bench")]
const MOST_ROUND_TRIPS: [(&str, f64); 5] = [
    ("start_episode", 1.0),
    ("log_step", 1.0),
    ("complete_episode", 6.0),
    ("get_episode, cached", 0.0),
    ("retrieve_context, warm cache", 10.0),
];

/// The same through an embedded replica: each write is one request (the replica's sync
/// after it runs once it is answered), and reads cost none (a warm retrieval's is its
/// session's write). A periodic sync (two round trips) may fall within an operation.
#[cfg(feature = "bench")]
const MOST_ROUND_TRIPS_THROUGH_A_REPLICA: [(&str, f64); 5] = [
    ("start_episode", 3.0),
    ("log_step", 3.0),
    ("complete_episode", 3.0),
    ("get_episode, cached", 0.0),
    ("retrieve_context, warm cache", 3.0),
];

#[cfg(feature = "bench")]
#[test]
fn bench_remote_counts_the_round_trips_of_each_operation() {
    let sb = Sandbox::new();
    let Some(sqld) =
        memory_test_server::binary("bench_remote_counts_the_round_trips_of_each_operation")
    else {
        return;
    };
    let out = sb
        .command()
        .args(["--format", "json", "bench", "remote", "--sqld"])
        .arg(&sqld)
        .args([
            "--rtt",
            "0,30",
            "--episodes",
            "3",
            "--steps",
            "2",
            "--cached-reads",
            "50",
            "--retrievals",
            "2",
            "--agents",
            "2",
            "--episodes-per-agent",
            "1",
            "--import-episodes",
            "20",
        ])
        .output()
        .unwrap();
    let report = json(&out, "bench remote");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "two RTTs, each direct and through a replica");
    for run in runs {
        let rtt_ms = run["rtt_ms"].as_f64().unwrap();
        let via = run["via"].as_str().unwrap();
        let most: &[(&str, f64)] = match via {
            "direct" => &MOST_ROUND_TRIPS,
            _ => &MOST_ROUND_TRIPS_THROUGH_A_REPLICA,
        };
        for (op, most) in most {
            let trips = run["ops"][op]["round_trips_median"].as_f64().unwrap();
            assert!(
                trips <= *most,
                "{op} {via} at {rtt_ms} ms: {trips} round trips"
            );
        }
        if via == "replica" {
            // Another machine's replica shows a write within its sync interval (1 s).
            let shown = &run["ops"]["a write, until another machine's replica shows it"];
            assert_eq!(shown["latency"]["samples"], 5, "{run}");
            assert!(shown["latency"]["p50_us"].as_f64().unwrap() < 2_000_000.0);
        }
        let step = &run["ops"]["log_step"];
        let trips = step["round_trips_median"].as_f64().unwrap();
        assert!(trips >= 1.0);
        // Each round trip waits for the added time; through a replica only the write's
        // own is counted on (a periodic sync may run beside it).
        let waits = if via == "direct" {
            trips
        } else {
            trips.min(1.0)
        };
        let p50_us = step["latency"]["p50_us"].as_f64().unwrap();
        assert!(
            p50_us >= rtt_ms * 1000.0 * waits * 0.9,
            "log_step p50 {p50_us} µs at {rtt_ms} ms, {trips} round trips {via}"
        );
        assert!(run["import_episodes_per_s"].as_f64().unwrap() > 0.0);
        assert!(run["online_episodes_per_s"]["2"].as_f64().unwrap() > 0.0);
    }
}

#[cfg(feature = "bench")]
#[test]
fn bench_remote_measures_a_running_server_with_its_token() {
    let sb = Sandbox::new();
    let Some(server) = Sqld::start(
        sb.dir.path(),
        "bench_remote_measures_a_running_server_with_its_token",
    ) else {
        return;
    };
    let small = [
        "--rtt",
        "0",
        "--episodes",
        "1",
        "--steps",
        "1",
        "--cached-reads",
        "1",
        "--retrievals",
        "1",
        "--agents",
        "1",
        "--episodes-per-agent",
        "1",
        "--import-episodes",
        "2",
    ];
    let bench = |token: &str| {
        sb.command()
            .args(["--format", "json", "--db-auth-token", token])
            .args(["bench", "remote", "--server", &server.url])
            .args(small)
            .output()
            .unwrap()
    };
    let report = json(&bench(&server.token), "bench remote --server");
    assert_eq!(
        report["runs"][0]["ops"]["log_step"]["latency"]["samples"],
        1
    );
    assert_eq!(
        report["config"]["server"]["Url"]["url"],
        server.url.as_str()
    );
    // The token is used, never reported.
    assert!(!String::from_utf8_lossy(&bench(&server.token).stdout).contains(&server.token));
    let refused = bench(&server.wrong_token);
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("authentication failed"),
        "{}",
        stderr(&refused)
    );
}
