//! The SIP endpoint: transports, the requests that start something
//! (INVITE from a trunk, REGISTER from a desk phone, OPTIONS keep-alives),
//! and the fan-out of dialog and routing events to the calls they concern.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, DialogStateSender};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode, Uri};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::connection::SipConnection;
use rsipstack::EndpointBuilder;
use switchboard_media::sdp::RemoteAudio;
use switchboard_model::objects::phone_number::parse_e164;
use switchboard_model::{PhoneNumber, SipTrunk};
use switchboard_routing::ContactStage;
use switchboard_runtime::routing::{AgentState, RoutingUpdate};
use switchboard_runtime::{flow_shell, AppState};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::call::{Call, CallInput, NewCall};
use crate::leg::Leg;
use crate::library::Library;
use crate::registrar::Registrar;
use crate::session_timer::{negotiate, Negotiation};
use switchboard_model::contact_record::{
    Channel, ContactState, DisconnectReason, InitiationMethod,
};

#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Where SIP listens (UDP and TCP on the same port). Port 0 picks one.
    pub sip_listen: SocketAddr,
    /// Where SIP also listens in the other IP family (dual stack), on
    /// `sip_listen`'s port (its own port is not used).
    pub sip_listen_other: Option<SocketAddr>,
    /// The address RTP sockets bind to and SDP advertises.
    pub media_ip: IpAddr,
    /// A second media address, of the other IP family, for peers whose
    /// SDP names an address of that family (a dual-stack host).
    pub media_ip_other: Option<IpAddr>,
    /// Digest realm for desk phones.
    pub realm: String,
    /// The espeak-ng program.
    pub tts_command: String,
    /// A call whose caller sends no RTP for this long (and has not put us
    /// on hold) has lost its media path, usually with its BYE: it is ended.
    pub media_timeout: std::time::Duration,
    /// The smallest session-timer interval accepted (RFC 4028 Min-SE, at least 90 in production).
    pub min_session_expires: u32,
    /// SIP over TLS (SIPS), for trunks that require it.
    pub tls: Option<TlsListen>,
    /// RTP ports (inclusive) when a firewall allows only a range.
    pub rtp_ports: Option<(u16, u16)>,
    /// How long an agent's CCP may stay away (a refresh, a network drop)
    /// before they are made unroutable and their offers go back to the queue.
    pub ccp_grace: std::time::Duration,
    /// A SIP connection over TCP or TLS with no byte for this long is
    /// closed. Phones keep theirs alive with CRLF pings (RFC 5626) every
    /// 30-120 s, so idle ones are gone or never spoke.
    pub stream_idle: std::time::Duration,
    /// How many SIP connections over TCP and TLS are held open.
    pub stream_limits: crate::transport::StreamLimits,
    /// When set, `GET /metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// How often desk phones registered over UDP are pinged (OPTIONS) to
    /// keep their NAT open and find the ones that are gone.
    pub keepalive: std::time::Duration,
    /// How often trunks are read again for registrations to start or stop.
    pub trunk_reload: std::time::Duration,
    /// What desk phones dial to set their agent's status (`*1`, `*0`).
    pub feature_codes: crate::feature_codes::FeatureCodes,
    /// Desk phones' registrations: shortest and longest interval, and
    /// how many devices one agent may register.
    pub registration: crate::registrar::ExpiryPolicy,
    /// The DNS servers (address and port) that find carriers' SIP
    /// servers; none: the system's.
    pub dns_servers: Vec<SocketAddr>,
    /// The speech recogniser bots on calls use; none: calls cannot talk to bots.
    pub speech: Option<crate::speech::SpeechConfig>,
    /// Where UpdateContactMediaStreamingBehavior streams calls' audio;
    /// none: the block takes its error branch.
    pub media_streaming: Option<crate::streaming::StreamingConfig>,
    /// How wrong digest passwords are slowed: per (username, source
    /// address) and per address (the HTTP sign-in defaults).
    pub digest_guard: (
        switchboard_runtime::throttle::Policy,
        switchboard_runtime::throttle::Policy,
    ),
}

/// A TLS listener: address and PEM files.
#[derive(Debug, Clone)]
pub struct TlsListen {
    pub listen: SocketAddr,
    pub cert_pem: std::path::PathBuf,
    pub key_pem: std::path::PathBuf,
}

impl VoiceConfig {
    pub fn local(sip_listen: SocketAddr) -> Self {
        Self {
            sip_listen,
            sip_listen_other: None,
            media_ip: sip_listen.ip(),
            media_ip_other: None,
            realm: "switchboard".into(),
            tts_command: "espeak-ng".into(),
            media_timeout: std::time::Duration::from_secs(60),
            min_session_expires: crate::session_timer::RFC_MIN_SE,
            tls: None,
            rtp_ports: None,
            ccp_grace: std::time::Duration::from_secs(30),
            stream_idle: std::time::Duration::from_secs(180),
            stream_limits: crate::transport::StreamLimits::default(),
            metrics_token: None,
            digest_guard: switchboard_runtime::throttle::SignInGuard::default_policies(),
            speech: Some(crate::speech::SpeechConfig::OnBox(
                crate::speech::sphinx::SphinxConfig::default(),
            )),
            media_streaming: None,
            registration: crate::registrar::ExpiryPolicy::default(),
            feature_codes: crate::feature_codes::FeatureCodes::default(),
            keepalive: crate::registrar::keepalive::INTERVAL,
            trunk_reload: crate::trunk_registration::RELOAD,
            dns_servers: vec![],
        }
    }
}

/// Counters for monitoring (and for tests to see what happened).
#[derive(Debug, Default)]
pub struct VoiceStats {
    pub calls_answered: std::sync::atomic::AtomicU64,
    pub calls_refused: std::sync::atomic::AtomicU64,
    pub queue_announcements: std::sync::atomic::AtomicU64,
    /// Agent whispers played (the queue's name, before the caller is put through).
    pub whispers: std::sync::atomic::AtomicU64,
    pub rtp_packets_in: std::sync::atomic::AtomicU64,
    pub rtp_packets_out: std::sync::atomic::AtomicU64,
    /// RTP packets from an address that is not the call's (dropped).
    pub rtp_packets_refused: std::sync::atomic::AtomicU64,
    /// Keep-alive OPTIONS sent to desk phones, and those answered.
    pub keepalives_sent: std::sync::atomic::AtomicU64,
    pub keepalives_answered: std::sync::atomic::AtomicU64,
    /// Desk phones dropped for answering no keep-alive.
    pub devices_dropped: std::sync::atomic::AtomicU64,
    /// What the SIP transports turned away.
    pub transport: crate::transport::TransportStats,
}

