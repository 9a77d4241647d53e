//! The offline Rekor check: a signed entry timestamp (SET) in the
//! `dev.sigstore.cosign/bundle` annotation proves the signature was logged.
//!
//! containers/image `signature/internal/rekor_set.go` `VerifyRekorSET`:
//! the bundle is `{"SignedEntryTimestamp", "Payload"}` (exactly); the SET is
//! an ECDSA signature over SHA-256 of the RFC 8785 canonical form of
//! `Payload` (canonicalised by `serde_json_canonicalizer` after the paranoid
//! reader refused duplicate keys, which Go's canonicaliser also refuses); the
//! verified canonical bytes are then parsed strictly and their `body`, a
//! `hashedrekord` 0.0.1 entry decoded with Go's lenient rules, must record
//! this very key or certificate, signature and payload hash.
//!
//! Beyond upstream, `logID` must be the SHA-256 of the verifying Rekor key's
//! PKIX form, as Rekor defines it and cosign checks: a SET cannot claim a
//! log other than the one whose key signed it.

use sha2::{Digest, Sha256};

use super::pem;
use super::public_key::PublicKey;
use crate::json::{parse_document, JsonPath, Obj, Spanned, Value};

/// Why a SET does not vouch for this signature; containers/image's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RekorError {
    #[error("{0}")]
    SetFormat(String),
    #[error("canonicalizing Rekor SET JSON: {0}")]
    Canonical(String),
    #[error("cryptographic signature verification of Rekor SET failed")]
    SetSignature,
    #[error("parsing Rekor SET payload: {0}")]
    Payload(String),
    #[error("Rekor SET log ID {0:?} is not the ID of the Rekor public key that signed it")]
    LogId(String),
    #[error("decoding the body of a Rekor SET payload: {0}")]
    Body(String),
    #[error("missing Rekor SET Payload API version")]
    NoApiVersion,
    #[error("unsupported Rekor SET Payload hashedrekord version {0:?}")]
    ApiVersion(String),
    #[error("decoding hashedrekod spec: {0}")]
    Spec(String),
    #[error("Missing {0:?} field in hashedrekord")]
    Missing(&'static str),
    #[error("publicKey in Rekor SET is not in PEM format")]
    RekorKeyNotPem,
    #[error("publicKey in Rekor SET has trailing data")]
    RekorKeyTrailing,
    #[error(
        "public key or cert to be matched against publicKey in Rekor SET is not in PEM format"
    )]
    OursNotPem,
    #[error("public key or cert to be matched against publicKey in Rekor SET has trailing data")]
    OursTrailing,
    #[error("publicKey in Rekor SET does not match")]
    KeyMismatch,
    #[error("decoding signature base64: {0}")]
    SignatureBase64(String),
    #[error("signature in Rekor SET does not match")]
    SignatureMismatch,
    #[error("Unexpected \"data.hash.algorithm\" value {0:?}")]
    Algorithm(String),
    #[error("Invalid \"data.hash.value\" field in hashedrekord: {0}")]
    HashValue(String),
    #[error("payload in Rekor SET does not match")]
    PayloadMismatch,
}

/// A verified SET's claims that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSet {
    /// When Rekor logged the entry (Unix seconds).
    pub integrated_time: i64,
    pub log_index: i64,
}

/// Verifies `set` (the bundle annotation) against `rekor_keys` and checks
/// that it logs `key_or_cert_pem`, `base64_signature` and `payload`.
pub fn verify_set(
    rekor_keys: &[PublicKey],
    set: &[u8],
    key_or_cert_pem: &[u8],
    base64_signature: &str,
    payload: &[u8],
) -> Result<VerifiedSet, RekorError> {
    let fmt = |e: crate::json::JsonError| RekorError::SetFormat(e.kind.to_string());
    let doc = parse_document(set).map_err(fmt)?;
    let obj = Obj::new(
        &doc,
        JsonPath::root(),
        Some(&["SignedEntryTimestamp", "Payload"]),
    )
    .map_err(fmt)?;
    let set_signature = go_bytes(&obj.require("SignedEntryTimestamp").map_err(fmt)?.value)
        .map_err(RekorError::SetFormat)?;
    let set_payload = obj.require("Payload").map_err(fmt)?;

    let canonical = canonicalize(set_payload.value).map_err(RekorError::Canonical)?;
    let digest = Sha256::digest(&canonical);
    let signer = rekor_keys
        .iter()
        .find(|k| k.verify_ecdsa_digest(&digest, &set_signature))
        .ok_or(RekorError::SetSignature)?;

    let entry = parse_entry(&canonical).map_err(RekorError::Payload)?;
    if entry.log_id != hex::encode(Sha256::digest(signer.spki_der())) {
        return Err(RekorError::LogId(entry.log_id));
    }
    let spec = parse_body(&entry.body)?;
    check_spec(&spec, key_or_cert_pem, base64_signature, payload)?;
    Ok(VerifiedSet {
        integrated_time: entry.integrated_time,
        log_index: entry.log_index,
    })
}

