//! What the voice tests share: a server with the voice shell and the CCP on
//! loopback (the [`Rig`]), SIPp helpers, and audio measurements.
#![allow(dead_code)] // each test file uses part of it

pub mod baresip;
pub mod browser;
pub mod dnsmasq;
pub mod linphone;

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_media::g711::Law;
use switchboard_runtime::{AppState, Settings};
use switchboard_server::bootstrap;
use switchboard_store::testing::{stores, TestDb};
use switchboard_store::Blobs;
use switchboard_voice::{Voice, VoiceConfig};

pub use switchboard_testkit::wait::{until, DEADLINE};

pub const ADMIN_PASSWORD: &str = "Admin-Passw0rd";
/// What the rig's instance is called on its pages.
pub const INSTANCE_NAME: &str = "Acme Support";
pub const AGENT_PASSWORD: &str = "Agent-Passw0rd";
pub const SIP_PASSWORD: &str = "desk-phone-secret-1";
pub const NUMBER: &str = "442079460999";

pub fn sipp_ready() -> bool {
    let ok = std::process::Command::new("sipp")
        .arg("-v")
        .output()
        .is_ok();
    if !ok && std::env::var_os("CI").is_some() {
        panic!("sipp is missing (Debian package sip-tester); .ci/run installs it");
    }
    ok
}

/// A scenario from tests/sipp, with `[pcaps]` (SIPp does not expand keys in
/// exec attributes) replaced by the folder of SIPp's audio captures.
pub fn scenario(name: &str) -> String {
    scenario_pressing(name, '1')
}

/// A scenario whose caller presses `digit` where it says `[digit]`.
pub fn scenario_pressing(name: &str, digit: char) -> String {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name);
    let text = std::fs::read_to_string(&source)
        .unwrap()
        .replace("[pcaps]", &pcaps())
        .replace("[digit]", &digit.to_string());
    // A file of its own per call: rewriting a shared one while another
    // test's SIPp reads it would hand that SIPp a truncated scenario.
    static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!(
        "switchboard-{}-{n}-{digit}-{name}",
        std::process::id()
    ));
    std::fs::write(&out, text).unwrap();
    out.display().to_string()
}

pub fn pcaps() -> String {
    std::env::var("SIPP_PCAPS").unwrap_or_else(|_| "/usr/share/sip-tester".into())
}

/// A media port for SIPp (even, with the three above it reserved too: RTCP
/// on the next, and `-rtp_echo` also echoes on the port two above), with a
/// socket already on the RTCP port.
pub fn free_rtp_pair() -> (u16, std::net::UdpSocket) {
    let port = media_port();
    let rtcp = std::net::UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    (port, rtcp)
}

/// A port reserved for this test process: no other test, here or in another
/// process, can take it (see `switchboard_testkit::ports`).
pub fn free_port() -> u16 {
    switchboard_testkit::ports::port()
}

/// A media port for SIPp's `-mp`: even, with the three ports above it
/// reserved too (RTCP, and the port two above that `-rtp_echo` also binds).
pub fn media_port() -> u16 {
    switchboard_testkit::ports::block(4)
}

/// Starts SIPp with `args` in the background (see [`sipp_within`]) and waits
/// until it has bound its SIP port (`args[8]`, after `-p`; listening on
/// it with `-t t1`), so that what is sent to it next is received.
pub async fn sipp_listening(
    args: Vec<String>,
    seconds: u64,
) -> tokio::task::JoinHandle<(i32, String)> {
    let port: u16 = args[8].parse().expect("the SIP port after -p");
    assert_eq!(args[7], "-p", "{args:?}");
    let over_tcp = args.windows(2).any(|w| w[0] == "-t" && w[1] == "t1");
    let mut child = tokio::spawn(async move { sipp_within(&args, seconds).await });
    let bound = async {
        match over_tcp {
            true => switchboard_testkit::wait::tcp_listening(port).await,
            false => switchboard_testkit::wait::udp_bound(port).await,
        }
    };
    tokio::select! {
        _ = bound => child,
        ended = &mut child => panic!("SIPp ended before binding port {port}: {ended:?}"),
    }
}

