//! What one caller may do: the namespaces a request's token grants, and how.
//!
//! Over stdio, and over HTTP with no token or the single `--auth-token`, a caller may use
//! every namespace ([`Grant::everything`]). With a token file (see [`crate::token_file`]) each
//! token grants its own namespaces, to read or to read and write; a namespace it does not
//! grant is answered as not found, so a token cannot even tell whether another namespace
//! holds anything.

use std::fmt;

/// How a granted namespace may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Retrieve, search, read episodes and patterns, statistics; nothing the caller records
    /// (a retrieval through it keeps no session; it may still index pending episodes'
    /// vectors, which the store would compute for any reader).
    Read,
    /// Everything, writes included.
    ReadWrite,
}

impl Access {
    /// The word the token file uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The namespaces a caller may use, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Named namespaces, in the order the token file lists them.
    listed: Vec<(String, Access)>,
    /// Access to every namespace not listed (`*` in the token file).
    others: Option<Access>,
}

/// Why a call may not use a namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller's grant does not include the namespace: worded as any missing thing is.
    #[error("namespace `{namespace}` not found; {}", .granted)]
    NotFound {
        /// The namespace asked for.
        namespace: String,
        /// What the caller may use instead, in words.
        granted: String,
    },
    /// The namespace is granted for reading only and the call writes.
    #[error(
        "namespace `{0}` is read-only for this token: nothing was written (retrieve, search, \
         read and list work; recording needs a read-write namespace)"
    )]
    ReadOnly(String),
}

impl Grant {
    /// Every namespace, read and write: stdio, and HTTP without a token file.
    pub fn everything() -> Self {
        Grant {
            listed: Vec::new(),
            others: Some(Access::ReadWrite),
        }
    }

    /// Exactly `listed` (in order), plus every other namespace with `others` when set.
    pub fn new(listed: Vec<(String, Access)>, others: Option<Access>) -> Self {
        Grant { listed, others }
    }

    /// How `namespace` may be used, if at all.
    pub fn access(&self, namespace: &str) -> Option<Access> {
        self.listed
            .iter()
            .find(|(ns, _)| ns == namespace)
            .map(|(_, access)| *access)
            .or(self.others)
    }

    /// The namespaces the grant names, in order, with their access (not the `*` rest).
    pub fn listed(&self) -> impl Iterator<Item = (&str, Access)> + '_ {
        self.listed
            .iter()
            .map(|(ns, access)| (ns.as_str(), *access))
    }

    /// True when every namespace may be read: the whole-store figures (sizes, operation
    /// latencies, other namespaces' activity, `/metrics`) are for such callers only.
    pub fn sees_whole_store(&self) -> bool {
        self.others.is_some()
    }

    /// Checks that `namespace` may be used as `needed`.
    pub fn check(&self, namespace: &str, needed: Access) -> Result<Access, Denied> {
        match self.access(namespace) {
            Some(access) if access >= needed => Ok(access),
            Some(_) => Err(Denied::ReadOnly(namespace.to_string())),
            None => Err(Denied::NotFound {
                namespace: namespace.to_string(),
                granted: self.describe(),
            }),
        }
    }

    /// The namespace a call that names none uses: the server's when granted, otherwise the
    /// first one the grant lists.
    pub fn default_namespace<'a>(&'a self, server_default: &'a str) -> Option<&'a str> {
        if self.access(server_default).is_some() {
            return Some(server_default);
        }
        self.listed.first().map(|(ns, _)| ns.as_str())
    }

    /// The namespaces granted, in words, for an error a model reads.
    fn describe(&self) -> String {
        if self.listed.is_empty() {
            return "this token may use no namespace".to_string();
        }
        let names: Vec<String> = self
            .listed
            .iter()
            .map(|(ns, access)| format!("`{ns}` ({access})"))
            .collect();
        format!("this token may use {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> Grant {
        Grant::new(
            vec![
                ("team-a".into(), Access::ReadWrite),
                ("shared".into(), Access::Read),
            ],
            None,
        )
    }

    #[test]
    fn listed_namespaces_are_granted_as_listed() {
        let g = team();
        assert_eq!(g.check("team-a", Access::ReadWrite), Ok(Access::ReadWrite));
        assert_eq!(g.check("team-a", Access::Read), Ok(Access::ReadWrite));
        assert_eq!(g.check("shared", Access::Read), Ok(Access::Read));
        assert_eq!(
            g.check("shared", Access::ReadWrite),
            Err(Denied::ReadOnly("shared".into()))
        );
        assert!(!g.sees_whole_store());
    }

    #[test]
    fn other_namespaces_are_not_found_and_name_what_is_granted() {
        let err = team().check("team-b", Access::Read).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("namespace `team-b` not found"), "{text}");
        assert!(
            text.contains("`team-a` (read-write), `shared` (read)"),
            "{text}"
        );
    }

    #[test]
    fn the_default_is_the_servers_when_granted_else_the_first_listed() {
        assert_eq!(team().default_namespace("default"), Some("team-a"));
        assert_eq!(team().default_namespace("shared"), Some("shared"));
        assert_eq!(
            Grant::everything().default_namespace("default"),
            Some("default")
        );
        assert_eq!(Grant::new(Vec::new(), None).default_namespace("x"), None);
    }

    #[test]
    fn a_star_grants_every_other_namespace() {
        let g = Grant::new(
            vec![("private".into(), Access::ReadWrite)],
            Some(Access::Read),
        );
        assert_eq!(g.check("anything", Access::Read), Ok(Access::Read));
        assert!(g.check("anything", Access::ReadWrite).is_err());
        assert!(g.check("private", Access::ReadWrite).is_ok());
        assert!(g.sees_whole_store());
        assert!(Grant::everything().sees_whole_store());
    }
}
