//! The supervisors' reports in a real browser: headless Chromium (Debian's,
//! driven by playwright-core from tests/browser) signs in at `/reports` as
//! the admin. Live: the tiles, the queue table and the agent status board
//! show the router's state, and the board follows a status change made here
//! without a reload. Historical: the rows computed from stored contact
//! records and agent state changes, the chart, a field error and the CSV.
//! Usage: the total, the unpriced items and the CSV. Contacts: a chat's
//! transcript (markup stays text) and a call's recording, fetched with the
//! token. The browser script (tests/browser/reports.mjs) prints
//! `STEP <name>` lines; screenshots land in `artifacts/reports/`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules`; under
//! CI their absence fails (.ci/run installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use common::browser::{browser_ready, root, Browser};
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_model::contact_record::{
    AgentInfo, Endpoint, QueueInfo, RecordingInfo, TranscriptInfo,
};
use switchboard_model::ContactRecord;
use tokio_tungstenite::tungstenite::Message;

const GB_NUMBER: &str = "+442079460777";
/// A number the default rate card has no price for (its days and minutes are unrated).
const US_NUMBER: &str = "+12025550123";
const CHAT_FLOW: &str = "Support chat";
const CHAT_CONTACT: &str = "chat-2";
const VOICE_CONTACT: &str = "voice-4";
const IMG: &str = r#"<img src=x onerror="window.__pwned=1">"#;

