//! vouch-sign: the signing half of containers/image "simple signing".
//!
//! A signature is an OpenPGP signed message whose literal data is a small JSON
//! payload saying "manifest digest D is image R" (docs/trust-formats.md §1–§3).
//! This crate writes that payload byte-for-byte as containers/image does
//! ([`Payload`]), computes the digest it names ([`manifest_digest`]), and signs
//! it with a key from a file or from gpg-agent ([`SigningKey`]) in a shape that
//! Debian 12's skopeo 1.9.3 / podman 4.3 accept: one signature, made by the
//! primary key whenever it can sign. [`sigstore`] does the same for the
//! cosign format: keys, payload and ECDSA P-256 signatures.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use vouch_sign::{Passphrase, SigningKey};
//! let pass = Passphrase::read_file("pass.txt".as_ref())?;
//! let mut key = SigningKey::from_key_file("key.asc".as_ref(), Some(&pass))?;
//! let manifest = std::fs::read("manifest.json")?;
//! let blob = key.sign_manifest(&manifest, "registry.example.com/ns/app:v1")?;
//! std::fs::write("signature-1", blob)?;
//! # Ok(()) }
//! ```

mod agent;
mod key_file;
mod message;
mod passphrase;
mod payload;
mod rsa_crt;
mod select;
pub mod sigstore;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sequoia_openpgp::crypto;

pub use agent::AgentError;
pub use key_file::KeyFileError;
pub use passphrase::{Passphrase, PassphraseError};
pub use payload::{Payload, PayloadError, CREATOR};
pub use select::SelectError;
/// The digest is vocabulary shared with the verifier, so it lives in the image crate.
pub use vouch_image::manifest_digest::{manifest_digest, sha256_digest, DigestError};

/// Why producing a signature failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("computing the manifest digest to sign")]
    Digest(#[from] DigestError),
    #[error("signing with key {fingerprint}")]
    OpenPgp {
        fingerprint: String,
        #[source]
        source: anyhow::Error,
    },
}

/// A loaded signing key: a key file's unlocked secret or a gpg-agent handle.
///
/// Load once and sign many manifests (a multi-arch push signs every instance
/// and the list).
pub struct SigningKey {
    signer: Box<dyn crypto::Signer + Send + Sync>,
    primary_fingerprint: String,
    signing_fingerprint: String,
    is_subkey: bool,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("primary_fingerprint", &self.primary_fingerprint)
            .field("signing_fingerprint", &self.signing_fingerprint)
            .field("is_subkey", &self.is_subkey)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn new(
        signer: Box<dyn crypto::Signer + Send + Sync>,
        primary_fingerprint: String,
        signing_fingerprint: String,
        is_subkey: bool,
    ) -> Self {
        Self {
            signer,
            primary_fingerprint,
            signing_fingerprint,
            is_subkey,
        }
    }

    /// The certificate's primary fingerprint (upper-case hex): what a
    /// policy.json `signedBy` key list is matched against.
    pub fn primary_fingerprint(&self) -> &str {
        &self.primary_fingerprint
    }

    /// The fingerprint of the key that actually signs.
    pub fn signing_fingerprint(&self) -> &str {
        &self.signing_fingerprint
    }

    /// True when the primary key cannot sign and a subkey does: such
    /// signatures are rejected by skopeo/podman built on containers/image
    /// ≤ 5.36 (e.g. Debian 12); callers should warn.
    pub fn is_subkey(&self) -> bool {
        self.is_subkey
    }

    /// Signs `payload`; the signature's creation time is the payload's
    /// timestamp (or now), so both agree.
    pub fn sign_payload(&mut self, payload: &Payload) -> Result<Vec<u8>, SignError> {
        let bytes = payload.to_bytes()?;
        let time = payload
            .timestamp
            .and_then(|t| u64::try_from(t).ok())
            .map(|t| UNIX_EPOCH + Duration::from_secs(t))
            .unwrap_or_else(SystemTime::now);
        message::sign_message(self.signer.as_mut(), &bytes, time).map_err(|source| {
            SignError::OpenPgp {
                fingerprint: self.signing_fingerprint.clone(),
                source,
            }
        })
    }

    /// Signs "`manifest` is `docker_reference`" now, with vouch's creator string.
    ///
    /// `docker_reference` is written verbatim; `push --sign-by` should pass the
    /// destination's fully normalised form (`docker.io/library/busybox:latest`),
    /// `standalone-sign` the user's string (docs/trust-formats.md §1.2).
    pub fn sign_manifest(
        &mut self,
        manifest: &[u8],
        docker_reference: &str,
    ) -> Result<Vec<u8>, SignError> {
        let digest = manifest_digest(manifest)?;
        self.sign_payload(&Payload::new(&digest, docker_reference))
    }
}

#[cfg(test)]
mod tests;
