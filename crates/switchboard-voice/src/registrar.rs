//! The registrar for agents' desk phones (RFC 3261 section 10) with digest
//! authentication (RFC 2617/8760 MD5 via rsipstack's `verify_digest`).
//! Wrong digests are slowed per (username, source address) and per address
//! by the same guard as HTTP sign-ins; each lock is logged once, so
//! fail2ban can block the address at the firewall.
//!
//! A phone registers as its user's username with the user's
//! `phone_config.sip_password`. Bindings are answered from memory and kept
//! in the store with their expiry, so a restart still knows every phone
//! (phones refresh only every few minutes to an hour; until then their
//! agents would be offered calls that ring nowhere).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::verify_digest;
use rsipstack::sip::headers::auth::AuthQop;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, StatusCode, Uri};
use rsipstack::transaction::transaction::Transaction;
use switchboard_model::User;
use switchboard_runtime::throttle::log_lock;
use switchboard_runtime::throttle::Attempt;
use switchboard_runtime::AppState;
use tracing::{info, warn};

/// A nonce is good for this long.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
const MIN_EXPIRES: u32 = 60;
/// Outstanding nonces kept at most.
const MAX_NONCES: usize = 10_000;

enum NonceCheck {
    Fresh,
    Stale,
    Unknown,
    Replayed,
}
const MAX_EXPIRES: u32 = 3600;

#[derive(Debug, Clone)]
pub struct Binding {
    /// The phone's Contact URI (where to send the INVITE's Request-URI).
    pub contact: Uri,
    /// Where its REGISTER came from: where to send (NAT).
    pub source: SocketAddr,
    pub expires_at: Instant,
}

impl Binding {
    /// Where to send requests for this phone. The Contact's own address
    /// when the phone registered from that IP (it can be reached there);
    /// otherwise the phone is behind NAT and only the address its REGISTER
    /// came from reaches it.
    pub fn destination(&self) -> SocketAddr {
        let contact: Option<SocketAddr> = self.contact.host_with_port.clone().try_into().ok();
        match contact {
            Some(c) if c.ip() == self.source.ip() => c,
            _ => self.source,
        }
    }
}

pub struct Registrar {
    realm: String,
    /// Wrong digests per (username, source address) and per address:
    /// growing delays, during which REGISTERs are refused unchecked.
    guard: switchboard_runtime::throttle::SignInGuard,
    /// Nonce -> when issued, highest nonce count seen.
    nonces: Mutex<HashMap<String, (Instant, u8)>>,
    bindings: Mutex<HashMap<String, Binding>>,
}

impl Registrar {
    pub fn new(
        realm: impl Into<String>,
        (per_user, per_address): (
            switchboard_runtime::throttle::Policy,
            switchboard_runtime::throttle::Policy,
        ),
    ) -> Self {
        Self {
            realm: realm.into(),
            guard: switchboard_runtime::throttle::SignInGuard::new(per_user, per_address),
            nonces: Mutex::new(HashMap::new()),
            bindings: Mutex::new(HashMap::new()),
        }
    }

    /// Where `username`'s phone can be reached now.
    pub fn lookup(&self, username: &str) -> Option<Binding> {
        let bindings = self.bindings.lock().unwrap_or_else(|e| e.into_inner());
        bindings
            .get(&username.to_lowercase())
            .filter(|b| b.expires_at > Instant::now())
            .cloned()
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
        for r in kept {
            let (Ok(contact), Ok(source)) = (
                Uri::try_from(r.contact.as_str()),
                r.source.parse::<SocketAddr>(),
            ) else {
                warn!(username = %r.username, "a kept registration does not parse; skipped");
                continue;
            };
            let left = (r.expires_at - now).to_std().unwrap_or_default();
            bindings.insert(
                r.username,
                Binding {
                    contact,
                    source,
                    expires_at: Instant::now() + left,
                },
            );
        }
        if !bindings.is_empty() {
            info!(phones = bindings.len(), "desk-phone registrations restored");
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
            warn!("REGISTER challenge not sent: {e}");
        }
    }

