//! The web dashboard in-process on a loopback port: the page and its assets, the JSON API
//! (filters, search, an episode with its relationships, patterns, the read-only playground,
//! performance), the sign-in flow and its session cookie (accepted for the dashboard only),
//! the CSRF token a delete needs, and a token file's namespaces (others are not found).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Reply, Running, loopback, request, start_with, start_with_tokens};
use memory_core::{
    Episode, NewEpisode, RelationshipKind, RelationshipMetadata, SelfLearningMemory, StepInput,
    StepResult, TaskContext, TaskOutcome, TaskType,
};
use memory_mcp::HttpConfig;
use memory_mcp::dashboard::SignInLimit;
use serde_json::json;
use std::time::Duration;
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
    let name = format!("memory_session_{}=", s.addr.port());
    assert!(pair.starts_with(&name) && pair.len() > 40, "{pair}");
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
    let forged = (
        "cookie",
        format!("memory_session_{}={}", s.addr.port(), "a".repeat(64)),
    );
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
    let s = start_with_tokens(
        &format!("{TEAM} read-write team-a\n{TEAM} read shared\n"),
        Some(TOKEN),
    )
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

/// Stores `n` running episodes in `ns` at once, three to each microsecond (so that the
/// listing's order among equal start times, by id, is walked too); every other one in domain
/// `infra`. Their ids, newest first as the listing orders them.
async fn store_many(memory: &SelfLearningMemory, ns: &str, n: usize) -> Vec<Uuid> {
    let base = chrono::Utc::now() - chrono::Duration::hours(1);
    let base = chrono::DateTime::from_timestamp_micros(base.timestamp_micros()).unwrap();
    let episodes: Vec<Episode> = (0..n)
        .map(|i| Episode {
            id: Uuid::new_v4(),
            namespace: ns.to_string(),
            task_description: format!("stored task {i}"),
            task_type: TaskType::default(),
            context: TaskContext {
                domain: Some(if i % 2 == 0 { "infra" } else { "web" }.to_string()),
                ..TaskContext::default()
            },
            started_at: base + chrono::Duration::microseconds((i / 3) as i64),
            ended_at: None,
            steps: Vec::new(),
            outcome: None,
            reward: None,
            reflection: None,
            pattern_ids: Vec::new(),
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            retrieval_session: None,
        })
        .collect();
    let mut order: Vec<(i64, Uuid)> = episodes
        .iter()
        .map(|e| (e.started_at.timestamp_micros(), e.id))
        .collect();
    memory.storage().store_episodes(episodes).await.unwrap();
    order.sort_unstable_by(|a, b| b.cmp(a));
    order.into_iter().map(|(_, id)| id).collect()
}

fn ids(page: &serde_json::Value) -> Vec<Uuid> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Every page of `/api/episodes?{query}` by cursor, and how many pages it took.
async fn walk_cursors(s: &Running, query: &str) -> (Vec<Uuid>, usize) {
    let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/episodes?{query}&cursor={c}"),
            None => format!("/api/episodes?{query}"),
        };
        let page = get(s.url(&url), vec![]).await;
        assert_eq!(page.status, 200, "{url}: {}", page.body);
        let page = page.json();
        pages += 1;
        seen.extend(ids(&page));
        assert_eq!(page["more"], !page["next"].is_null(), "{page}");
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (seen, pages),
        }
        assert!(pages < 1_000, "the walk does not end");
    }
}

/// Every page of `/api/episodes?{query}` by offset.
async fn walk_offsets(s: &Running, query: &str, limit: usize) -> Vec<Uuid> {
    let mut seen = Vec::new();
    for offset in (0..).step_by(limit) {
        let page = get(
            s.url(&format!("/api/episodes?{query}&offset={offset}")),
            vec![],
        )
        .await
        .json();
        seen.extend(ids(&page));
        if page["more"] == false {
            return seen;
        }
    }
    unreachable!()
}

