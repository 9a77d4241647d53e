//! Sigstore (cosign-format) keys and signatures, as containers/image and
//! skopeo ≥ 1.9 make them with `--sign-by-sigstore-private-key`.
//!
//! A key pair is an ECDSA P-256 key (the one scheme cosign's signature spec
//! requires, and the one vouch generates; RSA, other ECDSA curves and
//! Ed25519 keys made elsewhere sign too, as in containers/image) stored as an encrypted PEM file ([`private_key`]) and a
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
    #[error("signing failed")]
    Crypto(#[source] openssl::error::ErrorStack),
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
    key: KeyKind,
}

/// P-256, the key every tool generates, signs in pure Rust; the other types
/// containers/image signs with (`signature/sigstore/copied.go`
/// `loadPrivateKey`: RSA PKCS#1 v1.5 and ECDSA over SHA-256, pure Ed25519)
/// go through OpenSSL.
#[derive(Clone)]
enum KeyKind {
    P256(SigningKey),
    OpenSsl(openssl::pkey::PKey<openssl::pkey::Private>),
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
        passphrase
            .password()
            .map(|p| encrypted.decrypt_pkcs8(p))
            .and_then(|der| Self::from_pkcs8_der(&der))
            .map_err(|source| SigstoreKeyError::Decode {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Wraps an already decoded key.
    pub fn from_secret_key(secret: &SecretKey) -> Self {
        Self {
            key: KeyKind::P256(SigningKey::from(secret)),
        }
    }

    /// The key in decrypted PKCS#8 DER: P-256, else another key type
    /// containers/image signs with.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyDecodeError> {
        if let Ok(secret) = private_key::secret_key_from_pkcs8(der) {
            return Ok(Self::from_secret_key(&secret));
        }
        use openssl::nid::Nid;
        use openssl::pkey::{Id, PKey};
        let key = PKey::private_key_from_pkcs8(der).map_err(|_| KeyDecodeError::UnsupportedKey)?;
        let usable = match key.id() {
            Id::RSA | Id::ED25519 => true,
            Id::EC => key
                .ec_key()
                .ok()
                .and_then(|k| k.group().curve_name())
                .is_some_and(|c| {
                    [
                        Nid::SECP224R1,
                        Nid::X9_62_PRIME256V1,
                        Nid::SECP384R1,
                        Nid::SECP521R1,
                    ]
                    .contains(&c)
                }),
            _ => false,
        };
        if !usable {
            return Err(KeyDecodeError::UnsupportedKey);
        }
        Ok(Self {
            key: KeyKind::OpenSsl(key),
        })
    }

    /// The matching `PUBLIC KEY` PEM, for a policy's `keyPath`.
    pub fn public_key_pem(&self) -> Result<String, PublicKeyError> {
        match &self.key {
            KeyKind::P256(k) => public_key_to_pem(&p256::PublicKey::from(k.verifying_key())),
            KeyKind::OpenSsl(k) => k
                .public_key_to_pem()
                .ok()
                .and_then(|pem| String::from_utf8(pem).ok())
                .ok_or(PublicKeyError::Spki),
        }
    }

    /// The raw signature over `message` as sigstore encodes it (DER ECDSA,
    /// PKCS#1 v1.5 RSA, or Ed25519): what a `.sig` annotation and a DSSE
    /// envelope both carry, base64-encoded.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, SigstoreSignError> {
        Ok(match &self.key {
            KeyKind::P256(k) => {
                let signature: Signature = k.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            KeyKind::OpenSsl(k) => openssl_sign(k, message).map_err(SigstoreSignError::Crypto)?,
        })
    }

    /// The public key's SubjectPublicKeyInfo DER (what cosign hashes into
    /// a bundle's key hint).
    pub fn public_key_der(&self) -> Result<Vec<u8>, PublicKeyError> {
        use p256::pkcs8::EncodePublicKey as _;
        match &self.key {
            KeyKind::P256(k) => p256::PublicKey::from(k.verifying_key())
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|_| PublicKeyError::Spki),
            KeyKind::OpenSsl(k) => k.public_key_to_der().map_err(|_| PublicKeyError::Spki),
        }
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
        self.sign_payload(payload)
    }

    /// Signs prepared payload bytes (they are signed exactly as given).
    pub fn sign_payload(&self, payload: Vec<u8>) -> Result<SigstoreComponents, SigstoreSignError> {
        let der = self.sign_bytes(&payload)?;
        let annotations =
            BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), STANDARD.encode(der))]);
        Ok(SigstoreComponents {
            mime_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            payload,
            annotations,
        })
    }
}

/// sigstore's signers: SHA-256 then ECDSA (DER) or RSA PKCS#1 v1.5 (OpenSSL's
/// default RSA padding); Ed25519 signs the message itself.
fn openssl_sign(
    key: &openssl::pkey::PKey<openssl::pkey::Private>,
    payload: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    use openssl::sign::Signer;
    if key.id() == openssl::pkey::Id::ED25519 {
        return Signer::new_without_digest(key)?.sign_oneshot_to_vec(payload);
    }
    let mut signer = Signer::new(openssl::hash::MessageDigest::sha256(), key)?;
    signer.update(payload)?;
    signer.sign_to_vec()
}

#[cfg(test)]
mod tests;
