//! Processes: spawned within `maxProcesses` per machine or per license under parallel requests,
//! retrieved, listed, updated and killed; they beat from their start, pings keep them alive, and
//! the dead are culled by the worker's sweep; strict validation counts them.

use crate::heartbeats::events_of;
use crate::helpers::{spawn_app, Reply, TestApp};
use crate::machines::{activate, id};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn spawn(app: &TestApp, machine_id: &str, pid: &str) -> Reply {
    let body = json!({"data": {"type": "processes", "attributes": {"pid": pid},
        "relationships": {"machine": {"data": {"type": "machines", "id": machine_id}}}}});
    app.send(Method::POST, &app.path("processes"), Some(app.admin()), Some(body))
        .await
}

/// A license under `policy` with machines of `fingerprints`: (license, machine ids).
async fn machines(app: &TestApp, policy: Value, fingerprints: &[&str]) -> (Value, Vec<String>) {
    let (_, license) = app.licensed(policy, json!({})).await;
    let mut ids = Vec::new();
    for fp in fingerprints {
        let reply = activate(app, app.admin(), id(&license), fp, json!({})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
        ids.push(id(&reply.json["data"]).to_string());
    }
    (license, ids)
}

async fn parallel_spawns(app: &TestApp, machines: &[String], n: usize) -> usize {
    let replies = join_all((0..n).map(|i| {
        let machine = machines[i % machines.len()].clone();
        async move { spawn(app, &machine, &format!("pid-{i}")).await }
    }))
    .await;
    for refused in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(
            refused.error_code(),
            "MACHINE_PROCESS_LIMIT_EXCEEDED",
            "{}",
            refused.json
        );
    }
    replies.iter().filter(|r| r.status == StatusCode::CREATED).count()
}

#[tokio::test]
async fn thirty_parallel_spawns_respect_the_limit_per_machine() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "maxProcesses": 5, "processLeasingStrategy": "PER_MACHINE"});
    let (_, machines) = machines(&app, policy, &["fp-a", "fp-b"]).await;
    assert_eq!(parallel_spawns(&app, &machines[..1], 30).await, 5);
    // The other machine has its own five.
    assert_eq!(parallel_spawns(&app, &machines[1..], 30).await, 5);
    let listed = app.get(&format!("machines/{}/processes", machines[0])).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn thirty_parallel_spawns_respect_the_limit_per_license() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "maxProcesses": 5, "processLeasingStrategy": "PER_LICENSE"});
    let (license, machines) = machines(&app, policy, &["fp-a", "fp-b", "fp-c"]).await;
    assert_eq!(parallel_spawns(&app, &machines, 30).await, 5);
    let listed = app.get(&format!("processes?license={}", id(&license))).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_process_is_retrieved_updated_pinged_and_killed_and_its_pid_is_unique_on_its_machine() {
    let app = spawn_app().await;
    let (_, machines) = machines(&app, json!({"floating": true}), &["fp-a", "fp-b"]).await;
    let made = spawn(&app, &machines[0], "1234").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let a = &made.json["data"]["attributes"];
    assert_eq!(
        (&a["pid"], &a["status"], &a["interval"]),
        (&json!("1234"), &json!("ALIVE"), &json!(600))
    );
    let process = id(&made.json["data"]).to_string();
    let taken = spawn(&app, &machines[0], "1234").await;
    assert_eq!(
        (taken.status, taken.error_code(), taken.error_pointer()),
        (StatusCode::UNPROCESSABLE_ENTITY, "PID_TAKEN", "/data/attributes/pid")
    );
    assert_eq!(spawn(&app, &machines[1], "1234").await.status, StatusCode::CREATED);

    let body = json!({"data": {"type": "processes", "attributes": {"metadata": {"worker": "w1"}}}});
    let path = app.path(&format!("processes/{process}"));
    let updated = app.send(Method::PATCH, &path, Some(app.admin()), Some(body)).await;
    assert_eq!(
        updated.json["data"]["attributes"]["metadata"],
        json!({"worker": "w1"}),
        "{}",
        updated.json
    );
    let pinged = app
        .send(
            Method::POST,
            &app.path(&format!("processes/{process}/actions/ping")),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(pinged.status, StatusCode::OK, "{}", pinged.json);
    let killed = app.send(Method::DELETE, &path, Some(app.admin()), None).await;
    assert_eq!(killed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("processes/{process}")).await.status,
        StatusCode::NOT_FOUND
    );
    let missing = spawn(&app, "no-such-machine", "1").await;
    assert_eq!(missing.error_code(), "MACHINE_NOT_FOUND");
}

