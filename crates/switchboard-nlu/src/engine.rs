//! A locale compiled for answering: the analyser, the ranker, and each
//! intent's slots with the words that introduce them.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyse::{Analyser, Analysis, TypeRef};
use crate::builtin::{self, BuiltIn, Context};
use crate::classify::{Interpretation, Ranker};
use crate::lexicon::Lexicon;
use crate::model::{Intent, Locale, Problem};
use crate::text;

/// The name Lex gives the fallback intent when a bot defines none.
pub const FALLBACK: &str = "FallbackIntent";

/// A slot ready to fill.
#[derive(Debug, Clone)]
struct SlotModel {
    name: String,
    kind: TypeRef,
    /// Words that come just before it in samples ("from" for `FromAccount`).
    cues: BTreeSet<String>,
    /// Its place among the intent's slots of the same type, by first appearance in samples.
    order: usize,
}

/// What an utterance was understood to mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognition {
    /// The intent: the best one, or the fallback when it is not confident enough.
    pub intent: String,
    /// The best candidates with their confidence (Lex's interpretations), best first.
    pub interpretations: Vec<Interpretation>,
    /// The slots of `intent` that the utterance filled.
    pub slots: BTreeMap<String, String>,
}

/// A locale ready to understand customers.
pub struct Engine {
    /// The bot's name (what code hook requests call it); empty until the shell names it.
    pub bot_name: String,
    /// The locale it was built from.
    pub locale: Locale,
    analyser: Analyser,
    ranker: Ranker,
    slots: BTreeMap<String, Vec<SlotModel>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("locale", &self.locale.locale_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Compiles a locale, with the built-in lexicon.
    pub fn new(locale: &Locale) -> Result<Engine, Vec<Problem>> {
        Engine::with_lexicon(locale, Lexicon::builtin())
    }

    /// Compiles a locale with a given lexicon (the benchmark compares with none).
    pub fn with_lexicon(locale: &Locale, lexicon: Lexicon) -> Result<Engine, Vec<Problem>> {
        let bot = crate::model::Bot {
            name: "bot".into(),
            description: String::new(),
            idle_session_ttl_seconds: 300,
            locales: vec![locale.clone()],
        };
        let problems = bot.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let type_of = |name: &str| -> TypeRef {
            match BuiltIn::from_name(name) {
                Some(b) => TypeRef::BuiltIn(b),
                None => TypeRef::Custom(
                    locale
                        .slot_types
                        .iter()
                        .position(|t| t.name == name)
                        .unwrap_or(0),
                ),
            }
        };
        let builtins: BTreeSet<BuiltIn> = locale
            .intents
            .iter()
            .flat_map(|i| &i.slots)
            .filter_map(|s| BuiltIn::from_name(&s.slot_type))
            .collect();
        let mut analyser = Analyser::new(&builtins, &locale.slot_types, lexicon);
        for i in &locale.intents {
            for u in &i.sample_utterances {
                analyser.learn(u);
            }
        }
        // A fixed day: samples carry no dates of their own that depend on it.
        let cx = Context {
            today: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
        };
        let mut ranked = Vec::new();
        let mut slots = BTreeMap::new();
        for intent in locale.intents.iter().filter(|i| !i.fallback) {
            let lookup = |name: &str| {
                intent
                    .slots
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| type_of(&s.slot_type))
            };
            let samples: Vec<Vec<String>> = intent
                .sample_utterances
                .iter()
                .map(|u| analyser.analyse(u, &cx, &lookup).terms)
                .collect();
            ranked.push((intent.name.clone(), samples));
            slots.insert(intent.name.clone(), slot_models(intent, &type_of));
        }
        Ok(Engine {
            bot_name: String::new(),
            ranker: Ranker::new(&ranked),
            analyser,
            slots,
            locale: locale.clone(),
        })
    }

    /// The fallback intent's name.
    pub fn fallback(&self) -> &str {
        self.locale
            .intents
            .iter()
            .find(|i| i.fallback)
            .map_or(FALLBACK, |i| i.name.as_str())
    }

    /// The intent definition by name.
    pub fn intent(&self, name: &str) -> Option<&Intent> {
        self.locale.intents.iter().find(|i| i.name == name)
    }

