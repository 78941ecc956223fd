//! What happened to a license, named as Keygen's webhook events, and the claims each makes.

use super::machines::{NewComponent, ProcessSlot};
use super::tokens::TokenUse;
use super::{LicenseAttributes, MachineAttributes, MachineSlot};
use crate::entitlement::EntitlementChange;
use crate::policy::license_key_scope;
use crate::{claims, AccountId, ClaimOp, LicenseId, PolicyId, PoolKeyId, ProductId, Subject, Timestamp};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// Events of a license, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseEvent {
    #[serde(rename = "license.created")]
    Created {
        id: LicenseId,
        account_id: AccountId,
        product_id: ProductId,
        policy_id: PolicyId,
        key: String,
        /// The pool key the license took, when its key came from its policy's pool.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pooled_key_id: Option<PoolKeyId>,
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
        product_id: ProductId,
        policy_id: PolicyId,
        expiry: Option<Timestamp>,
        /// The machines' claims that move to the new policy's scopes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        moved: Vec<super::policy_change::MovedClaims>,
        at: Timestamp,
    },
    /// A machine was activated on the license (Keygen's `machine.created`).
    #[serde(rename = "machine.created")]
    MachineActivated {
        machine: MachineSlot,
        attributes: MachineAttributes,
        /// When the machine dies without a ping: one heartbeat duration after its creation, when
        /// its policy requires heartbeats or counts them from creation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_deadline: Option<Timestamp>,
        /// Components created with it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        components: Vec<NewComponent>,
        /// The activation token it was activated with, and the token's activations since.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenUse>,
        created_at: Timestamp,
    },
    /// A machine was deactivated (Keygen's `machine.deleted`).
    #[serde(rename = "machine.deleted")]
    MachineDeactivated {
        machine: MachineSlot,
        /// The activation token it was deactivated with, and the token's deactivations since.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenUse>,
        at: Timestamp,
    },
    /// A machine's cores, memory or disk changed (Keygen's `machine.updated`; its own attributes
    /// change in its own stream).
    #[serde(rename = "machine.resized")]
    MachineResized {
        from: MachineSlot,
        to: MachineSlot,
        at: Timestamp,
    },
    /// A process started on one of the license's machines (Keygen's `process.created`).
    #[serde(rename = "process.created")]
    ProcessSpawned {
        machine_id: crate::MachineId,
        process: ProcessSlot,
        metadata: serde_json::Map<String, serde_json::Value>,
        /// When it dies without a ping: one heartbeat duration after it started.
        heartbeat_deadline: Timestamp,
        created_at: Timestamp,
    },
    #[serde(rename = "process.updated")]
    ProcessUpdated {
        process_id: crate::ProcessId,
        metadata: serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    },
    #[serde(rename = "process.deleted")]
    ProcessKilled {
        machine_id: crate::MachineId,
        process: ProcessSlot,
        at: Timestamp,
    },
    /// A component was added to one of the license's machines on its own (Keygen's
    /// `component.created`; those created with their machine are in its activation).
    #[serde(rename = "component.created")]
    ComponentAdded {
        machine_id: crate::MachineId,
        component: NewComponent,
        /// The scope its fingerprint is claimed in beyond the license (the machine's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim: Option<String>,
        created_at: Timestamp,
    },
    #[serde(rename = "component.updated")]
    ComponentUpdated {
        component_id: crate::ComponentId,
        name: String,
        metadata: serde_json::Map<String, serde_json::Value>,
        at: Timestamp,
    },
    #[serde(rename = "component.deleted")]
    ComponentRemoved {
        machine_id: crate::MachineId,
        component: super::machines::ComponentSlot,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claim: Option<String>,
        at: Timestamp,
    },
    #[serde(rename = "license.entitlements.attached")]
    EntitlementsAttached(EntitlementChange),
    #[serde(rename = "license.entitlements.detached")]
    EntitlementsDetached(EntitlementChange),
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
            Self::MachineActivated { .. } => "machine.created",
            Self::MachineDeactivated { .. } => "machine.deleted",
            Self::MachineResized { .. } => "machine.updated",
            Self::ProcessSpawned { .. } => "process.created",
            Self::ProcessUpdated { .. } => "process.updated",
            Self::ProcessKilled { .. } => "process.deleted",
            Self::ComponentAdded { .. } => "component.created",
            Self::ComponentUpdated { .. } => "component.updated",
            Self::ComponentRemoved { .. } => "component.deleted",
            Self::EntitlementsAttached(_) => "license.entitlements.attached",
            Self::EntitlementsDetached(_) => "license.entitlements.detached",
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
            Self::Created {
                account_id,
                key,
                policy_id,
                pooled_key_id,
                ..
            } => {
                // The policy's claim first: a policy being deleted is locked in the same order.
                let mut ops = under_policy(policy_id);
                ops.push(match pooled_key_id {
                    // The pool's claim on the key passes to the license in the same commit: a
                    // key another license took first is refused, and a refused license took none.
                    Some(_) => ClaimOp::Take {
                        scope: license_key_scope(account_id),
                        value: claims::digest(key),
                        from_type: crate::policy::Policy::TYPE_NAME,
                        from_id: policy_id.to_string(),
                        code: "POLICY_POOL_EMPTY",
                        relationship: "pool",
                    },
                    None => ClaimOp::Replace {
                        scope: license_key_scope(account_id),
                        value: Some(claims::digest(key)),
                        code: "KEY_TAKEN",
                        attribute: "key",
                    },
                });
                ops
            }
            Self::PolicyChanged { policy_id, moved, .. } => {
                let mut ops = under_policy(policy_id);
                ops.extend(moved.iter().flat_map(|m| m.claims()));
                ops
            }
            // A fingerprint unique beyond its license is claimed in the scope decided at
            // activation, and given up with the machine.
            Self::MachineActivated { machine, .. } => {
                let mut ops: Vec<ClaimOp> = machine
                    .claim
                    .iter()
                    .map(|scope| ClaimOp::Add {
                        scope: scope.clone(),
                        value: claims::digest(&machine.fingerprint),
                        code: "FINGERPRINT_TAKEN",
                        detail: super::machines::fingerprint_taken_in(scope),
                        subject: Subject::Attribute("fingerprint".into()),
                    })
                    .collect();
                ops.extend(component_claims(machine, &machine.components, true));
                ops
            }
            Self::MachineDeactivated { machine, .. } => {
                let mut ops: Vec<ClaimOp> = machine
                    .claim
                    .iter()
                    .map(|scope| ClaimOp::Release {
                        scope: scope.clone(),
                        value: claims::digest(&machine.fingerprint),
                    })
                    .collect();
                ops.extend(component_claims(machine, &machine.components, false));
                ops
            }
            // Keygen points a standalone component's taken fingerprint at its attribute.
            Self::ComponentAdded { component, claim, .. } => claim
                .iter()
                .map(|scope| ClaimOp::Add {
                    scope: scope.clone(),
                    value: claims::digest(&component.fingerprint),
                    code: "FINGERPRINT_TAKEN",
                    detail: "has already been taken",
                    subject: Subject::Attribute("fingerprint".into()),
                })
                .collect(),
            Self::ComponentRemoved { component, claim, .. } => claim
                .iter()
                .map(|scope| ClaimOp::Release {
                    scope: scope.clone(),
                    value: claims::digest(&component.fingerprint),
                })
                .collect(),
            Self::Deleted { .. } | Self::Revoked { .. } => vec![ClaimOp::ReleaseAll],
            _ => Vec::new(),
        }
    }
}

