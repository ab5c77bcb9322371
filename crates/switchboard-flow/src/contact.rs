//! What the flow knows about the contact, and how `$.` references read it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::{EventHook, Participant};
use crate::operand::{Operand, Path};

/// The queue a contact is targeted at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRef {
    /// The queue's id; `$.Queue.Id`, `$.Queue.QueueId` and `$.Queue.ARN` read it.
    pub id: String,
    /// The queue's name; `$.Queue.Name` reads it.
    pub name: String,
}

/// The contact as the flow sees and changes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactData {
    /// This contact's id; `$.ContactId` reads it.
    pub contact_id: String,
    /// The id of the first contact in a chain of transfers; the constructors
    /// set it to `contact_id`. `$.InitialContactId` reads it.
    pub initial_contact_id: String,
    /// `VOICE` or `CHAT`.
    pub channel: String,
    /// `INBOUND`, `OUTBOUND`, `TRANSFER`, `API`...
    pub initiation_method: String,
    /// The customer's number (or chat participant id).
    pub customer_address: String,
    /// The number the customer called.
    pub system_address: String,
    /// Contact attributes: set by UpdateContactAttributes, read as `$.Attributes.<key>`.
    pub attributes: BTreeMap<String, String>,
    /// What the last external function returned.
    pub external: BTreeMap<String, Value>,
    /// Flow attributes: set by UpdateFlowAttributes, read as `$.FlowAttributes.<key>`.
    pub flow_attributes: BTreeMap<String, String>,
    /// What GetParticipantInput with StoreInput collected (a phone number in
    /// E.164 form when it validates one), read as `$.StoredCustomerInput`.
    /// `None` until then.
    pub stored_input: Option<String>,
    /// The target queue, set when UpdateContactTargetQueue finds one; `None`
    /// until then. TransferContactToQueue needs it, and CheckHoursOfOperation
    /// without hours uses its hours.
    pub queue: Option<QueueRef>,
    /// The text-to-speech voice messages are spoken in (`Joanna` at first);
    /// set by UpdateContactTextToSpeechVoice, read as `$.TextToSpeechVoice`.
    pub voice: String,
    /// The language code (`en-US` at first), read as `$.LanguageCode`.
    pub language: String,
    /// Who is recorded, set by UpdateContactRecordingBehavior; empty means no recording.
    pub recording: Vec<Participant>,
    /// Whether this instance streams media (an endpoint is configured, and
    /// the contact is a call): set by the shell; without it
    /// UpdateContactMediaStreamingBehavior takes its error branch.
    #[serde(default)]
    pub media_streaming_available: bool,
    /// What is streamed now, set by UpdateContactMediaStreamingBehavior;
    /// `None`: nothing.
    #[serde(default)]
    pub media_streaming: Option<crate::model::StreamDirections>,
    /// The flow to run on each contact event, by the reference the flow gave;
    /// set by UpdateContactEventHooks.
    #[serde(serialize_with = "hooks_by_name")]
    pub event_hooks: BTreeMap<EventHook, String>,
    /// Priority in queue (lower goes first), set by UpdateContactRoutingBehavior
    /// and sent with `Effect::Enqueue`; `None` leaves the default.
    pub queue_priority: Option<u32>,
    /// Seconds the contact counts as having already waited in queue (may be
    /// negative), set by UpdateContactRoutingBehavior; `None` for no adjustment.
    pub queue_time_adjustment_seconds: Option<i64>,
    /// The intent the bot last recognised, read as `$.Lex.IntentName`; `None` until a bot answers.
    pub lex_intent: Option<String>,
    /// The slot values of the bot's last answer, read as `$.Lex.Slots.<name>`.
    pub lex_slots: BTreeMap<String, String>,
    /// The session attributes the bot's conversation ended with, read as `$.Lex.SessionAttributes.<name>`.
    #[serde(default)]
    pub lex_session_attributes: BTreeMap<String, String>,
    /// Whether flow logging is on (off at first); set by UpdateFlowLoggingBehavior.
    pub logging: bool,
    /// The contact's name, set by UpdateContactData, read as `$.Name`.
    pub name: Option<String>,
    /// Its description, set by UpdateContactData, read as `$.Description`.
    pub description: Option<String>,
    /// References (name to value), set by UpdateContactData, read as `$.References.<name>`.
    pub references: BTreeMap<String, String>,
    /// The customer's id, set by UpdateContactData, read as `$.CustomerId`.
    pub customer_id: Option<String>,
    /// User-defined tags, set by TagContact and UntagContact, read as `$.Tags.<key>`.
    pub tags: BTreeMap<String, String>,
    /// The number a callback would ring, in E.164 form (UpdateContactCallbackNumber).
    pub callback_number: Option<String>,
    /// Namespaces an action fills as a whole: `Metrics` (GetMetricData), and
    /// in the simulator a feature's (`Customer`, `Views`, `Case`...).
    pub namespaces: BTreeMap<String, Value>,
}

fn hooks_by_name<S: serde::Serializer>(
    hooks: &BTreeMap<EventHook, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(hooks.len()))?;
    for (k, v) in hooks {
        map.serialize_entry(&format!("{k:?}"), v)?;
    }
    map.end()
}

