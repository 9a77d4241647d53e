//! `trust set`: podman's `AddPolicyEntries` (pkg/trust/policy.go). The
//! scope's requirement list is replaced by one requirement per key file (the
//! image must be signed by a key of *each* file); the other lists are kept
//! as they are, re-indented; transports and scopes come out sorted; the
//! bytes are those podman writes. On top of podman, vouch fails closed: key
//! files must exist and hold the right kind of key, and the result must be
//! a policy containers/image loads.

use std::path::{Path, PathBuf};

use super::go_json;
use crate::json::{parse_document, Spanned, Value};
use crate::keyring::Keyring;
use crate::pem_material::{self, Material, MaterialError};
use crate::policy::{Policy, PolicyError};

/// `--type`, as podman spells the choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustType {
    Accept,
    Reject,
    SignedBy,
    SigstoreSigned,
}

impl TrustType {
    /// Parses `-t`; `insecureAcceptAnything` is a synonym of `accept`.
    pub fn parse(s: &str) -> Result<Self, EditError> {
        Ok(match s {
            "accept" | "insecureAcceptAnything" => Self::Accept,
            "reject" => Self::Reject,
            "signedBy" => Self::SignedBy,
            "sigstoreSigned" => Self::SigstoreSigned,
            other => return Err(EditError::InvalidType(other.to_string())),
        })
    }

    fn requirement_type(self) -> &'static str {
        match self {
            Self::Accept => "insecureAcceptAnything",
            Self::Reject => "reject",
            Self::SignedBy => "signedBy",
            Self::SigstoreSigned => "sigstoreSigned",
        }
    }
}

/// Why `trust set` wrote nothing; podman's wording where podman refuses too.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("invalid choice: {0} (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')")]
    InvalidType(String),
    #[error("invalid image uri: {0}")]
    InvalidScope(String),
    #[error("{count} public keys unexpectedly provided for trust type {kind}")]
    UnexpectedKeys { count: usize, kind: String },
    #[error("at least one public key must be defined for type '{0}'")]
    NoKeys(&'static str),
    #[error("default trust policy must be set")]
    DefaultMissing,
    #[error("--pubkeysfile {}", path.display())]
    KeyUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--pubkeysfile {} is not a PEM public key (sigstoreSigned needs e.g. cosign.pub)", path.display())]
    NotSigstoreKey {
        path: PathBuf,
        #[source]
        source: MaterialError,
    },
    #[error("--pubkeysfile {} holds no OpenPGP public key (signedBy needs `gpg --export KEYID`)", path.display())]
    NotGpgKey { path: PathBuf },
    #[error("--pubkeysfile {}: not valid UTF-8, cannot be written to policy.json", path.display())]
    NonUtf8Path { path: PathBuf },
    #[error("the existing policy is not valid JSON")]
    Existing(#[source] crate::json::JsonError),
    #[error("the edited policy for {scope} would be invalid")]
    Invalid {
        scope: String,
        #[source]
        source: PolicyError,
    },
}

/// One `trust set` invocation.
#[derive(Clone, Debug)]
pub struct SetRequest<'a> {
    /// `default` or a docker (or other transport's) scope.
    pub scope: &'a str,
    pub kind: TrustType,
    /// As typed by the user; the `-t` spelling, for messages.
    pub kind_name: &'a str,
    pub keys: &'a [PathBuf],
}

/// podman's `isValidImageURI`: the host part (before the first `/`) of the
/// scope must look like `host[:port]`.
pub fn validate_scope(scope: &str) -> Result<(), EditError> {
    let host = scope.split(['/', '?', '#']).next().unwrap_or("");
    let (name, port) = match host.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    let port_ok = port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(EditError::InvalidScope(scope.to_string()))
    }
}

