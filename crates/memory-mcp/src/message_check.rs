//! The checks every message a client sends gets before the MCP session sees it, over stdio
//! and HTTP alike, so that each one gets an answer: bytes that are not JSON (invalid UTF-8,
//! a lone surrogate, nesting deeper than 128 levels) get a JSON-RPC parse error (-32700),
//! JSON that is not one JSON-RPC message an invalid-request error (-32600), and a
//! `tools/call` whose `arguments` are not an object an invalid-params error (-32602). A
//! client waiting on a request it got wrong learns so at once instead of at its own timeout.

use serde_json::{Value, json};

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Pass it to the session.
    Forward,
    /// Nothing to do (an empty line).
    Skip,
    /// Answer it with this JSON-RPC error response (a whole line).
    Answer(Vec<u8>),
}

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const INVALID_PARAMS: i64 = -32602;

/// Judges one message (a stdio line, an HTTP request body) the client sent.
pub(crate) fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Skip;
    }
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(err) => {
            return Verdict::Answer(error_line(
                &Value::Null,
                PARSE_ERROR,
                &format!(
                    "Parse error: the message is not UTF-8 (an invalid byte at offset {})",
                    err.valid_up_to()
                ),
            ));
        }
    };
    let message: Value = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => {
            return Verdict::Answer(error_line(
                &Value::Null,
                PARSE_ERROR,
                &format!("Parse error: {err}"),
            ));
        }
    };
    let Some(fields) = message.as_object() else {
        return Verdict::Answer(error_line(
            &Value::Null,
            INVALID_REQUEST,
            "Invalid Request: send one JSON-RPC message, a JSON object \
             (batches are not part of MCP)",
        ));
    };
    let id = match fields.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    if fields.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Verdict::Answer(error_line(
            &id,
            INVALID_REQUEST,
            "Invalid Request: `jsonrpc` must be \"2.0\"",
        ));
    }
    match fields.get("method") {
        None => {}
        Some(Value::String(method)) => {
            if method == "tools/call"
                && let Some(problem) = tool_call_problem(fields.get("params"))
            {
                return Verdict::Answer(error_line(&id, INVALID_PARAMS, &problem));
            }
        }
        Some(_) => {
            return Verdict::Answer(error_line(
                &id,
                INVALID_REQUEST,
                "Invalid Request: `method` must be a string",
            ));
        }
    }
    Verdict::Forward
}

/// What is wrong with the shape of a `tools/call`'s `params`, if anything.
fn tool_call_problem(params: Option<&Value>) -> Option<String> {
    let Some(Value::Object(params)) = params else {
        return Some(
            "Invalid params: `params` must be an object with the tool's `name` and its \
             `arguments` (an object)"
                .to_string(),
        );
    };
    if !matches!(params.get("name"), Some(Value::String(_))) {
        return Some("Invalid params: `name` (the tool to call) must be a string".to_string());
    }
    match params.get("arguments") {
        None | Some(Value::Object(_)) => None,
        Some(other) => Some(format!(
            "Invalid params: `arguments` must be an object of named arguments, not {}",
            kind_of(other)
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON-RPC error response, as one line.
pub(crate) fn error_line(id: &Value, code: i64, message: &str) -> Vec<u8> {
    let mut line = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    })
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn answer(line: &[u8]) -> Value {
        match judge(line) {
            Verdict::Answer(bytes) => serde_json::from_slice(&bytes).unwrap(),
            other => panic!(
                "{:?} was not answered: {other:?}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    fn code(answer: &Value) -> i64 {
        answer["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn lines_that_are_not_json_get_a_parse_error() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for line in [
            &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\""[..],
            b"not json",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\\ud800\"}",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\"}",
            deep.as_bytes(),
        ] {
            let answer = answer(line);
            assert_eq!(code(&answer), PARSE_ERROR, "{answer}");
            assert_eq!(answer["id"], Value::Null);
            assert_eq!(answer["jsonrpc"], "2.0");
        }
    }

    #[test]
    fn json_that_is_not_one_message_is_an_invalid_request() {
        for (line, id) in [
            (
                &b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"[..],
                Value::Null,
            ),
            (b"42", Value::Null),
            (b"{\"id\":7,\"method\":\"ping\"}", json!(7)),
            (
                b"{\"jsonrpc\":\"1.0\",\"id\":\"a\",\"method\":\"ping\"}",
                json!("a"),
            ),
            (b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":5}", json!(3)),
        ] {
            let answer = answer(line);
            assert_eq!(code(&answer), INVALID_REQUEST, "{answer}");
            assert_eq!(answer["id"], id);
        }
    }

    #[test]
    fn a_tool_call_with_arguments_that_are_not_an_object_is_invalid_params() {
        let line = br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"start_episode","arguments":["fix the bug"]}}"#;
        let answer = answer(line);
        assert_eq!(code(&answer), INVALID_PARAMS);
        assert_eq!(answer["id"], 9);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("an array"),
            "{answer}"
        );
        let no_name =
            br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"arguments":{}}}"#;
        assert_eq!(code(&self::answer(no_name)), INVALID_PARAMS);
    }

    #[test]
    fn well_formed_messages_and_blank_lines_pass() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"a":1}}}"#,
            br#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
            b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
        ] {
            assert_eq!(judge(line), Verdict::Forward, "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(judge(b""), Verdict::Skip);
        assert_eq!(judge(b"  \t"), Verdict::Skip);
    }
}
