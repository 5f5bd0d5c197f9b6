//! The dashboard's JSON API under `/api/`: every handler reads through the caller's
//! [`Grant`], so a namespace it does not grant is neither listed nor found (404), and a write
//! to a read-only one is refused (403).
//!
//! - `GET /api/session` — the caller's CSRF token, namespaces and whether it sees the whole
//!   store.
//! - `GET /api/overview` — each namespace's counts (every namespace of the store for
//!   whole-store callers, the granted ones for others); the store's size and embedder for
//!   whole-store callers; recent episodes.
//! - `GET /api/episodes` — a page of episodes (filters: `namespace`, `domain`, `language`,
//!   `outcome`, `tag`, `after`, `before` — start dates —, `q` for full-text search; `limit`;
//!   `cursor`, the `next` of the page before, or `offset`).
//! - `GET /api/episodes/{id}` — one episode with its relationships, checkpoints and the
//!   patterns it fed; `DELETE` deletes it (`X-CSRF-Token` required).
//! - `GET /api/graph/{id}` — the relationship graph around an episode; `GET /api/graph` —
//!   a namespace's newest relationships and the episodes they join.
//! - `GET /api/patterns` — patterns (`order`: confidence, support, lift, recent) and
//!   heuristics.
//! - `POST /api/retrieve` — a read-only retrieval: the context pack, hits with their score
//!   parts.
//! - `GET /api/perf` — latencies, caches, statements, connections, write queue, and the last
//!   hour's samples (whole-store callers only).

use super::Dashboard;
use super::routes::{Body, json, read_body};
use super::session::same_token;
use crate::access::{Access, Denied, Grant};
use crate::server::MemoryServer;
use crate::stats::{NamespaceCounts, namespace_counts};
use chrono::{DateTime, NaiveDate, Utc};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use memory_core::retrieval::RetrievalMode;
use memory_core::retrieval::query_terms;
use memory_core::{
    EpisodeCounts, EpisodeCursor, EpisodeFilter, EpisodeSummary, MemoryError, OutcomeKind,
    PatternFilter, PatternKindName, PatternOrder, RelationshipFilter, RetrievalQuery, TaskContext,
};
use serde::Deserialize;
use serde_json::{Value, json as j};
use std::sync::Arc;
use uuid::Uuid;

/// Largest page of episodes or patterns one call returns.
pub const MAX_PAGE: usize = 200;

/// Most full-text matches a search considers before the other filters.
const SEARCH_LIMIT: usize = 500;

/// Most namespaces the overview counts.
const MAX_OVERVIEW_NAMESPACES: usize = 20;

/// Most relationships a namespace's graph draws (the newest).
pub const MAX_GRAPH_EDGES: usize = 300;

/// Why an API call failed, and its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter was malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// Not found, or not granted (404).
    #[error("{0}")]
    NotFound(String),
    /// Granted, but not for this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The memory failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::NotFound { .. } => ApiError::NotFound(d.to_string()),
            Denied::ReadOnly(_) => ApiError::Forbidden(d.to_string()),
        }
    }
}

