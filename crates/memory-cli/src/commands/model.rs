//! `memory model pull` and `memory model show`: install the local sentence-embedding model
//! (all-MiniLM-L6-v2) into the data directory, verified file by file, and report on it.
//! Progress goes to stderr; the result goes to stdout.

use crate::cli::{EmbedderArgs, ModelPullArgs};
use crate::config::{self, DbLocation, EmbedderSource, LOCAL_MODEL_BUILT_IN};
use crate::output::Printer;
use crate::pulled_model::{
    self, FILES, HF_REPO, MODEL_NAME, ModelFile, Presence, Progress, PullError,
};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long an interrupted pull waits for the download thread to clean up.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Where the model goes: `models/all-MiniLM-L6-v2` in the data directory.
fn model_dir() -> anyhow::Result<PathBuf> {
    let data = config::data_dir().context(
        "no OS data directory is known for this user, so there is nowhere to put the model",
    )?;
    Ok(pulled_model::install_dir(&data))
}

/// `memory model pull`: downloads and verifies the model unless it is installed and
/// verified already (or `--force`), then says what the memory will use.
pub async fn pull(
    args: &ModelPullArgs,
    embedder_args: &EmbedderArgs,
    db: Option<&DbLocation>,
    out: Printer,
) -> anyhow::Result<()> {
    let dir = model_dir()?;
    if !args.force {
        let damage = match pulled_model::presence(&dir) {
            Presence::Absent => None,
            Presence::Damaged(what) => Some(what),
            Presence::Present => {
                eprintln!("checking the installed model in {} …", dir.display());
                let checks = verify(&dir).await?;
                match checks.iter().find(|c| !c.ok) {
                    None => {
                        let note = after_install_note(embedder_args, db).await;
                        return report(out, &dir, false, note.as_deref());
                    }
                    Some(bad) => Some(format!(
                        "{}: {}",
                        bad.path,
                        bad.problem.as_deref().unwrap_or("damaged")
                    )),
                }
            }
        };
        if let Some(what) = damage {
            eprintln!("the installed model is damaged ({what}); downloading it again");
        }
    }

    eprintln!(
        "downloading {MODEL_NAME} ({}) from {}/{HF_REPO} into {}",
        mib(pulled_model::total_bytes()),
        args.endpoint.trim_end_matches('/'),
        dir.display()
    );
    let progress = StderrProgress::new()?;
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let (target, endpoint, flag) = (dir.clone(), args.endpoint.clone(), cancel.clone());
    // A thread of its own rather than the blocking pool: after Ctrl-C the command returns
    // without waiting for a read stalled on the network (the runtime waits for its pool).
    std::thread::Builder::new()
        .name("model-pull".into())
        .spawn(move || {
            let mut progress = progress;
            let result = pulled_model::download(&target, &endpoint, &flag, &mut progress);
            progress.bar.finish_and_clear();
            let _ = tx.send(result);
        })
        .context("cannot start the download thread")?;
    let received = tokio::select! {
        r = &mut rx => r,
        _ = tokio::signal::ctrl_c() => {
            cancel.store(true, Ordering::Relaxed);
            tokio::time::timeout(CANCEL_GRACE, &mut rx)
                .await
                .unwrap_or(Ok(Err(PullError::Interrupted)))
        }
    };
    match received {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => anyhow::bail!("the download thread stopped without an answer"),
    }
    let note = after_install_note(embedder_args, db).await;
    report(out, &dir, true, note.as_deref())
}

/// Hashes the installed files on the blocking pool.
async fn verify(dir: &Path) -> anyhow::Result<Vec<pulled_model::FileCheck>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || pulled_model::verify(&dir))
        .await
        .context("the verification task failed")
}

/// Prints the result of a pull.
fn report(out: Printer, dir: &Path, downloaded: bool, note: Option<&str>) -> anyhow::Result<()> {
    let value = json!({
        "model": MODEL_NAME,
        "repository": HF_REPO,
        "dir": dir,
        "downloaded": downloaded,
        "verified": true,
        "files": FILES.iter().map(|f| json!({
            "path": f.path, "bytes": f.bytes, "sha256": f.sha256,
        })).collect::<Vec<_>>(),
        "note": note,
    });
    out.either(&value, || {
        let mut s = if downloaded {
            format!(
                "installed {MODEL_NAME} in {} ({} files, {}, SHA-256 verified)\n",
                dir.display(),
                FILES.len(),
                mib(pulled_model::total_bytes())
            )
        } else {
            format!(
                "{MODEL_NAME} is already installed in {} and verified; nothing to download \
                 (--force downloads it again)\n",
                dir.display()
            )
        };
        if let Some(note) = note {
            s.push_str(note);
        }
        s
    })
}