    /// What an utterance means: the intent and the slots it fills.
    pub fn recognise(&self, utterance: &str, cx: &Context) -> Recognition {
        let analysis = self.analyser.analyse(utterance, cx, &|_| None);
        let interpretations: Vec<Interpretation> = self
            .ranker
            .rank(&analysis.terms)
            .into_iter()
            .take(5)
            .collect();
        let best = interpretations
            .first()
            .filter(|b| b.confidence >= self.locale.nlu_confidence_threshold && b.confidence > 0.0);
        let intent = best.map_or_else(|| self.fallback().to_string(), |b| b.intent.clone());
        let slots = self.fill(&intent, &analysis);
        Recognition {
            intent,
            interpretations,
            slots,
        }
    }

    /// The slots of `intent` that an analysed utterance fills.
    fn fill(&self, intent: &str, a: &Analysis) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(models) = self.slots.get(intent) else {
            return out;
        };
        let mut used = vec![false; a.spans.len()];
        // The word before a value, skipping filler ("to my savings" -> "to").
        let cue_before = |start: usize| -> Option<&str> {
            a.tokens[..start]
                .iter()
                .rev()
                .map(|t| t.text.as_str())
                .find(|w| !matches!(*w, "my" | "the" | "a" | "an" | "our" | "me"))
        };
        // First the slots whose cue word is right there.
        for m in models {
            let hit = a.spans.iter().enumerate().find(|(n, s)| {
                !used[*n]
                    && fits(m.kind, s).is_some()
                    && cue_before(s.start).is_some_and(|c| m.cues.contains(c))
            });
            if let Some((n, s)) = hit {
                used[n] = true;
                out.insert(m.name.clone(), fits(m.kind, s).unwrap_or_default());
            }
        }
        // Then the rest in the order samples name them.
        let mut by_order: Vec<&SlotModel> = models
            .iter()
            .filter(|m| !out.contains_key(&m.name))
            .collect();
        by_order.sort_by_key(|m| m.order);
        for m in by_order {
            let same_type_cued_elsewhere =
                models.iter().any(|o| o.name != m.name && o.kind == m.kind);
            let hit = a.spans.iter().enumerate().find(|(n, s)| {
                !used[*n]
                    && fits(m.kind, s).is_some()
                    && !(same_type_cued_elsewhere
                        && cue_before(s.start).is_some_and(|c| {
                            models
                                .iter()
                                .any(|o| o.name != m.name && o.cues.contains(c))
                        }))
            });
            if let Some((n, s)) = hit {
                used[n] = true;
                out.insert(m.name.clone(), fits(m.kind, s).unwrap_or_default());
            }
        }
        // An amount said without "dollars": the one number no other slot took.
        let unfilled: Vec<&SlotModel> = models
            .iter()
            .filter(|m| m.kind == TypeRef::BuiltIn(BuiltIn::Currency) && !out.contains_key(&m.name))
            .collect();
        for m in unfilled {
            let words: Vec<&str> = a.tokens.iter().map(|t| t.text.as_str()).collect();
            let claimed = |i: usize| {
                a.spans
                    .iter()
                    .enumerate()
                    .any(|(n, s)| used[n] && (s.start..s.end).contains(&i))
            };
            let found = (0..words.len()).find(|i| {
                !claimed(*i)
                    && crate::numbers::group(&words[*i..]).is_some()
                    && (*i == 0 || crate::numbers::group(&words[i - 1..]).is_none())
            });
            if let Some(i) = found {
                if let Some(g) = crate::numbers::group(&words[i..]) {
                    out.insert(m.name.clone(), format!("{:.2}", g.value));
                }
            }
        }
        out
    }

    /// The slots of `intent` that an utterance fills, whatever intent it sounds like.
    pub fn recognise_for(
        &self,
        intent: &str,
        utterance: &str,
        cx: &Context,
    ) -> BTreeMap<String, String> {
        let analysis = self.analyser.analyse(utterance, cx, &|_| None);
        self.fill(intent, &analysis)
    }

    /// The value of `slot` of `intent` in an answer to its prompt; `None` if
    /// the answer holds none.
    pub fn answer(
        &self,
        intent: &str,
        slot: &str,
        utterance: &str,
        cx: &Context,
    ) -> Option<String> {
        let m = self.slots.get(intent)?.iter().find(|m| m.name == slot)?;
        match m.kind {
            TypeRef::BuiltIn(b) => builtin::answer(b, &text::tokens(utterance), cx),
            TypeRef::Custom(c) => {
                let a = self.analyser.analyse(utterance, cx, &|_| None);
                if let Some(s) = a.spans.iter().find(|s| s.kind == m.kind) {
                    return Some(s.value.clone());
                }
                let custom = self.analyser.custom(c);
                if custom.restrict {
                    return None;
                }
                // Expand: what was said, less the filler around it.
                let words: Vec<&str> = a
                    .tokens
                    .iter()
                    .map(|t| t.original.as_str())
                    .filter(|w| !text::is_filler(&w.to_lowercase()))
                    .collect();
                (!words.is_empty()).then(|| words.join(" "))
            }
        }
    }

    /// Yes, no, or neither, in an answer to a confirmation prompt.
    pub fn confirmation(&self, utterance: &str, cx: &Context) -> Option<bool> {
        let tokens = text::tokens(utterance);
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        // "not really", "no", "don't": any no wins over a polite "please".
        let found = builtin::find(BuiltIn::Confirmation, &tokens, cx);
        if found.iter().any(|f| f.value == "No") || words.windows(2).any(|w| w == ["do", "not"]) {
            return Some(false);
        }
        found.iter().any(|f| f.value == "Yes").then_some(true)
    }
}

