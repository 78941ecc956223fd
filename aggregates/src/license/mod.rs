//! License: a key issued under a policy. Owns its usage counter, suspension, expiry, check-ins
//! and its own entitlements, so every limit on them holds under any concurrency.

pub mod expiry;
pub mod keys;
pub mod validation;

use crate::event_sink::EventSink;
use crate::policy::{license_key_scope, PolicyAttributes};
use crate::{ClaimOp, DomainError, NoServices, Subject, Timestamp};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a license command needs to know of a policy (the API reads it and passes it in).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySnapshot {
    pub id: String,
    pub product_id: String,
    pub attributes: PolicyAttributes,
}

/// Per-license overrides of the policy's limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseLimits {
    pub max_machines: Option<i64>,
    pub max_cores: Option<i64>,
    pub max_memory: Option<i64>,
    pub max_disk: Option<i64>,
    pub max_uses: Option<i64>,
    pub max_processes: Option<i64>,
    pub max_users: Option<i64>,
}

/// The attributes of a license a client may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LicenseAttributes {
    pub name: Option<String>,
    pub expiry: Option<Timestamp>,
    pub suspended: bool,
    pub protected: Option<bool>,
    #[serde(flatten)]
    pub limits: LicenseLimits,
    pub metadata: Map<String, Value>,
}

impl LicenseAttributes {
    /// These attributes with `changes` (snake_case keys) laid over them.
    pub fn merged(&self, changes: &Map<String, Value>) -> Result<Self, DomainError> {
        crate::merge_attributes(self, changes, "license")
    }

    /// Keygen's validation of a license's own attributes against its policy.
    pub fn validate(&self, policy: &PolicyAttributes) -> Result<(), DomainError> {
        if self.name.as_ref().is_some_and(|n| n.len() > 1024) {
            return Err(DomainError::invalid(
                "name",
                "TOO_LONG",
                "is too long (maximum is 1024 characters)",
            ));
        }
        let l = &self.limits;
        crate::policy::check_max_machines(policy.floating, l.max_machines)?;
        for (attribute, value, min) in [
            ("max_cores", l.max_cores, 1),
            ("max_memory", l.max_memory, 1),
            ("max_disk", l.max_disk, 1),
            ("max_uses", l.max_uses, 0),
            ("max_processes", l.max_processes, 0),
            ("max_users", l.max_users, 0),
        ] {
            if value.is_some_and(|n| n < min) {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    format!("must be greater than or equal to {min}"),
                ));
            }
        }
        crate::metadata::validate(&self.metadata)
    }
}

/// Commands on a license.
// Commands live for one request; boxing the policy snapshot would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LicenseCommand {
    Create {
        id: String,
        account_id: String,
        policy: PolicySnapshot,
        key: String,
        /// True when the client chose the key (it is then checked as Keygen checks custom keys).
        custom_key: bool,
        /// The request's attributes (snake_case).
        attributes: Map<String, Value>,
        at: Timestamp,
    },
    Update {
        policy: PolicySnapshot,
        changes: Map<String, Value>,
        at: Timestamp,
    },
    Delete {
        revoked: bool,
        at: Timestamp,
    },
    Suspend {
        at: Timestamp,
    },
    Reinstate {
        at: Timestamp,
    },
    Renew {
        policy: PolicySnapshot,
        at: Timestamp,
    },
    CheckIn {
        policy: PolicySnapshot,
        at: Timestamp,
    },
    IncrementUsage {
        policy: PolicySnapshot,
        by: i64,
        at: Timestamp,
    },
    DecrementUsage {
        by: i64,
        at: Timestamp,
    },
    ResetUsage {
        at: Timestamp,
    },
    ChangePolicy {
        from: PolicySnapshot,
        to: PolicySnapshot,
        at: Timestamp,
    },
    /// Starts the expiry clock when the policy's basis is the first validation (once).
    StartExpiryOnValidation {
        policy: PolicySnapshot,
        at: Timestamp,
    },
    AttachEntitlements {
        entitlement_ids: Vec<String>,
        at: Timestamp,
    },
    DetachEntitlements {
        entitlement_ids: Vec<String>,
        at: Timestamp,
    },
}

