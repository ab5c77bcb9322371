//! Real SIP peers: SIPp callers and desk phones against the voice shell on
//! loopback, with the HTTP API beside it to configure and read contact
//! records. Needs `sipp` (Debian: sip-tester); under CI its absence fails.

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_server::{bootstrap, AppState, Settings};
use switchboard_store::testing::{stores, TestDb};
use switchboard_store::Blobs;
use switchboard_voice::{Voice, VoiceConfig, VoiceStats};

const ADMIN_PASSWORD: &str = "Admin-Passw0rd";
const AGENT_PASSWORD: &str = "Agent-Passw0rd";
const SIP_PASSWORD: &str = "desk-phone-secret-1";
const NUMBER: &str = "442079460999";

fn sipp_ready() -> bool {
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
fn scenario(name: &str) -> String {
    scenario_pressing(name, '1')
}

/// A scenario whose caller presses `digit` where it says `[digit]`.
fn scenario_pressing(name: &str, digit: char) -> String {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name);
    let text = std::fs::read_to_string(&source)
        .unwrap()
        .replace("[pcaps]", &pcaps())
        .replace("[digit]", &digit.to_string());
    let out =
        std::env::temp_dir().join(format!("switchboard-{}-{digit}-{name}", std::process::id()));
    std::fs::write(&out, text).unwrap();
    out.display().to_string()
}

fn pcaps() -> String {
    std::env::var("SIPP_PCAPS").unwrap_or_else(|_| "/usr/share/sip-tester".into())
}

