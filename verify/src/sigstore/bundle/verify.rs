//! One bundle against one `sigstoreSigned`-style trust root: who signed
//! (trusted key, Fulcio or PKI certificate), that the signature holds, and
//! that the log vouches for it when Rekor keys are required — in
//! containers/image's order for attachments (`accept.rs`), then what the
//! signed content says.

use std::time::SystemTime;

use openssl::x509::X509;
use sha2::{Digest, Sha256};

use super::super::accept::unix_seconds;
use super::super::certificate::{self, CertError};
use super::super::fulcio;
use super::super::public_key::PublicKey;
use super::super::trust_root::{self, TrustRoot, TrustRootError};
use super::dsse::{self, StatementError};
use super::model::{self, Bundle, Content, Material, ParseError};
use super::tlog::{self, Binding, BoundContent, TlogError};
use crate::policy::SigstoreSigned;

/// Why a bundle was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    TrustRoot(#[from] TrustRootError),
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("bundle certificate {0}: {1}")]
    CertificateDer(usize, String),
    #[error("bundle certificate chain contains a self-signed (root) certificate")]
    RootInChain,
    #[error("DSSE envelope has {0} signatures; exactly one is required")]
    DsseSignatures(usize),
    #[error("bundle messageDigest algorithm {0:?} is not SHA2_256")]
    DigestAlgorithm(String),
    #[error("bundle messageDigest is not the artifact's sha256")]
    MessageDigest,
    #[error("a bare artifact digest can only be checked with an ECDSA key")]
    PrehashedNotEcdsa,
    #[error("cryptographic signature verification failed: {}", .0.join(", "))]
    Crypto(Vec<String>),
    #[error("no trusted public key accepted the bundle: {}", .0.join("; "))]
    NoKey(Vec<String>),
    #[error("Rekor public keys are required but the bundle has no tlog entry")]
    NoTlogEntry,
    #[error("no tlog entry vouches for the signature: {}", join(.0))]
    Tlog(Vec<TlogError>),
    #[error(
        "no verified signed entry timestamp gives the time to check the Fulcio certificate at"
    )]
    NoSignedTime,
    #[error("Rekor integrated time {0} is in the future")]
    FutureTime(i64),
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error("a messageSignature bundle signs a bare digest with no statement naming the image; only DSSE bundles are accepted for images")]
    MessageForImage,
    #[error("in-toto statement subject for {0} has no name: the bundle signs the digest only, which satisfies signedIdentity only for an image pulled by that digest under matchRepoDigestOrExact")]
    UnnamedSubject(String),
    #[error("Signature for identity {0:?} is not accepted")]
    IdentityNotAccepted(String),
    #[error("computing the manifest digest")]
    ManifestDigest(#[source] vouch_image::manifest_digest::DigestError),
    #[error("Required identity {wanted:?} not found in the certificate (got {got:?})")]
    San { wanted: String, got: Vec<String> },
}

fn join(errors: &[TlogError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What was signed, for the caller to hold against the content.
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// A certificate identity other than `fulcio.subjectEmail`: the OIDC issuer
/// and a subject alternative name matched exactly against the e-mail and
/// URI SANs (how cosign and sigstore clients name workflow identities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    pub issuer: String,
    pub san: String,
}

/// A bundle whose signer, signature and log evidence were accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The verified DSSE payload (the statement), if the content was DSSE.
    pub dsse_payload: Option<(String, Vec<u8>)>,
    /// When a SET was verified: the time Rekor logged the entry.
    pub rekor_integrated_time: Option<i64>,
}

/// The signed bytes and the one signature over them.
struct Signed<'a> {
    message: SignedMessage<'a>,
    signature: &'a [u8],
    bound: BoundContent<'a>,
}

enum SignedMessage<'a> {
    Bytes(std::borrow::Cow<'a, [u8]>),
    Prehashed([u8; 32]),
}