pub struct Rig {
    pub http: reqwest::Client,
    /// The HTTP origin (`http://127.0.0.1:port`): the CCP is at `{origin}/ccp`.
    pub origin: String,
    /// The API root (`{origin}/api/v1`).
    pub base: String,
    pub token: String,
    pub voice: Voice,
    /// The server's state: its store, blobs and router, for tests that set
    /// data up directly.
    pub app: AppState,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub async fn new() -> Rig {
        Rig::with_media_timeout(Duration::from_secs(60)).await
    }

    pub async fn with_media_timeout(media_timeout: Duration) -> Rig {
        Rig::with(media_timeout, 90).await
    }

    pub async fn with(media_timeout: Duration, min_session_expires: u32) -> Rig {
        Rig::configured(|c| {
            c.media_timeout = media_timeout;
            c.min_session_expires = min_session_expires;
        })
        .await
    }

    /// A rig whose voice settings `tweak` adjusts.
    pub async fn configured(tweak: impl FnOnce(&mut VoiceConfig)) -> Rig {
        Rig::offering(Duration::from_secs(5), tweak).await
    }

    /// A rig whose offers time out after `offer_timeout` (5 s elsewhere, so
    /// missed-offer tests stay short; a test that must accept on a busy
    /// machine gives its agent longer).
    pub async fn offering(offer_timeout: Duration, tweak: impl FnOnce(&mut VoiceConfig)) -> Rig {
        Rig::build(offer_timeout, tweak, Default::default(), "sqlite").await
    }

    /// A rig whose chat channel runs with `chat` (allowed origins, say).
    pub async fn chatting(chat: switchboard_webchat::ChatSettings) -> Rig {
        Rig::build(Duration::from_secs(5), |_| {}, chat, "sqlite").await
    }

    /// A rig on PostgreSQL, when this run has one.
    pub async fn on_postgres() -> Option<Rig> {
        switchboard_store::testing::postgres_admin_url()?;
        Some(
            Rig::build(
                Duration::from_secs(5),
                |_| {},
                Default::default(),
                "postgres",
            )
            .await,
        )
    }

