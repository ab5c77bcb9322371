//! linphonec (Debian `linphone-nogtk`, Belledonne's liblinphone 5) as a
//! second real SIP phone beside baresip: a folder of its own with its
//! configuration, SIP and RTP on ports reserved for the test, no sound
//! card (`soundcard use files`: it plays a WAV file as its microphone and
//! records what it hears to another), driven by commands on its standard
//! input and read through what it prints. Its standard input stays open:
//! at end of input linphonec quits, before it has opened a socket.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{free_port, until, DEADLINE};

/// Whether linphonec is installed; under CI its absence fails the test.
pub fn linphone_ready() -> bool {
    let ok = std::path::Path::new("/usr/bin/linphonec").exists();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("linphonec is missing (Debian package linphone-nogtk); .ci/run installs it");
    }
    ok
}

/// One running linphonec.
pub struct Linphone {
    child: tokio::process::Child,
    stdin: tokio::sync::Mutex<tokio::process::ChildStdin>,
    output: Arc<Mutex<String>>,
    /// The port it takes SIP on (UDP and TCP).
    pub sip_port: u16,
    /// Its folder: configuration, `tone.wav` (what it says), `heard.wav`.
    pub dir: PathBuf,
}

impl Linphone {
    /// Starts linphonec saying a `tone_hz` tone, and waits until SIP listens.
    pub async fn start(name: &str, tone_hz: f64) -> Linphone {
        let sip_port = free_port();
        let rtp = switchboard_testkit::ports::block(4);
        let dir = std::env::temp_dir().join(format!(
            "switchboard-linphone-{}-{name}-{sip_port}",
            std::process::id()
        ));
        // Its call history database lives under $HOME.
        std::fs::create_dir_all(dir.join(".local/share/linphone")).unwrap();
        std::fs::write(
            dir.join("rc"),
            format!(
                "[sip]\n\
                 sip_port={sip_port}\n\
                 sip_tcp_port={sip_port}\n\
                 sip_tls_port=0\n\
                 bind_address=127.0.0.1\n\
                 register_only_when_network_is_up=0\n\
                 inc_timeout=60\n\
                 [rtp]\n\
                 audio_rtp_port={rtp}\n\
                 audio_jitt_comp=60\n\
                 [sound]\n\
                 echocancellation=0\n\
                 [video]\n\
                 enabled=0\n"
            ),
        )
        .unwrap();
        // Ten seconds of its tone, 8 kHz mono (it loops what it plays).
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut tone = hound::WavWriter::create(dir.join("tone.wav"), spec).unwrap();
        for i in 0..80_000 {
            let t = i as f64 / 8000.0;
            let s = 6000.0 * (2.0 * std::f64::consts::PI * tone_hz * t).sin();
            tone.write_sample(s as i16).unwrap();
        }
        tone.finalize().unwrap();
        let log = std::fs::File::create(dir.join("log.txt")).unwrap();
        let mut child = tokio::process::Command::new("linphonec")
            .arg("-c")
            .arg(dir.join("rc"))
            // Its SIP messages and media set-up, to explain a failure.
            .arg("-d")
            .arg("5")
            .arg("-l")
            .arg(dir.join("debug.txt"))
            .env("HOME", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("linphonec starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let seen = output.clone();
        // What it prints is kept in memory and in events.txt (to read after a failure).
        let mut events = std::fs::File::create(dir.join("events.txt")).unwrap();
        tokio::spawn(async move {
            use std::io::Write;
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(events, "{line}");
                let mut all = seen.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        tokio::select! {
            _ = switchboard_testkit::wait::udp_bound(sip_port) => {}
            ended = child.wait() => panic!(
                "linphonec ended before listening ({ended:?}): {}",
                std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default()
            ),
        }
        let phone = Linphone {
            child,
            stdin: tokio::sync::Mutex::new(stdin),
            output,
            sip_port,
            dir,
        };
        // IPv4 only: with IPv6 on it offers media at the host's IPv6
        // address, whoever it calls.
        phone.command("ipv6 disable").await;
        // And its addresses in SIP and SDP are loopback, as the test's
        // are: a "NAT address" it advertises instead of the host's. (A call
        // it makes without a proxy still offers media at the host's own
        // address: nothing leaves the host, and symmetric RTP answers
        // where its packets come from, 127.0.0.1.)
        phone.command("nat 127.0.0.1").await;
        phone.command("firewall nat").await;
        phone.command("soundcard use files").await;
        let (tone, heard) = (phone.dir.join("tone.wav"), phone.dir.join("heard.wav"));
        phone.command(&format!("play {}", tone.display())).await;
        phone.command(&format!("record {}", heard.display())).await;
        phone
    }

    /// Types a command at its prompt.
    pub async fn command(&self, line: &str) {
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Waits until it has printed `text` (e.g. `Registration on`,
    /// `successful`, `connected`, `ended`) `nth` times.
    pub async fn printed(&self, text: &str, nth: usize) {
        until(
            &format!(
                "linphonec printing {text:?} #{nth} ({})",
                self.dir.display()
            ),
            DEADLINE,
            || async {
                let out = self.output.lock().unwrap();
                match out.matches(text).count() >= nth {
                    true => Ok(()),
                    false => Err(out.lines().rev().take(5).collect::<Vec<_>>().join(" | ")),
                }
            },
        )
        .await
    }

    /// What it has heard so far, while the call goes on: the samples
    /// after the WAV header, which gets its lengths only when it quits.
    pub fn hearing(&self) -> Vec<i16> {
        let bytes = std::fs::read(self.dir.join("heard.wav")).unwrap_or_default();
        bytes
            .get(44..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// What it has printed so far (its events).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Its debug log so far (to explain a failure).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("debug.txt")).unwrap_or_default()
    }

    /// Quits (it unregisters and closes its recording) and waits for it
    /// to end; then what it heard, 8 kHz mono.
    pub async fn quit(mut self) -> Vec<i16> {
        self.command("quit").await;
        let ended = tokio::time::timeout(DEADLINE, self.child.wait()).await;
        assert!(ended.is_ok(), "linphonec did not quit: {}", self.output());
        hound::WavReader::open(self.dir.join("heard.wav"))
            .map(|r| r.into_samples::<i16>().filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
}
