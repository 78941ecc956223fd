//! Request documents: parsed strictly, so a bad body is a 400 with a pointer and never reaches
//! a command.
//!
//! About 400 lines on purpose: every type check of a request body, with Keygen's codes and
//! pointers, lives here so handlers never read raw JSON.

use super::case::deep_snake;
use crate::error::{ApiError, ApiResult, Source};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{json, Map, Value};

/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// A request body as Keygen reads it: JSON whatever the content type, keys snake_cased.
#[derive(Debug, Default)]
pub struct JsonApiBody {
    doc: Map<String, Value>,
}

impl<S: Send + Sync> FromRequest<S> for JsonApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_request("The request body could not be read", "BODY_INVALID", None))?;
        if bytes.len() > MAX_BODY {
            return Err(ApiError::bad_request(
                "The request body is too large",
                "BODY_TOO_LARGE",
                None,
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::bad_request("The request data was invalid (malformed JSON)", "JSON_INVALID", None)
        })?;
        let value = match value {
            Value::Object(_) => value,
            other => json!({ "data": other }),
        };
        if let Some(pointer) = nul_pointer(&value, String::new()) {
            return Err(ApiError::bad_request(
                "The request contains a NUL character, which no stored value may hold",
                "ENCODING_INVALID",
                Some(Source::Pointer(if pointer.is_empty() { "/".into() } else { pointer })),
            ));
        }
        let Value::Object(doc) = deep_snake(value) else {
            unreachable!("wrapped above")
        };
        if let Some(key) = doc.keys().find(|k| !matches!(k.as_str(), "data" | "meta")) {
            return Err(ApiError::unpermitted(format!("/{key}")));
        }
        Ok(Self { doc })
    }
}

/// Where a NUL character sits in a document (PostgreSQL can store none in text or JSON).
fn nul_pointer(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                Some(at.clone())
            } else {
                nul_pointer(v, here)
            }
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_pointer(v, format!("{at}/{i}"))),
        _ => None,
    }
}

/// Keygen's name for a JSON value's type in "type mismatch" errors.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "hash",
    }
}

impl JsonApiBody {
    /// True when the request had no body (allowed on some actions).
    pub fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }

    /// `data` of the expected resource type (plural or singular), with its attributes.
    /// Only `type`, `id`, `attributes` and `relationships` may appear in it.
    pub fn resource(&self, plural: &str, singular: &str) -> ApiResult<Resource> {
        let data = match self.doc.get("data") {
            None => {
                return Err(ApiError::bad_request(
                    "is missing",
                    "PARAMETER_MISSING",
                    Some(Source::Pointer("/data".into())),
                ))
            }
            Some(Value::Object(data)) => data,
            Some(other) => return Err(ApiError::type_mismatch("/data", type_name(other), "hash")),
        };
        if let Some(key) = data
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "id" | "attributes" | "relationships"))
        {
            return Err(ApiError::unpermitted(format!("/data/{key}")));
        }
        match data.get("type") {
            Some(Value::String(t)) if t == plural || t == singular => {}
            Some(Value::String(_)) => {
                return Err(ApiError::bad_request(
                    format!("type mismatch (expected {plural})"),
                    "PARAMETER_INVALID",
                    Some(Source::Pointer("/data/type".into())),
                ))
            }
            Some(other) => return Err(ApiError::type_mismatch("/data/type", type_name(other), "string")),
            None => {
                return Err(ApiError::bad_request(
                    "is missing",
                    "PARAMETER_MISSING",
                    Some(Source::Pointer("/data/type".into())),
                ))
            }
        }
        let section = |name: &str| -> ApiResult<Map<String, Value>> {
            match data.get(name) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(m)) => Ok(m.clone()),
                Some(other) => Err(ApiError::type_mismatch(
                    format!("/data/{name}"),
                    type_name(other),
                    "hash",
                )),
            }
        };
        Ok(Resource {
            attributes: Attributes {
                map: section("attributes")?,
                base: "/data/attributes",
            },
            relationships: section("relationships")?,
        })
    }
}

/// The `data` member of a request document.
#[derive(Debug)]
pub struct Resource {
    pub attributes: Attributes,
    pub relationships: Map<String, Value>,
}

impl Resource {
    /// Refuses any relationship (for resources that take none).
    pub fn no_relationships(&self) -> ApiResult<()> {
        self.permit_relationships(&[])
    }

