//! The sign-in form's rate limit: after a few wrong tokens from one client address, or many
//! from everywhere together, `/login` refuses for a while without checking the token (429
//! with `Retry-After`), so the form cannot be used to guess tokens quickly.
//!
//! Each attempt is counted when it starts (so requests sent at once cannot all slip under the
//! limit) and taken back when its token turns out good: a good sign-in costs nothing, and it
//! does not wipe the address's earlier failures either (a holder of one token cannot use it
//! to reset the count while guessing another). Failures count for [`SignInLimit::window`]
//! after they happen; nothing else ends a refusal.
//!
//! An address is a client's IPv4 address, or the /64 network of an IPv6 one (one host
//! usually holds a whole /64). A client can use up only its own address's allowance; the
//! only way failures from one address hold back another is the server-wide ceiling,
//! [`SignInLimit::global`], and that for at most one window after the failures stop.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many wrong tokens `/login` takes before it refuses to check more for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimit {
    /// Wrong tokens one client address may send within `window`.
    pub per_client: u32,
    /// Wrong tokens the whole server takes within `window`, from every address together.
    pub global: u32,
    /// How long a wrong token counts.
    pub window: Duration,
}

impl Default for SignInLimit {
    /// 5 wrong tokens a minute from one address, 100 a minute in all.
    fn default() -> Self {
        SignInLimit {
            per_client: 5,
            global: 100,
            window: Duration::from_secs(60),
        }
    }
}

/// The address of the client a request came from (the TCP peer), which the HTTP server puts
/// in each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Why a sign-in is refused without looking at its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// How long until an attempt will be checked again.
    pub retry_after: Duration,
    /// True when the server-wide ceiling was reached, false when the client's own allowance
    /// was used up.
    pub everyone: bool,
}

impl Refusal {
    /// `Retry-After` in whole seconds (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }

    /// What the sign-in page says.
    pub fn message(&self) -> String {
        let secs = self.retry_after_secs();
        let unit = if secs == 1 { "second" } else { "seconds" };
        if self.everyone {
            format!(
                "Too many wrong tokens were sent to this server in the last minutes: sign-in \
                 is paused for everyone. Try again in {secs} {unit}."
            )
        } else {
            format!(
                "Too many wrong tokens from your address: try again in {secs} {unit}. The \
                 token was not checked."
            )
        }
    }
}

/// One sign-in being checked: counted as a failure until [`SignInThrottle::succeeded`] takes
/// it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    client: IpAddr,
    at: Instant,
}

/// The failures of the last window, per client address and in all.
#[derive(Debug, Default)]
struct Failures {
    /// Every counted failure, oldest first.
    all: VecDeque<(Instant, IpAddr)>,
    /// Each address's counted failures, oldest first (addresses with none are dropped).
    by_client: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Failures {
    /// Forgets the failures that no longer count at `now`.
    fn expire(&mut self, window: Duration, now: Instant) {
        let live = |t: &Instant| now.saturating_duration_since(*t) < window;
        while self.all.front().is_some_and(|(t, _)| !live(t)) {
            self.all.pop_front();
        }
        self.by_client.retain(|_, times| {
            while times.front().is_some_and(|t| !live(t)) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// Takes back one counted failure of `client` at `at`.
    fn remove(&mut self, client: IpAddr, at: Instant) {
        if let Some(i) = self.all.iter().rposition(|e| *e == (at, client)) {
            self.all.remove(i);
        }
        if let Some(times) = self.by_client.get_mut(&client) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                self.by_client.remove(&client);
            }
        }
    }
}

/// The sign-in form's counter of wrong tokens (see the module's documentation).
#[derive(Debug)]
pub struct SignInThrottle {
    limit: SignInLimit,
    failures: Mutex<Failures>,
}

impl SignInThrottle {
    /// A throttle with nothing counted yet.
    pub fn new(limit: SignInLimit) -> Self {
        SignInThrottle {
            limit,
            failures: Mutex::default(),
        }
    }

    /// The limits it applies.
    pub fn limit(&self) -> SignInLimit {
        self.limit
    }

    /// Starts checking a sign-in from `client` at `now`: the attempt, counted as a failure
    /// until [`SignInThrottle::succeeded`], or the refusal when the client's allowance or the
    /// server's ceiling is used up (then nothing is counted and the token must not be
    /// checked).
    pub fn begin(&self, client: IpAddr, now: Instant) -> Result<Attempt, Refusal> {
        let client = client_key(client);
        let window = self.limit.window;
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.expire(window, now);
        let wait = |oldest: Option<Instant>| {
            oldest.map_or(window, |t| {
                (t + window)
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1))
            })
        };
        let mine = f.by_client.get(&client).map_or(0, VecDeque::len);
        if mine >= self.limit.per_client as usize {
            let oldest = f.by_client.get(&client).and_then(|t| t.front().copied());
            return Err(Refusal {
                retry_after: wait(oldest),
                everyone: false,
            });
        }
        if f.all.len() >= self.limit.global as usize {
            return Err(Refusal {
                retry_after: wait(f.all.front().map(|(t, _)| *t)),
                everyone: true,
            });
        }
        f.all.push_back((now, client));
        f.by_client.entry(client).or_default().push_back(now);
        Ok(Attempt { client, at: now })
    }

