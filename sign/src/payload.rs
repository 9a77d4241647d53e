//! The simple-signing payload ("atomic container signature") as a signer writes it.
//!
//! containers/image marshals a Go map, so the bytes are fixed: keys sorted at
//! every level, no whitespace, Go's string escaping, no trailing newline
//! (`signature/simple.go`, spec docs/trust-formats.md §1.1). Verifiers hash
//! nothing here — they parse — but byte-exact output keeps our signatures
//! indistinguishable from skopeo's and lets golden tests compare bytes.
//! Keep in sync with docs/trust-formats.md §1.1.

use std::time::{SystemTime, UNIX_EPOCH};
use vouch_image::go_json::push_string as push_go_string;

/// The `optional.creator` vouch writes.
///
/// Verifiers only require `creator` to be a JSON string when present
/// (§1.3 rule 4: nothing compares it), so there is no reason to pose as
/// `atomic 5.23.1`; naming the real producer helps whoever debugs a signature.
pub const CREATOR: &str = concat!("vouch ", env!("CARGO_PKG_VERSION"));

/// `critical.type` of a simple-signing payload.
const SIMPLE_SIGNING_TYPE: &str = "atomic container signature";

/// What a signature asserts: "the manifest with this digest is this image".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// `critical.image.docker-manifest-digest`, e.g. `sha256:<64 hex>`.
    pub manifest_digest: String,
    /// `critical.identity.docker-reference`, written verbatim (§1.2).
    pub docker_reference: String,
    /// `optional.creator`; omitted when `None`.
    pub creator: Option<String>,
    /// `optional.timestamp` in seconds since the epoch; omitted when `None`.
    pub timestamp: Option<i64>,
}

/// Why a payload cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// containers/image refuses to sign an empty digest or reference; so do we
    /// (same message as `signature/simple.go`).
    #[error("Unexpected empty signature content (manifest digest {manifest_digest:?}, docker reference {docker_reference:?})")]
    EmptyContent {
        manifest_digest: String,
        docker_reference: String,
    },
}

impl Payload {
    /// A payload as vouch signs it: our creator string and the current time.
    pub fn new(manifest_digest: &str, docker_reference: &str) -> Self {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self {
            manifest_digest: manifest_digest.to_string(),
            docker_reference: docker_reference.to_string(),
            creator: Some(CREATOR.to_string()),
            timestamp: Some(timestamp),
        }
    }

    /// Serialises exactly as containers/image does (§1.1).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PayloadError> {
        self.to_bytes_typed(SIMPLE_SIGNING_TYPE)
    }

    /// The same document with another `critical.type`: a sigstore payload
    /// differs from a simple-signing one only there
    /// (`signature/internal/sigstore_payload.go`).
    pub(crate) fn to_bytes_typed(&self, signature_type: &str) -> Result<Vec<u8>, PayloadError> {
        if self.manifest_digest.is_empty() || self.docker_reference.is_empty() {
            return Err(PayloadError::EmptyContent {
                manifest_digest: self.manifest_digest.clone(),
                docker_reference: self.docker_reference.clone(),
            });
        }
        let mut out = String::with_capacity(300);
        out.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
        push_go_string(&mut out, &self.docker_reference);
        out.push_str(r#"},"image":{"docker-manifest-digest":"#);
        push_go_string(&mut out, &self.manifest_digest);
        out.push_str(r#"},"type":"#);
        push_go_string(&mut out, signature_type);
        out.push_str(r#"},"optional":{"#);
        if let Some(creator) = &self.creator {
            out.push_str(r#""creator":"#);
            push_go_string(&mut out, creator);
            if self.timestamp.is_some() {
                out.push(',');
            }
        }
        if let Some(ts) = self.timestamp {
            out.push_str(r#""timestamp":"#);
            out.push_str(&ts.to_string());
        }
        out.push_str("}}");
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/containers-image");

    fn payload(digest: &str, reference: &str, creator: Option<&str>, ts: Option<i64>) -> Payload {
        Payload {
            manifest_digest: digest.into(),
            docker_reference: reference.into(),
            creator: creator.map(Into::into),
            timestamp: ts,
        }
    }

    #[test]
    fn matches_upstream_marshal_cases() {
        // §8.1 #23 and #24 (signature/simple_test.go TestMarshalJSON).
        let digest = format!("sha256:{}", "a".repeat(64));
        let full = payload(&digest, "reference#@!", Some("CREATOR"), Some(1484683104));
        let want = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"reference#@!"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature"}},"optional":{{"creator":"CREATOR","timestamp":1484683104}}}}"#
        );
        assert_eq!(String::from_utf8(full.to_bytes().unwrap()).unwrap(), want);

        let bare = payload(&digest, "reference#@!", None, None);
        let want = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"reference#@!"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature"}},"optional":{{}}}}"#
        );
        assert_eq!(String::from_utf8(bare.to_bytes().unwrap()).unwrap(), want);

        let only_ts = payload(&digest, "r", None, Some(5));
        assert!(String::from_utf8(only_ts.to_bytes().unwrap())
            .unwrap()
            .ends_with(r#""optional":{"timestamp":5}}"#));
    }

    #[test]
    fn reproduces_skopeo_payload_bytes() {
        // generated/gpg-skopeo-standalone/payload.json came out of skopeo 1.9.3.
        let want = std::fs::read(format!(
            "{FIXTURES}/generated/gpg-skopeo-standalone/payload.json"
        ))
        .unwrap();
        let p = payload(
            "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55",
            "docker.io/library/busybox:latest",
            Some("atomic 5.23.1"),
            Some(1795908251),
        );
        assert_eq!(p.to_bytes().unwrap(), want);
    }

    #[test]
    fn refuses_empty_content() {
        // §8.1 #25.
        for (d, r) in [("", "busybox:latest"), ("sha256:aa", "")] {
            let err = payload(d, r, None, None).to_bytes().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("Unexpected empty signature content"),
                "{err}"
            );
        }
    }

    #[test]
    fn escapes_like_go() {
        let cases = [
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("\n\r\t", r#""\n\r\t""#),
            ("\u{1}\u{8}\u{c}\u{1f}", r#""\u0001\u0008\u000c\u001f""#),
            ("<>&", r#""\u003c\u003e\u0026""#),
            ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
            ("é€\u{7f}", "\"é€\u{7f}\""),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            push_go_string(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn default_creator_names_vouch() {
        let p = Payload::new("sha256:x", "docker.io/library/busybox:latest");
        assert_eq!(p.creator.as_deref(), Some(CREATOR));
        assert!(CREATOR.starts_with("vouch "));
        assert!(p.timestamp.unwrap() > 1_700_000_000);
    }
}
