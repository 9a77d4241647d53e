//! The manifest digest that simple signatures sign and verifiers compare.
//!
//! Always SHA-256 over the raw manifest bytes, except for JWS-signed Docker
//! schema1 manifests, whose digest covers the JWS payload so that a registry
//! re-signing the JWS does not invalidate simple signatures
//! (containers/image `internal/manifest/manifest.go` `Digest`, libtrust
//! `ParsePrettySignature`; spec docs/trust-formats.md §3.1). Never re-serialise
//! a manifest before hashing it.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Why the digest of a signed schema1 manifest cannot be computed.
///
/// Such a manifest cannot be verified at all; the message names the JWS part
/// that broke, as libtrust's errors do.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("error unmarshalling signatures of a signed schema1 manifest: {reason}")]
    SignaturesNotArray { reason: &'static str },
    #[error("schema1 JWS signature {index}: field {field:?} {reason}")]
    BadField {
        index: usize,
        field: &'static str,
        reason: &'static str,
    },
    #[error("schema1 JWS signature {index}: {field:?} is not valid base64url")]
    Base64 {
        index: usize,
        field: &'static str,
        #[source]
        source: base64::DecodeError,
    },
    #[error("schema1 JWS signature {index}: protected header is not JSON")]
    ProtectedJson {
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("schema1 JWS: conflicting format length")]
    ConflictingLength,
    #[error("schema1 JWS: conflicting format tail")]
    ConflictingTail,
    #[error("schema1 JWS: formatLength {length} exceeds content length {content}")]
    LengthTooLarge { length: u64, content: usize },
    #[error("schema1 JWS signature {index}: header.jwk is not a valid JWK: {reason}")]
    Jwk { index: usize, reason: &'static str },
}

/// `sha256:<hex>` of `manifest` as containers/image computes it (§3.1).
pub fn manifest_digest(manifest: &[u8]) -> Result<String, DigestError> {
    let hashed = if is_signed_schema1(manifest) {
        std::borrow::Cow::Owned(schema1_payload(manifest)?)
    } else {
        std::borrow::Cow::Borrowed(manifest)
    };
    Ok(sha256_digest(&hashed))
}

/// `sha256:<hex>` of exactly these bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Media types that are never schema1, whatever else the document says.
const NOT_SCHEMA1: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// §3.1 steps 1–2: the guess `GuessMIMEType` makes, reduced to the one
/// answer that matters here.
///
/// Go decodes into a struct, so member names match case-insensitively and a
/// wrongly typed `mediaType`/`schemaVersion` makes the whole guess "unknown".
fn is_signed_schema1(manifest: &[u8]) -> bool {
    let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(manifest) else {
        return false;
    };
    let media_type = match go_field(&top, "mediaType") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return false,
    };
    let schema_version = match go_field(&top, "schemaVersion") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => v,
            None => return false,
        },
        Some(_) => return false,
    };
    if NOT_SCHEMA1.contains(&media_type) {
        return false;
    }
    let signatures = go_field(&top, "signatures");
    schema_version == 1 && !matches!(signatures, None | Some(Value::Null))
}

