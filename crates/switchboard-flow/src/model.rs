//! The typed flow: actions with their parameters parsed into Rust types, and
//! their transitions.

use std::collections::HashMap;
use std::fmt;

use crate::operand::Operand;

/// The flow language version every flow declares.
pub const VERSION: &str = "2019-10-30";
/// Connect's limit on actions in one flow.
pub const MAX_ACTIONS: usize = 250;

/// What a flow is for, which decides where it runs and which actions it may use.
/// In JSON, Connect's name (`CONTACT_FLOW`, ..., `FLOW_MODULE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowType {
    /// An inbound contact flow: what a caller or chatter meets first.
    ContactFlow,
    /// What a waiting customer hears or sees.
    CustomerQueue,
    /// What the customer hears while an agent has them on hold.
    CustomerHold,
    /// Played to the customer just before they are connected to the agent.
    CustomerWhisper,
    /// What the agent hears while they have the customer on hold.
    AgentHold,
    /// Played to the agent on accepting a contact, before the customer whisper.
    AgentWhisper,
    /// Played to the customer of an outbound call before they are connected to the agent.
    OutboundWhisper,
    /// Runs when a contact is transferred to an agent through a quick connect.
    AgentTransfer,
    /// Runs when a contact is transferred to a queue through a quick connect.
    QueueTransfer,
    /// A reusable piece of flow, invoked with InvokeFlowModule.
    #[serde(rename = "FLOW_MODULE")]
    Module,
}

impl FlowType {
    /// Every flow type, in declaration order.
    pub const ALL: [FlowType; 10] = [
        FlowType::ContactFlow,
        FlowType::CustomerQueue,
        FlowType::CustomerHold,
        FlowType::CustomerWhisper,
        FlowType::AgentHold,
        FlowType::AgentWhisper,
        FlowType::OutboundWhisper,
        FlowType::AgentTransfer,
        FlowType::QueueTransfer,
        FlowType::Module,
    ];

    /// Connect's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowType::ContactFlow => "CONTACT_FLOW",
            FlowType::CustomerQueue => "CUSTOMER_QUEUE",
            FlowType::CustomerHold => "CUSTOMER_HOLD",
            FlowType::CustomerWhisper => "CUSTOMER_WHISPER",
            FlowType::AgentHold => "AGENT_HOLD",
            FlowType::AgentWhisper => "AGENT_WHISPER",
            FlowType::OutboundWhisper => "OUTBOUND_WHISPER",
            FlowType::AgentTransfer => "AGENT_TRANSFER",
            FlowType::QueueTransfer => "QUEUE_TRANSFER",
            FlowType::Module => "FLOW_MODULE",
        }
    }

    /// The type for Connect's name (`CONTACT_FLOW`, `FLOW_MODULE`...), as in an
    /// export's `Type`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A type from a Connect export or API answer: [`FlowType::parse`], and
    /// `CAMPAIGN` (an outbound campaign's flow), which runs as a contact
    /// flow here. The second value says the type was mapped.
    pub fn from_connect(s: &str) -> Option<(Self, bool)> {
        match s {
            "CAMPAIGN" => Some((FlowType::ContactFlow, true)),
            other => Self::parse(other).map(|t| (t, false)),
        }
    }

    /// The type as Connect's console writes it in a saved flow's
    /// `Metadata.type` (`contactFlow`, `customerQueue`, ...).
    pub fn from_metadata(s: &str) -> Option<Self> {
        Some(match s {
            "contactFlow" => FlowType::ContactFlow,
            "customerQueue" => FlowType::CustomerQueue,
            "customerHold" => FlowType::CustomerHold,
            "customerWhisper" => FlowType::CustomerWhisper,
            "agentHold" => FlowType::AgentHold,
            "agentWhisper" => FlowType::AgentWhisper,
            "outboundWhisper" => FlowType::OutboundWhisper,
            "agentTransfer" => FlowType::AgentTransfer,
            "queueTransfer" => FlowType::QueueTransfer,
            "contactFlowModule" | "flowModule" | "module" => FlowType::Module,
            "campaign" => FlowType::ContactFlow,
            _ => return None,
        })
    }

    /// Flows that play to someone who is waiting: playing audio is progress
    /// there, so a loop of prompts is how they are meant to work.
    pub fn plays_while_waiting(self) -> bool {
        matches!(
            self,
            FlowType::CustomerQueue | FlowType::CustomerHold | FlowType::AgentHold
        )
    }
}

