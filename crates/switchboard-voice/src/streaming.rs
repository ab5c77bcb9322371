//! Media streaming: a call's audio, live, over a WebSocket to the endpoint
//! the instance names (`[media_streaming]`), started and stopped by the
//! flow's UpdateContactMediaStreamingBehavior (Connect's Start and Stop
//! media streaming, which stream to Kinesis Video Streams). External voice
//! agents, recognisers and analytics plug in here, and may talk back.
//!
//! The protocol (also in the README):
//! - Switchboard connects (with `Authorization: Bearer <token>` when one is
//!   configured) and sends a text message
//!   `{"event":"start","contactId":...,"customerEndpoint":...,"systemEndpoint":...,
//!   "sampleRate":8000|16000,"encoding":"pcm_s16le","frameMs":20,
//!   "directions":{"fromCustomer":bool,"toCustomer":bool}}`.
//! - Then binary messages, one per 20 ms frame and direction: one byte,
//!   `0` for what the customer said and `1` for what they heard, then
//!   16-bit little-endian linear PCM at `sampleRate`, mono. Each
//!   direction's frames are consecutive 20 ms of audio.
//! - When the flow changes the directions: `{"event":"directions",...}`;
//!   when it stops streaming or the call ends: `{"event":"stop","reason":...}`
//!   and a close.
//! - The endpoint may send binary messages back (16-bit little-endian PCM at
//!   `sampleRate`, any length): the customer hears them, in order, instead
//!   of prompts, music or silence (not over an agent). At most 10 s waits;
//!   more is dropped. `{"event":"clear"}` drops what waits (the caller
//!   interrupted); `{"event":"stop"}` ends the stream.
//!
//! Bounded: at most `max_streams` at once on the instance (more take the
//! flow on without a stream, logged), a connect deadline, at most 5 s of
//! audio queued towards a slow endpoint (later frames are dropped and
//! counted), messages from the endpoint of at most 64 KiB.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use switchboard_flow::model::StreamDirections;
use switchboard_media::audio::StreamResampler;
use switchboard_media::FRAME_SAMPLES;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tracing::{info, warn};

/// Most audio waiting to be played back to the customer: 10 s at 8 kHz.
const MAX_BACK_SAMPLES: usize = 80_000;
/// Most frames queued towards the endpoint: 5 s of both directions.
const MAX_QUEUED_FRAMES: usize = 500;
/// The largest message taken from the endpoint.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Where streams go, and their limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingConfig {
    /// The endpoint: `ws://` or `wss://`.
    pub url: String,
    /// Sent as a bearer token, when set.
    pub token: Option<String>,
    /// 8000 or 16000.
    pub sample_rate: u32,
    /// Most streams at once on this instance.
    pub max_streams: usize,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

/// The instance's streaming: its configuration and its free slots.
#[derive(Clone)]
pub struct Streaming {
    config: Arc<StreamingConfig>,
    slots: Arc<Semaphore>,
}

/// What the endpoint is told of the call.
pub struct StreamStart {
    /// The contact.
    pub contact_id: String,
    /// The caller's number.
    pub customer_endpoint: String,
    /// The number called.
    pub system_endpoint: String,
}

impl Streaming {
    /// Streaming with this configuration.
    pub fn new(config: StreamingConfig) -> Streaming {
        Streaming {
            slots: Arc::new(Semaphore::new(config.max_streams.max(1))),
            config: Arc::new(config),
        }
    }

    /// Starts a stream (connecting in the background); `None` when every
    /// slot is taken.
    pub fn start(&self, call: StreamStart, directions: StreamDirections) -> Option<Stream> {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            warn!(contact = %call.contact_id, "media streaming: every stream slot is taken");
            return None;
        };
        let (out, rx) = mpsc::channel(MAX_QUEUED_FRAMES);
        let shared = Arc::new(Shared {
            back: Mutex::new(VecDeque::new()),
            ended: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let start = serde_json::json!({
            "event": "start",
            "contactId": call.contact_id,
            "customerEndpoint": call.customer_endpoint,
            "systemEndpoint": call.system_endpoint,
            "sampleRate": self.config.sample_rate,
            "encoding": "pcm_s16le",
            "frameMs": 20,
            "directions": directions_json(directions),
        });
        tokio::spawn(run(
            self.config.clone(),
            call.contact_id,
            start.to_string(),
            rx,
            shared.clone(),
            permit,
        ));
        Some(Stream {
            out,
            shared,
            directions,
            from_pending: Vec::new(),
        })
    }
}

fn directions_json(d: StreamDirections) -> serde_json::Value {
    serde_json::json!({"fromCustomer": d.from_customer, "toCustomer": d.to_customer})
}

/// What the call and the stream's task share.
struct Shared {
    /// Audio from the endpoint, 8 kHz, waiting to be played.
    back: Mutex<VecDeque<i16>>,
    /// The stream ended (the endpoint stopped or left, or it never connected).
    ended: AtomicBool,
    /// Frames dropped because the endpoint did not keep up.
    dropped: AtomicU64,
}

/// Towards the stream's task.
enum Out {
    /// A 20 ms frame, 8 kHz: direction 0 (from the customer) or 1 (to).
    Frame(u8, Vec<i16>),
    /// The directions changed.
    Directions(StreamDirections),
}

/// One call's stream, held by the call; dropping it stops the stream.
pub struct Stream {
    out: mpsc::Sender<Out>,
    shared: Arc<Shared>,
    directions: StreamDirections,
    /// The customer's audio not yet a whole frame (their packets may be
    /// 10, 20 or 30 ms).
    from_pending: Vec<i16>,
}

impl Stream {
    /// The flow changed what is streamed.
    pub fn set_directions(&mut self, directions: StreamDirections) {
        if directions != self.directions {
            self.directions = directions;
            self.send(Out::Directions(directions));
        }
    }

