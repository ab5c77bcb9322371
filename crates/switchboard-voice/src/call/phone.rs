//! Reaching a phone over SIP: where it is ([`PhoneRoute`]), the INVITE to
//! it, and what a call says when it cannot take a peer's offer.

use std::time::Duration;

use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::StatusCode;
use rsipstack::transport::SipAddr;
use switchboard_media::g711::Law;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::input::CallInput;
use crate::registrar::Transport;
use crate::sip::Voice;

/// Where and how to reach a phone.
pub struct PhoneRoute {
    pub uri: rsipstack::sip::Uri,
    pub destination: std::net::SocketAddr,
    /// Over what: a desk phone's registered transport (its connection, for
    /// TCP and TLS); UDP for trunks.
    pub transport: Transport,
    pub credential: Option<rsipstack::dialog::authenticate::Credential>,
    /// The number the trunk presents on calls out, if it sets one (carriers
    /// often refuse numbers that are not the customer's own).
    pub caller_id: Option<String>,
    /// The carrier's other servers, in the order DNS gave them (RFC 3263):
    /// tried in turn when one cannot be reached or is overloaded.
    pub fallbacks: Vec<SipAddr>,
}

impl PhoneRoute {
    /// The INVITE to this phone: showing `shown` as the caller, offering
    /// `offer` (SDP), with the route's credentials for a digest challenge.
    pub fn invite(
        &self,
        voice: &Voice,
        shown: String,
        offer: Vec<u8>,
        sip_call_id: &str,
    ) -> InviteOption {
        let ours = voice.local_sip_for(self.destination.ip());
        let caller = format!("sip:{}@{ours}", sip_user(&shown));
        InviteOption {
            caller_display_name: Some(shown),
            caller: caller.as_str().try_into().unwrap_or_default(),
            callee: self.uri.clone(),
            contact: voice.contact_uri_for(self.transport, self.destination.ip()),
            destination: Some(self.sip_addr()),
            credential: self.credential.clone(),
            content_type: Some("application/sdp".into()),
            offer: Some(offer),
            call_id: Some(sip_call_id.to_string()),
            ..Default::default()
        }
    }
}

impl PhoneRoute {
    fn sip_addr(&self) -> SipAddr {
        self.transport.sip_addr(self.destination)
    }
}

/// Servers of one carrier tried for one call, at most (RFC 3263 leaves the
/// number open; a dead zone must not make a call try a dozen).
const MAX_SERVERS: usize = 4;

/// How long a server over TCP or TLS has to take our connection.
const CONNECT_WITHIN: Duration = Duration::from_secs(3);

/// Sends the INVITE `option` and, when its server cannot be reached (no
/// connection over TCP or TLS, a transport error, a timeout: 408) or is
/// overloaded (503), the same INVITE again (a new transaction) to each of
/// `fallbacks` in turn, as RFC 3263 section 4.3 says. The last server's
/// outcome is returned.
pub(crate) async fn invite(
    voice: &Voice,
    mut option: InviteOption,
    fallbacks: &[SipAddr],
) -> rsipstack::Result<(InviteDialog, Option<rsipstack::sip::Response>)> {
    let mut next = fallbacks.iter().take(MAX_SERVERS - 1);
    loop {
        // A server over TCP or TLS that takes no connection is down: the
        // next is tried now, not once the INVITE has timed out (32 s).
        if let Some(server) = option.destination.clone().filter(is_stream) {
            let layer = &voice.dialogs().endpoint.transport_layer;
            let connected = tokio::time::timeout(CONNECT_WITHIN, layer.lookup(&server, None)).await;
            if !matches!(connected, Ok(Ok(_))) {
                match next.next() {
                    Some(other) => {
                        tracing::info!(down = %server, next = %other, "the server takes no connection: trying the next");
                        option.destination = Some(other.clone());
                        continue;
                    }
                    None => {
                        return Err(rsipstack::Error::TransportLayerError(
                            "no connection".into(),
                            server,
                        ))
                    }
                }
            }
        }
        let answer = voice
            .dialogs()
            .do_invite(option.clone(), voice.state_sender())
            .await;
        let unreachable = match &answer {
            Err(_) => true,
            Ok((_, Some(r))) => matches!(u16::from(r.status_code.clone()), 408 | 503),
            Ok((_, None)) => false,
        };
        match next.next() {
            Some(server) if unreachable => {
                tracing::info!(next = %server, "the server did not take the call: trying the next");
                option.destination = Some(server.clone());
            }
            _ => return answer,
        }
    }
}

fn is_stream(server: &SipAddr) -> bool {
    matches!(
        server.r#type,
        Some(rsipstack::sip::Transport::Tcp | rsipstack::sip::Transport::Tls)
    )
}

/// Why a device that rang out is reported as failed (the flow's
/// TransferToNumber tells no answer from a refusal by it).
pub(super) const NO_ANSWER: &str = "no answer";

