//! The objects a flow names (queues, hours, prompts, flows, modules,
//! agents, functions, bots), where it names them, so a shell that knows
//! the instance can check each one exists before the flow is published:
//! a misspelt queue is an error to fix in the designer, not a caller cut
//! off at run time.
//!
//! Only names written as literals are listed: a value read when the flow
//! runs (`$.Attributes.queue`) can only be checked then. An ARN left by an
//! import that could not be mapped is listed by the name inside it, and
//! [`arns_in`] finds the ARNs kept elsewhere in the JSON (flow attributes).

use crate::import::arn_target;
use crate::model::{ActionKind, Flow, Message};
use crate::operand::{Operand, Piece};

/// What kind of object a flow names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKind {
    /// A queue (`QueueId`).
    Queue,
    /// Hours of operation (`HoursOfOperationId`).
    HoursOfOperation,
    /// A recorded prompt (`PromptId`).
    Prompt,
    /// A flow (`ContactFlowId`, an event hook's flow).
    Flow,
    /// A flow module (`FlowModuleId`).
    Module,
    /// An agent, for their personal queue (`AgentId`).
    Agent,
    /// An external function (`LambdaFunctionARN`).
    Function,
    /// A bot (`LexV2Bot.AliasArn`, `LexBot.Name`).
    Bot,
}

impl ObjectKind {
    /// How a person calls it, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Queue => "queue",
            ObjectKind::HoursOfOperation => "hours of operation",
            ObjectKind::Prompt => "prompt",
            ObjectKind::Flow => "flow",
            ObjectKind::Module => "flow module",
            ObjectKind::Agent => "agent",
            ObjectKind::Function => "function",
            ObjectKind::Bot => "bot",
        }
    }
}

/// One object a flow names, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// What kind of object it must be.
    pub kind: ObjectKind,
    /// The id or name to look for (an ARN's name when it is an ARN).
    pub name: String,
    /// The value as written, when it differs from `name` (an ARN).
    pub written: String,
    /// JSON path of the parameter, e.g. `Actions[2].Parameters.QueueId`.
    pub path: String,
    /// The action's Identifier.
    pub action: String,
}

/// Every object `flow` names with a literal, in the order of its actions.
pub fn object_refs<'f>(flow: &'f Flow) -> Vec<ObjectRef> {
    use ObjectKind::*;
    let mut out = Vec::new();
    for action in &flow.actions {
        // What the action names: kind, parameter, value.
        let mut named: Vec<(ObjectKind, String, &'f Operand)> = Vec::new();
        let mut one = |kind, param: &str, operand: Option<&'f Operand>| {
            named.extend(operand.map(|o| (kind, param.to_string(), o)));
        };
        let prompt = |message: Option<&'f Message>| match message {
            Some(Message::Prompt(p)) => Some(p),
            _ => None,
        };
        match &action.kind {
            ActionKind::MessageParticipant { message } => {
                one(Prompt, "PromptId", prompt(Some(message)))
            }
            ActionKind::GetParticipantInput { prompt: p, .. } => {
                one(Prompt, "PromptId", prompt(p.as_ref()))
            }
            ActionKind::ConnectParticipantWithLexBot { prompt: p, bot, .. } => {
                one(Prompt, "PromptId", prompt(p.as_ref()));
                one(Bot, "LexV2Bot.AliasArn", Some(bot));
            }
            ActionKind::MessageParticipantIteratively { messages, .. } => {
                for (i, m) in messages.iter().enumerate() {
                    one(Prompt, &format!("Messages[{i}].PromptId"), prompt(Some(m)));
                }
            }
            ActionKind::CheckHoursOfOperation { hours } => {
                one(HoursOfOperation, "HoursOfOperationId", hours.as_ref())
            }
            ActionKind::CheckMetricData { queue, .. } => one(Queue, "QueueId", queue.as_ref()),
            ActionKind::UpdateContactTargetQueue { queue, agent }
            | ActionKind::GetMetricData { queue, agent, .. } => {
                one(Queue, "QueueId", queue.as_ref());
                one(Agent, "AgentId", agent.as_ref());
            }
            ActionKind::TransferToFlow { flow } => one(Flow, "ContactFlowId", Some(flow)),
            ActionKind::UpdateContactEventHooks { hooks } => {
                for (hook, flow) in hooks {
                    one(Flow, &format!("EventHooks.{hook:?}"), Some(flow));
                }
            }
            ActionKind::InvokeLambdaFunction { function, .. } => {
                one(Function, "LambdaFunctionARN", Some(function))
            }
            ActionKind::InvokeFlowModule { module } => one(Module, "FlowModuleId", Some(module)),
            _ => {}
        }
        for (kind, param, operand) in named {
            if let Some((name, written)) = literal(operand) {
                out.push(ObjectRef {
                    kind,
                    name,
                    written,
                    path: format!("Actions[{}].Parameters.{param}", action.index),
                    action: action.id.clone(),
                });
            }
        }
    }
    out
}

