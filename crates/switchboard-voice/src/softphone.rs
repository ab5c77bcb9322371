//! The browser softphone: each agent's [`Line`], and the WebRTC peer
//! connection that carries their audio.
//!
//! An agent signed in to the CCP has one `Line`, shared by every CCP page
//! they have open and by the call they are on. It holds what survives a page
//! refresh: the contacts offered to or handled by the agent (so a reloaded
//! page shows them again), where the browser's audio goes (the call bridged
//! to the agent) and where the call's audio goes (the newest peer
//! connection). A page that reconnects simply offers a new peer connection;
//! the call never notices.
//!
//! The peer connection is [`str0m`]'s sans-IO `Rtc` (ICE-lite, DTLS-SRTP)
//! driven by `run_peer`: one UDP socket, one task, the usual str0m loop
//! (mutate, drain outputs to the next timeout, wait). Opus is preferred
//! (what browsers send best, a third of G.711's bandwidth, with in-band
//! FEC), turned to and from the call's G.711 at this edge
//! ([`switchboard_media::opus`]); PCMU and PCMA remain for a browser that
//! offers only those, relayed without transcoding when the laws match.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_runtime::CardState;

use chrono::{DateTime, Utc};
use serde::Serialize;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use switchboard_media::g711::Law;
use switchboard_media::opus::{OpusEdge, RTP_CLOCK_PER_SAMPLE};
use switchboard_model::contact_record::{Channel, InitiationMethod};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Audio frames waiting for the browser (about 0.6 s): a slow peer loses
/// the oldest audio rather than holding up the call.
const TO_BROWSER_FRAMES: usize = 32;
/// Audio frames from the browser waiting for the call.
const TO_CALL_FRAMES: usize = 32;
/// How often str0m reports loss and jitter (RTCP's usual 5 s).
const STATS_EVERY: Duration = Duration::from_secs(5);
/// How often the CCP hears the level of the audio we receive from it.
const LEVEL_EVERY: Duration = Duration::from_millis(500);

/// A contact as the agent's CCP shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContactView {
    pub contact: String,
    pub channel: Channel,
    pub initiation_method: InitiationMethod,
    /// The customer's number.
    pub customer: String,
    pub queue: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub state: CardState,
    /// The agent's microphone is cut from the call.
    pub muted: bool,
    /// When the contact entered `state`.
    pub since: DateTime<Utc>,
    /// A chat's participant token for this agent, once connected: the page
    /// opens the chat's own WebSocket with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_token: Option<String>,
    /// The call's audio is on the agent's desk phone: it rings and is
    /// answered there; the CCP shows it and acts on it (hold, keys,
    /// transfer, end, close).
    #[serde(default)]
    pub desk_phone: bool,
}

impl ContactView {
    /// The card of a contact whose agent is in after-contact work on it,
    /// from its record: what the agent closes.
    pub fn ended(record: &switchboard_model::ContactRecord, since: DateTime<Utc>) -> Self {
        ContactView {
            contact: record.id.clone(),
            channel: record.channel,
            initiation_method: record.initiation_method,
            customer: match &record.customer_name {
                Some(name) if record.customer_endpoint.address.is_empty() => name.clone(),
                _ => record.customer_endpoint.address.clone(),
            },
            queue: record.queue.as_ref().map(|q| q.name.clone()),
            attributes: record.attributes.clone(),
            state: CardState::Ended,
            muted: false,
            since,
            chat_token: None,
            desk_phone: false,
        }
    }
}

/// What a line tells the agent's CCP pages.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LineEvent {
    /// A contact appeared or changed.
    Contact { contact: ContactView },
    /// A contact is no longer the agent's (rescinded, missed, closed).
    ContactGone { contact: String },
    /// Something the agent should read (an action that could not be done).
    Notice { message: String },
    /// The audio path: which peer connection carries the agent's audio
    /// (a page whose own is not it is not the softphone now), whether it is
    /// up, how many audio packets came from it, and the level heard (0..1, RMS).
    Media {
        peer: Option<u64>,
        connected: bool,
        packets: u64,
        level: f32,
    },
}

/// 20 ms or so of audio between a call and a browser: G.711 in its law,
/// or (to a browser on Opus, from one) its 16 kHz samples too.
#[derive(Debug, Clone)]
pub struct Frame {
    pub law: Law,
    /// G.711 (empty when only `wide` is sent to a browser on Opus).
    pub payload: Vec<u8>,
    pub wide: Option<Vec<i16>>,
}

struct Peer {
    id: u64,
    to_browser: mpsc::Sender<Frame>,
    cancel: CancellationToken,
}

