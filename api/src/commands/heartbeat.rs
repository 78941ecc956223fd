//! Machine heartbeats: a ping (an observation that moves the machine's deadline, and an event
//! only when it starts or revives the heartbeat), a reset, and the worker's sweep that finds
//! machines whose deadline passed, records each death once and deactivates the dead a policy
//! culls. The deadline lives in `machine_heartbeats` (operational state, not rebuilt).

use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState};
use aggregates::license::LicenseCommand;
use aggregates::machine::heartbeat::{self, Status};
use aggregates::machine::MachineCommand;
use aggregates::policy::PolicyAttributes;
use aggregates::vocabulary::{HeartbeatCullStrategy, HeartbeatResurrectionStrategy};
use aggregates::{LicenseId, MachineId, Timestamp};
use chrono::Duration;
use projections::heartbeats::Beating;
use projections::machines::MachineView;
use projections::writer::Observed;
use serde_json::json;
use std::collections::HashMap;

/// How long a dead machine may still be revived by a ping under `strategy` (`None`: never;
/// `ALWAYS_REVIVE` is unbounded and never culled).
fn revive_window(strategy: HeartbeatResurrectionStrategy) -> Option<Duration> {
    use HeartbeatResurrectionStrategy::*;
    match strategy {
        AlwaysRevive => Some(Duration::MAX),
        Revive15Minutes => Some(Duration::minutes(15)),
        Revive10Minutes => Some(Duration::minutes(10)),
        Revive5Minutes => Some(Duration::minutes(5)),
        Revive2Minutes => Some(Duration::minutes(2)),
        Revive1Minute => Some(Duration::minutes(1)),
        NoRevive => None,
    }
}

/// Whether a ping at `now` may revive something dead whose last heartbeat was `last`: the
/// policy revives, and within its window after the missed heartbeat (what never pinged has no
/// window, except under `ALWAYS_REVIVE`).
pub(crate) fn may_revive(policy: &PolicyAttributes, last: Option<Timestamp>, pinged: bool, now: Timestamp) -> bool {
    let strategy = policy.heartbeat_resurrection_strategy;
    match revive_window(strategy) {
        None => false,
        Some(_) if strategy == HeartbeatResurrectionStrategy::AlwaysRevive => true,
        Some(_) if !pinged => false,
        Some(window) => last.is_some_and(|last| now <= last + Duration::seconds(heartbeat::duration(policy)) + window),
    }
}

/// When something found dead at `now` is culled under its policy: now, when its revive window
/// closes, or never (`None`: the policy keeps the dead, or revives them always).
pub(crate) fn cull_at(policy: &PolicyAttributes, last: Option<Timestamp>, now: Timestamp) -> Option<Timestamp> {
    match (
        policy.heartbeat_cull_strategy,
        revive_window(policy.heartbeat_resurrection_strategy),
    ) {
        (HeartbeatCullStrategy::KeepDead, _) | (_, Some(Duration::MAX)) => None,
        (HeartbeatCullStrategy::DeactivateDead, None) => Some(now),
        (HeartbeatCullStrategy::DeactivateDead, Some(window)) => Some(
            last.map(|last| last + Duration::seconds(heartbeat::duration(policy)) + window)
                .unwrap_or(now),
        ),
    }
}

