//! One call: a tokio task that owns the customer leg, the agent leg when
//! there is one, the media tick and the recording, and drives the
//! contact's pure core ([`Contact`]: phases, flows, routing, the record).
//!
//! This module is the driver: the call's state and its loop over a
//! datagram on either RTP socket, the 20 ms tick and a [`CallInput`] from
//! outside. It is the only code of a call that reads the clock or waits:
//! the parts below decide, and ask for their I/O (`io`), which the driver
//! carries out after each wake-up, handing the answers back. Slow work
//! (speech, HTTP functions, INVITEs) runs in spawned tasks that post their
//! answer back as a `CallInput`, so the media never waits for it. The rest
//! is split by concern:
//!
//! - `io`: the I/O the parts ask for, carried out in order;
//! - `start`: what a call starts with, and the contact it opens;
//! - `drive`: each of the core's outputs to its action;
//! - `input`: what reaches the call from outside, and where each goes;
//! - `media`: datagrams and ticks (keys, relay, recording, watchdog),
//!   using `tick`'s pure, table-tested rules;
//! - `flow`: the flows' effects and audio, the queue's music and announcements;
//! - `agent`: the agent's leg (desk phone, external number, browser),
//!   re-INVITEs, hold and the agent's actions; `phone`: reaching a phone;
//! - `transfer`: cold transfers and transfers to a queue;
//! - `end`: who left, the recording, the final record.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rsipstack::dialog::invite_dialog::InviteDialog;
use switchboard_contact::{Contact, Input, Phase};
use switchboard_media::dtmf::Collector;
use switchboard_media::playout::Playout;
use switchboard_media::recording::Recorder;
use switchboard_model::contact_record::DisconnectReason;
use switchboard_model::objects::routing_profile::Channel;
use tokio::sync::mpsc;

use crate::agent_media::AgentMedia;
use crate::leg::Leg;
use crate::session_timer::SessionTimer;
use crate::sip::Voice;

pub(super) mod agent;
mod bot;
mod drive;
mod end;
mod flow;
mod input;
mod io;
mod media;
mod offer;
mod phone;
mod start;
mod tick;
mod transfer;

use agent::{AgentLeg, AGENT_RING_SECONDS};
pub use input::{AgentAction, CallInput, Purpose};
use media::Media;
pub(crate) use phone::invite;
pub use phone::PhoneRoute;
use start::open_contact;
pub use start::{NewCall, OutboundAgent};

/// RTCP reports every 5 s (250 ticks of 20 ms), RFC 3550's usual interval.
const RTCP_EVERY_TICKS: u64 = 250;
/// A caller queued on music hears their position this long after queuing,
/// then every `ANNOUNCE_EVERY_MS`.
const FIRST_ANNOUNCEMENT_MS: u64 = 5_000;
const ANNOUNCE_EVERY_MS: u64 = 60_000;

pub struct Call {
    voice: Voice,
    customer_call_id: String,
    customer_dialog: InviteDialog,
    customer: Leg,
    agent: Option<AgentLeg>,
    inputs: mpsc::UnboundedReceiver<CallInput>,
    started: Instant,
    /// The time of the wake-up being handled, read once by the driver
    /// (`read_clock`): the rest of the call reads this, never the clock.
    at: DateTime<Utc>,
    /// The same, in milliseconds since the call began (media timing).
    at_ms: u64,
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
    /// The agent ended the call in the CCP: a desk phone's leg is still up
    /// and gets a BYE (one that hung up itself needs none).
    ended_in_ccp: bool,
    records: switchboard_runtime::records::RecordWriter,
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
    /// A REFER from the agent's phone that came between its answer and
    /// the router's connection (the phone is quick): carried out once
    /// connected.
    pending_refer: Option<CallInput>,
    /// The I/O the call's parts asked for, for the driver to carry out.
    io: io::Pending,
    /// A bot hears the caller (or may be talked over).
    listener: Option<bot::Listener>,
    /// The flow streams the caller's audio (UpdateContactMediaStreamingBehavior).
    stream: Option<crate::streaming::Stream>,
}

/// What woke the call: a datagram on one of its sockets (its length and
/// sender; `None` for a receive error), a frame from the browser (`None`
/// when the browser's side closed), the tick, or an input.
enum Wake {
    CustomerRtcp(Option<(usize, std::net::SocketAddr)>),
    AgentRtcp(Option<(usize, std::net::SocketAddr)>),
    Customer(Option<(usize, std::net::SocketAddr)>),
    AgentPhone(Option<(usize, std::net::SocketAddr)>),
    Browser(Option<crate::softphone::Frame>),
    Tick,
    Input(Option<CallInput>),
}

