//! RFC 3263's rules for finding the SIP server of a host, with no I/O:
//! which lookup comes first (section 4), which SRV names NAPTR records
//! lead to (section 4.1), and the order SRV targets are tried in (RFC 2782:
//! lowest priority first, then by weight at random). The shell
//! (`dns::Resolver`) asks DNS what these rules say to ask.

use std::net::{IpAddr, SocketAddr};

use crate::registrar::Transport;

/// A NAPTR record's fields that matter to SIP (RFC 3403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    /// The SRV name this record leads to (flag `s`).
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// What to ask DNS first for `host` (RFC 3263 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The host is an IP address: no DNS at all.
    Address(SocketAddr, Transport),
    /// A port is given: the host's A/AAAA records, on that port.
    Hosts {
        name: String,
        port: u16,
        transport: Transport,
    },
    /// A transport and no port: that transport's SRV records, else the
    /// host's A/AAAA on the transport's default port.
    Srv { name: String, transport: Transport },
    /// Neither: NAPTR records, else the SRV records of each transport we
    /// have, else A/AAAA over UDP on 5060.
    Naptr { name: String },
}

/// SIP's default port over `transport` (RFC 3261 section 19.1.2).
pub fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
    }
}

/// What to look up first for `host` (a name or an address, IPv6 with or
/// without brackets), with the port and transport it was given with.
pub fn first_lookup(host: &str, port: Option<u16>, transport: Option<Transport>) -> Lookup {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let transport = transport.unwrap_or(Transport::Udp);
        let port = port.unwrap_or_else(|| default_port(transport));
        return Lookup::Address(SocketAddr::new(ip, port), transport);
    }
    match (port, transport) {
        (Some(port), transport) => Lookup::Hosts {
            name,
            port,
            transport: transport.unwrap_or(Transport::Udp),
        },
        (None, Some(transport)) => Lookup::Srv { name, transport },
        (None, None) => Lookup::Naptr { name },
    }
}

/// The SRV name of `transport` for `domain`.
pub fn srv_name(domain: &str, transport: Transport) -> String {
    let prefix = match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
    };
    format!("{prefix}.{domain}")
}

/// The transport a NAPTR service names (RFC 3263 section 4.1), if SIP's.
fn service_transport(service: &str) -> Option<Transport> {
    match service.to_ascii_uppercase().as_str() {
        "SIP+D2U" => Some(Transport::Udp),
        "SIP+D2T" => Some(Transport::Tcp),
        "SIPS+D2T" => Some(Transport::Tls),
        _ => None,
    }
}

/// The SRV names `records` lead to, best first (lowest order, then lowest
/// preference), keeping only the services SIP defines, over transports
/// `usable` says we have, with flag `s` (the only one SIP uses).
pub fn from_naptr(
    records: &[Naptr],
    usable: impl Fn(Transport) -> bool,
) -> Vec<(Transport, String)> {
    let mut chosen: Vec<&Naptr> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| service_transport(&r.service).is_some_and(&usable))
        .collect();
    chosen.sort_by_key(|r| (r.order, r.preference));
    chosen
        .into_iter()
        .filter_map(|r| {
            let name = r.replacement.trim_end_matches('.').to_ascii_lowercase();
            let transport = service_transport(&r.service)?;
            (!name.is_empty()).then_some((transport, name))
        })
        .collect()
}

