//! Connect exports name other objects by ARN, with the instance-specific
//! parts left as placeholders: `arn:aws:connect:${REGION}:${ACCT_ID}:instance/
//! ${INSTANCE_ID}/queue/${Q:finance:Q}`. This reads what kind of object an
//! ARN names and its name, so an importer can map it to a local object.

/// What an ARN points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnTarget {
    /// `queue`, `contact-flow`, `flow-module`, `prompt`, `agent`,
    /// `hours-of-operation`, `function` (Lambda) or `bot-alias` (Lex).
    pub kind: String,
    /// The object's name: the placeholder's name, or the last ARN segment.
    pub name: String,
}

/// Reads `${X:name:X}` placeholders and plain ARNs; `None` if `value` is no ARN.
pub fn arn_target(value: &str) -> Option<ArnTarget> {
    let value = value.trim();
    if !value.starts_with("arn:") {
        return None;
    }
    if value.starts_with("arn:aws:lambda:") || value.contains(":lambda:") {
        let name = value
            .rsplit(":function:")
            .next()?
            .split(':')
            .next()?
            .to_string();
        return Some(ArnTarget {
            kind: "function".into(),
            name,
        });
    }
    if value.contains(":bot-alias/") {
        let rest = value.split(":bot-alias/").nth(1)?;
        let name = rest.split('/').next()?.to_string();
        return Some(ArnTarget {
            kind: "bot-alias".into(),
            name,
        });
    }
    let after_instance = value.split("/").skip(1).collect::<Vec<_>>();
    // .../instance/<id>/<kind>/<id-or-placeholder>
    let [_, kind, id, ..] = after_instance.as_slice() else {
        return None;
    };
    let name = placeholder_name(id).unwrap_or_else(|| id.to_string());
    Some(ArnTarget {
        kind: kind.to_string(),
        name,
    })
}

/// `${Q:finance:Q}` -> `finance`.
fn placeholder_name(s: &str) -> Option<String> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    let mut parts = inner.splitn(3, ':');
    let (_, name) = (parts.next()?, parts.next()?);
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_connect_arns() {
        let q = arn_target(
            "arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/queue/${Q:finance:Q}",
        )
        .unwrap();
        assert_eq!((q.kind.as_str(), q.name.as_str()), ("queue", "finance"));
        let f = arn_target("arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/contact-flow/${F:acme_queue_transfer_AUTO:F}").unwrap();
        assert_eq!(
            (f.kind.as_str(), f.name.as_str()),
            ("contact-flow", "acme_queue_transfer_AUTO")
        );
        let p = arn_target("arn:aws:connect:${REGION}:${ACCT_ID}:instance/${INSTANCE_ID}/prompt/${P:CustomerQueue.wav:P}").unwrap();
        assert_eq!(p.name, "CustomerQueue.wav");
        let l = arn_target("arn:aws:lambda:local:${ACCT_ID}:function:acme-exampleFunction-use1")
            .unwrap();
        assert_eq!(
            (l.kind.as_str(), l.name.as_str()),
            ("function", "acme-exampleFunction-use1")
        );
        let b = arn_target("arn:aws:lex:local:${ACCT_ID}:bot-alias/ACME-lexbot2-tfdemo/current")
            .unwrap();
        assert_eq!(
            (b.kind.as_str(), b.name.as_str()),
            ("bot-alias", "ACME-lexbot2-tfdemo")
        );
        let real = arn_target("arn:aws:connect:us-east-1:123456789012:instance/abc/queue/def-123")
            .unwrap();
        assert_eq!(real.name, "def-123");
        assert_eq!(arn_target("Sales"), None);
    }
}
