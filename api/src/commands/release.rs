//! A release's upgrade: the next release by Keygen's rules, and what asking for it records,
//! `release.upgraded`, an observation (nothing in a stream changes when a client asks).

use crate::error::ApiResult;
use crate::state::AppState;
use aggregates::release::version::{channels_within, UpgradeConstraint, VersionParts};
use projections::releases::{Audience, ReleaseFilter, ReleaseRow};
use projections::writer::Observed;
use serde_json::json;
use std::collections::HashMap;

/// Records that `current` was upgraded to `next`, with Keygen's metadata.
pub(crate) async fn upgraded(
    state: &AppState,
    account_id: &str,
    current: &ReleaseRow,
    next: &ReleaseRow,
    metadata: HashMap<String, String>,
) -> ApiResult<()> {
    let observed = Observed {
        account_id: account_id.to_string(),
        event_type: Some("release.upgraded"),
        resource_type: "releases",
        resource_id: next.id.clone(),
        payload: json!({
            "product": next.product_id,
            "package": next.package_id,
            "prev": current.version,
            "next": next.version,
        }),
        metadata: json!(metadata),
        at: state.now().timestamp_micros(),
        deadline: None,
    };
    state.observations.record(observed).await?;
    Ok(())
}

/// The newest published release `audience` may see that upgrades `current`: same product,
/// `package` (none: releases without one), a channel `channel` takes in, strictly newer, within
/// `constraint`.
pub(crate) async fn next_release(
    state: &AppState,
    account_id: &str,
    audience: &Audience,
    current: &ReleaseRow,
    package: Option<String>,
    channel: &str,
    constraint: Option<&UpgradeConstraint>,
) -> ApiResult<Option<ReleaseRow>> {
    let candidates = ReleaseFilter {
        product: Some(current.product_id.clone()),
        package: Some(package),
        channels: Some(channels_within(channel).to_vec()),
        status: Some("PUBLISHED".into()),
        ..Default::default()
    };
    let page = projections::PageRequest::everything();
    let rows = projections::releases::list(&state.db, account_id, audience, &candidates, page)
        .await?
        .items;
    let Some(from) = VersionParts::parse(&current.version) else {
        return Ok(None);
    };
    Ok(rows
        .into_iter()
        .filter(|r| r.id != current.id && r.version != current.version)
        .filter_map(|r| VersionParts::parse(&r.version).map(|v| (v, r)))
        .filter(|(v, _)| v.upgrades(&from) && constraint.is_none_or(|c| c.admits(v)))
        .max_by(|(a, _), (b, _)| a.order(b))
        .map(|(_, r)| r))
}
