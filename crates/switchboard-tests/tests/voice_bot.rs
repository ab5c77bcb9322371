//! A caller talks to a bot: SIPp calls in and speaks (espeak-ng's voice,
//! streamed as A-law RTP), the call's endpointer finds each utterance in
//! the RTP, barge-in stops the bot's question, the utterance goes as a WAV
//! to the configured OpenAI-compatible recogniser (a loopback server here
//! that checks it got speech and answers as a recogniser would), the bot
//! fills its slot over two turns, and the flow takes the intent's branch.
//! That recogniser answers from a script: what the test proves is the
//! call's side (audio in, endpointing, the request, the dialog, the lines
//! spoken in order). A second test goes the whole way on the box: the
//! default recogniser (PocketSphinx) hears espeak-ng's speech.

// Tests may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Multipart;
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use serde_json::{json, Value};
use switchboard_voice::speech::openai::OpenAiConfig;
use switchboard_voice::speech::SpeechConfig;

/// A recogniser that answers each utterance from `script` in turn (then
/// nothing), and keeps how long each utterance it got was, in ms.
async fn recogniser(script: Vec<&'static str>) -> (String, Arc<Mutex<Vec<u64>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let record = heard.clone();
    let app = Router::new().route(
        "/v1/audio/transcriptions",
        post(move |mut form: Multipart| {
            let (record, script) = (record.clone(), script.clone());
            async move {
                let mut ms = 0;
                while let Some(field) = form.next_field().await.unwrap() {
                    if field.name() == Some("file") {
                        let wav = hound::WavReader::new(std::io::Cursor::new(
                            field.bytes().await.unwrap().to_vec(),
                        ))
                        .unwrap();
                        assert_eq!(wav.spec().sample_rate, 8000);
                        let samples: Vec<i16> =
                            wav.into_samples::<i16>().map(Result::unwrap).collect();
                        // Speech, not silence: loud enough somewhere.
                        let loud = samples.iter().any(|s| s.unsigned_abs() > 2000);
                        ms = if loud { samples.len() as u64 / 8 } else { 0 };
                    }
                }
                let mut heard = record.lock().unwrap();
                heard.push(ms);
                let text = script.get(heard.len() - 1).copied().unwrap_or("");
                Json(json!({"text": text}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), heard)
}

fn bot_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "bot", "Actions": [
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "Welcome to the bank. How can I help?",
                        "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:111122223333:bot-alias/DemoBank/TSTALIASID"}},
         "Transitions": {"Conditions": [
            {"NextAction": "balance", "Condition": {"Operator": "Equals", "Operands": ["CheckBalance"]}}],
          "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "bye"},
                     {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "balance", "Type": "UpdateContactAttributes",
         "Parameters": {"Attributes": {"Account": "$.Lex.Slots.AccountNumber"}},
         "Transitions": {"NextAction": "said", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "said"}]}},
        {"Identifier": "said", "Type": "MessageParticipant",
         "Parameters": {"Text": "Account $.Lex.Slots.AccountNumber. Goodbye."},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

/// The demo bank bot, and a flow that hands calls to it, on a number.
async fn bank_line(rig: &Rig) {
    rig.call(
        "POST",
        "/sip-trunks",
        Some(json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]})),
        None,
    )
    .await;
    let bot: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../switchboard-nlu/bots/demo-bank.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let made = rig.call("POST", "/bots", Some(bot), None).await;
    assert_eq!(made["name"], "DemoBank", "{made}");
    rig.number_runs("Bank line", bot_flow()).await;
}

/// The whole way on the box: espeak-ng's speech over RTP, the endpointer,
/// PocketSphinx held to the bot's grammar, the NLU, the dialog and the
/// flow. The caller says what they want, then (asked) their account number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_speaks_to_a_bot_recognised_on_the_box() {
    if !sipp_ready() {
        return;
    }
    if let Err(e) = switchboard_voice::speech::sphinx::Sphinx::new(Default::default()).check() {
        assert!(
            std::env::var_os("CI").is_none(),
            "PocketSphinx under CI: {e}"
        );
        eprintln!("skipped: {e}");
        return;
    }
    // The instance's default recogniser: on the box.
    let rig = Rig::configured(|c| {
        assert!(matches!(
            c.speech,
            Some(switchboard_voice::speech::SpeechConfig::OnBox(_))
        ));
    })
    .await;
    bank_line(&rig).await;
    // espeak-ng's en-us+f2 voice (its default voice is hard for the
    // recogniser: ../shared/SPEECH.md); 4 s between the two answers leaves
    // the bot time to ask the second question, which the caller may talk over.
    let caller = speaking_caller(
        "en-us+f2",
        &[
            "I'd like to check my balance",
            "my account number is one two three four",
        ],
        4_000,
    );
    let args = caller_args(&rig, &caller);
    let (code, out) = sipp_within(&args, 120).await;
    assert_eq!(code, 0, "the call ends with Switchboard's BYE: {out}");
    let ended = rig.ended(1).await;
    let record = &ended[0];
    let path = record["flow_path"].as_array().unwrap();
    assert!(
        path.iter().any(|s| s["action"] == "balance"),
        "the CheckBalance branch: {record:#}"
    );
    assert_eq!(
        record["attributes"]["Account"], "1234",
        "the account number, from spoken digits: {record:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_speaks_to_a_bot_and_the_flow_takes_the_intent_branch() {
    if !sipp_ready() {
        return;
    }
    let (url, heard) = recogniser(vec![
        "I'd like to check my balance",
        "one two three four five six",
    ])
    .await;
    let rig = Rig::configured(move |c| {
        c.speech = Some(SpeechConfig::OpenAi(OpenAiConfig {
            base_url: url,
            model: "whisper-1".into(),
            api_key: None,
            language: "en".into(),
            timeout: Duration::from_secs(30),
            max_concurrent: 4,
        }));
    })
    .await;
    bank_line(&rig).await;

    let caller = speaking_caller("en-us", &["I would like to check my balance please"], 1_500);
    let args = caller_args(&rig, &caller);
    let (code, out) = sipp_within(&args, 90).await;
    assert_eq!(code, 0, "the call ends with Switchboard's BYE: {out}");

    let heard = heard.lock().unwrap().clone();
    println!("utterances heard (ms): {heard:?}");
    println!(
        "records: {:#}",
        serde_json::Value::Array(rig.contacts().await)
    );
    assert!(
        heard.len() >= 2,
        "two utterances reached the recogniser: {heard:?}"
    );
    for ms in &heard[..2] {
        // One utterance each: espeak's sentence (about 2 s), the pre-roll and the end silence.
        assert!(
            (800..=6000).contains(ms),
            "an utterance of {ms} ms: {heard:?}"
        );
    }
    let ended = rig.ended(1).await;
    let record = &ended[0];
    assert_eq!(
        record["disconnect_reason"], "CONTACT_FLOW_DISCONNECT",
        "{record:#}"
    );
    let path = record["flow_path"].as_array().unwrap();
    assert!(
        path.iter().any(|s| s["action"] == "balance"),
        "the CheckBalance branch: {record:#}"
    );
}
