//! How a call ends: who left, the recording kept, and the final record.

use super::*;

use chrono::{DateTime, Utc};
use switchboard_contact::Input;
use switchboard_model::contact_record::{CallQuality, DisconnectReason, RecordingInfo};
use tracing::{info, warn};

use agent::count_packets;

impl Call {
    /// Stores the recording (if one runs) for contact `contact`; where it is, for its record.
    pub(super) async fn store_recording(
        &mut self,
        contact: &str,
        ended: DateTime<Utc>,
    ) -> Option<RecordingInfo> {
        let recorder = self.recorder.take()?;
        let duration = recorder.duration_ms() as f64 / 1000.0;
        let key = format!("recordings/{}/{}.wav", ended.format("%Y/%m/%d"), contact);
        let wav = tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .unwrap_or_default();
        Some(match self.voice.app().blobs.put(&key, wav.into()).await {
            Ok(()) => RecordingInfo {
                location: key,
                duration_seconds: duration,
                status: "AVAILABLE".into(),
                status_reason: None,
            },
            Err(e) => {
                warn!(%contact, "recording not stored: {e}");
                RecordingInfo {
                    location: key,
                    duration_seconds: duration,
                    status: "FAILED".into(),
                    status_reason: Some(e.to_string()),
                }
            }
        })
    }

    /// The agent's or the third party's phone hung up.
    pub(super) async fn agent_left(&mut self) {
        let Some(a) = &self.agent else { return };
        match (a.third_party, a.connected_at) {
            // Busy or unanswered: AgentFailed reports it to the flow.
            (Some(_), None) => {}
            // The third party hung up: back to the flow, which goes on or ends.
            (Some(_), Some(_)) => {
                self.drop_agent_leg(|_| true);
                self.tell(Input::ThirdPartyLeft).await;
            }
            (None, _) => self.tell(Input::AgentLeft).await,
        }
    }

    /// Hangs up what is still up, stores the recording, and closes the
    /// contact: its core hands out the final record.
    pub(super) async fn finish(&mut self) {
        let ended = self.at;
        // A transfer the agent's phone asked for before it was connected,
        // and the call ended first: the phone hears it did not happen.
        if let Some(CallInput::Refer { reply, .. }) = self.pending_refer.take() {
            let _ = reply
                .reply(rsipstack::sip::StatusCode::CallTransactionDoesNotExist)
                .await;
        }
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.stop_ringing(&a).await;
        }
        if self.core.record().disconnect_reason != Some(DisconnectReason::CustomerDisconnect) {
            crate::sip::hang_up_once_acknowledged(&self.customer_dialog).await;
        }
        let quality = CallQuality {
            customer: self.customer.quality(),
            agent: self.last_agent_quality.take(),
        };
        count_packets(
            &self.voice,
            (
                self.customer.packets_in,
                self.customer.packets_out,
                self.customer.refused(),
            ),
        );
        let id = self.id();
        let recording = self.store_recording(&id, ended).await;
        self.core.handle(self.at, Input::Quality(quality));
        if let Some(recording) = recording {
            self.core.handle(self.at, Input::Recording(recording));
        }
        self.core.handle(self.at, Input::Close);
        self.drive().await;
        self.voice.forget(&id, &self.customer_call_id);
        info!(contact = %id, reason = ?self.core.record().disconnect_reason, "call ended");
    }
}
