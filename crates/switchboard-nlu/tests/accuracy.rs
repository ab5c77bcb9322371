//! The embedded NLU keeps its measured accuracy on the demo bank bot; the
//! benchmark (`cargo bench -p switchboard-nlu --bench accuracy`) prints the figures.

mod eval;

use switchboard_nlu::Engine;

#[test]
fn the_demo_bot_understands_paraphrases_it_was_not_given() {
    let bot = eval::demo_bot();
    let engine = Engine::new(&bot.locales[0]).expect("the demo bot compiles");
    let cases = eval::test_set();
    assert!(
        cases.len() >= 300,
        "the test set has {} utterances",
        cases.len()
    );
    let refs: Vec<&eval::Case> = cases.iter().collect();
    let s = eval::score(&engine, &refs);
    // Measured 91.3% and 98.0% when written; a change that loses more than a
    // few points fails here.
    assert!(
        s.intent_accuracy() >= 0.88,
        "intent accuracy {:.3}\n{}",
        s.intent_accuracy(),
        s.misses.join("\n")
    );
    assert!(
        s.slot_accuracy() >= 0.93,
        "slot accuracy {:.3}\n{}",
        s.slot_accuracy(),
        s.misses.join("\n")
    );
}
