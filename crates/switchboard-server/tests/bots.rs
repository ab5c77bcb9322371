//! Bots end to end: stored and checked through the API, imported from and
//! exported to Lex V2's zip, and talking to a chat customer over a real
//! socket, with the code hook over real HTTP and the flow branching on the
//! intent.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use switchboard_testkit::wait::{self, DEADLINE};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn demo_bot() -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../switchboard-nlu/bots/demo-bank.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The files of a directory as a zip, paths relative to it.
fn zip_tree(root: &Path) -> Vec<u8> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    switchboard_nlu::lexv2::zip(&files).unwrap()
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/bots/import")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/zip")
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn bots_are_checked_stored_and_go_in_and_out_as_lex_v2_exports() {
    for app in apps().await {
        let admin = app.admin.clone();
        let r = app.post("/api/v1/bots", &admin, demo_bot()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["name"], "DemoBank");

        // A slot of a type nobody defined: refused at its path.
        let mut bad = demo_bot();
        bad["name"] = json!("Broken");
        bad["locales"][0]["intents"][0]["slots"][0]["slotType"] = json!("NoSuchType");
        let r = app.post("/api/v1/bots", &admin, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(
            r.body
                .to_string()
                .contains("locales[0].intents[0].slots[0].slotType"),
            "{}",
            r.body
        );

        // An agent may not make bots.
        let agent = app.user_with("agent-ann", "Agent").await;
        let r = app
            .post("/api/v1/bots", &agent, json!({"name": "X", "locales": []}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

        // Out as Lex V2's zip, and back in over itself.
        let r = app.get("/api/v1/bots/DemoBank/export", &admin).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.bytes.starts_with(b"PK"), "a zip");
        let r = upload(&app, &admin, r.bytes.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["action"], "updated");

        // A Lex export made elsewhere: created, with a report.
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../switchboard-nlu/tests/fixtures/lexv2/OrderFlowers");
        let r = upload(&app, &admin, zip_tree(&fixture)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["action"], "created");
        assert_eq!(r.body["bot"]["name"], "OrderFlowers");
        assert!(
            !r.body["report"]["unmapped"].as_array().unwrap().is_empty(),
            "{}",
            r.body
        );

        // Not a zip: refused by field.
        let r = upload(&app, &admin, b"not a zip".to_vec()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["errors"][0]["field"], "file", "{}", r.body);
    }
}

/// A code hook function on a free loopback port that fulfils CheckBalance;
/// returns its URL and the requests it received.
async fn hook_server() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(request): Json<Value>| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(request.clone());
                let mut attributes = request["sessionState"]["sessionAttributes"].clone();
                attributes["Balance"] = json!("1520.33");
                Json(json!({
                    "sessionState": {
                        "sessionAttributes": attributes,
                        "dialogAction": {"type": "Close"},
                        "intent": {"name": request["sessionState"]["intent"]["name"], "state": "Fulfilled",
                                   "slots": request["sessionState"]["intent"]["slots"]}
                    },
                    "messages": [{"contentType": "PlainText", "content": "One moment."}]
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen)
}

fn bot_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "bot", "Actions": [
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "Hi, how can I help?",
                        "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:111122223333:bot-alias/DemoBank/TSTALIASID"},
                        "LexSessionAttributes": {"Tier": "$.Attributes.tier"}},
         "Transitions": {"Conditions": [
            {"NextAction": "balance", "Condition": {"Operator": "Equals", "Operands": ["CheckBalance"]}}],
          "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "other"},
                     {"ErrorType": "NoMatchingError", "NextAction": "error"}]}},
        {"Identifier": "balance", "Type": "MessageParticipant",
         "Parameters": {"Text": "Your balance is $.Lex.SessionAttributes.Balance on account $.Lex.Slots.AccountNumber ($.Lex.SessionAttributes.Tier)"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "other", "Type": "MessageParticipant", "Parameters": {"Text": "You wanted $.Lex.IntentName"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "error", "Type": "MessageParticipant", "Parameters": {"Text": "The bot failed"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
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

/// Waits for the message `text`; returns every message on the way.
async fn until_message(ws: &mut Socket, text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let f = recv(ws).await;
        if f["type"] == "item" && f["item"]["type"] == "MESSAGE" {
            let content = f["item"]["content"].as_str().unwrap_or("").to_string();
            seen.push(content.clone());
            if content == text {
                return seen;
            }
        }
    }
}

async fn type_(ws: &mut Socket, text: &str, client_token: &str) {
    ws.send(Message::Text(
        json!({"type": "send", "content": text, "client_token": client_token})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_chat_customer_talks_to_a_bot_and_the_flow_branches_on_its_intent() {
    let (hook_url, seen) = hook_server().await;
    for app in apps().await {
        let admin = app.admin.clone();
        let r = app
            .post(
                "/api/v1/external-functions",
                &admin,
                json!({"name": "bank-backend", "url": hook_url}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let mut bot = demo_bot();
        bot["locales"][0]["codeHookFunction"] = json!("bank-backend");
        let intents = bot["locales"][0]["intents"].as_array_mut().unwrap();
        let balance = intents
            .iter_mut()
            .find(|i| i["name"] == "CheckBalance")
            .unwrap();
        balance["fulfillmentCodeHook"] = json!(true);
        let r = app.post("/api/v1/bots", &admin, bot).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let r = app
            .post(
                "/api/v1/flows",
                &admin,
                json!({"name": "Bank chat", "type": "CONTACT_FLOW", "content": bot_flow()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app
            .post(&format!("/api/v1/flows/{id}/publish"), &admin, json!({}))
            .await;
        assert!(r.status.is_success(), "{}", r.body);

        let addr = app.serve().await;
        let r = app
            .call(
                Method::POST,
                "/api/v1/chat/start",
                None,
                Some(json!({"flow": "Bank chat", "display_name": "Kim", "attributes": {"tier": "gold"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let contact = r.body["contact_id"].as_str().unwrap().to_string();
        let token = r.body["participant_token"].as_str().unwrap().to_string();
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/chat/connect"))
                .await
                .unwrap();
        ws.send(Message::Text(
            json!({"type": "hello", "token": token, "since": 0})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        until_message(&mut ws, "Hi, how can I help?").await;
        type_(&mut ws, "hey, what's my balance", "t1").await;
        until_message(&mut ws, "What is your account number?").await;
        type_(&mut ws, "it's one two three four five six", "t2").await;
        let said = until_message(&mut ws, "Your balance is 1520.33 on account 123456 (gold)").await;
        assert!(
            said.contains(&"One moment.".to_string()),
            "the hook's message is sent: {said:?}"
        );

        let request = seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the hook was called");
        assert_eq!(request["invocationSource"], "FulfillmentCodeHook");
        assert_eq!(request["sessionId"], json!(contact));
        assert_eq!(
            request["sessionState"]["intent"]["slots"]["AccountNumber"]["value"]
                ["interpretedValue"],
            "123456"
        );
        assert_eq!(request["sessionState"]["sessionAttributes"]["Tier"], "gold");

        let ended = wait::until("the chat's record ends", DEADLINE, || async {
            let r = app
                .get(&format!("/api/v1/contacts/{contact}"), &admin)
                .await;
            if r.body["state"] == "ENDED" {
                Ok(r.body)
            } else {
                Err(r.body)
            }
        })
        .await;
        let path = ended["flow_path"].as_array().unwrap();
        assert!(path.iter().any(|s| s["action"] == "balance"), "{ended}");
    }
}
