//! Entitlement: a named feature flag (by code) that policies and licenses carry.

use crate::event_sink::EventSink;
use crate::{ClaimOp, DomainError, EntitlementId, NoServices, Subject, Timestamp};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The entitlements an attach or detach names, and when: what the command on a policy or a
/// license asks, and what its event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitlementChange {
    pub entitlement_ids: Vec<EntitlementId>,
    pub at: Timestamp,
}

impl EntitlementChange {
    /// The attach allowed where `held` are attached: each named once, none held already.
    pub fn attach_to(self, held: &[EntitlementId]) -> Result<Self, DomainError> {
        let change = self.distinct();
        if change.entitlement_ids.iter().any(|id| held.contains(id)) {
            return Err(DomainError::unprocessable(
                "ENTITLEMENT_TAKEN",
                "already exists",
                Subject::Data,
            ));
        }
        Ok(change)
    }

    /// The detach allowed where `held` are attached: each named once, each held.
    pub fn detach_from(self, held: &[EntitlementId]) -> Result<Self, DomainError> {
        let change = self.distinct();
        if let Some(missing) = change.entitlement_ids.iter().find(|id| !held.contains(id)) {
            let detail = format!("entitlement '{missing}' is not attached");
            return Err(DomainError::unprocessable(
                "ENTITLEMENT_NOT_FOUND",
                detail,
                Subject::Data,
            ));
        }
        Ok(change)
    }

    /// Each id once, in its first place (a request may name one twice).
    fn distinct(self) -> Self {
        Self {
            entitlement_ids: crate::distinct(self.entitlement_ids),
            at: self.at,
        }
    }
}

/// An entitlement's attributes, complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitlementAttributes {
    pub name: String,
    pub code: String,
    pub metadata: Map<String, Value>,
}

impl EntitlementAttributes {
    /// Keygen's validations; the code's format only when it is new (`before` is the entitlement
    /// as it was), so one stored before the format applied does not block other changes.
    fn validate(&self, before: Option<&Self>) -> Result<(), DomainError> {
        crate::validate_name(&self.name)?;
        if before.is_none_or(|b| b.code != self.code) {
            crate::validate_code("code", &self.code)?;
        }
        crate::metadata::validate(&self.metadata)
    }
}

/// The attributes an update may change.
#[derive(Debug, Clone, Default)]
pub struct EntitlementPatch {
    pub name: Option<String>,
    pub code: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// Commands on an entitlement.
#[derive(Debug, Clone)]
pub enum EntitlementCommand {
    Create {
        id: String,
        account_id: String,
        attributes: EntitlementAttributes,
        at: Timestamp,
    },
    Update {
        patch: EntitlementPatch,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

/// Events of an entitlement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntitlementEvent {
    #[serde(rename = "entitlement.created")]
    Created {
        id: String,
        account_id: String,
        attributes: EntitlementAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "entitlement.updated")]
    Updated {
        account_id: String,
        attributes: EntitlementAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "entitlement.deleted")]
    Deleted { account_id: String, deleted_at: Timestamp },
}

impl DomainEvent for EntitlementEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "entitlement.created",
            Self::Updated { .. } => "entitlement.updated",
            Self::Deleted { .. } => "entitlement.deleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl EntitlementEvent {
    /// Entitlement codes are unique per account, case-insensitively.
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            Self::Created {
                account_id, attributes, ..
            }
            | Self::Updated {
                account_id, attributes, ..
            } => {
                vec![ClaimOp::Replace {
                    scope: format!("entitlement.code:{account_id}"),
                    value: Some(crate::claims::digest(&attributes.code.to_lowercase())),
                    code: "CODE_TAKEN",
                    attribute: "code",
                }]
            }
            Self::Deleted { .. } => vec![ClaimOp::ReleaseAll],
        }
    }
}

/// An entitlement's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Entitlement {
    pub account_id: String,
    pub attributes: Option<EntitlementAttributes>,
    pub deleted: bool,
}

impl Entitlement {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "entitlement";
}

impl Aggregate for Entitlement {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = EntitlementCommand;
    type Event = EntitlementEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            EntitlementCommand::Create {
                id,
                account_id,
                attributes,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                attributes.validate(None)?;
                EntitlementEvent::Created {
                    id,
                    account_id,
                    attributes,
                    created_at: at,
                }
            }
            EntitlementCommand::Update { patch, at } => {
                let before = crate::live(&self.attributes, self.deleted)?;
                let mut attributes = before.clone();
                if let Some(v) = patch.name {
                    attributes.name = v;
                }
                if let Some(v) = patch.code {
                    attributes.code = v;
                }
                if let Some(v) = patch.metadata {
                    attributes.metadata = v;
                }
                attributes.validate(Some(before))?;
                EntitlementEvent::Updated {
                    account_id: self.account_id.clone(),
                    attributes,
                    updated_at: at,
                }
            }
            EntitlementCommand::Delete { at } => {
                crate::live(&self.attributes, self.deleted)?;
                EntitlementEvent::Deleted {
                    account_id: self.account_id.clone(),
                    deleted_at: at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EntitlementEvent::Created {
                account_id, attributes, ..
            } => {
                self.account_id = account_id;
                self.attributes = Some(attributes);
            }
            EntitlementEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            EntitlementEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::LicenseEvent;
    use crate::policy::PolicyEvent;

    #[test]
    fn attach_and_detach_events_read_as_they_were_stored() {
        let stored = serde_json::json!({
            "policy.entitlements.attached": { "entitlement_ids": ["e1", "e2"], "at": "2026-01-01T00:00:00Z" }
        });
        let event: PolicyEvent = serde_json::from_value(stored.clone()).unwrap();
        assert!(matches!(&event, PolicyEvent::EntitlementsAttached(c) if c.entitlement_ids == ["e1", "e2"]));
        assert_eq!(serde_json::to_value(&event).unwrap(), stored);
        let stored = serde_json::json!({
            "license.entitlements.detached": { "entitlement_ids": ["e1"], "at": "2026-01-01T00:00:00Z" }
        });
        let event: LicenseEvent = serde_json::from_value(stored.clone()).unwrap();
        assert!(matches!(&event, LicenseEvent::EntitlementsDetached(c) if c.entitlement_ids == ["e1"]));
        assert_eq!(serde_json::to_value(&event).unwrap(), stored);
    }

    #[test]
    fn an_attach_names_each_entitlement_once_and_none_held() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let ids = |ids: &[&str]| ids.iter().map(|id| EntitlementId::from(*id)).collect::<Vec<_>>();
        let change = EntitlementChange {
            entitlement_ids: ids(&["a", "b", "a"]),
            at,
        };
        assert_eq!(change.clone().attach_to(&[]).unwrap().entitlement_ids, ids(&["a", "b"]));
        assert_eq!(
            change.clone().attach_to(&ids(&["b"])).unwrap_err().code,
            "ENTITLEMENT_TAKEN"
        );
        assert_eq!(
            change.clone().detach_from(&ids(&["a"])).unwrap_err().code,
            "ENTITLEMENT_NOT_FOUND"
        );
        assert_eq!(
            change.detach_from(&ids(&["a", "b"])).unwrap().entitlement_ids,
            ids(&["a", "b"])
        );
    }
}
