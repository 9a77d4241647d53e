//! The passphrase envelope cosign and containers/image put around a sigstore
//! private key: go-securesystemslib's `encrypted` format.
//!
//! It is JSON, `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
//! "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`, byte strings
//! in padded standard base64 (Go's `[]byte`), the box key being
//! scrypt(passphrase, salt, N, r, p, 32). Reading accepts exactly the three
//! scrypt parameter sets upstream accepts, which also bounds what a hostile
//! file can make us spend (at most 128 MiB and well under a second).
//! Parsing ([`Envelope::parse`]) is split from decrypting so the parser can
//! be fuzzed without paying for scrypt on every input.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// scrypt `(N, r, p)` as go-securesystemslib names them: Legacy, Standard
/// (its default, what skopeo 1.22 writes) and OWASP.
const ACCEPTED_PARAMS: [ScryptParams; 3] = [
    ScryptParams {
        n: 1 << 15,
        r: 8,
        p: 1,
    },
    ScryptParams {
        n: 1 << 16,
        r: 8,
        p: 1,
    },
    ScryptParams {
        n: 1 << 17,
        r: 8,
        p: 1,
    },
];
/// What we write: upstream's default, so our keys cost an attacker what skopeo's do.
const WRITE_PARAMS: ScryptParams = ACCEPTED_PARAMS[1];

/// Why an envelope could not be read or opened; the wording follows
/// go-securesystemslib's so a user sees what skopeo or cosign would say.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("encrypted: invalid JSON")]
    Json(#[source] serde_json::Error),
    #[error("encrypted: unknown kdf name {0:?}")]
    UnknownKdf(String),
    #[error("encrypted: unknown cipher name {0:?}")]
    UnknownCipher(String),
    #[error("unsupported scrypt parameters (N={n}, r={r}, p={p})")]
    ScryptParams { n: u64, r: u64, p: u64 },
    #[error("encrypted: incorrect nonce size")]
    NonceSize,
    /// A wrong passphrase and a damaged ciphertext are indistinguishable
    /// (the MAC fails either way), so the message names both.
    #[error("encrypted: decryption failed (wrong passphrase, or the key file is damaged)")]
    Decryption,
    #[error("encrypted: key derivation failed")]
    Kdf,
    #[error("encrypted: encryption failed")]
    Encryption,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "vouch_image::sigstore_blob::b64")]
    salt: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    #[serde(with = "vouch_image::sigstore_blob::b64")]
    nonce: Vec<u8>,
}

/// A parsed, not yet opened envelope. Field order is Go's struct order, so
/// what we write has the same shape as what skopeo writes.
#[derive(Serialize, Deserialize)]
pub struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "vouch_image::sigstore_blob::b64")]
    ciphertext: Vec<u8>,
}

impl Envelope {
    /// Parses the JSON and checks the algorithm names and parameters, in
    /// upstream's order, before any key derivation is attempted.
    pub fn parse(json: &[u8]) -> Result<Self, EnvelopeError> {
        let env: Envelope = serde_json::from_slice(json).map_err(EnvelopeError::Json)?;
        if env.kdf.name != KDF_NAME {
            return Err(EnvelopeError::UnknownKdf(env.kdf.name));
        }
        if env.cipher.name != CIPHER_NAME {
            return Err(EnvelopeError::UnknownCipher(env.cipher.name));
        }
        if !ACCEPTED_PARAMS.contains(&env.kdf.params) {
            let ScryptParams { n, r, p } = env.kdf.params;
            return Err(EnvelopeError::ScryptParams { n, r, p });
        }
        if env.cipher.nonce.len() != NONCE_LEN {
            return Err(EnvelopeError::NonceSize);
        }
        Ok(env)
    }