/// An ARN written anywhere in a flow's JSON, and where: the imports of
/// Connect's newer designer keep their ARNs in a map of flow attributes
/// (`FLOW_OBJECT_MAPS#`) and name them by `$.FlowAttributes.x`, so those
/// are found by walking the JSON, not the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnAt {
    /// What it names.
    pub target: crate::import::ArnTarget,
    /// The ARN as written.
    pub written: String,
    /// JSON path, e.g. `Actions[6].Parameters.FlowAttributes.finance.Value`.
    pub path: String,
}

/// Every ARN in `content`'s actions (a flow's JSON), in document order.
/// `Metadata` is not read: the designer's own notes (Connect copies each
/// block's ARN there) are not what runs, and a block changed to another
/// object would otherwise stay blocked by its stale note.
pub fn arns_in(content: &serde_json::Value) -> Vec<ArnAt> {
    use serde_json::Value;
    let mut out = Vec::new();
    let Some(actions) = content.get("Actions") else {
        return out;
    };
    // Iterative walk, newest last so the order is the document's.
    let mut stack: Vec<(String, &Value)> = vec![("Actions".to_string(), actions)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::String(s) => {
                if let Some(target) = arn_target(s) {
                    out.push(ArnAt {
                        target,
                        written: s.clone(),
                        path,
                    });
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), item));
                }
            }
            Value::Object(map) => {
                let entries: Vec<_> = map.iter().collect();
                for (key, item) in entries.into_iter().rev() {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    stack.push((path, item));
                }
            }
            _ => {}
        }
    }
    out
}