impl ContactData {
    /// A new voice contact from `customer` to `system`.
    pub fn voice(contact_id: &str, customer: &str, system: &str) -> Self {
        Self {
            contact_id: contact_id.into(),
            initial_contact_id: contact_id.into(),
            channel: "VOICE".into(),
            initiation_method: "INBOUND".into(),
            customer_address: customer.into(),
            system_address: system.into(),
            attributes: BTreeMap::new(),
            external: BTreeMap::new(),
            flow_attributes: BTreeMap::new(),
            stored_input: None,
            queue: None,
            voice: "Joanna".into(),
            language: "en-US".into(),
            recording: vec![],
            media_streaming_available: false,
            media_streaming: None,
            event_hooks: BTreeMap::new(),
            queue_priority: None,
            queue_time_adjustment_seconds: None,
            lex_intent: None,
            lex_slots: BTreeMap::new(),
            lex_session_attributes: BTreeMap::new(),
            logging: false,
            name: None,
            description: None,
            references: BTreeMap::new(),
            customer_id: None,
            tags: BTreeMap::new(),
            callback_number: None,
            namespaces: BTreeMap::new(),
        }
    }

    /// A new chat contact started by a customer called `display_name`
    /// (Connect's StartChatContact: initiation method API, no phone numbers).
    pub fn chat(contact_id: &str, display_name: &str) -> Self {
        Self {
            channel: "CHAT".into(),
            initiation_method: "API".into(),
            customer_address: String::new(),
            system_address: String::new(),
            ..Self::voice(contact_id, display_name, "")
        }
    }

    /// The value a reference reads, if the contact has it.
    pub fn lookup(&self, path: &Path) -> Option<String> {
        let segs: Vec<&str> = path.0.iter().map(String::as_str).collect();
        let text = |v: &str| Some(v.to_string());
        match segs.as_slice() {
            ["Attributes", key] => self.attributes.get(*key).cloned(),
            ["External", rest @ ..] if !rest.is_empty() => {
                let mut v = self.external.get(rest[0])?;
                for key in &rest[1..] {
                    v = v.get(*key)?;
                }
                Some(match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }
            ["FlowAttributes", key] => self.flow_attributes.get(*key).cloned(),
            ["CustomerEndpoint", "Address"] => text(&self.customer_address),
            ["SystemEndpoint", "Address"] => text(&self.system_address),
            ["CustomerEndpoint" | "SystemEndpoint", "Type"] => text("TELEPHONE_NUMBER"),
            ["Channel"] => text(&self.channel),
            ["InitiationMethod"] => text(&self.initiation_method),
            ["ContactId"] => text(&self.contact_id),
            ["InitialContactId"] => text(&self.initial_contact_id),
            ["Queue", "Name"] => self.queue.as_ref().map(|q| q.name.clone()),
            ["Queue", "ARN" | "Id" | "QueueId"] => self.queue.as_ref().map(|q| q.id.clone()),
            ["StoredCustomerInput"] => self.stored_input.clone(),
            ["Lex", "IntentName"] => self.lex_intent.clone(),
            ["Lex", "Slots", slot] => self.lex_slots.get(*slot).cloned(),
            ["Lex", "SessionAttributes", name] => self.lex_session_attributes.get(*name).cloned(),
            ["TextToSpeechVoice" | "TextToSpeechVoiceId"] => text(&self.voice),
            ["Name"] => self.name.clone(),
            ["Description"] => self.description.clone(),
            ["CustomerId"] => self.customer_id.clone(),
            ["References", key] | ["References", key, "Value"] => {
                self.references.get(*key).cloned()
            }
            ["Tags", key] => self.tags.get(*key).cloned(),
            // The number a callback would ring: set, else the caller's own.
            ["CallbackNumber" | "CustomerCallBackPhoneNumber"] => self
                .callback_number
                .clone()
                .or_else(|| Some(self.customer_address.clone())),
            [root, rest @ ..] if self.namespaces.contains_key(*root) => {
                let mut v = self.namespaces.get(*root)?;
                for key in rest {
                    v = v.get(*key)?;
                }
                Some(match v {
                    Value::String(s) => s.clone(),
                    Value::Null => return None,
                    other => other.to_string(),
                })
            }
            ["LanguageCode"] => text(&self.language),
            // There is no AWS region here; flows that splice it into ARNs
            // still get a stable value.
            ["AwsRegion"] => text("local"),
            _ => None,
        }
    }

    /// Every value of `pairs` rendered strictly ([`ContactData::render_strict`]),
    /// or the first pair whose value names nothing: Connect sets such a
    /// group all or none.
    pub fn render_all<'a>(
        &self,
        pairs: &'a [(String, Operand)],
    ) -> Result<Vec<(String, String)>, &'a (String, Operand)> {
        pairs
            .iter()
            .map(|pair| match self.render_strict(&pair.1) {
                Some(value) => Ok((pair.0.clone(), value)),
                None => Err(pair),
            })
            .collect()
    }

    /// The value with every reference filled in; references that find nothing become empty.
    pub fn render(&self, op: &Operand) -> String {
        op.resolve(|p| self.lookup(p))
    }

    /// A value that is exactly one reference must find something; text with
    /// references inside renders missing ones as empty.
    pub fn render_strict(&self, op: &Operand) -> Option<String> {
        match op.single_path() {
            Some(p) => self.lookup(p),
            None => Some(self.render(op)),
        }
    }
}