/// Rings every invite at once for `agent` (their devices, or one third
/// party) for up to `ring`, and tells the call what came of it: the first
/// device to answer (the others are cancelled, and any that answered too
/// late is hung up), or, when none did, the most telling refusal. An INVITE
/// given up (its time is out, or the call aborts this task when the offer
/// ends) is dropped, which ends it properly, retransmissions included. The
/// whisper (`text`, `voice name`) is spoken meanwhile.
pub(super) async fn ring(
    voice: Voice,
    contact: String,
    agent: String,
    invites: Vec<(InviteOption, Vec<SipAddr>)>,
    ring: Duration,
    whisper: Option<(String, String)>,
    given_up: CancellationToken,
) {
    let call_ids: Vec<String> = invites
        .iter()
        .filter_map(|(i, _)| i.call_id.clone())
        .collect();
    let mut forks = JoinSet::new();
    for (option, fallbacks) in invites {
        let voice = voice.clone();
        forks.spawn(async move {
            let mut invite = Box::pin(invite(&voice, option, &fallbacks));
            match tokio::time::timeout(ring, &mut invite).await {
                Ok(answer) => answer,
                // Given up: the INVITE is dropped, and rsipstack ends it as
                // RFC 3261 section 9.1 asks: no more retransmissions, a
                // CANCEL once it has rung (or at once), a BYE for a 200 that
                // crosses it.
                Err(_) => Err(rsipstack::Error::Error(NO_ANSWER.into())),
            }
        });
    }
    // The whisper is made beside the ringing.
    let whisper = {
        let voice = voice.clone();
        tokio::spawn(async move {
            match &whisper {
                Some((text, voice_name)) => voice.library().speak(text, voice_name).await.ok(),
                None => None,
            }
        })
    };
    let answered = async {
        let mut failure: Option<(Option<u16>, String)> = None;
        while let Some(joined) = forks.join_next().await {
            let Ok(answer) = joined else {
                continue;
            };
            match answer {
                Ok((dialog, Some(resp)))
                    if resp.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful =>
                {
                    return Ok((dialog, resp.body.clone()));
                }
                Ok((_, resp)) => {
                    let status = resp.as_ref().map(|r| u16::from(r.status_code.clone()));
                    // A device that declined says more than one that was
                    // busy elsewhere or unreachable: it is what the agent did.
                    let declined = matches!(status, Some(486 | 600 | 603));
                    if failure.is_none() || declined {
                        failure = Some((status, "refused".into()));
                    }
                }
                Err(e) => {
                    let reason = match e {
                        rsipstack::Error::Error(m) if m == NO_ANSWER => NO_ANSWER.to_string(),
                        e => e.to_string(),
                    };
                    if failure.is_none() {
                        failure = Some((None, reason));
                    }
                }
            }
        }
        Err(failure.unwrap_or((None, "no device to ring".into())))
    };
    let outcome = tokio::select! {
        outcome = answered => outcome,
        // The offer ended (the call stopped ringing): the INVITEs still out
        // are dropped with their tasks as this returns.
        _ = given_up.cancelled() => {
            whisper.abort();
            return;
        }
    };
    let (input, answered) = match outcome {
        Ok((dialog, sdp)) => {
            let winner = dialog.id().call_id.clone();
            for call_id in call_ids.iter().filter(|c| **c != winner) {
                voice.cancel_invite(call_id).await;
            }
            // A device whose 200 crossed our CANCEL is hung up.
            tokio::spawn(async move {
                while let Some(joined) = forks.join_next().await {
                    if let Ok(Ok((late, Some(resp)))) = joined {
                        if resp.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful {
                            let _ = late.bye().await;
                        }
                    }
                }
            });
            let whisper = whisper.await.ok().flatten();
            let input = CallInput::AgentAnswered {
                agent,
                dialog: dialog.clone(),
                sdp,
                whisper,
            };
            (input, Some(dialog))
        }
        Err((status, reason)) => {
            whisper.abort();
            let input = CallInput::AgentFailed {
                agent,
                status,
                reason,
            };
            (input, None)
        }
    };
    // The call may have ended meanwhile: then the phone that answered is
    // hung up here, or it would stay in a call with nobody.
    if !voice.post(&contact, input) {
        if let Some(dialog) = answered {
            let _ = dialog.bye().await;
        }
    }
}

/// The user part for a SIP URI from a number or address.
fn sip_user(address: &str) -> String {
    let user: String = address
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-_.".contains(*c))
        .collect();
    if user.is_empty() {
        "anonymous".into()
    } else {
        user
    }
}

/// The other G.711 law (what a leg that cannot take ours is given).
pub(super) fn other(law: Law) -> Law {
    match law {
        Law::MuLaw => Law::ALaw,
        Law::ALaw => Law::MuLaw,
    }
}

/// The refusal of a re-INVITE's offer we cannot answer: 488 with the
/// Warning saying why ([`Voice::media_warning`]).
pub(super) fn refusal(
    voice: &Voice,
    reply: rsipstack::dialog::dialog::TransactionHandle,
    why: &str,
) -> super::io::Io {
    super::io::Io::Respond {
        reply,
        status: StatusCode::NotAcceptableHere,
        headers: vec![voice.media_warning(why)],
        body: None,
    }
}
