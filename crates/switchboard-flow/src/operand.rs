//! Parameter values: a literal, a JSONPath reference (`$.Attributes.name`),
//! or text with references inside (`"Hello $.Attributes.name"`).
//!
//! Connect's flow language only uses simple dotted paths, so this parses
//! them by hand rather than pulling in a general JSONPath engine: a path is
//! `$.` followed by segments of letters, digits, `_` and `-`, or a quoted
//! segment in brackets (`$.Attributes['first name']`).

use std::fmt;

/// The roots a reference may start from, as Connect names them.
pub const ROOTS: &[&str] = &[
    "Attributes",
    "External",
    "FlowAttributes",
    "CustomerEndpoint",
    "SystemEndpoint",
    "Channel",
    "Queue",
    "StoredCustomerInput",
    "Lex",
    "ContactId",
    "InitialContactId",
    "PreviousContactId",
    "InstanceARN",
    "AwsRegion",
    "InitiationMethod",
    "Name",
    "Description",
    "TextToSpeechVoice",
    "LanguageCode",
    "Agent",
    "References",
    "Tags",
    "CustomerId",
    "Metrics",
    "TextToSpeechVoiceId",
    // The customer's callback number, as flows that set it read it back.
    "CallbackNumber",
    "CustomerCallBackPhoneNumber",
];

/// Namespaces of Connect's reference that Switchboard does not fill yet
/// (their features are to come): a reference to one reads as empty, and
/// validation warns rather than refuses.
pub const UNFILLED_ROOTS: &[&str] = &[
    "Customer",
    "Views",
    "Case",
    "Task",
    "MediaStreams",
    "Media",
    "SegmentAttributes",
    "Capabilities",
    "Loop",
    "Modules",
    "DataTables",
    "DataTableList",
    "Email",
    "Wisdom",
    "LambdaInvocation",
    "AdditionalEmailRecipients",
];

/// A reference: root and keys, e.g. `["Attributes", "name"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<String>);

impl Path {
    /// The first segment, e.g. `Attributes`: the part of the contact it reads
    /// (validation checks it is one of [`ROOTS`]).
    pub fn root(&self) -> &str {
        &self.0[0]
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for seg in &self.0 {
            if seg.chars().all(is_segment_char) && !seg.is_empty() {
                write!(f, ".{seg}")?;
            } else {
                write!(f, "['{seg}']")?;
            }
        }
        Ok(())
    }
}

/// A part of an operand: literal text or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text, as written.
    Text(String),
    /// A `$.` reference, replaced by the value it reads when the flow runs.
    Ref(Path),
}

/// A parameter value as written in the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operand {
    /// The value exactly as written in the flow JSON.
    pub raw: String,
    /// The value split into text and references, in order.
    pub pieces: Vec<Piece>,
}

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Reads one segment at the start of `s` (after a `.` or as a `[...]`),
/// returning it and the rest.
fn segment(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let quote = rest.chars().next().filter(|q| *q == '\'' || *q == '"')?;
        let body = &rest[1..];
        let end = body.find(quote)?;
        let after = body[end + 1..].strip_prefix(']')?;
        return Some((body[..end].to_string(), after));
    }
    let s = s.strip_prefix('.')?;
    let len = s.find(|c: char| !is_segment_char(c)).unwrap_or(s.len());
    (len > 0).then(|| (s[..len].to_string(), &s[len..]))
}

impl Operand {
    /// Splits `raw` into text and `$.` references; a `$` with no path after it
    /// (`$5`, `${X}`) stays text.
    pub fn parse(raw: &str) -> Self {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        // The earlier of the two reference forms comes first.
        while let Some(at) = [rest.find("$."), rest.find("$[")]
            .into_iter()
            .flatten()
            .min()
        {
            text.push_str(&rest[..at]);
            let mut after = &rest[at + 1..];
            let mut segs = Vec::new();
            while let Some((seg, next)) = segment(after) {
                segs.push(seg);
                after = next;
            }
            if segs.is_empty() {
                text.push('$');
                rest = &rest[at + 1..];
                continue;
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Ref(Path(segs)));
            rest = after;
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Self {
            raw: raw.to_string(),
            pieces,
        }
    }

    /// A value with no references.
    pub fn literal(raw: &str) -> Self {
        Self {
            raw: raw.to_string(),
            pieces: vec![Piece::Text(raw.to_string())],
        }
    }

    /// The references inside.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(path) => Some(path),
            Piece::Text(_) => None,
        })
    }

    /// Whether the value is exactly one reference (so resolves to that value).
    pub fn single_path(&self) -> Option<&Path> {
        match self.pieces.as_slice() {
            [Piece::Ref(p)] => Some(p),
            _ => None,
        }
    }

    /// The value with every reference replaced by `lookup` (missing: empty).
    pub fn resolve(&self, lookup: impl Fn(&Path) -> Option<String>) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Ref(path) => lookup(path).unwrap_or_default(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(raw: &str) -> Vec<String> {
        Operand::parse(raw).paths().map(|p| p.to_string()).collect()
    }

    #[test]
    fn finds_references_in_text() {
        assert_eq!(refs("$.Queue.Name"), ["$.Queue.Name"]);
        assert_eq!(refs("Going to $.Queue.Name."), ["$.Queue.Name"]);
        assert_eq!(
            refs("$.Attributes.Journey >> went"),
            ["$.Attributes.Journey"]
        );
        assert_eq!(
            refs("arn:aws:lambda:$.AwsRegion:${ACCT_ID}:fn"),
            ["$.AwsRegion"]
        );
        assert_eq!(
            refs("$.Attributes['first name'] and $.External.x-y"),
            ["$.Attributes['first name']", "$.External.x-y"]
        );
        assert!(refs("costs $5, or ${X}").is_empty());
        assert_eq!(
            refs("$['Attributes']['x'] and $.Channel"),
            ["$.Attributes.x", "$.Channel"]
        );
        assert_eq!(
            Operand::parse("$.External.a").single_path().unwrap().0,
            ["External", "a"]
        );
        assert!(Operand::parse("x $.External.a").single_path().is_none());
    }

    #[test]
    fn resolves_templates() {
        let op = Operand::parse("Hello $.Attributes.name, you are $.Attributes.missing!");
        let out = op.resolve(|p| (p.0 == ["Attributes", "name"]).then(|| "Ada".to_string()));
        assert_eq!(out, "Hello Ada, you are !");
    }
}
