//! A chat handed to a bot: the contact loads it, relays what the customer
//! types, calls its code hook, and the flow branches on the intent.

#![allow(clippy::unwrap_used, unreachable_pub)]

#[allow(dead_code)] // the scenario harness; these tests use its flow builders only
mod harness;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use switchboard_contact::{Contact, ContactInit, Input, Output};
use switchboard_flow::{ContactData, Event, Rendered};
use switchboard_model::contact_record::{Channel, DisconnectReason, Endpoint, InitiationMethod};
use switchboard_nlu::{Bot, Engine};

use harness::{build, end, say};

fn bank_bot() -> Arc<Engine> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../switchboard-nlu/bots/demo-bank.json"
    ))
    .expect("demo bot");
    let bot: Bot = serde_json::from_str(&text).expect("parses");
    Arc::new(Engine::new(&bot.locales[0]).expect("compiles"))
}

fn bot_flow() -> Arc<switchboard_flow::Flow> {
    build(json!([
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "Hi, how can I help?", "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:1:bot-alias/DemoBank/live"},
                        "LexSessionAttributes": {"Tier": "gold"}},
         "Transitions": {"Conditions": [{"NextAction": "balance", "Condition": {"Operator": "Equals", "Operands": ["CheckBalance"]}}],
            "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "other"}, {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
        say("balance", "Account $.Lex.Slots.AccountNumber for a $.Lex.SessionAttributes.Tier customer", "bye"),
        say("other", "Intent $.Lex.IntentName", "bye"),
        say("err", "Error", "bye"),
        end("bye")
    ]))
}

struct Chat {
    contact: Contact,
    now: chrono::DateTime<Utc>,
    said: Vec<String>,
    load: Option<(u64, String)>,
    hook: Option<(u64, serde_json::Value)>,
}

impl Chat {
    fn start() -> Chat {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let contact = Contact::new(
            ContactInit {
                id: "chat-1".into(),
                channel: Channel::Chat,
                initiation_method: InitiationMethod::Api,
                customer_endpoint: Endpoint::default(),
                customer_name: Some("Dana".into()),
                system_endpoint: Endpoint::default(),
                data: ContactData::chat("chat-1", "Dana"),
                flow: Some(bot_flow()),
                flow_id: Some("flow-1".into()),
                outbound: None,
                seed: 1,
                initial_message: None,
            },
            now,
        );
        let mut chat = Chat {
            contact,
            now,
            said: Vec::new(),
            load: None,
            hook: None,
        };
        chat.drain();
        chat
    }

    fn drain(&mut self) {
        while let Some(out) = self.contact.poll_output() {
            match out {
                Output::Say {
                    message: Rendered::Text(t),
                    ..
                } => self.said.push(t),
                Output::LoadBot { request, bot, .. } => self.load = Some((request, bot)),
                Output::CallBotHook {
                    request, payload, ..
                } => self.hook = Some((request, serde_json::to_value(&payload).unwrap())),
                Output::Flow {
                    request,
                    effect:
                        switchboard_flow::Effect::Play {
                            message: Rendered::Text(t),
                            ..
                        },
                    ..
                } => {
                    self.said.push(t);
                    self.contact.handle(
                        self.now,
                        Input::FlowAnswer {
                            request,
                            event: Event::PromptFinished,
                        },
                    );
                }
                Output::Ended { .. } => self.contact.handle(self.now, Input::Close),
                _ => {}
            }
        }
    }

    fn input(&mut self, input: Input) {
        self.contact.handle(self.now, input);
        self.drain();
    }

    fn type_(&mut self, text: &str) {
        self.input(Input::CustomerSaid(text.into()));
    }
}

#[test]
fn a_chat_bot_fills_a_slot_over_two_turns_and_the_flow_takes_the_intent_branch() {
    let mut c = Chat::start();
    let (request, bot) = c.load.take().expect("the bot is loaded");
    assert_eq!(bot, "arn:aws:lex:eu-west-2:1:bot-alias/DemoBank/live");
    c.input(Input::BotLoaded {
        request,
        bot: Ok(bank_bot()),
    });
    assert_eq!(c.said, ["Hi, how can I help?"]);
    c.type_("what's my balance");
    assert_eq!(
        c.said.last().map(String::as_str),
        Some("What is your account number?")
    );
    c.type_("one two three four five six");
    assert_eq!(
        c.said.last().map(String::as_str),
        Some("Account 123456 for a gold customer")
    );
    assert_eq!(
        c.contact.record().disconnect_reason,
        Some(DisconnectReason::ContactFlowDisconnect)
    );
}

