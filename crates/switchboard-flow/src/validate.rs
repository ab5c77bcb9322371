//! Checks a parsed flow as a whole: that its graph holds together, that each
//! action has the branches it needs, that it only uses actions its flow type
//! allows, and that it cannot spin forever without the customer.

use std::collections::HashSet;

use crate::model::*;
use crate::operand::{ROOTS, UNFILLED_ROOTS};
use crate::problem::Problems;

/// The error branches each action can take.
fn error_types(kind: &ActionKind) -> &'static [&'static str] {
    use ActionKind::*;
    match kind {
        GetParticipantInput { .. } => &[
            "InputTimeLimitExceeded",
            "NoMatchingCondition",
            "InvalidPhoneNumber",
            "NoMatchingError",
        ],
        MessageParticipantIteratively { .. } => &["MessagesInterrupted", "NoMatchingError"],
        Compare { .. } | CheckMetricData { .. } | DistributeByPercentage => {
            &["NoMatchingCondition", "NoMatchingError"]
        }
        TransferContactToQueue => &["QueueAtCapacity", "NoMatchingError"],
        TransferParticipantToThirdParty { .. } => &[
            "ConnectionTimeLimitExceeded",
            "CallFailed",
            "NoMatchingError",
        ],
        ConnectParticipantWithLexBot { .. } => &[
            "NoMatchingCondition",
            "InputTimeLimitExceeded",
            "NoMatchingError",
        ],
        DisconnectParticipant | EndFlowExecution | EndFlowModuleExecution => &[],
        UpdateContactCallbackNumber { .. } => &[
            "InvalidCallbackNumber",
            "CallbackNumberNotDialable",
            "NoMatchingError",
        ],
        Other { spec, .. } => spec.errors,
        _ => &["NoMatchingError"],
    }
}

/// Whether `error_type` is one the action can take. `NoMatchingError` is
/// accepted on a feature's action even where the reference lists none:
/// Connect's console adds it to most blocks.
fn has_error(kind: &ActionKind, error_type: &str) -> bool {
    error_types(kind).contains(&error_type)
        || (matches!(kind, ActionKind::Other { .. }) && error_type == "NoMatchingError")
}

/// Whether the flow type may use the action (Connect's rules, where a block
/// is only offered in some flow types).
pub fn allowed_in(kind: &ActionKind, ft: FlowType) -> bool {
    use ActionKind::*;
    use FlowType::*;
    let talks_to_customer = matches!(
        ft,
        ContactFlow | CustomerQueue | AgentTransfer | QueueTransfer | Module
    );
    let whisper_or_hold = matches!(
        ft,
        CustomerWhisper | AgentWhisper | OutboundWhisper | CustomerHold | AgentHold
    );
    match kind {
        EndFlowModuleExecution => ft == Module,
        InvokeFlowModule { .. } => ft != Module,
        MessageParticipantIteratively { .. } => whisper_or_hold || ft == CustomerQueue,
        GetParticipantInput { .. }
        | ConnectParticipantWithLexBot { .. }
        | Wait { .. }
        | UpdateContactTargetQueue { .. }
        | TransferContactToQueue
        | TransferParticipantToThirdParty { .. } => talks_to_customer,
        TransferToFlow { .. } => talks_to_customer && ft != Module,
        UpdateContactCallbackNumber { .. } => talks_to_customer,
        DisconnectParticipant => !whisper_or_hold,
        _ => true,
    }
}

