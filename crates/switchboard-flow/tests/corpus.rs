//! Real flows from public repositories (`tests/corpus`, listed with their
//! repository, commit and licence in `SOURCES.md`), none written for
//! Switchboard: every one validates and simulates as it is, except those
//! that are genuinely broken, which are refused for the right reason.

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchboard_flow::simulate::{simulate, Keypress, Script};
use switchboard_flow::{check, ContactData, Flow, FlowType, Problem, Severity};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Bare flows that do not say their type (no wrapper, no `Metadata.type`),
/// by the type their repository uses them as.
const TYPES: &[(&str, FlowType)] = &[
    ("seb-customer-queue-content", FlowType::CustomerQueue),
    ("rules-engine-customer-hold", FlowType::CustomerHold),
    ("rules-engine-customer-queue", FlowType::CustomerQueue),
];

/// Files that are genuinely broken, and what the refusal must say.
const BROKEN: &[(&str, &str)] = &[
    // `\'` inside the Content string is not a JSON escape.
    ("scv-ddr-describe-response", "is not JSON: invalid escape"),
    // Hand-written: `StartMediaStreaming` is no action type of Connect's.
    ("provider-contact-flow", "action type 'StartMediaStreaming'"),
];

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().to_string()
}

fn flow_type(name: &str) -> FlowType {
    TYPES
        .iter()
        .find(|(n, _)| name.ends_with(n))
        .map_or(FlowType::ContactFlow, |(_, t)| *t)
}

fn errors(problems: &[Problem]) -> Vec<&Problem> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect()
}

#[test]
fn the_corpus_is_listed_with_its_sources() {
    let sources = std::fs::read_to_string(corpus().join("SOURCES.md")).unwrap();
    let files = files();
    assert!(files.len() >= 40, "at least 40 real flows");
    let mut repositories = std::collections::BTreeSet::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let row = sources
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("{name} is not in SOURCES.md"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | file | repository | path | commit | licence |
        assert_eq!(cells[4].len(), 40, "{name}: a full commit id");
        assert!(
            [
                "MIT-0",
                "MIT",
                "Apache-2.0",
                "BSD-2-Clause",
                "BSD-3-Clause",
                "ISC",
                "CC0-1.0",
                "Unlicense"
            ]
            .contains(&cells[5]),
            "{name}: licence {}",
            cells[5]
        );
        repositories.insert(cells[2].to_string());
    }
    assert!(repositories.len() >= 8, "from at least 8 repositories");
}

#[test]
fn genuinely_broken_flows_are_refused_for_the_right_reason() {
    for (name, why) in BROKEN {
        let path = files()
            .into_iter()
            .find(|p| stem(p).ends_with(name))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let (_, problems) = check(&text, FlowType::ContactFlow);
        let errors = errors(&problems);
        assert!(
            errors.iter().any(|e| e.to_string().contains(why)),
            "{name}: {errors:#?}"
        );
        // One root cause, one error.
        assert_eq!(errors.len(), 1, "{name}: {errors:#?}");
    }
}

/// The four ways every flow is run: no input, key 1, on chat, and with
/// every external function answering `{}`.
fn scripts(flow: &Flow) -> Vec<(&'static str, Script, ContactData)> {
    let voice = || ContactData::voice("corpus", "+447700900123", "+442079460123");
    let functions = || {
        flow.actions
            .iter()
            .filter_map(|a| match &a.kind {
                switchboard_flow::ActionKind::InvokeLambdaFunction { function, .. } => {
                    Some((function.raw.clone(), Some(BTreeMap::new())))
                }
                _ => None,
            })
            .collect()
    };
    vec![
        ("no input", Script::default(), voice()),
        (
            "key 1",
            Script {
                keypresses: std::iter::repeat_n(Keypress::Digits("1".into()), 20).collect(),
                ..Script::default()
            },
            voice(),
        ),
        (
            "chat",
            Script::default(),
            ContactData::chat("corpus", "Sam"),
        ),
        (
            "functions answer {}",
            Script {
                functions: functions(),
                ..Script::default()
            },
            voice(),
        ),
    ]
}

#[test]
fn every_real_flow_validates_and_simulates() {
    let mut validated = 0;
    let mut failures = Vec::new();
    for path in files() {
        let name = stem(&path);
        if BROKEN.iter().any(|(b, _)| name.ends_with(b)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (flow, problems) = check(&text, flow_type(&name));
        let errors = errors(&problems);
        if !errors.is_empty() {
            failures.push(format!("{name}: {errors:#?}"));
            continue;
        }
        validated += 1;
        let flow = Arc::new(flow.unwrap());
        for (how, mut script, contact) in scripts(&flow) {
            let report = simulate(flow.clone(), contact, &mut script, 7);
            // It ran: an action took a branch, or one is doing its work
            // (a queue flow's music plays until an agent answers).
            assert!(
                !report.path.is_empty() || !report.effects.is_empty(),
                "{name} ({how}): nothing ran: {:?}",
                report.stopped
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(validated >= 40, "{validated} validated");
}

#[test]
fn a_feature_that_is_not_enabled_takes_its_error_branch() {
    // A step-by-step guide (ShowView) as Switchboard runs it today: the
    // view is not available, so the flow goes where Connect sends it when
    // the feature is off; the simulator can also answer as if it ran.
    let path = files()
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("\"Type\":\"ShowView\"")
                || std::fs::read_to_string(p)
                    .unwrap()
                    .contains("\"Type\": \"ShowView\"")
        })
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let flow = Arc::new(check(&text, FlowType::ContactFlow).0.unwrap());
    let chat = || ContactData::chat("guide", "Sam");
    let report = simulate(flow.clone(), chat(), &mut Script::default(), 1);
    let step = report
        .path
        .iter()
        .find(|s| s.action_type == "ShowView")
        .unwrap();
    assert!(step.branch.starts_with("error "), "{step:?}");
    assert!(
        step.branch.contains("is not available"),
        "the path says why: {step:?}"
    );

    let mut ran = Script::default();
    ran.features.insert(
        "ShowView".into(),
        switchboard_flow::simulate::FeatureAnswer::Ran {
            result: Some("Next".into()),
            data: None,
        },
    );
    let report = simulate(flow, chat(), &mut ran, 1);
    let step = report
        .path
        .iter()
        .find(|s| s.action_type == "ShowView")
        .unwrap();
    assert!(!step.branch.contains("not available"), "{step:?}");
}
