//! Deleting what depends on a deleted resource, as Keygen does: a product takes its policies
//! and tokens with it, a policy its licenses, a license its tokens. Each removal is a command on
//! its own aggregate, so the event store records every one of them.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::{execute, now, AppState};
use aggregates::license::LicenseCommand;
use aggregates::policy::PolicyCommand;
use aggregates::product::ProductCommand;
use aggregates::token::TokenCommand;
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

/// Revokes every live token of a bearer.
pub(crate) async fn revoke_tokens(state: &AppState, auth: &Auth, bearer_type: &str, bearer_id: &str) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let ids = all_ids(
        |page| projections::tokens::list(&state.db.any, account_id, Some((bearer_type, bearer_id)), page),
        |t| t.id.clone(),
    )
    .await?;
    for id in ids {
        execute(
            &state.frameworks.token,
            &id,
            TokenCommand::Revoke { at: now() },
            auth.metadata(),
        )
        .await?;
    }
    Ok(())
}

/// Deletes (or revokes) a license and its tokens.
pub(crate) async fn delete_license(state: &AppState, auth: &Auth, license_id: &str, revoked: bool) -> ApiResult<()> {
    execute(
        &state.frameworks.license,
        license_id,
        LicenseCommand::Delete { revoked, at: now() },
        auth.metadata(),
    )
    .await?;
    revoke_tokens(state, auth, "licenses", license_id).await
}

/// Deletes a policy and its licenses.
pub(crate) async fn delete_policy(state: &AppState, auth: &Auth, policy_id: &str) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let filter = LicenseFilter {
        policy: Some(policy_id.to_string()),
        ..Default::default()
    };
    let now_us = now().timestamp_micros();
    let licenses = all_ids(
        |page| projections::licenses::list(&state.db, account_id, &filter, now_us, page),
        |l| l.id.clone(),
    )
    .await?;
    for license in licenses {
        delete_license(state, auth, &license, false).await?;
    }
    execute(
        &state.frameworks.policy,
        policy_id,
        PolicyCommand::Delete { at: now() },
        auth.metadata(),
    )
    .await
}

/// Deletes a product, its policies (with their licenses) and its tokens.
pub(crate) async fn delete_product(state: &AppState, auth: &Auth, product_id: &str) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let policies = all_ids(
        |page| projections::policies::list(&state.db.any, account_id, Some(product_id), page),
        |p| p.id.clone(),
    )
    .await?;
    for policy in policies {
        delete_policy(state, auth, &policy).await?;
    }
    revoke_tokens(state, auth, "products", product_id).await?;
    execute(
        &state.frameworks.product,
        product_id,
        ProductCommand::Delete { at: now() },
        auth.metadata(),
    )
    .await
}
