//! SIP session timers (RFC 4028), sans-IO: a call whose refreshes stop is
//! ended, so a peer that vanished without a BYE does not hold a call (and
//! an agent) for ever.
//!
//! We answer calls (UAS) and always leave the refreshing to the caller
//! (`refresher=uac`) when it supports timers, which RFC 4028 section 9
//! allows; a caller that does not support them gets no timer, and the
//! media timeout guards those calls instead.

/// RFC 4028's smallest allowed interval.
pub const RFC_MIN_SE: u32 = 90;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiation {
    /// No Session-Expires, or the caller does not support timers.
    None,
    /// Use a timer of `seconds`; answer with these header values.
    Timer {
        seconds: u32,
        session_expires: String,
    },
    /// 422 Session Interval Too Small, with this Min-SE.
    TooSmall { min_se: u32 },
}

/// Decides from the INVITE's `Session-Expires` and `Supported` headers.
pub fn negotiate(session_expires: Option<&str>, supported: &[String], min_se: u32) -> Negotiation {
    let Some(value) = session_expires else {
        return Negotiation::None;
    };
    let Some(seconds) = value
        .split(';')
        .next()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return Negotiation::None;
    };
    if seconds < min_se {
        return Negotiation::TooSmall { min_se };
    }
    if !supported
        .iter()
        .any(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("timer")))
    {
        return Negotiation::None;
    }
    Negotiation::Timer {
        seconds,
        session_expires: format!("{seconds};refresher=uac"),
    }
}

/// The running timer of one call.
#[derive(Debug, Clone)]
pub struct SessionTimer {
    interval_ms: u64,
    last_refresh_ms: u64,
}

impl SessionTimer {
    pub fn new(seconds: u32, now_ms: u64) -> Self {
        Self {
            interval_ms: u64::from(seconds) * 1000,
            last_refresh_ms: now_ms,
        }
    }

    /// The agreed interval, in seconds.
    pub fn seconds(&self) -> u64 {
        self.interval_ms / 1000
    }

    /// A refresh (re-INVITE or UPDATE) arrived.
    pub fn refreshed(&mut self, now_ms: u64) {
        self.last_refresh_ms = now_ms;
    }

    /// RFC 4028 section 10: without a refresh, the side that does not
    /// refresh sends BYE min(32 s, interval / 3) before the session expires.
    pub fn deadline(&self) -> u64 {
        let margin = (self.interval_ms / 3).min(32_000);
        self.last_refresh_ms + self.interval_ms - margin
    }

    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> Vec<String> {
        vec!["100rel, timer".into()]
    }

    #[test]
    fn negotiates_like_rfc_4028() {
        assert_eq!(negotiate(None, &timer(), 90), Negotiation::None);
        assert_eq!(
            negotiate(Some("1800"), &[], 90),
            Negotiation::None,
            "caller does not support timers"
        );
        assert_eq!(
            negotiate(Some("60;refresher=uac"), &timer(), 90),
            Negotiation::TooSmall { min_se: 90 }
        );
        assert_eq!(
            negotiate(Some("1800;refresher=uas"), &timer(), 90),
            Negotiation::Timer {
                seconds: 1800,
                session_expires: "1800;refresher=uac".into()
            }
        );
        assert_eq!(negotiate(Some("soon"), &timer(), 90), Negotiation::None);
    }

    #[test]
    fn expires_before_the_interval_unless_refreshed() {
        let mut t = SessionTimer::new(1800, 0);
        assert_eq!(t.deadline(), 1_768_000, "32 s margin");
        assert!(!t.expired(1_767_999));
        t.refreshed(900_000);
        assert!(!t.expired(2_000_000));
        assert!(t.expired(2_668_000));
        let short = SessionTimer::new(90, 0);
        assert_eq!(short.deadline(), 60_000, "a third of 90 s");
    }
}
