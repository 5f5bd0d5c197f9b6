//! A real libSQL server for the tests that keep the memory on one: `sqld` started on a free
//! loopback port with a JWT key, as a deployment runs it, and stopped when dropped.
//!
//! The binary is `MEMORY_TEST_SQLD`, else `shared/bin/sqld` beside the repository. Without
//! it a test is skipped with a message, unless `MEMORY_REQUIRE_SQLD` is set (as `.ci/run`
//! sets it when it finds the server), when it fails.
//!
//! Used by the storage crate's and the CLI's tests only (a dev-dependency, never published).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure here is the test's failure"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sqld` and a token it accepts.
pub struct Sqld {
    child: Option<Child>,
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A JWT signed with the server's key.
    pub token: String,
    /// The same claims signed with another key: refused.
    pub wrong_token: String,
    /// Where the server keeps its data (inside the test's temporary directory).
    pub data: PathBuf,
}

impl Sqld {
    /// Starts a server keeping its data under `dir`, or `None` (after saying why) when no
    /// `sqld` binary is available and none is required.
    pub fn start(dir: &Path, test: &str) -> Option<Sqld> {
        let bin = binary(test)?;
        let rng = ring::rand::SystemRandom::new();
        let key_pair = |rng| {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).unwrap();
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
        };
        let key = key_pair(&rng);
        let other = key_pair(&rng);
        std::fs::write(
            dir.join("sqld-jwt.pub"),
            URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        )
        .unwrap();
        let port = free_port();
        let mut server = Sqld {
            child: None,
            bin,
            dir: dir.to_path_buf(),
            port,
            url: format!("http://127.0.0.1:{port}"),
            token: jwt(&key),
            wrong_token: jwt(&other),
            data: dir.join("sqld-data"),
        };
        server.start_again();
        Some(server)
    }

    /// Stops the server, as a crash would (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): its port still accepts connections and requests, but
    /// nothing answers them, as with a server that hangs. [`Sqld::resume`] undoes it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on; it then answers what it was sent meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {} failed", child.id());
    }

    /// Starts the server again on the same port, data and key (after [`Sqld::stop`]), and
    /// waits until it listens.
    pub fn start_again(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sqld.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("--db-path")
            .arg(&self.data)
            .arg("--http-listen-addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--auth-jwt-key-file")
            .arg(self.dir.join("sqld-jwt.pub"))
            .arg("--no-welcome")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_until_listening();
    }

    fn wait_until_listening(&self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sqld did not listen on {addr} within 30 s; its log: {}",
                std::fs::read_to_string(self.dir.join("sqld.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A token with full access, signed by `key` (EdDSA, as Turso's tokens are).
fn jwt(key: &Ed25519KeyPair) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(br#"{"a":"rw"}"#);
    let signed = format!("{header}.{claims}");
    let signature = URL_SAFE_NO_PAD.encode(key.sign(signed.as_bytes()).as_ref());
    format!("{signed}.{signature}")
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `sqld` binary the tests use, or `None` (after saying why `test` is skipped) when there
/// is none and none is required.
pub fn binary(test: &str) -> Option<PathBuf> {
    let bin = std::env::var_os("MEMORY_TEST_SQLD")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bin/sqld"));
    if bin.is_file() {
        return Some(bin);
    }
    let required = std::env::var_os("MEMORY_REQUIRE_SQLD").is_some_and(|v| !v.is_empty());
    assert!(
        !required,
        "{test}: no sqld at {}, and MEMORY_REQUIRE_SQLD is set",
        bin.display()
    );
    eprintln!(
        "skipping {test}: no sqld at {} (set MEMORY_TEST_SQLD to a libSQL server binary)",
        bin.display()
    );
    None
}