#[test]
fn a_bot_that_cannot_be_loaded_takes_the_error_branch() {
    let mut c = Chat::start();
    let (request, _) = c.load.take().expect("the bot is loaded");
    c.input(Input::BotLoaded {
        request,
        bot: Err("no bot 'DemoBank'".into()),
    });
    assert_eq!(c.said.last().map(String::as_str), Some("Error"));
}

#[test]
fn a_silent_customer_times_the_bot_out_to_the_error_branch() {
    let mut c = Chat::start();
    let (request, _) = c.load.take().expect("the bot is loaded");
    c.input(Input::BotLoaded {
        request,
        bot: Ok(bank_bot()),
    });
    let deadline = c
        .contact
        .poll_timeout()
        .expect("the bot waits with a deadline");
    assert!(deadline > c.now + Duration::seconds(60));
    c.now = deadline;
    c.contact.handle_timeout(deadline);
    c.drain();
    assert_eq!(c.said.last().map(String::as_str), Some("Error"));
}

#[test]
fn the_code_hook_request_goes_out_and_its_answer_comes_back_in() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../switchboard-nlu/bots/demo-bank.json"
    ))
    .unwrap();
    let mut bot: Bot = serde_json::from_str(&text).unwrap();
    let locale = &mut bot.locales[0];
    locale.code_hook_function = Some("fn-1".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "SpeakToAgent")
        .unwrap()
        .fulfillment_code_hook = true;
    let engine = Arc::new(Engine::new(locale).unwrap());
    let mut c = Chat::start();
    let (request, _) = c.load.take().unwrap();
    c.input(Input::BotLoaded {
        request,
        bot: Ok(engine),
    });
    c.type_("can I talk to a person");
    let (request, payload) = c.hook.take().expect("the hook is called");
    assert_eq!(payload["sessionState"]["sessionAttributes"]["Tier"], "gold");
    assert_eq!(payload["sessionId"], "chat-1");
    // An answer to another request is not taken.
    c.input(Input::BotHookAnswered {
        request: request + 7,
        answer: Err("stale".into()),
    });
    assert!(c.contact.flow_running());
    c.input(Input::BotHookAnswered {
        request,
        answer: Ok(json!({"sessionState": {"sessionAttributes": {"Tier": "gold"}, "dialogAction": {"type": "Close"},
            "intent": {"name": "SpeakToAgent", "state": "Fulfilled"}}})),
    });
    assert_eq!(
        c.said.last().map(String::as_str),
        Some("Intent SpeakToAgent")
    );
}

#[test]
fn the_first_message_written_before_the_bot_came_is_the_first_thing_it_hears() {
    let mut c = Chat::start();
    // The widget's first message arrives while the bot is still loading.
    c.type_("I need to check my balance please");
    let (request, _) = c.load.take().expect("the bot is loaded");
    c.input(Input::BotLoaded {
        request,
        bot: Ok(bank_bot()),
    });
    assert_eq!(
        c.said,
        ["Hi, how can I help?", "What is your account number?"]
    );
}

