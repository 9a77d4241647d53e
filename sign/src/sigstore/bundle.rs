//! The Sigstore bundle cosign 3 writes when it signs an *image* with a key
//! (`cosign sign --key K --tlog-upload=false`, new bundle format, the
//! cosign 3 default), so cosign, sigstore-go and sigstore-js verify what
//! vouch signs.
//!
//! What cosign produces, and where each part is decided (cosign `d6d86c2`,
//! 2026-07-24; sigstore-go `4594ab4`, 2026-06-09):
//!
//! - The signed content is a DSSE envelope, not a `messageSignature`:
//!   `signDigestBundle` (cmd/cosign/cli/sign/sign.go) builds an in-toto
//!   v1 statement and `NewAttestationBundle`
//!   (cmd/cosign/cli/signcommon/common.go) wraps it as `sign.DSSEData`
//!   with payload type `application/vnd.in-toto+json`.
//! - The statement has one subject carrying the manifest digest only — no
//!   `name`: cosign does not name the image, so the docker reference is
//!   not part of what is signed (a `signedIdentity` rule other than a
//!   digest match has nothing in the bundle to compare). The subject's
//!   `annotations` are cosign's `-a key=value` pairs as a
//!   `google.protobuf.Struct`, written as `{}` when there are none
//!   (`structpb.NewStruct` of a nil map is a non-nil empty message, and
//!   protojson writes set messages). `predicateType` is
//!   `https://sigstore.dev/cosign/sign/v1` (pkg/types/predicate.go) and the
//!   predicate an empty Struct, `{}`.
//! - vouch departs from cosign in one field: given an identity, it writes
//!   it as the subject's in-toto `name`, so the docker reference is signed
//!   and `signedIdentity` rules have something to compare, as they do for
//!   `.sig` payloads. cosign and sigstore-js ignore the field (in-toto
//!   defines it; verifiers match subjects by digest), and without an
//!   identity the statement is cosign's byte for byte.
//! - The signature is over the DSSE pre-authentication encoding
//!   (sigstore-go pkg/sign/content.go), ECDSA P-256 SHA-256, ASN.1 DER
//!   (cosign's default for an ECDSA key); the envelope's signature has no
//!   `keyid`.
//! - `verificationMaterial.publicKey.hint` is the standard base64 of the
//!   SHA-256 of the key's PKIX (SubjectPublicKeyInfo) DER
//!   (cosign internal/key/svkeypair.go `NewSignerVerifierKeypair`).
//! - With no Fulcio, no TSA and no tlog upload, sigstore-go's
//!   `sign.Bundle` (pkg/sign/signer.go) adds no certificate, no
//!   timestamps and no tlog entries: protojson omits the empty
//!   `tlogEntries` and `timestampVerificationData`, so the bundle is
//!   `mediaType`, `verificationMaterial.publicKey` and `dsseEnvelope`.
//!   Bundle media type v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`).
//!
//! The JSON is protobuf-JSON: camelCase names, fields in proto declaration
//! order, bytes as padded standard base64, map keys sorted. Go's protojson
//! randomly inserts a space after some separators (its "detrand") so two
//! cosign builds do not write identical bytes either; we write the compact
//! form. The statement and bundle layouts are small exact encodings
//! written here with serde; every signature comes from the `p256` crate.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::pkcs8::EncodePublicKey as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use vouch_image::docker_ref::{self, DigestFormatError};
use vouch_image::sigstore_blob::BUNDLE_V03_MEDIA_TYPE;

