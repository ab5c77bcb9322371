//! DTMF: RFC 4733 telephone-events in, digits out, and the collector that
//! answers GetParticipantInput.

/// One RFC 4733 event payload (4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The RFC 4733 event code: 0-9 for the digits, 10 for *, 11 for #, 12-15 for A-D;
    /// other codes are not DTMF keys (see `digit_of`).
    pub event: u8,
    /// The E bit: set on the final packets of the event (sent three times).
    pub end: bool,
    /// Power level in dBm0 with the sign dropped (0 to 63, meaning 0 to -63 dBm0).
    /// Only the low 6 bits are kept.
    pub volume: u8,
    /// How long the event has lasted so far, in RTP timestamp units (8 kHz samples)
    /// from the packet's RTP timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first 4 bytes of a telephone-event payload; `None` if it is shorter.
    /// The reserved R bit is ignored.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [event, flags, d1, d2, ..] = *payload else {
            return None;
        };
        Some(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d1, d2]),
        })
    }

    /// The 4-byte payload, with the reserved bit clear and `volume` cut to 6 bits.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The key pressed, for the 16 DTMF events (0-9, *, #, A-D).
    pub fn digit(self) -> Option<char> {
        digit_of(self.event)
    }
}

/// The key for an RFC 4733 event code (0-9, *, #, A-D); `None` for any other event.
pub fn digit_of(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => (b'0' + event) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + event - 12) as char,
        _ => return None,
    })
}

/// The RFC 4733 event code for a key; `None` for anything but 0-9, *, # and
/// upper-case A-D.
pub fn event_of(digit: char) -> Option<u8> {
    Some(match digit {
        '0'..='9' => digit as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => digit as u8 - b'A' + 12,
        _ => return None,
    })
}

/// How long a key sent by [`DigitSender`] sounds, in 8 kHz samples (100 ms:
/// IVRs want 40 ms at least; phones send 100 or so).
pub const KEY_SAMPLES: u32 = 800;
/// The pause after a key before the next, in 8 kHz samples (60 ms).
pub const GAP_SAMPLES: u32 = 480;
/// Keys waiting to be sent at most (a pasted number; more is refused).
pub const MAX_QUEUED_KEYS: usize = 64;
/// The power level keys are sent at: -10 dBm0, as phones send.
const KEY_VOLUME: u8 = 10;

/// Why keys could not be queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigitError {
    /// Not a DTMF key (0-9, *, #, A-D).
    #[error("'{0}' is not a key: 0-9, *, # and A-D are")]
    NotAKey(char),
    /// More than [`MAX_QUEUED_KEYS`] would be waiting.
    #[error("at most {MAX_QUEUED_KEYS} keys may wait to be sent")]
    TooMany,
}

/// The RFC 4733 event codes of `keys`; the first that is not a key is refused.
pub fn events_of(keys: &str) -> Result<Vec<u8>, DigitError> {
    keys.chars()
        .map(|k| event_of(k).ok_or(DigitError::NotAKey(k)))
        .collect()
}

/// One 20 ms tick's worth of a key being sent: the RFC 4733 packet (sent
/// `copies` times: the end of a key goes three times, RFC 4733 section
/// 2.5.1.4), with the RTP timestamp of the key's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// The telephone-event payload.
    pub payload: [u8; 4],
    /// Set on the first packet of a key.
    pub marker: bool,
    /// The key's start, in the stream's RTP clock.
    pub timestamp: u32,
    /// How many times to send it.
    pub copies: u8,
}

/// Keys sent to a peer as RFC 4733 telephone-events (the agent working a
/// third party's IVR): each key for [`KEY_SAMPLES`] with an update every
/// tick, its end three times, then [`GAP_SAMPLES`] of pause. While a key
/// sounds, the leg sends no audio (the peer hears the key alone).
#[derive(Debug, Default, Clone)]
pub struct DigitSender {
    queue: std::collections::VecDeque<u8>,
    /// The key sounding: its event code, start timestamp, samples so far.
    current: Option<(u8, u32, u32)>,
    /// Samples of pause left before the next key.
    gap: u32,
}

impl DigitSender {
    /// Queues `keys` (all or none).
    pub fn push(&mut self, keys: &str) -> Result<(), DigitError> {
        let events = events_of(keys)?;
        if self.queue.len() + events.len() > MAX_QUEUED_KEYS {
            return Err(DigitError::TooMany);
        }
        self.queue.extend(events);
        Ok(())
    }

    /// Whether a key sounds now (audio waits).
    pub fn sounding(&self) -> bool {
        self.current.is_some()
    }

    /// Whether anything is left to send or to wait for.
    pub fn busy(&self) -> bool {
        self.current.is_some() || self.gap > 0 || !self.queue.is_empty()
    }

