//! The router: a deterministic state machine. Every call takes the current
//! time and one event, and appends what the shell must do to `out`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::config::*;

/// What an agent chose to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Not working: never offered contacts.
    Offline,
    /// Ready to be offered contacts, when there is room and no missed,
    /// rejected or error state holds.
    Available,
    /// A custom status (Lunch, Training...): not routable.
    Custom(u32),
}

/// What an agent is, as reports and dashboards show it: the chosen status,
/// or the system state their work puts them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentState {
    /// The agent chose Offline and has nothing in progress.
    Offline,
    /// The agent chose Available and has nothing offered, connected or in
    /// after-contact work.
    Available,
    /// The agent chose this custom status (the shell names it) and has
    /// nothing in progress.
    Custom(u32),
    /// A contact is being offered.
    Incoming,
    /// Connected to at least one contact, whatever else is offered or in
    /// after-contact work.
    OnContact,
    /// Wrapping up an ended contact, with nothing connected or offered. Ends
    /// with [`Event::CloseAcw`] or the agent's [`AgentConfig::acw_timeout_ms`].
    AfterContactWork,
    /// An offer was not accepted in time; not routable until the agent sets a status.
    Missed,
    /// The agent rejected an offer; not routable until they set a status.
    Rejected,
    /// The agent's phone failed; not routable until they set a status.
    Error,
}

/// Why a queue did not take a contact (see [`Effect::Refused`]). A refused
/// enqueue leaves the contact out of routing; a refused transfer leaves it
/// where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No queue has that number.
    UnknownQueue,
    /// The queue is disabled ([`QueueConfig::enabled`]).
    QueueDisabled,
    /// The queue already counts [`QueueConfig::max_contacts`] contacts,
    /// waiting or offered.
    QueueAtCapacity,
    /// A contact with this id is already routed.
    Duplicate,
}

impl Refusal {
    /// The name the API and logs use (`queue_at_capacity`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownQueue => "unknown_queue",
            Refusal::QueueDisabled => "queue_disabled",
            Refusal::QueueAtCapacity => "queue_at_capacity",
            Refusal::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened, fed in by the shell through [`Router::handle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// A contact joins a queue. Lower `priority` goes first (Connect's
    /// default is 5); a positive `time_adjustment_ms` counts it as having
    /// waited that much longer.
    Enqueue {
        /// The new contact's number; one routing already holds is refused
        /// ([`Refusal::Duplicate`]).
        contact: ContactId,
        /// The queue it joins.
        queue: QueueId,
        /// The contact's channel; profiles take from a queue channel by channel.
        channel: Channel,
        /// Contact priority: lower is offered first, whatever the waiting time.
        priority: u32,
        /// Milliseconds to count as already waited (negative: as arriving later).
        /// Changes the order only; profile delays count from the real arrival.
        time_adjustment_ms: i64,
    },
    /// The customer left before the contact ended (hung up in queue, or while connected).
    Abandon {
        /// The contact the customer left.
        contact: ContactId,
    },
    /// A contact still waiting (or being offered) moves to another queue,
    /// e.g. a customer queue flow sends it on. It joins the new queue at the
    /// back of its priority, and is refused there as an enqueue would be,
    /// in which case it stays where it was.
    Transfer {
        /// The contact to move; one connected or in after-contact work is
        /// [`EventError::WrongStage`].
        contact: ContactId,
        /// The queue it moves to.
        queue: QueueId,
    },
    /// The agent chose a status. This clears a missed, rejected or error
    /// state; any status but Available also withdraws the agent's offers.
    SetStatus {
        /// The agent choosing.
        agent: AgentId,
        /// The status they chose.
        status: Status,
    },
    /// The agent accepted an offer: the contact connects to them and any
    /// other agent's offer of it (ring-all) is withdrawn.
    Accept {
        /// The contact offered.
        contact: ContactId,
        /// The agent accepting; the contact must be offered to them
        /// ([`EventError::NotOffered`]).
        agent: AgentId,
    },
    /// The agent declined an offer: they leave routing (state Rejected) until
    /// they set a status, and the contact goes back to its place unless
    /// another agent is still offered it.
    Reject {
        /// The contact offered.
        contact: ContactId,
        /// The agent rejecting; the contact must be offered to them
        /// ([`EventError::NotOffered`]).
        agent: AgentId,
    },
    /// The agent's phone or browser failed: offers are withdrawn and the
    /// agent leaves routing until they set a status.
    AgentError {
        /// The agent whose phone or browser failed.
        agent: AgentId,
    },
    /// The conversation ended; the agent goes into after-contact work.
    ContactEnded {
        /// The connected contact; any other stage is [`EventError::WrongStage`].
        contact: ContactId,
    },
    /// The agent finished after-contact work: the contact leaves routing
    /// ([`Effect::Done`]) and the agent can be offered more. The router does
    /// this itself after the agent's [`AgentConfig::acw_timeout_ms`].
    CloseAcw {
        /// The agent doing the after-contact work.
        agent: AgentId,
        /// The contact in after-contact work with that agent; otherwise
        /// [`EventError::WrongStage`].
        contact: ContactId,
    },
    /// The agent places a call themselves (Connect's outbound call): the
    /// contact is theirs at once, counted in `queue` (their routing
    /// profile's default outbound queue) for reports. Refused while the
    /// agent is being offered a contact or already works one on `channel`.
    Outbound {
        /// A new contact number; one in use is [`EventError::Duplicate`].
        contact: ContactId,
        /// The agent placing the call.
        agent: AgentId,
        /// Where reports count the contact; must exist ([`EventError::UnknownQueue`]).
        queue: QueueId,
        /// The contact's channel; it takes one of the agent's slots on it.
        channel: Channel,
    },
    /// Nothing happened but time passed: due timers run.
    Tick,
}

/// What the shell must do after an event, appended to `out` in the order
/// it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Offer the contact to the agent, then pass back their Accept or Reject;
    /// with neither within [`RoutingConfig::offer_timeout_ms`] the offer is
    /// missed and rescinded.
    Offer {
        /// The contact to offer.
        contact: ContactId,
        /// The agent to offer it to; a ring-all queue sends one Offer per agent.
        agent: AgentId,
        /// The queue the contact waited in.
        queue: QueueId,
        /// The contact's channel.
        channel: Channel,
    },
    /// Withdraw an offer (another agent took it, or the customer left).
    Rescind {
        /// The contact no longer offered to the agent.
        contact: ContactId,
        /// The agent whose offer the shell must withdraw.
        agent: AgentId,
    },
    /// The contact is the agent's now (an accepted offer, or an outbound
    /// call): the shell connects them.
    Connected {
        /// The contact connected.
        contact: ContactId,
        /// The agent it is connected to.
        agent: AgentId,
    },
    /// A queue refused the contact on enqueue or transfer.
    Refused {
        /// The contact refused.
        contact: ContactId,
        /// Why the queue refused it.
        reason: Refusal,
    },
    /// A missed or rejected offer put the contact back in its place.
    Requeued {
        /// The contact waiting in a queue again.
        contact: ContactId,
    },
    /// The contact left routing (abandoned, or its after-contact work closed).
    Done {
        /// The contact routing no longer holds.
        contact: ContactId,
    },
    /// An agent's state changed; the shell records it for reports and
    /// dashboards.
    AgentState {
        /// The agent whose state changed.
        agent: AgentId,
        /// The new state.
        state: AgentState,
        /// When it changed: the event's time, or the due time of the timer that
        /// changed it.
        at: Millis,
    },
}

/// Where a contact stands in routing (see [`Router::contacts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactStage {
    /// In its queue, not offered to anyone.
    Waiting,
    /// Offered to one or more agents, not yet accepted.
    Offered,
    /// With an agent.
    Connected,
    /// The conversation ended; the agent is wrapping it up.
    AfterContactWork,
}

impl ContactStage {
    /// The name the API, metrics and logs use (`waiting`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStage::Waiting => "waiting",
            ContactStage::Offered => "offered",
            ContactStage::Connected => "connected",
            ContactStage::AfterContactWork => "after_contact_work",
        }
    }
}

