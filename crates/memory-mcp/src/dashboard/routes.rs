//! Which paths the dashboard answers, its sign-in pages, and the dispatch to the page, the
//! assets and the API.

use super::throttle::{ClientAddr, Refusal, UNKNOWN_CLIENT};
use super::{Dashboard, api, assets};
use crate::access::Grant;
use crate::server::MemoryServer;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;

/// A response body.
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest body the dashboard reads (a sign-in form, a playground query).
pub const MAX_DASHBOARD_BODY: usize = 64 * 1024;

/// The page's Content-Security-Policy: nothing but this server's own files.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// True for the paths the dashboard answers: `/`, `/login`, `/logout`, `/ui/*`, `/api/*`.
pub fn owns(path: &str) -> bool {
    matches!(path, "/" | "/login" | "/logout")
        || path.starts_with("/ui/")
        || path.starts_with("/api/")
}

/// True for the paths where the session cookie stands in for the bearer token: `/`,
/// `/logout`, `/ui/*` and `/api/*` (never `/mcp` or `/metrics`).
pub fn cookie_accepted(path: &str) -> bool {
    matches!(path, "/" | "/logout") || path.starts_with("/ui/") || path.starts_with("/api/")
}

/// True for the paths served before sign-in: the sign-in page and the static assets (which
/// hold no data).
pub fn open_without_sign_in(path: &str) -> bool {
    path == "/login" || path.starts_with("/ui/")
}

/// The answer to a request the gate found no grant for, when it is for the dashboard's page:
/// a redirect to the sign-in page.
pub fn unauthenticated(path: &str) -> Option<Response<Body>> {
    (path == "/").then(|| redirect("/login", None))
}

/// A response with `body`.
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    text(status, "application/json", value.to_string())
}

fn html(status: StatusCode, page: impl Into<Bytes>) -> Response<Body> {
    let mut r = text(status, "text/html; charset=utf-8", page);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r.headers_mut()
        .insert("x-frame-options", HeaderValue::from_static("DENY"));
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn redirect(to: &'static str, cookie: Option<String>) -> Response<Body> {
    let mut r = text(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// Reads a request's body, up to [`MAX_DASHBOARD_BODY`]; the refusal otherwise.
pub async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match http_body_util::Limited::new(req.into_body(), MAX_DASHBOARD_BODY)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({
                "error": format!("body too large: the limit is {MAX_DASHBOARD_BODY} bytes")
            }),
        )),
        Err(e) => Err(json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": format!("cannot read the body: {e}") }),
        )),
    }
}

/// True unless the request names an `Origin` other than its own `Host`: a browser sends
/// `Origin` with every POST and DELETE, so a page of another site is refused here.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Answers a request for one of the dashboard's paths (see [`owns`]), for a caller the gate
/// let through with `grant` (which grants nothing before sign-in, on the open paths);
/// `verify` finds the grant of a token, for the sign-in form.
pub async fn serve(
    dash: &Dashboard,
    server: &MemoryServer,
    req: Request<Incoming>,
    grant: Arc<Grant>,
    verify: impl Fn(&HeaderMap) -> Option<Arc<Grant>>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/") {
        dash.history.viewed(chrono::Utc::now().timestamp_millis());
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) && !same_origin(req.headers()) {
        return text(
            StatusCode::FORBIDDEN,
            "text/plain; charset=utf-8",
            "forbidden: this request came from another site's page\n",
        );
    }
    match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/") => html(StatusCode::OK, assets::INDEX_HTML),
        (&Method::GET | &Method::HEAD, "/login") => {
            if dash.auth_required {
                html(StatusCode::OK, assets::login_page(None))
            } else {
                redirect("/", None)
            }
        }
        (&Method::POST, "/login") => sign_in(dash, req, verify).await,
        (&Method::POST, "/logout") => {
            dash.sessions.end(req.headers());
            redirect("/login", Some(dash.sessions.clear_cookie()))
        }
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/ui/") => match assets::find(p) {
            Some((content_type, body)) => {
                let mut r = text(StatusCode::OK, content_type, body);
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                r
            }
            None => text(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n",
            ),
        },
        (_, p) if p.starts_with("/api/") => api::handle(dash, server, req, grant).await,
        _ => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed\n",
        ),
    }
}

/// `POST /login`: the form's token, checked as a bearer token would be; a session for its
/// grant, or the form again. Refused (429) without a look at the token while the client's
/// address, or the whole server, has sent too many wrong ones ([`super::throttle`]).
async fn sign_in(
    dash: &Dashboard,
    req: Request<Incoming>,
    verify: impl Fn(&HeaderMap) -> Option<Arc<Grant>>,
) -> Response<Body> {
    if !dash.auth_required {
        return redirect("/", None);
    }
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map_or(UNKNOWN_CLIENT, |c| c.0.ip());
    let attempt = match dash.sign_ins.begin(client, std::time::Instant::now()) {
        Ok(attempt) => attempt,
        Err(refusal) => return too_many(&refusal),
    };
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let form = api::query_pairs(Some(&String::from_utf8_lossy(&body)));
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    match token_grant(token, verify) {
        Some(grant) => {
            dash.sign_ins.succeeded(attempt);
            let id = dash.sessions.start(grant);
            redirect("/", Some(dash.sessions.set_cookie(&id)))
        }
        None => html(
            StatusCode::UNAUTHORIZED,
            assets::login_page(Some("That token is not one this server accepts.")),
        ),
    }
}

/// What `token` grants, checked by `verify` as a bearer token; `None` for an empty one.
fn token_grant(
    token: &str,
    verify: impl Fn(&HeaderMap) -> Option<Arc<Grant>>,
) -> Option<Arc<Grant>> {
    let mut headers = HeaderMap::new();
    HeaderValue::from_str(&format!("Bearer {token}"))
        .ok()
        .filter(|_| !token.is_empty())
        .and_then(|v| {
            headers.insert(header::AUTHORIZATION, v);
            verify(&headers)
        })
}

/// The sign-in form again with the refusal: 429, `Retry-After`.
fn too_many(refusal: &Refusal) -> Response<Body> {
    let mut r = html(
        StatusCode::TOO_MANY_REQUESTS,
        assets::login_page(Some(&refusal.message())),
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(refusal.retry_after_secs()),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_for_the_dashboard_only() {
        for p in ["/", "/api/episodes", "/ui/app.js", "/logout"] {
            assert!(cookie_accepted(p), "{p}");
        }
        for p in ["/mcp", "/metrics", "/health", "/login", "/apix"] {
            assert!(!cookie_accepted(p), "{p}");
        }
    }

    #[test]
    fn another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
