//! A release's artifacts: the files it ships. They live in the release's stream (a filename is
//! unique per release, which the release alone can tell), each with its own id, and move
//! `WAITING` → `UPLOADED` (or `FAILED`) as their bytes arrive in object storage.

use crate::{DomainError, Subject, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest artifact Keygen takes: 5 GiB.
pub const MAX_FILESIZE: i64 = 5 * 1024 * 1024 * 1024;
/// The longest signature or checksum, in bytes.
pub const MAX_DIGEST_TEXT: usize = 4 * 1024;

/// An artifact's attributes, complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactAttributes {
    pub filename: String,
    pub filetype: Option<String>,
    pub filesize: Option<i64>,
    pub platform: Option<String>,
    pub arch: Option<String>,
    pub signature: Option<String>,
    pub checksum: Option<String>,
    pub metadata: Map<String, Value>,
}

/// A lookup key as Keygen stores it: lowercased, trimmed, blank is none.
fn key(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty())
}

impl ArtifactAttributes {
    /// Keygen's validations; the filetype, platform and arch normalized.
    pub(super) fn validated(mut self) -> Result<Self, DomainError> {
        self.filetype = key(self.filetype).map(|f| f.trim_start_matches('.').to_string());
        self.platform = key(self.platform);
        self.arch = key(self.arch);
        let name = &self.filename;
        if name.trim().is_empty() {
            return Err(DomainError::invalid("filename", "MISSING", "can't be blank"));
        }
        if name.len() > 255 {
            return Err(DomainError::invalid(
                "filename",
                "TOO_LONG",
                "is too long (maximum is 255 characters)",
            ));
        }
        if name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
            return Err(DomainError::invalid("filename", "INVALID", "is invalid"));
        }
        if let Some(filetype) = &self.filetype {
            let has_extension = name.rsplit_once('.').is_some_and(|(stem, _)| !stem.is_empty());
            if has_extension && !name.to_lowercase().ends_with(&format!(".{filetype}")) {
                return Err(DomainError::invalid(
                    "filename",
                    "EXTENSION_INVALID",
                    "filename extension does not match filetype",
                ));
            }
        }
        if self.filesize.is_some_and(|s| !(0..=MAX_FILESIZE).contains(&s)) {
            return Err(DomainError::invalid(
                "filesize",
                "INVALID",
                "must be between 0 and 5368709120 bytes",
            ));
        }
        for (attribute, value) in [("signature", &self.signature), ("checksum", &self.checksum)] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_DIGEST_TEXT) {
                return Err(DomainError::invalid(
                    attribute,
                    "TOO_LONG",
                    "is too long (maximum is 4096 characters)",
                ));
            }
        }
        crate::metadata::validate(&self.metadata)?;
        Ok(self)
    }
}

/// The attributes an artifact's update may change (Keygen's: size, signature, checksum,
/// metadata).
#[derive(Debug, Clone, Default)]
pub struct ArtifactPatch {
    pub filesize: Option<Option<i64>>,
    pub signature: Option<Option<String>>,
    pub checksum: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
}

impl ArtifactPatch {
    pub(super) fn apply_to(self, mut a: ArtifactAttributes) -> ArtifactAttributes {
        if let Some(v) = self.filesize {
            a.filesize = v;
        }
        if let Some(v) = self.signature {
            a.signature = v;
        }
        if let Some(v) = self.checksum {
            a.checksum = v;
        }
        if let Some(v) = self.metadata {
            a.metadata = v;
        }
        a
    }
}

/// Where an artifact's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArtifactStatus {
    #[serde(rename = "WAITING")]
    Waiting,
    #[serde(rename = "UPLOADED")]
    Uploaded,
    #[serde(rename = "FAILED")]
    Failed,
}

impl ArtifactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::Uploaded => "UPLOADED",
            Self::Failed => "FAILED",
        }
    }
}

/// An artifact as the release's commands need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactState {
    pub id: String,
    pub attributes: ArtifactAttributes,
    pub status: ArtifactStatus,
}

/// The artifact `id` among `artifacts`, or a 404.
pub(super) fn find<'a>(artifacts: &'a [ArtifactState], id: &str) -> Result<&'a ArtifactState, DomainError> {
    artifacts.iter().find(|a| a.id == id).ok_or_else(DomainError::not_found)
}

/// A new artifact's filename is not one the release has already.
pub(super) fn filename_free(artifacts: &[ArtifactState], filename: &str) -> Result<(), DomainError> {
    if artifacts.iter().any(|a| a.attributes.filename == filename) {
        return Err(DomainError::unprocessable(
            "FILENAME_TAKEN",
            "already exists",
            Subject::Attribute("filename".into()),
        ));
    }
    Ok(())
}

/// When an artifact is given up for lost: Keygen waits about an hour for an upload.
pub fn upload_deadline(created_at: Timestamp) -> Timestamp {
    created_at + chrono::Duration::hours(1)
}