/// Pings a machine: starts, keeps or revives its heartbeat. Answers whether it was revived; a
/// dead machine its policy does not revive is 422 `MACHINE_HEARTBEAT_DEAD`.
pub(crate) async fn ping(
    state: &AppState,
    view: &mut MachineView,
    metadata: HashMap<String, String>,
) -> ApiResult<bool> {
    let policy = view.policy()?;
    let now = state.now();
    let id = MachineId::from(&view.row.id);
    let revived = match view.heartbeat(&policy, now) {
        Status::Dead if may_revive(&policy, view.last_heartbeat(&policy), view.last_ping.is_some(), now) => {
            execute(
                &state.frameworks.machine,
                &id,
                MachineCommand::Resurrect { at: now },
                metadata.clone(),
            )
            .await?;
            true
        }
        Status::Dead => {
            return Err(ApiError::unprocessable(
                "MACHINE_HEARTBEAT_DEAD",
                "is dead",
                Some("/data".into()),
            ))
        }
        // A ping while alive after an earlier ping is no transition: only the observation.
        // (The ping that set `last_ping` committed the start of this life before it; a reset
        // clears `last_ping`.)
        Status::Alive if view.last_ping.is_some() => false,
        _ => {
            execute(
                &state.frameworks.machine,
                &id,
                MachineCommand::Ping { at: now },
                metadata.clone(),
            )
            .await?;
            false
        }
    };
    let ping = Ping {
        resource_type: "machines",
        account_id: &view.row.account_id,
        id: &view.row.id,
        payload: json!({ "licenseId": view.row.license_id }),
    };
    record_ping(state, ping, &policy, revived, metadata, now).await?;
    // The answer shows this ping without reading the machine again.
    view.last_ping = Some(now.timestamp_micros());
    view.dead_at = None;
    Ok(revived)
}

/// What a ping is about: a machine or a process (`resource_type`), and what its log entry says.
pub(crate) struct Ping<'a> {
    pub resource_type: &'static str,
    pub account_id: &'a str,
    pub id: &'a str,
    pub payload: serde_json::Value,
}

/// Records a ping (`revived`: one that brought it back to life) through the observation writer:
/// the log entry, and a deadline one heartbeat duration from `now`.
pub(crate) async fn record_ping(
    state: &AppState,
    ping: Ping<'_>,
    policy: &PolicyAttributes,
    revived: bool,
    metadata: HashMap<String, String>,
    now: Timestamp,
) -> ApiResult<()> {
    let event_type = match (ping.resource_type, revived) {
        ("machines", false) => "machine.heartbeat.ping",
        ("machines", true) => "machine.heartbeat.resurrected",
        (_, false) => "process.heartbeat.ping",
        (_, true) => "process.heartbeat.resurrected",
    };
    let deadline = now + Duration::seconds(heartbeat::duration(policy));
    let observed = Observed {
        account_id: ping.account_id.to_string(),
        event_type: Some(event_type),
        resource_type: ping.resource_type,
        resource_id: ping.id.to_string(),
        payload: ping.payload,
        metadata: json!(metadata),
        at: now.timestamp_micros(),
        deadline: Some(deadline.timestamp_micros()),
    };
    Ok(state.observations.record(observed).await?)
}

/// Resets a machine's heartbeat: it has not started again, or is dead at once when its policy
/// requires heartbeats and one duration has passed since its creation.
pub(crate) async fn reset(state: &AppState, view: &MachineView, metadata: HashMap<String, String>) -> ApiResult<()> {
    let policy = view.policy()?;
    let now = state.now();
    let id = MachineId::from(&view.row.id);
    execute(
        &state.frameworks.machine,
        &id,
        MachineCommand::Reset { at: now },
        metadata,
    )
    .await?;
    let created = projections::from_micros(view.row.created_at);
    let deadline = heartbeat::first_deadline(&policy, created).map(|t| t.timestamp_micros());
    projections::heartbeats::reset(&state.db, &view.row.id, deadline).await?;
    Ok(())
}

/// How long a worker holds a claimed heartbeat while it decides.
const CLAIM: Duration = Duration::seconds(60);

/// Claims up to `limit` heartbeats due at `now` for [`CLAIM`].
async fn claim_due(state: &AppState, beating: Beating, now: i64, limit: i64) -> ApiResult<Vec<(String, String)>> {
    let until = now + CLAIM.num_microseconds().unwrap_or(i64::MAX);
    Ok(projections::heartbeats::claim_due(&state.db, beating, now, until, limit).await?)
}

pub(crate) async fn settle(
    state: &AppState,
    beating: Beating,
    id: &str,
    dead_at: Option<i64>,
    deadline: Option<i64>,
) -> ApiResult<()> {
    Ok(projections::heartbeats::settle(&state.db, beating, id, dead_at, deadline).await?)
}

