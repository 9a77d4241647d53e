//! The two ends of a copy. Each transport implements them; the engine
//! (`crate::engine`) only ever speaks through these, so a new transport
//! never touches the policy, signing or ordering rules.
//!
//! Signatures are raw blobs in the evaluator's vocabulary
//! (`vouch_image::sigstore_blob`): an OpenPGP simple signature as is,
//! `\0sigstore-json\n` + JSON for a sigstore signature, and
//! `\0sigstore-bundle\n` + JSON for a Sigstore bundle. A destination puts
//! each kind where its readers look (a registry: lookaside staging, `.sig`
//! attachment, referrer; `dir:`: `signature-N`) or refuses it.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use vouch_image::manifest::Descriptor;
use vouch_image::Digest;

use crate::error::CopyError;
use crate::name::ImageName;

/// A blob's bytes as they arrive; the engine wraps every source stream in
/// [`crate::verified`] before a destination sees it.
pub type BlobStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A manifest exactly as stored: digests and signatures are over these bytes.
#[derive(Clone, Debug)]
pub struct RawManifest {
    pub bytes: Bytes,
    pub media_type: String,
}

impl RawManifest {
    pub fn digest(&self) -> Digest {
        Digest::of(&self.bytes)
    }
}

/// Where a registry source lives, so a destination on the same registry
/// can mount blobs instead of copying them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryLocation {
    pub registry: String,
    pub repository: String,
}

pub trait Source: Send + Sync {
    fn name(&self) -> &ImageName;

    /// The manifest the name refers to (`None`), or the instance of a list
    /// with `digest`. Implementations cap the size and check a pinned digest.
    fn manifest<'a>(
        &'a self,
        instance: Option<&'a Digest>,
    ) -> BoxFuture<'a, Result<RawManifest, CopyError>>;

    /// The blob's bytes; the engine checks size and digest.
    fn blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<BlobStream, CopyError>>;

    /// Every stored signature of the manifest with `digest`.
    fn signatures<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Vec<Vec<u8>>, CopyError>>;

    /// The registry and repository, when the source is one.
    fn registry_location(&self) -> Option<RegistryLocation> {
        None
    }
}

pub trait Dest: Send + Sync {
    fn name(&self) -> &ImageName;

    /// Whether the destination already holds the blob, so it is skipped.
    fn has_blob<'a>(&'a self, desc: &'a Descriptor) -> BoxFuture<'a, Result<bool, CopyError>>;

    /// Makes the blob available by reference to another repository of the
    /// same registry (a cross-repository mount); `Ok(false)` when it cannot,
    /// and the engine then copies the bytes.
    fn mount_blob<'a>(
        &'a self,
        _desc: &'a Descriptor,
        _from: &'a RegistryLocation,
    ) -> BoxFuture<'a, Result<bool, CopyError>> {
        Box::pin(async { Ok(false) })
    }

    /// Stores a blob from a stream that fails (rather than ends) when the
    /// bytes do not match `desc`; a failed stream must leave nothing behind.
    fn put_blob<'a>(
        &'a self,
        desc: &'a Descriptor,
        data: BlobStream,
    ) -> BoxFuture<'a, Result<(), CopyError>>;

    /// Refuses, before anything is written, a copy that carries signatures
    /// the destination cannot store (containers/image: an OCI layout).
    fn check_signatures(&self) -> Result<(), CopyError> {
        Ok(())
    }

    /// Refuses, before anything is written, signatures of a kind the
    /// destination is configured not to hold (a registry whose
    /// registries.d scope turns sigstore attachments off).
    fn check_signature_kinds(&self, _signatures: &[Vec<u8>]) -> Result<(), CopyError> {
        Ok(())
    }

    /// Refuses, before any blob is copied, a manifest of `media_type` (the
    /// one `put_manifest` will get, after any instance choice) that the
    /// destination cannot store as is (an OCI layout: Docker schema2).
    fn check_manifest_type(&self, _media_type: &str) -> Result<(), CopyError> {
        Ok(())
    }

    /// Stores signatures of `manifest` — always before `put_manifest` makes
    /// them matter, so a tag is never visible without them.
    fn put_signatures<'a>(
        &'a self,
        manifest: &'a RawManifest,
        signatures: &'a [Vec<u8>],
    ) -> BoxFuture<'a, Result<(), CopyError>>;

    /// Stores a manifest. `instance` is true for an entry of a list: stored
    /// by digest, never under the destination's tag.
    fn put_manifest<'a>(
        &'a self,
        manifest: &'a RawManifest,
        instance: bool,
    ) -> BoxFuture<'a, Result<(), CopyError>>;

    /// Makes the copied image visible where that is a separate step (an OCI
    /// layout's index.json, an archive's rename into place).
    fn commit(&mut self) -> BoxFuture<'_, Result<(), CopyError>> {
        Box::pin(async { Ok(()) })
    }
}
