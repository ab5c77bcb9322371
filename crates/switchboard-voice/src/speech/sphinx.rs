//! The on-box recogniser: CMU PocketSphinx with its US English model, both
//! from Debian (`libpocketsphinx3`, `pocketsphinx-en-us`), so nothing is
//! downloaded, ever. Held to the bot's grammar
//! ([`switchboard_nlu::Grammar`], written as JSGF with only the words the
//! dictionary knows), because a small recogniser is weak at dictation and
//! strong at choosing among what the bot can understand
//! (`../shared/SPEECH.md`, `bench/speech.sh`). Where no grammar holds what
//! is expected (names, e-mail addresses, free text), or the caller said
//! something the grammar does not hold (a paraphrase of a sample), it
//! dictates with the model's language model and the NLU finds the intent.
//!
//! Why loaded at run time (`dlopen`) and declared here: the crates.io
//! bindings (`pocketsphinx-sys` 0.5, 2016) link the library when the binary
//! is built, so every build, and every machine that runs the binary, would
//! need it; loaded at run time, Switchboard runs without it and says that
//! calls cannot talk to bots until the packages are installed. The eleven
//! functions used are PocketSphinx's stable C API (5prealpha, the version
//! Debian ships).
//!
//! A decoder is not shared between threads: a pool holds at most
//! `max_concurrent` decoders (each about 30 MB with its model), each used
//! by one blocking task at a time; a recognition waits for a free one
//! until its deadline.

use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{Hints, Recognise, SpeechError, Transcript, MAX_UTTERANCE_SECONDS};

/// Grammars a decoder keeps compiled (a bot's intents, its slots, yes/no);
/// the oldest is dropped beyond this.
const MAX_SEARCHES: usize = 16;

/// Where the engine and its model are, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SphinxConfig {
    /// The shared library, by name or path.
    pub library: String,
    /// The model folder: `en-us/` (acoustic model), `cmudict-en-us.dict`,
    /// `en-us.lm.bin`.
    pub model_dir: PathBuf,
    /// Most recognitions at once (each takes a core while it decodes).
    pub max_concurrent: usize,
    /// How long one recognition may take, waiting for a decoder included.
    pub timeout: Duration,
}

impl Default for SphinxConfig {
    fn default() -> Self {
        SphinxConfig {
            library: "libpocketsphinx.so.3".into(),
            model_dir: PathBuf::from("/usr/share/pocketsphinx/model/en-us"),
            max_concurrent: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            timeout: Duration::from_secs(10),
        }
    }
}

type PsArgs = unsafe extern "C" fn() -> *const c_void;
type CmdLnParse =
    unsafe extern "C" fn(*mut c_void, *const c_void, i32, *const *const c_char, i32) -> *mut c_void;
type PsInit = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void) -> c_int;
type PsSetJsgfString = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char) -> c_int;
type PsNamed = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type PsUtt = unsafe extern "C" fn(*mut c_void) -> c_int;
type PsProcessRaw = unsafe extern "C" fn(*mut c_void, *const i16, usize, c_int, c_int) -> c_int;
type PsGetHyp = unsafe extern "C" fn(*mut c_void, *mut i32) -> *const c_char;

/// The library's functions, resolved once.
struct Api {
    ps_args: PsArgs,
    cmd_ln_parse_r: CmdLnParse,
    cmd_ln_free_r: Free,
    ps_init: PsInit,
    ps_free: Free,
    ps_set_jsgf_string: PsSetJsgfString,
    ps_set_search: PsNamed,
    ps_unset_search: PsNamed,
    ps_start_utt: PsUtt,
    ps_process_raw: PsProcessRaw,
    ps_end_utt: PsUtt,
    ps_get_hyp: PsGetHyp,
    // Kept loaded while the function pointers above live.
    _library: libloading::Library,
}

