//! The audio flows play: prompts from object storage and text-to-speech by
//! espeak-ng, both turned into 8 kHz clips once and shared by every call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use switchboard_flow::Rendered;
use switchboard_media::audio::{hold_music, trim_silence, wav_to_telephone};
use switchboard_media::playout::Clip;
use switchboard_model::Prompt;
use switchboard_runtime::AppState;

/// Why audio a flow asked for cannot be played (the call then takes the
/// flow's error branch).
#[derive(Debug, thiserror::Error)]
pub enum AudioFailure {
    /// `espeak-ng --version` ran and failed.
    #[error("`{command} --version` failed ({status})")]
    SpeechCheck {
        /// The text-to-speech program.
        command: String,
        /// How it exited.
        status: String,
    },
    /// The text-to-speech program cannot be started (not installed).
    #[error("`{command}` cannot run: {reason}")]
    SpeechMissing {
        /// The text-to-speech program.
        command: String,
        /// The system's reason.
        reason: String,
    },
    /// `espeak-ng --version` did not exit within 10 s.
    #[error("`{command} --version` did not answer in 10 s")]
    SpeechSilent {
        /// The text-to-speech program.
        command: String,
    },
    /// Text-to-speech ran and failed; what it printed.
    #[error("text-to-speech failed: {0}")]
    Speech(String),
    /// No prompt has that id or name.
    #[error("no prompt '{0}'")]
    NoPrompt(String),
    /// The prompt could not be read from the store.
    #[error("prompt '{0}': {1}")]
    Store(String, switchboard_store::StoreError),
    /// The prompt's audio could not be read from blob storage.
    #[error("prompt '{0}' audio: {1}")]
    PromptAudio(String, String),
    /// The audio is not WAV we can play.
    #[error(transparent)]
    Audio(#[from] switchboard_media::audio::AudioError),
    /// The conversion was cut short (the process is stopping).
    #[error("audio conversion stopped: {0}")]
    Stopped(String),
}

/// Entries kept in each cache before the oldest half is dropped.
const CACHE_LIMIT: usize = 2_000;
/// espeak-ng processes at once: text not yet cached waits for a slot, so a
/// burst of new text (a flow published to thousands of waiting callers)
/// cannot start a process per call.
const SPEECH_SLOTS: usize = 4;
/// How long one text may take to speak (espeak-ng says a page in well under a second).
const SPEECH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);
/// Silence between the pieces of an announcement, and after a sentence.
const PIECE_GAP_MS: usize = 70;
const SENTENCE_GAP_MS: usize = 300;

pub struct Library {
    tts_command: String,
    speech: Mutex<HashMap<(String, String), Clip>>,
    prompts: Mutex<HashMap<String, (i64, Clip)>>,
    music: Clip,
    speech_slots: tokio::sync::Semaphore,
    /// Text-to-speech processes run so far (cache misses).
    speech_runs: AtomicU64,
}

/// Connect's Polly voices, spoken by the nearest espeak-ng voice. A name
/// espeak-ng knows (`en-gb`, `fr+f2`) is used as it is.
fn espeak_voice(voice: &str) -> String {
    let v = voice.trim();
    let mapped = match v.to_ascii_lowercase().as_str() {
        "" | "joanna" | "salli" | "kimberly" | "kendra" | "ivy" | "ruth" => "en-us+f3",
        "joey" | "justin" | "matthew" | "kevin" | "stephen" => "en-us+m3",
        "amy" | "emma" => "en-gb+f3",
        "brian" | "arthur" => "en-gb+m3",
        "nicole" | "olivia" => "en-gb-x-rp+f3",
        "russell" => "en-gb-x-rp+m3",
        "aditi" | "raveena" | "kajal" => "en-gb+f4",
        "celine" | "céline" | "lea" | "léa" => "fr+f3",
        "mathieu" | "remi" | "rémi" => "fr+m3",
        "marlene" | "vicki" => "de+f3",
        "hans" | "daniel" => "de+m3",
        "conchita" | "lucia" | "lupe" | "mia" => "es+f3",
        "enrique" | "miguel" => "es+m3",
        _ => "",
    };
    if !mapped.is_empty() {
        return mapped.to_string();
    }
    // Only characters espeak-ng voice names use: never an option or a path.
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-+_".contains(c))
        && !v.starts_with('-')
    {
        v.to_string()
    } else {
        "en-us+f3".to_string()
    }
}

