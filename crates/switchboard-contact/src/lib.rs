//! # switchboard-contact
//!
//! One contact of any channel (a call, a chat) as a sans-IO state machine,
//! in the shape of `quinn-proto` and `str0m`: [`Contact::new`] with what the
//! contact starts with and the time, [`Contact::handle`] for each thing that
//! happens, [`Contact::poll_output`] for what the driver must do next, and
//! [`Contact::poll_timeout`] / [`Contact::handle_timeout`] for the contact's
//! own deadlines. No clock, socket, task or database: the channel's driver
//! (`switchboard-voice`'s call, `switchboard-server`'s chat) owns those.
//!
//! ## What it decides
//! - **Phases**: in a flow, queued, with an agent, with a third party
//!   (a number the flow or an agent transferred to), ended.
//! - **Flow driving**: the flow sessions (the contact flow, then the
//!   customer queue flow or a flow transferred to), their effects out as
//!   numbered requests and the answers in; an answer to an older request is
//!   never taken for the current one. Waits (`Wait`), loop interrupts and a
//!   chat's input deadline are the contact's own timers.
//! - **Routing**: the enqueue, an offer that arrives before the flow has
//!   finished queuing (kept until then), offers, rescinds and the
//!   connection, an agent who cannot be reached or declines, the abandon
//!   or the contact's end that routing must hear, and routing decisions
//!   that cross the end (taken back at once).
//! - **The record** (the rules live on [`ContactRecord`]): timestamps, queue
//!   wait, talk and hold, the first disconnect reason wins, keys pressed, the
//!   flow's path and attributes, a transfer to a queue that ends this
//!   contact and starts the next one linked both ways.
//!
//! ## What the driver does
//! Media and messages (what a prompt sounds like, a chat's room), the
//! agent's leg (ringing a phone, a card in the CCP), storage of recordings
//! and transcripts, and the routing service: it acts on each [`Output`] and
//! feeds what comes back as an [`Input`].

// A pure core: documented for its drivers, and deterministic.
#![warn(missing_docs, clippy::iter_over_hash_type)]

mod contact;

pub use contact::Contact;

use std::sync::Arc;
use switchboard_flow::{ContactData, Effect, Event, Flow, QueueRef, Rendered};
use switchboard_model::contact_record::{
    AgentInfo, CallQuality, Channel, DisconnectReason, Endpoint, InitiationMethod, RecordingInfo,
    TranscriptInfo,
};
use switchboard_model::ContactRecord;

/// What a contact starts with.
#[derive(Debug, Clone)]
pub struct ContactInit {
    /// The contact's id.
    pub id: String,
    /// Its channel; a few flow effects depend on it (a chat cannot be
    /// transferred to a number, keys pressed are a call's).
    pub channel: Channel,
    /// Inbound, outbound, API...
    pub initiation_method: InitiationMethod,
    /// Where the customer is (a number); empty for a chat.
    pub customer_endpoint: Endpoint,
    /// The name the customer gave (a chat's display name).
    pub customer_name: Option<String>,
    /// What they reached (the number called).
    pub system_endpoint: Endpoint,
    /// The contact as flows see it (attributes, the customer's address).
    pub data: ContactData,
    /// The flow the contact starts in; none for an agent's outbound call.
    pub flow: Option<Arc<Flow>>,
    /// The flow's id, for the record.
    pub flow_id: Option<String>,
    /// An agent's outbound call: the agent is on it from the start.
    pub outbound: Option<Outbound>,
    /// Seeds the flows' random choices (DistributeByPercentage).
    pub seed: u64,
    /// A chat's first message, written when the customer started it; as in
    /// Connect, the first bot the flow hands the chat to hears it first.
    pub initial_message: Option<String>,
}

/// The agent who placed an outbound call, and the queue it counts in.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Who they are (id, username, routing profile).
    pub agent: AgentInfo,
    /// The queue the call counts in (id, name).
    pub queue: (String, String),
}

/// Why a flow the contact asked for (a transfer to a flow, a module, the
/// customer queue flow) cannot run; the contact's flow takes its error path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowUnavailable {
    /// No flow has that id, name or ARN.
    #[error("no flow '{0}'")]
    NotFound(String),
    /// A flow module was asked for and this is a flow, or the other way round.
    #[error("'{name}' is {}a flow module", if *.is_module { "" } else { "not " })]
    WrongKind {
        /// The flow's name.
        name: String,
        /// Whether it is a module.
        is_module: bool,
    },
    /// Its published version (or its draft) has errors.
    #[error("flow '{0}' does not validate")]
    DoesNotValidate(String),
    /// The store could not be read (logged where it failed).
    #[error("the store could not be read")]
    StoreUnavailable,
}

