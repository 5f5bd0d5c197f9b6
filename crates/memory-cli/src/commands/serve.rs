//! `memory mcp`, `memory serve` and `memory ui`: the memory as an MCP server, over stdio or
//! HTTP, and its web dashboard.

use crate::cli::{ServeArgs, UiArgs};
use crate::exit::usage;
use memory_core::Limits;
use memory_core::{BackgroundEmbedding, MemoryError, SelfLearningMemory};
use memory_mcp::{HttpConfig, HttpServer, MemoryServer, TokenFile, check_bind, serve_stdio};
use memory_storage_turso::Location;

fn server(memory: SelfLearningMemory, ns: &str) -> anyhow::Result<MemoryServer> {
    MemoryServer::new(memory, ns).map_err(|e| MemoryError::from(e).into())
}

/// Background work that stops when this guard is dropped.
struct Background(tokio::task::JoinHandle<()>);

impl Background {
    /// Stops the work and waits until it has: a task caught inside a blocking section
    /// (SQLite off the runtime) finishes its step first. Returning from a server with such a
    /// task still running shut the runtime down under it, and its next timer panicked.
    async fn stop(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Stops every one of `work` (see [`Background::stop`]), then waits for any database work
/// still running off the runtime (a request past the drain) to step back onto it.
async fn stop_all(work: [Background; 2]) {
    for w in work {
        w.stop().await;
    }
    memory_storage_turso::wait_for_database_work(std::time::Duration::from_secs(10)).await;
}

/// Embeds completed episodes, and collects garbage hourly, in the background for as long
/// as the returned guards live.
fn in_background(memory: &SelfLearningMemory) -> [Background; 2] {
    let embedding = memory.clone();
    let collecting = memory.clone();
    [
        Background(tokio::spawn(async move {
            embedding
                .embed_in_background(BackgroundEmbedding::default())
                .await;
        })),
        Background(tokio::spawn(async move {
            collecting.collect_garbage_in_background().await;
        })),
    ]
}

/// Serves one MCP session over stdin/stdout.
pub async fn stdio(memory: SelfLearningMemory, ns: &str) -> anyhow::Result<()> {
    let background = in_background(&memory);
    let served = match server(memory, ns) {
        Ok(server) => serve_stdio(server).await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    stop_all(background).await;
    served
}

/// Refuses an address and token the bind policy forbids, and a token file that cannot be
/// read or does not follow its format (exit code 2); returns the token file's grants.
pub fn check(args: &ServeArgs) -> anyhow::Result<Option<TokenFile>> {
    if let Err(e) = check_bind(
        args.listen,
        args.auth_token.as_deref(),
        args.token_file.is_some(),
    ) {
        usage!("{e}");
    }
    if args.max_in_flight == 0 {
        usage!("--max-in-flight must be at least 1");
    }
    if args.max_body_bytes < 1024 {
        usage!(
            "--max-body-bytes: {} is too small; at least 1024",
            args.max_body_bytes
        );
    }
    match &args.token_file {
        None => Ok(None),
        Some(path) => match TokenFile::load(path, &Limits::default()) {
            Ok(file) => Ok(Some(file)),
            Err(e) => usage!("--token-file: {e}"),
        },
    }
}

/// Serves MCP over HTTP until interrupted (Ctrl-C or SIGTERM).
pub async fn http(
    memory: SelfLearningMemory,
    ns: &str,
    db: &Location,
    args: &ServeArgs,
    token_file: Option<TokenFile>,
) -> anyhow::Result<()> {
    let tokens = token_file.as_ref().map(TokenFile::len);
    let config = HttpConfig {
        auth_token: args.auth_token.clone(),
        token_file,
        max_body_bytes: args.max_body_bytes,
        max_in_flight: args.max_in_flight,
        ..HttpConfig::new(args.listen)
    };
    let background = in_background(&memory);
    let http = HttpServer::bind(server(memory, ns)?, config).await?;
    let addr = http.local_addr()?;
    // Always shown (logs default to warnings only): where to point a client. Test harnesses
    // read this line to learn the port chosen for `--listen 127.0.0.1:0`.
    eprintln!(
        "memory: serving {} (namespace `{ns}`) at http://{addr}/mcp; also /health, /metrics and the dashboard at http://{addr}/{}",
        db,
        match (args.auth_token.is_some(), tokens) {
            (_, Some(n)) => format!(
                "; bearer token required ({n} bound to namespaces by the token file{})",
                if args.auth_token.is_some() {
                    ", and --auth-token for every namespace"
                } else {
                    ""
                }
            ),
            (true, None) => "; bearer token required".to_string(),
            (false, None) => String::new(),
        }
    );
    http.run(shutdown_signal()).await;
    stop_all(background).await;
    Ok(())
}

/// Serves the web dashboard (and the rest of `memory serve`) on loopback, without a token,
/// until interrupted; prints its URL on stderr.
pub async fn ui(
    memory: SelfLearningMemory,
    ns: &str,
    db: &Location,
    args: &UiArgs,
) -> anyhow::Result<()> {
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let background = in_background(&memory);
    let http = HttpServer::bind(server(memory, ns)?, HttpConfig::new(listen)).await?;
    let addr = http.local_addr()?;
    eprintln!(
        "memory: dashboard of {db} (namespace `{ns}`) at http://{addr}/ — open it in a browser \
         on this machine; Ctrl-C stops it"
    );
    http.run(shutdown_signal()).await;
    stop_all(background).await;
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
