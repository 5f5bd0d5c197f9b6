//! `memory export|import`: the namespace as JSON Lines, and back.
//!
//! Export writes the records to stdout (or `--out FILE`); import reads a file (or stdin)
//! with a progress bar on stderr for files over 1 MiB. Import is all or nothing: every line
//! is validated while the whole file is written in one transaction, so a bad line — named
//! by its number — or a file that does not match its trailer (cut short, changed) leaves the
//! database as it was.

use crate::cli::{ExportArgs, ImportArgs};
use crate::output::Printer;
use crate::parse;
use anyhow::Context as _;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory_core::SelfLearningMemory;
use memory_core::export::{ExportFilter, TransferSummary};
use std::fs::File;
use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::time::Instant;

/// Files at least this large get a progress bar.
const PROGRESS_BYTES: u64 = 1 << 20;

pub async fn export(
    memory: &SelfLearningMemory,
    ns: &str,
    args: &ExportArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let (started_after, started_before) =
        parse::time_range(args.since.as_deref(), args.until.as_deref(), now)?;
    let filter = ExportFilter {
        namespace: ns.to_string(),
        started_after,
        started_before,
    };
    let started = Instant::now();
    let summary = match &args.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = BufWriter::new(file);
            let summary = write_all(memory, &filter, &mut w).await?;
            w.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => {
            let mut w = BufWriter::new(std::io::stdout());
            let summary = write_all(memory, &filter, &mut w).await;
            match w.flush() {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.context("cannot write to stdout")?,
            }
            summary?
        }
    };
    let line = describe("exported", &summary, started.elapsed().as_secs_f64());
    match (&args.out, out.is_json()) {
        (Some(_), true) => out.json(&summary),
        (Some(path), false) => out.raw(&format!("{line} to {}", path.display())),
        // stdout carries the records; the summary goes to stderr.
        (None, true) => Ok(()),
        (None, false) => {
            eprintln!("{line}");
            Ok(())
        }
    }
}

async fn write_all(
    memory: &SelfLearningMemory,
    filter: &ExportFilter,
    w: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<TransferSummary> {
    let mut sink = |line: &str| -> std::io::Result<()> {
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")
    };
    Ok(memory.export(filter, &mut sink).await?)
}

pub async fn import(
    memory: &SelfLearningMemory,
    args: &ImportArgs,
    out: Printer,
) -> anyhow::Result<()> {
    let (reader, size): (Box<dyn std::io::Read + Send>, Option<u64>) =
        if args.file.as_os_str() == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let file = File::open(&args.file)
                .with_context(|| format!("cannot open {}", args.file.display()))?;
            let size = file.metadata().map(|m| m.len()).ok();
            (Box::new(file), size)
        };
    let bar = match size {
        Some(len) if len >= PROGRESS_BYTES => {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "importing [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
                .map_err(anyhow::Error::new)?
                .progress_chars("=> "),
            );
            bar
        }
        _ => ProgressBar::hidden(),
    };
    let counter = bar.clone();
    let lines = BufReader::with_capacity(1 << 20, reader)
        .lines()
        .inspect(move |line| {
            if let Ok(l) = line {
                counter.inc(l.len() as u64 + 1);
            }
        });
    let started = Instant::now();
    let result = memory.import(lines).await;
    bar.finish_and_clear();
    let summary = result?;
    if !summary.verified {
        eprintln!(
            "warning: {} is a version 1 export, written before exports ended with a trailer: \
             whether it is complete could not be checked",
            args.file.display()
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    out.either(&summary, || describe("imported", &summary, seconds))
}

fn describe(verb: &str, s: &TransferSummary, seconds: f64) -> String {
    let c = &s.counts;
    format!(
        "{verb} {} episodes ({} steps), {} patterns, {} context baselines, {} relationships, \
         {} checkpoints, {} sessions, {} heuristics{} in {seconds:.2} s",
        c.episodes,
        c.steps,
        c.patterns,
        c.context_stats,
        c.relationships,
        c.checkpoints,
        c.sessions,
        s.heuristics,
        if verb == "imported" {
            " (ignored: recomputed from patterns)"
        } else {
            ""
        }
    )
}