impl ApiError {
    fn response(&self) -> Response<Body> {
        let status = match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Memory(MemoryError::NotFound { .. }) => StatusCode::NOT_FOUND,
            ApiError::Memory(MemoryError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ApiError::Memory(MemoryError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Memory(_) => {
                tracing::error!("dashboard: {self}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        json(status, &j!({ "error": self.to_string() }))
    }
}

type ApiResult = Result<Value, ApiError>;

/// The query string's pairs, percent-decoded (`+` as a space).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (form encoding); malformed escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = bytes
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(bytes.get(i + 2).and_then(|&l| hex(l)));
                match pair {
                    Some((h, l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    fn usize_or(&self, key: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("`{key}` must be a whole number"))),
        }
    }
}

/// Answers one `/api/...` request for a caller with `grant`.
pub async fn handle(
    dash: &Dashboard,
    server: &MemoryServer,
    req: Request<Incoming>,
    grant: Arc<Grant>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let params = Params(query_pairs(req.uri().query()));
    let method = req.method().clone();
    let segments: Vec<&str> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["session"]) => Ok(session(dash, server, &grant, req.headers())),
        (&Method::GET, ["overview"]) => overview(server, &grant).await,
        (&Method::GET, ["episodes"]) => episodes(server, &grant, &params).await,
        (&Method::GET, ["episodes", id]) => episode(server, &grant, &params, id).await,
        (&Method::DELETE, ["episodes", id]) => {
            let expected = dash.csrf_for(req.headers());
            let given = req
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if same_token(given, &expected) {
                delete(server, &grant, &params, id).await
            } else {
                Err(ApiError::Forbidden(
                    "missing or wrong X-CSRF-Token: read it from GET /api/session".into(),
                ))
            }
        }
        (&Method::GET, ["graph"]) => namespace_graph(server, &grant, &params).await,
        (&Method::GET, ["graph", id]) => graph(server, &grant, &params, id).await,
        (&Method::GET, ["patterns"]) => patterns(server, &grant, &params).await,
        (&Method::POST, ["retrieve"]) => match read_body(req).await {
            Ok(body) => retrieve(server, &grant, &body).await,
            Err(refused) => return refused,
        },
        (&Method::GET, ["perf"]) => perf(dash, server, &grant).await,
        (
            _,
            [
                "session" | "overview" | "episodes" | "graph" | "patterns" | "retrieve" | "perf",
                ..,
            ],
        ) => {
            return json(
                StatusCode::METHOD_NOT_ALLOWED,
                &j!({ "error": format!("{method} is not allowed on {path}") }),
            );
        }
        _ => Err(ApiError::NotFound(format!("no API at {path}"))),
    };
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(e) => e.response(),
    }
}

/// The namespaces a caller may see by name: the server's (when granted), then the grant's.
fn known_namespaces(server: &MemoryServer, grant: &Grant) -> Vec<String> {
    let mut names = Vec::new();
    if grant.access(server.namespace()).is_some() {
        names.push(server.namespace().to_string());
    }
    for (ns, _) in grant.listed() {
        if !names.iter().any(|n| n == ns) {
            names.push(ns.to_string());
        }
    }
    names
}

/// The namespace a call names, or the caller's default; checked against the grant.
fn namespace(
    server: &MemoryServer,
    grant: &Grant,
    params: &Params,
    needed: Access,
) -> Result<String, ApiError> {
    let ns = match params.get("namespace") {
        Some(ns) => ns.to_string(),
        None => grant
            .default_namespace(server.namespace())
            .map(str::to_string)
            .ok_or_else(|| ApiError::NotFound("this token may use no namespace".into()))?,
    };
    grant.check(&ns, needed)?;
    Ok(ns)
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound(format!("episode `{id}` not found")))
}

