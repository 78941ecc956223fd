//! License and machine check-outs: the options a request gives (in its query or its `meta`), the
//! payload document (the resource and what it includes), the signed certificate, and the
//! `license.checked-out` / `machine.checked-out` observation each check-out records.

mod options;

pub(crate) use options::{CheckoutOptions, LICENSE_INCLUDES, MACHINE_INCLUDES};

use crate::auth::Auth;
use crate::crypto::certificate::{certificate, FileKind};
use crate::error::{ApiError, ApiResult};
use crate::jsonapi::timestamp;
use crate::resources::{
    certificate_file_resource, component_resource, entitlement_resource, license_resource, machine_resource,
    policy_resource, product_resource, CheckedOutFile,
};
use crate::state::AppState;
use projections::entitlements::EntitlementSet;
use projections::licenses::LicenseRow;
use projections::machines::MachineView;
use projections::writer::Observed;
use serde_json::{json, Value};

/// A file made by a check-out: its resource, and the certificate alone (the GET's body).
pub(crate) struct CheckedOut {
    pub id: String,
    pub certificate: String,
    pub resource: Value,
}

/// Resources without repeats, in the order first added.
#[derive(Default)]
struct Included(Vec<Value>);

impl Included {
    fn add(&mut self, resource: Value) {
        let same = |r: &Value| r["type"] == resource["type"] && r["id"] == resource["id"];
        if !self.0.iter().any(same) {
            self.0.push(resource);
        }
    }
}

/// Adds what `names` ask for of a license (entitlements, product, policy); relationships this
/// server does not model (environment, group, owner, users) include nothing.
async fn include_of_license(
    state: &AppState,
    license: &LicenseRow,
    names: impl Iterator<Item = &str>,
    included: &mut Included,
) -> ApiResult<()> {
    let account_id = &license.account_id;
    for name in names {
        match name {
            "entitlements" => {
                let set = EntitlementSet::License {
                    license_id: &license.id,
                    policy_id: &license.policy_id,
                };
                for row in projections::entitlements::all(&state.db, account_id, set).await? {
                    included.add(entitlement_resource(&row));
                }
            }
            "product" => {
                if let Some(row) = projections::products::find(&state.db, account_id, &license.product_id).await? {
                    included.add(product_resource(&row));
                }
            }
            "policy" => {
                if let Some(row) = projections::policies::find_any(&state.db, account_id, &license.policy_id).await? {
                    included.add(policy_resource(&row)?);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The file's payload: the resource, what it includes (left out when nothing), and `meta`.
fn payload(data: Value, included: Included, issued: i64, expiry: Option<i64>, ttl: Option<i64>) -> Vec<u8> {
    let mut doc = json!({ "data": data });
    if !included.0.is_empty() {
        doc["included"] = Value::Array(included.0);
    }
    doc["meta"] = json!({
        "issued": timestamp(issued),
        "expiry": expiry.map(timestamp),
        "ttl": ttl,
    });
    serde_json::to_vec(&doc).expect("JSON documents serialize")
}

/// What a check-out of either kind is made of.
struct Checkout<'a> {
    kind: FileKind,
    license: &'a LicenseRow,
    machine_id: Option<&'a str>,
    /// The AES key's source: the license key, plus the fingerprint for a machine file.
    secret: String,
    data: Value,
    included: Included,
}

/// Signs the file, records its observation and answers it.
async fn finish(
    state: &AppState,
    auth: &Auth,
    options: &CheckoutOptions,
    checkout: Checkout<'_>,
) -> ApiResult<CheckedOut> {
    let now = state.now();
    let issued = now.timestamp_micros();
    let expiry = match options.ttl {
        // Past the last expiry the API can print: the ttl is what is wrong.
        Some(ttl) => Some(
            aggregates::license::expiry::advance(now, ttl)
                .map_err(|_| options::ttl_too_long())?
                .timestamp_micros(),
        ),
        None => None,
    };
    let policy = checkout.license.policy()?;
    let algorithm = options.algorithm(policy.scheme.as_deref());
    let document = payload(checkout.data, checkout.included, issued, expiry, options.ttl);
    let certificate = certificate(
        checkout.kind,
        &document,
        algorithm,
        &checkout.secret,
        &auth.account.keys,
    )
    .map_err(ApiError::internal)?;
    let id = uuid::Uuid::new_v4().to_string();
    let (event_type, resource_type, resource_id) = match checkout.machine_id {
        Some(machine_id) => ("machine.checked-out", "machines", machine_id),
        None => ("license.checked-out", "licenses", checkout.license.id.as_str()),
    };
    let observed = Observed {
        account_id: auth.account.row.id.clone(),
        event_type: Some(event_type),
        resource_type,
        resource_id: resource_id.to_string(),
        payload: json!({ "algorithm": algorithm.name(), "ttl": options.ttl, "includes": options.include }),
        metadata: json!(auth.metadata()),
        at: issued,
        deadline: None,
    };
    state.observations.record(observed).await?;
    let resource = certificate_file_resource(&CheckedOutFile {
        id: &id,
        account_id: &auth.account.row.id,
        license_id: &checkout.license.id,
        machine_id: checkout.machine_id,
        certificate: &certificate,
        algorithm: &algorithm.name(),
        includes: &options.include,
        ttl: options.ttl,
        issued,
        expiry,
    });
    Ok(CheckedOut {
        id,
        certificate,
        resource,
    })
}

/// Checks out a license file of `license` (already checked visible).
pub(crate) async fn license_file(
    state: &AppState,
    auth: &Auth,
    license: &LicenseRow,
    options: &CheckoutOptions,
) -> ApiResult<CheckedOut> {
    let mut included = Included::default();
    let names = options.include.iter().map(String::as_str);
    include_of_license(state, license, names, &mut included).await?;
    let checkout = Checkout {
        kind: FileKind::License,
        license,
        machine_id: None,
        secret: license.key.clone(),
        data: license_resource(license, state.now())?,
        included,
    };
    finish(state, auth, options, checkout).await
}

/// Checks out a machine file of `machine` (already checked visible).
pub(crate) async fn machine_file(
    state: &AppState,
    auth: &Auth,
    machine: &MachineView,
    options: &CheckoutOptions,
) -> ApiResult<CheckedOut> {
    let account_id = &auth.account.row.id;
    let license = projections::licenses::find(&state.db, account_id, &machine.row.license_id)
        .await?
        .ok_or_else(|| ApiError::not_found("license", &machine.row.license_id))?;
    let mut included = Included::default();
    if options.include.iter().any(|i| i.starts_with("license")) {
        included.add(license_resource(&license, state.now())?);
    }
    let of_license = options.include.iter().filter_map(|i| i.strip_prefix("license."));
    include_of_license(state, &license, of_license, &mut included).await?;
    if options.include.iter().any(|i| i == "components") {
        let filter = projections::components::ComponentFilter {
            machine: Some(machine.row.id.clone()),
            ..Default::default()
        };
        for row in projections::components::list(&state.db, account_id, &filter, projections::PageRequest::everything())
            .await?
            .items
        {
            included.add(component_resource(&row)?);
        }
    }
    let checkout = Checkout {
        kind: FileKind::Machine,
        license: &license,
        machine_id: Some(&machine.row.id),
        secret: format!("{}{}", license.key, machine.row.fingerprint),
        data: machine_resource(machine, state.now())?,
        included,
    };
    finish(state, auth, options, checkout).await
}
