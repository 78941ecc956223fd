//! Given/when/then tests of the policy aggregate: its rules, its key pool and its entitlements.

use super::*;
use cqrs_es::test::TestFramework;
use serde_json::json;

fn create(attributes: Value) -> PolicyCommand {
    PolicyCommand::Create {
        id: "pol".into(),
        account_id: "a".into(),
        product_id: "p".into(),
        attributes: attributes.as_object().unwrap().clone(),
        account_protected: false,
        at: chrono::DateTime::UNIX_EPOCH,
    }
}

fn created(attributes: Value) -> PolicyEvent {
    let events = TestFramework::<Policy>::with(NoServices)
        .given_no_previous_events()
        .when(create(attributes))
        .inspect_result()
        .unwrap();
    events.into_iter().next().unwrap()
}

fn attrs(event: &PolicyEvent) -> &PolicyAttributes {
    match event {
        PolicyEvent::Created { attributes, .. } => attributes,
        _ => panic!("not a create"),
    }
}

#[test]
fn a_node_locked_policy_is_limited_to_one_machine() {
    let event = created(json!({"name": "Node"}));
    assert_eq!(attrs(&event).limits.max_machines, Some(1));
    let event = created(json!({"name": "Node", "max_machines": null}));
    assert_eq!(attrs(&event).limits.max_machines, Some(1));
    let event = created(json!({"name": "Float", "floating": true, "max_machines": 5}));
    assert_eq!(attrs(&event).limits.max_machines, Some(5));
    let event = created(json!({"name": "Float", "floating": true}));
    assert_eq!(attrs(&event).limits.max_machines, None);
    let refused = TestFramework::<Policy>::with(NoServices)
        .given_no_previous_events()
        .when(create(json!({"name": "Node", "max_machines": 5})))
        .inspect_result();
    assert_eq!(refused.unwrap_err().code, "MAX_MACHINES_INVALID");
}

#[test]
fn an_update_to_node_locked_keeps_exactly_one_machine() {
    let floating = created(json!({"name": "Float", "floating": true, "max_machines": 5}));
    let refused = TestFramework::<Policy>::with(NoServices)
        .given(vec![floating.clone()])
        .when(PolicyCommand::Update {
            changes: json!({"floating": false}).as_object().unwrap().clone(),
            at: chrono::DateTime::UNIX_EPOCH,
        })
        .inspect_result();
    assert_eq!(refused.unwrap_err().code, "MAX_MACHINES_INVALID");
    let events = TestFramework::<Policy>::with(NoServices)
        .given(vec![floating])
        .when(PolicyCommand::Update {
            changes: json!({"floating": false, "max_machines": null})
                .as_object()
                .unwrap()
                .clone(),
            at: chrono::DateTime::UNIX_EPOCH,
        })
        .inspect_result()
        .unwrap();
    match &events[0] {
        PolicyEvent::Updated { attributes, .. } => assert_eq!(attributes.limits.max_machines, Some(1)),
        other => panic!("not an update: {other:?}"),
    }
}

#[test]
fn defaults_follow_keygen() {
    let event = created(json!({"name": "P"}));
    let a = attrs(&event);
    assert_eq!(a.expiration_strategy.as_str(), "RESTRICT_ACCESS");
    assert_eq!(a.authentication_strategy.as_str(), "TOKEN");
    assert_eq!(a.heartbeat_basis.as_str(), "FROM_FIRST_PING");
    assert_eq!(a.process_leasing_strategy.as_str(), "PER_MACHINE");
    let event = created(json!({"name": "P", "require_heartbeat": true}));
    assert_eq!(attrs(&event).heartbeat_basis, HeartbeatBasis::FromCreation);
}

#[test]
fn fractional_overage_is_refused_for_node_locked_and_indivisible_limits() {
    let result = TestFramework::<Policy>::with(NoServices)
        .given_no_previous_events()
        .when(create(json!({"name": "P", "overage_strategy": "ALLOW_1_5X_OVERAGE"})))
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "OVERAGE_STRATEGY_NOT_ALLOWED");
    let result = TestFramework::<Policy>::with(NoServices)
        .given_no_previous_events()
        .when(create(
            json!({"name": "P", "floating": true, "max_machines": 3, "overage_strategy": "ALLOW_1_25X_OVERAGE"}),
        ))
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "MAX_MACHINES_INVALID");
}

#[test]
fn the_pool_pops_the_newest_key_and_then_is_empty() {
    let pool = created(json!({"name": "P", "use_pool": true}));
    let at = chrono::DateTime::UNIX_EPOCH;
    let k1 = PoolKey {
        id: "k1".into(),
        key: "first-key".into(),
    };
    let k2 = PoolKey {
        id: "k2".into(),
        key: "second-key".into(),
    };
    let added = |key: &PoolKey| PolicyEvent::KeyCreated {
        account_id: "a".into(),
        key: key.clone(),
        created_at: at,
    };
    TestFramework::<Policy>::with(NoServices)
        .given(vec![pool.clone(), added(&k1), added(&k2)])
        .when(PolicyCommand::PopKey {
            key_id: "k2".into(),
            at,
        })
        .then_expect_events(vec![PolicyEvent::PoolPopped {
            account_id: "a".into(),
            key: k2.clone(),
            popped_at: at,
        }]);
    let result = TestFramework::<Policy>::with(NoServices)
        .given(vec![
            pool,
            added(&k1),
            PolicyEvent::PoolPopped {
                account_id: "a".into(),
                key: k1,
                popped_at: at,
            },
        ])
        .when(PolicyCommand::PopKey {
            key_id: "k1".into(),
            at,
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "POLICY_POOL_EMPTY");
}

#[test]
fn a_key_taken_meanwhile_is_an_empty_pool_and_a_deleted_policy_is_not_found() {
    let pool = created(json!({"name": "P", "use_pool": true}));
    let at = chrono::DateTime::UNIX_EPOCH;
    let key = PoolKey {
        id: "k1".into(),
        key: "first-key".into(),
    };
    let added = PolicyEvent::KeyCreated {
        account_id: "a".into(),
        key,
        created_at: at,
    };
    let pop = |id: &str| PolicyCommand::PopKey { key_id: id.into(), at };
    let taken = TestFramework::<Policy>::with(NoServices)
        .given(vec![pool.clone(), added.clone()])
        .when(pop("k-taken-by-a-license"))
        .inspect_result();
    assert_eq!(
        taken.unwrap_err().code,
        "POLICY_POOL_EMPTY",
        "the caller tries the next key"
    );
    let deleted = PolicyEvent::Deleted {
        account_id: "a".into(),
        deleted_at: at,
    };
    let gone = TestFramework::<Policy>::with(NoServices)
        .given(vec![pool, added, deleted])
        .when(pop("k1"))
        .inspect_result();
    assert_eq!(
        gone.unwrap_err().code,
        "NOT_FOUND",
        "a deleted policy is not an empty pool"
    );
}
