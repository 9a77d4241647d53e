//! The bundle document as protobuf-JSON (`sigstore_bundle.proto`): camelCase
//! names (the proto's snake_case names are accepted too, as protobuf-JSON
//! parsers do), unknown members ignored, `bytes` as base64 (standard or
//! URL-safe, padding optional), `int64` as a string or a number.
//!
//! Only the shape is checked here; what the fields mean is checked by the
//! modules that use them. The input is capped before it is parsed.

use base64::Engine;
use serde::{Deserialize, Deserializer};

/// Larger than any bundle cosign writes for an image (a few KiB) or than a
/// provenance attestation in practice; a bigger one is refused unread.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;

/// The bundle versions this verifier knows, by media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V01,
    V02,
    V03,
}

impl BundleVersion {
    /// Both spellings sigstore uses: `+json;version=0.N` (0.1–0.3) and `.v0.3+json`.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Self::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Self::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(Self::V03),
            _ => None,
        }
    }
}

/// Why bytes are not a bundle we read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("bundle is {0} bytes, over the {MAX_BUNDLE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("parsing bundle JSON: {0}")]
    Json(String),
    #[error("unsupported bundle media type {0:?}")]
    MediaType(String),
    #[error("bundle has neither dsseEnvelope nor messageSignature")]
    NoContent,
    #[error("bundle has both dsseEnvelope and messageSignature")]
    BothContents,
    #[error("bundle verificationMaterial has no publicKey, x509CertificateChain or certificate")]
    NoMaterial,
    #[error("bundle verificationMaterial has more than one of publicKey, x509CertificateChain, certificate")]
    SeveralMaterials,
    #[error("bundle x509CertificateChain is empty")]
    EmptyChain,
    #[error("bundle version 0.3 carries x509CertificateChain; it must use certificate")]
    ChainInV03,
    #[error("bundle version 0.1 tlog entry {0} has no inclusionPromise")]
    NoPromise(usize),
    #[error("bundle tlog entry {0} has no inclusionProof (required from version 0.2)")]
    NoProof(usize),
    #[error("bundle tlog entry {index} field {field}: {reason}")]
    Entry {
        index: usize,
        field: &'static str,
        reason: String,
    },
}

/// A parsed, shape-checked bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub version: BundleVersion,
    pub material: Material,
    pub tlog_entries: Vec<TlogEntry>,
    pub content: Content,
}

/// Who signed, as the bundle claims it.
#[derive(Debug, Clone)]
pub enum Material {
    /// Only a hint; the trusted keys are what is tried.
    PublicKey { hint: String },
    /// DER certificates, leaf first.
    Certificates(Vec<Vec<u8>>),
}

#[derive(Debug, Clone)]
pub enum Content {
    Dsse(Envelope),
    Message(MessageSignature),
}

#[derive(Debug, Clone)]
pub struct Envelope {
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct MessageSignature {
    /// `(algorithm, digest)`, when present.
    pub digest: Option<(String, Vec<u8>)>,
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct TlogEntry {
    pub log_index: i64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub version: String,
    pub integrated_time: i64,
    pub set: Option<Vec<u8>>,
    pub proof: Option<InclusionProof>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub log_index: i64,
    pub root_hash: Vec<u8>,
    pub tree_size: i64,
    pub hashes: Vec<Vec<u8>>,
    /// Absent in some v0.1/v0.2 bundles; then the proof's root is signed by nothing.
    pub checkpoint: Option<String>,
}

/// Parses `bytes` (capped first) into a [`Bundle`].
pub fn parse(bytes: &[u8]) -> Result<Bundle, ParseError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(ParseError::TooLarge(bytes.len()));
    }
    let raw: RawBundle =
        serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
    let version = BundleVersion::from_media_type(&raw.media_type)
        .ok_or_else(|| ParseError::MediaType(raw.media_type.clone()))?;
    let vm = raw.verification_material.unwrap_or_default();
    let material = match (vm.public_key, vm.x509_certificate_chain, vm.certificate) {
        (Some(k), None, None) => Material::PublicKey { hint: k.hint },
        (None, Some(chain), None) => {
            if version >= BundleVersion::V03 {
                return Err(ParseError::ChainInV03);
            }
            if chain.certificates.is_empty() {
                return Err(ParseError::EmptyChain);
            }
            Material::Certificates(
                chain
                    .certificates
                    .into_iter()
                    .map(|c| c.raw_bytes.0)
                    .collect(),
            )
        }
        (None, None, Some(c)) => Material::Certificates(vec![c.raw_bytes.0]),
        (None, None, None) => return Err(ParseError::NoMaterial),
        _ => return Err(ParseError::SeveralMaterials),
    };
    if let Material::Certificates(certs) = &material {
        if certs.iter().any(Vec::is_empty) {
            return Err(ParseError::EmptyChain);
        }
    }
    let mut tlog_entries = Vec::new();
    for (i, e) in vm.tlog_entries.into_iter().enumerate() {
        let index = i + 1;
        let entry_err = |field: &'static str, reason: String| ParseError::Entry {
            index,
            field,
            reason,
        };
        let kv = e
            .kind_version
            .ok_or_else(|| entry_err("kindVersion", "missing".into()))?;
        let log_id = e
            .log_id
            .ok_or_else(|| entry_err("logId", "missing".into()))?
            .key_id
            .0;
        if e.log_index.0 < 0 {
            return Err(entry_err(
                "logIndex",
                format!("negative: {}", e.log_index.0),
            ));
        }
        if e.canonicalized_body.0.is_empty() {
            return Err(entry_err("canonicalizedBody", "missing".into()));
        }
        let proof = match e.inclusion_proof {
            None => None,
            Some(p) => {
                if p.log_index.0 < 0 || p.tree_size.0 <= p.log_index.0 {
                    return Err(entry_err(
                        "inclusionProof",
                        format!(
                            "logIndex {} outside treeSize {}",
                            p.log_index.0, p.tree_size.0
                        ),
                    ));
                }
                Some(InclusionProof {
                    log_index: p.log_index.0,
                    root_hash: p.root_hash.0,
                    tree_size: p.tree_size.0,
                    hashes: p.hashes.into_iter().map(|h| h.0).collect(),
                    checkpoint: p.checkpoint.map(|c| c.envelope),
                })
            }
        };
        let set = e.inclusion_promise.map(|p| p.signed_entry_timestamp.0);
        if version == BundleVersion::V01 && set.is_none() {
            return Err(ParseError::NoPromise(index));
        }
        if version >= BundleVersion::V02 && proof.is_none() {
            return Err(ParseError::NoProof(index));
        }
        tlog_entries.push(TlogEntry {
            log_index: e.log_index.0,
            log_id,
            kind: kv.kind,
            version: kv.version,
            integrated_time: e.integrated_time.0,
            set,
            proof,
            body: e.canonicalized_body.0,
        });
    }
    let content = match (raw.dsse_envelope, raw.message_signature) {
        (Some(d), None) => Content::Dsse(Envelope {
            payload: d.payload.0,
            payload_type: d.payload_type,
            signatures: d.signatures.into_iter().map(|s| s.sig.0).collect(),
        }),
        (None, Some(m)) => Content::Message(MessageSignature {
            digest: m.message_digest.map(|d| (d.algorithm, d.digest.0)),
            signature: m.signature.0,
        }),
        (None, None) => return Err(ParseError::NoContent),
        (Some(_), Some(_)) => return Err(ParseError::BothContents),
    };
    Ok(Bundle {
        version,
        material,
        tlog_entries,
        content,
    })
}

