//! `memory serve --token-file`: which bearer tokens may use which namespaces.
//!
//! A text file, one grant per line:
//!
//! ```text
//! # token                                   access      namespaces
//! 3b1f0c9d2a7e4f6b8c1d3e5f7a9b0c2d          read-write  team-a team-a:ci
//! 3b1f0c9d2a7e4f6b8c1d3e5f7a9b0c2d          read        shared
//! sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  read  *
//! ```
//!
//! Fields are separated by spaces or tabs; `#` starts a comment line. The access is `read` or
//! `read-write`; `*` stands for every namespace the line does not name elsewhere. A token may
//! have several lines. A token written `sha256:<64 hex digits>` is the SHA-256 of the real
//! token, so the file need not hold the secret itself (`printf %s TOKEN | sha256sum`). Each
//! request's token is hashed and compared with every entry in constant time.

use crate::access::{Access, Grant};
use crate::auth::{MIN_TOKEN_CHARS, bearer_token};
use http::HeaderMap;
use memory_core::Limits;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The tokens of a token file and what each grants.
#[derive(Debug, Clone)]
pub struct TokenFile {
    /// Each token's SHA-256 and its grant, in the order of first appearance.
    entries: Vec<([u8; 32], Arc<Grant>)>,
    /// Whether any token is written in the clear (the file is then a secret itself).
    has_plain_tokens: bool,
}

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line does not follow the format.
    #[error("{path}: line {line}: {problem}")]
    Line {
        /// The file (or `<text>` when parsed from a string).
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong, and what is expected.
        problem: String,
    },
    /// The file grants nothing.
    #[error("{0}: no token in the file; each line is `TOKEN read|read-write NAMESPACE…`")]
    Empty(PathBuf),
}

/// One token's grant while the file is read: namespace → (access, line it was given on).
#[derive(Default)]
struct Pending {
    listed: Vec<(String, Access, usize)>,
    others: Option<(Access, usize)>,
}

impl TokenFile {
    /// Reads and checks the token file at `path`, namespaces judged by `limits`.
    pub fn load(path: &Path, limits: &Limits) -> Result<TokenFile, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file = TokenFile::parse(&text, path, limits)?;
        if file.has_plain_tokens && readable_by_others(path) {
            tracing::warn!(
                "the token file {} holds tokens in the clear and other users may read it; \
                 `chmod 600` it, or write each token as sha256:<its SHA-256>",
                path.display()
            );
        }
        Ok(file)
    }

    /// Parses the text of a token file (`path` names it in errors).
    pub fn parse(text: &str, path: &Path, limits: &Limits) -> Result<TokenFile, TokenFileError> {
        let mut order: Vec<[u8; 32]> = Vec::new();
        let mut pending: HashMap<[u8; 32], Pending> = HashMap::new();
        let mut has_plain_tokens = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let bad = |problem: String| TokenFileError::Line {
                path: path.to_path_buf(),
                line,
                problem,
            };
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let mut fields = content.split_whitespace();
            let (Some(token), Some(access)) = (fields.next(), fields.next()) else {
                return Err(bad(
                    "expected `TOKEN read|read-write NAMESPACE…` (fields separated by spaces)"
                        .into(),
                ));
            };
            let (digest, plain) = token_digest(token).map_err(bad)?;
            has_plain_tokens |= plain;
            let access = match access {
                "read" => Access::Read,
                "read-write" => Access::ReadWrite,
                other => {
                    return Err(bad(format!(
                        "unknown access `{other}`; expected `read` or `read-write`"
                    )));
                }
            };
            let namespaces: Vec<&str> = fields.collect();
            if namespaces.is_empty() {
                return Err(bad(
                    "no namespace: list the namespaces this token may use, or `*` for all".into(),
                ));
            }
            if !pending.contains_key(&digest) {
                order.push(digest);
            }
            let grant = pending.entry(digest).or_default();
            for ns in namespaces {
                let earlier = if ns == "*" {
                    grant.others.map(|(_, at)| at)
                } else {
                    grant
                        .listed
                        .iter()
                        .find(|(n, _, _)| n == ns)
                        .map(|(_, _, at)| *at)
                };
                if let Some(at) = earlier {
                    return Err(bad(format!(
                        "`{ns}` is already granted to this token on line {at}; give each \
                         namespace once per token"
                    )));
                }
                if ns == "*" {
                    grant.others = Some((access, line));
                } else {
                    limits
                        .check_namespace(ns)
                        .map_err(|e| bad(format!("`{ns}`: {}", e.problem)))?;
                    grant.listed.push((ns.to_string(), access, line));
                }
            }
        }
        if order.is_empty() {
            return Err(TokenFileError::Empty(path.to_path_buf()));
        }
        let entries = order
            .into_iter()
            .filter_map(|digest| {
                let p = pending.remove(&digest)?;
                let listed = p.listed.into_iter().map(|(ns, a, _)| (ns, a)).collect();
                Some((
                    digest,
                    Arc::new(Grant::new(listed, p.others.map(|(a, _)| a))),
                ))
            })
            .collect();
        Ok(TokenFile {
            entries,
            has_plain_tokens,
        })
    }

    /// The grant of the bearer token in `headers`, if it is one of the file's.
    ///
    /// Every entry is compared, whichever matches, so the time taken says nothing about
    /// which token (if any) was close.
    pub fn grant_for(&self, headers: &HeaderMap) -> Option<Arc<Grant>> {
        let given = bearer_token(headers)?;
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        let mut found = None;
        for (stored, grant) in &self.entries {
            if bool::from(stored.ct_eq(&digest)) && found.is_none() {
                found = Some(grant);
            }
        }
        found.cloned()
    }

    /// How many distinct tokens the file holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the file holds no token (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The SHA-256 a token field stands for, and whether it was written in the clear.
