//! `GET /metrics`: the server's metrics (HTTP, contacts, queues, agents,
//! chats) plus the voice shell's SIP and RTP counters.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use switchboard_server::metrics::{counter, gauge, registry, render};

use crate::{Voice, VoiceStats};

pub fn routes(voice: Voice) -> Router {
    Router::new()
        .route("/metrics", get(serve))
        .with_state(voice)
}

async fn serve(State(voice): State<Voice>) -> Response {
    let mut r = registry(voice.app()).await;
    let s = voice.stats();
    let n = VoiceStats::get;
    counter(
        &mut r,
        "sip_calls_answered",
        "Inbound calls answered",
        n(&s.calls_answered),
    );
    counter(
        &mut r,
        "sip_calls_refused",
        "Inbound calls refused (unknown trunk or number, bad SDP...)",
        n(&s.calls_refused),
    );
    counter(
        &mut r,
        "rtp_packets_in",
        "RTP packets received",
        n(&s.rtp_packets_in),
    );
    counter(
        &mut r,
        "rtp_packets_out",
        "RTP packets sent",
        n(&s.rtp_packets_out),
    );
    counter(
        &mut r,
        "rtp_packets_refused",
        "RTP packets from an address that is not the call's (dropped)",
        n(&s.rtp_packets_refused),
    );
    counter(
        &mut r,
        "queue_announcements",
        "Position and wait announcements played to queued callers",
        n(&s.queue_announcements),
    );
    gauge(
        &mut r,
        "calls_live",
        "Calls running on this node",
        voice.active_calls() as i64,
    );
    render(&r)
}
