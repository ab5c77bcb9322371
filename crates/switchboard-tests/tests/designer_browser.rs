//! The flow designer in a real browser: headless Chromium (Debian's, driven
//! by playwright-core from tests/browser) signs in at `/console/designer` as
//! the admin, builds a menu flow from the palette by dragging connections
//! and filling the side panel, saves, validates (a missing connection is
//! shown and fixed), publishes, imports a real Connect export and simulates
//! the first flow, whose path is highlighted, then sets a phone number to it
//! in the console. Here: a SIPp call to that number runs the designed flow,
//! and simulating it over the API queues for Sales.
//! Screenshots land in `artifacts/designer/`.
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

    // A bot for the designer's bot picker.
    let bot: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../switchboard-nlu/bots/demo-bank.json"
        ))
        .unwrap(),
    )
    .unwrap();
    rig.call("POST", "/bots", Some(bot), None).await;

    // A number without a flow yet (the browser sets it in the console) on a
    // trunk that admits this machine, so a real call can follow.
    rig.call(
        "POST",
        "/sip-trunks",
        Some(json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]})),
        None,
    )
    .await;
    rig.call(
        "POST",
        "/phone-numbers",
        Some(json!({"number": NUMBER})),
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
            ("PHONE_NUMBER", NUMBER.to_string()),
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

    // The console set the number to the designed flow, and a real call to
    // the number runs it.
    let flow = rig.call("GET", &format!("/flows/{FLOW}"), None, None).await;
    let numbers = rig.call("GET", "/phone-numbers", None, None).await;
    let number = numbers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["number"] == NUMBER)
        .unwrap_or_else(|| panic!("{numbers}"));
    assert_eq!(number["flow"], flow["id"], "{number}");
    if sipp_ready() {
        let mut caller = common(
            &rig,
            "caller_hangs_up.xml",
            NUMBER.trim_start_matches('+'),
            "127.0.0.1",
        );
        caller.extend(["-d", "4000"].map(String::from));
        let (code, out) = sipp(&caller).await;
        assert_eq!(code, 0, "{out}");
        let records = rig.ended(1).await;
        assert_eq!(records[0]["flow_id"], flow["id"], "{:#}", records[0]);
        assert_eq!(
            records[0]["flow_path"][0]["action"], "message-participant-1",
            "{:#}",
            records[0]
        );
    }
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
        "number-assigned",
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
