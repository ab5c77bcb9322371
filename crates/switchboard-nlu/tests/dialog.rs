//! Conversations with the demo bank bot, turn by turn, by Lex V2's rules.

mod eval;

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_nlu::dialog::{Dialog, Effect, Expecting, Input};
use switchboard_nlu::hook::{InputMode, IntentState};
use switchboard_nlu::{Engine, Locale, Outcome};

struct Chat {
    engine: Engine,
    dialog: Dialog,
    said: Vec<String>,
    hooks: Vec<serde_json::Value>,
    outcome: Option<Outcome>,
    listening: Option<Expecting>,
}

impl Chat {
    fn new(locale: &Locale) -> Chat {
        let mut effects = Vec::new();
        let engine = Engine::new(locale).expect("compiles");
        let dialog = Dialog::start(
            "contact-1",
            "DemoBank",
            InputMode::Text,
            BTreeMap::from([("CustomerTier".to_string(), "gold".to_string())]),
            &mut effects,
        );
        let mut chat = Chat {
            engine,
            dialog,
            said: Vec::new(),
            hooks: Vec::new(),
            outcome: None,
            listening: None,
        };
        chat.take(effects);
        chat
    }

    fn take(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Say(s) => self.said.push(s),
                Effect::Listen(x) => self.listening = Some(x),
                Effect::CallHook { request, .. } => self
                    .hooks
                    .push(serde_json::to_value(&request).expect("serialises")),
                Effect::Finished(o) => self.outcome = Some(o),
            }
        }
    }

    fn input(&mut self, input: Input) {
        let mut effects = Vec::new();
        self.listening = None;
        self.dialog
            .handle(&self.engine, &eval::context(), input, &mut effects);
        self.take(effects);
    }

    fn say(&mut self, text: &str) {
        self.input(Input::Said(text.into()));
    }

    fn last_said(&self) -> &str {
        self.said.last().map_or("", String::as_str)
    }
}

fn demo() -> Locale {
    eval::demo_bot().locales.remove(0)
}

#[test]
fn missing_slots_are_asked_for_in_order_then_confirmed_and_fulfilled() {
    let mut c = Chat::new(&demo());
    c.say("I'd like to move some money to my savings");
    assert_eq!(c.last_said(), "How much would you like to transfer?");
    assert_eq!(
        c.listening,
        Some(Expecting::Slot {
            name: "Amount".into(),
            slot_type: "Switchboard.Currency".into()
        })
    );
    c.say("fifty");
    assert!(c
        .last_said()
        .starts_with("Which account should the money come from"));
    c.say("from checking");
    assert_eq!(
        c.last_said(),
        "Transfer 50.00 from checking to savings. Shall I go ahead?"
    );
    c.say("yes please");
    assert_eq!(c.last_said(), "Done: 50.00 moved from checking to savings.");
    let o = c.outcome.expect("finished");
    assert_eq!(o.intent, "TransferFunds");
    assert_eq!(o.state, IntentState::Fulfilled);
    assert_eq!(o.slots.get("Amount").map(String::as_str), Some("50.00"));
    assert_eq!(
        o.session_attributes.get("CustomerTier").map(String::as_str),
        Some("gold")
    );
}

#[test]
fn an_answer_without_a_value_is_asked_again_until_retries_run_out() {
    let mut c = Chat::new(&demo());
    c.say("what's my balance");
    assert_eq!(c.last_said(), "What is your account number?");
    c.say("I don't know it");
    assert_eq!(c.last_said(), "What is your account number?");
    assert!(c.outcome.is_none());
    c.say("no idea");
    c.say("still no idea");
    let o = c.outcome.expect("gave up after two retries");
    assert_eq!(o.intent, "CheckBalance");
    assert_eq!(o.state, IntentState::Failed);
}