fn signed<'a>(
    bundle: &'a Bundle,
    artifact: Option<&'a Artifact<'a>>,
) -> Result<Signed<'a>, BundleError> {
    match &bundle.content {
        Content::Dsse(env) => {
            let [signature] = env.signatures.as_slice() else {
                return Err(BundleError::DsseSignatures(env.signatures.len()));
            };
            Ok(Signed {
                message: SignedMessage::Bytes(dsse::pae(&env.payload_type, &env.payload).into()),
                signature,
                bound: BoundContent::Dsse {
                    payload_type: &env.payload_type,
                    payload: &env.payload,
                },
            })
        }
        Content::Message(m) => {
            let artifact = artifact.ok_or(BundleError::MessageForImage)?;
            let digest = artifact.sha256();
            if let Some((algorithm, claimed)) = &m.digest {
                if algorithm != "SHA2_256" {
                    return Err(BundleError::DigestAlgorithm(algorithm.clone()));
                }
                if claimed.as_slice() != digest.as_slice() {
                    return Err(BundleError::MessageDigest);
                }
            }
            Ok(Signed {
                message: match artifact {
                    Artifact::Bytes(b) => SignedMessage::Bytes((*b).into()),
                    Artifact::Sha256(d) => SignedMessage::Prehashed(*d),
                },
                signature: &m.signature,
                bound: BoundContent::Message(digest),
            })
        }
    }
}

fn check_signature(key: &PublicKey, s: &Signed<'_>) -> Result<(), String> {
    match &s.message {
        SignedMessage::Bytes(m) => key.verify(m, s.signature),
        SignedMessage::Prehashed(d) => {
            if !key.is_ecdsa() {
                return Err(BundleError::PrehashedNotEcdsa.to_string());
            }
            if key.verify_ecdsa_digest(d, s.signature) {
                Ok(())
            } else {
                Err("invalid signature when validating ASN.1 encoded signature".into())
            }
        }
    }
}

/// The first tlog entry that records `s` by `signer_der` and that the log vouches for.
fn logged(
    bundle: &Bundle,
    rekor: &[PublicKey],
    s: &Signed<'_>,
    signer_der: &[u8],
    now: i64,
) -> Result<tlog::LogEvidence, BundleError> {
    if bundle.tlog_entries.is_empty() {
        return Err(BundleError::NoTlogEntry);
    }
    let binding = Binding {
        signature: s.signature,
        signer_der,
        content: match &s.bound {
            BoundContent::Message(d) => BoundContent::Message(*d),
            BoundContent::Dsse {
                payload_type,
                payload,
            } => BoundContent::Dsse {
                payload_type,
                payload,
            },
        },
    };
    let mut failures = Vec::new();
    for entry in &bundle.tlog_entries {
        match tlog::verify_entry(entry, rekor, &binding) {
            Ok(ev) => {
                if let Some(t) = ev.integrated_time.filter(|t| *t > now) {
                    return Err(BundleError::FutureTime(t));
                }
                return Ok(ev);
            }
            Err(e) => failures.push(e),
        }
    }
    Err(BundleError::Tlog(failures))
}

fn certificates(bundle: &Bundle) -> Result<(X509, Vec<X509>), BundleError> {
    let Material::Certificates(ders) = &bundle.material else {
        return Err(CertError::NoLeaf.into());
    };
    let mut certs = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        let cert =
            X509::from_der(der).map_err(|e| BundleError::CertificateDer(i + 1, e.to_string()))?;
        if i > 0 && cert.issued(&cert) == openssl::x509::X509VerifyResult::OK {
            return Err(BundleError::RootInChain);
        }
        certs.push(cert);
    }
    let leaf = certs.remove(0);
    if leaf.issued(&leaf) == openssl::x509::X509VerifyResult::OK {
        return Err(BundleError::RootInChain);
    }
    Ok((leaf, certs))
}

fn der(cert: &X509) -> Result<Vec<u8>, BundleError> {
    cert.to_der()
        .map_err(|e| BundleError::CertificateDer(1, e.to_string()))
}

