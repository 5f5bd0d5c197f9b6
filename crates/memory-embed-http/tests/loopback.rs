//! `OpenAiEmbedder` against a real HTTP server on 127.0.0.1 that speaks the OpenAI
//! embeddings API: a minimal HTTP/1.1 server written here with Tokio.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use memory_core::embedding::{EmbedError, Embedder};
use memory_embed_http::{OpenAiConfig, OpenAiEmbedder};
use serde_json::{Value, json};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Every test finishes within this, or fails.
const TEST_LIMIT: Duration = Duration::from_secs(20);

/// Runs `test`, failing if it takes longer than [`TEST_LIMIT`].
async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test took too long")
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn inputs(&self) -> Vec<String> {
        self.body["input"]
            .as_array()
            .expect("input is an array")
            .iter()
            .map(|v| v.as_str().expect("input is strings").to_owned())
            .collect()
    }
}

/// The server's answer to one request.
struct Reply {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
    /// How long to wait before answering.
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self::raw(status, body.to_string())
    }

    fn raw(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Decides the reply to the `n`-th request (counting from 0).
type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

/// An HTTP server on an ephemeral loopback port; stops when dropped.
struct Server {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task = tokio::spawn({
            let seen = Arc::clone(&seen);
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    tokio::spawn(serve(stream, Arc::clone(&seen), Arc::clone(&handler)));
                }
            }
        });
        Self {
            base_url: format!("http://{addr}/v1"),
            seen,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request from `stream`, records it, and answers with `Connection: close`.
async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, handler: Arc<Handler>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        assert!(buf.len() < 64 * 1024, "request head too large");
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            return; // the client gave up before sending a request
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let path = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').expect("header has a colon");
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    assert!(
        !headers.iter().any(|(n, _)| n == "transfer-encoding"),
        "the client should send a Content-Length body"
    );
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    let request = Seen {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    let reply = handler(n, &request);
    tokio::time::sleep(reply.delay).await;
    let mut response = format!(
        "HTTP/1.1 {} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&reply.body);
    // The client may have gone (timeouts): errors writing are expected then.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The vector the fake model gives `text "text N"`: `[N + 1, 1, 0, …]` (not normalised).
fn fake_vector(text: &str, dimension: usize) -> Vec<f32> {
    let n: f32 = text
        .strip_prefix("text ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let mut v = vec![0.0; dimension];
    v[0] = n + 1.0;
    if dimension > 1 {
        v[1] = 1.0;
    }
    v
}

/// An OpenAI-style answer to `request` with vectors of `dimension`, in reverse order (each
/// with its right `index`), so a client that ignores `index` gets them wrong.
fn openai_answer(request: &Seen, dimension: usize) -> Reply {
    let inputs = request.inputs();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_vector(t, dimension)}))
        .collect();
    data.reverse();
    Reply::json(
        200,
        json!({
            "object": "list",
            "data": data,
            "model": request.body["model"],
            "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}
        }),
    )
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text {i}")).collect()
}

/// A config for `server` with quick retries.
fn config(base_url: &str, dimension: usize) -> OpenAiConfig {
    OpenAiConfig {
        timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(10),
        ..OpenAiConfig::new(base_url, "test-model", dimension)
    }
}

/// Checks `vectors` are the normalised fake vectors of `texts(n)`, in order.
fn assert_fake_vectors(vectors: &[Vec<f32>], n: usize, dimension: usize) {
    assert_eq!(vectors.len(), n);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(v.len(), dimension);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "vector {i} has norm {norm}");
        let ratio = v[0] / v[1];
        assert!(
            (ratio - (i as f32 + 1.0)).abs() < 1e-3,
            "vector {i} belongs to text {}",
            ratio - 1.0
        );
    }
}

#[tokio::test]
async fn success_orders_by_index_normalises_and_sends_key_and_model() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 4)).await;
        let embedder =
            OpenAiEmbedder::new(config(&server.base_url, 4).with_api_key("sk-test-123")).unwrap();
        let vectors = embedder.embed(&texts(3)).await.unwrap();
        assert_fake_vectors(&vectors, 3, 4);
        // [1, 1, 0, 0] normalised.
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((vectors[0][0] - h).abs() < 1e-6 && (vectors[0][1] - h).abs() < 1e-6);

        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        let r = &seen[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/embeddings");
        assert_eq!(r.header("authorization"), Some("Bearer sk-test-123"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body["model"], "test-model");
        assert_eq!(r.inputs(), texts(3));
        assert!(r.body.get("dimensions").is_none(), "{}", r.body);
    })
    .await;
}

