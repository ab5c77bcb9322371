//! The call's I/O, asked for and carried out: the call's parts never wait.
//! Each part decides and pushes an [`Io`] (answer a request, hang up a
//! dialog, ask routing, look an agent up, bind a socket, store the
//! recording); the driver carries each out in turn ([`Call::settle`]) and
//! hands the answer, a [`Done`], back to the part that asked, which goes on
//! from there without waiting either.
//!
//! An answer's own I/O is done before the next in line, as if it had been
//! awaited where it was asked for: a NOTIFY still precedes the BYE of the
//! transfer it reports, and nothing else reaches the call meanwhile (the
//! driver takes no new wake-up until all of it is done).

use super::*;
use std::collections::VecDeque;
use std::time::Duration;

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Header, StatusCode};
use switchboard_media::recording::Recorder;
use switchboard_model::contact_record::{CallQuality, RecordingInfo, RoutingProfileRef};
use switchboard_model::{ContactRecord, User};
use switchboard_runtime::routing::{RoutingEvent, RoutingUpdate};
use switchboard_runtime::transfer::{self, TransferTarget};
use tracing::{debug, warn};

use super::input::AgentAction;

/// How long a phone has to take the NOTIFY that ends its transfer before
/// the transfer goes on anyway.
const NOTIFY_WITHIN: Duration = Duration::from_secs(2);

/// I/O a part of the call asks for.
pub(super) enum Io {
    /// Answer a request on a leg (re-INVITE, UPDATE, REFER).
    Respond {
        reply: TransactionHandle,
        status: StatusCode,
        headers: Vec<Header>,
        body: Option<Vec<u8>>,
    },
    /// Hang up a leg's dialog.
    Bye(InviteDialog),
    /// Hang up on the caller once they have acknowledged our answer.
    HangUpCustomer,
    /// Tell a phone how its transfer (REFER) went, in time or not at all.
    Notify {
        dialog: InviteDialog,
        headers: Vec<Header>,
        body: Vec<u8>,
    },
    /// Tell routing something whose answer the call does not need.
    Route(RoutingEvent),
    /// Take the contact out of routing, once an Enqueue still on its way
    /// has landed: [`Done::Abandoned`].
    Abandon {
        contact: String,
        enqueue: Option<tokio::task::JoinHandle<()>>,
    },
    /// Queue the next contact of a transfer: [`Done::TransferQueued`].
    QueueTransfer(QueueTransfer),
    /// The agent an offer is for, and their routing profile:
    /// [`Done::AgentLookedUp`].
    LookUpAgent { agent: String },
    /// A trunk route to `number`: [`Done::Routed`].
    RouteOut { number: String, then: RouteFor },
    /// An RTP socket for a phone about to be dialled: [`Done::LegBound`].
    BindLeg {
        media_ip: std::net::IpAddr,
        dial: Box<Dial>,
    },
    /// What the number a phone's REFER names is: [`Done::ReferResolved`].
    ResolveRefer(Box<Refer>),
    /// Store the recording as `key`: [`Done::Recorded`].
    StoreRecording {
        recorder: Recorder,
        key: String,
        contact: String,
        then: AfterRecording,
    },
    /// No recording to store: [`Done::Recorded`] without one.
    NoRecording(AfterRecording),
}

/// The answer to an [`Io`], for the part that asked.
pub(super) enum Done {
    Abandoned {
        contact: String,
        updates: Vec<RoutingUpdate>,
    },
    TransferQueued {
        transfer: QueueTransfer,
        /// Why routing refused it, and whether the queue was full.
        refused: Option<(String, bool)>,
    },
    AgentLookedUp {
        agent: String,
        found: Option<(User, RoutingProfileRef)>,
    },
    Routed {
        number: String,
        route: Result<PhoneRoute, String>,
        then: RouteFor,
    },
    LegBound {
        leg: std::io::Result<Box<crate::leg::Leg>>,
        dial: Box<Dial>,
    },
    ReferResolved {
        refer: Box<Refer>,
        action: Result<AgentAction, (StatusCode, String)>,
    },
    Recorded {
        recording: Option<RecordingInfo>,
        then: AfterRecording,
    },
}

