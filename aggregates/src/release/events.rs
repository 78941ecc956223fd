//! Events of a release (its artifacts' among them) and the claims they make.

use super::artifact::ArtifactAttributes;
use super::{Constraint, ReleaseAttributes, ReleaseLine};
use crate::{claims, ClaimOp, Timestamp};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// Events of a release, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReleaseEvent {
    #[serde(rename = "release.created")]
    Created {
        id: String,
        account_id: String,
        line: ReleaseLine,
        attributes: ReleaseAttributes,
        constraints: Vec<Constraint>,
        created_at: Timestamp,
    },
    #[serde(rename = "release.updated")]
    Updated {
        account_id: String,
        line: ReleaseLine,
        attributes: ReleaseAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "release.published")]
    Published { account_id: String, at: Timestamp },
    #[serde(rename = "release.yanked")]
    Yanked { account_id: String, at: Timestamp },
    #[serde(rename = "release.constraints.attached")]
    ConstraintsAttached {
        account_id: String,
        constraints: Vec<Constraint>,
        at: Timestamp,
    },
    #[serde(rename = "release.constraints.detached")]
    ConstraintsDetached {
        account_id: String,
        constraint_ids: Vec<String>,
        at: Timestamp,
    },
    #[serde(rename = "release.package.updated")]
    PackageChanged {
        account_id: String,
        from: ReleaseLine,
        to: ReleaseLine,
        version: String,
        tag: Option<String>,
        at: Timestamp,
    },
    #[serde(rename = "release.deleted")]
    Deleted { account_id: String, deleted_at: Timestamp },
    #[serde(rename = "artifact.created")]
    ArtifactCreated {
        account_id: String,
        artifact_id: String,
        attributes: ArtifactAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "artifact.updated")]
    ArtifactUpdated {
        account_id: String,
        artifact_id: String,
        attributes: ArtifactAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "artifact.upload.succeeded")]
    ArtifactUploaded {
        account_id: String,
        artifact_id: String,
        filesize: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest: Option<serde_json::Value>,
        at: Timestamp,
    },
    /// Keygen's older name for a finished upload, sent beside `artifact.upload.succeeded`.
    #[serde(rename = "artifact.uploaded")]
    ArtifactUploadedLegacy {
        account_id: String,
        artifact_id: String,
        at: Timestamp,
    },
    #[serde(rename = "artifact.upload.failed")]
    ArtifactFailed {
        account_id: String,
        artifact_id: String,
        at: Timestamp,
    },
    #[serde(rename = "artifact.deleted")]
    ArtifactDeleted {
        account_id: String,
        artifact_id: String,
        deleted_at: Timestamp,
    },
}

impl DomainEvent for ReleaseEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "release.created",
            Self::Updated { .. } => "release.updated",
            Self::Published { .. } => "release.published",
            Self::Yanked { .. } => "release.yanked",
            Self::ConstraintsAttached { .. } => "release.constraints.attached",
            Self::ConstraintsDetached { .. } => "release.constraints.detached",
            Self::PackageChanged { .. } => "release.package.updated",
            Self::Deleted { .. } => "release.deleted",
            Self::ArtifactCreated { .. } => "artifact.created",
            Self::ArtifactUpdated { .. } => "artifact.updated",
            Self::ArtifactUploaded { .. } => "artifact.upload.succeeded",
            Self::ArtifactUploadedLegacy { .. } => "artifact.uploaded",
            Self::ArtifactFailed { .. } => "artifact.upload.failed",
            Self::ArtifactDeleted { .. } => "artifact.deleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl ReleaseEvent {
    /// Version and tag are unique per product and package; a release needs its product and
    /// package, and joins their groups so their deletion takes it along.
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            Self::Created { line, attributes, .. } => {
                let mut out = line.requirements();
                out.extend(line.claims(&attributes.version, attributes.tag.as_deref()));
                out
            }
            Self::Updated { line, attributes, .. } => line.tag_claims(attributes.tag.as_deref()),
            Self::PackageChanged {
                from, to, version, tag, ..
            } => {
                let mut out = vec![
                    ClaimOp::Release {
                        scope: from.scope(claims::RELEASE_VERSION),
                        value: claims::digest(version),
                    },
                    ClaimOp::Replace {
                        scope: from.scope(claims::RELEASE_TAG),
                        value: None,
                        code: "TAG_TAKEN",
                        attribute: "tag",
                    },
                    ClaimOp::Leave {
                        prefix: claims::PACKAGE_RELEASES,
                    },
                ];
                out.extend(to.requirements());
                out.extend(to.claims(version, tag.as_deref()));
                out
            }
            Self::Deleted { .. } => vec![ClaimOp::ReleaseAll],
            _ => Vec::new(),
        }
    }
}
