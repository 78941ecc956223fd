//! Product commands and their rules, through cqrs-es's `TestFramework`.

use super::*;
use cqrs_es::test::TestFramework;

fn attrs() -> ProductAttributes {
    ProductAttributes {
        code: Some("app".into()),
        ..ProductAttributes::named("App")
    }
}

fn created() -> ProductEvent {
    ProductEvent::Created {
        id: "p1".into(),
        account_id: "a1".into(),
        attributes: attrs(),
        created_at: chrono::DateTime::UNIX_EPOCH,
    }
}

#[test]
fn a_code_stored_before_the_code_format_does_not_block_other_changes() {
    let at = chrono::DateTime::UNIX_EPOCH;
    let mut old = attrs();
    old.code = Some("Pro Plan".into());
    let stored = ProductEvent::Created {
        id: "p1".into(),
        account_id: "a1".into(),
        attributes: old,
        created_at: at,
    };
    let rename = ProductPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    TestFramework::<Product>::with(NoServices)
        .given(vec![stored.clone()])
        .when(ProductCommand::Update { patch: rename, at })
        .inspect_result()
        .expect("a rename keeps the stored code");
    let recode = ProductPatch {
        code: Some(Some("Still Spaced".into())),
        ..Default::default()
    };
    let refused = TestFramework::<Product>::with(NoServices)
        .given(vec![stored])
        .when(ProductCommand::Update { patch: recode, at })
        .inspect_result();
    assert_eq!(
        refused.unwrap_err().code,
        "CODE_INVALID",
        "a new code follows the format"
    );
}

#[test]
fn an_update_carries_the_merged_attributes() {
    let at = chrono::DateTime::UNIX_EPOCH;
    let patch = ProductPatch {
        url: Some(Some("https://example.com".into())),
        ..Default::default()
    };
    let mut expected = attrs();
    expected.url = Some("https://example.com".into());
    TestFramework::<Product>::with(NoServices)
        .given(vec![created()])
        .when(ProductCommand::Update { patch, at })
        .then_expect_events(vec![ProductEvent::Updated {
            account_id: "a1".into(),
            attributes: expected,
            updated_at: at,
        }]);
}

#[test]
fn an_unknown_distribution_strategy_is_refused() {
    let patch = ProductPatch {
        distribution_strategy: Some("FREE".into()),
        ..Default::default()
    };
    let result = TestFramework::<Product>::with(NoServices)
        .given(vec![created()])
        .when(ProductCommand::Update {
            patch,
            at: chrono::DateTime::UNIX_EPOCH,
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "DISTRIBUTION_STRATEGY_NOT_ALLOWED");
}

#[test]
fn a_deleted_product_cannot_be_updated() {
    let at = chrono::DateTime::UNIX_EPOCH;
    let result = TestFramework::<Product>::with(NoServices)
        .given(vec![
            created(),
            ProductEvent::Deleted {
                account_id: "a1".into(),
                deleted_at: at,
            },
        ])
        .when(ProductCommand::Update {
            patch: ProductPatch::default(),
            at,
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "NOT_FOUND");
}

#[test]
fn deleting_releases_the_code_claim() {
    let deleted = ProductEvent::Deleted {
        account_id: "a1".into(),
        deleted_at: chrono::DateTime::UNIX_EPOCH,
    };
    assert!(
        deleted.claims().contains(&ClaimOp::ReleaseAll),
        "{:?}",
        deleted.claims()
    );
}
