//! Validation codes that depend on machines, each from a test of exactly its condition, and
//! Keygen's order where two hold at once.

use crate::helpers::{spawn_app, TestApp};
use crate::machines::{activate, id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Validates `license_id` with `scope` (none when null): answers (valid, code).
async fn outcome(app: &TestApp, license_id: &str, scope: Value) -> (bool, String) {
    let meta = if scope.is_null() {
        json!({})
    } else {
        json!({ "scope": scope })
    };
    let reply = app.validate(license_id, meta).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let meta = &reply.json["meta"];
    (
        meta["valid"].as_bool().unwrap(),
        meta["code"].as_str().unwrap().to_string(),
    )
}

fn expect(valid: bool, code: &str) -> (bool, String) {
    (valid, code.to_string())
}

/// A license under `policy` with machines of `fingerprints` (each with `sizes`).
async fn with_machines(app: &TestApp, policy: Value, fingerprints: &[&str], sizes: Value) -> (Value, Vec<String>) {
    let (_, license) = app.licensed(policy, json!({})).await;
    let mut ids = Vec::new();
    for fingerprint in fingerprints {
        let reply = activate(app, app.admin(), id(&license), fingerprint, sizes.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        ids.push(id(&reply.json["data"]).to_string());
    }
    (license, ids)
}

/// Lowers the license's own limit below what its machines hold.
async fn lower(app: &TestApp, license_id: &str, attribute: &str, value: i64) {
    let body = json!({"data": {"type": "licenses", "attributes": { attribute: value }}});
    let reply = app
        .send(
            Method::PATCH,
            &app.path(&format!("licenses/{license_id}")),
            Some(app.admin()),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
}

#[tokio::test]
async fn a_strict_license_needs_its_machine_and_then_validates() {
    let app = spawn_app().await;
    let (node_locked, _) = with_machines(&app, json!({"strict": true}), &[], json!({})).await;
    assert_eq!(
        outcome(&app, id(&node_locked), Value::Null).await,
        expect(false, "NO_MACHINE")
    );
    activate(&app, app.admin(), id(&node_locked), "fp-1", json!({})).await;
    assert_eq!(
        outcome(&app, id(&node_locked), Value::Null).await,
        expect(true, "VALID")
    );
    let (floating, _) = with_machines(&app, json!({"strict": true, "floating": true}), &[], json!({})).await;
    assert_eq!(
        outcome(&app, id(&floating), Value::Null).await,
        expect(false, "NO_MACHINES")
    );
}

#[tokio::test]
async fn too_many_machines_is_invalid_unless_the_overage_allows_it() {
    let app = spawn_app().await;
    let over = json!({"strict": true, "floating": true, "maxMachines": 4, "overageStrategy": "ALLOW_1_25X_OVERAGE"});
    let (allowed, _) = with_machines(&app, over, &["a", "b", "c", "d", "e"], json!({})).await;
    assert_eq!(
        outcome(&app, id(&allowed), Value::Null).await,
        expect(true, "TOO_MANY_MACHINES")
    );
    let (lowered, _) = with_machines(
        &app,
        json!({"strict": true, "floating": true, "maxMachines": 3}),
        &["a", "b", "c"],
        json!({}),
    )
    .await;
    assert_eq!(outcome(&app, id(&lowered), Value::Null).await, expect(true, "VALID"));
    lower(&app, id(&lowered), "maxMachines", 2).await;
    assert_eq!(
        outcome(&app, id(&lowered), Value::Null).await,
        expect(false, "TOO_MANY_MACHINES")
    );
    // Not strict: counts are not checked.
    let (loose, _) = with_machines(
        &app,
        json!({"floating": true, "maxMachines": 3}),
        &["a", "b", "c"],
        json!({}),
    )
    .await;
    lower(&app, id(&loose), "maxMachines", 2).await;
    assert_eq!(outcome(&app, id(&loose), Value::Null).await, expect(true, "VALID"));
}

#[tokio::test]
async fn too_many_cores_too_much_memory_and_too_much_disk_each_from_its_own_limit() {
    let app = spawn_app().await;
    for (limit, size, code) in [
        ("maxCores", "cores", "TOO_MANY_CORES"),
        ("maxMemory", "memory", "TOO_MUCH_MEMORY"),
        ("maxDisk", "disk", "TOO_MUCH_DISK"),
    ] {
        let policy = json!({"strict": true, "floating": true, "maxMachines": 5, limit: 8});
        let (license, _) = with_machines(&app, policy, &["a", "b"], json!({ size: 4 })).await;
        assert_eq!(
            outcome(&app, id(&license), Value::Null).await,
            expect(true, "VALID"),
            "{code}"
        );
        lower(&app, id(&license), &heck(limit), 7).await;
        assert_eq!(outcome(&app, id(&license), Value::Null).await, expect(false, code));
    }
}

/// `maxCores` → `max_cores` (the license's attribute, which requests may name either way).
fn heck(camel: &str) -> String {
    camel.chars().fold(String::new(), |mut out, c| {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        out
    })
}

#[tokio::test]
async fn too_many_machines_comes_before_too_many_cores() {
    let app = spawn_app().await;
    let policy = json!({"strict": true, "floating": true, "maxMachines": 2, "maxCores": 8});
    let (license, _) = with_machines(&app, policy, &["a", "b"], json!({"cores": 4})).await;
    lower(&app, id(&license), "max_machines", 1).await;
    lower(&app, id(&license), "max_cores", 4).await;
    assert_eq!(
        outcome(&app, id(&license), Value::Null).await,
        expect(false, "TOO_MANY_MACHINES")
    );
}

#[tokio::test]
async fn a_fingerprint_scope_matches_an_activated_machine_by_the_policys_strategy() {
    let app = spawn_app().await;
    let (license, _) = with_machines(&app, json!({"floating": true}), &["fp-a", "fp-b"], json!({})).await;
    let l = id(&license);
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "fp-a"})).await,
        expect(true, "VALID")
    );
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "fp-z"})).await,
        expect(false, "FINGERPRINT_SCOPE_MISMATCH")
    );
    assert_eq!(
        outcome(&app, l, json!({"fingerprints": []})).await,
        expect(false, "FINGERPRINT_SCOPE_EMPTY")
    );
    // MATCH_ANY (the default): one of several is enough.
    assert_eq!(
        outcome(&app, l, json!({"fingerprints": ["fp-a", "fp-z"]})).await,
        expect(true, "VALID")
    );
    for (strategy, fingerprints, valid) in [
        ("MATCH_ALL", json!(["fp-a", "fp-b"]), true),
        ("MATCH_ALL", json!(["fp-a", "fp-z"]), false),
        ("MATCH_TWO", json!(["fp-a", "fp-b", "fp-z"]), true),
        ("MATCH_TWO", json!(["fp-a", "fp-y", "fp-z"]), false),
        ("MATCH_MOST", json!(["fp-a", "fp-z"]), true),
        ("MATCH_MOST", json!(["fp-a", "fp-x", "fp-y"]), false),
    ] {
        let policy = json!({"floating": true, "machineMatchingStrategy": strategy});
        let (license, _) = with_machines(&app, policy, &["fp-a", "fp-b"], json!({})).await;
        let code = if valid { "VALID" } else { "FINGERPRINT_SCOPE_MISMATCH" };
        assert_eq!(
            outcome(&app, id(&license), json!({ "fingerprints": fingerprints })).await,
            expect(valid, code),
            "{strategy} {fingerprints}"
        );
    }
    // `fingerprint` wins over `fingerprints`.
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "fp-z", "fingerprints": ["fp-a"]})).await,
        expect(false, "FINGERPRINT_SCOPE_MISMATCH")
    );
}

