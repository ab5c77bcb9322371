//! A web chat in a real browser: headless Chromium (Debian's, driven by
//! playwright-core from tests/browser) opens the embeddable widget on the
//! demo page as two customers and the CCP as a chat-only agent with no
//! microphone. They exchange messages both ways, with typing and receipts;
//! markup the customer sends stays text and never runs; the customer reloads
//! mid-chat and the conversation is drawn once and goes on; the agent holds
//! two chats side by side; the agent ends one, the customer the other. The
//! browser script (tests/browser/chat.mjs) prints `STEP <name>` lines; this
//! side sets the centre up and checks the contact records and the stored
//! transcripts. Screenshots land in `artifacts/chat/`.
//!
//! Needs `node`, `/usr/bin/chromium` and `tests/browser/node_modules`; under
//! CI their absence fails (.ci/run installs them).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::time::Duration;

use common::browser::{browser_ready, root, Browser};
use common::*;
use serde_json::{json, Value};

const AGENT: &str = "ana";
const FLOW: &str = "Web chat";
const GREETING: &str = "Thank you for contacting us. An agent will be with you shortly.";
const IMG: &str = r#"<img src=x onerror="window.__pwned=1">"#;
const SCRIPT: &str = "<script>window.__pwned=2</script>";

/// Greets the customer and queues the chat for Sales.
fn chat_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "greet", "Actions": [
        {"Identifier": "greet", "Type": "MessageParticipant", "Parameters": {"Text": GREETING},
         "Transitions": {"NextAction": "to-sales", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "to-sales"}]}},
        {"Identifier": "to-sales", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Sales"},
         "Transitions": {"NextAction": "queue", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "queue", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "bye"},
                                                         {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

/// A Sales queue, a published chat flow, and a soft-phone agent whose
/// routing profile takes two chats at once and no calls.
async fn chat_centre(rig: &Rig) {
    rig.call(
        "POST",
        "/queues",
        Some(json!({"name": "Sales", "hours_of_operation": "Basic Hours"})),
        None,
    )
    .await;
    rig.call(
        "POST",
        "/routing-profiles",
        Some(json!({"name": "Chat agents",
            "media_concurrencies": [{"channel": "CHAT", "concurrency": 2}],
            "queue_configs": [{"queue": "Sales", "channel": "CHAT", "priority": 1}],
            "default_outbound_queue": "Sales"})),
        None,
    )
    .await;
    let flow = rig
        .call(
            "POST",
            "/flows",
            Some(json!({"name": FLOW, "type": "CONTACT_FLOW", "content": chat_flow()})),
            None,
        )
        .await;
    let id = flow["id"].as_str().unwrap();
    rig.call("POST", &format!("/flows/{id}/publish"), None, None)
        .await;
    rig.call(
        "POST",
        "/users",
        Some(json!({
            "username": AGENT, "first_name": "Ana", "last_name": "Lima", "password": AGENT_PASSWORD,
            "security_profiles": ["Agent"], "routing_profile": "Chat agents",
            "phone_config": {"phone_type": "SOFT_PHONE", "after_contact_work_timeout_seconds": 0}
        })),
        None,
    )
    .await;
}

/// The contact's record once it has ended and its transcript is stored.
async fn ended_record(rig: &Rig, contact: &str) -> Value {
    until(
        &format!("contact {contact} ended with a transcript"),
        DEADLINE,
        || async {
            let record = rig
                .call("GET", &format!("/contacts/{contact}"), None, None)
                .await;
            if record["state"] == "ENDED" && record["transcript"]["status"].is_string() {
                Ok(record)
            } else {
                Err(record)
            }
        },
    )
    .await
}

/// The stored transcript's messages, as (role, content).
async fn stored_messages(rig: &Rig, contact: &str) -> Vec<(String, String)> {
    let transcript = rig
        .call(
            "GET",
            &format!("/contacts/{contact}/transcript"),
            None,
            None,
        )
        .await;
    assert_eq!(transcript["ContactId"], contact, "{transcript:#}");
    transcript["Transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["Type"] == "MESSAGE")
        .map(|e| {
            (
                e["ParticipantRole"].as_str().unwrap().to_string(),
                e["Content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn said(lines: &[(&str, &str)]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|(role, text)| (role.to_string(), text.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_and_an_agent_chat_in_the_browser() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    chat_centre(&rig).await;

    let artifacts = root().join("artifacts/chat");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(
        "chat.mjs",
        &[
            ("CHAT_URL", rig.origin.clone()),
            ("CHAT_USER", AGENT.to_string()),
            ("CHAT_PASSWORD", AGENT_PASSWORD.to_string()),
            ("CHAT_FLOW", FLOW.to_string()),
            ("CHAT_ARTIFACTS", artifacts.display().to_string()),
        ],
        Duration::from_secs(60),
    );

    // The agent went Available in the CCP without a microphone.
    assert_eq!(browser.step().await, "READY");
    assert_eq!(rig.agent_state_of(AGENT).await, "Available");
    let first = browser.step().await;
    let first = first.strip_prefix("FIRST ").expect("FIRST <contact>");
    let second = browser.step().await;
    let second = second.strip_prefix("SECOND ").expect("SECOND <contact>");
    assert_eq!(browser.step().await, "DONE");
    browser.finish().await;

    // Ada's chat: the agent ended it.
    let record = ended_record(&rig, first).await;
    assert_eq!(record["channel"], "CHAT", "{record:#}");
    assert_eq!(record["initiation_method"], "API");
    assert_eq!(record["disconnect_reason"], "AGENT_DISCONNECT");
    assert_eq!(record["agent"]["username"], AGENT);
    assert_eq!(record["queue"]["name"], "Sales");
    assert_eq!(record["transcript"]["status"], "AVAILABLE", "{record:#}");
    let expected = said(&[
        ("CUSTOMER", "Hello, I have a question about my order"),
        ("SYSTEM", GREETING),
        ("AGENT", "Hi Ada, this is Ana. How can I help?"),
        ("CUSTOMER", "My parcel has not arrived"),
        ("CUSTOMER", IMG),
        ("CUSTOMER", SCRIPT),
        ("CUSTOMER", "Still here after a reload"),
        ("AGENT", "Good to see you back"),
        ("AGENT", "One moment, Ada"),
    ]);
    assert_eq!(record["transcript"]["message_count"], expected.len());
    assert_eq!(stored_messages(&rig, first).await, expected);

    // Grace's chat: she ended it from the widget.
    let record = ended_record(&rig, second).await;
    assert_eq!(record["channel"], "CHAT", "{record:#}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(record["agent"]["username"], AGENT);
    assert_eq!(record["transcript"]["status"], "AVAILABLE", "{record:#}");
    let expected = said(&[
        ("CUSTOMER", "Hi, I would like to change my plan"),
        ("SYSTEM", GREETING),
        ("AGENT", "Hello Grace, happy to help"),
        ("CUSTOMER", "Thanks, that is all"),
    ]);
    assert_eq!(record["transcript"]["message_count"], expected.len());
    assert_eq!(stored_messages(&rig, second).await, expected);

    // Both closed in the CCP: the agent is Available again.
    assert_eq!(rig.agent_state_of(AGENT).await, "Available");
}

/// A company's web server on its own loopback port (so its own origin);
/// returns it and its origin.
async fn company_server() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

/// Serves the company's home page, which embeds the widget from
/// Switchboard at `switchboard` with one script tag, as a customer would.
fn serve_company_page(listener: tokio::net::TcpListener, switchboard: &str, company: &str) {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{company}</title></head>\
         <body><main><h1>{company}</h1><p>Welcome to our shop.</p></main>\
         <script type=\"module\" src=\"{switchboard}/chat/widget.js\" data-flow=\"{FLOW}\" \
         data-title=\"Chat with {company}\"></script></body></html>"
    );
    let site = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, site).await });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_chats_from_an_allowed_company_site_and_not_from_another() {
    if !browser_ready() {
        return;
    }
    let (shop, shop_origin) = company_server().await;
    let (other, other_origin) = company_server().await;
    let rig = Rig::chatting(switchboard_webchat::ChatSettings {
        allowed_origins: switchboard_webchat::origins::AllowedOrigins::parse(&[&shop_origin])
            .unwrap(),
        ..Default::default()
    })
    .await;
    chat_centre(&rig).await;
    serve_company_page(shop, &rig.origin, "The Shop");
    serve_company_page(other, &rig.origin, "Elsewhere Ltd");

    let mut browser = Browser::start(
        "chat-elsewhere.mjs",
        &[
            ("CHAT_URL", rig.origin.clone()),
            ("SHOP_URL", format!("{shop_origin}/")),
            ("OTHER_URL", format!("{other_origin}/")),
        ],
        Duration::from_secs(60),
    );
    let allowed = browser.step().await;
    let contact = allowed
        .strip_prefix("ALLOWED ")
        .expect("ALLOWED <contact>")
        .to_string();
    assert_eq!(browser.step().await, "REFUSED");
    assert_eq!(browser.step().await, "DONE");
    browser.finish().await;

    let record = ended_record(&rig, &contact).await;
    assert_eq!(record["channel"], "CHAT", "{record:#}");
    assert_eq!(record["disconnect_reason"], "CUSTOMER_DISCONNECT");
    assert_eq!(
        stored_messages(&rig, &contact).await,
        said(&[("CUSTOMER", "Hello from the shop"), ("SYSTEM", GREETING)])
    );
    // Only the shop's chat was ever started.
    let chats: Vec<Value> = rig
        .contacts()
        .await
        .into_iter()
        .filter(|c| c["channel"] == "CHAT")
        .collect();
    assert_eq!(chats.len(), 1, "{chats:#?}");
}

/// Hands the chat to the demo bank bot, then says what it understood.
fn bot_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "bot", "Actions": [
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "Hi, I'm the bank's assistant. How can I help?",
                        "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:111122223333:bot-alias/DemoBank/TSTALIASID"}},
         "Transitions": {"Conditions": [
            {"NextAction": "said", "Condition": {"Operator": "Equals", "Operands": ["CheckBalance"]}}],
          "Errors": [
            {"ErrorType": "NoMatchingCondition", "NextAction": "said"},
            {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "said", "Type": "MessageParticipant",
         "Parameters": {"Text": "You asked for $.Lex.IntentName on account $.Lex.Slots.AccountNumber."},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_chats_with_a_bot_in_the_widget() {
    if !browser_ready() {
        return;
    }
    let rig = Rig::new().await;
    let bot: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("crates/switchboard-nlu/bots/demo-bank.json"))
            .unwrap(),
    )
    .unwrap();
    rig.call("POST", "/bots", Some(bot), None).await;
    let flow = rig
        .call(
            "POST",
            "/flows",
            Some(json!({"name": "Bank bot", "type": "CONTACT_FLOW", "content": bot_flow()})),
            None,
        )
        .await;
    let id = flow["id"].as_str().unwrap();
    rig.call("POST", &format!("/flows/{id}/publish"), None, None)
        .await;

    let artifacts = root().join("artifacts/chat-bot");
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(
        "chat-bot.mjs",
        &[
            ("CHAT_URL", rig.origin.clone()),
            ("CHAT_FLOW", "Bank bot".to_string()),
            ("CHAT_ARTIFACTS", artifacts.display().to_string()),
        ],
        Duration::from_secs(60),
    );
    let done = browser.step().await;
    let contact = done
        .strip_prefix("DONE ")
        .expect("DONE <contact>")
        .to_string();
    browser.finish().await;

    let record = ended_record(&rig, &contact).await;
    assert_eq!(
        record["disconnect_reason"], "CONTACT_FLOW_DISCONNECT",
        "{record:#}"
    );
    let messages = stored_messages(&rig, &contact).await;
    let customer: Vec<&str> = messages
        .iter()
        .filter(|(role, _)| role == "CUSTOMER")
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(
        customer,
        [
            "Hi, what is my balance?",
            "it's one two three four five six"
        ]
    );
    assert!(
        messages
            .iter()
            .any(|(_, text)| text == "What is your account number?"),
        "the bot's question is in the transcript: {messages:?}"
    );
}
