//! Components: created with their machine's activation (as keygen-rs sends them), listed and
//! retrieved, unique as the policy's strategy says, and matched by validation's components scope.

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::machines::id;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Activates `fingerprint` on `license_id` with components of `component_fingerprints`.
async fn activate_with(app: &TestApp, license_id: &str, fingerprint: &str, component_fingerprints: &[&str]) -> Reply {
    let components: Vec<Value> = component_fingerprints
        .iter()
        .map(|f| json!({"type": "components", "attributes": {"fingerprint": f, "name": format!("Part {f}")}}))
        .collect();
    let body = json!({"data": {"type": "machines", "attributes": {"fingerprint": fingerprint},
        "relationships": {"license": {"data": {"type": "licenses", "id": license_id}},
                          "components": {"data": components}}}});
    app.send(Method::POST, &app.path("machines"), Some(app.admin()), Some(body))
        .await
}

async fn validate_components(app: &TestApp, license_id: &str, fingerprint: &str, components: &[&str]) -> String {
    let reply = app
        .validate(
            license_id,
            json!({"scope": {"fingerprint": fingerprint, "components": components}}),
        )
        .await;
    reply.json["meta"]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn components_come_with_their_machine_and_are_listed_and_retrieved() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let reply = activate_with(&app, id(&license), "fp-host", &["cpu-1", "disk-1"]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let machine = id(&reply.json["data"]).to_string();
    let listed = app.get(&format!("machines/{machine}/components")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    let items = listed.json["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let component = &items[0];
    assert_eq!(component["type"], "components");
    assert_eq!(component["relationships"]["machine"]["data"]["id"], machine.as_str());
    let shown = app.get(&format!("components/{}", id(component))).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(
        shown.json["data"]["attributes"]["name"],
        component["attributes"]["name"]
    );
    let by_machine = app.get(&format!("components?machine={machine}")).await;
    assert_eq!(by_machine.json["data"].as_array().unwrap().len(), 2);
    // Gone with the machine.
    let deleted = app
        .send(
            Method::DELETE,
            &app.path(&format!("machines/{machine}")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("components/{}", id(component))).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_component_fingerprint_twice_in_one_activation_or_taken_in_its_scope_is_refused() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let twice = activate_with(&app, id(&license), "fp-a", &["cpu", "cpu"]).await;
    assert_eq!(
        (twice.status, twice.error_code(), twice.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "COMPONENTS_FINGERPRINT_CONFLICT",
            "/data/relationships/components/data/1/attributes/fingerprint"
        )
    );
    assert_eq!(app.get("machines").await.json["data"].as_array().unwrap().len(), 0);
    // UNIQUE_PER_MACHINE (the default): another machine may have the same component.
    for fp in ["fp-a", "fp-b"] {
        let reply = activate_with(&app, id(&license), fp, &["cpu"]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    }
    let per_license = json!({"floating": true, "componentUniquenessStrategy": "UNIQUE_PER_LICENSE"});
    let (_, strict) = app.licensed(per_license, json!({})).await;
    activate_with(&app, id(&strict), "fp-a", &["cpu"]).await;
    let taken = activate_with(&app, id(&strict), "fp-b", &["cpu"]).await;
    assert_eq!(
        (taken.status, taken.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "COMPONENTS_FINGERPRINT_TAKEN")
    );
    let per_account = json!({"floating": true, "componentUniquenessStrategy": "UNIQUE_PER_ACCOUNT"});
    let (policy, first) = app.licensed(per_account, json!({})).await;
    let second = app.create_license(id(&policy), json!({})).await;
    let made = activate_with(&app, id(&first), "fp-x", &["gpu"]).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let elsewhere = activate_with(&app, id(&second), "fp-y", &["gpu"]).await;
    assert_eq!(
        (elsewhere.status, elsewhere.error_code(), elsewhere.error_pointer()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "COMPONENTS_FINGERPRINT_TAKEN",
            "/data/relationships/components"
        ),
        "{}",
        elsewhere.json
    );
}

#[tokio::test]
async fn the_components_scope_matches_by_the_policys_strategy() {
    let app = spawn_app().await;
    for (strategy, given, expected) in [
        ("MATCH_ANY", vec!["c1", "zz"], "VALID"),
        ("MATCH_ANY", vec!["zz"], "COMPONENTS_SCOPE_MISMATCH"),
        ("MATCH_ALL", vec!["c1", "c2", "c3"], "VALID"),
        ("MATCH_ALL", vec!["c1", "zz"], "COMPONENTS_SCOPE_MISMATCH"),
        ("MATCH_MOST", vec!["c1", "c2", "zz"], "VALID"),
        ("MATCH_MOST", vec!["c1", "yy", "zz"], "COMPONENTS_SCOPE_MISMATCH"),
        ("MATCH_TWO", vec!["c1", "c2"], "VALID"),
        // MATCH_TWO needs two even when one is given.
        ("MATCH_TWO", vec!["c1"], "COMPONENTS_SCOPE_MISMATCH"),
    ] {
        let policy = json!({"floating": true, "componentMatchingStrategy": strategy});
        let (_, license) = app.licensed(policy, json!({})).await;
        activate_with(&app, id(&license), "fp-host", &["c1", "c2", "c3"]).await;
        assert_eq!(
            validate_components(&app, id(&license), "fp-host", &given).await,
            expected,
            "{strategy} {given:?}"
        );
    }
}

#[tokio::test]
async fn malformed_inline_components_are_refused_with_pointers_and_create_nothing() {
    let app = spawn_app().await;
    let (_, license) = app.licensed(json!({"floating": true}), json!({})).await;
    let base = "/data/relationships/components";
    let cases = [
        (json!({"data": "cpu"}), StatusCode::BAD_REQUEST, format!("{base}/data")),
        (
            json!({"data": ["cpu"]}),
            StatusCode::BAD_REQUEST,
            format!("{base}/data/0"),
        ),
        (
            json!({"data": [{"type": "licenses", "attributes": {"fingerprint": "c", "name": "C"}}]}),
            StatusCode::BAD_REQUEST,
            format!("{base}/data/0/type"),
        ),
        (
            json!({"data": [{"type": "components", "attributes": {"fingerprint": "c", "name": "C", "serial": 1}}]}),
            StatusCode::BAD_REQUEST,
            format!("{base}/data/0/attributes/serial"),
        ),
        (
            json!({"data": [{"type": "components", "attributes": {"fingerprint": 7, "name": "C"}}]}),
            StatusCode::BAD_REQUEST,
            format!("{base}/data/0/attributes/fingerprint"),
        ),
        (
            json!({"data": [{"type": "components", "attributes": {"fingerprint": "c"}}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{base}/data/0/attributes/name"),
        ),
    ];
    for (components, status, pointer) in cases {
        let body = json!({"data": {"type": "machines", "attributes": {"fingerprint": "fp"},
            "relationships": {"license": {"data": {"type": "licenses", "id": id(&license)}}, "components": components}}});
        let reply = app
            .send(Method::POST, &app.path("machines"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(
            (reply.status, reply.error_pointer()),
            (status, pointer.as_str()),
            "{}",
            reply.json
        );
    }
    assert_eq!(app.get("machines").await.json["data"], json!([]));
    assert_eq!(app.get("components").await.json["data"], json!([]));
}

/// `POST /components` for `machine_id` as `token`.
async fn add(app: &TestApp, token: &str, machine_id: &str, fingerprint: &str, name: &str) -> Reply {
    let body = json!({"data": {"type": "components", "attributes": {"fingerprint": fingerprint, "name": name},
        "relationships": {"machine": {"data": {"type": "machines", "id": machine_id}}}}});
    app.send(Method::POST, &app.path("components"), Some(token), Some(body))
        .await
}

#[tokio::test]
async fn a_component_is_added_changed_and_removed_on_its_own_unique_as_its_policy_says() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "componentUniquenessStrategy": "UNIQUE_PER_LICENSE"});
    let (_, license) = app.licensed(policy, json!({})).await;
    let first = activate_with(&app, id(&license), "fp-one", &["cpu-1"]).await;
    let second = activate_with(&app, id(&license), "fp-two", &[]).await;
    let (first, second) = (
        id(&first.json["data"]).to_string(),
        id(&second.json["data"]).to_string(),
    );
    // With the license's own token, as a client adds a part it found.
    let (_, token) = app.license_token(id(&license)).await;
    let added = add(&app, &token, &second, "gpu-1", "GPU").await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.json);
    let component = added.json["data"].clone();
    assert_eq!(component["attributes"]["fingerprint"], "gpu-1");
    assert_eq!(component["relationships"]["machine"]["data"]["id"], second.as_str());
    assert_eq!(component["relationships"]["license"]["data"]["id"], id(&license));
    let listed = app.get(&format!("machines/{second}/components")).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
    // Validation sees it.
    assert_eq!(
        validate_components(&app, id(&license), "fp-two", &["gpu-1"]).await,
        "VALID"
    );

    // Unique on the license: taken on its other machine.
    let taken = add(&app, app.admin(), &second, "cpu-1", "CPU").await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", taken.json);
    assert_eq!(taken.error_code(), "FINGERPRINT_TAKEN");
    assert_eq!(taken.error_pointer(), "/data/attributes/fingerprint");
    let blank = add(&app, app.admin(), &second, "nic-1", " ").await;
    assert_eq!(
        (blank.status, blank.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "NAME_MISSING")
    );
    assert_eq!(blank.error_pointer(), "/data/attributes/name");
    let nowhere = add(&app, app.admin(), "no-such-machine", "nic-1", "NIC").await;
    assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nowhere.json);
    assert_eq!(nowhere.error_pointer(), "/data/relationships/machine");

    // Changed: its name and metadata; its fingerprint is not the client's to change.
    let path = app.path(&format!("components/{}", id(&component)));
    let patch = json!({"data": {"type": "components", "attributes": {"name": "Graphics", "metadata": {"slot": 2}}}});
    let changed = app.send(Method::PATCH, &path, Some(app.admin()), Some(patch)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    let a = &changed.json["data"]["attributes"];
    assert_eq!((&a["name"], &a["metadata"]), (&json!("Graphics"), &json!({"slot": 2})));
    let refingerprint = json!({"data": {"type": "components", "attributes": {"fingerprint": "other"}}});
    let refused = app
        .send(Method::PATCH, &path, Some(app.admin()), Some(refingerprint))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);

    // Removed: gone, and its fingerprint free on the license again.
    let removed = app.send(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.json);
    assert_eq!(
        app.get(&format!("components/{}", id(&component))).await.status,
        StatusCode::NOT_FOUND
    );
    let again = add(&app, app.admin(), &first, "gpu-1", "GPU").await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
}

#[tokio::test]
async fn parallel_adds_of_one_fingerprint_across_licenses_make_one_component_when_unique_per_account() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "componentUniquenessStrategy": "UNIQUE_PER_ACCOUNT"});
    let mut machines = Vec::new();
    for i in 0..2 {
        let (_, license) = app.licensed(policy.clone(), json!({})).await;
        let reply = activate_with(&app, id(&license), &format!("fp-{i}"), &[]).await;
        machines.push(id(&reply.json["data"]).to_string());
    }
    let replies =
        futures::future::join_all((0..10).map(|i| add(&app, app.admin(), &machines[i % 2], "shared-serial", "Disk")))
            .await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| &r.json).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.error_code(), "FINGERPRINT_TAKEN", "{}", reply.json);
    }
    // Removed, it is free across the account again (the claim went with it).
    let component = replies.iter().find(|r| r.status == StatusCode::CREATED).unwrap();
    let path = app.path(&format!("components/{}", id(&component.json["data"])));
    assert_eq!(
        app.send(Method::DELETE, &path, Some(app.admin()), None).await.status,
        StatusCode::NO_CONTENT
    );
    let again = add(&app, app.admin(), &machines[1], "shared-serial", "Disk").await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
}
