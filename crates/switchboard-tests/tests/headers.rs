//! What every response says to a browser: pages carry a
//! Content-Security-Policy that names who may frame them (nobody, or for
//! the chat demo only the sites allowed to run the widget), and nothing is
//! ever sniffed into another type.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use common::*;

async fn headers_of(rig: &Rig, path: &str) -> reqwest::header::HeaderMap {
    let r = rig
        .http
        .get(format!("{}{path}", rig.origin))
        .send()
        .await
        .unwrap();
    r.headers().clone()
}

fn policy(h: &reqwest::header::HeaderMap) -> String {
    h.get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_say_who_may_frame_them_and_nothing_is_sniffed() {
    let rig = Rig::chatting(switchboard_webchat::ChatSettings {
        allowed_origins: switchboard_webchat::origins::AllowedOrigins::parse(&[
            "https://shop.example.com",
        ])
        .unwrap(),
        ..Default::default()
    })
    .await;
    for page in ["/ccp", "/console", "/console/designer", "/reports"] {
        let h = headers_of(&rig, page).await;
        let csp = policy(&h);
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{page}: {csp}");
    }
    let csp = policy(&headers_of(&rig, "/chat/").await);
    assert!(
        csp.contains("frame-ancestors 'self' https://shop.example.com"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'"), "{csp}");
    for path in [
        "/ccp",
        "/ccp/ccp.js",
        "/chat/widget.js",
        "/healthz",
        "/api/v1/openapi.json",
        "/api/v1/users",
        "/api/v1/no-such-thing",
        "/metrics",
    ] {
        let h = headers_of(&rig, path).await;
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{path}"
        );
    }
}
