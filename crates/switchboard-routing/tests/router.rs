//! Routing rules, one scenario each, with times in milliseconds.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use switchboard_routing::*;

const VOICE: Channel = Channel::Voice;
const CHAT: Channel = Channel::Chat;

fn pq(queue: u32, channel: Channel, priority: u32, delay_ms: Millis) -> ProfileQueue {
    ProfileQueue {
        queue: QueueId(queue),
        channel,
        priority,
        delay_ms,
    }
}

fn profile(queues: Vec<ProfileQueue>) -> ProfileConfig {
    ProfileConfig {
        concurrency: [1, 3, 0],
        route_any_channel: [false, false, false],
        queues,
    }
}

struct T {
    r: Router,
    now: Millis,
    out: Vec<Effect>,
}

impl T {
    fn new(
        queues: Vec<QueueConfig>,
        profiles: Vec<ProfileConfig>,
        agent_profiles: &[u32],
        acw_timeout_ms: Millis,
    ) -> Self {
        let agents = agent_profiles
            .iter()
            .map(|p| AgentConfig {
                profile: ProfileId(*p),
                acw_timeout_ms,
            })
            .collect();
        let r = Router::new(RoutingConfig {
            queues,
            profiles,
            agents,
            offer_timeout_ms: 20_000,
        })
        .unwrap();
        T {
            r,
            now: 0,
            out: vec![],
        }
    }

    fn at(&mut self, now: Millis, e: Event) -> Vec<Effect> {
        self.now = now;
        self.out.clear();
        self.r.handle(now, e, &mut self.out).unwrap();
        self.out.clone()
    }

    fn available(&mut self, now: Millis, agent: u32) -> Vec<Effect> {
        self.at(
            now,
            Event::SetStatus {
                agent: AgentId(agent),
                status: Status::Available,
            },
        )
    }

    fn enqueue(&mut self, now: Millis, contact: u64, queue: u32, channel: Channel) -> Vec<Effect> {
        self.at(
            now,
            Event::Enqueue {
                contact: ContactId(contact),
                queue: QueueId(queue),
                channel,
                priority: 5,
                time_adjustment_ms: 0,
            },
        )
    }
}

fn offers(effects: &[Effect]) -> Vec<(u64, u32)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Offer { contact, agent, .. } => Some((contact.0, agent.0)),
            _ => None,
        })
        .collect()
}

fn one_queue() -> T {
    T::new(
        vec![QueueConfig::default()],
        vec![profile(vec![pq(0, VOICE, 1, 0), pq(0, CHAT, 1, 0)])],
        &[0, 0, 0],
        0,
    )
}

#[test]
fn the_agent_idle_longest_gets_the_call() {
    let mut t = one_queue();
    t.available(100, 1);
    t.available(200, 0);
    t.available(300, 2);
    assert_eq!(offers(&t.enqueue(400, 1, 0, VOICE)), [(1, 1)]);
    assert_eq!(t.r.agent_state(AgentId(1)), Some(AgentState::Incoming));
    assert_eq!(offers(&t.enqueue(401, 2, 0, VOICE)), [(2, 0)]);
}