/// A struct field lookup as Go's decoder does it: exact name first, then a
/// case-insensitive match.
fn go_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// §3.1 step 3: first `formatLength` bytes plus the decoded `formatTail`.
fn schema1_payload(manifest: &[u8]) -> Result<Vec<u8>, DigestError> {
    let top: Map<String, Value> =
        serde_json::from_slice(manifest).map_err(|_| DigestError::SignaturesNotArray {
            reason: "manifest is not a JSON object",
        })?;
    let Some(Value::Array(blocks)) = top.get("signatures") else {
        return Err(DigestError::SignaturesNotArray {
            reason: "\"signatures\" is not an array",
        });
    };
    let mut agreed: Option<(u64, Vec<u8>)> = None;
    for (index, block) in blocks.iter().enumerate() {
        let Value::Object(block) = block else {
            return Err(DigestError::BadField {
                index,
                field: "signatures[]",
                reason: "is not an object",
            });
        };
        check_jwk(index, block)?;
        let protected = string_field(index, block, "protected")?;
        let header_bytes = jose_base64url(protected).map_err(|source| DigestError::Base64 {
            index,
            field: "protected",
            source,
        })?;
        let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
            .map_err(|source| DigestError::ProtectedJson { index, source })?;
        let length = match header.get("formatLength") {
            Some(Value::Number(n)) => n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64),
            _ => None,
        }
        .ok_or(DigestError::BadField {
            index,
            field: "formatLength",
            reason: "is not a non-negative number",
        })?;
        let tail = string_field(index, &header, "formatTail")?;
        let tail = jose_base64url(tail).map_err(|source| DigestError::Base64 {
            index,
            field: "formatTail",
            source,
        })?;
        match &agreed {
            None => agreed = Some((length, tail)),
            Some((l, _)) if *l != length => return Err(DigestError::ConflictingLength),
            Some((_, t)) if *t != tail => return Err(DigestError::ConflictingTail),
            Some(_) => {}
        }
    }
    let (length, tail) = agreed.unwrap_or_default();
    let len = usize::try_from(length)
        .ok()
        .filter(|l| *l <= manifest.len())
        .ok_or(DigestError::LengthTooLarge {
            length,
            content: manifest.len(),
        })?;
    let mut payload = manifest[..len].to_vec();
    payload.extend_from_slice(&tail);
    Ok(payload)
}

fn string_field<'a>(
    index: usize,
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, DigestError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DigestError::BadField {
            index,
            field,
            reason: "is not a string",
        }),
    }
}

/// libtrust's `joseBase64UrlDecode`: drop spaces and newlines, pad, decode.
fn jose_base64url(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let mut s: String = s.chars().filter(|c| *c != '\n' && *c != ' ').collect();
    match s.len() % 4 {
        2 => s.push_str("=="),
        3 => s.push('='),
        _ => {}
    }
    URL_SAFE.decode(s)
}