    /// One tick of `samples` (160 for 20 ms) at RTP time `now`: the packet
    /// to send, if a key sounds.
    pub fn tick(&mut self, now: u32, samples: u32) -> Option<EventPacket> {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap = self.gap.saturating_sub(samples);
                return None;
            }
            let event = self.queue.pop_front()?;
            self.current = Some((event, now, 0));
        }
        let (event, start, so_far) = self.current?;
        let duration = so_far + samples;
        let end = duration >= KEY_SAMPLES;
        let packet = EventPacket {
            payload: TelephoneEvent {
                event,
                end,
                volume: KEY_VOLUME,
                duration: duration.min(u32::from(u16::MAX)) as u16,
            }
            .to_bytes(),
            marker: so_far == 0,
            timestamp: start,
            copies: if end { 3 } else { 1 },
        };
        match end {
            true => {
                self.current = None;
                self.gap = GAP_SAMPLES;
            }
            false => self.current = Some((event, start, duration)),
        }
        Some(packet)
    }
}

/// Turns a stream of telephone-event packets into key presses, once each.
///
/// Every packet of one key press carries the same RTP timestamp (the start
/// of the event), and the end packet is sent three times. A press is
/// reported on the first packet we see of it, whichever that is, so lost,
/// late or repeated packets neither drop nor double a digit.
#[derive(Debug, Default, Clone)]
pub struct EventDetector {
    last: Option<(u32, u32)>,
}

impl EventDetector {
    /// One telephone-event packet (its SSRC, RTP timestamp and payload). Returns the key
    /// on the first packet of a new press; `None` for later packets of the same press,
    /// events that are not DTMF keys and payloads under 4 bytes.
    pub fn packet(&mut self, ssrc: u32, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload)?;
        let digit = event.digit()?;
        if self.last == Some((ssrc, timestamp)) {
            return None;
        }
        self.last = Some((ssrc, timestamp));
        Some(digit)
    }
}

/// How GetParticipantInput listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRules {
    /// The input ends as soon as this many keys are collected (0 counts as 1).
    /// The terminator is not counted.
    pub max_digits: u32,
    /// From the end of the prompt to the first key.
    pub first_digit_timeout_ms: u64,
    /// Between keys, once the caller has started.
    pub inter_digit_timeout_ms: u64,
    /// A key that ends the input early (it is not part of the input).
    pub terminator: Option<char>,
}

/// How one input ended: what a `Collector` returns, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputOutcome {
    /// The keys pressed, in order, without the terminator; never empty. Given when
    /// `max_digits` is reached, the terminator is pressed, or the inter-digit timeout
    /// passes.
    Digits(String),
    /// Nothing was pressed in time.
    Timeout,
}

/// Collects one input. Keys pressed while the prompt still plays count
/// (barge-in); the first-digit clock starts when the prompt ends.
#[derive(Debug, Clone)]
pub struct Collector {
    rules: InputRules,
    digits: String,
    deadline: Option<u64>,
    done: bool,
}

impl Collector {
    /// A collector for one input. No clock runs until `prompt_finished`.
    pub fn new(rules: InputRules) -> Self {
        Self {
            rules,
            digits: String::new(),
            deadline: None,
            done: false,
        }
    }

    /// The prompt finished at `now_ms`.
    pub fn prompt_finished(&mut self, now_ms: u64) {
        if self.digits.is_empty() && self.deadline.is_none() {
            self.deadline = Some(now_ms + self.rules.first_digit_timeout_ms);
        }
    }

    /// A key pressed at `now_ms`. Returns the outcome if this key ends the input
    /// (the terminator, or the `max_digits`th key), otherwise starts the inter-digit
    /// clock. The terminator before any key gives `Timeout`. Ignored once finished.
    pub fn digit(&mut self, key: char, now_ms: u64) -> Option<InputOutcome> {
        if self.done {
            return None;
        }
        if Some(key) == self.rules.terminator {
            return self.finish_with_digits();
        }
        self.digits.push(key);
        if self.digits.len() as u32 >= self.rules.max_digits.max(1) {
            return self.finish_with_digits();
        }
        self.deadline = Some(now_ms + self.rules.inter_digit_timeout_ms);
        None
    }

    /// Call when `deadline()` has passed.
    pub fn poll(&mut self, now_ms: u64) -> Option<InputOutcome> {
        match self.deadline {
            Some(at) if !self.done && now_ms >= at => {
                if self.digits.is_empty() {
                    self.done = true;
                    Some(InputOutcome::Timeout)
                } else {
                    self.finish_with_digits()
                }
            }
            _ => None,
        }
    }

    /// When to call `poll` next, in the same ms clock as `now_ms`. `None` while the
    /// prompt plays and no key has been pressed, and once the input has finished.
    pub fn deadline(&self) -> Option<u64> {
        if self.done {
            None
        } else {
            self.deadline
        }
    }

    /// Whether any key has been pressed (the prompt should stop).
    pub fn started(&self) -> bool {
        !self.digits.is_empty()
    }

