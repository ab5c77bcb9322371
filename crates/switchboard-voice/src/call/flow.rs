//! The flow side of a call: its sessions (the contact flow, then the
//! queue's), the effects they ask for, the audio they play, and the queue's
//! music and announcements.

use super::*;

impl Call {
    pub(super) fn start_session(&mut self, flow: Arc<switchboard_flow::Flow>) {
        self.session_no += 1;
        self.ctr.flow_path.clear();
        let (session, effects) =
            Session::start(flow, self.contact.clone(), self.seed ^ self.session_no);
        self.session = Some(session);
        self.apply(effects);
    }

    pub(super) fn feed(&mut self, event: Event) {
        let Some(session) = &mut self.session else {
            return;
        };
        let effects = session.handle(event);
        self.apply(effects);
    }

    /// Acts on what the flow asked for; the last effect that needs an
    /// answer decides what the call waits for.
    pub(super) fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Play { message, voice } => {
                    self.fetch_audio(vec![message], voice, Purpose::Prompt);
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
                    self.collector = Some(Collector::new(rules.clone()));
                    self.fetch_audio(prompt.into_iter().collect(), voice, Purpose::Input(rules));
                }
                Effect::PlayLoop {
                    messages,
                    voice,
                    interrupt_seconds,
                } => {
                    let interrupt_ms = interrupt_seconds.map(|s| u64::from(s) * 1000);
                    self.fetch_audio(messages, voice, Purpose::Loop { interrupt_ms });
                }
                Effect::StartTimer { seconds, .. } => {
                    self.waiting = Waiting::Timer(self.now_ms() + u64::from(seconds) * 1000);
                }
                Effect::StartBot { .. } => {
                    self.feed_later(Event::Failed("no bot engine is configured".into()));
                }
                Effect::TransferToNumber {
                    number,
                    timeout_seconds,
                    caller_id_number,
                    continue_flow,
                    ..
                } => {
                    let session_no = self.await_answer();
                    let voice = self.voice.clone();
                    let contact = self.contact_id.clone();
                    tokio::spawn(async move {
                        let input = match voice.route_out(&number).await {
                            Ok(route) => CallInput::DialThirdParty {
                                request: session_no,
                                route: Box::new(route),
                                number,
                                ring: Duration::from_secs(u64::from(timeout_seconds)),
                                caller_id: caller_id_number,
                                continue_flow,
                            },
                            Err(e) => {
                                warn!(%contact, "transfer to {number}: {e}");
                                CallInput::FlowEvent {
                                    request: session_no,
                                    event: Event::CallFailed,
                                }
                            }
                        };
                        voice.post(&contact, input);
                    });
                }

