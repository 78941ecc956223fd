//! Webhook endpoint: where an account's events are delivered, and which of them.
//!
//! The address check (what a host resolves to) is I/O and lives with the caller; the rules here
//! are the ones Keygen validates on the record itself.

use crate::{DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Every event name an endpoint may subscribe to (Keygen's event types), besides `*`.
pub const EVENT_TYPES: &[&str] = &[
    "account.billing.updated",
    "account.plan.updated",
    "account.settings.created",
    "account.settings.deleted",
    "account.settings.updated",
    "account.subscription.canceled",
    "account.subscription.paused",
    "account.subscription.renewed",
    "account.subscription.resumed",
    "account.updated",
    "artifact.created",
    "artifact.deleted",
    "artifact.downloaded",
    "artifact.updated",
    "artifact.upload.failed",
    "artifact.upload.processing",
    "artifact.upload.succeeded",
    "artifact.uploaded",
    "component.created",
    "component.deleted",
    "component.updated",
    "entitlement.created",
    "entitlement.deleted",
    "entitlement.updated",
    "environment.created",
    "environment.deleted",
    "environment.updated",
    "group.created",
    "group.deleted",
    "group.updated",
    "group.owners.attached",
    "group.owners.detached",
    "key.created",
    "key.deleted",
    "key.updated",
    "license.check-in-overdue",
    "license.check-in-required-soon",
    "license.checked-in",
    "license.checked-out",
    "license.created",
    "license.deleted",
    "license.entitlements.attached",
    "license.entitlements.detached",
    "license.expired",
    "license.expiring-soon",
    "license.group.updated",
    "license.owner.updated",
    "license.policy.updated",
    "license.reinstated",
    "license.renewed",
    "license.revoked",
    "license.suspended",
    "license.updated",
    "license.usage.decremented",
    "license.usage.incremented",
    "license.usage.reset",
    "license.user.updated",
    "license.users.attached",
    "license.users.detached",
    "license.validated",
    "license.validation.failed",
    "license.validation.succeeded",
    "machine.checked-out",
    "machine.created",
    "machine.deleted",
    "machine.group.updated",
    "machine.heartbeat.dead",
    "machine.heartbeat.ping",
    "machine.heartbeat.pong",
    "machine.heartbeat.reset",
    "machine.heartbeat.resurrected",
    "machine.owner.updated",
    "machine.proofs.generated",
    "machine.updated",
    "package.created",
    "package.deleted",
    "package.updated",
    "policy.created",
    "policy.deleted",
    "policy.entitlements.attached",
    "policy.entitlements.detached",
    "policy.pool.popped",
    "policy.updated",
    "process.created",
    "process.deleted",
    "process.heartbeat.dead",
    "process.heartbeat.ping",
    "process.heartbeat.pong",
    "process.heartbeat.resurrected",
    "process.updated",
    "product.created",
    "product.deleted",
    "product.updated",
    "release.constraints.attached",
    "release.constraints.detached",
    "release.created",
    "release.deleted",
    "release.downloaded",
    "release.package.updated",
    "release.published",
    "release.replaced",
    "release.updated",
    "release.upgraded",
    "release.uploaded",
    "release.yanked",
    "second-factor.created",
    "second-factor.deleted",
    "second-factor.disabled",
    "second-factor.enabled",
    "token.generated",
    "token.regenerated",
    "token.revoked",
    "user.banned",
    "user.created",
    "user.deleted",
    "user.group.updated",
    "user.password-reset",
    "user.unbanned",
    "user.updated",
];

/// The signature algorithms Keygen offers for webhooks (every account holds a key for each).
pub const SIGNATURE_ALGORITHMS: &[&str] = &["ed25519", "rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"];

/// Whether `event` is a Keygen event name (so it is delivered to `*` subscribers and logged).
pub fn is_event_type(event: &str) -> bool {
    EVENT_TYPES.contains(&event)
}

/// Whether `subscriptions` take `event` (`*` takes every Keygen event name, and nothing else).
pub fn subscribed(subscriptions: &[String], event: &str) -> bool {
    subscriptions
        .iter()
        .any(|s| s == event || (s == "*" && is_event_type(event)))
}

/// An endpoint's attributes, complete (events carry the whole set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointAttributes {
    pub url: String,
    pub subscriptions: Vec<String>,
    pub signature_algorithm: String,
    pub api_version: String,
    pub product_id: Option<String>,
}

/// What an update may change; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub subscriptions: Option<Vec<String>>,
    pub signature_algorithm: Option<String>,
    pub api_version: Option<String>,
}

impl EndpointPatch {
    pub fn apply_to(self, mut a: EndpointAttributes) -> EndpointAttributes {
        if let Some(v) = self.url {
            a.url = v;
        }
        if let Some(v) = self.subscriptions {
            a.subscriptions = v;
        }
        if let Some(v) = self.signature_algorithm {
            a.signature_algorithm = v;
        }
        if let Some(v) = self.api_version {
            a.api_version = v;
        }
        a
    }
}

