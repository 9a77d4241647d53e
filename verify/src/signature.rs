//! Accepting a verified signature: the only place a trusted [`Signature`] is made.
//!
//! After the OpenPGP layer vouched for the bytes, containers/image checks, in
//! this order and stopping at the first failure (docs/trust-formats.md §2.6):
//! the signing key is one the requirement trusts, the payload parses, the
//! signed digest is the manifest's, and the signed identity satisfies the
//! requirement's rule. The order is observable through which error is
//! reported, so it is kept.

use std::fmt;

use crate::mechanism::{MechanismError, VerifiedBlob};
use crate::untrusted::{PayloadError, UntrustedDump, UntrustedSimpleSigning};

/// A signature whose key, digest and identity were all accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    manifest_digest: String,
    docker_reference: String,
    key_fingerprint: String,
    creator: Option<String>,
    timestamp: Option<i64>,
}

impl Signature {
    /// The manifest digest the signature covers (`sha256:…`).
    pub fn manifest_digest(&self) -> &str {
        &self.manifest_digest
    }

    /// The identity as signed (verbatim; may be name-only, e.g. `testing/manifest`).
    pub fn docker_reference(&self) -> &str {
        &self.docker_reference
    }

    /// The primary fingerprint of the accepted key (upper-case hex).
    pub fn key_fingerprint(&self) -> &str {
        &self.key_fingerprint
    }

    pub fn creator(&self) -> Option<&str> {
        self.creator.as_deref()
    }

    pub fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
}

/// Why one signature was not accepted; podman's wording.
#[derive(Debug, thiserror::Error)]
pub enum SignatureRejection {
    #[error(transparent)]
    Mechanism(#[from] MechanismError),
    #[error("Signature by key {0} is not accepted")]
    KeyNotAccepted(String),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("Signature for digest {0} does not match")]
    DigestMismatch(String),
    #[error("Signature for identity {0:?} is not accepted")]
    IdentityNotAccepted(String),
}

/// Runs checks 2–5 of §2.6 on a verified blob.
///
/// `trusted` are the fingerprints the requirement trusts (exact,
/// case-sensitive comparison), each matching a certificate's primary key or
/// the signing subkey itself; `manifest_digest` is [`vouch_image::manifest_digest::manifest_digest`]
/// of the image's manifest; `identity_ok` is the requirement's identity rule
/// applied to the signed reference.
pub fn accept(
    verified: &VerifiedBlob,
    trusted: &[String],
    manifest_digest: &str,
    identity_ok: impl FnOnce(&str) -> bool,
) -> Result<Signature, SignatureRejection> {
    let key = verified.key_fingerprint();
    let signing = verified.signing_fingerprint();
    if !trusted.iter().any(|t| t == key || t == signing) {
        return Err(SignatureRejection::KeyNotAccepted(key.to_string()));
    }
    let claim = UntrustedSimpleSigning::from_verified(verified)?;
    if claim.untrusted_docker_manifest_digest != manifest_digest {
        return Err(SignatureRejection::DigestMismatch(
            claim.untrusted_docker_manifest_digest,
        ));
    }
    if !identity_ok(&claim.untrusted_docker_reference) {
        return Err(SignatureRejection::IdentityNotAccepted(
            claim.untrusted_docker_reference,
        ));
    }
    Ok(Signature {
        manifest_digest: claim.untrusted_docker_manifest_digest,
        docker_reference: claim.untrusted_docker_reference,
        key_fingerprint: key.to_string(),
        creator: claim.untrusted_creator,
        timestamp: claim.untrusted_timestamp,
    })
}

