//! The intent ranker: which intent an utterance most likely means, with a
//! confidence from 0 to 1.
//!
//! ## Why a lexical ranker
//! It runs on two cores beside thousands of calls, needs no model download
//! and no GPU, answers in microseconds, and its result can be explained
//! (which sample matched, on which words). Sample utterances are few (10 to
//! 50 per intent, as in Lex), which suits nearest-neighbour matching better
//! than a trained classifier.
//!
//! ## How it scores
//! Each utterance becomes terms ([`crate::analyse`]): stemmed words with
//! one meaning grouped, values replaced by their type (`#amount`, `#date`),
//! plus adjacent pairs so word order counts a little. A term weighs by how
//! few intents use it (inverse document frequency over intents), so
//! "balance" tells more than "account". An intent's score blends the cosine
//! of the utterance with its nearest sample (a close paraphrase) and with
//! the sum of all its samples (words spread over many samples); the
//! confidence is that score, and below the locale's threshold the fallback
//! intent answers.

use std::collections::{BTreeMap, BTreeSet};

/// A weighted bag of terms.
type Vector = BTreeMap<String, f64>;

/// The share of the nearest sample in an intent's score; the rest is the centroid's.
const NEAREST_WEIGHT: f64 = 0.6;
/// The weight of a pair of adjacent terms against one term.
const PAIR_WEIGHT: f64 = 0.5;
/// The weight of a word no sample uses, against the rarest word samples use.
const UNKNOWN_WEIGHT: f64 = 0.5;

/// One intent's samples, ready to compare.
#[derive(Debug, Clone)]
struct IntentModel {
    name: String,
    samples: Vec<Vector>,
    centroid: Vector,
}

/// The ranker for one locale.
#[derive(Debug, Clone, Default)]
pub struct Ranker {
    intents: Vec<IntentModel>,
    idf: BTreeMap<String, f64>,
}

/// A candidate intent with its confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpretation {
    /// The intent's name.
    pub intent: String,
    /// From 0 (nothing alike) to 1 (said as a sample says it).
    pub confidence: f64,
}

fn features(terms: &[String]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = terms.iter().map(|t| (t.clone(), 1.0)).collect();
    for pair in terms.windows(2) {
        out.push((format!("{} {}", pair[0], pair[1]), PAIR_WEIGHT));
    }
    out
}

fn norm(v: &Vector) -> f64 {
    v.values().map(|x| x * x).sum::<f64>().sqrt()
}

fn cosine(a: &Vector, b: &Vector) -> f64 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let dot: f64 = small
        .iter()
        .filter_map(|(k, x)| large.get(k).map(|y| x * y))
        .sum();
    let n = norm(a) * norm(b);
    if n == 0.0 {
        0.0
    } else {
        dot / n
    }
}

impl Ranker {
    /// A ranker over intents given as (name, each sample's terms).
    pub fn new(intents: &[(String, Vec<Vec<String>>)]) -> Ranker {
        // Document frequency over intents, not samples: a word all samples of
        // one intent share is that intent's mark.
        let mut df: BTreeMap<String, usize> = BTreeMap::new();
        for (_, samples) in intents {
            let seen: BTreeSet<String> = samples
                .iter()
                .flat_map(|t| features(t))
                .map(|(k, _)| k)
                .collect();
            for k in seen {
                *df.entry(k).or_default() += 1;
            }
        }
        let n = intents.len().max(1) as f64;
        let idf: BTreeMap<String, f64> = df
            .into_iter()
            .map(|(k, d)| (k, (1.0 + n / d as f64).ln()))
            .collect();
        let vector = |terms: &[String], idf: &BTreeMap<String, f64>| -> Vector {
            let mut v = Vector::new();
            for (k, w) in features(terms) {
                if let Some(i) = idf.get(&k) {
                    let e = v.entry(k).or_default();
                    *e = f64::max(*e, w * i);
                }
            }
            v
        };
        let intents = intents
            .iter()
            .map(|(name, samples)| {
                let samples: Vec<Vector> = samples
                    .iter()
                    .map(|t| vector(t, &idf))
                    .filter(|v| !v.is_empty())
                    .collect();
                let mut centroid = Vector::new();
                for s in &samples {
                    let n = norm(s);
                    for (k, x) in s {
                        *centroid.entry(k.clone()).or_default() += x / n;
                    }
                }
                IntentModel {
                    name: name.clone(),
                    samples,
                    centroid,
                }
            })
            .collect();
        Ranker { intents, idf }
    }

    /// The intents in order of confidence, best first (ties by name).
    pub fn rank(&self, terms: &[String]) -> Vec<Interpretation> {
        let mut query = Vector::new();
        // Words no sample uses still count against a match: "what is the weather"
        // shares "what" with an intent, but says much else besides.
        let unknown_weight = UNKNOWN_WEIGHT * (1.0 + self.intents.len().max(1) as f64).ln();
        for (k, w) in features(terms) {
            let i = self.idf.get(&k).copied().unwrap_or(if k.contains(' ') {
                0.0
            } else {
                unknown_weight
            });
            if i > 0.0 {
                let e = query.entry(k).or_default();
                *e = f64::max(*e, w * i);
            }
        }
        let mut out: Vec<Interpretation> = self
            .intents
            .iter()
            .map(|m| {
                let nearest = m
                    .samples
                    .iter()
                    .map(|s| cosine(&query, s))
                    .fold(0.0, f64::max);
                let centroid = cosine(&query, &m.centroid);
                Interpretation {
                    intent: m.name.clone(),
                    confidence: (NEAREST_WEIGHT * nearest + (1.0 - NEAREST_WEIGHT) * centroid)
                        .clamp(0.0, 1.0),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then_with(|| a.intent.cmp(&b.intent))
        });
        out
    }
}