#[test]
fn on_a_call_each_line_plays_before_the_next_and_the_caller_may_talk_over_a_question() {
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let mut contact = Contact::new(
        ContactInit {
            id: "call-1".into(),
            channel: Channel::Voice,
            initiation_method: InitiationMethod::Inbound,
            customer_endpoint: Endpoint::default(),
            customer_name: None,
            system_endpoint: Endpoint::default(),
            data: ContactData::voice("call-1", "+447700900123", "+442079460123"),
            flow: Some(bot_flow()),
            flow_id: Some("flow-1".into()),
            outbound: None,
            seed: 1,
            initial_message: None,
        },
        now,
    );
    let mut said: Vec<(u64, String, bool)> = Vec::new();
    let mut listens = 0;
    let load = std::cell::Cell::new(None);
    let drain =
        |contact: &mut Contact, said: &mut Vec<(u64, String, bool)>, listens: &mut usize| {
            while let Some(out) = contact.poll_output() {
                match out {
                    Output::LoadBot { request, .. } => load.set(Some(request)),
                    Output::Say {
                        request,
                        message: Rendered::Text(t),
                        barge_in,
                        ..
                    } => said.push((request, t, barge_in)),
                    Output::Listen { phrases, grammar } => {
                        assert!(!phrases.is_empty(), "the recogniser gets hints");
                        assert!(grammar.is_some(), "and a grammar");
                        *listens += 1;
                    }
                    Output::Flow {
                        request,
                        effect:
                            switchboard_flow::Effect::Play {
                                message: Rendered::Text(t),
                                ..
                            },
                        ..
                    } => {
                        said.push((request, t, false));
                    }
                    _ => {}
                }
            }
        };
    drain(&mut contact, &mut said, &mut listens);
    contact.handle(
        now,
        Input::BotLoaded {
            request: load.get().expect("loads the bot"),
            bot: Ok(bank_bot()),
        },
    );
    drain(&mut contact, &mut said, &mut listens);
    // The block's prompt plays; the bot listens once it has (or once the caller talks over it).
    assert_eq!(
        said.last().map(|s| (s.1.as_str(), s.2)),
        Some(("Hi, how can I help?", true))
    );
    assert_eq!(listens, 0);
    contact.handle(
        now,
        Input::SayFinished {
            request: said.last().unwrap().0,
        },
    );
    drain(&mut contact, &mut said, &mut listens);
    assert_eq!(listens, 1);
    contact.handle(now, Input::CustomerSaid("what's my balance".into()));
    drain(&mut contact, &mut said, &mut listens);
    assert_eq!(
        said.last().map(|s| (s.1.as_str(), s.2)),
        Some(("What is your account number?", true))
    );
    // Nothing in the caller's silence counts as an answer: asked again.
    contact.handle(
        now,
        Input::SayFinished {
            request: said.last().unwrap().0,
        },
    );
    drain(&mut contact, &mut said, &mut listens);
    contact.handle(now, Input::CustomerSilent);
    drain(&mut contact, &mut said, &mut listens);
    assert_eq!(
        said.last().map(|s| s.1.as_str()),
        Some("What is your account number?")
    );
    contact.handle(
        now,
        Input::SayFinished {
            request: said.last().unwrap().0,
        },
    );
    drain(&mut contact, &mut said, &mut listens);
    contact.handle(
        now,
        Input::CustomerSaid("one two three four five six".into()),
    );
    drain(&mut contact, &mut said, &mut listens);
    // The closing line plays before the flow's next prompt.
    assert_eq!(
        said.last().map(|s| (s.1.as_str(), s.2)),
        Some((
            "Thanks. Let me look up the balance of account 123456.",
            false
        ))
    );
    let before = said.len();
    contact.handle(
        now,
        Input::SayFinished {
            request: said.last().unwrap().0,
        },
    );
    drain(&mut contact, &mut said, &mut listens);
    assert_eq!(said.len(), before + 1);
    assert_eq!(
        said.last().map(|s| s.1.as_str()),
        Some("Account 123456 for a gold customer")
    );
}

#[test]
fn a_message_written_while_the_code_hook_runs_is_the_bots_next_input() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../switchboard-nlu/bots/demo-bank.json"
    ))
    .unwrap();
    let mut bot: Bot = serde_json::from_str(&text).unwrap();
    let locale = &mut bot.locales[0];
    locale.code_hook_function = Some("fn-1".into());
    locale
        .intents
        .iter_mut()
        .find(|i| i.name == "CheckBalance")
        .unwrap()
        .dialog_code_hook = true;
    let engine = Arc::new(Engine::new(locale).unwrap());
    let mut c = Chat::start();
    let (request, _) = c.load.take().unwrap();
    c.input(Input::BotLoaded {
        request,
        bot: Ok(engine),
    });
    c.type_("what's my balance");
    let (request, _) = c.hook.take().expect("the dialog hook runs");
    // The customer answers the question they expect before the hook is back.
    c.type_("12345678");
    c.input(Input::BotHookAnswered {
        request,
        answer: Ok(json!({"sessionState": {"dialogAction": {"type": "Delegate"},
            "intent": {"name": "CheckBalance", "state": "InProgress", "slots": {"AccountNumber": null}}}})),
    });
    // Asked for the account number, the bot hears what was already written.
    assert_eq!(
        c.said.last().map(String::as_str),
        Some("What is your account number?")
    );
    let (request, payload) = c.hook.take().expect("the hook sees the answer");
    assert_eq!(payload["inputTranscript"], "12345678");
    let _ = request;
}
