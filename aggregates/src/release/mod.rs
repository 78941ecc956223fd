//! Release: one version of a product (or of one of its packages) on a channel, DRAFT until
//! published, yanked to withdraw it, with the entitlements a license must hold to get it
//! (constraints, all of them).

pub mod artifact;
mod attributes;
mod events;
mod line;
pub mod version;

pub use attributes::{ReleaseAttributes, ReleasePatch, MAX_CONSTRAINTS, MAX_DESCRIPTION, SETTABLE_STATUSES};
pub use events::ReleaseEvent;
pub use line::ReleaseLine;

use artifact::{ArtifactAttributes, ArtifactPatch, ArtifactState, ArtifactStatus};

use crate::{DomainError, EntitlementId, NoServices, PackageId, Subject, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

/// An entitlement constraint: a license must hold `entitlement_id` to get the release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub id: String,
    pub entitlement_id: EntitlementId,
    pub created_at: Timestamp,
}

/// Commands on a release.
#[derive(Debug, Clone)]
pub enum ReleaseCommand {
    Create {
        id: String,
        account_id: String,
        line: ReleaseLine,
        attributes: ReleaseAttributes,
        constraints: Vec<Constraint>,
        at: Timestamp,
    },
    Update {
        patch: ReleasePatch,
        at: Timestamp,
    },
    Publish {
        at: Timestamp,
    },
    Yank {
        at: Timestamp,
    },
    AttachConstraints {
        constraints: Vec<Constraint>,
        at: Timestamp,
    },
    DetachConstraints {
        constraint_ids: Vec<String>,
        at: Timestamp,
    },
    /// Moves the release to another package of its product (or to none).
    ChangePackage {
        package_id: Option<PackageId>,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
    CreateArtifact {
        artifact_id: String,
        attributes: ArtifactAttributes,
        at: Timestamp,
    },
    UpdateArtifact {
        artifact_id: String,
        patch: ArtifactPatch,
        at: Timestamp,
    },
    /// The artifact's bytes arrived in storage (`filesize` as stored; `manifest`, the package
    /// manifest read from them for engines that serve one, e.g. npm's `package.json`).
    ArtifactUploaded {
        artifact_id: String,
        filesize: Option<i64>,
        manifest: Option<serde_json::Value>,
        at: Timestamp,
    },
    /// Nothing arrived before the upload deadline.
    ArtifactFailed {
        artifact_id: String,
        at: Timestamp,
    },
    DeleteArtifact {
        artifact_id: String,
        at: Timestamp,
    },
}

/// A release's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Release {
    pub account_id: String,
    pub line: Option<ReleaseLine>,
    pub attributes: Option<ReleaseAttributes>,
    pub constraints: Vec<Constraint>,
    pub artifacts: Vec<ArtifactState>,
    pub deleted: bool,
}

impl Release {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "release";

    fn current(&self) -> Result<(&ReleaseLine, &ReleaseAttributes), DomainError> {
        let attributes = crate::live(&self.attributes, self.deleted)?;
        let line = self.line.as_ref().ok_or_else(DomainError::not_found)?;
        Ok((line, attributes))
    }
}

/// Each entitlement once, none constrained already.
fn constraints_to_attach(held: &[Constraint], new: Vec<Constraint>) -> Result<Vec<Constraint>, DomainError> {
    let mut out: Vec<Constraint> = Vec::new();
    for c in new {
        if held.iter().chain(&out).any(|h| h.entitlement_id == c.entitlement_id) {
            return Err(DomainError::unprocessable(
                "CONSTRAINT_TAKEN",
                "constraint already exists",
                Subject::Data,
            ));
        }
        out.push(c);
    }
    Ok(out)
}

