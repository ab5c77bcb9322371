//! A bot on a call: its lines spoken in order, the caller heard through
//! the media core's endpointer (talking over a question stops it), the
//! utterance sent to the speech recogniser, keys taken as words, and the
//! answers handed to the contact's core, which runs the dialog.

use super::*;

use switchboard_contact::Input;
use switchboard_media::endpoint::{
    EndpointConfig, EndpointEvent, Endpointer, FRAME as ENDPOINT_FRAME,
};
use tracing::warn;

use crate::speech::{Hints, Recognise};

/// Keys pressed while a bot listens are words once `#` ends them or this
/// long passes after the last.
const KEY_PAUSE_MS: u64 = 3_000;

/// The caller's ear, while a bot listens or may be talked over.
pub(super) struct Listener {
    endpointer: Endpointer,
    /// The core asked for an answer (not only the barge-in of a question).
    active: bool,
    /// Phrases that steer the recogniser.
    hints: Hints,
    /// Decoded audio not yet a whole 20 ms frame.
    pending: Vec<i16>,
    /// Keys pressed, and when the last came.
    keys: String,
    last_key_ms: u64,
    /// When audio last came (ms into the call): long after, the tick feeds
    /// silence (a phone that sends nothing while the caller is quiet).
    last_audio_ms: u64,
}

/// 300 ms without a packet is a quiet line, not jitter or a late wake-up
/// (a made-up silent frame inside a word would cut it).
const QUIET_MS: u64 = 300;

impl Listener {
    fn new(now_ms: u64) -> Listener {
        Listener {
            endpointer: Endpointer::new(EndpointConfig::default()),
            active: false,
            hints: Hints::default(),
            pending: Vec::new(),
            keys: String::new(),
            last_key_ms: 0,
            last_audio_ms: now_ms,
        }
    }
}

impl Call {
    /// The bot a flow named, for a call: only with a recogniser to hear the caller.
    pub(super) fn load_bot(&self, request: u64, bot: String, language: String) {
        let (voice, contact) = (self.voice.clone(), self.id());
        let Some(recogniser) = voice.recogniser().cloned() else {
            let bot = Err(
                "speech recognition is off (the [speech] table), so a call cannot talk to a bot"
                    .to_string(),
            );
            self.tell_later(Input::BotLoaded { request, bot });
            return;
        };
        let app = self.voice.app().clone();
        tokio::spawn(async move {
            // A recogniser that cannot run here is the flow's error branch,
            // said once, not a bot that never hears the caller.
            if let Err(e) = recogniser.ready().await {
                let bot = Err(format!("a call cannot talk to a bot: {e}"));
                voice.post(&contact, CallInput::Core(Input::BotLoaded { request, bot }));
                return;
            }
            switchboard_runtime::bots::load_later(&app, bot, language, move |bot| {
                voice.post(&contact, CallInput::Core(Input::BotLoaded { request, bot }));
            });
        });
    }

    /// Hands an input to the core on the next wake-up (never from inside `drive`).
    fn tell_later(&self, input: Input) {
        self.voice.post(&self.id(), CallInput::Core(input));
    }

    pub(super) fn call_bot_hook(
        &self,
        request: u64,
        function: String,
        payload: Box<switchboard_nlu::hook::Request>,
    ) {
        let (voice, contact) = (self.voice.clone(), self.id());
        switchboard_runtime::bots::hook_later(self.voice.app(), function, payload, move |answer| {
            voice.post(
                &contact,
                CallInput::Core(Input::BotHookAnswered { request, answer }),
            );
        });
    }

    /// A bot's line is ready to play; with barge-in, the caller is heard while it plays.
    pub(super) fn bot_line_ready(
        &mut self,
        request: u64,
        clips: Vec<switchboard_media::playout::Clip>,
        barge_in: bool,
    ) {
        let generation = self.playout.play(clips, false);
        self.media = Media::BotLine {
            request,
            generation,
        };
        if barge_in && self.listener.is_none() {
            self.listener = Some(Listener::new(self.at_ms));
        }
        if !self.playout.is_playing() {
            self.media = Media::Nothing;
            self.tell(Input::SayFinished { request });
        }
    }

    /// The core listens for the caller's answer.
    pub(super) fn listen(&mut self, hints: Hints) {
        let now = self.now_ms();
        let listener = self.listener.get_or_insert_with(|| Listener::new(now));
        // Talking over the question already: that utterance is the answer.
        // Else the time to answer counts from now, not from the question's start.
        if !listener.endpointer.speaking() {
            listener.endpointer = Endpointer::new(EndpointConfig::default());
        }
        listener.active = true;
        listener.hints = hints;
    }

