//! Keeping desk phones reachable behind NAT: every [`INTERVAL`] (by
//! default; `VoiceConfig::keepalive`) each
//! device registered over UDP gets an OPTIONS (as PBXs "qualify" their
//! phones). The request keeps the NAT's binding for the phone open between
//! its REGISTERs (home routers forget a UDP mapping after 30 to 120 s of
//! silence, and then our INVITE would be dropped at the router), and a
//! device that answers nothing [`MISSES`] times in a row is dropped, so an
//! offer rings the agent's other devices (or none) instead of a phone that
//! is gone. Any answer, even an error, means it is there.
//!
//! Over TCP and TLS the phone keeps its own connection open (CRLF pings,
//! RFC 5626), and a closed connection says it is gone.

use std::collections::HashMap;
use std::time::Duration;

use rsipstack::sip::typed::{From, To};
use rsipstack::sip::{Method, Param, SipMessage};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::make_tag;
use rsipstack::transaction::transaction::Transaction;
use tracing::{debug, warn};

use super::{Device, Transport};
use crate::sip::{Voice, VoiceStats};

/// Between two pings of one device.
pub const INTERVAL: Duration = Duration::from_secs(25);
/// Pings in a row without an answer before a device is dropped.
pub const MISSES: u32 = 2;
/// How long a ping waits for its answer (less than RFC 3261's 32 s
/// transaction timeout, so a round ends before the next begins).
const ANSWER_WITHIN: Duration = Duration::from_secs(16);
/// Pings in flight at once: a registrar with thousands of phones spreads
/// them instead of sending a burst.
const AT_ONCE: usize = 64;

/// Pings every UDP device every `interval` until the voice shell stops.
pub(crate) async fn run(voice: Voice, interval: Duration) {
    // An answer must come before the next round begins.
    let answer_within = ANSWER_WITHIN.min(interval.mul_f64(0.8));
    // Unanswered pings in a row, per (username, device key).
    let mut misses: HashMap<(String, String), u32> = HashMap::new();
    // The first round one interval after start: phones restored from the
    // store have just been reached by their REGISTER's answer, or will
    // register again soon.
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let devices: Vec<(String, String, Device)> = voice
            .registrar()
            .all_devices()
            .into_iter()
            .filter(|(_, _, d)| d.transport == Transport::Udp)
            .collect();
        misses.retain(|k, _| devices.iter().any(|(u, key, _)| (u, key) == (&k.0, &k.1)));
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        let mut pings = tokio::task::JoinSet::new();
        for (username, key, device) in devices {
            let voice = voice.clone();
            let gate = gate.clone();
            pings.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let answered = tokio::time::timeout(answer_within, ping(&voice, &device))
                    .await
                    .unwrap_or(false);
                (username, key, answered)
            });
        }
        while let Some(Ok((username, key, answered))) = pings.join_next().await {
            let stats = voice.stats();
            VoiceStats::add(&stats.keepalives_sent, 1);
            VoiceStats::add(&stats.keepalives_answered, u64::from(answered));
            let entry = misses.entry((username.clone(), key.clone())).or_default();
            *entry = if answered { 0 } else { *entry + 1 };
            if *entry >= MISSES {
                warn!(%username, device = %key, "a desk phone answered no keep-alive {MISSES} times: dropped");
                // Counted first: whoever sees the device gone (a scrape, a
                // test) must also see it counted, and dropping awaits the
                // store after the binding is already gone.
                VoiceStats::add(&voice.stats().devices_dropped, 1);
                voice
                    .registrar()
                    .drop_device(voice.app(), &username, &key)
                    .await;
                misses.remove(&(username, key));
            }
        }
    }
}

/// Sends one OPTIONS to `device`; whether anything answered.
async fn ping(voice: &Voice, device: &Device) -> bool {
    let endpoint = voice.dialogs().endpoint.clone();
    let Ok(via) = endpoint.get_via(None, None) else {
        return false;
    };
    let from = From {
        display_name: None,
        uri: voice.contact_uri(device.destination.ip()),
        params: vec![Param::Tag(make_tag())],
    };
    let to = To {
        display_name: None,
        uri: device.uri.clone(),
        params: vec![],
    };
    let request =
        endpoint.make_request(Method::Options, device.uri.clone(), via, from, to, 1, None);
    let Ok(key) = TransactionKey::from_request(&request, TransactionRole::Client) else {
        return false;
    };
    let mut tx = Transaction::new_client(key, request, endpoint, None);
    tx.destination = Some(device.sip_addr());
    if let Err(e) = tx.send().await {
        debug!(destination = %device.destination, "keep-alive not sent: {e}");
        return false;
    }
    while let Some(message) = tx.receive().await {
        if let SipMessage::Response(r) = message {
            if r.status_code.kind() != rsipstack::sip::StatusCodeKind::Provisional {
                return true;
            }
        }
    }
    false
}
