//! `standalone-verify`: one signature, one manifest, one expected reference,
//! explicit fingerprints — no policy (containers/image
//! `signature/docker.go` `VerifyDockerManifestSignature`; §7).
//!
//! Stricter than policy identity rules: the signed reference must equal the
//! expected one exactly after normalisation (`busybox` ≠ `busybox:latest`),
//! and fingerprints compare case-sensitively, as skopeo does.

use std::time::SystemTime;

use crate::docker_ref::{DockerRef, RefError};
use crate::keyring::Keyring;
use crate::mechanism::{self, MechanismError};
use crate::signature::{accept, Signature, SignatureRejection};
use crate::untrusted::PayloadError;

/// Which keys may have signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedKeys {
    /// Any key of the keyring (skopeo's `any`, only with a public key file).
    Any,
    /// One of these fingerprints (upper-case hex, compared exactly): a
    /// certificate's primary, or the signing subkey's own.
    Fingerprints(Vec<String>),
}

impl ExpectedKeys {
    /// Parses skopeo's `FPRS` argument: `any` or a comma-separated list.
    pub fn parse(arg: &str) -> Self {
        if arg == "any" {
            Self::Any
        } else {
            Self::Fingerprints(arg.split(',').map(str::to_string).collect())
        }
    }
}

