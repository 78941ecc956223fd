//! Where artifacts' bytes are kept, through the `object_store` crate: a local directory by
//! default (the embedded default needs nothing), or any S3-compatible store
//! (`KEYLEDGER_STORAGE_URL=s3://bucket`, with the usual `AWS_*` variables; `file:///path` for a
//! directory elsewhere).
//!
//! Clients move bytes with presigned URLs, as with Keygen: S3 signs its own; for a directory,
//! Keyledger serves the URLs itself (`/v1/storage/...`), each signed with an HMAC of the
//! method, the object's key and its expiry under the account's token secret, so any node of
//! the deployment accepts what another signed. Bodies stream both ways: memory stays flat
//! whatever the file's size.

use axum::http::Method;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A storage failure (never shown to clients: the API answers a 5xx and logs it).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("storage URL {0:?} is not file:// or s3://")]
    Url(String),
    #[error("storage directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
}

/// The object store artifacts live in.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A directory; Keyledger serves its presigned URLs.
    Local(Arc<LocalFileSystem>),
    /// An S3-compatible bucket, which serves its own presigned URLs.
    S3(Arc<AmazonS3>),
}

/// The object key of an artifact, as Keygen names it: `artifacts/<account>/<release>/<filename>`.
pub fn artifact_key(account_id: &str, release_id: &str, filename: &str) -> String {
    format!("artifacts/{account_id}/{release_id}/{filename}")
}

impl Storage {
    /// The store `url` names, or the directory `default_dir` when there is none.
    pub fn open(url: Option<&str>, default_dir: &Path) -> Result<Self, StorageError> {
        match url.filter(|u| !u.trim().is_empty()) {
            None => Self::directory(default_dir),
            Some(url) if url.starts_with("file://") => Self::directory(Path::new(&url["file://".len()..])),
            Some(url) if url.starts_with("s3://") => {
                let mut builder = AmazonS3Builder::from_env().with_url(url);
                if std::env::var("AWS_ALLOW_HTTP").is_err() {
                    let endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"));
                    if endpoint.is_ok_and(|e| e.starts_with("http://")) {
                        builder = builder.with_allow_http(true);
                    }
                }
                Ok(Storage::S3(Arc::new(builder.build()?)))
            }
            Some(other) => Err(StorageError::Url(other.to_string())),
        }
    }

    /// An S3-compatible bucket (`s3://bucket`) with settings given here rather than in the
    /// environment (`aws_endpoint`, `aws_region`, `aws_access_key_id`, …, as `object_store`
    /// names them).
    pub fn s3(url: &str, settings: &[(&str, &str)]) -> Result<Self, StorageError> {
        let mut builder = AmazonS3Builder::new().with_url(url);
        for (key, value) in settings {
            let key = key.parse().map_err(|_| StorageError::Url(format!("{url} ({key})")))?;
            builder = builder.with_config(key, *value);
        }
        Ok(Storage::S3(Arc::new(builder.build()?)))
    }

    fn directory(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Storage::Local(Arc::new(LocalFileSystem::new_with_prefix(dir)?)))
    }

    fn store(&self) -> &dyn ObjectStore {
        match self {
            Storage::Local(s) => s.as_ref(),
            Storage::S3(s) => s.as_ref(),
        }
    }

    /// The object's size, if it is there.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.store().head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the object (gone already is done).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store().delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A URL that lets whoever holds it `method` (PUT or GET) the object for `ttl`. For a
    /// directory it is Keyledger's own, under `origin`, signed with `secret`.
    pub async fn presign(
        &self,
        method: Method,
        key: &str,
        ttl: Duration,
        origin: &str,
        secret: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, StorageError> {
        match self {
            Storage::S3(s3) => Ok(s3.signed_url(method, &ObjectPath::from(key), ttl).await?.to_string()),
            Storage::Local(_) => {
                let expires = now.timestamp() + ttl.as_secs() as i64;
                let signature = local_signature(secret, method.as_str(), key, expires);
                let segments: Vec<String> = key.split('/').map(path_segment).collect();
                let path = segments.join("/");
                Ok(format!(
                    "{origin}/v1/storage/{path}?expires={expires}&signature={signature}"
                ))
            }
        }
    }

    /// Writes a body to the object as it arrives; answers its size.
    pub async fn put_stream<S, E>(&self, key: &str, body: S) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let upload = self.store().put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut size = 0u64;
        let mut body = body;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    writer.abort().await?;
                    return Err(StorageError::Store(object_store::Error::Generic {
                        store: "upload",
                        source: e.to_string().into(),
                    }));
                }
            };
            size += chunk.len() as u64;
            writer.wait_for_capacity(4).await?;
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(size)
    }

    /// The object's size and its bytes as a stream, if it is there.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<Option<(u64, impl Stream<Item = Result<Bytes, object_store::Error>>)>, StorageError> {
        match self.store().get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some((result.meta.size, result.into_stream().map_err(Into::into)))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// What a path segment of a presigned URL escapes (everything but unreserved characters).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one path segment of a URL (a filename, a part of an object's key).
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// What a local presigned URL signs.
fn signed_text(method: &str, key: &str, expires: i64) -> String {
    format!("storage\n{method}\n{key}\n{expires}")
}

/// The signature of a local presigned URL.
fn local_signature(secret: &[u8], method: &str, key: &str, expires: i64) -> String {
    crate::crypto::token_digest(secret, &signed_text(method, key, expires))
}

/// Whether `signature` is the local presigned URL's (checked in constant time by the HMAC).
pub fn local_signature_matches(secret: &[u8], method: &str, key: &str, expires: i64, signature: &str) -> bool {
    crate::crypto::token_digest_matches(secret, &signed_text(method, key, expires), signature)
}
