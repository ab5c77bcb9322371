//! One call: a tokio task that owns the customer leg, the agent leg when
//! there is one, the flow session, the media tick and the recording.
//!
//! The task is a loop over four kinds of input: a datagram on either RTP
//! socket, the 20 ms tick, a message from outside (SIP dialog changes,
//! routing decisions, answers to effects it started), and nothing else.
//! Slow work (text-to-speech, the store, HTTP functions, INVITEs to
//! agents) runs in spawned tasks that post their answer back as a
//! [`CallInput`], so the media never waits for it.
//!
//! This module holds the call's state and its main loop (the media, the
//! tick, inputs); the rest is split by concern:
//!
//! - `tick`: what a tick decides without a clock or a socket (when the call
//!   has lost its caller, what the caller hears, when a queue announcement
//!   is due), pure and table-tested;
//! - `flow`: the flow sessions, their effects and audio, the queue's music;
//! - `agent`: routing's decisions and the agent's leg (desk phone, external
//!   number, browser), re-INVITEs and hold, the agent's actions;
//! - `transfer`: cold transfers and transfers to a queue;
//! - `end`: who left, the recording, the final record.

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_server::chat::CardState;

use chrono::{DateTime, Utc};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transport::SipAddr;
use switchboard_contact::{Contact, ContactInit, Decision, Input, Outbound, Output, Phase};
use switchboard_flow::model::Participant;
use switchboard_flow::{ContactData, Effect, Event};
use switchboard_media::dtmf::{Collector, InputOutcome, InputRules};
use switchboard_media::g711::Law;
use switchboard_media::playout::{Clip, Playout};
use switchboard_media::recording::{Recorder, Side};
use switchboard_media::sdp::{self, Direction, RemoteAudio};
use switchboard_media::FRAME_SAMPLES;
use switchboard_model::contact_record::{
    AgentInfo, CallQuality, DisconnectReason, Endpoint, InitiationMethod, RecordingInfo,
};
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::objects::user::PhoneType;
use switchboard_model::{ContactRecord, User};
use switchboard_routing::Refusal;
use switchboard_server::flow_shell;
use switchboard_server::routing::{RoutingEvent, RoutingUpdate};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::agent_media::{relay, AgentMedia, BrowserLeg};
use crate::leg::{Heard, Leg};
use crate::session_timer::SessionTimer;
use crate::sip::{Voice, VoiceStats};
use crate::softphone::ContactView;

pub(super) mod agent;
mod drive;
mod end;
mod flow;
mod tick;
mod transfer;

/// Seconds we ring an agent's phone; the router's offer timeout usually
/// ends the ringing first (the agent is then Missed).
const AGENT_RING_SECONDS: u64 = 60;
/// RTCP reports every 5 s (250 ticks of 20 ms), RFC 3550's usual interval.
const RTCP_EVERY_TICKS: u64 = 250;
/// A caller queued on music hears their position this long after queuing,
/// then every `ANNOUNCE_EVERY_MS`.
const FIRST_ANNOUNCEMENT_MS: u64 = 5_000;
const ANNOUNCE_EVERY_MS: u64 = 60_000;
/// A GetParticipantInput without its own inter-digit timeout waits this long between keys.
const INTER_DIGIT_MS: u64 = 5_000;

