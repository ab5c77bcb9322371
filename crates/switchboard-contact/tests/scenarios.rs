//! A contact's life, scenario by scenario, driven against the real router
//! on a simulated clock (see `harness`): queues, offers missed, declined and
//! accepted, holds, transfers, flows, third parties, hang-ups at every
//! phase, and what a restart finds.

// Tests may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod harness;

use harness::*;
use serde_json::json;
use switchboard_contact::{Input, Phase};
use switchboard_flow::{Event, FlowType};
use switchboard_model::contact_record::{
    Channel, ContactState, DisconnectReason, InitiationMethod,
};
use switchboard_routing::ContactStage;

use DisconnectReason as Why;

/// A caller queued in Sales with `agent` Available: offered, not yet accepted.
fn offered(w: &mut World, id: &str, agent: &str) -> usize {
    w.status(agent, true);
    let i = w.arrive(id, Channel::Voice, queue_flow("Sales"));
    assert!(w.said(i, &format!("offer {agent}")), "{:?}", w.c(i).log);
    i
}

/// A caller connected to `agent` after waiting `waited` seconds.
fn connected(w: &mut World, id: &str, agent: &str, waited: i64) -> usize {
    let i = w.arrive(id, Channel::Voice, queue_flow("Sales"));
    w.advance(waited);
    w.status(agent, true);
    w.accept(i, agent);
    assert_eq!(w.phase(i), Phase::WithAgent);
    i
}

// ---------- queues and agents ----------

#[test]
fn a_caller_queues_and_waits_until_an_agent_is_available() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    assert_eq!(w.phase(i), Phase::Queued);
    assert!(w.said(i, "queued"));
    assert_eq!(w.record(i).state, ContactState::Queued);
    assert_eq!(w.record(i).queue.as_ref().unwrap().name, "Sales");
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::Waiting));
    assert_eq!(w.path(i), ["hello", "q", "xfer"]);
}

#[test]
fn an_agent_answers_and_the_record_counts_the_wait() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 30);
    let r = w.record(i);
    assert_eq!(r.state, ContactState::Connected);
    let q = r.queue.as_ref().unwrap();
    assert_eq!(q.duration_seconds, Some(30.0));
    let a = r.agent.as_ref().unwrap();
    assert_eq!((a.id.as_str(), a.number_of_offers), ("ann", 1));
    assert_eq!(a.connected_to_agent_timestamp, w.now);
    assert!(w.said(i, "connected ann"));
}

#[test]
fn the_agent_hangs_up_and_goes_to_after_contact_work_with_talk_time() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 5);
    w.advance(120);
    w.tell(i, Input::AgentLeft);
    assert_eq!(w.phase(i), Phase::Ended);
    assert!(w.said(i, "agent done ann"));
    assert!(w.said(i, "route ended"));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::AfterContactWork));
    assert!(w
        .agent_states
        .last()
        .unwrap()
        .starts_with("ann:AfterContactWork"));
    let r = w.record(i);
    assert_eq!(r.state, ContactState::Ended);
    assert_eq!(reason(r), Some(Why::AgentDisconnect));
    assert_eq!(r.agent.as_ref().unwrap().talk_duration_seconds, 120.0);
    assert_eq!(w.c(i).closed.len(), 1);
    w.close_acw("c1", "ann");
    assert!(!w.routing_holds("c1"));
}

#[test]
fn an_offer_that_comes_before_the_flow_has_queued_is_kept_until_it_has() {
    let mut w = World::new();
    // Ann is free: routing offers at the enqueue, before its answer.
    let i = offered(&mut w, "c1", "ann");
    let log = &w.c(i).log;
    let queued = log.iter().position(|l| l == "queued").unwrap();
    let offer = log.iter().position(|l| l == "offer ann").unwrap();
    assert!(queued < offer, "{log:?}");
    w.accept(i, "ann");
    assert_eq!(w.phase(i), Phase::WithAgent);
}

#[test]
fn a_missed_offer_is_withdrawn_and_the_contact_waits_for_the_next_agent() {
    let mut w = World::new();
    let i = offered(&mut w, "c1", "ann");
    w.advance(OFFER_TIMEOUT_S + 1);
    assert!(w.said(i, "withdraw ann"));
    assert!(w.agent_states.iter().any(|s| s.starts_with("ann:Missed")));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::Waiting));
    assert_eq!(w.phase(i), Phase::Queued);
    w.status("bob", true);
    assert!(w.said(i, "offer bob"));
    w.accept(i, "bob");
    assert_eq!(w.record(i).agent.as_ref().unwrap().id, "bob");
}

