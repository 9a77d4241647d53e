//! Classifying a stored signature blob before any cryptography.
//!
//! Every signature read from lookaside, `dir:` or local storage is sorted by
//! its first byte (containers/image `internal/signature/signature.go`
//! `FromBlob`; docs/trust-formats.md §2.2). Only blobs classified as simple
//! signing reach `signedBy`; ASCII armor and cleartext signatures (`0x2d`)
//! are refused here, and so is `0x93` because upstream lists `0x3D` where it
//! evidently meant `0x93` — reproduced so we refuse exactly what podman refuses.

/// What a blob turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureBlob<'a> {
    /// A simple-signing OpenPGP message (raw, or after the `\0simple-signing\n` prefix).
    SimpleSigning(&'a [u8]),
    /// A sigstore (cosign) signature; invisible to `signedBy`.
    Sigstore(&'a [u8]),
    /// A Sigstore bundle (JSON, verbatim) from an OCI referrer
    /// (`vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX`); invisible to `signedBy`.
    Bundle(&'a [u8]),
}

/// Why a blob is not a signature we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    #[error("empty signature blob")]
    Empty,
    #[error("invalid signature format, missing newline")]
    MissingNewline,
    #[error("invalid signature format, non-ASCII byte {0:#04x}")]
    NonAscii(u8),
    #[error("unrecognized signature format {0:?}")]
    UnknownFormat(String),
    #[error("unrecognized signature format, starting with binary {0:#04x}")]
    UnknownBinary(u8),
}

/// First bytes of OpenPGP packets that start a signed message (tags 8, 4, 2).
const OPENPGP_FIRST_BYTES: [u8; 13] = [
    0xA0, 0xA1, 0xA2, 0xA3, 0xC8, // compressed data
    0x90, 0x91, 0x92, 0x3D, 0xC4, // one-pass signature (0x3D sic, see module docs)
    0x88, 0x89, 0xC2, // signature (0x8A, 0x8B below)
];

/// Classifies `blob` per §2.2.
pub fn sniff(blob: &[u8]) -> Result<SignatureBlob<'_>, SniffError> {
    let Some(&first) = blob.first() else {
        return Err(SniffError::Empty);
    };
    if OPENPGP_FIRST_BYTES.contains(&first) || matches!(first, 0x8A | 0x8B) {
        return Ok(SignatureBlob::SimpleSigning(blob));
    }
    if first != 0x00 {
        return Err(SniffError::UnknownBinary(first));
    }
    let rest = &blob[1..];
    let newline = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(SniffError::MissingNewline)?;
    let name = &rest[..newline];
    if let Some(bad) = name.iter().find(|b| !(0x20..=0x7E).contains(*b)) {
        return Err(SniffError::NonAscii(*bad));
    }
    let payload = &rest[newline + 1..];
    match name {
        b"simple-signing" => Ok(SignatureBlob::SimpleSigning(payload)),
        b"sigstore-json" => Ok(SignatureBlob::Sigstore(payload)),
        b"sigstore-bundle" => Ok(SignatureBlob::Bundle(payload)),
        other => Err(SniffError::UnknownFormat(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_per_spec_table() {
        for first in [
            0xA0, 0xA1, 0xA2, 0xA3, 0xC8, 0x90, 0x91, 0x92, 0x3D, 0xC4, 0x88, 0x89, 0x8A, 0x8B,
            0xC2,
        ] {
            let blob = [first, 1, 2];
            assert_eq!(
                sniff(&blob),
                Ok(SignatureBlob::SimpleSigning(&blob[..])),
                "{first:#x}"
            );
        }
        assert_eq!(sniff(&[0x93, 0]), Err(SniffError::UnknownBinary(0x93)));
        assert_eq!(
            sniff(b"-----BEGIN PGP").unwrap_err().to_string(),
            "unrecognized signature format, starting with binary 0x2d"
        );
        assert_eq!(sniff(b""), Err(SniffError::Empty));
        assert_eq!(
            sniff(b"\0simple-signing\n\xA3x"),
            Ok(SignatureBlob::SimpleSigning(&b"\xA3x"[..]))
        );
        assert_eq!(
            sniff(b"\0sigstore-json\n{}"),
            Ok(SignatureBlob::Sigstore(&b"{}"[..]))
        );
        assert_eq!(
            sniff(b"\0sigstore-bundle\n{}"),
            Ok(SignatureBlob::Bundle(&b"{}"[..]))
        );
        let mut seam = vouch_image::sigstore_blob::BUNDLE_BLOB_PREFIX.to_vec();
        seam.extend_from_slice(b"{\"mediaType\":1}");
        assert_eq!(
            sniff(&seam),
            Ok(SignatureBlob::Bundle(&b"{\"mediaType\":1}"[..]))
        );
        assert_eq!(sniff(b"\0simple-signing"), Err(SniffError::MissingNewline));
        assert_eq!(
            sniff(b"\0a\x01\n").unwrap_err().to_string(),
            "invalid signature format, non-ASCII byte 0x01"
        );
        assert_eq!(
            sniff(b"\0other\n").unwrap_err().to_string(),
            "unrecognized signature format \"other\""
        );
    }
}
