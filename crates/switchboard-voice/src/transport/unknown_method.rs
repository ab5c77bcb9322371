//! The answer to a request whose method SIP's parser does not know.
//!
//! RFC 3261 section 8.2.1: a UAS that does not recognise a request's method
//! answers 501 (Not Implemented) with an Allow header; only ACK is never
//! answered. rsipstack's parser knows a fixed set of methods and drops any
//! other message unparsed, so such a request would get nothing and its
//! sender would retransmit it for 32 s. This module recognises those
//! requests in the raw datagram and writes the 501 itself: the headers a
//! response must echo (section 8.2.6.2: every Via in order, From, To with a
//! tag, Call-ID, CSeq) are copied as they came.
//!
//! Pure: bytes in, bytes out; the To tag is given by the caller.

use rsipstack::sip::Method;

/// The longest method token answered. Real ones are under 20 characters;
/// anything longer is noise not worth a reply.
const MAX_METHOD: usize = 64;

/// What to do with a datagram before the SIP stack sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not ours to judge: a known method, a response, a keep-alive, or
    /// something too broken to answer. The SIP stack takes it.
    PassOn,
    /// A request with a method SIP's parser does not know: send this 501.
    Answer(Vec<u8>),
}

/// Looks at one datagram. `allow` is the Allow header's value; `to_tag`
/// makes the tag added to the To header when the request carries none
/// (called only then).
pub fn judge(datagram: &[u8], allow: &str, to_tag: impl FnOnce() -> String) -> Verdict {
    let Some(method) = unknown_method(datagram) else {
        return Verdict::PassOn;
    };
    match answer(datagram, method, allow, to_tag) {
        Some(bytes) => Verdict::Answer(bytes),
        None => Verdict::PassOn,
    }
}

/// The method of a request line `METHOD SP Request-URI SP SIP/2.0` when it
/// is a well-formed token the parser does not know.
fn unknown_method(datagram: &[u8]) -> Option<&str> {
    let end = datagram.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&datagram[..end]).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || uri.is_empty()
        || !version.eq_ignore_ascii_case("SIP/2.0")
        || method.is_empty()
        || method.len() > MAX_METHOD
        || !method.bytes().all(is_token_char)
        || method.parse::<Method>().is_ok()
    {
        return None;
    }
    Some(method)
}

/// RFC 3261 section 25.1 `token`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Which header a line starts, by its full or compact name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echoed {
    Via,
    From,
    To,
    CallId,
    CSeq,
}

fn echoed(name: &str) -> Option<Echoed> {
    let name = name.trim();
    let is = |full: &str, compact: Option<&str>| {
        name.eq_ignore_ascii_case(full) || compact.is_some_and(|c| name.eq_ignore_ascii_case(c))
    };
    if is("Via", Some("v")) {
        Some(Echoed::Via)
    } else if is("From", Some("f")) {
        Some(Echoed::From)
    } else if is("To", Some("t")) {
        Some(Echoed::To)
    } else if is("Call-ID", Some("i")) {
        Some(Echoed::CallId)
    } else if is("CSeq", None) {
        Some(Echoed::CSeq)
    } else {
        None
    }
}

