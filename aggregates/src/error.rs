//! The one error type every aggregate returns: a broken domain rule, rendered by the API as a
//! JSON:API error with Keygen's code.

/// How the HTTP edge should answer a domain error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The resource is gone (or never was): 404.
    NotFound,
    /// The rule forbids what was asked, whoever asks: 403 (Keygen gives these no code).
    Forbidden,
    /// A validation or state rule failed: 422.
    Unprocessable,
    /// The command conflicts with the aggregate's lifecycle (e.g. create twice): 409.
    Conflict,
}

/// What a domain error is about, in the domain's words (snake_case names). The HTTP edge turns
/// it into a JSON pointer into the request document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Subject {
    /// An attribute of the resource, e.g. `max_machines`.
    Attribute(String),
    /// A relationship of the resource, e.g. `policy`.
    Relationship(String),
    /// A value of the request's meta, e.g. `increment`.
    Meta(String),
    /// The resource's id.
    Id,
    /// The request's data as a whole (e.g. a list of resources to attach).
    Data,
    /// A place in the request document, as a JSON pointer (e.g. a nested resource's attribute).
    Pointer(String),
}

/// A domain rule broken by a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{code}: {detail}")]
pub struct DomainError {
    pub kind: ErrorKind,
    /// Keygen's upper-snake error code, e.g. `CODE_TAKEN`.
    pub code: String,
    /// Human-readable detail, e.g. `has already been taken`.
    pub detail: String,
    /// What in the request the rule is about.
    pub subject: Option<Subject>,
}

impl DomainError {
    /// A 422 on one attribute: the code is `<ATTRIBUTE>_<KIND>` as Keygen builds it.
    pub fn invalid(attribute: &str, kind: &str, detail: impl Into<String>) -> Self {
        let upper = attribute_code(attribute);
        Self {
            kind: ErrorKind::Unprocessable,
            code: format!("{upper}_{kind}"),
            detail: detail.into(),
            subject: Some(Subject::Attribute(attribute.into())),
        }
    }

    /// A 422 with its own code, about `subject`.
    pub fn unprocessable(code: &str, detail: impl Into<String>, subject: Subject) -> Self {
        Self {
            kind: ErrorKind::Unprocessable,
            code: code.into(),
            detail: detail.into(),
            subject: Some(subject),
        }
    }

    /// A 403: the rule forbids it.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Forbidden,
            code: "FORBIDDEN".into(),
            detail: detail.into(),
            subject: None,
        }
    }

    /// A 409: the command was decided on facts that changed meanwhile; a retry may succeed.
    pub fn conflict(detail: impl Into<String>, subject: Subject) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            code: "CONFLICT".into(),
            detail: detail.into(),
            subject: Some(subject),
        }
    }

    /// The same error about another subject.
    pub fn about(self, subject: Subject) -> Self {
        Self {
            subject: Some(subject),
            ..self
        }
    }

    /// The aggregate does not exist (or was deleted).
    pub fn not_found() -> Self {
        Self {
            kind: ErrorKind::NotFound,
            code: "NOT_FOUND".into(),
            detail: "resource not found".into(),
            subject: None,
        }
    }

    /// A create command sent to an aggregate that already exists.
    pub fn already_exists() -> Self {
        Self {
            kind: ErrorKind::Conflict,
            code: "CONFLICT".into(),
            detail: "resource already exists".into(),
            subject: Some(Subject::Id),
        }
    }
}

fn attribute_code(attribute: &str) -> String {
    let mut out = String::new();
    for (i, ch) in attribute.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// `distribution_strategy` → `distributionStrategy`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for ch in snake.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}