/// Everything that happens to a contact.
#[derive(Debug, Clone)]
pub enum Input {
    /// The answer to [`Output::Flow`], [`Output::Enqueue`] request `request`.
    FlowAnswer {
        /// The request answered.
        request: u64,
        /// What the flow hears.
        event: Event,
    },
    /// The flow asked for by [`Output::LoadFlow`] request `request`, or why
    /// it could not be loaded.
    FlowLoaded {
        /// The request answered.
        request: u64,
        /// The flow, or why not.
        flow: Result<Arc<Flow>, FlowUnavailable>,
    },
    /// The customer wrote (a chat message): it answers a chat's
    /// GetParticipantInput, or ends a Wait that listens for the customer.
    CustomerSaid(String),
    /// A routing decision about a contact (this one or not).
    Routing(Decision),
    /// The offered agent's phone answered, or they auto-accept: routing
    /// hears the accept.
    Accept {
        /// The agent accepting.
        agent: String,
    },
    /// The offered agent declined (busy, rejected on the phone).
    Declined {
        /// The agent declining.
        agent: String,
    },
    /// The offered agent cannot be reached (no CCP open, no phone).
    Unreachable {
        /// The agent who cannot be reached.
        agent: String,
    },
    /// Routing connected the agent, with who they are for the record. The
    /// driver reads that (username, routing profile) before it says so.
    Connected {
        /// The contact connected; another id is ignored.
        contact: String,
        /// The agent.
        agent: AgentInfo,
    },
    /// The agent put the customer on hold, or took them off it.
    Hold(bool),
    /// The customer left (hung up, closed the chat).
    CustomerLeft,
    /// The agent left (hung up, ended the contact, left the chat).
    AgentLeft,
    /// The contact cannot go on: media stopped, a session timer ran out,
    /// the chat went idle or expired, the system failed.
    Lost(DisconnectReason),
    /// The agent cold-transfers the customer to a number the driver can
    /// reach; the agent's part ends and the driver dials it.
    ColdTransfer,
    /// The third party answered (a number the flow or the agent transferred to).
    ThirdPartyJoined {
        /// The number they were reached on.
        number: String,
    },
    /// The third party could not be reached; `no_answer` if it rang out.
    ThirdPartyFailed {
        /// It rang until the time limit.
        no_answer: bool,
    },
    /// The third party hung up.
    ThirdPartyLeft,
    /// The agent transferred the customer to a queue, which routing took
    /// under the id `next`: this contact ends (for `reason`) and the
    /// customer goes on as contact `next`, waiting there.
    TransferredToQueue {
        /// The next contact's id.
        next: String,
        /// The queue (id, name).
        queue: (String, String),
        /// Why this contact ends (Connect says TRANSFER for chats; calls
        /// keep AGENT_DISCONNECT).
        reason: DisconnectReason,
    },
    /// The call's recording, stored: for the record.
    Recording(RecordingInfo),
    /// The chat's transcript, stored: for the record.
    Transcript(TranscriptInfo),
    /// The call's quality figures: for the record.
    Quality(CallQuality),
    /// The driver has done what the end asked (hung up, stored files):
    /// the record is closed and written.
    Close,
    /// What [`Output::Say`] request `request` said has played (or the caller talked over it).
    SayFinished {
        /// The request answered.
        request: u64,
    },
    /// A call's caller said nothing the bot could hear in time.
    CustomerSilent,
    /// The bot asked for by [`Output::LoadBot`] request `request`, compiled,
    /// or why it cannot talk.
    BotLoaded {
        /// The request answered.
        request: u64,
        /// The bot's locale, ready to understand; or why not.
        bot: Result<Arc<switchboard_nlu::Engine>, String>,
    },
    /// The bot's code hook function answered [`Output::CallBotHook`] request `request`.
    BotHookAnswered {
        /// The request answered.
        request: u64,
        /// Its JSON, or why it failed.
        answer: Result<serde_json::Value, String>,
    },
}

/// A routing decision, by contact and agent id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Offer `contact` to `agent`.
    Offer {
        /// The contact offered.
        contact: String,
        /// The agent offered it.
        agent: String,
    },
    /// The offer is withdrawn (missed, taken by another agent).
    Rescind {
        /// The contact.
        contact: String,
        /// The agent whose offer is withdrawn.
        agent: String,
    },
}

