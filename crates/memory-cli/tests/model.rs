//! End-to-end tests of `memory model pull` / `memory model show` against a Hugging Face hub
//! stand-in on loopback: the pull installs and verifies the model, a second pull downloads
//! nothing, the model becomes the default embedder, and a corrupted file, a missing file or
//! a server that is down fails clearly with nothing installed. Every test has its own data
//! directory (the sandbox's), and nothing leaves this machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sandbox, code, stderr, test_model_dir};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the hub serves a file of the model.
const PREFIX: &str = "/sentence-transformers/all-MiniLM-L6-v2/resolve/main/";
/// The files `memory model pull` fetches.
const FILES: [&str; 6] = [
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer.json",
    "model.safetensors",
];
/// The pinned SHA-256 of config.json, the first file pulled.
const CONFIG_SHA256: &str = "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41";
/// What a corrupted server sends, and its SHA-256.
const BOGUS: &[u8] = b"not the model";
const BOGUS_SHA256: &str = "9165d8b6a043825d90c9b4f1fbad9a82f757dea5a5b7b32f38e99d7aa2ff2eb9";

/// A stand-in for the hub on 127.0.0.1: answers GET `{PREFIX}{file}` from a map, 404
/// otherwise, and counts the requests.
struct Hub {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl Hub {
    fn serve(files: HashMap<String, Vec<u8>>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let (files, count) = (Arc::new(files), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, count) = (files.clone(), count.clone());
                std::thread::spawn(move || answer(stream, &files, &count));
            }
        });
        Hub { url, requests }
    }

    /// The model's files from `dir`.
    #[cfg(feature = "local-model")]
    fn from_dir(dir: &Path) -> Hub {
        Hub::serve(
            FILES
                .iter()
                .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
                .collect(),
        )
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Answers one HTTP/1.1 request and closes the connection.
fn answer(stream: TcpStream, files: &HashMap<String, Vec<u8>>, count: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let body = path.strip_prefix(PREFIX).and_then(|file| files.get(file));
    let mut stream = reader.into_inner();
    let _ = match body {
        Some(body) => write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\
             Connection: close\r\n\r\n",
            body.len()
        )
        .and_then(|()| stream.write_all(body)),
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
    };
    let _ = stream.flush();
}

/// Runs `memory --format json <args>` with the hub at `endpoint` (through the environment,
/// as a user would set it), the sandbox's database and data directory.
fn memory(sb: &Sandbox, endpoint: &str, args: &[&str]) -> Output {
    sb.command()
        .env("MEMORY_HF_ENDPOINT", endpoint)
        .arg("--db")
        .arg(sb.db())
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The install directory `memory model show` reports, checked to be inside the sandbox.
fn model_dir(sb: &Sandbox) -> PathBuf {
    let show = json(&memory(sb, "http://127.0.0.1:9", &["model", "show"]));
    let dir = PathBuf::from(show["dir"].as_str().unwrap());
    assert!(dir.starts_with(sb.dir.path()), "{}", dir.display());
    dir
}

/// Everything under the `models/` folder (relative paths), to show nothing was left behind.
fn models_folder(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, at: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(at) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            found.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                walk(root, &path, found);
            }
        }
    }
    let root = dir.parent().unwrap();
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

/// Records a completed episode with the default embedder.
#[cfg(feature = "local-model")]
fn record(sb: &Sandbox, task: &str) -> String {
    let id = sb.start(task, &[]);
    sb.json(&[
        "episode", "step", &id, "--tool", "shell", "--action", "look",
    ]);
    sb.succeed(&id, "fixed");
    id
}

