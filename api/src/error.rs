//! `ApiError`: every failure the API answers with, rendered as Keygen's JSON:API error
//! document. Internal causes are logged, never echoed.

use aggregates::error::{camel_case, ErrorKind};
use aggregates::DomainError;
use aggregates::Subject;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cqrs_es::AggregateError;
use serde::Serialize;
use serde_json::json;

/// The media type of every response (errors included; `jsonapi` re-exports it). It lives here,
/// the lowest module of the crate, so that `error` needs nothing of `jsonapi`.
pub const MEDIA_TYPE: &str = "application/vnd.api+json";

tokio::task_local! {
    /// The id of the request being served, for `meta.id` of error documents.
    pub static REQUEST_ID: String;
}

/// Where in the request an error points.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Pointer(String),
    Parameter(String),
    Header(String),
}

/// One JSON:API error object.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorObject {
    pub title: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: ErrorObject,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(
        status: StatusCode,
        title: &'static str,
        detail: impl Into<String>,
        code: Option<&str>,
        source: Option<Source>,
    ) -> Self {
        Self {
            status,
            error: ErrorObject {
                title,
                detail: detail.into(),
                code: code.map(Into::into),
                source,
            },
        }
    }

    /// 400 with a code and what it points at.
    pub fn bad_request(detail: impl Into<String>, code: &str, source: Option<Source>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", detail, Some(code), source)
    }

    /// 400 for a request attribute that is not allowed.
    pub fn unpermitted(pointer: impl Into<String>) -> Self {
        Self::bad_request(
            "unpermitted parameter",
            "PARAMETER_UNPERMITTED",
            Some(Source::Pointer(pointer.into())),
        )
    }

    /// 400 for a request value of the wrong type.
    pub fn type_mismatch(pointer: impl Into<String>, received: &str, expected: &str) -> Self {
        Self::bad_request(
            format!("type mismatch (received {received} expected {expected})"),
            "PARAMETER_INVALID",
            Some(Source::Pointer(pointer.into())),
        )
    }

    /// 401 with Keygen's code.
    pub fn unauthorized(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail, Some(code), None)
    }

    /// 401: the request carried no credentials.
    pub fn token_missing() -> Self {
        Self::unauthorized("TOKEN_MISSING", "You must be authenticated to complete the request")
    }

    /// 401: the credentials did not match anything of this account.
    pub fn token_invalid() -> Self {
        Self::unauthorized(
            "TOKEN_INVALID",
            "Token format is invalid or does not belong to this account",
        )
    }

    /// 403 from authorization: Keygen gives no code here.
    pub fn forbidden(reason: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Access denied",
            format!("You do not have permission to complete the request ({reason})"),
            None,
            None,
        )
    }

    /// 403 raised while authenticating, which Keygen gives a code (e.g. `LICENSE_SUSPENDED`).
    pub fn forbidden_code(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Access denied", detail, Some(code), None)
    }

    /// 404 for a resource that does not exist or is outside the bearer's reach.
    pub fn not_found(model: &str, id: &str) -> Self {
        let id: String = id.chars().take(64).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("The requested {model} '{id}' was not found"),
            Some("NOT_FOUND"),
            None,
        )
    }

    /// 404 for an unknown route.
    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested endpoint was not found (check your HTTP method, Accept header, and URL path)",
            Some("NOT_FOUND"),
            None,
        )
    }

    /// 422 with Keygen's code.
    pub fn unprocessable(code: &str, detail: impl Into<String>, pointer: Option<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable resource",
            detail,
            Some(code),
            pointer.map(Source::Pointer),
        )
    }

    /// 422 without a code (Keygen sends some so, e.g. a webhook event that cannot be retried).
    pub fn unprocessable_without_code(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable resource",
            detail,
            None,
            None,
        )
    }

    /// 409 after concurrent writers kept colliding.
    pub fn conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            "The resource was changed by another request; try again",
            Some("CONFLICT"),
            None,
        )
    }

    /// 500, with the cause logged under the request id and never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "Something went wrong; the request id identifies it in the server logs",
            None,
            None,
        )
    }

    /// 503 when the database is unreachable.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "The service is temporarily unavailable",
            None,
            None,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(|id| id.clone()).ok();
        let body = json!({ "meta": { "id": request_id }, "errors": [self.error] });
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keygen\""),
            );
        }
        response
    }
}

/// Where in a JSON:API request document a domain error's subject is.
pub fn pointer(subject: &Subject) -> String {
    match subject {
        Subject::Attribute(name) => format!("/data/attributes/{}", camel_case(name)),
        Subject::Relationship(name) => format!("/data/relationships/{}", camel_case(name)),
        Subject::Meta(name) => format!("/meta/{}", camel_case(name)),
        Subject::Id => "/data/id".into(),
        Subject::Data => "/data".into(),
        Subject::Pointer(pointer) => pointer.clone(),
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let pointer = err.subject.as_ref().map(pointer);
        match err.kind {
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, "Not found", err.detail, Some(&err.code), None),
            ErrorKind::Forbidden => Self::forbidden(&err.detail),
            ErrorKind::Conflict => Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                err.detail,
                Some(&err.code),
                pointer.map(Source::Pointer),
            ),
            ErrorKind::Unprocessable => Self::unprocessable(&err.code, err.detail, pointer),
        }
    }
}

impl From<AggregateError<DomainError>> for ApiError {
    fn from(err: AggregateError<DomainError>) -> Self {
        match err {
            AggregateError::UserError(domain) => domain.into(),
            AggregateError::AggregateConflict => Self::conflict(),
            AggregateError::DatabaseConnectionError(cause) => Self::unavailable(cause),
            AggregateError::UnexpectedError(cause) => match cause.downcast_ref::<store::ClaimConflict>() {
                Some(claim) => Self::unprocessable(claim.code, claim.detail, Some(pointer(&claim.subject))),
                None => Self::internal(cause),
            },
            AggregateError::DeserializationError(cause) => Self::internal(cause),
        }
    }
}

impl From<projections::ProjectionError> for ApiError {
    fn from(err: projections::ProjectionError) -> Self {
        Self::internal(err)
    }
}
