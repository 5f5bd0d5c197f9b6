//! Episodes as MCP resources, so a client can let its user attach a past episode to the
//! conversation: `memory://{namespace}/episodes/{episode_id}` reads one episode in full (JSON);
//! `resources/list` offers the most recent episodes of the caller's default namespace.

use crate::access::{Access, Grant};
use memory_core::learning::shorten;
use memory_core::{EpisodeFilter, MemoryError, SelfLearningMemory};
use rmcp::ErrorData;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use uuid::Uuid;

/// The URI template of an episode.
pub const EPISODE_TEMPLATE: &str = "memory://{namespace}/episodes/{episode_id}";

/// How many recent episodes `resources/list` offers.
const LISTED: usize = 50;

const MIME: &str = "application/json";

/// The URI of episode `id` in `namespace`.
pub fn episode_uri(namespace: &str, id: Uuid) -> String {
    format!("memory://{namespace}/episodes/{id}")
}

/// The resource templates the server offers.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(EPISODE_TEMPLATE, "episode")
            .with_title("Episode")
            .with_description(
                "One recorded episode in full: task, context, every step, outcome, reward \
                 breakdown and lessons.",
            )
            .with_mime_type(MIME),
    ]
}

/// The most recent episodes of `namespace`, newest first.
pub async fn list(
    memory: &SelfLearningMemory,
    namespace: &str,
) -> Result<Vec<Resource>, MemoryError> {
    let mut filter = EpisodeFilter::new(namespace);
    filter.limit = LISTED;
    let episodes = memory.list_episodes(&filter).await?;
    Ok(episodes
        .iter()
        .map(|e| {
            let state = match (e.outcome_kind, e.reward) {
                (Some(o), Some(r)) => format!("{o}, reward {r:.2}"),
                (Some(o), None) => o.to_string(),
                (None, _) => "running".to_string(),
            };
            Resource::new(
                episode_uri(namespace, e.id),
                shorten(&e.task_description, 80),
            )
            .with_description(format!("{state}; {} steps", e.step_count))
            .with_mime_type(MIME)
        })
        .collect())
}

/// Reads the episode named by `uri`, when `grant` lets its caller read the URI's namespace
/// (any other is not found).
pub async fn read(
    memory: &SelfLearningMemory,
    uri: &str,
    grant: &Grant,
) -> Result<ResourceContents, ErrorData> {
    let (namespace, id) = parse(uri).ok_or_else(|| {
        ErrorData::invalid_params(
            format!("`{uri}` is not an episode URI; expected {EPISODE_TEMPLATE}"),
            None,
        )
    })?;
    grant
        .check(namespace, Access::Read)
        .map_err(|e| ErrorData::resource_not_found(e.to_string(), None))?;
    let episode = memory
        .get_episode(namespace, id)
        .await
        .map_err(|e| match e {
            MemoryError::NotFound { .. } => ErrorData::resource_not_found(e.to_string(), None),
            MemoryError::Invalid(_) => ErrorData::invalid_params(e.to_string(), None),
            other => ErrorData::internal_error(other.to_string(), None),
        })?;
    let text = serde_json::to_string_pretty(&episode)
        .map_err(|e| ErrorData::internal_error(format!("cannot encode the episode: {e}"), None))?;
    Ok(ResourceContents::text(text, uri).with_mime_type(MIME))
}

fn parse(uri: &str) -> Option<(&str, Uuid)> {
    let rest = uri.strip_prefix("memory://")?;
    let (namespace, rest) = rest.split_once('/')?;
    let id = rest.strip_prefix("episodes/")?;
    Some((namespace, Uuid::parse_str(id).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        let id = Uuid::now_v7();
        let uri = episode_uri("team-a:agent", id);
        assert_eq!(parse(&uri), Some(("team-a:agent", id)));
        assert_eq!(parse("memory://x/patterns/1"), None);
        assert_eq!(parse("file:///etc/passwd"), None);
        assert_eq!(parse("memory://x/episodes/not-a-uuid"), None);
    }
}
