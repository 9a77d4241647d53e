//! Signing an image where it already is (podman's `image sign`): the
//! manifests a reference names are read from the registry, signed by the
//! caller, and the sigstore signatures attached beside them. No layer
//! moves and no manifest is rewritten, so every digest a build system
//! recorded stays valid.
//!
//! Which manifests: the one the reference names (a list's own digest when
//! it names a list), as podman signs; with `all`, every instance of the
//! list and then the list itself. podman 4.3's `image sign --all` signs
//! only the instances; vouch also signs the list, as containers/image does
//! when it writes a list with signing on (`skopeo copy --all --sign-by`,
//! `podman push --all`), because vouch's pull verifies the list a tag names
//! and a list signature pins which instance serves which platform. The
//! list goes last, so it is signed only once every instance is.

use oci_client::RegistryOperation;

use crate::attach::write::{append_signatures, Appended, AttachWriteError};
use crate::digest::Digest;
use crate::manifest::{self, Descriptor, DOCKER_LIST, OCI_INDEX};
use crate::reference::ImageRef;
use crate::referrers::write::{push_bundle, ReferrersWriteError};
use crate::registry::{FetchedManifest, Registry, RegistryError, RegistryOptions};
use crate::sigstore_blob::SigstoreComponents;

/// Why an image could not be signed in place.
#[derive(Debug, thiserror::Error)]
pub enum SignInPlaceError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// podman's wording for `--all` on a single image.
    #[error("{reference} is not a multi-architecture image (manifest type {media_type})")]
    NotMultiArch {
        reference: String,
        media_type: String,
    },
    #[error("parsing manifest list {reference}")]
    List {
        reference: String,
        #[source]
        source: manifest::ManifestError,
    },
    #[error("{reference}: writing sigstore signatures for {digest}")]
    Attach {
        reference: String,
        digest: Digest,
        #[source]
        source: Box<AttachWriteError>,
    },
    #[error("{reference}: writing Sigstore bundle referrer for {digest}")]
    Referrers {
        reference: String,
        digest: Digest,
        #[source]
        source: Box<ReferrersWriteError>,
    },
}

/// What was attached for one manifest.
#[derive(Debug, Default)]
pub struct Attached {
    pub attachment: Option<Appended>,
    pub referrers: Vec<Digest>,
}

/// An image in a registry, opened for signing.
pub struct InPlace {
    registry: Registry,
    reference: ImageRef,
}

impl InPlace {
    /// Authenticates for pulling, or for pushing when sigstore signatures
    /// will be written (`write`), so a missing permission fails before
    /// anything is signed.
    pub async fn open(
        reference: &ImageRef,
        opts: &RegistryOptions,
        write: bool,
    ) -> Result<Self, SignInPlaceError> {
        let registry = Registry::new(reference, opts);
        let op = if write {
            RegistryOperation::Push
        } else {
            RegistryOperation::Pull
        };
        registry.login(reference, op).await?;
        Ok(Self {
            registry,
            reference: reference.clone(),
        })
    }

    /// The manifests to sign, in signing order, each fetched and checked
    /// against its digest.
    pub async fn targets(&self, all: bool) -> Result<Vec<FetchedManifest>, SignInPlaceError> {
        let top = self.registry.fetch_manifest(&self.reference).await?;
        let instances = instances_to_sign(&self.reference, &top, all)?;
        let mut out = Vec::with_capacity(instances.len() + 1);
        for d in instances {
            let by_digest = self.reference.with_digest(&d.to_string());
            out.push(self.registry.fetch_manifest(&by_digest).await?);
        }
        out.push(top);
        Ok(out)
    }

