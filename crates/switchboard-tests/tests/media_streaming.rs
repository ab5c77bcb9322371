//! Media streaming end to end: a SIPp caller speaks (espeak-ng over RTP),
//! the flow starts streaming (UpdateContactMediaStreamingBehavior), a
//! WebSocket peer here gets the start message and both directions' frames,
//! sends a tone back (which the caller hears: it shows in the "heard"
//! direction), and the flow's stop reaches it as a stop message.

// Tests may unwrap: a failure is the report.
// The handshake callback's error type is tungstenite's (a whole HTTP response).
#![allow(clippy::unwrap_used, unreachable_pub, clippy::result_large_err)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// What the peer saw.
#[derive(Default, Debug)]
struct Seen {
    start: Option<Value>,
    authorization: Option<String>,
    /// Frames per direction, and those that carried sound.
    frames: [usize; 2],
    loud: [usize; 2],
    /// Bytes in the frames (each 1 + 320 at 8 kHz).
    sizes: Vec<usize>,
    /// The longest run of "heard" frames that were the tone sent back.
    tone_run: usize,
    stop: Option<Value>,
}

const TONE_AMPLITUDE: f64 = 6_000.0;

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64)
        .sqrt()
}

/// A peer that takes one stream at `rate` Hz: after a second of the
/// caller's speech it sends back 1.5 s of a 400 Hz tone.
async fn peer(rate: u32) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/stream", listener.local_addr().unwrap());
    let record = seen.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let auth = Arc::new(Mutex::new(None));
        let keep = auth.clone();
        let callback = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                             resp| {
            *keep.lock().unwrap() = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            Ok(resp)
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
            .await
            .unwrap();
        record.lock().unwrap().authorization = auth.lock().unwrap().clone();
        let (mut sink, mut stream) = ws.split();
        let mut sent_tone = false;
        let mut run = 0;
        let tone_rms = TONE_AMPLITUDE / 2f64.sqrt();
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Text(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    let mut seen = record.lock().unwrap();
                    match v["event"].as_str() {
                        Some("start") => seen.start = Some(v),
                        Some("stop") => seen.stop = Some(v),
                        _ => {}
                    }
                }
                Message::Binary(bytes) => {
                    let direction = usize::from(bytes[0]);
                    let samples: Vec<i16> = bytes[1..]
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    let level = rms(&samples);
                    let send_tone = {
                        let mut seen = record.lock().unwrap();
                        seen.frames[direction] += 1;
                        seen.sizes.push(bytes.len());
                        if level > 300.0 {
                            seen.loud[direction] += 1;
                        }
                        if direction == 1 {
                            // The tone, sample for sample: a steady level.
                            if (level - tone_rms).abs() < tone_rms * 0.05 {
                                run += 1;
                                seen.tone_run = seen.tone_run.max(run);
                            } else {
                                run = 0;
                            }
                        }
                        !sent_tone && seen.loud[0] >= 50
                    };
                    if send_tone {
                        sent_tone = true;
                        let tone: Vec<u8> = (0..rate * 3 / 2)
                            .map(|i| {
                                let t = f64::from(i) / f64::from(rate);
                                (TONE_AMPLITUDE * (2.0 * std::f64::consts::PI * 400.0 * t).sin())
                                    as i16
                            })
                            .flat_map(i16::to_le_bytes)
                            .collect();
                        // In pieces, as a peer that speaks as it goes would.
                        for piece in tone.chunks(3_200) {
                            sink.send(Message::binary(piece.to_vec())).await.unwrap();
                        }
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    (url, seen)
}

fn streaming_flow() -> Value {
    json!({"Version": "2019-10-30", "StartAction": "stream", "Actions": [
        {"Identifier": "stream", "Type": "UpdateContactMediaStreamingBehavior",
         "Parameters": {"MediaStreamingState": "Enabled", "MediaStreamType": "Audio",
                        "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}]},
         "Transitions": {"NextAction": "ask", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "failed"}]}},
        {"Identifier": "ask", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Welcome. This call is streamed. Press 1 if you like.", "StoreInput": "False", "InputTimeLimitSeconds": "8"},
         "Transitions": {"NextAction": "stop",
            "Conditions": [{"NextAction": "stop", "Condition": {"Operator": "Equals", "Operands": ["1"]}}],
            "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "stop"},
                       {"ErrorType": "NoMatchingCondition", "NextAction": "stop"},
                       {"ErrorType": "NoMatchingError", "NextAction": "stop"}]}},
        {"Identifier": "stop", "Type": "UpdateContactMediaStreamingBehavior",
         "Parameters": {"MediaStreamingState": "Disabled", "MediaStreamType": "Audio",
                        "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}]},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "failed", "Type": "MessageParticipant", "Parameters": {"Text": "No stream."},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_streamed_both_ways_and_hears_what_the_endpoint_sends_back() {
    streamed_call(8_000).await;
}

/// At 16 kHz both ways: the call's 8 kHz audio resampled up for the
/// endpoint, and what it sends resampled down for the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_streamed_at_16_khz() {
    streamed_call(16_000).await;
}

async fn streamed_call(rate: u32) {
    if !sipp_ready() {
        return;
    }
    let (url, seen) = peer(rate).await;
    let rig = Rig::configured(move |c| {
        c.media_streaming = Some(switchboard_voice::streaming::StreamingConfig {
            url,
            token: Some("s3cret".into()),
            sample_rate: rate,
            max_streams: 4,
            connect_timeout: Duration::from_secs(10),
        });
    })
    .await;
    rig.call(
        "POST",
        "/sip-trunks",
        Some(json!({"name": "loopback carrier", "inbound_addresses": ["127.0.0.1"]})),
        None,
    )
    .await;
    rig.number_runs("Streamed line", streaming_flow()).await;
    let caller = speaking_caller("en-us", &["hello, I am calling about my account"], 500);
    let args = caller_args(&rig, &caller);
    let (code, out) = sipp_within(&args, 90).await;
    assert_eq!(code, 0, "the call ends with Switchboard's BYE: {out}");
    let ended = rig.ended(1).await;
    let record = &ended[0];
    let path: Vec<&str> = record["flow_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["stream", "ask", "stop", "bye"], "{record:#}");

    // The stop message may trail the BYE by a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().stop.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap();
    println!(
        "frames {:?}, loud {:?}, tone run {}",
        seen.frames, seen.loud, seen.tone_run
    );
    let start = seen.start.as_ref().expect("a start message");
    assert_eq!(start["contactId"], record["id"], "{start}");
    assert_eq!(start["sampleRate"], rate);
    assert_eq!(start["encoding"], "pcm_s16le");
    assert_eq!(start["directions"]["fromCustomer"], true);
    assert_eq!(start["directions"]["toCustomer"], true);
    assert_eq!(seen.authorization.as_deref(), Some("Bearer s3cret"));
    // 20 ms frames (at 16 kHz, the resampler's delay makes the first of
    // each direction shorter).
    let frame = 1 + 2 * rate as usize / 50;
    let whole = seen.sizes.iter().filter(|&&n| n == frame).count();
    assert!(
        seen.sizes.iter().all(|&n| n <= frame),
        "frames of at most 20 ms"
    );
    assert!(
        whole + 4 >= seen.sizes.len(),
        "20 ms frames: {whole} of {}",
        seen.sizes.len()
    );
    // About 8 s of the call streamed in each direction (50 frames a second).
    for direction in 0..2 {
        assert!(
            seen.frames[direction] >= 200,
            "direction {direction}: {:?}",
            seen.frames
        );
        assert!(
            seen.loud[direction] >= 50,
            "sound in direction {direction}: {:?}",
            seen.loud
        );
    }
    // The tone sent back (1.5 s) is what the caller heard, steadily.
    assert!(
        seen.tone_run >= 50,
        "tone heard for {} frames",
        seen.tone_run
    );
    assert_eq!(seen.stop.as_ref().unwrap()["event"], "stop");
}
