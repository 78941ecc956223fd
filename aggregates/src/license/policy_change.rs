//! A license changing policy takes its machines' uniqueness claims along: a fingerprint claimed
//! per policy or product moves to the scope the new policy names (never a wider one: Keygen
//! refuses a stricter strategy on a change), so the old policy's licenses may activate it again,
//! as in Keygen, where uniqueness is a query over the machines as they are now. Where another
//! license of the new scope has the fingerprint already, the moved one is left unclaimed there,
//! as Keygen lets the change make the repeat.

use super::{component_scope, machines::fingerprint_scope, License, PolicySnapshot};
use crate::{claims, ClaimOp, MachineId};
use serde::{Deserialize, Serialize};

/// Where one machine's claims were, and where they go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovedClaims {
    pub machine_id: MachineId,
    pub fingerprint: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Its components' fingerprints, and their scope before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    pub components_from: Option<String>,
    pub components_to: Option<String>,
}

impl MovedClaims {
    /// The claims given up in the old scopes and taken, where free, in the new.
    pub fn claims(&self) -> Vec<ClaimOp> {
        let mut ops = Vec::new();
        let mut moved = |from: &Option<String>, to: &Option<String>, values: &[&String]| {
            if from == to {
                return;
            }
            for value in values {
                let value = claims::digest(value);
                if let Some(scope) = from {
                    ops.push(ClaimOp::Release {
                        scope: scope.clone(),
                        value: value.clone(),
                    });
                }
                if let Some(scope) = to {
                    ops.push(ClaimOp::AddIfFree {
                        scope: scope.clone(),
                        value,
                    });
                }
            }
        };
        moved(&self.from, &self.to, &[&self.fingerprint]);
        let components: Vec<&String> = self.components.iter().collect();
        moved(&self.components_from, &self.components_to, &components);
        ops
    }
}

impl License {
    /// The claims of this license's machines that move when it changes to policy `to`.
    pub(super) fn moved_claims(&self, to: &PolicySnapshot) -> Vec<MovedClaims> {
        let under = License {
            product_id: to.product_id.clone(),
            policy_id: to.id.clone(),
            ..Default::default()
        };
        let strategies = &to.attributes;
        self.machines
            .iter()
            .filter_map(|m| {
                let moved = MovedClaims {
                    machine_id: m.id.clone(),
                    fingerprint: m.fingerprint.clone(),
                    from: m.claim.clone(),
                    to: fingerprint_scope(strategies.machine_uniqueness_strategy, &self.account_id, &under),
                    components: m.components.iter().map(|c| c.fingerprint.clone()).collect(),
                    components_from: m.component_claim.clone(),
                    components_to: component_scope(strategies.component_uniqueness_strategy, &self.account_id, &under),
                };
                (moved.from != moved.to || moved.components_from != moved.components_to).then_some(moved)
            })
            .collect()
    }

    /// The machines' claims as a policy change left them.
    pub(super) fn apply_moved_claims(&mut self, moved: &[MovedClaims]) {
        for moved in moved {
            if let Some(slot) = self.machines.iter_mut().find(|m| m.id == moved.machine_id) {
                slot.claim = moved.to.clone();
                slot.component_claim = moved.components_to.clone();
            }
        }
    }
}
