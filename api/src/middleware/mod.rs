//! Layers every response passes through: request id, API version, media types and the access
//! log (`version`), and — under `/v1/accounts/{account}` — account resolution (`account`) and
//! Keygen's response signature (`signing`) and the request log (`request_log`).

mod account;
mod request_log;
mod signing;
mod version;

pub use account::{account_scope, singleplayer_signature};
pub use request_log::RequestorSlot;
pub(crate) use version::SUPPORTED_VERSIONS;
pub use version::{request_context, ApiVersion, API_VERSION};