/// The new requirement list of the scope, as compact JSON.
fn requirements(req: &SetRequest<'_>) -> Result<String, EditError> {
    let kind = req.kind.requirement_type();
    let mut items = Vec::new();
    match req.kind {
        TrustType::Accept | TrustType::Reject => {
            if !req.keys.is_empty() {
                return Err(EditError::UnexpectedKeys {
                    count: req.keys.len(),
                    kind: req.kind_name.to_string(),
                });
            }
            items.push(format!("{{\"type\":{}}}", go_json::string(kind)));
        }
        TrustType::SignedBy | TrustType::SigstoreSigned => {
            if req.keys.is_empty() {
                return Err(EditError::NoKeys(kind));
            }
            for path in req.keys {
                check_key(path, req.kind)?;
                let shown = absolute(path)?;
                let shown = go_json::string(&shown);
                items.push(match req.kind {
                    TrustType::SignedBy => format!(
                        "{{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":{shown}}}"
                    ),
                    _ => format!("{{\"type\":\"sigstoreSigned\",\"keyPath\":{shown}}}"),
                });
            }
        }
    }
    Ok(format!("[{}]", items.join(",")))
}

/// The path written to policy.json: absolute (podman's help promises it;
/// policy paths are resolved against the *reader's* working directory), with
/// symlinks kept so that a key rotated behind a link stays trusted.
fn absolute(path: &Path) -> Result<String, EditError> {
    let abs = std::path::absolute(path).map_err(|source| EditError::KeyUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| EditError::NonUtf8Path {
            path: path.to_path_buf(),
        })
}

