//! The contact's state machine: [`Contact`].

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use switchboard_flow::model::EventHook;
use switchboard_flow::{ContactData, Effect, Event, Flow, Outcome, Session};
use switchboard_model::contact_record::{
    Channel, ContactState, DisconnectReason, Endpoint, FlowStep, InitiationMethod, QueueInfo,
};
use switchboard_model::ContactRecord;

use crate::{ContactInit, Decision, FlowUnavailable, Input, Output, Phase, Route};

/// What the contact waits for before its flow goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    /// The answer to request `.0` (an effect, an enqueue, a flow to load).
    Answer(u64),
    /// A chat's GetParticipantInput (request `request`): the customer's
    /// next message, or InputTimeout at `at`.
    Input {
        request: u64,
        at: DateTime<Utc>,
    },
    /// A Wait: TimerFired at `at`, or CustomerReturned first if it listens.
    Timer {
        at: DateTime<Utc>,
        customer_returned: bool,
    },
    /// A loop plays (request `request`); TimerFired at `until` if it has one.
    Loop {
        request: u64,
        until: Option<DateTime<Utc>>,
    },
    /// A bot listens: the customer's next message, or silence at `at`.
    BotInput {
        at: DateTime<Utc>,
    },
    /// A bot's code hook function (request `request`), answered by `at`
    /// (the shell's own deadline is shorter: this catches a task that died).
    BotHook {
        request: u64,
        at: DateTime<Utc>,
    },
    /// A call's bot line plays (request `request`), over by `at` at the latest.
    BotSay {
        request: u64,
        at: DateTime<Utc>,
    },
}

/// How long a bot waits for the customer to say something (Lex's idle
/// session time for text).
const BOT_INPUT_SECONDS: i64 = 300;
/// The longest a code hook may take before the bot gives up on it.
const BOT_HOOK_SECONDS: i64 = 30;
/// The longest a bot's line may play before the bot goes on.
const BOT_LINE_SECONDS: i64 = 120;

/// A bot the flow handed the customer to.
struct BotTalk {
    engine: Arc<switchboard_nlu::Engine>,
    dialog: switchboard_nlu::Dialog,
    voice: String,
    /// On a call, what the dialog asked for that waits for a line to play.
    queued: VecDeque<switchboard_nlu::Effect>,
}

