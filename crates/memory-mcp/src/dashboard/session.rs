//! Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, held in memory with
//! an expiry and mapped to the grant of the token the browser signed in with; each session
//! has its own CSRF token.
//!
//! Browsers send a host's cookies to every port of it, so the cookie's name carries the port
//! the server listens on (`memory_session_8766`): two dashboards on one machine each keep
//! their own session instead of overwriting each other's.

use crate::access::Grant;
use http::{HeaderMap, header};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The start of the session cookie's name, which ends with the server's port.
pub const COOKIE_PREFIX: &str = "memory_session_";

/// The session cookie's name for a server listening on `port`.
pub fn cookie_name(port: u16) -> String {
    format!("{COOKIE_PREFIX}{port}")
}

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// Most sessions held at once; signing in beyond it drops the oldest.
const MAX_SESSIONS: usize = 10_000;

/// A random token: 244 bits from the operating system's generator (UUID v4, twice).
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// What the token it signed in with grants.
    pub grant: Arc<Grant>,
    /// The token a request that changes data must carry in `X-CSRF-Token`.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
}

/// The sessions of a server, in memory (a restart signs everyone out).
#[derive(Debug)]
pub struct Sessions {
    /// The cookie's name ([`cookie_name`] of the server's port).
    cookie: String,
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No session yet, for a server listening on `port`.
    pub fn new(port: u16) -> Self {
        Sessions {
            cookie: cookie_name(port),
            by_id: Mutex::default(),
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie
    }

    /// Starts a session for `grant` and returns its id (the cookie's value).
    pub fn start(&self, grant: Arc<Grant>) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            grant,
            csrf: random_token(),
            expires: now + SESSION_TTL,
        };
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session named by the cookie in `headers`, if any.
    pub fn lookup(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_value(headers, &self.cookie)?;
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends the session named by the cookie in `headers`.
    pub fn end(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_value(headers, &self.cookie) {
            self.by_id
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
    }

    /// Sessions held now (expired ones included until they are next swept).
    pub fn len(&self) -> usize {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `Set-Cookie` value that gives the browser session `id`.
    pub fn set_cookie(&self, id: &str) -> String {
        format!(
            "{}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            self.cookie,
            SESSION_TTL.as_secs()
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
            self.cookie
        )
    }
}

/// The value of the cookie called `name` in the request's `Cookie` headers.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Compares two tokens in time that depends on their lengths only.
pub fn same_token(a: &str, b: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends() {
        let sessions = Sessions::new(8766);
        let id = sessions.start(Arc::new(Grant::everything()));
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; memory_session_8766={id}");
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(sessions.lookup(&headers).is_some());
        sessions.end(&headers);
        assert!(sessions.lookup(&headers).is_none());
    }

    #[test]
    fn each_port_has_its_own_cookie() {
        let (a, b) = (Sessions::new(8766), Sessions::new(8767));
        let (ida, idb) = (
            a.start(Arc::new(Grant::everything())),
            b.start(Arc::new(Grant::everything())),
        );
        assert!(a.set_cookie(&ida).starts_with("memory_session_8766="));
        assert!(b.clear_cookie().starts_with("memory_session_8767=;"));
        // The browser sends both servers both cookies: each finds its own session.
        let mut headers = HeaderMap::new();
        let both = format!("memory_session_8766={ida}; memory_session_8767={idb}");
        headers.insert(header::COOKIE, both.parse().unwrap());
        assert_eq!(cookie_value(&headers, a.cookie_name()), Some(ida.as_str()));
        assert!(a.lookup(&headers).is_some() && b.lookup(&headers).is_some());
        // The other server's session id opens nothing here.
        let mut swapped = HeaderMap::new();
        let cookie = format!("memory_session_8766={idb}");
        swapped.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(a.lookup(&swapped).is_none());
        // Ending one leaves the other.
        a.end(&headers);
        assert!(a.lookup(&headers).is_none() && b.lookup(&headers).is_some());
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, &a[..63]));
    }
}
