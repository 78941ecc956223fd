//! A check-out's options: `encrypt`, `algorithm`, `ttl` and `include`, from the request's
//! `meta` or its query string, with Keygen's defaults and refusals.

use crate::crypto::certificate::FileAlgorithm;
use crate::crypto::SignatureAlgorithm;
use crate::error::{ApiError, ApiResult, Source};
use crate::jsonapi::type_name;
use aggregates::license::keys::Scheme;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a license file may include (`user` is Keygen's alias of `owner`).
pub(crate) const LICENSE_INCLUDES: &[&str] = &[
    "entitlements",
    "environment",
    "product",
    "policy",
    "group",
    "owner",
    "users",
    "user",
];

/// What a machine file may include (`license.user` is Keygen's alias of `license.owner`).
pub(crate) const MACHINE_INCLUDES: &[&str] = &[
    "license",
    "license.entitlements",
    "license.product",
    "license.policy",
    "license.owner",
    "license.users",
    "license.user",
    "components",
    "environment",
    "group",
    "owner",
];

/// A file lasts a month unless the request says otherwise.
pub(crate) const DEFAULT_TTL: i64 = 2_629_746;
/// The shortest `ttl` Keygen takes: an hour.
pub(crate) const MIN_TTL: i64 = 3600;

/// A ttl whose expiry would pass the last instant the API prints (year 9999).
pub(super) fn ttl_too_long() -> ApiError {
    ApiError::bad_request(
        "must not reach past 9999-12-31T23:59:59Z",
        "CHECKOUT_TTL_INVALID",
        Some(Source::Parameter("ttl".into())),
    )
}

/// How a file is to be made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckoutOptions {
    /// `algorithm`, when named (it overrides `encrypt`).
    pub algorithm: Option<FileAlgorithm>,
    pub encrypt: bool,
    /// Seconds the file lasts; `None` (`ttl=null`) for a file that never expires.
    pub ttl: Option<i64>,
    pub include: Vec<String>,
}

/// One option as the request gave it: from the query string or from `meta`.
#[derive(Clone, Copy)]
enum Given<'a> {
    Query(&'a str, &'a str),
    Meta(&'a str, &'a Value),
}

impl Given<'_> {
    fn source(&self) -> Source {
        match self {
            Given::Query(name, _) => Source::Parameter((*name).into()),
            Given::Meta(name, _) => Source::Pointer(format!("/meta/{name}")),
        }
    }

    fn refused(&self, detail: &str, code: &str) -> ApiError {
        ApiError::bad_request(detail, code, Some(self.source()))
    }

    /// A string option (query values always are).
    fn text(&self) -> ApiResult<Option<&str>> {
        match self {
            Given::Query(_, value) => Ok(Some(value)),
            Given::Meta(_, Value::Null) => Ok(None),
            Given::Meta(_, Value::String(value)) => Ok(Some(value)),
            Given::Meta(name, other) => Err(ApiError::type_mismatch(
                format!("/meta/{name}"),
                type_name(other),
                "string",
            )),
        }
    }
}

impl CheckoutOptions {
    /// Reads `encrypt`, `algorithm`, `ttl` and `include` from `meta`, else from the query; an
    /// include outside `allowed`, an unknown algorithm or a ttl under an hour is Keygen's 400.
    pub(crate) fn parse(
        query: &HashMap<String, String>,
        meta: &Map<String, Value>,
        allowed: &[&str],
    ) -> ApiResult<Self> {
        if let Some(key) = meta
            .keys()
            .find(|k| !matches!(k.as_str(), "encrypt" | "algorithm" | "ttl" | "include"))
        {
            return Err(ApiError::unpermitted(format!("/meta/{key}")));
        }
        let given = |name: &'static str| match meta.get(name) {
            Some(value) => Some(Given::Meta(name, value)),
            None => query.get(name).map(|value| Given::Query(name, value.as_str())),
        };
        let encrypt = match given("encrypt") {
            None => false,
            Some(Given::Meta(_, Value::Bool(b))) => *b,
            Some(Given::Meta(_, Value::Null)) => false,
            Some(Given::Meta(name, other)) => {
                return Err(ApiError::type_mismatch(
                    format!("/meta/{name}"),
                    type_name(other),
                    "boolean",
                ))
            }
            Some(q @ Given::Query(..)) => match q.text()?.unwrap_or_default() {
                "true" | "1" => true,
                "false" | "0" | "" => false,
                _ => return Err(q.refused("must be a boolean", "PARAMETER_INVALID")),
            },
        };
        let algorithm = match given("algorithm") {
            None => None,
            Some(g) => match g.text()? {
                None => None,
                Some(name) => Some(
                    FileAlgorithm::parse(name)
                        .ok_or_else(|| g.refused("unsupported algorithm", "CHECKOUT_ALGORITHM_INVALID"))?,
                ),
            },
        };
        let ttl = match given("ttl") {
            None => Some(DEFAULT_TTL),
            Some(g) => {
                let seconds = match &g {
                    Given::Meta(_, Value::Null) => None,
                    Given::Meta(_, Value::Number(n)) => Some(n.as_i64()),
                    Given::Meta(name, other) => {
                        return Err(ApiError::type_mismatch(
                            format!("/meta/{name}"),
                            type_name(other),
                            "integer",
                        ))
                    }
                    Given::Query(_, "" | "null") => None,
                    Given::Query(_, value) => Some(value.parse::<i64>().ok()),
                };
                match seconds {
                    None => None,
                    Some(Some(seconds)) if seconds >= MIN_TTL => Some(seconds),
                    Some(Some(_)) => {
                        return Err(g.refused("must be greater than or equal to 3600 (1 hour)", "CHECKOUT_TTL_INVALID"))
                    }
                    Some(None) => return Err(g.refused("must be an integer", "CHECKOUT_TTL_INVALID")),
                }
            }
        };
        let include = match given("include") {
            None => Vec::new(),
            Some(Given::Meta(name, Value::Array(items))) => items
                .iter()
                .map(|item| {
                    let refused = || Given::Meta(name, item).refused("invalid include", "CHECKOUT_INCLUDE_INVALID");
                    item.as_str().map(str::to_string).ok_or_else(refused)
                })
                .collect::<ApiResult<Vec<_>>>()?,
            Some(g) => g
                .text()?
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        if let Some(bad) = include.iter().find(|i| !allowed.contains(&i.as_str())) {
            let g = given("include").expect("includes came from somewhere");
            return Err(g.refused(&format!("invalid include: {bad}"), "CHECKOUT_INCLUDE_INVALID"));
        }
        Ok(Self {
            algorithm,
            encrypt,
            ttl,
            include,
        })
    }