impl fmt::Display for FlowType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message to play or send: text to speech (or chat text), SSML, or a recorded prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Plain text (Connect's `Text`): spoken with text to speech on a call, sent as a chat message.
    Text(Operand),
    /// SSML markup for text to speech (Connect's `SSML`).
    Ssml(Operand),
    /// A recorded prompt, by the id, name or ARN given in Connect's `PromptId`.
    Prompt(Operand),
}

/// How a transition condition compares a result with its operand (Connect's
/// `Condition.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// The value is exactly the operand, compared as text (case matters).
    Equals,
    /// The value starts with the operand.
    TextStartsWith,
    /// The value ends with the operand.
    TextEndsWith,
    /// The operand appears anywhere in the value.
    TextContains,
    /// Both are numbers and the value is greater than the operand.
    NumberGreaterThan,
    /// Both are numbers and the value is greater than or equal to the operand.
    NumberGreaterOrEqualTo,
    /// Both are numbers and the value is less than the operand. DistributeByPercentage
    /// buckets use it.
    NumberLessThan,
    /// Both are numbers and the value is less than or equal to the operand.
    NumberLessOrEqualTo,
}

impl Operator {
    /// The operator for Connect's name in `Condition.Operator`; `None` if unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Equals" => Operator::Equals,
            "TextStartsWith" => Operator::TextStartsWith,
            "TextEndsWith" => Operator::TextEndsWith,
            "TextContains" => Operator::TextContains,
            "NumberGreaterThan" => Operator::NumberGreaterThan,
            "NumberGreaterOrEqualTo" => Operator::NumberGreaterOrEqualTo,
            "NumberLessThan" => Operator::NumberLessThan,
            "NumberLessOrEqualTo" => Operator::NumberLessOrEqualTo,
            _ => return None,
        })
    }

    /// Whether the operator compares numbers, so its operand must be one.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Operator::NumberGreaterThan
                | Operator::NumberGreaterOrEqualTo
                | Operator::NumberLessThan
                | Operator::NumberLessOrEqualTo
        )
    }

    /// Whether `value` satisfies the condition against `operand`. Number
    /// operators are false when either side is not a number.
    pub fn test(self, value: &str, operand: &str) -> bool {
        let num = || {
            Some((
                value.trim().parse::<f64>().ok()?,
                operand.trim().parse::<f64>().ok()?,
            ))
        };
        match self {
            Operator::Equals => value == operand,
            Operator::TextStartsWith => value.starts_with(operand),
            Operator::TextEndsWith => value.ends_with(operand),
            Operator::TextContains => value.contains(operand),
            Operator::NumberGreaterThan => num().is_some_and(|(v, o)| v > o),
            Operator::NumberGreaterOrEqualTo => num().is_some_and(|(v, o)| v >= o),
            Operator::NumberLessThan => num().is_some_and(|(v, o)| v < o),
            Operator::NumberLessOrEqualTo => num().is_some_and(|(v, o)| v <= o),
        }
    }
}

/// One entry of an action's `Transitions.Conditions`: where to go when the
/// action's result satisfies `operator` against `operand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Identifier of the action to go to when the condition holds (`NextAction`).
    pub next: String,
    /// How the result is compared (`Condition.Operator`).
    pub operator: Operator,
    /// What the result is compared with: the one value in `Condition.Operands`,
    /// a number kept as its text.
    pub operand: String,
}

/// One entry of an action's `Transitions.Errors`: where to go on one kind of error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBranch {
    /// Connect's name for the error (`ErrorType`), e.g. `NoMatchingError` or `QueueAtCapacity`.
    pub error_type: String,
    /// Identifier of the action to go to on that error (`NextAction`).
    pub next: String,
}

/// Where an action can go next: its `Transitions` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    /// Identifier of the action to go to on success (`NextAction`); `None` when
    /// not given, as for terminal actions.
    pub next: Option<String>,
    /// Ordered: the first true condition wins.
    pub conditions: Vec<Condition>,
    /// Error branches (`Errors`), in the order written.
    pub errors: Vec<ErrorBranch>,
}

impl Transitions {
    /// The action to go to on `error_type`, if that error has a branch of its own
    /// (no fallback to NoMatchingError here).
    pub fn on_error(&self, error_type: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.error_type == error_type)
            .map(|e| e.next.as_str())
    }

    /// Every action this one can lead to.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.next
            .iter()
            .map(String::as_str)
            .chain(self.conditions.iter().map(|c| c.next.as_str()))
            .chain(self.errors.iter().map(|e| e.next.as_str()))
    }
}

