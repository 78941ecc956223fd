//! Machine heartbeats: pings start and keep them (only the first ping of a life is an event),
//! a worker's sweep records each death once however many workers run (in-process nodes, and
//! `serve --role worker` processes), culls the dead a policy deactivates, and a ping revives a dead machine as the policy's resurrection strategy allows.
//! The clock is moved, never slept through.

use crate::helpers::{keyledger_command, spawn_app, Reply, ServeProcess, TestApp};
use crate::machines::{activate, id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use store::on_pool;

const DURATION: i64 = 120;

async fn ping(app: &TestApp, machine_id: &str) -> Reply {
    let path = app.path(&format!("machines/{machine_id}/actions/ping"));
    app.send(Method::POST, &path, Some(app.admin()), None).await
}

/// A license under a heartbeat policy with `extra` attributes and one machine: (license, machine).
async fn monitored(app: &TestApp, extra: Value) -> (Value, String) {
    let mut policy = json!({"floating": true, "requireHeartbeat": true, "heartbeatDuration": DURATION});
    policy
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let (_, license) = app.licensed(policy, json!({})).await;
    let reply = activate(app, app.admin(), id(&license), "fp-beating", json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    (license, id(&reply.json["data"]).to_string())
}

/// Stored events of `machine_id`'s own stream of type `event_type`.
pub(crate) async fn events_of(app: &TestApp, machine_id: &str, event_type: &str) -> i64 {
    let sql = "select count(*) from events where aggregate_id = $1 and event_type = $2";
    on_pool!(app.state.db, |pool| sqlx::query_scalar(sql)
        .bind(machine_id)
        .bind(event_type)
        .fetch_one(pool)
        .await
        .unwrap())
}

/// Waits until `machine_id` has `expected` events of `event_type` (a worker loop may be the one
/// deciding), then makes sure no more follow.
async fn settles_at(app: &TestApp, machine_id: &str, event_type: &str, expected: i64) {
    let started = std::time::Instant::now();
    while events_of(app, machine_id, event_type).await < expected {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no {event_type}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(events_of(app, machine_id, event_type).await, expected, "{event_type}");
}

async fn status(app: &TestApp, machine_id: &str) -> Value {
    let reply = app.get(&format!("machines/{machine_id}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    reply.json["data"]["attributes"]["heartbeatStatus"].clone()
}

fn later(app: &TestApp, seconds: i64) {
    app.state.clock.advance(chrono::Duration::seconds(seconds));
}

#[tokio::test]
async fn a_ping_starts_the_heartbeat_once_and_moves_its_deadline_every_time() {
    let app = spawn_app().await;
    let (_, machine) = monitored(&app, json!({"heartbeatBasis": "FROM_FIRST_PING"})).await;
    assert_eq!(status(&app, &machine).await, "NOT_STARTED");
    let first = ping(&app, &machine).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let a = &first.json["data"]["attributes"];
    assert_eq!(a["heartbeatStatus"], "ALIVE");
    let last = chrono::DateTime::parse_from_rfc3339(a["lastHeartbeat"].as_str().unwrap()).unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(a["nextHeartbeat"].as_str().unwrap()).unwrap();
    assert_eq!(next - last, chrono::Duration::seconds(DURATION));
    later(&app, 100);
    assert_eq!(ping(&app, &machine).await.status, StatusCode::OK);
    later(&app, 100);
    // 200 s after the first ping, 100 after the second: alive.
    assert_eq!(status(&app, &machine).await, "ALIVE");
    assert_eq!(events_of(&app, &machine, "machine.heartbeat.ping").await, 1);
    let logged = "select count(*) from observations where resource_id = $1 and event_type = 'machine.heartbeat.ping'";
    let pings: i64 = on_pool!(app.state.db, |pool| sqlx::query_scalar(logged)
        .bind(&machine)
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(pings, 2);
    let forbidden = app
        .send(
            Method::POST,
            &app.path("machines/nope/actions/ping"),
            Some(app.admin()),
            None,
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_machine_that_stops_pinging_dies_once_with_two_workers_sweeping() {
    let app = spawn_app().await;
    let (license, machine) = monitored(&app, json!({"heartbeatCullStrategy": "KEEP_DEAD"})).await;
    assert_eq!(ping(&app, &machine).await.status, StatusCode::OK);
    let (_, other) = app.second_node().await;
    later(&app, DURATION + 1);
    other.state.clock.advance(chrono::Duration::seconds(DURATION + 1));
    let (a, b) = tokio::join!(api::sweep_heartbeats(&app.state), api::sweep_heartbeats(&other.state));
    a.unwrap();
    b.unwrap();
    settles_at(&app, &machine, "machine.heartbeat.dead", 1).await;
    assert_eq!(status(&app, &machine).await, "DEAD");
    // Kept: it still counts, and validates dead.
    let scope = json!({"scope": {"fingerprint": "fp-beating"}});
    let reply = app.validate(id(&license), scope).await;
    assert_eq!(reply.json["meta"]["code"], "HEARTBEAT_DEAD");
    // Another sweep decides nothing again.
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(events_of(&app, &machine, "machine.heartbeat.dead").await, 1);
    other.stop().await.ok();
}

#[tokio::test]
async fn a_worker_started_after_deadlines_passed_fires_them() {
    let app = spawn_app().await;
    let (_, machine) = monitored(&app, json!({"heartbeatCullStrategy": "KEEP_DEAD"})).await;
    // Never pinged: a policy that requires heartbeats counts from creation.
    let (_, fresh) = app.second_node().await;
    fresh.state.clock.advance(chrono::Duration::seconds(DURATION * 10));
    api::sweep_heartbeats(&fresh.state).await.unwrap();
    settles_at(&app, &machine, "machine.heartbeat.dead", 1).await;
    fresh.stop().await.ok();
}

#[tokio::test]
async fn a_dead_machine_is_deactivated_and_its_slot_freed_when_the_policy_culls_the_dead() {
    let app = spawn_app().await;
    let (license, machine) = monitored(&app, json!({"maxMachines": 1})).await;
    assert_eq!(ping(&app, &machine).await.status, StatusCode::OK);
    let full = activate(&app, app.admin(), id(&license), "fp-second", json!({})).await;
    assert_eq!(full.error_code(), "MACHINE_LIMIT_EXCEEDED");
    later(&app, DURATION + 1);
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(events_of(&app, &machine, "machine.heartbeat.dead").await, 1);
    assert_eq!(
        app.get(&format!("machines/{machine}")).await.status,
        StatusCode::NOT_FOUND
    );
    let freed = activate(&app, app.admin(), id(&license), "fp-second", json!({})).await;
    assert_eq!(freed.status, StatusCode::CREATED, "{}", freed.json);
}

#[tokio::test]
async fn a_ping_revives_a_dead_machine_only_as_the_resurrection_strategy_allows() {
    let app = spawn_app().await;
    let (_, never) = monitored(&app, json!({"heartbeatCullStrategy": "KEEP_DEAD"})).await;
    let (_, always) = monitored(
        &app,
        json!({"heartbeatCullStrategy": "KEEP_DEAD", "heartbeatResurrectionStrategy": "ALWAYS_REVIVE"}),
    )
    .await;
    let (_, windowed) = monitored(&app, json!({"heartbeatResurrectionStrategy": "5_MINUTE_REVIVE"})).await;
    for machine in [&never, &always, &windowed] {
        assert_eq!(ping(&app, machine).await.status, StatusCode::OK);
    }
    later(&app, DURATION + 60);
    api::sweep_heartbeats(&app.state).await.unwrap();
    for machine in [&never, &always, &windowed] {
        assert_eq!(status(&app, machine).await, "DEAD", "{machine}");
    }
    let refused = ping(&app, &never).await;
    assert_eq!(
        (refused.status, refused.error_code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "MACHINE_HEARTBEAT_DEAD")
    );
    for machine in [&always, &windowed] {
        let revived = ping(&app, machine).await;
        assert_eq!(revived.status, StatusCode::OK, "{}", revived.json);
        assert_eq!(revived.json["data"]["attributes"]["heartbeatStatus"], "RESURRECTED");
        assert_eq!(status(&app, machine).await, "ALIVE");
        assert_eq!(events_of(&app, machine, "machine.heartbeat.resurrected").await, 1);
    }
    // A windowed machine that stays dead past its window is culled by the next sweep.
    later(&app, DURATION + 1);
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(status(&app, &windowed).await, "DEAD");
    later(&app, 5 * 60);
    api::sweep_heartbeats(&app.state).await.unwrap();
    assert_eq!(
        app.get(&format!("machines/{windowed}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_reset_stops_the_heartbeat_and_only_admins_and_products_may_reset() {
    let app = spawn_app().await;
    let (policy, license) = app
        .licensed(json!({"floating": true, "authenticationStrategy": "MIXED"}), json!({}))
        .await;
    let reply = activate(&app, app.admin(), id(&license), "fp-r", json!({})).await;
    let machine = id(&reply.json["data"]).to_string();
    assert_eq!(ping(&app, &machine).await.status, StatusCode::OK);
    assert_eq!(status(&app, &machine).await, "ALIVE");
    let (_, license_token) = app.license_token(id(&license)).await;
    let path = app.path(&format!("machines/{machine}/actions/reset"));
    let refused = app.send(Method::POST, &path, Some(&license_token), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let reset = app.send(Method::POST, &path, Some(app.admin()), None).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.json);
    assert_eq!(reset.json["data"]["attributes"]["heartbeatStatus"], "NOT_STARTED");
    assert_eq!(reset.json["data"]["attributes"]["lastHeartbeat"], Value::Null);
    assert_eq!(events_of(&app, &machine, "machine.heartbeat.reset").await, 1);
    // The next ping starts a new life: a second start event.
    let pinged = app
        .send(
            Method::POST,
            &app.path(&format!("machines/{machine}/actions/ping-heartbeat")),
            Some(&license_token),
            None,
        )
        .await;
    assert_eq!(pinged.status, StatusCode::OK, "{}", pinged.json);
    assert_eq!(events_of(&app, &machine, "machine.heartbeat.ping").await, 2);
    let _ = policy;
}

#[tokio::test]
async fn the_worker_loop_records_a_death_without_being_asked() {
    let app = spawn_app().await;
    let (_, machine) = monitored(&app, json!({"heartbeatCullStrategy": "KEEP_DEAD"})).await;
    later(&app, DURATION + 1);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(api::run_heartbeats(
        app.state.clone(),
        std::time::Duration::from_millis(50),
        stopped,
    ));
    settles_at(&app, &machine, "machine.heartbeat.dead", 1).await;
    stop.send(true).unwrap();
    worker.await.unwrap();
}

/// A `serve --role worker` process over the app's store, scanning every second, as an operator
/// scales workers apart from the API.
async fn worker_process(app: &TestApp) -> ServeProcess {
    let mut command = keyledger_command();
    command
        .args(["serve", "--role", "worker", "--heartbeat-scan-seconds", "1"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret);
    // Started off the runtime thread: the app's own tasks go on meanwhile.
    tokio::task::spawn_blocking(move || ServeProcess::start_worker(command))
        .await
        .unwrap()
        .unwrap_or_else(|out| panic!("the worker did not start: {:?}", out.stderr))
}

#[tokio::test]
async fn two_worker_processes_started_after_the_deadlines_record_each_death_once_and_cull_as_told() {
    let app = spawn_app().await;
    // The app's clock runs an hour behind the workers': by theirs, every deadline below passed
    // long before they started.
    later(&app, -3600);
    // Several deaths due at once, so both workers find work in the same scans.
    let mut kept = Vec::new();
    for _ in 0..8 {
        kept.push(monitored(&app, json!({"heartbeatCullStrategy": "KEEP_DEAD"})).await.1);
    }
    let (culled_license, culled) = monitored(
        &app,
        json!({"heartbeatCullStrategy": "DEACTIVATE_DEAD", "maxMachines": 1}),
    )
    .await;
    for machine in kept.iter().chain([&culled]) {
        assert_eq!(ping(&app, machine).await.status, StatusCode::OK);
    }
    let (first, second) = (worker_process(&app).await, worker_process(&app).await);
    for machine in kept.iter().chain([&culled]) {
        settles_at(&app, machine, "machine.heartbeat.dead", 1).await;
    }
    settles_at(&app, id(&culled_license), "machine.deleted", 1).await;
    // Kept dead, and still their licenses'.
    for machine in &kept {
        assert_eq!(status(&app, machine).await, "DEAD");
    }
    // Culled: gone, and its slot free for another machine.
    let gone = app.get(&format!("machines/{culled}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.json);
    let next = activate(&app, app.admin(), id(&culled_license), "fp-next", json!({})).await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.json);
    for worker in [first, second] {
        let out = tokio::task::spawn_blocking(move || worker.stop()).await.unwrap();
        assert!(out.status.success(), "{:?}", out.stderr);
    }
}