    /// 400 for the first relationship not in `allowed` (snake_case names).
    pub fn permit_relationships(&self, allowed: &[&str]) -> ApiResult<()> {
        match self.relationships.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ApiError::unpermitted(format!(
                "/data/relationships/{}",
                super::case::camel(key)
            ))),
            None => Ok(()),
        }
    }

    /// The id of a to-one relationship `{"<name>": {"data": {"type": <one of types>, "id": …}}}`.
    pub fn relationship(&self, name: &str, types: &[&str]) -> ApiResult<Field<String>> {
        let pointer = format!("/data/relationships/{}", super::case::camel(name));
        let Some(rel) = self.relationships.get(name) else {
            return Ok(Field::Absent);
        };
        let data = match rel {
            Value::Object(rel) => rel.get("data"),
            other => return Err(ApiError::type_mismatch(pointer, type_name(other), "hash")),
        };
        match data {
            None => Err(missing(format!("{pointer}/data"))),
            Some(Value::Null) => Ok(Field::Null),
            Some(Value::Object(linkage)) => linkage_id(linkage, &pointer, types).map(Field::Value),
            Some(other) => Err(ApiError::type_mismatch(
                format!("{pointer}/data"),
                type_name(other),
                "hash",
            )),
        }
    }
}

fn missing(pointer: String) -> ApiError {
    ApiError::bad_request("is missing", "PARAMETER_MISSING", Some(Source::Pointer(pointer)))
}

/// The id of a resource linkage `{type, id}` whose type is one of `types`.
fn linkage_id(linkage: &Map<String, Value>, pointer: &str, types: &[&str]) -> ApiResult<String> {
    if let Some(key) = linkage.keys().find(|k| !matches!(k.as_str(), "type" | "id")) {
        return Err(ApiError::unpermitted(format!("{pointer}/{key}")));
    }
    match linkage.get("type").and_then(Value::as_str) {
        Some(t) if types.contains(&t) => {}
        _ => {
            return Err(ApiError::bad_request(
                format!("type mismatch (expected {})", types[0]),
                "PARAMETER_INVALID",
                Some(Source::Pointer(format!("{pointer}/type"))),
            ))
        }
    }
    match linkage.get("id") {
        Some(Value::String(id)) => Ok(id.clone()),
        Some(other) => Err(ApiError::type_mismatch(
            format!("{pointer}/id"),
            type_name(other),
            "string",
        )),
        None => Err(missing(format!("{pointer}/id"))),
    }
}

impl JsonApiBody {
    /// `data` as sent, when it is an object.
    pub fn raw_data(&self) -> Option<&Map<String, Value>> {
        self.doc.get("data").and_then(Value::as_object)
    }

    /// `meta` of the document (an empty object when absent); 400 when it is not an object.
    pub fn meta(&self) -> ApiResult<Map<String, Value>> {
        match self.doc.get("meta") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(other) => Err(ApiError::type_mismatch("/meta", type_name(other), "hash")),
        }
    }

    /// `data` as an array of 1 to 100 items, for relationship attach/detach requests.
    pub fn items(&self) -> ApiResult<&Vec<Value>> {
        let items = match self.doc.get("data") {
            Some(Value::Array(items)) => items,
            Some(other) => return Err(ApiError::type_mismatch("/data", type_name(other), "array")),
            None => return Err(missing("/data".into())),
        };
        if items.is_empty() || items.len() > 100 {
            return Err(ApiError::bad_request(
                "must contain 1 to 100 items",
                "PARAMETER_INVALID",
                Some(Source::Pointer("/data".into())),
            ));
        }
        Ok(items)
    }

    /// `data` as an array of 1 to 100 linkages `[{type, id}]` of the expected type, for
    /// relationship attach/detach requests.
    pub fn linkages(&self, plural: &str, singular: &str) -> ApiResult<Vec<String>> {
        self.items()?
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(linkage) => linkage_id(linkage, &format!("/data/{i}"), &[plural, singular]),
                other => Err(ApiError::type_mismatch(format!("/data/{i}"), type_name(other), "hash")),
            })
            .collect()
    }

    /// `data` as one linkage `{type, id}` of the expected type, or `None` when it is null (a
    /// to-one relationship's replacement).
    pub fn linkage(&self, plural: &str, singular: &str) -> ApiResult<Option<String>> {
        match self.doc.get("data") {
            Some(Value::Null) => Ok(None),
            Some(Value::Object(linkage)) => linkage_id(linkage, "/data", &[plural, singular]).map(Some),
            Some(other) => Err(ApiError::type_mismatch("/data", type_name(other), "hash")),
            None => Err(missing("/data".into())),
        }
    }
}

