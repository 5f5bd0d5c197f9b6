//! The names of the MCP tools: what the catalogue ([`crate::tools`]) declares and the
//! per-tool call counters ([`crate::stats`]) are kept by.

/// Every tool name, in the order `tools/list` shows them.
pub const TOOL_NAMES: [&str; 10] = [
    "retrieve_context",
    "start_episode",
    "log_step",
    "complete_episode",
    "record_feedback",
    "search_episodes",
    "get_episode",
    "list_patterns",
    "delete_episode",
    "memory_stats",
];
