//! Appending sigstore signatures to the `sha256-<hex>.sig` attachment of a
//! manifest, byte for byte as containers/image does
//! (`docker/docker_image_dest.go` `putSignaturesToSigstoreAttachments`).
//!
//! The attachment is a shared, append-only record: other signers (skopeo,
//! cosign, an earlier vouch push) may already have written to it, so the
//! existing manifest and config are read back and every layer is kept. A
//! signature identical to one already attached (same media type, payload and
//! annotations) is not added twice, so pushing the same signature again is
//! idempotent. The JSON is written in Go's field order and escaping, so a
//! tool that re-serialises what it read sees no change.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::attachment_tag;
use crate::digest::{Digest, DigestError};
use crate::manifest::{Descriptor, MAX_CONFIG_BYTES, OCI_CONFIG, OCI_MANIFEST};
use crate::reference::ImageRef;
use crate::registry::{Registry, RegistryError};
use crate::sigstore_blob::SigstoreComponents;

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The attachment tag written (`sha256-<hex>.sig`).
    pub tag: String,
    /// Signatures uploaded as new layers.
    pub added: usize,
    /// Signatures that were already attached and were left alone.
    pub already_present: usize,
    /// Layers the attachment holds now.
    pub layers: usize,
}

/// Why the attachment could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum AttachWriteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// containers/image's wording: an attachment tag that holds anything but
    /// an OCI image manifest is not ours to rewrite.
    #[error("unexpected MIME type for sigstore attachment manifest {reference}: {media_type:?}")]
    MediaType {
        reference: String,
        media_type: String,
    },
    #[error("parsing manifest {reference}")]
    Manifest {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{reference}: sigstore attachment config digest {digest:?}")]
    ConfigDigest {
        reference: String,
        digest: String,
        #[source]
        source: DigestError,
    },
    #[error("parsing sigstore attachment config {digest} in {reference}")]
    Config {
        reference: String,
        digest: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{reference}: sigstore attachment config has a negative size {size}")]
    ConfigSize { reference: String, size: i64 },
}

/// Appends `signatures` for the manifest `manifest_digest` in `image`'s
/// repository. The caller has authenticated `registry` for pushing.
pub async fn append_signatures(
    registry: &Registry,
    image: &ImageRef,
    manifest_digest: &Digest,
    signatures: &[SigstoreComponents],
) -> Result<Appended, AttachWriteError> {
    let tag = attachment_tag(manifest_digest);
    let sig_ref = image.with_tag(&tag);
    let reference = sig_ref.to_string();
    let existing = match registry.fetch_manifest(&sig_ref).await {
        Ok(m) => Some(m),
        Err(RegistryError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let existing = match existing {
        None => None,
        Some(fetched) => {
            if fetched.media_type != OCI_MANIFEST {
                return Err(AttachWriteError::MediaType {
                    reference,
                    media_type: fetched.media_type,
                });
            }
            let manifest: OciManifest =
                serde_json::from_slice(&fetched.bytes).map_err(|source| {
                    AttachWriteError::Manifest {
                        reference: reference.clone(),
                        source,
                    }
                })?;
            let config = fetch_config(registry, &sig_ref, &manifest.config).await?;
            Some((manifest, config))
        }
    };

    let plan = plan(existing, signatures);
    for (digest, payload) in &plan.new_layers {
        registry
            .push_blob_bytes(&sig_ref, digest, Bytes::from(payload.clone()))
            .await?;
    }
    registry
        .push_blob_bytes(&sig_ref, &plan.config_digest, Bytes::from(plan.config))
        .await?;
    registry
        .push_manifest(&sig_ref, Bytes::from(plan.manifest), OCI_MANIFEST)
        .await?;
    Ok(Appended {
        tag,
        added: plan.new_layers.len(),
        already_present: plan.already_present,
        layers: plan.layers,
    })
}

async fn fetch_config(
    registry: &Registry,
    sig_ref: &ImageRef,
    desc: &OciDescriptor,
) -> Result<OciImage, AttachWriteError> {
    let reference = sig_ref.to_string();
    let digest = Digest::parse(&desc.digest).map_err(|source| AttachWriteError::ConfigDigest {
        reference: reference.clone(),
        digest: desc.digest.clone(),
        source,
    })?;
    let size = u64::try_from(desc.size).map_err(|_| AttachWriteError::ConfigSize {
        reference: reference.clone(),
        size: desc.size,
    })?;
    let blob = registry
        .fetch_small_blob(
            sig_ref,
            &Descriptor {
                media_type: desc.media_type.clone(),
                digest,
                size,
                platform: None,
                annotations: None,
            },
            MAX_CONFIG_BYTES,
        )
        .await?;
    serde_json::from_slice(&blob).map_err(|source| AttachWriteError::Config {
        reference,
        digest: desc.digest.clone(),
        source,
    })
}

/// Everything to upload for one append, computed without the network.
#[derive(Debug)]
struct Plan {
    new_layers: Vec<(Digest, Vec<u8>)>,
    already_present: usize,
    layers: usize,
    config: Vec<u8>,
    config_digest: Digest,
    manifest: Vec<u8>,
}

fn plan(existing: Option<(OciManifest, OciImage)>, signatures: &[SigstoreComponents]) -> Plan {
    let (mut manifest, mut config) = existing.unwrap_or_else(|| {
        let mut config = OciImage::default();
        config.rootfs.kind = "layers".into();
        (OciManifest::new(), config)
    });
    let mut new_layers = Vec::new();
    let mut already_present = 0;
    for sig in signatures {
        if manifest.layers.iter().any(|l| l.matches(sig)) {
            already_present += 1;
            continue;
        }
        let digest = Digest::of(&sig.payload);
        manifest.layers.push(OciDescriptor {
            media_type: sig.mime_type.clone(),
            digest: digest.to_string(),
            size: i64::try_from(sig.payload.len()).unwrap_or(i64::MAX),
            annotations: Some(sig.annotations.clone()),
            ..OciDescriptor::default()
        });
        config.rootfs.diff_ids.push(digest.to_string());
        new_layers.push((digest, sig.payload.clone()));
    }
    let config_bytes = go_json(&config);
    let config_digest = Digest::of(&config_bytes);
    manifest.config = OciDescriptor {
        media_type: OCI_CONFIG.into(),
        digest: config_digest.to_string(),
        size: i64::try_from(config_bytes.len()).unwrap_or(i64::MAX),
        ..OciDescriptor::default()
    };
    Plan {
        already_present,
        layers: manifest.layers.len(),
        new_layers,
        config: config_bytes,
        config_digest,
        manifest: go_json(&manifest),
    }
}

/// Serialises as Go's `json.Marshal` does: struct field order (our field
/// order mirrors image-spec's), and `<`, `>`, `&`, U+2028, U+2029 escaped.
fn go_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Structs of strings, integers and string maps always serialise.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(fragment.get(start..i).unwrap_or_default().as_bytes())?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(fragment.get(start..).unwrap_or_default().as_bytes())
    }
}

fn is_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

fn is_empty_map(v: &Option<BTreeMap<String, String>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

fn is_empty_str(v: &Option<String>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

/// image-spec v1.1 `Descriptor`, in its field order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct OciDescriptor {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default, skip_serializing_if = "is_empty")]
    urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_empty_map")]
    annotations: Option<BTreeMap<String, String>>,
    /// Go `[]byte`: kept as the base64 text it was read as.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<OciPlatform>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    artifact_type: Option<String>,
}

impl OciDescriptor {
    /// containers/image `layerMatchesSigstoreSignature` (absent and empty
    /// annotations are equal, as Go's `maps.Equal` on a nil map).
    fn matches(&self, sig: &SigstoreComponents) -> bool {
        self.media_type == sig.mime_type
            && usize::try_from(self.size).ok() == Some(sig.payload.len())
            && self.digest == Digest::of(&sig.payload).to_string()
            && self.annotations.clone().unwrap_or_default() == sig.annotations
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct OciPlatform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "is_empty_str")]
    os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "is_empty")]
    os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    variant: Option<String>,
}

