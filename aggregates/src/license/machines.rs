//! A license's machine slots: activation and deactivation are the license's decisions (DESIGN
//! D3), because the limits they obey — `maxMachines`, `maxCores`, `maxMemory`, `maxDisk` and
//! per-license fingerprint uniqueness — are facts of all the license's machines together. The
//! license holds each active machine's id, fingerprint and sizes; the machine's own attributes
//! travel in the activation event for the machine's read model.
//!
//! Fingerprints unique wider than one license (per policy, product or account) are claims the
//! activation event makes, in the scope its policy named when it was decided.

pub use super::components::{check_components, component_scope, ComponentSlot, NewComponent, MAX_INLINE_COMPONENTS};
use super::tokens::Count;
use super::{License, LicenseCommand, LicenseEvent};
use crate::policy::PolicyAttributes;
use crate::vocabulary::{OverageStrategy, UniquenessStrategy};
use crate::{AccountId, DomainError, MachineId, Subject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the license keeps of each of its active machines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineSlot {
    pub id: MachineId,
    pub fingerprint: String,
    pub cores: Option<i64>,
    pub memory: Option<i64>,
    pub disk: Option<i64>,
    /// The scope its fingerprint is claimed in beyond the license (per policy, product or
    /// account), as decided at activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Its components' fingerprints (unique on the machine), and the scope they are claimed in
    /// beyond it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentSlot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_claim: Option<String>,
    /// Its running processes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessSlot>,
}

/// What the license keeps of a machine's process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSlot {
    pub id: crate::ProcessId,
    pub pid: String,
}

/// The attributes of a machine that are its own (the license does not decide on them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineAttributes {
    pub name: Option<String>,
    pub ip: Option<String>,
    pub hostname: Option<String>,
    pub platform: Option<String>,
    pub metadata: Map<String, Value>,
}

impl MachineAttributes {
    /// These attributes with `changes` (snake_case keys) laid over them.
    pub fn merged(&self, changes: &Map<String, Value>) -> Result<Self, DomainError> {
        crate::merge_attributes(self, changes, "machine")
    }

    /// Keygen's rules: names and the like at most 255 bytes, metadata within its limits.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (attribute, value) in [
            ("name", &self.name),
            ("ip", &self.ip),
            ("hostname", &self.hostname),
            ("platform", &self.platform),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 255) {
                return Err(DomainError::invalid(
                    attribute,
                    "TOO_LONG",
                    "is too long (maximum is 255 characters)",
                ));
            }
        }
        crate::metadata::validate(&self.metadata)
    }
}

/// A machine asking to be activated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMachine {
    pub slot: MachineSlot,
    pub attributes: MachineAttributes,
    /// Components created with it.
    pub components: Vec<NewComponent>,
}

/// The largest fingerprint Keygen takes (bytes).
pub(super) const MAX_FINGERPRINT: usize = 4096;

/// Keygen's overage rule: whether `count` may stand against `limit` under `strategy`.
pub fn within_overage(strategy: OverageStrategy, count: i64, limit: i64) -> bool {
    // Compared in quarters so 1.25× and 1.5× need no floating point.
    let (count4, limit4) = (count * 4, limit * 4);
    count <= limit
        || match strategy {
            OverageStrategy::AlwaysAllow => true,
            OverageStrategy::Allow125x => count4 <= limit * 5,
            OverageStrategy::Allow15x => count4 <= limit4 + limit * 2,
            OverageStrategy::Allow2x => count <= limit * 2,
            OverageStrategy::NoOverage => false,
        }
}

/// The claim scope of a fingerprint under `strategy`, when it is wider than the license.
pub fn fingerprint_scope(strategy: UniquenessStrategy, account: &AccountId, license: &License) -> Option<String> {
    match strategy {
        UniquenessStrategy::UniquePerAccount => Some(format!("machine.fingerprint:account:{account}")),
        UniquenessStrategy::UniquePerProduct => Some(format!("machine.fingerprint:product:{}", license.product_id)),
        UniquenessStrategy::UniquePerPolicy => Some(format!("machine.fingerprint:policy:{}", license.policy_id)),
        UniquenessStrategy::UniquePerLicense | UniquenessStrategy::UniquePerMachine => None,
    }
}

/// The detail Keygen gives a fingerprint taken in a claim `scope` of [`fingerprint_scope`].
pub fn fingerprint_taken_in(scope: &str) -> &'static str {
    let strategy = match scope.split(':').nth(1) {
        Some("account") => UniquenessStrategy::UniquePerAccount,
        Some("product") => UniquenessStrategy::UniquePerProduct,
        Some("policy") => UniquenessStrategy::UniquePerPolicy,
        _ => UniquenessStrategy::UniquePerLicense,
    };
    fingerprint_taken_detail(strategy)
}