/// The name a literal operand gives, and the value as written; `None` for
/// a value read when the flow runs, or an empty one.
fn literal(operand: &Operand) -> Option<(String, String)> {
    if operand.pieces.iter().any(|p| matches!(p, Piece::Ref(_))) {
        return None;
    }
    let written = operand.raw.trim();
    if written.is_empty() {
        return None;
    }
    let name = arn_target(written).map_or_else(|| written.to_string(), |t| t.name);
    Some((name, written.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(actions: serde_json::Value) -> Vec<(ObjectKind, String, String)> {
        let text = serde_json::json!({
            "Version": "2019-10-30",
            "StartAction": "a",
            "Actions": actions,
        })
        .to_string();
        let parsed = crate::parse(&text);
        object_refs(&parsed.flow.expect("parses"))
            .into_iter()
            .map(|r| (r.kind, r.name, r.path))
            .collect()
    }

    #[test]
    fn literal_names_are_listed_with_their_paths_and_runtime_values_are_not() {
        let found = refs(serde_json::json!([
            {"Identifier": "a", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "Billng"},
             "Transitions": {"NextAction": "b", "Errors": [{"NextAction": "b", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "b", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "$.Attributes.queue"},
             "Transitions": {"NextAction": "c", "Errors": [{"NextAction": "c", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "c", "Type": "MessageParticipant",
             "Parameters": {"PromptId": "arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/prompt/${P:Welcome:P}"},
             "Transitions": {"NextAction": "d", "Errors": [{"NextAction": "d", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "d", "Type": "CheckHoursOfOperation",
             "Parameters": {"HoursOfOperationId": "Office"},
             "Transitions": {"NextAction": "e", "Conditions": [
                {"NextAction": "e", "Condition": {"Operator": "Equals", "Operands": ["True"]}},
                {"NextAction": "e", "Condition": {"Operator": "Equals", "Operands": ["False"]}}],
              "Errors": [{"NextAction": "e", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "e", "Type": "TransferToFlow",
             "Parameters": {"ContactFlowId": "Main menu"},
             "Transitions": {"Errors": [{"NextAction": "f", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "f", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]));
        assert_eq!(
            found,
            [
                (
                    ObjectKind::Queue,
                    "Billng".into(),
                    "Actions[0].Parameters.QueueId".into()
                ),
                (
                    ObjectKind::Prompt,
                    "Welcome".into(),
                    "Actions[2].Parameters.PromptId".into()
                ),
                (
                    ObjectKind::HoursOfOperation,
                    "Office".into(),
                    "Actions[3].Parameters.HoursOfOperationId".into()
                ),
                (
                    ObjectKind::Flow,
                    "Main menu".into(),
                    "Actions[4].Parameters.ContactFlowId".into()
                ),
            ]
        );
    }

    #[test]
    fn arns_are_found_wherever_the_json_keeps_them() {
        let content = serde_json::json!({"Actions": [
            {"Identifier": "maps", "Parameters": {"FlowAttributes": {
                "finance": {"Value": "arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/queue/${Q:finance:Q}"},
                "greeting": {"Value": "Hello"}}}},
            {"Identifier": "x", "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:$.AwsRegion:${ACCT_ID}:function:lookup"}}
        ]});
        let found: Vec<_> = arns_in(&content)
            .into_iter()
            .map(|a| (a.target.kind, a.target.name, a.path))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "queue".to_string(),
                    "finance".to_string(),
                    "Actions[0].Parameters.FlowAttributes.finance.Value".to_string()
                ),
                (
                    "function".into(),
                    "lookup".into(),
                    "Actions[1].Parameters.LambdaFunctionARN".into()
                ),
            ]
        );
    }

    #[test]
    fn the_designers_notes_in_metadata_are_not_read() {
        let content = serde_json::json!({"Actions": [], "Metadata": {"ActionMetadata": {"a": {"queue": {
            "id": "arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/queue/${Q:old:Q}"}}}}});
        assert!(arns_in(&content).is_empty());
    }

    #[test]
    fn hooks_functions_modules_agents_and_looped_prompts_are_listed() {
        let found = refs(serde_json::json!([
            {"Identifier": "a", "Type": "UpdateContactEventHooks",
             "Parameters": {"EventHooks": {"CustomerQueue": "Queue music"}},
             "Transitions": {"NextAction": "b", "Errors": [{"NextAction": "b", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "b", "Type": "InvokeLambdaFunction",
             "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:eu-west-2:123456789012:function:lookup", "InvocationTimeLimitSeconds": "3"},
             "Transitions": {"NextAction": "c", "Errors": [{"NextAction": "c", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "c", "Type": "UpdateContactTargetQueue",
             "Parameters": {"AgentId": "alice"},
             "Transitions": {"NextAction": "d", "Errors": [{"NextAction": "d", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "d", "Type": "InvokeFlowModule",
             "Parameters": {"FlowModuleId": "Verify"},
             "Transitions": {"NextAction": "e", "Errors": [{"NextAction": "e", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "e", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]));
        let kinds: Vec<_> = found.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (ObjectKind::Flow, "Queue music"),
                (ObjectKind::Function, "lookup"),
                (ObjectKind::Agent, "alice"),
                (ObjectKind::Module, "Verify"),
            ]
        );
        assert_eq!(found[0].2, "Actions[0].Parameters.EventHooks.CustomerQueue");
    }
}