/// Why a standalone verification failed; skopeo's wording.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error("Invalid docker reference {value}")]
    ExpectedReference {
        value: String,
        #[source]
        source: RefError,
    },
    #[error(transparent)]
    Mechanism(#[from] MechanismError),
    #[error("Signature by {actual} does not match expected fingerprint(s) {expected:?}")]
    Fingerprint {
        actual: String,
        expected: Vec<String>,
    },
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("Signature for docker digest {0:?} does not match")]
    Digest(String),
    #[error("Invalid docker reference {0} in signature")]
    SignedReference(String),
    #[error("Docker reference {signed:?} does not match {expected:?}")]
    Reference { signed: String, expected: String },
    #[error("computing the manifest digest")]
    ManifestDigest(#[source] vouch_image::manifest_digest::DigestError),
    #[error(transparent)]
    Sigstore(#[from] crate::sigstore::SigstoreRejection),
    #[error(transparent)]
    Bundle(#[from] crate::sigstore::bundle::BundleError),
}

/// The reference the caller expects, parsed as skopeo parses it.
pub(crate) fn parse_expected(expected_reference: &str) -> Result<DockerRef, StandaloneError> {
    DockerRef::parse_normalized(expected_reference).map_err(|source| {
        StandaloneError::ExpectedReference {
            value: expected_reference.to_string(),
            source,
        }
    })
}

/// skopeo's identity rule, stricter than any policy's: the signed
/// reference, normalised, must be exactly the expected one.
pub(crate) fn check_identity(
    expected: &DockerRef,
    expected_reference: &str,
    signed: &str,
) -> Result<(), StandaloneError> {
    match DockerRef::parse_normalized(signed) {
        Err(_) => Err(StandaloneError::SignedReference(signed.to_string())),
        Ok(s) if s.to_string() != expected.to_string() => Err(StandaloneError::Reference {
            signed: signed.to_string(),
            expected: expected_reference.to_string(),
        }),
        Ok(_) => Ok(()),
    }
}

/// Verifies `signature` over `manifest` as `expected_reference`, signed by
/// one of `expected_keys` from `keyring`, at time `now`.
pub fn verify_standalone(
    manifest: &[u8],
    expected_reference: &str,
    expected_keys: &ExpectedKeys,
    keyring: &Keyring,
    signature: &[u8],
    now: SystemTime,
) -> Result<Signature, StandaloneError> {
    let expected = parse_expected(expected_reference)?;
    let verified = mechanism::verify(keyring, signature, now)?;
    let actual = verified.key_fingerprint().to_string();
    if let ExpectedKeys::Fingerprints(list) = expected_keys {
        // The signing subkey's own fingerprint names the key as well as its
        // primary's does (skopeo accepts it: GPGME reports the subkey).
        let signing = verified.signing_fingerprint();
        if !list.iter().any(|f| *f == actual || f == signing) {
            return Err(StandaloneError::Fingerprint {
                actual,
                expected: list.clone(),
            });
        }
    }
    let digest = vouch_image::manifest_digest::manifest_digest(manifest)
        .map_err(StandaloneError::ManifestDigest)?;
    let mut identity_error = None;
    let result = accept(
        &verified,
        &[actual],
        &digest,
        |signed| match check_identity(&expected, expected_reference, signed) {
            Ok(()) => true,
            Err(e) => {
                identity_error = Some(e);
                false
            }
        },
    );
    result.map_err(|e| match e {
        SignatureRejection::Payload(p) => StandaloneError::Payload(p),
        SignatureRejection::DigestMismatch(d) => StandaloneError::Digest(d),
        SignatureRejection::Mechanism(m) => StandaloneError::Mechanism(m),
        SignatureRejection::KeyNotAccepted(k) => StandaloneError::Fingerprint {
            actual: k,
            expected: Vec::new(),
        },
        SignatureRejection::IdentityNotAccepted(s) => identity_error
            .take()
            .unwrap_or(StandaloneError::SignedReference(s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixture, test_now, TEST_DIGEST, TEST_KEY};

    const FPR: &str = "A06D9F7AAD47327032766DEBEB5B0FCF10966A88";

    fn run(reference: &str, keys: &ExpectedKeys, sig: &str) -> Result<Signature, StandaloneError> {
        let keyring = Keyring::import(&fixture("generated/gpg-skopeo-standalone/public-key.gpg"));
        verify_standalone(
            &fixture("generated/gpg-skopeo-standalone/manifest.json"),
            reference,
            keys,
            &keyring,
            &fixture(&format!("generated/gpg-skopeo-standalone/{sig}")),
            test_now(),
        )
    }

    #[test]
    fn skopeo_standalone_fixture() {
        // Fixture README: OK for busybox:latest and its spellings; not for
        // `busybox` or a lower-case fingerprint.
        let fpr = ExpectedKeys::parse(FPR);
        for r in [
            "busybox:latest",
            "docker.io/busybox:latest",
            "index.docker.io/busybox:latest",
        ] {
            let sig = run(r, &fpr, "busybox.signature").unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!(sig.key_fingerprint(), FPR);
            assert_eq!(sig.manifest_digest(), TEST_DIGEST);
        }
        let err = run("busybox", &fpr, "busybox.signature").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Docker reference "docker.io/library/busybox:latest" does not match "busybox""#
        );
        let lower = ExpectedKeys::parse(&FPR.to_lowercase());
        assert!(matches!(
            run("busybox:latest", &lower, "busybox.signature"),
            Err(StandaloneError::Fingerprint { .. })
        ));
        run("busybox:latest", &ExpectedKeys::Any, "busybox.signature").unwrap();
        run(
            "busybox:latest",
            &ExpectedKeys::parse(&format!("{TEST_KEY},{FPR}")),
            "busybox.signature",
        )
        .unwrap();
        // The short identity is stored verbatim and never matches a tagged expectation.
        assert!(matches!(
            run("busybox:latest", &fpr, "short-identity.signature"),
            Err(StandaloneError::Reference { .. })
        ));
        run("busybox", &fpr, "short-identity.signature").unwrap();
        assert!(matches!(
            run("UPPERCASE", &fpr, "busybox.signature"),
            Err(StandaloneError::ExpectedReference { .. })
        ));
    }

    #[test]
    fn subkey_fingerprint_is_accepted_as_well_as_the_primary() {
        // skopeo 1.9.3 accepts the subkey's own fingerprint (GPGME reports
        // the subkey); current upstream also accepts the primary's.
        let keyring = Keyring::import(&fixture("signature/fixtures/public-key-with-subkey.gpg"));
        let run = |fprs: &str| {
            verify_standalone(
                &fixture("signature/fixtures/image.manifest.json"),
                "testing/manifest:latest",
                &ExpectedKeys::parse(fprs),
                &keyring,
                &fixture("signature/fixtures/subkey.signature"),
                test_now(),
            )
        };
        const PRIMARY: &str = "B9F4CDB9FD8C475BFA340AC38D54A947EE396F36";
        const SUBKEY: &str = "57D1D95BBC53BA0EAFF0718CD75B3109B3BAAEAF";
        for fprs in [PRIMARY, SUBKEY, &format!("{TEST_KEY},{SUBKEY}")] {
            let sig = run(fprs).unwrap_or_else(|e| panic!("{fprs}: {e}"));
            assert_eq!(sig.key_fingerprint(), PRIMARY);
        }
        assert!(matches!(
            run(&SUBKEY.to_lowercase()),
            Err(StandaloneError::Fingerprint { .. })
        ));
        assert!(matches!(
            run(TEST_KEY),
            Err(StandaloneError::Fingerprint { .. })
        ));
    }

    #[test]
    fn upstream_docker_cases() {
        // §8.1 #32–#39.
        let keyring = Keyring::import(&fixture("signature/fixtures/public-key.gpg"));
        let manifest = fixture("signature/fixtures/image.manifest.json");
        let keys = ExpectedKeys::parse(TEST_KEY);
        let run = |m: &[u8], r: &str, k: &ExpectedKeys, sig: &str| {
            verify_standalone(
                m,
                r,
                k,
                &keyring,
                &fixture(&format!("signature/fixtures/{sig}")),
                test_now(),
            )
        };
        for r in ["testing/manifest", "docker.io/testing/manifest"] {
            let s = run(&manifest, r, &keys, "image.signature").unwrap();
            assert_eq!(s.docker_reference(), "testing/manifest");
        }
        assert!(run(&manifest, "UPPERCASEISINVALID", &keys, "image.signature").is_err());
        let bad_manifest = fixture("signature/fixtures/v2s1-invalid-signatures.manifest.json");
        assert!(run(&bad_manifest, "testing/manifest", &keys, "image.signature").is_err());
        assert!(run(&manifest, "testing/manifest", &keys, "corrupt.signature").is_err());
        let others = ExpectedKeys::parse(
            "0123456789ABCDEF0123456789ABCDEF01234567,DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF",
        );
        assert!(run(&manifest, "testing/manifest", &others, "image.signature").is_err());
        let with = ExpectedKeys::parse(&format!(
            "{TEST_KEY},0123456789ABCDEF0123456789ABCDEF01234567"
        ));
        run(&manifest, "testing/manifest", &with, "image.signature").unwrap();
        let err = run(
            &manifest,
            "testing/manifest",
            &keys,
            "invalid-reference.signature",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid docker reference UPPERCASEISINVALID in signature"
        );
        assert!(run(
            &manifest,
            "example.com/does-not/match",
            &keys,
            "image.signature"
        )
        .is_err());
        let err = run(
            b"unexpected manifest",
            "testing/manifest",
            &keys,
            "image.signature",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Signature for docker digest {TEST_DIGEST:?} does not match")
        );
    }
}
