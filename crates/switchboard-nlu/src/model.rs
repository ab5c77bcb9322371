//! A bot as configuration, in Lex V2's terms: locales, intents with sample
//! utterances and slots, slot types, prompts, confirmation, closing
//! response and code hooks. This is what the API stores and returns.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::builtin::BuiltIn;

/// Most intents in a locale (Lex's quota is 1,000).
pub const MAX_INTENTS: usize = 1000;
/// Most sample utterances in an intent (Lex's is 1,500).
pub const MAX_UTTERANCES: usize = 1500;
/// Most slots in an intent (Lex's is 100).
pub const MAX_SLOTS: usize = 100;
/// Most slot types in a locale, and values in a slot type.
pub const MAX_SLOT_TYPES: usize = 250;
/// Most values (with synonyms) in a custom slot type.
pub const MAX_VALUES: usize = 10_000;
/// Longest text (an utterance, a prompt, a value), in characters.
pub const MAX_TEXT: usize = 1000;
/// Most retries a slot or confirmation may ask for.
pub const MAX_RETRIES: u32 = 5;

/// A bot: what it is called and the languages it speaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bot {
    /// The bot's name; flows name it by this or by an alias ARN that ends in it.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// How long a conversation may sit idle before it is forgotten, in seconds.
    #[serde(default = "default_idle")]
    pub idle_session_ttl_seconds: u32,
    /// One per language, e.g. `en_US`.
    pub locales: Vec<Locale>,
}

fn default_idle() -> u32 {
    300
}

/// What the bot understands in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Locale {
    /// Lex's locale id: `en_US`, `en_GB`.
    pub locale_id: String,
    /// Below this confidence (0 to 1) an utterance goes to the fallback intent (Lex's default 0.40).
    #[serde(default = "default_threshold")]
    pub nlu_confidence_threshold: f64,
    /// The text-to-speech voice on calls, if not the flow's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// The external function that runs the intents' dialog and fulfilment
    /// code hooks (a Lambda in Lex), by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hook_function: Option<String>,
    /// What a customer may want.
    pub intents: Vec<Intent>,
    /// The locale's own slot types.
    #[serde(default)]
    pub slot_types: Vec<SlotType>,
}

fn default_threshold() -> f64 {
    0.4
}

/// Something a customer wants, and what the bot needs to know to do it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Intent {
    /// The name a flow's conditions test (`CheckBalance`).
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The fallback intent (Lex's `AMAZON.FallbackIntent`): what the bot
    /// answers when nothing else is understood well enough.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fallback: bool,
    /// Ways to say it; `{SlotName}` stands for a slot's value.
    #[serde(default)]
    pub sample_utterances: Vec<String>,
    /// Slots in the order they are asked for.
    #[serde(default)]
    pub slots: Vec<Slot>,
    /// Asked once every required slot is filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    /// Said when the intent is fulfilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_response: Option<String>,
    /// Said when the intent fails (retries used up, declined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_response: Option<String>,
    /// Call the locale's code hook function on each turn (Lex's dialog code
    /// hook); without a function, as in Lex without a Lambda, the bot goes on by its rules.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dialog_code_hook: bool,
    /// Call the locale's code hook function to fulfil the intent; without a
    /// function the intent ends ReadyForFulfillment, for the flow to fulfil.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fulfillment_code_hook: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A value the bot needs for an intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slot {
    /// The name utterances refer to as `{Name}` and flows read as `$.Lex.Slots.Name`.
    pub name: String,
    /// A built-in type (`AMAZON.Date`...) or one of the locale's slot types.
    pub slot_type: String,
    /// Whether the intent cannot go on without it.
    #[serde(default)]
    pub required: bool,
    /// What to ask for it ("What is your account number?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// How many more times to ask when an answer is not understood.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
}

fn default_retries() -> u32 {
    2
}

