//! From JSON text to a typed [`Flow`], reporting every problem with its
//! JSON path and action. Accepts the bare flow and Connect's describe/export
//! wrapper (`{"Name", "Type", "Content": "<flow as a JSON string>"}`).
//!
//! The JSON is walked by hand rather than derived with serde because real
//! exports carry parameters we do not use (which must be warnings, not
//! failures) and because every error must name where it is.

use serde_json::{Map, Value};

use crate::model::*;
use crate::operand::Operand;
use crate::problem::Problems;

/// A flow and what was found while reading it.
#[derive(Debug)]
pub struct Parsed {
    /// The flow; `None` when the JSON is too broken to build one.
    pub flow: Option<Flow>,
    /// Errors and warnings found while reading, each with its JSON path.
    pub problems: Problems,
}

/// Most bytes of flow JSON accepted: far above 250 real actions.
pub const MAX_FLOW_BYTES: usize = 4 * 1024 * 1024;
/// The longest a Wait (or a chat's input) may last: Connect's 7 days.
pub const MAX_WAIT_SECONDS: u32 = 7 * 24 * 3600;

/// Parses flow JSON, bare or wrapped. `flow` is `None` only when the
/// structure is too broken to build one; otherwise problems in actions are
/// reported and those actions kept with what could be read.
pub fn parse(text: &str) -> Parsed {
    let mut problems = Problems::default();
    if text.len() > MAX_FLOW_BYTES {
        problems.error(
            "$",
            None,
            format!("the flow is {} bytes; at most {MAX_FLOW_BYTES}", text.len()),
        );
        return Parsed {
            flow: None,
            problems,
        };
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.error("$", None, format!("not JSON: {e}"));
            return Parsed {
                flow: None,
                problems,
            };
        }
    };
    let flow = parse_value(&value, &mut problems);
    Parsed { flow, problems }
}

/// [`parse`] for JSON already read: a bare flow or Connect's export wrapper,
/// adding what is wrong to `problems`.
pub fn parse_value(value: &Value, problems: &mut Problems) -> Option<Flow> {
    parse_level(value, problems, true)
}

/// `wrapper_allowed`: only the outermost level may be a wrapper; a wrapper
/// inside a wrapper is refused rather than unwrapped again (so nesting
/// cannot run the parser arbitrarily deep).
///
/// The wrappers read: Connect's export (`{"Name", "Type" or
/// "ContactFlowType", "Content"}`), and what `aws connect
/// describe-contact-flow` prints (`{"ContactFlow": {"Name", "Type",
/// "Content", ...}}`); in both `Content` is the flow as a JSON string (or
/// object), and the wrapper's type is the flow's.
fn parse_level(value: &Value, problems: &mut Problems, wrapper_allowed: bool) -> Option<Flow> {
    let Some(top) = value.as_object() else {
        problems.error("$", None, "a flow must be a JSON object");
        return None;
    };
    // describe-contact-flow's answer: the export wrapper one level down.
    if let (Some(described), true) = (top.get("ContactFlow"), wrapper_allowed) {
        if !top.contains_key("Actions") {
            let Some(inner) = described.as_object().filter(|o| o.contains_key("Content")) else {
                problems.error(
                    "ContactFlow",
                    None,
                    "must be the described flow, with its Content",
                );
                return None;
            };
            return parse_wrapper(inner, "ContactFlow.", problems);
        }
    }
    if top.contains_key("Content") {
        if !wrapper_allowed {
            problems.error(
                "Content",
                None,
                "a flow export wrapper cannot hold another wrapper",
            );
            return None;
        }
        return parse_wrapper(top, "", problems);
    }
    match top.get("Version").and_then(Value::as_str) {
        Some(VERSION) => {}
        Some(v) => problems.error(
            "Version",
            None,
            format!("is '{v}'; the flow language version is {VERSION}"),
        ),
        None => problems.error("Version", None, format!("missing; must be \"{VERSION}\"")),
    }
    let start = match top.get("StartAction").and_then(Value::as_str) {
        Some(s) => s.to_string(),
        None => {
            problems.error("StartAction", None, "missing: name the first action");
            String::new()
        }
    };
    let Some(list) = top.get("Actions").and_then(Value::as_array) else {
        problems.error("Actions", None, "missing: must be a list of actions");
        return None;
    };
    if list.len() > MAX_ACTIONS {
        problems.error(
            "Actions",
            None,
            format!("has {} actions; at most {MAX_ACTIONS}", list.len()),
        );
    }
    let actions = list
        .iter()
        .enumerate()
        .filter_map(|(i, a)| parse_action(i, a, problems))
        .collect();
    // A flow saved from Connect's console names its type in Metadata; a
    // module's content has its Settings (inputs, outputs, branches).
    let flow_type = top
        .get("Metadata")
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .and_then(FlowType::from_metadata)
        .or_else(|| top.get("Settings").is_some().then_some(FlowType::Module));
    Some(Flow::new(None, flow_type, start, actions))
}