impl std::fmt::Display for ContactStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that does not fit the state; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// No agent has this number.
    UnknownAgent(AgentId),
    /// Routing holds no contact with this number (never enqueued, refused,
    /// or done).
    UnknownContact(ContactId),
    /// Accept or reject of a contact that is not offered to that agent.
    NotOffered(ContactId, AgentId),
    /// ContactEnded for a contact that is not connected, or CloseAcw for
    /// one that is not in after-contact work with that agent.
    WrongStage(ContactId),
    /// An outbound contact with an id already in use.
    Duplicate(ContactId),
    /// An outbound call counted in a queue that does not exist.
    UnknownQueue(QueueId),
    /// An outbound call by an agent who is offered a contact or already on one.
    Busy(AgentId),
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::UnknownAgent(a) => write!(f, "agent {} is not known to routing", a.0),
            EventError::UnknownContact(c) => write!(f, "contact {} is not known to routing", c.0),
            EventError::NotOffered(c, a) => {
                write!(f, "contact {} is not offered to agent {}", c.0, a.0)
            }
            EventError::WrongStage(c) => write!(f, "contact {} is not at that stage", c.0),
            EventError::Duplicate(c) => write!(f, "contact {} already exists", c.0),
            EventError::UnknownQueue(q) => write!(f, "queue {} does not exist", q.0),
            EventError::Busy(_) => {
                write!(f, "the agent is already on a contact or being offered one")
            }
        }
    }
}

impl std::error::Error for EventError {}

/// Sort key of a waiting contact: priority, then when it counts as having
/// arrived, then arrival order.
type WaitKey = (u32, i64, u64);

/// The contacts waiting in one queue on one channel, in routing order, and
/// by real arrival time (to tell at once whether any has waited long enough
/// for a profile's delay).
#[derive(Debug, Default)]
struct WaitList {
    by_key: BTreeSet<(WaitKey, ContactId)>,
    by_arrival: BTreeSet<(Millis, u64, ContactId)>,
}

impl WaitList {
    fn insert(&mut self, key: WaitKey, arrived: Millis, contact: ContactId) {
        self.by_key.insert((key, contact));
        self.by_arrival.insert((arrived, key.2, contact));
    }

    fn remove(&mut self, key: WaitKey, arrived: Millis, contact: ContactId) {
        self.by_key.remove(&(key, contact));
        self.by_arrival.remove(&(arrived, key.2, contact));
    }

    fn len(&self) -> usize {
        self.by_key.len()
    }

    fn oldest_arrival(&self) -> Option<Millis> {
        self.by_arrival.first().map(|(t, _, _)| *t)
    }

