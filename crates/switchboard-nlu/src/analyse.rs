//! From what was said to what the ranker and the slot filler compare:
//! words corrected, values found and replaced by their type, meanings
//! grouped, endings removed.

use std::collections::BTreeSet;

use rust_stemmers::{Algorithm, Stemmer};

use crate::builtin::{self, BuiltIn, Context};
use crate::custom::CustomType;
use crate::lexicon::Lexicon;
use crate::text::{self, is_filler, Token};

/// A slot type as the analyser knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypeRef {
    /// A built-in type.
    BuiltIn(BuiltIn),
    /// The locale's custom type at this index.
    Custom(usize),
}

/// A value of some type found in an utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Its type.
    pub kind: TypeRef,
    /// First token.
    pub start: usize,
    /// One past the last token.
    pub end: usize,
    /// Canonical value.
    pub value: String,
}

/// An utterance taken apart.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The words, after correcting slips.
    pub tokens: Vec<Token>,
    /// Values found, not overlapping, in order.
    pub spans: Vec<Span>,
    /// What the ranker compares: grouped, stemmed words and type placeholders.
    pub terms: Vec<String>,
}

/// What an analyser needs from the locale.
pub struct Analyser {
    stemmer: Stemmer,
    lexicon: Lexicon,
    /// Built-in types that the locale's slots use, in the order they claim words.
    builtins: Vec<BuiltIn>,
    /// The locale's custom types.
    pub customs: Vec<CustomType>,
    /// Words the bot knows, to correct slips towards.
    known: BTreeSet<String>,
}

/// The order in which types claim words: the most distinctive first, so an
/// amount's number is not also an account number.
const CLAIM_ORDER: [BuiltIn; 12] = [
    BuiltIn::Email,
    BuiltIn::Currency,
    BuiltIn::Date,
    BuiltIn::Time,
    BuiltIn::PhoneNumber,
    BuiltIn::Digits,
    BuiltIn::AlphaNumeric,
    BuiltIn::Number,
    BuiltIn::FirstName,
    BuiltIn::LastName,
    BuiltIn::Confirmation,
    BuiltIn::FreeForm,
];

impl Analyser {
    /// An analyser for a locale whose slots use `builtins` and `customs`.
    pub fn new(
        builtins: &BTreeSet<BuiltIn>,
        customs: &[crate::model::SlotType],
        lexicon: Lexicon,
    ) -> Analyser {
        let stemmer = Stemmer::create(Algorithm::English);
        let stem = |w: &str| stemmer.stem(w).into_owned();
        let customs: Vec<CustomType> = customs.iter().map(|t| CustomType::new(t, &stem)).collect();
        let builtins = CLAIM_ORDER
            .into_iter()
            // Confirmation words ("right", "no") and free text are answers, not parts of a request.
            .filter(|b| {
                builtins.contains(b) && !matches!(b, BuiltIn::Confirmation | BuiltIn::FreeForm)
            })
            .collect();
        let mut known: BTreeSet<String> = lexicon.words().map(str::to_string).collect();
        known.extend(builtin::words().map(str::to_string));
        for c in &customs {
            known.extend(c.words().map(str::to_string));
        }
        Analyser {
            stemmer,
            lexicon,
            builtins,
            customs,
            known,
        }
    }

    /// Adds words the bot knows (from its sample utterances).
    pub fn learn(&mut self, utterance: &str) {
        for t in text::tokens(utterance) {
            if t.text.chars().all(char::is_alphabetic) {
                self.known.insert(t.text);
            }
        }
    }

    /// A word reduced for comparison.
    pub fn stem(&self, w: &str) -> String {
        self.stemmer.stem(w).into_owned()
    }

