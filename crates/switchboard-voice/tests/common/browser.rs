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
/// absence is a failure (.ci/run installs them), elsewhere the test skips.
pub fn browser_ready() -> bool {
    let ok = std::path::Path::new("/usr/bin/chromium").exists()
        && root()
            .join("tests/browser/node_modules/playwright-core")
            .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("the browser test needs node, /usr/bin/chromium and tests/browser/node_modules (.ci/run installs them)");
    }
    ok
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
