//! The real binary, over real HTTP: first start, demo seeding, and that
//! everything survives the process being killed and started again, on
//! SQLite and PostgreSQL.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod common;

use common::*;

async fn first_start_demo_and_restart(database_url: Option<&str>, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let mut server = start(dir.path(), database_url, true).await;
    let base = server.base.clone();
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("Created administrator 'admin'")),
        "{label}: {:?}",
        server.banner
    );
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("Created demo agent 'alice' with password: ")),
        "{label}"
    );
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The CCP is served by the binary itself, page and assets.
    for (path, kind, text) in [
        ("/ccp", "text/html", "Contact Control Panel"),
        ("/ccp/ccp.js", "text/javascript", "RTCPeerConnection"),
        ("/ccp/ccp.css", "text/css", ".contact"),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(r.text().await.unwrap().contains(text), "{path}");
    }

    let token = login(&client, &base).await;
    // The demo centre: a number running the inbound flow, two queues, a routing profile, two agents.
    let (_, number) = get(
        &client,
        &base,
        &token,
        "/api/v1/phone-numbers/+442079460123",
    )
    .await;
    let (_, flow) = get(&client, &base, &token, "/api/v1/flows/Demo%20inbound").await;
    assert_eq!(number["flow"], flow["id"], "{label}");
    let (_, versions) = get(
        &client,
        &base,
        &token,
        "/api/v1/flows/Demo%20inbound/versions",
    )
    .await;
    assert_eq!(
        versions["items"][0]["version"], 1,
        "{label}: the demo flow is published"
    );
    for q in ["Sales", "Support"] {
        assert_eq!(
            get(&client, &base, &token, &format!("/api/v1/queues/{q}"))
                .await
                .0,
            200,
            "{label}: {q}"
        );
    }
    let (_, profile) = get(
        &client,
        &base,
        &token,
        "/api/v1/routing-profiles/Demo%20agents",
    )
    .await;
    for agent in ["alice", "bob"] {
        let (status, user) = get(&client, &base, &token, &format!("/api/v1/users/{agent}")).await;
        assert_eq!(status, 200, "{label}");
        assert_eq!(user["routing_profile"], profile["id"], "{label}");
    }

    demo_call(&client, &server, &token, label).await;

    let created = client
        .post(format!("{base}/api/v1/queues"))
        .bearer_auth(&token)
        .json(&json!({"name": "Persisted", "hours_of_operation": "Basic Hours", "max_contacts": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{label}");

    // Killed outright, not shut down politely: committed data must still be there.
    server.child.kill().await.unwrap();

    let server = start(dir.path(), database_url, true).await;
    assert!(
        !server.banner.iter().any(|l| l.starts_with("Created")),
        "{label}: nothing is created twice: {:?}",
        server.banner
    );
    let token = login(&client, &server.base).await;
    let (status, queue) = get(&client, &server.base, &token, "/api/v1/queues/Persisted").await;
    assert_eq!(
        (status, queue["max_contacts"].clone()),
        (200, json!(7)),
        "{label}"
    );
    let (_, users) = get(&client, &server.base, &token, "/api/v1/users").await;
    assert_eq!(
        users["items"].as_array().unwrap().len(),
        3,
        "{label}: admin, alice, bob"
    );
}

#[tokio::test]
async fn sqlite_first_start_demo_and_restart() {
    first_start_demo_and_restart(None, "sqlite").await;
}

#[tokio::test]
async fn postgres_first_start_demo_and_restart() {
    let Some(admin) = switchboard_store::testing::postgres_admin_url() else {
        return;
    };
    let url = switchboard_store::testing::postgres_url(&admin).await;
    first_start_demo_and_restart(Some(&url), "postgres").await;
}

#[tokio::test]
async fn without_espeak_ng_serve_warns_what_fails_and_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    // An empty PATH: espeak-ng cannot be found, as on a machine without it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sip-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("PATH", "")
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start switchboard");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let warning = tokio::time::timeout(switchboard_testkit::wait::DEADLINE, async {
        let mut warning = String::new();
        while let Some(line) = stderr.next_line().await.unwrap() {
            said.push(line.clone());
            warning.push_str(&line);
            warning.push('\n');
            if line.contains("apt-get install espeak-ng") {
                return warning;
            }
        }
        panic!("no warning about espeak-ng: {said:?}");
    })
    .await
    .expect("a warning within the deadline");
    assert!(
        warning.contains("text-to-speech is not available"),
        "{warning}"
    );
    assert!(warning.contains("error branch"), "{warning}");
    // It still serves.
    let listening = tokio::time::timeout(switchboard_testkit::wait::DEADLINE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line.starts_with("Switchboard is listening on ") {
                return line;
            }
        }
        panic!("switchboard exited before listening");
    })
    .await
    .expect("listening within the deadline");
    assert!(listening.contains("http://127.0.0.1:"), "{listening}");
    child.kill().await.unwrap();
}

