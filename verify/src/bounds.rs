//! How far a signature blob may expand, checked before anything buffers it.
//!
//! OpenPGP compression lets a 2 KB blob stand for gigabytes, and compressed
//! data nested inside compressed data multiplies the ratio. Sequoia's
//! verifier and our payload reads buffer what they decompress, so an
//! unchecked bomb costs the reader its memory (issue 11 item 4). The limit is
//! containers/image's 4 MiB signature-body limit (docs/trust-formats.md
//! §1.4), applied to the blob *and* to what its compressed-data packet
//! expands to; no signer nests compression, so nesting is refused outright.
//! Every parser of a signature ([`crate::mechanism::verify`],
//! [`crate::signature::untrusted_dump`]) runs [`check`] first.

use std::io::Read;

use sequoia_openpgp::packet::Packet;
use sequoia_openpgp::parse::{PacketParser, PacketParserResult, Parse};

/// The largest signature blob, and the largest its compressed data may expand to.
pub const MAX_SIGNATURE_BYTES: usize = 4 * 1024 * 1024;

/// Why a blob was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    #[error("signature is {0} bytes, over the {MAX_SIGNATURE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("signature decompresses to more than {MAX_SIGNATURE_BYTES} bytes")]
    DecompressedTooLarge,
    #[error("signature has compressed data nested inside compressed data")]
    NestedCompression,
}

/// Refuses `blob` if it, or its decompressed content, exceeds
/// [`MAX_SIGNATURE_BYTES`], or if it nests compression.
///
/// Malformed packets are left for the real parser to report: it walks the
/// same packets, so it fails at the same point, having decompressed no more
/// than this walk did.
pub fn check(blob: &[u8]) -> Result<(), BoundsError> {
    if blob.len() > MAX_SIGNATURE_BYTES {
        return Err(BoundsError::TooLarge(blob.len()));
    }
    let Ok(mut ppr) = PacketParser::from_bytes(blob) else {
        return Ok(());
    };
    while let PacketParserResult::Some(mut pp) = ppr {
        if let Packet::CompressedData(_) = pp.packet {
            // Reading a compressed-data packet yields its decompressed body.
            let mut inner = Vec::new();
            let limit = MAX_SIGNATURE_BYTES as u64 + 1;
            if (&mut pp).take(limit).read_to_end(&mut inner).is_err() {
                return Ok(());
            }
            if inner.len() > MAX_SIGNATURE_BYTES {
                return Err(BoundsError::DecompressedTooLarge);
            }
            if has_compressed_packet(&inner) {
                return Err(BoundsError::NestedCompression);
            }
        }
        ppr = match pp.next() {
            Ok((_, next)) => next,
            Err(_) => return Ok(()),
        };
    }
    Ok(())
}

/// Whether any packet of `bytes`, at any depth, is compressed data. Stops
/// at the first compressed packet, so nothing is decompressed.
fn has_compressed_packet(bytes: &[u8]) -> bool {
    let Ok(mut ppr) = PacketParser::from_bytes(bytes) else {
        return false;
    };
    while let PacketParserResult::Some(pp) = ppr {
        if let Packet::CompressedData(_) = pp.packet {
            return true;
        }
        ppr = match pp.recurse() {
            Ok((_, next)) => next,
            Err(_) => return false,
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fixture;
    use sequoia_openpgp::serialize::stream::{Compressor, LiteralWriter, Message};
    use sequoia_openpgp::types::CompressionAlgorithm;
    use std::io::Write;

    /// `levels` compressed-data packets around a literal of `size` zero bytes.
    fn compressed(levels: usize, size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut m = Message::new(&mut out);
            for _ in 0..levels {
                m = Compressor::new(m)
                    .algo(CompressionAlgorithm::Zlib)
                    .build()
                    .unwrap();
            }
            let mut w = LiteralWriter::new(m).build().unwrap();
            let chunk = vec![0u8; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                w.write_all(&chunk[..n]).unwrap();
                left -= n;
            }
            w.finalize().unwrap();
        }
        out
    }

    #[test]
    fn real_signatures_pass() {
        for f in [
            "signature/fixtures/image.signature",
            "signature/fixtures/subkey.signature",
            "signature/fixtures/subkey.signature-v3",
            "generated/gpg-skopeo-standalone/busybox.signature",
            "generated/sequoia-subkey/signature-1",
        ] {
            assert_eq!(check(&fixture(f)), Ok(()), "{f}");
        }
        assert_eq!(check(b""), Ok(()));
        assert_eq!(check(b"not openpgp"), Ok(()));
        assert_eq!(check(&compressed(1, MAX_SIGNATURE_BYTES - 4096)), Ok(()));
    }

    #[test]
    fn bombs_are_refused() {
        let single = compressed(1, 64 << 20);
        assert!(single.len() < 100_000, "{}", single.len());
        assert_eq!(check(&single), Err(BoundsError::DecompressedTooLarge));
        assert_eq!(
            check(&compressed(2, 1024)),
            Err(BoundsError::NestedCompression)
        );
        assert_eq!(
            check(&compressed(3, 1024)),
            Err(BoundsError::NestedCompression)
        );
        let big = vec![0xA3; MAX_SIGNATURE_BYTES + 1];
        assert_eq!(
            check(&big),
            Err(BoundsError::TooLarge(MAX_SIGNATURE_BYTES + 1))
        );
    }
}