/// A transfer to a queue on its way: the contact it leaves, the one it
/// makes, and the queue (id, name).
pub(super) struct QueueTransfer {
    pub(super) previous: String,
    pub(super) next: String,
    pub(super) queue: (String, String),
}

/// What a route out is for.
pub(super) enum RouteFor {
    /// The agent's external number, for an offer.
    AgentPhone { agent: String, username: String },
    /// The agent's cold transfer.
    ColdTransfer,
}

/// A phone to dial for the customer, once its RTP socket is bound (see
/// `Call::dial`).
pub(super) struct Dial {
    pub(super) agent: String,
    pub(super) username: String,
    pub(super) routes: Vec<PhoneRoute>,
    pub(super) ring: Duration,
    pub(super) caller_id: Option<String>,
    pub(super) third_party: Option<bool>,
}

/// A REFER from the agent's phone, being carried out.
pub(super) struct Refer {
    pub(super) agent: String,
    /// The user part of its Refer-To.
    pub(super) target: String,
    pub(super) dialog: InviteDialog,
    pub(super) reply: TransactionHandle,
}

/// What a stored recording completes.
pub(super) enum AfterRecording {
    /// The final record of the contact a transfer ended.
    Closed(Box<ContactRecord>),
    /// The end of the call, with the caller's and the agent's audio figures.
    Finish(CallQuality),
}

/// The call's queue of I/O to carry out.
#[derive(Default)]
pub(super) struct Pending(VecDeque<Io>);

impl Pending {
    pub(super) fn push(&mut self, io: Io) {
        self.0.push_back(io);
    }
}

impl Call {
    /// Asks for `io`; the driver carries it out once the part asking returns.
    pub(super) fn ask(&mut self, io: Io) {
        self.io.push(io);
    }

    /// Carries out every I/O asked for, in order, handing each answer back
    /// at once (its own I/O first, see the module doc), and acts on what
    /// the contact's core said meanwhile.
    pub(super) async fn settle(&mut self) {
        loop {
            if let Some(io) = self.io.0.pop_front() {
                let Some(done) = self.carry_out(io).await else {
                    continue;
                };
                let before = self.io.0.len();
                self.on_done(done);
                let asked: Vec<Io> = self.io.0.drain(before..).collect();
                for io in asked.into_iter().rev() {
                    self.io.0.push_front(io);
                }
            } else if let Some(output) = self.core.poll_output() {
                self.act(output);
            } else {
                return;
            }
        }
    }

