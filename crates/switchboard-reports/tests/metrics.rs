//! Metric definitions against hand-computed scenarios. The contact records
//! and the agents' states come from the routing simulator, which plays a
//! scripted morning through the real router (switchboard-routing).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_model::contact_record::{Endpoint, TranscriptInfo};
use switchboard_model::objects::phone_number::PhoneNumberType;
use switchboard_model::ContactRecord;
use switchboard_reports::historical::{self, GroupBy, Interval, Query};
use switchboard_reports::simulate::{
    self, Scenario, SimAgent, SimContact, SimProfile, SimQueue, SimStatus,
};
use switchboard_reports::usage::{self, Held, OwnedNumber, RateCard};
use switchboard_routing::Channel;

const NUMBER: &str = "+442079460123";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn numbers() -> HashMap<String, OwnedNumber> {
    HashMap::from([(
        NUMBER.to_string(),
        OwnedNumber {
            number: NUMBER.into(),
            country: "GB".into(),
            number_type: PhoneNumberType::Did,
            held: vec![Held {
                claimed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                released_at: None,
            }],
        },
    )])
}

fn inbound_call(id: &str, start: i64, end: i64) -> ContactRecord {
    ContactRecord {
        id: id.into(),
        channel: switchboard_model::contact_record::Channel::Voice,
        initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
        initiation_timestamp: at(start),
        connected_to_system_timestamp: Some(at(start)),
        disconnect_timestamp: Some(at(end)),
        customer_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: "+447700900123".into(),
        },
        system_endpoint: Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: NUMBER.into(),
        },
        state: switchboard_model::contact_record::ContactState::Ended,
        ..Default::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_ten_minute_inbound_call_costs_as_connect_bills_it() {
    let call = inbound_call("c1", 0, 600);
    let card = RateCard::default();
    let u = usage::usage_of(&call, &numbers(), Utc::now());
    assert!(close(u.service_minutes, 10.0));
    let cost = usage::cost_of(&u, &card);
    // 10 min x ($0.0018 service + $0.004 inbound DID) = $0.058.
    assert!(close(cost.total, 0.058), "{cost:?}");
    assert!(cost.unrated.is_empty());
    // The day's bill adds the number's $0.03.
    let day_start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let bill = usage::bill(
        &[call],
        &numbers(),
        &card,
        day_start,
        day_start + Duration::days(1),
        Utc::now(),
    );
    assert_eq!(bill.days.len(), 1);
    assert_eq!(bill.days[0].number_days, 1);
    assert!(close(bill.total.numbers, 0.03), "{bill:?}");
    assert!(close(bill.total.total, 0.088), "{bill:?}");
    assert!(close(bill.numbers[NUMBER].total, 0.04 + 0.03));
}

#[test]
fn a_busy_day_of_5900_seven_minute_calls_costs_about_240_dollars() {
    let calls: Vec<ContactRecord> = (0..5900)
        .map(|i| {
            let start = i * 5; // 9:00 to 17:12
            inbound_call(&format!("c{i}"), start, start + 7 * 60)
        })
        .collect();
    let day_start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let bill = usage::bill(
        &calls,
        &numbers(),
        &RateCard::default(),
        day_start,
        day_start + Duration::days(1),
        Utc::now(),
    );
    // 5,900 x 7 min x $0.0058 = $239.54, plus $0.03 for the number.
    assert!(
        (bill.total.total - 239.57).abs() < 1e-6,
        "{}",
        bill.total.total
    );
    assert_eq!(bill.days[0].contacts, 5900);
    assert!((bill.total.total - 240.0).abs() < 1.0);
}