impl VoiceStats {
    pub fn get(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
        counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The running voice channel; cheap to clone.
#[derive(Clone)]
pub struct Voice {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppState,
    config: VoiceConfig,
    local_sip: SocketAddr,
    /// Our SIP address in the other IP family, when listening on both.
    local_sip_other: Option<SocketAddr>,
    dialogs: Arc<DialogLayer>,
    state_sender: DialogStateSender,
    registrar: Registrar,
    library: Library,
    /// Hears callers for bots, when configured.
    recogniser: Option<crate::speech::Recogniser>,
    streaming: Option<crate::streaming::Streaming>,
    /// Finds carriers' SIP servers (RFC 3263).
    dns: Arc<crate::dns::Resolver>,
    /// Calls by contact id.
    calls: Mutex<HashMap<String, mpsc::UnboundedSender<CallInput>>>,
    /// Contact ids by the SIP Call-ID of each of their legs.
    call_ids: Mutex<HashMap<String, String>>,
    /// Agents doing after-contact work, and the contact it is for: when the
    /// router moves them on, the contact record gets its ACW times.
    after_contact_work: Mutex<HashMap<String, String>>,
    /// When each queue's recent calls were answered: the pace that
    /// estimates a caller's wait.
    answers: Mutex<HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    stats: VoiceStats,
    softphones: crate::softphone::Softphones,
    /// The trunks as last read: who may call while the database is away.
    trunks: Mutex<Vec<switchboard_store::Record<SipTrunk>>>,
    /// Records of calls refused in an outage, waiting for the database.
    outage_records: std::sync::atomic::AtomicUsize,
    cancel: CancellationToken,
}

/// Records of refused calls kept waiting for the database at most.
const MAX_OUTAGE_RECORDS: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Voice {
    pub fn app(&self) -> &AppState {
        &self.inner.app
    }
    pub fn library(&self) -> &Library {
        &self.inner.library
    }
    pub fn registrar(&self) -> &Registrar {
        &self.inner.registrar
    }
    pub fn config(&self) -> &VoiceConfig {
        &self.inner.config
    }
    /// The speech recogniser, when one is configured.
    pub fn recogniser(&self) -> Option<&crate::speech::Recogniser> {
        self.inner.recogniser.as_ref()
    }
    /// Media streaming, when an endpoint is configured.
    pub fn streaming(&self) -> Option<&crate::streaming::Streaming> {
        self.inner.streaming.as_ref()
    }
    pub fn dialogs(&self) -> &Arc<DialogLayer> {
        &self.inner.dialogs
    }
    pub fn state_sender(&self) -> DialogStateSender {
        self.inner.state_sender.clone()
    }
    /// The address SIP listens on.
    pub fn local_sip(&self) -> SocketAddr {
        self.inner.local_sip
    }
    /// Our SIP address in the other IP family, when listening on both.
    pub fn local_sip_other(&self) -> Option<SocketAddr> {
        self.inner.local_sip_other
    }
    /// Our SIP address for a peer at `peer`: of its IP family when we
    /// listen on both.
    pub fn local_sip_for(&self, peer: IpAddr) -> SocketAddr {
        match self.inner.local_sip_other {
            Some(other) if other.is_ipv4() == peer.is_ipv4() => other,
            _ => self.inner.local_sip,
        }
    }
    /// Our Contact over UDP, for a peer at `peer`.
    pub fn contact_uri(&self, peer: IpAddr) -> Uri {
        self.contact_uri_for(crate::registrar::Transport::Udp, peer)
    }

    /// Our Contact for a dialog over `transport` with a peer at `peer`:
    /// the address we listen on for it (of the peer's IP family), with
    /// `;transport=` named for TCP and TLS, so the peer's in-dialog
    /// requests (ACK, BYE, re-INVITE) come back over the same transport
    /// (RFC 3261 section 8.1.1.8).
    pub fn contact_uri_for(&self, transport: crate::registrar::Transport, peer: IpAddr) -> Uri {
        self.contact_text(transport, peer)
            .as_str()
            .try_into()
            .unwrap_or_default()
    }

    /// [`Voice::contact_uri_for`] as text, the transport in lower case as
    /// phones write it (rsipstack's URIs print it in upper case, which RFC
    /// 3261 allows but some phones compare as written).
    pub(crate) fn contact_text(
        &self,
        transport: crate::registrar::Transport,
        peer: IpAddr,
    ) -> String {
        use crate::registrar::Transport;
        let ours = self.local_sip_for(peer);
        match (transport, &self.inner.config.tls) {
            (Transport::Udp, _) => format!("sip:switchboard@{ours}"),
            (Transport::Tcp, _) => format!("sip:switchboard@{ours};transport=tcp"),
            (Transport::Tls, Some(tls)) => format!("sip:switchboard@{};transport=tls", tls.listen),
            (Transport::Tls, None) => format!("sip:switchboard@{ours};transport=tls"),
        }
    }
    /// The media address to use with a peer at `peer` (its SDP's address,
    /// or where its SIP goes): ours of the same IP family when we have one.
    pub fn media_ip_for(&self, peer: IpAddr) -> IpAddr {
        let config = &self.inner.config;
        match config.media_ip_other {
            Some(other)
                if !peer.is_unspecified()
                    && other.is_ipv4() == peer.is_ipv4()
                    && config.media_ip.is_ipv4() != peer.is_ipv4() =>
            {
                other
            }
            _ => config.media_ip,
        }
    }

    pub fn stats(&self) -> &VoiceStats {
        &self.inner.stats
    }

    /// Cancels our INVITE of `call_id` (nothing when it has ended).
    pub(crate) async fn cancel_invite(&self, call_id: &str) {
        for d in self.dialogs().get_client_dialog_by_call_id(call_id) {
            let _ = d.cancel().await;
        }
    }

    /// Where each trunk that registers with its carrier stands.
    pub fn trunk_registrations(
        &self,
    ) -> &switchboard_runtime::trunk_registrations::TrunkRegistrations {
        &self.inner.app.trunk_registrations
    }

    /// Desk-phone devices registered now.
    pub fn registered_devices(&self) -> usize {
        self.inner.registrar.all_devices().len()
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        lock(&self.inner.calls).len()
    }
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    /// Delivers `input` to the call handling `contact`; false if there is none.
    pub fn post(&self, contact: &str, input: CallInput) -> bool {
        match lock(&self.inner.calls).get(contact) {
            Some(tx) => tx.send(input).is_ok(),
            None => false,
        }
    }

    /// Inputs for `also` go to the call handling `contact` too (a transfer
    /// to a queue makes a new contact for the same call).
    pub fn also_route(&self, contact: &str, also: &str) {
        let mut calls = lock(&self.inner.calls);
        if let Some(tx) = calls.get(contact).cloned() {
            calls.insert(also.to_string(), tx);
        }
    }

    /// Stops routing inputs for `contact` (a refused transfer's new id).
    pub fn forget_id(&self, contact: &str) {
        lock(&self.inner.calls).remove(contact);
    }

    /// The call goes on as `next`: its SIP dialogs now belong to `next`,
    /// and `previous` no longer reaches it.
    pub fn switch_id(&self, previous: &str, next: &str) {
        let mut ids = lock(&self.inner.call_ids);
        for bound in ids.values_mut().filter(|c| c.as_str() == previous) {
            *bound = next.to_string();
        }
        drop(ids);
        lock(&self.inner.calls).remove(previous);
    }

    /// Delivers inputs for `contact` to `tx` from now on.
    pub fn track_call(&self, contact: &str, tx: mpsc::UnboundedSender<CallInput>) {
        lock(&self.inner.calls).insert(contact.to_string(), tx);
    }

    /// Every agent's browser softphone line.
    pub fn softphones(&self) -> &crate::softphone::Softphones {
        &self.inner.softphones
    }

    fn post_by_call_id(&self, call_id: &str, input: impl FnOnce() -> CallInput) {
        let contact = lock(&self.inner.call_ids).get(call_id).cloned();
        if let Some(contact) = contact {
            self.post(&contact, input());
        }
    }

    pub fn bind_call_id(&self, call_id: &str, contact: &str) {
        lock(&self.inner.call_ids).insert(call_id.to_string(), contact.to_string());
    }

    pub fn unbind_call_id(&self, call_id: &str) {
        lock(&self.inner.call_ids).remove(call_id);
    }

    /// How to call an external number: through the first SIP trunk with an
    /// outbound proxy, with its credentials for the carrier's challenge.
    pub async fn route_out(&self, number: &str) -> Result<crate::call::PhoneRoute, RouteError> {
        let trunks = self.app().store.list::<SipTrunk>().await?;
        let trunk = trunks
            .into_iter()
            .find(|t| t.spec.outbound_proxy.is_some())
            .ok_or(RouteError::NoTrunk)?;
        let proxy = trunk.spec.outbound_proxy.clone().unwrap_or_default();
        let unreachable = |reason: String| RouteError::Proxy {
            trunk: trunk.spec.name.clone(),
            proxy: proxy.clone(),
            reason,
        };
        let (host, port) = switchboard_model::objects::sip_trunk::split_server(&proxy)
            .ok_or_else(|| unreachable("is not host or host:port".into()))?;
        let transport = trunk
            .spec
            .transport
            .map(crate::registrar::Transport::of_trunk);
        let mut servers = self
            .inner
            .dns
            .resolve(host, port, transport)
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .into_iter();
        let server = servers
            .next()
            .ok_or_else(|| unreachable("has no address".into()))?;
        let fallbacks = servers.map(|s| s.transport.sip_addr(s.addr)).collect();
        let uri: Uri = format!("sip:{number}@{proxy}")
            .as_str()
            .try_into()
            .map_err(|e| RouteError::Number {
                number: number.to_string(),
                reason: format!("{e:?}"),
            })?;
        let credential = match (&trunk.spec.username, &trunk.spec.password) {
            (Some(username), Some(password)) => Some(rsipstack::dialog::authenticate::Credential {
                username: username.clone(),
                password: password.clone(),
                realm: None,
                auth_username: None,
            }),
            _ => None,
        };
        Ok(crate::call::PhoneRoute {
            uri,
            destination: server.addr,
            transport: server.transport,
            credential,
            caller_id: trunk.spec.caller_id_number.clone(),
            fallbacks,
        })
    }

    /// A call waiting in `queue` was answered now.
    pub fn note_answer(&self, queue: &str) {
        let mut answers = lock(&self.inner.answers);
        let recent = answers.entry(queue.to_string()).or_default();
        recent.push_back(std::time::Instant::now());
        while recent.len() > 20 {
            recent.pop_front();
        }
    }

    /// How long a caller at `position` in `queue` can expect to wait: the
    /// position over the pace at which the queue's last calls (up to 20, in
    /// the last hour) were answered. `None` without enough history.
    pub fn expected_wait(&self, queue: &str, position: usize) -> Option<std::time::Duration> {
        let answers = lock(&self.inner.answers);
        let recent: Vec<_> = answers
            .get(queue)?
            .iter()
            .filter(|t| t.elapsed() < std::time::Duration::from_secs(3600))
            .copied()
            .collect();
        if recent.len() < 2 {
            return None;
        }
        let span = recent
            .last()?
            .duration_since(*recent.first()?)
            .as_secs_f64();
        let per_answer = span / (recent.len() - 1) as f64;
        Some(std::time::Duration::from_secs_f64(
            per_answer * position as f64,
        ))
    }

    /// `agent` has just finished talking on `contact`.
    pub fn agent_finished(&self, agent: &str, contact: &str) {
        lock(&self.inner.after_contact_work).insert(agent.to_string(), contact.to_string());
    }

    pub fn forget(&self, contact: &str, call_id: &str) {
        lock(&self.inner.calls).remove(contact);
        self.unbind_call_id(call_id);
    }
}

/// Starts SIP on `config.sip_listen` and everything behind it.
/// Why an external number cannot be called. The text is for the agent or
/// the flow's error branch.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The trunks could not be read.
    #[error("the SIP trunks could not be read: {0}")]
    Store(#[from] switchboard_store::StoreError),
    /// No trunk has an outbound proxy.
    #[error("no SIP trunk has an outbound proxy for external numbers")]
    NoTrunk,
    /// The trunk's proxy has no address (DNS).
    #[error("trunk '{trunk}' proxy {proxy}: {reason}")]
    Proxy {
        /// The trunk's name.
        trunk: String,
        /// Its outbound proxy.
        proxy: String,
        /// Why it cannot be reached.
        reason: String,
    },
    /// The number does not make a SIP URI.
    #[error("'{number}' cannot be dialled: {reason}")]
    Number {
        /// The number as given.
        number: String,
        /// The SIP parser's reason.
        reason: String,
    },
}

/// Why the voice channel could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A SIP port could not be opened (taken, or not ours to bind).
    #[error("SIP {transport} on {address}: {source}")]
    Listen {
        /// UDP, TCP or TLS.
        transport: &'static str,
        /// The address asked for.
        address: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error("SIP TLS: {0}")]
    Tls(String),
    /// The SIP stack refused to start.
    #[error("SIP stack: {0}")]
    Stack(String),
    /// The DNS resolver cannot be set up.
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsError),
}