/// Actions whose success path goes on to a next action, so need `NextAction`.
fn needs_next(kind: &ActionKind) -> bool {
    use ActionKind::*;
    match kind {
        GetParticipantInput { store_input, .. } => *store_input,
        MessageParticipant { .. }
        | UpdateContactTextToSpeechVoice { .. }
        | UpdateContactAttributes { .. }
        | UpdateContactTargetQueue { .. }
        | UpdateContactRecordingBehavior { .. }
        | UpdateContactMediaStreamingBehavior { .. }
        | UpdateContactEventHooks { .. }
        | UpdateContactRoutingBehavior { .. }
        | InvokeLambdaFunction { .. }
        | UpdateFlowAttributes { .. }
        | UpdateFlowLoggingBehavior { .. }
        | InvokeFlowModule { .. }
        | UpdateContactData { .. }
        | TagContact { .. }
        | UntagContact { .. }
        | UpdateContactCallbackNumber { .. }
        | GetMetricData { .. }
        | CompleteOutboundCall => true,
        TransferParticipantToThirdParty { continue_flow, .. } => *continue_flow,
        _ => false,
    }
}

/// The condition operands an action's transitions must (and may) use.
fn required_outcomes(
    kind: &ActionKind,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    use ActionKind::*;
    match kind {
        CheckHoursOfOperation { .. } => Some((&["True", "False"], &["True", "False"])),
        Loop { .. } => Some((
            &["ContinueLooping", "DoneLooping"],
            &["ContinueLooping", "DoneLooping"],
        )),
        Wait { .. } => Some((&["WaitCompleted"], &["WaitCompleted", "CustomerReturned"])),
        // Connect writes the interrupt as a condition; older flows as an error.
        MessageParticipantIteratively { .. } => Some((&[], &["MessagesInterrupted"])),
        Other {
            spec:
                crate::catalog::ActionSpec {
                    conditions: crate::catalog::Conditions::OneOf(results),
                    ..
                },
            ..
        } => Some((&[], results)),
        _ => None,
    }
}

fn takes_conditions(kind: &ActionKind) -> bool {
    use ActionKind::*;
    matches!(
        kind,
        GetParticipantInput {
            store_input: false,
            ..
        } | Compare { .. }
            | CheckHoursOfOperation { .. }
            | CheckMetricData { .. }
            | DistributeByPercentage
            | Loop { .. }
            | Wait { .. }
            | ConnectParticipantWithLexBot { .. }
            | MessageParticipantIteratively { .. }
    ) || matches!(
        kind,
        Other { spec, .. } if spec.conditions != crate::catalog::Conditions::None
    )
}

/// Actions that branch only by their conditions, so need at least one.
/// A menu (GetParticipantInput) or a bot without conditions is Connect's
/// "any answer": its NextAction and error branches carry it.
fn needs_a_condition(kind: &ActionKind) -> bool {
    use ActionKind::*;
    matches!(
        kind,
        Compare { .. } | CheckMetricData { .. } | DistributeByPercentage
    )
}

