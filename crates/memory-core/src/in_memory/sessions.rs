//! Retrieval sessions: storing one (and dropping those its namespace's retention no
//! longer keeps), feedback on one — reported, or given by completing an episode started
//! from it — and taking a session back with the episode that started from it.

use super::state::{State, micros};
use crate::{Feedback, MemoryError, OutcomeKind, Result, RetrievalSession, SessionRetention};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

/// How long `retention` keeps a session, as the libSQL store computes it.
pub(super) fn max_age(retention: &SessionRetention) -> TimeDelta {
    let ms = (retention.max_age_days.max(0.0) * 86_400_000.0).min(i64::MAX as f64 / 2.0) as i64;
    TimeDelta::try_milliseconds(ms).unwrap_or(TimeDelta::MAX)
}

/// The ids of `sessions` past the newest `keep` (newest by creation, then by id).
pub(super) fn beyond_newest<'a>(
    sessions: impl Iterator<Item = &'a RetrievalSession>,
    keep: usize,
) -> Vec<Uuid> {
    let mut order: Vec<(i64, Uuid)> = sessions.map(|s| (micros(s.created_at), s.id)).collect();
    order.sort_unstable_by(|a, b| b.cmp(a));
    order.into_iter().skip(keep).map(|(_, id)| id).collect()
}

impl State {
    /// Whether a session with this id is stored, in any namespace.
    pub(super) fn session_taken(&self, id: Uuid) -> bool {
        self.namespaces
            .values()
            .any(|data| data.sessions.contains_key(&id))
    }

    /// The body of [`crate::SessionStore::store_session`].
    pub(super) fn store_session(
        &mut self,
        session: &RetrievalSession,
        retention: &SessionRetention,
    ) -> Result<()> {
        if self.session_taken(session.id) {
            return Err(MemoryError::Conflict(format!(
                "retrieval session {} already exists",
                session.id
            )));
        }
        let data = self.namespace_mut(&session.namespace);
        data.sessions.insert(session.id, session.clone());
        // Drop what the retention no longer keeps, as of the new session's creation.
        let cutoff = session
            .created_at
            .checked_sub_signed(max_age(retention))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut dropped: Vec<Uuid> = data
            .sessions
            .values()
            .filter(|s| micros(s.created_at) < micros(cutoff))
            .map(|s| s.id)
            .collect();
        dropped.extend(beyond_newest(
            data.sessions.values(),
            retention.max_per_namespace,
        ));
        for id in dropped {
            data.sessions.remove(&id);
        }
        Ok(())
    }

    /// The body of [`crate::SessionStore::get_session`].
    pub(super) fn get_session(&self, namespace: &str, id: Uuid) -> Option<RetrievalSession> {
        self.namespace(namespace)?.sessions.get(&id).cloned()
    }

    /// The body of [`crate::SessionStore::list_sessions`]: by id.
    pub(super) fn list_sessions(&self, namespace: &str) -> Vec<RetrievalSession> {
        self.namespace(namespace)
            .map(|data| data.sessions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The body of [`crate::PatternStore::record_feedback`].
    pub(super) fn record_feedback(
        &mut self,
        namespace: &str,
        session_id: Uuid,
        feedback: &Feedback,
    ) -> Result<()> {
        let Some(session) = self.get_session(namespace, session_id) else {
            return Err(MemoryError::NotFound {
                kind: "retrieval session",
                id: session_id.to_string(),
                namespace: namespace.to_string(),
            });
        };
        if session.feedback.is_some() {
            return Err(MemoryError::Conflict(format!(
                "feedback for session {session_id} was already recorded"
            )));
        }
        self.save_feedback(namespace, session_id, feedback);
        Ok(())
    }

    /// The feedback an episode started from session `session_id` gives by completing:
    /// every pattern the session recommended, with the episode's `outcome`, at `at`.
    /// Nothing when the session is gone or already has feedback.
    pub(super) fn feedback_from_completion(
        &mut self,
        namespace: &str,
        session_id: Uuid,
        outcome: OutcomeKind,
        at: DateTime<Utc>,
    ) {
        let Some(session) = self.get_session(namespace, session_id) else {
            return;
        };
        if session.feedback.is_some() {
            return;
        }
        let feedback = Feedback {
            applied: session.recommended,
            outcome,
            recorded_at: at,
        };
        self.save_feedback(namespace, session_id, &feedback);
    }

    /// Deletes session `session_id` with the episode that started from it, taking its
    /// feedback (if any) back from the patterns it credited.
    pub(super) fn forget_session(&mut self, namespace: &str, session_id: Uuid) {
        let Some(data) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let Some(session) = data.sessions.remove(&session_id) else {
            return;
        };
        if let Some(feedback) = &session.feedback {
            self.apply_feedback(namespace, feedback, true);
        }
    }

    /// Stores `feedback` on the session and credits the patterns it names.
    fn save_feedback(&mut self, namespace: &str, session_id: Uuid, feedback: &Feedback) {
        if let Some(session) = self
            .namespaces
            .get_mut(namespace)
            .and_then(|data| data.sessions.get_mut(&session_id))
        {
            session.feedback = Some(feedback.clone());
        }
        self.apply_feedback(namespace, feedback, false);
    }
}
