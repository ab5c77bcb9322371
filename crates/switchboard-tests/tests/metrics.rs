//! `/metrics` in Prometheus' text format: HTTP requests by route, routing
//! gauges, and the voice shell's SIP and RTP counters.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

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

#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_the_metrics() {
    let rig = Rig::new().await;
    // Methods nobody defined, each long and different, on a real route and
    // on paths that match nothing.
    for i in 0..30 {
        let method = format!("{}{i}", "X".repeat(2000));
        for path in ["/api/v1/queues".to_string(), format!("/no/such/path/{i}")] {
            let r = rig
                .http
                .request(method.parse().unwrap(), format!("{}{path}", rig.origin))
                .bearer_auth(&rig.token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{}", r.status());
        }
    }
    let text = rig.metrics_text().await;
    assert!(
        !text.contains("XXXXXXXX") && !text.contains("/no/such/path"),
        "a request's own method or path became a label"
    );
    let other: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("switchboard_http_requests_total{method=\"OTHER\""))
        .collect();
    assert_eq!(other.len(), 1, "one series for them all: {other:?}");
    assert!(
        other[0].contains("route=\"/api/v1/queues\""),
        "{}",
        other[0]
    );
    assert!(other[0].ends_with(" 30"), "{}", other[0]);
    assert!(text.len() < 200_000, "/metrics is {} bytes", text.len());
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    const TOKEN: &str = "scrape-me-0123456789";
    let rig = Rig::configured(|c| c.metrics_token = Some(TOKEN.into())).await;
    let url = format!("{}/metrics", rig.origin);
    for auth in [None, Some("Bearer wrong-token"), Some("Basic c2NyYXBl")] {
        let mut req = rig.http.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
    }
    let r = rig.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("sip_calls_answered"));
}