#[tokio::test]
async fn batching_splits_150_inputs_into_3_requests() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 8)).await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 8)).unwrap();
        assert_eq!(embedder.config().batch_size, 64);
        let vectors = embedder.embed(&texts(150)).await.unwrap();
        assert_fake_vectors(&vectors, 150, 8);

        let seen = server.seen();
        let sizes: Vec<usize> = seen.iter().map(|r| r.inputs().len()).collect();
        assert_eq!(sizes, vec![64, 64, 22]);
        let sent: Vec<String> = seen.iter().flat_map(Seen::inputs).collect();
        assert_eq!(sent, texts(150));
    })
    .await;
}

#[tokio::test]
async fn dimensions_sent_only_when_asked_and_no_key_means_no_authorization() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 4)).await;
        let embedder = OpenAiEmbedder::new(OpenAiConfig {
            send_dimensions: true,
            ..config(&server.base_url, 4)
        })
        .unwrap();
        embedder.embed(&texts(2)).await.unwrap();
        let seen = server.seen();
        assert_eq!(seen[0].body["dimensions"], 4);
        assert_eq!(seen[0].header("authorization"), None);
    })
    .await;
}

#[tokio::test]
async fn empty_input_sends_nothing() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 4)).await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        assert!(embedder.embed(&[]).await.unwrap().is_empty());
        assert!(server.seen().is_empty());
    })
    .await;
}