/// The flow inside an export or describe wrapper (`at` prefixes its paths).
fn parse_wrapper(top: &Map<String, Value>, at: &str, problems: &mut Problems) -> Option<Flow> {
    let name = top.get("Name").and_then(Value::as_str).map(str::to_string);
    let flow_type = match top
        .get("Type")
        .or_else(|| top.get("ContactFlowType"))
        .and_then(Value::as_str)
    {
        Some(t) => match FlowType::from_connect(t) {
            Some((ft, mapped)) => {
                if mapped {
                    problems.warning(
                        format!("{at}Type"),
                        None,
                        format!("{t} flows run as {ft} flows in Switchboard"),
                    );
                }
                Some(ft)
            }
            None => {
                problems.error(
                    format!("{at}Type"),
                    None,
                    format!("unknown flow type '{t}'"),
                );
                None
            }
        },
        // Connect exports modules without a Type.
        None => Some(FlowType::Module),
    };
    let inner = match &top["Content"] {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) => v,
            Err(e) => {
                problems.error(format!("{at}Content"), None, format!("is not JSON: {e}"));
                return None;
            }
        },
        content @ Value::Object(_) => content.clone(),
        _ => {
            problems.error(
                format!("{at}Content"),
                None,
                "must be the flow, as a JSON string or object",
            );
            return None;
        }
    };
    let mut flow = parse_level(&inner, problems, false)?;
    flow.name = name;
    flow.flow_type = flow_type.or(flow.flow_type);
    Some(flow)
}

const FORBIDDEN_ID_CHARS: &str = "%:(\\/)=$,;[]{}";

fn parse_action(i: usize, value: &Value, problems: &mut Problems) -> Option<Action> {
    let path = format!("Actions[{i}]");
    let Some(obj) = value.as_object() else {
        problems.error(&path, None, "an action must be an object");
        return None;
    };
    let Some(id) = obj.get("Identifier").and_then(Value::as_str) else {
        problems.error(
            format!("{path}.Identifier"),
            None,
            "missing: every action needs an Identifier",
        );
        return None;
    };
    let id = id.to_string();
    if id.is_empty() || id.chars().count() > 50 {
        problems.error(
            format!("{path}.Identifier"),
            Some(&id),
            "must be 1 to 50 characters",
        );
    }
    if let Some(c) = id.chars().find(|c| FORBIDDEN_ID_CHARS.contains(*c)) {
        problems.error(
            format!("{path}.Identifier"),
            Some(&id),
            format!("must not contain '{c}'"),
        );
    }
    let Some(type_name) = obj.get("Type").and_then(Value::as_str) else {
        problems.error(
            format!("{path}.Type"),
            Some(&id),
            "missing: every action needs a Type",
        );
        return None;
    };
    let empty = Map::new();
    let params_value = obj.get("Parameters");
    let params_map = match params_value {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => &empty,
        Some(_) => {
            problems.error(format!("{path}.Parameters"), Some(&id), "must be an object");
            &empty
        }
    };
    let mut p = Params {
        map: params_map,
        path: format!("{path}.Parameters"),
        id: &id,
        used: Vec::new(),
        problems,
    };
    let kind = parse_kind(type_name, &mut p);
    // Nothing can be said about the parameters of an unknown type, nor of
    // a feature's action that Switchboard passes through.
    if !matches!(
        kind,
        Some(ActionKind::Unsupported | ActionKind::Other { .. })
    ) {
        p.warn_unused();
    }
    let transitions = parse_transitions(
        obj.get("Transitions"),
        &format!("{path}.Transitions"),
        &id,
        problems,
    );
    let kind = kind?;
    Some(Action {
        index: i,
        id,
        type_name: type_name.to_string(),
        kind,
        transitions,
    })
}

