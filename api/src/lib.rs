//! Keyledger's HTTP API: Keygen's v1 paths and JSON:API shapes over the event store.

// Layers, each importing only those below it: `routes` (thin handlers and the router) →
// `commands` (use cases across aggregates) → `access` (who may see and do what) and `resources`
// (JSON:API serialisers) → the base modules `auth`, `extract`, `render`, `jsonapi`, `middleware`,
// `state`, `crypto`, `error`.
mod access;
pub mod auth;
pub mod bootstrap;
mod commands;
pub mod crypto;
pub mod error;
mod extract;
pub mod jsonapi;
pub mod listener;
pub mod middleware;
mod render;
mod resources;
mod routes;
pub mod state;
pub mod storage;
pub mod webhooks;

pub use commands::artifact::{run as run_uploads, sweep_uploads, UPLOAD_SCAN};
pub use commands::heartbeat::{run as run_heartbeats, sweep as sweep_heartbeats};
pub use routes::router;
pub use state::AppState;
