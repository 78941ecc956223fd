//! Keygen's response signatures: `Keygen-Accept-Signature` checking and the signature (ed25519,
//! RSA-PSS, RSA PKCS#1 v1.5 or ECDSA P-256) over request-target, host, date and body digest.

use crate::crypto::SignatureAlgorithm;
use crate::error::{ApiError, Source};
use crate::state::AccountContext;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// `Keygen-Accept-Signature: [keyid="<account>", ]algorithm="<algorithm>"` names the algorithm
/// responses are signed with; anything malformed, another account or an unknown algorithm is a
/// 400.
pub(super) fn check_accept_signature(value: &str, account_id: &str) -> Result<SignatureAlgorithm, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid accept-signature header (supported algorithms: ed25519, rsa-pss-sha256, rsa-sha256, ecdsa-p256)",
            "SIGNATURE_INVALID",
            Some(Source::Header("Keygen-Accept-Signature".into())),
        )
    };
    let mut algorithm = None;
    for part in value.trim().trim_end_matches(';').split(',') {
        let (key, val) = part.split_once('=').ok_or_else(bad)?;
        let val = val.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "algorithm" => algorithm = Some(SignatureAlgorithm::parse(val).ok_or_else(bad)?),
            "keyid" if val == account_id => {}
            _ => return Err(bad()),
        }
    }
    algorithm.ok_or_else(bad)
}

/// Adds `Date`, `Digest`, `Keygen-Date`, `Keygen-Digest` and `Keygen-Signature` to a response.
/// The body is collected once and the same bytes are sent.
pub(super) async fn sign(
    response: Response,
    account: &Arc<AccountContext>,
    algorithm: SignatureAlgorithm,
    method: &Method,
    target: &str,
    host: &str,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let digest = format!("sha-256={}", B64.encode(Sha256::digest(&bytes)));
    let signing_string = format!(
        "(request-target): {} {target}\nhost: {host}\ndate: {date}\ndigest: {digest}",
        method.as_str().to_ascii_lowercase()
    );
    // An RSA or ECDSA signature takes up to a couple of milliseconds: off the async threads, so
    // other requests go on meanwhile. Ed25519 takes microseconds and stays inline.
    let signed = match algorithm {
        SignatureAlgorithm::Ed25519 => account.keys.sign(algorithm, signing_string.as_bytes()),
        _ => {
            let keys = account.keys.clone();
            let message = signing_string.clone();
            match tokio::task::spawn_blocking(move || keys.sign(algorithm, message.as_bytes())).await {
                Ok(signed) => signed,
                Err(err) => return ApiError::internal(err).into_response(),
            }
        }
    };
    let signature = match signed {
        Ok(signature) => B64.encode(signature),
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let header_value = format!(
        "keyid=\"{}\", algorithm=\"{}\", signature=\"{signature}\", headers=\"(request-target) host date digest\"",
        account.row.id,
        algorithm.name()
    );
    let headers = &mut parts.headers;
    for (name, value) in [
        ("date", &date),
        ("keygen-date", &date),
        ("digest", &digest),
        ("keygen-digest", &digest),
        ("keygen-signature", &header_value),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&account.row.id) {
        headers.insert(HeaderName::from_static("keygen-account"), v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_signature_names_one_of_keygens_algorithms_for_this_account() {
        let ok = |value| check_accept_signature(value, "a").ok();
        assert_eq!(ok("algorithm=\"ed25519\""), Some(SignatureAlgorithm::Ed25519));
        assert_eq!(
            ok("keyid=\"a\", algorithm=\"ED25519\";"),
            Some(SignatureAlgorithm::Ed25519)
        );
        assert_eq!(ok("algorithm=\"rsa-sha256\""), Some(SignatureAlgorithm::RsaSha256));
        assert_eq!(
            ok("algorithm=\"rsa-pss-sha256\""),
            Some(SignatureAlgorithm::RsaPssSha256)
        );
        assert_eq!(
            ok("keyid=\"a\", algorithm=\"ecdsa-p256\""),
            Some(SignatureAlgorithm::EcdsaP256)
        );
        assert!(check_accept_signature("keyid=\"b\", algorithm=\"ed25519\"", "a").is_err());
        assert!(check_accept_signature("algorithm=\"rsa-sha512\"", "a").is_err());
        assert!(check_accept_signature("keyid=\"a\"", "a").is_err());
        assert!(check_accept_signature("garbage", "a").is_err());
    }
}
