//! License validation as Keygen evaluates it: the first failing rule wins, in Keygen's order.
//! A validation is an observation, not a command: this is a pure function over what the read
//! models know, and it changes nothing.

use super::expiry::advance_interval;
use super::machine_validation::{check_components, check_fingerprints, check_machine, check_strict};
pub use super::machine_validation::{MachineFact, MachineFacts};
use crate::policy::PolicyAttributes;
use crate::vocabulary::ExpirationStrategy;
use crate::Timestamp;

/// The scope a client validates against (`meta.scope`); a key that was absent is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub environment: Option<Option<String>>,
    pub product: Option<String>,
    pub policy: Option<String>,
    pub user: Option<Option<String>>,
    pub machine: Option<String>,
    pub fingerprint: Option<String>,
    pub fingerprints: Option<Vec<String>>,
    pub components: Option<Vec<String>>,
    pub entitlements: Option<Vec<String>>,
    pub checksum: Option<String>,
    pub version: Option<String>,
}

/// What validation needs to know of a license.
#[derive(Debug, Clone)]
pub struct LicenseFacts {
    pub product_id: String,
    pub policy_id: String,
    pub suspended: bool,
    pub expiry: Option<Timestamp>,
    pub last_check_in: Option<Timestamp>,
    /// Codes of the license's entitlements (the policy's and its own).
    pub entitlement_codes: Vec<String>,
    /// The limits in force (the license's own over its policy's).
    pub limits: super::LicenseLimits,
    /// The license's active machines.
    pub machines: MachineFacts,
}

/// The result: `valid`, Keygen's detail string and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub valid: bool,
    pub detail: String,
    pub code: &'static str,
}

fn fail(detail: &str, code: &'static str) -> Outcome {
    Outcome {
        valid: false,
        detail: detail.into(),
        code,
    }
}

/// Whether the license's expiry has passed.
pub fn is_expired(expiry: Option<Timestamp>, now: Timestamp) -> bool {
    expiry.is_some_and(|e| e < now)
}

/// Whether a required check-in is overdue.
pub fn is_overdue(policy: &PolicyAttributes, last_check_in: Option<Timestamp>, now: Timestamp) -> bool {
    if !policy.require_check_in {
        return false;
    }
    let (Some(interval), Some(count)) = (policy.check_in_interval, policy.check_in_interval_count) else {
        return false;
    };
    match last_check_in {
        None => true,
        Some(last) => advance_interval(last, interval, count).is_some_and(|due| due < now),
    }
}

/// When the next check-in is due.
pub fn next_check_in(policy: &PolicyAttributes, last_check_in: Option<Timestamp>) -> Option<Timestamp> {
    let (Some(interval), Some(count), Some(last)) =
        (policy.check_in_interval, policy.check_in_interval_count, last_check_in)
    else {
        return None;
    };
    policy
        .require_check_in
        .then(|| advance_interval(last, interval, count))
        .flatten()
}

