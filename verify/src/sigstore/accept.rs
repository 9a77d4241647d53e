//! Accepting one sigstore signature under one `sigstoreSigned` requirement:
//! the only place a trusted [`SigstoreSignature`] is made.
//!
//! containers/image `prSigstoreSigned.isSignatureAccepted` and
//! `VerifySigstorePayload`, in their order: load the trust root; require the
//! signature annotation; find the key — the trusted keys (with Rekor keys:
//! the one key the SET logs), or the key of a Fulcio certificate (SET first,
//! then the chain at the SET's integrated time), or of a PKI certificate
//! (chain at `now`); verify the signature over the payload with those keys;
//! only then parse the payload and check digest, then identity.

use std::time::{SystemTime, UNIX_EPOCH};

use vouch_image::sigstore_blob::{
    SigstoreComponents, BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION,
    SIGNATURE_ANNOTATION,
};

use super::certificate::CertError;
use super::payload::UntrustedSigstorePayload;
use super::pem::go_base64;
use super::public_key::PublicKey;
use super::rekor::{self, RekorError};
use super::trust_root::{self, TrustRoot, TrustRootError};
use crate::policy::{matches_identity, PolicyImage, SigstoreSigned};
use crate::untrusted::PayloadError;

/// A sigstore signature whose key, digest and identity were all accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigstoreSignature {
    pub manifest_digest: String,
    /// The identity as signed (verbatim).
    pub docker_reference: String,
    pub creator: Option<String>,
    pub timestamp: Option<i64>,
    /// The Rekor integrated time, when a SET was verified.
    pub rekor_integrated_time: Option<i64>,
}

