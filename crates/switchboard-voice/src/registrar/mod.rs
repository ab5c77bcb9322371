//! The registrar for agents' desk phones (RFC 3261 section 10) with digest
//! authentication (RFC 2617/8760 MD5 via rsipstack's `verify_digest`).
//! Wrong digests are slowed per (username, source address) and per address
//! by the same guard as HTTP sign-ins; each lock is logged once, so
//! fail2ban can block the address at the firewall.
//!
//! A phone registers as its user's username with the user's
//! `phone_config.sip_password`. The binding rules ([`bindings`]: expiry,
//! several devices, unregistering) are pure; this shell authenticates,
//! keeps bindings in memory and in the store with their expiry, so a
//! restart still knows every phone (phones refresh only every few minutes
//! to an hour; until then their agents would be offered calls that ring
//! nowhere), and answers.

pub mod bindings;
pub mod keepalive;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::verify_digest;
use rsipstack::sip::headers::auth::AuthQop;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::uri::Param;
use rsipstack::sip::{Header, StatusCode, Uri};
use rsipstack::transaction::transaction::Transaction;
use switchboard_model::User;
use switchboard_runtime::throttle::log_lock;
use switchboard_runtime::throttle::Attempt;
use switchboard_runtime::AppState;
use tracing::{info, warn};

use bindings::{device_key, Refusal, Register, RequestedContact, UserBindings};
pub use bindings::{Binding, ExpiryPolicy, Transport};

/// A nonce is good for this long.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Outstanding nonces kept at most.
const MAX_NONCES: usize = 10_000;

/// Whose secrets a digest is checked against.
enum Secrets {
    /// Users' SIP passwords (their desk phones).
    Users,
    /// Trunks that take calls by digest.
    Trunks(Vec<switchboard_store::Record<switchboard_model::SipTrunk>>),
}

/// Who a digest proved to be.
enum Authenticated {
    User(Box<switchboard_store::Record<User>>),
    Trunk(Box<switchboard_store::Record<switchboard_model::SipTrunk>>),
}

enum NonceCheck {
    Fresh,
    Stale,
    Unknown,
    Replayed,
}

pub struct Registrar {
    realm: String,
    policy: ExpiryPolicy,
    /// Wrong digests per (username, source address) and per address:
    /// growing delays, during which REGISTERs are refused unchecked.
    guard: switchboard_runtime::throttle::SignInGuard,
    /// Nonce -> when issued, highest nonce count seen.
    nonces: Mutex<HashMap<String, (Instant, u8)>>,
    /// Lower-case username -> that user's devices.
    bindings: Mutex<HashMap<String, UserBindings>>,
}

impl Registrar {
    pub fn new(
        realm: impl Into<String>,
        policy: ExpiryPolicy,
        (per_user, per_address): (
            switchboard_runtime::throttle::Policy,
            switchboard_runtime::throttle::Policy,
        ),
    ) -> Self {
        Self {
            realm: realm.into(),
            policy,
            guard: switchboard_runtime::throttle::SignInGuard::new(per_user, per_address),
            nonces: Mutex::new(HashMap::new()),
            bindings: Mutex::new(HashMap::new()),
        }
    }

    /// Where each of `username`'s registered devices can be reached now,
    /// the most recently registered last.
    pub fn devices(&self, username: &str) -> Vec<Device> {
        let bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        bindings
            .get(&username.to_lowercase())
            .map(|user| user.live(Instant::now()).filter_map(Device::of).collect())
            .unwrap_or_default()
    }

