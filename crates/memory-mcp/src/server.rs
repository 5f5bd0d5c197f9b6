//! [`MemoryServer`]: the MCP server handler, the same for every transport.
//!
//! It answers `initialize`, `tools/list` and `tools/call`; everything else is rmcp's default.
//! A tool call runs in its own task, so even a bug that panics in a handler comes back to the
//! client as a tool error while the server keeps serving.

use crate::access::Grant;
use crate::resources;
use crate::stats::{self, StatsReport, ToolCalls};
use crate::tools::{self, Ctx, ToolError, ToolOutput};
use memory_core::{MemoryError, SelfLearningMemory, ValidationError};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;
use std::time::Instant;

const INSTRUCTIONS: &str = "A memory of past agent work that learns which approaches succeed. \
Loop for every task: (1) retrieve_context with the task before planning, and read the pack; \
(2) start_episode (pass the pack's session_id); (3) log_step after each tool call; \
(4) complete_episode with the outcome, failures included. If you did not pass the session_id \
to start_episode, report with record_feedback which recommended patterns you applied. \
Each call may name a namespace; by default the server's is used (or, with a token limited to others, the token's first).";

/// The MCP server of one memory: ten tools over a [`SelfLearningMemory`].
///
/// Cheap to clone (one `Arc`); the streamable HTTP transport makes one per request.
#[derive(Clone)]
pub struct MemoryServer {
    inner: Arc<Inner>,
}

struct Inner {
    memory: SelfLearningMemory,
    namespace: String,
    tools: Vec<Tool>,
    calls: ToolCalls,
    /// The grant of callers that may use every namespace, shared.
    everything: Arc<Grant>,
}

impl std::fmt::Debug for MemoryServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryServer")
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

impl MemoryServer {
    /// A server over `memory` whose calls default to `namespace`.
    ///
    /// Fails when `namespace` breaks the library's namespace rules.
    pub fn new(
        memory: SelfLearningMemory,
        namespace: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        let namespace = namespace.into();
        memory.config().limits.check_namespace(&namespace)?;
        let tools = tools::catalogue(&memory.config().limits);
        Ok(MemoryServer {
            inner: Arc::new(Inner {
                memory,
                namespace,
                tools,
                calls: ToolCalls::default(),
                everything: Arc::new(Grant::everything()),
            }),
        })
    }

    /// The namespace calls use when they name none.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The memory the server serves (the dashboard reads it directly).
    pub fn memory(&self) -> &SelfLearningMemory {
        &self.inner.memory
    }

    /// The tool definitions `tools/list` returns.
    pub fn tools(&self) -> &[Tool] {
        &self.inner.tools
    }

    /// Runs tool `name` with `arguments` for a caller that may use every namespace (stdio,
    /// the library) and returns what the client receives: a result, or a tool error
    /// (`is_error`) whose text says what went wrong. Never fails otherwise.
    pub async fn call(&self, name: &str, arguments: JsonObject) -> CallToolResult {
        self.call_as(name, arguments, Arc::clone(&self.inner.everything))
            .await
    }

    /// [`MemoryServer::call`] for a caller limited to `grant`'s namespaces: any other is
    /// answered as not found, and writes to a read-only one are refused.
    pub async fn call_as(
        &self,
        name: &str,
        arguments: JsonObject,
        grant: Arc<Grant>,
    ) -> CallToolResult {
        let started = Instant::now();
        let this = self.clone();
        let tool = name.to_string();
        let outcome = tokio::spawn(async move { this.run(&tool, arguments, &grant).await })
            .await
            .unwrap_or_else(|e| Err(ToolError::Internal(e.to_string())));
        self.inner
            .calls
            .record(name, started.elapsed(), outcome.is_err());
        match outcome {
            Ok(ToolOutput { text, structured }) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(structured);
                result
            }
            Err(err) => {
                match &err {
                    ToolError::Memory(MemoryError::Storage(_) | MemoryError::Corrupt { .. })
                    | ToolError::Internal(_) => tracing::error!(tool = name, "{err}"),
                    _ => tracing::debug!(tool = name, "{err}"),
                }
                CallToolResult::error(vec![ContentBlock::text(err.to_string())])
            }
        }
    }

    async fn run(
        &self,
        name: &str,
        arguments: JsonObject,
        grant: &Grant,
    ) -> Result<ToolOutput, ToolError> {
        let cx = Ctx {
            memory: &self.inner.memory,
            default_namespace: &self.inner.namespace,
            calls: &self.inner.calls,
            grant,
        };
        tools::dispatch(&cx, name, arguments).await
    }

    /// Checks that the storage answers a read (for `/health`).
    pub async fn check_storage(&self) -> Result<(), MemoryError> {
        self.inner.memory.storage().vector_space().await.map(drop)
    }

    /// What `memory_stats` reports for the server's namespace.
    pub async fn stats(&self) -> Result<StatsReport, MemoryError> {
        stats::collect(
            &self.inner.memory,
            &self.inner.namespace,
            &self.inner.calls,
            true,
        )
        .await
    }

    /// The grant of the caller behind `context`: over HTTP what the gate found for its token
    /// (none at all if the request did not pass the gate); every namespace over stdio.
    fn grant(&self, context: &RequestContext<RoleServer>) -> Arc<Grant> {
        match context.extensions.get::<http::request::Parts>() {
            // Over HTTP: what the gate found, and nothing if a request reached the handler
            // some other way.
            Some(parts) => parts
                .extensions
                .get::<Arc<Grant>>()
                .cloned()
                .unwrap_or_else(|| Arc::new(Grant::new(Vec::new(), None))),
            None => Arc::clone(&self.inner.everything),
        }
    }

    /// The `/metrics` page: the memory's metrics registry and the tool-call latencies, in
    /// the Prometheus text format.
    pub async fn prometheus(&self) -> Result<String, MemoryError> {
        stats::prometheus(&self.inner.memory, &self.inner.calls).await
    }
}

impl ServerHandler for MemoryServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(
            Implementation::new("self-learning-memory", env!("CARGO_PKG_VERSION"))
                .with_title("Self-learning memory"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.inner.tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let grant = self.grant(&context);
        let Some(namespace) = grant.default_namespace(&self.inner.namespace) else {
            return Ok(ListResourcesResult::with_all_items(Vec::new()));
        };
        resources::list(&self.inner.memory, namespace)
            .await
            .map(ListResourcesResult::with_all_items)
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let grant = self.grant(&context);
        let contents = resources::read(&self.inner.memory, &request.uri, &grant).await?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let grant = self.grant(&context);
        let arguments = request.arguments.unwrap_or_default();
        Ok(self.call_as(&request.name, arguments, grant).await.into())
    }
}
