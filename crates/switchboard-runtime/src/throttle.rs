//! Slows down guessing, without letting anyone lock anyone else out.
//!
//! - [`Backoff`]: per key, once a few failures are counted each further
//!   one locks the key for a delay that doubles up to a cap; a success, or
//!   a quiet spell, forgets the key.
//! - [`SignInGuard`]: what sign-ins (HTTP and SIP digest) use. Failures
//!   count per (username, client address), so a guesser elsewhere cannot
//!   lock the real user out, and per client address, so one address trying
//!   many usernames (password spraying) is slowed too.
//! - [`WindowLimit`]: at most N events per key in a sliding window (chat
//!   starts per address).
//!
//! All pure: the time is passed in; state is per node, bounded in size.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept at most; past it, keys quiet for their policy's memory go.
const MAX_KEYS: usize = 100_000;

/// How a [`Backoff`] answers failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The failure that starts the first delay (the ones before cost nothing).
    pub locks_at: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// A key with no failure for this long starts afresh.
    pub memory: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// A newly started lock: worth one log line (fail2ban reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub failures: u32,
    pub for_: Duration,
}

/// Growing delays after repeated failures, per key.
pub struct Backoff<K> {
    policy: Policy,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: std::hash::Hash + Eq + Clone> Backoff<K> {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(wait)` while the key is locked.
    pub fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let entries = self.entries();
        let until = entries.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure; returns the lock it started, if any. Refused
    /// attempts are not failures: a lock ends when it says, so the right
    /// password (a phone fixed, a colleague behind the same NAT) gets in
    /// then, however hard someone else hammers meanwhile.
    pub fn failed(&self, key: K, now: Instant) -> Option<Locked> {
        let policy = self.policy;
        let mut entries = self.entries();
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| now.duration_since(e.last) < policy.memory);
            if entries.len() >= MAX_KEYS {
                // Still full of fresh keys (a flood from everywhere): the
                // half least recently failed go, the rest keep their locks.
                let mut lasts: Vec<Instant> = entries.values().map(|e| e.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                entries.retain(|_, e| e.last > cut);
            }
        }
        let fresh = Entry {
            failures: 0,
            locked_until: None,
            last: now,
        };
        let entry = entries.entry(key).or_insert(fresh);
        if now.duration_since(entry.last) >= policy.memory {
            *entry = fresh;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = now;
        let over = entry.failures.checked_sub(policy.locks_at)?;
        let delay = policy
            .first_delay
            .saturating_mul(1u32 << over.min(20))
            .min(policy.max_delay);
        entry.locked_until = Some(now + delay);
        Some(Locked {
            failures: entry.failures,
            for_: delay,
        })
    }

    /// Takes back one failure counted ahead of a check that then passed.
    fn undo(&self, key: &K) {
        let mut entries = self.entries();
        if let Some(e) = entries.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures < self.policy.locks_at {
                e.locked_until = None;
            }
        }
    }

    pub fn succeeded(&self, key: &K) {
        self.entries().remove(key);
    }
}

/// Where a sign-in attempt comes from and for whom.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub username: &'a str,
    /// The client's address key ([`address_key`]).
    pub address: &'a str,
}

/// How a client address is counted: IPv4 whole, IPv6 by its /64 (one
/// host or site holds a whole /64 and could rotate through it).
pub fn address_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::IpAddr;
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

/// Throttles sign-ins per (username, address) and per address.
pub struct SignInGuard {
    per_user: Backoff<(String, String)>,
    per_address: Backoff<String>,
}

impl Default for SignInGuard {
    fn default() -> Self {
        let (per_user, per_address) = Self::default_policies();
        Self::new(per_user, per_address)
    }
}

/// What a failed attempt started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// This username from this address.
    User(Locked),
    /// Everything from this address.
    Address(Locked),
}

/// An attempt admitted by [`SignInGuard::begin`], counted as a failure
/// until [`SignInGuard::passed`] says otherwise.
#[must_use]
pub struct Pending {
    locks: Vec<Lock>,
}

impl SignInGuard {
    pub fn new(per_user: Policy, per_address: Policy) -> Self {
        Self {
            per_user: Backoff::new(per_user),
            per_address: Backoff::new(per_address),
        }
    }

    /// Per username and address: the 5th failure waits 1 s, each further
    /// one twice as long, up to 15 minutes. Per address across usernames:
    /// the same from the 20th, up to 5 minutes. Forgotten after 15 quiet
    /// minutes.
    pub fn default_policies() -> (Policy, Policy) {
        (
            Policy {
                locks_at: 5,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(15 * 60),
                memory: Duration::from_secs(15 * 60),
            },
            Policy {
                locks_at: 20,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5 * 60),
                memory: Duration::from_secs(15 * 60),
            },
        )
    }

    fn user_key(a: Attempt<'_>) -> (String, String) {
        (a.username.trim().to_lowercase(), a.address.to_string())
    }

    /// `Some(wait)` if this attempt is refused for now.
    pub fn blocked(&self, a: Attempt<'_>, now: Instant) -> Option<Duration> {
        let user = self.per_user.blocked(&Self::user_key(a), now);
        let address = self.per_address.blocked(&a.address.to_string(), now);
        user.max(address)
    }

    /// Admits an attempt and counts it as failed before the password is
    /// checked, so attempts checked at the same moment cannot all slip
    /// past the lock; `Err(wait)` while locked.
    pub fn begin(&self, a: Attempt<'_>, now: Instant) -> Result<Pending, Duration> {
        if let Some(wait) = self.blocked(a, now) {
            return Err(wait);
        }
        Ok(Pending {
            locks: self.failed(a, now),
        })
    }

    /// The check's outcome for an attempt [`begin`](Self::begin) admitted:
    /// a right password forgets its failures; a wrong one keeps the count
    /// and returns the locks it started, to be logged.
    pub fn passed(&self, a: Attempt<'_>, pending: Pending, ok: bool) -> Vec<Lock> {
        if ok {
            self.succeeded(a);
            self.per_address.undo(&a.address.to_string());
            Vec::new()
        } else {
            pending.locks
        }
    }

    /// An admitted attempt that was never checked (the server was too
    /// busy): neither a failure nor a success.
    pub fn cancel(&self, a: Attempt<'_>, pending: Pending) {
        let Pending { .. } = pending;
        self.per_user.undo(&Self::user_key(a));
        self.per_address.undo(&a.address.to_string());
    }

    /// Counts a failure; returns the locks it started (for the log).
    pub fn failed(&self, a: Attempt<'_>, now: Instant) -> Vec<Lock> {
        let mut locks = Vec::new();
        if let Some(l) = self.per_user.failed(Self::user_key(a), now) {
            locks.push(Lock::User(l));
        }
        if let Some(l) = self.per_address.failed(a.address.to_string(), now) {
            locks.push(Lock::Address(l));
        }
        locks
    }

    /// A right password forgets this username's failures from this
    /// address; the address's count stays (one good account does not
    /// license spraying the others).
    pub fn succeeded(&self, a: Attempt<'_>) {
        self.per_user.succeeded(&Self::user_key(a));
    }
}

/// At most `max` events per key within a sliding `window`.
pub struct WindowLimit {
    max: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl WindowLimit {
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` if the key has used its events for now.
    pub fn blocked(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut map = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.get_mut(key)?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            list.pop_front();
        }
        if list.len() < self.max {
            return None;
        }
        list.front()
            .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
    }