#[tokio::test]
async fn a_dead_process_is_culled_and_a_pinged_one_lives() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "heartbeatDuration": 120});
    let (_, machines) = machines(&app, policy, &["fp-a"]).await;
    let quiet = id(&spawn(&app, &machines[0], "quiet").await.json["data"]).to_string();
    let busy = id(&spawn(&app, &machines[0], "busy").await.json["data"]).to_string();
    app.state.clock.advance(chrono::Duration::seconds(100));
    let ping = app.path(&format!("processes/{busy}/actions/ping"));
    assert_eq!(
        app.send(Method::POST, &ping, Some(app.admin()), None).await.status,
        StatusCode::OK
    );
    app.state.clock.advance(chrono::Duration::seconds(30));
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(
        app.get(&format!("processes/{quiet}")).await.status,
        StatusCode::NOT_FOUND
    );
    let alive = app.get(&format!("processes/{busy}")).await;
    assert_eq!(alive.json["data"]["attributes"]["status"], "ALIVE", "{}", alive.json);
    // A dead process its policy does not revive cannot be pinged back.
    app.state.clock.advance(chrono::Duration::seconds(121));
    let policy = json!({"floating": true, "heartbeatDuration": 120, "heartbeatCullStrategy": "KEEP_DEAD"});
    let (_, kept) = self::machines(&app, policy, &["fp-k"]).await;
    let kept_process = id(&spawn(&app, &kept[0], "kept").await.json["data"]).to_string();
    app.state.clock.advance(chrono::Duration::seconds(121));
    api::sweep_heartbeats(&app.state).await.unwrap();
    let dead = app.get(&format!("processes/{kept_process}")).await;
    assert_eq!(dead.json["data"]["attributes"]["status"], "DEAD");
    let ping = app.path(&format!("processes/{kept_process}/actions/ping"));
    let refused = app.send(Method::POST, &ping, Some(app.admin()), None).await;
    assert_eq!(refused.error_code(), "PROCESS_HEARTBEAT_DEAD");
}

#[tokio::test]
async fn strict_validation_counts_processes_by_the_leasing_strategy() {
    let app = spawn_app().await;
    for (strategy, scope, code) in [
        ("PER_LICENSE", json!(null), "TOO_MANY_PROCESSES"),
        ("PER_MACHINE", json!(null), "VALID"),
        ("PER_MACHINE", json!({"fingerprint": "fp-a"}), "TOO_MANY_PROCESSES"),
    ] {
        let policy = json!({"floating": true, "strict": true, "maxProcesses": 3, "processLeasingStrategy": strategy});
        let (license, machines) = machines(&app, policy, &["fp-a"]).await;
        for pid in ["1", "2", "3"] {
            assert_eq!(spawn(&app, &machines[0], pid).await.status, StatusCode::CREATED);
        }
        let body = json!({"data": {"type": "licenses", "attributes": {"maxProcesses": 2}}});
        let path = app.path(&format!("licenses/{}", id(&license)));
        assert_eq!(
            app.send(Method::PATCH, &path, Some(app.admin()), Some(body))
                .await
                .status,
            StatusCode::OK
        );
        let meta = if scope.is_null() {
            json!({})
        } else {
            json!({ "scope": scope })
        };
        let reply = app.validate(id(&license), meta).await;
        assert_eq!(reply.json["meta"]["code"], code, "{strategy} {scope}");
    }
}

#[tokio::test]
async fn a_process_dies_once_however_many_workers_sweep_and_a_revived_one_can_die_again() {
    let app = spawn_app().await;
    let policy = json!({"floating": true, "heartbeatDuration": 120,
        "heartbeatCullStrategy": "KEEP_DEAD", "heartbeatResurrectionStrategy": "ALWAYS_REVIVE"});
    let (_, machines) = machines(&app, policy, &["fp-a"]).await;
    let process = id(&spawn(&app, &machines[0], "worker").await.json["data"]).to_string();
    let (_, other) = app.second_node().await;
    app.state.clock.advance(chrono::Duration::seconds(121));
    other.state.clock.advance(chrono::Duration::seconds(121));
    let (a, b) = tokio::join!(api::sweep_heartbeats(&app.state), api::sweep_heartbeats(&other.state));
    a.unwrap();
    b.unwrap();
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(events_of(&app, &process, "process.heartbeat.dead").await, 1);
    // Revived by a ping (an event, beside its observation), it can die again.
    let ping = app.path(&format!("processes/{process}/actions/ping"));
    let revived = app.send(Method::POST, &ping, Some(app.admin()), None).await;
    assert_eq!(revived.status, StatusCode::OK, "{}", revived.json);
    assert_eq!(revived.json["data"]["attributes"]["status"], "RESURRECTED");
    assert_eq!(events_of(&app, &process, "process.heartbeat.resurrected").await, 1);
    app.state.clock.advance(chrono::Duration::seconds(121));
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(events_of(&app, &process, "process.heartbeat.dead").await, 2);
    other.stop().await.ok();
}
