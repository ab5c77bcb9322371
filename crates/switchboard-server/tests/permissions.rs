//! Each default security profile, allowed and refused, on representative
//! endpoints: the permission matrix.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

/// One representative call per row; `n` makes names unique per caller.
fn call(row: &str, n: &str) -> (Method, String, Option<Value>) {
    match row {
        "list users" => (Method::GET, "/api/v1/users".into(), None),
        "read me" => (Method::GET, "/api/v1/me".into(), None),
        "list queues" => (Method::GET, "/api/v1/queues".into(), None),
        "create queue" => (
            Method::POST,
            "/api/v1/queues".into(),
            Some(json!({"name": format!("Q {n}"), "hours_of_operation": "Basic Hours"})),
        ),
        "edit hours" => (
            Method::POST,
            "/api/v1/hours-of-operation".into(),
            Some(json!({"name": format!("H {n}"), "time_zone": "Europe/Paris"})),
        ),
        "list routing profiles" => (Method::GET, "/api/v1/routing-profiles".into(), None),
        "list agent statuses" => (Method::GET, "/api/v1/agent-statuses".into(), None),
        "create agent status" => (
            Method::POST,
            "/api/v1/agent-statuses".into(),
            Some(json!({"name": format!("Lunch {n}")})),
        ),
        "list quick connects" => (Method::GET, "/api/v1/quick-connects".into(), None),
        "create security profile" => (
            Method::POST,
            "/api/v1/security-profiles".into(),
            Some(json!({"name": format!("P {n}"), "permissions": ["Queues.View"]})),
        ),
        "claim number" => (
            Method::POST,
            "/api/v1/phone-numbers".into(),
            Some(json!({"number": format!("+44207946{n:0>4}")})),
        ),
        "list numbers" => (Method::GET, "/api/v1/phone-numbers".into(), None),
        "list flows" => (Method::GET, "/api/v1/flows".into(), None),
        "list prompts" => (Method::GET, "/api/v1/prompts".into(), None),
        "read audit log" => (Method::GET, "/api/v1/audit-log".into(), None),
        "create api key" => (
            Method::POST,
            "/api/v1/api-keys".into(),
            Some(json!({"name": format!("k{n}")})),
        ),
        other => panic!("no row {other}"),
    }
}

// Rows x (Admin, CallCenterManager, QualityAnalyst, Agent): allowed?
const MATRIX: &[(&str, [bool; 4], &str)] = &[
    ("read me", [true, true, true, true], ""),
    ("list users", [true, true, true, false], "Users.View"),
    ("list queues", [true, true, true, false], "Queues.View"),
    ("create queue", [true, true, false, false], "Queues.Create"),
    (
        "edit hours",
        [true, true, false, false],
        "HoursOfOperation.Create",
    ),
    (
        "list routing profiles",
        [true, true, false, false],
        "RoutingPolicies.View",
    ),
    (
        "list agent statuses",
        [true, true, false, true],
        "AgentStates.View",
    ),
    (
        "create agent status",
        [true, true, false, false],
        "AgentStates.Create",
    ),
    (
        "list quick connects",
        [true, true, false, true],
        "TransferDestinations.View",
    ),
    (
        "create security profile",
        [true, false, false, false],
        "SecurityProfiles.Create",
    ),
    (
        "claim number",
        [true, false, false, false],
        "PhoneNumbers.Claim",
    ),
    (
        "list numbers",
        [true, true, false, false],
        "PhoneNumbers.View",
    ),
    (
        "list flows",
        [true, true, false, false],
        "ContactFlows.View",
    ),
    ("list prompts", [true, true, false, false], "Prompts.View"),
    (
        "read audit log",
        [true, false, false, false],
        "AuditLog.View",
    ),
    (
        "create api key",
        [true, false, false, false],
        "ApiKeys.Manage",
    ),
];

