//! Key casing: requests may use camelCase or snake_case (deep, metadata included); responses
//! are camelCase (deep).

use serde_json::{Map, Value};

fn to_snake(key: &str) -> String {
    aggregates::snake_case(key)
}

pub(crate) fn camel(key: &str) -> String {
    aggregates::error::camel_case(key)
}

fn convert(value: Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (f(&k), convert(v, f)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| convert(v, f)).collect()),
        other => other,
    }
}

/// Every object key, at any depth, to snake_case.
pub fn deep_snake(value: Value) -> Value {
    convert(value, &to_snake)
}

/// Every object key, at any depth, to lower camelCase.
pub fn deep_camel(value: Value) -> Value {
    convert(value, &camel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_round_trip_between_cases() {
        let input = json!({"distributionStrategy": "OPEN", "metadata": {"customerId": 1, "nested_key": {"aB": 2}}});
        let snake = deep_snake(input);
        assert_eq!(
            snake,
            json!({"distribution_strategy": "OPEN", "metadata": {"customer_id": 1, "nested_key": {"a_b": 2}}})
        );
        assert_eq!(
            deep_camel(snake),
            json!({"distributionStrategy": "OPEN", "metadata": {"customerId": 1, "nestedKey": {"aB": 2}}})
        );
    }
}