    /// The first contact in routing order that arrived at or before
    /// `cutoff`. Only contacts sorted ahead of it by priority or time
    /// adjustment are passed over, and none at all when nobody is old enough.
    fn first_arrived_by(
        &self,
        cutoff: Millis,
        contacts: &HashMap<ContactId, Contact>,
    ) -> Option<(WaitKey, ContactId)> {
        if self.oldest_arrival()? > cutoff {
            return None;
        }
        self.by_key
            .iter()
            .find(|(_, c)| contacts[c].enqueued_at <= cutoff)
            .copied()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Waiting,
    Offered {
        agents: Vec<AgentId>,
        round: u64,
    },
    Connected {
        agent: AgentId,
        since: Millis,
    },
    /// `round` tells this after-contact work from an earlier one of the same contact.
    Acw {
        agent: AgentId,
        round: u64,
    },
}

#[derive(Debug, Clone)]
struct Contact {
    queue: QueueId,
    channel: Channel,
    enqueued_at: Millis,
    key: WaitKey,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Missed,
    Rejected,
    Error,
}

#[derive(Debug, Clone)]
struct Agent {
    status: Status,
    flag: Option<Flag>,
    /// Slots used per channel: offered, connected and in after-contact work.
    working: [u32; 3],
    offered: u32,
    connected: u32,
    acw: u32,
    idle_since: Millis,
    talk_ms: u64,
    handled: u32,
    /// The key under which the agent is in each channel's availability set.
    indexed: [Option<(u64, Millis)>; 3],
    state: AgentState,
}

impl Agent {
    /// A new agent: offline, with nothing to do.
    fn offline() -> Self {
        Agent {
            status: Status::Offline,
            flag: None,
            working: [0; 3],
            offered: 0,
            connected: 0,
            acw: 0,
            idle_since: 0,
            talk_ms: 0,
            handled: 0,
            indexed: [None; 3],
            state: AgentState::Offline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    ContactDelay(ContactId),
    AgentIdle(AgentId),
    OfferTimeout(ContactId, u64),
    AcwTimeout(AgentId, ContactId, u64),
}

/// Queues of one priority in a profile, with each queue's delay.
type PriorityGroup = (u32, Vec<(QueueId, Millis)>);

/// A routing profile prepared for routing: its queues per channel, in
/// groups of equal priority, lowest first.
#[derive(Debug, Clone, Default)]
struct Profile {
    groups: [Vec<PriorityGroup>; 3],
}

/// The router.
pub struct Router {
    config: RoutingConfig,
    profiles: Vec<Profile>,
    /// Per queue and channel: the profiles that take from it, with their delay.
    takers: Vec<[Vec<(ProfileId, Millis)>; 3]>,
    /// Per agent: their own queue, if they have one.
    own_queue: Vec<Option<QueueId>>,
    waiting: Vec<[WaitList; 3]>,
    /// Contacts counted against each queue's capacity: waiting or offered.
    in_queue: Vec<u32>,
    /// Per profile and channel: agents who can take a contact now, by strategy key.
    available: Vec<[BTreeSet<(u64, Millis, AgentId)>; 3]>,
    contacts: HashMap<ContactId, Contact>,
    agents: Vec<Agent>,
    timers: BinaryHeap<Reverse<(Millis, Timer)>>,
    seq: u64,
    decisions: u64,
}

impl Router {
    /// A router for `config`, with every agent offline and no contacts.
    /// Fails if `config` does not pass [`RoutingConfig::check`].
    pub fn new(config: RoutingConfig) -> Result<Self, ConfigError> {
        config.check()?;
        let agents = config.agents.iter().map(|_| Agent::offline()).collect();
        let mut r = Router {
            profiles: vec![],
            takers: vec![],
            own_queue: vec![],
            waiting: (0..config.queues.len())
                .map(|_| Default::default())
                .collect(),
            in_queue: vec![0; config.queues.len()],
            available: (0..config.profiles.len())
                .map(|_| Default::default())
                .collect(),
            contacts: HashMap::new(),
            agents,
            timers: BinaryHeap::new(),
            seq: 0,
            decisions: 0,
            config,
        };
        r.prepare();
        Ok(r)
    }

    fn prepare(&mut self) {
        self.profiles = self
            .config
            .profiles
            .iter()
            .map(|p| {
                let mut prof = Profile::default();
                for c in Channel::ALL {
                    let mut entries: Vec<&ProfileQueue> =
                        p.queues.iter().filter(|q| q.channel == c).collect();
                    entries.sort_by_key(|q| q.priority);
                    for e in entries {
                        let groups = &mut prof.groups[c.index()];
                        match groups.last_mut() {
                            Some((prio, qs)) if *prio == e.priority => {
                                qs.push((e.queue, e.delay_ms))
                            }
                            _ => groups.push((e.priority, vec![(e.queue, e.delay_ms)])),
                        }
                    }
                }
                prof
            })
            .collect();
        self.takers = (0..self.config.queues.len())
            .map(|_| Default::default())
            .collect();
        for (i, p) in self.config.profiles.iter().enumerate() {
            for pq in &p.queues {
                self.takers[pq.queue.0 as usize][pq.channel.index()]
                    .push((ProfileId(i as u32), pq.delay_ms));
            }
        }
        self.own_queue = vec![None; self.config.agents.len()];
        for (q, qc) in self.config.queues.iter().enumerate() {
            if let Some(owner) = qc.owner {
                self.own_queue[owner.0 as usize] = Some(QueueId(q as u32));
            }
        }
    }

    /// Replaces the configuration. Queues, profiles and agents keep their
    /// numbers; new ones are appended. Waiting contacts stay where they are.
    pub fn reconfigure(
        &mut self,
        now: Millis,
        config: RoutingConfig,
        out: &mut Vec<Effect>,
    ) -> Result<(), ConfigError> {
        config.check()?;
        if config.queues.len() < self.config.queues.len()
            || config.agents.len() < self.config.agents.len()
        {
            return Err(ConfigError::Shrunk);
        }
        for a in 0..self.agents.len() {
            self.unindex(AgentId(a as u32));
        }
        self.waiting
            .resize_with(config.queues.len(), Default::default);
        self.in_queue.resize(config.queues.len(), 0);
        self.available = (0..config.profiles.len())
            .map(|_| Default::default())
            .collect();
        self.agents.resize_with(config.agents.len(), Agent::offline);
        self.config = config;
        self.prepare();
        for a in 0..self.agents.len() {
            self.reindex(AgentId(a as u32));
        }
        // Hand out what waits, contact by contact in routing order, so each
        // goes to the agent its queue's strategy picks.
        let mut waiting: Vec<(WaitKey, ContactId)> = self
            .waiting
            .iter()
            .flat_map(|sets| sets.iter().flat_map(|l| l.by_key.iter().copied()))
            .collect();
        waiting.sort();
        for (_, contact) in waiting {
            if self
                .contacts
                .get(&contact)
                .is_some_and(|c| c.stage == Stage::Waiting)
            {
                self.route_contact(now, contact, out);
            }
        }
        Ok(())
    }

    /// When the router next needs a `Tick`, if ever.
    pub fn next_wake(&self) -> Option<Millis> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Offers made so far.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    /// Every contact routing holds, where it stands, and the agent it is
    /// with (offered: the first agent offered it). For recovery after a
    /// restart, not for the routing path.
    pub fn contacts(&self) -> Vec<(ContactId, Channel, ContactStage, Option<AgentId>)> {
        self.contacts
            .iter()
            .map(|(id, c)| {
                let (stage, agent) = match &c.stage {
                    Stage::Waiting => (ContactStage::Waiting, None),
                    Stage::Offered { agents, .. } => {
                        (ContactStage::Offered, agents.first().copied())
                    }
                    Stage::Connected { agent, .. } => (ContactStage::Connected, Some(*agent)),
                    Stage::Acw { agent, .. } => (ContactStage::AfterContactWork, Some(*agent)),
                };
                (*id, c.channel, stage, agent)
            })
            .collect()
    }

    /// The agent's current state, or `None` if no agent has that number.
    pub fn agent_state(&self, agent: AgentId) -> Option<AgentState> {
        self.agents.get(agent.0 as usize).map(|a| a.state)
    }

    /// Contacts waiting (not yet offered) in a queue on a channel, and when the oldest arrived.
    pub fn queue_depth(&self, queue: QueueId, channel: Channel) -> (usize, Option<Millis>) {
        let Some(sets) = self.waiting.get(queue.0 as usize) else {
            return (0, None);
        };
        let list = &sets[channel.index()];
        (list.len(), list.oldest_arrival())
    }

    /// Where a waiting contact stands in its queue (1: next to be
    /// offered) and how many wait there, or `None` if it is not waiting.
    /// Counts the contacts ahead of it: O(position), meant for
    /// announcements to callers, not for the routing path.
    pub fn position(&self, contact: ContactId) -> Option<(usize, usize)> {
        let c = self.contacts.get(&contact)?;
        let list = &self.waiting.get(c.queue.0 as usize)?[c.channel.index()];
        if !list.by_key.contains(&(c.key, contact)) {
            return None;
        }
        Some((
            list.by_key.range(..(c.key, contact)).count() + 1,
            list.len(),
        ))
    }

    /// Handles one event at `now`, after running the timers due by then.
    pub fn handle(
        &mut self,
        now: Millis,
        event: Event,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.run_timers(now, out);
        match event {
            Event::Enqueue {
                contact,
                queue,
                channel,
                priority,
                time_adjustment_ms,
            } => {
                self.enqueue(
                    now,
                    contact,
                    queue,
                    channel,
                    priority,
                    time_adjustment_ms,
                    out,
                );
                Ok(())
            }
            Event::Abandon { contact } => self.abandon(now, contact, out),
            Event::Transfer { contact, queue } => self.transfer(now, contact, queue, out),
            Event::SetStatus { agent, status } => self.set_status(now, agent, status, out),
            Event::Accept { contact, agent } => self.accept(now, contact, agent, out),
            Event::Reject { contact, agent } => {
                self.decline(now, contact, agent, Flag::Rejected, out)
            }
            Event::AgentError { agent } => {
                self.agent(agent)?;
                // Flagged first, so the withdrawn offers cannot come straight back.
                self.agents[agent.0 as usize].flag = Some(Flag::Error);
                self.withdraw_offers(now, agent, out);
                self.update(now, agent, out);
                Ok(())
            }
            Event::ContactEnded { contact } => self.end(now, contact, out),
            Event::CloseAcw { agent, contact } => self.close_acw(now, agent, contact, out),
            Event::Outbound {
                contact,
                agent,
                queue,
                channel,
            } => self.outbound(now, contact, agent, queue, channel, out),
            Event::Tick => Ok(()),
        }
    }

    fn agent(&self, agent: AgentId) -> Result<&Agent, EventError> {
        self.agents
            .get(agent.0 as usize)
            .ok_or(EventError::UnknownAgent(agent))
    }

    fn run_timers(&mut self, now: Millis, out: &mut Vec<Effect>) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::ContactDelay(c) => {
                    if self
                        .contacts
                        .get(&c)
                        .is_some_and(|c| c.stage == Stage::Waiting)
                    {
                        self.route_contact(at, c, out);
                    }
                }
                Timer::AgentIdle(a) => self.route_agent(a, at, out),
                Timer::OfferTimeout(c, round) => {
                    let agents = match self.contacts.get(&c).map(|c| &c.stage) {
                        Some(Stage::Offered { agents, round: r }) if *r == round => agents.clone(),
                        _ => continue,
                    };
                    for a in agents {
                        let _ = self.decline(at, c, a, Flag::Missed, out);
                    }
                }
                Timer::AcwTimeout(a, c, round) => {
                    let current = matches!(self.contacts.get(&c).map(|c| &c.stage), Some(Stage::Acw { round: r, .. }) if *r == round);
                    if current {
                        let _ = self.close_acw(at, a, c, out);
                    }
                }
            }
        }
    }

