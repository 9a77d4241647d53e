//! `standalone-verify` for sigstore signatures: one stored signature, one
//! manifest, one expected reference, explicit public keys — no policy.
//!
//! skopeo has no sigstore form of `standalone-verify`; this mirrors its GPG
//! one ([`crate::standalone`]): the signature must verify with one of the
//! given keys (the library's sigstore path, [`verify_signed_payload`]), the
//! payload must name the manifest's digest, and its reference must equal the
//! expected one exactly after normalisation. A policy's `signedIdentity`
//! rules do not apply.
//!
//! The evidence is either that stored form or a Sigstore bundle (what
//! cosign 3 attaches as a referrer), sharing the digest and identity checks.
//! A bundle whose in-toto subject has no name signs the digest only; it is
//! accepted only when the expected reference is that digest, the
//! standalone counterpart of the policy rule in
//! [`crate::sigstore::bundle::image`].
//!
//! With Rekor keys given, either kind must carry a log entry they sign
//! (the SET, or for a bundle an inclusion proof with a signed checkpoint);
//! without them the log is not consulted, as a policy without
//! `rekorPublicKey*` does not.

use std::time::SystemTime;

use vouch_image::sigstore_blob::{SigstoreBlobError, SigstoreComponents};

use crate::sigstore::accept::{verify_signed_payload, SigstoreSignature};
use crate::sigstore::bundle::{self, BundleError};
use crate::sigstore::public_key::PublicKey;
use crate::sigstore::trust_root::TrustRoot;
use crate::standalone::{check_identity, parse_expected, StandaloneError};

/// What was given as the signature, parsed but untrusted.
#[derive(Clone, Debug)]
pub enum SigstoreEvidence {
    /// containers/image's stored form (`\0sigstore-json\n` + JSON, as a
    /// `dir:` image's `signature-N`), or the same JSON without the prefix.
    Stored(SigstoreComponents),
    /// A Sigstore bundle (`application/vnd.dev.sigstore.bundle…+json`).
    Bundle(Box<bundle::Bundle>),
}

/// Why a signature file is not evidence we read.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Stored(#[from] SigstoreBlobError),
    #[error(transparent)]
    Bundle(#[from] bundle::ParseError),
}