#[tokio::test]
async fn a_scope_naming_a_machine_of_a_license_without_machines_says_so() {
    let app = spawn_app().await;
    let (node_locked, _) = with_machines(&app, json!({}), &[], json!({})).await;
    assert_eq!(
        outcome(&app, id(&node_locked), json!({"fingerprint": "fp"})).await,
        expect(false, "NO_MACHINE")
    );
    let (floating, _) = with_machines(&app, json!({"floating": true}), &[], json!({})).await;
    assert_eq!(
        outcome(&app, id(&floating), json!({"machine": "m"})).await,
        expect(false, "NO_MACHINES")
    );
}

#[tokio::test]
async fn a_machine_scope_names_one_of_the_licenses_machines() {
    let app = spawn_app().await;
    let (license, machines) = with_machines(&app, json!({"floating": true}), &["fp-a"], json!({})).await;
    let (other, others) = with_machines(&app, json!({"floating": true}), &["fp-b"], json!({})).await;
    assert_eq!(
        outcome(&app, id(&license), json!({"machine": machines[0]})).await,
        expect(true, "VALID")
    );
    assert_eq!(
        outcome(&app, id(&license), json!({"machine": others[0]})).await,
        expect(false, "MACHINE_SCOPE_MISMATCH")
    );
    // The machine scope comes before the fingerprint scope.
    assert_eq!(
        outcome(&app, id(&other), json!({"machine": machines[0], "fingerprint": "fp-z"})).await,
        expect(false, "MACHINE_SCOPE_MISMATCH")
    );
}