#[test]
fn queue_priority_then_age_then_contact_priority() {
    let profiles = vec![profile(vec![pq(0, VOICE, 2, 0), pq(1, VOICE, 1, 0)])];
    let mut t = T::new(
        vec![QueueConfig::default(), QueueConfig::default()],
        profiles,
        &[0],
        0,
    );
    t.enqueue(10, 1, 0, VOICE); // low-priority queue, oldest
    t.enqueue(20, 2, 1, VOICE); // high-priority queue
    t.enqueue(30, 3, 1, VOICE);
    t.at(
        40,
        Event::Enqueue {
            contact: ContactId(4),
            queue: QueueId(1),
            channel: VOICE,
            priority: 1,
            time_adjustment_ms: 0,
        },
    );
    t.at(
        50,
        Event::Enqueue {
            contact: ContactId(5),
            queue: QueueId(1),
            channel: VOICE,
            priority: 5,
            time_adjustment_ms: 1_000,
        },
    );
    // Priority-1 queue first; within it, contact priority 1 first, then the
    // adjusted contact (counts as arrived at -950), then arrival order.
    let order: Vec<u64> = (0..5)
        .map(|i| {
            let now = 100 + i * 10;
            let got = if i == 0 {
                t.available(now, 0)
            } else {
                let c = ContactId(offered_last(&t));
                t.at(
                    now,
                    Event::Accept {
                        contact: c,
                        agent: AgentId(0),
                    },
                );
                t.at(now, Event::ContactEnded { contact: c });
                t.at(
                    now,
                    Event::CloseAcw {
                        agent: AgentId(0),
                        contact: c,
                    },
                )
            };
            offers(&got)[0].0
        })
        .collect();
    assert_eq!(order, [4, 5, 2, 3, 1]);
}

fn offered_last(t: &T) -> u64 {
    offers(&t.out).last().unwrap().0
}

#[test]
fn a_delay_holds_contacts_back_from_a_profile() {
    // Profile 0 takes queue 0 at once; profile 1 only after 30 s.
    let profiles = vec![
        profile(vec![pq(0, VOICE, 1, 0)]),
        profile(vec![pq(0, VOICE, 1, 30_000)]),
    ];
    let mut t = T::new(vec![QueueConfig::default()], profiles, &[0, 1], 0);
    t.available(0, 1);
    assert!(offers(&t.enqueue(1_000, 7, 0, VOICE)).is_empty());
    assert_eq!(t.r.next_wake(), Some(31_000));
    assert!(offers(&t.at(30_999, Event::Tick)).is_empty());
    assert_eq!(offers(&t.at(31_000, Event::Tick)), [(7, 1)]);
}

#[test]
fn chat_concurrency_and_cross_channel_behaviour() {
    let mut t = one_queue();
    t.enqueue(1, 1, 0, CHAT);
    t.enqueue(2, 2, 0, CHAT);
    t.enqueue(3, 3, 0, CHAT);
    t.enqueue(4, 4, 0, CHAT);
    t.enqueue(5, 5, 0, VOICE);
    // Up to three chats at once; while chatting (current channel only), no voice.
    assert_eq!(offers(&t.available(10, 0)), [(1, 0), (2, 0), (3, 0)]);
    for c in 1..=3 {
        t.at(
            11,
            Event::Accept {
                contact: ContactId(c),
                agent: AgentId(0),
            },
        );
    }
    t.at(
        12,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    );
    assert_eq!(
        offers(&t.at(
            13,
            Event::CloseAcw {
                agent: AgentId(0),
                contact: ContactId(1)
            }
        )),
        [(4, 0)]
    );

    // With ROUTE_ANY_CHANNEL on chat, a chatting agent can take a call too.
    let mut p = profile(vec![pq(0, VOICE, 1, 0), pq(0, CHAT, 1, 0)]);
    p.route_any_channel = [false, true, false];
    let mut t = T::new(vec![QueueConfig::default()], vec![p], &[0], 0);
    t.available(0, 0);
    t.enqueue(1, 1, 0, CHAT);
    t.at(
        2,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(0),
        },
    );
    assert_eq!(offers(&t.enqueue(3, 2, 0, VOICE)), [(2, 0)]);
}

#[test]
fn minimum_idle_time_per_queue() {
    let q = QueueConfig {
        min_agent_idle_ms: 10_000,
        ..QueueConfig::default()
    };
    let mut t = T::new(vec![q], vec![profile(vec![pq(0, VOICE, 1, 0)])], &[0], 0);
    t.available(1_000, 0);
    assert!(offers(&t.enqueue(2_000, 1, 0, VOICE)).is_empty());
    assert_eq!(offers(&t.at(11_000, Event::Tick)), [(1, 0)]);
}