#[test]
fn usage_without_a_rate_is_reported_not_free_and_chats_count_messages() {
    let mut out = inbound_call("o1", 0, 120);
    out.initiation_method = switchboard_model::contact_record::InitiationMethod::Outbound;
    out.customer_endpoint.address = "+14155550123".into();
    let card = RateCard::default();
    let cost = usage::cost_of(&usage::usage_of(&out, &numbers(), Utc::now()), &card);
    assert!(close(cost.service, 2.0 * 0.0018));
    assert_eq!(cost.unrated, ["outbound minutes on DID numbers in US"]);
    let chat = ContactRecord {
        id: "chat".into(),
        channel: switchboard_model::contact_record::Channel::Chat,
        initiation_timestamp: at(0),
        transcript: Some(TranscriptInfo {
            message_count: 12,
            ..Default::default()
        }),
        ..Default::default()
    };
    let cost = usage::cost_of(&usage::usage_of(&chat, &numbers(), Utc::now()), &card);
    assert!(close(cost.total, 12.0 * 0.004));
    // Number-days: each UTC day touched, the end exclusive.
    let claimed = Utc.with_ymd_and_hms(2026, 11, 2, 15, 0, 0).unwrap();
    let from = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    assert_eq!(
        usage::number_days(claimed, None, from, from + Duration::days(3)),
        2
    );
    assert_eq!(
        usage::number_days(claimed, None, from, from + Duration::days(1)),
        0
    );
    // Released the next morning: the day of the release is billed, not after.
    let released = Some(claimed + Duration::hours(18));
    assert_eq!(
        usage::number_days(claimed, released, from, from + Duration::days(5)),
        2
    );
    assert_eq!(
        usage::number_days(
            claimed,
            released,
            from + Duration::days(4),
            from + Duration::days(5)
        ),
        0
    );
    let bad = RateCard {
        voice_service_per_minute: -1.0,
        ..RateCard::default()
    };
    assert_eq!(bad.validate()[0].0, "voice_service_per_minute");
}

#[test]
fn a_third_party_leg_ends_when_they_hang_up_and_outcomes_say_how_contacts_left() {
    use switchboard_model::contact_record::{AgentInfo, QueueInfo};
    use switchboard_reports::historical::Outcome;
    // The flow sends the caller to a number at 60 s; it hangs up at 120 s
    // and the flow goes on (queues the caller, who gives up at 300 s).
    let mut call = inbound_call("t", 0, 300);
    call.transferred_to_endpoint = Some(Endpoint {
        kind: "TELEPHONE_NUMBER".into(),
        address: "+442079460999".into(),
    });
    call.transfer_completed_timestamp = Some(at(60));
    call.third_party_disconnect_timestamp = Some(at(120));
    let u = usage::usage_of(&call, &numbers(), Utc::now());
    let legs: Vec<_> = u.legs.iter().map(|l| (l.direction, l.minutes)).collect();
    assert_eq!(
        legs,
        [
            (usage::Direction::Inbound, 5.0),
            (usage::Direction::Outbound, 1.0)
        ]
    );
    assert_eq!(Outcome::of(&call), Outcome::EndedInFlow);
    call.queue = Some(QueueInfo {
        id: "q".into(),
        name: "Q".into(),
        enqueue_timestamp: at(130),
        ..Default::default()
    });
    // The transfer came before it queued: the caller abandoned the queue.
    assert_eq!(Outcome::of(&call), Outcome::Abandoned);
    call.transfer_completed_timestamp = Some(at(200));
    assert_eq!(Outcome::of(&call), Outcome::TransferredOut);
    // An agent's outbound call nobody answered is not handled.
    let mut dialled = inbound_call("o", 0, 30);
    dialled.initiation_method = switchboard_model::contact_record::InitiationMethod::Outbound;
    dialled.connected_to_system_timestamp = None;
    dialled.agent = Some(AgentInfo::default());
    assert_eq!(Outcome::of(&dialled), Outcome::NotConnected);
    dialled.connected_to_system_timestamp = Some(at(0));
    assert_eq!(Outcome::of(&dialled), Outcome::Handled);
    dialled.state = switchboard_model::contact_record::ContactState::Connected;
    dialled.agent = None;
    assert_eq!(Outcome::of(&dialled), Outcome::Live);
}