/// SSML becomes plain text (espeak-ng's own SSML support is partial; the
/// words matter more than the prosody on a phone line).
fn ssml_to_text(ssml: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in ssml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
}

fn trim_cache<K: Clone + Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
    if map.len() >= CACHE_LIMIT {
        let drop: Vec<K> = map.keys().take(CACHE_LIMIT / 2).cloned().collect();
        for k in drop {
            map.remove(&k);
        }
    }
}

impl Library {
    pub fn new(tts_command: impl Into<String>) -> Self {
        Self {
            tts_command: tts_command.into(),
            speech: Mutex::new(HashMap::new()),
            prompts: Mutex::new(HashMap::new()),
            music: hold_music().into(),
            speech_slots: tokio::sync::Semaphore::new(SPEECH_SLOTS),
            speech_runs: AtomicU64::new(0),
        }
    }

    /// How many text-to-speech processes have run (each new text once).
    pub fn speech_runs(&self) -> u64 {
        self.speech_runs.load(Ordering::Relaxed)
    }

    /// Pieces of speech said in turn as one clip (a queue announcement:
    /// [`crate::spoken`]), each spoken once per voice and cached; their
    /// edges' silence trimmed and a short pause put between them.
    pub async fn speak_pieces(&self, pieces: &[String], voice: &str) -> Result<Clip, AudioFailure> {
        let mut out: Vec<i16> = Vec::new();
        let ms = |n: usize| n * switchboard_media::SAMPLE_RATE as usize / 1000;
        for (i, piece) in pieces.iter().enumerate() {
            let clip = self.speak(piece, voice).await?;
            if i > 0 {
                let after_sentence = pieces[i - 1].ends_with('.');
                let gap = if after_sentence {
                    SENTENCE_GAP_MS
                } else {
                    PIECE_GAP_MS
                };
                out.extend(std::iter::repeat_n(0, ms(gap)));
            }
            out.extend_from_slice(trim_silence(&clip));
        }
        Ok(out.into())
    }

