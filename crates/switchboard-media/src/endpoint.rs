//! Where a caller's utterance starts and ends, from the audio alone:
//! voice-activity detection for a bot that listens.
//!
//! Each 20 ms frame's energy is compared with a noise floor the endpointer
//! learns from the line itself (a quiet office and a noisy car differ by
//! 30 dB); speech is energy well above it. Speech that lasts long enough
//! starts an utterance (what came just before is kept, so the first
//! syllable is not cut); enough silence after it ends it. A caller who
//! says nothing in time, or talks past the longest utterance, is reported
//! too. The thresholds are Lex's defaults for voice (start 4 s, end 640 ms,
//! at most 15 s).
//!
//! An energy detector is written here rather than taken from a crate: the
//! maintained ones (WebRTC's VAD through C bindings, neural ones through
//! ONNX) bring a native library or a model for a decision that, on a
//! telephone line with a learned floor, is a few lines of arithmetic; and
//! this one is pure, so its timing is tested without a clock.

/// Samples in a 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
const FRAME_MS: u32 = 20;

/// How long to listen, and what counts as speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointConfig {
    /// No speech by then: [`EndpointEvent::NoSpeech`].
    pub start_timeout_ms: u32,
    /// Silence after speech that ends the utterance.
    pub end_silence_ms: u32,
    /// The longest utterance; it ends there.
    pub max_speech_ms: u32,
    /// Shorter bursts (a click, a cough) are not speech.
    pub min_speech_ms: u32,
    /// How far above the noise floor speech is, in dB.
    pub above_floor_db: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            start_timeout_ms: 4000,
            end_silence_ms: 640,
            max_speech_ms: 15_000,
            min_speech_ms: 100,
            above_floor_db: 12.0,
        }
    }
}

/// What the endpointer heard.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// The caller started speaking (a prompt playing now should stop: barge-in).
    SpeechStarted,
    /// A whole utterance: 8 kHz samples from just before it started to its end.
    Utterance(Vec<i16>),
    /// Nothing was said before the start timeout.
    NoSpeech,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    /// Speech-like frames, not yet long enough to count.
    Onset {
        frames: u32,
    },
    Speaking,
    Done,
}

/// The first frames only learn the line's floor (200 ms): a steady hum
/// there is the line, not the caller.
const CALIBRATION_FRAMES: u32 = 10;
/// Pre-roll kept before speech starts, in frames (200 ms).
const PRE_ROLL_FRAMES: usize = 10;
/// The quietest floor assumed, in dBFS (digital silence would make any hiss speech).
const MIN_FLOOR_DB: f32 = -70.0;
/// Energy below this is never speech, in dBFS.
const MIN_SPEECH_DB: f32 = -50.0;

/// One utterance's detection; make a new one for the next turn.
#[derive(Debug, Clone)]
pub struct Endpointer {
    config: EndpointConfig,
    state: State,
    floor_db: f32,
    elapsed_ms: u32,
    speech_ms: u32,
    silence_ms: u32,
    pre_roll: std::collections::VecDeque<Vec<i16>>,
    audio: Vec<i16>,
}

/// A frame's energy in dB relative to full scale.
pub fn energy_db(frame: &[i16]) -> f32 {
    if frame.is_empty() {
        return MIN_FLOOR_DB;
    }
    let sum: f64 = frame.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    let rms = (sum / frame.len() as f64).sqrt() / 32768.0;
    if rms <= 0.0 {
        return -100.0;
    }
    (20.0 * rms.log10()) as f32
}

impl Endpointer {
    /// Listening starts now.
    pub fn new(config: EndpointConfig) -> Endpointer {
        Endpointer {
            config,
            state: State::Waiting,
            floor_db: 0.0,
            elapsed_ms: 0,
            speech_ms: 0,
            silence_ms: 0,
            pre_roll: std::collections::VecDeque::new(),
            audio: Vec::new(),
        }
    }

    /// Whether the caller is speaking now.
    pub fn speaking(&self) -> bool {
        self.state == State::Speaking
    }

