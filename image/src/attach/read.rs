//! Reading the sigstore signatures attached to an image in its registry
//! (containers/image `docker/docker_image_src.go`
//! `appendSignaturesFromSigstoreAttachments`, `docker_client.go`
//! `getSigstoreAttachmentManifest`).
//!
//! The attachment manifest is untrusted input from the registry: every size
//! is capped before the bytes are fetched, every layer is checked against
//! its digest, and only then does each layer become the stored blob form
//! ([`SigstoreComponents::to_blob`]) the policy evaluator takes. Whether a
//! signature is any good is the verifier's business, not this module's.

use crate::attach::attachment_tag;
use crate::digest::Digest;
use crate::manifest::{self, ImageManifest};
use crate::reference::ImageRef;
use crate::registry::{FetchedManifest, Registry, RegistryError};
use crate::sigstore_blob::SigstoreComponents;

/// containers/image `iolimits.MaxSignatureBodySize`: one attachment layer.
pub const MAX_LAYER_BYTES: u64 = 4 << 20;
/// Attachments are appended one per signing; more than this in one manifest
/// is a registry gone wrong, not a real signing history.
pub const MAX_LAYERS: usize = 128;
/// All layers together, so the cap on the count and on each size cannot
/// multiply into a large allocation.
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;

/// Why the attachments of an image could not be read; the pull stops.
#[derive(Debug, thiserror::Error)]
pub enum AttachReadError {
    #[error("reading sigstore attachments")]
    Registry {
        tag: String,
        #[source]
        source: RegistryError,
    },
    #[error("unexpected MIME type for sigstore attachment manifest {tag}: {media_type:?}")]
    MediaType { tag: String, media_type: String },
    #[error("parsing manifest {tag}")]
    Parse {
        tag: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "sigstore attachment manifest {tag} has {count} layers, over the limit of {MAX_LAYERS}"
    )]
    TooManyLayers { tag: String, count: usize },
    #[error(
        "sigstore attachment {digest} in {tag} declares {size} bytes, over the limit of {MAX_LAYER_BYTES}"
    )]
    LayerTooLarge {
        tag: String,
        digest: Digest,
        size: u64,
    },
    #[error("sigstore attachments in {tag} declare {total} bytes together, over the limit of {MAX_TOTAL_BYTES}")]
    TotalTooLarge { tag: String, total: u64 },
}

