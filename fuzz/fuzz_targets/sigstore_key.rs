//! The encrypted sigstore private key reader: PEM block, passphrase
//! envelope JSON and its parameter checks, and the PKCS#8 / SPKI decoders
//! behind them (`vouch_sign::sigstore`).
//!
//! * Nothing panics, and parsing never runs scrypt (decryption is a separate
//!   step, so the target stays fast and an accepted envelope has one of the
//!   three bounded scrypt parameter sets).
//! * A PKCS#8 key the decoder accepts, written back, decodes to the same key.
//! * A public key the PEM reader accepts, written back, reads to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_sign::sigstore::private_key::secret_key_from_pkcs8;
use vouch_sign::sigstore::{public_key_from_pem, public_key_to_pem, EncryptedPrivateKey};

fuzz_target!(|data: &[u8]| {
    let _ = EncryptedPrivateKey::parse(data);
    if let Ok(secret) = secret_key_from_pkcs8(data) {
        use p256::pkcs8::EncodePrivateKey as _;
        let der = secret.to_pkcs8_der().expect("an accepted key re-encodes");
        let again = secret_key_from_pkcs8(der.as_bytes()).expect("re-encoded key decodes");
        assert_eq!(again.to_bytes(), secret.to_bytes());
    }
    if let Ok(public) = public_key_from_pem(data) {
        let pem = public_key_to_pem(&public).expect("an accepted key re-encodes");
        assert_eq!(
            public_key_from_pem(pem.as_bytes()).expect("re-encoded key reads"),
            public
        );
    }
});
