//! What each leg's codec edge costs per 20 ms frame, both ways: `cargo
//! bench -p switchboard-media --bench codecs`. A call relays one frame
//! each way every 20 ms per leg, so the figure times 50 is one leg's share
//! of a core per second. Prints microseconds per frame (both directions)
//! and the calls one core would carry on that edge alone.
//!
//! - G.711 law to law: the relay between two G.711 legs (decode, encode).
//! - G.722 transcoded: a G.722 phone bridged to a G.711 caller.
//! - G.722 passed through: two G.722 legs (decode for the recording only).
//! - Opus at 16 kHz: a browser bridged to a G.711 caller (narrow audio up
//!   and down through the resamplers) and to a wideband one.
//!
//! Environment: `FRAMES` (default 20000).

#![allow(clippy::unwrap_used, clippy::print_stdout, unreachable_pub)]
// The crate is a pure core that never reads the clock; a benchmark of it
// must, to time it.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use switchboard_media::g711::Law;
use switchboard_media::g722::G722Edge;
use switchboard_media::opus::OpusEdge;
use switchboard_media::FRAME_SAMPLES;

fn speech_like(n: usize) -> Vec<i16> {
    // A 300 Hz tone under a 2.5 kHz one, changing level: not silence,
    // which some codecs code for nearly nothing.
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let level = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            (level
                * (6000.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()
                    + 2000.0 * (2.0 * std::f64::consts::PI * 2500.0 * t).sin())) as i16
        })
        .collect()
}

fn report(name: &str, frames: usize, started: Instant) {
    let per_frame_us = started.elapsed().as_secs_f64() * 1e6 / frames as f64;
    // Both directions of one leg take this per 20 ms.
    let share = per_frame_us * 50.0 / 1e6;
    println!(
        "{name:<34} {per_frame_us:>8.2} us per frame both ways, {:>6.2}% of a core per leg, {:>7.0} legs per core",
        share * 100.0,
        1.0 / share
    );
}

fn main() {
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let law = Law::MuLaw;
    let audio = speech_like(FRAME_SAMPLES * 500);
    let narrow: Vec<Vec<u8>> = audio
        .chunks(FRAME_SAMPLES)
        .map(|f| law.encode_all(f))
        .collect();

    let started = Instant::now();
    let mut sink = 0usize;
    for i in 0..frames {
        let frame = &narrow[i % narrow.len()];
        let other = Law::ALaw.encode_all(&law.decode_all(frame));
        sink += law.encode_all(&Law::ALaw.decode_all(&other)).len();
    }
    report("G.711 law to law", frames, started);

    let mut phone = G722Edge::default();
    let mut far = G722Edge::default();
    let wire: Vec<Vec<u8>> = narrow.iter().map(|f| far.from_law(f, law)).collect();
    let started = Instant::now();
    for i in 0..frames {
        sink += phone.to_law(&wire[i % wire.len()], law).len();
        sink += phone.from_law(&narrow[i % narrow.len()], law).len();
    }
    report("G.722 to and from G.711", frames, started);

    let mut recording = G722Edge::default();
    let started = Instant::now();
    for i in 0..frames {
        // Passed on untouched; decoded once for the recording (16 kHz).
        sink += recording.decode(&wire[i % wire.len()], law).1.len();
    }
    report("G.722 passed through (recorded)", frames, started);

    let mut browser = OpusEdge::new().unwrap();
    let mut sender = OpusEdge::new().unwrap();
    let packets: Vec<Vec<u8>> = narrow
        .iter()
        .flat_map(|f| sender.from_law(f, law))
        .map(|(p, _)| p)
        .collect();
    let started = Instant::now();
    for i in 0..frames {
        sink += browser.to_law(&packets[i % packets.len()], law).len();
        sink += browser.from_law(&narrow[i % narrow.len()], law).len();
    }
    report("Opus 16 kHz to and from G.711", frames, started);

    let wide: Vec<Vec<i16>> = (0..packets.len())
        .map(|i| recording.decode(&wire[i % wire.len()], law).1)
        .collect();
    let started = Instant::now();
    for i in 0..frames {
        sink += browser
            .decode(&packets[i % packets.len()], law)
            .unwrap()
            .1
            .len();
        sink += browser.from_wideband(&wide[i % wide.len()]).len();
    }
    report("Opus 16 kHz to and from wideband", frames, started);
    // libopus alone, for where the time goes: 8 and 16 kHz, by complexity.
    for (rate, complexity) in [(8_000u32, 10), (16_000, 10), (16_000, 5)] {
        use opus::{Application, Bitrate, Channels, Decoder, Encoder};
        let mut encoder = Encoder::new(rate, Channels::Mono, Application::Voip).unwrap();
        encoder.set_bitrate(Bitrate::Bits(24_000)).unwrap();
        encoder.set_complexity(complexity).unwrap();
        let mut decoder = Decoder::new(rate, Channels::Mono).unwrap();
        let n = rate as usize / 50;
        let pcm: Vec<i16> = (0..n).map(|i| audio[i % audio.len()]).collect();
        let (mut packet, mut out) = (vec![0u8; 1275], vec![0i16; n * 6]);
        let started = Instant::now();
        for _ in 0..frames {
            let len = encoder.encode(&pcm, &mut packet).unwrap();
            sink += decoder.decode(&packet[..len], &mut out, false).unwrap();
        }
        report(
            &format!("libopus {} kHz, complexity {complexity}", rate / 1000),
            frames,
            started,
        );
    }
    assert!(sink > 0);
}