#[test]
fn capacity_and_disabled_queues_refuse_with_a_reason() {
    let full = QueueConfig {
        max_contacts: Some(2),
        ..QueueConfig::default()
    };
    let off = QueueConfig {
        enabled: false,
        ..QueueConfig::default()
    };
    let mut t = T::new(
        vec![full, off],
        vec![profile(vec![pq(0, VOICE, 1, 0)])],
        &[0],
        0,
    );
    t.enqueue(1, 1, 0, VOICE);
    t.enqueue(2, 2, 0, VOICE);
    assert_eq!(
        t.enqueue(3, 3, 0, VOICE),
        [Effect::Refused {
            contact: ContactId(3),
            reason: Refusal::QueueAtCapacity
        }]
    );
    assert_eq!(
        t.enqueue(4, 4, 1, VOICE),
        [Effect::Refused {
            contact: ContactId(4),
            reason: Refusal::QueueDisabled
        }]
    );
    assert_eq!(
        t.enqueue(5, 5, 9, VOICE),
        [Effect::Refused {
            contact: ContactId(5),
            reason: Refusal::UnknownQueue
        }]
    );
    assert_eq!(
        t.enqueue(6, 1, 0, VOICE),
        [Effect::Refused {
            contact: ContactId(1),
            reason: Refusal::Duplicate
        }]
    );
    // A contact leaving makes room.
    t.at(
        7,
        Event::Abandon {
            contact: ContactId(1),
        },
    );
    assert!(t.enqueue(8, 3, 0, VOICE).is_empty());
}

#[test]
fn a_missed_offer_goes_back_to_its_place_and_the_agent_leaves_routing() {
    let mut t = one_queue();
    t.available(0, 0);
    t.available(1, 1);
    assert_eq!(offers(&t.enqueue(10, 1, 0, VOICE)), [(1, 0)]);
    t.enqueue(20, 2, 0, VOICE); // waits behind contact 1... offered to agent 1
    assert_eq!(offers(&t.out), [(2, 1)]);
    t.enqueue(30, 3, 0, VOICE);
    // Agent 0 does not answer within 20 s.
    let effects = t.at(20_010, Event::Tick);
    assert!(effects.contains(&Effect::AgentState {
        agent: AgentId(0),
        state: AgentState::Missed,
        at: 20_010
    }));
    assert!(effects.contains(&Effect::Requeued {
        contact: ContactId(1)
    }));
    // Agent 1 also missed at 20_020; it is free again and takes contact 1
    // first: back at the head of its place, ahead of contact 3.
    t.at(
        20_015,
        Event::SetStatus {
            agent: AgentId(0),
            status: Status::Available,
        },
    );
    assert_eq!(offers(&t.out), [(1, 0)]);
    // Rejecting works the same way.
    let e = t.at(
        20_016,
        Event::Reject {
            contact: ContactId(1),
            agent: AgentId(0),
        },
    );
    assert!(e.contains(&Effect::AgentState {
        agent: AgentId(0),
        state: AgentState::Rejected,
        at: 20_016
    }));
}

#[test]
fn after_contact_work_timeout_and_next_status() {
    let mut t = T::new(
        vec![QueueConfig::default()],
        vec![profile(vec![pq(0, VOICE, 1, 0)])],
        &[0],
        5_000,
    );
    t.available(0, 0);
    t.enqueue(1, 1, 0, VOICE);
    t.at(
        2,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(0),
        },
    );
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::OnContact));
    // Lunch requested mid-call: shown when the work ends.
    t.at(
        3,
        Event::SetStatus {
            agent: AgentId(0),
            status: Status::Custom(1),
        },
    );
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::OnContact));
    t.at(
        60_000,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    );
    assert_eq!(
        t.r.agent_state(AgentId(0)),
        Some(AgentState::AfterContactWork)
    );
    t.enqueue(61_000, 2, 0, VOICE);
    let e = t.at(65_000, Event::Tick);
    assert!(
        e.contains(&Effect::AgentState {
            agent: AgentId(0),
            state: AgentState::Custom(1),
            at: 65_000
        }),
        "{e:?}"
    );
    assert!(offers(&e).is_empty(), "not routable at lunch");
    assert_eq!(offers(&t.available(70_000, 0)), [(2, 0)]);
}

