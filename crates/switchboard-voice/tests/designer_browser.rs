//! The flow designer in a real browser: headless Chromium (Debian's, driven
//! by playwright-core from tests/browser) signs in at `/console/designer` as
//! the admin, builds a menu flow from the palette by dragging connections
//! and filling the side panel, saves, validates (a missing connection is
//! shown and fixed), publishes, imports a real Connect export and simulates
//! the first flow, whose path is highlighted. Here: the published version
//! serves a phone number, and simulating it over the API queues for Sales.
//! Screenshots land in `artifacts/designer/`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules`; under
//! CI their absence fails (.ci/run installs them).

mod common;

use std::time::Duration;

use common::browser::{browser_ready, root, Browser};
use common::*;
use serde_json::json;

const FLOW: &str = "Sales menu";
const NUMBER: &str = "+442079460321";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_designs_publishes_and_simulates_a_flow_in_the_browser() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.call(
        "POST",
        "/queues",
        Some(json!({"name": "Sales", "hours_of_operation": "Basic Hours"})),
        None,
    )
    .await;

    let artifacts = root().join("artifacts/designer");
    let _ = std::fs::remove_dir_all(&artifacts);
    let import =
        root().join("../shared/fixtures/connect-exports/flows/acme_outbound_flow1_AUTO.json");
    let mut browser = Browser::start(
        "designer.mjs",
        &[
            ("DESIGNER_URL", rig.origin.clone()),
            ("DESIGNER_USER", "admin".to_string()),
            ("DESIGNER_PASSWORD", ADMIN_PASSWORD.to_string()),
            ("DESIGNER_ARTIFACTS", artifacts.display().to_string()),
            ("FLOW_NAME", FLOW.to_string()),
            ("IMPORT_FILE", import.display().to_string()),
        ],
        Duration::from_secs(60),
    );
    // Every step up to DONE (the script checks each in the page).
    while browser.step().await != "DONE" {}
    browser.finish().await;

    // Version 1 is what the browser built.
    let versions = rig
        .call("GET", &format!("/flows/{FLOW}/versions"), None, None)
        .await;
    let items = versions["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{versions}");
    assert_eq!(items[0]["version"], 1);
    let published = rig
        .call(
            "GET",
            &format!("/flows/{FLOW}/export?version=1"),
            None,
            None,
        )
        .await;
    let content: serde_json::Value =
        serde_json::from_str(published["Content"].as_str().unwrap()).unwrap();
    let types: Vec<&str> = content["Actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "MessageParticipant",
            "GetParticipantInput",
            "UpdateContactTargetQueue",
            "TransferContactToQueue",
            "DisconnectParticipant"
        ],
        "{content}"
    );
    assert_eq!(content["StartAction"], "message-participant-1");
    assert!(content["Metadata"]["ActionMetadata"]["to-sales"]["position"]["x"].is_number());

    // The published flow answers a number, and queues a caller who presses 1.
    let number = rig
        .call(
            "POST",
            "/phone-numbers",
            Some(json!({"number": NUMBER, "flow": FLOW})),
            None,
        )
        .await;
    assert!(
        number["flow"].as_str().is_some_and(|f| !f.is_empty()),
        "{number}"
    );
    let run = rig
        .call(
            "POST",
            &format!("/flows/{FLOW}/simulate"),
            Some(json!({"digits": ["1"], "version": 1, "to": NUMBER})),
            None,
        )
        .await;
    assert_eq!(run["outcome"]["outcome"], "queued", "{run}");
    let path: Vec<&str> = run["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "message-participant-1",
            "get-participant-input-1",
            "update-contact-target-queue-1",
            "to-sales"
        ]
    );
    let timeout = rig
        .call(
            "POST",
            &format!("/flows/{FLOW}/simulate"),
            Some(json!({"digits": ["timeout"], "version": 1})),
            None,
        )
        .await;
    assert_eq!(timeout["outcome"]["outcome"], "disconnected", "{timeout}");

    for shot in [
        "actions-added",
        "connected-saved",
        "validation-problem",
        "validation-fixed",
        "published",
        "imported",
        "simulated",
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