impl Api {
    fn load(name: &str) -> Result<Api, String> {
        // SAFETY: loading PocketSphinx runs only its (and sphinxbase's)
        // initialisers, which have no preconditions.
        let library = unsafe { libloading::Library::new(name) }.map_err(|e| e.to_string())?;
        macro_rules! get {
            ($name:literal) => {
                // SAFETY: the types above are the C declarations of
                // pocketsphinx.h, ps_search.h and cmd_ln.h (5prealpha).
                *unsafe { library.get(concat!($name, "\0").as_bytes()) }
                    .map_err(|e| format!("{}: {e}", $name))?
            };
        }
        Ok(Api {
            ps_args: get!("ps_args"),
            cmd_ln_parse_r: get!("cmd_ln_parse_r"),
            cmd_ln_free_r: get!("cmd_ln_free_r"),
            ps_init: get!("ps_init"),
            ps_free: get!("ps_free"),
            ps_set_jsgf_string: get!("ps_set_jsgf_string"),
            ps_set_search: get!("ps_set_search"),
            ps_unset_search: get!("ps_unset_search"),
            ps_start_utt: get!("ps_start_utt"),
            ps_process_raw: get!("ps_process_raw"),
            ps_end_utt: get!("ps_end_utt"),
            ps_get_hyp: get!("ps_get_hyp"),
            _library: library,
        })
    }
}

/// One decoder with the model loaded.
struct Decoder {
    api: Arc<Api>,
    ps: *mut c_void,
    config: *mut c_void,
    /// Compiled grammars: (hash of the JSGF, search name), oldest first.
    searches: Vec<(u64, CString)>,
}

// SAFETY: a decoder is used by one thread at a time (taken out of the pool
// for a recognition and put back); PocketSphinx keeps no thread-local state.
unsafe impl Send for Decoder {}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: both were made by this decoder and are freed once.
        unsafe {
            (self.api.ps_free)(self.ps);
            (self.api.cmd_ln_free_r)(self.config);
        }
    }
}

/// PocketSphinx's name for the language model's search.
const DICTATION: &CStr = c"_default";

impl Decoder {
    fn new(api: Arc<Api>, config: &SphinxConfig) -> Result<Decoder, String> {
        let dir = &config.model_dir;
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        let args = [
            "-hmm".to_string(),
            path(dir.join("en-us")),
            "-dict".into(),
            path(dir.join("cmudict-en-us.dict")),
            "-lm".into(),
            path(dir.join("en-us.lm.bin")),
            "-samprate".into(),
            "16000".into(),
            "-logfn".into(),
            "/dev/null".into(),
            // Fewer words inserted (0.65 by default): a digit string heard
            // with a digit too many was the commonest error (measured in
            // tests/sphinx.rs, flite and espeak-ng speakers, 0.1 to 0.001).
            "-wip".into(),
            "0.01".into(),
            // Bounded search (30,000 HMMs a frame and no word limit by
            // default): measured on bench/speech.sh's 144 utterances, end
            // of speech to intent p95 4.1 s -> 1.8 s and half the CPU, for
            // 64 -> 60 intents right; 16 -> 24 callers held.
            "-maxhmmpf".into(),
            "3000".into(),
            "-maxwpf".into(),
            "10".into(),
        ];
        let args: Vec<CString> = args
            .into_iter()
            .map(|a| CString::new(a).map_err(|_| "a model path has a NUL byte".to_string()))
            .collect::<Result<_, _>>()?;
        let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: argv points at NUL-terminated strings that outlive the call
        // (cmd_ln_parse_r copies the values it keeps).
        let config = unsafe {
            (api.cmd_ln_parse_r)(
                std::ptr::null_mut(),
                (api.ps_args)(),
                argv.len() as i32,
                argv.as_ptr(),
                1,
            )
        };
        if config.is_null() {
            return Err("PocketSphinx refused its configuration".into());
        }
        // SAFETY: config is a valid cmd_ln_t.
        let ps = unsafe { (api.ps_init)(config) };
        if ps.is_null() {
            // SAFETY: made above, not yet owned by anything.
            unsafe { (api.cmd_ln_free_r)(config) };
            return Err(format!(
                "PocketSphinx could not load its model from {}",
                dir.display()
            ));
        }
        Ok(Decoder {
            api,
            ps,
            config,
            searches: Vec::new(),
        })
    }

