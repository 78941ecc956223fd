//! License validation: `POST|GET /licenses/{id|key}/actions/validate` and
//! `POST /licenses/actions/validate-key`. A validation is an observation: it records
//! `lastValidated` and a `license.validation.succeeded|failed` observation, and never appends to
//! the license's stream (except the one-time start of an expiry whose basis is the first
//! validation, which is a state change). The handlers parse `meta` and render; the use case is
//! `commands::validation`.

use crate::access::license::{may_see_license, may_validate, visible_license};
use crate::commands::validation::{validate_license, ValidationRequest};
use crate::error::{ApiError, ApiResult, Source};
use crate::extract::{Call, ResourceId};
use crate::jsonapi::{deep_camel, type_name, JsonApiBody};
use crate::render::document;
use crate::resources::license_resource;
use crate::state::AppState;
use aggregates::license::validation::{Outcome, Scope};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use projections::licenses::LicenseRow;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/licenses/{id}/actions/validate",
            post(validate_by_id).get(quick_validate),
        )
        .route("/licenses/actions/validate-key", post(validate_key))
}

const SCOPE_KEYS: &[&str] = &[
    "environment",
    "product",
    "policy",
    "user",
    "machine",
    "fingerprint",
    "fingerprints",
    "components",
    "entitlements",
    "checksum",
    "version",
];

fn string_list(value: &Value, pointer: &str) -> ApiResult<Vec<String>> {
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::type_mismatch(pointer, type_name(value), "array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::type_mismatch(format!("{pointer}/{i}"), type_name(item), "string"))
        })
        .collect()
}

/// Parses `meta.scope` and `meta.nonce` strictly; `extra` names further meta keys the route takes.
fn parse_request(meta: &Map<String, Value>, extra: &[&str]) -> ApiResult<ValidationRequest> {
    if let Some(key) = meta
        .keys()
        .find(|k| !matches!(k.as_str(), "scope" | "nonce") && !extra.contains(&k.as_str()))
    {
        return Err(ApiError::unpermitted(format!("/meta/{key}")));
    }
    let nonce = match meta.get("nonce") {
        None => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(other) => return Err(ApiError::type_mismatch("/meta/nonce", type_name(other), "integer")),
    };
    let Some(raw) = meta.get("scope") else {
        return Ok(ValidationRequest {
            scope: None,
            echo: None,
            nonce,
        });
    };
    let Value::Object(fields) = raw else {
        return Err(ApiError::type_mismatch("/meta/scope", type_name(raw), "hash"));
    };
    let mut scope = Scope::default();
    for (key, value) in fields {
        let pointer = format!("/meta/scope/{}", aggregates::error::camel_case(key));
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::type_mismatch(&pointer, type_name(value), "string"))
        };
        let nullable_text = || match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(ApiError::type_mismatch(&pointer, type_name(other), "string")),
        };
        match key.as_str() {
            "environment" => scope.environment = Some(nullable_text()?),
            "user" => scope.user = Some(nullable_text()?),
            "product" => scope.product = Some(text()?),
            "policy" => scope.policy = Some(text()?),
            "machine" => scope.machine = Some(text()?),
            "fingerprint" => scope.fingerprint = Some(text()?),
            "checksum" => scope.checksum = Some(text()?),
            "version" => scope.version = Some(text()?),
            "fingerprints" => scope.fingerprints = Some(string_list(value, &pointer)?),
            "components" => scope.components = Some(string_list(value, &pointer)?),
            "entitlements" => scope.entitlements = Some(string_list(value, &pointer)?),
            _ => return Err(ApiError::unpermitted(pointer)),
        }
        debug_assert!(SCOPE_KEYS.contains(&key.as_str()));
    }
    Ok(ValidationRequest {
        scope: Some(scope),
        echo: Some(deep_camel(raw.clone())),
        nonce,
    })
}

