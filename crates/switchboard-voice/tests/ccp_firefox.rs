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

mod common;

use std::time::Duration;

use common::browser::{root, Browser};
use common::*;
use serde_json::json;

const AGENT: &str = "fay";

/// Whether node, Firefox and puppeteer-core are here; under CI their absence
/// is a failure, elsewhere the test skips.
fn firefox_ready() -> bool {
    let ok = std::path::Path::new("/usr/bin/firefox-esr").exists()
        && root()
            .join("tests/browser/node_modules/puppeteer-core")
            .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("the Firefox test needs node, /usr/bin/firefox-esr and tests/browser/node_modules (scripts/test installs them)");
    }
    ok
}

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

    // Audio both ways, from the recording: the caller's tone on the left,
    // Firefox's fake microphone on the right, from the accept on and after
    // the reload too.
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (customer, agent) = channels(&wav);
    let (customer_rms, agent_rms) = (rms(&customer), rms(&agent));
    println!(
        "Firefox recording: {} s, customer RMS {customer_rms:.0}, agent RMS {agent_rms:.0}",
        customer.len() / 8000
    );
    assert!(
        customer_rms > 1000.0,
        "the caller was not heard: {customer_rms}"
    );
    assert!(agent_rms > 100.0, "the agent was not heard: {agent_rms}");
    let first_heard = first_heard_seconds(&agent, 100.0);
    println!("Firefox: accept to the agent's first audio in the recording: {first_heard:?} s");
    assert!(
        first_heard.is_some_and(|s| s < 1.0),
        "the agent's first words were cut: first heard at {first_heard:?} s"
    );
    let ended_at: chrono::DateTime<chrono::Utc> = record["disconnect_timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after_reload = (ended_at - reloaded_at).num_milliseconds().max(0) as usize * 8;
    let tail = &agent[agent.len().saturating_sub(after_reload)..];
    assert!(tail.len() >= 8000, "too little audio after the reload");
    assert!(
        rms(tail) > 100.0,
        "the agent was not heard after the reload: {}",
        rms(tail)
    );
    println!(
        "Firefox CCP test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
