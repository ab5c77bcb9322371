//! The rules of a registrar's bindings (RFC 3261 section 10.3), pure: a
//! parsed REGISTER and the current time in, the user's bindings changed or
//! a refusal out. The registrar around it authenticates, stores and answers.
//!
//! - **Expiry** of each Contact: its own `expires` parameter, else the
//!   request's `Expires` header, else [`ExpiryPolicy::default`]; never
//!   longer than asked, at most [`ExpiryPolicy::max`]; above zero but under
//!   [`ExpiryPolicy::min`] the whole request is refused (423 with
//!   Min-Expires). Zero removes that binding.
//! - **`Contact: *`** with `Expires: 0` removes every binding of the user;
//!   with anything else beside it, or another expiry, it is a bad request.
//! - **Several devices per user**, at most [`ExpiryPolicy::devices`]: a
//!   device is known by its `+sip.instance` (RFC 5626) when it sends one,
//!   else by its Contact URI (user, host, port and transport), so a phone
//!   refreshing replaces its own binding and a second phone adds one.
//! - **Order**: a REGISTER of the same Call-ID with a CSeq not above the
//!   one that set a binding is out of order (step 7) and changes nothing.
//! - Each binding keeps the transport and source address its REGISTER came
//!   over, which is where requests to that phone go.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The transports a phone can register over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The name in Via headers and the store (`UDP`, `TCP`, `TLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// Reads a name as [`Transport::as_str`] writes it (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "UDP" => Some(Self::Udp),
            "TCP" => Some(Self::Tcp),
            "TLS" => Some(Self::Tls),
            _ => None,
        }
    }

    /// Whether requests must ride the connection the phone opened.
    pub fn is_stream(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

/// How long registrations may last, and how many devices a user may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Shorter (but above zero) is refused with 423 Interval Too Brief.
    pub min: u32,
    /// Longer is cut to this.
    pub max: u32,
    /// What a REGISTER with no expiry at all gets.
    pub default: u32,
    /// Bindings one user may hold at once.
    pub devices: usize,
}

impl Default for ExpiryPolicy {
    fn default() -> Self {
        Self {
            min: 60,
            max: 3600,
            default: 3600,
            devices: 10,
        }
    }
}

/// One Contact of a REGISTER, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContact {
    /// The Contact URI, as the phone wrote it.
    pub uri: String,
    /// What identifies the device: [`device_key`].
    pub key: String,
    /// Its own `expires` parameter.
    pub expires: Option<u32>,
}

/// A REGISTER, as parsed by the registrar's shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// `Contact: *`.
    pub wildcard: bool,
    /// The Contacts (none: a query for the current bindings).
    pub contacts: Vec<RequestedContact>,
    /// The `Expires` header.
    pub expires_header: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    /// Where it came from, after rport (RFC 3581).
    pub source: SocketAddr,
    pub transport: Transport,
}

/// A device's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Its Contact URI, as the phone wrote it.
    pub contact: String,
    /// What identifies the device ([`device_key`]).
    pub key: String,
    /// Where its REGISTER came from: its NAT's public address, or the far
    /// end of its TCP/TLS connection.
    pub source: SocketAddr,
    pub transport: Transport,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: Instant,
}

impl Binding {
    /// Seconds left at `now`, rounded up (what the 200 OK says).
    pub fn seconds_left(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// Why a REGISTER changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the registration interval is shorter than {min} s")]
    TooBrief { min: u32 },
    #[error("Contact: * needs Expires: 0 and no other Contact")]
    BadWildcard,
    #[error("at most {max} devices may be registered for one user")]
    TooManyDevices { max: usize },
    #[error("an earlier REGISTER (same Call-ID, CSeq not above the last)")]
    OutOfOrder,
}

/// What a REGISTER changed, for the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Bindings added or refreshed.
    pub kept: Vec<Binding>,
    /// Keys of bindings removed.
    pub removed: Vec<String>,
}

/// One user's bindings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserBindings {
    bindings: Vec<Binding>,
}

impl UserBindings {
    /// Bindings restored from the store (a restart).
    pub fn restore(&mut self, binding: Binding) {
        self.bindings.retain(|b| b.key != binding.key);
        self.bindings.push(binding);
    }

    /// Forgets the device of `key` (it stopped answering keep-alives).
    pub fn forget(&mut self, key: &str) {
        self.bindings.retain(|b| b.key != key);
    }

