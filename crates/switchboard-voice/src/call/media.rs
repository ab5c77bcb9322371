//! The call's media: what each RTP datagram and each 20 ms tick does (the
//! caller's keys, relaying between the legs, the recording, prompts and
//! music ending, the queue's announcements, the media watchdog and the
//! session timer). The rules a tick decides are `tick`'s, pure and
//! table-tested; this is where they meet the sockets.

use super::*;

use rsipstack::sip::Header;
use switchboard_contact::{Input, Phase};
use switchboard_flow::Event;
use switchboard_media::dtmf::InputOutcome;
use switchboard_media::g711::Law;
use switchboard_media::recording::{Recorder, Side};
use switchboard_media::Wideband;
use switchboard_media::FRAME_SAMPLES;
use switchboard_model::contact_record::DisconnectReason;
use tracing::warn;

use crate::agent_media::relay;
use crate::leg::Heard;

/// Records what `side` said: as it was heard when wideband, else in `law`.
fn record(
    rec: &mut Recorder,
    side: Side,
    at_ms: u64,
    law: Law,
    payload: &[u8],
    wide: Option<&Wideband>,
) {
    match wide {
        Some(w) => rec.push_wideband(side, at_ms, &w.samples),
        None => rec.push(side, at_ms, &law.decode_all(payload)),
    }
}

/// What the caller's media waits for (the contact's own waits, timers and
/// loops' interrupts, are the contact core's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    Nothing,
    /// A prompt plays for flow request `request`; its playout generation.
    Prompt {
        request: u64,
        generation: u64,
    },
    /// A GetParticipantInput's prompt plays; the collector answers.
    Input,
    /// A loop, or the queue's music.
    Loop,
    /// A queue announcement plays; music resumes after it.
    Announcement(u64),
    /// A bot's line plays for core request `request`; its playout generation.
    BotLine {
        request: u64,
        generation: u64,
    },
}

impl Call {
    pub(super) fn heard_customer(&mut self, heard: Heard) {
        match heard {
            Heard::Digit(d) => self.on_digit(d),
            Heard::Audio(payload, wide) => {
                if self.listener.is_some() {
                    let samples = self.customer.law().decode_all(&payload);
                    self.bot_hears(&samples);
                }
                if let Some(stream) = &mut self.stream {
                    stream.from_customer(&self.customer.law().decode_all(&payload));
                }
                if let Some(rec) = &mut self.recorder {
                    record(
                        rec,
                        Side::Customer,
                        self.at_ms,
                        self.customer.law(),
                        &payload,
                        wide.as_ref(),
                    );
                }
                if self.bridged() {
                    if let Some(agent) = &mut self.agent {
                        if agent.on_hold_since.is_none() && agent.whispering.is_none() {
                            relay(
                                &payload,
                                self.customer.law(),
                                wide.as_ref(),
                                &mut agent.media,
                            );
                        }
                    }
                }
            }
            Heard::Nothing => {}
        }
    }

