//! Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, held in memory with
//! an expiry and mapped to the grant of the token the browser signed in with; each session
//! has its own CSRF token.

use crate::access::Grant;
use http::{HeaderMap, header};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "memory_session";

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
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
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
        let id = cookie_value(headers)?;
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
        if let Some(id) = cookie_value(headers) {
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
}

/// The session id in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that gives the browser session `id`.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Compares two tokens in time that depends on their lengths only.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends() {
        let sessions = Sessions::default();
        let id = sessions.start(Arc::new(Grant::everything()));
        let mut headers = HeaderMap::new();
        let cookie = format!("other=1; {COOKIE}={id}");
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        assert!(sessions.lookup(&headers).is_some());
        sessions.end(&headers);
        assert!(sessions.lookup(&headers).is_none());
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
