//! The JSON of the OpenAI embeddings API: the request, the answer, and error bodies.

use serde::{Deserialize, Serialize};

/// How many characters of an error body an [`EmbedError::Status`] keeps.
///
/// [`EmbedError::Status`]: memory_core::embedding::EmbedError::Status
pub(crate) const ERROR_BODY_CHARS: usize = 300;

/// The body of `POST {base_url}/embeddings`.
#[derive(Debug, Serialize)]
pub(crate) struct EmbeddingRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dimensions: Option<usize>,
}

/// A successful answer; fields other than `data` (`model`, `usage`, `object`) are ignored.
#[derive(Debug, Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    /// Which input this vector belongs to; a server that leaves it out is taken to answer in
    /// input order.
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// Why an answer could not be used.
#[derive(Debug, PartialEq)]
pub(crate) enum ParseError {
    /// Not the JSON we expect, or the wrong number of vectors, or bad indices.
    Invalid(String),
    /// A vector of the wrong length.
    WrongDimension(usize),
}

/// The vectors of a successful answer to a request with `expected` inputs, in input order
/// (by their `index`), each checked to have length `dimension`. Not yet normalised.
pub(crate) fn parse_embeddings(
    body: &[u8],
    expected: usize,
    dimension: usize,
) -> Result<Vec<Vec<f32>>, ParseError> {
    let response: EmbeddingResponse = serde_json::from_slice(body).map_err(|e| {
        ParseError::Invalid(format!(
            "the answer is not an OpenAI embeddings response ({e}): {}",
            snippet(&String::from_utf8_lossy(body))
        ))
    })?;
    if response.data.len() != expected {
        return Err(ParseError::Invalid(format!(
            "sent {expected} texts but got {} vectors back",
            response.data.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in response.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        if item.embedding.len() != dimension {
            return Err(ParseError::WrongDimension(item.embedding.len()));
        }
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            Some(Some(_)) => {
                return Err(ParseError::Invalid(format!(
                    "the answer has two vectors with index {index}"
                )));
            }
            None => {
                return Err(ParseError::Invalid(format!(
                    "the answer has a vector with index {index}, but only {expected} texts were sent"
                )));
            }
        }
    }
    // Every slot is filled: there are `expected` items with distinct indices below `expected`.
    Ok(slots.into_iter().flatten().collect())
}

/// What an error answer says, for [`EmbedError::Status`]: the `error.message` of an
/// OpenAI-style body (or `error` when it is a plain string, as Ollama sends), else the body
/// itself; at most [`ERROR_BODY_CHARS`] characters.
///
/// [`EmbedError::Status`]: memory_core::embedding::EmbedError::Status
pub(crate) fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| match v.get("error") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(e) => e
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            None => v
                .get("message")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        });
    snippet(message.as_deref().unwrap_or(&text))
}

/// The first [`ERROR_BODY_CHARS`] characters of `text`, trimmed, with `…` if cut.
pub(crate) fn snippet(text: &str) -> String {
    let text = text.trim();
    let mut out: String = text.chars().take(ERROR_BODY_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn request_leaves_out_dimensions_unless_asked() {
        let input = vec!["a".to_owned()];
        let without = EmbeddingRequest {
            model: "m",
            input: &input,
            dimensions: None,
        };
        assert_eq!(
            serde_json::to_string(&without).unwrap(),
            r#"{"model":"m","input":["a"]}"#
        );
        let with = EmbeddingRequest {
            dimensions: Some(8),
            ..without
        };
        assert_eq!(
            serde_json::to_string(&with).unwrap(),
            r#"{"model":"m","input":["a"],"dimensions":8}"#
        );
    }

    #[test]
    fn parse_orders_by_index_and_checks() {
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.0,2.0]},
            {"object":"embedding","index":0,"embedding":[1.0,0.0]}],
            "model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        assert_eq!(
            parse_embeddings(body, 2, 2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 2.0]]
        );
        assert_eq!(
            parse_embeddings(body, 2, 3),
            Err(ParseError::WrongDimension(2))
        );
        assert!(matches!(
            parse_embeddings(body, 3, 2),
            Err(ParseError::Invalid(_))
        ));
        let dup = br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#;
        assert!(matches!(
            parse_embeddings(dup, 2, 1),
            Err(ParseError::Invalid(d)) if d.contains("two vectors")
        ));
        let out = br#"{"data":[{"index":5,"embedding":[1.0]}]}"#;
        assert!(matches!(
            parse_embeddings(out, 1, 1),
            Err(ParseError::Invalid(d)) if d.contains("index 5")
        ));
        let no_index = br#"{"data":[{"embedding":[1.0]},{"embedding":[2.0]}]}"#;
        assert_eq!(
            parse_embeddings(no_index, 2, 1).unwrap(),
            vec![vec![1.0], vec![2.0]]
        );
        assert!(matches!(
            parse_embeddings(b"<html>oops</html>", 1, 1),
            Err(ParseError::Invalid(d)) if d.contains("<html>oops</html>")
        ));
    }

    #[test]
    fn error_message_prefers_the_openai_message() {
        assert_eq!(
            error_message(br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#),
            "Incorrect API key provided"
        );
        assert_eq!(
            error_message(br#"{"error":"model \"x\" not found"}"#),
            "model \"x\" not found"
        );
        assert_eq!(error_message(b"  Bad Gateway\n"), "Bad Gateway");
        let long = "é".repeat(400);
        let cut = error_message(long.as_bytes());
        assert_eq!(cut.chars().count(), ERROR_BODY_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
