//! Metric definitions against hand-computed scenarios. The agent's states
//! come from the real router (switchboard-routing) driven through a scripted
//! morning; the contact records carry the same times.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use switchboard_model::contact_record::{AgentInfo, Endpoint, QueueInfo, TranscriptInfo};
use switchboard_model::objects::phone_number::PhoneNumberType;
use switchboard_model::ContactRecord;
use switchboard_reports::historical::{self, AgentTimeline, GroupBy, Interval, Query};
use switchboard_reports::usage::{self, OwnedNumber, RateCard};
use switchboard_routing::{
    AgentConfig, AgentId, AgentState, Channel, ContactId, Effect, Event, ProfileConfig, ProfileId,
    ProfileQueue, QueueConfig, QueueId, Router, RoutingConfig, Status,
};

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
            claimed_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        },
    )])
}

fn inbound_call(id: &str, start: i64, end: i64) -> ContactRecord {
    ContactRecord {
        id: id.into(),
        channel: "VOICE".into(),
        initiation_method: "INBOUND".into(),
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
        state: "ENDED".into(),
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
    out.initiation_method = "OUTBOUND".into();
    out.customer_endpoint.address = "+14155550123".into();
    let card = RateCard::default();
    let cost = usage::cost_of(&usage::usage_of(&out, &numbers(), Utc::now()), &card);
    assert!(close(cost.service, 2.0 * 0.0018));
    assert_eq!(cost.unrated, ["outbound minutes on DID numbers in US"]);
    let chat = ContactRecord {
        id: "chat".into(),
        channel: "CHAT".into(),
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
        usage::number_days(claimed, from, from + Duration::days(3)),
        2
    );
    assert_eq!(
        usage::number_days(claimed, from, from + Duration::days(1)),
        0
    );
    let bad = RateCard {
        voice_service_per_minute: -1.0,
        ..RateCard::default()
    };
    assert_eq!(bad.validate()[0].0, "voice_service_per_minute");
}

/// One agent's morning through the real router. Times in seconds from 9:00.
/// - 0: Available.
/// - 60: call A queues, offered at once; accepted at 70.
/// - 370: A ends (300 s of talk, 30 s of it on hold); ACW until 400.
/// - 400: call B queues; accepted at 430 (30 s in queue); ends at 730; ACW to 760.
/// - 800: call C queues; nobody answers (agent on Lunch from 790); C hangs up at 860.
/// - 900: Offline.
fn morning() -> (Vec<ContactRecord>, AgentTimeline) {
    let config = RoutingConfig {
        queues: vec![QueueConfig::default()],
        profiles: vec![ProfileConfig {
            concurrency: [1, 0, 0],
            route_any_channel: [false, false, false],
            queues: vec![ProfileQueue {
                queue: QueueId(0),
                channel: Channel::Voice,
                priority: 1,
                delay_ms: 0,
            }],
        }],
        agents: vec![AgentConfig {
            profile: ProfileId(0),
            acw_timeout_ms: 0,
        }],
        offer_timeout_ms: 60_000,
    };
    let mut router = Router::new(config).unwrap();
    let agent = AgentId(0);
    let mut out = Vec::new();
    let ms = |s: i64| (t0() + Duration::seconds(s)).timestamp_millis() as u64;
    let script: Vec<(i64, Event)> = vec![
        (
            0,
            Event::SetStatus {
                agent,
                status: Status::Available,
            },
        ),
        (60, enqueue(1)),
        (
            70,
            Event::Accept {
                contact: ContactId(1),
                agent,
            },
        ),
        (
            370,
            Event::ContactEnded {
                contact: ContactId(1),
            },
        ),
        (
            400,
            Event::CloseAcw {
                agent,
                contact: ContactId(1),
            },
        ),
        (400, enqueue(2)),
        (
            430,
            Event::Accept {
                contact: ContactId(2),
                agent,
            },
        ),
        (
            730,
            Event::ContactEnded {
                contact: ContactId(2),
            },
        ),
        (
            760,
            Event::CloseAcw {
                agent,
                contact: ContactId(2),
            },
        ),
        (
            790,
            Event::SetStatus {
                agent,
                status: Status::Custom(0),
            },
        ),
        (800, enqueue(3)),
        (
            860,
            Event::Abandon {
                contact: ContactId(3),
            },
        ),
        (
            900,
            Event::SetStatus {
                agent,
                status: Status::Offline,
            },
        ),
    ];
    for (s, e) in script {
        router.handle(ms(s), e, &mut out).unwrap();
    }
    let changes = out
        .iter()
        .filter_map(|e| match e {
            Effect::AgentState { state, at, .. } => Some((
                match state {
                    AgentState::Custom(_) => "Lunch".to_string(),
                    other => format!("{other:?}"),
                },
                *at as i64,
            )),
            _ => None,
        })
        .collect();
    let timeline = AgentTimeline {
        agent: "a1".into(),
        name: "alice".into(),
        routing_profile: "Sales agents".into(),
        state_at_start: Some("Offline".into()),
        changes,
    };
    let queue = |enq: i64, deq: Option<i64>| QueueInfo {
        id: "q1".into(),
        name: "Sales".into(),
        enqueue_timestamp: at(enq),
        dequeue_timestamp: deq.map(at),
        duration_seconds: Some((deq.unwrap_or(enq) - enq) as f64),
    };
    let agent_info = |connected: i64, talk: f64, hold: f64, acw: f64| AgentInfo {
        id: "a1".into(),
        username: "alice".into(),
        connected_to_agent_timestamp: at(connected),
        talk_duration_seconds: talk,
        hold_duration_seconds: hold,
        after_contact_work_duration_seconds: Some(acw),
        number_of_offers: 1,
        ..Default::default()
    };
    let mut a = inbound_call("A", 60, 370);
    a.queue = Some(queue(60, Some(70)));
    a.agent = Some(agent_info(70, 270.0, 30.0, 30.0));
    let mut b = inbound_call("B", 400, 730);
    b.queue = Some(queue(400, Some(430)));
    b.agent = Some(agent_info(430, 300.0, 0.0, 30.0));
    let mut c = inbound_call("C", 800, 860);
    c.queue = Some(queue(800, None));
    (vec![a, b, c], timeline)
}

fn enqueue(n: u64) -> Event {
    Event::Enqueue {
        contact: ContactId(n),
        queue: QueueId(0),
        channel: Channel::Voice,
        priority: 5,
        time_adjustment_ms: 0,
    }
}

#[test]
fn historical_metrics_match_a_hand_computed_morning() {
    let (records, timeline) = morning();
    let q = Query {
        from: t0(),
        to: t0() + Duration::hours(1),
        interval: Interval::Total,
        group_by: GroupBy::Queue,
        service_levels: vec![20, 60],
    };
    let rows = historical::compute(&q, &records, std::slice::from_ref(&timeline));
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.contacts_queued, r.contacts_handled, r.contacts_abandoned),
        (3, 2, 1)
    );
    // AHT: A 270+30+30 = 330, B 300+0+30 = 330.
    assert_eq!(r.average_handle_time, Some(330.0));
    assert_eq!(r.average_hold_time, Some(15.0));
    // ASA: A 10 s, B 30 s.
    assert_eq!(r.average_speed_of_answer, Some(20.0));
    // C waited 60 s and hung up.
    assert_eq!(r.average_abandon_time, Some(60.0));
    // Within 20 s: A only, of 3 that left the queue; within 60 s: A and B.
    assert!(close(r.service_level[&20], 100.0 / 3.0));
    assert!(close(r.service_level[&60], 200.0 / 3.0));
    assert_eq!(r.occupancy, None, "queues have no agent time");

    // By agent: time in each state from the router's own state changes.
    let q = Query {
        group_by: GroupBy::Agent,
        ..q
    };
    let rows = historical::compute(&q, &records, std::slice::from_ref(&timeline));
    let r = &rows[0];
    assert_eq!(r.group_name, "alice");
    assert_eq!(r.contacts_handled, 2);
    let s = &r.time_in_state;
    // Available 0-60, 400-400 (none: offered at once), 760-790.
    assert_eq!(s["Available"], 60.0 + 30.0, "{s:?}");
    // On contact 60-370 (the offer at 60 turns Incoming until 70) and 430-730;
    // B was offered at 400 (Incoming 400-430).
    assert_eq!(s["Incoming"], 10.0 + 30.0, "{s:?}");
    assert_eq!(s["OnContact"], 300.0 + 300.0, "{s:?}");
    assert_eq!(s["AfterContactWork"], 30.0 + 30.0, "{s:?}");
    assert_eq!(s["Lunch"], 110.0, "{s:?}");
    // Offline 900-3600 (the rest of the hour).
    assert_eq!(s["Offline"], 2700.0, "{s:?}");
    assert_eq!(r.non_productive_time, Some(110.0));
    // Occupancy: (40 + 600 + 60) / (700 + 90).
    assert!(close(r.occupancy.unwrap(), 100.0 * 700.0 / 790.0));

    // In 15-minute intervals the agent's time is cut at the edges: 9:00-9:15
    // holds everything up to 900 s, 9:15 onwards only Offline.
    let q = Query {
        interval: Interval::FifteenMinutes,
        ..q
    };
    let rows = historical::compute(&q, &records, std::slice::from_ref(&timeline));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].contacts_handled, 2);
    assert_eq!(rows[1].time_in_state["Offline"], 900.0);
    assert_eq!(rows[1].contacts_handled, 0);
    let csv = historical::to_csv(&rows);
    assert!(csv.starts_with("interval_start,group,group_name,"));
    assert_eq!(csv.lines().count(), 5);
    assert_eq!(historical::field("=cmd()"), "'=cmd()");
    assert_eq!(historical::field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

#[test]
fn real_time_counts_put_each_agent_in_one_bucket() {
    use switchboard_reports::realtime::{snapshot, AgentNow, QueueNow};
    let agent = |name: &str, profile: &str, state: &str| AgentNow {
        agent: name.into(),
        name: name.into(),
        routing_profile: profile.into(),
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
    ];
    let queue = |name: &str, n, oldest| QueueNow {
        queue: name.into(),
        name: name.into(),
        channel: "VOICE".into(),
        in_queue: n,
        oldest_contact_age_seconds: oldest,
    };
    let s = snapshot(
        at(90),
        board,
        vec![queue("Sales", 3, Some(75)), queue("Support", 0, None)],
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
        (6, 5, 1, 2, 1)
    );
    assert_eq!((c.non_productive, c.error, c.offline), (1, 1, 1));
    assert_eq!(s.by_routing_profile["Sales"].on_contact, 2);
    assert_eq!(s.by_routing_profile["Support"].staffed, 2);
    assert_eq!(
        (s.contacts_in_queue, s.oldest_contact_age_seconds),
        (3, Some(75))
    );
    assert_eq!(s.board[0].seconds_in_state, Some(90));
}
