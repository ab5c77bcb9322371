//! Code hooks in Lex V2's shape: the request a dialog or fulfilment hook
//! function receives and the response it returns, so a function written for
//! Lex runs unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why the function is called (`invocationSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvocationSource {
    /// On a turn of the conversation, to validate or steer.
    DialogCodeHook,
    /// To do what the intent asks.
    FulfillmentCodeHook,
}

/// How the customer spoke (`inputMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputMode {
    /// Typed in a chat.
    #[default]
    Text,
    /// Spoken on a call.
    Speech,
    /// Keys on a call.
    #[serde(rename = "DTMF")]
    Dtmf,
}

/// Where an intent stands (`intent.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntentState {
    /// Slots still being filled.
    InProgress,
    /// Everything is known; it can be done.
    ReadyForFulfillment,
    /// Done.
    Fulfilled,
    /// It could not be done.
    Failed,
}

/// Whether the customer said yes to the confirmation prompt (`confirmationState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfirmationState {
    /// Not asked, or not answered.
    #[default]
    None,
    /// Yes.
    Confirmed,
    /// No.
    Denied,
}

/// A slot's value: what was said and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotValue {
    /// Lex's shape, always `Scalar` here.
    #[serde(default = "scalar")]
    pub shape: String,
    /// The value.
    pub value: Value,
}

fn scalar() -> String {
    "Scalar".into()
}

/// The three forms of a slot value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Value {
    /// As the customer said it.
    #[serde(default)]
    pub original_value: String,
    /// As the bot understood it (the canonical form: `2026-12-08`).
    #[serde(default)]
    pub interpreted_value: String,
    /// Candidate values (one here).
    #[serde(default)]
    pub resolved_values: Vec<String>,
}

impl SlotValue {
    /// A value as said and as understood.
    pub fn new(original: &str, interpreted: &str) -> SlotValue {
        SlotValue {
            shape: scalar(),
            value: Value {
                original_value: original.to_string(),
                interpreted_value: interpreted.to_string(),
                resolved_values: vec![interpreted.to_string()],
            },
        }
    }
}

/// The intent in a session state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentSnapshot {
    /// Its name.
    pub name: String,
    /// Every slot of the intent; `null` while unfilled.
    #[serde(default)]
    pub slots: BTreeMap<String, Option<SlotValue>>,
    /// Where it stands.
    pub state: IntentState,
    /// The answer to the confirmation prompt.
    #[serde(default)]
    pub confirmation_state: ConfirmationState,
}

/// What the bot does next (`dialogAction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DialogAction {
    /// `Close`, `ConfirmIntent`, `Delegate`, `ElicitIntent` or `ElicitSlot`.
    #[serde(rename = "type")]
    pub kind: DialogActionType,
    /// The slot to ask for, with `ElicitSlot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_to_elicit: Option<String>,
}

/// The kinds of `dialogAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DialogActionType {
    /// End the conversation.
    Close,
    /// Ask the confirmation prompt.
    ConfirmIntent,
    /// Let the bot choose.
    Delegate,
    /// Ask what the customer wants.
    ElicitIntent,
    /// Ask for a slot.
    ElicitSlot,
}

/// The conversation's state (`sessionState`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// Attributes the flow passed in and the functions set.
    #[serde(default)]
    pub session_attributes: BTreeMap<String, String>,
    /// What happens next; in a request, what the bot meant to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialog_action: Option<DialogAction>,
    /// The intent under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<IntentSnapshot>,
}

/// The bot a request comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotRef {
    /// The bot's id (its name here).
    pub id: String,
    /// The bot's name.
    pub name: String,
    /// `en_US`.
    pub locale_id: String,
    /// `DRAFT`: bots here have no versions.
    pub version: String,
    /// The alias id; the bot's name here.
    pub alias_id: String,
    /// The alias name.
    pub alias_name: String,
}

/// A candidate intent in a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookInterpretation {
    /// The intent.
    pub intent: IntentSnapshot,
    /// How sure the bot is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nlu_confidence: Option<Confidence>,
}

/// `{"score": 0.87}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    /// From 0 to 1.
    pub score: f64,
}

/// What a code hook function receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `1.0`.
    pub message_version: String,
    /// Why it is called.
    pub invocation_source: InvocationSource,
    /// How the customer spoke.
    pub input_mode: InputMode,
    /// `text/plain; charset=utf-8`.
    pub response_content_type: String,
    /// The conversation's id (the contact's).
    pub session_id: String,
    /// What the customer last said.
    pub input_transcript: String,
    /// The bot.
    pub bot: BotRef,
    /// The candidate intents, best first.
    pub interpretations: Vec<HookInterpretation>,
    /// The conversation's state.
    pub session_state: SessionState,
}

/// One message to say (`messages[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// `PlainText`, `SSML`, `CustomPayload` or `ImageResponseCard`.
    pub content_type: String,
    /// The text (or SSML, or payload).
    #[serde(default)]
    pub content: String,
}

/// What a code hook function returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The state to go on with.
    pub session_state: SessionState,
    /// What to say, in order.
    #[serde(default)]
    pub messages: Vec<Message>,
}