    /// Uses this grammar (compiled once per decoder), or dictation.
    fn search(&mut self, jsgf: Option<&str>) -> Result<(), String> {
        let Some(jsgf) = jsgf else {
            // SAFETY: ps is valid; the name is NUL-terminated.
            return match unsafe { (self.api.ps_set_search)(self.ps, DICTATION.as_ptr()) } {
                0 => Ok(()),
                _ => Err("no dictation model".into()),
            };
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        jsgf.hash(&mut h);
        let hash = h.finish();
        let name = match self.searches.iter().position(|(k, _)| *k == hash) {
            Some(i) => self.searches[i].1.clone(),
            None => {
                if self.searches.len() >= MAX_SEARCHES {
                    let (_, oldest) = self.searches.remove(0);
                    // SAFETY: a search this decoder added.
                    unsafe { (self.api.ps_unset_search)(self.ps, oldest.as_ptr()) };
                }
                let name = CString::new(format!("g{hash:016x}")).map_err(|e| e.to_string())?;
                let text = CString::new(jsgf).map_err(|_| "the grammar has a NUL byte")?;
                // SAFETY: ps is valid; both strings are NUL-terminated and
                // copied by the call.
                let rc =
                    unsafe { (self.api.ps_set_jsgf_string)(self.ps, name.as_ptr(), text.as_ptr()) };
                if rc != 0 {
                    return Err("PocketSphinx refused the grammar".into());
                }
                self.searches.push((hash, name.clone()));
                name
            }
        };
        // SAFETY: ps is valid and has this search.
        match unsafe { (self.api.ps_set_search)(self.ps, name.as_ptr()) } {
            0 => Ok(()),
            _ => Err("PocketSphinx lost a grammar".into()),
        }
    }

    /// The words heard in 16 kHz audio, or nothing.
    fn decode(&mut self, audio: &[i16]) -> Result<String, String> {
        let api = &self.api;
        // SAFETY: ps is valid; audio is a live slice of audio.len() samples.
        unsafe {
            if (api.ps_start_utt)(self.ps) < 0 {
                return Err("PocketSphinx could not start an utterance".into());
            }
            (api.ps_process_raw)(self.ps, audio.as_ptr(), audio.len(), 0, 1);
            (api.ps_end_utt)(self.ps);
            let mut score = 0i32;
            let hyp = (api.ps_get_hyp)(self.ps, &mut score);
            if hyp.is_null() {
                return Ok(String::new());
            }
            Ok(CStr::from_ptr(hyp).to_string_lossy().into_owned())
        }
    }
}

/// What loading found: the library and the dictionary's words.
struct Loaded {
    api: Arc<Api>,
    words: HashSet<String>,
}

fn load(config: &SphinxConfig) -> Result<Loaded, String> {
    let api = Api::load(&config.library)
        .map_err(|e| format!("{e} (install Debian's libpocketsphinx3 and pocketsphinx-en-us)"))?;
    let dict = config.model_dir.join("cmudict-en-us.dict");
    let text = std::fs::read_to_string(&dict).map_err(|e| format!("{}: {e}", dict.display()))?;
    // "word" and its variants "word(2)"...
    let words = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.split('(').next().unwrap_or(w).to_string())
        .collect();
    Ok(Loaded {
        api: Arc::new(api),
        words,
    })
}

struct Inner {
    config: SphinxConfig,
    loaded: OnceLock<Result<Loaded, String>>,
    idle: Mutex<Vec<Decoder>>,
    slots: Arc<Semaphore>,
}

/// The on-box recogniser. Cheap to clone.
#[derive(Clone)]
pub struct Sphinx {
    inner: Arc<Inner>,
}

