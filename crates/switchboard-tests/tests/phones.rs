//! Real SIP phones: baresip (Debian `baresip-core`) registering as an
//! agent's desk phone over UDP and TCP in its own style (the expiry on the
//! Contact, no Expires header), unregistering when it quits, and two devices
//! of one agent ringing at once; linphonec (Debian `linphone-nogtk`) as a
//! desk phone over UDP and TCP (answering, transferring by REFER,
//! unregistering) and as a caller. SIPp is the caller otherwise. Under CI
//! a missing baresip, linphonec or SIPp fails the test.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use common::baresip::{baresip_ready, Baresip, PhoneSetup};
use common::linphone::{linphone_ready, Linphone};
use common::*;
use switchboard_voice::registrar::Transport;
use switchboard_voice::VoiceStats;

fn aor(rig: &Rig, transport: Option<&str>) -> String {
    match transport {
        Some(t) => format!("<sip:deskagent@{};transport={t}>", rig.sip()),
        None => format!("<sip:deskagent@{}>", rig.sip()),
    }
}

/// deskagent's phone over `transport` (None: UDP), registering every
/// 600 s, speaking G.711, answering as `answermode` says.
fn deskagent_phone(
    rig: &Rig,
    transport: Option<&str>,
    answermode: &'static str,
) -> PhoneSetup<'static> {
    PhoneSetup {
        aor: aor(rig, transport),
        password: SIP_PASSWORD,
        regint: 600,
        answermode,
        cafile: None,
        codecs: &["g711"],
        mediaenc: None,
        tone_hz: 440,
    }
}

/// Waits until deskagent has `n` registered devices (baresip registers
/// as it starts, before its control socket takes a listener for events).
async fn registered(rig: &Rig, n: usize) -> Vec<switchboard_voice::registrar::Device> {
    until(&format!("{n} registered devices"), DEADLINE, || async {
        let devices = rig.voice.registrar().devices("deskagent");
        if devices.len() == n {
            Ok(devices)
        } else {
            Err(devices)
        }
    })
    .await
}