/// The scope block: each key present is compared; each absent key the policy requires fails.
fn check_scope(license: &LicenseFacts, policy: &PolicyAttributes, scope: &Scope) -> Option<Outcome> {
    if let Some(Some(_)) = &scope.environment {
        return Some(fail("environment scope does not match", "ENVIRONMENT_SCOPE_MISMATCH"));
    }
    match &scope.product {
        Some(p) if *p != license.product_id => {
            return Some(fail("product scope does not match", "PRODUCT_SCOPE_MISMATCH"))
        }
        None if policy.require_product_scope => {
            return Some(fail("product scope is required", "PRODUCT_SCOPE_REQUIRED"))
        }
        _ => {}
    }
    match &scope.policy {
        Some(p) if *p != license.policy_id => {
            return Some(fail("policy scope does not match", "POLICY_SCOPE_MISMATCH"))
        }
        None if policy.require_policy_scope => return Some(fail("policy scope is required", "POLICY_SCOPE_REQUIRED")),
        _ => {}
    }
    match &scope.user {
        // Licenses have no users yet: only `user: null` (an owner-less license) matches.
        Some(Some(_)) => return Some(fail("user scope does not match", "USER_SCOPE_MISMATCH")),
        None if policy.require_user_scope => return Some(fail("user scope is required", "USER_SCOPE_REQUIRED")),
        _ => {}
    }
    if let Some(wanted) = &scope.entitlements {
        let mut codes: Vec<&String> = wanted.iter().collect();
        codes.dedup();
        if codes.is_empty() {
            return Some(fail("entitlements scope is empty", "ENTITLEMENTS_SCOPE_EMPTY"));
        }
        if codes.iter().any(|c| !license.entitlement_codes.contains(c)) {
            return Some(fail(
                "is missing one or more required entitlements",
                "ENTITLEMENTS_MISSING",
            ));
        }
    }
    match &scope.machine {
        Some(id) => {
            if let Some(outcome) = check_machine(&license.machines, policy, id) {
                return Some(outcome);
            }
        }
        None if policy.require_machine_scope => {
            return Some(fail("machine scope is required", "MACHINE_SCOPE_REQUIRED"))
        }
        None => {}
    }
    // `fingerprint` wins when both keys are given.
    let fingerprints: Option<Vec<&String>> = match (&scope.fingerprint, &scope.fingerprints) {
        (Some(f), _) => Some(vec![f]),
        (None, Some(fs)) => Some(fs.iter().collect()),
        (None, None) => None,
    };
    match fingerprints {
        Some(given) => {
            if let Some(outcome) = check_fingerprints(&license.machines, policy, &given) {
                return Some(outcome);
            }
        }
        None if policy.require_fingerprint_scope => {
            return Some(fail("fingerprint scope is required", "FINGERPRINT_SCOPE_REQUIRED"))
        }
        None => {}
    }
    match (&scope.components, &scope.fingerprint) {
        (Some(_), None) => {
            return Some(fail(
                "fingerprint scope is required when using the components scope",
                "FINGERPRINT_SCOPE_REQUIRED",
            ))
        }
        (Some(components), Some(fingerprint)) => {
            if let Some(outcome) = check_components(&license.machines, policy, fingerprint, components) {
                return Some(outcome);
            }
        }
        (None, _) if policy.require_components_scope => {
            return Some(fail("components scope is required", "COMPONENTS_SCOPE_REQUIRED"))
        }
        (None, _) => {}
    }
    // No releases exist yet, so no checksum or version can match.
    match &scope.checksum {
        Some(_) => return Some(fail("checksum scope does not match", "CHECKSUM_SCOPE_MISMATCH")),
        None if policy.require_checksum_scope => {
            return Some(fail("checksum scope is required", "CHECKSUM_SCOPE_REQUIRED"))
        }
        None => {}
    }
    match &scope.version {
        Some(_) => return Some(fail("version scope does not match", "VERSION_SCOPE_MISMATCH")),
        None if policy.require_version_scope => {
            return Some(fail("version scope is required", "VERSION_SCOPE_REQUIRED"))
        }
        None => {}
    }
    None
}

fn expired_outcome(policy: &PolicyAttributes) -> Outcome {
    let valid = matches!(
        policy.expiration_strategy,
        ExpirationStrategy::AllowAccess | ExpirationStrategy::MaintainAccess
    );
    Outcome {
        valid,
        detail: "is expired".into(),
        code: "EXPIRED",
    }
}

/// Validates a license. `scope` is `None` for the quick (GET) validation, which skips every
/// scope check; an empty scope counts as absent keys.
pub fn validate(license: &LicenseFacts, policy: &PolicyAttributes, scope: Option<&Scope>, now: Timestamp) -> Outcome {
    let expired = is_expired(license.expiry, now);
    if license.suspended {
        return fail("is suspended", "SUSPENDED");
    }
    if expired && policy.expiration_strategy == ExpirationStrategy::RevokeAccess {
        return fail("is expired", "EXPIRED");
    }
    if is_overdue(policy, license.last_check_in, now) {
        return fail("is overdue for check in", "OVERDUE");
    }
    if let Some(scope) = scope {
        if let Some(outcome) = check_scope(license, policy, scope) {
            return outcome;
        }
    }
    if policy.strict {
        let (machine, fingerprints) = match scope {
            Some(scope) => (
                scope.machine.as_deref(),
                match (&scope.fingerprint, &scope.fingerprints) {
                    (Some(f), _) => vec![f],
                    (None, Some(fs)) => fs.iter().collect(),
                    (None, None) => Vec::new(),
                },
            ),
            None => (None, Vec::new()),
        };
        let scoped = license.machines.scoped(machine, &fingerprints);
        if let Some(outcome) = check_strict(&license.machines, policy, &license.limits, scoped) {
            return outcome;
        }
    }
    if expired {
        return expired_outcome(policy);
    }
    Outcome {
        valid: true,
        detail: "is valid".into(),
        code: "VALID",
    }
}

/// Keygen's license status, computed on read (BANNED needs users and is not produced yet).
pub fn status(
    suspended: bool,
    expiry: Option<Timestamp>,
    created_at: Timestamp,
    last_activity: Option<Timestamp>,
    now: Timestamp,
) -> &'static str {
    let ninety_days = chrono::Duration::days(90);
    if suspended {
        "SUSPENDED"
    } else if is_expired(expiry, now) {
        "EXPIRED"
    } else if expiry.is_some_and(|e| e < now + chrono::Duration::days(3)) {
        "EXPIRING"
    } else if created_at < now - ninety_days && last_activity.is_none_or(|a| a < now - ninety_days) {
        "INACTIVE"
    } else {
        "ACTIVE"
    }
}
