//! Feature codes: what an agent dials from their desk phone to change
//! their status without a browser, as on a PBX (`*1` Available, `*0`
//! Offline by default; configurable). An agent with only a desk phone can
//! otherwise not get back to Available after a missed offer.
//!
//! The INVITE is authenticated by digest as the phone's REGISTER is (the
//! user's SIP password), the status is set through the router, and the
//! call is answered with the new status spoken (a tone when speech is not
//! available), then hung up. No contact is created: it is not a contact.

use std::time::Duration;

use rsipstack::sip::{Header, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use switchboard_media::playout::{Clip, Playout};
use switchboard_media::sdp::RemoteAudio;
use switchboard_model::AgentStatus;
use switchboard_runtime::routing::RoutingEvent;
use tracing::{info, warn};

use crate::leg::Leg;
use crate::sip::Voice;

/// Dialled codes and the agent status each sets (by name or id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureCodes(pub Vec<(String, String)>);

impl Default for FeatureCodes {
    fn default() -> Self {
        Self(vec![
            ("*1".into(), "Available".into()),
            ("*0".into(), "Offline".into()),
        ])
    }
}

impl FeatureCodes {
    /// The status a dialled user part asks for, if it is a feature code.
    pub fn status_for(&self, dialled: &str) -> Option<&str> {
        // Phones escape `*` in URIs as %2A (RFC 3261 allows either).
        let dialled = dialled.replace("%2A", "*").replace("%2a", "*");
        self.0
            .iter()
            .find(|(code, _)| *code == dialled)
            .map(|(_, status)| status.as_str())
    }
}

/// How long the confirmation may play at most.
const CONFIRMATION_LIMIT: Duration = Duration::from_secs(5);

impl Voice {
    /// Serves one feature-code INVITE for `status`.
    pub(crate) async fn feature_code(
        &self,
        mut tx: Transaction,
        source: std::net::SocketAddr,
        status: &str,
    ) {
        let Some(user) = self
            .registrar()
            .authenticate(self.app(), &mut tx, source)
            .await
        else {
            return;
        };
        let found = match self.app().store.get::<AgentStatus>(status).await {
            Ok(Some(s)) if s.spec.enabled => s,
            _ => {
                warn!(username = %user.spec.username, %status, "feature code: no enabled agent status of that name");
                let _ = tx.reply(StatusCode::NotFound).await;
                return;
            }
        };
        let set = RoutingEvent::SetStatus {
            agent: user.id.clone(),
            status: found.id.clone(),
        };
        if let Err(e) = self.app().routing.send(set).await {
            warn!(username = %user.spec.username, "feature code: status not set: {e}");
            let _ = tx.reply(StatusCode::ServiceUnavailable).await;
            return;
        }
        info!(username = %user.spec.username, status = %found.spec.name, "status set from the desk phone");
        self.confirm(tx, source, &found.spec.name).await;
    }

    /// Answers the feature-code call, says `what` and hangs up.
    async fn confirm(&self, mut tx: Transaction, source: std::net::SocketAddr, what: &str) {
        let Ok(remote) = RemoteAudio::parse(&tx.original.body) else {
            // No offer to answer: the status is set; say so in the status line.
            let _ = tx.reply(StatusCode::Decline).await;
            return;
        };
        let media_ip = self.media_ip_for(remote.addr.ip());
        let mut leg = match Leg::bind(media_ip, self.config().rtp_ports).await {
            Ok(l) => l,
            Err(_) => {
                let _ = tx.reply(StatusCode::Decline).await;
                return;
            }
        };
        let transport = crate::sip::transport_of(&tx);
        leg.set_peer(crate::leg::MediaPeer {
            signalling: None,
            strict: false,
            private: transport == crate::registrar::Transport::Tls,
        });
        let Ok((answer, negotiated)) = leg.answer(&remote) else {
            let _ = tx.reply(StatusCode::Decline).await;
            return;
        };
        leg.connect(&remote, negotiated);
        let Ok(dialog) = self.dialogs().get_or_create_server_invite(
            &tx,
            self.state_sender(),
            None,
            Some(self.contact_uri_for(transport, source.ip())),
        ) else {
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        };
        let mut handler = dialog.clone();
        tokio::spawn(async move {
            let _ = handler.handle(&mut tx).await;
        });
        let headers = vec![Header::ContentType("application/sdp".into())];
        if dialog.accept(Some(headers), Some(answer)).is_err() {
            return;
        }
        let clip = match self.library().speak(what, "").await {
            Ok(clip) => clip,
            Err(_) => beep(),
        };
        let mut playout = Playout::default();
        playout.play(vec![clip], false);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let deadline = tokio::time::Instant::now() + CONFIRMATION_LIMIT;
        while tokio::time::Instant::now() < deadline {
            tick.tick().await;
            match playout.tick().frame {
                Some(frame) => leg.send_samples(&frame),
                None => break,
            }
        }
        crate::sip::hang_up_once_acknowledged(&dialog).await;
    }
}

/// Two short beeps at 880 Hz: "done", when speech is not available.
fn beep() -> Clip {
    let rate = switchboard_media::SAMPLE_RATE as usize;
    let tone = |n: usize| {
        (0..n).map(|i| {
            let t = i as f64 / rate as f64;
            (6000.0 * (2.0 * std::f64::consts::PI * 880.0 * t).sin()) as i16
        })
    };
    let gap = std::iter::repeat_n(0i16, rate / 10);
    tone(rate / 5).chain(gap).chain(tone(rate / 5)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_codes_set_available_and_offline_and_escaped_stars_match() {
        let codes = FeatureCodes::default();
        assert_eq!(codes.status_for("*1"), Some("Available"));
        assert_eq!(codes.status_for("%2A0"), Some("Offline"));
        assert_eq!(codes.status_for("1"), None);
        assert_eq!(codes.status_for("442079460999"), None);
    }
}
