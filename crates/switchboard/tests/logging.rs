//! What reaches the log: SIP messages only when asked for (they stay out of
//! the default filter), and never a digest credential, even then.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::*;

/// Sends a REGISTER carrying a digest response; returns Switchboard's answer.
async fn register_with_credentials(server: &Server) -> String {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    let sip = server.sip();
    let message = format!(
        "REGISTER sip:{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-log-{port};rport\r\n\
         From: <sip:alice@{sip}>;tag=1\r\n\
         To: <sip:alice@{sip}>\r\n\
         Call-ID: log-test-{port}\r\n\
         CSeq: 2 REGISTER\r\n\
         Contact: <sip:alice@{me}>\r\n\
         Authorization: Digest username=\"alice\", realm=\"switchboard\", nonce=\"0123\", \
         uri=\"sip:{sip}\", response=\"deadbeefcafe0001\", qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        port = me.port()
    );
    socket.send_to(message.as_bytes(), &sip).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(30), socket.recv_from(&mut buf))
        .await
        .expect("an answer to the REGISTER")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn log_of(server: &Server) -> Vec<String> {
    server.log.lock().unwrap().clone()
}

#[tokio::test]
async fn sip_messages_stay_out_of_the_log_and_credentials_never_reach_it() {
    // Asked for: messages are logged, their credentials blanked.
    let dir = tempfile::tempdir().unwrap();
    let server = start_logging(dir.path(), Some("warn,rsipstack=info")).await;
    let answer = register_with_credentials(&server).await;
    assert!(answer.starts_with("SIP/2.0 "), "{answer}");
    let logged = switchboard_testkit::wait::until(
        "the REGISTER in the log",
        switchboard_testkit::wait::DEADLINE,
        || async {
            let log = log_of(&server);
            if log.iter().any(|l| l.contains("REGISTER sip:")) {
                Ok(log)
            } else {
                Err(log.len())
            }
        },
    )
    .await;
    assert!(
        !logged
            .iter()
            .any(|l| l.contains("deadbeefcafe0001") || l.contains("c0ffee")),
        "a credential reached the log"
    );
    assert!(
        logged
            .iter()
            .any(|l| l.contains("Authorization: <redacted>")),
        "{logged:#?}"
    );

    // By default: no SIP message at all.
    let dir = tempfile::tempdir().unwrap();
    let server = start_logging(dir.path(), None).await;
    let answer = register_with_credentials(&server).await;
    assert!(answer.starts_with("SIP/2.0 "), "{answer}");
    // The registrar's own warning about the made-up nonce is logged by
    // default: once it is in, a message dump logged before it would be too.
    let log = switchboard_testkit::wait::until(
        "the registrar's warning in the log",
        switchboard_testkit::wait::DEADLINE,
        || async {
            let log = log_of(&server);
            if log.iter().any(|l| l.contains("unknown or replayed nonce")) {
                Ok(log)
            } else {
                Err(log.len())
            }
        },
    )
    .await;
    assert!(
        !log.iter()
            .any(|l| l.contains("REGISTER sip:") || l.contains("deadbeefcafe")),
        "{log:#?}"
    );
}
