//! Blob storage for large binary objects, through the `object_store` crate:
//! a local folder by default, an S3-compatible bucket in production (the
//! same interface, so callers never know which).

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload};

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Where, for messages.
    place: String,
}

/// Where an S3-compatible bucket is. Credentials come from here or, when
/// absent, from the usual environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `eu-west-2`; absent: the environment's, else `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Another S3-compatible service (MinIO, Ceph, Garage...), e.g.
    /// `http://127.0.0.1:9000`; absent: Amazon S3.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Bucket in the path (`endpoint/bucket/key`) rather than the host name,
    /// as most self-hosted services want.
    #[serde(default)]
    pub path_style: bool,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

/// Why blob storage cannot be used as configured (a bucket or folder).
#[derive(Debug, thiserror::Error)]
#[error("{place}: {source}")]
pub struct BlobsError {
    /// The bucket or folder.
    place: String,
    #[source]
    source: object_store::Error,
}

impl Blobs {
    /// Blobs kept as files under `dir`, which is created if missing.
    pub fn local(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let store = LocalFileSystem::new_with_prefix(dir).map_err(std::io::Error::other)?;
        Ok(Self {
            store: Arc::new(store),
            place: format!("folder {}", dir.display()),
        })
    }

    /// Blobs kept in an S3-compatible bucket.
    pub fn s3(config: &S3Config) -> Result<Self, BlobsError> {
        use object_store::aws::AmazonS3Builder;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                // A self-hosted service on plain HTTP (on the same host or
                // network) is the operator's choice, said by the URL.
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if config.path_style {
            builder = builder.with_virtual_hosted_style_request(false);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|source| BlobsError {
            place: format!("S3 bucket '{}'", config.bucket),
            source,
        })?;
        Ok(Self {
            store: Arc::new(store),
            place: format!("S3 bucket '{}'", config.bucket),
        })
    }

    /// Whether the storage answers (a bucket that is missing, or refuses
    /// these credentials, is said at start rather than at the first
    /// recording): lists its top level.
    pub async fn check(&self) -> Result<(), BlobsError> {
        self.store
            .list_with_delimiter(None)
            .await
            .map(|_| ())
            .map_err(|source| BlobsError {
                place: self.place.clone(),
                source,
            })
    }

    /// Blobs kept in memory, for tests.
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            place: "memory".into(),
        }
    }

    pub async fn put(&self, key: &str, data: Bytes) -> object_store::Result<()> {
        self.store
            .put(&Key::from(key), PutPayload::from_bytes(data))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> object_store::Result<Bytes> {
        self.store.get(&Key::from(key)).await?.bytes().await
    }

    /// Removes a blob; removing one that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
