//! What a caller can say now, as a speech grammar.
//!
//! Small on-box recognisers are weak at free dictation and strong when
//! their search is held to what the bot can understand (measured in
//! `../shared/SPEECH.md` and `bench/speech.sh`). A [`Grammar`] is built
//! from the bot: the intents' sample utterances with each `{Slot}` replaced
//! by what its type can say (digits, numbers, amounts, dates, times,
//! yes/no, a custom type's values and synonyms), or, while a slot is
//! elicited, that slot's values with the carriers people put around them
//! ("it's ...", "my account number is ..."), or yes and no for a
//! confirmation. Types no grammar can hold (names, e-mail addresses, free
//! text) give no grammar: the recogniser falls back to dictation.
//!
//! [`Grammar::to_jsgf`] writes it in JSGF (the W3C's Java Speech Grammar
//! Format, which pocketsphinx reads), keeping only the words the
//! recogniser's dictionary knows: an alternative with an unknown word is
//! dropped, not the whole grammar.

use std::collections::BTreeMap;

use crate::builtin::BuiltIn;
use crate::dialog::Expecting;
use crate::engine::Engine;
use crate::model::{Intent, Locale};
use crate::vocabulary::{MONTHS, ONES, ORDINALS, TEENS, TENS, WEEKDAYS};

/// The most alternatives a grammar's top rule takes (utterances and their
/// variants); a bot has at most this many that matter at once.
pub const MAX_ALTERNATIVES: usize = 2_000;

/// One part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    /// A word, lower case.
    Word(String),
    /// Another rule, by name.
    Rule(String),
    /// These, one after the other.
    Seq(Vec<Expansion>),
    /// One of these.
    Alt(Vec<Expansion>),
    /// This, or nothing.
    Optional(Box<Expansion>),
    /// This, once or more.
    Repeat(Box<Expansion>),
}

/// A speech grammar: named rules and the top rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grammar {
    /// Rules the top rule refers to, by name.
    pub rules: BTreeMap<String, Expansion>,
    /// What may be said.
    pub top: Expansion,
}

fn w(word: &str) -> Expansion {
    Expansion::Word(word.to_string())
}

fn r(rule: &str) -> Expansion {
    Expansion::Rule(rule.to_string())
}

fn seq(items: Vec<Expansion>) -> Expansion {
    Expansion::Seq(items)
}

fn alt(items: Vec<Expansion>) -> Expansion {
    Expansion::Alt(items)
}

fn opt(item: Expansion) -> Expansion {
    Expansion::Optional(Box::new(item))
}

fn words(list: &[&str]) -> Expansion {
    alt(list.iter().map(|x| phrase(x)).collect())
}

/// A phrase of several words as a sequence (one word stays a word).
fn phrase(text: &str) -> Expansion {
    let mut parts: Vec<Expansion> = spoken_words(text)
        .into_iter()
        .map(Expansion::Word)
        .collect();
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        seq(parts)
    }
}

/// Text as the words a recogniser says: lower case, split at spaces and
/// hyphens, punctuation dropped but for apostrophes inside words ("i'd").
/// A token with a digit or a symbol stays, to be dropped as unknown.
pub fn spoken_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '/')
        .map(|t| {
            t.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

const LETTERS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "z",
];
const YES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yes please",
    "sure",
    "correct",
    "that's right",
    "that's correct",
    "right",
    "okay",
    "yes it is",
    "yes that's right",
];
const NO: &[&str] = &[
    "no",
    "nope",
    "no thanks",
    "no thank you",
    "not really",
    "wrong",
    "that's wrong",
    "no it isn't",
    "no that's wrong",
];

