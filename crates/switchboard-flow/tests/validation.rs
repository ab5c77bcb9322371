//! The validator names the path, the action and the problem for each rule.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use serde_json::{json, Value};
use switchboard_flow::{check, FlowType, Problem, Severity};

fn problems(ft: FlowType, flow: Value) -> Vec<Problem> {
    check(&flow.to_string(), ft).1
}

fn errors(ft: FlowType, flow: Value) -> Vec<(String, Option<String>, String)> {
    problems(ft, flow)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.path, p.action, p.message))
        .collect()
}

fn flow(actions: Value) -> Value {
    json!({"Version": "2019-10-30", "StartAction": actions[0]["Identifier"], "Actions": actions})
}

fn end(id: &str) -> Value {
    json!({"Identifier": id, "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}})
}

fn has(errs: &[(String, Option<String>, String)], path: &str, action: &str, words: &str) -> bool {
    errs.iter()
        .any(|(p, a, m)| p == path && a.as_deref() == Some(action) && m.contains(words))
}

#[test]
fn a_valid_flow_has_no_problems() {
    let f = flow(json!([
        {"Identifier": "hi", "Type": "MessageParticipant", "Parameters": {"Text": "Hi"}, "Transitions": {"NextAction": "bye"}},
        end("bye")
    ]));
    assert!(problems(FlowType::ContactFlow, f).is_empty());
}

#[test]
fn nested_wrappers_and_null_parameters_are_refused() {
    let inner = json!({"Name": "in", "Type": "CONTACT_FLOW", "Content": "{}"}).to_string();
    let outer = json!({"Name": "out", "Type": "CONTACT_FLOW", "Content": inner}).to_string();
    let (_, p) = check(&outer, FlowType::ContactFlow);
    assert!(
        p.iter()
            .any(|p| p.message.contains("cannot hold another wrapper")),
        "{p:#?}"
    );
    let f = flow(json!([
        {"Identifier": "c", "Type": "Compare", "Parameters": {"ComparisonValue": null},
         "Transitions": {"Conditions": [{"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["1"]}}],
                         "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "bye"}]}},
        end("bye")
    ]));
    assert!(has(
        &errors(FlowType::ContactFlow, f),
        "Actions[0].Parameters.ComparisonValue",
        "c",
        "missing"
    ));
}

#[test]
fn structure_errors() {
    assert_eq!(
        errors(FlowType::ContactFlow, json!([]))[0].2,
        "a flow must be a JSON object"
    );
    let e = errors(
        FlowType::ContactFlow,
        json!({"Version": "2020-01-01", "Actions": []}),
    );
    assert!(e
        .iter()
        .any(|(p, _, m)| p == "Version" && m.contains("2019-10-30")));
    assert!(e.iter().any(|(p, _, _)| p == "StartAction"));
    let e = errors(
        FlowType::ContactFlow,
        json!({"Version": "2019-10-30", "StartAction": "x", "Actions": [end("bye")]}),
    );
    assert!(
        e.iter()
            .any(|(p, _, m)| p == "StartAction" && m.contains("'x'")),
        "{e:?}"
    );
    let (_, p) = check("{not json", FlowType::ContactFlow);
    assert!(p[0].message.starts_with("not JSON"));
}

#[test]
fn action_errors_name_path_and_identifier() {
    let f = flow(json!([
        {"Identifier": "a", "Type": "PlayPromptOnMars", "Parameters": {}, "Transitions": {"NextAction": "b"}},
        {"Identifier": "b", "Type": "GetParticipantInput", "Parameters": {"Text": "x", "InputTimeLimitSeconds": "soon"},
         "Transitions": {"Conditions": [{"NextAction": "c", "Condition": {"Operator": "Equals", "Operands": ["12"]}}],
                         "Errors": [{"ErrorType": "QueueAtCapacity", "NextAction": "c"}]}},
        {"Identifier": "c", "Type": "CheckHoursOfOperation", "Parameters": {},
         "Transitions": {"Conditions": [{"NextAction": "d", "Condition": {"Operator": "Equals", "Operands": ["True"]}}]}},
        {"Identifier": "d", "Type": "MessageParticipant", "Parameters": {"Text": "$.Nowhere.x"}, "Transitions": {"NextAction": "ghost"}},
        {"Identifier": "bad:id", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {"NextAction": "a"}},
        end("island")
    ]));
    let e = errors(FlowType::ContactFlow, f.clone());
    assert!(
        has(
            &e,
            "Actions[0].Type",
            "a",
            "'PlayPromptOnMars' is not one of Connect's flow language"
        ),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "Actions[1].Parameters.InputTimeLimitSeconds",
            "b",
            "whole number from 1 to 604800"
        ),
        "{e:#?}"
    );
    assert!(
        has(&e, "Actions[1].Transitions.Conditions[0]", "b", "one key"),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "Actions[1].Transitions.Errors[0].ErrorType",
            "b",
            "has no error 'QueueAtCapacity'"
        ),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "Actions[2].Transitions.Conditions",
            "c",
            "needs a condition Equals False"
        ),
        "{e:#?}"
    );
    assert!(
        has(&e, "Actions[3].Parameters", "d", "'$.Nowhere.x'"),
        "{e:#?}"
    );
    assert!(
        has(&e, "Actions[3].Transitions", "d", "leads to 'ghost'"),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "Actions[4].Identifier",
            "bad:id",
            "must not contain ':'"
        ),
        "{e:#?}"
    );
    assert!(
        has(
            &e,
            "Actions[4].Transitions",
            "bad:id",
            "takes no transitions"
        ),
        "{e:#?}"
    );
    // Connect keeps unconnected blocks in saved flows: a warning, not an error.
    assert!(
        !has(&e, "Actions[5]", "island", "cannot be reached"),
        "{e:#?}"
    );
    let warned = problems(FlowType::ContactFlow, f).into_iter().any(|p| {
        p.severity == Severity::Warning
            && p.path == "Actions[5]"
            && p.message.contains("cannot be reached")
    });
    assert!(warned, "an orphan block is reported as a warning");
}

#[test]
fn flow_type_rules() {
    let f = flow(json!([
        {"Identifier": "ask", "Type": "GetParticipantInput", "Parameters": {"Text": "1?"},
         "Transitions": {"Conditions": [{"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["1"]}}]}},
        {"Identifier": "bye", "Type": "EndFlowExecution", "Parameters": {}, "Transitions": {}}
    ]));
    let e = errors(FlowType::AgentWhisper, f.clone());
    assert!(
        has(
            &e,
            "Actions[0].Type",
            "ask",
            "not allowed in a AGENT_WHISPER flow"
        ),
        "{e:#?}"
    );
    assert!(errors(FlowType::ContactFlow, f).is_empty());
}

#[test]
fn too_many_actions_and_runaway_loops() {
    let mut actions: Vec<Value> = (0..251)
        .map(|i| json!({"Identifier": format!("a{i}"), "Type": "UpdateFlowLoggingBehavior",
                         "Parameters": {"FlowLoggingBehavior": "Enabled"}, "Transitions": {"NextAction": format!("a{}", i + 1)}}))
        .collect();
    actions.push(end("a251"));
    let e = errors(FlowType::ContactFlow, flow(Value::Array(actions)));
    assert!(
        e.iter()
            .any(|(p, _, m)| p == "Actions" && m.contains("252 actions; at most 250")),
        "{e:#?}"
    );

    let looping = flow(json!([
        {"Identifier": "a", "Type": "MessageParticipant", "Parameters": {"Text": "x"}, "Transitions": {"NextAction": "b"}},
        {"Identifier": "b", "Type": "Compare", "Parameters": {"ComparisonValue": "$.Attributes.x"},
         "Transitions": {"Conditions": [{"NextAction": "a", "Condition": {"Operator": "Equals", "Operands": ["1"]}}],
                         "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "c"}]}},
        end("c")
    ]));
    let e = errors(FlowType::ContactFlow, looping.clone());
    assert!(
        e.iter()
            .any(|(_, _, m)| m.contains("could run forever: a, b")),
        "{e:#?}"
    );
    // A Loop whose DoneLooping leads back to it resets its counter: endless.
    let done_loops = flow(json!([
        {"Identifier": "l", "Type": "Loop", "Parameters": {"LoopCount": "3"},
         "Transitions": {"Conditions": [
            {"NextAction": "body", "Condition": {"Operator": "Equals", "Operands": ["ContinueLooping"]}},
            {"NextAction": "after", "Condition": {"Operator": "Equals", "Operands": ["DoneLooping"]}}]}},
        {"Identifier": "body", "Type": "UpdateFlowLoggingBehavior", "Parameters": {"FlowLoggingBehavior": "Enabled"}, "Transitions": {"NextAction": "l"}},
        {"Identifier": "after", "Type": "UpdateFlowLoggingBehavior", "Parameters": {"FlowLoggingBehavior": "Disabled"}, "Transitions": {"NextAction": "l"}}
    ]));
    let e = errors(FlowType::ContactFlow, done_loops);
    assert!(
        e.iter()
            .any(|(_, _, m)| m.contains("could run forever: after, l")),
        "{e:#?}"
    );

    // In a queue flow, playing a message is the waiting; the same loop is fine.
    assert!(errors(FlowType::CustomerQueue, looping)
        .iter()
        .all(|(_, _, m)| !m.contains("forever")));
}

#[test]
fn unknown_parameters_warn_and_the_wrapper_is_read() {
    let inner = flow(json!([
        {"Identifier": "rec", "Type": "UpdateContactRecordingBehavior",
         "Parameters": {"RecordingBehavior": {"RecordedParticipants": ["Agent"]}, "AnalyticsBehavior": {"Enabled": "True"}},
         "Transitions": {"NextAction": "bye"}},
        {"Identifier": "bye", "Type": "EndFlowExecution", "Parameters": {}, "Transitions": {}}
    ]));
    let wrapped =
        json!({"Name": "Outbound", "Type": "OUTBOUND_WHISPER", "Content": inner.to_string()});
    let (flow, problems) = check(&wrapped.to_string(), FlowType::ContactFlow);
    let flow = flow.unwrap();
    assert_eq!(
        (flow.name.as_deref(), flow.flow_type),
        (Some("Outbound"), Some(FlowType::OutboundWhisper))
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].severity, Severity::Warning);
    assert_eq!(problems[0].path, "Actions[0].Parameters.AnalyticsBehavior");
    let bad = json!({"Name": "X", "Type": "SPACE_FLOW", "Content": "{}"});
    let (_, p) = check(&bad.to_string(), FlowType::ContactFlow);
    assert!(p
        .iter()
        .any(|p| p.path == "Type" && p.message.contains("SPACE_FLOW")));
}
