//! An in-process Switchboard per backend, driven through the real router
//! (every layer, extractor and handler) without opening a socket.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use switchboard_runtime::{AppState, Settings};
use switchboard_server::{app, bootstrap};
use switchboard_store::testing::{stores, TestDb};
use switchboard_store::{Blobs, Store};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "Admin-Passw0rd";
pub const USER_PASSWORD: &str = "Agent-Passw0rd";

pub struct TestApp {
    pub backend: &'static str,
    pub routing: switchboard_runtime::routing::RoutingHandle,
    pub router: Router,
    pub store: Store,
    pub blobs: Blobs,
    pub admin: String,
    pub state: AppState,
    /// The app's chats.
    pub chat: switchboard_webchat::ChatHub,
    _db: TestDb,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The field named by the first error.
    pub fn field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or("")
    }
}

pub async fn apps_with(settings: Settings) -> Vec<TestApp> {
    apps_with_chat(settings, Default::default()).await
}

/// Apps whose chat channel runs with `chat` (short timeouts, say).
pub async fn apps_with_chat(
    settings: Settings,
    chat: switchboard_webchat::ChatSettings,
) -> Vec<TestApp> {
    let mut out = Vec::new();
    for (backend, db) in stores().await {
        let store = db.store.clone();
        bootstrap::ensure_defaults(&store).await.unwrap();
        bootstrap::ensure_admin(&store, Some(ADMIN_PASSWORD.into()))
            .await
            .unwrap();
        let routing = switchboard_runtime::routing::start(store.clone())
            .await
            .unwrap();
        let blobs = Blobs::in_memory();
        let state = AppState {
            store: store.clone(),
            blobs: blobs.clone(),
            functions: Default::default(),
            login_throttle: Default::default(),
            routing: routing.clone(),
            settings: Arc::new(settings.clone()),
            metrics: Default::default(),
            trunk_registrations: Default::default(),
        };
        let hub = switchboard_webchat::ChatHub::new(chat.clone());
        let mut app = TestApp {
            backend,
            routing,
            router: app(state.clone(), hub.clone()),
            chat: hub,
            state,
            store,
            blobs,
            admin: String::new(),
            _db: db,
        };
        app.admin = app.login("admin", ADMIN_PASSWORD).await;
        out.push(app);
    }
    out
}

pub async fn apps() -> Vec<TestApp> {
    apps_with(Settings::default()).await
}

impl TestApp {
    /// The database's URL (to take it away in an outage test).
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    /// Serves the app on a loopback port (for WebSockets); returns its address.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(switchboard_server::listen::serve(
            listener,
            router,
            Default::default(),
            std::future::pending(),
        ));
        addr
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            bytes,
        }
    }

    /// A request with an optional bearer token and optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Uploads a prompt of `seconds` of 8 kHz audio named `name`.
    pub async fn upload_prompt(&self, name: &str, seconds: f32) -> Reply {
        let audio = wav(8000, seconds);
        let (ct, body) = multipart(&[
            ("name", None, name.as_bytes()),
            ("file", Some("prompt.wav"), &audio),
        ]);
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/prompts")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}: login {username}: {}",
            self.backend,
            r.body
        );
        r.body["token"].as_str().unwrap().to_string()
    }

    /// Creates a user holding `profile` (as admin) and signs them in.
    pub async fn user_with(&self, username: &str, profile: &str) -> String {
        let r = self
            .post(
                "/api/v1/users",
                &self.admin,
                json!({"username": username, "password": USER_PASSWORD,
                       "security_profiles": [profile], "routing_profile": "Basic Routing Profile"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}: {}",
            self.backend,
            r.body
        );
        self.login(username, USER_PASSWORD).await
    }
}

pub fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "switchboard-test-boundary";
    let mut body = Vec::new();
    for (name, filename, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn wav(rate: u32, seconds: f32) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
    for i in 0..(rate as f32 * seconds) as u32 {
        w.write_sample(((i as f32 * 0.07).sin() * 9000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    buf.into_inner()
}
