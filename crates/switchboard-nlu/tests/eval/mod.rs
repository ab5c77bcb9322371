//! Scores a bot against a test set of utterances written apart from its
#![allow(dead_code)] // each user reads some of it
//! samples: top-1 intent accuracy and slot accuracy. Shared by the accuracy
//! test (a floor) and the benchmark (the figures).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use switchboard_nlu::{Bot, Context, Engine};

/// One utterance of the test set and what it means.
#[derive(Debug, Deserialize)]
pub(crate) struct Case {
    pub(crate) text: String,
    pub(crate) intent: String,
    #[serde(default)]
    pub(crate) slots: BTreeMap<String, String>,
}

/// What a run measured.
#[derive(Debug, Default)]
pub(crate) struct Score {
    pub(crate) utterances: usize,
    pub(crate) intents_right: usize,
    pub(crate) in_domain: usize,
    pub(crate) in_domain_right: usize,
    pub(crate) out_of_domain: usize,
    pub(crate) out_of_domain_right: usize,
    pub(crate) slots_expected: usize,
    pub(crate) slots_right: usize,
    pub(crate) slots_wrong_extra: usize,
    pub(crate) misses: Vec<String>,
    pub(crate) per_intent: BTreeMap<String, (usize, usize)>,
}

impl Score {
    pub(crate) fn intent_accuracy(&self) -> f64 {
        self.intents_right as f64 / self.utterances as f64
    }
    pub(crate) fn slot_accuracy(&self) -> f64 {
        self.slots_right as f64 / self.slots_expected.max(1) as f64
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo bank bot.
pub(crate) fn demo_bot() -> Bot {
    let text = std::fs::read_to_string(crate_dir().join("bots/demo-bank.json")).expect("demo bot");
    serde_json::from_str(&text).expect("demo bot parses")
}

/// The test set: 300+ utterances over 12 intents and the fallback.
pub(crate) fn test_set() -> Vec<Case> {
    let text =
        std::fs::read_to_string(crate_dir().join("tests/data/test_set.json")).expect("test set");
    serde_json::from_str(&text).expect("test set parses")
}

/// The day the test set's dates count from.
pub(crate) fn context() -> Context {
    Context {
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).expect("a date"),
    }
}

/// Scores an engine on the cases.
pub(crate) fn score(engine: &Engine, cases: &[&Case]) -> Score {
    let cx = context();
    let mut s = Score::default();
    for case in cases {
        let r = engine.recognise(&case.text, &cx);
        s.utterances += 1;
        let right = r.intent == case.intent;
        let fallback = case.intent == engine.fallback();
        let e = s.per_intent.entry(case.intent.clone()).or_default();
        e.0 += 1;
        if right {
            e.1 += 1;
            s.intents_right += 1;
        } else {
            s.misses.push(format!(
                "intent {:>18} got {:>18} ({:.2}): {}",
                case.intent,
                r.intent,
                r.interpretations.first().map_or(0.0, |i| i.confidence),
                case.text
            ));
        }
        if fallback {
            s.out_of_domain += 1;
            s.out_of_domain_right += usize::from(right);
        } else {
            s.in_domain += 1;
            s.in_domain_right += usize::from(right);
        }
        // Slots are scored against the right intent's slots, so a slot score
        // is not counted twice against a wrong intent.
        let slots = if right {
            r.slots.clone()
        } else {
            engine.recognise_for(&case.intent, &case.text, &cx)
        };
        for (name, want) in &case.slots {
            s.slots_expected += 1;
            match slots.get(name) {
                Some(got) if got.eq_ignore_ascii_case(want) => s.slots_right += 1,
                got => s.misses.push(format!(
                    "slot   {name:>18} got {got:?} want {want:?}: {}",
                    case.text
                )),
            }
        }
        for (name, got) in &slots {
            if !case.slots.contains_key(name) {
                s.slots_wrong_extra += 1;
                s.misses
                    .push(format!("extra  {name:>18} got {got:?}: {}", case.text));
            }
        }
    }
    s
}