use super::SigstoreSigningKey;

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto v1 statement.
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type cosign 3 gives an image signature.
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleSignError {
    #[error("invalid manifest digest {digest:?} to sign")]
    Digest {
        digest: String,
        #[source]
        source: DigestFormatError,
    },
    #[error("encoding the public key hint")]
    PublicKey,
    #[error("signing the bundle")]
    Sign(#[source] super::SigstoreSignError),
    #[error("encoding the bundle JSON")]
    Json(#[source] serde_json::Error),
}

#[derive(Serialize)]
struct Statement<'a> {
    #[serde(rename = "_type")]
    type_: &'a str,
    subject: [Subject<'a>; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct Subject<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    digest: BTreeMap<&'a str, &'a str>,
    annotations: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bundle<'a> {
    media_type: &'a str,
    verification_material: VerificationMaterial,
    dsse_envelope: Envelope<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    public_key: PublicKeyIdentifier,
}

#[derive(Serialize)]
struct PublicKeyIdentifier {
    hint: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    payload: String,
    payload_type: &'a str,
    signatures: [EnvelopeSignature; 1],
}

#[derive(Serialize)]
struct EnvelopeSignature {
    sig: String,
}

/// The in-toto statement cosign 3 signs for the image `manifest_digest`
/// ("sha256:…"), with cosign's `-a` `annotations` on the subject.
pub fn image_statement(
    manifest_digest: &str,
    name: Option<&str>,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, BundleSignError> {
    let digest_err = |source| BundleSignError::Digest {
        digest: manifest_digest.to_string(),
        source,
    };
    docker_ref::validate_digest(manifest_digest).map_err(digest_err)?;
    let (algorithm, hex) = manifest_digest
        .split_once(':')
        .ok_or(DigestFormatError::Format)
        .map_err(digest_err)?;
    let statement = Statement {
        type_: IN_TOTO_STATEMENT_V1,
        subject: [Subject {
            name,
            digest: BTreeMap::from([(algorithm, hex)]),
            annotations,
        }],
        predicate_type: COSIGN_SIGN_PREDICATE_TYPE,
        predicate: serde_json::Map::new(),
    };
    serde_json::to_vec(&statement).map_err(BundleSignError::Json)
}

/// DSSE's pre-authentication encoding, what the envelope's signature
/// covers: `DSSEv1 <len(type)> <type> <len(payload)> <payload>`, lengths
/// in ASCII decimal (DSSE protocol spec; sigstore-go `DSSEData`).
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(payload);
    pae
}

/// cosign's key hint: base64 of the SHA-256 of the PKIX DER.
pub fn public_key_hint(key: &p256::PublicKey) -> Result<String, BundleSignError> {
    let der = key
        .to_public_key_der()
        .map_err(|_| BundleSignError::PublicKey)?;
    Ok(spki_hint(der.as_bytes()))
}

fn spki_hint(der: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(der))
}

/// The bundle JSON cosign 3 writes for `key` signing the image
/// `manifest_digest` with tlog upload off: what goes, verbatim, into the
/// layer of the referrer artifact (media type
/// [`BUNDLE_V03_MEDIA_TYPE`]).
pub fn sign_image_bundle(
    key: &SigstoreSigningKey,
    manifest_digest: &str,
    name: Option<&str>,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, BundleSignError> {
    let statement = image_statement(manifest_digest, name, annotations)?;
    let signature = key
        .sign_bytes(&dsse_pae(IN_TOTO_PAYLOAD_TYPE, &statement))
        .map_err(BundleSignError::Sign)?;
    let hint = key
        .public_key_der()
        .map(|der| spki_hint(&der))
        .map_err(|_| BundleSignError::PublicKey)?;
    let bundle = Bundle {
        media_type: BUNDLE_V03_MEDIA_TYPE,
        verification_material: VerificationMaterial {
            public_key: PublicKeyIdentifier { hint },
        },
        dsse_envelope: Envelope {
            payload: STANDARD.encode(&statement),
            payload_type: IN_TOTO_PAYLOAD_TYPE,
            signatures: [EnvelopeSignature {
                sig: STANDARD.encode(&signature),
            }],
        },
    };
    serde_json::to_vec(&bundle).map_err(BundleSignError::Json)
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::*;
    use crate::sigstore::public_key_from_pem;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn key() -> SigstoreSigningKey {
        SigstoreSigningKey::from_secret_key(&p256::SecretKey::random(&mut rand_core::OsRng))
    }

    #[test]
    fn statement_is_cosigns() {
        let got = image_statement(DIGEST, None, &BTreeMap::new()).unwrap();
        let want = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{HEX}"}},"annotations":{{}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#
        );
        assert_eq!(String::from_utf8(got).unwrap(), want);

        let annotations = BTreeMap::from([
            ("z".to_string(), "last".to_string()),
            ("a".to_string(), "first".to_string()),
        ]);
        let got = image_statement(DIGEST, None, &annotations).unwrap();
        assert!(
            String::from_utf8(got)
                .unwrap()
                .contains(r#""annotations":{"a":"first","z":"last"}}]"#),
            "annotations are a sorted object on the subject"
        );
    }

    #[test]
    fn refuses_bad_digests() {
        for bad in ["", "sha256:", "sha256:abc", "0123", "md5:0123"] {
            let err = image_statement(bad, None, &BTreeMap::new()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid manifest digest {bad:?} to sign")
            );
            let err = sign_image_bundle(&key(), bad, None, &BTreeMap::new()).unwrap_err();
            assert!(matches!(err, BundleSignError::Digest { .. }), "{err}");
        }
    }

    #[test]
    fn pae_is_the_dsse_spec_example() {
        // The worked example of the DSSE protocol spec.
        assert_eq!(
            dsse_pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(dsse_pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn hint_is_cosigns_for_a_skopeo_key() {
        // `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`
        let key = public_key_from_pem(include_bytes!("testdata/skopeo-1.22.pub")).unwrap();
        assert_eq!(
            public_key_hint(&key).unwrap(),
            "TIz+/ExteV0cxW9zN4CHl+Ad3Yo0ip31Oi5G8WfnRW0="
        );
    }

    #[test]
    fn bundle_has_cosigns_shape_and_a_good_signature() {
        let key = key();
        let bytes = sign_image_bundle(&key, DIGEST, None, &BTreeMap::new()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let sig = value["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        let public = public_key_from_pem(key.public_key_pem().unwrap().as_bytes()).unwrap();
        let hint = public_key_hint(&public).unwrap();
        let statement = image_statement(DIGEST, None, &BTreeMap::new()).unwrap();
        let want = format!(
            r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{{"publicKey":{{"hint":"{hint}"}}}},"dsseEnvelope":{{"payload":"{}","payloadType":"application/vnd.in-toto+json","signatures":[{{"sig":"{sig}"}}]}}}}"#,
            STANDARD.encode(&statement)
        );
        assert_eq!(text, want);

        let der = STANDARD.decode(&sig).unwrap();
        let signature = Signature::from_der(&der).unwrap();
        let verifying = VerifyingKey::from(public);
        let pae = format!(
            "DSSEv1 28 application/vnd.in-toto+json {} {}",
            statement.len(),
            String::from_utf8(statement.clone()).unwrap()
        );
        verifying.verify(pae.as_bytes(), &signature).unwrap();
        // The signature covers the PAE, not the bare statement.
        assert!(verifying.verify(&statement, &signature).is_err());
    }
}