/// A license lives under a live policy, as a member of its group of licenses.
fn under_policy(policy_id: &PolicyId) -> Vec<ClaimOp> {
    vec![
        ClaimOp::Require {
            scope: claims::POLICY_LIVE.into(),
            value: policy_id.to_string(),
            code: "POLICY_NOT_FOUND",
            relationship: "policy",
        },
        ClaimOp::Join {
            prefix: claims::POLICY_LICENSES,
            group: policy_id.to_string(),
        },
    ]
}

/// The claims of `components` of `machine` in the scope its policy named beyond the machine:
/// taken (`add`) or given up.
fn component_claims(machine: &MachineSlot, components: &[super::machines::ComponentSlot], add: bool) -> Vec<ClaimOp> {
    let Some(scope) = &machine.component_claim else {
        return Vec::new();
    };
    components
        .iter()
        .map(|c| match add {
            // Keygen points at the components relationship, not at one of them.
            true => ClaimOp::Add {
                scope: scope.clone(),
                value: claims::digest(&c.fingerprint),
                code: "COMPONENTS_FINGERPRINT_TAKEN",
                detail: "has already been taken",
                subject: Subject::Relationship("components".into()),
            },
            false => ClaimOp::Release {
                scope: scope.clone(),
                value: claims::digest(&c.fingerprint),
            },
        })
        .collect()
}
