//! kill -9 during live contacts, on SQLite and on PostgreSQL: the real
//! binary runs calls and chats in every state (in a flow, queued, with an
//! agent, in after-contact work), is killed outright, and started again.
//! Every contact it left open ends with a reason and times; the agent it
//! held closes the leftover work and is Available again; a customer coming
//! back to a lost chat is told it is gone.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_testkit::wait::{until, DEADLINE};
use switchboard_testkit::ws::{connect, next_of, say, Socket};

const CAROL_PASSWORD: &str = "Carol-Passw0rd";

/// Waits for the CCP to show `contact` in `state`.
async fn card(ccp: &mut Socket, contact: &str, state: &str) {
    loop {
        let event = next_of(ccp, "contact").await;
        if event["contact"]["contact"] == contact && event["contact"]["state"] == state {
            return;
        }
    }
}

struct Centre {
    client: reqwest::Client,
    base: String,
    admin: String,
}

impl Centre {
    async fn api(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, body) = call(
            &self.client,
            method,
            &format!("{}/api/v1{path}", self.base),
            token,
            body,
        )
        .await;
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    async fn contact(&self, id: &str) -> Value {
        self.api(Method::GET, &format!("/contacts/{id}"), &self.admin, None)
            .await
    }

    /// Waits until the contact's record is in `state` (a chat's task writes
    /// its first record just after the start is answered).
    async fn reaches(&self, id: &str, state: &str) {
        until(&format!("contact {id} {state}"), DEADLINE, || async {
            let (_, record) = call(
                &self.client,
                Method::GET,
                &format!("{}/api/v1/contacts/{id}", self.base),
                &self.admin,
                None,
            )
            .await;
            if record["state"] == state {
                Ok(())
            } else {
                Err(record)
            }
        })
        .await;
    }

    /// A customer starts a demo chat; returns its contact id and token.
    async fn chat(&self, name: &str) -> (String, String) {
        let (status, started) = call(
            &self.client,
            Method::POST,
            &format!("{}/api/v1/chat/start", self.base),
            "",
            Some(json!({"flow": "Demo chat", "display_name": name})),
        )
        .await;
        assert_eq!(status, 200, "{started}");
        (
            started["contact_id"].as_str().unwrap().to_string(),
            started["participant_token"].as_str().unwrap().to_string(),
        )
    }

    fn ws(&self, path: &str) -> String {
        format!("{}{path}", self.base.replace("http://", "ws://"))
    }

    /// The customer answers the flow's menu with "sales": the chat queues.
    async fn wants_sales(&self, token: &str) -> Socket {
        let mut customer = connect(&self.ws("/api/v1/chat/connect")).await;
        say(&mut customer, json!({"type": "hello", "token": token})).await;
        next_of(&mut customer, "welcome").await;
        say(&mut customer, json!({"type": "send", "content": "sales"})).await;
        customer
    }

