//! A conversation with a bot, as a sans-IO state machine: what the
//! customer said (or did not say, or what a code hook answered) goes in
//! ([`Dialog::handle`]); what to say, when to listen, which function to
//! call and how it ended come out ([`Effect`]).
//!
//! ## Lex V2's rules
//! - The first utterance picks the intent (or the fallback intent, below the
//!   locale's confidence threshold) and fills the slots it names.
//! - Each required slot still empty is asked for with its prompt, in the
//!   intent's order; an answer that holds no value is asked again, up to
//!   the slot's retries, and then the intent fails.
//! - With every required slot filled, the confirmation prompt is asked; no
//!   says the declination and fails the intent; neither counts as a retry.
//! - Then the fulfilment code hook runs, if enabled, or the intent is
//!   fulfilled; the closing response is said.
//! - With a dialog code hook, the function is called on every turn with
//!   Lex's request and steers with Lex's `dialogAction`: `ElicitSlot`,
//!   `ConfirmIntent`, `ElicitIntent`, `Close` or `Delegate` (let these rules
//!   go on).
//! - A conversation has at most [`MAX_TURNS`] turns.

use std::collections::BTreeMap;

use crate::builtin::Context;
use crate::engine::Engine;
use crate::hook::{
    self, ConfirmationState, DialogActionType, InputMode, IntentState, InvocationSource,
};

/// Most things a customer may say to one bot before it gives up.
pub const MAX_TURNS: u32 = 30;
/// Most code hook calls between two things the customer says.
pub const MAX_HOOKS_PER_TURN: u32 = 4;

/// What happens to the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The customer said (or typed) this.
    Said(String),
    /// The customer said nothing in time.
    Silence,
    /// The code hook function answered: its JSON, or why it failed.
    HookAnswered(Result<serde_json::Value, String>),
}

/// What the shell should expect the customer to say next, so speech
/// recognition and keys can be tuned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expecting {
    /// Anything: an intent.
    Intent,
    /// A slot's value, of this type.
    Slot {
        /// The slot.
        name: String,
        /// Its type's name (`AMAZON.Number`...).
        slot_type: String,
    },
    /// Yes or no.
    Confirmation,
}

/// What the dialog asks of the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Say (play or send) this to the customer.
    Say(String),
    /// Wait for the customer; answer `Said` or `Silence`.
    Listen(Expecting),
    /// Call the locale's code hook function with this Lex V2 request; answer `HookAnswered`.
    CallHook {
        /// The function, by name.
        function: String,
        /// The request, in Lex V2's shape.
        request: Box<hook::Request>,
    },
    /// The conversation is over.
    Finished(Outcome),
}

/// How a conversation ended: what a flow reads as `$.Lex`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The intent (`$.Lex.IntentName`); the fallback's when nothing was understood.
    pub intent: String,
    /// Fulfilled, ReadyForFulfillment or Failed.
    pub state: IntentState,
    /// The slots' understood values (`$.Lex.Slots`).
    pub slots: BTreeMap<String, String>,
    /// Session attributes as the functions left them (`$.Lex.SessionAttributes`).
    pub session_attributes: BTreeMap<String, String>,
    /// The intent's confidence when it was recognised.
    pub confidence: Option<f64>,
    /// Why it ended badly: no answer in time, a function that failed. `None` when it ended by the rules.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Awaiting {
    Intent,
    Slot(String),
    Confirmation,
    Hook(InvocationSource),
    Done,
}

/// The intent under way.
#[derive(Debug, Clone)]
struct Active {
    name: String,
    slots: BTreeMap<String, (String, String)>,
    confirmation: ConfirmationState,
    confidence: Option<f64>,
}

/// One conversation with one bot locale.
#[derive(Debug, Clone)]
pub struct Dialog {
    session_id: String,
    bot_name: String,
    input_mode: InputMode,
    session_attributes: BTreeMap<String, String>,
    active: Option<Active>,
    awaiting: Awaiting,
    retries: u32,
    turns: u32,
    /// Code hook calls since the customer last spoke.
    hooks_this_turn: u32,
    transcript: String,
    interpretations: Vec<crate::classify::Interpretation>,
}

