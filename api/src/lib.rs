//! Keyledger's HTTP API: Keygen's v1 paths and JSON:API shapes over the event store.

pub mod auth;
pub mod bootstrap;
pub mod crypto;
pub mod error;
pub mod jsonapi;
pub mod middleware;
mod routes;
pub mod state;

pub use routes::router;
pub use state::AppState;
