//! Waiting for events, not for time.
//!
//! A test that sleeps "long enough" fails the day CI's machine is busy. These
//! helpers poll for the event itself and give up only after a deadline far
//! beyond what an idle machine needs; when they give up they say what they
//! waited for and what they saw last.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen soon: far longer
/// than it takes on an idle machine (usually well under a second).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it answers `Ok`, for up to `deadline`; panics with
/// `what` and the last `Err` (what was seen instead) after that.
pub async fn until<T, E: Debug, Fut>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> Fut,
) -> T
where
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(done) => return done,
            Err(seen) if started.elapsed() >= deadline => {
                panic!("waited {deadline:?} for {what}; last seen: {seen:#?}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Waits until some process has a UDP socket bound to `port` (any address).
/// Reads `/proc/net/udp*` rather than trying to bind the port, which would
/// race with the child binding it.
pub async fn udp_bound(port: u16) {
    until(
        &format!("a UDP socket on port {port}"),
        DEADLINE,
        || async {
            bound(port, &["/proc/net/udp", "/proc/net/udp6"], None)
                .then_some(())
                .ok_or("not bound")
        },
    )
    .await
}

/// Waits until some process listens on TCP `port` (any address).
pub async fn tcp_listening(port: u16) {
    until(
        &format!("a TCP listener on port {port}"),
        DEADLINE,
        || async {
            bound(port, &["/proc/net/tcp", "/proc/net/tcp6"], Some("0A"))
                .then_some(())
                .ok_or("not listening")
        },
    )
    .await
}

/// Whether a line of the kernel's socket tables has local port `port` (in
/// `state`, when given: `0A` is TCP's LISTEN).
fn bound(port: u16, tables: &[&str], state: Option<&str>) -> bool {
    let needle = format!(":{port:04X}");
    tables.iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let mut fields = line.split_whitespace();
                let local = fields.nth(1).unwrap_or_default();
                let st = fields.nth(1).unwrap_or_default();
                local.ends_with(&needle) && state.is_none_or(|s| s == st)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bound_socket_is_seen_and_a_listener_too() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp_bound(udp.local_addr().unwrap().port()).await;
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp_listening(tcp.local_addr().unwrap().port()).await;
    }

    #[tokio::test]
    async fn until_returns_what_the_probe_found() {
        let mut n = 0;
        let got = until("the third try", DEADLINE, || {
            n += 1;
            let now = n;
            async move {
                if now >= 3 {
                    Ok(now)
                } else {
                    Err(now)
                }
            }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waited")]
    async fn until_gives_up_after_its_deadline_saying_what_it_saw() {
        until("nothing", Duration::from_millis(120), || async {
            Err::<(), _>("never")
        })
        .await;
    }
}