    /// What the customer said (8 kHz, decoded).
    pub fn from_customer(&mut self, samples: &[i16]) {
        if !self.directions.from_customer {
            return;
        }
        self.from_pending.extend_from_slice(samples);
        while self.from_pending.len() >= FRAME_SAMPLES {
            let frame: Vec<i16> = self.from_pending.drain(..FRAME_SAMPLES).collect();
            self.send(Out::Frame(0, frame));
        }
    }

    /// What the customer heard in this 20 ms (8 kHz).
    pub fn to_customer(&mut self, frame: &[i16]) {
        if self.directions.to_customer {
            self.send(Out::Frame(1, frame.to_vec()));
        }
    }

    /// The endpoint's next 20 ms for the customer, if it sent some.
    pub fn take_back(&self) -> Option<[i16; FRAME_SAMPLES]> {
        let mut back = self.shared.back.lock().unwrap_or_else(|e| e.into_inner());
        if back.is_empty() {
            return None;
        }
        // The last piece is padded with silence.
        let mut frame = [0i16; FRAME_SAMPLES];
        let n = back.len().min(FRAME_SAMPLES);
        for (slot, s) in frame.iter_mut().zip(back.drain(..n)) {
            *slot = s;
        }
        Some(frame)
    }

    /// The stream is over (the endpoint stopped it, left, or never answered).
    pub fn ended(&self) -> bool {
        self.shared.ended.load(Ordering::Relaxed)
    }

    fn send(&self, out: Out) {
        if self.out.try_send(out).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn run(
    config: Arc<StreamingConfig>,
    contact: String,
    start: String,
    mut rx: mpsc::Receiver<Out>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let reason = match stream(&config, &start, &mut rx, &shared).await {
        Ok(reason) => reason,
        Err(e) => {
            warn!(%contact, "media streaming to {}: {e}", config.url);
            "error"
        }
    };
    shared.ended.store(true, Ordering::Relaxed);
    info!(
        %contact,
        reason,
        dropped = shared.dropped.load(Ordering::Relaxed),
        "media stream ended"
    );
}

async fn stream(
    config: &StreamingConfig,
    start: &str,
    rx: &mut mpsc::Receiver<Out>,
    shared: &Shared,
) -> Result<&'static str, String> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(token) = &config.token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the token is not a valid header value".to_string())?;
        request.headers_mut().insert("authorization", value);
    }
    let ws_config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let (ws, _) = tokio::time::timeout(
        config.connect_timeout,
        tokio_tungstenite::connect_async_with_config(request, Some(ws_config), false),
    )
    .await
    .map_err(|_| format!("no connection within {:?}", config.connect_timeout))?
    .map_err(|e| e.to_string())?;
    let (mut sink, mut from_endpoint) = ws.split();
    sink.send(Message::text(start))
        .await
        .map_err(|e| e.to_string())?;
    let rate = config.sample_rate;
    let resampler = |from, to| StreamResampler::new(from, to).map_err(|e| e.to_string());
    // One running resampler per direction (state carries across frames).
    let (mut up_from, mut up_to, mut down) = if rate == 8_000 {
        (None, None, None)
    } else {
        (
            Some(resampler(8_000, rate)?),
            Some(resampler(8_000, rate)?),
            Some(resampler(rate, 8_000)?),
        )
    };
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Frame(direction, samples)) => {
                    let up = if direction == 0 { &mut up_from } else { &mut up_to };
                    let samples = match up {
                        Some(r) => r.push(&samples),
                        None => samples,
                    };
                    let mut bytes = Vec::with_capacity(1 + samples.len() * 2);
                    bytes.push(direction);
                    for s in samples {
                        bytes.extend_from_slice(&s.to_le_bytes());
                    }
                    sink.send(Message::binary(bytes)).await.map_err(|e| e.to_string())?;
                }
                Some(Out::Directions(d)) => {
                    let text = serde_json::json!({"event": "directions", "directions": directions_json(d)});
                    sink.send(Message::text(text.to_string())).await.map_err(|e| e.to_string())?;
                }
                None => {
                    // The call ended or the flow stopped streaming.
                    let stop = serde_json::json!({"event": "stop", "reason": "stopped"});
                    let _ = sink.send(Message::text(stop.to_string())).await;
                    let _ = sink.close().await;
                    return Ok("stopped by the call");
                }
            },
            message = from_endpoint.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    let samples: Vec<i16> = bytes
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    let samples = match &mut down {
                        Some(r) => r.push(&samples),
                        None => samples,
                    };
                    let mut back = shared.back.lock().unwrap_or_else(|e| e.into_inner());
                    let room = MAX_BACK_SAMPLES.saturating_sub(back.len());
                    back.extend(samples.iter().take(room));
                }
                Some(Ok(Message::Text(text))) => {
                    let event = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string));
                    match event.as_deref() {
                        Some("clear") => shared.back.lock().unwrap_or_else(|e| e.into_inner()).clear(),
                        Some("stop") => {
                            let _ = sink.close().await;
                            return Ok("stopped by the endpoint");
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None => return Ok("the endpoint closed"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
            },
        }
    }
}