    /// The caller's audio, decoded, while a bot may hear it.
    pub(super) fn bot_hears(&mut self, samples: &[i16]) {
        let now = self.now_ms();
        let Some(listener) = &mut self.listener else {
            return;
        };
        listener.last_audio_ms = now;
        listener.pending.extend_from_slice(samples);
        let mut events = Vec::new();
        while listener.pending.len() >= ENDPOINT_FRAME {
            let frame: Vec<i16> = listener.pending.drain(..ENDPOINT_FRAME).collect();
            if let Some(e) = listener.endpointer.push(&frame) {
                events.push(e);
            }
        }
        for event in events {
            self.endpoint_event(event);
        }
    }

    fn endpoint_event(&mut self, event: EndpointEvent) {
        let what = match &event {
            EndpointEvent::SpeechStarted => "speech started",
            EndpointEvent::Utterance(_) => "utterance",
            EndpointEvent::NoSpeech => "no speech",
        };
        tracing::debug!(contact = %self.core.id(), what, "a bot's ear");
        match event {
            EndpointEvent::SpeechStarted => {
                // Barge-in: the caller talks over the question.
                if let Media::BotLine { request, .. } = self.media {
                    self.playout.stop();
                    self.media = Media::Nothing;
                    self.tell(Input::SayFinished { request });
                }
            }
            EndpointEvent::Utterance(audio) => {
                let hints = self.listener.take().map(|l| l.hints).unwrap_or_default();
                self.recognise(audio, hints);
            }
            EndpointEvent::NoSpeech => {
                let active = self.listener.as_ref().is_some_and(|l| l.active);
                if active {
                    let keys = self.listener.take().map(|l| l.keys).unwrap_or_default();
                    // Keys being pressed are the answer, not silence.
                    self.tell(if keys.is_empty() {
                        Input::CustomerSilent
                    } else {
                        Input::CustomerSaid(keys)
                    });
                } else if let Some(l) = &mut self.listener {
                    // Still the question: keep an ear open until it is asked.
                    l.endpointer = Endpointer::new(EndpointConfig::default());
                }
            }
        }
    }

    fn recognise(&self, audio: Vec<i16>, hints: Hints) {
        let (voice, contact) = (self.voice.clone(), self.id());
        tokio::spawn(async move {
            let Some(recogniser) = voice.recogniser() else {
                return;
            };
            let input = match recogniser.transcribe(&audio, &hints).await {
                Ok(t) if !t.text.trim().is_empty() => Input::CustomerSaid(t.text),
                Ok(_) => Input::CustomerSilent,
                Err(e) => {
                    warn!(%contact, "speech recognition: {e}");
                    Input::CustomerSilent
                }
            };
            voice.post(&contact, CallInput::Core(input));
        });
    }

    /// A key while a bot listens: part of an answer said with keys.
    pub(super) fn bot_key(&mut self, digit: char) -> bool {
        let now = self.now_ms();
        let Some(listener) = self.listener.as_mut().filter(|l| l.active) else {
            return false;
        };
        if digit == '#' {
            // '#' alone ends nothing: the bot goes on listening.
            if !listener.keys.is_empty() {
                let keys = std::mem::take(&mut listener.keys);
                self.listener = None;
                self.tell(Input::CustomerSaid(keys));
            }
            return true;
        }
        listener.keys.push(digit);
        listener.last_key_ms = now;
        true
    }

    /// Keys end after a pause; a quiet line is heard as silence; the ear
    /// closes when no bot talks any more (the dialog ended or timed out).
    pub(super) fn bot_tick(&mut self) {
        if self.listener.is_some() && !self.core.talking_to_bot() {
            self.listener = None;
            return;
        }
        let now = self.now_ms();
        let quiet = self
            .listener
            .as_ref()
            .is_some_and(|l| now.saturating_sub(l.last_audio_ms) >= QUIET_MS);
        if quiet {
            // One frame per tick while the line stays quiet; the clock of
            // the last packet stays where it was.
            let last = self.listener.as_ref().map_or(now, |l| l.last_audio_ms);
            self.bot_hears(&[0; ENDPOINT_FRAME]);
            if let Some(l) = &mut self.listener {
                l.last_audio_ms = last;
            }
        }
        let now = self.now_ms();
        let done = self.listener.as_ref().is_some_and(|l| {
            !l.keys.is_empty() && now.saturating_sub(l.last_key_ms) >= KEY_PAUSE_MS
        });
        if done {
            let keys = self.listener.take().map(|l| l.keys).unwrap_or_default();
            self.tell(Input::CustomerSaid(keys));
        }
    }
}