/// Why an untrusted dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("The input is not a signature")]
    NotASignature,
    #[error(transparent)]
    Bounds(#[from] crate::bounds::BoundsError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// Reads a signature's claims **without verifying anything** (§2.7), for
/// inspection commands only.
pub fn untrusted_dump(blob: &[u8]) -> Result<UntrustedDump, DumpError> {
    use sequoia_openpgp::packet::Packet;
    use sequoia_openpgp::parse::{PacketParser, PacketParserResult, Parse};

    crate::bounds::check(blob)?;
    let mut literal: Option<Vec<u8>> = None;
    let mut issuer: Option<String> = None;
    let mut ppr = PacketParser::from_bytes(blob).map_err(|_| DumpError::NotASignature)?;
    while let PacketParserResult::Some(mut pp) = ppr {
        if let Packet::Literal(_) = pp.packet {
            let mut body = Vec::new();
            let limit = crate::bounds::MAX_SIGNATURE_BYTES as u64 + 1;
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut pp, limit), &mut body)
                .map_err(|_| DumpError::NotASignature)?;
            if body.len() > crate::bounds::MAX_SIGNATURE_BYTES {
                return Err(crate::bounds::BoundsError::DecompressedTooLarge.into());
            }
            literal = Some(body);
        }
        match &pp.packet {
            Packet::Signature(sig) => {
                issuer = issuer.or_else(|| {
                    sig.get_issuers()
                        .first()
                        .map(|h| sequoia_openpgp::KeyID::from(h).to_hex())
                });
            }
            Packet::OnePassSig(ops) => {
                issuer = issuer.or_else(|| Some(ops.issuer().to_hex()));
            }
            _ => {}
        }
        ppr = pp.recurse().map_err(|_| DumpError::NotASignature)?.1;
    }
    let (Some(payload), Some(issuer)) = (literal, issuer) else {
        return Err(DumpError::NotASignature);
    };
    Ok(UntrustedDump {
        contents: UntrustedSimpleSigning::parse(&payload)?,
        untrusted_short_key_identifier: issuer,
    })
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} signed as {} by key {}",
            self.manifest_digest, self.docker_reference, self.key_fingerprint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::Keyring;
    use crate::mechanism::verify;
    use crate::test_support::{fixture, test_now, TEST_DIGEST, TEST_KEY};

    fn verified(sig: &str) -> VerifiedBlob {
        let keys = Keyring::import(&fixture("signature/fixtures/public-key.gpg"));
        verify(
            &keys,
            &fixture(&format!("signature/fixtures/{sig}")),
            test_now(),
        )
        .unwrap()
    }

    #[test]
    fn acceptance_order_and_messages() {
        let v = verified("image.signature");
        let trusted = vec![TEST_KEY.to_string()];
        let sig = accept(&v, &trusted, TEST_DIGEST, |r| r == "testing/manifest").unwrap();
        assert_eq!(sig.docker_reference(), "testing/manifest");
        assert_eq!(sig.key_fingerprint(), TEST_KEY);
        assert_eq!(sig.creator(), Some("atomic "));
        assert_eq!(sig.timestamp(), Some(1458239713));

        // Key check first, even when everything else would fail too.
        let lower = vec![TEST_KEY.to_lowercase()];
        let err = accept(&v, &lower, "sha256:other", |_| false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Signature by key {TEST_KEY} is not accepted")
        );
        let err = accept(&v, &trusted, "sha256:other", |_| false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Signature for digest {TEST_DIGEST} does not match")
        );
        let err = accept(&v, &trusted, TEST_DIGEST, |_| false).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Signature for identity "testing/manifest" is not accepted"#
        );

        let err = accept(
            &verified("invalid-blob.signature"),
            &trusted,
            TEST_DIGEST,
            |_| true,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid character 'T' looking for beginning of value"),
            "{err}"
        );
    }

    #[test]
    fn untrusted_dump_of_fixtures() {
        // §8.1 #17–#22.
        let d = untrusted_dump(&fixture("signature/fixtures/image.signature")).unwrap();
        assert_eq!(d.contents.untrusted_docker_reference, "testing/manifest");
        assert_eq!(d.contents.untrusted_docker_manifest_digest, TEST_DIGEST);
        assert_eq!(d.contents.untrusted_creator.as_deref(), Some("atomic "));
        assert_eq!(d.contents.untrusted_timestamp, Some(1458239713));
        assert_eq!(d.untrusted_short_key_identifier, "E932F44B23E8DD43");

        let d = untrusted_dump(&fixture("signature/fixtures/unknown-key.signature")).unwrap();
        assert_eq!(d.untrusted_short_key_identifier, "5F9470E3BC6C3B55");
        assert_eq!(
            d.contents.untrusted_creator.as_deref(),
            Some("atomic 0.1.13-dev")
        );
        assert_eq!(d.contents.untrusted_timestamp, Some(1464633474));

        let d =
            untrusted_dump(&fixture("signature/fixtures/no-optional-fields.signature")).unwrap();
        assert_eq!(
            (d.contents.untrusted_creator, d.contents.untrusted_timestamp),
            (None, None)
        );

        let d = untrusted_dump(&fixture("generated/sequoia-subkey/signature-1")).unwrap();
        assert_eq!(d.untrusted_short_key_identifier, "707858BC150CC625");

        assert!(matches!(
            untrusted_dump(&fixture("signature/fixtures/invalid-blob.signature")),
            Err(DumpError::Payload(_))
        ));
        assert!(matches!(untrusted_dump(b""), Err(DumpError::NotASignature)));
        assert!(matches!(
            untrusted_dump(b"invalid signature"),
            Err(DumpError::NotASignature)
        ));
    }
}
