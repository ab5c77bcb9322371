//! Every supported action, its branches and its error transitions, driven
//! through the interpreter with scripted answers.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_flow::interp::{Effect, Event, Outcome, Rendered, Session};
use switchboard_flow::model::StreamDirections;
use switchboard_flow::simulate::{simulate, Keypress, Report, Script};
use switchboard_flow::{check, ContactData, Flow, FlowType, Severity};

fn build(ft: FlowType, actions: Value) -> Arc<Flow> {
    let start = actions[0]["Identifier"].as_str().unwrap().to_string();
    let text =
        json!({"Version": "2019-10-30", "StartAction": start, "Actions": actions}).to_string();
    let (flow, problems) = check(&text, ft);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    Arc::new(flow.unwrap())
}

fn end(id: &str) -> Value {
    json!({"Identifier": id, "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}})
}

fn say(id: &str, text: &str, next: &str) -> Value {
    json!({"Identifier": id, "Type": "MessageParticipant", "Parameters": {"Text": text},
           "Transitions": {"NextAction": next, "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}})
}

fn contact() -> ContactData {
    ContactData::voice("c1", "+442079460999", "+442079460123")
}

fn run(flow: Arc<Flow>, script: &mut Script) -> Report {
    simulate(flow, contact(), script, 7)
}

/// The identifiers of the actions run, in order.
fn ids(r: &Report) -> Vec<&str> {
    r.path.iter().map(|s| s.action.as_str()).collect()
}

fn menu() -> Arc<Flow> {
    build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "menu", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Press 1 for sales, 2 for support", "InputTimeLimitSeconds": "5"},
             "Transitions": {"NextAction": "err",
                "Conditions": [
                    {"NextAction": "sales", "Condition": {"Operator": "Equals", "Operands": ["1"]}},
                    {"NextAction": "support", "Condition": {"Operator": "Equals", "Operands": ["2"]}}],
                "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "timeout"},
                           {"ErrorType": "NoMatchingCondition", "NextAction": "invalid"},
                           {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("sales", "Sales", "bye"), say("support", "Support", "bye"),
            say("timeout", "Too slow", "bye"), say("invalid", "Not an option", "bye"),
            say("err", "Error", "bye"), end("bye")
        ]),
    )
}

#[test]
fn menu_routes_each_key_timeout_and_invalid_input() {
    for (keys, expected) in [
        ("1", "sales"),
        ("2", "support"),
        ("timeout", "timeout"),
        ("9", "invalid"),
    ] {
        let mut script = Script::default();
        script.keypresses.push_back(Keypress::parse(keys));
        let r = run(menu(), &mut script);
        assert_eq!(ids(&r), ["menu", expected, "bye"], "{keys}");
        assert_eq!(r.outcome, Some(Outcome::Disconnected));
        match &r.effects[0] {
            Effect::GetInput {
                max_digits,
                timeout_seconds,
                terminator,
                prompt,
                ..
            } => {
                assert_eq!(
                    (*max_digits, *timeout_seconds, terminator.clone()),
                    (1, 5, None)
                );
                assert_eq!(
                    prompt,
                    &Some(Rendered::Text("Press 1 for sales, 2 for support".into()))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn stored_input_with_validation_and_templates() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "ask", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Your account number", "StoreInput": "True", "InputTimeLimitSeconds": 8,
                            "InputValidation": {"CustomValidation": {"MaximumLength": "6"}},
                            "DTMFConfiguration": {"InputTerminationSequence": "*"}},
             "Transitions": {"NextAction": "save", "Errors": [
                {"ErrorType": "InputTimeLimitExceeded", "NextAction": "err"}, {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "save", "Type": "UpdateContactAttributes",
             "Parameters": {"Attributes": {"account": "$.StoredCustomerInput", "greeting": "Hi $.CustomerEndpoint.Address"}},
             "Transitions": {"NextAction": "tell", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("tell", "Account $.Attributes.account on $.Channel", "bye"),
            say("err", "Error", "bye"), end("bye")
        ]),
    );
    let mut script = Script::default();
    script
        .keypresses
        .push_back(Keypress::Digits("123456".into()));
    let r = run(flow.clone(), &mut script);
    assert_eq!(ids(&r), ["ask", "save", "tell", "bye"]);
    assert_eq!(r.contact.attributes["account"], "123456");
    assert_eq!(r.contact.attributes["greeting"], "Hi +442079460999");
    assert!(r.effects.contains(&Effect::Play {
        message: Rendered::Text("Account 123456 on VOICE".into()),
        voice: "Joanna".into()
    }));
    assert!(
        matches!(&r.effects[0], Effect::GetInput { max_digits: 6, terminator: Some(t), .. } if t == "*")
    );
    // Too many digits: the error branch.
    let mut script = Script::default();
    script
        .keypresses
        .push_back(Keypress::Digits("1234567".into()));
    assert_eq!(ids(&run(flow, &mut script)), ["ask", "err", "bye"]);
}

#[test]
fn phone_number_input_is_validated() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "ask", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Your number", "StoreInput": "True",
                            "InputValidation": {"PhoneNumberValidation": {"NumberFormat": "Local", "CountryCode": "GB"}}},
             "Transitions": {"NextAction": "ok", "Errors": [
                {"ErrorType": "InvalidPhoneNumber", "NextAction": "bad"}, {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("ok", "$.StoredCustomerInput", "bye"), say("bad", "Bad", "bye"), say("err", "Error", "bye"), end("bye")
        ]),
    );
    let mut script = Script::default();
    script
        .keypresses
        .push_back(Keypress::Digits("02079460123".into()));
    let r = run(flow.clone(), &mut script);
    assert_eq!(ids(&r), ["ask", "ok", "bye"]);
    assert_eq!(r.contact.stored_input.as_deref(), Some("+442079460123"));
    let mut script = Script::default();
    script.keypresses.push_back(Keypress::Digits("123".into()));
    assert_eq!(ids(&run(flow, &mut script)), ["ask", "bad", "bye"]);
}

#[test]
fn hours_queue_and_capacity() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "q", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Sales"},
             "Transitions": {"NextAction": "hours", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "hours", "Type": "CheckHoursOfOperation", "Parameters": {},
             "Transitions": {"NextAction": "err", "Conditions": [
                {"NextAction": "xfer", "Condition": {"Operator": "Equals", "Operands": ["True"]}},
                {"NextAction": "closed", "Condition": {"Operator": "Equals", "Operands": ["False"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "xfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "err", "Errors": [
                {"ErrorType": "QueueAtCapacity", "NextAction": "full"}, {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("closed", "Closed", "bye"), say("full", "Full", "bye"), say("err", "Error", "bye"), end("bye")
        ]),
    );
    let r = run(flow.clone(), &mut Script::default());
    assert_eq!(ids(&r), ["q", "hours", "xfer"]);
    assert!(matches!(&r.outcome, Some(Outcome::Queued { queue }) if queue.name == "Sales"));

    let mut closed = Script {
        hours: Some(Box::new(|_| false)),
        ..Default::default()
    };
    assert_eq!(
        ids(&run(flow.clone(), &mut closed)),
        ["q", "hours", "closed", "bye"]
    );

    let mut full = Script::default();
    full.full_queues.insert("Sales".into());
    assert_eq!(
        ids(&run(flow.clone(), &mut full)),
        ["q", "hours", "xfer", "full", "bye"]
    );

    let mut unknown = Script {
        queues: Some(["Support".to_string()].into()),
        ..Default::default()
    };
    assert_eq!(ids(&run(flow, &mut unknown)), ["q", "err", "bye"]);
}

#[test]
fn transfer_to_queue_without_a_queue_takes_the_error_branch() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "xfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "err", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("err", "Error", "bye"), end("bye")
        ]),
    );
    assert_eq!(
        ids(&run(flow, &mut Script::default())),
        ["xfer", "err", "bye"]
    );
}

#[test]
fn external_functions_fill_external_and_fail_to_the_error_branch() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "fn", "Type": "InvokeLambdaFunction",
             "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:eu-west-2:123:function:lookup", "InvocationTimeLimitSeconds": "8",
                            "LambdaInvocationAttributes": {"caller": "$.CustomerEndpoint.Address"}},
             "Transitions": {"NextAction": "cmp", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "cmp", "Type": "Compare", "Parameters": {"ComparisonValue": "$.External.tier"},
             "Transitions": {"Conditions": [
                {"NextAction": "vip", "Condition": {"Operator": "Equals", "Operands": ["gold"]}},
                {"NextAction": "big", "Condition": {"Operator": "TextStartsWith", "Operands": ["sil"]}}],
                "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "std"}]}},
            say("vip", "Hello $.External.name", "bye"), say("big", "Silver", "bye"), say("std", "Standard", "bye"),
            say("err", "Error", "bye"), end("bye")
        ]),
    );
    let answer = |tier: &str| {
        BTreeMap::from([
            ("tier".to_string(), json!(tier)),
            ("name".to_string(), json!("Ada")),
        ])
    };
    for (tier, expected) in [("gold", "vip"), ("silver", "big"), ("bronze", "std")] {
        let mut script = Script::default();
        script.functions.insert("lookup".into(), Some(answer(tier)));
        let r = run(flow.clone(), &mut script);
        assert_eq!(ids(&r), ["fn", "cmp", expected, "bye"], "{tier}");
        match &r.effects[0] {
            Effect::InvokeFunction {
                parameters,
                timeout_seconds,
                ..
            } => {
                assert_eq!(parameters["caller"], "+442079460999");
                assert_eq!(*timeout_seconds, 8);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut failing = Script::default();
    failing.functions.insert("lookup".into(), None);
    assert_eq!(ids(&run(flow.clone(), &mut failing)), ["fn", "err", "bye"]);
    // A STRING_MAP response with nested values is an error.
    let mut nested = Script::default();
    nested.functions.insert(
        "lookup".into(),
        Some(BTreeMap::from([("tier".to_string(), json!({"a": 1}))])),
    );
    assert_eq!(ids(&run(flow, &mut nested)), ["fn", "err", "bye"]);
}

#[test]
fn loop_counts_then_finishes() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "loop", "Type": "Loop", "Parameters": {"LoopCount": "3"},
             "Transitions": {"Conditions": [
                {"NextAction": "again", "Condition": {"Operator": "Equals", "Operands": ["ContinueLooping"]}},
                {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["DoneLooping"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            say("again", "Again", "loop"), end("bye")
        ]),
    );
    let r = run(flow, &mut Script::default());
    assert_eq!(
        ids(&r),
        ["loop", "again", "loop", "again", "loop", "again", "loop", "bye"]
    );
}

#[test]
fn distribute_by_percentage_is_seedable_and_roughly_fair() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "split", "Type": "DistributeByPercentage", "Parameters": {},
             "Transitions": {"NextAction": "c", "Conditions": [
                {"NextAction": "a", "Condition": {"Operator": "NumberLessThan", "Operands": ["21"]}},
                {"NextAction": "b", "Condition": {"Operator": "NumberLessThan", "Operands": ["71"]}}],
                "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "c"}]}},
            say("a", "A", "bye"), say("b", "B", "bye"), say("c", "C", "bye"), end("bye")
        ]),
    );
    let mut counts = BTreeMap::new();
    for seed in 0..2000u64 {
        let r = simulate(flow.clone(), contact(), &mut Script::default(), seed);
        *counts.entry(r.path[1].action.clone()).or_insert(0) += 1;
        let again = simulate(flow.clone(), contact(), &mut Script::default(), seed);
        assert_eq!(r.path, again.path, "same seed, same path");
    }
    // 20% / 50% / 30%, within a few points.
    let share = |k: &str| f64::from(counts[k]) / 2000.0;
    assert!((share("a") - 0.2).abs() < 0.04, "{counts:?}");
    assert!((share("b") - 0.5).abs() < 0.04, "{counts:?}");
    assert!((share("c") - 0.3).abs() < 0.04, "{counts:?}");
}

#[test]
fn metrics_voice_recording_hooks_routing_and_logging() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "voice", "Type": "UpdateContactTextToSpeechVoice", "Parameters": {"TextToSpeechVoice": "Amy"},
             "Transitions": {"NextAction": "rec"}},
            {"Identifier": "rec", "Type": "UpdateContactRecordingBehavior",
             "Parameters": {"RecordingBehavior": {"RecordedParticipants": ["Customer", "Agent"]}}, "Transitions": {"NextAction": "hook"}},
            {"Identifier": "hook", "Type": "UpdateContactEventHooks", "Parameters": {"EventHooks": {"CustomerQueue": "Hold music"}},
             "Transitions": {"NextAction": "prio", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "prio", "Type": "UpdateContactRoutingBehavior", "Parameters": {"QueuePriority": "2"},
             "Transitions": {"NextAction": "log", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "log", "Type": "UpdateFlowLoggingBehavior", "Parameters": {"FlowLoggingBehavior": "Enabled"},
             "Transitions": {"NextAction": "metric"}},
            {"Identifier": "metric", "Type": "CheckMetricData", "Parameters": {"MetricType": "NumberOfAgentsAvailable", "QueueId": "Sales"},
             "Transitions": {"Conditions": [
                {"NextAction": "busy", "Condition": {"Operator": "NumberLessThan", "Operands": ["1"]}},
                {"NextAction": "ok", "Condition": {"Operator": "NumberGreaterOrEqualTo", "Operands": ["1"]}}],
                "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "err"}, {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("busy", "Busy", "bye"), say("ok", "OK", "bye"), say("err", "Error", "bye"), end("bye")
        ]),
    );
    let r = run(flow.clone(), &mut Script::default());
    assert_eq!(
        ids(&r),
        ["voice", "rec", "hook", "prio", "log", "metric", "busy", "bye"]
    );
    assert_eq!(r.contact.voice, "Amy");
    assert_eq!(r.contact.recording.len(), 2);
    assert_eq!(r.contact.queue_priority, Some(2));
    assert!(r.contact.logging);
    assert!(r.effects.contains(&Effect::SetEventHook {
        hook: "CustomerQueue".into(),
        flow: "Hold music".into()
    }));
    assert!(r.effects.contains(&Effect::Play {
        message: Rendered::Text("Busy".into()),
        voice: "Amy".into()
    }));
    let mut staffed = Script::default();
    staffed
        .metrics
        .insert("NumberOfAgentsAvailable".into(), 3.0);
    assert_eq!(ids(&run(flow, &mut staffed))[6], "ok");
}

#[test]
fn wait_third_party_and_flow_transfers() {
    let chat = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "300", "Events": ["CustomerReturned"]},
             "Transitions": {"Conditions": [
                {"NextAction": "back", "Condition": {"Operator": "Equals", "Operands": ["CustomerReturned"]}},
                {"NextAction": "gone", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "gone"}]}},
            say("back", "Welcome back", "bye"), say("gone", "Bye", "bye"), end("bye")
        ]),
    );
    assert_eq!(
        ids(&run(chat.clone(), &mut Script::default())),
        ["wait", "gone", "bye"]
    );
    assert_eq!(
        ids(&run(
            chat,
            &mut Script {
                customer_returns: true,
                ..Default::default()
            }
        )),
        ["wait", "back", "bye"]
    );
    // A Wait that does not listen for the customer runs its time even when
    // they write (the chat shell leaves their message to the log).
    let deaf = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "30"},
             "Transitions": {"Conditions": [
                {"NextAction": "gone", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "gone"}]}},
            say("gone", "Bye", "bye"), end("bye")
        ]),
    );
    assert_eq!(
        ids(&run(
            deaf,
            &mut Script {
                customer_returns: true,
                ..Default::default()
            }
        )),
        ["wait", "gone", "bye"]
    );

    let xfer = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "call", "Type": "TransferParticipantToThirdParty",
             "Parameters": {"ThirdPartyPhoneNumber": "+442079460555", "ThirdPartyConnectionTimeLimitSeconds": "20", "ContinueFlowExecution": "True"},
             "Transitions": {"NextAction": "after", "Errors": [
                {"ErrorType": "ConnectionTimeLimitExceeded", "NextAction": "noanswer"}, {"ErrorType": "CallFailed", "NextAction": "failed"},
                {"ErrorType": "NoMatchingError", "NextAction": "failed"}]}},
            {"Identifier": "after", "Type": "TransferToFlow", "Parameters": {"ContactFlowId": "Survey"},
             "Transitions": {"NextAction": "failed", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "failed"}]}},
            say("noanswer", "No answer", "bye"), say("failed", "Failed", "bye"), end("bye")
        ]),
    );
    let r = run(xfer.clone(), &mut Script::default());
    assert_eq!(ids(&r), ["call", "after"]);
    assert_eq!(
        r.outcome,
        Some(Outcome::TransferredToFlow {
            flow: "Survey".into()
        })
    );

    // The same flow driven by hand: the third party does not answer.
    let (mut s, effects) = Session::start(xfer.clone(), contact(), 1);
    assert!(
        matches!(&effects[0], Effect::TransferToNumber { number, timeout_seconds: 20, continue_flow: true, .. } if number == "+442079460555")
    );
    s.handle(Event::PromptFinished); // not awaited: ignored
    assert!(s.is_waiting());
    let effects = s.handle(Event::ConnectionTimeout);
    assert_eq!(
        effects[0],
        Effect::Play {
            message: Rendered::Text("No answer".into()),
            voice: "Joanna".into()
        }
    );
    let (mut s, _) = Session::start(xfer, contact(), 1);
    let effects = s.handle(Event::CallFailed);
    assert_eq!(s.trace()[0].branch, "error CallFailed");
    assert_eq!(
        effects[0],
        Effect::Play {
            message: Rendered::Text("Failed".into()),
            voice: "Joanna".into()
        }
    );
}

