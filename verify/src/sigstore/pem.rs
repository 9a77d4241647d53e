//! PEM blocks as Go's `encoding/pem.Decode` finds them.
//!
//! Which bytes count as "the first block" and what is "trailing data" are
//! observable in containers/image (the Rekor SET key match refuses trailing
//! data; `UnmarshalPEMToPublicKey` reads only the first block and ignores the
//! rest), and RFC 7468 parsers are stricter than Go: text before the block,
//! headers, and a missing final newline are all accepted by Go. So the block
//! is located here with Go's rules and only its base64 body is decoded (by the
//! `base64` crate). This is text framing, not ASN.1: the DER inside is left to
//! OpenSSL / x509-cert.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Go's `StdEncoding` accepts non-zero bits after the last full byte.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// One decoded PEM block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The word(s) after `BEGIN` (`PUBLIC KEY`, `CERTIFICATE`).
    pub kind: String,
    /// Whether `Key: value` header lines preceded the body.
    pub has_headers: bool,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// The first well-formed block of `data` and everything after its END line;
/// `None` if there is none (Go returns `nil, data`).
pub fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    loop {
        rest = if let Some(r) = rest.strip_prefix(b"-----BEGIN ") {
            r
        } else {
            let i = find(rest, b"\n-----BEGIN ")?;
            &rest[i + b"\n-----BEGIN ".len()..]
        };
        let (type_line, after_type) = line(rest);
        rest = after_type;
        let Some(kind) = type_line.strip_suffix(b"-----") else {
            continue;
        };
        if let Some(found) = block_body(kind, rest) {
            return Some(found);
        }
    }
}

/// Headers, body and END line of a block whose BEGIN line named `kind`.
fn block_body<'a>(kind: &[u8], mut rest: &'a [u8]) -> Option<(Block, &'a [u8])> {
    let mut has_headers = false;
    loop {
        if rest.is_empty() {
            return None;
        }
        let (l, next) = line(rest);
        if !l.contains(&b':') {
            break;
        }
        has_headers = true;
        rest = next;
    }
    let (end_index, trailer_start) = if !has_headers && rest.starts_with(b"-----END ") {
        (0, b"-----END ".len())
    } else {
        let i = find(rest, b"\n-----END ")?;
        (i, i + b"\n-----END ".len())
    };
    let trailer = rest.get(trailer_start..)?;
    let trailer_len = kind.len() + 5;
    let (end_line, rest_of_line) = (trailer.get(..trailer_len)?, trailer.get(trailer_len..)?);
    if !end_line.starts_with(kind) || !end_line.ends_with(b"-----") {
        return None;
    }
    if !line(rest_of_line).0.is_empty() {
        return None;
    }
    let body: Vec<u8> = rest[..end_index]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    let der = GO_STD.decode(body).ok()?;
    let (_, after) = line(&rest[trailer_start - 1..]);
    Some((
        Block {
            kind: String::from_utf8_lossy(kind).into_owned(),
            has_headers,
            der,
        },
        after,
    ))
}

/// Go's `getLine`: one line without its `\n`/`\r\n`, right-trimmed of spaces and tabs.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    let (mut end, next) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (i, i + 1),
        None => (data.len(), data.len()),
    };
    if end > 0 && end < data.len() && data[end - 1] == b'\r' {
        end -= 1;
    }
    let mut l = &data[..end];
    while let [head @ .., b' ' | b'\t'] = l {
        l = head;
    }
    (l, &data[next..])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r`/`\n`
/// skipped, and Go's message (`illegal base64 data at input byte N`).
pub fn go_base64(s: &[u8]) -> Result<Vec<u8>, String> {
    let cleaned: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    GO_STD.decode(&cleaned).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(i, _)
            | base64::DecodeError::InvalidLastSymbol(i, _) => i,
            base64::DecodeError::InvalidLength(n) => n - n % 4,
            base64::DecodeError::InvalidPadding => cleaned.len().saturating_sub(1),
        };
        format!("illegal base64 data at input byte {at}")
    })
}

/// Bytes with leading and trailing ASCII whitespace removed (`bytes.TrimSpace`).
pub fn trim_space(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let end = data
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &data[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n";

    #[test]
    fn finds_blocks_like_go() {
        let (b, rest) = decode(KEY.as_bytes()).unwrap();
        assert_eq!(
            (b.kind.as_str(), b.der.as_slice(), rest),
            ("PUBLIC KEY", &[0u8, 1, 2][..], &b""[..])
        );
        // Text before the block, no final newline, CRLF, headers.
        let (b, rest) =
            decode(b"junk\r\n-----BEGIN X-----\r\nA: b\r\n\r\nAAEC\r\n-----END X-----").unwrap();
        assert!(b.has_headers);
        assert_eq!((b.der.as_slice(), rest), (&[0u8, 1, 2][..], &b""[..]));
        // What follows the END line is the rest: a second block, or one blank line.
        let two = format!("{KEY}{KEY}");
        assert_eq!(decode(two.as_bytes()).unwrap().1, KEY.as_bytes());
        assert_eq!(decode(format!("{KEY}\n").as_bytes()).unwrap().1, b"\n");
        // Mismatched END type, bad base64, nothing at all.
        assert!(decode(b"-----BEGIN A-----\nAAEC\n-----END B-----\n").is_none());
        assert!(decode(b"-----BEGIN A-----\n*\n-----END A-----\n").is_none());
        assert!(decode(b"not PEM").is_none());
        assert!(decode(b"").is_none());
        assert_eq!(trim_space(b" \n x \t"), b"x");
    }
}
