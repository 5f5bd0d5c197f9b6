//! The facade's retrieval sessions and feedback: reading a session, and recording how a task
//! went after its context pack, which moves the applied patterns' rank.

use super::SelfLearningMemory;
use crate::error::{MemoryError, Result, ValidationError};
use crate::model::{Feedback, OutcomeKind, RetrievalSession};
use uuid::Uuid;

impl SelfLearningMemory {
    /// Reports how a task went after using a context pack: which of the recommended patterns
    /// the agent applied, and the outcome. Updates each applied pattern's effectiveness, which
    /// moves its rank in later retrievals.
    ///
    /// Fails with `NotFound` for an unknown session, `Invalid` for a pattern that was not
    /// recommended in that session, and `Conflict` if the session already has feedback.
    pub async fn record_feedback(
        &self,
        namespace: &str,
        session_id: Uuid,
        applied: Vec<Uuid>,
        outcome: OutcomeKind,
    ) -> Result<()> {
        self.timed("record_feedback", async {
            self.config.limits.check_namespace(namespace)?;
            let session = self.get_session(namespace, session_id).await?;
            if let Some((i, id)) = applied
                .iter()
                .enumerate()
                .find(|(_, id)| !session.recommended.contains(id))
            {
                return Err(ValidationError::new(
                    format!("applied[{i}]"),
                    format!("pattern {id} was not recommended in session {session_id}"),
                )
                .into());
            }
            let mut unique: Vec<Uuid> = Vec::with_capacity(applied.len());
            for id in applied {
                if !unique.contains(&id) {
                    unique.push(id);
                }
            }
            let feedback = Feedback {
                applied: unique,
                outcome,
                recorded_at: self.clock.now(),
            };
            self.storage
                .record_feedback(namespace, session_id, &feedback)
                .await
        })
        .await
    }

    /// A remembered retrieval.
    pub async fn get_session(&self, namespace: &str, session_id: Uuid) -> Result<RetrievalSession> {
        self.timed("get_session", async {
            self.config.limits.check_namespace(namespace)?;
            self.storage
                .get_session(namespace, session_id)
                .await?
                .ok_or_else(|| MemoryError::NotFound {
                    kind: "retrieval session",
                    id: session_id.to_string(),
                    namespace: namespace.to_string(),
                })
        })
        .await
    }
}