impl Call {
    /// Runs the call to its end. The customer leg has been answered.
    pub async fn run(voice: Voice, mut new: NewCall) {
        let started_at = Utc::now();
        let media_timeout_ms = voice.config().media_timeout.as_millis() as u64;
        let outbound_profile = match &new.outbound {
            Some(o) => voice.app().routing_profile_of(&o.agent).await,
            None => None,
        };
        let streaming = voice.streaming().is_some();
        let (core, outbound_line) = open_contact(&mut new, outbound_profile, started_at, streaming);
        voice
            .app()
            .metrics
            .contact_started(Channel::Voice, core.record().initiation_method);
        let (records, writer) =
            switchboard_runtime::records::RecordWriter::start(voice.app().clone());
        let mut call = Call {
            voice,
            customer_call_id: new.customer_call_id,
            customer_dialog: new.customer_dialog,
            customer: new.customer,
            agent: None,
            inputs: new.inputs,
            started: Instant::now(),
            at: started_at,
            at_ms: 0,
            core,
            ending: false,
            playout: Playout::default(),
            media: Media::Nothing,
            collector: None,
            enqueue_task: None,
            recorder: None,
            ended_in_ccp: false,
            records,
            watchdog: tick::Watchdog::new(0, media_timeout_ms),
            customer_held: false,
            session_timer: new.session_seconds.map(|s| SessionTimer::new(s, 0)),
            announcements: tick::Announcements::new(FIRST_ANNOUNCEMENT_MS, ANNOUNCE_EVERY_MS),
            ringing_external: None,
            ringing_profile: None,
            last_agent_quality: None,
            pending_refer: None,
            io: io::Pending::default(),
            listener: None,
            stream: None,
        };
        if let Some(line) = outbound_line {
            call.connect_outbound(line);
        }
        call.settle().await;
        call.main_loop().await;
        call.read_clock();
        call.finish();
        call.settle().await;
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
    fn tell(&mut self, input: Input) {
        self.core.handle(self.at, input);
        self.drive();
    }

    /// Reads the clock for the wake-up about to be handled.
    fn read_clock(&mut self) {
        self.at = Utc::now();
        self.at_ms = self.started.elapsed().as_millis() as u64;
    }

    /// Milliseconds since the call began, as of this wake-up.
    fn now_ms(&self) -> u64 {
        self.at_ms
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
            let wake = tokio::select! {
                r = self.customer.rtcp_socket.recv_from(&mut rtcp_buf) => Wake::CustomerRtcp(r.ok()),
                r = async { match agent_rtcp { Some(socket) => socket.recv_from(&mut agent_rtcp_buf).await, None => std::future::pending().await } }, if agent_rtcp.is_some() => Wake::AgentRtcp(r.ok()),
                r = self.customer.socket.recv_from(&mut customer_buf) => Wake::Customer(r.ok()),
                r = async { match agent_socket { Some(socket) => socket.recv_from(&mut agent_buf).await, None => std::future::pending().await } }, if agent_socket.is_some() => Wake::AgentPhone(r.ok()),
                frame = async { match from_browser { Some(frames) => frames.recv().await, None => std::future::pending().await } }, if from_browser.is_some() => Wake::Browser(frame),
                _ = tick.tick() => Wake::Tick,
                input = self.inputs.recv() => Wake::Input(input),
            };
            // The one place a call reads the clock: everything this wake-up
            // does sees the same time.
            self.read_clock();
            match wake {
                Wake::CustomerRtcp(Some((n, from))) => {
                    self.customer.heard_rtcp(from, &rtcp_buf[..n]);
                }
                Wake::AgentRtcp(Some((n, from))) => {
                    if let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) {
                        leg.heard_rtcp(from, &agent_rtcp_buf[..n]);
                    }
                }
                Wake::Customer(Some((n, from))) => {
                    let heard = self.customer.heard(from, &customer_buf[..n]);
                    self.heard_customer(heard);
                }
                Wake::AgentPhone(Some((n, from))) => self.heard_agent_phone(from, &agent_buf[..n]),
                Wake::CustomerRtcp(None)
                | Wake::AgentRtcp(None)
                | Wake::Customer(None)
                | Wake::AgentPhone(None) => {}
                Wake::Browser(Some(frame)) => {
                    if let Some(a) = &mut self.agent {
                        a.media.heard_browser();
                    }
                    let wide = frame.wide.map(|samples| switchboard_media::Wideband {
                        samples,
                        g722: None,
                    });
                    self.heard_agent(frame.law, &frame.payload, wide.as_ref());
                }
                Wake::Browser(None) => {
                    if let Some(AgentMedia::Browser(b)) = self.agent.as_mut().map(|a| &mut a.media)
                    {
                        b.from_browser = None;
                    }
                }
                Wake::Tick => {
                    self.on_tick();
                    ticks += 1;
                    if ticks.is_multiple_of(RTCP_EVERY_TICKS) {
                        self.customer.send_rtcp();
                        if let Some(leg) = self.agent.as_mut().and_then(|a| a.media.phone()) {
                            leg.send_rtcp();
                        }
                    }
                }
                Wake::Input(Some(input)) => self.on_input(input),
                Wake::Input(None) => self.tell(Input::Lost(DisconnectReason::SystemError)),
            }
            self.settle().await;
        }
    }
}

#[cfg(test)]
mod rules;
