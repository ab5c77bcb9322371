//! The CCP's WebSocket protocol without a browser: who may connect, what
//! bad messages get back, and the rules the page relies on (no Available
//! without an audio path, actions only on the agent's own contacts, an
//! absent agent made unroutable).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::*;
use futures::SinkExt;
use serde_json::{json, Value};
use switchboard_testkit::ws::{connect, next_of, say, Socket};
use tokio_tungstenite::tungstenite::Message;

async fn open(rig: &Rig) -> Socket {
    connect(&format!(
        "{}/ccp/ws",
        rig.origin.replace("http://", "ws://")
    ))
    .await
}

/// Sam, a softphone agent on the Basic Routing Profile, signed in.
async fn softphone_agent(rig: &Rig) -> String {
    add_softphone_agent(rig, ("sam", "Sam", "Reyes")).await;
    rig.login("sam", AGENT_PASSWORD).await
}

async fn add_softphone_agent(rig: &Rig, (username, first_name, last_name): (&str, &str, &str)) {
    rig.call(
        "POST",
        "/users",
        Some(json!({
            "username": username, "first_name": first_name, "last_name": last_name, "password": AGENT_PASSWORD,
            "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile",
            "phone_config": {"phone_type": "SOFT_PHONE"}
        })),
        None,
    )
    .await;
}

#[tokio::test]
async fn only_signed_in_agents_connect_and_bad_messages_are_answered_with_the_field() {
    let rig = Rig::new().await;
    let token = softphone_agent(&rig).await;

    let mut socket = open(&rig).await;
    say(&mut socket, json!({"type": "hello", "token": "sbs_forged"})).await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["field"], "token", "{refused}");

    let mut socket = open(&rig).await;
    say(&mut socket, json!({"type": "accept", "contact": "x"})).await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["field"], "type", "hello must come first: {refused}");

    let mut socket = open(&rig).await;
    say(&mut socket, json!({"type": "hello", "token": token})).await;
    let welcome = next_of(&mut socket, "welcome").await;
    assert_eq!(welcome["agent"]["username"], "sam");
    assert_eq!(welcome["agent"]["softphone"], true);
    assert!(welcome["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "Available"));

    socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(next_of(&mut socket, "error").await["field"], "type");
    say(&mut socket, json!({"type": "launch_rockets"})).await;
    assert_eq!(next_of(&mut socket, "error").await["field"], "type");
    say(&mut socket, json!({"type": "offer", "sdp": "hello"})).await;
    assert_eq!(next_of(&mut socket, "error").await["field"], "sdp");
    say(
        &mut socket,
        json!({"type": "set_status", "status": "Napping"}),
    )
    .await;
    let e = next_of(&mut socket, "error").await;
    assert_eq!(e["field"], "status");
    assert!(e["message"].as_str().unwrap().contains("Napping"));
    // No audio path yet: a softphone agent cannot become routable.
    say(
        &mut socket,
        json!({"type": "set_status", "status": "Available"}),
    )
    .await;
    let e = next_of(&mut socket, "error").await;
    assert_eq!(e["field"], "status");
    assert!(e["message"].as_str().unwrap().contains("audio"), "{e}");
    assert_eq!(rig.agent_state_of("sam").await, "Offline");
    // Actions on contacts that are not the agent's.
    for action in ["accept", "reject", "hold", "resume", "end", "close"] {
        say(
            &mut socket,
            json!({"type": action, "contact": "someone-elses"}),
        )
        .await;
        let e = next_of(&mut socket, "error").await;
        assert_eq!(e["field"], "contact", "{action}: {e}");
    }
    say(
        &mut socket,
        json!({"type": "dial", "number": "not a number"}),
    )
    .await;
    assert_eq!(next_of(&mut socket, "error").await["field"], "number");
    say(
        &mut socket,
        json!({"type": "dial", "number": "+447911123456"}),
    )
    .await;
    let e = next_of(&mut socket, "error").await;
    assert!(e["message"].as_str().unwrap().contains("audio"), "{e}");
    say(&mut socket, json!({"type": "ping"})).await;
    next_of(&mut socket, "pong").await;
}

#[tokio::test]
async fn an_agent_whose_ccp_stays_away_is_made_offline() {
    // A grace long enough that reconnecting on a busy machine fits in it.
    const GRACE: Duration = Duration::from_secs(3);
    let rig = Rig::configured(|c| c.ccp_grace = GRACE).await;
    let token = softphone_agent(&rig).await;
    // Available through the API (no audio check there), then the CCP comes and goes.
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Available"})),
        Some(&token),
    )
    .await;
    let mut socket = open(&rig).await;
    say(&mut socket, json!({"type": "hello", "token": token})).await;
    let welcome = next_of(&mut socket, "welcome").await;
    assert_eq!(welcome["state"], "Available");
    drop(socket);
    // Back within the grace period: nothing changes, even once the grace
    // that started when the first socket closed has run out.
    let mut socket = open(&rig).await;
    say(&mut socket, json!({"type": "hello", "token": token})).await;
    next_of(&mut socket, "welcome").await;
    tokio::time::sleep(GRACE + Duration::from_millis(500)).await;
    assert_eq!(rig.agent_state_of("sam").await, "Available");
    // Gone for good.
    drop(socket);
    assert_eq!(rig.wait_agent_state("sam", "Offline").await, "Offline");
}

