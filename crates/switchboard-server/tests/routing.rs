//! The router wired into the server: agents set their status over the API,
//! channels enqueue through the handle, decisions come out on the bus,
//! real-time state is readable, and a restart rebuilds it from the log.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use switchboard_model::Channel;
use switchboard_runtime::routing::AgentState;
use switchboard_runtime::routing::{RoutingEvent, RoutingUpdate};

async fn id_of(app: &TestApp, path: &str) -> String {
    app.get(path, &app.admin).await.body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn offered_to(updates: &[RoutingUpdate]) -> Vec<(String, String)> {
    updates
        .iter()
        .filter_map(|u| match u {
            RoutingUpdate::Offer { contact, agent, .. } => Some((contact.clone(), agent.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn agents_take_status_and_contacts_through_the_router() {
    for app in apps().await {
        let admin = &app.admin;
        app.post(
            "/api/v1/queues",
            admin,
            json!({"name": "Sales", "hours_of_operation": "Basic Hours", "max_contacts": 2}),
        )
        .await;
        app.post("/api/v1/routing-profiles", admin, json!({"name": "Sales agents",
            "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}, {"channel": "CHAT", "concurrency": 2}],
            "queue_configs": [{"queue": "Sales", "channel": "VOICE", "priority": 1}, {"queue": "Sales", "channel": "CHAT", "priority": 1}],
            "default_outbound_queue": "Sales"})).await;
        let mut tokens = vec![];
        for name in ["alice", "bob"] {
            let r = app
                .post(
                    "/api/v1/users",
                    admin,
                    json!({"username": name, "password": USER_PASSWORD,
                "security_profiles": ["Agent"], "routing_profile": "Sales agents"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            tokens.push(app.login(name, USER_PASSWORD).await);
        }
        let (alice, bob) = (
            id_of(&app, "/api/v1/users/alice").await,
            id_of(&app, "/api/v1/users/bob").await,
        );
        let sales = id_of(&app, "/api/v1/queues/Sales").await;

        let r = app
            .put(
                "/api/v1/me/status",
                &tokens[0],
                json!({"status": "Available"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (StatusCode::OK, Some("Available")),
            "{}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        app.put(
            "/api/v1/me/status",
            &tokens[1],
            json!({"status": "available"}),
        )
        .await;
        assert_eq!(
            app.put(
                "/api/v1/me/status",
                &tokens[1],
                json!({"status": "Dancing"})
            )
            .await
            .field(),
            "status"
        );

        let mut bus = app.routing.subscribe();
        let enqueue = |contact: &str| RoutingEvent::Enqueue {
            contact: contact.into(),
            queue: sales.clone(),
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        };
        let updates = app.routing.send(enqueue("call-1")).await.unwrap();
        assert_eq!(
            offered_to(&updates),
            [("call-1".to_string(), alice.clone())],
            "{}: alice has been idle longest",
            app.backend
        );
        assert!(matches!(
            bus.recv().await.unwrap(),
            RoutingUpdate::Offer { .. } | RoutingUpdate::AgentState { .. }
        ));

        let board = app.get("/api/v1/routing/agents", admin).await;
        let state = |who: &str| {
            board.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["username"] == who)
                .unwrap()["state"]
                .clone()
        };
        assert_eq!(state("alice"), "Incoming");
        assert_eq!(state("bob"), "Available");

        app.routing
            .send(RoutingEvent::Accept {
                contact: "call-1".into(),
                agent: alice.clone(),
            })
            .await
            .unwrap();
        let updates = app.routing.send(enqueue("call-2")).await.unwrap();
        assert_eq!(offered_to(&updates), [("call-2".to_string(), bob.clone())]);
        app.routing.send(enqueue("call-3")).await.unwrap();
        let refused = app.routing.send(enqueue("call-4")).await.unwrap();
        assert_eq!(
            refused,
            [RoutingUpdate::Refused {
                contact: "call-4".into(),
                reason: switchboard_routing::Refusal::QueueAtCapacity
            }],
            "call-2 offered and call-3 waiting fill the queue of 2"
        );
        let queues = app.get("/api/v1/routing/queues", admin).await;
        let voice = queues.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "Sales" && q["channel"] == "VOICE")
            .unwrap();
        assert_eq!(voice["waiting"], 1);

        // Alice wants lunch mid-call: it shows when her work ends.
        app.post("/api/v1/agent-statuses", admin, json!({"name": "Lunch"}))
            .await;
        let r = app
            .put("/api/v1/me/status", &tokens[0], json!({"status": "Lunch"}))
            .await;
        assert_eq!(r.body["state"], "OnContact");
        app.routing
            .send(RoutingEvent::ContactEnded {
                contact: "call-1".into(),
            })
            .await
            .unwrap();
        let closed = app
            .routing
            .send(RoutingEvent::CloseAcw {
                agent: alice.clone(),
                contact: "call-1".into(),
            })
            .await
            .unwrap();
        assert!(
            closed
                .iter()
                .any(|u| matches!(u, RoutingUpdate::AgentState { state, .. } if state.as_str() == "Lunch")),
            "{closed:?}"
        );
        assert!(offered_to(&closed).is_empty(), "no calls at lunch");

        // Every state change is kept with its time, for reports.
        let history = app.store.agent_states(&alice, 0, i64::MAX).await.unwrap();
        let states: Vec<&str> = history.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            states,
            [
                "Available",
                "Incoming",
                "OnContact",
                "AfterContactWork",
                "Lunch"
            ],
            "{}",
            app.backend
        );
        // Each with the routing profile the router ran alice under.
        let all = app.store.all_agent_states(0, i64::MAX).await.unwrap();
        let profile = app.get("/api/v1/routing-profiles", &app.admin).await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Sales agents")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            all.iter()
                .filter(|c| c.agent == alice)
                .all(|c| c.routing_profile.as_deref() == Some(profile.as_str())),
            "{all:?}"
        );

        // Only supervisors read the board.
        assert_eq!(
            app.get("/api/v1/routing/agents", &tokens[0]).await.body["missing_permission"],
            "AccessMetrics.RealTimeMetrics.Access"
        );
        assert!(app
            .routing
            .send(RoutingEvent::Accept {
                contact: "nope".into(),
                agent: bob.clone()
            })
            .await
            .is_err());

        // A restart rebuilds the state from the event log.
        let restarted = switchboard_runtime::routing::start(app.store.clone())
            .await
            .unwrap();
        let agents = restarted.agents().await;
        let find = |id: &str| agents.iter().find(|a| a.agent == id).unwrap().state.clone();
        assert_eq!(
            find(&alice),
            AgentState::Custom("Lunch".into()),
            "{}",
            app.backend
        );
        assert_eq!(find(&bob), AgentState::Incoming);
        let waiting: usize = restarted
            .queues()
            .await
            .iter()
            .filter(|q| q.queue == sales)
            .map(|q| q.waiting)
            .sum();
        assert_eq!(waiting, 1, "call-3 still waits after the restart");
    }
}

#[tokio::test]
async fn configuration_changes_apply_without_a_restart() {
    for app in apps().await {
        let admin = &app.admin;
        let token = app.user_with("carol", "Agent").await;
        app.put("/api/v1/me/status", &token, json!({"status": "Available"}))
            .await;
        app.post(
            "/api/v1/queues",
            admin,
            json!({"name": "Billing", "hours_of_operation": "Basic Hours"}),
        )
        .await;
        let billing = id_of(&app, "/api/v1/queues/Billing").await;
        let event = |c: &str| RoutingEvent::Enqueue {
            contact: c.into(),
            queue: billing.clone(),
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_seconds: 0,
        };
        // Carol's profile (Basic Routing Profile) does not take Billing yet.
        assert!(offered_to(&app.routing.send(event("b-1")).await.unwrap()).is_empty());
        let r = app.put("/api/v1/routing-profiles/Basic%20Routing%20Profile", admin, json!({"name": "Basic Routing Profile",
            "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}],
            "queue_configs": [{"queue": "BasicQueue", "channel": "VOICE", "priority": 1}, {"queue": "Billing", "channel": "VOICE", "priority": 2}],
            "default_outbound_queue": "BasicQueue"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // The waiting contact is offered as soon as the profile takes its queue.
        let board = app.get("/api/v1/routing/agents", admin).await;
        let carol = board.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == "carol")
            .unwrap()
            .clone();
        assert_eq!(
            carol["state"], "Incoming",
            "{}: {}",
            app.backend, board.body
        );
    }
}

#[tokio::test]
async fn queue_strategy_and_minimum_idle_come_from_the_queue() {
    for app in apps().await {
        let admin = &app.admin;
        let r = app.post("/api/v1/queues", admin, json!({"name": "Ring", "hours_of_operation": "Basic Hours", "routing_strategy": "RING_ALL"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(app.post("/api/v1/queues", admin, json!({"name": "X", "hours_of_operation": "Basic Hours", "min_agent_idle_seconds": 4000})).await.field(), "min_agent_idle_seconds");
        app.put(
            "/api/v1/routing-profiles/Basic%20Routing%20Profile",
            admin,
            json!({"name": "Basic Routing Profile",
            "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}],
            "queue_configs": [{"queue": "Ring", "channel": "VOICE", "priority": 1}],
            "default_outbound_queue": "Ring"}),
        )
        .await;
        let mut agents = vec![];
        for name in ["dee", "eve"] {
            let t = app.user_with(name, "Agent").await;
            app.put("/api/v1/me/status", &t, json!({"status": "Available"}))
                .await;
            agents.push(id_of(&app, &format!("/api/v1/users/{name}")).await);
        }
        let ring = id_of(&app, "/api/v1/queues/Ring").await;
        let updates = app
            .routing
            .send(RoutingEvent::Enqueue {
                contact: "r-1".into(),
                queue: ring,
                channel: Channel::Voice,
                priority: 5,
                time_adjustment_seconds: 0,
            })
            .await
            .unwrap();
        let mut offered: Vec<String> = offered_to(&updates).into_iter().map(|(_, a)| a).collect();
        offered.sort();
        agents.sort();
        assert_eq!(offered, agents, "{}: ring-all offers to both", app.backend);
    }
}

#[tokio::test]
async fn a_restart_replays_each_event_under_the_configuration_of_its_time() {
    for app in apps().await {
        let admin = &app.admin;
        let token = app.user_with("dana", "Agent").await;
        let dana = id_of(&app, "/api/v1/users/dana").await;
        app.put("/api/v1/me/status", &token, json!({"status": "Available"}))
            .await;
        app.post(
            "/api/v1/queues",
            admin,
            json!({"name": "Billing", "hours_of_operation": "Basic Hours"}),
        )
        .await;
        let billing = id_of(&app, "/api/v1/queues/Billing").await;
        let profile = |queues: serde_json::Value| {
            json!({"name": "Basic Routing Profile",
            "media_concurrencies": [{"channel": "VOICE", "concurrency": 1}], "queue_configs": queues, "default_outbound_queue": "BasicQueue"})
        };
        app.put(
            "/api/v1/routing-profiles/Basic%20Routing%20Profile",
            admin,
            profile(json!([{"queue": "Billing", "channel": "VOICE", "priority": 1}])),
        )
        .await;
        let offered = app
            .routing
            .send(RoutingEvent::Enqueue {
                contact: "b-1".into(),
                queue: billing.clone(),
                channel: Channel::Voice,
                priority: 5,
                time_adjustment_seconds: 0,
            })
            .await
            .unwrap();
        assert_eq!(offered_to(&offered), [("b-1".to_string(), dana.clone())]);
        app.routing
            .send(RoutingEvent::Accept {
                contact: "b-1".into(),
                agent: dana.clone(),
            })
            .await
            .unwrap();
        // Later the profile stops taking Billing.
        app.put(
            "/api/v1/routing-profiles/Basic%20Routing%20Profile",
            admin,
            profile(json!([{"queue": "BasicQueue", "channel": "VOICE", "priority": 1}])),
        )
        .await;

        let restarted = switchboard_runtime::routing::start(app.store.clone())
            .await
            .unwrap();
        let state = restarted
            .agents()
            .await
            .into_iter()
            .find(|a| a.agent == dana)
            .unwrap()
            .state;
        assert_eq!(
            state,
            AgentState::OnContact,
            "{}: the call was offered and accepted under the old profile",
            app.backend
        );
        let waiting: usize = restarted
            .queues()
            .await
            .iter()
            .filter(|q| q.queue == billing)
            .map(|q| q.waiting)
            .sum();
        assert_eq!(waiting, 0, "no phantom contact");
    }
}