/// What the driver must do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// Write the record as it is now (it is still going).
    Record(Box<ContactRecord>),
    /// Act on a flow's effect and answer with [`Input::FlowAnswer`] for
    /// `request`: prompts, input, loops and waits' media, external lookups,
    /// functions, a transfer to a number. A loop (PlayLoop) has no answer
    /// unless it fails; its interrupt is the contact's own timer.
    Flow {
        /// The request's number.
        request: u64,
        /// What the flow asks for.
        effect: Effect,
        /// The contact as the flow sees it now (lookups read it).
        data: Box<ContactData>,
    },
    /// Put the contact in routing; answer with [`Input::FlowAnswer`]
    /// (`Enqueued`, `QueueAtCapacity` or `Failed`).
    Enqueue {
        /// The request's number.
        request: u64,
        /// The contact's id.
        contact: String,
        /// The queue.
        queue: QueueRef,
        /// Lower goes first (Connect's default 5).
        priority: u32,
        /// Seconds to count as already waited.
        time_adjustment_seconds: i64,
    },
    /// Tell routing something that needs no answer.
    Route(Route),
    /// Load a flow by its reference; answer with [`Input::FlowLoaded`].
    LoadFlow {
        /// The request's number.
        request: u64,
        /// The flow's reference (id or name).
        flow: String,
    },
    /// A loop's time ran out: stop playing it.
    StopMedia,
    /// A flow failed (an error with no branch, a flow that did not load):
    /// for the log; what follows is in the next outputs.
    FlowFailed {
        /// The action that failed, if one did.
        action: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// The contact is waiting in a queue now; `queue_flow` if a customer
    /// queue flow is being loaded (else music, and the position announced).
    Queued {
        /// A customer queue flow will run.
        queue_flow: bool,
    },
    /// The customer queue flow is over (or did not load): music until an
    /// agent answers.
    QueueFlowEnded,
    /// Offer the contact to the agent (ring their phone, show a card).
    Offer {
        /// The agent.
        agent: String,
    },
    /// Withdraw the offer (stop ringing, take the card away).
    Withdraw {
        /// The agent.
        agent: String,
    },
    /// The agent is connected: bridge them (media, the chat's participant).
    AgentConnected {
        /// The agent.
        agent: String,
    },
    /// The agent's part is over (they are in after-contact work): tear
    /// their leg down; `transferred` if the customer went on without them.
    AgentDone {
        /// The agent.
        agent: String,
        /// The contact they did (a transfer has given this one a new id since).
        contact: String,
        /// The customer was transferred on.
        transferred: bool,
    },
    /// Routing connected an agent to this contact after it ended: their
    /// CCP should show it ended (routing already has them in after-contact work).
    ConnectedAfterEnd {
        /// The agent.
        agent: String,
    },
    /// The customer is now on hold (true) or back (false).
    Held(bool),
    /// Hang up the third party's leg (the contact is ending).
    DropThirdParty,
    /// Find and compile the bot the flow named (by name or alias ARN), for
    /// the contact's language; answer [`Input::BotLoaded`].
    LoadBot {
        /// The request's number.
        request: u64,
        /// The bot, by the reference the flow gave.
        bot: String,
        /// The contact's language (`en-US`), to choose the locale.
        language: String,
    },
    /// Say this to the customer: send it in a chat (nothing to answer), or
    /// speak it on a call and answer [`Input::SayFinished`] when it has
    /// played, so the bot's lines and the flow's prompts keep their order.
    Say {
        /// The request's number.
        request: u64,
        /// What to say.
        message: Rendered,
        /// The text-to-speech voice to speak it in.
        voice: String,
        /// The bot listens next: the caller may talk over this (barge-in),
        /// which ends it early.
        barge_in: bool,
    },
    /// A call's bot listens: detect the caller's utterance (or keys) and
    /// answer [`Input::CustomerSaid`] with its words, or
    /// [`Input::CustomerSilent`].
    Listen {
        /// Phrases the bot can understand now, for recognisers that take hints.
        phrases: Vec<String>,
        /// Everything it can understand now, for recognisers that take
        /// grammars; none: anything.
        grammar: Option<Arc<switchboard_nlu::Grammar>>,
    },
    /// Stream the customer's audio to the instance's media streaming
    /// endpoint in these directions from now on (`None`: stop). A call's;
    /// no answer is due.
    MediaStreaming {
        /// What is streamed.
        directions: Option<switchboard_flow::model::StreamDirections>,
    },
    /// Call the bot's code hook function with Lex V2's request; answer
    /// [`Input::BotHookAnswered`].
    CallBotHook {
        /// The request's number.
        request: u64,
        /// The function, by the reference the bot gave (an id).
        function: String,
        /// Lex V2's code hook request.
        payload: Box<switchboard_nlu::hook::Request>,
    },
    /// The contact is ending: tear down the customer's side (hang up unless
    /// they left), store the recording or transcript, then [`Input::Close`].
    Ended {
        /// The reason recorded (the first one given).
        reason: DisconnectReason,
    },
    /// A contact's last record: the one a transfer ended, or this contact
    /// at its close. Write it and count the contact ended.
    Closed(Box<ContactRecord>),
}

/// What routing hears without answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The customer left a contact routing holds (waiting or offered).
    Abandon {
        /// The contact.
        contact: String,
    },
    /// The agent accepts the offer.
    Accept {
        /// The contact.
        contact: String,
        /// The agent.
        agent: String,
    },
    /// The agent declines the offer.
    Reject {
        /// The contact.
        contact: String,
        /// The agent.
        agent: String,
    },
    /// The agent cannot be reached: they leave routing until they set a status.
    AgentError {
        /// The agent.
        agent: String,
    },
    /// The agent's part of the contact ended: after-contact work.
    ContactEnded {
        /// The contact.
        contact: String,
    },
}

/// A contact's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A flow runs (or a transfer to a number is being dialled).
    InFlow,
    /// Waiting in a queue (a customer queue flow may run).
    Queued,
    /// With an agent.
    WithAgent,
    /// With a third party.
    WithThirdParty,
    /// Ending or ended: no more flows or routing.
    Ended,
}
