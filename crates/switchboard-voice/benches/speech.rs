//! The on-box recogniser, measured: `bench/speech.sh` (or `cargo bench -p
//! switchboard-voice --bench speech`). Prints, per speaker and line
//! condition, word error rate, the bot's intent accuracy after recognition,
//! and end-of-speech-to-intent time (recognition plus the NLU, after the
//! endpointer's closing silence); the same on real recorded speech that
//! Debian's `pocketsphinx-testdata` ships; the CPU cost per second of
//! speech; and how many callers talking to bots at once one machine holds
//! before a recognition misses its deadline.
//!
//! Speech set: the demo bank bot's held-out test utterances
//! (`switchboard-nlu/tests/data/test_set.json`, written apart from the
//! bot's samples) that are words only (a typed "$50" is not what a voice
//! says), spoken by flite's voices and espeak-ng's, cut to 8 kHz and
//! through G.711 μ-law as a call carries them, clean and with white noise
//! at 15 dB SNR.
//!
//! Environment: `UTTERANCES` (default 40), `STEPS` (concurrent callers to
//! try, default "4,8,16,32,64"), `STEP_SECONDS` (default 30).

#![allow(clippy::unwrap_used, clippy::print_stdout, unreachable_pub)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_nlu::{Context, Engine, Expecting, Grammar};
use switchboard_voice::speech::sphinx::{Sphinx, SphinxConfig};
use switchboard_voice::speech::{Hints, Recognise};

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    intent: String,
}

fn engine() -> Engine {
    let bot: switchboard_nlu::Bot =
        serde_json::from_str(include_str!("../../switchboard-nlu/bots/demo-bank.json")).unwrap();
    Engine::new(&bot.locales[0]).unwrap()
}

fn words(text: &str) -> Vec<String> {
    switchboard_nlu::grammar::spoken_words(text)
}

/// Word error rate's numerator: the edit distance in words.
fn word_errors(reference: &[String], heard: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=heard.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut row = vec![i + 1; heard.len() + 1];
        for (j, h) in heard.iter().enumerate() {
            let cost = usize::from(r != h);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[heard.len()]
}

/// A speaker's audio, as a call carries it (8 kHz, μ-law), with 300 ms of
/// quiet either side (the endpointer's pre-roll and closing silence).
fn say(speaker: &str, text: &str, snr_db: Option<f64>, seed: u64) -> Option<Vec<i16>> {
    let (program, voice) = speaker.split_once(':')?;
    let wav = std::env::temp_dir().join(format!("sb-speech-bench-{}.wav", std::process::id()));
    let ok = match program {
        "espeak-ng" => Command::new("espeak-ng")
            .args(["-v", voice, "-w"])
            .arg(&wav)
            .arg(text)
            .status(),
        _ => Command::new("flite")
            .args(["-voice", voice, "-t", text, "-o"])
            .arg(&wav)
            .status(),
    }
    .map(|s| s.success())
    .unwrap_or(false);
    if !ok {
        return None;
    }
    let reader = hound::WavReader::open(&wav).ok()?;
    let rate = reader.spec().sample_rate;
    let samples: Vec<f32> = reader
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32_768.0)
        .collect();
    Some(telephone(&samples, rate, snr_db, seed))
}

