//! `memory bench first-search`: what the first search of a fresh `memory` process costs —
//! every one-shot `memory retrieve` is one — full-text against vector-only, in wall time and
//! peak resident memory, on the retrieval evaluation's kept store (see
//! [`crate::retrieval_eval::kept_store`]; 100,000 episodes by default, every one embedded).
//!
//! Each figure is a real child process of the given `memory` binary (`retrieve --mode text`,
//! `vector` or `hybrid`, read-only, limit 10, a held-out query): its wall time from spawn to
//! exit (opening the database included, which both modes pay), and, in a second run of the
//! same command, its peak resident set (`VmHWM`, see [`crate::resident`]). Modes alternate
//! within each round so that the page cache and the machine's load treat them alike. Before
//! the rounds the stored snapshot of the text index is dropped and one text search is run
//! alone: the first search after an import or an upgrade, which builds the index from the
//! log and writes the snapshot every later process starts from.

use crate::resident::{self, ResidentMemory};
use crate::retrieval_eval::{self, EVAL_NAMESPACE};
use memory_core::{Embedder, MemoryError};
use memory_storage_turso::TursoStorage;
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What `memory bench first-search` runs.
#[derive(Debug, Clone, Serialize)]
pub struct FirstSearchConfig {
    /// Episodes in the store.
    pub episodes: usize,
    /// Corpus and query seed.
    pub seed: u64,
    /// Processes per mode (each run twice: once timed, once watched).
    pub runs: usize,
    /// The `memory` binary to run (`memory bench first-search` passes itself).
    pub memory_exe: PathBuf,
    /// Where the kept store is (built there if missing).
    pub store_dir: PathBuf,
    /// `--embedder` for the children (the same the store was embedded with); `None` leaves
    /// them to their default.
    pub embedder_flag: Option<String>,
}

/// One mode's figures over its processes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessFigures {
    /// `text`, `vector` or `hybrid`.
    pub mode: String,
    /// Processes timed (and as many watched).
    pub runs: usize,
    /// Wall time from spawn to exit: median, least and most, in milliseconds.
    pub wall_ms: [f64; 3],
    /// Peak resident set (`VmHWM`): median and most, in MiB.
    pub peak_mib: [f64; 2],
}

/// What `memory bench first-search` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FirstSearchReport {
    /// What was run.
    pub config: FirstSearchConfig,
    /// The store searched.
    pub store: PathBuf,
    /// The one text search with no stored snapshot (it builds the index from the log and
    /// writes the snapshot).
    pub without_snapshot: ProcessFigures,
    /// Text, vector and hybrid, each from the snapshot.
    pub modes: Vec<ProcessFigures>,
    /// Median wall time and median peak of text minus vector (ms, MiB).
    pub text_over_vector: (f64, f64),
}

impl FirstSearchReport {
    /// The report as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "First search of a fresh `memory retrieve` process, {} episodes ({}), {} processes per mode\n\n\
             | mode | wall p50 | wall min–max | peak RSS p50 | peak RSS max |\n|---|---|---|---|---|\n",
            self.config.episodes,
            self.store.display(),
            self.config.runs
        );
        for f in std::iter::once(&self.without_snapshot).chain(&self.modes) {
            s.push_str(&format!(
                "| {} | {:.1} ms | {:.1}–{:.1} ms | {:.1} MiB | {:.1} MiB |\n",
                f.mode, f.wall_ms[0], f.wall_ms[1], f.wall_ms[2], f.peak_mib[0], f.peak_mib[1]
            ));
        }
        s.push_str(&format!(
            "\ntext over vector-only: {:+.1} ms wall, {:+.1} MiB peak resident (medians)\n",
            self.text_over_vector.0, self.text_over_vector.1
        ));
        s
    }
}

