//! Keygen's pagination: `limit` (1–100, default 10) or `page[number]` (1–100) with
//! `page[size]` (1–100); `order=asc|desc`, newest first by default.

use crate::error::{ApiError, ApiResult, Source};
use projections::{ListOrder, PageRequest};
use serde_json::{json, Value};
use std::collections::HashMap;

const DEFAULT_SIZE: i64 = 10;
const MAX_SIZE: i64 = 100;
const MAX_PAGE: i64 = 100;

fn bad(parameter: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(detail, "PARAMETER_INVALID", Some(Source::Parameter(parameter.into())))
}

fn bounded(params: &HashMap<String, String>, key: &str, max: i64, detail: &str) -> ApiResult<Option<i64>> {
    match params.get(key) {
        None => Ok(None),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(bad(
                key,
                format!("{detail} (got {})", raw.chars().take(32).collect::<String>()),
            )),
        },
    }
}

/// Reads `page[…]`, `limit` and `order` from the query.
pub fn parse_page(params: &HashMap<String, String>) -> ApiResult<PageRequest> {
    let order = match params.get("order").map(|o| o.to_ascii_lowercase()) {
        None => ListOrder::NewestFirst,
        Some(o) if o == "desc" => ListOrder::NewestFirst,
        Some(o) if o == "asc" => ListOrder::OldestFirst,
        Some(_) => return Err(bad("order", "order is invalid")),
    };
    let page_keys = ["page[number]", "page[size]", "page[cursor]"];
    if let Some(key) = params
        .keys()
        .find(|k| k.starts_with("page") && !page_keys.contains(&k.as_str()))
    {
        return Err(bad(
            key,
            "page must be an object containing number and size, or cursor and size",
        ));
    }
    let size = bounded(
        params,
        "page[size]",
        MAX_SIZE,
        "page size must be a number between 1 and 100",
    )?;
    let (number, cursor) = (params.contains_key("page[number]"), params.get("page[cursor]"));
    if number && cursor.is_some() || params.contains_key("page[size]") && !number && cursor.is_none() {
        return Err(bad(
            "page",
            "page must be an object containing number and size, or cursor and size",
        ));
    }
    if let Some(cursor) = cursor {
        let cursor = match cursor.as_str() {
            "" => None,
            raw => {
                Some(uuid::Uuid::parse_str(raw).map_err(|_| bad("page[cursor]", "page cursor must be a valid UUID"))?)
            }
        };
        return Ok(PageRequest {
            number: None,
            size: size.unwrap_or(DEFAULT_SIZE),
            order,
            cursor: Some(cursor),
        });
    }
    if number {
        let number = match params.get("page[number]").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if n > MAX_PAGE => {
                return Err(bad(
                    "page[number]",
                    "page number must be a number between 1 and 100 (please use cursor-based pagination)",
                ))
            }
            _ => bounded(
                params,
                "page[number]",
                MAX_PAGE,
                "page number must be a number between 1 and 100",
            )?,
        };
        return Ok(PageRequest {
            number,
            size: size.unwrap_or(DEFAULT_SIZE),
            order,
            cursor: None,
        });
    }
    let limit = bounded(params, "limit", MAX_SIZE, "limit must be a number between 1 and 100")?;
    Ok(PageRequest {
        number: None,
        size: limit.unwrap_or(DEFAULT_SIZE),
        order,
        cursor: None,
    })
}

/// The query parameters a list's links keep: its filters, without paging and credentials.
#[derive(Debug, Clone, Default)]
pub struct LinkQuery(String);

impl LinkQuery {
    /// Everything but `page[…]`, `limit`, `order`, `token` and `auth`, sorted, encoded.
    pub fn from_params(params: &HashMap<String, String>) -> Self {
        const ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'[')
            .remove(b']');
        let mut kept: Vec<(&String, &String)> = params
            .iter()
            .filter(|(k, _)| !(k.starts_with("page") || matches!(k.as_str(), "limit" | "order" | "token" | "auth")))
            .collect();
        kept.sort();
        let encoded: Vec<String> = kept
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, ENCODE),
                    percent_encoding::utf8_percent_encode(v, ENCODE)
                )
            })
            .collect();
        LinkQuery(encoded.join("&"))
    }
}

/// The `links` of a list document for `path` (no query), keeping the request's filters.
/// Links for a page, knowing the last item's id and whether the page was full (keyset paging
/// needs both for its `next` link).
pub fn page_links(
    path: &str,
    query: &LinkQuery,
    page: &PageRequest,
    total: i64,
    last_id: Option<&str>,
    page_full: bool,
) -> Value {
    let order = match page.order {
        ListOrder::NewestFirst => "",
        ListOrder::OldestFirst => "&order=asc",
    };
    let filters = if query.0.is_empty() {
        String::new()
    } else {
        format!("&{}", query.0)
    };
    if let Some(cursor) = page.cursor {
        let at = cursor.map(|c| c.to_string()).unwrap_or_default();
        let link = |c: &str| format!("{path}?page[cursor]={c}&page[size]={}{order}{filters}", page.size);
        let next = last_id
            .filter(|_| page_full)
            .map(|id| Value::String(link(id)))
            .unwrap_or(Value::Null);
        return json!({ "self": link(&at), "next": next });
    }
    let Some(number) = page.number else {
        return json!({ "self": format!("{path}?limit={}{order}{filters}", page.size) });
    };
    let pages = ((total + page.size - 1) / page.size).max(1);
    let link = |n: i64| {
        Value::String(format!(
            "{path}?page[number]={n}&page[size]={}{order}{filters}",
            page.size
        ))
    };
    json!({
        "self": link(number),
        "prev": if number > 1 { link(number - 1) } else { Value::Null },
        "next": if number < pages { link(number + 1) } else { Value::Null },
        "first": link(1),
        "last": link(pages),
        "meta": { "pages": pages, "count": total },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_to_ten_newest_first() {
        let page = parse_page(&q(&[])).unwrap();
        assert_eq!((page.number, page.size, page.order), (None, 10, ListOrder::NewestFirst));
    }

    #[test]
    fn size_without_number_is_refused() {
        assert!(parse_page(&q(&[("page[size]", "5")])).is_err());
        assert!(parse_page(&q(&[("page[number]", "101")])).is_err());
        assert!(parse_page(&q(&[("limit", "0")])).is_err());
    }

    #[test]
    fn links_count_pages() {
        let page = parse_page(&q(&[("page[number]", "2"), ("page[size]", "2")])).unwrap();
        let links = page_links("/p", &LinkQuery::default(), &page, 5, None, false);
        assert_eq!(links["meta"], json!({"pages": 3, "count": 5}));
        assert_eq!(links["prev"], json!("/p?page[number]=1&page[size]=2"));
        assert_eq!(links["next"], json!("/p?page[number]=3&page[size]=2"));
    }

    #[test]
    fn links_keep_filters_but_not_credentials() {
        let params = q(&[
            ("page[number]", "1"),
            ("status", "EXPIRED"),
            ("metadata[a b]", "x&y"),
            ("auth", "token:secret"),
        ]);
        let page = parse_page(&params).unwrap();
        let links = page_links("/p", &LinkQuery::from_params(&params), &page, 1, None, false);
        assert_eq!(
            links["self"],
            json!("/p?page[number]=1&page[size]=10&metadata[a%20b]=x%26y&status=EXPIRED")
        );
    }
}
