//! An image config read the way Go's `encoding/json` fills image-spec's
//! `v1.Image` (the commit skopeo 1.9.3 vendors) and containers/image's
//! `Schema2V1Image`: keys matched exactly, else case-insensitively; `null`
//! leaves a field at its zero value; a value of the wrong type is refused.
//! Only the fields skopeo's `inspect` and `inspect --config` print are read.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::go_indent::GoValue;
use super::go_time::GoTime;

/// Why a config could not be read as Go reads it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("image config is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("image config: {path} is not {want}")]
    Type { path: String, want: &'static str },
    #[error("image config: {path} is not an RFC 3339 time: {value:?}")]
    Time { path: String, value: String },
}

/// image-spec's `ImageConfig`, the fields it has at that commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunConfig {
    pub user: String,
    pub exposed_ports: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub volumes: Option<Vec<String>>,
    pub working_dir: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: String,
}

/// One `history` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub created: Option<GoTime>,
    pub created_by: String,
    pub author: String,
    pub comment: String,
    pub empty_layer: bool,
}

/// image-spec's `v1.Image`, plus the Docker-only `docker_version` that
/// skopeo's inspect reads through `Schema2V1Image`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciConfig {
    pub created: Option<GoTime>,
    pub author: String,
    pub architecture: String,
    pub variant: String,
    pub os: String,
    pub os_version: String,
    pub os_features: Option<Vec<String>>,
    pub config: RunConfig,
    /// Whether `config` was present and not `null` (schema2's `*Schema2Config`).
    pub has_config: bool,
    pub rootfs_type: String,
    pub diff_ids: Option<Vec<String>>,
    pub history: Option<Vec<History>>,
    pub docker_version: String,
}

/// A JSON object as Go's decoder looks fields up in it.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn of(v: &'a Value, path: &str) -> Result<Option<Self>, ConfigError> {
        match v {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(Self {
                map,
                path: path.to_string(),
            })),
            _ => Err(type_err(path, "an object")),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Exact key first, else the first key equal under Unicode case folding.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).or_else(|| {
            self.map
                .iter()
                .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
                .map(|(_, v)| v)
        })
    }

    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(type_err(&self.path(key), "a string")),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(type_err(&self.path(key), "a boolean")),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(type_err(&self.path(key), "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(type_err(&self.path(key), "a list of strings")),
        }
    }

    fn string_map(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
        let Some(o) = self.object(key)? else {
            return Ok(None);
        };
        o.map
            .iter()
            .map(|(k, v)| match v {
                Value::Null => Ok((k.clone(), String::new())),
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(type_err(&o.path(k), "a string")),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Some)
    }

    /// A `map[string]struct{}`: the keys, sorted as Go writes them.
    fn key_set(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(o) = self.object(key)? else {
            return Ok(None);
        };
        let mut keys = Vec::new();
        for (k, v) in o.map {
            Obj::of(v, &o.path(k))?;
            keys.push(k.clone());
        }
        keys.sort();
        Ok(Some(keys))
    }

    fn time(&self, key: &str) -> Result<Option<GoTime>, ConfigError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => GoTime::parse(s).map(Some).ok_or(ConfigError::Time {
                path: self.path(key),
                value: s.clone(),
            }),
            Some(_) => Err(type_err(&self.path(key), "a time string")),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Obj<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Obj::of(v, &self.path(key)),
        }
    }
}

fn type_err(path: &str, want: &'static str) -> ConfigError {
    ConfigError::Type {
        path: if path.is_empty() {
            "the document".into()
        } else {
            path.to_string()
        },
        want,
    }
}

impl OciConfig {
    /// Reads config bytes as `json.Unmarshal(config, &v1.Image{})` does.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        let v: Value = serde_json::from_slice(bytes).map_err(ConfigError::Json)?;
        let Some(top) = Obj::of(&v, "")? else {
            return Ok(Self::default());
        };
        let run = top.object("config")?;
        let config = match &run {
            None => RunConfig::default(),
            Some(c) => RunConfig {
                user: c.string("User")?,
                exposed_ports: c.key_set("ExposedPorts")?,
                env: c.strings("Env")?,
                entrypoint: c.strings("Entrypoint")?,
                cmd: c.strings("Cmd")?,
                volumes: c.key_set("Volumes")?,
                working_dir: c.string("WorkingDir")?,
                labels: c.string_map("Labels")?,
                stop_signal: c.string("StopSignal")?,
            },
        };
        let rootfs = top.object("rootfs")?;
        let history = match top.get("history") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let Some(h) = Obj::of(h, &format!("history[{i}]"))? else {
                            return Ok(History::default());
                        };
                        Ok(History {
                            created: h.time("created")?,
                            created_by: h.string("created_by")?,
                            author: h.string("author")?,
                            comment: h.string("comment")?,
                            empty_layer: h.bool("empty_layer")?,
                        })
                    })
                    .collect::<Result<Vec<_>, ConfigError>>()?,
            ),
            Some(_) => return Err(type_err("history", "a list")),
        };
        Ok(Self {
            created: top.time("created")?,
            author: top.string("author")?,
            architecture: top.string("architecture")?,
            variant: top.string("variant")?,
            os: top.string("os")?,
            os_version: top.string("os.version")?,
            os_features: top.strings("os.features")?,
            has_config: run.is_some(),
            config,
            rootfs_type: match &rootfs {
                Some(r) => r.string("type")?,
                None => String::new(),
            },
            diff_ids: match &rootfs {
                Some(r) => r.strings("diff_ids")?,
                None => None,
            },
            history,
            docker_version: top.string("docker_version")?,
        })
    }

    /// `v1.Image` as Go marshals it (what `skopeo inspect --config` prints).
    pub fn to_go(&self) -> GoValue {
        let mut f: Vec<(String, GoValue)> = Vec::new();
        let mut put = |k: &str, v: GoValue| f.push((k.to_string(), v));
        if let Some(t) = &self.created {
            put("created", GoValue::Str(t.format()));
        }
        if !self.author.is_empty() {
            put("author", GoValue::str(&self.author));
        }
        put("architecture", GoValue::str(&self.architecture));
        if !self.variant.is_empty() {
            put("variant", GoValue::str(&self.variant));
        }
        put("os", GoValue::str(&self.os));
        if !self.os_version.is_empty() {
            put("os.version", GoValue::str(&self.os_version));
        }
        if let Some(v) = self.os_features.as_deref().filter(|v| !v.is_empty()) {
            put("os.features", GoValue::strings(Some(v)));
        }
        put("config", self.config.to_go());
        put(
            "rootfs",
            GoValue::Object(vec![
                ("type".into(), GoValue::str(&self.rootfs_type)),
                (
                    "diff_ids".into(),
                    GoValue::strings(self.diff_ids.as_deref()),
                ),
            ]),
        );
        if let Some(h) = self.history.as_deref().filter(|h| !h.is_empty()) {
            put(
                "history",
                GoValue::Array(h.iter().map(History::to_go).collect()),
            );
        }
        GoValue::Object(f)
    }
}