#[test]
fn an_agent_who_declines_is_rejected_and_another_agent_is_offered() {
    let mut w = World::new();
    w.status("bob", true);
    let i = offered(&mut w, "c1", "ann");
    w.tell(
        i,
        Input::Declined {
            agent: "ann".into(),
        },
    );
    assert!(w.said(i, "route reject ann"));
    assert!(w.agent_states.iter().any(|s| s.starts_with("ann:Rejected")));
    assert!(w.said(i, "offer bob"), "{:?}", w.c(i).log);
}

#[test]
fn an_agent_who_cannot_be_reached_is_put_in_error() {
    let mut w = World::new();
    let i = offered(&mut w, "c1", "ann");
    w.tell(
        i,
        Input::Unreachable {
            agent: "ann".into(),
        },
    );
    assert!(w.said(i, "route error ann"));
    assert!(w.agent_states.iter().any(|s| s.starts_with("ann:Error")));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::Waiting));
    assert_eq!(w.c(i).contact.offered(), None);
}

#[test]
fn an_accept_for_an_agent_not_offered_is_not_passed_on() {
    let mut w = World::new();
    let i = offered(&mut w, "c1", "ann");
    w.tell(
        i,
        Input::Accept {
            agent: "bob".into(),
        },
    );
    assert!(!w.said(i, "route accept bob"));
    assert_eq!(w.phase(i), Phase::Queued);
}

#[test]
fn an_agent_phone_that_answers_is_an_accept() {
    let mut w = World::new();
    w.auto_accept.push("ann".into());
    let i = offered(&mut w, "c1", "ann");
    assert!(w.said(i, "route accept ann"));
    assert_eq!(w.phase(i), Phase::WithAgent);
}

#[test]
fn a_connection_for_another_contact_id_is_ignored() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.tell(
        i,
        Input::Connected {
            contact: "other".into(),
            agent: info("ann"),
        },
    );
    assert_eq!(w.phase(i), Phase::Queued);
}

// ---------- holds ----------

#[test]
fn holds_are_counted_and_taken_out_of_talk_time() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.advance(10);
    w.tell(i, Input::Hold(true));
    w.advance(30);
    w.tell(i, Input::Hold(false));
    w.advance(10);
    w.tell(i, Input::Hold(true));
    w.advance(5);
    w.tell(i, Input::Hold(false));
    w.advance(5);
    w.tell(i, Input::CustomerLeft);
    let a = w.record(i).agent.clone().unwrap();
    assert_eq!(a.hold_count, 2);
    assert_eq!(a.hold_duration_seconds, 35.0);
    assert_eq!(a.talk_duration_seconds, 25.0);
    assert!(w.said(i, "held true") && w.said(i, "held false"));
}

#[test]
fn a_hold_still_running_at_the_end_is_counted() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.tell(i, Input::Hold(true));
    w.advance(40);
    w.tell(i, Input::CustomerLeft);
    let a = w.record(i).agent.clone().unwrap();
    assert_eq!((a.hold_count, a.hold_duration_seconds), (1, 40.0));
    assert_eq!(a.talk_duration_seconds, 0.0);
}

#[test]
fn a_hold_twice_or_without_an_agent_changes_nothing() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.tell(i, Input::Hold(true));
    assert!(!w.said(i, "held true"));
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.tell(i, Input::Hold(true));
    w.tell(i, Input::Hold(true));
    w.tell(i, Input::Hold(false));
    w.tell(i, Input::Hold(false));
    assert_eq!(
        w.c(i).log.iter().filter(|l| l.starts_with("held")).count(),
        2
    );
    assert_eq!(
        w.c(i).contact.record().agent.as_ref().unwrap().hold_count,
        1
    );
}

// ---------- hang-ups at every phase ----------

