//! `docker://`: a registry at either end. Blobs stream from one registry
//! to the other without touching disk; a destination on the source's
//! registry mounts them instead; blobs the destination has are skipped.
//!
//! Signatures: a source yields what the gate reads (lookaside, then `.sig`
//! attachments and bundle referrers where registries.d turns them on); a
//! destination puts simple signatures in its staging, sigstore ones in its
//! `.sig` attachment, bundles as referrers — each before the tag.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use oci_client::RegistryOperation;
use vouch_image::attach::write::append_signatures;
use vouch_image::manifest::Descriptor;
use vouch_image::referrers::read::read_bundles;
use vouch_image::referrers::write::push_bundle;
use vouch_image::registry::{PerRuntime, Registry, RegistryOptions};
use vouch_image::sigstore_blob::{classify, BlobKind, SigstoreComponents, BUNDLE_BLOB_PREFIX};
use vouch_image::{Digest, ImageRef};
use vouch_verify::gate::Gate;
use vouch_verify::lookaside::Fetcher;

use crate::endpoint::{BlobStream, Dest, RawManifest, RegistryLocation, Source};
use crate::error::CopyError;
use crate::name::ImageName;
use crate::staging::Staging;

/// One lookaside fetcher for the command rather than one per image: making
/// its HTTP client loads the system's CA certificates (see
/// [`PerRuntime`]'s use in the registry client).
static FETCHERS: PerRuntime<(), Fetcher> = PerRuntime::new();

pub struct DockerSource {
    name: ImageName,
    reference: ImageRef,
    registry: Registry,
    gate: Arc<Gate>,
}

impl DockerSource {
    /// Authenticates for pulling, so a bad registry fails before any work.
    pub async fn open(
        reference: &ImageRef,
        opts: &RegistryOptions,
        gate: Arc<Gate>,
    ) -> Result<Self, CopyError> {
        let registry = Registry::new(reference, opts);
        registry.login(reference, RegistryOperation::Pull).await?;
        Ok(Self {
            name: ImageName::Docker(reference.clone()),
            reference: reference.clone(),
            registry,
            gate,
        })
    }
}

impl Source for DockerSource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>> {
        Box::pin(async move {
            let r = match instance {
                Some(d) => self.reference.with_digest(&d.to_string()),
                None => self.reference.clone(),
            };
            let m = self.registry.fetch_manifest(&r).await?;
            if let Some(want) = instance {
                m.digest
                    .clone()
                    .expect(want)
                    .map_err(|source| CopyError::Integrity {
                        image: self.name.to_string(),
                        digest: want.clone(),
                        source,
                    })?;
            }
            Ok(RawManifest {
                bytes: m.bytes,
                media_type: m.media_type,
            })
        })
    }

    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>> {
        Box::pin(async move { Ok(self.registry.blob_stream(&self.reference, desc).await?) })
    }

    fn signatures<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>> {
        Box::pin(async move {
            let sig_err = |detail: String| CopyError::Signatures {
                image: self.name.to_string(),
                detail,
            };
            let fetcher = FETCHERS
                .get_or_make((), Fetcher::new)
                .map_err(|e| sig_err(one_line(&e)))?;
            self.gate
                .signatures_of(&fetcher, &self.registry, &self.reference, digest, true)
                .await
                .map_err(|e| sig_err(one_line(&e)))
        })
    }

    fn registry_location(&self) -> Option<RegistryLocation> {
        Some(RegistryLocation {
            registry: self.reference.registry().to_string(),
            repository: self.reference.repository().to_string(),
        })
    }
}

/// What a registry destination may hold besides the image.
pub struct DockerDestConfig {
    /// Where simple signatures go; `None` when the copy writes none.
    pub staging: Option<Staging>,
    /// registries.d's `use-sigstore-attachments` for the destination.
    pub sigstore_attachments: bool,
    /// The registries.d directory, for the refusal message.
    pub registries_d: String,
}

pub struct DockerDest {
    name: ImageName,
    reference: ImageRef,
    registry: Registry,
    config: DockerDestConfig,
}

impl DockerDest {
    /// Authenticates for pushing, so a refusing registry fails before any work.
    pub async fn open(
        reference: &ImageRef,
        opts: &RegistryOptions,
        config: DockerDestConfig,
    ) -> Result<Self, CopyError> {
        let registry = Registry::new(reference, opts);
        registry.login(reference, RegistryOperation::Push).await?;
        Ok(Self {
            name: ImageName::Docker(reference.clone()),
            reference: reference.clone(),
            registry,
            config,
        })
    }

    fn unsupported_sigstore(&self) -> CopyError {
        CopyError::Unsupported(format!(
            "{}: writing sigstore attachments is disabled by configuration: set use-sigstore-attachments: true for its scope in {}",
            self.reference, self.config.registries_d
        ))
    }
}