    /// Answers one REGISTER.
    pub async fn register(&self, app: &AppState, tx: &mut Transaction, source: SocketAddr) {
        let Some(auth_header) = tx.original.authorization_header().cloned() else {
            return self.challenge(tx, false).await;
        };
        let raw = auth_header.value().to_string();
        let Ok(auth) = rsipstack::sip::typed::Authorization::parse(&raw) else {
            let _ = tx.reply(StatusCode::BadRequest).await;
            return;
        };
        // qop=auth is required: without its client nonce and count a
        // captured REGISTER could be replayed.
        let Some(AuthQop::Auth { nc, .. }) = auth.qop.clone() else {
            return self.challenge(tx, false).await;
        };
        if auth.realm != self.realm {
            return self.challenge(tx, false).await;
        }
        match self.use_nonce(&auth.nonce, nc) {
            NonceCheck::Fresh => {}
            NonceCheck::Stale => return self.challenge(tx, true).await,
            NonceCheck::Unknown | NonceCheck::Replayed => {
                warn!(username = %auth.username, %source, "REGISTER with an unknown or replayed nonce");
                return self.challenge(tx, false).await;
            }
        }
        let address = switchboard_runtime::throttle::address_key(source.ip()).to_string();
        let attempt = Attempt {
            username: &auth.username,
            address: &address,
        };
        // Counted before the check, so REGISTERs checked at the same moment
        // cannot all slip past the lock; refused unchecked while locked.
        let pending = match self.guard.begin(attempt, std::time::Instant::now()) {
            Ok(p) => p,
            Err(wait) => {
                tracing::debug!(username = %auth.username, %source, "REGISTER refused: locked for {wait:?}");
                let _ = tx.reply(StatusCode::Forbidden).await;
                return;
            }
        };
        let user = match app.store.get::<User>(&auth.username).await {
            Ok(u) => u,
            Err(e) => {
                self.guard.cancel(attempt, pending);
                warn!("registrar: {e}");
                let _ = tx.reply(StatusCode::ServerInternalError).await;
                return;
            }
        };
        let password = user
            .as_ref()
            .filter(|u| u.spec.username.eq_ignore_ascii_case(&auth.username))
            .and_then(|u| u.spec.phone_config.sip_password.clone());
        let verified =
            password.is_some_and(|p| verify_digest(&auth, &p, &tx.original.method, &raw));
        for lock in self.guard.passed(attempt, pending, verified) {
            log_lock("SIP digest authentication", attempt, lock);
        }
        if !verified {
            warn!(username = %auth.username, %source, "REGISTER refused: wrong credentials");
            let _ = tx.reply(StatusCode::Forbidden).await;
            return;
        }
        let username = user.map(|u| u.spec.username).unwrap_or_default();
        let expires = tx
            .original
            .expires_header()
            .and_then(|e| e.value().trim().parse::<u32>().ok())
            .unwrap_or(3600);
        let contact = tx
            .original
            .contact_header()
            .ok()
            .and_then(|c| c.typed().ok())
            .map(|c| c.uri);
        let key = username.to_lowercase();
        if expires == 0 {
            self.bindings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            if let Err(e) = app.store.delete_registration(&key).await {
                warn!(%username, "registration not forgotten in the store: {e}");
            }
            info!(%username, "desk phone unregistered");
            let _ = tx.reply(StatusCode::OK).await;
            return;
        }
        if expires < MIN_EXPIRES {
            let header = Header::MinExpires(MIN_EXPIRES.to_string().into());
            let _ = tx
                .reply_with(StatusCode::IntervalTooBrief, vec![header], None)
                .await;
            return;
        }
        let Some(contact) = contact else {
            let _ = tx.reply(StatusCode::BadRequest).await;
            return;
        };
        let expires = expires.min(MAX_EXPIRES);
        self.bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key.clone(),
                Binding {
                    contact: contact.clone(),
                    source,
                    expires_at: Instant::now() + Duration::from_secs(u64::from(expires)),
                },
            );
        let kept = switchboard_store::Registration {
            username: key,
            contact: contact.to_string(),
            source: source.to_string(),
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(i64::from(expires)),
        };
        if let Err(e) = app.store.put_registration(&kept).await {
            // Still answered: only a restart before the next refresh forgets it.
            warn!(%username, "registration not kept in the store: {e}");
        }
        info!(%username, %source, "desk phone registered");
        let headers = vec![
            Header::Contact(format!("<{contact}>;expires={expires}").into()),
            Header::Expires(expires.to_string().into()),
        ];
        let _ = tx.reply_with(StatusCode::OK, headers, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_counts_up_and_refuses_replays() {
        let r = Registrar::new(
            "switchboard",
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
            switchboard_runtime::throttle::SignInGuard::default_policies(),
        );
        for _ in 0..(MAX_NONCES + 10) {
            r.new_nonce();
        }
        assert!(r.nonces.lock().unwrap().len() <= MAX_NONCES);
    }
}