#[test]
fn spoken_digits_fill_the_account_number() {
    let mut c = Chat::new(&demo());
    c.say("I'd like to check my balance");
    c.say("it's four four zero one nine oh two three");
    let o = c.outcome.expect("finished");
    assert_eq!(
        o.slots.get("AccountNumber").map(String::as_str),
        Some("44019023")
    );
    assert_eq!(o.state, IntentState::Fulfilled);
}

#[test]
fn saying_no_to_the_confirmation_fails_the_intent_with_the_declination() {
    let mut c = Chat::new(&demo());
    c.say("book an appointment for tomorrow at 3pm");
    assert_eq!(
        c.last_said(),
        "An appointment on 2026-12-08 at 15:00. Is that right?"
    );
    c.say("hmm");
    assert_eq!(
        c.last_said(),
        "An appointment on 2026-12-08 at 15:00. Is that right?",
        "neither yes nor no asks again"
    );
    c.say("no, that's wrong");
    assert_eq!(c.last_said(), "No problem, nothing is booked.");
    assert_eq!(c.outcome.expect("finished").state, IntentState::Failed);
}

#[test]
fn what_the_bot_does_not_understand_goes_to_the_fallback_intent() {
    let mut c = Chat::new(&demo());
    c.say("what's the weather like in Paris");
    assert_eq!(c.last_said(), "Sorry, I didn't catch that.");
    let o = c.outcome.expect("finished");
    assert_eq!(o.intent, "FallbackIntent");
}

#[test]
fn silence_at_the_start_ends_the_conversation_with_an_error() {
    let mut c = Chat::new(&demo());
    c.input(Input::Silence);
    let o = c.outcome.expect("finished");
    assert!(o.error.is_some());
}

#[test]
fn the_fulfilment_hook_gets_lex_v2_request_and_its_close_ends_the_intent() {
    let mut locale = demo();
    locale.code_hook_function = Some("bank-backend".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "CheckBalance")
        .expect("intent")
        .fulfillment_code_hook = true;
    let mut c = Chat::new(&locale);
    c.say("balance for account 12345678");
    assert!(c.outcome.is_none(), "waits for the hook");
    let request = c.hooks.last().expect("a hook call").clone();
    assert_eq!(request["invocationSource"], "FulfillmentCodeHook");
    assert_eq!(request["inputTranscript"], "balance for account 12345678");
    assert_eq!(request["sessionState"]["intent"]["name"], "CheckBalance");
    assert_eq!(
        request["sessionState"]["intent"]["state"],
        "ReadyForFulfillment"
    );
    assert_eq!(
        request["sessionState"]["intent"]["slots"]["AccountNumber"]["value"]["interpretedValue"],
        "12345678"
    );
    assert_eq!(
        request["sessionState"]["sessionAttributes"]["CustomerTier"],
        "gold"
    );
    assert!(request["interpretations"][0]["nluConfidence"]["score"]
        .as_f64()
        .is_some());
    c.input(Input::HookAnswered(Ok(json!({
        "sessionState": {
            "sessionAttributes": {"CustomerTier": "gold", "Balance": "1520.33"},
            "dialogAction": {"type": "Close"},
            "intent": {"name": "CheckBalance", "state": "Fulfilled", "slots": request["sessionState"]["intent"]["slots"].clone()}
        },
        "messages": [{"contentType": "PlainText", "content": "Your balance is $1,520.33."}]
    }))));
    assert_eq!(c.last_said(), "Your balance is $1,520.33.");
    let o = c.outcome.expect("finished");
    assert_eq!(o.state, IntentState::Fulfilled);
    assert_eq!(
        o.session_attributes.get("Balance").map(String::as_str),
        Some("1520.33")
    );
}