                Effect::Enqueue {
                    queue,
                    priority,
                    time_adjustment_seconds,
                } => {
                    let session_no = self.await_answer();
                    let voice = self.voice.clone();
                    let contact = self.contact_id.clone();
                    self.enqueue_sent = true;
                    self.enqueue_task = Some(tokio::spawn(async move {
                        let event = RoutingEvent::Enqueue {
                            contact: contact.clone(),
                            queue: queue.id.clone(),
                            channel: Channel::Voice,
                            priority: priority.unwrap_or(5),
                            time_adjustment_seconds: time_adjustment_seconds.unwrap_or(0),
                        };
                        let answer = flow_shell::enqueue_answer(
                            &contact,
                            voice.app().routing.send(event).await,
                        );
                        voice.post(
                            &contact,
                            CallInput::FlowEvent {
                                request: session_no,
                                event: answer,
                            },
                        );
                    }));
                }
                Effect::Disconnect => {
                    self.end(DisconnectReason::ContactFlowDisconnect);
                }
                Effect::End => {}
                world if flow_shell::is_world(&world) => {
                    let request = self.await_answer();
                    let (voice, contact) = (self.voice.clone(), self.contact_id.clone());
                    let data = self
                        .session
                        .as_ref()
                        .map(|s| s.contact().clone())
                        .unwrap_or_else(|| self.contact.clone());
                    flow_shell::answer_later(self.voice.app(), world, data, move |event| {
                        voice.post(&contact, CallInput::FlowEvent { request, event });
                    });
                }
                _ => {}
            }
        }
        self.after_flow_step();
    }

    /// Answers the flow on the next turn of the loop (never re-entrantly).
    pub(super) fn feed_later(&mut self, event: Event) {
        let request = self.await_answer();
        self.voice
            .post(&self.contact_id, CallInput::FlowEvent { request, event });
    }

    /// The call now waits for a spawned task's answer; returns the request's number.
    pub(super) fn await_answer(&mut self) -> u64 {
        self.request_no += 1;
        self.waiting = Waiting::Answer(self.request_no);
        self.request_no
    }

    pub(super) fn fetch_audio(
        &mut self,
        messages: Vec<switchboard_flow::Rendered>,
        voice_name: String,
        purpose: Purpose,
    ) {
        let request = self.await_answer();
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
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
        purpose: Purpose,
        result: Result<Vec<Clip>, crate::library::AudioFailure>,
    ) {
        let clips = match result {
            Ok(c) => c,
            Err(e) => {
                warn!(contact = %self.contact_id, "audio: {e}");
                self.collector = None;
                self.waiting = Waiting::Nothing;
                self.feed(Event::Failed(e.to_string()));
                return;
            }
        };
        let now = self.now_ms();
        match purpose {
            Purpose::Prompt => {
                let generation = self.playout.play(clips, false);
                self.waiting = Waiting::Prompt(generation);
                if !self.playout.is_playing() {
                    // Nothing to say (empty text): done at once.
                    self.waiting = Waiting::Nothing;
                    self.feed(Event::PromptFinished);
                }
            }
            Purpose::Input(_) => {
                self.playout.play(clips, false);
                self.waiting = Waiting::Input;
                if !self.playout.is_playing() {
                    if let Some(c) = &mut self.collector {
                        c.prompt_finished(now);
                    }
                }
            }
            Purpose::Loop { interrupt_ms } => {
                let clips = if clips.iter().all(|c| c.is_empty()) {
                    vec![self.voice.library().hold_music()]
                } else {
                    clips
                };
                self.playout.play(clips, true);
                self.waiting = Waiting::Loop(interrupt_ms.map(|ms| now + ms));
            }
        }
    }

    /// After the flow moved: is it over, and what next?
    pub(super) fn after_flow_step(&mut self) {
        let Some(session) = &self.session else { return };
        self.contact = session.contact().clone();
        if !session.is_finished() {
            return;
        }
        let outcome = session.outcome().cloned();
        let in_main_flow = self.phase == Phase::InFlow;
        self.save();
        self.session = None;
        match outcome {
            Some(Outcome::Queued { queue }) if in_main_flow => {
                info!(contact = %self.contact_id, queue = %queue.name, "queued");
                self.phase = Phase::Queued;
                self.ctr.enter_queue(queue.id, queue.name, now());
                self.records.record(&self.ctr);
                self.start_queue_audio();
                if let Some(offer) = self.early_offer.take() {
                    self.voice.post(&self.contact_id, CallInput::Routing(offer));
                }
            }
            Some(Outcome::TransferredToFlow { flow }) => {
                self.load_and_start(flow);
            }
            _ if self.phase == Phase::Queued => {
                // The queue flow ended: music until an agent answers.
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.waiting = Waiting::Loop(None);
            }
            other => {
                if let Some(Outcome::Failed { reason, .. }) = other {
                    warn!(contact = %self.contact_id, "flow failed: {reason}");
                }
                self.end(DisconnectReason::ContactFlowDisconnect);
            }
        }
    }

    pub(super) fn load_and_start(&mut self, flow: String) {
        self.await_answer();
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        let queued = self.phase == Phase::Queued;
        tokio::spawn(async move {
            match flow_shell::load_flow(voice.app(), &flow, false).await {
                Ok(f) => {
                    voice.post(&contact, CallInput::StartFlow { flow: f });
                }
                Err(e) => {
                    warn!(%contact, "flow '{flow}': {e}");
                    voice.post(&contact, CallInput::FlowFailed { reason: e, queued });
                }
            }
        });
    }

    /// While queued: the customer queue flow if the flow set one, else music.
    pub(super) fn start_queue_audio(&mut self) {
        match self
            .contact
            .event_hooks
            .get(&switchboard_flow::model::EventHook::CustomerQueue)
            .cloned()
        {
            Some(flow) => {
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.load_and_start(flow);
                self.waiting = Waiting::Loop(None);
            }
            None => {
                self.playout
                    .play(vec![self.voice.library().hold_music()], true);
                self.waiting = Waiting::Loop(None);
                self.announcements.start(self.now_ms());
            }
        }
    }

    /// Tells the caller their place in the queue and, when the queue's
    /// recent pace allows an estimate, the expected wait.
    pub(super) fn announce(&self) {
        let voice = self.voice.clone();
        let contact = self.contact_id.clone();
        let queue = self
            .ctr
            .queue
            .as_ref()
            .map(|q| q.id.clone())
            .unwrap_or_default();
        let voice_name = self.contact.voice.clone();
        tokio::spawn(async move {
            let Some((position, _)) = voice.app().routing.position(&contact).await else {
                return;
            };
            let text = announcement_text(position, voice.expected_wait(&queue, position));
            match voice.library().speak(&text, &voice_name).await {
                Ok(clip) => {
                    VoiceStats::add(&voice.stats().queue_announcements, 1);
                    voice.post(&contact, CallInput::Announcement { clip });
                }
                Err(e) => warn!(%contact, "queue announcement: {e}"),
            }
        });
    }
}
