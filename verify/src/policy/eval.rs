//! Evaluating a policy for one image (`IsRunningImageAllowed`, §5.5;
//! containers/image `signature/policy_eval*.go`).
//!
//! The selected list's requirements are evaluated in order and all must
//! allow; the first denial is the answer. A `signedBy` allows as soon as one
//! signature (in storage order) passes every check of §2.6; if none does, the
//! reason is podman's: no signature at all, the single signature's reason, or
//! all reasons joined. A `sigstoreSigned` does the same over the sigstore
//! signatures (`crate::sigstore`; upstream `policy_eval_sigstore.go`) and
//! the Sigstore bundles found as referrers (`crate::sigstore::bundle`):
//! either kind may satisfy it; when bundles were offered, each reason names
//! the kind tried (`attachment N: …`, `bundle sha256:…: …`). An
//! empty list denies. Anything vouch cannot check (signedBaseLayer, non-GPG
//! key types) denies: fail closed.

use std::path::PathBuf;
use std::time::SystemTime;

use sha2::Digest;

use super::identity::matches_identity;
use super::{KeySource, KeyType, Policy, PolicyImage, Requirement, SignedBy};
use crate::bounds::{BoundsError, MAX_SIGNATURE_BYTES};
use crate::keyring::Keyring;
use crate::mechanism;
use crate::signature::{accept, Signature, SignatureRejection};
use crate::sigstore::bundle::BundleError;
use crate::sigstore::{SigstoreRejection, SigstoreSignature};
use crate::sniff::{sniff, SignatureBlob, SniffError};
use vouch_image::sigstore_blob::{
    SigstoreBlobError, SigstoreComponents, SIMPLE_SIGNING_MEDIA_TYPE,
};

/// An allowed image: the scope that decided and the signature each `signedBy` accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The matching scope key, or `None` when `default` applied.
    pub scope: Option<String>,
    /// One accepted signature per `signedBy` requirement, in list order.
    pub signatures: Vec<Signature>,
    /// One accepted sigstore signature per `sigstoreSigned` requirement, in list order.
    pub sigstore_signatures: Vec<SigstoreSignature>,
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
    #[error("Manifest does not match provided manifest digest {0}")]
    ManifestMismatch(String),
    #[error("parsing signature {index}")]
    Blob {
        index: usize,
        #[source]
        source: SniffError,
    },
    #[error("parsing signature {index}")]
    SigstoreBlob {
        index: usize,
        #[source]
        source: SigstoreBlobError,
    },
    #[error("parsing signature {index}")]
    BlobTooLarge {
        index: usize,
        #[source]
        source: BoundsError,
    },
    #[error("A signature was required, but no signature exists")]
    NoSignature,
    #[error("A signature was required, but no signature exists ({non_sigstore} non-sigstore signatures, {non_signature} sigstore non-signature attachments)")]
    NoSigstoreSignature {
        non_sigstore: usize,
        non_signature: usize,
    },
    #[error(transparent)]
    SigstoreOne(SigstoreRejection),
    #[error("None of the signatures were accepted, reasons: {}", join_reasons(.0))]
    SigstoreNoneAccepted(Vec<SigstoreRejection>),
    /// Bundles were offered: one reason per attachment and bundle, each labelled.
    #[error("None of the signatures were accepted, reasons: {}", join_reasons(.0))]
    SigstoreKindsNoneAccepted(Vec<SigstoreFailure>),
    #[error(transparent)]
    SigstoreKindOne(SigstoreFailure),
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

/// Why one sigstore signature of either kind was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreFailure {
    #[error("attachment {index}: {}", vouch_image::chain::one_line(.error))]
    Attachment {
        index: usize,
        error: SigstoreRejection,
    },
    /// `digest` is the bundle blob's sha256 (its referrer layer digest).
    #[error("bundle {digest}: {}", vouch_image::chain::one_line(.error))]
    Bundle { digest: String, error: BundleError },
}

