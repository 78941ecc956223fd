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
    if let Some(key) = params
        .keys()
        .find(|k| k.starts_with("page") && !matches!(k.as_str(), "page[number]" | "page[size]"))
    {
        return Err(bad(key, "page must be an object containing number and size"));
    }
    let size = bounded(
        params,
        "page[size]",
        MAX_SIZE,
        "page size must be a number between 1 and 100",
    )?;
    if params.contains_key("page[size]") && !params.contains_key("page[number]") {
        return Err(bad("page", "page must be an object containing number and size"));
    }
    if params.contains_key("page[number]") {
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
        });
    }
    let limit = bounded(params, "limit", MAX_SIZE, "limit must be a number between 1 and 100")?;
    Ok(PageRequest {
        number: None,
        size: limit.unwrap_or(DEFAULT_SIZE),
        order,
    })
}

/// The `links` of a list document for `path` (no query).
pub fn page_links(path: &str, page: &PageRequest, total: i64) -> Value {
    let order = match page.order {
        ListOrder::NewestFirst => "",
        ListOrder::OldestFirst => "&order=asc",
    };
    let Some(number) = page.number else {
        return json!({ "self": format!("{path}?limit={}{order}", page.size) });
    };
    let pages = ((total + page.size - 1) / page.size).max(1);
    let link = |n: i64| Value::String(format!("{path}?page[number]={n}&page[size]={}{order}", page.size));
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
        let links = page_links("/p", &page, 5);
        assert_eq!(links["meta"], json!({"pages": 3, "count": 5}));
        assert_eq!(links["prev"], json!("/p?page[number]=1&page[size]=2"));
        assert_eq!(links["next"], json!("/p?page[number]=3&page[size]=2"));
    }
}
