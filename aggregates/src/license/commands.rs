//! What can be asked of a license, and the policy facts a command carries with it.

use crate::entitlement::EntitlementChange;
use crate::policy::PolicyAttributes;
use crate::{AccountId, EntitlementId, LicenseId, PolicyId, PoolKeyId, ProductId, Timestamp};
use serde_json::{Map, Value};

/// What a license command needs to know of a policy (the API reads it and passes it in).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySnapshot {
    pub id: PolicyId,
    pub product_id: ProductId,
    pub attributes: PolicyAttributes,
}

/// Where a new license's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewKey {
    /// Keygen's default key, generated for it.
    Generated(String),
    /// The client's choice, checked as Keygen checks custom keys.
    Custom(String),
    /// A key from its policy's pool (`id` is the pool key's id), taken in the license's commit.
    Pooled { id: PoolKeyId, key: String },
    /// A key signed (or encrypted) under the policy's scheme: its seed is the supplied key with
    /// `{{var}}` placeholders filled (`template`), or the scheme's default seed; `jti` is the
    /// JWT id RSA_2048_JWT_RS256 keys carry.
    Signed {
        template: Option<String>,
        jti: String,
        signer: crate::signing::Signer,
    },
}

/// A policy's entitlements (the API reads them and passes them in).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEntitlements {
    pub policy_id: PolicyId,
    pub entitlement_ids: Vec<EntitlementId>,
}

/// Commands on a license.
// Commands live for one request; boxing the policy snapshot would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LicenseCommand {
    Create {
        id: LicenseId,
        account_id: AccountId,
        policy: PolicySnapshot,
        key: NewKey,
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
        /// For a cascade: the policy being deleted. A license that moved to another policy
        /// meanwhile is refused (409) and stays.
        under_policy: Option<PolicyId>,
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
    /// Starts the expiry clock when the policy's basis is the first download of a release
    /// (once).
    StartExpiryOnDownload {
        policy: PolicySnapshot,
        at: Timestamp,
    },
    /// Activates a machine on the license, within the policy's limits.
    ActivateMachine {
        policy: PolicySnapshot,
        machine: super::NewMachine,
        /// The activation token the request came with, which counts it.
        token: Option<super::ActivationToken>,
        at: Timestamp,
    },
    /// Changes the sizes of one of the license's machines (`machine` holds its new cores, memory
    /// and disk), within the policy's limits.
    ResizeMachine {
        policy: PolicySnapshot,
        machine: super::MachineSlot,
        at: Timestamp,
    },
    /// Starts a process on one of the license's machines, within the policy's process limit.
    SpawnProcess {
        policy: PolicySnapshot,
        machine_id: crate::MachineId,
        id: crate::ProcessId,
        pid: String,
        metadata: Map<String, Value>,
        at: Timestamp,
    },
    /// Changes a process's metadata.
    UpdateProcess {
        id: crate::ProcessId,
        metadata: Map<String, Value>,
        at: Timestamp,
    },
    /// Ends (deletes) one of the license's processes.
    KillProcess {
        id: crate::ProcessId,
        at: Timestamp,
    },
    /// Adds a component to one of the license's machines.
    AddComponent {
        policy: PolicySnapshot,
        machine_id: crate::MachineId,
        component: super::machines::NewComponent,
        at: Timestamp,
    },
    /// Changes a component's name and metadata (to these).
    UpdateComponent {
        id: crate::ComponentId,
        name: String,
        metadata: Map<String, Value>,
        at: Timestamp,
    },
    /// Removes (deletes) a component from its machine.
    RemoveComponent {
        id: crate::ComponentId,
        at: Timestamp,
    },
    /// Deactivates (deletes) one of the license's machines.
    DeactivateMachine {
        machine_id: crate::MachineId,
        /// The activation token the request came with, which counts it.
        token: Option<super::ActivationToken>,
        at: Timestamp,
    },
    AttachEntitlements(EntitlementChange),
    DetachEntitlements {
        change: EntitlementChange,
        /// The license's policy's entitlements, which the license inherits and cannot detach.
        inherited: PolicyEntitlements,
    },
}
