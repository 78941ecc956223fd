//! Private keys never leave the server: after every kind of signing — responses in each
//! algorithm, signed keys of each scheme, license and machine files, webhooks — no response, log
//! line, export or stored payload holds any of the account's private keys, raw or encoded.

use crate::helpers::{keyledger_command, output_of, spawn_app, ServeProcess, TestApp};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Every encoding of the account's private keys something could leak: the ed25519 seed in hex
/// and base64, each PEM whole and as base64, and each full line of each PEM's body (the DER).
async fn needles(app: &TestApp) -> Vec<String> {
    let row = projections::accounts::find(&app.state.db, &app.account.account_id)
        .await
        .unwrap()
        .unwrap();
    let open = |sealed: &str| app.state.master.open(sealed).unwrap();
    let seed = open(&row.ed25519_private_key_sealed);
    let mut needles = vec![
        hex::encode(&seed),
        STANDARD.encode(&seed),
        URL_SAFE.encode(&seed),
        URL_SAFE_NO_PAD.encode(&seed),
    ];
    for sealed in [
        row.rsa2048_private_key_sealed.unwrap(),
        row.ecdsa_private_key_sealed.unwrap(),
    ] {
        let pem = String::from_utf8(open(&sealed)).unwrap();
        assert!(pem.contains("PRIVATE KEY-----"));
        needles.push(pem.clone());
        needles.push(STANDARD.encode(&pem));
        needles.push(pem.replace('\n', "\\n"));
        needles.extend(pem.lines().filter(|l| l.len() == 64).map(str::to_string));
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        needles.push(hex::encode(STANDARD.decode(der).unwrap()));
    }
    needles
}

/// `haystack` with any needle in it named (by its kind, not its value).
fn leaks(haystack: &str, needles: &[String]) -> Vec<usize> {
    needles
        .iter()
        .enumerate()
        .filter(|(_, n)| haystack.contains(n.as_str()))
        .map(|(i, _)| i)
        .collect()
}

/// A request whose whole response (status line aside) is kept: headers and body.
async fn kept(
    app: &TestApp,
    seen: &mut String,
    method: Method,
    rest: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let reply = app.send_with_headers(method, &app.path(rest), headers, body).await;
    assert!(reply.status.is_success(), "{rest}: {}", reply.json);
    for (name, value) in &reply.headers {
        seen.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
    }
    seen.push_str(&String::from_utf8_lossy(&reply.bytes));
    reply.json
}

