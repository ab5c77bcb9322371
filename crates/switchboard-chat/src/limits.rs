//! How much a participant may send: a size cap per message and a token
//! bucket per participant (a burst, then a steady rate), as pure arithmetic
//! on the time given.

use serde::{Deserialize, Serialize};

/// The limits a chat enforces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest message, in bytes of UTF-8 (Connect allows 1,024 characters
    /// of plain text; 4 KiB keeps any 1,024-character text within reach).
    pub max_message_bytes: usize,
    /// Messages a participant may send at once before the rate applies.
    pub burst: u32,
    /// Messages per second a participant may keep sending.
    pub per_second: f64,
    /// A customer who says nothing this long is warned...
    pub idle_warning_ms: u64,
    /// ...and disconnected after this long.
    pub idle_disconnect_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 4096,
            burst: 10,
            per_second: 2.0,
            idle_warning_ms: 5 * 60_000,
            idle_disconnect_ms: 10 * 60_000,
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    /// A bucket holding the whole burst at `now_ms`, as a participant gets on
    /// joining.
    pub fn full(limits: &Limits, now_ms: u64) -> Bucket {
        Bucket {
            tokens: f64::from(limits.burst),
            at_ms: now_ms,
        }
    }

    /// Takes a token if there is one; otherwise says how long until there is.
    pub fn take(&mut self, limits: &Limits, now_ms: u64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * limits.per_second).min(f64::from(limits.burst));
        self.at_ms = now_ms.max(self.at_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if limits.per_second <= 0.0 {
            Err(u64::MAX)
        } else {
            Err((((1.0 - self.tokens) / limits.per_second) * 1000.0).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limits = Limits {
            burst: 3,
            per_second: 2.0,
            ..Limits::default()
        };
        let mut b = Bucket::full(&limits, 0);
        for _ in 0..3 {
            assert_eq!(b.take(&limits, 0), Ok(()));
        }
        assert_eq!(
            b.take(&limits, 0),
            Err(500),
            "half a second to the next token"
        );
        assert_eq!(b.take(&limits, 499), Err(2));
        assert_eq!(b.take(&limits, 500), Ok(()));
        // A long pause refills only up to the burst.
        let mut taken = 0;
        while b.take(&limits, 60_000).is_ok() {
            taken += 1;
        }
        assert_eq!(taken, 3);
    }
}