/// Events of a license, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseEvent {
    #[serde(rename = "license.created")]
    Created {
        id: String,
        account_id: String,
        product_id: String,
        policy_id: String,
        key: String,
        attributes: LicenseAttributes,
        last_check_in: Option<Timestamp>,
        created_at: Timestamp,
    },
    #[serde(rename = "license.updated")]
    Updated {
        attributes: LicenseAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "license.deleted")]
    Deleted { deleted_at: Timestamp },
    #[serde(rename = "license.revoked")]
    Revoked { revoked_at: Timestamp },
    #[serde(rename = "license.suspended")]
    Suspended { at: Timestamp },
    #[serde(rename = "license.reinstated")]
    Reinstated { at: Timestamp },
    #[serde(rename = "license.renewed")]
    Renewed { expiry: Option<Timestamp>, at: Timestamp },
    #[serde(rename = "license.checked-in")]
    CheckedIn { at: Timestamp },
    #[serde(rename = "license.usage.incremented")]
    UsageIncremented { uses: i64, at: Timestamp },
    #[serde(rename = "license.usage.decremented")]
    UsageDecremented { uses: i64, at: Timestamp },
    #[serde(rename = "license.usage.reset")]
    UsageReset { at: Timestamp },
    #[serde(rename = "license.policy.updated")]
    PolicyChanged {
        product_id: String,
        policy_id: String,
        expiry: Option<Timestamp>,
        at: Timestamp,
    },
    #[serde(rename = "license.entitlements.attached")]
    EntitlementsAttached {
        entitlement_ids: Vec<String>,
        at: Timestamp,
    },
    #[serde(rename = "license.entitlements.detached")]
    EntitlementsDetached {
        entitlement_ids: Vec<String>,
        at: Timestamp,
    },
}

impl DomainEvent for LicenseEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "license.created",
            Self::Updated { .. } => "license.updated",
            Self::Deleted { .. } => "license.deleted",
            Self::Revoked { .. } => "license.revoked",
            Self::Suspended { .. } => "license.suspended",
            Self::Reinstated { .. } => "license.reinstated",
            Self::Renewed { .. } => "license.renewed",
            Self::CheckedIn { .. } => "license.checked-in",
            Self::UsageIncremented { .. } => "license.usage.incremented",
            Self::UsageDecremented { .. } => "license.usage.decremented",
            Self::UsageReset { .. } => "license.usage.reset",
            Self::PolicyChanged { .. } => "license.policy.updated",
            Self::EntitlementsAttached { .. } => "license.entitlements.attached",
            Self::EntitlementsDetached { .. } => "license.entitlements.detached",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl LicenseEvent {
    /// License keys are unique per account (case-sensitive), alongside pool keys.
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            Self::Created { account_id, key, .. } => vec![ClaimOp::Replace {
                scope: license_key_scope(account_id),
                value: Some(key.clone()),
                code: "KEY_TAKEN",
                attribute: "key",
            }],
            Self::Deleted { .. } | Self::Revoked { .. } => vec![ClaimOp::ReleaseAll],
            _ => Vec::new(),
        }
    }
}

/// A license's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct License {
    pub account_id: String,
    pub product_id: String,
    pub policy_id: String,
    pub attributes: Option<LicenseAttributes>,
    pub uses: i64,
    pub last_check_in: Option<Timestamp>,
    pub entitlement_ids: Vec<String>,
    pub deleted: bool,
}

impl License {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "license";

    fn current(&self) -> Result<&LicenseAttributes, DomainError> {
        crate::live(&self.attributes, self.deleted)
    }
}

/// The expiry a license starts with when its policy's basis is `basis` and it has none yet.
fn started_expiry(policy: &PolicyAttributes, basis: &str, at: Timestamp) -> Option<Timestamp> {
    match policy.duration {
        Some(duration) if policy.expiration_basis == basis => Some(expiry::advance(at, duration)),
        _ => None,
    }
}

