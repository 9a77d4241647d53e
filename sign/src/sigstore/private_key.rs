//! The encrypted sigstore private key file: one PEM block whose bytes are a
//! passphrase [`Envelope`] around the PKCS#8 DER of an ECDSA P-256 key
//! (containers/image `signature/sigstore/copied.go`, from cosign).
//!
//! Both PEM labels cosign has used are read. We write the older
//! `ENCRYPTED COSIGN PRIVATE KEY`, as containers/image (and so skopeo 1.22
//! and podman) still does: every cosign release reads it, while only
//! recent ones read `ENCRYPTED SIGSTORE PRIVATE KEY`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use p256::SecretKey;
use zeroize::Zeroizing;

use super::envelope::{Envelope, EnvelopeError};
use super::pem::{self, PemError};

/// The label containers/image writes (and cosign before 2.0).
pub const COSIGN_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The label current cosign writes.
pub const SIGSTORE_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// A key file is under a kilobyte; anything this big is not one, and is
/// refused before it is buffered.
pub const MAX_PRIVATE_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Why a private key file could not be used; names the file.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreKeyError {
    #[error("reading private key from {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("private key {}: larger than {limit} bytes, not a key file", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("private key {}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: KeyDecodeError,
    },
}

/// Why key bytes are not a usable encrypted sigstore private key.
#[derive(Debug, thiserror::Error)]
pub enum KeyDecodeError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("unsupported pem type: {0}")]
    PemType(String),
    #[error("decrypt")]
    Envelope(#[from] EnvelopeError),
    #[error("parsing private key: not an ECDSA P-256 key in PKCS#8 form")]
    Pkcs8,
    /// containers/image signs with RSA, ECDSA and Ed25519 keys, on the
    /// curves Go's x509 parses.
    #[error("parsing private key: not an RSA, ECDSA (P-224, P-256, P-384, P-521) or Ed25519 key in PKCS#8 form")]
    UnsupportedKey,
}

/// A parsed key file, not yet decrypted (decrypting costs a deliberate
/// scrypt; parsing is cheap and is what the fuzzer drives).
pub struct EncryptedPrivateKey {
    envelope: Envelope,
}

impl EncryptedPrivateKey {
    /// Parses the PEM block and the envelope inside it.
    pub fn parse(file: &[u8]) -> Result<Self, KeyDecodeError> {
        let (label, bytes) = pem::first_block(file)?;
        if label != COSIGN_PRIVATE_KEY_PEM_TYPE && label != SIGSTORE_PRIVATE_KEY_PEM_TYPE {
            return Err(KeyDecodeError::PemType(label));
        }
        Ok(Self {
            envelope: Envelope::parse(&bytes)?,
        })
    }

    /// Opens the envelope with `passphrase` and reads the P-256 key inside.
    pub fn decrypt(&self, passphrase: &[u8]) -> Result<SecretKey, KeyDecodeError> {
        let der = self.decrypt_pkcs8(passphrase)?;
        secret_key_from_pkcs8(&der)
    }

    /// Opens the envelope with `passphrase`: the PKCS#8 DER inside, of
    /// whatever key type (wiped when dropped).
    pub fn decrypt_pkcs8(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyDecodeError> {
        Ok(self.envelope.open(passphrase)?)
    }

    /// Reads `path` (size-capped) and parses it; errors name the file.
    pub fn read_file(path: &Path) -> Result<Self, SigstoreKeyError> {
        let bytes = read_capped(path)?;
        Self::parse(&bytes).map_err(|source| SigstoreKeyError::Decode {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The PKCS#8 DER inside a decrypted envelope.
pub fn secret_key_from_pkcs8(der: &[u8]) -> Result<SecretKey, KeyDecodeError> {
    SecretKey::from_pkcs8_der(der).map_err(|_| KeyDecodeError::Pkcs8)
}

/// The encrypted PEM file for `key` under `passphrase`.
pub fn encode_encrypted(key: &SecretKey, passphrase: &[u8]) -> Result<Vec<u8>, KeyDecodeError> {
    let der = key.to_pkcs8_der().map_err(|_| KeyDecodeError::Pkcs8)?;
    encode_encrypted_pkcs8(der.as_bytes(), passphrase)
}

/// The encrypted PEM file for a PKCS#8 DER key of any type (what cosign
/// writes for the RSA, ECDSA and Ed25519 keys it imports).
pub fn encode_encrypted_pkcs8(der: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, KeyDecodeError> {
    let envelope = Envelope::seal(der, passphrase)?;
    Ok(pem::encode(COSIGN_PRIVATE_KEY_PEM_TYPE, &envelope.to_json())?.into_bytes())
}

fn read_capped(path: &Path) -> Result<Vec<u8>, SigstoreKeyError> {
    let read_err = |source| SigstoreKeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_PRIVATE_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_PRIVATE_KEY_FILE_BYTES {
        return Err(SigstoreKeyError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_PRIVATE_KEY_FILE_BYTES,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKOPEO_KEY: &[u8] = include_bytes!("testdata/skopeo-1.22.private");

    #[test]
    fn reads_a_key_skopeo_wrote() {
        let key = EncryptedPrivateKey::parse(SKOPEO_KEY).unwrap();
        key.decrypt(b"pass123").unwrap();
        let err = key.decrypt(b"wrong").unwrap_err();
        assert!(matches!(
            err,
            KeyDecodeError::Envelope(EnvelopeError::Decryption)
        ));
    }

    #[test]
    fn round_trips_and_accepts_both_labels() {
        let secret = SecretKey::random(&mut rand_core::OsRng);
        let pem = encode_encrypted(&secret, b"pw").unwrap();
        let text = String::from_utf8(pem.clone()).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let back = EncryptedPrivateKey::parse(&pem)
            .unwrap()
            .decrypt(b"pw")
            .unwrap();
        assert_eq!(back.to_bytes(), secret.to_bytes());

        let relabelled = text.replace("COSIGN", "SIGSTORE");
        EncryptedPrivateKey::parse(relabelled.as_bytes()).unwrap();
        let other = text.replace("ENCRYPTED COSIGN PRIVATE KEY", "EC PRIVATE KEY");
        assert_eq!(
            EncryptedPrivateKey::parse(other.as_bytes())
                .err()
                .unwrap()
                .to_string(),
            "unsupported pem type: EC PRIVATE KEY"
        );
    }

    #[test]
    fn refuses_non_p256_contents() {
        assert!(matches!(
            secret_key_from_pkcs8(b"\x30\x00"),
            Err(KeyDecodeError::Pkcs8)
        ));
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.private");
        std::fs::write(&big, vec![b'A'; 100_000]).unwrap();
        let err = EncryptedPrivateKey::read_file(&big).err().unwrap();
        assert!(matches!(err, SigstoreKeyError::TooLarge { .. }));
        assert!(err.to_string().contains("big.private"), "{err}");

        let missing = dir.path().join("missing.private");
        let err = EncryptedPrivateKey::read_file(&missing).err().unwrap();
        assert!(err.to_string().contains("missing.private"), "{err}");

        let junk = dir.path().join("junk.private");
        std::fs::write(&junk, "hello").unwrap();
        let err = EncryptedPrivateKey::read_file(&junk).err().unwrap();
        assert!(err.to_string().contains("junk.private"), "{err}");
    }
}
