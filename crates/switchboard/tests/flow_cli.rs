//! `switchboard flow validate` and `switchboard flow simulate`, run as a user would.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;

fn switchboard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/connect-exports/flows")
}

#[test]
fn validate_accepts_real_exports_and_lists_every_problem() {
    let files: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["flow", "validate"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = switchboard(&args);
    assert!(ok, "{out}{err}");
    assert_eq!(out.matches(": valid").count(), 9, "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "CheckHoursOfOperation", "Parameters": {},
         "Transitions": {"Conditions": [{"NextAction": "b", "Condition": {"Operator": "Equals", "Operands": ["True"]}}]}},
        {"Identifier": "b", "Type": "Teleport", "Parameters": {}, "Transitions": {"NextAction": "nowhere"}}]}"#).unwrap();
    let (ok, out, err) = switchboard(&["flow", "validate", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("error: Actions[0].Transitions.Conditions (action 'a'): CheckHoursOfOperation needs a condition Equals False"), "{out}");
    assert!(
        out.contains(
            "error: Actions[1].Type (action 'b'): action type 'Teleport' is not one of Connect's flow language"
        ),
        "{out}"
    );
    assert!(out.contains("leads to 'nowhere'"), "{out}");
    assert!(err.contains("1 of 1 flows have errors"), "{err}");
}

#[test]
fn simulate_the_demo_menu() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("demo.json");
    std::fs::write(
        &flow,
        switchboard_server::bootstrap::demo_flow_content().to_string(),
    )
    .unwrap();
    let f = flow.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["flow", "simulate", f];
        args.extend_from_slice(extra);
        let (ok, out, err) = switchboard(&args);
        assert!(ok, "{out}{err}");
        out
    };
    let one = run(&["--digits", "1"]);
    assert!(
        one.contains("menu [GetParticipantInput] -> condition Equals 1"),
        "{one}"
    );
    assert!(
        one.contains("to-sales [UpdateContactTargetQueue] -> next"),
        "{one}"
    );
    assert!(one.contains("Outcome: queued in Sales"), "{one}");
    assert!(
        one.contains("play \"Thank you for calling the Switchboard demo.\""),
        "{one}"
    );
    assert!(run(&["--digits", "2"]).contains("Outcome: queued in Support"));
    let timeout = run(&["--digits", "timeout"]);
    assert!(
        timeout.contains("menu [GetParticipantInput] -> error InputTimeLimitExceeded"),
        "{timeout}"
    );
    assert!(timeout.contains("Outcome: queued in Sales"));
    // An invalid key asks again; then 2.
    let invalid = run(&["--digits", "7", "--digits", "2"]);
    assert!(
        invalid.contains("menu [GetParticipantInput] -> error NoMatchingCondition"),
        "{invalid}"
    );
    assert!(invalid.contains("Outcome: queued in Support"), "{invalid}");
    // A full queue gets the apology.
    let full = run(&["--digits", "1", "--full", "Sales"]);
    assert!(
        full.contains("transfer [TransferContactToQueue] -> error QueueAtCapacity"),
        "{full}"
    );
    assert!(full.contains("Outcome: disconnected"), "{full}");
    // JSON for machines.
    let json: serde_json::Value = serde_json::from_str(&run(&["--digits", "2", "--json"])).unwrap();
    assert_eq!(json["outcome"]["outcome"], "queued");
    assert_eq!(json["outcome"]["queue"]["name"], "Support");
}