/// The value a span gives a slot of type `kind`: its own, or a number
/// found as another kind of number ("12345678" looks like a phone number,
/// but an account number slot takes it).
fn fits(kind: TypeRef, span: &crate::analyse::Span) -> Option<String> {
    use BuiltIn::*;
    let TypeRef::BuiltIn(want) = kind else {
        return (span.kind == kind).then(|| span.value.clone());
    };
    let TypeRef::BuiltIn(got) = span.kind else {
        return None;
    };
    let all_digits = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit());
    match (want, got) {
        _ if want == got => Some(span.value.clone()),
        (Digits | AlphaNumeric, PhoneNumber | Number)
            if all_digits(span.value.trim_start_matches('+')) =>
        {
            Some(span.value.trim_start_matches('+').to_string())
        }
        (Number, Digits | PhoneNumber) if all_digits(&span.value) => Some(span.value.clone()),
        (PhoneNumber, Digits | Number)
            if all_digits(&span.value) && (7..=15).contains(&span.value.len()) =>
        {
            Some(span.value.clone())
        }
        (AlphaNumeric, Digits) => Some(span.value.clone()),
        _ => None,
    }
}

fn slot_models(intent: &Intent, type_of: &dyn Fn(&str) -> TypeRef) -> Vec<SlotModel> {
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cues: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut position = 0;
    for u in &intent.sample_utterances {
        let mut previous: Option<String> = None;
        let mut rest = u.as_str();
        while let Some((before, after)) = rest.split_once('{') {
            let words: Vec<String> = text::tokens(before)
                .into_iter()
                .map(|t| t.text)
                .filter(|w| !matches!(w.as_str(), "my" | "the" | "a" | "an" | "our" | "me"))
                .collect();
            if let Some(w) = words.last() {
                previous = Some(w.clone());
            }
            let Some((name, tail)) = after.split_once('}') else {
                break;
            };
            let name = name.trim();
            if let Some(slot) = intent.slots.iter().find(|s| s.name == name) {
                first_seen.entry(slot.name.as_str()).or_insert_with(|| {
                    position += 1;
                    position
                });
                if let Some(p) = previous.take() {
                    cues.entry(slot.name.as_str()).or_default().insert(p);
                }
            }
            previous = None;
            rest = tail;
        }
    }
    let mut models: Vec<SlotModel> = intent
        .slots
        .iter()
        .enumerate()
        .map(|(n, s)| SlotModel {
            name: s.name.clone(),
            kind: type_of(&s.slot_type),
            cues: cues.remove(s.name.as_str()).unwrap_or_default(),
            order: first_seen.get(s.name.as_str()).copied().unwrap_or(1000 + n),
        })
        .collect();
    // A cue two slots of one type share tells neither apart.
    let mut count: BTreeMap<(TypeRef, String), usize> = BTreeMap::new();
    for m in &models {
        for c in &m.cues {
            *count.entry((m.kind, c.clone())).or_default() += 1;
        }
    }
    for m in &mut models {
        let kind = m.kind;
        m.cues
            .retain(|c| count.get(&(kind, c.clone())).is_none_or(|n| *n < 2));
    }
    models
}