/// RFC 8785 bytes of a value the paranoid reader parsed (duplicates refused).
fn canonicalize(v: &Spanned) -> Result<Vec<u8>, String> {
    let value = to_serde(v)?;
    serde_json_canonicalizer::to_vec(&value).map_err(|e| e.to_string())
}

fn to_serde(v: &Spanned) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match &v.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(text) => serde_json::from_str(text).map_err(|e| e.to_string())?,
        Value::String(s) => J::String(s.clone()),
        Value::Array(items) => J::Array(items.iter().map(to_serde).collect::<Result<_, _>>()?),
        Value::Object(members) => {
            let mut map = serde_json::Map::new();
            for m in members {
                if map.insert(m.key.clone(), to_serde(&m.value)?).is_some() {
                    return Err(format!("Duplicate key: {}", m.key));
                }
            }
            J::Object(map)
        }
    })
}

struct Entry {
    body: Vec<u8>,
    integrated_time: i64,
    log_index: i64,
    log_id: String,
}

/// `UntrustedRekorPayload`: exactly body, integratedTime, logIndex, logID.
fn parse_entry(canonical: &[u8]) -> Result<Entry, String> {
    let fmt = |e: crate::json::JsonError| e.kind.to_string();
    let doc = parse_document(canonical).map_err(fmt)?;
    let obj = Obj::new(
        &doc,
        JsonPath::root(),
        Some(&["body", "integratedTime", "logIndex", "logID"]),
    )
    .map_err(fmt)?;
    let body = obj.require("body").map_err(fmt)?;
    let integrated = obj.require("integratedTime").map_err(fmt)?;
    let index = obj.require("logIndex").map_err(fmt)?;
    let id = obj.require("logID").map_err(fmt)?;
    Ok(Entry {
        body: go_bytes(&body.value)?,
        integrated_time: go_int64(&integrated.value)?,
        log_index: go_int64(&index.value)?,
        log_id: id.go_string().map_err(fmt)?,
    })
}

/// A Go `[]byte` field: a base64 string, `null` for none.
fn go_bytes(v: &Spanned) -> Result<Vec<u8>, String> {
    match &v.value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => pem::go_base64(s.as_bytes()),
        other => Err(type_error(other, "[]uint8")),
    }
}

/// A Go `int64` field: an integral number literal, `null` for zero.
fn go_int64(v: &Spanned) -> Result<i64, String> {
    match &v.value {
        Value::Null => Ok(0),
        Value::Number(text) => text.parse().map_err(|_| {
            format!("json: cannot unmarshal number {text} into Go value of type int64")
        }),
        other => Err(type_error(other, "int64")),
    }
}

/// A Go `*string` field: `None` for absent or `null`.
fn go_opt_string(v: Option<&Spanned>) -> Result<Option<String>, String> {
    match v.map(|v| &v.value) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(type_error(other, "string")),
    }
}

fn type_error(got: &Value, expected: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go value of type {expected}",
        got.kind()
    )
}

/// Go's struct decoding: the last member whose name matches case-insensitively.
fn field<'a>(v: &'a Spanned, key: &str) -> Option<&'a Spanned> {
    let Value::Object(members) = &v.value else {
        return None;
    };
    members
        .iter()
        .rev()
        .find(|m| m.key.eq_ignore_ascii_case(key))
        .map(|m| &m.value)
}

/// A Go pointer-to-struct field: `None` for absent or `null`, an error for a non-object.
fn go_struct<'a>(v: Option<&'a Spanned>, type_name: &str) -> Result<Option<&'a Spanned>, String> {
    match v.map(|v| (&v.value, v)) {
        None | Some((Value::Null, _)) => Ok(None),
        Some((Value::Object(_), v)) => Ok(Some(v)),
        Some((other, _)) => Err(type_error(other, type_name)),
    }
}

/// `RekorHashedrekordV001Schema`, decoded.
#[derive(Default)]
struct Spec {
    signature: Option<SpecSignature>,
    data: Option<Option<SpecHash>>,
}

struct SpecSignature {
    content: Vec<u8>,
    public_key: Option<Vec<u8>>,
}

struct SpecHash {
    algorithm: Option<String>,
    value: Option<String>,
}

