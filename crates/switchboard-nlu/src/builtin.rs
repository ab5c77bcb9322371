//! The built-in slot types: recognisers for values people say in many
//! ways (dates, times, amounts, numbers, phone numbers, addresses, names,
//! yes and no), each giving Lex's canonical form.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::numbers::{self, digit_run, group, numeral};
use crate::text::{is_filler, Token};

/// A built-in slot type, by Lex V2's name where Lex has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuiltIn {
    /// `AMAZON.Number`: a cardinal number, `250`.
    Number,
    /// `Switchboard.Digits`: a string of digits as said, `0123`.
    Digits,
    /// `AMAZON.AlphaNumeric`: letters and digits, `AB12C`.
    AlphaNumeric,
    /// `AMAZON.Date`: `2026-12-08`.
    Date,
    /// `AMAZON.Time`: `15:00`.
    Time,
    /// `AMAZON.Confirmation`: `Yes`, `No`, `Maybe`, `Don't know`.
    Confirmation,
    /// `AMAZON.PhoneNumber`: digits, with `+` when a country code is given.
    PhoneNumber,
    /// `AMAZON.EmailAddress`: `jane.doe@example.com`.
    Email,
    /// `AMAZON.FirstName`: `Maria`.
    FirstName,
    /// `AMAZON.LastName`: `Smith`.
    LastName,
    /// `Switchboard.Currency`: an amount of money, `250.00`.
    Currency,
    /// `AMAZON.FreeFormInput`: whatever was said.
    FreeForm,
}

impl BuiltIn {
    /// Every built-in type.
    pub const ALL: [BuiltIn; 12] = [
        BuiltIn::Number,
        BuiltIn::Digits,
        BuiltIn::AlphaNumeric,
        BuiltIn::Date,
        BuiltIn::Time,
        BuiltIn::Confirmation,
        BuiltIn::PhoneNumber,
        BuiltIn::Email,
        BuiltIn::FirstName,
        BuiltIn::LastName,
        BuiltIn::Currency,
        BuiltIn::FreeForm,
    ];

    /// The type's name in a bot definition (Lex V2's, or `Switchboard.` for ours).
    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::Number => "AMAZON.Number",
            BuiltIn::Digits => "Switchboard.Digits",
            BuiltIn::AlphaNumeric => "AMAZON.AlphaNumeric",
            BuiltIn::Date => "AMAZON.Date",
            BuiltIn::Time => "AMAZON.Time",
            BuiltIn::Confirmation => "AMAZON.Confirmation",
            BuiltIn::PhoneNumber => "AMAZON.PhoneNumber",
            BuiltIn::Email => "AMAZON.EmailAddress",
            BuiltIn::FirstName => "AMAZON.FirstName",
            BuiltIn::LastName => "AMAZON.LastName",
            BuiltIn::Currency => "Switchboard.Currency",
            BuiltIn::FreeForm => "AMAZON.FreeFormInput",
        }
    }

    /// The built-in type a name means, if it means one.
    pub fn from_name(name: &str) -> Option<BuiltIn> {
        BuiltIn::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The word that stands for any value of this type when utterances are
    /// compared: "pay #amount" matches "pay $20" and "pay fifty dollars".
    pub fn placeholder(self) -> &'static str {
        match self {
            BuiltIn::Number | BuiltIn::Digits | BuiltIn::AlphaNumeric => "#number",
            BuiltIn::Date => "#date",
            BuiltIn::Time => "#time",
            BuiltIn::Confirmation => "#confirmation",
            BuiltIn::PhoneNumber => "#phone",
            BuiltIn::Email => "#email",
            BuiltIn::FirstName | BuiltIn::LastName => "#name",
            BuiltIn::Currency => "#amount",
            BuiltIn::FreeForm => "#text",
        }
    }
}

/// A value found in an utterance: tokens `start..end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The first token.
    pub start: usize,
    /// One past the last token.
    pub end: usize,
    /// The value in the type's canonical form.
    pub value: String,
}

/// Where an utterance stands: the date that "tomorrow" counts from.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Today, in the contact's time zone.
    pub today: NaiveDate,
}

