//! Whatever participants do, in any order: sequences run 1, 2, 3... with
//! unique ids, a reconnect from any point gets exactly the rest, a retried
//! message is never kept twice, and nothing is kept after the end.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use proptest::prelude::*;
use switchboard_chat::*;

#[derive(Debug, Clone)]
enum Op {
    Join(usize),
    Leave(usize),
    Send(usize, Option<u8>, usize),
    Receipt(usize, u64, bool),
    End,
    Tick(u64),
}

const WHO: [(&str, Role); 3] = [
    ("cust", Role::Customer),
    ("ag1", Role::Agent),
    ("bot", Role::System),
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Join),
        (0..3usize).prop_map(Op::Leave),
        (0..3usize, proptest::option::of(0..4u8), 0..6000usize)
            .prop_map(|(w, t, n)| Op::Send(w, t, n)),
        (0..3usize, 0..40u64, any::<bool>()).prop_map(|(w, m, r)| Op::Receipt(w, m, r)),
        Just(Op::End),
        (0..700_000u64).prop_map(Op::Tick),
    ]
}

proptest! {
    #[test]
    fn the_log_is_gapless_resumable_and_closed_at_the_end(ops in proptest::collection::vec(op(), 1..80)) {
        let limits = Limits { idle_warning_ms: 100_000, idle_disconnect_ms: 200_000, ..Limits::default() };
        let mut c = ChatRoom::new("c", limits, 0, 3_000_000);
        let mut now = 0u64;
        let mut kept_tokens: std::collections::HashMap<(usize, u8), u64> = Default::default();
        for op in ops {
            now += 50;
            let before = c.last_seq();
            let was_ended = c.is_ended();
            match op {
                Op::Join(w) => { let _ = c.join(WHO[w].0, WHO[w].0, WHO[w].1, now); }
                Op::Leave(w) => { let _ = c.leave(WHO[w].0, now); }
                Op::Send(w, token, n) => {
                    let body = "a".repeat(n.max(1));
                    let token_text = token.map(|t| format!("t{t}"));
                    if let Ok(item) = c.send(WHO[w].0, "text/plain", &body, token_text.as_deref(), now) {
                        let seq = item.seq;
                        if let Some(t) = token {
                            let first = *kept_tokens.entry((w, t)).or_insert(seq);
                            prop_assert_eq!(first, seq, "a retried message was kept twice");
                        }
                    }
                }
                Op::Receipt(w, m, read) => {
                    let kind = if read { ReceiptKind::Read } else { ReceiptKind::Delivered };
                    let _ = c.receipt(WHO[w].0, m, kind, now);
                }
                Op::End => { let _ = c.end("AGENT_DISCONNECT", now); }
                Op::Tick(dt) => { now += dt; let _ = c.tick(now); }
            }
            if was_ended {
                prop_assert_eq!(c.last_seq(), before, "kept something after the end");
            }
        }
        let items = c.items();
        for (i, item) in items.iter().enumerate() {
            prop_assert_eq!(item.seq, i as u64 + 1);
            prop_assert_eq!(&item.id, &format!("c-{}", i + 1));
        }
        for from in 0..=c.last_seq() {
            let rest: Vec<u64> = c.since(from).iter().map(|i| i.seq).collect();
            let want: Vec<u64> = (from + 1..=c.last_seq()).collect();
            prop_assert_eq!(rest, want);
        }
        let ends = items.iter().filter(|i| matches!(i.kind, ItemKind::Ended { .. })).count();
        prop_assert!(ends <= 1);
        if ends == 1 {
            let last_is_end = matches!(items.last().unwrap().kind, ItemKind::Ended { .. });
            prop_assert!(last_is_end, "the end is the last thing kept");
        }
    }
}