impl StartError {
    pub(crate) fn listen(
        transport: &'static str,
        address: SocketAddr,
        source: std::io::Error,
    ) -> Self {
        StartError::Listen {
            transport,
            address,
            source,
        }
    }
}

/// The media address to advertise: the one configured, or, when that is
/// the unspecified address (`sip_listen = "0.0.0.0:5060"` and no
/// `media_ip`), the address SIP is reached at (rsipstack resolves a
/// wildcard listener to the host's first non-loopback address). An SDP
/// `c=0.0.0.0` would put every call on hold.
fn advertised_media_ip(configured: IpAddr, local_sip: SocketAddr) -> IpAddr {
    match (configured.is_unspecified(), local_sip.ip().is_unspecified()) {
        (false, _) => configured,
        (true, false) => local_sip.ip(),
        (true, true) if configured.is_ipv4() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        (true, true) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

pub async fn start(app: AppState, mut config: VoiceConfig) -> Result<Voice, StartError> {
    let cancel = CancellationToken::new();
    let stats = VoiceStats::default();
    let dns = Arc::new(crate::dns::Resolver::new(&config.dns_servers)?);
    let crate::transport::Listening {
        layer,
        local_sip,
        local_sip_other,
        tcp,
    } = crate::transport::open(
        &config,
        ALLOWED_METHODS,
        &stats.transport,
        dns.clone(),
        &cancel,
    )
    .await?;
    let media_ip = advertised_media_ip(config.media_ip, local_sip);
    if media_ip != config.media_ip {
        info!(%media_ip, "media address: the SIP address (none is configured)");
        config.media_ip = media_ip;
    }
    let endpoint = EndpointBuilder::new()
        .with_cancel_token(cancel.clone())
        .with_transport_layer(layer)
        .with_user_agent("Switchboard")
        .build();
    crate::transport::accept_streams(
        endpoint.inner.clone(),
        &config,
        tcp,
        &stats.transport,
        &cancel,
    )
    .await?;
    let incoming = endpoint
        .incoming_transactions()
        .map_err(|e| StartError::Stack(e.to_string()))?;
    let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (state_sender, state_receiver) = dialogs.new_dialog_state_channel();
    let voice = Voice {
        inner: Arc::new(Inner {
            registrar: Registrar::new(
                config.realm.clone(),
                config.registration,
                config.digest_guard,
            ),
            library: Library::new(config.tts_command.clone()),
            recogniser: config.speech.clone().map(crate::speech::Recogniser::new),
            streaming: config
                .media_streaming
                .clone()
                .map(crate::streaming::Streaming::new),
            dns,
            app,
            config,
            local_sip,
            local_sip_other,
            dialogs,
            state_sender,
            calls: Mutex::new(HashMap::new()),
            call_ids: Mutex::new(HashMap::new()),
            after_contact_work: Mutex::new(HashMap::new()),
            answers: Mutex::new(HashMap::new()),
            stats,
            softphones: Default::default(),
            trunks: Mutex::new(Vec::new()),
            outage_records: Default::default(),
            cancel: cancel.clone(),
        }),
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = endpoint.serve() => warn!("SIP endpoint stopped"),
            _ = cancel.cancelled() => {}
        }
    });
    tokio::spawn(dialog_events(voice.clone(), state_receiver));
    tokio::spawn(routing_updates(voice.clone()));
    // Before any request is taken: a new call's open record must not be
    // taken for one the dead process left.
    recover_lost_calls(&voice).await;
    let closed =
        switchboard_runtime::recovery::close_lost_contacts(voice.app(), chrono::Utc::now()).await;
    if closed > 0 {
        warn!(
            closed,
            "contacts left open by the previous process were closed"
        );
    }
    voice.registrar().restore(voice.app()).await;
    let (pinger, stop) = (voice.clone(), voice.inner.cancel.clone());
    let keepalive = voice.config().keepalive;
    tokio::spawn(async move {
        tokio::select! {
            _ = crate::registrar::keepalive::run(pinger, keepalive) => {}
            _ = stop.cancelled() => {}
        }
    });
    let (registrar, stop) = (voice.clone(), voice.inner.cancel.clone());
    let reload = voice.config().trunk_reload;
    tokio::spawn(async move {
        tokio::select! {
            _ = crate::trunk_registration::run(registrar, reload) => {}
            _ = stop.cancelled() => {}
        }
    });
    tokio::spawn(accept_requests(voice.clone(), incoming));
    info!(%local_sip, "SIP listening (UDP and TCP)");
    Ok(voice)
}