#[tokio::test]
async fn calls_lost_in_a_restart_are_closed_and_free_their_agents() {
    use switchboard_model::ContactRecord;
    use switchboard_runtime::routing::RoutingEvent;

    let rig = Rig::new().await;
    let token = softphone_agent(&rig).await;
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Available"})),
        Some(&token),
    )
    .await;
    let agent = rig.call("GET", "/me", None, Some(&token)).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let queue = rig.call("GET", "/queues/BasicQueue", None, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A call in progress, as the voice shell leaves it in the store and in
    // routing: a record, and a contact connected to the agent.
    let app = rig.voice.app().clone();
    let mut record = ContactRecord {
        id: "lost-call".into(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
        initiation_timestamp: chrono::Utc::now(),
        state: switchboard_model::contact_record::ContactState::Connected,
        ..Default::default()
    };
    record.customer_endpoint.address = "+447700900123".into();
    app.store.put_contact(&record).await.unwrap();
    let routing = &app.routing;
    routing
        .send(RoutingEvent::Enqueue {
            contact: "lost-call".into(),
            queue,
            channel: switchboard_model::Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        })
        .await
        .unwrap();
    routing
        .send(RoutingEvent::Accept {
            contact: "lost-call".into(),
            agent: agent.clone(),
        })
        .await
        .unwrap();

    // The process restarts: routing replays its log, the voice shell starts again.
    let state = switchboard_runtime::AppState {
        routing: switchboard_runtime::routing::start(app.store.clone())
            .await
            .unwrap(),
        ..app.clone()
    };
    let voice = switchboard_voice::start(
        state.clone(),
        switchboard_voice::VoiceConfig::local("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let record = app.store.get_contact("lost-call").await.unwrap().unwrap();
    assert_eq!(
        record.state,
        switchboard_model::contact_record::ContactState::Ended
    );
    assert_eq!(
        record.disconnect_reason,
        Some(switchboard_model::contact_record::DisconnectReason::SystemError)
    );
    let now = state.routing.agents().await;
    let me = now.iter().find(|a| a.agent == agent).unwrap();
    assert_eq!(
        me.state,
        switchboard_runtime::routing::AgentState::AfterContactWork,
        "the agent is no longer on a dead call"
    );
    let cards = voice.softphones().get(&agent).unwrap().contacts();
    assert_eq!(cards.len(), 1);
    assert_eq!(
        (cards[0].state.as_str(), cards[0].customer.as_str()),
        ("ended", "+447700900123")
    );
    voice.shutdown();
}

/// Signs `username` in over the CCP socket.
async fn ccp_for(rig: &Rig, token: &str) -> Socket {
    let mut socket = open(rig).await;
    say(&mut socket, json!({"type": "hello", "token": token})).await;
    next_of(&mut socket, "welcome").await;
    socket
}

/// Waits for a contact card in `state` on the agent's socket; returns its id.
async fn card(socket: &mut Socket, state: &str) -> String {
    loop {
        let event = next_of(socket, "contact").await;
        if event["contact"]["state"] == state {
            return event["contact"]["contact"].as_str().unwrap().to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_a_caller_to_another_agent() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre_for(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
        json!({"phone_type": "SOFT_PHONE"}),
        ("sam", "Sam", "Reyes"),
    )
    .await;
    add_softphone_agent(&rig, ("bo", "Bo", "Lind")).await;
    rig.call(
        "POST",
        "/quick-connects",
        Some(json!({"name": "Bo directly", "target": {"type": "USER", "user": "bo"}})),
        None,
    )
    .await;
    let sam_token = rig.login("sam", AGENT_PASSWORD).await;
    let bo_token = rig.login("bo", AGENT_PASSWORD).await;
    let mut sam = ccp_for(&rig, &sam_token).await;
    let mut bo = ccp_for(&rig, &bo_token).await;
    // Bo is busy on a break: only Sam takes the call from the queue.
    for (token, status) in [(&bo_token, "Offline"), (&sam_token, "Available")] {
        rig.call(
            "PUT",
            "/me/status",
            Some(json!({"status": status})),
            Some(token),
        )
        .await;
    }

    let mut caller = common(&rig, "caller_stays.xml", NUMBER, "127.0.0.1");
    caller[2] = scenario_pressing("caller_stays.xml", '1');
    let caller = tokio::spawn(async move { sipp_within(&caller, 60).await });
    let first = card(&mut sam, "incoming").await;
    say(&mut sam, json!({"type": "accept", "contact": first})).await;
    card(&mut sam, "connected").await;
    say(
        &mut sam,
        json!({"type": "transfer", "contact": first, "quick_connect": "Bo directly"}),
    )
    .await;
    card(&mut sam, "ended").await;
    // The caller waits in Bo's own queue: nobody else is offered it, and Bo
    // gets it as soon as they are Available.
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Available"})),
        Some(&bo_token),
    )
    .await;
    let second = card(&mut bo, "incoming").await;
    assert_ne!(second, first);
    say(&mut bo, json!({"type": "accept", "contact": second})).await;
    card(&mut bo, "connected").await;
    say(&mut bo, json!({"type": "end", "contact": second})).await;
    card(&mut bo, "ended").await;
    let (code, out) = caller.await.unwrap();
    assert_eq!(code, 0, "caller: {out}");

    let ended = rig.ended(2).await;
    let old = ended.iter().find(|r| r["id"] == first.as_str()).unwrap();
    let new = ended.iter().find(|r| r["id"] == second.as_str()).unwrap();
    assert_eq!(old["agent"]["username"], "sam");
    assert_eq!(old["next_contact_id"], second.as_str());
    assert_eq!(new["previous_contact_id"], first.as_str());
    assert_eq!(new["initiation_method"], "TRANSFER");
    assert_eq!(new["agent"]["username"], "bo");
    assert_eq!(new["queue"]["name"], "bo", "{new:#}");
}

/// A call the desk phone finished, as the voice shell leaves it: a record
/// ENDED, and routing holding the agent in after-contact work on it.
async fn finished_desk_call(rig: &Rig, id: &str, agent: &str) {
    use switchboard_model::ContactRecord;
    use switchboard_runtime::routing::RoutingEvent;
    let queue = rig.call("GET", "/queues/BasicQueue", None, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now();
    let mut record = ContactRecord {
        id: id.into(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
        initiation_timestamp: now,
        disconnect_timestamp: Some(now),
        disconnect_reason: Some(
            switchboard_model::contact_record::DisconnectReason::CustomerDisconnect,
        ),
        state: switchboard_model::contact_record::ContactState::Ended,
        ..Default::default()
    };
    record.customer_endpoint.address = "+447700900123".into();
    record.agent = Some(switchboard_model::contact_record::AgentInfo {
        id: agent.into(),
        username: "deskagent".into(),
        connected_to_agent_timestamp: now,
        ..Default::default()
    });
    rig.app.store.put_contact(&record).await.unwrap();
    let routing = &rig.app.routing;
    for event in [
        RoutingEvent::Enqueue {
            contact: id.into(),
            queue,
            channel: switchboard_model::Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        },
        RoutingEvent::Accept {
            contact: id.into(),
            agent: agent.into(),
        },
        RoutingEvent::ContactEnded { contact: id.into() },
    ] {
        routing.send(event).await.unwrap();
    }
    // As the call does when its agent leg ends: the work is noted when it ends.
    rig.voice.agent_finished(agent, id);
    assert_eq!(rig.agent_state_of("deskagent").await, "AfterContactWork");
}

#[tokio::test]
async fn a_desk_phone_agent_ends_their_own_after_contact_work_from_the_api_and_the_ccp() {
    let rig = Rig::new().await;
    // No timeout: the work lasts until the agent closes it.
    rig.centre_with(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
        json!({"after_contact_work_timeout_seconds": 0}),
    )
    .await;
    let token = rig.login("deskagent", AGENT_PASSWORD).await;
    let agent = rig.call("GET", "/me", None, Some(&token)).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // From the API, with no CCP open.
    finished_desk_call(&rig, "desk-call-1", &agent).await;
    let url = |id: &str| format!("{}/me/contacts/{id}/close", rig.base);
    let refused = rig
        .http
        .post(url("someone-elses"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "id", "{body}");
    let closed = rig
        .call("POST", "/me/contacts/desk-call-1/close", None, Some(&token))
        .await;
    assert_eq!(closed["state"], "Available", "{closed}");
    let twice = rig
        .http
        .post(url("desk-call-1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 409, "nothing is left to close");

    // From a CCP opened after the call: the work is shown, and closes.
    finished_desk_call(&rig, "desk-call-2", &agent).await;
    let mut ccp = open(&rig).await;
    say(&mut ccp, json!({"type": "hello", "token": token})).await;
    let welcome = next_of(&mut ccp, "welcome").await;
    let cards = welcome["contacts"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{welcome:#}");
    assert_eq!(
        (&cards[0]["contact"], &cards[0]["state"]),
        (&json!("desk-call-2"), &json!("ended"))
    );
    say(&mut ccp, json!({"type": "close", "contact": "desk-call-2"})).await;
    assert_eq!(next_of(&mut ccp, "done").await["action"], "close");
    assert_eq!(
        rig.wait_agent_state("deskagent", "Available").await,
        "Available"
    );
    let record = until("the after-contact work recorded", DEADLINE, || async {
        let record = rig
            .app
            .store
            .get_contact("desk-call-2")
            .await
            .unwrap()
            .unwrap();
        match record
            .agent
            .as_ref()
            .and_then(|a| a.after_contact_work_end_timestamp)
        {
            Some(_) => Ok(record),
            None => Err(record.id),
        }
    })
    .await;
    assert!(record
        .agent
        .unwrap()
        .after_contact_work_duration_seconds
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sends_keys_from_the_keypad_to_the_caller_and_bad_keys_are_refused_by_field() {
    use common::baresip::{baresip_ready, Baresip, PhoneSetup};
    if !baresip_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre_full(
        json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]}),
        json!({"phone_type": "SOFT_PHONE"}),
        ("sam", "Sam", "Reyes"),
        recorded_queue_flow(),
    )
    .await;
    let token = rig.login("sam", AGENT_PASSWORD).await;
    let mut sam = ccp_for(&rig, &token).await;
    rig.call(
        "PUT",
        "/me/status",
        Some(json!({"status": "Available"})),
        Some(&token),
    )
    .await;
    // The other party is a real phone (baresip), which reports the keys it
    // receives (RFC 4733) as events.
    let caller = Baresip::start("keys", PhoneSetup::caller(&["g711"], 440)).await;
    caller
        .command("dial", &format!("sip:{NUMBER}@{}", rig.sip()))
        .await;
    let contact = card(&mut sam, "incoming").await;
    say(&mut sam, json!({"type": "accept", "contact": contact})).await;
    card(&mut sam, "connected").await;
    for (keys, why) in [
        ("12x", "not a key"),
        ("", "none"),
        ("1234567890123456789012345678901234", "too many"),
    ] {
        say(
            &mut sam,
            json!({"type": "send_keys", "contact": contact, "keys": keys}),
        )
        .await;
        let refused = next_of(&mut sam, "error").await;
        assert_eq!(refused["field"], "keys", "{why}: {refused}");
    }
    say(
        &mut sam,
        json!({"type": "send_keys", "contact": "someone-else", "keys": "1"}),
    )
    .await;
    assert_eq!(next_of(&mut sam, "error").await["field"], "contact");
    // Three keys, one message: each heard once, in order.
    say(
        &mut sam,
        json!({"type": "send_keys", "contact": contact, "keys": "19#"}),
    )
    .await;
    for (nth, key) in ["1", "9", "#"].into_iter().enumerate() {
        let event = caller.event("CALL_DTMF_START", nth + 1).await;
        assert_eq!(event["param"], key, "{event}");
    }
    say(&mut sam, json!({"type": "end", "contact": contact})).await;
    card(&mut sam, "ended").await;
    caller.event("CALL_CLOSED", 1).await;
    assert_eq!(caller.count("CALL_DTMF_START"), 3, "{}", caller.log());
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "sam", "{record:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_phone_agent_sees_their_call_in_the_ccp_and_holds_resumes_and_ends_it_there() {
    if !sipp_ready() {
        return;
    }
    let rig = Rig::new().await;
    rig.centre().await;
    let phone = rig.desk_phone("agent_phone.xml", &["-rtp_echo"]).await;
    let token = rig.login("deskagent", AGENT_PASSWORD).await;
    let mut ccp = ccp_for(&rig, &token).await;
    let mut caller = common(&rig, "caller_stays.xml", NUMBER, "127.0.0.1");
    caller[2] = scenario_pressing("caller_stays.xml", '1');
    let caller = tokio::spawn(async move { sipp_within(&caller, 60).await });
    // It rings on the phone, and the CCP shows it, saying where.
    let offered = loop {
        let event = next_of(&mut ccp, "contact").await;
        if event["contact"]["state"] == "incoming" {
            break event["contact"].clone();
        }
    };
    assert_eq!(offered["desk_phone"], true, "{offered}");
    let contact = offered["contact"].as_str().unwrap().to_string();
    say(&mut ccp, json!({"type": "accept", "contact": contact})).await;
    let refused = next_of(&mut ccp, "error").await;
    assert!(
        refused["message"].as_str().unwrap().contains("desk phone"),
        "{refused}"
    );
    // The phone answers; the CCP follows, and holds and resumes the caller.
    card(&mut ccp, "connected").await;
    say(&mut ccp, json!({"type": "hold", "contact": contact})).await;
    card(&mut ccp, "on_hold").await;
    say(&mut ccp, json!({"type": "resume", "contact": contact})).await;
    card(&mut ccp, "connected").await;
    // Ending it there hangs up the phone and the caller.
    say(&mut ccp, json!({"type": "end", "contact": contact})).await;
    card(&mut ccp, "ended").await;
    let (code, out) = caller.await.unwrap();
    assert_eq!(code, 0, "caller: {out}");
    let (code, out) = phone.await.unwrap();
    assert_eq!(code, 0, "phone: {out}");
    let record = rig.ended(1).await.remove(0);
    assert_eq!(record["agent"]["username"], "deskagent", "{record:#}");
    assert_eq!(record["agent"]["hold_count"], 1, "{record:#}");
    assert_eq!(
        record["disconnect_reason"], "AGENT_DISCONNECT",
        "{record:#}"
    );
    // After-contact work is closed from the CCP too.
    say(&mut ccp, json!({"type": "close", "contact": contact})).await;
    assert_eq!(rig.agent_state().await, "Available");
}