#[derive(Default)]
struct LineState {
    /// CCP connections open now; the line is "present" while this is > 0.
    connections: u32,
    /// Bumped at every connect, so a grace timer knows it was overtaken.
    generation: u64,
    /// When the last page went away (none open since).
    away_since: Option<Instant>,
    peer: Option<Peer>,
    peer_counter: u64,
    media_connected: bool,
    packets: u64,
    /// The call the agent's audio goes to.
    to_call: Option<(String, mpsc::Sender<Frame>)>,
    contacts: BTreeMap<String, ContactView>,
    /// Audio from the browser lost on the way, over every peer connection
    /// (str0m's receive statistics), and the latest interarrival jitter.
    lost_total: u64,
    peer_lost: u64,
    jitter_ms: f64,
    /// What the browser reports losing of our audio (fraction, RTCP).
    browser_loss: Option<f32>,
}

/// The browser leg's audio quality, as str0m measures it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineQuality {
    /// Packets from the browser lost so far on this line (all peer connections).
    pub lost_total: u64,
    pub jitter_ms: f64,
    pub browser_loss: Option<f32>,
}

/// One agent's softphone.
pub struct Line {
    pub agent: String,
    events: broadcast::Sender<LineEvent>,
    state: Mutex<LineState>,
    /// The browser's peer connection codes Opus (wideband): set by the
    /// peer's task from what was negotiated, read by calls per packet.
    wideband: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Line {
    fn new(agent: &str) -> Line {
        Line {
            agent: agent.to_string(),
            events: broadcast::channel(256).0,
            state: Mutex::default(),
            wideband: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LineEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: LineEvent) {
        // No CCP page open is fine: the state is kept for the next one.
        let _ = self.events.send(event);
    }

    /// A CCP page connected; returns its generation.
    pub fn connected(&self) -> u64 {
        let mut s = lock(&self.state);
        s.connections += 1;
        s.generation += 1;
        s.away_since = None;
        s.generation
    }

    /// A CCP page went away. Returns whether none is left, and the
    /// generation to compare after the grace period.
    pub fn disconnected(&self) -> (bool, u64) {
        let mut s = lock(&self.state);
        s.connections = s.connections.saturating_sub(1);
        if s.connections == 0 {
            s.away_since = Some(Instant::now());
        }
        (s.connections == 0, s.generation)
    }

    /// Whether a page is still away since `generation`.
    pub fn still_away(&self, generation: u64) -> bool {
        let s = lock(&self.state);
        s.connections == 0 && s.generation == generation
    }

    /// Whether a contact can be offered here: a page is open, or one went
    /// away less than `grace` ago (a reload, a network blip) and may be back.
    pub fn reachable(&self, grace: Duration) -> bool {
        let s = lock(&self.state);
        s.connections > 0 || s.away_since.is_some_and(|t| t.elapsed() < grace)
    }

    /// Whether the browser's audio reaches us (the check before Available).
    pub fn media_ready(&self) -> bool {
        let s = lock(&self.state);
        s.peer.is_some() && s.media_connected && s.packets > 0
    }

    pub fn media(&self) -> LineEvent {
        let s = lock(&self.state);
        LineEvent::Media {
            peer: s.peer.as_ref().map(|p| p.id),
            connected: s.peer.is_some() && s.media_connected,
            packets: s.packets,
            level: 0.0,
        }
    }

    /// The contacts the agent has now, oldest first.
    pub fn contacts(&self) -> Vec<ContactView> {
        let mut v: Vec<_> = lock(&self.state).contacts.values().cloned().collect();
        v.sort_by_key(|c| c.since);
        v
    }

    pub fn contact(&self, contact: &str) -> Option<ContactView> {
        lock(&self.state).contacts.get(contact).cloned()
    }

    /// Adds or replaces a contact and tells the pages.
    pub fn put_contact(&self, view: ContactView) {
        lock(&self.state)
            .contacts
            .insert(view.contact.clone(), view.clone());
        self.emit(LineEvent::Contact { contact: view });
    }

    /// Moves a contact to a new state (no-op if the agent does not have it).
    pub fn set_contact_state(&self, contact: &str, state: CardState) {
        let view = {
            let mut s = lock(&self.state);
            let Some(v) = s.contacts.get_mut(contact) else {
                return;
            };
            if v.state == state {
                return;
            }
            v.state = state;
            v.since = Utc::now();
            v.clone()
        };
        self.emit(LineEvent::Contact { contact: view });
    }

    /// Tells the agent's pages something went wrong with what they asked.
    pub fn notice(&self, message: String) {
        self.emit(LineEvent::Notice { message });
    }

    pub fn set_muted(&self, contact: &str, muted: bool) {
        let view = {
            let mut s = lock(&self.state);
            let Some(v) = s.contacts.get_mut(contact) else {
                return;
            };
            v.muted = muted;
            v.clone()
        };
        self.emit(LineEvent::Contact { contact: view });
    }

    /// The contact's call is gone (it ended, or its task failed): a card
    /// the agent worked becomes after-contact work to close; an offer goes.
    pub fn call_gone(&self, contact: &str) {
        match self.contact(contact).map(|c| c.state) {
            Some(CardState::Incoming) => self.remove_contact(contact),
            Some(state) if state != CardState::Ended => {
                self.set_contact_state(contact, CardState::Ended)
            }
            _ => {}
        }
    }

    pub fn remove_contact(&self, contact: &str) {
        let removed = lock(&self.state).contacts.remove(contact).is_some();
        if removed {
            self.emit(LineEvent::ContactGone {
                contact: contact.into(),
            });
        }
    }

    /// Drops contacts in after-contact work: the router moved the agent on.
    pub fn clear_ended(&self) {
        let gone: Vec<String> = lock(&self.state)
            .contacts
            .values()
            .filter(|c| c.state == CardState::Ended)
            .map(|c| c.contact.clone())
            .collect();
        for c in gone {
            self.remove_contact(&c);
        }
    }

    /// Sends the browser's audio to this call from now on; returns where it arrives.
    pub fn bridge(&self, contact: &str) -> mpsc::Receiver<Frame> {
        let (tx, rx) = mpsc::channel(TO_CALL_FRAMES);
        lock(&self.state).to_call = Some((contact.to_string(), tx));
        rx
    }

    /// Stops sending the browser's audio to `contact`'s call.
    pub fn unbridge(&self, contact: &str) {
        let mut s = lock(&self.state);
        if s.to_call.as_ref().is_some_and(|(c, _)| c == contact) {
            s.to_call = None;
        }
    }

    /// Audio for the agent's ears. Dropped when no browser is connected
    /// or it cannot keep up.
    pub fn send_audio(&self, law: Law, payload: &[u8]) -> bool {
        self.send_frame(Frame {
            law,
            payload: payload.to_vec(),
            wide: None,
        })
    }

    /// Wideband audio (16 kHz) for the agent's ears, for a browser on Opus.
    pub fn send_wideband(&self, law: Law, samples: &[i16]) -> bool {
        self.send_frame(Frame {
            law,
            payload: Vec::new(),
            wide: Some(samples.to_vec()),
        })
    }

    fn send_frame(&self, frame: Frame) -> bool {
        let s = lock(&self.state);
        match &s.peer {
            Some(peer) => peer.to_browser.try_send(frame).is_ok(),
            None => false,
        }
    }

    /// Whether the browser speaks wideband (its peer connection codes Opus).
    pub fn wideband(&self) -> bool {
        self.wideband.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_wideband(&self, wideband: bool) {
        self.wideband
            .store(wideband, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn quality(&self) -> LineQuality {
        let s = lock(&self.state);
        LineQuality {
            lost_total: s.lost_total,
            jitter_ms: s.jitter_ms,
            browser_loss: s.browser_loss,
        }
    }

    fn note_ingress(&self, peer: u64, lost: u64, jitter_ms: f64) {
        let mut s = lock(&self.state);
        if s.peer.as_ref().map(|p| p.id) != Some(peer) {
            return;
        }
        let more = lost.saturating_sub(s.peer_lost);
        s.peer_lost = lost;
        s.lost_total += more;
        s.jitter_ms = jitter_ms;
    }

    fn note_egress(&self, peer: u64, loss: Option<f32>) {
        let mut s = lock(&self.state);
        if s.peer.as_ref().map(|p| p.id) == Some(peer) && loss.is_some() {
            s.browser_loss = loss;
        }
    }

    fn heard(&self, frame: Frame) {
        let mut s = lock(&self.state);
        s.packets += 1;
        if let Some((_, to_call)) = &s.to_call {
            let _ = to_call.try_send(frame);
        }
    }

    fn set_media_connected(&self, peer: u64, connected: bool) {
        {
            let mut s = lock(&self.state);
            if s.peer.as_ref().map(|p| p.id) != Some(peer) {
                return;
            }
            s.media_connected = connected;
        }
        self.emit(self.media());
    }

    fn level(&self, peer: u64, level: f32) {
        let event = {
            let s = lock(&self.state);
            if s.peer.as_ref().map(|p| p.id) != Some(peer) {
                return;
            }
            LineEvent::Media {
                peer: Some(peer),
                connected: s.media_connected,
                packets: s.packets,
                level,
            }
        };
        self.emit(event);
    }

    /// Installs a new peer connection, closing the previous one.
    fn install_peer(&self, to_browser: mpsc::Sender<Frame>, cancel: CancellationToken) -> u64 {
        let mut s = lock(&self.state);
        s.peer_counter += 1;
        let id = s.peer_counter;
        if let Some(old) = s.peer.replace(Peer {
            id,
            to_browser,
            cancel,
        }) {
            old.cancel.cancel();
        }
        s.media_connected = false;
        s.packets = 0;
        s.peer_lost = 0;
        drop(s);
        // Tells the other pages their softphone was taken over.
        self.emit(self.media());
        id
    }

    /// Closes the peer connection if it is still `peer`.
    pub fn close_peer(&self, peer: u64) {
        let mut s = lock(&self.state);
        if s.peer.as_ref().is_some_and(|p| p.id == peer) {
            if let Some(p) = s.peer.take() {
                p.cancel.cancel();
            }
            s.media_connected = false;
        }
    }

    fn peer_ended(&self, peer: u64) {
        self.close_peer(peer);
        self.emit(self.media());
    }
}

/// Every agent's line.
#[derive(Default)]
pub struct Softphones {
    lines: Mutex<HashMap<String, Arc<Line>>>,
}

impl Softphones {
    /// The agent's line, made on first use.
    pub fn line(&self, agent: &str) -> Arc<Line> {
        lock(&self.lines)
            .entry(agent.to_string())
            .or_insert_with(|| Arc::new(Line::new(agent)))
            .clone()
    }

    /// The agent's line if they ever opened the CCP.
    pub fn get(&self, agent: &str) -> Option<Arc<Line>> {
        lock(&self.lines).get(agent).cloned()
    }

    /// A call ended or failed: whichever line shows it is told.
    pub fn call_gone(&self, contact: &str) {
        let lines: Vec<Arc<Line>> = lock(&self.lines).values().cloned().collect();
        for line in lines {
            line.call_gone(contact);
        }
    }
}

/// The addresses the softphone offers the browser as ICE host candidates.
///
/// A `media_ip` set to a routable address pins the media there (a
/// deployment's public or LAN address). The laptop default is loopback, and
/// Firefox ignores loopback candidates: a browser on the same machine could
/// then never connect. So with a loopback (or unspecified) `media_ip` every
/// usable address of the machine is offered too: the browser picks one it
/// reaches, and ICE's checks (with the session's credentials) and DTLS keep
/// strangers out. Link-local addresses are left out (they need a scope).
pub fn candidate_ips(media_ip: IpAddr, interfaces: &[IpAddr]) -> Vec<IpAddr> {
    if !media_ip.is_loopback() && !media_ip.is_unspecified() {
        return vec![media_ip];
    }
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_unspecified() && !v4.is_link_local() && !v4.is_multicast(),
        IpAddr::V6(v6) => {
            !v6.is_unspecified() && !v6.is_multicast() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    };
    let mut ips = Vec::new();
    if media_ip.is_loopback() {
        ips.push(media_ip);
    }
    for ip in interfaces.iter().filter(|ip| usable(ip)) {
        // Loopback is offered once, as media_ip names it.
        if ip.is_loopback() && media_ip.is_loopback() {
            continue;
        }
        if !ips.contains(ip) {
            ips.push(*ip);
        }
    }
    ips
}

/// The addresses offered to browsers for `media_ip` on this machine now.
pub fn browser_candidates(media_ip: IpAddr) -> Vec<IpAddr> {
    candidate_ips(media_ip, &interface_ips())
}

/// The machine's interface addresses now (none when they cannot be read).
fn interface_ips() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .into_iter()
            // Down (or absent) interfaces cannot carry media; "unknown" is
            // what loopback and many virtual interfaces report.
            .filter(|i| {
                !matches!(
                    i.oper_status,
                    if_addrs::IfOperStatus::Down | if_addrs::IfOperStatus::NotPresent
                )
            })
            .map(|i| i.ip())
            .collect(),
        Err(e) => {
            warn!("softphone: cannot list the machine's addresses: {e}");
            Vec::new()
        }
    }
}

/// The UDP sockets of one peer connection, one per host candidate.
struct Sockets(Vec<(UdpSocket, SocketAddr)>);

impl Sockets {
    /// A socket on each address (in the RTP port range when one is set; RTCP
    /// travels on the same port, rtcp-mux, so each pair's odd port goes
    /// unused). An address that cannot be bound is skipped, unless none can.
    async fn bind(ips: &[IpAddr], ports: Option<(u16, u16)>) -> Result<Sockets, AnswerError> {
        let mut sockets = Vec::new();
        let mut last_error = None;
        for ip in ips {
            match crate::leg::bind_pair(*ip, ports).await {
                Ok((socket, _)) => {
                    let local = socket
                        .local_addr()
                        .map_err(|e| AnswerError::Socket(Some((*ip, e))))?;
                    sockets.push((socket, local));
                }
                Err(e) => {
                    debug!(%ip, "softphone: no media socket: {e}");
                    last_error = Some((*ip, e));
                }
            }
        }
        if sockets.is_empty() {
            return Err(AnswerError::Socket(last_error));
        }
        Ok(Sockets(sockets))
    }

    fn locals(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.0.iter().map(|(_, local)| *local)
    }

    /// The next datagram on any socket: its length, source and the local
    /// address it came to (str0m needs both ends).
    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr, SocketAddr)> {
        std::future::poll_fn(|cx| {
            for (socket, local) in &self.0 {
                let mut read = tokio::io::ReadBuf::new(buf);
                match socket.poll_recv_from(cx, &mut read) {
                    std::task::Poll::Ready(Ok(source)) => {
                        return std::task::Poll::Ready(Ok((read.filled().len(), source, *local)))
                    }
                    std::task::Poll::Ready(Err(e)) => return std::task::Poll::Ready(Err(e)),
                    std::task::Poll::Pending => {}
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Sends from the socket str0m chose (the candidate the pair uses).
    async fn send(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let socket = self
            .0
            .iter()
            .find(|(_, local)| *local == source)
            .unwrap_or(&self.0[0]);
        let _ = socket.0.send_to(contents, destination).await;
    }
}

/// Why a browser's offer got no answer (sent back to the page as the
/// `sdp` field's error).
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the offer is not SDP: {0}")]
    NotSdp(str0m::error::SdpError),
    /// No media socket could be bound (on this address, with this error).
    #[error("media socket: {}", match .0 { Some((ip, e)) => format!("{ip}: {e}"), None => "no address to bind".into() })]
    Socket(Option<(IpAddr, std::io::Error)>),
    #[error("a media address cannot be a candidate: {0}")]
    Candidate(str0m::error::IceError),
    #[error("the offer cannot be answered: {0}")]
    NotAnswerable(str0m::RtcError),
}

/// Answers a browser's SDP offer and starts the peer connection on new UDP
/// sockets, one per address [`candidate_ips`] offers for `media_ip`.
/// Returns the SDP answer and the peer's number.
pub async fn answer_offer(
    line: Arc<Line>,
    media_ip: IpAddr,
    ports: Option<(u16, u16)>,
    offer_sdp: &str,
) -> Result<(String, u64), AnswerError> {
    let offer = SdpOffer::from_sdp_string(offer_sdp).map_err(AnswerError::NotSdp)?;
    let ips = browser_candidates(media_ip);
    let sockets = Sockets::bind(&ips, ports).await?;
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .set_ice_lite(true)
        .set_stats_interval(Some(STATS_EVERY))
        .clear_codecs()
        // Listed first, so preferred whenever the browser offers it.
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .enable_pcma(true, false)
        .build(Instant::now());
    for local in sockets.locals() {
        let candidate = Candidate::host(local, "udp").map_err(AnswerError::Candidate)?;
        if rtc.add_local_candidate(candidate).is_none() {
            debug!(%local, "softphone: candidate refused");
        }
    }
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(AnswerError::NotAnswerable)?;
    let (to_browser, from_call) = mpsc::channel(TO_BROWSER_FRAMES);
    let cancel = CancellationToken::new();
    let peer = line.install_peer(to_browser, cancel.clone());
    let locals: Vec<SocketAddr> = sockets.locals().collect();
    info!(agent = %line.agent, peer, ?locals, "softphone peer connection");
    tokio::spawn(run_peer(line, peer, rtc, sockets, from_call, cancel));
    Ok((answer.to_sdp_string(), peer))
}

/// Where we are in the RTP clock of the audio we send. Frames count on
/// one after another, so jitter on the way in (late frames, then a burst)
/// reaches the browser's jitter buffer as the steady timeline it was; only
/// after a real pause (no audio between calls, a held caller) does the
/// clock jump ahead to the wall clock, so silence keeps its length.
struct SendClock {
    start: Instant,
    next: u64,
}

/// How far the counted timeline may fall behind real time before it is
/// taken for a pause (200 ms at 8 kHz).
const PAUSE_SAMPLES: u64 = 1600;

impl SendClock {
    fn stamp(&mut self, now: Instant, samples: u64) -> u64 {
        let wall = now.duration_since(self.start).as_millis() as u64 * 8;
        let at = if wall > self.next + PAUSE_SAMPLES {
            wall
        } else {
            self.next
        };
        self.next = at + samples;
        at
    }
}

/// Drives one peer connection until the page, the network or a newer
/// peer connection ends it.
async fn run_peer(
    line: Arc<Line>,
    peer: u64,
    mut rtc: Rtc,
    sockets: Sockets,
    mut from_call: mpsc::Receiver<Frame>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; 2000];
    let mut audio: Option<Mid> = None;
    let mut clock = SendClock {
        start: Instant::now(),
        next: 0,
    };
    let mut energy = (0f64, 0u64);
    let mut last_level = Instant::now();
    let mut codec = BrowserCodec::default();
    loop {
        // Drain every output to the next timeout (str0m's one rule).
        let deadline = loop {
            let output = match rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    warn!(agent = %line.agent, "softphone: {e}");
                    line.peer_ended(peer);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => sockets.send(t.source, t.destination, &t.contents).await,
                Output::Event(event) => match event {
                    Event::Connected => {
                        debug!(agent = %line.agent, peer, "softphone DTLS connected");
                        line.set_media_connected(peer, true);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        info!(agent = %line.agent, peer, "softphone disconnected");
                        line.peer_ended(peer);
                        return;
                    }
                    Event::MediaAdded(m) => {
                        audio = Some(m.mid);
                        line.set_wideband(sends_opus(&mut rtc, m.mid));
                    }
                    Event::MediaIngressStats(st) => {
                        // Sent (the browser's sender reports) minus received.
                        let lost = st
                            .remote
                            .as_ref()
                            .map_or(0, |r| r.packets.saturating_sub(st.packets));
                        // Jitter in RTP units of the codec's clock, in ms.
                        let ms = f64::from(st.jitter) / f64::from(codec.ingress_khz);
                        line.note_ingress(peer, lost, ms);
                    }
                    Event::MediaEgressStats(st) => line.note_egress(peer, st.loss),
                    Event::MediaData(data) => {
                        let spec = data.params.spec();
                        codec.ingress_khz = (spec.clock_rate.get() / 1000).max(1);
                        let Some(frame) = codec.heard(spec.codec, &data.data) else {
                            continue;
                        };
                        for s in frame.law.decode_all(&frame.payload) {
                            energy.0 += f64::from(s) * f64::from(s);
                        }
                        energy.1 += frame.payload.len() as u64;
                        line.heard(frame);
                    }
                    _ => {}
                },
            }
        };
        if last_level.elapsed() >= LEVEL_EVERY && energy.1 > 0 {
            let rms = (energy.0 / energy.1 as f64).sqrt() / 32768.0;
            line.level(peer, rms as f32);
            energy = (0.0, 0);
            last_level = Instant::now();
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        tokio::select! {
            _ = cancel.cancelled() => {
                rtc.disconnect();
                return;
            }
            received = sockets.recv(&mut buf) => {
                let Ok((n, source, destination)) = received else { continue };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination,
                    contents,
                });
                if rtc.accepts(&input) {
                    if let Err(e) = rtc.handle_input(input) {
                        debug!(agent = %line.agent, "softphone input: {e}");
                    }
                }
            }
            frame = from_call.recv() => {
                let (Some(frame), Some(mid)) = (frame, audio) else { continue };
                codec.call_law = frame.law;
                send_frame(&mut rtc, mid, &mut clock, &mut codec, &frame);
            }
            _ = tokio::time::sleep(wait) => {
                if let Err(e) = rtc.handle_input(Input::Timeout(Instant::now())) {
                    debug!(agent = %line.agent, "softphone timer: {e}");
                }
            }
        }
    }
}

/// The browser's side of the codec edge: what it sends is turned into the
/// call's law here, and what the call sends into the codec the browser
/// negotiated.
struct BrowserCodec {
    /// The law the call speaks to the browser in (the caller's): audio from
    /// the browser is given to the call in it, so the call relays it as is.
    call_law: Law,
    /// Opus's encoder and decoder, opened when Opus is first used.
    opus: Option<OpusEdge>,
    /// libopus refused to open: said once, not per packet.
    opus_failed: bool,
    /// The incoming codec's RTP clock, in kHz (jitter comes in its ticks).
    ingress_khz: u32,
}

impl Default for BrowserCodec {
    fn default() -> Self {
        BrowserCodec {
            call_law: Law::MuLaw,
            opus: None,
            opus_failed: false,
            ingress_khz: 8,
        }
    }
}

impl BrowserCodec {
    fn opus(&mut self) -> Option<&mut OpusEdge> {
        if self.opus.is_none() && !self.opus_failed {
            match OpusEdge::new() {
                Ok(edge) => self.opus = Some(edge),
                Err(e) => {
                    warn!("softphone: {e}");
                    self.opus_failed = true;
                }
            }
        }
        self.opus.as_mut()
    }

    /// A packet from the browser, as G.711 audio for the call (and its
    /// 16 kHz samples, from Opus).
    fn heard(&mut self, codec: Codec, payload: &[u8]) -> Option<Frame> {
        let g711 = |law| Frame {
            law,
            payload: payload.to_vec(),
            wide: None,
        };
        match codec {
            Codec::PCMU => Some(g711(Law::MuLaw)),
            Codec::PCMA => Some(g711(Law::ALaw)),
            Codec::Opus => {
                let law = self.call_law;
                let (audio, wide) = self.opus()?.decode(payload, law)?;
                (!audio.is_empty()).then_some(Frame {
                    law,
                    payload: audio,
                    wide: Some(wide),
                })
            }
            _ => None,
        }
    }
}

/// The codec we send the browser in, of those it offered: Opus first.
fn chosen_codec(rtc: &mut Rtc, mid: Mid) -> Option<(str0m::media::Pt, Codec)> {
    rtc.writer(mid)?
        .payload_params()
        .map(|p| (p.pt(), p.spec().codec))
        .filter(|(_, c)| matches!(c, Codec::Opus | Codec::PCMU | Codec::PCMA))
        .min_by_key(|(_, c)| *c != Codec::Opus)
}

/// Whether the browser is sent Opus (wideband).
fn sends_opus(rtc: &mut Rtc, mid: Mid) -> bool {
    chosen_codec(rtc, mid).is_some_and(|(_, c)| c == Codec::Opus)
}

/// Writes one frame from the call to the browser, in the codec negotiated
/// (Opus when the browser took it: from the 16 kHz samples when the frame
/// has them).
fn send_frame(
    rtc: &mut Rtc,
    mid: Mid,
    clock: &mut SendClock,
    codec: &mut BrowserCodec,
    frame: &Frame,
) {
    let Some((pt, chosen)) = chosen_codec(rtc, mid) else {
        return;
    };
    let (law, payload) = (frame.law, &frame.payload[..]);
    let now = Instant::now();
    if chosen == Codec::Opus {
        let Some(edge) = codec.opus() else { return };
        let packets = match &frame.wide {
            Some(wide) => edge.from_wideband(wide),
            None => edge.from_law(payload, law),
        };
        for (packet, samples) in packets {
            let at = clock.stamp(now, samples as u64) * RTP_CLOCK_PER_SAMPLE;
            let time = MediaTime::new(at, Frequency::FORTY_EIGHT_KHZ);
            // Each write takes its writer.
            if let Some(writer) = rtc.writer(mid) {
                let _ = writer.write(pt, now, time, packet);
            }
        }
        return;
    }
    // G.711: a frame with only wideband samples (the codec changed under
    // it) is narrowed here.
    let narrowed;
    let payload = match (&frame.wide, payload.is_empty()) {
        (Some(wide), true) => {
            narrowed = law.encode_all(&wide.iter().step_by(2).copied().collect::<Vec<_>>());
            &narrowed[..]
        }
        _ => payload,
    };
    let Some(writer) = rtc.writer(mid) else {
        return;
    };
    let peer_law = if chosen == Codec::PCMU {
        Law::MuLaw
    } else {
        Law::ALaw
    };
    let data = if peer_law == law {
        payload.to_vec()
    } else {
        peer_law.encode_all(&law.decode_all(payload))
    };
    let at = clock.stamp(now, data.len() as u64);
    let _ = writer.write(pt, now, MediaTime::new(at, Frequency::EIGHT_KHZ), data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_add_the_machines_addresses_to_loopback_but_a_set_address_pins() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let machine = [
            ip("127.0.0.1"),
            ip("192.0.2.2"),
            ip("169.254.10.1"),
            ip("::1"),
            ip("fd00::2"),
            ip("fe80::fc:ff:fe00:1"),
        ];
        // The laptop default: loopback first, then every usable address
        // (Firefox ignores loopback), not link-local ones.
        assert_eq!(
            candidate_ips(ip("127.0.0.1"), &machine),
            [ip("127.0.0.1"), ip("192.0.2.2"), ip("fd00::2")]
        );
        // Listening everywhere: every usable address, loopback included.
        assert_eq!(
            candidate_ips(ip("0.0.0.0"), &machine),
            [ip("127.0.0.1"), ip("192.0.2.2"), ip("::1"), ip("fd00::2")]
        );
        // A deployment's address pins the media there.
        assert_eq!(
            candidate_ips(ip("203.0.113.10"), &machine),
            [ip("203.0.113.10")]
        );
        // A machine whose addresses cannot be read still has loopback.
        assert_eq!(candidate_ips(ip("127.0.0.1"), &[]), [ip("127.0.0.1")]);
    }

    /// A browser's offer, as str0m makes one: PCMU, and Opus when `opus`.
    fn browser_offer(opus: bool) -> String {
        use str0m::media::{Direction, MediaKind};
        let mut browser = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(opus, false)
            .enable_pcmu(true, false)
            .build(Instant::now());
        let mut changes = browser.sdp_api();
        changes.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, _) = changes.apply().unwrap();
        offer.to_sdp_string()
    }

    #[tokio::test]
    async fn a_browser_offering_opus_gets_opus_and_one_without_it_g711() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let answer = |opus| async move {
            let line = Arc::new(Line::new("a"));
            let (sdp, _) = answer_offer(line, ip, None, &browser_offer(opus))
                .await
                .unwrap();
            sdp
        };
        let with_opus = answer(true).await;
        assert!(with_opus.contains("opus/48000/2"), "{with_opus}");
        let without = answer(false).await;
        assert!(!without.contains("opus"), "{without}");
        assert!(without.contains("PCMU/8000"), "{without}");
    }

    #[test]
    fn the_send_clock_absorbs_jitter_and_keeps_pauses() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut c = SendClock { start, next: 0 };
        assert_eq!(c.stamp(at(0), 160), 0);
        // A frame 60 ms late, then two at once: still one 20 ms step each.
        assert_eq!(c.stamp(at(80), 160), 160);
        assert_eq!(c.stamp(at(80), 160), 320);
        assert_eq!(c.stamp(at(81), 160), 480);
        // After a second of silence the clock has moved on by a second.
        assert_eq!(c.stamp(at(1640), 160), 1640 * 8);
        assert_eq!(c.stamp(at(1660), 160), 1640 * 8 + 160);
    }

