//! Evaluating a policy for one image (`IsRunningImageAllowed`, §5.5;
//! containers/image `signature/policy_eval*.go`).
//!
//! The selected list's requirements are evaluated in order and all must
//! allow; the first denial is the answer. A `signedBy` allows as soon as one
//! signature (in storage order) passes every check of §2.6; if none does, the
//! reason is podman's: no signature at all, the single signature's reason, or
//! all reasons joined. An empty list denies. Anything vouch cannot check
//! (signedBaseLayer, sigstoreSigned, non-GPG key types) denies: fail closed.

use std::path::PathBuf;
use std::time::SystemTime;

use super::identity::matches_identity;
use super::{KeySource, KeyType, Policy, PolicyImage, Requirement, SignedBy};
use crate::keyring::Keyring;
use crate::mechanism;
use crate::signature::{accept, Signature, SignatureRejection};
use crate::sniff::{sniff, SignatureBlob, SniffError};

/// An allowed image: the scope that decided and the signature each `signedBy` accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The matching scope key, or `None` when `default` applied.
    pub scope: Option<String>,
    /// One accepted signature per `signedBy` requirement, in list order.
    pub signatures: Vec<Signature>,
}

/// A denied image. Shown as `Source image rejected: <reason>` with `{:#}`.
#[derive(Debug, thiserror::Error)]
#[error("Source image rejected")]
pub struct Rejected {
    /// `transport:reference` of the image (`docker://busybox:latest`).
    pub image: String,
    #[source]
    pub reason: RejectReason,
}

/// Why an image was denied; podman's wording.
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    #[error("List of verification policy requirements must not be empty")]
    EmptyList,
    #[error("Running image {0} is rejected by policy.")]
    Rejected(String),
    #[error("signedBaseLayer not implemented yet!")]
    SignedBaseLayer,
    #[error("sigstoreSigned requirements are not supported by vouch; {0} cannot be verified")]
    Sigstore(String),
    #[error("Manifest does not match provided manifest digest {0}")]
    ManifestMismatch(String),
    #[error("parsing signature {index}")]
    Blob {
        index: usize,
        #[source]
        source: SniffError,
    },
    #[error("A signature was required, but no signature exists")]
    NoSignature,
    #[error(transparent)]
    One(SignatureFailure),
    #[error("None of the signatures were accepted, reasons: {}", join_reasons(.0))]
    NoneAccepted(Vec<SignatureFailure>),
}

