//! The public half as cosign and containers/image store it: a `PUBLIC KEY`
//! PEM block holding the SubjectPublicKeyInfo (uncompressed P-256 point),
//! what a `sigstoreSigned` policy's `keyPath` names.

use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use p256::PublicKey;

use super::pem::{self, PemError};

/// The label of a PKIX public key block.
pub const PUBLIC_KEY_PEM_TYPE: &str = "PUBLIC KEY";

/// Why bytes are not a sigstore public key.
#[derive(Debug, thiserror::Error)]
pub enum PublicKeyError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("unsupported pem type: {0}")]
    PemType(String),
    #[error("parsing public key: not an ECDSA P-256 SubjectPublicKeyInfo")]
    Spki,
}

/// `key` as a `PUBLIC KEY` PEM file (Go's `cryptoutils.MarshalPublicKeyToPEM`).
pub fn public_key_to_pem(key: &PublicKey) -> Result<String, PublicKeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|_| PublicKeyError::Spki)
}

/// The first PEM block of `input` as a P-256 public key.
pub fn public_key_from_pem(input: &[u8]) -> Result<PublicKey, PublicKeyError> {
    let (label, der) = pem::first_block(input)?;
    if label != PUBLIC_KEY_PEM_TYPE {
        return Err(PublicKeyError::PemType(label));
    }
    PublicKey::from_public_key_der(&der).map_err(|_| PublicKeyError::Spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_upstream_and_skopeo_keys() {
        let upstream = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/containers-image/signature/internal/testdata/cosign.pub"
        ))
        .unwrap();
        let key = public_key_from_pem(&upstream).unwrap();
        // Writing gives back Go's bytes exactly.
        assert_eq!(
            public_key_to_pem(&key).unwrap().as_bytes(),
            upstream.as_slice()
        );
        let skopeo = include_bytes!("testdata/skopeo-1.22.pub");
        let key = public_key_from_pem(skopeo).unwrap();
        assert_eq!(public_key_to_pem(&key).unwrap().as_bytes(), skopeo);
    }

    #[test]
    fn refuses_other_blocks() {
        let private = include_bytes!("testdata/skopeo-1.22.private");
        assert!(matches!(
            public_key_from_pem(private),
            Err(PublicKeyError::PemType(_))
        ));
        let bogus = pem::encode(PUBLIC_KEY_PEM_TYPE, b"\x30\x00").unwrap();
        assert!(matches!(
            public_key_from_pem(bogus.as_bytes()),
            Err(PublicKeyError::Spki)
        ));
    }
}