#[test]
fn strategies_least_talk_fewest_contacts_ring_all() {
    for (strategy, expected) in [
        (Strategy::LeastTalkTime, 1),
        (Strategy::FewestContacts, 1),
        (Strategy::LongestIdle, 0),
    ] {
        let q = QueueConfig {
            strategy,
            ..QueueConfig::default()
        };
        let mut t = T::new(vec![q], vec![profile(vec![pq(0, VOICE, 1, 0)])], &[0, 0], 0);
        // Agent 0 handles two short calls; agent 1 none.
        t.available(0, 0);
        for (c, len) in [(1u64, 10u64), (2, 10)] {
            t.enqueue(c * 100, c, 0, VOICE);
            t.at(
                c * 100,
                Event::Accept {
                    contact: ContactId(c),
                    agent: AgentId(0),
                },
            );
            t.at(
                c * 100 + len,
                Event::ContactEnded {
                    contact: ContactId(c),
                },
            );
            t.at(
                c * 100 + len,
                Event::CloseAcw {
                    agent: AgentId(0),
                    contact: ContactId(c),
                },
            );
        }
        t.available(250, 1);
        t.at(
            260,
            Event::SetStatus {
                agent: AgentId(0),
                status: Status::Custom(1),
            },
        );
        t.at(
            270,
            Event::SetStatus {
                agent: AgentId(0),
                status: Status::Available,
            },
        );
        // Make agent 0 the one idle longest (since 270, agent 1 since 290),
        // so idle time and the other measures point at different agents.
        let mut t2 = t;
        t2.at(
            280,
            Event::SetStatus {
                agent: AgentId(1),
                status: Status::Custom(1),
            },
        );
        t2.at(
            290,
            Event::SetStatus {
                agent: AgentId(1),
                status: Status::Available,
            },
        );
        let got = offers(&t2.enqueue(300, 9, 0, VOICE));
        assert_eq!(got, [(9, expected)], "{strategy:?}");
    }
    let ring = QueueConfig {
        strategy: Strategy::RingAll,
        ..QueueConfig::default()
    };
    let mut t = T::new(
        vec![ring],
        vec![profile(vec![pq(0, VOICE, 1, 0)])],
        &[0, 0, 0],
        0,
    );
    for a in 0..3 {
        t.available(a.into(), a);
    }
    assert_eq!(
        offers(&t.enqueue(10, 1, 0, VOICE)),
        [(1, 0), (1, 1), (1, 2)]
    );
    let e = t.at(
        11,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(1),
        },
    );
    assert!(e.contains(&Effect::Rescind {
        contact: ContactId(1),
        agent: AgentId(0)
    }));
    assert!(e.contains(&Effect::Rescind {
        contact: ContactId(1),
        agent: AgentId(2)
    }));
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::Available));
}