fn session(
    dash: &Dashboard,
    server: &MemoryServer,
    grant: &Grant,
    headers: &http::HeaderMap,
) -> Value {
    let names = known_namespaces(server, grant);
    j!({
        "csrf": dash.csrf_for(headers),
        "auth_required": dash.auth_required,
        "signed_in": dash.sessions.lookup(headers).is_some(),
        "whole_store": grant.sees_whole_store(),
        "default_namespace": grant.default_namespace(server.namespace()),
        "namespaces": names.iter().map(|ns| j!({
            "name": ns,
            "access": grant.access(ns).map(|a| a.as_str()),
        })).collect::<Vec<_>>(),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// The namespaces the overview shows, each with its counts when they are known already, and
/// how many more there are than it shows. A whole-store caller gets every namespace of the
/// store (when the backend can list them): the server's and the grant's first, then the
/// largest. Any other caller gets the namespaces its grant names, and never learns another.
async fn overview_namespaces(
    server: &MemoryServer,
    grant: &Grant,
) -> Result<(Vec<(String, Option<EpisodeCounts>)>, usize), ApiError> {
    let known = known_namespaces(server, grant);
    let listed = match grant.sees_whole_store() {
        true => server.memory().storage().namespaces().await?,
        false => None,
    };
    let mut names: Vec<(String, Option<EpisodeCounts>)> = match listed {
        None => known.into_iter().map(|ns| (ns, None)).collect(),
        Some(all) => every_namespace(known, all, grant),
    };
    let more = names.len().saturating_sub(MAX_OVERVIEW_NAMESPACES);
    names.truncate(MAX_OVERVIEW_NAMESPACES);
    Ok((names, more))
}

/// `known` (with zero counts when the store holds nothing of them), then the rest of `all`
/// that `grant` lets the caller read, the most episodes first.
fn every_namespace(
    known: Vec<String>,
    mut all: Vec<(String, EpisodeCounts)>,
    grant: &Grant,
) -> Vec<(String, Option<EpisodeCounts>)> {
    all.retain(|(ns, _)| grant.access(ns).is_some());
    let mut names: Vec<(String, Option<EpisodeCounts>)> = known
        .into_iter()
        .map(|ns| {
            let counts = all.iter().find(|(n, _)| *n == ns).map(|(_, c)| *c);
            (ns, Some(counts.unwrap_or_default()))
        })
        .collect();
    all.retain(|(ns, _)| !names.iter().any(|(n, _)| n == ns));
    all.sort_by(|(a, ca), (b, cb)| cb.episodes().cmp(&ca.episodes()).then(a.cmp(b)));
    names.extend(all.into_iter().map(|(ns, c)| (ns, Some(c))));
    names
}

async fn overview(server: &MemoryServer, grant: &Grant) -> ApiResult {
    let memory = server.memory();
    let (shown, more_namespaces) = overview_namespaces(server, grant).await?;
    let mut namespaces = Vec::new();
    for (ns, counts) in shown {
        let counts = match counts {
            Some(c) => NamespaceCounts::from(c),
            None => namespace_counts(memory, &ns).await?,
        };
        let mut filter = PatternFilter::new(&ns);
        filter.limit = memory.config().limits.list_limit;
        let heuristics = memory.heuristics(&filter).await?.len();
        namespaces.push(j!({ "name": ns, "counts": counts, "heuristics": heuristics }));
    }
    let store = if grant.sees_whole_store() {
        let stats = memory.stats().await?;
        let at_ms = Utc::now().timestamp_millis();
        let s = &stats.storage;
        Some(j!({
            "backend": s.backend,
            "database_bytes": s.database_bytes,
            "episodes": s.episodes,
            "steps": s.steps,
            "patterns": s.patterns,
            "sessions": s.sessions,
            "vectors": s.vectors,
            "episodes_without_vectors": s.episodes_without_vectors,
            "uptime_seconds": stats.uptime_seconds,
            "as_of_ms": at_ms,
            "embedder": memory.embedder().map(|e| j!({
                "id": e.id(),
                "dimension": e.dimension(),
                "semantic": e.is_semantic(),
            })),
        }))
    } else {
        None
    };
    let mut recent = Vec::new();
    if let Some(ns) = grant.default_namespace(server.namespace()) {
        let mut filter = EpisodeFilter::new(ns);
        filter.limit = 10;
        recent = memory.list_episodes(&filter).await?;
    }
    Ok(j!({
        "namespaces": namespaces,
        "more_namespaces": more_namespaces,
        "store": store,
        "recent": recent,
    }))
}

/// An instant from `2026-01-31` (midnight UTC) or RFC 3339.
fn instant(params: &Params, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = params.get(key) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`{key}` must be a date (2026-01-31) or RFC 3339"))
        })
}

fn filter_from(ns: &str, params: &Params) -> Result<EpisodeFilter, ApiError> {
    let mut filter = EpisodeFilter::new(ns);
    filter.domain = params.get("domain").map(str::to_string);
    filter.language = params.get("language").map(str::to_string);
    filter.outcome = params
        .get("outcome")
        .map(|o| o.parse::<OutcomeKind>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("`outcome`: {e}")))?;
    filter.tags = params
        .get("tag")
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    filter.started_after = instant(params, "after")?;
    filter.started_before = instant(params, "before")?;
    filter.limit = params.usize_or("limit", 25)?.clamp(1, MAX_PAGE);
    filter.offset = params.usize_or("offset", 0)?;
    filter.after = cursor(params)?;
    Ok(filter)
}

/// The `cursor` parameter: where the page starts (the `next` of the page before it).
fn cursor(params: &Params) -> Result<Option<EpisodeCursor>, ApiError> {
    params
        .get("cursor")
        .map(|c| {
            c.parse::<EpisodeCursor>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "`cursor` is `{}`: not a cursor of this listing (`<started_at µs>.<episode \
                     id>`); pass the `next` of the page before, as it was given",
                    short(c, 80)
                ))
            })
        })
        .transpose()
}

/// At most `max` characters of `s`, for quoting a parameter back.
fn short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

