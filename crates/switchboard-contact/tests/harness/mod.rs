//! Drives [`Contact`]s against the real router (`switchboard-routing`) on a
//! simulated clock, the way the channel drivers do with sockets and tasks:
//! every output is acted on, routing's decisions come back as inputs, and
//! the flow's questions are answered from a small script.
//!
//! Routing's decisions are delivered before the enqueue's answer, as the
//! live routing service can (its updates reach a contact's inbox while the
//! task that enqueued it is still on its way back).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use switchboard_contact::{Contact, ContactInit, Decision, Input, Outbound, Output, Phase, Route};
use switchboard_flow::{check, ContactData, Effect, Event, Flow, FlowType, QueueRef, Severity};
use switchboard_model::contact_record::{
    AgentInfo, Channel, ContactRecord, DisconnectReason, Endpoint, InitiationMethod,
};
use switchboard_routing as r;

/// Queues, by name: index is the router's QueueId. "Small" holds one contact.
pub const QUEUES: [&str; 3] = ["Sales", "Support", "Small"];
/// Agents, by id: index is the router's AgentId. All share one profile
/// taking voice and chat from every queue.
pub const AGENTS: [&str; 3] = ["ann", "bob", "cat"];
/// Routing's offer timeout in the harness.
pub const OFFER_TIMEOUT_S: i64 = 20;

pub fn build(actions: Value) -> Arc<Flow> {
    build_typed(FlowType::ContactFlow, actions)
}

pub fn build_typed(ft: FlowType, actions: Value) -> Arc<Flow> {
    let start = actions[0]["Identifier"].as_str().unwrap().to_string();
    let text =
        json!({"Version": "2019-10-30", "StartAction": start, "Actions": actions}).to_string();
    let (flow, problems) = check(&text, ft);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    Arc::new(flow.unwrap())
}