/// What the user should know once the model is installed: whether the memory now uses it,
/// and whether the database holds vectors of another embedder (`memory reembed` then).
async fn after_install_note(args: &EmbedderArgs, db: Option<&DbLocation>) -> Option<String> {
    if !LOCAL_MODEL_BUILT_IN {
        return Some(
            "this `memory` was built without the `local-model` feature and cannot run the \
             model; rebuild it with default features to use it"
                .to_owned(),
        );
    }
    let choice = match config::embedder(args) {
        Ok(choice) => choice,
        Err(_) => {
            return Some(
                "--embedder / MEMORY_EMBEDDER is set (and invalid), so the model is not used; \
                 drop it to use the model"
                    .to_owned(),
            );
        }
    };
    match &choice.source {
        EmbedderSource::Flag => Some(
            "--embedder / MEMORY_EMBEDDER is set and takes precedence; drop it to use the model"
                .to_owned(),
        ),
        EmbedderSource::HashDefault(why) => Some(format!("the model is not used: {why}")),
        EmbedderSource::PulledModel(_) => {
            let id = choice.embedder.as_ref().map(|e| e.id().to_owned())?;
            let mut note = format!(
                "the memory now uses it by default (embedder {id}); --embedder hash goes back \
                 to the hashing embedder"
            );
            if let Some(stored) = stored_space(db).await.filter(|s| *s != id) {
                note.push_str(&format!(
                    "\nthe database holds vectors from {stored}: run `memory reembed` to \
                     rebuild them with the model (until then retrievals refuse the store), or \
                     keep using the old embedder with --embedder"
                ));
            }
            Some(note)
        }
    }
}

/// The embedder id of the vectors in the database, if it exists and has any.
async fn stored_space(db: Option<&DbLocation>) -> Option<String> {
    let location = match db {
        Some(db) => db.clone(),
        None => config::db_location(&crate::cli::DbArgs::default()).ok()?,
    };
    if !location.exists() {
        return None;
    }
    let memory = config::open_memory(&location, None).await.ok()?;
    let space = memory.storage().vector_space().await.ok()??;
    Some(space.0)
}

/// `memory model show`: where the model is, whether it is installed and verified, and
/// whether it is the embedder in force.
pub async fn show(args: &EmbedderArgs, out: Printer) -> anyhow::Result<()> {
    let dir = model_dir()?;
    let presence = pulled_model::presence(&dir);
    let checks = match presence {
        Presence::Absent => Vec::new(),
        _ => verify(&dir).await?,
    };
    let installed = presence != Presence::Absent;
    let verified = installed && checks.iter().all(|c| c.ok);
    let (in_use, kind, reason) = match config::embedder(args) {
        Ok(choice) => (
            matches!(choice.source, EmbedderSource::PulledModel(_)),
            choice.source.kind(),
            choice.source.reason(),
        ),
        Err(e) => (
            false,
            EmbedderSource::Flag.kind(),
            format!("from --embedder / MEMORY_EMBEDDER (invalid: {e:#})"),
        ),
    };
    let value = json!({
        "model": MODEL_NAME,
        "repository": HF_REPO,
        "dir": dir,
        "installed": installed,
        "verified": verified,
        "files": checks,
        "local_model_feature": LOCAL_MODEL_BUILT_IN,
        "in_use": in_use,
        "embedder_source": { "kind": kind, "reason": reason },
    });
    out.either(&value, || {
        let state = if !installed {
            "no (run `memory model pull`)".to_owned()
        } else if verified {
            format!("yes, all {} files verified (SHA-256)", checks.len())
        } else {
            let bad: Vec<String> = checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.path, c.problem.as_deref().unwrap_or("damaged")))
                .collect();
            format!(
                "damaged ({}); run `memory model pull --force`",
                bad.join("; ")
            )
        };
        format!(
            "model:      {MODEL_NAME} ({HF_REPO})\ndirectory:  {}\ninstalled:  {state}\n\
             in use:     {}\nembedder:   {reason}\n",
            dir.display(),
            if in_use { "yes" } else { "no" },
        )
    })
}

/// A size in MiB, for people.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The download's progress on stderr: one bar over all the bytes, a line per verified file
/// (the bar is drawn only on a terminal; the lines always appear).
struct StderrProgress {
    bar: ProgressBar,
}

impl StderrProgress {
    fn new() -> anyhow::Result<Self> {
        let bar = ProgressBar::with_draw_target(
            Some(pulled_model::total_bytes()),
            ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:<26} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .map_err(anyhow::Error::new)?
            .progress_chars("=> "),
        );
        Ok(StderrProgress { bar })
    }
}

impl Progress for StderrProgress {
    fn start(&mut self, file: &ModelFile, _url: &str, bytes: u64) {
        self.bar.set_message(file.path);
        if bytes >= 1 << 20 {
            self.bar
                .suspend(|| eprintln!("  {}: downloading {} …", file.path, mib(bytes)));
        }
    }

    fn advance(&mut self, n: u64) {
        self.bar.inc(n);
    }

    fn verified(&mut self, file: &ModelFile) {
        self.bar.suspend(|| {
            eprintln!(
                "  {}: {} bytes, SHA-256 {} verified",
                file.path, file.bytes, file.sha256
            );
        });
    }
}
