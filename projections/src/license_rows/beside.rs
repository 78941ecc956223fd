//! What a license event changes beside its license's row, in event order: written after the row
//! by `apply_run`.

use aggregates::entitlement::EntitlementChange;
use aggregates::license::MachineSlot;

/// What an event changes beside its license's row, in event order.
pub(super) enum Beside {
    /// The pooled key the license took leaves its pool.
    TakeKey {
        key_id: String,
        at: i64,
    },
    /// Entitlements join (or part from) the license.
    Entitlements {
        license_id: String,
        change: EntitlementChange,
        attach: bool,
    },
    /// A machine was activated on the license, with its first heartbeat deadline.
    Activated(Box<crate::machines::MachineRow>, Option<i64>),
    /// Components were created (with their machine, or one on its own), changed or removed.
    Components(Vec<crate::components::ComponentRow>),
    ComponentUpdated {
        id: String,
        name: String,
        metadata: String,
        at: i64,
    },
    ComponentRemoved {
        id: String,
    },
    /// A process started (with its first heartbeat deadline), changed or ended.
    Spawned(Box<crate::processes::ProcessRow>, i64),
    ProcessUpdated {
        id: String,
        metadata: String,
        at: i64,
    },
    Killed {
        id: String,
    },
    /// A machine's sizes changed.
    Resized {
        machine: MachineSlot,
        at: i64,
    },
    /// A machine was deactivated.
    Deactivated {
        machine_id: String,
    },
    /// An activation token's count (`activations` or `deactivations`) is now `count`.
    TokenUse {
        column: &'static str,
        token: aggregates::license::TokenUse,
    },
    /// The license is gone, and its machines with it.
    Gone {
        license_id: String,
    },
}