    async fn carry_out(&mut self, io: Io) -> Option<Done> {
        let app = self.voice.app();
        match io {
            Io::Respond {
                reply,
                status,
                headers,
                body,
            } => {
                let _ = reply.respond(status, Some(headers), body).await;
                None
            }
            Io::Bye(dialog) => {
                let _ = dialog.bye().await;
                None
            }
            Io::HangUpCustomer => {
                crate::sip::hang_up_once_acknowledged(&self.customer_dialog).await;
                None
            }
            Io::Notify {
                dialog,
                headers,
                body,
            } => {
                let notify = dialog.notify(Some(headers), Some(body));
                let _ = tokio::time::timeout(NOTIFY_WITHIN, notify).await;
                None
            }
            Io::Route(event) => {
                if let Err(e) = app.routing.send(event).await {
                    warn!(contact = %self.core.id(), "routing: {e}");
                }
                None
            }
            Io::Abandon { contact, enqueue } => {
                if let Some(enqueue) = enqueue {
                    let _ = enqueue.await;
                }
                let abandon = RoutingEvent::Abandon {
                    contact: contact.clone(),
                };
                let updates = match app.routing.send(abandon).await {
                    Ok(updates) => updates,
                    // Refused if the queue had refused the contact: nothing to undo.
                    Err(e) => {
                        debug!(%contact, "abandon: {e}");
                        vec![]
                    }
                };
                Some(Done::Abandoned { contact, updates })
            }
            Io::QueueTransfer(transfer) => {
                let enqueue = RoutingEvent::Enqueue {
                    contact: transfer.next.clone(),
                    queue: transfer.queue.0.clone(),
                    channel: switchboard_model::objects::routing_profile::Channel::Voice,
                    priority: 5,
                    time_adjustment_seconds: 0,
                };
                let refused = match app.routing.send(enqueue).await {
                    Ok(updates) => updates.into_iter().find_map(|u| match u {
                        RoutingUpdate::Refused { contact, reason } if contact == transfer.next => {
                            Some((
                                reason.to_string(),
                                reason == switchboard_routing::Refusal::QueueAtCapacity,
                            ))
                        }
                        _ => None,
                    }),
                    Err(e) => Some((e.to_string(), false)),
                };
                Some(Done::TransferQueued { transfer, refused })
            }
            Io::LookUpAgent { agent } => {
                let found = match app.store.get::<User>(&agent).await {
                    Ok(Some(user)) => {
                        let profile = app.routing_profile_ref(&user.spec.routing_profile).await;
                        Some((user.spec, profile))
                    }
                    _ => None,
                };
                Some(Done::AgentLookedUp { agent, found })
            }
            Io::RouteOut { number, then } => {
                let route = self
                    .voice
                    .route_out(&number)
                    .await
                    .map_err(|e| e.to_string());
                Some(Done::Routed {
                    number,
                    route,
                    then,
                })
            }
            Io::BindLeg { media_ip, dial } => {
                let leg = crate::leg::Leg::bind(media_ip, self.voice.config().rtp_ports)
                    .await
                    .map(Box::new);
                Some(Done::LegBound { leg, dial })
            }
            Io::ResolveRefer(refer) => {
                let action = match transfer::dialled(app, &refer.agent, &refer.target).await {
                    Ok(TransferTarget::Queue(id, name)) => {
                        Ok(AgentAction::TransferToQueue(id, name))
                    }
                    Ok(TransferTarget::Number(number)) => {
                        match self.voice.route_out(&number).await {
                            Ok(_) => Ok(AgentAction::TransferToNumber(number)),
                            Err(e) => Err((StatusCode::ServiceUnavailable, e.to_string())),
                        }
                    }
                    Err(e) => Err((StatusCode::NotFound, e.to_string())),
                };
                Some(Done::ReferResolved { refer, action })
            }
            Io::StoreRecording {
                recorder,
                key,
                contact,
                then,
            } => {
                let duration = recorder.duration_ms() as f64 / 1000.0;
                let wav = tokio::task::spawn_blocking(move || recorder.finish())
                    .await
                    .unwrap_or_default();
                let recording = match app.blobs.put(&key, wav.into()).await {
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
                };
                Some(Done::Recorded {
                    recording: Some(recording),
                    then,
                })
            }
            Io::NoRecording(then) => Some(Done::Recorded {
                recording: None,
                then,
            }),
        }
    }

    /// Hands an answer back to the part that asked for it.
    fn on_done(&mut self, done: Done) {
        match done {
            Done::Abandoned { contact, updates } => self.abandoned(&contact, updates),
            Done::TransferQueued { transfer, refused } => self.transfer_queued(transfer, refused),
            Done::AgentLookedUp { agent, found } => self.agent_looked_up(agent, found),
            Done::Routed {
                number,
                route,
                then,
            } => self.routed(number, route, then),
            Done::LegBound { leg, dial } => self.leg_bound(leg, *dial),
            Done::ReferResolved { refer, action } => self.refer_resolved(*refer, action),
            Done::Recorded { recording, then } => self.recorded(recording, then),
        }
    }
}
