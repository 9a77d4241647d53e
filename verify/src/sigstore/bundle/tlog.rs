//! A bundle's transparency-log entry, checked offline against the
//! requirement's Rekor keys: the entry must record this very signature and
//! signer, and the log must vouch for it by a signed entry timestamp
//! (`inclusionPromise`), an inclusion proof with a signed checkpoint, or
//! both — each one present must hold.
//!
//! The SET is Rekor v1's: ECDSA over SHA-256 of the RFC 8785 form of
//! `{body, integratedTime, logID, logIndex}` (body base64, logID hex), as in
//! [`super::super::rekor`] for attachments; its `logID` must be the SHA-256
//! of the signing key's PKIX DER. Only a SET signs `integratedTime`, so only
//! a SET gives the time a Fulcio certificate is checked at.
//!
//! `canonicalizedBody` kinds (rekor `pkg/types/*`), by what they record:
//! * `hashedrekord` 0.0.1 — `spec.signature.content` (base64 signature),
//!   `spec.signature.publicKey.content` (base64 PEM key or certificate),
//!   `spec.data.hash` (sha256 of the artifact);
//! * `dsse` 0.0.1 — `spec.signatures[]` of `{signature, verifier}` (base64
//!   signature, base64 PEM), `spec.payloadHash` (sha256 of the payload);
//!   `envelopeHash` hashes Rekor's own re-serialisation and is not
//!   recomputed: payload hash and signature already bind the entry;
//! * `intoto` 0.0.2 — `spec.content.envelope.payloadType` and
//!   `signatures[]` of `{sig, publicKey}`, where `sig` is base64 of the
//!   base64 signature text, `spec.content.payloadHash`.
//!
//! Rekor v2 kinds (0.0.2 hashedrekord/dsse, tile checkpoints, no SET) are
//! refused: they need RFC 3161 timestamps, which nothing here verifies.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::pem;
use super::super::public_key::PublicKey;
use super::merkle::{self, ProofError};
use super::model::{decode_b64, TlogEntry};

/// What the entry must record.
pub struct Binding<'a> {
    pub signature: &'a [u8],
    /// DER of the certificate, or PKIX DER of the key, that verified `signature`.
    pub signer_der: &'a [u8],
    pub content: BoundContent<'a>,
}

pub enum BoundContent<'a> {
    /// SHA-256 of the signed artifact.
    Message([u8; 32]),
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
    },
}

/// Why a tlog entry does not vouch for this signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    #[error("tlog entry kind {kind} {version} is not supported")]
    Kind { kind: String, version: String },
    #[error("tlog entry kindVersion {claimed} does not match its body ({body})")]
    KindMismatch { claimed: String, body: String },
    #[error("tlog entry body: {0}")]
    Body(String),
    #[error("tlog entry body does not record this signature")]
    Signature,
    #[error("tlog entry body does not record this key or certificate")]
    Signer,
    #[error("tlog entry body records another artifact digest")]
    ArtifactDigest,
    #[error("tlog entry body records another payload")]
    Payload,
    #[error("tlog entry body records payloadType {0:?}")]
    PayloadType(String),
    #[error("canonicalizing the SET payload: {0}")]
    Canonical(String),
    #[error("signed entry timestamp is not signed by a trusted Rekor key")]
    SetSignature,
    #[error("tlog entry logId is not the ID of the Rekor key that vouches for it")]
    LogId,
    #[error("inclusion proof: {0}")]
    Proof(ProofError),
    #[error("tlog entry has neither inclusionPromise nor inclusionProof")]
    NoEvidence,
    #[error("tlog entry has no inclusionPromise and its inclusionProof no checkpoint")]
    NoCheckpoint,
}

/// What a verified entry establishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEvidence {
    /// Set when a SET was verified: the time Rekor logged the entry.
    pub integrated_time: Option<i64>,
    pub log_index: i64,
}

/// Checks `entry` records `binding` and is vouched for by one of `rekor_keys`.
pub fn verify_entry(
    entry: &TlogEntry,
    rekor_keys: &[PublicKey],
    binding: &Binding<'_>,
) -> Result<LogEvidence, TlogError> {
    check_body(entry, binding)?;
    let mut evidence = LogEvidence {
        integrated_time: None,
        log_index: entry.log_index,
    };
    if entry.set.is_none() && entry.proof.is_none() {
        return Err(TlogError::NoEvidence);
    }
    if let Some(set) = &entry.set {
        let payload = serde_json::json!({
            "body": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &entry.body),
            "integratedTime": entry.integrated_time,
            "logID": hex::encode(&entry.log_id),
            "logIndex": entry.log_index,
        });
        let canonical = serde_json_canonicalizer::to_vec(&payload)
            .map_err(|e| TlogError::Canonical(e.to_string()))?;
        let digest = Sha256::digest(&canonical);
        let signer = rekor_keys
            .iter()
            .find(|k| k.verify_ecdsa_digest(&digest, set))
            .ok_or(TlogError::SetSignature)?;
        if Sha256::digest(signer.spki_der()).as_slice() != entry.log_id.as_slice() {
            return Err(TlogError::LogId);
        }
        evidence.integrated_time = Some(entry.integrated_time);
    }
    if let Some(proof) = &entry.proof {
        let (Ok(index), Ok(size)) = (
            u64::try_from(proof.log_index),
            u64::try_from(proof.tree_size),
        ) else {
            return Err(TlogError::Proof(ProofError::PathLength(proof.hashes.len())));
        };
        merkle::verify_inclusion(
            index,
            size,
            merkle::leaf_hash(&entry.body),
            &proof.hashes,
            &proof.root_hash,
        )
        .map_err(TlogError::Proof)?;
        match &proof.checkpoint {
            Some(note) => {
                merkle::verify_checkpoint(note, rekor_keys, proof.tree_size, &proof.root_hash)
                    .map_err(TlogError::Proof)?
            }
            // A root no checkpoint signs proves nothing; only a SET can vouch then.
            None if entry.set.is_none() => return Err(TlogError::NoCheckpoint),
            None => {}
        }
        if !rekor_keys
            .iter()
            .any(|k| Sha256::digest(k.spki_der()).as_slice() == entry.log_id.as_slice())
        {
            return Err(TlogError::LogId);
        }
    }
    Ok(evidence)
}

