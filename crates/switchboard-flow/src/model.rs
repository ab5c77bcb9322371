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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowType {
    /// An inbound contact flow: what a caller or chatter meets first.
    ContactFlow,
    /// What a waiting customer hears or sees.
    CustomerQueue,
    CustomerHold,
    CustomerWhisper,
    AgentHold,
    AgentWhisper,
    OutboundWhisper,
    AgentTransfer,
    QueueTransfer,
    /// A reusable piece of flow, invoked with InvokeFlowModule.
    Module,
}

impl FlowType {
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

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
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
    Text(Operand),
    Ssml(Operand),
    Prompt(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    TextStartsWith,
    TextEndsWith,
    TextContains,
    NumberGreaterThan,
    NumberGreaterOrEqualTo,
    NumberLessThan,
    NumberLessOrEqualTo,
}

impl Operator {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub next: String,
    pub operator: Operator,
    pub operand: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBranch {
    pub error_type: String,
    pub next: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    pub next: Option<String>,
    /// Ordered: the first true condition wins.
    pub conditions: Vec<Condition>,
    pub errors: Vec<ErrorBranch>,
}

impl Transitions {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    NumberOfAgentsAvailable,
    NumberOfAgentsStaffed,
    NumberOfAgentsOnline,
    OldestContactInQueueAgeSeconds,
    NumberOfContactsInQueue,
}

impl MetricType {
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
    Agent,
    Customer,
}

/// Flows that run on the contact's events, set by UpdateContactEventHooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventHook {
    CustomerQueue,
    CustomerHold,
    AgentHold,
    CustomerWhisper,
    AgentWhisper,
    CustomerRemaining,
    DefaultAgentUI,
    PauseContact,
    ResumeContact,
}

impl EventHook {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CustomerQueue" => EventHook::CustomerQueue,
            "CustomerHold" => EventHook::CustomerHold,
            "AgentHold" => EventHook::AgentHold,
            "CustomerWhisper" => EventHook::CustomerWhisper,
            "AgentWhisper" => EventHook::AgentWhisper,
            "CustomerRemaining" => EventHook::CustomerRemaining,
            "DefaultAgentUI" => EventHook::DefaultAgentUI,
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
    PhoneNumber { local_country: Option<String> },
}

/// Every action type and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    MessageParticipant {
        message: Message,
    },
    GetParticipantInput {
        prompt: Option<Message>,
        timeout_seconds: u32,
        /// Collect a number into `$.StoredCustomerInput` instead of one menu digit.
        store_input: bool,
        validation: Option<InputValidation>,
        terminator: Option<String>,
        disable_cancel_key: bool,
    },
    MessageParticipantIteratively {
        messages: Vec<Message>,
        interrupt_seconds: Option<u32>,
    },
    UpdateContactTextToSpeechVoice {
        voice: Operand,
        engine: Option<String>,
    },
    UpdateContactAttributes {
        attributes: Vec<(String, Operand)>,
    },
    Compare {
        value: Operand,
    },
    CheckHoursOfOperation {
        hours: Option<Operand>,
    },
    CheckMetricData {
        metric: MetricType,
        queue: Option<Operand>,
    },
    DistributeByPercentage,
    Loop {
        count: Operand,
    },
    Wait {
        timeout_seconds: u32,
        customer_returned: bool,
    },
    UpdateContactTargetQueue {
        queue: Option<Operand>,
        agent: Option<Operand>,
    },
    TransferContactToQueue,
    TransferToFlow {
        flow: Operand,
    },
    TransferParticipantToThirdParty {
        number: Operand,
        timeout_seconds: u32,
        continue_flow: bool,
        caller_id_number: Option<Operand>,
        caller_id_name: Option<Operand>,
    },
    UpdateContactRecordingBehavior {
        participants: Vec<Participant>,
    },
    UpdateContactEventHooks {
        hooks: Vec<(EventHook, Operand)>,
    },
    UpdateContactRoutingBehavior {
        priority: Option<Operand>,
        time_adjustment_seconds: Option<Operand>,
    },
    InvokeLambdaFunction {
        function: Operand,
        timeout_seconds: u32,
        attributes: Vec<(String, Operand)>,
        /// `STRING_MAP` (flat key/value) or `JSON` (nested allowed).
        json_response: bool,
    },
    ConnectParticipantWithLexBot {
        bot: Operand,
        prompt: Option<Message>,
        session_attributes: Vec<(String, Operand)>,
    },
    UpdateFlowAttributes {
        attributes: Vec<(String, Operand)>,
    },
    UpdateFlowLoggingBehavior {
        enabled: bool,
    },
    InvokeFlowModule {
        module: Operand,
    },
    EndFlowModuleExecution,
    DisconnectParticipant,
    EndFlowExecution,
    /// A Connect action type Switchboard does not run. Kept so the rest of
    /// the flow can still be checked; validation reports it as an error.
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
        )
    }

    /// Actions that wait for the customer (input, a bot, a chat reply) or
    /// count, so a cycle through them is not a runaway loop.
    pub fn bounds_a_cycle(&self, flow_type: FlowType) -> bool {
        match self {
            ActionKind::GetParticipantInput { .. }
            | ActionKind::ConnectParticipantWithLexBot { .. }
            | ActionKind::Wait { .. }
            | ActionKind::Loop { .. }
            | ActionKind::MessageParticipantIteratively { .. } => true,
            ActionKind::MessageParticipant { .. } => flow_type.plays_while_waiting(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Position in the flow's `Actions` list as written, for error paths.
    pub index: usize,
    pub id: String,
    /// The `Type` as written.
    pub type_name: String,
    pub kind: ActionKind,
    pub transitions: Transitions,
}

/// A parsed flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// From Connect's export wrapper, when there was one.
    pub name: Option<String>,
    pub flow_type: Option<FlowType>,
    pub start: String,
    pub actions: Vec<Action>,
    index: HashMap<String, usize>,
}

impl Flow {
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

    pub fn action(&self, id: &str) -> Option<&Action> {
        self.index.get(id).map(|i| &self.actions[*i])
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}