    /// Every registered device now: (username, device key, where).
    pub fn all_devices(&self) -> Vec<(String, String, Device)> {
        let now = Instant::now();
        let bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = bindings
            .iter()
            .flat_map(|(user, devices)| {
                devices
                    .live(now)
                    .filter_map(|b| Device::of(b).map(|d| (user.clone(), b.key.clone(), d)))
            })
            .collect();
        // A stable order: the map's changes run to run.
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    /// Forgets one device (it stopped answering), here and in the store.
    pub async fn drop_device(&self, app: &AppState, username: &str, key: &str) {
        let username = username.to_lowercase();
        {
            let mut bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(user) = bindings.get_mut(&username) {
                user.forget(key);
                if user.is_empty(Instant::now()) {
                    bindings.remove(&username);
                }
            }
        }
        if let Err(e) = app.store.delete_registration(&username, key).await {
            warn!(%username, "dropped device not forgotten in the store: {e}");
        }
    }

    /// Takes back the registrations kept before a restart (those not expired).
    pub async fn restore(&self, app: &AppState) {
        let now = chrono::Utc::now();
        let kept = match app.store.live_registrations(now).await {
            Ok(kept) => kept,
            Err(e) => {
                warn!("registrations not restored: {e}");
                return;
            }
        };
        let mut bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        let mut restored = 0;
        for r in kept {
            let (Ok(source), Some(transport)) = (
                r.source.parse::<SocketAddr>(),
                Transport::parse(&r.transport),
            ) else {
                warn!(username = %r.username, "a kept registration does not parse; skipped");
                continue;
            };
            let left = (r.expires_at - now).to_std().unwrap_or_default();
            bindings.entry(r.username).or_default().restore(Binding {
                contact: r.contact,
                key: r.device,
                source,
                transport,
                // A refresh after a restart is never out of order.
                call_id: String::new(),
                cseq: 0,
                expires_at: Instant::now() + left,
            });
            restored += 1;
        }
        if restored > 0 {
            info!(phones = restored, "desk-phone registrations restored");
        }
    }

    fn new_nonce(&self) -> String {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Expired nonces are swept only when the table is full, so a flood
        // of unauthenticated REGISTERs costs O(1) each, and the table
        // never holds more than MAX_NONCES.
        if nonces.len() >= MAX_NONCES {
            nonces.retain(|_, (at, _)| now.duration_since(*at) < NONCE_LIFETIME);
            if nonces.len() >= MAX_NONCES {
                nonces.clear();
            }
        }
        nonces.insert(nonce.clone(), (now, 0));
        nonce
    }

    /// Checks a nonce and its count: known, not expired, and `nc` higher
    /// than any seen with it (RFC 7616 section 3.4: a replayed request
    /// repeats its count).
    fn use_nonce(&self, nonce: &str, nc: u8) -> NonceCheck {
        let mut nonces = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        match nonces.get_mut(nonce) {
            None => NonceCheck::Unknown,
            Some((at, _)) if at.elapsed() >= NONCE_LIFETIME => NonceCheck::Stale,
            Some((_, last)) if nc <= *last => NonceCheck::Replayed,
            Some((_, last)) => {
                *last = nc;
                NonceCheck::Fresh
            }
        }
    }

    async fn challenge(&self, tx: &mut Transaction, stale: bool) {
        let value = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            self.realm,
            self.new_nonce(),
            if stale { ", stale=true" } else { "" }
        );
        let header = Header::WwwAuthenticate(value.into());
        if let Err(e) = tx
            .reply_with(StatusCode::Unauthorized, vec![header], None)
            .await
        {
            warn!("digest challenge not sent: {e}");
        }
    }

    /// Checks a phone's request (REGISTER, or an INVITE of a feature code)
    /// by digest against the user's SIP password. `Some(user)` when it
    /// passed; otherwise the challenge or refusal has been answered.
    pub async fn authenticate(
        &self,
        app: &AppState,
        tx: &mut Transaction,
        source: SocketAddr,
    ) -> Option<switchboard_store::Record<User>> {
        match self
            .authenticate_as(app, tx, source, &Secrets::Users)
            .await?
        {
            Authenticated::User(user) => Some(*user),
            Authenticated::Trunk(_) => None,
        }
    }

    /// Checks an INVITE from an address no trunk admits against the trunks
    /// that take calls by digest (`authenticate_inbound`). `Some(trunk)`
    /// when it passed; otherwise the challenge or refusal has been answered.
    pub async fn authenticate_trunk(
        &self,
        app: &AppState,
        tx: &mut Transaction,
        source: SocketAddr,
        trunks: Vec<switchboard_store::Record<switchboard_model::SipTrunk>>,
    ) -> Option<switchboard_store::Record<switchboard_model::SipTrunk>> {
        match self
            .authenticate_as(app, tx, source, &Secrets::Trunks(trunks))
            .await?
        {
            Authenticated::Trunk(trunk) => Some(*trunk),
            Authenticated::User(_) => None,
        }
    }

