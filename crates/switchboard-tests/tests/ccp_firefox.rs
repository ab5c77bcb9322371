//! The CCP's softphone in Firefox, beside the Chromium test (ccp.rs):
//! Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core
//! (tests/browser/ccp-firefox.mjs), with its stock network settings. Firefox
//! ignores loopback ICE candidates, so this is also the test that the
//! softphone offers a browser on the same machine an address it reaches
//! (the README's demo). Sign-in, the audio check, accept, two-way audio
//! checked from the recording, hold, a reload mid-call, end.
//!
//! Needs `node`, `/usr/bin/firefox-esr`, `tests/browser/node_modules` and
//! `sipp`; under CI their absence fails (scripts/test installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::browser::{check_recording, firefox_ready, root, Browser};
use common::*;
use serde_json::json;

const AGENT: &str = "fay";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_call_in_firefox() {
    if !sipp_ready() || !firefox_ready() {
        return;
    }
    let started = std::time::Instant::now();
    // Generous offer and reload grace: nothing here tests a miss or a
    // departure, and a busy machine must not turn them into one.
    let rig = Rig::offering(Duration::from_secs(60), |c| {
        c.ccp_grace = Duration::from_secs(60)
    })
    .await;
    rig.centre_for(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
        json!({"phone_type": "SOFT_PHONE", "after_contact_work_timeout_seconds": 0}),
        (AGENT, "Fay", "Ng"),
    )
    .await;
    // The agent starts Offline: the CCP's audio check comes first.
    let token = rig.login(AGENT, AGENT_PASSWORD).await;
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Offline"})),
        Some(&token),
    )
    .await;

    // Firefox ignores loopback candidates: on a machine with no other
    // address the softphone cannot offer one, so only there is Firefox told
    // to accept loopback (and the test says so).
    let machine_has_other_address =
        switchboard_voice::softphone::browser_candidates("127.0.0.1".parse().unwrap())
            .iter()
            .any(|ip| !ip.is_loopback());
    if !machine_has_other_address {
        println!("this machine has only loopback: Firefox is allowed loopback candidates");
    }
    let artifacts = root().join("artifacts/ccp-firefox");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(
        "ccp-firefox.mjs",
        &[
            ("CCP_URL", rig.origin.clone()),
            ("CCP_USER", AGENT.to_string()),
            ("CCP_PASSWORD", AGENT_PASSWORD.to_string()),
            ("CCP_ARTIFACTS", artifacts.display().to_string()),
            (
                "ICE_LOOPBACK",
                if machine_has_other_address { "" } else { "1" }.to_string(),
            ),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(browser.step().await, "READY");
    assert_eq!(rig.agent_state_of(AGENT).await, "Available");
    let args = caller_args(&rig, &talking_caller());
    let caller = tokio::spawn(async move { sipp_within(&args, 120).await });
    assert_eq!(browser.step().await, "CONNECTED");
    assert_eq!(browser.step().await, "RELOADED");
    let reloaded_at = chrono::Utc::now();
    assert_eq!(browser.step().await, "ENDED");
    let (code, out) = caller.await.unwrap();
    assert_eq!(code, 0, "caller: {out}");
    browser.finish().await;

    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], AGENT, "{record:#}");
    assert_eq!(record["disconnect_reason"], "AGENT_DISCONNECT");
    assert_eq!(record["agent"]["hold_count"], 1, "{record:#}");
    let hold = record["agent"]["hold_duration_seconds"].as_f64().unwrap();
    assert!((1.5..20.0).contains(&hold), "hold {hold}");
    assert_eq!(record["recording"]["status"], "AVAILABLE");
    let agent_leg = &record["quality"]["agent"];
    assert!(
        agent_leg["packets_received"].as_u64().unwrap() > 100,
        "{agent_leg}"
    );

    // Audio both ways, from the recording, from the accept on and after the reload.
    check_recording(&rig, &record, reloaded_at, "Firefox").await;
    println!(
        "Firefox CCP test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