/// Seconds left on each of deskagent's kept registrations.
async fn kept_seconds(rig: &Rig) -> Vec<i64> {
    let now = chrono::Utc::now();
    rig.app
        .store
        .live_registrations(now)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.username == "deskagent")
        .map(|r| (r.expires_at - now).num_seconds())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_registers_over_tcp_for_the_time_it_asks_and_unregisters_when_it_quits() {
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = Baresip::start(
        "tcp",
        PhoneSetup {
            regint: 300,
            ..deskagent_phone(&rig, Some("tcp"), "manual")
        },
    )
    .await;
    let devices = registered(&rig, 1).await;
    assert_eq!(devices[0].transport, Transport::Tcp);
    // It asked for 300 s on its Contact: it gets no more.
    let kept = kept_seconds(&rig).await;
    assert!(
        kept.len() == 1 && (250..=300).contains(&kept[0]),
        "{kept:?}"
    );
    phone.quit().await;
    registered(&rig, 0).await;
    assert!(kept_seconds(&rig).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_phones_of_an_agent_ring_and_the_one_that_answers_over_tcp_takes_the_call() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let desk = Baresip::start("desk", deskagent_phone(&rig, None, "manual")).await;
    let soft = Baresip::start("soft", deskagent_phone(&rig, Some("tcp"), "auto")).await;
    let mut transports: Vec<_> = registered(&rig, 2)
        .await
        .iter()
        .map(|d| d.transport)
        .collect();
    transports.sort_by_key(|t| t.as_str());
    assert_eq!(transports, vec![Transport::Tcp, Transport::Udp]);

    // The caller presses 1 and talks about 8 s, then hangs up.
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}\n--- soft phone:\n{}", soft.log());
    // Both rang; the TCP phone (reachable only over its own connection)
    // answered; the other was cancelled.
    desk.event("CALL_INCOMING", 1).await;
    soft.event("CALL_ESTABLISHED", 1).await;
    desk.event("CALL_CLOSED", 1).await;
    assert_eq!(desk.count("CALL_ESTABLISHED"), 0);
    // The caller's hang-up reached the phone over TCP too.
    soft.event("CALL_CLOSED", 1).await;

    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    // baresip's tone reached us: the agent's leg carried audio.
    let agent_packets = record["quality"]["agent"]["packets_received"]
        .as_u64()
        .unwrap_or_default();
    assert!(agent_packets > 100, "{:#}", record["quality"]);
    let talk = record["agent"]["talk_duration_seconds"].as_f64().unwrap();
    assert!((2.0..30.0).contains(&talk), "talk {talk}");
    // And the phone heard the call (the whisper, then the caller's speech).
    let heard = soft.heard();
    assert!(rms(&heard) > 300.0, "the agent heard {:.0}", rms(&heard));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_only_a_desk_phone_sets_their_status_by_dialling_feature_codes() {
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    assert_eq!(rig.agent_state().await, "Available");
    let phone = Baresip::start("codes", deskagent_phone(&rig, None, "manual")).await;
    registered(&rig, 1).await;
    // Dialled as a phone does: authenticated by digest, answered with the
    // status spoken, then hung up by us.
    phone
        .command("dial", &format!("sip:*0@{}", rig.sip()))
        .await;
    phone.event("CALL_ESTABLISHED", 1).await;
    phone.event("CALL_CLOSED", 1).await;
    assert_eq!(
        rig.wait_agent_state("deskagent", "Offline").await,
        "Offline"
    );
    phone
        .command("dial", &format!("sip:*1@{}", rig.sip()))
        .await;
    phone.event("CALL_CLOSED", 2).await;
    assert_eq!(
        rig.wait_agent_state("deskagent", "Available").await,
        "Available"
    );
    // Feature-code calls are not contacts.
    assert!(rig.contacts().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_phone_transfers_the_caller_to_a_queue_by_refer() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = Baresip::start("transfer", deskagent_phone(&rig, None, "auto")).await;
    registered(&rig, 1).await;
    // The caller presses 1 and talks; the agent's phone answers, then
    // transfers the caller back to the queue with its own transfer key
    // (REFER); the caller is offered again (to the same agent, once their
    // after-contact work is over) and hangs up on them.
    let args = common(&rig, "caller.xml", NUMBER, "127.0.0.1");
    let caller = tokio::spawn(async move { sipp_within(&args, 60).await });
    phone.event("CALL_ESTABLISHED", 1).await;
    phone.command("transfer", "BasicQueue").await;
    phone.event("CALL_CLOSED", 1).await;
    let (code, out) = caller.await.unwrap();
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.log());
    transferred_back_to_the_queue(&rig).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_on_baresip_over_tcp_hears_the_menu_and_is_hung_up_on_by_the_flow() {
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    // A caller's phone: no registration, calling the number over TCP.
    let caller = Baresip::start(
        "caller",
        PhoneSetup {
            aor: "<sip:+447700900123@127.0.0.1;transport=tcp>".into(),
            ..PhoneSetup::caller(&["g711"], 440)
        },
    )
    .await;
    caller
        .command("dial", &format!("sip:{NUMBER}@{};transport=tcp", rig.sip()))
        .await;
    caller.event("CALL_ESTABLISHED", 1).await;
    // No key: the menu times out and the flow hangs up; the BYE reaches
    // the phone over its TCP connection.
    caller.event("CALL_CLOSED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"], "CONTACT_FLOW_DISCONNECT",
        "{record:#}"
    );
    assert_eq!(record["customer_endpoint"]["address"], "+447700900123");
    // It heard the menu: what baresip played out is not silence.
    let samples = caller.heard();
    assert!(
        rms(&samples) > 300.0,
        "the caller heard {:.0}",
        rms(&samples)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_are_kept_alive_and_a_device_that_answers_nothing_is_dropped() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::configured(|c| c.keepalive = std::time::Duration::from_secs(1)).await;
    rig.centre().await;
    let phone = Baresip::start("alive", deskagent_phone(&rig, None, "manual")).await;
    registered(&rig, 1).await;
    // A second device registers, then is gone (nothing listens where its
    // Contact points): it answers no OPTIONS.
    rig.register_phone(free_port()).await;
    registered(&rig, 2).await;
    // Pinged every second: the silent one goes after two misses; baresip
    // answers and stays.
    let left = registered(&rig, 1).await;
    assert_eq!(left[0].destination.port(), phone.sip_port);
    let stats = rig.voice.stats();
    assert_eq!(VoiceStats::get(&stats.devices_dropped), 1);
    // Three more rounds: baresip answers each and is kept.
    let answered = VoiceStats::get(&stats.keepalives_answered);
    until("three more keep-alives answered", DEADLINE, || async {
        let now = VoiceStats::get(&stats.keepalives_answered);
        (now >= answered + 3).then_some(()).ok_or(now)
    })
    .await;
    assert_eq!(rig.voice.registrar().devices("deskagent").len(), 1);
    assert!(rig
        .metrics_text()
        .await
        .contains("sip_devices_dropped_total 1"));
}

/// A rig that also takes SIP over TLS, on `port`, with a self-signed
/// certificate for 127.0.0.1 (`cafile`, for phones to trust).
struct TlsRig {
    rig: Rig,
    port: u16,
    cafile: std::path::PathBuf,
    _certs: tempfile::TempDir,
}

impl TlsRig {
    /// deskagent's phone over TLS, answering at once, with `mediaenc`.
    fn deskagent_phone(&self, mediaenc: Option<&'static str>) -> PhoneSetup<'_> {
        PhoneSetup {
            aor: format!("<sip:deskagent@127.0.0.1:{};transport=tls>", self.port),
            cafile: Some(&self.cafile),
            mediaenc,
            ..deskagent_phone(&self.rig, None, "auto")
        }
    }
}

async fn tls_rig() -> TlsRig {
    let certs = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_pem, certified.cert.pem()).unwrap();
    std::fs::write(&key_pem, certified.signing_key.serialize_pem()).unwrap();
    let tls_port = free_port();
    let tls = switchboard_voice::TlsListen {
        listen: format!("127.0.0.1:{tls_port}").parse().unwrap(),
        cert_pem,
        key_pem,
    };
    let rig = Rig::configured(move |c| c.tls = Some(tls)).await;
    switchboard_testkit::wait::tcp_listening(tls_port).await;
    TlsRig {
        rig,
        port: tls_port,
        cafile: certs.path().join("cert.pem"),
        _certs: certs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_with_srtp_over_tls_hears_the_menu_and_is_heard() {
    if !baresip_ready() {
        return;
    }
    let tls = tls_rig().await;
    let (rig, tls_port) = (&tls.rig, tls.port);
    rig.centre().await;
    // A caller's phone that calls with SRTP or not at all (SDES keys).
    let caller = Baresip::start(
        "srtp",
        PhoneSetup {
            aor: "<sip:+447700900123@127.0.0.1;transport=tls>".into(),
            cafile: Some(&tls.cafile),
            mediaenc: Some("srtp-mand"),
            ..PhoneSetup::caller(&["g711"], 440)
        },
    )
    .await;
    caller
        .command(
            "dial",
            &format!("sip:{NUMBER}@127.0.0.1:{tls_port};transport=tls"),
        )
        .await;
    caller.event("CALL_ESTABLISHED", 1).await;
    caller.event("CALL_CLOSED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["disconnect_reason"],
        "CONTACT_FLOW_DISCONNECT",
        "{record:#}\n{}",
        caller.log()
    );
    // We decrypted its audio (its tone, authenticated packet by packet)...
    let received = record["quality"]["customer"]["packets_received"]
        .as_u64()
        .unwrap_or_default();
    assert!(received > 100, "{:#}\n{}", record["quality"], caller.log());
    // ...and it decrypted ours: the menu, not noise or silence.
    let samples = caller.heard();
    assert!(
        rms(&samples) > 300.0,
        "the caller heard {:.0}",
        rms(&samples)
    );
    let (in_calls, refused) = (
        rig.voice
            .stats()
            .rtp_packets_in
            .load(std::sync::atomic::Ordering::Relaxed),
        rig.voice
            .stats()
            .rtp_packets_refused
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    assert!(
        in_calls > 100 && refused == 0,
        "in {in_calls}, refused {refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_phone_over_tls_is_offered_srtp_and_both_sides_hear_each_other() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let tls = tls_rig().await;
    let rig = &tls.rig;
    rig.centre().await;
    // SRTP when offered (baresip's best-effort `srtp`, keys in RTP/AVP).
    let phone = Baresip::start("tls-srtp", tls.deskagent_phone(Some("srtp"))).await;
    registered(rig, 1).await;
    let (code, out) = sipp(&common(rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.log());
    phone.event("CALL_ESTABLISHED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert!(
        phone.log().contains("SRTP is Enabled"),
        "the phone took our key: {}",
        phone.log()
    );
    // Its tone, decrypted here...
    let agent_packets = record["quality"]["agent"]["packets_received"]
        .as_u64()
        .unwrap_or_default();
    assert!(agent_packets > 100, "{:#}", record["quality"]);
    // ...and the whisper and the caller, decrypted there.
    let heard = phone.heard();
    assert!(rms(&heard) > 300.0, "the agent heard {:.0}", rms(&heard));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_registered_over_tls_is_called_over_its_tls_connection() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let tls = tls_rig().await;
    let rig = &tls.rig;
    rig.centre().await;
    let phone = Baresip::start("tls", tls.deskagent_phone(None)).await;
    let devices = registered(rig, 1).await;
    assert_eq!(devices[0].transport, Transport::Tls, "{}", phone.log());
    // The call reaches it over its TLS connection (it has no other way in).
    let (code, out) = sipp(&common(rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.log());
    phone.event("CALL_ESTABLISHED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_g722_only_desk_phone_and_a_g711_caller_hear_each_other() {
    if !baresip_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = Baresip::start(
        "g722",
        PhoneSetup {
            codecs: &["g722"],
            ..deskagent_phone(&rig, None, "auto")
        },
    )
    .await;
    registered(&rig, 1).await;
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.log());
    phone.event("CALL_ESTABLISHED", 1).await;
    assert!(phone.log().contains("G722"), "{}", phone.log());
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    // The phone heard the whisper and the caller through G.722...
    let heard = phone.heard();
    assert!(rms(&heard) > 300.0, "the phone heard {:.0}", rms(&heard));
    // ...and its tone reached the caller's side of the recording's right channel.
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (_, agent) = channels(&wav);
    assert!(rms(&agent) > 300.0, "the agent side is {:.0}", rms(&agent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_g722_caller_and_a_g722_desk_phone_hear_each_others_upper_band_in_a_wideband_recording() {
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre_running(recorded_queue_flow()).await;
    // Each sends a tone above 4 kHz, which G.711 cannot carry: heard
    // across only if the call passes G.722 through.
    let (caller_hz, agent_hz) = (6_000.0, 5_000.0);
    let phone = Baresip::start(
        "wide-agent",
        PhoneSetup {
            codecs: &["g722"],
            tone_hz: agent_hz as u32,
            ..deskagent_phone(&rig, None, "auto")
        },
    )
    .await;
    registered(&rig, 1).await;
    let caller = Baresip::start(
        "wide-caller",
        PhoneSetup::caller(&["g722"], caller_hz as u32),
    )
    .await;
    caller
        .command("dial", &format!("sip:{NUMBER}@{}", rig.sip()))
        .await;
    phone.event("CALL_ESTABLISHED", 1).await;
    // Four seconds of the call at 16 kHz reach the phone (the whisper first).
    let wanted = 44 + 4 * 16_000 * 2;
    until("four seconds heard by the phone", DEADLINE, || async {
        let bytes = phone.heard_bytes();
        if bytes >= wanted {
            Ok(())
        } else {
            Err(bytes)
        }
    })
    .await;
    caller.command("hangup", "").await;
    caller.event("CALL_CLOSED", 1).await;
    phone.event("CALL_CLOSED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    let (rate, heard) = phone.heard_at();
    assert_eq!(rate, 16_000, "{}", phone.log());
    let share = best_tone_share(&heard, rate, caller_hz);
    assert!(
        share > 0.5,
        "the phone heard the caller's tone at {share:.2}"
    );
    let (rate, heard) = caller.heard_at();
    assert_eq!(rate, 16_000, "{}", caller.log());
    let share = best_tone_share(&heard, rate, agent_hz);
    assert!(
        share > 0.5,
        "the caller heard the agent's tone at {share:.2}"
    );
    // The recording is wideband: each side's tone, on its own channel.
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (rate, customer, agent) = channels_at(&wav);
    assert_eq!(rate, 16_000);
    let (left, right) = (
        best_tone_share(&customer, rate, caller_hz),
        best_tone_share(&agent, rate, agent_hz),
    );
    assert!(
        left > 0.5 && right > 0.5,
        "customer {left:.2}, agent {right:.2}"
    );
}

/// Waits for the two records a desk phone's transfer of the caller back to
/// the queue leaves (deskagent's, then the caller's next contact there),
/// linked both ways.
async fn transferred_back_to_the_queue(rig: &Rig) {
    let ended = rig.ended(2).await;
    let first = ended
        .iter()
        .find(|r| r["initiation_method"] == "INBOUND")
        .unwrap();
    let again = ended
        .iter()
        .find(|r| r["initiation_method"] == "TRANSFER")
        .unwrap();
    assert_eq!(first["next_contact_id"], again["id"], "{first:#}");
    assert_eq!(again["previous_contact_id"], first["id"], "{again:#}");
    assert_eq!(first["agent"]["username"], "deskagent");
    assert_eq!(again["queue"]["name"], "BasicQueue");
}

/// deskagent's phone on linphonec, answering at once, registered over
/// `transport` (`udp`, `tcp`).
async fn linphone_deskagent(rig: &Rig, name: &str, transport: &str) -> Linphone {
    let phone = Linphone::start(name, 440.0).await;
    phone.command("autoanswer enable").await;
    phone
        .command(&format!(
            "register sip:deskagent@{0} sip:{0};transport={transport} {SIP_PASSWORD}",
            rig.sip()
        ))
        .await;
    phone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linphone_desk_phone_registers_answers_a_caller_both_are_heard_and_it_unregisters() {
    if !linphone_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = linphone_deskagent(&rig, "desk", "udp").await;
    let devices = registered(&rig, 1).await;
    assert_eq!(devices[0].transport, Transport::Udp, "{}", phone.output());
    let (code, out) = sipp(&common(&rig, "caller.xml", NUMBER, "127.0.0.1")).await;
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.output());
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    // Its tone reached us and the recording's agent side...
    let agent_packets = record["quality"]["agent"]["packets_received"]
        .as_u64()
        .unwrap_or_default();
    assert!(agent_packets > 100, "{:#}", record["quality"]);
    let wav = rig.recording(record["id"].as_str().unwrap()).await;
    let (_, agent) = channels(&wav);
    assert!(rms(&agent) > 300.0, "the agent side is {:.0}", rms(&agent));
    // ...and it heard the whisper and the caller.
    let heard = phone.quit().await;
    assert!(rms(&heard) > 300.0, "the phone heard {:.0}", rms(&heard));
    // Quitting unregistered it.
    registered(&rig, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linphone_desk_phone_over_tcp_transfers_the_caller_to_a_queue_by_refer() {
    if !linphone_ready() || !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = linphone_deskagent(&rig, "transfer", "tcp").await;
    let devices = registered(&rig, 1).await;
    assert_eq!(devices[0].transport, Transport::Tcp, "{}", phone.output());
    // The caller presses 1; the phone answers (over its TCP connection),
    // then transfers the caller back to the queue (REFER); the caller is
    // offered again, to the same agent once their after-contact work is over.
    let args = common(&rig, "caller.xml", NUMBER, "127.0.0.1");
    let caller = tokio::spawn(async move { sipp_within(&args, 60).await });
    phone.printed("connected.", 1).await;
    phone
        .command(&format!("transfer sip:BasicQueue@{}", rig.sip()))
        .await;
    let (code, out) = caller.await.unwrap();
    assert_eq!(code, 0, "caller: {out}\n--- phone:\n{}", phone.output());
    transferred_back_to_the_queue(&rig).await;
    phone.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_on_linphone_hears_the_menu_presses_a_key_and_waits_in_the_queue() {
    if !linphone_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let caller = Linphone::start("caller", 440.0).await;
    caller
        .command(&format!("call sip:{NUMBER}@{}", rig.sip()))
        .await;
    caller.printed("connected.", 1).await;
    // A key (RFC 4733 from linphone) once it hears the menu.
    until("the caller hearing the menu", DEADLINE, || async {
        let heard = caller.hearing();
        let last = &heard[heard.len().saturating_sub(1600)..];
        match rms(last) > 300.0 {
            true => Ok(()),
            false => Err(rms(last)),
        }
    })
    .await;
    caller.command("1").await;
    until("the caller in the queue", DEADLINE, || async {
        let contact = rig.contacts().await.first().cloned().unwrap_or_default();
        match contact["queue"]["name"] == "BasicQueue" {
            true => Ok(()),
            false => Err(contact),
        }
    })
    .await;
    caller.command("terminate").await;
    caller.printed("ended", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(
        record["dtmf_inputs"],
        serde_json::json!(["1"]),
        "{record:#}"
    );
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    let heard = caller.quit().await;
    assert!(rms(&heard) > 300.0, "the caller heard {:.0}", rms(&heard));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_pressed_on_a_desk_phone_reach_the_other_party() {
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre_running(recorded_queue_flow()).await;
    let phone = Baresip::start("keys-agent", deskagent_phone(&rig, None, "auto")).await;
    registered(&rig, 1).await;
    // The other party: a phone that reports the keys it receives.
    let caller = Baresip::start("keys-party", PhoneSetup::caller(&["g711"], 440)).await;
    caller
        .command("dial", &format!("sip:{NUMBER}@{}", rig.sip()))
        .await;
    phone.event("CALL_ESTABLISHED", 1).await;
    // The agent presses 5 (RFC 4733 from the phone), as on a PBX, to work
    // the other party's menu. Keys during the queue's whisper go nowhere,
    // so it presses again until one is heard.
    until("the other party hearing the key", DEADLINE, || async {
        if caller.count("CALL_DTMF_START") > 0 {
            return Ok(());
        }
        phone.command("sndcode", "5").await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        Err(caller.count("CALL_DTMF_START"))
    })
    .await;
    let event = caller.event("CALL_DTMF_START", 1).await;
    assert_eq!(event["param"], "5", "{event}");
    caller.command("hangup", "").await;
    caller.event("CALL_CLOSED", 1).await;
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
}
