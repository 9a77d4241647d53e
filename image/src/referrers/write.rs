//! Writing a Sigstore bundle as an OCI 1.1 referrer, byte for byte in the
//! layout cosign 3 writes (`pkg/oci/remote/write.go` `WriteReferrer` via
//! go-containerregistry): the empty config `{}`, one bundle layer, the
//! subject, `artifactType` and cosign's annotations, pushed by digest.
//!
//! A registry with a Referrers API indexes the manifest itself and says so
//! with `OCI-Subject` on the PUT. One without it (Debian's distribution
//! 2.8) is given the referrers tag schema instead: the `sha256-<hex>` index
//! is read, the new descriptor appended and everything else kept, so other
//! tools' referrers survive.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;

use super::http::{HttpError, RawClient};
use super::read::{MAX_BUNDLE_BYTES, MAX_DESCRIPTORS, MAX_INDEX_BYTES};
use super::{fallback_tag, EMPTY_CONFIG, EMPTY_MEDIA_TYPE};
use crate::digest::Digest;
use crate::go_json;
use crate::manifest::{Descriptor, OCI_INDEX, OCI_MANIFEST};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};
use crate::sigstore_blob::BUNDLE_V03_MEDIA_TYPE;

/// cosign's `types.CosignSignPredicateType`, the predicate of the in-toto
/// statement `cosign sign` puts in a bundle.
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Annotations cosign sets on a bundle referrer manifest.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Why a bundle could not be written; nothing that points at it was tagged.
#[derive(Debug, thiserror::Error)]
pub enum ReferrersWriteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("setting up the referrers client")]
    Client(#[source] HttpError),
    #[error(
        "the Sigstore bundle is {size} bytes, over the limit of {MAX_BUNDLE_BYTES} readers accept"
    )]
    TooLarge { size: usize },
    #[error("pushing bundle referrer manifest {digest}")]
    Push {
        digest: Digest,
        #[source]
        source: HttpError,
    },
    #[error("pushing {what} to {url}: the registry answered HTTP {status}: {body}")]
    Status {
        what: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("reading the referrers tag {tag}")]
    Fallback {
        tag: String,
        #[source]
        source: HttpError,
    },
    #[error("reading the referrers tag {tag}: the registry answered HTTP {status}")]
    FallbackStatus { tag: String, status: u16 },
    #[error("referrers tag {tag} holds {media_type:?}, not an OCI image index; not rewriting it")]
    FallbackMediaType { tag: String, media_type: String },
    #[error("parsing the referrers index under tag {tag}")]
    FallbackParse {
        tag: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("referrers tag {tag} already lists {MAX_DESCRIPTORS} referrers")]
    FallbackFull { tag: String },
    #[error("pushing the referrers tag {tag}")]
    FallbackPush {
        tag: String,
        #[source]
        source: HttpError,
    },
}

/// A referrer manifest ready to push.
#[derive(Debug, Clone)]
pub struct ReferrerManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub annotations: BTreeMap<String, String>,
}

/// Writes `bundle` (Sigstore bundle JSON) as a referrer of `subject` in
/// `image`'s repository, and returns the referrer manifest's digest. The
/// caller has authenticated `registry` for pushing.
pub async fn push_bundle(
    registry: &Registry,
    image: &ImageRef,
    subject: &Descriptor,
    bundle: &[u8],
) -> Result<Digest, ReferrersWriteError> {
    if bundle.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(ReferrersWriteError::TooLarge { size: bundle.len() });
    }
    let client = RawClient::new(registry, image, true).map_err(ReferrersWriteError::Client)?;
    let empty = Digest::of(EMPTY_CONFIG);
    registry
        .push_blob_bytes(image, &empty, Bytes::from_static(EMPTY_CONFIG))
        .await?;
    let layer = Digest::of(bundle);
    registry
        .push_blob_bytes(image, &layer, Bytes::copy_from_slice(bundle))
        .await?;
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let m = referrer_manifest(subject, bundle, &created);
    let url = client.url(&format!("manifests/{}", m.digest));
    let reply = client
        .put(
            &url,
            OCI_MANIFEST,
            Bytes::from(m.bytes.clone()),
            MAX_INDEX_BYTES,
        )
        .await
        .map_err(|source| ReferrersWriteError::Push {
            digest: m.digest.clone(),
            source,
        })?;
    if !reply.status.is_success() {
        return Err(ReferrersWriteError::Status {
            what: format!("bundle referrer manifest {}", m.digest),
            url,
            status: reply.status.as_u16(),
            body: excerpt(&reply.body),
        });
    }
    // distribution-spec 1.1: a registry that indexes referrers answers
    // OCI-Subject with the subject digest; anything else means the client
    // keeps the tag schema index.
    let indexed = reply
        .header("oci-subject")
        .is_some_and(|s| s.trim() == subject.digest.to_string());
    if !indexed {
        append_to_fallback(&client, &subject.digest, &m).await?;
    }
    Ok(m.digest)
}

