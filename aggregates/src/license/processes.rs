//! A license's processes: spawning and killing them are the license's decisions, because
//! `maxProcesses` counts per machine or across the license (`processLeasingStrategy`), and the
//! license holds every machine's processes. A process's heartbeat is operational state beside
//! it (pings are observations; a worker culls the dead).

use super::machines::{within_overage, ProcessSlot};
use super::{License, LicenseCommand, LicenseEvent};
use crate::policy::PolicyAttributes;
use crate::vocabulary::ProcessLeasingStrategy;
use crate::{DomainError, MachineId, ProcessId, Subject};

/// The largest pid Keygen takes (bytes).
const MAX_PID: usize = 4096;

impl License {
    /// Decides whether a process with `pid` may start on machine `machine_id` under `policy`.
    pub(super) fn spawn(
        &self,
        policy: &PolicyAttributes,
        machine_id: &MachineId,
        pid: &str,
    ) -> Result<(), DomainError> {
        let limits = self.current()?.limits.over(&policy.limits);
        let machine = self.slot(machine_id).map_err(|_| {
            DomainError::unprocessable(
                "MACHINE_NOT_FOUND",
                "must exist",
                Subject::Relationship("machine".into()),
            )
        })?;
        if pid.trim().is_empty() {
            return Err(DomainError::invalid("pid", "MISSING", "can't be blank"));
        }
        if pid.len() > MAX_PID {
            let detail = format!("is too long (maximum is {MAX_PID} characters)");
            return Err(DomainError::invalid("pid", "TOO_LONG", detail));
        }
        if crate::is_reserved_word(pid) {
            return Err(DomainError::invalid("pid", "NOT_ALLOWED", "is reserved"));
        }
        if machine.processes.iter().any(|p| p.pid == pid) {
            return Err(DomainError::invalid("pid", "TAKEN", "has already been taken"));
        }
        let Some(limit) = limits.max_processes else {
            return Ok(());
        };
        // Without license owners, PER_USER counts every machine as one owner's (the unowned).
        let (count, whose) = match policy.process_leasing_strategy {
            ProcessLeasingStrategy::PerMachine => (machine.processes.len(), "machine"),
            ProcessLeasingStrategy::PerLicense | ProcessLeasingStrategy::PerUser => {
                (self.machines.iter().map(|m| m.processes.len()).sum(), "license")
            }
        };
        if within_overage(policy.overage_strategy, count as i64 + 1, limit) {
            Ok(())
        } else {
            Err(DomainError::unprocessable(
                "MACHINE_PROCESS_LIMIT_EXCEEDED",
                format!("process count has exceeded maximum allowed for {whose} ({limit})"),
                Subject::Data,
            ))
        }
    }

    /// The machine of one of this license's processes, and the process.
    pub(super) fn process(&self, id: &ProcessId) -> Result<(MachineId, ProcessSlot), DomainError> {
        self.current()?;
        self.machines
            .iter()
            .find_map(|m| {
                m.processes
                    .iter()
                    .find(|p| &p.id == id)
                    .map(|p| (m.id.clone(), p.clone()))
            })
            .ok_or_else(DomainError::not_found)
    }
}

impl License {
    /// Decides a process command (spawn, update, kill) into its events.
    pub(super) fn decide_process(&self, command: LicenseCommand) -> Result<Vec<LicenseEvent>, DomainError> {
        Ok(match command {
            LicenseCommand::SpawnProcess {
                policy,
                machine_id,
                id,
                pid,
                metadata,
                at,
            } => {
                self.governed_by(&policy)?;
                self.spawn(&policy.attributes, &machine_id, &pid)?;
                crate::metadata::validate(&metadata)?;
                let duration = crate::machine::heartbeat::duration(&policy.attributes);
                vec![LicenseEvent::ProcessSpawned {
                    machine_id,
                    process: super::machines::ProcessSlot { id, pid },
                    metadata,
                    heartbeat_deadline: at + chrono::Duration::seconds(duration),
                    created_at: at,
                }]
            }
            LicenseCommand::UpdateProcess { id, metadata, at } => {
                self.process(&id)?;
                crate::metadata::validate(&metadata)?;
                vec![LicenseEvent::ProcessUpdated {
                    process_id: id,
                    metadata,
                    at,
                }]
            }
            LicenseCommand::KillProcess { id, at } => {
                let (machine_id, process) = self.process(&id)?;
                vec![LicenseEvent::ProcessKilled {
                    machine_id,
                    process,
                    at,
                }]
            }
            _ => Vec::new(),
        })
    }
}
