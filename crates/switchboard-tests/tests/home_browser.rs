//! The landing page in a real browser: headless Chromium (Debian's, driven
//! by playwright-core from tests/browser) opens `/`, which names the
//! instance and signs in; an agent sees the Contact Control Panel and the
//! chat sample, the admin every app; the console opens already signed in
//! and its brand leads back to `/`; the page fits a 390 px phone; the icon
//! is served and the chat sample runs the demo's chat flow. axe-core
//! (pinned) finds no serious or critical violation in any state. The
//! browser script (tests/browser/home.mjs) prints `STEP <name>` lines;
//! screenshots land in `artifacts/home/`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules`; under
//! CI their absence fails (.ci/run installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::browser::{browser_ready, root, Browser};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_landing_page_names_the_instance_and_links_the_apps_each_user_may_open() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let instance = rig
        .http
        .get(format!("{}/instance", rig.base))
        .send()
        .await
        .unwrap();
    assert_eq!(instance.status(), 200, "no sign-in needed");
    let instance: serde_json::Value = instance.json().await.unwrap();
    assert_eq!(instance["name"], INSTANCE_NAME, "{instance}");

    let artifacts = root().join("artifacts/home");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(
        "home.mjs",
        &[
            ("HOME_URL", rig.origin.clone()),
            ("INSTANCE_NAME", INSTANCE_NAME.to_string()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
            ("AGENT_USER", "deskagent".to_string()),
            ("AGENT_PASSWORD", AGENT_PASSWORD.to_string()),
            ("HOME_ARTIFACTS", artifacts.display().to_string()),
        ],
        Duration::from_secs(60),
    );
    let steps = browser.steps_until_done().await;
    assert_eq!(
        steps,
        [
            "SIGN_IN_SHOWN",
            "AGENT_APPS",
            "ADMIN_APPS",
            "ROUND_TRIP",
            "PHONE_WIDTH",
            "CHAT_SAMPLE",
            "DONE"
        ]
    );
    browser.finish().await;
    for shot in ["sign-in", "agent", "admin", "phone"] {
        let found = std::fs::read_dir(&artifacts).unwrap().any(|f| {
            f.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(&format!("{shot}.png"))
        });
        assert!(found, "screenshot {shot}");
    }
}