    // ----- agents -----

    fn profile_of(&self, agent: AgentId) -> ProfileId {
        self.config.agents[agent.0 as usize].profile
    }

    /// Whether the agent can be offered a contact on `channel` now.
    fn can_take(&self, agent: AgentId, channel: Channel) -> bool {
        let a = &self.agents[agent.0 as usize];
        if a.status != Status::Available || a.flag.is_some() {
            return false;
        }
        let p = &self.config.profiles[self.profile_of(agent).0 as usize];
        let c = channel.index();
        if a.working[c] >= p.concurrency[c] {
            return false;
        }
        // Busy on another channel that keeps the agent to it?
        Channel::ALL
            .iter()
            .all(|x| x.index() == c || a.working[x.index()] == 0 || p.route_any_channel[x.index()])
    }

    /// The strategy key agents are sorted by in the availability sets:
    /// the same for all strategies (idle longest first); other strategies
    /// choose among the eligible agents by their own measure.
    fn unindex(&mut self, agent: AgentId) {
        let p = self.profile_of(agent).0 as usize;
        for c in Channel::ALL {
            if let Some((k, t)) = self.agents[agent.0 as usize].indexed[c.index()].take() {
                self.available[p][c.index()].remove(&(k, t, agent));
            }
        }
    }

    fn reindex(&mut self, agent: AgentId) {
        self.unindex(agent);
        let p = self.profile_of(agent).0 as usize;
        for c in Channel::ALL {
            if self.can_take(agent, c) {
                let idle = self.agents[agent.0 as usize].idle_since;
                self.available[p][c.index()].insert((0, idle, agent));
                self.agents[agent.0 as usize].indexed[c.index()] = Some((0, idle));
            }
        }
    }

