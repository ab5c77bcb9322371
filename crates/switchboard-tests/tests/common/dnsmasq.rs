//! dnsmasq (Debian `dnsmasq-base`) as a carrier's DNS: NAPTR, SRV and A
//! records given on its command line, served on a loopback port reserved
//! for the test, nothing else (no upstream, no hosts file, no config file).

use std::net::SocketAddr;

use super::free_port;

/// The program: in /usr/sbin, which is not on every user's PATH.
fn program() -> &'static str {
    if std::path::Path::new("/usr/sbin/dnsmasq").exists() {
        "/usr/sbin/dnsmasq"
    } else {
        "dnsmasq"
    }
}

/// Whether dnsmasq is installed; under CI its absence fails the test.
pub fn dnsmasq_ready() -> bool {
    let ok = std::process::Command::new(program())
        .arg("--version")
        .output()
        .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("dnsmasq is missing (Debian package dnsmasq-base); .ci/run installs it");
    }
    ok
}

/// A running dnsmasq, stopped when dropped.
pub struct Dnsmasq {
    child: tokio::process::Child,
    port: u16,
}

impl Dnsmasq {
    /// Serves `records` (dnsmasq options such as `--srv-host=...`) and
    /// waits until it answers on its port.
    pub async fn start(records: &[String]) -> Dnsmasq {
        let port = free_port();
        let child = tokio::process::Command::new(program())
            .args([
                "--keep-in-foreground",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--log-facility=-",
                "--log-queries",
            ])
            .args(records)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("dnsmasq starts");
        switchboard_testkit::wait::udp_bound(port).await;
        Dnsmasq { child, port }
    }

    /// Where it answers.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
