use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

/// A recorded audio prompt. The audio is uploaded as a WAV file and kept in
/// blob storage; the object holds its description and what the upload held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Set from the uploaded file; ignored in requests.
    #[serde(default)]
    #[schema(read_only)]
    pub audio: AudioInfo,
}

/// What an uploaded WAV file holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    pub duration_ms: u64,
    pub size_bytes: u64,
    /// Key of the audio in blob storage.
    pub blob_key: String,
}

impl ConfigSpec for Prompt {
    const KIND: ObjectKind = ObjectKind::Prompt;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        e.finish()
    }

    fn keep_server_fields(&mut self, stored: &Self) {
        self.audio = stored.audio.clone();
    }
}