#[tokio::test]
async fn cursor_paging_walks_the_whole_list_once_as_offsets_do() {
    let s = start_with(loopback()).await;
    // 63 episodes: nine full pages of 7, so the last page is full and still says it is the
    // last (no empty page after it).
    let newest_first = store_many(&s.memory, "default", 63).await;
    let (walked, pages) = walk_cursors(&s, "limit=7").await;
    assert_eq!(pages, 9);
    assert_eq!(
        walked, newest_first,
        "cursor paging: every episode once, in order"
    );
    assert_eq!(walk_offsets(&s, "limit=7", 7).await, walked);
    // Pages of another size, and with a filter: the same agreement.
    let (walked, _) = walk_cursors(&s, "limit=10").await;
    assert_eq!(walked, newest_first);
    let (infra, _) = walk_cursors(&s, "limit=4&domain=infra").await;
    assert_eq!(infra.len(), 32);
    assert_eq!(walk_offsets(&s, "limit=4&domain=infra", 4).await, infra);
    // The cursor is the last item's place: the next page starts right after it.
    let first = get(s.url("/api/episodes?limit=5"), vec![]).await.json();
    let next = first["next"].as_str().unwrap();
    let last = &first["items"][4];
    let micros = chrono::DateTime::parse_from_rfc3339(last["started_at"].as_str().unwrap())
        .unwrap()
        .timestamp_micros();
    assert_eq!(next, format!("{micros}.{}", last["id"].as_str().unwrap()));
    // Offsets still work for API callers, and after a cursor they skip from there.
    let skipped = get(
        s.url(&format!("/api/episodes?limit=5&cursor={next}&offset=5")),
        vec![],
    )
    .await
    .json();
    assert_eq!(ids(&skipped), newest_first[10..15]);
    s.stop().await;
}

#[tokio::test]
async fn a_malformed_cursor_is_refused_with_the_reason() {
    let s = start_with(loopback()).await;
    store_many(&s.memory, "default", 3).await;
    for bad in [
        "garbage",
        "123",
        "123.not-a-uuid",
        "x.0190a8e2-7d8f-7000-8000-000000000000",
    ] {
        let r = get(s.url(&format!("/api/episodes?cursor={bad}")), vec![]).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            error.contains("`cursor`") && error.contains("next"),
            "{error}"
        );
    }
    // A cursor pages the listing, not the search's matches.
    let first = get(s.url("/api/episodes?limit=1"), vec![]).await.json();
    let next = first["next"].as_str().unwrap();
    let r = get(
        s.url(&format!("/api/episodes?q=stored&cursor={next}")),
        vec![],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("offset"), "{}", r.body);
    // A well-formed cursor past the end: an empty last page.
    let end = get(
        s.url("/api/episodes?cursor=0.00000000-0000-0000-0000-000000000000"),
        vec![],
    )
    .await
    .json();
    assert_eq!(end["items"].as_array().unwrap().len(), 0);
    assert!(end["next"].is_null());
    s.stop().await;
}

fn namespace_names(overview: &serde_json::Value) -> Vec<String> {
    overview["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_whole_store_sees_every_namespace_and_a_limited_token_its_own() {
    let s = start_with_tokens(
        &format!("{TEAM} read-write team-a\n{TEAM} read shared\n"),
        Some(TOKEN),
    )
    .await;
    store_many(&s.memory, "team-a", 2).await;
    store_many(&s.memory, "shared", 1).await;
    store_many(&s.memory, "hidden", 5).await;
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];

    // The whole store: the server's namespace first (empty here), then the largest.
    let all = get(s.url("/api/overview"), bearer(TOKEN)).await.json();
    assert_eq!(
        namespace_names(&all),
        ["default", "hidden", "team-a", "shared"]
    );
    assert_eq!(all["more_namespaces"], 0);
    assert_eq!(all["namespaces"][0]["counts"]["episodes"], 0);
    assert_eq!(all["namespaces"][1]["counts"]["episodes"], 5);
    assert_eq!(all["namespaces"][1]["counts"]["running"], 5);
    assert!(all["namespaces"][1]["heuristics"].is_number());
    // A token limited to namespaces: its own, never another's name.
    let team = get(s.url("/api/overview"), bearer(TEAM)).await.json();
    assert_eq!(namespace_names(&team), ["team-a", "shared"]);
    assert_eq!(team["namespaces"][0]["counts"]["episodes"], 2);
    assert_eq!(team["more_namespaces"], 0);
    assert!(!team.to_string().contains("hidden"), "{team}");
    s.stop().await;
}

#[tokio::test]
async fn the_overview_says_how_many_namespaces_it_does_not_show() {
    let s = start_with(loopback()).await;
    for i in 0..23 {
        store_many(&s.memory, &format!("ns-{i:02}"), 1 + i % 3).await;
    }
    let overview = get(s.url("/api/overview"), vec![]).await.json();
    let names = namespace_names(&overview);
    assert_eq!(names.len(), 20);
    assert_eq!(names[0], "default");
    // 24 namespaces (the server's and 23 with episodes), 20 shown: the largest after the
    // server's (three episodes each: ns-02, ns-05, ...).
    assert_eq!(overview["more_namespaces"], 4);
    assert_eq!(names[1], "ns-02");
    let episodes: Vec<u64> = overview["namespaces"].as_array().unwrap()[1..]
        .iter()
        .map(|n| n["counts"]["episodes"].as_u64().unwrap())
        .collect();
    assert!(episodes.windows(2).all(|w| w[0] >= w[1]), "{episodes:?}");
    s.stop().await;
}

