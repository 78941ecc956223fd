//! Deleting what depends on a deleted resource, as Keygen does: a product takes its policies,
//! releases, packages and tokens with it, a package its releases, a policy its licenses, a
//! license its tokens. Each removal is a command on
//! its own aggregate, so the event store records every one of them. A cascade runs in a task of
//! its own, so a client that hangs up cannot stop it half-way. Dependents go first, found in the
//! parent's claim group as well as in the read models; the parent's deletion is refused while a
//! dependent created meanwhile remains, and after it no dependent can be created.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::{execute, AppState, Handle};
use aggregates::license::LicenseCommand;
use aggregates::package::PackageCommand;
use aggregates::policy::PolicyCommand;
use aggregates::product::ProductCommand;
use aggregates::release::ReleaseCommand;
use aggregates::token::TokenCommand;
use aggregates::{claims, DomainError, Identified, LicenseId, PackageId, PolicyId, ProductId, ReleaseId, TokenId};
use axum::http::StatusCode;
use cqrs_es::Aggregate;
use projections::licenses::LicenseFilter;
use projections::packages::PackageFilter;
use projections::releases::{Audience, ReleaseFilter};
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
async fn remove<A>(handle: &Handle<A>, id: &A::Id, command: A::Command, auth: &Auth) -> ApiResult<()>
where
    A: Aggregate<Error = DomainError> + Identified + aggregates::Snapshotted,
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
    // The request's id goes along: the cascade's events name the request that caused them.
    let work = work(state.clone(), auth.clone());
    let spawned = match crate::error::REQUEST_ID.try_with(|id| id.clone()) {
        Ok(request_id) => tokio::spawn(crate::error::REQUEST_ID.scope(request_id, work)),
        Err(_) => tokio::spawn(work),
    };
    spawned.await.map_err(ApiError::internal)?
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
            &TokenId::from(id),
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
    license_id: &LicenseId,
    revoked: bool,
    under_policy: Option<&PolicyId>,
) -> ApiResult<()> {
    let command = LicenseCommand::Delete {
        revoked,
        under_policy: under_policy.cloned(),
        at: state.now(),
    };
    match under_policy {
        Some(_) => match remove(&state.frameworks.license, license_id, command, auth).await {
            // It moved to another policy meanwhile: it is no longer this cascade's to delete.
            Err(err) if err.status == StatusCode::CONFLICT => return Ok(()),
            other => other?,
        },
        None => execute(&state.frameworks.license, license_id, command, auth.metadata()).await?,
    }
    revoke_tokens(state, auth, "licenses", license_id.as_str()).await
}

/// How often a cascade sweeps again when dependents were created while it ran.
const SWEEPS: usize = 5;