async fn accept_requests(voice: Voice, mut incoming: rsipstack::transaction::TransactionReceiver) {
    while let Some(tx) = incoming.recv().await {
        let voice = voice.clone();
        tokio::spawn(async move { voice.on_request(tx).await });
    }
}

/// Where a request came from: the Via's received/rport, which the
/// transport layer fills in from the packet's real source.
fn source_of(tx: &Transaction) -> Option<SocketAddr> {
    let via = tx.original.via_header().ok()?;
    let (_, host_with_port) = SipConnection::parse_target_from_via(via).ok()?;
    host_with_port.try_into().ok()
}

/// `Warning: <code> <agent> "<why>"` (RFC 3261 section 20.43), the text
/// made safe to quote (quotes, backslashes and control characters become
/// `'`) and at most 200 characters: `why` may carry what a peer sent.
pub(crate) fn warning(code: u16, agent: &str, why: &str) -> Header {
    let text: String = why
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .take(200)
        .collect();
    Header::Warning(format!("{code} {agent} \"{text}\"").into())
}

/// The request's To header as the caller wrote it, byte for byte, with
/// our tag added: rsipstack re-writes the To it copies into responses
/// (`transport=tcp` becomes `transport=TCP`), which RFC 3261 section 8.2.6.2
/// does not allow, and some phones then match no dialog.
fn to_with_tag(tx: &Transaction, tag: &str) -> Option<Header> {
    let to = tx.original.to_header().ok()?;
    if to.tag().ok().flatten().is_some() || tag.is_empty() {
        return None;
    }
    Some(Header::To(
        format!("{};tag={tag}", to.value().trim_end()).into(),
    ))
}

