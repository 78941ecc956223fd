//! A release's attributes and Keygen's rules for them: semver versions, channels that agree
//! with the version's prerelease, statuses, tags, descriptions and backdating.

use super::version;
use crate::{DomainError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Statuses a release may be created or updated with (`YANKED` only by the yank action).
pub const SETTABLE_STATUSES: &[&str] = &["DRAFT", "PUBLISHED"];
/// The most constraints a release may be created with.
pub const MAX_CONSTRAINTS: usize = 20;
/// The longest description, in bytes.
pub const MAX_DESCRIPTION: usize = 16 * 1024;

/// A release's attributes, complete (`status` and `yanked` move by actions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseAttributes {
    pub name: Option<String>,
    pub description: Option<String>,
    pub channel: String,
    pub status: String,
    pub tag: Option<String>,
    /// Normalized semver text.
    pub version: String,
    pub backdated: Option<Timestamp>,
    pub yanked: Option<Timestamp>,
    pub metadata: Map<String, Value>,
}

impl ReleaseAttributes {
    /// Keygen's validations of a new release at `now` (the version is normalized); `before` is
    /// the release as it was.
    pub(super) fn validate(mut self, before: Option<&Self>, now: Timestamp) -> Result<Self, DomainError> {
        let parsed = semver::Version::parse(self.version.trim())
            .map_err(|_| DomainError::invalid("version", "INVALID", "must be a valid version"))?;
        if !parsed.pre.is_empty() && !version::PRERELEASE_CHANNELS.iter().any(|c| parsed.pre.starts_with(c)) {
            return Err(DomainError::invalid(
                "version",
                "CHANNEL_INVALID",
                "must be a valid channel",
            ));
        }
        self.version = parsed.to_string();
        self.channel = self.channel.trim().to_lowercase();
        if !version::CHANNELS.contains(&self.channel.as_str()) {
            return Err(DomainError::invalid("channel", "NOT_ALLOWED", "unsupported channel"));
        }
        match self.channel.as_str() {
            "stable" if !parsed.pre.is_empty() => {
                return Err(DomainError::invalid(
                    "version",
                    "CHANNEL_INVALID",
                    format!("version does not match stable channel (expected x.y.z got {parsed})"),
                ))
            }
            channel if channel != "stable" && !parsed.pre.starts_with(channel) => {
                return Err(DomainError::invalid(
                    "version",
                    "CHANNEL_INVALID",
                    format!("version does not match prerelease channel (expected x.y.z-{channel}.n got {parsed})"),
                ))
            }
            _ => {}
        }
        if before.is_none_or(|b| b.status != self.status) && !SETTABLE_STATUSES.contains(&self.status.as_str()) {
            return Err(DomainError::invalid("status", "NOT_ALLOWED", "unsupported status"));
        }
        if let Some(name) = &self.name {
            if name.len() > 255 {
                return Err(DomainError::invalid(
                    "name",
                    "TOO_LONG",
                    "is too long (maximum is 255 characters)",
                ));
            }
        }
        if self.description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
            return Err(DomainError::invalid(
                "description",
                "TOO_LONG",
                "is too long (maximum is 16384 characters)",
            ));
        }
        if let Some(tag) = &self.tag {
            if tag.trim().is_empty() || tag.len() > 255 || crate::looks_like_uuid(tag) {
                return Err(DomainError::invalid("tag", "INVALID", "is invalid"));
            }
            if crate::is_reserved_word(tag) {
                return Err(DomainError::invalid("tag", "EXCLUSION", "is reserved"));
            }
        }
        if let Some(backdated) = self.backdated {
            if before.is_none_or(|b| b.backdated != self.backdated) && backdated > now {
                return Err(DomainError::invalid("backdated", "INVALID", "must be in the past"));
            }
        }
        crate::metadata::validate(&self.metadata)?;
        Ok(self)
    }
}

/// The attributes an update may change.
#[derive(Debug, Clone, Default)]
pub struct ReleasePatch {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub tag: Option<Option<String>>,
    pub backdated: Option<Option<Timestamp>>,
    pub metadata: Option<Map<String, Value>>,
}
