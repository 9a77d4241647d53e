//! Go's `json.MarshalIndent(v, "", "    ")` for the documents skopeo
//! prints: the value tree keeps Go's field order (struct order, sorted map
//! keys) because the bytes, not just the meaning, must match.

use crate::go_json;

/// A JSON value in the order Go would write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoValue {
    Null,
    Bool(bool),
    Str(String),
    Array(Vec<GoValue>),
    /// Fields in output order; callers put map keys in Go's sorted order.
    Object(Vec<(String, GoValue)>),
}

impl GoValue {
    pub fn str(s: &str) -> Self {
        Self::Str(s.to_string())
    }

    /// A `[]string`: `null` when nil, as Go writes a nil slice.
    pub fn strings(v: Option<&[String]>) -> Self {
        match v {
            None => Self::Null,
            Some(v) => Self::Array(v.iter().map(|s| Self::str(s)).collect()),
        }
    }

    /// A `map[string]string`: `null` when nil, keys sorted as Go sorts them.
    pub fn string_map(m: Option<&std::collections::BTreeMap<String, String>>) -> Self {
        match m {
            None => Self::Null,
            Some(m) => Self::Object(m.iter().map(|(k, v)| (k.clone(), Self::str(v))).collect()),
        }
    }
}

/// The indented document, without a trailing newline (skopeo adds one).
pub fn marshal_indent(v: &GoValue, indent: &str) -> String {
    let mut out = String::new();
    write(&mut out, v, indent, 0);
    out
}

fn newline(out: &mut String, indent: &str, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(indent);
    }
}

fn write(out: &mut String, v: &GoValue, indent: &str, depth: usize) {
    match v {
        GoValue::Null => out.push_str("null"),
        GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        GoValue::Str(s) => go_json::push_string(out, s),
        GoValue::Array(items) if items.is_empty() => out.push_str("[]"),
        GoValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write(out, item, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        GoValue::Object(fields) if fields.is_empty() => out.push_str("{}"),
        GoValue::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                go_json::push_string(out, k);
                out.push_str(": ");
                write(out, item, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_as_go_does() {
        let v = GoValue::Object(vec![
            ("A".into(), GoValue::str("x<y")),
            ("B".into(), GoValue::Array(vec![])),
            ("C".into(), GoValue::Object(vec![])),
            (
                "D".into(),
                GoValue::Array(vec![GoValue::str("1"), GoValue::Object(vec![])]),
            ),
            ("E".into(), GoValue::Null),
        ]);
        assert_eq!(
            marshal_indent(&v, "    "),
            "{\n    \"A\": \"x\\u003cy\",\n    \"B\": [],\n    \"C\": {},\n    \"D\": [\n        \"1\",\n        {}\n    ],\n    \"E\": null\n}"
        );
    }
}