/// Appends `m` to the `sha256-<hex>` index of `subject` (creating it).
async fn append_to_fallback(
    client: &RawClient,
    subject: &Digest,
    m: &ReferrerManifest,
) -> Result<(), ReferrersWriteError> {
    let tag = fallback_tag(subject);
    let url = client.url(&format!("manifests/{tag}"));
    let reply = client
        .get(&url, OCI_INDEX, MAX_INDEX_BYTES)
        .await
        .map_err(|source| ReferrersWriteError::Fallback {
            tag: tag.clone(),
            source,
        })?;
    let existing = match reply.status.as_u16() {
        404 => None,
        _ if reply.status.is_success() => {
            let ct = reply.header("content-type").unwrap_or_default();
            let ct = ct.split(';').next().unwrap_or(ct).trim().to_string();
            if ct != OCI_INDEX {
                return Err(ReferrersWriteError::FallbackMediaType {
                    tag,
                    media_type: ct,
                });
            }
            Some(reply.body)
        }
        status => return Err(ReferrersWriteError::FallbackStatus { tag, status }),
    };
    let Some(index) = merge_index(existing.as_deref(), m, &tag)? else {
        return Ok(());
    };
    let reply = client
        .put(&url, OCI_INDEX, Bytes::from(index), MAX_INDEX_BYTES)
        .await
        .map_err(|source| ReferrersWriteError::FallbackPush {
            tag: tag.clone(),
            source,
        })?;
    if !reply.status.is_success() {
        return Err(ReferrersWriteError::Status {
            what: format!("referrers tag {tag}"),
            url,
            status: reply.status.as_u16(),
            body: excerpt(&reply.body),
        });
    }
    Ok(())
}

/// The fallback index with `m`'s descriptor appended, every other entry and
/// field kept as read; `None` when `m` is already listed (nothing to push).
pub fn merge_index(
    existing: Option<&[u8]>,
    m: &ReferrerManifest,
    tag: &str,
) -> Result<Option<Vec<u8>>, ReferrersWriteError> {
    let mut index: serde_json::Map<String, serde_json::Value> = match existing {
        None => serde_json::Map::new(),
        Some(b) => {
            serde_json::from_slice(b).map_err(|source| ReferrersWriteError::FallbackParse {
                tag: tag.to_string(),
                source,
            })?
        }
    };
    if let Some(mt) = index.get("mediaType").and_then(|v| v.as_str()) {
        if mt != OCI_INDEX {
            return Err(ReferrersWriteError::FallbackMediaType {
                tag: tag.to_string(),
                media_type: mt.to_string(),
            });
        }
    }
    index
        .entry("schemaVersion")
        .or_insert_with(|| serde_json::Value::from(2));
    index
        .entry("mediaType")
        .or_insert_with(|| serde_json::Value::from(OCI_INDEX));
    let manifests = index
        .entry("manifests")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    // Go writes a nil slice as null.
    if manifests.is_null() {
        *manifests = serde_json::Value::Array(Vec::new());
    }
    let Some(list) = manifests.as_array_mut() else {
        return Err(ReferrersWriteError::FallbackParse {
            tag: tag.to_string(),
            source: serde::de::Error::custom("\"manifests\" is not an array"),
        });
    };
    let digest = m.digest.to_string();
    if list
        .iter()
        .any(|e| e.get("digest").and_then(|d| d.as_str()) == Some(digest.as_str()))
    {
        return Ok(None);
    }
    if list.len() >= MAX_DESCRIPTORS {
        return Err(ReferrersWriteError::FallbackFull {
            tag: tag.to_string(),
        });
    }
    list.push(serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": m.bytes.len(),
        "artifactType": BUNDLE_V03_MEDIA_TYPE,
        "annotations": m.annotations,
    }));
    Ok(Some(serde_json::to_vec(&index).unwrap_or_default()))
}

