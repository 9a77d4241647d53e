//! Pushing a stored image: blobs the registry lacks, then the sigstore
//! signature attachment, then the manifest bytes exactly as stored, so the
//! registry's digest equals ours (and a signature made over it holds).
//!
//! The attachment goes up before the manifest tag: a tag is never visible
//! without the signatures it was pushed with, and a failed blob upload
//! leaves no signature for a manifest that never arrived. Sigstore bundle
//! referrers need their subject in the registry first (a registry with a
//! Referrers API indexes them against it), so with bundles the manifest is
//! pushed by digest, then the referrers, then the tag.

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use oci_client::RegistryOperation;

use crate::attach::write::{append_signatures, Appended, AttachWriteError};
use crate::digest::Digest;
use crate::manifest::Descriptor;
use crate::reference::ImageRef;
use crate::referrers::write::{push_bundle, ReferrersWriteError};
use crate::registry::{Registry, RegistryError, RegistryOptions};
use crate::sigstore_blob::SigstoreComponents;
use crate::store::{ImageRecord, Store, StoreError};

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing sigstore signatures")]
    Attach(#[from] AttachWriteError),
    #[error("writing Sigstore bundle referrers")]
    Referrers(#[from] ReferrersWriteError),
}

/// What a push did.
#[derive(Debug)]
pub struct Pushed {
    /// The digest of the manifest the registry now holds.
    pub digest: Digest,
    pub blobs_sent: usize,
    pub blobs_skipped: usize,
    /// The `.sig` attachment update, when sigstore signatures were given.
    pub attachment: Option<Appended>,
    /// The bundle referrer manifests written, in the order given.
    pub referrers: Vec<Digest>,
}

/// Pushes `image` from `store` to `dest`, appending `sigstore` signatures
/// (made over the stored manifest) to its `.sig` attachment and writing
/// each of `bundles` (Sigstore bundle JSON) as an OCI 1.1 referrer of it.
pub async fn push(
    store: &Store,
    image: &ImageRecord,
    dest: &ImageRef,
    opts: &RegistryOptions,
    sigstore: &[SigstoreComponents],
    bundles: &[Vec<u8>],
) -> Result<Pushed, PushError> {
    let registry = Registry::new(dest, opts);
    registry.login(dest, RegistryOperation::Push).await?;
    let mut blobs = vec![image.config.clone()];
    blobs.extend(image.layers.iter().map(|l| l.blob.clone()));
    for b in &blobs {
        if !store.has_blob(&b.digest) {
            return Err(StoreError::Incomplete {
                id: image.id.clone(),
                what: "blob",
                digest: b.digest.clone(),
            }
            .into());
        }
    }
    let results: Vec<bool> = futures_util::stream::iter(blobs)
        .map(|b| {
            let registry = &registry;
            async move {
                if registry.blob_exists(dest, &b.digest).await? {
                    return Ok::<_, PushError>(false);
                }
                registry
                    .push_blob_file(dest, &b, &store.blob_path(&b.digest))
                    .await?;
                Ok(true)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    let manifest = store.read_blob(&image.digest)?;
    let digest = Digest::of(&manifest);
    let attachment = if sigstore.is_empty() {
        None
    } else {
        Some(append_signatures(&registry, dest, &digest, sigstore).await?)
    };
    let mut referrers = Vec::with_capacity(bundles.len());
    if !bundles.is_empty() {
        let by_digest = dest.with_digest(&digest.to_string());
        registry
            .push_manifest(
                &by_digest,
                Bytes::from(manifest.clone()),
                &image.manifest_media_type,
            )
            .await?;
        let subject = Descriptor {
            media_type: image.manifest_media_type.clone(),
            digest: digest.clone(),
            size: manifest.len() as u64,
            platform: None,
            annotations: None,
        };
        for bundle in bundles {
            referrers.push(push_bundle(&registry, dest, &subject, bundle).await?);
        }
    }
    registry
        .push_manifest(dest, Bytes::from(manifest), &image.manifest_media_type)
        .await?;
    let sent = results.iter().filter(|s| **s).count();
    Ok(Pushed {
        digest,
        blobs_sent: sent,
        blobs_skipped: results.len() - sent,
        attachment,
        referrers,
    })
}