#[tokio::test]
async fn a_machine_that_must_beat_has_not_started_until_it_pings_and_is_dead_a_duration_after() {
    let app = spawn_app().await;
    let from_first_ping = json!({"floating": true, "requireHeartbeat": true, "heartbeatDuration": 120, "heartbeatBasis": "FROM_FIRST_PING"});
    let (license, machines) = with_machines(&app, from_first_ping, &["fp-a"], json!({})).await;
    let l = id(&license);
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "fp-a"})).await,
        expect(false, "HEARTBEAT_NOT_STARTED")
    );
    assert_eq!(
        outcome(&app, l, json!({"machine": machines[0]})).await,
        expect(false, "HEARTBEAT_NOT_STARTED")
    );
    let from_creation = json!({"floating": true, "requireHeartbeat": true, "heartbeatDuration": 120, "heartbeatBasis": "FROM_CREATION"});
    let (beating, _) = with_machines(&app, from_creation, &["fp-a"], json!({})).await;
    assert_eq!(
        outcome(&app, id(&beating), json!({"fingerprint": "fp-a"})).await,
        expect(true, "VALID")
    );
    app.state.clock.advance(chrono::Duration::seconds(121));
    assert_eq!(
        outcome(&app, id(&beating), json!({"fingerprint": "fp-a"})).await,
        expect(false, "HEARTBEAT_DEAD")
    );
    // The never-pinged machine of the first license died too, one duration after its creation.
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "fp-a"})).await,
        expect(false, "HEARTBEAT_DEAD")
    );
    let shown = app.get(&format!("machines/{}", machines[0])).await;
    assert_eq!(shown.json["data"]["attributes"]["heartbeatStatus"], "DEAD");
}

#[tokio::test]
async fn a_components_scope_needs_the_singular_fingerprint() {
    let app = spawn_app().await;
    let (license, _) = with_machines(&app, json!({"floating": true}), &["fp-a"], json!({})).await;
    assert_eq!(
        outcome(
            &app,
            id(&license),
            json!({"fingerprints": ["fp-a"], "components": ["c"]})
        )
        .await,
        expect(false, "FINGERPRINT_SCOPE_REQUIRED")
    );
    assert_eq!(
        outcome(&app, id(&license), json!({"fingerprint": "fp-a", "components": []})).await,
        expect(false, "COMPONENTS_SCOPE_EMPTY")
    );
}

#[tokio::test]
async fn with_every_limit_over_at_once_each_code_gives_way_to_the_one_before_it() {
    let app = spawn_app().await;
    let policy = json!({"strict": true, "floating": true, "maxMachines": 2, "maxCores": 100,
        "maxMemory": 100, "maxDisk": 100, "maxProcesses": 10, "processLeasingStrategy": "PER_LICENSE",
        "expirationStrategy": "ALLOW_ACCESS"});
    let sizes = json!({"cores": 4, "memory": 4, "disk": 4});
    let (license, machines) = with_machines(&app, policy, &["a", "b"], sizes).await;
    let l = id(&license);
    for (i, machine) in machines.iter().enumerate() {
        let body = json!({"data": {"type": "processes", "attributes": {"pid": format!("{i}")},
            "relationships": {"machine": {"data": {"type": "machines", "id": machine}}}}});
        let spawned = app
            .send(Method::POST, &app.path("processes"), Some(app.admin()), Some(body))
            .await;
        assert_eq!(spawned.status, StatusCode::CREATED, "{}", spawned.json);
    }
    // Every limit below what the machines hold, and the license expired (still allowed).
    for (attribute, value) in [
        ("max_machines", 1),
        ("max_cores", 4),
        ("max_memory", 4),
        ("max_disk", 4),
        ("max_processes", 1),
    ] {
        lower(&app, l, attribute, value).await;
    }
    let tomorrow = (app.state.clock.now() + chrono::Duration::days(1)).to_rfc3339();
    let body = json!({"data": {"type": "licenses", "attributes": {"expiry": tomorrow}}});
    let path = app.path(&format!("licenses/{l}"));
    assert_eq!(
        app.send(Method::PATCH, &path, Some(app.admin()), Some(body))
            .await
            .status,
        StatusCode::OK
    );
    app.state.clock.advance(chrono::Duration::days(2));
    // A scope is checked before the strict limits.
    assert_eq!(
        outcome(&app, l, json!({"fingerprint": "zz"})).await,
        expect(false, "FINGERPRINT_SCOPE_MISMATCH")
    );
    // Then machines, cores, memory, disk, processes and the expiry, each once the one before
    // it is lifted.
    for (lift, code) in [
        (None, "TOO_MANY_MACHINES"),
        (Some(("max_machines", 2)), "TOO_MANY_CORES"),
        (Some(("max_cores", 8)), "TOO_MUCH_MEMORY"),
        (Some(("max_memory", 8)), "TOO_MUCH_DISK"),
        (Some(("max_disk", 8)), "TOO_MANY_PROCESSES"),
        (Some(("max_processes", 2)), "EXPIRED"),
    ] {
        if let Some((attribute, value)) = lift {
            lower(&app, l, attribute, value).await;
        }
        let valid = code == "EXPIRED";
        assert_eq!(
            outcome(&app, l, Value::Null).await,
            expect(valid, code),
            "after {lift:?}"
        );
    }
}
