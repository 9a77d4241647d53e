//! Secret keys read from a file (`--sign-by-key FILE`).
//!
//! The file holds one transferable secret key, armored or binary, as
//! `gpg --export-secret-keys` or `sq key generate` writes it. Encrypted
//! secret material needs the passphrase; a wrong one fails here, before any
//! image is pushed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sequoia_openpgp::cert::CertParser;
use sequoia_openpgp::crypto;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::Cert;

use crate::passphrase::Passphrase;
use crate::rsa_crt::CrtRsa;
use crate::select::{choose_signing_key, SelectError};
use crate::SigningKey;

/// Why a key file cannot be used for signing.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("reading secret key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret key file {path} is not an OpenPGP key")]
    Parse {
        path: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    #[error("secret key file {path} holds {count} certificates; expected exactly one")]
    CertCount { path: PathBuf, count: usize },
    #[error("secret key file {path}")]
    Select {
        path: PathBuf,
        #[source]
        source: SelectError,
    },
    #[error("secret key {fingerprint} in {path} is passphrase-protected; pass a passphrase file")]
    NeedPassphrase { path: PathBuf, fingerprint: String },
    #[error("unlocking secret key {fingerprint} in {path} (wrong passphrase?)")]
    Unlock {
        path: PathBuf,
        fingerprint: String,
        #[source]
        source: anyhow::Error,
    },
}

impl SigningKey {
    /// Loads the secret key in `path`, unlocking it with `passphrase` if it is
    /// protected, and picks the signing key (primary preferred, see `select`).
    pub fn from_key_file(
        path: &Path,
        passphrase: Option<&Passphrase>,
    ) -> Result<Self, KeyFileError> {
        let p = || path.to_path_buf();
        let bytes =
            std::fs::read(path).map_err(|source| KeyFileError::Read { path: p(), source })?;
        let certs: Vec<Cert> = CertParser::from_bytes(&bytes)
            .and_then(|parser| parser.collect::<sequoia_openpgp::Result<Vec<_>>>())
            .map_err(|source| KeyFileError::Parse { path: p(), source })?;
        let [cert] = <[Cert; 1]>::try_from(certs).map_err(|v| KeyFileError::CertCount {
            path: p(),
            count: v.len(),
        })?;
        let chosen = choose_signing_key(&cert, SystemTime::now(), &|k| k.has_secret())
            .map_err(|source| KeyFileError::Select { path: p(), source })?;
        let fingerprint = chosen.key.fingerprint().to_hex();
        let secret = chosen
            .key
            .clone()
            .parts_into_secret()
            .map_err(|source| KeyFileError::Parse { path: p(), source })?;
        let secret = if secret.has_unencrypted_secret() {
            secret
        } else {
            let Some(pass) = passphrase else {
                return Err(KeyFileError::NeedPassphrase {
                    path: p(),
                    fingerprint,
                });
            };
            secret
                .decrypt_secret(pass.password())
                .map_err(|source| KeyFileError::Unlock {
                    path: p(),
                    fingerprint: fingerprint.clone(),
                    source,
                })?
        };
        // RSA keys sign with their CRT parameters (4x faster; see rsa_crt).
        let signer: Box<dyn crypto::Signer + Send + Sync> = match CrtRsa::new(&secret) {
            Some(crt) => Box::new(crt),
            None => Box::new(
                secret
                    .into_keypair()
                    .map_err(|source| KeyFileError::Unlock {
                        path: p(),
                        fingerprint: fingerprint.clone(),
                        source,
                    })?,
            ),
        };
        Ok(SigningKey::new(
            signer,
            chosen.primary_fingerprint,
            fingerprint,
            chosen.is_subkey,
        ))
    }
}
