//! Nodes killed with SIGKILL (a child `keyledger serve`): one killed while it applies the feed
//! leaves nothing for the next node to wait out, since the checkpoint's lock ends with the process
//! that held it; one killed under validation load has recorded every validation it answered 200.

use crate::helpers::{keyledger_command, spawn_app_without_runner, ServeProcess, TestApp};
use aggregates::product::{ProductAttributes, ProductEvent};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use store::on_pool;

/// Enough events that applying them takes the runner several batches.
const PENDING: usize = 4_000;

/// Commits `PENDING` product events without projecting them, as a crash between commit and
/// projection leaves them; answers the last product's id.
async fn committed_unprojected(app: &TestApp) -> String {
    let insert =
        "insert into events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                  values ('product', $1, 1, 'product.created', '1.0', $2, '{}')";
    let mut last = String::new();
    on_pool!(app.state.db, |pool| {
        let mut tx = pool.begin().await.unwrap();
        for n in 0..PENDING {
            last = uuid::Uuid::new_v4().to_string();
            let event = ProductEvent::Created {
                id: last.clone(),
                account_id: app.account.account_id.clone(),
                attributes: ProductAttributes::named(format!("Pending {n}")),
                created_at: chrono::Utc::now(),
            };
            let payload = serde_json::to_string(&event).unwrap();
            sqlx::query(&insert.replace("$2", cast(app)))
                .bind(&last)
                .bind(payload)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    });
    last
}

/// The payload parameter as each backend's `events.payload` column takes it.
fn cast(app: &TestApp) -> &'static str {
    match app.state.db.backend() {
        store::Backend::Postgres => "cast($2 as json)",
        store::Backend::Sqlite => "$2",
    }
}

fn serve(app: &TestApp) -> ServeProcess {
    let mut command = keyledger_command();
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret);
    ServeProcess::start(command).unwrap_or_else(|out| panic!("serve did not start: {:?}", out.stderr))
}

#[tokio::test]
async fn a_node_killed_while_it_applies_the_feed_holds_nothing_up_after_restart() {
    let app = spawn_app_without_runner().await;
    let last = committed_unprojected(&app).await;
    let start = app.state.db.checkpoint(projections::CATCH_UP_CHECKPOINT).await.unwrap();

    // The first node starts applying them; it is killed once its checkpoint has moved, in the
    // middle of the round, while it holds the checkpoint.
    let first = serve(&app);
    let waited = Instant::now();
    loop {
        let at = app.state.db.checkpoint(projections::CATCH_UP_CHECKPOINT).await.unwrap();
        if at != start {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the first node never applied anything"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill();
    let product = |path: String| {
        let client = reqwest::Client::new();
        let token = app.account.admin_token.clone();
        async move { client.get(path).bearer_auth(token).send().await.unwrap().status() }
    };
    let unfinished = projections::products::find(&app.state.db, &app.account.account_id, &last)
        .await
        .unwrap();
    assert!(unfinished.is_none(), "the first node was killed before it finished");

    // The restarted node catches up at once: the dead node's hold ended with it.
    let second = serve(&app);
    let path = format!(
        "http://{}/v1/accounts/{}/products/{last}",
        second.addr, app.account.account_slug
    );
    let restarted = Instant::now();
    while product(path.clone()).await != StatusCode::OK {
        // Far below the 30 s a dead node's lease used to hold the checkpoint.
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "the restarted node did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.stop();
}

#[tokio::test]
async fn every_validation_answered_200_before_a_sigkill_is_observed_after_restart() {
    let app = spawn_app_without_runner().await;
    let (_, license) = app.licensed(serde_json::json!({}), serde_json::json!({})).await;
    let key = license["attributes"]["key"].as_str().unwrap().to_string();
    let node = serve(&app);
    let url = format!(
        "http://{}/v1/accounts/{}/licenses/actions/validate-key",
        node.addr, app.account.account_slug
    );
    // Eight clients validate in a loop until the node dies under them.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut answered = 0u64;
                loop {
                    let sent = client
                        .post(&url)
                        .header("Content-Type", "application/vnd.api+json")
                        .body(serde_json::json!({"meta": {"key": key}}).to_string())
                        .send()
                        .await;
                    match sent {
                        Ok(reply) if reply.status() == StatusCode::OK => answered += 1,
                        _ => return answered,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.kill();
    let mut answered = 0;
    for client in clients {
        answered += client.await.unwrap();
    }
    assert!(answered > 0, "the node answered validations before it died");
    serve(&app).stop();
    let observed =
        projections::observations::count(&app.state.db, &app.account.account_id, "license.validation.succeeded")
            .await
            .unwrap();
    assert!(
        observed as u64 >= answered,
        "{answered} validations were answered 200 but only {observed} were observed"
    );
}
