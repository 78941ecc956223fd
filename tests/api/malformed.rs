//! Malformed input gets a JSON:API error with a code and a pointer, never a 500, and writes
//! nothing.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn malformed_product_bodies_are_400_or_422_with_pointers() {
    let app = spawn_app().await;
    let target = app.path("products");
    let big_metadata: serde_json::Map<String, serde_json::Value> =
        (0..65).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases: Vec<(String, StatusCode, &str, &str)> = vec![
        ("{\"data\": ".into(), StatusCode::BAD_REQUEST, "JSON_INVALID", ""),
        ("[1, 2]".into(), StatusCode::BAD_REQUEST, "PARAMETER_INVALID", "/data"),
        ("{}".into(), StatusCode::BAD_REQUEST, "PARAMETER_MISSING", "/data"),
        (
            json!({"data": {"type": "users", "attributes": {"name": "x"}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_INVALID",
            "/data/type",
        ),
        (
            json!({"data": {"attributes": {"name": "x"}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_MISSING",
            "/data/type",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x", "role": "admin"}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_UNPERMITTED",
            "/data/attributes/role",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": 42}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_INVALID",
            "/data/attributes/name",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x", "platforms": "Linux"}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_INVALID",
            "/data/attributes/platforms",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x", "metadata": [1]}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_INVALID",
            "/data/attributes/metadata",
        ),
        (
            json!({"data": {"type": "products", "attributes": "x"}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_INVALID",
            "/data/attributes",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x"}, "relationships": {"account": {}}}})
                .to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_UNPERMITTED",
            "/data/relationships/account",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x"}}, "extra": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_UNPERMITTED",
            "/extra",
        ),
        (
            json!({"data": {"type": "products", "attributes": {}}}).to_string(),
            StatusCode::BAD_REQUEST,
            "PARAMETER_MISSING",
            "/data/attributes/name",
        ),
        (
            json!({"data": {"type": "products", "attributes": {"name": "x", "metadata": big_metadata}}}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "METADATA_TOO_LONG",
            "/data/attributes/metadata",
        ),
    ];
    for (body, status, code, pointer) in cases {
        let reply = app.send_raw(Method::POST, &target, app.admin(), &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.json);
        assert_eq!(reply.error_code(), code, "{body}");
        assert_eq!(reply.error_pointer(), pointer, "{body}");
        assert!(reply.json["meta"]["id"].is_string());
    }
    assert_eq!(app.get("products").await.json["data"], json!([]), "nothing was written");
}

#[tokio::test]
async fn malformed_updates_leave_the_product_as_it_was() {
    let app = spawn_app().await;
    let product = app.create_product("Kept", Some("kept")).await;
    let target = app.path(&format!("products/{}", product["id"].as_str().unwrap()));
    for body in [
        json!({"data": {"type": "products", "attributes": {"name": ["x"]}}}).to_string(),
        json!({"data": {"type": "products", "attributes": {"unknownThing": true}}}).to_string(),
        json!({"data": {"type": "products", "attributes": {"name": "changed", "distributionStrategy": "NOPE"}}})
            .to_string(),
        "not json".to_string(),
    ] {
        let reply = app.send_raw(Method::PATCH, &target, app.admin(), &body).await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.status);
        assert!(!reply.error_code().is_empty());
    }
    assert_eq!(
        app.get("products/kept").await.json["data"]["attributes"]["name"],
        "Kept"
    );
}

#[tokio::test]
async fn malformed_token_requests_are_refused_with_pointers() {
    let app = spawn_app().await;
    let target = app.path("tokens");
    for (body, pointer) in [
        (
            json!({"data": {"type": "tokens", "attributes": {"expiry": "tomorrow"}}}),
            "/data/attributes/expiry",
        ),
        (
            json!({"data": {"type": "tokens", "attributes": {"kind": "admin-token"}}}),
            "/data/attributes/kind",
        ),
        (
            json!({"data": {"type": "tokens", "attributes": {"permissions": "all"}}}),
            "/data/attributes/permissions",
        ),
    ] {
        let reply = app
            .send(Method::POST, &target, Some(app.admin()), Some(body.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error_pointer(), pointer);
    }
    // Custom permissions are not offered (nothing would enforce them): any list is refused.
    let reply = app
        .send(
            Method::POST,
            &target,
            Some(app.admin()),
            Some(json!({"data": {"type": "tokens", "attributes": {"permissions": ["license.read"]}}})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::BAD_REQUEST, "PARAMETER_UNPERMITTED")
    );
    assert_eq!(
        app.get("tokens").await.json["data"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}

#[tokio::test]
async fn nul_characters_are_refused_not_stored() {
    let app = spawn_app().await;
    let body = "{\"data\": {\"type\": \"products\", \"attributes\": {\"name\": \"A\\u0000B\"}}}";
    let reply = app
        .send_raw(Method::POST, &app.path("products"), app.admin(), body)
        .await;
    assert_eq!(
        (reply.status, reply.error_code(), reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "ENCODING_INVALID", "/data/attributes/name")
    );
    let key = "{\"meta\": {\"key\": \"\\u0000\"}}";
    let reply = app
        .send_raw(
            Method::POST,
            &app.path("licenses/actions/validate-key"),
            app.admin(),
            key,
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_pointer()),
        (StatusCode::BAD_REQUEST, "/meta/key")
    );
    assert_eq!(app.get("licenses/%00").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("products/%00").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("licenses?status=%00").await.status, StatusCode::BAD_REQUEST);
    let reply = app
        .send_with_authorization(Method::GET, &format!("{}?auth=license:%00", app.path("me")), None)
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "LICENSE_INVALID")
    );
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "a\0@example.com:pw")
    );
    let reply = app
        .send_with_authorization(Method::POST, &app.path("tokens"), Some(&basic))
        .await;
    assert_eq!(
        (reply.status, reply.error_code()),
        (StatusCode::UNAUTHORIZED, "EMAIL_INVALID")
    );
    let reply = app
        .send(Method::GET, "/v1/accounts/%00/products", Some(app.admin()), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// Sends raw bytes to the server and reads its whole answer (status code and JSON body).
async fn raw_request(app: &crate::helpers::TestApp, request: &[u8]) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_string();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_json_api_errors_with_codes() {
    let app = spawn_app().await;
    let long_uri = format!("GET /v1/ping?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let big_header = format!(
        "GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let cases: [(&[u8], u16, &str); 4] = [
        (long_uri.as_bytes(), 414, "URI_TOO_LONG"),
        (b"GET /v1/ping HTTP/1.1\r\nHost: a\x01b\r\n\r\n", 400, "REQUEST_INVALID"),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "REQUEST_INVALID"),
        (big_header.as_bytes(), 431, "HEADERS_TOO_LARGE"),
    ];
    for (request, status, code) in cases {
        let (got, content_type, body) = raw_request(&app, request).await;
        assert_eq!(got, status, "{code}: {body}");
        assert_eq!(content_type, "application/vnd.api+json", "{code}");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
        assert!(body["errors"][0]["title"].is_string() && body["errors"][0]["detail"].is_string());
    }
    // The server goes on answering well-formed requests.
    assert_eq!(app.get("products").await.status, StatusCode::OK);
}
