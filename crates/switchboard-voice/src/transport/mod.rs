//! SIP's transports: UDP, TCP and TLS on rsipstack's transport layer, with
//! what rsipstack leaves to its user:
//!
//! - [`unknown_method`] (pure) and [`udp`]: a request whose method the SIP
//!   parser does not know gets 501 with Allow (RFC 3261 section 8.2.1)
//!   instead of silence.
//! - [`streams`]: our own TCP and TLS accept loops, with connection caps
//!   per address and in all, and a TLS handshake deadline.
//!
//! Over TCP and TLS a message with an unknown method still ends its
//! connection: rsipstack frames and parses streams itself, with no seam
//! to answer from. The phone reconnects; nothing else is lost.

pub mod streams;
pub mod udp;
pub mod unknown_method;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::TransportLayer;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use streams::StreamLimits;

use crate::sip::{StartError, TlsListen, VoiceConfig};

/// Counters of what the transports turned away.
#[derive(Debug, Default)]
pub struct TransportStats {
    /// Requests with an unknown method, answered 501.
    pub unknown_methods: Arc<AtomicU64>,
    /// TCP and TLS connections closed at once: a cap was reached.
    pub streams_refused: Arc<AtomicU64>,
}

/// How many times port 0 is tried before TCP is given up: the kernel picks
/// the UDP port, and the same TCP port may be held by an outgoing connection
/// (a database client's ephemeral port); another pick nearly always fits.
const ANY_PORT_ATTEMPTS: usize = 32;

/// SIP's listening sockets: UDP on a new transport layer, and TCP on the
/// same port when it could be had.
pub(crate) struct Listening {
    pub(crate) layer: TransportLayer,
    pub(crate) local_sip: SocketAddr,
    /// Our SIP address in the other IP family (dual stack), as advertised.
    pub(crate) local_sip_other: Option<SocketAddr>,
    pub(crate) tcp: Vec<tokio::net::TcpListener>,
}

/// Opens SIP over UDP on a new transport layer and binds TCP on the same
/// port (TCP and TLS accept once the endpoint owns the layer:
/// [`accept_streams`]). With port 0 the port is one where both are free,
/// so that phones on either transport reach the address we advertise.
pub(crate) async fn open(
    config: &VoiceConfig,
    allow: &'static str,
    stats: &TransportStats,
    dns: Arc<crate::dns::Resolver>,
    cancel: &CancellationToken,
) -> Result<Listening, StartError> {
    let any_port = config.sip_listen.port() == 0;
    let attempts = if any_port { ANY_PORT_ATTEMPTS } else { 1 };
    let mut attempt = 0;
    let (socket, tcp, other) = loop {
        attempt += 1;
        let dual = config.sip_listen_other.is_some();
        let mut socket = udp::AnsweringSocket::bind(
            config.sip_listen,
            dual,
            allow,
            stats.unknown_methods.clone(),
        )
        .await
        .map_err(|e| StartError::listen("UDP", config.sip_listen, e))?;
        let bound = socket
            .bound()
            .map_err(|e| StartError::listen("UDP", config.sip_listen, e))?;
        // The other family on the same port (with port 0, the one just
        // picked): a phone finds SIP at one port whatever its address.
        let other = match config.sip_listen_other {
            None => None,
            Some(address) => {
                let address = SocketAddr::new(address.ip(), bound.port());
                match socket.bind_other(address) {
                    Ok(bound) => Some(bound),
                    Err(_) if any_port && attempt < attempts => continue,
                    Err(e) => return Err(StartError::listen("UDP", address, e)),
                }
            }
        };
        let tcp_other = match other.map(tcp_one_family).transpose() {
            Ok(listener) => listener,
            Err(_) if any_port && attempt < attempts => continue,
            Err(e) => {
                warn!("SIP TCP on {other:?} not available: {e}");
                None
            }
        };
        let tcp = match dual {
            true => tcp_one_family(bound),
            false => tokio::net::TcpListener::bind(bound).await,
        };
        match tcp {
            Ok(tcp) => break (socket, [Some(tcp), tcp_other], other),
            Err(e) if attempt >= attempts => {
                warn!("SIP TCP on {bound} not available: {e}");
                break (socket, [None, tcp_other], other);
            }
            // Port 0: drop this UDP socket and let the kernel pick again.
            Err(_) => continue,
        }
    };
    let socket = Arc::new(socket);
    // Requests to a name (a carrier's registrar) find it as RFC 3263 says.
    let layer = TransportLayer::new_with_domain_resolver(
        cancel.clone(),
        Box::new(crate::dns::SipDomains(dns)),
    );
    layer.set_stream_idle_timeout(config.stream_idle);
    let udp = UdpConnection::from_socket(socket.clone(), None, Some(cancel.child_token()))
        .await
        .map_err(|e| StartError::Stack(format!("SIP UDP on {}: {e}", config.sip_listen)))?;
    let local_sip: SocketAddr = udp
        .get_addr()
        .addr
        .clone()
        .try_into()
        .map_err(|e| StartError::Stack(format!("SIP address: {e:?}")))?;
    let local_sip_other = other.map(|bound| advertised_other(bound, config));
    if let Some(theirs) = local_sip_other {
        let theirs = rsipstack::sip::HostWithPort::from(theirs).to_string();
        info!(%local_sip, other = %theirs, "SIP on both IP families");
        socket.set_via_texts(udp.get_addr().addr.to_string(), theirs);
    }
    layer.add_transport(udp.into());
    Ok(Listening {
        layer,
        local_sip,
        local_sip_other,
        tcp: tcp.into_iter().flatten().collect(),
    })
}

