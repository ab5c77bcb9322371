//! Running a browser script from `tests/browser`: node drives Debian's
//! Chromium through playwright-core. The script prints `STEP <name>` lines
//! (the test answers on its stdin when it must act between steps) and a
//! `FAIL ...` line when a check in the page fails; everything it prints is
//! kept to explain a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether node, Chromium and playwright-core are here; under CI their
/// absence is a failure (scripts/test installs them), elsewhere the test skips.
pub fn browser_ready() -> bool {
    driver_ready("/usr/bin/chromium", "playwright-core")
}

/// Whether node, Firefox ESR and puppeteer-core are here (as [`browser_ready`]).
pub fn firefox_ready() -> bool {
    driver_ready("/usr/bin/firefox-esr", "puppeteer-core")
}

fn driver_ready(browser: &str, driver: &str) -> bool {
    let ok = std::path::Path::new(browser).exists()
        && root()
            .join("tests/browser/node_modules")
            .join(driver)
            .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("the browser test needs node, {browser} and tests/browser/node_modules/{driver} (scripts/test installs them)");
    }
    ok
}

/// Checks a softphone call's recording: the caller's tone on the left, the
/// browser's fake microphone on the right, heard from the accept on (the
/// recording starts then; the agent used to be cut while the queue's name
/// was whispered, 1.35 s; the bound leaves room for a busy machine) and
/// after the page was reloaded at `reloaded_at`.
pub async fn check_recording(
    rig: &super::Rig,
    record: &serde_json::Value,
    reloaded_at: chrono::DateTime<chrono::Utc>,
    browser: &str,
) {
    use super::{channels, first_heard_seconds, rms};
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (customer, agent) = channels(&wav);
    let (customer_rms, agent_rms) = (rms(&customer), rms(&agent));
    println!(
        "{browser} recording: {} s, customer RMS {customer_rms:.0}, agent RMS {agent_rms:.0}",
        customer.len() / 8000
    );
    assert!(
        customer_rms > 1000.0,
        "the caller was not heard: {customer_rms}"
    );
    assert!(agent_rms > 100.0, "the agent was not heard: {agent_rms}");
    let first_heard = first_heard_seconds(&agent, 100.0);
    println!("{browser}: accept to the agent's first audio in the recording: {first_heard:?} s");
    assert!(
        first_heard.is_some_and(|s| s < 1.0),
        "the agent's first words were cut: first heard at {first_heard:?} s"
    );
    let ended_at: chrono::DateTime<chrono::Utc> = record["disconnect_timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after_reload = (ended_at - reloaded_at).num_milliseconds().max(0) as usize * 8;
    let tail = &agent[agent.len().saturating_sub(after_reload)..];
    assert!(tail.len() >= 8000, "too little audio after the reload");
    assert!(
        rms(tail) > 100.0,
        "the agent was not heard after the reload: {}",
        rms(tail)
    );
}

/// A running browser script.
pub struct Browser {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
    /// Everything the script printed so far.
    pub transcript: Vec<String>,
    quiet_for: Duration,
}

impl Browser {
    /// Runs `tests/browser/<script>` with `env`; a step must come within `quiet_for`.
    pub fn start(script: &str, env: &[(&str, String)], quiet_for: Duration) -> Browser {
        let mut command = tokio::process::Command::new("node");
        command
            .arg(root().join("tests/browser").join(script))
            .env("NODE_PATH", root().join("tests/browser/node_modules"))
            .current_dir(root().join("tests/browser"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("run node");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        Browser {
            child,
            lines,
            stdin,
            transcript: Vec::new(),
            quiet_for,
        }
    }

    /// The next step the script reports.
    pub async fn step(&mut self) -> String {
        loop {
            let line = tokio::time::timeout(self.quiet_for, self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!("the browser went quiet:\n{}", self.transcript.join("\n"))
                })
                .unwrap();
            let Some(line) = line else {
                panic!("the browser script ended:\n{}", self.transcript.join("\n"));
            };
            println!("browser: {line}");
            self.transcript.push(line.clone());
            if line.starts_with("FAIL") {
                panic!("browser: {line}\n{}", self.transcript.join("\n"));
            }
            if let Some(step) = line.strip_prefix("STEP ") {
                return step.to_string();
            }
        }
    }

    /// Every step the script reports, up to and including `DONE`.
    pub async fn steps_until_done(&mut self) -> Vec<String> {
        let mut steps = Vec::new();
        loop {
            let step = self.step().await;
            let done = step == "DONE";
            steps.push(step);
            if done {
                return steps;
            }
        }
    }

    /// Tells the script something (a line on its stdin).
    pub async fn tell(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Closes its stdin and waits for the script to end, which it must do successfully.
    pub async fn finish(self) {
        let Browser {
            mut child,
            stdin,
            transcript,
            ..
        } = self;
        drop(stdin);
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("the browser closed")
            .unwrap();
        assert!(status.success(), "browser: {}", transcript.join("\n"));
    }
}
