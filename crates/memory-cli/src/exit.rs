//! Exit codes: what a script calling `memory` can tell apart without parsing messages.

use memory_core::MemoryError;

/// Any failure not listed below (storage, I/O).
pub const FAILURE: u8 = 1;
/// Invalid input: a broken limit, a malformed flag value (clap uses 2 for usage errors too).
pub const INVALID: u8 = 2;
/// The episode (or other record) does not exist in the namespace.
pub const NOT_FOUND: u8 = 3;
/// The operation conflicts with the current state (e.g. completing an episode twice).
pub const CONFLICT: u8 = 4;

/// A flag value the CLI itself could not accept (bad JSON, unknown enum value, bad date).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early from a command with a [`UsageError`].
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::exit::UsageError(format!($($arg)*))))
    };
}
pub(crate) use usage;

/// The message printed for an error returned by a command: each cause after the first,
/// unless the message already says it (errors that quote their source in their own words
/// would otherwise print it twice).
pub fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let said = cause.to_string();
        if text.is_empty() {
            text = said;
        } else if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
    }
    text
}

/// The exit code for an error returned by a command.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return INVALID;
        }
        if let Some(e) = cause.downcast_ref::<MemoryError>() {
            return match e {
                MemoryError::Invalid(_) => INVALID,
                MemoryError::NotFound { .. } => NOT_FOUND,
                MemoryError::Conflict(_) | MemoryError::Stale(_) | MemoryError::Cycle { .. } => {
                    CONFLICT
                }
                MemoryError::Storage(_)
                | MemoryError::Busy(_)
                | MemoryError::Corrupt { .. }
                | MemoryError::Embedding(_) => FAILURE,
            };
        }
    }
    FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let quoted = anyhow::Error::new(std::io::Error::other("disk full"))
            .context("write failed: disk full")
            .context("saving the episode");
        assert_eq!(
            message(&quoted),
            "saving the episode: write failed: disk full"
        );
        let plain = anyhow::Error::new(std::io::Error::other("disk full")).context("write failed");
        assert_eq!(message(&plain), "write failed: disk full");
    }
}