impl Aggregate for License {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = LicenseCommand;
    type Event = LicenseEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            LicenseCommand::Create {
                id,
                account_id,
                policy,
                key,
                custom_key,
                attributes,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                if custom_key {
                    keys::validate_custom_key(&key)?;
                }
                let mut license = LicenseAttributes::default().merged(&attributes)?;
                if !attributes.contains_key("expiry") {
                    license.expiry = started_expiry(&policy.attributes, "FROM_CREATION", at);
                }
                license.validate(&policy.attributes)?;
                let last_check_in = policy.attributes.require_check_in.then_some(at);
                vec![LicenseEvent::Created {
                    id,
                    account_id,
                    product_id: policy.product_id,
                    policy_id: policy.id,
                    key,
                    attributes: license,
                    last_check_in,
                    created_at: at,
                }]
            }
            LicenseCommand::Update { policy, changes, at } => {
                let license = self.current()?.merged(&changes)?;
                license.validate(&policy.attributes)?;
                vec![LicenseEvent::Updated {
                    attributes: license,
                    updated_at: at,
                }]
            }
            LicenseCommand::Delete { revoked, at } => {
                self.current()?;
                vec![if revoked {
                    LicenseEvent::Revoked { revoked_at: at }
                } else {
                    LicenseEvent::Deleted { deleted_at: at }
                }]
            }
            LicenseCommand::Suspend { at } => {
                if self.current()?.suspended {
                    return Err(DomainError::unprocessable(
                        "SUSPENDED_INVALID",
                        "is already suspended",
                        Subject::Attribute("suspended".into()),
                    ));
                }
                vec![LicenseEvent::Suspended { at }]
            }
            LicenseCommand::Reinstate { at } => {
                if !self.current()?.suspended {
                    return Err(DomainError::unprocessable(
                        "SUSPENDED_INVALID",
                        "is not suspended",
                        Subject::Attribute("suspended".into()),
                    ));
                }
                vec![LicenseEvent::Reinstated { at }]
            }
            LicenseCommand::Renew { policy, at } => {
                let current = self.current()?;
                let Some(duration) = policy.attributes.duration else {
                    return Err(DomainError::unprocessable(
                        "LICENSE_NOT_RENEWABLE",
                        "cannot be renewed because the policy does not have a duration",
                        Subject::Relationship("policy".into()),
                    ));
                };
                let Some(expiry) = current.expiry else {
                    return Err(DomainError::unprocessable(
                        "LICENSE_NOT_RENEWABLE",
                        "cannot be renewed because it does not expire",
                        Subject::Attribute("expiry".into()),
                    ));
                };
                let from = match policy.attributes.renewal_basis.as_str() {
                    "FROM_NOW" => at,
                    "FROM_NOW_IF_EXPIRED" if expiry < at => at,
                    _ => expiry,
                };
                vec![LicenseEvent::Renewed {
                    expiry: Some(expiry::advance(from, duration)),
                    at,
                }]
            }
            LicenseCommand::CheckIn { policy, at } => {
                self.current()?;
                if !policy.attributes.require_check_in {
                    return Err(DomainError::unprocessable(
                        "CHECK_IN_NOT_REQUIRED",
                        "cannot be checked in because the policy does not require it",
                        Subject::Relationship("policy".into()),
                    ));
                }
                vec![LicenseEvent::CheckedIn { at }]
            }
            LicenseCommand::IncrementUsage { policy, by, at } => {
                let current = self.current()?.clone();
                let max_uses = current.limits.max_uses.or(policy.attributes.max_uses);
                let uses = self.uses.checked_add(by).ok_or_else(|| {
                    DomainError::unprocessable("USES_INVALID", "is too large", Subject::Meta("increment".into()))
                })?;
                if max_uses.is_some_and(|max| uses > max) {
                    return Err(DomainError::unprocessable(
                        "USES_LIMIT_EXCEEDED",
                        format!(
                            "usage exceeds maximum allowed for license ({})",
                            max_uses.unwrap_or_default()
                        ),
                        Subject::Attribute("uses".into()),
                    ));
                }
                let mut events = vec![LicenseEvent::UsageIncremented { uses, at }];
                if current.expiry.is_none() {
                    if let Some(expiry) = started_expiry(&policy.attributes, "FROM_FIRST_USE", at) {
                        events.push(LicenseEvent::Updated {
                            attributes: LicenseAttributes {
                                expiry: Some(expiry),
                                ..current
                            },
                            updated_at: at,
                        });
                    }
                }
                events
            }
            LicenseCommand::DecrementUsage { by, at } => {
                self.current()?;
                let uses = self.uses - by;
                if uses < 0 {
                    return Err(DomainError::unprocessable(
                        "USES_INVALID",
                        "must be greater than or equal to 0",
                        Subject::Attribute("uses".into()),
                    ));
                }
                vec![LicenseEvent::UsageDecremented { uses, at }]
            }
            LicenseCommand::ResetUsage { at } => {
                self.current()?;
                vec![LicenseEvent::UsageReset { at }]
            }
            LicenseCommand::ChangePolicy { from, to, at } => {
                let current = self.current()?;
                let incompatible = |detail: &str| {
                    DomainError::unprocessable("POLICY_NOT_COMPATIBLE", detail, Subject::Relationship("policy".into()))
                };
                if to.product_id != self.product_id {
                    return Err(incompatible("cannot change to a policy for another product"));
                }
                let (a, b) = (&from.attributes, &to.attributes);
                if a.encrypted != b.encrypted || a.use_pool != b.use_pool || a.scheme != b.scheme {
                    return Err(incompatible(
                        "cannot change to a policy with a different key scheme, encryption or pool",
                    ));
                }
                if PolicyAttributes::uniqueness_rank(&b.machine_uniqueness_strategy)
                    > PolicyAttributes::uniqueness_rank(&a.machine_uniqueness_strategy)
                    || PolicyAttributes::uniqueness_rank(&b.component_uniqueness_strategy)
                        > PolicyAttributes::uniqueness_rank(&a.component_uniqueness_strategy)
                {
                    return Err(incompatible(
                        "cannot change to a policy with a stricter uniqueness strategy",
                    ));
                }
                let expiry = match b.transfer_strategy.as_str() {
                    "RESET_EXPIRY" => b.duration.map(|d| expiry::advance(at, d)),
                    _ => current.expiry,
                };
                vec![LicenseEvent::PolicyChanged {
                    product_id: to.product_id,
                    policy_id: to.id,
                    expiry,
                    at,
                }]
            }
            LicenseCommand::StartExpiryOnValidation { policy, at } => {
                let current = self.current()?.clone();
                match (
                    current.expiry,
                    started_expiry(&policy.attributes, "FROM_FIRST_VALIDATION", at),
                ) {
                    (None, Some(expiry)) => {
                        vec![LicenseEvent::Updated {
                            attributes: LicenseAttributes {
                                expiry: Some(expiry),
                                ..current
                            },
                            updated_at: at,
                        }]
                    }
                    _ => Vec::new(),
                }
            }
            LicenseCommand::AttachEntitlements { entitlement_ids, at } => {
                self.current()?;
                if entitlement_ids.iter().any(|id| self.entitlement_ids.contains(id)) {
                    return Err(DomainError::unprocessable(
                        "ENTITLEMENT_TAKEN",
                        "already exists",
                        Subject::Data,
                    ));
                }
                vec![LicenseEvent::EntitlementsAttached { entitlement_ids, at }]
            }
            LicenseCommand::DetachEntitlements { entitlement_ids, at } => {
                self.current()?;
                if let Some(missing) = entitlement_ids.iter().find(|id| !self.entitlement_ids.contains(id)) {
                    return Err(DomainError::unprocessable(
                        "ENTITLEMENT_NOT_FOUND",
                        format!("entitlement '{missing}' is not attached"),
                        Subject::Data,
                    ));
                }
                vec![LicenseEvent::EntitlementsDetached { entitlement_ids, at }]
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LicenseEvent::Created {
                account_id,
                product_id,
                policy_id,
                attributes,
                last_check_in,
                ..
            } => {
                self.account_id = account_id;
                self.product_id = product_id;
                self.policy_id = policy_id;
                self.attributes = Some(attributes);
                self.last_check_in = last_check_in;
            }
            LicenseEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            LicenseEvent::Deleted { .. } | LicenseEvent::Revoked { .. } => self.deleted = true,
            LicenseEvent::Suspended { .. } | LicenseEvent::Reinstated { .. } => {
                if let Some(a) = self.attributes.as_mut() {
                    a.suspended = matches!(event, LicenseEvent::Suspended { .. });
                }
            }
            LicenseEvent::Renewed { expiry, .. } => {
                if let Some(a) = self.attributes.as_mut() {
                    a.expiry = expiry;
                }
            }
            LicenseEvent::CheckedIn { at } => self.last_check_in = Some(at),
            LicenseEvent::UsageIncremented { uses, .. } | LicenseEvent::UsageDecremented { uses, .. } => {
                self.uses = uses
            }
            LicenseEvent::UsageReset { .. } => self.uses = 0,
            LicenseEvent::PolicyChanged {
                product_id,
                policy_id,
                expiry,
                ..
            } => {
                self.product_id = product_id;
                self.policy_id = policy_id;
                if let Some(a) = self.attributes.as_mut() {
                    a.expiry = expiry;
                }
            }
            LicenseEvent::EntitlementsAttached { entitlement_ids, .. } => self.entitlement_ids.extend(entitlement_ids),
            LicenseEvent::EntitlementsDetached { entitlement_ids, .. } => {
                self.entitlement_ids.retain(|id| !entitlement_ids.contains(id))
            }
        }
    }
}

#[cfg(test)]
mod tests;