/// Decides one claimed heartbeat: a ping that raced the scan wins (the row is re-read); else the
/// machine dies once, and is deactivated now or when its revive window closes, or kept.
async fn decide(state: &AppState, account_id: &str, machine_id: &str, now: Timestamp) -> ApiResult<()> {
    let Some(view) = projections::machines::find(&state.db, account_id, machine_id).await? else {
        return Ok(()); // deactivated meanwhile: its row is gone with it
    };
    let policy = view.policy()?;
    let metadata = HashMap::from([("account_id".to_string(), account_id.to_string())]);
    if view.dead_at.is_none() {
        if view.heartbeat(&policy, now) != Status::Dead {
            // Pinged (or reset) since the scan: its deadline moved.
            let deadline = view
                .last_heartbeat(&policy)
                .map(|t| t + Duration::seconds(heartbeat::duration(&policy)));
            return settle(
                state,
                Beating::Machines,
                machine_id,
                None,
                deadline.map(|t| t.timestamp_micros()),
            )
            .await;
        }
        let id = MachineId::from(machine_id);
        execute(
            &state.frameworks.machine,
            &id,
            MachineCommand::Die { at: now },
            metadata.clone(),
        )
        .await?;
    }
    let cull = LicenseCommand::DeactivateMachine {
        machine_id: MachineId::from(machine_id),
        token: None,
        at: now,
    };
    let at = cull_at(&policy, view.last_heartbeat(&policy), now);
    let dead = Dead {
        beating: Beating::Machines,
        id: machine_id,
        license_id: &view.row.license_id,
    };
    cull_or_keep(state, dead, cull, at, now, metadata).await
}

/// Something found dead by a sweep: a machine or a process, and its license.
pub(crate) struct Dead<'a> {
    pub beating: Beating,
    pub id: &'a str,
    pub license_id: &'a str,
}

/// After a death: `cull` (its license's command removing it) runs when the policy culls it now
/// (gone meanwhile is as good); else it stays dead, looked at again when its revive window
/// closes (`cull_at`) or never.
pub(crate) async fn cull_or_keep(
    state: &AppState,
    dead: Dead<'_>,
    cull: LicenseCommand,
    cull_at: Option<Timestamp>,
    now: Timestamp,
    metadata: HashMap<String, String>,
) -> ApiResult<()> {
    match cull_at {
        Some(at) if at <= now => {
            let license = LicenseId::from(dead.license_id);
            match execute(&state.frameworks.license, &license, cull, metadata).await {
                Err(err) if err.status == axum::http::StatusCode::NOT_FOUND => Ok(()),
                other => other,
            }
        }
        later => {
            let dead_at = Some(now.timestamp_micros());
            settle(
                state,
                dead.beating,
                dead.id,
                dead_at,
                later.map(|t| t.timestamp_micros()),
            )
            .await
        }
    }
}

/// One sweep: every machine and process heartbeat due now is decided. Answers how many were.
pub async fn sweep(state: &AppState) -> ApiResult<usize> {
    let mut decided = 0;
    for beating in [Beating::Machines, Beating::Processes] {
        loop {
            let now = state.now();
            let claimed = claim_due(state, beating, now.timestamp_micros(), 100).await?;
            if claimed.is_empty() {
                break;
            }
            for (id, account_id) in &claimed {
                let result = match beating {
                    Beating::Machines => decide(state, account_id, id, now).await,
                    Beating::Processes => super::process::decide(state, account_id, id, now).await,
                };
                if let Err(err) = result {
                    tracing::error!(id, error = %err.error.detail, "heartbeat decision failed; will retry");
                }
                decided += 1;
            }
        }
    }
    Ok(decided)
}

/// Sweeps every `interval` until `shutdown` turns true.
pub async fn run(state: AppState, interval: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(err) = sweep(&state).await {
            tracing::error!(error = %err.error.detail, "heartbeat sweep failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => break,
        }
    }
}