#[test]
fn a_released_number_is_billed_for_the_days_it_was_held_once_each() {
    let mut n = numbers();
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    n.get_mut(NUMBER).unwrap().held = vec![
        Held {
            claimed_at: day(1, 12),
            released_at: Some(day(2, 10)),
        },
        // Claimed again the same afternoon, released on the 3rd.
        Held {
            claimed_at: day(2, 15),
            released_at: Some(day(3, 9)),
        },
    ];
    let bill = usage::bill(
        &[],
        &n,
        &RateCard::default(),
        day(1, 0),
        day(6, 0),
        Utc::now(),
    );
    let dates: Vec<u32> = bill
        .days
        .iter()
        .filter(|d| d.number_days > 0)
        .map(|d| chrono::Datelike::day(&d.date))
        .collect();
    assert_eq!(dates, [1, 2, 3]);
    assert!(bill.days.iter().all(|d| d.number_days <= 1));
    assert!(close(bill.total.total, 3.0 * 0.03));
}

/// A morning played through the router by the simulator: one queue (Sales),
/// one routing profile, two agents and six contacts. Times are seconds
/// after 9:00.
///
/// - alice: Available at 0, answers after 10 s, 30 s of after-contact
///   work; Lunch at 1200, Offline at 1800.
/// - bob: Available at 300 but never answers (misses an offer at 320 and
///   stays Missed), Offline at 480.
/// - A (voice) 60: alice, 240 s talk + 30 s hold; ACW 340-370.
/// - B (voice) 100: waits; offered to bob 300-320 (missed); alice takes it
///   at 370, answers 380, 120 s talk; ACW 500-530.
/// - C (voice) 400: nobody free; hangs up after 90 s (490).
/// - D (voice) 600: alice 610, 300 s talk; ACW 910-940.
/// - E (voice) 620: alice busy; the queue flow transfers it to an external
///   number at 635, who talks 120 s.
/// - F (chat) 1000: alice 1010, 60 s; ACW 1070-1100.
fn morning() -> simulate::Outcome {
    let contact = |id: &str, channel, arrives| SimContact {
        id: id.into(),
        channel,
        queue: 0,
        arrives,
        gives_up_after: None,
        transferred_out_after: None,
        talk_seconds: 0,
        hold_seconds: 0,
    };
    let scenario = Scenario {
        start: t0(),
        queues: vec![SimQueue {
            id: "q-sales".into(),
            name: "Sales".into(),
        }],
        profiles: vec![SimProfile {
            id: "rp-sales".into(),
            name: "Sales agents".into(),
            queues: vec![0],
            chat_slots: 2,
        }],
        agents: vec![
            SimAgent {
                id: "a1".into(),
                username: "alice".into(),
                profile: 0,
                answer_after: Some(10),
                after_contact_work_seconds: 30,
                statuses: vec![
                    (0, SimStatus::Available),
                    (1200, SimStatus::Custom("Lunch".into())),
                    (1800, SimStatus::Offline),
                ],
            },
            SimAgent {
                id: "a2".into(),
                username: "bob".into(),
                profile: 0,
                answer_after: None,
                after_contact_work_seconds: 0,
                statuses: vec![(300, SimStatus::Available), (480, SimStatus::Offline)],
            },
        ],
        contacts: vec![
            SimContact {
                talk_seconds: 240,
                hold_seconds: 30,
                ..contact("A", Channel::Voice, 60)
            },
            SimContact {
                talk_seconds: 120,
                ..contact("B", Channel::Voice, 100)
            },
            SimContact {
                gives_up_after: Some(90),
                ..contact("C", Channel::Voice, 400)
            },
            SimContact {
                talk_seconds: 300,
                ..contact("D", Channel::Voice, 600)
            },
            SimContact {
                transferred_out_after: Some(15),
                talk_seconds: 120,
                ..contact("E", Channel::Voice, 620)
            },
            SimContact {
                talk_seconds: 60,
                ..contact("F", Channel::Chat, 1000)
            },
        ],
        offer_timeout_seconds: 20,
        system_number: NUMBER.into(),
    };
    simulate::run(&scenario).unwrap()
}

fn hour(group_by: GroupBy, interval: Interval) -> Query {
    Query {
        from: t0(),
        to: t0() + Duration::hours(1),
        now: t0() + Duration::days(1),
        interval,
        group_by,
        service_levels: vec![20, 60, 300],
    }
}

