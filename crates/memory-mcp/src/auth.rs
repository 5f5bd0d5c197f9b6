//! Who may talk to the HTTP server: the bind policy (loopback unless a token is set) and the
//! bearer-token check every request goes through when one is. Which namespaces a token may
//! use is [`crate::access`]'s, read from [`crate::token_file`].

use http::HeaderMap;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// Fewest characters an auth token may have.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why the server would not start with this address and token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindPolicyError {
    /// A non-loopback address without a token would expose the memory to the network.
    #[error(
        "refusing to listen on {0} without an auth token: any host that can reach it could read \
         and change the memory. Pass --auth-token (or set MEMORY_AUTH_TOKEN) to require \
         `Authorization: Bearer <token>` on every request, or --token-file for tokens bound \
         to namespaces, or listen on 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    /// The token is too short or has characters a header cannot carry.
    #[error(
        "the auth token must be at least {MIN_TOKEN_CHARS} characters of visible ASCII \
         (no spaces); e.g. the output of `openssl rand -hex 32`"
    )]
    WeakToken,
}

/// Checks that the server may listen on `addr` with `token` (and a token file when
/// `token_file`): any token must be strong enough, and a non-loopback address needs a token
/// or a token file.
pub fn check_bind(
    addr: SocketAddr,
    token: Option<&str>,
    token_file: bool,
) -> Result<(), BindPolicyError> {
    if let Some(token) = token
        && (token.chars().count() < MIN_TOKEN_CHARS || !token.chars().all(|c| c.is_ascii_graphic()))
    {
        return Err(BindPolicyError::WeakToken);
    }
    if token.is_none() && !token_file && !addr.ip().is_loopback() {
        return Err(BindPolicyError::TokenRequired(addr));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header, if `headers` carry one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let (scheme, given) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(given.trim())
}

/// True when `headers` carry `Authorization: Bearer <token>` with exactly `token`.
///
/// The comparison (`subtle`) does not stop at the first differing byte, so the time taken
/// tells an attacker whether a guess had the token's length, not how much of it was right.
pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    bearer_token(headers).is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "0123456789abcdef0123";

    #[test]
    fn loopback_needs_no_token_others_do() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let local6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lan: SocketAddr = "192.0.2.10:8080".parse().unwrap();
        assert!(check_bind(local, None, false).is_ok());
        assert!(check_bind(local6, None, false).is_ok());
        assert_eq!(
            check_bind(any, None, false),
            Err(BindPolicyError::TokenRequired(any))
        );
        assert_eq!(
            check_bind(lan, None, false),
            Err(BindPolicyError::TokenRequired(lan))
        );
        assert!(check_bind(any, Some(TOKEN), false).is_ok());
        assert!(check_bind(any, None, true).is_ok());
    }

    #[test]
    fn weak_tokens_are_refused_everywhere() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            check_bind(local, Some("short"), false),
            Err(BindPolicyError::WeakToken)
        );
        assert_eq!(
            check_bind(local, Some("has a space in it, long enough"), false),
            Err(BindPolicyError::WeakToken)
        );
    }

    #[test]
    fn bearer_header_must_match_exactly() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(v).unwrap(),
            );
            h
        };
        assert!(bearer_matches(&with(&format!("Bearer {TOKEN}")), TOKEN));
        assert!(bearer_matches(&with(&format!("bearer {TOKEN}")), TOKEN));
        assert!(!bearer_matches(&with(&format!("Bearer {TOKEN}x")), TOKEN));
        assert!(!bearer_matches(&with(&format!("Basic {TOKEN}")), TOKEN));
        assert!(!bearer_matches(&with(TOKEN), TOKEN));
        assert!(!bearer_matches(&HeaderMap::new(), TOKEN));
    }
}