/// Asked before fulfilling: "Move $50 from checking to savings?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Confirmation {
    /// The question; `{SlotName}` is replaced by the slot's value.
    pub prompt: String,
    /// Said when the customer says no; the intent then fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declination_response: Option<String>,
    /// How many more times to ask when the answer is neither yes nor no.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
}

/// A custom slot type: values with synonyms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlotType {
    /// The name slots give as their type.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The values, each with other ways to say it.
    pub values: Vec<SlotTypeValue>,
    /// Whether only the listed values count (`TopResolution`, restrict) or
    /// an answer outside them is taken as said (`OriginalValue`, expand).
    #[serde(default)]
    pub resolution: Resolution,
}

/// A value of a custom slot type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlotTypeValue {
    /// The value the slot gets.
    pub value: String,
    /// Other words for it.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// How a custom slot type resolves what was said (Lex's `resolutionStrategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Resolution {
    /// Expand: a listed value if one matches, else what was said.
    #[default]
    OriginalValue,
    /// Restrict: only a listed value.
    TopResolution,
}

/// What is wrong with a bot definition, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    /// The field, as a JSON path from the bot (`locales[0].intents[2].slots[1].slotType`).
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Bot {
    /// Every problem in the definition; empty when the bot can run.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut add = |path: String, message: String| out.push(Problem { path, message });
        if !lex_name(&self.name) {
            add("name".into(), NAME_RULE.into());
        }
        if self.locales.is_empty() {
            add("locales".into(), "a bot needs at least one locale".into());
        }
        let mut seen = BTreeSet::new();
        for (l, locale) in self.locales.iter().enumerate() {
            let lp = format!("locales[{l}]");
            if !seen.insert(locale.locale_id.as_str()) {
                add(
                    format!("{lp}.localeId"),
                    format!("locale {} is listed twice", locale.locale_id),
                );
            }
            locale.check(&lp, &mut add);
        }
        out
    }
}