fn token_digest(field: &str) -> Result<([u8; 32], bool), String> {
    if let Some(hex) = field.strip_prefix("sha256:") {
        return parse_hex(hex)
            .map(|d| (d, false))
            .ok_or_else(|| "`sha256:` must be followed by 64 hex digits".to_string());
    }
    if !field.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "the token has a character a header cannot carry: only visible ASCII, e.g. the \
             output of `openssl rand -hex 32`"
                .to_string(),
        );
    }
    if field.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!(
            "the token is too short: at least {MIN_TOKEN_CHARS} characters of visible ASCII, \
             e.g. the output of `openssl rand -hex 32`"
        ));
    }
    Ok((Sha256::digest(field.as_bytes()).into(), true))
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use http::HeaderValue;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    fn parse(text: &str) -> Result<TokenFile, TokenFileError> {
        TokenFile::parse(text, Path::new("tokens"), &Limits::default())
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    fn hashed(token: &str) -> String {
        let d = Sha256::digest(token.as_bytes());
        format!(
            "sha256:{}",
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn each_token_gets_its_lines_namespaces() {
        let file = parse(&format!(
            "# comment\n\n{A} read-write team-a team-a:ci\n{A}\tread shared\n{B} read *\n"
        ))
        .unwrap();
        assert_eq!(file.len(), 2);
        let a = file.grant_for(&bearer(A)).unwrap();
        assert_eq!(a.access("team-a:ci"), Some(Access::ReadWrite));
        assert_eq!(a.access("shared"), Some(Access::Read));
        assert_eq!(a.access("team-b"), None);
        assert_eq!(a.default_namespace("default"), Some("team-a"));
        let b = file.grant_for(&bearer(B)).unwrap();
        assert_eq!(b.access("anything"), Some(Access::Read));
        assert!(file.grant_for(&bearer("cccccccccccccccccccccc")).is_none());
        assert!(file.grant_for(&HeaderMap::new()).is_none());
    }

    #[test]
    fn a_hashed_token_matches_the_token_it_hashes() {
        let file = parse(&format!("{} read-write ops\n", hashed(A))).unwrap();
        assert!(!file.has_plain_tokens);
        assert_eq!(
            file.grant_for(&bearer(A)).unwrap().access("ops"),
            Some(Access::ReadWrite)
        );
        assert!(file.grant_for(&bearer(&hashed(A))).is_none());
    }

    #[test]
    fn mistakes_name_their_line() {
        let cases = [
            (format!("{A}\n"), "line 1: expected `TOKEN"),
            (format!("\n{A} write x\n"), "line 2: unknown access `write`"),
            (format!("{A} read\n"), "line 1: no namespace"),
            (
                "short read x\n".to_string(),
                "line 1: the token is too short",
            ),
            ("sha256:abc read x\n".to_string(), "64 hex digits"),
            (format!("{A} read a/b\n"), "line 1: `a/b`: contains `/`"),
            (
                format!("{A} read x\n{A} read-write x\n"),
                "line 2: `x` is already granted to this token on line 1",
            ),
            ("# only comments\n".to_string(), "no token in the file"),
        ];
        for (text, expected) in cases {
            let err = parse(&text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