impl Dialog {
    /// A conversation that starts by listening for what the customer wants.
    pub fn start(
        session_id: &str,
        bot_name: &str,
        input_mode: InputMode,
        session_attributes: BTreeMap<String, String>,
        effects: &mut Vec<Effect>,
    ) -> Dialog {
        effects.push(Effect::Listen(Expecting::Intent));
        Dialog {
            session_id: session_id.to_string(),
            bot_name: bot_name.to_string(),
            input_mode,
            session_attributes,
            active: None,
            awaiting: Awaiting::Intent,
            retries: 0,
            turns: 0,
            hooks_this_turn: 0,
            transcript: String::new(),
            interpretations: Vec::new(),
        }
    }

    /// Whether the conversation is over.
    pub fn is_finished(&self) -> bool {
        self.awaiting == Awaiting::Done
    }

    /// Takes what happened; pushes what to do.
    pub fn handle(
        &mut self,
        engine: &Engine,
        cx: &Context,
        input: Input,
        effects: &mut Vec<Effect>,
    ) {
        if matches!(input, Input::Said(_) | Input::Silence) {
            self.hooks_this_turn = 0;
        }
        match (self.awaiting.clone(), input) {
            (Awaiting::Done, _) => {}
            (Awaiting::Hook(source), Input::HookAnswered(answer)) => {
                self.hook_answered(engine, cx, source, answer, effects)
            }
            (Awaiting::Hook(_), _) => {}
            (_, Input::HookAnswered(_)) => {}
            (_, Input::Silence) if self.turns >= MAX_TURNS => {
                self.fail(
                    engine,
                    Some("the conversation went on too long".into()),
                    effects,
                );
            }
            (_, Input::Said(text)) if self.turns >= MAX_TURNS => {
                self.transcript = text;
                self.fail(
                    engine,
                    Some("the conversation went on too long".into()),
                    effects,
                );
            }
            (Awaiting::Intent, Input::Said(text)) => {
                self.turns += 1;
                self.transcript = text;
                self.understand(engine, cx, effects);
            }
            (Awaiting::Intent, Input::Silence) => self.finish(
                IntentState::Failed,
                Some("the customer said nothing".into()),
                effects,
            ),
            (Awaiting::Slot(slot), Input::Said(text)) => {
                self.turns += 1;
                self.transcript = text;
                self.answer_slot(engine, cx, &slot, effects);
            }
            (Awaiting::Slot(slot), Input::Silence) => {
                // A silence is a turn too: retries and the turn limit both end a silent line.
                self.turns += 1;
                self.retry_slot(engine, cx, &slot, effects)
            }
            (Awaiting::Confirmation, Input::Said(text)) => {
                self.turns += 1;
                self.transcript = text;
                match engine.confirmation(&self.transcript, cx) {
                    Some(true) => {
                        self.set_confirmation(ConfirmationState::Confirmed);
                        self.retries = 0;
                        self.next_step(engine, cx, true, effects);
                    }
                    Some(false) => {
                        self.set_confirmation(ConfirmationState::Denied);
                        self.declined(engine, cx, effects);
                    }
                    None => self.retry_confirmation(engine, cx, effects),
                }
            }
            (Awaiting::Confirmation, Input::Silence) => {
                self.turns += 1;
                self.retry_confirmation(engine, cx, effects)
            }
        }
    }