/// The rules every grammar may use: numbers, digits, dates, times, letters,
/// yes and no. Rules name only rules defined before them.
fn builtin_rules() -> Vec<(&'static str, Expansion)> {
    let rep = |e: Expansion| Expansion::Repeat(Box::new(e));
    vec![
        ("digit", alt(vec![words(&["zero", "oh"]), words(ONES)])),
        ("digits", rep(r("digit"))),
        ("one_to_nine", words(ONES)),
        (
            "below_hundred",
            alt(vec![
                seq(vec![words(TENS), opt(r("one_to_nine"))]),
                words(TEENS),
                r("one_to_nine"),
                w("zero"),
            ]),
        ),
        (
            "below_thousand",
            alt(vec![
                seq(vec![
                    opt(alt(vec![w("a"), r("one_to_nine")])),
                    w("hundred"),
                    opt(seq(vec![opt(w("and")), r("below_hundred")])),
                ]),
                r("below_hundred"),
            ]),
        ),
        (
            "number",
            alt(vec![
                seq(vec![
                    r("below_thousand"),
                    words(&["thousand", "million"]),
                    opt(seq(vec![opt(w("and")), r("below_thousand")])),
                ]),
                r("below_thousand"),
                r("digits"),
            ]),
        ),
        (
            "amount",
            alt(vec![
                seq(vec![
                    r("number"),
                    words(&["dollars", "dollar", "bucks"]),
                    opt(seq(vec![
                        w("and"),
                        r("below_hundred"),
                        words(&["cents", "cent"]),
                    ])),
                ]),
                seq(vec![r("below_hundred"), words(&["cents", "cent"])]),
                r("number"),
            ]),
        ),
        (
            "ordinal",
            alt(vec![
                seq(vec![words(&["twenty", "thirty"]), words(&ORDINALS[..9])]),
                words(ORDINALS),
            ]),
        ),
        ("weekday", words(WEEKDAYS)),
        ("month", words(MONTHS)),
        (
            "date",
            alt(vec![
                words(&["today", "tomorrow", "the day after tomorrow", "next week"]),
                seq(vec![
                    opt(words(&["next", "this", "on", "this coming"])),
                    r("weekday"),
                ]),
                seq(vec![opt(w("on")), r("month"), opt(w("the")), r("ordinal")]),
                seq(vec![
                    opt(w("on")),
                    w("the"),
                    r("ordinal"),
                    opt(seq(vec![w("of"), r("month")])),
                ]),
                seq(vec![
                    w("in"),
                    alt(vec![w("a"), r("below_hundred")]),
                    words(&["days", "day", "weeks", "week"]),
                ]),
            ]),
        ),
        (
            "hour",
            alt(vec![r("one_to_nine"), words(&["ten", "eleven", "twelve"])]),
        ),
        (
            "time",
            alt(vec![
                words(&["noon", "midday", "midnight"]),
                seq(vec![
                    opt(w("at")),
                    alt(vec![
                        seq(vec![
                            r("hour"),
                            opt(alt(vec![
                                w("o'clock"),
                                seq(vec![w("oh"), r("one_to_nine")]),
                                seq(vec![words(TENS), opt(r("one_to_nine"))]),
                                words(TEENS),
                            ])),
                        ]),
                        seq(vec![
                            alt(vec![
                                phrase("half past"),
                                phrase("quarter past"),
                                phrase("quarter to"),
                            ]),
                            r("hour"),
                        ]),
                    ]),
                    opt(words(&[
                        "a m",
                        "p m",
                        "in the morning",
                        "in the afternoon",
                        "in the evening",
                        "at night",
                    ])),
                ]),
            ]),
        ),
        ("letter", words(LETTERS)),
        ("alphanumeric", rep(alt(vec![r("letter"), r("digit")]))),
        ("yes", words(YES)),
        ("no", words(NO)),
        ("yes_or_no", alt(vec![r("yes"), r("no")])),
    ]
}

/// The rule a built-in type's values are said with; none for types no
/// grammar can hold.
fn builtin_rule(b: BuiltIn) -> Option<&'static str> {
    Some(match b {
        BuiltIn::Number => "number",
        BuiltIn::Digits | BuiltIn::PhoneNumber => "digits",
        BuiltIn::AlphaNumeric => "alphanumeric",
        BuiltIn::Date => "date",
        BuiltIn::Time => "time",
        BuiltIn::Confirmation => "yes_or_no",
        BuiltIn::Currency => "amount",
        BuiltIn::Email | BuiltIn::FirstName | BuiltIn::LastName | BuiltIn::FreeForm => {
            return None;
        }
    })
}