/// Why one sigstore signature was not accepted; containers/image's wording.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreRejection {
    #[error(transparent)]
    TrustRoot(#[from] TrustRootError),
    #[error("missing {0} annotation")]
    MissingAnnotation(&'static str),
    #[error("No public key verified against the RekorSET: {}", join(.0))]
    NoKeyInSet(Vec<RekorError>),
    #[error(transparent)]
    Rekor(#[from] RekorError),
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("base64 decoding: {0}")]
    Base64(String),
    #[error("cryptographic signature verification failed: {}", .0.join(", "))]
    Crypto(Vec<String>),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("Signature for digest {0} does not match")]
    DigestMismatch(String),
    #[error("Signature for identity {0:?} is not accepted")]
    IdentityNotAccepted(String),
    #[error("computing the manifest digest")]
    ManifestDigest(#[source] vouch_image::manifest_digest::DigestError),
}

fn join(errors: &[RekorError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks `sig` against `req` for `image` (whose manifest is `manifest`);
/// `now` is the time PKI certificates must be valid at.
pub fn accept(
    req: &SigstoreSigned,
    image: &PolicyImage,
    manifest: &[u8],
    sig: &SigstoreComponents,
    now: SystemTime,
) -> Result<SigstoreSignature, SigstoreRejection> {
    let root = trust_root::prepare(req)?;
    let signed = verify_signed_payload(root, sig, now)?;
    let claim = &signed.claim;
    if !signed
        .signs_manifest(manifest)
        .map_err(SigstoreRejection::ManifestDigest)?
    {
        return Err(SigstoreRejection::DigestMismatch(
            claim.untrusted_docker_manifest_digest.clone(),
        ));
    }
    if !matches_identity(
        &req.signed_identity,
        image.docker_reference(),
        &claim.untrusted_docker_reference,
    ) {
        return Err(SigstoreRejection::IdentityNotAccepted(
            claim.untrusted_docker_reference.clone(),
        ));
    }
    Ok(signed.into_signature())
}

/// A payload whose signature verified under a trust root; its digest and
/// identity are still claims for the caller's own rule (a policy's
/// `signedIdentity`, or standalone-verify's exact reference).
#[derive(Clone, Debug)]
pub struct SignedPayload {
    pub claim: UntrustedSigstorePayload,
    /// The Rekor integrated time, when a SET was verified.
    pub rekor_integrated_time: Option<i64>,
}

impl SignedPayload {
    /// Whether the signed digest is `manifest`'s.
    pub fn signs_manifest(
        &self,
        manifest: &[u8],
    ) -> Result<bool, vouch_image::manifest_digest::DigestError> {
        let digest = vouch_image::manifest_digest::manifest_digest(manifest)?;
        Ok(self.claim.untrusted_docker_manifest_digest == digest)
    }

    /// The accepted signature, once the caller's digest and identity
    /// checks have passed.
    pub fn into_signature(self) -> SigstoreSignature {
        let c = self.claim;
        SigstoreSignature {
            manifest_digest: c.untrusted_docker_manifest_digest,
            docker_reference: c.untrusted_docker_reference,
            creator: c.untrusted_creator,
            timestamp: c.untrusted_timestamp,
            rekor_integrated_time: self.rekor_integrated_time,
        }
    }
}

/// The cryptographic half of [`accept`]: finds the key `root` allows for
/// `sig`, verifies the signature over the payload, and only then parses it.
pub fn verify_signed_payload(
    root: TrustRoot,
    sig: &SigstoreComponents,
    now: SystemTime,
) -> Result<SignedPayload, SigstoreRejection> {
    let annotation = |name: &'static str| {
        sig.annotations
            .get(name)
            .map(String::as_str)
            .ok_or(SigstoreRejection::MissingAnnotation(name))
    };
    let chain = || sig.annotations.get(CHAIN_ANNOTATION).map(String::as_bytes);
    let base64_signature = annotation(SIGNATURE_ANNOTATION)?;
    let payload = sig.payload.as_slice();
    let mut rekor_integrated_time = None;
    let keys: Vec<PublicKey> = match root {
        TrustRoot::Keys { keys, rekor: None } => keys,
        TrustRoot::Keys {
            keys,
            rekor: Some(rekor_keys),
        } => {
            let set = annotation(BUNDLE_ANNOTATION)?;
            let mut failures = Vec::new();
            let mut logged = None;
            for key in keys {
                match rekor::verify_set(
                    &rekor_keys,
                    set.as_bytes(),
                    &key.to_pem(),
                    base64_signature,
                    payload,
                ) {
                    Ok(v) => {
                        rekor_integrated_time = Some(v.integrated_time);
                        logged = Some(key);
                        break;
                    }
                    Err(e) => failures.push(e),
                }
            }
            vec![logged.ok_or(SigstoreRejection::NoKeyInSet(failures))?]
        }
        TrustRoot::Fulcio { fulcio, rekor } => {
            let set = annotation(BUNDLE_ANNOTATION)?;
            let cert = annotation(CERTIFICATE_ANNOTATION)?;
            let v = rekor::verify_set(
                &rekor,
                set.as_bytes(),
                cert.as_bytes(),
                base64_signature,
                payload,
            )?;
            rekor_integrated_time = Some(v.integrated_time);
            vec![fulcio.verify_at(v.integrated_time, cert.as_bytes(), chain())?]
        }
        TrustRoot::Pki(pki) => {
            let cert = annotation(CERTIFICATE_ANNOTATION)?;
            vec![pki.verify_at(unix_seconds(now), cert.as_bytes(), chain())?]
        }
    };

    let signature = go_base64(base64_signature.as_bytes()).map_err(SigstoreRejection::Base64)?;
    let mut failures = Vec::new();
    let verified = keys.iter().any(|k| match k.verify(payload, &signature) {
        Ok(()) => true,
        Err(e) => {
            failures.push(e);
            false
        }
    });
    if !verified {
        return Err(SigstoreRejection::Crypto(failures));
    }

    Ok(SignedPayload {
        claim: UntrustedSigstorePayload::parse(payload)?,
        rekor_integrated_time,
    })
}

/// Seconds since the epoch (negative before it).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}
