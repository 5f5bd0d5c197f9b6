//! [`OpenAiConfig`]: where the embeddings service is and how to talk to it.

use std::fmt;
use std::time::Duration;

/// How an [`OpenAiEmbedder`](crate::OpenAiEmbedder) reaches an OpenAI-compatible
/// `/v1/embeddings` endpoint.
///
/// Build one with [`OpenAiConfig::new`], which fills in the defaults, then change the public
/// fields (or use [`OpenAiConfig::with_api_key`]). [`OpenAiEmbedder::new`](crate::OpenAiEmbedder::new)
/// checks it. Its `Debug` output never shows the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// The API root that `/embeddings` is appended to, with scheme `http` or `https`, e.g.
    /// `https://api.openai.com/v1` or `http://localhost:11434/v1` (Ollama). A trailing `/` is
    /// ignored.
    pub base_url: String,
    /// The model name sent with every request, e.g. `text-embedding-3-small` or
    /// `nomic-embed-text`; must not be empty.
    pub model: String,
    /// The bearer token sent as `Authorization: Bearer <key>`; `None` (or an empty string)
    /// sends no `Authorization` header, as local servers expect.
    pub api_key: Option<String>,
    /// The length of every vector the model returns (at least 1). Answers with any other length
    /// are rejected with [`EmbedError::WrongDimension`](memory_core::embedding::EmbedError::WrongDimension).
    pub dimension: usize,
    /// Whether to send `"dimensions": <dimension>` in each request, asking the model to shorten
    /// its vectors (OpenAI's `text-embedding-3-*` support it). Off by default, because many
    /// servers reject the field or models that cannot honour it.
    pub send_dimensions: bool,
    /// The limit for one HTTP request, from connecting to reading the whole answer
    /// (default 30 s; must not be zero).
    pub timeout: Duration,
    /// How many texts go into one request at most (default 64; at least 1).
    pub batch_size: usize,
    /// How many times a request is retried after a connection error, a timeout, or an answer
    /// of 429 or 5xx (default 2). Other failures are never retried.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further one and is capped at
    /// 5 s, as is a longer `Retry-After` from the server (default 250 ms).
    pub retry_backoff: Duration,
}

impl OpenAiConfig {
    /// The default request timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default number of texts per request.
    pub const DEFAULT_BATCH_SIZE: usize = 64;
    /// The default number of retries.
    pub const DEFAULT_MAX_RETRIES: u32 = 2;
    /// The default wait before the first retry.
    pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(250);

    /// A configuration for `model` at `base_url` returning vectors of length `dimension`, with
    /// no API key and the defaults for everything else.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>, dimension: usize) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            dimension,
            send_dimensions: false,
            timeout: Self::DEFAULT_TIMEOUT,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            max_retries: Self::DEFAULT_MAX_RETRIES,
            retry_backoff: Self::DEFAULT_RETRY_BACKOFF,
        }
    }

    /// The same configuration with `api_key` as the bearer token.
    #[must_use]
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("dimension", &self.dimension)
            .field("send_dimensions", &self.send_dimensions)
            .field("timeout", &self.timeout)
            .field("batch_size", &self.batch_size)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}