#[test]
fn the_caller_hangs_up_in_the_flow_before_queuing() {
    let mut w = World::new();
    let flow = build(json!([
        {"Identifier": "menu", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Press 1", "InputTimeLimitSeconds": "5"},
         "Transitions": {"NextAction": "bye", "Conditions": [
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["1"]}}],
            "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "bye"},
                       {"ErrorType": "NoMatchingCondition", "NextAction": "bye"},
                       {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        end("bye")
    ]));
    let i = w.arrive("c1", Channel::Voice, flow);
    w.tell(i, Input::CustomerLeft);
    let r = w.record(i);
    assert_eq!(r.state, ContactState::Ended);
    assert_eq!(reason(r), Some(Why::CustomerDisconnect));
    assert!(r.queue.is_none());
    assert!(!w.said(i, "route abandon"));
}

#[test]
fn the_caller_hangs_up_while_waiting_and_routing_lets_go() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.advance(45);
    w.tell(i, Input::CustomerLeft);
    assert!(w.said(i, "route abandon"));
    assert!(!w.routing_holds("c1"));
    let r = w.record(i);
    assert_eq!(r.queue.as_ref().unwrap().duration_seconds, Some(45.0));
    assert_eq!(r.disconnect_timestamp, Some(w.now));
    assert!(r.agent.is_none());
}

#[test]
fn the_caller_hangs_up_while_an_agent_is_offered_the_call() {
    let mut w = World::new();
    let i = offered(&mut w, "c1", "ann");
    w.tell(i, Input::CustomerLeft);
    assert!(w.said(i, "withdraw ann"));
    assert!(w.said(i, "route abandon"));
    assert!(!w.routing_holds("c1"));
    assert_eq!(w.agent_states.last().unwrap(), "ann:Available");
}

#[test]
fn the_caller_hangs_up_while_the_enqueue_is_on_its_way() {
    // Driven by hand: the customer leaves between the Enqueue and its answer.
    let w2 = World::new();
    let flow = queue_flow("Sales");
    let mut contact = switchboard_contact::Contact::new(
        switchboard_contact::ContactInit {
            id: "c2".into(),
            channel: Channel::Voice,
            initiation_method: InitiationMethod::Inbound,
            customer_endpoint: Default::default(),
            customer_name: None,
            system_endpoint: Default::default(),
            data: switchboard_flow::ContactData::voice("c2", "+1", "+2"),
            flow: Some(flow),
            flow_id: None,
            outbound: None,
            seed: 1,
            initial_message: None,
        },
        w2.now,
    );
    // Answer the prompt and the queue lookup, find the enqueue.
    let mut enqueue = None;
    for _ in 0..10 {
        while let Some(out) = contact.poll_output() {
            match out {
                switchboard_contact::Output::Flow {
                    request, effect, ..
                } => {
                    let event = match effect {
                        switchboard_flow::Effect::Play { .. } => Event::PromptFinished,
                        _ => Event::QueueFound(switchboard_flow::QueueRef {
                            id: "q-Sales".into(),
                            name: "Sales".into(),
                        }),
                    };
                    contact.handle(w2.now, Input::FlowAnswer { request, event });
                }
                switchboard_contact::Output::Enqueue { request, .. } => enqueue = Some(request),
                _ => {}
            }
        }
    }
    let request = enqueue.unwrap();
    contact.handle(w2.now, Input::CustomerLeft);
    let outs: Vec<_> = std::iter::from_fn(|| contact.poll_output())
        .map(|o| describe(&o))
        .collect();
    assert!(outs.contains(&"route abandon".to_string()), "{outs:?}");
    // The enqueue lands after the end: routing is told again to let go.
    contact.handle(
        w2.now,
        Input::FlowAnswer {
            request,
            event: Event::Enqueued,
        },
    );
    let outs: Vec<_> = std::iter::from_fn(|| contact.poll_output())
        .map(|o| describe(&o))
        .collect();
    assert_eq!(outs, ["route abandon"]);
    // An answer that came already is not answered twice.
    contact.handle(
        w2.now,
        Input::FlowAnswer {
            request,
            event: Event::Enqueued,
        },
    );
    assert!(contact.poll_output().is_none());
}

#[test]
fn the_agent_accepts_just_as_the_caller_hangs_up() {
    let mut w = World::new();
    let i = offered(&mut w, "c1", "ann");
    // The customer leaves; routing connected ann before it heard.
    w.tell(i, Input::CustomerLeft);
    w.tell(
        i,
        Input::Connected {
            contact: "c1".into(),
            agent: info("ann"),
        },
    );
    assert!(w.said(i, "connected after end ann"));
    assert_eq!(
        w.c(i).log.iter().filter(|l| *l == "route abandon").count(),
        2
    );
    assert_eq!(reason(w.record(i)), Some(Why::CustomerDisconnect));
}

