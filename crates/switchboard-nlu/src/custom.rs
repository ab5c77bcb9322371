//! Custom slot types: listed values and their synonyms, found in what a
//! customer says whatever the word's ending ("savings", "saving") and
//! despite a typed slip ("chequing" for "checking" when listed, "savngs").

use crate::model::{Resolution, SlotType};

/// A custom slot type ready to match.
#[derive(Debug, Clone)]
pub struct CustomType {
    /// Its name.
    pub name: String,
    /// Whether only listed values count.
    pub restrict: bool,
    /// Each listed value or synonym as words, with the value it stands for;
    /// longest first so "credit card" wins over "card".
    entries: Vec<(Vec<String>, String)>,
}

impl CustomType {
    /// Compiles a slot type; `stem` is how words are reduced for comparison.
    pub fn new(t: &SlotType, stem: &dyn Fn(&str) -> String) -> CustomType {
        let mut entries = Vec::new();
        for v in &t.values {
            for said in std::iter::once(&v.value).chain(&v.synonyms) {
                let words: Vec<String> = crate::text::tokens(said)
                    .iter()
                    .map(|w| stem(&w.text))
                    .collect();
                if !words.is_empty() {
                    entries.push((words, v.value.clone()));
                }
            }
        }
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        entries.dedup();
        CustomType {
            name: t.name.clone(),
            restrict: t.resolution == Resolution::TopResolution,
            entries,
        }
    }

    /// The listed value said at `stems[i..]`, and how many words it took.
    pub fn at(&self, stems: &[String], i: usize) -> Option<(String, usize)> {
        self.entries.iter().find_map(|(words, value)| {
            let end = i + words.len();
            let hit = end <= stems.len()
                && words
                    .iter()
                    .zip(&stems[i..end])
                    .all(|(a, b)| same_word(a, b));
            hit.then(|| (value.clone(), words.len()))
        })
    }

    /// Every word of the listed values, for correcting slips.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .flat_map(|(w, _)| w.iter().map(String::as_str))
    }
}

/// Equal, or one slip apart in a word long enough for a slip to be clear.
pub fn same_word(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 5 && b.len() >= 5 && strsim::damerau_levenshtein(a, b) <= 1)
}
