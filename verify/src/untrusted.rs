//! The signature payload as a *claim*: parsed strictly, not yet believed.
//!
//! Parsing happens only on bytes the OpenPGP layer verified
//! ([`VerifiedBlob`]); the fields keep their `untrusted_` names until
//! `signature::accept` has checked key, digest and identity
//! (containers/image `signature/simple.go` `untrustedSignature`; rules in
//! docs/trust-formats.md §1.3, keep in sync). The walk order — top level,
//! `optional`, then `critical` and its members — is upstream's, so the first
//! error reported is the same one.

use crate::docker_ref::{validate_digest, DigestFormatError};
use crate::json::{parse_document, At, JsonErrorKind, JsonPath, Located, Obj, Value};
use crate::mechanism::VerifiedBlob;

/// The `critical.type` every simple signature carries.
pub const SIGNATURE_TYPE: &str = "atomic container signature";

/// A parsed payload whose claims are not yet accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedSimpleSigning {
    pub untrusted_docker_manifest_digest: String,
    pub untrusted_docker_reference: String,
    pub untrusted_creator: Option<String>,
    pub untrusted_timestamp: Option<i64>,
}

/// Why a payload was refused; upstream's wording (an `InvalidSignatureError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadErrorKind {
    #[error(transparent)]
    Json(JsonErrorKind),
    #[error("Unrecognized signature type {0}")]
    UnknownType(String),
    #[error("invalid docker-manifest-digest value {value:?}: {reason}")]
    BadDigest {
        value: String,
        reason: DigestFormatError,
    },
    #[error("Field optional.timestamp is not an integer")]
    NotInteger,
}

pub type PayloadError = Located<PayloadErrorKind>;

impl UntrustedSimpleSigning {
    /// Parses the payload of a verified message.
    pub fn from_verified(blob: &VerifiedBlob) -> Result<Self, PayloadError> {
        Self::parse(blob.payload())
    }

    /// Parses payload bytes (§1.3). Only `from_verified` and the explicitly
    /// untrusted dump call this.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let json = |e: Located<JsonErrorKind>| e.map(PayloadErrorKind::Json);
        let doc = parse_document(bytes).map_err(json)?;
        let top =
            Obj::new(&doc, JsonPath::root(), Some(&["critical", "optional"])).map_err(json)?;
        let critical = top.require("critical").map_err(json)?;
        let optional = top.require("optional").map_err(json)?;

        let (untrusted_creator, untrusted_timestamp) = parse_optional(&optional)?;

        let critical = critical
            .object(Some(&["type", "image", "identity"]))
            .map_err(json)?;
        let kind = critical.require("type").map_err(json)?;
        let image = critical.require("image").map_err(json)?;
        let identity = critical.require("identity").map_err(json)?;
        let kind_value = kind.go_string().map_err(json)?;
        if kind_value != SIGNATURE_TYPE {
            return Err(kind.error(PayloadErrorKind::UnknownType(kind_value)));
        }

        let image = image
            .object(Some(&["docker-manifest-digest"]))
            .map_err(json)?;
        let digest = image.require("docker-manifest-digest").map_err(json)?;
        let digest_value = digest.go_string().map_err(json)?;
        validate_digest(&digest_value).map_err(|reason| {
            digest.error(PayloadErrorKind::BadDigest {
                value: digest_value.clone(),
                reason,
            })
        })?;

        let identity = identity.object(Some(&["docker-reference"])).map_err(json)?;
        let reference = identity
            .require("docker-reference")
            .map_err(json)?
            .go_string()
            .map_err(json)?;

        Ok(Self {
            untrusted_docker_manifest_digest: digest_value,
            untrusted_docker_reference: reference,
            untrusted_creator,
            untrusted_timestamp,
        })
    }
}

/// `optional`: any members; `creator` a string, `timestamp` an integral number.
pub(crate) fn parse_optional(
    optional: &At<'_>,
) -> Result<(Option<String>, Option<i64>), PayloadError> {
    let json = |e: Located<JsonErrorKind>| e.map(PayloadErrorKind::Json);
    let obj = optional.object(None).map_err(json)?;
    let creator = obj
        .get("creator")
        .map(|c| c.go_string())
        .transpose()
        .map_err(json)?;
    let timestamp = match obj.get("timestamp") {
        None => None,
        Some(t) => Some(match &t.value.value {
            Value::Null => 0,
            Value::Number(text) => {
                let f: f64 = text
                    .parse()
                    .map_err(|_| t.error(PayloadErrorKind::NotInteger))?;
                // Go: int64(f) must convert back to f exactly.
                if f.fract() != 0.0
                    || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                {
                    return Err(t.error(PayloadErrorKind::NotInteger));
                }
                f as i64
            }
            other => {
                return Err(t.error(PayloadErrorKind::Json(JsonErrorKind::Type {
                    got: other.kind(),
                    expected: "float64",
                })))
            }
        }),
    };
    Ok((creator, timestamp))
}

/// The fields of a signature read **without verifying it** (skopeo's hidden
/// `untrusted-signature-dump-without-verification`, §2.7). Never use these
/// to make a trust decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedDump {
    pub contents: UntrustedSimpleSigning,
    /// The issuer key ID, 16 upper-case hex digits.
    pub untrusted_short_key_identifier: String,
}
