//! License: a key issued under a policy. Owns its usage counter, suspension, expiry, check-ins
//! and its own entitlements, so every limit on them holds under any concurrency.
//!
//! `commands` (what may be asked), `events` (what happened), `state` (attributes and their
//! rules), `handling` (the decisions); `validation`, `expiry` and `keys` are the rules of a
//! license's validity, its calendar arithmetic and its key formats.

mod commands;
pub mod components;
mod events;
pub mod expiry;
mod handling;
pub mod keys;
mod machine_validation;
pub mod machines;
pub mod policy_change;
mod processes;
mod state;
pub mod tokens;
pub mod validation;

pub use commands::{LicenseCommand, NewKey, PolicyEntitlements, PolicySnapshot};
pub use components::component_scope;
pub use events::LicenseEvent;
pub use machines::{MachineAttributes, MachineSlot, NewMachine};
pub use state::{License, LicenseAttributes, LicenseLimits};
pub use tokens::{ActivationToken, TokenCounts, TokenUse};

#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod tests;
