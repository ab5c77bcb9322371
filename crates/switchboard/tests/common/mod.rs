//! What the binary's tests share: starting the real `switchboard serve`,
//! signing in, and reading the API.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ADMIN_PASSWORD: &str = "First-Start-Passw0rd";

pub struct Server {
    pub child: Child,
    pub base: String,
    /// What the server printed up to "listening".
    pub banner: Vec<String>,
    /// Everything it printed after (the log), as it comes.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub async fn start(data_dir: &std::path::Path, database_url: Option<&str>, demo: bool) -> Server {
    start_with(data_dir, database_url, demo, None).await
}

/// Like [`start`], with the process allowed at most `descriptors` open
/// files (through util-linux's `prlimit`), as on a host set up tightly.
pub async fn start_with(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    demo: bool,
    descriptors: Option<u64>,
) -> Server {
    launch(data_dir, database_url, demo, descriptors, Some("warn")).await
}

/// A demo server logging with `rust_log` (`None`: its built-in filter).
pub async fn start_logging(data_dir: &std::path::Path, rust_log: Option<&str>) -> Server {
    launch(data_dir, None, true, None, rust_log).await
}

async fn launch(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    demo: bool,
    descriptors: Option<u64>,
    rust_log: Option<&str>,
) -> Server {
    let mut cmd = match descriptors {
        Some(n) => {
            let mut cmd = Command::new("prlimit");
            cmd.arg(format!("--nofile={n}:{n}"))
                .arg("--")
                .arg(env!("CARGO_BIN_EXE_switchboard"));
            cmd
        }
        None => Command::new(env!("CARGO_BIN_EXE_switchboard")),
    };
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--sip-listen")
        .arg("127.0.0.1:0");
    if let Some(url) = database_url {
        cmd.arg("--database-url").arg(url);
    }
    if demo {
        cmd.arg("--demo");
    }
    match rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    let mut child = cmd
        .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start switchboard");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push(line.clone());
            if let Some(rest) = line.strip_prefix("Switchboard is listening on ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("switchboard exited before listening: {banner:?}");
    })
    .await
    .expect("switchboard did not start within 60 s");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep.lock().unwrap().push(line);
        }
    });
    Server {
        child,
        base,
        banner,
        log,
    }
}

pub async fn login(client: &reqwest::Client, base: &str) -> String {
    login_as(client, base, "admin", ADMIN_PASSWORD).await
}

pub async fn login_as(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {r}"))
        .to_string()
}

/// A request with a bearer token and an optional JSON body: status and body.
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

impl Server {
    /// The SIP address the server printed.
    pub fn sip(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("SIP (trunks and desk phones) on "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no SIP address in {:?}", self.banner))
            .to_string()
    }
}

/// Whether SIPp is here; under CI its absence fails.
pub fn sipp_ready() -> bool {
    if std::process::Command::new("sipp")
        .arg("-v")
        .output()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "sipp is missing (sip-tester)"
    );
    false
}

pub async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Value) {
    let r = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A SIPp caller rings the demo number on the real binary and hangs up
/// during the greeting; the call leaves its contact record.
pub async fn demo_call(client: &reqwest::Client, server: &Server, token: &str, label: &str) {
    if !sipp_ready() {
        return;
    }
    let sip = server.sip();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../switchboard-tests/tests/sipp/caller_hangs_up.xml"
    );
    let port = switchboard_testkit::ports::port();
    let out = tokio::process::Command::new("sipp")
        .args([
            sip.as_str(),
            "-sf",
            scenario,
            "-s",
            "442079460123",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args([
            "-d",
            "1500",
            "-m",
            "1",
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
        ])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: demo call: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let what = format!("{label}: the demo call's finished contact record");
    let contacts =
        switchboard_testkit::wait::until(&what, switchboard_testkit::wait::DEADLINE, || async {
            let (_, contacts) = get(client, &server.base, token, "/api/v1/contacts").await;
            if contacts["items"][0]["state"] == "ENDED" {
                Ok(contacts)
            } else {
                Err(contacts)
            }
        })
        .await;
    assert_eq!(
        contacts["items"][0]["disconnect_reason"], "CUSTOMER_DISCONNECT",
        "{label}"
    );
    assert_eq!(
        contacts["items"][0]["system_endpoint"]["address"], "+442079460123",
        "{label}"
    );
}
