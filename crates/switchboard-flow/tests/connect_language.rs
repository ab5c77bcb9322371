//! The flow language as Connect writes it, beyond the reference's own
//! examples: every shape a flow comes in, the forms the console saves, the
//! actions of features Switchboard does not have, and the ones it runs.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard_flow::simulate::{simulate, FeatureAnswer, Report, Script};
use switchboard_flow::{check, ContactData, Flow, FlowType, Problem, Severity};

fn bare(actions: Value) -> Value {
    json!({"Version": "2019-10-30", "StartAction": actions[0]["Identifier"], "Actions": actions})
}

fn problems(text: &str, ft: FlowType) -> (Option<Flow>, Vec<Problem>) {
    check(text, ft)
}

fn errors(p: &[Problem]) -> Vec<String> {
    p.iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.to_string())
        .collect()
}

fn valid(flow: Value, ft: FlowType) -> Arc<Flow> {
    let (flow, p) = problems(&flow.to_string(), ft);
    assert!(errors(&p).is_empty(), "{:#?}", errors(&p));
    Arc::new(flow.unwrap())
}

fn end(id: &str) -> Value {
    json!({"Identifier": id, "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}})
}

fn chat() -> ContactData {
    ContactData::chat("c1", "Sam")
}

fn path(r: &Report) -> Vec<String> {
    r.path
        .iter()
        .map(|s| format!("{} {}", s.action, s.branch))
        .collect()
}

#[test]
fn describe_contact_flow_output_and_console_metadata_say_the_type() {
    let flow = bare(
        json!([{"Identifier": "done", "Type": "EndFlowExecution", "Parameters": {}, "Transitions": {}}]),
    );
    let described = json!({"ContactFlow": {"Name": "Whisper", "Type": "AGENT_WHISPER",
        "Content": flow.to_string()}, "ResponseMetadata": {"HTTPStatusCode": 200}});
    let (parsed, p) = problems(&described.to_string(), FlowType::ContactFlow);
    assert!(errors(&p).is_empty(), "{p:#?}");
    let parsed = parsed.unwrap();
    assert_eq!(parsed.name.as_deref(), Some("Whisper"));
    assert_eq!(parsed.flow_type, Some(FlowType::AgentWhisper));

    let exported =
        json!({"Name": "Q", "ContactFlowType": "CUSTOMER_QUEUE", "Content": flow.to_string()});
    let (parsed, _) = problems(&exported.to_string(), FlowType::ContactFlow);
    assert_eq!(parsed.unwrap().flow_type, Some(FlowType::CustomerQueue));

    // An outbound campaign's flow runs as a contact flow, with a warning.
    let campaign = json!({"Name": "Dialler", "Type": "CAMPAIGN", "Content": flow.to_string()});
    let (parsed, p) = problems(&campaign.to_string(), FlowType::ContactFlow);
    assert!(errors(&p).is_empty(), "{p:#?}");
    assert_eq!(parsed.unwrap().flow_type, Some(FlowType::ContactFlow));

    let mut saved = flow.clone();
    saved["Metadata"] = json!({"type": "customerHold"});
    let (parsed, _) = problems(&saved.to_string(), FlowType::ContactFlow);
    assert_eq!(parsed.unwrap().flow_type, Some(FlowType::CustomerHold));

    let mut module = flow;
    module["Settings"] = json!({"InputParameters": [], "OutputParameters": [], "Transitions": []});
    let (parsed, _) = problems(&module.to_string(), FlowType::ContactFlow);
    assert_eq!(parsed.unwrap().flow_type, Some(FlowType::Module));
}

#[test]
fn looping_messages_interrupted_by_condition_take_that_branch() {
    let flow = valid(
        bare(json!([
            {"Identifier": "music", "Type": "MessageParticipantIteratively",
             "Parameters": {"Messages": [{"Text": "Please hold"}], "InterruptFrequencySeconds": "30"},
             "Transitions": {"Conditions": [{"NextAction": "bye",
                "Condition": {"Operator": "Equals", "Operands": ["MessagesInterrupted"]}}],
              "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            end("bye")
        ])),
        FlowType::CustomerQueue,
    );
    let r = simulate(flow, chat(), &mut Script::default(), 1);
    assert_eq!(
        path(&r),
        vec!["music condition Equals MessagesInterrupted", "bye end"]
    );
}

#[test]
fn a_wait_reads_the_console_time_limit_or_a_reference() {
    let wait = |limit: Value| {
        bare(json!([
            {"Identifier": "w", "Type": "Wait", "Parameters": {"TimeLimitSeconds": limit},
             "Transitions": {"Conditions": [{"NextAction": "bye",
                "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
              "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "err"}]}},
            end("bye"),
            end("err")
        ]))
    };
    let r = simulate(
        valid(wait(json!("900")), FlowType::ContactFlow),
        chat(),
        &mut Script::default(),
        1,
    );
    assert!(r
        .effects
        .iter()
        .any(|e| matches!(e, switchboard_flow::Effect::StartTimer { seconds: 900, .. })));
    let flow = valid(wait(json!("$.Attributes.seconds")), FlowType::ContactFlow);
    let mut contact = chat();
    contact.attributes.insert("seconds".into(), "45".into());
    let r = simulate(flow.clone(), contact, &mut Script::default(), 1);
    assert!(r
        .effects
        .iter()
        .any(|e| matches!(e, switchboard_flow::Effect::StartTimer { seconds: 45, .. })));
    // A reference that is not a number of seconds is the error branch.
    let r = simulate(flow, chat(), &mut Script::default(), 1);
    assert_eq!(path(&r), vec!["w error NoMatchingError", "err end"]);
}

#[test]
fn connect_accepts_what_the_validator_used_to_refuse() {
    // "Press any key": no conditions, the branches carry it; a Lex block
    // without intents; a loop through a function call; an orphan block;
    // a namespace Switchboard does not fill yet.
    let flow = bare(json!([
        {"Identifier": "any", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Press any key", "InputTimeLimitSeconds": "5"},
         "Transitions": {"NextAction": "bot", "Errors": [
            {"ErrorType": "InputTimeLimitExceeded", "NextAction": "bot"},
            {"ErrorType": "NoMatchingCondition", "NextAction": "bot"},
            {"ErrorType": "NoMatchingError", "NextAction": "bot"}]}},
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "How can I help?", "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:1:bot-alias/B/A"}},
         "Transitions": {"NextAction": "fn", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "fn"}]}},
        {"Identifier": "fn", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "poll", "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "check", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "check", "Type": "Compare", "Parameters": {"ComparisonValue": "$.Customer.FirstName"},
         "Transitions": {"Conditions": [{"NextAction": "bye",
            "Condition": {"Operator": "Equals", "Operands": ["Sam"]}}],
          "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "fn"}]}},
        end("bye"),
        {"Identifier": "orphan", "Type": "MessageParticipant", "Parameters": {"Text": "never"},
         "Transitions": {"NextAction": "bye"}}
    ]));
    let (_, p) = problems(&flow.to_string(), FlowType::ContactFlow);
    assert!(errors(&p).is_empty(), "{:#?}", errors(&p));
    let warnings: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    for said in [
        "never runs",
        "does not fill '$.Customer' yet",
        "need speech recognition",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(said)),
            "warned {said}: {warnings:#?}"
        );
    }
}

fn profile_flow() -> Value {
    bare(json!([
        {"Identifier": "find", "Type": "GetCustomerProfile",
         "Parameters": {"ProfileRequestData": {"IdentifierName": "_phone", "IdentifierValue": "$.CustomerEndpoint.Address"},
                        "ProfileResponseData": ["FirstName"]},
         "Transitions": {"NextAction": "hi", "Errors": [
            {"ErrorType": "NoneFoundError", "NextAction": "none"},
            {"ErrorType": "NoMatchingError", "NextAction": "off"}]}},
        {"Identifier": "hi", "Type": "MessageParticipant", "Parameters": {"Text": "Hi $.Customer.FirstName"},
         "Transitions": {"NextAction": "bye"}},
        end("none"),
        end("off"),
        end("bye")
    ]))
}

#[test]
fn a_feature_switchboard_lacks_takes_its_not_enabled_branch_unless_simulated() {
    let flow = valid(profile_flow(), FlowType::ContactFlow);
    let r = simulate(flow.clone(), chat(), &mut Script::default(), 1);
    assert_eq!(r.path[0].action, "find");
    assert!(
        r.path[0]
            .branch
            .starts_with("error NoMatchingError (GetCustomerProfile is not available"),
        "{:?}",
        r.path
    );
    assert_eq!(r.path[1].action, "off");

    let mut script = Script::default();
    script.features.insert(
        "GetCustomerProfile".into(),
        FeatureAnswer::Ran {
            result: None,
            data: Some(json!({"FirstName": "Sam"})),
        },
    );
    let r = simulate(flow.clone(), chat(), &mut script, 1);
    assert!(r.effects.iter().any(|e| matches!(e,
        switchboard_flow::Effect::Play { message: switchboard_flow::Rendered::Text(t), .. } if t == "Hi Sam")));

    script.features.insert(
        "GetCustomerProfile".into(),
        FeatureAnswer::Error("NoneFoundError".into()),
    );
    let r = simulate(flow, chat(), &mut script, 1);
    assert_eq!(path(&r)[0], "find error NoneFoundError");
}

#[test]
fn a_features_action_is_checked_against_the_reference() {
    let mut flow = profile_flow();
    flow["Actions"][0]["Transitions"]["Errors"][0]["ErrorType"] = json!("NoneFound");
    let (_, p) = problems(&flow.to_string(), FlowType::ContactFlow);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("has no error 'NoneFound'"), "{e:#?}");

    let view = bare(json!([
        {"Identifier": "v", "Type": "ShowView", "Parameters": {"InvocationTimeLimitSeconds": "60"},
         "Transitions": {"Conditions": [{"NextAction": "bye",
            "Condition": {"Operator": "Equals", "Operands": ["Next"]}}],
          "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        end("bye")
    ]));
    let (_, p) = problems(&view.to_string(), FlowType::ContactFlow);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].contains("ShowView needs ViewResource"), "{e:#?}");

    let voice_id = |option: &str| {
        bare(json!([
            {"Identifier": "v", "Type": "CheckVoiceId", "Parameters": {"CheckVoiceIdOption": option},
             "Transitions": {"Conditions": [{"NextAction": "bye",
                "Condition": {"Operator": "Equals", "Operands": ["Authenticated"]}}],
              "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            end("bye")
        ]))
    };
    let (_, p) = problems(
        &voice_id("voiceAuthentication").to_string(),
        FlowType::ContactFlow,
    );
    assert!(errors(&p).is_empty(), "{p:#?}");
    let (_, p) = problems(&voice_id("voicePrint").to_string(), FlowType::ContactFlow);
    let e = errors(&p);
    assert!(
        e.len() == 1 && e[0].contains("must be one of enrollmentStatus"),
        "{e:#?}"
    );
}

#[test]
fn contact_data_tags_and_callback_numbers_are_set_on_the_contact() {
    let flow = valid(
        bare(json!([
            {"Identifier": "data", "Type": "UpdateContactData",
             "Parameters": {"Name": "Refund $.Attributes.order", "References": {"ticket": {"Value": "T-9", "Type": "STRING"}}},
             "Transitions": {"NextAction": "tag", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "tag", "Type": "TagContact", "Parameters": {"Tags": {"team": "refunds", "x": "1"}},
             "Transitions": {"NextAction": "untag", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "untag", "Type": "UnTagContact", "Parameters": {"TagKeys": ["x"]},
             "Transitions": {"NextAction": "cb", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "cb", "Type": "UpdateContactCallbackNumber", "Parameters": {"CallbackNumber": "$.Attributes.phone"},
             "Transitions": {"NextAction": "bye", "Errors": [
                {"ErrorType": "InvalidCallbackNumber", "NextAction": "bad"},
                {"ErrorType": "CallbackNumberNotDialable", "NextAction": "bad"}]}},
            end("bad"),
            end("bye")
        ])),
        FlowType::ContactFlow,
    );
    let mut contact = chat();
    contact.attributes.insert("order".into(), "A-1".into());
    contact
        .attributes
        .insert("phone".into(), "+442079460000".into());
    let r = simulate(flow.clone(), contact.clone(), &mut Script::default(), 1);
    assert_eq!(r.contact.name.as_deref(), Some("Refund A-1"));
    assert_eq!(r.contact.references["ticket"], "T-9");
    assert_eq!(
        r.contact.tags,
        [("team".to_string(), "refunds".to_string())].into()
    );
    assert_eq!(r.contact.callback_number.as_deref(), Some("+442079460000"));
    assert_eq!(path(&r).last().unwrap(), "bye end");

    contact.attributes.insert("phone".into(), "call me".into());
    let r = simulate(flow, contact, &mut Script::default(), 1);
    assert!(path(&r).contains(&"cb error InvalidCallbackNumber".to_string()));

    // Seven tags are one too many: Connect's limit is six.
    let many: serde_json::Map<String, Value> =
        (0..7).map(|i| (format!("k{i}"), json!("v"))).collect();
    let flow = bare(json!([
        {"Identifier": "tag", "Type": "TagContact", "Parameters": {"Tags": many},
         "Transitions": {"NextAction": "bye"}},
        end("bye")
    ]));
    let (_, p) = problems(&flow.to_string(), FlowType::ContactFlow);
    assert!(
        errors(&p).iter().any(|e| e.contains("at most 6 tags")),
        "{p:#?}"
    );
}

#[test]
fn get_metric_data_fills_metrics_for_the_flow_to_read() {
    let flow = valid(
        bare(json!([
            {"Identifier": "q", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "Sales"},
             "Transitions": {"NextAction": "m", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "m", "Type": "GetMetricData", "Parameters": {"QueueChannel": "Chat"},
             "Transitions": {"NextAction": "busy", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "busy", "Type": "Compare", "Parameters": {"ComparisonValue": "$.Metrics.Queue.Size"},
             "Transitions": {"Conditions": [{"NextAction": "long",
                "Condition": {"Operator": "NumberGreaterThan", "Operands": ["5"]}}],
              "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "bye"}]}},
            end("long"),
            end("bye")
        ])),
        FlowType::ContactFlow,
    );
    let mut script = Script::default();
    script.metrics.insert("NumberOfContactsInQueue".into(), 9.0);
    let r = simulate(flow, chat(), &mut script, 1);
    assert_eq!(path(&r).last().unwrap(), "long end");
}
