//! OpenAI's transcription API, as whisper.cpp's server and many others
//! implement it: `POST {base}/v1/audio/transcriptions`, multipart with the
//! audio `file` (a WAV), `model`, `language`, a `prompt` (the bot's phrases,
//! which steer Whisper-style recognisers) and `response_format=json`;
//! the answer is `{"text": "..."}`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{wav_8k, Hints, Recognise, SpeechError, Transcript, MAX_UTTERANCE_SECONDS};

/// The longest prompt sent (Whisper reads about 224 tokens of it).
const MAX_PROMPT_CHARS: usize = 800;
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where the endpoint is and how to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// The server's base URL (`http://127.0.0.1:8178`); `/v1/audio/transcriptions` is added.
    pub base_url: String,
    /// The `model` field (`whisper-1`; local servers often ignore it).
    pub model: String,
    /// A bearer token, for hosted services.
    pub api_key: Option<String>,
    /// The caller's language (`en`).
    pub language: String,
    /// How long one transcription may take.
    pub timeout: Duration,
    /// Most transcriptions at once; more are refused as busy.
    pub max_concurrent: usize,
}

/// A client for one endpoint. Cheap to clone.
#[derive(Clone)]
pub struct OpenAiCompatible {
    config: Arc<OpenAiConfig>,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl OpenAiCompatible {
    /// A client for the endpoint the configuration names.
    pub fn new(config: OpenAiConfig) -> OpenAiCompatible {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        OpenAiCompatible {
            slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            config: Arc::new(config),
            http,
        }
    }

    fn url(&self) -> String {
        format!(
            "{}/v1/audio/transcriptions",
            self.config.base_url.trim_end_matches('/')
        )
    }
}

/// The phrases as one prompt, cut at a phrase boundary.
fn prompt(hints: &Hints) -> String {
    let mut out = String::new();
    for p in &hints.phrases {
        if out.len() + p.len() + 2 > MAX_PROMPT_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(p);
    }
    out
}

impl Recognise for OpenAiCompatible {
    async fn transcribe(&self, audio: &[i16], hints: &Hints) -> Result<Transcript, SpeechError> {
        if audio.len() > MAX_UTTERANCE_SECONDS * 8000 {
            return Err(SpeechError::TooLong);
        }
        let _slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| SpeechError::Busy)?;
        let file = reqwest::multipart::Part::bytes(wav_8k(audio))
            .file_name("utterance.wav")
            .mime_str("audio/wav")
            .map_err(|e| SpeechError::BadAnswer(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.config.model.clone())
            .text("language", self.config.language.clone())
            .text("response_format", "json");
        let prompt = prompt(hints);
        if !prompt.is_empty() {
            form = form.text("prompt", prompt);
        }
        let mut request = self.http.post(self.url()).multipart(form);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let timeout = self.config.timeout;
        let call = async {
            let mut response = request
                .send()
                .await
                .map_err(|e| SpeechError::Unreachable(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(SpeechError::Status(response.status().as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| SpeechError::Unreachable(e.to_string()))?
            {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ANSWER_BYTES {
                    return Err(SpeechError::BadAnswer("the answer is too large".into()));
                }
            }
            Ok(body)
        };
        let body = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| SpeechError::Timeout(timeout))??;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| SpeechError::BadAnswer(e.to_string()))?;
        let text = value
            .get("text")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| SpeechError::BadAnswer("no \"text\" in the answer".into()))?;
        Ok(Transcript {
            text: text.trim().to_string(),
            confidence: None,
        })
    }
}
