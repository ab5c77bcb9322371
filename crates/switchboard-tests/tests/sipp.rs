//! Real SIP peers: SIPp callers and desk phones against the voice shell on
//! loopback, with the HTTP API beside it to configure and read contact
//! records. Needs `sipp` (Debian: sip-tester); under CI its absence fails.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use switchboard_voice::VoiceStats;

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
    // Offered at once: the only agent was Available (a missed offer would
    // keep the caller queued until they hang up). Generous: CI is busy.
    let queued = record["queue"]["duration_seconds"].as_f64().unwrap();
    assert!(queued < 15.0, "queued {queued} s");
    assert_eq!(record["agent"]["username"], "deskagent");
    let talk = record["agent"]["talk_duration_seconds"].as_f64().unwrap();
    // The caller's scenario talks about 8 s; the bounds allow a busy machine
    // (a slow bridge shortens the talk, a slow hang-up lengthens it).
    assert!((3.0..30.0).contains(&talk), "talk {talk}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(record["recording"]["status"], "AVAILABLE", "{record:#}");
    // Before the caller, the agent heard the queue's name.
    assert_eq!(VoiceStats::get(&rig.voice.stats().whispers), 1);

    // The recording: the caller's speech on the left; on the right the
    // agent's phone echoing it, which it could only do if it heard it.
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (left, right) = channels(&wav);
    assert!(left.len() > 8000 * 6, "recording is {} samples", left.len());
    let (l, r) = (rms(&left), rms(&right));
    assert!(
        l > 300.0 && r > 300.0,
        "levels: customer {l:.0}, agent {r:.0}"
    );
    // From 2 s in: the agent side begins with the phone echoing the whisper
    // (the queue's name, about 1.4 s), which is the agent's audio too but
    // not the caller's.
    let after_whisper = 8000 * 2;
    let correlation =
        median_windowed_correlation(&left[after_whisper..], &right[after_whisper..], 8000 / 2);
    println!("caller/agent-echo correlation after the whisper: {correlation:.2}");
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
    assert!(rig.voice.registrar().devices("deskagent").is_empty());

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
    // Prometheus counts both contacts, how each ended, and their set-up.
    let metrics = rig.metrics_text().await;
    for needle in [
        "switchboard_contacts_started_total{channel=\"voice\",initiation_method=\"inbound\"} 2",
        "switchboard_contacts_ended_total{channel=\"voice\",outcome=\"abandoned\"} 1",
        "switchboard_contacts_ended_total{channel=\"voice\",outcome=\"ended_in_flow\"} 1",
        "switchboard_sip_call_setup_seconds_count 2",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    let routed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_routing_event_seconds_count "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        routed >= 2,
        "the enqueue and the abandon were routed: {routed}"
    );
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
    // The phone holds for 2 s; the upper bound allows a busy machine.
    assert!((1.5..15.0).contains(&hold), "hold {hold}");
    let talk = agent["talk_duration_seconds"].as_f64().unwrap();
    assert!(talk > 4.0, "talk {talk}");
    // After the call the agent does after-contact work (1 s here), then is Available again.
    // The contact record then gets the after-contact work's times.
    let record = rig
        .with_after_contact_work(record["id"].as_str().unwrap())
        .await;
    let Some(acw) = record["agent"]["after_contact_work_duration_seconds"].as_f64() else {
        panic!(
            "no after-contact work recorded; agent is {}",
            rig.agent_state().await
        );
    };
    assert!((0.8..15.0).contains(&acw), "ACW {acw}");
    assert!(record["agent"]["after_contact_work_end_timestamp"].is_string());
    assert_eq!(rig.agent_state().await, "Available");
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
async fn keys_by_sip_info_and_media_from_the_wrong_place_on_a_strict_trunk() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    // A carrier that wants media only from the address its SDP names.
    rig.centre_with(
        json!({"name": "strict carrier", "inbound_addresses": ["127.0.0.1"], "strict_media_source": true}),
        json!({}),
    )
    .await;
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
async fn a_call_over_tcp_is_answered_with_our_tcp_contact_and_its_own_to_header() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    // The scenario checks the 200 OK's To (byte for byte) and Contact
    // (transport=tcp); its ACK and BYE then come over TCP.
    let mut caller = common(&rig, "caller_over_tcp.xml", NUMBER, "127.0.0.1");
    caller.extend(["-t", "t1"].map(String::from));
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "TCP caller: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"], "CUSTOMER_DISCONNECT",
        "{record:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_asks_for_30_ms_packets_gets_30_ms_packets() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    // The phone's media port is this socket: what we send it is read here.
    let media = switchboard_testkit::ports::block(2);
    let socket = std::net::UdpSocket::bind(("127.0.0.1", media)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let heard = std::thread::spawn(move || {
        let mut sizes = Vec::new();
        let mut buf = [0u8; 1500];
        let until = std::time::Instant::now() + Duration::from_secs(60);
        // Until the call has sent a good run of audio (or the deadline).
        while std::time::Instant::now() < until && sizes.len() < 100 {
            if let Ok(n) = socket.recv(&mut buf) {
                // PCMU audio (PT 0), a 12-byte header: its payload size.
                if n > 12 && buf[1] & 0x7F == 0 {
                    sizes.push(n - 12);
                }
            }
        }
        sizes
    });
    let phone = rig
        .desk_phone(
            "agent_phone_ptime.xml",
            &["-key", "phone_media", &media.to_string()],
        )
        .await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");
    let sizes = heard.join().unwrap();
    // The whisper, then the caller's 20 ms packets, all cut to 30 ms.
    assert!(sizes.len() >= 100, "{} packets", sizes.len());
    assert!(sizes.iter().all(|s| *s == 240), "{sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_ipv6_is_served_with_ipv6_signalling_and_media() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::configured(|c| {
        c.sip_listen = "[::1]:0".parse().unwrap();
        c.media_ip = "::1".parse().unwrap();
    })
    .await;
    rig.centre_with(
        json!({"name": "IPv6 carrier", "inbound_addresses": ["::1"]}),
        json!({}),
    )
    .await;
    assert!(rig.sip().is_ipv6(), "{}", rig.sip());
    // Our RTCP reaches the caller's IPv6 address, beside its RTP.
    let media_port = media_port();
    let rtcp = std::net::UdpSocket::bind(("::1", media_port + 1)).unwrap();
    rtcp.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let report = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        rtcp.recv_from(&mut buf).ok().map(|(_, from)| from)
    });
    let mut caller = common(&rig, "caller.xml", NUMBER, "::1");
    caller[10] = media_port.to_string();
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "IPv6 caller: {out}");
    let record = rig.ended(1).await.remove(0);
    // The key press (RTP over IPv6) was heard; the caller waited in the queue.
    assert_eq!(record["dtmf_inputs"], json!(["1"]), "{record:#}");
    assert_eq!(record["queue"]["name"], "BasicQueue");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    let from = report.join().unwrap().expect("our RTCP over IPv6");
    assert!(from.is_ipv6(), "{from}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_at_an_ipv6_address_is_served_from_our_ipv6_media_address_or_refused() {
    if !sipp_ready() {
        return;
    }
    // Signalling over IPv4, audio at ::1 (-mi).
    let v6_media = |rig: &Rig, scenario: &str| {
        let mut args = common(rig, scenario, NUMBER, "127.0.0.1");
        args.extend(["-mi", "::1"].map(String::from));
        args
    };
    // IPv4 media only: refused with why, not answered into silence.
    let rig = Rig::new().await;
    rig.centre().await;
    let (code, out) = sipp(&v6_media(&rig, "invite_refused_488.xml")).await;
    assert_eq!(code, 0, "{out}");
    // With an IPv6 media address as well: served from it.
    let rig = Rig::configured(|c| c.media_ip_other = Some("::1".parse().unwrap())).await;
    rig.centre().await;
    let (code, out) = sipp(&v6_media(&rig, "caller.xml")).await;
    assert_eq!(code, 0, "{out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["dtmf_inputs"], json!(["1"]), "{record:#}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_registers_with_its_carrier_and_refreshes_before_it_lapses() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::configured(|c| c.trunk_reload = Duration::from_millis(500)).await;
    // The carrier's registrar: challenges, checks the digest, grants 5 s,
    // and takes one refresh.
    let registrar_args = common(&rig, "carrier_registrar.xml", "4420794609", "127.0.0.1");
    let port = registrar_args[8].clone();
    let registrar = sipp_listening(registrar_args, 40).await;
    rig.call(
        "POST",
        "/sip-trunks",
        Some(json!({
            "name": "carrier", "inbound_addresses": ["127.0.0.1"],
            "register": true, "registrar": format!("127.0.0.1:{port}"),
            "username": "4420794609", "password": "carrier-secret"
        })),
        None,
    )
    .await;
    let (code, out) = registrar.await.unwrap();
    assert_eq!(code, 0, "registrar: {out}");
    let metrics = rig.metrics_text().await;
    assert!(
        metrics.contains("switchboard_sip_trunk_registered{trunk=\"carrier\"} 1"),
        "{metrics}"
    );
    match rig.voice.trunk_registrations().states().get("carrier") {
        Some(switchboard_runtime::trunk_registrations::TrunkRegistration::Registered { until }) => {
            assert!(*until > chrono::Utc::now());
        }
        other => panic!("{other:?}"),
    }
    // As the console's trunk list reads it.
    let listed = rig
        .call("GET", "/sip-trunk-registrations", None, None)
        .await;
    assert_eq!(listed["items"][0]["trunk"], "carrier", "{listed:#}");
    assert_eq!(listed["items"][0]["state"], "REGISTERED", "{listed:#}");
    assert!(listed["items"][0]["until"].is_string(), "{listed:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_without_fixed_addresses_calls_in_by_digest() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre_with(
        json!({"name": "office PBX", "inbound_addresses": [], "authenticate_inbound": true,
               "username": "pbx-trunk", "password": "pbx-secret"}),
        json!({}),
    )
    .await;
    let caller = |password: &str| {
        let mut args = common(&rig, "caller_authenticated.xml", NUMBER, "127.0.0.1");
        args.extend(["-au", "pbx-trunk", "-ap", password].map(String::from));
        args
    };
    // Wrong credentials: challenged, then refused; no contact.
    let (code, out) = sipp(&caller("not-the-secret")).await;
    assert_eq!(code, 0, "{out}");
    assert!(rig.contacts().await.is_empty());
    // The right ones: challenged, answered.
    let (code, out) = sipp(&caller("pbx-secret")).await;
    assert_eq!(code, 0, "{out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"], "CUSTOMER_DISCONNECT",
        "{record:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_never_answers_gets_no_invite_once_the_offer_is_over() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    // The phone is a socket that reads and never answers (gone, or its NAT
    // forgot it): no 100, no 180.
    let phone_port = free_port();
    let phone = std::net::UdpSocket::bind(("127.0.0.1", phone_port)).unwrap();
    phone
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    rig.register_phone(phone_port).await;
    let invites = std::sync::Arc::new(std::sync::Mutex::new(Vec::<std::time::Instant>::new()));
    let seen = invites.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(n) = phone.recv(&mut buf) {
                if buf[..n].starts_with(b"INVITE ") {
                    seen.lock().unwrap().push(std::time::Instant::now());
                }
            }
        }
    });
    // The caller waits in the queue; the offer times out after 5 s.
    let args = common(&rig, "caller_stays.xml", NUMBER, "127.0.0.1");
    let caller = tokio::spawn(async move { sipp_within(&args, 60).await });
    assert_eq!(rig.wait_agent_state("deskagent", "Missed").await, "Missed");
    let missed = std::time::Instant::now();
    // An INVITE left to itself retransmits at 7.5 and 15.5 s (timer A).
    tokio::time::sleep(Duration::from_secs(12)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    let invites = invites.lock().unwrap().clone();
    assert!(
        invites.len() >= 2,
        "the INVITE was sent and retransmitted: {}",
        invites.len()
    );
    let late = invites
        .iter()
        .filter(|at| **at > missed + Duration::from_secs(1))
        .count();
    assert_eq!(
        late,
        0,
        "INVITEs after the offer ended: {late} of {}",
        invites.len()
    );
    caller.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_behind_nat_is_heard_and_answered_where_their_media_really_comes_from() {
    if !sipp_ready() {
        return;
    }
    // A short media timeout: dropping the caller's audio would end the call.
    let rig = Rig::with_media_timeout(Duration::from_secs(3)).await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_phone.xml", &["-rtp_echo"]).await;
    // Its SDP names 127.0.0.3; its RTP comes from 127.0.0.1, where our
    // RTCP must go too.
    let (media_port, rtcp) = free_rtp_pair();
    rtcp.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let reports = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        rtcp.recv(&mut buf).ok()
    });
    let mut caller = common(&rig, "caller_behind_nat.xml", NUMBER, "127.0.0.1");
    caller[10] = media_port.to_string();
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"], "CUSTOMER_DISCONNECT",
        "{record:#}"
    );
    assert_eq!(record["dtmf_inputs"], json!(["1"]), "{record:#}");
    assert_eq!(record["agent"]["username"], "deskagent");
    let quality = &record["quality"]["customer"];
    assert!(
        quality["packets_received"].as_u64().unwrap() >= 200,
        "{quality}"
    );
    assert_eq!(VoiceStats::get(&rig.voice.stats().rtp_packets_refused), 0);
    assert!(
        reports.join().unwrap().is_some(),
        "our RTCP reached the caller's real address"
    );
    // The agent's phone echoed the caller: the audio went through both ways.
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (left, right) = channels(&wav);
    let (l, r) = (rms(&left), rms(&right));
    assert!(
        l > 300.0 && r > 300.0,
        "levels: customer {l:.0}, agent {r:.0}"
    );
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
    let carrier = sipp_listening(carrier_args, 40).await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = carrier.await.unwrap();
    assert_eq!(code, 0, "carrier: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert_eq!(record["recording"]["status"], "AVAILABLE");
    // The agent's leg went out on the trunk: the record says where, and the
    // contact is metered for it as an outbound call (unrated by default).
    assert_eq!(record["agent"]["external_number"], "+447911123456");
    assert_eq!(
        record["agent"]["routing_profile"]["name"],
        "Basic Routing Profile"
    );
    let (cost, out) = rig.outbound_leg(record["id"].as_str().unwrap()).await;
    assert_eq!(out["number"], "+447911123456");
    assert!(out["minutes"].as_f64().unwrap() > 0.0, "{cost:#}");
    assert!(
        cost["cost"]["unrated"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u.as_str().unwrap().starts_with("outbound minutes")),
        "{cost:#}"
    );
}

