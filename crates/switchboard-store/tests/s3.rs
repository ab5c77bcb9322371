//! Blob storage in an S3-compatible bucket, against a real S3 server: moto's
//! (PyPI, pinned in tests/s3/requirements.txt; scripts/test installs it in a
//! virtualenv and sets `MOTO_SERVER`). Under CI its absence fails.

// Tests may unwrap: a failure is the report.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use switchboard_store::{Blobs, S3Config};
use switchboard_testkit::{ports, wait};

/// A running moto server, stopped when dropped.
struct S3Server {
    _child: tokio::process::Child,
    endpoint: String,
}

async fn s3_server() -> Option<S3Server> {
    let Some(moto) = std::env::var_os("MOTO_SERVER") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MOTO_SERVER is not set (scripts/test installs it)"
        );
        return None;
    };
    let port = ports::port();
    let child = tokio::process::Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait::tcp_listening(port).await;
    Some(S3Server {
        _child: child,
        endpoint: format!("http://127.0.0.1:{port}"),
    })
}

#[tokio::test]
async fn blobs_live_in_an_s3_bucket_as_they_do_in_a_folder() {
    let Some(server) = s3_server().await else {
        return;
    };
    let bucket = "switchboard-recordings";
    // The operator makes the bucket; Switchboard only uses it.
    let client = reqwest::Client::new();
    wait::until("the bucket made", Duration::from_secs(60), || async {
        let r = client
            .put(format!("{}/{bucket}", server.endpoint))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        r.status()
            .is_success()
            .then_some(())
            .ok_or_else(|| r.status().to_string())
    })
    .await;
    let config = S3Config {
        bucket: bucket.into(),
        region: Some("us-east-1".into()),
        endpoint: Some(server.endpoint.clone()),
        path_style: true,
        access_key_id: Some("switchboard".into()),
        secret_access_key: Some("switchboard-secret".into()),
    };
    let blobs = Blobs::s3(&config).unwrap();
    blobs.check().await.unwrap();

    let wav = Bytes::from(vec![7u8; 300_000]);
    blobs
        .put("recordings/2026/12/07/c1.wav", wav.clone())
        .await
        .unwrap();
    assert_eq!(
        blobs.get("recordings/2026/12/07/c1.wav").await.unwrap(),
        wav
    );
    blobs.delete("recordings/2026/12/07/c1.wav").await.unwrap();
    // Gone, and removing it again is not an error (as in a folder).
    assert!(matches!(
        blobs.get("recordings/2026/12/07/c1.wav").await,
        Err(object_store::Error::NotFound { .. })
    ));
    blobs.delete("recordings/2026/12/07/c1.wav").await.unwrap();

    // A bucket that is not there is said at start, not at the first recording.
    let missing = Blobs::s3(&S3Config {
        bucket: "no-such-bucket".into(),
        ..config
    })
    .unwrap();
    let e = missing.check().await.unwrap_err();
    assert!(e.to_string().contains("no-such-bucket"), "{e}");
}
