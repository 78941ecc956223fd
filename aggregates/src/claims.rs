//! Uniqueness claims: rules wider than one aggregate (account slug, product code per account,
//! user email per account) are rows written in the same transaction as the events that make
//! them. The store asks this module which claims a stored event makes.

use serde_json::Value;

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
    Add {
        scope: String,
        value: String,
        code: &'static str,
        attribute: &'static str,
    },
    /// The aggregate gives up one value in `scope`.
    Release { scope: String, value: String },
    /// Every claim the aggregate holds is released (it was deleted).
    ReleaseAll,
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
        _ => Vec::new(),
    })
}