/// A signature blob, split by kind.
enum Kind<'a> {
    Simple(&'a [u8]),
    Sigstore(SigstoreComponents),
    Bundle(&'a [u8]),
}

fn kind_of(blob: &[u8]) -> Result<Kind<'_>, String> {
    match classify(blob) {
        BlobKind::Bundle => Ok(Kind::Bundle(
            blob.get(BUNDLE_BLOB_PREFIX.len()..).unwrap_or_default(),
        )),
        BlobKind::Sigstore => SigstoreComponents::from_blob(blob)
            .map(Kind::Sigstore)
            .map_err(|e| e.to_string()),
        BlobKind::Simple => Ok(Kind::Simple(blob)),
    }
}

impl Dest for DockerDest {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move {
            Ok(self
                .registry
                .blob_exists(&self.reference, &desc.digest)
                .await?)
        })
    }

    fn mount_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        from: &'a RegistryLocation,
    ) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async move {
            if from.registry != self.reference.registry()
                || from.repository == self.reference.repository()
            {
                return Ok(false);
            }
            Ok(self
                .registry
                .mount_blob(&self.reference, &from.repository, &desc.digest)
                .await)
        })
    }

    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            Ok(self
                .registry
                .push_blob_from_stream(&self.reference, desc, data)
                .await?)
        })
    }

    fn check_signature_kinds(&self, signatures: &[Vec<u8>]) -> Result<(), CopyError> {
        for s in signatures {
            match kind_of(s) {
                Ok(Kind::Simple(_)) if self.config.staging.is_none() => {
                    return Err(CopyError::Unsupported(format!(
                        "{}: no lookaside staging to store simple signatures in",
                        self.reference
                    )))
                }
                Ok(Kind::Sigstore(_) | Kind::Bundle(_)) if !self.config.sigstore_attachments => {
                    return Err(self.unsupported_sigstore())
                }
                Err(detail) => {
                    return Err(CopyError::Signatures {
                        image: self.name.to_string(),
                        detail,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn put_signatures<'a>(
        &'a self,
        manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            self.check_signature_kinds(signatures)?;
            let digest = manifest.digest();
            let sig_err = |detail: String| CopyError::Signatures {
                image: self.name.to_string(),
                detail,
            };
            let (mut simple, mut sigstore, mut bundles) = (Vec::new(), Vec::new(), Vec::new());
            for s in signatures {
                match kind_of(s).map_err(sig_err)? {
                    Kind::Simple(b) => simple.push(b.to_vec()),
                    Kind::Sigstore(c) => sigstore.push(c),
                    Kind::Bundle(b) => bundles.push(b),
                }
            }
            if let Some(staging) = self.config.staging.as_ref().filter(|_| !simple.is_empty()) {
                staging
                    .store_missing(&digest.to_string(), &simple)
                    .await
                    .map_err(|e| sig_err(one_line(&e)))?;
            }
            if !sigstore.is_empty() {
                append_signatures(&self.registry, &self.reference, &digest, &sigstore)
                    .await
                    .map_err(|e| sig_err(one_line(&e)))?;
            }
            if !bundles.is_empty() {
                // A referrer needs its subject in the registry first.
                let by_digest = self.reference.with_digest(&digest.to_string());
                self.registry
                    .push_manifest(&by_digest, manifest.bytes.clone(), &manifest.media_type)
                    .await?;
                let present = read_bundles(&self.registry, &self.reference, &digest)
                    .await
                    .map_err(|e| sig_err(one_line(&e)))?;
                let subject = Descriptor {
                    media_type: manifest.media_type.clone(),
                    digest: digest.clone(),
                    size: manifest.bytes.len() as u64,
                    platform: None,
                    annotations: None,
                };
                for b in bundles {
                    if present.iter().any(|p| p.as_slice() == b) {
                        continue;
                    }
                    push_bundle(&self.registry, &self.reference, &subject, b)
                        .await
                        .map_err(|e| sig_err(one_line(&e)))?;
                }
            }
            Ok(())
        })
    }

    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>> {
        Box::pin(async move {
            let digest = manifest.digest();
            let target = if instance {
                self.reference.with_digest(&digest.to_string())
            } else {
                if let Some(want) = self.reference.digest() {
                    if want != digest.to_string() {
                        return Err(CopyError::Unsupported(format!(
                            "{}: the copied manifest is {digest}, not the destination's digest",
                            self.reference
                        )));
                    }
                }
                self.reference.clone()
            };
            self.registry
                .push_manifest(&target, Bytes::clone(&manifest.bytes), &manifest.media_type)
                .await?;
            Ok(())
        })
    }
}

pub(crate) use vouch_image::registry::error_chain as one_line;