#[cfg(feature = "local-model")]
#[test]
fn pull_installs_the_verified_model_which_becomes_the_default() {
    let Some(source) = test_model_dir("pull_installs_the_verified_model_which_becomes_the_default")
    else {
        return;
    };
    let hub = Hub::from_dir(&source);
    let sb = Sandbox::new();
    let dir = model_dir(&sb);

    // Before: the hashing embedder, and config show says why.
    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["embedder"]["id"], "hash-v1-384", "{cfg:#}");
    assert_eq!(cfg["embedder_source"]["kind"], "default");
    let reason = cfg["embedder_source"]["reason"].as_str().unwrap();
    assert!(reason.contains("memory model pull"), "{reason}");
    let show = json(&memory(&sb, &hub.url, &["model", "show"]));
    assert_eq!(show["installed"], false);
    assert_eq!(show["in_use"], false);

    // The pull downloads every file, verifies it and installs the directory.
    let out = memory(&sb, &hub.url, &["model", "pull"]);
    let pulled = json(&out);
    assert_eq!(pulled["downloaded"], true);
    assert_eq!(pulled["verified"], true);
    assert_eq!(pulled["dir"], dir.to_str().unwrap());
    assert!(
        stderr(&out).contains("model.safetensors"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("verified"), "{}", stderr(&out));
    assert_eq!(hub.requests(), FILES.len());
    for file in FILES {
        assert_eq!(
            std::fs::read(dir.join(file)).unwrap(),
            std::fs::read(source.join(file)).unwrap(),
            "{file}"
        );
    }
    let left: Vec<String> = models_folder(&dir)
        .into_iter()
        .filter(|p| !p.starts_with("all-MiniLM-L6-v2"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !models_folder(&dir).iter().any(|p| p.ends_with(".partial")),
        "{:?}",
        models_folder(&dir)
    );

    let show = json(&memory(&sb, &hub.url, &["model", "show"]));
    assert_eq!(show["installed"], true, "{show:#}");
    assert_eq!(show["verified"], true, "{show:#}");
    assert_eq!(show["in_use"], true, "{show:#}");

    // A second pull checks what is installed and downloads nothing.
    let again = json(&memory(&sb, &hub.url, &["model", "pull"]));
    assert_eq!(again["downloaded"], false);
    assert_eq!(hub.requests(), FILES.len());

    // The memory now uses it by default: the same embedder as the directory passed by hand.
    let by_hand = format!("local:{}", source.display());
    let expected = sb.json(&["--embedder", &by_hand, "config", "show"])["embedder"]["id"].clone();
    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["embedder"]["id"], expected, "{cfg:#}");
    assert_eq!(cfg["embedder_source"]["kind"], "pulled-model");
    assert_eq!(cfg["embedder_source"]["model_dir"], dir.to_str().unwrap());
    let reason = cfg["embedder_source"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("pulled into") && reason.contains("default because it is installed"),
        "{reason}"
    );
    let human = sb.command().args(["config", "show"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("default because it is installed"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    // …and a retrieval works with it: found by meaning, no word in common.
    let login = record(
        &sb,
        "the login page crashes when the password field is empty",
    );
    record(&sb, "translate the user interface into Spanish");
    let pack = sb.json(&[
        "retrieve",
        "authentication form throws an exception on blank credentials",
        "--mode",
        "vector",
    ]);
    assert_eq!(pack["hits"][0]["id"], Value::String(login), "{pack:#}");
    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["vector_space"]["embedder"], expected);

    // --embedder still wins, and says so.
    let cfg = sb.json(&["--embedder", "hash", "config", "show"]);
    assert_eq!(cfg["embedder"]["id"], "hash-v1-384");
    assert_eq!(cfg["embedder_source"]["kind"], "flag");

    // --force downloads it again.
    let forced = json(&memory(&sb, &hub.url, &["model", "pull", "--force"]));
    assert_eq!(forced["downloaded"], true);
    assert_eq!(hub.requests(), 2 * FILES.len());
    let show = json(&memory(&sb, &hub.url, &["model", "show"]));
    assert_eq!(show["verified"], true, "{show:#}");
}

#[test]
fn a_corrupted_file_fails_naming_it_and_installs_nothing() {
    let hub = Hub::serve(
        FILES
            .iter()
            .map(|f| (f.to_string(), BOGUS.to_vec()))
            .collect(),
    );
    let sb = Sandbox::new();
    let dir = model_dir(&sb);
    let out = memory(&sb, &hub.url, &["model", "pull"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("config.json"), "{err}");
    assert!(err.contains(CONFIG_SHA256), "{err}");
    assert!(err.contains(BOGUS_SHA256), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!dir.exists());
    assert!(models_folder(&dir).is_empty(), "{:?}", models_folder(&dir));
    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["embedder"]["id"], "hash-v1-384");
    assert_eq!(cfg["embedder_source"]["kind"], "default");
}

#[test]
fn corrupted_weights_after_good_files_install_nothing() {
    let Some(source) = test_model_dir("corrupted_weights_after_good_files_install_nothing") else {
        return;
    };
    let mut files: HashMap<String, Vec<u8>> = FILES
        .iter()
        .map(|f| (f.to_string(), std::fs::read(source.join(f)).unwrap()))
        .collect();
    files.insert("model.safetensors".into(), BOGUS.to_vec());
    let hub = Hub::serve(files);
    let sb = Sandbox::new();
    let dir = model_dir(&sb);
    let out = memory(&sb, &hub.url, &["model", "pull"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains(BOGUS_SHA256), "{err}");
    assert!(
        err.contains("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        "{err}"
    );
    assert!(!dir.exists());
    assert!(models_folder(&dir).is_empty(), "{:?}", models_folder(&dir));
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let hub = Hub::serve(HashMap::new());
    let sb = Sandbox::new();
    let dir = model_dir(&sb);
    let out = memory(&sb, &hub.url, &["model", "pull"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("config.json") && err.contains("404"), "{err}");
    assert!(!dir.exists());
}

#[test]
fn a_server_that_is_down_is_a_clear_error() {
    // A port nothing listens on any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sb = Sandbox::new();
    let dir = model_dir(&sb);
    let out = memory(&sb, &format!("http://127.0.0.1:{port}"), &["model", "pull"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("cannot download config.json"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!dir.exists());
    assert!(models_folder(&dir).is_empty(), "{:?}", models_folder(&dir));

    // --endpoint overrides the environment.
    let hub = Hub::serve(HashMap::new());
    let out = memory(
        &sb,
        &format!("http://127.0.0.1:{port}"),
        &["model", "pull", "--endpoint", &hub.url],
    );
    assert_ne!(code(&out), 0);
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    assert_eq!(hub.requests(), 1);
}

#[test]
fn a_damaged_installation_is_reported_and_not_used() {
    let sb = Sandbox::new();
    let dir = model_dir(&sb);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), b"{}").unwrap();

    let cfg = sb.json(&["config", "show"]);
    assert_eq!(cfg["embedder"]["id"], "hash-v1-384", "{cfg:#}");
    assert_eq!(cfg["embedder_source"]["kind"], "default");
    let reason = cfg["embedder_source"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("incomplete") && reason.contains("--force"),
        "{reason}"
    );
    let show = json(&memory(&sb, "http://127.0.0.1:9", &["model", "show"]));
    assert_eq!(show["installed"], true);
    assert_eq!(show["verified"], false);
    assert_eq!(show["in_use"], false);
    assert_eq!(show["embedder_source"]["kind"], "default");
    let bad: Vec<&str> = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(bad.len(), FILES.len(), "{show:#}");
}
