//! The resident memory of a real `memory` process, read from `/proc`.
//!
//! `memory bench perf` runs `memory import` as a child process on a JSON Lines export and
//! watches it: every few milliseconds it reads the child's `/proc/<pid>/status` and keeps
//! `VmHWM` (the kernel's high-water mark of the resident set) and `VmRSS` (the resident set
//! now). `VmHWM` never decreases, so the last value read before the process exits is its
//! peak up to that moment; only the last sampling interval before exit goes unobserved.
//! Linux only: elsewhere there is no `/proc/<pid>/status` and the measurement fails.

use serde::Serialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often the child's `/proc/<pid>/status` is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// What was seen of one child process.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ResidentMemory {
    /// Highest `VmHWM` read (peak resident set), in KiB.
    pub peak_kib: u64,
    /// `VmRSS` at the last read before the process exited, in KiB.
    pub last_rss_kib: u64,
    /// Reads of `/proc/<pid>/status` that succeeded.
    pub samples: u64,
    /// Wall-clock time the process ran, in milliseconds.
    pub wall_ms: u64,
}

/// Errors from running and watching the child.
#[derive(Debug, thiserror::Error)]
pub enum ResidentError {
    /// The process could not be started or waited for.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran but failed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// `/proc/<pid>/status` was never readable (not Linux, or the process ended at once).
    #[error("no memory figures could be read from /proc for {program}")]
    NoSamples {
        /// The program.
        program: String,
    },
}

/// Runs `program args…` to completion with stdout written to `stdout_to` and stderr kept
/// for the error message, sampling its resident memory while it runs.
pub fn watch(
    program: &Path,
    args: &[&std::ffi::OsStr],
    stdout_to: &Path,
) -> Result<ResidentMemory, ResidentError> {
    let name = program.display().to_string();
    let spawn_err = |source| ResidentError::Spawn {
        program: name.clone(),
        source,
    };
    let stdout = std::fs::File::create(stdout_to).map_err(spawn_err)?;
    let stderr_path = stdout_to.with_extension("stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(spawn_err)?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(spawn_err)?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut seen = ResidentMemory::default();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(spawn_err)? {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            // A process that is exiting may already have released its memory map; its
            // status then has no Vm lines and is not counted.
            if let (Some(hwm), Some(rss)) = (field_kib(&text, "VmHWM:"), field_kib(&text, "VmRSS:"))
            {
                seen.peak_kib = seen.peak_kib.max(hwm);
                seen.last_rss_kib = rss;
                seen.samples += 1;
            }
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    seen.wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !status.success() {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: String = text
            .chars()
            .rev()
            .take(2_000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ResidentError::Failed {
            program: name,
            status,
            stderr: tail,
        });
    }
    if seen.samples == 0 {
        return Err(ResidentError::NoSamples { program: name });
    }
    Ok(seen)
}

/// The value in KiB of a `Name:   123 kB` line of `/proc/<pid>/status`.
fn field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_parsed() {
        let status = "Name:\tmemory\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(51_234));
        assert_eq!(field_kib(status, "VmRSS:"), Some(40_960));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_real_child_is_watched() {
        let dir = tempfile::TempDir::new().unwrap();
        // `sleep` holds a small resident set for long enough to be sampled.
        let seen = watch(
            Path::new("sleep"),
            &[std::ffi::OsStr::new("0.2")],
            &dir.path().join("out"),
        )
        .unwrap();
        assert!(seen.samples > 0);
        assert!(seen.peak_kib > 0 && seen.peak_kib >= seen.last_rss_kib);
        assert!(seen.wall_ms >= 200);
    }

    #[test]
    fn a_failing_child_is_an_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let err = watch(
            Path::new("sh"),
            &[
                std::ffi::OsStr::new("-c"),
                std::ffi::OsStr::new("echo broken >&2; exit 3"),
            ],
            &dir.path().join("out"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("broken"), "{err}");
    }
}
