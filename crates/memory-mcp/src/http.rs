//! `memory serve`: MCP over streamable HTTP at `/mcp`, plus `/health`, `/metrics` and the web
//! dashboard (`/`, `/ui/*`, `/api/*`, `/login`; see [`crate::dashboard`]), on hyper's HTTP/1.1
//! server.
//!
//! Every request passes the same gate before it is routed: the bearer token when one is set
//! (401 otherwise) — the single `auth_token`, which may use every namespace, or one of a
//! token file's, which may use its own ([`crate::access`]); for the dashboard's paths only,
//! a signed-in browser's session cookie in its place —, the `Host` check when serving loopback only (so a web page cannot reach
//! the server through DNS rebinding), and the body size limit (413). `/mcp` is rmcp's
//! streamable HTTP service in stateless mode with JSON responses: the server keeps nothing
//! per client, so any number of clients can call it at once and a restart loses nothing.

use crate::access::Grant;
use crate::auth::{BindPolicyError, bearer_matches, check_bind};
use crate::dashboard::{self, Dashboard};
use crate::message_check::{INVALID_PARAMS, PARSE_ERROR, Verdict, error_line, judge};
use crate::server::MemoryServer;
use crate::token_file::TokenFile;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

/// Default largest request body: room for a step at every library limit (64 KiB output,
/// parameters and metadata), even with heavy JSON escaping.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How long a client may take to send a request's headers unless configured otherwise:
/// long enough for a slow link, short enough that connections which never send one (half
/// open, or held on purpose) are closed before they pile up.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once unless configured otherwise; one more is closed as soon as it
/// is accepted, so a flood of idle connections cannot take every file descriptor.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;

/// MCP messages answered at once unless configured otherwise; one more is answered 503 with
/// `Retry-After` at once, so that a flood queues neither in the server nor in front of the
/// database's writer.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// How long in-flight requests get to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How `memory serve` listens.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// When set, every request must carry `Authorization: Bearer <token>` (this one, which
    /// may use every namespace, or one of `token_file`'s).
    pub auth_token: Option<String>,
    /// Tokens bound to namespaces: a request with one of them may use only its namespaces.
    pub token_file: Option<TokenFile>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// MCP messages answered at once (see [`DEFAULT_MAX_IN_FLIGHT`]).
    pub max_in_flight: usize,
    /// How many wrong tokens the dashboard's sign-in form takes, per client address and in
    /// all, before it refuses for a while (see [`dashboard::throttle`]).
    pub sign_in_limit: dashboard::SignInLimit,
}

impl HttpConfig {
    /// Listen on `listen` without a token, with the default limits.
    pub fn new(listen: SocketAddr) -> Self {
        HttpConfig {
            listen,
            auth_token: None,
            token_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            sign_in_limit: dashboard::SignInLimit::default(),
        }
    }
}