/// Runs the measurement (see the module docs).
pub async fn run(
    config: &FirstSearchConfig,
    embedder: Arc<dyn Embedder>,
) -> Result<FirstSearchReport, MemoryError> {
    let store =
        retrieval_eval::kept_store(&config.store_dir, config.seed, config.episodes, embedder)
            .await?;
    {
        let storage = TursoStorage::open(&store)
            .await
            .map_err(MemoryError::from)?;
        storage.clear_text_snapshot().await?;
    }
    let queries: Vec<String> = retrieval_eval::queries(config.seed, config.runs.max(1) + 1)
        .into_iter()
        .map(|q| q.query.text)
        .collect();
    let out = config.store_dir.join("first-search.out");
    let child = |mode: &str, query: &str| -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--db".into(), store.clone().into()];
        if let Some(flag) = &config.embedder_flag {
            args.extend(["--embedder".into(), flag.into()]);
        }
        args.extend(
            [
                "--namespace",
                EVAL_NAMESPACE,
                "--format",
                "json",
                "retrieve",
                "--no-session",
                "--limit",
                "10",
                "--mode",
                mode,
                query,
            ]
            .map(OsString::from),
        );
        args
    };
    let exe = config.memory_exe.clone();
    let watched = {
        let (exe, args, out) = (exe.clone(), child("text", &queries[0]), out.clone());
        blocking(move || watch(&exe, &args, &out)).await?
    };
    let without_snapshot = figures(
        "text, no snapshot (builds and writes it)",
        &[watched.wall_ms as f64],
        &[watched],
    );
    let modes = ["text", "vector", "hybrid"];
    let mut timed: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut peaks: Vec<Vec<ResidentMemory>> = vec![Vec::new(); modes.len()];
    for round in 0..config.runs.max(1) {
        let query = &queries[round + 1];
        for k in 0..modes.len() {
            let m = (round + k) % modes.len();
            let args = child(modes[m], query);
            let (exe, out) = (exe.clone(), out.clone());
            let (time, peak) = blocking(move || {
                let time = time_process(&exe, &args)?;
                let peak = watch(&exe, &args, &out)?;
                Ok((time, peak))
            })
            .await?;
            timed[m].push(time);
            peaks[m].push(peak);
        }
    }
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("stderr"));
    let modes: Vec<ProcessFigures> = modes
        .iter()
        .enumerate()
        .map(|(m, mode)| figures(mode, &timed[m], &peaks[m]))
        .collect();
    let text_over_vector = (
        modes[0].wall_ms[0] - modes[1].wall_ms[0],
        modes[0].peak_mib[0] - modes[1].peak_mib[0],
    );
    Ok(FirstSearchReport {
        config: config.clone(),
        store,
        without_snapshot,
        modes,
        text_over_vector,
    })
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MemoryError> + Send + 'static,
) -> Result<T, MemoryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(MemoryError::storage)?
}

fn watch(exe: &Path, args: &[OsString], out: &Path) -> Result<ResidentMemory, MemoryError> {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
    resident::watch(exe, &args, out).map_err(MemoryError::storage)
}

/// The wall time in milliseconds of one run of `exe args…` (output discarded), exactly: the
/// process is waited for, not polled.
fn time_process(exe: &Path, args: &[OsString]) -> Result<f64, MemoryError> {
    let started = Instant::now();
    let output = std::process::Command::new(exe)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(MemoryError::storage)?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(MemoryError::storage(std::io::Error::other(format!(
            "{} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&output.stderr)
        ))));
    }
    Ok(elapsed.as_secs_f64() * 1000.0)
}

/// Medians and ranges of wall times `timed` (ms) and of the peaks `watched` saw.
fn figures(mode: &str, timed: &[f64], watched: &[ResidentMemory]) -> ProcessFigures {
    let mut wall = timed.to_vec();
    let mut peak: Vec<f64> = watched.iter().map(|w| w.peak_kib as f64 / 1024.0).collect();
    wall.sort_by(f64::total_cmp);
    peak.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    ProcessFigures {
        mode: mode.to_string(),
        runs: timed.len(),
        wall_ms: [
            median(&wall),
            wall.first().copied().unwrap_or(0.0),
            wall.last().copied().unwrap_or(0.0),
        ],
        peak_mib: [median(&peak), peak.last().copied().unwrap_or(0.0)],
    }
}
