//! Transfers an agent starts: to an external number (cold) or to a queue
//! (the call goes on as a new contact, linked to this one both ways: the
//! contact core keeps the records), from the CCP or from their desk phone
//! (a blind REFER, RFC 3515).

use super::*;
use std::time::Duration;

use rsipstack::sip::{Header, StatusCode};
use switchboard_contact::Input;
use switchboard_model::contact_record::{DisconnectReason, InitiationMethod};
use switchboard_model::objects::routing_profile::Channel;
use tracing::{info, warn};

use super::input::AgentAction;
use super::io::{Dial, Io, QueueTransfer, Refer, RouteFor};

impl Call {
    /// The agent hands the caller to an external number and moves on to
    /// after-contact work, once a route to it is found
    /// ([`Call::cold_transfer_routed`]).
    pub(super) fn cold_transfer(&mut self, number: String) {
        self.ask(Io::RouteOut {
            number,
            then: RouteFor::ColdTransfer,
        });
    }

    /// The caller hears music until the number answers.
    pub(super) fn cold_transfer_routed(&mut self, number: String, route: PhoneRoute) {
        info!(contact = %self.core.id(), %number, "the agent transfers the caller");
        // The agent's leg goes first (the core's AgentDone), then the number is dialled.
        self.tell(Input::ColdTransfer);
        self.play_music();
        self.dial(Dial {
            agent: format!("third-party:{number}"),
            username: number,
            routes: vec![route],
            ring: Duration::from_secs(AGENT_RING_SECONDS),
            caller_id: None,
            third_party: Some(false),
        });
    }

    /// The agent puts the caller in a queue and moves on to after-contact
    /// work. Routing takes the next contact first
    /// ([`Call::transfer_queued`]).
    pub(super) fn transfer_to_queue(&mut self, queue_id: String, queue_name: String) {
        let previous = self.id();
        let next = uuid::Uuid::new_v4().to_string();
        // Routing decisions for the new contact must reach this call from
        // the moment it is queued: the call answers to both ids until the switch.
        self.voice.also_route(&previous, &next);
        self.ask(Io::QueueTransfer(QueueTransfer {
            previous,
            next,
            queue: (queue_id, queue_name),
        }));
    }

    /// Routing took the next contact, and the call goes on as it; if it
    /// refused, the agent is told why and the call stays as it is.
    pub(super) fn transfer_queued(
        &mut self,
        transfer: QueueTransfer,
        refused: Option<(String, bool)>,
    ) {
        let QueueTransfer {
            previous,
            next,
            queue: (queue_id, queue_name),
        } = transfer;
        if let Some((reason, full)) = refused {
            self.voice.forget_id(&next);
            warn!(contact = %previous, queue = %queue_name, "transfer refused: {reason}");
            if let Some(line) = self.agent.as_ref().and_then(|a| a.media.line()) {
                let why = if full {
                    "is full"
                } else {
                    "cannot take contacts"
                };
                line.notice(format!("Not transferred: {queue_name} {why}."));
            }
            return;
        }
        info!(contact = %previous, next = %next, queue = %queue_name, "the agent transfers the caller to a queue");
        self.core.handle(
            self.at,
            Input::TransferredToQueue {
                next: next.clone(),
                queue: (queue_id, queue_name),
                reason: DisconnectReason::AgentDisconnect,
            },
        );
        self.voice.switch_id(&previous, &next);
        self.voice
            .app()
            .metrics
            .contact_started(Channel::Voice, InitiationMethod::Transfer);
        self.drive();
    }

    /// A REFER on one of the call's legs. From the connected agent's phone
    /// it is a blind transfer, done as the CCP's: to what its Refer-To
    /// names (a quick connect, a queue, a number; found out by
    /// [`Call::refer_resolved`]). The phone is answered 202, then told by
    /// NOTIFY (sipfrag) that it went through, and the transfer goes on as
    /// the CCP's would. Anything else is refused.
    pub(super) fn refer(
        &mut self,
        call_id: &str,
        refer_to: &str,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    ) {
        // The phone answered and is already transferring, before the call
        // has taken its answer (the whisper is still being made) or the
        // router has connected it: done once it has.
        let answered_not_connected = self.agent.as_ref().is_some_and(|a| {
            (a.sip_call_id == call_id || a.forks.iter().any(|f| f == call_id))
                && a.connected_at.is_none()
                && a.third_party.is_none()
        });
        if answered_not_connected && self.pending_refer.is_none() {
            self.pending_refer = Some(super::input::CallInput::Refer {
                call_id: call_id.to_string(),
                refer_to: refer_to.to_string(),
                reply,
            });
            return;
        }
        let Some((agent, dialog)) = self.agent.as_ref().and_then(|a| {
            let agents_phone =
                a.sip_call_id == call_id && a.connected_at.is_some() && a.third_party.is_none();
            agents_phone
                .then(|| a.dialog.clone().map(|d| (a.agent.clone(), d)))
                .flatten()
        }) else {
            // The carrier's side, or a phone not (or no longer) with the caller.
            return self.ask(refer_refusal(
                reply,
                StatusCode::Forbidden,
                "only the agent's phone may transfer this call",
            ));
        };
        let Some(target) = ReferTarget::parse(refer_to) else {
            return self.ask(refer_refusal(
                reply,
                StatusCode::BadRequest,
                "Refer-To is not a SIP URI",
            ));
        };
        if target.replaces {
            return self.ask(refer_refusal(
                reply,
                StatusCode::NotImplemented,
                "attended transfer (Replaces) is not supported; transfer blind",
            ));
        }
        self.ask(Io::ResolveRefer(Box::new(Refer {
            agent,
            target: target.user,
            dialog,
            reply,
        })));
    }

