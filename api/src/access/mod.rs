//! Who may see and do what: the checks a handler makes before it reads or writes, and the
//! scoped lookups that answer 404 for whatever the bearer cannot see.

pub(crate) mod account;
pub(crate) mod entitlement;
pub(crate) mod key;
pub(crate) mod license;
pub(crate) mod machine;
pub(crate) mod policy;
pub(crate) mod product;
pub(crate) mod release;
pub(crate) mod token;
pub(crate) mod webhook;
