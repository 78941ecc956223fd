//! Deleting what depends on a deleted resource, as Keygen does: a product takes its policies
//! and tokens with it, a policy its licenses, a license its tokens. Each removal is a command on
//! its own aggregate, so the event store records every one of them. A cascade runs in a task of
//! its own, so a client that hangs up cannot stop it half-way. What is deleted goes first and
//! its dependents after, found in its claim group as well as in the read models, so one created
//! concurrently is either refused (its claim on the deleted resource is gone) or found.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState, Handle};
use aggregates::license::LicenseCommand;
use aggregates::policy::PolicyCommand;
use aggregates::product::ProductCommand;
use aggregates::token::TokenCommand;
use aggregates::{claims, DomainError};
use axum::http::StatusCode;
use cqrs_es::Aggregate;
use projections::licenses::LicenseFilter;
use projections::{ListOrder, Page, PageRequest};

const BATCH: i64 = 500;

/// Every id a paged query yields, read before anything is deleted.
async fn all_ids<T, F, Fut>(mut page_of: F, id: impl Fn(&T) -> String) -> ApiResult<Vec<String>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, projections::ProjectionError>>,
{
    let mut ids = Vec::new();
    for number in 1.. {
        let page = page_of(PageRequest {
            number: Some(number),
            size: BATCH,
            order: ListOrder::OldestFirst,
            cursor: None,
        })
        .await?;
        let done = (page.items.len() as i64) < BATCH;
        ids.extend(page.items.iter().map(&id));
        if done {
            break;
        }
    }
    Ok(ids)
}

/// Removes a dependent; one already gone (the read model lagging behind its removal) is done.
async fn remove<A>(handle: &Handle<A>, id: &str, command: A::Command, auth: &Auth) -> ApiResult<()>
where
    A: Aggregate<Error = DomainError>,
    A::Command: Clone,
{
    match execute(handle, id, command, auth.metadata()).await {
        Err(err) if err.status == StatusCode::NOT_FOUND => Ok(()),
        other => other,
    }
}

/// Runs a cascade to its end even if the request that started it goes away.
async fn detached<F, Fut>(state: &AppState, auth: &Auth, work: F) -> ApiResult<()>
where
    F: FnOnce(AppState, Auth) -> Fut,
    Fut: std::future::Future<Output = ApiResult<()>> + Send + 'static,
{
    tokio::spawn(work(state.clone(), auth.clone()))
        .await
        .map_err(ApiError::internal)?
}

async fn revoke_tokens(state: &AppState, auth: &Auth, bearer_type: &str, bearer_id: &str) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let bearer = Some((bearer_type, bearer_id));
    let ids = all_ids(
        |page| projections::tokens::list(&state.db, account_id, bearer, page),
        |t| t.id.clone(),
    )
    .await?;
    for id in ids {
        remove(
            &state.frameworks.token,
            &id,
            TokenCommand::Revoke { at: state.now() },
            auth,
        )
        .await?;
    }
    Ok(())
}

async fn license_and_tokens(
    state: &AppState,
    auth: &Auth,
    license_id: &str,
    revoked: bool,
    dependent: bool,
) -> ApiResult<()> {
    let command = LicenseCommand::Delete {
        revoked,
        at: state.now(),
    };
    if dependent {
        remove(&state.frameworks.license, license_id, command, auth).await?;
    } else {
        execute(&state.frameworks.license, license_id, command, auth.metadata()).await?;
    }
    revoke_tokens(state, auth, "licenses", license_id).await
}

/// The policy goes first: from its commit on no license can join it (a license requires its
/// policy's claim in the transaction that creates it), so the members its claim group holds then
/// are all it will ever have — including any the read models do not show yet.
async fn policy_and_licenses(state: &AppState, auth: &Auth, policy_id: &str, dependent: bool) -> ApiResult<()> {
    let command = PolicyCommand::Delete { at: state.now() };
    if dependent {
        remove(&state.frameworks.policy, policy_id, command, auth).await?;
    } else {
        execute(&state.frameworks.policy, policy_id, command, auth.metadata()).await?;
    }
    let account_id = &auth.account.row.id;
    let filter = LicenseFilter {
        policy: Some(policy_id.to_string()),
        ..Default::default()
    };
    let now_us = state.now().timestamp_micros();
    let mut licenses = all_ids(
        |page| projections::licenses::list(&state.db, account_id, &filter, now_us, page),
        |l| l.id.clone(),
    )
    .await?;
    licenses.extend(
        state
            .db
            .claim_group(claims::POLICY_LICENSES, policy_id)
            .await
            .map_err(ApiError::internal)?,
    );
    for license in aggregates::distinct(licenses) {
        license_and_tokens(state, auth, &license, false, true).await?;
    }
    Ok(())
}

/// Deletes (or revokes) a license and its tokens.
pub(crate) async fn delete_license(state: &AppState, auth: &Auth, license_id: &str, revoked: bool) -> ApiResult<()> {
    let license_id = license_id.to_string();
    detached(state, auth, move |state, auth| async move {
        license_and_tokens(&state, &auth, &license_id, revoked, false).await
    })
    .await
}

/// Deletes a policy and its licenses.
pub(crate) async fn delete_policy(state: &AppState, auth: &Auth, policy_id: &str) -> ApiResult<()> {
    let policy_id = policy_id.to_string();
    detached(state, auth, move |state, auth| async move {
        policy_and_licenses(&state, &auth, &policy_id, false).await
    })
    .await
}

/// Deletes a product, its policies (with their licenses) and its tokens.
pub(crate) async fn delete_product(state: &AppState, auth: &Auth, product_id: &str) -> ApiResult<()> {
    let product_id = product_id.to_string();
    detached(state, auth, move |state, auth| async move {
        // The product goes first, for the reason its policies do (see `policy_and_licenses`).
        execute(
            &state.frameworks.product,
            &product_id,
            ProductCommand::Delete { at: state.now() },
            auth.metadata(),
        )
        .await?;
        let account_id = &auth.account.row.id;
        let mut policies = all_ids(
            |page| projections::policies::list(&state.db, account_id, Some(&product_id), page),
            |p| p.id.clone(),
        )
        .await?;
        policies.extend(
            state
                .db
                .claim_group(claims::PRODUCT_POLICIES, &product_id)
                .await
                .map_err(ApiError::internal)?,
        );
        for policy in aggregates::distinct(policies) {
            policy_and_licenses(&state, &auth, &policy, true).await?;
        }
        revoke_tokens(&state, &auth, "products", &product_id).await
    })
    .await
}