    pub(super) fn heard_agent_phone(&mut self, from: std::net::SocketAddr, datagram: &[u8]) {
        let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) else {
            return;
        };
        match leg.heard(from, datagram) {
            Heard::Audio(payload, wide) => {
                let law = leg.law();
                self.heard_agent(law, &payload, wide.as_ref());
            }
            // A key on the agent's desk phone goes to the other party, as
            // on a PBX (working a third party's IVR).
            Heard::Digit(key) => {
                let talking = self.bridged()
                    && self
                        .agent
                        .as_ref()
                        .is_some_and(|a| a.on_hold_since.is_none() && a.whispering.is_none());
                if talking {
                    let _ = self.customer.send_keys(&key.to_string());
                }
            }
            Heard::Nothing => {}
        }
    }

    /// The agent (or third party) spoke: to the caller and the recording.
    /// From the moment the call connects, the whisper too: it fills only the
    /// agent's ear, so a greeting said over it reaches the caller and the
    /// recording (it used to be dropped, cutting the first second or so).
    pub(super) fn heard_agent(&mut self, law: Law, payload: &[u8], wide: Option<&Wideband>) {
        let bridged = self.bridged();
        let Some(agent) = &mut self.agent else { return };
        if !bridged || agent.on_hold_since.is_some() || agent.muted {
            return;
        }
        if let Some(rec) = &mut self.recorder {
            record(rec, Side::Agent, self.at_ms, law, payload, wide);
        }
        if let Some(stream) = &mut self.stream {
            stream.to_customer(&law.decode_all(payload));
        }
        relay(payload, law, wide, &mut self.customer);
    }

    pub(super) fn on_digit(&mut self, digit: char) {
        if self.bot_key(digit) {
            return;
        }
        let now = self.now_ms();
        let Some((_, collector)) = &mut self.collector else {
            return;
        };
        let outcome = collector.digit(digit, now);
        if collector.started() {
            // Barge-in: the caller knows what they want.
            self.playout.stop();
            collector.prompt_finished(now);
        }
        if let Some(outcome) = outcome {
            self.input_done(outcome);
        }
    }

    /// The caller's keys (or their absence) answer the flow's question.
    pub(super) fn input_done(&mut self, outcome: InputOutcome) {
        let Some((request, _)) = self.collector.take() else {
            return;
        };
        self.playout.stop();
        self.media = Media::Nothing;
        let event = match outcome {
            InputOutcome::Digits(d) => Event::Input(d),
            InputOutcome::Timeout => Event::InputTimeout,
        };
        self.tell(Input::FlowAnswer { request, event });
    }

    pub(super) fn on_tick(&mut self) {
        self.customer.tick();
        if let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) {
            leg.tick();
        }
        let now = self.now_ms();
        let session_expired = self.session_timer.as_ref().is_some_and(|t| t.expired(now));
        match self.watchdog.tick(
            now,
            self.customer.packets_in,
            self.customer_held,
            session_expired,
        ) {
            Some(tick::Lost::SessionExpired) => {
                warn!(contact = %self.core.id(), "session timer expired without a refresh: ending the call");
                self.tell(Input::Lost(DisconnectReason::TelecomProblem));
                return;
            }
            Some(tick::Lost::MediaStopped) => {
                warn!(contact = %self.core.id(), "no RTP from the caller for {:?}: ending the call", self.voice.config().media_timeout);
                self.tell(Input::Lost(DisconnectReason::TelecomProblem));
                return;
            }
            None => {}
        }
        let tick = self.playout.tick();
        if let Some(a) = &mut self.agent {
            if let Some(whisper) = &mut a.whispering {
                let tick = whisper.tick();
                match tick.frame {
                    Some(frame) => a.media.send_samples(&frame),
                    None => a.whispering = None,
                }
                if tick.finished.is_some() {
                    a.whispering = None;
                }
            }
        }
        let agent_holds = self
            .agent
            .as_ref()
            .is_none_or(|a| a.on_hold_since.is_some());
        let hears = tick::caller_hears(self.bridged(), agent_holds, tick.frame.is_some());
        if hears != tick::CallerHears::Agent {
            // What a media stream's endpoint sent back comes first; then
            // what plays; else silence.
            let back = self.stream.as_ref().and_then(|s| s.take_back());
            let frame = match (back, &tick.frame) {
                (Some(back), _) => back,
                (None, Some(frame)) if hears == tick::CallerHears::Played => *frame,
                _ => [0; FRAME_SAMPLES],
            };
            self.customer.send_samples(&frame);
            if let Some(stream) = &mut self.stream {
                stream.to_customer(&frame);
            }
        }
        if self.stream.as_ref().is_some_and(|s| s.ended()) {
            self.stream = None;
        }
        if let Some(finished) = tick.finished {
            match self.media {
                Media::Announcement(g) if g == finished => self.play_music(),
                Media::Prompt {
                    request,
                    generation,
                } if generation == finished => {
                    self.media = Media::Nothing;
                    self.tell(Input::FlowAnswer {
                        request,
                        event: Event::PromptFinished,
                    });
                }
                Media::Input => {
                    if let Some((_, c)) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
                Media::BotLine {
                    request,
                    generation,
                } if generation == finished => {
                    self.media = Media::Nothing;
                    self.tell(Input::SayFinished { request });
                }
                _ => {}
            }
        }
        if let Some(outcome) = self.collector.as_mut().and_then(|(_, c)| c.poll(now)) {
            self.input_done(outcome);
        }
        self.bot_tick();
        let on_music = self.core.phase() == Phase::Queued
            && self.media == Media::Loop
            && !self.core.flow_running();
        if self.announcements.due(now, on_music) {
            self.announce();
        }
        // The contact's own timers (a Wait, a loop's interrupt): the clock
        // is read only when one is set.
        if let Some(at) = self.core.poll_timeout() {
            let now = self.at;
            if at <= now {
                self.core.handle_timeout(now);
                self.drive();
            }
        }
    }

    /// The queue's music, from the start, until something else plays.
    pub(super) fn play_music(&mut self) {
        self.playout
            .play(vec![self.voice.library().hold_music()], true);
        self.media = Media::Loop;
    }

    /// The caller refreshed the session (re-INVITE or UPDATE).
    pub(super) fn refresh_session_timer(&mut self) {
        let now = self.now_ms();
        if let Some(t) = &mut self.session_timer {
            t.refreshed(now);
        }
    }

    /// The flow started, changed or stopped streaming the caller's audio.
    pub(super) fn media_streaming(
        &mut self,
        directions: Option<switchboard_flow::model::StreamDirections>,
    ) {
        match (directions, &mut self.stream) {
            (None, _) => self.stream = None,
            (Some(d), Some(stream)) => stream.set_directions(d),
            (Some(d), None) => {
                let Some(streaming) = self.voice.streaming() else {
                    return;
                };
                let data = self.core.data();
                let start = crate::streaming::StreamStart {
                    contact_id: data.contact_id.clone(),
                    customer_endpoint: data.customer_address.clone(),
                    system_endpoint: data.system_address.clone(),
                };
                self.stream = streaming.start(start, d);
            }
        }
    }

    /// Starts the recording when the flow asked for one
    /// (UpdateContactRecordingBehavior): at 16 kHz when the caller and the
    /// agent's side both speak wideband, so it keeps what they heard.
    pub(super) fn start_recording(&mut self, now_ms: u64) {
        if self.core.data().recording.is_empty() {
            return;
        }
        let wideband =
            self.customer.wideband() && self.agent.as_ref().is_some_and(|a| a.media.wideband());
        match &mut self.recorder {
            None if wideband => self.recorder = Some(Recorder::wideband(now_ms)),
            None => self.recorder = Some(Recorder::new(now_ms)),
            // A transfer keeps the recording that is running.
            Some(recorder) if wideband => recorder.widen(),
            Some(_) => {}
        }
    }

    /// RFC 4028 section 9: every 2xx to a refresh repeats the interval, or
    /// the caller would take the timer as switched off.
    pub(super) fn session_timer_headers(&self) -> Vec<Header> {
        match &self.session_timer {
            Some(t) => vec![
                Header::SessionExpires(format!("{};refresher=uac", t.seconds()).into()),
                Header::Require("timer".into()),
            ],
            None => vec![],
        }
    }
}
