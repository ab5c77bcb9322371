//! What the call's structure promises, checked on its source: only the
//! driver (`mod.rs`, `io.rs`) waits or reads the clock.

/// The call's parts, as source (the driver is `mod.rs` and `io.rs`).
const PARTS: [(&str, &str); 11] = [
    ("agent.rs", include_str!("agent.rs")),
    ("drive.rs", include_str!("drive.rs")),
    ("end.rs", include_str!("end.rs")),
    ("flow.rs", include_str!("flow.rs")),
    ("input.rs", include_str!("input.rs")),
    ("media.rs", include_str!("media.rs")),
    ("offer.rs", include_str!("offer.rs")),
    ("phone.rs", include_str!("phone.rs")),
    ("start.rs", include_str!("start.rs")),
    ("tick.rs", include_str!("tick.rs")),
    ("transfer.rs", include_str!("transfer.rs")),
];

/// A part with no `async fn` cannot wait: an `.await` outside one does
/// not compile, and an async block can only be handed to a task of its
/// own. The ringing task (`phone::ring`, and `phone::invite`, which it and
/// the CCP's own calls out use) is such a task, not the call.
#[test]
fn only_the_driver_waits_or_reads_the_clock() {
    for (name, source) in PARTS {
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let ringing_task = name == "phone.rs"
                && (code.contains("async fn ring(") || code.contains("async fn invite("));
            let waits = code.contains("async fn") && !ringing_task;
            let clock = ["Utc::now(", "Instant::now(", "SystemTime::now("]
                .iter()
                .any(|c| code.contains(c));
            assert!(
                !waits && !clock,
                "call/{name}:{}: only the driver waits or reads the clock: {line}",
                n + 1
            );
        }
    }
}
