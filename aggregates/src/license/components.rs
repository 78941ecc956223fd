//! A machine's components: their fingerprints are unique on the machine always, and on the
//! license, policy, product or account as the policy's `componentUniquenessStrategy` says (the
//! license sees every machine's components; wider scopes are claims).

use super::machines::{MachineSlot, MAX_FINGERPRINT};
use super::{License, LicenseCommand, LicenseEvent};
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

impl License {
    /// A component of one of this license's machines: the machine, and the component.
    fn component(&self, id: &crate::ComponentId) -> Result<(&MachineSlot, &ComponentSlot), DomainError> {
        self.current()?;
        self.machines
            .iter()
            .find_map(|m| m.components.iter().find(|c| &c.id == id).map(|c| (m, c)))
            .ok_or_else(DomainError::not_found)
    }

    /// Decides a command on a component added, changed or removed on its own.
    pub(super) fn decide_component(&self, command: LicenseCommand) -> Result<Vec<LicenseEvent>, DomainError> {
        Ok(match command {
            LicenseCommand::AddComponent {
                policy,
                machine_id,
                component,
                at,
            } => {
                self.governed_by(&policy)?;
                let machine = self.slot(&machine_id).map_err(|_| {
                    DomainError::unprocessable(
                        "MACHINE_NOT_FOUND",
                        "must exist",
                        Subject::Relationship("machine".into()),
                    )
                })?;
                let taken = self.components_beside(policy.attributes.component_uniqueness_strategy, Some(machine));
                // One on its own is the request's data; a taken fingerprint is its attribute's.
                check_components(std::slice::from_ref(&component), &taken, |_| "/data".into()).map_err(
                    |err| match err.code.as_str() {
                        "COMPONENTS_FINGERPRINT_TAKEN" => {
                            DomainError::invalid("fingerprint", "TAKEN", "has already been taken")
                        }
                        _ => err,
                    },
                )?;
                vec![LicenseEvent::ComponentAdded {
                    machine_id,
                    claim: machine.component_claim.clone(),
                    component,
                    created_at: at,
                }]
            }
            LicenseCommand::UpdateComponent { id, name, metadata, at } => {
                let (_, slot) = self.component(&id)?;
                let changed = NewComponent {
                    id,
                    fingerprint: slot.fingerprint.clone(),
                    name,
                    metadata,
                };
                check_components(std::slice::from_ref(&changed), &[], |_| "/data".into())?;
                vec![LicenseEvent::ComponentUpdated {
                    component_id: changed.id,
                    name: changed.name,
                    metadata: changed.metadata,
                    at,
                }]
            }
            LicenseCommand::RemoveComponent { id, at } => {
                let (machine, component) = self.component(&id)?;
                vec![LicenseEvent::ComponentRemoved {
                    machine_id: machine.id.clone(),
                    component: component.clone(),
                    claim: machine.component_claim.clone(),
                    at,
                }]
            }
            _ => Vec::new(),
        })
    }

    pub(super) fn apply_component(&mut self, event: &LicenseEvent) {
        match event {
            LicenseEvent::ComponentAdded {
                machine_id, component, ..
            } => {
                if let Some(machine) = self.machines.iter_mut().find(|m| &m.id == machine_id) {
                    machine.components.push(ComponentSlot {
                        id: component.id.clone(),
                        fingerprint: component.fingerprint.clone(),
                    });
                }
            }
            LicenseEvent::ComponentRemoved {
                machine_id, component, ..
            } => {
                if let Some(machine) = self.machines.iter_mut().find(|m| &m.id == machine_id) {
                    machine.components.retain(|c| c.id != component.id);
                }
            }
            _ => {}
        }
    }
}
