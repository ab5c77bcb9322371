//! `/metrics` in Prometheus' text format: HTTP requests by route, routing
//! gauges, and the voice shell's SIP and RTP counters.

mod common;

use common::Rig;

#[tokio::test]
async fn metrics_are_exposed_for_prometheus() {
    let rig = Rig::new().await;
    rig.call("GET", "/queues", None, None).await;
    let text = rig.metrics_text().await;
    for needle in [
        "# TYPE switchboard_http_requests counter",
        "switchboard_http_requests_total{method=\"GET\",route=\"/api/v1/queues\",status=\"200\"} 1",
        "switchboard_http_request_duration_seconds_bucket{",
        "# TYPE switchboard_sip_calls_answered counter",
        "switchboard_rtp_packets_in_total 0",
        "switchboard_calls_live 0",
        "switchboard_chats_live 0",
        "# TYPE switchboard_agents gauge",
        "# TYPE switchboard_queue_contacts gauge",
        "# EOF",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}
