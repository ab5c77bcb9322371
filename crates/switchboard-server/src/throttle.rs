//! Slows down password guessing: after a few failed sign-ins for one
//! username within a window, further attempts for it are refused until the
//! oldest failure leaves the window. Pure (time passed in) and per node.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(15 * 60))
    }
}

impl LoginThrottle {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Some(wait)` if sign-ins for `username` are refused for now.
    pub fn blocked(&self, username: &str, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.get_mut(&Self::key(username))?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            list.pop_front();
        }
        if list.len() < self.max_failures {
            return None;
        }
        list.front()
            .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
    }

    pub fn failed(&self, username: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded memory: forget everyone's old failures when the map grows.
        if map.len() > 100_000 {
            map.retain(|_, l| {
                l.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let list = map.entry(Self::key(username)).or_default();
        list.push_back(now);
        while list.len() > self.max_failures {
            list.pop_front();
        }
    }

    pub fn succeeded(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_repeated_failures_until_the_window_passes() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(t.blocked("Ada", start), None);
            t.failed("ada", start + Duration::from_secs(i));
        }
        assert_eq!(
            t.blocked("ADA", start + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(t.blocked("bob", start), None, "per username");
        assert_eq!(
            t.blocked("ada", start + Duration::from_secs(60)),
            None,
            "the oldest failure left the window"
        );
        t.failed("bob", start);
        t.succeeded("bob");
        assert_eq!(t.blocked("bob", start), None);
    }
}