    /// The named algorithm, or `aes-256-gcm`/`base64` (by `encrypt`) with the signature the
    /// license's scheme implies (ed25519 without one).
    pub(super) fn algorithm(&self, scheme: Option<&str>) -> FileAlgorithm {
        self.algorithm.unwrap_or(FileAlgorithm {
            encrypted: self.encrypt,
            signature: scheme
                .and_then(Scheme::parse)
                .map_or(SignatureAlgorithm::Ed25519, Scheme::algorithm),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: &[(&str, &str)], meta: Value) -> ApiResult<CheckoutOptions> {
        let query = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CheckoutOptions::parse(&query, meta.as_object().unwrap(), LICENSE_INCLUDES)
    }

    fn code(result: ApiResult<CheckoutOptions>) -> String {
        result.unwrap_err().error.code.unwrap_or_default()
    }

    #[test]
    fn a_file_lasts_a_month_unless_told_otherwise() {
        let options = parse(&[], json!({})).unwrap();
        assert_eq!(
            (options.ttl, options.encrypt, options.algorithm),
            (Some(DEFAULT_TTL), false, None)
        );
        assert_eq!(parse(&[("ttl", "null")], json!({})).unwrap().ttl, None);
        assert_eq!(parse(&[("ttl", "")], json!({})).unwrap().ttl, None);
        assert_eq!(parse(&[], json!({"ttl": null})).unwrap().ttl, None);
        assert_eq!(parse(&[("ttl", "3600")], json!({})).unwrap().ttl, Some(3600));
        assert_eq!(
            parse(&[("ttl", "7200")], json!({"ttl": 3600})).unwrap().ttl,
            Some(3600),
            "meta wins"
        );
    }

    #[test]
    fn keygens_refusals_for_bad_options() {
        assert_eq!(code(parse(&[("ttl", "3599")], json!({}))), "CHECKOUT_TTL_INVALID");
        assert_eq!(code(parse(&[], json!({"ttl": 60}))), "CHECKOUT_TTL_INVALID");
        assert_eq!(code(parse(&[("ttl", "soon")], json!({}))), "CHECKOUT_TTL_INVALID");
        assert_eq!(
            code(parse(&[("algorithm", "aes-256-gcm+md5")], json!({}))),
            "CHECKOUT_ALGORITHM_INVALID"
        );
        assert_eq!(
            code(parse(&[("include", "product,machines")], json!({}))),
            "CHECKOUT_INCLUDE_INVALID"
        );
        assert_eq!(
            code(parse(&[], json!({"include": ["nope"]}))),
            "CHECKOUT_INCLUDE_INVALID"
        );
        assert_eq!(code(parse(&[], json!({"other": 1}))), "PARAMETER_UNPERMITTED");
    }

    #[test]
    fn an_explicit_algorithm_overrides_encrypt_and_the_scheme() {
        let options = parse(&[("encrypt", "true")], json!({})).unwrap();
        assert_eq!(
            options.algorithm(Some("RSA_2048_PKCS1_PSS_SIGN_V2")).name(),
            "aes-256-gcm+rsa-pss-sha256"
        );
        assert_eq!(
            options.algorithm(Some("RSA_2048_JWT_RS256")).name(),
            "aes-256-gcm+rsa-sha256"
        );
        assert_eq!(options.algorithm(None).name(), "aes-256-gcm+ed25519");
        let options = parse(&[("encrypt", "true"), ("algorithm", "base64+ecdsa-p256")], json!({})).unwrap();
        assert_eq!(options.algorithm(Some("ED25519_SIGN")).name(), "base64+ecdsa-p256");
    }
}
