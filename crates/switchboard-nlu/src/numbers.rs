//! Numbers as people write and say them: `250`, `1,200.50`, `two hundred
//! and fifty`, `one two three four`, `double five`, `oh seven`.

/// A run of number words or a numeral, read as one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The value's decimal digits, no separators (`1200.50` keeps its point).
    pub digits: String,
    /// The value.
    pub value: f64,
    /// How many tokens it took.
    pub len: usize,
    /// Whether it was a single digit word ("five"), which strings into digit sequences.
    pub single_digit: bool,
}

fn unit(w: &str) -> Option<u64> {
    Some(match w {
        "zero" | "nought" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn teen(w: &str) -> Option<u64> {
    Some(match w {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens(w: &str) -> Option<u64> {
    Some(match w {
        "twenty" => 20,
        "thirty" => 30,
        "forty" | "fourty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

fn scale(w: &str) -> Option<u64> {
    Some(match w {
        "thousand" | "grand" | "k" => 1_000,
        "million" => 1_000_000,
        _ => return None,
    })
}

/// Whether `w` is a number word or numeral (for "oh" as zero and "and" inside numbers).
pub fn is_number_word(w: &str) -> bool {
    unit(w).is_some()
        || teen(w).is_some()
        || tens(w).is_some()
        || w == "hundred"
        || numeral(w).is_some()
        || matches!(w, "double" | "triple")
}

/// `1,200.50` as digits `1200.50` and its value; `None` for anything else.
pub fn numeral(w: &str) -> Option<(String, f64)> {
    let w = w.strip_prefix('+').unwrap_or(w);
    let first = w.chars().next()?;
    if !first.is_ascii_digit()
        || !w
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return None;
    }
    let digits: String = w.chars().filter(|c| *c != ',').collect();
    if digits.matches('.').count() > 1 || digits.ends_with('.') {
        return None;
    }
    let value = digits.parse::<f64>().ok()?;
    Some((digits, value))
}

/// The number that starts at `words[0]`, if one does.
pub fn group(words: &[&str]) -> Option<Group> {
    let first = *words.first()?;
    if let Some((digits, value)) = numeral(first) {
        // "5 thousand"
        if let Some(m) = words.get(1).and_then(|w| scale(w)) {
            if !digits.contains('.') || value.fract() != 0.0 {
                let value = value * m as f64;
                return Some(Group {
                    digits: format_value(value),
                    value,
                    len: 2,
                    single_digit: false,
                });
            }
        }
        return Some(Group {
            single_digit: digits.len() == 1,
            digits,
            value,
            len: 1,
        });
    }
    if matches!(first, "double" | "triple") {
        let times = if first == "double" { 2 } else { 3 };
        let d = words.get(1).and_then(|w| digit_word(w, true))?;
        return Some(Group {
            digits: d.to_string().repeat(times),
            value: 0.0,
            len: 2,
            single_digit: true,
        });
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut i = 0;
    // What the last word was, which decides what may follow.
    #[derive(PartialEq, Clone, Copy)]
    enum Last {
        Nothing,
        Unit,
        Teen,
        Tens,
        Hundred,
        Scale,
    }
    let mut last = Last::Nothing;
    while let Some(w) = words.get(i) {
        let w = *w;
        if w == "a" && last == Last::Nothing {
            if words
                .get(i + 1)
                .is_some_and(|n| *n == "hundred" || scale(n).is_some())
            {
                current = 1;
                last = Last::Unit;
                i += 1;
                continue;
            }
            break;
        }
        if let Some(u) = unit(w) {
            match last {
                Last::Nothing | Last::Hundred | Last::Scale => current += u,
                Last::Tens => current += u,
                _ => break,
            }
            last = Last::Unit;
        } else if let Some(t) = teen(w) {
            match last {
                Last::Nothing | Last::Hundred | Last::Scale => current += t,
                _ => break,
            }
            last = Last::Teen;
        } else if let Some(t) = tens(w) {
            match last {
                Last::Nothing | Last::Hundred | Last::Scale => current += t,
                _ => break,
            }
            last = Last::Tens;
        } else if w == "hundred" {
            if !matches!(last, Last::Unit | Last::Teen | Last::Tens)
                || current.is_multiple_of(100)
                || current >= 100
            {
                break;
            }
            // "nineteen hundred", "five hundred": only the part since the last scale.
            current *= 100;
            last = Last::Hundred;
        } else if let Some(m) = scale(w) {
            if last == Last::Nothing || last == Last::Scale || current == 0 {
                break;
            }
            total = total.saturating_add(current.saturating_mul(m));
            current = 0;
            last = Last::Scale;
        } else if w == "and"
            && matches!(last, Last::Hundred | Last::Scale)
            && words
                .get(i + 1)
                .is_some_and(|n| unit(n).is_some() || teen(n).is_some() || tens(n).is_some())
        {
            // "two hundred and fifty"
        } else {
            break;
        }
        i += 1;
    }
    if last == Last::Nothing {
        // "oh" as zero, only beside other digits.
        if matches!(first, "oh" | "o") {
            let next_is_digit = words.get(1).is_some_and(|w| {
                digit_word(w, true).is_some()
                    || numeral(w).is_some()
                    || matches!(*w, "double" | "triple")
            });
            if next_is_digit {
                return Some(Group {
                    digits: "0".into(),
                    value: 0.0,
                    len: 1,
                    single_digit: true,
                });
            }
        }
        return None;
    }
    let mut value = total.saturating_add(current) as f64;
    let mut digits = total.saturating_add(current).to_string();
    // "four point five"
    if words.get(i) == Some(&"point") {
        let mut fraction = String::new();
        let mut j = i + 1;
        while let Some(d) = words.get(j).and_then(|w| digit_word(w, true)) {
            fraction.push(char::from(b'0' + d as u8));
            j += 1;
        }
        if !fraction.is_empty() {
            digits = format!("{digits}.{fraction}");
            value = digits.parse().unwrap_or(value);
            i = j;
        }
    }
    Some(Group {
        single_digit: i == 1 && last == Last::Unit,
        digits,
        value,
        len: i,
    })
}

/// A single digit said as a word (`oh` counts when `oh_is_zero`).
fn digit_word(w: &str, oh_is_zero: bool) -> Option<u64> {
    match w {
        "oh" | "o" if oh_is_zero => Some(0),
        _ => unit(w),
    }
}

/// The digits of a run of numbers starting at `words[0]`, as an account or
/// phone number is said: "one two three four", "twelve thirty four",
/// "12 34 56", "double oh seven". Returns the digits and how many tokens they took.
pub fn digit_run(words: &[&str]) -> Option<(String, usize)> {
    let mut digits = String::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if matches!(w, "-" | "dash") && !digits.is_empty() {
            if words.get(i + 1).is_some_and(|n| group(&[n]).is_some()) {
                i += 1;
                continue;
            }
            break;
        }
        // "555-0123", "(415)": a number written with its separators.
        if w.contains('-')
            && w.chars().all(|c| c.is_ascii_digit() || c == '-')
            && w.chars().any(|c| c.is_ascii_digit())
        {
            digits.extend(w.chars().filter(char::is_ascii_digit));
            i += 1;
            continue;
        }
        if matches!(w, "oh" | "o") && !digits.is_empty() {
            digits.push('0');
            i += 1;
            continue;
        }
        match group(&words[i..]) {
            Some(g) if !g.digits.contains('.') => {
                digits.push_str(&g.digits);
                i += g.len;
            }
            _ => break,
        }
    }
    (!digits.is_empty()).then_some((digits, i))
}

/// A value in the shortest decimal form: `250`, `1200.5`.
pub fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Option<(String, usize)> {
        let words: Vec<&str> = s.split(' ').collect();
        group(&words).map(|g| (g.digits, g.len))
    }

    fn run(s: &str) -> Option<String> {
        let words: Vec<&str> = s.split(' ').collect();
        digit_run(&words).map(|(d, _)| d)
    }

    #[test]
    fn cardinals_in_words() {
        assert_eq!(g("two hundred and fifty dollars"), Some(("250".into(), 4)));
        assert_eq!(g("twenty three"), Some(("23".into(), 2)));
        assert_eq!(g("a thousand"), Some(("1000".into(), 2)));
        assert_eq!(g("one thousand two hundred"), Some(("1200".into(), 4)));
        assert_eq!(g("fifteen"), Some(("15".into(), 1)));
        assert_eq!(g("four point five"), Some(("4.5".into(), 3)));
        assert_eq!(g("5 thousand"), Some(("5000".into(), 2)));
        assert_eq!(g("hundred"), None);
        // Said over and over, a number stays a number (no overflow).
        let long = ["nine", "hundred"].repeat(20).join(" ");
        assert_eq!(g(&long), Some(("909".into(), 3)));
        let scales = "nine hundred million nine hundred thousand nine hundred million million";
        assert!(g(scales).is_some());
        assert_eq!(g("and"), None);
    }

    #[test]
    fn numerals() {
        assert_eq!(g("1,200.50"), Some(("1200.50".into(), 1)));
        assert_eq!(numeral("12.3.4"), None);
        assert_eq!(numeral("abc"), None);
    }

    #[test]
    fn digit_sequences_as_said() {
        assert_eq!(run("one two three four"), Some("1234".into()));
        assert_eq!(run("oh seven seven double oh nine"), Some("077009".into()));
        assert_eq!(run("forty five sixty seven"), Some("4567".into()));
        assert_eq!(run("12 34 56"), Some("123456".into()));
        assert_eq!(run("555-0123"), Some("5550123".into()));
        assert_eq!(run("hello"), None);
    }
}
