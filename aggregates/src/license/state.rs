//! A license's state: the attributes a client may set, with Keygen's rules for them, and what
//! commands need to decide.

use crate::policy::PolicyAttributes;
use crate::{AccountId, DomainError, EntitlementId, PolicyId, ProductId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

impl LicenseLimits {
    /// The limits' attribute names (integers or null, on policies and licenses alike).
    pub const NAMES: &[&str] = &[
        "max_machines",
        "max_cores",
        "max_memory",
        "max_disk",
        "max_uses",
        "max_processes",
        "max_users",
    ];

    /// The limits in force: each one this license sets, else its policy's.
    pub fn over(&self, policy: &LicenseLimits) -> LicenseLimits {
        LicenseLimits {
            max_machines: self.max_machines.or(policy.max_machines),
            max_cores: self.max_cores.or(policy.max_cores),
            max_memory: self.max_memory.or(policy.max_memory),
            max_disk: self.max_disk.or(policy.max_disk),
            max_uses: self.max_uses.or(policy.max_uses),
            max_processes: self.max_processes.or(policy.max_processes),
            max_users: self.max_users.or(policy.max_users),
        }
    }
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
    /// Keygen's rules for a license's attributes under `policy`; the expiry's bound only when
    /// the expiry is new (`before` is the license as it was).
    pub fn validate(&self, policy: &PolicyAttributes, before: Option<&Self>) -> Result<(), DomainError> {
        if self.name.as_ref().is_some_and(|n| n.len() > 1024) {
            return Err(DomainError::invalid(
                "name",
                "TOO_LONG",
                "is too long (maximum is 1024 characters)",
            ));
        }
        if let Some(expiry) = self.expiry.filter(|_| before.is_none_or(|b| b.expiry != self.expiry)) {
            super::expiry::in_range(expiry)?;
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

/// A license's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct License {
    pub account_id: AccountId,
    pub product_id: ProductId,
    pub policy_id: PolicyId,
    pub attributes: Option<LicenseAttributes>,
    pub uses: i64,
    pub last_check_in: Option<Timestamp>,
    pub entitlement_ids: Vec<EntitlementId>,
    /// The license's active machines.
    #[serde(default)]
    pub machines: Vec<super::MachineSlot>,
    /// What each of its activation tokens has activated and deactivated.
    #[serde(default)]
    pub token_counts: std::collections::BTreeMap<String, super::TokenCounts>,
    pub deleted: bool,
}

impl License {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "license";

    pub(super) fn current(&self) -> Result<&LicenseAttributes, DomainError> {
        crate::live(&self.attributes, self.deleted)
    }
}