    /// What the phone's REFER names is known (or why it cannot be reached).
    pub(super) fn refer_resolved(
        &mut self,
        refer: Refer,
        action: Result<AgentAction, (StatusCode, String)>,
    ) {
        let Refer {
            agent,
            target,
            dialog,
            reply,
        } = refer;
        let action = match action {
            Ok(action) => action,
            Err((status, why)) => return self.ask(refer_refusal(reply, status, &why)),
        };
        info!(contact = %self.core.id(), %agent, %target, "the agent's phone transfers the caller");
        self.ask(Io::Respond {
            reply,
            status: StatusCode::Accepted,
            headers: vec![],
            body: None,
        });
        self.ask(Io::Notify {
            dialog,
            headers: vec![
                Header::Event("refer".into()),
                Header::SubscriptionState("terminated;reason=noresource".into()),
                Header::ContentType("message/sipfrag".into()),
            ],
            body: b"SIP/2.0 200 OK\r\n".to_vec(),
        });
        self.agent_action(&agent, action);
    }
}

/// The answer to a REFER we do not carry out, saying why in a Warning.
fn refer_refusal(
    reply: rsipstack::dialog::dialog::TransactionHandle,
    status: StatusCode,
    why: &str,
) -> Io {
    warn!(%status, "REFER refused: {why}");
    Io::Respond {
        reply,
        status,
        headers: vec![crate::sip::warning(399, "switchboard", why)],
        body: None,
    }
}

/// What a REFER's Refer-To names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReferTarget {
    /// The URI's user part, percent-decoded.
    user: String,
    /// It carries `?Replaces=` (an attended transfer, RFC 3891).
    replaces: bool,
}

impl ReferTarget {
    fn parse(refer_to: &str) -> Option<Self> {
        let value = refer_to.trim();
        let uri = match (value.find('<'), value.find('>')) {
            (Some(start), Some(end)) if start < end => &value[start + 1..end],
            _ => value.split(';').next().unwrap_or(value),
        };
        let (uri, headers) = uri.split_once('?').unwrap_or((uri, ""));
        let rest = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("sips:"))
            .or_else(|| uri.strip_prefix("tel:"))?;
        let user = match rest.split_once('@') {
            Some((user, _)) => user,
            None if uri.starts_with("tel:") => rest.split(';').next().unwrap_or(rest),
            None => return None,
        };
        let user = percent_decode(user.split(';').next().unwrap_or(user));
        if user.is_empty() {
            return None;
        }
        let replaces = headers
            .split('&')
            .any(|h| h.to_ascii_lowercase().starts_with("replaces="));
        Some(Self { user, replaces })
    }
}

/// `%2A` -> `*` and so on; a broken escape is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_names_a_number_a_queue_or_an_attended_transfer() {
        let t = ReferTarget::parse("<sip:+447911123456@127.0.0.1:5060>").unwrap();
        assert_eq!(t.user, "+447911123456");
        assert!(!t.replaces);
        let t = ReferTarget::parse("sip:BasicQueue@switchboard;transport=tcp").unwrap();
        assert_eq!(t.user, "BasicQueue");
        let t = ReferTarget::parse("<sip:Sales%20Desk@pbx>").unwrap();
        assert_eq!(t.user, "Sales Desk");
        let t = ReferTarget::parse("<sip:bob@pbx?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>")
            .unwrap();
        assert!(t.replaces);
        assert_eq!(
            ReferTarget::parse("<tel:+15551234567>").unwrap().user,
            "+15551234567"
        );
        assert_eq!(ReferTarget::parse("<http://example.com>"), None);
        assert_eq!(ReferTarget::parse("<sip:@host>"), None);
    }
}