/// `records` in the order to try them (RFC 2782): lowest priority first;
/// within a priority, each next one drawn at random in proportion to its
/// weight (`draw(total)` returns a number in `0..=total`), those of weight
/// 0 first among equals as the RFC's running sum puts them. A lone
/// target "." says the service is not offered: nothing to try.
pub fn order_srv(mut records: Vec<Srv>, mut draw: impl FnMut(u32) -> u32) -> Vec<Srv> {
    if let [only] = records.as_slice() {
        if only.target.trim_end_matches('.').is_empty() {
            return vec![];
        }
    }
    records.retain(|r| !r.target.trim_end_matches('.').is_empty());
    records.sort_by_key(|r| (r.priority, r.weight));
    let mut ordered = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let priority = records[0].priority;
        let end = records
            .iter()
            .take_while(|r| r.priority == priority)
            .count();
        let mut group: Vec<Srv> = records.drain(..end).collect();
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = draw(total).min(total);
            let mut sum = 0;
            let index = group
                .iter()
                .position(|r| {
                    sum += u32::from(r.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naptr(order: u16, preference: u16, service: &str, replacement: &str) -> Naptr {
        Naptr {
            order,
            preference,
            flags: "s".into(),
            service: service.into(),
            replacement: replacement.into(),
        }
    }

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn an_address_needs_no_dns_a_port_skips_srv_a_transport_skips_naptr() {
        let v4: SocketAddr = "192.0.2.7:5060".parse().unwrap();
        assert_eq!(
            first_lookup("192.0.2.7", None, None),
            Lookup::Address(v4, Transport::Udp)
        );
        let v6: SocketAddr = "[2001:db8::1]:5061".parse().unwrap();
        assert_eq!(
            first_lookup("[2001:db8::1]", None, Some(Transport::Tls)),
            Lookup::Address(v6, Transport::Tls)
        );
        assert_eq!(
            first_lookup("Carrier.Example.", Some(5080), None),
            Lookup::Hosts {
                name: "carrier.example".into(),
                port: 5080,
                transport: Transport::Udp
            }
        );
        assert_eq!(
            first_lookup("carrier.example", None, Some(Transport::Tcp)),
            Lookup::Srv {
                name: "carrier.example".into(),
                transport: Transport::Tcp
            }
        );
        assert_eq!(
            first_lookup("carrier.example", None, None),
            Lookup::Naptr {
                name: "carrier.example".into()
            }
        );
    }

    #[test]
    fn naptr_records_lead_to_srv_names_by_order_then_preference_for_transports_we_have() {
        let records = vec![
            naptr(50, 10, "SIP+D2U", "_sip._udp.example.com."),
            naptr(50, 5, "SIP+D2T", "_sip._tcp.example.com."),
            naptr(10, 90, "SIPS+D2T", "_sips._tcp.example.com."),
            naptr(5, 1, "SIP+D2S", "_sip._sctp.example.com."),
            naptr(1, 1, "E2U+sip", "!^.*$!sip:info@example.com!"),
            Naptr {
                flags: "a".into(),
                ..naptr(1, 1, "SIP+D2U", "host.example.com.")
            },
        ];
        assert_eq!(
            from_naptr(&records, |_| true),
            vec![
                (Transport::Tls, "_sips._tcp.example.com".into()),
                (Transport::Tcp, "_sip._tcp.example.com".into()),
                (Transport::Udp, "_sip._udp.example.com".into()),
            ]
        );
        // Without TLS, TCP is the best we can do.
        assert_eq!(
            from_naptr(&records, |t| t != Transport::Tls)[0],
            (Transport::Tcp, "_sip._tcp.example.com".into())
        );
        assert!(from_naptr(&[], |_| true).is_empty());
        assert_eq!(
            srv_name("example.com", Transport::Tls),
            "_sips._tcp.example.com"
        );
    }

    #[test]
    fn srv_targets_go_by_priority_then_weight_and_a_lone_dot_means_no_service() {
        let records = vec![
            srv(20, 0, "backup.example.com"),
            srv(10, 60, "a.example.com"),
            srv(10, 40, "b.example.com"),
        ];
        // Drawing the highest number picks the last in the running sum.
        let order = order_srv(records.clone(), |total| total);
        let names: Vec<_> = order.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            names,
            ["a.example.com", "b.example.com", "backup.example.com"]
        );
        // Drawing low picks the lighter one first.
        let order = order_srv(records, |_| 1);
        assert_eq!(order[0].target, "b.example.com");
        assert_eq!(order[2].target, "backup.example.com");
        assert!(order_srv(vec![srv(0, 0, ".")], |t| t).is_empty());
        assert!(order_srv(vec![], |t| t).is_empty());
    }

    #[test]
    fn weights_share_first_place_in_proportion_over_many_draws() {
        let records = vec![srv(10, 75, "heavy"), srv(10, 25, "light")];
        let mut seed = 12345u64;
        let mut draw = |total: u32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % (u64::from(total) + 1)) as u32
        };
        let heavy_first = (0..10_000)
            .filter(|_| order_srv(records.clone(), &mut draw)[0].target == "heavy")
            .count();
        assert!((7_000..8_000).contains(&heavy_first), "{heavy_first}");
    }
}
