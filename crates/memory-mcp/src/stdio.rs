//! `memory mcp`: one MCP session over stdin/stdout, for clients that start the server as a
//! child process. stdout carries protocol messages only; logs go to stderr.

use crate::server::MemoryServer;
use rmcp::ServiceExt as _;

/// Why the stdio session ended badly.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The client and server could not agree on a session (malformed `initialize`, closed
    /// input before it).
    #[error("the MCP session could not start: {0}")]
    Initialize(String),
    /// The session task stopped abnormally.
    #[error("the MCP session stopped abnormally: {0}")]
    Aborted(String),
}

/// Serves `server` over stdin/stdout until the client closes the session.
pub async fn serve_stdio(server: MemoryServer) -> Result<(), StdioError> {
    let running = server
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| StdioError::Initialize(e.to_string()))?;
    let reason = running
        .waiting()
        .await
        .map_err(|e| StdioError::Aborted(e.to_string()))?;
    tracing::debug!(?reason, "stdio session ended");
    Ok(())
}
