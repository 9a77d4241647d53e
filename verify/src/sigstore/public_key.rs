//! Sigstore public keys: reading them from PEM and checking a signature.
//!
//! containers/image reads a key with sigstore's `UnmarshalPEMToPublicKey`
//! (the *first* PEM block only; `PUBLIC KEY` as PKIX or `RSA PUBLIC KEY` as
//! PKCS#1) and verifies with `LoadVerifier(key, SHA256)`: ECDSA (DER
//! signature over SHA-256), RSA PKCS#1 v1.5 with SHA-256, or pure Ed25519.
//! OpenSSL does the parsing and the arithmetic.

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;

use super::pem;

/// A public key a requirement trusts (or one taken from a verified certificate).
#[derive(Clone)]
pub struct PublicKey {
    key: PKey<Public>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?})", self.key.id())
    }
}

/// Why key material is not a usable public key; sigstore's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("PEM decoding failed")]
    NotPem,
    #[error("unknown Public key PEM file type: {0}. Are you passing the correct public key?")]
    UnknownPemType(String),
    #[error("{0}")]
    Der(String),
    #[error("unsupported public key type")]
    Unsupported,
}

impl PublicKey {
    /// The key in the first PEM block of `pem_bytes`.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Self, KeyError> {
        let (block, _) = pem::decode(pem_bytes).ok_or(KeyError::NotPem)?;
        let der_error = |e: openssl::error::ErrorStack| KeyError::Der(openssl_reason(&e));
        let key = match block.kind.as_str() {
            "PUBLIC KEY" => PKey::public_key_from_der(&block.der).map_err(der_error)?,
            "RSA PUBLIC KEY" => Rsa::public_key_from_der_pkcs1(&block.der)
                .and_then(PKey::from_rsa)
                .map_err(der_error)?,
            other => return Err(KeyError::UnknownPemType(other.to_string())),
        };
        Self::from_pkey(key)
    }

    pub(crate) fn from_pkey(key: PKey<Public>) -> Result<Self, KeyError> {
        match key.id() {
            Id::EC | Id::RSA | Id::ED25519 => Ok(Self { key }),
            _ => Err(KeyError::Unsupported),
        }
    }

    /// Whether this is an ECDSA key (Rekor keys must be).
    pub fn is_ecdsa(&self) -> bool {
        self.key.id() == Id::EC
    }

    /// The PKIX (SubjectPublicKeyInfo) DER form, as Go's `MarshalPKIXPublicKey`.
    pub fn spki_der(&self) -> Vec<u8> {
        self.key.public_key_to_der().unwrap_or_default()
    }

    /// The key re-marshalled as one `PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> Vec<u8> {
        self.key.public_key_to_pem().unwrap_or_default()
    }

    /// Checks `signature` over `message` as sigstore's verifier for this key type does.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let ok = match self.key.id() {
            Id::ED25519 => Verifier::new_without_digest(&self.key)
                .and_then(|mut v| v.verify_oneshot(signature, message)),
            _ => Verifier::new(MessageDigest::sha256(), &self.key).and_then(|mut v| {
                v.update(message)?;
                v.verify(signature)
            }),
        };
        match (ok, self.key.id()) {
            (Ok(true), _) => Ok(()),
            (_, Id::EC) => Err("invalid signature when validating ASN.1 encoded signature".into()),
            (_, Id::RSA) => Err("crypto/rsa: verification error".into()),
            _ => Err("failed to verify signature".into()),
        }
    }

    /// Checks a DER ECDSA signature over an already computed digest (Go's `ecdsa.VerifyASN1`).
    pub fn verify_ecdsa_digest(&self, digest: &[u8], signature: &[u8]) -> bool {
        let Ok(ec) = self.key.ec_key() else {
            return false;
        };
        openssl::ecdsa::EcdsaSig::from_der(signature)
            .and_then(|s| s.verify(digest, &ec))
            .unwrap_or(false)
    }
}

/// The first OpenSSL reason, without its library/function noise.
pub(crate) fn openssl_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|r| r.reason())
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture;

    #[test]
    fn reads_keys_like_sigstore() {
        let k = PublicKey::from_pem(&fixture("signature/fixtures/cosign.pub")).unwrap();
        assert!(k.is_ecdsa());
        let rsa = PublicKey::from_pem(&fixture("signature/fixtures/some-rsa-key.pub")).unwrap();
        assert!(!rsa.is_ecdsa());
        // Only the first block counts; what follows is ignored.
        let mut two = fixture("signature/fixtures/cosign.pub");
        two.extend(b"garbage");
        assert!(PublicKey::from_pem(&two).is_ok());
        assert_eq!(
            PublicKey::from_pem(b"this is invalid").unwrap_err(),
            KeyError::NotPem
        );
        assert_eq!(
            PublicKey::from_pem(&fixture("signature/fixtures/fulcio-cert"))
                .unwrap_err()
                .to_string(),
            "unknown Public key PEM file type: CERTIFICATE. Are you passing the correct public key?"
        );
        assert!(matches!(
            PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n"),
            Err(KeyError::Der(_))
        ));
        // The round trip is the PKIX form of the file.
        assert_eq!(
            PublicKey::from_pem(&k.to_pem()).unwrap().spki_der(),
            k.spki_der()
        );
    }
}