#[test]
fn the_simulated_records_say_what_happened_to_each_contact() {
    let m = morning();
    let by_id: HashMap<&str, &ContactRecord> =
        m.records.iter().map(|r| (r.id.as_str(), r)).collect();
    let b = by_id["B"];
    let agent = b.agent.as_ref().unwrap();
    assert_eq!(agent.username, "alice");
    assert_eq!(agent.connected_to_agent_timestamp, at(380));
    assert_eq!(agent.number_of_offers, 2, "bob missed it first");
    assert_eq!(b.queue.as_ref().unwrap().duration_seconds, Some(280.0));
    assert_eq!(agent.routing_profile.as_ref().unwrap().name, "Sales agents");
    let c = by_id["C"];
    assert!(c.agent.is_none());
    assert_eq!(c.disconnect_timestamp, Some(at(490)));
    let e = by_id["E"];
    assert_eq!(e.transfer_completed_timestamp, Some(at(635)));
    assert_eq!(e.disconnect_timestamp, Some(at(755)));
    assert!(m
        .records
        .iter()
        .all(|r| r.state == switchboard_model::contact_record::ContactState::Ended));
}

#[test]
fn historical_metrics_match_a_hand_computed_morning() {
    let m = morning();
    let rows = historical::compute(
        &hour(GroupBy::Queue, Interval::Total),
        &m.records,
        &m.timelines,
    );
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.group.as_str(), r.group_name.as_str()),
        ("q-sales", "Sales")
    );
    assert_eq!(
        (
            r.contacts_queued,
            r.contacts_handled,
            r.contacts_abandoned,
            r.contacts_transferred_out
        ),
        (6, 4, 1, 1)
    );
    // Handle time: A 240+30+30, B 120+30, D 300+30, F 60+30.
    assert_eq!(
        r.average_handle_time,
        Some((300.0 + 150.0 + 330.0 + 90.0) / 4.0)
    );
    assert_eq!(
        r.average_talk_time,
        Some((240.0 + 120.0 + 300.0 + 60.0) / 4.0)
    );
    assert_eq!(r.average_hold_time, Some(30.0 / 4.0));
    assert_eq!(r.average_after_contact_work_time, Some(30.0));
    // Speed of answer: A 10, B 280, D 10, F 10.
    assert_eq!(r.average_speed_of_answer, Some(310.0 / 4.0));
    // C waited 90 s and hung up; E's 15 s before the transfer is not abandon time.
    assert_eq!(r.average_abandon_time, Some(90.0));
    // Of the 6 that left the queue: 3 answered within 20 s and 60 s, 4 within 300 s.
    assert!(close(r.service_level[&20], 50.0), "{:?}", r.service_level);
    assert!(close(r.service_level[&60], 50.0));
    assert!(close(r.service_level[&300], 400.0 / 6.0));
    assert_eq!(r.occupancy, None, "queues have no agent time");

    // By agent: time in each state from the router's own state changes.
    let rows = historical::compute(
        &hour(GroupBy::Agent, Interval::Total),
        &m.records,
        &m.timelines,
    );
    let alice = rows.iter().find(|r| r.group_name == "alice").unwrap();
    assert_eq!(alice.contacts_handled, 4);
    let s = &alice.time_in_state;
    // Available 0-60, 530-600, 940-1000, 1100-1200.
    assert_eq!(s["Available"], 60.0 + 70.0 + 60.0 + 100.0, "{s:?}");
    // Each offer rings 10 s before alice answers.
    assert_eq!(s["Incoming"], 40.0, "{s:?}");
    // 70-340, 380-500, 610-910, 1010-1070.
    assert_eq!(s["OnContact"], 270.0 + 120.0 + 300.0 + 60.0, "{s:?}");
    assert_eq!(s["AfterContactWork"], 120.0, "{s:?}");
    assert_eq!(s["Lunch"], 600.0, "{s:?}");
    assert_eq!(s["Offline"], 1800.0, "{s:?}");
    assert_eq!(alice.non_productive_time, Some(600.0));
    // Occupancy: on contacts 910 s of 910 + 290 available.
    assert!(close(alice.occupancy.unwrap(), 100.0 * 910.0 / 1200.0));
    let bob = rows.iter().find(|r| r.group_name == "bob").unwrap();
    assert_eq!(bob.contacts_handled, 0);
    // Rung 300-320, then Missed until he went offline at 480.
    assert_eq!(bob.time_in_state["Incoming"], 20.0);
    assert_eq!(bob.time_in_state["Missed"], 160.0);
    assert_eq!(bob.non_productive_time, Some(0.0));

    // By routing profile: the contacts under the profile alice had, and
    // both agents' time.
    let rows = historical::compute(
        &hour(GroupBy::RoutingProfile, Interval::Total),
        &m.records,
        &m.timelines,
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].group.as_str(), rows[0].group_name.as_str()),
        ("rp-sales", "Sales agents")
    );
    assert_eq!(rows[0].contacts_handled, 4);
    assert_eq!(rows[0].time_in_state["Incoming"], 60.0);

    // By channel.
    let rows = historical::compute(
        &hour(GroupBy::Channel, Interval::Total),
        &m.records,
        &m.timelines,
    );
    let chat = rows.iter().find(|r| r.group == "CHAT").unwrap();
    let voice = rows.iter().find(|r| r.group == "VOICE").unwrap();
    assert_eq!((chat.contacts_queued, chat.contacts_handled), (1, 1));
    assert_eq!(chat.average_handle_time, Some(90.0));
    assert_eq!((voice.contacts_queued, voice.contacts_handled), (5, 3));

    // In 15-minute intervals the agent's time is cut at the edges: D's call
    // (610-910) puts 290 s in 9:00-9:15 and 10 s in 9:15-9:30.
    let rows = historical::compute(
        &hour(GroupBy::Agent, Interval::FifteenMinutes),
        &m.records,
        &m.timelines,
    );
    let alice: Vec<_> = rows.iter().filter(|r| r.group_name == "alice").collect();
    assert_eq!(alice.len(), 4);
    assert_eq!(
        alice[0].contacts_handled, 3,
        "A, B and D queued before 9:15"
    );
    assert_eq!(alice[1].contacts_handled, 1, "F queued at 9:16:40");
    assert_eq!(alice[0].time_in_state["OnContact"], 270.0 + 120.0 + 290.0);
    assert_eq!(alice[1].time_in_state["OnContact"], 10.0 + 60.0);
    assert_eq!(alice[3].time_in_state["Offline"], 900.0);
    let csv = historical::to_csv(&rows);
    assert!(csv.starts_with("interval_start,group,group_name,"));
    assert_eq!(csv.lines().count(), rows.len() + 1);
    assert_eq!(historical::field("=cmd()"), "'=cmd()");
    assert_eq!(historical::field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

#[test]
fn a_simulated_day_is_metered_per_leg() {
    let m = morning();
    let mut card = RateCard::default();
    card.numbers[0].outbound_per_minute = Some(0.01);
    let bill = usage::bill(
        &m.records,
        &numbers(),
        &card,
        t0() - Duration::hours(9),
        t0() + Duration::hours(15),
        Utc::now(),
    );
    // Voice from answer to end: A 280, B 400, C 90, D 310, E 135 s.
    let minutes: f64 = bill.days.iter().map(|d| d.voice_minutes).sum();
    assert!(close(minutes, 1215.0 / 60.0), "{bill:?}");
    // F: two greetings and one message per 30 s.
    assert_eq!(bill.days.iter().map(|d| d.chat_messages).sum::<u64>(), 4);
    let e = usage::usage_of(&m.records[4], &numbers(), Utc::now());
    let outbound: Vec<_> = e
        .legs
        .iter()
        .filter(|l| l.direction == usage::Direction::Outbound)
        .collect();
    assert_eq!(outbound.len(), 1, "{e:?}");
    assert!(close(outbound[0].minutes, 2.0));
    let cost = usage::cost_of(&e, &card);
    // 135 s of service and inbound, 120 s to the third party.
    assert!(close(cost.telephony, 2.25 * 0.004 + 2.0 * 0.01), "{cost:?}");
}

#[test]
fn real_time_counts_put_each_agent_in_one_bucket() {
    use switchboard_reports::realtime::{snapshot, AgentNow, ProfileServes, QueueNow};
    let agent = |name: &str, profile: &str, state: &str| AgentNow {
        agent: name.into(),
        name: name.into(),
        routing_profile: profile.into(),
        routing_profile_id: format!("rp-{profile}"),
        state: state.into(),
        since: Some(at(0)),
        seconds_in_state: None,
    };
    let board = vec![
        agent("a", "Sales", "Available"),
        agent("b", "Sales", "OnContact"),
        agent("c", "Sales", "Incoming"),
        agent("d", "Support", "AfterContactWork"),
        agent("e", "Support", "Lunch"),
        agent("f", "Support", "Missed"),
        agent("g", "Support", "Offline"),
        // A profile the shell no longer lists.
        agent("h", "Gone", "Available"),
    ];
    let queue = |name: &str, channel: &str, n, oldest| QueueNow {
        queue: format!("q-{name}"),
        name: name.into(),
        channel: channel.into(),
        in_queue: n,
        oldest_contact_age_seconds: oldest,
    };
    // Sales agents take Sales calls and chats and Support chats; Support
    // agents take Support calls.
    let serves = |name: &str, queues: &[(&str, &str)]| ProfileServes {
        id: format!("rp-{name}"),
        name: name.into(),
        queues: queues
            .iter()
            .map(|(q, c)| (format!("q-{q}"), c.to_string()))
            .collect(),
    };
    let profiles = [
        serves(
            "Sales",
            &[("Sales", "VOICE"), ("Sales", "CHAT"), ("Support", "CHAT")],
        ),
        serves("Support", &[("Support", "VOICE")]),
    ];
    let s = snapshot(
        at(90),
        board,
        vec![
            queue("Sales", "VOICE", 3, Some(75)),
            queue("Sales", "CHAT", 1, Some(20)),
            queue("Support", "VOICE", 2, Some(30)),
            queue("Support", "CHAT", 0, None),
        ],
        &profiles,
    );
    let c = &s.agents;
    assert_eq!(
        (
            c.online,
            c.staffed,
            c.available,
            c.on_contact,
            c.after_contact_work
        ),
        (7, 6, 2, 2, 1)
    );
    assert_eq!((c.non_productive, c.error, c.offline), (1, 1, 1));
    assert_eq!(
        (s.contacts_in_queue, s.oldest_contact_age_seconds),
        (6, Some(75))
    );
    let gone = &s.by_routing_profile[0];
    assert_eq!((gone.name.as_str(), gone.agents.available), ("Gone", 1));
    assert_eq!(s.board[0].seconds_in_state, Some(90));

    // Per routing profile: its agents, and what waits in what it takes.
    let sales = &s.by_routing_profile[1];
    let support = &s.by_routing_profile[2];
    assert_eq!(
        (sales.name.as_str(), support.name.as_str()),
        ("Sales", "Support")
    );
    assert_eq!((sales.agents.online, sales.agents.on_contact), (3, 2));
    assert_eq!(
        (sales.in_queue, sales.oldest_contact_age_seconds),
        (4, Some(75))
    );
    assert_eq!((support.agents.online, support.agents.staffed), (3, 2));
    assert_eq!(
        (support.in_queue, support.oldest_contact_age_seconds),
        (2, Some(30))
    );

    // Per queue: channels together, and the agents of every profile taking from it.
    let q_sales = s.by_queue.iter().find(|q| q.name == "Sales").unwrap();
    let q_support = s.by_queue.iter().find(|q| q.name == "Support").unwrap();
    assert_eq!(
        (q_sales.in_queue, q_sales.oldest_contact_age_seconds),
        (4, Some(75))
    );
    assert_eq!((q_sales.agents.online, q_sales.agents.available), (3, 1));
    assert_eq!(
        (q_support.in_queue, q_support.oldest_contact_age_seconds),
        (2, Some(30))
    );
    assert_eq!(
        (
            q_support.agents.online,
            q_support.agents.staffed,
            q_support.agents.offline
        ),
        (6, 5, 1)
    );
}

#[test]
fn the_simulator_misses_an_offer_answered_as_it_times_out_and_refuses_bad_times() {
    let mut scenario = Scenario {
        start: t0(),
        queues: vec![SimQueue {
            id: "q".into(),
            name: "Q".into(),
        }],
        profiles: vec![SimProfile {
            id: "p".into(),
            name: "P".into(),
            queues: vec![0],
            chat_slots: 1,
        }],
        agents: vec![SimAgent {
            id: "a".into(),
            username: "slow".into(),
            profile: 0,
            // Accepts exactly when the offer times out: the router's
            // timeout goes first, as live, and the offer is missed.
            answer_after: Some(20),
            after_contact_work_seconds: 0,
            statuses: vec![(0, SimStatus::Available)],
        }],
        contacts: vec![SimContact {
            id: "c".into(),
            channel: Channel::Voice,
            queue: 0,
            arrives: 10,
            gives_up_after: Some(60),
            transferred_out_after: None,
            talk_seconds: 30,
            hold_seconds: 0,
        }],
        offer_timeout_seconds: 20,
        system_number: NUMBER.into(),
    };
    let out = simulate::run(&scenario).unwrap();
    let r = &out.records[0];
    assert!(r.agent.is_none(), "{r:?}");
    assert_eq!(r.disconnect_timestamp, Some(at(70)));
    assert!(out.timelines[0]
        .changes
        .iter()
        .any(|(s, at_ms)| s == "Missed" && *at_ms == at(30).timestamp_millis()));
    scenario.contacts[0].arrives = i64::MAX;
    let e = simulate::run(&scenario).unwrap_err();
    assert!(e.to_string().starts_with("contacts[0].arrives:"), "{e}");
}

#[test]
fn agent_time_counts_under_the_profile_the_agent_had_then() {
    use switchboard_reports::historical::AgentTimeline;
    // Available all hour; moved from Sales to Support at 9:20.
    let t = AgentTimeline {
        agent: "a".into(),
        name: "ann".into(),
        routing_profile: "rp-support".into(),
        routing_profile_name: "Support".into(),
        state_at_start: Some("Available".into()),
        changes: vec![],
        profiles: vec![
            (
                at(-60).timestamp_millis(),
                "rp-sales".into(),
                "Sales".into(),
            ),
            (
                at(1200).timestamp_millis(),
                "rp-support".into(),
                "Support".into(),
            ),
        ],
    };
    let rows = historical::compute(
        &hour(GroupBy::RoutingProfile, Interval::Total),
        &[],
        std::slice::from_ref(&t),
    );
    let time = |name: &str| {
        rows.iter()
            .find(|r| r.group_name == name)
            .map(|r| r.time_in_state["Available"])
    };
    assert_eq!(time("Sales"), Some(1200.0), "{rows:?}");
    assert_eq!(time("Support"), Some(2400.0), "{rows:?}");
    // In 15-minute intervals the 9:15-9:30 stretch splits at 9:20.
    let rows = historical::compute(
        &hour(GroupBy::RoutingProfile, Interval::FifteenMinutes),
        &[],
        &[t],
    );
    let second: Vec<(&str, f64)> = rows
        .iter()
        .filter(|r| r.interval_start == at(900))
        .map(|r| (r.group_name.as_str(), r.time_in_state["Available"]))
        .collect();
    assert_eq!(second, [("Sales", 300.0), ("Support", 600.0)]);
}

#[test]
fn time_in_state_stops_at_the_present_when_the_period_runs_past_it() {
    let m = morning();
    // The report asks for the whole hour at 09:15: what is known ends there.
    let q = Query {
        now: t0() + Duration::minutes(15),
        ..hour(GroupBy::Agent, Interval::FifteenMinutes)
    };
    let rows = historical::compute(&q, &m.records, &m.timelines);
    for row in rows.iter().filter(|r| !r.time_in_state.is_empty()) {
        let counted: f64 = row.time_in_state.values().sum();
        assert_eq!(row.interval_start, t0(), "nothing after now: {row:?}");
        assert!(
            counted <= 900.0,
            "{} has {counted} s in 15 minutes",
            row.group_name
        );
    }
    let alice = rows.iter().find(|r| r.group_name == "alice").unwrap();
    assert_eq!(alice.time_in_state.values().sum::<f64>(), 900.0);
    // Asked before the period began, no time at all.
    let q = Query {
        now: t0() - Duration::minutes(1),
        ..hour(GroupBy::Agent, Interval::Total)
    };
    let rows = historical::compute(&q, &m.records, &m.timelines);
    assert!(rows.iter().all(|r| r.time_in_state.is_empty()), "{rows:?}");
}
