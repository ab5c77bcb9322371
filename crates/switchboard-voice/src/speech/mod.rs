//! Speech recognition for bots on calls: what a caller said, as text.
//!
//! One trait, [`Recognise`], and the engines behind it ([`Recogniser`]):
//! - [`sphinx::Sphinx`], the default: CMU PocketSphinx on the box (Debian's
//!   library and model), held to the bot's grammar;
//! - [`openai::OpenAiCompatible`]: any server with OpenAI's
//!   `POST /v1/audio/transcriptions` (whisper.cpp's server, faster-whisper
//!   servers, hosted services), configured per instance, for operators who
//!   run a stronger recogniser.
//!
//! The utterance comes from the media core's endpointer
//! (`switchboard_media::endpoint`): 8 kHz linear PCM from just before the
//! caller spoke to the silence that ended it. Every engine is bounded: a
//! limit on concurrent recognitions, a deadline, and the longest utterance.

pub mod openai;
pub mod sphinx;

use std::future::Future;
use std::sync::Arc;

/// The longest utterance sent to a recogniser, in seconds (Lex's longest).
pub const MAX_UTTERANCE_SECONDS: usize = 15;

/// What the caller said, as the recogniser heard it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The words.
    pub text: String,
    /// How sure the recogniser is (0 to 1), when it says.
    pub confidence: Option<f32>,
}

/// What the bot can understand now: phrases that steer recognisers that
/// take hints (sample utterances, slot values, the prompt's question).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// Phrases the caller is likely to say.
    pub phrases: Vec<String>,
    /// Everything the bot can understand now, for recognisers that take
    /// grammars; none: anything (dictation).
    pub grammar: Option<Arc<switchboard_nlu::Grammar>>,
}

/// Why no transcript came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// The recogniser did not answer in time.
    #[error("the recogniser did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// It could not be reached.
    #[error("the recogniser cannot be reached: {0}")]
    Unreachable(String),
    /// It answered with an error status.
    #[error("the recogniser answered HTTP {0}")]
    Status(u16),
    /// Its answer was not a transcript.
    #[error("the recogniser's answer is not a transcript: {0}")]
    BadAnswer(String),
    /// Too many recognitions at once; the caller is asked again.
    #[error("every recognition slot is busy")]
    Busy,
    /// The utterance is longer than [`MAX_UTTERANCE_SECONDS`].
    #[error("the utterance is longer than {MAX_UTTERANCE_SECONDS} s")]
    TooLong,
    /// The engine cannot run on this machine (its library or model is missing).
    #[error("the recogniser cannot run here: {0}")]
    Unavailable(String),
}

/// Turns an utterance (8 kHz, 16-bit mono) into text.
pub trait Recognise {
    /// What was said.
    fn transcribe(
        &self,
        audio: &[i16],
        hints: &Hints,
    ) -> impl Future<Output = Result<Transcript, SpeechError>> + Send;
}

/// The engine an instance is configured with.
#[derive(Clone)]
pub enum Recogniser {
    /// PocketSphinx, on the box.
    OnBox(sphinx::Sphinx),
    /// An OpenAI-compatible transcription endpoint.
    OpenAi(openai::OpenAiCompatible),
}

/// Which engine, configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeechConfig {
    /// PocketSphinx, on the box (the default).
    OnBox(sphinx::SphinxConfig),
    /// An OpenAI-compatible endpoint.
    OpenAi(openai::OpenAiConfig),
}

impl Recogniser {
    /// The engine a configuration names.
    pub fn new(config: SpeechConfig) -> Recogniser {
        match config {
            SpeechConfig::OnBox(c) => Recogniser::OnBox(sphinx::Sphinx::new(c)),
            SpeechConfig::OpenAi(c) => Recogniser::OpenAi(openai::OpenAiCompatible::new(c)),
        }
    }

    /// Whether it can run here: the on-box engine loads its library and
    /// model (once); a remote one is taken on trust until it is called.
    pub async fn ready(&self) -> Result<(), SpeechError> {
        match self {
            Recogniser::OnBox(engine) => {
                let engine = engine.clone();
                tokio::task::spawn_blocking(move || engine.check())
                    .await
                    .map_err(|e| SpeechError::Unavailable(e.to_string()))?
                    .map_err(SpeechError::Unavailable)
            }
            Recogniser::OpenAi(_) => Ok(()),
        }
    }
}

impl Recognise for Recogniser {
    async fn transcribe(&self, audio: &[i16], hints: &Hints) -> Result<Transcript, SpeechError> {
        match self {
            Recogniser::OnBox(engine) => engine.transcribe(audio, hints).await,
            Recogniser::OpenAi(engine) => engine.transcribe(audio, hints).await,
        }
    }
}

/// 8 kHz mono 16-bit PCM as a WAV file.
pub fn wav_8k(audio: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::with_capacity(44 + audio.len() * 2));
    // Writing to memory fails only when memory does.
    if let Ok(mut w) = hound::WavWriter::new(&mut out, spec) {
        for s in audio {
            let _ = w.write_sample(*s);
        }
        let _ = w.finalize();
    }
    out.into_inner()
}
