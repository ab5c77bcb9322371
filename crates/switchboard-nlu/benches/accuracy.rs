//! Intent and slot accuracy of the embedded NLU on the demo bank bot, over
//! a test set written apart from the bot's sample utterances; with the
//! built-in lexicon and without it; and the time to understand one utterance.
//!
//! `cargo bench -p switchboard-nlu --bench accuracy` (add `-- --misses` to list every miss).

// A benchmark times itself; the pure-core rule is for the library.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/eval/mod.rs"]
mod eval;

use std::time::Instant;

use switchboard_nlu::lexicon::Lexicon;
use switchboard_nlu::Engine;

fn main() {
    let show_misses = std::env::args().any(|a| a == "--misses");
    let bot = eval::demo_bot();
    let all = eval::test_set();
    // Misses are shown for the even half only (the development half, read
    // when improving the ranker); the odd half stays unread, and its figure
    // says how well the ranker does on what nobody tuned it for.
    let (dev, held_out): (Vec<_>, Vec<_>) = all.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let dev: Vec<&eval::Case> = dev.into_iter().map(|(_, c)| c).collect();
    let held_out: Vec<&eval::Case> = held_out.into_iter().map(|(_, c)| c).collect();
    let cases: Vec<&eval::Case> = all.iter().collect();
    let locale = &bot.locales[0];
    for (label, lexicon) in [
        ("with the built-in lexicon", Lexicon::builtin()),
        ("words only (no lexicon)", Lexicon::none()),
    ] {
        let engine = Engine::with_lexicon(locale, lexicon).expect("the demo bot compiles");
        let s = eval::score(&engine, &cases);
        let d = eval::score(&engine, &dev);
        let h = eval::score(&engine, &held_out);
        println!("{label}:");
        println!(
            "  development half {:.1}% intents, {:.1}% slots; held-out half {:.1}% intents, {:.1}% slots",
            100.0 * d.intent_accuracy(),
            100.0 * d.slot_accuracy(),
            100.0 * h.intent_accuracy(),
            100.0 * h.slot_accuracy()
        );
        println!(
            "  intent top-1 accuracy  {:.1}% ({}/{})",
            100.0 * s.intent_accuracy(),
            s.intents_right,
            s.utterances
        );
        println!(
            "    in domain            {:.1}% ({}/{})",
            100.0 * s.in_domain_right as f64 / s.in_domain as f64,
            s.in_domain_right,
            s.in_domain
        );
        println!(
            "    out of domain -> fallback {:.1}% ({}/{})",
            100.0 * s.out_of_domain_right as f64 / s.out_of_domain.max(1) as f64,
            s.out_of_domain_right,
            s.out_of_domain
        );
        println!(
            "  slot accuracy          {:.1}% ({}/{}), {} extra slots filled",
            100.0 * s.slot_accuracy(),
            s.slots_right,
            s.slots_expected,
            s.slots_wrong_extra
        );
        for (intent, (n, right)) in &s.per_intent {
            println!("    {intent:>18} {right:>3}/{n:<3}");
        }
        if show_misses {
            for m in &d.misses {
                println!("  miss: {m}");
            }
        }
    }
    let start = Instant::now();
    let compiles = 20;
    for _ in 0..compiles {
        std::hint::black_box(Engine::new(locale).expect("the demo bot compiles"));
    }
    println!(
        "compiling the demo bot (12 intents, {} utterances): {:.1} ms",
        locale
            .intents
            .iter()
            .map(|i| i.sample_utterances.len())
            .sum::<usize>(),
        start.elapsed().as_secs_f64() * 1e3 / compiles as f64
    );
    let engine = Engine::new(locale).expect("the demo bot compiles");
    let cx = eval::context();
    let start = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        for c in &cases {
            std::hint::black_box(engine.recognise(&c.text, &cx));
        }
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / (rounds * cases.len()) as f64;
    println!(
        "understanding one utterance: {per:.0} us (mean of {} on one core)",
        rounds * cases.len()
    );
}