/// image-spec v1.1 `Manifest`, in its field order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest {
    #[serde(default)]
    schema_version: i64,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    media_type: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    artifact_type: Option<String>,
    #[serde(default)]
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<OciDescriptor>,
    #[serde(default, skip_serializing_if = "is_empty_map")]
    annotations: Option<BTreeMap<String, String>>,
}

impl OciManifest {
    /// containers/image `manifest.OCI1FromComponents(config, nil)`.
    fn new() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: None,
            config: OciDescriptor::default(),
            layers: Vec::new(),
            subject: None,
            annotations: None,
        }
    }
}

/// image-spec v1.1 `Image` (the config), in its field order; `config` is
/// always written, as Go's `omitempty` does not drop a struct.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct OciImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    author: Option<String>,
    /// Go embeds `Platform`, so its fields sit inline, here.
    #[serde(flatten)]
    platform: OciPlatform,
    #[serde(default)]
    config: OciRunConfig,
    #[serde(default)]
    rootfs: OciRootFs,
    #[serde(default, skip_serializing_if = "is_empty")]
    history: Option<Vec<OciHistory>>,
}

/// image-spec `ImageConfig`: every field `omitempty`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OciRunConfig {
    #[serde(default, skip_serializing_if = "is_empty_str")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_value_map")]
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_empty")]
    cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_empty_value_map")]
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_map")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    args_escaped: bool,
}