#[tokio::test]
async fn slow_server_times_out() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 4).after(Duration::from_secs(3))).await;
        let embedder = OpenAiEmbedder::new(OpenAiConfig {
            timeout: Duration::from_millis(300),
            max_retries: 0,
            ..config(&server.base_url, 4)
        })
        .unwrap();
        let started = Instant::now();
        let err = embedder.embed(&texts(1)).await.unwrap_err();
        let elapsed = started.elapsed();
        match err {
            EmbedError::Timeout { url, seconds } => {
                assert_eq!(url, format!("{}/embeddings", server.base_url));
                assert!((seconds - 0.3).abs() < 1e-9);
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
        assert_eq!(server.seen().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_timeout_is_retried() {
    bounded(async {
        let server = Server::start(|n, r| {
            let delay = if n == 0 {
                Duration::from_secs(3)
            } else {
                Duration::ZERO
            };
            openai_answer(r, 4).after(delay)
        })
        .await;
        let embedder = OpenAiEmbedder::new(OpenAiConfig {
            timeout: Duration::from_millis(300),
            ..config(&server.base_url, 4)
        })
        .unwrap();
        let vectors = embedder.embed(&texts(2)).await.unwrap();
        assert_fake_vectors(&vectors, 2, 4);
        assert_eq!(server.seen().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn server_error_carries_the_openai_message() {
    bounded(async {
        let server = Server::start(|_, _| {
            Reply::json(
                500,
                json!({"error": {"message": "The server had an error while processing your request.",
                                 "type": "server_error", "param": null, "code": null}}),
            )
        })
        .await;
        let embedder = OpenAiEmbedder::new(OpenAiConfig {
            max_retries: 0,
            ..config(&server.base_url, 4)
        })
        .unwrap();
        match embedder.embed(&texts(1)).await.unwrap_err() {
            EmbedError::Status { url, status, body } => {
                assert_eq!(url, format!("{}/embeddings", server.base_url));
                assert_eq!(status, 500);
                assert_eq!(body, "The server had an error while processing your request.");
            }
            other => panic!("expected Status, got {other:?}"),
        }
        assert_eq!(server.seen().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn persistent_5xx_is_retried_then_reported() {
    bounded(async {
        let server = Server::start(|_, _| Reply::raw(502, "<html>Bad Gateway</html>")).await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        match embedder.embed(&texts(1)).await.unwrap_err() {
            EmbedError::Status { status, body, .. } => {
                assert_eq!(status, 502);
                assert_eq!(body, "<html>Bad Gateway</html>");
            }
            other => panic!("expected Status, got {other:?}"),
        }
        assert_eq!(server.seen().len(), 3, "1 attempt + max_retries 2");
    })
    .await;
}

#[tokio::test]
async fn unauthorized_is_reported_and_not_retried() {
    bounded(async {
        let server = Server::start(|_, _| {
            Reply::json(
                401,
                json!({"error": {"message": "Incorrect API key provided: sk-wrong.",
                                 "type": "invalid_request_error", "code": "invalid_api_key"}}),
            )
        })
        .await;
        let embedder =
            OpenAiEmbedder::new(config(&server.base_url, 4).with_api_key("sk-wrong")).unwrap();
        match embedder.embed(&texts(1)).await.unwrap_err() {
            EmbedError::Status { status, body, .. } => {
                assert_eq!(status, 401);
                assert_eq!(body, "Incorrect API key provided: sk-wrong.");
            }
            other => panic!("expected Status, got {other:?}"),
        }
        assert_eq!(server.seen().len(), 1, "a 401 is not retried");
    })
    .await;
}

#[tokio::test]
async fn a_503_then_200_succeeds_with_retries() {
    bounded(async {
        let server = Server::start(|n, r| {
            if n == 0 {
                Reply::json(503, json!({"error": {"message": "overloaded"}}))
            } else {
                openai_answer(r, 4)
            }
        })
        .await;
        let embedder = OpenAiEmbedder::new(OpenAiConfig {
            max_retries: 2,
            ..config(&server.base_url, 4)
        })
        .unwrap();
        let vectors = embedder.embed(&texts(5)).await.unwrap();
        assert_fake_vectors(&vectors, 5, 4);
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0].body, seen[1].body,
            "the retry sends the same request"
        );
    })
    .await;
}

#[tokio::test]
async fn a_429_honours_retry_after() {
    bounded(async {
        let server = Server::start(|n, r| {
            if n == 0 {
                let mut reply =
                    Reply::json(429, json!({"error": {"message": "Rate limit reached"}}));
                reply.headers.push(("Retry-After", "1".to_owned()));
                reply
            } else {
                openai_answer(r, 4)
            }
        })
        .await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        let started = Instant::now();
        embedder.embed(&texts(1)).await.unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(900),
            "waited only {elapsed:?}"
        );
        assert_eq!(server.seen().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn wrong_dimension_is_rejected() {
    bounded(async {
        let server = Server::start(|_, r| openai_answer(r, 3)).await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        match embedder.embed(&texts(2)).await.unwrap_err() {
            EmbedError::WrongDimension {
                embedder: id,
                expected,
                got,
            } => {
                assert_eq!(id, "openai:test-model:4");
                assert_eq!((expected, got), (4, 3));
            }
            other => panic!("expected WrongDimension, got {other:?}"),
        }
        assert_eq!(server.seen().len(), 1, "a bad answer is not retried");
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_invalid() {
    bounded(async {
        let server = Server::start(|_, _| Reply::raw(200, r#"{"data": [{"index": 0, "embe"#)).await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        match embedder.embed(&texts(1)).await.unwrap_err() {
            EmbedError::Invalid { embedder: id, .. } => assert_eq!(id, "openai:test-model:4"),
            other => panic!("expected Invalid, got {other:?}"),
        }
        assert_eq!(server.seen().len(), 1, "a bad answer is not retried");
    })
    .await;
}

#[tokio::test]
async fn too_few_vectors_is_invalid() {
    bounded(async {
        let server = Server::start(|_, r| {
            let mut reply = openai_answer(r, 4);
            let mut body: Value = serde_json::from_str(&reply.body).unwrap();
            body["data"].as_array_mut().unwrap().pop();
            reply.body = body.to_string();
            reply
        })
        .await;
        let embedder = OpenAiEmbedder::new(config(&server.base_url, 4)).unwrap();
        match embedder.embed(&texts(3)).await.unwrap_err() {
            EmbedError::Invalid { detail, .. } => {
                assert!(detail.contains("sent 3 texts but got 2"), "{detail}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_a_request_error() {
    bounded(async {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        }; // dropped: nothing listens there now
        let base_url = format!("http://127.0.0.1:{port}/v1");
        let embedder = OpenAiEmbedder::new(config(&base_url, 4)).unwrap();
        let started = Instant::now();
        match embedder.embed(&texts(1)).await.unwrap_err() {
            EmbedError::Request { url, detail } => {
                assert_eq!(url, format!("{base_url}/embeddings"));
                assert!(!detail.is_empty());
            }
            other => panic!("expected Request, got {other:?}"),
        }
        // Two quick retries (10 ms, 20 ms), not the 5 s timeout.
        assert!(started.elapsed() < Duration::from_secs(3));
    })
    .await;
}