#[test]
fn a_dialog_hook_can_reject_a_value_and_ask_for_the_slot_again() {
    let mut locale = demo();
    locale.code_hook_function = Some("bank-backend".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "CheckBalance")
        .expect("intent")
        .dialog_code_hook = true;
    let mut c = Chat::new(&locale);
    c.say("balance for account 999");
    assert_eq!(
        c.hooks.last().expect("hook")["invocationSource"],
        "DialogCodeHook"
    );
    c.input(Input::HookAnswered(Ok(json!({
        "sessionState": {
            "dialogAction": {"type": "ElicitSlot", "slotToElicit": "AccountNumber"},
            "intent": {"name": "CheckBalance", "state": "InProgress", "slots": {"AccountNumber": null}}
        },
        "messages": [{"contentType": "PlainText", "content": "That account number is too short. What is it?"}]
    }))));
    assert_eq!(
        c.last_said(),
        "That account number is too short. What is it?"
    );
    c.say("12345678");
    assert_eq!(c.hooks.len(), 2, "the hook sees the new value");
    c.input(Input::HookAnswered(Ok(json!({
        "sessionState": {"dialogAction": {"type": "Delegate"}, "intent": {"name": "CheckBalance", "state": "InProgress",
            "slots": {"AccountNumber": {"value": {"originalValue": "12345678", "interpretedValue": "12345678", "resolvedValues": ["12345678"]}}}}}
    }))));
    let o = c.outcome.expect("finished");
    assert_eq!(
        o.slots.get("AccountNumber").map(String::as_str),
        Some("12345678")
    );
}

#[test]
fn a_hook_that_fails_or_answers_nonsense_ends_with_an_error() {
    let mut locale = demo();
    locale.code_hook_function = Some("bank-backend".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "SpeakToAgent")
        .expect("intent")
        .fulfillment_code_hook = true;
    let mut c = Chat::new(&locale);
    c.say("let me talk to a real person");
    c.input(Input::HookAnswered(Ok(json!({"unexpected": true}))));
    let o = c.outcome.expect("finished");
    assert_eq!(o.state, IntentState::Failed);
    assert!(o.error.expect("an error").contains("Lex V2"));
}

#[test]
fn a_conversation_that_never_ends_is_cut_off() {
    let mut locale = demo();
    locale.code_hook_function = Some("bank-backend".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "CheckBalance")
        .expect("intent")
        .dialog_code_hook = true;
    let mut c = Chat::new(&locale);
    let mut turns = 0;
    while c.outcome.is_none() && turns < 100 {
        turns += 1;
        c.say("check my balance");
        if c.outcome.is_none() {
            // The hook keeps asking what the customer wants.
            c.input(Input::HookAnswered(Ok(
                json!({"sessionState": {"dialogAction": {"type": "ElicitIntent"}},
                "messages": [{"contentType": "PlainText", "content": "What else?"}]}),
            )));
        }
    }
    assert!(c.outcome.is_some());
    assert_eq!(turns as u32, switchboard_nlu::dialog::MAX_TURNS + 1);
}

#[test]
fn a_fulfilment_hook_that_delegates_fulfils_instead_of_being_called_for_ever() {
    let mut locale = demo();
    locale.code_hook_function = Some("bank-backend".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "SpeakToAgent")
        .expect("intent")
        .fulfillment_code_hook = true;
    let mut c = Chat::new(&locale);
    c.say("let me talk to a real person");
    c.input(Input::HookAnswered(Ok(
        json!({"sessionState": {"dialogAction": {"type": "Delegate"},
        "intent": {"name": "SpeakToAgent", "state": "InProgress"}}}),
    )));
    assert_eq!(c.hooks.len(), 1, "called once");
    assert_eq!(c.outcome.expect("finished").state, IntentState::Fulfilled);
}

#[test]
fn names_follow_lex_rule_so_exports_stay_in_their_folder() {
    let mut bot = eval::demo_bot();
    bot.locales[0].intents[0].name = "../../etc".into();
    bot.locales[0].slot_types[0].name = "a/b".into();
    let problems = bot.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.path == "locales[0].intents[0].name"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.path == "locales[0].slotTypes[0].name"),
        "{problems:?}"
    );
    assert!(switchboard_nlu::model::lex_name("Order_Flowers-2"));
    assert!(!switchboard_nlu::model::lex_name("double__underscore"));
    assert!(!switchboard_nlu::model::lex_name(""));
}
