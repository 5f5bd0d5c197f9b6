//! One Hrana pipeline request to a libSQL server: a batch of statements, each with its
//! parameters and an optional condition on the steps before it, sent and answered in one
//! HTTP round trip.
//!
//! The `libsql` crate sends a parameterised statement per request, or a batch of SQL text
//! without parameters; a write that binds values therefore cost it one round trip per
//! statement. This module speaks the server's pipeline protocol itself (the `libsql-hrana`
//! crate's message types, over `ureq`), so that a whole write transaction — and the group
//! commit's batch of them, see [`crate::planned`] — is one request.

use crate::statements::SQL_TRACE;
use libsql_hrana::proto::{
    Batch, BatchResult, BatchStreamReq, CloseStreamReq, PipelineReqBody, PipelineRespBody, Stmt,
    StreamRequest, StreamResponse, StreamResult, Value as WireValue,
};
use std::sync::Arc;
use std::time::Duration;

/// The pipeline endpoint of one libSQL server, and the HTTP agent that posts to it.
pub(crate) struct Pipeline {
    agent: ureq::Agent,
    /// The server's URL as the user gave it, for errors.
    server: Arc<str>,
    /// Where pipeline requests are posted (`…/v3/pipeline`).
    endpoint: String,
    /// The `Authorization` header's value; `None` when the server asks for no token.
    authorization: Option<String>,
    timeout: Duration,
}

/// A pipeline request that failed as a whole: not sent, not answered in time, refused, or
/// answered with something that is not a batch's result. Its text names the server.
#[derive(Debug, thiserror::Error)]
#[error("the libSQL server at {server} failed: {cause}")]
pub(crate) struct PipelineFailed {
    server: String,
    cause: String,
}

/// A statement of a batch that the server ran and refused: SQLite's message and code (its
/// `Debug` form carries `code: "SQLITE_…"`, which [`crate::error::constraint_violation`]
/// reads, as it does for libSQL's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StatementFailed {
    message: String,
    code: String,
}

impl Pipeline {
    /// The pipeline of the server at `url` (`libsql://` is HTTPS), sending `auth_token`
    /// when it is not empty, each request answered within `timeout`.
    pub(crate) fn new(url: &str, auth_token: &str, timeout: Duration) -> Pipeline {
        let base = match url.strip_prefix("libsql://") {
            Some(rest) => format!("https://{rest}"),
            None => url.to_string(),
        };
        let (base, query) = match base.find('?') {
            Some(at) => base.split_at(at),
            None => (base.as_str(), ""),
        };
        let endpoint = format!("{}/v3/pipeline{query}", base.trim_end_matches('/'));
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| base.starts_with(prefix));
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(concat!("memory-storage-turso/", env!("CARGO_PKG_VERSION")));
        if loopback {
            config = config.proxy(None);
        }
        Pipeline {
            agent: ureq::Agent::new_with_config(config.build()),
            server: Arc::from(url),
            endpoint,
            authorization: (!auth_token.is_empty()).then(|| format!("Bearer {auth_token}")),
            timeout,
        }
    }

    /// Sends `batch` as one request on a new stream (closed in the same request) and
    /// returns the server's result for each of its steps.
    pub(crate) async fn batch(&self, batch: Batch) -> Result<BatchResult, libsql::Error> {
        for step in &batch.steps {
            let sql = step.stmt.sql.as_deref().unwrap_or_default();
            tracing::trace!(target: SQL_TRACE, sql, "in one request");
        }
        let body = PipelineReqBody {
            baton: None,
            requests: vec![
                StreamRequest::Batch(BatchStreamReq { batch }),
                StreamRequest::Close(CloseStreamReq {}),
            ],
        };
        let body = serde_json::to_string(&body).map_err(|e| self.failed(e.to_string()))?;
        let agent = self.agent.clone();
        let endpoint = self.endpoint.clone();
        let authorization = self.authorization.clone();
        let post = tokio::task::spawn_blocking(move || {
            post(&agent, &endpoint, authorization.as_deref(), &body)
        });
        // The agent bounds the request itself; this bounds the wait for a blocking thread.
        let answer = match tokio::time::timeout(self.timeout * 2, post).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(join)) => return Err(self.failed(join.to_string())),
            Err(_) => return Err(self.timed_out()),
        };
        let text = answer.map_err(|cause| match cause {
            None => self.timed_out(),
            Some(cause) => self.failed(cause),
        })?;
        let body: PipelineRespBody = serde_json::from_str(&text)
            .map_err(|e| self.failed(format!("its answer could not be read: {e}")))?;
        match body.results.into_iter().next() {
            Some(StreamResult::Ok {
                response: StreamResponse::Batch(batch),
            }) => Ok(batch.result),
            Some(StreamResult::Error { error }) => Err(self.failed(error.message)),
            _ => Err(self.failed("it answered a batch with something else".into())),
        }
    }

    fn timed_out(&self) -> libsql::Error {
        self.failed(format!(
            "did not answer within {} ms",
            self.timeout.as_millis()
        ))
    }

    fn failed(&self, cause: String) -> libsql::Error {
        libsql::Error::Hrana(Box::new(PipelineFailed {
            server: self.server.to_string(),
            cause,
        }))
    }
}