#[test]
fn bots_route_on_intent() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
             "Parameters": {"Text": "How can I help?", "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:1:bot-alias/Help/live"}},
             "Transitions": {"Conditions": [{"NextAction": "pay", "Condition": {"Operator": "Equals", "Operands": ["Payment"]}}],
                "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "other"}, {"ErrorType": "InputTimeLimitExceeded", "NextAction": "other"},
                           {"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("pay", "Intent $.Lex.IntentName", "bye"), say("other", "Other", "bye"), say("err", "Error", "bye"), end("bye")
        ]),
    );
    let mut s = Script::default();
    s.intents.push_back("Payment".into());
    let r = run(flow.clone(), &mut s);
    assert_eq!(ids(&r), ["bot", "pay", "bye"]);
    assert!(r.effects.contains(&Effect::Play {
        message: Rendered::Text("Intent Payment".into()),
        voice: "Joanna".into()
    }));
    let mut s = Script::default();
    s.intents.push_back("Weather".into());
    assert_eq!(ids(&run(flow.clone(), &mut s)), ["bot", "other", "bye"]);
    assert_eq!(
        ids(&run(flow, &mut Script::default())),
        ["bot", "err", "bye"]
    );
}

#[test]
fn queue_flow_loops_messages_until_interrupted() {
    let flow = build(
        FlowType::CustomerQueue,
        json!([
            {"Identifier": "music", "Type": "MessageParticipantIteratively",
             "Parameters": {"Messages": [{"Text": "Please hold"}, {"PromptId": "Music"}], "InterruptFrequencySeconds": "60"},
             "Transitions": {"NextAction": "pos", "Errors": [{"ErrorType": "MessagesInterrupted", "NextAction": "pos"},
                                                             {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            say("pos", "You are next", "music"), end("bye")
        ]),
    );
    let (mut s, effects) = Session::start(flow, contact(), 1);
    assert!(
        matches!(&effects[0], Effect::PlayLoop { messages, interrupt_seconds: Some(60), .. } if messages.len() == 2)
    );
    for _ in 0..3 {
        assert!(matches!(
            s.handle(Event::TimerFired)[0],
            Effect::Play { .. }
        ));
        assert!(matches!(
            s.handle(Event::PromptFinished)[0],
            Effect::PlayLoop { .. }
        ));
    }
    s.handle(Event::Hangup);
    assert_eq!(s.outcome(), Some(&Outcome::CustomerHungUp));
}

#[test]
fn an_error_with_no_branch_fails_the_flow_and_hangs_up() {
    let flow = build(
        FlowType::AgentWhisper,
        json!([
            {"Identifier": "fn", "Type": "InvokeLambdaFunction", "Parameters": {"LambdaFunctionARN": "lookup"},
             "Transitions": {"NextAction": "done"}},
            {"Identifier": "done", "Type": "EndFlowExecution", "Parameters": {}, "Transitions": {}}
        ]),
    );
    let r = run(flow, &mut Script::default());
    assert!(
        matches!(&r.outcome, Some(Outcome::Failed { action: Some(a), .. }) if a == "fn"),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.effects.last(), Some(&Effect::Disconnect));
}

#[test]
fn a_runaway_flow_hits_the_step_limit() {
    // Validation refuses this loop; the interpreter must still stop it if
    // it is run anyway (e.g. through a reference that changes at run time).
    let text = json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "UpdateContactAttributes", "Parameters": {"Attributes": {"x": "1"}}, "Transitions": {"NextAction": "b"}},
        {"Identifier": "b", "Type": "UpdateContactAttributes", "Parameters": {"Attributes": {"y": "2"}}, "Transitions": {"NextAction": "a"}}
    ]}).to_string();
    let (flow, problems) = check(&text, FlowType::ContactFlow);
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("could run forever")),
        "{problems:#?}"
    );
    let (s, effects) = Session::start(Arc::new(flow.unwrap()), contact(), 1);
    assert!(
        matches!(s.outcome(), Some(Outcome::Failed { reason, .. }) if reason.contains("step limit"))
    );
    assert_eq!(effects, [Effect::Disconnect]);
}

