//! Reaching a phone over SIP: where it is ([`PhoneRoute`]), the INVITE to
//! it, and what a call says when it cannot take a peer's offer.

use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::StatusCode;
use rsipstack::transport::SipAddr;
use switchboard_media::g711::Law;

use crate::sip::Voice;

/// Where and how to reach a phone.
pub struct PhoneRoute {
    pub uri: rsipstack::sip::Uri,
    pub destination: std::net::SocketAddr,
    pub credential: Option<rsipstack::dialog::authenticate::Credential>,
    /// The number the trunk presents on calls out, if it sets one (carriers
    /// often refuse numbers that are not the customer's own).
    pub caller_id: Option<String>,
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
        let caller = format!("sip:{}@{}", sip_user(&shown), voice.local_sip());
        InviteOption {
            caller_display_name: Some(shown),
            caller: caller.as_str().try_into().unwrap_or_default(),
            callee: self.uri.clone(),
            contact: voice.contact_uri(),
            destination: Some(SipAddr::new(
                rsipstack::sip::Transport::Udp,
                self.destination.into(),
            )),
            credential: self.credential.clone(),
            content_type: Some("application/sdp".into()),
            offer: Some(offer),
            call_id: Some(sip_call_id.to_string()),
            ..Default::default()
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

/// Refuses a re-INVITE's offer we cannot answer: 488 with the Warning
/// saying why ([`Voice::media_warning`]).
pub(super) async fn refuse_offer(
    voice: &Voice,
    reply: &rsipstack::dialog::dialog::TransactionHandle,
    why: &str,
) {
    let warning = voice.media_warning(why);
    let _ = reply
        .respond(StatusCode::NotAcceptableHere, Some(vec![warning]), None)
        .await;
}