    fn derive(a: &Agent) -> AgentState {
        if a.connected > 0 {
            AgentState::OnContact
        } else if a.offered > 0 {
            AgentState::Incoming
        } else if a.acw > 0 {
            AgentState::AfterContactWork
        } else {
            match (a.flag, a.status) {
                (Some(Flag::Missed), _) => AgentState::Missed,
                (Some(Flag::Rejected), _) => AgentState::Rejected,
                (Some(Flag::Error), _) => AgentState::Error,
                (None, Status::Offline) => AgentState::Offline,
                (None, Status::Available) => AgentState::Available,
                (None, Status::Custom(n)) => AgentState::Custom(n),
            }
        }
    }

    /// Re-derives the agent's state, reporting a change, and reindexes.
    fn update(&mut self, now: Millis, agent: AgentId, out: &mut Vec<Effect>) {
        let a = &mut self.agents[agent.0 as usize];
        let state = Self::derive(a);
        if state != a.state {
            a.state = state;
            out.push(Effect::AgentState {
                agent,
                state,
                at: now,
            });
        }
        self.reindex(agent);
    }

    fn set_status(
        &mut self,
        now: Millis,
        agent: AgentId,
        status: Status,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.agent(agent)?;
        let a = &mut self.agents[agent.0 as usize];
        let became_available =
            status == Status::Available && (a.status != Status::Available || a.flag.is_some());
        a.status = status;
        a.flag = None;
        if became_available && a.working == [0; 3] {
            a.idle_since = now;
        }
        if status != Status::Available {
            // Going offline or on a break withdraws offers not yet accepted;
            // contacts in progress carry on and the status shows when they end.
            self.withdraw_offers(now, agent, out);
        }
        self.update(now, agent, out);
        self.route_agent(agent, now, out);
        Ok(())
    }

    fn offers_of(&self, agent: AgentId) -> Vec<ContactId> {
        if self.agents[agent.0 as usize].offered == 0 {
            return vec![];
        }
        let mut out: Vec<ContactId> = self
            .contacts
            .iter()
            .filter(|(_, c)| matches!(&c.stage, Stage::Offered { agents, .. } if agents.contains(&agent)))
            .map(|(id, _)| *id)
            .collect();
        out.sort();
        out
    }

    fn withdraw_offers(&mut self, now: Millis, agent: AgentId, out: &mut Vec<Effect>) {
        for c in self.offers_of(agent) {
            self.retract(now, c, agent, out);
        }
    }