/// Posts `body` to `endpoint` and returns the answer's text; an HTTP status other than 200
/// is an error that says it (`status=401` for a refused token, which the CLI explains), and
/// `None` is a request not answered in time.
fn post(
    agent: &ureq::Agent,
    endpoint: &str,
    authorization: Option<&str>,
    body: &str,
) -> Result<String, Option<String>> {
    let mut request = agent
        .post(endpoint)
        .header("content-type", "application/json");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let lost = |e: ureq::Error, what: &str| match e {
        ureq::Error::Timeout(_) => None,
        other => Some(format!("{what} (connection: {other})")),
    };
    let mut answer = request
        .send(body)
        .map_err(|e| lost(e, "the request could not be made"))?;
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .read_to_string()
        .map_err(|e| lost(e, "its answer was cut off"))?;
    if status != 200 {
        let said: String = text.chars().take(300).collect();
        return Err(Some(format!("HTTP error: status={status}: {said}")));
    }
    Ok(text)
}

/// A statement of a batch with its parameters; `want_rows` when its rows are read.
pub(crate) fn statement(sql: &str, params: &[libsql::Value], want_rows: bool) -> Stmt {
    let mut stmt = Stmt::new(sql, want_rows);
    for value in params {
        stmt.bind(to_wire(value));
    }
    stmt
}

/// A value as the pipeline protocol carries it.
fn to_wire(value: &libsql::Value) -> WireValue {
    match value {
        libsql::Value::Null => WireValue::Null,
        libsql::Value::Integer(value) => WireValue::Integer { value: *value },
        libsql::Value::Real(value) => WireValue::Float { value: *value },
        libsql::Value::Text(value) => WireValue::Text {
            value: Arc::from(value.as_str()),
        },
        libsql::Value::Blob(value) => WireValue::Blob {
            value: value.clone().into(),
        },
    }
}

/// A value the pipeline protocol carried back.
pub(crate) fn from_wire(value: WireValue) -> libsql::Value {
    match value {
        WireValue::None | WireValue::Null => libsql::Value::Null,
        WireValue::Integer { value } => libsql::Value::Integer(value),
        WireValue::Float { value } => libsql::Value::Real(value),
        WireValue::Text { value } => libsql::Value::Text(value.to_string()),
        WireValue::Blob { value } => libsql::Value::Blob(value.to_vec()),
    }
}

/// The error of a statement the server refused, as a libSQL error.
pub(crate) fn refused(error: libsql_hrana::proto::Error) -> libsql::Error {
    libsql::Error::Hrana(Box::new(StatementFailed {
        message: error.message,
        code: error.code,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_follows_the_servers_url() {
        let at = |url: &str| Pipeline::new(url, "", Duration::from_secs(1)).endpoint;
        assert_eq!(
            at("libsql://db.example.io"),
            "https://db.example.io/v3/pipeline"
        );
        assert_eq!(
            at("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/v3/pipeline"
        );
        assert_eq!(
            at("https://h.example/?tls=1"),
            "https://h.example/v3/pipeline?tls=1"
        );
    }

    #[test]
    fn values_cross_the_wire_unchanged() {
        let values = [
            libsql::Value::Null,
            libsql::Value::Integer(i64::MIN),
            libsql::Value::Real(0.1 + 0.2),
            libsql::Value::Text("é\0x".into()),
            libsql::Value::Blob(vec![0, 255, 7]),
        ];
        for value in values {
            let json = serde_json::to_string(&to_wire(&value)).unwrap_or_default();
            let back: WireValue = serde_json::from_str(&json).unwrap_or_default();
            assert_eq!(from_wire(back), value, "{json}");
        }
    }
}