    #[test]
    fn a_line_keeps_contacts_for_the_next_page_and_forgets_closed_ones() {
        let line = Line::new("a");
        let mut events = line.subscribe();
        let view = ContactView {
            contact: "c1".into(),
            channel: Channel::Voice,
            initiation_method: InitiationMethod::Inbound,
            customer: "+15550100".into(),
            queue: Some("Sales".into()),
            attributes: BTreeMap::new(),
            state: CardState::Incoming,
            muted: false,
            since: Utc::now(),
            chat_token: None,
            desk_phone: false,
        };
        line.put_contact(view);
        line.set_contact_state("c1", CardState::Connected);
        line.set_contact_state("c1", CardState::Ended);
        assert_eq!(line.contacts()[0].state, CardState::Ended);
        line.clear_ended();
        assert!(line.contacts().is_empty());
        let kinds: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| match e {
                LineEvent::Contact { contact } => contact.state.to_string(),
                LineEvent::ContactGone { .. } => "gone".into(),
                LineEvent::Notice { .. } => "notice".into(),
                LineEvent::Media { .. } => "media".into(),
            })
            .collect();
        assert_eq!(kinds, ["incoming", "connected", "ended", "gone"]);
    }

    #[test]
    fn presence_survives_a_refresh_but_not_a_departure() {
        let line = Line::new("a");
        assert!(!line.reachable(Duration::from_secs(30)), "never opened");
        let first = line.connected();
        let second = line.connected(); // the refreshed page
        assert!(second > first);
        let (none_left, _) = line.disconnected(); // the old page goes
        assert!(!none_left);
        let (none_left, generation) = line.disconnected();
        assert!(none_left && line.still_away(generation));
        assert!(
            line.reachable(Duration::from_secs(30)),
            "within the grace period"
        );
        assert!(!line.reachable(Duration::ZERO), "after it");
        line.connected();
        assert!(
            !line.still_away(generation),
            "a return cancels the grace period"
        );
    }
}
