//! A stored signature blob end to end: sniffing (`sniff`), OpenPGP message
//! parsing and verification against fixed trusted keys (`mechanism`), the
//! payload of a verified message (`untrusted`), and the unverified dump
//! (`signature::untrusted_dump`), which parses packets with no key at all.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use vouch_verify::keyring::Keyring;
use vouch_verify::mechanism;
use vouch_verify::signature::untrusted_dump;
use vouch_verify::sniff::{sniff, SignatureBlob};
use vouch_verify::untrusted::UntrustedSimpleSigning;

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        let mut ring = Keyring::import(include_bytes!("../keys/public-key.gpg"));
        ring.add(include_bytes!("../keys/public-key-with-subkey.gpg"));
        ring.add(include_bytes!("../keys/sequoia-subkey.pgp"));
        ring.add(include_bytes!("../keys/gpg-skopeo-standalone.gpg"));
        assert!(!ring.is_empty(), "fuzz keyring imported no keys");
        ring
    })
}

/// The verifier's tests use 2027-01-01: after the fixtures were signed,
/// before any fixture key expires. Fixed, so every run is reproducible.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_798_761_600)
}

fuzz_target!(|data: &[u8]| {
    // Every blob goes through the unverified dump, sniffed or not: the
    // inspection command reads whatever file it is given.
    let _ = untrusted_dump(data);
    let message = match sniff(data) {
        Ok(SignatureBlob::SimpleSigning(message)) => message,
        Ok(SignatureBlob::Sigstore(_) | SignatureBlob::Bundle(_)) | Err(_) => return,
    };
    if let Ok(verified) = mechanism::verify(keyring(), message, now()) {
        let _ = UntrustedSimpleSigning::from_verified(&verified);
    }
});
