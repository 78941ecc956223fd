//! Machines: activate (create), retrieve by id or fingerprint, deactivate (delete), list with
//! Keygen's filters, and a license's machines. Activation and deactivation are commands on the
//! license, which decides on its limits.

use crate::access::license::visible_license;
use crate::access::machine::{activation_token, limit_to_visible, may_activate, visible_machine};
use crate::commands::license::{license_policy, run};
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{metadata_filters, related_not_found, required_relationship, Call, ListPage, ResourceId};
use crate::jsonapi::type_name;
use crate::jsonapi::JsonApiBody;
use crate::render::{created, paged, single};
use crate::resources::{account_path, machine_resource, machine_resource_as};
use crate::state::{execute, AppState};
use aggregates::license::machines::fingerprint_taken_detail;
use aggregates::license::machines::NewComponent;
use aggregates::license::{LicenseCommand, MachineAttributes, MachineSlot, NewMachine};
use aggregates::machine::MachineCommand;
use aggregates::vocabulary::UniquenessStrategy;
use aggregates::ComponentId;
use aggregates::MachineId;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use projections::licenses::LicenseRow;
use projections::machines::MachineFilter;
use projections::PageRequest;
use serde_json::{Map, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/machines", get(index).post(create))
        .route("/machines/{id}", get(show).patch(update).delete(destroy))
        .route("/licenses/{id}/machines", get(license_machines))
        .route("/machines/{id}/actions/ping", post(ping))
        .route("/machines/{id}/actions/ping-heartbeat", post(ping))
        .route("/machines/{id}/actions/reset", post(reset))
        .route("/machines/{id}/actions/reset-heartbeat", post(reset))
}

/// A machine with `fingerprint` already in the scope `strategy` names beyond `license`, as the
/// read model shows it. Claims hold the scope under concurrent activations of one strategy; this
/// finds a machine activated under another policy's narrower strategy, as Keygen's check does.
async fn taken_beyond(
    state: &AppState,
    license: &LicenseRow,
    strategy: UniquenessStrategy,
    fingerprint: &str,
) -> ApiResult<bool> {
    let mut filter = MachineFilter {
        fingerprint: Some(fingerprint.to_string()),
        ..MachineFilter::default()
    };
    match strategy {
        UniquenessStrategy::UniquePerAccount => {}
        UniquenessStrategy::UniquePerProduct => filter.product = Some(license.product_id.clone()),
        UniquenessStrategy::UniquePerPolicy => filter.policy = Some(license.policy_id.clone()),
        UniquenessStrategy::UniquePerLicense | UniquenessStrategy::UniquePerMachine => return Ok(false),
    }
    let page = PageRequest {
        number: Some(1),
        size: 1,
        order: projections::ListOrder::default(),
        cursor: None,
    };
    let found = projections::machines::list(&state.db, &license.account_id, &filter, page).await?;
    Ok(found.total > 0)
}

fn fingerprint_taken(strategy: UniquenessStrategy) -> ApiError {
    aggregates::DomainError::invalid("fingerprint", "TAKEN", fingerprint_taken_detail(strategy)).into()
}

/// The components a machine is activated with (`relationships.components.data`, each
/// `{type: "components", attributes: {fingerprint, name, metadata}}`), type-checked.
fn inline_components(body: &JsonApiBody) -> ApiResult<Vec<NewComponent>> {
    let base = "/data/relationships/components";
    let Some(relationship) = body
        .raw_data()
        .and_then(|d| d.get("relationships"))
        .and_then(|r| r.get("components"))
    else {
        return Ok(Vec::new());
    };
    let items = match relationship.get("data") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(ApiError::type_mismatch(
                format!("{base}/data"),
                type_name(other),
                "array",
            ))
        }
        None => return Err(ApiError::type_mismatch(format!("{base}/data"), "nil", "array")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{base}/data/{i}");
            let Value::Object(item) = item else {
                return Err(ApiError::type_mismatch(at, type_name(item), "hash"));
            };
            if let Some(key) = item.keys().find(|k| !matches!(k.as_str(), "type" | "attributes")) {
                return Err(ApiError::unpermitted(format!("{at}/{key}")));
            }
            match item.get("type").and_then(Value::as_str) {
                Some("components" | "component") => {}
                _ => {
                    let detail = "type mismatch (received unexpected type)";
                    return Err(ApiError::bad_request(
                        detail,
                        "TYPE_MISMATCH",
                        Some(Source::Pointer(format!("{at}/type"))),
                    ));
                }
            }
            let empty = Map::new();
            let attributes = match item.get("attributes") {
                None => &empty,
                Some(Value::Object(a)) => a,
                Some(other) => {
                    return Err(ApiError::type_mismatch(
                        format!("{at}/attributes"),
                        type_name(other),
                        "hash",
                    ))
                }
            };
            if let Some(key) = attributes
                .keys()
                .find(|k| !matches!(k.as_str(), "fingerprint" | "name" | "metadata"))
            {
                return Err(ApiError::unpermitted(format!("{at}/attributes/{key}")));
            }
            let text = |key: &str| match attributes.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                None | Some(Value::Null) => Ok(String::new()),
                Some(other) => Err(ApiError::type_mismatch(
                    format!("{at}/attributes/{key}"),
                    type_name(other),
                    "string",
                )),
            };
            let metadata = match attributes.get("metadata") {
                None | Some(Value::Null) => Map::new(),
                // (The document's keys are snake_case already.)
                Some(Value::Object(m)) => m.clone(),
                Some(other) => {
                    return Err(ApiError::type_mismatch(
                        format!("{at}/attributes/metadata"),
                        type_name(other),
                        "hash",
                    ))
                }
            };
            Ok(NewComponent {
                id: ComponentId::generate(),
                fingerprint: text("fingerprint")?,
                name: text("name")?,
                metadata,
            })
        })
        .collect()
}