impl Aggregate for Release {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = ReleaseCommand;
    type Event = ReleaseEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let account_id = self.account_id.clone();
        let event = match command {
            ReleaseCommand::Create {
                id,
                account_id,
                line,
                attributes,
                constraints,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                let attributes = attributes.validate(None, at)?;
                if constraints.len() > MAX_CONSTRAINTS {
                    return Err(DomainError::unprocessable(
                        "CONSTRAINTS_TOO_MANY",
                        "too many constraints (maximum is 20)",
                        Subject::Relationship("constraints".into()),
                    ));
                }
                let constraints = constraints_to_attach(&[], constraints)?;
                ReleaseEvent::Created {
                    id,
                    account_id,
                    line,
                    attributes,
                    constraints,
                    created_at: at,
                }
            }
            ReleaseCommand::Update { patch, at } => {
                let (line, before) = self.current()?;
                let mut attributes = before.clone();
                if let Some(v) = patch.name {
                    attributes.name = v;
                }
                if let Some(v) = patch.description {
                    attributes.description = v;
                }
                if let Some(v) = patch.tag {
                    attributes.tag = v;
                }
                if let Some(v) = patch.backdated {
                    attributes.backdated = v;
                }
                if let Some(v) = patch.metadata {
                    attributes.metadata = v;
                }
                ReleaseEvent::Updated {
                    account_id,
                    line: line.clone(),
                    attributes: attributes.validate(Some(before), at)?,
                    updated_at: at,
                }
            }
            ReleaseCommand::Publish { at } => {
                self.current()?;
                ReleaseEvent::Published { account_id, at }
            }
            ReleaseCommand::Yank { at } => {
                self.current()?;
                ReleaseEvent::Yanked { account_id, at }
            }
            ReleaseCommand::AttachConstraints { constraints, at } => {
                self.current()?;
                let constraints = constraints_to_attach(&self.constraints, constraints)?;
                ReleaseEvent::ConstraintsAttached {
                    account_id,
                    constraints,
                    at,
                }
            }
            ReleaseCommand::DetachConstraints { constraint_ids, at } => {
                self.current()?;
                let constraint_ids = crate::distinct(constraint_ids);
                if let Some(missing) = constraint_ids
                    .iter()
                    .find(|id| !self.constraints.iter().any(|c| &c.id == *id))
                {
                    return Err(DomainError::unprocessable(
                        "CONSTRAINT_NOT_FOUND",
                        format!("constraint '{missing}' relationship not found"),
                        Subject::Data,
                    ));
                }
                ReleaseEvent::ConstraintsDetached {
                    account_id,
                    constraint_ids,
                    at,
                }
            }
            ReleaseCommand::ChangePackage { package_id, at } => {
                let (line, attributes) = self.current()?;
                let to = ReleaseLine {
                    product_id: line.product_id.clone(),
                    package_id,
                };
                ReleaseEvent::PackageChanged {
                    account_id,
                    from: line.clone(),
                    to,
                    version: attributes.version.clone(),
                    tag: attributes.tag.clone(),
                    at,
                }
            }
            ReleaseCommand::Delete { at } => {
                self.current()?;
                ReleaseEvent::Deleted {
                    account_id,
                    deleted_at: at,
                }
            }
            ReleaseCommand::CreateArtifact {
                artifact_id,
                attributes,
                at,
            } => {
                self.current()?;
                if self.artifacts.iter().any(|a| a.id == artifact_id) {
                    return Err(DomainError::already_exists());
                }
                let attributes = attributes.validated()?;
                artifact::filename_free(&self.artifacts, &attributes.filename)?;
                ReleaseEvent::ArtifactCreated {
                    account_id,
                    artifact_id,
                    attributes,
                    created_at: at,
                }
            }
            ReleaseCommand::UpdateArtifact { artifact_id, patch, at } => {
                self.current()?;
                let before = artifact::find(&self.artifacts, &artifact_id)?;
                let attributes = patch.apply_to(before.attributes.clone()).validated()?;
                ReleaseEvent::ArtifactUpdated {
                    account_id,
                    artifact_id,
                    attributes,
                    updated_at: at,
                }
            }
            ReleaseCommand::ArtifactUploaded {
                artifact_id,
                filesize,
                manifest,
                at,
            } => {
                self.current()?;
                if artifact::find(&self.artifacts, &artifact_id)?.status == ArtifactStatus::Uploaded {
                    return Ok(());
                }
                let succeeded = ReleaseEvent::ArtifactUploaded {
                    account_id: account_id.clone(),
                    artifact_id: artifact_id.clone(),
                    filesize,
                    manifest,
                    at,
                };
                sink.write(succeeded, self).await;
                // Keygen still sends its older name for the same moment.
                ReleaseEvent::ArtifactUploadedLegacy {
                    account_id,
                    artifact_id,
                    at,
                }
            }
            ReleaseCommand::ArtifactFailed { artifact_id, at } => {
                self.current()?;
                if artifact::find(&self.artifacts, &artifact_id)?.status != ArtifactStatus::Waiting {
                    return Ok(());
                }
                ReleaseEvent::ArtifactFailed {
                    account_id,
                    artifact_id,
                    at,
                }
            }
            ReleaseCommand::DeleteArtifact { artifact_id, at } => {
                self.current()?;
                artifact::find(&self.artifacts, &artifact_id)?;
                ReleaseEvent::ArtifactDeleted {
                    account_id,
                    artifact_id,
                    deleted_at: at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ReleaseEvent::Created {
                account_id,
                line,
                attributes,
                constraints,
                ..
            } => {
                self.account_id = account_id;
                self.line = Some(line);
                self.attributes = Some(attributes);
                self.constraints = constraints;
            }
            ReleaseEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            ReleaseEvent::Published { .. } => {
                if let Some(a) = &mut self.attributes {
                    a.status = "PUBLISHED".into();
                    a.yanked = None;
                }
            }
            ReleaseEvent::Yanked { at, .. } => {
                if let Some(a) = &mut self.attributes {
                    a.status = "YANKED".into();
                    a.yanked = Some(at);
                }
            }
            ReleaseEvent::ConstraintsAttached { constraints, .. } => self.constraints.extend(constraints),
            ReleaseEvent::ConstraintsDetached { constraint_ids, .. } => {
                self.constraints.retain(|c| !constraint_ids.contains(&c.id))
            }
            ReleaseEvent::PackageChanged { to, .. } => self.line = Some(to),
            ReleaseEvent::Deleted { .. } => self.deleted = true,
            ReleaseEvent::ArtifactCreated {
                artifact_id,
                attributes,
                ..
            } => self.artifacts.push(ArtifactState {
                id: artifact_id,
                attributes,
                status: ArtifactStatus::Waiting,
            }),
            ReleaseEvent::ArtifactUpdated {
                artifact_id,
                attributes,
                ..
            } => {
                if let Some(a) = self.artifacts.iter_mut().find(|a| a.id == artifact_id) {
                    a.attributes = attributes;
                }
            }
            ReleaseEvent::ArtifactUploaded {
                artifact_id, filesize, ..
            } => {
                if let Some(a) = self.artifacts.iter_mut().find(|a| a.id == artifact_id) {
                    a.status = ArtifactStatus::Uploaded;
                    if filesize.is_some() {
                        a.attributes.filesize = filesize;
                    }
                }
            }
            ReleaseEvent::ArtifactFailed { artifact_id, .. } => {
                if let Some(a) = self.artifacts.iter_mut().find(|a| a.id == artifact_id) {
                    a.status = ArtifactStatus::Failed;
                }
            }
            ReleaseEvent::ArtifactDeleted { artifact_id, .. } => self.artifacts.retain(|a| a.id != artifact_id),
            ReleaseEvent::ArtifactUploadedLegacy { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;
