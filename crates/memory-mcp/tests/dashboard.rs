//! The web dashboard in-process on a loopback port: the page and its assets, the JSON API
//! (filters, search, an episode with its relationships, patterns, the read-only playground,
//! performance), the sign-in flow and its session cookie (accepted for the dashboard only),
//! the CSRF token a delete needs, and a token file's namespaces (others are not found).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, Running, loopback, request, start_with};
use memory_core::{
    NewEpisode, RelationshipKind, RelationshipMetadata, SelfLearningMemory, StepInput, StepResult,
    TaskContext, TaskOutcome,
};
use memory_mcp::{HttpConfig, TokenFile};
use serde_json::json;
use uuid::Uuid;

const TOKEN: &str = "dashboard-token-0123456789abcdef";
const TEAM: &str = "team-token-0123456789abcdef";

/// Records a completed episode: `task` in `domain`, steps `tools`, ending as `success`.
async fn record(
    memory: &SelfLearningMemory,
    ns: &str,
    task: &str,
    domain: &str,
    tools: &[&str],
    success: bool,
) -> Uuid {
    let new = NewEpisode {
        context: TaskContext {
            domain: Some(domain.to_string()),
            language: Some("rust".to_string()),
            ..TaskContext::default()
        },
        tags: vec!["dash".to_string()],
        ..NewEpisode::new(task)
    };
    let id = memory.start_episode(ns, new).await.unwrap();
    for tool in tools {
        let step = StepInput {
            latency_ms: 120,
            ..StepInput::new(
                *tool,
                format!("run {tool}"),
                StepResult::Success {
                    output: format!("{tool} ok"),
                },
            )
        };
        memory.log_step(ns, id, step).await.unwrap();
    }
    let outcome = if success {
        TaskOutcome::Success {
            verdict: "done".into(),
            artifacts: vec![],
        }
    } else {
        TaskOutcome::Failure {
            reason: "broke".into(),
            details: None,
        }
    };
    memory.complete_episode(ns, id, outcome).await.unwrap();
    id
}