    async fn agent_state(&self, username: &str) -> String {
        let agents = self
            .api(Method::GET, "/routing/agents", &self.admin, None)
            .await;
        agents["items"]
            .as_array()
            .or(agents.as_array())
            .unwrap()
            .iter()
            .find(|a| a["username"] == username)
            .map(|a| a["state"].as_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// SIPp rings the demo number, presses 1 and stays on; killed with the test.
fn caller(server: &Server, dir: &std::path::Path) -> tokio::process::Child {
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../switchboard-tests/tests/sipp/caller_stays.xml"
    );
    let pcaps = std::env::var("SIPP_PCAPS").unwrap_or_else(|_| "/usr/share/sip-tester".into());
    let scenario = dir.join(format!("caller-{}.xml", switchboard_testkit::ports::port()));
    let text = std::fs::read_to_string(source)
        .unwrap()
        .replace("[pcaps]", &pcaps)
        .replace("[digit]", "1");
    std::fs::write(&scenario, text).unwrap();
    tokio::process::Command::new("sipp")
        .arg(server.sip())
        .arg("-sf")
        .arg(&scenario)
        .args(["-s", "442079460123", "-i", "127.0.0.1"])
        .args(["-p", &switchboard_testkit::ports::port().to_string()])
        .args(["-mp", &switchboard_testkit::ports::block(4).to_string()])
        .args(["-cp", &switchboard_testkit::ports::port().to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "120s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp")
}

/// The voice contacts in `state`.
async fn voice_in(centre: &Centre, state: &str) -> Vec<String> {
    let list = centre
        .api(Method::GET, "/contacts?channel=VOICE", &centre.admin, None)
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "VOICE" && c["state"] == state)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

async fn killed_with_contacts_in_every_state(database_url: Option<&str>, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), database_url, true).await;
    let client = reqwest::Client::new();
    let admin = login(&client, &server.base).await;
    let centre = Centre {
        client: client.clone(),
        base: server.base.clone(),
        admin: admin.clone(),
    };

    // Carol takes two chats at once from Sales and keeps after-contact work open.
    centre
        .api(
            Method::POST,
            "/routing-profiles",
            &admin,
            Some(json!({"name": "Chat desk",
                "media_concurrencies": [{"channel": "CHAT", "concurrency": 2}],
                "queue_configs": [{"queue": "Sales", "channel": "CHAT", "priority": 1}],
                "default_outbound_queue": "Sales"})),
        )
        .await;
    centre
        .api(
            Method::POST,
            "/users",
            &admin,
            Some(json!({"username": "carol", "first_name": "Carol", "last_name": "Ng",
                "password": CAROL_PASSWORD, "security_profiles": ["Agent"],
                "routing_profile": "Chat desk",
                "phone_config": {"phone_type": "SOFT_PHONE", "after_contact_work_timeout_seconds": 3600}})),
        )
        .await;
    let carol = login_as(&client, &server.base, "carol", CAROL_PASSWORD).await;
    let mut ccp = connect(&centre.ws("/ccp/ws")).await;
    say(&mut ccp, json!({"type": "hello", "token": carol})).await;
    next_of(&mut ccp, "welcome").await;
    centre
        .api(
            Method::PUT,
            "/me/status",
            &carol,
            Some(json!({"status": "Available"})),
        )
        .await;

    // Two chats reach Carol; she ends the second (after-contact work).
    let mut customers = Vec::new();
    let mut with_carol = Vec::new();
    for name in ["Xena", "Yuri"] {
        let (id, token) = centre.chat(name).await;
        customers.push(centre.wants_sales(&token).await);
        card(&mut ccp, &id, "incoming").await;
        say(&mut ccp, json!({"type": "accept", "contact": id})).await;
        card(&mut ccp, &id, "connected").await;
        centre.reaches(&id, "CONNECTED").await;
        with_carol.push((id, token));
    }
    let (connected, connected_token) = with_carol[0].clone();
    let (in_acw, _) = with_carol[1].clone();
    say(&mut ccp, json!({"type": "end", "contact": in_acw})).await;
    card(&mut ccp, &in_acw, "ended").await;
    centre.reaches(&in_acw, "ENDED").await;
    // Carol is in after-contact work: the next chat waits in the queue.
    let (queued, token) = centre.chat("Quinn").await;
    customers.push(centre.wants_sales(&token).await);
    centre.reaches(&queued, "QUEUED").await;
    // And one is still in the flow, waiting for the customer's answer.
    let (in_flow, _) = centre.chat("Fay").await;
    centre.reaches(&in_flow, "IN_FLOW").await;

    // Calls: one waits in Sales (no voice agent is there), one is in the flow.
    let mut callers = Vec::new();
    let mut calls = Vec::new();
    if sipp_ready() {
        callers.push(caller(&server, dir.path()));
        let queued_call = until(&format!("{label}: a queued call"), DEADLINE, || async {
            voice_in(&centre, "QUEUED").await.pop().ok_or("none")
        })
        .await;
        callers.push(caller(&server, dir.path()));
        let call_in_flow = until(
            &format!("{label}: a call in the flow"),
            DEADLINE,
            || async { voice_in(&centre, "IN_FLOW").await.pop().ok_or("none") },
        )
        .await;
        calls = vec![queued_call, call_in_flow];
    }

    // Killed outright, mid-everything.
    server.child.kill().await.unwrap();
    drop(customers);
    drop(ccp);
    let server = start(dir.path(), database_url, true).await;
    let centre = Centre {
        base: server.base.clone(),
        admin: login(&client, &server.base).await,
        ..centre
    };

    // Every contact it left open is closed, by the time the server listens.
    let open = [&connected, &queued, &in_flow]
        .into_iter()
        .chain(calls.iter());
    let mut closed = 0;
    for id in open {
        let record = centre.contact(id).await;
        assert_eq!(record["state"], "ENDED", "{label}: {record:#}");
        assert_eq!(
            record["disconnect_reason"], "SYSTEM_ERROR",
            "{label}: {record:#}"
        );
        let ended = record["disconnect_timestamp"].as_str().unwrap();
        assert!(
            ended >= record["initiation_timestamp"].as_str().unwrap(),
            "{label}: {record:#}"
        );
        if !record["queue"].is_null() {
            assert!(
                record["queue"]["dequeue_timestamp"].is_string(),
                "{label}: left its queue: {record:#}"
            );
        }
        closed += 1;
    }
    println!("{label}: {closed} contacts left open by kill -9 were closed at restart");
    let list = centre
        .api(Method::GET, "/contacts", &centre.admin, None)
        .await;
    let still_open: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] != "ENDED")
        .collect();
    assert!(still_open.is_empty(), "{label}: {still_open:#?}");
    let record = centre.contact(&connected).await;
    assert_eq!(record["agent"]["username"], "carol", "{label}");
    let record = centre.contact(&in_acw).await;
    assert_eq!(record["disconnect_reason"], "AGENT_DISCONNECT", "{label}");

    // Carol is in after-contact work for both chats; she closes them and is free.
    assert_eq!(centre.agent_state("carol").await, "AfterContactWork");
    let carol = login_as(&client, &server.base, "carol", CAROL_PASSWORD).await;
    let mut ccp = connect(&centre.ws("/ccp/ws")).await;
    say(&mut ccp, json!({"type": "hello", "token": carol})).await;
    next_of(&mut ccp, "welcome").await;
    for id in [&connected, &in_acw] {
        say(&mut ccp, json!({"type": "close", "contact": id})).await;
        let done = next_of(&mut ccp, "done").await;
        assert_eq!(done["action"], "close", "{label}: {done}");
    }
    until(&format!("{label}: Carol Available"), DEADLINE, || async {
        match centre.agent_state("carol").await.as_str() {
            "Available" => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;

    // Xena comes back to her chat: it is gone, and she is told so.
    let mut customer = connect(&centre.ws("/api/v1/chat/connect")).await;
    say(
        &mut customer,
        json!({"type": "hello", "token": connected_token}),
    )
    .await;
    let refused = next_of(&mut customer, "error").await;
    assert_eq!(refused["field"], "token", "{label}: {refused}");
    drop(callers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_with_contacts_in_every_state() {
    killed_with_contacts_in_every_state(None, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_with_contacts_in_every_state() {
    let Some(admin) = switchboard_store::testing::postgres_admin_url() else {
        return;
    };
    let url = switchboard_store::testing::postgres_url(&admin).await;
    killed_with_contacts_in_every_state(Some(&url), "postgres").await;
}