/// The rule a slot type's values are said with, adding a custom type's
/// rule to `custom` the first time; none if no grammar can hold it.
fn type_rule(
    locale: &Locale,
    slot_type: &str,
    custom: &mut BTreeMap<String, Expansion>,
) -> Option<String> {
    if let Some(b) = BuiltIn::from_name(slot_type) {
        return builtin_rule(b).map(str::to_string);
    }
    let ty = locale.slot_types.iter().find(|t| t.name == slot_type)?;
    let name = format!("type_{}", rule_name(&ty.name));
    if !custom.contains_key(&name) {
        let said: Vec<Expansion> = ty
            .values
            .iter()
            .flat_map(|v| std::iter::once(&v.value).chain(v.synonyms.iter()))
            .map(|text| phrase(text))
            .filter(|e| !matches!(e, Expansion::Seq(s) if s.is_empty()))
            .collect();
        if said.is_empty() {
            return None;
        }
        custom.insert(name.clone(), alt(said));
    }
    Some(name)
}

/// A name JSGF takes: letters, digits and underscores.
fn rule_name(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// "AccountNumber" or "account_number" as the words "account number".
fn name_words(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_lowercase());
    }
    out
}

/// An intent's sample utterances, each slot replaced by its type's rule;
/// an utterance naming a slot no grammar holds is left out.
fn intent_utterances(
    locale: &Locale,
    intent: &Intent,
    custom: &mut BTreeMap<String, Expansion>,
) -> Vec<Expansion> {
    let mut out = Vec::new();
    'utterances: for u in &intent.sample_utterances {
        let mut items = Vec::new();
        let mut rest = u.as_str();
        loop {
            let (before, after) = match rest.split_once('{') {
                Some(split) => split,
                None => (rest, ""),
            };
            items.extend(spoken_words(before).into_iter().map(Expansion::Word));
            if after.is_empty() {
                break;
            }
            let Some((slot_name, tail)) = after.split_once('}') else {
                continue 'utterances;
            };
            let Some(slot) = intent.slots.iter().find(|s| s.name == slot_name) else {
                continue 'utterances;
            };
            let Some(rule) = type_rule(locale, &slot.slot_type, custom) else {
                continue 'utterances;
            };
            items.push(Expansion::Rule(rule));
            rest = tail;
        }
        if !items.is_empty() {
            out.push(seq(items));
        }
    }
    out
}

impl Grammar {
    /// What the caller may say while the bot expects `expecting`; `None`
    /// when no grammar can hold it (dictation then).
    pub fn for_expecting(engine: &Engine, expecting: &Expecting) -> Option<Grammar> {
        let locale = &engine.locale;
        let mut custom = BTreeMap::new();
        let intents: Vec<Expansion> = locale
            .intents
            .iter()
            .filter(|i| !i.fallback)
            .flat_map(|i| intent_utterances(locale, i, &mut custom))
            .take(MAX_ALTERNATIVES)
            .collect();
        // People start and end with a word or two of their own.
        let framed = |e: Expansion| {
            seq(vec![
                opt(words(&[
                    "um", "uh", "well", "so", "hi", "hello", "yes", "oh",
                ])),
                e,
                opt(words(&["please", "thanks", "thank you"])),
            ])
        };
        // And ask in their own way: "I would like to" + "check my balance".
        let asked = |e: Expansion| {
            seq(vec![
                opt(words(&[
                    "i would like to",
                    "i'd like to",
                    "i want to",
                    "i need to",
                    "i'd like",
                    "i want",
                    "i need",
                    "can i",
                    "could i",
                    "can you",
                    "could you",
                    "please",
                ])),
                e,
            ])
        };
        let intents: Vec<Expansion> = intents.into_iter().map(asked).collect();
        let top = match expecting {
            Expecting::Intent => {
                if intents.is_empty() {
                    return None;
                }
                framed(alt(intents))
            }
            Expecting::Confirmation => framed(r("yes_or_no")),
            Expecting::Slot { name, slot_type } => {
                let rule = type_rule(locale, slot_type, &mut custom)?;
                let about = name_words(name);
                // "I want" goes before a choice ("I want savings"), not a number.
                let choosing = locale.slot_types.iter().any(|t| t.name == *slot_type);
                let wanting = if choosing {
                    vec![phrase("i want"), phrase("i'd like"), phrase("the")]
                } else {
                    Vec::new()
                };
                let carriers = alt([
                    vec![
                        phrase("it's"),
                        phrase("it is"),
                        phrase("that's"),
                        phrase("that is"),
                    ],
                    wanting,
                    vec![seq(vec![
                        words(&["my", "the"]),
                        phrase(&about),
                        words(&["is", "is the"]),
                    ])],
                ]
                .concat());
                let value = seq(vec![opt(carriers), r(&rule)]);
                let mut alternatives = vec![value];
                // The caller may change the subject instead.
                alternatives.extend(intents);
                framed(alt(alternatives))
            }
        };
        let mut rules: BTreeMap<String, Expansion> = builtin_rules()
            .into_iter()
            .map(|(n, e)| (n.to_string(), e))
            .collect();
        rules.extend(custom);
        Some(Grammar { rules, top })
    }