    fn finish_with_digits(&mut self) -> Option<InputOutcome> {
        self.done = true;
        if self.digits.is_empty() {
            Some(InputOutcome::Timeout)
        } else {
            Some(InputOutcome::Digits(std::mem::take(&mut self.digits)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_sent_for_100_ms_with_its_end_three_times_then_a_pause() {
        let mut sender = DigitSender::default();
        sender.push("5#").unwrap();
        let mut packets = Vec::new();
        let mut now = 1_000u32;
        for _ in 0..20 {
            packets.push(sender.tick(now, 160));
            now += 160;
        }
        // Five ticks of '5' from timestamp 1000, the first marked, the last the end.
        let five: Vec<_> = packets[..5].iter().map(|p| p.unwrap()).collect();
        assert!(five
            .iter()
            .all(|p| p.timestamp == 1_000 && p.payload[0] == 5));
        assert!(five[0].marker && !five[1].marker);
        let last = TelephoneEvent::parse(&five[4].payload).unwrap();
        assert!(last.end && last.duration == 800 && five[4].copies == 3);
        assert!(!TelephoneEvent::parse(&five[3].payload).unwrap().end);
        // 60 ms of pause, then '#' from its own start.
        assert_eq!(&packets[5..8], &[None, None, None]);
        let hash = packets[8].unwrap();
        assert_eq!(
            (hash.payload[0], hash.timestamp, hash.marker),
            (11, 1_000 + 8 * 160, true)
        );
        // Both detected once each by a receiver.
        let mut detector = EventDetector::default();
        let heard: String = packets
            .iter()
            .flatten()
            .filter_map(|p| detector.packet(1, p.timestamp, &p.payload))
            .collect();
        assert_eq!(heard, "5#");
        assert!(!sender.busy());
    }

    #[test]
    fn what_is_not_a_key_or_too_much_is_refused_whole() {
        let mut sender = DigitSender::default();
        assert_eq!(sender.push("12x"), Err(DigitError::NotAKey('x')));
        assert!(!sender.busy(), "nothing of a refused push is queued");
        assert_eq!(sender.push(&"1".repeat(65)), Err(DigitError::TooMany));
        sender.push(&"1".repeat(64)).unwrap();
        assert_eq!(sender.push("1"), Err(DigitError::TooMany));
    }

    fn ev(event: u8, end: bool) -> [u8; 4] {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration: 800,
        }
        .to_bytes()
    }

    #[test]
    fn each_press_counts_once_whatever_packets_arrive() {
        let mut d = EventDetector::default();
        // Press 1: start, continuation, three end packets.
        assert_eq!(d.packet(9, 1000, &ev(1, false)), Some('1'));
        assert_eq!(d.packet(9, 1000, &ev(1, false)), None);
        for _ in 0..3 {
            assert_eq!(d.packet(9, 1000, &ev(1, true)), None);
        }
        // Press 2 whose start packets were lost: the end still counts.
        assert_eq!(d.packet(9, 5000, &ev(2, true)), Some('2'));
        // Same key again is a new press (new timestamp).
        assert_eq!(d.packet(9, 9000, &ev(2, false)), Some('2'));
        assert_eq!(d.packet(9, 9000, &[1, 2]), None, "short payload");
        assert_eq!(d.packet(9, 12000, &ev(11, false)), Some('#'));
        assert_eq!(d.packet(9, 13000, &ev(40, false)), None, "not a DTMF event");
    }

    fn rules(max: u32) -> InputRules {
        InputRules {
            max_digits: max,
            first_digit_timeout_ms: 5_000,
            inter_digit_timeout_ms: 3_000,
            terminator: Some('#'),
        }
    }

    #[test]
    fn menu_choice_ends_at_the_first_key_even_during_the_prompt() {
        let mut c = Collector::new(rules(1));
        assert_eq!(c.digit('2', 100), Some(InputOutcome::Digits("2".into())));
        c.prompt_finished(2_000);
        assert_eq!(c.poll(10_000), None);
    }

    #[test]
    fn first_digit_timeout_counts_from_the_end_of_the_prompt() {
        let mut c = Collector::new(rules(1));
        assert_eq!(c.poll(60_000), None, "no clock while the prompt plays");
        c.prompt_finished(60_000);
        assert_eq!(c.deadline(), Some(65_000));
        assert_eq!(c.poll(64_999), None);
        assert_eq!(c.poll(65_000), Some(InputOutcome::Timeout));
        assert_eq!(c.poll(70_000), None, "once");
    }

    #[test]
    fn terminator_and_inter_digit_timeout_end_longer_input() {
        let mut c = Collector::new(rules(10));
        c.prompt_finished(0);
        assert_eq!(c.digit('1', 1_000), None);
        assert_eq!(c.digit('2', 2_000), None);
        assert_eq!(c.digit('#', 2_500), Some(InputOutcome::Digits("12".into())));

        let mut c = Collector::new(rules(10));
        c.prompt_finished(0);
        c.digit('4', 1_000);
        c.digit('2', 3_900);
        assert_eq!(c.poll(6_899), None);
        assert_eq!(c.poll(6_900), Some(InputOutcome::Digits("42".into())));

        let mut c = Collector::new(rules(3));
        c.prompt_finished(0);
        assert_eq!(
            c.digit('#', 100),
            Some(InputOutcome::Timeout),
            "terminator alone is no input"
        );
    }
}