fn check_key(path: &Path, kind: TrustType) -> Result<(), EditError> {
    let bytes = pem_material::read_capped(path).map_err(|source| EditError::KeyUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    match kind {
        TrustType::SigstoreSigned => {
            pem_material::check(&bytes, Material::PublicKey).map_err(|source| {
                EditError::NotSigstoreKey {
                    path: path.to_path_buf(),
                    source,
                }
            })
        }
        _ if Keyring::import(&bytes).is_empty() => Err(EditError::NotGpgKey {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// A raw JSON value of `doc` (from `bytes`).
fn raw<'a>(bytes: &'a [u8], v: &Spanned) -> &'a [u8] {
    let start = v.pos.offset;
    bytes
        .get(start..go_json::value_end(bytes, start))
        .unwrap_or_default()
}

/// Applies `req` to the policy `existing` (None: no file yet) and returns the
/// bytes to write. `existing` must already have been loaded as a policy.
pub fn set(existing: Option<&[u8]>, req: &SetRequest<'_>) -> Result<Vec<u8>, EditError> {
    let new = requirements(req)?;
    let mut default: Option<String> = None;
    // transport → scope → raw requirement list, sorted as Go marshals maps.
    let mut transports: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, String>,
    > = Default::default();
    if let Some(bytes) = existing {
        let doc = parse_document(bytes).map_err(EditError::Existing)?;
        if let Value::Object(top) = &doc.value {
            for m in top {
                match m.key.as_str() {
                    "default" => {
                        default = Some(String::from_utf8_lossy(raw(bytes, &m.value)).into_owned())
                    }
                    "transports" => {
                        let Value::Object(ts) = &m.value.value else {
                            continue;
                        };
                        for t in ts {
                            let scopes = transports.entry(t.key.clone()).or_default();
                            let Value::Object(ss) = &t.value.value else {
                                continue;
                            };
                            for s in ss {
                                scopes.insert(
                                    s.key.clone(),
                                    String::from_utf8_lossy(raw(bytes, &s.value)).into_owned(),
                                );
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if req.scope == "default" {
        default = Some(new);
    } else {
        if default.is_none() {
            return Err(EditError::DefaultMissing);
        }
        let holder = transports
            .iter_mut()
            .find(|(_, scopes)| scopes.contains_key(req.scope))
            .map(|(_, scopes)| scopes);
        match holder {
            Some(scopes) => {
                scopes.insert(req.scope.to_string(), new);
            }
            None => {
                transports
                    .entry("docker".to_string())
                    .or_default()
                    .insert(req.scope.to_string(), new);
            }
        }
    }
    let mut doc = String::from("{\"default\":");
    doc.push_str(default.as_deref().unwrap_or("null"));
    if !transports.is_empty() {
        doc.push_str(",\"transports\":{");
        let ts: Vec<String> = transports
            .iter()
            .map(|(t, scopes)| {
                let ss: Vec<String> = scopes
                    .iter()
                    .map(|(s, reqs)| format!("{}:{reqs}", go_json::string(s)))
                    .collect();
                format!("{}:{{{}}}", go_json::string(t), ss.join(","))
            })
            .collect();
        doc.push_str(&ts.join(","));
        doc.push('}');
    }
    doc.push('}');
    let out = go_json::indent(doc.as_bytes(), "    ");
    Policy::parse(&out).map_err(|source| EditError::Invalid {
        scope: req.scope.to_string(),
        source,
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/containers-image/signature/fixtures")
            .join(name)
    }

    fn req<'a>(scope: &'a str, kind: &'a str, keys: &'a [PathBuf]) -> SetRequest<'a> {
        SetRequest {
            scope,
            kind: TrustType::parse(kind).unwrap(),
            kind_name: kind,
            keys,
        }
    }

    #[test]
    fn sigstore_keys_become_one_requirement_each() {
        let keys = [fixture("cosign.pub"), fixture("cosign2.pub")];
        let base = set(None, &req("default", "reject", &[])).unwrap();
        assert_eq!(
            String::from_utf8(base.clone()).unwrap(),
            "{\n    \"default\": [\n        {\n            \"type\": \"reject\"\n        }\n    ]\n}"
        );
        let out = set(Some(&base), &req("quay.io/ns", "sigstoreSigned", &keys)).unwrap();
        let p = Policy::parse(&out).unwrap();
        assert_eq!(p.transports[0].1[0].1.len(), 2);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!(
                "{{\n                    \"type\": \"sigstoreSigned\",\n                    \"keyPath\": \"{}\"\n                }}",
                keys[0].display()
            )),
            "{text}"
        );
    }

    #[test]
    fn other_lists_keep_their_member_order() {
        let existing = br#"{"default":[{"type":"reject"}],"transports":{"docker":{"b.io":[{"keyPath":"/k","keyType":"GPGKeys","type":"signedBy"}]},"atomic":{"a.io":[{"type":"reject"}]}}}"#;
        let out = set(Some(existing), &req("a.io", "accept", &[])).unwrap();
        let text = String::from_utf8(out).unwrap();
        // atomic sorts before docker, and a.io is replaced where it is.
        let a = text.find("\"atomic\"").unwrap();
        let d = text.find("\"docker\"").unwrap();
        assert!(a < d, "{text}");
        assert!(text.contains("insecureAcceptAnything"), "{text}");
        assert!(!text.contains("docker\": {\n            \"a.io"), "{text}");
        let k = text.find("\"keyPath\": \"/k\"").unwrap();
        assert!(k < text.find("\"type\": \"signedBy\"").unwrap(), "{text}");
    }

    #[test]
    fn refusals() {
        let gpg = [fixture("public-key.gpg")];
        let e = set(None, &req("quay.io", "sigstoreSigned", &gpg)).unwrap_err();
        assert!(matches!(e, EditError::NotSigstoreKey { .. }), "{e}");
        let pem = [fixture("cosign.pub")];
        let e = set(None, &req("quay.io", "signedBy", &pem)).unwrap_err();
        assert!(matches!(e, EditError::NotGpgKey { .. }), "{e}");
        let e = set(None, &req("quay.io", "accept", &[])).unwrap_err();
        assert_eq!(e.to_string(), "default trust policy must be set");
        let e = set(None, &req("default", "reject", &pem)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 public keys unexpectedly provided for trust type reject"
        );
        let e = set(None, &req("default", "sigstoreSigned", &[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at least one public key must be defined for type 'sigstoreSigned'"
        );
        assert_eq!(
            TrustType::parse("signed").unwrap_err().to_string(),
            "invalid choice: signed (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')"
        );
        validate_scope("registry.example.com:5000/ns").unwrap();
        validate_scope("default").unwrap();
        assert!(validate_scope("quay io/ns").is_err());
        assert!(validate_scope("quay.io:abc").is_err());
    }
}