/// The referrer manifest for `bundle`, as go-containerregistry marshals
/// cosign's `referrerManifest`: `v1.Manifest` fields in their order
/// (descriptors as mediaType, size, digest, …, artifactType), then the
/// added `artifactType`; map keys sorted, Go string escaping. The config
/// descriptor carries `artifactType` too, as cosign sets it there.
pub fn referrer_manifest(subject: &Descriptor, bundle: &[u8], created: &str) -> ReferrerManifest {
    let (content, predicate) = bundle_content(bundle);
    let annotations = BTreeMap::from([
        (CONTENT_ANNOTATION.to_string(), content.to_string()),
        (PREDICATE_TYPE_ANNOTATION.to_string(), predicate),
        (CREATED_ANNOTATION.to_string(), created.to_string()),
    ]);
    let s = go_json::string;
    let mut out = String::new();
    out.push_str(&format!(
        "{{\"schemaVersion\":2,\"mediaType\":{},\"config\":{{\"mediaType\":{},\"size\":{},\"digest\":{},\"artifactType\":{}}}",
        s(OCI_MANIFEST),
        s(EMPTY_MEDIA_TYPE),
        EMPTY_CONFIG.len(),
        s(&Digest::of(EMPTY_CONFIG).to_string()),
        s(BUNDLE_V03_MEDIA_TYPE),
    ));
    out.push_str(&format!(
        ",\"layers\":[{{\"mediaType\":{},\"size\":{},\"digest\":{}}}]",
        s(BUNDLE_V03_MEDIA_TYPE),
        bundle.len(),
        s(&Digest::of(bundle).to_string()),
    ));
    out.push_str(",\"annotations\":{");
    let pairs: Vec<String> = annotations
        .iter()
        .map(|(k, v)| format!("{}:{}", s(k), s(v)))
        .collect();
    out.push_str(&pairs.join(","));
    out.push('}');
    out.push_str(&format!(
        ",\"subject\":{{\"mediaType\":{},\"size\":{},\"digest\":{}}}",
        s(&subject.media_type),
        subject.size,
        s(&subject.digest.to_string()),
    ));
    out.push_str(&format!(",\"artifactType\":{}}}", s(BUNDLE_V03_MEDIA_TYPE)));
    let bytes = out.into_bytes();
    ReferrerManifest {
        digest: Digest::of(&bytes),
        bytes,
        annotations,
    }
}