/// The detail Keygen gives a fingerprint taken within `strategy`'s scope.
pub fn fingerprint_taken_detail(strategy: UniquenessStrategy) -> &'static str {
    match strategy {
        UniquenessStrategy::UniquePerAccount => "has already been taken for this account",
        UniquenessStrategy::UniquePerProduct => "has already been taken for this product",
        UniquenessStrategy::UniquePerPolicy => "has already been taken for this policy",
        UniquenessStrategy::UniquePerLicense | UniquenessStrategy::UniquePerMachine => "has already been taken",
    }
}

fn check_fingerprint(fingerprint: &str) -> Result<(), DomainError> {
    if fingerprint.trim().is_empty() {
        return Err(DomainError::invalid("fingerprint", "MISSING", "can't be blank"));
    }
    if fingerprint.len() > MAX_FINGERPRINT {
        return Err(DomainError::invalid(
            "fingerprint",
            "TOO_LONG",
            format!("is too long (maximum is {MAX_FINGERPRINT} characters)"),
        ));
    }
    if crate::is_reserved_word(fingerprint) {
        return Err(DomainError::invalid("fingerprint", "NOT_ALLOWED", "is reserved"));
    }
    Ok(())
}

fn check_sizes(slot: &MachineSlot) -> Result<(), DomainError> {
    for (attribute, value, max) in [
        ("cores", slot.cores, i64::from(i32::MAX)),
        ("memory", slot.memory, i64::MAX),
        ("disk", slot.disk, i64::MAX),
    ] {
        match value {
            Some(n) if n < 1 => {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    "must be greater than or equal to 1",
                ))
            }
            Some(n) if n > max => {
                return Err(DomainError::invalid(
                    attribute,
                    "INVALID",
                    format!("must be less than or equal to {max}"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A total of the machines' sizes (`what`) over the limit: Keygen's error for it.
fn size_limit_exceeded(code: &str, what: &str, limit: i64) -> DomainError {
    DomainError::unprocessable(
        code,
        format!("machine {what} count has exceeded maximum allowed for license ({limit})"),
        Subject::Data,
    )
}

impl License {
    /// The limits in force on this license's machines under `policy`.
    fn machine_limits(&self, policy: &PolicyAttributes) -> Result<super::LicenseLimits, DomainError> {
        Ok(self.current()?.limits.over(&policy.limits))
    }

    /// Decides whether `machine` may join this license's machines, as Keygen decides it.
    pub(super) fn activate(
        &self,
        policy: &PolicyAttributes,
        machine: &NewMachine,
    ) -> Result<Option<String>, DomainError> {
        let limits = self.machine_limits(policy)?;
        let slot = &machine.slot;
        check_fingerprint(&slot.fingerprint)?;
        check_sizes(slot)?;
        machine.attributes.validate()?;
        if machine.components.len() > MAX_INLINE_COMPONENTS {
            return Err(DomainError::unprocessable(
                "COMPONENTS_TOO_MANY",
                format!("too many components (maximum is {MAX_INLINE_COMPONENTS})"),
                Subject::Pointer("/data/relationships/components/data".into()),
            ));
        }
        let taken = self.components_beside(policy.component_uniqueness_strategy, None);
        check_components(&machine.components, &taken, |i| {
            format!("/data/relationships/components/data/{i}")
        })?;
        if self.machines.iter().any(|m| m.id == slot.id) {
            return Err(DomainError::already_exists());
        }
        if self.machines.iter().any(|m| m.fingerprint == slot.fingerprint) {
            return Err(DomainError::invalid(
                "fingerprint",
                "TAKEN",
                // Keygen names the widest scope the fingerprint had to be unique in.
                fingerprint_taken_detail(policy.machine_uniqueness_strategy),
            ));
        }
        let overage = policy.overage_strategy;
        // The first machine is always allowed; node-locked policies hold maxMachines at 1.
        if let Some(limit) = limits.max_machines {
            let next = self.machines.len() as i64 + 1;
            if !self.machines.is_empty() && !within_overage(overage, next, limit) {
                return Err(DomainError::unprocessable(
                    "MACHINE_LIMIT_EXCEEDED",
                    format!("machine count has exceeded maximum allowed for license ({limit})"),
                    Subject::Data,
                ));
            }
        }
        self.check_sizes_beside(&limits, overage, slot)?;
        Ok(fingerprint_scope(
            policy.machine_uniqueness_strategy,
            &self.account_id,
            self,
        ))
    }

    /// The machines' cores, memory and disk, with `slot` beside the other machines (a new one, or
    /// one resized), against the limits in force and the overage allowed.
    fn check_sizes_beside(
        &self,
        limits: &super::LicenseLimits,
        overage: OverageStrategy,
        slot: &MachineSlot,
    ) -> Result<(), DomainError> {
        type Size = fn(&MachineSlot) -> Option<i64>;
        let sizes: [(Option<i64>, Size, &str, &str); 3] = [
            (limits.max_cores, |m| m.cores, "MACHINE_CORE_LIMIT_EXCEEDED", "core"),
            (
                limits.max_memory,
                |m| m.memory,
                "MACHINE_MEMORY_LIMIT_EXCEEDED",
                "memory",
            ),
            (limits.max_disk, |m| m.disk, "MACHINE_DISK_LIMIT_EXCEEDED", "disk"),
        ];
        for (limit, of, code, what) in sizes {
            let Some(limit) = limit else { continue };
            let others: i64 = self.machines.iter().filter(|m| m.id != slot.id).filter_map(of).sum();
            if !within_overage(overage, others + of(slot).unwrap_or(0), limit) {
                return Err(size_limit_exceeded(code, what, limit));
            }
        }
        Ok(())
    }

    /// Decides new sizes (`cores`, `memory`, `disk`) for one of this license's machines; answers
    /// the machine as it was.
    pub(super) fn resize(&self, policy: &PolicyAttributes, to: &MachineSlot) -> Result<MachineSlot, DomainError> {
        let limits = self.machine_limits(policy)?;
        let from = self.slot(&to.id)?.clone();
        check_sizes(to)?;
        self.check_sizes_beside(&limits, policy.overage_strategy, to)?;
        Ok(from)
    }

    /// The slot of an active machine of this license.
    pub(super) fn slot(&self, id: &MachineId) -> Result<&MachineSlot, DomainError> {
        self.current()?;
        self.machines
            .iter()
            .find(|m| &m.id == id)
            .ok_or_else(DomainError::not_found)
    }

    pub(super) fn apply_machine(&mut self, event: &LicenseEvent) {
        match event {
            LicenseEvent::MachineActivated { machine, token, .. } => {
                self.machines.push(machine.clone());
                self.count_token(token, Count::Activations);
            }
            LicenseEvent::MachineDeactivated { machine, token, .. } => {
                self.machines.retain(|m| m.id != machine.id);
                self.count_token(token, Count::Deactivations);
            }
            LicenseEvent::ProcessSpawned {
                machine_id, process, ..
            } => {
                if let Some(machine) = self.machines.iter_mut().find(|m| &m.id == machine_id) {
                    machine.processes.push(process.clone());
                }
            }
            LicenseEvent::ProcessKilled {
                machine_id, process, ..
            } => {
                if let Some(machine) = self.machines.iter_mut().find(|m| &m.id == machine_id) {
                    machine.processes.retain(|p| p.id != process.id);
                }
            }
            LicenseEvent::MachineResized { to, .. } => {
                if let Some(slot) = self.machines.iter_mut().find(|m| m.id == to.id) {
                    *slot = to.clone();
                }
            }
            _ => {}
        }
    }
}

impl License {
    /// Decides a machine command (activate, resize, deactivate) into its events.
    pub(super) fn decide_machine(&self, command: LicenseCommand) -> Result<Vec<LicenseEvent>, DomainError> {
        Ok(match command {
            LicenseCommand::ActivateMachine {
                policy,
                machine,
                token,
                at,
            } => {
                self.governed_by(&policy)?;
                let token = self.use_token(token.as_ref(), Count::Activations)?;
                let claim = self.activate(&policy.attributes, &machine)?;
                let current = self.current()?.clone();
                let strategy = policy.attributes.component_uniqueness_strategy;
                let components = machine
                    .components
                    .iter()
                    .map(|c| super::machines::ComponentSlot {
                        id: c.id.clone(),
                        fingerprint: c.fingerprint.clone(),
                    })
                    .collect();
                let mut events = vec![LicenseEvent::MachineActivated {
                    machine: super::MachineSlot {
                        claim,
                        components,
                        component_claim: super::machines::component_scope(strategy, &self.account_id, self),
                        ..machine.slot
                    },
                    attributes: machine.attributes,
                    components: machine.components,
                    token,
                    heartbeat_deadline: crate::machine::heartbeat::first_deadline(&policy.attributes, at),
                    created_at: at,
                }];
                // The first activation starts the clock of a policy whose basis it is.
                let basis = crate::vocabulary::ExpirationBasis::FromFirstActivation;
                events.extend(super::handling::start_expiry(&current, &policy.attributes, basis, at)?);
                events
            }
            LicenseCommand::ResizeMachine { policy, machine, at } => {
                self.governed_by(&policy)?;
                let from = self.resize(&policy.attributes, &machine)?;
                let to = MachineSlot {
                    fingerprint: from.fingerprint.clone(),
                    claim: from.claim.clone(),
                    ..machine
                };
                vec![LicenseEvent::MachineResized { from, to, at }]
            }
            LicenseCommand::DeactivateMachine { machine_id, token, at } => {
                let machine = self.slot(&machine_id)?.clone();
                let token = self.use_token(token.as_ref(), Count::Deactivations)?;
                vec![LicenseEvent::MachineDeactivated { machine, token, at }]
            }
            _ => Vec::new(),
        })
    }
}
