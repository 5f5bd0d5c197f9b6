//! What the in-process HTTP tests share: a server on a loopback port over a fresh database,
//! and one blocking HTTP exchange with its reply.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use memory_core::SelfLearningMemory;
use memory_mcp::{HttpConfig, HttpServer, MemoryServer};
use memory_storage_turso::TursoStorage;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running server, its memory, and the temporary directory of its database.
pub struct Running {
    pub addr: SocketAddr,
    pub memory: SelfLearningMemory,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    pub _dir: tempfile::TempDir,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.done).await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A server over a fresh database, namespace `default`, bound as `config` says.
pub async fn start_with(config: HttpConfig) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let storage = TursoStorage::open(dir.path().join("memory.db"))
        .await
        .unwrap();
    let memory = SelfLearningMemory::new(Arc::new(storage));
    let server = MemoryServer::new(memory.clone(), "default").unwrap();
    let http = HttpServer::bind(server, config).await.unwrap();
    let addr = http.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let done = tokio::spawn(http.run(async {
        let _ = rx.await;
    }));
    Running {
        addr,
        memory,
        stop: Some(tx),
        done,
        _dir: dir,
    }
}

/// Listening on a free loopback port, no token.
pub fn loopback() -> HttpConfig {
    HttpConfig::new("127.0.0.1:0".parse().unwrap())
}

/// A server on loopback whose tokens are the lines of a token file (`TOKEN access
/// NAMESPACE…`), and `auth_token`, when given, for every namespace.
pub async fn start_with_tokens(lines: &str, auth_token: Option<&str>) -> Running {
    let file = memory_mcp::TokenFile::parse(
        lines,
        std::path::Path::new("tokens"),
        &memory_core::Limits::default(),
    )
    .unwrap();
    start_with(HttpConfig {
        token_file: Some(file),
        auth_token: auth_token.map(str::to_string),
        ..loopback()
    })
    .await
}

/// A memory server over a fresh database in `dir`, namespace `default`.
pub async fn memory_server(dir: &tempfile::TempDir) -> MemoryServer {
    let storage = TursoStorage::open(dir.path().join("memory.db"))
        .await
        .unwrap();
    MemoryServer::new(SelfLearningMemory::new(Arc::new(storage)), "default").unwrap()
}

/// What a request got back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One blocking HTTP exchange (ureq on the blocking pool, no proxy, statuses as values);
/// redirects are not followed.
pub async fn request(
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
) -> Reply {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build()
            .into();
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let mut resp = agent
            .run(req.body(body.unwrap_or_default()).unwrap())
            .unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: resp.body_mut().read_to_string().unwrap(),
        }
    })
    .await
    .unwrap()
}