/// Whether a search hit passes the listing's other filters.
fn passes(e: &EpisodeSummary, f: &EpisodeFilter) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| {
        want.as_ref()
            .is_none_or(|w| have.as_ref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
    };
    eq(&f.domain, &e.context.domain)
        && eq(&f.language, &e.context.language)
        && f.outcome.is_none_or(|o| e.outcome_kind == Some(o))
        && f.tags
            .iter()
            .all(|t| e.tags.contains(t) || e.context.tags.contains(t))
        && f.started_after.is_none_or(|t| e.started_at >= t)
        && f.started_before.is_none_or(|t| e.started_at < t)
}

/// `GET /api/episodes`: a page of the listing (newest first), or of the full-text search's
/// matches when `q` is given. A listing page carries `next`, the cursor its next page starts
/// from (`null` on the last page): paging by cursor costs the same at any depth, where an
/// `offset` costs every row it skips. Search matches are few (at most [`SEARCH_LIMIT`]) and
/// paged by `offset`.
async fn episodes(server: &MemoryServer, grant: &Grant, params: &Params) -> ApiResult {
    let ns = namespace(server, grant, params, Access::Read)?;
    let filter = filter_from(&ns, params)?;
    let (limit, offset) = (filter.limit, filter.offset);
    let (mut items, searched) = match params.get("q") {
        Some(_) if filter.after.is_some() => {
            return Err(ApiError::BadRequest(
                "`cursor` pages the listing, not a search: page search results with `offset`"
                    .into(),
            ));
        }
        Some(q) => (search_page(server, &filter, q).await?, true),
        None => (listing_page(server, filter).await?, false),
    };
    let more = items.len() > limit;
    items.truncate(limit);
    let next = match (more, searched, items.last()) {
        (true, false, Some(last)) => Some(EpisodeCursor::after(last).to_string()),
        _ => None,
    };
    Ok(j!({
        "namespace": ns,
        "items": items,
        "offset": offset,
        "limit": limit,
        "more": more,
        "next": next,
        "searched": searched,
    }))
}

/// One more than a page of the listing (the extra one says whether there is more).
async fn listing_page(
    server: &MemoryServer,
    mut filter: EpisodeFilter,
) -> Result<Vec<EpisodeSummary>, ApiError> {
    filter.limit += 1;
    Ok(server.memory().list_episodes(&filter).await?)
}

/// One more than a page of the full-text matches of `q` that pass the other filters.
async fn search_page(
    server: &MemoryServer,
    filter: &EpisodeFilter,
    q: &str,
) -> Result<Vec<EpisodeSummary>, ApiError> {
    let memory = server.memory();
    // The checks `search_episodes` makes: a valid namespace, a bounded query.
    let limits = &memory.config().limits;
    limits
        .check_namespace(&filter.namespace)
        .map_err(MemoryError::from)?;
    if q.chars().count() > limits.query_chars {
        return Err(MemoryError::from(memory_core::ValidationError::new(
            "q",
            format!("is longer than {} characters", limits.query_chars),
        ))
        .into());
    }
    let terms = query_terms(q);
    let hits = memory
        .storage()
        .search_text(&filter.namespace, &terms, SEARCH_LIMIT)
        .await?;
    Ok(hits
        .into_iter()
        .map(|h| h.summary)
        .filter(|e| passes(e, filter))
        .skip(filter.offset)
        .take(filter.limit + 1)
        .collect())
}