fn telephone(samples: &[f32], rate: u32, snr_db: Option<f64>, seed: u64) -> Vec<i16> {
    let narrow = switchboard_media::audio::resample(samples, rate, 8_000).unwrap();
    let mut audio: Vec<f32> = std::iter::repeat_n(0.0, 2_400)
        .chain(narrow)
        .chain(std::iter::repeat_n(0.0, 2_400))
        .collect();
    if let Some(snr) = snr_db {
        let power = audio.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / audio.len() as f64;
        // Uniform white noise of this power: variance a²/3.
        let amplitude = (3.0 * power / 10f64.powf(snr / 10.0)).sqrt();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for s in &mut audio {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            *s += (u * amplitude) as f32;
        }
    }
    audio
        .into_iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32_767.0) as i16)
        .map(|s| {
            switchboard_media::g711::ulaw_to_linear(switchboard_media::g711::linear_to_ulaw(s))
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Tally {
    words: usize,
    errors: usize,
    right: usize,
    total: usize,
    ms: Vec<f64>,
    audio_s: f64,
    busy_s: f64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            words: 0,
            errors: 0,
            right: 0,
            total: 0,
            ms: Vec::new(),
            audio_s: 0.0,
            busy_s: 0.0,
        }
    }

    fn line(&mut self, label: &str) {
        self.line_as(label, "intent");
    }

    /// `right` names what was counted right: the intent, or an exact sentence.
    fn line_as(&mut self, label: &str, right: &str) {
        self.ms.sort_by(f64::total_cmp);
        println!(
            "{label:34} WER {:5.1}%  {right} {:5.1}%  ({}/{})  time p50 {:4.0} ms  p95 {:4.0} ms  RTF {:.2}",
            100.0 * self.errors as f64 / self.words.max(1) as f64,
            100.0 * self.right as f64 / self.total.max(1) as f64,
            self.right,
            self.total,
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.95),
            self.busy_s / self.audio_s.max(1e-9),
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sphinx = Sphinx::new(SphinxConfig::default());
    if let Err(e) = sphinx.check() {
        println!("PocketSphinx is not available: {e}");
        return;
    }
    let engine = engine();
    let cx = Context {
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
    };
    let n: usize = std::env::var("UTTERANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let cases: Vec<Case> = serde_json::from_str(include_str!(
        "../../switchboard-nlu/tests/data/test_set.json"
    ))
    .unwrap();
    // Words only, spread over the intents: every k-th.
    let spoken: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            c.text
                .chars()
                .all(|ch| ch.is_alphabetic() || " '?,.!".contains(ch))
        })
        .collect();
    let step = (spoken.len() / n.max(1)).max(1);
    let set: Vec<&Case> = spoken.iter().step_by(step).take(n).copied().collect();
    println!(
        "machine: {} cores; {} utterances of {} intents (of {} word-only held-out ones)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        set.len(),
        {
            let mut i: Vec<&str> = set.iter().map(|c| c.intent.as_str()).collect();
            i.sort_unstable();
            i.dedup();
            i.len()
        },
        spoken.len()
    );
    let grammar = Grammar::for_expecting(&engine, &Expecting::Intent).map(Arc::new);
    let speakers = [
        "flite:kal",
        "flite:awb",
        "flite:rms",
        "flite:slt",
        "espeak-ng:en-us",
        "espeak-ng:en-us+f2",
    ];
    let mut all_grammar = Tally::new();
    let mut all_dictation = Tally::new();
    let mut corpus: Vec<(String, Vec<i16>)> = Vec::new();
    println!("\n== the bot's intents, spoken (on-box: the bot's grammar, dictation when nothing in it fits, as calls run; dictation: the model's language model alone)");
    for speaker in speakers {
        for (label, snr) in [("clean", None), ("15 dB SNR", Some(15.0))] {
            let mut by_grammar = Tally::new();
            let mut by_dictation = Tally::new();
            for (k, case) in set.iter().enumerate() {
                let Some(audio) = say(speaker, &case.text, snr, k as u64) else {
                    println!("{speaker}: not installed");
                    break;
                };
                if snr.is_none() {
                    corpus.push((case.text.clone(), audio.clone()));
                }
                let reference = words(&case.text);
                for (tally, all, hints) in [
                    (
                        &mut by_grammar,
                        &mut all_grammar,
                        Hints {
                            phrases: Vec::new(),
                            grammar: grammar.clone(),
                        },
                    ),
                    (&mut by_dictation, &mut all_dictation, Hints::default()),
                ] {
                    let started = Instant::now();
                    let heard = sphinx.transcribe(&audio, &hints).await.unwrap().text;
                    let intent = engine.recognise(&heard, &cx).intent;
                    let took = started.elapsed().as_secs_f64();
                    let errors = word_errors(&reference, &words(&heard));
                    for t in [&mut *tally, &mut *all] {
                        t.words += reference.len();
                        t.errors += errors;
                        t.total += 1;
                        t.right += usize::from(intent == case.intent);
                        t.ms.push(took * 1000.0);
                        t.audio_s += audio.len() as f64 / 8000.0;
                        t.busy_s += took;
                    }
                }
            }
            by_grammar.line(&format!("{speaker} {label}, on-box"));
            by_dictation.line(&format!("{speaker} {label}, dictation"));
        }
    }
    all_grammar.line("ALL, on-box");
    all_dictation.line("ALL, dictation");

    println!("\n== real recorded speech (Debian's pocketsphinx-testdata), cut to 8 kHz μ-law");
    real_speech(&sphinx).await;

    let mean = corpus.iter().map(|(_, a)| a.len()).sum::<usize>() as f64
        / corpus.len().max(1) as f64
        / 8000.0;
    println!("\n== callers talking to bots at once (each: an utterance of {mean:.1} s on average every 8 s; failed: not answered within the 10 s deadline)");
    concurrency(&sphinx, &corpus, grammar).await;
}