    /// The grammar in JSGF, keeping only words `known` accepts; `None` if
    /// nothing can be said with them.
    pub fn to_jsgf(&self, known: &dyn Fn(&str) -> bool) -> Option<String> {
        let mut live: BTreeMap<&str, Option<Expansion>> = BTreeMap::new();
        let top = prune(&self.top, self, known, &mut live)?;
        let mut out = String::from("#JSGF V1.0;\ngrammar switchboard;\n");
        out.push_str("public <said> = ");
        write_expansion(&top, &mut out);
        out.push_str(";\n");
        for (name, rule) in &live {
            if let Some(rule) = rule {
                out.push_str(&format!("<{name}> = "));
                write_expansion(rule, &mut out);
                out.push_str(";\n");
            }
        }
        Some(out)
    }

    /// Every word the grammar may use, for checking against a dictionary.
    pub fn words(&self) -> Vec<&str> {
        let mut out = Vec::new();
        collect_words(&self.top, &mut out);
        for rule in self.rules.values() {
            collect_words(rule, &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn collect_words<'a>(e: &'a Expansion, out: &mut Vec<&'a str>) {
    match e {
        Expansion::Word(word) => out.push(word),
        Expansion::Rule(_) => {}
        Expansion::Seq(items) | Expansion::Alt(items) => {
            for item in items {
                collect_words(item, out);
            }
        }
        Expansion::Optional(item) | Expansion::Repeat(item) => collect_words(item, out),
    }
}

/// The expansion with unknown words' alternatives taken out; `None` if it
/// can say nothing. Rules are pruned once, on first use, into `live`.
fn prune<'g>(
    e: &Expansion,
    grammar: &'g Grammar,
    known: &dyn Fn(&str) -> bool,
    live: &mut BTreeMap<&'g str, Option<Expansion>>,
) -> Option<Expansion> {
    match e {
        Expansion::Word(word) => known(word).then(|| e.clone()),
        Expansion::Rule(name) => {
            let (key, rule) = grammar.rules.get_key_value(name.as_str())?;
            if !live.contains_key(key.as_str()) {
                // Rules do not refer to themselves (built that way), so
                // this ends; mark it first all the same.
                live.insert(key, None);
                let pruned = prune(rule, grammar, known, live);
                live.insert(key, pruned);
            }
            live.get(key.as_str())?.as_ref().map(|_| e.clone())
        }
        Expansion::Seq(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Expansion::Optional(inner) => {
                        if let Some(inner) = prune(inner, grammar, known, live) {
                            kept.push(opt(inner));
                        }
                    }
                    _ => kept.push(prune(item, grammar, known, live)?),
                }
            }
            (!kept.is_empty()).then(|| seq(kept))
        }
        Expansion::Alt(items) => {
            let kept: Vec<Expansion> = items
                .iter()
                .filter_map(|item| prune(item, grammar, known, live))
                .collect();
            (!kept.is_empty()).then(|| alt(kept))
        }
        Expansion::Optional(inner) => prune(inner, grammar, known, live).map(opt),
        Expansion::Repeat(inner) => {
            prune(inner, grammar, known, live).map(|i| Expansion::Repeat(Box::new(i)))
        }
    }
}