impl Locale {
    fn check(&self, lp: &str, add: &mut impl FnMut(String, String)) {
        if !(0.0..=1.0).contains(&self.nlu_confidence_threshold) {
            add(
                format!("{lp}.nluConfidenceThreshold"),
                "must be between 0 and 1".into(),
            );
        }
        if self.intents.len() > MAX_INTENTS {
            add(
                format!("{lp}.intents"),
                format!("at most {MAX_INTENTS} intents"),
            );
        }
        if self.slot_types.len() > MAX_SLOT_TYPES {
            add(
                format!("{lp}.slotTypes"),
                format!("at most {MAX_SLOT_TYPES} slot types"),
            );
        }
        let mut types = BTreeSet::new();
        for (t, st) in self.slot_types.iter().enumerate() {
            let tp = format!("{lp}.slotTypes[{t}]");
            if !lex_name(&st.name) {
                add(format!("{tp}.name"), NAME_RULE.into());
            } else if BuiltIn::from_name(&st.name).is_some() || !types.insert(st.name.as_str()) {
                add(
                    format!("{tp}.name"),
                    format!("slot type name {} is taken", st.name),
                );
            }
            if st.values.is_empty() {
                add(
                    format!("{tp}.values"),
                    "a slot type needs at least one value".into(),
                );
            }
            let words: usize = st.values.iter().map(|v| 1 + v.synonyms.len()).sum();
            if words > MAX_VALUES {
                add(
                    format!("{tp}.values"),
                    format!("at most {MAX_VALUES} values and synonyms"),
                );
            }
            for (v, value) in st.values.iter().enumerate() {
                if value.value.trim().is_empty() || value.value.len() > MAX_TEXT {
                    add(
                        format!("{tp}.values[{v}].value"),
                        "a value needs some text".into(),
                    );
                }
            }
        }
        let mut names = BTreeSet::new();
        let mut fallbacks = 0;
        for (i, intent) in self.intents.iter().enumerate() {
            let ip = format!("{lp}.intents[{i}]");
            if !lex_name(&intent.name) {
                add(format!("{ip}.name"), NAME_RULE.into());
            } else if !names.insert(intent.name.as_str()) {
                add(
                    format!("{ip}.name"),
                    format!("intent {} is listed twice", intent.name),
                );
            }
            fallbacks += usize::from(intent.fallback);
            if !intent.fallback && intent.sample_utterances.is_empty() {
                add(
                    format!("{ip}.sampleUtterances"),
                    "give at least one way to say it".into(),
                );
            }
            if intent.sample_utterances.len() > MAX_UTTERANCES {
                add(
                    format!("{ip}.sampleUtterances"),
                    format!("at most {MAX_UTTERANCES} utterances"),
                );
            }
            if intent.slots.len() > MAX_SLOTS {
                add(format!("{ip}.slots"), format!("at most {MAX_SLOTS} slots"));
            }
            let slot_names: BTreeSet<&str> = intent.slots.iter().map(|s| s.name.as_str()).collect();
            if slot_names.len() != intent.slots.len() {
                add(format!("{ip}.slots"), "slot names must differ".into());
            }
            for (u, utterance) in intent.sample_utterances.iter().enumerate() {
                if utterance.len() > MAX_TEXT {
                    add(
                        format!("{ip}.sampleUtterances[{u}]"),
                        format!("at most {MAX_TEXT} characters"),
                    );
                }
                for name in slot_references(utterance) {
                    if !slot_names.contains(name) {
                        add(
                            format!("{ip}.sampleUtterances[{u}]"),
                            format!("{{{name}}} names no slot of {}", intent.name),
                        );
                    }
                }
            }
            for (s, slot) in intent.slots.iter().enumerate() {
                let sp = format!("{ip}.slots[{s}]");
                if !lex_name(&slot.name) {
                    add(format!("{sp}.name"), NAME_RULE.into());
                }
                if BuiltIn::from_name(&slot.slot_type).is_none()
                    && !types.contains(slot.slot_type.as_str())
                {
                    add(
                        format!("{sp}.slotType"),
                        format!("no slot type {}", slot.slot_type),
                    );
                }
                if slot.required && slot.prompt.as_deref().is_none_or(|p| p.trim().is_empty()) {
                    add(
                        format!("{sp}.prompt"),
                        "a required slot needs a prompt to ask for it".into(),
                    );
                }
                if slot.max_retries > MAX_RETRIES {
                    add(format!("{sp}.maxRetries"), format!("at most {MAX_RETRIES}"));
                }
            }
        }
        for (i, intent) in self.intents.iter().enumerate() {
            if intent
                .confirmation
                .as_ref()
                .is_some_and(|c| c.max_retries > MAX_RETRIES)
            {
                add(
                    format!("{lp}.intents[{i}].confirmation.maxRetries"),
                    format!("at most {MAX_RETRIES}"),
                );
            }
        }
        if fallbacks > 1 {
            add(
                format!("{lp}.intents"),
                "only one intent may be the fallback".into(),
            );
        }
    }
}

/// What names may be: Lex's rule, which also keeps them safe as the folder
/// names of an export.
const NAME_RULE: &str = "1 to 100 letters or digits, each perhaps followed by one '_' or '-', starting with a letter or digit";

/// Whether a name follows Lex's rule `^([0-9a-zA-Z][_-]?){1,100}$`.
pub fn lex_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() {
        return false;
    }
    let mut groups = 0;
    let mut previous_separator = false;
    for b in bytes {
        match b {
            b'_' | b'-' if !previous_separator => previous_separator = true,
            b if b.is_ascii_alphanumeric() => {
                groups += 1;
                previous_separator = false;
            }
            _ => return false,
        }
    }
    groups <= 100
}

/// The `{SlotName}` references in an utterance.
pub fn slot_references(utterance: &str) -> impl Iterator<Item = &str> {
    utterance
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.trim()))
}
