//! JSON rows as template values, and Go's `%v` printing of them.

use std::collections::HashMap;

use gtmpl::Value;
use serde_json::Value as Json;

/// Keys whose JSON objects are Go maps in podman's structs (labels, port
/// maps, networks): a missing key reads `<no value>` there, while a missing
/// field of a struct is an error, as in Go.
const MAP_KEYS: &[&str] = &[
    "Labels",
    "Annotations",
    "Ports",
    "PortBindings",
    "Networks",
    "Namespaces",
    "ExposedPorts",
    "Volumes",
];

/// A JSON row (podman's field names as keys) as the value a template sees.
pub fn to_template_value(j: &Json) -> Value {
    convert(j, false)
}

fn convert(j: &Json, is_map: bool) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(|v| convert(v, false)).collect()),
        Json::Object(o) => {
            let m: HashMap<String, Value> = o
                .iter()
                .map(|(k, v)| (k.clone(), convert(v, MAP_KEYS.contains(&k.as_str()))))
                .collect();
            if is_map {
                Value::Map(m)
            } else {
                Value::Object(m)
            }
        }
    }
}

/// The header row: a map, so a field without a header prints `<no value>`
/// as podman's does.
pub fn header_value(h: &Json) -> Value {
    match convert(h, true) {
        Value::Object(m) => Value::Map(m),
        v => v,
    }
}

/// A value as Go's `fmt` prints it with `%v`: slices `[a b]`, maps
/// `map[k:v]` with sorted keys, nil `<nil>`.
pub fn go_print(v: &Value) -> String {
    let mut s = String::new();
    write_go(v, &mut s);
    s
}

fn write_go(v: &Value, out: &mut String) {
    match v {
        Value::NoValue => out.push_str("<no value>"),
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Function(_) => out.push_str("<func>"),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(e, out);
            }
            out.push(']');
        }
        Value::Map(m) | Value::Object(m) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(e) = m.get(k) {
                    write_go(e, out);
                }
            }
            out.push(']');
        }
    }
}

/// A template value back as JSON, for the `json` function.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Json::from(u)
            } else if let Some(i) = n.as_i64() {
                Json::from(i)
            } else {
                n.as_f64().map(Json::from).unwrap_or(Json::Null)
            }
        }
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Map(m) | Value::Object(m) => {
            Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go_fmt() {
        let v = to_template_value(&json!({"a": [1, "x", true], "Labels": {"b": "2", "a": "1"}}));
        let Value::Object(o) = &v else { panic!() };
        assert_eq!(go_print(&o["a"]), "[1 x true]");
        assert_eq!(go_print(&o["Labels"]), "map[a:1 b:2]");
        assert!(matches!(o["Labels"], Value::Map(_)));
        assert_eq!(go_print(&Value::Nil), "<nil>");
    }
}
