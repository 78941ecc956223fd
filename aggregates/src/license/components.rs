//! A machine's components: their fingerprints are unique on the machine always, and on the
//! license, policy, product or account as the policy's `componentUniquenessStrategy` says (the
//! license sees every machine's components; wider scopes are claims).

use super::machines::{MachineSlot, MAX_FINGERPRINT};
use super::License;
use crate::vocabulary::UniquenessStrategy;
use crate::{AccountId, DomainError, Subject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the license keeps of a machine's component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentSlot {
    pub id: crate::ComponentId,
    pub fingerprint: String,
}

/// A component as it is created (inline at activation, or on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewComponent {
    pub id: crate::ComponentId,
    pub fingerprint: String,
    pub name: String,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// The most components a machine's activation may carry.
pub const MAX_INLINE_COMPONENTS: usize = 20;

/// The claim scope of a component fingerprint under `strategy`, when it is wider than the
/// license (within the license, the license itself sees every machine's components).
pub fn component_scope(strategy: UniquenessStrategy, account: &AccountId, license: &License) -> Option<String> {
    match strategy {
        UniquenessStrategy::UniquePerAccount => Some(format!("component.fingerprint:account:{account}")),
        UniquenessStrategy::UniquePerProduct => Some(format!("component.fingerprint:product:{}", license.product_id)),
        UniquenessStrategy::UniquePerPolicy => Some(format!("component.fingerprint:policy:{}", license.policy_id)),
        UniquenessStrategy::UniquePerLicense | UniquenessStrategy::UniquePerMachine => None,
    }
}

/// Keygen's rules for new components: a fingerprint (at most 4 KiB) and a name each, and no
/// fingerprint twice on the machine (`taken`: those it has). `pointer` names where in the
/// request the i-th component is.
pub fn check_components(
    components: &[NewComponent],
    taken: &[ComponentSlot],
    pointer: impl Fn(usize) -> String,
) -> Result<(), DomainError> {
    for (i, component) in components.iter().enumerate() {
        let at = |attribute: &str| Subject::Pointer(format!("{}/attributes/{attribute}", pointer(i)));
        if component.fingerprint.trim().is_empty() {
            return Err(DomainError::unprocessable(
                "FINGERPRINT_MISSING",
                "can't be blank",
                at("fingerprint"),
            ));
        }
        if component.fingerprint.len() > MAX_FINGERPRINT {
            let detail = format!("is too long (maximum is {MAX_FINGERPRINT} characters)");
            return Err(DomainError::unprocessable(
                "FINGERPRINT_TOO_LONG",
                detail,
                at("fingerprint"),
            ));
        }
        if component.name.trim().is_empty() {
            return Err(DomainError::unprocessable("NAME_MISSING", "can't be blank", at("name")));
        }
        if component.name.len() > 255 {
            let detail = "is too long (maximum is 255 characters)";
            return Err(DomainError::unprocessable("NAME_TOO_LONG", detail, at("name")));
        }
        crate::metadata::validate(&component.metadata)?;
        if components[..i].iter().any(|c| c.fingerprint == component.fingerprint) {
            return Err(DomainError::unprocessable(
                "COMPONENTS_FINGERPRINT_CONFLICT",
                "is duplicated",
                at("fingerprint"),
            ));
        }
        if taken.iter().any(|c| c.fingerprint == component.fingerprint) {
            let detail = "has already been taken";
            return Err(DomainError::unprocessable(
                "COMPONENTS_FINGERPRINT_TAKEN",
                detail,
                at("fingerprint"),
            ));
        }
    }
    Ok(())
}

impl License {
    /// The components a new one must not repeat under `strategy`: the machine's own (`machine`;
    /// none for a new machine), or every machine's of this license.
    pub(super) fn components_beside(
        &self,
        strategy: UniquenessStrategy,
        machine: Option<&MachineSlot>,
    ) -> Vec<ComponentSlot> {
        match strategy {
            UniquenessStrategy::UniquePerMachine => machine.map(|m| m.components.clone()).unwrap_or_default(),
            _ => self.machines.iter().flat_map(|m| m.components.clone()).collect(),
        }
    }
}
