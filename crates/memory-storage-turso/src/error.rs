//! The errors this crate returns, and how they map onto [`MemoryError`].
//!
//! Opening a database can fail in ways that only make sense here (a directory that cannot be
//! created, a schema written by a newer build), so [`TursoStorage::open`] returns a
//! [`TursoError`]. Everything that goes through the [`StorageBackend`] trait is converted:
//! unreadable rows become [`MemoryError::Corrupt`], everything else
//! [`MemoryError::Storage`]. `NotFound` and `Conflict` are decided by the queries themselves
//! and never pass through this type.
//!
//! [`TursoStorage::open`]: crate::TursoStorage::open
//! [`StorageBackend`]: memory_core::StorageBackend

use memory_core::MemoryError;
use std::path::PathBuf;

/// Everything that can go wrong in the libSQL backend.
#[derive(Debug, thiserror::Error)]
pub enum TursoError {
    /// The directory that should hold the database file could not be created.
    #[error("cannot create directory `{}` for the database: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The lock file of an embedded replica could not be made or locked.
    #[error("cannot lock the replica `{}`: {source}", path.display())]
    ReplicaLock {
        /// The replica's lock file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The replica file given is a copy of another server's database.
    #[error(
        "the replica `{}` is a copy of the libSQL server at {recorded}, not of {url}: give \
         this server a replica file of its own",
        path.display()
    )]
    ReplicaOfAnotherServer {
        /// The replica's file.
        path: PathBuf,
        /// The server it is a copy of.
        recorded: String,
        /// The server it was given for.
        url: String,
    },
    /// The database file could not be opened or configured.
    #[error("cannot open database `{}`: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What libSQL reported.
        #[source]
        source: libsql::Error,
    },
    /// The libSQL server could not be reached or refused the connection.
    #[error("cannot use the libSQL server at {url}{}", server_hint(source))]
    Server {
        /// The server's URL.
        url: String,
        /// What libSQL reported.
        #[source]
        source: libsql::Error,
    },
    /// The file was written by a newer build whose schema this build does not understand.
    #[error(
        "database `{location}` has schema version {found}, but this build only knows versions \
         up to {supported}; upgrade the program (the database was left untouched)"
    )]
    SchemaTooNew {
        /// The database file or server URL.
        location: String,
        /// The `user_version` found in the file.
        found: i64,
        /// The newest version this build can read and write.
        supported: i64,
    },
    /// A schema migration failed; the transaction was rolled back and nothing changed.
    #[error("migrating the schema to version {version} failed: {source}")]
    Migration {
        /// The version being migrated to.
        version: i64,
        /// What libSQL reported.
        #[source]
        source: libsql::Error,
    },
    /// A statement failed.
    #[error("{context}: {source}{}", server_hint(source))]
    Sql {
        /// What was being done, e.g. `insert step`.
        context: &'static str,
        /// What libSQL reported.
        #[source]
        source: libsql::Error,
    },
    /// A value could not be encoded as JSON for storage.
    #[error("cannot encode {what} as JSON: {source}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A stored row could not be decoded.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// Which record, e.g. `episode 0190…`.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl TursoError {
    /// A corrupt-row error for `what`.
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        TursoError::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

impl From<TursoError> for MemoryError {
    fn from(err: TursoError) -> Self {
        match err {
            TursoError::Corrupt { what, detail } => MemoryError::Corrupt { what, detail },
            other => MemoryError::storage(other),
        }
    }
}

/// Attaches what was being done to a libSQL error, so that messages say which statement failed.
pub(crate) trait SqlContext<T> {
    /// Wraps the error as [`TursoError::Sql`] with `context`.
    fn ctx(self, context: &'static str) -> Result<T, TursoError>;
}

impl<T> SqlContext<T> for Result<T, libsql::Error> {
    fn ctx(self, context: &'static str) -> Result<T, TursoError> {
        self.map_err(|source| TursoError::Sql { context, source })
    }
}

/// What a failure to use a libSQL server means for its user, when it is one of the usual
/// ones (authentication refused, server unreachable), to read before libSQL's own words;
/// and, from a file or a server, a full disk.
fn server_hint(err: &libsql::Error) -> &'static str {
    if disk_full(err) {
        return " (the disk holding the database is full: free space on it, then try again)";
    }
    let said = err.to_string().to_ascii_lowercase();
    // Checked first: its message holds the URL, whose port may hold anything.
    if said.contains("did not answer within") {
        " (the server accepted the request but stopped answering; it may be overloaded or \
         stuck: --db-timeout / MEMORY_DB_TIMEOUT sets how long to wait)"
    } else if said.contains("status=401")
        || said.contains("status=403")
        || said.contains("unauthorized")
    {
        " (authentication failed: the server refused the token; check --db-auth-token or \
         MEMORY_DB_AUTH_TOKEN)"
    } else if said.contains("connection refused")
        || said.contains("dns error")
        || said.contains("tcp connect")
        || said.contains("timed out")
    {
        " (the server cannot be reached)"
    } else {
        ""
    }
}

