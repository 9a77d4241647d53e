//! Sigstore bundles stored as OCI 1.1 referrers of the manifest they sign,
//! as cosign 3 writes them (cosign `specs/BUNDLE_SPEC.md`,
//! `pkg/oci/remote/write.go` `WriteAttestationNewBundleFormat`): one
//! artifact manifest per bundle, found through the registry's Referrers API
//! or, on registries without one, through the referrers tag schema
//! (distribution-spec 1.1: an OCI index under the tag `sha256-<hex>`).
//!
//! This is the registry side only: bytes in and out, every size capped.
//! Whether a bundle is any good is the verifier's business.

pub mod http;
pub mod link;
pub mod read;
pub mod write;

use crate::sigstore_blob::BUNDLE_V03_MEDIA_TYPE;
use crate::Digest;

/// The OCI empty descriptor's media type, the config of an artifact
/// manifest that needs none (image-spec 1.1 "Guidance for an empty
/// descriptor").
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's bytes: `{}`.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// Bundle media types a referrer may carry as `artifactType` and as its
/// layer: cosign 3 writes the first; sigstore-js and older GitHub
/// attestations wrote the `+json;version=0.x` forms (cosign `bundle
/// inspect` accepts the same list).
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    BUNDLE_V03_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];

/// Whether `media_type` names a Sigstore bundle.
pub fn is_bundle_media_type(media_type: &str) -> bool {
    BUNDLE_MEDIA_TYPES.contains(&media_type)
}

/// The referrers tag schema's tag for `subject`: `<alg>-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tag_is_the_specs() {
        let d = Digest::of(b"x");
        assert_eq!(fallback_tag(&d), format!("sha256-{}", d.hex()));
        assert!(!fallback_tag(&d).ends_with(".sig"));
    }

    #[test]
    fn knows_the_bundle_types() {
        assert!(is_bundle_media_type(BUNDLE_V03_MEDIA_TYPE));
        assert!(is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle+json;version=0.1"
        ));
        assert!(!is_bundle_media_type("application/spdx+json"));
    }
}
