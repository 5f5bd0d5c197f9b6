//! The MCP face of self-learning-memory: agents record episodes, retrieve context packs and
//! report feedback through ten tools (and read episodes as resources), over stdio
//! (`memory mcp`) or streamable HTTP (`memory serve`).
//!
//! The crate is a thin adapter. [`MemoryServer`] turns MCP tool calls into
//! [`memory_core::SelfLearningMemory`] calls, with JSON schemas that carry the library's
//! limits and failures reported as tool errors a model can read and act on. [`serve_stdio`]
//! and [`HttpServer`] are the two transports, both on `rmcp`, the official Rust MCP SDK; the
//! HTTP one adds `/health`, `/metrics`, the web dashboard ([`dashboard`]), the bind policy and
//! bearer-token auth, with tokens bound to namespaces by a token file ([`TokenFile`],
//! [`Grant`]).
//!
//! The server holds no episode state: all of it lives in the storage backend, so several
//! servers and CLI processes can share one database.

pub mod access;
pub mod auth;
pub mod dashboard;
pub mod http;
mod message_check;
pub mod resources;
pub mod server;
pub mod stats;
pub mod stdio;
pub mod token_file;
mod tool_names;
pub mod tools;

pub use access::{Access, Grant};
pub use auth::{BindPolicyError, check_bind};
pub use http::{HttpConfig, HttpServer, ServeError};
pub use server::MemoryServer;
pub use stats::StatsReport;
pub use stdio::{MAX_LINE_BYTES, StdioError, serve_lines, serve_stdio};
pub use token_file::{TokenFile, TokenFileError};
pub use tools::{TOOL_NAMES, ToolError};
