//! The fold of license events into rows, event by event.

use super::*;
use aggregates::{AccountId, LicenseId, PolicyId, ProductId};

fn at(second: i64) -> aggregates::Timestamp {
    chrono::DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
}

fn created() -> LicenseEvent {
    LicenseEvent::Created {
        id: LicenseId::from("L1"),
        account_id: AccountId::from("A1"),
        product_id: ProductId::from("P1"),
        policy_id: PolicyId::from("Y1"),
        key: "KEY-1".into(),
        pooled_key_id: None,
        attributes: LicenseAttributes::default(),
        last_check_in: None,
        created_at: at(1),
    }
}

/// Folds `(sequence, event)` pairs of license L1 into `rows`, in order; which applied.
fn fold_all(rows: &mut HashMap<String, Row>, events: &[(i64, LicenseEvent)]) -> Vec<bool> {
    let mut beside = Vec::new();
    events
        .iter()
        .map(|(sequence, event)| {
            let payload = serde_json::to_value(event).unwrap();
            let event = EventRef {
                aggregate_type: "license",
                aggregate_id: "L1",
                sequence: *sequence,
                payload: &payload,
            };
            fold(rows, event, &mut beside, &mut Vec::new()).unwrap()
        })
        .collect()
}

#[test]
fn an_event_applies_only_as_the_next_of_its_license() {
    let mut rows = HashMap::new();
    let applied = fold_all(
        &mut rows,
        &[
            (1, created()),
            (2, LicenseEvent::UsageIncremented { uses: 1, at: at(2) }),
            // Already applied: a repeat changes nothing.
            (2, LicenseEvent::UsageIncremented { uses: 5, at: at(9) }),
            // Ahead of a missing one: waits (the feed brings it in order).
            (4, LicenseEvent::Reinstated { at: at(4) }),
            (3, LicenseEvent::Suspended { at: at(3) }),
            // A create of a row that exists changes nothing.
            (1, created()),
        ],
    );
    assert_eq!(applied, [true, true, false, false, true, false]);
    let row = &rows["L1"];
    assert_eq!((row.uses, row.suspended, row.last_sequence), (1, 1, 3));
    assert_eq!(row.updated_at, micros(&at(3)));
    assert_eq!(row.created_at, micros(&at(1)));
}

#[test]
fn an_event_of_a_license_without_a_row_changes_nothing() {
    let mut rows = HashMap::new();
    let applied = fold_all(&mut rows, &[(2, LicenseEvent::Suspended { at: at(2) })]);
    assert_eq!(applied, [false]);
    assert!(rows.is_empty());
}