#[test]
fn an_offer_after_the_end_is_taken_back_at_once() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.tell(i, Input::CustomerLeft);
    let before = w.c(i).log.len();
    w.tell(
        i,
        Input::Routing(switchboard_contact::Decision::Offer {
            contact: "c1".into(),
            agent: "ann".into(),
        }),
    );
    assert_eq!(w.c(i).log[before..], ["route abandon"]);
}

#[test]
fn the_caller_hangs_up_while_connected() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.advance(60);
    w.tell(i, Input::CustomerLeft);
    assert!(w.said(i, "agent done ann"));
    assert!(!w.said(i, "route abandon"));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::AfterContactWork));
    assert_eq!(reason(w.record(i)), Some(Why::CustomerDisconnect));
    assert_eq!(
        w.record(i).agent.as_ref().unwrap().talk_duration_seconds,
        60.0
    );
}

#[test]
fn the_first_disconnect_reason_wins() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.tell(i, Input::AgentLeft);
    w.tell(i, Input::CustomerLeft);
    w.tell(i, Input::Lost(Why::TelecomProblem));
    assert_eq!(reason(w.record(i)), Some(Why::AgentDisconnect));
    assert_eq!(w.c(i).closed.len(), 1);
    assert_eq!(
        w.c(i).log.iter().filter(|l| l.starts_with("ended")).count(),
        1
    );
}

#[test]
fn media_lost_in_the_queue_ends_the_call_as_a_telecom_problem() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.tell(i, Input::Lost(Why::TelecomProblem));
    assert_eq!(reason(w.record(i)), Some(Why::TelecomProblem));
    assert!(!w.routing_holds("c1"));
}

#[test]
fn every_phase_ends_with_a_whole_record_and_nothing_left_in_routing() {
    // Hang up at each step of a contact's life: the last record is ended,
    // with its time, and routing holds nothing but an agent's wrap-up.
    for step in 0..6 {
        let mut w = World::new();
        let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
        let mut ended_with_agent = false;
        if step >= 1 {
            w.advance(10);
        }
        if step >= 2 {
            w.status("ann", true);
        }
        if step >= 3 {
            w.accept(i, "ann");
            ended_with_agent = true;
        }
        if step >= 4 {
            w.tell(i, Input::Hold(true));
        }
        if step >= 5 {
            w.advance(10);
        }
        w.tell(i, Input::CustomerLeft);
        let r = w.record(i);
        assert_eq!(r.state, ContactState::Ended, "step {step}");
        assert_eq!(r.disconnect_timestamp, Some(w.now), "step {step}");
        assert_eq!(w.c(i).closed.len(), 1, "step {step}");
        assert!(
            r.queue.as_ref().unwrap().dequeue_timestamp.is_some(),
            "step {step}"
        );
        match ended_with_agent {
            true => assert_eq!(
                w.routing_stage("c1"),
                Some(ContactStage::AfterContactWork),
                "step {step}"
            ),
            false => assert!(!w.routing_holds("c1"), "step {step}"),
        }
    }
}

// ---------- transfers ----------

#[test]
fn a_transfer_to_a_queue_ends_this_contact_and_starts_the_next_linked_both_ways() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.advance(30);
    w.transfer_to_queue(i, "c2", "Support", Why::Transferred);
    let first = &w.c(i).closed[0];
    assert_eq!(first.id, "c1");
    assert_eq!(first.next_contact_id.as_deref(), Some("c2"));
    assert_eq!(first.disconnect_reason, Some(Why::Transferred));
    assert_eq!(first.agent.as_ref().unwrap().talk_duration_seconds, 30.0);
    let next = w.record(i);
    assert_eq!(next.id, "c2");
    assert_eq!(next.previous_contact_id.as_deref(), Some("c1"));
    assert_eq!(next.initiation_method, InitiationMethod::Transfer);
    assert_eq!(next.state, ContactState::Queued);
    assert_eq!(next.queue.as_ref().unwrap().name, "Support");
    assert_eq!(w.c(i).contact.id(), "c2");
    assert_eq!(w.c(i).contact.data().initiation_method, "TRANSFER");
    assert!(w.said(i, "agent done ann transferred"));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::AfterContactWork));
}

