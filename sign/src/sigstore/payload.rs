//! The sigstore payload containers/image signs: the simple-signing document
//! with `critical.type` "cosign container image signature", the same
//! creator/timestamp fields and the same Go byte layout
//! (`signature/internal/sigstore_payload.go`).

use crate::payload::{Payload, PayloadError};

/// `critical.type` of a cosign/sigstore payload.
pub const SIGSTORE_SIGNATURE_TYPE: &str = "cosign container image signature";

/// The payload bytes for "`manifest_digest` is `docker_reference`", now,
/// with vouch's creator.
pub fn sigstore_payload(
    manifest_digest: &str,
    docker_reference: &str,
) -> Result<Vec<u8>, PayloadError> {
    Payload::new(manifest_digest, docker_reference).to_bytes_typed(SIGSTORE_SIGNATURE_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_upstream_layout() {
        // The identity and digest of upstream's fixture valid.signature (cosign
        // wrote `"optional":null` there; containers/image writes an object).
        let digest = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";
        let p = Payload {
            manifest_digest: digest.into(),
            docker_reference: "192.168.64.2:5000/cosign-signed-single-sample".into(),
            creator: None,
            timestamp: None,
        };
        let got = String::from_utf8(p.to_bytes_typed(SIGSTORE_SIGNATURE_TYPE).unwrap()).unwrap();
        assert_eq!(
            got,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"192.168.64.2:5000/cosign-signed-single-sample"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":{{}}}}"#
            )
        );
        let now = String::from_utf8(sigstore_payload(digest, "example.com/a:b").unwrap()).unwrap();
        assert!(now.contains(r#""optional":{"creator":"vouch "#), "{now}");
        assert!(now.contains(r#","timestamp":"#), "{now}");
    }
}