pub fn end(id: &str) -> Value {
    json!({"Identifier": id, "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}})
}

pub fn say(id: &str, text: &str, next: &str) -> Value {
    json!({"Identifier": id, "Type": "MessageParticipant", "Parameters": {"Text": text},
           "Transitions": {"NextAction": next, "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}})
}

/// Sets the target queue and transfers to it; "Full" when it is at capacity.
pub fn to_queue(first: &str, queue: &str) -> Vec<Value> {
    vec![
        json!({"Identifier": first, "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": queue},
         "Transitions": {"NextAction": "xfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}}),
        json!({"Identifier": "xfer", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"NextAction": "bye", "Errors": [
            {"ErrorType": "QueueAtCapacity", "NextAction": "full"}, {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}}),
        say("full", "Full", "bye"),
        end("bye"),
    ]
}

/// Greets, then queues in `queue`.
pub fn queue_flow(queue: &str) -> Arc<Flow> {
    let mut actions = vec![say("hello", "Hello", "q")];
    actions.extend(to_queue("q", queue));
    build(Value::Array(actions))
}

/// One contact driven through the world, and what its outputs said.
pub struct Driven {
    pub contact: Contact,
    /// Every output, in order, as short words for assertions.
    pub log: Vec<String>,
    /// Every record it asked to write (the last is what the database holds).
    pub written: Vec<ContactRecord>,
    /// Records handed out as closed (a transfer's first contact, the last).
    pub closed: Vec<ContactRecord>,
    /// The request a call's GetParticipantInput waits on (keys answer it).
    pub input_request: Option<u64>,
    /// A transfer to a number being dialled: its request and number.
    pub dialling: Option<(Option<u64>, String)>,
}

pub struct World {
    pub now: DateTime<Utc>,
    pub router: r::Router,
    pub contacts: Vec<Driven>,
    /// Contact ids in routing, by the number the router knows them by.
    ids: BTreeMap<String, r::ContactId>,
    next_id: u64,
    /// Inputs due to contacts, by contact id (delivered in order).
    inbox: VecDeque<(String, Input)>,
    /// Every agent state change, as "agent:State".
    pub agent_states: Vec<String>,
    /// Flows that LoadFlow finds, by reference.
    pub flows: BTreeMap<String, Arc<Flow>>,
    /// CheckHoursOfOperation's answer.
    pub open: bool,
    /// Agents whose phones accept every offer at once (auto-accept).
    pub auto_accept: Vec<String>,
}

impl World {
    pub fn new() -> World {
        let profile = r::ProfileConfig {
            concurrency: [1, 2, 0],
            route_any_channel: [false, false, false],
            queues: (0..QUEUES.len() as u32)
                .flat_map(|q| {
                    [r::Channel::Voice, r::Channel::Chat].map(|channel| r::ProfileQueue {
                        queue: r::QueueId(q),
                        channel,
                        priority: 1,
                        delay_ms: 0,
                    })
                })
                .collect(),
        };
        let config = r::RoutingConfig {
            queues: QUEUES
                .iter()
                .map(|q| r::QueueConfig {
                    max_contacts: (*q == "Small").then_some(1),
                    ..Default::default()
                })
                .collect(),
            profiles: vec![profile],
            agents: AGENTS
                .iter()
                .map(|_| r::AgentConfig {
                    profile: r::ProfileId(0),
                    acw_timeout_ms: 0,
                })
                .collect(),
            offer_timeout_ms: OFFER_TIMEOUT_S as u64 * 1000,
        };
        World {
            now: Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
            router: r::Router::new(config).unwrap(),
            contacts: vec![],
            ids: BTreeMap::new(),
            next_id: 1,
            inbox: VecDeque::new(),
            agent_states: vec![],
            flows: BTreeMap::new(),
            open: true,
            auto_accept: vec![],
        }
    }

    fn ms(&self) -> u64 {
        (self.now - Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap()).num_milliseconds() as u64
    }

    /// A customer calls (or starts a chat) into `flow`.
    pub fn arrive(&mut self, id: &str, channel: Channel, flow: Arc<Flow>) -> usize {
        let data = match channel {
            Channel::Chat => ContactData::chat(id, "Dana"),
            _ => ContactData::voice(id, "+442079460999", "+442079460123"),
        };
        self.start(ContactInit {
            id: id.into(),
            channel,
            initiation_method: match channel {
                Channel::Chat => InitiationMethod::Api,
                _ => InitiationMethod::Inbound,
            },
            customer_endpoint: Endpoint {
                kind: "TELEPHONE_NUMBER".into(),
                address: "+442079460999".into(),
            },
            customer_name: None,
            system_endpoint: Endpoint::default(),
            data,
            flow: Some(flow),
            flow_id: Some("flow-1".into()),
            outbound: None,
            seed: 7,
            initial_message: None,
        })
    }

    /// An agent calls out; the call counts in `queue`. As the driver does,
    /// routing hears it first.
    pub fn call_out(&mut self, id: &str, agent: &str, queue: &str) -> usize {
        let number = self.number(id);
        let mut effects = vec![];
        self.router
            .handle(
                self.ms(),
                r::Event::Outbound {
                    contact: number,
                    agent: agent_id(agent),
                    queue: queue_id(queue),
                    channel: r::Channel::Voice,
                },
                &mut effects,
            )
            .unwrap();
        self.deliver(effects);
        self.start(ContactInit {
            id: id.into(),
            channel: Channel::Voice,
            initiation_method: InitiationMethod::Outbound,
            customer_endpoint: Endpoint::default(),
            customer_name: None,
            system_endpoint: Endpoint::default(),
            data: ContactData::voice(id, "+442079460999", "+442079460123"),
            flow: None,
            flow_id: None,
            outbound: Some(Outbound {
                agent: info(agent),
                queue: (format!("q-{queue}"), queue.into()),
            }),
            seed: 7,
            initial_message: None,
        })
    }

    fn start(&mut self, init: ContactInit) -> usize {
        let contact = Contact::new(init, self.now);
        self.contacts.push(Driven {
            contact,
            log: vec![],
            written: vec![],
            closed: vec![],
            input_request: None,
            dialling: None,
        });
        self.pump();
        self.contacts.len() - 1
    }

    pub fn c(&self, i: usize) -> &Driven {
        &self.contacts[i]
    }

    /// Hands `input` to contact `i` and acts on everything that follows.
    pub fn tell(&mut self, i: usize, input: Input) {
        let now = self.now;
        self.contacts[i].contact.handle(now, input);
        self.pump();
    }

    /// An agent sets a status (Available, Offline).
    pub fn status(&mut self, agent: &str, available: bool) {
        let status = if available {
            r::Status::Available
        } else {
            r::Status::Offline
        };
        self.route_event(r::Event::SetStatus {
            agent: agent_id(agent),
            status,
        });
        self.pump();
    }

    /// The agent accepts in their CCP (straight to routing, as the CCP does).
    pub fn accept(&mut self, i: usize, agent: &str) {
        let contact = self.ids[self.contacts[i].contact.id()];
        self.route_event(r::Event::Accept {
            contact,
            agent: agent_id(agent),
        });
        self.pump();
    }

    /// The agent closes their after-contact work.
    pub fn close_acw(&mut self, contact: &str, agent: &str) {
        let contact = self.ids[contact];
        self.route_event(r::Event::CloseAcw {
            agent: agent_id(agent),
            contact,
        });
        self.pump();
    }

    /// Lets `seconds` pass, running the router's and the contacts' timers
    /// in time order.
    pub fn advance(&mut self, seconds: i64) {
        let until = self.now + Duration::seconds(seconds);
        loop {
            let router_wake = self.router.next_wake().map(|ms| {
                Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap()
                    + Duration::milliseconds(ms as i64)
            });
            let contact_wake = self
                .contacts
                .iter()
                .filter_map(|d| d.contact.poll_timeout())
                .min();
            let next = [router_wake, contact_wake].into_iter().flatten().min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    self.route_event(r::Event::Tick);
                    let now = self.now;
                    for d in &mut self.contacts {
                        d.contact.handle_timeout(now);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
        self.route_event(r::Event::Tick);
        self.pump();
    }

    /// Whether routing still holds `contact` (waiting, offered, connected
    /// or in after-contact work).
    pub fn routing_holds(&self, contact: &str) -> bool {
        self.ids
            .get(contact)
            .and_then(|id| self.router.contacts().into_iter().find(|c| c.0 == *id))
            .is_some()
    }

    /// Where routing has `contact` now, if it holds it.
    pub fn routing_stage(&self, contact: &str) -> Option<r::ContactStage> {
        let id = self.ids.get(contact)?;
        self.router
            .contacts()
            .into_iter()
            .find(|c| c.0 == *id)
            .map(|c| c.2)
    }

    /// The agent transfers contact `i` to `queue`: as the driver does, the
    /// next contact is enqueued under `next` first, then the contact hears it.
    pub fn transfer_to_queue(
        &mut self,
        i: usize,
        next: &str,
        queue: &str,
        reason: DisconnectReason,
    ) {
        let number = self.number(next);
        let mut effects = vec![];
        let channel = channel_of(self.contacts[i].contact.record().channel);
        self.router
            .handle(
                self.ms(),
                r::Event::Enqueue {
                    contact: number,
                    queue: queue_id(queue),
                    channel,
                    priority: 5,
                    time_adjustment_ms: 0,
                },
                &mut effects,
            )
            .unwrap();
        self.deliver(effects);
        let now = self.now;
        self.contacts[i].contact.handle(
            now,
            Input::TransferredToQueue {
                next: next.into(),
                queue: (format!("q-{queue}"), queue.into()),
                reason,
            },
        );
        self.pump();
    }

    /// A new routing number for contact id `id`.
    fn number(&mut self, id: &str) -> r::ContactId {
        let number = r::ContactId(self.next_id);
        self.next_id += 1;
        self.ids.insert(id.to_string(), number);
        number
    }

    fn route_event(&mut self, event: r::Event) {
        let mut effects = vec![];
        let _ = self.router.handle(self.ms(), event, &mut effects);
        self.deliver(effects);
    }

    /// Routing's effects, as the routing service hands them to contacts.
    fn deliver(&mut self, effects: Vec<r::Effect>) {
        for effect in effects {
            match effect {
                r::Effect::Offer { contact, agent, .. } => {
                    let contact = self.name_of(contact);
                    let agent = AGENTS[agent.0 as usize].to_string();
                    self.inbox.push_back((
                        contact.clone(),
                        Input::Routing(Decision::Offer { contact, agent }),
                    ));
                }
                r::Effect::Rescind { contact, agent } => {
                    let contact = self.name_of(contact);
                    let agent = AGENTS[agent.0 as usize].to_string();
                    self.inbox.push_back((
                        contact.clone(),
                        Input::Routing(Decision::Rescind { contact, agent }),
                    ));
                }
                r::Effect::Connected { contact, agent } => {
                    let contact = self.name_of(contact);
                    let agent = info(AGENTS[agent.0 as usize]);
                    self.inbox
                        .push_back((contact.clone(), Input::Connected { contact, agent }));
                }
                r::Effect::AgentState { agent, state, .. } => self
                    .agent_states
                    .push(format!("{}:{state:?}", AGENTS[agent.0 as usize])),
                _ => {}
            }
        }
    }

    fn name_of(&self, id: r::ContactId) -> String {
        self.ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .unwrap()
    }

    /// The contact that answers to `id` now.
    fn index_of(&self, id: &str) -> Option<usize> {
        self.contacts.iter().position(|d| d.contact.id() == id)
    }

    /// Acts on every output until nothing more happens.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut busy = false;
            for i in 0..self.contacts.len() {
                while let Some(out) = self.contacts[i].contact.poll_output() {
                    busy = true;
                    self.act(i, out);
                }
            }
            while let Some((id, input)) = self.inbox.pop_front() {
                busy = true;
                if let Some(i) = self.index_of(&id) {
                    let now = self.now;
                    self.contacts[i].contact.handle(now, input);
                }
            }
            if !busy {
                return;
            }
        }
        panic!("the world did not settle");
    }

    fn act(&mut self, i: usize, out: Output) {
        let id = self.contacts[i].contact.id().to_string();
        let words = describe(&out);
        self.contacts[i].log.push(words);
        match out {
            Output::Record(record) => self.contacts[i].written.push(*record),
            Output::Closed(record) => {
                self.contacts[i].written.push((*record).clone());
                self.contacts[i].closed.push(*record);
            }
            Output::Flow {
                request, effect, ..
            } => self.answer(i, &id, request, effect),
            Output::Enqueue {
                request,
                contact,
                queue,
                priority,
                time_adjustment_seconds,
            } => {
                let number = self.number(&contact);
                let mut effects = vec![];
                let result = self.router.handle(
                    self.ms(),
                    r::Event::Enqueue {
                        contact: number,
                        queue: queue_id(&queue.name),
                        channel: channel_of(self.contacts[i].contact.record().channel),
                        priority,
                        time_adjustment_ms: time_adjustment_seconds * 1000,
                    },
                    &mut effects,
                );
                let refused = effects.iter().find_map(|e| match e {
                    r::Effect::Refused { reason, .. } => Some(*reason),
                    _ => None,
                });
                self.deliver(effects);
                let event = match (result, refused) {
                    (Err(e), _) => Event::Failed(e.to_string()),
                    (Ok(()), Some(r::Refusal::QueueAtCapacity)) => Event::QueueAtCapacity,
                    (Ok(()), Some(other)) => Event::Failed(other.to_string()),
                    (Ok(()), None) => Event::Enqueued,
                };
                self.inbox
                    .push_back((id, Input::FlowAnswer { request, event }));
            }
            Output::Route(route) => {
                let event = match route {
                    Route::Abandon { contact } => match self.ids.get(&contact) {
                        Some(c) => r::Event::Abandon { contact: *c },
                        None => return,
                    },
                    Route::Accept { contact, agent } => r::Event::Accept {
                        contact: self.ids[&contact],
                        agent: agent_id(&agent),
                    },
                    Route::Reject { contact, agent } => r::Event::Reject {
                        contact: self.ids[&contact],
                        agent: agent_id(&agent),
                    },
                    Route::AgentError { agent } => r::Event::AgentError {
                        agent: agent_id(&agent),
                    },
                    Route::ContactEnded { contact } => r::Event::ContactEnded {
                        contact: self.ids[&contact],
                    },
                };
                self.route_event(event);
            }
            Output::LoadFlow { request, flow } => {
                let flow = self
                    .flows
                    .get(&flow)
                    .cloned()
                    .ok_or(switchboard_contact::FlowUnavailable::NotFound(flow));
                self.inbox
                    .push_back((id, Input::FlowLoaded { request, flow }));
            }
            Output::Offer { agent } if self.auto_accept.contains(&agent) => {
                self.inbox.push_back((id, Input::Accept { agent }));
            }
            Output::Ended { .. } => {
                // The driver hangs up and stores files, then closes.
                self.inbox.push_back((id, Input::Close));
            }
            _ => {}
        }
    }

    /// Answers the flow as a quick driver would: prompts finish at once,
    /// the hours are `open`, queues are found by name, functions answer.
    fn answer(&mut self, i: usize, id: &str, request: u64, effect: Effect) {
        let event = match effect {
            Effect::Play { .. } => Some(Event::PromptFinished),
            Effect::GetInput { .. } => {
                self.contacts[i].input_request = Some(request);
                None
            }
            Effect::PlayLoop { .. } => None,
            Effect::CheckHours { .. } => Some(Event::HoursChecked { open: self.open }),
            Effect::ResolveQueue { queue, .. } => {
                let name = queue.unwrap_or_default();
                Some(if QUEUES.contains(&name.as_str()) {
                    Event::QueueFound(QueueRef {
                        id: format!("q-{name}"),
                        name,
                    })
                } else {
                    Event::Failed(format!("no queue '{name}'"))
                })
            }
            Effect::TransferToNumber { number, .. } => {
                self.contacts[i].dialling = Some((Some(request), number));
                None
            }
            Effect::TransferToFlow { flow } => Some(if self.flows.contains_key(&flow) {
                Event::FlowFound
            } else {
                Event::Failed(format!("no flow '{flow}'"))
            }),
            Effect::InvokeFunction { .. } => Some(Event::FunctionResult(BTreeMap::new())),
            _ => Some(Event::Failed("not in the harness".into())),
        };
        if let Some(event) = event {
            self.inbox
                .push_back((id.to_string(), Input::FlowAnswer { request, event }));
        }
    }

    /// The caller presses keys for the GetParticipantInput waiting.
    pub fn keys(&mut self, i: usize, keys: &str) {
        let request = self.contacts[i].input_request.take().unwrap();
        self.tell(
            i,
            Input::FlowAnswer {
                request,
                event: Event::Input(keys.into()),
            },
        );
    }

    /// The last record written for contact `i`.
    pub fn record(&self, i: usize) -> &ContactRecord {
        self.contacts[i].written.last().unwrap()
    }

    /// The actions contact `i`'s flows ran, as its last record lists them.
    pub fn path(&self, i: usize) -> Vec<&str> {
        self.record(i)
            .flow_path
            .iter()
            .map(|s| s.action.as_str())
            .collect()
    }

    pub fn phase(&self, i: usize) -> Phase {
        self.contacts[i].contact.phase()
    }

    /// Whether contact `i`'s outputs included `words` (see [`describe`]).
    pub fn said(&self, i: usize, words: &str) -> bool {
        self.contacts[i].log.iter().any(|w| w == words)
    }
}

pub fn info(agent: &str) -> AgentInfo {
    AgentInfo {
        id: agent.into(),
        username: format!("{agent}.user"),
        ..Default::default()
    }
}

fn agent_id(agent: &str) -> r::AgentId {
    r::AgentId(AGENTS.iter().position(|a| *a == agent).unwrap() as u32)
}

fn queue_id(name: &str) -> r::QueueId {
    r::QueueId(QUEUES.iter().position(|q| *q == name).unwrap() as u32)
}

fn channel_of(channel: Channel) -> r::Channel {
    match channel {
        Channel::Chat => r::Channel::Chat,
        Channel::Task => r::Channel::Task,
        _ => r::Channel::Voice,
    }
}

/// An output in a few words: "offer ann", "route abandon", "ended CUSTOMER_DISCONNECT".
pub fn describe(out: &Output) -> String {
    match out {
        Output::Record(_) => "record".into(),
        Output::Closed(r) => format!("closed {}", r.id),
        Output::Flow { effect, .. } => format!("flow {}", effect_name(effect)),
        Output::Enqueue { queue, .. } => format!("enqueue {}", queue.name),
        Output::Route(route) => match route {
            Route::Abandon { .. } => "route abandon".into(),
            Route::Accept { agent, .. } => format!("route accept {agent}"),
            Route::Reject { agent, .. } => format!("route reject {agent}"),
            Route::AgentError { agent } => format!("route error {agent}"),
            Route::ContactEnded { .. } => "route ended".into(),
        },
        Output::LoadFlow { flow, .. } => format!("load {flow}"),
        Output::LoadBot { bot, .. } => format!("load bot {bot}"),
        Output::Say { .. } => "say".into(),
        Output::Listen { .. } => "listen".into(),
        Output::MediaStreaming { directions } => match directions {
            Some(_) => "stream media".into(),
            None => "stop streaming".into(),
        },
        Output::CallBotHook { function, .. } => format!("bot hook {function}"),
        Output::StopMedia => "stop media".into(),
        Output::FlowFailed { .. } => "flow failed".into(),
        Output::Queued { queue_flow } => {
            format!("queued{}", if *queue_flow { " with flow" } else { "" })
        }
        Output::QueueFlowEnded => "queue flow ended".into(),
        Output::Offer { agent } => format!("offer {agent}"),
        Output::Withdraw { agent } => format!("withdraw {agent}"),
        Output::AgentConnected { agent } => format!("connected {agent}"),
        Output::AgentDone {
            agent, transferred, ..
        } => {
            format!(
                "agent done {agent}{}",
                if *transferred { " transferred" } else { "" }
            )
        }
        Output::ConnectedAfterEnd { agent } => format!("connected after end {agent}"),
        Output::Held(h) => format!("held {h}"),
        Output::DropThirdParty => "drop third party".into(),
        Output::Ended { reason } => format!("ended {reason}"),
    }
}

fn effect_name(effect: &Effect) -> &'static str {
    match effect {
        Effect::Play { .. } => "play",
        Effect::GetInput { .. } => "input",
        Effect::PlayLoop { .. } => "loop",
        Effect::TransferToNumber { .. } => "dial",
        Effect::CheckHours { .. } => "hours",
        Effect::ResolveQueue { .. } => "queue",
        Effect::TransferToFlow { .. } => "flow",
        Effect::InvokeFunction { .. } => "function",
        _ => "other",
    }
}

pub fn reason(record: &ContactRecord) -> Option<DisconnectReason> {
    record.disconnect_reason
}