/// Validates `row` and answers Keygen's validation document.
async fn respond(
    state: &AppState,
    account_id: &str,
    metadata: HashMap<String, String>,
    row: LicenseRow,
    request: ValidationRequest,
    quick: bool,
) -> ApiResult<Response> {
    let validated = validate_license(state, account_id, metadata, row, &request, quick).await?;
    Ok(document(
        StatusCode::OK,
        json!({ "data": license_resource(&validated.row, state.now())?, "meta": meta(&validated.outcome, &request, quick, validated.at) }),
    ))
}

fn meta(outcome: &Outcome, request: &ValidationRequest, quick: bool, at: aggregates::Timestamp) -> Value {
    let mut meta = Map::new();
    meta.insert("ts".into(), crate::jsonapi::timestamp(at.timestamp_micros()));
    meta.insert("valid".into(), json!(outcome.valid));
    meta.insert("detail".into(), json!(outcome.detail));
    meta.insert("code".into(), json!(outcome.code));
    if !quick {
        if let Some(nonce) = request.nonce {
            meta.insert("nonce".into(), json!(nonce));
        }
        if let Some(scope) = &request.echo {
            meta.insert("scope".into(), scope.clone());
        }
    }
    Value::Object(meta)
}

async fn validate_by_id(call: Call, ResourceId(id): ResourceId, body: JsonApiBody) -> ApiResult<Response> {
    may_validate(&call.auth)?;
    let request = parse_request(&body.meta()?, &[])?;
    validate_visible(call, &id, request, false).await
}

async fn quick_validate(call: Call, ResourceId(id): ResourceId) -> ApiResult<Response> {
    may_validate(&call.auth)?;
    validate_visible(call, &id, ValidationRequest::default(), true).await
}

/// Validates a license the caller sees (by id or key) and answers with the license and the
/// outcome.
async fn validate_visible(call: Call, id: &str, request: ValidationRequest, quick: bool) -> ApiResult<Response> {
    let Call { state, auth } = call;
    let row = visible_license(&state, &auth, id).await?;
    respond(&state, &auth.account.row.id, auth.metadata(), row, request, quick).await
}

async fn validate_key(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: JsonApiBody,
) -> ApiResult<Response> {
    // Anyone may validate a key, but a credential sent along authenticates as on every other
    // route: keygen-rs sends the key it validates as a `License` credential, and Keygen answers
    // a suspended one 403 `LICENSE_SUSPENDED`, an unknown one 401 `LICENSE_INVALID`.
    let auth = crate::auth::authenticate_optional(&state, &parts).await?;
    let account = crate::auth::account_of(&parts)?;
    let body_meta = body.meta()?;
    let request = parse_request(&body_meta, &["key"])?;
    let key = match body_meta.get("key") {
        Some(Value::String(k)) if !k.trim().is_empty() => k.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "is missing",
                "PARAMETER_MISSING",
                Some(Source::Pointer("/meta/key".into())),
            ))
        }
        Some(other) => return Err(ApiError::type_mismatch("/meta/key", type_name(other), "string")),
    };
    let metadata = match &auth {
        Some(auth) => {
            may_validate(auth)?;
            auth.metadata()
        }
        None => {
            let mut m = HashMap::new();
            m.insert("account_id".to_string(), account.row.id.clone());
            if let Ok(request_id) = crate::error::REQUEST_ID.try_with(|id| id.clone()) {
                m.insert("request_id".to_string(), request_id);
            }
            m
        }
    };
    // Only a key is looked up here (never an id), and a bearer only finds what it may see.
    let row = projections::licenses::find_by_key(&state.db, &account.row.id, &key)
        .await?
        .filter(|row| auth.as_ref().is_none_or(|auth| may_see_license(auth, row)));
    let Some(row) = row else {
        let outcome = Outcome {
            valid: false,
            detail: "does not exist".into(),
            code: "NOT_FOUND",
        };
        return Ok(document(
            StatusCode::OK,
            json!({ "data": null, "meta": meta(&outcome, &request, false, state.now()) }),
        ));
    };
    respond(&state, &account.row.id, metadata, row, request, false).await
}
