//! JSON:API as Keygen speaks it: documents, resource objects, key casing, request bodies,
//! pagination links.

mod body;
mod case;
mod page;

pub use body::{nested_relationship, type_name, Attributes, Field, JsonApiBody, Resource};
pub use case::{deep_camel, deep_snake};
pub use page::{page_links, parse_page, LinkQuery};

use serde_json::{json, Map, Value};

/// The media type of every response.
pub use crate::error::MEDIA_TYPE;

/// Keygen's timestamp format: ISO-8601 UTC with milliseconds.
pub fn timestamp(us: i64) -> Value {
    Value::String(
        projections::from_micros(us)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
    )
}

/// A relationship with linkage data.
pub fn to_one(kind: &str, id: &str, related: Option<String>) -> Value {
    let mut rel = json!({ "data": { "type": kind, "id": id } });
    if let Some(related) = related {
        rel["links"] = json!({ "related": related });
    }
    rel
}

/// A relationship known only by its link (to-many collections).
pub fn to_many(related: String) -> Value {
    json!({ "links": { "related": related } })
}

/// A resource object: `{id, type, attributes, relationships, links.self}`.
pub fn resource(
    kind: &str,
    id: &str,
    attributes: Map<String, Value>,
    relationships: Map<String, Value>,
    self_link: String,
) -> Value {
    json!({
        "id": id,
        "type": kind,
        "attributes": Value::Object(attributes),
        "relationships": Value::Object(relationships),
        "links": { "self": self_link },
    })
}
