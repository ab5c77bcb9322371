//! The administrators' console in a real browser: headless Chromium (Debian's,
//! driven by playwright-core from tests/browser) signs in at `/console` as the
//! admin, creates a queue (after one the API refuses, whose error shows next
//! to its field), a routing profile taking calls from it, an agent on that
//! profile, a phone number running a published flow and a prompt (a refused
//! file, then a WAV uploaded and played back); then the agent signs
//! in and sees only the kinds their profile lets them read. The browser script
//! (tests/browser/console.mjs) prints `STEP <name>` lines; screenshots land in
//! `artifacts/console/`. What the page created is checked through the API.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules`; under
//! CI their absence fails (.ci/run installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::browser::{browser_ready, root, Browser};
use common::*;
use serde_json::{json, Value};

const FLOW: &str = "Console greeting";
const NUMBER_E164: &str = "+442079460555";

fn hang_up_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "bye", "Actions": [
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

/// The one object of `kind` called `name` (or with that `field`).
async fn find(rig: &Rig, kind: &str, field: &str, name: &str) -> Value {
    let list = rig.call("GET", &format!("/{kind}"), None, None).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o[field] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} with {field} {name}: {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_configures_the_centre_in_the_console() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    let flow = rig
        .call(
            "POST",
            "/flows",
            Some(json!({"name": FLOW, "type": "CONTACT_FLOW", "content": hang_up_flow()})),
            None,
        )
        .await;
    let flow_id = flow["id"].as_str().unwrap().to_string();
    rig.call("POST", &format!("/flows/{flow_id}/publish"), None, None)
        .await;

    let artifacts = root().join("artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);
    // A Lex V2 export, zipped as Lex gives it, for the page to import.
    let bot_dir = tempfile::tempdir().unwrap();
    let bot_zip = bot_dir.path().join("OrderFlowers-DRAFT-LexJson.zip");
    let fixture = root().join("crates/switchboard-nlu/tests/fixtures/lexv2/OrderFlowers");
    std::fs::write(&bot_zip, zip_tree(&fixture)).unwrap();
    let mut browser = Browser::start(
        "console.mjs",
        &[
            ("CONSOLE_URL", rig.origin.clone()),
            ("CONSOLE_USER", "admin".to_string()),
            ("CONSOLE_PASSWORD", ADMIN_PASSWORD.to_string()),
            ("AGENT_PASSWORD", AGENT_PASSWORD.to_string()),
            ("FLOW_NAME", FLOW.to_string()),
            ("PHONE_NUMBER", NUMBER_E164.to_string()),
            ("CONSOLE_ARTIFACTS", artifacts.display().to_string()),
            ("BOT_ZIP", bot_zip.display().to_string()),
        ],
        Duration::from_secs(60),
    );
    let steps = browser.steps_until_done().await;
    assert_eq!(
        steps,
        [
            "SIGNED_IN",
            "QUEUE",
            "ROUTING_PROFILE",
            "USER",
            "PHONE_NUMBER",
            "PROMPT",
            "HOURS",
            "PERMISSIONS",
            "USERS_IMPORTED",
            "BOT",
            "API_KEY",
            "AUDIT",
            "AGENT",
            "DONE"
        ]
    );
    browser.finish().await;

    // What the page created, as the API sees it.
    let queue = find(&rig, "queues", "name", "Escalations").await;
    assert_eq!(queue["max_contacts"], 5, "{queue}");
    let queue_id = queue["id"].as_str().unwrap();
    let profile = find(&rig, "routing-profiles", "name", "Escalation desk").await;
    assert_eq!(profile["queue_configs"][0]["queue"], queue_id, "{profile}");
    assert_eq!(profile["queue_configs"][0]["channel"], "VOICE", "{profile}");
    assert_eq!(profile["default_outbound_queue"], queue_id, "{profile}");
    let user = find(&rig, "users", "username", "erin").await;
    assert_eq!(user["routing_profile"], profile["id"], "{user}");
    let agent = find(&rig, "security-profiles", "name", "Agent").await;
    assert_eq!(user["security_profiles"], json!([agent["id"]]), "{user}");
    // The weekly grid: five weekdays 9 to 5 and a Saturday morning, in London.
    let hours = find(&rig, "hours-of-operation", "name", "Weekdays").await;
    assert_eq!(hours["time_zone"], "Europe/London", "{hours}");
    let config = hours["config"].as_array().unwrap();
    assert_eq!(config.len(), 6, "{hours}");
    assert_eq!(
        config[0],
        json!({"day": "MONDAY", "start": {"hours": 9, "minutes": 0}, "end": {"hours": 17, "minutes": 0}})
    );
    assert_eq!(config[5]["day"], "SATURDAY");
    assert_eq!(config[5]["start"]["hours"], 10);
    assert_eq!(config[5]["end"]["hours"], 13);
    let leads = find(&rig, "security-profiles", "name", "Team leads").await;
    assert_eq!(
        leads["permissions"],
        json!(["AuditLog.View", "Users.View"]),
        "{leads}"
    );
    // The CSV's good row, with its phone settings; the bad one made nothing.
    let frank = find(&rig, "users", "username", "frank").await;
    assert_eq!(frank["routing_profile"], profile["id"], "{frank}");
    assert_eq!(frank["phone_config"]["auto_accept"], true, "{frank}");
    assert_eq!(
        frank["phone_config"]["after_contact_work_timeout_seconds"], 30,
        "{frank}"
    );
    let users = rig.call("GET", "/users", None, None).await;
    assert!(!users["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["username"] == "gina"));
    let number = find(&rig, "phone-numbers", "number", NUMBER_E164).await;
    assert_eq!(number["flow"], flow_id.as_str(), "{number}");
    // The prompt the page uploaded: the WAV's 1.5 s, its markup kept as text;
    // the refused upload stored nothing.
    let prompt = find(&rig, "prompts", "name", "Closed message").await;
    assert_eq!(prompt["audio"]["duration_ms"], 1500, "{prompt}");
    assert_eq!(
        prompt["description"],
        r#"<img src=x onerror="window.__injected=1">"#
    );
    let prompts = rig.call("GET", "/prompts", None, None).await;
    assert_eq!(prompts["items"].as_array().unwrap().len(), 1, "{prompts}");
    // Exactly one queue called Escalations: the refused attempts stored nothing.
    let queues = rig.call("GET", "/queues", None, None).await;
    let named = queues["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["name"] == "Escalations")
        .count();
    assert_eq!(named, 1);
    // The agent signs in with the password the page set.
    rig.login("erin", AGENT_PASSWORD).await;

    for shot in [
        "signed-in",
        "queue-error",
        "routing-profile-list",
        "user-list",
        "phone-number-list",
        "prompt-error",
        "prompt-listen",
        "agent-sidebar",
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

/// A folder's files as a zip, paths relative to it.
fn zip_tree(root: &std::path::Path) -> Vec<u8> {
    fn walk(
        dir: &std::path::Path,
        root: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = std::collections::BTreeMap::new();
    walk(root, root, &mut files);
    switchboard_nlu::lexv2::zip(&files).unwrap()
}
