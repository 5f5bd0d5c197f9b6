//! Keeping SQLite's work off the async runtime's worker threads.
//!
//! A local libSQL call does its work inside `poll`: reading pages, stepping through rows,
//! searching the vector index, or sleeping in `busy_timeout` while another process holds
//! the write lock (up to five seconds). On a worker thread that stalls every other task
//! scheduled there — a server's other requests, `/health`, timers. So on a multi-threaded
//! runtime (what `memory serve` and `memory mcp` run on) a local store runs that work in
//! [`off_runtime`]: `block_in_place`, the worker handing its other tasks to another thread
//! for as long as it blocks. Requests to a libSQL server are real network I/O and stay on
//! the runtime; so does everything on a single-threaded runtime (the CLI's one-shot
//! commands), where there is nothing else to stall and nowhere else to run.

use std::cell::Cell;
use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;

thread_local! {
    /// Set while this thread runs a future handed to [`off_runtime`]:
    /// a nested call (a read inside a read) simply awaits, as it is already off the runtime.
    static OFF_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// Resets [`OFF_RUNTIME`] when the future it guarded ends, even by unwinding.
struct Marked;

impl Marked {
    fn set() -> Marked {
        OFF_RUNTIME.with(|off| off.set(true));
        Marked
    }
}

impl Drop for Marked {
    fn drop(&mut self) {
        OFF_RUNTIME.with(|off| off.set(false));
    }
}

/// The runtime to block on, when work may and should leave its worker thread.
fn multi_threaded() -> Option<Handle> {
    if OFF_RUNTIME.with(Cell::get) {
        return None;
    }
    Handle::try_current()
        .ok()
        .filter(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

/// Most pieces of work off the runtime at once, in the whole process. Each holds a thread
/// for as long as it runs — waiting for its connection included —, and the runtime's
/// workers come from the same pool of threads (512 by default): past this bound, work waits
/// for a turn without holding a thread, so a flood of requests cannot take every thread
/// while the holders of the connections they wait for need one to finish.
const MAX_OFF_RUNTIME: usize = 32;

/// The turns of [`MAX_OFF_RUNTIME`].
fn turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| Semaphore::new(MAX_OFF_RUNTIME))
}

/// Runs `work` (a read on a local connection) so that its blocking does not hold a worker
/// thread, when `local` and on a multi-threaded runtime; otherwise awaits it in place.
pub(crate) async fn off_runtime<F: Future>(local: bool, work: F) -> F::Output {
    if multi_threaded().filter(|_| local).is_none() {
        return work.await;
    }
    // A closed semaphore (never: it is not closed) would run the work in place.
    let _turn = turns().acquire().await.ok();
    off_runtime_holding(local, work).await
}

/// [`off_runtime`] for work that already holds its connection (a group-commit batch, which
/// holds the writer): it takes no turn, since the work waiting for turns may be waiting for
/// that very connection. There is one writer, so at most one such piece of work at a time.
pub(crate) async fn off_runtime_holding<F: Future>(local: bool, work: F) -> F::Output {
    match multi_threaded().filter(|_| local) {
        Some(handle) => {
            let _active = Active::enter();
            tokio::task::block_in_place(move || {
                let _marked = Marked::set();
                handle.block_on(work)
            })
        }
        None => work.await,
    }
}

/// Blocking sections running now, in the process.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts a blocking section as running for as long as it lives.
struct Active;

impl Active {
    fn enter() -> Active {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits, at most `max`, until no task of this process runs database work off the runtime,
/// then a moment more for those tasks to reach their next await. A server calls it after its
/// last request, before its runtime shuts down: a task still inside such a section when the
/// runtime goes would go on after it — and panic at its next timer.
pub async fn wait_for_database_work(max: Duration) {
    let deadline = tokio::time::Instant::now() + max;
    while ACTIVE.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// The longest a 5 ms ticker went without ticking while `blocker` ran beside it, on a
    /// multi-threaded runtime with a single worker.
    fn longest_stall(blocker: impl Future<Output = ()> + Send + 'static) -> Duration {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let longest = Arc::new(AtomicU64::new(0));
            let ticker = tokio::spawn({
                let longest = Arc::clone(&longest);
                async move {
                    let mut last = Instant::now();
                    for _ in 0..60 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        let gap = last.elapsed().as_micros() as u64;
                        longest.fetch_max(gap, Ordering::Relaxed);
                        last = Instant::now();
                    }
                }
            });
            tokio::task::yield_now().await;
            tokio::spawn(blocker).await.unwrap();
            ticker.await.unwrap();
            Duration::from_micros(longest.load(Ordering::Relaxed))
        })
    }

    fn sleeps_in_poll(local: bool) -> impl Future<Output = ()> + Send + 'static {
        off_runtime(local, async {
            // What a busy wait inside sqlite3_step looks like to the runtime.
            std::thread::sleep(Duration::from_millis(300));
        })
    }

    #[test]
    fn a_blocking_read_leaves_the_worker_to_other_tasks() {
        let stalled = longest_stall(sleeps_in_poll(false));
        assert!(stalled >= Duration::from_millis(250), "{stalled:?}");
        let kept = longest_stall(sleeps_in_poll(true));
        assert!(kept < Duration::from_millis(150), "{kept:?}");
    }

    #[tokio::test]
    async fn on_one_thread_work_runs_in_place() {
        assert_eq!(off_runtime(true, async { 7 }).await, 7);
    }

    /// Many more readers than threads, all waiting off the runtime for a connection that an
    /// in-place task holds: only [`MAX_OFF_RUNTIME`] of them take a thread, so the holder
    /// still gets one to give the connection back, and everyone finishes.
    #[test]
    fn a_flood_of_waiting_readers_leaves_threads_for_the_holder() {
        // Watched from a plain thread: a starved runtime cannot fire its own timeout.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(MAX_OFF_RUNTIME + 8)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(flood());
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(30)).is_ok(),
            "the waiters took every thread and the holder never ran"
        );
    }

    /// The readers and the holder of [`a_flood_of_waiting_readers_leaves_threads_for_the_holder`].
    async fn flood() {
        let connection = Arc::new(tokio::sync::Mutex::new(()));
        let held = Arc::clone(&connection).lock_owned().await;
        let waiters: Vec<_> = (0..4 * MAX_OFF_RUNTIME)
            .map(|_| {
                let connection = Arc::clone(&connection);
                tokio::spawn(off_runtime(true, async move {
                    drop(connection.lock().await);
                }))
            })
            .collect();
        let holder = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
        });
        holder.await.unwrap();
        for w in waiters {
            w.await.unwrap();
        }
    }

    #[test]
    fn nested_reads_await_in_place() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(async {
            tokio::spawn(off_runtime(true, async {
                off_runtime(true, async { 9 }).await
            }))
            .await
            .unwrap()
        });
        assert_eq!(got, 9);
    }

    /// A server's shutdown waits for the database work still running off the runtime, so
    /// that no task is left inside a blocking section when the runtime goes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shutdown_waits_for_work_off_the_runtime() {
        let section = tokio::spawn(off_runtime(true, async {
            std::thread::sleep(Duration::from_millis(300));
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(ACTIVE.load(Ordering::SeqCst) > 0);
        let started = Instant::now();
        wait_for_database_work(Duration::from_secs(5)).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(section.is_finished());
        section.await.unwrap();
    }
}