/// The phrases a caller is likely to say next, for recognisers that take
/// hints: the intents' sample utterances (slot references left out), or a
/// slot's values, or yes and no.
fn bot_phrases(
    engine: &switchboard_nlu::Engine,
    expecting: &switchboard_nlu::Expecting,
) -> Vec<String> {
    use switchboard_nlu::Expecting;
    const MOST: usize = 60;
    let strip = |u: &str| {
        let mut out = String::new();
        let mut rest = u;
        while let Some((before, after)) = rest.split_once('{') {
            out.push_str(before);
            rest = after.split_once('}').map_or("", |(_, tail)| tail);
        }
        out.push_str(rest);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    match expecting {
        Expecting::Intent => engine
            .locale
            .intents
            .iter()
            .flat_map(|i| i.sample_utterances.iter().take(5))
            .map(|u| strip(u))
            .filter(|u| !u.is_empty())
            .take(MOST)
            .collect(),
        Expecting::Slot { slot_type, .. } => {
            use switchboard_nlu::BuiltIn;
            let examples: &[&str] = match BuiltIn::from_name(slot_type) {
                Some(
                    BuiltIn::Number
                    | BuiltIn::Digits
                    | BuiltIn::PhoneNumber
                    | BuiltIn::AlphaNumeric,
                ) => &[
                    "one two three four five six seven eight nine zero",
                    "oh",
                    "double",
                ],
                Some(BuiltIn::Currency) => &["dollars", "cents", "hundred", "thousand"],
                Some(BuiltIn::Date) => &[
                    "today",
                    "tomorrow",
                    "Monday",
                    "Friday",
                    "next week",
                    "the first of",
                ],
                Some(BuiltIn::Time) => &[
                    "in the morning",
                    "in the afternoon",
                    "o'clock",
                    "half past",
                    "noon",
                ],
                Some(BuiltIn::Confirmation) => &["yes", "no"],
                Some(BuiltIn::Email) => &["at", "dot com"],
                _ => &[],
            };
            let listed = engine
                .locale
                .slot_types
                .iter()
                .filter(|t| &t.name == slot_type)
                .flat_map(|t| t.values.iter().map(|v| v.value.clone()));
            listed
                .chain(examples.iter().map(|e| e.to_string()))
                .take(MOST)
                .collect()
        }
        Expecting::Confirmation => vec!["yes".into(), "no".into()],
    }
}

/// What the flow gave StartBot, kept while the bot loads.
struct BotStart {
    prompt: Option<switchboard_flow::Rendered>,
    voice: String,
    session_attributes: std::collections::BTreeMap<String, String>,
}

/// One contact of any channel. See the crate's documentation.
pub struct Contact {
    id: String,
    channel: Channel,
    phase: Phase,
    /// The time of the input being handled.
    now: DateTime<Utc>,
    session: Option<Session>,
    /// Counts sessions, so each one's random choices differ.
    session_no: u64,
    seed: u64,
    data: ContactData,
    record: ContactRecord,
    waiting: Waiting,
    /// Numbers requests, so an answer to an older one is never taken for
    /// the one awaited now.
    request_no: u64,
    /// Events the contact answers itself, fed after the current one.
    pending: VecDeque<Event>,
    /// Routing holds (or is about to hold) the contact: it must hear the
    /// end (abandon) unless an agent took it.
    enqueue_sent: bool,
    /// The enqueue routing has not answered yet.
    enqueue_request: Option<u64>,
    /// The agent offered the contact now.
    offered: Option<String>,
    /// An offer that came before the flow finished queuing (routing can
    /// decide faster than the flow ends).
    early_offer: Option<String>,
    /// The agent connected now.
    agent: Option<String>,
    held_since: Option<DateTime<Utc>>,
    /// A transfer to a number is being dialled or is connected; whether
    /// the flow goes on when the third party hangs up.
    third_party_continues: Option<bool>,
    closed: bool,
    outputs: VecDeque<Output>,
    /// The bot being loaded for StartBot.
    bot_start: Option<BotStart>,
    /// The bot the customer talks to now.
    bot: Option<BotTalk>,
    /// What a chat customer wrote while nothing listened (the widget's
    /// first message): as in Connect, the first bot hears it first.
    unheard: Option<String>,
    /// The bot block's own prompt, said before the bot's first line.
    bot_prompt: Option<switchboard_flow::Rendered>,
}

impl Contact {
    /// A contact that starts now: its first record is written, and its
    /// flow runs as far as it can (or the outbound call's agent is on it).
    pub fn new(init: ContactInit, now: DateTime<Utc>) -> Contact {
        let mut record = ContactRecord {
            id: init.id.clone(),
            channel: init.channel,
            initiation_method: init.initiation_method,
            initiation_timestamp: now,
            connected_to_system_timestamp: Some(now),
            customer_endpoint: init.customer_endpoint,
            customer_name: init.customer_name,
            system_endpoint: init.system_endpoint,
            flow_id: init.flow_id,
            attributes: init.data.attributes.clone(),
            state: ContactState::InFlow,
            ..Default::default()
        };
        let mut phase = Phase::InFlow;
        let mut agent = None;
        if let Some(outbound) = &init.outbound {
            record.queue = Some(QueueInfo {
                id: outbound.queue.0.clone(),
                name: outbound.queue.1.clone(),
                enqueue_timestamp: now,
                dequeue_timestamp: Some(now),
                duration_seconds: Some(0.0),
            });
            let mut info = outbound.agent.clone();
            info.connected_to_agent_timestamp = now;
            agent = Some(info.id.clone());
            record.agent = Some(info);
            record.state = ContactState::Connected;
            phase = Phase::WithAgent;
        }
        let mut contact = Contact {
            id: init.id,
            channel: init.channel,
            phase,
            now,
            session: None,
            session_no: 0,
            seed: init.seed,
            data: init.data,
            record,
            waiting: Waiting::Nothing,
            request_no: 0,
            pending: VecDeque::new(),
            enqueue_sent: false,
            enqueue_request: None,
            offered: None,
            early_offer: None,
            agent,
            held_since: None,
            third_party_continues: None,
            closed: false,
            outputs: VecDeque::new(),
            bot_start: None,
            bot: None,
            unheard: init
                .initial_message
                .filter(|_| init.channel != Channel::Voice),
            bot_prompt: None,
        };
        contact.save();
        match (init.outbound, init.flow) {
            (Some(_), _) => {}
            (None, Some(flow)) => contact.start_session(flow),
            (None, None) => contact.end(DisconnectReason::ContactFlowDisconnect),
        }
        contact.settle();
        contact
    }

    /// Handles what happened at `now`; then [`Contact::poll_output`].
    pub fn handle(&mut self, now: DateTime<Utc>, input: Input) {
        self.now = now;
        match input {
            Input::FlowAnswer { request, event } => self.flow_answer(request, event),
            Input::FlowLoaded { request, flow } => self.flow_loaded(request, flow),
            Input::CustomerSaid(text) => match self.waiting {
                Waiting::BotInput { .. } => {
                    self.waiting = Waiting::Nothing;
                    self.bot_input(switchboard_nlu::Input::Said(text));
                }
                Waiting::Input { .. } => {
                    self.waiting = Waiting::Nothing;
                    self.unheard = None;
                    self.feed(Event::Input(text));
                }
                Waiting::Timer {
                    customer_returned: true,
                    ..
                } => {
                    self.waiting = Waiting::Nothing;
                    self.feed(Event::CustomerReturned);
                }
                // Written while a bot loads or calls its code hook: that
                // bot hears it next (later messages add to it).
                _ if self.phase == Phase::InFlow
                    && self.channel != Channel::Voice
                    && (self.bot.is_some() || self.bot_start.is_some()) =>
                {
                    self.unheard = Some(match self.unheard.take() {
                        Some(before) => format!("{before} {text}"),
                        None => text,
                    });
                }
                _ => {}
            },
            Input::Routing(decision) => self.routing(decision),
            Input::Accept { agent } => {
                if self.offered.as_ref() == Some(&agent) && self.phase == Phase::Queued {
                    self.outputs.push_back(Output::Route(Route::Accept {
                        contact: self.id.clone(),
                        agent,
                    }));
                }
            }
            Input::Declined { agent } => {
                if self.take_offer(&agent) {
                    self.outputs.push_back(Output::Route(Route::Reject {
                        contact: self.id.clone(),
                        agent,
                    }));
                }
            }
            Input::Unreachable { agent } => {
                if self.take_offer(&agent) {
                    self.outputs
                        .push_back(Output::Route(Route::AgentError { agent }));
                }
            }
            Input::Connected { contact, agent } => self.connected(contact, agent),
            Input::Hold(hold) => self.hold(hold),
            Input::CustomerLeft => self.end(DisconnectReason::CustomerDisconnect),
            Input::AgentLeft => {
                if self.phase == Phase::WithAgent {
                    self.end(DisconnectReason::AgentDisconnect);
                }
            }
            Input::Lost(reason) => self.end(reason),
            Input::ColdTransfer => {
                if self.phase == Phase::WithAgent {
                    self.agent_done(true);
                    self.phase = Phase::InFlow;
                    self.session = None;
                    self.waiting = Waiting::Nothing;
                    self.third_party_continues = Some(false);
                    self.save();
                }
            }
            Input::ThirdPartyJoined { number } => self.third_party_joined(number),
            Input::ThirdPartyFailed { no_answer } => {
                if self.phase == Phase::InFlow && self.third_party_continues.take().is_some() {
                    if self.session.is_none() {
                        // An agent's transfer failed: nobody is left to talk to.
                        self.end(DisconnectReason::ThirdPartyDisconnect);
                    } else {
                        self.waiting = Waiting::Nothing;
                        self.feed(if no_answer {
                            Event::ConnectionTimeout
                        } else {
                            Event::CallFailed
                        });
                    }
                }
            }
            Input::ThirdPartyLeft => self.third_party_left(),
            Input::TransferredToQueue {
                next,
                queue,
                reason,
            } => self.transferred_to_queue(next, queue, reason),
            Input::Recording(info) => self.record.recording = Some(info),
            Input::Transcript(info) => self.record.transcript = Some(info),
            Input::Quality(quality) => self.record.quality = Some(quality),
            Input::Close => self.close(),
            Input::BotLoaded { request, bot } => self.bot_loaded(request, bot),
            Input::SayFinished { request } => {
                if matches!(self.waiting, Waiting::BotSay { request: r, .. } if r == request) {
                    self.waiting = Waiting::Nothing;
                    self.bot_effects(Vec::new());
                }
            }
            Input::CustomerSilent => {
                if matches!(self.waiting, Waiting::BotInput { .. }) {
                    self.waiting = Waiting::Nothing;
                    self.bot_input(switchboard_nlu::Input::Silence);
                }
            }
            Input::BotHookAnswered { request, answer } => {
                if matches!(self.waiting, Waiting::BotHook { request: r, .. } if r == request)
                    && self.phase == Phase::InFlow
                {
                    self.waiting = Waiting::Nothing;
                    self.bot_input(switchboard_nlu::Input::HookAnswered(answer));
                }
            }
        }
        self.settle();
    }

    /// The contact's next deadline: a Wait, a loop's interrupt, a chat's
    /// input time limit. Call [`Contact::handle_timeout`] then.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        if self.phase == Phase::Ended {
            return None;
        }
        match self.waiting {
            Waiting::Input { at, .. }
            | Waiting::Timer { at, .. }
            | Waiting::BotInput { at }
            | Waiting::BotHook { at, .. }
            | Waiting::BotSay { at, .. }
            | Waiting::Loop {
                until: Some(at), ..
            } => Some(at),
            _ => None,
        }
    }

    /// Runs what is due by `now` (early calls do nothing).
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) {
        self.now = now;
        if self.phase == Phase::Ended {
            return;
        }
        match self.waiting {
            Waiting::Input { at, .. } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.feed(Event::InputTimeout);
            }
            Waiting::Timer { at, .. } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.feed(Event::TimerFired);
            }
            Waiting::BotInput { at } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.bot_input(switchboard_nlu::Input::Silence);
            }
            Waiting::BotHook { at, .. } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.bot_input(switchboard_nlu::Input::HookAnswered(Err(
                    "the code hook did not answer".into(),
                )));
            }
            Waiting::BotSay { at, .. } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.bot_effects(Vec::new());
            }
            Waiting::Loop {
                until: Some(at), ..
            } if now >= at => {
                self.waiting = Waiting::Nothing;
                self.outputs.push_back(Output::StopMedia);
                self.feed(Event::TimerFired);
            }
            _ => {}
        }
        self.settle();
    }

    /// What the driver must do next, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The contact's id now (a transfer to a queue gives it the next one).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The phase the contact is in.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The contact as flows see it now.
    pub fn data(&self) -> &ContactData {
        &self.data
    }

    /// The contact record as it stands.
    pub fn record(&self) -> &ContactRecord {
        &self.record
    }

    /// Whether a flow runs now (the contact flow, or a customer queue flow).
    pub fn flow_running(&self) -> bool {
        self.session.is_some()
    }

    /// Whether the contact awaits the answer to `request`.
    pub fn awaits(&self, request: u64) -> bool {
        match self.waiting {
            Waiting::Answer(r)
            | Waiting::BotHook { request: r, .. }
            | Waiting::BotSay { request: r, .. }
            | Waiting::Input { request: r, .. }
            | Waiting::Loop { request: r, .. } => r == request,
            _ => false,
        }
    }

    /// The agent connected now, if any.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// The agent offered the contact now, if any.
    pub fn offered(&self) -> Option<&str> {
        self.offered.as_deref()
    }

    /// Whether a bot talks with the customer now.
    pub fn talking_to_bot(&self) -> bool {
        self.bot.is_some()
    }

    /// Whether the customer is on hold.
    pub fn on_hold(&self) -> bool {
        self.held_since.is_some()
    }

    /// Whether the last record has been handed out ([`Input::Close`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    // ---------- bots ----------

    fn bot_loaded(&mut self, request: u64, bot: Result<Arc<switchboard_nlu::Engine>, String>) {
        if self.phase != Phase::InFlow || self.waiting != Waiting::Answer(request) {
            return;
        }
        self.waiting = Waiting::Nothing;
        let Some(start) = self.bot_start.take() else {
            return;
        };
        let engine = match bot {
            Ok(engine) => engine,
            Err(reason) => return self.feed(Event::Failed(reason)),
        };
        let mut effects = Vec::new();
        let mode = if self.channel == Channel::Voice {
            switchboard_nlu::hook::InputMode::Speech
        } else {
            switchboard_nlu::hook::InputMode::Text
        };
        let name = if engine.bot_name.is_empty() {
            engine.locale.locale_id.clone()
        } else {
            engine.bot_name.clone()
        };
        let dialog = switchboard_nlu::Dialog::start(
            &self.id,
            &name,
            mode,
            start.session_attributes,
            &mut effects,
        );
        // The block's own prompt first, then what the bot does.
        if let Some(prompt) = start.prompt {
            effects.insert(0, switchboard_nlu::Effect::Say(String::new()));
            self.bot_prompt = Some(prompt);
        }
        self.bot = Some(BotTalk {
            engine,
            dialog,
            voice: start.voice,
            queued: VecDeque::new(),
        });
        self.bot_effects(effects);
    }

    fn bot_input(&mut self, input: switchboard_nlu::Input) {
        let Some(bot) = self.bot.as_mut() else {
            return;
        };
        let cx = switchboard_nlu::Context {
            today: self.now.date_naive(),
        };
        let mut effects = Vec::new();
        bot.dialog.handle(&bot.engine, &cx, input, &mut effects);
        self.bot_effects(effects);
    }

    /// Acts on the dialog's effects in order. On a call, a line to say
    /// holds the rest until it has played ([`Input::SayFinished`]).
    fn bot_effects(&mut self, effects: Vec<switchboard_nlu::Effect>) {
        use switchboard_nlu::Effect as Bot;
        let Some(bot) = self.bot.as_mut() else {
            return;
        };
        bot.queued.extend(effects);
        let voice_call = self.channel == Channel::Voice;
        loop {
            let Some(bot) = self.bot.as_mut() else {
                return;
            };
            let Some(effect) = bot.queued.pop_front() else {
                return;
            };
            let voice = bot.voice.clone();
            let listens_next = matches!(bot.queued.front(), Some(Bot::Listen(_)));
            match effect {
                Bot::Say(text) => {
                    // An empty line stands for the block's own prompt.
                    let message = match (text.is_empty(), self.bot_prompt.take()) {
                        (true, Some(prompt)) => prompt,
                        _ => switchboard_flow::Rendered::Text(text),
                    };
                    self.request_no += 1;
                    self.outputs.push_back(Output::Say {
                        request: self.request_no,
                        message,
                        voice,
                        barge_in: listens_next,
                    });
                    if voice_call {
                        self.waiting = Waiting::BotSay {
                            request: self.request_no,
                            at: self.now + Duration::seconds(BOT_LINE_SECONDS),
                        };
                        return;
                    }
                }
                Bot::Listen(expecting) => {
                    // What the customer wrote before the bot listened (the
                    // widget's first message, or during a code hook) is
                    // what it hears now.
                    if let Some(text) = self.unheard.take() {
                        self.bot_input(switchboard_nlu::Input::Said(text));
                        return;
                    }
                    self.waiting = Waiting::BotInput {
                        at: self.now + Duration::seconds(BOT_INPUT_SECONDS),
                    };
                    if voice_call {
                        let (phrases, grammar) = match self.bot.as_ref() {
                            Some(b) => (
                                bot_phrases(&b.engine, &expecting),
                                switchboard_nlu::Grammar::for_expecting(&b.engine, &expecting)
                                    .map(Arc::new),
                            ),
                            None => (Vec::new(), None),
                        };
                        self.outputs.push_back(Output::Listen { phrases, grammar });
                    }
                }
                Bot::CallHook { function, request } => {
                    self.request_no += 1;
                    self.waiting = Waiting::BotHook {
                        request: self.request_no,
                        at: self.now + Duration::seconds(BOT_HOOK_SECONDS),
                    };
                    self.outputs.push_back(Output::CallBotHook {
                        request: self.request_no,
                        function,
                        payload: request,
                    });
                }
                Bot::Finished(outcome) => {
                    self.bot = None;
                    self.unheard = None;
                    self.waiting = Waiting::Nothing;
                    self.pending.push_back(match outcome.error {
                        Some(e) => Event::Failed(e),
                        None => Event::BotResult {
                            intent: outcome.intent,
                            slots: outcome.slots,
                            session_attributes: outcome.session_attributes,
                        },
                    });
                    return;
                }
            }
        }
    }

    // ---------- the flow ----------

    fn start_session(&mut self, flow: Arc<Flow>) {
        self.session_no += 1;
        self.record.flow_path.clear();
        let (session, effects) =
            Session::start(flow, self.data.clone(), self.seed ^ self.session_no);
        self.session = Some(session);
        self.apply(effects);
    }

    fn feed(&mut self, event: Event) {
        let Some(session) = &mut self.session else {
            return;
        };
        let effects = session.handle(event);
        self.apply(effects);
    }

    /// Feeds the answers the contact gave itself, then settles what the
    /// flow's end means; until nothing more happens.
    fn settle(&mut self) {
        loop {
            while let Some(event) = self.pending.pop_front() {
                self.feed(event);
            }
            self.after_flow_step();
            if self.pending.is_empty() {
                return;
            }
        }
    }

    fn await_answer(&mut self) -> u64 {
        self.request_no += 1;
        self.waiting = Waiting::Answer(self.request_no);
        self.request_no
    }

    fn flow_output(&mut self, request: u64, effect: Effect) {
        let data = self
            .session
            .as_ref()
            .map_or_else(|| self.data.clone(), |s| s.contact().clone());
        self.outputs.push_back(Output::Flow {
            request,
            effect,
            data: Box::new(data),
        });
    }

    /// Acts on what the flow asked for; the last effect that needs an
    /// answer decides what the contact waits for.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::GetInput {
                    timeout_seconds, ..
                } if self.channel != Channel::Voice => {
                    let request = self.await_answer();
                    self.waiting = Waiting::Input {
                        request,
                        at: self.now + Duration::seconds(i64::from(timeout_seconds)),
                    };
                    self.flow_output(request, effect);
                }
                Effect::PlayLoop {
                    interrupt_seconds, ..
                } => {
                    let request = self.await_answer();
                    self.waiting = Waiting::Loop {
                        request,
                        until: interrupt_seconds
                            .map(|s| self.now + Duration::seconds(i64::from(s))),
                    };
                    self.flow_output(request, effect);
                }
                Effect::StartTimer {
                    seconds,
                    customer_returned,
                } => {
                    self.waiting = Waiting::Timer {
                        at: self.now + Duration::seconds(i64::from(seconds)),
                        customer_returned,
                    };
                }
                Effect::StartBot {
                    bot,
                    prompt,
                    voice,
                    session_attributes,
                } => {
                    let request = self.await_answer();
                    self.bot_start = Some(BotStart {
                        prompt,
                        voice,
                        session_attributes,
                    });
                    let language = self.session.as_ref().map_or_else(
                        || self.data.language.clone(),
                        |s| s.contact().language.clone(),
                    );
                    self.outputs.push_back(Output::LoadBot {
                        request,
                        bot,
                        language,
                    });
                }
                Effect::TransferToNumber { .. } if self.channel != Channel::Voice => {
                    self.pending.push_back(Event::Failed(
                        "a chat cannot be transferred to a phone number".into(),
                    ));
                }
                Effect::TransferToNumber { continue_flow, .. } => {
                    let request = self.await_answer();
                    self.third_party_continues = Some(continue_flow);
                    self.flow_output(request, effect);
                }
                Effect::Enqueue {
                    queue,
                    priority,
                    time_adjustment_seconds,
                } => {
                    let request = self.await_answer();
                    self.enqueue_sent = true;
                    self.enqueue_request = Some(request);
                    self.outputs.push_back(Output::Enqueue {
                        request,
                        contact: self.id.clone(),
                        queue,
                        priority: priority.unwrap_or(5),
                        time_adjustment_seconds: time_adjustment_seconds.unwrap_or(0),
                    });
                }
                Effect::Disconnect => self.end(DisconnectReason::ContactFlowDisconnect),
                Effect::SetMediaStreaming { directions } => {
                    self.outputs
                        .push_back(Output::MediaStreaming { directions });
                }
                // Notices: the session's contact already holds them.
                Effect::End
                | Effect::SetVoice { .. }
                | Effect::SetRecording { .. }
                | Effect::SetEventHook { .. }
                | Effect::SetRoutingBehavior { .. }
                | Effect::ContactDataChanged
                | Effect::SetLogging { .. } => {}
                // Media (prompts, a call's input) and the world (hours,
                // metrics, queues, functions, flows, modules): the driver's.
                other => {
                    let request = self.await_answer();
                    self.flow_output(request, other);
                }
            }
        }
    }

    fn flow_answer(&mut self, request: u64, event: Event) {
        if self.enqueue_request == Some(request) {
            self.enqueue_request = None;
            if self.phase == Phase::Ended {
                // The enqueue reached routing after the customer left.
                if event == Event::Enqueued {
                    self.abandon();
                }
                return;
            }
        }
        if self.phase == Phase::Ended || !self.awaits(request) {
            return;
        }
        self.waiting = Waiting::Nothing;
        if let (Channel::Voice, Event::Input(keys)) = (self.channel, &event) {
            self.record.dtmf_inputs.push(keys.clone());
        }
        self.feed(event);
    }

    fn flow_loaded(&mut self, request: u64, flow: Result<Arc<Flow>, FlowUnavailable>) {
        if self.phase == Phase::Ended || self.waiting != Waiting::Answer(request) {
            return;
        }
        self.waiting = Waiting::Nothing;
        match flow {
            Ok(flow) if matches!(self.phase, Phase::InFlow | Phase::Queued) => {
                self.start_session(flow)
            }
            Ok(_) => {}
            Err(why) => {
                self.outputs.push_back(Output::FlowFailed {
                    action: None,
                    reason: why.to_string(),
                });
                if self.phase == Phase::Queued {
                    self.outputs.push_back(Output::QueueFlowEnded);
                } else {
                    self.end(DisconnectReason::ContactFlowDisconnect);
                }
            }
        }
    }

    /// After the flow moved: is it over, and what next?
    fn after_flow_step(&mut self) {
        let Some(session) = &self.session else { return };
        self.data = session.contact().clone();
        if !session.is_finished() {
            return;
        }
        let outcome = session.outcome().cloned();
        self.save();
        self.session = None;
        match outcome {
            Some(Outcome::Queued { queue }) if self.phase == Phase::InFlow => {
                self.phase = Phase::Queued;
                self.record.enter_queue(queue.id, queue.name, self.now);
                self.save();
                self.start_queue();
                if let Some(agent) = self.early_offer.take() {
                    self.offer(agent);
                }
            }
            Some(Outcome::TransferredToFlow { flow }) => self.load_flow(flow),
            Some(Outcome::Disconnected) => self.end(DisconnectReason::ContactFlowDisconnect),
            // The customer queue flow ended: music until an agent answers.
            _ if self.phase == Phase::Queued => self.outputs.push_back(Output::QueueFlowEnded),
            _ if self.phase == Phase::Ended => {}
            Some(Outcome::CustomerHungUp) => {}
            other => {
                if let Some(Outcome::Failed { action, reason }) = other {
                    self.outputs
                        .push_back(Output::FlowFailed { action, reason });
                }
                self.end(DisconnectReason::ContactFlowDisconnect);
            }
        }
    }

    fn load_flow(&mut self, flow: String) {
        let request = self.await_answer();
        self.outputs.push_back(Output::LoadFlow { request, flow });
    }

    /// Queued: the customer queue flow if the flow set one, else music.
    fn start_queue(&mut self) {
        match self
            .data
            .event_hooks
            .get(&EventHook::CustomerQueue)
            .cloned()
        {
            Some(flow) => {
                self.outputs.push_back(Output::Queued { queue_flow: true });
                self.load_flow(flow);
            }
            None => self.outputs.push_back(Output::Queued { queue_flow: false }),
        }
    }

    // ---------- routing and the agent ----------

    fn routing(&mut self, decision: Decision) {
        match decision {
            Decision::Offer { contact, agent } if contact == self.id => match self.phase {
                Phase::InFlow => self.early_offer = Some(agent),
                Phase::Queued if self.offered.is_none() && self.agent.is_none() => {
                    self.offer(agent)
                }
                // Routing still moves a contact that ended: take it out again.
                Phase::Ended => self.abandon(),
                _ => {}
            },
            Decision::Rescind { contact, agent } if contact == self.id => {
                if self.early_offer.as_ref() == Some(&agent) {
                    self.early_offer = None;
                }
                if self.take_offer(&agent) {
                    self.outputs.push_back(Output::Withdraw { agent });
                }
            }
            _ => {}
        }
    }

    fn offer(&mut self, agent: String) {
        self.offered = Some(agent.clone());
        self.outputs.push_back(Output::Offer { agent });
    }

    /// Forgets the offer to `agent`; false if it was not theirs.
    fn take_offer(&mut self, agent: &str) -> bool {
        if self.offered.as_deref() == Some(agent) {
            self.offered = None;
            return true;
        }
        false
    }

    fn connected(&mut self, contact: String, info: switchboard_model::contact_record::AgentInfo) {
        if contact != self.id {
            return;
        }
        if self.phase == Phase::Ended {
            // The agent accepted as the customer left: the abandon puts
            // them in after-contact work; their CCP shows the end.
            self.abandon();
            self.outputs
                .push_back(Output::ConnectedAfterEnd { agent: info.id });
            return;
        }
        // The offer itself may not have been seen (updates can lag).
        let expected = self.offered.as_ref().is_none_or(|o| *o == info.id);
        if !expected || self.phase != Phase::Queued || self.agent.is_some() {
            return;
        }
        self.offered = None;
        self.agent = Some(info.id.clone());
        self.phase = Phase::WithAgent;
        // The customer queue flow stops: a person answers now.
        self.session = None;
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        let agent = info.id.clone();
        self.record.connect_agent(info, self.now);
        self.outputs.push_back(Output::AgentConnected { agent });
        self.save();
    }

    fn hold(&mut self, hold: bool) {
        if self.phase != Phase::WithAgent {
            return;
        }
        match (hold, self.held_since) {
            (true, None) => {
                self.held_since = Some(self.now);
                self.record.hold_started();
            }
            (false, Some(since)) => {
                self.held_since = None;
                self.record.hold_ended(since, self.now);
            }
            _ => return,
        }
        self.outputs.push_back(Output::Held(hold));
    }

    /// The connected agent's part ends: after-contact work in routing, and
    /// their talk and hold time in the record.
    fn agent_done(&mut self, transferred: bool) {
        let Some(agent) = self.agent.take() else {
            return;
        };
        if let Some(since) = self.held_since.take() {
            self.record.hold_ended(since, self.now);
        }
        self.record.agent_left(self.now);
        self.outputs.push_back(Output::AgentDone {
            agent,
            contact: self.id.clone(),
            transferred,
        });
        self.outputs.push_back(Output::Route(Route::ContactEnded {
            contact: self.id.clone(),
        }));
        // Routing's part is over: nothing to abandon any more.
        self.enqueue_sent = false;
    }

    fn abandon(&mut self) {
        self.outputs.push_back(Output::Route(Route::Abandon {
            contact: self.id.clone(),
        }));
    }

    // ---------- third parties and transfers ----------

    fn third_party_joined(&mut self, number: String) {
        if self.phase != Phase::InFlow || self.third_party_continues.is_none() {
            return;
        }
        self.record.transferred_to_endpoint = Some(Endpoint {
            kind: "TELEPHONE_NUMBER".into(),
            address: number,
        });
        self.record.transfer_completed_timestamp = Some(self.now);
        self.record.third_party_disconnect_timestamp = None;
        self.phase = Phase::WithThirdParty;
        self.waiting = Waiting::Nothing;
        self.save();
    }

    fn third_party_left(&mut self) {
        if self.phase != Phase::WithThirdParty {
            return;
        }
        let continues = self.third_party_continues.take().unwrap_or(false);
        self.record.third_party_disconnect_timestamp = Some(self.now);
        self.phase = Phase::InFlow;
        self.waiting = Waiting::Nothing;
        if !continues || self.session.is_none() {
            self.record
                .disconnect_for(DisconnectReason::ThirdPartyDisconnect);
        }
        if self.session.is_none() {
            // Transferred by the agent: no flow to go back to.
            self.end(DisconnectReason::ThirdPartyDisconnect);
        } else {
            self.feed(Event::TransferEnded);
        }
    }

    /// As in Connect, the queued part is a new contact (initiation
    /// TRANSFER) linked both ways to this one, which ends here.
    fn transferred_to_queue(
        &mut self,
        next: String,
        queue: (String, String),
        reason: DisconnectReason,
    ) {
        if self.phase != Phase::WithAgent {
            return;
        }
        self.agent_done(true);
        self.note_flow_path();
        self.copy_contact_data();
        let continued = self
            .record
            .transfer_to_queue(next.clone(), queue, self.now, reason);
        let ended = std::mem::replace(&mut self.record, continued);
        self.outputs.push_back(Output::Closed(Box::new(ended)));
        self.id = next.clone();
        self.data.contact_id = next;
        self.data.initiation_method = InitiationMethod::Transfer.as_str().into();
        self.phase = Phase::Queued;
        self.session = None;
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        self.offered = None;
        self.early_offer = None;
        self.enqueue_sent = true;
        self.enqueue_request = None;
        self.save();
        self.start_queue();
    }

    // ---------- the end ----------

    /// The contact ends; the first reason given is the one recorded.
    fn end(&mut self, reason: DisconnectReason) {
        self.record.disconnect_for(reason);
        if self.phase == Phase::Ended {
            return;
        }
        let was = std::mem::replace(&mut self.phase, Phase::Ended);
        self.note_flow_path();
        self.session = None;
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        self.early_offer = None;
        match was {
            Phase::WithAgent => self.agent_done(false),
            Phase::WithThirdParty => self.outputs.push_back(Output::DropThirdParty),
            _ => {
                if self.third_party_continues.take().is_some() {
                    // A transfer to a number is still ringing.
                    self.outputs.push_back(Output::DropThirdParty);
                }
                if self.enqueue_sent {
                    if let Some(agent) = self.offered.take() {
                        self.outputs.push_back(Output::Withdraw { agent });
                    }
                    self.abandon();
                    if self
                        .record
                        .queue
                        .as_ref()
                        .is_some_and(|q| q.dequeue_timestamp.is_none())
                    {
                        self.record.leave_queue(self.now);
                    }
                }
            }
        }
        self.outputs.push_back(Output::Ended {
            reason: self.record.disconnect_reason.unwrap_or(reason),
        });
    }

    fn close(&mut self) {
        if self.closed {
            return;
        }
        // A driver that closes without an end first still gets a whole record.
        self.end(DisconnectReason::Other);
        self.closed = true;
        self.record.close(self.now, DisconnectReason::Other);
        self.note_flow_path();
        self.copy_contact_data();
        self.outputs
            .push_back(Output::Closed(Box::new(self.record.clone())));
    }

    // ---------- the record ----------

    /// Copies what the flow set on the contact (attributes, name,
    /// description, references, tags, callback number) into the record.
    fn copy_contact_data(&mut self) {
        let d = &self.data;
        let r = &mut self.record;
        r.attributes = d.attributes.clone();
        r.name = d.name.clone();
        r.description = d.description.clone();
        r.references = d.references.clone();
        r.tags = d.tags.clone();
        r.customer_callback_number = d.callback_number.clone();
        r.customer_id = d.customer_id.clone();
    }

    /// Copies the steps the flow took since the last save into the record.
    fn note_flow_path(&mut self) {
        if let Some(session) = &self.session {
            let trace = session.trace();
            let done = self.record.flow_path.len().min(trace.len());
            self.record
                .flow_path
                .extend(trace[done..].iter().map(|s| FlowStep {
                    action: s.action.clone(),
                    action_type: s.action_type.clone(),
                    branch: s.branch.clone(),
                }));
        }
    }

    fn save(&mut self) {
        self.note_flow_path();
        self.copy_contact_data();
        self.outputs
            .push_back(Output::Record(Box::new(self.record.clone())));
    }
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contact")
            .field("id", &self.id)
            .field("phase", &self.phase)
            .field("waiting", &self.waiting)
            .field("agent", &self.agent)
            .field("offered", &self.offered)
            .finish_non_exhaustive()
    }
}