async fn episode(server: &MemoryServer, grant: &Grant, params: &Params, id: &str) -> ApiResult {
    let ns = namespace(server, grant, params, Access::Read)?;
    let id = parse_id(id)?;
    let memory = server.memory();
    let episode = memory.get_episode(&ns, id).await?;
    let related = memory
        .related(&ns, id, memory_core::Direction::Both, &[])
        .await?;
    let checkpoints = memory.storage().checkpoints(&ns, Some(id)).await?;
    let mut patterns = Vec::new();
    for pid in episode.pattern_ids.iter().take(50) {
        match memory.get_pattern(&ns, *pid).await {
            Ok(p) => patterns.push(pattern_json(&p)),
            Err(MemoryError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(j!({
        "namespace": ns,
        "episode": &*episode,
        "related": related,
        "checkpoints": checkpoints,
        "patterns": patterns,
        "writable": grant.check(&ns, Access::ReadWrite).is_ok(),
    }))
}

async fn delete(server: &MemoryServer, grant: &Grant, params: &Params, id: &str) -> ApiResult {
    let ns = namespace(server, grant, params, Access::ReadWrite)?;
    let id = parse_id(id)?;
    server.memory().delete_episode(&ns, id).await?;
    Ok(j!({ "deleted": id, "namespace": ns }))
}

async fn graph(server: &MemoryServer, grant: &Grant, params: &Params, id: &str) -> ApiResult {
    let ns = namespace(server, grant, params, Access::Read)?;
    let id = parse_id(id)?;
    let depth = params.usize_or("depth", 2)?.clamp(1, 4) as u32;
    let memory = server.memory();
    memory.get_episode(&ns, id).await?;
    let graph = memory.graph(&ns, Some(id), depth, &[]).await?;
    Ok(j!({ "root": id, "graph": graph }))
}

/// `GET /api/graph`: the namespace's newest relationships (`limit`, at most
/// [`MAX_GRAPH_EDGES`]) with the episodes they join, and whether older ones were left out.
async fn namespace_graph(server: &MemoryServer, grant: &Grant, params: &Params) -> ApiResult {
    let ns = namespace(server, grant, params, Access::Read)?;
    let limit = params
        .usize_or("limit", MAX_GRAPH_EDGES)?
        .clamp(1, MAX_GRAPH_EDGES);
    let memory = server.memory();
    memory
        .config()
        .limits
        .check_namespace(&ns)
        .map_err(MemoryError::from)?;
    let mut filter = RelationshipFilter::new(&ns);
    filter.limit = Some(limit + 1);
    // Oldest first: one more than asked for says that older ones are left out.
    let mut edges = memory.storage().relationships(&filter).await?;
    let more = edges.len() > limit;
    edges.drain(..edges.len().saturating_sub(limit));
    let ids: Vec<Uuid> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
    let nodes = memory.graph_nodes(&ns, &ids).await?;
    Ok(j!({
        "namespace": ns,
        "graph": { "nodes": nodes, "edges": edges },
        "limit": limit,
        "more": more,
    }))
}

fn pattern_json(p: &memory_core::Pattern) -> Value {
    j!({
        "id": p.id,
        "kind": p.kind.name().as_str(),
        "description": p.kind.describe(),
        "scope": p.scope.describe(),
        "episodes": p.stats.episodes,
        "successful_episodes": p.stats.successful_episodes,
        "support": p.stats.support,
        "success_rate": p.stats.success_rate(),
        "confidence": p.stats.confidence(),
        "lift": p.lift,
        "feedback": p.effectiveness,
        "evidence": p.evidence,
        "example": p.example,
        "last_seen": p.last_seen,
    })
}

async fn patterns(server: &MemoryServer, grant: &Grant, params: &Params) -> ApiResult {
    let ns = namespace(server, grant, params, Access::Read)?;
    let mut filter = PatternFilter::new(&ns);
    filter.order = match params.get("order").unwrap_or("confidence") {
        "confidence" => PatternOrder::Confidence,
        "support" => PatternOrder::Support,
        "lift" => PatternOrder::Lift,
        "recent" => PatternOrder::Recent,
        other => {
            return Err(ApiError::BadRequest(format!(
                "`order` is `{other}`: use confidence, support, lift or recent"
            )));
        }
    };
    filter.kind = params
        .get("kind")
        .map(|k| k.parse::<PatternKindName>())
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("`kind`: {e}")))?;
    filter.domain = params.get("domain").map(str::to_string);
    let limit = params.usize_or("limit", 50)?.clamp(1, MAX_PAGE);
    filter.limit = limit + 1;
    filter.offset = params.usize_or("offset", 0)?;
    let memory = server.memory();
    let mut found = memory.list_patterns(&filter).await?;
    let more = found.len() > limit;
    found.truncate(limit);
    let mut hfilter = PatternFilter::new(&ns);
    hfilter.limit = MAX_PAGE;
    let heuristics = memory.heuristics(&hfilter).await?;
    Ok(j!({
        "namespace": ns,
        "patterns": found.iter().map(pattern_json).collect::<Vec<_>>(),
        "heuristics": heuristics,
        "offset": filter.offset,
        "limit": limit,
        "more": more,
    }))
}

/// What the playground sends.
#[derive(Debug, Deserialize)]
struct PlaygroundQuery {
    namespace: Option<String>,
    task: String,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    framework: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    mode: Option<RetrievalMode>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    budget: Option<usize>,
}

async fn retrieve(server: &MemoryServer, grant: &Grant, body: &[u8]) -> ApiResult {
    let q: PlaygroundQuery = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a retrieval: {e}")))?;
    let ns_params = Params(
        q.namespace
            .iter()
            .map(|ns| ("namespace".to_string(), ns.clone()))
            .collect(),
    );
    let ns = namespace(server, grant, &ns_params, Access::Read)?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let defaults: RetrievalQuery = serde_json::from_value(j!({ "namespace": ns, "text": q.task }))
        .map_err(|e| ApiError::BadRequest(format!("the body is not a retrieval: {e}")))?;
    let query = RetrievalQuery {
        namespace: ns,
        text: q.task,
        context: TaskContext {
            domain: nonempty(q.domain),
            language: nonempty(q.language),
            framework: nonempty(q.framework),
            tags: q
                .tags
                .into_iter()
                .filter(|t| !t.trim().is_empty())
                .collect(),
            ..TaskContext::default()
        },
        task_type: None,
        limit: q.limit.unwrap_or(defaults.limit),
        token_budget: q.budget.unwrap_or(defaults.token_budget),
        mode: q.mode.unwrap_or_default(),
        // The playground looks, it does not record: no session is stored.
        record_session: false,
    };
    let pack = server.memory().retrieve_context(&query).await?;
    Ok(
        serde_json::to_value(&pack).map_err(|e| MemoryError::Corrupt {
            what: "context pack".into(),
            detail: e.to_string(),
        })?,
    )
}

async fn perf(dash: &Dashboard, server: &MemoryServer, grant: &Grant) -> ApiResult {
    if !grant.sees_whole_store() {
        return Err(ApiError::Forbidden(
            "the performance figures cover every namespace and this token may use only some".into(),
        ));
    }
    let mut stats = server.memory().stats().await?;
    stats.storage.location = None;
    if let Some(replica) = &mut stats.storage.replica {
        replica.path.clear();
    }
    dash.history.record(&stats, Utc::now().timestamp_millis());
    Ok(j!({ "now": stats, "history": dash.history.samples() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(running: u64) -> EpisodeCounts {
        EpisodeCounts {
            running,
            ..EpisodeCounts::default()
        }
    }

    #[test]
    fn every_namespace_puts_the_known_first_then_the_largest() {
        let all = vec![
            ("small".to_string(), counts(1)),
            ("big".to_string(), counts(9)),
            ("mine".to_string(), counts(2)),
            ("also-big".to_string(), counts(9)),
        ];
        let listed = every_namespace(
            vec!["default".into(), "mine".into()],
            all,
            &Grant::everything(),
        );
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["default", "mine", "also-big", "big", "small"]);
        // The server's namespace holds nothing: zero counts, not a second count query.
        assert_eq!(listed[0].1, Some(EpisodeCounts::default()));
        assert_eq!(listed[1].1, Some(counts(2)));
    }

    #[test]
    fn every_namespace_keeps_only_what_the_grant_reads() {
        let grant = Grant::new(vec![("mine".into(), Access::Read)], None);
        let all = vec![
            ("mine".to_string(), counts(1)),
            ("theirs".to_string(), counts(5)),
        ];
        let listed = every_namespace(vec!["mine".into()], all, &grant);
        assert_eq!(listed, vec![("mine".to_string(), Some(counts(1)))]);
    }

    #[test]
    fn a_cursor_parameter_is_parsed_or_refused_with_its_form() {
        let id = Uuid::now_v7();
        let params = Params(vec![("cursor".into(), format!("1700000000000000.{id}"))]);
        assert_eq!(
            cursor(&params).unwrap(),
            Some(EpisodeCursor {
                started_at_micros: 1_700_000_000_000_000,
                id
            })
        );
        assert_eq!(cursor(&Params(Vec::new())).unwrap(), None);
        let long = "x".repeat(500);
        let err = cursor(&Params(vec![("cursor".into(), long)])).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ApiError::BadRequest(_)));
        assert!(text.contains("`next`") && text.len() < 400, "{text}");
    }

    #[test]
    fn query_strings_are_decoded() {
        let pairs = query_pairs(Some("q=retry+on%20timeout&tag=a%2Fb&bad=%zz&empty"));
        assert_eq!(
            pairs,
            vec![
                ("q".into(), "retry on timeout".into()),
                ("tag".into(), "a/b".into()),
                ("bad".into(), "%zz".into()),
                ("empty".into(), String::new()),
            ]
        );
    }
}
