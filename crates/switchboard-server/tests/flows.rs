//! Flows through the API: drafts, validation, publishing versions, and
//! importing real Connect exports with their ARNs mapped by name.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../../shared/fixtures/connect-exports/flows/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hours_check(with_false: bool) -> Value {
    let mut conditions = vec![
        json!({"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["True"]}}),
    ];
    if with_false {
        conditions.push(json!({"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["False"]}}));
    }
    json!({"Version": "2019-10-30", "StartAction": "hours", "Actions": [
        {"Identifier": "hours", "Type": "CheckHoursOfOperation", "Parameters": {"HoursOfOperationId": "Basic Hours"},
         "Transitions": {"Conditions": conditions, "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]})
}

#[tokio::test]
async fn drafts_validate_publish_and_keep_versions() {
    for app in apps().await {
        let r = app
            .post(
                "/api/v1/flows",
                &app.admin,
                json!({"name": "Main", "type": "CONTACT_FLOW", "content": hours_check(false)}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}: a draft may be unfinished: {}",
            app.backend,
            r.body
        );
        let v = app
            .post("/api/v1/flows/Main/validate", &app.admin, json!({}))
            .await;
        assert_eq!(v.body["valid"], false);
        assert_eq!(v.body["problems"][0]["action"], "hours");
        let p = app
            .post("/api/v1/flows/Main/publish", &app.admin, json!({}))
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
        assert_eq!(p.field(), "content.Actions[0].Transitions.Conditions");
        assert!(p.body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("action 'hours': CheckHoursOfOperation needs a condition Equals False"));

        let r = app
            .put(
                "/api/v1/flows/Main",
                &app.admin,
                json!({"name": "Main", "type": "CONTACT_FLOW", "content": hours_check(true)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for expected in [1, 2] {
            let p = app
                .post("/api/v1/flows/Main/publish", &app.admin, json!({}))
                .await;
            assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
            assert_eq!(p.body["version"]["version"], expected);
            assert_eq!(p.body["version"]["published_by"], "admin");
        }
        let versions = app.get("/api/v1/flows/Main/versions", &app.admin).await;
        assert_eq!(versions.body["items"].as_array().unwrap().len(), 2);
        assert_eq!(versions.body["items"][0]["version"], 2);

        let export = app
            .get("/api/v1/flows/Main/export?version=1", &app.admin)
            .await;
        assert_eq!(export.body["Name"], "Main");
        assert_eq!(export.body["Type"], "CONTACT_FLOW");
        let content: Value =
            serde_json::from_str(export.body["Content"].as_str().unwrap()).unwrap();
        assert_eq!(content, hours_check(true));
        assert_eq!(
            app.get("/api/v1/flows/Main/export?version=9", &app.admin)
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // A draft that does not even parse is refused, naming the spot.
        let r = app.put("/api/v1/flows/Main", &app.admin, json!({"name": "Main", "type": "CONTACT_FLOW",
            "content": {"Version": "2019-10-30", "StartAction": "a", "Actions": [{"Identifier": "a", "Type": "Teleport"}]}})).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "content.Actions[0].Type"),
            "{}",
            r.body
        );

        // Managers see flows but do not publish them.
        let ccm = app.user_with("manager", "CallCenterManager").await;
        assert_eq!(
            app.post("/api/v1/flows/Main/publish", &ccm, json!({}))
                .await
                .body["missing_permission"],
            "ContactFlows.Publish"
        );
        assert_eq!(
            app.post("/api/v1/flows/Main/validate", &ccm, json!({}))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.post("/api/v1/flows/Main/simulate", &ccm, json!({}))
                .await
                .body["missing_permission"],
            "ContactFlows.Edit"
        );
        let r = app
            .post("/api/v1/flows/import", &ccm, fixture("acme_main_AUTO.json"))
            .await;
        assert_eq!(
            r.body["missing_permission"], "ContactFlows.Create",
            "refused before anything is read"
        );
        // The stored type decides the rules: a wrapper with a type of its own is not stored.
        let wrapped = json!({"name": "W", "type": "AGENT_WHISPER", "content": {"Name": "x", "Type": "CONTACT_FLOW", "Content": "{}"}});
        assert_eq!(
            app.post("/api/v1/flows", &app.admin, wrapped).await.field(),
            "content.Content"
        );
    }
}

#[tokio::test]
async fn connect_exports_import_with_arns_mapped_by_name() {
    for app in apps().await {
        for q in ["finance", "sales"] {
            app.post(
                "/api/v1/queues",
                &app.admin,
                json!({"name": q, "hours_of_operation": "Basic Hours"}),
            )
            .await;
        }
        // Importing the transfer flow before its whispers: the report says what is missing.
        let r = app
            .post(
                "/api/v1/flows/import",
                &app.admin,
                fixture("acme_queue_transfer_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", app.backend, r.body);
        assert_eq!(r.body["action"], "created");
        let statuses: Vec<_> = r.body["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            statuses.contains(&("acme_agent_whisper_AUTO".into(), "missing".into())),
            "{statuses:?}"
        );

        // A flow naming a prompt this instance lacks imports, but does not
        // publish until the prompt exists.
        let r = app
            .post(
                "/api/v1/flows/import?publish=true",
                &app.admin,
                fixture("acme_customer_queue_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(
            r.field(),
            "content.Actions[1].Parameters.Messages[1].PromptId",
            "{}",
            r.body
        );
        assert!(
            r.body["errors"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("no prompt named 'CustomerQueue.wav'"),
            "{}",
            r.body
        );
        let validated = app
            .post(
                "/api/v1/flows/acme_customer_queue_AUTO/validate",
                &app.admin,
                json!({}),
            )
            .await;
        assert_eq!(validated.body["valid"], false, "{}", validated.body);
        let prompt = app.upload_prompt("CustomerQueue.wav", 1.0).await;
        assert_eq!(prompt.status, StatusCode::CREATED, "{}", prompt.body);
        for name in [
            "acme_agent_whisper_AUTO.json",
            "acme_customer_whisper_AUTO.json",
            "acme_customer_queue_AUTO.json",
            "acme_queue_transfer_AUTO.json",
            "acme_contact_flow_module_AUTO.json",
            "acme_hold_AUTO.json",
            "acme_outbound_flow1_AUTO.json",
        ] {
            let r = app
                .post(
                    "/api/v1/flows/import?publish=true",
                    &app.admin,
                    fixture(name),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
            assert_eq!(r.body["published_version"], 1, "{name}: {}", r.body);
        }
        // The main flow calls a function this instance does not have yet:
        // publishing is refused, naming the parameter.
        let r = app
            .post(
                "/api/v1/flows/import?publish=true",
                &app.admin,
                fixture("acme_main_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        // Kept in the flow attributes the blocks read (Connect's newer designer).
        assert_eq!(
            r.field(),
            "content.Actions[6].Parameters.FlowAttributes.acme-exampleFunction.Value",
            "{}",
            r.body
        );
        let r = app
            .post(
                "/api/v1/flows/import",
                &app.admin,
                fixture("acme_main_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mappings = r.body["mappings"].as_array().unwrap();
        let function = mappings
            .iter()
            .find(|m| m["name"] == "acme-exampleFunction-use1")
            .unwrap();
        assert_eq!(
            function["status"], "missing",
            "no external function of that name yet"
        );
        let unknown: Vec<_> = r.body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("no function named")
            })
            .collect();
        assert_eq!(unknown.len(), 1, "{}", r.body["problems"]);
        let created = app
            .post(
                "/api/v1/external-functions",
                &app.admin,
                json!({"name": "acme-exampleFunction-use1", "url": "http://127.0.0.1:9/lookup"}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let r = app
            .post(
                "/api/v1/flows/import?publish=true",
                &app.admin,
                fixture("acme_main_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mappings = r.body["mappings"].as_array().unwrap();
        let by_name = |n: &str| {
            mappings
                .iter()
                .find(|m| m["name"] == n)
                .unwrap_or_else(|| panic!("no mapping for {n}: {mappings:?}"))
        };
        let finance = app.get("/api/v1/queues/finance", &app.admin).await.body["id"].clone();
        assert_eq!(by_name("finance")["status"], "mapped");
        assert_eq!(by_name("finance")["local_id"], finance);
        assert_eq!(by_name("acme_queue_transfer_AUTO")["status"], "mapped");
        assert_eq!(by_name("acme_contact_flow_module_AUTO")["status"], "mapped");
        assert_eq!(by_name("acme-exampleFunction-use1")["status"], "mapped");
        assert_eq!(by_name("ACME-lexbot2-tfdemo")["status"], "kept");
        assert_eq!(r.body["published_version"], 1);
        // The flow now names the local queue by id.
        let content = &r.body["flow"]["content"];
        let attrs = content["Actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Identifier"] == "FLOW_OBJECT_MAPS#")
            .unwrap();
        assert_eq!(
            attrs["Parameters"]["FlowAttributes"]["finance"]["Value"],
            finance
        );
        assert_eq!(
            app.get("/api/v1/flows/acme_contact_flow_module_AUTO", &app.admin)
                .await
                .body["type"],
            "FLOW_MODULE"
        );

        // Importing again replaces the draft.
        let again = app
            .post(
                "/api/v1/flows/import",
                &app.admin,
                fixture("acme_main_AUTO.json"),
            )
            .await;
        assert_eq!(again.body["action"], "updated");
        let bad = app
            .post(
                "/api/v1/flows/import",
                &app.admin,
                json!({"Name": "X", "Type": "NOPE", "Content": "{}"}),
            )
            .await;
        assert_eq!((bad.status, bad.field()), (StatusCode::BAD_REQUEST, "Type"));
        let bad = app
            .post(
                "/api/v1/flows/import",
                &app.admin,
                json!({"Name": "X", "Type": "CONTACT_FLOW"}),
            )
            .await;
        assert_eq!(bad.field(), "Content", "{}", bad.body);
    }
}

fn corpus(name: &str) -> Value {
    let path = format!(
        "{}/../switchboard-flow/tests/corpus/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn flows_import_in_every_shape_connect_gives_them() {
    for app in apps().await {
        // What `aws connect describe-contact-flow` prints: the flow's own
        // type applies.
        let described = corpus(
            "amazon-connect__amazon-connect-salesforce-scv__scv-agent-whisper-streaming.json",
        );
        let r = app
            .post("/api/v1/flows/import", &app.admin, described.clone())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body["flow"]["type"], described["ContactFlow"]["Type"],
            "{}",
            r.body
        );
        // A bare flow as the console saves it: name and type from its Metadata,
        // or from the parameters.
        let mut bare = hours_check(true);
        bare["Metadata"] = json!({"name": "Saved from the console", "type": "customerQueue"});
        let r = app.post("/api/v1/flows/import", &app.admin, bare).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["flow"]["name"], "Saved from the console");
        assert_eq!(r.body["flow"]["type"], "CUSTOMER_QUEUE");
        let r = app
            .post(
                "/api/v1/flows/import?name=Hours%20only&type=CONTACT_FLOW",
                &app.admin,
                hours_check(true),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["flow"]["name"], "Hours only");
        let r = app
            .post("/api/v1/flows/import", &app.admin, hours_check(true))
            .await;
        assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "name"));
    }
}

/// A flow that names a queue and hours by literal names.
fn queue_then_hours(queue: &str, hours: &str) -> Value {
    json!({"Version": "2019-10-30", "StartAction": "queue", "Actions": [
        {"Identifier": "queue", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": queue},
         "Transitions": {"NextAction": "hours", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "hours", "Type": "CheckHoursOfOperation", "Parameters": {"HoursOfOperationId": hours},
         "Transitions": {"NextAction": "bye", "Conditions": [
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["True"]}},
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["False"]}}],
          "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

#[tokio::test]
async fn a_misspelt_queue_or_hours_fails_validation_and_blocks_publishing() {
    for app in apps().await {
        let r = app
            .post(
                "/api/v1/flows",
                &app.admin,
                json!({"name": "Typo", "type": "CONTACT_FLOW", "content": queue_then_hours("Billng", "Basic Hours")}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "a draft may name anything: {}",
            r.body
        );
        let v = app
            .post("/api/v1/flows/Typo/validate", &app.admin, json!({}))
            .await;
        assert_eq!(v.body["valid"], false, "{}: {}", app.backend, v.body);
        let problem = &v.body["problems"][0];
        assert_eq!(problem["path"], "Actions[0].Parameters.QueueId");
        assert_eq!(problem["action"], "queue");
        assert!(
            problem["message"]
                .as_str()
                .unwrap()
                .starts_with("no queue named 'Billng'"),
            "{problem}"
        );
        let p = app
            .post("/api/v1/flows/Typo/publish", &app.admin, json!({}))
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.body);
        assert_eq!(p.field(), "content.Actions[0].Parameters.QueueId");

        // Fixed queue, misspelt hours: the next error; ids work as names do.
        let basic = app.get("/api/v1/queues/BasicQueue", &app.admin).await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .put(
                "/api/v1/flows/Typo",
                &app.admin,
                json!({"name": "Typo", "type": "CONTACT_FLOW", "content": queue_then_hours(&basic, "Basic Hour")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let p = app
            .post("/api/v1/flows/Typo/publish", &app.admin, json!({}))
            .await;
        assert_eq!(
            p.field(),
            "content.Actions[1].Parameters.HoursOfOperationId"
        );

        // A name no object can have (a NUL) is simply not there, on every database.
        app.put(
            "/api/v1/flows/Typo",
            &app.admin,
            json!({"name": "Typo", "type": "CONTACT_FLOW", "content": queue_then_hours("Bill\u{0}ng", "Basic Hours")}),
        )
        .await;
        let v = app
            .post("/api/v1/flows/Typo/validate", &app.admin, json!({}))
            .await;
        assert_eq!(v.status, StatusCode::OK, "{}: {}", app.backend, v.body);
        assert_eq!(v.body["valid"], false);

        // A value read when the flow runs cannot be checked now, and is not.
        app.put(
            "/api/v1/flows/Typo",
            &app.admin,
            json!({"name": "Typo", "type": "CONTACT_FLOW", "content": queue_then_hours("$.Attributes.queue", "Basic Hours")}),
        )
        .await;
        let p = app
            .post("/api/v1/flows/Typo/publish", &app.admin, json!({}))
            .await;
        assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    }
}

#[tokio::test]
async fn connect_default_prompts_are_made_once_so_exported_queue_flows_publish_and_play() {
    for app in apps().await {
        switchboard_server::bootstrap::ensure_connect_prompts(&app.store, &app.blobs)
            .await
            .unwrap();
        // Again, as every start does: nothing doubles.
        switchboard_server::bootstrap::ensure_connect_prompts(&app.store, &app.blobs)
            .await
            .unwrap();
        let prompts = app.get("/api/v1/prompts", &app.admin).await.body;
        let names: Vec<&str> = prompts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            switchboard_server::bootstrap::CONNECT_PROMPTS.len(),
            "{names:?}"
        );
        assert!(names.contains(&"CustomerQueue.wav") && names.contains(&"Beep.wav"));
        // The audio is there and playable.
        let beep = app.get("/api/v1/prompts/Beep.wav", &app.admin).await.body;
        assert_eq!(beep["audio"]["sample_rate"], 8000, "{beep}");
        assert_eq!(beep["audio"]["duration_ms"], 250, "{beep}");
        let id = beep["id"].as_str().unwrap();
        let audio = app
            .get(&format!("/api/v1/prompts/{id}/audio"), &app.admin)
            .await;
        assert_eq!(audio.status, StatusCode::OK);
        // Connect's customer queue flow names CustomerQueue.wav: it publishes as exported.
        let r = app
            .post(
                "/api/v1/flows/import?publish=true",
                &app.admin,
                fixture("acme_customer_queue_AUTO.json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", app.backend, r.body);
        assert_eq!(r.body["published_version"], 1);
    }
}