/// The signatures attached to the manifest `digest` in `image`'s repository,
/// as `\0sigstore-json\n…` blobs in layer order. No attachment manifest
/// (404, `MANIFEST_UNKNOWN`) means no signatures, not an error: that is how
/// an unsigned image looks.
pub async fn read_attachments(
    registry: &Registry,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>, AttachReadError> {
    let sig_ref = image.with_tag(&attachment_tag(digest));
    let tag = sig_ref.to_string();
    let fetched = match registry.fetch_manifest(&sig_ref).await {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(source) => return Err(AttachReadError::Registry { tag, source }),
    };
    let m = attachment_manifest(&tag, &fetched)?;
    let mut out = Vec::with_capacity(m.layers.len());
    for layer in &m.layers {
        // fetch_small_blob refuses a declared size over the cap before
        // reading, more bytes than declared while reading, and a digest
        // mismatch after.
        let payload = registry
            .fetch_small_blob(&sig_ref, layer, MAX_LAYER_BYTES)
            .await
            .map_err(|source| AttachReadError::Registry {
                tag: tag.clone(),
                source,
            })?;
        out.push(
            SigstoreComponents {
                mime_type: layer.media_type.clone(),
                payload,
                annotations: layer.annotations.clone().unwrap_or_default(),
            }
            .to_blob(),
        );
    }
    Ok(out)
}

/// Checks an attachment manifest before anything it names is fetched: an
/// OCI image manifest (containers/image accepts no other type here) within
/// the layer count and size caps.
pub fn attachment_manifest(
    tag: &str,
    fetched: &FetchedManifest,
) -> Result<ImageManifest, AttachReadError> {
    if fetched.media_type != manifest::OCI_MANIFEST {
        return Err(AttachReadError::MediaType {
            tag: tag.to_string(),
            media_type: fetched.media_type.clone(),
        });
    }
    let m: ImageManifest =
        serde_json::from_slice(&fetched.bytes).map_err(|source| AttachReadError::Parse {
            tag: tag.to_string(),
            source,
        })?;
    if m.layers.len() > MAX_LAYERS {
        return Err(AttachReadError::TooManyLayers {
            tag: tag.to_string(),
            count: m.layers.len(),
        });
    }
    let mut total = 0u64;
    for layer in &m.layers {
        if layer.size > MAX_LAYER_BYTES {
            return Err(AttachReadError::LayerTooLarge {
                tag: tag.to_string(),
                digest: layer.digest.clone(),
                size: layer.size,
            });
        }
        total += layer.size;
    }
    if total > MAX_TOTAL_BYTES {
        return Err(AttachReadError::TotalTooLarge {
            tag: tag.to_string(),
            total,
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "r.example/app:sha256-00.sig";

    fn fetched(media_type: &str, body: serde_json::Value) -> FetchedManifest {
        let bytes = bytes::Bytes::from(body.to_string());
        FetchedManifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: media_type.to_string(),
        }
    }

    fn layer(size: u64) -> serde_json::Value {
        serde_json::json!({
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)),
            "size": size,
            "annotations": {"dev.cosignproject.cosign/signature": "MEUC"},
        })
    }

    fn oci(layers: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": format!("sha256:{}", "b".repeat(64)), "size": 2},
            "layers": layers,
        })
    }

    #[test]
    fn accepts_cosign_layout() {
        let m = attachment_manifest(TAG, &fetched(manifest::OCI_MANIFEST, oci(vec![layer(10)])))
            .unwrap();
        assert_eq!(m.layers.len(), 1);
        assert_eq!(
            m.layers[0].annotations.as_ref().unwrap()["dev.cosignproject.cosign/signature"],
            "MEUC"
        );
    }

    #[test]
    fn refuses_other_media_types() {
        let e =
            attachment_manifest(TAG, &fetched(manifest::DOCKER_MANIFEST, oci(vec![]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "unexpected MIME type for sigstore attachment manifest {TAG}: \"{}\"",
                manifest::DOCKER_MANIFEST
            )
        );
    }

    #[test]
    fn refuses_huge_layer_before_fetching() {
        let e = attachment_manifest(
            TAG,
            &fetched(
                manifest::OCI_MANIFEST,
                oci(vec![layer(MAX_LAYER_BYTES + 1)]),
            ),
        )
        .unwrap_err();
        assert!(
            matches!(e, AttachReadError::LayerTooLarge { size, .. } if size == MAX_LAYER_BYTES + 1)
        );
        assert!(e.to_string().contains(TAG), "{e}");
    }

    #[test]
    fn refuses_too_many_layers() {
        let layers = vec![layer(1); MAX_LAYERS + 1];
        let e =
            attachment_manifest(TAG, &fetched(manifest::OCI_MANIFEST, oci(layers))).unwrap_err();
        assert!(
            matches!(e, AttachReadError::TooManyLayers { count, .. } if count == MAX_LAYERS + 1)
        );
    }

    #[test]
    fn refuses_many_large_layers_together() {
        let n = (MAX_TOTAL_BYTES / MAX_LAYER_BYTES + 1) as usize;
        let layers = vec![layer(MAX_LAYER_BYTES); n];
        let e =
            attachment_manifest(TAG, &fetched(manifest::OCI_MANIFEST, oci(layers))).unwrap_err();
        assert!(matches!(e, AttachReadError::TotalTooLarge { .. }), "{e}");
    }

    #[test]
    fn refuses_garbage_shape() {
        let e = attachment_manifest(
            TAG,
            &fetched(manifest::OCI_MANIFEST, serde_json::json!({"layers": 3})),
        )
        .unwrap_err();
        assert!(matches!(e, AttachReadError::Parse { .. }), "{e}");
    }
}
