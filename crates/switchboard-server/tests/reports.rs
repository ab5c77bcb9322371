//! Reports over the API: usage and cost (Connect's UK rates by default),
//! historical metrics as JSON and CSV from stored records and agent state
//! changes, real-time counts from the router, and their errors.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::http::StatusCode;
use chrono::{Duration, DurationRound, Utc};
use common::*;
use serde_json::json;
use switchboard_model::contact_record::{AgentInfo, Endpoint, QueueInfo};
use switchboard_model::ContactRecord;

const NUMBER: &str = "+442079460777";

#[tokio::test]
async fn usage_prices_a_ten_minute_call_and_the_numbers_day() {
    for app in apps().await {
        let admin = &app.admin;
        let r = app
            .post("/api/v1/phone-numbers", admin, json!({"number": NUMBER}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let day = Utc::now().duration_trunc(Duration::days(1)).unwrap();
        let start = day + Duration::minutes(1);
        let call = ContactRecord {
            id: "ten-minutes".into(),
            channel: switchboard_model::contact_record::Channel::Voice,
            initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
            initiation_timestamp: start,
            connected_to_system_timestamp: Some(start),
            disconnect_timestamp: Some(start + Duration::minutes(10)),
            customer_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: "+447700900123".into(),
            },
            system_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: NUMBER.into(),
            },
            state: switchboard_model::contact_record::ContactState::Ended,
            ..Default::default()
        };
        app.store.put_contact(&call).await.unwrap();
        let cost = app.get("/api/v1/contacts/ten-minutes/cost", admin).await;
        assert_eq!(cost.status, StatusCode::OK, "{}", cost.body);
        let total = cost.body["cost"]["total"].as_f64().unwrap();
        assert!((total - 0.058).abs() < 1e-9, "{}", cost.body);
        assert_eq!(cost.body["currency"], "USD");

        let from = day.to_rfc3339();
        let to = (day + Duration::days(1)).to_rfc3339();
        let q = |extra: &str| {
            format!(
                "/api/v1/reports/usage?from={}&to={}{extra}",
                urlencode(&from),
                urlencode(&to)
            )
        };
        let bill = app.get(&q(""), admin).await;
        assert_eq!(bill.status, StatusCode::OK, "{}", bill.body);
        let total = bill.body["total"]["total"].as_f64().unwrap();
        // $0.058 for the call and $0.03 for the number's day.
        assert!((total - 0.088).abs() < 1e-9, "{}", bill.body);
        assert_eq!(bill.body["days"][0]["number_days"], 1);
        let csv = app.get(&q("&format=csv"), admin).await;
        let text = String::from_utf8(csv.bytes).unwrap();
        assert!(text.starts_with("date,contacts,voice_minutes"), "{text}");
        assert!(
            text.contains(",1,10.00,0,1,0.0180,0.0400,0.0000,0.0300,0.0880,USD"),
            "{text}"
        );

        // A number claimed and released today is still billed for today,
        // and not for tomorrow.
        let spare = app
            .post(
                "/api/v1/phone-numbers",
                admin,
                json!({"number": "+442079460778"}),
            )
            .await;
        assert_eq!(spare.status, StatusCode::CREATED, "{}", spare.body);
        let id = spare.body["id"].as_str().unwrap();
        let gone = app
            .delete(&format!("/api/v1/phone-numbers/{id}"), admin)
            .await;
        assert!(gone.status.is_success(), "{}", gone.body);
        let bill = app.get(&q(""), admin).await;
        assert_eq!(bill.body["days"][0]["number_days"], 2, "{}", bill.body);
        assert!(bill.body["numbers"]["+442079460778"]["numbers"].as_f64() == Some(0.03));
        let tomorrow = format!(
            "/api/v1/reports/usage?from={}&to={}",
            urlencode(&to),
            urlencode(&(day + Duration::days(2)).to_rfc3339())
        );
        let bill = app.get(&tomorrow, admin).await;
        assert_eq!(bill.body["days"][0]["number_days"], 1, "{}", bill.body);
        assert!(
            bill.body["numbers"].get("+442079460778").is_none(),
            "{}",
            bill.body
        );

        // Errors name the field; agents may not read reports.
        let r = app
            .get(
                &format!(
                    "/api/v1/reports/usage?from={}&to={}",
                    urlencode(&to),
                    urlencode(&from)
                ),
                admin,
            )
            .await;
        assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "to"));
        let agent = app.user_with("ann", "Agent").await;
        assert_eq!(app.get(&q(""), &agent).await.status, StatusCode::FORBIDDEN);
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn historical_metrics_come_from_records_and_agent_states() {
    for app in apps().await {
        let admin = &app.admin;
        let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
        let at = |s: i64| hour + Duration::seconds(s);
        let queue = |enq: i64, wait: Option<i64>| QueueInfo {
            id: "q1".into(),
            name: "Sales".into(),
            enqueue_timestamp: at(enq),
            dequeue_timestamp: wait.map(|w| at(enq + w)),
            duration_seconds: Some(wait.unwrap_or(0) as f64),
        };
        let handled = |id: &str, enq: i64, wait: i64, talk: f64| ContactRecord {
            id: id.into(),
            channel: switchboard_model::contact_record::Channel::Voice,
            initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
            initiation_timestamp: at(enq),
            disconnect_timestamp: Some(at(enq + wait + talk as i64)),
            queue: Some(queue(enq, Some(wait))),
            agent: Some(AgentInfo {
                id: "agent-1".into(),
                username: "alice".into(),
                connected_to_agent_timestamp: at(enq + wait),
                talk_duration_seconds: talk,
                after_contact_work_duration_seconds: Some(20.0),
                ..Default::default()
            }),
            state: switchboard_model::contact_record::ContactState::Ended,
            ..Default::default()
        };
        let mut abandoned = handled("c3", 1000, 0, 0.0);
        abandoned.agent = None;
        abandoned.queue = Some(queue(1000, None));
        abandoned.disconnect_timestamp = Some(at(1045));
        for r in [
            handled("c1", 0, 10, 100.0),
            handled("c2", 200, 50, 160.0),
            abandoned,
        ] {
            app.store.put_contact(&r).await.unwrap();
        }
        for (state, s) in [("Available", 0), ("OnContact", 10), ("Available", 130)] {
            app.store
                .record_agent_state("agent-1", state, at(s).timestamp_millis(), None)
                .await
                .unwrap();
        }
        let path = |extra: &str| {
            format!(
                "/api/v1/reports/historical?from={}&to={}{extra}",
                urlencode(&hour.to_rfc3339()),
                urlencode(&(hour + Duration::hours(1)).to_rfc3339())
            )
        };
        let r = app.get(&path("&service_levels=30,60"), admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let row = &r.body["rows"][0];
        assert_eq!(row["group_name"], "Sales");
        assert_eq!(
            (&row["contacts_handled"], &row["contacts_abandoned"]),
            (&json!(2), &json!(1))
        );
        // AHT (100+20 + 160+20)/2; ASA (10+50)/2; abandon time 45.
        assert_eq!(row["average_handle_time"], 150.0);
        assert_eq!(row["average_speed_of_answer"], 30.0);
        assert_eq!(row["average_abandon_time"], 45.0);
        // Within 30 s: c1 of 3 leaving the queue.
        let sl30 = row["service_level"]["30"].as_f64().unwrap();
        assert!((sl30 - 100.0 / 3.0).abs() < 1e-9, "{row}");

        // By agent: the user is unknown to the store here, so group by channel instead.
        let r = app
            .get(&path("&group_by=channel&interval=fifteen_minutes"), admin)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["rows"][0]["group"], "VOICE");
        assert_eq!(r.body["rows"][0]["contacts_handled"], 2);
        assert_eq!(r.body["rows"][1]["contacts_abandoned"], 1, "{}", r.body);
        let csv = app.get(&path("&format=csv"), admin).await;
        let text = String::from_utf8(csv.bytes).unwrap();
        assert!(text.contains("service_level_20,service_level_60"), "{text}");
        assert!(text.contains(",Sales,3,2,1,0,150.00,"), "{text}");

        let r = app.get(&path("&service_levels=0"), admin).await;
        assert_eq!(r.field(), "service_levels");
        let r = app.get(&path("&interval=weekly"), admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn real_time_counts_agents_by_state() {
    for app in apps().await {
        let admin = &app.admin;
        let ann = app.user_with("ann", "Agent").await;
        let bob = app.user_with("bob", "Agent").await;
        app.put("/api/v1/me/status", &ann, json!({"status": "Available"}))
            .await;
        app.put("/api/v1/me/status", &bob, json!({"status": "Offline"}))
            .await;
        let r = app.get("/api/v1/reports/realtime", admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let agents = &r.body["agents"];
        assert!(agents["available"].as_u64().unwrap() >= 1, "{}", r.body);
        let board = r.body["board"].as_array().unwrap();
        let ann_row = board.iter().find(|a| a["name"] == "ann").unwrap();
        assert_eq!(ann_row["state"], "Available");
        let profiles = r.body["by_routing_profile"].as_array().unwrap();
        let basic = profiles
            .iter()
            .find(|p| p["name"] == "Basic Routing Profile")
            .unwrap();
        assert_eq!(basic["agents"]["available"], 1, "{}", r.body);
        assert!(
            basic["agents"]["offline"].as_u64().unwrap() >= 1,
            "{}",
            r.body
        );
        assert_eq!(basic["in_queue"], 0);
        // The basic queue's agents are the basic profile's.
        let queue = r.body["by_queue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "BasicQueue")
            .unwrap();
        assert_eq!(queue["agents"], basic["agents"], "{}", r.body);
        assert_eq!(
            app.get("/api/v1/reports/realtime", &ann).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn the_real_time_socket_pushes_changes_and_stops_when_signed_out() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    for app in apps().await {
        let addr = app.serve().await;
        let sup = app.user_with("sup", "Admin").await;
        let ann = app.user_with("ann", "Agent").await;
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/reports/realtime/ws"))
                .await
                .unwrap();
        let hello = json!({"type": "hello", "token": sup});
        ws.send(Message::Text(hello.to_string().into()))
            .await
            .unwrap();
        let mut next = async || loop {
            let m = tokio::time::timeout(std::time::Duration::from_secs(60), ws.next())
                .await
                .expect("a frame within 10 s");
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str::<serde_json::Value>(&t).unwrap())
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        };
        let first = next().await.unwrap();
        assert_eq!(first["type"], "snapshot", "{first}");
        // A status change is pushed without asking.
        app.put("/api/v1/me/status", &ann, json!({"status": "Available"}))
            .await;
        let mut seen = false;
        for _ in 0..5 {
            let f = next().await.unwrap();
            let board = f["snapshot"]["board"].as_array().unwrap();
            if board
                .iter()
                .any(|a| a["name"] == "ann" && a["state"] == "Available")
            {
                seen = true;
                break;
            }
        }
        assert!(seen, "ann's status was never pushed");
        // Signed out: the next push is a refusal, and the socket closes.
        let out = app.post("/api/v1/auth/logout", &sup, json!({})).await;
        assert!(out.status.is_success(), "{}", out.body);
        app.put("/api/v1/me/status", &ann, json!({"status": "Offline"}))
            .await;
        let mut refused = None;
        for _ in 0..5 {
            match next().await {
                Some(f) if f["type"] == "error" => {
                    refused = Some(f);
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let refused = refused.expect("a refusal after signing out");
        assert_eq!(refused["field"], "token", "{refused}");
        assert!(next().await.is_none(), "the socket closes");
    }
}

#[tokio::test]
async fn each_supervisor_keeps_their_own_queue_thresholds() {
    for app in apps().await {
        let path = "/api/v1/me/report-thresholds";
        assert_eq!(
            app.get(path, &app.admin).await.body,
            json!({"queues": {}}),
            "none set yet"
        );
        let mine = json!({"queues": {"q-support": {"waiting": 2, "oldest_seconds": 120,
            "service_level_percent": 80.0, "service_level_seconds": 20}}});
        let r = app.put(path, &app.admin, mine.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", app.backend, r.body);
        assert_eq!(app.get(path, &app.admin).await.body, mine);

        // Refused with the field named: out of range, half a service level.
        let r = app
            .put(path, &app.admin, json!({"queues": {"q": {"waiting": 0}}}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.field(), "queues.q.waiting");
        let r = app
            .put(
                path,
                &app.admin,
                json!({"queues": {"q": {"service_level_percent": 80}}}),
            )
            .await;
        assert_eq!(r.field(), "queues.q.service_level_seconds");
        let r = app
            .put(
                path,
                &app.admin,
                json!({"queues": {"q": {"colour": "red"}}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(
            app.get(path, &app.admin).await.body,
            mine,
            "refusals change nothing"
        );

        // Another supervisor starts with their own, empty; an agent may not.
        let manager = app.user_with("mina", "CallCenterManager").await;
        assert_eq!(app.get(path, &manager).await.body, json!({"queues": {}}));
        let agent = app.user_with("otto", "Agent").await;
        assert_eq!(app.get(path, &agent).await.status, StatusCode::FORBIDDEN);
    }
}