    /// Whether text-to-speech works: runs the command once with `--version`.
    /// (The `AudioFailure` says what to tell the operator.)
    /// Without it flows cannot speak text (Text and SSML prompts, queue
    /// positions); calls then take the flow's error branch instead.
    pub async fn speech_ready(&self) -> Result<(), AudioFailure> {
        let run = tokio::process::Command::new(&self.tts_command)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        match tokio::time::timeout(std::time::Duration::from_secs(10), run).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(AudioFailure::SpeechCheck {
                command: self.tts_command.clone(),
                status: status.to_string(),
            }),
            Ok(Err(e)) => Err(AudioFailure::SpeechMissing {
                command: self.tts_command.clone(),
                reason: e.to_string(),
            }),
            Err(_) => Err(AudioFailure::SpeechSilent {
                command: self.tts_command.clone(),
            }),
        }
    }

    pub fn hold_music(&self) -> Clip {
        self.music.clone()
    }

    /// The audio for one rendered message.
    pub async fn render(
        &self,
        app: &AppState,
        message: &Rendered,
        voice: &str,
    ) -> Result<Clip, AudioFailure> {
        match message {
            Rendered::Text(text) => self.speak(text, voice).await,
            Rendered::Ssml(ssml) => self.speak(&ssml_to_text(ssml), voice).await,
            Rendered::Prompt(reference) => self.prompt(app, reference).await,
        }
    }

    /// Text-to-speech, cached per text and voice.
    pub async fn speak(&self, text: &str, voice: &str) -> Result<Clip, AudioFailure> {
        let voice = espeak_voice(voice);
        let text = text.trim().to_string();
        if text.is_empty() {
            return Ok(Vec::new().into());
        }
        let key = (voice.clone(), text.clone());
        let cached = || {
            self.speech
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        };
        if let Some(clip) = cached() {
            return Ok(clip);
        }
        // A slot first; the text may have been spoken meanwhile.
        let _slot = self
            .speech_slots
            .acquire()
            .await
            .map_err(|e| AudioFailure::Stopped(e.to_string()))?;
        if let Some(clip) = cached() {
            return Ok(clip);
        }
        self.speech_runs.fetch_add(1, Ordering::Relaxed);
        let run = tokio::process::Command::new(&self.tts_command)
            .arg("--stdout")
            .arg("-v")
            .arg(&voice)
            .arg("--")
            .arg(&text)
            .kill_on_drop(true)
            .output();
        // A stuck process must not hold its slot for good: dropped at the
        // deadline, it is killed.
        let output = tokio::time::timeout(SPEECH_DEADLINE, run)
            .await
            .map_err(|_| AudioFailure::Speech(format!("no audio within {SPEECH_DEADLINE:?}")))?
            .map_err(|e| AudioFailure::SpeechMissing {
                command: self.tts_command.clone(),
                reason: e.to_string(),
            })?;
        if !output.status.success() {
            return Err(AudioFailure::Speech(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            ));
        }
        let samples = tokio::task::spawn_blocking(move || wav_to_telephone(&output.stdout))
            .await
            .map_err(|e| AudioFailure::Stopped(e.to_string()))??;
        let clip: Clip = samples.into();
        let mut cache = self.speech.lock().unwrap_or_else(|e| e.into_inner());
        trim_cache(&mut cache);
        cache.insert(key, clip.clone());
        Ok(clip)
    }

    /// An uploaded prompt, by id, name or ARN (its last part is the id or name).
    pub async fn prompt(&self, app: &AppState, reference: &str) -> Result<Clip, AudioFailure> {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        let record = app
            .store
            .get::<Prompt>(name)
            .await
            .map_err(|e| AudioFailure::Store(name.to_string(), e))?
            .ok_or_else(|| AudioFailure::NoPrompt(name.to_string()))?;
        if let Some((version, clip)) = self
            .prompts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&record.id)
        {
            if *version == record.version {
                return Ok(clip.clone());
            }
        }
        let bytes = app
            .blobs
            .get(&record.spec.audio.blob_key)
            .await
            .map_err(|e| AudioFailure::PromptAudio(name.to_string(), e.to_string()))?;
        let samples = tokio::task::spawn_blocking(move || wav_to_telephone(&bytes))
            .await
            .map_err(|e| AudioFailure::Stopped(e.to_string()))??;
        let clip: Clip = samples.into();
        let mut cache = self.prompts.lock().unwrap_or_else(|e| e.into_inner());
        trim_cache(&mut cache);
        cache.insert(record.id.clone(), (record.version, clip.clone()));
        Ok(clip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// espeak-ng, or none (a failure under CI, where it must be there).
    async fn espeak() -> Option<Library> {
        let library = Library::new("espeak-ng");
        match library.speech_ready().await {
            Ok(()) => Some(library),
            Err(e) if std::env::var_os("CI").is_some() => panic!("espeak-ng: {e}"),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn announcing_hundreds_of_places_runs_text_to_speech_only_for_new_pieces() {
        let Some(library) = espeak().await else {
            return;
        };
        let started = std::time::Instant::now();
        let mut lengths = Vec::new();
        // 300 callers' places from 1 to 2,093, with waits of up to 90 minutes:
        // one sentence each was one espeak-ng run each.
        for position in (1..=2_100).step_by(7) {
            let wait = std::time::Duration::from_secs(60 * (position as u64 % 90));
            let pieces = crate::spoken::announcement(position, Some(wait));
            let clip = library.speak_pieces(&pieces, "Joanna").await.unwrap();
            lengths.push((position, clip.len()));
        }
        let runs = library.speech_runs();
        println!(
            "{} announcements: {runs} text-to-speech runs in {:?}",
            lengths.len(),
            started.elapsed()
        );
        assert!(runs <= 117, "{runs} runs");
        // Said, not silent: a longer number takes longer to say.
        let of = |p: usize| lengths.iter().find(|(q, _)| *q == p).unwrap().1;
        assert!(of(1) > 8_000, "next in the queue: {} samples", of(1));
        assert!(of(2_073) > of(8), "{} vs {}", of(2_073), of(8));
        // The same announcement again runs nothing.
        let again = crate::spoken::announcement(981, None);
        library.speak_pieces(&again, "Joanna").await.unwrap();
        assert_eq!(library.speech_runs(), runs);
    }

    #[test]
    fn voices_map_to_espeak_and_never_to_options() {
        assert_eq!(espeak_voice("Joanna"), "en-us+f3");
        assert_eq!(espeak_voice("Brian"), "en-gb+m3");
        assert_eq!(espeak_voice("fr+f2"), "fr+f2");
        assert_eq!(espeak_voice("--help"), "en-us+f3");
        assert_eq!(espeak_voice("../../etc/passwd"), "en-us+f3");
    }

    #[test]
    fn ssml_keeps_the_words() {
        assert_eq!(
            ssml_to_text("<speak>Press <emphasis>one</emphasis> &amp; wait</speak>")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Press", "one", "&", "wait"]
        );
    }
}
