//! Offline inclusion proofs: an RFC 6962 audit path from the entry's leaf to
//! a root hash, and a checkpoint (a signed note) by the log committing to
//! that root at that tree size.
//!
//! Hashing is RFC 6962 §2.1 (leaf `SHA-256(0x00 || body)`, node
//! `SHA-256(0x01 || left || right)`) and the path walk is RFC 9162 §2.1.3.2,
//! written by hand over `sha2`: it is small and exact. The checkpoint is the
//! `golang.org/x/mod/sumdb/note` format Rekor v1 writes: text lines `origin`,
//! `tree size`, `base64 root hash`, optional others, a blank line, then
//! signature lines `— <name> base64(key hint[4] || signature)`. For an ECDSA
//! log key the hint is the first 4 bytes of SHA-256 of its PKIX DER (rekor
//! `pkg/util/signed_note.go`, sigstore-go `pkg/tlog`), and the signature is
//! ECDSA-SHA256 over the text up to and including the blank line's first
//! newline. The signer name is not matched to the origin: the key is what
//! is trusted.

use sha2::{Digest, Sha256};

use super::super::public_key::PublicKey;

/// Why an inclusion proof or checkpoint does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("inclusion proof has {0} hashes, not what the tree size needs")]
    PathLength(usize),
    #[error("inclusion proof hash {0} is not 32 bytes")]
    HashSize(usize),
    #[error("inclusion proof does not hash to its rootHash")]
    RootMismatch,
    #[error("checkpoint is not a signed note: {0}")]
    Format(&'static str),
    #[error("checkpoint tree size {got} is not the proof's treeSize {want}")]
    Size { got: String, want: i64 },
    #[error("checkpoint root hash is not the proof's rootHash")]
    Root,
    #[error("checkpoint is not signed by a trusted Rekor key")]
    Signature,
}

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Checks that `leaf` at `index` in a tree of `size` hashes up `path` to `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::PathLength(path.len()));
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = leaf;
    for (i, p) in path.iter().enumerate() {
        if p.len() != 32 {
            return Err(ProofError::HashSize(i + 1));
        }
        if s_n == 0 {
            return Err(ProofError::PathLength(path.len()));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::PathLength(path.len()));
    }
    if r.as_slice() != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that `note` is signed by one of `keys` and commits to `size` and `root`.
pub fn verify_checkpoint(
    note: &str,
    keys: &[PublicKey],
    size: i64,
    root: &[u8],
) -> Result<(), ProofError> {
    let split = note
        .find("\n\n")
        .ok_or(ProofError::Format("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    let mut lines = text.lines();
    let _origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or(ProofError::Format("no origin line"))?;
    let got_size = lines
        .next()
        .ok_or(ProofError::Format("no tree size line"))?;
    let got_root = lines
        .next()
        .ok_or(ProofError::Format("no root hash line"))?;
    let mut signed = false;
    for line in signatures.lines().filter(|l| !l.is_empty()) {
        let rest = line.strip_prefix("\u{2014} ").ok_or(ProofError::Format(
            "signature line does not start with an em dash",
        ))?;
        let (_name, b64) = rest
            .rsplit_once(' ')
            .ok_or(ProofError::Format("signature line has no signature"))?;
        let Ok(raw) = super::model::decode_b64(b64) else {
            return Err(ProofError::Format("signature is not base64"));
        };
        let Some((hint, signature)) = raw.split_first_chunk::<4>() else {
            return Err(ProofError::Format("signature shorter than its key hint"));
        };
        let digest = Sha256::digest(text.as_bytes());
        signed |= keys.iter().any(|k| {
            Sha256::digest(k.spki_der()).starts_with(hint)
                && k.verify_ecdsa_digest(&digest, signature)
        });
    }
    if !signed {
        return Err(ProofError::Signature);
    }
    if got_size.parse::<i64>().ok() != Some(size) {
        return Err(ProofError::Size {
            got: got_size.to_string(),
            want: size,
        });
    }
    if super::model::decode_b64(got_root).ok().as_deref() != Some(root) {
        return Err(ProofError::Root);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `n` leaves `[i]`, built the RFC 6962 way (largest power of two split).
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            1 => leaves[0],
            n => {
                let k = largest_pow2_below(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn largest_pow2_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// RFC 6962 PATH(m, D[n]).
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let k = largest_pow2_below(leaves.len());
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]).to_vec());
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]).to_vec());
            p
        }
    }

    #[test]
    fn every_leaf_of_every_small_tree_verifies_and_tampering_fails() {
        for n in 1..=17usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                verify_inclusion(m as u64, n as u64, leaves[m], &p, &root)
                    .unwrap_or_else(|e| panic!("n={n} m={m}: {e}"));
                let wrong = leaf_hash(b"other");
                assert!(verify_inclusion(m as u64, n as u64, wrong, &p, &root).is_err());
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    bad[0] = node_hash(first, first).to_vec();
                    assert_eq!(
                        verify_inclusion(m as u64, n as u64, leaves[m], &bad, &root),
                        Err(ProofError::RootMismatch)
                    );
                    assert!(
                        verify_inclusion(m as u64, n as u64, leaves[m], &p[1..], &root).is_err()
                    );
                }
            }
        }
    }
}
