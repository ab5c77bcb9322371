//! Finding a carrier's SIP server by DNS, as RFC 3263 says: NAPTR records
//! choose the transport, SRV records the servers and ports (by priority
//! and weight), A/AAAA records their addresses. The rules are
//! [`rfc3263`]'s (pure, table-tested); this shell asks hickory-resolver,
//! with a deadline on every answer and a cap on what is kept.
//!
//! Trunks' outbound proxies and registrars go through it: calls out
//! ([`crate::sip::Voice::route_out`]) directly, and every request rsipstack
//! sends to a name (a trunk's REGISTER) through `SipDomains`.

pub mod rfc3263;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use rsipstack::sip::{Host, HostWithPort};
use rsipstack::transport::SipAddr;
use tracing::debug;

use crate::registrar::Transport;
use rfc3263::{Lookup, Naptr, Srv};

/// How long one DNS question may take, all retries included.
const ANSWER_WITHIN: Duration = Duration::from_secs(4);
/// At most this many records of one answer are used (a hostile or broken
/// zone cannot make a call try hundreds of servers).
const MAX_RECORDS: usize = 16;

/// One server to send to, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub transport: Transport,
}

/// Why a host has no server to send to.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("the DNS resolver cannot be set up: {0}")]
    Setup(String),
    #[error("{host}: {why}")]
    NotFound { host: String, why: String },
}

