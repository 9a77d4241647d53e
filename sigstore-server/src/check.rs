//! What an upload must be before it is stored.
//!
//! Storing garbage would break every reader of the image: containers/image
//! aborts the whole policy evaluation on a signature it cannot parse
//! (docs/trust-formats.md §4.4). So an upload must be a simple-signing
//! OpenPGP message (§2.2 sniffing) whose payload names the digest in the
//! path (§1.3 parsing). [`Structural`] checks that shape without keys;
//! [`SignedBy`] (`--require-signer KEYRING`) additionally verifies the
//! signature against the keyring, exactly as `signedBy` would. Both delegate
//! the OpenPGP and payload rules to `vouch-verify`, so the server accepts
//! precisely what vouch (and podman) will later read.

use std::time::SystemTime;

use vouch_verify::keyring::Keyring;
use vouch_verify::sniff::{sniff, SignatureBlob};

/// Who signed an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// Primary fingerprint when verified against a keyring, else the
    /// unverified issuer key ID (16 hex digits).
    pub key: String,
    pub verified: bool,
    /// The identity the payload claims (logged, never enforced: the
    /// lookaside path and the signed reference legitimately differ).
    pub docker_reference: String,
}

/// Why an upload was refused (answered 400 with this text).
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("not a simple-signing signature: {0}")]
    NotASignature(String),
    #[error("payload names digest {claimed}, the path says {path}")]
    DigestMismatch { claimed: String, path: String },
    #[error("signature not accepted: {0}")]
    Untrusted(String),
}

/// The check applied to every upload body; `repo` and `digest` come from
/// the request path (`ns/app`, `sha256:…`).
pub trait UploadCheck: Send + Sync {
    fn check(&self, repo: &str, digest: &str, body: &[u8]) -> Result<SignerInfo, Rejection>;
}

/// Shape only: a simple-signing message whose payload names `digest`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Structural;

impl UploadCheck for Structural {
    fn check(&self, _repo: &str, digest: &str, body: &[u8]) -> Result<SignerInfo, Rejection> {
        let message = simple_signing(body)?;
        let dump = vouch_verify::signature::untrusted_dump(message)
            .map_err(|e| Rejection::NotASignature(e.to_string()))?;
        same_digest(&dump.contents.untrusted_docker_manifest_digest, digest)?;
        Ok(SignerInfo {
            key: dump.untrusted_short_key_identifier,
            verified: false,
            docker_reference: dump.contents.untrusted_docker_reference,
        })
    }
}

/// Shape plus a good signature by one of the keyring's keys.
pub struct SignedBy {
    keys: Keyring,
}

impl SignedBy {
    /// `None` when the blob holds no certificate (a typo'd keyring must not
    /// silently reject every upload, nor accept any).
    pub fn new(keyring: &[u8]) -> Option<Self> {
        let keys = Keyring::import(keyring);
        (!keys.is_empty()).then_some(SignedBy { keys })
    }

    pub fn fingerprints(&self) -> &[String] {
        self.keys.identities()
    }
}

impl UploadCheck for SignedBy {
    fn check(&self, _repo: &str, digest: &str, body: &[u8]) -> Result<SignerInfo, Rejection> {
        let message = simple_signing(body)?;
        let verified = vouch_verify::mechanism::verify(&self.keys, message, SystemTime::now())
            .map_err(|e| Rejection::Untrusted(vouch_image::chain::one_line(&e)))?;
        let claim = vouch_verify::untrusted::UntrustedSimpleSigning::from_verified(&verified)
            .map_err(|e| Rejection::NotASignature(e.to_string()))?;
        same_digest(&claim.untrusted_docker_manifest_digest, digest)?;
        Ok(SignerInfo {
            key: verified.key_fingerprint().to_string(),
            verified: true,
            docker_reference: claim.untrusted_docker_reference,
        })
    }
}

fn simple_signing(body: &[u8]) -> Result<&[u8], Rejection> {
    match sniff(body) {
        Ok(SignatureBlob::SimpleSigning(m)) => Ok(m),
        Ok(SignatureBlob::Sigstore(_) | SignatureBlob::Bundle(_)) => Err(Rejection::NotASignature(
            "sigstore (cosign) signatures are not served from lookaside".into(),
        )),
        Err(e) => Err(Rejection::NotASignature(e.to_string())),
    }
}

fn same_digest(claimed: &str, path: &str) -> Result<(), Rejection> {
    if claimed == path {
        Ok(())
    } else {
        Err(Rejection::DigestMismatch {
            claimed: claimed.to_string(),
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn fixture(rel: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/containers-image/");
        std::fs::read(format!("{p}{rel}")).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
    }

    pub const TEST_DIGEST: &str =
        "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";
    const TEST_KEY: &str = "08CD26E446E2E95249B7A405E932F44B23E8DD43";

    #[test]
    fn structural() {
        let sig = fixture("signature/fixtures/image.signature");
        let info = Structural
            .check("testing/manifest", TEST_DIGEST, &sig)
            .unwrap();
        assert_eq!(info.key, "E932F44B23E8DD43");
        assert!(!info.verified);
        assert_eq!(info.docker_reference, "testing/manifest");
        let other = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            Structural.check("x", &other, &sig),
            Err(Rejection::DigestMismatch { .. })
        ));
        for garbage in [
            &b""[..],
            b"hello",
            b"\xa3\x01\x02\x03",
            b"-----BEGIN PGP MESSAGE-----\n",
        ] {
            assert!(matches!(
                Structural.check("x", TEST_DIGEST, garbage),
                Err(Rejection::NotASignature(_))
            ));
        }
        let bad_payload = fixture("signature/fixtures/invalid-blob.signature");
        assert!(Structural.check("x", TEST_DIGEST, &bad_payload).is_err());
        // The `\0simple-signing\n` envelope is understood too.
        let mut wrapped = b"\0simple-signing\n".to_vec();
        wrapped.extend_from_slice(&sig);
        assert!(Structural.check("x", TEST_DIGEST, &wrapped).is_ok());
    }

    #[test]
    fn signed_by() {
        let sig = fixture("signature/fixtures/image.signature");
        let check = SignedBy::new(&fixture("signature/fixtures/public-key.gpg")).unwrap();
        let info = check.check("x", TEST_DIGEST, &sig).unwrap();
        assert_eq!((info.key.as_str(), info.verified), (TEST_KEY, true));
        let unknown = fixture("signature/fixtures/unknown-key.signature");
        assert!(matches!(
            check.check("x", TEST_DIGEST, &unknown),
            Err(Rejection::Untrusted(_))
        ));
        let other = SignedBy::new(&fixture("signature/fixtures/public-key-2.gpg")).unwrap();
        assert!(matches!(
            other.check("x", TEST_DIGEST, &sig),
            Err(Rejection::Untrusted(_))
        ));
        assert!(SignedBy::new(b"not a key").is_none());
    }
}