/// Everything that reaches a call from outside its sockets.
pub enum CallInput {
    /// A dialog of this call ended (BYE, CANCEL, timeout), by SIP Call-ID.
    DialogEnded {
        call_id: String,
        reason: String,
    },
    /// A re-INVITE on a leg: new SDP, and where to send our answer.
    Reinvite {
        call_id: String,
        sdp: Vec<u8>,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    },
    /// A session refresh (UPDATE without an offer) on a leg, to answer.
    Refreshed {
        call_id: String,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    },
    /// A key pressed, sent as SIP INFO (the fallback for phones without RFC 4733).
    InfoDigit {
        call_id: String,
        digit: char,
    },
    Routing(RoutingUpdate),
    /// The answer to an effect handed to a spawned task.
    FlowEvent {
        request: u64,
        event: Event,
    },
    /// Audio to play, ready.
    Audio {
        request: u64,
        purpose: Purpose,
        result: Result<Vec<Clip>, crate::library::AudioFailure>,
    },
    /// The agent's phone answered, with its SDP, and the whisper the agent
    /// hears before the caller (the queue's name).
    AgentAnswered {
        agent: String,
        dialog: InviteDialog,
        sdp: Vec<u8>,
        whisper: Option<Clip>,
    },
    /// Call a third party for the flow's TransferToNumber.
    DialThirdParty {
        request: u64,
        route: Box<PhoneRoute>,
        number: String,
        ring: Duration,
        caller_id: Option<String>,
        continue_flow: bool,
    },
    /// A queue announcement to play over the music.
    Announcement {
        clip: Clip,
    },
    /// The flow asked for by request `request` (a transfer to a flow, the
    /// customer queue flow), or why it could not be loaded.
    FlowLoaded {
        request: u64,
        flow: Result<Arc<switchboard_flow::Flow>, String>,
    },
    /// A transfer to a number could not be placed (no route).
    ThirdPartyFailed,
    /// The whisper for a softphone agent, spoken.
    Whisper {
        agent: String,
        clip: Clip,
    },
    /// The agent did something in the CCP.
    Agent {
        agent: String,
        action: AgentAction,
    },
    /// The agent's phone did not answer (busy, declined, unreachable).
    AgentFailed {
        agent: String,
        status: Option<u16>,
        reason: String,
    },
}

/// What an agent can do to their contact from the CCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    Hold,
    Resume,
    End,
    /// Cut (or restore) the agent's microphone from the call.
    Mute(bool),
    /// Hand the caller to an external number and leave (a cold transfer).
    TransferToNumber(String),
    /// Put the caller in a queue (id, name) as a new contact and leave.
    TransferToQueue(String, String),
}

/// Why audio was fetched.
#[derive(Debug, Clone)]
pub enum Purpose {
    Prompt,
    Input(InputRules),
    /// A loop: its interrupt is the contact core's timer.
    Loop,
}

/// What the caller's media waits for (the contact's own waits, timers and
/// loops' interrupts, are the contact core's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
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
}

struct AgentLeg {
    agent: String,
    username: String,
    media: AgentMedia,
    /// Empty for a browser softphone.
    sip_call_id: String,
    dialog: Option<InviteDialog>,
    connected_at: Option<DateTime<Utc>>,
    on_hold_since: Option<Instant>,
    /// A third party the flow transferred to (not a routed agent); whether
    /// the flow continues when they hang up.
    third_party: Option<bool>,
    /// The agent whisper, until it plays when the call connects.
    whisper: Option<Clip>,
    /// Plays the whisper to the agent; the legs are joined when it ends.
    whispering: Option<Playout>,
    /// The agent muted their microphone: the caller (and the recording) hear silence.
    muted: bool,
}

pub struct Call {
    voice: Voice,
    customer_call_id: String,
    customer_dialog: InviteDialog,
    customer: Leg,
    agent: Option<AgentLeg>,
    inputs: mpsc::UnboundedReceiver<CallInput>,
    started: Instant,
    /// The contact's life (phases, flows, routing, the record): the core
    /// decides, this driver acts.
    core: Contact,
    /// The core said the contact ends: the loop stops and the call is torn down.
    ending: bool,
    playout: Playout,
    media: Media,
    /// Collects keys for flow request `.0`.
    collector: Option<(u64, Collector)>,
    enqueue_task: Option<tokio::task::JoinHandle<()>>,
    recorder: Option<Recorder>,
    records: switchboard_server::records::RecordWriter,
    /// Ends the call when the caller's RTP stops (or its session timer runs out).
    watchdog: tick::Watchdog,
    /// The caller put us on hold (re-INVITE sendonly/inactive): no media expected.
    customer_held: bool,
    session_timer: Option<SessionTimer>,
    /// When the caller queued on music next hears their position and wait.
    announcements: tick::Announcements,
    /// The external number the agent being rung is reached on (none for a
    /// registered desk phone or the browser), for their contact record.
    ringing_external: Option<String>,
    /// That agent's routing profile, read when the offer came (not when the
    /// call connects, so no store read delays the bridged audio).
    ringing_profile: Option<switchboard_model::contact_record::RoutingProfileRef>,
    /// The audio figures of the last agent or third party who was on the
    /// call (their leg is gone by the end).
    last_agent_quality: Option<switchboard_model::contact_record::LegQuality>,
}