#[tokio::test]
async fn the_graph_of_a_namespace_draws_its_newest_edges() {
    let s = start_with_tokens(&format!("{TEAM} read team-a\n"), Some(TOKEN)).await;
    let m = &s.memory;
    let a = record(m, "default", "write the migration", "db", &["sqlx"], true).await;
    let b = record(m, "default", "run the migration", "db", &["sqlx"], false).await;
    let c = record(
        m,
        "default",
        "roll the migration back",
        "db",
        &["sqlx"],
        true,
    )
    .await;
    let lone = record(m, "default", "an unrelated task", "db", &["ls"], true).await;
    let hidden = record(m, "team-b", "team b's secret", "db", &["ls"], true).await;
    let hidden2 = record(m, "team-b", "team b's other secret", "db", &["ls"], true).await;
    for (from, to, kind) in [
        (b, a, RelationshipKind::DependsOn),
        (c, b, RelationshipKind::Follows),
        (c, a, RelationshipKind::RelatedTo),
    ] {
        m.relate("default", from, to, kind, RelationshipMetadata::default())
            .await
            .unwrap();
    }
    m.relate(
        "team-b",
        hidden,
        hidden2,
        RelationshipKind::Follows,
        RelationshipMetadata::default(),
    )
    .await
    .unwrap();
    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];

    let whole = get(s.url("/api/graph"), bearer(TOKEN)).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    let whole = whole.json();
    assert_eq!(whole["namespace"], "default");
    assert_eq!(whole["more"], false);
    assert_eq!(whole["graph"]["edges"].as_array().unwrap().len(), 3);
    let nodes = whole["graph"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "the episodes the edges join, not {lone}");
    let b_node = nodes.iter().find(|n| n["id"] == b.to_string()).unwrap();
    assert_eq!(b_node["task_description"], "run the migration");
    assert_eq!(b_node["outcome"], "failure");
    assert!(!whole.to_string().contains("secret"));

    // Bounded: the newest edges, and the answer says older ones were left out.
    let newest = get(s.url("/api/graph?limit=2"), bearer(TOKEN)).await.json();
    assert_eq!(newest["more"], true);
    assert_eq!(newest["limit"], 2);
    let kinds: Vec<&str> = newest["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["follows", "related_to"]);
    assert_eq!(newest["graph"]["nodes"].as_array().unwrap().len(), 3);
    let one = get(s.url("/api/graph?limit=1"), bearer(TOKEN)).await.json();
    assert_eq!(one["graph"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(s.url("/api/graph?limit=lots"), bearer(TOKEN))
            .await
            .status,
        400
    );

    // Another namespace by name; one the token does not grant is not found.
    let b_graph = get(s.url("/api/graph?namespace=team-b"), bearer(TOKEN))
        .await
        .json();
    assert_eq!(b_graph["graph"]["edges"].as_array().unwrap().len(), 1);
    let empty = get(s.url("/api/graph?namespace=team-a"), bearer(TEAM)).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.json()["graph"]["nodes"].as_array().unwrap().len(), 0);
    for path in [
        "/api/graph?namespace=team-b",
        "/api/graph?namespace=default",
    ] {
        let r = get(s.url(path), bearer(TEAM)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("secret"));
    }
    s.stop().await;
}

