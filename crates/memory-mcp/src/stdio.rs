//! `memory mcp`: one MCP session over stdin/stdout, for clients that start the server as a
//! child process. stdout carries protocol messages only; logs go to stderr.
//!
//! Every line the client sends is checked before the MCP session sees it, so that each one
//! gets an answer: a line that is not JSON (invalid UTF-8, a lone surrogate, nesting deeper
//! than 128 levels, more than [`MAX_LINE_BYTES`]) gets a JSON-RPC parse error (-32700), JSON
//! that is not one JSON-RPC message an invalid-request error (-32600), and a `tools/call`
//! whose `arguments` are not an object an invalid-params error (-32602). A client waiting on
//! a request it got wrong learns so at once instead of at its own timeout. The rest goes to
//! the session unchanged, and its answers and the checks' share stdout a whole line at a time.

use crate::server::MemoryServer;
use rmcp::ServiceExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

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

/// The longest line (one message) accepted: rmcp's own limit.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Room for messages in flight between the checks, the session and stdout.
const PIPE_BYTES: usize = 1024 * 1024;

/// Serves `server` over stdin/stdout until the client closes the session.
pub async fn serve_stdio(server: MemoryServer) -> Result<(), StdioError> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    serve_lines(server, stdin, stdout).await
}

/// Serves `server` to a client that writes to `input` and reads `output`, one JSON-RPC
/// message per line (see the module documentation for what is answered before the session
/// sees it).
pub async fn serve_lines<R, W>(server: MemoryServer, input: R, output: W) -> Result<(), StdioError>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (to_session, session_in) = tokio::io::duplex(PIPE_BYTES);
    let (session_out, from_session) = tokio::io::duplex(PIPE_BYTES);
    let (lines, outgoing) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(write_lines(outgoing, output));
    let answers = tokio::spawn(forward_answers(BufReader::new(from_session), lines.clone()));
    let checks = tokio::spawn(check_lines(BufReader::new(input), to_session, lines));

    let served = server.serve((session_in, session_out)).await;
    let result = match served {
        Ok(running) => running
            .waiting()
            .await
            .map(|reason| tracing::debug!(?reason, "stdio session ended"))
            .map_err(|e| StdioError::Aborted(e.to_string())),
        Err(e) => Err(StdioError::Initialize(e.to_string())),
    };
    // The session is over: nothing more is read, and what it answered is written out.
    checks.abort();
    let _ = answers.await;
    let _ = writer.await;
    result
}

/// Reads the client's lines, answers the ones the session could not, and passes the rest on.
async fn check_lines<R, W>(mut input: R, mut session: W, lines: mpsc::Sender<Vec<u8>>)
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut line = Vec::new();
    loop {
        let read = match next_line(&mut input, &mut line, MAX_LINE_BYTES).await {
            Ok(read) => read,
            Err(err) => {
                tracing::debug!(error = %err, "stdin failed; ending the session");
                break;
            }
        };
        let verdict = match read {
            Read::End => break,
            Read::TooLong => Verdict::Answer(error_line(
                &Value::Null,
                PARSE_ERROR,
                &format!("Parse error: the message is longer than {MAX_LINE_BYTES} bytes"),
            )),
            Read::Line => judge(&line),
        };
        match verdict {
            Verdict::Skip => {}
            Verdict::Forward => {
                line.push(b'\n');
                if session.write_all(&line).await.is_err() {
                    break;
                }
            }
            Verdict::Answer(answer) => {
                if lines.send(answer).await.is_err() {
                    break;
                }
            }
        }
    }
    // Closing the session's input ends the session.
    let _ = session.shutdown().await;
}

/// Copies the session's messages to the output queue, one line each.
async fn forward_answers<R: AsyncBufRead + Unpin>(mut session: R, lines: mpsc::Sender<Vec<u8>>) {
    loop {
        let mut line = Vec::new();
        match session.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if lines.send(line).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Writes whole lines to `output` as they come, until every sender is gone.
async fn write_lines<W: AsyncWrite + Unpin>(mut lines: mpsc::Receiver<Vec<u8>>, mut output: W) {
    while let Some(line) = lines.recv().await {
        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
            break;
        }
    }
}

/// What reading one line found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// A line (without its `\n`) is in the buffer.
    Line,
    /// A line longer than the limit was read and dropped.
    TooLong,
    /// The input ended with nothing more.
    End,
}

/// Reads the next line into `line` (without its `\n` or `\r\n`); a line over `max` bytes is
/// consumed but not kept. A last line without `\n` still counts.
async fn next_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Read> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => Read::End,
                (true, true) => Read::TooLong,
                (true, false) => Read::Line,
            });
        }
        any = true;
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end, true),
            None => (available.len(), false),
        };
        if !too_long {
            if line.len() + taken > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&available[..taken]);
            }
        }
        input.consume(if done { taken + 1 } else { taken });
        if done {
            if line.ends_with(b"\r") {
                line.pop();
            }
            return Ok(if too_long { Read::TooLong } else { Read::Line });
        }
    }
}

/// What to do with one line.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// Pass it to the session.
    Forward,
    /// Nothing to do (an empty line).
    Skip,
    /// Answer it with this JSON-RPC error response (a whole line).
    Answer(Vec<u8>),
}

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// Judges one line the client sent.
fn judge(line: &[u8]) -> Verdict {
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
            "Invalid Request: each line must be one JSON-RPC message, a JSON object \
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
fn error_line(id: &Value, code: i64, message: &str) -> Vec<u8> {
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

    #[tokio::test]
    async fn lines_are_read_whole_and_long_ones_dropped() {
        let input = b"abc\r\n0123456789\nlast".to_vec();
        let mut reader = BufReader::with_capacity(4, &input[..]);
        let mut line = Vec::new();
        assert_eq!(
            next_line(&mut reader, &mut line, 8).await.unwrap(),
            Read::Line
        );
        assert_eq!(line, b"abc");
        assert_eq!(
            next_line(&mut reader, &mut line, 8).await.unwrap(),
            Read::TooLong
        );
        assert_eq!(
            next_line(&mut reader, &mut line, 8).await.unwrap(),
            Read::Line
        );
        assert_eq!(line, b"last");
        assert_eq!(
            next_line(&mut reader, &mut line, 8).await.unwrap(),
            Read::End
        );
    }
}