/// Every operand of an action, for reference checks.
fn operands(kind: &ActionKind) -> Vec<&crate::operand::Operand> {
    use ActionKind::*;
    fn msg(m: &Message) -> &crate::operand::Operand {
        match m {
            Message::Text(o) | Message::Ssml(o) | Message::Prompt(o) => o,
        }
    }
    let mut out = Vec::new();
    match kind {
        MessageParticipant { message } => out.push(msg(message)),
        GetParticipantInput { prompt, .. } => out.extend(prompt.as_ref().map(msg)),
        MessageParticipantIteratively { messages, .. } => out.extend(messages.iter().map(msg)),
        UpdateContactTextToSpeechVoice { voice, .. } => out.push(voice),
        UpdateContactAttributes { attributes } | UpdateFlowAttributes { attributes } => {
            out.extend(attributes.iter().map(|(_, v)| v))
        }
        Compare { value } => out.push(value),
        CheckHoursOfOperation { hours } => out.extend(hours.iter()),
        CheckMetricData { queue, .. } => out.extend(queue.iter()),
        Loop { count } => out.push(count),
        UpdateContactTargetQueue { queue, agent } => out.extend(queue.iter().chain(agent.iter())),
        TransferToFlow { flow } => out.push(flow),
        TransferParticipantToThirdParty {
            number,
            caller_id_number,
            caller_id_name,
            ..
        } => {
            out.push(number);
            out.extend(caller_id_number.iter().chain(caller_id_name.iter()));
        }
        UpdateContactEventHooks { hooks } => out.extend(hooks.iter().map(|(_, v)| v)),
        UpdateContactRoutingBehavior {
            priority,
            time_adjustment_seconds,
        } => out.extend(priority.iter().chain(time_adjustment_seconds.iter())),
        InvokeLambdaFunction {
            function,
            attributes,
            ..
        } => {
            out.push(function);
            out.extend(attributes.iter().map(|(_, v)| v));
        }
        ConnectParticipantWithLexBot {
            bot,
            prompt,
            session_attributes,
        } => {
            out.push(bot);
            out.extend(prompt.as_ref().map(msg));
            out.extend(session_attributes.iter().map(|(_, v)| v));
        }
        InvokeFlowModule { module } => out.push(module),
        UpdateContactData {
            name,
            description,
            language,
            customer_id,
            references,
        } => {
            out.extend(
                name.iter()
                    .chain(description)
                    .chain(language)
                    .chain(customer_id),
            );
            out.extend(references.iter().map(|(_, v)| v));
        }
        TagContact { tags } => out.extend(tags.iter().map(|(_, v)| v)),
        UpdateContactCallbackNumber { number } => out.push(number),
        Wait {
            timeout_reference: Some(r),
            ..
        } => out.push(r),
        GetMetricData {
            queue,
            agent,
            channel,
        } => out.extend(queue.iter().chain(agent).chain(channel)),
        _ => {}
    }
    out
}

/// Validates `flow` as a flow of type `ft`, adding to `problems`.
pub fn validate(flow: &Flow, ft: FlowType, problems: &mut Problems) {
    let path = |i: usize| format!("Actions[{i}]");
    let mut seen = HashSet::new();
    for a in &flow.actions {
        let i = a.index;
        if !seen.insert(a.id.as_str()) {
            problems.error(
                format!("{}.Identifier", path(i)),
                Some(&a.id),
                "another action has the same Identifier",
            );
        }
    }
    if flow.action(&flow.start).is_none() && !flow.start.is_empty() {
        problems.error(
            "StartAction",
            None,
            format!(
                "names '{}', which is not an action of this flow",
                flow.start
            ),
        );
    }

    for a in &flow.actions {
        let i = a.index;
        let id = Some(a.id.as_str());
        let t = &a.transitions;
        let tpath = format!("{}.Transitions", path(i));
        if a.kind == ActionKind::Unsupported {
            // Already reported by the parser; its transitions are still checked.
        } else if !allowed_in(&a.kind, ft) {
            problems.error(
                format!("{}.Type", path(i)),
                id,
                format!("{} is not allowed in a {ft} flow", a.type_name),
            );
        }
        for target in t.targets() {
            if flow.action(target).is_none() {
                problems.error(
                    &tpath,
                    id,
                    format!("leads to '{target}', which is not an action of this flow"),
                );
            }
        }
        if a.kind.is_terminal() {
            if t.targets().next().is_some() {
                problems.error(
                    &tpath,
                    id,
                    format!("{} ends the flow and takes no transitions", a.type_name),
                );
            }
            continue;
        }
        if needs_next(&a.kind) && t.next.is_none() {
            problems.error(
                format!("{tpath}.NextAction"),
                id,
                "missing: where the flow goes when this action succeeds",
            );
        }
        if let ActionKind::Other { spec, parameters } = &a.kind {
            for (name, allowed) in spec.values {
                let Some(given) = parameters.get(*name) else {
                    continue;
                };
                let word = match given {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => other.to_string(),
                };
                if !word.starts_with('$') && !allowed.iter().any(|a| a.eq_ignore_ascii_case(&word))
                {
                    problems.error(
                        format!("{}.Parameters.{name}", path(i)),
                        id,
                        format!("is '{word}'; it must be one of {}", allowed.join(", ")),
                    );
                }
            }
            for name in spec.required {
                if parameters.get(*name).is_none_or(serde_json::Value::is_null) {
                    problems.error(
                        format!("{}.Parameters.{name}", path(i)),
                        id,
                        format!("missing: {} needs {name}", a.type_name),
                    );
                }
            }
        }
        // One root cause, one error: an action of an unknown type was
        // reported once; its conditions and errors cannot be judged.
        if a.kind == ActionKind::Unsupported {
            continue;
        }
        let allowed_errors = error_types(&a.kind);
        for (j, e) in t.errors.iter().enumerate() {
            if !has_error(&a.kind, &e.error_type) {
                problems.error(
                    format!("{tpath}.Errors[{j}].ErrorType"),
                    id,
                    format!(
                        "{} has no error '{}'; its errors are {}",
                        a.type_name,
                        e.error_type,
                        allowed_errors.join(", ")
                    ),
                );
            }
            if t.errors[..j].iter().any(|o| o.error_type == e.error_type) {
                problems.error(
                    format!("{tpath}.Errors[{j}]"),
                    id,
                    format!("'{}' is listed twice", e.error_type),
                );
            }
        }
        check_conditions(a, &tpath, problems);
        for op in operands(&a.kind) {
            for p in op.paths() {
                if ROOTS.contains(&p.root()) {
                    continue;
                }
                if UNFILLED_ROOTS.contains(&p.root()) {
                    problems.warning(
                        format!("{}.Parameters", path(i)),
                        id,
                        format!(
                            "'{p}': Switchboard does not fill '$.{}' yet, so it reads as empty",
                            p.root()
                        ),
                    );
                } else {
                    problems.error(
                        format!("{}.Parameters", path(i)),
                        id,
                        format!(
                            "'{p}' refers to '$.{}', which is not a contact field",
                            p.root()
                        ),
                    );
                }
            }
        }
    }

    check_reachability(flow, problems);
    check_cycles(flow, ft, problems);
}