fn check_body(entry: &TlogEntry, binding: &Binding<'_>) -> Result<(), TlogError> {
    let body: Value =
        serde_json::from_slice(&entry.body).map_err(|e| TlogError::Body(e.to_string()))?;
    let text = |v: &Value, path: &[&str]| -> Result<String, TlogError> {
        let mut cur = v;
        for p in path {
            cur = cur
                .get(p)
                .ok_or_else(|| TlogError::Body(format!("missing {}", path.join("."))))?;
        }
        cur.as_str()
            .map(str::to_string)
            .ok_or_else(|| TlogError::Body(format!("{} is not a string", path.join("."))))
    };
    let kind = text(&body, &["kind"])?;
    let version = text(&body, &["apiVersion"])?;
    if kind != entry.kind || version != entry.version {
        return Err(TlogError::KindMismatch {
            claimed: format!("{} {}", entry.kind, entry.version),
            body: format!("{kind} {version}"),
        });
    }
    let b64 = |v: &Value, path: &[&str]| -> Result<Vec<u8>, TlogError> {
        decode_b64(&text(v, path)?).map_err(|e| TlogError::Body(format!("{}: {e}", path.join("."))))
    };
    let same_signer = |pem_bytes: &[u8]| {
        pem::decode(pem_bytes).is_some_and(|(block, _)| block.der == binding.signer_der)
    };
    let sha256_is = |v: &Value, path: &[&str], want: &[u8]| -> Result<bool, TlogError> {
        let mut alg = path.to_vec();
        alg.push("algorithm");
        let mut val = path.to_vec();
        val.push("value");
        if text(v, &alg)? != "sha256" {
            return Err(TlogError::Body(format!("{} is not sha256", alg.join("."))));
        }
        Ok(hex::decode(text(v, &val)?).ok().as_deref() == Some(want))
    };
    let spec = body
        .get("spec")
        .ok_or_else(|| TlogError::Body("missing spec".into()))?;
    match (kind.as_str(), version.as_str(), &binding.content) {
        ("hashedrekord", "0.0.1", BoundContent::Message(digest)) => {
            if b64(spec, &["signature", "content"])? != binding.signature {
                return Err(TlogError::Signature);
            }
            if !same_signer(&b64(spec, &["signature", "publicKey", "content"])?) {
                return Err(TlogError::Signer);
            }
            if !sha256_is(spec, &["data", "hash"], digest)? {
                return Err(TlogError::ArtifactDigest);
            }
        }
        ("dsse", "0.0.1", BoundContent::Dsse { payload, .. }) => {
            if !sha256_is(spec, &["payloadHash"], &Sha256::digest(payload))? {
                return Err(TlogError::Payload);
            }
            let sigs = spec
                .get("signatures")
                .and_then(Value::as_array)
                .ok_or_else(|| TlogError::Body("missing spec.signatures".into()))?;
            let mut saw_signature = false;
            for s in sigs {
                if b64(s, &["signature"])? == binding.signature {
                    saw_signature = true;
                    if same_signer(&b64(s, &["verifier"])?) {
                        return Ok(());
                    }
                }
            }
            return Err(if saw_signature {
                TlogError::Signer
            } else {
                TlogError::Signature
            });
        }
        (
            "intoto",
            "0.0.2",
            BoundContent::Dsse {
                payload_type,
                payload,
            },
        ) => {
            let content = spec
                .get("content")
                .ok_or_else(|| TlogError::Body("missing spec.content".into()))?;
            if !sha256_is(content, &["payloadHash"], &Sha256::digest(payload))? {
                return Err(TlogError::Payload);
            }
            let logged_type = text(content, &["envelope", "payloadType"])?;
            if logged_type != *payload_type {
                return Err(TlogError::PayloadType(logged_type));
            }
            let sigs = content
                .get("envelope")
                .and_then(|e| e.get("signatures"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    TlogError::Body("missing spec.content.envelope.signatures".into())
                })?;
            let mut saw_signature = false;
            for s in sigs {
                let inner = b64(s, &["sig"])?;
                let sig = std::str::from_utf8(&inner)
                    .ok()
                    .and_then(|t| decode_b64(t).ok())
                    .ok_or_else(|| TlogError::Body("sig is not base64 of base64".into()))?;
                if sig == binding.signature {
                    saw_signature = true;
                    if same_signer(&b64(s, &["publicKey"])?) {
                        return Ok(());
                    }
                }
            }
            return Err(if saw_signature {
                TlogError::Signer
            } else {
                TlogError::Signature
            });
        }
        _ => return Err(TlogError::Kind { kind, version }),
    }
    Ok(())
}
