//! Credentials never reach the log. The SIP stack (rsipstack) logs whole
//! messages when its target is enabled (an operator debugging with
//! `RUST_LOG=rsipstack=debug`); digest `Authorization` and
//! `Proxy-Authorization` values in them are blanked here, in the writer
//! every log line goes through, whatever produced the line.

use std::io::Write;

const REDACTED: &str = "<redacted>";

/// `line` with every (Proxy-)Authorization header value replaced. A value
/// ends at a line break, raw or as written by `{:?}` (`\r`, `\n`); the
/// escaped quotes inside a digest (`\"`) do not end it.
pub fn redact(line: &str) -> std::borrow::Cow<'_, str> {
    const NAME: &str = "authorization:";
    let lower = line.to_ascii_lowercase();
    if !lower.contains(NAME) {
        return std::borrow::Cow::Borrowed(line);
    }
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(NAME) {
        let value_start = at + found + NAME.len();
        out.push_str(&line[at..value_start]);
        let mut end = value_start;
        while end < bytes.len() {
            match bytes[end] {
                b'\r' | b'\n' => break,
                b'\\' if matches!(bytes.get(end + 1), Some(b'r' | b'n')) => break,
                _ => end += 1,
            }
        }
        out.push(' ');
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&line[at..]);
    std::borrow::Cow::Owned(out)
}

/// Standard output, through [`redact`]. The log formatter writes each
/// event in one call, so a header is never split across two writes.
pub struct Redacting;

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
    }
}