    /// Takes the next 20 ms frame (160 samples at 8 kHz); says what it means, if anything.
    pub fn push(&mut self, frame: &[i16]) -> Option<EndpointEvent> {
        if self.state == State::Done {
            return None;
        }
        self.elapsed_ms += FRAME_MS;
        let db = energy_db(frame);
        if self.elapsed_ms <= CALIBRATION_FRAMES * FRAME_MS {
            self.floor_db = self.floor_db.min(db).max(MIN_FLOOR_DB);
            self.pre_roll.push_back(frame.to_vec());
            return None;
        }
        let threshold = (self.floor_db + self.config.above_floor_db).max(MIN_SPEECH_DB);
        let loud = db > threshold;
        match self.state {
            State::Waiting | State::Onset { .. } => {
                if !loud {
                    // The floor follows quiet frames: down at once, up slowly.
                    self.floor_db = if db < self.floor_db {
                        db.max(MIN_FLOOR_DB)
                    } else {
                        0.95 * self.floor_db + 0.05 * db
                    };
                }
                self.pre_roll.push_back(frame.to_vec());
                if self.pre_roll.len() > PRE_ROLL_FRAMES {
                    self.pre_roll.pop_front();
                }
                let frames = match (self.state, loud) {
                    (State::Onset { frames }, true) => frames + 1,
                    (_, true) => 1,
                    _ => 0,
                };
                if frames * FRAME_MS >= self.config.min_speech_ms {
                    self.state = State::Speaking;
                    self.audio = self.pre_roll.drain(..).flatten().collect();
                    // The pre-roll counts: an utterance is never longer than the longest.
                    self.speech_ms = (self.audio.len() / 8) as u32;
                    self.silence_ms = 0;
                    return Some(EndpointEvent::SpeechStarted);
                }
                self.state = if frames > 0 {
                    State::Onset { frames }
                } else {
                    State::Waiting
                };
                if self.elapsed_ms >= self.config.start_timeout_ms && frames == 0 {
                    self.state = State::Done;
                    return Some(EndpointEvent::NoSpeech);
                }
                None
            }
            State::Speaking => {
                self.audio.extend_from_slice(frame);
                self.speech_ms += FRAME_MS;
                self.silence_ms = if loud { 0 } else { self.silence_ms + FRAME_MS };
                if self.silence_ms >= self.config.end_silence_ms
                    || self.speech_ms >= self.config.max_speech_ms
                {
                    self.state = State::Done;
                    return Some(EndpointEvent::Utterance(std::mem::take(&mut self.audio)));
                }
                None
            }
            State::Done => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` of a 300 Hz tone at `amplitude`, with low noise under it, as frames.
    fn sound(ms: u32, amplitude: f32, seed: &mut u32) -> Vec<Vec<i16>> {
        let n = (ms / FRAME_MS) as usize;
        (0..n)
            .map(|f| {
                (0..FRAME)
                    .map(|i| {
                        *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        let noise = ((*seed >> 16) % 200) as f32 - 100.0;
                        let t = (f * FRAME + i) as f32 / 8000.0;
                        (amplitude * (2.0 * std::f32::consts::PI * 300.0 * t).sin() + noise) as i16
                    })
                    .collect()
            })
            .collect()
    }

    fn run(e: &mut Endpointer, frames: &[Vec<i16>]) -> Vec<EndpointEvent> {
        frames.iter().filter_map(|f| e.push(f)).collect()
    }

    #[test]
    fn an_utterance_between_silences_is_found_with_what_came_just_before() {
        let mut seed = 1;
        let mut e = Endpointer::new(EndpointConfig::default());
        let mut frames = sound(500, 0.0, &mut seed);
        frames.extend(sound(1200, 8000.0, &mut seed));
        frames.extend(sound(1000, 0.0, &mut seed));
        let events = run(&mut e, &frames);
        assert_eq!(events[0], EndpointEvent::SpeechStarted);
        let EndpointEvent::Utterance(audio) = &events[1] else {
            panic!("{events:?}")
        };
        // 1.2 s of speech, the pre-roll before it and the 640 ms of silence that ended it.
        let ms = audio.len() as u32 / 8;
        assert!(
            (1200 + 640..=1200 + 640 + 200 + 120).contains(&ms),
            "{ms} ms"
        );
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn a_caller_who_says_nothing_times_out() {
        let mut seed = 2;
        let mut e = Endpointer::new(EndpointConfig::default());
        let events = run(&mut e, &sound(5000, 0.0, &mut seed));
        assert_eq!(events, [EndpointEvent::NoSpeech]);
    }

    #[test]
    fn a_click_is_not_speech_but_a_loud_line_learns_its_floor() {
        let mut seed = 3;
        let mut e = Endpointer::new(EndpointConfig::default());
        // A 40 ms click, then steady hum (a car) well above digital silence.
        let mut frames = sound(40, 12000.0, &mut seed);
        frames.extend(sound(3000, 600.0, &mut seed));
        // Speech over the hum.
        frames.extend(sound(800, 9000.0, &mut seed));
        frames.extend(sound(800, 600.0, &mut seed));
        let events = run(&mut e, &frames);
        assert_eq!(
            events.first(),
            Some(&EndpointEvent::SpeechStarted),
            "{events:?}"
        );
        assert!(
            matches!(events.get(1), Some(EndpointEvent::Utterance(_))),
            "{events:?}"
        );
    }

    #[test]
    fn a_caller_who_never_stops_is_cut_at_the_longest_utterance() {
        let mut seed = 4;
        let mut e = Endpointer::new(EndpointConfig {
            max_speech_ms: 2000,
            ..Default::default()
        });
        let mut frames = sound(300, 0.0, &mut seed);
        frames.extend(sound(4000, 8000.0, &mut seed));
        let events = run(&mut e, &frames);
        let EndpointEvent::Utterance(audio) = &events[1] else {
            panic!("{events:?}")
        };
        assert!(audio.len() as u32 / 8 <= 2000, "{} ms", audio.len() / 8);
        assert_eq!(e.push(&[0; FRAME]), None, "done after one utterance");
    }
}
