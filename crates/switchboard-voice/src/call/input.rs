//! What reaches a call from outside its sockets ([`CallInput`]: SIP dialog
//! changes, routing's decisions, answers to the work it handed to spawned
//! tasks, the agent's actions) and where each goes.

use super::*;
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::StatusCode;
use switchboard_contact::{Input, Phase};
use switchboard_flow::Event;
use switchboard_media::dtmf::InputRules;
use switchboard_media::playout::Clip;
use switchboard_runtime::routing::RoutingUpdate;
use tracing::info;

/// Everything that reaches a call from outside its sockets.
pub enum CallInput {
    /// A dialog of this call ended (BYE, CANCEL, timeout), by SIP Call-ID.
    DialogEnded {
        call_id: String,
        reason: String,
    },
    /// A re-INVITE on a leg: new SDP, and where to send our answer.
    Reinvite {
        call_id: String,
        sdp: Vec<u8>,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    },
    /// A REFER on a leg (RFC 3515): the agent's phone transfers the caller.
    Refer {
        call_id: String,
        /// The Refer-To header's value, as sent.
        refer_to: String,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    },
    /// A session refresh (UPDATE without an offer) on a leg, to answer.
    Refreshed {
        call_id: String,
        reply: rsipstack::dialog::dialog::TransactionHandle,
    },
    /// A key pressed, sent as SIP INFO (the fallback for phones without RFC 4733).
    InfoDigit {
        call_id: String,
        digit: char,
    },
    Routing(RoutingUpdate),
    /// The answer to an effect handed to a spawned task.
    FlowEvent {
        request: u64,
        event: Event,
    },
    /// An answer for the contact's core from a spawned task (a bot loaded,
    /// a code hook answered, what the caller said).
    Core(switchboard_contact::Input),
    /// Audio to play, ready.
    Audio {
        request: u64,
        purpose: Purpose,
        result: Result<Vec<Clip>, crate::library::AudioFailure>,
    },
    /// The agent's phone answered, with its SDP, and the whisper the agent
    /// hears before the caller (the queue's name).
    AgentAnswered {
        agent: String,
        dialog: InviteDialog,
        sdp: Vec<u8>,
        whisper: Option<Clip>,
    },
    /// Call a third party for the flow's TransferToNumber.
    DialThirdParty {
        request: u64,
        route: Box<PhoneRoute>,
        number: String,
        ring: Duration,
        caller_id: Option<String>,
        continue_flow: bool,
    },
    /// A queue announcement to play over the music.
    Announcement {
        clip: Clip,
    },
    /// The flow asked for by request `request` (a transfer to a flow, the
    /// customer queue flow), or why it could not be loaded.
    FlowLoaded {
        request: u64,
        flow: Result<Arc<switchboard_flow::Flow>, switchboard_runtime::flow_shell::FlowUnavailable>,
    },
    /// A transfer to a number could not be placed (no route).
    ThirdPartyFailed,
    /// The whisper for a softphone agent, spoken.
    Whisper {
        agent: String,
        clip: Clip,
    },
    /// The agent did something in the CCP.
    Agent {
        agent: String,
        action: AgentAction,
    },
    /// The agent's phone did not answer (busy, declined, unreachable).
    AgentFailed {
        agent: String,
        status: Option<u16>,
        reason: String,
    },
}

/// What an agent can do to their contact from the CCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    Hold,
    Resume,
    End,
    /// Cut (or restore) the agent's microphone from the call.
    Mute(bool),
    /// Hand the caller to an external number and leave (a cold transfer).
    TransferToNumber(String),
    /// Put the caller in a queue (id, name) as a new contact and leave.
    TransferToQueue(String, String),
    /// Send keys (RFC 4733) to the other party: the agent working a third
    /// party's IVR from the CCP's keypad.
    SendKeys(String),
}

/// Why audio was fetched.
#[derive(Debug, Clone)]
pub enum Purpose {
    Prompt,
    /// A bot's line; with barge-in, the caller may talk over it.
    BotLine {
        barge_in: bool,
    },
    Input(InputRules),
    /// A loop: its interrupt is the contact core's timer.
    Loop,
}

