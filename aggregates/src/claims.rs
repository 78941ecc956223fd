//! Uniqueness claims: rules wider than one aggregate (account slug, product code per account,
//! user email per account) are rows written in the same transaction as the events that make
//! them. The same rows record what exists (`product.live`, `policy.live`) and who depends on
//! it (`product.policies:<id>`, `policy.licenses:<id>`), so a reference to something deleted
//! meanwhile is refused in the committing transaction. The store asks this module which claims
//! a stored event makes.

/// Scope of the ids of live products.
pub const PRODUCT_LIVE: &str = "product.live";
/// Scope of the ids of live policies.
pub const POLICY_LIVE: &str = "policy.live";
/// Prefix of the groups of a product's policies (`product.policies:<product id>`).
pub const PRODUCT_POLICIES: &str = "product.policies:";
/// Prefix of the groups of a policy's licenses (`policy.licenses:<policy id>`).
pub const POLICY_LICENSES: &str = "policy.licenses:";
/// Scope of the ids of live packages.
pub const PACKAGE_LIVE: &str = "package.live";
/// Prefix of the scopes of package keys (`package.key:<account id>`).
pub const PACKAGE_KEY: &str = "package.key:";
/// Prefix of the groups of a product's packages (`product.packages:<product id>`).
pub const PRODUCT_PACKAGES: &str = "product.packages:";
/// Prefix of the groups of a product's releases (`product.releases:<product id>`).
pub const PRODUCT_RELEASES: &str = "product.releases:";
/// Prefix of the groups of a package's releases (`package.releases:<package id>`).
pub const PACKAGE_RELEASES: &str = "package.releases:";
/// Prefix of the scopes of release versions (`release.version:<product id>:<package id or none>`).
pub const RELEASE_VERSION: &str = "release.version:";
/// Prefix of the scopes of release tags (`release.tag:<product id>:<package id or none>`).
pub const RELEASE_TAG: &str = "release.tag:";

use serde_json::Value;

/// The scopes whose values are text a client chose (license and pool keys, product and
/// entitlement codes, user emails, account slugs): they claim [`digest`]s of the text.
pub const TEXT_SCOPES: &[&str] = &[
    "license.key:",
    "product.code:",
    "entitlement.code:",
    "user.email:",
    "account.slug",
];

