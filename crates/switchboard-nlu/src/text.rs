//! Text as the ranker and the slot parsers see it: lower case, contractions
//! spelled out, punctuation gone except where it is part of a value (an
//! amount's `1,200.50`, a time's `9:15`, an address's `@`).

/// One word of an utterance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word in lower case, with the punctuation that frames it removed.
    pub text: String,
    /// The word as the customer wrote it (case kept), for values such as names.
    pub original: String,
}

/// Splits an utterance into words.
///
/// Currency symbols become their own token (`$250` is `$`, `250`); a
/// sentence's final full stop goes, but the dots inside `jane.doe@x.com` or
/// `3.50` stay.
pub fn tokens(utterance: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for raw in utterance.split_whitespace() {
        let raw = raw.replace(['\u{2019}', '\u{2018}'], "'");
        let mut rest = raw.as_str();
        // Leading symbols: currency is a word of its own; the rest goes.
        while let Some(c) = rest.chars().next() {
            if matches!(c, '$' | '£' | '€') {
                out.push(token(&c.to_string()));
                rest = &rest[c.len_utf8()..];
            } else if c == '+' && rest[1..].starts_with(|d: char| d.is_ascii_digit()) {
                break;
            } else if !c.is_alphanumeric() {
                rest = &rest[c.len_utf8()..];
            } else {
                break;
            }
        }
        let trimmed = rest.trim_end_matches(|c: char| !c.is_alphanumeric());
        if trimmed.is_empty() {
            continue;
        }
        for word in expand_contraction(trimmed) {
            out.push(word);
        }
    }
    out
}

fn token(s: &str) -> Token {
    Token {
        text: s.to_lowercase(),
        original: s.to_string(),
    }
}

/// `I'd` is `I would`, `can't` is `can not`, `card's` is `card`.
fn expand_contraction(word: &str) -> Vec<Token> {
    let lower = word.to_lowercase();
    let whole = |parts: &[&str]| parts.iter().map(|p| token(p)).collect::<Vec<_>>();
    match lower.as_str() {
        "can't" | "cannot" => return whole(&["can", "not"]),
        "won't" => return whole(&["will", "not"]),
        "shan't" => return whole(&["shall", "not"]),
        "let's" => return whole(&["let", "us"]),
        "i'm" => return whole(&["i", "am"]),
        "o'clock" => return whole(&["o'clock"]),
        _ => {}
    }
    for (suffix, expansion) in [
        ("n't", "not"),
        ("'re", "are"),
        ("'ve", "have"),
        ("'ll", "will"),
        ("'d", "would"),
        ("'m", "am"),
    ] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            if !stem.is_empty() {
                return vec![token(prefix(word, &lower, stem)), token(expansion)];
            }
        }
    }
    if let Some(stem) = lower.strip_suffix("'s") {
        // "what's" and "it's" are "is"; a possessive drops its "'s".
        let keep = prefix(word, &lower, stem);
        if matches!(
            stem,
            "what" | "it" | "that" | "there" | "here" | "where" | "who" | "how" | "he" | "she"
        ) {
            return vec![token(keep), token("is")];
        }
        return vec![token(keep)];
    }
    vec![token(word)]
}

/// The start of `word` that `stem` (a prefix of its lower case) stands for,
/// case kept where lower-casing kept the length.
fn prefix<'a>(word: &'a str, lower: &'a str, stem: &'a str) -> &'a str {
    if word.len() == lower.len() {
        &word[..stem.len()]
    } else {
        stem
    }
}

/// Words that carry no meaning for telling intents apart.
pub fn is_filler(word: &str) -> bool {
    matches!(
        word,
        "a" | "an"
            | "the"
            | "um"
            | "uh"
            | "erm"
            | "er"
            | "hmm"
            | "hi"
            | "hello"
            | "hey"
            | "please"
            | "pls"
            | "plz"
            | "thanks"
            | "thank"
            | "you"
            | "ok"
            | "okay"
            | "so"
            | "just"
            | "well"
            | "oh"
            | "yeah"
            | "i"
            | "me"
            | "my"
            | "is"
            | "am"
            | "are"
            | "be"
            | "it"
            | "to"
            | "of"
            | "and"
            | "there"
            | "would"
            | "could"
            | "can"
            | "like"
            | "want"
            | "wanna"
            | "need"
            | "do"
            | "does"
            | "did"
            | "some"
            | "that"
            | "this"
            | "for"
            | "on"
            | "in"
            | "at"
            | "with"
            | "get"
            | "have"
            | "has"
            | "had"
            | "will"
            | "was"
            | "were"
            | "been"
            | "now"
            | "today"
            | "again"
            | "there's"
            | "im"
            | "u"
            | "ur"
            | "your"
            | "yours"
            | "we"
            | "our"
            | "us"
            | "sir"
            | "madam"
            | "maam"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokens(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn contractions_are_spelled_out() {
        assert_eq!(words("I'd like to"), ["i", "would", "like", "to"]);
        assert_eq!(words("I can't log in"), ["i", "can", "not", "log", "in"]);
        assert_eq!(words("what's my balance?"), ["what", "is", "my", "balance"]);
        assert_eq!(words("my wife's card"), ["my", "wife", "card"]);
        assert_eq!(words("don’t"), ["do", "not"]);
    }

    #[test]
    fn values_keep_their_punctuation() {
        assert_eq!(
            words("send $1,200.50 now."),
            ["send", "$", "1,200.50", "now"]
        );
        assert_eq!(words("at 9:15."), ["at", "9:15"]);
        assert_eq!(words("(Jane.Doe@Example.com)"), ["jane.doe@example.com"]);
        assert_eq!(words("call +1 415"), ["call", "+1", "415"]);
    }
}