impl Call {
    /// Sends one input to the part of the call it concerns.
    pub(super) fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::DialogEnded { call_id, reason } => {
                if call_id == self.customer_call_id {
                    info!(contact = %self.core.id(), "customer left ({reason})");
                    self.tell(Input::CustomerLeft);
                } else if self.agent.as_ref().is_some_and(|a| {
                    // While several devices ring, one ending (busy, cancelled)
                    // is not the agent leaving: the ringing reports when all did.
                    a.sip_call_id == call_id && (a.dialog.is_some() || a.forks.is_empty())
                }) {
                    self.agent_left();
                }
            }
            CallInput::Refreshed { call_id, reply } => {
                let mut headers = vec![];
                if call_id == self.customer_call_id {
                    self.refresh_session_timer();
                    headers = self.session_timer_headers();
                }
                self.ask(super::io::Io::Respond {
                    reply,
                    status: StatusCode::OK,
                    headers,
                    body: None,
                });
            }
            CallInput::InfoDigit { call_id, digit } => {
                if call_id == self.customer_call_id {
                    self.on_digit(digit);
                }
            }
            CallInput::Reinvite {
                call_id,
                sdp,
                reply,
            } => self.reinvite(&call_id, &sdp, reply),
            CallInput::Refer {
                call_id,
                refer_to,
                reply,
            } => self.refer(&call_id, &refer_to, reply),
            CallInput::Routing(update) => self.on_routing(update),
            CallInput::FlowEvent { request, event } => {
                self.tell(Input::FlowAnswer { request, event });
            }
            CallInput::Core(input) => self.tell(input),
            CallInput::Audio {
                request,
                purpose,
                result,
            } => {
                if self.core.awaits(request) {
                    self.audio_ready(request, purpose, result);
                }
            }
            CallInput::DialThirdParty {
                request,
                route,
                number,
                ring,
                caller_id,
                continue_flow,
            } => {
                if self.core.awaits(request) && self.agent.is_none() {
                    info!(contact = %self.core.id(), %number, "transferring to a third party");
                    let who = format!("third-party:{number}");
                    self.dial(super::io::Dial {
                        agent: who,
                        username: number,
                        routes: vec![*route],
                        ring,
                        caller_id,
                        third_party: Some(continue_flow),
                    });
                }
            }
            CallInput::ThirdPartyFailed => {
                self.tell(Input::ThirdPartyFailed { no_answer: false });
            }
            CallInput::Announcement { clip } => {
                if self.core.phase() == Phase::Queued
                    && self.media == Media::Loop
                    && !self.core.flow_running()
                {
                    let generation = self.playout.play(vec![clip], false);
                    self.media = Media::Announcement(generation);
                    if !self.playout.is_playing() {
                        self.play_music();
                    }
                }
            }
            CallInput::FlowLoaded { request, flow } => {
                self.tell(Input::FlowLoaded { request, flow });
            }
            CallInput::AgentAnswered {
                agent,
                dialog,
                sdp,
                whisper,
            } => self.agent_answered(agent, dialog, sdp, whisper),
            CallInput::Agent { agent, action } => self.agent_action(&agent, action),
            CallInput::Whisper { agent, clip } => {
                if let Some(a) = self
                    .agent
                    .as_mut()
                    .filter(|a| a.agent == agent && a.connected_at.is_none())
                {
                    a.whisper = Some(clip);
                }
            }
            CallInput::AgentFailed {
                agent,
                status,
                reason,
            } => {
                if self
                    .agent
                    .as_ref()
                    .is_some_and(|a| a.agent == agent && a.dialog.is_none())
                {
                    info!(contact = %self.core.id(), %agent, ?status, "phone did not answer: {reason}");
                    let third_party = self
                        .drop_agent_leg(|_| true)
                        .and_then(|a| a.third_party)
                        .is_some();
                    let input = if third_party {
                        Input::ThirdPartyFailed {
                            no_answer: reason == super::phone::NO_ANSWER,
                        }
                    } else if matches!(status, Some(486 | 600 | 603)) {
                        Input::Declined { agent }
                    } else {
                        Input::Unreachable { agent }
                    };
                    self.tell(input);
                }
            }
        }
    }
}