    /// A word the bot does not know, replaced by the one it knows that is a slip away.
    fn correct(&self, w: &str) -> Option<String> {
        if w.len() < 4
            || !w.chars().all(char::is_alphabetic)
            || self.known.contains(w)
            || crate::numbers::is_number_word(w)
        {
            return None;
        }
        let limit = if w.len() >= 8 { 2 } else { 1 };
        let mut best: Option<(usize, &String)> = None;
        for k in &self.known {
            if k.len().abs_diff(w.len()) > limit || k.len() < 3 {
                continue;
            }
            let d = strsim::damerau_levenshtein(w, k);
            if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, k));
            }
        }
        best.map(|(_, k)| k.clone())
    }

    /// Takes an utterance apart. `placeholders` are the `{Slot}` references of
    /// a sample utterance, already resolved to types; a customer's utterance has none.
    pub fn analyse(
        &self,
        utterance: &str,
        cx: &Context,
        placeholders: &dyn Fn(&str) -> Option<TypeRef>,
    ) -> Analysis {
        // A sample's "{Slot}" is one token of its own, kept as written.
        let mut tokens = Vec::new();
        let mut rest = utterance;
        while let Some((before, after)) = rest.split_once('{') {
            tokens.extend(text::tokens(before));
            match after.split_once('}') {
                Some((name, tail)) => {
                    tokens.push(Token {
                        text: format!("{{{}}}", name.trim()),
                        original: name.trim().to_string(),
                    });
                    rest = tail;
                }
                None => {
                    rest = after;
                }
            }
        }
        tokens.extend(text::tokens(rest));
        // An address said aloud is names, not words to correct ("gmail").
        let mut exempt = vec![false; tokens.len()];
        for f in builtin::find(BuiltIn::Email, &tokens, cx) {
            exempt[f.start..f.end].iter_mut().for_each(|e| *e = true);
        }
        for (t, exempt) in tokens.iter_mut().zip(exempt) {
            if exempt {
                continue;
            }
            if let Some(fixed) = self.correct(&t.text) {
                t.text = fixed;
            }
        }
        let spans = self.spans(&tokens, cx);
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        let mut terms = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if let Some(s) = spans.iter().filter(|s| s.start == i).max_by_key(|s| s.end) {
                terms.push(placeholder(s.kind));
                i = s.end;
                continue;
            }
            let w = words[i];
            // "{Amount}" in a sample utterance.
            if w.starts_with('{') && w.ends_with('}') {
                if let Some(kind) = placeholders(&tokens[i].original) {
                    terms.push(placeholder(kind));
                }
                i += 1;
                continue;
            }
            if let Some((head, len)) = self.lexicon.at(&words, i) {
                terms.push(self.stem(head));
                i += len;
                continue;
            }
            if !is_filler(w) {
                terms.push(self.stem(w));
            }
            i += 1;
        }
        Analysis {
            tokens,
            spans,
            terms,
        }
    }

    /// Every value the locale's types find, most distinctive type first.
    fn spans(&self, tokens: &[Token], cx: &Context) -> Vec<Span> {
        // Which type holds each word; custom types only exclude built-ins.
        let mut claimed: Vec<Option<TypeRef>> = vec![None; tokens.len()];
        let mut spans = Vec::new();
        let mut claim =
            |kind: TypeRef, start: usize, end: usize, value: String, spans: &mut Vec<Span>| {
                let free = claimed[start..end].iter().all(|c| match (c, kind) {
                    (None, _) => true,
                    (Some(TypeRef::Custom(a)), TypeRef::Custom(b)) => *a != b,
                    _ => false,
                });
                if end > start && free {
                    for c in &mut claimed[start..end] {
                        c.get_or_insert(kind);
                    }
                    spans.push(Span {
                        kind,
                        start,
                        end,
                        value,
                    });
                }
            };
        let stems: Vec<String> = tokens.iter().map(|t| self.stem(&t.text)).collect();
        // Dates, amounts and addresses first; then listed values; then plain
        // numbers and names, which would otherwise take their words.
        let distinctive = |b: &BuiltIn| {
            matches!(
                b,
                BuiltIn::Email
                    | BuiltIn::Currency
                    | BuiltIn::Date
                    | BuiltIn::Time
                    | BuiltIn::PhoneNumber
            )
        };
        for b in self.builtins.iter().filter(|b| distinctive(b)) {
            for f in builtin::find(*b, tokens, cx) {
                claim(TypeRef::BuiltIn(*b), f.start, f.end, f.value, &mut spans);
            }
        }
        self.custom_spans(&stems, &mut |k, s, e, v| claim(k, s, e, v, &mut spans));
        for b in self.builtins.iter().filter(|b| !distinctive(b)) {
            for f in builtin::find(*b, tokens, cx) {
                claim(TypeRef::BuiltIn(*b), f.start, f.end, f.value, &mut spans);
            }
        }
        spans.sort_by_key(|s| s.start);
        spans
    }

    /// Each custom type's values, found on their own: two types may list the
    /// same words ("credit card" as an account and as a card), and each
    /// slot must find its own. Words a built-in type took stay taken.
    fn custom_spans(&self, stems: &[String], claim: &mut dyn FnMut(TypeRef, usize, usize, String)) {
        for (c, custom) in self.customs.iter().enumerate() {
            let mut i = 0;
            while i < stems.len() {
                match custom.at(stems, i) {
                    Some((value, len)) => {
                        claim(TypeRef::Custom(c), i, i + len, value);
                        i += len;
                    }
                    None => i += 1,
                }
            }
        }
    }

    /// The custom type at `index`.
    pub fn custom(&self, index: usize) -> &CustomType {
        &self.customs[index]
    }
}

/// The term that stands for any value of a type.
pub fn placeholder(kind: TypeRef) -> String {
    match kind {
        TypeRef::BuiltIn(b) => b.placeholder().to_string(),
        TypeRef::Custom(c) => format!("#custom{c}"),
    }
}