/// The body: `{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": …}`.
fn parse_body(body: &[u8]) -> Result<Spec, RekorError> {
    let body_err = |e: String| RekorError::Body(e);
    let doc = parse_document(body).map_err(|e| body_err(e.kind.to_string()))?;
    if !matches!(doc.value, Value::Object(_)) {
        return Err(body_err(type_error(
            &doc.value,
            "struct { Kind string \"json:\\\"kind\\\"\" }",
        )));
    }
    let kind = match field(&doc, "kind").map(|k| &k.value) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(body_err(type_error(other, "string"))),
    };
    if kind != "hashedrekord" {
        return Err(body_err(format!("invalid kind value: {kind:?}")));
    }
    let version = go_opt_string(field(&doc, "apiVersion")).map_err(body_err)?;
    let version = version.ok_or(RekorError::NoApiVersion)?;
    if version != "0.0.1" {
        return Err(RekorError::ApiVersion(version));
    }
    let Some(spec) = field(&doc, "spec") else {
        return Err(RekorError::Spec("unexpected end of JSON input".into()));
    };
    decode_spec(spec).map_err(RekorError::Spec)
}

fn decode_spec(spec: &Spanned) -> Result<Spec, String> {
    let Some(spec) = go_struct(Some(spec), "internal.RekorHashedrekordV001Schema")? else {
        return Ok(Spec::default());
    };
    let signature = match go_struct(
        field(spec, "signature"),
        "internal.RekorHashedrekordV001SchemaSignature",
    )? {
        None => None,
        Some(sig) => {
            let content = match field(sig, "content") {
                None => Vec::new(),
                Some(c) => go_bytes(c)?,
            };
            let public_key = match go_struct(
                field(sig, "publicKey"),
                "internal.RekorHashedrekordV001SchemaSignaturePublicKey",
            )? {
                None => None,
                Some(pk) => Some(match field(pk, "content") {
                    None => Vec::new(),
                    Some(c) => go_bytes(c)?,
                }),
            };
            Some(SpecSignature {
                content,
                public_key,
            })
        }
    };
    let data = match go_struct(
        field(spec, "data"),
        "internal.RekorHashedrekordV001SchemaData",
    )? {
        None => None,
        Some(data) => Some(
            match go_struct(
                field(data, "hash"),
                "internal.RekorHashedrekordV001SchemaDataHash",
            )? {
                None => None,
                Some(hash) => Some(SpecHash {
                    algorithm: go_opt_string(field(hash, "algorithm"))?,
                    value: go_opt_string(field(hash, "value"))?,
                }),
            },
        ),
    };
    Ok(Spec { signature, data })
}

/// The entry must record our key/certificate, signature and payload hash.
fn check_spec(
    spec: &Spec,
    key_or_cert_pem: &[u8],
    base64_signature: &str,
    payload: &[u8],
) -> Result<(), RekorError> {
    let signature = spec
        .signature
        .as_ref()
        .ok_or(RekorError::Missing("signature"))?;
    let logged_key = signature
        .public_key
        .as_ref()
        .ok_or(RekorError::Missing("signature.publicKey"))?;
    let (logged, rest) = pem::decode(logged_key).ok_or(RekorError::RekorKeyNotPem)?;
    if !rest.is_empty() {
        return Err(RekorError::RekorKeyTrailing);
    }
    let (ours, rest) = pem::decode(key_or_cert_pem).ok_or(RekorError::OursNotPem)?;
    if !rest.is_empty() {
        return Err(RekorError::OursTrailing);
    }
    if logged.der != ours.der {
        return Err(RekorError::KeyMismatch);
    }
    let our_signature =
        pem::go_base64(base64_signature.as_bytes()).map_err(RekorError::SignatureBase64)?;
    if signature.content != our_signature {
        return Err(RekorError::SignatureMismatch);
    }
    let data = spec.data.as_ref().ok_or(RekorError::Missing("data"))?;
    let hash = data.as_ref().ok_or(RekorError::Missing("data.hash"))?;
    let algorithm = hash
        .algorithm
        .as_ref()
        .ok_or(RekorError::Missing("data.hash.algorithm"))?;
    if algorithm != "sha256" {
        return Err(RekorError::Algorithm(algorithm.clone()));
    }
    let value = hash
        .value
        .as_ref()
        .ok_or(RekorError::Missing("data.hash.value"))?;
    let logged_hash = hex::decode(value).map_err(|e| RekorError::HashValue(e.to_string()))?;
    if logged_hash.as_slice() != Sha256::digest(payload).as_slice() {
        return Err(RekorError::PayloadMismatch);
    }
    Ok(())
}