fn check_san(cert: &X509, wanted: &str) -> Result<(), BundleError> {
    let got: Vec<String> = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.email().or_else(|| n.uri()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if got.iter().any(|g| g == wanted) {
        return Ok(());
    }
    Err(BundleError::San {
        wanted: wanted.to_string(),
        got,
    })
}

/// Signer, signature and log of `bundle` under `req`'s trust.
pub(crate) fn verify_material(
    bundle: &Bundle,
    root: &TrustRoot,
    artifact: Option<&Artifact<'_>>,
    identity: Option<&CertificateIdentity>,
    now: SystemTime,
) -> Result<VerifiedBundle, BundleError> {
    let s = signed(bundle, artifact)?;
    let now = unix_seconds(now);
    let mut rekor_integrated_time = None;
    match root {
        TrustRoot::Keys { keys, rekor } => {
            // The bundle's publicKey hint names no trusted key by itself: every trusted key is tried.
            let mut failures = Vec::new();
            let mut accepted = false;
            for (i, key) in keys.iter().enumerate() {
                if let Err(e) = check_signature(key, &s) {
                    failures.push(format!("key {}: {e}", i + 1));
                    continue;
                }
                match rekor {
                    None => {
                        accepted = true;
                        break;
                    }
                    Some(rekor) => match logged(bundle, rekor, &s, &key.spki_der(), now) {
                        Ok(ev) => {
                            rekor_integrated_time = ev.integrated_time;
                            accepted = true;
                            break;
                        }
                        Err(e) => failures.push(format!("key {}: {e}", i + 1)),
                    },
                }
            }
            if !accepted {
                return Err(BundleError::NoKey(failures));
            }
        }
        TrustRoot::Fulcio { fulcio, rekor } => {
            let (leaf, intermediates) = certificates(bundle)?;
            let key = certificate::public_key(&leaf)?;
            check_signature(&key, &s).map_err(|e| BundleError::Crypto(vec![e]))?;
            let ev = logged(bundle, rekor, &s, &der(&leaf)?, now)?;
            let at = ev.integrated_time.ok_or(BundleError::NoSignedTime)?;
            rekor_integrated_time = Some(at);
            certificate::verify_chain(&leaf, &intermediates, &fulcio.ca_certificates, at)?;
            let issuer = fulcio::issuer(&leaf)?;
            match identity {
                Some(id) => {
                    if issuer != id.issuer {
                        return Err(CertError::WrongIssuer(issuer).into());
                    }
                    check_san(&leaf, &id.san)?;
                }
                None => {
                    if issuer != fulcio.oidc_issuer {
                        return Err(CertError::WrongIssuer(issuer).into());
                    }
                    certificate::check_email(&leaf, &fulcio.subject_email)?;
                }
            }
        }
        TrustRoot::Pki(pki) => {
            let (leaf, offered) = certificates(bundle)?;
            let mut intermediates = pki.ca_intermediates.clone();
            intermediates.extend(offered);
            certificate::verify_chain(&leaf, &intermediates, &pki.ca_roots, now)?;
            if !pki.subject_email.is_empty() {
                certificate::check_email(&leaf, &pki.subject_email)?;
            }
            if !pki.subject_hostname.is_empty() {
                certificate::check_hostname(
                    &leaf,
                    &intermediates,
                    &pki.ca_roots,
                    now,
                    &pki.subject_hostname,
                )?;
            }
            let key = certificate::public_key(&leaf)?;
            check_signature(&key, &s).map_err(|e| BundleError::Crypto(vec![e]))?;
        }
    }
    Ok(VerifiedBundle {
        dsse_payload: match &bundle.content {
            Content::Dsse(env) => Some((env.payload_type.clone(), env.payload.clone())),
            Content::Message(_) => None,
        },
        rekor_integrated_time,
    })
}

/// Verifies a bundle over a generic artifact (not an image): a
/// messageSignature over the artifact, or a DSSE statement with a subject
/// whose sha256 is the artifact's. `identity`, when given, replaces the
/// requirement's `fulcio.oidcIssuer`/`subjectEmail` check.
pub fn verify_artifact_bundle(
    bundle: &[u8],
    artifact: Artifact<'_>,
    req: &SigstoreSigned,
    identity: Option<&CertificateIdentity>,
    now: SystemTime,
) -> Result<VerifiedBundle, BundleError> {
    let root = trust_root::prepare(req)?;
    let bundle = model::parse(bundle)?;
    let verified = verify_material(&bundle, &root, Some(&artifact), identity, now)?;
    if let Some((payload_type, payload)) = &verified.dsse_payload {
        let statement = dsse::statement(payload_type, payload)?;
        statement.subject_for(&hex::encode(artifact.sha256()))?;
    }
    Ok(verified)
}
