//! What an agent asks for, and the search terms drawn from it.

use crate::model::{TaskContext, TaskType};
use serde::{Deserialize, Serialize};

/// Most distinct terms sent to the full-text index.
const MAX_TERMS: usize = 32;

/// Words too common to say anything about a task.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "how", "i",
    "in", "into", "is", "it", "its", "of", "on", "or", "our", "so", "that", "the", "then", "this",
    "to", "was", "we", "what", "when", "with", "you", "your",
];

/// A request for past experience relevant to a new task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalQuery {
    /// The namespace to search.
    pub namespace: String,
    /// The new task, in the agent's words.
    pub text: String,
    /// The new task's context; matching fields boost results, never filter them.
    #[serde(default)]
    pub context: TaskContext,
    /// The new task's type, if known; a match boosts results.
    #[serde(default)]
    pub task_type: Option<TaskType>,
    /// Most episodes to return.
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Largest size of the Markdown pack, in estimated tokens.
    #[serde(default = "default_budget")]
    pub token_budget: usize,
    /// Which candidate sources to use.
    #[serde(default)]
    pub mode: RetrievalMode,
    /// Whether to remember the retrieval as a session that feedback can be reported
    /// against. Off for a read-only lookup: nothing is written.
    #[serde(default = "default_record_session")]
    pub record_session: bool,
}

fn default_record_session() -> bool {
    true
}

/// Where retrieval candidates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalMode {
    /// Full-text (BM25) and vector candidates, their scores fused (see `Fusion`).
    #[default]
    Hybrid,
    /// Full-text (BM25) candidates only.
    Text,
    /// Vector (embedding similarity) candidates only.
    Vector,
}

impl std::str::FromStr for RetrievalMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hybrid" => Ok(RetrievalMode::Hybrid),
            "text" | "bm25" => Ok(RetrievalMode::Text),
            "vector" => Ok(RetrievalMode::Vector),
            _ => Err(format!(
                "unknown retrieval mode `{s}`; expected hybrid, text or vector"
            )),
        }
    }
}

fn default_limit() -> usize {
    5
}

fn default_budget() -> usize {
    1_500
}

impl RetrievalQuery {
    /// A query for `text` in `namespace` with default limit (5) and budget (1,500 tokens).
    pub fn new(namespace: impl Into<String>, text: impl Into<String>) -> Self {
        RetrievalQuery {
            namespace: namespace.into(),
            text: text.into(),
            context: TaskContext::default(),
            task_type: None,
            limit: default_limit(),
            token_budget: default_budget(),
            mode: RetrievalMode::default(),
            record_session: true,
        }
    }
}

/// The distinct, lower-cased search terms of `text`, stopwords and one-letter words removed.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if word.chars().count() < 2 || STOPWORDS.contains(&word.as_str()) {
            continue;
        }
        if !terms.contains(&word) {
            terms.push(word);
            if terms.len() == MAX_TERMS {
                break;
            }
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_distinct_lowercase_and_meaningful() {
        assert_eq!(
            query_terms("Fix the flaky `cargo test` in the API; fix it!"),
            vec!["fix", "flaky", "cargo", "test", "api"]
        );
        assert!(query_terms("a an the ?").is_empty());
        assert_eq!(query_terms("Größe ändern"), vec!["größe", "ändern"]);
    }
}
