//! `memory mcp`: one MCP session over stdin/stdout, for clients that start the server as a
//! child process. stdout carries protocol messages only; logs go to stderr.
//!
//! Every line the client sends is checked before the MCP session sees it
//! ([`crate::message_check`]; a line over [`MAX_LINE_BYTES`] is a parse error too), so that
//! each one gets an answer. The rest goes to the session unchanged, and its answers and the
//! checks' share stdout a whole line at a time.

use crate::message_check::{PARSE_ERROR, Verdict, error_line, judge};
use crate::server::MemoryServer;
use rmcp::ServiceExt as _;
use serde_json::Value;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

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
