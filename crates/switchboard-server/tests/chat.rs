//! The chat channel end to end over real sockets: start a chat, the flow
//! talks and reads the customer's answer, the chat queues, an agent takes it
//! (within their chat concurrency), both sides exchange messages, typing and
//! receipts, a dropped customer resumes from their last sequence with
//! nothing lost or repeated, the agent ends it, the transcript is stored and
//! linked from the contact record. Bad input and timeouts are refused or
//! ended with clear reasons.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_runtime::routing::RoutingEvent;
use switchboard_testkit::wait::{self, DEADLINE};
use switchboard_webchat::{AgentChatEvent, ChatCard, ChatSettings};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The customer types "sales" to be queued, "wait" to wait, anything else to be told off.
fn chat_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "greet", "Actions": [
        {"Identifier": "greet", "Type": "MessageParticipant",
         "Parameters": {"Text": "Hello $.Attributes.plan customer"},
         "Transitions": {"NextAction": "ask", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "ask"}]}},
        {"Identifier": "ask", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Type sales or wait", "StoreInput": "False", "InputTimeLimitSeconds": "60"},
         "Transitions": {"NextAction": "bye", "Conditions": [
            {"NextAction": "to-sales", "Condition": {"Operator": "Equals", "Operands": ["sales"]}},
            {"NextAction": "wait", "Condition": {"Operator": "Equals", "Operands": ["wait"]}}],
          "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "bye"},
                     {"ErrorType": "NoMatchingCondition", "NextAction": "sorry"},
                     {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "300", "Events": ["CustomerReturned"]},
         "Transitions": {"Conditions": [
            {"NextAction": "back", "Condition": {"Operator": "Equals", "Operands": ["CustomerReturned"]}},
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
          "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "back", "Type": "MessageParticipant", "Parameters": {"Text": "Welcome back"},
         "Transitions": {"NextAction": "ask", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "ask"}]}},
        {"Identifier": "sorry", "Type": "MessageParticipant", "Parameters": {"Text": "Sorry, I did not get that"},
         "Transitions": {"NextAction": "ask", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "ask"}]}},
        {"Identifier": "to-sales", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Sales"},
         "Transitions": {"NextAction": "queue", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "queue", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "bye"},
                                                         {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

/// A Sales queue, a flow, and agents `names` taking up to `concurrency` chats each.
async fn centre(app: &TestApp, concurrency: u32, names: &[&str]) -> Vec<(String, String)> {
    let admin = &app.admin;
    let r = app
        .post(
            "/api/v1/queues",
            admin,
            json!({"name": "Sales", "hours_of_operation": "Basic Hours"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/routing-profiles",
            admin,
            json!({"name": "Chat agents",
        "media_concurrencies": [{"channel": "CHAT", "concurrency": concurrency}],
        "queue_configs": [{"queue": "Sales", "channel": "CHAT", "priority": 1}],
        "default_outbound_queue": "Sales"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/flows",
            admin,
            json!({"name": "Web chat", "type": "CONTACT_FLOW", "content": chat_flow()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/flows/{id}/publish"), admin, json!({}))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // A draft that was never published is not for customers.
    let r = app
        .post(
            "/api/v1/flows",
            admin,
            json!({"name": "Draft chat", "type": "CONTACT_FLOW", "content": chat_flow()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut agents = vec![];
    for name in names {
        let r = app
            .post(
                "/api/v1/users",
                admin,
                json!({"username": name, "first_name": name, "password": USER_PASSWORD,
                    "security_profiles": ["Agent"], "routing_profile": "Chat agents"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let token = app.login(name, USER_PASSWORD).await;
        let id = r.body["id"].as_str().unwrap().to_string();
        agents.push((id, token));
    }
    agents
}

/// The chat shell's cards for agents, as the CCP would get them.
fn cards(app: &TestApp) -> mpsc::UnboundedReceiver<AgentChatEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    app.chat.set_agent_sink(std::sync::Arc::new(move |e| {
        let _ = tx.send(e);
    }));
    rx
}

async fn next_card(rx: &mut mpsc::UnboundedReceiver<AgentChatEvent>) -> AgentChatEvent {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a card for the agent")
        .unwrap()
}

async fn card(rx: &mut mpsc::UnboundedReceiver<AgentChatEvent>, state: &str) -> ChatCard {
    loop {
        if let AgentChatEvent::Card(c) = next_card(rx).await {
            if c.state.as_str() == state {
                return c;
            }
        }
    }
}

async fn start(app: &TestApp, body: Value) -> Value {
    let r = app
        .call(Method::POST, "/api/v1/chat/start", None, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn open(addr: std::net::SocketAddr, token: &str, since: u64) -> (Socket, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/chat/connect"))
        .await
        .unwrap();
    send(
        &mut ws,
        json!({"type": "hello", "token": token, "since": since}),
    )
    .await;
    let welcome = recv(&mut ws).await;
    (ws, welcome)
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn recv(ws: &mut Socket) -> Value {
    loop {
        let m = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a frame within the deadline")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Frames until one matches; returns the items passed on the way too.
async fn until(ws: &mut Socket, mut want: impl FnMut(&Value) -> bool) -> (Value, Vec<Value>) {
    let mut items = vec![];
    loop {
        let f = recv(ws).await;
        if f["type"] == "item" {
            items.push(f["item"].clone());
        }
        if want(&f) {
            return (f, items);
        }
    }
}

fn is_message(text: &'static str) -> impl FnMut(&Value) -> bool {
    move |f| f["type"] == "item" && f["item"]["type"] == "MESSAGE" && f["item"]["content"] == text
}

async fn say(ws: &mut Socket, text: &str, client_token: &str) -> Value {
    send(
        ws,
        json!({"type": "send", "content": text, "client_token": client_token}),
    )
    .await;
    until(ws, |f| f["type"] == "sent" || f["type"] == "error")
        .await
        .0
}

async fn record(app: &TestApp, contact: &str, state: &str) -> Value {
    wait::until(
        &format!("contact {contact} in {state}"),
        DEADLINE,
        || async {
            let r = app
                .get(&format!("/api/v1/contacts/{contact}"), &app.admin)
                .await;
            if r.status == StatusCode::OK && r.body["state"] == state {
                Ok(r.body)
            } else {
                Err(r.body)
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_chat_goes_through_the_flow_to_an_agent_and_resumes_without_loss() {
    for app in apps().await {
        let agents = centre(&app, 2, &["alice"]).await;
        let (alice, alice_token) = &agents[0];
        let mut cards = cards(&app);
        let addr = app.serve().await;
        let started = start(
            &app,
            json!({"flow": "Web chat", "display_name": "Ada",
            "initial_message": {"content_type": "text/plain", "content": "Hi there"},
            "attributes": {"plan": "gold"}}),
        )
        .await;
        let contact = started["contact_id"].as_str().unwrap().to_string();
        let token = started["participant_token"].as_str().unwrap().to_string();

        // The customer sees their message, the flow's greeting (with the
        // attribute) and its question, in order.
        let (mut customer, welcome) = open(addr, &token, 0).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(welcome["role"], "CUSTOMER");
        assert_eq!(welcome["contact_id"], contact.as_str());
        let (_, items) = until(&mut customer, is_message("Type sales or wait")).await;
        let said: Vec<&str> = items
            .iter()
            .filter(|i| i["type"] == "MESSAGE")
            .map(|i| i["content"].as_str().unwrap())
            .collect();
        assert_eq!(
            said,
            ["Hi there", "Hello gold customer", "Type sales or wait"]
        );
        let seqs: Vec<u64> = items.iter().map(|i| i["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless");

        // A wrong answer, then Wait: the customer's return continues the flow.
        say(&mut customer, "what?", "t1").await;
        until(&mut customer, is_message("Sorry, I did not get that")).await;
        say(&mut customer, "wait", "t2").await;
        until(&mut customer, |f| f["item"]["content"] == "wait").await;
        say(&mut customer, "I am back", "t3").await;
        until(&mut customer, is_message("Welcome back")).await;
        say(&mut customer, "sales", "t4").await;
        let queued = record(&app, &contact, "QUEUED").await;
        // A chat's customer is known by the name they gave.
        assert_eq!(queued["customer_name"], "Ada", "{queued}");
        assert_eq!(queued["channel"], "CHAT");
        assert_eq!(queued["initiation_method"], "API");
        assert_eq!(queued["queue"]["name"], "Sales");
        assert_eq!(queued["attributes"]["plan"], "gold");

        // Alice becomes available and is offered the chat; she accepts.
        let r = app
            .put(
                "/api/v1/me/status",
                alice_token,
                json!({"status": "Available"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let offer = card(&mut cards, "incoming").await;
        assert_eq!(offer.contact, contact);
        assert_eq!(offer.customer, "Ada");
        assert_eq!(&offer.agent, alice);
        app.routing
            .send(RoutingEvent::Accept {
                contact: contact.clone(),
                agent: alice.clone(),
            })
            .await
            .unwrap();
        let connected = card(&mut cards, "connected").await;
        let agent_token = connected.token.clone().expect("the agent's token");
        let (mut agent, welcome) = open(addr, &agent_token, 0).await;
        assert_eq!(welcome["role"], "AGENT");
        assert_eq!(welcome["display_name"], "alice");
        // The agent reads the whole conversation so far.
        let (_, history) = until(&mut agent, is_message("sales")).await;
        assert!(history.iter().any(|i| i["content"] == "Hi there"));
        until(&mut customer, |f| {
            f["item"]["type"] == "JOINED" && f["item"]["role"] == "AGENT"
        })
        .await;

        // Messages, typing and receipts both ways.
        let sent = say(&mut agent, "Hello Ada, <b>how</b> can I help?", "a1").await;
        assert_eq!(sent["type"], "sent", "{sent}");
        let (f, _) = until(&mut customer, |f| {
            f["item"]["role"] == "AGENT" && f["item"]["type"] == "MESSAGE"
        })
        .await;
        // Markup is kept as the text it is; pages show it as text.
        assert_eq!(f["item"]["content"], "Hello Ada, <b>how</b> can I help?");
        let agent_msg = f["item"]["seq"].as_u64().unwrap();
        send(
            &mut customer,
            json!({"type": "receipt", "seq": agent_msg, "kind": "READ"}),
        )
        .await;
        let (r, _) = until(&mut agent, |f| f["item"]["type"] == "RECEIPT").await;
        assert_eq!(r["item"]["kind"], "READ");
        assert_eq!(r["item"]["message"], agent_msg);
        send(&mut customer, json!({"type": "typing"})).await;
        let (t, _) = until(&mut agent, |f| f["type"] == "typing").await;
        assert_eq!(t["display_name"], "Ada");

        // The customer's connection drops; the agent says three things; the
        // customer comes back from their last sequence and gets exactly those.
        let last = agent_msg + 1; // the receipt
        drop(customer);
        for (i, text) in ["one", "two", "three"].iter().enumerate() {
            let s = say(&mut agent, text, &format!("b{i}")).await;
            assert_eq!(s["type"], "sent");
        }
        let (mut customer, welcome) = open(addr, &token, last).await;
        assert_eq!(welcome["last_seq"], last + 3);
        let mut got = vec![];
        for _ in 0..3 {
            let f = recv(&mut customer).await;
            assert_eq!(f["type"], "item", "{f}");
            got.push((
                f["item"]["seq"].as_u64().unwrap(),
                f["item"]["content"].clone(),
            ));
        }
        assert_eq!(
            got,
            [
                (last + 1, json!("one")),
                (last + 2, json!("two")),
                (last + 3, json!("three"))
            ]
        );
        // A retried send (same client token) is kept once.
        let first = say(&mut customer, "Thanks", "c9").await;
        let again = say(&mut customer, "Thanks", "c9").await;
        assert_eq!(first["seq"], again["seq"]);
        let transcript = app
            .send(
                axum::http::Request::get("/api/v1/chat/transcript")
                    .header("x-participant-token", &token)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(transcript.status, StatusCode::OK);
        let thanks = transcript.body["Transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["Content"] == "Thanks")
            .count();
        assert_eq!(thanks, 1);

        // The agent ends the chat: both see the end, the agent has
        // after-contact work, the transcript is stored and linked.
        let r = app.chat.agent_end(&contact, alice).await;
        assert_eq!(r, Ok(()));
        let (end, _) = until(&mut customer, |f| f["item"]["type"] == "ENDED").await;
        assert_eq!(end["item"]["reason"], "AGENT_DISCONNECT");
        until(&mut agent, |f| f["item"]["type"] == "ENDED").await;
        card(&mut cards, "ended").await;
        let ended = record(&app, &contact, "ENDED").await;
        assert_eq!(ended["disconnect_reason"], "AGENT_DISCONNECT");
        assert_eq!(ended["agent"]["username"], "alice");
        assert!(ended["queue"]["duration_seconds"].as_f64().unwrap() >= 0.0);
        assert_eq!(ended["transcript"]["status"], "AVAILABLE", "{ended}");
        // Hi there, hello, question, what?, sorry, question, wait, I am back,
        // welcome back, question, sales, agent hello, one, two, three, Thanks.
        assert_eq!(ended["transcript"]["message_count"], 16, "{ended}");
        let stored = app
            .get(
                &format!("/api/v1/contacts/{contact}/transcript"),
                &app.admin,
            )
            .await;
        assert_eq!(stored.status, StatusCode::OK, "{}", stored.body);
        assert_eq!(stored.body["ContactId"], contact.as_str());
        assert!(stored.body["Transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["Content"] == "three" && e["ParticipantRole"] == "AGENT"));
        // Contact search finds the chat by its words.
        let found = wait::until("the chat found by its words", DEADLINE, || async {
            let found = app
                .get(
                    "/api/v1/contacts?text=how%3C%2Fb%3E%20can&channel=CHAT",
                    &app.admin,
                )
                .await
                .body;
            if found["items"].as_array().is_some_and(|i| !i.is_empty()) {
                Ok(found)
            } else {
                Err(found)
            }
        })
        .await;
        assert_eq!(found["items"][0]["id"], contact.as_str(), "{found}");
        let states = app.state.routing.agents().await;
        let alice_state = states.iter().find(|s| &s.agent == alice).unwrap();
        assert_eq!(
            alice_state.state,
            switchboard_runtime::routing::AgentState::AfterContactWork
        );
    }
}

#[tokio::test]
async fn an_agent_holds_chats_up_to_their_concurrency() {
    for app in apps().await {
        let agents = centre(&app, 2, &["bea"]).await;
        let (bea, bea_token) = &agents[0];
        let mut cards = cards(&app);
        app.put(
            "/api/v1/me/status",
            bea_token,
            json!({"status": "Available"}),
        )
        .await;
        let mut contacts = vec![];
        let mut sockets = vec![];
        let addr = app.serve().await;
        for name in ["C1", "C2", "C3"] {
            let s = start(&app, json!({"flow": "Web chat", "display_name": name})).await;
            let (mut ws, _) = open(addr, s["participant_token"].as_str().unwrap(), 0).await;
            until(&mut ws, is_message("Type sales or wait")).await;
            say(&mut ws, "sales", "q").await;
            contacts.push(s["contact_id"].as_str().unwrap().to_string());
            sockets.push(ws);
        }
        // Two offers at once (the router fills the agent's two slots),
        // both accepted; the third waits.
        let offers = [
            card(&mut cards, "incoming").await,
            card(&mut cards, "incoming").await,
        ];
        for offer in &offers {
            app.routing
                .send(RoutingEvent::Accept {
                    contact: offer.contact.clone(),
                    agent: bea.clone(),
                })
                .await
                .unwrap();
        }
        card(&mut cards, "connected").await;
        card(&mut cards, "connected").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            cards.try_recv().is_err(),
            "no third offer while two chats are on"
        );
        let on: Vec<String> = app
            .state
            .routing
            .contacts()
            .await
            .into_iter()
            .filter(|c| c.stage == switchboard_routing::ContactStage::Connected)
            .map(|c| c.contact)
            .collect();
        assert_eq!(on.len(), 2);
        let waiting = contacts.iter().find(|c| !on.contains(c)).unwrap().clone();
        // The first customer leaves; after-contact work closed, the third is offered.
        let first = on[0].clone();
        let i = contacts.iter().position(|c| *c == first).unwrap();
        send(&mut sockets[i], json!({"type": "leave"})).await;
        let (end, _) = until(&mut sockets[i], |f| f["item"]["type"] == "ENDED").await;
        assert_eq!(end["item"]["reason"], "CUSTOMER_DISCONNECT");
        // The first chat's card turns to after-contact work; the waiting
        // chat is offered (at once, or once that work is closed).
        let mut seen = vec![];
        while !seen
            .iter()
            .any(|c: &ChatCard| c.state.as_str() == "ended" && c.contact == first)
        {
            if let AgentChatEvent::Card(c) = next_card(&mut cards).await {
                seen.push(c);
            }
        }
        app.routing
            .send(RoutingEvent::CloseAcw {
                agent: bea.clone(),
                contact: first.clone(),
            })
            .await
            .unwrap();
        while !seen.iter().any(|c| c.state.as_str() == "incoming") {
            if let AgentChatEvent::Card(c) = next_card(&mut cards).await {
                seen.push(c);
            }
        }
        let offer = seen
            .iter()
            .find(|c| c.state.as_str() == "incoming")
            .unwrap();
        assert_eq!(offer.contact, waiting);
        let ended = record(&app, &first, "ENDED").await;
        assert_eq!(ended["disconnect_reason"], "CUSTOMER_DISCONNECT");
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_and_reason() {
    let settings = ChatSettings {
        starts_per_minute: 6,
        ..Default::default()
    };
    for app in apps_with_chat(Default::default(), settings.clone()).await {
        centre(&app, 1, &[]).await;
        let addr = app.serve().await;
        let start_err = |body: Value| {
            let app = &app;
            async move {
                app.call(Method::POST, "/api/v1/chat/start", None, Some(body))
                    .await
            }
        };
        let r = start_err(json!({"flow": "Nope", "display_name": "A"})).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "flow"),
            "{}",
            r.body
        );
        let r = start_err(json!({"flow": "Draft chat", "display_name": "A"})).await;
        assert_eq!(r.field(), "flow");
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("not published"),
            "{}",
            r.body
        );
        let r = start_err(json!({"flow": "Web chat", "display_name": " "})).await;
        assert_eq!(r.field(), "display_name");
        let r = start_err(json!({"flow": "Web chat", "display_name": "A", "duration_minutes": 5}))
            .await;
        assert_eq!(r.field(), "duration_minutes");
        let r = start_err(json!({"flow": "Web chat", "display_name": "A",
            "initial_message": {"content_type": "text/html", "content": "<b>x</b>"}}))
        .await;
        assert_eq!(r.field(), "initial_message.content_type");
        let r = start_err(json!({"flow": "Web chat", "display_name": "A",
            "initial_message": {"content": "x".repeat(5000)}}))
        .await;
        assert_eq!(r.field(), "initial_message.content");
        assert!(
            r.body["message"].as_str().unwrap().contains("4096"),
            "{}",
            r.body
        );
        let r = start_err(json!({"flow": "Web chat", "name": "A"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // A client token makes a retried start return the same chat.
        let a = start(
            &app,
            json!({"flow": "Web chat", "display_name": "A", "client_token": "k1"}),
        )
        .await;
        let b = start(
            &app,
            json!({"flow": "Web chat", "display_name": "A", "client_token": "k1"}),
        )
        .await;
        assert_eq!(a["contact_id"], b["contact_id"]);

        // Tokens: forged, missing hello.
        let (mut ws, reply) = open(addr, "forged", 0).await;
        assert_eq!(
            (reply["type"].as_str(), reply["field"].as_str()),
            (Some("error"), Some("token"))
        );
        assert!(matches!(
            ws.next().await,
            None | Some(Ok(Message::Close(_))) | Some(Err(_))
        ));
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/chat/connect"))
                .await
                .unwrap();
        send(&mut ws, json!({"type": "typing"})).await;
        assert_eq!(recv(&mut ws).await["field"], "type");

        // In the chat: too long, wrong type, too fast.
        let (mut ws, _) = open(addr, a["participant_token"].as_str().unwrap(), 0).await;
        until(&mut ws, is_message("Type sales or wait")).await;
        let r = say(&mut ws, &"x".repeat(4097), "long").await;
        assert_eq!(
            (r["type"].as_str(), r["field"].as_str()),
            (Some("error"), Some("content")),
            "{r}"
        );
        send(
            &mut ws,
            json!({"type": "send", "content_type": "text/html", "content": "x"}),
        )
        .await;
        let r = until(&mut ws, |f| f["type"] == "error").await.0;
        assert_eq!(r["field"], "content_type");
        send(
            &mut ws,
            json!({"type": "receipt", "seq": 999, "kind": "READ"}),
        )
        .await;
        let r = until(&mut ws, |f| f["type"] == "error").await.0;
        assert_eq!(r["field"], "seq");
        let mut limited = None;
        for i in 0..30 {
            let r = say(&mut ws, "spam", &format!("s{i}")).await;
            if r["type"] == "error" {
                limited = Some(r);
                break;
            }
        }
        let limited = limited.expect("the rate limit refuses a flood");
        assert_eq!(limited["field"], "content");
        assert!(limited["retry_after_ms"].as_u64().unwrap() > 0, "{limited}");

        // Starting chats is throttled per address.
        let mut refused = None;
        for _ in 0..10 {
            let r = start_err(json!({"flow": "Web chat", "display_name": "Z"})).await;
            if r.status != StatusCode::OK {
                refused = Some(r);
                break;
            }
        }
        let refused = refused.expect("a flood of starts is refused");
        assert_eq!(
            refused.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            refused.body
        );
    }
}

#[tokio::test]
async fn idle_customers_are_warned_then_disconnected_and_tokens_expire() {
    let settings = ChatSettings {
        limits: switchboard_chat::Limits {
            idle_warning_ms: 400,
            idle_disconnect_ms: 900,
            ..Default::default()
        },
        // Long enough that reading the ended chat right after its end
        // fits in it on a busy machine.
        linger: Duration::from_secs(3),
        ..Default::default()
    };
    for app in apps_with_chat(Default::default(), settings.clone()).await {
        let agents = centre(&app, 1, &["cy"]).await;
        let (cy, cy_token) = &agents[0];
        let mut cards = cards(&app);
        app.put(
            "/api/v1/me/status",
            cy_token,
            json!({"status": "Available"}),
        )
        .await;
        let addr = app.serve().await;
        let s = start(&app, json!({"flow": "Web chat", "display_name": "Idle"})).await;
        let token = s["participant_token"].as_str().unwrap();
        let contact = s["contact_id"].as_str().unwrap();
        let (mut ws, _) = open(addr, token, 0).await;
        until(&mut ws, is_message("Type sales or wait")).await;
        say(&mut ws, "sales", "q").await;
        card(&mut cards, "incoming").await;
        app.routing
            .send(RoutingEvent::Accept {
                contact: contact.to_string(),
                agent: cy.clone(),
            })
            .await
            .unwrap();
        let c = card(&mut cards, "connected").await;
        let (mut agent, _) = open(addr, c.token.as_deref().unwrap(), 0).await;
        say(&mut agent, "Are you there?", "a").await;
        let (warning, _) = until(&mut ws, |f| {
            f["item"]["role"] == "SYSTEM"
                && f["item"]["type"] == "MESSAGE"
                && f["item"]["content"]
                    .as_str()
                    .unwrap()
                    .contains("still there")
        })
        .await;
        assert_eq!(warning["item"]["display_name"], "Switchboard");
        let (end, _) = until(&mut ws, |f| f["item"]["type"] == "ENDED").await;
        assert_eq!(end["item"]["reason"], "CUSTOMER_IDLE");
        // Right after the end the token still reads the chat; later it is refused.
        let (_, welcome) = open(addr, token, 0).await;
        assert_eq!(welcome["ended"], true);
        let ended = record(&app, contact, "ENDED").await;
        assert_eq!(ended["disconnect_reason"], "CUSTOMER_IDLE");
        let refused = wait::until("the ended chat's token refused", DEADLINE, || async {
            let (_, answer) = open(addr, token, 0).await;
            if answer["field"] == "token" {
                Ok(answer)
            } else {
                Err(answer)
            }
        })
        .await;
        assert_eq!(refused["field"], "token");
        assert!(
            refused["message"].as_str().unwrap().contains("expired"),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn a_chat_expires_at_its_longest_duration_and_a_flow_without_queue_disconnects() {
    let settings = ChatSettings {
        default_duration: Duration::from_millis(800),
        ..Default::default()
    };
    for app in apps_with_chat(Default::default(), settings.clone()).await {
        centre(&app, 1, &[]).await;
        let addr = app.serve().await;
        let s = start(&app, json!({"flow": "Web chat", "display_name": "Slow"})).await;
        let (mut ws, _) = open(addr, s["participant_token"].as_str().unwrap(), 0).await;
        let (end, _) = until(&mut ws, |f| f["item"]["type"] == "ENDED").await;
        assert_eq!(end["item"]["reason"], "EXPIRED");
        let ended = record(&app, s["contact_id"].as_str().unwrap(), "ENDED").await;
        assert_eq!(ended["disconnect_reason"], "EXPIRED");
        // The flow's path is in the record.
        assert!(
            ended["flow_path"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["action"] == "greet"),
            "{ended}"
        );
    }
}

#[tokio::test]
async fn an_agent_transfers_a_chat_to_another_queue_as_a_linked_contact() {
    for app in apps().await {
        let agents = centre(&app, 1, &["dee", "eve"]).await;
        let (dee, dee_token) = &agents[0];
        let (eve, eve_token) = &agents[1];
        let r = app
            .post(
                "/api/v1/queues",
                &app.admin,
                json!({"name": "Billing", "hours_of_operation": "Basic Hours"}),
            )
            .await;
        let billing = r.body["id"].as_str().unwrap().to_string();
        // Eve takes only Billing chats, and accepts them without a click.
        app.post(
            "/api/v1/routing-profiles",
            &app.admin,
            json!({"name": "Billing agents",
            "media_concurrencies": [{"channel": "CHAT", "concurrency": 1}],
            "queue_configs": [{"queue": "Billing", "channel": "CHAT", "priority": 1}],
            "default_outbound_queue": "Billing"}),
        )
        .await;
        let r = app
            .put(
                "/api/v1/users/eve",
                &app.admin,
                json!({"username": "eve", "first_name": "eve", "security_profiles": ["Agent"],
                    "routing_profile": "Billing agents",
                    "phone_config": {"phone_type": "SOFT_PHONE", "auto_accept": true}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mut cards = cards(&app);
        app.put(
            "/api/v1/me/status",
            dee_token,
            json!({"status": "Available"}),
        )
        .await;
        app.put(
            "/api/v1/me/status",
            eve_token,
            json!({"status": "Available"}),
        )
        .await;
        let addr = app.serve().await;
        let s = start(&app, json!({"flow": "Web chat", "display_name": "Fay"})).await;
        let first = s["contact_id"].as_str().unwrap().to_string();
        let (mut ws, _) = open(addr, s["participant_token"].as_str().unwrap(), 0).await;
        until(&mut ws, is_message("Type sales or wait")).await;
        say(&mut ws, "sales", "q").await;
        let offer = card(&mut cards, "incoming").await;
        assert_eq!(&offer.agent, dee);
        app.routing
            .send(RoutingEvent::Accept {
                contact: first.clone(),
                agent: dee.clone(),
            })
            .await
            .unwrap();
        let dee_card = card(&mut cards, "connected").await;
        let dee_token = dee_card.token.unwrap();
        let (mut dee_ws, _) = open(addr, &dee_token, 0).await;
        let r = app
            .chat
            .agent_transfer(&first, dee, (billing.clone(), "Billing".into()))
            .await;
        assert_eq!(r, Ok(()));
        // Dee leaves (the customer sees it) and has after-contact work on the first contact.
        until(&mut ws, |f| {
            f["item"]["type"] == "LEFT" && f["item"]["role"] == "AGENT"
        })
        .await;
        let mut seen: Vec<ChatCard> = vec![];
        while !seen
            .iter()
            .any(|c| c.state.as_str() == "incoming" && &c.agent == eve)
        {
            if let AgentChatEvent::Card(c) = next_card(&mut cards).await {
                seen.push(c);
            }
        }
        assert!(seen.iter().any(|c| c.state.as_str() == "ended"
            && c.contact == first
            && &c.agent == dee
            && c.token.is_none()));
        // Dee no longer reads the chat: the socket is told and closed, the token refused.
        let (bye, _) = until(&mut dee_ws, |f| f["type"] == "error").await;
        assert_eq!(bye["field"], "participant", "{bye}");
        assert!(matches!(
            dee_ws.next().await,
            None | Some(Ok(Message::Close(_))) | Some(Err(_))
        ));
        let (_, refused) = open(addr, &dee_token, 0).await;
        assert_eq!(refused["field"], "token", "{refused}");
        let second = seen
            .iter()
            .find(|c| c.state.as_str() == "incoming")
            .unwrap()
            .contact
            .clone();
        assert_ne!(second, first);
        let c = card(&mut cards, "connected").await;
        assert_eq!((&c.agent, &c.contact), (eve, &second));
        let (mut eve_ws, _) = open(addr, c.token.as_deref().unwrap(), 0).await;
        // Eve reads the whole conversation, including the part with Dee.
        until(&mut eve_ws, |f| f["item"]["type"] == "LEFT").await;
        say(&mut eve_ws, "Billing here", "e1").await;
        until(&mut ws, is_message("Billing here")).await;
        send(&mut ws, json!({"type": "leave"})).await;
        let old = record(&app, &first, "ENDED").await;
        assert_eq!(old["disconnect_reason"], "TRANSFERRED");
        assert_eq!(old["next_contact_id"], second.as_str());
        // The first contact's transcript is the conversation up to the
        // transfer: Fay's "sales", not what Eve said after it.
        assert_eq!(old["transcript"]["status"], "AVAILABLE", "{old}");
        let t = app
            .get(&format!("/api/v1/contacts/{first}/transcript"), &app.admin)
            .await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.body);
        let said: Vec<&str> = t.body["Transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["Content"].as_str())
            .collect();
        assert!(said.contains(&"sales"), "{said:?}");
        assert!(!said.contains(&"Billing here"), "{said:?}");
        let new = record(&app, &second, "ENDED").await;
        assert_eq!(new["initiation_method"], "TRANSFER");
        assert_eq!(new["previous_contact_id"], first.as_str());
        assert_eq!(new["queue"]["name"], "Billing");
        assert_eq!(new["agent"]["username"], "eve");
        assert_eq!(new["disconnect_reason"], "CUSTOMER_DISCONNECT");
        assert_eq!(new["transcript"]["status"], "AVAILABLE");
    }
}

/// A browser's preflight and a WebSocket handshake from a page at `origin`.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> axum::http::Response<Body> {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    app.router.clone().oneshot(req).await.unwrap()
}

fn allowed_origin(r: &axum::http::Response<Body>) -> Option<&str> {
    r.headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
}

async fn handshake(addr: std::net::SocketAddr, origin: &str) -> Result<Socket, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/api/v1/chat/connect")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn a_company_site_may_start_chats_and_only_the_chat_api_answers_it() {
    // Default: the widget may run on any site.
    for app in apps().await {
        let r = preflight(&app, "/api/v1/chat/start", "https://shop.example.com").await;
        assert!(r.status().is_success(), "{}: {}", app.backend, r.status());
        assert_eq!(allowed_origin(&r), Some("*"));
        let methods = r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        assert!(headers.contains("content-type"), "{headers}");
        // The staff API answers no other site, not even a preflight.
        for staff in ["/api/v1/auth/login", "/api/v1/users", "/api/v1/contacts"] {
            let r = preflight(&app, staff, "https://shop.example.com").await;
            assert_eq!(allowed_origin(&r), None, "{staff}");
            assert!(!r.status().is_success(), "{staff}: {}", r.status());
        }
        let addr = app.serve().await;
        assert!(handshake(addr, "https://shop.example.com").await.is_ok());
    }

    // A configured list: those sites and the server's own pages, no others.
    let settings = ChatSettings {
        allowed_origins: switchboard_webchat::origins::AllowedOrigins::parse(&[
            "https://shop.example.com",
        ])
        .unwrap(),
        ..Default::default()
    };
    for app in apps_with_chat(Default::default(), settings.clone()).await {
        centre(&app, 1, &[]).await;
        let r = preflight(&app, "/api/v1/chat/start", "https://shop.example.com").await;
        assert!(r.status().is_success(), "{}", r.status());
        assert_eq!(allowed_origin(&r), Some("https://shop.example.com"));
        assert!(r.headers()["vary"].to_str().unwrap().contains("origin"));
        let r = preflight(&app, "/api/v1/chat/start", "https://evil.example").await;
        assert_eq!(allowed_origin(&r), None, "another site is not let in");
        let r = preflight(&app, "/api/v1/chat/transcript", "https://evil.example").await;
        assert_eq!(allowed_origin(&r), None);

        let addr = app.serve().await;
        assert_eq!(
            handshake(addr, "https://evil.example").await.err(),
            Some(403),
            "a socket from a site not allowed is refused"
        );
        // The allowed site and the server's own CCP open sockets and talk.
        let started = start(&app, json!({"flow": "Web chat", "display_name": "Ada"})).await;
        let token = started["participant_token"].as_str().unwrap();
        for origin in [
            "https://shop.example.com".to_string(),
            format!("http://{addr}"),
        ] {
            let mut ws = handshake(addr, &origin).await.expect(&origin);
            send(&mut ws, json!({"type": "hello", "token": token})).await;
            assert_eq!(recv(&mut ws).await["type"], "welcome", "{origin}");
        }
    }
}

#[tokio::test]
async fn a_participant_holds_at_most_five_sockets() {
    for app in apps().await {
        centre(&app, 1, &[]).await;
        let addr = app.serve().await;
        let started = start(&app, json!({"flow": "Web chat", "display_name": "Ada"})).await;
        let token = started["participant_token"].as_str().unwrap();
        let mut held = Vec::new();
        for _ in 0..5 {
            let (ws, welcome) = open(addr, token, 0).await;
            assert_eq!(welcome["type"], "welcome", "{}: {welcome}", app.backend);
            held.push(ws);
        }
        let (_, refused) = open(addr, token, 0).await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["field"], "token");
        // One closes: another may open.
        let mut gone = held.pop().unwrap();
        gone.close(None).await.unwrap();
        drop(gone);
        let welcome = wait::until("a sixth socket after one closed", DEADLINE, || async {
            let (_, reply) = open(addr, token, 0).await;
            if reply["type"] == "welcome" {
                Ok(reply)
            } else {
                Err(reply)
            }
        })
        .await;
        assert_eq!(welcome["contact_id"], started["contact_id"]);
    }
}

/// A flow with the actions of Connect's that a chat runs for real
/// (UpdateContactData, TagContact, UntagContact, GetMetricData) and one of a
/// feature Switchboard does not have (a Customer Profiles lookup), which
/// takes its not-enabled error branch.
fn data_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "name", "Actions": [
        {"Identifier": "name", "Type": "UpdateContactData",
         "Parameters": {"Name": "Order $.Attributes.order", "Description": "Web order question",
                        "References": {"order": {"Value": "https://shop.example/o/$.Attributes.order", "Type": "URL"}},
                        "TargetContact": "Current"},
         "Transitions": {"NextAction": "tag", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "tag", "Type": "TagContact", "Parameters": {"Tags": {"department": "sales", "temp": "x"}},
         "Transitions": {"NextAction": "untag", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "untag", "Type": "UntagContact", "Parameters": {"TagKeys": ["temp"]},
         "Transitions": {"NextAction": "target", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "target", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Sales"},
         "Transitions": {"NextAction": "metrics", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "metrics", "Type": "GetMetricData", "Parameters": {},
         "Transitions": {"NextAction": "say", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "say", "Type": "MessageParticipant",
         "Parameters": {"Text": "Waiting: $.Metrics.Queue.Size, available: $.Metrics.Agents.Available.Count"},
         "Transitions": {"NextAction": "profile", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "profile"}]}},
        {"Identifier": "profile", "Type": "GetCustomerProfile",
         "Parameters": {"ProfileRequestData": {"IdentifierName": "_phone", "IdentifierValue": "$.CustomerEndpoint.Address"},
                        "ProfileResponseData": ["FirstName"]},
         "Transitions": {"NextAction": "hello", "Errors": [
            {"ErrorType": "MultipleFoundError", "NextAction": "bye"},
            {"ErrorType": "NoneFoundError", "NextAction": "bye"},
            {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "hello", "Type": "MessageParticipant", "Parameters": {"Text": "Hello $.Customer.FirstName"},
         "Transitions": {"NextAction": "bye"}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

#[tokio::test]
async fn a_chat_flow_sets_contact_data_and_tags_and_reads_metrics_and_a_missing_feature_takes_its_error_branch(
) {
    for app in apps().await {
        centre(&app, 1, &[]).await;
        let r = app
            .post(
                "/api/v1/flows",
                &app.admin,
                json!({"name": "Order chat", "type": "CONTACT_FLOW", "content": data_flow()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app
            .post(
                &format!("/api/v1/flows/{id}/publish"),
                &app.admin,
                json!({}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        let addr = app.serve().await;
        let s = start(
            &app,
            json!({"flow": "Order chat", "display_name": "Kim", "attributes": {"order": "A-17"}}),
        )
        .await;
        let (mut ws, _) = open(addr, s["participant_token"].as_str().unwrap(), 0).await;
        // GetMetricData read the Sales queue from the router: nobody waits, no agent.
        until(&mut ws, is_message("Waiting: 0, available: 0")).await;
        let contact = s["contact_id"].as_str().unwrap();
        let ended = record(&app, contact, "ENDED").await;
        assert_eq!(ended["name"], "Order A-17", "{ended}");
        assert_eq!(ended["description"], "Web order question");
        assert_eq!(ended["references"]["order"], "https://shop.example/o/A-17");
        assert_eq!(ended["tags"], json!({"department": "sales"}));
        // The profile lookup was not available: its error branch, and the
        // record's path says why.
        let path = ended["flow_path"].as_array().unwrap();
        let profile = path.iter().find(|s| s["action"] == "profile").unwrap();
        assert!(
            profile["branch"]
                .as_str()
                .unwrap()
                .contains("GetCustomerProfile is not available"),
            "{profile}"
        );
        assert!(!path.iter().any(|s| s["action"] == "hello"), "{ended}");
        // Contacts are searched by tag.
        let found = app
            .get("/api/v1/contacts?tag=department:sales", &app.admin)
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let ids: Vec<&str> = found.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(ids, vec![contact]);
        let none = app.get("/api/v1/contacts?tag=temp:x", &app.admin).await;
        assert_eq!(none.body["items"], json!([]));
        // And by the words of their name or description.
        let named = app
            .get("/api/v1/contacts?name=order%20a-17", &app.admin)
            .await;
        assert_eq!(named.body["items"][0]["id"], contact, "{}", named.body);
        let other = app.get("/api/v1/contacts?name=refund", &app.admin).await;
        assert_eq!(other.body["items"], json!([]));
    }
}