    /// The attempt's token was good: it does not count as a failure.
    pub fn succeeded(&self, attempt: Attempt) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(attempt.client, attempt.at);
    }

    /// Failures counted now, in all (for tests and diagnostics).
    pub fn counted(&self, now: Instant) -> usize {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.expire(self.limit.window, now);
        f.all.len()
    }
}

/// The address a client is counted under: its IPv4 address (an IPv4-mapped IPv6 address is
/// the IPv4 one), or the /64 network of an IPv6 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(net))
            }
        },
    }
}

/// The address to count a request under when the server did not say where it came from.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn limit(per_client: u32, global: u32) -> SignInLimit {
        SignInLimit {
            per_client,
            global,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_client_is_refused_after_its_failures_until_the_window_passes() {
        let t = SignInThrottle::new(limit(3, 100));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(t.begin(A, t0 + Duration::from_secs(i)).is_ok());
        }
        let refused = t.begin(A, t0 + Duration::from_secs(10)).unwrap_err();
        assert!(!refused.everyone);
        // The first failure stops counting 60 s after it happened.
        assert_eq!(refused.retry_after, Duration::from_secs(50));
        assert_eq!(refused.retry_after_secs(), 50);
        assert!(refused.message().contains("50 seconds"));
        // Another address is not held back.
        assert!(t.begin(B, t0 + Duration::from_secs(10)).is_ok());
        // Once the oldest failure is a window old, one more attempt is checked.
        assert!(t.begin(A, t0 + Duration::from_secs(60)).is_ok());
        assert!(t.begin(A, t0 + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn a_good_token_costs_nothing_and_forgives_nothing() {
        let t = SignInThrottle::new(limit(2, 100));
        let now = Instant::now();
        t.begin(A, now).unwrap();
        let good = t.begin(A, now).unwrap();
        t.succeeded(good);
        assert_eq!(t.counted(now), 1);
        // The earlier failure still counts: one more attempt, then the refusal.
        assert!(t.begin(A, now).is_ok());
        assert!(t.begin(A, now).is_err());
    }

    #[test]
    fn the_global_ceiling_holds_back_everyone_and_nothing_more() {
        let t = SignInThrottle::new(limit(5, 4));
        let now = Instant::now();
        for ip in [A, A, B, B] {
            assert!(t.begin(ip, now).is_ok());
        }
        let c = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        let refused = t.begin(c, now).unwrap_err();
        assert!(refused.everyone);
        assert!(refused.message().contains("everyone"));
        // Refusals are not counted: the ceiling lifts a window after the last failure.
        assert_eq!(t.counted(now), 4);
        assert!(t.begin(c, now + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), A);
        let t = SignInThrottle::new(limit(1, 100));
        let now = Instant::now();
        assert!(t.begin(a, now).is_ok());
        assert!(t.begin(b, now).is_err());
        assert!(t.begin(c, now).is_ok());
    }

    #[test]
    fn counted_addresses_are_forgotten_after_the_window() {
        let t = SignInThrottle::new(limit(5, 100));
        let now = Instant::now();
        for i in 0..50u8 {
            assert!(t.begin(IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)), now).is_ok());
        }
        assert_eq!(t.counted(now + Duration::from_secs(61)), 0);
        let f = t.failures.lock().unwrap();
        assert!(f.by_client.is_empty());
    }
}