#[test]
fn abandoned_contacts_and_invalid_events() {
    let mut t = one_queue();
    t.available(0, 0);
    t.enqueue(1, 1, 0, VOICE);
    let e = t.at(
        2,
        Event::Abandon {
            contact: ContactId(1),
        },
    );
    assert!(e.contains(&Effect::Rescind {
        contact: ContactId(1),
        agent: AgentId(0)
    }));
    assert!(e.contains(&Effect::Done {
        contact: ContactId(1)
    }));
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::Available));
    let mut out = vec![];
    assert_eq!(
        t.r.handle(
            3,
            Event::Accept {
                contact: ContactId(1),
                agent: AgentId(0)
            },
            &mut out
        ),
        Err(EventError::UnknownContact(ContactId(1)))
    );
    t.enqueue(4, 2, 0, VOICE);
    assert_eq!(
        t.r.handle(
            5,
            Event::Accept {
                contact: ContactId(2),
                agent: AgentId(1)
            },
            &mut out
        ),
        Err(EventError::NotOffered(ContactId(2), AgentId(1)))
    );
    assert_eq!(
        t.r.handle(
            5,
            Event::ContactEnded {
                contact: ContactId(2)
            },
            &mut out
        ),
        Err(EventError::WrongStage(ContactId(2)))
    );
    assert_eq!(
        t.r.handle(
            5,
            Event::SetStatus {
                agent: AgentId(99),
                status: Status::Available
            },
            &mut out
        ),
        Err(EventError::UnknownAgent(AgentId(99)))
    );
}

#[test]
fn transfers_move_waiting_contacts_between_queues() {
    let profiles = vec![
        profile(vec![pq(0, VOICE, 1, 0)]),
        profile(vec![pq(1, VOICE, 1, 0)]),
    ];
    let full = QueueConfig {
        max_contacts: Some(1),
        ..QueueConfig::default()
    };
    let mut t = T::new(
        vec![QueueConfig::default(), QueueConfig::default(), full],
        profiles,
        &[0, 1],
        0,
    );
    t.available(0, 1); // takes queue 1 only
    t.enqueue(10, 1, 0, VOICE);
    t.enqueue(11, 2, 2, VOICE);
    // Queue 2 is full: refused, the contact stays in queue 0.
    assert_eq!(
        t.at(
            20,
            Event::Transfer {
                contact: ContactId(1),
                queue: QueueId(2)
            }
        ),
        [Effect::Refused {
            contact: ContactId(1),
            reason: Refusal::QueueAtCapacity
        }]
    );
    assert_eq!(t.r.queue_depth(QueueId(0), VOICE).0, 1);
    let e = t.at(
        30,
        Event::Transfer {
            contact: ContactId(1),
            queue: QueueId(1),
        },
    );
    assert!(e.contains(&Effect::Requeued {
        contact: ContactId(1)
    }));
    assert_eq!(offers(&e), [(1, 1)]);
    assert_eq!(t.r.queue_depth(QueueId(0), VOICE).0, 0);
    // Connected contacts are not moved this way.
    t.at(
        31,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(1),
        },
    );
    let mut out = vec![];
    assert_eq!(
        t.r.handle(
            32,
            Event::Transfer {
                contact: ContactId(1),
                queue: QueueId(0)
            },
            &mut out
        ),
        Err(EventError::WrongStage(ContactId(1)))
    );
}

#[test]
fn reconfigure_adds_agents_and_queues_and_moves_agents_between_profiles() {
    let empty = RoutingConfig {
        queues: vec![QueueConfig::default()],
        profiles: vec![profile(vec![])],
        agents: vec![],
        offer_timeout_ms: 20_000,
    };
    let mut r = Router::new(empty).unwrap();
    let mut out = vec![];
    r.handle(
        1,
        Event::Enqueue {
            contact: ContactId(1),
            queue: QueueId(0),
            channel: VOICE,
            priority: 5,
            time_adjustment_ms: 0,
        },
        &mut out,
    )
    .unwrap();
    // From no agents to one, whose profile takes the queue: the waiting contact is offered.
    let cfg = RoutingConfig {
        queues: vec![QueueConfig::default()],
        profiles: vec![profile(vec![]), profile(vec![pq(0, VOICE, 1, 0)])],
        agents: vec![AgentConfig {
            profile: ProfileId(0),
            acw_timeout_ms: 0,
        }],
        offer_timeout_ms: 20_000,
    };
    r.reconfigure(2, cfg.clone(), &mut out).unwrap();
    r.handle(
        3,
        Event::SetStatus {
            agent: AgentId(0),
            status: Status::Available,
        },
        &mut out,
    )
    .unwrap();
    assert!(offers(&out).is_empty(), "profile 0 takes nothing");
    let mut moved = cfg.clone();
    moved.agents[0].profile = ProfileId(1);
    out.clear();
    r.reconfigure(4, moved, &mut out).unwrap();
    assert_eq!(offers(&out), [(1, 0)]);
    assert!(
        r.reconfigure(
            5,
            RoutingConfig {
                agents: vec![],
                ..cfg
            },
            &mut out
        )
        .is_err(),
        "agents are never removed"
    );
}

