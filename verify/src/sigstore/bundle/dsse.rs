//! DSSE envelopes and the in-toto statement they carry.
//!
//! The signature covers the pre-authentication encoding (DSSE v1 spec,
//! "Protocol"): `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with
//! lengths in ASCII decimal — a small exact encoding, written by hand.

use serde::Deserialize;

/// The only payload type a signature statement may have.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement `_type`s (v1, and v0.1 which sigstore still verifies).
pub const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];
/// What cosign 3 signs an image with (`pkg/types/predicate.go` `CosignSignPredicateType`).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// DSSE's PAE.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// Why a statement is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("DSSE payloadType {0:?} is not {IN_TOTO_PAYLOAD_TYPE}")]
    PayloadType(String),
    #[error("parsing in-toto statement: {0}")]
    Json(String),
    #[error("in-toto statement _type {0:?} is not an in-toto Statement")]
    Type(String),
    #[error("in-toto statement predicateType {0:?} is not {COSIGN_SIGN_PREDICATE}")]
    PredicateType(String),
    #[error("in-toto statement has no subject with sha256 digest {0}")]
    NoSubject(String),
}

/// A statement subject: its name and its digests (algorithm → lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub digest: std::collections::BTreeMap<String, String>,
}

/// The parts of an in-toto statement that are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    #[serde(rename = "_type", default)]
    kind: String,
    #[serde(default, alias = "predicate_type")]
    predicate_type: String,
    #[serde(default)]
    subject: Vec<Subject>,
}

/// Parses a verified payload of `payload_type` as an in-toto statement.
pub fn statement(payload_type: &str, payload: &[u8]) -> Result<Statement, StatementError> {
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(StatementError::PayloadType(payload_type.to_string()));
    }
    let raw: RawStatement =
        serde_json::from_slice(payload).map_err(|e| StatementError::Json(e.to_string()))?;
    if !STATEMENT_TYPES.contains(&raw.kind.as_str()) {
        return Err(StatementError::Type(raw.kind));
    }
    Ok(Statement {
        predicate_type: raw.predicate_type,
        subjects: raw.subject,
    })
}

impl Statement {
    /// The subject whose sha256 is `hex_digest` (lowercase hex, no prefix).
    pub fn subject_for(&self, hex_digest: &str) -> Result<&Subject, StatementError> {
        self.subjects
            .iter()
            .find(|s| {
                s.digest
                    .get("sha256")
                    .is_some_and(|d| d.eq_ignore_ascii_case(hex_digest))
            })
            .ok_or_else(|| StatementError::NoSubject(hex_digest.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // DSSE protocol.md test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn statement_checks_type_and_subject() {
        let body = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{},"extra":1}"#;
        let s = statement(IN_TOTO_PAYLOAD_TYPE, body).unwrap();
        assert_eq!(s.predicate_type, COSIGN_SIGN_PREDICATE);
        assert_eq!(s.subject_for("ab").unwrap().name, "");
        assert_eq!(
            s.subject_for("cd").unwrap_err().to_string(),
            "in-toto statement has no subject with sha256 digest cd"
        );
        assert_eq!(
            statement("text/plain", body).unwrap_err().to_string(),
            "DSSE payloadType \"text/plain\" is not application/vnd.in-toto+json"
        );
        let other = br#"{"_type":"https://example.com/x","subject":[]}"#;
        assert_eq!(
            statement(IN_TOTO_PAYLOAD_TYPE, other).unwrap_err(),
            StatementError::Type("https://example.com/x".into())
        );
    }
}
