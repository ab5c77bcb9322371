//! The OpenAI-compatible recogniser against a real HTTP server on loopback:
//! what it sends (a WAV, the model, the bot's phrases) and how it takes the
//! answer, a failure and a server that never answers.

// Tests may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Multipart;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use switchboard_voice::speech::openai::{OpenAiCompatible, OpenAiConfig};
use switchboard_voice::speech::{Hints, Recognise, SpeechError};

#[derive(Default, Clone)]
struct Seen {
    fields: Vec<(String, Vec<u8>)>,
    auth: Option<String>,
}

async fn server() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/ok/v1/audio/transcriptions",
            post(move |headers: axum::http::HeaderMap, mut form: Multipart| {
                let record = record.clone();
                async move {
                    let mut fields = Vec::new();
                    while let Some(field) = form.next_field().await.unwrap() {
                        let name = field.name().unwrap_or("").to_string();
                        fields.push((name, field.bytes().await.unwrap().to_vec()));
                    }
                    let mut seen = record.lock().unwrap();
                    seen.fields = fields;
                    seen.auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string());
                    Json(json!({"text": "  I'd like to check my balance "}))
                }
            }),
        )
        .route(
            "/down/v1/audio/transcriptions",
            post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy") }),
        )
        .route(
            "/slow/v1/audio/transcriptions",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Json(json!({"text": "late"}))
            }),
        )
        .route(
            "/odd/v1/audio/transcriptions",
            post(|| async { Json(json!({"words": []})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn engine(base: String, timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiConfig {
        base_url: base,
        model: "whisper-1".into(),
        api_key: Some("secret-key".into()),
        language: "en".into(),
        timeout,
        max_concurrent: 2,
    })
}

#[tokio::test]
async fn an_utterance_goes_as_a_wav_with_the_bots_phrases_and_comes_back_as_text() {
    let (base, seen) = server().await;
    let hints = Hints {
        phrases: vec!["check my balance".into(), "transfer money".into()],
        grammar: None,
    };
    let audio: Vec<i16> = (0..8000).map(|i| ((i % 50) * 100) as i16).collect();
    let out = engine(format!("{base}/ok"), Duration::from_secs(30))
        .transcribe(&audio, &hints)
        .await
        .unwrap();
    assert_eq!(out.text, "I'd like to check my balance");
    let seen = seen.lock().unwrap().clone();
    let field = |name: &str| {
        seen.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let wav = hound::WavReader::new(std::io::Cursor::new(field("file"))).unwrap();
    assert_eq!(wav.spec().sample_rate, 8000);
    assert_eq!(wav.spec().channels, 1);
    assert_eq!(wav.len(), 8000);
    assert_eq!(field("model"), b"whisper-1");
    assert_eq!(field("language"), b"en");
    assert_eq!(field("prompt"), b"check my balance, transfer money");
    assert_eq!(seen.auth.as_deref(), Some("Bearer secret-key"));
}

#[tokio::test]
async fn failures_are_named_and_a_silent_server_is_given_up_on() {
    let (base, _) = server().await;
    let audio = vec![0i16; 800];
    let hints = Hints::default();
    let e = engine(format!("{base}/down"), Duration::from_secs(30))
        .transcribe(&audio, &hints)
        .await;
    assert_eq!(e, Err(SpeechError::Status(503)));
    let e = engine(format!("{base}/odd"), Duration::from_secs(30))
        .transcribe(&audio, &hints)
        .await;
    assert!(matches!(e, Err(SpeechError::BadAnswer(_))), "{e:?}");
    let e = engine(format!("{base}/slow"), Duration::from_millis(300))
        .transcribe(&audio, &hints)
        .await;
    assert_eq!(e, Err(SpeechError::Timeout(Duration::from_millis(300))));
    let too_long = vec![0i16; 16 * 8000];
    let e = engine(format!("{base}/ok"), Duration::from_secs(30))
        .transcribe(&too_long, &hints)
        .await;
    assert_eq!(e, Err(SpeechError::TooLong));
    // Nothing listens there: a port reserved for this test and never bound.
    let free = switchboard_testkit::ports::port();
    let e = engine(format!("http://127.0.0.1:{free}"), Duration::from_secs(30))
        .transcribe(&audio, &hints)
        .await;
    assert!(matches!(e, Err(SpeechError::Unreachable(_))), "{e:?}");
}
