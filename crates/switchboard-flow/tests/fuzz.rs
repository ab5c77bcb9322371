//! Property tests: arbitrary JSON never panics the parser or validator, and
//! random flows driven by random events never panic the interpreter nor
//! leave a session neither waiting nor finished.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use switchboard_flow::interp::{Effect, Event, Outcome, Session};
use switchboard_flow::{check, ContactData, FlowType, QueueRef};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z0-9$._ :{}\\[\\]'-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TYPES: &[&str] = &[
    "MessageParticipant",
    "GetParticipantInput",
    "MessageParticipantIteratively",
    "UpdateContactTextToSpeechVoice",
    "UpdateContactAttributes",
    "Compare",
    "CheckHoursOfOperation",
    "CheckMetricData",
    "DistributeByPercentage",
    "Loop",
    "Wait",
    "UpdateContactTargetQueue",
    "TransferContactToQueue",
    "TransferToFlow",
    "TransferParticipantToThirdParty",
    "UpdateContactRecordingBehavior",
    "UpdateContactEventHooks",
    "UpdateContactRoutingBehavior",
    "InvokeLambdaFunction",
    "ConnectParticipantWithLexBot",
    "UpdateFlowAttributes",
    "UpdateFlowLoggingBehavior",
    "InvokeFlowModule",
    "EndFlowModuleExecution",
    "DisconnectParticipant",
    "EndFlowExecution",
    "SomethingElse",
];

fn arb_param() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("1")),
        Just(json!("True")),
        Just(json!("$.Attributes.x")),
        Just(json!("Sales")),
        Just(json!("+442079460123")),
        Just(json!(3)),
        Just(json!({"x": "1"})),
        Just(json!({"RecordedParticipants": ["Agent"]})),
        Just(json!([{"Text": "hi"}])),
        Just(json!({"CustomerQueue": "q"})),
        Just(json!({"a": {"Value": "b"}})),
    ]
}

const PARAM_NAMES: &[&str] = &[
    "Text",
    "SSML",
    "PromptId",
    "InputTimeLimitSeconds",
    "StoreInput",
    "Messages",
    "TextToSpeechVoice",
    "Attributes",
    "ComparisonValue",
    "MetricType",
    "LoopCount",
    "TimeoutSeconds",
    "QueueId",
    "ContactFlowId",
    "ThirdPartyPhoneNumber",
    "RecordingBehavior",
    "EventHooks",
    "QueuePriority",
    "LambdaFunctionARN",
    "FlowAttributes",
    "FlowLoggingBehavior",
    "FlowModuleId",
    "LexV2Bot",
    "InterruptFrequencySeconds",
    "ContinueFlowExecution",
];

/// A random flow over five identifiers, so transitions often connect.
fn arb_flow() -> impl Strategy<Value = Value> {
    const IDS: &[&str] = &["a", "b", "c", "d", "e"];
    let action = (
        prop::sample::select(TYPES),
        prop::collection::btree_map(prop::sample::select(PARAM_NAMES), arb_param(), 0..4),
        prop::option::of(prop::sample::select(IDS)),
        prop::collection::vec(
            (
                prop::sample::select(&["Equals", "NumberLessThan", "TextContains"][..]),
                prop::sample::select(
                    &[
                        "1",
                        "2",
                        "True",
                        "False",
                        "ContinueLooping",
                        "DoneLooping",
                        "WaitCompleted",
                        "50",
                    ][..],
                ),
                prop::sample::select(IDS),
            ),
            0..3,
        ),
        prop::collection::vec(
            (
                prop::sample::select(
                    &[
                        "NoMatchingError",
                        "InputTimeLimitExceeded",
                        "NoMatchingCondition",
                        "QueueAtCapacity",
                    ][..],
                ),
                prop::sample::select(IDS),
            ),
            0..3,
        ),
    );
    prop::collection::vec(action, 1..6).prop_map(|actions| {
        let actions: Vec<Value> = actions
            .into_iter()
            .enumerate()
            .map(|(i, (ty, params, next, conds, errs))| {
                let mut t = serde_json::Map::new();
                if let Some(n) = next {
                    t.insert("NextAction".into(), json!(n));
                }
                t.insert("Conditions".into(), Value::Array(conds.into_iter().map(|(op, v, n)| json!({"NextAction": n, "Condition": {"Operator": op, "Operands": [v]}})).collect()));
                t.insert("Errors".into(), Value::Array(errs.into_iter().map(|(e, n)| json!({"ErrorType": e, "NextAction": n})).collect()));
                json!({"Identifier": IDS[i], "Type": ty, "Parameters": Value::Object(params.into_iter().map(|(k, v)| (k.to_string(), v)).collect()), "Transitions": t})
            })
            .collect();
        json!({"Version": "2019-10-30", "StartAction": "a", "Actions": actions})
    })
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::PromptFinished),
        "[0-9*#]{0,4}".prop_map(Event::Input),
        Just(Event::InputTimeout),
        "[A-Za-z]{1,6}".prop_map(|intent| Event::BotResult {
            intent,
            slots: BTreeMap::new(),
            session_attributes: BTreeMap::new(),
        }),
        Just(Event::FunctionResult(BTreeMap::from([(
            "x".to_string(),
            json!("1")
        )]))),
        Just(Event::FunctionResult(BTreeMap::from([(
            "x".to_string(),
            json!({"nested": true})
        )]))),
        any::<bool>().prop_map(|open| Event::HoursChecked { open }),
        (0.0f64..100.0).prop_map(Event::MetricValue),
        Just(Event::QueueFound(QueueRef {
            id: "q1".into(),
            name: "Sales".into()
        })),
        Just(Event::Enqueued),
        Just(Event::QueueAtCapacity),
        Just(Event::TransferEnded),
        Just(Event::ConnectionTimeout),
        Just(Event::CallFailed),
        Just(Event::FlowFound),
        Just(Event::TimerFired),
        Just(Event::CustomerReturned),
        Just(Event::Failed("boom".into())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        let _ = check(&value.to_string(), FlowType::ContactFlow);
        let wrapped = json!({"Name": "x", "Type": "CONTACT_FLOW", "Content": value.to_string()});
        let _ = check(&wrapped.to_string(), FlowType::ContactFlow);
    }

    #[test]
    fn random_flows_and_events_never_panic_nor_stall(flow in arb_flow(), events in prop::collection::vec(arb_event(), 0..40), seed in any::<u64>()) {
        for ft in [FlowType::ContactFlow, FlowType::CustomerQueue] {
            let (parsed, _) = check(&flow.to_string(), ft);
            let Some(parsed) = parsed else { continue };
            let (mut session, effects) = Session::start(Arc::new(parsed), ContactData::voice("c", "+1", "+2"), seed);
            let mut last = effects;
            for event in events.clone() {
                // Alive means waiting for something; otherwise it has an outcome.
                prop_assert!(session.is_finished() || session.is_waiting());
                let next = session.handle(event);
                if !next.is_empty() {
                    last = next;
                }
            }
            let _ = session.handle(Event::Hangup);
            prop_assert!(session.is_finished());
            match session.outcome() {
                Some(Outcome::Disconnected) => prop_assert!(last.contains(&Effect::Disconnect) || session.trace().iter().any(|s| s.action_type == "DisconnectParticipant")),
                Some(Outcome::Failed { .. }) => prop_assert!(last.contains(&Effect::Disconnect)),
                Some(_) => {}
                None => prop_assert!(false, "finished without an outcome"),
            }
        }
    }
}