fn check_conditions(a: &Action, tpath: &str, problems: &mut Problems) {
    let id = Some(a.id.as_str());
    let t = &a.transitions;
    if !takes_conditions(&a.kind) {
        if !t.conditions.is_empty() {
            problems.error(
                format!("{tpath}.Conditions"),
                id,
                format!("{} takes no conditions", a.type_name),
            );
        }
        return;
    }
    if let Some((required, allowed)) = required_outcomes(&a.kind) {
        for r in required {
            if !t
                .conditions
                .iter()
                .any(|c| c.operator == Operator::Equals && c.operand == *r)
            {
                problems.error(
                    format!("{tpath}.Conditions"),
                    id,
                    format!("{} needs a condition Equals {r}", a.type_name),
                );
            }
        }
        for (j, c) in t.conditions.iter().enumerate() {
            if c.operator != Operator::Equals || !allowed.contains(&c.operand.as_str()) {
                problems.error(
                    format!("{tpath}.Conditions[{j}]"),
                    id,
                    format!("must be Equals one of {}", allowed.join(", ")),
                );
            }
        }
        return;
    }
    if t.conditions.is_empty() && needs_a_condition(&a.kind) {
        problems.error(
            format!("{tpath}.Conditions"),
            id,
            format!("{} needs at least one condition", a.type_name),
        );
    }
    match &a.kind {
        ActionKind::GetParticipantInput { .. } => {
            for (j, c) in t.conditions.iter().enumerate() {
                let keys = !c.operand.is_empty()
                    && c.operand
                        .chars()
                        .all(|ch| ch.is_ascii_digit() || ch == '*' || ch == '#');
                let one_key = keys && c.operand.len() == 1;
                // A caller presses one key; a chat customer types a word,
                // so a word is a chat's menu choice (and never a caller's).
                let word = !keys && !c.operand.trim().is_empty();
                if c.operator != Operator::Equals || !(one_key || word) {
                    problems.error(
                        format!("{tpath}.Conditions[{j}]"),
                        id,
                        "a menu condition is Equals one key (0-9, * or #) or, for chat, a word",
                    );
                } else if word {
                    problems.warning(
                        format!("{tpath}.Conditions[{j}]"),
                        id,
                        format!(
                            "'{}' can only match a chat customer's answer; a caller presses one key",
                            c.operand
                        ),
                    );
                }
            }
        }
        ActionKind::DistributeByPercentage => {
            let mut last = 0.0;
            for (j, c) in t.conditions.iter().enumerate() {
                let v = c.operand.parse::<f64>().unwrap_or(-1.0);
                if c.operator != Operator::NumberLessThan || v <= last || v > 101.0 {
                    problems.error(
                        format!("{tpath}.Conditions[{j}]"),
                        id,
                        "percentages are NumberLessThan with rising values up to 101",
                    );
                }
                last = v;
            }
        }
        _ => {}
    }
}