/// Why the HTTP server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address and token break the bind policy.
    #[error(transparent)]
    Policy(#[from] BindPolicyError),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

type Body = BoxBody<Bytes, Infallible>;
type McpService = StreamableHttpService<MemoryServer, LocalSessionManager>;

struct State {
    server: MemoryServer,
    mcp: McpService,
    token: Option<String>,
    token_file: Option<TokenFile>,
    /// The grant of a request when no token file limits it.
    everything: Arc<Grant>,
    /// The grant of a request for the sign-in page or an asset before sign-in: nothing.
    nobody: Arc<Grant>,
    /// The web dashboard's sessions and history.
    dashboard: Dashboard,
    loopback_only: bool,
    max_body_bytes: usize,
    /// One permit per MCP message being answered.
    in_flight: Arc<tokio::sync::Semaphore>,
    max_in_flight: usize,
}

/// A bound, not yet running, HTTP server.
pub struct HttpServer {
    listener: TcpListener,
    state: Arc<State>,
    cancel: CancellationToken,
    header_timeout: Duration,
    /// One permit per connection being served.
    connections: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Checks the bind policy and binds `config.listen`.
    pub async fn bind(server: MemoryServer, config: HttpConfig) -> Result<HttpServer, ServeError> {
        check_bind(
            config.listen,
            config.auth_token.as_deref(),
            config.token_file.is_some(),
        )?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let loopback_only = config.listen.ip().is_loopback();
        // The port actually bound (port 0 picks one): the session cookie's name carries it.
        let port = listener
            .local_addr()
            .map_or(config.listen.port(), |a| a.port());
        let cancel = CancellationToken::new();
        let mut mcp_config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_max_request_body_bytes(config.max_body_bytes)
            .with_cancellation_token(cancel.clone());
        if !loopback_only {
            // Reached by whatever name the network gives it; the bearer token is the guard.
            mcp_config = mcp_config.disable_allowed_hosts();
        }
        let factory = server.clone();
        let mcp = StreamableHttpService::new(
            move || Ok(factory.clone()),
            Arc::new(LocalSessionManager::default()),
            mcp_config,
        );
        let auth_required = config.auth_token.is_some() || config.token_file.is_some();
        Ok(HttpServer {
            listener,
            state: Arc::new(State {
                server,
                mcp,
                nobody: Arc::new(Grant::new(Vec::new(), None)),
                dashboard: Dashboard::new(auth_required, port, config.sign_in_limit),
                token: config.auth_token,
                token_file: config.token_file,
                everything: Arc::new(Grant::everything()),
                loopback_only,
                max_body_bytes: config.max_body_bytes,
                in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
                max_in_flight: config.max_in_flight.max(1),
            }),
            cancel,
            header_timeout: config.header_timeout,
            connections: Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1))),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then gives in-flight requests a few seconds.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        tokio::pin!(shutdown);
        // The dashboard's performance history, sampled for as long as the server runs.
        tokio::spawn(dashboard::history::sample_until(
            self.state.server.memory().clone(),
            Arc::clone(&self.state.dashboard.history),
            self.cancel.clone(),
        ));
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, do not spin.
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
                        // Closed at once (dropping the stream): the client sees the refusal
                        // now instead of waiting on a connection nobody will serve.
                        tracing::warn!(%peer, "too many connections; closing a new one");
                        continue;
                    };
                    let state = Arc::clone(&self.state);
                    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                        let state = Arc::clone(&state);
                        // Where it came from, for the sign-in form's rate limit.
                        req.extensions_mut().insert(dashboard::ClientAddr(peer));
                        async move { Ok::<_, Infallible>(route(&state, req).await) }
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, "connection ended: {e}");
                        }
                        drop(permit);
                    });
                }
                () = &mut shutdown => break,
            }
        }
        tracing::info!("shutting down");
        self.cancel.cancel();
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("some requests were still running after {DRAIN_TIMEOUT:?}");
        }
    }
}

async fn route(state: &State, mut req: Request<Incoming>) -> Response<Body> {
    let grant = match gate(state, &req) {
        Ok(grant) => grant,
        Err(refused) => return *refused,
    };
    // Read back by the MCP handler (rmcp hands it the request's parts) to limit each call
    // to the token's namespaces.
    req.extensions_mut().insert(Arc::clone(&grant));
    match (req.uri().path(), req.method()) {
        (path, _) if dashboard::owns(path) => {
            // The dashboard's API reads the store as MCP messages do, under the same limit.
            let _answering = match path.starts_with("/api/") {
                true => match Arc::clone(&state.in_flight).try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => return busy(state.max_in_flight),
                },
                false => None,
            };
            dashboard::routes::serve(&state.dashboard, &state.server, req, grant, |headers| {
                self::grant(state, headers)
            })
            .await
        }
        ("/mcp", &Method::POST) => {
            let Ok(_answering) = Arc::clone(&state.in_flight).try_acquire_owned() else {
                return busy(state.max_in_flight);
            };
            check_then_call(state, req).await
        }
        ("/mcp", _) => match state.mcp.clone().call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        ("/health", &Method::GET | &Method::HEAD) => match state.server.check_storage().await {
            Ok(()) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "status": "ok",
                    "version": env!("CARGO_PKG_VERSION"),
                    "namespace": grant.default_namespace(state.server.namespace()),
                }),
            ),
            Err(e) => {
                tracing::error!("health check failed: {e}");
                // The error may name where the store lives, which only callers of every
                // namespace are shown.
                let error = match grant.sees_whole_store() {
                    true => e.to_string(),
                    false => "the storage does not answer; the server's log says why".into(),
                };
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({ "status": "unavailable", "error": error }),
                )
            }
        },
        ("/metrics", &Method::GET) if !grant.sees_whole_store() => text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            "forbidden: /metrics covers every namespace and this token may use only some; \
             scrape it with a token granted `*` (or the server's --auth-token)\n"
                .into(),
        ),
        ("/metrics", &Method::GET) => match state.server.prometheus().await {
            Ok(page) => text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                page,
            ),
            Err(e) => {
                tracing::error!("metrics failed: {e}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    format!("cannot collect metrics: {e}\n"),
                )
            }
        },
        ("/health" | "/metrics", _) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".into(),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: MCP is served at /mcp; also /health, /metrics and the dashboard at /\n"
                .into(),
        ),
    }
}