/// One action between `start` and two endings: `ok` on success, `err` on its
/// NoMatchingError branch.
fn single(ft: FlowType, action_type: &str, params: Value, next: bool) -> Arc<Flow> {
    let mut transitions =
        json!({"Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]});
    if next {
        transitions["NextAction"] = json!("ok");
    }
    build(
        ft,
        json!([
            {"Identifier": "x", "Type": action_type, "Parameters": params, "Transitions": transitions},
            say("ok", "ok", "bye"), say("err", "err", "bye"), end("bye")
        ]),
    )
}

#[test]
fn error_transitions_of_every_action_that_can_fail() {
    // (type, parameters, event that fails it, or None when the failure comes from the contact's data)
    let cases: Vec<(&str, Value, Option<Event>)> = vec![
        (
            "MessageParticipant",
            json!({"PromptId": "Missing prompt"}),
            Some(Event::Failed("no such prompt".into())),
        ),
        (
            "UpdateContactTextToSpeechVoice",
            json!({"TextToSpeechVoice": "$.Attributes.none"}),
            None,
        ),
        (
            "UpdateContactAttributes",
            json!({"Attributes": {"a": "$.External.none"}}),
            None,
        ),
        (
            "UpdateFlowAttributes",
            json!({"FlowAttributes": {"a": {"Value": "$.Attributes.none"}}}),
            None,
        ),
        (
            "UpdateContactTargetQueue",
            json!({"QueueId": "Nowhere"}),
            Some(Event::Failed("no queue".into())),
        ),
        (
            "UpdateContactTargetQueue",
            json!({"QueueId": "$.Attributes.none"}),
            None,
        ),
        (
            "UpdateContactEventHooks",
            json!({"EventHooks": {"CustomerQueue": "$.FlowAttributes.none"}}),
            None,
        ),
        (
            "UpdateContactRoutingBehavior",
            json!({"QueuePriority": "$.Attributes.p"}),
            None,
        ),
        (
            "InvokeLambdaFunction",
            json!({"LambdaFunctionARN": "f"}),
            Some(Event::Failed("timeout".into())),
        ),
        (
            "InvokeFlowModule",
            json!({"FlowModuleId": "m"}),
            Some(Event::Failed("no module".into())),
        ),
        (
            "TransferToFlow",
            json!({"ContactFlowId": "$.Attributes.none"}),
            None,
        ),
        (
            "CheckHoursOfOperation",
            json!({"HoursOfOperationId": "h"}),
            Some(Event::Failed("no hours".into())),
        ),
        ("Loop", json!({"LoopCount": "$.Attributes.none"}), None),
    ];
    for (ty, params, failure) in cases {
        let next = !matches!(ty, "CheckHoursOfOperation" | "Loop");
        let flow = match ty {
            "CheckHoursOfOperation" | "Loop" => {
                let outcomes = if ty == "Loop" {
                    ["ContinueLooping", "DoneLooping"]
                } else {
                    ["True", "False"]
                };
                build(
                    FlowType::ContactFlow,
                    json!([
                        {"Identifier": "x", "Type": ty, "Parameters": params,
                         "Transitions": {"Conditions": [
                            {"NextAction": "ok", "Condition": {"Operator": "Equals", "Operands": [outcomes[0]]}},
                            {"NextAction": "ok", "Condition": {"Operator": "Equals", "Operands": [outcomes[1]]}}],
                            "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
                        say("ok", "ok", "bye"), say("err", "err", "bye"), end("bye")
                    ]),
                )
            }
            _ => single(FlowType::ContactFlow, ty, params, next),
        };
        let (mut s, _) = Session::start(flow, contact(), 1);
        if let Some(event) = failure {
            assert!(s.is_waiting(), "{ty} waits for the world");
            s.handle(event);
        }
        assert_eq!(
            s.trace()[0].branch,
            "error NoMatchingError",
            "{ty}: {:?}",
            s.trace()
        );
        assert_eq!(s.trace()[0].action, "x");
    }
}

#[test]
fn modules_return_to_the_caller() {
    let module = build(
        FlowType::Module,
        json!([
            {"Identifier": "m1", "Type": "UpdateContactAttributes", "Parameters": {"Attributes": {"in_module": "yes"}},
             "Transitions": {"NextAction": "m2"}},
            {"Identifier": "m2", "Type": "EndFlowModuleExecution", "Parameters": {}, "Transitions": {}}
        ]),
    );
    let main = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "call", "Type": "InvokeFlowModule", "Parameters": {"FlowModuleId": "Helpers"},
             "Transitions": {"NextAction": "after", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            say("after", "Back: $.Attributes.in_module", "bye"), end("bye")
        ]),
    );
    let mut script = Script::default();
    script.modules.insert("Helpers".into(), module);
    let r = run(main, &mut script);
    assert_eq!(ids(&r), ["call", "m1", "m2", "after", "bye"]);
    assert!(r.effects.contains(&Effect::Play {
        message: Rendered::Text("Back: yes".into()),
        voice: "Joanna".into()
    }));
}

#[test]
fn media_streaming_starts_narrows_and_stops_where_the_instance_streams() {
    let flow = build(
        FlowType::ContactFlow,
        json!([
            {"Identifier": "start", "Type": "UpdateContactMediaStreamingBehavior",
             "Parameters": {"MediaStreamingState": "Enabled", "MediaStreamType": "Audio",
                            "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}]},
             "Transitions": {"NextAction": "narrow", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "narrow", "Type": "UpdateContactMediaStreamingBehavior",
             "Parameters": {"MediaStreamingState": "Disabled",
                            "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["To"]}]},
             "Transitions": {"NextAction": "stop", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            {"Identifier": "stop", "Type": "UpdateContactMediaStreamingBehavior",
             "Parameters": {"MediaStreamingState": "Disabled",
                            "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From"]}]},
             "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            say("err", "No streaming", "bye"), end("bye")
        ]),
    );
    // No endpoint configured (or a chat): the error branch, as in Connect.
    let r = run(flow.clone(), &mut Script::default());
    assert_eq!(ids(&r), ["start", "err", "bye"]);
    let mut streaming = contact();
    streaming.media_streaming_available = true;
    let r = simulate(flow, streaming, &mut Script::default(), 7);
    assert_eq!(ids(&r), ["start", "narrow", "stop", "bye"]);
    let both = StreamDirections {
        from_customer: true,
        to_customer: true,
    };
    let from = StreamDirections {
        from_customer: true,
        to_customer: false,
    };
    let streamed: Vec<_> = r
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetMediaStreaming { directions } => Some(*directions),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, [Some(both), Some(from), None]);
    assert_eq!(r.contact.media_streaming, None);
}

#[test]
fn media_streaming_parameters_are_checked_by_name() {
    let text = json!({"Version": "2019-10-30", "StartAction": "s", "Actions": [
        {"Identifier": "s", "Type": "UpdateContactMediaStreamingBehavior",
         "Parameters": {"MediaStreamingState": "On", "MediaStreamType": "Video",
                        "Participants": [{"ParticipantType": "Agent", "MediaDirections": ["Sideways"]}]},
         "Transitions": {"NextAction": "bye"}},
        end("bye")]})
    .to_string();
    let (_, problems) = check(&text, FlowType::ContactFlow);
    let said: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    for field in [
        "MediaStreamingState",
        "MediaStreamType",
        "Participants[0].ParticipantType",
        "Participants[0].MediaDirections[0]",
    ] {
        assert!(said.iter().any(|p| p.contains(field)), "{field}: {said:#?}");
    }
}