pub struct NewCall {
    pub contact_id: String,
    pub customer_call_id: String,
    pub customer_dialog: InviteDialog,
    pub customer: Leg,
    pub inputs: mpsc::UnboundedReceiver<CallInput>,
    /// The flow the call starts in (none for an agent's outbound call).
    pub flow: Option<Arc<switchboard_flow::Flow>>,
    pub flow_id: Option<String>,
    pub customer_number: String,
    /// The session-timer interval agreed with the caller (RFC 4028).
    pub session_seconds: Option<u32>,
    pub system_number: String,
    /// An agent's outbound call: the agent, connected from the start.
    pub outbound: Option<OutboundAgent>,
}

/// The agent who placed an outbound call, and the queue it counts in (id, name).
pub struct OutboundAgent {
    pub agent: String,
    pub username: String,
    pub line: Arc<crate::softphone::Line>,
    pub queue: (String, String),
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

impl Call {
    /// Runs the call to its end. The customer leg has been answered.
    pub async fn run(voice: Voice, new: NewCall) {
        let started_at = now();
        let media_timeout_ms = voice.config().media_timeout.as_millis() as u64;
        let initiation_method = if new.outbound.is_some() {
            InitiationMethod::Outbound
        } else {
            InitiationMethod::Inbound
        };
        voice
            .app()
            .metrics
            .contact_started(Channel::Voice, initiation_method);
        let (records, writer) =
            switchboard_server::records::RecordWriter::start(voice.app().clone());
        let mut data =
            ContactData::voice(&new.contact_id, &new.customer_number, &new.system_number);
        let mut outbound_line = None;
        let outbound = match new.outbound {
            Some(o) => {
                // Outbound calls are recorded, both sides.
                data.recording = vec![Participant::Agent, Participant::Customer];
                let routing_profile = voice.app().routing_profile_of(&o.agent).await;
                outbound_line = Some(o.line);
                Some(Outbound {
                    agent: AgentInfo {
                        id: o.agent,
                        username: o.username,
                        routing_profile,
                        ..Default::default()
                    },
                    queue: o.queue,
                })
            }
            None => None,
        };
        let telephone = |address: &str| Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: address.to_string(),
        };
        let core = Contact::new(
            ContactInit {
                id: new.contact_id.clone(),
                channel: Channel::Voice,
                initiation_method,
                customer_endpoint: telephone(&new.customer_number),
                system_endpoint: telephone(&new.system_number),
                data,
                flow: new.flow,
                flow_id: new.flow_id,
                outbound,
                seed: rand::random(),
            },
            started_at,
        );
        let mut call = Call {
            voice,
            customer_call_id: new.customer_call_id,
            customer_dialog: new.customer_dialog,
            customer: new.customer,
            agent: None,
            inputs: new.inputs,
            started: Instant::now(),
            core,
            ending: false,
            playout: Playout::default(),
            media: Media::Nothing,
            collector: None,
            enqueue_task: None,
            recorder: None,
            records,
            watchdog: tick::Watchdog::new(0, media_timeout_ms),
            customer_held: false,
            session_timer: new.session_seconds.map(|s| SessionTimer::new(s, 0)),
            announcements: tick::Announcements::new(FIRST_ANNOUNCEMENT_MS, ANNOUNCE_EVERY_MS),
            ringing_external: None,
            ringing_profile: None,
            last_agent_quality: None,
        };
        if let Some(line) = outbound_line {
            call.connect_outbound(line);
        }
        call.drive().await;
        call.main_loop().await;
        call.finish().await;
        drop(call);
        let _ = writer.await;
    }