/// A present `header.jwk` must look like a public key JWK.
///
/// libtrust parses it fully; we check the shape (key type and the members
/// that type requires), which is what decides accept/reject for any JWK a
/// registry actually emits.
fn check_jwk(index: usize, block: &Map<String, Value>) -> Result<(), DigestError> {
    let Some(header) = block.get("header") else {
        return Ok(());
    };
    let Value::Object(header) = header else {
        return Err(DigestError::BadField {
            index,
            field: "header",
            reason: "is not an object",
        });
    };
    let Some(jwk) = header.get("jwk") else {
        return Ok(());
    };
    let fail = |reason| Err(DigestError::Jwk { index, reason });
    let Value::Object(jwk) = jwk else {
        return fail("not an object");
    };
    let has = |k: &str| matches!(jwk.get(k), Some(Value::String(s)) if !s.is_empty());
    match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") if has("crv") && has("x") && has("y") => Ok(()),
        Some("RSA") if has("n") && has("e") => Ok(()),
        Some("EC") | Some("RSA") => fail("missing key parameters"),
        _ => fail("unsupported key type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/containers-image");

    fn fixture(rel: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    #[test]
    fn fixture_digests() {
        // internal/manifest/testdata per the fixture README and §3.1.
        let schema1 = "sha256:7364fea9d84ee548ab67d4c46c6006289800c98de3fbf8c0a97138dfcc23f000";
        let v2 = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
        let cases = [
            ("internal/manifest/testdata/v2s1.manifest.json", schema1),
            (
                "internal/manifest/testdata/v2s1-unsigned.manifest.json",
                schema1,
            ),
            ("internal/manifest/testdata/v2s2.manifest.json", v2),
            ("signature/fixtures/image.manifest.json", v2),
            ("generated/gpg-skopeo-standalone/manifest.json", v2),
        ];
        for (rel, want) in cases {
            assert_eq!(manifest_digest(&fixture(rel)).unwrap(), want, "{rel}");
        }
        for rel in [
            "internal/manifest/testdata/v2list.manifest.json",
            "internal/manifest/testdata/ociv1.image.index.json",
            "internal/manifest/testdata/ociv1.manifest.json",
        ] {
            let bytes = fixture(rel);
            assert_eq!(
                manifest_digest(&bytes).unwrap(),
                sha256_digest(&bytes),
                "{rel}"
            );
        }
        assert_eq!(
            manifest_digest(b"").unwrap(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let raw = fixture("internal/manifest/testdata/v2s1.manifest.json");
        assert!(sha256_digest(&raw).starts_with("sha256:e028c450"));
    }

    #[test]
    fn invalid_schema1_signatures_fail() {
        let bytes = fixture("internal/manifest/testdata/v2s1-invalid-signatures.manifest.json");
        assert!(manifest_digest(&bytes).is_err());
        let also = fixture("signature/fixtures/v2s1-invalid-signatures.manifest.json");
        assert!(manifest_digest(&also).is_err());
    }

    /// Builds a schema1 manifest whose JWS blocks carry the given protected headers.
    fn schema1_with(protected: &[&str]) -> Vec<u8> {
        let blocks: Vec<String> = protected
            .iter()
            .map(|p| {
                format!(
                    r#"{{"protected":"{}","signature":"x"}}"#,
                    URL_SAFE.encode(p).trim_end_matches('=')
                )
            })
            .collect();
        format!(
            r#"{{"schemaVersion":1,"name":"a","signatures":[{}]}}"#,
            blocks.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn schema1_rules() {
        let tail = URL_SAFE.encode("}").trim_end_matches('=').to_string();
        let ok = format!(r#"{{"formatLength":10,"formatTail":"{tail}"}}"#);
        let m = schema1_with(&[&ok, &ok]);
        assert_eq!(
            manifest_digest(&m).unwrap(),
            sha256_digest(&[&m[..10], b"}"].concat())
        );

        let other_len = format!(r#"{{"formatLength":11,"formatTail":"{tail}"}}"#);
        assert!(matches!(
            manifest_digest(&schema1_with(&[&ok, &other_len])),
            Err(DigestError::ConflictingLength)
        ));
        let other_tail = r#"{"formatLength":10,"formatTail":"fQo"}"#;
        assert!(matches!(
            manifest_digest(&schema1_with(&[&ok, other_tail])),
            Err(DigestError::ConflictingTail)
        ));
        let too_long = format!(r#"{{"formatLength":100000,"formatTail":"{tail}"}}"#);
        assert!(matches!(
            manifest_digest(&schema1_with(&[&too_long])),
            Err(DigestError::LengthTooLarge { .. })
        ));
        assert!(manifest_digest(&schema1_with(&["not json"])).is_err());
        // Empty signatures array: empty payload.
        assert_eq!(
            manifest_digest(&schema1_with(&[])).unwrap(),
            sha256_digest(b"")
        );
        // A v2 media type is never schema1, whatever the signatures say.
        let v2 = br#"{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json","signatures":1}"#;
        assert_eq!(manifest_digest(v2).unwrap(), sha256_digest(v2));
        // signatures: null → unsigned schema1, raw bytes.
        let unsigned = br#"{"schemaVersion":1,"signatures":null}"#;
        assert_eq!(manifest_digest(unsigned).unwrap(), sha256_digest(unsigned));
        // Invalid JSON hashes raw.
        assert_eq!(manifest_digest(b"{nope").unwrap(), sha256_digest(b"{nope"));
    }

    #[test]
    fn jwk_shape_is_checked() {
        let tail = URL_SAFE.encode("}").trim_end_matches('=').to_string();
        let protected = URL_SAFE.encode(format!(r#"{{"formatLength":1,"formatTail":"{tail}"}}"#));
        let with_jwk = |jwk: &str| {
            format!(r#"{{"schemaVersion":1,"signatures":[{{"header":{{"jwk":{jwk}}},"protected":"{protected}"}}]}}"#)
                .into_bytes()
        };
        assert!(
            manifest_digest(&with_jwk(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#)).is_ok()
        );
        assert!(manifest_digest(&with_jwk(r#"{"kty":"EC"}"#)).is_err());
        assert!(manifest_digest(&with_jwk(r#""jwk""#)).is_err());
    }
}
