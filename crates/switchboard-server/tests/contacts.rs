//! Contact records over the API: written by the channels through the
//! store, read, filtered and their recordings fetched (and audited) here.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use common::*;
use switchboard_model::contact_record::{AgentInfo, Endpoint, QueueInfo, RecordingInfo};
use switchboard_model::ContactRecord;

fn record(id: &str, minute: u32, agent: Option<&str>, queue: Option<&str>) -> ContactRecord {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 9, minute, 0).unwrap();
    ContactRecord {
        id: id.into(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
        initiation_timestamp: start,
        disconnect_timestamp: Some(start + Duration::minutes(3)),
        disconnect_reason: Some(
            switchboard_model::contact_record::DisconnectReason::CustomerDisconnect,
        ),
        customer_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: "+447911123456".into(),
        },
        system_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: "+442079460123".into(),
        },
        queue: queue.map(|q| QueueInfo {
            id: q.into(),
            name: q.into(),
            enqueue_timestamp: start,
            ..Default::default()
        }),
        agent: agent.map(|a| AgentInfo {
            id: a.into(),
            username: a.into(),
            connected_to_agent_timestamp: start,
            ..Default::default()
        }),
        state: switchboard_model::contact_record::ContactState::Ended,
        ..Default::default()
    }
}

#[tokio::test]
async fn contact_records_are_listed_filtered_and_read() {
    for app in apps().await {
        let b = app.backend;
        // Written twice, as a call does at each change: the last version wins.
        let mut first = record("c1", 0, None, Some("q-sales"));
        first.state = switchboard_model::contact_record::ContactState::Queued;
        app.store.put_contact(&first).await.unwrap();
        app.store
            .put_contact(&record("c1", 0, Some("a-1"), Some("q-sales")))
            .await
            .unwrap();
        app.store
            .put_contact(&record("c2", 10, Some("a-2"), Some("q-support")))
            .await
            .unwrap();
        app.store
            .put_contact(&record("c3", 20, None, None))
            .await
            .unwrap();

        let all = app.get("/api/v1/contacts", &app.admin).await;
        assert_eq!(all.status, StatusCode::OK, "{b}: {}", all.body);
        let ids: Vec<&str> = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["c3", "c2", "c1"], "{b}: newest first");

        let one = app.get("/api/v1/contacts/c1", &app.admin).await;
        assert_eq!(one.body["state"], "ENDED", "{b}");
        assert_eq!(one.body["agent"]["id"], "a-1", "{b}");

        let by_agent = app.get("/api/v1/contacts?agent_id=a-2", &app.admin).await;
        assert_eq!(by_agent.body["items"].as_array().unwrap().len(), 1, "{b}");
        let by_queue = app
            .get("/api/v1/contacts?queue_id=q-sales", &app.admin)
            .await;
        assert_eq!(by_queue.body["items"][0]["id"], "c1", "{b}");
        let window = app
            .get(
                "/api/v1/contacts?from=2026-11-02T09:05:00Z&to=2026-11-02T09:15:00Z",
                &app.admin,
            )
            .await;
        assert_eq!(
            window.body["items"].as_array().unwrap().len(),
            1,
            "{b}: {}",
            window.body
        );
        assert_eq!(window.body["items"][0]["id"], "c2", "{b}");

        let bad = app.get("/api/v1/contacts?limit=0", &app.admin).await;
        assert_eq!(
            (bad.status, bad.field()),
            (StatusCode::BAD_REQUEST, "limit"),
            "{b}"
        );
        let bad = app.get("/api/v1/contacts?from=yesterday", &app.admin).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{b}: {}", bad.body);
        let missing = app.get("/api/v1/contacts/nope", &app.admin).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{b}");

        // Agents cannot search contacts.
        let agent = app.user_with("agent1", "Agent").await;
        let denied = app.get("/api/v1/contacts", &agent).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{b}");
        assert_eq!(
            denied.body["missing_permission"], "ContactSearch.View",
            "{b}"
        );
    }
}

