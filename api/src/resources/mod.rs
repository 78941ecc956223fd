//! JSON:API serialisers: one module per resource type, turning read-model rows into the resource
//! objects Keygen sends. No reads, no writes, no access checks.

mod account;
mod certificate_file;
mod component;
mod entitlement;
mod event_log;
mod key;
mod license;
mod links;
mod machine;
mod policy;
mod process;
mod product;
mod release;
mod request_log;
mod token;
mod user;
mod webhook;

pub(crate) use account::account_resource;
pub(crate) use certificate_file::{certificate_file_resource, CheckedOutFile};
pub(crate) use component::component_resource;
pub(crate) use entitlement::entitlement_resource;
pub(crate) use event_log::event_log_resource;
pub(crate) use key::key_resource;
pub(crate) use license::license_resource;
pub(crate) use links::account_path;
pub(crate) use machine::{machine_resource, machine_resource_as};
pub(crate) use policy::policy_resource;
pub(crate) use process::process_resource;
pub(crate) use product::product_resource;
pub(crate) use release::{
    artifact_resource, artifact_vanity_path, constraint_resource, lookup_resource, package_resource, release_resource,
};
pub(crate) use request_log::request_log_resource;
pub(crate) use token::token_resource;
pub(crate) use user::user_resource;
pub(crate) use webhook::webhook_endpoint_resource;
pub use webhook::webhook_event_resource;
