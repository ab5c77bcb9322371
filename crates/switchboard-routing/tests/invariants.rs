//! Random event streams: the router never offers an agent more than their
//! concurrency, never offers or finishes a contact it does not hold, never
//! leaves an available agent beside a contact they could take, and replays
//! identically.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use switchboard_routing::{
    AgentConfig, AgentId, AgentState, Channel, ContactId, Effect, Event, ProfileConfig, ProfileId,
    ProfileQueue, QueueConfig, QueueId, Router, RoutingConfig, Status, Strategy as Pick,
};

fn config() -> RoutingConfig {
    let q = |max| QueueConfig {
        max_contacts: max,
        ..QueueConfig::default()
    };
    RoutingConfig {
        queues: vec![
            q(None),
            q(Some(3)),
            QueueConfig {
                strategy: Pick::RingAll,
                ..q(None)
            },
        ],
        profiles: vec![
            ProfileConfig {
                concurrency: [1, 2, 0],
                route_any_channel: [false, false, false],
                queues: vec![
                    ProfileQueue {
                        queue: QueueId(0),
                        channel: Channel::Voice,
                        priority: 1,
                        delay_ms: 0,
                    },
                    ProfileQueue {
                        queue: QueueId(1),
                        channel: Channel::Voice,
                        priority: 2,
                        delay_ms: 5_000,
                    },
                    ProfileQueue {
                        queue: QueueId(0),
                        channel: Channel::Chat,
                        priority: 1,
                        delay_ms: 0,
                    },
                ],
            },
            ProfileConfig {
                concurrency: [1, 0, 0],
                route_any_channel: [false, false, false],
                queues: vec![
                    ProfileQueue {
                        queue: QueueId(1),
                        channel: Channel::Voice,
                        priority: 1,
                        delay_ms: 0,
                    },
                    ProfileQueue {
                        queue: QueueId(2),
                        channel: Channel::Voice,
                        priority: 1,
                        delay_ms: 0,
                    },
                ],
            },
        ],
        agents: (0..5)
            .map(|a| AgentConfig {
                profile: ProfileId(a % 2),
                acw_timeout_ms: if a == 0 { 3_000 } else { 0 },
            })
            .collect(),
        offer_timeout_ms: 20_000,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Enqueue(u64, u32, bool),
    Abandon(u64),
    Transfer(u64, u32),
    Status(u32, u8),
    Accept(u64, u32),
    Reject(u64, u32),
    End(u64),
    Close(u32, u64),
    Error(u32),
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..12u64, 0..3u32, any::<bool>()).prop_map(|(c, q, chat)| Step::Enqueue(c, q, chat)),
        (0..12u64).prop_map(Step::Abandon),
        (0..12u64, 0..3u32).prop_map(|(c, q)| Step::Transfer(c, q)),
        (0..5u32, 0..3u8).prop_map(|(a, s)| Step::Status(a, s)),
        (0..12u64, 0..5u32).prop_map(|(c, a)| Step::Accept(c, a)),
        (0..12u64, 0..5u32).prop_map(|(c, a)| Step::Reject(c, a)),
        (0..12u64).prop_map(Step::End),
        (0..5u32, 0..12u64).prop_map(|(a, c)| Step::Close(a, c)),
        (0..5u32).prop_map(Step::Error),
        (1..30_000u64).prop_map(Step::Wait),
    ]
}

