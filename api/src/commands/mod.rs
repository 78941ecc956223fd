//! Use cases that span aggregates or need orchestration: what a handler calls once it has parsed
//! the request and checked access. They write through `state::execute` and answer rows, never
//! responses.

pub(crate) mod artifact;
pub(crate) mod cascade;
pub(crate) mod checkout;
pub(crate) mod entitlement;
pub mod heartbeat;
pub(crate) mod license;
pub(crate) mod pool;
pub(crate) mod process;
pub(crate) mod release;
pub(crate) mod token;
pub(crate) mod validation;
