//! Queue announcements said the way PBXs say them: from a small set of
//! pieces (the phrases, the numbers below a hundred, "three hundred",
//! "thousand", "and") each spoken once per voice and cached, so a caller's
//! place and wait never need a text-to-speech process of their own. Before,
//! each new position was a new sentence and a new espeak-ng run; at
//! thousands of queued callers those runs took more CPU than the calls.
//!
//! Pure: text in, pieces out. The library speaks and joins them.

use std::time::Duration;

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// The largest number said in words; more is said as this many "or more".
pub const LARGEST: u64 = 999_999;

/// A number below a hundred, as one piece ("forty-five").
fn below_hundred(n: u64) -> String {
    match n {
        0..=19 => ONES[n as usize].to_string(),
        _ if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_string(),
        _ => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
    }
}

/// A number below a thousand: "three hundred", "and", "forty-five".
fn below_thousand(n: u64, out: &mut Vec<String>) {
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        out.push(format!("{} hundred", ONES[hundreds as usize]));
        if rest > 0 {
            out.push("and".into());
        }
    }
    if rest > 0 || hundreds == 0 {
        out.push(below_hundred(rest));
    }
}

/// `n` in British English words, as pieces each worth caching on its own:
/// at most 100 + 9 + 2 distinct ones for every number up to [`LARGEST`].
pub fn number_pieces(n: u64) -> Vec<String> {
    let n = n.min(LARGEST);
    let mut out = Vec::new();
    let (thousands, rest) = (n / 1000, n % 1000);
    if thousands > 0 {
        below_thousand(thousands, &mut out);
        out.push("thousand".into());
        match rest {
            0 => {}
            1..=99 => {
                out.push("and".into());
                out.push(below_hundred(rest));
            }
            _ => below_thousand(rest, &mut out),
        }
    } else {
        below_thousand(rest, &mut out);
    }
    out
}

/// What a queued caller hears, as pieces to speak in turn: "Thank you for
/// waiting. You are caller number | two hundred | and | five | in the queue.
/// | Your expected wait is about | twelve | minutes."
pub fn announcement(position: usize, wait: Option<Duration>) -> Vec<String> {
    let mut out = Vec::new();
    if position <= 1 {
        out.push("Thank you for waiting. You are next in the queue.".to_string());
    } else {
        out.push("Thank you for waiting. You are caller number".to_string());
        out.extend(number_pieces(position as u64));
        out.push("in the queue.".to_string());
    }
    if let Some(wait) = wait {
        match wait.as_secs().div_ceil(60) {
            0 | 1 => out.push("Your expected wait is less than a minute.".to_string()),
            minutes => {
                out.push("Your expected wait is about".to_string());
                out.extend(number_pieces(minutes));
                out.push("minutes.".to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn said(n: u64) -> String {
        number_pieces(n).join(" ")
    }

    #[test]
    fn numbers_are_said_as_people_say_them() {
        assert_eq!(said(0), "zero");
        assert_eq!(said(7), "seven");
        assert_eq!(said(40), "forty");
        assert_eq!(said(45), "forty-five");
        assert_eq!(said(100), "one hundred");
        assert_eq!(said(105), "one hundred and five");
        assert_eq!(said(999), "nine hundred and ninety-nine");
        assert_eq!(said(1000), "one thousand");
        assert_eq!(said(1007), "one thousand and seven");
        assert_eq!(said(2345), "two thousand three hundred and forty-five");
        assert_eq!(said(20_000), "twenty thousand");
        assert_eq!(
            said(999_999),
            "nine hundred and ninety-nine thousand nine hundred and ninety-nine"
        );
        assert_eq!(said(5_000_000), said(LARGEST), "capped");
    }

    #[test]
    fn every_position_up_to_five_thousand_needs_few_distinct_pieces() {
        let mut pieces = BTreeSet::new();
        for position in 1..=5_000 {
            for wait in [
                None,
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(60 * (position as u64 % 90))),
            ] {
                pieces.extend(announcement(position, wait));
            }
        }
        // 100 numbers below a hundred, 9 hundreds, "thousand", "and", 6 phrases.
        assert!(pieces.len() <= 117, "{} pieces", pieces.len());
    }

    #[test]
    fn announcements_say_place_and_wait() {
        assert_eq!(
            announcement(1, None).join(" "),
            "Thank you for waiting. You are next in the queue."
        );
        assert_eq!(
            announcement(3, Some(Duration::from_secs(200))).join(" "),
            "Thank you for waiting. You are caller number three in the queue. Your expected wait is about four minutes."
        );
        assert!(announcement(2, Some(Duration::from_secs(30)))
            .join(" ")
            .ends_with("less than a minute."));
    }
}