/// A real-time queue metric read by CheckMetricData (Connect's `MetricType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Agents set to Available who could take a contact from the queue now.
    NumberOfAgentsAvailable,
    /// Agents working the queue: available, on a contact or in after-contact work.
    NumberOfAgentsStaffed,
    /// Agents logged in for the queue with any status other than Offline.
    NumberOfAgentsOnline,
    /// How long the oldest contact in the queue has waited, in seconds.
    OldestContactInQueueAgeSeconds,
    /// Contacts waiting in the queue.
    NumberOfContactsInQueue,
}

impl MetricType {
    /// The metric for Connect's name in `MetricType`; `None` if unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NumberOfAgentsAvailable" => MetricType::NumberOfAgentsAvailable,
            "NumberOfAgentsStaffed" => MetricType::NumberOfAgentsStaffed,
            "NumberOfAgentsOnline" => MetricType::NumberOfAgentsOnline,
            "OldestContactInQueueAgeSeconds" => MetricType::OldestContactInQueueAgeSeconds,
            "NumberOfContactsInQueue" => MetricType::NumberOfContactsInQueue,
            _ => return None,
        })
    }
}

/// Who a recording captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Participant {
    /// The agent's side of the conversation.
    Agent,
    /// The customer's side of the conversation.
    Customer,
}

/// Flows that run on the contact's events, set by UpdateContactEventHooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventHook {
    /// The customer queue flow: what the customer meets while waiting in queue.
    CustomerQueue,
    /// The flow the customer hears while on hold.
    CustomerHold,
    /// The flow the agent hears while the customer is on hold.
    AgentHold,
    /// The flow played to the customer just before they are connected to the agent.
    CustomerWhisper,
    /// The flow played to the agent on accepting the contact.
    AgentWhisper,
    /// The disconnect flow: runs when the agent leaves and the customer is still
    /// there (Connect's Set disconnect flow block).
    CustomerRemaining,
    /// The flow run when the contact reaches the agent's workspace (step-by-step guides).
    DefaultAgentUI,
    /// The flow run in the agent's workspace when the contact disconnects.
    DisconnectAgentUI,
    /// The flow run when the contact is paused.
    PauseContact,
    /// The flow run when a paused contact is resumed.
    ResumeContact,
}

impl EventHook {
    /// The hook for its key in Connect's `EventHooks` parameter; `None` if unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CustomerQueue" => EventHook::CustomerQueue,
            "CustomerHold" => EventHook::CustomerHold,
            "AgentHold" => EventHook::AgentHold,
            "CustomerWhisper" => EventHook::CustomerWhisper,
            "AgentWhisper" => EventHook::AgentWhisper,
            "CustomerRemaining" => EventHook::CustomerRemaining,
            "DefaultAgentUI" => EventHook::DefaultAgentUI,
            "DisconnectAgentUI" => EventHook::DisconnectAgentUI,
            "PauseContact" => EventHook::PauseContact,
            "ResumeContact" => EventHook::ResumeContact,
            _ => return None,
        })
    }
}

/// How a GetParticipantInput with StoreInput checks what was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputValidation {
    /// Up to this many digits (Connect's CustomValidation.MaximumLength).
    MaxLength(u32),
    /// A phone number: `E164`, or `Local` to a country (ISO code).
    PhoneNumber {
        /// For `Local`, the ISO country code (`CountryCode`) numbers are read in;
        /// `None` for `E164`, where the number is typed with its country code.
        local_country: Option<String>,
    },
}

