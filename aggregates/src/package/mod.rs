//! Package: a product's line of releases versioned on its own (a CLI beside a desktop app), and
//! the engine (`pypi`, `tauri`, `npm`, …) that serves them to a package manager.

use crate::{claims, ClaimOp, DomainError, NoServices, PackageId, ProductId, Timestamp};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The engines a package may name.
pub const ENGINES: &[&str] = &["pypi", "tauri", "raw", "rubygems", "npm", "oci"];

/// A package's attributes, complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageAttributes {
    pub name: String,
    pub key: String,
    pub engine: Option<String>,
    pub metadata: Map<String, Value>,
}

impl PackageAttributes {
    /// The engine as Keygen stores it (lowercased, trimmed; blank is none), and a PyPI package's
    /// key normalized as PEP 503 names are (each run of `-`, `_` and `.` becomes `-`).
    fn normalized(mut self) -> Self {
        self.engine = self.engine.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
        if self.engine.as_deref() == Some("pypi") {
            self.key = pep503_name(&self.key);
        }
        self
    }

    fn validate(&self) -> Result<(), DomainError> {
        crate::validate_name(&self.name)?;
        let key = &self.key;
        if key.trim().is_empty() {
            return Err(DomainError::invalid("key", "MISSING", "can't be blank"));
        }
        if key.chars().count() > 255 {
            return Err(DomainError::invalid(
                "key",
                "TOO_LONG",
                "is too long (maximum is 255 characters)",
            ));
        }
        if crate::looks_like_uuid(key) || key.contains(char::is_whitespace) {
            return Err(DomainError::invalid("key", "INVALID", "is invalid"));
        }
        if crate::is_reserved_word(key) {
            return Err(DomainError::invalid("key", "EXCLUSION", "is reserved"));
        }
        if let Some(engine) = &self.engine {
            if !ENGINES.contains(&engine.as_str()) {
                return Err(DomainError::invalid("engine", "NOT_ALLOWED", "unsupported engine"));
            }
        }
        crate::metadata::validate(&self.metadata)
    }
}

/// `name` with each run of `-`, `_` and `.` turned into one `-` (PEP 503).
pub fn pep503_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// The attributes an update may change.
#[derive(Debug, Clone, Default)]
pub struct PackagePatch {
    pub name: Option<String>,
    pub key: Option<String>,
    pub engine: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
}

/// Commands on a package.
#[derive(Debug, Clone)]
pub enum PackageCommand {
    Create {
        id: PackageId,
        account_id: String,
        product_id: ProductId,
        attributes: PackageAttributes,
        at: Timestamp,
    },
    Update {
        patch: PackagePatch,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

/// Events of a package, named as Keygen's webhook events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PackageEvent {
    #[serde(rename = "package.created")]
    Created {
        id: PackageId,
        account_id: String,
        product_id: ProductId,
        attributes: PackageAttributes,
        created_at: Timestamp,
    },
    #[serde(rename = "package.updated")]
    Updated {
        account_id: String,
        attributes: PackageAttributes,
        updated_at: Timestamp,
    },
    #[serde(rename = "package.deleted")]
    Deleted { account_id: String, deleted_at: Timestamp },
}

impl DomainEvent for PackageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created { .. } => "package.created",
            Self::Updated { .. } => "package.updated",
            Self::Deleted { .. } => "package.deleted",
        }
        .into()
    }
    fn event_version(&self) -> String {
        "1.0".into()
    }
}