    /// The contact's id now (a transfer to a queue gives it the next one).
    fn id(&self) -> String {
        self.core.id().to_string()
    }

    /// Whether the caller is bridged to someone (an agent, a third party).
    fn bridged(&self) -> bool {
        matches!(self.core.phase(), Phase::WithAgent | Phase::WithThirdParty)
    }

    /// Hands `input` to the contact's core and acts on what follows.
    async fn tell(&mut self, input: Input) {
        self.core.handle(now(), input);
        self.drive().await;
    }

    /// The agent who placed this call is on it from the first moment.
    fn connect_outbound(&mut self, line: Arc<crate::softphone::Line>) {
        let id = self.id();
        let Some(agent) = self.core.agent().map(str::to_string) else {
            return;
        };
        let username = self
            .core
            .record()
            .agent
            .as_ref()
            .map(|a| a.username.clone())
            .unwrap_or_default();
        let from_browser = Some(line.bridge(&id));
        line.set_contact_state(&id, CardState::Connected);
        self.agent = Some(AgentLeg {
            agent,
            username,
            media: AgentMedia::Browser(BrowserLeg::new(line, from_browser, self.customer.law())),
            sip_call_id: String::new(),
            dialog: None,
            connected_at: Some(now()),
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        self.start_recording(self.now_ms());
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn main_loop(&mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut customer_buf = vec![0u8; 2048];
        let mut agent_buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 1500];
        let mut agent_rtcp_buf = vec![0u8; 1500];
        let mut ticks: u64 = 0;
        while !self.ending {
            let (agent_socket, agent_rtcp, from_browser) =
                match self.agent.as_mut().map(|a| &mut a.media) {
                    Some(AgentMedia::Phone(leg)) => {
                        (Some(&leg.socket), Some(&leg.rtcp_socket), None)
                    }
                    Some(AgentMedia::Browser(b)) => (None, None, b.from_browser.as_mut()),
                    None => (None, None, None),
                };
            tokio::select! {
                r = self.customer.rtcp_socket.recv_from(&mut rtcp_buf) => {
                    if let Ok((n, from)) = r {
                        self.customer.heard_rtcp(from, &rtcp_buf[..n]);
                    }
                }
                r = async { match agent_rtcp { Some(socket) => socket.recv_from(&mut agent_rtcp_buf).await, None => std::future::pending().await } }, if agent_rtcp.is_some() => {
                    if let Ok((n, from)) = r {
                                                if let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) {
                            leg.heard_rtcp(from, &agent_rtcp_buf[..n]);
                        }
                    }
                }
                r = self.customer.socket.recv_from(&mut customer_buf) => {
                    if let Ok((n, from)) = r {
                        let heard = self.customer.heard(from, &customer_buf[..n]);
                        self.heard_customer(heard).await;
                    }
                }
                                r = async { match agent_socket { Some(socket) => socket.recv_from(&mut agent_buf).await, None => std::future::pending().await } }, if agent_socket.is_some() => {
                    if let Ok((n, from)) = r {
                        self.heard_agent_phone(from, &agent_buf[..n]);
                    }
                }
                frame = async { match from_browser { Some(frames) => frames.recv().await, None => std::future::pending().await } }, if from_browser.is_some() => {
                    match frame {
                        Some((law, payload)) => {
                            if let Some(a) = &mut self.agent {
                                a.media.heard_browser();
                            }
                            self.heard_agent(law, &payload);
                        }
                        None => {
                            if let Some(AgentMedia::Browser(b)) = self.agent.as_mut().map(|a| &mut a.media) {
                                b.from_browser = None;
                            }
                        }
                    }
                }
                _ = tick.tick() => {
                    self.on_tick().await;
                    ticks += 1;
                    if ticks.is_multiple_of(RTCP_EVERY_TICKS) {
                        self.customer.send_rtcp();
                                                if let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) {
                            leg.send_rtcp();
                        }
                    }
                }
                input = self.inputs.recv() => match input {
                    Some(input) => self.on_input(input).await,
                    None => self.tell(Input::Lost(DisconnectReason::SystemError)).await,
                },
            }
        }
    }

