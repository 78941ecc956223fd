//! How machine and process events of a license reach its row (the machine counts) and the rows
//! beside it (machines, their components, heartbeats and processes).

use super::{Beside, Row};
use crate::{micros, ProjectionError};
use aggregates::license::{LicenseEvent, MachineSlot};

/// The machine's sizes onto its license's totals, added (`sign` 1) or taken away (-1).
fn count_machine(row: &mut Row, machine: &MachineSlot, sign: i64) {
    row.machines_count += sign;
    row.machines_cores += sign * machine.cores.unwrap_or(0);
    row.machines_memory += sign * machine.memory.unwrap_or(0);
    row.machines_disk += sign * machine.disk.unwrap_or(0);
}

/// Folds a machine or process event (the next of its license) into `row` and `beside`; `at` is
/// the event's time (µs).
pub(super) fn fold(
    row: &mut Row,
    event: LicenseEvent,
    at: i64,
    beside: &mut Vec<Beside>,
) -> Result<(), ProjectionError> {
    match event {
        LicenseEvent::MachineActivated {
            machine,
            attributes,
            heartbeat_deadline,
            components,
            token,
            ..
        } => {
            count_machine(row, &machine, 1);
            if let Some(token) = token {
                beside.push(Beside::TokenUse {
                    column: "activations",
                    token,
                });
            }
            let machine_id = machine.id.to_string();
            let components = components
                .into_iter()
                .map(|c| crate::components::ComponentRow::created(&row.account_id, &row.id, &machine_id, c, at))
                .collect::<Result<Vec<_>, _>>()?;
            let machine = crate::machines::MachineRow::activated(
                row.account_id.clone(),
                row.id.clone(),
                machine,
                attributes,
                at,
            )?;
            beside.push(Beside::Activated(
                Box::new(machine),
                heartbeat_deadline.as_ref().map(micros),
            ));
            beside.push(Beside::Components(components));
        }
        LicenseEvent::ProcessSpawned {
            machine_id,
            process,
            metadata,
            heartbeat_deadline,
            ..
        } => {
            let process = crate::processes::ProcessRow {
                id: process.id.into_string(),
                account_id: row.account_id.clone(),
                license_id: row.id.clone(),
                machine_id: machine_id.into_string(),
                pid: process.pid,
                metadata: crate::json_text(&metadata)?,
                created_at: at,
                updated_at: at,
            };
            beside.push(Beside::Spawned(Box::new(process), micros(&heartbeat_deadline)));
        }
        LicenseEvent::ProcessUpdated {
            process_id, metadata, ..
        } => beside.push(Beside::ProcessUpdated {
            id: process_id.into_string(),
            metadata: crate::json_text(&metadata)?,
            at,
        }),
        LicenseEvent::ComponentAdded {
            machine_id, component, ..
        } => {
            let component =
                crate::components::ComponentRow::created(&row.account_id, &row.id, machine_id.as_str(), component, at)?;
            beside.push(Beside::Components(vec![component]));
        }
        LicenseEvent::ComponentUpdated {
            component_id,
            name,
            metadata,
            ..
        } => beside.push(Beside::ComponentUpdated {
            id: component_id.into_string(),
            name,
            metadata: crate::json_text(&metadata)?,
            at,
        }),
        LicenseEvent::ComponentRemoved { component, .. } => beside.push(Beside::ComponentRemoved {
            id: component.id.into_string(),
        }),
        LicenseEvent::ProcessKilled { process, .. } => beside.push(Beside::Killed {
            id: process.id.into_string(),
        }),
        LicenseEvent::MachineResized { from, to, .. } => {
            count_machine(row, &from, -1);
            count_machine(row, &to, 1);
            beside.push(Beside::Resized { machine: to, at });
        }
        LicenseEvent::MachineDeactivated { machine, token, .. } => {
            count_machine(row, &machine, -1);
            if let Some(token) = token {
                beside.push(Beside::TokenUse {
                    column: "deactivations",
                    token,
                });
            }
            beside.push(Beside::Deactivated {
                machine_id: machine.id.into_string(),
            });
        }
        _ => {}
    }
    Ok(())
}
