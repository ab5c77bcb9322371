//! Routing at scale: 5,000 agents, 200 queues, 20 routing profiles and
//! 10,000 waiting contacts. Prints decisions per second and the latency from
//! event to decision (p50, p99), then lets criterion time the steady state.
//!
//! Run: `cargo bench -p switchboard-routing`

// Tests and benchmarks may unwrap: a failure is the report.
// A benchmark times itself with the wall clock, unlike the core it measures.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

use std::time::Instant;

use criterion::{criterion_group, Criterion};
use switchboard_routing::*;

const AGENTS: u32 = 5_000;
const QUEUES: u32 = 200;
const PROFILES: u32 = 20;
const WAITING: u64 = 10_000;

/// Each profile takes voice from ten queues at three priorities, some with a delay.
fn config() -> RoutingConfig {
    let profiles = (0..PROFILES)
        .map(|p| ProfileConfig {
            concurrency: [1, 3, 0],
            route_any_channel: [false, false, false],
            queues: (0..10)
                .map(|i| ProfileQueue {
                    queue: QueueId((p * 10 + i) % QUEUES),
                    channel: Channel::Voice,
                    priority: 1 + i % 3,
                    delay_ms: if i == 9 { 30_000 } else { 0 },
                })
                .collect(),
        })
        .collect();
    RoutingConfig {
        queues: (0..QUEUES).map(|_| QueueConfig::default()).collect(),
        profiles,
        agents: (0..AGENTS)
            .map(|a| AgentConfig {
                profile: ProfileId(a % PROFILES),
                acw_timeout_ms: 0,
            })
            .collect(),
        offer_timeout_ms: 20_000,
    }
}

/// A router with every agent on a call and `WAITING` contacts queued.
struct Loaded {
    router: Router,
    now: Millis,
    next_contact: u64,
    /// The contact each agent is talking to, if any.
    talking: Vec<Option<ContactId>>,
    rng: u64,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn loaded() -> Loaded {
    let mut router = Router::new(config()).unwrap();
    let mut out = Vec::new();
    let mut now = 1_000;
    for a in 0..AGENTS {
        router
            .handle(
                now,
                Event::SetStatus {
                    agent: AgentId(a),
                    status: Status::Available,
                },
                &mut out,
            )
            .unwrap();
    }
    let mut talking = vec![None; AGENTS as usize];
    let mut next_contact = 0;
    let mut rng = 0x2545F4914F6CDD1D;
    let mut enqueue = |router: &mut Router, now: Millis, out: &mut Vec<Effect>, rng: &mut u64| {
        next_contact += 1;
        let queue = QueueId((xorshift(rng) % u64::from(QUEUES)) as u32);
        let e = Event::Enqueue {
            contact: ContactId(next_contact),
            queue,
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_ms: 0,
        };
        router.handle(now, e, out).unwrap();
    };
    // Fill every agent, accepting each offer.
    while (out
        .iter()
        .filter(|e| matches!(e, Effect::Connected { .. }))
        .count() as u32)
        < AGENTS
    {
        now += 1;
        let before = out.len();
        enqueue(&mut router, now, &mut out, &mut rng);
        let offers: Vec<_> = out[before..]
            .iter()
            .filter_map(|e| match e {
                Effect::Offer { contact, agent, .. } => Some((*contact, *agent)),
                _ => None,
            })
            .collect();
        for (c, a) in offers {
            router
                .handle(
                    now,
                    Event::Accept {
                        contact: c,
                        agent: a,
                    },
                    &mut out,
                )
                .unwrap();
            talking[a.0 as usize] = Some(c);
        }
    }
    for _ in 0..WAITING {
        now += 1;
        enqueue(&mut router, now, &mut out, &mut rng);
    }
    Loaded {
        router,
        now,
        next_contact,
        talking,
        rng,
    }
}

impl Loaded {
    /// One agent finishes a call: end, close ACW (the decision: an offer),
    /// accept, and a new caller joins so the queues stay at 10,000.
    /// Returns the nanoseconds from the ACW close to the decision, if the
    /// chosen agent was on a call.
    fn cycle(&mut self, out: &mut Vec<Effect>) -> Option<u64> {
        self.now += 1;
        let agent = AgentId((xorshift(&mut self.rng) % u64::from(AGENTS)) as u32);
        let mut ns = None;
        if let Some(contact) = self.talking[agent.0 as usize].take() {
            out.clear();
            self.router
                .handle(self.now, Event::ContactEnded { contact }, out)
                .unwrap();
            out.clear();
            let t = Instant::now();
            self.router
                .handle(self.now, Event::CloseAcw { agent, contact }, out)
                .unwrap();
            ns = Some(t.elapsed().as_nanos() as u64);
            self.accept_offers(out);
        }
        self.next_contact += 1;
        let queue = QueueId((xorshift(&mut self.rng) % u64::from(QUEUES)) as u32);
        let e = Event::Enqueue {
            contact: ContactId(self.next_contact),
            queue,
            channel: Channel::Voice,
            priority: 5,
            time_adjustment_ms: 0,
        };
        out.clear();
        self.router.handle(self.now, e, out).unwrap();
        self.accept_offers(out);
        ns
    }