    async fn authenticate_as(
        &self,
        app: &AppState,
        tx: &mut Transaction,
        source: SocketAddr,
        secrets: &Secrets,
    ) -> Option<Authenticated> {
        let method = tx.original.method;
        let Some(auth_header) = tx.original.authorization_header().cloned() else {
            self.challenge(tx, false).await;
            return None;
        };
        let raw = auth_header.value().to_string();
        let Ok(auth) = rsipstack::sip::typed::Authorization::parse(&raw) else {
            let _ = tx.reply(StatusCode::BadRequest).await;
            return None;
        };
        // qop=auth is required: without its client nonce and count a
        // captured request could be replayed.
        let Some(AuthQop::Auth { nc, .. }) = auth.qop.clone() else {
            self.challenge(tx, false).await;
            return None;
        };
        if auth.realm != self.realm {
            self.challenge(tx, false).await;
            return None;
        }
        match self.use_nonce(&auth.nonce, nc) {
            NonceCheck::Fresh => {}
            NonceCheck::Stale => {
                self.challenge(tx, true).await;
                return None;
            }
            NonceCheck::Unknown | NonceCheck::Replayed => {
                warn!(username = %auth.username, %source, "{method} with an unknown or replayed nonce");
                self.challenge(tx, false).await;
                return None;
            }
        }
        let address = switchboard_runtime::throttle::address_key(source.ip()).to_string();
        let attempt = Attempt {
            username: &auth.username,
            address: &address,
        };
        // Counted before the check, so requests checked at the same moment
        // cannot all slip past the lock; refused unchecked while locked.
        let pending = match self.guard.begin(attempt, std::time::Instant::now()) {
            Ok(p) => p,
            Err(wait) => {
                tracing::debug!(username = %auth.username, %source, "{method} refused: locked for {wait:?}");
                let _ = tx.reply(StatusCode::Forbidden).await;
                return None;
            }
        };
        let found = match secrets {
            Secrets::Users => match app.store.get::<User>(&auth.username).await {
                Ok(user) => user
                    .filter(|u| u.spec.username.eq_ignore_ascii_case(&auth.username))
                    .and_then(|u| {
                        let password = u.spec.phone_config.sip_password.clone()?;
                        Some((Authenticated::User(Box::new(u)), password))
                    }),
                Err(e) => {
                    self.guard.cancel(attempt, pending);
                    warn!("registrar: {e}");
                    let _ = tx.reply(StatusCode::ServerInternalError).await;
                    return None;
                }
            },
            Secrets::Trunks(trunks) => trunks
                .iter()
                .find(|t| {
                    t.spec.authenticate_inbound
                        && t.spec.username.as_deref() == Some(auth.username.as_str())
                })
                .and_then(|t| {
                    let password = t.spec.password.clone()?;
                    Some((Authenticated::Trunk(Box::new(t.clone())), password))
                }),
        };
        let verified = found
            .as_ref()
            .is_some_and(|(_, p)| verify_digest(&auth, p, &tx.original.method, &raw));
        for lock in self.guard.passed(attempt, pending, verified) {
            log_lock("SIP digest authentication", attempt, lock);
        }
        if !verified {
            warn!(username = %auth.username, %source, "{method} refused: wrong credentials");
            let _ = tx.reply(StatusCode::Forbidden).await;
            return None;
        }
        found.map(|(who, _)| who)
    }