/// Queues each chat for Support.
fn chat_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "to-support", "Actions": [
        {"Identifier": "to-support", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Support"},
         "Transitions": {"NextAction": "queue", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "queue", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "bye"},
                                                         {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

/// Ids of what the centre is made of.
struct Centre {
    sales: String,
    ana: String,
    ben: String,
    ben_token: String,
}

/// Sales (chat agents Ana and Ben) and Support (Dan, who takes one chat at
/// a time and accepts it at once); Cleo never signs in. Ana is Available,
/// Ben at Lunch; Dan is on one chat from Support and a second one waits.
async fn centre(rig: &Rig) -> Centre {
    let mut queues = Vec::new();
    for name in ["Sales", "Support"] {
        let q = rig
            .call(
                "POST",
                "/queues",
                Some(json!({"name": name, "hours_of_operation": "Basic Hours"})),
                None,
            )
            .await;
        queues.push(q["id"].as_str().unwrap().to_string());
    }
    for (name, queue) in [("Chat agents", "Sales"), ("Support desk", "Support")] {
        let concurrency = if queue == "Sales" { 2 } else { 1 };
        rig.call(
            "POST",
            "/routing-profiles",
            Some(json!({"name": name,
                "media_concurrencies": [{"channel": "CHAT", "concurrency": concurrency}],
                "queue_configs": [{"queue": queue, "channel": "CHAT", "priority": 1}],
                "default_outbound_queue": queue})),
            None,
        )
        .await;
    }
    rig.call(
        "POST",
        "/agent-statuses",
        Some(json!({"name": "Lunch", "type": "CUSTOM"})),
        None,
    )
    .await;
    let mut ids = Vec::new();
    for (username, first, profile, auto_accept) in [
        ("ana", "Ana", "Chat agents", false),
        ("ben", "Ben", "Chat agents", false),
        ("cleo", "Cleo", "Basic Routing Profile", false),
        ("dan", "Dan", "Support desk", true),
    ] {
        let user = rig
            .call(
                "POST",
                "/users",
                Some(json!({
                    "username": username, "first_name": first, "last_name": "Agent", "password": AGENT_PASSWORD,
                    "security_profiles": ["Agent"], "routing_profile": profile,
                    "phone_config": {"phone_type": "SOFT_PHONE", "auto_accept": auto_accept,
                                     "after_contact_work_timeout_seconds": 0}
                })),
                None,
            )
            .await;
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    for number in [GB_NUMBER, US_NUMBER] {
        rig.call(
            "POST",
            "/phone-numbers",
            Some(json!({"number": number})),
            None,
        )
        .await;
    }
    let flow = rig
        .call(
            "POST",
            "/flows",
            Some(json!({"name": CHAT_FLOW, "type": "CONTACT_FLOW", "content": chat_flow()})),
            None,
        )
        .await;
    let id = flow["id"].as_str().unwrap();
    rig.call("POST", &format!("/flows/{id}/publish"), None, None)
        .await;

    let mut tokens = Vec::new();
    for (username, status) in [("ana", "Available"), ("ben", "Lunch"), ("dan", "Available")] {
        let token = rig.login(username, AGENT_PASSWORD).await;
        if username == "dan" {
            // Chats are offered only to agents whose CCP is open.
            open_ccp(rig, &token).await;
        }
        rig.call(
            "PUT",
            "/me/status",
            Some(json!({"status": status})),
            Some(&token),
        )
        .await;
        tokens.push(token);
    }
    // Two customers write to Support: Dan takes the first, the second waits.
    for customer in ["Grace", "Ada"] {
        let r = rig
            .http
            .post(format!("{}/chat/start", rig.base))
            .json(&json!({"flow": CHAT_FLOW, "display_name": customer,
                          "initial_message": {"content": "Hello, is anyone there?"}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "start a chat: {}", r.status());
        assert_eq!(rig.wait_agent_state("dan", "OnContact").await, "OnContact");
    }
    until("one chat waiting for Support", DEADLINE, || async {
        let waiting = rig.call("GET", "/routing/queues", None, None).await;
        let support = waiting["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["name"] == "Support" && q["waiting"] == 1);
        if support {
            Ok(())
        } else {
            Err(waiting)
        }
    })
    .await;
    Centre {
        sales: queues[0].clone(),
        ana: ids[0].clone(),
        ben: ids[1].clone(),
        ben_token: tokens[1].clone(),
    }
}

/// Keeps a CCP open for the agent signed in with `token` (as their page
/// would: hello, then a ping every few seconds) for the rest of the test.
async fn open_ccp(rig: &Rig, token: &str) {
    let url = format!("{}/ccp/ws", rig.origin.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = json!({"type": "hello", "token": token}).to_string();
    socket.send(Message::Text(hello.into())).await.unwrap();
    loop {
        let message = tokio::time::timeout(DEADLINE, socket.next())
            .await
            .expect("the CCP's welcome")
            .expect("the CCP socket open")
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "welcome" {
                break;
            }
            assert_ne!(value["type"], "error", "the CCP refused: {value}");
        }
    }
    tokio::spawn(async move {
        let mut ping = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = ping.tick() => {
                    if socket.send(Message::Text(r#"{"type":"ping"}"#.into())).await.is_err() {
                        break;
                    }
                }
                incoming = socket.next() => if incoming.is_none() { break },
            }
        }
    });
}

/// One second of stereo silence at 8 kHz (the recordings' format).
fn silent_wav() -> Vec<u8> {
    let (rate, channels, bits) = (8000u32, 2u16, 16u16);
    let data = vec![0u8; (rate * u32::from(channels) * u32::from(bits / 8)) as usize];
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&channels.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * u32::from(channels) * u32::from(bits / 8)).to_le_bytes());
    wav.extend_from_slice(&(channels * bits / 8).to_le_bytes());
    wav.extend_from_slice(&bits.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

/// What happened in the two hours before this one (`hour` is their start):
///
/// | contact | queued | waited | agent | talk + ACW | ended | billed |
/// |---|---|---|---|---|---|---|
/// | voice-1 | +0 s | 10 s | ana | 230 + 20 s | +240 s | 4 min on the GB number |
/// | chat-2 | +200 s | 50 s | ana | 160 + 20 s | +410 s | 5 messages |
/// | voice-3 | +1000 s | abandoned after 60 s | | | +1060 s | 1 min on the GB number |
/// | voice-4 | +3700 s | 5 s | ben | 295 + 30 s | +4000 s | 5 min on the US number (unrated) |
///
/// Sales in the first hour: 3 queued, 2 handled, 1 abandoned, AHT 3:35,
/// ASA 0:30, abandon time 1:00, service level 33.3% (20 s) and 66.7%
/// (60 s); in the second: 1 handled, AHT 5:25, 100%. Ana's states give an
/// occupancy of 250 / (250 + 1550) s = 13.9%. The bill: $0.0232 + $0.02 +
/// $0.0058 + $0.009 + one day of the GB number ($0.03) = $0.088.
async fn history(rig: &Rig, c: &Centre, hour: DateTime<Utc>) {
    let at = |s: i64| hour + chrono::Duration::seconds(s);
    let endpoint = |address: &str| Endpoint {
        kind: "TELEPHONE_NUMBER".into(),
        address: address.into(),
    };
    let contact = |id: &str, channel: &str, start: i64, end: i64, ours: &str| ContactRecord {
        id: id.into(),
        channel: if channel == "CHAT" {
            switchboard_model::contact_record::Channel::Chat
        } else {
            switchboard_model::contact_record::Channel::Voice
        },
        initiation_method: if channel == "CHAT" {
            switchboard_model::contact_record::InitiationMethod::Api
        } else {
            switchboard_model::contact_record::InitiationMethod::Inbound
        },
        initiation_timestamp: at(start),
        connected_to_system_timestamp: Some(at(start)),
        disconnect_timestamp: Some(at(end)),
        disconnect_reason: Some(
            switchboard_model::contact_record::DisconnectReason::CustomerDisconnect,
        ),
        customer_endpoint: endpoint("+447700900123"),
        system_endpoint: endpoint(ours),
        queue: Some(QueueInfo {
            id: c.sales.clone(),
            name: "Sales".into(),
            enqueue_timestamp: at(start),
            dequeue_timestamp: Some(at(end.min(start + 60))),
            duration_seconds: None,
        }),
        state: switchboard_model::contact_record::ContactState::Ended,
        ..Default::default()
    };
    let answered = |mut r: ContactRecord, agent: (&str, &str), wait: i64, talk: f64, acw: f64| {
        let q = r.queue.as_mut().unwrap();
        q.dequeue_timestamp = Some(q.enqueue_timestamp + chrono::Duration::seconds(wait));
        q.duration_seconds = Some(wait as f64);
        r.agent = Some(AgentInfo {
            id: agent.0.into(),
            username: agent.1.into(),
            connected_to_agent_timestamp: q.dequeue_timestamp.unwrap(),
            talk_duration_seconds: talk,
            after_contact_work_duration_seconds: Some(acw),
            ..Default::default()
        });
        r
    };
    let ana = (c.ana.as_str(), "ana");
    let ben = (c.ben.as_str(), "ben");

    let voice1 = answered(
        contact("voice-1", "VOICE", 0, 240, GB_NUMBER),
        ana,
        10,
        230.0,
        20.0,
    );
    let mut chat2 = answered(
        contact(CHAT_CONTACT, "CHAT", 200, 410, ""),
        ana,
        50,
        160.0,
        20.0,
    );
    chat2.customer_endpoint = Endpoint::default();
    chat2.customer_name = Some("Grace".into());
    chat2.system_endpoint = Endpoint::default();
    chat2.disconnect_reason =
        Some(switchboard_model::contact_record::DisconnectReason::AgentDisconnect);
    chat2.attributes.insert("order".into(), "A-1042".into());
    let transcript_key = format!("transcripts/{CHAT_CONTACT}.json");
    chat2.transcript = Some(TranscriptInfo {
        location: transcript_key.clone(),
        message_count: 5,
        status: "AVAILABLE".into(),
        status_reason: None,
    });
    let mut voice3 = contact("voice-3", "VOICE", 1000, 1060, GB_NUMBER);
    voice3.queue.as_mut().unwrap().duration_seconds = Some(60.0);
    let mut voice4 = answered(
        contact(VOICE_CONTACT, "VOICE", 3700, 4000, US_NUMBER),
        ben,
        5,
        295.0,
        30.0,
    );
    let recording_key = format!("recordings/{VOICE_CONTACT}.wav");
    voice4.recording = Some(RecordingInfo {
        location: recording_key.clone(),
        duration_seconds: 1.0,
        status: "AVAILABLE".into(),
        status_reason: None,
    });
    voice4.disconnect_reason =
        Some(switchboard_model::contact_record::DisconnectReason::AgentDisconnect);
    for r in [&voice1, &chat2, &voice3, &voice4] {
        rig.app.store.put_contact(r).await.unwrap();
    }
    // The words search finds a chat by, as the chat shell indexes them at its end.
    rig.app
        .store
        .set_contact_search_text(
            CHAT_CONTACT,
            "Where is my order A-1042? Hi Grace, let me look. It ships tomorrow.",
        )
        .await
        .unwrap();

    let message = |n: u32, role: &str, name: &str, s: i64, text: &str| {
        json!({"Id": format!("m{n}"), "Type": "MESSAGE", "AbsoluteTime": at(s).to_rfc3339(),
               "ContentType": "text/plain", "Content": text, "ParticipantId": role.to_lowercase(),
               "DisplayName": name, "ParticipantRole": role})
    };
    let event = |n: u32, kind: &str, role: &str, name: &str, s: i64| {
        json!({"Id": format!("e{n}"), "Type": "EVENT", "AbsoluteTime": at(s).to_rfc3339(),
               "ContentType": format!("application/vnd.amazonaws.connect.event.{kind}"),
               "ParticipantId": role.to_lowercase(), "DisplayName": name, "ParticipantRole": role})
    };
    let transcript = json!({"Version": "2019-08-26", "ContactId": CHAT_CONTACT, "Transcript": [
        message(1, "CUSTOMER", "Grace", 200, "Where is my order A-1042?"),
        message(2, "SYSTEM", "SYSTEM_MESSAGE", 201, "Thank you for contacting us."),
        event(3, "participant.joined", "AGENT", "Ana", 250),
        message(4, "AGENT", "Ana", 255, "Hi Grace, let me look."),
        message(5, "CUSTOMER", "Grace", 260, IMG),
        message(6, "AGENT", "Ana", 300, "It ships tomorrow."),
        event(7, "chat.ended", "AGENT", "Ana", 410),
    ]});
    rig.app
        .blobs
        .put(&transcript_key, transcript.to_string().into_bytes().into())
        .await
        .unwrap();
    rig.app
        .blobs
        .put(&recording_key, silent_wav().into())
        .await
        .unwrap();

    for (state, s) in [
        ("Available", 0),
        ("OnContact", 10),
        ("AfterContactWork", 240),
        ("Available", 260),
        ("Offline", 1800),
    ] {
        rig.app
            .store
            .record_agent_state(&c.ana, state, at(s).timestamp_millis(), None)
            .await
            .unwrap();
    }
    for (state, s) in [("Available", 3600), ("OnContact", 3705), ("Offline", 4030)] {
        rig.app
            .store
            .record_agent_state(&c.ben, state, at(s).timestamp_millis(), None)
            .await
            .unwrap();
    }
}

/// Whether the audit log holds `action` on contact `id`.
async fn audited(rig: &Rig, id: &str, action: &str) -> bool {
    let log = rig
        .call("GET", &format!("/audit-log?object_id={id}"), None, None)
        .await;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == action)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_watches_live_and_reads_reports_in_the_browser() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    let c = centre(&rig).await;
    // The two hours before this one: live changes from now on fall outside them.
    let hour = Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap()
        - chrono::Duration::hours(2);
    history(&rig, &c, hour).await;

    let artifacts = root().join("artifacts/reports");
    let _ = std::fs::remove_dir_all(&artifacts);
    let minute = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let mut browser = Browser::start(
        "reports.mjs",
        &[
            ("REPORTS_URL", rig.origin.clone()),
            ("REPORTS_USER", "admin".to_string()),
            ("REPORTS_PASSWORD", ADMIN_PASSWORD.to_string()),
            ("REPORTS_ARTIFACTS", artifacts.display().to_string()),
            ("HIST_FROM", minute(hour).to_string()),
            (
                "HIST_TO",
                minute(hour + chrono::Duration::hours(2)).to_string(),
            ),
            ("USAGE_FROM", day(hour).to_string()),
            ("USAGE_TO", day(Utc::now()).to_string()),
            ("CHAT_CONTACT", CHAT_CONTACT.to_string()),
            ("VOICE_CONTACT", VOICE_CONTACT.to_string()),
        ],
        Duration::from_secs(60),
    );

    // The board shows Ben at Lunch: he comes back, and the page follows.
    assert_eq!(browser.step().await, "LIVE");
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Available"})),
        Some(&c.ben_token),
    )
    .await;
    assert_eq!(browser.step().await, "DONE");
    browser.finish().await;

    // The page fetched the transcript and the recording as the admin did.
    assert!(audited(&rig, CHAT_CONTACT, "transcript_view").await);
    assert!(audited(&rig, VOICE_CONTACT, "recording_download").await);
    for shot in [
        "live-dashboard",
        "historical",
        "usage",
        "contact-detail",
        "contact-search",
    ] {
        let found = std::fs::read_dir(&artifacts)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .ends_with(&format!("-{shot}.png"))
            });
        assert!(found, "no {shot} screenshot in {}", artifacts.display());
    }
}
