//! How a call ends: who left, the recording kept, and the final record.

use super::*;

use chrono::{DateTime, Utc};
use switchboard_contact::Input;
use switchboard_model::contact_record::{CallQuality, DisconnectReason, RecordingInfo};
use tracing::info;

use super::io::{AfterRecording, Io};
use agent::count_packets;

impl Call {
    /// Stores the recording (if one runs) for contact `contact`, then goes
    /// on with `then` ([`Call::recorded`]).
    pub(super) fn store_recording(
        &mut self,
        contact: &str,
        ended: DateTime<Utc>,
        then: AfterRecording,
    ) {
        match self.recorder.take() {
            Some(recorder) => self.ask(Io::StoreRecording {
                recorder,
                key: format!("recordings/{}/{}.wav", ended.format("%Y/%m/%d"), contact),
                contact: contact.to_string(),
                then,
            }),
            // Nothing to store: it still goes on in turn, after the I/O
            // asked for before it (the caller's BYE before the last record).
            None => self.ask(Io::NoRecording(then)),
        }
    }

    /// The recording is stored (or there was none): where it is goes in
    /// the record it belongs to.
    pub(super) fn recorded(&mut self, recording: Option<RecordingInfo>, then: AfterRecording) {
        match then {
            AfterRecording::Closed(mut record) => {
                record.recording = recording;
                self.write_closed(*record);
            }
            AfterRecording::Finish(quality) => {
                self.core.handle(self.at, Input::Quality(quality));
                if let Some(recording) = recording {
                    self.core.handle(self.at, Input::Recording(recording));
                }
                self.core.handle(self.at, Input::Close);
                self.drive();
                let id = self.id();
                self.voice.forget(&id, &self.customer_call_id);
                info!(contact = %id, reason = ?self.core.record().disconnect_reason, "call ended");
            }
        }
    }

    /// The agent's or the third party's phone hung up.
    pub(super) fn agent_left(&mut self) {
        let Some(a) = &self.agent else { return };
        match (a.third_party, a.connected_at) {
            // Busy or unanswered: AgentFailed reports it to the flow.
            (Some(_), None) => {}
            // The third party hung up: back to the flow, which goes on or ends.
            (Some(_), Some(_)) => {
                self.drop_agent_leg(|_| true);
                self.tell(Input::ThirdPartyLeft);
            }
            (None, _) => self.tell(Input::AgentLeft),
        }
    }

    /// Hangs up what is still up, stores the recording, and closes the
    /// contact: its core hands out the final record.
    pub(super) fn finish(&mut self) {
        let ended = self.at;
        // A transfer the agent's phone asked for before it was connected,
        // and the call ended first: the phone hears it did not happen.
        if let Some(CallInput::Refer { reply, .. }) = self.pending_refer.take() {
            self.ask(Io::Respond {
                reply,
                status: rsipstack::sip::StatusCode::CallTransactionDoesNotExist,
                headers: vec![],
                body: None,
            });
        }
        if let Some(a) = self.drop_agent_leg(|_| true) {
            self.stop_ringing(a);
        }
        if self.core.record().disconnect_reason != Some(DisconnectReason::CustomerDisconnect) {
            self.ask(Io::HangUpCustomer);
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
        self.store_recording(&id, ended, AfterRecording::Finish(quality));
    }
}