    pub fn record(&self, key: &str, now: Instant) {
        let mut map = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > MAX_KEYS {
            map.retain(|_, l| {
                l.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let list = map.entry(key.to_string()).or_default();
        list.push_back(now);
        while list.len() > self.max {
            list.pop_front();
        }
    }
}

/// One line per lock, naming what and where, for fail2ban and operators.
pub fn log_lock(what: &str, attempt: Attempt<'_>, lock: Lock) {
    use Lock;
    match lock {
        Lock::User(l) => tracing::warn!(
            username = %attempt.username,
            address = %attempt.address,
            failures = l.failures,
            seconds = l.for_.as_secs(),
            "{what} locked for this username from this address"
        ),
        Lock::Address(l) => tracing::warn!(
            address = %attempt.address,
            failures = l.failures,
            seconds = l.for_.as_secs(),
            "{what} locked for this address"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn guard() -> SignInGuard {
        SignInGuard::default()
    }

    fn at<'a>(username: &'a str, address: &'a str) -> Attempt<'a> {
        Attempt { username, address }
    }

    #[test]
    fn delays_grow_after_the_free_failures_and_a_quiet_spell_forgets() {
        let b = Backoff::new(Policy {
            locks_at: 3,
            first_delay: S,
            max_delay: 5 * S,
            memory: 60 * S,
        });
        let t0 = Instant::now();
        assert_eq!(b.failed("k", t0), None);
        assert_eq!(b.failed("k", t0), None);
        assert_eq!(b.blocked(&"k", t0), None);
        let delays: Vec<_> = (0..5)
            .map(|i| b.failed("k", t0 + i * 10 * S).unwrap().for_)
            .collect();
        assert_eq!(delays, [S, 2 * S, 4 * S, 5 * S, 5 * S]);
        assert_eq!(b.blocked(&"k", t0 + 40 * S), Some(5 * S));
        assert_eq!(b.blocked(&"k", t0 + 45 * S), None);
        assert_eq!(
            b.failed("k", t0 + 200 * S),
            None,
            "forgotten after a minute"
        );
    }

    #[test]
    fn a_guesser_at_full_speed_gets_at_most_11_guesses_a_minute() {
        // svcrack: the next guess as soon as the last is answered (1 ms);
        // only those let through to a check are guesses.
        let g = guard();
        let t0 = Instant::now();
        let (mut checked, mut log_lines) = (0, 0);
        for ms in 0..60_000 {
            let now = t0 + Duration::from_millis(ms);
            let attempt = at("deskagent", "203.0.113.9");
            if let Ok(pending) = g.begin(attempt, now) {
                checked += 1;
                log_lines += g.passed(attempt, pending, false).len();
            }
        }
        println!(
            "full-speed guesser: {checked} guesses checked, {log_lines} log lines in a minute"
        );
        // 4 free, then one each at 1, 2, 4, 8, 16 and 32 s after the last.
        assert!(checked <= 11, "{checked} guesses checked in a minute");
        assert!(log_lines <= 12, "{log_lines} log lines");
    }

    #[test]
    fn attempts_checked_at_once_cannot_slip_past_the_lock() {
        let g = guard();
        let t0 = Instant::now();
        let attempt = at("deskagent", "203.0.113.9");
        // 100 checks in flight together: each is counted before its answer.
        let admitted: Vec<Pending> = (0..100).filter_map(|_| g.begin(attempt, t0).ok()).collect();
        assert_eq!(admitted.len(), 5);
        for p in admitted {
            let _ = g.passed(attempt, p, false);
        }
        assert!(g.blocked(attempt, t0).is_some());
    }

    #[test]
    fn a_lock_ends_when_it_says_however_hard_others_hammer() {
        let g = guard();
        let t0 = Instant::now();
        let office = "198.51.100.4";
        for i in 0..25 {
            let name = format!("guess{i}");
            if let Ok(p) = g.begin(at(&name, office), t0) {
                let _ = g.passed(at(&name, office), p, false);
            }
        }
        let wait = g
            .blocked(at("ana", office), t0)
            .expect("the office is slowed");
        // Hammering while locked does not push the end out...
        for _ in 0..1000 {
            assert!(g.begin(at("mallory", office), t0 + wait / 2).is_err());
        }
        // ...so Ana's phone, right password, gets in when it ends.
        let p = g.begin(at("ana", office), t0 + wait).expect("admitted");
        assert!(g.passed(at("ana", office), p, true).is_empty());
    }

    #[test]
    fn a_guesser_elsewhere_does_not_lock_the_real_user_out() {
        let g = guard();
        let t0 = Instant::now();
        for i in 0..10 {
            g.failed(at("ada", "203.0.113.9"), t0 + i * S);
        }
        assert!(g.blocked(at("ada", "203.0.113.9"), t0 + 10 * S).is_some());
        assert_eq!(g.blocked(at("ADA", "198.51.100.4"), t0 + 10 * S), None);
        assert_eq!(g.blocked(at("bob", "203.0.113.9"), t0 + 10 * S), None);
    }

    #[test]
    fn spraying_many_usernames_from_one_address_is_slowed() {
        let g = guard();
        let t0 = Instant::now();
        let mut locked = None;
        for i in 0..30u32 {
            let name = format!("user{i}");
            if !g.failed(at(&name, "203.0.113.9"), t0).is_empty() {
                locked.get_or_insert(i);
            }
        }
        assert_eq!(
            locked,
            Some(19),
            "the 20th failure from the address locks it"
        );
        assert!(g.blocked(at("someone-new", "203.0.113.9"), t0).is_some());
        assert_eq!(g.blocked(at("someone-new", "198.51.100.4"), t0), None);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2001:db8:1:2::");
        assert_eq!(
            address_key("::ffff:203.0.113.9".parse().unwrap()).to_string(),
            "203.0.113.9"
        );
    }

    #[test]
    fn a_right_password_forgets_the_users_failures_from_there() {
        let g = guard();
        let t0 = Instant::now();
        for _ in 0..4 {
            g.failed(at("ada", "203.0.113.9"), t0);
        }
        g.succeeded(at("ada", "203.0.113.9"));
        assert!(g.failed(at("ada", "203.0.113.9"), t0).is_empty());
    }

    #[test]
    fn a_window_limit_counts_events_per_key() {
        let w = WindowLimit::new(3, 60 * S);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(w.blocked("a", t0), None);
            w.record("a", t0 + i * S);
        }
        assert_eq!(w.blocked("a", t0 + 10 * S), Some(50 * S));
        assert_eq!(w.blocked("b", t0), None);
        assert_eq!(w.blocked("a", t0 + 60 * S), None);
    }
}