/// The address to advertise for the other family's socket bound at
/// `bound`: itself, or for a wildcard (`[::]`) the other media address
/// (the host's address in that family), else that family's loopback.
fn advertised_other(bound: SocketAddr, config: &VoiceConfig) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let ip = match config.media_ip_other {
        Some(ip) if ip.is_ipv4() == bound.is_ipv4() && !ip.is_unspecified() => ip,
        _ if bound.is_ipv4() => std::net::Ipv4Addr::LOCALHOST.into(),
        _ => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    SocketAddr::new(ip, bound.port())
}

/// A non-blocking socket of `address`'s family that takes that family
/// alone: an IPv6 one is IPv6-only (tokio and std cannot set that before
/// binding), so `[::]` and `0.0.0.0` can share a port. Not yet bound.
fn one_family(
    address: SocketAddr,
    kind: socket2::Type,
    protocol: socket2::Protocol,
) -> std::io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(address), kind, Some(protocol))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A TCP listener on `address` for its family alone.
fn tcp_one_family(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = one_family(address, socket2::Type::STREAM, socket2::Protocol::TCP)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// Starts the TCP (bound by [`open`], on `local_sip`'s port) and TLS
/// accept loops, handing their connections to `endpoint`'s transport layer.
pub(crate) async fn accept_streams(
    endpoint: EndpointInnerRef,
    config: &VoiceConfig,
    tcp: Vec<tokio::net::TcpListener>,
    stats: &TransportStats,
    cancel: &CancellationToken,
) -> Result<(), StartError> {
    let acceptor = streams::Acceptor::new(
        endpoint,
        config.stream_limits,
        cancel.clone(),
        stats.streams_refused.clone(),
    );
    // Outbound requests over TCP take their Via from the UDP listener's
    // address with the transport changed: the same port, as TCP listens.
    for listener in tcp {
        if let Err(e) = acceptor.tcp(listener) {
            warn!("SIP TCP not available: {e}");
        }
    }
    if let Some(tls) = &config.tls {
        let server = tls_server_config(tls)?;
        acceptor
            .tls(tls.listen, server, config.stream_limits.handshake)
            .await
            .map_err(|e| StartError::listen("TLS", tls.listen, e))?;
        info!(listen = %tls.listen, "SIP over TLS listening");
    }
    info!(limits = ?config.stream_limits, "SIP connection limits");
    Ok(())
}

/// The TLS server's certificate chain and key, from PEM files.
fn tls_server_config(tls: &TlsListen) -> Result<Arc<rustls::ServerConfig>, StartError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    // One process-wide rustls provider (ring), chosen before any TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| StartError::Tls(format!("reading {}: {e}", p.display())))
    };
    let certs = CertificateDer::pem_slice_iter(&read(&tls.cert_pem)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Tls(format!("{}: {e}", tls.cert_pem.display())))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "{} holds no certificate",
            tls.cert_pem.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&tls.key_pem)?)
        .map_err(|e| StartError::Tls(format!("{}: {e}", tls.key_pem.display())))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key: {e}")))?;
    Ok(Arc::new(config))
}