/// What a claim on client-chosen text holds: `sha256:` and the SHA-256 of the text in hex. A key
/// may be 16 KiB, more than a database index row takes, and a unique violation is logged with
/// the value it hit: the digest keeps both the row small and the key out of the database's log.
/// The prefix tells a digest from text claimed before claims held digests.
pub fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{DIGEST_PREFIX}{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// What every [`digest`] starts with.
pub const DIGEST_PREFIX: &str = "sha256:";

/// What one event does to the claims table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOp {
    /// This aggregate's claim in `scope` becomes `value` (or is dropped when `None`).
    Replace {
        scope: String,
        value: Option<String>,
        /// The error the API answers when another aggregate already holds the value, and the
        /// attribute (snake_case) it is about.
        code: &'static str,
        attribute: &'static str,
    },
    /// The aggregate takes one more value in `scope` (an aggregate may hold many, e.g. pool keys).
    /// When another aggregate holds it, the API answers `code` and `detail` about `subject`.
    Add {
        scope: String,
        value: String,
        code: &'static str,
        detail: &'static str,
        subject: crate::Subject,
    },
    /// The aggregate takes one more value in `scope` unless another holds it already (then it
    /// has none there: a claim moved into a scope where the value was free to repeat).
    AddIfFree { scope: String, value: String },
    /// The aggregate gives up one value in `scope`.
    Release { scope: String, value: String },
    /// The aggregate gives up one value it must still hold when this event commits (a key
    /// popped from a pool, which a license may have taken meanwhile).
    ReleaseHeld {
        scope: String,
        value: String,
        code: &'static str,
        relationship: &'static str,
    },
    /// Another aggregate must hold `value` in `scope` when this event commits, and keep holding
    /// it until then (what it refers to must exist: a license's policy, a policy's product).
    Require {
        scope: String,
        value: String,
        /// The error the API answers when it does not, and the relationship it is about.
        code: &'static str,
        relationship: &'static str,
    },
    /// The aggregate takes over `value` in `scope` from the aggregate `from_type`/`from_id`,
    /// which must hold it when this event commits (a license taking a key from its pool).
    Take {
        scope: String,
        value: String,
        from_type: &'static str,
        from_id: String,
        /// The error the API answers when the value is no longer there to take.
        code: &'static str,
        relationship: &'static str,
    },
    /// No aggregate may be a member of this aggregate's group `prefix` + its id when this event
    /// commits (a policy is deleted only once it has no licenses left, even ones created while
    /// its cascade ran).
    RequireEmpty { prefix: &'static str },
    /// The aggregate becomes a member of `prefix` + `group` (its id is the claimed value) and
    /// leaves any other group of that prefix: who depends on what, kept in step with the events,
    /// so a cascading delete finds dependents the read models may not show yet.
    Join { prefix: &'static str, group: String },
    /// The aggregate leaves every group of `prefix` (a release moved out of its package).
    Leave { prefix: &'static str },
    /// Every claim the aggregate holds is released (it was deleted).
    ReleaseAll,
}

impl ClaimOp {
    /// The aggregate takes `value` in `scope`; another holding it is `code` "has already been
    /// taken" on `attribute` (snake_case).
    pub fn add_taken(scope: String, value: String, code: &'static str, attribute: &str) -> Self {
        Self::Add {
            scope,
            value,
            code,
            detail: "has already been taken",
            subject: crate::Subject::Attribute(attribute.into()),
        }
    }
}

/// The claims made by a stored event, found by aggregate type; unknown types make none.
pub fn claims_for(aggregate_type: &str, payload: &Value) -> Result<Vec<ClaimOp>, serde_json::Error> {
    Ok(match aggregate_type {
        crate::account::Account::TYPE_NAME => {
            serde_json::from_value::<crate::account::AccountEvent>(payload.clone())?.claims()
        }
        crate::user::User::TYPE_NAME => serde_json::from_value::<crate::user::UserEvent>(payload.clone())?.claims(),
        crate::entitlement::Entitlement::TYPE_NAME => {
            serde_json::from_value::<crate::entitlement::EntitlementEvent>(payload.clone())?.claims()
        }
        crate::policy::Policy::TYPE_NAME => {
            serde_json::from_value::<crate::policy::PolicyEvent>(payload.clone())?.claims()
        }
        crate::license::License::TYPE_NAME => {
            serde_json::from_value::<crate::license::LicenseEvent>(payload.clone())?.claims()
        }
        crate::product::Product::TYPE_NAME => {
            serde_json::from_value::<crate::product::ProductEvent>(payload.clone())?.claims()
        }
        crate::package::Package::TYPE_NAME => {
            serde_json::from_value::<crate::package::PackageEvent>(payload.clone())?.claims()
        }
        crate::release::Release::TYPE_NAME => {
            serde_json::from_value::<crate::release::ReleaseEvent>(payload.clone())?.claims()
        }
        _ => Vec::new(),
    })
}

/// What a deleted parent does to its claims: its `live` claim goes first (so a dependent being
/// created waits for, or sees, the deletion, and both transactions lock in the same order), then
/// every other claim, and its group of dependents must be empty.
pub fn deleted_parent(live_scope: &str, dependents: &[&'static str]) -> Vec<ClaimOp> {
    let mut ops = vec![
        ClaimOp::Replace {
            scope: live_scope.into(),
            value: None,
            code: "ID_TAKEN",
            attribute: "id",
        },
        ClaimOp::ReleaseAll,
    ];
    ops.extend(dependents.iter().map(|&prefix| ClaimOp::RequireEmpty { prefix }));
    ops
}