impl PackageEvent {
    /// Keys are unique per account (not per product); a package needs its product, and its
    /// releases need it.
    pub fn claims(&self) -> Vec<ClaimOp> {
        let key_claim = |account_id: &str, key: &str| ClaimOp::Replace {
            scope: format!("{}{account_id}", claims::PACKAGE_KEY),
            value: Some(claims::digest(key)),
            code: "KEY_TAKEN",
            attribute: "key",
        };
        match self {
            Self::Created {
                id,
                account_id,
                product_id,
                attributes,
                ..
            } => vec![
                ClaimOp::Require {
                    scope: claims::PRODUCT_LIVE.into(),
                    value: product_id.to_string(),
                    code: "PRODUCT_NOT_FOUND",
                    relationship: "product",
                },
                key_claim(account_id, &attributes.key),
                ClaimOp::add_taken(claims::PACKAGE_LIVE.into(), id.to_string(), "ID_TAKEN", "id"),
                ClaimOp::Join {
                    prefix: claims::PRODUCT_PACKAGES,
                    group: product_id.to_string(),
                },
            ],
            Self::Updated {
                account_id, attributes, ..
            } => vec![key_claim(account_id, &attributes.key)],
            Self::Deleted { .. } => claims::deleted_parent(claims::PACKAGE_LIVE, &[claims::PACKAGE_RELEASES]),
        }
    }
}

/// A package's state as commands need it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Package {
    pub account_id: String,
    pub product_id: Option<ProductId>,
    pub attributes: Option<PackageAttributes>,
    pub deleted: bool,
}

impl Package {
    /// Stored as `aggregate_type`.
    pub const TYPE_NAME: &'static str = "package";
}

impl Aggregate for Package {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = PackageCommand;
    type Event = PackageEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let event = match command {
            PackageCommand::Create {
                id,
                account_id,
                product_id,
                attributes,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                let attributes = attributes.normalized();
                attributes.validate()?;
                PackageEvent::Created {
                    id,
                    account_id,
                    product_id,
                    attributes,
                    created_at: at,
                }
            }
            PackageCommand::Update { patch, at } => {
                let mut attributes = crate::live(&self.attributes, self.deleted)?.clone();
                if let Some(v) = patch.name {
                    attributes.name = v;
                }
                if let Some(v) = patch.key {
                    attributes.key = v;
                }
                if let Some(v) = patch.engine {
                    attributes.engine = v;
                }
                if let Some(v) = patch.metadata {
                    attributes.metadata = v;
                }
                let attributes = attributes.normalized();
                attributes.validate()?;
                PackageEvent::Updated {
                    account_id: self.account_id.clone(),
                    attributes,
                    updated_at: at,
                }
            }
            PackageCommand::Delete { at } => {
                crate::live(&self.attributes, self.deleted)?;
                PackageEvent::Deleted {
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
            PackageEvent::Created {
                account_id,
                product_id,
                attributes,
                ..
            } => {
                self.account_id = account_id;
                self.product_id = Some(product_id);
                self.attributes = Some(attributes);
            }
            PackageEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            PackageEvent::Deleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    fn attributes(key: &str, engine: Option<&str>) -> PackageAttributes {
        PackageAttributes {
            name: "CLI".into(),
            key: key.into(),
            engine: engine.map(str::to_string),
            metadata: Map::new(),
        }
    }

    fn create(key: &str, engine: Option<&str>) -> PackageCommand {
        PackageCommand::Create {
            id: "k1".into(),
            account_id: "a1".into(),
            product_id: "p1".into(),
            attributes: attributes(key, engine),
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_pypi_key_is_normalized_and_the_engine_lowercased() {
        TestFramework::<Package>::with(NoServices)
            .given_no_previous_events()
            .when(create("my__pkg.name", Some(" PyPI ")))
            .then_expect_events(vec![PackageEvent::Created {
                id: "k1".into(),
                account_id: "a1".into(),
                product_id: "p1".into(),
                attributes: attributes("my-pkg-name", Some("pypi")),
                created_at: chrono::DateTime::UNIX_EPOCH,
            }]);
    }

    #[test]
    fn keys_that_would_read_as_ids_or_routes_and_unknown_engines_are_refused() {
        for (key, engine, code) in [
            ("actions", None, "KEY_EXCLUSION"),
            ("6f1c2d9e-0000-4000-8000-000000000001", None, "KEY_INVALID"),
            ("", None, "KEY_MISSING"),
            ("tool", Some("cargo"), "ENGINE_NOT_ALLOWED"),
        ] {
            let result = TestFramework::<Package>::with(NoServices)
                .given_no_previous_events()
                .when(create(key, engine))
                .inspect_result();
            assert_eq!(result.unwrap_err().code, code, "{key} {engine:?}");
        }
    }
}
