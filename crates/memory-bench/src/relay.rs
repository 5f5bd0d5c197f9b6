//! A loopback TCP relay that puts a network's round-trip time between the store and a libSQL
//! server, and counts the round trips the store makes through it (`memory bench remote`).
//!
//! Every byte is delivered half the round-trip time after it was read, in order, in each
//! direction, so requests that are pipelined stay pipelined and a request that waits for
//! its answer waits one full round trip. A *round trip* is counted when the client sends
//! after having received something (or for the first time) on a connection: a burst of
//! request bytes that has to wait for the server's answer before the next one is sent.
//! Opening a TCP connection costs no added delay (the store's HTTP client keeps its
//! connections open between requests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running relay; it stops accepting when dropped.
pub struct Relay {
    addr: SocketAddr,
    round_trips: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port and relays every connection to `upstream`, adding
    /// `rtt` to each round trip.
    pub async fn start(upstream: SocketAddr, rtt: Duration) -> std::io::Result<Relay> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let round_trips = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&round_trips);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let counted = Arc::clone(&counted);
                tokio::spawn(async move {
                    match TcpStream::connect(upstream).await {
                        Ok(server) => relay(client, server, rtt / 2, counted),
                        Err(err) => {
                            tracing::warn!(%upstream, error = %err, "relay cannot reach the server");
                        }
                    }
                });
            }
        });
        Ok(Relay {
            addr,
            round_trips,
            accept,
        })
    }

    /// The relay's URL, to give the store in place of the server's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Round trips made through the relay so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Relays one connection both ways, each byte `one_way` late.
fn relay(client: TcpStream, server: TcpStream, one_way: Duration, round_trips: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Whether the client's next bytes start a new round trip.
    let answered = Arc::new(AtomicBool::new(true));
    let requests = Arc::clone(&answered);
    tokio::spawn(pump(client_read, server_write, one_way, move || {
        if requests.swap(false, Ordering::Relaxed) {
            round_trips.fetch_add(1, Ordering::Relaxed);
        }
    }));
    tokio::spawn(pump(server_read, client_write, one_way, move || {
        answered.store(true, Ordering::Relaxed);
    }));
}

/// Copies `from` to `to`, each chunk delivered `delay` after it was read; `on_read` runs for
/// every chunk read. Ends when either side closes.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    on_read: impl Fn() + Send + 'static,
) {
    let (line, mut arrivals) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let deliver = tokio::spawn(async move {
        while let Some((due, bytes)) = arrivals.recv().await {
            // The timer's resolution is a millisecond: a chunk already due is not handed
            // to it.
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                on_read();
                if line
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(line);
    let _ = deliver.await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// An echo server: answers every read with the same bytes.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = conn.read(&mut buf).await {
                        if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn each_exchange_takes_the_round_trip_time_and_is_counted_once() {
        let rtt = Duration::from_millis(40);
        let relay = Relay::start(echo().await, rtt).await.unwrap();
        let mut conn = TcpStream::connect(relay.addr).await.unwrap();
        let mut answer = [0u8; 5];
        for i in 1..=3u64 {
            let started = std::time::Instant::now();
            conn.write_all(b"he").await.unwrap();
            conn.write_all(b"llo").await.unwrap();
            conn.read_exact(&mut answer).await.unwrap();
            let took = started.elapsed();
            assert_eq!(&answer, b"hello");
            assert!(took >= rtt, "{took:?}");
            assert!(took < rtt * 3, "{took:?}");
            assert_eq!(relay.round_trips(), i);
        }
        assert!(relay.url().starts_with("http://127.0.0.1:"));
    }
}
