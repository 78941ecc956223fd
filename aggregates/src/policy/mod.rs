//! Policy: the rules licenses follow (duration, limits, strategies, required scopes), plus its
//! key pool and the entitlements every license under it carries.

mod attributes;

pub use attributes::{check_max_machines, PolicyAttributes, BOOLEANS, CREATE_ONLY, ENUMS, INTEGERS};

use crate::claims;
use crate::entitlement::EntitlementChange;
use crate::event_sink::EventSink;
use crate::vocabulary::HeartbeatBasis;
use crate::{
    AccountId, ClaimOp, DomainError, EntitlementId, NoServices, PolicyId, PoolKeyId, ProductId, Subject, Timestamp,
};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A key waiting in a policy's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolKey {
    pub id: PoolKeyId,
    pub key: String,
}

/// Commands on a policy.
#[derive(Debug, Clone)]
pub enum PolicyCommand {
    Create {
        id: PolicyId,
        account_id: AccountId,
        product_id: ProductId,
        /// The request's attributes (snake_case), laid over Keygen's defaults.
        attributes: Map<String, Value>,
        account_protected: bool,
        at: Timestamp,
    },
    Update {
        changes: Map<String, Value>,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
    AddKey {
        key: PoolKey,
        at: Timestamp,
    },
    RemoveKey {
        key_id: PoolKeyId,
        at: Timestamp,
    },
    /// Takes `key_id` out of the pool (the API names the newest key it read, so it knows which
    /// key it got; a key popped meanwhile by someone else is NOT_FOUND and the API reads again).
    PopKey {
        key_id: PoolKeyId,
        at: Timestamp,
    },
    AttachEntitlements(EntitlementChange),
    DetachEntitlements(EntitlementChange),
}

/// Events of a policy, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PolicyEvent {
    #[serde(rename = "policy.created")]
    Created {
        id: PolicyId,
        account_id: AccountId,
        product_id: ProductId,
        attributes: PolicyAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "policy.updated")]
    Updated {
        account_id: AccountId,
        attributes: PolicyAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "policy.deleted")]
    Deleted {
        account_id: AccountId,
        deleted_at: Timestamp,
    },
    #[serde(rename = "key.created")]
    KeyCreated {
        account_id: AccountId,
        key: PoolKey,
        created_at: Timestamp,
    },
    #[serde(rename = "key.deleted")]
    KeyDeleted {
        account_id: AccountId,
        key: PoolKey,
        deleted_at: Timestamp,
    },
    #[serde(rename = "policy.pool.popped")]
    PoolPopped {
        account_id: AccountId,
        key: PoolKey,
        popped_at: Timestamp,
    },
    #[serde(rename = "policy.entitlements.attached")]
    EntitlementsAttached(EntitlementChange),
    #[serde(rename = "policy.entitlements.detached")]
    EntitlementsDetached(EntitlementChange),
}

impl DomainEvent for PolicyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "policy.created",
            Self::Updated { .. } => "policy.updated",
            Self::Deleted { .. } => "policy.deleted",
            Self::KeyCreated { .. } => "key.created",
            Self::KeyDeleted { .. } => "key.deleted",
            Self::PoolPopped { .. } => "policy.pool.popped",
            Self::EntitlementsAttached(_) => "policy.entitlements.attached",
            Self::EntitlementsDetached(_) => "policy.entitlements.detached",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// The claim scope of license keys (pool keys share it, so a pooled key cannot also be a
/// license's custom key).
pub fn license_key_scope(account_id: &AccountId) -> String {
    format!("license.key:{account_id}")
}

impl PolicyEvent {
    /// Pool keys are unique per account alongside license keys.
    pub fn claims(&self) -> Vec<ClaimOp> {
        match self {
            Self::Created { id, product_id, .. } => vec![
                ClaimOp::Require {
                    scope: claims::PRODUCT_LIVE.into(),
                    value: product_id.to_string(),
                    code: "PRODUCT_NOT_FOUND",
                    relationship: "product",
                },
                ClaimOp::add_taken(claims::POLICY_LIVE.into(), id.to_string(), "ID_TAKEN", "id"),
                ClaimOp::Join {
                    prefix: claims::PRODUCT_POLICIES,
                    group: product_id.to_string(),
                },
            ],
            Self::KeyCreated { account_id, key, .. } => vec![ClaimOp::add_taken(
                license_key_scope(account_id),
                claims::digest(&key.key),
                "KEY_TAKEN",
                "key",
            )],
            Self::KeyDeleted { account_id, key, .. } => vec![ClaimOp::Release {
                scope: license_key_scope(account_id),
                value: claims::digest(&key.key),
            }],
            Self::PoolPopped { account_id, key, .. } => vec![ClaimOp::ReleaseHeld {
                scope: license_key_scope(account_id),
                value: claims::digest(&key.key),
                code: "POLICY_POOL_EMPTY",
                relationship: "pool",
            }],
            Self::Deleted { .. } => claims::deleted_parent(claims::POLICY_LIVE, &[claims::POLICY_LICENSES]),
            _ => Vec::new(),
        }
    }
}

/// A policy's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub attributes: Option<PolicyAttributes>,
    pub pool: Vec<PoolKey>,
    pub entitlement_ids: Vec<EntitlementId>,
    pub deleted: bool,
}

