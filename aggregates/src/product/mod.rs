//! Product: the software a vendor sells; policies, licenses and releases hang off it.

use crate::{ClaimOp, DomainError, NoServices, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who may download a product's releases.
pub const DISTRIBUTION_STRATEGIES: &[&str] = &["LICENSED", "OPEN", "CLOSED"];

/// A product's attributes, complete. Events carry the whole set so a projection never has to
/// merge a patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductAttributes {
    pub name: String,
    pub code: Option<String>,
    pub distribution_strategy: String,
    pub url: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub permissions: Vec<String>,
    pub metadata: Map<String, Value>,
}

/// The attributes an update may change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub code: Option<Option<String>>,
    pub distribution_strategy: Option<String>,
    pub url: Option<Option<String>>,
    pub platforms: Option<Option<Vec<String>>>,
    pub permissions: Option<Vec<String>>,
    pub metadata: Option<Map<String, Value>>,
}

impl ProductPatch {
    /// `a` with this patch laid over it.
    pub fn apply_to(self, mut a: ProductAttributes) -> ProductAttributes {
        if let Some(v) = self.name {
            a.name = v;
        }
        if let Some(v) = self.code {
            a.code = v;
        }
        if let Some(v) = self.distribution_strategy {
            a.distribution_strategy = v;
        }
        if let Some(v) = self.url {
            a.url = v;
        }
        if let Some(v) = self.platforms {
            a.platforms = v;
        }
        if let Some(v) = self.permissions {
            a.permissions = v;
        }
        if let Some(v) = self.metadata {
            a.metadata = v;
        }
        a
    }
}

impl ProductAttributes {
    /// A product called `name` with Keygen's defaults for the rest: no code, no URL or
    /// platforms, `LICENSED`, every permission, empty metadata.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            code: None,
            distribution_strategy: "LICENSED".into(),
            url: None,
            platforms: None,
            permissions: vec!["*".into()],
            metadata: Map::new(),
        }
    }

    /// Keygen's validations for a product; the code's format only when the code is new
    /// (`before` is the product as it was), so one stored before the format applied does not
    /// block other changes.
    pub fn validate(&self, before: Option<&Self>) -> Result<(), DomainError> {
        if self.name.trim().is_empty() {
            return Err(DomainError::invalid("name", "MISSING", "can't be blank"));
        }
        if self.name.len() > 255 {
            return Err(DomainError::invalid(
                "name",
                "TOO_LONG",
                "is too long (maximum is 255 characters)",
            ));
        }
        if let Some(code) = self
            .code
            .as_ref()
            .filter(|_| before.is_none_or(|b| b.code != self.code))
        {
            crate::validate_code("code", code)?;
        }
        if !DISTRIBUTION_STRATEGIES.contains(&self.distribution_strategy.as_str()) {
            return Err(DomainError::invalid(
                "distribution_strategy",
                "NOT_ALLOWED",
                "unsupported distribution strategy",
            ));
        }
        if let Some(url) = &self.url {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.len() > 4096 || url.contains(char::is_whitespace) {
                return Err(DomainError::invalid(
                    "url",
                    "INVALID",
                    "must be a valid URL using one of the following protocols: https, http",
                ));
            }
        }
        crate::permissions::validate(&self.permissions)?;
        crate::metadata::validate(&self.metadata)
    }
}

/// Commands on a product.
#[derive(Debug, Clone)]
pub enum ProductCommand {
    Create {
        id: String,
        account_id: String,
        attributes: ProductAttributes,
        at: Timestamp,
    },
    Update {
        patch: ProductPatch,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

/// Events of a product, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProductEvent {
    #[serde(rename = "product.created")]
    Created {
        id: String,
        account_id: String,
        attributes: ProductAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "product.updated")]
    Updated {
        account_id: String,
        attributes: ProductAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "product.deleted")]
    Deleted { account_id: String, deleted_at: Timestamp },
}

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        match self {
            ProductEvent::Created { .. } => "product.created",
            ProductEvent::Updated { .. } => "product.updated",
            ProductEvent::Deleted { .. } => "product.deleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl ProductEvent {
    /// Product codes are unique per account, case-insensitively.
    pub fn claims(&self) -> Vec<ClaimOp> {
        let code_claim = |account_id: &str, code: &Option<String>| ClaimOp::Replace {
            scope: format!("product.code:{account_id}"),
            value: code.as_ref().map(|c| crate::claims::digest(&c.to_lowercase())),
            code: "CODE_TAKEN",
            attribute: "code",
        };
        match self {
            ProductEvent::Created {
                id,
                account_id,
                attributes,
                ..
            } => vec![
                code_claim(account_id, &attributes.code),
                ClaimOp::add_taken(crate::claims::PRODUCT_LIVE.into(), id.clone(), "ID_TAKEN", "id"),
            ],
            ProductEvent::Updated {
                account_id, attributes, ..
            } => vec![code_claim(account_id, &attributes.code)],
            ProductEvent::Deleted { .. } => crate::claims::deleted_parent(
                crate::claims::PRODUCT_LIVE,
                &[
                    crate::claims::PRODUCT_POLICIES,
                    crate::claims::PRODUCT_PACKAGES,
                    crate::claims::PRODUCT_RELEASES,
                ],
            ),
        }
    }
}

/// A product's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: Option<String>,
    pub account_id: String,
    pub attributes: Option<ProductAttributes>,
    pub deleted: bool,
}

impl Product {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "product";

    fn current(&self) -> Result<&ProductAttributes, DomainError> {
        match (&self.attributes, self.deleted) {
            (Some(a), false) => Ok(a),
            _ => Err(DomainError::not_found()),
        }
    }
}

impl Aggregate for Product {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            ProductCommand::Create {
                id,
                account_id,
                attributes,
                at,
            } => {
                if self.id.is_some() {
                    return Err(DomainError::already_exists());
                }
                attributes.validate(None)?;
                ProductEvent::Created {
                    id,
                    account_id,
                    attributes,
                    created_at: at,
                }
            }
            ProductCommand::Update { patch, at } => {
                let before = self.current()?;
                let attributes = patch.apply_to(before.clone());
                attributes.validate(Some(before))?;
                ProductEvent::Updated {
                    account_id: self.account_id.clone(),
                    attributes,
                    updated_at: at,
                }
            }
            ProductCommand::Delete { at } => {
                self.current()?;
                ProductEvent::Deleted {
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
            ProductEvent::Created {
                id,
                account_id,
                attributes,
                ..
            } => {
                self.id = Some(id);
                self.account_id = account_id;
                self.attributes = Some(attributes);
            }
            ProductEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            ProductEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests;
