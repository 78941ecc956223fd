//! Machines: activation, retrieval by id or fingerprint, lists, deactivation, access, the
//! license's machine counts, and refused requests. The limits activation obeys are in
//! `machine_limits`.

use crate::helpers::{spawn_app, Reply, TestApp};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Activates a machine with `fingerprint` (and `attributes`) on `license_id` as `token`.
pub(crate) async fn activate(
    app: &TestApp,
    token: &str,
    license_id: &str,
    fingerprint: &str,
    attributes: Value,
) -> Reply {
    let mut attrs = json!({ "fingerprint": fingerprint });
    attrs
        .as_object_mut()
        .unwrap()
        .extend(attributes.as_object().cloned().unwrap_or_default());
    let body = json!({"data": {"type": "machines", "attributes": attrs,
        "relationships": {"license": {"data": {"type": "licenses", "id": license_id}}}}});
    app.send(Method::POST, &app.path("machines"), Some(token), Some(body))
        .await
}

pub(crate) fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

/// The license's `machines` relationship meta.
pub(crate) async fn machines_meta(app: &TestApp, license_id: &str) -> Value {
    let reply = app.get(&format!("licenses/{license_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    reply.json["data"]["relationships"]["machines"]["meta"].clone()
}

/// Sends `n` activations at once, fingerprints from `fingerprint(i)`; answers the statuses and
/// error codes.
pub(crate) async fn parallel(
    app: &TestApp,
    license_id: &str,
    n: usize,
    fingerprint: impl Fn(usize) -> String,
) -> Vec<(StatusCode, String)> {
    let replies = join_all((0..n).map(|i| {
        let fp = fingerprint(i);
        async move { activate(app, app.admin(), license_id, &fp, json!({})).await }
    }))
    .await;
    replies
        .into_iter()
        .map(|r| (r.status, r.error_code().to_string()))
        .collect()
}

pub(crate) fn count(outcomes: &[(StatusCode, String)], status: StatusCode, code: &str) -> usize {
    outcomes.iter().filter(|(s, c)| *s == status && c == code).count()
}

#[tokio::test]
async fn an_activated_machine_is_found_by_id_and_fingerprint_listed_counted_and_deactivated() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(json!({"floating": true, "maxMachines": 3}), json!({}))
        .await;
    let license_id = id(&license);
    let attributes = json!({"name": "Office", "platform": "macOS", "hostname": "mbp", "ip": "10.0.0.2",
        "cores": 8, "memory": 16, "disk": 512, "metadata": {"rackSlot": "b12"}});
    let reply = activate(&app, app.admin(), license_id, "fp-office.local", attributes).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let machine = &reply.json["data"];
    assert_eq!(machine["type"], "machines");
    let a = &machine["attributes"];
    assert_eq!(
        (
            &a["fingerprint"],
            &a["name"],
            &a["platform"],
            &a["cores"],
            &a["memory"],
            &a["disk"]
        ),
        (
            &json!("fp-office.local"),
            &json!("Office"),
            &json!("macOS"),
            &json!(8),
            &json!(16),
            &json!(512)
        )
    );
    assert_eq!(a["heartbeatStatus"], "NOT_STARTED");
    assert_eq!(a["heartbeatDuration"], 600);
    assert_eq!(a["requireHeartbeat"], false);
    assert_eq!(a["metadata"], json!({"rackSlot": "b12"}));
    assert_eq!(machine["relationships"]["license"]["data"]["id"], license_id);
    let machine_id = id(machine);

    for alias in [machine_id, "fp-office.local"] {
        let shown = app.get(&format!("machines/{alias}")).await;
        assert_eq!(shown.status, StatusCode::OK, "{alias}: {}", shown.json);
        assert_eq!(id(&shown.json["data"]), machine_id);
    }
    assert_eq!(
        machines_meta(&app, license_id).await,
        json!({"count": 1, "cores": 8, "memory": 16, "disk": 512})
    );
    let other = activate(&app, app.admin(), license_id, "fp-second", json!({"cores": 4})).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.json);
    for query in [
        format!("machines?license={license_id}"),
        format!("licenses/{license_id}/machines"),
        format!("machines?key={}", license["attributes"]["key"].as_str().unwrap()),
    ] {
        let listed = app.get(&query).await;
        assert_eq!(listed.status, StatusCode::OK, "{query}: {}", listed.json);
        assert_eq!(listed.json["data"].as_array().unwrap().len(), 2, "{query}");
    }
    let by_fingerprint = app.get("machines?fingerprint=fp-second").await;
    assert_eq!(by_fingerprint.json["data"].as_array().unwrap().len(), 1);
    let by_metadata = app.get("machines?metadata[rackSlot]=b12").await;
    assert_eq!(id(&by_metadata.json["data"][0]), machine_id);

    let deleted = app
        .send(
            Method::DELETE,
            &app.path(&format!("machines/{machine_id}")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.json);
    assert_eq!(
        app.get(&format!("machines/{machine_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        machines_meta(&app, license_id).await,
        json!({"count": 1, "cores": 4, "memory": 0, "disk": 0})
    );
    // Its fingerprint is free again.
    let again = activate(&app, app.admin(), license_id, "fp-office.local", json!({})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
}

#[tokio::test]
async fn the_first_activation_starts_the_expiry_of_a_policy_whose_basis_it_is() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "duration": 86400 * 30, "expirationBasis": "FROM_FIRST_ACTIVATION"});
    let (_, license) = app.licensed(policy, json!({})).await;
    assert_eq!(license["attributes"]["expiry"], Value::Null);
    let reply = activate(&app, app.admin(), id(&license), "fp-1", json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let created = reply.json["data"]["attributes"]["created"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    let shown = app.get(&format!("licenses/{}", id(&license))).await;
    let expiry = shown.json["data"]["attributes"]["expiry"].as_str().expect("an expiry");
    let expiry = chrono::DateTime::parse_from_rfc3339(expiry).unwrap();
    assert_eq!(expiry - created, chrono::Duration::days(30));
    // A later activation leaves it.
    activate(&app, app.admin(), id(&license), "fp-2", json!({})).await;
    let again = app.get(&format!("licenses/{}", id(&license))).await;
    assert_eq!(
        again.json["data"]["attributes"]["expiry"],
        shown.json["data"]["attributes"]["expiry"]
    );
}

#[tokio::test]
async fn a_license_activates_and_sees_only_its_own_machines_and_a_product_only_its_licenses() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"floating": true, "authenticationStrategy": "MIXED"}), json!({}))
        .await;
    let other = app.create_license(id(&policy), json!({})).await;
    let (_, license_token) = app.license_token(id(&license)).await;
    let own = activate(&app, &license_token, id(&license), "fp-own", json!({})).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.json);
    let foreign = activate(&app, app.admin(), id(&other), "fp-other", json!({})).await;
    let foreign_id = id(&foreign.json["data"]).to_string();
    let refused = activate(&app, &license_token, id(&other), "fp-x", json!({})).await;
    assert_eq!(
        (refused.status, refused.error_code(), refused.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "LICENSE_NOT_FOUND",
            "/data/relationships/license"
        )
    );
    let hidden = app
        .send(
            Method::GET,
            &app.path(&format!("machines/{foreign_id}")),
            Some(&license_token),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let listed = app
        .send(Method::GET, &app.path("machines"), Some(&license_token), None)
        .await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1, "{}", listed.json);

    let elsewhere = app.create_product("Elsewhere", None).await;
    let (_, product_token) = app.product_token(id(&elsewhere)).await;
    let listed = app
        .send(Method::GET, &app.path("machines"), Some(&product_token), None)
        .await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 0, "{}", listed.json);
    let gone = app
        .send(
            Method::DELETE,
            &app.path(&format!("machines/{foreign_id}")),
            Some(&product_token),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let deactivated = app
        .send(
            Method::DELETE,
            &app.path(&format!("machines/{}", id(&own.json["data"]))),
            Some(&license_token),
            None,
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn malformed_activations_are_refused_with_a_pointer_and_change_nothing() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let license_id = id(&license);
    let cases = [
        (
            json!({"fingerprint": null}),
            StatusCode::BAD_REQUEST,
            "/data/attributes/fingerprint",
        ),
        (
            json!({"cores": "four"}),
            StatusCode::BAD_REQUEST,
            "/data/attributes/cores",
        ),
        (
            json!({"cores": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/cores",
        ),
        (json!({"owner": "x"}), StatusCode::BAD_REQUEST, "/data/attributes/owner"),
        (
            json!({"metadata": "x"}),
            StatusCode::BAD_REQUEST,
            "/data/attributes/metadata",
        ),
        (
            json!({"fingerprint": "actions"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/fingerprint",
        ),
        (
            json!({"fingerprint": "x".repeat(4097)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/fingerprint",
        ),
    ];
    for (attributes, status, pointer) in cases {
        let reply = activate(&app, app.admin(), license_id, "fp-ok", attributes.clone()).await;
        assert_eq!(
            (reply.status, reply.error_pointer()),
            (status, pointer),
            "{attributes}: {}",
            reply.json
        );
    }
    let body = json!({"data": {"type": "machines", "attributes": {"fingerprint": "fp-1"}}});
    let unrelated = app
        .send(Method::POST, &app.path("machines"), Some(app.admin()), Some(body))
        .await;
    assert_eq!(
        (unrelated.status, unrelated.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "LICENSE_NOT_FOUND")
    );
    assert_eq!(machines_meta(&app, license_id).await["count"], 0);
}

async fn patch(app: &TestApp, token: &str, machine_id: &str, attributes: Value) -> Reply {
    let body = json!({"data": {"type": "machines", "attributes": attributes}});
    app.send(
        Method::PATCH,
        &app.path(&format!("machines/{machine_id}")),
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_machine_is_updated_its_sizes_within_the_licenses_limits() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "maxCores": 8, "authenticationStrategy": "MIXED"});
    let (_, license) = app.licensed(policy, json!({})).await;
    let first = activate(
        &app,
        app.admin(),
        id(&license),
        "fp-1",
        json!({"cores": 4, "name": "One"}),
    )
    .await;
    let first = id(&first.json["data"]).to_string();
    activate(&app, app.admin(), id(&license), "fp-2", json!({"cores": 4})).await;

    let changes = json!({"name": "Renamed", "platform": "Linux", "metadata": {"rackSlot": "c3"}, "cores": 2});
    let updated = patch(&app, app.admin(), &first, changes).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    let a = &updated.json["data"]["attributes"];
    assert_eq!(
        (&a["name"], &a["platform"], &a["cores"]),
        (&json!("Renamed"), &json!("Linux"), &json!(2))
    );
    assert_eq!(a["metadata"], json!({"rackSlot": "c3"}));
    assert_eq!(a["fingerprint"], "fp-1");
    assert_eq!(machines_meta(&app, id(&license)).await["cores"], 6);
    // Unchanged attributes stay.
    let again = patch(&app, app.admin(), &first, json!({"hostname": "box"})).await;
    assert_eq!(again.json["data"]["attributes"]["name"], "Renamed");

    let over = patch(&app, app.admin(), &first, json!({"cores": 5})).await;
    assert_eq!(
        (over.status, over.error_code(), over.error_pointer()),
        (StatusCode::UNPROCESSABLE_ENTITY, "MACHINE_CORE_LIMIT_EXCEEDED", "/data")
    );
    assert_eq!(machines_meta(&app, id(&license)).await["cores"], 6);

    let (_, license_token) = app.license_token(id(&license)).await;
    let own = patch(&app, &license_token, &first, json!({"name": "Mine"})).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.json);
    let sizes = patch(&app, &license_token, &first, json!({"cores": 1})).await;
    assert_eq!(
        (sizes.status, sizes.error_pointer()),
        (StatusCode::BAD_REQUEST, "/data/attributes/cores")
    );
    let unknown = patch(&app, app.admin(), &first, json!({"fingerprint": "fp-9"})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_protected_license_may_not_update_its_machines() {
    let app = spawn_app().await;
    let (_, license) = app
        .licensed(
            json!({"floating": true, "protected": true, "authenticationStrategy": "MIXED"}),
            json!({}),
        )
        .await;
    let machine = activate(&app, app.admin(), id(&license), "fp-1", json!({})).await;
    let machine = id(&machine.json["data"]).to_string();
    let (_, license_token) = app.license_token(id(&license)).await;
    let refused = patch(&app, &license_token, &machine, json!({"name": "Mine"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.json);
    let admin = patch(&app, app.admin(), &machine, json!({"name": "Admin's"})).await;
    assert_eq!(admin.status, StatusCode::OK);
}
