//! The chat core's rules, one scenario each; times are Unix milliseconds.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use switchboard_chat::*;

const HOUR: u64 = 3_600_000;

fn chat() -> ChatRoom {
    let mut c = ChatRoom::new("c1", Limits::default(), 0, 25 * HOUR);
    c.join("cust", "Dana", Role::Customer, 0).unwrap();
    c
}

fn text(item: &Item) -> &str {
    match &item.kind {
        ItemKind::Message { content, .. } => content,
        _ => "",
    }
}

#[test]
fn every_kept_item_is_numbered_and_a_reconnect_gets_exactly_what_it_missed() {
    let mut c = chat();
    c.join("ag", "Sam", Role::Agent, 10).unwrap();
    c.send("cust", "text/plain", "hello", None, 20).unwrap();
    let seen = c.last_seq();
    c.send("ag", "text/plain", "hi Dana", None, 30).unwrap();
    c.receipt("cust", 4, ReceiptKind::Read, 40).unwrap();
    let missed: Vec<u64> = c.since(seen).iter().map(|i| i.seq).collect();
    assert_eq!(missed, [4, 5]);
    assert_eq!(text(&c.since(seen)[0]), "hi Dana");
    assert_eq!(c.since(seen)[0].id, "c1-4");
    assert!(
        c.since(99).is_empty(),
        "a sequence from the future gives nothing"
    );
    let all: Vec<u64> = c.since(0).iter().map(|i| i.seq).collect();
    assert_eq!(all, [1, 2, 3, 4, 5]);
}

#[test]
fn a_retried_message_is_kept_once() {
    let mut c = chat();
    let first = c
        .send("cust", "text/plain", "hello", Some("t-1"), 10)
        .unwrap()
        .seq;
    let again = c
        .send("cust", "text/plain", "hello", Some("t-1"), 20)
        .unwrap()
        .seq;
    assert_eq!(first, again);
    assert_eq!(c.last_seq(), 2);
    // The same token from someone else is theirs.
    c.join("ag", "Sam", Role::Agent, 30).unwrap();
    assert_ne!(
        c.send("ag", "text/plain", "hi", Some("t-1"), 40)
            .unwrap()
            .seq,
        first
    );
}

#[test]
fn bad_messages_are_refused_with_the_reason() {
    let mut c = chat();
    assert_eq!(
        c.send("cust", "text/plain", "  ", None, 1),
        Err(ChatError::EmptyMessage)
    );
    let long = "x".repeat(5000);
    assert_eq!(
        c.send("cust", "text/plain", &long, None, 1),
        Err(ChatError::TooLong {
            max: 4096,
            len: 5000
        })
    );
    assert!(matches!(
        c.send("cust", "text/html", "<b>hi</b>", None, 1),
        Err(ChatError::UnsupportedContentType(_))
    ));
    assert_eq!(
        c.send("ghost", "text/plain", "boo", None, 1),
        Err(ChatError::UnknownParticipant("ghost".into()))
    );
    // Markup is kept as text: pages show it, never run it.
    let kept = c
        .send("cust", "text/plain", "<script>alert(1)</script>", None, 2)
        .unwrap();
    assert_eq!(text(kept), "<script>alert(1)</script>");
    assert_eq!(
        c.receipt("cust", 1, ReceiptKind::Read, 3),
        Err(ChatError::UnknownMessage(1))
    );
}

#[test]
fn a_participant_sending_too_fast_is_slowed_down() {
    let mut c = chat();
    for i in 0..10 {
        c.send("cust", "text/plain", "spam", None, 100 + i).unwrap();
    }
    match c.send("cust", "text/plain", "spam", None, 110) {
        Err(ChatError::RateLimited { retry_after_ms }) => assert!(retry_after_ms <= 500),
        other => panic!("{other:?}"),
    }
    assert!(c.send("cust", "text/plain", "later", None, 700).is_ok());
}

#[test]
fn receipts_are_kept_once_and_read_covers_delivered() {
    let mut c = chat();
    c.join("ag", "Sam", Role::Agent, 1).unwrap();
    let m = c.send("ag", "text/plain", "hi", None, 2).unwrap().seq;
    assert!(c
        .receipt("cust", m, ReceiptKind::Delivered, 3)
        .unwrap()
        .is_some());
    assert!(c
        .receipt("cust", m, ReceiptKind::Delivered, 4)
        .unwrap()
        .is_none());
    assert!(c
        .receipt("cust", m, ReceiptKind::Read, 5)
        .unwrap()
        .is_some());
    assert!(c
        .receipt("cust", m, ReceiptKind::Delivered, 6)
        .unwrap()
        .is_none());
    assert!(c
        .receipt("cust", m, ReceiptKind::Read, 7)
        .unwrap()
        .is_none());
}

#[test]
fn the_customer_leaving_ends_the_chat_and_nothing_more_is_kept() {
    let mut c = chat();
    c.join("ag", "Sam", Role::Agent, 1).unwrap();
    let kept = c.leave("cust", 2).unwrap();
    assert_eq!(kept.len(), 2);
    assert!(c.is_ended());
    assert!(
        matches!(&c.items()[3].kind, ItemKind::Ended { reason } if reason == "CUSTOMER_DISCONNECT")
    );
    assert_eq!(
        c.send("ag", "text/plain", "hello?", None, 3),
        Err(ChatError::Ended)
    );
    assert_eq!(c.typing("ag"), Err(ChatError::Ended));
    assert_eq!(c.next_wake(), None);
}