fn parse_transitions(
    value: Option<&Value>,
    path: &str,
    id: &str,
    problems: &mut Problems,
) -> Transitions {
    let mut t = Transitions::default();
    let Some(value) = value else { return t };
    let Some(obj) = value.as_object() else {
        problems.error(path, Some(id), "must be an object");
        return t;
    };
    match obj.get("NextAction") {
        Some(Value::String(s)) => t.next = Some(s.clone()),
        None | Some(Value::Null) => {}
        Some(_) => problems.error(
            format!("{path}.NextAction"),
            Some(id),
            "must be an action Identifier",
        ),
    }
    if let Some(conds) = obj.get("Conditions") {
        let Some(list) = conds.as_array() else {
            problems.error(format!("{path}.Conditions"), Some(id), "must be a list");
            return t;
        };
        for (i, c) in list.iter().enumerate() {
            let cpath = format!("{path}.Conditions[{i}]");
            let next = c.get("NextAction").and_then(Value::as_str);
            let op = c.pointer("/Condition/Operator").and_then(Value::as_str);
            let operands = c.pointer("/Condition/Operands").and_then(Value::as_array);
            match (next, op, operands) {
                (Some(next), Some(op), Some(operands)) => {
                    let Some(operator) = Operator::parse(op) else {
                        problems.error(
                            format!("{cpath}.Condition.Operator"),
                            Some(id),
                            format!("unknown operator '{op}'"),
                        );
                        continue;
                    };
                    let operand = match operands.as_slice() {
                        [Value::String(s)] => s.clone(),
                        [Value::Number(n)] => n.to_string(),
                        _ => {
                            problems.error(
                                format!("{cpath}.Condition.Operands"),
                                Some(id),
                                "must hold exactly one value",
                            );
                            continue;
                        }
                    };
                    if operator.is_numeric() && operand.trim().parse::<f64>().is_err() {
                        problems.error(
                            format!("{cpath}.Condition.Operands[0]"),
                            Some(id),
                            format!("{op} needs a number, got '{operand}'"),
                        );
                    }
                    t.conditions.push(Condition {
                        next: next.to_string(),
                        operator,
                        operand,
                    });
                }
                (None, _, _) => problems.error(format!("{cpath}.NextAction"), Some(id), "missing"),
                (_, None, _) => {
                    problems.error(format!("{cpath}.Condition.Operator"), Some(id), "missing")
                }
                (_, _, None) => {
                    problems.error(format!("{cpath}.Condition.Operands"), Some(id), "missing")
                }
            }
        }
    }
    if let Some(errs) = obj.get("Errors") {
        let Some(list) = errs.as_array() else {
            problems.error(format!("{path}.Errors"), Some(id), "must be a list");
            return t;
        };
        for (i, e) in list.iter().enumerate() {
            match (
                e.get("ErrorType").and_then(Value::as_str),
                e.get("NextAction").and_then(Value::as_str),
            ) {
                (Some(ty), Some(next)) => t.errors.push(ErrorBranch {
                    error_type: ty.to_string(),
                    next: next.to_string(),
                }),
                _ => problems.error(
                    format!("{path}.Errors[{i}]"),
                    Some(id),
                    "needs ErrorType and NextAction",
                ),
            }
        }
    }
    t
}

/// Reads one action's parameters, remembering which were used so the rest
/// can be reported.
struct Params<'a> {
    map: &'a Map<String, Value>,
    path: String,
    id: &'a str,
    used: Vec<&'static str>,
    problems: &'a mut Problems,
}

impl Params<'_> {
    fn get(&mut self, key: &'static str) -> Option<&Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn error(&mut self, key: &str, message: impl Into<String>) {
        let path = format!("{}.{key}", self.path);
        self.problems.error(path, Some(self.id), message);
    }

    /// A text value (strings, and numbers or booleans written bare).
    fn text(&mut self, key: &'static str) -> Option<Operand> {
        match self.get(key)? {
            Value::String(s) => Some(Operand::parse(s)),
            Value::Number(n) => Some(Operand::literal(&n.to_string())),
            Value::Bool(b) => Some(Operand::literal(if *b { "True" } else { "False" })),
            _ => {
                self.error(key, "must be text");
                None
            }
        }
    }

    fn required_text(&mut self, key: &'static str) -> Option<Operand> {
        let v = self.text(key);
        if v.is_none() && self.map.get(key).is_none_or(Value::is_null) {
            self.error(key, "missing");
        }
        v
    }

    /// A whole number in `min..=max`, written as a number or a string.
    fn number(&mut self, key: &'static str, min: u32, max: u32) -> Option<u32> {
        let n = match self.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.fract() == 0.0 && n >= f64::from(min) && n <= f64::from(max) => {
                Some(n as u32)
            }
            _ => {
                self.error(key, format!("must be a whole number from {min} to {max}"));
                None
            }
        }
    }

    /// Connect writes booleans as "True"/"False" strings.
    fn boolean(&mut self, key: &'static str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => {
                self.error(key, "must be True or False");
                None
            }
        }
    }

    /// An object of text values.
    fn text_map(&mut self, key: &'static str) -> Vec<(String, Operand)> {
        match self.get(key) {
            None => vec![],
            Some(Value::Object(m)) => {
                let m = m.clone();
                let mut out = Vec::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) => out.push((k, Operand::parse(&s))),
                        Value::Number(n) => out.push((k, Operand::literal(&n.to_string()))),
                        _ => self.error(&format!("{key}.{k}"), "must be text"),
                    }
                }
                out
            }
            Some(_) => {
                self.error(key, "must be an object of names to values");
                vec![]
            }
        }
    }

    fn object(&mut self, key: &'static str) -> Option<Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m.clone()),
            _ => {
                self.error(key, "must be an object");
                None
            }
        }
    }

    /// One of Text, SSML or PromptId, as a message.
    fn message(&mut self, required: bool) -> Option<Message> {
        let text = self.text("Text");
        let ssml = self.text("SSML");
        let prompt = self.text("PromptId");
        let given = [text.is_some(), ssml.is_some(), prompt.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            self.error("Text", "give only one of Text, SSML or PromptId");
        }
        if given == 0 && required {
            self.error("Text", "missing: give one of Text, SSML or PromptId");
        }
        text.map(Message::Text)
            .or(ssml.map(Message::Ssml))
            .or(prompt.map(Message::Prompt))
    }

    fn warn_unused(&mut self) {
        let mut unused: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(&k.as_str()))
            .collect();
        unused.sort();
        for key in unused {
            let path = format!("{}.{key}", self.path);
            // What Switchboard does instead, where the parameter changes how
            // a contact is handled.
            let instead = match key.as_str() {
                "AnalyticsBehavior" => {
                    "Switchboard has no Contact Lens: recordings are kept, not analysed or redacted"
                }
                "TextToSpeechStyle" | "TextToSpeechType" => {
                    "espeak-ng speaks text in its one style; this parameter has no effect"
                }
                "Media" => "Switchboard plays Text, SSML or a prompt; media from S3 is not fetched",
                _ => "Switchboard does not use this parameter; it is kept but has no effect",
            };
            self.problems.warning(path, Some(self.id), instead);
        }
    }
}