    fn accept_offers(&mut self, out: &mut Vec<Effect>) {
        let offers: Vec<(ContactId, AgentId)> = out
            .iter()
            .filter_map(|e| match e {
                Effect::Offer { contact, agent, .. } => Some((*contact, *agent)),
                _ => None,
            })
            .collect();
        for (c, a) in offers {
            self.router
                .handle(
                    self.now,
                    Event::Accept {
                        contact: c,
                        agent: a,
                    },
                    out,
                )
                .unwrap();
            self.talking[a.0 as usize] = Some(c);
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn report() {
    let build = Instant::now();
    let mut l = loaded();
    println!(
        "setup: {AGENTS} agents, {QUEUES} queues, {PROFILES} profiles, {} waiting ({:.2?})",
        WAITING,
        build.elapsed()
    );
    let mut out = Vec::with_capacity(64);
    // Warm up, then measure.
    for _ in 0..20_000 {
        l.cycle(&mut out);
    }
    let decisions_before = l.router.decisions();
    let n = 200_000;
    let mut latencies = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        latencies.extend(l.cycle(&mut out));
    }
    let elapsed = start.elapsed();
    let decisions = l.router.decisions() - decisions_before;
    latencies.sort_unstable();
    println!(
        "agent-freed path: {decisions} decisions in {elapsed:.2?} = {:.0} decisions/s, counting every event of the cycle (end, close ACW, accept, enqueue)",
        decisions as f64 / elapsed.as_secs_f64()
    );
    println!(
        "event -> decision latency (close ACW -> offer): p50 {:.2} us, p99 {:.2} us, max {:.2} us",
        percentile(&latencies, 0.50) as f64 / 1e3,
        percentile(&latencies, 0.99) as f64 / 1e3,
        *latencies.last().unwrap() as f64 / 1e3
    );

    // Contact-driven decisions: agents waiting, contacts arriving.
    let mut router = Router::new(config()).unwrap();
    let mut now = 1_000;
    for a in 0..AGENTS {
        router
            .handle(
                now,
                Event::SetStatus {
                    agent: AgentId(a),
                    status: Status::Available,
                },
                &mut out,
            )
            .unwrap();
    }
    let mut rng = 7u64;
    let mut latencies = Vec::with_capacity(AGENTS as usize);
    let start = Instant::now();
    for c in 0..u64::from(AGENTS) {
        now += 1;
        out.clear();
        let queue = QueueId((xorshift(&mut rng) % u64::from(QUEUES)) as u32);
        let t = Instant::now();
        router
            .handle(
                now,
                Event::Enqueue {
                    contact: ContactId(c),
                    queue,
                    channel: Channel::Voice,
                    priority: 5,
                    time_adjustment_ms: 0,
                },
                &mut out,
            )
            .unwrap();
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    println!(
        "contact-arrival path: {} decisions in {elapsed:.2?} = {:.0} decisions/s; latency p50 {:.2} us, p99 {:.2} us",
        router.decisions(),
        router.decisions() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50) as f64 / 1e3,
        percentile(&latencies, 0.99) as f64 / 1e3
    );
}

fn steady_state(c: &mut Criterion) {
    let mut l = loaded();
    let mut out = Vec::with_capacity(64);
    c.bench_function("agent freed -> offer, with 10k waiting", |b| {
        b.iter(|| l.cycle(&mut out))
    });
}

criterion_group!(benches, steady_state);

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
