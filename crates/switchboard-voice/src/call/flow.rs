//! The flow side of a call: the effects the contact's flows ask of a
//! call (prompts, keys, loops, lookups, a transfer to a number), the audio
//! they play, the flows it loads, and the queue's music and announcements.

use super::*;
use std::time::Duration;

use switchboard_contact::Input;
use switchboard_flow::{ContactData, Effect, Event};
use switchboard_media::dtmf::{Collector, InputRules};
use switchboard_media::playout::Clip;
use switchboard_model::objects::routing_profile::Channel;
use switchboard_runtime::flow_shell;
use tracing::{info, warn};

use crate::sip::VoiceStats;

/// A GetParticipantInput without its own inter-digit timeout waits this long between keys.
const INTER_DIGIT_MS: u64 = 5_000;

impl Call {
    /// Acts on a flow's effect for request `request`; the answer goes back
    /// to the core when it comes.
    pub(super) fn flow_effect(&mut self, request: u64, effect: Effect, data: ContactData) {
        match effect {
            Effect::Play { message, voice } => {
                self.fetch_audio(request, vec![message], voice, Purpose::Prompt);
            }
            Effect::GetInput {
                prompt,
                voice,
                timeout_seconds,
                max_digits,
                terminator,
            } => {
                let rules = InputRules {
                    max_digits,
                    first_digit_timeout_ms: u64::from(timeout_seconds) * 1000,
                    inter_digit_timeout_ms: INTER_DIGIT_MS,
                    terminator: terminator.and_then(|t| t.chars().next()),
                };
                self.collector = Some((request, Collector::new(rules.clone())));
                self.fetch_audio(
                    request,
                    prompt.into_iter().collect(),
                    voice,
                    Purpose::Input(rules),
                );
            }
            Effect::PlayLoop {
                messages, voice, ..
            } => self.fetch_audio(request, messages, voice, Purpose::Loop),
            Effect::TransferToNumber {
                number,
                timeout_seconds,
                caller_id_number,
                continue_flow,
                ..
            } => {
                let voice = self.voice.clone();
                let contact = self.id();
                tokio::spawn(async move {
                    let input = match voice.route_out(&number).await {
                        Ok(route) => CallInput::DialThirdParty {
                            request,
                            route: Box::new(route),
                            number,
                            ring: Duration::from_secs(u64::from(timeout_seconds)),
                            caller_id: caller_id_number,
                            continue_flow,
                        },
                        Err(e) => {
                            warn!(%contact, "transfer to {number}: {e}");
                            CallInput::ThirdPartyFailed
                        }
                    };
                    voice.post(&contact, input);
                });
            }
            world => {
                let (voice, contact) = (self.voice.clone(), self.id());
                flow_shell::answer_later(self.voice.app(), world, data, move |event| {
                    voice.post(&contact, CallInput::FlowEvent { request, event });
                });
            }
        }
    }

    /// Puts the contact in routing; the answer (and routing's decisions)
    /// come back as inputs.
    pub(super) fn enqueue(
        &mut self,
        request: u64,
        contact: String,
        queue: switchboard_flow::QueueRef,
        priority: u32,
        time_adjustment_seconds: i64,
    ) {
        let (voice, id) = (self.voice.clone(), contact.clone());
        self.enqueue_task = Some(flow_shell::enqueue_later(
            self.voice.app(),
            contact,
            queue.id,
            Channel::Voice,
            priority,
            time_adjustment_seconds,
            move |event| {
                voice.post(&id, CallInput::FlowEvent { request, event });
            },
        ));
    }

    /// Loads a flow (a transfer to a flow, the customer queue flow).
    pub(super) fn load_flow(&self, request: u64, flow: String) {
        let (voice, contact) = (self.voice.clone(), self.id());
        flow_shell::load_later(self.voice.app(), flow, move |flow| {
            voice.post(&contact, CallInput::FlowLoaded { request, flow });
        });
    }

    pub(super) fn fetch_audio(
        &mut self,
        request: u64,
        messages: Vec<switchboard_flow::Rendered>,
        voice_name: String,
        purpose: Purpose,
    ) {
        let voice = self.voice.clone();
        let contact = self.id();
        tokio::spawn(async move {
            let mut clips = Vec::new();
            let mut result = Ok(());
            for m in &messages {
                match voice.library().render(voice.app(), m, &voice_name).await {
                    Ok(c) => clips.push(c),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let result = result.map(|_| clips);
            voice.post(
                &contact,
                CallInput::Audio {
                    request,
                    purpose,
                    result,
                },
            );
        });
    }

    pub(super) fn audio_ready(
        &mut self,
        request: u64,
        purpose: Purpose,
        result: Result<Vec<Clip>, crate::library::AudioFailure>,
    ) {
        if let Purpose::BotLine { barge_in } = purpose {
            match result {
                Ok(clips) => self.bot_line_ready(request, clips, barge_in),
                Err(e) => {
                    // The line is lost, not the conversation.
                    warn!(contact = %self.core.id(), "bot line: {e}");
                    self.tell(Input::SayFinished { request });
                }
            }
            return;
        }
        let clips = match result {
            Ok(c) => c,
            Err(e) => {
                warn!(contact = %self.core.id(), "audio: {e}");
                self.collector = None;
                self.media = Media::Nothing;
                let event = Event::Failed(e.to_string());
                self.tell(Input::FlowAnswer { request, event });
                return;
            }
        };
        let now = self.now_ms();
        match purpose {
            Purpose::Prompt => {
                let generation = self.playout.play(clips, false);
                self.media = Media::Prompt {
                    request,
                    generation,
                };
                if !self.playout.is_playing() {
                    // Nothing to say (empty text): done at once.
                    self.media = Media::Nothing;
                    let event = Event::PromptFinished;
                    self.tell(Input::FlowAnswer { request, event });
                }
            }
            Purpose::Input(_) => {
                self.playout.play(clips, false);
                self.media = Media::Input;
                if !self.playout.is_playing() {
                    if let Some((_, c)) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
            }
            Purpose::BotLine { .. } => {}
            Purpose::Loop => {
                if clips.iter().all(|c| c.is_empty()) {
                    self.play_music();
                } else {
                    self.playout.play(clips, true);
                    self.media = Media::Loop;
                }
            }
        }
    }

    /// The contact waits in a queue: the customer queue flow is loading,
    /// or music with the caller's place announced.
    pub(super) fn queued(&mut self, queue_flow: bool) {
        if let Some(q) = &self.core.record().queue {
            info!(contact = %self.core.id(), queue = %q.name, "queued");
        }
        self.collector = None;
        self.play_music();
        if !queue_flow {
            self.announcements.start(self.now_ms());
        }
    }

    /// Tells the caller their place in the queue and, when the queue's
    /// recent pace allows an estimate, the expected wait.
    pub(super) fn announce(&self) {
        let voice = self.voice.clone();
        let contact = self.id();
        let queue = self
            .core
            .record()
            .queue
            .as_ref()
            .map(|q| q.id.clone())
            .unwrap_or_default();
        let voice_name = self.core.data().voice.clone();
        tokio::spawn(async move {
            let Some((position, _)) = voice.app().routing.position(&contact).await else {
                return;
            };
            let pieces =
                crate::spoken::announcement(position, voice.expected_wait(&queue, position));
            match voice.library().speak_pieces(&pieces, &voice_name).await {
                Ok(clip) => {
                    VoiceStats::add(&voice.stats().queue_announcements, 1);
                    voice.post(&contact, CallInput::Announcement { clip });
                }
                Err(e) => warn!(%contact, "queue announcement: {e}"),
            }
        });
    }
}