#[test]
fn an_agent_leaving_keeps_the_chat_and_they_can_come_back() {
    let mut c = chat();
    c.join("ag", "Sam", Role::Agent, 1).unwrap();
    c.leave("ag", 2).unwrap();
    assert!(!c.is_ended());
    assert_eq!(
        c.send("ag", "text/plain", "x", None, 3),
        Err(ChatError::NotInChat("ag".into()))
    );
    assert!(c.join("ag", "Sam", Role::Agent, 4).unwrap().is_some());
    assert!(
        c.join("ag", "Sam", Role::Agent, 5).unwrap().is_none(),
        "already there"
    );
}

#[test]
fn an_idle_customer_is_warned_then_disconnected_but_only_when_they_owe_a_reply() {
    let limits = Limits {
        idle_warning_ms: 1000,
        idle_disconnect_ms: 3000,
        ..Limits::default()
    };
    let mut c = ChatRoom::new("c1", limits, 0, 25 * HOUR);
    c.join("cust", "Dana", Role::Customer, 0).unwrap();
    // Waiting in the queue is not idling: the flow's messages ask nothing.
    c.join("flow", "Switchboard", Role::System, 0).unwrap();
    c.send(
        "flow",
        "text/plain",
        "An agent will be with you shortly.",
        None,
        0,
    )
    .unwrap();
    assert_eq!(c.tick(60_000), None);
    c.join("ag", "Sam", Role::Agent, 60_000).unwrap();
    c.send("ag", "text/plain", "How can I help?", None, 60_000)
        .unwrap();
    assert_eq!(c.next_wake(), Some(61_000));
    assert_eq!(c.tick(60_999), None);
    assert_eq!(c.tick(61_000), Some(Timeout::IdleWarning));
    // The customer answers: the clock stops.
    c.send("cust", "text/plain", "sorry, here", None, 62_000)
        .unwrap();
    assert_eq!(c.tick(70_000), None);
    c.send("ag", "text/plain", "Anything else?", None, 70_000)
        .unwrap();
    assert_eq!(c.tick(71_000), Some(Timeout::IdleWarning));
    // An agent leaving (a transfer) stops the clock.
    c.leave("ag", 71_500).unwrap();
    assert_eq!(c.tick(80_000), None);
    c.join("ag", "Sam", Role::Agent, 80_000).unwrap();
    c.send("ag", "text/plain", "Still there?", None, 80_000)
        .unwrap();
    assert_eq!(c.tick(81_000), Some(Timeout::IdleWarning));
    assert_eq!(c.tick(83_000), Some(Timeout::IdleDisconnect));
    assert!(c.is_ended());
    let last = c.items().last().unwrap();
    assert!(matches!(&last.kind, ItemKind::Ended { reason } if reason == "CUSTOMER_IDLE"));
}

#[test]
fn limits_that_never_run_out_do_not_overflow() {
    let limits = Limits {
        idle_warning_ms: u64::MAX,
        idle_disconnect_ms: u64::MAX,
        ..Limits::default()
    };
    let mut c = ChatRoom::new("c1", limits, 5, u64::MAX);
    c.join("cust", "Dana", Role::Customer, 5).unwrap();
    c.join("ag", "Sam", Role::Agent, 5).unwrap();
    c.send("ag", "text/plain", "hi", None, 10).unwrap();
    assert_eq!(c.next_wake(), Some(u64::MAX));
    assert_eq!(c.tick(u64::MAX - 1), None);
}

#[test]
fn a_chat_ends_at_its_longest_duration() {
    let mut c = ChatRoom::new("c1", Limits::default(), 1000, HOUR);
    c.join("cust", "Dana", Role::Customer, 1000).unwrap();
    assert_eq!(c.next_wake(), Some(1000 + HOUR));
    assert_eq!(c.tick(1000 + HOUR), Some(Timeout::Expired));
    assert!(c.is_ended());
}

#[test]
fn the_transcript_has_connects_shape() {
    let mut c = chat();
    c.join("ag", "Sam", Role::Agent, 1_700_000_000_000).unwrap();
    c.send("cust", "text/plain", "hello", None, 1_700_000_000_500)
        .unwrap();
    c.receipt("ag", 3, ReceiptKind::Read, 1_700_000_001_000)
        .unwrap();
    c.end("AGENT_DISCONNECT", 1_700_000_002_000).unwrap();
    let json = serde_json::to_value(c.transcript()).unwrap();
    assert_eq!(json["Version"], "2019-08-26");
    assert_eq!(json["ContactId"], "c1");
    let t = json["Transcript"].as_array().unwrap();
    assert_eq!(t.len(), 5);
    assert_eq!(t[2]["Type"], "MESSAGE");
    assert_eq!(t[2]["Content"], "hello");
    assert_eq!(t[2]["ParticipantRole"], "CUSTOMER");
    assert_eq!(t[2]["DisplayName"], "Dana");
    assert_eq!(t[2]["AbsoluteTime"], "2023-11-14T22:13:20.500Z");
    assert_eq!(
        t[1]["ContentType"],
        "application/vnd.amazonaws.connect.event.participant.joined"
    );
    assert_eq!(
        t[3]["ContentType"],
        "application/vnd.amazonaws.connect.event.message.read"
    );
    assert_eq!(t[3]["Content"], "c1-3");
    assert_eq!(t[4]["Content"], "AGENT_DISCONNECT");
}
