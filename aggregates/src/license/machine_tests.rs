//! Given/when/then tests of the license's decisions on its machines.

use super::machines::{within_overage, NewComponent};
use super::tests::{created, policy, t};
use super::*;
use crate::claims::{digest, ClaimOp};
use crate::{DomainError, MachineId, NoServices};
use cqrs_es::test::TestFramework;
use serde_json::json;

fn machine(id: &str, fingerprint: &str, cores: Option<i64>) -> NewMachine {
    NewMachine {
        slot: MachineSlot {
            id: MachineId::from(id),
            fingerprint: fingerprint.into(),
            cores,
            memory: None,
            disk: None,
            ..Default::default()
        },
        attributes: MachineAttributes::default(),
        components: Vec::new(),
    }
}

fn activated(id: &str, fingerprint: &str, cores: Option<i64>, claim: Option<&str>) -> LicenseEvent {
    LicenseEvent::MachineActivated {
        machine: MachineSlot {
            claim: claim.map(str::to_owned),
            ..machine(id, fingerprint, cores).slot
        },
        attributes: MachineAttributes::default(),
        heartbeat_deadline: None,
        components: Vec::new(),
        token: None,
        created_at: t("2024-01-02T00:00:00Z"),
    }
}

fn activate(policy_changes: serde_json::Value, new: NewMachine) -> LicenseCommand {
    LicenseCommand::ActivateMachine {
        policy: policy(policy_changes),
        machine: new,
        token: None,
        at: t("2024-01-02T00:00:00Z"),
    }
}

fn refused(code: &str) -> impl Fn(&DomainError) -> bool + '_ {
    move |err| err.code == code
}

#[test]
fn a_machine_within_the_limit_is_activated_and_the_next_one_over_it_refused() {
    let floating = json!({"floating": true, "max_machines": 2});
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(activate(floating.clone(), machine("m1", "fp-1", Some(2))))
        .then_expect_events(vec![activated("m1", "fp-1", Some(2), None)]);
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![
            created(None),
            activated("m1", "fp-1", None, None),
            activated("m2", "fp-2", None, None),
        ])
        .when(activate(floating, machine("m3", "fp-3", None)))
        .inspect_result()
        .unwrap_err();
    assert!(refused("MACHINE_LIMIT_EXCEEDED")(&error), "{error:?}");
    assert_eq!(
        error.detail,
        "machine count has exceeded maximum allowed for license (2)"
    );
}

#[test]
fn a_deactivated_machine_frees_its_slot_and_its_fingerprint() {
    let node_locked = json!({});
    let deactivated = LicenseEvent::MachineDeactivated {
        machine: machine("m1", "fp-1", None).slot,
        token: None,
        at: t("2024-01-03T00:00:00Z"),
    };
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None), activated("m1", "fp-1", None, None), deactivated])
        .when(activate(node_locked, machine("m2", "fp-1", None)))
        .then_expect_events(vec![activated("m2", "fp-1", None, None)]);
}

#[test]
fn a_fingerprint_is_unique_on_its_license_and_claimed_in_the_scope_its_policy_names() {
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), activated("m1", "fp-1", None, None)])
        .when(activate(json!({"floating": true}), machine("m2", "fp-1", None)))
        .inspect_result()
        .unwrap_err();
    assert!(refused("FINGERPRINT_TAKEN")(&error), "{error:?}");
    let per_policy = json!({"floating": true, "machine_uniqueness_strategy": "UNIQUE_PER_POLICY"});
    let events = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(activate(per_policy, machine("m1", "fp-1", None)))
        .inspect_result()
        .unwrap();
    assert_eq!(
        events[0].claims(),
        vec![ClaimOp::Add {
            scope: "machine.fingerprint:policy:pol".into(),
            value: digest("fp-1"),
            code: "FINGERPRINT_TAKEN",
            detail: "has already been taken for this policy",
            subject: crate::Subject::Attribute("fingerprint".into()),
        }]
    );
    // Deactivation gives the claim up, in the scope it was made in.
    let events = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), events[0].clone()])
        .when(LicenseCommand::DeactivateMachine {
            machine_id: "m1".into(),
            token: None,
            at: t("2024-01-03T00:00:00Z"),
        })
        .inspect_result()
        .unwrap();
    assert_eq!(
        events[0].claims(),
        vec![ClaimOp::Release {
            scope: "machine.fingerprint:policy:pol".into(),
            value: digest("fp-1"),
        }]
    );
}

