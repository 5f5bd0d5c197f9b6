//! Printing results: human text or one JSON document on stdout.
//!
//! A closed pipe (`memory episode list | head`) is not an error worth reporting.

use crate::cli::Format;
use serde::Serialize;
use std::io::Write as _;

/// Writes command results in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The chosen format.
    pub format: Format,
}

impl Printer {
    /// True when the output is JSON.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Prints `value` as pretty JSON.
    pub fn json(&self, value: &impl Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.raw(&text)
    }

    /// Prints `text` followed by a newline.
    pub fn raw(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }

    /// Prints `value` as JSON, or `human()` as text.
    pub fn either(
        &self,
        value: &impl Serialize,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.is_json() {
            self.json(value)
        } else {
            self.raw(human().trim_end())
        }
    }
}
