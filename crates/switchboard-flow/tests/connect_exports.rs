//! Real Amazon Connect exports (from a public sample repository, not written
//! by us) import, validate and simulate.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use switchboard_flow::simulate::{simulate, Script};
use switchboard_flow::{check, ContactData, FlowType, Outcome, Severity};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/connect-exports/flows")
}

fn load(name: &str) -> Arc<switchboard_flow::Flow> {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    let (flow, problems) = check(&text, FlowType::ContactFlow);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    Arc::new(flow.unwrap())
}

#[test]
fn every_export_parses_and_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures()).expect("../shared/fixtures beside the repository") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let flow = load(&name);
        assert!(flow.name.is_some(), "{name}: the wrapper's Name is kept");
        n += 1;
    }
    assert_eq!(n, 9);
}

#[test]
fn the_main_flow_runs_to_the_queue_through_its_module() {
    let main = load("acme_main_AUTO.json");
    let module = load("acme_contact_flow_module_AUTO.json");
    assert_eq!(main.flow_type, Some(FlowType::ContactFlow));
    assert_eq!(module.flow_type, Some(FlowType::Module));
    let mut script = Script::default();
    script.intents.push_back("Finance".into());
    script
        .modules
        .insert("acme_contact_flow_module_AUTO".into(), module);
    script.functions.insert(
        "acme-exampleFunction-use1".into(),
        Some(BTreeMap::from([("customerName".to_string(), "Ada".into())])),
    );
    let contact = ContactData::voice("c1", "+442079460999", "+442079460123");
    let report = simulate(main, contact, &mut script, 1);
    let types: Vec<_> = report.path.iter().map(|s| s.action_type.as_str()).collect();
    // The bot alias is not among the flow attributes (as in the export), so
    // the bot step fails over to the apology and disconnect.
    assert_eq!(
        types,
        [
            "UpdateFlowLoggingBehavior",
            "UpdateFlowAttributes",
            "UpdateContactTextToSpeechVoice",
            "MessageParticipant",
            "UpdateContactEventHooks",
            "ConnectParticipantWithLexBot",
            "MessageParticipant",
            "DisconnectParticipant"
        ],
        "{:#?}",
        report.path
    );
    assert_eq!(report.outcome, Some(Outcome::Disconnected));
    assert_eq!(report.contact.voice, "Joanna");
}

#[test]
fn with_a_bot_the_main_flow_queues_through_its_module_and_transfer_flow() {
    let main = load("acme_main_AUTO.json");
    let module = load("acme_contact_flow_module_AUTO.json");
    let mut script = Script::default();
    script.intents.push_back("Finance".into());
    script
        .modules
        .insert("acme_contact_flow_module_AUTO".into(), module);
    script.functions.insert(
        "acme-exampleFunction-use1".into(),
        Some(BTreeMap::from([("customerName".to_string(), "Ada".into())])),
    );
    let mut contact = ContactData::voice("c1", "+442079460999", "+442079460123");
    // The export names its bot "acme-lexbot" but maps only another alias;
    // an importer would fill this in from the local bot of that name.
    contact.flow_attributes.insert(
        "acme-lexbot".into(),
        "arn:aws:lex:local:1:bot-alias/acme-lexbot/live".into(),
    );
    contact.attributes.insert("Journey".into(), "start".into());
    let report = simulate(main, contact, &mut script, 1);
    let types: Vec<_> = report.path.iter().map(|s| s.action_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "UpdateFlowLoggingBehavior",
            "UpdateFlowAttributes",
            "UpdateContactTextToSpeechVoice",
            "MessageParticipant",
            "UpdateContactEventHooks",
            "ConnectParticipantWithLexBot",
            "UpdateContactTargetQueue",
            "InvokeFlowModule",
            "UpdateFlowAttributes",
            "UpdateContactAttributes",
            "UpdateContactEventHooks",
            "EndFlowModuleExecution",
            "InvokeLambdaFunction",
            "TransferToFlow"
        ],
        "{:#?}",
        report.path
    );
    assert_eq!(report.contact.queue.as_ref().unwrap().name, "finance");
    assert_eq!(
        report.contact.attributes["Journey"],
        "start >> went_through_module"
    );
    assert_eq!(report.contact.external["customerName"], "Ada");
    assert!(
        matches!(&report.outcome, Some(Outcome::TransferredToFlow { flow }) if flow.contains("acme_queue_transfer_AUTO"))
    );

    // The queue transfer flow sets the whispers and queues the contact.
    let transfer = load("acme_queue_transfer_AUTO.json");
    let mut contact = report.contact.clone();
    contact.flow_attributes.clear();
    let r = simulate(transfer, contact, &mut Script::default(), 1);
    assert!(
        matches!(&r.outcome, Some(Outcome::Queued { queue }) if queue.name == "finance"),
        "{:?}",
        r.outcome
    );
    assert_eq!(
        r.contact.event_hooks.len(),
        3,
        "customer queue, customer whisper, agent whisper"
    );

    // Whisper, hold, queue and outbound flows run to their ends.
    let whisper = simulate(
        load("acme_agent_whisper_AUTO.json"),
        r.contact.clone(),
        &mut Script::default(),
        1,
    );
    assert_eq!(whisper.outcome, Some(Outcome::Ended));
    assert!(whisper.effects.iter().any(|e| matches!(e, switchboard_flow::Effect::Play { message: switchboard_flow::Rendered::Text(t), .. } if t == "finance")));
    let outbound = simulate(
        load("acme_outbound_flow1_AUTO.json"),
        r.contact.clone(),
        &mut Script::default(),
        1,
    );
    assert_eq!(outbound.outcome, Some(Outcome::Ended));
    assert_eq!(outbound.contact.recording.len(), 2);
    let queue = simulate(
        load("acme_customer_queue_AUTO.json"),
        r.contact.clone(),
        &mut Script::default(),
        1,
    );
    assert!(
        queue.stopped.is_some(),
        "a queue flow loops its messages until an agent answers"
    );
    let hold = simulate(
        load("acme_hold_AUTO.json"),
        r.contact,
        &mut Script::default(),
        1,
    );
    assert!(hold.stopped.is_some());
}