/// The 501, or `None` when a header a response needs is missing or the
/// CSeq names another method (then the request is malformed, and an answer
/// would not match it).
fn answer(
    datagram: &[u8],
    method: &str,
    allow: &str,
    to_tag: impl FnOnce() -> String,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(datagram).ok()?;
    let head = text.split("\r\n\r\n").next().unwrap_or(text);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    lines.next(); // the request line
                  // Each echoed header with its continuation lines (folded headers).
    let mut headers: Vec<(Echoed, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some(i) = current {
                headers[i].1.push_str("\r\n");
                headers[i].1.push_str(line);
            }
            continue;
        }
        current = None;
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        if let Some(kind) = echoed(name) {
            headers.push((kind, line.to_string()));
            current = Some(headers.len() - 1);
        }
    }
    let count = |kind| headers.iter().filter(|(k, _)| *k == kind).count();
    if count(Echoed::Via) == 0
        || count(Echoed::From) != 1
        || count(Echoed::To) != 1
        || count(Echoed::CallId) != 1
        || count(Echoed::CSeq) != 1
    {
        return None;
    }
    let cseq = headers.iter().find(|(k, _)| *k == Echoed::CSeq)?;
    let cseq_method = cseq.1.split_once(':')?.1.split_whitespace().nth(1)?;
    if cseq_method != method {
        return None;
    }
    let mut to_tag = Some(to_tag);
    let mut out = String::with_capacity(head.len() + 128);
    out.push_str("SIP/2.0 501 Not Implemented\r\n");
    for kind in [
        Echoed::Via,
        Echoed::From,
        Echoed::To,
        Echoed::CallId,
        Echoed::CSeq,
    ] {
        for (_, line) in headers.iter().filter(|(k, _)| *k == kind) {
            out.push_str(line);
            if kind == Echoed::To && !has_tag(line) {
                out.push_str(";tag=");
                out.push_str(&to_tag.take().map_or_else(String::new, |tag| tag()));
            }
            out.push_str("\r\n");
        }
    }
    out.push_str("Allow: ");
    out.push_str(allow);
    out.push_str("\r\nContent-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

/// Whether a To header's parameters (after the URI) include a tag.
fn has_tag(line: &str) -> bool {
    let value = line.split_once(':').map_or("", |(_, v)| v);
    // Parameters follow the URI: after '>' in name-addr form, else anywhere.
    let params = value.rsplit_once('>').map_or(value, |(_, p)| p);
    params
        .split(';')
        .skip(1)
        .any(|p| p.trim().to_ascii_lowercase().starts_with("tag="))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: &str = "INVITE, ACK, BYE";

    fn tag() -> String {
        "t1".into()
    }

    fn request(method: &str, cseq_method: &str, extra: &str) -> Vec<u8> {
        format!(
            "{method} sip:queue@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bK1\r\n\
             Via: SIP/2.0/UDP 127.0.0.8:5060;branch=z9hG4bK0\r\n\
             From: <sip:probe@127.0.0.9>;tag=abc\r\n\
             To: <sip:queue@127.0.0.1>\r\n\
             Call-ID: 42@127.0.0.9\r\n\
             CSeq: 7 {cseq_method}\r\n\
             {extra}\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn answered(datagram: &[u8]) -> String {
        match judge(datagram, ALLOW, tag) {
            Verdict::Answer(bytes) => String::from_utf8(bytes).unwrap(),
            Verdict::PassOn => panic!("expected an answer"),
        }
    }

    #[test]
    fn an_unknown_method_gets_501_echoing_every_via_in_order() {
        let text = answered(&request("FOO", "FOO", ""));
        assert!(text.starts_with("SIP/2.0 501 Not Implemented\r\n"));
        let first = text.find("127.0.0.9:5070").unwrap();
        let second = text.find("127.0.0.8:5060").unwrap();
        assert!(first < second);
        assert!(text.contains("\r\nFrom: <sip:probe@127.0.0.9>;tag=abc\r\n"));
        assert!(text.contains("\r\nTo: <sip:queue@127.0.0.1>;tag=t1\r\n"));
        assert!(text.contains("\r\nCall-ID: 42@127.0.0.9\r\n"));
        assert!(text.contains("\r\nCSeq: 7 FOO\r\n"));
        assert!(text.contains("\r\nAllow: INVITE, ACK, BYE\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn known_methods_in_any_case_pass_on_to_the_stack() {
        for method in ["INVITE", "invite", "REGISTER", "OPTIONS", "ACK", "PRACK"] {
            assert_eq!(
                judge(&request(method, method, ""), ALLOW, tag),
                Verdict::PassOn,
                "{method}"
            );
        }
    }

    #[test]
    fn responses_keepalives_and_garbage_pass_on() {
        for datagram in [
            &b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n"[..],
            b"\r\n\r\n",
            b"",
            b"\x80\x00\x12\x34 binary",
            b"FOO sip:a SIP/3.0\r\n\r\n",
            b"FOO  sip:a SIP/2.0\r\n\r\n",
            b"FO(O sip:a SIP/2.0\r\n\r\n",
            b"FOO sip:a SIP/2.0 extra\r\n\r\n",
        ] {
            assert_eq!(judge(datagram, ALLOW, tag), Verdict::PassOn);
        }
    }

    #[test]
    fn a_request_missing_a_header_a_response_needs_is_not_answered() {
        let full = String::from_utf8(request("FOO", "FOO", "")).unwrap();
        for header in ["Via: ", "From: ", "To: ", "Call-ID: ", "CSeq: "] {
            let without: String = full
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(header))
                .collect();
            assert_eq!(
                judge(without.as_bytes(), ALLOW, tag),
                Verdict::PassOn,
                "{header}"
            );
        }
    }

    #[test]
    fn a_cseq_naming_another_method_is_not_answered() {
        assert_eq!(
            judge(&request("FOO", "INVITE", ""), ALLOW, tag),
            Verdict::PassOn
        );
    }

    #[test]
    fn compact_names_folded_lines_and_an_existing_to_tag_are_kept() {
        let datagram = b"SUBSCRIBEX sip:a@127.0.0.1 SIP/2.0\r\n\
            v: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa\r\n\
            f: <sip:b@127.0.0.9>;tag=1\r\n\
            t: \"Queue; main\" <sip:a@127.0.0.1;lr>;tag=existing\r\n\
            i: c1\r\n\
            CSeq: 1\r\n SUBSCRIBEX\r\n\
            X-Other: kept out\r\n\r\n";
        let text = answered(datagram);
        assert!(text.contains("\r\nv: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa\r\n"));
        assert!(text.contains(";tag=existing\r\n"));
        assert!(!text.contains("tag=t1"));
        assert!(text.contains("\r\nCSeq: 1\r\n SUBSCRIBEX\r\n"));
        assert!(!text.contains("X-Other"));
    }

    #[test]
    fn a_tag_inside_the_uri_is_not_the_headers_tag() {
        let datagram = request("FOO", "FOO", "").into_iter().collect::<Vec<u8>>();
        let text = String::from_utf8(datagram).unwrap().replace(
            "To: <sip:queue@127.0.0.1>",
            "To: <sip:queue@127.0.0.1;tag=x>",
        );
        assert!(answered(text.as_bytes()).contains("<sip:queue@127.0.0.1;tag=x>;tag=t1\r\n"));
    }

    #[test]
    fn an_overlong_method_is_not_answered() {
        let method = "X".repeat(MAX_METHOD + 1);
        assert_eq!(
            judge(&request(&method, &method, ""), ALLOW, tag),
            Verdict::PassOn
        );
    }
}
