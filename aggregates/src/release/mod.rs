//! Release: one version of a product (or of one of its packages) on a channel, DRAFT until
//! published, yanked to withdraw it, with the entitlements a license must hold to get it
//! (constraints, all of them).

mod attributes;
mod line;
pub mod version;

pub use attributes::{ReleaseAttributes, ReleasePatch, MAX_CONSTRAINTS, MAX_DESCRIPTION, SETTABLE_STATUSES};
pub use line::ReleaseLine;

use crate::{claims, ClaimOp, DomainError, EntitlementId, NoServices, PackageId, Subject, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
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
}

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

/// A release's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Release {
    pub account_id: String,
    pub line: Option<ReleaseLine>,
    pub attributes: Option<ReleaseAttributes>,
    pub constraints: Vec<Constraint>,
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
        }
    }
}

#[cfg(test)]
mod tests;