#[test]
fn cores_over_the_limit_are_refused_unless_the_overage_allows_them() {
    let given = vec![created(None), activated("m1", "fp-1", Some(6), None)];
    let error = TestFramework::<License>::with(NoServices)
        .given(given.clone())
        .when(activate(
            json!({"floating": true, "max_cores": 8}),
            machine("m2", "fp-2", Some(3)),
        ))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code, "MACHINE_CORE_LIMIT_EXCEEDED");
    assert_eq!(
        error.detail,
        "machine core count has exceeded maximum allowed for license (8)"
    );
    TestFramework::<License>::with(NoServices)
        .given(given)
        .when(activate(
            json!({"floating": true, "max_cores": 8, "overage_strategy": "ALLOW_2X_OVERAGE"}),
            machine("m2", "fp-2", Some(3)),
        ))
        .then_expect_events(vec![activated("m2", "fp-2", Some(3), None)]);
}

#[test]
fn a_deleted_license_activates_nothing_and_an_unknown_machine_is_not_deactivated() {
    let deleted = LicenseEvent::Deleted {
        deleted_at: t("2024-01-03T00:00:00Z"),
    };
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), deleted])
        .when(activate(json!({}), machine("m1", "fp-1", None)))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error, DomainError::not_found());
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(LicenseCommand::DeactivateMachine {
            machine_id: "m9".into(),
            token: None,
            at: t("2024-01-03T00:00:00Z"),
        })
        .inspect_result()
        .unwrap_err();
    assert_eq!(error, DomainError::not_found());
}

#[test]
fn an_activation_token_counts_its_activations_and_deactivations_up_to_its_maxima() {
    let token = ActivationToken {
        id: "tok".into(),
        max_activations: Some(1),
        max_deactivations: Some(1),
    };
    let used = |count| {
        Some(TokenUse {
            id: "tok".into(),
            count,
        })
    };
    let floating = json!({"floating": true});
    let with_token = |new: NewMachine| LicenseCommand::ActivateMachine {
        policy: policy(floating.clone()),
        machine: new,
        token: Some(token.clone()),
        at: t("2024-01-02T00:00:00Z"),
    };
    let mut first = activated("m1", "fp-1", None, None);
    if let LicenseEvent::MachineActivated { token, .. } = &mut first {
        *token = used(1);
    }
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(with_token(machine("m1", "fp-1", None)))
        .then_expect_events(vec![first.clone()]);
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), first.clone()])
        .when(with_token(machine("m2", "fp-2", None)))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code, "ACTIVATIONS_LIMIT_EXCEEDED");
    assert_eq!(error.detail, "exceeds maximum allowed (1)");
    assert_eq!(error.subject, Some(crate::Subject::Attribute("activations".into())));
    // Another token, or none, is not held by this one's count.
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None), first.clone()])
        .when(activate(floating.clone(), machine("m2", "fp-2", None)))
        .then_expect_events(vec![activated("m2", "fp-2", None, None)]);
    let deactivate = |id: &str| LicenseCommand::DeactivateMachine {
        machine_id: id.into(),
        token: Some(token.clone()),
        at: t("2024-01-03T00:00:00Z"),
    };
    let gone = LicenseEvent::MachineDeactivated {
        machine: machine("m1", "fp-1", None).slot,
        token: used(1),
        at: t("2024-01-03T00:00:00Z"),
    };
    TestFramework::<License>::with(NoServices)
        .given(vec![created(None), first.clone()])
        .when(deactivate("m1"))
        .then_expect_events(vec![gone.clone()]);
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), first, activated("m2", "fp-2", None, None), gone])
        .when(deactivate("m2"))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code, "DEACTIVATIONS_LIMIT_EXCEEDED");
}

#[test]
fn overage_allows_what_keygens_formula_allows() {
    use crate::vocabulary::OverageStrategy::*;
    for (strategy, limit, largest) in [
        (NoOverage, 4, 4),
        (Allow125x, 4, 5),
        (Allow125x, 8, 10),
        (Allow15x, 4, 6),
        (Allow15x, 2, 3),
        (Allow2x, 1, 2),
        (Allow2x, 5, 10),
    ] {
        assert!(
            within_overage(strategy, largest, limit),
            "{strategy:?} {limit} {largest}"
        );
        assert!(
            !within_overage(strategy, largest + 1, limit),
            "{strategy:?} {limit} {largest}"
        );
    }
    assert!(within_overage(AlwaysAllow, 1_000, 1));
}

