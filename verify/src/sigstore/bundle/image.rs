//! A bundle as an image signature under `sigstoreSigned`.
//!
//! cosign 3 (`cmd/cosign/cli/sign/sign.go` `signDigestBundle`, with
//! `cmd/cosign/cli/signcommon/common.go` `NewAttestationBundle`) signs an
//! image as a DSSE envelope of payloadType `application/vnd.in-toto+json`
//! whose in-toto Statement v1 has `predicateType`
//! `https://sigstore.dev/cosign/sign/v1`, an empty predicate, and one
//! subject: `digest: {"sha256": <manifest hex>}`, the `-a` annotations as
//! subject annotations, and **no `name`**. The bundle is pushed as an OCI
//! 1.1 referrer of the manifest (`WriteAttestationNewBundleFormat`).
//!
//! So the manifest digest is bound by the statement's subject digest, but no
//! signed identity exists unless the subject names one. containers/image has
//! no answer yet: container-libs PR #1153 (open) stalled on exactly this —
//! its maintainers keep signed digest and signed identity as separate policy
//! requirements, and cosign deprecated `--sign-container-identity` for
//! referrers. vouch therefore checks the subject's `name` (a docker
//! reference, as vouch's signer writes it) against `signedIdentity`, and
//! accepts an unnamed subject — every bundle cosign 3 makes — in one case
//! only: the image is pulled by that very digest under the default
//! `matchRepoDigestOrExact`, whose rule for a digest reference is that the
//! digest is what must match. Pulled by tag, or under any other rule, the
//! unnamed subject is refused with that reason: a tag is a name, and nothing
//! signed names it. A `messageSignature` bundle signs a bare digest with no
//! statement and is refused for images.

use std::time::SystemTime;

use super::dsse::{self, StatementError};
use super::model;
use super::verify::{verify_material, BundleError};
use crate::policy::{matches_identity, IdentityRule, PolicyImage, SigstoreSigned};
use crate::sigstore::trust_root::{self, TrustRoot};
use crate::sigstore::SigstoreSignature;

/// Checks bundle JSON `bundle` against `req` for `image` (whose manifest is `manifest`).
pub fn accept_bundle(
    req: &SigstoreSigned,
    image: &PolicyImage,
    manifest: &[u8],
    bundle: &[u8],
    now: SystemTime,
) -> Result<SigstoreSignature, BundleError> {
    let root = trust_root::prepare(req)?;
    accept_with_root(&root, req, image, manifest, bundle, now)
}

/// [`accept_bundle`] with `req`'s trust root already loaded.
pub fn accept_with_root(
    root: &TrustRoot,
    req: &SigstoreSigned,
    image: &PolicyImage,
    manifest: &[u8],
    bundle: &[u8],
    now: SystemTime,
) -> Result<SigstoreSignature, BundleError> {
    let parsed = model::parse(bundle)?;
    let signed = signed_subject(root, manifest, &parsed, now)?;
    if signed.docker_reference.is_empty() {
        if !digest_is_the_identity(req, image, &signed.manifest_digest) {
            return Err(BundleError::UnnamedSubject(signed.manifest_digest));
        }
    } else if !matches_identity(
        &req.signed_identity,
        image.docker_reference(),
        &signed.docker_reference,
    ) {
        return Err(BundleError::IdentityNotAccepted(signed.docker_reference));
    }
    Ok(signed)
}

/// The part of accepting a bundle that needs no policy: the signer and log
/// evidence hold for `root`, the statement is cosign's image signature, and
/// its subject is `manifest`'s digest. The subject's name (empty when the
/// bundle signs the digest only) comes back as `docker_reference`, for the
/// caller's identity rule.
pub fn signed_subject(
    root: &TrustRoot,
    manifest: &[u8],
    parsed: &model::Bundle,
    now: SystemTime,
) -> Result<SigstoreSignature, BundleError> {
    if matches!(parsed.content, model::Content::Message(_)) {
        return Err(BundleError::MessageForImage);
    }
    let verified = verify_material(parsed, root, None, None, now)?;
    let (payload_type, payload) = verified
        .dsse_payload
        .as_ref()
        .ok_or(BundleError::MessageForImage)?;
    let statement = dsse::statement(payload_type, payload)?;
    if statement.predicate_type != dsse::COSIGN_SIGN_PREDICATE {
        return Err(StatementError::PredicateType(statement.predicate_type).into());
    }
    let digest = vouch_image::manifest_digest::manifest_digest(manifest)
        .map_err(BundleError::ManifestDigest)?;
    let hex_digest = digest.strip_prefix("sha256:").unwrap_or(&digest);
    let subject = statement.subject_for(hex_digest)?;
    Ok(SigstoreSignature {
        manifest_digest: digest.clone(),
        docker_reference: subject.name.clone(),
        creator: None,
        timestamp: None,
        rekor_integrated_time: verified.rekor_integrated_time,
    })
}

/// Whether `image` is `digest` by reference under `matchRepoDigestOrExact`,
/// so a signature over the digest alone says all the rule asks.
fn digest_is_the_identity(req: &SigstoreSigned, image: &PolicyImage, digest: &str) -> bool {
    matches!(req.signed_identity, IdentityRule::MatchRepoDigestOrExact)
        && image.docker_reference().and_then(|r| r.digest()) == Some(digest)
}
