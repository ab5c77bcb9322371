//! Credentials never reach the log. The SIP stack (rsipstack) logs whole
//! messages when its target is enabled (an operator debugging with
//! `RUST_LOG=rsipstack=debug`); digest `Authorization` and
//! `Proxy-Authorization` values in them are blanked here, in the writer
//! every log line goes through, whatever produced the line.

use std::io::Write;

const REDACTED: &str = "<redacted>";

/// `line` with every (Proxy-)Authorization header value replaced. The name
/// may have spaces before its colon (SIP allows them); the value ends at a
/// line break, raw or as `{:?}` and JSON escape it (`\r`, `\\n`), unless the
/// next line continues it (starts with a space or tab: a folded header).
/// The escaped quotes inside a digest do not end it.
pub(crate) fn redact(line: &str) -> std::borrow::Cow<'_, str> {
    const NAME: &str = "authorization";
    let lower = line.to_ascii_lowercase();
    if !lower.contains(NAME) {
        return std::borrow::Cow::Borrowed(line);
    }
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find(NAME) {
        let name_end = search + found + NAME.len();
        let mut colon = name_end;
        while matches!(bytes.get(colon), Some(b' ' | b'\t')) {
            colon += 1;
        }
        if bytes.get(colon) != Some(&b':') {
            search = name_end;
            continue;
        }
        let value_start = colon + 1;
        out.push_str(&line[at..value_start]);
        let end = value_end(bytes, value_start);
        out.push(' ');
        out.push_str(REDACTED);
        at = end;
        search = end;
    }
    out.push_str(&line[at..]);
    std::borrow::Cow::Owned(out)
}

/// Where a header value starting at `from` ends: the line break that is
/// not followed by a continuation line.
fn value_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() {
        // A break: raw CR/LF, or escaped (one or more backslashes, then r or n).
        let brk = match bytes[i] {
            b'\r' | b'\n' => Some(i + 1),
            b'\\' => {
                let mut j = i;
                while bytes.get(j) == Some(&b'\\') {
                    j += 1;
                }
                matches!(bytes.get(j), Some(b'r' | b'n')).then_some(j + 1)
            }
            _ => None,
        };
        let Some(mut next) = brk else {
            i += 1;
            continue;
        };
        // Skip the rest of the break (\r\n, however escaped).
        loop {
            match bytes.get(next) {
                Some(b'\r' | b'\n') => next += 1,
                Some(b'\\') => {
                    let mut j = next;
                    while bytes.get(j) == Some(&b'\\') {
                        j += 1;
                    }
                    if matches!(bytes.get(j), Some(b'r' | b'n')) {
                        next = j + 1;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        let folded = matches!(bytes.get(next), Some(b' ' | b'\t'))
            || (bytes.get(next) == Some(&b'\\') && bytes.get(next + 1) == Some(&b't'));
        if !folded {
            return i;
        }
        i = next;
    }
    bytes.len()
}

/// Standard output, through [`redact`]. The log formatter writes each
/// event in one call, so a header is never split across two writes.
pub(crate) struct Redacting;

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stdout().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_values_are_blanked_raw_and_escaped() {
        let raw = "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"ana\", response=\"5f2c\"\r\nExpires: 60\r\n";
        let out = redact(raw);
        assert!(
            !out.contains("5f2c") && !out.contains("username=\"ana\""),
            "{out}"
        );
        assert!(
            out.contains("Authorization: <redacted>\r\nExpires: 60"),
            "{out}"
        );
        let escaped = format!(
            "raw_message={:?}",
            "INVITE\r\nProxy-Authorization: Digest response=\"abc\"\r\nTo: x"
        );
        let out = redact(&escaped);
        assert!(!out.contains("abc"), "{out}");
        assert!(
            out.contains("Proxy-Authorization: <redacted>\\r\\nTo: x"),
            "{out}"
        );
        let lower = "authorization:Digest nonce=1";
        assert_eq!(redact(lower), "authorization: <redacted>");
        assert_eq!(redact("nothing here"), "nothing here");
        assert_eq!(redact("no authorization here"), "no authorization here");
    }

    #[test]
    fn spaced_names_folded_values_and_json_escapes_are_blanked_too() {
        let spaced = "Authorization : Digest response=\"5f2c\"\r\nTo: x\r\n";
        assert_eq!(redact(spaced), "Authorization : <redacted>\r\nTo: x\r\n");
        let folded = "Authorization: Digest username=\"ana\",\r\n response=\"5f2c\"\r\nTo: x";
        assert_eq!(redact(folded), "Authorization: <redacted>\r\nTo: x");
        // JSON of a {:?} dump: the break is written \\r\\n.
        let json = r#"{"raw_message":"REGISTER\\r\\nAuthorization: Digest response=\\\"5f2c\\\"\\r\\nTo: x"}"#;
        let out = redact(json);
        assert!(!out.contains("5f2c"), "{out}");
        assert!(out.ends_with(r#"<redacted>\\r\\nTo: x"}"#), "{out}");
    }
}
