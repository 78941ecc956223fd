//! Ids of the domain's resources, one type each, so that a policy's id cannot be passed where a
//! product's is expected, nor a command sent to an aggregate of another type. They serialize as
//! the plain string (events are unchanged) and are made from the strings the API and the read
//! models hold at the edge (`PolicyId::from(row.id.clone())`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new random id (UUID v4, as Keygen's).
            pub fn generate() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                Self(id.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

ids! {
    /// An account (the tenant every other resource belongs to).
    AccountId;
    /// A product.
    ProductId;
    /// A policy.
    PolicyId;
    /// A license.
    LicenseId;
    /// An entitlement.
    EntitlementId;
    /// A token.
    TokenId;
    /// A user.
    UserId;
    /// A pre-made key in a policy's pool.
    PoolKeyId;
    /// A machine (a device a license is activated on).
    MachineId;
    /// A component of a machine (a piece of its hardware).
    ComponentId;
    /// A process running on a machine.
    ProcessId;
    /// A webhook endpoint.
    WebhookEndpointId;
    /// A package of a product's releases.
    PackageId;
    /// A release.
    ReleaseId;
}

/// The type of id an aggregate is stored under: `execute` takes only that type, so a command
/// cannot reach an aggregate of another type by an id of the wrong kind.
pub trait Identified {
    type Id: AsRef<str> + fmt::Display + Send + Sync;
}

/// The version of an aggregate's serialized state, which the store keeps as a snapshot every so
/// many events. A snapshot of another shape is ignored and the state is replayed from events,
/// so bump it whenever a field of the state is added, removed, renamed or changes meaning
/// (`snapshot_shapes_are_pinned` fails when the state's top-level fields change and the shape did
/// not; a change inside a field is for the author to see. A snapshot that no longer deserializes
/// is ignored either way).
pub trait Snapshotted {
    const SHAPE: u32;
}

macro_rules! identified {
    ($($aggregate:ty => $id:ty, shape $shape:literal),*) => {$(
        impl Identified for $aggregate {
            type Id = $id;
        }
        impl Snapshotted for $aggregate {
            const SHAPE: u32 = $shape;
        }
    )*};
}

identified!(
    crate::account::Account => AccountId, shape 2,
    crate::product::Product => ProductId, shape 1,
    crate::policy::Policy => PolicyId, shape 1,
    crate::license::License => LicenseId, shape 5,
    crate::entitlement::Entitlement => EntitlementId, shape 1,
    crate::token::Token => TokenId, shape 1,
    crate::user::User => UserId, shape 1,
    crate::machine::Machine => MachineId, shape 2,
    crate::process::Process => ProcessId, shape 1,
    crate::webhook_endpoint::WebhookEndpoint => WebhookEndpointId, shape 1,
    crate::package::Package => PackageId, shape 1,
    crate::release::Release => ReleaseId, shape 2
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::LicenseEvent;

    #[test]
    fn an_id_is_stored_as_the_plain_string() {
        let id = PolicyId::from("4f1c2d9e-0000-4000-8000-000000000001");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"4f1c2d9e-0000-4000-8000-000000000001\""
        );
    }

    #[test]
    fn events_stored_before_ids_were_typed_still_read() {
        // As `license.policy.updated` was stored when its ids were plain strings.
        let stored = serde_json::json!({
            "license.policy.updated": {
                "product_id": "p-1",
                "policy_id": "q-2",
                "expiry": null,
                "at": "2026-01-01T00:00:00Z"
            }
        });
        match serde_json::from_value::<LicenseEvent>(stored).unwrap() {
            LicenseEvent::PolicyChanged {
                product_id, policy_id, ..
            } => {
                assert_eq!(product_id, ProductId::from("p-1"));
                assert_eq!(policy_id, PolicyId::from("q-2"));
            }
            other => panic!("read as {other:?}"),
        }
    }

    /// The top-level fields of an aggregate's state, as a snapshot stores them, with its shape.
    fn shape_of<A: Default + serde::Serialize + Snapshotted>() -> (u32, String) {
        let state = serde_json::to_value(A::default()).unwrap();
        let fields: Vec<&str> = state.as_object().unwrap().keys().map(String::as_str).collect();
        (A::SHAPE, fields.join(" "))
    }

    /// When this fails, the state of an aggregate changed: bump its shape in `identified!` (old
    /// snapshots are then ignored) and write the new fields here.
    #[test]
    fn snapshot_shapes_are_pinned() {
        use crate::{
            account, entitlement, license, machine, package, policy, process, product, release, token, user,
            webhook_endpoint,
        };
        let pinned = [
            (shape_of::<account::Account>(), (2, "all_keys id slug")),
            (shape_of::<product::Product>(), (1, "account_id attributes deleted id")),
            (
                shape_of::<policy::Policy>(),
                (1, "account_id attributes deleted entitlement_ids pool product_id"),
            ),
            (
                shape_of::<license::License>(),
                (
                    5,
                    "account_id attributes deleted entitlement_ids last_check_in machines policy_id product_id token_counts uses",
                ),
            ),
            (
                shape_of::<entitlement::Entitlement>(),
                (1, "account_id attributes deleted"),
            ),
            (shape_of::<token::Token>(), (1, "id revoked")),
            (shape_of::<user::User>(), (1, "id")),
            (shape_of::<machine::Machine>(), (2, "attributes dead started")),
            (shape_of::<process::Process>(), (1, "dead")),
            (
                shape_of::<webhook_endpoint::WebhookEndpoint>(),
                (1, "account_id attributes deleted id"),
            ),
            (
                shape_of::<package::Package>(),
                (1, "account_id attributes deleted product_id"),
            ),
            (
                shape_of::<release::Release>(),
                (2, "account_id artifacts attributes constraints deleted line"),
            ),
        ];
        let changed: Vec<String> = pinned
            .iter()
            .filter(|((shape, fields), pinned)| (*shape, fields.as_str()) != *pinned)
            .map(|((shape, fields), pinned)| format!("now ({shape}, {fields:?}), pinned {pinned:?}"))
            .collect();
        assert!(changed.is_empty(), "{changed:#?}");
    }
}