/// Every action type and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Plays a prompt (voice) or sends a message (chat), then goes on.
    MessageParticipant {
        /// What to play or send: Connect's `Text`, `SSML` or `PromptId`.
        message: Message,
    },
    /// Asks the customer for input: one menu key, matched against the conditions,
    /// or with `store_input` a number to store.
    GetParticipantInput {
        /// Played before collecting input (`Text`, `SSML` or `PromptId`); `None` plays nothing.
        prompt: Option<Message>,
        /// Seconds to wait for input, up to 7 days (`InputTimeLimitSeconds`; 5 if not given).
        timeout_seconds: u32,
        /// Collect a number into `$.StoredCustomerInput` instead of one menu digit.
        store_input: bool,
        /// How stored input is checked (`InputValidation`); `None` accepts up to 20
        /// digits.
        validation: Option<InputValidation>,
        /// Keys that end stored input (`DTMFConfiguration.InputTerminationSequence`,
        /// 1 to 5 of 0-9 * #); `None` means `#`. Not used for a menu key.
        terminator: Option<String>,
        /// Connect's `DTMFConfiguration.DisableCancelKey` (`*` no longer clears the
        /// input). Read but not acted on when the flow runs.
        disable_cancel_key: bool,
    },
    /// Plays messages in turn, round and round, e.g. while the customer waits in queue.
    MessageParticipantIteratively {
        /// The messages to cycle through (`Messages`, each a Text, SSML or PromptId).
        messages: Vec<Message>,
        /// Seconds, 1 to 3600, after which the loop is interrupted and the
        /// MessagesInterrupted branch taken (`InterruptFrequencySeconds`); `None` plays
        /// until the contact leaves.
        interrupt_seconds: Option<u32>,
    },
    /// Sets the text-to-speech voice for the rest of the contact.
    UpdateContactTextToSpeechVoice {
        /// The voice's name, e.g. `Joanna` (`TextToSpeechVoice`).
        voice: Operand,
        /// Connect's `TextToSpeechEngine`, as written; `None` if not given. Not used
        /// when the flow runs.
        engine: Option<String>,
    },
    /// Sets contact attributes, read as `$.Attributes.<name>`; all are set or,
    /// if one value names nothing, none.
    UpdateContactAttributes {
        /// Names and values to set (`Attributes`).
        attributes: Vec<(String, Operand)>,
    },
    /// Branches on a value: the first condition it satisfies, else NoMatchingCondition.
    Compare {
        /// What is compared, usually one reference such as `$.Attributes.x` (`ComparisonValue`).
        value: Operand,
    },
    /// Branches on whether hours of operation are open now: condition `True` or `False`.
    CheckHoursOfOperation {
        /// The hours of operation to check (`HoursOfOperationId`); `None` uses the target queue's.
        hours: Option<Operand>,
    },
    /// Reads a real-time queue metric and branches on its value with number conditions.
    CheckMetricData {
        /// Which metric to read (`MetricType`).
        metric: MetricType,
        /// The queue to read it for (`QueueId`); `None` uses the target queue.
        queue: Option<Operand>,
    },
    /// Picks a branch at random: rolls 1 to 100 and takes the first
    /// `NumberLessThan` condition the roll is under.
    DistributeByPercentage,
    /// Counts passes: `ContinueLooping` for the first `count` runs, then
    /// `DoneLooping`, which resets the count.
    Loop {
        /// How many times to loop, 0 to 100 (`LoopCount`); may be a reference.
        count: Operand,
    },
    /// Waits (chat) for a time, or until the customer comes back if it listens for that.
    Wait {
        /// How long to wait, in seconds, up to 7 days (`TimeoutSeconds`, or
        /// `TimeLimitSeconds` as the console writes it).
        timeout_seconds: u32,
        /// When the time is a reference (`$.External.waitSeconds`), read
        /// when the flow runs; `timeout_seconds` is then unused.
        timeout_reference: Option<Operand>,
        /// Whether `Events` lists `CustomerReturned`, so a message from the customer
        /// ends the wait on that branch.
        customer_returned: bool,
    },
    /// Sets the queue the contact will be put in: a queue, or an agent's own queue.
    UpdateContactTargetQueue {
        /// The queue (`QueueId`); exactly one of this and `agent` is given.
        queue: Option<Operand>,
        /// The agent whose personal queue is the target (`AgentId`).
        agent: Option<Operand>,
    },
    /// Puts the contact in its target queue; once it is queued, the flow ends.
    TransferContactToQueue,
    /// Continues the contact in another flow; this one ends.
    TransferToFlow {
        /// The flow to go to (`ContactFlowId`), by id, name or ARN.
        flow: Operand,
    },
    /// Calls an outside number and connects the customer to it.
    TransferParticipantToThirdParty {
        /// The number to call, in E.164 (`ThirdPartyPhoneNumber`).
        number: Operand,
        /// Seconds to wait for an answer, 1 to 600
        /// (`ThirdPartyConnectionTimeLimitSeconds`; 30 if not given).
        timeout_seconds: u32,
        /// Whether the flow goes on after the call (`ContinueFlowExecution`);
        /// otherwise it ends with the transfer.
        continue_flow: bool,
        /// Number shown to the called party (`CallerId.Number`); `None` if not given.
        caller_id_number: Option<Operand>,
        /// Name shown to the called party (`CallerId.Name`); `None` if not given.
        caller_id_name: Option<Operand>,
    },
    /// Sets who is recorded from now on.
    UpdateContactRecordingBehavior {
        /// Who to record, sorted and without repeats
        /// (`RecordingBehavior.RecordedParticipants`); empty turns recording off.
        participants: Vec<Participant>,
    },
    /// Starts or stops streaming the customer's audio to the instance's
    /// media streaming endpoint (Connect's Start/Stop media streaming).
    UpdateContactMediaStreamingBehavior {
        /// `MediaStreamingState`: Enabled starts, Disabled stops.
        enabled: bool,
        /// The customer's directions (`Participants[].MediaDirections`):
        /// what they say (`From`) and what they hear (`To`).
        directions: StreamDirections,
    },
    /// Sets flows to run on the contact's events.
    UpdateContactEventHooks {
        /// Each event and the flow to run on it, by id, name or ARN (`EventHooks`).
        hooks: Vec<(EventHook, Operand)>,
    },
    /// Changes how the contact is routed from its queue: priority or time in queue.
    UpdateContactRoutingBehavior {
        /// Queue priority, 1 or more, lower first (`QueuePriority`); `None` leaves it as it was.
        priority: Option<Operand>,
        /// Seconds the contact counts as having waited longer (negative: shorter)
        /// (`QueueTimeAdjustmentSeconds`); `None` leaves it as it was.
        time_adjustment_seconds: Option<Operand>,
    },
    /// Calls an external function (Connect's Lambda); its response is read as `$.External`.
    InvokeLambdaFunction {
        /// The function to call, by name or ARN (`LambdaFunctionARN`).
        function: Operand,
        /// Seconds to wait for the response, 1 to 8 (`InvocationTimeLimitSeconds`; 3 if not given).
        timeout_seconds: u32,
        /// Parameters passed to the function (`LambdaInvocationAttributes`).
        attributes: Vec<(String, Operand)>,
        /// `STRING_MAP` (flat key/value) or `JSON` (nested allowed).
        json_response: bool,
    },
    /// Hands the customer to a bot and branches on the intent it recognises.
    ConnectParticipantWithLexBot {
        /// The bot: `LexV2Bot.AliasArn`, or `LexBot.Name` for a Lex V1 bot.
        bot: Operand,
        /// Played to open the conversation (`Text`, `SSML` or `PromptId`); `None` plays nothing.
        prompt: Option<Message>,
        /// Session attributes passed to the bot (`LexSessionAttributes`).
        session_attributes: Vec<(String, Operand)>,
    },
    /// Sets flow attributes, read as `$.FlowAttributes.<name>`; all are set or,
    /// if one value names nothing, none.
    UpdateFlowAttributes {
        /// Names and values to set (`FlowAttributes`, each written `{"Value": ...}`).
        attributes: Vec<(String, Operand)>,
    },
    /// Turns flow logging on or off for the contact.
    UpdateFlowLoggingBehavior {
        /// Whether logging is on (`FlowLoggingBehavior` `Enabled`; `Disabled` is false).
        enabled: bool,
    },
    /// Runs a flow module, then goes on at this action's `NextAction`.
    InvokeFlowModule {
        /// The module to run (`FlowModuleId`), by id, name or ARN.
        module: Operand,
    },
    /// Ends a module and returns to the flow that invoked it.
    EndFlowModuleExecution,
    /// Hangs up the call or ends the chat.
    DisconnectParticipant,
    /// Ends the flow; whatever ran it carries on (a whisper ends, a hold
    /// resumes). Inside a module, returns to the caller.
    EndFlowExecution,
    /// Sets Connect-defined contact properties: name, description,
    /// references, language, customer id (kept on the contact record).
    UpdateContactData {
        /// The contact's name (`Name`); `None` leaves it.
        name: Option<Operand>,
        /// Its description (`Description`); `None` leaves it.
        description: Option<Operand>,
        /// The language code (`LanguageCode`), e.g. `en-GB`; `None` leaves it.
        language: Option<Operand>,
        /// The customer's id (`CustomerId`); `None` leaves it.
        customer_id: Option<Operand>,
        /// References, name to value (`References`; a value may be `{"Value", "Type"}`).
        references: Vec<(String, Operand)>,
    },
    /// Sets user-defined tags on the contact (at most 6, not `aws:`).
    TagContact {
        /// Keys and values (`Tags`).
        tags: Vec<(String, Operand)>,
    },
    /// Removes tags from the contact (`UntagContact`; the reference spells it `UnTagContact`).
    UntagContact {
        /// The keys to remove (`TagKeys`).
        keys: Vec<String>,
    },
    /// Sets the number a callback would ring (`CallbackNumber`, one reference).
    UpdateContactCallbackNumber {
        /// The number, usually `$.StoredCustomerInput` or an attribute.
        number: Operand,
    },
    /// Reads real-time figures of a queue into `$.Metrics`.
    GetMetricData {
        /// The queue (`QueueId`); `None` with no agent uses the target queue.
        queue: Option<Operand>,
        /// An agent whose personal queue is read (`AgentId`).
        agent: Option<Operand>,
        /// `Voice` or `Chat` (`QueueChannel`); `None` counts every channel.
        channel: Option<Operand>,
    },
    /// Dials the customer of an outbound call now (Connect's
    /// CompleteOutboundCall); the shell has already dialled, so it goes on.
    CompleteOutboundCall,
    /// An action of Connect's reference that belongs to a feature Switchboard
    /// does not have yet ([`crate::catalog`]): it validates and simulates,
    /// and when a flow runs it takes the branch Connect takes when the
    /// feature is not enabled.
    Other {
        /// What the reference says of it.
        spec: &'static crate::catalog::ActionSpec,
        /// Its `Parameters` as written, for the simulator and the log.
        parameters: serde_json::Map<String, serde_json::Value>,
    },
    /// A `Type` Connect's reference does not have. Kept so the rest of the
    /// flow can still be checked; validation reports it as an error.
    Unsupported,
}