/// A figure from `/proc/<pid>/status` (VmRSS, VmHWM...), in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_wrong_sign_ins_keeps_memory_bounded_and_a_right_one_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None, false).await;
    let pid = server.child.id().unwrap();
    let base = server.base.clone();
    let client = reqwest::Client::new();
    // A first sign-in starts the password-check threads.
    login(&client, &base).await;
    let before = status_kib(pid, "VmRSS");

    // 500 wrong sign-ins at once, each for another (unknown) username, from
    // 50 addresses (10 each, under the per-address lock): only the bound on
    // password checks holds them.
    let senders: Vec<reqwest::Client> = (0..50)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(
                    format!("127.0.1.{}", 10 + i)
                        .parse::<std::net::IpAddr>()
                        .unwrap(),
                )
                .build()
                .unwrap()
        })
        .collect();
    let storm: Vec<_> = (0..500)
        .map(|i| {
            let (client, base) = (senders[i % senders.len()].clone(), base.clone());
            tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(
                        &json!({"username": format!("nobody-{i}"), "password": "Wrong-Passw0rd-9"}),
                    )
                    .send()
                    .await
                    .unwrap();
                let retry_after = r.headers().get("retry-after").cloned();
                (r.status().as_u16(), retry_after)
            })
        })
        .collect();
    // Meanwhile the right password gets in, as a client that honours
    // Retry-After would.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let refused_first = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    switchboard_testkit::wait::until(
        "the right password accepted during the storm",
        switchboard_testkit::wait::DEADLINE,
        || {
            let (client, base, refused) = (elsewhere.clone(), base.clone(), refused_first.clone());
            async move {
                let r = client
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                match r.status().as_u16() {
                    200 => Ok(()),
                    503 => {
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let wait = r.headers()["retry-after"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                        Err(503)
                    }
                    other => Err(other),
                }
            }
        },
    )
    .await;
    let refused_first = refused_first.load(std::sync::atomic::Ordering::Relaxed);
    let mut counts = std::collections::BTreeMap::new();
    for answer in storm {
        let (status, retry_after) = answer.await.unwrap();
        if status == 503 {
            assert!(retry_after.is_some(), "a 503 says when to come back");
        }
        *counts.entry(status).or_insert(0) += 1;
    }
    let peak = status_kib(pid, "VmHWM");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    println!(
        "500 wrong sign-ins: answers {counts:?}; RSS {} MiB before, peak {} MiB (+{growth_mib:.1} MiB); the right one was refused {refused_first} times first",
        before / 1024,
        peak / 1024
    );
    assert!(
        counts.keys().all(|s| [401, 429, 503].contains(s)),
        "only 401, 429 and 503: {counts:?}"
    );
    assert!(
        counts.get(&503).is_some_and(|n| *n > 0),
        "the bound refused some: {counts:?}"
    );
    assert!(
        growth_mib < 100.0,
        "memory grew {growth_mib:.1} MiB under the storm"
    );
}