fn message_of(value: &Value) -> Option<Message> {
    let obj = value.as_object()?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(Operand::parse);
    s("Text")
        .map(Message::Text)
        .or(s("SSML").map(Message::Ssml))
        .or(s("PromptId").map(Message::Prompt))
}

fn parse_kind(type_name: &str, p: &mut Params) -> Option<ActionKind> {
    Some(match type_name {
        "MessageParticipant" => ActionKind::MessageParticipant {
            message: p
                .message(true)
                .unwrap_or(Message::Text(Operand::literal(""))),
        },
        "GetParticipantInput" => {
            if p.get("InputEncryption").is_some() {
                let path = format!("{}.InputEncryption", p.path);
                p.problems.warning(
                    path,
                    Some(p.id),
                    "Switchboard does not encrypt stored input: it is kept in clear in $.StoredCustomerInput",
                );
            }
            let prompt = p.message(false);
            // Connect sets no upper bound; chat flows wait minutes for an answer.
            let timeout_seconds = p
                .number("InputTimeLimitSeconds", 1, MAX_WAIT_SECONDS)
                .unwrap_or(5);
            let store_input = p.boolean("StoreInput").unwrap_or(false);
            let mut validation = None;
            if let Some(v) = p.object("InputValidation") {
                if let Some(custom) = v.get("CustomValidation") {
                    let max = custom.get("MaximumLength").and_then(|m| {
                        m.as_str()
                            .and_then(|s| s.parse().ok())
                            .or(m.as_u64().and_then(|n| u32::try_from(n).ok()))
                    });
                    match max {
                        Some(n) if (1..=20).contains(&n) => {
                            validation = Some(InputValidation::MaxLength(n))
                        }
                        _ => p.error(
                            "InputValidation.CustomValidation.MaximumLength",
                            "must be a whole number from 1 to 20",
                        ),
                    }
                } else if let Some(phone) = v.get("PhoneNumberValidation") {
                    let format = phone
                        .get("NumberFormat")
                        .and_then(Value::as_str)
                        .unwrap_or("E164");
                    let local_country = match format {
                        "Local" => {
                            let c = phone
                                .get("CountryCode")
                                .and_then(Value::as_str)
                                .map(str::to_string);
                            if c.is_none() {
                                p.error(
                                    "InputValidation.PhoneNumberValidation.CountryCode",
                                    "a Local number format needs a CountryCode",
                                );
                            }
                            c
                        }
                        "E164" => None,
                        other => {
                            p.error(
                                "InputValidation.PhoneNumberValidation.NumberFormat",
                                format!("must be E164 or Local, got '{other}'"),
                            );
                            None
                        }
                    };
                    validation = Some(InputValidation::PhoneNumber { local_country });
                } else {
                    p.error(
                        "InputValidation",
                        "give CustomValidation or PhoneNumberValidation",
                    );
                }
                if !store_input {
                    p.error("InputValidation", "only applies with StoreInput True");
                }
            }
            let (mut terminator, mut disable_cancel_key) = (None, false);
            if let Some(dtmf) = p.object("DTMFConfiguration") {
                terminator = dtmf
                    .get("InputTerminationSequence")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Some(t) = &terminator {
                    if t.is_empty()
                        || t.len() > 5
                        || !t
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == '#' || c == '*')
                    {
                        p.error(
                            "DTMFConfiguration.InputTerminationSequence",
                            "must be 1 to 5 of 0-9 * #",
                        );
                    }
                }
                disable_cancel_key = dtmf
                    .get("DisableCancelKey")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("true"));
            }
            ActionKind::GetParticipantInput {
                prompt,
                timeout_seconds,
                store_input,
                validation,
                terminator,
                disable_cancel_key,
            }
        }
        "MessageParticipantIteratively" => {
            let messages: Vec<Message> = match p.get("Messages") {
                Some(Value::Array(list)) => {
                    let list = list.clone();
                    list.iter()
                        .enumerate()
                        .filter_map(|(i, m)| {
                            let msg = message_of(m);
                            if msg.is_none() {
                                p.error(
                                    &format!("Messages[{i}]"),
                                    "must have Text, SSML or PromptId",
                                );
                            }
                            msg
                        })
                        .collect()
                }
                _ => {
                    p.error("Messages", "missing: a list of messages");
                    vec![]
                }
            };
            ActionKind::MessageParticipantIteratively {
                messages,
                interrupt_seconds: p.number("InterruptFrequencySeconds", 1, 3600),
            }
        }
        "UpdateContactTextToSpeechVoice" => ActionKind::UpdateContactTextToSpeechVoice {
            voice: p
                .required_text("TextToSpeechVoice")
                .unwrap_or(Operand::literal("")),
            engine: p.text("TextToSpeechEngine").map(|o| o.raw),
        },
        "UpdateContactAttributes" => {
            let _ = p.text("TargetContact");
            let attributes = p.text_map("Attributes");
            if attributes.is_empty() {
                p.error("Attributes", "must set at least one attribute");
            }
            ActionKind::UpdateContactAttributes { attributes }
        }
        "Compare" => ActionKind::Compare {
            value: p
                .required_text("ComparisonValue")
                .unwrap_or(Operand::literal("")),
        },
        "CheckHoursOfOperation" => ActionKind::CheckHoursOfOperation {
            hours: p.text("HoursOfOperationId"),
        },
        "CheckMetricData" => {
            let metric = match p.text("MetricType") {
                Some(m) => MetricType::parse(&m.raw).or_else(|| {
                    p.error("MetricType", format!("unknown metric '{}'", m.raw));
                    None
                }),
                None => {
                    p.error("MetricType", "missing");
                    None
                }
            };
            ActionKind::CheckMetricData {
                metric: metric.unwrap_or(MetricType::NumberOfContactsInQueue),
                queue: p.text("QueueId"),
            }
        }
        "DistributeByPercentage" => ActionKind::DistributeByPercentage,
        "Loop" => {
            let count = p
                .required_text("LoopCount")
                .unwrap_or(Operand::literal("0"));
            if count.paths().next().is_none() {
                match count.raw.trim().parse::<u32>() {
                    Ok(n) if n <= 100 => {}
                    _ => p.error("LoopCount", "must be a whole number from 0 to 100"),
                }
            }
            ActionKind::Loop { count }
        }
        "Wait" => {
            // The flow language writes TimeoutSeconds; flows saved from
            // Connect's console write TimeLimitSeconds. Either may be a
            // number or one reference, read when the flow runs.
            let key = if p.map.contains_key("TimeoutSeconds")
                || !p.map.contains_key("TimeLimitSeconds")
            {
                "TimeoutSeconds"
            } else {
                "TimeLimitSeconds"
            };
            let reference = match p.map.get(key) {
                Some(Value::String(v)) if v.trim_start().starts_with('$') => {
                    Some(Operand::parse(v))
                }
                _ => None,
            };
            let timeout_seconds = if reference.is_some() {
                p.used.push(key);
                60
            } else {
                p.number(key, 1, MAX_WAIT_SECONDS).unwrap_or_else(|| {
                    if p.map.get(key).is_none_or(Value::is_null) {
                        p.error("TimeoutSeconds", "missing (or TimeLimitSeconds)");
                    }
                    60
                })
            };
            let customer_returned = match p.get("Events") {
                Some(Value::Array(events)) => events
                    .iter()
                    .any(|e| e.as_str() == Some("CustomerReturned")),
                _ => false,
            };
            ActionKind::Wait {
                timeout_seconds,
                timeout_reference: reference,
                customer_returned,
            }
        }
        "UpdateContactTargetQueue" => {
            let queue = p.text("QueueId");
            let agent = p.text("AgentId");
            if queue.is_none() == agent.is_none() {
                p.error("QueueId", "give exactly one of QueueId or AgentId");
            }
            ActionKind::UpdateContactTargetQueue { queue, agent }
        }
        "TransferContactToQueue" => ActionKind::TransferContactToQueue,
        "TransferToFlow" => ActionKind::TransferToFlow {
            flow: p
                .required_text("ContactFlowId")
                .unwrap_or(Operand::literal("")),
        },
        "TransferParticipantToThirdParty" => {
            let number = p
                .required_text("ThirdPartyPhoneNumber")
                .unwrap_or(Operand::literal(""));
            // Exports write ...TimeLimitSeconds; the current reference page
            // ...TimeoutSeconds (0 to 600).
            let key = if p.map.contains_key("ThirdPartyConnectionTimeoutSeconds")
                && !p.map.contains_key("ThirdPartyConnectionTimeLimitSeconds")
            {
                "ThirdPartyConnectionTimeoutSeconds"
            } else {
                "ThirdPartyConnectionTimeLimitSeconds"
            };
            let timeout_seconds = p.number(key, 1, 600).unwrap_or(30);
            let continue_flow = p.boolean("ContinueFlowExecution").unwrap_or(false);
            let caller = p.object("CallerId").unwrap_or_default();
            let s = |k: &str| caller.get(k).and_then(Value::as_str).map(Operand::parse);
            let _ = p.text("ThirdPartyDTMFDigits");
            ActionKind::TransferParticipantToThirdParty {
                number,
                timeout_seconds,
                continue_flow,
                caller_id_number: s("Number"),
                caller_id_name: s("Name"),
            }
        }
        "UpdateContactRecordingBehavior" => {
            let mut participants = Vec::new();
            if let Some(rb) = p.object("RecordingBehavior") {
                match rb.get("RecordedParticipants").and_then(Value::as_array) {
                    Some(list) => {
                        for (i, v) in list.iter().enumerate() {
                            match v.as_str() {
                                Some("Agent") => participants.push(Participant::Agent),
                                Some("Customer") => participants.push(Participant::Customer),
                                _ => p.error(
                                    &format!("RecordingBehavior.RecordedParticipants[{i}]"),
                                    "must be Agent or Customer",
                                ),
                            }
                        }
                    }
                    None => p.error(
                        "RecordingBehavior.RecordedParticipants",
                        "missing: a list (empty turns recording off)",
                    ),
                }
            } else {
                p.error("RecordingBehavior", "missing");
            }
            participants.sort();
            participants.dedup();
            ActionKind::UpdateContactRecordingBehavior { participants }
        }
        "UpdateContactMediaStreamingBehavior" => {
            // Connect: each "must be specified statically".
            let state = p
                .get("MediaStreamingState")
                .and_then(Value::as_str)
                .map(str::to_string);
            let enabled = match state.as_deref() {
                Some("Enabled") => true,
                Some("Disabled") => false,
                Some(_) => {
                    p.error("MediaStreamingState", "must be Enabled or Disabled");
                    false
                }
                None => {
                    p.error("MediaStreamingState", "missing: Enabled or Disabled");
                    false
                }
            };
            let kind = p
                .get("MediaStreamType")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(t) = kind {
                if t != "Audio" {
                    p.error(
                        "MediaStreamType",
                        "must be Audio (the only type Connect streams)",
                    );
                }
            }
            let mut directions = StreamDirections::default();
            match p.get("Participants").cloned() {
                Some(Value::Array(list)) => {
                    for (i, v) in list.iter().enumerate() {
                        if v.get("ParticipantType").and_then(Value::as_str) != Some("Customer") {
                            p.error(
                                &format!("Participants[{i}].ParticipantType"),
                                "must be Customer (the only participant Connect streams)",
                            );
                        }
                        let dirs = v.get("MediaDirections").and_then(Value::as_array);
                        for (j, d) in dirs.into_iter().flatten().enumerate() {
                            match d.as_str() {
                                Some("From") => directions.from_customer = true,
                                Some("To") => directions.to_customer = true,
                                _ => p.error(
                                    &format!("Participants[{i}].MediaDirections[{j}]"),
                                    "must be From or To",
                                ),
                            }
                        }
                    }
                }
                Some(_) => p.error("Participants", "must be a list"),
                // Not given: both directions, as the block's defaults.
                None => {
                    directions = StreamDirections {
                        from_customer: true,
                        to_customer: true,
                    }
                }
            }
            ActionKind::UpdateContactMediaStreamingBehavior {
                enabled,
                directions,
            }
        }
        "UpdateContactEventHooks" => {
            let mut hooks = Vec::new();
            for (name, flow) in p.text_map("EventHooks") {
                match EventHook::parse(&name) {
                    Some(h) => hooks.push((h, flow)),
                    None => p.error(&format!("EventHooks.{name}"), "unknown event hook"),
                }
            }
            let _ = p.object("EventHooksConfiguration");
            if hooks.is_empty() {
                p.error("EventHooks", "must set one event hook");
            }
            ActionKind::UpdateContactEventHooks { hooks }
        }
        "UpdateContactRoutingBehavior" => {
            let priority = p.text("QueuePriority");
            let time_adjustment_seconds = p.text("QueueTimeAdjustmentSeconds");
            if let Some(pr) = priority.as_ref().filter(|o| o.paths().next().is_none()) {
                if !pr.raw.trim().parse::<u32>().is_ok_and(|n| n >= 1) {
                    p.error(
                        "QueuePriority",
                        "must be a whole number, 1 or more (lower goes first)",
                    );
                }
            }
            if let Some(adj) = time_adjustment_seconds
                .as_ref()
                .filter(|o| o.paths().next().is_none())
            {
                if adj.raw.trim().parse::<i64>().is_err() {
                    p.error(
                        "QueueTimeAdjustmentSeconds",
                        "must be a whole number of seconds",
                    );
                }
            }
            if priority.is_none() && time_adjustment_seconds.is_none() {
                p.error(
                    "QueuePriority",
                    "give QueuePriority or QueueTimeAdjustmentSeconds",
                );
            }
            ActionKind::UpdateContactRoutingBehavior {
                priority,
                time_adjustment_seconds,
            }
        }
        "InvokeLambdaFunction" => {
            let function = p
                .required_text("LambdaFunctionARN")
                .unwrap_or(Operand::literal(""));
            let timeout_seconds = p.number("InvocationTimeLimitSeconds", 1, 8).unwrap_or(3);
            let attributes = p.text_map("LambdaInvocationAttributes");
            let json_response = match p
                .object("ResponseValidation")
                .and_then(|r| r.get("ResponseType").cloned())
            {
                Some(Value::String(s)) if s == "JSON" => true,
                Some(Value::String(s)) if s == "STRING_MAP" => false,
                Some(_) => {
                    p.error(
                        "ResponseValidation.ResponseType",
                        "must be STRING_MAP or JSON",
                    );
                    false
                }
                None => false,
            };
            if p.text("InvocationType")
                .is_some_and(|t| t.raw == "ASYNCHRONOUS")
            {
                let path = format!("{}.InvocationType", p.path);
                p.problems.warning(
                    path,
                    Some(p.id),
                    "Switchboard calls the function and waits for its answer (as SYNCHRONOUS)",
                );
            }
            ActionKind::InvokeLambdaFunction {
                function,
                timeout_seconds,
                attributes,
                json_response,
            }
        }
        "ConnectParticipantWithLexBot" => {
            let prompt = p.message(false);
            let bot = match (p.object("LexV2Bot"), p.object("LexBot")) {
                (Some(v2), _) => v2
                    .get("AliasArn")
                    .and_then(Value::as_str)
                    .map(Operand::parse),
                (None, Some(v1)) => v1.get("Name").and_then(Value::as_str).map(Operand::parse),
                (None, None) => None,
            };
            if bot.is_none() {
                p.error(
                    "LexV2Bot",
                    "missing: name the bot (LexV2Bot.AliasArn or LexBot.Name)",
                );
            } else {
                let path = format!("{}.LexV2Bot", p.path);
                p.problems.warning(
                    path,
                    Some(p.id),
                    "bots talk in chats; on calls they need speech recognition, which is not built yet, so on a call this action takes its error branch",
                );
            }
            // Chat's first message and the bot's inactivity timer are the bot's.
            for key in ["LexInitializationData", "LexTimeoutSeconds", "Media"] {
                let _ = p.get(key);
            }
            ActionKind::ConnectParticipantWithLexBot {
                bot: bot.unwrap_or(Operand::literal("")),
                prompt,
                session_attributes: p.text_map("LexSessionAttributes"),
            }
        }
        "UpdateFlowAttributes" => {
            let mut attributes = Vec::new();
            match p.get("FlowAttributes") {
                Some(Value::Object(m)) => {
                    let m = m.clone();
                    for (k, v) in m {
                        match v.get("Value").and_then(Value::as_str) {
                            Some(s) => attributes.push((k, Operand::parse(s))),
                            None => p.error(
                                &format!("FlowAttributes.{k}.Value"),
                                "missing: each attribute is {\"Value\": \"...\"}",
                            ),
                        }
                    }
                }
                _ => p.error(
                    "FlowAttributes",
                    "missing: an object of names to {\"Value\": ...}",
                ),
            }
            ActionKind::UpdateFlowAttributes { attributes }
        }
        "UpdateFlowLoggingBehavior" => {
            let enabled = match p.text("FlowLoggingBehavior").map(|o| o.raw) {
                Some(s) if s == "Enabled" => true,
                Some(s) if s == "Disabled" => false,
                _ => {
                    p.error("FlowLoggingBehavior", "must be Enabled or Disabled");
                    false
                }
            };
            ActionKind::UpdateFlowLoggingBehavior { enabled }
        }
        "InvokeFlowModule" => ActionKind::InvokeFlowModule {
            module: p
                .required_text("FlowModuleId")
                .unwrap_or(Operand::literal("")),
        },
        "EndFlowModuleExecution" => ActionKind::EndFlowModuleExecution,
        "DisconnectParticipant" => ActionKind::DisconnectParticipant,
        "EndFlowExecution" => ActionKind::EndFlowExecution,
        "UpdateContactData" => {
            let references = match p.get("References").cloned() {
                None => vec![],
                Some(Value::Object(m)) => m
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k, Operand::parse(&s))),
                        // Connect's reference object: {"Value": ..., "Type": "URL"}.
                        Value::Object(o) => o
                            .get("Value")
                            .and_then(Value::as_str)
                            .map(|s| (k, Operand::parse(s))),
                        _ => None,
                    })
                    .collect(),
                Some(_) => {
                    p.error("References", "must be an object of names to values");
                    vec![]
                }
            };
            for key in [
                "IsVoiceIdStreamingEnabled",
                "IsVoiceAuthenticationEnabled",
                "IsFraudDetectionEnabled",
                "VoiceAuthenticationThreshold",
                "VoiceAuthenticationResponseTime",
                "FraudDetectionThreshold",
                "WatchlistId",
                "WisdomSessionArn",
            ] {
                if p.get(key).is_some() {
                    let path = format!("{}.{key}", p.path);
                    p.problems.warning(
                        path,
                        Some(p.id),
                        "Switchboard has no Voice ID or Amazon Q: this setting is kept nowhere",
                    );
                }
            }
            if let Some(t) = p.text("TargetContact") {
                if t.raw != "Current" {
                    let path = format!("{}.TargetContact", p.path);
                    p.problems.warning(
                        path,
                        Some(p.id),
                        "Switchboard keeps no related contact: the current contact is updated",
                    );
                }
            }
            ActionKind::UpdateContactData {
                name: p.text("Name"),
                description: p.text("Description"),
                language: p.text("LanguageCode"),
                customer_id: p.text("CustomerId"),
                references,
            }
        }
        "TagContact" => {
            let tags = p.text_map("Tags");
            if tags.len() > 6 {
                p.error("Tags", "at most 6 tags");
            }
            if let Some((k, _)) = tags.iter().find(|(k, _)| k.starts_with("aws:")) {
                let k = k.clone();
                p.error(&format!("Tags.{k}"), "tags starting aws: are the system's");
            }
            ActionKind::TagContact { tags }
        }
        "UntagContact" | "UnTagContact" => {
            let keys = match p.get("TagKeys").cloned() {
                Some(Value::Array(list)) => list
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => {
                    p.error("TagKeys", "missing: the list of tag keys to remove");
                    vec![]
                }
            };
            ActionKind::UntagContact { keys }
        }
        "UpdateContactCallbackNumber" => ActionKind::UpdateContactCallbackNumber {
            number: p
                .required_text("CallbackNumber")
                .unwrap_or(Operand::literal("")),
        },
        "GetMetricData" => {
            let queue = p.text("QueueId");
            let agent = p.text("AgentId");
            if queue.is_some() && agent.is_some() {
                p.error("AgentId", "give QueueId or AgentId, not both");
            }
            ActionKind::GetMetricData {
                queue,
                agent,
                channel: p.text("QueueChannel"),
            }
        }
        "CompleteOutboundCall" => {
            // Caller ID and voice connector settings are the dialler's; the
            // shell has placed the call by the time a flow runs.
            for key in ["CallerId", "VoiceConnector", "ConnectionTimeLimitSeconds"] {
                let _ = p.get(key);
            }
            ActionKind::CompleteOutboundCall
        }
        other if crate::catalog::find(other).is_some() => {
            let spec = crate::catalog::find(other).expect("found above");
            // Its parameters are the feature's (not warned about as unused).
            ActionKind::Other {
                spec,
                parameters: p.map.clone(),
            }
        }
        other => {
            let path = p.path.trim_end_matches(".Parameters").to_string();
            p.problems.error(
                format!("{path}.Type"),
                Some(p.id),
                format!("action type '{other}' is not one of Connect's flow language"),
            );
            return Some(ActionKind::Unsupported);
        }
    })
}