    /// Removes `agent` from the contact's offer without flagging them;
    /// requeues the contact if nobody else is offered it.
    fn retract(&mut self, now: Millis, contact: ContactId, agent: AgentId, out: &mut Vec<Effect>) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        let Stage::Offered { agents, .. } = &mut c.stage else {
            return;
        };
        agents.retain(|a| *a != agent);
        let nobody = agents.is_empty();
        let channel = c.channel;
        self.release_offer(now, contact, agent, channel, out);
        if nobody {
            self.requeue(now, contact, out);
        }
    }

    /// Withdraws one agent's offer of a contact and frees the slot it held.
    fn release_offer(
        &mut self,
        now: Millis,
        contact: ContactId,
        agent: AgentId,
        channel: Channel,
        out: &mut Vec<Effect>,
    ) {
        out.push(Effect::Rescind { contact, agent });
        let a = &mut self.agents[agent.0 as usize];
        a.working[channel.index()] -= 1;
        a.offered -= 1;
        self.update(now, agent, out);
    }

    // ----- contacts -----

    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        now: Millis,
        contact: ContactId,
        queue: QueueId,
        channel: Channel,
        priority: u32,
        adjust: i64,
        out: &mut Vec<Effect>,
    ) {
        let known_queue = (queue.0 as usize) < self.config.queues.len();
        let refusal = if known_queue && self.contacts.contains_key(&contact) {
            Some(Refusal::Duplicate)
        } else {
            self.admission(queue)
        };
        if let Some(reason) = refusal {
            return out.push(Effect::Refused { contact, reason });
        }
        self.seq += 1;
        let key = (priority, (now as i64).saturating_sub(adjust), self.seq);
        self.contacts.insert(
            contact,
            Contact {
                queue,
                channel,
                enqueued_at: now,
                key,
                stage: Stage::Waiting,
            },
        );
        self.waiting[queue.0 as usize][channel.index()].insert(key, now, contact);
        self.in_queue[queue.0 as usize] += 1;
        self.schedule_delays(now, contact, queue, channel);
        self.route_contact(now, contact, out);
    }

    /// Why `queue` would refuse one more contact now, if it would.
    fn admission(&self, queue: QueueId) -> Option<Refusal> {
        match self.config.queues.get(queue.0 as usize) {
            None => Some(Refusal::UnknownQueue),
            Some(q) if !q.enabled => Some(Refusal::QueueDisabled),
            Some(q)
                if q.max_contacts
                    .is_some_and(|max| self.in_queue[queue.0 as usize] >= max) =>
            {
                Some(Refusal::QueueAtCapacity)
            }
            Some(_) => None,
        }
    }

    /// Wakes the router when the contact passes each profile's delay.
    fn schedule_delays(
        &mut self,
        now: Millis,
        contact: ContactId,
        queue: QueueId,
        channel: Channel,
    ) {
        let mut delays: Vec<Millis> = self.takers[queue.0 as usize][channel.index()]
            .iter()
            .map(|(_, d)| *d)
            .filter(|d| *d > 0)
            .collect();
        delays.sort_unstable();
        delays.dedup();
        for d in delays {
            self.timers
                .push(Reverse((now + d, Timer::ContactDelay(contact))));
        }
    }

    /// Puts a contact whose offer failed back in its place in the queue.
    fn requeue(&mut self, now: Millis, contact: ContactId, out: &mut Vec<Effect>) {
        let Some(c) = self.contacts.get_mut(&contact) else {
            return;
        };
        c.stage = Stage::Waiting;
        self.waiting[c.queue.0 as usize][c.channel.index()].insert(c.key, c.enqueued_at, contact);
        out.push(Effect::Requeued { contact });
        self.route_contact(now, contact, out);
    }

    /// Finds agents for a waiting contact, by the queue's strategy.
    fn route_contact(&mut self, now: Millis, contact: ContactId, out: &mut Vec<Effect>) {
        let c = &self.contacts[&contact];
        let (q, ch) = (c.queue.0 as usize, c.channel);
        let waited = now.saturating_sub(c.enqueued_at);
        if let Some(owner) = self.config.queues[q].owner {
            // An agent's own queue: theirs or nobody's; it waits until they can.
            if self.can_take(owner, ch) {
                self.offer(now, contact, vec![owner], out);
            }
            return;
        }
        let qc = &self.config.queues[q];
        let idle_before = now.saturating_sub(qc.min_agent_idle_ms);
        let mut best: Option<(u64, Millis, AgentId)> = None;
        let mut ring = Vec::new();
        let mut later_idle: Option<Millis> = None;
        for (profile, delay) in &self.takers[q][ch.index()] {
            if waited < *delay {
                continue;
            }
            let set = &self.available[profile.0 as usize][ch.index()];
            match qc.strategy {
                Strategy::LongestIdle => {
                    if let Some(first) = set.first() {
                        if first.1 <= idle_before {
                            if best.is_none_or(|b| (first.1, first.2) < (b.1, b.2)) {
                                best = Some(*first);
                            }
                        } else {
                            later_idle = Some(later_idle.map_or(first.1, |t| t.min(first.1)));
                        }
                    }
                }
                Strategy::LeastTalkTime | Strategy::FewestContacts => {
                    for cand in set.iter().take_while(|e| e.1 <= idle_before) {
                        let a = &self.agents[cand.2 .0 as usize];
                        let measure = if qc.strategy == Strategy::LeastTalkTime {
                            a.talk_ms
                        } else {
                            u64::from(a.handled)
                        };
                        if best.is_none_or(|b| (measure, cand.1, cand.2) < (b.0, b.1, b.2)) {
                            best = Some((measure, cand.1, cand.2));
                        }
                    }
                    if let Some(first) = set.iter().find(|e| e.1 > idle_before) {
                        later_idle = Some(later_idle.map_or(first.1, |t| t.min(first.1)));
                    }
                }
                Strategy::RingAll => {
                    ring.extend(set.iter().take_while(|e| e.1 <= idle_before).map(|e| e.2));
                    if let Some(first) = set.iter().find(|e| e.1 > idle_before) {
                        later_idle = Some(later_idle.map_or(first.1, |t| t.min(first.1)));
                    }
                }
            }
        }
        if qc.strategy == Strategy::RingAll && ch == Channel::Voice && !ring.is_empty() {
            ring.sort();
            ring.dedup();
            self.offer(now, contact, ring, out);
        } else if let Some((_, _, agent)) = best.or_else(|| ring.first().map(|a| (0, 0, *a))) {
            self.offer(now, contact, vec![agent], out);
        } else if let Some(idle) = later_idle {
            // Someone becomes idle long enough later: look again then.
            self.timers.push(Reverse((
                idle + qc.min_agent_idle_ms,
                Timer::ContactDelay(contact),
            )));
        }
    }

    fn offer(
        &mut self,
        now: Millis,
        contact: ContactId,
        agents: Vec<AgentId>,
        out: &mut Vec<Effect>,
    ) {
        self.seq += 1;
        let round = self.seq;
        let c = self
            .contacts
            .get_mut(&contact)
            .expect("offered contact exists");
        self.waiting[c.queue.0 as usize][c.channel.index()].remove(c.key, c.enqueued_at, contact);
        let (queue, channel) = (c.queue, c.channel);
        c.stage = Stage::Offered {
            agents: agents.clone(),
            round,
        };
        self.decisions += 1;
        for agent in agents {
            let a = &mut self.agents[agent.0 as usize];
            a.working[channel.index()] += 1;
            a.offered += 1;
            out.push(Effect::Offer {
                contact,
                agent,
                queue,
                channel,
            });
            self.update(now, agent, out);
        }
        self.timers.push(Reverse((
            now + self.config.offer_timeout_ms,
            Timer::OfferTimeout(contact, round),
        )));
    }

    /// Finds the best waiting contact for an agent who may have room, and
    /// offers it; repeats while the agent has room (chat concurrency).
    fn route_agent(&mut self, agent: AgentId, now: Millis, out: &mut Vec<Effect>) {
        let profile = self.profile_of(agent).0 as usize;
        let mut wake: Option<Millis> = None;
        loop {
            let idle_for = now.saturating_sub(self.agents[agent.0 as usize].idle_since);
            let mut best: Option<((u32, WaitKey), ContactId)> = None;
            let own = self.own_queue.get(agent.0 as usize).copied().flatten();
            for ch in Channel::ALL {
                if !self.can_take(agent, ch) {
                    continue;
                }
                // Contacts transferred to this agent come first (priority 0).
                if let Some(found) = own.and_then(|q| self.first_eligible(q, ch, now, 0)) {
                    if best.is_none_or(|b| (0, found.0) < b.0) {
                        best = Some(((0, found.0), found.1));
                    }
                }
                for (prio, queues) in &self.profiles[profile].groups[ch.index()] {
                    let mut group_best: Option<(WaitKey, ContactId)> = None;
                    for (q, delay) in queues {
                        let min_idle = self.config.queues[q.0 as usize].min_agent_idle_ms;
                        if idle_for < min_idle {
                            let at = self.agents[agent.0 as usize].idle_since + min_idle;
                            if self.waiting[q.0 as usize][ch.index()].len() > 0 {
                                wake = Some(wake.map_or(at, |w| w.min(at)));
                            }
                            continue;
                        }
                        match self.first_eligible(*q, ch, now, *delay) {
                            Some(found) => {
                                if group_best.is_none_or(|g| found < g) {
                                    group_best = Some(found);
                                }
                            }
                            // Someone waits but not yet long enough for this
                            // profile: look again when the oldest has. (Delay
                            // timers set at enqueue cover the usual case; this
                            // covers delays made longer by a reconfiguration.)
                            None => {
                                if let Some(oldest) =
                                    self.waiting[q.0 as usize][ch.index()].oldest_arrival()
                                {
                                    let at = oldest + delay;
                                    if at > now {
                                        wake = Some(wake.map_or(at, |w| w.min(at)));
                                    }
                                }
                            }
                        }
                    }
                    if let Some((key, c)) = group_best {
                        if best.is_none_or(|b| (*prio, key) < b.0) {
                            best = Some(((*prio, key), c));
                        }
                        break;
                    }
                }
            }
            match best {
                Some((_, contact)) => self.offer(now, contact, vec![agent], out),
                None => break,
            }
        }
        if let Some(at) = wake {
            self.timers.push(Reverse((at, Timer::AgentIdle(agent))));
        }
    }

    /// The first contact of a queue, in routing order, that has waited at least `delay`.
    fn first_eligible(
        &self,
        q: QueueId,
        ch: Channel,
        now: Millis,
        delay: Millis,
    ) -> Option<(WaitKey, ContactId)> {
        let cutoff = now.checked_sub(delay)?;
        self.waiting[q.0 as usize][ch.index()].first_arrived_by(cutoff, &self.contacts)
    }

    fn accept(
        &mut self,
        now: Millis,
        contact: ContactId,
        agent: AgentId,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.agent(agent)?;
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(EventError::UnknownContact(contact))?;
        let Stage::Offered { agents, .. } = &c.stage else {
            return Err(EventError::NotOffered(contact, agent));
        };
        if !agents.contains(&agent) {
            return Err(EventError::NotOffered(contact, agent));
        }
        let others: Vec<AgentId> = agents.iter().copied().filter(|a| *a != agent).collect();
        let (queue, channel) = (c.queue, c.channel);
        c.stage = Stage::Connected { agent, since: now };
        self.in_queue[queue.0 as usize] -= 1;
        let a = &mut self.agents[agent.0 as usize];
        a.offered -= 1;
        a.connected += 1;
        out.push(Effect::Connected { contact, agent });
        self.update(now, agent, out);
        for other in others {
            self.release_offer(now, contact, other, channel, out);
            self.route_agent(other, now, out);
        }
        Ok(())
    }

    /// A rejected or missed offer: the agent is flagged and leaves routing;
    /// the contact goes back to its place if nobody else is offered it.
    fn decline(
        &mut self,
        now: Millis,
        contact: ContactId,
        agent: AgentId,
        flag: Flag,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.agent(agent)?;
        let c = self
            .contacts
            .get(&contact)
            .ok_or(EventError::UnknownContact(contact))?;
        match &c.stage {
            Stage::Offered { agents, .. } if agents.contains(&agent) => {}
            _ => return Err(EventError::NotOffered(contact, agent)),
        }
        self.agents[agent.0 as usize].flag = Some(flag);
        self.retract(now, contact, agent, out);
        Ok(())
    }

    fn abandon(
        &mut self,
        now: Millis,
        contact: ContactId,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        let c = self
            .contacts
            .get(&contact)
            .ok_or(EventError::UnknownContact(contact))?
            .clone();
        match c.stage {
            Stage::Waiting => {
                self.waiting[c.queue.0 as usize][c.channel.index()].remove(
                    c.key,
                    c.enqueued_at,
                    contact,
                );
                self.in_queue[c.queue.0 as usize] -= 1;
                self.contacts.remove(&contact);
                out.push(Effect::Done { contact });
            }
            Stage::Offered { agents, .. } => {
                self.in_queue[c.queue.0 as usize] -= 1;
                self.contacts.remove(&contact);
                for agent in agents {
                    self.release_offer(now, contact, agent, c.channel, out);
                    self.route_agent(agent, now, out);
                }
                out.push(Effect::Done { contact });
            }
            // The customer hung up on the agent: the conversation ended.
            Stage::Connected { .. } => return self.end(now, contact, out),
            Stage::Acw { .. } => {}
        }
        Ok(())
    }

    fn transfer(
        &mut self,
        now: Millis,
        contact: ContactId,
        queue: QueueId,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        let c = self
            .contacts
            .get(&contact)
            .ok_or(EventError::UnknownContact(contact))?
            .clone();
        if !matches!(c.stage, Stage::Waiting | Stage::Offered { .. }) {
            return Err(EventError::WrongStage(contact));
        }
        if let Some(reason) = self.admission(queue) {
            out.push(Effect::Refused { contact, reason });
            return Ok(());
        }
        // Withdraw any offer, or take it out of its old queue.
        if let Stage::Offered { agents, .. } = &c.stage {
            for agent in agents.clone() {
                self.release_offer(now, contact, agent, c.channel, out);
            }
        } else {
            self.waiting[c.queue.0 as usize][c.channel.index()].remove(
                c.key,
                c.enqueued_at,
                contact,
            );
        }
        self.in_queue[c.queue.0 as usize] -= 1;
        self.seq += 1;
        let key = (c.key.0, now as i64, self.seq);
        let moved = self.contacts.get_mut(&contact).expect("checked above");
        moved.queue = queue;
        moved.key = key;
        moved.enqueued_at = now;
        moved.stage = Stage::Waiting;
        self.waiting[queue.0 as usize][c.channel.index()].insert(key, now, contact);
        self.in_queue[queue.0 as usize] += 1;
        self.schedule_delays(now, contact, queue, c.channel);
        out.push(Effect::Requeued { contact });
        self.route_contact(now, contact, out);
        if let Stage::Offered { agents, .. } = c.stage {
            for agent in agents {
                self.route_agent(agent, now, out);
            }
        }
        Ok(())
    }

    fn end(
        &mut self,
        now: Millis,
        contact: ContactId,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        let c = self
            .contacts
            .get_mut(&contact)
            .ok_or(EventError::UnknownContact(contact))?;
        let Stage::Connected { agent, since } = c.stage else {
            return Err(EventError::WrongStage(contact));
        };
        self.seq += 1;
        let round = self.seq;
        c.stage = Stage::Acw { agent, round };
        let a = &mut self.agents[agent.0 as usize];
        a.connected -= 1;
        a.acw += 1;
        a.talk_ms += now.saturating_sub(since);
        a.handled += 1;
        let timeout = self.config.agents[agent.0 as usize].acw_timeout_ms;
        if timeout > 0 {
            self.timers.push(Reverse((
                now + timeout,
                Timer::AcwTimeout(agent, contact, round),
            )));
        }
        self.update(now, agent, out);
        Ok(())
    }

    fn outbound(
        &mut self,
        now: Millis,
        contact: ContactId,
        agent: AgentId,
        queue: QueueId,
        channel: Channel,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.agent(agent)?;
        if (queue.0 as usize) >= self.config.queues.len() {
            return Err(EventError::UnknownQueue(queue));
        }
        if self.contacts.contains_key(&contact) {
            return Err(EventError::Duplicate(contact));
        }
        let a = &mut self.agents[agent.0 as usize];
        if a.offered > 0 || a.working[channel.index()] > 0 {
            return Err(EventError::Busy(agent));
        }
        a.working[channel.index()] += 1;
        a.connected += 1;
        self.seq += 1;
        self.contacts.insert(
            contact,
            Contact {
                queue,
                channel,
                enqueued_at: now,
                key: (0, now as i64, self.seq),
                stage: Stage::Connected { agent, since: now },
            },
        );
        out.push(Effect::Connected { contact, agent });
        self.update(now, agent, out);
        Ok(())
    }

    fn close_acw(
        &mut self,
        now: Millis,
        agent: AgentId,
        contact: ContactId,
        out: &mut Vec<Effect>,
    ) -> Result<(), EventError> {
        self.agent(agent)?;
        let c = self
            .contacts
            .get(&contact)
            .ok_or(EventError::UnknownContact(contact))?;
        if !matches!(c.stage, Stage::Acw { agent: a, .. } if a == agent) {
            return Err(EventError::WrongStage(contact));
        }
        let ch = c.channel.index();
        self.contacts.remove(&contact);
        let a = &mut self.agents[agent.0 as usize];
        a.acw -= 1;
        a.working[ch] -= 1;
        a.idle_since = now;
        out.push(Effect::Done { contact });
        self.update(now, agent, out);
        self.route_agent(agent, now, out);
        Ok(())
    }
}