fn check_reachability(flow: &Flow, problems: &mut Problems) {
    let Some(_) = flow.action(&flow.start) else {
        return;
    };
    let mut reached = HashSet::new();
    let mut stack = vec![flow.start.as_str()];
    while let Some(id) = stack.pop() {
        if !reached.insert(id) {
            continue;
        }
        if let Some(a) = flow.action(id) {
            stack.extend(a.transitions.targets());
        }
    }
    // Connect keeps blocks left unconnected in saved flows; they never run.
    for a in &flow.actions {
        if !reached.contains(a.id.as_str()) {
            problems.warning(
                format!("Actions[{}]", a.index),
                Some(&a.id),
                "cannot be reached from StartAction, so it never runs",
            );
        }
    }
}

/// Strongly connected components (Tarjan), to find cycles.
fn components(flow: &Flow, edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Tarjan<'a> {
        edges: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        // Recursion depth is bounded by the 250-action limit checked before.
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            let targets = self.edges[v].clone();
            for w in targets {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    _ => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                self.out.push(comp);
            }
        }
    }
    let n = flow.actions.len();
    let mut t = Tarjan {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: vec![],
        next: 0,
        out: vec![],
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.out
}

fn check_cycles(flow: &Flow, ft: FlowType, problems: &mut Problems) {
    if flow.actions.len() > MAX_ACTIONS {
        return;
    }
    // The graph a runaway loop would travel: actions that wait for the
    // customer (or play while they wait) have no way on, and a Loop's
    // ContinueLooping branch is bounded by its counter. DoneLooping resets
    // the counter, so it stays. Any cycle left can spin for ever.
    let edges: Vec<Vec<usize>> = flow
        .actions
        .iter()
        .map(|a| {
            if a.kind.bounds_a_cycle(ft) && !matches!(a.kind, ActionKind::Loop { .. }) {
                return vec![];
            }
            let continue_looping = a
                .transitions
                .conditions
                .iter()
                .filter(|c| {
                    matches!(a.kind, ActionKind::Loop { .. }) && c.operand == "ContinueLooping"
                })
                .map(|c| c.next.as_str())
                .collect::<Vec<_>>();
            a.transitions
                .targets()
                .filter(|t| !continue_looping.contains(t))
                .filter_map(|t| flow.position(t))
                .collect()
        })
        .collect();
    for comp in components(flow, &edges) {
        let is_cycle = comp.len() > 1 || edges[comp[0]].contains(&comp[0]);
        if !is_cycle {
            continue;
        }
        let mut ids: Vec<&str> = comp.iter().map(|i| flow.actions[*i].id.as_str()).collect();
        ids.sort();
        let first = comp.iter().min().copied().unwrap_or(0);
        problems.error(
            format!("Actions[{}]", flow.actions[first].index),
            Some(&flow.actions[first].id),
            format!(
                "these actions loop with no customer input, wait or Loop counter, so the flow could run forever: {}",
                ids.join(", ")
            ),
        );
    }
}