/// An even port whose next port is free too (RTP and its RTCP), with a
/// socket already on the RTCP port.
fn free_rtp_pair() -> (u16, std::net::UdpSocket) {
    for _ in 0..200 {
        let port = free_port();
        if port.is_multiple_of(2) {
            if let Ok(rtcp) = std::net::UdpSocket::bind(("127.0.0.1", port + 1)) {
                return (port, rtcp);
            }
        }
    }
    panic!("no free RTP/RTCP port pair");
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Rig {
    http: reqwest::Client,
    base: String,
    token: String,
    voice: Voice,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Rig {
        Rig::with_media_timeout(Duration::from_secs(60)).await
    }

    async fn with_media_timeout(media_timeout: Duration) -> Rig {
        Rig::with(media_timeout, 90).await
    }

    async fn with(media_timeout: Duration, min_session_expires: u32) -> Rig {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                std::env::var("RUST_LOG").unwrap_or_else(|_| "switchboard_voice=info".into()),
            )
            .with_test_writer()
            .try_init();
        let (_, db) = stores().await.into_iter().next().unwrap();
        let store = db.store.clone();
        bootstrap::ensure_defaults(&store).await.unwrap();
        bootstrap::ensure_admin(&store, Some(ADMIN_PASSWORD.into()))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let routing =
            switchboard_server::routing::start_with(store.clone(), Duration::from_secs(5))
                .await
                .unwrap();
        let state = AppState {
            store: store.clone(),
            blobs: Blobs::local(dir.path()).unwrap(),
            functions: Default::default(),
            login_throttle: Default::default(),
            routing,
            settings: Arc::new(Settings::default()),
        };
        let mut config = VoiceConfig::local("127.0.0.1:0".parse().unwrap());
        config.media_timeout = media_timeout;
        config.min_session_expires = min_session_expires;
        let voice = switchboard_voice::start(state.clone(), config)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum_serve(listener, state).await });
        let http = reqwest::Client::new();
        let mut rig = Rig {
            http,
            base,
            token: String::new(),
            voice,
            _db: db,
            _dir: dir,
        };
        rig.token = rig.login("admin", ADMIN_PASSWORD).await;
        rig
    }

    fn sip(&self) -> SocketAddr {
        self.voice.local_sip()
    }

    async fn login(&self, user: &str, password: &str) -> String {
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

    async fn call(
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
    async fn centre(&self) {
        self.centre_with(
            json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
            json!({}),
        )
        .await
    }

    /// `trunk` is the SIP trunk; `phone` is merged into the agent's phone_config.
    async fn centre_with(&self, trunk: Value, phone: Value) {
        self.call("POST", "/sip-trunks", Some(trunk), None).await;
        let mut phone_config = json!({"phone_type": "DESK_PHONE", "after_contact_work_timeout_seconds": 1, "sip_password": SIP_PASSWORD});
        for (k, v) in phone.as_object().unwrap() {
            phone_config[k] = v.clone();
        }
        let flow = self
            .call(
                "POST",
                "/flows",
                Some(json!({"name": "Voice test", "type": "CONTACT_FLOW", "content": menu_flow()})),
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
        self.call(
            "POST",
            "/users",
            Some(json!({
                "username": "deskagent", "first_name": "Desk", "last_name": "Agent", "password": AGENT_PASSWORD,
                "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile",
                "phone_config": phone_config
            })),
            None,
        )
        .await;
        let agent = self.login("deskagent", AGENT_PASSWORD).await;
        self.call(
            "PUT",
            "/me/status",
            Some(json!({"status": "Available"})),
            Some(&agent),
        )
        .await;
    }

    async fn contacts(&self) -> Vec<Value> {
        self.call("GET", "/contacts", None, None).await["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Starts the desk phone's call side with `scenario` (and `extra` SIPp
    /// options) and registers it, its Contact pointing there.
    async fn desk_phone(
        &self,
        scenario: &str,
        extra: &[&str],
    ) -> tokio::task::JoinHandle<(i32, String)> {
        let phone_port = free_port();
        let mut phone_args = common(self, scenario, "deskagent", "127.0.0.1");
        phone_args[8] = phone_port.to_string();
        phone_args.extend(extra.iter().map(|a| a.to_string()));
        let phone = tokio::spawn(async move { sipp(&phone_args).await });
        let mut register = common(self, "register.xml", "deskagent", "127.0.0.1");
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
        let binding = self
            .voice
            .registrar()
            .lookup("deskagent")
            .expect("registered");
        assert_eq!(binding.destination().port(), phone_port);
        phone
    }

    async fn agent_state(&self) -> String {
        let agents = self.call("GET", "/routing/agents", None, None).await;
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == "deskagent")
            .map(|a| a["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Waits for `n` contact records in state ENDED.
    async fn ended(&self, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            let all = self.contacts().await;
            let ended: Vec<Value> = all
                .iter()
                .filter(|c| c["state"] == "ENDED")
                .cloned()
                .collect();
            if ended.len() >= n {
                return ended;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("contact records did not end: {:#?}", self.contacts().await);
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, state: AppState) {
    let _ = axum::serve(listener, switchboard_server::app(state)).await;
}

fn menu_flow() -> Value {
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

/// Runs SIPp to the end; returns its exit code and what it printed.
async fn sipp(args: &[String]) -> (i32, String) {
    let child = tokio::process::Command::new("sipp")
        .args(args)
        .args(["-m", "1", "-timeout", "40s", "-timeout_error", "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
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

fn common(rig: &Rig, file: &str, service: &str, ip: &str) -> Vec<String> {
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
        free_port().to_string(),
    ]
}

fn channels(wav: &[u8]) -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::new(Cursor::new(wav)).unwrap();
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    (
        all.iter().step_by(2).copied().collect(),
        all.iter().skip(1).step_by(2).copied().collect(),
    )
}

fn rms(s: &[i16]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// Best normalised correlation of `b` against `a` shifted by 0..max_lag samples.
fn best_correlation(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_reaches_a_desk_phone_agent_and_is_recorded() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;

    // The desk phone: its call side waits, then it registers pointing there.
    let phone = rig.desk_phone("agent_phone.xml", &["-rtp_echo"]).await;

    // Switchboard's RTCP reaches the caller on the port after its RTP.
    let (media_port, rtcp) = free_rtp_pair();
    rtcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let call_over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over = call_over.clone();
    let rtcp_reports = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 1500];
        let until = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < until && !over.load(std::sync::atomic::Ordering::Relaxed)
        {
            if let Ok(n) = rtcp.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
        }
        got
    });
    let mut caller = common(&rig, "caller.xml", NUMBER, "127.0.0.1");
    caller[10] = media_port.to_string();
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");

    let record = rig.ended(1).await.remove(0);
    // Quality from RTP: the caller's recorded speech arrived whole.
    let quality = &record["quality"]["customer"];
    assert!(
        quality["packets_received"].as_u64().unwrap() >= 200,
        "{quality}"
    );
    assert_eq!(quality["packets_lost"], 0, "{quality}");
    assert!(
        record["quality"]["agent"]["packets_received"]
            .as_u64()
            .unwrap()
            > 100,
        "{:#}",
        record["quality"]
    );
    call_over.store(true, std::sync::atomic::Ordering::Relaxed);
    let reports = rtcp_reports.join().unwrap();
    assert!(
        reports.len() >= 2,
        "{} RTCP reports in a ~12 s call",
        reports.len()
    );
    let first = switchboard_media::rtcp::parse(&reports[0], 0).expect("valid RTCP");
    assert!(first.sender_ntp.is_some(), "a sender report: we send audio");
    assert_eq!(record["channel"], "VOICE");
    assert_eq!(record["customer_endpoint"]["address"], "+447700900123");
    assert_eq!(record["system_endpoint"]["address"], format!("+{NUMBER}"));
    assert_eq!(record["dtmf_inputs"], json!(["1"]), "{record:#}");
    let path: Vec<String> = record["flow_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["action"].as_str().unwrap(),
                s["branch"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(path[0], "menu condition Equals 1", "{path:?}");
    assert!(path.iter().any(|p| p.starts_with("transfer")), "{path:?}");
    assert_eq!(record["queue"]["name"], "BasicQueue");
    assert!(record["queue"]["dequeue_timestamp"].is_string());
    assert!(record["queue"]["duration_seconds"].as_f64().unwrap() < 3.0);
    assert_eq!(record["agent"]["username"], "deskagent");
    let talk = record["agent"]["talk_duration_seconds"].as_f64().unwrap();
    assert!((6.0..12.0).contains(&talk), "talk {talk}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(record["recording"]["status"], "AVAILABLE", "{record:#}");
    // Before the caller, the agent heard the queue's name.
    assert_eq!(VoiceStats::get(&rig.voice.stats().whispers), 1);

    // The recording: the caller's speech on the left; on the right the
    // agent's phone echoing it, which it could only do if it heard it.
    let id = record["id"].as_str().unwrap();
    let wav = rig
        .http
        .get(format!("{}/contacts/{id}/recording", rig.base))
        .bearer_auth(&rig.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (left, right) = channels(&wav);
    assert!(left.len() > 8000 * 6, "recording is {} samples", left.len());
    let (l, r) = (rms(&left), rms(&right));
    assert!(
        l > 300.0 && r > 300.0,
        "levels: customer {l:.0}, agent {r:.0}"
    );
    let correlation = best_correlation(&left, &right, 8000 / 2);
    assert!(
        correlation > 0.5,
        "agent side does not carry the caller's audio (correlation {correlation:.2})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callers_and_phones_are_refused_and_every_accepted_call_leaves_a_record() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;

    // Not our number: 404. From an address no trunk admits: 403.
    let (code, out) = sipp(&common(
        &rig,
        "invite_refused_404.xml",
        "15550001111",
        "127.0.0.1",
    ))
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = sipp(&common(&rig, "invite_refused_403.xml", NUMBER, "127.0.0.2")).await;
    assert_eq!(code, 0, "{out}");
    // The same over TCP.
    let mut tcp = common(&rig, "invite_refused_404.xml", "15550001111", "127.0.0.1");
    tcp.extend(["-t", "t1"].map(String::from));
    let (code, out) = sipp(&tcp).await;
    assert_eq!(code, 0, "over TCP: {out}");
    // A phone with the wrong password: challenged, then refused.
    let mut wrong = common(
        &rig,
        "register_unauthenticated.xml",
        "deskagent",
        "127.0.0.1",
    );
    wrong.extend(["-au", "deskagent", "-ap", "not-the-password"].map(String::from));
    let (code, out) = sipp(&wrong).await;
    assert_eq!(code, 0, "{out}");
    assert!(rig.voice.registrar().lookup("deskagent").is_none());

    // Garbage on the SIP port does not hurt: the next calls are served.
    let junk = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for datagram in [
        &b"\x00\x01garbage"[..],
        b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n",
        &[0xff; 1400],
    ] {
        junk.send_to(datagram, rig.sip()).await.unwrap();
    }

    // Hang up during the welcome prompt.
    let mut early = common(&rig, "caller_hangs_up.xml", NUMBER, "127.0.0.1");
    early.extend(["-d", "700"].map(String::from));
    let (code, out) = sipp(&early).await;
    assert_eq!(code, 0, "{out}");
    // Press 1 and give up in the queue (the agent's phone is not registered,
    // so the agent is made unroutable and the caller waits).
    let mut abandon = common(&rig, "caller_abandons.xml", NUMBER, "127.0.0.1");
    abandon.extend(["-d", "2500"].map(String::from));
    let (code, out) = sipp(&abandon).await;
    assert_eq!(code, 0, "{out}");

    let records = rig.ended(2).await;
    assert_eq!(
        records.len(),
        2,
        "only accepted calls have records: {records:#?}"
    );
    let abandoned = &records[0];
    let hung_up = &records[1];
    assert_eq!(hung_up["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert!(hung_up["queue"].is_null(), "{hung_up:#}");
    assert_eq!(hung_up["dtmf_inputs"], json!([]));
    assert_eq!(abandoned["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(abandoned["dtmf_inputs"], json!(["1"]));
    assert_eq!(abandoned["queue"]["name"], "BasicQueue");
    assert!(abandoned["queue"]["dequeue_timestamp"].is_string());
    assert!(abandoned["agent"].is_null());
    assert_eq!(rig.voice.active_calls(), 0);
    let stats = rig.voice.stats();
    assert_eq!(
        VoiceStats::get(&stats.calls_refused),
        3,
        "404 twice (UDP, TCP) and 403"
    );
    assert_eq!(VoiceStats::get(&stats.calls_answered), 2);
    // The router holds nothing for the abandoned call.
    let queues = rig.call("GET", "/routing/queues", None, None).await;
    assert!(
        queues["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["waiting"].as_u64().unwrap_or(0) == 0),
        "{queues}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_holds_and_resumes_and_the_record_counts_the_hold() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_holds.xml", &["-rtp_echo"]).await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");
    let record = rig.ended(1).await.remove(0);
    let agent = &record["agent"];
    assert_eq!(agent["hold_count"], 1, "{record:#}");
    let hold = agent["hold_duration_seconds"].as_f64().unwrap();
    assert!((1.5..3.5).contains(&hold), "hold {hold}");
    let talk = agent["talk_duration_seconds"].as_f64().unwrap();
    assert!(talk > 4.0, "talk {talk}");
    // After the call the agent does after-contact work (1 s here), then is Available again.
    // The contact record then gets the after-contact work's times.
    for _ in 0..50 {
        let record = rig
            .call(
                "GET",
                &format!("/contacts/{}", record["id"].as_str().unwrap()),
                None,
                None,
            )
            .await;
        if let Some(acw) = record["agent"]["after_contact_work_duration_seconds"].as_f64() {
            assert!((0.8..3.0).contains(&acw), "ACW {acw}");
            assert!(record["agent"]["after_contact_work_end_timestamp"].is_string());
            assert_eq!(rig.agent_state().await, "Available");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no after-contact work recorded; agent is {}",
        rig.agent_state().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_desk_phone_misses_the_offer_and_the_caller_keeps_waiting() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_no_answer.xml", &[]).await;
    // The offer times out after 5 s: the phone is CANCELled, the agent is
    // Missed (not offered again), and the caller is still queued until they give up.
    let mut caller = common(&rig, "caller_abandons.xml", NUMBER, "127.0.0.1");
    caller.extend(["-d", "8000"].map(String::from));
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone (expects CANCEL): {out}");
    assert_eq!(rig.agent_state().await, "Missed");
    let record = rig.ended(1).await.remove(0);
    assert!(record["agent"].is_null(), "{record:#}");
    assert_eq!(record["queue"]["name"], "BasicQueue");
    let waited = record["queue"]["duration_seconds"].as_f64().unwrap();
    assert!(
        waited > 7.0,
        "the caller stayed queued after the missed offer ({waited} s)"
    );
    // Five seconds into the wait the caller heard their place in the queue.
    let stats = rig.voice.stats();
    assert_eq!(VoiceStats::get(&stats.queue_announcements), 1);
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_by_sip_info_and_media_from_the_wrong_place() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    // SIP INFO digits work like RFC 4733 ones.
    let mut info = common(&rig, "caller_info_dtmf.xml", NUMBER, "127.0.0.1");
    info.extend(["-d", "1000"].map(String::from));
    let (code, out) = sipp(&info).await;
    assert_eq!(code, 0, "INFO caller: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["dtmf_inputs"], json!(["1"]), "{record:#}");
    assert_eq!(record["queue"]["name"], "BasicQueue");

    // A key press from an address the SDP did not name is not the caller's.
    let (code, out) = sipp(&common(
        &rig,
        "caller_wrong_source.xml",
        NUMBER,
        "127.0.0.1",
    ))
    .await;
    assert_eq!(code, 0, "wrong-source caller: {out}");
    let records = rig.ended(2).await;
    let record = &records[0];
    assert_eq!(record["dtmf_inputs"], json!([]), "{record:#}");
    assert_eq!(
        record["flow_path"][0]["branch"],
        "error InputTimeLimitExceeded"
    );
    assert!(VoiceStats::get(&rig.voice.stats().rtp_packets_refused) >= 1);
    assert_eq!(record["disconnect_reason"], "CONTACT_FLOW_DISCONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_media_stops_is_ended_and_recorded_as_a_telecom_problem() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::with_media_timeout(Duration::from_secs(2)).await;
    rig.centre().await;
    let (code, out) = sipp(&common(&rig, "caller_silent.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "silent caller: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["disconnect_reason"], "TELECOM_PROBLEM", "{record:#}");
    assert_eq!(rig.voice.active_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_an_external_number_is_called_through_the_trunk() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    let carrier_port = free_port();
    rig.centre_with(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"], "outbound_proxy": format!("127.0.0.1:{carrier_port}"), "caller_id_number": "+442079460100"}),
        json!({"desk_phone_number": "+447911123456"}),
    )
    .await;
    let mut carrier_args = common(&rig, "agent_external.xml", "carrier", "127.0.0.1");
    carrier_args[8] = carrier_port.to_string();
    carrier_args.push("-rtp_echo".into());
    let carrier = tokio::spawn(async move { sipp(&carrier_args).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = carrier.await.unwrap();
    assert_eq!(code, 0, "carrier: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert_eq!(record["recording"]["status"], "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_agent_hangs_up_the_caller_is_released() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_hangs_up.xml", &["-d", "2000"]).await;
    let (code, out) = sipp(&common(&rig, "caller_stays.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"], "AGENT_DISCONNECT",
        "{record:#}"
    );
    assert_eq!(record["agent"]["username"], "deskagent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timers_are_agreed_and_an_unrefreshed_session_ends() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::with(Duration::from_secs(60), 3).await;
    rig.centre().await;
    let mut small = common(&rig, "invite_refused_422.xml", NUMBER, "127.0.0.1");
    small.extend(["-key", "session_expires", "2"].map(String::from));
    let (code, out) = sipp(&small).await;
    assert_eq!(code, 0, "422 expected: {out}");
    let mut timer = common(&rig, "caller_session_timer.xml", NUMBER, "127.0.0.1");
    timer.extend(["-key", "session_expires", "3"].map(String::from));
    let started = std::time::Instant::now();
    let (code, out) = sipp(&timer).await;
    assert_eq!(code, 0, "session timer: {out}");
    let took = started.elapsed().as_secs_f64();
    assert!(
        (1.5..3.5).contains(&took),
        "the unrefreshed session ended after {took:.1} s (3 s interval, 1 s margin)"
    );
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["disconnect_reason"], "TELECOM_PROBLEM", "{record:#}");

    // Refreshed in time (UPDATE), the call lives past the interval.
    let mut refreshed = common(&rig, "caller_session_refresh.xml", NUMBER, "127.0.0.1");
    refreshed.extend(["-key", "session_expires", "3"].map(String::from));
    let (code, out) = sipp(&refreshed).await;
    assert_eq!(code, 0, "refreshing caller: {out}");
    let records = rig.ended(2).await;
    assert_eq!(
        records[0]["disconnect_reason"], "CUSTOMER_DISCONNECT",
        "{:#}",
        records[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_transfers_a_caller_to_an_external_number() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    let carrier_port = free_port();
    rig.centre_with(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"], "outbound_proxy": format!("127.0.0.1:{carrier_port}")}),
        json!({}),
    )
    .await;
    // The third party answers, talks 2 s and hangs up; the flow does not
    // continue, so the caller is released.
    let mut third = common(&rig, "agent_hangs_up.xml", "third", "127.0.0.1");
    third[8] = carrier_port.to_string();
    third.extend(["-d", "2000"].map(String::from));
    let third = tokio::spawn(async move { sipp(&third).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut caller = common(&rig, "caller_stays.xml", NUMBER, "127.0.0.1");
    caller[2] = scenario_pressing("caller_stays.xml", '2');
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = third.await.unwrap();
    assert_eq!(code, 0, "third party: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["dtmf_inputs"], json!(["2"]), "{record:#}");
    assert_eq!(
        record["transferred_to_endpoint"]["address"],
        "+447911123456"
    );
    assert_eq!(record["disconnect_reason"], "THIRD_PARTY_DISCONNECT");
    assert!(record["agent"].is_null() && record["queue"].is_null());
    let path: Vec<&str> = record["flow_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(path[..2], ["menu", "third"], "{path:?}");
}