/// A message POSTed to `/mcp`: its body is read (within the body limit) and checked as a
/// stdio line is ([`crate::message_check`]). What the session could not answer is answered
/// here with the JSON-RPC error — status 400 for a body that is not one JSON-RPC message, as
/// MCP's HTTP transport asks, and 200 for a request whose tool arguments are not an object —
/// and the rest goes to the session.
async fn check_then_call(state: &State, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, state.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain; charset=utf-8",
                format!(
                    "request body too large: the limit is {} bytes\n",
                    state.max_body_bytes
                ),
            );
        }
        Err(err) => {
            return text(
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("cannot read the request body: {err}\n"),
            );
        }
    };
    let answer = match judge(&bytes) {
        Verdict::Forward => {
            let req = Request::from_parts(parts, Full::new(bytes));
            return match state.mcp.clone().call(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        Verdict::Skip => error_line(
            &serde_json::Value::Null,
            PARSE_ERROR,
            "Parse error: the request body is empty; send one JSON-RPC message",
        ),
        Verdict::Answer(line) => line,
    };
    let code = serde_json::from_slice::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v["error"]["code"].as_i64());
    let status = if code == Some(INVALID_PARAMS) {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = String::from_utf8_lossy(answer.trim_ascii_end()).into_owned();
    text(status, "application/json", body)
}

/// The answer to a message beyond the in-flight limit: 503, `Retry-After: 1`, and a
/// JSON-RPC error saying so.
fn busy(limit: usize) -> Response<Body> {
    let mut r = json(
        StatusCode::SERVICE_UNAVAILABLE,
        &serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32000,
                "message": format!(
                    "the server is busy: {limit} messages are being answered; nothing was \
                     done, send this one again after the Retry-After delay"
                ),
            },
        }),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    r
}

/// What the request's token grants, when one is required.
fn grant(state: &State, headers: &http::HeaderMap) -> Option<Arc<Grant>> {
    if state.token.is_none() && state.token_file.is_none() {
        return Some(Arc::clone(&state.everything));
    }
    if let Some(grant) = state.token_file.as_ref().and_then(|f| f.grant_for(headers)) {
        return Some(grant);
    }
    state
        .token
        .as_ref()
        .filter(|token| bearer_matches(headers, token))
        .map(|_| Arc::clone(&state.everything))
}

/// The checks every request passes before routing: the caller's grant, or the refusal.
fn gate(state: &State, req: &Request<Incoming>) -> Result<Arc<Grant>, Box<Response<Body>>> {
    let path = req.uri().path();
    let found = grant(state, req.headers())
        .or_else(|| state.dashboard.cookie_grant(path, req.headers()))
        .or_else(|| dashboard::open_without_sign_in(path).then(|| Arc::clone(&state.nobody)));
    let Some(grant) = found else {
        if let Some(sign_in) = dashboard::routes::unauthenticated(path) {
            return Err(Box::new(sign_in));
        }
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "text/plain; charset=utf-8",
            "unauthorized: send `Authorization: Bearer <token>` with the server's auth token\n"
                .into(),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"memory\""),
        );
        return Err(Box::new(r));
    };
    if state.loopback_only && !host_is_loopback(req) {
        return Err(Box::new(text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            "forbidden: this server answers only to localhost, 127.0.0.1 or [::1]\n".into(),
        )));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(Box::new(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            format!(
                "request body too large: the limit is {} bytes\n",
                state.max_body_bytes
            ),
        )));
    }
    Ok(grant)
}

fn host_is_loopback(req: &Request<Incoming>) -> bool {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| http::uri::Authority::try_from(h).ok())
    else {
        return false;
    };
    let name = host.host().trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    text(status, "application/json", value.to_string())
}
