//! Finding the PEM block in a key file the way Go's `pem.Decode` does:
//! text before the first `-----BEGIN` and after its `-----END …-----` line
//! is ignored (people paste keys with comments around them); the block
//! itself is decoded strictly by `pem-rfc7468`.

/// Why no PEM block could be read.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// containers/image's words for the same failure.
    #[error("invalid pem block")]
    NoBlock,
    #[error("invalid pem block: {0}")]
    Malformed(pem_rfc7468::Error),
}

/// The first PEM block in `input`: its label and decoded bytes.
pub fn first_block(input: &[u8]) -> Result<(String, Vec<u8>), PemError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    const DASHES: &[u8] = b"-----";
    let start = find(input, BEGIN, 0).ok_or(PemError::NoBlock)?;
    let end_line = find(input, END, start).ok_or(PemError::NoBlock)?;
    let end_label = end_line + END.len();
    let close = find(input, DASHES, end_label).ok_or(PemError::NoBlock)? + DASHES.len();
    let block = input.get(start..close).ok_or(PemError::NoBlock)?;
    let (label, bytes) = pem_rfc7468::decode_vec(block).map_err(PemError::Malformed)?;
    Ok((label.to_string(), bytes))
}

/// A PEM block as Go's `pem.EncodeToMemory` writes it (64-column lines, LF).
pub fn encode(label: &str, bytes: &[u8]) -> Result<String, PemError> {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, bytes)
        .map_err(PemError::Malformed)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_block_among_text() {
        let pem = encode("TEST BLOCK", b"hello").unwrap();
        assert!(pem.ends_with("-----END TEST BLOCK-----\n"));
        let input = format!("comment\n{pem}trailing\n{pem}");
        let (label, bytes) = first_block(input.as_bytes()).unwrap();
        assert_eq!(
            (label.as_str(), bytes.as_slice()),
            ("TEST BLOCK", &b"hello"[..])
        );
    }

    #[test]
    fn refuses_no_block_or_broken_base64() {
        assert!(matches!(
            first_block(b"nothing here"),
            Err(PemError::NoBlock)
        ));
        assert!(matches!(
            first_block(b"-----BEGIN X-----\nno end"),
            Err(PemError::NoBlock)
        ));
        assert!(matches!(
            first_block(b"-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::Malformed(_))
        ));
    }
}
