//! What the webhook workers need from the API ([`workers::WebhookHost`]): the server's clock,
//! the resource an event is about rendered as API 1.8 renders it, the webhook-event document a
//! delivery posts, the accounts' signing keys, and the endpoint command a 410 Gone asks for.

use crate::crypto::SignatureAlgorithm;
use crate::error::ApiError;
use crate::resources::{
    account_resource, artifact_resource, component_resource, entitlement_resource, key_resource, license_resource,
    machine_resource, package_resource, policy_resource, process_resource, product_resource, release_resource,
    token_resource, user_resource, webhook_event_resource,
};
use crate::state::{execute, AppState};
use aggregates::webhook_endpoint::EndpointCommand;
use aggregates::WebhookEndpointId;
use base64::Engine;
use projections::artifacts::ArtifactFilter;
use projections::releases::{Audience, ReleaseFilter};
use projections::webhook_events::WebhookEventRow;
use serde_json::{json, Value};
use std::collections::HashMap;
use workers::Envelope;

/// The API's side of webhook work.
#[derive(Clone)]
pub struct Host(pub AppState);

impl Host {
    /// The resource object of `envelope`'s resource, if it can still be read.
    async fn resource(&self, e: &Envelope) -> Result<Option<Value>, ApiError> {
        let (db, account, id, now) = (&self.0.db, e.account_id.as_str(), e.resource_id.as_str(), self.0.now());
        Ok(match e.resource_type.as_str() {
            "accounts" => self.0.account(id).await?.map(|a| account_resource(&a)),
            "licenses" => match projections::licenses::find(db, account, id).await? {
                Some(row) => Some(license_resource(&row, now)?),
                None => None,
            },
            "machines" => match projections::machines::find(db, account, id).await? {
                Some(view) => Some(machine_resource(&view, now)?),
                None => None,
            },
            "processes" => match projections::processes::find(db, account, id).await? {
                Some(view) => Some(process_resource(&view, now, false)?),
                None => None,
            },
            "components" => match projections::components::find(db, account, id).await? {
                Some(row) => Some(component_resource(&row)?),
                None => None,
            },
            "policies" => match projections::policies::find_any(db, account, id).await? {
                Some(row) => Some(policy_resource(&row)?),
                None => None,
            },
            "products" => projections::products::find(db, account, id)
                .await?
                .map(|r| product_resource(&r)),
            "entitlements" => projections::entitlements::find(db, account, id)
                .await?
                .map(|r| entitlement_resource(&r)),
            "users" => projections::users::find(db, account, id)
                .await?
                .map(|r| user_resource(account, &r)),
            "tokens" => projections::tokens::find(db, account, id)
                .await?
                .map(|r| token_resource(account, &r, None)),
            "packages" => projections::packages::find(db, account, id)
                .await?
                .map(|r| package_resource(&r)),
            "releases" => projections::releases::find_by_id(db, account, id)
                .await?
                .map(|r| release_resource(&r)),
            "artifacts" => {
                let (everyone, releases) = (Audience::Everyone, ReleaseFilter::default());
                let filter = ArtifactFilter::default();
                projections::artifacts::find(db, account, &everyone, &releases, &filter, id)
                    .await?
                    .map(|r| artifact_resource(&r, false, None))
            }
            "keys" => projections::policies::find_key(db, account, id)
                .await?
                .map(|r| key_resource(&r)),
            _ => None,
        })
    }
}

#[async_trait::async_trait]
impl workers::WebhookHost for Host {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }

    /// The resource as it is now; one that is gone (a `*.deleted` event) is sent by its type and
    /// id. A validation's document carries the outcome in `meta`, as Keygen's does.
    async fn render(&self, envelope: &Envelope) -> Result<Value, String> {
        let object = self.resource(envelope).await.map_err(|e| format!("{e:?}"))?;
        let object = object.unwrap_or_else(|| json!({ "id": envelope.resource_id, "type": envelope.resource_type }));
        let mut document = json!({ "data": object });
        if envelope.event.starts_with("license.validation.") {
            let d = &envelope.data;
            let mut meta = json!({ "valid": d["valid"], "detail": d["detail"], "code": d["code"] });
            for key in ["nonce", "scope"] {
                if !d[key].is_null() {
                    meta[key] = d[key].clone();
                }
            }
            document["meta"] = meta;
        }
        Ok(document)
    }

    fn webhook_document(&self, row: &WebhookEventRow) -> Value {
        json!({ "data": webhook_event_resource(row) })
    }

    async fn sign(&self, account_id: &str, algorithm: &str, message: &[u8]) -> Result<String, String> {
        let account = self.0.account(account_id).await.map_err(|e| format!("{e:?}"))?;
        let account = account.ok_or_else(|| format!("account {account_id} not found"))?;
        let algorithm =
            SignatureAlgorithm::parse(algorithm).ok_or_else(|| format!("no signature algorithm {algorithm}"))?;
        let signature = account.keys.sign(algorithm, message).map_err(|e| e.to_string())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }

    async fn disable_endpoint(&self, account_id: &str, endpoint_id: &str) -> Result<(), String> {
        let mut metadata = HashMap::new();
        metadata.insert("account_id".to_string(), account_id.to_string());
        let command = EndpointCommand::Disable { at: self.0.now() };
        let id = WebhookEndpointId::from(endpoint_id);
        execute(&self.0.frameworks.webhook_endpoint, &id, command, metadata)
            .await
            .map_err(|e| format!("{e:?}"))
    }
}