/// A caller reaches deskagent, who is on an external number (+447911123456)
/// through `trunk`, whose carrier `dns` describes; the carrier (SIPp,
/// answering over TCP only) listens on `carrier_port`. The call's record,
/// once both have ended well and it went to the agent's number.
async fn call_agent_through_carrier_by_dns(
    dns: &common::dnsmasq::Dnsmasq,
    trunk: Value,
    carrier_port: u16,
) -> Value {
    let servers = vec![dns.addr()];
    let rig = Rig::configured(move |c| c.dns_servers = servers).await;
    rig.centre_with(trunk, json!({"desk_phone_number": "+447911123456"}))
        .await;
    let mut carrier_args = common(&rig, "agent_external.xml", "carrier", "127.0.0.1");
    carrier_args[8] = carrier_port.to_string();
    carrier_args.extend(["-t", "t1", "-rtp_echo"].map(String::from));
    let carrier = sipp_listening(carrier_args, 40).await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = carrier.await.unwrap();
    assert_eq!(code, 0, "carrier: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["agent"]["external_number"], "+447911123456",
        "{record:#}"
    );
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_named_only_in_dns_is_found_by_naptr_and_srv_and_called_over_tcp() {
    use common::dnsmasq::{dnsmasq_ready, Dnsmasq};
    if !sipp_ready() || !dnsmasq_ready() {
        return;
    }
    // carrier.test's NAPTR records prefer SIP over TCP (order 10) to UDP
    // (order 20); _sip._tcp.carrier.test's SRV record names sip1 on the
    // carrier's port, and sip1's A record its address (RFC 3263 section 4).
    let carrier_port = free_port();
    let dns = Dnsmasq::start(&[
        "--host-record=sip1.carrier.test,127.0.0.1".to_string(),
        format!("--srv-host=_sip._tcp.carrier.test,sip1.carrier.test,{carrier_port},10,100"),
        // A UDP server that must not be chosen: the NAPTR prefers TCP.
        format!(
            "--srv-host=_sip._udp.carrier.test,sip1.carrier.test,{},10,100",
            free_port()
        ),
        "--naptr-record=carrier.test,20,10,s,SIP+D2U,,_sip._udp.carrier.test".to_string(),
        "--naptr-record=carrier.test,10,10,s,SIP+D2T,,_sip._tcp.carrier.test".to_string(),
    ])
    .await;
    // The carrier listens over TCP only: the INVITE reaches it only if
    // NAPTR and SRV were followed.
    let record = call_agent_through_carrier_by_dns(
        &dns,
        json!({"name": "carrier by DNS", "inbound_addresses": ["127.0.0.1"], "outbound_proxy": "carrier.test", "caller_id_number": "+442079460100"}),
        carrier_port,
    )
    .await;
    let agent_packets = record["quality"]["agent"]["packets_received"]
        .as_u64()
        .unwrap_or_default();
    assert!(agent_packets > 50, "{:#}", record["quality"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_carriers_first_server_is_down_the_call_goes_to_its_next_by_srv() {
    use common::dnsmasq::{dnsmasq_ready, Dnsmasq};
    if !sipp_ready() || !dnsmasq_ready() {
        return;
    }
    // Two servers by SRV priority: the first (10) has nothing listening on
    // its port (a reserved port, so nothing will), the second (20) is the
    // carrier; the trunk names the transport, so SRV is asked directly.
    let (down_port, carrier_port) = (free_port(), free_port());
    let dns = Dnsmasq::start(&[
        "--host-record=sip1.carrier.test,127.0.0.1".to_string(),
        "--host-record=sip2.carrier.test,127.0.0.1".to_string(),
        format!("--srv-host=_sip._tcp.carrier.test,sip1.carrier.test,{down_port},10,100"),
        format!("--srv-host=_sip._tcp.carrier.test,sip2.carrier.test,{carrier_port},20,100"),
    ])
    .await;
    let record = call_agent_through_carrier_by_dns(
        &dns,
        json!({"name": "carrier by SRV", "inbound_addresses": ["127.0.0.1"], "outbound_proxy": "carrier.test", "transport": "TCP", "caller_id_number": "+442079460100"}),
        carrier_port,
    )
    .await;
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srtp_offer_over_sip_without_tls_is_refused_saying_why() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let (code, out) = sipp(&common(
        &rig,
        "invite_srtp_without_tls.xml",
        NUMBER,
        "127.0.0.1",
    ))
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(rig.voice.active_calls(), 0);
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
        (1.5..20.0).contains(&took),
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
    let third = sipp_listening(third, 40).await;
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
    // The third party's leg is metered from their answer (about 2 s).
    assert!(
        record["transfer_completed_timestamp"].is_string(),
        "{record:#}"
    );
    let (_, third) = rig.outbound_leg(record["id"].as_str().unwrap()).await;
    assert_eq!(third["number"], "+447911123456");
    let seconds = third["minutes"].as_f64().unwrap() * 60.0;
    assert!((1.0..15.0).contains(&seconds), "third party {seconds} s");
    let path: Vec<&str> = record["flow_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(path[..2], ["menu", "third"], "{path:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_text_to_speech_the_flow_takes_its_error_branch_instead_of_going_silent() {
    if !sipp_ready() {
        return;
    }
    // As on a machine where espeak-ng is not installed.
    let rig = Rig::configured(|c| c.tts_command = "switchboard-no-such-tts".into()).await;
    assert!(rig.voice.library().speech_ready().await.is_err());
    rig.centre().await;
    // The menu's prompt cannot be spoken: the flow goes on by its error
    // branch (here to a hang-up) at once, instead of waiting in silence.
    let (code, out) = sipp_within(
        &common(&rig, "caller_waits_for_bye.xml", NUMBER, "127.0.0.1"),
        20,
    )
    .await;
    assert_eq!(code, 0, "caller: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["flow_path"][0]["action"], "menu", "{record:#}");
    assert!(
        record["flow_path"][0]["branch"]
            .as_str()
            .unwrap()
            .starts_with("error"),
        "{record:#}"
    );
    assert_eq!(record["disconnect_reason"], "CONTACT_FLOW_DISCONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_phone_registered_before_a_restart_takes_the_first_call_after_it() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_phone.xml", &["-rtp_echo"]).await;

    // The process restarts: SIP stops, routing replays its log, voice starts
    // again on a new port with nothing in memory.
    rig.voice.shutdown();
    let state = switchboard_runtime::AppState {
        routing: switchboard_runtime::routing::start(rig.app.store.clone())
            .await
            .unwrap(),
        ..rig.app.clone()
    };
    let mut config = switchboard_voice::VoiceConfig::local("127.0.0.1:0".parse().unwrap());
    // SIPp's phone answers no out-of-call OPTIONS (as in the Rig).
    config.keepalive = Duration::from_secs(3600);
    let voice = switchboard_voice::start(state, config).await.unwrap();
    let restored = voice.registrar().devices("deskagent");
    let old = rig.voice.registrar().devices("deskagent");
    assert_eq!(restored.len(), 1, "the registration survived the restart");
    assert_eq!(restored[0].destination, old[0].destination);

    // The first call after the restart rings the phone, which answers.
    let mut caller = common(&rig, "caller.xml", NUMBER, "127.0.0.1");
    caller[0] = voice.local_sip().to_string();
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "agent phone: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    voice.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_password_guessing_is_locked_out_and_the_real_phone_elsewhere_still_registers() {
    if !sipp_ready() {
        return;
    }
    // A lock of a minute from the third wrong password: long enough that
    // the right password after the guesses certainly meets it.
    let rig = Rig::configured(|c| {
        let (mut per_user, per_address) = c.digest_guard;
        per_user.locks_at = 3;
        per_user.first_delay = Duration::from_secs(60);
        c.digest_guard = (per_user, per_address);
    })
    .await;
    rig.centre().await;
    let register = |scenario: &str, ip: &str, password: &str, extra: &[&str]| {
        let mut args = common(&rig, scenario, "deskagent", ip);
        args.extend(["-au", "deskagent", "-ap", password].map(String::from));
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    // svcrack-style: wrong passwords, each as soon as the last is answered.
    for guess in 0..10 {
        let password = format!("guess-{guess:04}");
        let guess = register("register_unauthenticated.xml", "127.0.0.1", &password, &[]);
        let (code, out) = sipp(&guess).await;
        assert_eq!(code, 0, "every guess refused: {out}");
    }
    // Now even the right password from there is refused, unchecked.
    let right_here = register(
        "register_unauthenticated.xml",
        "127.0.0.1",
        SIP_PASSWORD,
        &[],
    );
    let (code, out) = sipp(&right_here).await;
    assert_eq!(
        code, 0,
        "the right password from the guesser's address: {out}"
    );
    assert!(rig.voice.registrar().devices("deskagent").is_empty());
    // The real phone, on another address, registers.
    let phone = register(
        "register.xml",
        "127.0.0.2",
        SIP_PASSWORD,
        &["-key", "phone_port", "5099"],
    );
    let (code, out) = sipp(&phone).await;
    assert_eq!(code, 0, "the phone elsewhere: {out}");
    let devices = rig.voice.registrar().devices("deskagent");
    assert_eq!(devices.len(), 1, "registered");
    assert_eq!(devices[0].destination.ip().to_string(), "127.0.0.2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sip_connection_over_tcp_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rig = Rig::configured(|c| c.stream_idle = Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(rig.sip()).await.unwrap();
    // One trickled byte of a request, then nothing.
    silent.write_all(b"O").await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(DEADLINE, silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the idle connection was not closed: {closed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_connections_over_tcp_are_capped_per_address_and_in_all() {
    use switchboard_voice::transport::StreamLimits;
    let rig = Rig::configured(|c| {
        c.stream_limits = StreamLimits {
            per_address: 3,
            total: 5,
            handshake: Duration::from_secs(10),
        }
    })
    .await;
    let open_from = |ip: &'static str| {
        let sip = rig.sip();
        async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
            socket.connect(sip).await.unwrap()
        }
    };
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(open_from("127.0.0.1").await);
    }
    // A fourth from the same address is closed at once, and counted.
    let mut over = open_from("127.0.0.1").await;
    assert!(
        closed(&mut over).await,
        "a fourth connection from one address"
    );
    // Another address has its own three, up to five in all.
    let mut second = [open_from("127.0.0.2").await, open_from("127.0.0.2").await];
    let mut sixth = open_from("127.0.0.3").await;
    assert!(closed(&mut sixth).await, "a sixth connection in all");
    assert!(VoiceStats::get(&rig.voice.stats().transport.streams_refused) >= 2);
    // The admitted ones carry SIP.
    for stream in first.iter_mut().chain(second.iter_mut()) {
        assert!(options_answered(stream, rig.sip()).await);
    }
    // A connection that ends gives its place back.
    drop(first.pop());
    // The place is given back once the server has seen the close: retry
    // until then, within the deadline.
    let given_back = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut stream = open_from("127.0.0.1").await;
        if options_answered(&mut stream, rig.sip()).await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < given_back,
            "the closed connection's place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the server closes `stream` (within the test deadline) without a
/// byte.
async fn closed(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// Sends OPTIONS over `stream`; whether a 200 came back.
async fn options_answered(stream: &mut tokio::net::TcpStream, sip: std::net::SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let me = stream.local_addr().unwrap();
    let branch = uuid::Uuid::new_v4().simple();
    let options = format!(
        "OPTIONS sip:switchboard@{sip};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP {me};branch=z9hG4bK{branch};rport\r\n\
         From: <sip:probe@{me}>;tag=p\r\n\
         To: <sip:switchboard@{sip}>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    if stream.write_all(options.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"),
        _ => false,
    }
}

/// Sends `message` to Switchboard's SIP port over UDP; its answer, if any
/// within `wait`.
async fn answer_to(rig: &Rig, message: &str, wait: Duration) -> Option<String> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    let text = message
        .replace("{me}", &me.to_string())
        .replace("{sip}", &rig.sip().to_string());
    socket.send_to(text.as_bytes(), rig.sip()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, _) = tokio::time::timeout(wait, socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
        // Provisional answers (100 Trying) come first.
        if !answer.starts_with("SIP/2.0 1") {
            return Some(answer);
        }
    }
}

fn request(method: &str, extra: &str, body: &str, length: usize) -> String {
    format!(
        "{method} sip:{NUMBER}@{{sip}} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {{me}};branch=z9hG4bK-{method}-{length};rport\r\n\
         From: <sip:+447700900123@{{me}}>;tag=a1\r\n\
         To: <sip:{NUMBER}@{{sip}}>\r\n\
         Call-ID: {method}-{length}@test\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:caller@{{me}}>\r\n\
         Max-Forwards: 70\r\n{extra}\
         Content-Length: {length}\r\n\r\n{body}"
    )
}

#[tokio::test]
async fn requests_switchboard_does_not_serve_get_the_answers_rfc_3261_asks_for() {
    let rig = Rig::new().await;
    rig.centre().await;
    // An offer with no audio: 488, and a Warning saying why.
    let video = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=video 40000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    let answer = answer_to(
        &rig,
        &request(
            "INVITE",
            "Content-Type: application/sdp\r\n",
            video,
            video.len(),
        ),
        DEADLINE,
    )
    .await
    .expect("an answer to the INVITE");
    assert!(answer.starts_with("SIP/2.0 488"), "{answer}");
    let warning = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("warning:"))
        .unwrap_or_else(|| panic!("no Warning: {answer}"));
    assert!(warning.contains(" 305 "), "{warning}");
    // A method SIP knows and Switchboard does not serve: 405 with Allow.
    let answer = answer_to(
        &rig,
        &request("SUBSCRIBE", "Event: presence\r\nExpires: 60\r\n", "", 0),
        DEADLINE,
    )
    .await
    .expect("an answer to the SUBSCRIBE");
    assert!(answer.starts_with("SIP/2.0 405"), "{answer}");
    assert!(
        answer
            .lines()
            .any(|l| l.starts_with("Allow:") && l.contains("INVITE")),
        "{answer}"
    );
    // A method nobody knows: 501 with Allow (section 8.2.1), the request's
    // headers echoed and a To tag added; an ACK of it is never answered.
    let answer = answer_to(&rig, &request("FROBNICATE", "", "", 0), DEADLINE)
        .await
        .expect("an answer to the unknown method");
    assert!(answer.starts_with("SIP/2.0 501"), "{answer}");
    for wanted in [
        "Call-ID: FROBNICATE-0@test",
        "CSeq: 1 FROBNICATE",
        "branch=z9hG4bK-FROBNICATE-0",
    ] {
        assert!(answer.contains(wanted), "{wanted}: {answer}");
    }
    let to = answer.lines().find(|l| l.starts_with("To:")).unwrap();
    assert!(to.contains(";tag="), "{to}");
    assert!(
        answer
            .lines()
            .any(|l| l.starts_with("Allow:") && l.contains("REGISTER")),
        "{answer}"
    );
    assert_eq!(
        VoiceStats::get(&rig.voice.stats().transport.unknown_methods),
        1
    );
    // The stack behind is untouched: OPTIONS still answers.
    let answer = answer_to(&rig, &request("OPTIONS", "", "", 0), DEADLINE)
        .await
        .expect("an answer to OPTIONS");
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    // A datagram shorter than its Content-Length says: 400 (section 18.3).
    for method in ["INVITE", "OPTIONS"] {
        let answer = answer_to(
            &rig,
            &request(method, "Content-Type: application/sdp\r\n", "v=0\r\n", 500),
            DEADLINE,
        )
        .await
        .expect("an answer to the truncated request");
        assert!(answer.starts_with("SIP/2.0 400"), "{method}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_during_a_database_outage_is_refused_and_still_leaves_its_record() {
    if !sipp_ready() {
        return;
    }
    let Some(rig) = Rig::on_postgres().await else {
        return;
    };
    rig.centre().await;
    // An earlier call (to a number that is not ours) left Switchboard
    // knowing the carrier's trunk: only known trunks' calls get a record.
    let earlier = common(&rig, "invite_refused_404.xml", "15550001111", "127.0.0.1");
    let (code, out) = sipp(&earlier).await;
    assert_eq!(code, 0, "{out}");
    let admin = switchboard_store::testing::postgres_admin_url().unwrap();
    switchboard_store::testing::set_postgres_reachable(&admin, rig.database_url(), false).await;
    // The carrier is told to try elsewhere or later, at once.
    let caller = common(&rig, "invite_refused_503.xml", NUMBER, "127.0.0.1");
    let (code, out) = sipp(&caller).await;
    assert_eq!(code, 0, "503 during the outage: {out}");
    switchboard_store::testing::set_postgres_reachable(&admin, rig.database_url(), true).await;
    // Once the database is back, the call's record is there.
    let record = until("the refused call's record", DEADLINE, || async {
        let found = rig
            .app
            .store
            .list_contacts(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| "none yet".to_string())
    })
    .await;
    assert_eq!(
        record.state,
        switchboard_model::contact_record::ContactState::Ended
    );
    assert_eq!(
        record.disconnect_reason,
        Some(switchboard_model::contact_record::DisconnectReason::SystemError)
    );
    assert_eq!(record.customer_endpoint.address, "+447700900123");
    assert_eq!(record.system_endpoint.address, format!("+{NUMBER}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_on_both_ip_families_serves_an_ipv4_caller_to_an_ipv6_desk_phone_and_an_ipv6_caller() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::configured(|c| {
        c.sip_listen = "127.0.0.1:0".parse().unwrap();
        c.sip_listen_other = Some("[::1]:0".parse().unwrap());
        c.media_ip_other = Some("::1".parse().unwrap());
    })
    .await;
    rig.centre_with(
        json!({"name": "dual-stack carrier", "inbound_addresses": ["127.0.0.1", "::1"]}),
        json!({}),
    )
    .await;
    let v6 = rig.voice.local_sip_other().expect("SIP over IPv6 too");
    assert!(v6.is_ipv6() && v6.port() == rig.sip().port(), "{v6}");
    // SIPp over IPv6: its arguments with our IPv6 address as the target.
    let over_v6 = |file: &str, service: &str| {
        let mut args = common(&rig, file, service, "::1");
        args[0] = v6.to_string();
        args
    };
    // deskagent's phone registers over IPv6: its call comes over IPv6 (an
    // INVITE we send from the IPv6 socket), whoever calls.
    let mut phone_args = over_v6("agent_phone.xml", "deskagent");
    phone_args.push("-rtp_echo".into());
    let phone_port: u16 = phone_args[8].parse().unwrap();
    let phone = sipp_listening(phone_args, 40).await;
    register_phone_with(over_v6("register.xml", "deskagent"), phone_port).await;
    let devices = rig.voice.registrar().devices("deskagent");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(devices[0].destination.is_ipv6(), "{devices:?}");
    // An IPv4 caller presses 1 and reaches that phone; at the same time an
    // IPv6 caller presses nothing and is hung up on by the flow (our BYE
    // leaves by the IPv6 socket).
    let v4_caller = common(&rig, "caller.xml", NUMBER, "127.0.0.1");
    let v6_caller = over_v6("caller_waits_for_bye.xml", NUMBER);
    let ((code4, out4), (code6, out6)) =
        tokio::join!(sipp(&v4_caller), sipp_within(&v6_caller, 30));
    assert_eq!(code4, 0, "IPv4 caller: {out4}");
    assert_eq!(code6, 0, "IPv6 caller: {out6}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "IPv6 phone: {out}");
    let records = rig.ended(2).await;
    let by_reason = |reason: &str| {
        records
            .iter()
            .find(|r| r["disconnect_reason"] == reason)
            .unwrap_or_else(|| panic!("no {reason}: {records:#?}"))
    };
    let served = by_reason("CUSTOMER_DISCONNECT");
    assert_eq!(served["agent"]["username"], "deskagent", "{served:#}");
    assert!(
        served["quality"]["agent"]["packets_received"]
            .as_u64()
            .unwrap_or_default()
            > 50,
        "{served:#}"
    );
    let hung_up = by_reason("CONTACT_FLOW_DISCONNECT");
    assert_eq!(hung_up["flow_path"][0]["action"], "menu", "{hung_up:#}");
}