/// protobuf-JSON `bytes`: base64, standard or URL-safe, padded or not.
#[derive(Debug, Default)]
struct B64(Vec<u8>);

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        decode_b64(&s).map(B64).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    standard
        .decode(s)
        .or_else(|_| url.decode(s))
        .map_err(|e| format!("invalid base64: {e}"))
}

/// protobuf-JSON `int64`: a decimal string or a JSON integer.
#[derive(Debug, Default)]
struct I64(i64);

impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            S(String),
            I(i64),
        }
        match Option::<N>::deserialize(d)? {
            None => Ok(I64(0)),
            Some(N::I(i)) => Ok(I64(i)),
            Some(N::S(s)) => s
                .parse()
                .map(I64)
                .map_err(|_| serde::de::Error::custom(format!("invalid int64 {s:?}"))),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    #[serde(default, alias = "media_type")]
    media_type: String,
    #[serde(alias = "verification_material")]
    verification_material: Option<RawMaterial>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<RawEnvelope>,
    #[serde(alias = "message_signature")]
    message_signature: Option<RawMessage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    #[serde(alias = "public_key")]
    public_key: Option<RawHint>,
    #[serde(alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawCert>,
    #[serde(default, alias = "tlog_entries")]
    tlog_entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    #[serde(default, alias = "raw_bytes")]
    raw_bytes: B64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default, alias = "log_index")]
    log_index: I64,
    #[serde(alias = "log_id")]
    log_id: Option<RawLogId>,
    #[serde(alias = "kind_version")]
    kind_version: Option<RawKindVersion>,
    #[serde(default, alias = "integrated_time")]
    integrated_time: I64,
    #[serde(alias = "inclusion_promise")]
    inclusion_promise: Option<RawPromise>,
    #[serde(alias = "inclusion_proof")]
    inclusion_proof: Option<RawProof>,
    #[serde(default, alias = "canonicalized_body")]
    canonicalized_body: B64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    #[serde(default, alias = "key_id")]
    key_id: B64,
}

#[derive(Deserialize)]
struct RawKindVersion {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    #[serde(default, alias = "signed_entry_timestamp")]
    signed_entry_timestamp: B64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    #[serde(default, alias = "log_index")]
    log_index: I64,
    #[serde(default, alias = "root_hash")]
    root_hash: B64,
    #[serde(default, alias = "tree_size")]
    tree_size: I64,
    #[serde(default)]
    hashes: Vec<B64>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    #[serde(default)]
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    #[serde(default)]
    payload: B64,
    #[serde(default, alias = "payload_type")]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawDsseSig>,
}

#[derive(Deserialize)]
struct RawDsseSig {
    #[serde(default)]
    sig: B64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage {
    #[serde(alias = "message_digest")]
    message_digest: Option<RawDigest>,
    #[serde(default)]
    signature: B64,
}

#[derive(Deserialize)]
struct RawDigest {
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    digest: B64,
}