async fn create(Call { state, auth }: Call, body: JsonApiBody) -> ApiResult<Response> {
    let data = body.resource("machines", "machine")?;
    data.permit_relationships(&["license", "components"])?;
    let components = inline_components(&body)?;
    let a = &data.attributes;
    a.permit(&[
        "fingerprint",
        "name",
        "ip",
        "hostname",
        "platform",
        "cores",
        "memory",
        "disk",
        "metadata",
    ])?;
    let fingerprint = a.required_string("fingerprint")?;
    let machine = NewMachine {
        slot: MachineSlot {
            id: MachineId::generate(),
            fingerprint,
            cores: a.integer("cores")?.value(),
            memory: a.integer("memory")?.value(),
            disk: a.integer("disk")?.value(),
            ..Default::default()
        },
        components,
        attributes: MachineAttributes {
            name: a.string("name")?.value(),
            ip: a.string("ip")?.value(),
            hostname: a.string("hostname")?.value(),
            platform: a.string("platform")?.value(),
            metadata: a.object("metadata")?.value().unwrap_or_default(),
        },
    };
    let license_id = required_relationship(&data, "license", &["licenses", "license"])?;
    let license = visible_license(&state, &auth, &license_id)
        .await
        .map_err(|_| related_not_found("license"))?;
    may_activate(&auth)?;
    let policy = license_policy(&license)?;
    let strategy = policy.attributes.machine_uniqueness_strategy;
    if taken_beyond(&state, &license, strategy, &machine.slot.fingerprint).await? {
        return Err(fingerprint_taken(strategy));
    }
    // As Keygen: a fingerprint may not be another machine's id, which would make it ambiguous
    // wherever a machine is found by id or fingerprint.
    let fingerprint = &machine.slot.fingerprint;
    if uuid::Uuid::parse_str(fingerprint).is_ok()
        && projections::machines::exists(&state.db, &auth.account.row.id, fingerprint).await?
    {
        return Err(aggregates::DomainError::invalid(
            "fingerprint",
            "CONFLICT",
            "must not conflict with another machine's identifier (UUID)",
        )
        .into());
    }
    let id = machine.slot.id.to_string();
    let command = LicenseCommand::ActivateMachine {
        policy,
        machine,
        token: activation_token(&auth),
        at: state.now(),
    };
    run(&state, &auth, &license, command).await?;
    let view = visible_machine(&state, &auth, &id).await?;
    Ok(created(machine_resource(&view, state.now())?))
}

async fn show(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let view = visible_machine(&state, &auth, &id).await?;
    Ok(single(StatusCode::OK, machine_resource(&view, state.now())?))
}