    async fn heard_customer(&mut self, heard: Heard) {
        match heard {
            Heard::Digit(d) => self.on_digit(d).await,
            Heard::Audio(payload) => {
                if let Some(rec) = &mut self.recorder {
                    let at = self.started.elapsed().as_millis() as u64;
                    rec.push(
                        Side::Customer,
                        at,
                        &self.customer.law().decode_all(&payload),
                    );
                }
                if self.bridged() {
                    if let Some(agent) = &mut self.agent {
                        if agent.on_hold_since.is_none() && agent.whispering.is_none() {
                            relay(&payload, self.customer.law(), &mut agent.media);
                        }
                    }
                }
            }
            Heard::Nothing => {}
        }
    }

    fn heard_agent_phone(&mut self, from: std::net::SocketAddr, datagram: &[u8]) {
        let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) else {
            return;
        };
        if let Heard::Audio(payload) = leg.heard(from, datagram) {
            let law = leg.law();
            self.heard_agent(law, &payload);
        }
    }

    /// The agent (or third party) spoke: to the caller and the recording.
    /// From the moment the call connects, the whisper too: it fills only the
    /// agent's ear, so a greeting said over it reaches the caller and the
    /// recording (it used to be dropped, cutting the first second or so).
    fn heard_agent(&mut self, law: Law, payload: &[u8]) {
        let bridged = self.bridged();
        let Some(agent) = &mut self.agent else { return };
        if !bridged || agent.on_hold_since.is_some() || agent.muted {
            return;
        }
        if let Some(rec) = &mut self.recorder {
            let at = self.started.elapsed().as_millis() as u64;
            rec.push(Side::Agent, at, &law.decode_all(payload));
        }
        relay(payload, law, &mut self.customer);
    }

    async fn on_digit(&mut self, digit: char) {
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
            self.input_done(outcome).await;
        }
    }

    /// The caller's keys (or their absence) answer the flow's question.
    async fn input_done(&mut self, outcome: InputOutcome) {
        let Some((request, _)) = self.collector.take() else {
            return;
        };
        self.playout.stop();
        self.media = Media::Nothing;
        let event = match outcome {
            InputOutcome::Digits(d) => Event::Input(d),
            InputOutcome::Timeout => Event::InputTimeout,
        };
        self.tell(Input::FlowAnswer { request, event }).await;
    }

    async fn on_tick(&mut self) {
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
                self.tell(Input::Lost(DisconnectReason::TelecomProblem))
                    .await;
                return;
            }
            Some(tick::Lost::MediaStopped) => {
                warn!(contact = %self.core.id(), "no RTP from the caller for {:?}: ending the call", self.voice.config().media_timeout);
                self.tell(Input::Lost(DisconnectReason::TelecomProblem))
                    .await;
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
        match (
            tick::caller_hears(self.bridged(), agent_holds, tick.frame.is_some()),
            &tick.frame,
        ) {
            (tick::CallerHears::Agent, _) => {}
            (tick::CallerHears::Played, Some(frame)) => self.customer.send_samples(frame),
            (tick::CallerHears::Played | tick::CallerHears::Silence, _) => {
                self.customer.send_samples(&[0; FRAME_SAMPLES])
            }
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
                    })
                    .await;
                }
                Media::Input => {
                    if let Some((_, c)) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
                _ => {}
            }
        }
        if let Some(outcome) = self.collector.as_mut().and_then(|(_, c)| c.poll(now)) {
            self.input_done(outcome).await;
        }
        let on_music = self.core.phase() == Phase::Queued
            && self.media == Media::Loop
            && !self.core.flow_running();
        if self.announcements.due(now, on_music) {
            self.announce();
        }
        // The contact's own timers (a Wait, a loop's interrupt): the clock
        // is read only when one is set.
        if let Some(at) = self.core.poll_timeout() {
            let now = Utc::now();
            if at <= now {
                self.core.handle_timeout(now);
                self.drive().await;
            }
        }
    }

    /// The queue's music, from the start, until something else plays.
    fn play_music(&mut self) {
        self.playout
            .play(vec![self.voice.library().hold_music()], true);
        self.media = Media::Loop;
    }

    async fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::DialogEnded { call_id, reason } => {
                if call_id == self.customer_call_id {
                    info!(contact = %self.core.id(), "customer left ({reason})");
                    self.tell(Input::CustomerLeft).await;
                } else if self
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.sip_call_id == call_id)
                {
                    self.agent_left().await;
                }
            }
            CallInput::Refreshed { call_id, reply } => {
                let mut headers = vec![];
                if call_id == self.customer_call_id {
                    self.refresh_session_timer();
                    headers = self.session_timer_headers();
                }
                let _ = reply.respond(StatusCode::OK, Some(headers), None).await;
            }
            CallInput::InfoDigit { call_id, digit } => {
                if call_id == self.customer_call_id {
                    self.on_digit(digit).await;
                }
            }
            CallInput::Reinvite {
                call_id,
                sdp,
                reply,
            } => self.reinvite(&call_id, &sdp, reply).await,
            CallInput::Routing(update) => self.on_routing(update).await,
            CallInput::FlowEvent { request, event } => {
                self.tell(Input::FlowAnswer { request, event }).await;
            }
            CallInput::Audio {
                request,
                purpose,
                result,
            } => {
                if self.core.awaits(request) {
                    self.audio_ready(request, purpose, result).await;
                }
            }
            CallInput::DialThirdParty {
                request,
                route,
                number,
                ring,
                caller_id,
                continue_flow,
            } => {
                if self.core.awaits(request) && self.agent.is_none() {
                    info!(contact = %self.core.id(), %number, "transferring to a third party");
                    let who = format!("third-party:{number}");
                    if let Err(e) = self
                        .dial(who, number, *route, ring, caller_id, Some(continue_flow))
                        .await
                    {
                        warn!(contact = %self.core.id(), "transfer: {e}");
                        self.tell(Input::ThirdPartyFailed { no_answer: false })
                            .await;
                    }
                }
            }
            CallInput::ThirdPartyFailed => {
                self.tell(Input::ThirdPartyFailed { no_answer: false })
                    .await;
            }
            CallInput::Announcement { clip } => {
                if self.core.phase() == Phase::Queued
                    && self.media == Media::Loop
                    && !self.core.flow_running()
                {
                    let generation = self.playout.play(vec![clip], false);
                    self.media = Media::Announcement(generation);
                    if !self.playout.is_playing() {
                        self.play_music();
                    }
                }
            }
            CallInput::FlowLoaded { request, flow } => {
                self.tell(Input::FlowLoaded { request, flow }).await;
            }
            CallInput::AgentAnswered {
                agent,
                dialog,
                sdp,
                whisper,
            } => self.agent_answered(agent, dialog, sdp, whisper).await,
            CallInput::Agent { agent, action } => self.agent_action(&agent, action).await,
            CallInput::Whisper { agent, clip } => {
                if let Some(a) = self
                    .agent
                    .as_mut()
                    .filter(|a| a.agent == agent && a.connected_at.is_none())
                {
                    a.whisper = Some(clip);
                }
            }
            CallInput::AgentFailed {
                agent,
                status,
                reason,
            } => {
                if self
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.agent == agent && a.dialog.is_none())
                {
                    info!(contact = %self.core.id(), %agent, ?status, "phone did not answer: {reason}");
                    let third_party = self
                        .drop_agent_leg(|_| true)
                        .and_then(|a| a.third_party)
                        .is_some();
                    let input = if third_party {
                        Input::ThirdPartyFailed {
                            no_answer: reason == "no answer",
                        }
                    } else if matches!(status, Some(486 | 600 | 603)) {
                        Input::Declined { agent }
                    } else {
                        Input::Unreachable { agent }
                    };
                    self.tell(input).await;
                }
            }
        }
    }

    /// The caller refreshed the session (re-INVITE or UPDATE).
    fn refresh_session_timer(&mut self) {
        let now = self.now_ms();
        if let Some(t) = &mut self.session_timer {
            t.refreshed(now);
        }
    }

    /// Starts the recording when the flow asked for one (UpdateContactRecordingBehavior).
    fn start_recording(&mut self, now_ms: u64) {
        // A transfer keeps the recording that is running.
        if !self.core.data().recording.is_empty() && self.recorder.is_none() {
            self.recorder = Some(Recorder::new(now_ms));
        }
    }

    /// RFC 4028 section 9: every 2xx to a refresh repeats the interval, or
    /// the caller would take the timer as switched off.
    fn session_timer_headers(&self) -> Vec<Header> {
        match &self.session_timer {
            Some(t) => vec![
                Header::SessionExpires(format!("{};refresher=uac", t.seconds()).into()),
                Header::Require("timer".into()),
            ],
            None => vec![],
        }
    }
}

