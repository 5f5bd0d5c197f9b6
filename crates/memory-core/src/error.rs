//! The errors the library returns. Each says what was wrong in terms a user can act on.
//!
//! [`MemoryError`] is what every operation returns; [`ValidationError`] names the input that
//! broke a limit; [`EmbedError`] is what an embedder returns, carried by
//! [`MemoryError::Embedding`]. They depend on the data model only, so every other module can
//! return them.

use std::fmt;

/// Everything that can go wrong in a memory operation.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// An input broke a documented limit or rule; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The thing asked for does not exist in this namespace.
    #[error("{kind} `{id}` not found in namespace `{namespace}`")]
    NotFound {
        /// What was looked for, e.g. `episode`.
        kind: &'static str,
        /// Its id.
        id: String,
        /// The namespace that was searched.
        namespace: String,
    },
    /// The operation does not fit the current state (e.g. completing an episode twice).
    #[error("{0}")]
    Conflict(String),
    /// The operation was computed from a state that changed before it could be written
    /// (e.g. a step arrived while a completion was being scored); reloading and retrying
    /// will do.
    #[error("{0}")]
    Stale(String),
    /// A new edge of an acyclic kind (`parent_child`, `depends_on`, `blocks`) would close a
    /// cycle; nothing was written. `path` runs `from → to → … → from`.
    #[error(
        "a `{kind}` edge from {} to {} would close the cycle {}; nothing was written",
        path.first().map(ToString::to_string).unwrap_or_default(),
        path.get(1).map(ToString::to_string).unwrap_or_default(),
        crate::model::format_path(path)
    )]
    Cycle {
        /// The kind of the refused edge.
        kind: crate::model::RelationshipKind,
        /// The cycle, starting and ending with the new edge's `from`.
        path: Vec<uuid::Uuid>,
    },
    /// The storage backend failed; the operation did not take effect.
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An embedder failed; nothing was written.
    #[error(transparent)]
    Embedding(#[from] EmbedError),
    /// Too much is waiting already (the write queue is full); nothing was written, and the
    /// same call a moment later may succeed.
    #[error("the memory is busy: {0}")]
    Busy(String),
    /// Stored data could not be decoded.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl MemoryError {
    /// Wraps a backend error.
    pub fn storage(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        MemoryError::Storage(Box::new(err))
    }

    /// An episode that does not exist.
    pub fn episode_not_found(namespace: &str, id: impl fmt::Display) -> Self {
        MemoryError::NotFound {
            kind: "episode",
            id: id.to_string(),
            namespace: namespace.to_string(),
        }
    }
}

/// An input that broke a limit or rule: names the field, the limit and what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {problem}")]
pub struct ValidationError {
    /// The field, in the dotted form a user would write (e.g. `context.tags[3]`).
    pub field: String,
    /// What is wrong, with the limit (e.g. "is 5000 characters; the limit is 4096").
    pub problem: String,
}

impl ValidationError {
    /// A validation error for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Why embedding failed: what an [`Embedder`](crate::embedding::Embedder) returns.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The embedding service could not be reached or did not answer properly.
    #[error("embedding request to {url} failed: {detail}")]
    Request {
        /// Where the request went.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The embedding service did not answer in time.
    #[error("embedding request to {url} timed out after {seconds} s")]
    Timeout {
        /// Where the request went.
        url: String,
        /// The timeout.
        seconds: f64,
    },
    /// The embedding service answered with an error status.
    #[error("embedding service at {url} answered {status}: {body}")]
    Status {
        /// Where the request went.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// A vector did not have the dimension the embedder promised.
    #[error("embedder `{embedder}` returned a vector of dimension {got}; expected {expected}")]
    WrongDimension {
        /// The embedder.
        embedder: String,
        /// What it promised.
        expected: usize,
        /// What it returned.
        got: usize,
    },
    /// The answer could not be understood, or the embedder is misconfigured.
    #[error("embedder `{embedder}`: {detail}")]
    Invalid {
        /// The embedder.
        embedder: String,
        /// What was wrong.
        detail: String,
    },
}

/// Shorthand for results in this crate.
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;
