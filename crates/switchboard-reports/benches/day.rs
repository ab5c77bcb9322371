//! A whole day replayed: 5,900 calls (the brief's busy day) and 1,000
//! chats over ten hours, 60 agents in two routing profiles, through the
//! real router on the simulator's clock, then every historical report and
//! the day's bill. Prints how long each part took.
//!
//! Run: `cargo bench -p switchboard-reports`

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use switchboard_model::objects::phone_number::PhoneNumberType;
use switchboard_reports::historical::{self, GroupBy, Interval, Query};
use switchboard_reports::simulate::{
    run, Scenario, SimAgent, SimContact, SimProfile, SimQueue, SimStatus,
};
use switchboard_reports::usage::{self, Held, OwnedNumber, RateCard};
use switchboard_routing::Channel;

const NUMBER: &str = "+442079460123";

fn main() {
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap();
    // A small deterministic generator (xorshift) so every run replays the same day.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let queues = (0..4)
        .map(|i| SimQueue {
            id: format!("q{i}"),
            name: format!("Queue {i}"),
        })
        .collect();
    let profiles = vec![
        SimProfile {
            id: "rp-front".into(),
            name: "Front line".into(),
            queues: vec![0, 1, 2],
            chat_slots: 3,
        },
        SimProfile {
            id: "rp-expert".into(),
            name: "Experts".into(),
            queues: vec![2, 3],
            chat_slots: 2,
        },
    ];
    let agents = (0..60)
        .map(|i| SimAgent {
            id: format!("a{i}"),
            username: format!("agent{i}"),
            profile: usize::from(i >= 45),
            answer_after: Some(2 + i % 5),
            after_contact_work_seconds: 20 + (i % 4) * 10,
            statuses: vec![
                ((i % 10) as i64 * 60, SimStatus::Available),
                (4 * 3600, SimStatus::Custom("Lunch".into())),
                (4 * 3600 + 1800, SimStatus::Available),
                (10 * 3600, SimStatus::Offline),
            ],
        })
        .collect();
    let mut contacts = Vec::new();
    for i in 0..6_900u64 {
        let chat = i >= 5_900;
        contacts.push(SimContact {
            id: format!("c{i}"),
            channel: if chat { Channel::Chat } else { Channel::Voice },
            queue: rand(4) as usize,
            arrives: rand(10 * 3600) as i64,
            gives_up_after: Some(60 + rand(600) as i64),
            transferred_out_after: (rand(50) == 0).then_some(30),
            talk_seconds: 120 + rand(600),
            hold_seconds: if rand(4) == 0 { rand(90) } else { 0 },
        });
    }
    let scenario = Scenario {
        start,
        queues,
        profiles,
        agents,
        contacts,
        offer_timeout_seconds: 20,
        system_number: NUMBER.into(),
    };
    let t = Instant::now();
    let day = run(&scenario).expect("the day replays");
    let replay = t.elapsed();
    let handled = day.records.iter().filter(|r| r.agent.is_some()).count();
    println!(
        "replayed {} contacts ({} handled) and {} agents in {:.1} ms ({} routing decisions)",
        day.records.len(),
        handled,
        day.timelines.len(),
        replay.as_secs_f64() * 1000.0,
        day.decisions
    );
    for (group_by, interval) in [
        (GroupBy::Queue, Interval::FifteenMinutes),
        (GroupBy::Agent, Interval::Hour),
        (GroupBy::RoutingProfile, Interval::Day),
        (GroupBy::Channel, Interval::Total),
    ] {
        let q = Query {
            from: start,
            to: start + Duration::hours(12),
            now: start + Duration::hours(12),
            interval,
            group_by,
            service_levels: vec![20, 60],
        };
        let t = Instant::now();
        let rows = historical::compute(&q, &day.records, &day.timelines);
        println!(
            "historical by {group_by:?} per {interval:?}: {} rows in {:.2} ms",
            rows.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    let numbers = HashMap::from([(
        NUMBER.to_string(),
        OwnedNumber {
            number: NUMBER.into(),
            country: "GB".into(),
            number_type: PhoneNumberType::Did,
            held: vec![Held {
                claimed_at: start - Duration::days(30),
                released_at: None,
            }],
        },
    )]);
    let t = Instant::now();
    let bill = usage::bill(
        &day.records,
        &numbers,
        &RateCard::default(),
        start - Duration::hours(8),
        start + Duration::hours(16),
        Utc::now(),
    );
    println!(
        "the day's bill: {:.2} {} in {:.2} ms",
        bill.total.total,
        bill.currency,
        t.elapsed().as_secs_f64() * 1000.0
    );
}
