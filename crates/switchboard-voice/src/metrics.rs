//! `GET /metrics`: the server's metrics (HTTP, contacts, queues, agents,
//! chats) plus the voice shell's SIP and RTP counters.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use switchboard_runtime::metrics::{counter, gauge, gauge_by, registry, render};

use crate::{Voice, VoiceStats};

pub fn routes(voice: Voice) -> Router {
    Router::new()
        .route("/metrics", get(serve))
        .with_state(voice)
}

/// Whether the scrape carries the configured token (any scrape does when
/// none is set). Compared as SHA-256 digests, so the time taken says
/// nothing about how much of a guess was right.
fn authorised(voice: &Voice, headers: &HeaderMap) -> bool {
    use sha2::{Digest, Sha256};
    let Some(token) = &voice.config().metrics_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
}

async fn serve(State(voice): State<Voice>, headers: HeaderMap) -> Response {
    if !authorised(&voice, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the bearer token set as metrics_token\n",
        )
            .into_response();
    }
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
        "tts_processes",
        "Text-to-speech processes run (each new text once; announcements are cached pieces)",
        voice.library().speech_runs(),
    );
    counter(
        &mut r,
        "queue_announcements",
        "Position and wait announcements played to queued callers",
        n(&s.queue_announcements),
    );
    counter(
        &mut r,
        "sip_keepalives_sent",
        "Keep-alive OPTIONS sent to desk phones registered over UDP",
        n(&s.keepalives_sent),
    );
    counter(
        &mut r,
        "sip_keepalives_answered",
        "Keep-alive OPTIONS desk phones answered",
        n(&s.keepalives_answered),
    );
    counter(
        &mut r,
        "sip_devices_dropped",
        "Desk phones dropped for answering no keep-alive",
        n(&s.devices_dropped),
    );
    gauge(
        &mut r,
        "sip_devices_registered",
        "Desk-phone devices registered",
        voice.registered_devices() as i64,
    );
    let trunks: Vec<(String, i64)> = voice
        .trunk_registrations()
        .states()
        .into_iter()
        .map(|(trunk, state)| {
            let registered = matches!(
                state,
                switchboard_runtime::trunk_registrations::TrunkRegistration::Registered { .. }
            );
            (trunk, i64::from(registered))
        })
        .collect();
    gauge_by(
        &mut r,
        "sip_trunk_registered",
        "Whether each trunk that registers with its carrier is registered (1) or not (0)",
        "trunk",
        &trunks,
    );
    gauge(
        &mut r,
        "calls_live",
        "Calls running on this node",
        voice.active_calls() as i64,
    );
    match render(&r) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("metrics not encoded: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