/// Whether `err` is SQLite's `SQLITE_FULL`: the file system holding the database (or its
/// WAL) has no space left. From a file, the primary code; from a server, its code's name.
fn disk_full(err: &libsql::Error) -> bool {
    const SQLITE_FULL: i32 = 13;
    match err {
        libsql::Error::SqliteFailure(code, _) => code & 0xff == SQLITE_FULL,
        libsql::Error::Hrana(inner) => format!("{inner:?}").contains("code: \"SQLITE_FULL"),
        _ => false,
    }
}

/// Whether `err` is a server's `SQLITE_INTERRUPT`: the server cancelled the statement. A
/// libSQL server cancels a request whose client went away, and that cancel can land on the
/// next request of the same stream; the statement did nothing, and may run again (see
/// `Prepared::query`).
pub(crate) fn interrupted(err: &libsql::Error) -> bool {
    match err {
        libsql::Error::Hrana(inner) => format!("{inner:?}").contains("code: \"SQLITE_INTERRUPT"),
        _ => false,
    }
}

/// `err` from inserting a row as the caller should see it: a `Conflict` saying `taken` when
/// the unique key `column` (`table.column`, as SQLite names it) was already taken, the
/// statement's error with `context` otherwise.
pub(crate) fn taken_or(
    err: libsql::Error,
    column: &str,
    taken: impl FnOnce() -> String,
    context: &'static str,
) -> MemoryError {
    match constraint_violation(&err) {
        Some(detail) if detail.contains(column) => MemoryError::Conflict(taken()),
        _ => TursoError::Sql {
            context,
            source: err,
        }
        .into(),
    }
}

/// The error of a request a libSQL server did not answer within the request timeout.
#[derive(Debug, thiserror::Error)]
#[error("the libSQL server at {url} did not answer within {} ms", .timeout.as_millis())]
pub(crate) struct RequestTimedOut {
    url: String,
    timeout: std::time::Duration,
}

impl RequestTimedOut {
    /// The libSQL error carrying it, so it travels where libSQL's own errors do.
    pub(crate) fn error(url: &str, timeout: std::time::Duration) -> libsql::Error {
        libsql::Error::Hrana(Box::new(RequestTimedOut {
            url: url.to_string(),
            timeout,
        }))
    }
}

/// A constraint violation (a unique key taken, a foreign key missing) becomes a
/// `Conflict` with `conflict()`'s message; any other failure a storage error.
pub(crate) fn conflict_or(
    err: libsql::Error,
    context: &'static str,
    conflict: impl FnOnce() -> String,
) -> MemoryError {
    match constraint_violation(&err) {
        Some(detail) => {
            MemoryError::Conflict(format!("{} ({detail}); nothing was written", conflict()))
        }
        None => TursoError::Sql {
            context,
            source: err,
        }
        .into(),
    }
}

/// What a constraint violation (a unique key taken, a foreign key missing) says, when `err`
/// is one: SQLite's extended code from a local file, the code a libSQL server reports
/// (`SQLITE_CONSTRAINT…`) from a server.
pub(crate) fn constraint_violation(err: &libsql::Error) -> Option<String> {
    const SQLITE_CONSTRAINT: i32 = 19;
    match err {
        libsql::Error::SqliteFailure(code, detail) if code & 0xff == SQLITE_CONSTRAINT => {
            Some(detail.clone())
        }
        // The server's error reaches us boxed in a type libsql keeps private; its debug
        // form carries the code.
        libsql::Error::Hrana(inner) => {
            let said = format!("{inner:?}");
            said.contains("code: \"SQLITE_CONSTRAINT")
                .then(|| inner.to_string())
        }
        _ => None,
    }
}