    /// The bindings alive at `now`, newest registration last.
    pub fn live(&self, now: Instant) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| b.expires_at > now)
    }

    /// Whether none is alive at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.live(now).next().is_none()
    }

    /// Applies one REGISTER at `now`: all of it, or (refused) none of it.
    pub fn apply(
        &mut self,
        now: Instant,
        request: &Register,
        policy: &ExpiryPolicy,
    ) -> Result<Changes, Refusal> {
        self.bindings.retain(|b| b.expires_at > now);
        if request.wildcard {
            if request.expires_header != Some(0) || !request.contacts.is_empty() {
                return Err(Refusal::BadWildcard);
            }
            self.check_order(request, self.bindings.iter().map(|b| b.key.as_str()))?;
            let removed = self.bindings.drain(..).map(|b| b.key).collect();
            return Ok(Changes {
                kept: vec![],
                removed,
            });
        }
        let asked: Vec<(&RequestedContact, u32)> = request
            .contacts
            .iter()
            .map(|c| {
                let expires = c
                    .expires
                    .or(request.expires_header)
                    .unwrap_or(policy.default);
                (c, expires)
            })
            .collect();
        if asked.iter().any(|(_, e)| *e > 0 && *e < policy.min) {
            return Err(Refusal::TooBrief { min: policy.min });
        }
        self.check_order(request, asked.iter().map(|(c, _)| c.key.as_str()))?;
        let mut next = self.bindings.clone();
        let mut changes = Changes::default();
        for (contact, expires) in asked {
            next.retain(|b| b.key != contact.key);
            if expires == 0 {
                changes.removed.push(contact.key.clone());
                continue;
            }
            let expires = expires.min(policy.max);
            let binding = Binding {
                contact: contact.uri.clone(),
                key: contact.key.clone(),
                source: request.source,
                transport: request.transport,
                call_id: request.call_id.clone(),
                cseq: request.cseq,
                expires_at: now + Duration::from_secs(u64::from(expires)),
            };
            changes.kept.retain(|b: &Binding| b.key != binding.key);
            changes.kept.push(binding.clone());
            next.push(binding);
        }
        if next.len() > policy.devices {
            return Err(Refusal::TooManyDevices {
                max: policy.devices,
            });
        }
        self.bindings = next;
        Ok(changes)
    }

    /// RFC 3261 section 10.3 step 7: a binding set by this Call-ID at a
    /// CSeq at or above the request's means the request is old.
    fn check_order<'k>(
        &self,
        request: &Register,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<(), Refusal> {
        for key in keys {
            let old = self
                .bindings
                .iter()
                .find(|b| b.key == key)
                .is_some_and(|b| b.call_id == request.call_id && b.cseq >= request.cseq);
            if old {
                return Err(Refusal::OutOfOrder);
            }
        }
        Ok(())
    }
}