#[test]
fn simulate_checks_hours_at_the_given_time_and_uses_function_answers() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("hours.json");
    std::fs::write(&flow, serde_json::json!({"Version": "2019-10-30", "StartAction": "fn", "Actions": [
        {"Identifier": "fn", "Type": "InvokeLambdaFunction", "Parameters": {"LambdaFunctionARN": "crm-lookup"},
         "Transitions": {"NextAction": "hours", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "closed"}]}},
        {"Identifier": "hours", "Type": "CheckHoursOfOperation", "Parameters": {"HoursOfOperationId": "Office"},
         "Transitions": {"Conditions": [
            {"NextAction": "open", "Condition": {"Operator": "Equals", "Operands": ["True"]}},
            {"NextAction": "closed", "Condition": {"Operator": "Equals", "Operands": ["False"]}}]}},
        {"Identifier": "open", "Type": "MessageParticipant", "Parameters": {"Text": "Hello $.External.name"}, "Transitions": {"NextAction": "bye"}},
        {"Identifier": "closed", "Type": "MessageParticipant", "Parameters": {"Text": "Closed"}, "Transitions": {"NextAction": "bye"}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]}).to_string()).unwrap();
    let hours = dir.path().join("office.json");
    std::fs::write(&hours, r#"{"name": "Office", "time_zone": "Europe/London",
        "config": [{"day": "TUESDAY", "start": {"hours": 9, "minutes": 0}, "end": {"hours": 17, "minutes": 0}}]}"#).unwrap();
    let answer = dir.path().join("crm.json");
    std::fs::write(&answer, r#"{"name": "Ada"}"#).unwrap();
    let base = [
        "flow",
        "simulate",
        flow.to_str().unwrap(),
        "--hours",
        hours.to_str().unwrap(),
    ];
    let function = format!("crm-lookup={}", answer.display());
    let run = |now: &str, function: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--now", now, "--function", function]);
        let (ok, out, err) = switchboard(&args);
        assert!(ok, "{out}{err}");
        out
    };
    // Tuesday 24 November 2026, 10:00 in London.
    assert!(run("2026-11-24T10:00:00Z", &function).contains("play \"Hello Ada\""));
    assert!(run("2026-11-24T18:00:00Z", &function).contains("play \"Closed\""));
    assert!(run("2026-11-24T10:00:00Z", "crm-lookup=fail")
        .contains("fn [InvokeLambdaFunction] -> error NoMatchingError"));
}

/// `switchboard flow validate ... | head -1`: the reader goes away after
/// one line; the command ends quietly, with no panic about a broken pipe.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../switchboard-flow/tests/corpus");
    let mut files: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".json"))
        .collect();
    files.sort();
    for command in [
        &["flow", "validate"][..],
        &["flow", "simulate", "--json"][..],
    ] {
        let mut args: Vec<&str> = command.to_vec();
        if command[1] == "validate" {
            // Far more than a pipe holds (64 KiB), so writes do meet the closed end.
            for _ in 0..10 {
                args.extend(files.iter().map(String::as_str));
            }
        } else {
            args.push(
                files
                    .iter()
                    .max_by_key(|f| std::fs::metadata(f).unwrap().len())
                    .unwrap(),
            );
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        // stdout is dropped here: the pipe is closed.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn simulate_talks_to_an_imported_lex_v2_bot_turn_by_turn() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("flowers.json");
    std::fs::write(
        &flow,
        r#"{"Version": "2019-10-30", "StartAction": "bot", "Actions": [
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "How can I help?", "LexV2Bot": {"AliasArn": "arn:aws:lex:eu-west-2:1:bot-alias/ABCDEFGHIJ/TSTALIASID"}},
         "Transitions": {"Conditions": [{"NextAction": "ok", "Condition": {"Operator": "Equals", "Operands": ["OrderFlowers"]}}],
           "Errors": [{"ErrorType": "NoMatchingCondition", "NextAction": "other"}, {"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "ok", "Type": "MessageParticipant", "Parameters": {"Text": "Ordered $.Lex.Slots.FlowerType for $.Lex.Slots.PickupDate at $.Lex.Slots.PickupTime"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "other", "Type": "MessageParticipant", "Parameters": {"Text": "Intent $.Lex.IntentName"},
         "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]}"#,
    )
    .unwrap();
    let bot = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-nlu/tests/fixtures/lexv2/OrderFlowers");
    let (flow, bot) = (flow.to_str().unwrap(), bot.to_str().unwrap());
    let (ok, out, err) = switchboard(&[
        "flow",
        "simulate",
        flow,
        "--channel",
        "CHAT",
        "--now",
        "2026-12-07T10:00:00Z",
        "--bot",
        bot,
        "--say",
        "I would like to order some tulips",
        "--say",
        "tomorrow",
        "--say",
        "at 5pm",
        "--say",
        "yes",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("bot: What day do you want the tulips to be picked up?"),
        "{out}"
    );
    assert!(
        out.contains("Ordered tulips for 2026-12-08 at 17:00"),
        "{out}"
    );

    // Something it was not built for: its fallback intent, and the flow's branch for it.
    let (ok, out, err) = switchboard(&[
        "flow",
        "simulate",
        flow,
        "--channel",
        "CHAT",
        "--bot",
        bot,
        "--say",
        "what is the weather in Lisbon",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Intent FallbackIntent"), "{out}");

    // --say without a bot is refused, saying why.
    let (ok, _, err) = switchboard(&["flow", "simulate", flow, "--say", "hello"]);
    assert!(!ok);
    assert!(err.contains("--say needs --bot"), "{err}");
}
