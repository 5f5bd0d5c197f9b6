//! An [`Embedder`] for any OpenAI-compatible `/v1/embeddings` endpoint: OpenAI itself, Ollama,
//! vLLM, LM Studio, the llama.cpp server and the like.
//!
//! `memory-core` ships only a local hashing embedder, which matches words but not meaning.
//! This crate lets a memory use a real embedding model served over HTTP, without memory-core
//! doing any I/O itself: [`OpenAiEmbedder`] batches texts, posts them, checks and L2-normalises
//! the vectors, retries transient failures, and reports every failure as a typed
//! [`EmbedError`].
//!
//! The HTTP client is `ureq` 3 with rustls on the `ring` provider, run on Tokio's blocking
//! pool, because the current `reqwest`'s rustls feature pulls in `aws-lc-sys` (a cmake
//! build) and even the ring-based `reqwest` 0.12 needs about 90 crates where `ureq` needs 29.
//!
//! The embedder's [`id`](Embedder::id) is `openai:{model}:{dimension}`: the base URL is
//! deliberately not part of it, so the same model served elsewhere (OpenAI or a local proxy,
//! one Ollama host or another) shares stored vectors. Point two servers at the same id only if
//! they really serve the same weights.
//!
//! Requests run with a process-wide Tokio runtime in scope (as every memory-core caller has);
//! HTTPS trusts the Mozilla root certificates (webpki-roots). Proxies come from the usual
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` variables, except for loopback base URLs, which are
//! always reached directly.
//!
//! # Example
//!
//! ```no_run
//! use memory_core::embedding::{EmbedError, Embedder};
//! use memory_embed_http::{OpenAiConfig, OpenAiEmbedder};
//!
//! # async fn run() -> Result<(), EmbedError> {
//! // A local Ollama server: no key needed.
//! let local = OpenAiEmbedder::new(OpenAiConfig::new(
//!     "http://localhost:11434/v1",
//!     "nomic-embed-text",
//!     768,
//! ))?;
//! let vectors = local.embed(&["fix the flaky integration test".to_owned()]).await?;
//! assert_eq!(vectors[0].len(), 768);
//!
//! // OpenAI, with a key and a shortened vector.
//! let mut config = OpenAiConfig::new("https://api.openai.com/v1", "text-embedding-3-small", 512)
//!     .with_api_key("sk-...");
//! config.send_dimensions = true;
//! let remote = OpenAiEmbedder::new(config)?;
//! assert_eq!(remote.id(), "openai:text-embedding-3-small:512");
//! # Ok(()) }
//! ```

mod config;
mod wire;

pub use config::OpenAiConfig;

use async_trait::async_trait;
use memory_core::embedding::{EmbedError, Embedder, normalize};
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use ureq::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use ureq::http::{HeaderValue, Uri};

use wire::{EmbeddingRequest, ParseError};

/// The largest successful answer read (a batch of 64 vectors of 3072 floats is about 5 MB).
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;
/// How much of an error answer is read.
const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;
/// The longest wait between two attempts, whatever the backoff or `Retry-After` say.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An [`Embedder`] that calls an OpenAI-compatible embeddings endpoint over HTTP.
///
/// Created from an [`OpenAiConfig`] by [`OpenAiEmbedder::new`]; cheap to share behind an
/// `Arc`, and it reuses connections between calls. It is never [local](Embedder::is_local).
pub struct OpenAiEmbedder {
    config: OpenAiConfig,
    id: String,
    endpoint: String,
    auth: Option<HeaderValue>,
    agent: ureq::Agent,
}

