//! [`SessionStore`]: the retrieval sessions feedback is tied to.

use crate::error::Result;
use crate::model::{RetrievalSession, SessionRetention};
use async_trait::async_trait;
use uuid::Uuid;

/// The retrieval sessions of a store: each context pack handed out is remembered (within
/// the namespace's retention) so that feedback can name the patterns it recommended.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Remembers a retrieval so feedback can be tied to it, and in the same write drops the
    /// namespace's sessions that `retention` no longer keeps. A duplicate id is a `Conflict`.
    async fn store_session(
        &self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()>;

    /// A remembered retrieval, or `None` when it does not exist in `namespace`.
    async fn get_session(
        &self,
        namespace: &str,
        session_id: Uuid,
    ) -> Result<Option<RetrievalSession>>;

    /// Every retrieval session of `namespace`, by id.
    async fn list_sessions(&self, namespace: &str) -> Result<Vec<RetrievalSession>>;
}