#[tokio::test]
async fn recordings_are_served_to_listeners_and_every_download_is_audited() {
    for app in apps().await {
        let b = app.backend;
        let mut with_recording = record("c9", 30, Some("a-1"), Some("q-sales"));
        let wav = wav(8000, 0.5);
        app.blobs
            .put("recordings/2026/11/02/c9.wav", wav.clone().into())
            .await
            .unwrap();
        with_recording.recording = Some(RecordingInfo {
            location: "recordings/2026/11/02/c9.wav".into(),
            duration_seconds: 0.5,
            status: "AVAILABLE".into(),
            status_reason: None,
        });
        app.store.put_contact(&with_recording).await.unwrap();
        app.store
            .put_contact(&record("c8", 31, None, None))
            .await
            .unwrap();

        let got = app.get("/api/v1/contacts/c9/recording", &app.admin).await;
        assert_eq!(got.status, StatusCode::OK, "{b}");
        assert_eq!(got.bytes, wav, "{b}");
        let none = app.get("/api/v1/contacts/c8/recording", &app.admin).await;
        assert_eq!(none.status, StatusCode::NOT_FOUND, "{b}: {}", none.body);

        // A quality analyst may listen; an agent may not.
        let analyst = app.user_with("qa1", "QualityAnalyst").await;
        assert_eq!(
            app.get("/api/v1/contacts/c9/recording", &analyst)
                .await
                .status,
            StatusCode::OK,
            "{b}"
        );
        let agent = app.user_with("agent2", "Agent").await;
        assert_eq!(
            app.get("/api/v1/contacts/c9/recording", &agent)
                .await
                .status,
            StatusCode::FORBIDDEN,
            "{b}"
        );

        // A chat's transcript is a recorded conversation too: contact
        // search alone shows the record but not the words.
        let mut chat = record("c10", 32, Some("a-1"), Some("q-sales"));
        chat.channel = switchboard_model::contact_record::Channel::Chat;
        let words = br#"{"ContactId":"c10","Transcript":[]}"#.to_vec();
        app.blobs
            .put("transcripts/c10.json", words.clone().into())
            .await
            .unwrap();
        chat.transcript = Some(switchboard_model::contact_record::TranscriptInfo {
            location: "transcripts/c10.json".into(),
            message_count: 0,
            status: "AVAILABLE".into(),
            status_reason: None,
        });
        app.store.put_contact(&chat).await.unwrap();
        let searcher_profile = app
            .post(
                "/api/v1/security-profiles",
                &app.admin,
                serde_json::json!({"name": "Searchers", "permissions": ["ContactSearch.View"]}),
            )
            .await;
        assert_eq!(
            searcher_profile.status,
            StatusCode::CREATED,
            "{}",
            searcher_profile.body
        );
        let searcher = app.user_with("searcher", "Searchers").await;
        assert_eq!(
            app.get("/api/v1/contacts/c10", &searcher).await.status,
            StatusCode::OK
        );
        let refused = app.get("/api/v1/contacts/c10/transcript", &searcher).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{b}");
        assert!(
            refused.body.to_string().contains("ListenCallRecordings"),
            "{b}: {}",
            refused.body
        );
        let read = app.get("/api/v1/contacts/c10/transcript", &analyst).await;
        assert_eq!(read.status, StatusCode::OK, "{b}: {}", read.body);
        assert_eq!(read.bytes, words);
        let audit = app.get("/api/v1/audit-log?object_id=c10", &app.admin).await;
        assert_eq!(
            audit.body["items"][0]["action"], "transcript_view",
            "{b}: {}",
            audit.body
        );

        let audit = app.get("/api/v1/audit-log?object_id=c9", &app.admin).await;
        let actions: Vec<(&str, &str)> = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap(),
                    e["actor_name"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(actions.len(), 2, "{b}: {}", audit.body);
        assert!(
            actions.iter().all(|(a, _)| *a == "recording_download"),
            "{b}: {actions:?}"
        );
    }
}

#[tokio::test]
async fn contact_search_filters_on_every_field_pages_and_exports_csv() {
    for app in apps().await {
        let admin = &app.admin;
        let mut out = record("out", 10, Some("ann"), None);
        out.initiation_method = switchboard_model::contact_record::InitiationMethod::Outbound;
        out.customer_endpoint.address = "+14155550100".into();
        out.disconnect_reason =
            Some(switchboard_model::contact_record::DisconnectReason::AgentDisconnect);
        let mut chat = record("chat", 20, Some("ann"), Some("Sales"));
        chat.channel = switchboard_model::contact_record::Channel::Chat;
        chat.initiation_method = switchboard_model::contact_record::InitiationMethod::Api;
        chat.attributes.insert("plan".into(), "gold".into());
        let mut other = record("other", 30, None, Some("Sales"));
        other.attributes.insert("plan".into(), "golden".into());
        let mut inbound = record("in", 0, Some("bob"), Some("Sales"));
        if let Some(a) = inbound.agent.as_mut() {
            a.after_contact_work_start_timestamp = inbound.disconnect_timestamp;
            a.after_contact_work_end_timestamp = inbound
                .disconnect_timestamp
                .map(|t| t + Duration::minutes(1));
        }
        for r in [inbound, out, chat, other] {
            app.store.put_contact(&r).await.unwrap();
        }
        app.store
            .set_contact_search_text("chat", "Hello, my ORDER 100% went missing")
            .await
            .unwrap();
        let ids = |r: &Reply| -> Vec<String> {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect()
        };
        let app = &app;
        let get = |q: &str| {
            let path = format!("/api/v1/contacts?{q}");
            async move { app.get(&path, admin).await }
        };
        assert_eq!(ids(&get("channel=chat").await), ["chat"]);
        assert_eq!(ids(&get("initiation_method=OUTBOUND").await), ["out"]);
        assert_eq!(
            ids(&get("disconnect_reason=AGENT_DISCONNECT").await),
            ["out"]
        );
        assert_eq!(ids(&get("number=%2B14155550100").await), ["out"]);
        assert_eq!(ids(&get("number=%2B442079460123").await).len(), 4);
        // Exact attribute values (not "golden" for gold).
        assert_eq!(ids(&get("attribute=plan:gold").await), ["chat"]);
        // Transcript words, any case; % is a character, not a wildcard.
        assert_eq!(ids(&get("text=order%20100%25").await), ["chat"]);
        assert!(ids(&get("text=order%201000").await).is_empty());
        // By disconnect time: 9:33 onwards catches only the last.
        let r = get("time=disconnected&from=2026-11-02T09:33:00Z").await;
        assert_eq!(ids(&r), ["other"]);
        // Any other timestamp: only contacts that reached it, newest first by it.
        let r = get("time=enqueued&from=2026-11-02T09:20:00Z").await;
        assert_eq!(ids(&r), ["other", "chat"]);
        let r = get("time=connected_to_agent&to=2026-11-02T09:15:00Z").await;
        assert_eq!(ids(&r), ["out", "in"]);
        let r = get("time=after_contact_work_end&from=2026-11-02T09:04:00Z").await;
        assert_eq!(ids(&r), ["in"]);
        assert!(
            ids(&get("time=after_contact_work_start&from=2026-11-02T09:04:00Z").await).is_empty()
        );
        assert_eq!(ids(&get("time=dequeued").await).len(), 0);
        assert_eq!(ids(&get("time=connected_to_system").await).len(), 0);
        // Paging follows the chosen timestamp.
        let first = get("time=connected_to_agent&limit=1").await;
        assert_eq!(ids(&first), ["chat"]);
        let cursor = first.body["next"].as_str().unwrap().to_string();
        let rest = get(&format!("time=connected_to_agent&limit=5&cursor={cursor}")).await;
        assert_eq!(ids(&rest), ["out", "in"]);
        // Pages of two, newest first, then the rest.
        let first = get("limit=2").await;
        assert_eq!(ids(&first), ["other", "chat"]);
        let cursor = first.body["next"].as_str().unwrap().to_string();
        let second = get(&format!("limit=2&cursor={cursor}")).await;
        assert_eq!(ids(&second), ["out", "in"]);
        let cursor = second.body["next"].as_str().unwrap().to_string();
        let third = get(&format!("limit=2&cursor={cursor}")).await;
        assert!(ids(&third).is_empty() && third.body["next"].is_null());
        // CSV.
        let csv = get("format=csv&channel=VOICE").await;
        assert_eq!(csv.status, StatusCode::OK);
        let text = String::from_utf8(csv.bytes).unwrap();
        assert!(text.starts_with("id,channel,initiation_method,"), "{text}");
        assert_eq!(text.lines().count(), 4, "{text}");
        // With a limit, one page; without, every match.
        let csv = get("format=csv&limit=1").await;
        assert_eq!(String::from_utf8(csv.bytes).unwrap().lines().count(), 2);
        let csv = get("format=csv").await;
        assert_eq!(String::from_utf8(csv.bytes).unwrap().lines().count(), 5);
        // Bad input names the field.
        let bad = get("time=whenever").await;
        assert_eq!(bad.field(), "time");
        assert!(
            bad.body.to_string().contains("connected_to_agent"),
            "{}",
            bad.body
        );
        assert_eq!(get("attribute=plan").await.field(), "attribute");
        assert_eq!(get("cursor=nonsense").await.field(), "cursor");
        assert_eq!(get("format=xml").await.field(), "format");
    }
}

#[tokio::test]
async fn a_contacts_writer_keeps_the_newest_record_of_each_contact_and_its_words() {
    use switchboard_model::contact_record::{ContactState, DisconnectReason};
    use switchboard_runtime::records::RecordWriter;
    use switchboard_store::ContactQuery;
    for app in apps().await {
        let (writer, done) = RecordWriter::start(app.state.clone());
        let mut first = record("w-1", 1, None, Some("q"));
        writer.record(&first);
        first.state = ContactState::Queued;
        writer.record(&first);
        // A transfer: the next contact, then the first one ended.
        let next = ContactRecord {
            previous_contact_id: Some("w-1".into()),
            ..record("w-2", 2, None, Some("q"))
        };
        writer.record(&next);
        first.state = ContactState::Ended;
        first.next_contact_id = Some("w-2".into());
        first.disconnect_reason = Some(DisconnectReason::Transferred);
        writer.record(&first);
        writer.words("w-1", "refund please".into());
        drop(writer);
        done.await.unwrap();

        let stored = app.store.get_contact("w-1").await.unwrap().unwrap();
        assert_eq!(stored.state, ContactState::Ended, "{}", app.backend);
        assert_eq!(stored.next_contact_id.as_deref(), Some("w-2"));
        assert_eq!(
            stored.disconnect_reason,
            Some(DisconnectReason::Transferred)
        );
        let stored = app.store.get_contact("w-2").await.unwrap().unwrap();
        assert_eq!(stored.previous_contact_id.as_deref(), Some("w-1"));
        let found = app
            .store
            .search_contacts(&ContactQuery {
                text: Some("REFUND".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<_> = found.items.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["w-1"], "{}", app.backend);
    }
}