#[test]
fn a_transferred_caller_is_answered_by_another_agent() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    // The driver has enqueued the next contact; routing's decisions about
    // it reach this contact.
    w.transfer_to_queue(i, "c2", "Support", Why::AgentDisconnect);
    // Routing offers the next contact to the next free agent.
    w.status("bob", true);
    assert!(w.said(i, "offer bob"), "{:?}", w.c(i).log);
    // Offers for the old id are no longer this contact's.
    w.tell(
        i,
        Input::Routing(switchboard_contact::Decision::Offer {
            contact: "c1".into(),
            agent: "cat".into(),
        }),
    );
    assert!(!w.said(i, "offer cat"));
    w.accept(i, "bob");
    assert_eq!(w.phase(i), Phase::WithAgent);
    w.tell(i, Input::CustomerLeft);
    assert_eq!(w.c(i).closed.len(), 2);
    assert_eq!(w.routing_stage("c2"), Some(ContactStage::AfterContactWork));
    assert_eq!(w.c(i).closed[1].agent.as_ref().unwrap().id, "bob");
}

#[test]
fn a_caller_who_hangs_up_after_a_transfer_is_abandoned_under_the_new_id() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.transfer_to_queue(i, "c2", "Support", Why::AgentDisconnect);
    w.advance(20);
    let abandons_before = w.c(i).log.iter().filter(|l| *l == "route abandon").count();
    w.tell(i, Input::CustomerLeft);
    assert_eq!(
        w.c(i).log.iter().filter(|l| *l == "route abandon").count(),
        abandons_before + 1
    );
    let last = w.c(i).closed.last().unwrap();
    assert_eq!(last.id, "c2");
    assert_eq!(last.queue.as_ref().unwrap().duration_seconds, Some(20.0));
    assert_eq!(last.disconnect_reason, Some(Why::CustomerDisconnect));
    assert!(!w.routing_holds("c2"));
}

#[test]
fn a_transfer_when_no_agent_is_connected_is_refused() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    w.tell(
        i,
        Input::TransferredToQueue {
            next: "c2".into(),
            queue: ("q-Support".into(), "Support".into()),
            reason: Why::AgentDisconnect,
        },
    );
    assert_eq!(w.c(i).contact.id(), "c1");
    assert!(w.c(i).closed.is_empty());
}

