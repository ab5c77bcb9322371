use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

/// A SIP trunk: a carrier or PBX that sends us calls for our numbers and
/// carries the calls we place to external numbers.
///
/// Inbound calls are accepted only from the trunk's addresses; a call from
/// anywhere else is refused with 403 and logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SipTrunk {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// IP addresses or CIDR blocks (`203.0.113.0/24`) the carrier sends from.
    #[serde(default)]
    pub inbound_addresses: Vec<String>,
    /// Where calls out to external numbers are sent (the carrier's proxy):
    /// `host:port`, or a bare host name whose servers DNS names (RFC 3263:
    /// NAPTR, then SRV, then A/AAAA). Absent: the trunk only takes calls in.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// Digest credentials the carrier asks for on our outbound calls.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// E.164 number shown to people we call when the flow sets none.
    #[serde(default)]
    pub caller_id_number: Option<String>,
    /// How to reach the carrier. Absent: as its DNS says (NAPTR records),
    /// else UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<SipTransport>,
    /// Take a call's audio only from the address its SDP names. Off (the
    /// default), audio from callers behind NAT is learned from where it
    /// really comes from (symmetric RTP); some carriers want this on.
    #[serde(default)]
    pub strict_media_source: bool,
    /// Take calls from any address that answers a digest challenge with
    /// this trunk's `username` and `password`: a carrier or PBX without
    /// fixed addresses. Calls from `inbound_addresses` need no challenge.
    #[serde(default)]
    pub authenticate_inbound: bool,
    /// Register with the carrier (many trunks for small offices work so):
    /// REGISTER to `registrar` (else `outbound_proxy`) as `username` with
    /// `password`, refreshed before it lapses; the carrier then sends our
    /// numbers' calls to where we registered from.
    #[serde(default)]
    pub register: bool,
    /// The carrier's registrar (`host:port`, or a host name for DNS as the
    /// outbound proxy), when not the outbound proxy.
    #[serde(default)]
    pub registrar: Option<String>,
    /// How long a registration is asked to last (60 to 86400 s; the
    /// carrier may grant less). Default 3600.
    #[serde(default)]
    pub registration_seconds: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SipTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// A server as configured (`host`, `host:port`, `[v6]`, `[v6]:port`, a
/// bare IPv6 address): its host and port; None when it is none of these.
pub fn split_server(server: &str) -> Option<(&str, Option<u16>)> {
    let server = server.trim();
    if server.is_empty() || server.contains(char::is_whitespace) {
        return None;
    }
    if let Some(rest) = server.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port_number(port)?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    if server.parse::<IpAddr>().is_ok() {
        return Some((server, None));
    }
    match server.rsplit_once(':') {
        Some(("", _)) => None,
        Some((host, port)) => Some((host, Some(port_number(port)?))),
        None => Some((server, None)),
    }
}

fn port_number(port: &str) -> Option<u16> {
    port.parse().ok().filter(|p| *p > 0)
}

/// An inbound address rule that is neither an address nor a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is neither an IP address nor a CIDR block like 203.0.113.0/24")]
pub struct AddressRuleError(pub String);

/// An inbound address rule: one address or a block.
pub fn parse_address_rule(rule: &str) -> Result<ipnet::IpNet, AddressRuleError> {
    let rule = rule.trim();
    if let Ok(net) = rule.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    rule.parse::<IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| AddressRuleError(rule.to_string()))
}

impl SipTrunk {
    /// Whether a request from `ip` may come in over this trunk.
    pub fn admits(&self, ip: IpAddr) -> bool {
        self.inbound_addresses
            .iter()
            .filter_map(|r| parse_address_rule(r).ok())
            .any(|net| net.contains(&ip))
    }
}

impl ConfigSpec for SipTrunk {
    const KIND: ObjectKind = ObjectKind::SipTrunk;

    fn hide_secrets(&mut self) {
        self.password = None;
    }