    /// Derives the box key from `passphrase` and opens the box.
    pub fn open(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let key = derive_key(passphrase, &self.kdf.salt, self.kdf.params)?;
        let nonce = crypto_secretbox::Nonce::from_slice(&self.cipher.nonce);
        XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_slice()))
            .decrypt(nonce, self.ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| EnvelopeError::Decryption)
    }

    /// Seals `plaintext` under `passphrase` with a fresh salt and nonce.
    pub fn seal(plaintext: &[u8], passphrase: &[u8]) -> Result<Self, EnvelopeError> {
        let mut salt = vec![0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = vec![0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let key = derive_key(passphrase, &salt, WRITE_PARAMS)?;
        let ciphertext = XSalsa20Poly1305::new(crypto_secretbox::Key::from_slice(key.as_slice()))
            .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| EnvelopeError::Encryption)?;
        Ok(Self {
            kdf: Kdf {
                name: KDF_NAME.into(),
                params: WRITE_PARAMS,
                salt,
            },
            cipher: Cipher {
                name: CIPHER_NAME.into(),
                nonce,
            },
            ciphertext,
        })
    }

    /// Compact JSON, as Go's `json.Marshal` writes it.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, integers and byte strings always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    params: ScryptParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, EnvelopeError> {
    // Only the accepted powers of two reach here.
    let log_n = u8::try_from(params.n.trailing_zeros()).map_err(|_| EnvelopeError::Kdf)?;
    let r = u32::try_from(params.r).map_err(|_| EnvelopeError::Kdf)?;
    let p = u32::try_from(params.p).map_err(|_| EnvelopeError::Kdf)?;
    let scrypt_params =
        scrypt::Params::new(log_n, r, p, KEY_LEN).map_err(|_| EnvelopeError::Kdf)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(passphrase, salt, &scrypt_params, key.as_mut_slice())
        .map_err(|_| EnvelopeError::Kdf)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::from_slice(&Envelope::seal(b"secret", b"pw").unwrap().to_json()).unwrap()
    }

    fn parse(v: &serde_json::Value) -> Result<Envelope, EnvelopeError> {
        Envelope::parse(&serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn seals_and_opens_with_upstream_shape() {
        let env = Envelope::seal(b"secret", b"pw").unwrap();
        let json = String::from_utf8(env.to_json()).unwrap();
        assert!(
            json.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#
            ),
            "{json}"
        );
        assert!(json.contains(r#""cipher":{"name":"nacl/secretbox","nonce":""#));
        let back = Envelope::parse(json.as_bytes()).unwrap();
        assert_eq!(back.open(b"pw").unwrap().as_slice(), b"secret");
        assert!(matches!(
            back.open(b"other"),
            Err(EnvelopeError::Decryption)
        ));
    }

    #[test]
    fn refuses_unknown_algorithms_and_parameters() {
        let mut v = sample();
        v["kdf"]["name"] = "pbkdf2".into();
        assert_eq!(
            parse(&v).err().unwrap().to_string(),
            r#"encrypted: unknown kdf name "pbkdf2""#
        );

        let mut v = sample();
        v["cipher"]["name"] = "aes-gcm".into();
        assert!(matches!(parse(&v), Err(EnvelopeError::UnknownCipher(_))));

        // A huge N would be a memory bomb; only upstream's three sets pass.
        let mut v = sample();
        v["kdf"]["params"]["N"] = (1u64 << 30).into();
        assert!(matches!(parse(&v), Err(EnvelopeError::ScryptParams { .. })));

        let mut v = sample();
        v["cipher"]["nonce"] = "AAAA".into();
        assert!(matches!(parse(&v), Err(EnvelopeError::NonceSize)));

        let mut v = sample();
        v["ciphertext"] = "not base64!".into();
        assert!(matches!(parse(&v), Err(EnvelopeError::Json(_))));
    }

    #[test]
    fn truncated_ciphertext_fails_as_decryption() {
        let mut v = sample();
        let ct = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        v["ciphertext"] = STANDARD.encode(&ct[..ct.len() / 2]).into();
        assert!(matches!(
            parse(&v).unwrap().open(b"pw"),
            Err(EnvelopeError::Decryption)
        ));
        v["ciphertext"] = "".into();
        assert!(matches!(
            parse(&v).unwrap().open(b"pw"),
            Err(EnvelopeError::Decryption)
        ));
    }
}