#[test]
fn a_transfer_runs_the_customer_queue_flow_the_first_flow_set() {
    let mut w = World::new();
    w.flows.insert(
        "Hold flow".into(),
        build_typed(
            FlowType::CustomerQueue,
            json!([
                {"Identifier": "music", "Type": "MessageParticipantIteratively",
                 "Parameters": {"Messages": [{"Text": "Please hold"}], "InterruptFrequencySeconds": "60"},
                 "Transitions": {"NextAction": "music", "Errors": [{"ErrorType": "MessagesInterrupted", "NextAction": "music"},
                                                                   {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
                end("bye")
            ]),
        ),
    );
    let mut actions = vec![
        json!({"Identifier": "hook", "Type": "UpdateContactEventHooks",
        "Parameters": {"EventHooks": {"CustomerQueue": "Hold flow"}},
        "Transitions": {"NextAction": "q", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}}),
    ];
    actions.extend(to_queue("q", "Sales"));
    let i = w.arrive(
        "c1",
        Channel::Voice,
        build(serde_json::Value::Array(actions)),
    );
    assert!(w.said(i, "queued with flow"));
    assert!(w.c(i).contact.flow_running());
    w.status("ann", true);
    w.accept(i, "ann");
    assert!(
        !w.c(i).contact.flow_running(),
        "the queue flow stops for the agent"
    );
    w.transfer_to_queue(i, "c2", "Support", Why::AgentDisconnect);
    assert!(w.c(i).contact.flow_running(), "{:?}", w.c(i).log);
}

// ---------- the flow ----------

#[test]
fn a_full_queue_takes_the_flows_capacity_branch() {
    let mut w = World::new();
    let a = w.arrive("c1", Channel::Voice, queue_flow("Small"));
    assert_eq!(w.phase(a), Phase::Queued);
    let b = w.arrive("c2", Channel::Voice, queue_flow("Small"));
    assert_eq!(w.path(b), ["hello", "q", "xfer", "full", "bye"]);
    assert_eq!(reason(w.record(b)), Some(Why::ContactFlowDisconnect));
    assert!(!w.routing_holds("c2"));
}

#[test]
fn a_flow_that_fails_with_no_branch_ends_the_contact() {
    let mut w = World::new();
    let flow = build(json!([
        {"Identifier": "fn", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:x:1:function:f", "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        end("bye")
    ]));
    let i = w.arrive("c1", Channel::Voice, flow);
    assert_eq!(reason(w.record(i)), Some(Why::ContactFlowDisconnect));
    assert_eq!(w.record(i).state, ContactState::Ended);
}

#[test]
fn an_answer_to_an_older_request_is_not_taken_for_the_current_one() {
    let mut w = World::new();
    let flow = build(json!([
        {"Identifier": "menu", "Type": "GetParticipantInput",
         "Parameters": {"Text": "Press 1", "InputTimeLimitSeconds": "5"},
         "Transitions": {"NextAction": "bye", "Conditions": [
            {"NextAction": "one", "Condition": {"Operator": "Equals", "Operands": ["1"]}}],
            "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "bye"},
                       {"ErrorType": "NoMatchingCondition", "NextAction": "bye"},
                       {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        say("one", "One", "bye"), end("bye")
    ]));
    let i = w.arrive("c1", Channel::Voice, flow);
    let current = w.c(i).input_request.unwrap();
    w.tell(
        i,
        Input::FlowAnswer {
            request: current - 1,
            event: Event::Input("1".into()),
        },
    );
    assert_eq!(w.phase(i), Phase::InFlow);
    assert!(w.c(i).contact.awaits(current));
    w.keys(i, "1");
    assert_eq!(w.path(i), ["menu", "one", "bye"]);
    assert_eq!(w.record(i).dtmf_inputs, ["1"]);
}

#[test]
fn a_wait_goes_on_at_its_time() {
    let mut w = World::new();
    let flow = build(json!([
        {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "30"},
         "Transitions": {"Conditions": [
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
            "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        end("bye")
    ]));
    let i = w.arrive("c1", Channel::Chat, flow);
    assert_eq!(
        w.c(i).contact.poll_timeout(),
        Some(w.now + chrono::Duration::seconds(30))
    );
    w.advance(29);
    assert_eq!(w.phase(i), Phase::InFlow);
    w.advance(1);
    assert_eq!(w.phase(i), Phase::Ended);
}

#[test]
fn a_chat_wait_that_listens_ends_when_the_customer_writes() {
    let mut w = World::new();
    let flow = build(json!([
        {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "300", "Events": ["CustomerReturned"]},
         "Transitions": {"Conditions": [
            {"NextAction": "back", "Condition": {"Operator": "Equals", "Operands": ["CustomerReturned"]}},
            {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
            "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        say("back", "Welcome back", "bye"), end("bye")
    ]));
    let i = w.arrive("c1", Channel::Chat, flow);
    w.advance(10);
    w.tell(i, Input::CustomerSaid("hello?".into()));
    assert_eq!(w.path(i), ["wait", "back", "bye"]);
}

#[test]
fn a_chat_question_is_answered_by_the_next_message_or_times_out() {
    let question = || {
        build(json!([
            {"Identifier": "ask", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Order number?", "StoreInput": "True", "InputTimeLimitSeconds": "60"},
             "Transitions": {"NextAction": "thanks",
                "Errors": [{"ErrorType": "InputTimeLimitExceeded", "NextAction": "late"},
                           {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            say("thanks", "Thanks", "bye"), say("late", "Too late", "bye"), end("bye")
        ]))
    };
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Chat, question());
    w.tell(i, Input::CustomerSaid("A-1234".into()));
    assert_eq!(
        w.c(i).contact.data().stored_input.as_deref(),
        Some("A-1234")
    );
    assert!(
        w.record(i).dtmf_inputs.is_empty(),
        "a chat's words are not keys"
    );

    let mut w = World::new();
    let i = w.arrive("c1", Channel::Chat, question());
    w.advance(60);
    assert_eq!(w.path(i), ["ask", "late", "bye"]);
}

#[test]
fn a_loop_is_interrupted_at_its_time_and_the_media_stops() {
    let mut w = World::new();
    let flow = build_typed(
        FlowType::CustomerQueue,
        json!([
            {"Identifier": "music", "Type": "MessageParticipantIteratively",
             "Parameters": {"Messages": [{"Text": "Please hold"}], "InterruptFrequencySeconds": "60"},
             "Transitions": {"NextAction": "pos", "Errors": [{"ErrorType": "MessagesInterrupted", "NextAction": "pos"},
                                                             {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            say("pos", "You are next", "music"), end("bye")
        ]),
    );
    let i = w.arrive("c1", Channel::Voice, flow);
    w.advance(150);
    assert_eq!(w.c(i).log.iter().filter(|l| *l == "stop media").count(), 2);
    assert_eq!(w.c(i).log.iter().filter(|l| *l == "flow loop").count(), 3);
}

#[test]
fn a_customer_queue_flow_that_cannot_be_loaded_falls_back_to_music() {
    let mut w = World::new();
    let mut actions = vec![
        json!({"Identifier": "hook", "Type": "UpdateContactEventHooks",
        "Parameters": {"EventHooks": {"CustomerQueue": "Missing flow"}},
        "Transitions": {"NextAction": "q", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}}),
    ];
    actions.extend(to_queue("q", "Sales"));
    let i = w.arrive(
        "c1",
        Channel::Voice,
        build(serde_json::Value::Array(actions)),
    );
    assert!(w.said(i, "flow failed"));
    assert!(w.said(i, "queue flow ended"));
    assert_eq!(w.phase(i), Phase::Queued);
}

#[test]
fn a_transfer_to_a_flow_loads_and_runs_it_and_a_missing_one_ends_the_call() {
    let transfer = || {
        build(json!([
            {"Identifier": "go", "Type": "TransferToFlow", "Parameters": {"ContactFlowId": "Second"},
             "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            end("bye")
        ]))
    };
    let mut w = World::new();
    w.flows.insert("Second".into(), queue_flow("Support"));
    let i = w.arrive("c1", Channel::Voice, transfer());
    assert!(w.said(i, "load Second"));
    assert_eq!(w.phase(i), Phase::Queued);
    assert_eq!(w.record(i).queue.as_ref().unwrap().name, "Support");

    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, transfer());
    assert_eq!(w.phase(i), Phase::Ended);
}

// ---------- third parties ----------

fn dial_flow(continue_flow: bool) -> std::sync::Arc<switchboard_flow::Flow> {
    build(json!([
        {"Identifier": "call", "Type": "TransferParticipantToThirdParty",
         "Parameters": {"ThirdPartyPhoneNumber": "+442079460555", "ThirdPartyConnectionTimeLimitSeconds": "20",
                        "ContinueFlowExecution": if continue_flow { "True" } else { "False" }},
         "Transitions": {"NextAction": "after", "Errors": [
            {"ErrorType": "ConnectionTimeLimitExceeded", "NextAction": "noanswer"}, {"ErrorType": "CallFailed", "NextAction": "failed"},
            {"ErrorType": "NoMatchingError", "NextAction": "failed"}]}},
        say("after", "Anything else?", "bye"), say("noanswer", "No answer", "bye"), say("failed", "Failed", "bye"), end("bye")
    ]))
}

#[test]
fn a_flow_transfer_to_a_number_connects_and_the_flow_goes_on_after() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, dial_flow(true));
    assert_eq!(w.c(i).dialling.as_ref().unwrap().1, "+442079460555");
    w.advance(3);
    w.tell(
        i,
        Input::ThirdPartyJoined {
            number: "+442079460555".into(),
        },
    );
    assert_eq!(w.phase(i), Phase::WithThirdParty);
    assert_eq!(w.record(i).transfer_completed_timestamp, Some(w.now));
    w.advance(60);
    w.tell(i, Input::ThirdPartyLeft);
    let r = w.record(i);
    assert_eq!(
        r.third_party_disconnect_timestamp
            .map(|t| (t - r.transfer_completed_timestamp.unwrap()).num_seconds()),
        Some(60)
    );
    assert_eq!(w.path(i), ["call", "after", "bye"]);
    assert_eq!(reason(r), Some(Why::ContactFlowDisconnect));
}

#[test]
fn a_transfer_to_a_number_without_going_on_ends_as_a_third_party_disconnect() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, dial_flow(false));
    w.tell(
        i,
        Input::ThirdPartyJoined {
            number: "+442079460555".into(),
        },
    );
    w.tell(i, Input::ThirdPartyLeft);
    assert_eq!(reason(w.record(i)), Some(Why::ThirdPartyDisconnect));
    assert_eq!(w.record(i).state, ContactState::Ended);
}

#[test]
fn a_number_that_does_not_answer_takes_the_flows_branch() {
    for (no_answer, branch) in [(true, "noanswer"), (false, "failed")] {
        let mut w = World::new();
        let i = w.arrive("c1", Channel::Voice, dial_flow(true));
        w.tell(i, Input::ThirdPartyFailed { no_answer });
        assert_eq!(w.path(i), ["call", branch, "bye"]);
    }
}

#[test]
fn the_caller_hangs_up_while_the_number_rings() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Voice, dial_flow(true));
    w.tell(i, Input::CustomerLeft);
    assert!(w.said(i, "drop third party"));
    assert_eq!(reason(w.record(i)), Some(Why::CustomerDisconnect));
}

#[test]
fn a_chat_cannot_be_transferred_to_a_number() {
    let mut w = World::new();
    let i = w.arrive("c1", Channel::Chat, dial_flow(true));
    assert_eq!(w.path(i), ["call", "failed", "bye"]);
    assert!(w.c(i).dialling.is_none());
}

#[test]
fn an_agent_cold_transfer_leaves_the_caller_with_the_number() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.advance(20);
    w.tell(i, Input::ColdTransfer);
    assert!(w.said(i, "agent done ann transferred"));
    assert_eq!(w.routing_stage("c1"), Some(ContactStage::AfterContactWork));
    assert_eq!(
        w.record(i).agent.as_ref().unwrap().talk_duration_seconds,
        20.0
    );
    w.tell(
        i,
        Input::ThirdPartyJoined {
            number: "+442079460555".into(),
        },
    );
    w.tell(i, Input::ThirdPartyLeft);
    assert_eq!(reason(w.record(i)), Some(Why::ThirdPartyDisconnect));
    assert!(
        !w.said(i, "route abandon"),
        "routing's part ended with the agent"
    );
}

#[test]
fn an_agent_cold_transfer_that_fails_ends_the_call() {
    let mut w = World::new();
    let i = connected(&mut w, "c1", "ann", 0);
    w.tell(i, Input::ColdTransfer);
    w.tell(i, Input::ThirdPartyFailed { no_answer: true });
    assert_eq!(reason(w.record(i)), Some(Why::ThirdPartyDisconnect));
}

// ---------- outbound, restarts ----------

#[test]
fn an_outbound_call_is_with_its_agent_from_the_start() {
    let mut w = World::new();
    let i = w.call_out("o1", "ann", "Sales");
    assert_eq!(w.phase(i), Phase::WithAgent);
    let r = w.record(i);
    assert_eq!(r.initiation_method, InitiationMethod::Outbound);
    assert_eq!(r.queue.as_ref().unwrap().duration_seconds, Some(0.0));
    w.advance(90);
    w.tell(i, Input::AgentLeft);
    assert_eq!(
        w.record(i).agent.as_ref().unwrap().talk_duration_seconds,
        90.0
    );
    assert_eq!(reason(w.record(i)), Some(Why::AgentDisconnect));
}

#[test]
fn a_contact_lost_in_a_restart_is_closed_from_its_last_record() {
    // The process dies at each phase; the next start closes what the
    // database holds (the last record written) as the recovery does.
    let mut w = World::new();
    let with_agent = connected(&mut w, "c2", "ann", 10);
    let queued = w.arrive("c1", Channel::Voice, queue_flow("Sales"));
    let in_flow = w.arrive(
        "c3",
        Channel::Voice,
        build(json!([
            {"Identifier": "wait", "Type": "Wait", "Parameters": {"TimeoutSeconds": "300"},
             "Transitions": {"Conditions": [
                {"NextAction": "bye", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}],
                "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            end("bye")
        ])),
    );
    let crashed = w.now;
    w.advance(50);
    let restart = w.now;
    for i in [queued, with_agent, in_flow] {
        let mut lost = w.record(i).clone();
        assert!(lost.is_open());
        assert!(lost.close_lost(restart));
        assert_eq!(lost.state, ContactState::Ended);
        assert_eq!(lost.disconnect_reason, Some(Why::SystemError));
        if let Some(q) = &lost.queue {
            assert!(q.dequeue_timestamp.is_some());
        }
    }
    let mut lost = w.record(with_agent).clone();
    lost.close_lost(restart);
    assert_eq!(
        lost.agent.unwrap().talk_duration_seconds,
        (restart - crashed).num_seconds() as f64
    );
}
