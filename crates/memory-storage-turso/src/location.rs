//! Where a store's data lives: a local libSQL file, a libSQL server (Turso Cloud or a
//! self-hosted `sqld`) reached over HTTP, or a server read through an embedded replica.

use std::fmt;
use std::path::{Path, PathBuf};

/// The URL schemes that name a libSQL server rather than a file.
const SERVER_SCHEMES: [&str; 3] = ["libsql://", "https://", "http://"];

/// Where a [`crate::TursoStorage`] keeps its data.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A database file on this machine (created if missing).
    File(PathBuf),
    /// A libSQL server: `libsql://` (Turso Cloud; HTTPS), `https://` or `http://`.
    Server {
        /// The server's URL.
        url: String,
        /// The token the server asks for (a JWT signed with the server's key); empty when it
        /// asks for none.
        auth_token: String,
    },
    /// A libSQL server read through an embedded replica: a local file that the server's
    /// replication log keeps in step with it. Reads come from the file; writes go to the
    /// server, and the file catches up after each one and on an interval.
    Replica {
        /// The server's URL.
        url: String,
        /// The token the server asks for; empty when it asks for none.
        auth_token: String,
        /// The replica's file on this machine (created, and filled from the server, if
        /// missing).
        path: PathBuf,
    },
}

impl Location {
    /// The location `db` names: a server when it starts with `libsql://`, `https://` or
    /// `http://` (then `auth_token` is sent with every request), a file path otherwise.
    pub fn parse(db: &str, auth_token: Option<String>) -> Location {
        if is_server_url(db) {
            Location::Server {
                url: db.to_string(),
                auth_token: auth_token.unwrap_or_default(),
            }
        } else {
            Location::File(PathBuf::from(db))
        }
    }

    /// The same server read through an embedded replica kept in the file at `path`;
    /// `None` when `self` is a file (a replica is of a server).
    pub fn with_replica(self, path: impl Into<PathBuf>) -> Option<Location> {
        match self {
            Location::File(_) => None,
            Location::Server { url, auth_token }
            | Location::Replica {
                url, auth_token, ..
            } => Some(Location::Replica {
                url,
                auth_token,
                path: path.into(),
            }),
        }
    }

    /// Whether the data is on a server (directly or through a replica) rather than in a
    /// local file.
    pub fn is_server(&self) -> bool {
        !matches!(self, Location::File(_))
    }

    /// The server's URL; `None` for a file.
    pub fn url(&self) -> Option<&str> {
        match self {
            Location::File(_) => None,
            Location::Server { url, .. } | Location::Replica { url, .. } => Some(url),
        }
    }

    /// The local file reads come from: the database file, or the replica's; `None` when
    /// every read goes to a server.
    pub fn local_file(&self) -> Option<&Path> {
        match self {
            Location::File(path) | Location::Replica { path, .. } => Some(path),
            Location::Server { .. } => None,
        }
    }
}

/// Whether `db` is the URL of a libSQL server rather than a file path.
pub fn is_server_url(db: &str) -> bool {
    let lower = db.trim_start().to_ascii_lowercase();
    SERVER_SCHEMES
        .iter()
        .any(|scheme| lower.starts_with(scheme))
}

/// The file path or the URL; never the token.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Server { url, .. } => f.write_str(url),
            Location::Replica { url, path, .. } => {
                write!(f, "{url} (replica {})", path.display())
            }
        }
    }
}

/// Like `Display`, so that a token never reaches a log line or an error report.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => f.debug_tuple("File").field(path).finish(),
            Location::Server { url, auth_token } => f
                .debug_struct("Server")
                .field("url", url)
                .field(
                    "auth_token",
                    &if auth_token.is_empty() { "none" } else { "set" },
                )
                .finish(),
            Location::Replica {
                url,
                auth_token,
                path,
            } => f
                .debug_struct("Replica")
                .field("url", url)
                .field(
                    "auth_token",
                    &if auth_token.is_empty() { "none" } else { "set" },
                )
                .field("path", path)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_servers_and_everything_else_files() {
        for url in [
            "libsql://db-org.turso.io",
            "https://h:8080",
            "http://127.0.0.1:8080",
            "HTTP://X",
        ] {
            assert!(Location::parse(url, None).is_server(), "{url}");
        }
        for path in [
            "memory.db",
            "/var/lib/memory.db",
            "./http.db",
            "libsql.db",
            "C:\\m.db",
        ] {
            assert_eq!(
                Location::parse(path, None),
                Location::File(PathBuf::from(path))
            );
        }
    }

    #[test]
    fn the_token_is_never_shown() {
        let at = Location::parse("http://127.0.0.1:1", Some("secret-token".into()));
        assert_eq!(at.to_string(), "http://127.0.0.1:1");
        assert!(!format!("{at:?}").contains("secret-token"));
        let replica = at.with_replica("r.db").unwrap();
        assert_eq!(replica.to_string(), "http://127.0.0.1:1 (replica r.db)");
        assert!(!format!("{replica:?}").contains("secret-token"));
    }

    #[test]
    fn a_replica_is_of_a_server_never_of_a_file() {
        assert_eq!(
            Location::parse("memory.db", None).with_replica("r.db"),
            None
        );
        let replica = Location::parse("libsql://db.turso.io", Some("t".into()))
            .with_replica("r.db")
            .unwrap();
        assert!(replica.is_server());
        assert_eq!(replica.url(), Some("libsql://db.turso.io"));
        assert_eq!(replica.local_file(), Some(Path::new("r.db")));
    }
}