#[test]
fn a_failed_phone_is_not_offered_the_same_contact_again() {
    let mut t = one_queue();
    t.available(0, 0);
    t.available(1, 1);
    assert_eq!(offers(&t.enqueue(10, 1, 0, VOICE)), [(1, 0)]);
    let e = t.at(11, Event::AgentError { agent: AgentId(0) });
    assert_eq!(offers(&e), [(1, 1)], "the other agent gets it");
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::Error));
}

#[test]
fn a_time_adjusted_contact_does_not_hide_an_older_one_from_a_delayed_profile() {
    let profiles = vec![profile(vec![pq(0, VOICE, 1, 30_000)])];
    let mut t = T::new(vec![QueueConfig::default()], profiles, &[0], 0);
    t.enqueue(0, 1, 0, VOICE); // B: arrives first
                               // A arrives later but counts as having waited a minute longer: sorts first.
    t.at(
        25_000,
        Event::Enqueue {
            contact: ContactId(2),
            queue: QueueId(0),
            channel: VOICE,
            priority: 5,
            time_adjustment_ms: 60_000,
        },
    );
    // At 31 s only B has really waited 30 s: B is offered.
    assert_eq!(offers(&t.available(31_000, 0)), [(1, 0)]);
}

#[test]
fn a_stale_acw_timer_does_not_close_a_later_acw() {
    let mut t = T::new(
        vec![QueueConfig::default()],
        vec![profile(vec![pq(0, VOICE, 1, 0)])],
        &[0],
        10_000,
    );
    t.available(0, 0);
    t.enqueue(1, 1, 0, VOICE);
    t.at(
        2,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(0),
        },
    );
    t.at(
        3,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    ); // ACW timer at 10_003
    t.at(
        4,
        Event::CloseAcw {
            agent: AgentId(0),
            contact: ContactId(1),
        },
    );
    // The same contact comes back and ends again at 9_000: its ACW lasts until 19_000.
    t.enqueue(5, 1, 0, VOICE);
    t.at(
        6,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(0),
        },
    );
    t.at(
        9_000,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    );
    t.at(10_500, Event::Tick);
    assert_eq!(
        t.r.agent_state(AgentId(0)),
        Some(AgentState::AfterContactWork)
    );
    t.at(19_000, Event::Tick);
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::Available));
}

#[test]
fn position_counts_the_contacts_ahead_in_routing_order() {
    let mut t = one_queue();
    t.enqueue(10, 1, 0, VOICE);
    t.enqueue(20, 2, 0, VOICE);
    t.at(
        30,
        Event::Enqueue {
            contact: ContactId(3),
            queue: QueueId(0),
            channel: VOICE,
            priority: 1,
            time_adjustment_ms: 0,
        },
    );
    // Contact 3's priority puts it first.
    assert_eq!(t.r.position(ContactId(3)), Some((1, 3)));
    assert_eq!(t.r.position(ContactId(1)), Some((2, 3)));
    assert_eq!(t.r.position(ContactId(2)), Some((3, 3)));
    // Offered contacts no longer wait; the rest move up.
    assert_eq!(offers(&t.available(40, 0)), [(3, 0)]);
    assert_eq!(t.r.position(ContactId(3)), None);
    assert_eq!(t.r.position(ContactId(2)), Some((2, 2)));
    assert_eq!(t.r.position(ContactId(99)), None);
}