fn is_empty_value_map(v: &Option<BTreeMap<String, serde_json::Value>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct OciRootFs {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct OciHistory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    created_by: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    author: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_str")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    empty_layer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore_blob::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};

    fn sig(payload: &str, signature: &str) -> SigstoreComponents {
        SigstoreComponents {
            mime_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: payload.as_bytes().to_vec(),
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), signature.into())]),
        }
    }

    fn reparse(p: &Plan) -> (OciManifest, OciImage) {
        (
            serde_json::from_slice(&p.manifest).unwrap(),
            serde_json::from_slice(&p.config).unwrap(),
        )
    }

    #[test]
    fn a_new_attachment_is_written_as_containers_image_writes_it() {
        let s = sig("{\"critical\":{}}", "c2ln");
        let p = plan(None, std::slice::from_ref(&s));
        let layer = Digest::of(&s.payload).to_string();
        assert_eq!(
            String::from_utf8(p.config.clone()).unwrap(),
            format!(
                r#"{{"architecture":"","os":"","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
            )
        );
        assert_eq!(p.config_digest, Digest::of(&p.config));
        assert_eq!(
            String::from_utf8(p.manifest.clone()).unwrap(),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","digest":"{layer}","size":{},"annotations":{{"{SIGNATURE_ANNOTATION}":"c2ln"}}}}]}}"#,
                p.config_digest,
                p.config.len(),
                s.payload.len()
            )
        );
        assert_eq!(
            p.new_layers,
            vec![(Digest::of(&s.payload), s.payload.clone())]
        );
        assert_eq!((p.already_present, p.layers), (0, 1));
    }

    #[test]
    fn appending_keeps_every_layer_and_skips_identical_signatures() {
        let first = sig("{\"a\":1}", "Zmlyc3Q=");
        let second = sig("{\"a\":1}", "c2Vjb25k");
        let p1 = plan(None, std::slice::from_ref(&first));
        let p2 = plan(
            Some(reparse(&p1)),
            &[first.clone(), second.clone(), second.clone()],
        );
        let (m, c) = reparse(&p2);
        assert_eq!(m.layers.len(), 2);
        assert!(m.layers[0].matches(&first));
        assert!(m.layers[1].matches(&second));
        assert_eq!(c.rootfs.diff_ids.len(), 2);
        // Same payload bytes, so one blob digest, but two distinct layers.
        assert_eq!(p2.new_layers.len(), 1);
        assert_eq!((p2.already_present, p2.layers), (2, 2));
        // Pushing the same signatures again changes nothing.
        let p3 = plan(Some(reparse(&p2)), &[first, second]);
        assert!(p3.new_layers.is_empty());
        assert_eq!(p3.manifest, p2.manifest);
        assert_eq!(p3.config, p2.config);
    }

    #[test]
    fn a_cosign_attachment_survives_the_rewrite() {
        // cosign's config carries a zero `created` and history; Go keeps them.
        let existing_config = br#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"config":{}}"#;
        let existing_manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:bb"},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":3,"digest":"sha256:aa","annotations":{"dev.sigstore.cosign/bundle":"{}","dev.cosignproject.cosign/signature":"x"}}]}"#;
        let p = plan(
            Some((
                serde_json::from_slice(existing_manifest).unwrap(),
                serde_json::from_slice(existing_config).unwrap(),
            )),
            &[sig("p", "s")],
        );
        let config = String::from_utf8(p.config).unwrap();
        assert!(
            config.starts_with(r#"{"created":"0001-01-01T00:00:00Z","architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:"#),
            "{config}"
        );
        assert!(config.ends_with(r#"]},"history":[{"created":"0001-01-01T00:00:00Z"}]}"#));
        let manifest = String::from_utf8(p.manifest).unwrap();
        assert!(manifest.contains(r#"{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:aa","size":3,"annotations":{"dev.cosignproject.cosign/signature":"x","dev.sigstore.cosign/bundle":"{}"}}"#), "{manifest}");
        assert_eq!(p.layers, 2);
    }

    #[test]
    fn absent_and_empty_annotations_match() {
        let s = SigstoreComponents {
            mime_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: b"x".to_vec(),
            annotations: BTreeMap::new(),
        };
        let mut d = OciDescriptor {
            media_type: s.mime_type.clone(),
            digest: Digest::of(b"x").to_string(),
            size: 1,
            ..OciDescriptor::default()
        };
        assert!(d.matches(&s));
        d.annotations = Some(BTreeMap::new());
        assert!(d.matches(&s));
        d.size = 2;
        assert!(!d.matches(&s));
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let v = BTreeMap::from([("k".to_string(), "a<b>&c\u{2028}\"".to_string())]);
        assert_eq!(
            String::from_utf8(go_json(&v)).unwrap(),
            r#"{"k":"a\u003cb\u003e\u0026c\u2028\""}"#
        );
    }
}
