//! Telephone audio from files: any WAV (8-32 bit integer or float, mono or
//! stereo, any common rate) becomes 8 kHz mono 16-bit samples, resampled
//! with `rubato`; plus the built-in hold music.

use std::io::Cursor;

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::SAMPLE_RATE;

/// Longest prompt we accept (a prompt is speech, not an album).
pub const MAX_PROMPT_SECONDS: u32 = 600;

/// Why audio could not be turned into telephone audio. The text is fit to
/// show the person who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// Not a RIFF/WAVE file (hound's reason).
    #[error("not a WAV file: {0}")]
    NotWav(String),
    /// A WAV with no channels, or a rate outside 4-192 kHz.
    #[error("unsupported WAV: {channels} channels at {rate} Hz")]
    Unsupported {
        /// Channels the header declares.
        channels: u16,
        /// Samples per second the header declares.
        rate: u32,
    },
    /// Longer than [`MAX_PROMPT_SECONDS`].
    #[error("longer than {MAX_PROMPT_SECONDS} seconds")]
    TooLong,
    /// The samples cannot be read (cut short, say).
    #[error("damaged WAV data: {0}")]
    Damaged(String),
    /// The resampler refused (rubato's reason).
    #[error("resampling: {0}")]
    Resample(String),
}

/// Decodes a WAV file to 8 kHz mono.
pub fn wav_to_telephone(bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
    let repaired = repair_streamed_wav(bytes);
    let bytes = repaired.as_deref().unwrap_or(bytes);
    let mut reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| AudioError::NotWav(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate < 4_000 || spec.sample_rate > 192_000 {
        return Err(AudioError::Unsupported {
            channels: spec.channels,
            rate: spec.sample_rate,
        });
    }
    if reader.duration() / spec.sample_rate > MAX_PROMPT_SECONDS {
        return Err(AudioError::TooLong);
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .map_err(|e| AudioError::Damaged(e.to_string()))?;
    let channels = usize::from(spec.channels);
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    let resampled = resample(&mono, spec.sample_rate, SAMPLE_RATE)?;
    Ok(resampled.iter().map(|&s| to_i16(s)).collect())
}

/// Programs that stream WAV to a pipe (espeak-ng --stdout, sox -) cannot go
/// back to write the sizes, and leave 0x7FFFFFFF or 0xFFFFFFFF there. When
/// the data chunk claims more than the file holds, the sizes are set to
/// what is really there; a file whose sizes are right is left alone.
fn repair_streamed_wav(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        if id == b"data" {
            let available = bytes.len() - (at + 8);
            if size <= available {
                return None;
            }
            let mut fixed = bytes.to_vec();
            let available = available - available % 2;
            fixed.truncate(at + 8 + available);
            fixed[at + 4..at + 8].copy_from_slice(&(available as u32).to_le_bytes());
            let riff = (fixed.len() - 8) as u32;
            fixed[4..8].copy_from_slice(&riff.to_le_bytes());
            return Some(fixed);
        }
        at += 8 + size + size % 2;
    }
    None
}

/// Mono resampling of a whole clip.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| AudioError::Resample(format!("resampler: {e}")))?;
    let input_adapter = InterleavedSlice::new(input, 1, input.len())
        .map_err(|e| AudioError::Resample(format!("resampler input: {e}")))?;
    let out_len = resampler.process_all_needed_output_len(input.len());
    let mut output = vec![0f32; out_len];
    let mut output_adapter = InterleavedSlice::new_mut(&mut output, 1, out_len)
        .map_err(|e| AudioError::Resample(format!("resampler output: {e}")))?;
    let (_, written) = resampler
        .process_all_into_buffer(&input_adapter, &mut output_adapter, input.len(), None)
        .map_err(|e| AudioError::Resample(format!("resampling: {e}")))?;
    output.truncate(written);
    Ok(output)
}

/// A running resampler for audio that comes in pieces (a call's 20 ms
/// frames): state carries across pieces, so there are no edges at their
/// joins. Output lags input by the filter's delay.
pub struct StreamResampler {
    inner: Fft<f32>,
    pending: Vec<f32>,
    buffer: Vec<f32>,
}