    /// Answers one REGISTER.
    pub async fn register(
        &self,
        app: &AppState,
        tx: &mut Transaction,
        source: SocketAddr,
        transport: Transport,
    ) {
        let Some(user) = self.authenticate(app, tx, source).await else {
            return;
        };
        let username = user.spec.username;
        let request = match parse_register(&tx.original, source, transport) {
            Ok(r) => r,
            Err(field) => {
                let warning = crate::sip::warning(399, "switchboard", field);
                let _ = tx
                    .reply_with(StatusCode::BadRequest, vec![warning], None)
                    .await;
                return;
            }
        };
        let key = username.to_lowercase();
        let now = Instant::now();
        let applied = {
            let mut bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
            let user = bindings.entry(key.clone()).or_default();
            let applied = user
                .apply(now, &request, &self.policy)
                .map(|changes| (changes, user.live(now).cloned().collect::<Vec<_>>()));
            if user.is_empty(now) {
                bindings.remove(&key);
            }
            applied
        };
        let (changes, live) = match applied {
            Ok(a) => a,
            Err(refusal) => return refuse(tx, &username, source, refusal).await,
        };
        let wall = chrono::Utc::now();
        for b in &changes.kept {
            let kept = switchboard_store::Registration {
                username: key.clone(),
                device: b.key.clone(),
                contact: b.contact.clone(),
                source: b.source.to_string(),
                transport: b.transport.as_str().to_string(),
                expires_at: wall + chrono::Duration::seconds(i64::from(b.seconds_left(now))),
            };
            if let Err(e) = app.store.put_registration(&kept).await {
                // Still answered: only a restart before the next refresh forgets it.
                warn!(%username, "registration not kept in the store: {e}");
            }
        }
        for device in &changes.removed {
            if let Err(e) = app.store.delete_registration(&key, device).await {
                warn!(%username, "registration not forgotten in the store: {e}");
            }
        }
        match (changes.kept.is_empty(), changes.removed.is_empty()) {
            (false, _) => {
                info!(%username, %source, transport = transport.as_str(), devices = live.len(), "desk phone registered")
            }
            (true, false) => {
                info!(%username, %source, devices = live.len(), "desk phone unregistered")
            }
            (true, true) => {}
        }
        // The 200 OK lists every current binding with its time left (RFC
        // 3261 section 10.3 step 8); each phone reads its own expiry there.
        let mut headers: Vec<Header> = live
            .iter()
            .map(|b| {
                Header::Contact(format!("<{}>;expires={}", b.contact, b.seconds_left(now)).into())
            })
            .collect();
        if let Some(mine) = changes.kept.last() {
            headers.push(Header::Expires(mine.seconds_left(now).to_string().into()));
        }
        let _ = tx.reply_with(StatusCode::OK, headers, None).await;
    }
}

/// Answers a REGISTER the binding rules refused.
async fn refuse(tx: &mut Transaction, username: &str, source: SocketAddr, refusal: Refusal) {
    warn!(%username, %source, "REGISTER refused: {refusal}");
    let (status, headers) = match refusal {
        Refusal::TooBrief { min } => (
            StatusCode::IntervalTooBrief,
            vec![Header::MinExpires(min.to_string().into())],
        ),
        Refusal::BadWildcard => (StatusCode::BadRequest, vec![]),
        Refusal::TooManyDevices { .. } => (StatusCode::Forbidden, vec![]),
        Refusal::OutOfOrder => (StatusCode::ServerInternalError, vec![]),
    };
    let mut headers = headers;
    headers.push(crate::sip::warning(
        399,
        "switchboard",
        &refusal.to_string(),
    ));
    let _ = tx.reply_with(status, headers, None).await;
}

/// Reads a REGISTER's Contacts, Expires, Call-ID and CSeq; an error names
/// the header that does not parse.
fn parse_register(
    request: &rsipstack::sip::Request,
    source: SocketAddr,
    transport: Transport,
) -> Result<Register, &'static str> {
    let expires_header = match request.expires_header() {
        Some(e) => Some(
            e.value()
                .trim()
                .parse::<u32>()
                .map_err(|_| "Expires does not parse")?,
        ),
        None => None,
    };
    let contacts = request
        .typed_contact_headers()
        .map_err(|_| "Contact does not parse")?;
    let wildcard = contacts
        .iter()
        .any(|c| matches!(&c.uri.scheme, Some(rsipstack::sip::uri::Scheme::Other(s)) if s == "*"));
    let mut requested = vec![];
    if !wildcard {
        for c in &contacts {
            let expires = match c.params.iter().find_map(|p| match p {
                Param::Expires(e) => Some(e.0.trim()),
                _ => None,
            }) {
                Some(e) => Some(
                    e.parse::<u32>()
                        .map_err(|_| "Contact expires does not parse")?,
                ),
                None => None,
            };
            let instance = c.params.iter().find_map(|p| match p {
                Param::Other(name, Some(value))
                    if name.to_string().eq_ignore_ascii_case("+sip.instance") =>
                {
                    Some(value.to_string())
                }
                _ => None,
            });
            let transport_param = c.uri.params.iter().find_map(|p| match p {
                Param::Transport(t) => Some(t.to_string()),
                _ => None,
            });
            requested.push(RequestedContact {
                uri: c.uri.to_string(),
                key: device_key(
                    instance.as_deref(),
                    c.uri.user(),
                    &c.uri.host_with_port.to_string(),
                    transport_param.as_deref(),
                ),
                expires,
            });
        }
    } else if contacts.len() > 1 {
        return Err("Contact: * must stand alone");
    }
    let call_id = request
        .call_id_header()
        .map(|c| c.value().to_string())
        .map_err(|_| "Call-ID is missing")?;
    let cseq = request
        .cseq_header()
        .ok()
        .and_then(|c| c.seq().ok())
        .ok_or("CSeq does not parse")?;
    Ok(Register {
        wildcard,
        contacts: requested,
        expires_header,
        call_id,
        cseq,
        source,
        transport,
    })
}