    fn intent<'e>(&self, engine: &'e Engine) -> Option<&'e crate::model::Intent> {
        self.active.as_ref().and_then(|a| engine.intent(&a.name))
    }

    fn understand(&mut self, engine: &Engine, cx: &Context, effects: &mut Vec<Effect>) {
        let r = engine.recognise(&self.transcript, cx);
        let confidence = r
            .interpretations
            .iter()
            .find(|i| i.intent == r.intent)
            .map(|i| i.confidence);
        self.interpretations = r.interpretations;
        self.active = Some(Active {
            name: r.intent.clone(),
            slots: r
                .slots
                .into_iter()
                .map(|(k, v)| (k, (self.transcript.clone(), v)))
                .collect(),
            confirmation: ConfirmationState::None,
            confidence,
        });
        self.retries = 0;
        self.next_step(engine, cx, true, effects);
    }

    fn answer_slot(
        &mut self,
        engine: &Engine,
        cx: &Context,
        slot: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(name) = self.active.as_ref().map(|a| a.name.clone()) else {
            return;
        };
        let value = engine.answer(&name, slot, &self.transcript, cx);
        // Other slots said in the same breath count too ("$50, from savings").
        let others = engine.recognise_for(&name, &self.transcript, cx);
        if let Some(active) = self.active.as_mut() {
            for (k, v) in others {
                if k != slot {
                    active
                        .slots
                        .entry(k)
                        .or_insert_with(|| (self.transcript.clone(), v));
                }
            }
            if let Some(v) = &value {
                active
                    .slots
                    .insert(slot.to_string(), (self.transcript.clone(), v.clone()));
            }
        }
        if value.is_some() {
            self.retries = 0;
            self.next_step(engine, cx, true, effects);
        } else {
            self.retry_slot(engine, cx, slot, effects);
        }
    }

    fn retry_slot(&mut self, engine: &Engine, cx: &Context, slot: &str, effects: &mut Vec<Effect>) {
        let Some(s) = self
            .intent(engine)
            .and_then(|i| i.slots.iter().find(|s| s.name == slot))
            .cloned()
        else {
            return self.fail(engine, None, effects);
        };
        self.retries += 1;
        if self.retries > s.max_retries {
            return self.fail(engine, None, effects);
        }
        self.elicit(engine, cx, &s, effects);
    }

    fn retry_confirmation(&mut self, engine: &Engine, cx: &Context, effects: &mut Vec<Effect>) {
        let Some(c) = self.intent(engine).and_then(|i| i.confirmation.clone()) else {
            return self.fail(engine, None, effects);
        };
        self.retries += 1;
        if self.retries > c.max_retries {
            return self.fail(engine, None, effects);
        }
        self.confirm(engine, cx, effects);
    }

    fn set_confirmation(&mut self, state: ConfirmationState) {
        if let Some(a) = self.active.as_mut() {
            a.confirmation = state;
        }
    }

    /// What comes next by the rules; with `hook_first`, the dialog code hook decides first.
    fn next_step(
        &mut self,
        engine: &Engine,
        cx: &Context,
        hook_first: bool,
        effects: &mut Vec<Effect>,
    ) {
        let Some(intent) = self.intent(engine).cloned() else {
            // The fallback when the bot defines none: nothing more to ask.
            return self.finish(IntentState::Fulfilled, None, effects);
        };
        let has_function = engine.locale.code_hook_function.is_some();
        if hook_first && intent.dialog_code_hook && has_function {
            return self.call_hook(engine, InvocationSource::DialogCodeHook, effects);
        }
        let filled = |name: &str| {
            self.active
                .as_ref()
                .is_some_and(|a| a.slots.contains_key(name))
        };
        if let Some(slot) = intent.slots.iter().find(|s| s.required && !filled(&s.name)) {
            let slot = slot.clone();
            return self.elicit(engine, cx, &slot, effects);
        }
        let confirmation = self
            .active
            .as_ref()
            .map_or(ConfirmationState::None, |a| a.confirmation);
        if intent.confirmation.is_some() && confirmation == ConfirmationState::None {
            return self.confirm(engine, cx, effects);
        }
        if intent.fulfillment_code_hook {
            if has_function {
                return self.call_hook(engine, InvocationSource::FulfillmentCodeHook, effects);
            }
            // As Lex without a Lambda: done talking; the flow does the work.
            return self.finish(IntentState::ReadyForFulfillment, None, effects);
        }
        if let Some(closing) = &intent.closing_response {
            effects.push(Effect::Say(self.fill_in(closing)));
        }
        self.finish(IntentState::Fulfilled, None, effects);
    }

    fn elicit(
        &mut self,
        _engine: &Engine,
        _cx: &Context,
        slot: &crate::model::Slot,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(p) = &slot.prompt {
            effects.push(Effect::Say(self.fill_in(p)));
        }
        self.awaiting = Awaiting::Slot(slot.name.clone());
        effects.push(Effect::Listen(Expecting::Slot {
            name: slot.name.clone(),
            slot_type: slot.slot_type.clone(),
        }));
    }

    fn confirm(&mut self, engine: &Engine, _cx: &Context, effects: &mut Vec<Effect>) {
        if let Some(c) = self.intent(engine).and_then(|i| i.confirmation.clone()) {
            effects.push(Effect::Say(self.fill_in(&c.prompt)));
        }
        self.awaiting = Awaiting::Confirmation;
        effects.push(Effect::Listen(Expecting::Confirmation));
    }

    fn declined(&mut self, engine: &Engine, _cx: &Context, effects: &mut Vec<Effect>) {
        if let Some(d) = self
            .intent(engine)
            .and_then(|i| i.confirmation.clone())
            .and_then(|c| c.declination_response)
        {
            effects.push(Effect::Say(self.fill_in(&d)));
        }
        self.finish(IntentState::Failed, None, effects);
    }

    fn fail(&mut self, engine: &Engine, error: Option<String>, effects: &mut Vec<Effect>) {
        if let Some(f) = self.intent(engine).and_then(|i| i.failure_response.clone()) {
            effects.push(Effect::Say(self.fill_in(&f)));
        }
        self.finish(IntentState::Failed, error, effects);
    }

    fn finish(&mut self, state: IntentState, error: Option<String>, effects: &mut Vec<Effect>) {
        self.awaiting = Awaiting::Done;
        let (intent, slots, confidence) = match &self.active {
            Some(a) => (
                a.name.clone(),
                a.slots
                    .iter()
                    .map(|(k, (_, v))| (k.clone(), v.clone()))
                    .collect(),
                a.confidence,
            ),
            None => (crate::engine::FALLBACK.to_string(), BTreeMap::new(), None),
        };
        effects.push(Effect::Finished(Outcome {
            intent,
            state,
            slots,
            session_attributes: self.session_attributes.clone(),
            confidence,
            error,
        }));
    }

    /// A prompt with `{Slot}` replaced by the slot's value.
    fn fill_in(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(a) = &self.active {
            for (k, (_, v)) in &a.slots {
                out = out.replace(&format!("{{{k}}}"), v);
            }
        }
        out
    }

    fn snapshot(&self, engine: &Engine, state: IntentState) -> Option<hook::IntentSnapshot> {
        let a = self.active.as_ref()?;
        let mut slots: BTreeMap<String, Option<hook::SlotValue>> = BTreeMap::new();
        if let Some(intent) = engine.intent(&a.name) {
            for s in &intent.slots {
                slots.insert(s.name.clone(), None);
            }
        }
        for (k, (said, v)) in &a.slots {
            slots.insert(k.clone(), Some(hook::SlotValue::new(said, v)));
        }
        Some(hook::IntentSnapshot {
            name: a.name.clone(),
            slots,
            state,
            confirmation_state: a.confirmation,
        })
    }

    fn call_hook(&mut self, engine: &Engine, source: InvocationSource, effects: &mut Vec<Effect>) {
        // A dialog hook, then a fulfilment hook: two per turn is the most Lex makes.
        self.hooks_this_turn += 1;
        if self.hooks_this_turn > MAX_HOOKS_PER_TURN {
            return self.finish(
                IntentState::Failed,
                Some("the code hook kept the bot from the customer".into()),
                effects,
            );
        }
        let Some(function) = engine.locale.code_hook_function.clone() else {
            return self.finish(
                IntentState::Failed,
                Some("no code hook function is configured".into()),
                effects,
            );
        };
        let state = match source {
            InvocationSource::DialogCodeHook => IntentState::InProgress,
            InvocationSource::FulfillmentCodeHook => IntentState::ReadyForFulfillment,
        };
        let interpretations = self
            .interpretations
            .iter()
            .map(|i| hook::HookInterpretation {
                intent: hook::IntentSnapshot {
                    name: i.intent.clone(),
                    slots: BTreeMap::new(),
                    state: IntentState::InProgress,
                    confirmation_state: ConfirmationState::None,
                },
                nlu_confidence: Some(hook::Confidence {
                    score: i.confidence,
                }),
            })
            .collect();
        let request = hook::Request {
            message_version: "1.0".into(),
            invocation_source: source,
            input_mode: self.input_mode,
            response_content_type: "text/plain; charset=utf-8".into(),
            session_id: self.session_id.clone(),
            input_transcript: self.transcript.clone(),
            bot: hook::BotRef {
                id: self.bot_name.clone(),
                name: self.bot_name.clone(),
                locale_id: engine.locale.locale_id.clone(),
                version: "DRAFT".into(),
                alias_id: self.bot_name.clone(),
                alias_name: self.bot_name.clone(),
            },
            interpretations,
            session_state: hook::SessionState {
                session_attributes: self.session_attributes.clone(),
                dialog_action: None,
                intent: self.snapshot(engine, state),
            },
        };
        self.awaiting = Awaiting::Hook(source);
        effects.push(Effect::CallHook {
            function,
            request: Box::new(request),
        });
    }

    fn hook_answered(
        &mut self,
        engine: &Engine,
        cx: &Context,
        source: InvocationSource,
        answer: Result<serde_json::Value, String>,
        effects: &mut Vec<Effect>,
    ) {
        let response = answer.and_then(|v| {
            serde_json::from_value::<hook::Response>(v)
                .map_err(|e| format!("the code hook's response is not Lex V2's shape: {e}"))
        });
        let response = match response {
            Ok(r) => r,
            Err(e) => return self.finish(IntentState::Failed, Some(e), effects),
        };
        self.session_attributes = response.session_state.session_attributes.clone();
        let mut state = None;
        if let Some(snapshot) = &response.session_state.intent {
            state = Some(snapshot.state);
            let slots = snapshot
                .slots
                .iter()
                .filter_map(|(k, v)| {
                    v.as_ref().map(|v| {
                        (
                            k.clone(),
                            (
                                v.value.original_value.clone(),
                                v.value.interpreted_value.clone(),
                            ),
                        )
                    })
                })
                .collect();
            let confidence = self.active.as_ref().and_then(|a| a.confidence);
            self.active = Some(Active {
                name: snapshot.name.clone(),
                slots,
                confirmation: snapshot.confirmation_state,
                confidence,
            });
        }
        let said: Vec<String> = response
            .messages
            .iter()
            .filter(|m| m.content_type != "CustomPayload" && m.content_type != "ImageResponseCard")
            .map(|m| m.content.clone())
            .collect();
        let action = response.session_state.dialog_action.clone();
        let kind = action.as_ref().map(|a| a.kind).unwrap_or(match source {
            InvocationSource::DialogCodeHook => DialogActionType::Delegate,
            InvocationSource::FulfillmentCodeHook => DialogActionType::Close,
        });
        let say_all =
            |effects: &mut Vec<Effect>| effects.extend(said.iter().cloned().map(Effect::Say));
        match kind {
            // A fulfilment hook that delegates has nothing left to do: the
            // intent is fulfilled (calling it again would never end).
            DialogActionType::Delegate if source == InvocationSource::FulfillmentCodeHook => {
                say_all(effects);
                if let Some(c) = self.intent(engine).and_then(|i| i.closing_response.clone()) {
                    effects.push(Effect::Say(self.fill_in(&c)));
                }
                self.finish(IntentState::Fulfilled, None, effects);
            }
            DialogActionType::Delegate => {
                say_all(effects);
                self.next_step(engine, cx, false, effects);
            }
            DialogActionType::Close => {
                let state = state.unwrap_or(IntentState::Fulfilled);
                if said.is_empty() && state == IntentState::Fulfilled {
                    if let Some(c) = self.intent(engine).and_then(|i| i.closing_response.clone()) {
                        effects.push(Effect::Say(self.fill_in(&c)));
                    }
                }
                say_all(effects);
                let state = if state == IntentState::InProgress {
                    IntentState::ReadyForFulfillment
                } else {
                    state
                };
                self.finish(state, None, effects);
            }
            DialogActionType::ElicitSlot => {
                let slot = action.and_then(|a| a.slot_to_elicit).and_then(|n| {
                    self.intent(engine)
                        .and_then(|i| i.slots.iter().find(|s| s.name == n))
                        .cloned()
                });
                match slot {
                    Some(slot) if !said.is_empty() => {
                        say_all(effects);
                        self.awaiting = Awaiting::Slot(slot.name.clone());
                        effects.push(Effect::Listen(Expecting::Slot {
                            name: slot.name.clone(),
                            slot_type: slot.slot_type.clone(),
                        }));
                    }
                    Some(slot) => self.elicit(engine, cx, &slot, effects),
                    None => self.finish(
                        IntentState::Failed,
                        Some("the code hook asked for a slot the intent does not have".into()),
                        effects,
                    ),
                }
            }
            DialogActionType::ConfirmIntent => {
                if said.is_empty() {
                    self.confirm(engine, cx, effects);
                } else {
                    say_all(effects);
                    self.awaiting = Awaiting::Confirmation;
                    effects.push(Effect::Listen(Expecting::Confirmation));
                }
            }
            DialogActionType::ElicitIntent => {
                say_all(effects);
                self.active = None;
                self.awaiting = Awaiting::Intent;
                effects.push(Effect::Listen(Expecting::Intent));
            }
        }
    }
}