impl Policy {
    /// A key still in the pool.
    fn pool_key(&self, id: &PoolKeyId) -> Result<PoolKey, DomainError> {
        let key = self.pool.iter().find(|k| &k.id == id);
        key.cloned().ok_or_else(DomainError::not_found)
    }

    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "policy";
}

fn validate_pool_key(key: &str) -> Result<(), DomainError> {
    if key.len() < 8 || key.len() > 1024 {
        return Err(DomainError::invalid(
            "key",
            "INVALID",
            "must be between 8 and 1024 characters",
        ));
    }
    if crate::looks_like_uuid(key) || crate::is_reserved_word(key) {
        return Err(DomainError::invalid("key", "INVALID", "is invalid"));
    }
    Ok(())
}

impl Aggregate for Policy {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = PolicyCommand;
    type Event = PolicyEvent;
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
            PolicyCommand::Create {
                id,
                account_id,
                product_id,
                attributes,
                account_protected,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                let name = attributes
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let mut policy = PolicyAttributes::defaults(name, account_protected).merged(&attributes)?;
                if !attributes.contains_key("heartbeat_basis") && policy.require_heartbeat {
                    policy.heartbeat_basis = HeartbeatBasis::FromCreation;
                }
                policy.settle_max_machines();
                policy.validate()?;
                PolicyEvent::Created {
                    id,
                    account_id,
                    product_id,
                    attributes: policy,
                    created_at: at,
                }
            }
            PolicyCommand::Update { changes, at } => {
                let current = crate::live(&self.attributes, self.deleted)?;
                if let Some(key) = changes.keys().find(|k| CREATE_ONLY.contains(&k.as_str())) {
                    return Err(DomainError::invalid(
                        key,
                        "NOT_ALLOWED",
                        "cannot be changed after creation",
                    ));
                }
                let mut policy = current.merged(&changes)?;
                policy.settle_max_machines();
                policy.validate()?;
                PolicyEvent::Updated {
                    account_id,
                    attributes: policy,
                    updated_at: at,
                }
            }
            PolicyCommand::Delete { at } => {
                crate::live(&self.attributes, self.deleted)?;
                PolicyEvent::Deleted {
                    account_id,
                    deleted_at: at,
                }
            }
            PolicyCommand::AddKey { key, at } => {
                let policy = crate::live(&self.attributes, self.deleted)?;
                if !policy.use_pool {
                    return Err(DomainError::invalid(
                        "policy",
                        "NOT_SUPPORTED",
                        "cannot add key to a policy that does not use a pool",
                    )
                    .about(Subject::Relationship("policy".into())));
                }
                validate_pool_key(&key.key)?;
                PolicyEvent::KeyCreated {
                    account_id,
                    key,
                    created_at: at,
                }
            }
            PolicyCommand::RemoveKey { key_id, at } => {
                crate::live(&self.attributes, self.deleted)?;
                let key = self.pool_key(&key_id)?;
                PolicyEvent::KeyDeleted {
                    account_id,
                    key,
                    deleted_at: at,
                }
            }
            PolicyCommand::PopKey { key_id, at } => {
                let policy = crate::live(&self.attributes, self.deleted)?;
                if !policy.use_pool {
                    return Err(DomainError::invalid(
                        "use_pool",
                        "NOT_SUPPORTED",
                        "policy does not use a pool",
                    ));
                }
                let empty = || {
                    DomainError::invalid("policy_pool", "EMPTY", "pool is empty")
                        .about(Subject::Relationship("pool".into()))
                };
                // A key another request popped, or a license took, meanwhile: the pool no longer
                // holds it (the caller tries the next). A deleted policy stays NOT_FOUND above.
                let key = self.pool_key(&key_id).map_err(|_| empty())?;
                PolicyEvent::PoolPopped {
                    account_id,
                    key,
                    popped_at: at,
                }
            }
            PolicyCommand::AttachEntitlements(change) => {
                crate::live(&self.attributes, self.deleted)?;
                PolicyEvent::EntitlementsAttached(change.attach_to(&self.entitlement_ids)?)
            }
            PolicyCommand::DetachEntitlements(change) => {
                crate::live(&self.attributes, self.deleted)?;
                PolicyEvent::EntitlementsDetached(change.detach_from(&self.entitlement_ids)?)
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PolicyEvent::Created {
                account_id,
                product_id,
                attributes,
                ..
            } => {
                self.account_id = account_id;
                self.product_id = product_id;
                self.attributes = Some(attributes);
            }
            PolicyEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            PolicyEvent::Deleted { .. } => self.deleted = true,
            PolicyEvent::KeyCreated { key, .. } => self.pool.push(key),
            PolicyEvent::KeyDeleted { key, .. } | PolicyEvent::PoolPopped { key, .. } => {
                self.pool.retain(|k| k.id != key.id)
            }
            PolicyEvent::EntitlementsAttached(change) => self.entitlement_ids.extend(change.entitlement_ids),
            PolicyEvent::EntitlementsDetached(change) => {
                self.entitlement_ids.retain(|id| !change.entitlement_ids.contains(id))
            }
        }
    }
}

#[cfg(test)]
mod tests;
