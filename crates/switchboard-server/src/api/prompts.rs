//! Prompt upload and playback. The WAV file is checked (a real RIFF/WAVE
//! file, PCM or float, 8-48 kHz, mono or stereo, at most ten minutes) and
//! kept in blob storage; the prompt object records what it holds.

use std::io::Cursor;

use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;
use switchboard_model::{AudioInfo, Prompt};

use super::crud::{find, prepare, view};
use super::resource::Resource;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use switchboard_runtime::AppState;

/// Longest prompt accepted.
pub const MAX_PROMPT_SECONDS: u64 = 600;

/// Why an uploaded file is not a prompt we can play (the text follows
/// "the file", in the API's error).
#[derive(Debug, thiserror::Error)]
pub enum BadPrompt {
    #[error("is not a WAV file: {0}")]
    NotWav(hound::Error),
    #[error("has a sample rate of {0} Hz; 8000 to 48000 Hz are accepted")]
    SampleRate(u32),
    #[error("has {0} channels; mono or stereo are accepted")]
    Channels(u16),
    #[error("holds no audio")]
    Empty,
    #[error("is {0} s long; at most {MAX_PROMPT_SECONDS} s")]
    TooLong(u64),
    #[error("is truncated or damaged: its samples cannot all be read")]
    Damaged,
}

/// Reads what a WAV file holds, or says why it is not one we can play.
pub fn inspect_wav(bytes: &[u8]) -> Result<AudioInfo, BadPrompt> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(BadPrompt::NotWav)?;
    let spec = reader.spec();
    if !(8_000..=48_000).contains(&spec.sample_rate) {
        return Err(BadPrompt::SampleRate(spec.sample_rate));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(BadPrompt::Channels(spec.channels));
    }
    let frames = u64::from(reader.duration());
    if frames == 0 {
        return Err(BadPrompt::Empty);
    }
    let duration_ms = frames * 1000 / u64::from(spec.sample_rate);
    if duration_ms > MAX_PROMPT_SECONDS * 1000 {
        return Err(BadPrompt::TooLong(duration_ms / 1000));
    }
    // Read every sample: a file cut short is caught now, not mid-call.
    let complete = match spec.sample_format {
        hound::SampleFormat::Int => reader.samples::<i32>().all(|s| s.is_ok()),
        hound::SampleFormat::Float => reader.samples::<f32>().all(|s| s.is_ok()),
    };
    if !complete {
        return Err(BadPrompt::Damaged);
    }
    Ok(AudioInfo {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits_per_sample: spec.bits_per_sample,
        duration_ms,
        size_bytes: bytes.len() as u64,
        blob_key: String::new(),
    })
}

/// Uploads a prompt as `multipart/form-data` with fields `name`,
/// `description` (optional) and `file` (the WAV).
#[utoipa::path(post, path = "/api/v1/prompts", tag = "Prompts",
    request_body(content_type = "multipart/form-data", content = Object,
        description = "Fields: name, description (optional), file (WAV)"),
    responses((status = 201, description = "Created"), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 413, body = ApiError)),
    security(("bearer" = [])))]
pub async fn upload(
    State(app): State<AppState>,
    who: Principal,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    who.require(Prompt::GUARDS.create)?;
    let limit = app.settings.max_prompt_bytes;
    let mut multipart = multipart.map_err(|r| ApiError::bad_request("body", r.body_text()))?;
    let (mut name, mut description, mut file) = (None, String::new(), None::<Bytes>);
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(e, limit))?;
        let Some(field) = field else { break };
        let field_name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        match field_name.as_str() {
            "name" => name = Some(text(&data, "name")?),
            "description" => description = text(&data, "description")?,
            "file" => file = Some(data),
            other => {
                return Err(ApiError::bad_request(
                    other,
                    "unknown field; expected name, description, file",
                ))
            }
        }
    }
    let name = name.ok_or_else(|| ApiError::bad_request("name", "missing field `name`"))?;
    let file = file.ok_or_else(|| ApiError::bad_request("file", "missing the WAV file"))?;
    if file.len() > limit {
        return Err(ApiError::too_large("file", limit));
    }
    let mut audio =
        inspect_wav(&file).map_err(|reason| ApiError::bad_request("file", reason.to_string()))?;
    let mut prompt = Prompt {
        name,
        description,
        audio: AudioInfo::default(),
    };
    let refs = prepare(&app, &mut prompt).await?;
    audio.blob_key = format!("prompts/{}.wav", uuid::Uuid::new_v4());
    prompt.audio = audio;
    app.blobs
        .put(&prompt.audio.blob_key, file)
        .await
        .map_err(ApiError::internal)?;
    match app
        .store
        .create(prompt.clone(), &refs, false, &who.actor())
        .await
    {
        Ok(record) => Ok((StatusCode::CREATED, Json(view(&record)))),
        Err(e) => {
            // Nothing refers to the file yet; do not leave it behind.
            let _ = app.blobs.delete(&prompt.audio.blob_key).await;
            Err(e.into())
        }
    }
}

fn text(data: &[u8], field: &str) -> ApiResult<String> {
    String::from_utf8(data.to_vec()).map_err(|_| ApiError::bad_request(field, "must be UTF-8 text"))
}

fn multipart_error(err: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large("file", limit)
    } else {
        ApiError::bad_request(
            "body",
            format!("is not valid multipart/form-data: {}", err.body_text()),
        )
    }
}

/// The prompt's audio, as uploaded.
#[utoipa::path(get, path = "/api/v1/prompts/{id}/audio", tag = "Prompts",
    params(("id" = String, Path, description = "Prompt id or name")),
    responses((status = 200, content_type = "audio/wav", description = "The WAV file"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn audio(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    who.require_any(Prompt::GUARDS.view)?;
    let prompt = find::<Prompt>(&app, &id).await?;
    let bytes = app
        .blobs
        .get(&prompt.spec.audio.blob_key)
        .await
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn wav(rate: u32, channels: u16, seconds: f32) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for i in 0..((rate as f32 * seconds) as u32 * u32::from(channels)) {
            w.write_sample(((i as f32 * 0.05).sin() * 8000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        buf.into_inner()
    }

    #[test]
    fn accepts_common_wavs() {
        let info = inspect_wav(&wav(8000, 1, 1.5)).unwrap();
        assert_eq!(
            (info.sample_rate, info.channels, info.duration_ms),
            (8000, 1, 1500)
        );
        assert!(inspect_wav(&wav(44100, 2, 0.5)).is_ok());
    }

    #[test]
    fn refuses_what_cannot_be_played() {
        assert!(inspect_wav(b"not a wav at all").is_err());
        assert!(matches!(
            inspect_wav(&wav(96_000, 1, 0.1)),
            Err(BadPrompt::SampleRate(96_000))
        ));
        let mut cut = wav(8000, 1, 1.0);
        cut.truncate(cut.len() / 2);
        assert!(
            matches!(inspect_wav(&cut), Err(BadPrompt::Damaged)),
            "truncated file accepted"
        );
    }
}
