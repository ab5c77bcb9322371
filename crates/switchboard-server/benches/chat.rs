//! Chat load: many customers in chat at once, and how long a message takes
//! through Switchboard at that load. Drives a running `switchboard serve
//! --demo` (bench/chat.sh starts one): the client is a separate process,
//! as real browsers are, so neither side's sockets count against the other.
//!
//! 1. Starts `CHATS` chats on the demo chat flow (POST /api/v1/chat/start),
//!    opens each customer's WebSocket, answers the flow's menu, so every
//!    chat waits in the Sales queue (no agent is available: they stay).
//! 2. For `SECONDS`, sends `RATE` messages per second spread round-robin
//!    over the chats and times each from the moment it is written to the
//!    socket to the moment the chat's item for it comes back on that socket
//!    (parse, limits, the chat's task, the fan-out, serialization, both ways
//!    over loopback).
//!
//! Environment: SWITCHBOARD_URL (http://127.0.0.1:18081), CHATS (10000),
//! RATE (1000), SECONDS (20), SERVER_PID (to report the server's memory).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the readers share: when each timed message was sent, and the delays measured.
#[derive(Default)]
struct Timings {
    sent: HashMap<String, Instant>,
    delays_us: Vec<u64>,
}

fn server_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let base: String = env("SWITCHBOARD_URL", "http://127.0.0.1:18081".to_string());
    let chats: usize = env("CHATS", 10_000);
    let rate: usize = env("RATE", 1_000);
    let seconds: u64 = env("SECONDS", 20);
    let pid: String = env("SERVER_PID", String::new());
    let ws_base = base.replacen("http", "ws", 1);
    let http = reqwest::Client::new();
    let rss_before = server_rss_kib(&pid);

    // 1. Start the chats, 64 requests in flight.
    let t0 = Instant::now();
    let mut tokens = Vec::with_capacity(chats);
    let mut starts = futures::stream::iter(0..chats)
        .map(|i| {
            let http = http.clone();
            let url = format!("{base}/api/v1/chat/start");
            async move {
                let r = http
                    .post(url)
                    .json(&json!({"flow": "Demo chat", "display_name": format!("Load {i}")}))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status();
                let body: Value = r.json().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!("{status}: {body}"));
                }
                Ok(body["participant_token"].as_str().unwrap_or("").to_string())
            }
        })
        .buffer_unordered(64);
    while let Some(r) = starts.next().await {
        match r {
            Ok(t) => tokens.push(t),
            Err(e) => panic!("a chat could not start: {e}"),
        }
    }
    let started_in = t0.elapsed();
    println!(
        "started {chats} chats in {:.1} s ({:.0} per second)",
        started_in.as_secs_f64(),
        chats as f64 / started_in.as_secs_f64()
    );

    // 2. Each customer connects, answers the menu, and keeps reading.
    let timings = Arc::new(Mutex::new(Timings::default()));
    let (queued_tx, mut queued_rx) = mpsc::unbounded_channel::<()>();
    let t1 = Instant::now();
    let mut writers = Vec::with_capacity(chats);
    for (i, token) in tokens.iter().enumerate() {
        let (ws, _) = tokio_tungstenite::connect_async(format!("{ws_base}/api/v1/chat/connect"))
            .await
            .unwrap_or_else(|e| panic!("socket {i}: {e}"));
        let (mut sink, mut stream) = ws.split();
        sink.send(Message::Text(
            json!({"type": "hello", "token": token, "since": 0})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        sink.send(Message::Text(
            json!({"type": "send", "content": "sales", "client_token": "menu"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
        });
        writers.push(tx);
        let timings = timings.clone();
        let queued_tx = queued_tx.clone();
        tokio::spawn(async move {
            let mut queued = false;
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(text) = m else { continue };
                let now = Instant::now();
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let content = frame["item"]["content"].as_str().unwrap_or("");
                if !queued && content.starts_with("Thanks. An agent") {
                    queued = true;
                    let _ = queued_tx.send(());
                }
                if content.starts_with("bench ") {
                    let mut t = timings.lock().unwrap();
                    if let Some(sent) = t.sent.remove(content) {
                        t.delays_us
                            .push(now.duration_since(sent).as_micros() as u64);
                    }
                }
                if frame["type"] == "error" {
                    eprintln!("error: {frame}");
                }
            }
        });
    }
    drop(queued_tx);
    let mut queued = 0;
    while queued < chats {
        match tokio::time::timeout(Duration::from_secs(60), queued_rx.recv()).await {
            Ok(Some(())) => queued += 1,
            _ => break,
        }
    }
    println!(
        "{queued} of {chats} customers connected and queued in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    let rss_held = server_rss_kib(&pid);

    // 3. Timed messages at the given rate.
    let per_ms = rate as f64 / 1000.0;
    let mut due = 0.0;
    let mut next = 0usize;
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let t2 = Instant::now();
    while t2.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        due += per_ms;
        while due >= 1.0 {
            due -= 1.0;
            let content = format!("bench {sent}");
            let frame = json!({"type": "send", "content": content, "client_token": content});
            timings
                .lock()
                .unwrap()
                .sent
                .insert(content.clone(), Instant::now());
            let _ = writers[next].send(frame.to_string());
            next = (next + 1) % writers.len();
            sent += 1;
        }
    }
    let achieved = sent as f64 / t2.elapsed().as_secs_f64();
    // Stragglers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut t = timings.lock().unwrap();
    let lost = t.sent.len();
    // Message n went to chat n % writers: the chats with a message not seen.
    let silent: std::collections::HashSet<usize> = t
        .sent
        .keys()
        .filter_map(|k| k.strip_prefix("bench ")?.parse::<usize>().ok())
        .map(|n| n % writers.len())
        .collect();
    let reached = writers.len().min(sent as usize);
    t.delays_us.sort_unstable();
    let d = &t.delays_us;
    println!(
        "{} messages over {seconds} s ({achieved:.0}/s achieved, {rate}/s asked) across {chats} chats: {} echoed within 2 s, {lost} not seen",
        sent,
        d.len()
    );
    println!(
        "chats held: {} of the {reached} chats sent a message echoed every one",
        reached - silent.len()
    );
    println!(
        "message latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(d, 0.50) as f64 / 1000.0,
        percentile(d, 0.90) as f64 / 1000.0,
        percentile(d, 0.99) as f64 / 1000.0,
        d.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    if let (Some(before), Some(held)) = (rss_before, rss_held) {
        println!(
            "server memory: {:.0} MiB before, {:.0} MiB holding {chats} chats ({:.1} KiB per chat)",
            before as f64 / 1024.0,
            held as f64 / 1024.0,
            (held.saturating_sub(before)) as f64 / chats as f64
        );
    }
}