#[tokio::test]
async fn no_response_log_export_or_stored_payload_holds_a_private_key() {
    let app = spawn_app().await;
    let needles = needles(&app).await;
    let mut seen = String::new();

    // Signing of every kind, through the API.
    let product = app.create_product("Secret", None).await;
    let product_id = product["id"].as_str().unwrap();
    let mut licenses = Vec::new();
    for scheme in [
        "ED25519_SIGN",
        "ECDSA_P256_SIGN",
        "RSA_2048_PKCS1_PSS_SIGN_V2",
        "RSA_2048_PKCS1_ENCRYPT",
        "RSA_2048_JWT_RS256",
    ] {
        let policy = app.create_policy(product_id, json!({"scheme": scheme})).await;
        let body = json!({"data": {"type": "licenses", "relationships": {"policy": {"data": {"type": "policies", "id": policy["id"]}}}}});
        let license = kept(&app, &mut seen, Method::POST, "licenses", &[], Some(body)).await;
        licenses.push(license["data"]["id"].as_str().unwrap().to_string());
    }
    for algorithm in ["ed25519", "rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"] {
        let accept = format!("algorithm=\"{algorithm}\"");
        kept(
            &app,
            &mut seen,
            Method::GET,
            "",
            &[("Keygen-Accept-Signature", &accept)],
            None,
        )
        .await;
        let file = format!(
            "licenses/{}/actions/check-out?encrypt=true&algorithm=aes-256-gcm%2B{algorithm}&include=product,policy",
            licenses[0]
        );
        kept(
            &app,
            &mut seen,
            Method::POST,
            &file,
            &[("Keygen-Accept-Signature", &accept)],
            None,
        )
        .await;
        kept(&app, &mut seen, Method::GET, &file, &[], None).await;
    }
    let machine = json!({"data": {"type": "machines", "attributes": {"fingerprint": "fp-secret"},
        "relationships": {"license": {"data": {"type": "licenses", "id": licenses[1]}}}}});
    let machine = kept(&app, &mut seen, Method::POST, "machines", &[], Some(machine)).await;
    let machine_file = format!(
        "machines/{}/actions/check-out?include=license,components",
        machine["data"]["id"].as_str().unwrap()
    );
    kept(&app, &mut seen, Method::POST, &machine_file, &[], None).await;
    let endpoint = json!({"data": {"type": "webhook-endpoints", "attributes": {"url": "https://198.51.100.7/hook", "signatureAlgorithm": "rsa-pss-sha256"}}});
    kept(&app, &mut seen, Method::POST, "webhook-endpoints", &[], Some(endpoint)).await;
    kept(
        &app,
        &mut seen,
        Method::GET,
        "request-logs?page[size]=100&page[number]=1",
        &[],
        None,
    )
    .await;
    kept(
        &app,
        &mut seen,
        Method::GET,
        "event-logs?page[size]=100&page[number]=1",
        &[],
        None,
    )
    .await;
    assert!(
        leaks(&seen, &needles).is_empty(),
        "a response holds a private key (needles {:?})",
        leaks(&seen, &needles)
    );

    // Everything stored that is not sealed: events, observations, logs, webhook payloads.
    for (table, column) in [
        ("events", "payload"),
        ("events", "metadata"),
        ("observations", "payload"),
        ("request_logs", "response_body"),
        ("request_logs", "request_body"),
        ("webhook_events", "payload"),
    ] {
        // As text on both backends (PostgreSQL keeps some of these as json).
        let sql = format!("select cast({column} as text) from {table}");
        let rows: Vec<Option<String>> =
            store::on_pool!(app.state.db, |pool| sqlx::query_scalar::<_, Option<String>>(&sql)
                .fetch_all(pool)
                .await
                .unwrap());
        let stored = rows.into_iter().flatten().collect::<Vec<_>>().join("\n");
        assert!(
            leaks(&stored, &needles).is_empty(),
            "{table}.{column} holds a private key"
        );
    }

    // The export auditors read.
    let mut export = keyledger_command();
    export
        .args(["events", "export"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret);
    let exported = output_of(export).await;
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let exported = String::from_utf8_lossy(&exported.stdout);
    assert!(
        exported.contains("account.created"),
        "the export holds the account's events"
    );
    assert!(leaks(&exported, &needles).is_empty(), "the export holds a private key");

    // The server's own log, at its most verbose, while it signs in every algorithm.
    let mut serve = keyledger_command();
    serve
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("KEYLEDGER_DATABASE_URL", &app.database_url)
        .env("KEYLEDGER_SECRET_KEY", &app.secret)
        .env("KEYLEDGER_LOG", "trace,sqlx=trace");
    let server = ServeProcess::start(serve).unwrap_or_else(|out| panic!("serve did not start: {:?}", out.stderr));
    let base = format!("http://{}", server.addr);
    for algorithm in ["ed25519", "rsa-pss-sha256", "rsa-sha256", "ecdsa-p256"] {
        let file = format!(
            "{base}{}",
            app.path(&format!("licenses/{}/actions/check-out?encrypt=true", licenses[2]))
        );
        let reply = app
            .client
            .post(file)
            .bearer_auth(app.admin())
            .header("Keygen-Accept-Signature", format!("algorithm=\"{algorithm}\""))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }
    let output = server.stop();
    let logged = [output.stdout, output.stderr].concat().join("\n");
    assert!(logged.contains("check-out"), "the log saw the requests");
    assert!(leaks(&logged, &needles).is_empty(), "a log line holds a private key");
}