/// What a cascade deletes after its dependents.
#[derive(Clone, Copy)]
enum Parent<'a> {
    /// A policy (`dependent` when its product's cascade deletes it).
    Policy {
        id: &'a PolicyId,
        dependent: bool,
    },
    Product(&'a ProductId),
    Package(&'a PackageId),
}

/// Deletes a parent after its dependents. The parent's deletion is refused while its claim group
/// still has members (`DEPENDENTS_REMAIN`: one was created while the cascade ran), so it sweeps
/// again; from the parent's commit on, no dependent can join (each requires the parent's claim).
/// A cascade that fails half-way leaves the parent in place, so the same `DELETE` finishes it.
async fn after_dependents(state: &AppState, auth: &Auth, parent: Parent<'_>) -> ApiResult<()> {
    for _ in 0..SWEEPS {
        sweep(state, auth, parent).await?;
        let deleted = match parent {
            Parent::Policy { id, dependent } => {
                let command = PolicyCommand::Delete { at: state.now() };
                if dependent {
                    remove(&state.frameworks.policy, id, command, auth).await
                } else {
                    execute(&state.frameworks.policy, id, command, auth.metadata()).await
                }
            }
            Parent::Product(id) => {
                let command = ProductCommand::Delete { at: state.now() };
                execute(&state.frameworks.product, id, command, auth.metadata()).await
            }
            Parent::Package(id) => {
                let command = PackageCommand::Delete { at: state.now() };
                remove(&state.frameworks.package, id, command, auth).await
            }
        };
        match deleted {
            Err(err) if err.error.code.as_deref() == Some(store::DEPENDENTS_REMAIN) => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict())
}

/// Deletes a parent's dependents: every member of its claim group and every one the read models
/// list, each once.
async fn sweep(state: &AppState, auth: &Auth, parent: Parent<'_>) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    match parent {
        Parent::Policy { id, .. } => {
            let filter = LicenseFilter {
                policy: Some(id.to_string()),
                ..Default::default()
            };
            let now_us = state.now().timestamp_micros();
            let listed = all_ids(
                |page| projections::licenses::list(&state.db, account_id, &filter, now_us, page),
                |l| l.id.clone(),
            )
            .await?;
            for license in members(state, claims::POLICY_LICENSES, id.as_str(), listed).await? {
                license_and_tokens(state, auth, &LicenseId::from(license), false, Some(id)).await?;
            }
        }
        Parent::Product(id) => {
            let listed = all_ids(
                |page| projections::policies::list(&state.db, account_id, Some(id.as_str()), page),
                |p| p.id.clone(),
            )
            .await?;
            for policy in members(state, claims::PRODUCT_POLICIES, id.as_str(), listed).await? {
                let policy = PolicyId::from(policy);
                let parent = Parent::Policy {
                    id: &policy,
                    dependent: true,
                };
                Box::pin(after_dependents(state, auth, parent)).await?;
            }
            let filter = ReleaseFilter {
                product: Some(id.to_string()),
                ..Default::default()
            };
            delete_releases(state, auth, claims::PRODUCT_RELEASES, id.as_str(), &filter).await?;
            let filter = PackageFilter {
                product: Some(id.to_string()),
                ..Default::default()
            };
            let listed = all_ids(
                |page| projections::packages::list(&state.db, account_id, &filter, page),
                |p| p.id.clone(),
            )
            .await?;
            for package in members(state, claims::PRODUCT_PACKAGES, id.as_str(), listed).await? {
                let package = PackageId::from(package);
                Box::pin(after_dependents(state, auth, Parent::Package(&package))).await?;
            }
        }
        Parent::Package(id) => {
            let filter = ReleaseFilter {
                package: Some(Some(id.to_string())),
                ..Default::default()
            };
            delete_releases(state, auth, claims::PACKAGE_RELEASES, id.as_str(), &filter).await?;
        }
    }
    Ok(())
}

/// Deletes the releases in a claim group and those the read model lists under `filter`.
async fn delete_releases(
    state: &AppState,
    auth: &Auth,
    prefix: &str,
    group: &str,
    filter: &ReleaseFilter,
) -> ApiResult<()> {
    let account_id = &auth.account.row.id;
    let listed = all_ids(
        |page| projections::releases::list(&state.db, account_id, &Audience::Everyone, filter, page),
        |r| r.id.clone(),
    )
    .await?;
    for release in members(state, prefix, group, listed).await? {
        let command = ReleaseCommand::Delete { at: state.now() };
        remove(&state.frameworks.release, &ReleaseId::from(release), command, auth).await?;
    }
    Ok(())
}

/// Every id in a claim group and in a read-model listing, each once.
async fn members(state: &AppState, prefix: &str, group: &str, mut listed: Vec<String>) -> ApiResult<Vec<String>> {
    listed.extend(state.db.claim_group(prefix, group).await.map_err(ApiError::internal)?);
    Ok(aggregates::distinct(listed))
}

/// Deletes (or revokes) a license and its tokens.
pub(crate) async fn delete_license(state: &AppState, auth: &Auth, license_id: &str, revoked: bool) -> ApiResult<()> {
    let license_id = LicenseId::from(license_id);
    detached(state, auth, move |state, auth| async move {
        license_and_tokens(&state, &auth, &license_id, revoked, None).await
    })
    .await
}

/// Deletes a policy and its licenses.
pub(crate) async fn delete_policy(state: &AppState, auth: &Auth, policy_id: &str) -> ApiResult<()> {
    let policy_id = PolicyId::from(policy_id);
    detached(state, auth, move |state, auth| async move {
        let parent = Parent::Policy {
            id: &policy_id,
            dependent: false,
        };
        after_dependents(&state, &auth, parent).await
    })
    .await
}

/// Deletes a product, its policies (with their licenses) and its tokens.
pub(crate) async fn delete_product(state: &AppState, auth: &Auth, product_id: &str) -> ApiResult<()> {
    let product_id = ProductId::from(product_id);
    detached(state, auth, move |state, auth| async move {
        after_dependents(&state, &auth, Parent::Product(&product_id)).await?;
        revoke_tokens(&state, &auth, "products", product_id.as_str()).await
    })
    .await
}

/// Deletes a package and its releases.
pub(crate) async fn delete_package(state: &AppState, auth: &Auth, package_id: &str) -> ApiResult<()> {
    let package_id = PackageId::from(package_id);
    detached(state, auth, move |state, auth| async move {
        after_dependents(&state, &auth, Parent::Package(&package_id)).await
    })
    .await
}