impl EndpointAttributes {
    /// Keygen's rules: an https URL of at most 4 KiB, at least one subscription, each a known
    /// event name or exactly `["*"]` (duplicates dropped, order kept), a known algorithm.
    /// `plain_http_allowed` lets the caller admit `http://` for networks an operator allowed.
    pub fn validate(mut self, plain_http_allowed: bool) -> Result<Self, DomainError> {
        let https = self.url.starts_with("https://") || (plain_http_allowed && self.url.starts_with("http://"));
        if !https || self.url.len() > 4096 || self.url.contains(char::is_whitespace) {
            return Err(DomainError::invalid(
                "url",
                "INVALID",
                "must be a valid URL using one of the following protocols: https",
            ));
        }
        let mut seen = Vec::with_capacity(self.subscriptions.len());
        for name in std::mem::take(&mut self.subscriptions) {
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        if seen.is_empty() {
            return Err(DomainError::invalid(
                "subscriptions",
                "TOO_SHORT",
                "must have at least 1 webhook event subscription",
            ));
        }
        let wildcard = seen.iter().any(|s| s == "*");
        if (wildcard && seen.len() > 1) || seen.iter().any(|s| s != "*" && !is_event_type(s)) {
            return Err(DomainError::invalid(
                "subscriptions",
                "NOT_ALLOWED",
                "unsupported webhook event type for subscription",
            ));
        }
        self.subscriptions = seen;
        if !SIGNATURE_ALGORITHMS.contains(&self.signature_algorithm.as_str()) {
            return Err(DomainError::invalid(
                "signature_algorithm",
                "NOT_ALLOWED",
                "unsupported signature algorithm",
            ));
        }
        Ok(self)
    }

    /// Whether this endpoint takes `event`.
    pub fn subscribes_to(&self, event: &str) -> bool {
        subscribed(&self.subscriptions, event)
    }
}

/// Commands on a webhook endpoint. `plain_http_allowed`: the caller found every address of the
/// URL's host in an operator-allowed network.
#[derive(Debug, Clone)]
pub enum EndpointCommand {
    Create {
        id: String,
        account_id: String,
        attributes: EndpointAttributes,
        plain_http_allowed: bool,
        at: Timestamp,
    },
    Update {
        patch: EndpointPatch,
        plain_http_allowed: bool,
        at: Timestamp,
    },
    /// Keygen empties an endpoint's subscriptions when it answers 410 Gone.
    Disable {
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

/// Events of a webhook endpoint (not Keygen event names: Keygen sends none for endpoints, so
/// they are neither delivered nor logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EndpointEvent {
    #[serde(rename = "webhook-endpoint.created")]
    Created {
        id: String,
        account_id: String,
        attributes: EndpointAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "webhook-endpoint.updated")]
    Updated {
        account_id: String,
        attributes: EndpointAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "webhook-endpoint.deleted")]
    Deleted { account_id: String, deleted_at: Timestamp },
}

impl DomainEvent for EndpointEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "webhook-endpoint.created",
            Self::Updated { .. } => "webhook-endpoint.updated",
            Self::Deleted { .. } => "webhook-endpoint.deleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

/// A webhook endpoint's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: Option<String>,
    pub account_id: String,
    pub attributes: Option<EndpointAttributes>,
    pub deleted: bool,
}

impl WebhookEndpoint {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "webhook-endpoint";

    fn current(&self) -> Result<&EndpointAttributes, DomainError> {
        match (&self.attributes, self.deleted) {
            (Some(a), false) => Ok(a),
            _ => Err(DomainError::not_found()),
        }
    }
}

impl Aggregate for WebhookEndpoint {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = EndpointCommand;
    type Event = EndpointEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            EndpointCommand::Create {
                id,
                account_id,
                attributes,
                plain_http_allowed,
                at,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                EndpointEvent::Created {
                    id,
                    account_id,
                    attributes: attributes.validate(plain_http_allowed)?,
                    created_at: at,
                }
            }
            EndpointCommand::Update {
                patch,
                plain_http_allowed,
                at,
            } => EndpointEvent::Updated {
                account_id: self.account_id.clone(),
                attributes: patch.apply_to(self.current()?.clone()).validate(plain_http_allowed)?,
                updated_at: at,
            },
            EndpointCommand::Disable { at } => {
                let mut attributes = self.current()?.clone();
                if attributes.subscriptions.is_empty() {
                    return Ok(());
                }
                attributes.subscriptions.clear();
                EndpointEvent::Updated {
                    account_id: self.account_id.clone(),
                    attributes,
                    updated_at: at,
                }
            }
            EndpointCommand::Delete { at } => {
                self.current()?;
                EndpointEvent::Deleted {
                    account_id: self.account_id.clone(),
                    deleted_at: at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EndpointEvent::Created {
                id,
                account_id,
                attributes,
                ..
            } => {
                self.id = Some(id);
                self.account_id = account_id;
                self.attributes = Some(attributes);
            }
            EndpointEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            EndpointEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests;