/// Changes a machine: its own attributes (any bearer that sees it; a license only its name, ip,
/// hostname and platform, and not when protected) and, for admins and products, its metadata
/// and its sizes, which its license checks against its limits.
async fn update(Call { state, auth }: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    let view = visible_machine(&state, &auth, &id).await?;
    may_activate(&auth)?;
    let data = body.resource("machines", "machine")?;
    data.no_relationships()?;
    let a = &data.attributes;
    let privileged = !matches!(auth.bearer, crate::auth::Bearer::License { .. });
    let own = ["name", "ip", "hostname", "platform"];
    let sizes = ["cores", "memory", "disk"];
    let mut allowed = own.to_vec();
    if privileged {
        allowed.push("metadata");
        allowed.extend(sizes);
    }
    a.permit(&allowed)?;
    let license = visible_license(&state, &auth, &view.row.license_id).await?;
    if !privileged && license.protected.map(|p| p != 0).unwrap_or(view.policy()?.protected) {
        return Err(ApiError::forbidden("a protected license may not update its machines"));
    }
    let changes = a.changes(|k| {
        Ok(match k {
            "metadata" => a.object(k)?.value().map(serde_json::Value::Object),
            _ if own.contains(&k) => a.string(k)?.patch().map(|v| serde_json::json!(v)),
            _ => None,
        })
    })?;
    let at = state.now();
    if sizes.iter().any(|k| a.contains(k)) {
        let row = &view.row;
        let size = |k: &str, current: Option<i64>| -> ApiResult<Option<i64>> {
            Ok(if a.contains(k) {
                a.integer(k)?.patch().flatten()
            } else {
                current
            })
        };
        let machine = MachineSlot {
            id: MachineId::from(&row.id),
            fingerprint: row.fingerprint.clone(),
            cores: size("cores", row.cores)?,
            memory: size("memory", row.memory)?,
            disk: size("disk", row.disk)?,
            ..Default::default()
        };
        let policy = license_policy(&license)?;
        run(
            &state,
            &auth,
            &license,
            LicenseCommand::ResizeMachine { policy, machine, at },
        )
        .await?;
    }
    if !changes.is_empty() {
        let row = &view.row;
        let activated = MachineAttributes {
            name: row.name.clone(),
            ip: row.ip.clone(),
            hostname: row.hostname.clone(),
            platform: row.platform.clone(),
            metadata: serde_json::from_str(&row.metadata).map_err(ApiError::internal)?,
        };
        let command = MachineCommand::Update { activated, changes, at };
        execute(
            &state.frameworks.machine,
            &MachineId::from(&row.id),
            command,
            auth.metadata(),
        )
        .await?;
    }
    let view = visible_machine(&state, &auth, &view.row.id).await?;
    Ok(single(StatusCode::OK, machine_resource(&view, state.now())?))
}

async fn destroy(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<StatusCode> {
    let view = visible_machine(&state, &auth, &id).await?;
    may_activate(&auth)?;
    let license = visible_license(&state, &auth, &view.row.license_id).await?;
    let command = LicenseCommand::DeactivateMachine {
        machine_id: MachineId::from(&view.row.id),
        token: activation_token(&auth),
        at: state.now(),
    };
    run(&state, &auth, &license, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn machine_filter(list: &ListPage) -> ApiResult<MachineFilter> {
    let q = &list.query;
    Ok(MachineFilter {
        license: q.get("license").cloned(),
        key: q.get("key").cloned(),
        fingerprint: q.get("fingerprint").cloned(),
        product: q.get("product").cloned(),
        policy: q.get("policy").cloned(),
        metadata: metadata_filters(q)?,
        ..MachineFilter::default()
    })
}

/// A page of the machines `filter` selects among those the caller sees, at `path` (below the
/// account) for pagination links.
async fn list_with(call: &Call, mut filter: MachineFilter, list: ListPage, path: &str) -> ApiResult<Response> {
    let Call { state, auth } = call;
    limit_to_visible(auth, &mut filter)?;
    let account_id = &auth.account.row.id;
    let result = projections::machines::list(&state.db, account_id, &filter, list.page).await?;
    let now = state.now();
    let items = result
        .items
        .iter()
        .map(|view| machine_resource(view, now))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(paged(items, &account_path(account_id, path), &list, result.total))
}

async fn index(call: Call, list: ListPage) -> ApiResult<Response> {
    let filter = machine_filter(&list)?;
    list_with(&call, filter, list, "machines").await
}

async fn license_machines(call: Call, ResourceId(id): ResourceId, list: ListPage) -> ApiResult<Response> {
    let license = visible_license(&call.state, &call.auth, &id).await?.id;
    let mut filter = machine_filter(&list)?;
    filter.only_license = Some(license.clone());
    list_with(&call, filter, list, &format!("licenses/{license}/machines")).await
}

async fn ping(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let mut view = visible_machine(&state, &auth, &id).await?;
    may_activate(&auth)?;
    let revived = crate::commands::heartbeat::ping(&state, &mut view, auth.metadata()).await?;
    Ok(single(
        StatusCode::OK,
        machine_resource_as(&view, state.now(), revived)?,
    ))
}

/// Admins and the license's product reset a heartbeat; the license itself may not.
async fn reset(Call { state, auth }: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    let view = visible_machine(&state, &auth, &id).await?;
    if matches!(auth.bearer, crate::auth::Bearer::License { .. }) {
        return Err(ApiError::forbidden("bearer lacks permission to reset heartbeats"));
    }
    crate::commands::heartbeat::reset(&state, &view, auth.metadata()).await?;
    let view = visible_machine(&state, &auth, &view.row.id).await?;
    Ok(single(StatusCode::OK, machine_resource(&view, state.now())?))
}