/// Where and how a request reaches one registered device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its Contact URI: the Request-URI of requests to it.
    pub uri: Uri,
    /// Where to send them.
    pub destination: SocketAddr,
    /// Over what: for TCP and TLS, the connection it registered on when
    /// still open (rsipstack reuses a connection to the same address).
    pub transport: Transport,
}

impl Device {
    fn of(binding: &Binding) -> Option<Self> {
        let uri = Uri::try_from(binding.contact.as_str()).ok()?;
        let destination = if binding.transport.is_stream() {
            // RFC 5626 section 5.3 / RFC 3261 section 18.2.2: the phone's
            // connection, whose far end is where its REGISTER came from.
            binding.source
        } else {
            // Over UDP the Contact's own address when the phone registered
            // from that IP (it can be reached there); otherwise it is
            // behind NAT and only the address its REGISTER came from
            // (rport, RFC 3581) reaches it.
            let contact: Option<SocketAddr> = uri.host_with_port.clone().try_into().ok();
            match contact {
                Some(c) if c.ip() == binding.source.ip() => c,
                _ => binding.source,
            }
        };
        Some(Self {
            uri,
            destination,
            transport: binding.transport,
        })
    }

    /// The address rsipstack sends to: the transport and destination.
    pub fn sip_addr(&self) -> rsipstack::transport::SipAddr {
        self.transport.sip_addr(self.destination)
    }
}

impl Transport {
    /// Where rsipstack sends over this transport to `destination` (for
    /// TCP and TLS, an open connection to it if there is one).
    pub fn sip_addr(self, destination: SocketAddr) -> rsipstack::transport::SipAddr {
        rsipstack::transport::SipAddr::new(self.to_sip(), destination.into())
    }

    /// rsipstack's name for this transport.
    pub fn to_sip(self) -> rsipstack::sip::Transport {
        match self {
            Transport::Udp => rsipstack::sip::Transport::Udp,
            Transport::Tcp => rsipstack::sip::Transport::Tcp,
            Transport::Tls => rsipstack::sip::Transport::Tls,
        }
    }

    /// Ours for rsipstack's, if we speak it (not SCTP or WebSocket).
    pub fn from_sip(transport: rsipstack::sip::Transport) -> Option<Self> {
        match transport {
            rsipstack::sip::Transport::Udp => Some(Transport::Udp),
            rsipstack::sip::Transport::Tcp => Some(Transport::Tcp),
            rsipstack::sip::Transport::Tls => Some(Transport::Tls),
            _ => None,
        }
    }

    /// The transport a trunk is set to use.
    pub fn of_trunk(transport: switchboard_model::objects::sip_trunk::SipTransport) -> Self {
        use switchboard_model::objects::sip_trunk::SipTransport;
        match transport {
            SipTransport::Udp => Transport::Udp,
            SipTransport::Tcp => Transport::Tcp,
            SipTransport::Tls => Transport::Tls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_counts_up_and_refuses_replays() {
        let r = Registrar::new(
            "switchboard",
            ExpiryPolicy::default(),
            switchboard_runtime::throttle::SignInGuard::default_policies(),
        );
        let nonce = r.new_nonce();
        assert!(matches!(r.use_nonce(&nonce, 1), NonceCheck::Fresh));
        assert!(matches!(r.use_nonce(&nonce, 1), NonceCheck::Replayed));
        assert!(matches!(r.use_nonce(&nonce, 2), NonceCheck::Fresh));
        assert!(matches!(r.use_nonce("made-up", 1), NonceCheck::Unknown));
    }

    #[test]
    fn the_nonce_table_stays_bounded() {
        let r = Registrar::new(
            "switchboard",
            ExpiryPolicy::default(),
            switchboard_runtime::throttle::SignInGuard::default_policies(),
        );
        for _ in 0..(MAX_NONCES + 10) {
            r.new_nonce();
        }
        assert!(r.nonces.lock().unwrap().len() <= MAX_NONCES);
    }
}
