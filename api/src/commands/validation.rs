//! The validation use case: validate a license against its policy and a scope, record the
//! observation (`lastValidated` and `license.validation.succeeded|failed`), and start an expiry
//! whose basis is the first validation — the one state change a validation can make.

use super::license::license_policy;
use crate::error::ApiResult;
use crate::state::{execute, AppState};
use aggregates::license::validation::{validate, LicenseFacts, MachineFact, MachineFacts, Outcome, Scope};
use aggregates::license::LicenseCommand;
use aggregates::policy::PolicyAttributes;
use aggregates::vocabulary::ExpirationBasis;
use aggregates::LicenseId;
use projections::entitlements::EntitlementSet;
use projections::from_micros;
use projections::licenses::LicenseRow;
use projections::writer::Observed;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What the request asked: the scope (and its echo) and the nonce.
#[derive(Default)]
pub(crate) struct ValidationRequest {
    pub scope: Option<Scope>,
    pub echo: Option<Value>,
    pub nonce: Option<i64>,
}

/// What a validation found: the license as the response shows it, the outcome, and when.
pub(crate) struct Validated {
    pub row: LicenseRow,
    pub outcome: Outcome,
    pub at: aggregates::Timestamp,
}

/// Whether a scope compares the license's machines one by one.
fn names_machines(scope: &Scope) -> bool {
    scope.machine.is_some() || scope.fingerprint.is_some() || scope.fingerprints.is_some() || scope.components.is_some()
}

/// The license's machines as validation compares them, with their heartbeat status at `now`.
async fn machine_facts(
    state: &AppState,
    row: &LicenseRow,
    policy: &PolicyAttributes,
    now: aggregates::Timestamp,
    with_components: bool,
    with_processes: bool,
) -> ApiResult<Vec<MachineFact>> {
    let machines = projections::machines::of_license(&state.db, &row.id).await?;
    let processes = match with_processes {
        true => projections::processes::counts_of_license(&state.db, &row.id).await?,
        false => Vec::new(),
    };
    let components = match with_components {
        true => projections::components::fingerprints_of_license(&state.db, &row.id).await?,
        false => Vec::new(),
    };
    Ok(machines
        .into_iter()
        .map(|m| MachineFact {
            heartbeat: m.heartbeat(policy, now),
            components: components
                .iter()
                .filter(|(machine, _)| *machine == m.row.id)
                .map(|(_, fingerprint)| fingerprint.clone())
                .collect(),
            processes: processes
                .iter()
                .find(|(machine, _)| *machine == m.row.id)
                .map_or(0, |(_, n)| *n),
            id: m.row.id,
            fingerprint: m.row.fingerprint,
        })
        .collect())
}

/// Validates `row` and records the observation; a quick validation (no scope) only touches
/// `lastValidated`.
pub(crate) async fn validate_license(
    state: &AppState,
    account_id: &str,
    metadata: HashMap<String, String>,
    row: LicenseRow,
    request: &ValidationRequest,
    quick: bool,
) -> ApiResult<Validated> {
    let at = state.now();
    let policy = row.policy()?;
    // A strict policy with a process limit counts the license's processes.
    let limits = row.limits()?.over(&policy.limits);
    let counts_processes = policy.strict && limits.max_processes.is_some();
    let facts = LicenseFacts {
        product_id: row.product_id.clone(),
        policy_id: row.policy_id.clone(),
        suspended: row.suspended != 0,
        expiry: row.expiry.map(from_micros),
        last_check_in: row.last_check_in.map(from_micros),
        // Only a scope naming entitlements needs them: the common validation skips the query.
        entitlement_codes: match request.scope.as_ref().and_then(|scope| scope.entitlements.as_ref()) {
            Some(_) if !quick => {
                let set = EntitlementSet::License {
                    license_id: &row.id,
                    policy_id: &row.policy_id,
                };
                projections::entitlements::codes(&state.db, account_id, set).await?
            }
            _ => Vec::new(),
        },
        limits,
        machines: MachineFacts {
            count: row.machines_count,
            cores: row.machines_cores,
            memory: row.machines_memory,
            disk: row.machines_disk,
            listed: match request.scope.as_ref() {
                Some(scope) if !quick && names_machines(scope) => {
                    machine_facts(state, &row, &policy, at, scope.components.is_some(), counts_processes).await?
                }
                _ if counts_processes && row.machines_count > 0 => {
                    machine_facts(state, &row, &policy, at, false, true).await?
                }
                _ => Vec::new(),
            },
        },
    };
    let no_scope = Scope::default();
    let scope = if quick {
        None
    } else {
        Some(request.scope.as_ref().unwrap_or(&no_scope))
    };
    let outcome = validate(&facts, &policy, scope, at);
    let pool = &state.db;
    let at_us = at.timestamp_micros();
    let mut row = row;
    // A quick validation moves `lastValidated` but is not logged.
    let event_type = match (quick, outcome.valid) {
        (true, _) => None,
        (false, true) => Some("license.validation.succeeded"),
        (false, false) => Some("license.validation.failed"),
    };
    let observed = Observed {
        account_id: account_id.to_string(),
        event_type,
        resource_type: "licenses",
        resource_id: row.id.clone(),
        payload: json!({ "valid": outcome.valid, "code": outcome.code, "detail": outcome.detail, "scope": request.echo, "nonce": request.nonce }),
        metadata: json!(metadata),
        at: at_us,
        deadline: None,
    };
    state.observations.record(observed).await?;
    if !quick
        && row.expiry.is_none()
        && policy.duration.is_some()
        && policy.expiration_basis == ExpirationBasis::FromFirstValidation
    {
        let snapshot = license_policy(&row)?;
        let command = LicenseCommand::StartExpiryOnValidation { policy: snapshot, at };
        execute(&state.frameworks.license, &LicenseId::from(&row.id), command, metadata).await?;
        row = projections::licenses::find(pool, account_id, &row.id)
            .await?
            .unwrap_or(row);
    }
    // The response shows this validation without reading the row again.
    row.last_validated = Some(at_us);
    Ok(Validated { row, outcome, at })
}