fn write_expansion(e: &Expansion, out: &mut String) {
    match e {
        Expansion::Word(word) => out.push_str(word),
        Expansion::Rule(name) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
        }
        Expansion::Seq(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_expansion(item, out);
            }
            out.push(')');
        }
        Expansion::Alt(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                write_expansion(item, out);
            }
            out.push(')');
        }
        Expansion::Optional(inner) => {
            out.push('[');
            write_expansion(inner, out);
            out.push(']');
        }
        Expansion::Repeat(inner) => {
            write_expansion(inner, out);
            out.push('+');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Engine {
        let bot: crate::Bot = serde_json::from_str(include_str!("../bots/demo-bank.json")).unwrap();
        Engine::new(&bot.locales[0]).unwrap()
    }

    #[test]
    fn intents_become_sentences_with_their_slots_as_rules() {
        let g = Grammar::for_expecting(&demo(), &Expecting::Intent).unwrap();
        let jsgf = g.to_jsgf(&|_| true).unwrap();
        assert!(jsgf.starts_with("#JSGF V1.0;"), "{jsgf}");
        assert!(jsgf.contains("check my balance"), "{jsgf}");
        assert!(
            jsgf.contains("<digits>") || jsgf.contains("<number>"),
            "{jsgf}"
        );
        assert!(jsgf.contains("<digit> = "), "{jsgf}");
    }

    #[test]
    fn unknown_words_drop_their_alternative_not_the_grammar() {
        let g = Grammar::for_expecting(&demo(), &Expecting::Confirmation).unwrap();
        let jsgf = g
            .to_jsgf(&|word| word != "yeah" && word != "correct")
            .unwrap();
        assert!(
            !jsgf.contains("yeah") && !jsgf.contains("correct"),
            "{jsgf}"
        );
        assert!(jsgf.contains("yes"), "{jsgf}");
        // With no word known, nothing can be said.
        assert!(g.to_jsgf(&|_| false).is_none());
    }

    #[test]
    fn rules_that_lose_every_word_are_not_referred_to() {
        let g = Grammar::for_expecting(&demo(), &Expecting::Intent).unwrap();
        let digit = |word: &str| matches!(word, "zero" | "oh") || ONES.contains(&word);
        let jsgf = g.to_jsgf(&|word| !digit(word)).unwrap();
        assert!(!jsgf.contains("<digit>"), "{jsgf}");
        assert!(!jsgf.contains("<digits>"), "{jsgf}");
    }

    #[test]
    fn an_elicited_slot_takes_its_values_with_carriers_or_another_intent() {
        let engine = demo();
        let slot = engine
            .locale
            .intents
            .iter()
            .flat_map(|i| i.slots.iter())
            .find(|s| s.slot_type == "Switchboard.Digits" || s.slot_type == "AMAZON.Number")
            .unwrap()
            .clone();
        let g = Grammar::for_expecting(
            &engine,
            &Expecting::Slot {
                name: slot.name.clone(),
                slot_type: slot.slot_type.clone(),
            },
        )
        .unwrap();
        let jsgf = g.to_jsgf(&|_| true).unwrap();
        assert!(jsgf.contains(&name_words(&slot.name)), "{jsgf}");
        assert!(jsgf.contains("check my balance"), "{jsgf}");
    }

    #[test]
    fn types_no_grammar_holds_mean_dictation() {
        let g = Grammar::for_expecting(
            &demo(),
            &Expecting::Slot {
                name: "Name".into(),
                slot_type: "AMAZON.FirstName".into(),
            },
        );
        assert!(g.is_none());
    }

    #[test]
    fn words_are_said_as_a_recogniser_spells_them() {
        assert_eq!(
            spoken_words("I'd like to check-in, please!"),
            ["i'd", "like", "to", "check", "in", "please"]
        );
        assert_eq!(name_words("AccountNumber"), "account number");
        assert_eq!(name_words("from_account"), "from account");
    }
}
