//! The sigstore payload as a *claim*: parsed strictly, believed only after
//! the signature over it verified.
//!
//! containers/image `signature/internal/sigstore_payload.go`
//! (`UntrustedSigstorePayload`): the simple-signing shape with the type
//! `cosign container image signature`, exactly `critical`/`optional` at the
//! top, exactly `type`/`image`/`identity` in `critical`, and — because
//! `/usr/bin/cosign` writes it — `"optional": null` allowed. The walk order
//! and the messages are the simple-signing parser's, which it shares.

use crate::docker_ref::validate_digest;
use crate::json::{parse_document, JsonErrorKind, JsonPath, Located, Obj, Value};
use crate::untrusted::{parse_optional, PayloadError, PayloadErrorKind};

/// The `critical.type` of every sigstore payload.
pub const SIGSTORE_SIGNATURE_TYPE: &str = "cosign container image signature";

/// A parsed payload whose claims are not yet accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UntrustedSigstorePayload {
    pub untrusted_docker_manifest_digest: String,
    pub untrusted_docker_reference: String,
    pub untrusted_creator: Option<String>,
    pub untrusted_timestamp: Option<i64>,
}

impl UntrustedSigstorePayload {
    /// Parses payload bytes. Callers have verified the signature over them.
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        let json = |e: Located<JsonErrorKind>| e.map(PayloadErrorKind::Json);
        let doc = parse_document(bytes).map_err(json)?;
        let top =
            Obj::new(&doc, JsonPath::root(), Some(&["critical", "optional"])).map_err(json)?;
        let critical = top.require("critical").map_err(json)?;
        let optional = top.require("optional").map_err(json)?;

        let (untrusted_creator, untrusted_timestamp) = match optional.value.value {
            Value::Null => (None, None),
            _ => parse_optional(&optional)?,
        };

        let critical = critical
            .object(Some(&["type", "image", "identity"]))
            .map_err(json)?;
        let kind = critical.require("type").map_err(json)?;
        let image = critical.require("image").map_err(json)?;
        let identity = critical.require("identity").map_err(json)?;
        let kind_value = kind.go_string().map_err(json)?;
        if kind_value != SIGSTORE_SIGNATURE_TYPE {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value as J};

    const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn valid() -> J {
        json!({
            "critical": {
                "identity": {"docker-reference": "reference#@!"},
                "image": {"docker-manifest-digest": DIGEST},
                "type": SIGSTORE_SIGNATURE_TYPE,
            },
            "optional": {"creator": "CREATOR", "timestamp": 1484683104},
        })
    }

    fn parse(v: &J) -> Result<UntrustedSigstorePayload, PayloadError> {
        UntrustedSigstorePayload::parse(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn parses_valid_and_cosign_payloads() {
        let p = parse(&valid()).unwrap();
        assert_eq!(p.untrusted_docker_manifest_digest, DIGEST);
        assert_eq!(p.untrusted_docker_reference, "reference#@!");
        assert_eq!(p.untrusted_creator.as_deref(), Some("CREATOR"));
        assert_eq!(p.untrusted_timestamp, Some(1484683104));

        // What /usr/bin/cosign writes: "optional": null.
        let cosign = br#"{"critical":{"identity":{"docker-reference":"192.168.64.2:5000/cosign-signed-multi"},"image":{"docker-manifest-digest":"sha256:43955d6857268cc948ae9b370b221091057de83c4962da0826f9a2bdc9bd6b44"},"type":"cosign container image signature"},"optional":null}"#;
        let p = UntrustedSigstorePayload::parse(cosign).unwrap();
        assert_eq!(
            p.untrusted_docker_reference,
            "192.168.64.2:5000/cosign-signed-multi"
        );
        assert_eq!((p.untrusted_creator, p.untrusted_timestamp), (None, None));

        // Unknown optional members are ignored; optional fields may be missing.
        let mut v = valid();
        v["optional"]["unexpected"] = json!(1);
        assert!(parse(&v).is_ok());
        v["optional"] = json!({});
        assert_eq!(parse(&v).unwrap().untrusted_creator, None);
    }

    #[test]
    fn refuses_every_upstream_breakage() {
        assert!(UntrustedSigstorePayload::parse(b"&").is_err());
        assert!(UntrustedSigstorePayload::parse(b"1").is_err());
        type Break = fn(&mut J);
        let breaks: [(Break, &str); 23] = [
            (
                |v| drop(v.as_object_mut().unwrap().remove("critical")),
                "Key \"critical\" missing",
            ),
            (
                |v| drop(v.as_object_mut().unwrap().remove("optional")),
                "Key \"optional\" missing",
            ),
            (|v| v["unexpected"] = json!(1), "Unknown key \"unexpected\""),
            (|v| v["critical"] = json!(1), "JSON object expected, got 1"),
            (|v| v["optional"] = json!(1), "JSON object expected, got 1"),
            (
                |v| drop(v["critical"].as_object_mut().unwrap().remove("type")),
                "Key \"type\" missing",
            ),
            (
                |v| drop(v["critical"].as_object_mut().unwrap().remove("image")),
                "Key \"image\" missing",
            ),
            (
                |v| drop(v["critical"].as_object_mut().unwrap().remove("identity")),
                "Key \"identity\" missing",
            ),
            (
                |v| v["critical"]["unexpected"] = json!(1),
                "Unknown key \"unexpected\"",
            ),
            (
                |v| v["critical"]["type"] = json!(1),
                "cannot unmarshal number",
            ),
            (
                |v| v["critical"]["type"] = json!("unexpected"),
                "Unrecognized signature type unexpected",
            ),
            (
                |v| v["critical"]["image"] = json!(1),
                "JSON object expected",
            ),
            (
                |v| {
                    drop(
                        v["critical"]["image"]
                            .as_object_mut()
                            .unwrap()
                            .remove("docker-manifest-digest"),
                    )
                },
                "Key \"docker-manifest-digest\" missing",
            ),
            (
                |v| v["critical"]["image"]["unexpected"] = json!(1),
                "Unknown key",
            ),
            (
                |v| v["critical"]["image"]["docker-manifest-digest"] = json!(1),
                "cannot unmarshal number",
            ),
            (
                |v| v["critical"]["image"]["docker-manifest-digest"] = json!("sha256:../.."),
                "invalid docker-manifest-digest value",
            ),
            (
                |v| v["critical"]["identity"] = json!(1),
                "JSON object expected",
            ),
            (
                |v| {
                    drop(
                        v["critical"]["identity"]
                            .as_object_mut()
                            .unwrap()
                            .remove("docker-reference"),
                    )
                },
                "Key \"docker-reference\" missing",
            ),
            (
                |v| v["critical"]["identity"]["unexpected"] = json!(1),
                "Unknown key",
            ),
            (
                |v| v["critical"]["identity"]["docker-reference"] = json!(1),
                "cannot unmarshal number",
            ),
            (
                |v| v["optional"]["creator"] = json!(1),
                "cannot unmarshal number",
            ),
            (
                |v| v["optional"]["timestamp"] = json!("unexpected"),
                "cannot unmarshal string",
            ),
            (
                |v| v["optional"]["timestamp"] = json!(0.5),
                "Field optional.timestamp is not an integer",
            ),
        ];
        for (i, (f, want)) in breaks.iter().enumerate() {
            let mut v = valid();
            f(&mut v);
            let err = parse(&v).expect_err(&format!("case {i}")).to_string();
            assert!(err.contains(want), "case {i}: {err}");
        }
    }
}