    /// Appends `sigstore` to `target`'s `.sig` attachment and writes each of
    /// `bundles` as a referrer of it, in the reference's repository.
    pub async fn attach(
        &self,
        target: &FetchedManifest,
        sigstore: &[SigstoreComponents],
        bundles: &[Vec<u8>],
    ) -> Result<Attached, SignInPlaceError> {
        let mut done = Attached::default();
        if !sigstore.is_empty() {
            done.attachment = Some(
                append_signatures(&self.registry, &self.reference, &target.digest, sigstore)
                    .await
                    .map_err(|source| SignInPlaceError::Attach {
                        reference: self.reference.to_string(),
                        digest: target.digest.clone(),
                        source: Box::new(source),
                    })?,
            );
        }
        let subject = subject(target);
        for b in bundles {
            done.referrers.push(
                push_bundle(&self.registry, &self.reference, &subject, b)
                    .await
                    .map_err(|source| SignInPlaceError::Referrers {
                        reference: self.reference.to_string(),
                        digest: target.digest.clone(),
                        source: Box::new(source),
                    })?,
            );
        }
        Ok(done)
    }
}

/// The referrer subject for a manifest already in the registry.
fn subject(m: &FetchedManifest) -> Descriptor {
    Descriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
        platform: None,
        annotations: None,
    }
}

/// The instance digests to sign before `top`: none without `all`; with it,
/// every entry of the list once, in list order (containers/image's
/// `list.Instances()`; a digest listed twice is signed once, not twice).
pub fn instances_to_sign(
    reference: &ImageRef,
    top: &FetchedManifest,
    all: bool,
) -> Result<Vec<Digest>, SignInPlaceError> {
    if !all {
        return Ok(Vec::new());
    }
    if top.media_type != OCI_INDEX && top.media_type != DOCKER_LIST {
        return Err(SignInPlaceError::NotMultiArch {
            reference: reference.to_string(),
            media_type: top.media_type.clone(),
        });
    }
    let list = match manifest::parse(&top.bytes, &top.media_type) {
        Ok(manifest::Parsed::Index(i)) => i,
        Ok(manifest::Parsed::Image(_)) => {
            return Err(SignInPlaceError::NotMultiArch {
                reference: reference.to_string(),
                media_type: top.media_type.clone(),
            })
        }
        Err(source) => {
            return Err(SignInPlaceError::List {
                reference: reference.to_string(),
                source,
            })
        }
    };
    let mut out: Vec<Digest> = Vec::with_capacity(list.manifests.len());
    for m in list.manifests {
        if !out.contains(&m.digest) {
            out.push(m.digest);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn fetched(bytes: &str, media_type: &str) -> FetchedManifest {
        FetchedManifest {
            bytes: Bytes::from(bytes.to_string()),
            media_type: media_type.into(),
            digest: Digest::of(bytes.as_bytes()),
        }
    }

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn r() -> ImageRef {
        ImageRef::parse("localhost:5000/app:1").unwrap()
    }

    #[test]
    fn without_all_only_the_named_manifest_is_signed() {
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{}","digest":"{}","size":1}}]}}"#,
            manifest::OCI_MANIFEST,
            d('a')
        );
        assert!(instances_to_sign(&r(), &fetched(&list, OCI_INDEX), false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn all_signs_each_instance_once_in_list_order() {
        let entry = |c| {
            format!(
                r#"{{"mediaType":"{}","digest":"{}","size":1}}"#,
                manifest::DOCKER_MANIFEST,
                d(c)
            )
        };
        let list = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{},{},{}]}}"#,
            entry('b'),
            entry('a'),
            entry('b')
        );
        let got = instances_to_sign(&r(), &fetched(&list, DOCKER_LIST), true).unwrap();
        let got: Vec<String> = got.iter().map(|g| g.to_string()).collect();
        assert_eq!(got, [d('b'), d('a')]);
    }

    #[test]
    fn all_on_a_single_image_is_podmans_error() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}"}}"#,
            manifest::OCI_MANIFEST
        );
        let err = instances_to_sign(&r(), &fetched(&m, manifest::OCI_MANIFEST), true)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "localhost:5000/app:1 is not a multi-architecture image (manifest type {})",
                manifest::OCI_MANIFEST
            )
        );
    }

    #[test]
    fn a_malformed_list_is_refused() {
        let err = instances_to_sign(&r(), &fetched(r#"{"schemaVersion":2}"#, OCI_INDEX), true)
            .unwrap_err();
        assert!(matches!(err, SignInPlaceError::List { .. }), "{err}");
    }
}