impl StreamResampler {
    /// From `from` Hz to `to` Hz, mono.
    pub fn new(from: u32, to: u32) -> Result<StreamResampler, AudioError> {
        let chunk = (from / 50).max(1) as usize;
        let inner = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
            .map_err(|e| AudioError::Resample(format!("resampler: {e}")))?;
        let buffer = vec![0f32; inner.output_frames_max()];
        Ok(StreamResampler {
            inner,
            pending: Vec::new(),
            buffer,
        })
    }

    /// The next piece in; what is ready comes out.
    pub fn push(&mut self, samples: &[i16]) -> Vec<i16> {
        self.pending
            .extend(samples.iter().map(|&s| f32::from(s) / 32_768.0));
        let mut out = Vec::new();
        loop {
            let need = self.inner.input_frames_next();
            if self.pending.len() < need {
                break;
            }
            let room = self.buffer.len();
            let (Ok(input), Ok(mut output)) = (
                InterleavedSlice::new(&self.pending[..need], 1, need),
                InterleavedSlice::new_mut(&mut self.buffer, 1, room),
            ) else {
                break;
            };
            let Ok((used, written)) = self.inner.process_into_buffer(&input, &mut output, None)
            else {
                // Buffers sized by the resampler itself: this does not happen;
                // if it did, the piece is dropped rather than looping.
                self.pending.clear();
                break;
            };
            out.extend(self.buffer[..written].iter().map(|&s| to_i16(s)));
            self.pending.drain(..used.max(1).min(self.pending.len()));
        }
        out
    }
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32_767.0) as i16
}

/// Root-mean-square level of a stretch of audio, 0 for silence.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The built-in hold music: a slow, quiet arpeggio (C, E, G, B, A, F) in
/// soft sine tones, eight seconds long, loopable without a click. Used
/// while a caller waits and no customer queue flow gives other audio.
pub fn hold_music() -> Vec<i16> {
    const NOTES: [f32; 8] = [261.63, 329.63, 392.0, 493.88, 440.0, 349.23, 392.0, 329.63];
    let note_len = SAMPLE_RATE as usize; // one second each
    let mut out = Vec::with_capacity(NOTES.len() * note_len);
    for (n, freq) in NOTES.iter().enumerate() {
        for i in 0..note_len {
            let t = i as f32 / SAMPLE_RATE as f32;
            // Attack 50 ms, gentle decay: each note fades to nothing, so the loop joins cleanly.
            let envelope = (t / 0.05).min(1.0) * (1.0 - t).powi(2);
            let fifth = if n % 2 == 0 {
                0.3 * (2.0 * std::f32::consts::PI * freq * 1.5 * t).sin()
            } else {
                0.0
            };
            let s = ((2.0 * std::f32::consts::PI * freq * t).sin() + fifth) * envelope * 0.18;
            out.push(to_i16(s));
        }
    }
    out
}

/// A beep: 250 ms of 1 kHz with soft edges, as phones and Connect's
/// `Beep.wav` sound before a recording or a message.
pub fn beep() -> Vec<i16> {
    let len = SAMPLE_RATE as usize / 4;
    (0..len)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE as f32;
            let edge = (t / 0.01).min(1.0).min((0.25 - t) / 0.01).max(0.0);
            to_i16((2.0 * std::f32::consts::PI * 1000.0 * t).sin() * 0.4 * edge)
        })
        .collect()
}

/// The clip without the silence at its ends (text-to-speech leaves some
/// around every utterance), keeping 10 ms of each edge so no word is cut.
/// A clip that is all silence becomes empty.
pub fn trim_silence(samples: &[i16]) -> &[i16] {
    // About -40 dBFS: quieter than any speech, louder than dither.
    const THRESHOLD: u16 = 330;
    let margin = SAMPLE_RATE as usize / 100;
    let loud = |s: &i16| s.unsigned_abs() > THRESHOLD;
    let (Some(start), Some(end)) = (
        samples.iter().position(loud),
        samples.iter().rposition(loud),
    ) else {
        return &samples[..0];
    };
    &samples[start.saturating_sub(margin)..(end + 1 + margin).min(samples.len())]
}

