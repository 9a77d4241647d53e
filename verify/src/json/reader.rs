//! The paranoid walk over parsed JSON that containers/image applies to
//! policy.json and signature payloads (`internal/paranoid_json` /
//! `signature/internal/json.go`): objects must be objects, keys are
//! case-sensitive, a repeated key is an error, unknown keys are errors where
//! the format says so, and every error names the key path and line:column —
//! `transports.docker["quay.io"][0].keyType (line 7, column 9)` — so a linter
//! can point at it.

use std::fmt;

use super::parse::{Member, Pos, Spanned, SyntaxError, Value};

/// Where a value sits in the document, in JavaScript-ish notation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonPath(String);

impl JsonPath {
    pub fn root() -> Self {
        Self::default()
    }

    /// `self.key`, or `self["key"]` when the key is not a plain identifier.
    pub fn key(&self, key: &str) -> Self {
        let plain = !key.is_empty()
            && key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        // Built by hand, not with format!: policies with thousands of scopes
        // make a path per member (policy-lint's 10,000-scope bench).
        let mut out = String::with_capacity(self.0.len() + key.len() + 4);
        out.push_str(&self.0);
        if plain {
            if !self.0.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        } else if key
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            // What `{key:?}` prints for printable ASCII without escapes.
            out.push_str("[\"");
            out.push_str(key);
            out.push_str("\"]");
        } else {
            out.push_str(&format!("[{key:?}]"));
        }
        Self(out)
    }

    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("top level")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// An error of kind `K` at a place in a JSON document.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (at {path}, {pos})")]
pub struct Located<K: std::error::Error + 'static> {
    pub path: JsonPath,
    pub pos: Pos,
    pub kind: K,
}

impl<K: std::error::Error + 'static> Located<K> {
    /// The same place, another kind of error (a JSON error inside a policy error).
    pub fn map<L: std::error::Error + 'static>(self, f: impl FnOnce(K) -> L) -> Located<L> {
        Located {
            path: self.path,
            pos: self.pos,
            kind: f(self.kind),
        }
    }
}

/// Structural errors, with containers/image's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonErrorKind {
    #[error("{}", .0.message)]
    Syntax(SyntaxError),
    #[error("JSON object expected, got {got}")]
    ObjectExpected { got: String },
    #[error("Duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("Unknown key {0:?}")]
    UnknownKey(String),
    #[error("Key {0:?} missing in a JSON object")]
    MissingKey(String),
    /// Go's `json: cannot unmarshal number into Go value of type string`.
    #[error("json: cannot unmarshal {got} into Go value of type {expected}")]
    Type {
        got: &'static str,
        expected: &'static str,
    },
}

pub type JsonError = Located<JsonErrorKind>;

/// Parses a whole document; syntax errors are located like the others.
pub fn parse_document(input: &[u8]) -> Result<Spanned, JsonError> {
    super::parse::parse(input).map_err(|e| Located {
        path: JsonPath::root(),
        pos: e.pos,
        kind: JsonErrorKind::Syntax(e),
    })
}

/// An owned path plus the value, for members reached by walking.
#[derive(Clone, Debug)]
pub struct At<'a> {
    pub value: &'a Spanned,
    pub path: JsonPath,
}

impl<'a> At<'a> {
    pub fn new(value: &'a Spanned, path: JsonPath) -> Self {
        Self { value, path }
    }

    /// An error of kind `kind` located at this value.
    pub fn error<K: std::error::Error + 'static>(&self, kind: K) -> Located<K> {
        Located {
            path: self.path.clone(),
            pos: self.value.pos,
            kind,
        }
    }

    fn type_error(&self, expected: &'static str) -> JsonError {
        self.error(JsonErrorKind::Type {
            got: self.value.value.kind(),
            expected,
        })
    }

    /// A string; Go quirk: `null` decodes to the empty string (§1.3 rule 8).
    pub fn go_string(&self) -> Result<String, JsonError> {
        match &self.value.value {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            _ => Err(self.type_error("string")),
        }
    }

    /// A strict string (no null).
    pub fn string(&self) -> Result<String, JsonError> {
        match &self.value.value {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.type_error("string")),
        }
    }

    /// An array of strings; `null` is `None` (a nil slice in Go).
    pub fn string_array(&self) -> Result<Option<Vec<String>>, JsonError> {
        match &self.value.value {
            Value::Null => Ok(None),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| At::new(v, self.path.index(i)).string())
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            _ => Err(self.type_error("[]string")),
        }
    }

    /// The items of an array; `null` is `None`.
    pub fn array(&self) -> Result<Option<Vec<At<'a>>>, JsonError> {
        match &self.value.value {
            Value::Null => Ok(None),
            Value::Array(items) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| At::new(v, self.path.index(i)))
                    .collect(),
            )),
            _ => Err(self.type_error("array")),
        }
    }

    /// Walks this value as a paranoid object (see [`Obj::new`]).
    pub fn object(&self, allowed: Option<&[&str]>) -> Result<Obj<'a>, JsonError> {
        Obj::new(self.value, self.path.clone(), allowed)
    }
}

/// A JSON object under paranoid rules.
#[derive(Debug)]
pub struct Obj<'a> {
    members: &'a [Member],
    path: JsonPath,
    pos: Pos,
}