#[tokio::test]
async fn default_profiles_allow_and_refuse_as_documented() {
    for app in apps().await {
        let profiles = ["Admin", "CallCenterManager", "QualityAnalyst", "Agent"];
        let mut tokens = vec![app.admin.clone()];
        for (i, p) in profiles[1..].iter().enumerate() {
            tokens.push(app.user_with(&format!("user{i}"), p).await);
        }
        for (row_no, (row, allowed, permission)) in MATRIX.iter().enumerate() {
            for (col, token) in tokens.iter().enumerate() {
                let (method, path, body) = call(row, &format!("{row_no}{col}"));
                let r = app.call(method, &path, Some(token), body).await;
                let who = profiles[col];
                if allowed[col] {
                    assert!(
                        r.status.is_success(),
                        "{}: {who} should {row}: {} {}",
                        app.backend,
                        r.status,
                        r.body
                    );
                } else {
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{}: {who} should not {row}: {}",
                        app.backend,
                        r.body
                    );
                    assert_eq!(
                        r.body["missing_permission"], *permission,
                        "{}: {who} {row}",
                        app.backend
                    );
                    assert_eq!(r.body["code"], "forbidden");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_custom_profile_grants_exactly_its_permissions() {
    for app in apps().await {
        let r = app
            .post(
                "/api/v1/security-profiles",
                &app.admin,
                json!({"name": "Queue watcher", "permissions": ["Queues.View"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let token = app.user_with("watcher", "Queue watcher").await;
        assert_eq!(
            app.get("/api/v1/queues", &token).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/api/v1/queues/BasicQueue", &token).await.status,
            StatusCode::OK
        );
        let r = app
            .put(
                "/api/v1/queues/BasicQueue",
                &token,
                json!({"name": "BasicQueue", "hours_of_operation": "Basic Hours"}),
            )
            .await;
        assert_eq!(r.body["missing_permission"], "Queues.Edit");
        assert_eq!(
            app.get("/api/v1/users", &token).await.body["missing_permission"],
            "Users.View"
        );
        let me = app.get("/api/v1/me", &token).await;
        assert_eq!(me.body["permissions"], json!(["Queues.View"]));
    }
}

#[tokio::test]
async fn nobody_grants_or_assigns_more_than_they_hold() {
    for app in apps().await {
        let ccm = app.user_with("manager", "CallCenterManager").await;
        // A manager may create agents...
        let agent = json!({"username": "newagent", "password": USER_PASSWORD, "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile"});
        assert_eq!(
            app.post("/api/v1/users", &ccm, agent).await.status,
            StatusCode::CREATED
        );
        // ...but not administrators.
        let admin = json!({"username": "sneaky", "password": USER_PASSWORD, "security_profiles": ["Admin"], "routing_profile": "Basic Routing Profile"});
        let r = app.post("/api/v1/users", &ccm, admin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.field(), "security_profiles[0]");
        // And cannot change an agent's profiles without Users.EditPermission.
        let r = app.put("/api/v1/users/newagent", &ccm,
            json!({"username": "newagent", "security_profiles": ["QualityAnalyst"], "routing_profile": "Basic Routing Profile"})).await;
        assert_eq!(
            r.body["missing_permission"], "Users.EditPermission",
            "{}",
            r.body
        );
        // A profile editor without ApiKeys.Manage cannot grant it.
        app.post("/api/v1/security-profiles", &app.admin,
            json!({"name": "Profile editor", "permissions": ["SecurityProfiles.Create", "SecurityProfiles.View"]})).await;
        let editor = app.user_with("editor", "Profile editor").await;
        let r = app
            .post(
                "/api/v1/security-profiles",
                &editor,
                json!({"name": "Keys", "permissions": ["ApiKeys.Manage"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.field(), "permissions[0]");
    }
}

#[tokio::test]
async fn the_admin_profile_cannot_be_weakened_and_the_last_admin_stays() {
    for app in apps().await {
        let r = app
            .put(
                "/api/v1/security-profiles/Admin",
                &app.admin,
                json!({"name": "Admin", "permissions": []}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let r = app
            .delete("/api/v1/security-profiles/Agent", &app.admin)
            .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "built-in profiles stay: {}",
            r.body
        );
        let r = app.delete("/api/v1/users/admin", &app.admin).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        let r = app.put("/api/v1/users/admin", &app.admin,
            json!({"username": "admin", "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile"})).await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "the last admin keeps Admin: {}",
            r.body
        );
        // With a second admin, the first may step down.
        app.user_with("admin2", "Admin").await;
        let r = app.put("/api/v1/users/admin", &app.admin,
            json!({"username": "admin", "security_profiles": ["Agent"], "routing_profile": "Basic Routing Profile"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    for app in apps().await {
        let r = app.call(Method::GET, "/api/v1/queues", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.field(), "authorization");
        let r = app
            .call(Method::GET, "/api/v1/queues", Some("sbs_forged"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "admin", "password": "wrong"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "nobody", "password": "wrong"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        // Logging out ends the session.
        let token = app.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(
            app.call(Method::POST, "/api/v1/auth/logout", Some(&token), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get("/api/v1/me", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn api_keys_act_as_their_owner_until_revoked() {
    for app in apps().await {
        let r = app
            .post("/api/v1/api-keys", &app.admin, json!({"name": "crm-sync"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let key = r.body["key"].as_str().unwrap().to_string();
        let id = r.body["id"].as_str().unwrap().to_string();
        assert!(key.starts_with("sbk_"));

        let r = app
            .post(
                "/api/v1/queues",
                &key,
                json!({"name": "From CRM", "hours_of_operation": "Basic Hours"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let queue_id = r.body["id"].as_str().unwrap();
        let log = app
            .get(
                &format!("/api/v1/audit-log?object_id={queue_id}"),
                &app.admin,
            )
            .await;
        assert_eq!(log.body["items"][0]["via"], "api_key:crm-sync");
        assert_eq!(log.body["items"][0]["actor_name"], "admin");

        let listed = app.get("/api/v1/api-keys", &app.admin).await;
        assert!(
            !listed.bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key is never listed"
        );
        assert_eq!(
            app.delete(&format!("/api/v1/api-keys/{id}"), &app.admin)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get("/api/v1/queues", &key).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn changing_a_password_ends_sessions() {
    for app in apps().await {
        let token = app.user_with("carol", "Agent").await;
        let me = app.get("/api/v1/me", &token).await;
        let id = me.body["user"]["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/users/{id}/password");
        let r = app
            .post(&path, &token, json!({"new_password": "Another-Passw0rd"}))
            .await;
        assert_eq!(
            r.field(),
            "current_password",
            "own password needs the current one"
        );
        let r = app
            .post(
                &path,
                &token,
                json!({"current_password": USER_PASSWORD, "new_password": "weak"}),
            )
            .await;
        assert_eq!(r.field(), "new_password");
        let r = app
            .post(
                &path,
                &token,
                json!({"current_password": USER_PASSWORD, "new_password": "Another-Passw0rd"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        assert_eq!(
            app.get("/api/v1/me", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
        app.login("carol", "Another-Passw0rd").await;

        // Someone else's password needs Users.EditPermission.
        let ccm = app.user_with("dave", "CallCenterManager").await;
        let r = app
            .post(&path, &ccm, json!({"new_password": "Third-Passw0rd"}))
            .await;
        assert_eq!(r.body["missing_permission"], "Users.EditPermission");
        assert_eq!(
            app.post(&path, &app.admin, json!({"new_password": "Third-Passw0rd"}))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
    }
}

/// A request from the client at `address`, as `switchboard serve` sees it.
async fn from(
    app: &TestApp,
    address: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value, Option<String>) {
    use tower::ServiceExt;
    let addr: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut req = req.body(axum::body::Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_default(),
        retry,
    )
}

#[tokio::test]
async fn guessing_is_slowed_per_user_and_address_and_nobody_is_locked_out_from_elsewhere() {
    const LOGIN: &str = "/api/v1/auth/login";
    for app in apps().await {
        let wrong = json!({"username": "admin", "password": "Wrong-Passw0rd"});
        let right = json!({"username": "admin", "password": ADMIN_PASSWORD});
        let guesser = "203.0.113.9";
        for _ in 0..5 {
            let (status, _, _) = from(&app, guesser, LOGIN, None, wrong.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", app.backend);
        }
        // The guesser now waits, even with the right password...
        let (status, body, retry) = from(&app, guesser, LOGIN, None, right.clone()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["errors"][0]["field"], "username");
        assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
        // ...but the real admin, elsewhere, signs in.
        let (status, body, _) = from(&app, "198.51.100.4", LOGIN, None, right.clone()).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", app.backend);

        // Spraying one password over many usernames from one address is slowed.
        let sprayer = "203.0.113.77";
        let mut refused_at = None;
        for i in 0..30 {
            let guess = json!({"username": format!("user{i}"), "password": "Spring-2026!"});
            let (status, _, _) = from(&app, sprayer, LOGIN, None, guess).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                refused_at = Some(i);
                break;
            }
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(refused_at, Some(20), "{}", app.backend);

        // Changing one's own password is guarded the same way.
        let token = app.login("admin", ADMIN_PASSWORD).await;
        let change = "/api/v1/users/admin/password";
        let wrong_current =
            json!({"current_password": "Nope-Passw0rd", "new_password": "Newer-Passw0rd1"});
        let mut statuses = Vec::new();
        for _ in 0..6 {
            let (status, _, _) = from(
                &app,
                "192.0.2.50",
                change,
                Some(&token),
                wrong_current.clone(),
            )
            .await;
            statuses.push(status.as_u16());
        }
        assert_eq!(statuses, [400, 400, 400, 400, 400, 429], "{}", app.backend);
    }
}