/// Each failure with its source chain, `; `-separated (podman's format).
fn join_reasons<E: std::error::Error>(failures: &[E]) -> String {
    failures
        .iter()
        .map(|f| vouch_image::chain::one_line(f))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Policy {
    /// Whether evaluating `image` will look at signatures at all, so a pull
    /// can skip fetching them: true when a `signedBy` or `sigstoreSigned` is
    /// reached before a requirement that denies regardless of signatures.
    pub fn needs_signatures(&self, image: &PolicyImage) -> bool {
        let (_, reqs) = self.requirements_for(image);
        for r in reqs {
            match r {
                Requirement::InsecureAcceptAnything => {}
                Requirement::SignedBy(_) | Requirement::SigstoreSigned(_) => return true,
                Requirement::Reject | Requirement::SignedBaseLayer { .. } => return false,
            }
        }
        false
    }

    /// Whether the requirements selected for `image` include a
    /// `sigstoreSigned`, so sigstore attachments must be fetched.
    pub fn needs_sigstore(&self, image: &PolicyImage) -> bool {
        let (_, reqs) = self.requirements_for(image);
        reqs.iter()
            .any(|r| matches!(r, Requirement::SigstoreSigned(_)))
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
        let mut blobs: Option<Classified<'_>> = None;
        let mut accepted = Vec::new();
        let mut sigstore_accepted = Vec::new();
        for r in reqs {
            match r {
                Requirement::InsecureAcceptAnything => {}
                Requirement::Reject => {
                    return Err(reject(RejectReason::Rejected(image.display().to_string())))
                }
                Requirement::SignedBaseLayer { .. } => {
                    return Err(reject(RejectReason::SignedBaseLayer))
                }
                Requirement::SigstoreSigned(req) => {
                    if blobs.is_none() {
                        blobs = Some(classify(signatures).map_err(reject)?);
                    }
                    if let Some(b) = &blobs {
                        sigstore_accepted.push(
                            sigstore_signed_allows(req, image, manifest, b, now).map_err(reject)?,
                        );
                    }
                }
                Requirement::SignedBy(sb) => {
                    if blobs.is_none() {
                        blobs = Some(classify(signatures).map_err(reject)?);
                    }
                    let simple = blobs
                        .as_ref()
                        .map(|b| b.simple.as_slice())
                        .unwrap_or_default();
                    accepted
                        .push(signed_by_allows(sb, image, manifest, simple, now).map_err(reject)?);
                }
            }
        }
        Ok(Accepted {
            scope: scope.map(str::to_string),
            signatures: accepted,
            sigstore_signatures: sigstore_accepted,
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

/// The image's signatures by kind, each in storage order. `signedBy` sees
/// only the simple ones and `sigstoreSigned` only the sigstore ones, but, as
/// upstream's `UntrustedSignatures`, any blob that does not parse fails both.
struct Classified<'a> {
    simple: Vec<&'a [u8]>,
    sigstore: Vec<SigstoreComponents>,
    /// Bundle JSON, verbatim; capped when parsed.
    bundles: Vec<&'a [u8]>,
}

fn classify(signatures: &[Vec<u8>]) -> Result<Classified<'_>, RejectReason> {
    let mut out = Classified {
        simple: Vec::new(),
        sigstore: Vec::new(),
        bundles: Vec::new(),
    };
    for (i, blob) in signatures.iter().enumerate() {
        let index = i + 1;
        match sniff(blob) {
            Ok(SignatureBlob::SimpleSigning(b)) => out.simple.push(b),
            Ok(SignatureBlob::Sigstore(json)) => {
                if blob.len() > MAX_SIGNATURE_BYTES {
                    return Err(RejectReason::BlobTooLarge {
                        index,
                        source: BoundsError::TooLarge(blob.len()),
                    });
                }
                let parsed = SigstoreComponents::from_json(json)
                    .or_else(|e| go_lenient_components(json).ok_or(e))
                    .map_err(|source| RejectReason::SigstoreBlob { index, source })?;
                out.sigstore.push(parsed);
            }
            Ok(SignatureBlob::Bundle(json)) => out.bundles.push(json),
            Err(source) => return Err(RejectReason::Blob { index, source }),
        }
    }
    Ok(out)
}

/// Go's `json.Unmarshal` into the stored form where serde is stricter:
/// members may be missing or `null` (zero values), names match
/// case-insensitively, `null` is an empty signature. Such a blob has no
/// signature MIME type or annotation, so it can only be skipped or rejected.
fn go_lenient_components(json: &[u8]) -> Option<SigstoreComponents> {
    use serde_json::Value as J;
    let mut out = SigstoreComponents {
        mime_type: String::new(),
        payload: Vec::new(),
        annotations: Default::default(),
    };
    let map = match serde_json::from_slice::<J>(json).ok()? {
        J::Null => return Some(out),
        J::Object(map) => map,
        _ => return None,
    };
    for (key, value) in map {
        match (key.to_ascii_lowercase().as_str(), value) {
            (_, J::Null) => {}
            ("mimetype", J::String(m)) => out.mime_type = m,
            ("payload", J::String(p)) => {
                out.payload = crate::sigstore::pem::go_base64(p.as_bytes()).ok()?
            }
            ("annotations", J::Object(a)) => {
                for (k, v) in a {
                    match v {
                        J::String(v) => drop(out.annotations.insert(k, v)),
                        J::Null => drop(out.annotations.insert(k, String::new())),
                        _ => return None,
                    }
                }
            }
            ("mimetype" | "payload" | "annotations", _) => return None,
            _ => {}
        }
    }
    Some(out)
}

/// `prSigstoreSigned.isRunningImageAllowed`: one accepted signature suffices;
/// attachments that are not signatures (another MIME type) are skipped.
/// Attachments are tried first, then bundles. Without bundles the reasons
/// are podman's, verbatim; with bundles each reason names its kind.
fn sigstore_signed_allows(
    req: &super::SigstoreSigned,
    image: &PolicyImage,
    manifest: &[u8],
    blobs: &Classified<'_>,
    now: SystemTime,
) -> Result<SigstoreSignature, RejectReason> {
    let mut rejections = Vec::new();
    let mut non_signature = 0;
    for (i, sig) in blobs.sigstore.iter().enumerate() {
        if sig.mime_type != SIMPLE_SIGNING_MEDIA_TYPE {
            non_signature += 1;
            continue;
        }
        match crate::sigstore::accept(req, image, manifest, sig, now) {
            Ok(accepted) => return Ok(accepted),
            Err(e) => rejections.push((i + 1, e)),
        }
    }
    if !blobs.bundles.is_empty() {
        let mut failures: Vec<SigstoreFailure> = rejections
            .into_iter()
            .map(|(index, error)| SigstoreFailure::Attachment { index, error })
            .collect();
        for bundle in &blobs.bundles {
            match crate::sigstore::bundle::accept_bundle(req, image, manifest, bundle, now) {
                Ok(accepted) => return Ok(accepted),
                Err(error) => failures.push(SigstoreFailure::Bundle {
                    digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(bundle))),
                    error,
                }),
            }
        }
        return Err(match failures.len() {
            1 => RejectReason::SigstoreKindOne(failures.remove(0)),
            _ => RejectReason::SigstoreKindsNoneAccepted(failures),
        });
    }
    let mut rejections: Vec<SigstoreRejection> = rejections.into_iter().map(|(_, e)| e).collect();
    Err(match rejections.len() {
        0 if blobs.simple.is_empty() && non_signature == 0 => RejectReason::NoSignature,
        0 => RejectReason::NoSigstoreSignature {
            non_sigstore: blobs.simple.len(),
            non_signature,
        },
        1 => RejectReason::SigstoreOne(rejections.remove(0)),
        _ => RejectReason::SigstoreNoneAccepted(rejections),
    })
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
    vouch_image::chain::one_line(e)
}