#[test]
fn an_agent_calling_out_is_on_that_contact_and_routed_nothing_else_until_after_contact_work_ends() {
    let mut t = one_queue();
    t.available(0, 0);
    let outbound = |contact: u64| Event::Outbound {
        contact: ContactId(contact),
        agent: AgentId(0),
        queue: QueueId(0),
        channel: VOICE,
    };
    let out = t.at(10, outbound(1));
    assert!(out.contains(&Effect::Connected {
        contact: ContactId(1),
        agent: AgentId(0)
    }));
    assert_eq!(t.r.agent_state(AgentId(0)), Some(AgentState::OnContact));
    // A caller arriving meanwhile waits: the agent is busy.
    assert!(offers(&t.enqueue(20, 2, 0, VOICE)).is_empty());
    // A second call out at the same time is refused, as is a reused id.
    assert_eq!(
        t.r.handle(30, outbound(3), &mut vec![]),
        Err(EventError::Busy(AgentId(0)))
    );
    assert_eq!(
        t.r.handle(30, outbound(2), &mut vec![]),
        Err(EventError::Duplicate(ContactId(2)))
    );
    // The call ends; after-contact work; then the waiting caller is offered.
    t.at(
        40,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    );
    assert_eq!(
        t.r.agent_state(AgentId(0)),
        Some(AgentState::AfterContactWork)
    );
    let out = t.at(
        50,
        Event::CloseAcw {
            agent: AgentId(0),
            contact: ContactId(1),
        },
    );
    assert_eq!(offers(&out), vec![(2, 0)]);
    assert_eq!(
        t.r.handle(60, outbound(4), &mut vec![]),
        Err(EventError::Busy(AgentId(0))),
        "an agent being offered a contact cannot call out"
    );
}

#[test]
fn a_contact_in_an_agents_own_queue_waits_for_that_agent_and_goes_first() {
    // Queue 0 is served by the profile; queue 1 is agent 1's own queue.
    let mut t = T::new(
        vec![
            QueueConfig::default(),
            QueueConfig {
                owner: Some(AgentId(1)),
                ..Default::default()
            },
        ],
        vec![profile(vec![pq(0, VOICE, 1, 0)])],
        &[0, 0],
        0,
    );
    t.available(0, 0);
    // Agent 0 takes contact 2; contact 3 then waits in the profile's queue.
    assert_eq!(offers(&t.enqueue(5, 2, 0, VOICE)), [(2, 0)]);
    assert!(offers(&t.enqueue(6, 3, 0, VOICE)).is_empty());
    // Contact 1 is agent 1's: nobody else is offered it, even when free.
    assert!(offers(&t.enqueue(10, 1, 1, VOICE)).is_empty());
    // Agent 1 arrives: their own contact first, though contact 3 is older.
    assert_eq!(offers(&t.available(40, 1)), [(1, 1)]);
    // Once done, agent 1 takes the profile's queue as usual.
    t.at(
        50,
        Event::Accept {
            contact: ContactId(1),
            agent: AgentId(1),
        },
    );
    t.at(
        60,
        Event::ContactEnded {
            contact: ContactId(1),
        },
    );
    let out = t.at(
        70,
        Event::CloseAcw {
            agent: AgentId(1),
            contact: ContactId(1),
        },
    );
    assert_eq!(offers(&out), [(3, 1)]);
    // An agent's own queue that names nobody real is refused.
    let bad = RoutingConfig {
        queues: vec![QueueConfig {
            owner: Some(AgentId(7)),
            ..Default::default()
        }],
        profiles: vec![],
        agents: vec![],
        offer_timeout_ms: 1000,
    };
    assert!(Router::new(bad).is_err());
}