fn event(s: &Step) -> Event {
    match *s {
        Step::Enqueue(c, q, chat) => Event::Enqueue {
            contact: ContactId(c),
            queue: QueueId(q),
            channel: if chat { Channel::Chat } else { Channel::Voice },
            priority: 5,
            time_adjustment_ms: 0,
        },
        Step::Abandon(c) => Event::Abandon {
            contact: ContactId(c),
        },
        Step::Transfer(c, q) => Event::Transfer {
            contact: ContactId(c),
            queue: QueueId(q),
        },
        Step::Status(a, s) => Event::SetStatus {
            agent: AgentId(a),
            status: [Status::Available, Status::Offline, Status::Custom(1)][s as usize],
        },
        Step::Accept(c, a) => Event::Accept {
            contact: ContactId(c),
            agent: AgentId(a),
        },
        Step::Reject(c, a) => Event::Reject {
            contact: ContactId(c),
            agent: AgentId(a),
        },
        Step::End(c) => Event::ContactEnded {
            contact: ContactId(c),
        },
        Step::Close(a, c) => Event::CloseAcw {
            agent: AgentId(a),
            contact: ContactId(c),
        },
        Step::Error(a) => Event::AgentError { agent: AgentId(a) },
        Step::Wait(_) => Event::Tick,
    }
}

/// Runs the steps; returns every effect, checking invariants as it goes.
fn run(steps: &[Step]) -> Result<Vec<Effect>, TestCaseError> {
    let cfg = config();
    let mut r = Router::new(cfg.clone()).unwrap();
    let mut now = 0;
    let mut all = Vec::new();
    // What the effects say about each contact: in routing or done.
    let mut live: BTreeSet<u64> = BTreeSet::new();
    let mut offered: BTreeMap<(u64, u32), Channel> = BTreeMap::new();
    let mut channel_of: BTreeMap<u64, Channel> = BTreeMap::new();
    for s in steps {
        if let Step::Wait(ms) = s {
            now += ms;
        }
        let mut out = Vec::new();
        let e = event(s);
        let result = r.handle(now, e.clone(), &mut out);
        if let (
            Ok(()),
            Event::Enqueue {
                contact, channel, ..
            },
        ) = (&result, &e)
        {
            if !out.iter().any(|x| matches!(x, Effect::Refused { .. })) {
                live.insert(contact.0);
                channel_of.insert(contact.0, *channel);
            }
        }
        for x in &out {
            match x {
                Effect::Offer {
                    contact,
                    agent,
                    channel,
                    ..
                } => {
                    prop_assert!(
                        live.contains(&contact.0),
                        "offer of a contact not in routing"
                    );
                    offered.insert((contact.0, agent.0), *channel);
                }
                Effect::Rescind { contact, agent } | Effect::Connected { contact, agent } => {
                    offered.remove(&(contact.0, agent.0));
                }
                Effect::Done { contact } => {
                    prop_assert!(live.remove(&contact.0), "done twice");
                    offered.retain(|(c, _), _| *c != contact.0);
                }
                _ => {}
            }
        }
        // Nobody is offered more than their concurrency allows.
        for a in 0..cfg.agents.len() as u32 {
            let p = &cfg.profiles[cfg.agents[a as usize].profile.0 as usize];
            for ch in Channel::ALL {
                let n = offered
                    .iter()
                    .filter(|((_, ag), c)| *ag == a && **c == ch)
                    .count() as u32;
                prop_assert!(
                    n <= p.concurrency[ch.index()],
                    "agent {a} offered {n} {ch:?}"
                );
            }
        }
        // Work-conserving: an idle available agent has no contact waiting
        // that they could take at once (delay 0, no minimum idle).
        for a in 0..cfg.agents.len() as u32 {
            if r.agent_state(AgentId(a)) != Some(AgentState::Available) {
                continue;
            }
            let p = &cfg.profiles[cfg.agents[a as usize].profile.0 as usize];
            for pq in p.queues.iter().filter(|pq| pq.delay_ms == 0) {
                let (waiting, _) = r.queue_depth(pq.queue, pq.channel);
                prop_assert_eq!(
                    waiting,
                    0,
                    "agent {} idle while queue {} has {:?} waiting",
                    a,
                    pq.queue.0,
                    pq.channel
                );
            }
        }
        all.extend(out);
    }
    Ok(all)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_replay_is_exact(steps in prop::collection::vec(step(), 0..80)) {
        let first = run(&steps)?;
        let second = run(&steps)?;
        prop_assert_eq!(first, second, "same events, same decisions");
    }
}
