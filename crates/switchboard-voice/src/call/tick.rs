//! What a call decides on each 20 ms tick that needs no socket and no
//! clock: whether the call must end, what the caller hears, and when the
//! next queue announcement is due. Times are milliseconds since the call
//! began, given by the driver; the tables below test every rule.

/// Why a tick ends the call (both are Connect's `TELECOM_PROBLEM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lost {
    /// The caller agreed a session timer (RFC 4028) and did not refresh it.
    SessionExpired,
    /// No RTP from the caller for the media timeout, while not on hold:
    /// the media path is gone, usually with the BYE.
    MediaStopped,
}

/// Watches the caller's media: the packet count seen last, and since when
/// it has not moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watchdog {
    timeout_ms: u64,
    packets: u64,
    since_ms: u64,
}

impl Watchdog {
    /// A watchdog at the call's start (`now_ms`), ending it after
    /// `timeout_ms` without a packet.
    pub(crate) fn new(now_ms: u64, timeout_ms: u64) -> Self {
        Self {
            timeout_ms,
            packets: 0,
            since_ms: now_ms,
        }
    }

    /// Starts the silence count again from `now_ms` (a re-INVITE changed
    /// where the caller's media comes from).
    pub(crate) fn restart(&mut self, now_ms: u64, packets: u64) {
        self.packets = packets;
        self.since_ms = now_ms;
    }

    /// One tick: `packets` is the caller's count of RTP packets so far,
    /// `held` whether the caller put us on hold (then silence is expected),
    /// `session_expired` whether an agreed session timer ran out. Returns
    /// why the call must end, if it must.
    pub(crate) fn tick(
        &mut self,
        now_ms: u64,
        packets: u64,
        held: bool,
        session_expired: bool,
    ) -> Option<Lost> {
        if session_expired {
            return Some(Lost::SessionExpired);
        }
        if packets != self.packets {
            self.restart(now_ms, packets);
            None
        } else if !held && now_ms.saturating_sub(self.since_ms) >= self.timeout_ms {
            Some(Lost::MediaStopped)
        } else {
            None
        }
    }
}

/// What the caller hears this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerHears {
    /// The agent, relayed as their audio arrives (nothing to send now).
    Agent,
    /// What the call plays: a prompt, music, a whisper to the customer.
    Played,
    /// Nothing plays: silence keeps the RTP stream (and NAT bindings) going.
    Silence,
}

/// The rule: once bridged to an agent who has not put them on hold, the
/// caller hears the agent (whether or not the agent still hears their
/// whisper); otherwise what plays, or silence.
pub(crate) fn caller_hears(bridged: bool, agent_holds: bool, something_plays: bool) -> CallerHears {
    if bridged && !agent_holds {
        CallerHears::Agent
    } else if something_plays {
        CallerHears::Played
    } else {
        CallerHears::Silence
    }
}

/// When a caller queued on music hears their place: first `first_ms`
/// after queuing, then every `every_ms`, and never while anything else
/// plays or a queue flow runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Announcements {
    first_ms: u64,
    every_ms: u64,
    next_ms: Option<u64>,
}

impl Announcements {
    pub(crate) fn new(first_ms: u64, every_ms: u64) -> Self {
        Self {
            first_ms,
            every_ms,
            next_ms: None,
        }
    }

    /// The caller was queued on music at `now_ms`.
    pub(crate) fn start(&mut self, now_ms: u64) {
        self.next_ms = Some(now_ms + self.first_ms);
    }

    /// The caller left the queue: no more announcements.
    pub(crate) fn stop(&mut self) {
        self.next_ms = None;
    }

    /// Whether to announce now; `on_music` says the caller hears only the
    /// queue's music (no queue flow, no prompt). An announcement due while
    /// something else plays waits for the music.
    pub(crate) fn due(&mut self, now_ms: u64, on_music: bool) -> bool {
        match self.next_ms {
            Some(at) if on_music && now_ms >= at => {
                self.next_ms = Some(now_ms + self.every_ms);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: u64 = 60_000;

    #[test]
    fn the_watchdog_ends_a_call_only_after_a_whole_timeout_of_silence() {
        // (now, packets so far, caller holds, session expired) -> verdict
        let table: &[(u64, u64, bool, bool, Option<Lost>)] = &[
            (20, 1, false, false, None),
            (30_000, 1, false, false, None),
            (60_019, 1, false, false, None),
            (60_020, 1, false, false, Some(Lost::MediaStopped)),
        ];
        let mut dog = Watchdog::new(0, TIMEOUT);
        for &(now, packets, held, expired, want) in table {
            assert_eq!(dog.tick(now, packets, held, expired), want, "at {now}");
        }
    }

    #[test]
    fn a_packet_starts_the_count_again() {
        let mut dog = Watchdog::new(0, TIMEOUT);
        assert_eq!(dog.tick(59_000, 5, false, false), None);
        assert_eq!(dog.tick(118_999, 5, false, false), None);
        assert_eq!(dog.tick(119_000, 5, false, false), Some(Lost::MediaStopped));
    }

    #[test]
    fn a_caller_who_holds_may_stay_silent() {
        let mut dog = Watchdog::new(0, TIMEOUT);
        assert_eq!(dog.tick(600_000, 0, true, false), None);
        // Resumed without media: silence is counted from the start, as the
        // hold did not restart it (a re-INVITE does, through `restart`).
        assert_eq!(dog.tick(600_020, 0, false, false), Some(Lost::MediaStopped));
        dog.restart(600_020, 0);
        assert_eq!(dog.tick(600_040, 0, false, false), None);
    }

    #[test]
    fn an_expired_session_timer_ends_the_call_whatever_the_media() {
        let mut dog = Watchdog::new(0, TIMEOUT);
        assert_eq!(dog.tick(20, 1, false, true), Some(Lost::SessionExpired));
        assert_eq!(dog.tick(40, 2, true, true), Some(Lost::SessionExpired));
    }

    #[test]
    fn what_the_caller_hears() {
        // (bridged, agent holds, something plays) -> hears
        let table = [
            (false, false, false, CallerHears::Silence),
            (false, false, true, CallerHears::Played),
            (false, true, true, CallerHears::Played),
            (true, false, false, CallerHears::Agent),
            (true, false, true, CallerHears::Agent),
            (true, true, true, CallerHears::Played),
            (true, true, false, CallerHears::Silence),
        ];
        for (bridged, holds, plays, want) in table {
            assert_eq!(
                caller_hears(bridged, holds, plays),
                want,
                "bridged {bridged}, agent holds {holds}, plays {plays}"
            );
        }
    }

    #[test]
    fn announcements_come_first_after_five_seconds_then_every_minute_on_music_only() {
        let mut a = Announcements::new(5_000, 60_000);
        assert!(!a.due(10_000, true), "not queued yet");
        a.start(1_000);
        // (now, on music) -> announce
        let table = [
            (5_999, true, false),
            (6_000, true, true),
            (6_020, true, false),
            (66_000, false, false),
            (66_020, true, true),
            (126_000, true, false),
            (126_020, true, true),
        ];
        for (now, on_music, want) in table {
            assert_eq!(a.due(now, on_music), want, "at {now}");
        }
        a.stop();
        assert!(!a.due(1_000_000, true), "after leaving the queue");
    }
}