/// What a request came over: the connection it arrived on, else its Via.
pub(crate) fn transport_of(tx: &Transaction) -> crate::registrar::Transport {
    use crate::registrar::Transport;
    let named = match &tx.connection {
        Some(c) => c.get_addr().r#type,
        None => tx
            .original
            .via_header()
            .ok()
            .and_then(|v| SipConnection::parse_target_from_via(v).ok())
            .map(|(t, _)| t),
    };
    match named {
        Some(rsipstack::sip::Transport::Tcp) => Transport::Tcp,
        Some(rsipstack::sip::Transport::Tls) => Transport::Tls,
        _ => Transport::Udp,
    }
}

/// The methods Switchboard serves (OPTIONS and 405 answers list them).
const ALLOWED_METHODS: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER, REFER";

/// Whether a request arrived shorter than its Content-Length says: over UDP
/// it was cut (RFC 3261 section 18.3 asks for 400). Streams frame by the
/// length, so only datagrams can be short.
fn truncated(tx: &Transaction) -> bool {
    let declared = tx.original.headers.iter().find_map(|h| match h {
        Header::ContentLength(n) => n.value().trim().parse::<usize>().ok(),
        _ => None,
    });
    declared.is_some_and(|n| n > tx.original.body.len())
}

impl Voice {
    async fn on_request(&self, mut tx: Transaction) {
        if truncated(&tx) {
            if tx.original.method != Method::Ack {
                let reason = Header::Warning(
                    format!(
                        "399 {} \"the body is shorter than Content-Length\"",
                        self.local_sip()
                    )
                    .into(),
                );
                let _ = tx
                    .reply_with(StatusCode::BadRequest, vec![reason], None)
                    .await;
            }
            return;
        }
        let in_dialog = tx
            .original
            .to_header()
            .ok()
            .and_then(|t| t.tag().ok().flatten())
            .is_some();
        if in_dialog
            || matches!(
                tx.original.method,
                Method::Ack | Method::Cancel | Method::Bye | Method::Info
            )
        {
            if let Some(mut dialog) = self.dialogs().match_dialog(&tx) {
                if let Err(e) = dialog.handle(&mut tx).await {
                    warn!("in-dialog {}: {e}", tx.original.method);
                }
                return;
            }
            if tx.original.method == Method::Options {
                let _ = tx.reply(StatusCode::OK).await;
            } else if tx.original.method != Method::Ack {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
            return;
        }
        let Some(source) = source_of(&tx) else {
            let _ = tx.reply(StatusCode::BadRequest).await;
            return;
        };
        match tx.original.method {
            Method::Invite => {
                let dialled = tx.original.uri.user().unwrap_or_default().to_string();
                match self.config().feature_codes.status_for(&dialled) {
                    Some(status) => {
                        let status = status.to_string();
                        self.feature_code(tx, source, &status).await
                    }
                    None => self.inbound_call(tx, source).await,
                }
            }
            Method::Register => {
                let transport = transport_of(&tx);
                self.inner
                    .registrar
                    .register(self.app(), &mut tx, source, transport)
                    .await
            }
            Method::Options => {
                let allow = Header::Allow(ALLOWED_METHODS.into());
                let _ = tx.reply_with(StatusCode::OK, vec![allow], None).await;
            }
            _ => {
                // Known to SIP, not served here: 405 saying what is
                // (RFC 3261 section 8.2.1).
                let allow = Header::Allow(ALLOWED_METHODS.into());
                let _ = tx
                    .reply_with(StatusCode::MethodNotAllowed, vec![allow], None)
                    .await;
            }
        }
    }

    /// Answers an INVITE we will not take, and counts it.
    async fn refuse(&self, tx: &mut Transaction, status: StatusCode) {
        VoiceStats::add(&self.inner.stats.calls_refused, 1);
        let _ = tx.reply(status).await;
    }

    /// Refuses an INVITE the database is not there for: 503 with
    /// Retry-After, so the carrier tries its other route or again later.
    /// A call from a known trunk (`keep`) still leaves its record, written
    /// once the database is back; at most [`MAX_OUTAGE_RECORDS`] wait.
    async fn refuse_in_outage(&self, tx: &mut Transaction, source: SocketAddr, keep: bool) {
        VoiceStats::add(&self.inner.stats.calls_refused, 1);
        let retry = Header::RetryAfter("30".into());
        let _ = tx
            .reply_with(StatusCode::ServiceUnavailable, vec![retry], None)
            .await;
        let waiting = &self.inner.outage_records;
        let admitted = keep
            && waiting
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |n| (n < MAX_OUTAGE_RECORDS).then_some(n + 1),
                )
                .is_ok();
        if !admitted {
            return;
        }
        let now = chrono::Utc::now();
        let user = |uri: Option<rsipstack::sip::Uri>| {
            uri.and_then(|u| u.user().map(str::to_string))
                .unwrap_or_else(|| "anonymous".into())
        };
        let caller = user(tx.original.from_header().ok().and_then(|f| f.uri().ok()));
        let dialled = user(Some(tx.original.uri.clone()));
        let e164 = |n: String| parse_e164(&n).map(|e| e.number).unwrap_or(n);
        let mut record = switchboard_model::ContactRecord {
            id: uuid::Uuid::new_v4().to_string(),
            channel: Channel::Voice,
            initiation_method: InitiationMethod::Inbound,
            initiation_timestamp: now,
            disconnect_timestamp: Some(now),
            disconnect_reason: Some(switchboard_model::contact_record::LOST_IN_RESTART),
            state: ContactState::Ended,
            ..Default::default()
        };
        record.customer_endpoint.address = e164(caller);
        record.system_endpoint.address = e164(format!("+{}", dialled.trim_start_matches('+')));
        warn!(contact = %record.id, %source, "call refused: the database does not answer");
        let voice = self.clone();
        tokio::spawn(async move {
            switchboard_runtime::recovery::store_when_possible(voice.app().clone(), record).await;
            voice
                .inner
                .outage_records
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
    }

    /// Refuses an INVITE whose offer we cannot answer: 488 with the
    /// Warning RFC 3261 asks for (section 21.4.26), saying why.
    async fn refuse_media(&self, tx: &mut Transaction, why: &str) {
        VoiceStats::add(&self.inner.stats.calls_refused, 1);
        let _ = tx
            .reply_with(
                StatusCode::NotAcceptableHere,
                vec![self.media_warning(why)],
                None,
            )
            .await;
    }

    /// `Warning: 305 <us> "<why>"` (305: incompatible media format).
    pub(crate) fn media_warning(&self, why: &str) -> Header {
        warning(305, &self.local_sip().to_string(), why)
    }

    async fn inbound_call(&self, mut tx: Transaction, source: SocketAddr) {
        let invited = std::time::Instant::now();
        let trunks = match self.app().store.list::<SipTrunk>().await {
            Ok(t) => {
                *lock(&self.inner.trunks) = t.clone();
                t
            }
            Err(e) if e.is_unavailable() => {
                // Only a caller the trunks last read admit gets a record.
                let known = lock(&self.inner.trunks)
                    .iter()
                    .any(|t| t.spec.admits(source.ip()));
                warn!(%source, known, "INVITE refused: the database does not answer: {e}");
                self.refuse_in_outage(&mut tx, source, known).await;
                return;
            }
            Err(e) => {
                warn!("trunks: {e}");
                self.refuse(&mut tx, StatusCode::ServiceUnavailable).await;
                return;
            }
        };
        let trunk = match trunks.iter().find(|t| t.spec.admits(source.ip())) {
            Some(t) => t.clone(),
            // Trunks without fixed addresses prove who they are by digest.
            None if trunks.iter().any(|t| t.spec.authenticate_inbound) => {
                let registrar = &self.inner.registrar;
                match registrar
                    .authenticate_trunk(self.app(), &mut tx, source, trunks)
                    .await
                {
                    Some(t) => t,
                    None => return,
                }
            }
            None => {
                warn!(%source, "INVITE refused: no SIP trunk admits this address");
                self.refuse(&mut tx, StatusCode::Forbidden).await;
                return;
            }
        };
        let transport = transport_of(&tx);
        let peer = crate::leg::MediaPeer {
            signalling: Some(source.ip()),
            strict: trunk.spec.strict_media_source,
            private: transport == crate::registrar::Transport::Tls,
        };
        let dialled = tx.original.uri.user().unwrap_or_default().to_string();
        let number = match lookup_number(self.app(), &dialled).await {
            Ok(Some(n)) => n,
            Err(e) => {
                warn!(%source, %dialled, "INVITE refused: numbers not read: {e}");
                let unavailable = e.is_unavailable();
                self.refuse_in_outage(&mut tx, source, unavailable).await;
                return;
            }
            Ok(None) => {
                warn!(%source, %dialled, "INVITE refused: not one of our numbers (or it has no flow)");
                self.refuse(&mut tx, StatusCode::NotFound).await;
                return;
            }
        };
        let remote = match RemoteAudio::parse(&tx.original.body) {
            Ok(r) => r,
            Err(e) => {
                warn!(%source, "INVITE refused: {e}");
                self.refuse_media(&mut tx, &e.to_string()).await;
                return;
            }
        };
        let supported: Vec<String> = tx
            .original
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Supported(v) => Some(v.value().to_string()),
                _ => None,
            })
            .collect();
        let session_expires = tx
            .original
            .session_expires_header()
            .map(|h| h.value().to_string());
        let mut answer_headers = vec![Header::ContentType("application/sdp".into())];
        let session_seconds = match negotiate(
            session_expires.as_deref(),
            &supported,
            self.config().min_session_expires,
        ) {
            Negotiation::None => None,
            Negotiation::TooSmall { min_se } => {
                let header = Header::MinSE(min_se.to_string().into());
                let _ = tx
                    .reply_with(StatusCode::SessionIntervalTooSmall, vec![header], None)
                    .await;
                return;
            }
            Negotiation::Timer {
                seconds,
                session_expires,
            } => {
                answer_headers.push(Header::SessionExpires(session_expires.into()));
                answer_headers.push(Header::Require("timer".into()));
                Some(seconds)
            }
        };
        let flow = match flow_shell::load_flow(self.app(), number.1.as_str(), false).await {
            Ok(f) => f,
            Err(e) => {
                warn!(number = %number.0, "INVITE refused: flow: {e}");
                self.refuse(&mut tx, StatusCode::ServiceUnavailable).await;
                return;
            }
        };
        // SDES keys travel in the SDP: in clear text unless the SIP is
        // encrypted too, and then the audio is not secret (RFC 4568
        // section 8.3). An SRTP offer is taken over TLS only.
        if remote.secure && !peer.private {
            warn!(%source, "INVITE refused: SRTP keys offered over SIP without TLS");
            self.refuse_media(
                &mut tx,
                "SRTP keys (a=crypto) are taken only over SIP over TLS (RFC 4568 section 8.3)",
            )
            .await;
            return;
        }
        let media_ip = self.media_ip_for(remote.addr.ip());
        let mut leg = match Leg::bind(media_ip, self.config().rtp_ports).await {
            Ok(l) => l,
            Err(e) => {
                warn!("RTP socket: {e}");
                self.refuse(&mut tx, StatusCode::ServiceUnavailable).await;
                return;
            }
        };
        leg.set_peer(peer);
        let (answer, negotiated) = match leg.answer(&remote) {
            Ok(a) => a,
            Err(e) => {
                warn!(%source, "INVITE refused: {e}");
                self.refuse_media(&mut tx, &e.to_string()).await;
                return;
            }
        };
        leg.connect(&remote, negotiated);
        let call_id = tx
            .original
            .call_id_header()
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        let caller = tx
            .original
            .from_header()
            .ok()
            .and_then(|f| f.uri().ok())
            .and_then(|u| u.user().map(str::to_string))
            .unwrap_or_else(|| "anonymous".into());
        let caller = parse_e164(&caller).map(|e| e.number).unwrap_or(caller);
        let dialog = match self.dialogs().get_or_create_server_invite(
            &tx,
            self.state_sender(),
            None,
            Some(self.contact_uri_for(transport, source.ip())),
        ) {
            Ok(d) => d,
            Err(_) => {
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        if let Some(to) = to_with_tag(&tx, &dialog.id().local_tag) {
            answer_headers.push(to);
        }
        let contact = format!("<{}>", self.contact_text(transport, source.ip()));
        answer_headers.push(Header::Contact(contact.into()));
        let contact_id = uuid::Uuid::new_v4().to_string();
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        lock(&self.inner.calls).insert(contact_id.clone(), inputs_tx);
        self.bind_call_id(&call_id, &contact_id);
        // The dialog answers the INVITE transaction (and its ACK) in its own task.
        let mut handler = dialog.clone();
        tokio::spawn(async move {
            if let Err(e) = handler.handle(&mut tx).await {
                warn!("INVITE transaction: {e}");
            }
        });
        if let Err(e) = dialog.accept(Some(answer_headers), Some(answer)) {
            warn!("answer not sent: {e}");
        }
        VoiceStats::add(&self.inner.stats.calls_answered, 1);
        self.app()
            .metrics
            .call_set_up(invited.elapsed().as_secs_f64());
        info!(contact = %contact_id, from = %caller, to = %number.0, "call answered");
        let customer_dialog = dialog.clone();
        let task = tokio::spawn(Call::run(
            self.clone(),
            NewCall {
                contact_id: contact_id.clone(),
                customer_call_id: call_id.clone(),
                customer_dialog: dialog,
                customer: leg,
                inputs,
                flow: Some(flow),
                flow_id: Some(number.1),
                customer_number: caller,
                session_seconds,
                system_number: number.0,
                outbound: None,
            },
        ));
        if let Err(e) = task.await {
            self.call_task_failed(&contact_id, &call_id, &customer_dialog, e)
                .await;
        }
    }

    /// A bug must not lose an accepted contact: when a call task fails,
    /// hang up, free the router, tell the agent's CCP, and close the record
    /// with the reason.
    pub(crate) async fn call_task_failed(
        &self,
        contact_id: &str,
        call_id: &str,
        customer_dialog: &InviteDialog,
        error: tokio::task::JoinError,
    ) {
        // A transfer to a queue moves the call to a new contact id; the
        // SIP binding follows it, so it names the contact the call was on.
        let current = lock(&self.inner.call_ids).get(call_id).cloned();
        let contact_id = current.as_deref().unwrap_or(contact_id);
        tracing::error!(contact = %contact_id, "call task failed: {error}");
        hang_up_once_acknowledged(customer_dialog).await;
        self.forget(contact_id, call_id);
        let _ = self
            .app()
            .routing
            .send(switchboard_runtime::routing::RoutingEvent::Abandon {
                contact: contact_id.to_string(),
            })
            .await;
        let _ = self
            .app()
            .routing
            .send(switchboard_runtime::routing::RoutingEvent::ContactEnded {
                contact: contact_id.to_string(),
            })
            .await;
        self.softphones().call_gone(contact_id);
        // The call's own record writer may still be saving; give it a moment.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if let Ok(Some(mut record)) = self.app().store.get_contact(contact_id).await {
            if record.state == ContactState::Ended {
                return;
            }
            record.state = ContactState::Ended;
            record.disconnect_timestamp = Some(chrono::Utc::now());
            record.disconnect_reason = Some(DisconnectReason::SystemError);
            let _ = self.app().store.put_contact(&record).await;
            self.app().metrics.contact_ended(&record);
        }
    }
}

/// After a restart no call survives (its SIP dialogs and media lived in the
/// old process), but routing, rebuilt from its log, still holds their
/// contacts. Each is closed as a system error so nobody waits on a call that
/// is gone: waiting and offered contacts leave routing, connected ones end,
/// and their agents (like those already in after-contact work) find a card
/// to close in the CCP.
async fn recover_lost_calls(voice: &Voice) {
    let started = chrono::Utc::now();
    let app = voice.app();
    let states: HashMap<String, AgentState> = app
        .routing
        .agents()
        .await
        .into_iter()
        .map(|a| (a.agent, a.state))
        .collect();
    for c in app.routing.contacts().await {
        let record = match app.store.get_contact(&c.contact).await {
            Ok(r) => r,
            Err(e) => {
                warn!(contact = %c.contact, "recovery: {e}");
                continue;
            }
        };
        // Calls and chats both live in this process's memory, so both are
        // lost in a restart (a record says which channel; a contact routed
        // before its record was written has none).
        let chat = c.channel == switchboard_model::Channel::Chat;
        let channel_ok = match &record {
            Some(r) => r.channel == if chat { Channel::Chat } else { Channel::Voice },
            None => true,
        };
        // A contact begun since recovery started is this process's own.
        let own = record
            .as_ref()
            .is_some_and(|r| r.initiation_timestamp >= started);
        if !channel_ok || own {
            continue;
        }
        let event = match c.stage {
            ContactStage::Waiting | ContactStage::Offered => {
                Some(switchboard_runtime::routing::RoutingEvent::Abandon {
                    contact: c.contact.clone(),
                })
            }
            ContactStage::Connected => {
                Some(switchboard_runtime::routing::RoutingEvent::ContactEnded {
                    contact: c.contact.clone(),
                })
            }
            _ => None,
        };
        if let Some(event) = event {
            if let Err(e) = app.routing.send(event).await {
                warn!(contact = %c.contact, "recovery: {e}");
            }
        }
        let Some(mut record) = record else {
            warn!(contact = %c.contact, "a call lost in a restart, with no record, left routing");
            continue;
        };
        let now = chrono::Utc::now();
        if record.close_lost(now) {
            warn!(contact = %c.contact, stage = %c.stage, "a call lost in a restart is closed");
            if let Err(e) = app.store.put_contact(&record).await {
                warn!(contact = %c.contact, "recovery: {e}");
            }
            app.metrics.contact_ended(&record);
        }
        if let (Some(agent), ContactStage::Connected | ContactStage::AfterContactWork) =
            (&c.agent, c.stage)
        {
            // Ending a connected contact just put its agent in after-contact
            // work; one already there is only noted if routing has not moved
            // them on since (a timer due during the downtime).
            let in_acw = states.get(agent) == Some(&AgentState::AfterContactWork);
            // A chat's after-contact work is noted when its card is closed.
            if (c.stage == ContactStage::Connected || in_acw) && !chat {
                voice.agent_finished(agent, &c.contact);
            }
            voice
                .softphones()
                .line(agent)
                .put_contact(crate::softphone::ContactView::ended(&record, now));
        }
    }
}

/// Our number (E.164) and its flow, for the dialled user part.
async fn lookup_number(
    app: &AppState,
    dialled: &str,
) -> Result<Option<(String, String)>, switchboard_store::StoreError> {
    let candidate = if dialled.starts_with('+') {
        dialled.to_string()
    } else {
        format!("+{dialled}")
    };
    let Ok(e164) = parse_e164(&candidate).map(|e| e.number) else {
        return Ok(None);
    };
    let numbers = app.store.list::<PhoneNumber>().await?;
    Ok(numbers
        .into_iter()
        .find(|n| n.spec.number == e164)
        .and_then(|n| Some((e164, n.spec.flow?))))
}

async fn dialog_events(voice: Voice, mut states: DialogStateReceiver) {
    while let Some(state) = states.recv().await {
        match state {
            DialogState::Terminated(id, reason) => {
                voice.dialogs().remove_dialog(&id);
                voice.post_by_call_id(&id.call_id, || CallInput::DialogEnded {
                    call_id: id.call_id.clone(),
                    reason: format!("{reason:?}"),
                });
            }
            DialogState::Updated(id, request, handle) => {
                // A re-INVITE, or an UPDATE with a new offer, changes the media;
                // an UPDATE without one only refreshes the session timer.
                if request.method == Method::Invite || !request.body.is_empty() {
                    let call_id = id.call_id.clone();
                    let known = lock(&voice.inner.call_ids).contains_key(&call_id);
                    if known {
                        voice.post_by_call_id(&call_id, || CallInput::Reinvite {
                            call_id: call_id.clone(),
                            sdp: request.body.clone(),
                            reply: handle,
                        });
                    } else {
                        let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                } else {
                    let known = lock(&voice.inner.call_ids).contains_key(&id.call_id);
                    if known {
                        voice.post_by_call_id(&id.call_id, || CallInput::Refreshed {
                            call_id: id.call_id.clone(),
                            reply: handle,
                        });
                    } else {
                        let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                }
            }
            DialogState::Info(id, request, handle) => {
                let body = String::from_utf8_lossy(&request.body).to_string();
                let digit = body
                    .lines()
                    .find_map(|l| {
                        l.trim()
                            .strip_prefix("Signal=")
                            .or_else(|| l.trim().strip_prefix("Signal ="))
                    })
                    .and_then(|d| d.trim().chars().next());
                let _ = handle.reply(StatusCode::OK).await;
                if let Some(digit) = digit {
                    voice.post_by_call_id(&id.call_id, || CallInput::InfoDigit {
                        call_id: id.call_id.clone(),
                        digit,
                    });
                }
            }
            DialogState::Options(_, _, handle) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            DialogState::Refer(id, request, handle) => {
                let refer_to = request.headers.iter().find_map(|h| match h {
                    Header::ReferTo(r) => Some(r.value().to_string()),
                    _ => None,
                });
                let known = lock(&voice.inner.call_ids).contains_key(&id.call_id);
                match (known, refer_to) {
                    (true, Some(refer_to)) => {
                        voice.post_by_call_id(&id.call_id, || CallInput::Refer {
                            call_id: id.call_id.clone(),
                            refer_to,
                            reply: handle,
                        })
                    }
                    (true, None) => {
                        let _ = handle.reply(StatusCode::BadRequest).await;
                    }
                    (false, _) => {
                        let _ = handle.reply(StatusCode::CallTransactionDoesNotExist).await;
                    }
                }
            }
            DialogState::Notify(_, _, handle)
            | DialogState::Message(_, _, handle)
            | DialogState::Publish(_, _, handle) => {
                let _ = handle.reply(StatusCode::NotImplemented).await;
            }
            _ => {}
        }
    }
}

async fn routing_updates(voice: Voice) {
    let mut updates = voice.app().routing.subscribe();
    loop {
        match updates.recv().await {
            Ok(RoutingUpdate::AgentState { agent, state, at }) => {
                // After-contact work is over (closed, or timed out with no
                // page open) and nothing else is going on: ended cards go.
                // While on another contact (chats side by side) they stay
                // until closed.
                if !state.is_on_contact() {
                    if let Some(line) = voice.softphones().get(&agent) {
                        line.clear_ended();
                    }
                }
                if state != AgentState::AfterContactWork {
                    let contact = lock(&voice.inner.after_contact_work).remove(&agent);
                    if let Some(contact) = contact {
                        tokio::spawn(switchboard_runtime::after_contact_work::record(
                            voice.app().clone(),
                            contact,
                            at,
                        ));
                    }
                }
            }
            Ok(update) => {
                let contact = match &update {
                    RoutingUpdate::Offer { contact, .. }
                    | RoutingUpdate::Rescind { contact, .. }
                    | RoutingUpdate::Connected { contact, .. } => contact.clone(),
                    _ => continue,
                };
                voice.post(&contact, CallInput::Routing(update));
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                warn!("voice fell {n} routing updates behind");
            }
            Err(_) => break,
        }
    }
}

/// Hangs up a call we answered, once our 200 OK is acknowledged. RFC 3261
/// §15: the callee must not send BYE before the ACK for its 2xx has come (or
/// its server transaction has timed out). The 200 OK goes out from the INVITE
/// transaction's own task, so a flow that ends at once (a prompt that cannot
/// be spoken, a flow that disconnects first thing) would otherwise put its
/// BYE on the wire before the 200 OK, and the caller would abort a call it
/// was never answered on.
pub(crate) async fn hang_up_once_acknowledged(dialog: &InviteDialog) {
    // Timer H (64 x T1): after that rsipstack ends the dialog itself.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(32);
    while dialog.state().waiting_ack() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = dialog.bye().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_media_address_is_replaced_by_the_sip_address() {
        let v4: IpAddr = "203.0.113.10".parse().unwrap();
        let sip: SocketAddr = "192.0.2.5:5060".parse().unwrap();
        assert_eq!(
            advertised_media_ip(v4, sip),
            v4,
            "a configured address stays"
        );
        let wildcard: IpAddr = "0.0.0.0".parse().unwrap();
        assert_eq!(advertised_media_ip(wildcard, sip), sip.ip());
        let nowhere: SocketAddr = "0.0.0.0:5060".parse().unwrap();
        assert_eq!(
            advertised_media_ip(wildcard, nowhere),
            IpAddr::from([127, 0, 0, 1])
        );
        let v6_wildcard: IpAddr = "::".parse().unwrap();
        let v6_nowhere: SocketAddr = "[::]:5060".parse().unwrap();
        assert_eq!(
            advertised_media_ip(v6_wildcard, v6_nowhere),
            "::1".parse::<IpAddr>().unwrap()
        );
    }
}