/// Why one signature did not satisfy a `signedBy`.
#[derive(Debug, thiserror::Error)]
pub enum SignatureFailure {
    #[error(transparent)]
    Signature(#[from] SignatureRejection),
    #[error("Unimplemented \"keyType\" value {0:?}")]
    UnimplementedKeyType(&'static str),
    #[error("reading key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("No public keys imported")]
    NoPublicKeys,
    #[error("computing the manifest digest")]
    ManifestDigest(#[source] vouch_image::manifest_digest::DigestError),
}

/// Each failure with its source chain, `; `-separated (podman's format).
fn join_reasons(failures: &[SignatureFailure]) -> String {
    failures
        .iter()
        .map(|f| chain(f))
        .collect::<Vec<_>>()
        .join("; ")
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

impl Policy {
    /// Whether evaluating `image` will look at signatures at all, so a pull
    /// can skip fetching them: true when a `signedBy` is reached before a
    /// requirement that denies regardless of signatures.
    pub fn needs_signatures(&self, image: &PolicyImage) -> bool {
        let (_, reqs) = self.requirements_for(image);
        for r in reqs {
            match r {
                Requirement::InsecureAcceptAnything => {}
                Requirement::SignedBy(_) => return true,
                Requirement::Reject
                | Requirement::SignedBaseLayer { .. }
                | Requirement::SigstoreSigned(_) => return false,
            }
        }
        false
    }

    /// Decides whether `image`, whose manifest is `manifest` and whose stored
    /// signatures are `signatures` (raw blobs, storage order), may be used.
    pub fn evaluate(
        &self,
        image: &PolicyImage,
        manifest: &[u8],
        signatures: &[Vec<u8>],
    ) -> Result<Accepted, Rejected> {
        self.evaluate_at(image, manifest, signatures, SystemTime::now())
    }

    /// [`evaluate`](Self::evaluate) with an explicit clock for key validity.
    pub fn evaluate_at(
        &self,
        image: &PolicyImage,
        manifest: &[u8],
        signatures: &[Vec<u8>],
        now: SystemTime,
    ) -> Result<Accepted, Rejected> {
        let reject = |reason| Rejected {
            image: image.display().to_string(),
            reason,
        };
        let (scope, reqs) = self.requirements_for(image);
        if reqs.is_empty() {
            return Err(reject(RejectReason::EmptyList));
        }
        check_reference_digest(image, manifest).map_err(reject)?;
        let mut blobs: Option<Vec<&[u8]>> = None;
        let mut accepted = Vec::new();
        for r in reqs {
            match r {
                Requirement::InsecureAcceptAnything => {}
                Requirement::Reject => {
                    return Err(reject(RejectReason::Rejected(image.display().to_string())))
                }
                Requirement::SignedBaseLayer { .. } => {
                    return Err(reject(RejectReason::SignedBaseLayer))
                }
                Requirement::SigstoreSigned(_) => {
                    return Err(reject(RejectReason::Sigstore(image.display().to_string())))
                }
                Requirement::SignedBy(sb) => {
                    if blobs.is_none() {
                        blobs = Some(simple_signing_blobs(signatures).map_err(reject)?);
                    }
                    let blobs = blobs.as_deref().unwrap_or_default();
                    accepted
                        .push(signed_by_allows(sb, image, manifest, blobs, now).map_err(reject)?);
                }
            }
        }
        Ok(Accepted {
            scope: scope.map(str::to_string),
            signatures: accepted,
        })
    }

    /// `GetSignaturesWithAcceptedAuthor`: the signatures that at least one
    /// requirement of the selected list accepts and none rejects.
    pub fn accepted_signatures(
        &self,
        image: &PolicyImage,
        manifest: &[u8],
        signatures: &[Vec<u8>],
        now: SystemTime,
    ) -> Vec<Signature> {
        let (_, reqs) = self.requirements_for(image);
        let mut out = Vec::new();
        for blob in signatures {
            let Ok(SignatureBlob::SimpleSigning(blob)) = sniff(blob) else {
                continue;
            };
            let mut kept: Option<Signature> = None;
            let mut rejected = false;
            for r in reqs {
                match r {
                    Requirement::InsecureAcceptAnything | Requirement::SignedBaseLayer { .. } => {}
                    Requirement::Reject | Requirement::SigstoreSigned(_) => rejected = true,
                    Requirement::SignedBy(sb) => match verify_one(sb, image, manifest, blob, now) {
                        Ok(sig) => kept = kept.or(Some(sig)),
                        Err(_) => rejected = true,
                    },
                }
            }
            if let (Some(sig), false) = (kept, rejected) {
                out.push(sig);
            }
        }
        out
    }
}

/// §3.2: a digest-addressed image's manifest must match that digest first.
fn check_reference_digest(image: &PolicyImage, manifest: &[u8]) -> Result<(), RejectReason> {
    let Some(expected) = image.docker_reference().and_then(|r| r.digest()) else {
        return Ok(());
    };
    if !expected.starts_with("sha256:") {
        return Ok(());
    }
    match vouch_image::manifest_digest::manifest_digest(manifest) {
        Ok(d) if d == expected => Ok(()),
        _ => Err(RejectReason::ManifestMismatch(expected.to_string())),
    }
}

/// Simple-signing blobs in storage order; sigstore blobs are invisible to `signedBy`.
fn simple_signing_blobs(signatures: &[Vec<u8>]) -> Result<Vec<&[u8]>, RejectReason> {
    let mut out = Vec::new();
    for (i, blob) in signatures.iter().enumerate() {
        match sniff(blob) {
            Ok(SignatureBlob::SimpleSigning(b)) => out.push(b),
            Ok(SignatureBlob::Sigstore(_)) => {}
            Err(source) => {
                return Err(RejectReason::Blob {
                    index: i + 1,
                    source,
                })
            }
        }
    }
    Ok(out)
}

fn signed_by_allows(
    sb: &SignedBy,
    image: &PolicyImage,
    manifest: &[u8],
    blobs: &[&[u8]],
    now: SystemTime,
) -> Result<Signature, RejectReason> {
    if blobs.is_empty() {
        return Err(RejectReason::NoSignature);
    }
    let mut failures = Vec::new();
    for blob in blobs {
        match verify_one(sb, image, manifest, blob, now) {
            Ok(sig) => return Ok(sig),
            Err(f) => failures.push(f),
        }
    }
    Err(match failures.len() {
        1 => RejectReason::One(failures.remove(0)),
        _ => RejectReason::NoneAccepted(failures),
    })
}

/// One signature against one `signedBy`: keys, OpenPGP, then §2.6 checks 2–5.
fn verify_one(
    sb: &SignedBy,
    image: &PolicyImage,
    manifest: &[u8],
    blob: &[u8],
    now: SystemTime,
) -> Result<Signature, SignatureFailure> {
    if sb.key_type != KeyType::GpgKeys {
        return Err(SignatureFailure::UnimplementedKeyType(sb.key_type.as_str()));
    }
    let keys = load_keys(&sb.keys)?;
    let verified = mechanism::verify(&keys, blob, now).map_err(SignatureRejection::from)?;
    let digest = vouch_image::manifest_digest::manifest_digest(manifest)
        .map_err(SignatureFailure::ManifestDigest)?;
    let rule = &sb.signed_identity;
    Ok(accept(&verified, keys.identities(), &digest, |signed| {
        matches_identity(rule, image.docker_reference(), signed)
    })?)
}

/// Imports a requirement's keys; read at evaluation time, relative to the CWD.
fn load_keys(source: &KeySource) -> Result<Keyring, SignatureFailure> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|source| SignatureFailure::KeyFile {
            path: path.clone(),
            source,
        })
    };
    let mut ring = Keyring::default();
    match source {
        KeySource::Path(p) => ring.add(&read(p)?),
        KeySource::Paths(ps) => {
            for p in ps {
                ring.add(&read(p)?);
            }
        }
        KeySource::Data(d) => ring.add(d),
    }
    if ring.is_empty() {
        return Err(SignatureFailure::NoPublicKeys);
    }
    Ok(ring)
}

#[cfg(test)]
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    chain(e)
}
