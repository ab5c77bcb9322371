//! Lex V2 exports read in, with a report, and written back.

mod eval;

use std::collections::BTreeMap;
use std::path::Path;

use switchboard_nlu::dialog::{Dialog, Effect, Input};
use switchboard_nlu::hook::{InputMode, IntentState};
use switchboard_nlu::lexv2::{self, ImportError};
use switchboard_nlu::model::Resolution;
use switchboard_nlu::Engine;

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn order_flowers() -> BTreeMap<String, Vec<u8>> {
    read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lexv2/OrderFlowers"))
}

#[test]
fn a_lex_v2_export_becomes_a_bot_with_a_report_of_what_was_left() {
    let (bot, report) = lexv2::import(&order_flowers()).expect("imports");
    assert_eq!(bot.name, "OrderFlowers");
    let locale = &bot.locales[0];
    assert_eq!(locale.locale_id, "en_US");
    let order = locale
        .intents
        .iter()
        .find(|i| i.name == "OrderFlowers")
        .expect("intent");
    let slot_names: Vec<&str> = order.slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        slot_names,
        ["FlowerType", "PickupDate", "PickupTime"],
        "slots in slotPriorities order"
    );
    assert!(order.slots.iter().all(|s| s.required && s.prompt.is_some()));
    assert!(order
        .confirmation
        .as_ref()
        .is_some_and(|c| c.declination_response.is_some()));
    assert!(order.closing_response.is_some());
    assert!(order.fulfillment_code_hook);
    assert!(
        locale.intents.iter().any(|i| i.fallback),
        "AMAZON.FallbackIntent is the fallback"
    );
    let flowers = locale
        .slot_types
        .iter()
        .find(|t| t.name == "FlowerTypes")
        .expect("slot type");
    assert_eq!(
        flowers.resolution,
        Resolution::TopResolution,
        "TOP_RESOLUTION, the export's spelling"
    );
    let status = locale
        .intents
        .iter()
        .find(|i| i.name == "CheckOrderStatus")
        .expect("intent");
    let number = status
        .slots
        .iter()
        .find(|s| s.name == "OrderNumber")
        .expect("slot");
    assert_eq!(
        number.slot_type, "AMAZON.AlphaNumeric",
        "a pattern type based on AlphaNumeric"
    );
    assert!(report
        .mapped
        .iter()
        .any(|m| m.starts_with("intent OrderFlowers")));
    for expected in [
        "regexFilter",
        "image response card",
        "custom payload",
        "code hook",
    ] {
        assert!(
            report.unmapped.iter().any(|u| u.contains(expected)),
            "{expected} reported in {:#?}",
            report.unmapped
        );
    }
}

#[test]
fn an_imported_bot_takes_an_order_in_conversation() {
    let (mut bot, _) = lexv2::import(&order_flowers()).expect("imports");
    let locale = &mut bot.locales[0];
    // Its fulfilment hook has no function here; without it the intent closes by itself.
    for i in &mut locale.intents {
        i.fulfillment_code_hook = false;
        i.dialog_code_hook = false;
    }
    let engine = Engine::new(locale).expect("compiles");
    let mut effects = Vec::new();
    let mut dialog = Dialog::start(
        "c",
        "OrderFlowers",
        InputMode::Text,
        BTreeMap::new(),
        &mut effects,
    );
    let cx = eval::context();
    for said in [
        "I would like to order some roses",
        "tomorrow",
        "at 10am",
        "yes",
    ] {
        dialog.handle(&engine, &cx, Input::Said(said.into()), &mut effects);
    }
    let outcome = effects
        .iter()
        .find_map(|e| match e {
            Effect::Finished(o) => Some(o.clone()),
            _ => None,
        })
        .expect("finished");
    assert_eq!(outcome.intent, "OrderFlowers");
    assert_eq!(outcome.state, IntentState::Fulfilled);
    assert_eq!(
        outcome.slots.get("PickupDate").map(String::as_str),
        Some("2026-12-08")
    );
    assert_eq!(
        outcome.slots.get("PickupTime").map(String::as_str),
        Some("10:00")
    );
    assert_eq!(
        outcome.slots.get("FlowerType").map(String::as_str),
        Some("roses")
    );
}

#[test]
fn an_export_reads_back_as_the_same_bot() {
    let (bot, _) = lexv2::import(&order_flowers()).expect("imports");
    let (again, _) = lexv2::import(&lexv2::export(&bot)).expect("re-imports");
    assert_eq!(again, bot);
    let demo = eval::demo_bot();
    let (demo_again, _) = lexv2::import(&lexv2::export(&demo)).expect("the demo bot exports");
    assert_eq!(
        demo_again.locales[0].intents.len(),
        demo.locales[0].intents.len()
    );
}

#[test]
fn files_that_are_not_an_export_are_refused_by_name() {
    let mut files = BTreeMap::new();
    files.insert("readme.txt".to_string(), b"hello".to_vec());
    assert_eq!(lexv2::import(&files), Err(ImportError::NotAnExport));
    let mut files = order_flowers();
    let locale = files
        .keys()
        .find(|k| k.ends_with("BotLocale.json"))
        .expect("locale")
        .clone();
    files.insert(locale.clone(), b"{not json".to_vec());
    match lexv2::import(&files) {
        Err(ImportError::NotJson { path, .. }) => assert_eq!(path, locale),
        other => panic!("{other:?}"),
    }
}