impl RunConfig {
    fn to_go(&self) -> GoValue {
        let mut f: Vec<(String, GoValue)> = Vec::new();
        let set = |keys: &[String]| {
            GoValue::Object(
                keys.iter()
                    .map(|k| (k.clone(), GoValue::Object(vec![])))
                    .collect(),
            )
        };
        let list = |v: &Option<Vec<String>>| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| GoValue::strings(Some(v)))
        };
        if !self.user.is_empty() {
            f.push(("User".into(), GoValue::str(&self.user)));
        }
        if let Some(p) = self.exposed_ports.as_deref().filter(|p| !p.is_empty()) {
            f.push(("ExposedPorts".into(), set(p)));
        }
        if let Some(v) = list(&self.env) {
            f.push(("Env".into(), v));
        }
        if let Some(v) = list(&self.entrypoint) {
            f.push(("Entrypoint".into(), v));
        }
        if let Some(v) = list(&self.cmd) {
            f.push(("Cmd".into(), v));
        }
        if let Some(p) = self.volumes.as_deref().filter(|p| !p.is_empty()) {
            f.push(("Volumes".into(), set(p)));
        }
        if !self.working_dir.is_empty() {
            f.push(("WorkingDir".into(), GoValue::str(&self.working_dir)));
        }
        if let Some(l) = self.labels.as_ref().filter(|l| !l.is_empty()) {
            f.push(("Labels".into(), GoValue::string_map(Some(l))));
        }
        if !self.stop_signal.is_empty() {
            f.push(("StopSignal".into(), GoValue::str(&self.stop_signal)));
        }
        GoValue::Object(f)
    }
}

impl History {
    fn to_go(&self) -> GoValue {
        let mut f: Vec<(String, GoValue)> = Vec::new();
        if let Some(t) = &self.created {
            f.push(("created".into(), GoValue::Str(t.format())));
        }
        for (k, v) in [
            ("created_by", &self.created_by),
            ("author", &self.author),
            ("comment", &self.comment),
        ] {
            if !v.is_empty() {
                f.push((k.into(), GoValue::str(v)));
            }
        }
        if self.empty_layer {
            f.push(("empty_layer".into(), GoValue::Bool(true)));
        }
        GoValue::Object(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::go_indent::marshal_indent;

    #[test]
    fn converts_a_docker_config_as_skopeo_does() {
        let cfg = br#"{"architecture":"amd64","os":"linux","docker_version":"20.10",
            "created":"2024-01-02T03:04:05.500Z","container_config":{"Hostname":"x"},
            "config":{"Env":["A=1"],"ExposedPorts":{"80/tcp":{},"443/tcp":{}},"labels":{"b":"<&>","a":"1"},"Image":"sha256:x"},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created":"2024-01-02T03:04:05Z","created_by":"RUN x","empty_layer":true}]}"#;
        let c = OciConfig::parse(cfg).unwrap();
        assert_eq!(c.docker_version, "20.10");
        assert_eq!(
            marshal_indent(&c.to_go(), "    "),
            r#"{
    "created": "2024-01-02T03:04:05.5Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "ExposedPorts": {
            "443/tcp": {},
            "80/tcp": {}
        },
        "Env": [
            "A=1"
        ],
        "Labels": {
            "a": "1",
            "b": "\u003c\u0026\u003e"
        }
    },
    "rootfs": {
        "type": "layers",
        "diff_ids": [
            "sha256:aa"
        ]
    },
    "history": [
        {
            "created": "2024-01-02T03:04:05Z",
            "created_by": "RUN x",
            "empty_layer": true
        }
    ]
}"#
        );
    }

    #[test]
    fn an_empty_config_keeps_the_fields_go_always_writes() {
        let c = OciConfig::parse(b"{}").unwrap();
        assert_eq!(
            marshal_indent(&c.to_go(), "    "),
            "{\n    \"architecture\": \"\",\n    \"os\": \"\",\n    \"config\": {},\n    \"rootfs\": {\n        \"type\": \"\",\n        \"diff_ids\": null\n    }\n}"
        );
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            &br#"{"architecture":5}"#[..],
            br#"{"config":{"Env":"A=1"}}"#,
            br#"{"created":"yesterday"}"#,
            br#"[]"#,
            b"{",
        ] {
            assert!(
                OciConfig::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