async fn get(url: String, headers: Vec<(&'static str, String)>) -> Reply {
    request("GET", url, headers, None).await
}

/// Signs in with `token` and returns the `Cookie` header of the session.
async fn sign_in(s: &Running, token: &str) -> (&'static str, String) {
    let r = request(
        "POST",
        s.url("/login"),
        vec![
            (
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            ),
            ("origin", format!("http://{}", s.addr)),
        ],
        Some(format!("token={token}")),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    assert!(
        pair.starts_with("memory_session=") && pair.len() > 40,
        "{pair}"
    );
    ("cookie", pair)
}

#[tokio::test]
async fn loopback_without_token_serves_the_page_and_the_api() {
    let s = start_with(loopback()).await;
    let m = &s.memory;
    let fix = record(
        m,
        "default",
        "fix the flaky login test",
        "web",
        &["cargo test", "edit_file", "cargo test"],
        true,
    )
    .await;
    let deploy = record(
        m,
        "default",
        "deploy the staging cluster",
        "infra",
        &["kubectl apply"],
        false,
    )
    .await;
    record(
        m,
        "default",
        "add a terraform module for postgres",
        "infra",
        &["terraform plan", "terraform apply"],
        true,
    )
    .await;
    m.relate(
        "default",
        deploy,
        fix,
        RelationshipKind::DependsOn,
        RelationshipMetadata::default(),
    )
    .await
    .unwrap();

    let page = get(s.url("/"), vec![]).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert!(page.body.contains("/ui/app.js"));
    for asset in ["/ui/app.js", "/ui/app.css"] {
        assert_eq!(get(s.url(asset), vec![]).await.status, 200, "{asset}");
    }
    assert_eq!(get(s.url("/ui/nope.js"), vec![]).await.status, 404);
    // A page of another name (DNS rebinding) is refused, as for /mcp.
    for path in ["/", "/api/session", "/ui/app.js"] {
        let foreign = get(s.url(path), vec![("host", "evil.example".to_string())]).await;
        assert_eq!(foreign.status, 403, "{path}");
    }
    // No sign-in without a token.
    let login = get(s.url("/login"), vec![]).await;
    assert_eq!(login.status, 303);

    let session = get(s.url("/api/session"), vec![]).await.json();
    assert_eq!(session["whole_store"], true);
    assert_eq!(session["auth_required"], false);
    assert_eq!(session["csrf"].as_str().unwrap().len(), 64);

    let overview = get(s.url("/api/overview"), vec![]).await.json();
    assert_eq!(overview["namespaces"][0]["name"], "default");
    assert_eq!(overview["namespaces"][0]["counts"]["episodes"], 3);
    assert_eq!(overview["namespaces"][0]["counts"]["failure"], 1);
    assert_eq!(overview["store"]["episodes"], 3);
    assert_eq!(overview["recent"].as_array().unwrap().len(), 3);

    // The list, its filters and the full-text search.
    let all = get(s.url("/api/episodes"), vec![]).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let infra = get(s.url("/api/episodes?domain=infra"), vec![])
        .await
        .json();
    assert_eq!(infra["items"].as_array().unwrap().len(), 2);
    let failed = get(s.url("/api/episodes?domain=infra&outcome=failure"), vec![])
        .await
        .json();
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    assert_eq!(failed["items"][0]["id"], deploy.to_string());
    let paged = get(s.url("/api/episodes?limit=2"), vec![]).await.json();
    assert_eq!(paged["items"].as_array().unwrap().len(), 2);
    assert_eq!(paged["more"], true);
    let found = get(s.url("/api/episodes?q=terraform+postgres"), vec![])
        .await
        .json();
    assert_eq!(found["searched"], true);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let none = get(s.url("/api/episodes?q=terraform&domain=web"), vec![])
        .await
        .json();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    // The limits `search_episodes` has: a query of at most 4,096 characters.
    let long = format!("/api/episodes?q={}", "a".repeat(4_097));
    assert_eq!(get(s.url(&long), vec![]).await.status, 400);
    let future = get(s.url("/api/episodes?after=2999-01-01"), vec![])
        .await
        .json();
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        get(s.url("/api/episodes?after=yesterday"), vec![])
            .await
            .status,
        400
    );
    assert_eq!(
        get(s.url("/api/episodes?outcome=great"), vec![])
            .await
            .status,
        400
    );

    // One episode: steps, reward, reflection, relationships, the patterns it fed.
    let one = get(s.url(&format!("/api/episodes/{fix}")), vec![])
        .await
        .json();
    assert_eq!(one["episode"]["steps"].as_array().unwrap().len(), 3);
    assert!(one["episode"]["reward"]["total"].is_number());
    assert!(one["episode"]["reflection"].is_object());
    assert_eq!(one["related"][0]["episode"], deploy.to_string());
    assert!(!one["patterns"].as_array().unwrap().is_empty());
    assert_eq!(one["writable"], true);
    assert_eq!(
        get(s.url(&format!("/api/episodes/{}", Uuid::now_v7())), vec![])
            .await
            .status,
        404
    );
    assert_eq!(
        get(s.url("/api/episodes/not-an-id"), vec![]).await.status,
        404
    );

    let graph = get(s.url(&format!("/api/graph/{fix}")), vec![])
        .await
        .json();
    assert_eq!(graph["graph"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(graph["graph"]["edges"][0]["kind"], "depends_on");

    let patterns = get(s.url("/api/patterns?order=support"), vec![])
        .await
        .json();
    let first = &patterns["patterns"][0];
    for field in [
        "episodes",
        "success_rate",
        "confidence",
        "lift",
        "feedback",
        "evidence",
    ] {
        assert!(!first[field].is_null(), "{field}: {first}");
    }
    assert_eq!(
        get(s.url("/api/patterns?order=best"), vec![]).await.status,
        400
    );

    // The playground: the pack and its hits, and no session stored.
    let pack = request(
        "POST",
        s.url("/api/retrieve"),
        vec![("content-type", "application/json".into())],
        Some(json!({ "task": "the login test is flaky", "domain": "web" }).to_string()),
    )
    .await;
    assert_eq!(pack.status, 200, "{}", pack.body);
    let pack = pack.json();
    assert!(
        pack["markdown"]
            .as_str()
            .unwrap()
            .contains("flaky login test")
    );
    assert_eq!(pack["hits"][0]["id"], fix.to_string());
    assert!(pack["hits"][0]["score"]["total"].is_number());
    assert!(pack.get("session_id").is_none());
    assert_eq!(s.memory.stats().await.unwrap().storage.sessions, 0);

    let perf = get(s.url("/api/perf"), vec![]).await.json();
    assert!(!perf["now"]["operations"].as_array().unwrap().is_empty());
    assert!(!perf["history"].as_array().unwrap().is_empty());
    assert!(perf["now"]["storage"]["location"].is_null());

    assert_eq!(get(s.url("/api/nothing"), vec![]).await.status, 404);
    assert_eq!(
        request("PUT", s.url("/api/episodes"), vec![], None)
            .await
            .status,
        405
    );
    s.stop().await;
}

#[tokio::test]
async fn deleting_needs_the_csrf_token_and_the_same_origin() {
    let s = start_with(loopback()).await;
    let id = record(
        &s.memory,
        "default",
        "rotate the api keys",
        "infra",
        &["vault write"],
        true,
    )
    .await;
    let url = s.url(&format!("/api/episodes/{id}"));
    let csrf = get(s.url("/api/session"), vec![]).await.json()["csrf"]
        .as_str()
        .unwrap()
        .to_string();

    let without = request("DELETE", url.clone(), vec![], None).await;
    assert_eq!(without.status, 403, "{}", without.body);
    assert!(without.body.contains("X-CSRF-Token"));
    let wrong = request(
        "DELETE",
        url.clone(),
        vec![("x-csrf-token", "0".repeat(64))],
        None,
    )
    .await;
    assert_eq!(wrong.status, 403);
    let foreign = request(
        "DELETE",
        url.clone(),
        vec![
            ("x-csrf-token", csrf.clone()),
            ("origin", "http://evil.example".into()),
        ],
        None,
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(get(url.clone(), vec![]).await.status, 200, "still there");

    let deleted = request(
        "DELETE",
        url.clone(),
        vec![
            ("x-csrf-token", csrf),
            ("origin", format!("http://{}", s.addr)),
        ],
        None,
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(get(url, vec![]).await.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn signing_in_gives_a_cookie_that_opens_the_dashboard_only() {
    let s = start_with(HttpConfig {
        auth_token: Some(TOKEN.into()),
        ..loopback()
    })
    .await;
    record(
        &s.memory,
        "default",
        "fix the flaky login test",
        "web",
        &["cargo test"],
        true,
    )
    .await;

    // Nothing without a token or a cookie: the page sends to the sign-in form.
    let page = get(s.url("/"), vec![]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
    assert_eq!(get(s.url("/api/overview"), vec![]).await.status, 401);
    assert_eq!(get(s.url("/api/session"), vec![]).await.status, 401);
    let form = get(s.url("/login"), vec![]).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"token\""));
    assert_eq!(get(s.url("/ui/app.css"), vec![]).await.status, 200);

    // A wrong token: the form again, no cookie.
    let wrong = request(
        "POST",
        s.url("/login"),
        vec![("content-type", "application/x-www-form-urlencoded".into())],
        Some("token=wrong-token-0123456789".into()),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    // A sign-in posted by another site's page.
    let foreign = request(
        "POST",
        s.url("/login"),
        vec![("origin", "http://evil.example".into())],
        Some(format!("token={TOKEN}")),
    )
    .await;
    assert_eq!(foreign.status, 403);

    let cookie = sign_in(&s, TOKEN).await;
    assert_eq!(get(s.url("/"), vec![cookie.clone()]).await.status, 200);
    let session = get(s.url("/api/session"), vec![cookie.clone()])
        .await
        .json();
    assert_eq!(session["signed_in"], true);
    let overview = get(s.url("/api/overview"), vec![cookie.clone()]).await;
    assert_eq!(overview.status, 200);
    assert_eq!(overview.json()["namespaces"][0]["counts"]["episodes"], 1);
    // The cookie is no key to MCP, /metrics or /health.
    for path in ["/mcp", "/metrics", "/health"] {
        assert_eq!(
            get(s.url(path), vec![cookie.clone()]).await.status,
            401,
            "{path}"
        );
    }
    // A made-up cookie opens nothing.
    let forged = ("cookie", format!("memory_session={}", "a".repeat(64)));
    assert_eq!(get(s.url("/api/overview"), vec![forged]).await.status, 401);
    // The bearer token still works for the API.
    let bearer = ("authorization", format!("Bearer {TOKEN}"));
    assert_eq!(get(s.url("/api/overview"), vec![bearer]).await.status, 200);

    // Signing out ends the session.
    let out = request("POST", s.url("/logout"), vec![cookie.clone()], None).await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(s.url("/api/overview"), vec![cookie]).await.status, 401);
    s.stop().await;
}

#[tokio::test]
async fn a_token_file_limits_the_dashboard_to_its_namespaces() {
    let file = TokenFile::parse(
        &format!("{TEAM} read-write team-a\n{TEAM} read shared\n"),
        std::path::Path::new("tokens"),
        &memory_core::Limits::default(),
    )
    .unwrap();
    let s = start_with(HttpConfig {
        token_file: Some(file),
        auth_token: Some(TOKEN.into()),
        ..loopback()
    })
    .await;
    let m = &s.memory;
    let mine = record(m, "team-a", "team a's task", "web", &["cargo test"], true).await;
    let shared = record(m, "shared", "a shared task", "web", &["cargo test"], true).await;
    let hidden = record(
        m,
        "other",
        "another team's secret task",
        "web",
        &["cargo test"],
        true,
    )
    .await;

    let cookie = sign_in(&s, TEAM).await;
    let session = get(s.url("/api/session"), vec![cookie.clone()])
        .await
        .json();
    assert_eq!(session["whole_store"], false);
    let names: Vec<&str> = session["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team-a", "shared"]);

    let overview = get(s.url("/api/overview"), vec![cookie.clone()])
        .await
        .json();
    let listed: Vec<&str> = overview["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["team-a", "shared"]);
    assert!(
        overview["store"].is_null(),
        "whole-store figures: {overview}"
    );
    assert!(!overview.to_string().contains("secret"));

    let list = get(
        s.url("/api/episodes?namespace=team-a"),
        vec![cookie.clone()],
    )
    .await
    .json();
    assert_eq!(list["items"][0]["id"], mine.to_string());
    for path in [
        "/api/episodes?namespace=other".to_string(),
        format!("/api/episodes/{hidden}?namespace=other"),
        format!("/api/graph/{hidden}?namespace=other"),
        "/api/patterns?namespace=other".to_string(),
        format!("/api/episodes/{hidden}?namespace=team-a"),
    ] {
        let r = get(s.url(&path), vec![cookie.clone()]).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("secret"));
    }
    let pack = request(
        "POST",
        s.url("/api/retrieve"),
        vec![cookie.clone()],
        Some(json!({ "task": "secret task", "namespace": "other" }).to_string()),
    )
    .await;
    assert_eq!(pack.status, 404);
    assert_eq!(
        get(s.url("/api/perf"), vec![cookie.clone()]).await.status,
        403
    );

    // Read-only: readable, not deletable.
    let csrf = session["csrf"].as_str().unwrap().to_string();
    let url = s.url(&format!("/api/episodes/{shared}?namespace=shared"));
    let read = get(url.clone(), vec![cookie.clone()]).await.json();
    assert_eq!(read["writable"], false);
    let refused = request(
        "DELETE",
        url,
        vec![cookie.clone(), ("x-csrf-token", csrf.clone())],
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Read-write: deleted with the session's CSRF token (the server-wide one does not do).
    let url = s.url(&format!("/api/episodes/{mine}?namespace=team-a"));
    let open_csrf = get(
        s.url("/api/session"),
        vec![("authorization", format!("Bearer {TOKEN}"))],
    )
    .await
    .json()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(open_csrf, csrf);
    let mismatched = request(
        "DELETE",
        url.clone(),
        vec![cookie.clone(), ("x-csrf-token", open_csrf)],
        None,
    )
    .await;
    assert_eq!(mismatched.status, 403);
    let deleted = request("DELETE", url, vec![cookie, ("x-csrf-token", csrf)], None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    s.stop().await;
}
