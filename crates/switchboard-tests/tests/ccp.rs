//! The CCP in a real browser: headless Chromium (Debian's, driven by
//! playwright-core from tests/browser) signs an agent in, checks the audio
//! path, and takes SIPp callers through the WebRTC softphone: accept, hold,
//! resume, a page reload mid-call, hang-up, after-contact work, a missed
//! offer that comes back, and an agent who vanishes while a call is offered.
//! The browser script prints `STEP <name>` lines; this side places the calls
//! and checks the records. Screenshots land in `artifacts/ccp/`.
//!
//! Needs `node`, `/usr/bin/chromium`, `tests/browser/node_modules` and
//! `sipp`; under CI their absence fails (.ci/run installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::browser::{browser_ready, check_recording, root, Browser};
use common::*;
use serde_json::{json, Value};

const AGENT: &str = "ana";

async fn ended_for(rig: &Rig, n: usize) -> Vec<Value> {
    let mut ended = rig.ended(n).await;
    ended.sort_by(|a, b| {
        a["initiation_timestamp"]
            .as_str()
            .cmp(&b["initiation_timestamp"].as_str())
    });
    ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_calls_in_the_browser_softphone() {
    if !sipp_ready() || !browser_ready() {
        return;
    }
    // The grace covers the reload mid-call on a busy machine; step 4 waits it out.
    let rig = Rig::configured(|c| c.ccp_grace = Duration::from_secs(10)).await;
    let carrier_port = free_port();
    rig.centre_for(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"], "outbound_proxy": format!("127.0.0.1:{carrier_port}")}),
        json!({"phone_type": "SOFT_PHONE", "after_contact_work_timeout_seconds": 0}),
        (AGENT, "Ana", "Lima"),
    )
    .await;
    rig.call(
        "POST",
        "/quick-connects",
                Some(json!({"name": "Support line", "target": {"type": "PHONE_NUMBER", "phone_number": "+447911123456"}})),
        None,
    )
    .await;
    rig.call(
        "POST",
        "/quick-connects",
        Some(json!({"name": "Back to the queue", "target": {"type": "QUEUE", "queue": "BasicQueue"}})),
        None,
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

    let artifacts = root().join("artifacts/ccp");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(
        "ccp.mjs",
        &[
            ("CCP_URL", rig.origin.clone()),
            ("CCP_USER", AGENT.to_string()),
            ("CCP_PASSWORD", AGENT_PASSWORD.to_string()),
            ("CCP_ARTIFACTS", artifacts.display().to_string()),
        ],
        Duration::from_secs(90),
    );
    let caller = talking_caller();

    // 1. Accept, hold, resume, reload mid-call, transfer back to the queue,
    // after-contact work, take the caller again, hang up.
    assert_eq!(browser.step().await, "READY");
    assert_eq!(rig.agent_state_of(AGENT).await, "Available");
    let args = caller_args(&rig, &caller);
    let first = tokio::spawn(async move { sipp_within(&args, 90).await });
    assert_eq!(browser.step().await, "CONNECTED");
    assert_eq!(browser.step().await, "RELOADED");
    let reloaded_at = chrono::Utc::now();
    assert_eq!(browser.step().await, "NEXT");
    let (code, out) = first.await.unwrap();
    assert_eq!(code, 0, "first caller: {out}");
    // The first contact ended with the transfer to the queue; the caller
    // went on as a second contact, which the agent took again.
    let ended = ended_for(&rig, 2).await;
    let (record, again) = (ended[0].clone(), ended[1].clone());
    assert_eq!(record["next_contact_id"], again["id"], "{record:#}");
    assert_eq!(again["previous_contact_id"], record["id"], "{again:#}");
    assert_eq!(again["initiation_method"], "TRANSFER");
    assert_eq!(again["agent"]["username"], AGENT);
    assert_eq!(again["queue"]["name"], "BasicQueue");
    assert_eq!(again["disconnect_reason"], "AGENT_DISCONNECT");
    assert_eq!(again["recording"]["status"], "AVAILABLE");
    // The browser leg's quality, from str0m's statistics: audio arrived, none lost on loopback.
    for r in [&record, &again] {
        let agent_leg = &r["quality"]["agent"];
        assert!(
            agent_leg["packets_received"].as_u64().unwrap() > 100,
            "{agent_leg}"
        );
        assert_eq!(agent_leg["packets_lost"], 0, "{agent_leg}");
        assert!(
            agent_leg["jitter_ms"].as_f64().unwrap() < 60.0,
            "{agent_leg}"
        );
    }
    assert_eq!(record["agent"]["username"], AGENT, "{record:#}");
    assert_eq!(record["disconnect_reason"], "AGENT_DISCONNECT");
    assert_eq!(record["agent"]["hold_count"], 1);
    let hold = record["agent"]["hold_duration_seconds"].as_f64().unwrap();
    // The page holds for 2 s; the upper bound allows a busy machine.
    assert!((1.5..20.0).contains(&hold), "hold {hold}");
    assert_eq!(record["queue"]["name"], "BasicQueue");
    assert_eq!(record["recording"]["status"], "AVAILABLE");
    let id = record["id"].as_str().unwrap().to_string();
    // The after-contact work the agent closed in the CCP, recorded when it ended.
    let acw = rig.with_after_contact_work(&id).await["agent"]
        ["after_contact_work_duration_seconds"]
        .as_f64();
    assert!(acw.is_some_and(|s| s > 0.0), "after-contact work: {acw:?}");

    // Audio both ways, from the recording, from the accept on and after the reload.
    check_recording(&rig, &record, reloaded_at, "Chromium").await;

    // 2. Missed, then offered again, answered, and transferred to the
    // "Support line" quick connect: a third party on the carrier who talks
    // for 2 s and hangs up.
    let mut third = common(&rig, "agent_hangs_up.xml", "third", "127.0.0.1");
    third[8] = carrier_port.to_string();
    third.extend(["-d", "2000"].map(String::from));
    let third = sipp_listening(third, 80).await;
    let args = caller_args(&rig, &caller);
    let second = tokio::spawn(async move { sipp_within(&args, 90).await });
    assert_eq!(browser.step().await, "DONE");
    let (code, out) = second.await.unwrap();
    assert_eq!(code, 0, "second caller: {out}");
    let (code, out) = third.await.unwrap();
    assert_eq!(code, 0, "third party: {out}");
    let record = ended_for(&rig, 3).await.remove(2);
    assert_eq!(record["agent"]["username"], AGENT, "{record:#}");
    assert_eq!(
        record["transferred_to_endpoint"]["address"],
        "+447911123456"
    );
    assert_eq!(record["disconnect_reason"], "THIRD_PARTY_DISCONNECT");
    assert!(record["agent"]["talk_duration_seconds"].as_f64().unwrap() > 1.0);

    // 3. The agent calls out from the dial pad, through the trunk; the
    // customer answers, talks 3 s and hangs up.
    let mut customer = common(&rig, "agent_hangs_up.xml", "customer", "127.0.0.1");
    customer[8] = carrier_port.to_string();
    customer.extend(["-d", "3000"].map(String::from));
    let customer = sipp_listening(customer, 60).await;
    browser.tell("DIAL").await;
    assert_eq!(browser.step().await, "DIALED");
    let (code, out) = customer.await.unwrap();
    assert_eq!(code, 0, "called customer: {out}");
    let record = ended_for(&rig, 4).await.remove(3);
    assert_eq!(record["initiation_method"], "OUTBOUND", "{record:#}");
    assert_eq!(record["customer_endpoint"]["address"], "+447911123457");
    assert_eq!(record["agent"]["username"], AGENT);
    assert_eq!(record["queue"]["name"], "BasicQueue");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(record["recording"]["status"], "AVAILABLE");

    // 4. The agent's browser vanishes while a call is offered: after the
    // grace period the agent is Offline and the caller waits in the queue.
    let args = caller_args(&rig, &caller);
    let third = tokio::spawn(async move { sipp_within(&args, 60).await });
    assert_eq!(browser.step().await, "GONE");
    browser.finish().await;
    assert_eq!(
        rig.wait_agent_state(AGENT, "Offline").await,
        "Offline",
        "the vanished agent is still routable"
    );
    let waiting = rig.call("GET", "/routing/queues", None, None).await;
    let queued: u64 = waiting["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["waiting"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        queued, 1,
        "the offered caller went back to the queue: {waiting}"
    );
    third.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_g722_caller_and_a_browser_agent_hear_each_others_upper_band() {
    if !browser_ready() || !common::baresip::baresip_ready() {
        return;
    }
    use common::baresip::{Baresip, PhoneSetup};
    let rig = Rig::new().await;
    rig.centre_full(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
        json!({"phone_type": "SOFT_PHONE", "after_contact_work_timeout_seconds": 0}),
        (AGENT, "Ana", "Lima"),
        recorded_queue_flow(),
    )
    .await;
    // Both sides speak above 4 kHz, which G.711 cannot carry: the caller a
    // 6 kHz tone in G.722, the agent's microphone 5 kHz beeps (beeps, so
    // the browser's noise suppression takes them for speech) in Opus.
    let (caller_hz, agent_hz) = (6_000.0, 5_000.0);
    let folder = tempfile::tempdir().unwrap();
    let microphone = folder.path().join("beeps.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(&microphone, spec).unwrap();
    for i in 0..48_000 * 20 {
        let on = (i / 9_600) % 2 == 0;
        let t = f64::from(i) / 48_000.0;
        let s = if on {
            8_000.0 * (2.0 * std::f64::consts::PI * agent_hz * t).sin()
        } else {
            0.0
        };
        wav.write_sample(s as i16).unwrap();
    }
    wav.finalize().unwrap();
    let mut browser = Browser::start(
        "ccp-wideband.mjs",
        &[
            ("CCP_URL", rig.origin.clone()),
            ("CCP_USER", AGENT.to_string()),
            ("CCP_PASSWORD", AGENT_PASSWORD.to_string()),
            ("CCP_MICROPHONE", microphone.display().to_string()),
        ],
        Duration::from_secs(90),
    );
    assert_eq!(browser.step().await, "READY");
    let caller = Baresip::start(
        "wide-browser-caller",
        PhoneSetup::caller(&["g722"], caller_hz as u32),
    )
    .await;
    caller
        .command("dial", &format!("sip:{NUMBER}@{}", rig.sip()))
        .await;
    assert_eq!(browser.step().await, "CONNECTED");
    // Four seconds of the agent reach the caller (16 kHz), then it hangs up.
    let from = caller.heard_bytes();
    until("four seconds heard by the caller", DEADLINE, || async {
        let bytes = caller.heard_bytes();
        match bytes >= from + 4 * 16_000 * 2 {
            true => Ok(()),
            false => Err(bytes),
        }
    })
    .await;
    caller.command("hangup", "").await;
    assert_eq!(browser.step().await, "DONE");
    browser.finish().await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], AGENT, "{record:#}");
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (rate, customer, agent) = channels_at(&wav);
    assert_eq!(rate, 16_000, "both sides wideband: a 16 kHz recording");
    let (left, right) = (
        best_tone_share(&customer, rate, caller_hz),
        best_tone_share(&agent, rate, agent_hz),
    );
    let (rate, heard) = caller.heard_at();
    let heard = best_tone_share(&heard, rate, agent_hz);
    println!(
        "wideband browser call: recording customer {left:.2} at {caller_hz} Hz, agent {right:.2} \
         at {agent_hz} Hz; the caller heard {heard:.2} at {agent_hz} Hz"
    );
    // The browser's beeps come through its audio processing and Opus at
    // 24 kbit/s, so less pure than a tone (about 0.6 here); through G.711
    // they would be gone (near 0).
    assert!(
        left > 0.5 && right > 0.3,
        "customer {left:.2}, agent {right:.2}"
    );
    assert!(
        heard > 0.3,
        "the caller heard the agent's beeps at {heard:.2}"
    );
}