/// The id of the to-one relationship `name` of a resource object found at `pointer` (an item of
/// a list), `None` when it is absent or null.
pub fn nested_relationship(item: &Value, pointer: &str, name: &str, types: &[&str]) -> ApiResult<Option<String>> {
    let Value::Object(object) = item else {
        return Err(ApiError::type_mismatch(pointer, type_name(item), "hash"));
    };
    let at = format!("{pointer}/relationships/{}", super::case::camel(name));
    let rel = match object.get("relationships") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(r)) => r.get(name),
        Some(other) => {
            return Err(ApiError::type_mismatch(
                format!("{pointer}/relationships"),
                type_name(other),
                "hash",
            ))
        }
    };
    match rel.map(|r| r.get("data")) {
        None | Some(Some(Value::Null)) => Ok(None),
        Some(Some(Value::Object(linkage))) => linkage_id(linkage, &at, types).map(Some),
        Some(None) => Err(missing(format!("{at}/data"))),
        Some(Some(other)) => Err(ApiError::type_mismatch(format!("{at}/data"), type_name(other), "hash")),
    }
}

/// An attribute as the request gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// `Some(value)` when given, `None` when absent or null.
    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// For updates: `None` when absent, `Some(None)` when null, `Some(Some(v))` when given.
    pub fn patch(self) -> Option<Option<T>> {
        match self {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Value(v) => Some(Some(v)),
        }
    }
}

/// `data.attributes`, read one typed attribute at a time.
#[derive(Debug)]
pub struct Attributes {
    map: Map<String, Value>,
    base: &'static str,
}

impl Attributes {
    /// The change set a request makes: each attribute given, as `value` type-checks it (None
    /// leaves it out), under its snake_case name.
    pub fn changes(&self, mut value: impl FnMut(&str) -> ApiResult<Option<Value>>) -> ApiResult<Map<String, Value>> {
        let mut changes = Map::new();
        for key in self.map.keys() {
            if let Some(v) = value(key)? {
                changes.insert(key.clone(), v);
            }
        }
        Ok(changes)
    }

    fn pointer(&self, key: &str) -> String {
        format!("{}/{}", self.base, super::case::camel(key))
    }

    /// 400 for the first attribute not in `allowed` (snake_case names).
    pub fn permit(&self, allowed: &[&str]) -> ApiResult<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(ApiError::unpermitted(self.pointer(key))),
            None => Ok(()),
        }
    }

    fn get<T>(&self, key: &str, expected: &str, read: impl Fn(&Value) -> Option<T>) -> ApiResult<Field<T>> {
        match self.map.get(key) {
            None => Ok(Field::Absent),
            Some(Value::Null) => Ok(Field::Null),
            Some(value) => read(value)
                .map(Field::Value)
                .ok_or_else(|| ApiError::type_mismatch(self.pointer(key), type_name(value), expected)),
        }
    }

    pub fn string(&self, key: &str) -> ApiResult<Field<String>> {
        self.get(key, "string", |v| v.as_str().map(str::to_owned))
    }

    pub fn string_list(&self, key: &str) -> ApiResult<Field<Vec<String>>> {
        self.get(key, "array of strings", |v| {
            v.as_array()?
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
    }

    pub fn integer(&self, key: &str) -> ApiResult<Field<i64>> {
        self.get(key, "integer", Value::as_i64)
    }

    pub fn boolean(&self, key: &str) -> ApiResult<Field<bool>> {
        self.get(key, "boolean", Value::as_bool)
    }

    /// Whether the attribute was sent at all.
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw attributes (snake_case keys).
    pub fn raw(&self) -> &Map<String, Value> {
        &self.map
    }

    pub fn object(&self, key: &str) -> ApiResult<Field<Map<String, Value>>> {
        self.get(key, "hash", |v| v.as_object().cloned())
    }

    /// An ISO-8601 timestamp.
    pub fn timestamp(&self, key: &str) -> ApiResult<Field<aggregates::Timestamp>> {
        let field = self.string(key)?;
        match field {
            Field::Value(s) => chrono::DateTime::parse_from_rfc3339(&s)
                .map(|t| Field::Value(t.with_timezone(&chrono::Utc)))
                .map_err(|_| ApiError::type_mismatch(self.pointer(key), "string", "ISO-8601 timestamp")),
            Field::Null => Ok(Field::Null),
            Field::Absent => Ok(Field::Absent),
        }
    }

    /// A required string: absent or null is a 400 pointing at it.
    pub fn required_string(&self, key: &str) -> ApiResult<String> {
        self.string(key)?.value().ok_or_else(|| {
            ApiError::bad_request(
                "is missing",
                "PARAMETER_MISSING",
                Some(Source::Pointer(self.pointer(key))),
            )
        })
    }
}
