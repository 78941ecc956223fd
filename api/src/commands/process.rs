//! Process use cases: a process beats from its start; a ping (an observation) keeps it alive or
//! revives it as its policy allows (`process.heartbeat.resurrected`); the worker's sweep records
//! each death once (`process.heartbeat.dead`) and kills those the policy culls through their
//! license. Spawning and killing are commands on the license.

use super::heartbeat::{cull_at, cull_or_keep, may_revive, record_ping, settle, Dead, Ping};
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use aggregates::license::LicenseCommand;
use aggregates::machine::heartbeat;
use aggregates::process::ProcessCommand;
use aggregates::{ProcessId, Timestamp};
use chrono::Duration;
use projections::from_micros;
use projections::heartbeats::Beating;
use projections::processes::ProcessView;
use serde_json::json;
use std::collections::HashMap;

/// Pings a process: answers whether it was revived; a dead process its policy does not revive
/// is 422 `PROCESS_HEARTBEAT_DEAD`.
pub(crate) async fn ping(
    state: &AppState,
    view: &mut ProcessView,
    metadata: HashMap<String, String>,
) -> ApiResult<bool> {
    let policy = view.policy()?;
    let now = state.now();
    let last = Some(from_micros(view.last_heartbeat));
    let revived = match view.heartbeat(&policy, now) {
        heartbeat::Status::Dead if may_revive(&policy, last, true, now) => {
            let id = ProcessId::from(&view.row.id);
            let command = ProcessCommand::Resurrect { at: now };
            execute(&state.frameworks.process, &id, command, metadata.clone()).await?;
            true
        }
        heartbeat::Status::Dead => {
            return Err(ApiError::unprocessable(
                "PROCESS_HEARTBEAT_DEAD",
                "is dead",
                Some("/data".into()),
            ))
        }
        _ => false,
    };
    let ping = Ping {
        resource_type: "processes",
        account_id: &view.row.account_id,
        id: &view.row.id,
        payload: json!({ "machineId": view.row.machine_id }),
    };
    record_ping(state, ping, &policy, revived, metadata, now).await?;
    view.last_heartbeat = now.timestamp_micros();
    view.dead_at = None;
    Ok(revived)
}

/// Decides one claimed process heartbeat: a ping that raced the scan wins; else the process is
/// dead, and is killed now or when its revive window closes, or kept.
pub(crate) async fn decide(state: &AppState, account_id: &str, process_id: &str, now: Timestamp) -> ApiResult<()> {
    let Some(view) = projections::processes::find(&state.db, account_id, process_id).await? else {
        return Ok(()); // killed meanwhile: its heartbeat is gone with it
    };
    let policy = view.policy()?;
    let last = from_micros(view.last_heartbeat);
    if view.dead_at.is_none() && view.heartbeat(&policy, now) != heartbeat::Status::Dead {
        let deadline = last + Duration::seconds(heartbeat::duration(&policy));
        return settle(
            state,
            Beating::Processes,
            process_id,
            None,
            Some(deadline.timestamp_micros()),
        )
        .await;
    }
    let metadata = HashMap::from([("account_id".to_string(), account_id.to_string())]);
    if view.dead_at.is_none() {
        // Its death, once however many workers decide it (the aggregate keeps it to one a life).
        let command = ProcessCommand::Die { at: now };
        execute(
            &state.frameworks.process,
            &ProcessId::from(process_id),
            command,
            metadata.clone(),
        )
        .await?;
    }
    let cull = LicenseCommand::KillProcess {
        id: ProcessId::from(process_id),
        at: now,
    };
    let dead = Dead {
        beating: Beating::Processes,
        id: process_id,
        license_id: &view.row.license_id,
    };
    cull_or_keep(state, dead, cull, cull_at(&policy, Some(last), now), now, metadata).await
}