impl OpenAiEmbedder {
    /// An embedder for `config`, after checking it: the model must not be empty, `dimension`
    /// and `batch_size` must be at least 1, `timeout` must not be zero, `base_url` must be an
    /// `http` or `https` URL with a host, and the API key must fit in an HTTP header.
    /// Nothing is sent until the first [`embed`](Embedder::embed).
    ///
    /// # Errors
    ///
    /// [`EmbedError::Invalid`] naming the first setting that is wrong.
    pub fn new(config: OpenAiConfig) -> Result<Self, EmbedError> {
        let id = format!("openai:{}:{}", config.model, config.dimension);
        let invalid = |detail: String| EmbedError::Invalid {
            embedder: id.clone(),
            detail,
        };
        if config.model.trim().is_empty() {
            return Err(invalid("the model name must not be empty".into()));
        }
        if config.dimension == 0 {
            return Err(invalid("the dimension must be at least 1".into()));
        }
        if config.batch_size == 0 {
            return Err(invalid("the batch size must be at least 1".into()));
        }
        if config.timeout.is_zero() {
            return Err(invalid("the timeout must be longer than zero".into()));
        }
        let base = config.base_url.trim().trim_end_matches('/');
        let endpoint = format!("{base}/embeddings");
        let uri: Uri = endpoint.parse().map_err(|e| {
            invalid(format!(
                "the base URL `{}` is not a valid URL: {e}",
                config.base_url
            ))
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid(format!(
                "the base URL `{}` must start with http:// or https://",
                config.base_url
            )));
        }
        let host = match uri.host() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => {
                return Err(invalid(format!(
                    "the base URL `{}` has no host",
                    config.base_url
                )));
            }
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let auth = match config.api_key.as_deref().map(str::trim) {
            Some(key) if !key.is_empty() => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    invalid("the API key has characters an HTTP header cannot carry".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let mut agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A POST redirected as a GET would lose its body: report the 3xx instead.
            .max_redirects(0)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("memory-embed-http/", env!("CARGO_PKG_VERSION")));
        if loopback {
            agent_config = agent_config.proxy(None);
        }
        let agent = ureq::Agent::new_with_config(agent_config.build());
        Ok(Self {
            config,
            id,
            endpoint,
            auth,
            agent,
        })
    }

    /// The configuration this embedder was built from.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The URL requests are posted to: the base URL followed by `/embeddings`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The vectors for one batch, in order and normalised, retrying transient failures.
    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let request = EmbeddingRequest {
            model: &self.config.model,
            input: batch,
            dimensions: self.config.send_dimensions.then_some(self.config.dimension),
        };
        let body = serde_json::to_vec(&request).map_err(|e| EmbedError::Invalid {
            embedder: self.id.clone(),
            detail: format!("could not encode the request: {e}"),
        })?;
        let body = Arc::new(body);
        let mut attempt: u32 = 0;
        let answer = loop {
            match self.post(Arc::clone(&body)).await {
                Ok(answer) => break answer,
                Err(failure) if failure.retryable && attempt < self.config.max_retries => {
                    let wait = backoff(self.config.retry_backoff, attempt, failure.retry_after);
                    attempt += 1;
                    tracing::warn!(
                        url = %self.endpoint,
                        attempt,
                        max_retries = self.config.max_retries,
                        wait_ms = wait.as_millis() as u64,
                        error = %failure.error,
                        "embedding request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(failure) => return Err(failure.error),
            }
        };
        let mut vectors = wire::parse_embeddings(&answer, batch.len(), self.config.dimension)
            .map_err(|e| match e {
                ParseError::Invalid(detail) => EmbedError::Invalid {
                    embedder: self.id.clone(),
                    detail,
                },
                ParseError::WrongDimension(got) => EmbedError::WrongDimension {
                    embedder: self.id.clone(),
                    expected: self.config.dimension,
                    got,
                },
            })?;
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(vectors)
    }

    /// One `POST` of `body`; the answer's body if the status is 2xx.
    async fn post(&self, body: Arc<Vec<u8>>) -> Result<Vec<u8>, Failure> {
        let agent = self.agent.clone();
        let endpoint = self.endpoint.clone();
        let auth = self.auth.clone();
        let exchange = tokio::task::spawn_blocking(move || -> Result<_, ureq::Error> {
            let mut request = agent
                .post(&endpoint)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json");
            if let Some(auth) = auth {
                request = request.header(AUTHORIZATION, auth);
            }
            let response = request.send(body.as_slice())?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let mut body = response.into_body();
            let bytes = if (200..300).contains(&status) {
                body.with_config().limit(MAX_BODY_BYTES).read_to_vec()?
            } else {
                // The start of an error answer is all we keep; a failure reading it is moot.
                let mut bytes = Vec::new();
                let _ = body
                    .with_config()
                    .reader()
                    .take(MAX_ERROR_BODY_BYTES)
                    .read_to_end(&mut bytes);
                bytes
            };
            Ok((status, retry_after, bytes))
        })
        .await;
        let (status, retry_after, bytes) = match exchange {
            Ok(Ok(exchange)) => exchange,
            Ok(Err(error)) => return Err(self.transport_failure(error)),
            Err(join) => {
                return Err(Failure::fatal(EmbedError::Request {
                    url: self.endpoint.clone(),
                    detail: format!("the request task failed: {join}"),
                }));
            }
        };
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(Failure {
            error: EmbedError::Status {
                url: self.endpoint.clone(),
                status,
                body: wire::error_message(&bytes),
            },
            retryable: status == 429 || (500..600).contains(&status),
            retry_after,
        })
    }

    /// The [`EmbedError`] for a request that got no usable answer, and whether to retry it.
    fn transport_failure(&self, error: ureq::Error) -> Failure {
        let url = self.endpoint.clone();
        let timeout = || EmbedError::Timeout {
            url: url.clone(),
            seconds: self.config.timeout.as_secs_f64(),
        };
        match error {
            ureq::Error::Timeout(_) => Failure::retryable(timeout()),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Failure::retryable(timeout())
            }
            ureq::Error::BodyExceedsLimit(limit) => Failure::fatal(EmbedError::Invalid {
                embedder: self.id.clone(),
                detail: format!("the answer is larger than {limit} bytes"),
            }),
            e @ (ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)) => Failure::retryable(EmbedError::Request {
                url,
                detail: e.to_string(),
            }),
            e => Failure::fatal(EmbedError::Request {
                url,
                detail: e.to_string(),
            }),
        }
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    fn is_local(&self) -> bool {
        false
    }

    /// Posts `texts` in batches of `batch_size`, one batch after another, and returns their
    /// L2-normalised vectors in order; no request at all for no texts. The first batch that
    /// fails (after its retries) fails the whole call.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

impl fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A failed attempt: the error, whether another attempt may succeed, and how long the server
/// asked us to wait.
struct Failure {
    error: EmbedError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn retryable(error: EmbedError) -> Self {
        Self {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    fn fatal(error: EmbedError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// The wait before retry number `attempt + 1`: `base` doubled `attempt` times, or the
/// server's `Retry-After` if longer, and never more than [`MAX_BACKOFF`].
fn backoff(base: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = base.saturating_mul(1u32 << attempt.min(16));
    retry_after
        .map_or(exponential, |r| r.max(exponential))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn config() -> OpenAiConfig {
        OpenAiConfig::new("http://localhost:11434/v1/", "nomic-embed-text", 768)
    }

    fn invalid_detail(config: OpenAiConfig) -> String {
        match OpenAiEmbedder::new(config) {
            Err(EmbedError::Invalid { detail, .. }) => detail,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_id() {
        let c = config();
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.batch_size, 64);
        assert_eq!(c.max_retries, 2);
        assert!(!c.send_dimensions);
        assert!(c.api_key.is_none());
        let e = OpenAiEmbedder::new(c).unwrap();
        assert_eq!(e.id(), "openai:nomic-embed-text:768");
        assert_eq!(e.dimension(), 768);
        assert!(!e.is_local());
        assert_eq!(e.endpoint(), "http://localhost:11434/v1/embeddings");
    }

    #[test]
    fn the_base_url_is_not_part_of_the_id() {
        let a = OpenAiEmbedder::new(OpenAiConfig::new("https://api.openai.com/v1", "m", 8));
        let b = OpenAiEmbedder::new(OpenAiConfig::new("http://127.0.0.1:8000/v1", "m", 8));
        assert_eq!(a.unwrap().id(), b.unwrap().id());
    }

    #[test]
    fn new_rejects_bad_settings() {
        assert!(
            invalid_detail(OpenAiConfig {
                model: " ".into(),
                ..config()
            })
            .contains("model")
        );
        assert!(
            invalid_detail(OpenAiConfig {
                dimension: 0,
                ..config()
            })
            .contains("dimension")
        );
        assert!(
            invalid_detail(OpenAiConfig {
                batch_size: 0,
                ..config()
            })
            .contains("batch")
        );
        assert!(
            invalid_detail(OpenAiConfig {
                timeout: Duration::ZERO,
                ..config()
            })
            .contains("timeout")
        );
        for url in [
            "ftp://example.com/v1",
            "localhost:11434/v1",
            "",
            "http://",
            "not a url",
        ] {
            let detail = invalid_detail(OpenAiConfig {
                base_url: url.into(),
                ..config()
            });
            assert!(detail.contains("base URL"), "{url}: {detail}");
        }
        assert!(invalid_detail(config().with_api_key("sk-\nx")).contains("API key"));
        assert!(
            OpenAiEmbedder::new(config().with_api_key(""))
                .unwrap()
                .auth
                .is_none()
        );
        assert!(
            OpenAiEmbedder::new(config().with_api_key("sk-1"))
                .unwrap()
                .auth
                .is_some()
        );
        assert!(OpenAiEmbedder::new(OpenAiConfig::new("HTTPS://[::1]:8443/v1", "m", 3)).is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let e = OpenAiEmbedder::new(config().with_api_key("sk-secret-123")).unwrap();
        let shown = format!("{e:?} {:?}", e.config());
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let base = Duration::from_millis(250);
        assert_eq!(backoff(base, 0, None), base);
        assert_eq!(backoff(base, 2, None), Duration::from_secs(1));
        assert_eq!(backoff(base, 10, None), MAX_BACKOFF);
        assert_eq!(
            backoff(base, 0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(backoff(base, 0, Some(Duration::from_secs(60))), MAX_BACKOFF);
        assert_eq!(backoff(base, u32::MAX, None), MAX_BACKOFF);
    }
}