/// What identifies a device: its `+sip.instance` when it sends one (RFC
/// 5626: the same device across address changes), else its Contact URI's
/// user, host, port and transport, compared without case (RFC 3261
/// section 19.1.4 compares hosts and parameter names without case).
pub fn device_key(
    instance: Option<&str>,
    user: Option<&str>,
    host_port: &str,
    transport: Option<&str>,
) -> String {
    match instance {
        Some(i) => format!("instance:{}", i.trim_matches('"')),
        None => format!(
            "uri:{}@{};{}",
            user.unwrap_or_default(),
            host_port.to_ascii_lowercase(),
            transport.unwrap_or("udp").to_ascii_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, start: Instant) -> Instant {
        start + Duration::from_secs(secs)
    }

    fn contact(port: u16, expires: Option<u32>) -> RequestedContact {
        let host_port = format!("192.0.2.10:{port}");
        RequestedContact {
            uri: format!("sip:ana@{host_port}"),
            key: device_key(None, Some("ana"), &host_port, None),
            expires,
        }
    }

    fn register(contacts: Vec<RequestedContact>, header: Option<u32>, cseq: u32) -> Register {
        Register {
            wildcard: false,
            contacts,
            expires_header: header,
            call_id: "reg-1".into(),
            cseq,
            source: "198.51.100.7:40000".parse().unwrap(),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn a_contacts_own_expiry_wins_over_the_header_and_is_never_lengthened() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(vec![contact(5060, Some(300))], Some(3600), 1),
            &policy,
        )
        .unwrap();
        let b = user.live(now).next().unwrap();
        assert_eq!(b.seconds_left(now), 300);
        user.apply(
            now,
            &register(vec![contact(5060, None)], Some(120), 2),
            &policy,
        )
        .unwrap();
        assert_eq!(user.live(now).next().unwrap().seconds_left(now), 120);
        user.apply(now, &register(vec![contact(5060, None)], None, 3), &policy)
            .unwrap();
        assert_eq!(
            user.live(now).next().unwrap().seconds_left(now),
            policy.default
        );
        user.apply(
            now,
            &register(vec![contact(5060, Some(86_400))], None, 4),
            &policy,
        )
        .unwrap();
        assert_eq!(user.live(now).next().unwrap().seconds_left(now), policy.max);
    }

    #[test]
    fn expires_zero_on_the_contact_alone_unregisters_that_device() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(vec![contact(5060, Some(300))], None, 1),
            &policy,
        )
        .unwrap();
        let changes = user
            .apply(
                now,
                &register(vec![contact(5060, Some(0))], None, 2),
                &policy,
            )
            .unwrap();
        assert_eq!(changes.removed, vec![contact(5060, None).key]);
        assert!(user.is_empty(now));
    }

    #[test]
    fn too_brief_an_interval_is_refused_and_changes_nothing() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(vec![contact(5060, Some(300))], None, 1),
            &policy,
        )
        .unwrap();
        let refused = user.apply(
            now,
            &register(
                vec![contact(5062, Some(600)), contact(5060, Some(30))],
                None,
                2,
            ),
            &policy,
        );
        assert_eq!(refused, Err(Refusal::TooBrief { min: 60 }));
        assert_eq!(user.live(now).count(), 1);
        assert_eq!(user.live(now).next().unwrap().seconds_left(now), 300);
    }

    #[test]
    fn a_second_device_adds_a_binding_and_a_refresh_replaces_its_own() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(vec![contact(5060, Some(300))], None, 1),
            &policy,
        )
        .unwrap();
        let mut other = register(vec![contact(5062, Some(600))], None, 1);
        other.call_id = "reg-2".into();
        user.apply(now, &other, &policy).unwrap();
        user.apply(
            at(100, now),
            &register(vec![contact(5060, Some(300))], None, 2),
            &policy,
        )
        .unwrap();
        let live: Vec<_> = user.live(at(100, now)).map(|b| b.contact.clone()).collect();
        assert_eq!(
            live,
            vec!["sip:ana@192.0.2.10:5062", "sip:ana@192.0.2.10:5060"]
        );
        // The first expires on its own; the second is left.
        assert_eq!(user.live(at(500, now)).count(), 1);
        assert!(user.is_empty(at(700, now)));
    }

    #[test]
    fn one_device_is_known_by_its_instance_across_address_changes() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        let on = |port: u16| RequestedContact {
            uri: format!("sip:ana@192.0.2.10:{port}"),
            key: device_key(Some("\"<urn:uuid:0001>\""), Some("ana"), "x", None),
            expires: Some(300),
        };
        user.apply(now, &register(vec![on(5060)], None, 1), &policy)
            .unwrap();
        user.apply(now, &register(vec![on(6000)], None, 2), &policy)
            .unwrap();
        let live: Vec<_> = user.live(now).map(|b| b.contact.clone()).collect();
        assert_eq!(live, vec!["sip:ana@192.0.2.10:6000"]);
    }

    #[test]
    fn the_wildcard_removes_every_device_and_needs_expires_zero() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(
                vec![contact(5060, Some(300)), contact(5062, Some(300))],
                None,
                1,
            ),
            &policy,
        )
        .unwrap();
        let mut star = register(vec![], Some(300), 2);
        star.wildcard = true;
        assert_eq!(user.apply(now, &star, &policy), Err(Refusal::BadWildcard));
        star.expires_header = Some(0);
        let changes = user.apply(now, &star, &policy).unwrap();
        assert_eq!(changes.removed.len(), 2);
        assert!(user.is_empty(now));
    }

    #[test]
    fn more_devices_than_allowed_are_refused() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy {
            devices: 2,
            ..ExpiryPolicy::default()
        };
        let many = vec![contact(1, None), contact(2, None), contact(3, None)];
        assert_eq!(
            user.apply(now, &register(many, None, 1), &policy),
            Err(Refusal::TooManyDevices { max: 2 })
        );
        assert!(user.is_empty(now));
    }

    #[test]
    fn an_old_register_arriving_late_changes_nothing() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let policy = ExpiryPolicy::default();
        user.apply(
            now,
            &register(vec![contact(5060, Some(300))], None, 5),
            &policy,
        )
        .unwrap();
        assert_eq!(
            user.apply(
                now,
                &register(vec![contact(5060, Some(0))], None, 4),
                &policy
            ),
            Err(Refusal::OutOfOrder)
        );
        assert_eq!(user.live(now).count(), 1);
    }

    #[test]
    fn each_binding_keeps_the_transport_and_source_it_came_over() {
        let now = Instant::now();
        let mut user = UserBindings::default();
        let mut tcp = register(vec![contact(5060, Some(300))], None, 1);
        tcp.transport = Transport::Tcp;
        user.apply(now, &tcp, &ExpiryPolicy::default()).unwrap();
        let b = user.live(now).next().unwrap();
        assert_eq!(b.transport, Transport::Tcp);
        assert_eq!(b.source, tcp.source);
    }
}