impl ActionKind {
    /// Actions after which the flow does not go on.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ActionKind::DisconnectParticipant
                | ActionKind::EndFlowExecution
                | ActionKind::EndFlowModuleExecution
        ) || matches!(self, ActionKind::Other { spec, .. } if spec.terminal)
    }

    /// Actions that wait for the customer (input, a bot, a chat reply) or
    /// for something outside (a function call), or count, so a cycle through
    /// them is not a runaway loop.
    pub fn bounds_a_cycle(&self, flow_type: FlowType) -> bool {
        match self {
            ActionKind::GetParticipantInput { .. }
            | ActionKind::ConnectParticipantWithLexBot { .. }
            | ActionKind::Wait { .. }
            | ActionKind::Loop { .. }
            | ActionKind::InvokeLambdaFunction { .. }
            | ActionKind::MessageParticipantIteratively { .. } => true,
            ActionKind::Other { spec, .. } => spec.waits,
            ActionKind::MessageParticipant { .. } => flow_type.plays_while_waiting(),
            _ => false,
        }
    }
}

/// One action of a flow: an entry of its `Actions` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Position in the flow's `Actions` list as written, for error paths.
    pub index: usize,
    /// The action's `Identifier`, by which transitions name it.
    pub id: String,
    /// The `Type` as written.
    pub type_name: String,
    /// What the action does, with its `Parameters` read.
    pub kind: ActionKind,
    /// Where it goes next (`Transitions`).
    pub transitions: Transitions,
}

/// A parsed flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// From Connect's export wrapper, when there was one.
    pub name: Option<String>,
    /// From the export wrapper's `Type` (a module when there is none); `None` for
    /// a bare flow, whose type the caller must supply.
    pub flow_type: Option<FlowType>,
    /// Identifier of the first action (`StartAction`); empty if it was missing.
    pub start: String,
    /// The actions as written, less any too broken to read.
    pub actions: Vec<Action>,
    index: HashMap<String, usize>,
}

impl Flow {
    /// A flow from its parts, indexing actions by Identifier (of two with the same
    /// Identifier, the later wins).
    pub fn new(
        name: Option<String>,
        flow_type: Option<FlowType>,
        start: String,
        actions: Vec<Action>,
    ) -> Self {
        let index = actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Self {
            name,
            flow_type,
            start,
            actions,
            index,
        }
    }

    /// The action with Identifier `id`, if there is one.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.index.get(id).map(|i| &self.actions[*i])
    }

    /// Where the action with Identifier `id` is in `actions`, if anywhere.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// Which of the customer's audio a media stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StreamDirections {
    /// What the customer says.
    pub from_customer: bool,
    /// What the customer hears.
    pub to_customer: bool,
}
