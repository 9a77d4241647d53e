//! The simple-signing payload: the verifier's strict parser
//! (`untrusted::UntrustedSimpleSigning`) and the signer's writer
//! (`vouch_sign::Payload::to_bytes`) must agree.
//!
//! * Whatever the parser accepts, written back by the signer, parses to the
//!   same claim.
//! * Arbitrary strings as reference and creator, written by the signer with a
//!   valid digest, parse back unchanged (Go's string escaping round-trips).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_sign::Payload;
use vouch_verify::fuzzing::parse_payload;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Timestamps the signer can write and a float64 reader gets back exactly
/// (Go's verifier reads `optional.timestamp` as a float64, so beyond 2^53
/// a written integer may not survive; vouch only ever writes "now").
const EXACT: i64 = 1 << 53;

fuzz_target!(|data: &[u8]| {
    if let Ok(claim) = parse_payload(data) {
        let again = Payload {
            manifest_digest: claim.untrusted_docker_manifest_digest.clone(),
            docker_reference: claim.untrusted_docker_reference.clone(),
            creator: claim.untrusted_creator.clone(),
            timestamp: claim.untrusted_timestamp,
        };
        match again.to_bytes() {
            Ok(bytes) => {
                let back = parse_payload(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "signer output refused: {e}: {:?}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                assert_eq!(back, claim, "{:?}", String::from_utf8_lossy(&bytes));
            }
            // The parser validated the digest, so only the reference can be empty.
            Err(_) => assert!(claim.untrusted_docker_reference.is_empty()),
        }
    }

    let text = String::from_utf8_lossy(data);
    let (reference, creator) = match text.split_once('\n') {
        Some((r, c)) => (r, Some(c.to_string())),
        None => (&*text, None),
    };
    let timestamp = data
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(|b| i64::from_le_bytes(b) % EXACT);
    let written = Payload {
        manifest_digest: DIGEST.to_string(),
        docker_reference: reference.to_string(),
        creator,
        timestamp,
    };
    let Ok(bytes) = written.to_bytes() else {
        assert!(reference.is_empty());
        return;
    };
    let back = parse_payload(&bytes).unwrap_or_else(|e| {
        panic!(
            "signer output refused: {e}: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(back.untrusted_docker_manifest_digest, DIGEST);
    assert_eq!(back.untrusted_docker_reference, written.docker_reference);
    assert_eq!(back.untrusted_creator, written.creator);
    assert_eq!(back.untrusted_timestamp, written.timestamp);
});
