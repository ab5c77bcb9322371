//! schemathesis against the OpenAPI document of the real binary: every
//! operation, its documented examples, the boundaries of every schema and
//! random requests (a bounded number per operation), as the admin. It must
//! find no server error, no response outside the schema, no undocumented
//! status and no wrong content type.
//!
//! scripts/test installs schemathesis (pinned, in a virtualenv) and sets
//! `SCHEMATHESIS`; under CI its absence fails.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::*;

/// Requests per operation and phase: enough to reach every schema's edges,
/// bounded so the run takes about a minute.
const EXAMPLES: &str = "20";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let Some(schemathesis) = std::env::var_os("SCHEMATHESIS") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SCHEMATHESIS is not set (scripts/test installs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None, true).await;
    let client = reqwest::Client::new();
    let token = login(&client, &server.base).await;
    let work = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(schemathesis)
        .current_dir(work.path())
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.base))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", EXAMPLES, "--seed", "20261206"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        // Signing out or changing the admin's password would end the
        // session the run signs its requests with.
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args(["--exclude-path", "/api/v1/users/{id}/password"])
        .args(["--no-color", "--request-timeout", "30"])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("schemathesis finished within 15 minutes")
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && l.starts_with('='))
        .unwrap_or_default();
    println!("schemathesis: {summary}");
    for line in text.lines().filter(|l| l.contains("generated,")) {
        println!("schemathesis: {}", line.trim());
    }
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