/// Every value of `kind` in the utterance, left to right, not overlapping.
pub fn find(kind: BuiltIn, tokens: &[Token], cx: &Context) -> Vec<Found> {
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let hit = match kind {
            BuiltIn::Number => number_at(&words, i),
            BuiltIn::Digits => digits_at(&words, i),
            BuiltIn::AlphaNumeric => alphanumeric_at(tokens, i),
            BuiltIn::Date => date_at(&words, i, cx.today),
            BuiltIn::Time => time_at(&words, i, false),
            BuiltIn::Confirmation => confirmation_at(&words, i),
            BuiltIn::PhoneNumber => phone_at(&words, i),
            BuiltIn::Email => email_at(&words, i),
            BuiltIn::FirstName | BuiltIn::LastName => name_at(tokens, i),
            BuiltIn::Currency => currency_at(&words, i, false),
            BuiltIn::FreeForm => None,
        };
        match hit {
            Some((end, value)) => {
                out.push(Found {
                    start: i,
                    end,
                    value,
                });
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

/// The value of an answer to "what is your ...?": the answer is mostly the
/// value, so a bare `3` is a time when a time was asked for, and a bare
/// `Maria` a name.
pub fn answer(kind: BuiltIn, tokens: &[Token], cx: &Context) -> Option<String> {
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    match kind {
        BuiltIn::FreeForm => {
            let text = tokens
                .iter()
                .map(|t| t.original.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            (!text.is_empty()).then_some(text)
        }
        BuiltIn::Time => (0..words.len())
            .find_map(|i| time_at(&words, i, true))
            .map(|(_, v)| v),
        BuiltIn::Currency => (0..words.len())
            .find_map(|i| currency_at(&words, i, true))
            .map(|(_, v)| v),
        BuiltIn::FirstName | BuiltIn::LastName => find(kind, tokens, cx)
            .into_iter()
            .next()
            .map(|f| f.value)
            .or_else(|| {
                // "Maria", "it is Maria please": the one word that is not filler.
                let names: Vec<&Token> = tokens
                    .iter()
                    .filter(|t| {
                        !is_filler(&t.text)
                            && t.text.chars().all(char::is_alphabetic)
                            && !matches!(t.text.as_str(), "name" | "called" | "its")
                    })
                    .collect();
                match names.as_slice() {
                    [one] => Some(capitalise(&one.original)),
                    _ => None,
                }
            }),
        BuiltIn::AlphaNumeric => {
            // Spelt out: "a b one two c".
            let mut s = String::new();
            let mut spelt = true;
            for w in &words {
                if w.len() == 1 && w.chars().all(|c| c.is_ascii_alphanumeric()) {
                    s.push_str(&w.to_uppercase());
                } else if let Some(g) = group(&[w]) {
                    s.push_str(&g.digits);
                } else if !is_filler(w) {
                    spelt = false;
                    break;
                }
            }
            if spelt && !s.is_empty() {
                return Some(s);
            }
            find(kind, tokens, cx).into_iter().next().map(|f| f.value)
        }
        _ => find(kind, tokens, cx).into_iter().next().map(|f| f.value),
    }
}

fn capitalise(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn number_at(words: &[&str], i: usize) -> Option<(usize, String)> {
    if i > 0 && matches!(words[i - 1], "$" | "£" | "€") {
        return None;
    }
    let g = group(&words[i..])?;
    Some((i + g.len, numbers::format_value(g.value)))
}

fn digits_at(words: &[&str], i: usize) -> Option<(usize, String)> {
    if i > 0 && digit_run(&words[i - 1..]).is_some() {
        return None;
    }
    let (digits, len) = digit_run(&words[i..])?;
    Some((i + len, digits))
}

fn alphanumeric_at(tokens: &[Token], i: usize) -> Option<(usize, String)> {
    let w = &tokens[i].text;
    let has_digit = w.chars().any(|c| c.is_ascii_digit());
    if has_digit && w.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some((i + 1, w.to_uppercase()));
    }
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
    digits_at(&words, i)
}

const MONTHS: [(&str, u32); 23] = [
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
];

fn month(w: &str) -> Option<u32> {
    if w == "dec" {
        return Some(12);
    }
    MONTHS.iter().find(|(n, _)| *n == w).map(|(_, m)| *m)
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// A day of the month: `20th`, `20`, `twentieth`, `twenty first`. Returns the day and tokens taken.
fn day_of_month(words: &[&str]) -> Option<(u32, usize)> {
    let w = *words.first()?;
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    if !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(suffix, "" | "st" | "nd" | "rd" | "th")
    {
        let d: u32 = digits.parse().ok()?;
        return (1..=31).contains(&d).then_some((d, 1));
    }
    let ordinal = |w: &str| -> Option<u32> {
        Some(match w {
            "first" => 1,
            "second" => 2,
            "third" => 3,
            "fourth" => 4,
            "fifth" => 5,
            "sixth" => 6,
            "seventh" => 7,
            "eighth" => 8,
            "ninth" => 9,
            "tenth" => 10,
            "eleventh" => 11,
            "twelfth" => 12,
            "thirteenth" => 13,
            "fourteenth" => 14,
            "fifteenth" => 15,
            "sixteenth" => 16,
            "seventeenth" => 17,
            "eighteenth" => 18,
            "nineteenth" => 19,
            "twentieth" => 20,
            "thirtieth" => 30,
            _ => return None,
        })
    };
    if let Some(d) = ordinal(w) {
        return Some((d, 1));
    }
    let tens = match w {
        "twenty" => 20,
        "thirty" => 30,
        _ => {
            let g = group(words)?;
            let d = g.value as u32;
            return (g.value.fract() == 0.0 && (1..=31).contains(&d)).then_some((d, g.len));
        }
    };
    if let Some(d) = words.get(1).and_then(|n| ordinal(n)).filter(|d| *d < 10) {
        return Some((tens + d, 2));
    }
    let g = group(words)?;
    let d = g.value as u32;
    (g.value.fract() == 0.0 && (1..=31).contains(&d)).then_some((d, g.len))
}

/// The first date on or after `today` with this month and day (a year later if passed).
fn next_occurrence(today: NaiveDate, month: u32, day: u32, year: Option<i32>) -> Option<NaiveDate> {
    if let Some(y) = year {
        return NaiveDate::from_ymd_opt(y, month, day);
    }
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this_year {
        Some(d) if d >= today => Some(d),
        _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
    }
}

fn year_at(words: &[&str], i: usize) -> Option<i32> {
    let w = *words.get(i)?;
    let y: i32 = w.parse().ok()?;
    (w.len() == 4 && (1900..=2200).contains(&y)).then_some(y)
}

fn date_at(words: &[&str], i: usize, today: NaiveDate) -> Option<(usize, String)> {
    let w = words[i];
    let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    // 2027-01-15
    if w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-' {
        if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
            return Some((i + 1, iso(d)));
        }
    }
    match w {
        "today" | "tonight" => return Some((i + 1, iso(today))),
        "tomorrow" | "tmrw" | "tomorow" | "tommorow" | "tommorrow" | "tomorrw" => {
            return Some((i + 1, iso(today + Duration::days(1))))
        }
        _ => {}
    }
    if w == "day" && words.get(i + 1) == Some(&"after") && words.get(i + 2) == Some(&"tomorrow") {
        return Some((i + 3, iso(today + Duration::days(2))));
    }
    // "in three days", "in a week" (a date within ten years; more is not a booking)
    if w == "in" {
        let rest = &words[i + 1..];
        let (n, len) = if rest.first() == Some(&"a") {
            (1i64, 1)
        } else {
            let g = group(rest)?;
            if !(0.0..=3650.0).contains(&g.value) {
                return None;
            }
            (g.value as i64, g.len)
        };
        let days = match rest.get(len) {
            Some(&("day" | "days")) => n,
            Some(&("week" | "weeks")) => n.checked_mul(7)?,
            _ => return None,
        };
        let date = today.checked_add_signed(Duration::try_days(days)?)?;
        return Some((i + 2 + len, iso(date)));
    }
    // "(this|next|on|coming) friday"
    let (lead, w) = match w {
        "this" | "next" | "coming" | "on" => (1, *words.get(i + 1)?),
        _ => (0, w),
    };
    if let Some(day) = weekday(w) {
        let mut d = today + Duration::days(1);
        while d.weekday() != day {
            d += Duration::days(1);
        }
        return Some((i + lead + 1, iso(d)));
    }
    // "december 20th", "dec 20 2027", "march the 3rd"
    if let Some(m) = month(words[i]) {
        let mut j = i + 1;
        if words.get(j) == Some(&"the") {
            j += 1;
        }
        let (day, len) = day_of_month(words.get(j..)?)?;
        let mut end = j + len;
        let year = year_at(words, end);
        if year.is_some() {
            end += 1;
        }
        return next_occurrence(today, m, day, year).map(|d| (end, iso(d)));
    }
    // "(the) 20th (of) december", "the 20th"
    let mut j = i;
    if words[j] == "the" {
        j += 1;
    }
    let (day, len) = day_of_month(words.get(j..)?)?;
    let ordinal_written = {
        let d = words[j];
        d.ends_with("st")
            || d.ends_with("nd")
            || d.ends_with("rd")
            || d.ends_with("th")
            || len == 2 && !d.chars().any(|c| c.is_ascii_digit())
    };
    let mut k = j + len;
    if words.get(k) == Some(&"of") {
        k += 1;
    }
    if let Some(m) = words.get(k).and_then(|w| month(w)) {
        let mut end = k + 1;
        let year = year_at(words, end);
        if year.is_some() {
            end += 1;
        }
        return next_occurrence(today, m, day, year).map(|d| (end, iso(d)));
    }
    if words[i] == "the" && ordinal_written {
        // The next such day of a month.
        let this_month =
            NaiveDate::from_ymd_opt(today.year(), today.month(), day).filter(|d| *d >= today);
        let d = this_month.or_else(|| {
            let (y, m) = if today.month() == 12 {
                (today.year() + 1, 1)
            } else {
                (today.year(), today.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, day)
        })?;
        return Some((j + len, iso(d)));
    }
    None
}

/// The hour word or numeral at `words[i]` (1 to 12 or 0 to 23), with minutes if written `9:15`.
fn clock(w: &str) -> Option<(u32, u32, Option<bool>)> {
    // "3pm", "9:15am", "15:30", "10a"
    let (body, meridiem) = if let Some(b) = w.strip_suffix("pm").or_else(|| w.strip_suffix("p.m")) {
        (b, Some(true))
    } else if let Some(b) = w.strip_suffix("am").or_else(|| w.strip_suffix("a.m")) {
        (b, Some(false))
    } else {
        (w, None)
    };
    let (h, m) = match body
        .split_once(':')
        .or_else(|| body.split_once('.').filter(|_| meridiem.is_some()))
    {
        Some((h, m)) => (h.parse().ok()?, m.parse().ok().filter(|_| m.len() == 2)?),
        None if body.chars().all(|c| c.is_ascii_digit()) && !body.is_empty() && body.len() <= 2 => {
            (body.parse().ok()?, 0)
        }
        None => return None,
    };
    (h < 24 && m < 60).then_some((h, m, meridiem))
}

fn hour_word(words: &[&str]) -> Option<(u32, usize)> {
    let g = group(words)?;
    let h = g.value as u32;
    (g.value.fract() == 0.0 && (1..=12).contains(&h) && !g.digits.contains('.'))
        .then_some((h, g.len))
}

fn minutes_word(words: &[&str]) -> Option<(u32, usize)> {
    if matches!(words.first(), Some(&("oh" | "o"))) {
        let g = group(&words[1..])?;
        let m = g.value as u32;
        return (m < 10).then_some((m, g.len + 1));
    }
    let g = group(words)?;
    let m = g.value as u32;
    (g.value.fract() == 0.0 && (1..60).contains(&m)).then_some((m, g.len))
}

/// "in the morning", "pm", "at night" after a time: whether it is afternoon, and tokens taken.
fn meridiem_after(words: &[&str]) -> (Option<bool>, usize) {
    match words {
        ["am" | "a.m" | "a", ..] => (Some(false), 1),
        ["pm" | "p.m" | "p", ..] => (Some(true), 1),
        ["in", "the", "morning", ..] => (Some(false), 3),
        ["in", "the", "afternoon" | "evening", ..] => (Some(true), 3),
        ["this", "morning", ..] => (Some(false), 2),
        ["this", "afternoon" | "evening", ..] => (Some(true), 2),
        ["at", "night", ..] | ["tonight", ..] => (Some(true), 1 + usize::from(words[0] == "at")),
        ["o'clock", rest @ ..] => {
            let (m, n) = meridiem_after(rest);
            (m, n + 1)
        }
        _ => (None, 0),
    }
}

fn to_24h(h: u32, meridiem: Option<bool>, guess: bool) -> Option<u32> {
    Some(match meridiem {
        Some(true) if h < 12 => h + 12,
        Some(true) => h,
        Some(false) if h == 12 => 0,
        Some(false) => h,
        None if h > 12 => h,
        // Business hours: "at 3" is three in the afternoon, "at 9" the morning.
        None if guess => {
            if (1..=7).contains(&h) {
                h + 12
            } else {
                h
            }
        }
        None => return None,
    })
}

fn time_at(words: &[&str], i: usize, answer: bool) -> Option<(usize, String)> {
    let fmt = |h: u32, m: u32| format!("{h:02}:{m:02}");
    let w = words[i];
    match w {
        "noon" | "midday" => return Some((i + 1, fmt(12, 0))),
        "midnight" => return Some((i + 1, fmt(0, 0))),
        _ => {}
    }
    // "half past ten", "quarter to four", "twenty past nine"
    let (offset, len) = match w {
        "half" => (Some(30), 1),
        "quarter" => (Some(15), 1),
        "a" if words.get(i + 1) == Some(&"quarter") => (Some(15), 2),
        _ => match minutes_word(&words[i..]) {
            Some((m, l))
                if matches!(
                    words.get(i + l),
                    Some(&("past" | "to" | "after" | "til" | "till"))
                ) =>
            {
                (Some(m), l)
            }
            _ => (None, 0),
        },
    };
    if let Some(offset) = offset {
        let dir = *words.get(i + len)?;
        let before = matches!(dir, "to" | "til" | "till");
        if !matches!(dir, "past" | "to" | "after" | "til" | "till") {
            return None;
        }
        let (h, hl) = hour_word(&words[i + len + 1..])?;
        let (meridiem, ml) = meridiem_after(&words[i + len + 1 + hl..]);
        let h = to_24h(h, meridiem, true)?;
        let (h, m) = if before {
            ((h + 23) % 24, 60 - offset)
        } else {
            (h, offset)
        };
        return Some((i + len + 1 + hl + ml, fmt(h, m)));
    }
    // "3pm", "9:15", "15:30", "3 pm", "three thirty in the afternoon", "at 3"
    let (h, mut m, written_meridiem, mut end) = if let Some((h, m, mer)) = clock(w) {
        let written_with_colon = w.contains(':') || mer.is_some();
        if !written_with_colon {
            // A bare numeral: a time only with a cue around it.
            let (after, _) = meridiem_after(&words[i + 1..]);
            let at_before = i > 0 && words[i - 1] == "at";
            if after.is_none() && !at_before && !answer && words.get(i + 1) != Some(&"o'clock") {
                return None;
            }
        }
        (h, m, mer, i + 1)
    } else {
        let (h, l) = hour_word(&words[i..])?;
        let (after, _) = meridiem_after(&words[i + l..]);
        // "three thirty pm": the part of day may follow the minutes.
        let after_minutes = minutes_word(&words[i + l..])
            .and_then(|(_, ml)| meridiem_after(&words[i + l + ml..]).0);
        let at_before = i > 0 && words[i - 1] == "at";
        if after.is_none()
            && after_minutes.is_none()
            && !at_before
            && !answer
            && words.get(i + l) != Some(&"o'clock")
        {
            return None;
        }
        // Words: "three thirty" only as a time with a cue.
        (h, 0, None, i + l)
    };
    if written_meridiem.is_none() && m == 0 && !w.contains(':') {
        if let Some((mm, ml)) = minutes_word(&words[end..]) {
            let (after, _) = meridiem_after(&words[end + ml..]);
            let at_before = i > 0 && words[i - 1] == "at";
            if after.is_some() || at_before || answer {
                m = mm;
                end += ml;
            }
        }
    }
    let (meridiem, ml) = match written_meridiem {
        Some(x) => (Some(x), 0),
        None => meridiem_after(&words[end..]),
    };
    let h = to_24h(h, meridiem, true)?;
    Some((end + ml, fmt(h, m)))
}

fn confirmation_at(words: &[&str], i: usize) -> Option<(usize, String)> {
    let yes = [
        "yes",
        "yeah",
        "yep",
        "yup",
        "ya",
        "yea",
        "sure",
        "correct",
        "right",
        "affirmative",
        "absolutely",
        "definitely",
        "certainly",
        "ok",
        "okay",
        "alright",
        "confirm",
        "confirmed",
        "please",
        "exactly",
        "indeed",
        "fine",
        "perfect",
        "great",
        "good",
    ];
    let no = [
        "no",
        "nope",
        "nah",
        "negative",
        "cancel",
        "wrong",
        "incorrect",
        "not",
        "don't",
        "never",
        "stop",
    ];
    let w = words[i];
    if no.contains(&w) {
        return Some((i + 1, "No".into()));
    }
    if matches!(w, "maybe" | "perhaps" | "possibly") {
        return Some((i + 1, "Maybe".into()));
    }
    if w == "dunno" || (w == "know" && i > 0 && words[i - 1] == "not") {
        return Some((i + 1, "Don't know".into()));
    }
    yes.contains(&w).then(|| (i + 1, "Yes".into()))
}

fn phone_at(words: &[&str], i: usize) -> Option<(usize, String)> {
    let (plus, start) = match words[i] {
        "plus" => (true, i + 1),
        w if w.starts_with('+') => (true, i),
        _ => (false, i),
    };
    if i > 0 && digit_run(&words[i - 1..]).is_some() && !plus {
        return None;
    }
    let mut rest: Vec<&str> = words.get(start..)?.to_vec();
    if let Some(first) = rest.first_mut() {
        *first = first.trim_start_matches('+');
    }
    let (digits, len) = digit_run(&rest)?;
    (7..=15).contains(&digits.len()).then(|| {
        (
            start + len,
            if plus { format!("+{digits}") } else { digits },
        )
    })
}

const TOP_LEVEL_DOMAINS: [&str; 16] = [
    "com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "de", "fr", "ca", "au", "info",
    "biz", "me",
];

fn email_at(words: &[&str], i: usize) -> Option<(usize, String)> {
    let w = words[i];
    if let Some((local, domain)) = w.split_once('@') {
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        return ok.then(|| (i + 1, w.to_string()));
    }
    // Said aloud: "jane dot doe at example dot com".
    let mut j = i;
    let mut local = String::new();
    let part = |w: &str| {
        w.chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_' || c == '-')
            && !w.is_empty()
    };
    if !part(words[j]) || matches!(words[j], "at" | "dot") {
        return None;
    }
    local.push_str(words[j]);
    j += 1;
    while let Some(&w) = words.get(j) {
        let sep = match w {
            "dot" | "period" => ".",
            "underscore" => "_",
            "dash" | "hyphen" => "-",
            _ => break,
        };
        let next = *words.get(j + 1)?;
        if !part(next) {
            return None;
        }
        local.push_str(sep);
        local.push_str(next);
        j += 2;
    }
    if words.get(j) != Some(&"at") {
        return None;
    }
    let mut domain = String::from(*words.get(j + 1)?);
    if !part(&domain) || domain == "dot" {
        return None;
    }
    j += 2;
    let mut labels = 0;
    while words.get(j) == Some(&"dot") {
        let next = *words.get(j + 1)?;
        domain.push('.');
        domain.push_str(next);
        j += 2;
        labels += 1;
    }
    let tld = domain.rsplit('.').next().unwrap_or("");
    (labels > 0 && (TOP_LEVEL_DOMAINS.contains(&tld) || tld.len() == 2))
        .then(|| (j, format!("{local}@{domain}")))
}

/// Words that follow "this is" or "I am" and are not names.
const NOT_NAMES: &[&str] = &[
    "not",
    "still",
    "very",
    "really",
    "so",
    "too",
    "back",
    "here",
    "afraid",
    "sorry",
    "unable",
    "new",
    "happy",
    "unhappy",
    "fed",
    "sure",
    "about",
    "urgent",
    "important",
    "ridiculous",
    "unacceptable",
    "terrible",
    "awful",
    "wrong",
    "correct",
    "right",
    "fine",
    "good",
    "bad",
    "an",
    "your",
    "our",
    "their",
    "his",
    "her",
    "from",
    "with",
    "without",
    "just",
    "also",
    "only",
    "about",
    "regarding",
    "over",
    "out",
    "off",
];

/// The words the built-in parsers know beside [`crate::vocabulary`]'s.
const OTHER_WORDS: &[&str] = &[
    "today",
    "tomorrow",
    "tonight",
    "morning",
    "afternoon",
    "evening",
    "night",
    "noon",
    "midday",
    "midnight",
    "half",
    "quarter",
    "past",
    "o'clock",
    "week",
    "weeks",
    "days",
    "next",
    "this",
    "coming",
    "zero",
    "hundred",
    "thousand",
    "million",
    "double",
    "triple",
    "point",
    "dollars",
    "dollar",
    "bucks",
    "cents",
    "pounds",
    "pence",
    "euros",
    "plus",
    "dot",
    "underscore",
    "dash",
    "hyphen",
    "yes",
    "yeah",
    "nope",
    "correct",
    "gmail",
    "hotmail",
    "yahoo",
    "outlook",
    "icloud",
];

/// Every word the built-in parsers know, so a slip is not "corrected" away from one.
pub fn words() -> impl Iterator<Item = &'static str> {
    use crate::vocabulary::{MONTHS, ONES, ORDINALS, TEENS, TENS, WEEKDAYS};
    [MONTHS, WEEKDAYS, ORDINALS, ONES, TEENS, TENS, OTHER_WORDS]
        .into_iter()
        .flatten()
        .copied()
}

/// Whether a built-in parser knows this word.
pub fn is_word(w: &str) -> bool {
    words().any(|known| known == w)
}

fn name_at(tokens: &[Token], i: usize) -> Option<(usize, String)> {
    let w = |k: usize| tokens.get(k).map(|t| t.text.as_str());
    let cue_len = match (w(i), w(i + 1), w(i + 2)) {
        (Some("name"), Some("is"), _) => 2,
        (Some("this"), Some("is"), _) => 2,
        (Some("it"), Some("is"), _) => 2,
        (Some("i"), Some("am"), _) => 2,
        (Some("ask"), Some("for"), _) => 2,
        _ => return None,
    };
    let name = tokens.get(i + cue_len)?;
    let w = name.text.as_str();
    let looks_like_name = w.chars().all(char::is_alphabetic)
        && w.len() > 1
        && !is_filler(w)
        && !w.ends_with("ing")
        && !w.ends_with("ed")
        && !NOT_NAMES.contains(&w)
        && !is_word(w);
    looks_like_name.then(|| (i + cue_len + 1, capitalise(&name.original)))
}

fn currency_at(words: &[&str], i: usize, answer: bool) -> Option<(usize, String)> {
    let money = |v: f64| format!("{v:.2}");
    let unit_word = |w: &str| {
        matches!(
            w,
            "dollars"
                | "dollar"
                | "bucks"
                | "buck"
                | "usd"
                | "pounds"
                | "pound"
                | "quid"
                | "gbp"
                | "euros"
                | "euro"
                | "eur"
        )
    };
    let cents_word = |w: &str| matches!(w, "cents" | "cent" | "pence" | "p");
    if matches!(words[i], "$" | "£" | "€") {
        let g = group(&words[i + 1..])?;
        let mut end = i + 1 + g.len;
        if words.get(end).is_some_and(|w| unit_word(w)) {
            end += 1;
        }
        return Some((end, money(g.value)));
    }
    if i > 0
        && (matches!(words[i - 1], "$" | "£" | "€")
            || group(&words[i - 1..]).is_some_and(|g| g.len > 1))
    {
        return None;
    }
    let g = group(&words[i..])?;
    let mut end = i + g.len;
    let mut value = g.value;
    let has_unit = words.get(end).is_some_and(|w| unit_word(w));
    if has_unit {
        end += 1;
        // "twenty dollars and fifty cents"
        if words.get(end) == Some(&"and") {
            if let Some(c) = group(&words[end + 1..]) {
                if words.get(end + 1 + c.len).is_some_and(|w| cents_word(w)) && c.value < 100.0 {
                    value += c.value / 100.0;
                    end += 2 + c.len;
                }
            }
        }
        return Some((end, money(value)));
    }
    if words.get(end).is_some_and(|w| cents_word(w)) && g.value < 100.0 {
        return Some((end + 1, money(g.value / 100.0)));
    }
    // A written amount with cents ("250.50") or, in an answer, any number.
    let decimal = numeral(words[i])
        .is_some_and(|(d, _)| d.split_once('.').is_some_and(|(_, f)| f.len() == 2));
    (answer || decimal).then(|| (end, money(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokens;

    fn cx() -> Context {
        Context {
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        }
    }

    fn first(kind: BuiltIn, s: &str) -> Option<String> {
        find(kind, &tokens(s), &cx())
            .into_iter()
            .next()
            .map(|f| f.value)
    }

    fn ans(kind: BuiltIn, s: &str) -> Option<String> {
        answer(kind, &tokens(s), &cx())
    }

    #[test]
    fn dates_relative_to_today() {
        assert_eq!(
            first(BuiltIn::Date, "can I come tomorrow"),
            Some("2026-12-08".into())
        );
        assert_eq!(
            first(BuiltIn::Date, "next friday please"),
            Some("2026-12-11".into())
        );
        assert_eq!(first(BuiltIn::Date, "on Monday"), Some("2026-12-14".into()));
        assert_eq!(
            first(BuiltIn::Date, "December 20th"),
            Some("2026-12-20".into())
        );
        assert_eq!(
            first(BuiltIn::Date, "the 3rd of March"),
            Some("2027-03-03".into())
        );
        assert_eq!(
            first(BuiltIn::Date, "march the third"),
            Some("2027-03-03".into())
        );
        assert_eq!(
            first(BuiltIn::Date, "on 2027-01-15"),
            Some("2027-01-15".into())
        );
        assert_eq!(
            first(BuiltIn::Date, "jan twenty first 2027"),
            Some("2027-01-21".into())
        );
        assert_eq!(first(BuiltIn::Date, "the 20th"), Some("2026-12-20".into()));
        assert_eq!(
            first(BuiltIn::Date, "in three days"),
            Some("2026-12-10".into())
        );
        assert_eq!(first(BuiltIn::Date, "may I book"), None);
        // Far futures are not dates, and never overflow.
        assert_eq!(first(BuiltIn::Date, "in 100000000 days"), None);
        assert_eq!(first(BuiltIn::Date, "in a hundred million weeks"), None);
    }

    #[test]
    fn times_with_their_part_of_day() {
        assert_eq!(first(BuiltIn::Time, "at 3pm"), Some("15:00".into()));
        assert_eq!(first(BuiltIn::Time, "9:15 am"), Some("09:15".into()));
        assert_eq!(
            first(BuiltIn::Time, "half past ten in the morning"),
            Some("10:30".into())
        );
        assert_eq!(
            first(BuiltIn::Time, "quarter to four in the afternoon"),
            Some("15:45".into())
        );
        assert_eq!(first(BuiltIn::Time, "around noon"), Some("12:00".into()));
        assert_eq!(
            first(BuiltIn::Time, "three thirty pm"),
            Some("15:30".into())
        );
        assert_eq!(first(BuiltIn::Time, "at 3"), Some("15:00".into()));
        assert_eq!(first(BuiltIn::Time, "14:30"), Some("14:30".into()));
        assert_eq!(first(BuiltIn::Time, "ten o'clock"), Some("10:00".into()));
        assert_eq!(first(BuiltIn::Time, "I have 3 cards"), None);
        assert_eq!(ans(BuiltIn::Time, "2"), Some("14:00".into()));
    }

    #[test]
    fn amounts_of_money() {
        assert_eq!(
            first(BuiltIn::Currency, "send $250 to savings"),
            Some("250.00".into())
        );
        assert_eq!(
            first(BuiltIn::Currency, "two hundred and fifty dollars"),
            Some("250.00".into())
        );
        assert_eq!(
            first(BuiltIn::Currency, "pay 1,200.50"),
            Some("1200.50".into())
        );
        assert_eq!(
            first(BuiltIn::Currency, "fifty bucks"),
            Some("50.00".into())
        );
        assert_eq!(
            first(BuiltIn::Currency, "20 dollars and 50 cents"),
            Some("20.50".into())
        );
        assert_eq!(first(BuiltIn::Currency, "move 3 thousand"), None);
        assert_eq!(ans(BuiltIn::Currency, "3 thousand"), Some("3000.00".into()));
    }

    #[test]
    fn phone_numbers_written_and_said() {
        assert_eq!(
            first(BuiltIn::PhoneNumber, "call me on +1 (415) 555-0123"),
            Some("+14155550123".into())
        );
        assert_eq!(
            first(BuiltIn::PhoneNumber, "07700 900123"),
            Some("07700900123".into())
        );
        assert_eq!(
            first(
                BuiltIn::PhoneNumber,
                "oh seven seven double oh nine oh oh one two three"
            ),
            Some("07700900123".into())
        );
        assert_eq!(first(BuiltIn::PhoneNumber, "room 12"), None);
    }

    #[test]
    fn email_addresses_written_and_said() {
        assert_eq!(
            first(BuiltIn::Email, "it's Jane.Doe@Example.com"),
            Some("jane.doe@example.com".into())
        );
        assert_eq!(
            first(BuiltIn::Email, "jane dot doe at example dot com"),
            Some("jane.doe@example.com".into())
        );
        assert_eq!(first(BuiltIn::Email, "look at that"), None);
    }

    #[test]
    fn numbers_digits_names_and_yes_no() {
        assert_eq!(
            first(BuiltIn::Digits, "account one two three four five six"),
            Some("123456".into())
        );
        assert_eq!(first(BuiltIn::Number, "twenty three"), Some("23".into()));
        assert_eq!(
            first(BuiltIn::FirstName, "hi my name is maria"),
            Some("Maria".into())
        );
        assert_eq!(ans(BuiltIn::FirstName, "Tom"), Some("Tom".into()));
        assert_eq!(ans(BuiltIn::Confirmation, "yes please"), Some("Yes".into()));
        assert_eq!(ans(BuiltIn::Confirmation, "no thanks"), Some("No".into()));
        assert_eq!(
            ans(BuiltIn::AlphaNumeric, "a b one two"),
            Some("AB12".into())
        );
        assert_eq!(BuiltIn::from_name("AMAZON.Date"), Some(BuiltIn::Date));
    }
}
