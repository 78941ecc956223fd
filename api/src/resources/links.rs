//! Links of resources: paths under `/v1/accounts/{account}`.

/// Path of the account's collection or resource.
pub(crate) fn account_path(account_id: &str, rest: &str) -> String {
    format!("/v1/accounts/{account_id}/{rest}")
}