/// A sign-in POSTed from `from` (a loopback address of the caller's choice, for a client at
/// another address): its status, `Retry-After` and `Set-Cookie` headers, and body.
async fn sign_in_from(s: &Running, from: [u8; 4], token: &str) -> Reply {
    use std::io::{Read as _, Write as _};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(s.addr).await.unwrap();
    let mut stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    let body = format!("token={token}");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len(),
        addr = s.addr,
    );
    let raw = tokio::task::spawn_blocking(move || {
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    Reply {
        status: status.parse().unwrap(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect(),
        body: body.to_string(),
    }
}

#[tokio::test]
async fn repeated_wrong_tokens_are_refused_for_a_while_from_that_address_only() {
    let s = start_with(HttpConfig {
        auth_token: Some(TOKEN.into()),
        sign_in_limit: SignInLimit {
            per_client: 3,
            global: 6,
            window: Duration::from_secs(60),
        },
        ..loopback()
    })
    .await;
    const HERE: [u8; 4] = [127, 0, 0, 1];
    for _ in 0..3 {
        let wrong = sign_in_from(&s, HERE, "wrong-token-0123456789").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    // The fourth is refused without a look at the token: even the right one.
    let refused = sign_in_from(&s, HERE, TOKEN).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(
        refused
            .body
            .contains("Too many wrong tokens from your address")
    );
    assert!(refused.header("set-cookie").is_none());
    // Another address signs in, and its wrong tokens are its own.
    let elsewhere = sign_in_from(&s, [127, 0, 0, 2], TOKEN).await;
    assert_eq!(elsewhere.status, 303, "{}", elsewhere.body);
    assert!(elsewhere.header("set-cookie").is_some());
    // The session works, and the bearer token on the API is not held back either.
    let bearer = ("authorization", format!("Bearer {TOKEN}"));
    assert_eq!(get(s.url("/api/session"), vec![bearer]).await.status, 200);
    // Beyond the server-wide ceiling (6 wrong tokens in all), every address waits.
    for from in [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]] {
        let wrong = sign_in_from(&s, from, "wrong-token-0123456789").await;
        assert_eq!(wrong.status, 401, "{}", wrong.body);
    }
    let everyone = sign_in_from(&s, [127, 0, 0, 5], TOKEN).await;
    assert_eq!(everyone.status, 429, "{}", everyone.body);
    assert!(
        everyone.body.contains("paused for everyone"),
        "{}",
        everyone.body
    );
    s.stop().await;
}

#[tokio::test]
async fn a_good_token_signs_in_again_once_the_window_has_passed() {
    let window = Duration::from_secs(2);
    let s = start_with(HttpConfig {
        auth_token: Some(TOKEN.into()),
        sign_in_limit: SignInLimit {
            per_client: 2,
            global: 100,
            window,
        },
        ..loopback()
    })
    .await;
    const HERE: [u8; 4] = [127, 0, 0, 1];
    let started = std::time::Instant::now();
    for _ in 0..2 {
        assert_eq!(sign_in_from(&s, HERE, "wrong").await.status, 401);
    }
    let refused = sign_in_from(&s, HERE, TOKEN).await;
    if started.elapsed() < window {
        assert_eq!(refused.status, 429, "{}", refused.body);
        assert_eq!(refused.header("retry-after"), Some("2"));
    }
    tokio::time::sleep(window.saturating_sub(started.elapsed()) + Duration::from_millis(100)).await;
    let again = sign_in_from(&s, HERE, TOKEN).await;
    assert_eq!(again.status, 303, "{}", again.body);
    // A good sign-in is not a failure: the allowance is whole again.
    for _ in 0..2 {
        assert_eq!(sign_in_from(&s, HERE, "wrong").await.status, 401);
    }
    s.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_named_after_the_port() {
    let a = start_with(HttpConfig {
        auth_token: Some(TOKEN.into()),
        ..loopback()
    })
    .await;
    let b = start_with(HttpConfig {
        auth_token: Some(TOKEN.into()),
        ..loopback()
    })
    .await;
    let (_, cookie_a) = sign_in(&a, TOKEN).await;
    let (_, cookie_b) = sign_in(&b, TOKEN).await;
    assert!(cookie_a.starts_with(&format!("memory_session_{}=", a.addr.port())));
    assert!(cookie_b.starts_with(&format!("memory_session_{}=", b.addr.port())));
    // The browser sends both cookies to both ports: each server finds its own session.
    let both = ("cookie", format!("{cookie_a}; {cookie_b}"));
    for s in [&a, &b] {
        let session = get(s.url("/api/session"), vec![both.clone()]).await;
        assert_eq!(session.status, 200, "{}", session.body);
        assert_eq!(session.json()["signed_in"], true);
    }
    // Signing out of one leaves the other signed in.
    let out = request("POST", a.url("/logout"), vec![both.clone()], None).await;
    assert!(
        out.header("set-cookie")
            .unwrap()
            .starts_with(&format!("memory_session_{}=;", a.addr.port()))
    );
    assert_eq!(
        get(a.url("/api/session"), vec![both.clone()]).await.status,
        401
    );
    assert_eq!(get(b.url("/api/session"), vec![both]).await.status, 200);
    // One server's session id under the other's name opens nothing.
    let id_a = cookie_a.split_once('=').unwrap().1;
    let swapped = ("cookie", format!("memory_session_{}={id_a}", b.addr.port()));
    assert_eq!(get(b.url("/api/session"), vec![swapped]).await.status, 401);
    a.stop().await;
    b.stop().await;
}