/// Just enough of a JSON document to tell a bundle from a stored signature.
#[derive(serde::Deserialize)]
struct Sniff {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

const BUNDLE_MEDIA_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

impl SigstoreEvidence {
    /// Classifies and parses `blob`; a blob that is none of the known
    /// shapes is an error of the input, not a rejected signature.
    pub fn parse(blob: &[u8]) -> Result<Self, EvidenceError> {
        if blob.first() != Some(&b'{') {
            return Ok(Self::Stored(SigstoreComponents::from_blob(blob)?));
        }
        let is_bundle = serde_json::from_slice::<Sniff>(blob)
            .ok()
            .and_then(|s| s.media_type)
            .is_some_and(|m| m.starts_with(BUNDLE_MEDIA_PREFIX));
        Ok(if is_bundle {
            Self::Bundle(Box::new(bundle::parse(blob)?))
        } else {
            Self::Stored(SigstoreComponents::from_json(blob)?)
        })
    }
}

/// Verifies `evidence` over `manifest` as `expected_reference`, signed by
/// one of `keys` (and logged under one of `rekor`, when given), at time `now`.
pub fn verify_sigstore_standalone(
    manifest: &[u8],
    expected_reference: &str,
    keys: &[PublicKey],
    rekor: Option<&[PublicKey]>,
    evidence: &SigstoreEvidence,
    now: SystemTime,
) -> Result<SigstoreSignature, StandaloneError> {
    let expected = parse_expected(expected_reference)?;
    let root = TrustRoot::Keys {
        keys: keys.to_vec(),
        rekor: rekor.map(<[PublicKey]>::to_vec),
    };
    let signed = match evidence {
        SigstoreEvidence::Stored(c) => verify_signed_payload(root, c, now)?,
        SigstoreEvidence::Bundle(b) => {
            let signed = bundle::image::signed_subject(&root, manifest, b, now)?;
            if signed.docker_reference.is_empty() {
                // Only the digest is signed: the expected reference must be it.
                if expected.digest() != Some(signed.manifest_digest.as_str()) {
                    return Err(BundleError::UnnamedSubject(signed.manifest_digest).into());
                }
            } else {
                check_identity(&expected, expected_reference, &signed.docker_reference)?;
            }
            return Ok(signed);
        }
    };
    if !signed
        .signs_manifest(manifest)
        .map_err(StandaloneError::ManifestDigest)?
    {
        return Err(StandaloneError::Digest(
            signed.claim.untrusted_docker_manifest_digest,
        ));
    }
    check_identity(
        &expected,
        expected_reference,
        &signed.claim.untrusted_docker_reference,
    )?;
    Ok(signed.into_signature())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{fixture, test_now};

    const F: &str = "signature/fixtures";
    const SINGLE: &str = "192.168.64.2:5000/cosign-signed-single-sample";

    fn key(name: &str) -> PublicKey {
        PublicKey::from_pem(&fixture(&format!("{F}/{name}"))).unwrap()
    }

    fn run(
        dir: &str,
        reference: &str,
        keys: &[PublicKey],
    ) -> Result<SigstoreSignature, StandaloneError> {
        let manifest = fixture(&format!("{F}/{dir}/manifest.json"));
        let evidence =
            SigstoreEvidence::parse(&fixture(&format!("{F}/{dir}/signature-1"))).unwrap();
        verify_sigstore_standalone(&manifest, reference, keys, None, &evidence, test_now())
    }

    #[test]
    fn accepts_the_upstream_cosign_signature_with_its_key_only() {
        let s = run("dir-img-cosign-valid", SINGLE, &[key("cosign.pub")]).unwrap();
        assert_eq!(s.docker_reference, SINGLE);
        // Any one of several keys will do.
        run(
            "dir-img-cosign-valid",
            SINGLE,
            &[key("cosign2.pub"), key("cosign.pub")],
        )
        .unwrap();
        let err = run("dir-img-cosign-valid", SINGLE, &[key("cosign2.pub")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cryptographic signature verification failed"),
            "{err}"
        );
        assert!(matches!(
            run("dir-img-cosign-valid", SINGLE, &[key("some-rsa-key.pub")]),
            Err(StandaloneError::Sigstore(_))
        ));
    }

    #[test]
    fn identity_is_exact_and_digest_must_match() {
        // The signed reference has no tag: `:latest` is another reference.
        let err = run(
            "dir-img-cosign-valid",
            &format!("{SINGLE}:latest"),
            &[key("cosign.pub")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Docker reference {SINGLE:?} does not match \"{SINGLE}:latest\"")
        );
        assert!(matches!(
            run("dir-img-cosign-valid", "UPPERCASE", &[key("cosign.pub")]),
            Err(StandaloneError::ExpectedReference { .. })
        ));
        let err = run(
            "dir-img-cosign-modified-manifest",
            SINGLE,
            &[key("cosign.pub")],
        )
        .unwrap_err();
        assert!(matches!(err, StandaloneError::Digest(_)), "{err}");
    }

    /// A stored signature over a payload for the upstream test manifest,
    /// made with `key` as sigstore's signer for its type does.
    fn signed_with(key: &openssl::pkey::PKey<openssl::pkey::Private>) -> SigstoreEvidence {
        use openssl::hash::MessageDigest;
        use openssl::sign::Signer;
        let payload = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"example.com/ns/app:1"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
            crate::test_support::TEST_DIGEST
        );
        let signature = if key.id() == openssl::pkey::Id::ED25519 {
            Signer::new_without_digest(key)
                .and_then(|mut s| s.sign_oneshot_to_vec(payload.as_bytes()))
        } else {
            Signer::new(MessageDigest::sha256(), key).and_then(|mut s| {
                s.update(payload.as_bytes())?;
                s.sign_to_vec()
            })
        }
        .unwrap();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        SigstoreEvidence::Stored(SigstoreComponents {
            mime_type: vouch_image::sigstore_blob::SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: payload.into_bytes(),
            annotations: [(
                vouch_image::sigstore_blob::SIGNATURE_ANNOTATION.to_string(),
                b64,
            )]
            .into(),
        })
    }

    #[test]
    fn rsa_p384_and_ed25519_keys_verify_as_containers_image_reads_them() {
        use openssl::ec::{EcGroup, EcKey};
        use openssl::nid::Nid;
        use openssl::pkey::PKey;
        let manifest = fixture(&format!("{F}/image.manifest.json"));
        let p384 = EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap();
        let keys = [
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap(),
            PKey::from_ec_key(p384).unwrap(),
            PKey::generate_ed25519().unwrap(),
        ];
        let cosign = key("cosign.pub");
        for private in &keys {
            let public = PublicKey::from_pem(&private.public_key_to_pem().unwrap()).unwrap();
            let evidence = signed_with(private);
            let run = |k: &[PublicKey]| {
                verify_sigstore_standalone(
                    &manifest,
                    "example.com/ns/app:1",
                    k,
                    None,
                    &evidence,
                    test_now(),
                )
            };
            run(std::slice::from_ref(&public))
                .unwrap_or_else(|e| panic!("{:?}: {e}", private.id()));
            // Another key of any type is refused.
            assert!(
                matches!(
                    run(std::slice::from_ref(&cosign)),
                    Err(StandaloneError::Sigstore(_))
                ),
                "{:?}",
                private.id()
            );
        }
    }

    #[test]
    fn parses_both_stored_shapes_and_refuses_others() {
        let blob = fixture(&format!("{F}/dir-img-cosign-valid/signature-1"));
        let Ok(SigstoreEvidence::Stored(c)) = SigstoreEvidence::parse(&blob) else {
            panic!("stored form")
        };
        let json = blob.strip_prefix(b"\0sigstore-json\n".as_slice()).unwrap();
        let Ok(SigstoreEvidence::Stored(bare)) = SigstoreEvidence::parse(json) else {
            panic!("bare JSON")
        };
        assert_eq!(c, bare);
        assert!(SigstoreEvidence::parse(b"").is_err());
        assert!(SigstoreEvidence::parse(b"\0simple-signing\n...").is_err());
        assert!(SigstoreEvidence::parse(b"\0sigstore-json\n{\"mimeType\":").is_err());
    }
}