impl<'a> Obj<'a> {
    /// Requires `value` to be an object with no repeated key and, when
    /// `allowed` is given, no key outside it. Checked in document order, so
    /// the first offending member is reported, as upstream does.
    pub fn new(
        value: &'a Spanned,
        path: JsonPath,
        allowed: Option<&[&str]>,
    ) -> Result<Self, JsonError> {
        let Value::Object(members) = &value.value else {
            let got = match &value.value {
                Value::Null => "<nil>".to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.clone(),
                Value::String(s) => format!("{s:?}"),
                Value::Array(_) => "[".to_string(),
                Value::Object(_) => "{".to_string(),
            };
            return Err(Located {
                path,
                pos: value.pos,
                kind: JsonErrorKind::ObjectExpected { got },
            });
        };
        // Large objects (thousands of scopes) use a set so the check is not
        // quadratic (policy-lint's 10,000-scope bench); small ones, the vast
        // majority, scan the earlier members without allocating.
        let mut seen =
            (members.len() > 16).then(|| std::collections::HashSet::with_capacity(members.len()));
        for (i, m) in members.iter().enumerate() {
            let at = |kind| Located {
                path: path.key(&m.key),
                pos: m.key_pos,
                kind,
            };
            let repeated = match &mut seen {
                Some(set) => !set.insert(m.key.as_str()),
                None => members[..i].iter().any(|earlier| earlier.key == m.key),
            };
            if repeated {
                return Err(at(JsonErrorKind::DuplicateKey(m.key.clone())));
            }
            if let Some(allowed) = allowed {
                if !allowed.contains(&m.key.as_str()) {
                    return Err(at(JsonErrorKind::UnknownKey(m.key.clone())));
                }
            }
        }
        Ok(Self {
            members,
            path,
            pos: value.pos,
        })
    }

    pub fn path(&self) -> &JsonPath {
        &self.path
    }

    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// An error located at the object itself.
    pub fn error<K: std::error::Error + 'static>(&self, kind: K) -> Located<K> {
        Located {
            path: self.path.clone(),
            pos: self.pos,
            kind,
        }
    }

    pub fn get(&self, key: &str) -> Option<At<'a>> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| At::new(&m.value, self.path.key(key)))
    }

    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|m| m.key == key)
    }

    /// A member that must be present (`Key "k" missing in a JSON object`).
    pub fn require(&self, key: &str) -> Result<At<'a>, JsonError> {
        self.get(key)
            .ok_or_else(|| self.error(JsonErrorKind::MissingKey(key.to_string())))
    }

    /// Every member in document order, for maps keyed by data (transports, scopes).
    pub fn members(&self) -> impl Iterator<Item = (&'a str, Pos, At<'a>)> + '_ {
        self.members.iter().map(|m| {
            (
                m.key.as_str(),
                m.key_pos,
                At::new(&m.value, self.path.key(&m.key)),
            )
        })
    }

    /// Go's struct decoding for a first, lenient look (`{"type": …}` before
    /// dispatching): names match case-insensitively and the last match wins.
    pub fn lenient_get(&self, key: &str) -> Option<At<'a>> {
        self.members
            .iter()
            .rev()
            .find(|m| m.key.eq_ignore_ascii_case(key))
            .map(|m| At::new(&m.value, self.path.key(&m.key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Spanned {
        super::super::parse::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn paths_read_like_javascript() {
        let p = JsonPath::root()
            .key("transports")
            .key("docker")
            .key("quay.io")
            .index(0)
            .key("keyType");
        assert_eq!(p.to_string(), r#"transports.docker["quay.io"][0].keyType"#);
        assert_eq!(JsonPath::root().key("").to_string(), r#"[""]"#);
        assert_eq!(JsonPath::root().to_string(), "top level");
    }

    #[test]
    fn paranoid_object_rules() {
        let v = doc(r#"{"a":1,"b":2,"a":3}"#);
        let e = Obj::new(&v, JsonPath::root(), None).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::DuplicateKey("a".into()));
        assert_eq!(e.path.to_string(), "a");
        assert_eq!(e.pos.column, 14);

        let v = doc(r#"{"a":1,"Critical":2}"#);
        let e = Obj::new(&v, JsonPath::root(), Some(&["a", "critical"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Unknown key "Critical" (at Critical, line 1, column 8)"#
        );

        let v = doc("null");
        let e = Obj::new(&v, JsonPath::root().key("transports"), None).unwrap_err();
        assert_eq!(e.kind.to_string(), "JSON object expected, got <nil>");

        let v = doc(r#"{"a":1}"#);
        let o = Obj::new(&v, JsonPath::root(), None).unwrap();
        assert_eq!(
            o.require("b").unwrap_err().kind.to_string(),
            r#"Key "b" missing in a JSON object"#
        );
        let e = o.require("a").unwrap().string().unwrap_err();
        assert_eq!(
            e.kind.to_string(),
            "json: cannot unmarshal number into Go value of type string"
        );
    }

    #[test]
    fn lenient_lookup_is_case_insensitive_last_wins() {
        let v = doc(r#"{"type":"a","TYPE":"b"}"#);
        let o = Obj::new(&v, JsonPath::root(), None).unwrap();
        assert_eq!(o.lenient_get("type").unwrap().string().unwrap(), "b");
    }

    #[test]
    fn go_null_quirks() {
        let v = doc("null");
        assert_eq!(At::new(&v, JsonPath::root()).go_string().unwrap(), "");
        assert_eq!(At::new(&v, JsonPath::root()).string_array().unwrap(), None);
        assert!(At::new(&v, JsonPath::root()).string().is_err());
    }
}
