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
//! What a tick decides without a clock or a socket (when the call has lost
//! its caller, what the caller hears, when a queue announcement is due) is
//! in `tick`, pure and table-tested; this module drives it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode};
use rsipstack::transport::SipAddr;
use switchboard_flow::model::Participant;
use switchboard_flow::{ContactData, Effect, Event, Outcome, Session};
use switchboard_media::dtmf::{Collector, InputOutcome, InputRules};
use switchboard_media::g711::Law;
use switchboard_media::playout::{Clip, Playout};
use switchboard_media::recording::{Recorder, Side};
use switchboard_media::sdp::{self, Direction, RemoteAudio};
use switchboard_media::FRAME_SAMPLES;
use switchboard_model::contact_record::{
    AgentInfo, CallQuality, ContactState, DisconnectReason, Endpoint, FlowStep, InitiationMethod,
    QueueInfo, RecordingInfo,
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

mod tick;

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
        result: Result<Vec<Clip>, String>,
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
    /// A flow to run could not be loaded: a queued caller keeps the music,
    /// a caller in the flow is disconnected.
    FlowFailed {
        reason: String,
        queued: bool,
    },
    /// Run this flow now (a transfer to a flow, or the customer queue flow).
    StartFlow {
        flow: Arc<switchboard_flow::Flow>,
    },
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
    Loop { interrupt_ms: Option<u64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InFlow,
    Queued,
    Bridged,
    Ended,
}

enum Waiting {
    Nothing,
    /// A spawned task answers (world effect, audio): the request's number,
    /// so an answer to an earlier request is never taken for this one.
    Answer(u64),
    Prompt(u64),
    Input,
    /// A loop plays; it ends (TimerFired) at the deadline if there is one.
    Loop(Option<u64>),
    /// A queue announcement plays; music resumes after it.
    Announcement(u64),
    Timer(u64),
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
    contact_id: String,
    customer_call_id: String,
    customer_dialog: InviteDialog,
    customer: Leg,
    agent: Option<AgentLeg>,
    inputs: mpsc::UnboundedReceiver<CallInput>,
    started: Instant,
    phase: Phase,
    playout: Playout,
    waiting: Waiting,
    collector: Option<Collector>,
    session: Option<Session>,
    /// Counts sessions (main flow, queue flow).
    session_no: u64,
    /// Numbers the requests handed to spawned tasks (see `Waiting::Answer`).
    request_no: u64,
    /// The flow handed the contact to the router (it must be abandoned or ended there).
    enqueue_sent: bool,
    enqueue_task: Option<tokio::task::JoinHandle<()>>,
    recorder: Option<Recorder>,
    contact: ContactData,
    ctr: ContactRecord,
    records: switchboard_server::records::RecordWriter,
    seed: u64,
    /// An offer that arrived before the flow finished handing the contact
    /// to the queue (the router can decide faster than the flow ends).
    early_offer: Option<RoutingUpdate>,
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

fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds().max(0) as f64 / 1000.0
}

impl Call {
    /// Runs the call to its end. The customer leg has been answered.
    pub async fn run(voice: Voice, new: NewCall) {
        let started_at = now();
        let media_timeout_ms = voice.config().media_timeout.as_millis() as u64;
        let ctr = ContactRecord {
            id: new.contact_id.clone(),
            channel: switchboard_model::contact_record::Channel::Voice,
            initiation_timestamp: started_at,
            connected_to_system_timestamp: Some(started_at),
            customer_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: new.customer_number.clone(),
            },
            system_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: new.system_number.clone(),
            },
            flow_id: new.flow_id.clone(),
            initiation_method: if new.outbound.is_some() {
                InitiationMethod::Outbound
            } else {
                InitiationMethod::Inbound
            },
            state: ContactState::InFlow,
            ..Default::default()
        };
        voice
            .app()
            .metrics
            .contact_started(ctr.channel, ctr.initiation_method);
        let (records, writer) =
            switchboard_server::records::RecordWriter::start(voice.app().clone());
        let contact = ContactData::voice(&new.contact_id, &new.customer_number, &new.system_number);
        let mut call = Call {
            voice,
            contact_id: new.contact_id,
            customer_call_id: new.customer_call_id,
            customer_dialog: new.customer_dialog,
            customer: new.customer,
            agent: None,
            inputs: new.inputs,
            started: Instant::now(),
            phase: Phase::InFlow,
            playout: Playout::default(),
            waiting: Waiting::Nothing,
            collector: None,
            session: None,
            session_no: 0,
            request_no: 0,
            enqueue_sent: false,
            enqueue_task: None,
            recorder: None,
            contact,
            ctr,
            records,
            seed: rand::random(),
            early_offer: None,
            watchdog: tick::Watchdog::new(0, media_timeout_ms),
            customer_held: false,
            session_timer: new.session_seconds.map(|s| SessionTimer::new(s, 0)),
            announcements: tick::Announcements::new(FIRST_ANNOUNCEMENT_MS, ANNOUNCE_EVERY_MS),
            ringing_external: None,
            ringing_profile: None,
        };
        call.save();
        match (new.outbound, new.flow) {
            (Some(agent), _) => call.connect_outbound(agent).await,
            (None, Some(flow)) => call.start_session(flow),
            (None, None) => call.end(DisconnectReason::ContactFlowDisconnect),
        }
        call.main_loop().await;
        call.finish().await;
        drop(call);
        let _ = writer.await;
    }

    /// The agent who placed this call is on it from the first moment;
    /// outbound calls are recorded, both sides.
    async fn connect_outbound(&mut self, o: OutboundAgent) {
        let at = now();
        let from_browser = Some(o.line.bridge(&self.contact_id));
        o.line.set_contact_state(&self.contact_id, "connected");
        self.agent = Some(AgentLeg {
            agent: o.agent.clone(),
            username: o.username.clone(),
            media: AgentMedia::Browser(BrowserLeg::new(o.line, from_browser, self.customer.law())),
            sip_call_id: String::new(),
            dialog: None,
            connected_at: Some(at),
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        self.ctr.queue = Some(QueueInfo {
            id: o.queue.0,
            name: o.queue.1,
            enqueue_timestamp: at,
            dequeue_timestamp: Some(at),
            duration_seconds: Some(0.0),
        });
        self.ctr.agent = Some(AgentInfo {
            routing_profile: self.voice.app().routing_profile_of(&o.agent).await,
            id: o.agent,
            username: o.username,
            connected_to_agent_timestamp: at,
            ..Default::default()
        });
        self.ctr.state = ContactState::Connected;
        self.phase = Phase::Bridged;
        self.contact.recording = vec![Participant::Agent, Participant::Customer];
        self.start_recording(self.now_ms());
        self.save();
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn save(&mut self) {
        if let Some(session) = &self.session {
            self.ctr.flow_path.extend(
                session.trace()[self.ctr.flow_path.len().min(session.trace().len())..]
                    .iter()
                    .map(|s| FlowStep {
                        action: s.action.clone(),
                        action_type: s.action_type.clone(),
                        branch: s.branch.clone(),
                    }),
            );
        }
        self.ctr.attributes = self.contact.attributes.clone();
        self.records.record(&self.ctr);
    }

    async fn main_loop(&mut self) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut customer_buf = vec![0u8; 2048];
        let mut agent_buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 1500];
        let mut agent_rtcp_buf = vec![0u8; 1500];
        let mut ticks: u64 = 0;
        while self.phase != Phase::Ended {
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
                        self.heard_customer(heard);
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
                    self.on_tick();
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
                    None => self.phase = Phase::Ended,
                },
            }
        }
    }

    fn heard_customer(&mut self, heard: Heard) {
        match heard {
            Heard::Digit(d) => self.on_digit(d),
            Heard::Audio(payload) => {
                if let Some(rec) = &mut self.recorder {
                    let at = self.started.elapsed().as_millis() as u64;
                    rec.push(
                        Side::Customer,
                        at,
                        &self.customer.law().decode_all(&payload),
                    );
                }
                if self.phase == Phase::Bridged {
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
        let Some(agent) = &mut self.agent else { return };
        if self.phase != Phase::Bridged || agent.on_hold_since.is_some() || agent.muted {
            return;
        }
        if let Some(rec) = &mut self.recorder {
            let at = self.started.elapsed().as_millis() as u64;
            rec.push(Side::Agent, at, &law.decode_all(payload));
        }
        relay(payload, law, &mut self.customer);
    }

    fn on_digit(&mut self, digit: char) {
        let now = self.now_ms();
        let Some(collector) = &mut self.collector else {
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

    fn input_done(&mut self, outcome: InputOutcome) {
        self.collector = None;
        self.playout.stop();
        let event = match outcome {
            InputOutcome::Digits(d) => {
                self.ctr.dtmf_inputs.push(d.clone());
                Event::Input(d)
            }
            InputOutcome::Timeout => Event::InputTimeout,
        };
        self.feed(event);
    }

    fn on_tick(&mut self) {
        let now = self.now_ms();
        let session_expired = self.session_timer.as_ref().is_some_and(|t| t.expired(now));
        match self.watchdog.tick(
            now,
            self.customer.packets_in,
            self.customer_held,
            session_expired,
        ) {
            Some(tick::Lost::SessionExpired) => {
                warn!(contact = %self.contact_id, "session timer expired without a refresh: ending the call");
                self.end(DisconnectReason::TelecomProblem);
                return;
            }
            Some(tick::Lost::MediaStopped) => {
                warn!(contact = %self.contact_id, "no RTP from the caller for {:?}: ending the call", self.voice.config().media_timeout);
                self.end(DisconnectReason::TelecomProblem);
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
            tick::caller_hears(
                self.phase == Phase::Bridged,
                agent_holds,
                tick.frame.is_some(),
            ),
            &tick.frame,
        ) {
            (tick::CallerHears::Agent, _) => {}
            (tick::CallerHears::Played, Some(frame)) => self.customer.send_samples(frame),
            (tick::CallerHears::Played | tick::CallerHears::Silence, _) => {
                self.customer.send_samples(&[0; FRAME_SAMPLES])
            }
        }
        if let Some(finished) = tick.finished {
            if matches!(self.waiting, Waiting::Announcement(g) if g == finished) {
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.waiting = Waiting::Loop(None);
            }
            match self.waiting {
                Waiting::Prompt(g) if g == finished => {
                    self.waiting = Waiting::Nothing;
                    self.feed(Event::PromptFinished);
                }
                Waiting::Input => {
                    if let Some(c) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
                _ => {}
            }
        }
        if let Some(c) = &mut self.collector {
            if let Some(outcome) = c.poll(now) {
                self.input_done(outcome);
            }
        }
        let on_music = self.phase == Phase::Queued
            && matches!(self.waiting, Waiting::Loop(None))
            && self.session.is_none();
        if self.announcements.due(now, on_music) {
            self.announce();
        }
        match self.waiting {
            Waiting::Timer(at) | Waiting::Loop(Some(at)) if now >= at => {
                self.waiting = Waiting::Nothing;
                self.playout.stop();
                self.feed(Event::TimerFired);
            }
            _ => {}
        }
    }

    async fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::DialogEnded { call_id, reason } => {
                if call_id == self.customer_call_id {
                    self.customer_left(&reason).await;
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
                    self.on_digit(digit);
                }
            }
            CallInput::Reinvite {
                call_id,
                sdp,
                reply,
            } => self.reinvite(&call_id, &sdp, reply).await,
            CallInput::Routing(update) => self.on_routing(update).await,
            CallInput::FlowEvent { request, event } => {
                if matches!(self.waiting, Waiting::Answer(r) if r == request) {
                    self.waiting = Waiting::Nothing;
                    self.feed(event);
                }
            }
            CallInput::Audio {
                request,
                purpose,
                result,
            } => {
                if matches!(self.waiting, Waiting::Answer(r) if r == request) {
                    self.audio_ready(purpose, result);
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
                if matches!(self.waiting, Waiting::Answer(r) if r == request)
                    && self.agent.is_none()
                {
                    info!(contact = %self.contact_id, %number, "transferring to a third party");
                    let who = format!("third-party:{number}");
                    if let Err(e) = self
                        .dial(who, number, *route, ring, caller_id, Some(continue_flow))
                        .await
                    {
                        warn!(contact = %self.contact_id, "transfer: {e}");
                        self.waiting = Waiting::Nothing;
                        self.feed(Event::CallFailed);
                    }
                }
            }
            CallInput::Announcement { clip } => {
                if self.phase == Phase::Queued
                    && matches!(self.waiting, Waiting::Loop(None))
                    && self.session.is_none()
                {
                    let generation = self.playout.play(vec![clip], false);
                    self.waiting = Waiting::Announcement(generation);
                    if !self.playout.is_playing() {
                        self.playout
                            .play(vec![self.voice.library().hold_music()], true);
                        self.waiting = Waiting::Loop(None);
                    }
                }
            }
            CallInput::FlowFailed { reason, queued } => {
                warn!(contact = %self.contact_id, "flow not loaded: {reason}");
                if queued && self.phase == Phase::Queued {
                    self.playout
                        .play(vec![self.voice.library().hold_music()], true);
                    self.waiting = Waiting::Loop(None);
                } else if self.phase == Phase::InFlow {
                    self.end(DisconnectReason::ContactFlowDisconnect);
                }
            }
            CallInput::StartFlow { flow } => {
                if self.phase != Phase::Bridged {
                    self.waiting = Waiting::Nothing;
                    self.start_session(flow);
                }
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
                    info!(contact = %self.contact_id, %agent, ?status, "phone did not answer: {reason}");
                    let third_party = self
                        .drop_agent_leg(|_| true)
                        .and_then(|a| a.third_party)
                        .is_some();
                    if third_party && self.session.is_none() {
                        // The agent's transfer failed: nobody is left to talk to.
                        self.end(DisconnectReason::ThirdPartyDisconnect);
                        return;
                    }
                    if third_party {
                        self.waiting = Waiting::Nothing;
                        self.feed(if reason == "no answer" {
                            Event::ConnectionTimeout
                        } else {
                            Event::CallFailed
                        });
                        return;
                    }
                    let event = if matches!(status, Some(486 | 600 | 603)) {
                        RoutingEvent::Reject {
                            contact: self.contact_id.clone(),
                            agent,
                        }
                    } else {
                        RoutingEvent::AgentError { agent }
                    };
                    self.route(event).await;
                }
            }
        }
    }

    // ---- the flow ----

    fn start_session(&mut self, flow: Arc<switchboard_flow::Flow>) {
        self.session_no += 1;
        self.ctr.flow_path.clear();
        let (session, effects) =
            Session::start(flow, self.contact.clone(), self.seed ^ self.session_no);
        self.session = Some(session);
        self.apply(effects);
    }

    fn feed(&mut self, event: Event) {
        let Some(session) = &mut self.session else {
            return;
        };
        let effects = session.handle(event);
        self.apply(effects);
    }

    /// Acts on what the flow asked for; the last effect that needs an
    /// answer decides what the call waits for.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Play { message, voice } => {
                    self.fetch_audio(vec![message], voice, Purpose::Prompt);
                }
                Effect::GetInput {
                    prompt,
                    voice,
                    timeout_seconds,
                    max_digits,
                    terminator,
                } => {
                    let rules = InputRules {
                        max_digits,
                        first_digit_timeout_ms: u64::from(timeout_seconds) * 1000,
                        inter_digit_timeout_ms: INTER_DIGIT_MS,
                        terminator: terminator.and_then(|t| t.chars().next()),
                    };
                    self.collector = Some(Collector::new(rules.clone()));
                    self.fetch_audio(prompt.into_iter().collect(), voice, Purpose::Input(rules));
                }
                Effect::PlayLoop {
                    messages,
                    voice,
                    interrupt_seconds,
                } => {
                    let interrupt_ms = interrupt_seconds.map(|s| u64::from(s) * 1000);
                    self.fetch_audio(messages, voice, Purpose::Loop { interrupt_ms });
                }
                Effect::StartTimer { seconds, .. } => {
                    self.waiting = Waiting::Timer(self.now_ms() + u64::from(seconds) * 1000);
                }
                Effect::StartBot { .. } => {
                    self.feed_later(Event::Failed("no bot engine is configured".into()));
                }
                Effect::TransferToNumber {
                    number,
                    timeout_seconds,
                    caller_id_number,
                    continue_flow,
                    ..
                } => {
                    let session_no = self.await_answer();
                    let voice = self.voice.clone();
                    let contact = self.contact_id.clone();
                    tokio::spawn(async move {
                        let input = match voice.route_out(&number).await {
                            Ok(route) => CallInput::DialThirdParty {
                                request: session_no,
                                route: Box::new(route),
                                number,
                                ring: Duration::from_secs(u64::from(timeout_seconds)),
                                caller_id: caller_id_number,
                                continue_flow,
                            },
                            Err(e) => {
                                warn!(%contact, "transfer to {number}: {e}");
                                CallInput::FlowEvent {
                                    request: session_no,
                                    event: Event::CallFailed,
                                }
                            }
                        };
                        voice.post(&contact, input);
                    });
                }

                Effect::Enqueue {
                    queue,
                    priority,
                    time_adjustment_seconds,
                } => {
                    let session_no = self.await_answer();
                    let voice = self.voice.clone();
                    let contact = self.contact_id.clone();
                    self.enqueue_sent = true;
                    self.enqueue_task = Some(tokio::spawn(async move {
                        let event = RoutingEvent::Enqueue {
                            contact: contact.clone(),
                            queue: queue.id.clone(),
                            channel: Channel::Voice,
                            priority: priority.unwrap_or(5),
                            time_adjustment_seconds: time_adjustment_seconds.unwrap_or(0),
                        };
                        let answer = flow_shell::enqueue_answer(
                            &contact,
                            voice.app().routing.send(event).await,
                        );
                        voice.post(
                            &contact,
                            CallInput::FlowEvent {
                                request: session_no,
                                event: answer,
                            },
                        );
                    }));
                }
                Effect::Disconnect => {
                    self.end(DisconnectReason::ContactFlowDisconnect);
                }
                Effect::End => {}
                world if flow_shell::is_world(&world) => {
                    let request = self.await_answer();
                    let (voice, contact) = (self.voice.clone(), self.contact_id.clone());
                    let data = self
                        .session
                        .as_ref()
                        .map(|s| s.contact().clone())
                        .unwrap_or_else(|| self.contact.clone());
                    flow_shell::answer_later(self.voice.app(), world, data, move |event| {
                        voice.post(&contact, CallInput::FlowEvent { request, event });
                    });
                }
                _ => {}
            }
        }
        self.after_flow_step();
    }

    /// Answers the flow on the next turn of the loop (never re-entrantly).
    fn feed_later(&mut self, event: Event) {
        let request = self.await_answer();
        self.voice
            .post(&self.contact_id, CallInput::FlowEvent { request, event });
    }

    /// The call now waits for a spawned task's answer; returns the request's number.
    fn await_answer(&mut self) -> u64 {
        self.request_no += 1;
        self.waiting = Waiting::Answer(self.request_no);
        self.request_no
    }

    fn fetch_audio(
        &mut self,
        messages: Vec<switchboard_flow::Rendered>,
        voice_name: String,
        purpose: Purpose,
    ) {
        let request = self.await_answer();
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        tokio::spawn(async move {
            let mut clips = Vec::new();
            let mut result = Ok(());
            for m in &messages {
                match voice.library().render(voice.app(), m, &voice_name).await {
                    Ok(c) => clips.push(c),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let result = result.map(|_| clips);
            voice.post(
                &contact,
                CallInput::Audio {
                    request,
                    purpose,
                    result,
                },
            );
        });
    }

    fn audio_ready(&mut self, purpose: Purpose, result: Result<Vec<Clip>, String>) {
        let clips = match result {
            Ok(c) => c,
            Err(e) => {
                warn!(contact = %self.contact_id, "audio: {e}");
                self.collector = None;
                self.waiting = Waiting::Nothing;
                self.feed(Event::Failed(e));
                return;
            }
        };
        let now = self.now_ms();
        match purpose {
            Purpose::Prompt => {
                let generation = self.playout.play(clips, false);
                self.waiting = Waiting::Prompt(generation);
                if !self.playout.is_playing() {
                    // Nothing to say (empty text): done at once.
                    self.waiting = Waiting::Nothing;
                    self.feed(Event::PromptFinished);
                }
            }
            Purpose::Input(_) => {
                self.playout.play(clips, false);
                self.waiting = Waiting::Input;
                if !self.playout.is_playing() {
                    if let Some(c) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
            }
            Purpose::Loop { interrupt_ms } => {
                let clips = if clips.iter().all(|c| c.is_empty()) {
                    vec![self.voice.library().hold_music()]
                } else {
                    clips
                };
                self.playout.play(clips, true);
                self.waiting = Waiting::Loop(interrupt_ms.map(|ms| now + ms));
            }
        }
    }

    /// After the flow moved: is it over, and what next?
    fn after_flow_step(&mut self) {
        let Some(session) = &self.session else { return };
        self.contact = session.contact().clone();
        if !session.is_finished() {
            return;
        }
        let outcome = session.outcome().cloned();
        let in_main_flow = self.phase == Phase::InFlow;
        self.save();
        self.session = None;
        match outcome {
            Some(Outcome::Queued { queue }) if in_main_flow => {
                info!(contact = %self.contact_id, queue = %queue.name, "queued");
                self.phase = Phase::Queued;
                self.ctr.state = ContactState::Queued;
                self.ctr.queue = Some(QueueInfo {
                    id: queue.id,
                    name: queue.name,
                    enqueue_timestamp: now(),
                    ..Default::default()
                });
                self.records.record(&self.ctr);
                self.start_queue_audio();
                if let Some(offer) = self.early_offer.take() {
                    self.voice.post(&self.contact_id, CallInput::Routing(offer));
                }
            }
            Some(Outcome::TransferredToFlow { flow }) => {
                self.load_and_start(flow);
            }
            _ if self.phase == Phase::Queued => {
                // The queue flow ended: music until an agent answers.
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.waiting = Waiting::Loop(None);
            }
            other => {
                if let Some(Outcome::Failed { reason, .. }) = other {
                    warn!(contact = %self.contact_id, "flow failed: {reason}");
                }
                self.end(DisconnectReason::ContactFlowDisconnect);
            }
        }
    }
}

impl Call {
    fn load_and_start(&mut self, flow: String) {
        self.await_answer();
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        let queued = self.phase == Phase::Queued;
        tokio::spawn(async move {
            match flow_shell::load_flow(voice.app(), &flow, false).await {
                Ok(f) => {
                    voice.post(&contact, CallInput::StartFlow { flow: f });
                }
                Err(e) => {
                    warn!(%contact, "flow '{flow}': {e}");
                    voice.post(&contact, CallInput::FlowFailed { reason: e, queued });
                }
            }
        });
    }

    /// While queued: the customer queue flow if the flow set one, else music.
    fn start_queue_audio(&mut self) {
        match self
            .contact
            .event_hooks
            .get(&switchboard_flow::model::EventHook::CustomerQueue)
            .cloned()
        {
            Some(flow) => {
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.load_and_start(flow);
                self.waiting = Waiting::Loop(None);
            }
            None => {
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.waiting = Waiting::Loop(None);
                self.announcements.start(self.now_ms());
            }
        }
    }

    /// Tells the caller their place in the queue and, when the queue's
    /// recent pace allows an estimate, the expected wait.
    fn announce(&self) {
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        let queue = self
            .ctr
            .queue
            .as_ref()
            .map(|q| q.id.clone())
            .unwrap_or_default();
        let voice_name = self.contact.voice.clone();
        tokio::spawn(async move {
            let Some((position, _)) = voice.app().routing.position(&contact).await else {
                return;
            };
            let text = announcement_text(position, voice.expected_wait(&queue, position));
            match voice.library().speak(&text, &voice_name).await {
                Ok(clip) => {
                    VoiceStats::add(&voice.stats().queue_announcements, 1);
                    voice.post(&contact, CallInput::Announcement { clip });
                }
                Err(e) => warn!(%contact, "queue announcement: {e}"),
            }
        });
    }

    async fn route(&mut self, event: RoutingEvent) {
        if let Err(e) = self.voice.app().routing.send(event).await {
            warn!(contact = %self.contact_id, "routing: {e}");
        }
    }

    async fn on_routing(&mut self, update: RoutingUpdate) {
        match update {
            RoutingUpdate::Offer { agent, .. }
                if self.phase == Phase::Queued && self.agent.is_none() =>
            {
                self.ring_agent(agent).await;
            }
            offer @ RoutingUpdate::Offer { .. } if self.phase == Phase::InFlow => {
                self.early_offer = Some(offer);
            }
            RoutingUpdate::Rescind { ref agent, .. } if matches!(&self.early_offer, Some(RoutingUpdate::Offer { agent: a, .. }) if a == agent) =>
            {
                self.early_offer = None;
            }
            RoutingUpdate::Rescind { agent, .. } => {
                // The offer timed out (the router marks the agent Missed and
                // puts the contact back in its place): stop ringing.
                if let Some(a) =
                    self.drop_agent_leg(|a| a.agent == agent && a.connected_at.is_none())
                {
                    self.stop_ringing(&a).await;
                }
            }
            RoutingUpdate::Connected { agent, .. } => {
                let now_ms = self.now_ms();
                if let Some(a) = self.agent.as_mut().filter(|a| a.agent == agent) {
                    let at = now();
                    a.connected_at = Some(at);
                    if let AgentMedia::Browser(b) = &mut a.media {
                        b.from_browser = Some(b.line.bridge(&self.contact_id));
                        b.line.set_contact_state(&self.contact_id, "connected");
                    }
                    if let Some(clip) = a.whisper.take() {
                        let mut whisper = Playout::default();
                        whisper.play(vec![clip], false);
                        a.whispering = Some(whisper);
                        VoiceStats::add(&self.voice.stats().whispers, 1);
                    }
                    self.phase = Phase::Bridged;
                    self.session = None;
                    self.collector = None;
                    self.playout.stop();
                    self.waiting = Waiting::Nothing;
                    self.announcements.stop();
                    if let Some(q) = &mut self.ctr.queue {
                        q.dequeue_timestamp = Some(at);
                        q.duration_seconds = Some(seconds_between(q.enqueue_timestamp, at));
                        self.voice.note_answer(&q.id);
                    }
                    let number_of_offers = self
                        .ctr
                        .agent
                        .as_ref()
                        .map(|a| a.number_of_offers)
                        .unwrap_or(0)
                        + 1;
                    let external_number = match a.media {
                        AgentMedia::Phone(_) => self.ringing_external.take(),
                        _ => None,
                    };
                    self.ctr.agent = Some(AgentInfo {
                        id: a.agent.clone(),
                        username: a.username.clone(),
                        routing_profile: self.ringing_profile.take(),
                        external_number,
                        connected_to_agent_timestamp: at,
                        number_of_offers,
                        ..Default::default()
                    });
                    self.ctr.state = ContactState::Connected;
                    info!(contact = %self.contact_id, agent = %a.username, "connected to agent");
                    self.start_recording(now_ms);
                    self.records.record(&self.ctr);
                }
            }
            _ => {}
        }
    }

    /// Takes the agent (or third-party) leg if `keep` says so, forgetting its
    /// SIP Call-ID, so no entry outlives the leg.
    fn drop_agent_leg(&mut self, drop: impl FnOnce(&AgentLeg) -> bool) -> Option<AgentLeg> {
        let a = self.agent.take_if(|a| drop(a))?;
        self.voice.unbind_call_id(&a.sip_call_id);
        if let Some(line) = a.media.line() {
            line.unbridge(&self.contact_id);
            if a.connected_at.is_some() {
                line.set_contact_state(&self.contact_id, "ended");
            } else {
                line.remove_contact(&self.contact_id);
            }
        }
        Some(a)
    }

    async fn stop_ringing(&self, a: &AgentLeg) {
        let dialogs = self
            .voice
            .dialogs()
            .get_client_dialog_by_call_id(&a.sip_call_id);
        for d in dialogs {
            let _ = d.cancel().await;
        }
        if let Some(d) = &a.dialog {
            let _ = d.bye().await;
        }
    }

    /// Calls the agent's desk phone (or their external number) for an offer.
    async fn ring_agent(&mut self, agent: String) {
        let user = match self.voice.app().store.get::<User>(&agent).await {
            Ok(Some(u)) => u,
            _ => {
                self.route(RoutingEvent::AgentError { agent }).await;
                return;
            }
        };
        self.ringing_profile = Some(
            self.voice
                .app()
                .routing_profile_ref(&user.spec.routing_profile)
                .await,
        );
        if user.spec.phone_config.phone_type != PhoneType::DeskPhone {
            self.offer_to_browser(agent, &user.spec).await;
            return;
        }
        self.ringing_external = None;
        let route = match self.voice.registrar().lookup(&user.spec.username) {
            Some(binding) => Ok(PhoneRoute {
                uri: binding.contact.clone(),
                destination: binding.destination(),
                credential: None,
                caller_id: None,
            }),
            None => match &user.spec.phone_config.desk_phone_number {
                Some(number) => {
                    self.ringing_external = Some(number.clone());
                    self.voice.route_out(number).await
                }
                None => Err(
                    "the desk phone is not registered and the agent has no external number"
                        .to_string(),
                ),
            },
        };
        let route = match route {
            Ok(r) => r,
            Err(e) => {
                warn!(agent = %user.spec.username, "cannot reach the agent: {e}");
                self.route(RoutingEvent::AgentError { agent }).await;
                return;
            }
        };
        info!(contact = %self.contact_id, agent = %user.spec.username, phone = %route.destination, uri = %route.uri, "ringing the agent's phone");
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self
            .dial(
                agent.clone(),
                user.spec.username.clone(),
                route,
                ring,
                None,
                None,
            )
            .await
        {
            warn!("agent leg: {e}");
            self.route(RoutingEvent::AgentError { agent }).await;
        }
    }

    /// The contact as the agent's CCP shows it, in `state`.
    fn view(&self, state: &str) -> ContactView {
        ContactView {
            contact: self.contact_id.clone(),
            channel: self.ctr.channel,
            initiation_method: self.ctr.initiation_method,
            customer: self.ctr.customer_endpoint.address.clone(),
            queue: self.ctr.queue.as_ref().map(|q| q.name.clone()),
            attributes: self.contact.attributes.clone(),
            state: state.into(),
            muted: false,
            since: now(),
            chat_token: None,
        }
    }

    /// Offers the contact to a softphone agent's CCP, where they accept or
    /// reject it; the router's offer timeout makes them Missed otherwise.
    async fn offer_to_browser(&mut self, agent: String, user: &User) {
        let grace = self.voice.config().ccp_grace;
        let Some(line) = self
            .voice
            .softphones()
            .get(&agent)
            .filter(|l| l.reachable(grace))
        else {
            warn!(agent = %user.username, "the agent's CCP is not open: offer refused");
            self.route(RoutingEvent::AgentError { agent }).await;
            return;
        };
        info!(contact = %self.contact_id, agent = %user.username, "offering to the agent's CCP");
        line.put_contact(self.view("incoming"));
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username: user.username.clone(),
            media: AgentMedia::Browser(BrowserLeg::new(line, None, self.customer.law())),
            sip_call_id: String::new(),
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party: None,
            whisper: None,
            whispering: None,
            muted: false,
        });
        // Connect's default agent whisper: the queue's name, ready by the time they accept.
        if let Some(text) = self.ctr.queue.as_ref().map(|q| q.name.clone()) {
            let voice = self.voice.clone();
            let contact = self.contact_id.clone();
            let voice_name = self.contact.voice.clone();
            let agent = agent.clone();
            tokio::spawn(async move {
                if let Ok(clip) = voice.library().speak(&text, &voice_name).await {
                    voice.post(&contact, CallInput::Whisper { agent, clip });
                }
            });
        }
        if user.phone_config.auto_accept {
            self.route(RoutingEvent::Accept {
                contact: self.contact_id.clone(),
                agent,
            })
            .await;
        }
    }

    /// Calls a phone for the customer: an agent's (for an offer) or a third
    /// party's (`third_party`: the flow's TransferToNumber, with whether the
    /// flow continues after). The answer comes back as AgentAnswered/AgentFailed.
    async fn dial(
        &mut self,
        agent: String,
        username: String,
        route: PhoneRoute,
        ring: Duration,
        caller_id: Option<String>,
        third_party: Option<bool>,
    ) -> Result<(), String> {
        let mut leg = Leg::bind(self.voice.config().media_ip, self.voice.config().rtp_ports)
            .await
            .map_err(|e| format!("RTP socket: {e}"))?;
        let origin = leg.next_sdp_origin();
        let offer = sdp::offer(
            leg.local,
            &[self.customer.law(), other(self.customer.law())],
            Direction::SendRecv,
            origin.0,
            origin.1,
        );
        let sip_call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
        // The flow's caller ID, else the trunk's, else the caller's own number.
        let shown = caller_id
            .or_else(|| route.caller_id.clone())
            .unwrap_or_else(|| self.ctr.customer_endpoint.address.clone());
        let option = route.invite(&self.voice, shown, offer, &sip_call_id);
        self.voice.bind_call_id(&sip_call_id, &self.contact_id);
        self.agent = Some(AgentLeg {
            agent: agent.clone(),
            username,
            media: AgentMedia::Phone(leg),
            sip_call_id,
            dialog: None,
            connected_at: None,
            on_hold_since: None,
            third_party,
            whisper: None,
            whispering: None,
            muted: false,
        });
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        // Connect's default agent whisper: the queue's name.
        let whisper_text = match third_party {
            None => self.ctr.queue.as_ref().map(|q| q.name.clone()),
            Some(_) => None,
        };
        let voice_name = self.contact.voice.clone();
        tokio::spawn(async move {
            let invite = voice.dialogs().do_invite(option, voice.state_sender());
            let whisper = async {
                match &whisper_text {
                    Some(text) => voice.library().speak(text, &voice_name).await.ok(),
                    None => None,
                }
            };
            let (answer, whisper) = tokio::join!(tokio::time::timeout(ring, invite), whisper);
            let input = match answer {
                Ok(Ok((dialog, Some(resp))))
                    if resp.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful =>
                {
                    CallInput::AgentAnswered {
                        agent,
                        dialog,
                        sdp: resp.body.clone(),
                        whisper,
                    }
                }
                Ok(Ok((_, resp))) => {
                    let status = resp.as_ref().map(|r| u16::from(r.status_code.clone()));
                    CallInput::AgentFailed {
                        agent,
                        status,
                        reason: "refused".into(),
                    }
                }
                Ok(Err(e)) => CallInput::AgentFailed {
                    agent,
                    status: None,
                    reason: e.to_string(),
                },
                Err(_) => CallInput::AgentFailed {
                    agent,
                    status: None,
                    reason: "no answer".into(),
                },
            };
            voice.post(&contact, input);
        });
        Ok(())
    }

    async fn agent_answered(
        &mut self,
        agent: String,
        dialog: InviteDialog,
        sdp_body: Vec<u8>,
        whisper: Option<Clip>,
    ) {
        let Some(a) = self
            .agent
            .as_mut()
            .filter(|a| a.agent == agent && a.dialog.is_none())
        else {
            // Rescinded meanwhile: this phone answered too late.
            let _ = dialog.bye().await;
            return;
        };
        a.dialog = Some(dialog);
        a.whisper = whisper;
        let remote = RemoteAudio::parse(&sdp_body).and_then(|r| r.negotiated().map(|n| (r, n)));
        match remote {
            Ok((remote, negotiated)) => {
                if let Some(leg) = a.media.phone() {
                    leg.connect(&remote, negotiated)
                }
            }
            Err(e) => {
                warn!(contact = %self.contact_id, "agent SDP: {e}");
                if let Some(a) = self.drop_agent_leg(|_| true) {
                    self.stop_ringing(&a).await;
                }
                self.route(RoutingEvent::AgentError { agent }).await;
                return;
            }
        }
        if let Some(a) = self.agent.as_mut().filter(|a| a.third_party.is_some()) {
            let at = now();
            a.connected_at = Some(at);
            self.waiting = Waiting::Nothing;
            self.ctr.transferred_to_endpoint = Some(Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: a.username.clone(),
            });
            self.ctr.transfer_completed_timestamp = Some(at);
            self.ctr.third_party_disconnect_timestamp = None;
            self.phase = Phase::Bridged;
            self.collector = None;
            self.playout.stop();
            self.start_recording(self.now_ms());
            self.records.record(&self.ctr);
            return;
        }
        self.route(RoutingEvent::Accept {
            contact: self.contact_id.clone(),
            agent,
        })
        .await;
    }

    async fn reinvite(
        &mut self,
        call_id: &str,
        body: &[u8],
        reply: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        let timer_headers = if call_id == self.customer_call_id {
            self.session_timer_headers()
        } else {
            vec![]
        };
        if body.is_empty() {
            // A re-INVITE without an offer (often a session refresh): we
            // offer what is in use; the answer comes in the ACK.
            let leg = if call_id == self.customer_call_id {
                Some(&mut self.customer)
            } else {
                self.agent
                    .as_mut()
                    .filter(|a| a.sip_call_id == call_id)
                    .and_then(|a| a.media.phone())
            };
            let Some(leg) = leg else {
                let _ = reply.reply(StatusCode::CallTransactionDoesNotExist).await;
                return;
            };
            let origin = leg.next_sdp_origin();
            let offer = sdp::offer(
                leg.local,
                &[leg.law()],
                Direction::SendRecv,
                origin.0,
                origin.1,
            );
            let mut headers = vec![Header::ContentType("application/sdp".into())];
            headers.extend(timer_headers);
            let _ = reply
                .respond(StatusCode::OK, Some(headers), Some(offer))
                .await;
            if call_id == self.customer_call_id {
                self.refresh_session_timer();
            }
            return;
        }
        let remote = match RemoteAudio::parse(body) {
            Ok(r) => r,
            Err(e) => return refuse_offer(&self.voice, &reply, &e.to_string()).await,
        };
        let (leg, is_agent) = if call_id == self.customer_call_id {
            (&mut self.customer, false)
        } else if let Some(leg) = self
            .agent
            .as_mut()
            .filter(|a| a.sip_call_id == call_id)
            .and_then(|a| a.media.phone())
        {
            (leg, true)
        } else {
            let _ = reply.reply(StatusCode::CallTransactionDoesNotExist).await;
            return;
        };
        let origin = leg.next_sdp_origin();
        let answer = remote.answer(leg.local, origin.0, origin.1);
        let (answer, negotiated) = match answer {
            Ok(a) => a,
            Err(e) => return refuse_offer(&self.voice, &reply, &e.to_string()).await,
        };
        leg.connect(&remote, negotiated);
        let mut headers = vec![Header::ContentType("application/sdp".into())];
        headers.extend(timer_headers);
        let _ = reply
            .respond(StatusCode::OK, Some(headers), Some(answer))
            .await;
        if !is_agent {
            self.refresh_session_timer();
            self.customer_held = remote.direction.is_hold();
            self.watchdog
                .restart(self.now_ms(), self.customer.packets_in);
        }
        if is_agent {
            self.hold(remote.direction.is_hold());
        }
    }

    /// The agent puts the caller on hold (music, counted in the record) or takes them off it.
    fn hold(&mut self, hold: bool) {
        let music = self.voice.library().hold_music();
        let Some(a) = &mut self.agent else { return };
        match (hold, a.on_hold_since) {
            (true, None) => {
                a.on_hold_since = Some(Instant::now());
                if let Some(info) = &mut self.ctr.agent {
                    info.hold_count += 1;
                }
                self.playout.play(vec![music], true);
            }
            (false, Some(since)) => {
                a.on_hold_since = None;
                if let Some(info) = &mut self.ctr.agent {
                    info.hold_duration_seconds += since.elapsed().as_secs_f64();
                }
                self.playout.stop();
            }
            _ => return,
        }
        if let Some(line) = a.media.line() {
            line.set_contact_state(&self.contact_id, if hold { "on_hold" } else { "connected" });
        }
    }

    /// What the agent did in the CCP to the contact they are connected to.
    async fn agent_action(&mut self, agent: &str, action: AgentAction) {
        let connected = self.agent.as_ref().is_some_and(|a| {
            a.agent == agent && a.connected_at.is_some() && a.third_party.is_none()
        });
        if !connected || self.phase != Phase::Bridged {
            return;
        }
        match action {
            AgentAction::Hold => self.hold(true),
            AgentAction::Resume => self.hold(false),
            AgentAction::End => {
                info!(contact = %self.contact_id, "the agent ended the contact");
                self.end(DisconnectReason::AgentDisconnect);
            }
            AgentAction::Mute(muted) => {
                if let Some(a) = &mut self.agent {
                    a.muted = muted;
                    if let Some(line) = a.media.line() {
                        line.set_muted(&self.contact_id, muted);
                    }
                }
            }
            AgentAction::TransferToNumber(number) => self.cold_transfer(number).await,
            AgentAction::TransferToQueue(id, name) => self.transfer_to_queue(id, name).await,
        }
    }

    /// The agent hands the caller to an external number and moves on to
    /// after-contact work; the caller hears music until the number answers.
    async fn cold_transfer(&mut self, number: String) {
        let route = match self.voice.route_out(&number).await {
            Ok(route) => route,
            Err(e) => {
                warn!(contact = %self.contact_id, %number, "transfer not possible: {e}");
                return;
            }
        };
        info!(contact = %self.contact_id, %number, "the agent transfers the caller");
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, now()).await;
            self.stop_ringing(&a).await;
        }
        self.phase = Phase::InFlow;
        self.playout
            .play(vec![self.voice.library().hold_music()], true);
        let who = format!("third-party:{number}");
        let ring = Duration::from_secs(AGENT_RING_SECONDS);
        if let Err(e) = self.dial(who, number, route, ring, None, Some(false)).await {
            warn!(contact = %self.contact_id, "transfer: {e}");
            self.end(DisconnectReason::ThirdPartyDisconnect);
        }
    }

    /// Stores the recording (if one runs) and notes where in the record.
    async fn store_recording(&mut self, ended: DateTime<Utc>) {
        if let Some(recorder) = self.recorder.take() {
            let duration = recorder.duration_ms() as f64 / 1000.0;
            let key = format!(
                "recordings/{}/{}.wav",
                ended.format("%Y/%m/%d"),
                self.contact_id
            );
            let wav = tokio::task::spawn_blocking(move || recorder.finish())
                .await
                .unwrap_or_default();
            self.ctr.recording = Some(match self.voice.app().blobs.put(&key, wav.into()).await {
                Ok(()) => RecordingInfo {
                    location: key,
                    duration_seconds: duration,
                    status: "AVAILABLE".into(),
                    status_reason: None,
                },
                Err(e) => {
                    warn!(contact = %self.contact_id, "recording not stored: {e}");
                    RecordingInfo {
                        location: key,
                        duration_seconds: duration,
                        status: "FAILED".into(),
                        status_reason: Some(e.to_string()),
                    }
                }
            });
        }
    }

    /// The agent puts the caller in a queue and moves on to after-contact
    /// work. As in Connect, the queued part is a new contact (initiation
    /// TRANSFER) linked both ways to this one, which ends here.
    async fn transfer_to_queue(&mut self, queue_id: String, queue_name: String) {
        let next = uuid::Uuid::new_v4().to_string();
        // Routing decisions for the new contact must reach this call from
        // the moment it is queued: the call answers to both ids until the switch.
        self.voice.also_route(&self.contact_id, &next);
        let enqueue = RoutingEvent::Enqueue {
            contact: next.clone(),
            queue: queue_id.clone(),
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        };
        let refused = match self.voice.app().routing.send(enqueue).await {
            Ok(updates) => updates.into_iter().find_map(|u| match u {
                RoutingUpdate::Refused { contact, reason } if contact == next => {
                    Some((reason.to_string(), reason == Refusal::QueueAtCapacity))
                }
                _ => None,
            }),
            Err(e) => Some((e.to_string(), false)),
        };
        if let Some((reason, full)) = refused {
            self.voice.forget_id(&next);
            warn!(contact = %self.contact_id, queue = %queue_name, "transfer refused: {reason}");
            if let Some(line) = self.agent.as_ref().and_then(|a| a.media.line()) {
                let why = if full {
                    "is full"
                } else {
                    "cannot take contacts"
                };
                line.notice(format!("Not transferred: {queue_name} {why}."));
            }
            return;
        }
        info!(contact = %self.contact_id, next = %next, queue = %queue_name, "the agent transfers the caller to a queue");
        let ended = now();
        let agent_quality = self.agent.as_ref().map(|a| a.media.quality());
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, ended).await;
            self.stop_ringing(&a).await;
        }
        // This contact ends here, pointing at the next.
        self.store_recording(ended).await;
        self.ctr.quality = Some(CallQuality {
            customer: self.customer.quality(),
            agent: agent_quality,
        });
        self.ctr.next_contact_id = Some(next.clone());
        self.ctr.disconnect_timestamp = Some(ended);
        self.ctr.disconnect_reason = Some(DisconnectReason::AgentDisconnect);
        self.ctr.state = ContactState::Ended;
        self.save();
        self.voice.app().metrics.contact_ended(&self.ctr);
        // The caller goes on as the next contact, waiting in the queue.
        let previous = std::mem::replace(&mut self.contact_id, next.clone());
        self.voice.switch_id(&previous, &next);
        self.ctr = ContactRecord {
            id: next.clone(),
            channel: self.ctr.channel,
            initiation_method: InitiationMethod::Transfer,
            initiation_timestamp: ended,
            connected_to_system_timestamp: Some(ended),
            previous_contact_id: Some(previous),
            customer_endpoint: self.ctr.customer_endpoint.clone(),
            system_endpoint: self.ctr.system_endpoint.clone(),
            attributes: self.ctr.attributes.clone(),
            queue: Some(QueueInfo {
                id: queue_id,
                name: queue_name,
                enqueue_timestamp: ended,
                ..Default::default()
            }),
            state: ContactState::Queued,
            ..Default::default()
        };
        self.voice
            .app()
            .metrics
            .contact_started(self.ctr.channel, InitiationMethod::Transfer);
        self.contact.contact_id = next;
        self.contact.initiation_method = InitiationMethod::Transfer.as_str().into();
        self.phase = Phase::Queued;
        self.session = None;
        self.collector = None;
        self.early_offer = None;
        self.enqueue_sent = true;
        self.waiting = Waiting::Nothing;
        self.records.record(&self.ctr);
        self.start_queue_audio();
    }

    /// A routed agent's part of the contact is over (hang-up, transfer):
    /// the router moves them to after-contact work; the record gets their
    /// talk and hold time.
    async fn agent_done(&mut self, a: &AgentLeg, at: DateTime<Utc>) {
        if a.connected_at.is_none() || a.third_party.is_some() {
            return;
        }
        self.voice.agent_finished(&a.agent, &self.contact_id);
        self.route(RoutingEvent::ContactEnded {
            contact: self.contact_id.clone(),
        })
        .await;
        if let Some(info) = &mut self.ctr.agent {
            if let Some(since) = a.on_hold_since {
                info.hold_duration_seconds += since.elapsed().as_secs_f64();
            }
            let total = seconds_between(info.connected_to_agent_timestamp, at);
            info.talk_duration_seconds = (total - info.hold_duration_seconds).max(0.0);
        }
    }

    /// Ends the call; the first reason given is the one recorded.
    fn end(&mut self, reason: switchboard_model::contact_record::DisconnectReason) {
        self.ctr.disconnect_reason.get_or_insert(reason);
        self.phase = Phase::Ended;
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
        if !self.contact.recording.is_empty() && self.recorder.is_none() {
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

    async fn customer_left(&mut self, reason: &str) {
        info!(contact = %self.contact_id, "customer left ({reason})");
        self.end(DisconnectReason::CustomerDisconnect);
    }

    async fn agent_left(&mut self) {
        if let Some(a) = &self.agent {
            if a.third_party.is_some() && a.connected_at.is_none() {
                // Busy or unanswered: AgentFailed reports it to the flow.
                return;
            }
        }
        if let Some(continue_flow) = self.agent.as_ref().and_then(|a| a.third_party) {
            // The third party hung up: back to the flow, which goes on or ends.
            self.drop_agent_leg(|_| true);
            self.ctr.third_party_disconnect_timestamp = Some(now());
            self.phase = Phase::InFlow;
            self.waiting = Waiting::Nothing;
            if !continue_flow || self.session.is_none() {
                self.ctr
                    .disconnect_reason
                    .get_or_insert(DisconnectReason::ThirdPartyDisconnect);
            }
            if self.session.is_none() {
                // Transferred by the agent: no flow to go back to.
                self.end(DisconnectReason::ThirdPartyDisconnect);
                return;
            }
            self.feed(Event::TransferEnded);
            return;
        }
        if self.phase == Phase::Bridged {
            self.end(DisconnectReason::AgentDisconnect);
        }
    }

    /// Hangs up what is still up, tells the router, stores the recording
    /// and the final contact record.
    async fn finish(&mut self) {
        let ended = now();
        self.ctr.quality = Some(CallQuality {
            customer: self.customer.quality(),
            agent: self
                .agent
                .as_ref()
                .filter(|a| a.connected_at.is_some())
                .map(|a| a.media.quality()),
        });
        let stats = self.voice.stats();
        let counts = std::iter::once((
            self.customer.packets_in,
            self.customer.packets_out,
            self.customer.refused(),
        ))
        .chain(self.agent.as_ref().map(|a| a.media.counts()));
        for (packets_in, packets_out, refused) in counts {
            VoiceStats::add(&stats.rtp_packets_in, packets_in);
            VoiceStats::add(&stats.rtp_packets_out, packets_out);
            VoiceStats::add(&stats.rtp_packets_refused, refused);
        }
        // An Enqueue still on its way to the router must land before the
        // Abandon, or the router would keep a contact nobody handles.
        if let Some(enqueue) = self.enqueue_task.take() {
            let _ = enqueue.await;
        }
        let connected = self
            .agent
            .as_ref()
            .is_some_and(|a| a.connected_at.is_some() && a.third_party.is_none());
        let queued_or_ringing = self.enqueue_sent && !connected && self.ctr.agent.is_none();
        if queued_or_ringing {
            let offered = self.drop_agent_leg(|_| true);
            if let Some(a) = &offered {
                self.stop_ringing(a).await;
            }
            // Refused if the queue had refused the contact: nothing to undo then.
            let abandon = RoutingEvent::Abandon {
                contact: self.contact_id.clone(),
            };
            match self.voice.app().routing.send(abandon).await {
                Ok(updates) => {
                    // The agent accepted just as the caller hung up: the router
                    // had connected them, and now puts them in after-contact work.
                    let accepted = offered.filter(|a| {
                        updates.iter().any(|u| matches!(u, RoutingUpdate::AgentState { agent, state, .. } if *agent == a.agent && *state == switchboard_server::routing::AgentState::AfterContactWork))
                    });
                    if let Some(a) = accepted {
                        self.voice.agent_finished(&a.agent, &self.contact_id);
                        if let Some(line) = a.media.line() {
                            line.put_contact(self.view("ended"));
                        }
                    }
                }
                Err(e) => tracing::debug!(contact = %self.contact_id, "abandon: {e}"),
            }
            if let Some(q) = &mut self.ctr.queue {
                q.dequeue_timestamp = Some(ended);
                q.duration_seconds = Some(seconds_between(q.enqueue_timestamp, ended));
            }
        }
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.agent_done(&a, ended).await;
            if self.ctr.disconnect_reason != Some(DisconnectReason::AgentDisconnect) {
                self.stop_ringing(&a).await;
            }
        }
        if self.ctr.disconnect_reason != Some(DisconnectReason::CustomerDisconnect) {
            crate::sip::hang_up_once_acknowledged(&self.customer_dialog).await;
        }
        self.store_recording(ended).await;
        self.ctr.disconnect_timestamp = Some(ended);
        self.ctr.state = ContactState::Ended;
        self.save();
        self.voice.app().metrics.contact_ended(&self.ctr);
        self.voice.forget(&self.contact_id, &self.customer_call_id);
        info!(contact = %self.contact_id, reason = ?self.ctr.disconnect_reason, "call ended");
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