/// What the bundle holds, for cosign's annotations: `dsse-envelope` and the
/// in-toto statement's predicate type (what cosign writes), or
/// `message-signature` for a bundle over a digest alone. Unreadable parts
/// fall back to cosign's `sign` predicate; the verifier judges the bundle,
/// not these hints.
fn bundle_content(bundle: &[u8]) -> (&'static str, String) {
    use base64::Engine;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shape {
        dsse_envelope: Option<Envelope>,
        message_signature: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Envelope {
        payload: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Statement {
        predicate_type: Option<String>,
    }
    let default = || COSIGN_SIGN_PREDICATE_TYPE.to_string();
    match serde_json::from_slice::<Shape>(bundle) {
        Ok(Shape {
            dsse_envelope: Some(env),
            ..
        }) => {
            let predicate = env
                .payload
                .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
                .and_then(|p| serde_json::from_slice::<Statement>(&p).ok())
                .and_then(|st| st.predicate_type)
                .unwrap_or_else(default);
            ("dsse-envelope", predicate)
        }
        Ok(Shape {
            message_signature: Some(_),
            ..
        }) => ("message-signature", default()),
        _ => ("dsse-envelope", default()),
    }
}

/// The start of an error reply, on one line, for the message.
fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn subject() -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::of(b"image"),
            size: 5,
            platform: None,
            annotations: None,
        }
    }

    fn dsse_bundle(predicate: &str) -> Vec<u8> {
        let stmt = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","predicateType":"{predicate}"}}"#
        );
        let payload = base64::engine::general_purpose::STANDARD.encode(stmt);
        format!(r#"{{"mediaType":"{BUNDLE_V03_MEDIA_TYPE}","dsseEnvelope":{{"payload":"{payload}","payloadType":"application/vnd.in-toto+json","signatures":[]}}}}"#).into_bytes()
    }

    #[test]
    fn manifest_is_cosigns_layout() {
        let b = dsse_bundle(COSIGN_SIGN_PREDICATE_TYPE);
        let m = referrer_manifest(&subject(), &b, "2026-12-02T15:00:00Z");
        let want = format!(
            concat!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"{bt}"}},"#,
                r#""layers":[{{"mediaType":"{bt}","size":{n},"digest":"{ld}"}}],"#,
                r#""annotations":{{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-12-02T15:00:00Z"}},"#,
                r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":5,"digest":"{sd}"}},"#,
                r#""artifactType":"{bt}"}}"#
            ),
            bt = BUNDLE_V03_MEDIA_TYPE,
            n = b.len(),
            ld = Digest::of(&b),
            sd = Digest::of(b"image"),
        );
        assert_eq!(String::from_utf8(m.bytes.clone()).unwrap(), want);
        assert_eq!(m.digest, Digest::of(want.as_bytes()));
        // What the reader accepts, it accepts from here.
        let layer =
            super::super::read::check_referrer(&m.digest, None, &m.bytes, &subject().digest)
                .unwrap();
        assert_eq!(layer.digest, Digest::of(&b));
    }

    #[test]
    fn annotations_follow_the_bundle() {
        let (c, p) = bundle_content(&dsse_bundle("https://slsa.dev/provenance/v1"));
        assert_eq!(
            (c, p.as_str()),
            ("dsse-envelope", "https://slsa.dev/provenance/v1")
        );
        let (c, p) = bundle_content(br#"{"messageSignature":{"signature":"x"}}"#);
        assert_eq!(
            (c, p.as_str()),
            ("message-signature", COSIGN_SIGN_PREDICATE_TYPE)
        );
    }

    #[test]
    fn merging_keeps_other_referrers_and_fields() {
        let m = referrer_manifest(&subject(), &dsse_bundle("p"), "t");
        let first = merge_index(None, &m, "tag").unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["mediaType"], OCI_INDEX);
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["manifests"][0]["digest"], m.digest.to_string());
        assert_eq!(v["manifests"][0]["artifactType"], BUNDLE_V03_MEDIA_TYPE);
        assert_eq!(v["manifests"][0]["size"], m.bytes.len());
        assert_eq!(v["manifests"][0]["annotations"][CREATED_ANNOTATION], "t");
        // Already listed: nothing to push.
        assert!(merge_index(Some(&first), &m, "tag").unwrap().is_none());
        let sbom = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
            "annotations": {"x": "y"},
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", "a".repeat(64)),
                           "size": 9, "artifactType": "application/spdx+json", "extra": true}]});
        let merged = merge_index(Some(sbom.to_string().as_bytes()), &m, "tag")
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(v["manifests"][0], sbom["manifests"][0]);
        assert_eq!(v["annotations"]["x"], "y");
        assert_eq!(v["manifests"][1]["digest"], m.digest.to_string());
    }

    #[test]
    fn merging_refuses_what_is_not_an_index() {
        let m = referrer_manifest(&subject(), b"{}", "t");
        let e = merge_index(
            Some(br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#),
            &m,
            "sha256-x",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("referrers tag sha256-x holds"),
            "{e}"
        );
        let e = merge_index(Some(br#"{"manifests":3}"#), &m, "sha256-x").unwrap_err();
        assert!(matches!(e, ReferrersWriteError::FallbackParse { .. }));
        let e = merge_index(Some(b"nope"), &m, "sha256-x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parsing the referrers index under tag sha256-x"
        );
    }
}