#[test]
fn a_component_added_on_its_own_is_unique_on_its_license_and_claimed_with_its_machines_scope() {
    let component = |id: &str, fingerprint: &str| NewComponent {
        id: id.into(),
        fingerprint: fingerprint.into(),
        name: "Part".into(),
        metadata: Default::default(),
    };
    let mut with_cpu = machine("m1", "fp-1", None);
    with_cpu.components = vec![component("c1", "cpu")];
    let per_account = json!({"floating": true, "component_uniqueness_strategy": "UNIQUE_PER_ACCOUNT"});
    let activated = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(activate(per_account.clone(), with_cpu))
        .inspect_result()
        .unwrap();
    let add = |fingerprint: &str| LicenseCommand::AddComponent {
        policy: policy(per_account.clone()),
        machine_id: "m1".into(),
        component: component("c2", fingerprint),
        at: t("2024-01-03T00:00:00Z"),
    };
    let error = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), activated[0].clone()])
        .when(add("cpu"))
        .inspect_result()
        .unwrap_err();
    assert_eq!(error.code, "FINGERPRINT_TAKEN");
    let added = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), activated[0].clone()])
        .when(add("gpu"))
        .inspect_result()
        .unwrap();
    let scope = "component.fingerprint:account:acct".to_string();
    assert!(
        matches!(&added[0].claims()[..], [ClaimOp::Add { scope: s, value, .. }] if *s == scope && *value == digest("gpu"))
    );
    let removed = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), activated[0].clone(), added[0].clone()])
        .when(LicenseCommand::RemoveComponent {
            id: "c2".into(),
            at: t("2024-01-04T00:00:00Z"),
        })
        .inspect_result()
        .unwrap();
    assert_eq!(
        removed[0].claims(),
        vec![ClaimOp::Release {
            scope,
            value: digest("gpu")
        }]
    );
}

#[test]
fn a_policy_change_moves_a_fingerprint_claimed_per_policy_to_the_new_policy() {
    let per_policy = json!({"floating": true, "machine_uniqueness_strategy": "UNIQUE_PER_POLICY"});
    let events = TestFramework::<License>::with(NoServices)
        .given(vec![created(None)])
        .when(activate(per_policy.clone(), machine("m1", "fp-1", None)))
        .inspect_result()
        .unwrap();
    let change = |to: serde_json::Value| LicenseCommand::ChangePolicy {
        from: policy(per_policy.clone()),
        to: PolicySnapshot {
            id: "p2".into(),
            ..policy(to)
        },
        at: t("2024-01-05T00:00:00Z"),
    };
    let changed = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), events[0].clone()])
        .when(change(per_policy.clone()))
        .inspect_result()
        .unwrap();
    let claims = changed[0].claims();
    assert_eq!(
        &claims[2..],
        [
            ClaimOp::Release {
                scope: "machine.fingerprint:policy:pol".into(),
                value: digest("fp-1"),
            },
            ClaimOp::AddIfFree {
                scope: "machine.fingerprint:policy:p2".into(),
                value: digest("fp-1"),
            },
        ]
    );
    // Under the new policy the machine holds the new claim: deactivating it gives that up.
    let gone = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), events[0].clone(), changed[0].clone()])
        .when(LicenseCommand::DeactivateMachine {
            machine_id: "m1".into(),
            token: None,
            at: t("2024-01-06T00:00:00Z"),
        })
        .inspect_result()
        .unwrap();
    assert_eq!(
        gone[0].claims(),
        vec![ClaimOp::Release {
            scope: "machine.fingerprint:policy:p2".into(),
            value: digest("fp-1"),
        }]
    );
    // To a policy unique per license, the claim is only given up.
    let narrower = TestFramework::<License>::with(NoServices)
        .given(vec![created(None), events[0].clone()])
        .when(change(json!({"floating": true})))
        .inspect_result()
        .unwrap();
    assert_eq!(narrower[0].claims().len(), 3, "{:?}", narrower[0].claims());
}
