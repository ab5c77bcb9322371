//! baresip (Debian `baresip-core`) as a real SIP phone: a configuration
//! folder of its own, SIP and RTP on ports reserved for the test, and its
//! `ctrl_tcp` module to give commands and read its events (netstrings of
//! JSON: `{"command": "dial", "params": "..."}` in; `{"event": true,
//! "type": "CALL_ESTABLISHED", ...}` and `{"response": true, ...}` out).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{free_port, until, DEADLINE};

/// Whether baresip is installed; under CI its absence fails the test.
pub fn baresip_ready() -> bool {
    let ok = std::process::Command::new("baresip")
        .arg("-h")
        .output()
        .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("baresip is missing (Debian package baresip-core); .ci/run installs it");
    }
    ok
}

/// How a baresip phone is set up.
pub struct PhoneSetup<'a> {
    /// The account line's address of record, e.g.
    /// `<sip:deskagent@127.0.0.1:5060;transport=tcp>`.
    pub aor: String,
    pub password: &'a str,
    /// Seconds between REGISTERs (0: never registers).
    pub regint: u32,
    /// `auto` answers every call; `manual` lets it ring.
    pub answermode: &'a str,
    /// A CA certificate (PEM) to trust, for SIP over TLS.
    pub cafile: Option<&'a std::path::Path>,
    /// Audio codec modules to load (`g711`, `g722`).
    pub codecs: &'a [&'a str],
    /// Media encryption for the account (`srtp-mand`: SRTP with SDES keys
    /// or no call), loading the srtp module.
    pub mediaenc: Option<&'a str>,
    /// The tone it sends, in Hz (its microphone is a sine generator).
    pub tone_hz: u32,
}

impl PhoneSetup<'static> {
    /// A caller's phone: no registration, rings rather than answers,
    /// speaking `codecs` and saying a `tone_hz` tone; it dials the test
    /// number from +447700900123.
    pub fn caller(codecs: &'static [&'static str], tone_hz: u32) -> PhoneSetup<'static> {
        PhoneSetup {
            aor: "<sip:+447700900123@127.0.0.1>".into(),
            password: "unused",
            regint: 0,
            answermode: "manual",
            cafile: None,
            codecs,
            mediaenc: None,
            tone_hz,
        }
    }
}

/// One running baresip.
pub struct Baresip {
    child: tokio::process::Child,
    ctrl: tokio::sync::Mutex<tokio::net::tcp::OwnedWriteHalf>,
    events: Arc<Mutex<Vec<Value>>>,
    /// The port it takes SIP on (UDP and TCP).
    pub sip_port: u16,
    /// Its configuration folder (what it heard and sent is recorded there
    /// by the sndfile module, `dump-*-dec.wav` and `-enc.wav`).
    pub dir: PathBuf,
}