/// Where and how to reach a phone.
pub struct PhoneRoute {
    pub uri: rsipstack::sip::Uri,
    pub destination: std::net::SocketAddr,
    pub credential: Option<rsipstack::dialog::authenticate::Credential>,
    /// The number the trunk presents on calls out, if it sets one (carriers
    /// often refuse numbers that are not the customer's own).
    pub caller_id: Option<String>,
}

impl PhoneRoute {
    /// The INVITE to this phone: showing `shown` as the caller, offering
    /// `offer` (SDP), with the route's credentials for a digest challenge.
    pub fn invite(
        &self,
        voice: &Voice,
        shown: String,
        offer: Vec<u8>,
        sip_call_id: &str,
    ) -> InviteOption {
        let caller = format!("sip:{}@{}", sip_user(&shown), voice.local_sip());
        InviteOption {
            caller_display_name: Some(shown),
            caller: caller.as_str().try_into().unwrap_or_default(),
            callee: self.uri.clone(),
            contact: voice.contact_uri(),
            destination: Some(SipAddr::new(
                rsipstack::sip::Transport::Udp,
                self.destination.into(),
            )),
            credential: self.credential.clone(),
            content_type: Some("application/sdp".into()),
            offer: Some(offer),
            call_id: Some(sip_call_id.to_string()),
            ..Default::default()
        }
    }
}