/// RFC 3263 over hickory-resolver.
pub struct Resolver {
    dns: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    /// A resolver asking `servers` (address and port each), or the
    /// system's (`/etc/resolv.conf`) when there are none.
    pub fn new(servers: &[SocketAddr]) -> Result<Self, DnsError> {
        let mut builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DnsError::Setup(e.to_string()))?
        } else {
            let mut config = ResolverConfig::default();
            for server in servers {
                let over = |mut c: ConnectionConfig| {
                    c.port = server.port();
                    c
                };
                config.add_name_server(NameServerConfig::new(
                    server.ip(),
                    true,
                    vec![over(ConnectionConfig::udp()), over(ConnectionConfig::tcp())],
                ));
            }
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        };
        let options = builder.options_mut();
        options.timeout = Duration::from_secs(2);
        options.attempts = 2;
        options.cache_size = 256;
        let dns = builder
            .build()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(Self { dns })
    }

    /// The servers for `host` (given with `port` and `transport`, if it
    /// was), best first.
    pub async fn resolve(
        &self,
        host: &str,
        port: Option<u16>,
        transport: Option<Transport>,
    ) -> Result<Vec<Target>, DnsError> {
        let not_found = |why: String| DnsError::NotFound {
            host: host.to_string(),
            why,
        };
        let targets = match rfc3263::first_lookup(host, port, transport) {
            Lookup::Address(addr, transport) => vec![Target { addr, transport }],
            Lookup::Hosts {
                name,
                port,
                transport,
            } => self.addresses(&name, port, transport).await,
            Lookup::Srv { name, transport } => {
                let found = self
                    .servers(&rfc3263::srv_name(&name, transport), transport)
                    .await;
                match found {
                    Some(targets) => targets,
                    None => {
                        let port = rfc3263::default_port(transport);
                        self.addresses(&name, port, transport).await
                    }
                }
            }
            Lookup::Naptr { name } => self.by_naptr(&name).await,
        };
        if targets.is_empty() {
            return Err(not_found("no SIP server found in DNS".into()));
        }
        Ok(targets)
    }

    /// Section 4.1: the transport NAPTR records choose (or, without any,
    /// the first of ours with SRV records), then A/AAAA over UDP on 5060.
    async fn by_naptr(&self, name: &str) -> Vec<Target> {
        let records: Vec<Naptr> = self
            .records(name, RecordType::NAPTR)
            .await
            .into_iter()
            .filter_map(|data| match data {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: n.replacement.to_string(),
                }),
                _ => None,
            })
            .collect();
        let mut choices = rfc3263::from_naptr(&records, |_| true);
        if choices.is_empty() {
            choices = [Transport::Udp, Transport::Tcp, Transport::Tls]
                .into_iter()
                .map(|t| (t, rfc3263::srv_name(name, t)))
                .collect();
        }
        for (transport, srv_name) in choices {
            if let Some(targets) = self.servers(&srv_name, transport).await {
                return targets;
            }
        }
        self.addresses(name, 5060, Transport::Udp).await
    }

    /// The servers SRV records at `srv_name` give, in RFC 2782's order;
    /// None when there are none.
    async fn servers(&self, srv_name: &str, transport: Transport) -> Option<Vec<Target>> {
        let records: Vec<Srv> = self
            .records(srv_name, RecordType::SRV)
            .await
            .into_iter()
            .filter_map(|data| match data {
                RData::SRV(s) => Some(Srv {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: s.target.to_string(),
                }),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return None;
        }
        let ordered = rfc3263::order_srv(records, |total| {
            rand::Rng::gen_range(&mut rand::thread_rng(), 0..=total)
        });
        let mut targets = Vec::new();
        for srv in ordered {
            let host = srv.target.trim_end_matches('.');
            targets.extend(self.addresses(host, srv.port, transport).await);
            if targets.len() >= MAX_RECORDS {
                break;
            }
        }
        targets.truncate(MAX_RECORDS);
        Some(targets)
    }

    /// `name`'s addresses on `port`.
    async fn addresses(&self, name: &str, port: u16, transport: Transport) -> Vec<Target> {
        let answer = tokio::time::timeout(ANSWER_WITHIN, self.dns.lookup_ip(name)).await;
        match answer {
            Ok(Ok(ips)) => ips
                .iter()
                .take(MAX_RECORDS)
                .map(|ip| Target {
                    addr: SocketAddr::new(ip, port),
                    transport,
                })
                .collect(),
            Ok(Err(e)) => {
                debug!(%name, "no address: {e}");
                vec![]
            }
            Err(_) => {
                debug!(%name, "no address in time");
                vec![]
            }
        }
    }

    /// The records of `kind` at `name` (none on an error or no answer in time).
    async fn records(&self, name: &str, kind: RecordType) -> Vec<RData> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match tokio::time::timeout(ANSWER_WITHIN, self.dns.lookup(fqdn.as_str(), kind)).await {
            Ok(Ok(lookup)) => lookup
                .answers()
                .iter()
                .take(MAX_RECORDS)
                .map(|r| r.data.clone())
                .collect(),
            Ok(Err(e)) => {
                debug!(%name, ?kind, "no records: {e}");
                vec![]
            }
            Err(_) => {
                debug!(%name, ?kind, "no records in time");
                vec![]
            }
        }
    }
}

/// rsipstack's seam for requests sent to a name: answered by RFC 3263.
pub(crate) struct SipDomains(pub(crate) Arc<Resolver>);

#[async_trait::async_trait]
impl rsipstack::transport::transport_layer::DomainResolver for SipDomains {
    async fn resolve(&self, target: &SipAddr) -> rsipstack::Result<SipAddr> {
        let host = match &target.addr.host {
            Host::Domain(domain) => domain.to_string(),
            Host::IpAddr(_) => return Ok(target.clone()),
        };
        let port = target.addr.port.map(u16::from);
        let transport = target.r#type.and_then(Transport::from_sip);
        let targets = self
            .0
            .resolve(&host, port, transport)
            .await
            .map_err(|e| rsipstack::Error::DnsResolutionError(e.to_string()))?;
        let first = targets
            .first()
            .copied()
            .ok_or_else(|| rsipstack::Error::DnsResolutionError(host.clone()))?;
        Ok(SipAddr {
            r#type: Some(first.transport.to_sip()),
            addr: HostWithPort {
                host: Host::IpAddr(first.addr.ip()),
                port: Some(first.addr.port().into()),
            },
        })
    }
}
