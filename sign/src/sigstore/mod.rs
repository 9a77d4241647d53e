//! Sigstore (cosign-format) keys and signatures, as containers/image and
//! skopeo ≥ 1.9 make them with `--sign-by-sigstore-private-key`.
//!
//! A key pair is an ECDSA P-256 key (the one scheme cosign's signature spec
//! requires) stored as an encrypted PEM file ([`private_key`]) and a
//! `PUBLIC KEY` PEM file ([`public_key`]). A signature is ECDSA-SHA256, DER,
//! over the payload bytes ([`payload`]), base64 in the layer annotation, and
//! travels as [`SigstoreComponents`], the one form registry code, `dir:`
//! images and the verifier share.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use vouch_sign::{sigstore::SigstoreSigningKey, Passphrase};
//! let pass = Passphrase::read_file("pass.txt".as_ref())?;
//! let key = SigstoreSigningKey::load("my-key.private".as_ref(), &pass)?;
//! let sig = key.sign("registry.example.com/ns/app:v1", "sha256:0123…")?;
//! std::fs::write("signature-1", sig.to_blob())?;
//! # Ok(()) }
//! ```

pub mod bundle;
mod envelope;
pub mod key_files;
mod passphrase_file;
pub mod payload;
mod pem;
pub mod private_key;
pub mod public_key;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::SecretKey;
use vouch_image::docker_ref::{self, DigestFormatError, DockerRef, RefError};
use vouch_image::sigstore_blob::{
    SigstoreComponents, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};

pub use bundle::{sign_image_bundle, BundleSignError};
pub use envelope::EnvelopeError;
pub use passphrase_file::read_passphrase_first_line;
pub use pem::PemError;
pub use private_key::{EncryptedPrivateKey, KeyDecodeError, SigstoreKeyError};
pub use public_key::{public_key_from_pem, public_key_to_pem, PublicKeyError};

use crate::{Passphrase, PayloadError};

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreSignError {
    #[error("invalid docker reference {reference:?} to sign")]
    Reference {
        reference: String,
        #[source]
        source: RefError,
    },
    /// containers/image's refusal: a signature must pin a tag or digest.
    #[error("reference {0} can’t be signed, it has neither a tag nor a digest")]
    NameOnly(String),
    #[error("invalid manifest digest {digest:?} to sign")]
    Digest {
        digest: String,
        #[source]
        source: DigestFormatError,
    },
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// Why a key pair could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateKeyError {
    #[error("encoding the private key")]
    Private(#[source] KeyDecodeError),
    #[error("encoding the public key")]
    Public(#[source] PublicKeyError),
}

/// A new key pair in its file forms; the fields keep the halves apart.
pub struct GeneratedKeyPair {
    /// The encrypted private key PEM (`P.private`, mode 0600).
    pub private_pem: Vec<u8>,
    /// The `PUBLIC KEY` PEM (`P.pub`), what policies name in `keyPath`.
    pub public_pem: Vec<u8>,
}

impl fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("public_pem", &String::from_utf8_lossy(&self.public_pem))
            .finish_non_exhaustive()
    }
}

/// A fresh P-256 key pair, the private half encrypted under `passphrase`
/// (containers/image `sigstore.GenerateKeyPair`).
pub fn generate_key_pair(passphrase: &Passphrase) -> Result<GeneratedKeyPair, GenerateKeyError> {
    let secret = SecretKey::random(&mut rand_core::OsRng);
    let private_pem = passphrase
        .password()
        .map(|p| private_key::encode_encrypted(&secret, p))
        .map_err(GenerateKeyError::Private)?;
    let public_pem = public_key_to_pem(&secret.public_key())
        .map_err(GenerateKeyError::Public)?
        .into_bytes();
    Ok(GeneratedKeyPair {
        private_pem,
        public_pem,
    })
}

/// A decrypted sigstore private key, ready to sign many manifests (load
/// once: decrypting costs a deliberate scrypt).
#[derive(Clone)]
pub struct SigstoreSigningKey {
    key: SigningKey,
}

impl fmt::Debug for SigstoreSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigstoreSigningKey(<redacted>)")
    }
}

impl SigstoreSigningKey {
    /// Reads and decrypts a private key file.
    pub fn load(path: &Path, passphrase: &Passphrase) -> Result<Self, SigstoreKeyError> {
        let encrypted = EncryptedPrivateKey::read_file(path)?;
        let secret = passphrase
            .password()
            .map(|p| encrypted.decrypt(p))
            .map_err(|source| SigstoreKeyError::Decode {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self::from_secret_key(&secret))
    }

    /// Wraps an already decoded key.
    pub fn from_secret_key(secret: &SecretKey) -> Self {
        Self {
            key: SigningKey::from(secret),
        }
    }

    /// The matching `PUBLIC KEY` PEM, for a policy's `keyPath`.
    pub fn public_key_pem(&self) -> Result<String, PublicKeyError> {
        public_key_to_pem(&p256::PublicKey::from(self.key.verifying_key()))
    }

    /// One signature over `manifest_digest` ("sha256:…") for `docker_reference` (a full docker reference string)
    ///
    /// The reference must be canonical (`docker.io/library/busybox:latest`,
    /// not `busybox`) and carry a tag or digest: it is written verbatim and
    /// a verifier's `signedIdentity` compares it as written.
    pub fn sign(
        &self,
        docker_reference: &str,
        manifest_digest: &str,
    ) -> Result<SigstoreComponents, SigstoreSignError> {
        let parsed = DockerRef::parse_canonical(docker_reference).map_err(|source| {
            SigstoreSignError::Reference {
                reference: docker_reference.to_string(),
                source,
            }
        })?;
        if parsed.is_name_only() {
            return Err(SigstoreSignError::NameOnly(docker_reference.to_string()));
        }
        docker_ref::validate_digest(manifest_digest).map_err(|source| {
            SigstoreSignError::Digest {
                digest: manifest_digest.to_string(),
                source,
            }
        })?;
        let payload = payload::sigstore_payload(manifest_digest, docker_reference)?;
        Ok(self.sign_payload(payload))
    }

    /// Signs prepared payload bytes (they are signed exactly as given).
    pub fn sign_payload(&self, payload: Vec<u8>) -> SigstoreComponents {
        let signature: Signature = self.key.sign(&payload);
        let annotations = BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_string(),
            STANDARD.encode(signature.to_der().as_bytes()),
        )]);
        SigstoreComponents {
            mime_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            payload,
            annotations,
        }
    }
}

#[cfg(test)]
mod tests;