/// "You are caller number 3 in the queue. Your expected wait is about 4 minutes."
pub fn announcement_text(position: usize, wait: Option<Duration>) -> String {
    let mut text = if position == 1 {
        "Thank you for waiting. You are next in the queue.".to_string()
    } else {
        format!("Thank you for waiting. You are caller number {position} in the queue.")
    };
    if let Some(wait) = wait {
        let minutes = wait.as_secs().div_ceil(60);
        text.push_str(&match minutes {
            0 | 1 => " Your expected wait is less than a minute.".to_string(),
            m => format!(" Your expected wait is about {m} minutes."),
        });
    }
    text
}

fn other(law: Law) -> Law {
    match law {
        Law::MuLaw => Law::ALaw,
        Law::ALaw => Law::MuLaw,
    }
}

/// The user part for a SIP URI from a number or address.
fn sip_user(address: &str) -> String {
    let user: String = address
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
        .collect();
    if user.is_empty() {
        "anonymous".into()
    } else {
        user
    }
}

/// Refuses a re-INVITE's offer we cannot answer: 488 with the Warning
/// saying why ([`Voice::media_warning`]).
async fn refuse_offer(
    voice: &Voice,
    reply: &rsipstack::dialog::dialog::TransactionHandle,
    why: &str,
) {
    let warning = voice.media_warning(why);
    let _ = reply
        .respond(StatusCode::NotAcceptableHere, Some(vec![warning]), None)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_say_place_and_wait() {
        assert_eq!(
            announcement_text(1, None),
            "Thank you for waiting. You are next in the queue."
        );
        assert_eq!(
            announcement_text(3, Some(Duration::from_secs(200))),
            "Thank you for waiting. You are caller number 3 in the queue. Your expected wait is about 4 minutes."
        );
        assert!(
            announcement_text(2, Some(Duration::from_secs(30))).ends_with("less than a minute.")
        );
    }
}