impl Baresip {
    /// Starts baresip with one account and waits for its control socket.
    pub async fn start(name: &str, setup: PhoneSetup<'_>) -> Baresip {
        let sip_port = free_port();
        let ctrl_port = free_port();
        let rtp = switchboard_testkit::ports::block(8);
        let dir = std::env::temp_dir().join(format!(
            "switchboard-baresip-{}-{name}-{sip_port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             net_interface 127.0.0.1\n\
             rtp_ports {rtp}-{}\n\
             rtp_timeout 0\n\
             module_path /usr/lib/baresip/modules\n\
             {codec_modules}\
             module ausine.so\n\
             module aufile.so\n\
             module sndfile.so\n\
             snd_path {dir}\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             audio_player aufile,{heard}\n\
             audio_source ausine,{tone}\n\
             ausrc_srate 48000\n\
             ausrc_channels 2\n\
             audio_alert aufile,/dev/null\n",
            rtp + 7,
            heard = dir.join("heard.wav").display(),
            tone = setup.tone_hz,
            dir = dir.display(),
            codec_modules = setup
                .codecs
                .iter()
                .map(|c| format!("module {c}.so\n"))
                .collect::<String>(),
        );
        let config = match setup.cafile {
            Some(ca) => format!("{config}sip_cafile {}\n", ca.display()),
            None => config,
        };
        let (config, mediaenc) = match setup.mediaenc {
            Some(kind) => (
                format!("{config}module srtp.so\n"),
                format!(";mediaenc={kind}"),
            ),
            None => (config, String::new()),
        };
        std::fs::write(dir.join("config"), config).unwrap();
        let account = format!(
            "{};auth_pass={};regint={};answermode={}{mediaenc}\n",
            setup.aor, setup.password, setup.regint, setup.answermode
        );
        std::fs::write(dir.join("accounts"), account).unwrap();
        let log = std::fs::File::create(dir.join("log.txt")).unwrap();
        let child = tokio::process::Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .arg("-v")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("baresip starts");
        let mut child = child;
        tokio::select! {
            _ = switchboard_testkit::wait::tcp_listening(ctrl_port) => {}
            ended = child.wait() => panic!(
                "baresip ended before listening ({ended:?}): {}",
                std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default()
            ),
        }
        let stream = TcpStream::connect(("127.0.0.1", ctrl_port)).await.unwrap();
        let (mut read, write) = stream.into_split();
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n) = read.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some((message, used)) = netstring(&buf) {
                    if let Ok(v) = serde_json::from_slice::<Value>(message) {
                        seen.lock().unwrap().push(v);
                    }
                    buf.drain(..used);
                }
            }
        });
        Baresip {
            child,
            ctrl: tokio::sync::Mutex::new(write),
            events,
            sip_port,
            dir,
        }
    }

    /// Gives a command (as typed at its menu, without the slash).
    pub async fn command(&self, command: &str, params: &str) {
        let body = json!({"command": command, "params": params, "token": command}).to_string();
        let framed = format!("{}:{body},", body.len());
        self.ctrl
            .lock()
            .await
            .write_all(framed.as_bytes())
            .await
            .unwrap();
    }

    /// Waits for an event of `kind` (e.g. `REGISTER_OK`, `CALL_INCOMING`,
    /// `CALL_ESTABLISHED`, `CALL_CLOSED`): the `nth` one (from 1).
    pub async fn event(&self, kind: &str, nth: usize) -> Value {
        until(
            &format!("baresip event {kind} #{nth} ({})", self.dir.display()),
            DEADLINE,
            || async {
                let seen = self.events.lock().unwrap();
                seen.iter()
                    .filter(|e| e["event"] == true && e["type"] == kind)
                    .nth(nth - 1)
                    .cloned()
                    .ok_or_else(|| {
                        seen.iter()
                            .map(|e| e["type"].as_str().unwrap_or("response").to_string())
                            .collect::<Vec<_>>()
                    })
            },
        )
        .await
    }

    /// How many events of `kind` it has sent so far.
    pub fn count(&self, kind: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == true && e["type"] == kind)
            .count()
    }

    /// What it heard on its calls so far (the sndfile module's decoded
    /// audio, mono at the codec's rate: 8 kHz for G.711), one call after another.
    pub fn heard(&self) -> Vec<i16> {
        self.heard_at().1
    }

    /// [`Baresip::heard`] and its sample rate (16 kHz for G.722).
    pub fn heard_at(&self) -> (u32, Vec<i16>) {
        let mut rate = 8_000;
        let samples = self
            .dumps()
            .iter()
            .flat_map(|p| {
                hound::WavReader::open(p)
                    .map(|r| {
                        rate = r.spec().sample_rate;
                        r.into_samples::<i16>()
                            .filter_map(Result::ok)
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        (rate, samples)
    }

    /// Bytes of decoded audio written so far, header included (the WAV's
    /// header gets its length only when the call ends: this grows during it).
    pub fn heard_bytes(&self) -> u64 {
        self.dumps()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// The sndfile module's files of decoded audio, in order.
    fn dumps(&self) -> Vec<PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        files
    }

    /// Its log so far (to explain a failure).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.txt")).unwrap_or_default()
    }

    /// Quits as a user would (it unregisters first) and waits for it to end.
    pub async fn quit(mut self) {
        self.command("quit", "").await;
        let ended = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(ended.is_ok(), "baresip did not quit: {}", self.log());
    }
}

/// One netstring (`len:bytes,`) at the start of `buf`: its bytes and the
/// length it took, or None while incomplete.
fn netstring(buf: &[u8]) -> Option<(&[u8], usize)> {
    let colon = buf.iter().position(|b| *b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + len;
    (buf.len() > end).then(|| (&buf[colon + 1..end], end + 1))
}
