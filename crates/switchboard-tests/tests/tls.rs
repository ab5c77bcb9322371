//! SIP over TLS: a client that trusts the server's certificate exchanges
//! SIP with it; the listener is the same endpoint as UDP and TCP.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::{AppState, Settings};
use switchboard_server::bootstrap;
use switchboard_store::testing::stores;
use switchboard_store::Blobs;
use switchboard_voice::{TlsListen, VoiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Voice with a TLS listener on a self-signed certificate; the voice
/// channel, the TLS port and the certificate.
async fn tls_voice(
    tweak: impl FnOnce(&mut VoiceConfig),
) -> (
    switchboard_voice::Voice,
    u16,
    rcgen::CertifiedKey<rcgen::KeyPair>,
    tempfile::TempDir,
) {
    let (_, db) = stores().await.into_iter().next().unwrap();
    bootstrap::ensure_defaults(&db.store).await.unwrap();
    let state = AppState {
        store: db.store.clone(),
        blobs: Blobs::in_memory(),
        functions: Default::default(),
        login_throttle: Default::default(),
        routing: switchboard_runtime::routing::start(db.store.clone())
            .await
            .unwrap(),
        settings: Arc::new(Settings::default()),
        metrics: Default::default(),
        trunk_registrations: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_pem = dir.path().join("cert.pem");
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();
    let port = switchboard_testkit::ports::port();
    let mut config = VoiceConfig::local("127.0.0.1:0".parse().unwrap());
    config.tls = Some(TlsListen {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        cert_pem,
        key_pem,
    });
    tweak(&mut config);
    let voice = switchboard_voice::start(state, config).await.unwrap();
    switchboard_testkit::wait::tcp_listening(port).await;
    (voice, port, certified, dir)
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_off() {
    let (_voice, port, _, _dir) =
        tls_voice(|c| c.stream_limits.handshake = Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let closed =
        tokio::time::timeout(switchboard_testkit::wait::DEADLINE, silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the silent TLS connection was not closed: {closed:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(30),
        "{took:?}"
    );
}

#[tokio::test]
async fn sip_over_tls_answers_options() {
    let (_voice, port, certified, _dir) = tls_voice(|_| {}).await;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the TLS listener accepts connections");
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the SIP listener");
    let local = "127.0.0.1:5099";
    let options = format!(
        "OPTIONS sip:switchboard@127.0.0.1:{port};transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS {local};branch=z9hG4bK-tls-1;rport\r\n\
         From: <sip:probe@{local}>;tag=probe1\r\n\
         To: <sip:switchboard@127.0.0.1:{port}>\r\n\
         Call-ID: tls-options-1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(switchboard_testkit::wait::DEADLINE, tls.read(&mut buf))
        .await
        .expect("an answer over TLS")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(answer.contains("Call-ID: tls-options-1"), "{answer}");
}
