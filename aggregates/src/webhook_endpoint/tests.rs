//! Webhook endpoint commands and their rules, through cqrs-es's `TestFramework`.

use super::*;
use cqrs_es::test::TestFramework;

fn at() -> Timestamp {
    chrono::DateTime::UNIX_EPOCH
}

fn attrs(url: &str, subscriptions: &[&str]) -> EndpointAttributes {
    EndpointAttributes {
        url: url.into(),
        subscriptions: subscriptions.iter().map(|s| s.to_string()).collect(),
        signature_algorithm: "ed25519".into(),
        api_version: "1.8".into(),
        product_id: None,
    }
}

fn create(attributes: EndpointAttributes, plain_http_allowed: bool) -> EndpointCommand {
    EndpointCommand::Create {
        id: "w1".into(),
        account_id: "a1".into(),
        attributes,
        plain_http_allowed,
        at: at(),
    }
}

fn refused_code(command: EndpointCommand) -> String {
    TestFramework::<WebhookEndpoint>::with(NoServices)
        .given_no_previous_events()
        .when(command)
        .inspect_result()
        .expect_err("refused")
        .code
}

#[test]
fn an_endpoint_keeps_its_subscriptions_once_each_in_order() {
    TestFramework::<WebhookEndpoint>::with(NoServices)
        .given_no_previous_events()
        .when(create(
            attrs(
                "https://example.com/hook",
                &["license.created", "machine.created", "license.created"],
            ),
            false,
        ))
        .then_expect_events(vec![EndpointEvent::Created {
            id: "w1".into(),
            account_id: "a1".into(),
            attributes: attrs("https://example.com/hook", &["license.created", "machine.created"]),
            created_at: at(),
        }]);
}

#[test]
fn plain_http_only_where_the_caller_allowed_it() {
    assert_eq!(
        refused_code(create(attrs("http://example.com/hook", &["*"]), false)),
        "URL_INVALID"
    );
    assert_eq!(
        refused_code(create(attrs("ftp://example.com/hook", &["*"]), true)),
        "URL_INVALID"
    );
    TestFramework::<WebhookEndpoint>::with(NoServices)
        .given_no_previous_events()
        .when(create(attrs("http://127.0.0.1:9/hook", &["*"]), true))
        .inspect_result()
        .expect("allowed");
}

#[test]
fn unknown_or_mixed_subscriptions_are_refused() {
    for subscriptions in [&["license.exploded"][..], &["*", "license.created"], &[]] {
        let code = refused_code(create(attrs("https://example.com/hook", subscriptions), false));
        assert!(code.starts_with("SUBSCRIPTIONS_"), "{subscriptions:?}: {code}");
    }
}

#[test]
fn a_wildcard_takes_every_keygen_event_and_nothing_else() {
    let endpoint = attrs("https://example.com/hook", &["*"]);
    assert!(endpoint.subscribes_to("license.created"));
    assert!(endpoint.subscribes_to("machine.heartbeat.dead"));
    assert!(!endpoint.subscribes_to("webhook-endpoint.created"));
    let narrow = attrs("https://example.com/hook", &["license.created"]);
    assert!(!narrow.subscribes_to("license.deleted"));
}

#[test]
fn disabling_empties_the_subscriptions_once() {
    let created = EndpointEvent::Created {
        id: "w1".into(),
        account_id: "a1".into(),
        attributes: attrs("https://example.com/hook", &["*"]),
        created_at: at(),
    };
    TestFramework::<WebhookEndpoint>::with(NoServices)
        .given(vec![created.clone()])
        .when(EndpointCommand::Disable { at: at() })
        .then_expect_events(vec![EndpointEvent::Updated {
            account_id: "a1".into(),
            attributes: attrs("https://example.com/hook", &[]),
            updated_at: at(),
        }]);
    let disabled = EndpointEvent::Updated {
        account_id: "a1".into(),
        attributes: attrs("https://example.com/hook", &[]),
        updated_at: at(),
    };
    TestFramework::<WebhookEndpoint>::with(NoServices)
        .given(vec![created, disabled])
        .when(EndpointCommand::Disable { at: at() })
        .then_expect_events(vec![]);
}
