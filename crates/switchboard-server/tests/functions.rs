//! External functions over real HTTP on loopback, and flows simulated
//! against the instance's real hours, queues and functions.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use serde_json::{json, Value};
use switchboard_flow::ContactData;
use switchboard_runtime::functions::{FunctionClient, FunctionError};

/// A function server on a free loopback port; returns its base URL and
/// the last event it received.
async fn function_server() -> (String, Arc<Mutex<Option<Value>>>) {
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/ok",
            post(move |Json(event): Json<Value>| {
                let record = record.clone();
                async move {
                    let caller =
                        event["Details"]["ContactData"]["CustomerEndpoint"]["Address"].clone();
                    *record.lock().unwrap() = Some(event);
                    Json(json!({"name": "Ada", "tier": "gold", "vip": true, "caller": caller}))
                }
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Json(json!({}))
            }),
        )
        .route(
            "/big",
            post(|| async { Json(json!({"blob": "x".repeat(40_000)})) }),
        )
        .route("/nested", post(|| async { Json(json!({"a": {"b": 1}})) }))
        .route("/list", post(|| async { Json(json!([1, 2])) }))
        .route(
            "/fail",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn the_client_sends_connects_event_and_enforces_its_limits() {
    let (base, seen) = function_server().await;
    let client = FunctionClient::default();
    let mut contact = ContactData::voice("c-1", "+442079460999", "+442079460123");
    contact.attributes.insert("lang".into(), "en".into());
    let params = BTreeMap::from([("account".to_string(), "42".to_string())]);
    // Calls that should succeed get a limit no busy machine reaches; the
    // timeout is tested against an endpoint that answers after a minute.
    let second = Duration::from_secs(1);
    let ample = Duration::from_secs(30);

    let out = client
        .invoke(&format!("{base}/ok"), &contact, &params, ample, false)
        .await
        .unwrap();
    assert_eq!(out["name"], "Ada");
    assert_eq!(out["vip"], "true", "STRING_MAP values become text");
    assert_eq!(out["caller"], "+442079460999");
    let event = seen.lock().unwrap().clone().unwrap();
    assert_eq!(event["Name"], "ContactFlowEvent");
    assert_eq!(event["Details"]["Parameters"]["account"], "42");
    assert_eq!(event["Details"]["ContactData"]["ContactId"], "c-1");
    assert_eq!(event["Details"]["ContactData"]["Attributes"]["lang"], "en");
    assert_eq!(
        event["Details"]["ContactData"]["SystemEndpoint"]["Address"],
        "+442079460123"
    );

    let json_out = client
        .invoke(&format!("{base}/nested"), &contact, &params, ample, true)
        .await
        .unwrap();
    assert_eq!(json_out["a"]["b"], 1, "JSON answers may nest");

    let started = std::time::Instant::now();
    assert_eq!(
        client
            .invoke(&format!("{base}/slow"), &contact, &params, second, false)
            .await,
        Err(FunctionError::Timeout(second))
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        client
            .invoke(&format!("{base}/big"), &contact, &params, ample, false)
            .await,
        Err(FunctionError::TooLarge)
    );
    assert_eq!(
        client
            .invoke(&format!("{base}/nested"), &contact, &params, ample, false)
            .await,
        Err(FunctionError::Nested("a".into()))
    );
    assert!(matches!(
        client
            .invoke(&format!("{base}/list"), &contact, &params, ample, false)
            .await,
        Err(FunctionError::NotAnObject(_))
    ));
    assert_eq!(
        client
            .invoke(&format!("{base}/fail"), &contact, &params, ample, false)
            .await,
        Err(FunctionError::Status(500))
    );
    assert!(matches!(
        client
            .invoke("http://127.0.0.1:9/x", &contact, &params, ample, false)
            .await,
        Err(FunctionError::Unreachable(_))
    ));
    let short = Duration::from_millis(200);
    assert_eq!(
        client
            .invoke(&format!("{base}/slow"), &contact, &params, short, false)
            .await,
        Err(FunctionError::Timeout(short))
    );
}

#[tokio::test]
async fn a_flow_simulates_against_real_hours_queues_and_functions() {
    let (base, _) = function_server().await;
    for app in apps().await {
        let admin = &app.admin;
        let r = app
            .post(
                "/api/v1/external-functions",
                admin,
                json!({"name": "crm-lookup", "url": format!("{base}/ok")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            app.post(
                "/api/v1/external-functions",
                admin,
                json!({"name": "bad", "url": "ftp://x"})
            )
            .await
            .field(),
            "url"
        );
        app.post(
            "/api/v1/external-functions",
            admin,
            json!({"name": "broken", "url": format!("{base}/fail")}),
        )
        .await;
        app.post("/api/v1/hours-of-operation", admin, json!({"name": "Office", "time_zone": "Europe/London",
            "config": [{"day": "TUESDAY", "start": {"hours": 9, "minutes": 0}, "end": {"hours": 17, "minutes": 0}}]})).await;
        app.post(
            "/api/v1/queues",
            admin,
            json!({"name": "VIP", "hours_of_operation": "Office"}),
        )
        .await;
        let flow = json!({"Version": "2019-10-30", "StartAction": "fn", "Actions": [
            {"Identifier": "fn", "Type": "InvokeLambdaFunction",
             "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:eu-west-2:1:function:crm-lookup", "InvocationTimeLimitSeconds": "8"},
             "Transitions": {"NextAction": "tier", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "tier", "Type": "Compare", "Parameters": {"ComparisonValue": "$.External.tier"},
             "Transitions": {"Conditions": [{"NextAction": "q", "Condition": {"Operator": "Equals", "Operands": ["gold"]}}],
                             "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "sorry"}]}},
            {"Identifier": "q", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "VIP"},
             "Transitions": {"NextAction": "open", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "open", "Type": "CheckHoursOfOperation", "Parameters": {},
             "Transitions": {"Conditions": [
                {"NextAction": "go", "Condition": {"Operator": "Equals", "Operands": ["True"]}},
                {"NextAction": "sorry", "Condition": {"Operator": "Equals", "Operands": ["False"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "go", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "sorry", "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "sorry"}, {"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "sorry", "Type": "MessageParticipant", "Parameters": {"Text": "Sorry $.External.name"}, "Transitions": {"NextAction": "bye"}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]});
        assert_eq!(
            app.post(
                "/api/v1/flows",
                admin,
                json!({"name": "VIP line", "type": "CONTACT_FLOW", "content": flow})
            )
            .await
            .status,
            StatusCode::CREATED
        );

        // Tuesday 24 November 2026, 10:00 and 20:00 in London.
        let open = app
            .post(
                "/api/v1/flows/VIP%20line/simulate",
                admin,
                json!({"now": "2026-11-24T10:00:00Z"}),
            )
            .await;
        assert_eq!(
            open.status,
            StatusCode::OK,
            "{}: {}",
            app.backend,
            open.body
        );
        assert_eq!(open.body["outcome"]["outcome"], "queued", "{}", open.body);
        assert_eq!(open.body["outcome"]["queue"]["name"], "VIP");
        assert_eq!(open.body["contact"]["external"]["name"], "Ada");
        let closed = app
            .post(
                "/api/v1/flows/VIP%20line/simulate",
                admin,
                json!({"now": "2026-11-24T20:00:00Z"}),
            )
            .await;
        let path: Vec<_> = closed.body["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["action"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(path, ["fn", "tier", "q", "open", "sorry", "bye"]);
        assert!(closed.body["effects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]["value"] == "Sorry Ada"));

        // The function failing takes the error branch.
        app.put(
            "/api/v1/external-functions/crm-lookup",
            admin,
            json!({"name": "crm-lookup", "url": format!("{base}/fail")}),
        )
        .await;
        let failed = app
            .post("/api/v1/flows/VIP%20line/simulate", admin, json!({}))
            .await;
        assert_eq!(
            failed.body["path"][0]["branch"], "error NoMatchingError",
            "{}",
            failed.body
        );

        let bad = app
            .post(
                "/api/v1/flows/VIP%20line/simulate",
                admin,
                json!({"channel": "FAX"}),
            )
            .await;
        assert_eq!(bad.field(), "channel");
        let bad = app
            .post(
                "/api/v1/flows/VIP%20line/simulate",
                admin,
                json!({"now": "yesterday"}),
            )
            .await;
        assert_eq!(bad.field(), "now", "{}", bad.body);
    }
}
