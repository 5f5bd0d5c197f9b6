//! Retrieval sessions: what a context pack offered, remembered so that the agent's feedback
//! can be tied to it, and the recording of that feedback.
//!
//! A session is one row of `retrieval_sessions` (its JSON `record` plus the namespace and
//! creation time as index columns). Recording feedback runs in one `IMMEDIATE` transaction
//! that stores the feedback on the session and credits every applied pattern (see
//! [`crate::patterns::apply_feedback`]), so feedback is counted exactly once: a second report
//! on the same session is a `Conflict`, whichever process sends it.

use crate::codec::{self, decode_session, micros};
use crate::connection::Conn;
use crate::error::SqlContext;
use crate::patterns;
use crate::planned::{Outcomes, PlannedStatement};
use chrono::{DateTime, Utc};
use memory_core::{Feedback, MemoryError, OutcomeKind, Result, RetrievalSession, SessionRetention};
use uuid::Uuid;

/// The statements of `store_session` (a planned write, see [`crate::planned`]): the
/// session's row, then the sessions of its namespace that `retention` no longer keeps, as
/// of the session's creation — those older than the age limit and those past the newest
/// `max_per_namespace`, in one statement. Both halves walk the `(namespace, created_at)`
/// index, so they cost what they remove (plus, for the second, the kept sessions it steps
/// over).
pub(crate) fn store_statements(
    session: &RetrievalSession,
    retention: &SessionRetention,
) -> Result<Vec<PlannedStatement>> {
    let id = session.id.to_string();
    let record = codec::to_json(session, || format!("retrieval session {id}"))?;
    let max_age = chrono::Duration::milliseconds(
        (retention.max_age_days.max(0.0) * 86_400_000.0).min(i64::MAX as f64 / 2.0) as i64,
    );
    let cutoff = session
        .created_at
        .checked_sub_signed(max_age)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let keep = i64::try_from(retention.max_per_namespace).unwrap_or(i64::MAX);
    let namespace = libsql::Value::from(session.namespace.as_str());
    Ok(vec![
        PlannedStatement::execute(
            "INSERT INTO retrieval_sessions (id, namespace, created_at, record) \
             VALUES (?1, ?2, ?3, ?4)",
            vec![
                id.into(),
                namespace.clone(),
                micros(session.created_at).into(),
                record.into(),
            ],
        ),
        PlannedStatement::execute(
            "DELETE FROM retrieval_sessions WHERE rowid IN ( \
               SELECT rowid FROM retrieval_sessions WHERE namespace = ?1 AND created_at < ?2 \
               UNION ALL \
               SELECT rowid FROM (SELECT rowid FROM retrieval_sessions WHERE namespace = ?1 \
                                  ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?3))",
            vec![namespace, micros(cutoff).into(), keep.into()],
        ),
    ])
}

/// What the statements of [`store_statements`] for `session` gave back, as
/// `store_session`'s result.
pub(crate) fn stored(session: &RetrievalSession, outcomes: Outcomes) -> Result<()> {
    let id = session.id.to_string();
    let outcomes = outcomes.map_err(|err| {
        let taken = || format!("retrieval session {id} already exists");
        crate::error::taken_or(
            err,
            "retrieval_sessions.id",
            taken,
            "store retrieval session",
        )
    })?;
    let dropped = outcomes.get(1).map_or(0, |outcome| outcome.changed);
    tracing::debug!(%id, namespace = %session.namespace, offered = session.recommended.len(), dropped, "stored retrieval session");
    Ok(())
}

/// The body of `get_session`.
pub(crate) async fn get(
    conn: &Conn,
    namespace: &str,
    id: Uuid,
) -> Result<Option<RetrievalSession>> {
    let id = id.to_string();
    let rows = conn
        .query(
            "SELECT record FROM retrieval_sessions WHERE namespace = ?1 AND id = ?2",
            [namespace, id.as_str()],
        )
        .await
        .ctx("load retrieval session")?;
    let Some(row) = rows.one().await.ctx("load retrieval session")? else {
        return Ok(None);
    };
    let record = codec::text(&row, 0, &format!("retrieval session {id}"))?;
    Ok(Some(decode_session(&id, &record)?))
}

/// The body of `record_feedback`; runs on a write transaction.
pub(crate) async fn record_feedback(
    conn: &Conn,
    namespace: &str,
    session_id: Uuid,
    feedback: &Feedback,
) -> Result<()> {
    let Some(session) = get(conn, namespace, session_id).await? else {
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
    save_feedback(conn, namespace, session, feedback).await
}

/// The feedback an episode started from session `session_id` gives by completing: every
/// pattern the session recommended, with the episode's `outcome`, at `at`. Nothing when the
/// session is gone or already has feedback (the agent's own report wins). Runs inside the
/// completion's transaction, so the two commit together.
pub(crate) async fn feedback_from_completion(
    conn: &Conn,
    namespace: &str,
    session_id: Uuid,
    outcome: OutcomeKind,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(session) = get(conn, namespace, session_id).await? else {
        return Ok(());
    };
    if session.feedback.is_some() {
        return Ok(());
    }
    let feedback = Feedback {
        applied: session.recommended.clone(),
        outcome,
        recorded_at: at,
    };
    save_feedback(conn, namespace, session, &feedback).await
}

/// Deletes the retrieval session `session_id` with the episode that started from it, and
/// takes its feedback (if any) back from the patterns it credited. Runs on the delete's
/// write transaction; nothing to do when the session is gone.
pub(crate) async fn forget(conn: &Conn, namespace: &str, session_id: Uuid) -> Result<()> {
    let Some(session) = get(conn, namespace, session_id).await? else {
        return Ok(());
    };
    if let Some(feedback) = &session.feedback {
        patterns::apply_feedback(conn, namespace, feedback, true).await?;
    }
    conn.execute(
        "DELETE FROM retrieval_sessions WHERE namespace = ?1 AND id = ?2",
        [namespace, session_id.to_string().as_str()],
    )
    .await
    .ctx("delete the episode's retrieval session")?;
    Ok(())
}

/// Stores a session's record with its feedback (`?1`) by its id (`?2`).
pub(crate) const SAVE_FEEDBACK: &str = "UPDATE retrieval_sessions SET record = ?1 WHERE id = ?2";

/// Stores `feedback` on `session` and applies it to the patterns it names.
async fn save_feedback(
    conn: &Conn,
    namespace: &str,
    mut session: RetrievalSession,
    feedback: &Feedback,
) -> Result<()> {
    let session_id = session.id;
    session.feedback = Some(feedback.clone());
    let id = session_id.to_string();
    let record = codec::to_json(&session, || format!("retrieval session {id}"))?;
    conn.execute(SAVE_FEEDBACK, libsql::params![record, id.as_str()])
        .await
        .ctx("save feedback")?;
    patterns::apply_feedback(conn, namespace, feedback, false).await?;
    tracing::debug!(%id, namespace, applied = feedback.applied.len(), outcome = feedback.outcome.as_str(), "recorded feedback");
    Ok(())
}
