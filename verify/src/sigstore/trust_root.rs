//! Loading what a `sigstoreSigned` requirement trusts (`prepareTrustRoot`).
//!
//! Paths are read at evaluation time, relative to the working directory, as
//! upstream (`signature/policy_eval_sigstore.go`) does; like upstream the
//! root is prepared for each signature, so a broken key file is the reason
//! every signature gives. A key file holds one key (its first PEM block).

use std::path::{Path, PathBuf};

use super::certificate;
use super::fulcio::FulcioRoot;
use super::pki::PkiRoot;
use super::public_key::{KeyError, PublicKey};
use crate::policy::{PathOrData, PathsOrDatas, SigstoreKeys, SigstoreSigned};

/// The largest key, CA or certificate file read for a policy (far above any real one).
pub const MAX_TRUST_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A requirement's trust, loaded.
#[derive(Clone)]
pub enum TrustRoot {
    Keys {
        keys: Vec<PublicKey>,
        rekor: Option<Vec<PublicKey>>,
    },
    Fulcio {
        fulcio: FulcioRoot,
        rekor: Vec<PublicKey>,
    },
    Pki(PkiRoot),
}

/// Why a requirement's trust could not be loaded; upstream's wording plus the file.
#[derive(Debug, thiserror::Error)]
pub enum TrustRootError {
    #[error("reading {field} file {path}")]
    Read {
        field: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{field} file {path} is over the {MAX_TRUST_FILE_BYTES}-byte limit")]
    TooLarge { field: &'static str, path: PathBuf },
    #[error("parsing public key {0}: {1}")]
    PublicKey(usize, KeyError),
    #[error("parsing Rekor public key {0}: {1}")]
    RekorKey(usize, KeyError),
    #[error("Rekor public key {0} is not using ECDSA")]
    RekorNotEcdsa(usize),
    #[error("error loading Fulcio CA certificates")]
    FulcioCa,
    #[error("error loading PKI CA Roots certificates")]
    PkiRoots,
    #[error("loading trusted intermediate certificates: {0}")]
    PkiIntermediates(String),
}

/// Loads `req`'s keys, CAs and Rekor keys.
pub fn prepare(req: &SigstoreSigned) -> Result<TrustRoot, TrustRootError> {
    // Upstream's order: signing keys or Fulcio CA first, then Rekor keys.
    let rekor = || {
        req.rekor_public_keys
            .as_ref()
            .map(|src| {
                let pems = load_all(src, "rekorPublicKeyPath")?;
                let mut keys = Vec::new();
                for (i, pem) in pems.iter().enumerate() {
                    let key =
                        PublicKey::from_pem(pem).map_err(|e| TrustRootError::RekorKey(i + 1, e))?;
                    if !key.is_ecdsa() {
                        return Err(TrustRootError::RekorNotEcdsa(i + 1));
                    }
                    keys.push(key);
                }
                Ok(keys)
            })
            .transpose()
    };
    match &req.keys {
        SigstoreKeys::Keys(src) => {
            let keys = load_all(src, "keyPath")?
                .iter()
                .enumerate()
                .map(|(i, pem)| {
                    PublicKey::from_pem(pem).map_err(|e| TrustRootError::PublicKey(i + 1, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(TrustRoot::Keys {
                keys,
                rekor: rekor()?,
            })
        }
        SigstoreKeys::Fulcio {
            ca,
            oidc_issuer,
            subject_email,
        } => {
            let ca_certificates = certificate::pool_from_pem(&load_one(ca, "fulcio.caPath")?);
            if ca_certificates.is_empty() {
                return Err(TrustRootError::FulcioCa);
            }
            Ok(TrustRoot::Fulcio {
                fulcio: FulcioRoot {
                    ca_certificates,
                    oidc_issuer: oidc_issuer.clone(),
                    subject_email: subject_email.clone(),
                },
                // The parser refuses fulcio without Rekor keys.
                rekor: rekor()?.unwrap_or_default(),
            })
        }
        SigstoreKeys::Pki {
            ca_roots,
            ca_intermediates,
            subject_email,
            subject_hostname,
        } => {
            let ca_roots = certificate::pool_from_pem(&load_one(ca_roots, "pki.caRootsPath")?);
            if ca_roots.is_empty() {
                return Err(TrustRootError::PkiRoots);
            }
            let ca_intermediates = match ca_intermediates {
                None => Vec::new(),
                Some(src) => {
                    certificate::certificates_from_pem(&load_one(src, "pki.caIntermediatesPath")?)
                        .map_err(TrustRootError::PkiIntermediates)?
                }
            };
            Ok(TrustRoot::Pki(PkiRoot {
                ca_roots,
                ca_intermediates,
                subject_email: subject_email.clone().unwrap_or_default(),
                subject_hostname: subject_hostname.clone().unwrap_or_default(),
            }))
        }
    }
}

fn load_all(src: &PathsOrDatas, field: &'static str) -> Result<Vec<Vec<u8>>, TrustRootError> {
    Ok(match src {
        PathsOrDatas::Path(p) => vec![read(p, field)?],
        PathsOrDatas::Paths(ps) => ps
            .iter()
            .map(|p| read(p, field))
            .collect::<Result<_, _>>()?,
        PathsOrDatas::Data(d) => vec![d.clone()],
        PathsOrDatas::Datas(ds) => ds.clone(),
    })
}

fn load_one(src: &PathOrData, field: &'static str) -> Result<Vec<u8>, TrustRootError> {
    match src {
        PathOrData::Path(p) => read(p, field),
        PathOrData::Data(d) => Ok(d.clone()),
    }
}

fn read(path: &Path, field: &'static str) -> Result<Vec<u8>, TrustRootError> {
    use std::io::Read;
    let err = |source| TrustRootError::Read {
        field,
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let mut out = Vec::new();
    file.take(MAX_TRUST_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(err)?;
    if out.len() as u64 > MAX_TRUST_FILE_BYTES {
        return Err(TrustRootError::TooLarge {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}