async fn real_speech(sphinx: &Sphinx) {
    let data = std::path::Path::new("/usr/share/pocketsphinx/test/data");
    if !data.exists() {
        println!("not installed (apt-get install pocketsphinx-testdata)");
        return;
    }
    // cards: five recordings with their JSGF grammar.
    let gram = std::fs::read_to_string(data.join("cards/cards.gram")).unwrap();
    let transcription = std::fs::read_to_string(data.join("cards/cards.transcription")).unwrap();
    let mut cards = Tally::new();
    for line in transcription.lines() {
        let Some((text, id)) = line.rsplit_once('(') else {
            continue;
        };
        let id = id.trim_end_matches(')');
        let text = text.replace("<s>", "").replace("</s>", "");
        let Some((samples, rate)) = read_wav(&data.join(format!("cards/{id}.wav"))) else {
            continue;
        };
        let audio = telephone(&samples, rate, None, 0);
        let started = Instant::now();
        let heard = sphinx
            .transcribe_jsgf(&audio, Some(&gram))
            .await
            .unwrap_or_default();
        tally(&mut cards, &text, &heard, started, &audio);
    }
    cards.line_as("cards (5, their grammar)", "exact");
    let transcription = std::fs::read_to_string(data.join("librivox/transcription")).unwrap();
    let ids = std::fs::read_to_string(data.join("librivox/fileids")).unwrap();
    let mut books = Tally::new();
    for (line, id) in transcription.lines().zip(ids.lines()) {
        let text = line.rsplit_once('(').map_or(line, |(t, _)| t);
        let Some((samples, rate)) = read_wav(&data.join(format!("librivox/{}.wav", id.trim())))
        else {
            continue;
        };
        let audio = telephone(&samples, rate, None, 0);
        let started = Instant::now();
        let heard = sphinx
            .transcribe_jsgf(&audio, None)
            .await
            .unwrap_or_default();
        tally(&mut books, text, &heard, started, &audio);
    }
    books.line_as("librivox (5, dictation)", "exact");
}

fn tally(t: &mut Tally, text: &str, heard: &str, started: Instant, audio: &[i16]) {
    let took = started.elapsed().as_secs_f64();
    let reference = words(text);
    let errors = word_errors(&reference, &words(heard));
    t.words += reference.len();
    t.errors += errors;
    t.total += 1;
    t.right += usize::from(errors == 0);
    t.ms.push(took * 1000.0);
    t.audio_s += audio.len() as f64 / 8000.0;
    t.busy_s += took;
}

fn read_wav(path: &std::path::Path) -> Option<(Vec<f32>, u32)> {
    let reader = hound::WavReader::open(path).ok()?;
    let rate = reader.spec().sample_rate;
    Some((
        reader
            .into_samples::<i16>()
            .map(|s| f32::from(s.unwrap_or(0)) / 32_768.0)
            .collect(),
        rate,
    ))
}

async fn concurrency(
    sphinx: &Sphinx,
    corpus: &[(String, Vec<i16>)],
    grammar: Option<Arc<Grammar>>,
) {
    if corpus.is_empty() {
        return;
    }
    let steps: Vec<usize> = std::env::var("STEPS")
        .unwrap_or_else(|_| "4,8,16,32,64".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("STEP_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let corpus = Arc::new(corpus.to_vec());
    for callers in steps {
        let cpu_before = process_cpu();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..callers {
            let (sphinx, corpus, grammar) = (sphinx.clone(), corpus.clone(), grammar.clone());
            tasks.push(tokio::spawn(async move {
                // Callers start spread over one cadence, then speak every 8 s.
                tokio::time::sleep(Duration::from_millis((c as u64 * 8_000) / callers as u64))
                    .await;
                let mut times = Vec::new();
                let mut failed = 0;
                let mut k = c;
                let until = Instant::now() + Duration::from_secs(seconds);
                while Instant::now() < until {
                    let (_, audio) = &corpus[k % corpus.len()];
                    k += 7;
                    let began = Instant::now();
                    let hints = Hints {
                        phrases: Vec::new(),
                        grammar: grammar.clone(),
                    };
                    match sphinx.transcribe(audio, &hints).await {
                        Ok(_) => times.push(began.elapsed().as_secs_f64() * 1000.0),
                        Err(_) => failed += 1,
                    }
                    let next = began + Duration::from_secs(8);
                    tokio::time::sleep_until(next.into()).await;
                }
                (times, failed)
            }));
        }
        let mut times = Vec::new();
        let mut failed = 0;
        for t in tasks {
            let (t, f) = t.await.unwrap();
            times.extend(t);
            failed += f;
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = process_cpu() - cpu_before;
        times.sort_by(f64::total_cmp);
        println!(
            "{callers:4} callers: {} recognitions, {failed} failed, time p50 {:5.0} ms  p95 {:5.0} ms  max {:5.0} ms, CPU {:4.0}% of one core ({:.1}% per caller)",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            times.last().copied().unwrap_or(0.0),
            100.0 * cpu / wall,
            100.0 * cpu / wall / callers as f64,
        );
        if failed > 0 {
            break;
        }
    }
}

/// This process's CPU time, user and system, in seconds.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (11 and 12 after the name); 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}