    /// A trunk that keeps its username keeps its password when the update
    /// leaves it out (the API never shows it).
    fn keep_server_fields(&mut self, stored: &Self) {
        if self.password.is_none() && self.username.is_some() && self.username == stored.username {
            self.password = stored.password.clone();
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        e.check(
            self.inbound_addresses.len() <= 100,
            "inbound_addresses",
            "at most 100 rules",
        );
        for (i, rule) in self.inbound_addresses.iter().enumerate() {
            if let Err(reason) = parse_address_rule(rule) {
                e.add(format!("inbound_addresses[{i}]"), reason.to_string());
            }
        }
        for (field, value) in [
            ("outbound_proxy", &self.outbound_proxy),
            ("registrar", &self.registrar),
        ] {
            if let Some(proxy) = value {
                e.check(
                    split_server(proxy).is_some(),
                    field,
                    "must be host:port (sip.carrier.example:5060) or a host name its DNS describes (carrier.example)",
                );
            }
        }
        if self.authenticate_inbound {
            e.check(
                self.username.is_some() && self.password.is_some(),
                "username",
                "taking calls by digest needs the trunk's username and password",
            );
        }
        if self.register {
            e.check(
                self.registrar.is_some() || self.outbound_proxy.is_some(),
                "registrar",
                "registering needs the carrier's registrar (or its outbound proxy)",
            );
            e.check(
                self.username.is_some(),
                "username",
                "registering needs the username the carrier gave",
            );
        }
        if let Some(seconds) = self.registration_seconds {
            e.check(
                (60..=86_400).contains(&seconds),
                "registration_seconds",
                "must be between 60 and 86400",
            );
        }
        e.check(
            self.username.is_some() == self.password.is_some(),
            "password",
            "username and password go together",
        );
        if let Some(number) = &self.caller_id_number {
            e.check(
                crate::objects::phone_number::parse_e164(number).is_ok(),
                "caller_id_number",
                "must be an E.164 number like +442079460123",
            );
        }
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_written_with_or_without_a_port_in_either_family() {
        assert_eq!(
            split_server("carrier.example"),
            Some(("carrier.example", None))
        );
        assert_eq!(
            split_server(" carrier.example:5080 "),
            Some(("carrier.example", Some(5080)))
        );
        assert_eq!(
            split_server("192.0.2.1:5060"),
            Some(("192.0.2.1", Some(5060)))
        );
        assert_eq!(
            split_server("[2001:db8::1]:5061"),
            Some(("2001:db8::1", Some(5061)))
        );
        assert_eq!(split_server("[2001:db8::1]"), Some(("2001:db8::1", None)));
        assert_eq!(split_server("2001:db8::1"), Some(("2001:db8::1", None)));
        assert_eq!(split_server("carrier.example:sip"), None);
        assert_eq!(split_server("[2001:db8::1]x"), None);
        assert_eq!(split_server(""), None);
        assert_eq!(split_server("carrier.example:0"), None);
        assert_eq!(split_server(":5060"), None);
        assert_eq!(split_server("sip carrier"), None);
    }

    fn trunk(rules: &[&str]) -> SipTrunk {
        SipTrunk {
            name: "carrier".into(),
            description: String::new(),
            inbound_addresses: rules.iter().map(|s| s.to_string()).collect(),
            outbound_proxy: None,
            username: None,
            password: None,
            caller_id_number: None,
            strict_media_source: false,
            authenticate_inbound: false,
            register: false,
            registrar: None,
            registration_seconds: None,
            transport: None,
        }
    }

    #[test]
    fn admits_only_its_addresses() {
        let t = trunk(&["127.0.0.1", "203.0.113.0/24", "2001:db8::/32"]);
        assert!(t.admits("127.0.0.1".parse().unwrap()));
        assert!(t.admits("203.0.113.77".parse().unwrap()));
        assert!(t.admits("2001:db8::1".parse().unwrap()));
        assert!(!t.admits("127.0.0.2".parse().unwrap()));
        assert!(!t.admits("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn bad_rules_are_named() {
        let mut t = trunk(&["127.0.0.1", "not-an-ip", "10.0.0.0/33"]);
        t.outbound_proxy = Some("carrier.example:sip".into());
        let errors = t.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "inbound_addresses[1]",
                "inbound_addresses[2]",
                "outbound_proxy"
            ]
        );
    }

    #[test]
    fn registering_needs_a_registrar_and_credentials() {
        let mut t = trunk(&[]);
        t.register = true;
        t.registration_seconds = Some(10);
        let errors = t.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["registrar", "username", "registration_seconds"]);
        t.registrar = Some("sip.carrier.example:5060".into());
        t.username = Some("4420794609".into());
        t.password = Some("secret".into());
        t.registration_seconds = Some(600);
        assert!(t.validate().is_ok());
    }
}
