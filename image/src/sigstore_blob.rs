//! The stored form of one sigstore signature, shared by everything that
//! moves or judges them.
//!
//! containers/image keeps a sigstore signature as three untrusted parts (the
//! payload's MIME type, the payload, the layer annotations) and serialises
//! them as `\0sigstore-json\n` + JSON (`internal/signature/sigstore.go`).
//! A `.sig` attachment layer, a `dir:` `signature-N` and what
//! `Policy::evaluate` takes are all this one blob, so registry code, signer
//! and verifier agree on a single vocabulary and the verifier never needs to
//! know where a signature came from.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Annotation carrying the base64 signature over the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation carrying the PEM signing certificate (Fulcio / PKI).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation carrying the PEM intermediate chain (Fulcio / PKI).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation carrying the Rekor bundle (SET) JSON.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

const PREFIX: &[u8] = b"\0sigstore-json\n";

/// The media type of a Sigstore bundle (protobuf-specs v0.3), as cosign 3
/// stores it: the OCI 1.1 referrer's `artifactType` and its one layer.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A Sigstore bundle read from an OCI 1.1 referrer, in the blob list the
/// evaluator takes: this prefix, then the bundle JSON verbatim.
/// vouch-internal: containers/image has no stored form for bundles yet
/// (container-libs #1153), so the prefix only has to be unambiguous beside
/// `\0simple-signing\n` and `\0sigstore-json\n`, which it is.
pub const BUNDLE_BLOB_PREFIX: &[u8] = b"\0sigstore-bundle\n";

/// One sigstore signature, every part still untrusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigstoreComponents {
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// Raw payload bytes (base64 in the JSON, as Go encodes `[]byte`).
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// Why a blob is not a stored sigstore signature.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreBlobError {
    #[error("not a sigstore-json signature blob")]
    NotSigstore,
    #[error("invalid sigstore-json signature")]
    Json(#[source] serde_json::Error),
}

impl SigstoreComponents {
    /// The `\0sigstore-json\n…` blob containers/image stores.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = PREFIX.to_vec();
        // Serialising a struct of strings and a string map cannot fail.
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }

    /// Parses a whole blob (prefix included). Callers cap `blob`'s size first.
    pub fn from_blob(blob: &[u8]) -> Result<Self, SigstoreBlobError> {
        let json = blob
            .strip_prefix(PREFIX)
            .ok_or(SigstoreBlobError::NotSigstore)?;
        Self::from_json(json)
    }

    /// Parses the JSON after the prefix.
    pub fn from_json(json: &[u8]) -> Result<Self, SigstoreBlobError> {
        serde_json::from_slice(json).map_err(SigstoreBlobError::Json)
    }
}

/// Go's `[]byte` in JSON (padded standard base64), for `#[serde(with)]`;
/// also used by the sigstore key envelope in vouch-sign.
pub mod b64 {
    use super::{Engine, STANDARD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_stored_blob() {
        let c = SigstoreComponents {
            mime_type: SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: b"{\"critical\":{}}".to_vec(),
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), "c2ln".into())]),
        };
        let blob = c.to_blob();
        assert!(blob.starts_with(b"\0sigstore-json\n"));
        assert_eq!(SigstoreComponents::from_blob(&blob).unwrap(), c);
    }

    #[test]
    fn reads_upstream_fixture() {
        let blob = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/containers-image/signature/internal/testdata/valid.signature"
        ))
        .unwrap();
        let c = SigstoreComponents::from_blob(&blob).unwrap();
        assert_eq!(c.mime_type, SIMPLE_SIGNING_MEDIA_TYPE);
        assert!(c.annotations.contains_key(SIGNATURE_ANNOTATION));
    }

    #[test]
    fn refuses_other_blobs() {
        assert!(matches!(
            SigstoreComponents::from_blob(b"\0simple-signing\nxx"),
            Err(SigstoreBlobError::NotSigstore)
        ));
        assert!(SigstoreComponents::from_blob(b"\0sigstore-json\n{").is_err());
    }
}

/// Which of the three stored forms a signature blob is, by its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    /// An OpenPGP simple signing signature, stored as is.
    Simple,
    /// `\0sigstore-json\n` + JSON.
    Sigstore,
    /// `\0sigstore-bundle\n` + bundle JSON.
    Bundle,
}

/// Tells the forms apart; every blob starting with a NUL byte that is not
/// a bundle is taken as sigstore (and its parse then decides).
pub fn classify(blob: &[u8]) -> BlobKind {
    if blob.starts_with(BUNDLE_BLOB_PREFIX) {
        BlobKind::Bundle
    } else if blob.first() == Some(&0) {
        BlobKind::Sigstore
    } else {
        BlobKind::Simple
    }
}
