//! The web dashboard: what the memory holds, what it learned and how it performs, served by
//! `memory serve` and `memory ui` at `/`.
//!
//! One page (`/`, assets under `/ui/`) calls a JSON API under `/api/`; every API call is
//! limited to the caller's [`Grant`] (a namespace it does not grant is neither listed nor
//! found). Without a token the loopback server needs no sign-in; with one, the browser signs in
//! once at `/login` and gets a session cookie ([`session`]), accepted in place of the bearer
//! token for `/`, `/ui/*` and `/api/*` only. Wrong tokens at `/login` are rate-limited
//! ([`throttle`]). A request that changes data needs the caller's CSRF token in
//! `X-CSRF-Token`.
//!
//! - [`routes`] — which paths the dashboard owns, the sign-in pages, the dispatch.
//! - [`api`] — the JSON handlers.
//! - [`session`] — sessions, cookies and CSRF tokens.
//! - [`throttle`] — the sign-in form's limit on wrong tokens.
//! - [`history`] — the last hour of performance samples.
//! - [`assets`] — the embedded HTML, CSS and JavaScript.

pub mod api;
pub mod assets;
pub mod history;
pub mod routes;
pub mod session;
pub mod throttle;

use crate::access::Grant;
use std::sync::Arc;

pub use history::History;
pub use routes::{cookie_accepted, open_without_sign_in, owns};
pub use session::Sessions;
pub use throttle::{ClientAddr, SignInLimit, SignInThrottle};

/// The dashboard's state in a running server: sessions, the CSRF token of callers without a
/// session, and the performance history.
#[derive(Debug)]
pub struct Dashboard {
    /// Signed-in browsers.
    pub sessions: Sessions,
    /// The CSRF token of callers that did not sign in through `/login` (no token needed,
    /// or a bearer token): random per server, read from `/api/session`.
    open_csrf: String,
    /// True when the server needs a token (so `/login` asks for it).
    pub auth_required: bool,
    /// Performance samples of the last hour.
    pub history: Arc<History>,
    /// The wrong tokens `/login` was sent lately.
    pub sign_ins: SignInThrottle,
}

impl Dashboard {
    /// A dashboard with no session yet, for a server listening on `port` (the session
    /// cookie's name carries it); `auth_required` when the server has a token; `limit` for
    /// wrong tokens at `/login`.
    pub fn new(auth_required: bool, port: u16, limit: SignInLimit) -> Self {
        Dashboard {
            sessions: Sessions::new(port),
            open_csrf: session::random_token(),
            auth_required,
            history: Arc::default(),
            sign_ins: SignInThrottle::new(limit),
        }
    }

    /// The grant of the session cookie in `headers`, when `path` accepts the cookie.
    pub fn cookie_grant(&self, path: &str, headers: &http::HeaderMap) -> Option<Arc<Grant>> {
        if !cookie_accepted(path) {
            return None;
        }
        self.sessions.lookup(headers).map(|s| s.grant)
    }

    /// The CSRF token expected from the caller behind `headers`: its session's, or the
    /// server's for callers without one.
    pub fn csrf_for(&self, headers: &http::HeaderMap) -> String {
        self.sessions
            .lookup(headers)
            .map_or_else(|| self.open_csrf.clone(), |s| s.csrf)
    }
}