/// Telephone audio (8 kHz, mono) as a 16-bit PCM WAV file.
pub fn telephone_wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    // Writing to memory cannot fail; a failure would leave an empty file,
    // which the prompt check refuses.
    if let Ok(mut writer) = hound::WavWriter::new(&mut out, spec) {
        for s in samples {
            let _ = writer.write_sample(*s);
        }
        let _ = writer.finalize();
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_resampled_frame_by_frame_stays_one_smooth_tone() {
        let mut up = StreamResampler::new(8_000, 16_000).unwrap();
        let tone: Vec<i16> = (0..8_000)
            .map(|i| {
                (8_000.0 * (2.0 * std::f64::consts::PI * 400.0 * f64::from(i) / 8_000.0).sin())
                    as i16
            })
            .collect();
        let mut out = Vec::new();
        for frame in tone.chunks(160) {
            out.extend(up.push(frame));
        }
        // All but the filter's delay comes out, at twice the rate.
        assert!(out.len() > 15_000 && out.len() <= 16_000, "{}", out.len());
        // No clicks at the frames' joins: after the delay, each step is
        // no larger than a 400 Hz tone's largest step at 16 kHz (~1,260).
        let settled = &out[2_000..];
        let worst = settled
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        assert!(worst < 1_400, "a step of {worst}");
        let mut down = StreamResampler::new(16_000, 8_000).unwrap();
        let back: Vec<i16> = out.chunks(320).flat_map(|f| down.push(f)).collect();
        assert!(back.len() > 7_000, "{}", back.len());
    }

    fn sine_wav(rate: u32, channels: u16, seconds: f32, freq: f32) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..(rate as f32 * seconds) as usize {
            let s = ((2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 16_000.0)
                as i16;
            for _ in 0..channels {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    /// Zero crossings per second of the middle of a clip: twice the tone's frequency.
    fn frequency(samples: &[i16]) -> f32 {
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let crossings = middle
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        crossings as f32 / 2.0 / (middle.len() as f32 / 8_000.0)
    }

    #[test]
    fn silence_is_trimmed_from_the_ends_only() {
        let mut clip = vec![0i16; 800];
        clip.extend(beep());
        clip.extend(vec![3; 1600]);
        let trimmed = trim_silence(&clip);
        // The beep's soft edges start quiet: within 10 ms either side of it.
        assert!(
            (2000..=2000 + 2 * 80).contains(&trimmed.len()),
            "{}",
            trimmed.len()
        );
        assert!(trim_silence(&[0; 400]).is_empty());
        assert!(trim_silence(&[]).is_empty());
    }

    #[test]
    fn a_beep_is_a_quarter_second_of_1khz_and_survives_a_wav_file() {
        let wav = telephone_wav(&beep());
        let back = wav_to_telephone(&wav).unwrap();
        assert_eq!(back.len(), 2000);
        assert!(
            (frequency(&back) - 1000.0).abs() < 20.0,
            "{}",
            frequency(&back)
        );
    }

    #[test]
    fn common_rates_become_8khz_keeping_pitch_and_length() {
        for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
            let out = wav_to_telephone(&sine_wav(rate, 2, 1.0, 440.0)).unwrap();
            assert!(
                (7_900..=8_100).contains(&out.len()),
                "{rate}: {} samples",
                out.len()
            );
            let f = frequency(&out);
            assert!((430.0..450.0).contains(&f), "{rate}: {f} Hz");
            assert!(rms(&out) > 8_000.0, "{rate}: level kept");
        }
    }

    #[test]
    fn streamed_wavs_with_unknown_sizes_are_read() {
        let mut wav = sine_wav(22_050, 1, 0.5, 440.0);
        wav[4..8].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        let data = wav.windows(4).position(|w| w == b"data").unwrap();
        wav[data + 4..data + 8].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        let out = wav_to_telephone(&wav).unwrap();
        assert!((3_900..=4_100).contains(&out.len()), "{}", out.len());
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(wav_to_telephone(b"RIFF....")
            .unwrap_err()
            .to_string()
            .contains("WAV"));
        assert!(wav_to_telephone(&[]).is_err());
    }

    #[test]
    fn hold_music_is_quiet_audible_and_loops_cleanly() {
        let m = hold_music();
        assert_eq!(m.len(), 64_000);
        let level = rms(&m);
        assert!((1_000.0..8_000.0).contains(&level), "{level}");
        assert!(m[0].abs() < 200 && m[m.len() - 1].abs() < 200);
    }
}
