//! Given/when/then tests of the license aggregate and validation order.
//!
//! About 400 lines on purpose: the license's rules and the validation order, given/when/then.

use super::validation::{validate, LicenseFacts, Scope};
use super::*;
use crate::entitlement::EntitlementChange;
use crate::policy::PolicyAttributes;
use crate::EntitlementId;
use crate::{NoServices, Timestamp};
use cqrs_es::test::TestFramework;
use serde_json::json;
use serde_json::{Map, Value};

pub(super) fn t(s: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

pub(super) fn policy(changes: Value) -> PolicySnapshot {
    let attributes = PolicyAttributes::defaults("P".into(), false)
        .merged(changes.as_object().unwrap())
        .unwrap();
    PolicySnapshot {
        id: "pol".into(),
        product_id: "prod".into(),
        attributes,
    }
}

pub(super) fn created(expiry: Option<Timestamp>) -> LicenseEvent {
    LicenseEvent::Created {
        id: "lic".into(),
        account_id: "acct".into(),
        product_id: "prod".into(),
        policy_id: "pol".into(),
        key: "KEY-123456".into(),
        pooled_key_id: None,
        attributes: LicenseAttributes {
            expiry,
            ..Default::default()
        },
        last_check_in: None,
        created_at: t("2024-01-01T00:00:00Z"),
    }
}

#[test]
fn creation_starts_the_expiry_from_the_policy_duration() {
    let at = t("2022-10-16T14:52:48Z");
    let events = TestFramework::<License>::with(NoServices)
        .given_no_previous_events()
        .when(LicenseCommand::Create {
            id: "lic".into(),
            account_id: "acct".into(),
            policy: policy(json!({"duration": 2_629_746})),
            key: NewKey::Custom("ABC-123".into()),
            attributes: Map::new(),
            at,
        })
        .inspect_result()
        .unwrap();
    match &events[0] {
        LicenseEvent::Created { attributes, .. } => assert_eq!(attributes.expiry, Some(t("2022-11-16T14:52:48Z"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn renewal_follows_the_renewal_basis() {
    let expiry = t("2024-02-01T00:00:00Z");
    let now = t("2024-03-01T00:00:00Z");
    let day = 86_400;
    for (basis, expected) in [
        ("FROM_EXPIRY", t("2024-02-02T00:00:00Z")),
        ("FROM_NOW", t("2024-03-02T00:00:00Z")),
        ("FROM_NOW_IF_EXPIRED", t("2024-03-02T00:00:00Z")),
    ] {
        TestFramework::<License>::with(NoServices)
            .given(vec![created(Some(expiry))])
            .when(LicenseCommand::Renew {
                policy: policy(json!({"duration": day, "renewal_basis": basis})),
                at: now,
            })
            .then_expect_events(vec![LicenseEvent::Renewed {
                expiry: Some(expected),
                at: now,
            }]);
    }
    // Not yet expired: FROM_NOW_IF_EXPIRED extends from the current expiry.
    let early = t("2024-01-15T00:00:00Z");
    TestFramework::<License>::with(NoServices)
        .given(vec![created(Some(expiry))])
        .when(LicenseCommand::Renew {
            policy: policy(json!({"duration": day, "renewal_basis": "FROM_NOW_IF_EXPIRED"})),
            at: early,
        })
        .then_expect_events(vec![LicenseEvent::Renewed {
            expiry: Some(t("2024-02-02T00:00:00Z")),
            at: early,
        }]);
}

#[test]
fn usage_cannot_pass_max_uses() {
    let at = t("2024-01-02T00:00:00Z");
    let result = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), LicenseEvent::UsageIncremented { uses: 2, at }])
        .when(LicenseCommand::IncrementUsage {
            policy: policy(json!({"max_uses": 2})),
            by: 1,
            at,
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "USES_LIMIT_EXCEEDED");
    let result = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(LicenseCommand::DecrementUsage { by: 1, at })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "USES_INVALID");
}

#[test]
fn the_first_use_starts_the_expiry_when_the_basis_says_so() {
    let at = t("2024-01-02T00:00:00Z");
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(LicenseCommand::IncrementUsage {
            policy: policy(json!({"duration": 86_400, "expiration_basis": "FROM_FIRST_USE"})),
            by: 1,
            at,
        })
        .then_expect_events(vec![
            LicenseEvent::UsageIncremented { uses: 1, at },
            LicenseEvent::Updated {
                attributes: LicenseAttributes {
                    expiry: Some(t("2024-01-03T00:00:00Z")),
                    ..Default::default()
                },
                updated_at: at,
            },
        ]);
}

#[test]
fn changing_to_a_stricter_uniqueness_policy_is_refused() {
    let at = t("2024-01-02T00:00:00Z");
    let result = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(LicenseCommand::ChangePolicy {
            from: policy(json!({})),
            to: PolicySnapshot {
                id: "p2".into(),
                ..policy(json!({"machine_uniqueness_strategy": "UNIQUE_PER_ACCOUNT"}))
            },
            at,
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "POLICY_NOT_COMPATIBLE");
    TestFramework::<License>::with(NoServices)
        .given(vec![created(Some(t("2030-01-01T00:00:00Z")))])
        .when(LicenseCommand::ChangePolicy {
            from: policy(json!({})),
            to: PolicySnapshot {
                id: "p2".into(),
                ..policy(json!({"transfer_strategy": "RESET_EXPIRY", "duration": 86_400}))
            },
            at,
        })
        .then_expect_events(vec![LicenseEvent::PolicyChanged {
            product_id: "prod".into(),
            policy_id: "p2".into(),
            expiry: Some(t("2024-01-03T00:00:00Z")),
            moved: Vec::new(),
            at,
        }]);
}

fn facts() -> LicenseFacts {
    LicenseFacts {
        product_id: "prod".into(),
        policy_id: "pol".into(),
        suspended: false,
        expiry: None,
        last_check_in: None,
        entitlement_codes: vec!["a".into()],
        limits: LicenseLimits::default(),
        machines: validation::MachineFacts::default(),
    }
}

#[test]
fn suspension_wins_over_expiry_and_scope() {
    let now = t("2024-06-01T00:00:00Z");
    let license = LicenseFacts {
        suspended: true,
        expiry: Some(t("2024-01-01T00:00:00Z")),
        ..facts()
    };
    let scope = Scope {
        product: Some("other".into()),
        ..Default::default()
    };
    let p = policy(json!({"expiration_strategy": "REVOKE_ACCESS"}));
    assert_eq!(validate(&license, &p.attributes, Some(&scope), now).code, "SUSPENDED");
}

#[test]
fn expiration_strategies_decide_validity_and_order() {
    let now = t("2024-06-01T00:00:00Z");
    let license = LicenseFacts {
        expiry: Some(t("2024-01-01T00:00:00Z")),
        ..facts()
    };
    let mismatch = Scope {
        product: Some("other".into()),
        ..Default::default()
    };
    for (strategy, valid, with_bad_scope) in [
        ("REVOKE_ACCESS", false, "EXPIRED"),
        ("RESTRICT_ACCESS", false, "PRODUCT_SCOPE_MISMATCH"),
        ("MAINTAIN_ACCESS", true, "PRODUCT_SCOPE_MISMATCH"),
        ("ALLOW_ACCESS", true, "PRODUCT_SCOPE_MISMATCH"),
    ] {
        let p = policy(json!({"expiration_strategy": strategy}));
        let outcome = validate(&license, &p.attributes, None, now);
        assert_eq!((outcome.code, outcome.valid), ("EXPIRED", valid), "{strategy}");
        assert_eq!(
            validate(&license, &p.attributes, Some(&mismatch), now).code,
            with_bad_scope,
            "{strategy}"
        );
    }
}

#[test]
fn required_scopes_and_entitlements_are_checked_in_order() {
    let now = t("2024-06-01T00:00:00Z");
    let p = policy(json!({"require_product_scope": true, "require_policy_scope": true}));
    let empty = Scope::default();
    assert_eq!(
        validate(&facts(), &p.attributes, Some(&empty), now).code,
        "PRODUCT_SCOPE_REQUIRED"
    );
    let product = Scope {
        product: Some("prod".into()),
        ..Default::default()
    };
    assert_eq!(
        validate(&facts(), &p.attributes, Some(&product), now).code,
        "POLICY_SCOPE_REQUIRED"
    );
    let all = Scope {
        product: Some("prod".into()),
        policy: Some("pol".into()),
        entitlements: Some(vec!["a".into(), "b".into()]),
        ..Default::default()
    };
    assert_eq!(
        validate(&facts(), &p.attributes, Some(&all), now).code,
        "ENTITLEMENTS_MISSING"
    );
    let none = Scope {
        entitlements: Some(vec![]),
        ..all.clone()
    };
    assert_eq!(
        validate(&facts(), &p.attributes, Some(&none), now).code,
        "ENTITLEMENTS_SCOPE_EMPTY"
    );
    let ok = Scope {
        entitlements: Some(vec!["a".into()]),
        ..all
    };
    assert_eq!(validate(&facts(), &p.attributes, Some(&ok), now).code, "VALID");
    assert_eq!(
        validate(&facts(), &p.attributes, None, now).code,
        "VALID",
        "quick validation skips scopes"
    );
}

#[test]
fn an_overdue_check_in_fails_before_scopes() {
    let p = policy(json!({"require_check_in": true, "check_in_interval": "week", "check_in_interval_count": 1}));
    let license = LicenseFacts {
        last_check_in: Some(t("2024-01-01T00:00:00Z")),
        ..facts()
    };
    let scope = Scope {
        product: Some("other".into()),
        ..Default::default()
    };
    assert_eq!(
        validate(&license, &p.attributes, Some(&scope), t("2024-01-09T00:00:00Z")).code,
        "OVERDUE"
    );
    assert_eq!(
        validate(&license, &p.attributes, None, t("2024-01-07T00:00:00Z")).code,
        "VALID"
    );
}

#[test]
fn a_snapshot_of_another_policy_is_refused() {
    let other = PolicySnapshot {
        id: "another-policy".into(),
        ..policy(
            json!({"duration": 86_400, "require_check_in": true, "check_in_interval": "day", "check_in_interval_count": 1}),
        )
    };
    let at = t("2024-01-02T00:00:00Z");
    let commands = [
        LicenseCommand::Update {
            policy: other.clone(),
            changes: Map::new(),
            at,
        },
        LicenseCommand::Renew {
            policy: other.clone(),
            at,
        },
        LicenseCommand::CheckIn {
            policy: other.clone(),
            at,
        },
        LicenseCommand::IncrementUsage {
            policy: other.clone(),
            by: 1,
            at,
        },
        LicenseCommand::StartExpiryOnValidation {
            policy: other.clone(),
            at,
        },
        LicenseCommand::ChangePolicy {
            from: other.clone(),
            to: policy(json!({})),
            at,
        },
        LicenseCommand::DetachEntitlements {
            change: change(&["e1"], at),
            inherited: PolicyEntitlements {
                policy_id: other.id.clone(),
                entitlement_ids: Vec::new(),
            },
        },
    ];
    for command in commands {
        let err = TestFramework::<License>::with(NoServices)
            .given(vec![created(Some(t("2024-06-01T00:00:00Z")))])
            .when(command.clone())
            .inspect_result()
            .expect_err("decided on the wrong policy");
        assert_eq!(
            (err.kind, err.code.as_str()),
            (crate::error::ErrorKind::Conflict, "CONFLICT"),
            "{command:?}"
        );
    }
}

#[test]
fn an_entitlement_named_twice_is_attached_once() {
    let events = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(LicenseCommand::AttachEntitlements(change(
            &["a", "b", "a"],
            t("2024-01-02T00:00:00Z"),
        )))
        .inspect_result()
        .unwrap();
    match &events[..] {
        [LicenseEvent::EntitlementsAttached(c)] => assert_eq!(c.entitlement_ids, &["a", "b"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_inherited_entitlement_cannot_be_detached() {
    let attached = LicenseEvent::EntitlementsAttached(change(&["own"], t("2024-01-02T00:00:00Z")));
    let inherited = PolicyEntitlements {
        policy_id: "pol".into(),
        entitlement_ids: vec!["from-policy".into()],
    };
    let err = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), attached.clone()])
        .when(LicenseCommand::DetachEntitlements {
            change: change(&["own", "from-policy"], t("2024-01-03T00:00:00Z")),
            inherited: inherited.clone(),
        })
        .inspect_result()
        .expect_err("inherited");
    assert_eq!(err.kind, crate::error::ErrorKind::Forbidden);
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None), attached])
        .when(LicenseCommand::DetachEntitlements {
            change: change(&["own", "own"], t("2024-01-03T00:00:00Z")),
            inherited,
        })
        .then_expect_events(vec![LicenseEvent::EntitlementsDetached(change(
            &["own"],
            t("2024-01-03T00:00:00Z"),
        ))]);
}

/// An attach or detach of `ids` at `at`.
fn change(ids: &[&str], at: Timestamp) -> EntitlementChange {
    EntitlementChange {
        entitlement_ids: ids.iter().map(|id| EntitlementId::from(*id)).collect(),
        at,
    }
}

#[test]
fn an_expiry_stored_past_9999_does_not_block_other_changes() {
    use chrono::TimeZone;
    let far = chrono::Utc.with_ymd_and_hms(12_000, 1, 1, 0, 0, 0).unwrap();
    let at = t("2024-01-02T00:00:00Z");
    let rename = serde_json::from_value::<Map<String, Value>>(json!({"name": "Renamed"})).unwrap();
    TestFramework::<License>::with(NoServices)
        .given(vec![created(Some(far))])
        .when(LicenseCommand::Update {
            policy: policy(json!({})),
            changes: rename,
            at,
        })
        .inspect_result()
        .expect("a rename keeps the stored expiry");
    let moved = serde_json::from_value::<Map<String, Value>>(json!({"expiry": "9999-12-31T23:59:59Z"})).unwrap();
    TestFramework::<License>::with(NoServices)
        .given(vec![created(Some(far))])
        .when(LicenseCommand::Update {
            policy: policy(json!({})),
            changes: moved,
            at,
        })
        .inspect_result()
        .expect("an expiry brought back within range is taken");
}
