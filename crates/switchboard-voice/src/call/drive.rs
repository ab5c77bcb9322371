//! What the contact's core asks of a call, output by output: records,
//! flow effects, routing, the agent's leg, holds, transfers and the end.

use super::*;
use switchboard_runtime::CardState;

use switchboard_contact::Output;
use switchboard_model::contact_record::{CallQuality, DisconnectReason};
use switchboard_model::ContactRecord;
use switchboard_runtime::routing::RoutingUpdate;

use super::io::{AfterRecording, Io};
use tracing::warn;

impl Call {
    /// Acts on every output of the contact's core, in order.
    pub(super) fn drive(&mut self) {
        while let Some(output) = self.core.poll_output() {
            self.act(output);
        }
    }

    pub(super) fn act(&mut self, output: Output) {
        match output {
            Output::Record(record) => self.records.record(&record),
            Output::Flow {
                request,
                effect,
                data,
            } => self.flow_effect(request, effect, *data),
            Output::Enqueue {
                request,
                contact,
                queue,
                priority,
                time_adjustment_seconds,
            } => self.enqueue(request, contact, queue, priority, time_adjustment_seconds),
            Output::Route(switchboard_contact::Route::Abandon { contact }) => {
                // An Enqueue still on its way must land first, or routing
                // would keep a contact nobody handles.
                let enqueue = self.enqueue_task.take();
                self.ask(Io::Abandon { contact, enqueue });
            }
            Output::Route(route) => {
                self.ask(Io::Route(switchboard_runtime::routing::from_contact(route)))
            }
            Output::LoadFlow { request, flow } => self.load_flow(request, flow),
            Output::StopMedia => {
                self.playout.stop();
                self.media = Media::Nothing;
            }
            Output::FlowFailed { action, reason } => {
                warn!(contact = %self.core.id(), ?action, "flow failed: {reason}");
            }
            Output::LoadBot {
                request,
                bot,
                language,
            } => self.load_bot(request, bot, language),
            Output::Say {
                request,
                message,
                voice,
                barge_in,
            } => self.fetch_audio(request, vec![message], voice, Purpose::BotLine { barge_in }),
            Output::MediaStreaming { directions } => self.media_streaming(directions),
            Output::Listen { phrases, grammar } => {
                self.listen(crate::speech::Hints { phrases, grammar })
            }
            Output::CallBotHook {
                request,
                function,
                payload,
            } => self.call_bot_hook(request, function, payload),
            Output::Queued { queue_flow } => self.queued(queue_flow),
            Output::QueueFlowEnded => self.play_music(),
            Output::Offer { agent } => self.ask(Io::LookUpAgent { agent }),
            Output::Withdraw { agent } => {
                // The offer timed out (routing marks the agent Missed and
                // puts the contact back in its place): stop ringing.
                if let Some(a) =
                    self.drop_agent_leg(|a| a.agent == agent && a.connected_at.is_none())
                {
                    self.stop_ringing(a);
                }
            }
            Output::AgentConnected { agent } => {
                self.agent_connected(&agent);
                // A REFER that came before the connection: now it can be done.
                if let Some(refer) = self.pending_refer.take() {
                    self.voice.post(&self.id(), refer);
                }
            }
            Output::AgentDone {
                agent,
                contact,
                transferred,
            } => {
                self.voice.agent_finished(&agent, &contact);
                if let Some(a) = self.drop_agent_leg_of(&contact, |a| a.agent == agent) {
                    // An agent who hung up needs no BYE (one who ended the
                    // call in the CCP, on a desk phone, does).
                    let hung_up = self.core.record().disconnect_reason
                        == Some(DisconnectReason::AgentDisconnect)
                        && !(self.ended_in_ccp && a.dialog.is_some());
                    if transferred || !hung_up {
                        self.stop_ringing(a);
                    }
                }
            }
            Output::ConnectedAfterEnd { agent } => {
                let id = self.id();
                self.voice.agent_finished(&agent, &id);
                if let Some(line) = self.voice.softphones().get(&agent) {
                    line.put_contact(self.view(CardState::Ended));
                }
            }
            Output::Held(hold) => self.held(hold),
            Output::DropThirdParty => {
                if let Some(a) = self.drop_agent_leg(|a| a.third_party.is_some()) {
                    self.stop_ringing(a);
                }
            }
            Output::Ended { .. } => self.ending = true,
            Output::Closed(record) => self.closed(*record),
        }
    }

    /// The contact is out of routing. An agent who accepted just as the
    /// caller hung up is in after-contact work.
    pub(super) fn abandoned(&mut self, contact: &str, updates: Vec<RoutingUpdate>) {
        for update in updates {
            if let RoutingUpdate::AgentState { agent, state, .. } = update {
                if state == switchboard_runtime::routing::AgentState::AfterContactWork {
                    self.voice.agent_finished(&agent, contact);
                    if let Some(line) = self.voice.softphones().get(&agent) {
                        line.put_contact(self.view(CardState::Ended));
                    }
                }
            }
        }
    }

    /// A contact's last record: this call's, or the one a transfer ended
    /// (written once its recording is stored: [`Call::recorded`]).
    fn closed(&mut self, mut record: ContactRecord) {
        let ended = record.disconnect_timestamp.unwrap_or(self.at);
        let transferred = record.next_contact_id.is_some() && record.id != self.core.id();
        if transferred {
            // The recording so far and the quality belong to the first contact.
            record.quality = Some(CallQuality {
                customer: self.customer.quality(),
                agent: self.last_agent_quality.take(),
            });
            let contact = record.id.clone();
            self.store_recording(&contact, ended, AfterRecording::Closed(Box::new(record)));
            return;
        }
        self.write_closed(record);
    }

    pub(super) fn write_closed(&mut self, record: ContactRecord) {
        self.records.record(&record);
        self.voice.app().metrics.contact_ended(&record);
    }
}