    /// The database's URL.
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    async fn build(
        offer_timeout: Duration,
        tweak: impl FnOnce(&mut VoiceConfig),
        chat: switchboard_webchat::ChatSettings,
        backend: &str,
    ) -> Rig {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "switchboard_voice=info".into()),
            )
            .with_test_writer()
            .try_init();
        let (_, db) = stores()
            .await
            .into_iter()
            .find(|(b, _)| *b == backend)
            .expect("the backend asked for");
        let store = db.store.clone();
        bootstrap::ensure_defaults(&store).await.unwrap();
        bootstrap::ensure_admin(&store, Some(ADMIN_PASSWORD.into()))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let routing = switchboard_runtime::routing::start_with(store.clone(), offer_timeout)
            .await
            .unwrap();
        let state = AppState {
            store: store.clone(),
            blobs: Blobs::local(dir.path()).unwrap(),
            functions: Default::default(),
            login_throttle: Default::default(),
            routing,
            settings: Arc::new(Settings {
                instance_name: INSTANCE_NAME.into(),
                ..Settings::default()
            }),
            metrics: Default::default(),
            trunk_registrations: Default::default(),
        };
        let mut config = VoiceConfig::local("127.0.0.1:0".parse().unwrap());
        // SIPp phones answer no out-of-call OPTIONS: keep-alives would drop
        // them in a long test. The keep-alive test sets its own interval.
        config.keepalive = Duration::from_secs(3600);
        tweak(&mut config);
        let voice = switchboard_voice::start(state.clone(), config)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let base = format!("{origin}/api/v1");
        let chat = switchboard_webchat::ChatHub::new(chat);
        let app = switchboard_server::app(state.clone(), chat.clone())
            .merge(switchboard_ccp::routes(voice.clone(), chat))
            .merge(switchboard_voice::metrics::routes(voice.clone()));
        // The binary's own listener (limits, timeouts, client addresses).
        tokio::spawn(switchboard_server::listen::serve(
            listener,
            app,
            Default::default(),
            std::future::pending(),
        ));
        let http = reqwest::Client::new();
        let mut rig = Rig {
            http,
            origin,
            base,
            token: String::new(),
            voice,
            app: state,
            _db: db,
            _dir: dir,
        };
        rig.token = rig.login("admin", ADMIN_PASSWORD).await;
        rig
    }

    pub fn sip(&self) -> SocketAddr {
        self.voice.local_sip()
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .call(
                "POST",
                "/auth/login",
                Some(json!({"username": user, "password": password})),
                None,
            )
            .await;
        r["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login: {r}"))
            .to_string()
    }

    /// `/metrics`, as Prometheus reads it.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.origin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A contact's cost (`/contacts/{id}/cost`) and its outbound leg.
    pub async fn outbound_leg(&self, contact: &str) -> (Value, Value) {
        let cost = self
            .call("GET", &format!("/contacts/{contact}/cost"), None, None)
            .await;
        let leg = cost["usage"]["legs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["direction"] == "OUTBOUND")
            .cloned()
            .unwrap_or_else(|| panic!("no outbound leg: {cost:#}"));
        (cost, leg)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Value {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token
            .or(Some(self.token.as_str()))
            .filter(|t| !t.is_empty())
        {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let value: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// A trunk for loopback, the menu flow on our number, a desk-phone agent who is Available.
    pub async fn centre(&self) {
        self.centre_with(
            json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
            json!({}),
        )
        .await
    }

    /// A contact flow named `name` with `content`, published, answers the
    /// test number ([`NUMBER`]).
    pub async fn number_runs(&self, name: &str, content: Value) {
        let flow = self
            .call(
                "POST",
                "/flows",
                Some(json!({"name": name, "type": "CONTACT_FLOW", "content": content})),
                None,
            )
            .await;
        let id = flow["id"].as_str().unwrap().to_string();
        self.call("POST", &format!("/flows/{id}/publish"), None, None)
            .await;
        self.call(
            "POST",
            "/phone-numbers",
            Some(json!({"number": format!("+{NUMBER}"), "flow": id})),
            None,
        )
        .await;
    }

    /// `trunk` is the SIP trunk; `phone` is merged into the agent's phone_config.
    pub async fn centre_with(&self, trunk: Value, phone: Value) {
        self.centre_for(trunk, phone, ("deskagent", "Desk", "Agent"))
            .await
    }

    /// Like [`Rig::centre`], the test number running `flow` instead of the menu.
    pub async fn centre_running(&self, flow: Value) {
        let trunk = json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]});
        self.centre_full(trunk, json!({}), ("deskagent", "Desk", "Agent"), flow)
            .await
    }

    /// Like [`Rig::centre_with`], for the agent (username, first and last name) given.
    pub async fn centre_for(&self, trunk: Value, phone: Value, agent: (&str, &str, &str)) {
        self.centre_full(trunk, phone, agent, menu_flow()).await
    }

    /// The centre with `trunk`, `phone` merged into the agent's
    /// phone_config, the agent (username, first and last name) given, and
    /// the test number running `flow`.
    pub async fn centre_full(
        &self,
        trunk: Value,
        phone: Value,
        agent: (&str, &str, &str),
        flow: Value,
    ) {
        let (username, first_name, last_name) = agent;
        self.call("POST", "/sip-trunks", Some(trunk), None).await;
        let mut phone_config = json!({"phone_type": "DESK_PHONE", "after_contact_work_timeout_seconds": 1, "sip_password": SIP_PASSWORD});
        for (k, v) in phone.as_object().unwrap() {
            phone_config[k] = v.clone();
        }
        self.number_runs("Voice test", flow).await;
        self.call(
            "POST",
            "/users",
            Some(json!({
                "username": username, "first_name": first_name, "last_name": last_name, "password": AGENT_PASSWORD,
                "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile",
                "phone_config": phone_config
            })),
            None,
        )
        .await;
        let agent = self.login(username, AGENT_PASSWORD).await;
        self.call(
            "PUT",
            "/me/status",
            Some(json!({"status": "Available"})),
            Some(&agent),
        )
        .await;
    }

    pub async fn contacts(&self) -> Vec<Value> {
        self.call("GET", "/contacts", None, None).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Starts the desk phone's call side with `scenario` (and `extra` SIPp
    /// options) and registers it, its Contact pointing there.
    pub async fn desk_phone(
        &self,
        scenario: &str,
        extra: &[&str],
    ) -> tokio::task::JoinHandle<(i32, String)> {
        let mut phone_args = common(self, scenario, "deskagent", "127.0.0.1");
        let phone_port: u16 = phone_args[8].parse().unwrap();
        phone_args.extend(extra.iter().map(|a| a.to_string()));
        let phone = sipp_listening(phone_args, 40).await;
        self.register_phone(phone_port).await;
        let devices = self.voice.registrar().devices("deskagent");
        assert_eq!(devices.len(), 1, "registered: {devices:?}");
        assert_eq!(devices[0].destination.port(), phone_port);
        phone
    }

    /// Registers deskagent's phone (SIPp, digest) with its Contact at
    /// 127.0.0.1:`phone_port`, whatever listens there.
    pub async fn register_phone(&self, phone_port: u16) {
        let register = common(self, "register.xml", "deskagent", "127.0.0.1");
        register_phone_with(register, phone_port).await;
    }

    pub async fn agent_state(&self) -> String {
        self.agent_state_of("deskagent").await
    }

    /// The contact's recording (WAV), as a supervisor downloads it.
    pub async fn recording(&self, contact: &str) -> Vec<u8> {
        self.http
            .get(format!("{}/contacts/{contact}/recording", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    }

    /// Waits (up to [`DEADLINE`]) for the agent to be in `state`; returns the
    /// state last seen, which the caller checks.
    pub async fn wait_agent_state(&self, username: &str, state: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let seen = self.agent_state_of(username).await;
            if seen == state || started.elapsed() > DEADLINE {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to [`DEADLINE`]) for the contact's record to carry its
    /// after-contact work (written when the router moves the agent on); the
    /// record then, which the caller checks.
    pub async fn with_after_contact_work(&self, contact: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let record = self
                .call("GET", &format!("/contacts/{contact}"), None, None)
                .await;
            if record["agent"]["after_contact_work_duration_seconds"].is_f64()
                || started.elapsed() > DEADLINE
            {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn agent_state_of(&self, username: &str) -> String {
        let agents = self.call("GET", "/routing/agents", None, None).await;
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == username)
            .map(|a| a["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Waits (up to [`DEADLINE`]) for `n` contact records in state ENDED.
    pub async fn ended(&self, n: usize) -> Vec<Value> {
        until(&format!("{n} ended contact records"), DEADLINE, || async {
            let all = self.contacts().await;
            let ended: Vec<Value> = all
                .iter()
                .filter(|c| c["state"] == "ENDED")
                .cloned()
                .collect();
            if ended.len() >= n {
                Ok(ended)
            } else {
                Err(all)
            }
        })
        .await
    }
}

/// A caller who presses 1 and talks: a raw A-law file SIPp streams in a loop
/// (a 440 Hz tone, so the agent's side can be told apart from silence).
pub fn talking_caller() -> String {
    let samples: Vec<i16> = (0..16_000)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect();
    let raw = std::env::temp_dir().join(format!("switchboard-talk-{}.alaw", std::process::id()));
    std::fs::write(&raw, Law::ALaw.encode_all(&samples)).unwrap();
    let text = std::fs::read_to_string(scenario("caller_talks.xml"))
        .unwrap()
        .replace("[stream]", &raw.display().to_string());
    let path = std::env::temp_dir().join(format!("switchboard-talk-{}.xml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

pub fn caller_args(rig: &Rig, scenario_path: &str) -> Vec<String> {
    let mut args = common(rig, "caller_talks.xml", NUMBER, "127.0.0.1");
    args[2] = scenario_path.to_string();
    args
}

pub fn menu_flow() -> Value {
    json!({
        "Version": "2019-10-30",
        "StartAction": "menu",
        "Actions": [
            {"Identifier": "menu", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Welcome to the voice test. For sales, press 1.", "StoreInput": "False", "InputTimeLimitSeconds": "8"},
             "Transitions": {"NextAction": "bye",
                "Conditions": [
                    {"NextAction": "record", "Condition": {"Operator": "Equals", "Operands": ["1"]}},
                    {"NextAction": "third", "Condition": {"Operator": "Equals", "Operands": ["2"]}}],
                "Errors": [
                    {"ErrorType": "InputTimeLimitExceeded", "NextAction": "bye"},
                    {"ErrorType": "NoMatchingCondition", "NextAction": "bye"},
                    {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "record", "Type": "UpdateContactRecordingBehavior",
             "Parameters": {"RecordingBehavior": {"RecordedParticipants": ["Agent", "Customer"]}},
             "Transitions": {"NextAction": "queue"}},
            {"Identifier": "queue", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "BasicQueue"},
             "Transitions": {"NextAction": "transfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "bye", "Errors": [
                {"ErrorType": "QueueAtCapacity", "NextAction": "bye"},
                {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "third", "Type": "TransferParticipantToThirdParty",
             "Parameters": {"ThirdPartyPhoneNumber": "+447911123456", "ThirdPartyConnectionTimeLimitSeconds": "10", "ContinueFlowExecution": "False"},
             "Transitions": {"NextAction": "bye", "Errors": [
                {"ErrorType": "ConnectionTimeLimitExceeded", "NextAction": "bye"},
                {"ErrorType": "CallFailed", "NextAction": "bye"},
                {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]
    })
}

/// The number records the call and queues it for an agent, no menu.
pub fn recorded_queue_flow() -> Value {
    json!({
        "Version": "2019-10-30",
        "StartAction": "record",
        "Actions": [
            {"Identifier": "record", "Type": "UpdateContactRecordingBehavior",
             "Parameters": {"RecordingBehavior": {"RecordedParticipants": ["Agent", "Customer"]}},
             "Transitions": {"NextAction": "queue"}},
            {"Identifier": "queue", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "BasicQueue"},
             "Transitions": {"NextAction": "transfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "bye", "Errors": [
                {"ErrorType": "QueueAtCapacity", "NextAction": "bye"},
                {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]
    })
}

/// Registers deskagent's phone with SIPp `register` (register.xml's
/// arguments: which address and family), its Contact at `phone_port`.
pub async fn register_phone_with(mut register: Vec<String>, phone_port: u16) {
    register.extend(
        [
            "-au",
            "deskagent",
            "-ap",
            SIP_PASSWORD,
            "-key",
            "phone_port",
        ]
        .map(String::from),
    );
    register.push(phone_port.to_string());
    let (code, out) = sipp(&register).await;
    assert_eq!(code, 0, "REGISTER: {out}");
}

/// Runs SIPp to the end; returns its exit code and what it printed.
pub async fn sipp(args: &[String]) -> (i32, String) {
    sipp_within(args, 40).await
}

/// Like [`sipp`], for a call that may last up to `seconds`.
pub async fn sipp_within(args: &[String], seconds: u64) -> (i32, String) {
    let child = tokio::process::Command::new("sipp")
        .args(args)
        .args([
            "-m",
            "1",
            "-timeout",
            &format!("{seconds}s"),
            "-timeout_error",
            "-nostdin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp");
    let out = tokio::time::timeout(Duration::from_secs(seconds + 20), child.wait_with_output())
        .await
        .expect("sipp finished")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

pub fn common(rig: &Rig, file: &str, service: &str, ip: &str) -> Vec<String> {
    vec![
        rig.sip().to_string(),
        "-sf".into(),
        scenario(file),
        "-s".into(),
        service.into(),
        "-i".into(),
        ip.into(),
        "-p".into(),
        free_port().to_string(),
        "-mp".into(),
        media_port().to_string(),
        // SIPp's control socket (8888 and up by default) on a reserved port too.
        "-cp".into(),
        free_port().to_string(),
    ]
}

/// A recording's two channels (customer, agent), asserting 8 kHz stereo.
pub fn channels(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
    let (rate, left, right) = channels_at(wav);
    assert_eq!(rate, 8000);
    (left, right)
}

/// A stereo recording's sample rate and two channels (customer, agent).
pub fn channels_at(wav: &[u8]) -> (u32, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::new(Cursor::new(wav)).unwrap();
    assert_eq!(r.spec().channels, 2);
    let rate = r.spec().sample_rate;
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    (
        rate,
        all.iter().step_by(2).copied().collect(),
        all.iter().skip(1).step_by(2).copied().collect(),
    )
}

/// The largest share of a half second's energy at `hz` (Goertzel), over
/// the half seconds of `samples` (at `rate`): near 1 where a pure tone of
/// `hz` plays, near 0 where it is absent.
pub fn best_tone_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    samples
        .chunks_exact(rate as usize / 2)
        .filter(|window| rms(window) > 100.0)
        .map(|window| {
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for &x in window {
                let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
            let total: f64 = window.iter().map(|&x| f64::from(x).powi(2)).sum();
            2.0 * power / (window.len() as f64 * total)
        })
        .fold(0.0, f64::max)
}

pub fn rms(s: &[i16]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// Seconds from the start of `samples` (8 kHz) to the first 50 ms window
/// louder than `threshold` (RMS): when a side was first heard.
pub fn first_heard_seconds(samples: &[i16], threshold: f64) -> Option<f64> {
    const WINDOW: usize = 400;
    samples
        .chunks(WINDOW)
        .position(|w| rms(w) > threshold)
        .map(|i| (i * WINDOW) as f64 / 8000.0)
}

/// [`best_correlation`] over each half second of `a` where `a` is not silent,
/// each with its own lag: an echo whose delay drifts (a busy machine
/// schedules the phone and the relay late, then catches up) still shows.
/// The median of the windows' figures.
pub fn median_windowed_correlation(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
    const WINDOW: usize = 4000;
    let mut figures: Vec<f64> = (0..)
        .map(|w| w * WINDOW)
        .take_while(|start| start + WINDOW + max_lag <= a.len().min(b.len()))
        .filter(|&start| rms(&a[start..start + WINDOW]) > 300.0)
        .map(|start| {
            let end = start + WINDOW + max_lag;
            best_correlation(&a[start..end], &b[start..end], max_lag)
        })
        .collect();
    if figures.is_empty() {
        return 0.0;
    }
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// Best normalised correlation of `b` against `a` shifted by 0..max_lag samples.
pub fn best_correlation(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
    let n = a.len().min(b.len()).saturating_sub(max_lag);
    (0..max_lag)
        .step_by(8)
        .map(|lag| {
            let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
            for i in 0..n {
                let x = f64::from(a[i]);
                let y = f64::from(b[i + lag]);
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            if aa == 0.0 || bb == 0.0 {
                0.0
            } else {
                ab / (aa.sqrt() * bb.sqrt())
            }
        })
        .fold(0.0, f64::max)
}

/// What espeak-ng says in `voice`, each text as 8 kHz A-law followed by
/// `gap_ms` of silence, and a scenario that streams it all in a loop.
/// Each caller's files are its own (tests run side by side in one process).
pub fn speaking_caller(voice: &str, texts: &[&str], gap_ms: usize) -> String {
    static CALLERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("switchboard-speak-{}-{n}", std::process::id());
    let mut samples = Vec::new();
    for text in texts {
        let wav = std::process::Command::new("espeak-ng")
            .args(["-v", voice, "--stdout", text])
            .output()
            .expect("espeak-ng runs")
            .stdout;
        samples.extend(switchboard_media::audio::wav_to_telephone(&wav).unwrap());
        samples.extend(std::iter::repeat_n(0i16, gap_ms * 8));
    }
    let raw = std::env::temp_dir().join(format!("{name}.alaw"));
    std::fs::write(&raw, Law::ALaw.encode_all(&samples)).unwrap();
    let text = std::fs::read_to_string(scenario("caller_speaks.xml"))
        .unwrap()
        .replace("[stream]", &raw.display().to_string());
    let path = std::env::temp_dir().join(format!("{name}.xml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
