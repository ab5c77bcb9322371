//! The configuration API end to end: objects, references, validation,
//! errors, uploads and the audit trail, on every backend.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use switchboard_runtime::Settings;
use tower::ServiceExt;

async fn sales_setup(app: &TestApp) -> (String, String) {
    let q = app
        .post(
            "/api/v1/queues",
            &app.admin,
            json!({"name": "Sales", "hours_of_operation": "Basic Hours", "max_contacts": 50}),
        )
        .await;
    assert_eq!(q.status, StatusCode::CREATED, "{}", q.body);
    let rp = app
        .post("/api/v1/routing-profiles", &app.admin, json!({
            "name": "Sales agents",
            "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}, {"channel": "CHAT", "concurrency": 5}],
            "queue_configs": [
                {"queue": "Sales", "channel": "VOICE", "priority": 1, "delay": 0},
                {"queue": "BasicQueue", "channel": "VOICE", "priority": 2, "delay": 30},
                {"queue": "Sales", "channel": "CHAT", "priority": 1}
            ],
            "default_outbound_queue": "Sales"
        }))
        .await;
    assert_eq!(rp.status, StatusCode::CREATED, "{}", rp.body);
    (
        q.body["id"].as_str().unwrap().into(),
        rp.body["id"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn references_resolve_by_name_and_are_stored_as_ids() {
    for app in apps().await {
        let (queue_id, rp_id) = sales_setup(&app).await;
        let rp = app
            .get(&format!("/api/v1/routing-profiles/{rp_id}"), &app.admin)
            .await;
        assert_eq!(
            rp.body["default_outbound_queue"],
            queue_id.as_str(),
            "{}",
            app.backend
        );
        assert_eq!(rp.body["queue_configs"][0]["queue"], queue_id.as_str());
        assert_eq!(
            rp.body["media_concurrencies"][1]["cross_channel_behavior"],
            "ROUTE_CURRENT_CHANNEL_ONLY"
        );
        // Read by name, any case.
        let by_name = app
            .get("/api/v1/routing-profiles/sales%20AGENTS", &app.admin)
            .await;
        assert_eq!(by_name.body["id"], rp_id.as_str());
        let list = app.get("/api/v1/queues", &app.admin).await;
        let names: Vec<_> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].clone())
            .collect();
        assert_eq!(names, [json!("BasicQueue"), json!("Sales")]);
    }
}

#[tokio::test]
async fn a_queue_used_by_a_routing_profile_cannot_be_deleted() {
    for app in apps().await {
        let (queue_id, rp_id) = sales_setup(&app).await;
        let r = app
            .delete(&format!("/api/v1/queues/{queue_id}"), &app.admin)
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", app.backend);
        let reason = r.body["errors"][0]["reason"].as_str().unwrap();
        assert!(
            reason.contains("routing profile 'Sales agents'"),
            "{reason}"
        );
        // Still there.
        assert_eq!(
            app.get("/api/v1/queues/Sales", &app.admin).await.status,
            StatusCode::OK
        );
        // Hours used by queues cannot go either.
        assert_eq!(
            app.delete("/api/v1/hours-of-operation/Basic%20Hours", &app.admin)
                .await
                .status,
            StatusCode::CONFLICT
        );
        // Take the queue out of the profile, then it can be deleted.
        let r = app
            .put(
                &format!("/api/v1/routing-profiles/{rp_id}"),
                &app.admin,
                json!({
                    "name": "Sales agents",
                    "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}],
                    "queue_configs": [{"queue": "BasicQueue", "channel": "VOICE", "priority": 1}],
                    "default_outbound_queue": "BasicQueue"
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["version"], 2);
        assert_eq!(
            app.delete(&format!("/api/v1/queues/{queue_id}"), &app.admin)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&format!("/api/v1/queues/{queue_id}"), &app.admin)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn phone_numbers_are_validated_and_typed_from_real_numbers() {
    for app in apps().await {
        let cases = [
            ("+44 20 7946 0991", "+442079460991", "GB", "DID"),
            ("+44 800 123 4567", "+448001234567", "GB", "TOLL_FREE"),
            ("+1 212-555-0143", "+12125550143", "US", "DID"),
            ("+1 888 555 0100", "+18885550100", "US", "TOLL_FREE"),
            ("+33 1 42 68 53 00", "+33142685300", "FR", "DID"),
            ("+49 30 901820", "+4930901820", "DE", "DID"),
            ("+61 2 9374 4000", "+61293744000", "AU", "DID"),
            ("+81 3-3224-2000", "+81332242000", "JP", "DID"),
        ];
        for (input, e164, country, ty) in cases {
            let r = app
                .post(
                    "/api/v1/phone-numbers",
                    &app.admin,
                    json!({"number": input, "flow": "Demo inbound"}),
                )
                .await;
            // No demo flow in this instance: the flow reference is the only error.
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
            assert_eq!(r.field(), "flow", "{input}: {}", r.body);
            let r = app
                .post(
                    "/api/v1/phone-numbers",
                    &app.admin,
                    json!({"number": input, "number_type": "TOLL_FREE"}),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{}: {input}: {}",
                app.backend,
                r.body
            );
            assert_eq!(r.body["number"], e164);
            assert_eq!(r.body["country_code"], country, "{input}");
            assert_eq!(
                r.body["number_type"], ty,
                "{input}: derived, not taken from the request"
            );
        }
        // The same number written differently is the same number.
        let r = app
            .post(
                "/api/v1/phone-numbers",
                &app.admin,
                json!({"number": "+442079460991"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        for bad in ["02079460991", "+44 20 7946", "+999 12345", "call me"] {
            let r = app
                .post("/api/v1/phone-numbers", &app.admin, json!({"number": bad}))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(r.field(), "number", "{bad}");
        }
        // Readable by number.
        assert_eq!(
            app.get("/api/v1/phone-numbers/+12125550143", &app.admin)
                .await
                .body["country_code"],
            "US"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_a_precise_error() {
    for app in apps().await {
        let post = |path: &'static str, body: &'static str, ct: &'static str| {
            let req = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap();
            app.send(req)
        };
        let r = post("/api/v1/queues", "{not json", "application/json").await;
        assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "body"));
        let r = post(
            "/api/v1/queues",
            "name=x",
            "application/x-www-form-urlencoded",
        )
        .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type")
        );
        let r = post("/api/v1/queues", r#"{"name": "X"}"#, "application/json").await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "hours_of_operation"),
            "{}",
            r.body
        );
        let r = post(
            "/api/v1/queues",
            r#"{"name": "X", "hours_of_operation": "Basic Hours", "max_contact": 3}"#,
            "application/json",
        )
        .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "max_contact"),
            "{}",
            r.body
        );
        let r = post("/api/v1/hours-of-operation",
            r#"{"name": "H", "time_zone": "UTC", "config": [{"day": "FUNDAY", "start": {"hours": 9, "minutes": 0}, "end": {"hours": 17, "minutes": 0}}]}"#,
            "application/json").await;
        assert_eq!(r.field(), "config[0].day", "{}", r.body);
        let r = post("/api/v1/routing-profiles",
            r#"{"name": "R", "media_concurrencies": [{"channel": "CHAT", "concurrency": 11}], "queue_configs": [{"queue": "BasicQueue", "channel": "CHAT", "priority": 100, "delay": 10000}], "default_outbound_queue": "BasicQueue"}"#,
            "application/json").await;
        let fields: Vec<_> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            fields,
            [
                "media_concurrencies[0].concurrency",
                "queue_configs[0].priority",
                "queue_configs[0].delay"
            ]
        );
        // Duplicate names, whatever the case.
        let r = post(
            "/api/v1/queues",
            r#"{"name": "basicqueue", "hours_of_operation": "Basic Hours"}"#,
            "application/json",
        )
        .await;
        assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, "name"));
        // Too big.
        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/queues")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::PAYLOAD_TOO_LARGE, "body")
        );
        // Unknown endpoints and methods answer in the same shape.
        let r = app.get("/api/v1/nothing-here", &app.admin).await;
        assert_eq!((r.status, r.field()), (StatusCode::NOT_FOUND, "path"));
        let r = app
            .call(Method::PATCH, "/api/v1/queues", Some(&app.admin), None)
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.body["code"], "method_not_allowed");
        // Stale versions are refused.
        let r = app
            .call(
                Method::PUT,
                "/api/v1/queues/BasicQueue",
                Some(&app.admin),
                Some(json!({"name": "BasicQueue", "hours_of_operation": "Basic Hours"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let req = Request::builder()
            .method(Method::PUT)
            .uri("/api/v1/queues/BasicQueue")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, "1")
            .body(Body::from(
                r#"{"name": "BasicQueue", "hours_of_operation": "Basic Hours"}"#,
            ))
            .unwrap();
        let r = app.send(req).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::CONFLICT, "version"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn no_request_body_makes_the_server_fail() {
    let bodies = [
        json!(null),
        json!([]),
        json!("text"),
        json!(42),
        json!({}),
        json!({"name": null}),
        json!({"name": 1e308}),
        json!({"name": "", "description": "x"}),
        json!({"name": "\u{0000}"}),
        json!({"name": "n", "hours_of_operation": "", "time_zone": "", "number": "+", "permissions": [null]}),
        json!({"name": "n", "media_concurrencies": [{}], "queue_configs": [{"priority": -1}], "target": {"type": "NOPE"}}),
        json!({"name": "n", "config": [{"day": "MONDAY", "start": {"hours": 4294967295u64, "minutes": 0}, "end": {"hours": 0, "minutes": 0}}], "time_zone": "UTC"}),
        json!({"username": "u", "password": 5, "security_profiles": "Admin"}),
        json!({"name": "n", "type": "CONTACT_FLOW", "content": {"Actions": "no"}}),
    ];
    let paths = [
        "security-profiles",
        "users",
        "agent-statuses",
        "hours-of-operation",
        "queues",
        "routing-profiles",
        "phone-numbers",
        "quick-connects",
        "flows",
        "api-keys",
    ];
    for app in apps().await {
        for path in paths {
            for body in &bodies {
                let r = app
                    .post(&format!("/api/v1/{path}"), &app.admin, body.clone())
                    .await;
                assert!(
                    r.status.is_client_error() || r.status.is_success(),
                    "{path} {body}: {} {}",
                    r.status,
                    r.body
                );
                if r.status.is_client_error() {
                    assert!(
                        !r.field().is_empty(),
                        "{path} {body}: error names no field: {}",
                        r.body
                    );
                }
            }
            // Deep nesting stops at the parser's recursion limit, not the stack.
            let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/{path}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(deep))
                .unwrap();
            assert_eq!(app.send(req).await.status, StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test]
async fn hours_quick_connects_statuses_and_flows() {
    for app in apps().await {
        let r = app.post("/api/v1/hours-of-operation", &app.admin, json!({
            "name": "London office", "time_zone": "Europe/London",
            "config": [{"day": "MONDAY", "start": {"hours": 9, "minutes": 0}, "end": {"hours": 17, "minutes": 30}}],
            "overrides": [{"name": "Christmas", "start_date": "2026-12-25", "end_date": "2026-12-26", "type": "CLOSED"}]
        })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = app
            .post(
                "/api/v1/hours-of-operation",
                &app.admin,
                json!({"name": "Bad", "time_zone": "Mars/Base"}),
            )
            .await;
        assert_eq!(r.field(), "time_zone");
        let r = app.post("/api/v1/hours-of-operation", &app.admin, json!({"name": "Bad", "time_zone": "UTC",
            "overrides": [{"name": "x", "start_date": "2026-13-01", "end_date": "2026-12-26", "type": "CLOSED"}]})).await;
        assert_eq!(r.field(), "overrides[0].start_date", "{}", r.body);

        for (name, target) in [
            ("To admin", json!({"type": "USER", "user": "admin"})),
            ("To basic", json!({"type": "QUEUE", "queue": "BasicQueue"})),
            (
                "To office",
                json!({"type": "PHONE_NUMBER", "phone_number": "+44 20 7946 0555"}),
            ),
        ] {
            let r = app
                .post(
                    "/api/v1/quick-connects",
                    &app.admin,
                    json!({"name": name, "target": target}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
        assert_eq!(
            app.get("/api/v1/quick-connects/To%20office", &app.admin)
                .await
                .body["target"]["phone_number"],
            "+442079460555"
        );
        let r = app
            .post(
                "/api/v1/quick-connects",
                &app.admin,
                json!({"name": "Nobody", "target": {"type": "USER", "user": "ghost"}}),
            )
            .await;
        assert_eq!(r.field(), "target.user");
        // A queue offering quick connects holds them.
        let r = app.put("/api/v1/queues/BasicQueue", &app.admin, json!({"name": "BasicQueue", "hours_of_operation": "London office", "quick_connects": ["To admin", "To basic"]})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            app.delete("/api/v1/quick-connects/To%20admin", &app.admin)
                .await
                .status,
            StatusCode::CONFLICT
        );

        // Agent statuses: custom ones only, built-ins stay.
        let r = app
            .post(
                "/api/v1/agent-statuses",
                &app.admin,
                json!({"name": "Lunch", "display_order": 3}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["type"].as_str()),
            (StatusCode::CREATED, Some("CUSTOM"))
        );
        let r = app
            .post(
                "/api/v1/agent-statuses",
                &app.admin,
                json!({"name": "Also available", "type": "ROUTABLE"}),
            )
            .await;
        assert_eq!(r.field(), "type");
        assert_eq!(
            app.delete("/api/v1/agent-statuses/Available", &app.admin)
                .await
                .status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            app.delete("/api/v1/agent-statuses/Lunch", &app.admin)
                .await
                .status,
            StatusCode::NO_CONTENT
        );

        // Flows: the envelope is checked; the queue can name a customer queue flow.
        let content = json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
            {"Identifier": "a", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]});
        let r = app
            .post(
                "/api/v1/flows",
                &app.admin,
                json!({"name": "Hold music", "type": "CUSTOMER_QUEUE", "content": content}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = app
            .post(
                "/api/v1/flows",
                &app.admin,
                json!({"name": "Broken", "type": "CONTACT_FLOW", "content": {"Version": "1"}}),
            )
            .await;
        assert_eq!(r.field(), "content.Version");
        let r = app.put("/api/v1/queues/BasicQueue", &app.admin, json!({"name": "BasicQueue", "hours_of_operation": "Basic Hours", "customer_queue_flow": "Hold music"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            app.delete("/api/v1/flows/Hold%20music", &app.admin)
                .await
                .status,
            StatusCode::CONFLICT
        );
    }
}

#[tokio::test]
async fn prompts_upload_play_and_refuse_bad_files() {
    let settings = Settings {
        max_prompt_bytes: 200_000,
        ..Settings::default()
    };
    for app in apps_with(settings).await {
        let upload = |fields: Vec<(&'static str, Option<&'static str>, Vec<u8>)>| {
            let refs: Vec<(&str, Option<&str>, &[u8])> = fields
                .iter()
                .map(|(n, f, d)| (*n, *f, d.as_slice()))
                .collect();
            let (ct, body) = multipart(&refs);
            let req = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/prompts")
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap();
            app.send(req)
        };
        let audio = wav(8000, 2.0);
        let r = upload(vec![
            ("name", None, b"Welcome".to_vec()),
            ("description", None, b"Greeting".to_vec()),
            ("file", Some("welcome.wav"), audio.clone()),
        ])
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", app.backend, r.body);
        assert_eq!(r.body["audio"]["duration_ms"], 2000);
        assert_eq!(r.body["audio"]["sample_rate"], 8000);
        let id = r.body["id"].as_str().unwrap().to_string();
        let played = app
            .get(&format!("/api/v1/prompts/{id}/audio"), &app.admin)
            .await;
        assert_eq!(played.status, StatusCode::OK);
        assert_eq!(played.bytes, audio, "the audio comes back as uploaded");

        // Renaming keeps the audio, whatever the request says about it.
        let r = app.put(&format!("/api/v1/prompts/{id}"), &app.admin, json!({"name": "Hello", "audio": {"sample_rate": 1, "channels": 1, "bits_per_sample": 1, "duration_ms": 1, "size_bytes": 1, "blob_key": "elsewhere"}})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["audio"]["sample_rate"], 8000);

        let r = upload(vec![
            ("name", None, b"Noise".to_vec()),
            ("file", Some("x.wav"), b"RIFF....not really".to_vec()),
        ])
        .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "file"),
            "{}",
            r.body
        );
        let r = upload(vec![("file", Some("x.wav"), wav(8000, 0.1))]).await;
        assert_eq!(r.field(), "name");
        let r = upload(vec![
            ("name", None, b"Long".to_vec()),
            ("file", Some("long.wav"), wav(16000, 10.0)),
        ])
        .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::PAYLOAD_TOO_LARGE, "file"),
            "{}",
            r.body
        );
        let r = upload(vec![
            ("name", None, b"Hello".to_vec()),
            ("file", Some("dup.wav"), wav(8000, 0.2)),
        ])
        .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "names are unique for prompts too"
        );

        assert_eq!(
            app.delete(&format!("/api/v1/prompts/{id}"), &app.admin)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&format!("/api/v1/prompts/{id}/audio"), &app.admin)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn the_audit_log_records_who_changed_what() {
    for app in apps().await {
        let ccm = app.user_with("manager", "CallCenterManager").await;
        let r = app
            .post(
                "/api/v1/queues",
                &ccm,
                json!({"name": "Billing", "hours_of_operation": "Basic Hours"}),
            )
            .await;
        let id = r.body["id"].as_str().unwrap().to_string();
        app.put(
            &format!("/api/v1/queues/{id}"),
            &ccm,
            json!({"name": "Billing", "hours_of_operation": "Basic Hours", "max_contacts": 5}),
        )
        .await;
        app.delete(&format!("/api/v1/queues/{id}"), &app.admin)
            .await;

        let log = app
            .get(&format!("/api/v1/audit-log?object_id={id}"), &app.admin)
            .await;
        let rows = log.body["items"].as_array().unwrap();
        let summary: Vec<(String, String)> = rows
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().into(),
                    e["actor_name"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("delete".into(), "admin".into()),
                ("update".into(), "manager".into()),
                ("create".into(), "manager".into())
            ]
        );
        assert_eq!(rows[1]["before"]["max_contacts"], Value::Null);
        assert_eq!(rows[1]["after"]["max_contacts"], 5);

        let r = app
            .get("/api/v1/audit-log?object_kind=user&limit=2", &app.admin)
            .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
        assert_eq!(
            app.get("/api/v1/audit-log?limit=0", &app.admin)
                .await
                .field(),
            "limit"
        );
        assert_eq!(
            app.get("/api/v1/audit-log?limit=ten", &app.admin)
                .await
                .field(),
            "query"
        );
        // Passwords never reach the log.
        let all = app.get("/api/v1/audit-log?limit=500", &app.admin).await;
        let text = String::from_utf8_lossy(&all.bytes);
        assert!(
            !text.contains(USER_PASSWORD) && !text.contains("argon2"),
            "secrets in the audit log"
        );
    }
}

#[tokio::test]
async fn health_and_the_openapi_document() {
    for app in apps().await {
        assert_eq!(
            app.call(Method::GET, "/healthz", None, None).await.status,
            StatusCode::OK
        );
        let r = app.call(Method::GET, "/readyz", None, None).await;
        assert_eq!(r.body["status"], "ready");
        let doc = app
            .call(Method::GET, "/api/v1/openapi.json", None, None)
            .await;
        assert_eq!(doc.status, StatusCode::OK);
        let paths = doc.body["paths"].as_object().unwrap();
        for p in [
            "/api/v1/queues",
            "/api/v1/queues/{id}",
            "/api/v1/users",
            "/api/v1/auth/login",
            "/api/v1/prompts",
            "/api/v1/routing-profiles/{id}",
            "/api/v1/phone-numbers",
            "/api/v1/audit-log",
            "/api/v1/flows",
        ] {
            assert!(
                paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
        assert!(
            paths["/api/v1/users"].get("post").is_some()
                && paths["/api/v1/users"].get("get").is_some()
        );
        let schemas = doc.body["components"]["schemas"].as_object().unwrap();
        for s in [
            "Queue",
            "RoutingProfile",
            "HoursOfOperation",
            "ApiError",
            "PhoneNumber",
            "QuickConnect",
        ] {
            assert!(schemas.contains_key(s), "schema {s} missing");
        }
        // Every $ref points at a schema that exists.
        let text = doc.body.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}

#[tokio::test]
async fn passwords_are_never_shown_and_survive_updates_that_leave_them_out() {
    for app in apps().await {
        let admin = &app.admin;
        let secret = "desk-phone-secret-77";
        let r = app
            .post(
                "/api/v1/users",
                admin,
                json!({"username": "dee", "password": USER_PASSWORD, "security_profiles": ["Agent"],
                    "routing_profile": "Basic Routing Profile",
                    "phone_config": {"phone_type": "DESK_PHONE", "sip_password": secret}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(!r.body.to_string().contains(secret), "{}", r.body);
        let mut shown = app.get("/api/v1/users/dee", admin).await.body;
        assert!(shown["phone_config"]["sip_password"].is_null(), "{shown}");
        // Edited as shown (no password): the stored one stays.
        shown["first_name"] = json!("Dee");
        for k in ["id", "version", "builtin", "created_at", "updated_at"] {
            shown.as_object_mut().unwrap().remove(k);
        }
        let r = app.put("/api/v1/users/dee", admin, shown).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let stored = app
            .store
            .get::<switchboard_model::User>("dee")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.spec.phone_config.sip_password.as_deref(),
            Some(secret)
        );
        // Nor does the audit log keep it.
        let audit = app.get("/api/v1/audit-log", admin).await;
        assert!(!audit.body.to_string().contains(secret));

        let r = app
            .post(
                "/api/v1/sip-trunks",
                admin,
                json!({"name": "carrier", "inbound_addresses": ["192.0.2.10"],
                    "outbound_proxy": "sip.example.net:5060", "username": "acct", "password": "trunk-secret-99"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body["password"].is_null(), "{}", r.body);
        let stored = app
            .store
            .get::<switchboard_model::SipTrunk>("carrier")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.spec.password.as_deref(), Some("trunk-secret-99"));
    }
}

#[tokio::test]
async fn a_name_may_not_be_shaped_like_an_id() {
    for app in apps().await {
        let r = app
            .post(
                "/api/v1/queues",
                &app.admin,
                json!({"name": "Sales", "hours_of_operation": "Basic Hours"}),
            )
            .await;
        let sales = r.body["id"].as_str().unwrap().to_string();
        // A queue named after Sales's id would answer lookups meant for Sales.
        for name in [sales.clone(), sales.to_uppercase()] {
            let r = app
                .post(
                    "/api/v1/queues",
                    &app.admin,
                    json!({"name": name, "hours_of_operation": "Basic Hours"}),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{}: {}",
                app.backend,
                r.body
            );
            assert_eq!(r.field(), "name", "{}", r.body);
        }
        let r = app
            .post(
                "/api/v1/users",
                &app.admin,
                json!({"username": sales, "first_name": "A", "last_name": "B",
                    "password": USER_PASSWORD, "security_profiles": ["Agent"],
                    "routing_profile": "Basic Routing Profile",
                    "phone_config": {"phone_type": "SOFT_PHONE"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.field(), "username", "{}", r.body);
        // Lookups by id still find Sales.
        let r = app
            .get(&format!("/api/v1/queues/{sales}"), &app.admin)
            .await;
        assert_eq!(r.body["name"], "Sales");
    }
}

#[tokio::test]
async fn a_database_outage_is_answered_503_with_retry_after_at_once() {
    let Some(admin_url) = switchboard_store::testing::postgres_admin_url() else {
        return;
    };
    for app in apps().await.into_iter().filter(|a| a.backend == "postgres") {
        let r = app.get("/api/v1/queues", &app.admin).await;
        assert_eq!(r.status, StatusCode::OK);
        switchboard_store::testing::set_postgres_reachable(&admin_url, app.database_url(), false)
            .await;
        let started = std::time::Instant::now();
        let res = app
            .router
            .clone()
            .oneshot(
                axum::http::Request::builder()
                    .uri("/api/v1/queues")
                    .header("authorization", format!("Bearer {}", app.admin))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        assert!(
            took < std::time::Duration::from_secs(8),
            "answered after {took:?}"
        );
        println!("database outage answered 503 after {took:?}");
        switchboard_store::testing::set_postgres_reachable(&admin_url, app.database_url(), true)
            .await;
        switchboard_testkit::wait::until(
            "the API back with the database",
            switchboard_testkit::wait::DEADLINE,
            || async {
                let r = app.get("/api/v1/queues", &app.admin).await;
                if r.status == StatusCode::OK {
                    Ok(())
                } else {
                    Err(r.status)
                }
            },
        )
        .await;
    }
}

#[tokio::test]
async fn lists_page_by_name_and_search_on_the_server() {
    for app in apps().await {
        for name in [
            "Billing",
            "Sales EU",
            "Sales US",
            "Support",
            "100% Care",
            "Tech_Desk",
        ] {
            let r = app
                .post(
                    "/api/v1/queues",
                    &app.admin,
                    json!({"name": name, "hours_of_operation": "Basic Hours"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}: {}", app.backend, r.body);
        }
        let names = |r: &Reply| -> Vec<String> {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["name"].as_str().unwrap().to_string())
                .collect()
        };
        // Without paging: everything, no cursor (what the console's pickers read).
        let all = app.get("/api/v1/queues", &app.admin).await;
        assert_eq!(names(&all).len(), 7, "{}", all.body);
        assert!(all.body.get("next").is_none());
        // Pages of three, by name, to the end.
        let mut seen = Vec::new();
        let mut path = "/api/v1/queues?limit=3".to_string();
        for _ in 0..5 {
            let page = app.get(&path, &app.admin).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            seen.extend(names(&page));
            match page.body["next"].as_str() {
                Some(next) => {
                    let mut url = reqwest::Url::parse("http://x/api/v1/queues?limit=3").unwrap();
                    url.query_pairs_mut().append_pair("after", next);
                    path = format!("{}?{}", url.path(), url.query().unwrap());
                }
                None => break,
            }
        }
        assert_eq!(
            seen,
            [
                "100% Care",
                "BasicQueue",
                "Billing",
                "Sales EU",
                "Sales US",
                "Support",
                "Tech_Desk"
            ]
        );
        // Search: any case, and the text itself (% and _ are not wildcards).
        let found = app.get("/api/v1/queues?search=SALES", &app.admin).await;
        assert_eq!(names(&found), ["Sales EU", "Sales US"]);
        let found = app.get("/api/v1/queues?search=%25", &app.admin).await;
        assert_eq!(names(&found), ["100% Care"]);
        let found = app.get("/api/v1/queues?search=_", &app.admin).await;
        assert_eq!(names(&found), ["Tech_Desk"]);
        // Bounded, with the field named.
        let r = app.get("/api/v1/queues?limit=0", &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.field(), "limit");
        let r = app.get("/api/v1/queues?limit=1001", &app.admin).await;
        assert_eq!(r.field(), "limit");
        let r = app.get("/api/v1/queues?search=a%00b", &app.admin).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{}: {}",
            app.backend,
            r.body
        );
        assert_eq!(r.field(), "search");
        let r = app.get("/api/v1/users?page=2", &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
}
