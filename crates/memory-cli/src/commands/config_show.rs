//! `memory config show`: what the CLI would use, and where each value came from.

use crate::config::{DbLocation, EmbedderChoice, EmbedderSource};
use crate::output::Printer;
use memory_core::{MemoryConfig, SelfLearningMemory};
use memory_storage_turso::{Durability, Location};
use serde_json::json;

pub async fn run(
    memory: Option<&SelfLearningMemory>,
    choice: &EmbedderChoice,
    db: &DbLocation,
    ns: &str,
    out: Printer,
) -> anyhow::Result<()> {
    let cfg = MemoryConfig::default();
    let embedder = choice
        .embedder
        .as_ref()
        .map(|e| json!({ "id": e.id(), "dimension": e.dimension(), "local": e.is_local() }));
    let model_dir = match &choice.source {
        EmbedderSource::PulledModel(dir) => Some(dir),
        _ => None,
    };
    let embedder_source = json!({
        "kind": choice.source.kind(),
        "reason": choice.source.reason(),
        "model_dir": model_dir,
    });
    let space = match memory {
        Some(m) => m
            .storage()
            .vector_space()
            .await?
            .map(|(id, dim)| json!({ "embedder": id, "dimension": dim })),
        None => None,
    };
    let l = &cfg.limits;
    let r = &cfg.ranking;
    let durability = match db.durability {
        Durability::Normal => "normal",
        Durability::Full => "full",
    };
    let value = json!({
        "db": match &db.location {
            Location::File(path) => json!({
                "kind": "file", "path": path, "source": db.source, "exists": db.exists(),
                "durability": durability,
            }),
            Location::Server { url, auth_token } => json!({
                "kind": "server", "url": url, "source": db.source,
                "auth_token": if auth_token.is_empty() { "none" } else { "set" },
                "request_timeout_s": db.request_timeout.as_secs_f64(),
            }),
            Location::Replica { url, auth_token, path } => json!({
                "kind": "replica", "url": url, "source": db.source,
                "auth_token": if auth_token.is_empty() { "none" } else { "set" },
                "request_timeout_s": db.request_timeout.as_secs_f64(),
                "replica": path, "replica_exists": path.exists(),
                "sync_interval_s": db.sync_interval.as_secs_f64(),
            }),
        },
        "embedder": embedder,
        "embedder_source": embedder_source,
        "vector_space": space,
        "namespace": ns,
        "limits": {
            "namespace_chars": l.namespace_chars,
            "task_chars": l.task_chars,
            "label_chars": l.label_chars,
            "tags": l.tags,
            "steps_per_episode": l.steps_per_episode,
            "tool_chars": l.tool_chars,
            "action_chars": l.action_chars,
            "result_bytes": l.result_bytes,
            "step_latency_ms": l.step_latency_ms,
            "json_bytes": l.json_bytes,
            "json_depth": l.json_depth,
            "outcome_chars": l.outcome_chars,
            "outcome_items": l.outcome_items,
            "query_chars": l.query_chars,
            "retrieve_limit": l.retrieve_limit,
            "token_budget": [l.token_budget.0, l.token_budget.1],
            "list_limit": l.list_limit,
        },
        "ranking": r,
        "learning": cfg.learning,
        "baseline_window": cfg.baseline_window,
        "text_candidates": cfg.text_candidates,
        "context_candidates": cfg.context_candidates,
        "vector_candidates": cfg.vector_candidates,
        "sessions": cfg.session_retention,
        "retention": cfg.retention,
    });
    out.either(&value, || {
        let place = match &db.location {
            Location::File(path) if path.exists() => {
                format!(
                    "{} (file, {}, durability {durability})",
                    path.display(),
                    db.source
                )
            }
            Location::File(path) => {
                format!("{} (file, {}, not created yet)", path.display(), db.source)
            }
            Location::Server { url, auth_token } => format!(
                "{url} (libSQL server, {}, {}, requests time out after {} s)",
                db.source,
                if auth_token.is_empty() {
                    "no token"
                } else {
                    "token set"
                },
                db.request_timeout.as_secs_f64()
            ),
            Location::Replica {
                url,
                auth_token,
                path,
            } => format!(
                "{url} (libSQL server, {}, {}, requests time out after {} s)\n            \
                 read through the embedded replica {}{}, synced every {} s and after each write",
                db.source,
                if auth_token.is_empty() {
                    "no token"
                } else {
                    "token set"
                },
                db.request_timeout.as_secs_f64(),
                path.display(),
                if path.exists() {
                    ""
                } else {
                    " (not created yet)"
                },
                db.sync_interval.as_secs_f64()
            ),
        };
        let mut s = format!("database:   {place}\nnamespace:  {ns}\n");
        let embedder_id = value["embedder"]["id"].as_str();
        let stored_id = value["vector_space"]["embedder"].as_str();
        s.push_str(&format!(
            "embedder:   {}\n            {}\nvectors:    {}{}\n",
            embedder_id.unwrap_or("none (full-text search only)"),
            choice.source.reason(),
            match stored_id {
                Some(id) => format!("{id} ({} dimensions)", value["vector_space"]["dimension"]),
                None => "none stored yet".to_string(),
            },
            match (embedder_id, stored_id) {
                (Some(e), Some(v)) if e != v => {
                    " (not the embedder's: `memory reembed` switches the store to it)"
                }
                _ => "",
            }
        ));
        s.push_str(&format!(
            "ranking:    text {} · context {} · reward {} · recency {} (half-life {} d)\n",
            r.w_text, r.w_context, r.w_reward, r.w_recency, r.recency_half_life_days
        ));
        let (keep, sessions) = (&cfg.retention, &cfg.session_retention);
        s.push_str(&format!(
            "retention:  sessions: newest {} per namespace, none older than {} d; running \
             episodes idle {} h are completed as abandoned;\n            patterns below \
             support {} are dropped; at most {} cached embeddings (`memory gc`; hourly in \
             `memory serve` and `memory mcp`)\n",
            sessions.max_per_namespace,
            sessions.max_age_days,
            keep.abandon_after_hours,
            keep.min_pattern_support,
            keep.max_cached_embeddings
        ));
        s.push_str("limits:\n");
        if let Some(obj) = value["limits"].as_object() {
            for (k, v) in obj {
                s.push_str(&format!("  {k:<18} {v}\n"));
            }
        }
        s
    })
}