impl Sphinx {
    /// A recogniser with this configuration; the library and model load on
    /// first use (or [`Sphinx::check`]).
    pub fn new(config: SphinxConfig) -> Sphinx {
        Sphinx {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
                config,
                loaded: OnceLock::new(),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Loads the library and the dictionary (blocking): `Err` says why
    /// this machine cannot recognise speech.
    pub fn check(&self) -> Result<(), String> {
        self.loaded().map(|_| ())
    }

    fn loaded(&self) -> Result<&Loaded, String> {
        self.inner
            .loaded
            .get_or_init(|| load(&self.inner.config))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// One recognition, on the calling (blocking) thread.
    fn recognise_blocking(&self, audio: &[i16], said: &Said) -> Result<Transcript, String> {
        let loaded = self.loaded()?;
        let jsgf = match said {
            Said::Hints(hints) => hints
                .grammar
                .as_ref()
                .and_then(|g| g.to_jsgf(&|word| loaded.words.contains(word))),
            Said::Jsgf(jsgf) => jsgf.clone(),
        };
        let taken = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let mut decoder = match taken {
            Some(d) => d,
            None => Decoder::new(loaded.api.clone(), &self.inner.config)?,
        };
        // The model is 16 kHz; the call is 8 kHz.
        let wide = to_16k(audio)?;
        let mut result = match decoder.search(jsgf.as_deref()) {
            Ok(()) => decoder.decode(&wide),
            Err(e) => {
                tracing::warn!("speech grammar: {e}; dictating instead");
                decoder.search(None).and_then(|()| decoder.decode(&wide))
            }
        };
        // Nothing in the bot's grammar fits: the caller said it their own
        // way. Dictation hears more of that (measured: bench/speech.sh),
        // and the NLU, not the grammar, then finds the intent.
        let unheard = matches!(&result, Ok(text) if text.trim().is_empty());
        if unheard && jsgf.is_some() && matches!(said, Said::Hints(_)) {
            result = decoder.search(None).and_then(|()| decoder.decode(&wide));
        }
        self.inner
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(decoder);
        result.map(|text| Transcript {
            text,
            confidence: None,
        })
    }
}

fn to_16k(audio: &[i16]) -> Result<Vec<i16>, String> {
    let input: Vec<f32> = audio.iter().map(|&s| f32::from(s) / 32_768.0).collect();
    let wide =
        switchboard_media::audio::resample(&input, 8_000, 16_000).map_err(|e| e.to_string())?;
    Ok(wide
        .into_iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32_767.0) as i16)
        .collect())
}

/// What the recogniser is held to.
enum Said {
    /// The bot's grammar (or dictation).
    Hints(Hints),
    /// A grammar written in JSGF (or dictation).
    Jsgf(Option<String>),
}

impl Recognise for Sphinx {
    async fn transcribe(&self, audio: &[i16], hints: &Hints) -> Result<Transcript, SpeechError> {
        self.run(audio, Said::Hints(hints.clone())).await
    }
}

impl Sphinx {
    /// What was said, held to a grammar given in JSGF (none: dictation);
    /// for measuring against recordings that come with their grammar.
    pub async fn transcribe_jsgf(
        &self,
        audio: &[i16],
        jsgf: Option<&str>,
    ) -> Result<String, SpeechError> {
        self.run(audio, Said::Jsgf(jsgf.map(str::to_string)))
            .await
            .map(|t| t.text)
    }

    async fn run(&self, audio: &[i16], said: Said) -> Result<Transcript, SpeechError> {
        if audio.len() > MAX_UTTERANCE_SECONDS * 8_000 {
            return Err(SpeechError::TooLong);
        }
        let deadline = Instant::now() + self.inner.config.timeout;
        let timeout = self.inner.config.timeout;
        let permit =
            tokio::time::timeout_at(deadline.into(), self.inner.slots.clone().acquire_owned())
                .await
                .map_err(|_| SpeechError::Busy)?
                .map_err(|_| SpeechError::Busy)?;
        let (me, audio) = (self.clone(), audio.to_vec());
        // The permit moves into the blocking task: a recognition that
        // outlives its deadline still holds its decoder and core until done.
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            me.recognise_blocking(&audio, &said)
        });
        match tokio::time::timeout_at(deadline.into(), work).await {
            Err(_) => Err(SpeechError::Timeout(timeout)),
            Ok(Err(e)) => Err(SpeechError::Unreachable(format!("recognition failed: {e}"))),
            Ok(Ok(Err(e))) => Err(SpeechError::Unreachable(e)),
            Ok(Ok(Ok(t))) => Ok(t),
        }
    }
}
